//! What the feed tells the viewer, and what the viewer asks of the feed.
//!
//! The feed task owns the books. It publishes:
//! - a [`FeedView`] (latest state only, through a `tokio::sync::watch`), at a bounded rate, so a
//!   slow viewer never builds a backlog and the feed never waits on it;
//! - [`FeedEvent`]s, a log of what happened (connects, gaps, rejections...), through a bounded
//!   channel written with `try_send` (when full, events are dropped and counted in
//!   [`FeedStats::events_dropped`]; every state an event announces is also in the view).
//!
//! The viewer sends [`FeedCommand`]s back. All times are Unix milliseconds, taken by the feed,
//! so that everything drawn from these types is reproducible in tests.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::Serialize;

/// Whether a product's book can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BookState {
    /// Subscribed (or subscribing), no snapshot yet.
    Waiting,
    /// Snapshot applied and every update since then seen in sequence.
    Live,
    /// A sequence gap (or a lost connection) made the book suspect; a fresh snapshot is on its way.
    Desynced,
    /// The server refused to subscribe this product (e.g. `FOO-BAR is not a valid product`): no
    /// book will come for it this session; the other products are subscribed without it.
    Refused,
    /// A snapshot or update left the best bid at or above the best ask: the book cannot be
    /// right (the server sent a bad book, or updates were lost), so it is suspect until its next
    /// snapshot, which is asked for with a growing delay (docs/feed.md, "Crossed books").
    Crossed,
}

/// One row of a ladder: a price level, or a bucket of grouped levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelRow {
    pub price: Decimal,
    pub size: Decimal,
    /// Sum of the sizes from the best level down to this row, inclusive.
    pub cum_size: Decimal,
}

/// A product's book as the viewer draws it: a small copy, never the live map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductView {
    /// The id as the user asked for it.
    pub product: String,
    /// The id the exchange serves this product's data under, when it differs (`BTC-USDC` is
    /// served as `BTC-USD`: docs/feed.md, "Aliases").
    pub served_as: Option<String>,
    pub state: BookState,
    /// Best first, grouped and cut to [`ViewRequest::depth`] rows.
    pub bids: Vec<LevelRow>,
    /// Best first, grouped and cut to [`ViewRequest::depth`] rows.
    pub asks: Vec<LevelRow>,
    /// Best first, grouped, up to [`ViewRequest::chart_depth`] rows (for the depth chart).
    pub chart_bids: Vec<LevelRow>,
    pub chart_asks: Vec<LevelRow>,
    /// (price, size) of the best bid and ask, ungrouped.
    pub best_bid: Option<(Decimal, Decimal)>,
    pub best_ask: Option<(Decimal, Decimal)>,
    /// best ask - best bid (negative when crossed).
    pub spread: Option<Decimal>,
    pub mid: Option<Decimal>,
    /// Best bid >= best ask: the book cannot be right.
    pub crossed: bool,
    /// Smallest price increment seen for this product (10^-scale of the finest price printed).
    pub tick: Decimal,
    /// Grouping used for `bids`/`asks`, in ticks (1 = none).
    pub group_ticks: u32,
    /// Number of levels in the whole book, per side.
    pub bid_levels: usize,
    pub ask_levels: usize,
    /// Level updates applied to this product since start (snapshots count their levels).
    pub updates: u64,
    /// When this product's book last changed.
    pub last_change_ms: Option<i64>,
    /// Its trades and ticker (`market_trades`, `ticker`): docs/feed.md, "Trades".
    pub market: MarketView,
}

/// Who took liquidity in a trade: the side of the order that crossed the spread. Coinbase's
/// `side` is the maker's ([`Aggressor::from_maker_side`] is the one place that turns one into the
/// other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggressor {
    Buy,
    Sell,
}

impl Aggressor {
    /// The taker of a trade whose maker was on `side` (`"BUY"`/`"SELL"`, any case): a resting
    /// sell order was hit by a buyer. `None` for any other text.
    pub fn from_maker_side(side: &str) -> Option<Aggressor> {
        Aggressor::from_maker_side_bytes(side.as_bytes())
    }

