//! Viewer benchmarks on the real BTC-USD book (tests/fixtures): the feed building the view the
//! viewer asks for at 200x60 (top-N rows with grouping, and the depth chart's levels), and the
//! viewer drawing a whole 200x60 frame, into a buffer and through a `Terminal<TestBackend>`:
//! the ladder alone, with the depth chart, and with the tape (trades made up at the book's best
//! prices, as many as the open tape asks for, with a ticker and volume at price).
//! `cargo bench --bench render`; `cargo test` runs each once.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction, ViewerSetup};
use cbbook::config::DisplaySettings;
use cbbook::feed::core::FeedCore;
use cbbook::sim::{self, SimConfig};
use cbbook::ui;
use criterion::Criterion;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// 2026-08-07T20:04:09Z: a second after the snapshot.
const NOW_MS: i64 = 1_786_133_049_000;

/// A feed core holding the real book, as it is right after the snapshot.
fn core() -> FeedCore {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
    let mut config = SimConfig {
        products: Vec::new(),
        ..SimConfig::default()
    };
    config.add_book_file(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.jsonl");
    sim::write_corpus(&config, &path, 0, false).unwrap();
    let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    core.connection_started(0, false);
    for frame in std::fs::read_to_string(&path).unwrap().lines() {
        core.on_frame(frame, NOW_MS - 1000);
    }
    core
}

/// A 200x60 viewer showing `core`'s book, grouped by `group` ticks, with the depth chart open
/// when `chart`.
fn app(core: &FeedCore, group: u32, chart: bool) -> App {
    app_with(
        core,
        group,
        &[if chart {
            Some(KeyAction::ToggleChart)
        } else {
            None
        }],
    )
}

/// A 200x60 viewer showing `core`'s book with the tape open (and the volume column when
/// `volume`), its market filled with trades as the feed would fill it for that request.
fn tape_app(core: &FeedCore, volume: bool) -> App {
    let mut keys = vec![Some(KeyAction::ToggleTape)];
    if volume {
        keys.push(Some(KeyAction::ToggleVolume));
    }
    app_with(core, 1, &keys)
}

/// `count` trades, newest first, at the real book's best prices: buyers at the ask, sellers at
/// the bid, every fourth the same taker as the one before, sizes with 8 decimals.
fn trades(count: usize) -> Vec<cbbook::feed::events::TradeRow> {
    use cbbook::feed::events::{Aggressor, TradeRow};
    use rust_decimal::Decimal;
    let mut time = NOW_MS - 50;
    let mut buyer = true;
    (0..count as i64)
        .map(|k| {
            if k % 4 != 3 {
                time -= 20 + (k * 37) % 300;
                buyer = (k * 7 + 1) % 3 != 0;
            }
            let side = if buyer { "SELL" } else { "BUY" };
            TradeRow {
                trade_id: (8_000_000_000 - k).to_string().into(),
                time_ms: time,
                price: (if buyer { BEST_ASK } else { BEST_BID }).parse().unwrap(),
                size: Decimal::new((k * 7_919 + 10_007) % 50_000_000 + 1_000, 8),
                side: side.to_owned().into(),
                aggressor: Aggressor::from_maker_side(side).unwrap(),
            }
        })
        .collect()
}

/// The market the feed would send for `request`: its tape depth of trades, a ticker, and the
/// volume at the two prices traded.
fn market(request: &cbbook::feed::events::ViewRequest) -> cbbook::feed::events::MarketView {
    use cbbook::feed::events::{Aggressor, MarketView, PriceTick, TickerView, VolumeRow};
    use rust_decimal::Decimal;
    let tape = trades(request.tape_depth);
    let side = |a| {
        tape.iter()
            .filter(|t| t.aggressor == a)
            .map(|t| t.size)
            .sum::<Decimal>()
    };
    MarketView {
        last_trade: tape.first().cloned(),
        tick: PriceTick::Up,
        ticker: Some(TickerView {
            price: tape.first().map(|t| t.price),
            volume_24_h: Some("8123.45678901".parse().unwrap()),
            price_percent_chg_24_h: Some("1.0512".parse().unwrap()),
            high_24_h: Some("65400.00".parse().unwrap()),
            low_24_h: Some("63980.10".parse().unwrap()),
            at_ms: NOW_MS - 40,
        }),
        trades: 123_456,
        bought_1m: side(Aggressor::Buy),
        sold_1m: side(Aggressor::Sell),
        volume_at_price: if request.volume_at_price {
            vec![
                VolumeRow {
                    price: BEST_ASK.parse().unwrap(),
                    bought: side(Aggressor::Buy),
                    sold: Decimal::ZERO,
                },
                VolumeRow {
                    price: BEST_BID.parse().unwrap(),
                    bought: Decimal::ZERO,
                    sold: side(Aggressor::Sell),
                },
            ]
        } else {
            Vec::new()
        },
        big_size: Some("0.4".parse().unwrap()),
        tape,
        sides_look_inverted: false,
        heatmap: None,
    }
}

/// A 200x60 viewer of `core`'s book grouped by `group` ticks after `keys`, its view built for
/// its request (with the trades a feed would add: [`market`]).
fn app_with(core: &FeedCore, group: u32, keys: &[Option<KeyAction>]) -> App {
    let setup = ViewerSetup {
        products: vec!["BTC-USD".to_owned()],
        endpoint: "wss://advanced-trade-ws.coinbase.com".to_owned(),
        key: None,
        display: DisplaySettings {
            group_ticks: group,
            time: cbbook::config::TimeDisplay::Utc,
            ..DisplaySettings::default()
        },
        demo: false,
        replay: false,
    };
    let mut app = App::new(setup, NOW_MS);
    app.update(cbbook::ui::resize(WIDTH, HEIGHT));
    for key in keys.iter().flatten() {
        app.update(Action::Key(*key));
    }
    let request = app.view_request();
    let mut view = core.view(&request, NOW_MS);
    if request.tape_depth > 0 {
        view.products[0].market = market(&request);
    }
    app.update(Action::View(Arc::new(view)));
    app
}

/// A 200x60 viewer of `n` products with the watchlist open, sorted by spread bps (descending:
/// the rows the bench draws are from all over the session).
fn watchlist_app(n: usize) -> App {
    use cbbook::feed::events::{
        AuthView, BookState, ConnectionState, FeedStats, FeedView, ProductView,
    };
    use rust_decimal::Decimal;
    let names: Vec<String> = (0..n).map(|i| format!("P{i:03}-USD")).collect();
    let products = |updates: u64| -> Vec<ProductView> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let bid = Decimal::new(((i as i64 * 7_919) % 9_000 + 100) * 100, 2);
                let ask = bid + Decimal::new(1 + (i as i64 * 37) % 9, 2);
                ProductView {
                    product: name.clone(),
                    served_as: None,
                    state: BookState::Live,
                    bids: Vec::new(),
                    asks: Vec::new(),
                    chart_bids: Vec::new(),
                    chart_asks: Vec::new(),
                    best_bid: Some((bid, Decimal::ONE)),
                    best_ask: Some((ask, Decimal::ONE)),
                    spread: Some(ask - bid),
                    mid: Some((ask + bid) / Decimal::TWO),
                    crossed: false,
                    tick: Decimal::new(1, 2),
                    group_ticks: 1,
                    bid_levels: 1_000 + i,
                    ask_levels: 2_000 + i,
                    updates: updates + i as u64 * 10,
                    last_change_ms: Some(NOW_MS - 10),
                    market: Default::default(),
                }
            })
            .collect()
    };
    let view = |at_ms: i64, updates: u64| FeedView {
        at_ms,
        endpoint: "wss://advanced-trade-ws.coinbase.com".to_owned(),
        connection: ConnectionState::Subscribed,
        connections: Vec::new(),
        products: products(updates),
        stats: FeedStats {
            frames: updates,
            last_frame_ms: Some(at_ms - 10),
            connected_since_ms: Some(NOW_MS - 60_000),
            ..FeedStats::default()
        },
        auth: AuthView::default(),
        user: None,
    };
    let setup = ViewerSetup {
        products: names.clone(),
        endpoint: "wss://advanced-trade-ws.coinbase.com".to_owned(),
        key: None,
        display: DisplaySettings::default(),
        demo: false,
        replay: false,
    };
    let mut app = App::new(setup, NOW_MS - 1_000);
    app.update(cbbook::ui::resize(WIDTH, HEIGHT));
    app.update(Action::View(Arc::new(view(NOW_MS - 1_000, 1_000))));
    app.update(Action::Tick { now_ms: NOW_MS });
    app.update(Action::View(Arc::new(view(NOW_MS, 5_000))));
    app.update(Action::Key(KeyAction::ToggleWatchlist));
    for _ in 0..3 {
        app.update(Action::Key(KeyAction::CycleSort));
    }
    app
}

