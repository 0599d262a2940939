//! Your orders on the book (docs/feed.md, "Your orders"): with a key, the client reads the
//! `user` channel on a connection of its own and ends with exactly the server's open orders,
//! through snapshot batches, fills, cancellations and reconnects; a refused user subscribe leaves
//! level2 live; without a key no user connection is made.

use crate::support::feed as feed_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cbbook::feed::{LiveConfig, client};
use cbbook::sim::{self, SimConfig, SimLog};
use feed_support::*;
use serde_json::Value;

const PRODUCTS: [&str; 2] = ["BTC-USD", "ETH-USD"];
const DEMO_KEY_NAME: &str = "organizations/cbbook-demo/apiKeys/demo-es256-test-only";

fn keyed_config(url: &str) -> LiveConfig {
    let key = cbbook::auth::load_key_file(Path::new("assets/demo-key.json")).unwrap();
    LiveConfig {
        watchdog: Duration::from_secs(3),
        key: Some(Arc::new(key)),
        ..LiveConfig::new(url, PRODUCTS.iter().map(|p| p.to_string()).collect())
    }
}

fn start_sim(config: SimConfig) -> sim::SimHandle {
    sim::spawn(
        SimConfig {
            log: SimLog::Silent,
            ..config
        }
        .with_demo_keys()
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_ends_with_exactly_the_simulators_open_orders() {
    let started = Instant::now();
    let freeze = Duration::from_secs(7);
    let sim = start_sim(SimConfig {
        updates_per_sec: 300.0,
        user_orders: 130,
        user_churn_per_sec: 6.0,
        disconnect_every: Some(Duration::from_millis(2500)),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    });
    let (task, mut handle) = client::start_session(keyed_config(&sim.url()));
    // Past the freeze, through at least one more reconnect of the user connection (its new
    // snapshot must give the same set), with a complete set shown.
    tokio::time::sleep_until((started + freeze + Duration::from_secs(3)).into()).await;
    wait_view(&mut handle, "a complete order set after the freeze", |v| {
        v.user
            .as_ref()
            .is_some_and(|u| u.snapshot_complete && u.reconnects >= 2)
    })
    .await;
    handle
        .commands
        .send(cbbook::feed::events::FeedCommand::Shutdown)
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap();
    let user = result.user.expect("a user view with a key");
    assert!(user.refused.is_none(), "{:?}", user.refused);
    assert!(!user.fills.is_empty() || user.reconnects > 0);
    let client: Value =
        serde_json::from_str(&result.core.dump_books_with_orders(Some(&user.orders))).unwrap();
    let server = sim.dump_books();
    let mut total = 0;
    for product in PRODUCTS {
        let (c, s) = (&client[product]["orders"], &server[product]["orders"]);
        assert!(c.is_array() && s.is_array(), "{product}: {c} / {s}");
        if c != s {
            let ids = |v: &Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["order_id"].to_string())
                    .collect()
            };
            let (ci, si) = (ids(c), ids(s));
            let only_client: Vec<_> = ci.iter().filter(|i| !si.contains(i)).collect();
            let only_server: Vec<_> = si.iter().filter(|i| !ci.contains(i)).collect();
            panic!(
                "{product}: the client's open orders differ from the server's: only the client has {only_client:?}, only the server {only_server:?} (or a field differs)"
            );
        }
        total += s.as_array().unwrap().len();
        // And the server's own list, read from its `user` frames, says the same ids.
        let raw = sim.open_orders(DEMO_KEY_NAME, product);
        assert_eq!(raw.as_array().unwrap().len(), s.as_array().unwrap().len());
    }
    // Fills and cancellations take some of the 130 away between refills (at most 8 new orders
    // a churn tick): still more than two snapshot batches of 50 to assemble after a reconnect.
    assert!(total > 100, "{total} open orders at the end");
    // Some orders are sent without a limit price: kept, with no price.
    assert!(user.orders.iter().any(|o| o.price.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_user_subscribe_leaves_level2_live() {
    let market = start_sim(SimConfig {
        updates_per_sec: 100.0,
        ..SimConfig::default()
    });
    // The user endpoint trusts no key: the user subscribe is refused.
    let users = sim::spawn(SimConfig {
        log: SimLog::Silent,
        ..SimConfig::default()
    })
    .unwrap();
    let config = LiveConfig {
        user_url: Some(users.url()),
        ..keyed_config(&market.url())
    };
    let (task, mut handle) = client::start_session(config);
    let view = wait_view(&mut handle, "user refused, books live", |v| {
        all_live(v) && v.user.as_ref().is_some_and(|u| u.refused.is_some())
    })
    .await;
    let user = view.user.as_ref().unwrap();
    let refused = user.refused.as_ref().unwrap();
    assert_eq!(refused.message, "authentication failure");
    assert!(
        refused
            .reason
            .as_deref()
            .unwrap_or("")
            .starts_with("key_unknown"),
        "{refused:?}"
    );
    assert!(user.orders.is_empty());
    // The market feed kept its key (no fallback) and stays live a while later.
    let frames = view.stats.frames;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = wait_view(&mut handle, "more frames", |v| v.stats.frames > frames + 20).await;
    assert!(all_live(&later) && !later.auth.fell_back_to_public);
    handle
        .commands
        .send(cbbook::feed::events::FeedCommand::Shutdown)
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap();
    assert!(result.user.unwrap().refused.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_no_user_connection_is_made() {
    let sim = start_sim(SimConfig {
        user_orders: 10,
        ..SimConfig::default()
    });
    let config = LiveConfig {
        key: None,
        ..keyed_config(&sim.url())
    };
    let (task, mut handle) = client::start_session(config);
    let view = wait_view(&mut handle, "books live", all_live).await;
    assert!(view.user.is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.open_connections(), 1, "only the market connection");
    handle
        .commands
        .send(cbbook::feed::events::FeedCommand::Shutdown)
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap();
    assert!(result.user.is_none());
    let dump: Value = serde_json::from_str(&result.core.dump_books()).unwrap();
    assert!(dump["BTC-USD"].get("orders").is_none());
}

#[test]
fn headless_dumps_and_counts_the_open_orders() {
    use crate::support::common;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("books.json");
    let key = common::repo_root().join("assets/demo-key.json");
    let key = key.to_str().unwrap();
    let (_sim, url) = common::start_sim(
        &[
            "--authorized-key",
            key,
            "--user-orders",
            "60",
            "--stop-updates-after",
            "1",
            "--updates-per-sec",
            "50",
        ],
        None,
    );
    let out = super::cli::run(
        &[
            "--url",
            &url,
            "--key",
            key,
            "--headless",
            "--duration",
            "4",
            "--stats",
            "--dump-book",
            dump.to_str().unwrap(),
            "BTC-USD",
            "ETH-USD",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stats = stderr.lines().last().unwrap();
    assert!(
        stats.split_whitespace().any(|field| field == "orders=60"),
        "{stats}"
    );
    let books: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let mut n = 0;
    for product in PRODUCTS {
        for order in books[product]["orders"].as_array().unwrap() {
            let fields: Vec<&str> = order
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                [
                    "created",
                    "filled_quantity",
                    "leaves_quantity",
                    "order_id",
                    "price",
                    "side",
                    "status",
                    "type"
                ]
            );
            assert!(order["side"] == "BUY" || order["side"] == "SELL");
            n += 1;
        }
    }
    assert_eq!(n, 60);
}

#[test]
fn a_recording_keeps_the_user_frames_and_replays_to_the_same_orders() {
    use crate::support::common;
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("session.jsonl");
    let live_dump = dir.path().join("live.json");
    let replayed_dump = dir.path().join("replayed.json");
    let key = common::repo_root().join("assets/demo-key.json");
    let key = key.to_str().unwrap();
    let (_sim, url) = common::start_sim(
        &[
            "--authorized-key",
            key,
            "--user-orders",
            "70",
            "--user-churn-per-sec",
            "5",
            "--updates-per-sec",
            "50",
        ],
        None,
    );
    let live = super::cli::run(
        &[
            "--url",
            &url,
            "--key",
            key,
            "--headless",
            "--duration",
            "4",
            "--stats",
            "--record",
            recording.to_str().unwrap(),
            "--dump-book",
            live_dump.to_str().unwrap(),
            "BTC-USD",
            "ETH-USD",
        ],
        Duration::from_secs(60),
    );
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let text = std::fs::read_to_string(&recording).unwrap();
    let user_connect = text
        .lines()
        .find(|l| l.contains("\"connect\"") && l.contains("\"user\":true"))
        .expect("the user connection's connect line");
    assert!(user_connect.contains(&format!(
        ",\"c\":{},",
        cbbook::feed::record::USER_CONNECTION
    )));
    assert!(
        text.contains("\"channel\":\"user\""),
        "the user frames are recorded"
    );
    let replay = super::cli::run(
        &[
            "replay",
            recording.to_str().unwrap(),
            "--headless",
            "--stats",
            "--dump-book",
            replayed_dump.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{stderr}");
    let live: Value = serde_json::from_str(&std::fs::read_to_string(&live_dump).unwrap()).unwrap();
    let replayed: Value =
        serde_json::from_str(&std::fs::read_to_string(&replayed_dump).unwrap()).unwrap();
    let mut orders = 0;
    for product in PRODUCTS {
        let live_orders = live[product]["orders"].as_array().unwrap();
        assert_eq!(
            &replayed[product]["orders"], &live[product]["orders"],
            "{product}: the replayed orders are the live ones"
        );
        orders += live_orders.len();
    }
    assert!(orders > 0);
    let stats = stderr.lines().last().unwrap();
    assert!(
        stats
            .split_whitespace()
            .any(|f| f == format!("orders={orders}")),
        "{stats}"
    );
}
