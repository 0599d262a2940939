//! Messages/s and updates/s, from differences of the feed's counters over about a second.
//!
//! Updates/s is market activity: the level changes of `l2update` events. Snapshot levels (a whole
//! book at once, on every subscribe and resync) are left out, or each resync would read as a
//! burst of tens of thousands of updates.

use std::collections::{HashMap, VecDeque};

use crate::feed::events::{BookState, FeedStats, FeedView};

/// Window over which rates are measured.
const RATE_WINDOW_MS: i64 = 1_000;

/// Messages/s and updates/s from differences of the feed's counters.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    /// (local time, frames, updates without snapshot levels), oldest first, a few seconds' worth.
    samples: VecDeque<(i64, u64, u64)>,
}

impl Rates {
    pub(crate) fn push(&mut self, now_ms: i64, stats: &FeedStats) {
        self.samples
            .push_back((now_ms, stats.frames, market_updates(stats)));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| s.0 <= now_ms - RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// (messages/s, updates/s) as of `now_ms`; None until there is enough history.
    pub fn per_second(&self, now_ms: i64) -> Option<(f64, f64)> {
        let newest = self.samples.back()?;
        // The newest sample at least a window old is the base; without one, the oldest.
        let base = self
            .samples
            .iter()
            .rev()
            .find(|s| s.0 <= now_ms - RATE_WINDOW_MS)
            .or(self.samples.front())?;
        let span = now_ms - base.0;
        if span < RATE_WINDOW_MS / 4 || (base == newest && span < RATE_WINDOW_MS) {
            return None;
        }
        let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 * 1000.0 / span as f64;
        Some((per_sec(newest.1, base.1), per_sec(newest.2, base.2)))
    }
}

/// Updates/s per product (the watchlist's column), from differences of each product's
/// `updates` over about a second.
///
/// A product's counter includes the levels of its snapshots, which the view does not count
/// apart per product. So a product's history starts afresh whenever a snapshot may lie between
/// two samples: while its book is not live (waiting, resyncing: the snapshot that ends it is
/// counted), and for every product when the session's resyncs or reconnects move. A rate is
/// therefore only ever the difference between two live samples with no resync between them.
#[derive(Debug, Clone, Default)]
pub struct ProductRates {
    /// Per product: (local time, updates), oldest first.
    samples: HashMap<String, VecDeque<(i64, u64)>>,
    /// (resyncs, reconnects) of the last view.
    resets: Option<(u64, u64)>,
}

impl ProductRates {
    pub(crate) fn push(&mut self, now_ms: i64, view: &FeedView) {
        let resets = (view.stats.resyncs, view.stats.reconnects);
        if self.resets.is_some_and(|r| r != resets) {
            self.samples.clear();
        }
        self.resets = Some(resets);
        if self.samples.len() > view.products.len() * 2 {
            self.samples
                .retain(|name, _| view.products.iter().any(|p| &p.product == name));
        }
        for product in &view.products {
            let samples = self.samples.entry(product.product.clone()).or_default();
            if product.state != BookState::Live {
                samples.clear();
                continue;
            }
            samples.push_back((now_ms, product.updates));
            while samples.len() > 2
                && samples
                    .get(1)
                    .is_some_and(|s| s.0 <= now_ms - RATE_WINDOW_MS)
            {
                samples.pop_front();
            }
        }
    }

    /// A product's updates/s as of `now_ms`; None until it has about a second of live history.
    pub fn per_second(&self, product: &str, now_ms: i64) -> Option<f64> {
        let samples = self.samples.get(product)?;
        let newest = samples.back()?;
        let base = samples
            .iter()
            .rev()
            .find(|s| s.0 <= now_ms - RATE_WINDOW_MS)
            .or(samples.front())?;
        let span = now_ms - base.0;
        if span < RATE_WINDOW_MS / 4 || (base == newest && span < RATE_WINDOW_MS) {
            return None;
        }
        Some(newest.1.saturating_sub(base.1) as f64 * 1000.0 / span as f64)
    }
}

/// Level updates that were market activity: all of them but the snapshots' levels.
fn market_updates(stats: &FeedStats) -> u64 {
    stats.updates.saturating_sub(stats.snapshot_levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_levels_are_not_updates_per_second() {
        let stats = |updates, snapshot_levels| FeedStats {
            frames: updates,
            updates,
            snapshot_levels,
            ..FeedStats::default()
        };
        let mut rates = Rates::default();
        rates.push(0, &stats(0, 0));
        // 150 updates in the second, and a resync's 20,000-level snapshot.
        rates.push(1_000, &stats(20_150, 20_000));
        let (_, updates) = rates.per_second(1_000).unwrap();
        assert_eq!(updates, 150.0);
    }

    fn view(products: &[(&str, BookState, u64)], resyncs: u64) -> FeedView {
        FeedView {
            at_ms: 0,
            endpoint: String::new(),
            connection: crate::feed::events::ConnectionState::Subscribed,
            connections: Vec::new(),
            products: products
                .iter()
                .map(|(name, state, updates)| crate::feed::events::ProductView {
                    product: (*name).to_string(),
                    served_as: None,
                    state: *state,
                    bids: Vec::new(),
                    asks: Vec::new(),
                    chart_bids: Vec::new(),
                    chart_asks: Vec::new(),
                    best_bid: None,
                    best_ask: None,
                    spread: None,
                    mid: None,
                    crossed: false,
                    tick: rust_decimal::Decimal::ONE,
                    group_ticks: 1,
                    bid_levels: 0,
                    ask_levels: 0,
                    updates: *updates,
                    last_change_ms: None,
                    market: Default::default(),
                })
                .collect(),
            stats: FeedStats {
                resyncs,
                ..FeedStats::default()
            },
            auth: crate::feed::events::AuthView::default(),
        }
    }

    #[test]
    fn per_product_rates_leave_snapshots_out() {
        use BookState::{Live, Waiting};
        let mut rates = ProductRates::default();
        rates.push(0, &view(&[("A", Live, 100), ("B", Waiting, 0)], 0));
        // B's snapshot (5,000 levels) arrives: its history starts there.
        rates.push(1_000, &view(&[("A", Live, 300), ("B", Live, 5_000)], 0));
        assert_eq!(rates.per_second("A", 1_000), Some(200.0));
        assert_eq!(rates.per_second("B", 1_000), None);
        rates.push(2_000, &view(&[("A", Live, 500), ("B", Live, 5_050)], 0));
        assert_eq!(rates.per_second("B", 2_000), Some(50.0));
        // A resync of the session: a snapshot may be in any product's difference.
        rates.push(3_000, &view(&[("A", Live, 9_000), ("B", Live, 9_000)], 1));
        assert_eq!(rates.per_second("A", 3_000), None);
        assert_eq!(rates.per_second("B", 3_000), None);
    }
}
