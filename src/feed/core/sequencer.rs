//! Sequence checks (docs/feed.md, "Integrity rules"): `sequence_num` is one counter per
//! connection, from 0, and every enveloped frame must carry the previous number + 1. A jump is a
//! gap (frames were lost: resync); a number at or below the last one is a stale or duplicate
//! frame (ignored, not a gap). [`Sequencer`] holds the rule and nothing else, so it is tested on
//! numbers alone; [`FeedCore::check_envelope`] turns its answers into counters, events and a
//! resync.
//!
//! A frame the parser refuses still counts when its `sequence_num` can be read (it used that
//! number up on the server's counter; its possible book data makes it a bad frame, not a gap);
//! one whose number cannot be read counts for nothing, and the next frame's number decides
//! whether anything was lost (`FeedCore::refused_frame`).

use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::FeedEvent;

/// What a frame's `sequence_num` means on the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// The number expected (0 for a connection's first frame).
    InOrder,
    /// Higher than expected: frames in between were lost.
    Gap { expected: u64 },
    /// At or below the last number: a duplicate or an older frame, to be ignored.
    Stale,
}

/// The last `sequence_num` of one connection.
#[derive(Debug, Clone, Default)]
pub struct Sequencer {
    last: Option<u64>,
    /// Bare-frame replay: a `sequence_num` of 0 after higher ones starts a new connection (such
    /// files carry no connection markers, docs/recording.md).
    restart_on_zero: bool,
    /// The next number is taken as it comes (a connection going on from a previous file of a
    /// rotated recording).
    take_next: bool,
}

impl Sequencer {
    /// A new connection: the next frame must be 0.
    pub fn reset(&mut self) {
        self.last = None;
        self.take_next = false;
    }

    /// A connection whose numbering started before what is being read: its next number, whatever
    /// it is, is in order.
    pub fn take_next_as_it_comes(&mut self) {
        self.last = None;
        self.take_next = true;
    }

    pub fn set_restart_on_zero(&mut self, on: bool) {
        self.restart_on_zero = on;
    }

    /// The last number accepted on this connection.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// With [`Sequencer::set_restart_on_zero`], whether `seq` starts a new connection (a 0
    /// after higher numbers). The caller starts the connection (which [`Sequencer::reset`]s)
    /// before [`Sequencer::check`]ing `seq`.
    pub fn starts_new_connection(&self, seq: u64) -> bool {
        self.restart_on_zero && seq == 0 && self.last.is_some_and(|last| last > 0)
    }

    /// Checks `seq` and, unless it is stale, makes it the last number. After a gap the count goes
    /// on from `seq`: the frames after it are expected to follow it.
    pub fn check(&mut self, seq: u64) -> SequenceCheck {
        // Saturating: a corrupted number can be u64::MAX, and nothing can follow it.
        if std::mem::take(&mut self.take_next) {
            self.last = Some(seq);
            return SequenceCheck::InOrder;
        }
        let expected = self.last.map_or(0, |last| last.saturating_add(1));
        if self.last.is_some() && seq < expected {
            return SequenceCheck::Stale;
        }
        self.last = Some(seq);
        if seq == expected {
            SequenceCheck::InOrder
        } else {
            SequenceCheck::Gap { expected }
        }
    }
}

