//! Error frames and what they refuse (docs/feed.md, "Error frames and the auth fallback"):
//! every error frame is counted, kept (cut to a bounded length) and reported; an
//! `authentication failure` (any letter case, [`is_auth_failure`]) while subscribes carry a JWT
//! makes the feed fall back to the public subscribe once; a subscribe failure whose reason names
//! products still asked for refuses them for the rest of the session, whether it names the id
//! asked for or the id it is served as (`BTC-USD` for `BTC-USDC`); a subscribe failure that
//! names no product at all (the level2 stream limit, `too many L2 streams requested in a single
//! session`) refuses the products of the level2 subscribe it answers, so that none waits
//! silently for data that will not come. So does a subscribe failure that names a product the
//! client cannot match with any it asked for (an id echoed cut short, or written another way):
//! matching never depends on the server echoing an id whole.

use crate::auth::clock::AfterRefusal;
use crate::book::Book;
use crate::feed::core::FeedCore;
use crate::feed::events::{BookState, FeedEvent, ServerError, is_auth_failure, names};
use crate::product_id::{is_product_id, served_as};

/// Channels other than level2 whose name in a subscribe failure says it is not about level2.
const OTHER_CHANNELS: [&str; 7] = [
    "heartbeats",
    "ticker_batch",
    "ticker",
    "market_trades",
    "candles",
    "status",
    "user",
];

/// What an error frame asks of the authenticated path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthAction {
    None,
    /// Subscribe on the public path.
    FallBack,
    /// Time an answer before judging the refusal (docs/feed.md, "Clock offset").
    MeasureClock,
}

impl FeedCore {
    /// An error frame; returns what the authenticated path must do.
    pub(super) fn error_frame(
        &mut self,
        raw: &str,
        message: String,
        reason: Option<String>,
        now_ms: i64,
    ) -> AuthAction {
        self.stats.errors += 1;
        let message = shorten(message, MAX_ERROR_FRAME_TEXT);
        let reason = reason.map(|r| shorten(r, MAX_ERROR_FRAME_TEXT));
        self.auth.last_error = Some(ServerError {
            raw: shorten(raw.to_owned(), MAX_ERROR_FRAME_TEXT),
            message: message.clone(),
            reason: reason.clone(),
            at_ms: now_ms,
        });
        // While a refusal waits for its answer, a refusal is of a signed message sent before it.
        if is_auth_failure(&message)
            && self.authenticated
            && !self.auth.fell_back_to_public
            && !self.clock_judging_refusal()
        {
            // The refusal answers the signed level2 subscribe, the last one sent; the public
            // fallback about to go out replaces `last_subscribe`.
            self.auth.refused_subscribe = self.auth.last_subscribe.clone();
            self.emit(FeedEvent::AuthRejected {
                at_ms: now_ms,
                channel: "level2".to_owned(),
                message,
                reason,
            });
            return match self.clock_after_refusal() {
                AfterRefusal::Measure => AuthAction::MeasureClock,
                AfterRefusal::FallBack | AfterRefusal::Retry => {
                    self.fall_back(now_ms);
                    AuthAction::FallBack
                }
            };
        }
        self.emit(FeedEvent::ErrorFrame {
            at_ms: now_ms,
            message,
            reason,
        });
        AuthAction::None
    }

    /// The key was refused for good: subscribes carry no JWT from now on.
    pub(super) fn fall_back(&mut self, now_ms: i64) {
        self.authenticated = false;
        self.auth.fell_back_to_public = true;
        self.emit(FeedEvent::FellBackToPublic { at_ms: now_ms });
    }

    /// After an error frame: a subscribe failure whose reason names products still asked for
    /// (`failure to subscribe` / `FOO-BAR is not a valid product`) marks them refused, for the
    /// rest of the session. Returns whether any was, so that level2 is subscribed again without
    /// them (the server refuses a subscribe whole, so the others got nothing either).
    pub(super) fn refuse_named_products(&mut self, now_ms: i64) -> bool {
        let Some(error) = &self.auth.last_error else {
            return false;
        };
        let Some(reason) = error.reason.clone() else {
            return false;
        };
        let newly_refused: Vec<usize> = (0..self.products.len())
            .filter(|&i| {
                let product = &self.products[i];
                self.books[i].state != BookState::Refused
                    && (error.refuses_product(product)
                        || served_as(product).is_some_and(|served| error.refuses_product(served)))
            })
            .collect();
        self.refuse(&newly_refused, &reason, false, now_ms)
    }

