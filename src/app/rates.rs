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
            push_windowed(samples, (now_ms, product.updates));
        }
    }

    /// A product's updates/s as of `now_ms`; None until it has about a second of live history.
    pub fn per_second(&self, product: &str, now_ms: i64) -> Option<f64> {
        counter_rate(self.samples.get(product)?, now_ms)
    }
}

/// Trades/s of the product on screen (the status line's), from differences of its
/// `market.trades` over about a second, measured as [`ProductRates`] measures updates.
///
/// Only the selected product is followed: the status shows no other, and following 500 products
/// for one number would cost every view a map walk. Its history starts afresh when another
/// product is selected. A trades counter has no snapshot in it (each trade id counts once, the
/// trades resent after a reconnect are not counted again), so unlike updates it needs no reset
/// on resyncs or reconnects.
#[derive(Debug, Clone, Default)]
pub struct TradeRate {
    product: Option<String>,
    /// (local time, trades), oldest first.
    samples: VecDeque<(i64, u64)>,
}

impl TradeRate {
    pub(crate) fn push(&mut self, now_ms: i64, product: Option<&str>, view: &FeedView) {
        if self.product.as_deref() != product {
            self.product = product.map(str::to_owned);
            self.samples.clear();
        }
        let Some(name) = product else {
            return;
        };
        let Some(p) = view.products.iter().find(|p| p.product == name) else {
            return;
        };
        push_windowed(&mut self.samples, (now_ms, p.market.trades));
    }

    /// Trades/s of `product` as of `now_ms`; None for another product than the one followed,
    /// or until it has about a second of history.
    pub fn per_second(&self, product: &str, now_ms: i64) -> Option<f64> {
        if self.product.as_deref() != Some(product) {
            return None;
        }
        counter_rate(&self.samples, now_ms)
    }
}

/// Appends a sample, keeping the newest one at least a window old as the base and nothing older.
fn push_windowed(samples: &mut VecDeque<(i64, u64)>, sample: (i64, u64)) {
    let now_ms = sample.0;
    samples.push_back(sample);
    while samples.len() > 2
        && samples
            .get(1)
            .is_some_and(|s| s.0 <= now_ms - RATE_WINDOW_MS)
    {
        samples.pop_front();
    }
}

/// The rate of a counter per second as of `now_ms`, from (time, count) samples oldest first:
/// the newest against the newest sample at least a window old (or the oldest); None until the
/// samples span a quarter of a window, or a whole one when there is only one sample. A counter
/// that went back counts as nothing.
fn counter_rate(samples: &VecDeque<(i64, u64)>, now_ms: i64) -> Option<f64> {
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

    #[test]
    fn trades_per_second_follow_the_selected_product_only() {
        use BookState::Live;
        let with_trades = |a: u64, b: u64| {
            let mut v = view(&[("A", Live, 0), ("B", Live, 0)], 0);
            v.products[0].market.trades = a;
            v.products[1].market.trades = b;
            v
        };
        let mut rate = TradeRate::default();
        rate.push(0, Some("A"), &with_trades(10, 0));
        assert_eq!(rate.per_second("A", 0), None, "one sample is no rate");
        rate.push(500, Some("A"), &with_trades(15, 100));
        rate.push(1_000, Some("A"), &with_trades(30, 200));
        assert_eq!(rate.per_second("A", 1_000), Some(20.0));
        assert_eq!(rate.per_second("B", 1_000), None, "B is not followed");
        // A resync does not reset it: the trades counter holds no snapshot.
        let mut resynced = with_trades(40, 300);
        resynced.stats.resyncs = 1;
        rate.push(1_500, Some("A"), &resynced);
        assert_eq!(rate.per_second("A", 1_500), Some(25.0));
        // Another product selected: its history starts there.
        rate.push(2_000, Some("B"), &with_trades(50, 400));
        assert_eq!(rate.per_second("B", 2_000), None);
        rate.push(3_000, Some("B"), &with_trades(60, 430));
        assert_eq!(rate.per_second("B", 3_000), Some(30.0));
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
            user: None,
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
