//! Faults the existing tests did not cover, first as the simulator injects them (raw frames),
//! then against the live client: duplicate frames, lower (out-of-order) sequence numbers, error
//! frames mid-stream, frames for products not subscribed, a burst of updates, every fault at
//! once. In each client test the market freezes at the end and the client's books must equal the
//! simulator's. See RELIABILITY.md for the faults covered elsewhere.

use crate::support::feed as feed_support;
use crate::support::sim as sim_common;

use std::time::{Duration, Instant};

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{BookState, FeedEvent, FeedStats};
use cbbook::feed::{LiveConfig, client};
use cbbook::sim::{SimConfig, SimHandle};
use feed_support::{all_live, assert_same_books, events, stop, wait_view};
use serde_json::Value;
use sim_common::{Client, kind, seq, start};

const PRODUCTS: [&str; 2] = ["BTC-USD", "ETH-USD"];

// ---- The simulator's new faults, frame by frame ----

/// Reads `n` frames after subscribing level2 (both products) and heartbeats.
async fn frames(sim: &SimHandle, products: &[&str], n: usize) -> Vec<Value> {
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", products).await;
    c.subscribe("heartbeats", &[]).await;
    let mut out = Vec::new();
    while out.len() < n {
        out.push(c.next().await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_every_sends_one_frame_in_n_twice() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        duplicate_every: Some(5),
        ..SimConfig::default()
    });
    let got = frames(&sim, &PRODUCTS, 200).await;
    let seqs: Vec<u64> = got.iter().map(seq).collect();
    let mut duplicates = 0;
    for (pair, frames) in seqs.windows(2).zip(got.windows(2)) {
        if pair[1] == pair[0] {
            duplicates += 1;
            assert_eq!(frames[0], frames[1], "a duplicate is the same frame");
            assert_eq!((pair[0] + 1) % 5, 0, "{pair:?}");
            assert!(frames[0]["events"][0]["type"] != "snapshot");
        } else {
            assert_eq!(pair[1], pair[0] + 1, "{seqs:?}");
        }
    }
    assert!(duplicates >= 30, "{duplicates} duplicates in {seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_every_sends_a_frame_after_the_next_one() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        reorder_every: Some(7),
        ..SimConfig::default()
    });
    let got = frames(&sim, &PRODUCTS, 200).await;
    let seqs: Vec<u64> = got.iter().map(seq).collect();
    // Every number arrives exactly once; the held ones one place late.
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..200).collect::<Vec<u64>>(), "{seqs:?}");
    let lower: Vec<u64> = seqs
        .windows(2)
        .filter(|p| p[1] < p[0])
        .map(|p| p[1])
        .collect();
    assert!(lower.len() >= 20, "{seqs:?}");
    for late in lower {
        assert_eq!((late + 1) % 7, 0, "{seqs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_every_sends_error_frames_mid_stream_and_the_stream_goes_on() {
    let sim = start(SimConfig {
        updates_per_sec: 100.0,
        error_every: Some(Duration::from_millis(400)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    let mut errors = Vec::new();
    let mut last_seq = None;
    while errors.len() < 3 {
        let v = c.next().await;
        if kind(&v) == "error" {
            assert!(v.get("sequence_num").is_none(), "no envelope: {v}");
            errors.push(v);
        } else {
            if let Some(last) = last_seq {
                assert_eq!(seq(&v), last + 1, "the stream goes on in order");
            }
            last_seq = Some(seq(&v));
        }
    }
    assert_eq!(errors[0]["message"], "injected fault");
    assert!(
        errors[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--error-every")
    );
    // Data keeps coming after the errors.
    let next = c.next_on("l2_data").await;
    assert_eq!(next["events"][0]["product_id"], "BTC-USD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_every_sends_frames_of_products_never_asked_for() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        unsubscribed_every: Some(2),
        ..SimConfig::default()
    });
    let got = frames(&sim, &["BTC-USD"], 150).await;
    let products: Vec<&str> = got
        .iter()
        .filter(|v| v["channel"] == "l2_data")
        .flat_map(|v| v["events"].as_array().unwrap())
        .map(|e| e["product_id"].as_str().unwrap())
        .collect();
    let foreign = products.iter().filter(|p| **p == "ETH-USD").count();
    assert!(foreign >= 10, "{products:?}");
    // The sequence stays contiguous: they are frames of this connection.
    for pair in got.windows(2) {
        assert_eq!(seq(&pair[1]), seq(&pair[0]) + 1);
    }
    // A connection that asked for no level2 gets none.
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("heartbeats", &[]).await;
    for _ in 0..3 {
        let v = c.next().await;
        assert_ne!(v["channel"], "l2_data", "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_one_in_stalls_only_every_nth_connection() {
    let sim = start(SimConfig {
        updates_per_sec: 100.0,
        stall_after: Some(Duration::from_millis(500)),
        stall_one_in: 2,
        ..SimConfig::default()
    });
    // Connection 1 runs on past the stall time; connection 2 goes silent.
    let mut first = Client::connect(&sim.url()).await;
    first.subscribe("heartbeats", &[]).await;
    let mut second = Client::connect(&sim.url()).await;
    second.subscribe("heartbeats", &[]).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Its third heartbeat comes about 3 s after it opened, long past the stall time.
    first
        .until(|v| v["channel"] == "heartbeats" && seq(v) >= 3, |_| {})
        .await;
    // Whatever was queued before the stall, then nothing.
    loop {
        match second.next_within(Duration::from_millis(2500)).await {
            sim_common::Next::Frame(v) => {
                assert!(seq(&v) < 3, "connection 2 should be stalled: {v}");
            }
            sim_common::Next::Silent => break,
            other => panic!("connection 2 should stay open and silent: {other:?}"),
        }
    }
}

/// A stalled connection that the client leaves is released at once, not held for the stall's
/// ten minutes (before the fix, a long run with stalls piled up open sockets in the simulator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_the_client_leaves_is_released() {
    let sim = start(SimConfig {
        updates_per_sec: 50.0,
        stall_after: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("heartbeats", &[]).await;
    sim_common::wait_for("the connection to open", || sim.open_connections() == 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sim.open_connections(), 1, "stalled, still open");
    drop(c);
    sim_common::wait_for("the stalled connection to be released", || {
        sim.open_connections() == 0
    })
    .await;
}

// ---- The live client against them ----

fn live_config(url: &str, products: &[&str]) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(3),
        ..LiveConfig::new(url, products.iter().map(|p| p.to_string()).collect())
    }
}

/// Runs the client until the market has been frozen for a while and `done` holds, then checks
/// that every book equals the simulator's. Returns the final stats and the events.
async fn run_until_frozen(
    sim: &SimHandle,
    products: &[&str],
    frozen_at: Instant,
    done: impl Fn(&FeedStats) -> bool,
) -> (FeedCore, Vec<FeedEvent>) {
    let (task, mut handle) = client::start(live_config(&sim.url(), products));
    tokio::time::sleep_until((frozen_at + Duration::from_millis(1500)).into()).await;
    wait_view(&mut handle, "frozen market, books live, faults seen", |v| {
        all_live(v) && done(&v.stats)
    })
    .await;
    let core = stop(task, &handle).await;
    let dump: Value = serde_json::from_str(&core.dump_books()).unwrap();
    assert_same_books(&dump, &sim.dump_books(), products);
    let ev = events(&mut handle);
    (core, ev)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_frames_are_ignored_without_a_resync() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = start(SimConfig {
        updates_per_sec: 150.0,
        duplicate_every: Some(9),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, _) =
        run_until_frozen(&sim, &PRODUCTS, started + freeze, |s| s.stale_frames >= 10).await;
    let s = core.stats();
    assert_eq!(
        (s.gaps, s.resyncs, s.bad_frames, s.reconnects),
        (0, 0, 0, 0),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_sequence_numbers_are_ignored_and_the_jump_before_them_resyncs() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = start(SimConfig {
        updates_per_sec: 150.0,
        reorder_every: Some(40),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, ev) =
        run_until_frozen(&sim, &PRODUCTS, started + freeze, |s| s.stale_frames >= 2).await;
    let s = core.stats();
    // A frame ahead of its turn is a jump (gap, resync); the late one is stale.
    assert!(s.gaps >= 2 && s.resyncs >= s.gaps, "{s:?}");
    assert!(s.stale_frames >= 2, "{s:?}");
    assert_eq!((s.bad_frames, s.reconnects), (0, 0), "{s:?}");
    assert!(ev.iter().any(|e| matches!(e, FeedEvent::Gap { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_frames_mid_stream_are_reported_and_the_books_stay_live() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = start(SimConfig {
        updates_per_sec: 150.0,
        error_every: Some(Duration::from_millis(700)),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, ev) = run_until_frozen(&sim, &PRODUCTS, started + freeze, |s| s.errors >= 3).await;
    let s = core.stats();
    assert_eq!(
        (s.gaps, s.resyncs, s.bad_frames, s.reconnects),
        (0, 0, 0, 0),
        "an error frame is not a reason to resync: {s:?}"
    );
    let errors: Vec<&FeedEvent> = ev
        .iter()
        .filter(|e| matches!(e, FeedEvent::ErrorFrame { .. }))
        .collect();
    assert!(errors.len() >= 3, "{ev:?}");
    match errors[0] {
        FeedEvent::ErrorFrame {
            message, reason, ..
        } => {
            assert_eq!(message, "injected fault");
            assert!(reason.as_deref().unwrap().contains("--error-every"));
        }
        _ => unreachable!(),
    }
    let last = core.auth().last_error.clone().unwrap();
    assert_eq!(last.message, "injected fault");
    assert!(!core.fell_back_to_public());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_for_products_not_subscribed_are_ignored_and_counted() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = start(SimConfig {
        updates_per_sec: 150.0,
        unsubscribed_every: Some(1),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, _) = run_until_frozen(&sim, &["BTC-USD"], started + freeze, |s| {
        s.ignored_updates >= 50
    })
    .await;
    assert_eq!(core.products(), ["BTC-USD"], "no book for ETH-USD appears");
    assert!(core.product("ETH-USD").is_none());
    let s = core.stats();
    assert_eq!((s.gaps, s.bad_frames), (0, 0), "{s:?}");
    let dump: Value = serde_json::from_str(&core.dump_books()).unwrap();
    assert_eq!(
        dump.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["BTC-USD"]
    );
}

/// Every fault at once (gaps, duplicates, late frames, error frames, foreign products,
/// disconnects): the books still end equal to the simulator's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_still_ends_with_the_simulators_books() {
    let started = Instant::now();
    let freeze = Duration::from_secs(6);
    let sim = start(SimConfig {
        products: vec!["BTC-USD".into(), "ETH-USD".into(), "SOL-USD".into()],
        updates_per_sec: 150.0,
        gap_every: Some(60),
        duplicate_every: Some(13),
        reorder_every: Some(45),
        error_every: Some(Duration::from_millis(900)),
        unsubscribed_every: Some(3),
        disconnect_every: Some(Duration::from_millis(2500)),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, _) = run_until_frozen(&sim, &PRODUCTS, started + freeze, |s| {
        s.gaps >= 1 && s.stale_frames >= 1 && s.errors >= 1 && s.reconnects >= 1
    })
    .await;
    let s = core.stats();
    assert!(s.ignored_updates >= 1, "{s:?}");
    assert_eq!(s.bad_frames, 0, "{s:?}");
    for p in PRODUCTS {
        assert_eq!(core.product(p).unwrap().state, BookState::Live);
    }
}

/// A burst of updates: 200,000 a second in an optimised build (`cargo test --release --test
/// rel_faults`), 20,000 in a debug build (which cannot parse 200k/s on this machine). The client
/// either keeps up or is dropped by the simulator as a slow consumer and recovers; either way no
/// frame is bad and the books end equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_updates_ends_with_the_simulators_books() {
    let rate = if cfg!(debug_assertions) {
        20_000.0
    } else {
        200_000.0
    };
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = start(SimConfig {
        updates_per_sec: rate / 2.0,
        levels_per_side: 2_000,
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (core, _) = run_until_frozen(&sim, &PRODUCTS, started + freeze, |_| true).await;
    let s = core.stats();
    let seconds = freeze.as_secs_f64();
    eprintln!(
        "burst of {rate} updates/s for {seconds} s: client applied {} updates in {} frames, {} reconnects, {} gaps",
        s.updates, s.frames, s.reconnects, s.gaps
    );
    assert_eq!(s.bad_frames, 0, "{s:?}");
    // The snapshots alone are 8,000 levels: the burst itself must have been applied.
    assert!(
        s.updates as f64 > rate * seconds * 0.3,
        "only {} updates applied: {s:?}",
        s.updates
    );
}