    /// [`Aggressor::from_maker_side`] on the side's bytes as a frame carries them.
    #[inline]
    pub fn from_maker_side_bytes(side: &[u8]) -> Option<Aggressor> {
        if side.eq_ignore_ascii_case(b"SELL") {
            Some(Aggressor::Buy)
        } else if side.eq_ignore_ascii_case(b"BUY") {
            Some(Aggressor::Sell)
        } else {
            None
        }
    }
}

/// One market trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeRow {
    /// Kept inline (no allocation) up to 24 bytes: Coinbase's ids are 9 to 12 digits.
    pub trade_id: CompactString,
    /// The exchange's time of the trade, Unix milliseconds.
    pub time_ms: i64,
    pub price: Decimal,
    pub size: Decimal,
    /// `side` exactly as Coinbase sent it: the maker's side (`"BUY"` or `"SELL"`; borrowed for
    /// those two spellings, so a trade allocates only its id).
    pub side: Cow<'static, str>,
    pub aggressor: Aggressor,
}

impl TradeRow {
    /// Price times size, exact: the trade's value in the quote currency.
    pub fn notional(&self) -> Decimal {
        self.price * self.size
    }
}

/// Which way the last price moved from the trade price before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PriceTick {
    Up,
    Down,
    /// The same price, or no trade before it.
    #[default]
    Same,
}

/// The latest `ticker` of a product (fields the exchange left out are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TickerView {
    pub price: Option<Decimal>,
    pub volume_24_h: Option<Decimal>,
    pub price_percent_chg_24_h: Option<Decimal>,
    pub high_24_h: Option<Decimal>,
    pub low_24_h: Option<Decimal>,
    /// Local receive time.
    pub at_ms: i64,
}

/// Volume traded at one price (a bucket at the ladder's grouping) since the session started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeRow {
    pub price: Decimal,
    /// Bought by takers (aggressor buy).
    pub bought: Decimal,
    /// Sold by takers (aggressor sell).
    pub sold: Decimal,
}

/// A product's trades and ticker as the viewer draws them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MarketView {
    /// The latest trade (every product: the watchlist's last price).
    pub last_trade: Option<TradeRow>,
    /// The last price against the trade price before it.
    pub tick: PriceTick,
    pub ticker: Option<TickerView>,
    /// Distinct trades received since start (for trades/s).
    pub trades: u64,
    /// Taker buy and sell volume (base currency) over the last minute of trade times (the
    /// product of [`ViewRequest::rows_for`] only; zero for the others).
    pub bought_1m: Decimal,
    pub sold_1m: Decimal,
    /// Newest first, up to [`ViewRequest::tape_depth`] (the product of
    /// [`ViewRequest::rows_for`] only).
    pub tape: Vec<TradeRow>,
    /// The size at or above which a trade is big (the 95th percentile of the trades kept), when
    /// there are trades.
    pub big_size: Option<Decimal>,
    /// Volume at price at the ladder's grouping, highest price first, when
    /// [`ViewRequest::volume_at_price`] asks for it (the product of `rows_for` only).
    pub volume_at_price: Vec<VolumeRow>,
    /// Trades priced at or above the best ask were mostly labelled maker `BUY` (or at or below
    /// the best bid maker `SELL`): the feed's `side` seems to be the taker's, not the maker's,
    /// and the aggressor colours may be inverted (docs/feed.md, "Trades").
    pub sides_look_inverted: bool,
    /// The heatmap's history, when [`ViewRequest::heatmap`] asks for it (the product of
    /// `rows_for` only): shared columns, not copies.
    #[serde(skip)]
    pub heatmap: Option<crate::feed::core::heatmap::HeatmapView>,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting {
        attempt: u32,
    },
    /// Socket open, subscribe sent, no ack yet.
    Connected,
    /// The `subscriptions` ack arrived.
    Subscribed,
    /// Lost; `retry_at_ms` says when the next attempt starts.
    Reconnecting {
        reason: String,
        retry_at_ms: i64,
        attempt: u32,
    },
    /// Replaying a recording.
    Replaying,
    /// Nothing more will come (replay finished, duration elapsed, shutdown).
    Finished,
}

