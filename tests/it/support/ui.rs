//! Hand-made feed views with fixed times, so that viewer tests and snapshots are reproducible.
// Test support: a panic here is a broken fixture, which is what a test should report.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction, ViewerSetup};
use cbbook::auth::Key;
use cbbook::config::{DisplaySettings, TimeDisplay};
use cbbook::feed::events::{
    Aggressor, AuthView, BookState, ConnectionState, ConnectionView, FeedCommand, FeedStats,
    FeedView, LevelRow, MarketView, PriceTick, ProductView, ServerError, TickerView, TradeRow,
    VolumeRow,
};
use cbbook::ui::DrawState;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;

/// 2026-01-01T00:00:00Z: every fixture time is relative to it.
pub const T0: i64 = 1_767_225_600_000;
pub const ENDPOINT: &str = "wss://advanced-trade-ws.coinbase.com";

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A deterministic side of a book: `rows` levels from `best`, moving away from the mid by 1 to 4
/// buckets of `tick * group` each, sizes with 8 decimals.
pub fn side(
    best: &str,
    tick: &str,
    group: u32,
    rows: usize,
    bid: bool,
    salt: u64,
) -> Vec<LevelRow> {
    let bucket = dec(tick) * Decimal::from(group);
    let mut price = dec(best);
    let mut cum = Decimal::ZERO;
    (0..rows as u64)
        .map(|k| {
            if k > 0 {
                let step = bucket * Decimal::from(1 + (k * 7 + salt) % 4);
                price = if bid { price - step } else { price + step };
            }
            let size = Decimal::new(
                (((k + 1) * 7919 + salt * 104_729) % 250_000_000 + 100_000) as i64,
                8,
            ) * Decimal::from(1 + k % 3);
            cum += size;
            LevelRow {
                price,
                size,
                cum_size: cum,
            }
        })
        .collect()
}

/// A live product whose best bid and ask are given.
pub fn product(name: &str, best_bid: &str, best_ask: &str, tick: &str, rows: usize) -> ProductView {
    product_grouped(name, best_bid, best_ask, tick, 1, rows)
}

pub fn product_grouped(
    name: &str,
    best_bid: &str,
    best_ask: &str,
    tick: &str,
    group: u32,
    rows: usize,
) -> ProductView {
    let bids = side(best_bid, tick, group, rows, true, 3);
    let asks = side(best_ask, tick, group, rows, false, 5);
    let (bid, ask) = (dec(best_bid), dec(best_ask));
    ProductView {
        product: name.to_string(),
        served_as: None,
        state: BookState::Live,
        best_bid: Some((bid, bids[0].size)),
        best_ask: Some((ask, asks[0].size)),
        spread: Some(ask - bid),
        mid: Some((ask + bid) / Decimal::TWO),
        crossed: bid >= ask,
        tick: dec(tick),
        group_ticks: group,
        bid_levels: 22_871,
        ask_levels: 22_734,
        updates: 1_234_567,
        last_change_ms: Some(T0 - 20),
        chart_bids: Vec::new(),
        chart_asks: Vec::new(),
        bids,
        asks,
        market: Default::default(),
    }
}

pub fn btc(rows: usize) -> ProductView {
    product("BTC-USD", "64930.50", "64930.51", "0.01", rows)
}

pub fn eth(rows: usize) -> ProductView {
    product("ETH-USD", "3456.78", "3456.80", "0.01", rows)
}

/// A product still waiting for its snapshot.
pub fn waiting(name: &str) -> ProductView {
    ProductView {
        product: name.to_string(),
        served_as: None,
        state: BookState::Waiting,
        bids: Vec::new(),
        asks: Vec::new(),
        chart_bids: Vec::new(),
        chart_asks: Vec::new(),
        best_bid: None,
        best_ask: None,
        spread: None,
        mid: None,
        crossed: false,
        tick: Decimal::ONE,
        group_ticks: 1,
        bid_levels: 0,
        ask_levels: 0,
        updates: 0,
        last_change_ms: None,
        market: Default::default(),
    }
}

