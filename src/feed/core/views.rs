//! The viewer's copies of the books ([`FeedView`]): the top levels each pane asks for, grouped
//! as asked, and the counters, built from the books without touching them (docs/feed.md, "To
//! the viewer").

use std::sync::Arc;

use crate::book::Side;
use crate::feed::core::{FeedCore, ProductBook};
use rust_decimal::Decimal;

use crate::feed::events::{FeedView, MarketView, ProductView, ViewRequest};
use crate::product_id::served_as;

impl FeedCore {
    /// The viewer's copy of everything, as of `now_ms`.
    pub fn view(&self, request: &ViewRequest, now_ms: i64) -> FeedView {
        let products = self
            .products
            .iter()
            .zip(&self.books)
            .map(|(name, p)| {
                let mut view = product_view(name, p, request);
                view.market.heatmap = self.heat_view(name, request);
                view
            })
            .collect();
        let mut auth = self.auth.clone();
        auth.clock = self.overall_clock();
        FeedView {
            at_ms: now_ms,
            endpoint: self.endpoint.clone(),
            connection: self.connection.clone(),
            connections: Vec::new(),
            products,
            stats: self.stats.clone(),
            auth,
            user: None,
        }
    }

    /// The view, shared.
    pub fn shared_view(&self, request: &ViewRequest, now_ms: i64) -> Arc<FeedView> {
        Arc::new(self.view(request, now_ms))
    }
}

