//! The offset between this machine's clock and the server's, measured from the frames that
//! arrive (docs/feed.md, "Clock offset"). Sans-IO: receive times and envelope timestamps in,
//! an estimate out.
//!
//! Every enveloped frame carries the server's `timestamp`, stamped before the frame left the
//! server. With θ = this machine's clock minus the server's and d ≥ 0 the frame's one-way delay
//! (network, queues, our reading), `received - timestamp = θ + d`. So each frame gives an upper
//! bound of θ, and the smallest over a window is `θ + d_min`: the estimate is the offset plus the
//! smallest one-way delay seen, never below the true offset (a JWT signed with
//! `nbf = now - estimate` is never in the server's future). Late frames (a burst after a stall,
//! a queue backing up) only add delay, so they never move the minimum.
//!
//! A lower bound comes from a request and its answer: a `subscriptions` ack was stamped after the
//! subscribe it answers was sent, so `θ >= sent - timestamp`. With both, the true offset lies in
//! `[lower, estimate]`, and `error_ms = estimate - lower` (about one round trip). Without an
//! answer in the window the error is unknown.
//!
//! Samples needed: one frame gives a bound; on a quiet link the first few frames are within a
//! few milliseconds of the best, and heartbeats alone (one a second) settle it in about 5 s on a
//! jittery one. Timestamps are read to the millisecond, so the estimate carries ±1 ms of
//! rounding on top.
//!
//! The window slides: samples are kept as the minimum of each second of receive time, for
//! [`WINDOW_SECS`] seconds, so a server clock that steps back is followed within a window, and
//! memory is fixed whatever the frame rate. A step of this machine's clock (NTP, a VM resuming)
//! is seen by comparing the wall clock with the monotonic one ([`ClockEstimator::local_clock`]),
//! or a receive time that goes back by more than a second: the window is emptied, since every
//! sample in it measured the old clock.

use std::collections::VecDeque;

use serde::Serialize;

/// Seconds of receive time the estimate looks back over.
pub const WINDOW_SECS: i64 = 60;
/// A change of wall minus monotonic time larger than this is a step of this machine's clock.
const STEP_MS: i64 = 250;
/// A receive time in a second this many before the newest sample's is a step back of the
/// clock (frames are read in order, so receive times only go back when the clock does).
const BACK_STEP_SECS: i64 = 1;

/// What the frames say about this machine's clock against the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockEstimate {
    /// This machine's clock minus the server's, in milliseconds (positive: this machine is
    /// ahead): the smallest `received - timestamp` in the window.
    pub offset_ms: i64,
    /// Frames behind it (those in the window).
    pub samples: u64,
    /// How far below `offset_ms` the true offset may be (it cannot be above), when an answer to
    /// a subscribe bounds it; `None` when nothing does.
    pub error_ms: Option<i64>,
}

impl ClockEstimate {
    /// The stronger of two estimates of the same two clocks (from two connections): the smaller
    /// upper bound, the samples of both, and the error that bound still has against the higher
    /// of the two lower bounds.
    pub fn combine(self, other: ClockEstimate) -> ClockEstimate {
        let lower = |e: ClockEstimate| e.error_ms.map(|err| e.offset_ms - err);
        let offset_ms = self.offset_ms.min(other.offset_ms);
        let lower = match (lower(self), lower(other)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        ClockEstimate {
            offset_ms,
            samples: self.samples.saturating_add(other.samples),
            error_ms: lower.map(|l| offset_ms.saturating_sub(l).max(0)),
        }
    }
}

/// One second of receive time.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    second: i64,
    /// Smallest `received - timestamp`.
    upper: Option<i64>,
    /// Largest `sent - timestamp` of an answer.
    lower: Option<i64>,
    samples: u64,
}

/// The sliding-window estimator (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ClockEstimator {
    buckets: VecDeque<Bucket>,
    /// Wall minus monotonic milliseconds at the last reading.
    local_base: Option<i64>,
    /// Steps of this machine's clock seen.
    steps: u64,
}

impl ClockEstimator {
    /// A frame received at `received_ms` (this machine) stamped `server_ms` (the server).
    #[inline]
    pub fn sample(&mut self, received_ms: i64, server_ms: i64) {
        let value = received_ms.saturating_sub(server_ms);
        let bucket = self.bucket(received_ms);
        bucket.upper = Some(bucket.upper.map_or(value, |u| u.min(value)));
        bucket.samples += 1;
    }

    /// An answer stamped `server_ms` to a request sent at `sent_ms` (this machine), received at
    /// `received_ms`: a lower bound, besides the upper one of its [`ClockEstimator::sample`]
    /// (given separately: every frame is sampled). The timestamp is read to the millisecond
    /// (rounded down), hence the one taken off.
    pub fn answer(&mut self, sent_ms: i64, received_ms: i64, server_ms: i64) {
        let value = sent_ms.saturating_sub(server_ms).saturating_sub(1);
        let bucket = self.bucket(received_ms);
        bucket.lower = Some(bucket.lower.map_or(value, |l| l.max(value)));
    }

