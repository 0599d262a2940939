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

/// `--orders FILE`: the file's orders are the key's, as given (price, size, fill, client id,
/// age); churn never cancels them; one good for 2 s expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_from_a_file_are_served_kept_and_expire() {
    let es = key("demo-key.json");
    let text = format!(
        r#"{{"{}": [
            {{"product_id":"BTC-USD","side":"BUY","price":"60000","size":"0.01","filled":"0.002",
              "client_order_id":"ladder-1","age_secs":3600}},
            {{"product_id":"ETH-USD","side":"sell","price":3000.5,"size":"0.25",
              "expires_in_secs":2}}
        ]}}"#,
        es.name()
    );
    let file =
        sim::orders_file::parse(&text, std::path::Path::new("o.json"), &[es.name()]).unwrap();
    let sim = start(SimConfig {
        // Four random orders too, churned fast: the file's are never among the cancelled.
        user_orders: 4,
        user_churn_per_sec: 50.0,
        updates_per_sec: 50.0,
        orders_file: Some(file),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.send(subscribe_user(&es, &[])).await;
    let mut set = BTreeMap::new();
    loop {
        let frame = c.next().await;
        if frame["channel"] == "subscriptions" {
            break;
        }
        apply(&mut set, &frame);
    }
    let by_client = |set: &BTreeMap<String, Value>, id: &str| -> Option<Value> {
        set.values().find(|o| o["client_order_id"] == id).cloned()
    };
    let buy = by_client(&set, "ladder-1").expect("the file's BUY is in the snapshot");
    assert_eq!(buy["product_id"], "BTC-USD");
    assert_eq!(buy["order_side"], "BUY");
    assert_eq!(buy["limit_price"], "60000");
    assert_eq!(buy["leaves_quantity"], "0.008");
    assert_eq!(buy["cumulative_quantity"], "0.002");
    assert_eq!(buy["status"], "OPEN");
    assert_eq!(buy["time_in_force"], "GOOD_UNTIL_CANCELLED");
    let sell = set
        .values()
        .find(|o| o["product_id"] == "ETH-USD" && o["limit_price"] == "3000.5")
        .cloned()
        .expect("the file's SELL is in the snapshot");
    assert_eq!(sell["time_in_force"], "GOOD_UNTIL_DATE_TIME");
    let sell_id = sell["order_id"].as_str().unwrap().to_string();
    let mut cancelled = 0;
    let mut expired = false;
    let until = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < until {
        if let sim_common::Next::Frame(frame) = c.next_within(Duration::from_millis(300)).await {
            for o in frame["events"][0]["orders"]
                .as_array()
                .into_iter()
                .flatten()
            {
                cancelled += usize::from(o["status"] == "CANCELLED");
                if o["order_id"] == sell_id.as_str() {
                    assert_eq!(o["status"], "EXPIRED", "{o}");
                    expired = true;
                }
            }
            apply(&mut set, &frame);
        }
    }
    assert!(expired, "the SELL good for 2 s expired");
    assert!(cancelled > 5, "the churn ran: {cancelled} cancelled");
    assert!(
        by_client(&set, "ladder-1").is_some(),
        "the file's BUY is never cancelled"
    );
    let server = sim.open_orders(es.name(), "BTC-USD");
    assert!(
        server
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["client_order_id"] == "ladder-1"),
        "{server}"
    );
}

/// Orders that cannot rest on their product stop the simulator with the order named.
#[test]
fn file_orders_are_checked_against_the_market() {
    let es = key("demo-key.json");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (order, says) in [
        (
            r#"{"product_id":"SOL-USD","side":"BUY","price":"1","size":"1"}"#,
            "product SOL-USD is not simulated (simulated: BTC-USD, ETH-USD)",
        ),
        (
            r#"{"product_id":"BTC-USD","side":"BUY","price":"90000","size":"1"}"#,
            "would trade at once against the best ask",
        ),
        (
            r#"{"product_id":"BTC-USD","side":"SELL","price":"60000.001","size":"1"}"#,
            "BTC-USD trades in steps of 0.01",
        ),
    ] {
        let text = format!(
            r#"{{"{}": [{{"product_id":"BTC-USD","side":"BUY","price":"60000","size":"1"}}, {order}]}}"#,
            es.name()
        );
        let file =
            sim::orders_file::parse(&text, std::path::Path::new("o.json"), &[es.name()]).unwrap();
        let result = runtime.block_on(async {
            sim::spawn(
                SimConfig {
                    log: SimLog::Silent,
                    orders_file: Some(file),
                    ..SimConfig::default()
                }
                .with_demo_keys()
                .unwrap(),
            )
        });
        let e = result.unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
        assert!(
            e.starts_with(&format!(
                "--orders o.json: key \"{}\", order 2: ",
                es.name()
            )),
            "{e}"
        );
    }
}
