//! The `--dump-book` file (docs/feed.md, "Headless mode"): every book, products in sorted
//! order, all levels best first, canonical numbers, compact JSON. The simulator writes its own
//! books through [`dump_json`] too, so the two files compare byte for byte.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::Side;
use crate::feed::core::FeedCore;
use crate::feed::events::{Aggressor, BookState, TickerView, TradeRow};
use crate::feed::time::rfc3339_millis;
use crate::feed::user_events::{OrderRow, OrderSide};

/// One product in the `--dump-book` file (docs/feed.md, "Headless mode"). The simulator's
/// `--dump-book` writes the same struct through [`dump_json`], so both files have one form.
#[derive(Debug, Serialize)]
pub struct DumpedBook {
    pub state: BookState,
    /// Why the server refused the product (only with `"state":"refused"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `sequence_num` of the last frame that touched the book (the simulator: see docs/sim.md).
    pub sequence_num: u64,
    /// `["price", "size"]`, best first, canonical numbers.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
    /// The last [`super::DUMPED_TRADES`] trades, oldest first (none without `market_trades`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trades: Vec<DumpedTrade>,
    /// The latest ticker (none without `ticker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticker: Option<DumpedTicker>,
    /// Your open orders of the product, oldest first (only with a key: the `user` channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<Vec<DumpedOrder>>,
}

/// One open order in the dump (docs/feed.md, "Your orders"): `price` is the limit price
/// (`null` when the exchange did not send it), `created` its `creation_time` as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpedOrder {
    pub order_id: String,
    pub side: OrderSide,
    pub price: Option<String>,
    pub leaves_quantity: String,
    pub filled_quantity: String,
    pub status: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub created: Option<String>,
}

impl From<&OrderRow> for DumpedOrder {
    fn from(o: &OrderRow) -> DumpedOrder {
        DumpedOrder {
            order_id: o.order_id.clone(),
            side: o.side,
            price: o.price.map(|p| p.normalize().to_string()),
            leaves_quantity: o.leaves.normalize().to_string(),
            filled_quantity: o.filled.normalize().to_string(),
            status: o.status.clone(),
            order_type: o.order_type.clone(),
            created: o.created.clone(),
        }
    }
}

/// The open orders of `product` in dump form, oldest first (by creation time, then id, so that
/// two dumps of one set are the same text).
pub fn dumped_orders(orders: &[OrderRow], product: &str) -> Vec<DumpedOrder> {
    let mut mine: Vec<&OrderRow> = orders.iter().filter(|o| o.product_id == product).collect();
    mine.sort_by(|a, b| (a.created_ms, &a.order_id).cmp(&(b.created_ms, &b.order_id)));
    mine.into_iter().map(DumpedOrder::from).collect()
}

/// One trade in the dump: `side` as Coinbase sent it (the maker's), `aggressor` the taker's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpedTrade {
    pub trade_id: String,
    /// RFC 3339, UTC, to the millisecond.
    pub time: String,
    pub price: String,
    pub size: String,
    pub side: String,
    pub aggressor: Aggressor,
}

impl From<&TradeRow> for DumpedTrade {
    fn from(t: &TradeRow) -> DumpedTrade {
        DumpedTrade {
            trade_id: t.trade_id.to_string(),
            time: rfc3339_millis(t.time_ms),
            price: t.price.normalize().to_string(),
            size: t.size.normalize().to_string(),
            side: t.side.to_string(),
            aggressor: t.aggressor,
        }
    }
}

/// The ticker in the dump (fields the exchange left out are absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpedTicker {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_24_h: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_percent_chg_24_h: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_24_h: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_24_h: Option<String>,
}

impl From<&TickerView> for DumpedTicker {
    fn from(t: &TickerView) -> DumpedTicker {
        let text = |d: Option<Decimal>| d.map(|d| d.normalize().to_string());
        DumpedTicker {
            price: text(t.price),
            volume_24_h: text(t.volume_24_h),
            price_percent_chg_24_h: text(t.price_percent_chg_24_h),
            high_24_h: text(t.high_24_h),
            low_24_h: text(t.low_24_h),
        }
    }
}

/// The `--dump-book` text: products in sorted order, each book's fields in the order of
/// [`DumpedBook`], compact JSON (no trailing newline). Server text in it (a refusal's reason, a
/// product id) may hold DEL or C1 characters, which JSON allows raw: they are written as `\u00XX`
/// ([`crate::text::json_printable`]), so that showing the file in a terminal is safe.
pub fn dump_json(books: &BTreeMap<&str, DumpedBook>) -> String {
    // Strings, numbers and a state enum: serialising cannot fail.
    let json = serde_json::to_string(books).unwrap_or_default();
    // Almost always nothing to escape: then the text is kept as it is, not copied.
    if let std::borrow::Cow::Owned(safe) = crate::text::json_printable(&json) {
        return safe;
    }
    json
}

impl FeedCore {
    /// Every book in the `--dump-book` format (docs/feed.md, "Headless mode"): products in sorted
    /// order, all levels best first, canonical numbers, compact JSON.
    pub fn dump_books(&self) -> String {
        self.dump_books_with_orders(None)
    }