pub fn requested() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("heartbeats".to_string(), Vec::new()),
        (
            "level2".to_string(),
            vec!["BTC-USD".to_string(), "ETH-USD".to_string()],
        ),
    ])
}

pub fn acknowledged() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("heartbeats".to_string(), vec!["heartbeats".to_string()]),
        (
            "level2".to_string(),
            vec!["BTC-USD".to_string(), "ETH-USD".to_string()],
        ),
    ])
}

pub const PUBLIC_SUBSCRIBE: &str =
    r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}"#;
pub const SIGNED_SUBSCRIBE: &str = r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"<redacted>"}"#;

/// Counters of a feed that has run for 83 s, its last frame 150 ms before T0.
pub fn stats(frames: u64, updates: u64) -> FeedStats {
    FeedStats {
        frames,
        updates,
        last_sequence_num: Some(frames),
        heartbeat_counter: Some(75_497),
        last_frame_ms: Some(T0 - 150),
        latency_ms: Some(34),
        connected_since_ms: Some(T0 - 80_000),
        started_ms: T0 - 83_000,
        // Counters the fixtures leave at zero (and any the feed adds later).
        ..FeedStats::default()
    }
}

/// Two live products on a public subscription.
pub fn live_view() -> FeedView {
    FeedView {
        at_ms: T0,
        endpoint: ENDPOINT.to_string(),
        connection: ConnectionState::Subscribed,
        connections: Vec::new(),
        products: vec![btc(40), eth(40)],
        stats: stats(4_180, 52_300),
        auth: AuthView {
            key_configured: false,
            last_jwt: None,
            last_subscribe: Some(PUBLIC_SUBSCRIBE.to_string()),
            refused_subscribe: None,
            last_error: None,
            fell_back_to_public: false,
            requested: requested(),
            acknowledged: acknowledged(),
            ..AuthView::default()
        },
        user: None,
    }
}

/// Just started: connecting, nothing received.
pub fn connecting_view() -> FeedView {
    FeedView {
        at_ms: T0,
        endpoint: ENDPOINT.to_string(),
        connection: ConnectionState::Connecting { attempt: 1 },
        connections: Vec::new(),
        products: vec![waiting("BTC-USD"), waiting("ETH-USD")],
        stats: FeedStats {
            started_ms: T0 - 400,
            ..FeedStats::default()
        },
        auth: AuthView {
            requested: requested(),
            ..AuthView::default()
        },
        user: None,
    }
}

/// BTC-USD lost a message: desynced, its old rows still there, a resync under way.
pub fn resync_view() -> FeedView {
    let mut view = live_view();
    view.products[0].state = BookState::Desynced;
    view.stats.gaps = 1;
    view.stats.resyncs = 1;
    view
}

/// The key was refused: the level2 subscribe got `authentication failure` with a reason.
pub fn auth_refused_view(reason: &str) -> FeedView {
    let mut view = connecting_view();
    view.connection = ConnectionState::Connected;
    view.stats = FeedStats {
        frames: 2,
        last_sequence_num: None,
        last_frame_ms: Some(T0 - 1_200),
        connected_since_ms: Some(T0 - 1_500),
        started_ms: T0 - 1_600,
        errors: 1,
        ..FeedStats::default()
    };
    view.auth = AuthView {
        key_configured: true,
        last_jwt: None,
        last_subscribe: Some(SIGNED_SUBSCRIBE.to_string()),
        refused_subscribe: None,
        last_error: Some(ServerError {
            raw: format!(
                r#"{{"type":"error","message":"authentication failure","reason":"{reason}"}}"#
            ),
            message: "authentication failure".to_string(),
            reason: Some(reason.to_string()),
            at_ms: T0 - 1_200,
        }),
        fell_back_to_public: false,
        requested: requested(),
        acknowledged: BTreeMap::from([("heartbeats".to_string(), vec!["heartbeats".to_string()])]),
        ..AuthView::default()
    };
    view
}