impl FeedCore {
    /// The sequence and latency checks of an enveloped frame. `None` when the frame is stale (to
    /// be ignored), else its sequence number (0 when it has none).
    pub(super) fn check_envelope(
        &mut self,
        (sequence_num, timestamp): (Option<u64>, Option<&[u8]>),
        now_ms: i64,
        outcome: &mut Outcome,
    ) -> Option<u64> {
        let Some(seq) = sequence_num else {
            self.note_latency(timestamp, now_ms);
            return Some(0);
        };
        if self.sequencer.starts_new_connection(seq) {
            self.replayed_reconnect();
            let authenticated = self.authenticated;
            self.connection_started(now_ms, authenticated);
        }
        match self.sequencer.check(seq) {
            SequenceCheck::InOrder => {}
            SequenceCheck::Gap { expected } => {
                self.stats.gaps += 1;
                self.emit(FeedEvent::Gap {
                    at_ms: now_ms,
                    expected,
                    got: seq,
                });
                self.resync(now_ms);
                outcome.resync = true;
            }
            SequenceCheck::Stale => {
                self.stats.stale_frames += 1;
                return None;
            }
        }
        self.stats.last_sequence_num = Some(seq);
        self.note_latency(timestamp, now_ms);
        Some(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;
    use crate::feed::events::BookState;

    #[test]
    fn a_connection_counts_from_zero_one_by_one() {
        let mut s = Sequencer::default();
        assert_eq!(s.last(), None);
        assert_eq!(s.check(0), SequenceCheck::InOrder);
        assert_eq!(s.check(1), SequenceCheck::InOrder);
        assert_eq!(s.check(2), SequenceCheck::InOrder);
        assert_eq!(s.last(), Some(2));
    }

    #[test]
    fn a_first_frame_above_zero_is_a_gap() {
        let mut s = Sequencer::default();
        assert_eq!(s.check(3), SequenceCheck::Gap { expected: 0 });
        assert_eq!(s.check(4), SequenceCheck::InOrder);
    }

    #[test]
    fn a_jump_is_a_gap_and_the_count_goes_on_from_it() {
        let mut s = Sequencer::default();
        s.check(0);
        s.check(1);
        assert_eq!(s.check(5), SequenceCheck::Gap { expected: 2 });
        assert_eq!(s.last(), Some(5));
        assert_eq!(s.check(6), SequenceCheck::InOrder);
        // The frames skipped, arriving late, are stale, not a second gap.
        assert_eq!(s.check(3), SequenceCheck::Stale);
        assert_eq!(s.last(), Some(6));
    }

    #[test]
    fn duplicates_and_older_numbers_are_stale_and_change_nothing() {
        let mut s = Sequencer::default();
        s.check(0);
        s.check(1);
        assert_eq!(s.check(1), SequenceCheck::Stale);
        assert_eq!(s.check(0), SequenceCheck::Stale);
        assert_eq!(s.last(), Some(1));
        assert_eq!(s.check(2), SequenceCheck::InOrder);
    }

    #[test]
    fn a_number_from_the_far_future_makes_every_later_one_stale() {
        // Why the live client reconnects when resubscribing does not help (docs/feed.md).
        let mut s = Sequencer::default();
        s.check(0);
        assert_eq!(s.check(u64::MAX), SequenceCheck::Gap { expected: 1 });
        for seq in [2, 3, 1000] {
            assert_eq!(s.check(seq), SequenceCheck::Stale);
        }
        s.reset();
        assert_eq!(s.check(0), SequenceCheck::InOrder);
    }

    #[test]
    fn reset_starts_a_connection_again_at_zero() {
        let mut s = Sequencer::default();
        s.check(0);
        s.check(1);
        s.reset();
        assert_eq!(s.last(), None);
        assert_eq!(s.check(0), SequenceCheck::InOrder);
    }

    #[test]
    fn zero_starts_a_new_connection_only_in_bare_frame_replay() {
        let mut s = Sequencer::default();
        s.check(0);
        s.check(1);
        assert!(!s.starts_new_connection(0));
        s.set_restart_on_zero(true);
        assert!(s.starts_new_connection(0));
        assert!(!s.starts_new_connection(2));
        // A 0 right after a 0 (or as the first frame) is no restart.
        let mut fresh = Sequencer::default();
        fresh.set_restart_on_zero(true);
        assert!(!fresh.starts_new_connection(0));
        fresh.check(0);
        assert!(!fresh.starts_new_connection(0));
    }

    #[test]
    fn a_sequence_jump_desyncs_every_book_and_asks_for_a_resync() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "snapshot", "ETH-USD", &[("bid", "10", "1")]), 1);
        events(&mut c);
        let out = c.on_frame(&heartbeat(5), 2);
        assert!(out.resync);
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert_eq!(state(&c, "ETH-USD"), BookState::Desynced);
        assert_eq!((c.stats().gaps, c.stats().resyncs), (1, 1));
        let ev = events(&mut c);
        assert!(
            matches!(
                ev[0],
                FeedEvent::Gap {
                    expected: 2,
                    got: 5,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(matches!(ev[1], FeedEvent::Resync { .. }), "{ev:?}");
        // Fresh snapshots bring each book back.
        c.on_frame(&l2(6, "snapshot", "BTC-USD", &[("bid", "101", "1")]), 3);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert_eq!(state(&c, "ETH-USD"), BookState::Desynced);
        assert!(c.any_desynced());
        assert_eq!(c.stats().gaps, 1);
    }

    #[test]
    fn the_first_frame_of_a_connection_must_be_zero() {
        let mut c = core();
        assert!(c.on_frame(&heartbeat(3), 1).resync);
        assert_eq!(c.stats().gaps, 1);
    }

    #[test]
    fn lower_and_repeated_numbers_are_ignored() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "100", "2")]), 1);
        // A duplicate of frame 1 and an older frame: neither applies.
        let out = c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "100", "7")]), 1);
        c.on_frame(&l2(0, "update", "BTC-USD", &[("bid", "100", "8")]), 1);
        assert_eq!(
            out,
            Outcome {
                parsed: true,
                ..Outcome::default()
            }
        );
        assert_eq!(dump(&c, "BTC-USD").0, [pair("100", "2")]);
        assert_eq!(c.stats().stale_frames, 2);
        assert_eq!(c.stats().gaps, 0);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        // The sequence goes on from the highest number seen.
        assert!(!c.on_frame(&heartbeat(2), 1).resync);
    }

    #[test]
    fn a_new_connection_restarts_at_zero_and_waits_for_snapshots() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&heartbeat(1), 1);
        c.connection_lost(2, "closed");
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        c.connection_started(3, false);
        assert!(!c.on_frame(&heartbeat(0), 4).resync);
        assert_eq!(c.stats().gaps, 0);
        // The old book is kept (shown as desynced) until the new snapshot replaces it.
        assert_eq!(dump(&c, "BTC-USD").0, [pair("100", "1")]);
        c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "200", "1")]), 5);
        assert_eq!(dump(&c, "BTC-USD").0, [pair("200", "1")]);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
    }

    /// An `l2_data` frame with an unknown event type, and one with an unknown side.
    fn refused_l2(seq: u64) -> [String; 2] {
        [
            format!(
                r#"{{"channel":"l2_data","sequence_num":{seq},"events":[{{"type":"delta","product_id":"BTC-USD","updates":[]}}]}}"#
            ),
            l2(seq, "update", "BTC-USD", &[("ask", "101", "1")]),
        ]
    }

    #[test]
    fn a_refused_frame_with_a_readable_number_uses_it_up_and_resyncs_as_a_bad_frame() {
        for frame in refused_l2(1) {
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            events(&mut c);
            let out = c.on_frame(&frame, 2);
            // It may have carried BTC-USD's data: a resync, as for any bad book data.
            assert!(out.resync, "{frame}");
            assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
            assert_eq!(c.stats().last_sequence_num, Some(1));
            // Its number was used: the next frame follows it, no gap and no second resync.
            assert!(!c.on_frame(&heartbeat(2), 3).resync, "{frame}");
            let s = c.stats();
            assert_eq!((s.bad_frames, s.gaps, s.resyncs), (1, 0, 1), "{frame}");
            let ev = events(&mut c);
            assert!(
                !ev.iter().any(|e| matches!(e, FeedEvent::Gap { .. })),
                "{ev:?}"
            );
            assert!(matches!(ev[0], FeedEvent::BadFrame { .. }), "{ev:?}");
            assert!(matches!(ev[1], FeedEvent::Resync { .. }), "{ev:?}");
        }
    }

    #[test]
    fn a_refused_frame_after_a_jump_is_one_gap_and_one_resync() {
        for frame in refused_l2(5) {
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            assert!(c.on_frame(&frame, 2).resync);
            assert!(!c.on_frame(&heartbeat(6), 3).resync);
            let s = c.stats();
            assert_eq!((s.bad_frames, s.gaps, s.resyncs), (1, 1, 1), "{frame}");
        }
    }

    #[test]
    fn a_refused_frame_with_an_old_number_is_stale_and_resyncs_nothing() {
        for frame in refused_l2(0) {
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            c.on_frame(&heartbeat(1), 1);
            assert!(!c.on_frame(&frame, 2).resync);
            assert!(!c.on_frame(&heartbeat(2), 3).resync);
            let s = c.stats();
            assert_eq!(
                (s.bad_frames, s.stale_frames, s.gaps, s.resyncs),
                (1, 1, 0, 0)
            );
            assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        }
    }

    #[test]
    fn a_frame_without_a_readable_number_counts_for_nothing_and_the_next_number_decides() {
        let unreadable = [
            "garbage that mentions l2_data",
            r#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"upd"#,
            r#"{"channel":"l2_data","sequence_num":"1","events":[]}"#,
        ];
        for frame in unreadable {
            // Nothing numbered was lost: the books stay live.
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            assert!(!c.on_frame(frame, 2).resync, "{frame}");
            assert!(
                !c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "99", "2")]), 3)
                    .resync
            );
            let s = c.stats();
            assert_eq!((s.bad_frames, s.gaps, s.resyncs), (1, 0, 0), "{frame}");
            assert_eq!(state(&c, "BTC-USD"), BookState::Live, "{frame}");
            assert_eq!(dump(&c, "BTC-USD").0, [pair("100", "1"), pair("99", "2")]);
            // It took the place of a numbered frame: the next number shows the loss.
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            c.on_frame(frame, 2);
            assert!(c.on_frame(&heartbeat(2), 3).resync, "{frame}");
            assert_eq!((c.stats().gaps, c.stats().resyncs), (1, 1), "{frame}");
        }
    }

    #[test]
    fn a_garbage_line_in_bare_frame_replay_leaves_the_books_alone() {
        let mut c = FeedCore::new("replay", &[], false, 0);
        c.set_auto_products(true);
        c.set_restart_on_zero(true);
        c.connection_started(0, false);
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "snapshot", "ETH-USD", &[("bid", "10", "1")]), 1);
        c.on_frame_bytes(br#"{"channel":"l2_data","sequence_num":2,"ev"#, 2);
        c.on_frame_bytes(b"\x00\xffl2_data", 2);
        c.on_frame(&l2(2, "update", "BTC-USD", &[("bid", "101", "1")]), 3);
        c.on_frame(&heartbeat(3), 4);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert_eq!(state(&c, "ETH-USD"), BookState::Live);
        let s = c.stats();
        assert_eq!((s.bad_frames, s.gaps, s.resyncs), (2, 0, 0));
    }

    #[test]
    fn bare_frame_replay_treats_zero_as_a_new_connection() {
        let mut c = core();
        c.set_restart_on_zero(true);
        c.on_frame(&heartbeat(0), 1);
        c.on_frame(&heartbeat(1), 1);
        assert!(!c.on_frame(&heartbeat(0), 1).resync);
        assert_eq!(
            (c.stats().gaps, c.stats().stale_frames, c.stats().reconnects),
            (0, 0, 1)
        );
    }
}
