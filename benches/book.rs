//! Book benchmarks on the real 45k-level BTC-USD book: parse, apply near the touch, snapshot
//! load, and the top-N view with grouping. `cargo bench --bench book -- --quick` for a short run.
//!
//! `reference/decimal_btreemap_apply` is the same update stream applied the obvious way
//! (`Decimal::from_str` + `BTreeMap<Decimal, Decimal>`), to show what fixed-point keys buy.
//!
//! On a busy machine wall-clock numbers drift; for repeatable counts, run one workload a fixed
//! number of times under valgrind instead of criterion:
//! `CBBOOK_BENCH_FIXED=apply valgrind --tool=cachegrind target/release/deps/book-HASH --bench`.
//! Workloads: none, parse, apply, apply_level, snapshot, snapshot_one_pass, top1, top100 and
//! reference; `CBBOOK_BENCH_ROUNDS` (default 10) repeats it. Subtract the `none` run (setup only;
//! for `reference`, its own run at `CBBOOK_BENCH_ROUNDS=0`) and divide by the operations reported.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::hint::black_box;
use std::path::PathBuf;
use std::str::FromStr;

use cbbook::book::{Book, Price, Side, Size};
use criterion::{Criterion, Throughput, criterion_group};
use flate2::read::GzDecoder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    bids: Vec<(String, String, u64)>,
    asks: Vec<(String, String, u64)>,
}

/// The real book as (side, price, size) strings, bids then asks, best first.
fn snapshot_levels() -> Vec<(Side, String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
    let fixture: Fixture =
        serde_json::from_reader(GzDecoder::new(File::open(path).unwrap())).unwrap();
    let bids = fixture.bids.into_iter().map(|(p, s, _)| (Side::Bid, p, s));
    let asks = fixture.asks.into_iter().map(|(p, s, _)| (Side::Ask, p, s));
    bids.chain(asks).collect()
}

fn load(levels: &[(Side, String, String)]) -> Book {
    let mut book = Book::new();
    for (side, p, s) in levels {
        book.apply(*side, p, s).unwrap();
    }
    book
}

/// Seeded updates within 2 dollars (200 ticks) of the touch, most of them within 20 cents, about
/// one in five a removal; prices and sizes printed minimally, as Coinbase does.
fn near_touch_updates(book: &Book, count: usize) -> Vec<(Side, String, String)> {
    let mut rng = StdRng::seed_from_u64(6);
    let bid_cents = (book.best_bid().unwrap().0 * Decimal::ONE_HUNDRED).mantissa();
    let ask_cents = (book.best_ask().unwrap().0 * Decimal::ONE_HUNDRED).mantissa();
    (0..count)
        .map(|_| {
            let side = if rng.gen_bool(0.5) {
                Side::Bid
            } else {
                Side::Ask
            };
            let offset: i128 = if rng.gen_bool(0.8) {
                rng.gen_range(0..20)
            } else {
                rng.gen_range(0..200)
            };
            let cents = match side {
                Side::Bid => bid_cents - offset,
                Side::Ask => ask_cents + offset,
            };
            let price = Decimal::from_i128_with_scale(cents, 2)
                .normalize()
                .to_string();
            let size = if rng.gen_bool(0.2) {
                "0".to_string()
            } else {
                Decimal::new(rng.gen_range(1..300_000_000), 8)
                    .normalize()
                    .to_string()
            };
            (side, price, size)
        })
        .collect()
}

/// The obvious book, for comparison: `Decimal::from_str` and `BTreeMap<Decimal, Decimal>`.
struct DecimalBook {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl DecimalBook {
    fn load(levels: &[(Side, String, String)]) -> DecimalBook {
        let mut book = DecimalBook {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        };
        book.apply_all(levels);
        book
    }

