//! Sharding against the in-process simulator (docs/feed.md, "Sharding"): many products spread
//! over paced connections, the server's level2 limit met and recovered from by splitting, a gap
//! on one connection resyncing only its products, replay of a several-connection recording, and
//! `connections=N` in the headless stats line.

use crate::support::common::{self, path_str};
use crate::support::feed::*;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cbbook::feed::events::{BookState, ConnectionState, FeedEvent, FeedHandle};
use cbbook::feed::session::SessionResult;
use cbbook::feed::{LiveConfig, ReplayConfig, client, replay};
use cbbook::sim::{self, SimConfig};
use serde_json::Value;

fn products(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("T{i}-USD")).collect()
}

fn sim_with(products: &[String], config: SimConfig) -> sim::SimHandle {
    sim::spawn(SimConfig {
        products: products.to_vec(),
        ..config
    })
    .unwrap()
}

async fn stop_session(
    task: tokio::task::JoinHandle<SessionResult>,
    handle: &FeedHandle,
) -> SessionResult {
    handle
        .commands
        .send(cbbook::feed::events::FeedCommand::Shutdown)
        .unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the session did not stop")
        .unwrap()
}

/// Waits until the market is frozen and every book live, then stops and returns the result and
/// every event.
async fn run_until_frozen_and_live(
    config: LiveConfig,
    frozen_at: Instant,
) -> (SessionResult, Vec<FeedEvent>) {
    let (task, mut handle) = client::start_session(config);
    tokio::time::sleep_until((frozen_at + Duration::from_millis(1500)).into()).await;
    wait_view(&mut handle, "frozen market, every book live", all_live).await;
    let mut seen = events(&mut handle);
    let result = stop_session(task, &handle).await;
    seen.extend(events(&mut handle));
    (result, seen)
}

