//! A connection's clock and its JWTs (docs/feed.md, "Clock offset"; docs/auth.md, "Clock skew"):
//! the offset measured from its frames ([`ClockEstimator`], fed by the same envelope timestamps
//! as the `server_to_received_ms` latency), which clock signed each JWT, and the retry-once rule
//! after `authentication failure`.
//!
//! A refusal of a signed subscribe goes like this (`auto` and `server`): nothing is signed while
//! an answer is timed (the caller subscribes `heartbeats`, which needs no JWT, and the server
//! answers in order, so every refusal of the earlier signed messages arrives before that
//! answer); once the offset is known, [`crate::auth::clock::after_refusal`] decides: sign again
//! with the server's time and subscribe once more, or fall back to the public feed. A connection
//! lost while timing falls back (the refusal stands, unexplained). `local` falls back at once.

use crate::auth::clock::{AfterRefusal, JwtClock, after_refusal, signing_time};
use crate::feed::core::clock::{ClockEstimate, ClockEstimator};
use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::FeedEvent;

/// The clock state of one connection's core.
#[derive(Debug, Clone, Default)]
pub(super) struct JwtClockState {
    estimator: ClockEstimator,
    /// Other connections' estimates, taken in when cores merge at the end of a session.
    absorbed: Option<ClockEstimate>,
    mode: JwtClock,
    /// When the first subscribe of the current connection went out, until an answer is timed
    /// against it (every answer on the connection was stamped after it).
    first_sent_ms: Option<i64>,
    /// The server's time of the frame being read, when it had one.
    frame_server_ms: Option<i64>,
    /// A refusal waits for a timed answer before it is judged: nothing is signed meanwhile.
    measuring: bool,
    /// The one retry with the server's time has been used.
    retried: bool,
}

impl FeedCore {
    /// Which clock signs this feed's JWTs (`--jwt-clock`).
    pub fn set_jwt_clock(&mut self, mode: JwtClock) {
        self.clock.mode = mode;
        self.auth.jwt_clock = mode;
    }

    /// The offset measured on this connection.
    pub fn clock_estimate(&self) -> Option<ClockEstimate> {
        self.clock.estimator.estimate()
    }

    /// The offset over every connection whose core this one absorbed (the whole session at the
    /// end of a run).
    pub fn overall_clock(&self) -> Option<ClockEstimate> {
        match (self.clock_estimate(), self.clock.absorbed) {
            (Some(a), Some(b)) => Some(a.combine(b)),
            (a, b) => a.or(b),
        }
    }

    /// A reading of this machine's wall and monotonic clocks (ms): a step of the wall clock
    /// empties the window, whose samples measured the old one.
    pub fn note_local_clock(&mut self, wall_ms: i64, monotonic_ms: i64) {
        if self.clock.estimator.local_clock(wall_ms, monotonic_ms) {
            tracing::warn!("this machine's clock stepped; measuring its offset again");
        }
    }

    /// `nbf` for a JWT about to be signed at `now_ms`, recording which clock signed it; `None`
    /// while a refusal waits for a timed answer (send that message without a JWT).
    pub fn jwt_nbf(&mut self, now_ms: i64) -> Option<i64> {
        if self.clock.measuring {
            return None;
        }
        let offset = self.clock_estimate().map(|e| e.offset_ms);
        let (nbf, with) = signing_time(self.clock.mode, now_ms, offset);
        self.auth.signed_with = Some(with);
        Some(nbf)
    }

    /// A refusal is waiting for a timed answer.
    pub fn measuring_clock(&self) -> bool {
        self.clock.measuring
    }

    /// Every timed frame: a sample of the offset.
    #[inline]
    pub(super) fn clock_sample(&mut self, received_ms: i64, server_ms: Option<i64>) {
        self.clock.frame_server_ms = server_ms;
        if let Some(server_ms) = server_ms {
            self.clock.estimator.sample(received_ms, server_ms);
        }
    }

    /// A subscribe or unsubscribe went out at `now_ms`.
    pub(super) fn clock_message_sent(&mut self, now_ms: i64) {
        if self.clock.first_sent_ms.is_none() {
            self.clock.first_sent_ms = Some(now_ms);
        }
    }

    /// A `subscriptions` ack, which answers a message sent at or after the connection's first:
    /// the first one bounds the offset from below.
    pub(super) fn clock_answer(&mut self, received_ms: i64) {
        if let (Some(sent), Some(server)) =
            (self.clock.first_sent_ms.take(), self.clock.frame_server_ms)
        {
            self.clock.estimator.answer(sent, received_ms, server);
        }
    }

    /// A new connection: its first message is not sent yet.
    pub(super) fn clock_connection_started(&mut self) {
        self.clock.first_sent_ms = None;
        self.clock.frame_server_ms = None;
        self.clock.measuring = false;
    }