    fn apply_all(&mut self, updates: &[(Side, String, String)]) {
        for (side, p, s) in updates {
            let map = match side {
                Side::Bid => &mut self.bids,
                Side::Ask => &mut self.asks,
            };
            let price = Decimal::from_str(black_box(p)).unwrap();
            let size = Decimal::from_str(black_box(s)).unwrap();
            if size.is_zero() {
                map.remove(&price);
            } else {
                map.insert(price, size);
            }
        }
    }
}

/// The real book (tests/fixtures/btc-usd-l2-2026-08-07.json.gz, captured from Coinbase).
const FIXTURE_BIDS: usize = 18_376;
const FIXTURE_ASKS: usize = 27_017;
const FIXTURE_BEST_BID: &str = "64930.57";
const FIXTURE_BEST_ASK: &str = "64934.09";

/// Checks, outside the timings and in `cargo test --benches` too, that the workloads do real
/// work: the fixture loads into the book it is, both ways, and the update stream, applied to the
/// book and to the obvious `Decimal` model, leaves the same book. A broken parser or book panics
/// here instead of timing nothing.
fn check_workloads(
    levels: &[(Side, String, String)],
    book: &Book,
    updates: &[(Side, String, String)],
) {
    assert_eq!(
        levels.len(),
        FIXTURE_BIDS + FIXTURE_ASKS,
        "the fixture did not read as the 45,393-level book"
    );
    let counts = |book: &Book| (book.len(Side::Bid), book.len(Side::Ask));
    let best = |book: &Book| {
        (
            book.best_bid().map(|(p, _)| p.to_string()),
            book.best_ask().map(|(p, _)| p.to_string()),
        )
    };
    assert_eq!(
        counts(book),
        (FIXTURE_BIDS, FIXTURE_ASKS),
        "applying the snapshot levels"
    );
    assert_eq!(
        best(book),
        (
            Some(FIXTURE_BEST_BID.to_owned()),
            Some(FIXTURE_BEST_ASK.to_owned())
        ),
        "best prices after applying the snapshot levels"
    );
    let mut one_pass = Book::new();
    one_pass
        .load_snapshot(
            levels
                .iter()
                .map(|(side, p, s)| (*side, Price::parse(p).unwrap(), Size::parse(s).unwrap())),
        )
        .unwrap();
    assert_eq!(counts(&one_pass), counts(book), "Book::load_snapshot");
    assert_eq!(best(&one_pass), best(book), "Book::load_snapshot");

    assert_eq!(updates.len(), 10_000, "the near-touch update stream");
    let mut live = book.clone();
    for (side, p, s) in updates {
        live.apply(*side, p, s).unwrap();
    }
    let mut model = DecimalBook::load(levels);
    model.apply_all(updates);
    assert_eq!(
        counts(&live),
        (model.bids.len(), model.asks.len()),
        "the book after the updates differs from the Decimal model"
    );
    assert_ne!(counts(&live), counts(book), "the updates changed nothing");
    let model_best = (
        model
            .bids
            .keys()
            .next_back()
            .map(|p| p.normalize().to_string()),
        model.asks.keys().next().map(|p| p.normalize().to_string()),
    );
    assert_eq!(best(&live), model_best, "best prices after the updates");
}

fn benches(c: &mut Criterion) {
    let levels = snapshot_levels();
    let book = load(&levels);
    let updates = near_touch_updates(&book, 10_000);
    check_workloads(&levels, &book, &updates);

    let mut group = c.benchmark_group("book");

    group.throughput(Throughput::Elements(updates.len() as u64 * 2));
    group.bench_function("parse_price_and_size", |b| {
        b.iter(|| {
            for (_, p, s) in &updates {
                black_box(Price::parse(black_box(p)).unwrap());
                black_box(Size::parse(black_box(s)).unwrap());
            }
        })
    });

    group.throughput(Throughput::Elements(updates.len() as u64));
    let mut live = book.clone();
    group.bench_function("apply_near_touch", |b| {
        b.iter(|| {
            for (side, p, s) in &updates {
                live.apply(*side, black_box(p), black_box(s)).unwrap();
            }
        })
    });

    let parsed: Vec<(Side, Price, Size)> = updates
        .iter()
        .map(|(side, p, s)| (*side, Price::parse(p).unwrap(), Size::parse(s).unwrap()))
        .collect();
    let mut live = book.clone();
    group.bench_function("apply_level_near_touch_preparsed", |b| {
        b.iter(|| {
            for &(side, p, s) in &parsed {
                live.apply_level(side, black_box(p), black_box(s)).unwrap();
            }
        })
    });

    group.throughput(Throughput::Elements(levels.len() as u64));
    let mut snapshot = book.clone();
    group.bench_function("snapshot_load_45k", |b| {
        b.iter(|| {
            snapshot.clear();
            for (side, p, s) in &levels {
                snapshot.apply(*side, p, s).unwrap();
            }
            black_box(snapshot.len(Side::Ask));
        })
    });

    group.bench_function("snapshot_load_45k_one_pass", |b| {
        b.iter(|| {
            let parsed = levels
                .iter()
                .map(|(side, p, s)| (*side, Price::parse(p).unwrap(), Size::parse(s).unwrap()));
            snapshot.load_snapshot(parsed).unwrap();
            black_box(snapshot.len(Side::Ask));
        })
    });

    group.throughput(Throughput::Elements(1));
    for side in [Side::Bid, Side::Ask] {
        for ticks in [1u32, 100] {
            group.bench_function(format!("top20_group{ticks}_{side}"), |b| {
                b.iter(|| black_box(book.top(side, black_box(20), black_box(ticks))))
            });
        }
    }
    group.bench_function("best_spread_mid", |b| {
        b.iter(|| black_box((book.best_bid(), book.best_ask(), book.spread(), book.mid())))
    });
    group.throughput(Throughput::Elements(levels.len() as u64));
    group.bench_function("dump_both_sides_45k", |b| {
        b.iter(|| black_box((book.dump_side(Side::Bid), book.dump_side(Side::Ask))))
    });
    group.finish();

    let mut reference = c.benchmark_group("reference");
    reference.throughput(Throughput::Elements(updates.len() as u64));
    let mut model = DecimalBook::load(&levels);
    reference.bench_function("decimal_btreemap_apply", |b| {
        b.iter(|| model.apply_all(&updates))
    });
    reference.finish();
}

/// One workload, a fixed number of times, for instruction and cache counts under valgrind.
fn fixed_workload(name: &str) {
    let levels = snapshot_levels();
    let book = load(&levels);
    let updates = near_touch_updates(&book, 10_000);
    let parsed: Vec<(Side, Price, Size)> = updates
        .iter()
        .map(|(side, p, s)| (*side, Price::parse(p).unwrap(), Size::parse(s).unwrap()))
        .collect();
    let mut live = book.clone();
    let rounds: usize = std::env::var("CBBOOK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let mut ops = 0;
    if name == "reference" {
        // Its setup is heavier than `none`: compare with `reference` at CBBOOK_BENCH_ROUNDS=0.
        let mut model = DecimalBook::load(&levels);
        for _ in 0..rounds {
            model.apply_all(&updates);
            ops += updates.len();
        }
        eprintln!("{name}: {ops} operations");
        return;
    }
    for _ in 0..rounds {
        ops += fixed_round(name, &levels, &book, &updates, &parsed, &mut live);
    }
    black_box(&live);
    eprintln!("{name}: {ops} operations");
}

fn fixed_round(
    name: &str,
    levels: &[(Side, String, String)],
    book: &Book,
    updates: &[(Side, String, String)],
    parsed: &[(Side, Price, Size)],
    live: &mut Book,
) -> usize {
    match name {
        "none" => 0,
        "parse" => {
            for (_, p, s) in updates {
                black_box(Price::parse(black_box(p)).unwrap());
                black_box(Size::parse(black_box(s)).unwrap());
            }
            updates.len() * 2
        }
        "apply" => {
            for (side, p, s) in updates {
                live.apply(*side, black_box(p), black_box(s)).unwrap();
            }
            updates.len()
        }
        "apply_level" => {
            for &(side, p, s) in parsed {
                live.apply_level(side, black_box(p), black_box(s)).unwrap();
            }
            parsed.len()
        }
        "snapshot" => {
            live.clear();
            for (side, p, s) in levels {
                live.apply(*side, p, s).unwrap();
            }
            levels.len()
        }
        "snapshot_one_pass" => {
            let parsed = levels
                .iter()
                .map(|(side, p, s)| (*side, Price::parse(p).unwrap(), Size::parse(s).unwrap()));
            live.load_snapshot(parsed).unwrap();
            levels.len()
        }
        "top1" | "top100" => {
            let ticks = if name == "top1" { 1 } else { 100 };
            for _ in 0..1000 {
                black_box(book.top(Side::Bid, black_box(20), ticks));
                black_box(book.top(Side::Ask, black_box(20), ticks));
            }
            2000
        }
        other => panic!("unknown CBBOOK_BENCH_FIXED workload {other:?}"),
    }
}

fn main() {
    if let Ok(name) = std::env::var("CBBOOK_BENCH_FIXED") {
        fixed_workload(&name);
        return;
    }
    book_benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(book_benches, benches);
