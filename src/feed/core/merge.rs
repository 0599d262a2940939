//! Hook for the sharded session (`feed/session.rs`): the cores of several connections become one
//! at the end of a run, so that `--dump-book`, `--stats` and the callers of
//! `client::start` see the whole session in one [`FeedCore`]. Additive only: nothing else in the
//! core depends on it.

use crate::feed::core::FeedCore;

impl FeedCore {
    /// Takes in `other`'s books (a product already here is replaced by `other`'s book unless
    /// `other`'s never got anything; the caller passes cores oldest first), adds its
    /// counters (through `add_stats`), its latency histograms and its pending events.
    pub fn absorb(
        &mut self,
        other: FeedCore,
        add_stats: impl FnOnce(&mut crate::feed::events::FeedStats, &crate::feed::events::FeedStats),
    ) {
        self.clock_absorb(&other);
        self.auth.fell_back_to_public |= other.auth.fell_back_to_public;
        self.auth.clock_retried |= other.auth.clock_retried;
        let FeedCore {
            products,
            books,
            stats,
            mut events,
            apply_us,
            server_to_received_ms,
            ..
        } = other;
        for (name, book) in products.into_iter().zip(books) {
            // A book that never got anything (asked for, but carried by another connection)
            // does not replace one here.
            let untouched = book.state == crate::feed::events::BookState::Waiting
                && book.last_change_ms.is_none();
            if untouched && self.index.contains_key(&name) {
                continue;
            }
            let i = self.add_product(&name);
            self.books[i] = book;
        }
        add_stats(&mut self.stats, &stats);
        self.apply_us.merge(&apply_us);
        self.server_to_received_ms.merge(&server_to_received_ms);
        self.events.append(&mut events);
        self.dirty = true;
    }
}

impl FeedCore {
    /// Moves `other`'s pending events to the end of this core's, and its change mark (replay of
    /// a recording with several connections reports every connection's events and changes
    /// through one core).
    pub fn take_events_from(&mut self, other: &mut FeedCore) {
        self.events.append(&mut other.events);
        self.dirty |= std::mem::take(&mut other.dirty);
    }
}
