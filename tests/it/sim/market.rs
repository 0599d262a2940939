//! The simulated market: real-book seeding (one whole snapshot frame), seeds, rates, batching,
//! and the 200k updates/s load the benchmarks need.

use crate::support::sim as sim_common;

use std::path::PathBuf;
use std::time::Duration;

use cbbook::sim::{self, SimConfig, SimLog};
use serde_json::Value;
use sim_common::{Client, Next, TestBook, WAIT, kind};
use tokio::time::Instant;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz")
}

fn quiet(config: SimConfig) -> SimConfig {
    SimConfig {
        log: SimLog::Silent,
        ..config
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_btc_book_goes_out_as_one_snapshot_frame() {
    let mut config = quiet(SimConfig {
        products: vec!["ETH-USD".into()],
        updates_per_sec: 0.0,
        ..SimConfig::default()
    });
    config.add_book_file(&fixture()).unwrap();
    let sim = sim::spawn(config).unwrap();
    assert_eq!(sim.products(), ["ETH-USD", "BTC-USD"]);
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD"]).await;
    let raw = client.next_raw(WAIT).await.expect("a snapshot frame");
    // About 5 MB in one frame, as on the exchange.
    assert!(
        (4_500_000..5_600_000).contains(&raw.len()),
        "snapshot frame is {} bytes",
        raw.len()
    );
    let frame: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(frame["channel"], "l2_data");
    assert_eq!(frame["sequence_num"], 0);
    let events = frame["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "snapshot");
    assert_eq!(events[0]["product_id"], "BTC-USD");
    assert_eq!(events[0]["updates"].as_array().unwrap().len(), 45_393);
    let mut book = TestBook::default();
    book.apply_frame(&frame, "BTC-USD");
    assert_eq!(book.bids.len(), 18_376);
    assert_eq!(book.asks.len(), 27_017);
    assert_eq!(
        book.bids.keys().next_back().unwrap().to_string(),
        "64930.57"
    );
    assert_eq!(book.asks.keys().next().unwrap().to_string(), "64934.09");
    assert_eq!(
        book.asks.keys().next_back().unwrap().to_string(),
        "138991023.41"
    );
    assert_eq!(book.bids.keys().next().unwrap().to_string(), "0.01");
    // The whole book: the snapshot is exactly the file.
    let dump = sim.dump_books();
    let (bids, asks) = book.dump_sides();
    assert_eq!(dump["BTC-USD"]["bids"], bids);
    assert_eq!(dump["BTC-USD"]["asks"], asks);
    // Then the ack.
    let ack = client.next().await;
    assert_eq!(ack["channel"], "subscriptions");
    assert_eq!(ack["sequence_num"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_book_keeps_moving_realistically() {
    let mut config = quiet(SimConfig {
        products: vec![],
        updates_per_sec: 2_000.0,
        ..SimConfig::default()
    });
    config.add_book_file(&fixture()).unwrap();
    let sim = sim::spawn(config).unwrap();
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD"]).await;
    let mut book = TestBook::default();
    let mut updates = 0usize;
    let mut near_touch = 0usize;
    while updates < 3_000 {
        let frame = client.next_on("l2_data").await;
        book.apply_frame(&frame, "BTC-USD");
        assert!(!book.is_crossed());
        if frame["events"][0]["type"] == "update" {
            let best_bid = *book.bids.keys().next_back().unwrap();
            for u in frame["events"][0]["updates"].as_array().unwrap() {
                updates += 1;
                let price: rust_decimal::Decimal =
                    u["price_level"].as_str().unwrap().parse().unwrap();
                // Prices stay at the file's tick of 0.01.
                assert!(price.scale() <= 2, "{price}");
                if (price - best_bid).abs() < rust_decimal::Decimal::from(100) {
                    near_touch += 1;
                }
            }
        }
    }
    assert!(
        near_touch * 10 > updates * 7,
        "{near_touch} of {updates} within $100 of the touch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_decides_the_market() {
    let dump = |seed| {
        let sim = sim::spawn(quiet(SimConfig {
            seed,
            updates_per_sec: 0.0,
            ..SimConfig::default()
        }))
        .unwrap();
        sim.dump_books()
    };
    let a = dump(42);
    assert_eq!(a, dump(42));
    assert_ne!(a, dump(43));
    let btc = &a["BTC-USD"];
    assert!(btc["bids"].as_array().unwrap().len() >= 1_000);
    assert!(btc["asks"].as_array().unwrap().len() >= 1_000);
}

/// Book changes applied by the market between two moments, from the dump's counter.
fn changes(sim: &sim::SimHandle, product: &str) -> u64 {
    sim.dump_books()[product]["sequence_num"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_per_sec_sets_the_rate() {
    let sim = sim::spawn(quiet(SimConfig {
        products: vec!["ETH-USD".into()],
        updates_per_sec: 1_000.0,
        ..SimConfig::default()
    }))
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (c0, t0) = (changes(&sim, "ETH-USD"), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (c1, t1) = (changes(&sim, "ETH-USD"), Instant::now());
    let rate = (c1 - c0) as f64 / (t1 - t0).as_secs_f64();
    assert!(
        (700.0..1_300.0).contains(&rate),
        "measured {rate} updates/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_carry_one_to_fifteen_updates() {
    let sim = sim::spawn(quiet(SimConfig {
        products: vec!["BTC-USD".into()],
        updates_per_sec: 20_000.0,
        ..SimConfig::default()
    }))
    .unwrap();
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD"]).await;
    let mut sizes = std::collections::BTreeSet::new();
    for _ in 0..1_000 {
        let frame = client.next_on("l2_data").await;
        let event = &frame["events"][0];
        if event["type"] == "update" {
            sizes.insert(event["updates"].as_array().unwrap().len());
        }
    }
    assert_eq!(sizes.first(), Some(&1));
    assert_eq!(sizes.last(), Some(&15));
    assert!(sizes.len() >= 12, "{sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_updates_per_sec_is_a_still_market_with_heartbeats() {
    let sim = sim::spawn(quiet(SimConfig {
        updates_per_sec: 0.0,
        ..SimConfig::default()
    }))
    .unwrap();
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD"]).await;
    client.subscribe("heartbeats", &[]).await;
    let mut l2 = 0;
    let mut heartbeats = 0;
    while heartbeats < 2 {
        match client.next_within(WAIT).await {
            Next::Frame(v) if kind(&v) == "l2_data" => l2 += 1,
            Next::Frame(v) if kind(&v) == "heartbeats" => heartbeats += 1,
            Next::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(l2, 1, "only the snapshot");
    assert_eq!(changes(&sim, "BTC-USD"), 0);
}

/// The load the live-client benchmark needs: 200k updates/s over two products, every update
/// delivered in order to a client that keeps up. Unoptimised test builds cannot generate that
/// much on this machine (about 60k/s unloaded), so they check 20k/s and say so; the optimised run
/// (`cargo test --release --test it sim::market`) checks the full 200k/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustains_the_load_test_rate() {
    let target = if cfg!(debug_assertions) {
        eprintln!(
            "unoptimised build: checking 20k updates/s; `cargo test --release --test it sim::market` checks 200k/s"
        );
        20_000.0
    } else {
        200_000.0
    };
    let sim = sim::spawn(quiet(SimConfig {
        updates_per_sec: target / 2.0,
        levels_per_side: 2_000,
        ..SimConfig::default()
    }))
    .unwrap();
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    // Skip the snapshots and the ack.
    client
        .until(|v| v["channel"] == "subscriptions", |_| {})
        .await;
    let start = Instant::now();
    let c0 = changes(&sim, "BTC-USD") + changes(&sim, "ETH-USD");
    let mut received = 0u64;
    let mut last_seq = None;
    while start.elapsed() < Duration::from_secs(3) {
        let raw = client.next_raw(WAIT).await.expect("frames keep coming");
        // Count updates without a full parse: the client here must not be the bottleneck.
        received += raw.matches("\"side\":").count() as u64;
        let seq_at = raw.find("\"sequence_num\":").unwrap() + 15;
        let seq: u64 = raw[seq_at..].split(',').next().unwrap().parse().unwrap();
        if let Some(last) = last_seq {
            assert_eq!(seq, last + 1, "no frame lost");
        }
        last_seq = Some(seq);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let generated = changes(&sim, "BTC-USD") + changes(&sim, "ETH-USD") - c0;
    let produced_rate = generated as f64 / elapsed;
    let received_rate = received as f64 / elapsed;
    eprintln!("market {produced_rate:.0} updates/s, client received {received_rate:.0} updates/s");
    assert!(
        produced_rate > 0.9 * target,
        "market made {produced_rate:.0} updates/s"
    );
    assert!(
        received_rate > 0.8 * target,
        "client got {received_rate:.0} updates/s"
    );
}

/// Sizes of a dumped side, best first, in base-currency units.
fn sizes(side: &Value) -> Vec<(f64, &str)> {
    side.as_array()
        .unwrap()
        .iter()
        .map(|level| {
            let text = level[1].as_str().unwrap();
            (text.parse::<f64>().unwrap(), text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_are_realistic_in_base_currency_terms_for_every_product() {
    // (product, about what one unit of the base currency is worth in USD, decimals of its size)
    let products = [
        ("BTC-USD", 64_930.0, 8),
        ("ETH-USD", 2_668.0, 8),
        ("ETH-BTC", 2_668.0, 8),
        ("SOL-USD", 151.0, 8),
        ("DOGE-USD", 0.1234, 1),
        ("SHIB-USD", 0.0000178, 0),
    ];
    let sim = sim::spawn(quiet(SimConfig {
        products: products.iter().map(|p| p.0.to_string()).collect(),
        updates_per_sec: 3_000.0,
        ..SimConfig::default()
    }))
    .unwrap();
    // Let the generator move every book a few thousand times.
    let until = Instant::now() + WAIT;
    while products.iter().any(|p| changes(&sim, p.0) < 3_000) {
        assert!(Instant::now() < until, "the markets did not move");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dump = sim.dump_books();
    for (product, base_usd, decimals) in products {
        for side in ["bids", "asks"] {
            let levels = sizes(&dump[product][side]);
            let usd = |base: f64| base * base_usd;
            let mut near: Vec<f64> = levels.iter().take(100).map(|l| l.0).collect();
            near.sort_by(f64::total_cmp);
            let median = usd(near[near.len() / 2]);
            let near_max = usd(*near.last().unwrap());
            let any_max = usd(levels.iter().map(|l| l.0).fold(0.0, f64::max));
            let within_10: f64 = usd(levels.iter().take(10).map(|l| l.0).sum());
            let what = format!(
                "{product} {side}: median ${median:.0}, largest near the touch ${near_max:.0}, \
                 largest ${any_max:.0}, best 10 levels ${within_10:.0}"
            );
            assert!((200.0..20_000.0).contains(&median), "{what}");
            assert!(near_max < 500_000.0, "{what}");
            assert!(any_max < 10_000_000.0, "{what}");
            assert!(within_10 < 2_000_000.0, "{what}");
            // Printed minimally, at the base increment.
            for (_, text) in &levels {
                let places = text.split_once('.').map_or(0, |(_, frac)| frac.len());
                assert!(places <= decimals, "{product} size {text}");
                assert!(!text.ends_with('0') || !text.contains('.'), "{text}");
            }
            if decimals == 8 {
                assert!(
                    levels
                        .iter()
                        .any(|(_, t)| t.split_once('.').is_some_and(|(_, f)| f.len() > 4)),
                    "{product}: sizes use the base increment"
                );
            }
        }
    }
}
