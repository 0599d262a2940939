//! What the core applied, level by level and trade by trade, for `cbbook export`
//! (docs/export.md): off unless asked for, so live runs and replay pay one branch per event.

use crate::book::{Price, Side, Size};
use crate::feed::core::FeedCore;
use crate::feed::events::TradeRow;
use crate::feed::protocol::L2Kind;

/// One thing the core did to a book, in the order it did it.
#[derive(Debug, Clone, PartialEq)]
pub enum Tapped {
    /// A level of an `l2_data` event applied to book `book` (an index into
    /// [`FeedCore::products`]: the product as asked for, aliases resolved). Events the core did
    /// not apply (an update for a book waiting for its snapshot, a refused product, an event with
    /// a level the book refused) give none.
    Level {
        book: usize,
        kind: L2Kind,
        side: Side,
        price: Price,
        size: Size,
        sequence_num: u64,
    },
    /// A trade new to book `book`'s tape (each trade id once per product, as the feed keeps them).
    Trade { book: usize, row: TradeRow },
}

impl FeedCore {
    /// Starts (or stops) keeping what is applied, for [`FeedCore::take_tapped`].
    pub fn set_tap(&mut self, on: bool) {
        self.tap = on.then(Vec::new);
    }

    /// What was applied since the last call, oldest first.
    pub fn take_tapped(&mut self, into: &mut Vec<Tapped>) {
        if let Some(tap) = self.tap.as_mut() {
            into.append(tap);
        }
    }
}