    /// After an error frame that refused no product by name: the level2 stream limit, or a
    /// subscribe failure whose text names none of the products asked for (no id at all, or
    /// one the client cannot match: an id the server echoed cut short, or wrote another way)
    /// and no other channel, answers the last level2 subscribe, whose products will get
    /// nothing: they are refused with the server's words. Returns (any refused, the refusal is
    /// the stream limit).
    ///
    /// The products are those of the last level2 subscribe on this connection that the server
    /// has not yet acted on (no ack, no snapshot since). For a failure that is not the stream
    /// limit, those of them that break the product-id rule (asked for through the library,
    /// which does not check) are the ones the server can have meant: only they are refused
    /// when there are any, so that `BTC-USD` beside a 300-character id still goes live. The
    /// stream limit is unambiguous about level2: without such a subscribe (a replay, whose
    /// recording keeps no subscribes) it refuses the products still asked for that have no
    /// live book on this connection.
    pub(super) fn refuse_unnamed_subscribe(&mut self, now_ms: i64) -> (bool, bool) {
        let Some(error) = &self.auth.last_error else {
            return (false, false);
        };
        let stream_limit = error.is_l2_stream_limit();
        let unmatched_failure = error.is_subscribe_failure()
            && !names_another_channel(error)
            && !self.names_a_product_asked_for(error);
        if !stream_limit && !unmatched_failure {
            return (false, false);
        }
        let reason = match &error.reason {
            Some(reason) => format!("{}: {reason}", error.message),
            None => error.message.clone(),
        };
        let pending = self
            .level2_subscribe
            .as_ref()
            .filter(|subscribe| !subscribe.answered);
        let products: Vec<usize> = match pending {
            Some(subscribe) => (0..self.products.len())
                .filter(|&i| subscribe.products.contains(&self.products[i]))
                .collect(),
            None if stream_limit => (0..self.products.len())
                .filter(|&i| self.books[i].state != BookState::Live)
                .collect(),
            None => Vec::new(),
        };
        let mut newly_refused: Vec<usize> = products
            .into_iter()
            .filter(|&i| self.books[i].state != BookState::Refused)
            .collect();
        if !stream_limit {
            let not_ids: Vec<usize> = newly_refused
                .iter()
                .copied()
                .filter(|&i| !is_product_id(&self.products[i]))
                .collect();
            if !not_ids.is_empty() {
                newly_refused = not_ids;
            }
        }
        let any = self.refuse(&newly_refused, &reason, stream_limit, now_ms);
        if any {
            // Answered: a later error that names no product is not about it.
            self.level2_subscribe = None;
        }
        (any, any && stream_limit)
    }

    /// Whether the error's text names, as a whole id, a product asked for (refused or not) or
    /// the id one is served as: then it is about that product, not an unmatched refusal.
    fn names_a_product_asked_for(&self, error: &ServerError) -> bool {
        let texts = [Some(error.message.as_str()), error.reason.as_deref()];
        self.products.iter().any(|product| {
            let ids = [Some(product.as_str()), served_as(product)];
            texts
                .iter()
                .flatten()
                .any(|text| ids.iter().flatten().any(|id| names(text, id)))
        })
    }

    /// Marks the books `indices` refused with `reason`, reports each, and asks for the others
    /// only. Returns whether any was.
    fn refuse(
        &mut self,
        indices: &[usize],
        reason: &str,
        stream_limited: bool,
        now_ms: i64,
    ) -> bool {
        for &i in indices {
            let book = &mut self.books[i];
            book.state = BookState::Refused;
            book.refused = Some(reason.to_owned());
            book.stream_limited = stream_limited;
            book.book = Book::new();
            let product = self.products[i].clone();
            self.emit(FeedEvent::ProductRefused {
                at_ms: now_ms,
                product,
                reason: reason.to_owned(),
            });
        }
        let any = !indices.is_empty();
        if any {
            let active = self.active_products();
            self.auth.requested.insert("level2".to_owned(), active);
        }
        any
    }

