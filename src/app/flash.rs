//! Levels that changed between two views, highlighted for a moment.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::feed::events::{BookState, LevelRow, ProductView};

/// How long a changed level stays highlighted.
pub const FLASH_MS: i64 = 400;

/// Which levels of one product flash, and until when.
#[derive(Debug, Clone, Default)]
pub struct Flashes {
    pub bids: HashMap<Decimal, i64>,
    pub asks: HashMap<Decimal, i64>,
}

impl Flashes {
    /// Marks the rows of `new` that differ from `old`. A book that was not live, a change of
    /// grouping, or rows that were not asked for on either side (a product not on screen, or
    /// just selected) mark nothing: the whole ladder would light up for no market reason.
    pub(crate) fn diff(&mut self, old: &ProductView, new: &ProductView, until_ms: i64) {
        if old.state != BookState::Live
            || new.state != BookState::Live
            || old.group_ticks != new.group_ticks
            || rows_withheld(old)
            || rows_withheld(new)
        {
            return;
        }
        mark(&mut self.bids, &old.bids, &new.bids, until_ms, |p, edge| {
            p >= edge
        });
        mark(&mut self.asks, &old.asks, &new.asks, until_ms, |p, edge| {
            p <= edge
        });
    }

    /// Forgets flashes that are over; true if any was.
    pub(crate) fn expire(&mut self, now_ms: i64) -> bool {
        let before = self.bids.len() + self.asks.len();
        self.bids.retain(|_, until| *until > now_ms);
        self.asks.retain(|_, until| *until > now_ms);
        before != self.bids.len() + self.asks.len()
    }

    /// When the first of these flashes ends (its row is drawn plain from then on).
    pub(crate) fn next_end_ms(&self) -> Option<i64> {
        self.bids.values().chain(self.asks.values()).copied().min()
    }

    pub fn is_lit(&self, bid: bool, price: &Decimal, now_ms: i64) -> bool {
        let map = if bid { &self.bids } else { &self.asks };
        map.get(price).is_some_and(|until| *until > now_ms)
    }
}

/// A book with levels but no rows: the viewer asked for rows of another product only.
pub(crate) fn rows_withheld(p: &ProductView) -> bool {
    p.bids.is_empty() && p.asks.is_empty() && (p.bid_levels > 0 || p.ask_levels > 0)
}

/// Marks rows whose size changed or that appeared, within the price range the old rows covered
/// (`inside(price, old_worst)`): a row that only scrolled into view is not a change.
fn mark(
    lit: &mut HashMap<Decimal, i64>,
    old: &[LevelRow],
    new: &[LevelRow],
    until_ms: i64,
    inside: impl Fn(Decimal, Decimal) -> bool,
) {
    let Some(worst) = old.last().map(|row| row.price) else {
        return;
    };
    let before: HashMap<Decimal, Decimal> = old.iter().map(|r| (r.price, r.size)).collect();
    for row in new {
        if inside(row.price, worst) && before.get(&row.price) != Some(&row.size) {
            lit.insert(row.price, until_ms);
        }
    }
}