    /// The connection was lost: a refusal still waiting for its answer stands.
    pub(super) fn clock_connection_lost(&mut self, now_ms: i64) {
        if self.clock.measuring {
            self.clock.measuring = false;
            self.fall_back(now_ms);
        }
    }

    /// `authentication failure` of a signed subscribe (not already being judged): `local`, or a
    /// retry already used, falls back at once; otherwise the refusal waits for a timed answer
    /// (the caller subscribes heartbeats without a JWT) and is judged then
    /// ([`FeedCore::clock_judge`]), so that the refusals of the other signed messages sent
    /// before it are not taken for the retry's.
    pub(super) fn clock_after_refusal(&mut self) -> AfterRefusal {
        if self.clock.mode == JwtClock::Local || self.clock.retried {
            return AfterRefusal::FallBack;
        }
        self.clock.measuring = true;
        AfterRefusal::Measure
    }

    /// Whether a refusal is waiting for its answer: an auth failure now answers a message sent
    /// before it, not a new one.
    pub(super) fn clock_judging_refusal(&self) -> bool {
        self.clock.measuring
    }

    /// A `subscriptions` ack while a refusal waits (the answer to the heartbeats subscribe sent
    /// without a JWT, timed like every frame): the retry-once rule decides, on the offset
    /// measured now.
    pub(super) fn clock_judge(&mut self, now_ms: i64, outcome: &mut Outcome) {
        if !self.clock.measuring {
            return;
        }
        self.clock.measuring = false;
        let offset = self.clock_estimate().map(|e| e.offset_ms);
        match after_refusal(self.clock.mode, self.auth.signed_with, offset, false) {
            AfterRefusal::Retry => {
                self.clock.retried = true;
                self.auth.clock_retried = true;
                outcome.retry_signed = true;
                self.emit(FeedEvent::ClockRetry {
                    at_ms: now_ms,
                    offset_ms: offset.unwrap_or(0),
                });
            }
            // An ack without a timestamp leaves nothing measured: the refusal stands.
            AfterRefusal::FallBack | AfterRefusal::Measure => {
                self.fall_back(now_ms);
                outcome.fall_back_to_public = true;
            }
        }
    }

