//! The exchange's unpleasant parts the simulator imitates (docs/sim.md, "-USDC aliasing" and
//! "Limits"): `BTC-USDC` served as `BTC-USD`, at most 16 level2 products per connection, HTTP 429
//! past 8 new connections per second, and the optional unauthenticated message rate.

use crate::support::common;
use crate::support::sim as sim_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cbbook::sim::{SimConfig, TOO_MANY_L2_STREAMS};
use serde_json::{Value, json};
use sim_common::{Client, Next, TestBook, WAIT, seq, start};
use tokio_tungstenite::tungstenite::Error as WsError;

/// A quiet market: nothing is sent unless asked for.
fn still(products: &[&str]) -> SimConfig {
    SimConfig {
        products: products.iter().map(|p| p.to_string()).collect(),
        updates_per_sec: 0.0,
        levels_per_side: 20,
        ..SimConfig::default()
    }
}

fn ack_map(frame: &Value) -> Value {
    assert_eq!(frame["channel"], "subscriptions", "{frame}");
    frame["events"][0]["subscriptions"].clone()
}

fn product_ids(frame: &Value) -> Vec<String> {
    let Some(events) = frame["events"].as_array() else {
        return Vec::new();
    };
    events
        .iter()
        .filter_map(|e| {
            e["product_id"].as_str().map(str::to_string).or_else(|| {
                // ticker events list their products inside.
                e["tickers"][0]["product_id"].as_str().map(str::to_string)
            })
        })
        .collect()
}