    /// A reading of both local clocks (wall and monotonic, in milliseconds): when their
    /// difference moved, the wall clock stepped and the window is emptied. Returns whether it did.
    pub fn local_clock(&mut self, wall_ms: i64, monotonic_ms: i64) -> bool {
        let base = wall_ms.saturating_sub(monotonic_ms);
        let stepped = self
            .local_base
            .is_some_and(|old| old.abs_diff(base) > STEP_MS.unsigned_abs());
        self.local_base = Some(base);
        if stepped {
            self.reset();
        }
        stepped
    }

    /// Forgets every sample (this machine's clock stepped).
    pub fn reset(&mut self) {
        self.buckets.clear();
        self.steps += 1;
    }

    /// Steps of this machine's clock seen so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The estimate over the window, once a frame has been timed.
    pub fn estimate(&self) -> Option<ClockEstimate> {
        let offset_ms = self.buckets.iter().filter_map(|b| b.upper).min()?;
        let samples = self.buckets.iter().map(|b| b.samples).sum();
        let lower = self.buckets.iter().filter_map(|b| b.lower).max();
        Some(ClockEstimate {
            offset_ms,
            samples,
            error_ms: lower.map(|l| offset_ms.saturating_sub(l).max(0)),
        })
    }

    /// The bucket of `received_ms`, after sliding the window to it.
    fn bucket(&mut self, received_ms: i64) -> &mut Bucket {
        let second = received_ms.div_euclid(1000);
        let newest = self.buckets.back().map(|b| b.second);
        // This machine's clock went back: the window measured the old one.
        if newest.is_some_and(|n| second < n.saturating_sub(BACK_STEP_SECS)) {
            self.reset();
        }
        let newest = self.buckets.back().map(|b| b.second);
        if newest.is_none_or(|n| second > n) {
            self.buckets.push_back(Bucket {
                second,
                upper: None,
                lower: None,
                samples: 0,
            });
            while self
                .buckets
                .front()
                .is_some_and(|b| b.second <= second.saturating_sub(WINDOW_SECS))
            {
                self.buckets.pop_front();
            }
        }
        // Within a second back (receive times are not strictly ordered across threads): the
        // newest bucket takes it.
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Frames sent every `every_ms` from `from_ms`, one per delay, by a server `offset` behind.
    /// A frame is read after the one before it (a stream keeps its order), so its receive time
    /// is at least the previous one's. Returns the next send time and the receive times.
    fn feed_received(
        e: &mut ClockEstimator,
        from_ms: i64,
        every_ms: i64,
        offset: i64,
        delays: impl IntoIterator<Item = i64>,
    ) -> (i64, Vec<(i64, i64)>) {
        let mut t = from_ms;
        let mut received = Vec::new();
        let mut last = i64::MIN;
        for delay in delays {
            // Sent by the server at local time t (its clock reads t - offset), received later.
            last = last.max(t + delay);
            e.sample(last, t - offset);
            received.push((last, last - t));
            t += every_ms;
        }
        (t, received)
    }

    fn feed(
        e: &mut ClockEstimator,
        from_ms: i64,
        every_ms: i64,
        offset: i64,
        delays: impl IntoIterator<Item = i64>,
    ) -> i64 {
        feed_received(e, from_ms, every_ms, offset, delays).0
    }

    #[test]
    fn nothing_measured_is_no_estimate() {
        assert_eq!(ClockEstimator::default().estimate(), None);
    }

    #[test]
    fn jitter_leaves_the_offset_plus_the_smallest_delay() {
        let mut e = ClockEstimator::default();
        let delays = [40, 12, 95, 7, 33, 60, 8, 250, 15, 9];
        feed(&mut e, 1_000_000, 100, 3_000, delays);
        let est = e.estimate().unwrap();
        assert_eq!(est.offset_ms, 3_007);
        assert_eq!(est.samples, 10);
        assert_eq!(est.error_ms, None);
    }

    #[test]
    fn a_late_burst_does_not_move_the_estimate() {
        let mut e = ClockEstimator::default();
        let t = feed(&mut e, 1_000_000, 200, -2_000, [5; 20]);
        // A stall: 300 frames arrive together, up to 4 s late.
        for i in 0..300 {
            e.sample(t + 4_000, t + i * 10 + 2_000);
        }
        assert_eq!(e.estimate().unwrap().offset_ms, -1_995);
    }

    #[test]
    fn an_answer_bounds_the_error() {
        let mut e = ClockEstimator::default();
        // Sent at 1000, stamped by a server 3 s behind at local 1004, received at 1010.
        e.sample(1_000_010, 1_000_004 - 3_000);
        e.answer(1_000_000, 1_000_010, 1_000_004 - 3_000);
        let est = e.estimate().unwrap();
        assert_eq!(est.offset_ms, 3_006);
        // The truth (3000) lies in [offset - error, offset].
        assert_eq!(est.error_ms, Some(11));
    }

    #[test]
    fn a_server_clock_step_back_is_followed_within_a_window() {
        let mut e = ClockEstimator::default();
        let t = feed(&mut e, 1_000_000, 500, 0, [3; 20]);
        assert_eq!(e.estimate().unwrap().offset_ms, 3);
        // The server's clock steps back 2 s: this machine is now 2 s ahead of it. The old
        // minimum holds until it leaves the window...
        let t = feed(&mut e, t, 500, 2_000, [3; 20]);
        assert_eq!(e.estimate().unwrap().offset_ms, 3);
        // ...a window later, only the new clock is left.
        feed(&mut e, t, 500, 2_000, [3; 2 * WINDOW_SECS as usize]);
        assert_eq!(e.estimate().unwrap().offset_ms, 2_003);
        // A step forward of the server is followed at once (a smaller minimum).
        let mut e = ClockEstimator::default();
        let t = feed(&mut e, 1_000_000, 500, 2_000, [3; 20]);
        feed(&mut e, t, 500, 0, [3; 2]);
        assert_eq!(e.estimate().unwrap().offset_ms, 3);
    }

    #[test]
    fn a_step_of_this_machines_clock_empties_the_window() {
        let mut e = ClockEstimator::default();
        assert!(!e.local_clock(1_000_000, 0));
        let t = feed(&mut e, 1_000_000, 100, 0, [4; 10]);
        assert!(!e.local_clock(t + 20, t - 1_000_000 + 20 + 3));
        // The wall clock jumps 3 s forward, the monotonic one does not.
        assert!(e.local_clock(t + 3_000, t - 1_000_000 + 30));
        assert_eq!(e.estimate(), None);
        assert_eq!(e.steps(), 1);
        feed(&mut e, t + 3_000, 100, 3_000, [4; 3]);
        assert_eq!(e.estimate().unwrap().offset_ms, 3_004);
        // A receive time far before the newest one: a step back, also forgotten.
        e.sample(t - 10_000, t - 10_000 - 50);
        assert_eq!(e.estimate().unwrap().offset_ms, 50);
        assert_eq!(e.estimate().unwrap().samples, 1);
    }

    #[test]
    fn estimates_of_two_connections_combine() {
        let a = ClockEstimate {
            offset_ms: 3_010,
            samples: 4,
            error_ms: Some(20),
        };
        let b = ClockEstimate {
            offset_ms: 3_004,
            samples: 2,
            error_ms: None,
        };
        let both = a.combine(b);
        assert_eq!(both.offset_ms, 3_004);
        assert_eq!(both.samples, 6);
        // Lower bound 2990 from a: the truth is in [2990, 3004].
        assert_eq!(both.error_ms, Some(14));
        assert_eq!(b.combine(a), both);
    }

    proptest! {
        /// Whatever the delays, the estimate is the offset plus the smallest delay in the
        /// window, and with an answer the truth lies within the error.
        #[test]
        fn the_estimate_bounds_the_true_offset(
            offset in -200_000i64..200_000,
            delays in prop::collection::vec(0i64..5_000, 1..200),
            every in 1i64..2_000,
            answer_delay in (0i64..50, 0i64..50),
        ) {
            let mut e = ClockEstimator::default();
            let start = 1_700_000_000_000;
            let (end, received) = feed_received(&mut e, start, every, offset, delays);
            let newest = received.iter().map(|(r, _)| r.div_euclid(1000)).max().unwrap();
            let smallest = received
                .iter()
                .filter(|(r, _)| r.div_euclid(1000) > newest - WINDOW_SECS)
                .map(|&(_, d)| d)
                .min()
                .unwrap();
            let est = e.estimate().unwrap();
            prop_assert_eq!(est.offset_ms, offset + smallest);
            // A subscribe sent after the last frame and answered: the truth is within the
            // error below the estimate.
            let sent = end.max(received.last().unwrap().0);
            let (up, down) = answer_delay;
            e.sample(sent + up + down, sent + up - offset);
            e.answer(sent, sent + up + down, sent + up - offset);
            let est = e.estimate().unwrap();
            let err = est.error_ms.unwrap();
            prop_assert!(est.offset_ms - err <= offset && offset <= est.offset_ms);
            prop_assert!(err <= up + down + 1);
        }
    }
}