/// The real book's best prices (tests/fixtures/btc-usd-l2-2026-08-07.json.gz, captured from Coinbase).
const BEST_BID: &str = "64930.57";
const BEST_ASK: &str = "64934.09";

/// The text of a buffer, row by row.
fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Checks, outside the timings and in `cargo test --benches` too, that the screens benched are
/// the real book: its best prices on the ladder, and full ladders in the views. A broken view or
/// renderer panics here instead of timing an empty screen.
fn check_screen(buf: &Buffer, what: &str) {
    let screen = text(buf);
    for price in [BEST_BID, BEST_ASK] {
        assert!(
            screen.contains(price),
            "{what}: the best price {price} is not on the screen:\n{screen}"
        );
    }
}

/// The tape is drawn full: a line of trades on each of its rows.
fn check_tape(buf: &Buffer, what: &str) {
    let screen = text(buf);
    // Lines of the tape start with a time, `HH:MM:SS.mmm`, after the pane's border.
    let lines = screen
        .lines()
        .filter_map(|l| l.split_once("│ ").map(|(_, rest)| rest.as_bytes()))
        .filter(|rest| rest.len() > 12 && rest[2] == b':' && rest[8] == b'.')
        .count();
    let rows = ui::layout::tape_rows(WIDTH, HEIGHT);
    assert!(
        screen.contains("trades · BTC-USD") && lines == rows,
        "{what}: {lines} tape lines of {rows}:\n{screen}"
    );
}

