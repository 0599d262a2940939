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
    /// The server refused `products` on this connection with `reason` and nothing is left to
    /// try (the sharded session split them down to one stream per connection and the server
    /// still refused: `too many L2 streams requested in a single session`). Marks them
    /// [`BookState::Refused`](crate::feed::events::BookState::Refused) with the server's words and
    /// reports `ProductRefused` for each, as a refusal by name does. Returns whether any was
    /// newly refused.
    pub fn mark_refused(&mut self, products: &[String], reason: &str, now_ms: i64) -> bool {
        use crate::feed::events::{BookState, FeedEvent};
        let mut any = false;
        for product in products {
            let Some(&i) = self.index.get(product) else {
                continue;
            };
            let book = &mut self.books[i];
            if book.state == BookState::Refused {
                continue;
            }
            book.state = BookState::Refused;
            book.refused = Some(reason.to_owned());
            book.book = crate::book::Book::new();
            any = true;
            self.events.push(FeedEvent::ProductRefused {
                at_ms: now_ms,
                product: product.clone(),
                reason: reason.to_owned(),
            });
        }
        if any {
            let active = self.active_products();
            self.auth.requested.insert("level2".to_owned(), active);
            self.dirty = true;
        }
        any
    }
}

impl FeedCore {
    /// Moves `other`'s pending events to the end of this core's (replay of a recording with
    /// several connections reports every connection's events through one core).
    pub fn take_events_from(&mut self, other: &mut FeedCore) {
        self.events.append(&mut other.events);
        self.dirty |= other.dirty;
    }
}
