//! The `user` channel's orders (docs/sim.md, "Your orders"): a key's open orders arrive in
//! snapshot batches of 50, then as updates; each key sees only its own; a resting order fills
//! when the market trades through it, and the fill is on the tape.

use crate::support::sim as sim_common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cbbook::auth::{self, Key};
use cbbook::sim::{self, SimConfig, SimHandle, SimLog};
use serde_json::{Value, json};
use sim_common::Client;

fn key(file: &str) -> Key {
    auth::load_key_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(file),
    )
    .unwrap()
}

fn start(config: SimConfig) -> SimHandle {
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

fn subscribe_user(key: &Key, products: &[&str]) -> Value {
    json!({"type":"subscribe","product_ids":products,"channel":"user","jwt":key.ws_jwt(auth::now_unix())})
}

/// Applies the user events of a frame to an open-order set.
fn apply(set: &mut BTreeMap<String, Value>, frame: &Value) {
    for event in frame["events"].as_array().unwrap() {
        for order in event["orders"].as_array().unwrap() {
            let id = order["order_id"].as_str().unwrap().to_string();
            match order["status"].as_str().unwrap() {
                "OPEN" | "PENDING" => set.insert(id, order.clone()),
                _ => set.remove(&id),
            };
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_comes_in_batches_of_fifty_then_updates_keep_it_true() {
    let sim = start(SimConfig {
        user_orders: 130,
        user_churn_per_sec: 20.0,
        updates_per_sec: 200.0,
        stop_updates_after: Some(Duration::from_secs(3)),
        ..SimConfig::default()
    });
    let es = key("demo-key.json");
    let mut c = Client::connect(&sim.url()).await;
    c.send(subscribe_user(&es, &[])).await;
    let mut set = BTreeMap::new();
    let mut batches = Vec::new();
    loop {
        let frame = c.next().await;
        if frame["channel"] == "subscriptions" {
            break;
        }
        assert_eq!(frame["channel"], "user");
        assert_eq!(frame["events"][0]["type"], "snapshot");
        batches.push(frame["events"][0]["orders"].as_array().unwrap().len());
        apply(&mut set, &frame);
    }
    assert_eq!(batches, [50, 50, 30]);
    // Only this key's orders (the Ed25519 demo key has 130 of its own).
    assert_eq!(set.len(), 130);
    // Updates until the market and the orders freeze, then the set is the server's.
    let mut updates = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        if let sim_common::Next::Frame(frame) = c.next_within(Duration::from_millis(500)).await {
            if frame["channel"] == "user" {
                assert_eq!(frame["events"][0]["type"], "update");
                updates += 1;
                apply(&mut set, &frame);
            }
        }
    }
    assert!(updates > 10, "{updates} updates");
    let mut server = BTreeMap::new();
    for product in ["BTC-USD", "ETH-USD"] {
        for order in sim.open_orders(es.name(), product).as_array().unwrap() {
            server.insert(
                order["order_id"].as_str().unwrap().to_string(),
                order.clone(),
            );
        }
    }
    assert_eq!(set, server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_orders_near_the_touch_fill_and_reach_the_tape() {
    let sim = start(SimConfig {
        user_orders: 8,
        user_orders_near: true,
        user_churn_per_sec: 0.0,
        updates_per_sec: 400.0,
        products: vec!["ETH-USD".to_string()],
        ..SimConfig::default()
    });
    let es = key("demo-key.json");
    let mut c = Client::connect(&sim.url()).await;
    c.send(subscribe_user(&es, &["ETH-USD"])).await;
    c.send(json!({"type":"subscribe","product_ids":["ETH-USD"],"channel":"market_trades"}))
        .await;
    let mut fills: Vec<(String, String)> = Vec::new();
    let mut tape: Vec<(String, String)> = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(40);
    while tokio::time::Instant::now() < until
        && (fills.is_empty() || !fills.iter().all(|f| tape.contains(f)))
    {
        let sim_common::Next::Frame(frame) = c.next_within(Duration::from_secs(1)).await else {
            continue;
        };
        for event in frame["events"].as_array().into_iter().flatten() {
            if frame["channel"] == "user" && event["type"] == "update" {
                for o in event["orders"].as_array().unwrap() {
                    if o["cumulative_quantity"] != "0" {
                        fills.push((
                            o["limit_price"].as_str().unwrap_or("").to_string(),
                            o["status"].to_string(),
                        ));
                    }
                }
            }
            if frame["channel"] == "market_trades" {
                for t in event["trades"].as_array().unwrap() {
                    tape.push((t["price"].as_str().unwrap().to_string(), String::new()));
                }
            }
        }
        // Compare by price only.
        for f in &mut fills {
            f.1 = String::new();
        }
    }
    assert!(!fills.is_empty(), "no demo order filled in 40 s");
    assert!(
        fills.iter().all(|f| f.0.is_empty() || tape.contains(f)),
        "fills {fills:?} not on the tape"
    );
}
