//! Feed benchmarks on the corpus `cbbook sim --write-corpus` writes from the real BTC-USD book
//! (tests/fixtures): the 45k-level snapshot frame and update frames of 1-15 levels, through the
//! frame parser alone and through `FeedCore` (parse, sequence checks, apply: what replay and the
//! live client run per frame). `cargo bench --bench feed`; `cargo test` runs each once.
//!
//! For repeatable instruction counts, run one workload a fixed number of times under valgrind:
//! `CBBOOK_BENCH_FIXED=core valgrind --tool=callgrind target/release/deps/feed-HASH --bench`.
//! Workloads: none (setup only), parse (the update frames), snapshot (the snapshot frame into a
//! core), core (the snapshot frame, then the update frames, into a core);
//! `CBBOOK_BENCH_ROUNDS` (default 10). Subtract the `none` run (and for the update frames alone,
//! `core` minus `snapshot`) and divide by the levels.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::ViewRequest;
use cbbook::feed::protocol::{self, L2Batch};
use cbbook::sim::{self, SimConfig};
use criterion::{Criterion, Throughput};

/// Update frames in the benchmark corpus (about 8 levels each).
const UPDATES: u64 = 20_000;

/// The corpus: the snapshot frame, then every other frame (ack, updates, heartbeats).
struct Corpus {
    snapshot: Vec<u8>,
    frames: Vec<Vec<u8>>,
    /// Levels in `frames`.
    levels: u64,
}

fn corpus() -> Corpus {
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
    let summary = sim::write_corpus(&config, &path, UPDATES, false).unwrap();
    let text = std::fs::read(&path).unwrap();
    let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let snapshot = lines.next().unwrap().to_vec();
    Corpus {
        snapshot,
        frames: lines.map(<[u8]>::to_vec).collect(),
        levels: summary.updates,
    }
}

/// A core that has taken the snapshot, as replay's is after the first frame.
fn live_core(corpus: &Corpus) -> FeedCore {
    let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    core.set_restart_on_zero(true);
    core.connection_started(0, false);
    core.on_frame_bytes(&corpus.snapshot, 0);
    core
}

/// Every frame of the corpus but the snapshot through `core`, as a new connection each time
/// (the sequence restarts at the snapshot's successor, so no frame is stale or a gap).
fn replay_updates(core: &mut FeedCore, corpus: &Corpus) {
    for frame in &corpus.frames {
        core.on_frame_bytes(frame, 0);
    }
    core.drain_events().for_each(drop);
}

/// The real book (tests/fixtures/btc-usd-l2-2026-08-07.json.gz, captured from Coinbase).
const SNAPSHOT_BIDS: usize = 18_376;
const SNAPSHOT_ASKS: usize = 27_017;
const SNAPSHOT_BEST_BID: &str = "64930.57";
const SNAPSHOT_BEST_ASK: &str = "64934.09";