    /// The products refused by the level2 stream limit (too many on this connection), in the
    /// order asked for: a sharding layer asks for them on other connections.
    pub fn stream_limited_products(&self) -> Vec<String> {
        self.products
            .iter()
            .zip(&self.books)
            .filter(|(_, b)| b.state == BookState::Refused && b.stream_limited)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Asks for refused `products` again on this feed (say, the server's limit was raised, or
    /// a sharding layer makes room on this connection): each waits for a snapshot, as at
    /// start. The caller subscribes level2 for them. Returns those that were refused.
    pub fn unrefuse(&mut self, products: &[String]) -> Vec<String> {
        let mut again = Vec::new();
        for (name, book) in self.products.iter().zip(&mut self.books) {
            if book.state == BookState::Refused && products.contains(name) {
                book.state = BookState::Waiting;
                book.refused = None;
                book.stream_limited = false;
                again.push(name.clone());
            }
        }
        if !again.is_empty() {
            let active = self.active_products();
            self.auth.requested.insert("level2".to_owned(), active);
            self.dirty = true;
        }
        again
    }

    /// The products still asked for: all but those the server refused.
    pub fn active_products(&self) -> Vec<String> {
        self.products
            .iter()
            .zip(&self.books)
            .filter(|(_, b)| b.state != BookState::Refused)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The products the server refused, with its reason, in the order asked for.
    pub fn refused_products(&self) -> Vec<(String, String)> {
        self.products
            .iter()
            .zip(&self.books)
            .filter_map(|(p, b)| b.refused.clone().map(|r| (p.clone(), r)))
            .collect()
    }

    /// Every product was refused: nothing is left to subscribe.
    pub fn all_refused(&self) -> bool {
        !self.books.is_empty() && self.books.iter().all(|b| b.state == BookState::Refused)
    }
}

/// Whether an error's text names a channel other than level2: a subscribe failure that does
/// is about that channel's subscribe, not level2's.
fn names_another_channel(error: &ServerError) -> bool {
    let texts = [Some(error.message.as_str()), error.reason.as_deref()];
    texts.into_iter().flatten().any(|text| {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .any(|word| {
                OTHER_CHANNELS
                    .iter()
                    .any(|ch| word.eq_ignore_ascii_case(ch))
            })
    })
}

/// The most of a bad frame's error text kept: parse errors quote the offending value, which a
/// broken or hostile server can make megabytes long (and events are kept, printed and shown).
pub(super) const MAX_BAD_FRAME_TEXT: usize = 300;
/// The most of each text of an error frame kept (they are a sentence or two; the view that holds
/// the last one is copied to the viewer many times a second).
pub(super) const MAX_ERROR_FRAME_TEXT: usize = 2000;

/// `text` cut to at most `max` bytes (on a character boundary), saying how long it was.
pub(super) fn shorten(mut text: String, max: usize) -> String {
    if text.len() > max {
        let total = text.len();
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(&format!("... ({total} bytes in all)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;
    use crate::feed::events::ViewRequest;

    #[test]
    fn error_frames_become_events() {
        let mut c = core();
        let frame = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
        assert!(!c.on_frame(frame, 7).resync);
        assert_eq!(c.stats().errors, 1);
        let ev = events(&mut c);
        assert_eq!(
            ev,
            [FeedEvent::ErrorFrame {
                at_ms: 7,
                message: "failure to subscribe".into(),
                reason: Some("FOO-BAR is not a valid product".into())
            }]
        );
        let last = c.auth().last_error.clone().unwrap();
        assert_eq!(last.raw, frame);
        assert_eq!(
            last.reason.as_deref(),
            Some("FOO-BAR is not a valid product")
        );
    }

    #[test]
    fn a_subscribe_failure_naming_a_product_refuses_it_and_asks_for_the_others() {
        let asked = ["BTC-USD".to_owned(), "FOO-BAR".to_owned()];
        let mut c = FeedCore::new("ws://test", &asked, false, 0);
        c.connection_started(0, false);
        c.drain_events();
        let frame = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
        let out = c.on_frame(frame, 7);
        assert!(out.resubscribe && !out.resync && !out.fall_back_to_public);
        assert_eq!(state(&c, "FOO-BAR"), BookState::Refused);
        assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
        assert_eq!(c.active_products(), ["BTC-USD"]);
        assert_eq!(c.auth().requested["level2"], ["BTC-USD"]);
        assert!(!c.all_refused());
        assert_eq!(
            events(&mut c),
            [
                FeedEvent::ErrorFrame {
                    at_ms: 7,
                    message: "failure to subscribe".into(),
                    reason: Some("FOO-BAR is not a valid product".into())
                },
                FeedEvent::ProductRefused {
                    at_ms: 7,
                    product: "FOO-BAR".into(),
                    reason: "FOO-BAR is not a valid product".into()
                }
            ]
        );
        // Refused for the session: new connections, data sent anyway and repeats change nothing.
        c.connection_started(10, false);
        c.on_frame(&l2(0, "snapshot", "FOO-BAR", &[("bid", "1", "1")]), 11);
        assert_eq!(state(&c, "FOO-BAR"), BookState::Refused);
        assert_eq!(dump(&c, "FOO-BAR"), (vec![], vec![]));
        assert!(!c.on_frame(frame, 12).resubscribe);
        c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 13);
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"live","sequence_num":1,"bids":[["1","1"]],"asks":[]},"FOO-BAR":{"state":"refused","reason":"FOO-BAR is not a valid product","sequence_num":0,"bids":[],"asks":[]}}"#
        );
        let view = c.view(&ViewRequest::default(), 14);
        assert_eq!(view.products[1].state, BookState::Refused);
        // A resync asks again for the others only.
        c.drain_events();
        c.resync(15);
        assert_eq!(
            events(&mut c),
            [FeedEvent::Resync {
                at_ms: 15,
                products: vec!["BTC-USD".into()]
            }]
        );
    }

    #[test]
    fn only_whole_product_ids_in_a_subscribe_failure_are_refused() {
        let asked = ["BTC-USD".to_owned(), "ETH-USD".to_owned()];
        let mut c = FeedCore::new("ws://test", &asked, false, 0);
        c.connection_started(0, false);
        for (message, reason) in [
            ("failure to subscribe", "BTC-USDC is not a valid product"),
            ("failure to subscribe", "XBTC-USD is not a valid product"),
            (
                "failure to subscribe",
                "the level2 channel needs product ids",
            ),
            ("authentication failure", "BTC-USD: key_unknown"),
            ("rate limit exceeded", "ETH-USD"),
            // An unsubscribe's failure (a resync sends one) refuses nothing.
            ("failure to unsubscribe", "BTC-USD is not subscribed"),
            ("subscribe or unsubscribe required", "BTC-USD"),
        ] {
            let frame = format!(r#"{{"type":"error","message":"{message}","reason":"{reason}"}}"#);
            assert!(!c.on_frame(&frame, 1).resubscribe, "{reason}");
        }
        assert_eq!(c.active_products(), asked);
        // Both named, in the exchange's older wording: both refused, nothing left.
        let frame = r#"{"type":"error","message":"Failed to subscribe","reason":"ETH-USD, BTC-USD are not valid products"}"#;
        assert!(c.on_frame(frame, 2).resubscribe);
        assert!(c.all_refused());
        assert_eq!(
            c.refused_products(),
            [
                (
                    "BTC-USD".to_owned(),
                    "ETH-USD, BTC-USD are not valid products".to_owned()
                ),
                (
                    "ETH-USD".to_owned(),
                    "ETH-USD, BTC-USD are not valid products".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn auth_failure_with_a_key_falls_back_to_public_once() {
        // `local`: no clock to judge first (the other modes: `jwt_clock`'s tests).
        let mut c = FeedCore::new("ws://test", &products(), true, 0);
        c.set_jwt_clock(crate::auth::clock::JwtClock::Local);
        c.connection_started(0, true);
        let signed = r#"{"type":"subscribe","channel":"level2","jwt":"<redacted>"}"#;
        c.subscribe_sent(1, "level2", signed.into(), Some("a.b.c".into()));
        c.drain_events();
        let frame = r#"{"type":"error","message":"authentication failure","reason":"key_unknown: no such key"}"#;
        let out = c.on_frame(frame, 5);
        assert!(out.fall_back_to_public);
        assert!(c.fell_back_to_public());
        assert!(c.auth().fell_back_to_public);
        let ev = events(&mut c);
        assert_eq!(
            ev,
            [
                FeedEvent::AuthRejected {
                    at_ms: 5,
                    channel: "level2".into(),
                    message: "authentication failure".into(),
                    reason: Some("key_unknown: no such key".into())
                },
                FeedEvent::FellBackToPublic { at_ms: 5 }
            ]
        );
        // The public subscribe that follows replaces the last one; the refused one is kept.
        let public = r#"{"type":"subscribe","channel":"level2"}"#;
        c.subscribe_sent(5, "level2", public.into(), None);
        assert_eq!(c.auth().last_subscribe.as_deref(), Some(public));
        assert_eq!(c.auth().refused_subscribe.as_deref(), Some(signed));
        c.drain_events();
        // A second refusal (say, for the heartbeats subscribe) is only an error frame.
        assert!(!c.on_frame(frame, 6).fall_back_to_public);
        assert!(matches!(events(&mut c)[..], [FeedEvent::ErrorFrame { .. }]));
        assert_eq!(c.stats().errors, 2);
    }

    #[test]
    fn auth_failure_without_a_key_is_an_error_frame() {
        let mut c = core();
        assert!(
            !c.on_frame(r#"{"type":"error","message":"authentication failure"}"#, 1)
                .fall_back_to_public
        );
        assert!(matches!(events(&mut c)[..], [FeedEvent::ErrorFrame { .. }]));
    }

    #[test]
    fn an_authentication_failure_in_another_letter_case_still_falls_back_to_public() {
        for message in ["AUTHENTICATION FAILURE", "Authentication Failure"] {
            let mut c = FeedCore::new("ws://test", &products(), true, 0);
            c.set_jwt_clock(crate::auth::clock::JwtClock::Local);
            c.connection_started(0, true);
            c.drain_events();
            let frame = format!(r#"{{"type":"error","message":"{message}"}}"#);
            let out = c.on_frame(&frame, 5);
            assert!(out.fall_back_to_public, "{message}");
            assert!(c.fell_back_to_public(), "{message}");
            assert_eq!(
                events(&mut c),
                [
                    FeedEvent::AuthRejected {
                        at_ms: 5,
                        channel: "level2".into(),
                        message: message.into(),
                        reason: None
                    },
                    FeedEvent::FellBackToPublic { at_ms: 5 }
                ]
            );
            assert_eq!(c.stats().errors, 1);
        }
    }

    #[test]
    fn an_auth_failure_on_a_connection_without_a_jwt_is_an_error_frame() {
        // A key is configured, but this connection's subscribes carry no JWT (say, the session
        // already fell back and reconnected): nothing to fall back from.
        let mut c = FeedCore::new("ws://test", &products(), true, 0);
        c.connection_started(0, false);
        c.drain_events();
        let out = c.on_frame(r#"{"type":"error","message":"authentication failure"}"#, 1);
        assert!(!out.fall_back_to_public);
        assert!(!c.fell_back_to_public());
        assert!(matches!(events(&mut c)[..], [FeedEvent::ErrorFrame { .. }]));
    }

    #[test]
    fn a_message_that_only_mentions_authentication_failure_is_no_auth_failure() {
        let mut c = FeedCore::new("ws://test", &products(), true, 0);
        c.connection_started(0, true);
        let frame = r#"{"type":"error","message":"authentication failure: retry later"}"#;
        assert!(!c.on_frame(frame, 1).fall_back_to_public);
        assert!(!c.fell_back_to_public());
    }

    #[test]
    fn error_texts_are_cut_on_a_character_boundary_saying_how_long_they_were() {
        assert_eq!(shorten("short".into(), 10), "short");
        assert_eq!(shorten("0123456789".into(), 10), "0123456789");
        // "é" is two bytes: a cut at 3 would split the second one.
        assert_eq!(
            shorten("éééé".into(), 3),
            "é... (8 bytes in all)",
            "cut back to a boundary"
        );
        let mut c = core();
        let reason = "x".repeat(10_000);
        let frame = format!(r#"{{"type":"error","message":"failure","reason":"{reason}"}}"#);
        c.on_frame(&frame, 1);
        let kept = c.auth().last_error.clone().unwrap();
        assert!(kept.reason.unwrap().ends_with("... (10000 bytes in all)"));
        assert!(
            kept.raw.len() < MAX_ERROR_FRAME_TEXT + 40,
            "{}",
            kept.raw.len()
        );
    }

    #[test]
    fn the_refused_product_stays_refused_across_a_lost_connection() {
        let asked = ["BTC-USD".to_owned(), "FOO-BAR".to_owned()];
        let mut c = FeedCore::new("ws://test", &asked, false, 0);
        c.connection_started(0, false);
        let frame = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
        assert!(c.on_frame(frame, 1).resubscribe);
        c.connection_lost(2, "closed");
        c.connection_started(3, false);
        assert_eq!(state(&c, "FOO-BAR"), BookState::Refused);
        assert_eq!(c.active_products(), ["BTC-USD"]);
        assert_eq!(
            c.refused_products(),
            [(
                "FOO-BAR".to_owned(),
                "FOO-BAR is not a valid product".to_owned()
            )]
        );
    }
}
