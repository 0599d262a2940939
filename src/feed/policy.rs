//! When to leave a connection, resubscribe, or retry: the watchdog, the resync pacing (for
//! desynced books and for crossed ones) and the reconnect backoff of one connection (docs/feed.md, "Integrity rules" and "Watchdog and
//! reconnects"), as a pure struct that is told the time.
//!
//! [`ConnectionPolicy`] reads no clock and touches no socket: the caller reports what happened
//! and when (a frame received at `t`, level2 sent at `t`, a good subscribe, a lost connection),
//! asks [`ConnectionPolicy::tick`] what to do at `t`, and sleeps until
//! [`ConnectionPolicy::next_deadline`]. The live client (`feed/client.rs`) keeps one per
//! connection it holds, across that connection's reconnects, so that several connections (one
//! per shard of products, a user-channel connection) each get their own. Replay has no socket to
//! watch: it counts the reconnects its recording shows and shares none of this.

use std::fmt;
use std::time::{Duration, Instant};

use crate::feed::backoff::Backoff;

/// The limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// No frame for this long: leave and reconnect (`--watchdog-secs`).
    pub watchdog: Duration,
    /// A book still desynced this long after level2 was (re)subscribed: resubscribe again; a
    /// second time in a row: reconnect.
    pub resync_timeout: Duration,
}

/// Why the policy leaves a connection; the text is the `Disconnected` event's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// No frame (text or binary; pings do not count) for the watchdog's time.
    Watchdog { silence: Duration },
    /// Resubscribing twice in a row left a book desynced: the connection itself is suspect (a
    /// corrupted `sequence_num` from the far future makes every later frame look stale), and
    /// only a new connection, whose numbers restart at 0, helps.
    StillDesynced { timeout: Duration },
}

impl fmt::Display for Leave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leave::Watchdog { silence } => {
                write!(f, "no frame for {} s (watchdog)", silence.as_secs_f64())
            }
            Leave::StillDesynced { timeout } => write!(
                f,
                "still desynced {} s after resubscribing twice; reconnecting",
                timeout.as_secs_f64()
            ),
        }
    }
}

/// What to do at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing until [`ConnectionPolicy::next_deadline`].
    Wait,
    /// A book is still desynced after the resync timeout: resync (unsubscribe and subscribe
    /// level2) now. The policy counts level2 as sent at the tick's time.
    Resync,
    /// Leave the connection, then retry after [`ConnectionPolicy::connection_lost`]'s delay.
    Reconnect(Leave),
}

/// The next attempt after a lost connection or a failed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Wait this long first (the backoff's next delay).
    pub delay: Duration,
    /// The attempt number the `Reconnecting` event shows.
    pub attempt: u32,
}

/// The watchdog, resync pacing and reconnect policy of one connection. See the module docs.
#[derive(Debug)]
pub struct ConnectionPolicy {
    config: PolicyConfig,
    backoff: Backoff,
    /// Attempts since the last good subscribe (the one under way included).
    attempt: u32,
    /// The open connection, if any.
    session: Option<Session>,
    /// When to resync for crossed books (kept across reconnects: a server that sends crossed
    /// books on every connection is paced all the same).
    crossed: CrossedPacing,
}

/// The first resync for a crossed book goes out at once; each further one in a row waits
/// twice as long as the one before, from this.
pub const CROSSED_BASE: Duration = Duration::from_secs(1);
/// No wait between resyncs for crossed books is longer.
pub const CROSSED_MAX: Duration = Duration::from_secs(60);
/// This long with no crossed book ends a run: the next crossing is resynced at once again.
pub const CROSSED_QUIET: Duration = Duration::from_secs(60);