/// Lost the connection; the next attempt is in 2.5 s.
pub fn reconnecting_view() -> FeedView {
    let mut view = live_view();
    view.connection = ConnectionState::Reconnecting {
        reason: "connection reset by peer".to_string(),
        retry_at_ms: T0 + 2_500,
        attempt: 3,
    };
    view.stats.reconnects = 2;
    view.stats.last_frame_ms = Some(T0 - 4_000);
    view.stats.connected_since_ms = None;
    for product in &mut view.products {
        product.state = BookState::Desynced;
    }
    view
}

/// The recording the replay fixtures show.
pub const RECORDING: &str = "/data/recordings/btc-eth-2025-12-31.jsonl";
/// The recorded time a replay has reached: a day before the wall clock (T0).
pub const R0: i64 = T0 - 86_400_000;

/// A replay under way, an hour into a recording made a day ago: its times are recorded ones.
pub fn replay_view() -> FeedView {
    let mut view = live_view();
    view.at_ms = R0;
    view.endpoint = RECORDING.to_string();
    view.connection = ConnectionState::Replaying;
    view.stats.started_ms = 0;
    view.stats.last_frame_ms = Some(R0 - 150);
    view.stats.connected_since_ms = Some(R0 - 3_600_000);
    view.auth.last_subscribe = None;
    view
}

/// The replay reached the end of its recording.
pub fn replay_finished_view() -> FeedView {
    let mut view = replay_view();
    view.connection = ConnectionState::Finished;
    view
}

/// A viewer of a recording.
pub fn replay_setup() -> ViewerSetup {
    ViewerSetup {
        products: Vec::new(),
        endpoint: RECORDING.to_string(),
        replay: true,
        ..setup()
    }
}

/// Trade times in UTC, so that the tape reads the same on every machine.
pub fn setup() -> ViewerSetup {
    ViewerSetup {
        products: vec!["BTC-USD".to_string(), "ETH-USD".to_string()],
        endpoint: ENDPOINT.to_string(),
        key: None,
        display: DisplaySettings {
            time: TimeDisplay::Utc,
            ..DisplaySettings::default()
        },
        demo: false,
        replay: false,
    }
}

/// The committed test-only demo key (ES256), loaded from its name and secret so that no
/// file-permission warning (which depends on the checkout) reaches the snapshots.
pub fn demo_key() -> Arc<Key> {
    let file = demo_key_file();
    let name = file["name"].as_str().unwrap();
    Arc::new(cbbook::auth::load_key_parts(name, &demo_secret()).unwrap())
}

fn demo_key_file() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-key.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The demo key's private key text (to check that none of it reaches the screen).
pub fn demo_secret() -> String {
    demo_key_file()["privateKey"].as_str().unwrap().to_string()
}

/// A setup with the demo key.
pub fn keyed_setup() -> ViewerSetup {
    ViewerSetup {
        key: Some(demo_key()),
        ..setup()
    }
}

/// A WebSocket JWT as the feed would send it, signed at `nbf` with a fixed nonce, so that the
/// token (ES256 signatures are deterministic, RFC 6979) and the screen are reproducible.
pub fn jwt(key: &Key, nbf: i64) -> String {
    let header = serde_json::json!({
        "alg": key.algorithm().as_str(),
        "kid": key.name(),
        "nonce": "5f1c0e9a8b7d6c5f4e3d2c1b0a998877665544332211ffeeddccbbaa99887766",
        "typ": "JWT",
    });
    let claims = serde_json::json!({
        "sub": key.name(),
        "iss": "cdp",
        "nbf": nbf,
        "exp": nbf + 120,
    });
    key.sign_jwt(&header, &claims)
}

/// The refused view, with the JWT that was sent.
pub fn keyed_refused_view(key: &Key, reason: Option<&str>) -> FeedView {
    let mut view = auth_refused_view(reason.unwrap_or(""));
    view.auth.last_jwt = Some(jwt(key, T0 / 1000 - 2));
    if reason.is_none() {
        let error = view.auth.last_error.as_mut().unwrap();
        error.reason = None;
        error.raw = r#"{"type":"error","message":"authentication failure"}"#.to_string();
    }
    view
}