/// Counters since start. Rates are left to the viewer (difference of two views).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedStats {
    /// Frames received (every text message).
    pub frames: u64,
    /// Level updates applied (snapshot levels included).
    pub updates: u64,
    /// Of `updates`, the levels that came in snapshots: a whole book at once, not market
    /// activity (the viewer's `upd/s` leaves them out).
    pub snapshot_levels: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub reconnects: u64,
    /// Error frames received from the server.
    pub errors: u64,
    /// Frames that could not be parsed or carried bad fields (counted, skipped).
    pub bad_frames: u64,
    /// Times a book became crossed (best bid at or above best ask): each is marked
    /// [`BookState::Crossed`], reported and resynced.
    pub crossed: u64,
    /// Frames whose `sequence_num` was at or below the last one (duplicates, out of order): ignored.
    pub stale_frames: u64,
    /// Level updates ignored: for a product with no snapshot yet, or one never asked for.
    pub ignored_updates: u64,
    /// Distinct trades received (`market_trades`), each trade id once per product asked for
    /// (`BTC-USD` and `BTC-USDC` both asked for count a shared trade twice, as each keeps it).
    pub trades: u64,
    /// Replay: lines that were neither a recorded entry nor a frame (skipped).
    pub broken_lines: u64,
    pub events_dropped: u64,
    /// The last envelope `sequence_num` seen on the current connection.
    pub last_sequence_num: Option<u64>,
    pub heartbeat_counter: Option<u64>,
    /// Local receive time of the last frame.
    pub last_frame_ms: Option<i64>,
    /// Local receive time minus the envelope `timestamp` of the last frame, in milliseconds.
    pub latency_ms: Option<i64>,
    /// When the current connection was established.
    pub connected_since_ms: Option<i64>,
    /// When the feed started.
    pub started_ms: i64,
}

/// An error frame from the server, verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerError {
    /// The whole frame as received.
    pub raw: String,
    pub message: String,
    /// The `reason` field, when present (the simulator always sends one).
    pub reason: Option<String>,
    pub at_ms: i64,
}

/// Coinbase's error text when one connection asks for more level2 products than it serves
/// (about 16): the subscribe is dropped, and the text names no product (docs/feed.md,
/// "Sharding").
pub const TOO_MANY_L2_STREAMS: &str = "too many L2 streams requested in a single session";

impl ServerError {
    /// The server refused a level2 subscribe for carrying too many products on this connection
    /// ([`TOO_MANY_L2_STREAMS`], in any letter case).
    pub fn is_l2_stream_limit(&self) -> bool {
        self.message.eq_ignore_ascii_case(TOO_MANY_L2_STREAMS)
    }

    /// Coinbase's bare `authentication failure`, in any letter case: the one test of it that the
    /// feed (fall back to the public feed) and the viewer (AUTH-ERR, the auth pane) share.
    pub fn is_auth_failure(&self) -> bool {
        is_auth_failure(&self.message)
    }

    /// A subscribe the server would not carry out (`failure to subscribe`, or the older
    /// `Failed to subscribe`); not an unsubscribe's failure, nor `subscribe or unsubscribe
    /// required`, which is about the message's type.
    pub fn is_subscribe_failure(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("failure to subscribe") || message.contains("failed to subscribe")
    }

    /// A subscribe failure whose reason names `product` as a whole id (`BTC-USD` is not named
    /// by `BTC-USDC`).
    pub fn refuses_product(&self, product: &str) -> bool {
        self.is_subscribe_failure()
            && self
                .reason
                .as_deref()
                .is_some_and(|reason| names(reason, product))
    }
}

/// Coinbase's message for every authentication problem (`authentication failure`), in any
/// letter case. Frames with no `ServerError` yet (an event's message) use this directly.
pub fn is_auth_failure(message: &str) -> bool {
    message.eq_ignore_ascii_case("authentication failure")
}

/// Whether `text` names `product` as a whole id.
pub(crate) fn names(text: &str, product: &str) -> bool {
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    text.match_indices(product).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + product.len()..].chars().next();
        !before.is_some_and(is_id_char) && !after.is_some_and(is_id_char)
    })
}