    /// [`FeedCore::dump_books`], with each product's open orders when the session had a user
    /// connection (`orders`: every open order, as the user view holds them).
    pub fn dump_books_with_orders(&self, orders: Option<&[OrderRow]>) -> String {
        let dump: BTreeMap<&str, DumpedBook> = self
            .products
            .iter()
            .zip(&self.books)
            .map(|(name, p)| {
                (
                    name.as_str(),
                    DumpedBook {
                        state: p.state,
                        reason: p.refused.clone(),
                        sequence_num: p.sequence_num,
                        bids: p.book.dump_side(Side::Bid),
                        asks: p.book.dump_side(Side::Ask),
                        trades: p
                            .market
                            .newest(super::DUMPED_TRADES)
                            .map(DumpedTrade::from)
                            .collect(),
                        ticker: p.market.ticker().map(DumpedTicker::from),
                        orders: orders.map(|all| dumped_orders(all, name)),
                    },
                )
            })
            .collect();
        dump_json(&dump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;

    #[test]
    fn server_text_in_the_dump_has_no_del_or_c1_and_reads_back_the_same() {
        let reason = "refused \u{9b}2J\x1b]0;t\x07\x7f".to_string();
        let book = DumpedBook {
            state: BookState::Refused,
            reason: Some(reason.clone()),
            sequence_num: 0,
            bids: Vec::new(),
            asks: Vec::new(),
            trades: Vec::new(),
            ticker: None,
            orders: None,
        };
        let json = dump_json(&BTreeMap::from([("X\u{85}-USD", book)]));
        assert!(!json.chars().any(char::is_control), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["X\u{85}-USD"]["reason"], reason.as_str());
    }

    #[test]
    fn dump_is_sorted_compact_and_canonical() {
        let products = vec!["ETH-USD".to_owned(), "BTC-USD".to_owned()];
        let mut c = FeedCore::new("ws://test", &products, false, 0);
        c.connection_started(0, false);
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "64930.50", "0.50000000"), ("offer", "64931", "2")],
            ),
            1,
        );
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"live","sequence_num":0,"bids":[["64930.5","0.5"]],"asks":[["64931","2"]]},"ETH-USD":{"state":"waiting","sequence_num":0,"bids":[],"asks":[]}}"#
        );
    }

    #[test]
    fn trades_and_the_ticker_are_dumped_oldest_first_with_both_sides() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "1")],
            ),
            1,
        );
        let trades = r#"{"channel":"market_trades","client_id":"","timestamp":"2026-12-04T10:00:01Z","sequence_num":1,"events":[{"type":"update","trades":[{"trade_id":"12","product_id":"BTC-USD","price":"101.00","size":"0.50","side":"SELL","time":"2026-12-04T10:00:00.456789Z"},{"trade_id":"11","product_id":"BTC-USD","price":"100","size":"2","side":"BUY","time":"2026-12-04T10:00:00.123Z"}]}]}"#;
        c.on_frame(trades, 2);
        let ticker = r#"{"channel":"ticker","client_id":"","timestamp":"2026-12-04T10:00:01Z","sequence_num":2,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"101.00","volume_24_h":"12.5","price_percent_chg_24_h":"-1.50"}]}]}"#;
        c.on_frame(ticker, 3);
        let dump: serde_json::Value = serde_json::from_str(&c.dump_books()).unwrap();
        let btc = &dump["BTC-USD"];
        assert_eq!(
            btc["trades"],
            serde_json::json!([
                {"trade_id":"11","time":"2026-12-04T10:00:00.123Z","price":"100","size":"2","side":"BUY","aggressor":"sell"},
                {"trade_id":"12","time":"2026-12-04T10:00:00.456Z","price":"101","size":"0.5","side":"SELL","aggressor":"buy"}
            ])
        );
        assert_eq!(
            btc["ticker"],
            serde_json::json!({"price":"101","volume_24_h":"12.5","price_percent_chg_24_h":"-1.5"})
        );
        assert!(dump["ETH-USD"].get("trades").is_none(), "no trades: no key");
        assert_eq!(c.stats().trades, 2);
    }

    #[test]
    fn only_a_refused_book_carries_a_reason() {
        let book = |state, reason: Option<&str>| DumpedBook {
            state,
            reason: reason.map(str::to_owned),
            sequence_num: 7,
            bids: vec![["1".to_owned(), "2".to_owned()]],
            asks: vec![],
            trades: vec![],
            ticker: None,
            orders: None,
        };
        let mut books = BTreeMap::new();
        books.insert("B-USD", book(BookState::Desynced, None));
        books.insert("A-USD", book(BookState::Refused, Some("not \"valid\"")));
        assert_eq!(
            dump_json(&books),
            r#"{"A-USD":{"state":"refused","reason":"not \"valid\"","sequence_num":7,"bids":[["1","2"]],"asks":[]},"B-USD":{"state":"desynced","sequence_num":7,"bids":[["1","2"]],"asks":[]}}"#
        );
        assert_eq!(dump_json(&BTreeMap::new()), "{}");
    }

    #[test]
    fn a_desynced_book_is_dumped_with_the_levels_it_had() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&heartbeat(4), 2);
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"desynced","sequence_num":0,"bids":[["100","1"]],"asks":[]},"ETH-USD":{"state":"waiting","sequence_num":0,"bids":[],"asks":[]}}"#
        );
        assert_eq!(FeedCore::new("file", &[], false, 0).dump_books(), "{}");
    }
}