fn check_view(core: &FeedCore, app: &App, what: &str) {
    let request = app.view_request();
    let view = core.view(&request, NOW_MS);
    let book = &view.products[0];
    assert!(request.depth > 10, "{what}: {request:?}");
    assert_eq!(
        (book.bids.len(), book.asks.len()),
        (request.depth, request.depth),
        "{what}: ladder rows"
    );
    assert_eq!(
        (book.chart_bids.len(), book.chart_asks.len()),
        (request.chart_depth, request.chart_depth),
        "{what}: chart rows"
    );
}

fn benches(c: &mut Criterion) {
    let core = core();
    let mut group = c.benchmark_group("render");

    for (name, ticks, chart) in [
        ("view_200x60_ladder", 1, false),
        ("view_200x60_ladder_grouped_100", 100, false),
        ("view_200x60_ladder_and_chart", 1, true),
    ] {
        let viewer = app(&core, ticks, chart);
        check_view(&core, &viewer, name);
        let request = viewer.view_request();
        group.bench_function(name, |b| {
            b.iter(|| black_box(core.view(black_box(&request), NOW_MS)))
        });
    }

    let area = Rect::new(0, 0, WIDTH, HEIGHT);
    for (name, app) in [
        ("render_200x60_ladder", app(&core, 1, false)),
        ("render_200x60_ladder_and_chart", app(&core, 1, true)),
        ("render_200x60_ladder_and_tape", tape_app(&core, false)),
        (
            "render_200x60_ladder_tape_and_volume",
            tape_app(&core, true),
        ),
    ] {
        let mut buf = Buffer::empty(area);
        // Kept across frames, as the event loop keeps it.
        let mut drawing = ui::DrawState::default();
        ui::render(&app, &mut drawing, area, &mut buf);
        check_screen(&buf, name);
        if app.tape_open() {
            check_tape(&buf, name);
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.reset();
                ui::render(black_box(&app), &mut drawing, area, &mut buf);
            })
        });
    }

    // The watchlist of 200 products at 200x60, as the event loop redraws it: the order is the
    // App's (sorted at most once a second), the draw formats the rows in sight.
    let watch = watchlist_app(200);
    let mut buf = Buffer::empty(area);
    let mut drawing = ui::DrawState::default();
    ui::render(&watch, &mut drawing, area, &mut buf);
    let screen = text(&buf);
    assert!(
        screen.contains("watchlist  200 products") && screen.contains("P199-USD"),
        "watchlist_200x60_200_rows:\n{screen}"
    );
    group.bench_function("watchlist_200x60_200_rows", |b| {
        b.iter(|| {
            buf.reset();
            ui::render(black_box(&watch), &mut drawing, area, &mut buf);
        })
    });

    // Through the terminal: two screens that differ in every ladder row (another grouping),
    // alternately, so that each draw diffs and writes a full frame as the viewer's does; with
    // the depth chart, and with the tape (whose trades also differ: another tape each time).
    let tape = |group, offset: i64| {
        let mut app = app_with(&core, group, &[Some(KeyAction::ToggleTape)]);
        let request = app.view_request();
        let mut view = core.view(&request, NOW_MS);
        let mut market = market(&request);
        for t in &mut market.tape {
            t.time_ms -= offset;
        }
        view.products[0].market = market;
        app.update(Action::View(Arc::new(view)));
        app
    };
    for (name, screens) in [
        (
            "draw_200x60_terminal_changed_frame",
            [app(&core, 1, true), app(&core, 2, true)],
        ),
        (
            "draw_200x60_terminal_ladder_and_tape",
            [tape(1, 0), tape(2, 1)],
        ),
    ] {
        let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
        let mut drawings = [ui::DrawState::default(), ui::DrawState::default()];
        terminal
            .draw(|frame| ui::draw(frame, &screens[0], &mut drawings[0]))
            .unwrap();
        check_screen(terminal.backend().buffer(), name);
        if screens[0].tape_open() {
            check_tape(terminal.backend().buffer(), name);
        }
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                next ^= 1;
                terminal
                    .draw(|frame| ui::draw(frame, &screens[next], &mut drawings[next]))
                    .unwrap();
            })
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
