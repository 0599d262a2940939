//! What the viewer sees of the signed `user` channel (docs/feed.md, "Your orders"): your open
//! orders, your last fills, and the user connection's own state and auth. cbbook is read-only:
//! it never places, amends or cancels an order.

use rust_decimal::Decimal;
use serde::Serialize;

use super::events::{AuthView, ConnectionState, ServerError};

/// BUY or SELL, as the `user` channel's `order_side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderSide {
    Buy,
    Sell,
}

impl OrderSide {
    /// `BUY` or `SELL` (any letter case); anything else is not a side.
    pub fn parse(text: &str) -> Option<OrderSide> {
        if text.eq_ignore_ascii_case("buy") {
            Some(OrderSide::Buy)
        } else if text.eq_ignore_ascii_case("sell") {
            Some(OrderSide::Sell)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderSide::Buy => "BUY",
            OrderSide::Sell => "SELL",
        }
    }
}

/// One open order, as the last frame about it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    pub order_id: String,
    pub client_order_id: Option<String>,
    /// As the exchange sent it: the `user` channel is never `-USDC` aliased.
    pub product_id: String,
    pub side: OrderSide,
    /// `Limit`, `Market`, `StopLimit`... as sent (empty when absent).
    pub order_type: String,
    /// The limit price; `None` when the frame had no `limit_price` ("price unknown").
    pub price: Option<Decimal>,
    /// `leaves_quantity`: what is still resting (0 when absent).
    pub leaves: Decimal,
    /// `cumulative_quantity`: what has filled (0 when absent).
    pub filled: Decimal,
    pub avg_price: Option<Decimal>,
    /// `OPEN`, `PENDING`, `QUEUED`, `CANCEL_QUEUED`... as sent, upper case.
    pub status: String,
    /// `creation_time` as sent (RFC 3339), and in Unix milliseconds when it parses.
    pub created: Option<String>,
    pub created_ms: Option<i64>,
}

/// A fill of one of your orders, seen as its `cumulative_quantity` grew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillRow {
    pub order_id: String,
    pub product_id: String,
    pub side: OrderSide,
    /// The order's limit price (a resting limit order fills at its price), else its average
    /// fill price; `None` when neither was sent.
    pub price: Option<Decimal>,
    pub size: Decimal,
    /// The order's status after this fill (`FILLED` when nothing is left).
    pub status: String,
    /// Local receive time.
    pub at_ms: i64,
}

/// The user connection and what it holds. Present in the [`super::events::FeedView`] only when
/// a key is configured (no key: no user connection is attempted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    /// Where the `user` channel is read from.
    pub endpoint: String,
    pub connection: ConnectionState,
    /// The server refused the `user` subscribe (`authentication failure`): why, verbatim. The
    /// market feed goes on.
    pub refused: Option<ServerError>,
    /// A whole snapshot has arrived on the current connection (until then `orders` is the last
    /// complete set, or empty).
    pub snapshot_complete: bool,
    /// Every open order, oldest first.
    pub orders: Vec<OrderRow>,
    /// The last fills, newest first.
    pub fills: Vec<FillRow>,
    /// JWT, subscribe and last error of the user connection (the auth pane's "user data").
    pub auth: AuthView,
    pub frames: u64,
    pub reconnects: u64,
    /// Orders skipped for lacking `order_id`, `product_id`, `order_side` or `status`.
    pub malformed_orders: u64,
    pub gaps: u64,
}

impl UserView {
    /// The open orders of one product.
    pub fn orders_of<'a>(&'a self, product: &'a str) -> impl Iterator<Item = &'a OrderRow> + 'a {
        self.orders.iter().filter(move |o| o.product_id == product)
    }
}