/// What the auth-debug pane shows about the authenticated path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthView {
    /// A key is configured.
    pub key_configured: bool,
    /// The JWT sent with the last subscribe (the viewer decodes it; it never shows the signature).
    pub last_jwt: Option<String>,
    /// The last subscribe message sent, with the JWT replaced by `"<redacted>"`.
    pub last_subscribe: Option<String>,
    /// The signed level2 subscribe the server refused (JWT redacted), kept once the public
    /// fallback has replaced `last_subscribe`, so that the pane shows what was refused.
    pub refused_subscribe: Option<String>,
    /// The last error frame received.
    pub last_error: Option<ServerError>,
    /// Level2 was refused with the key, and the feed fell back to the public subscribe.
    pub fell_back_to_public: bool,
    /// Products per channel, as asked.
    pub requested: BTreeMap<String, Vec<String>>,
    /// Products per channel, from the last `subscriptions` ack.
    pub acknowledged: BTreeMap<String, Vec<String>>,
    /// Which clock signs JWTs (`--jwt-clock`).
    pub jwt_clock: crate::auth::clock::JwtClock,
    /// The clock that signed the last JWT.
    pub signed_with: Option<crate::auth::clock::SignedWith>,
    /// This machine's clock against the server's, measured from the frames (over every
    /// connection of the session).
    pub clock: Option<crate::feed::core::clock::ClockEstimate>,
    /// A refusal the clock explained was retried once with the server's time.
    pub clock_retried: bool,
}

/// One connection of the session: level2 products are spread over several (docs/feed.md,
/// "Sharding"), each with its own sequence, watchdog, backoff and reconnects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    /// 0-based; shown as `#1`, `#2`...
    pub index: usize,
    /// The products it carries, as the user asked for them.
    pub products: Vec<String>,
    pub state: ConnectionState,
    /// The last envelope `sequence_num` seen on it.
    pub last_sequence_num: Option<u64>,
    pub reconnects: u64,
    /// When it was last established.
    pub connected_since_ms: Option<i64>,
    /// The clock offset measured on it.
    pub clock: Option<crate::feed::core::clock::ClockEstimate>,
}

/// Everything the viewer draws, as of `at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedView {
    pub at_ms: i64,
    /// The endpoint, or the replayed file.
    pub endpoint: String,
    /// The session as a whole: with several connections, the least advanced of them (one still
    /// connecting makes the session connecting).
    pub connection: ConnectionState,
    /// Every connection of the session, in index order (empty before the first is opened).
    pub connections: Vec<ConnectionView>,
    /// In the order the products were asked for.
    pub products: Vec<ProductView>,
    pub stats: FeedStats,
    pub auth: AuthView,
    /// The user connection (your orders), when a key is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::feed::user_events::UserView>,
}

/// What the viewer wants in each [`ProductView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewRequest {
    /// Ladder rows per side.
    pub depth: usize,
    /// Price grouping in ticks (1 = none).
    pub group_ticks: u32,
    /// Rows per side for the depth chart (0 = none).
    pub chart_depth: usize,
    /// The one product that gets ladder and chart rows (the one on screen); the others come
    /// with empty `bids`/`asks`/`chart_*` and everything else filled. `None`: every product.
    pub rows_for: Option<String>,
    /// Trades in [`MarketView::tape`] (0 = none).
    pub tape_depth: usize,
    /// Fill [`MarketView::volume_at_price`] (at `group_ticks`).
    pub volume_at_price: bool,
    /// Fill [`MarketView::heatmap`] (the heatmap pane is open).
    pub heatmap: Option<crate::feed::core::heatmap::HeatmapRequest>,
}

impl Default for ViewRequest {
    fn default() -> Self {
        ViewRequest {
            depth: 20,
            group_ticks: 1,
            chart_depth: 0,
            rows_for: None,
            tape_depth: 0,
            volume_at_price: false,
            heatmap: None,
        }
    }
}

/// Requests from the viewer.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedCommand {
    /// Unsubscribe and resubscribe level2 to get fresh snapshots.
    Resync,
    SetView(ViewRequest),
    Shutdown,
}