/// Resync pacing for crossed books (docs/feed.md, "Crossed books"). A crossed book needs a
/// fresh snapshot, but a server that keeps sending crossed books must not be asked again and
/// again (each resync may bring megabytes of snapshots): in a run of crossings, resync `k` goes
/// out no sooner than 0, 1, 2, 4 ... 60 s after resync `k - 1`, and a run ends after
/// [`CROSSED_QUIET`] with no crossed book. A book that comes back by other means (a gap's
/// resync, a reconnect) cancels the wait.
#[derive(Debug, Clone, Copy, Default)]
struct CrossedPacing {
    /// Resyncs sent in the current run.
    run: u32,
    /// When the last of them went out.
    last: Option<Instant>,
    /// When the next may go out, while a book is crossed (for the caller's deadline).
    due: Option<Instant>,
    /// Since when no book has been crossed (ends the run after [`CROSSED_QUIET`]).
    clear_since: Option<Instant>,
}

impl CrossedPacing {
    /// The wait after the previous resync of a run before resync number `run` (from 0).
    fn delay(run: u32) -> Duration {
        match run {
            0 => Duration::ZERO,
            n => CROSSED_BASE
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(CROSSED_MAX),
        }
    }

    /// Whether to resync now, given whether a book is crossed.
    fn poll(&mut self, now: Instant, any_crossed: bool) -> bool {
        if !any_crossed {
            self.due = None;
            self.clear_since.get_or_insert(now);
            return false;
        }
        if let Some(since) = self.clear_since.take() {
            if now.saturating_duration_since(since) >= CROSSED_QUIET {
                self.run = 0;
            }
        }
        let due = match self.last {
            Some(last) if self.run > 0 => last.checked_add(Self::delay(self.run)).unwrap_or(now),
            _ => now,
        };
        if now < due {
            self.due = Some(due);
            return false;
        }
        self.due = None;
        self.last = Some(now);
        self.run = self.run.saturating_add(1);
        true
    }
}

/// The timers of one open connection.
#[derive(Debug, Clone, Copy)]
struct Session {
    last_frame: Instant,
    level2_sent: Instant,
    /// Resyncs in a row, paced by the resync timeout, that left a book desynced.
    fruitless_resyncs: u32,
}

impl ConnectionPolicy {
    pub fn new(config: PolicyConfig, backoff: Backoff) -> ConnectionPolicy {
        ConnectionPolicy {
            config,
            backoff,
            attempt: 0,
            session: None,
            crossed: CrossedPacing::default(),
        }
    }

    pub fn config(&self) -> PolicyConfig {
        self.config
    }

    /// An attempt to connect starts; returns its number (for the `Connecting` event).
    pub fn connecting(&mut self) -> u32 {
        self.attempt = self.attempt.saturating_add(1);
        self.session = None;
        self.attempt
    }

    /// The connection is open and its first subscribes went out at `now`: the watchdog and the
    /// resync timeout start counting from here.
    pub fn connected(&mut self, now: Instant) {
        self.session = Some(Session {
            last_frame: now,
            level2_sent: now,
            fruitless_resyncs: 0,
        });
    }

    /// A frame (text or binary, readable or not) arrived at `now`. Pings do not count.
    pub fn frame_received(&mut self, now: Instant) {
        if let Some(s) = &mut self.session {
            s.last_frame = now;
        }
    }

    /// The server acknowledged level2 for our products, or sent a snapshot: the next lost
    /// connection is retried from the backoff's first delay, and counted from attempt 1.
    pub fn subscribed(&mut self) {
        self.backoff.reset();
    }

    /// A level2 subscribe (or resubscribe) went out at `now`, outside a [`Decision::Resync`]:
    /// the books get the resync timeout from here to come back.
    pub fn level2_sent(&mut self, now: Instant) {
        if let Some(s) = &mut self.session {
            s.level2_sent = now;
        }
    }

