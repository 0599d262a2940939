//! Heatmap benchmarks on the real BTC-USD book (tests/fixtures): one sample of the book (what
//! the feed pays every interval per product), the pane drawn at 200x60 into a `TestBackend`
//! terminal over 200 columns of history, and the memory a product's history takes.
//! `cargo bench --bench heatmap`; `cargo test` runs each once.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction, ViewerSetup};
use cbbook::book::Side;
use cbbook::feed::core::FeedCore;
use cbbook::feed::core::heatmap::{DEFAULT_DEPTH, column};
use cbbook::feed::events::FeedCommand;
use cbbook::sim::{self, SimConfig};
use cbbook::ui;
use criterion::Criterion;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// 2026-08-07T20:04:09Z: a second after the snapshot.
const NOW_MS: i64 = 1_786_133_049_000;
const CENT: u128 = 10_000_000_000;

/// The real book's snapshot frames.
fn snapshot_frames() -> Vec<String> {
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
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A core with the real book and `seconds` of history: each second one level near the touch
/// changes, so the columns differ.
fn core_with_history(seconds: i64) -> FeedCore {
    let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    let history = cbbook::feed::core::heatmap::HeatSettings::new(1_000, seconds * 1_000);
    core.set_heatmap(history);
    core.connection_started(0, false);
    let start = NOW_MS - seconds * 1_000;
    let frames = snapshot_frames();
    let mut seq = 0;
    for frame in &frames {
        core.on_frame(frame, start - 500);
        seq += 1;
    }
    let best = core
        .product("BTC-USD")
        .unwrap()
        .book
        .best_level(Side::Bid)
        .unwrap()
        .0;
    for s in 0..seconds {
        let price = best.units() - (s as u128 % 40) * CENT;
        let price = rust_decimal::Decimal::from_i128_with_scale(price as i128, 12).normalize();
        let frame = format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-08-07T20:04:09Z","sequence_num":{seq},"events":[{{"type":"update","product_id":"BTC-USD","updates":[{{"side":"bid","event_time":"2026-08-07T20:04:09Z","price_level":"{price}","new_quantity":"{}.5"}}]}}]}}"#,
            1 + s % 9
        );
        core.on_frame(&frame, start + s * 1_000);
        seq += 1;
    }
    core
}

/// A 200x60 viewer with the heatmap open, showing `core`'s history.
fn heatmap_app(core: &mut FeedCore) -> App {
    let setup = ViewerSetup {
        products: vec!["BTC-USD".into()],
        endpoint: "bench".into(),
        ..ViewerSetup::default()
    };
    let mut app = App::new(setup, NOW_MS);
    app.update(ui::resize(WIDTH, HEIGHT));
    let mut request = None;
    for command in app.update(Action::Key(KeyAction::ToggleHeatmap)) {
        if let FeedCommand::SetView(r) = command {
            request = Some(r);
        }
    }
    let request = request.unwrap();
    core.heat_follow(&request);
    let view = core.view(&request, NOW_MS);
    let samples = view.products[0]
        .market
        .heatmap
        .as_ref()
        .unwrap()
        .samples
        .len();
    assert!(samples >= 190, "history for the whole pane: {samples}");
    app.update(Action::View(Arc::new(view)));
    app
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("heatmap");
    let mut core = core_with_history(240);
    let book = &core.product("BTC-USD").unwrap().book;
    for (name, group_cents) in [
        ("sample_real_book_1_tick", 1),
        ("sample_real_book_100_ticks", 100),
    ] {
        let c = column(book, CENT * group_cents, DEFAULT_DEPTH);
        assert!(!c.bids.is_empty() && !c.asks.is_empty(), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| black_box(column(black_box(book), CENT * group_cents, DEFAULT_DEPTH)))
        });
    }
    let app = heatmap_app(&mut core);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    let mut drawing = ui::DrawState::default();
    group.bench_function("draw_pane_200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| ui::draw(frame, &app, &mut drawing))
                .unwrap();
        })
    });
    group.finish();
    // Memory: an hour of 1 s columns of the real book, at the default depth (the default ring
    // keeps 30 minutes: made an hour long here).
    let hour = core_with_history(3_600);
    let mut full = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    full.set_heatmap(cbbook::feed::core::heatmap::HeatSettings::new(
        1_000, 3_600_000,
    ));
    drop(full);
    let ring = &hour.product("BTC-USD").unwrap().heat;
    eprintln!(
        "heatmap memory: {} columns, {:.2} MB for the product's history ({} buckets a side)",
        ring.samples().len(),
        ring.heap_bytes() as f64 / 1e6,
        DEFAULT_DEPTH
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