/// Nothing arrives for a moment (a still market, no heartbeats).
async fn expect_silence(c: &mut Client) {
    match c.next_within(Duration::from_millis(700)).await {
        Next::Silent => {}
        other => panic!("expected nothing, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usdc_subscribe_is_answered_with_the_usd_products_events() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USDC"]).await;
    let snapshot = c.next().await;
    assert_eq!(snapshot["channel"], "l2_data");
    assert_eq!(snapshot["events"][0]["type"], "snapshot");
    assert_eq!(product_ids(&snapshot), ["BTC-USD"]);
    // The ack names what was asked for (docs/sim.md: clients must accept either).
    let ack = c.next().await;
    assert_eq!(ack_map(&ack), json!({"level2":["BTC-USDC"]}));
    let mut book = TestBook::default();
    book.apply_frame(&snapshot, "BTC-USD");
    for _ in 0..5 {
        let update = c.next_on("l2_data").await;
        assert_eq!(update["events"][0]["type"], "update");
        assert_eq!(product_ids(&update), ["BTC-USD"], "{update}");
        book.apply_frame(&update, "BTC-USD");
        assert!(!book.is_crossed());
    }

    // ticker and market_trades alike.
    let mut t = Client::connect(&sim.url()).await;
    t.subscribe("ticker", &["ETH-USDC"]).await;
    let ticker = t.next().await;
    assert_eq!(ticker["channel"], "ticker");
    assert_eq!(product_ids(&ticker), ["ETH-USD"], "{ticker}");
    assert_eq!(ack_map(&t.next().await), json!({"ticker":["ETH-USDC"]}));
    t.subscribe("market_trades", &["BTC-USDC"]).await;
    let trades = t.next_on("market_trades").await;
    assert_eq!(trades["events"][0]["type"], "snapshot");
    for trade in trades["events"][0]["trades"].as_array().unwrap() {
        assert_eq!(trade["product_id"], "BTC-USD");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usd_and_usdc_on_one_connection_get_one_stream() {
    let sim = start(SimConfig {
        updates_per_sec: 300.0,
        stop_updates_after: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD", "BTC-USDC"]).await;
    c.subscribe("heartbeats", &[]).await;
    // One snapshot for the one served product, then the ack naming both ids.
    let snapshot = c.next().await;
    assert_eq!(product_ids(&snapshot), ["BTC-USD"]);
    let ack = c.next().await;
    assert_eq!(ack_map(&ack), json!({"level2":["BTC-USD","BTC-USDC"]}));
    let mut book = TestBook::default();
    book.apply_frame(&snapshot, "BTC-USD");
    let mut next_seq = seq(&ack) + 1;
    let mut updates: Vec<Value> = Vec::new();
    // Until a heartbeat well after the market froze.
    c.until(
        |v| {
            v["channel"] == "heartbeats"
                && v["events"][0]["heartbeat_counter"].as_u64().unwrap() >= 3
        },
        |v| {
            assert_ne!(v["type"], "error", "{v}");
            assert_eq!(seq(v), next_seq, "contiguous");
            next_seq += 1;
            if v["channel"] == "l2_data" {
                assert_eq!(product_ids(v), ["BTC-USD"]);
                assert!(
                    !updates.contains(&v["events"]),
                    "an update arrived twice: {v}"
                );
                updates.push(v["events"].clone());
                book.apply_frame(v, "BTC-USD");
            }
        },
    )
    .await;
    assert!(updates.len() > 10, "{} updates", updates.len());
    let (bids, asks) = book.dump_sides();
    let dump = sim.dump_books();
    assert_eq!(bids, dump["BTC-USD"]["bids"]);
    assert_eq!(asks, dump["BTC-USD"]["asks"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_one_of_two_ids_keeps_the_stream_until_the_other_goes() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    c.next().await;
    c.next().await;
    // A later BTC-USDC subscribe is a resubscribe of BTC-USD: a fresh snapshot.
    c.subscribe("level2", &["BTC-USDC"]).await;
    let snap = c
        .until(|v| v["events"][0]["type"] == "snapshot", |_| {})
        .await;
    assert_eq!(product_ids(&snap), ["BTC-USD"]);
    let ack = c.next_on("subscriptions").await;
    assert_eq!(ack_map(&ack), json!({"level2":["BTC-USD","BTC-USDC"]}));
    c.unsubscribe("level2", &["BTC-USD"]).await;
    let ack = c.next_on("subscriptions").await;
    assert_eq!(ack_map(&ack), json!({"level2":["BTC-USDC"]}));
    let update = c.next_on("l2_data").await;
    assert_eq!(product_ids(&update), ["BTC-USD"], "still served");
    c.unsubscribe("level2", &["BTC-USDC"]).await;
    let ack = c.next_on("subscriptions").await;
    assert_eq!(ack_map(&ack), json!({}));
    // Frames already queued may follow the ack; then nothing.
    loop {
        match c.next_within(Duration::from_millis(700)).await {
            Next::Frame(v) => assert_eq!(v["channel"], "l2_data", "{v}"),
            Next::Silent => break,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdt_usdc_and_eurc_usdc_are_products_of_their_own() {
    let sim = start(still(&["BTC-USD", "USDT-USDC", "EURC-USDC"]));
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["USDT-USDC", "EURC-USDC"]).await;
    assert_eq!(product_ids(&c.next().await), ["USDT-USDC"]);
    assert_eq!(product_ids(&c.next().await), ["EURC-USDC"]);
    assert_eq!(
        ack_map(&c.next().await),
        json!({"level2":["USDT-USDC","EURC-USDC"]})
    );
    // A -USDC id whose -USD product is not simulated is refused, and says why.
    c.subscribe("level2", &["ETH-USDC"]).await;
    let e = c.next().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["message"], "failure to subscribe");
    assert_eq!(
        e["reason"],
        "ETH-USDC is not a valid product (it is served as ETH-USD, which this server does not simulate)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_aliasing_a_usdc_product_is_its_own() {
    let sim = start(SimConfig {
        usdc_alias: false,
        ..still(&["BTC-USD", "BTC-USDC"])
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USDC"]).await;
    assert_eq!(product_ids(&c.next().await), ["BTC-USDC"]);
    assert_eq!(ack_map(&c.next().await), json!({"level2":["BTC-USDC"]}));

    let sim = start(SimConfig {
        usdc_alias: false,
        ..still(&["BTC-USD"])
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USDC"]).await;
    let e = c.next().await;
    assert_eq!(e["message"], "failure to subscribe");
    assert_eq!(e["reason"], "BTC-USDC is not a valid product");

    // With aliasing on, BTC-USDC cannot be a market of its own.
    let err = cbbook::sim::spawn(still(&["BTC-USD", "BTC-USDC"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("--no-usdc-alias"), "{err}");
}

/// `n` products of a still market, with their ids.
fn many(n: usize) -> (SimConfig, Vec<String>) {
    let ids: Vec<String> = (0..n)
        .map(|i| format!("P{}-USD", char::from(b'A' + i as u8)))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    (still(&refs), ids)
}

async fn expect_too_many(c: &mut Client) {
    let e = c.next().await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["message"], TOO_MANY_L2_STREAMS);
    assert_eq!(
        e["message"],
        "too many L2 streams requested in a single session"
    );
    assert!(e["reason"].as_str().unwrap().contains("at most 16"), "{e}");
    assert!(e.get("sequence_num").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_level2_products_per_connection_and_not_seventeen() {
    let (config, ids) = many(18);
    let sim = start(config);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();

    // 17 in one subscribe: refused whole, nothing sent, nothing subscribed.
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &ids[..17]).await;
    expect_too_many(&mut c).await;
    expect_silence(&mut c).await;

    // 16 in one subscribe: 16 snapshots and the ack.
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &ids[..16]).await;
    for id in &ids[..16] {
        let snap = c.next().await;
        assert_eq!(product_ids(&snap), [*id]);
    }
    let ack = c.next().await;
    assert_eq!(ack_map(&ack)["level2"].as_array().unwrap().len(), 16);
    // Resubscribing a held product does not count twice; a seventeenth is refused.
    c.subscribe("level2", &ids[..1]).await;
    assert_eq!(product_ids(&c.next().await), [ids[0]]);
    c.next_on("subscriptions").await;
    c.subscribe("level2", &[ids[16]]).await;
    expect_too_many(&mut c).await;
    expect_silence(&mut c).await;
    // The ack of another subscribe shows it was not subscribed.
    c.subscribe("heartbeats", &[]).await;
    let ack = ack_map(&c.next_on("subscriptions").await);
    assert!(
        !ack["level2"].as_array().unwrap().contains(&json!(ids[16])),
        "{ack}"
    );
    // Other channels are not limited.
    c.subscribe("ticker", &ids[..18]).await;
    let ack = c.next_on("subscriptions").await;
    assert_eq!(ack_map(&ack)["ticker"].as_array().unwrap().len(), 18);
    // Unsubscribing one makes room for another.
    c.unsubscribe("level2", &[ids[0]]).await;
    c.next_on("subscriptions").await;
    c.subscribe("level2", &[ids[16]]).await;
    let snap = c.next_on("l2_data").await;
    assert_eq!(product_ids(&snap), [ids[16]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usdc_alias_of_a_held_product_is_the_same_stream() {
    let (mut config, mut ids) = many(15);
    config.products.push("BTC-USD".to_string());
    config.products.push("ETH-USD".to_string());
    ids.push("BTC-USD".to_string());
    let sim = start(config);
    let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    ids.push("BTC-USDC");
    // 17 ids, 16 served products.
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &ids).await;
    for _ in 0..16 {
        assert_eq!(c.next().await["channel"], "l2_data");
    }
    let ack = c.next().await;
    assert_eq!(ack_map(&ack)["level2"].as_array().unwrap().len(), 17);
    c.subscribe("level2", &["ETH-USDC"]).await;
    expect_too_many(&mut c).await;

    // The limit is a flag.
    let (mut config, ids) = many(3);
    config.max_l2_per_connection = 2;
    let sim = start(config);
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe(
        "level2",
        &[ids[0].as_str(), ids[1].as_str(), ids[2].as_str()],
    )
    .await;
    let e = c.next().await;
    assert_eq!(e["message"], TOO_MANY_L2_STREAMS);
    assert!(e["reason"].as_str().unwrap().contains("at most 2"), "{e}");
}

/// Tries a WebSocket upgrade; `Err(status)` when the server answered with an HTTP error.
async fn try_connect(url: &str) -> Result<Client, u16> {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
    {
        Ok((ws, _)) => Ok(Client { ws }),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connect failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_past_the_connection_rate_get_http_429_and_are_counted() {
    let sim = start(SimConfig {
        max_connections_per_sec: 3,
        ..still(&["BTC-USD"])
    });
    let url = sim.url();
    let attempts = futures_util::future::join_all((0..10).map(|_| try_connect(&url))).await;
    let mut open = Vec::new();
    let mut refused = 0;
    for attempt in attempts {
        match attempt {
            Ok(c) => open.push(c),
            Err(status) => {
                assert_eq!(status, 429);
                refused += 1;
            }
        }
    }
    // Ten attempts within a second on loopback: three get in (more only if this machine took
    // over a second for them).
    assert!(open.len() >= 3, "{} admitted", open.len());
    assert!(refused >= 1, "none refused");
    assert_eq!(sim.refused_connections(), refused);
    // The admitted ones work.
    open[0].subscribe("level2", &["BTC-USD"]).await;
    assert_eq!(open[0].next().await["channel"], "l2_data");
    // A second later there is room again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut c = try_connect(&url).await.expect("admitted after a second");
    c.subscribe("heartbeats", &[]).await;
    assert_eq!(c.next().await["channel"], "subscriptions");
    assert_eq!(sim.refused_connections(), refused);

    // The default lets a client that reconnects at a sane pace in, and refuses nobody.
    let sim = start(still(&["BTC-USD"]));
    for _ in 0..8 {
        try_connect(&sim.url()).await.expect("within 8 per second");
    }
    assert_eq!(sim.refused_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_messages_past_the_optional_rate_are_ignored_with_an_error() {
    let sim = start(SimConfig {
        max_unauth_messages_per_sec: 2,
        ..still(&["BTC-USD", "ETH-USD"])
    });
    let mut c = Client::connect(&sim.url()).await;
    // Two subscribes (a snapshot and an ack each), then one too many.
    c.subscribe("level2", &["BTC-USD"]).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    c.subscribe("level2", &["ETH-USD"]).await;
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(c.next().await);
    }
    let errors: Vec<&Value> = frames.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(errors.len(), 1, "{frames:#?}");
    assert_eq!(errors[0]["message"], "rate limit exceeded");
    assert!(
        !frames
            .iter()
            .any(|f| product_ids(f).contains(&"ETH-USD".to_string())),
        "the third message was not acted on: {frames:#?}"
    );
    assert_eq!(sim.refused_messages(), 1);

    // Off by default.
    let sim = start(still(&["BTC-USD"]));
    let mut c = Client::connect(&sim.url()).await;
    for _ in 0..20 {
        c.subscribe("heartbeats", &[]).await;
    }
    for _ in 0..20 {
        c.next_on("subscriptions").await;
    }
    assert_eq!(sim.refused_messages(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_flags_and_the_refusal_log() {
    let mut child = Command::new(common::cbbook_bin())
        .args([
            "sim",
            "--updates-per-sec",
            "0",
            "--max-connections-per-sec",
            "1",
            "--max-l2-per-connection",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut c = try_connect(&url).await.expect("the first is admitted");
    assert_eq!(try_connect(&url).await.err(), Some(429));
    c.subscribe("level2", &["BTC-USDC", "ETH-USD"]).await;
    assert_eq!(c.next().await["message"], TOO_MANY_L2_STREAMS);
    c.subscribe("level2", &["BTC-USDC"]).await;
    assert_eq!(product_ids(&c.next().await), ["BTC-USD"]);
    drop(c);
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert!(child.wait().unwrap().success());
    let lines = log.join().unwrap();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has(
            "refused: HTTP 429, over 1 new connections per second (--max-connections-per-sec); 1 refused so far"
        ),
        "{lines:#?}"
    );
    assert!(
        has(
            "refused subscribe level2 [BTC-USDC,ETH-USD]: too many L2 streams requested in a single session"
        ),
        "{lines:#?}"
    );
    assert!(has("shutting down; 1 HTTP 429 refusals"), "{lines:#?}");

    // --no-usdc-alias is what lets BTC-USDC be simulated.
    let out = Command::new(common::cbbook_bin())
        .args([
            "sim",
            "--products",
            "BTC-USDC",
            "--write-corpus",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--no-usdc-alias"),
        "{out:?}"
    );
}