    /// Takes in another connection's measurements (cores merged at the end of a session).
    pub(super) fn clock_absorb(&mut self, other: &FeedCore) {
        if let Some(theirs) = other.overall_clock() {
            self.clock.absorbed = Some(match self.clock.absorbed {
                Some(mine) => mine.combine(theirs),
                None => theirs,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::SignedWith;
    use crate::feed::core::test_frames::*;

    /// A heartbeat stamped `server_ms`.
    fn heartbeat_at(seq: u64, server_ms: i64) -> String {
        let ts = crate::feed::time::rfc3339_millis(server_ms);
        format!(
            r#"{{"channel":"heartbeats","client_id":"","timestamp":"{ts}","sequence_num":{seq},"events":[{{"heartbeat_counter":{seq}}}]}}"#
        )
    }

    fn ack_at(seq: u64, server_ms: i64, level2: bool) -> String {
        let ts = crate::feed::time::rfc3339_millis(server_ms);
        let l2 = if level2 {
            r#","level2":["BTC-USD","ETH-USD"]"#
        } else {
            ""
        };
        format!(
            r#"{{"channel":"subscriptions","client_id":"","timestamp":"{ts}","sequence_num":{seq},"events":[{{"subscriptions":{{"heartbeats":["heartbeats"]{l2}}}}}]}}"#
        )
    }

    const REFUSED: &str = r#"{"type":"error","message":"authentication failure"}"#;
    const T: i64 = 1_732_000_000_000;

    fn signed_core(mode: JwtClock) -> FeedCore {
        let mut c = FeedCore::new("ws://test", &products(), true, T);
        c.set_jwt_clock(mode);
        c.connection_started(T, true);
        c
    }

    /// The client's part: a signed level2 and heartbeats subscribe at `at`.
    fn send_signed(c: &mut FeedCore, at: i64) -> Option<i64> {
        let nbf = c.jwt_nbf(at);
        let jwt = nbf.map(|_| "a.b.c".to_owned());
        c.subscribe_sent(at, "level2", "{}".into(), jwt.clone());
        c.subscribe_sent(at, "heartbeats", "{}".into(), jwt);
        nbf
    }

    #[test]
    fn frames_measure_the_offset_and_the_first_ack_bounds_it() {
        let mut c = signed_core(JwtClock::Auto);
        assert_eq!(c.clock_estimate(), None);
        send_signed(&mut c, T);
        // The server is 3 s behind; the ack arrives 8 ms later, stamped 4 ms after sending.
        c.on_frame(&ack_at(0, T + 4 - 3_000, true), T + 8);
        let est = c.clock_estimate().unwrap();
        assert_eq!((est.offset_ms, est.samples), (3_004, 1));
        assert_eq!(est.error_ms, Some(9));
        c.on_frame(&heartbeat_at(1, T + 997 - 3_000), T + 1_000);
        let est = c.clock_estimate().unwrap();
        assert_eq!((est.offset_ms, est.samples), (3_003, 2));
        assert_eq!(c.view(&Default::default(), T).auth.clock, Some(est));
        // Now over 500 ms: auto signs with the server's time.
        assert_eq!(send_signed(&mut c, T + 1_500), Some((T - 1_503) / 1000));
        assert_eq!(
            c.auth().signed_with,
            Some(SignedWith::Server { offset_ms: 3_003 })
        );
    }

    #[test]
    fn a_refusal_with_nothing_measured_is_judged_after_a_timed_answer_and_retried_once() {
        let mut c = signed_core(JwtClock::Auto);
        send_signed(&mut c, T);
        assert_eq!(c.auth().signed_with, Some(SignedWith::Local));
        // Both signed subscribes refused, before any frame could be timed.
        let out = c.on_frame(REFUSED, T + 5);
        assert!(out.measure_clock && !out.fall_back_to_public && !out.retry_signed);
        assert!(c.measuring_clock());
        assert_eq!(c.jwt_nbf(T + 6), None, "nothing is signed while measuring");
        let out = c.on_frame(REFUSED, T + 6);
        assert_eq!(
            out,
            Outcome {
                parsed: true,
                ..Outcome::default()
            }
        );
        // The heartbeats subscribe (sent without a JWT) is answered: 3 s ahead, retry.
        c.subscribe_sent(T + 6, "heartbeats", "{}".into(), None);
        let out = c.on_frame(&ack_at(0, T + 8 - 3_000, false), T + 10);
        assert!(out.retry_signed && !out.fall_back_to_public);
        assert!(c.auth().clock_retried);
        assert!(!c.fell_back_to_public());
        assert!(
            events(&mut c).iter().any(
                |e| matches!(e, FeedEvent::ClockRetry { offset_ms, .. } if *offset_ms >= 3_000)
            )
        );
        // The retry is signed with the server's time...
        assert_eq!(send_signed(&mut c, T + 11), Some((T + 11 - 3_002) / 1000));
        // ...and a second refusal falls back: once only.
        let out = c.on_frame(REFUSED, T + 20);
        assert!(out.fall_back_to_public && !out.retry_signed && !out.measure_clock);
        assert!(c.fell_back_to_public());
    }

    #[test]
    fn a_refusal_the_clock_does_not_explain_falls_back() {
        let mut c = signed_core(JwtClock::Auto);
        send_signed(&mut c, T);
        c.on_frame(REFUSED, T + 5);
        c.subscribe_sent(T + 6, "heartbeats", "{}".into(), None);
        // In step with the server: the key is refused for another reason.
        let out = c.on_frame(&ack_at(0, T + 7, false), T + 8);
        assert!(out.fall_back_to_public && !out.retry_signed);
        assert!(c.fell_back_to_public());
        assert!(!c.auth().clock_retried);
    }

    #[test]
    fn local_falls_back_at_once_and_still_measures() {
        let mut c = signed_core(JwtClock::Local);
        c.on_frame(&heartbeat_at(0, T - 3_000), T + 2);
        send_signed(&mut c, T + 10);
        assert_eq!(c.auth().signed_with, Some(SignedWith::Local));
        let out = c.on_frame(REFUSED, T + 12);
        assert!(out.fall_back_to_public && !out.measure_clock);
        assert_eq!(c.clock_estimate().unwrap().offset_ms, 3_002);
    }

    #[test]
    fn a_connection_lost_while_measuring_falls_back() {
        let mut c = signed_core(JwtClock::Server);
        send_signed(&mut c, T);
        assert!(c.on_frame(REFUSED, T + 5).measure_clock);
        c.connection_lost(T + 6, "closed");
        assert!(c.fell_back_to_public());
        assert!(!c.measuring_clock());
    }

    #[test]
    fn a_refusal_is_judged_on_the_answer_not_on_the_first_timed_frame() {
        let mut c = signed_core(JwtClock::Auto);
        send_signed(&mut c, T + 10);
        assert!(c.on_frame(REFUSED, T + 30).measure_clock);
        // A timed frame that is not the answer (say, a heartbeat of an older subscription)
        // measures, but the refusal waits for the answer to the unsigned subscribe.
        c.subscribe_sent(T + 31, "heartbeats", "{}".into(), None);
        let out = c.on_frame(&heartbeat_at(0, T + 32 - 2_000), T + 33);
        assert!(!out.retry_signed && c.measuring_clock());
        // The second signed subscribe's refusal comes before the answer: not the retry's.
        assert!(!c.on_frame(REFUSED, T + 34).fall_back_to_public);
        let out = c.on_frame(&ack_at(1, T + 35 - 2_000, false), T + 36);
        assert!(out.retry_signed);
        assert_eq!(send_signed(&mut c, T + 40), Some((T + 40 - 2_001) / 1000));
    }
}