/// The key was refused and the feed fell back to the public subscribe, which is live: the signed
/// subscribe is kept as the refused one, the public one is the last sent.
pub fn keyed_fell_back_view(key: &Key, reason: &str) -> FeedView {
    let mut view = keyed_refused_view(key, Some(reason));
    view.auth.fell_back_to_public = true;
    view.auth.refused_subscribe = view.auth.last_subscribe.take();
    view.auth.last_subscribe = Some(PUBLIC_SUBSCRIBE.to_string());
    view.connection = ConnectionState::Subscribed;
    view.products = live_view().products;
    view.auth.acknowledged = acknowledged();
    view
}

/// Live, with a signed subscribe the server accepted (what `--demo` shows).
pub fn keyed_live_view(key: &Key) -> FeedView {
    let mut view = live_view();
    view.auth.key_configured = true;
    view.auth.last_jwt = Some(jwt(key, T0 / 1000 - 80));
    view.auth.last_subscribe = Some(SIGNED_SUBSCRIBE.to_string());
    view
}

/// A viewer of `width` x `height` at T0 that has received `view`, with the commands it sent.
pub fn app_with(
    setup: ViewerSetup,
    width: u16,
    height: u16,
    view: FeedView,
) -> (App, Vec<FeedCommand>) {
    let mut app = App::new(setup, T0 - 1_000);
    let mut commands = Vec::new();
    commands.extend(app.update(cbbook::ui::resize(width, height)));
    commands.extend(app.update(Action::Tick { now_ms: T0 - 1_000 }));
    // An earlier view a second before, so that rates have a base.
    let mut earlier = view.clone();
    earlier.at_ms = view.at_ms - 1_000;
    earlier.stats.frames = earlier.stats.frames.saturating_sub(52);
    earlier.stats.updates = earlier.stats.updates.saturating_sub(1_310);
    commands.extend(app.update(Action::View(Arc::new(earlier))));
    commands.extend(app.update(Action::Tick { now_ms: T0 }));
    commands.extend(app.update(Action::View(Arc::new(view))));
    (app, commands)
}

pub fn app(width: u16, height: u16, view: FeedView) -> App {
    app_with(setup(), width, height, view).0
}

pub fn key(app: &mut App, key: KeyAction) -> Vec<FeedCommand> {
    app.update(Action::Key(key))
}

/// The screen as text, one quoted line per row (TestBackend's own format): a first frame,
/// drawn with nothing kept from earlier ones (see [`Frames`] for a run of frames).
pub fn screen(app: &App) -> String {
    let (w, h) = (app_size(app).0, app_size(app).1);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawing = DrawState::default();
    terminal
        .draw(|frame| cbbook::ui::draw(frame, app, &mut drawing))
        .unwrap();
    terminal.backend().to_string()
}

/// The buffer of one frame, to check styles.
pub fn buffer(app: &App) -> ratatui::buffer::Buffer {
    let (w, h) = app_size(app);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawing = DrawState::default();
    terminal
        .draw(|frame| cbbook::ui::draw(frame, app, &mut drawing))
        .unwrap();
    terminal.backend().buffer().clone()
}

/// Frames drawn one after another as the event loop draws them: what the drawing keeps (the
/// ladder's columns) carries over, and each frame's measures go back to the App.
#[derive(Default)]
pub struct Frames {
    drawing: DrawState,
}

impl Frames {
    /// The next frame, as text (see [`screen`]).
    pub fn screen(&mut self, app: &mut App) -> String {
        let (w, h) = app_size(app);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|frame| cbbook::ui::draw(frame, app, &mut self.drawing))
            .unwrap();
        app.update(Action::Measured(self.drawing.measured()));
        terminal.backend().to_string()
    }
}

fn app_size(app: &App) -> (u16, u16) {
    app.size()
}