    /// What to do at `now`, given whether any book is desynced. Call it at every tick and at
    /// [`ConnectionPolicy::next_deadline`].
    pub fn tick(&mut self, now: Instant, any_desynced: bool) -> Decision {
        let config = self.config;
        let Some(s) = &mut self.session else {
            return Decision::Wait;
        };
        if now.saturating_duration_since(s.last_frame) >= config.watchdog {
            return Decision::Reconnect(Leave::Watchdog {
                silence: config.watchdog,
            });
        }
        if !any_desynced {
            s.fruitless_resyncs = 0;
            return Decision::Wait;
        }
        if now.saturating_duration_since(s.level2_sent) < config.resync_timeout {
            return Decision::Wait;
        }
        s.fruitless_resyncs += 1;
        if s.fruitless_resyncs > 1 {
            return Decision::Reconnect(Leave::StillDesynced {
                timeout: config.resync_timeout,
            });
        }
        s.level2_sent = now;
        Decision::Resync
    }

    /// Whether to resync the crossed books now (docs/feed.md, "Crossed books"), given whether
    /// a book is crossed: at once for the first crossing of a run, then no sooner than 1, 2, 4
    /// ... 60 s after the previous resync. Call it after every frame and at every tick; on
    /// `true`, resubscribe the crossed products. Such a resync asks for no other product's
    /// snapshot, so it does not restart the desynced books' resync timeout. Always `false`
    /// without a connection.
    pub fn crossed_resync(&mut self, now: Instant, any_crossed: bool) -> bool {
        if self.session.is_none() {
            return false;
        }
        self.crossed.poll(now, any_crossed)
    }

    /// When [`ConnectionPolicy::tick`] may next have something to do, if nothing else happens
    /// first: the watchdog's deadline, the resync timeout's when a book is desynced, or the
    /// paced resync of a crossed book ([`ConnectionPolicy::crossed_resync`]). Frames and level2
    /// subscribes only move it later, so a caller that sleeps until it and then ticks is never
    /// late. `None` without an open connection (or with limits too far off to be reached).
    pub fn next_deadline(&self, any_desynced: bool) -> Option<Instant> {
        let s = self.session.as_ref()?;
        let watchdog = s.last_frame.checked_add(self.config.watchdog);
        let resync = if any_desynced {
            s.level2_sent.checked_add(self.config.resync_timeout)
        } else {
            None
        };
        [watchdog, resync, self.crossed.due]
            .into_iter()
            .flatten()
            .min()
    }