/// Checks, outside the timings and in `cargo test --benches` too, that the workloads do real
/// work: the snapshot frame parses to the real book's 45,393 levels and a core builds that book
/// from it; the update frames parse to the corpus's levels and apply without a gap or an error. A
/// broken parser panics here instead of timing a fast failure.
fn check_workloads(corpus: &Corpus) {
    let mut batch = L2Batch::default();
    assert!(
        protocol::parse_l2_levels(&corpus.snapshot, &mut batch).is_some(),
        "the snapshot frame did not parse"
    );
    let parsed: usize = batch.events(&corpus.snapshot).map(|e| e.levels.len()).sum();
    assert_eq!(
        parsed,
        SNAPSHOT_BIDS + SNAPSHOT_ASKS,
        "levels parsed from the snapshot frame"
    );

    let mut parsed = 0;
    for frame in &corpus.frames {
        if protocol::parse_l2_levels(frame, &mut batch).is_some() {
            parsed += batch.events(frame).map(|e| e.levels.len()).sum::<usize>();
        }
    }
    assert_eq!(
        parsed as u64, corpus.levels,
        "levels parsed from the update frames"
    );
    assert!(
        corpus.levels >= UPDATES,
        "the corpus has {} levels",
        corpus.levels
    );

    let mut core = live_core(corpus);
    let request = ViewRequest {
        depth: 1,
        group_ticks: 1,
        chart_depth: 0,
        ..ViewRequest::default()
    };
    let view = core.view(&request, 0);
    let book = &view.products[0];
    assert_eq!(
        (book.bid_levels, book.ask_levels),
        (SNAPSHOT_BIDS, SNAPSHOT_ASKS),
        "the core's book after the snapshot frame"
    );
    assert_eq!(
        (
            book.best_bid.map(|(p, _)| p.to_string()),
            book.best_ask.map(|(p, _)| p.to_string())
        ),
        (
            Some(SNAPSHOT_BEST_BID.to_owned()),
            Some(SNAPSHOT_BEST_ASK.to_owned())
        ),
        "best prices after the snapshot frame"
    );
    replay_updates(&mut core, corpus);
    let stats = core.stats();
    assert_eq!(
        stats.updates,
        (SNAPSHOT_BIDS + SNAPSHOT_ASKS) as u64 + corpus.levels,
        "levels applied by the core"
    );
    assert_eq!(
        (stats.gaps, stats.errors, stats.bad_frames),
        (0, 0, 0),
        "gaps, errors and bad frames replaying the corpus"
    );
}

fn benches(c: &mut Criterion) {
    let corpus = corpus();
    check_workloads(&corpus);
    let mut group = c.benchmark_group("feed");

    group.throughput(Throughput::Elements(corpus.levels));
    let mut batch = L2Batch::default();
    group.bench_function("parse_update_frames", |b| {
        b.iter(|| {
            for frame in &corpus.frames {
                black_box(protocol::parse_l2_levels(black_box(frame), &mut batch));
            }
        })
    });

    // The sequence must run on: a fresh core per iteration, built outside the timing.
    group.bench_function("core_update_frames", |b| {
        b.iter_batched_ref(
            || live_core(&corpus),
            |core| replay_updates(core, &corpus),
            criterion::BatchSize::LargeInput,
        )
    });

    group.throughput(Throughput::Bytes(corpus.snapshot.len() as u64));
    group.bench_function("parse_snapshot_frame_45k", |b| {
        b.iter(|| black_box(protocol::parse_l2_levels(&corpus.snapshot, &mut batch)).is_some())
    });
    let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
    group.bench_function("core_snapshot_frame_45k", |b| {
        b.iter(|| {
            // A new connection each time: the snapshot is frame 0 of it.
            core.connection_started(0, false);
            core.on_frame_bytes(black_box(&corpus.snapshot), 0);
            core.drain_events().for_each(drop);
        })
    });
    group.finish();
}

/// One workload, a fixed number of times, for instruction counts under valgrind.
fn fixed_workload(name: &str) {
    let corpus = corpus();
    let rounds: u64 = std::env::var("CBBOOK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let mut batch = L2Batch::default();
    let mut levels = 0;
    for _ in 0..rounds {
        match name {
            "none" => {}
            "parse" => {
                for frame in &corpus.frames {
                    black_box(protocol::parse_l2_levels(frame, &mut batch));
                }
                levels += corpus.levels;
            }
            "core" => {
                let mut core = live_core(&corpus);
                replay_updates(&mut core, &corpus);
                levels += core.stats().updates;
            }
            "snapshot" => {
                let mut core = FeedCore::new("bench", &["BTC-USD".to_owned()], false, 0);
                core.connection_started(0, false);
                core.on_frame_bytes(&corpus.snapshot, 0);
                levels += core.stats().updates;
            }
            other => panic!("unknown CBBOOK_BENCH_FIXED workload {other:?}"),
        }
    }
    eprintln!("{name}: {levels} levels");
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