/// Base currencies of the many-product fixtures (with four quotes each: 200 products).
const BASES: [&str; 50] = [
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "POL", "LTC", "BCH", "UNI",
    "ATOM", "XLM", "ETC", "FIL", "APT", "ARB", "OP", "NEAR", "ICP", "HBAR", "VET", "ALGO", "AAVE",
    "MKR", "SNX", "CRV", "COMP", "GRT", "SAND", "MANA", "AXS", "SHIB", "PEPE", "BONK", "WIF",
    "SUI", "SEI", "TIA", "INJ", "RNDR", "FET", "IMX", "STX", "EGLD", "FLOW", "XTZ", "EOS",
];
const QUOTES: [&str; 4] = ["USD", "USDC", "EUR", "USDT"];

/// `n` (up to 200) products with deterministic books: prices over five orders of magnitude,
/// spreads of 1 to 9 ticks, every 17th resyncing and every 29th still waiting for its snapshot
/// (no prices: such rows sort last). Updates grow with the index, so that updates/s differ.
pub fn many_products(n: usize) -> Vec<ProductView> {
    (0..n)
        .map(|i| {
            let name = format!("{}-{}", BASES[i % 50], QUOTES[(i / 50) % 4]);
            if i % 29 == 28 {
                return waiting(&name);
            }
            let cents = ((i as i64 * 7_919) % 9_000 + 100) * 10_i64.pow((i % 5) as u32);
            let bid = Decimal::new(cents, 2);
            let ask = bid + Decimal::new(1 + (i as i64 * 37) % 9, 2);
            let mut p = product(&name, &bid.to_string(), &ask.to_string(), "0.01", 4);
            p.bid_levels = 500 + (i * 131) % 20_000;
            p.ask_levels = 400 + (i * 173) % 20_000;
            p.updates = 1_000_000 + i as u64 * 1_000;
            if i % 17 == 16 {
                p.state = BookState::Desynced;
            }
            p
        })
        .collect()
}

/// A live session of `n` products (see [`many_products`]).
pub fn many_view(n: usize) -> FeedView {
    FeedView {
        products: many_products(n),
        ..live_view()
    }
}

/// A viewer of `width` x `height` at T0 showing `view`, after an earlier view a second before in
/// which product `i` had `3 * i + 7` fewer updates: its updates/s is `3 * i + 7`.
pub fn app_with_rates(setup: ViewerSetup, width: u16, height: u16, view: FeedView) -> App {
    let mut app = App::new(setup, T0 - 1_000);
    app.update(cbbook::ui::resize(width, height));
    app.update(Action::Tick { now_ms: T0 - 1_000 });
    let mut earlier = view.clone();
    earlier.at_ms = view.at_ms - 1_000;
    earlier.stats.frames = earlier.stats.frames.saturating_sub(52);
    earlier.stats.updates = earlier.stats.updates.saturating_sub(1_310);
    for (i, p) in earlier.products.iter_mut().enumerate() {
        p.updates = p.updates.saturating_sub(3 * i as u64 + 7);
    }
    app.update(Action::View(Arc::new(earlier)));
    app.update(Action::Tick { now_ms: T0 });
    app.update(Action::View(Arc::new(view)));
    app
}

/// `count` connections, `down` of them (the last ones) reconnecting, sharing `products` in turn.
pub fn connections(count: usize, down: usize, products: &[String]) -> Vec<ConnectionView> {
    (0..count)
        .map(|index| {
            let mine: Vec<String> = products
                .iter()
                .skip(index)
                .step_by(count)
                .cloned()
                .collect();
            let is_down = index >= count - down;
            ConnectionView {
                index,
                products: mine,
                state: if is_down {
                    ConnectionState::Reconnecting {
                        reason: "connection reset by peer".to_string(),
                        retry_at_ms: T0 + 1_500,
                        attempt: 2,
                    }
                } else {
                    ConnectionState::Subscribed
                },
                last_sequence_num: (!is_down).then_some(4_000 + index as u64 * 37),
                reconnects: if is_down { 2 } else { index as u64 % 2 },
                connected_since_ms: (!is_down).then_some(T0 - 80_000 + index as i64 * 1_000),
                clock: None,
            }
        })
        .collect()
}

