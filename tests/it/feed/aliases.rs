//! `-USDC` aliases against the simulator (docs/feed.md, "Aliases"): a subscribe for `BTC-USDC`
//! is answered with `BTC-USD` events, which feed every product asked for that they serve; the
//! dump, the recording's replay and the headless binary speak the ids asked for. And the level2
//! stream limit, whose error names no product, refuses the products it answers.

use crate::support::common;
use crate::support::feed as feed_support;

use std::time::{Duration, Instant};

use cbbook::feed::events::{BookState, FeedEvent, FeedView, TOO_MANY_L2_STREAMS};
use cbbook::feed::{LiveConfig, ReplayConfig, client, replay};
use cbbook::sim::{self, SimConfig};
use common::{path_str, run_env};
use feed_support::*;
use serde_json::{Map, Value};

fn config(url: &str, asked: &[&str]) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(3),
        ..LiveConfig::new(url, asked.iter().map(|p| p.to_string()).collect())
    }
}

/// The simulator's dump keyed by the ids asked for: `asked` pairs each id with the simulated
/// product that serves it.
fn sim_dump_as(sim: &Value, asked: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (id, served) in asked {
        out.insert((*id).to_owned(), sim[*served].clone());
    }
    Value::Object(out)
}

fn ids(asked: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    asked.iter().map(|(id, _)| *id).collect()
}

