//! The status line's last notice: what the feed reported, in words, and how bad it is.

use crate::feed::events::FeedEvent;

/// A warning or error stays on the status line this long against routine notices.
pub const NOTICE_HOLD_MS: i64 = 10_000;

/// How bad a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// What a notice is about, so that news which settles a matter can replace the warning it
/// settles (a connection back replaces "disconnected"), and news that only repeats it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Connecting, connected, lost, retrying, finished.
    Connection,
    /// Snapshots, acks, gaps, resyncs, bad frames, other server errors.
    Book,
    /// The key refused, the fallback to the public feed.
    Auth,
    /// What the user asked for.
    User,
}

/// The last notable thing the feed reported, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub at_ms: i64,
    pub severity: Severity,
    pub topic: Topic,
    pub text: String,
}

/// The status-line text for an event worth telling the user about.
pub fn notice_for(event: &FeedEvent) -> Option<Notice> {
    let (at_ms, severity, text) = match event {
        FeedEvent::Connecting {
            at_ms,
            url,
            attempt,
        } => (
            *at_ms,
            Severity::Info,
            if *attempt > 1 {
                format!("connecting to {url} (attempt {attempt})")
            } else {
                format!("connecting to {url}")
            },
        ),
        FeedEvent::Connected { at_ms, url } => {
            (*at_ms, Severity::Info, format!("connected to {url}"))
        }
        FeedEvent::SubscribeSent { .. } => return None,
        FeedEvent::Subscribed {
            at_ms,
            subscriptions,
        } => {
            let level2 = subscriptions
                .get("level2")
                .map(|p| p.join(" "))
                .unwrap_or_default();
            (
                *at_ms,
                Severity::Info,
                format!("subscribed level2: {level2}"),
            )
        }
        FeedEvent::Snapshot {
            at_ms,
            product,
            bids,
            asks,
        } => (
            *at_ms,
            Severity::Info,
            format!("snapshot {product}: {bids} bids, {asks} asks"),
        ),
        FeedEvent::Gap {
            at_ms,
            expected,
            got,
        } => (
            *at_ms,
            Severity::Warn,
            format!("sequence gap: expected {expected}, got {got}; resyncing"),
        ),
        // Routine: the gap (or loss) that caused it was the warning, and stays on the line for
        // its hold time with the numbers; a resync the user asked for is no trouble at all.
        FeedEvent::Resync { at_ms, products } => (
            *at_ms,
            Severity::Info,
            format!("resync: fresh snapshot for {}", products.join(" ")),
        ),
        FeedEvent::Crossed {
            at_ms,
            product,
            best_bid,
            best_ask,
        } => (
            *at_ms,
            Severity::Warn,
            format!(
                "{product} crossed: best bid {best_bid} >= best ask {best_ask}; book suspect, fresh snapshot asked for"
            ),
        ),
        FeedEvent::Disconnected { at_ms, reason } => {
            (*at_ms, Severity::Error, format!("disconnected: {reason}"))
        }
        FeedEvent::Reconnecting {
            at_ms,
            in_ms,
            attempt,
        } => (
            *at_ms,
            Severity::Warn,
            format!(
                "reconnecting in {} (attempt {attempt})",
                super::duration::duration_ms(*in_ms as i64)
            ),
        ),
        // The reason is long; the ladder and the auth pane show it in full.
        FeedEvent::AuthRejected {
            at_ms,
            channel,
            message,
            ..
        } => (
            *at_ms,
            Severity::Error,
            format!("{channel} refused: {message}; press a for why"),
        ),
        FeedEvent::TradeSidesLookInverted { at_ms, product } => (
            *at_ms,
            Severity::Warn,
            format!(
                "{product}: trade sides look inverted on this feed (most trades at the ask say a maker BUY); buy/sell colours may be wrong"
            ),
        ),
        FeedEvent::ProductRefused {
            at_ms,
            product,
            reason,
        } => (
            *at_ms,
            Severity::Error,
            format!("{product} refused by the server ({reason}); the other products go on"),
        ),
        FeedEvent::ConnectionSplit {
            at_ms,
            connection,
            into,
            ..
        } => (
            *at_ms,
            Severity::Warn,
            format!(
                "too many products on connection #{}: retrying them on {} connections",
                connection + 1,
                into.len()
            ),
        ),
        FeedEvent::ErrorFrame {
            at_ms,
            message,
            reason,
        } => (
            *at_ms,
            Severity::Error,
            match reason {
                // An auth refusal's reason is long; the auth pane shows it in full.
                _ if is_auth_failure(message) => {
                    format!("server error: {message}; press a for why")
                }
                Some(reason) => format!("server error: {message} ({reason})"),
                None => format!("server error: {message}"),
            },
        ),
        FeedEvent::BadFrame { at_ms, error } => (
            *at_ms,
            Severity::Warn,
            format!("bad frame skipped: {error}"),
        ),
        FeedEvent::RecordingStopped { at_ms, error, .. } => (
            *at_ms,
            Severity::Error,
            format!("recording stopped: {error}"),
        ),
        FeedEvent::ClockRetry { at_ms, offset_ms } => (
            *at_ms,
            Severity::Warn,
            format!(
                "key refused, clock {} Coinbase: signing again with the server's time; press a for why",
                crate::auth::clock::describe_offset(*offset_ms)
            ),
        ),
        FeedEvent::FellBackToPublic { at_ms } => (
            *at_ms,
            Severity::Warn,
            "key refused: using the public level2 feed; press a for why".to_string(),
        ),
        FeedEvent::Finished { at_ms } => (*at_ms, Severity::Info, "feed finished".to_string()),
        FeedEvent::ReplayFailed { at_ms, error } => {
            (*at_ms, Severity::Error, format!("cannot replay: {error}"))
        }
    };
    Some(Notice {
        at_ms,
        severity,
        topic: topic_of(event),
        text,
    })
}