/// `count` trades of BTC-USD, newest first, the newest 150 ms before T0, at the prices of the
/// [`btc`] fixture's best levels: buyers lift the asks (64930.51, .52, .56; maker `SELL`),
/// sellers hit the bids (64930.50, .47, .45; maker `BUY`). Every fifth trade is the same taker's
/// as the one before (same time, same side: an order filling a second level), every 13th one
/// is big (1.5 and more), the others small.
pub fn btc_trades(count: usize) -> Vec<TradeRow> {
    const ASKS: [&str; 3] = ["64930.51", "64930.52", "64930.56"];
    const BIDS: [&str; 3] = ["64930.50", "64930.47", "64930.45"];
    let mut time = T0 - 150;
    let mut buyer = true;
    let mut trades = Vec::with_capacity(count);
    for k in 0..count as u64 {
        let same_taker = k % 5 == 4;
        if k > 0 && !same_taker {
            time -= 37 + ((k * 53) % 400) as i64;
            buyer = (k * 7 + 3) % 5 < 3;
        }
        let prices = if buyer { ASKS } else { BIDS };
        let price = prices[if same_taker { 1 } else { (k % 2) as usize }];
        let size = if k % 13 == 6 {
            Decimal::new(150_000_000 + (k as i64 * 1_234_567) % 90_000_000, 8)
        } else {
            Decimal::new(((k * 7_919 + 104_729) % 9_000_000 + 10_000) as i64, 8)
        };
        let side = if buyer { "SELL" } else { "BUY" };
        trades.push(TradeRow {
            trade_id: (900_000_000 - k).to_string().into(),
            time_ms: time,
            price: dec(price),
            size,
            side: side.to_string().into(),
            aggressor: Aggressor::from_maker_side(side).unwrap(),
        });
    }
    trades
}

/// The volume at each price of `trades` (ungrouped), highest price first, as the feed sends it.
pub fn volume_of(trades: &[TradeRow]) -> Vec<VolumeRow> {
    let mut by_price: BTreeMap<Decimal, (Decimal, Decimal)> = BTreeMap::new();
    for t in trades {
        let (bought, sold) = by_price.entry(t.price).or_default();
        match t.aggressor {
            Aggressor::Buy => *bought += t.size,
            Aggressor::Sell => *sold += t.size,
        }
    }
    by_price
        .into_iter()
        .rev()
        .map(|(price, (bought, sold))| VolumeRow {
            price,
            bought,
            sold,
        })
        .collect()
}

/// BTC-USD's market with 80 trades on the tape and volume at price, its ticker, and 12,345
/// trades since start; the last trade was a buyer's, up from the trade before.
pub fn btc_market() -> MarketView {
    let tape = btc_trades(80);
    let minute: Vec<&TradeRow> = tape.iter().filter(|t| t.time_ms > T0 - 60_150).collect();
    let sum = |aggressor| {
        minute
            .iter()
            .filter(|t| t.aggressor == aggressor)
            .map(|t| t.size)
            .sum::<Decimal>()
    };
    MarketView {
        last_trade: tape.first().cloned(),
        tick: PriceTick::Up,
        ticker: Some(TickerView {
            price: tape.first().map(|t| t.price),
            volume_24_h: Some(dec("12345.67891234")),
            price_percent_chg_24_h: Some(dec("-1.23456")),
            high_24_h: Some(dec("65800.00")),
            low_24_h: Some(dec("63950.12")),
            at_ms: T0 - 140,
        }),
        trades: 12_345,
        bought_1m: sum(Aggressor::Buy),
        sold_1m: sum(Aggressor::Sell),
        volume_at_price: volume_of(&tape),
        tape,
        big_size: Some(dec("1.5")),
        sides_look_inverted: false,
        heatmap: None,
    }
}