/// Waits for a frozen market and every book live (the simulator's books then stay as they are).
async fn wait_frozen_and_live(
    handle: &mut cbbook::feed::events::FeedHandle,
    frozen_at: Instant,
) -> std::sync::Arc<FeedView> {
    tokio::time::sleep_until((frozen_at + Duration::from_millis(1500)).into()).await;
    wait_view(handle, "frozen market, every book live", all_live).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdc_products_are_fed_by_the_usd_markets_and_end_equal_to_the_simulators() {
    let started = Instant::now();
    let freeze = Duration::from_secs(3);
    let sim = sim::spawn(SimConfig {
        products: vec!["BTC-USD".into(), "ETH-USD".into(), "USDT-USDC".into()],
        updates_per_sec: 150.0,
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    assert!(
        SimConfig::default().usdc_alias,
        "the simulator aliases by default"
    );
    // Id asked for -> the simulated market that serves it.
    let asked = [
        ("BTC-USD", "BTC-USD"),
        ("BTC-USDC", "BTC-USD"),
        ("ETH-USDC", "ETH-USD"),
        ("USDT-USDC", "USDT-USDC"),
    ];
    let (task, mut handle) = client::start(config(&sim.url(), &ids(&asked)));
    let view = wait_frozen_and_live(&mut handle, started + freeze).await;
    let served: Vec<(&str, Option<&str>)> = view
        .products
        .iter()
        .map(|p| (p.product.as_str(), p.served_as.as_deref()))
        .collect();
    assert_eq!(
        served,
        [
            ("BTC-USD", None),
            ("BTC-USDC", Some("BTC-USD")),
            ("ETH-USDC", Some("ETH-USD")),
            ("USDT-USDC", None)
        ]
    );
    assert_eq!(view.auth.requested["level2"], ids(&asked));
    assert_eq!(view.auth.acknowledged["level2"], ids(&asked));
    let core = stop(task, &handle).await;
    // Every event fed some book: none arrived for a product the client could not place.
    assert_eq!(core.stats().ignored_updates, 0, "{:?}", core.stats());
    let snapshots: Vec<String> = events(&mut handle)
        .into_iter()
        .filter_map(|e| match e {
            FeedEvent::Snapshot { product, .. } => Some(product),
            _ => None,
        })
        .collect();
    for id in ids(&asked) {
        assert!(snapshots.iter().any(|p| p == id), "{id}: {snapshots:?}");
    }
    assert!(!snapshots.iter().any(|p| p == "ETH-USD"), "{snapshots:?}");
    let dump: Value = serde_json::from_str(&core.dump_books()).unwrap();
    let keys: Vec<&String> = dump.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["BTC-USD", "BTC-USDC", "ETH-USDC", "USDT-USDC"]);
    assert_same_books(&dump, &sim_dump_as(&sim.dump_books(), &asked), &ids(&asked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_alias_feeds_each_id_its_own_market() {
    let started = Instant::now();
    let freeze = Duration::from_secs(3);
    let sim = sim::spawn(SimConfig {
        products: vec!["BTC-USD".into(), "BTC-USDC".into()],
        usdc_alias: false,
        updates_per_sec: 150.0,
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let asked = [("BTC-USDC", "BTC-USDC"), ("BTC-USD", "BTC-USD")];
    let (task, mut handle) = client::start(config(&sim.url(), &ids(&asked)));
    let view = wait_frozen_and_live(&mut handle, started + freeze).await;
    assert!(
        view.products.iter().all(|p| p.served_as.is_none()),
        "{view:?}"
    );
    let core = stop(task, &handle).await;
    let dump: Value = serde_json::from_str(&core.dump_books()).unwrap();
    let sim_dump = sim.dump_books();
    assert_ne!(
        sim_dump["BTC-USD"]["bids"], sim_dump["BTC-USDC"]["bids"],
        "two markets of their own"
    );
    assert_same_books(&dump, &sim_dump_as(&sim_dump, &asked), &ids(&asked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_binary_dumps_btc_usdc_and_its_recording_replays_to_the_same_books() {
    let dir = tempfile::tempdir().unwrap();
    let (record, dump, log) = (
        dir.path().join("usdc.jsonl"),
        dir.path().join("dump.json"),
        dir.path().join("cbbook.log"),
    );
    let freeze = Duration::from_secs(2);
    let sim = sim::spawn(SimConfig {
        updates_per_sec: 150.0,
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let args: Vec<String> = [
        "--url",
        &sim.url(),
        "--headless",
        "--duration",
        "5",
        "--record",
        path_str(&record),
        "--dump-book",
        path_str(&dump),
        "--log-file",
        path_str(&log),
        "BTC-USDC",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_env(&args, &[], Duration::from_secs(60))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let live: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let keys: Vec<&String> = live.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["BTC-USDC"], "{live}");
    let asked = [("BTC-USDC", "BTC-USD")];
    assert_same_books(&live, &sim_dump_as(&sim.dump_books(), &asked), &ids(&asked));
    // Events speak the id asked for.
    assert!(
        stderr.contains(r#""event":"snapshot""#) && stderr.contains(r#""product":"BTC-USDC""#),
        "{stderr}"
    );
    // The recording keeps the raw frames, with the served id.
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.contains(r#""product_id":"BTC-USD""#));
    assert!(recorded.contains(r#""products":["BTC-USDC"]"#));

    // Replay (products from the connect marker) rebuilds BTC-USDC's book.
    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let report = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    let replayed: Value = serde_json::from_str(&report.core.dump_books()).unwrap();
    assert_eq!(replayed, live);
    // And so does the binary's headless replay.
    let replay_dump = dir.path().join("replay.json");
    let args: Vec<String> = [
        "replay",
        path_str(&record),
        "--headless",
        "--dump-book",
        path_str(&replay_dump),
        "--log-file",
        path_str(&log),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_env(&args, &[], Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Value =
        serde_json::from_str(&std::fs::read_to_string(&replay_dump).unwrap()).unwrap();
    assert_eq!(replayed, live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_limit_refuses_the_subscribes_products_with_the_servers_words() {
    // A product and its -USDC alias always share a connection (docs/feed.md, "Sharding"); on a
    // server that does not alias them they are two streams, and one that allows one stream per
    // connection refuses their subscribe. Nothing is left to split: they stay refused with the
    // server's words, and the feed stops instead of waiting forever.
    let sim = sim::spawn(SimConfig {
        products: vec!["BTC-USD".into(), "BTC-USDC".into()],
        usdc_alias: false,
        max_l2_per_connection: 1,
        ..SimConfig::default()
    })
    .unwrap();
    let (task, handle) = client::start(config(&sim.url(), &["BTC-USD", "BTC-USDC"]));
    // Nothing is left to ask for on this connection: it stops by itself, no waiting forever.
    let core = tokio::time::timeout(WAIT, task)
        .await
        .expect("the feed went on waiting after the stream limit")
        .unwrap();
    drop(handle);
    assert!(core.all_refused());
    assert_eq!(core.stream_limited_products(), ["BTC-USD", "BTC-USDC"]);
    for (product, reason) in core.refused_products() {
        assert!(
            reason.starts_with(TOO_MANY_L2_STREAMS),
            "{product}: {reason}"
        );
    }
    let dump: Value = serde_json::from_str(&core.dump_books()).unwrap();
    assert_eq!(dump["BTC-USD"]["state"], "refused");
    let err = client::check_products_accepted(&core)
        .unwrap_err()
        .to_string();
    assert!(err.contains("BTC-USD (too many L2 streams"), "{err}");
    assert!(
        err.contains("fewer level2 products on one connection") && !err.contains("upper case"),
        "{err}"
    );
    assert_eq!(
        core.product("BTC-USDC").map(|p| p.state),
        Some(BookState::Refused)
    );
}