    /// The connection was lost, or the attempt failed: when to try again, and as which attempt.
    /// After a good subscribe the count starts again at 1 and the delay at the backoff's first.
    pub fn connection_lost(&mut self) -> Retry {
        self.session = None;
        // The next connection's snapshots replace every book; the run of crossings goes on.
        self.crossed.due = None;
        if self.backoff.attempts() == 0 {
            // The last subscribe was good (or nothing failed yet): count attempts afresh.
            self.attempt = 0;
        }
        Retry {
            delay: self.backoff.next_delay(),
            attempt: self.attempt.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::backoff::{BASE, MAX};

    const WATCHDOG: Duration = Duration::from_secs(5);
    const RESYNC: Duration = Duration::from_secs(10);

    fn policy() -> ConnectionPolicy {
        let config = PolicyConfig {
            watchdog: WATCHDOG,
            resync_timeout: RESYNC,
        };
        ConnectionPolicy::new(config, Backoff::with_seed(3))
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A policy whose connection opened at `t0`.
    fn connected() -> (ConnectionPolicy, Instant) {
        let mut p = policy();
        let t0 = Instant::now();
        p.connecting();
        p.connected(t0);
        (p, t0)
    }

    #[test]
    fn the_watchdog_fires_after_the_silence_limit_and_not_before() {
        let (mut p, t0) = connected();
        assert_eq!(p.tick(t0 + secs(4.999), false), Decision::Wait);
        assert_eq!(
            p.tick(t0 + WATCHDOG, false),
            Decision::Reconnect(Leave::Watchdog { silence: WATCHDOG })
        );
        assert_eq!(
            Leave::Watchdog { silence: WATCHDOG }.to_string(),
            "no frame for 5 s (watchdog)"
        );
        assert_eq!(
            Leave::Watchdog {
                silence: Duration::from_millis(700)
            }
            .to_string(),
            "no frame for 0.7 s (watchdog)"
        );
    }

    #[test]
    fn every_frame_restarts_the_watchdog() {
        let (mut p, t0) = connected();
        for s in 1..=20 {
            p.frame_received(t0 + secs(f64::from(s)));
            assert_eq!(p.tick(t0 + secs(f64::from(s) + 4.9), false), Decision::Wait);
        }
        assert_eq!(p.next_deadline(false), Some(t0 + secs(25.0)));
        assert!(matches!(
            p.tick(t0 + secs(25.0), false),
            Decision::Reconnect(Leave::Watchdog { .. })
        ));
    }

    #[test]
    fn the_watchdog_comes_before_the_resync_timeout() {
        // A silent server with a desynced book: leave for the silence, not for the books.
        let (mut p, t0) = connected();
        assert_eq!(
            p.tick(t0 + secs(30.0), true),
            Decision::Reconnect(Leave::Watchdog { silence: WATCHDOG })
        );
    }

    #[test]
    fn no_connection_no_decision_and_no_deadline() {
        let mut p = policy();
        let t0 = Instant::now();
        assert_eq!(p.tick(t0 + secs(100.0), true), Decision::Wait);
        assert_eq!(p.next_deadline(true), None);
        p.connecting();
        assert_eq!(p.next_deadline(false), None);
        // Frames and subscribes outside a connection change nothing.
        p.frame_received(t0);
        p.level2_sent(t0);
        assert_eq!(p.tick(t0 + secs(100.0), true), Decision::Wait);
    }

    #[test]
    fn a_book_still_desynced_after_the_timeout_is_resynced_once_then_the_connection_is_left() {
        let (mut p, t0) = connected();
        let heartbeats = |p: &mut ConnectionPolicy, until: f64| {
            let mut t = 0.0;
            while t <= until {
                p.frame_received(t0 + secs(t));
                t += 1.0;
            }
        };
        heartbeats(&mut p, 9.0);
        assert_eq!(p.tick(t0 + secs(9.9), true), Decision::Wait);
        assert_eq!(p.tick(t0 + RESYNC, true), Decision::Resync);
        // The resync counts as level2 sent at the tick: the next one is due 10 s later.
        assert_eq!(p.next_deadline(true), Some(t0 + secs(14.0)));
        heartbeats(&mut p, 19.0);
        assert_eq!(p.next_deadline(true), Some(t0 + secs(20.0)));
        assert_eq!(p.tick(t0 + secs(19.9), true), Decision::Wait);
        let leave = Leave::StillDesynced { timeout: RESYNC };
        assert_eq!(p.tick(t0 + secs(20.0), true), Decision::Reconnect(leave));
        assert_eq!(
            leave.to_string(),
            "still desynced 10 s after resubscribing twice; reconnecting"
        );
    }

    #[test]
    fn books_back_in_sync_make_the_next_resync_a_first_one() {
        let (mut p, t0) = connected();
        let mut t = 0.0;
        let mut at = |p: &mut ConnectionPolicy, desynced: bool, until: f64| {
            let mut last = Decision::Wait;
            while t <= until {
                p.frame_received(t0 + secs(t));
                last = p.tick(t0 + secs(t), desynced);
                if last != Decision::Wait {
                    return last;
                }
                t += 0.25;
            }
            last
        };
        assert_eq!(at(&mut p, true, 10.0), Decision::Resync);
        // The snapshots come back: the fruitless count starts again.
        assert_eq!(at(&mut p, false, 12.0), Decision::Wait);
        // A gap desyncs them again, with its own resubscribe.
        p.level2_sent(t0 + secs(12.0));
        assert_eq!(at(&mut p, true, 21.75), Decision::Wait);
        assert_eq!(at(&mut p, true, 22.0), Decision::Resync);
        assert!(matches!(
            at(&mut p, true, 40.0),
            Decision::Reconnect(Leave::StillDesynced { .. })
        ));
    }

    #[test]
    fn a_level2_subscribe_restarts_the_resync_timeout() {
        let (mut p, t0) = connected();
        p.frame_received(t0 + secs(8.0));
        // A gap at 8 s: the client resubscribed then.
        p.level2_sent(t0 + secs(8.0));
        assert_eq!(p.tick(t0 + secs(10.0), true), Decision::Wait);
        assert_eq!(p.next_deadline(true), Some(t0 + secs(13.0)));
        p.frame_received(t0 + secs(12.0));
        assert_eq!(p.next_deadline(true), Some(t0 + secs(17.0)));
        p.frame_received(t0 + secs(16.0));
        assert_eq!(p.next_deadline(true), Some(t0 + secs(18.0)));
        assert_eq!(p.tick(t0 + secs(18.0), true), Decision::Resync);
    }

    #[test]
    fn the_deadline_is_the_watchdog_s_unless_a_book_is_desynced() {
        let (p, t0) = connected();
        assert_eq!(p.next_deadline(false), Some(t0 + WATCHDOG));
        assert_eq!(p.next_deadline(true), Some(t0 + WATCHDOG));
        let short = PolicyConfig {
            watchdog: WATCHDOG,
            resync_timeout: secs(1.0),
        };
        let mut q = ConnectionPolicy::new(short, Backoff::with_seed(0));
        q.connecting();
        q.connected(t0);
        assert_eq!(q.next_deadline(false), Some(t0 + WATCHDOG));
        assert_eq!(q.next_deadline(true), Some(t0 + secs(1.0)));
    }

    #[test]
    fn after_any_tick_the_next_deadline_is_in_the_future() {
        // A caller sleeping until the deadline never spins.
        let (mut p, t0) = connected();
        for (t, desynced) in [(1.0, false), (4.0, true), (10.0, true), (14.0, true)] {
            let now = t0 + secs(t);
            p.frame_received(now);
            assert_eq!(p.tick(now, desynced) == Decision::Resync, t == 10.0);
            let deadline = p.next_deadline(desynced).unwrap();
            assert!(deadline > now, "at {t} s: {deadline:?}");
        }
    }

    #[test]
    fn limits_too_far_off_have_no_deadline_and_never_fire() {
        let far = PolicyConfig {
            watchdog: Duration::MAX,
            resync_timeout: Duration::MAX,
        };
        let mut p = ConnectionPolicy::new(far, Backoff::with_seed(0));
        let t0 = Instant::now();
        p.connecting();
        p.connected(t0);
        assert_eq!(p.next_deadline(true), None);
        assert_eq!(p.tick(t0 + secs(1e6), true), Decision::Wait);
    }

    #[test]
    fn failed_attempts_back_off_and_count_up() {
        let mut p = policy();
        // The server is down at start: 1, then (the count starting afresh, nothing having
        // failed before) 1 again, 2, 3...
        assert_eq!(p.connecting(), 1);
        let first = p.connection_lost();
        assert_eq!(first.attempt, 1);
        assert!(first.delay >= BASE && first.delay < BASE * 2, "{first:?}");
        let mut previous = first.delay;
        for n in 2..=12u32 {
            assert_eq!(p.connecting(), n - 1);
            let retry = p.connection_lost();
            assert_eq!(retry.attempt, n);
            assert!(retry.delay >= previous.min(MAX) || retry.delay == MAX);
            assert!(retry.delay <= MAX);
            previous = retry.delay;
        }
        assert_eq!(previous, MAX);
    }

    #[test]
    fn a_good_subscribe_resets_the_backoff_and_the_attempt_count() {
        let mut p = policy();
        let t0 = Instant::now();
        for _ in 0..5 {
            p.connecting();
            p.connection_lost();
        }
        assert_eq!(p.connecting(), 5);
        p.connected(t0);
        p.subscribed();
        let retry = p.connection_lost();
        assert_eq!(retry.attempt, 1);
        assert!(retry.delay >= BASE && retry.delay < BASE * 2, "{retry:?}");
        // A connection lost without a good subscribe keeps counting.
        assert_eq!(p.connecting(), 1);
        p.connected(t0);
        let retry = p.connection_lost();
        assert_eq!(retry.attempt, 2);
        assert!(
            retry.delay >= BASE * 2 && retry.delay < BASE * 3,
            "{retry:?}"
        );
    }

    #[test]
    fn a_lost_connection_stops_its_timers() {
        let (mut p, t0) = connected();
        p.connection_lost();
        assert_eq!(p.next_deadline(true), None);
        assert_eq!(p.tick(t0 + secs(60.0), true), Decision::Wait);
        // The next connection starts them afresh, with no fruitless resync carried over.
        p.connecting();
        let t1 = t0 + secs(60.0);
        p.connected(t1);
        assert_eq!(p.next_deadline(false), Some(t1 + WATCHDOG));
        p.frame_received(t1 + secs(9.0));
        assert_eq!(p.tick(t1 + RESYNC, true), Decision::Resync);
    }

    #[test]
    fn crossed_books_are_resynced_at_once_then_with_growing_waits() {
        let (mut p, t0) = connected();
        // A server that sends a crossed book in every snapshot: the book is always crossed.
        let mut sent = Vec::new();
        let mut t = 0.0;
        while t <= 300.0 {
            let now = t0 + secs(t);
            p.frame_received(now);
            if p.crossed_resync(now, true) {
                sent.push(t);
            }
            t += 0.25;
        }
        assert_eq!(
            sent,
            [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0, 123.0, 183.0, 243.0],
            "at once, then 1, 2, 4 ... s later, never more than 60 s apart"
        );
    }

    #[test]
    fn the_crossed_resync_deadline_wakes_a_sleeping_caller() {
        let (mut p, t0) = connected();
        assert!(p.crossed_resync(t0, true));
        // Its snapshot comes crossed again: the next resync is due 1 s after the first.
        assert!(!p.crossed_resync(t0 + secs(0.1), true));
        assert_eq!(p.next_deadline(false), Some(t0 + CROSSED_BASE));
        // The book came back (its snapshot, a gap's resync): nothing is due any more.
        assert!(!p.crossed_resync(t0 + secs(0.5), false));
        assert_eq!(p.next_deadline(false), Some(t0 + WATCHDOG));
    }

    #[test]
    fn a_quiet_minute_ends_a_run_of_crossings() {
        let (mut p, t0) = connected();
        assert!(p.crossed_resync(t0, true));
        assert!(p.crossed_resync(t0 + secs(1.0), true));
        // Fixed after that, crossed again soon after: the same run, 2 s after the last resync.
        assert!(!p.crossed_resync(t0 + secs(2.0), false));
        assert!(!p.crossed_resync(t0 + secs(2.5), true));
        assert!(p.crossed_resync(t0 + secs(3.0), true));
        // Fixed for a minute: the next crossing is resynced at once.
        assert!(!p.crossed_resync(t0 + secs(35.0), false));
        assert!(p.crossed_resync(t0 + secs(95.0), true));
    }

    #[test]
    fn a_crossed_resync_leaves_the_desync_timeout_alone_and_needs_a_connection() {
        let (mut p, t0) = connected();
        p.frame_received(t0 + secs(9.0));
        assert!(p.crossed_resync(t0 + secs(9.0), true));
        // It asked for the crossed products only: a desynced book's timeout still runs from
        // the level2 subscribe at t0.
        assert_eq!(p.tick(t0 + RESYNC, true), Decision::Resync);
        p.connection_lost();
        assert!(!p.crossed_resync(t0 + secs(100.0), true));
    }

    #[test]
    fn connections_do_not_share_state() {
        let (mut a, t0) = connected();
        let mut b = policy();
        b.connecting();
        b.connected(t0);
        a.frame_received(t0 + secs(4.0));
        assert_eq!(a.tick(t0 + WATCHDOG, false), Decision::Wait);
        assert!(matches!(
            b.tick(t0 + WATCHDOG, false),
            Decision::Reconnect(_)
        ));
    }
}
