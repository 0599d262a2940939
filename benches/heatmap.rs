//! Heatmap benchmarks on the real BTC-USD book (tests/fixtures): one sample of the book (what
//! the feed pays every interval per product), the replay corpus through `FeedCore` with sampling
//! on (the default 1 s interval) and off (the share sampling takes of the replay's apply time is
//! (on - off) / off), the pane drawn at 200x60 into a `TestBackend` terminal over 200 columns of
//! history, and the memory a product's history takes.
//! `cargo bench --bench heatmap`; `cargo test --benches` runs each once (on a smaller corpus).
//!
//! For repeatable instruction counts, run one replay a fixed number of times under valgrind:
//! `CBBOOK_BENCH_FIXED=on valgrind --tool=callgrind target/release/deps/heatmap-HASH --bench`,
//! then the same with `off`, and `none` (setup only) to subtract from both;
//! `CBBOOK_BENCH_ROUNDS` (default 1).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction, ViewerSetup};
use cbbook::book::Side;
use cbbook::feed::core::FeedCore;
use cbbook::feed::core::heatmap::{DEFAULT_DEPTH, HeatSettings, column};
use cbbook::feed::events::{ConnectionState, FeedCommand};
use cbbook::feed::time::TimestampCache;
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

/// Level updates in the replay corpus: the corpus BENCHMARKS.md replays (`cbbook sim
/// --write-corpus CORPUS --updates 500000 --seed 1`, 6,250 recorded seconds); a tenth of it when
/// `cargo test` runs the bench once.
const REPLAY_UPDATES: u64 = 500_000;

/// The replay corpus: every frame with the receive time replay gives a bare frame (its envelope
/// timestamp), worked out here so the timings hold only the core's work.
struct Replay {
    frames: Vec<(Vec<u8>, i64)>,
    /// Recorded seconds from the first frame to the last.
    seconds: i64,
}

fn replay_corpus(updates: u64) -> Replay {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
    let mut config = SimConfig {
        products: Vec::new(),
        seed: 1,
        ..SimConfig::default()
    };
    config.add_book_file(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.jsonl");
    sim::write_corpus(&config, &path, updates, false).unwrap();
    let text = std::fs::read(&path).unwrap();
    let mut timestamps = TimestampCache::default();
    let mut t_ms = 0;
    let key = br#""timestamp":""#;
    let frames: Vec<(Vec<u8>, i64)> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let head = &line[..line.len().min(512)];
            if let Some(at) = head.windows(key.len()).position(|w| w == key) {
                let rest = &line[at + key.len()..];
                let end = rest.iter().position(|&b| b == b'"').unwrap();
                t_ms = timestamps.ms(&rest[..end]).unwrap();
            }
            (line.to_vec(), t_ms)
        })
        .collect();
    let seconds = (frames.last().unwrap().1 - frames[0].1) / 1_000;
    Replay { frames, seconds }
}

/// A core as replay makes one for a bare recording, sampling as `heat` says.
fn replay_core(heat: HeatSettings) -> FeedCore {
    let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    core.set_connection(ConnectionState::Replaying);
    core.set_heatmap(heat);
    core.set_restart_on_zero(true);
    core
}

/// The whole corpus, snapshot first, through `core`: what a replay applies.
fn replay(core: &mut FeedCore, corpus: &Replay) {
    core.connection_started(corpus.frames[0].1, false);
    core.set_connection(ConnectionState::Replaying);
    for (frame, t_ms) in &corpus.frames {
        core.on_frame_bytes(frame, *t_ms);
    }
    core.drain_events().for_each(drop);
}

/// Checks, outside the timings, that both replays apply the corpus cleanly to the same book and
/// that only the one told to samples, once a recorded second.
fn check_replays(corpus: &Replay) {
    let mut on = replay_core(HeatSettings::default());
    let mut off = replay_core(HeatSettings::off());
    replay(&mut on, corpus);
    replay(&mut off, corpus);
    for core in [&on, &off] {
        let stats = core.stats();
        assert_eq!((stats.gaps, stats.errors, stats.bad_frames), (0, 0, 0));
    }
    assert_eq!(on.stats().updates, off.stats().updates);
    let ring = on.product("BTC-USD").unwrap().heat.samples();
    let expected = usize::try_from(corpus.seconds).unwrap().min(30 * 60);
    assert!(
        ring.len().abs_diff(expected) <= 1,
        "{} samples for {} s",
        ring.len(),
        corpus.seconds
    );
    assert!(ring.iter().all(|s| !s.suspect && !s.book.bids.is_empty()));
    assert!(off.product("BTC-USD").unwrap().heat.samples().is_empty());
}

/// Whether criterion times (`cargo bench`) rather than runs each bench once (`cargo test`).
fn timing() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn replay_benches(c: &mut Criterion) {
    let corpus = replay_corpus(if timing() {
        REPLAY_UPDATES
    } else {
        REPLAY_UPDATES / 10
    });
    check_replays(&corpus);
    let mut group = c.benchmark_group("heatmap");
    group.sample_size(20);
    for (name, heat) in [
        ("replay_sampling_off", HeatSettings::off()),
        ("replay_sampling_on_1s", HeatSettings::default()),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || replay_core(heat),
                |core| replay(core, &corpus),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// One replay, a fixed number of times, for instruction counts under valgrind.
fn fixed_workload(name: &str) {
    let corpus = replay_corpus(REPLAY_UPDATES);
    let rounds: u64 = std::env::var("CBBOOK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let heat = match name {
        "none" => None,
        "on" => Some(HeatSettings::default()),
        "off" => Some(HeatSettings::off()),
        other => panic!("unknown CBBOOK_BENCH_FIXED workload {other:?}: none, on or off"),
    };
    let mut samples = 0;
    for _ in 0..rounds {
        if let Some(heat) = heat {
            let mut core = replay_core(heat);
            replay(&mut core, &corpus);
            samples += core.product("BTC-USD").unwrap().heat.samples().len();
        }
    }
    eprintln!(
        "{name}: {rounds} replays of {} frames ({} s), {samples} samples in the rings",
        corpus.frames.len(),
        corpus.seconds
    );
}

fn benches(c: &mut Criterion) {
    replay_benches(c);
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
    if let Ok(name) = std::env::var("CBBOOK_BENCH_FIXED") {
        fixed_workload(&name);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
