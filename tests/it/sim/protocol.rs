//! The simulator's wire protocol, checked with a plain WebSocket client: envelopes, sequence
//! numbers, snapshots and updates, acks, heartbeats, the other channels, and every error frame.

use crate::support::sim as sim_common;

use std::time::Duration;

use cbbook::sim::SimConfig;
use serde_json::{Value, json};
use sim_common::{Client, Next, TestBook, WAIT, is_rfc3339_nanos_z, kind, seq, start, wait_for};
use tokio::time::Instant;

fn ack_map(frame: &Value) -> Value {
    assert_eq!(frame["channel"], "subscriptions", "{frame}");
    let events = frame["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    events[0]["subscriptions"].clone()
}

/// Reads frames until a heartbeat with at least this counter, applying l2 frames to the books
/// and checking sequence numbers and that no book ever crosses.
async fn follow_until_heartbeat(
    client: &mut Client,
    books: &mut [(&str, &mut TestBook)],
    next_seq: &mut u64,
    counter: u64,
) {
    client
        .until(
            |v| {
                v["channel"] == "heartbeats"
                    && v["events"][0]["heartbeat_counter"].as_u64().unwrap() >= counter
            },
            |v| {
                if v["type"] == "error" {
                    panic!("unexpected error frame {v}");
                }
                assert_eq!(seq(v), *next_seq, "sequence numbers are contiguous");
                *next_seq += 1;
                if v["channel"] == "l2_data" {
                    for (product, book) in books.iter_mut() {
                        book.apply_frame(v, product);
                        assert!(!book.is_crossed(), "{product} crossed after {v}");
                    }
                }
            },
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_updates_rebuild_the_simulators_books_exactly() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        stop_updates_after: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    client.subscribe("heartbeats", &[]).await;

    // One whole-book snapshot frame per product, then the ack.
    let mut btc = TestBook::default();
    let mut eth = TestBook::default();
    for (i, (product, book)) in [("BTC-USD", &mut btc), ("ETH-USD", &mut eth)]
        .into_iter()
        .enumerate()
    {
        let frame = client.next().await;
        assert_eq!(frame["channel"], "l2_data");
        assert_eq!(seq(&frame), i as u64);
        assert_eq!(frame["events"][0]["type"], "snapshot");
        assert_eq!(frame["events"][0]["product_id"], product);
        book.apply_frame(&frame, product);
        assert!(book.levels() > 2_000, "{product}: {} levels", book.levels());
        assert!(!book.is_crossed());
    }
    let ack = client.next().await;
    assert_eq!(seq(&ack), 2);
    assert_eq!(ack_map(&ack), json!({"level2":["BTC-USD","ETH-USD"]}));
    let ack = client.next().await;
    assert_eq!(seq(&ack), 3);
    assert_eq!(
        ack_map(&ack),
        json!({"heartbeats":["heartbeats"],"level2":["BTC-USD","ETH-USD"]})
    );

    // Updates until well after the freeze.
    let mut next_seq = 4;
    follow_until_heartbeat(
        &mut client,
        &mut [("BTC-USD", &mut btc), ("ETH-USD", &mut eth)],
        &mut next_seq,
        3,
    )
    .await;
    assert!(next_seq > 30, "only {next_seq} frames");
    let dump = sim.dump_books();
    for (product, book) in [("BTC-USD", &btc), ("ETH-USD", &eth)] {
        let (bids, asks) = book.dump_sides();
        assert_eq!(dump[product]["state"], "live");
        assert!(dump[product]["sequence_num"].as_u64().unwrap() > 100);
        assert_eq!(dump[product]["bids"], bids, "{product} bids");
        assert_eq!(dump[product]["asks"], asks, "{product} asks");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_byte_exact() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        ..SimConfig::default()
    });
    let mut client = Client::connect(&sim.url()).await;
    client.subscribe("level2", &["ETH-USD"]).await;
    client.subscribe("heartbeats", &[]).await;
    let mut seen = std::collections::BTreeSet::new();
    let mut expected_seq = 0;
    while seen.len() < 3 {
        let raw = client.next_raw(WAIT).await.unwrap();
        let v: Value = serde_json::from_str(&raw).unwrap();
        let channel = v["channel"].as_str().unwrap().to_string();
        let timestamp = v["timestamp"].as_str().unwrap();
        assert!(is_rfc3339_nanos_z(timestamp), "{timestamp}");
        // Field order and spelling as on the exchange, compact, no spaces.
        let prefix = format!(
            "{{\"channel\":\"{channel}\",\"client_id\":\"\",\"timestamp\":\"{timestamp}\",\"sequence_num\":{expected_seq},\"events\":["
        );
        assert!(raw.starts_with(&prefix), "{raw:.200}");
        assert!(raw.ends_with("]}"));
        assert_eq!(v.as_object().unwrap().len(), 5);
        if channel == "l2_data" {
            for u in v["events"][0]["updates"].as_array().unwrap() {
                let keys: Vec<&String> = u.as_object().unwrap().keys().collect();
                assert_eq!(keys.len(), 4);
                assert!(is_rfc3339_nanos_z(u["event_time"].as_str().unwrap()));
                assert!(u["side"] == "bid" || u["side"] == "offer");
            }
            // Update frames name their product in each event.
            assert_eq!(v["events"][0]["product_id"], "ETH-USD");
        }
        seen.insert(channel);
        expected_seq += 1;
    }
    assert!(
        seen.contains("l2_data") && seen.contains("heartbeats") && seen.contains("subscriptions")
    );
    // The timestamp is the server's now.
    let v = client.next_on("heartbeats").await;
    let ts = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
    let off = (chrono::Utc::now() - ts.with_timezone(&chrono::Utc)).num_milliseconds();
    assert!(off.abs() < 5_000, "timestamp off by {off} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_numbers_are_per_connection() {
    let sim = start(SimConfig::default());
    let mut a = Client::connect(&sim.url()).await;
    a.subscribe("heartbeats", &[]).await;
    a.subscribe("level2", &["BTC-USD"]).await;
    let mut last = None;
    for _ in 0..20 {
        let v = a.next().await;
        let s = seq(&v);
        if let Some(l) = last {
            assert_eq!(s, l + 1);
        } else {
            assert_eq!(s, 0);
        }
        last = Some(s);
    }
    // A new connection starts again at 0.
    let mut b = Client::connect(&sim.url()).await;
    b.subscribe("heartbeats", &[]).await;
    assert_eq!(seq(&b.next().await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_tick_every_second_with_a_counter_that_outlives_connections() {
    let sim = start(SimConfig {
        updates_per_sec: 0.0,
        ..SimConfig::default()
    });
    let mut a = Client::connect(&sim.url()).await;
    a.subscribe("heartbeats", &[]).await;
    let ack = a.next().await;
    assert_eq!(ack_map(&ack), json!({"heartbeats":["heartbeats"]}));
    let first = a.next_on("heartbeats").await;
    let t0 = Instant::now();
    let second = a.next_on("heartbeats").await;
    let gap = t0.elapsed();
    assert!(
        gap > Duration::from_millis(500) && gap < Duration::from_millis(3000),
        "{gap:?}"
    );
    let c1 = first["events"][0]["heartbeat_counter"]
        .as_u64()
        .expect("integer counter");
    let c2 = second["events"][0]["heartbeat_counter"]
        .as_u64()
        .expect("integer counter");
    assert_eq!(c2, c1 + 1);
    let time = second["events"][0]["current_time"].as_str().unwrap();
    // Go's time.String(): "2026-07-16 20:28:53.16294062 +0000 UTC m=+75497.317767664"
    let (wall, mono) = time.split_once(" +0000 UTC m=+").expect(time);
    assert!(
        chrono::NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M:%S%.f").is_ok(),
        "{time}"
    );
    let (secs, nanos) = mono.split_once('.').expect(time);
    assert_eq!(nanos.len(), 9, "{time}");
    assert_eq!(
        secs.parse::<u64>().unwrap(),
        c2,
        "the counter is the server's uptime in seconds"
    );
    drop(a);

    let mut b = Client::connect(&sim.url()).await;
    b.subscribe("heartbeats", &[]).await;
    let later = b.next_on("heartbeats").await;
    assert!(later["events"][0]["heartbeat_counter"].as_u64().unwrap() > c2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_are_cumulative_and_unsubscribe_stops_the_data() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"level2":["BTC-USD"]})
    );
    c.subscribe("level2", &["ETH-USD", "BTC-USD"]).await;
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"level2":["BTC-USD","ETH-USD"]})
    );
    c.subscribe("heartbeats", &[]).await;
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"heartbeats":["heartbeats"],"level2":["BTC-USD","ETH-USD"]})
    );
    c.unsubscribe("level2", &["BTC-USD"]).await;
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"heartbeats":["heartbeats"],"level2":["ETH-USD"]})
    );
    // From the ack on, no BTC-USD data; ETH-USD keeps coming.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut eth = 0;
    while Instant::now() < until {
        if let Next::Frame(v) = c.next_within(Duration::from_millis(200)).await {
            if v["channel"] == "l2_data" {
                assert_eq!(v["events"][0]["product_id"], "ETH-USD", "{v}");
                eth += 1;
            }
        }
    }
    assert!(eth > 5, "{eth}");
    // No product ids: the whole channel goes.
    c.send(json!({"type":"unsubscribe","channel":"level2"}))
        .await;
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"heartbeats":["heartbeats"]})
    );
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Next::Frame(v) = c.next_within(Duration::from_millis(200)).await {
            assert_eq!(v["channel"], "heartbeats", "{v}");
        }
    }
    // The official SDK unsubscribes heartbeats with an empty list.
    c.unsubscribe("heartbeats", &[]).await;
    assert_eq!(ack_map(&c.next_on("subscriptions").await), json!({}));
    assert!(matches!(
        c.next_within(Duration::from_millis(1500)).await,
        Next::Silent
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_level2_sends_a_fresh_snapshot() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        stop_updates_after: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    c.subscribe("heartbeats", &[]).await;
    let mut book = TestBook::default();
    let mut snapshots = 0;
    let mut next_seq = 0;
    let mut resubscribed = false;
    loop {
        let v = c.next().await;
        assert_eq!(seq(&v), next_seq);
        next_seq += 1;
        if v["channel"] == "l2_data" {
            if v["events"][0]["type"] == "snapshot" {
                snapshots += 1;
            }
            book.apply_frame(&v, "BTC-USD");
        }
        if v["channel"] == "heartbeats" {
            let n = v["events"][0]["heartbeat_counter"].as_u64().unwrap();
            if !resubscribed {
                // A client resyncing subscribes again without unsubscribing.
                c.subscribe("level2", &["BTC-USD"]).await;
                resubscribed = true;
            } else if n >= 3 {
                break;
            }
        }
    }
    assert_eq!(snapshots, 2);
    let (bids, asks) = book.dump_sides();
    let dump = sim.dump_books();
    assert_eq!(dump["BTC-USD"]["bids"], bids);
    assert_eq!(dump["BTC-USD"]["asks"], asks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_frames_have_no_envelope_and_the_connection_lives() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    let exact = |c: &'static str| c.to_string();

    // An unknown channel is "authentication failure", like the exchange.
    c.send(json!({"type":"subscribe","channel":"heartbeat"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["message"], "authentication failure");
    assert!(e["reason"].as_str().unwrap().contains("heartbeat"));
    assert!(e.get("sequence_num").is_none() && e.get("channel").is_none());
    assert_eq!(e.as_object().unwrap().len(), 3);

    c.send(json!({"type":"hello","channel":"level2","product_ids":["BTC-USD"]}))
        .await;
    let e = c.next().await;
    assert_eq!(e["message"], "subscribe or unsubscribe required");

    c.send_text("this is not json").await;
    let e = c.next().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["message"], "malformed message");

    c.send(json!({"type":"subscribe","channels":["level2"],"product_ids":["BTC-USD"]}))
        .await;
    let e = c.next().await;
    assert_eq!(e["message"], "authentication failure");
    assert!(e["reason"].as_str().unwrap().contains("one \"channel\""));

    // The unknown product, byte for byte.
    c.subscribe("level2", &["FOO-BAR"]).await;
    assert_eq!(
        c.next_raw(WAIT).await.unwrap(),
        exact(
            r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#
        )
    );
    // One bad product refuses the whole message: nothing is subscribed.
    c.subscribe("level2", &["BTC-USD", "FOO-BAR"]).await;
    assert_eq!(c.next().await["reason"], "FOO-BAR is not a valid product");

    c.subscribe("level2", &[]).await;
    let e = c.next().await;
    assert_eq!(e["message"], "failure to subscribe");
    assert!(e["reason"].as_str().unwrap().contains("product"));

    // user needs a JWT.
    c.subscribe("user", &[]).await;
    let e = c.next().await;
    assert_eq!(e["message"], "authentication failure");
    assert!(
        e["reason"].as_str().unwrap().starts_with("jwt_required: "),
        "{e}"
    );

    // Still alive, and errors took no sequence numbers.
    c.subscribe("heartbeats", &[]).await;
    let ack = c.next().await;
    assert_eq!(seq(&ack), 0);
    assert_eq!(ack_map(&ack), json!({"heartbeats":["heartbeats"]}));
    assert_eq!(c.next_on("heartbeats").await["sequence_num"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_messages_are_read_as_text() {
    use futures_util::SinkExt;
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    let msg = json!({"type":"subscribe","channel":"heartbeats"}).to_string();
    c.ws.send(tokio_tungstenite::tungstenite::Message::binary(
        msg.into_bytes(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ack_map(&c.next().await),
        json!({"heartbeats":["heartbeats"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_subscribe_in_time_is_closed() {
    let sim = start(SimConfig {
        subscribe_deadline: Duration::from_millis(700),
        ..SimConfig::default()
    });
    let opened = Instant::now();
    let mut idle = Client::connect(&sim.url()).await;
    let mut chatty = Client::connect(&sim.url()).await;
    let mut refused = Client::connect(&sim.url()).await;
    let mut good = Client::connect(&sim.url()).await;
    good.subscribe("heartbeats", &[]).await;
    // Messages that are not subscribes do not count...
    chatty.send_text("hello").await;
    assert_eq!(chatty.next().await["type"], "error");
    // ...but a subscribe that is refused does: it arrived, and the connection stays open.
    refused.subscribe("level2", &["FOO-BAR"]).await;
    assert_eq!(refused.next().await["type"], "error");

    for client in [&mut idle, &mut chatty] {
        match client.next_within(WAIT).await {
            Next::Closed(reason) => {
                assert!(reason.unwrap_or_default().contains("no subscribe"));
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    assert!(opened.elapsed() >= Duration::from_millis(600));
    // The other two live on well past the deadline.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut heartbeats = 0;
    while Instant::now() < until {
        match good.next_within(WAIT).await {
            Next::Frame(v) if kind(&v) == "heartbeats" => heartbeats += 1,
            Next::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(heartbeats >= 1);
    assert!(matches!(
        refused.next_within(Duration::from_millis(200)).await,
        Next::Silent
    ));
    wait_for("two closed connections", || sim.open_connections() == 2).await;
}

fn number(v: &Value) -> f64 {
    v.as_str()
        .expect("a decimal string")
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticker_trades_candles_and_status_come_from_the_market() {
    let sim = start(SimConfig {
        updates_per_sec: 400.0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("ticker", &["ETH-USD"]).await;
    let snap = c.next().await;
    assert_eq!(snap["channel"], "ticker");
    assert_eq!(snap["events"][0]["type"], "snapshot");
    let t = &snap["events"][0]["tickers"][0];
    assert_eq!(t["type"], "ticker");
    assert_eq!(t["product_id"], "ETH-USD");
    for field in [
        "price",
        "volume_24_h",
        "low_24_h",
        "high_24_h",
        "low_52_w",
        "high_52_w",
        "price_percent_chg_24_h",
        "best_bid",
        "best_bid_quantity",
        "best_ask",
        "best_ask_quantity",
    ] {
        let _ = number(&t[field]);
    }
    assert!(number(&t["best_bid"]) < number(&t["best_ask"]));
    assert!(number(&t["low_24_h"]) <= number(&t["high_24_h"]));

    c.subscribe("market_trades", &["ETH-USD"]).await;
    let snap = c.next_on("market_trades").await;
    assert_eq!(snap["events"][0]["type"], "snapshot");
    c.subscribe("candles", &["ETH-USD"]).await;
    assert_eq!(c.next_on("candles").await["events"][0]["type"], "snapshot");
    c.subscribe("status", &["ETH-USD", "BTC-USD"]).await;
    let status = c.next_on("status").await;
    let products = status["events"][0]["products"].as_array().unwrap();
    assert_eq!(products.len(), 2);
    assert_eq!(products[0]["id"], "ETH-USD");
    assert_eq!(products[0]["quote_increment"], "0.01");
    assert_eq!(products[0]["status"], "online");
    c.subscribe("ticker_batch", &["ETH-USD"]).await;
    assert_eq!(
        c.next_on("ticker_batch").await["events"][0]["type"],
        "snapshot"
    );
    assert_eq!(
        ack_map(&c.next_on("subscriptions").await),
        json!({"candles":["ETH-USD"],"market_trades":["ETH-USD"],"status":["ETH-USD","BTC-USD"],"ticker":["ETH-USD"],"ticker_batch":["ETH-USD"]})
    );

    // Updates on each channel as the market trades.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        let v = c.next().await;
        let ch = kind(&v);
        if ch == "subscriptions" || v["events"][0]["type"] != "update" {
            continue;
        }
        match ch.as_str() {
            "market_trades" => {
                for trade in v["events"][0]["trades"].as_array().unwrap() {
                    assert_eq!(trade["product_id"], "ETH-USD");
                    assert!(trade["side"] == "BUY" || trade["side"] == "SELL");
                    assert!(number(&trade["size"]) > 0.0);
                    assert!(is_rfc3339_nanos_z(trade["time"].as_str().unwrap()));
                    assert!(trade["trade_id"].as_str().unwrap().parse::<u64>().is_ok());
                }
            }
            "ticker" | "ticker_batch" => {
                let t = &v["events"][0]["tickers"][0];
                assert!(number(&t["best_bid"]) < number(&t["best_ask"]));
            }
            "candles" => {
                let k = &v["events"][0]["candles"][0];
                assert!(number(&k["low"]) <= number(&k["high"]));
                assert_eq!(
                    k["start"].as_str().unwrap().parse::<i64>().unwrap() % 300,
                    0
                );
            }
            other => panic!("unexpected {other}: {v}"),
        }
        seen.insert(ch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_sees_the_same_market() {
    let sim = start(SimConfig {
        updates_per_sec: 300.0,
        stop_updates_after: Some(Duration::from_millis(2500)),
        ..SimConfig::default()
    });
    let mut a = Client::connect(&sim.url()).await;
    a.subscribe("level2", &["ETH-USD"]).await;
    a.subscribe("heartbeats", &[]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut b = Client::connect(&sim.url()).await;
    b.subscribe("level2", &["ETH-USD"]).await;
    b.subscribe("heartbeats", &[]).await;
    let mut books = [TestBook::default(), TestBook::default()];
    for (client, book) in [&mut a, &mut b].into_iter().zip(books.iter_mut()) {
        let mut next_seq = 0;
        follow_until_heartbeat(client, &mut [("ETH-USD", book)], &mut next_seq, 4).await;
    }
    assert_eq!(books[0], books[1]);
    let (bids, asks) = books[0].dump_sides();
    assert_eq!(sim.dump_books()["ETH-USD"]["bids"], bids);
    assert_eq!(sim.dump_books()["ETH-USD"]["asks"], asks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_with_going_away() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("heartbeats", &[]).await;
    c.next().await;
    sim.shutdown();
    match c.until_closed().await {
        Next::Closed(reason) => assert_eq!(reason.as_deref(), Some("server shutting down")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    c.ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let reply = tokio::time::timeout(WAIT, c.ws.next()).await.unwrap();
    match reply {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("{other:?}"),
    }
}

/// The trade ids of a `market_trades` frame.
fn trade_ids(frame: &Value) -> Vec<u64> {
    frame["events"][0]["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trade_id"].as_str().unwrap().parse::<u64>().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_trades_sends_each_trade_once_after_any_subscribe() {
    // A busy market trades many times between two trade frames, so a subscribe often lands
    // while trades wait to be published.
    let sim = start(SimConfig {
        updates_per_sec: 3000.0,
        ..SimConfig::default()
    });
    // Wait for the first trades to be published.
    let mut first = Client::connect(&sim.url()).await;
    first.subscribe("market_trades", &["BTC-USD"]).await;
    first
        .until(|v| v["events"][0]["type"] == "update", |_| {})
        .await;
    for round in 0..8u64 {
        let mut c = Client::connect(&sim.url()).await;
        // Subscribe at different points of the 250 ms trade cycle.
        tokio::time::sleep(Duration::from_millis(31 * round)).await;
        c.subscribe("market_trades", &["BTC-USD"]).await;
        let snap = c.next_on("market_trades").await;
        assert_eq!(snap["events"][0]["type"], "snapshot");
        let mut ids = trade_ids(&snap);
        assert!(!ids.is_empty(), "a busy market has recent trades: {snap}");
        let newest_in_snapshot = *ids.iter().max().unwrap();
        let mut updates = Vec::new();
        while updates.len() < 3 {
            let v = c.next_on("market_trades").await;
            assert_eq!(v["events"][0]["type"], "update", "{v}");
            updates.extend(trade_ids(&v));
            ids.extend(trade_ids(&v));
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "round {round}: a trade came twice");
        // Nothing was skipped either: the updates continue the snapshot's trade ids.
        updates.sort_unstable();
        let expected: Vec<u64> = (newest_in_snapshot + 1..=*updates.last().unwrap()).collect();
        assert_eq!(updates, expected, "round {round}");
    }
}