/// [`live_view`] with BTC-USD's trades and ticker ([`btc_market`]), and ETH-USD's last trade
/// and ticker (for the watchlist's columns).
pub fn trades_view() -> FeedView {
    let mut view = live_view();
    view.products[0].market = btc_market();
    let eth_trade = TradeRow {
        trade_id: "5".into(),
        time_ms: T0 - 900,
        price: dec("3456.79"),
        size: dec("0.25"),
        side: "BUY".into(),
        aggressor: Aggressor::Sell,
    };
    view.products[1].market = MarketView {
        last_trade: Some(eth_trade),
        tick: PriceTick::Down,
        ticker: Some(TickerView {
            price: Some(dec("3456.79")),
            price_percent_chg_24_h: Some(dec("2.5")),
            ..TickerView::default()
        }),
        trades: 4_321,
        ..MarketView::default()
    };
    view
}

/// A viewer of `width` x `height` showing [`trades_view`], 300 trades of BTC-USD in the second
/// before (so that trades/s is 300).
pub fn app_with_trades(setup: ViewerSetup, width: u16, height: u16) -> App {
    let view = trades_view();
    let mut app = App::new(setup, T0 - 1_000);
    app.update(cbbook::ui::resize(width, height));
    app.update(Action::Tick { now_ms: T0 - 1_000 });
    let mut earlier = view.clone();
    earlier.at_ms = view.at_ms - 1_000;
    earlier.stats.frames = earlier.stats.frames.saturating_sub(52);
    earlier.stats.updates = earlier.stats.updates.saturating_sub(1_310);
    earlier.products[0].market.trades -= 300;
    app.update(Action::View(Arc::new(earlier)));
    app.update(Action::Tick { now_ms: T0 });
    app.update(Action::View(Arc::new(view)));
    app
}

pub const USER_ENDPOINT: &str = "wss://advanced-trade-ws-user.coinbase.com";
pub const USER_SUBSCRIBE: &str =
    r#"{"type":"subscribe","product_ids":[],"channel":"user","jwt":"<redacted>"}"#;

/// The user connection of a keyed session: subscribed with a JWT signed at T0 - 60 s (another
/// token than the market data's), its ack in; refused with `reason` when given.
pub fn keyed_user_view(key: &Key, refused: Option<&str>) -> cbbook::feed::user_events::UserView {
    let mut auth = AuthView {
        key_configured: true,
        last_jwt: Some(jwt(key, T0 / 1000 - 60)),
        last_subscribe: Some(USER_SUBSCRIBE.to_string()),
        signed_with: Some(cbbook::auth::clock::SignedWith::Local),
        ..AuthView::default()
    };
    auth.requested.insert("user".to_string(), Vec::new());
    auth.requested.insert("heartbeats".to_string(), Vec::new());
    let refusal = refused.map(|reason| ServerError {
        raw: format!(
            r#"{{"type":"error","message":"authentication failure","reason":"{reason}"}}"#
        ),
        message: "authentication failure".to_string(),
        reason: Some(reason.to_string()),
        at_ms: T0 - 3_000,
    });
    if refusal.is_none() {
        let ack: BTreeMap<String, Vec<String>> = [
            ("heartbeats".to_string(), vec!["heartbeats".to_string()]),
            ("user".to_string(), vec!["user".to_string()]),
        ]
        .into_iter()
        .collect();
        auth.acknowledged = ack;
    }
    auth.last_error = refusal.clone();
    cbbook::feed::user_events::UserView {
        endpoint: USER_ENDPOINT.to_string(),
        connection: if refusal.is_some() {
            ConnectionState::Connected
        } else {
            ConnectionState::Subscribed
        },
        refused: refusal,
        snapshot_complete: refused.is_none(),
        orders: Vec::new(),
        fills: Vec::new(),
        auth,
        frames: 4,
        reconnects: 0,
        malformed_orders: 0,
        gaps: 0,
    }
}