/// Whether `new` (the notice of `event`) replaces the `current` one on the status line. A recent
/// warning or error stays against routine news (a snapshot, an ack) unless the news settles it
/// (the connection is back), and against a repeat of an auth refusal (the heartbeats subscribe
/// refused after level2, which would hide what the feed did about the first). The end of the
/// feed always shows.
pub fn takes_over(current: Option<&Notice>, new: &Notice, event: &FeedEvent) -> bool {
    let Some(current) = current else {
        return true;
    };
    let held = current.severity != Severity::Info && new.at_ms - current.at_ms < NOTICE_HOLD_MS;
    let settles = matches!(event, FeedEvent::Connected { .. }) && current.topic == new.topic;
    if !held || settles || matches!(event, FeedEvent::Finished { .. }) {
        return true;
    }
    let repeat = matches!(event, FeedEvent::ErrorFrame { message, .. } if is_auth_failure(message));
    new.severity != Severity::Info && !(repeat && current.topic == Topic::Auth)
}

/// What an event is about.
fn topic_of(event: &FeedEvent) -> Topic {
    match event {
        FeedEvent::RecordingStopped { .. } => Topic::User,
        FeedEvent::Connecting { .. }
        | FeedEvent::Connected { .. }
        | FeedEvent::Disconnected { .. }
        | FeedEvent::Reconnecting { .. }
        | FeedEvent::Finished { .. }
        | FeedEvent::ReplayFailed { .. } => Topic::Connection,
        FeedEvent::AuthRejected { .. }
        | FeedEvent::ClockRetry { .. }
        | FeedEvent::FellBackToPublic { .. } => Topic::Auth,
        FeedEvent::ErrorFrame { message, .. } if is_auth_failure(message) => Topic::Auth,
        FeedEvent::SubscribeSent { .. }
        | FeedEvent::Subscribed { .. }
        | FeedEvent::Snapshot { .. }
        | FeedEvent::Gap { .. }
        | FeedEvent::Resync { .. }
        | FeedEvent::Crossed { .. }
        | FeedEvent::ErrorFrame { .. }
        | FeedEvent::ProductRefused { .. }
        | FeedEvent::ConnectionSplit { .. }
        | FeedEvent::TradeSidesLookInverted { .. }
        | FeedEvent::BadFrame { .. } => Topic::Book,
    }
}

pub use crate::feed::events::is_auth_failure;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_recording_is_an_error_notice_with_its_cause() {
        let event = FeedEvent::RecordingStopped {
            at_ms: 5,
            path: "/dev/full".into(),
            error: "cannot write to the recording file /dev/full: No space left on device".into(),
        };
        let notice = notice_for(&event).unwrap();
        assert_eq!(notice.severity, Severity::Error);
        assert!(
            notice
                .text
                .starts_with("recording stopped: cannot write to")
                && notice.text.contains("/dev/full"),
            "{}",
            notice.text
        );
        // It is not news about the book: a routine snapshot does not hide it.
        let snapshot = FeedEvent::Snapshot {
            at_ms: 6,
            product: "BTC-USD".into(),
            bids: 1,
            asks: 1,
        };
        let routine = notice_for(&snapshot).unwrap();
        assert!(!takes_over(Some(&notice), &routine, &snapshot));
    }

    #[test]
    fn the_resync_after_a_gap_does_not_hide_the_gap() {
        let gap = FeedEvent::Gap {
            at_ms: 1_000,
            expected: 4120,
            got: 4125,
        };
        let warning = notice_for(&gap).unwrap();
        assert_eq!(warning.severity, Severity::Warn);
        let resync = FeedEvent::Resync {
            at_ms: 1_000,
            products: vec!["BTC-USD".into()],
        };
        let routine = notice_for(&resync).unwrap();
        assert_eq!(
            routine.severity,
            Severity::Info,
            "a resync is not itself trouble"
        );
        assert!(!takes_over(Some(&warning), &routine, &resync));
        // Once the hold is over, it shows.
        let later = FeedEvent::Resync {
            at_ms: 1_000 + NOTICE_HOLD_MS,
            products: vec!["BTC-USD".into()],
        };
        assert!(takes_over(
            Some(&warning),
            &notice_for(&later).unwrap(),
            &later
        ));
    }
}