pub(super) fn product_view(name: &str, p: &ProductBook, request: &ViewRequest) -> ProductView {
    let group = request.group_ticks.max(1);
    // Rows only for the product asked for (the one drawn), or for all when none is named.
    let rows = request
        .rows_for
        .as_deref()
        .is_none_or(|shown| shown == name);
    let (bids, asks) = if rows {
        (
            p.book.top(Side::Bid, request.depth, group),
            p.book.top(Side::Ask, request.depth, group),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let (chart_bids, chart_asks) = if request.chart_depth == 0 || !rows {
        (Vec::new(), Vec::new())
    } else {
        (
            p.book.top(Side::Bid, request.chart_depth, group),
            p.book.top(Side::Ask, request.chart_depth, group),
        )
    };
    ProductView {
        product: name.to_owned(),
        // The exchange's alias rule, unless the server sends the product under its own id.
        served_as: served_as(name)
            .filter(|_| !p.fed_as_itself)
            .map(str::to_owned),
        state: p.state,
        bids,
        asks,
        chart_bids,
        chart_asks,
        best_bid: p.book.best_bid(),
        best_ask: p.book.best_ask(),
        spread: p.book.spread(),
        mid: p.book.mid(),
        crossed: p.book.is_crossed(),
        tick: p.book.tick(),
        group_ticks: group,
        bid_levels: p.book.len(Side::Bid),
        ask_levels: p.book.len(Side::Ask),
        updates: p.updates,
        last_change_ms: p.last_change_ms,
        market: market_view(name, p, request, group),
    }
}

/// The product's trades and ticker; the tape and volume at price only for the product asked for.
fn market_view(name: &str, p: &ProductBook, request: &ViewRequest, group: u32) -> MarketView {
    let shown = request
        .rows_for
        .as_deref()
        .is_none_or(|shown| shown == name);
    let tape_depth = if shown { request.tape_depth } else { 0 };
    let bucket = (shown && request.volume_at_price).then(|| p.book.tick() * Decimal::from(group));
    p.market.view(shown, tape_depth, bucket, p.book.mid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;
    use crate::feed::events::BookState;

    #[test]
    fn view_reflects_books_and_request() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[
                    ("bid", "100", "1"),
                    ("bid", "99.5", "2"),
                    ("offer", "101", "3"),
                ],
            ),
            1_500,
        );
        let request = ViewRequest {
            depth: 1,
            group_ticks: 1,
            chart_depth: 5,
            rows_for: None,
            ..ViewRequest::default()
        };
        let view = c.view(&request, 2_000);
        assert_eq!(view.at_ms, 2_000);
        assert_eq!(view.products.len(), 2);
        let btc = &view.products[0];
        assert_eq!(btc.product, "BTC-USD");
        assert_eq!(btc.state, BookState::Live);
        assert_eq!(btc.bids.len(), 1);
        assert_eq!(btc.chart_bids.len(), 2);
        assert_eq!((btc.bid_levels, btc.ask_levels), (2, 1));
        assert_eq!(btc.best_bid.unwrap().0.to_string(), "100");
        assert_eq!(btc.spread.unwrap().to_string(), "1");
        assert_eq!(btc.last_change_ms, Some(1_500));
        assert_eq!(view.products[1].state, BookState::Waiting);
        assert_eq!(view.stats.frames, 1);
    }

    #[test]
    fn depth_grouping_and_chart_depth_shape_a_product_view() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[
                    ("bid", "100.00", "1"),
                    ("bid", "99.99", "1"),
                    ("bid", "99.98", "1"),
                    ("offer", "100.01", "2"),
                    ("offer", "100.02", "2"),
                ],
            ),
            1,
        );
        let book = c.product("BTC-USD").unwrap();
        // No chart asked for: none built.
        let flat = ViewRequest {
            depth: 2,
            group_ticks: 0,
            chart_depth: 0,
            rows_for: None,
            ..ViewRequest::default()
        };
        let view = product_view("BTC-USD", book, &flat);
        assert_eq!(view.bids.len(), 2);
        assert_eq!(view.asks.len(), 2);
        assert!(view.chart_bids.is_empty() && view.chart_asks.is_empty());
        // A grouping of 0 ticks means none.
        assert_eq!(view.group_ticks, 1);
        assert_eq!((view.bid_levels, view.ask_levels), (3, 2));
        assert_eq!(view.best_ask.unwrap().0.to_string(), "100.01");
        assert_eq!(view.mid.unwrap().to_string(), "100.005");
        assert!(!view.crossed);
        assert_eq!(view.updates, 5);
        // Grouped by 10 ticks, the three bids are one row; the chart goes deeper than the ladder.
        let grouped = ViewRequest {
            depth: 1,
            group_ticks: 10,
            chart_depth: 10,
            rows_for: None,
            ..ViewRequest::default()
        };
        let view = product_view("BTC-USD", book, &grouped);
        assert_eq!(view.group_ticks, 10);
        assert_eq!(view.bids.len(), 1);
        assert_eq!(view.asks.len(), 1);
        assert!(!view.chart_bids.is_empty() && !view.chart_asks.is_empty());
    }

    #[test]
    fn a_book_with_no_snapshot_has_an_empty_view() {
        let c = core();
        let view = c.view(&ViewRequest::default(), 5);
        let eth = &view.products[1];
        assert_eq!(eth.product, "ETH-USD");
        assert_eq!(eth.state, BookState::Waiting);
        assert!(eth.bids.is_empty() && eth.asks.is_empty());
        assert_eq!((eth.best_bid, eth.best_ask, eth.spread), (None, None, None));
        assert_eq!(eth.last_change_ms, None);
        assert_eq!(view.endpoint, "ws://test");
        assert_eq!(c.shared_view(&ViewRequest::default(), 5).products.len(), 2);
    }

    #[test]
    fn rows_only_for_the_product_named_and_for_all_when_none_is() {
        let mut c = core();
        let snapshot = |seq, product| {
            l2(
                seq,
                "snapshot",
                product,
                &[
                    ("bid", "100", "1"),
                    ("bid", "99", "2"),
                    ("offer", "101", "3"),
                ],
            )
        };
        c.on_frame(&snapshot(0, "BTC-USD"), 1);
        c.on_frame(&snapshot(1, "ETH-USD"), 2);
        let rows = |p: &ProductView| {
            (
                p.bids.len(),
                p.asks.len(),
                p.chart_bids.len(),
                p.chart_asks.len(),
            )
        };
        let mut request = ViewRequest {
            depth: 5,
            group_ticks: 1,
            chart_depth: 5,
            rows_for: Some("ETH-USD".into()),
            ..ViewRequest::default()
        };
        let view = c.view(&request, 3);
        let (btc, eth) = (&view.products[0], &view.products[1]);
        assert_eq!(rows(eth), (2, 1, 2, 1));
        assert_eq!(
            rows(btc),
            (0, 0, 0, 0),
            "no rows for a product not on screen"
        );
        // Everything the watchlist and the tabs read is still there.
        assert_eq!(btc.state, BookState::Live);
        assert_eq!(btc.best_bid.unwrap().0.to_string(), "100");
        assert_eq!(btc.best_ask.unwrap().0.to_string(), "101");
        assert_eq!(btc.spread.unwrap().to_string(), "1");
        assert_eq!(btc.mid.unwrap().to_string(), "100.5");
        assert_eq!((btc.bid_levels, btc.ask_levels), (2, 1));
        assert_eq!(btc.updates, 3);
        assert_eq!(btc.tick, eth.tick);
        assert_eq!(btc.last_change_ms, Some(1));
        // None: every product, as before.
        request.rows_for = None;
        let view = c.view(&request, 3);
        assert!(view.products.iter().all(|p| rows(p) == (2, 1, 2, 1)));
        // A name that is not among the products: rows for none.
        request.rows_for = Some("SOL-USD".into());
        let view = c.view(&request, 3);
        assert!(view.products.iter().all(|p| rows(p) == (0, 0, 0, 0)));
    }
}