/// What happened, in order. Each carries its time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FeedEvent {
    Connecting {
        at_ms: i64,
        url: String,
        attempt: u32,
    },
    Connected {
        at_ms: i64,
        url: String,
    },
    /// A subscribe or unsubscribe went out (JWT redacted).
    SubscribeSent {
        at_ms: i64,
        message: String,
    },
    Subscribed {
        at_ms: i64,
        subscriptions: BTreeMap<String, Vec<String>>,
    },
    Snapshot {
        at_ms: i64,
        product: String,
        bids: usize,
        asks: usize,
    },
    Gap {
        at_ms: i64,
        expected: u64,
        got: u64,
    },
    Resync {
        at_ms: i64,
        products: Vec<String>,
    },
    /// A snapshot or update left this product's best bid at or above its best ask: the book is
    /// marked [`BookState::Crossed`] and a fresh snapshot is asked for (paced).
    Crossed {
        at_ms: i64,
        product: String,
        best_bid: Decimal,
        best_ask: Decimal,
    },
    Disconnected {
        at_ms: i64,
        reason: String,
    },
    Reconnecting {
        at_ms: i64,
        in_ms: u64,
        attempt: u32,
    },
    /// `authentication failure` in answer to a subscribe.
    AuthRejected {
        at_ms: i64,
        channel: String,
        message: String,
        reason: Option<String>,
    },
    /// A subscribe failure whose reason names this product: it is marked
    /// [`BookState::Refused`] and level2 is subscribed again without it.
    ProductRefused {
        at_ms: i64,
        product: String,
        reason: String,
    },
    /// The server refused a connection's level2 subscribe for carrying too many products
    /// (`too many L2 streams requested in a single session`): its products are retried as the
    /// connections listed in `into` (docs/feed.md, "Sharding").
    ConnectionSplit {
        at_ms: i64,
        /// The refused connection's index.
        connection: usize,
        reason: String,
        /// The products of each new connection.
        into: Vec<Vec<String>>,
    },
    /// Most trades of `product` at or beyond the touch carry the side opposite to the maker's:
    /// the feed's `side` looks like the taker's, and the aggressor colours may be inverted
    /// (docs/feed.md, "Trades").
    TradeSidesLookInverted {
        at_ms: i64,
        product: String,
    },
    /// Any other error frame.
    ErrorFrame {
        at_ms: i64,
        message: String,
        reason: Option<String>,
    },
    /// A frame that could not be used (parse error, bad field, over the size limit).
    BadFrame {
        at_ms: i64,
        error: String,
    },
    /// Writing to the `--record` file failed: the recording stopped there (the feed goes on).
    RecordingStopped {
        at_ms: i64,
        path: String,
        error: String,
    },
    /// The key was refused and the measured clock explains it: the subscribes are signed again
    /// with the server's time (this machine's minus `offset_ms`) and sent once more.
    ClockRetry {
        at_ms: i64,
        offset_ms: i64,
    },
    /// Fell back to the public level2 subscribe after the key was refused.
    FellBackToPublic {
        at_ms: i64,
    },
    /// The feed ended (replay done, duration over, shutdown).
    Finished {
        at_ms: i64,
    },
    /// The replay stopped before the end of its file, which is not a recording, has no readable
    /// entry, or cannot be read: `error` says which and what to do. (Headless replay reports it
    /// as its error instead.)
    ReplayFailed {
        at_ms: i64,
        error: String,
    },
}

/// The viewer's end of a running feed.
pub struct FeedHandle {
    pub views: tokio::sync::watch::Receiver<Arc<FeedView>>,
    pub events: tokio::sync::mpsc::Receiver<FeedEvent>,
    pub commands: tokio::sync::mpsc::UnboundedSender<FeedCommand>,
}

#[cfg(test)]
mod tests {
    use super::ServerError;

    fn error(message: &str, reason: &str) -> ServerError {
        ServerError {
            raw: String::new(),
            message: message.to_owned(),
            reason: Some(reason.to_owned()),
            at_ms: 0,
        }
    }

    #[test]
    fn only_a_subscribe_failure_naming_the_whole_id_refuses_a_product() {
        let refused = error("failure to subscribe", "FOO-BAR is not a valid product");
        assert!(refused.is_subscribe_failure());
        assert!(refused.refuses_product("FOO-BAR"));
        assert!(!refused.refuses_product("FOO"));
        assert!(!refused.refuses_product("FOO-BARX"));
        assert!(error("Failed to subscribe", "x FOO-BAR, y").refuses_product("FOO-BAR"));
        for message in [
            "failure to unsubscribe",
            "subscribe or unsubscribe required",
            "authentication failure",
        ] {
            let e = error(message, "FOO-BAR is not a valid product");
            assert!(!e.is_subscribe_failure(), "{message}");
            assert!(!e.refuses_product("FOO-BAR"), "{message}");
        }
    }
}