fn names(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_products_over_paced_connections_replay_to_the_same_books() {
    let list = products(40);
    let started = Instant::now();
    let freeze = Duration::from_secs(6);
    let sim = sim_with(
        &list,
        SimConfig {
            updates_per_sec: 20.0,
            stop_updates_after: Some(freeze),
            ..SimConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("shards.jsonl");
    let config = LiveConfig {
        record: Some(record.clone()),
        ..LiveConfig::new(sim.url(), list.clone())
    };
    let (result, seen) = run_until_frozen_and_live(config, started + freeze).await;
    // The default (10 a connection) never meets the server's limit of 16, nor its rate limit.
    assert_eq!(result.connections_started, 4);
    assert_eq!(result.connections_open, 4);
    assert_eq!(
        sim.refused_connections(),
        0,
        "connections refused with HTTP 429"
    );
    assert_eq!(result.core.stats().errors, 0, "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, FeedEvent::ConnectionSplit { .. })),
        "{seen:?}"
    );
    let dump: Value = serde_json::from_str(&result.core.dump_books()).unwrap();
    assert_same_books(&dump, &sim.dump_books(), &names(&list));
    // The recording names each frame's connection, and replays to the same books.
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#","c":3,"frame":"#));
    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let replayed = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    assert_eq!(replayed.core.dump_books(), result.core.dump_books());
    assert_eq!(replayed.connections_open, 4);
    assert_eq!(
        replayed.core.stats().reconnects,
        result.core.stats().reconnects
    );
    // The viewer's replay shows every connection while the file plays, not only at its end.
    let mut handle = cbbook::feed::spawn_replay(ReplayConfig {
        speed: cbbook::cli::Speed::Factor(4.0),
        ..ReplayConfig::new(&record)
    });
    let last = list[list.len() - 1].clone();
    let view = wait_view(
        &mut handle,
        "connection 3's last product while playing",
        |v| {
            v.connection != ConnectionState::Finished
                && v.products
                    .iter()
                    .any(|p| p.product == last && p.state == BookState::Live)
        },
    )
    .await;
    assert_eq!(view.connections.len(), 4, "{:?}", view.connections);
    let carrier = view
        .connections
        .iter()
        .find(|c| c.products.contains(&last))
        .unwrap();
    assert!(carrier.index >= 1, "{carrier:?}");
    let view = wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    assert_eq!(view.products.len(), 40);
    assert_eq!(view.connections.len(), 4);
    drop(handle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_server_limit_the_client_splits_and_every_book_comes() {
    let list = products(40);
    let started = Instant::now();
    let freeze = Duration::from_secs(8);
    let sim = sim_with(
        &list,
        SimConfig {
            updates_per_sec: 20.0,
            stop_updates_after: Some(freeze),
            ..SimConfig::default()
        },
    );
    // 40 on one connection: the server answers "too many L2 streams"; halves of 20 too; then
    // quarters of 10 are served.
    let config = LiveConfig {
        products_per_connection: 40,
        ..LiveConfig::new(sim.url(), list.clone())
    };
    let (result, seen) = run_until_frozen_and_live(config, started + freeze).await;
    let splits: Vec<&Vec<Vec<String>>> = seen
        .iter()
        .filter_map(|e| match e {
            FeedEvent::ConnectionSplit { into, reason, .. } => {
                assert!(reason.contains("too many L2 streams"), "{reason}");
                Some(into)
            }
            _ => None,
        })
        .collect();
    assert_eq!(splits.len(), 3, "{seen:?}");
    assert_eq!(splits[0].iter().map(Vec::len).collect::<Vec<_>>(), [20, 20]);
    assert_eq!(result.connections_started, 7);
    assert_eq!(result.connections_open, 4);
    assert_eq!(sim.refused_connections(), 0);
    let dump: Value = serde_json::from_str(&result.core.dump_books()).unwrap();
    assert_same_books(&dump, &sim.dump_books(), &names(&list));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_on_one_connection_resyncs_only_its_products() {
    let list = products(30);
    let started = Instant::now();
    let freeze = Duration::from_secs(6);
    // Gaps only on the simulator's connection #2 (of three).
    let sim = sim_with(
        &list,
        SimConfig {
            updates_per_sec: 30.0,
            gap_every: Some(40),
            gap_one_in: 2,
            stop_updates_after: Some(freeze),
            ..SimConfig::default()
        },
    );
    let config = LiveConfig::new(sim.url(), list.clone());
    let (task, mut handle) = client::start_session(config);
    tokio::time::sleep_until((started + freeze + Duration::from_millis(1500)).into()).await;
    let view = wait_view(&mut handle, "every book live, after gaps", |v| {
        all_live(v) && v.stats.gaps >= 1
    })
    .await;
    let shards: Vec<BTreeSet<String>> = view
        .connections
        .iter()
        .map(|c| c.products.iter().cloned().collect())
        .collect();
    assert_eq!(shards.len(), 3);
    let mut seen = events(&mut handle);
    let result = stop_session(task, &handle).await;
    seen.extend(events(&mut handle));
    let resynced: Vec<BTreeSet<String>> = seen
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Resync { products, .. } => Some(products.iter().cloned().collect()),
            _ => None,
        })
        .collect();
    assert!(!resynced.is_empty(), "{seen:?}");
    // Every resync asked for the products of one connection, always the same one.
    assert!(resynced.iter().all(|r| r == &resynced[0]), "{resynced:?}");
    assert!(shards.contains(&resynced[0]), "{resynced:?} vs {shards:?}");
    let dump: Value = serde_json::from_str(&result.core.dump_books()).unwrap();
    assert_same_books(&dump, &sim.dump_books(), &names(&list));
}

#[test]
fn headless_stats_end_with_the_connections_open() {
    let (_sim, url) = common::start_sim(&["--products", "A-USD,B-USD,C-USD"], None);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let out = common::run_env(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "3",
            "--stats",
            "--products-per-connection",
            "1",
            "--log-file",
            path_str(&log),
            "A-USD",
            "B-USD",
            "C-USD",
        ],
        &[],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("frames="), "{last}");
    assert!(last.contains(" connections=3 "), "{last}");
    // Out of range: refused at once, with the reason.
    let out = common::run_env(
        &["--headless", "--products-per-connection", "17", "A-USD"],
        &[],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("must be between 1 and 16, got"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_products_with_usdc_aliases_on_a_server_like_coinbase_end_with_its_books() {
    // The issue's case: 40 products, USDC pairs among them, against a server that aliases
    // -USDC products, allows 16 level2 products a connection and 8 new connections a second
    // (the simulator's defaults). BTC-USDC and ETH-USDC are served as BTC-USD and ETH-USD;
    // USDT-USDC is a market of its own.
    let mut asked = products(36);
    for p in ["BTC-USD", "BTC-USDC", "ETH-USDC", "USDT-USDC"] {
        asked.push(p.to_owned());
    }
    let mut simulated = products(36);
    for p in ["BTC-USD", "ETH-USD", "USDT-USDC"] {
        simulated.push(p.to_owned());
    }
    let started = Instant::now();
    let freeze = Duration::from_secs(6);
    let sim = sim_with(
        &simulated,
        SimConfig {
            updates_per_sec: 20.0,
            stop_updates_after: Some(freeze),
            ..SimConfig::default()
        },
    );
    assert!(SimConfig::default().usdc_alias);
    let config = LiveConfig::new(sim.url(), asked.clone());
    let (result, seen) = run_until_frozen_and_live(config, started + freeze).await;
    assert_eq!(result.connections_open, 4);
    assert_eq!(
        sim.refused_connections(),
        0,
        "connections refused with HTTP 429"
    );
    assert_eq!(result.core.stats().errors, 0, "{seen:?}");
    let view_products: Vec<&str> = asked.iter().map(String::as_str).collect();
    let dump: Value = serde_json::from_str(&result.core.dump_books()).unwrap();
    let sim_dump = sim.dump_books();
    let plain: Vec<&str> = view_products
        .iter()
        .copied()
        .filter(|p| !["BTC-USDC", "ETH-USDC"].contains(p))
        .collect();
    assert_same_books(&dump, &sim_dump, &plain);
    for (asked, served) in [("BTC-USDC", "BTC-USD"), ("ETH-USDC", "ETH-USD")] {
        assert_eq!(dump[asked]["state"], "live", "{asked}");
        assert_eq!(dump[asked]["bids"], sim_dump[served]["bids"], "{asked}");
        assert_eq!(dump[asked]["asks"], sim_dump[served]["asks"], "{asked}");
        assert!(
            dump[asked]["bids"].as_array().unwrap().len() > 10,
            "{asked}"
        );
    }
    assert_eq!(dump.as_object().unwrap().len(), 40);
}
