//! Bad input from the server, over a real socket from a scripted server: malformed frames and
//! fields (missing fields, wrong types, huge and negative numbers, non-numeric strings), a frame
//! over the size limit, text that is not UTF-8, and a sequence number from the far future. Each
//! is counted in `FeedStats::bad_frames` and shown as a `BadFrame` event (never a panic), and the
//! feed recovers. See RELIABILITY.md, "Bad input".

use crate::support::feed as feed_support;

use std::time::Duration;

use cbbook::feed::events::{BookState, FeedEvent};
use cbbook::feed::{LiveConfig, client};
use feed_support::{ServerWs as Ws, disconnect_reasons, events, listener, state, stop, wait_view};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(30);

/// Accepts the client's next connection and reads its two subscribes (level2, heartbeats).
async fn accept(listener: &TcpListener) -> Ws {
    let mut ws = feed_support::accept_within(listener, WAIT).await;
    for channel in ["level2", "heartbeats"] {
        let msg = recv(&mut ws).await;
        assert_eq!(
            (msg["type"].as_str(), msg["channel"].as_str()),
            (Some("subscribe"), Some(channel))
        );
    }
    ws
}

async fn recv(ws: &mut Ws) -> Value {
    feed_support::recv_within(ws, WAIT).await
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.unwrap();
}

fn envelope(channel: &str, seq: u64, events: Value) -> String {
    json!({"channel": channel, "client_id": "", "timestamp": "2026-01-01T00:00:00.123Z", "sequence_num": seq, "events": events}).to_string()
}

fn snapshot(seq: u64, bid: &str) -> String {
    envelope(
        "l2_data",
        seq,
        json!([{"type": "snapshot", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "event_time": "1970-01-01T00:00:00Z", "price_level": bid, "new_quantity": "1"},
            {"side": "offer", "event_time": "1970-01-01T00:00:00Z", "price_level": "200", "new_quantity": "2"}]}]),
    )
}

/// An l2_data update frame with one level whose fields are given as raw JSON.
fn update_with(seq: u64, side: &str, price: &str, qty: &str) -> String {
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"update","product_id":"BTC-USD","updates":[{{"side":{side},"event_time":"2026-01-01T00:00:00Z","price_level":{price},"new_quantity":{qty}}}]}}]}}"#
    )
}

fn config(url: &str) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(5),
        ..LiveConfig::new(url, vec!["BTC-USD".to_owned()])
    }
}

/// The malformed frames of the issue, each with a label. Sequence numbers, where a frame has
/// one, keep growing, so that none of them is merely a stale frame.
fn malformed_frames() -> Vec<(&'static str, String)> {
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };
    let huge_digits = "9".repeat(40);
    vec![
        ("not JSON", "garbage".to_owned()),
        (
            "truncated JSON",
            format!("{{\"channel\":\"l2_data\",\"sequence_num\":{}", next()),
        ),
        ("empty", String::new()),
        ("a JSON array", "[1,2,3]".to_owned()),
        ("a JSON string", "\"l2_data\"".to_owned()),
        ("JSON null", "null".to_owned()),
        (
            "no channel nor type",
            format!("{{\"sequence_num\":{}}}", next()),
        ),
        (
            "l2_data without events",
            format!(r#"{{"channel":"l2_data","sequence_num":{}}}"#, next()),
        ),
        (
            "events not a list",
            envelope("l2_data", next(), json!({"type": "update"})),
        ),
        (
            "event without product_id",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "update", "updates": []}]),
            ),
        ),
        (
            "event without type",
            envelope(
                "l2_data",
                next(),
                json!([{"product_id": "BTC-USD", "updates": []}]),
            ),
        ),
        (
            "unknown event type",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "delta", "product_id": "BTC-USD", "updates": []}]),
            ),
        ),
        (
            "updates not a list",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "update", "product_id": "BTC-USD", "updates": "none"}]),
            ),
        ),
        (
            "level without price_level",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid", "new_quantity": "1"}]}]),
            ),
        ),
        (
            "level without new_quantity",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid", "price_level": "100"}]}]),
            ),
        ),
        (
            "level without side",
            envelope(
                "l2_data",
                next(),
                json!([{"type": "update", "product_id": "BTC-USD", "updates": [{"price_level": "100", "new_quantity": "1"}]}]),
            ),
        ),
        (
            "unknown side",
            update_with(next(), "\"ask\"", "\"100\"", "\"1\""),
        ),
        (
            "side a number",
            update_with(next(), "1", "\"100\"", "\"1\""),
        ),
        (
            "price a JSON number",
            update_with(next(), "\"bid\"", "100", "\"1\""),
        ),
        (
            "size a boolean",
            update_with(next(), "\"bid\"", "\"100\"", "true"),
        ),
        (
            "price null",
            update_with(next(), "\"bid\"", "null", "\"1\""),
        ),
        (
            "price not numeric",
            update_with(next(), "\"bid\"", "\"abc\"", "\"1\""),
        ),
        (
            "price NaN",
            update_with(next(), "\"bid\"", "\"NaN\"", "\"1\""),
        ),
        (
            "price Infinity",
            update_with(next(), "\"bid\"", "\"Infinity\"", "\"1\""),
        ),
        (
            "price empty",
            update_with(next(), "\"bid\"", "\"\"", "\"1\""),
        ),
        (
            "price with exponent",
            update_with(next(), "\"bid\"", "\"1e5\"", "\"1\""),
        ),
        (
            "price with a thousands comma",
            update_with(next(), "\"bid\"", "\"1,000\"", "\"1\""),
        ),
        (
            "price in hex",
            update_with(next(), "\"bid\"", "\"0x10\"", "\"1\""),
        ),
        (
            "price with spaces",
            update_with(next(), "\"bid\"", "\" 100\"", "\"1\""),
        ),
        (
            "negative price",
            update_with(next(), "\"bid\"", "\"-100\"", "\"1\""),
        ),
        (
            "negative size",
            update_with(next(), "\"bid\"", "\"100\"", "\"-1\""),
        ),
        (
            "huge price",
            update_with(next(), "\"bid\"", &format!("\"{huge_digits}\""), "\"1\""),
        ),
        (
            "huge size",
            update_with(next(), "\"bid\"", "\"100\"", &format!("\"{huge_digits}\"")),
        ),
        (
            "too many decimals",
            update_with(
                next(),
                "\"bid\"",
                "\"100.0000000000000000000000000001\"",
                "\"1\"",
            ),
        ),
        (
            "sequence_num a string",
            envelope("heartbeats", 0, json!([])).replace(
                "\"sequence_num\":0",
                &format!("\"sequence_num\":\"{}\"", next()),
            ),
        ),
        (
            "sequence_num negative",
            envelope("heartbeats", 0, json!([]))
                .replace("\"sequence_num\":0", "\"sequence_num\":-1"),
        ),
        (
            "sequence_num over u64",
            envelope("heartbeats", 0, json!([])).replace(
                "\"sequence_num\":0",
                "\"sequence_num\":18446744073709551616",
            ),
        ),
        (
            "sequence_num fractional",
            envelope("heartbeats", 0, json!([]))
                .replace("\"sequence_num\":0", "\"sequence_num\":1.5"),
        ),
        (
            "heartbeat_counter not a number",
            envelope(
                "heartbeats",
                next(),
                json!([{"current_time": "x", "heartbeat_counter": "many"}]),
            ),
        ),
        (
            "subscriptions not a map",
            envelope(
                "subscriptions",
                next(),
                json!([{"subscriptions": ["level2"]}]),
            ),
        ),
        (
            "deeply nested",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "a 1 MB side",
            update_with(
                next(),
                &format!("\"{}\"", "x".repeat(1 << 20)),
                "\"100\"",
                "\"1\"",
            ),
        ),
        (
            "a 1 MB price",
            update_with(
                next(),
                "\"bid\"",
                &format!("\"{}\"", "9".repeat(1 << 20)),
                "\"1\"",
            ),
        ),
    ]
}

/// Every malformed frame is counted once, reported with an error text, and the connection goes
/// on; a fresh snapshot afterwards makes the book live with exactly its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_and_shown_and_the_feed_goes_on() {
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url));
    let mut ws = accept(&listener).await;
    send_text(&mut ws, &snapshot(0, "100")).await;
    wait_view(&mut handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    let frames = malformed_frames();
    assert_eq!(frames.len(), 43, "RELIABILITY.md counts them");
    let mut last_seq = 0;
    for (i, (label, frame)) in frames.iter().enumerate() {
        send_text(&mut ws, frame).await;
        let want = i as u64 + 1;
        let view = wait_view(&mut handle, label, |v| v.stats.bad_frames >= want).await;
        assert_eq!(view.stats.bad_frames, want, "{label}: counted once");
        last_seq = view.stats.last_sequence_num.unwrap_or(last_seq);
    }
    // A binary frame that is not UTF-8 text.
    ws.send(Message::binary(vec![0xff, 0xfe, 0x00]))
        .await
        .unwrap();
    let n = frames.len() as u64 + 1;
    wait_view(&mut handle, "binary", |v| v.stats.bad_frames >= n).await;
    let ev = events(&mut handle);
    let reported: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            FeedEvent::BadFrame { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported.len() as u64,
        n,
        "one BadFrame event each: {reported:#?}"
    );
    for error in &reported {
        assert!(!error.is_empty());
        assert!(error.len() < 2000, "an error text stays short: {error}");
    }
    // An error frame without its message is still an error frame, shown with what it has.
    send_text(&mut ws, r#"{"type":"error","reason":"no message"}"#).await;
    let view = wait_view(&mut handle, "error frame", |v| v.stats.errors == 1).await;
    assert_eq!(view.stats.bad_frames, n);
    let last = view.auth.last_error.clone().unwrap();
    assert_eq!(last.reason.as_deref(), Some("no message"));
    // An error frame of megabytes is kept and shown cut short.
    let long = format!(
        r#"{{"type":"error","message":"{}","reason":"{}"}}"#,
        "m".repeat(3 << 20),
        "r".repeat(3 << 20)
    );
    send_text(&mut ws, &long).await;
    let view = wait_view(&mut handle, "long error frame", |v| v.stats.errors == 2).await;
    let last = view.auth.last_error.clone().unwrap();
    assert!(
        last.raw.len() < 4096 && last.message.len() < 4096,
        "{}",
        last.raw.len()
    );
    assert!(last.reason.unwrap().ends_with("bytes in all)"));
    // Still the same connection, and a fresh snapshot brings the book back exactly.
    send_text(&mut ws, &snapshot(last_seq + 1, "150")).await;
    let view = wait_view(&mut handle, "live again", |v| {
        state(v, "BTC-USD") == BookState::Live
            && v.products[0]
                .best_bid
                .is_some_and(|(p, _)| p.to_string() == "150")
    })
    .await;
    assert_eq!(view.stats.reconnects, 0, "{:?}", view.stats);
    assert_eq!(
        (view.products[0].bid_levels, view.products[0].ask_levels),
        (1, 1)
    );
    stop(task, &handle).await;
}

/// Writes a raw server frame header (FIN, text) announcing `len` bytes, then `payload`.
async fn raw_text_frame(ws: &mut Ws, len: u64, payload: &[u8]) {
    let mut frame = vec![0x81u8, 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    let tcp = ws.get_mut();
    tcp.write_all(&frame).await.unwrap();
    tcp.flush().await.unwrap();
}

/// A frame announcing more than the 64 MiB limit (here 2^62 bytes: nothing may be reserved for
/// it), and a text frame that is not UTF-8: each is a counted bad frame that ends the
/// connection, and the client reconnects and recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_and_invalid_text_are_bad_frames_and_the_feed_reconnects() {
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url));
    let cases: [(&str, u64, &[u8]); 3] = [
        ("over the limit", 1 << 62, b"{"),
        ("just over 64 MiB", (64 << 20) + 1, b"{"),
        ("not UTF-8", 4, &[0x7b, 0xff, 0xfe, 0x7d]),
    ];
    for (i, (label, len, payload)) in cases.iter().enumerate() {
        let mut ws = accept(&listener).await;
        send_text(&mut ws, &snapshot(0, "100")).await;
        wait_view(&mut handle, "live", |v| {
            state(v, "BTC-USD") == BookState::Live
        })
        .await;
        raw_text_frame(&mut ws, *len, payload).await;
        let want = i as u64 + 1;
        let view = wait_view(&mut handle, label, |v| {
            v.stats.bad_frames >= want && v.stats.reconnects >= want
        })
        .await;
        assert_eq!(view.stats.bad_frames, want, "{label}");
        assert_eq!(state(&view, "BTC-USD"), BookState::Desynced, "{label}");
    }
    let ev = events(&mut handle);
    let errors: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            FeedEvent::BadFrame { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("64 MiB"), "{errors:?}");
    assert!(errors[1].contains("64 MiB"), "{errors:?}");
    // A new connection brings the book back.
    let mut ws = accept(&listener).await;
    send_text(&mut ws, &snapshot(0, "120")).await;
    wait_view(&mut handle, "live after the reconnects", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    stop(task, &handle).await;
}

/// A frame whose `sequence_num` comes from the far future (a corrupted number) is a gap; the
/// frames after it all look older, so no snapshot can bring the book back on that connection.
/// The client must not stay desynced for ever: when resubscribing does not help, it reconnects,
/// and the new connection's numbers start again at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_number_from_the_far_future_does_not_wedge_the_feed() {
    let (listener, url) = listener().await;
    let cfg = LiveConfig {
        resync_timeout: Duration::from_millis(800),
        ..config(&url)
    };
    let (task, mut handle) = client::start(cfg);
    let mut ws = accept(&listener).await;
    send_text(&mut ws, &snapshot(0, "100")).await;
    wait_view(&mut handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    send_text(
        &mut ws,
        &update_with(u64::MAX, "\"bid\"", "\"99\"", "\"1\""),
    )
    .await;
    wait_view(&mut handle, "the jump", |v| v.stats.gaps == 1).await;
    // The server answers resubscribes with snapshots and keeps its heartbeats coming, with
    // its own (correct) numbers: to the client, all of them are stale.
    let feeder = tokio::spawn(async move {
        let mut seq = 2;
        loop {
            let frame = if seq % 5 == 0 {
                snapshot(seq, "101")
            } else {
                envelope(
                    "heartbeats",
                    seq,
                    json!([{"current_time": "now", "heartbeat_counter": seq}]),
                )
            };
            if ws.send(Message::text(frame)).await.is_err() {
                return;
            }
            seq += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut second = accept(&listener).await;
    send_text(&mut second, &snapshot(0, "102")).await;
    let view = wait_view(&mut handle, "live on a new connection", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    assert!(view.stats.reconnects >= 1, "{:?}", view.stats);
    assert_eq!(
        view.products[0].best_bid.unwrap().0.to_string(),
        "102",
        "the new connection's snapshot"
    );
    let reasons = disconnect_reasons(events(&mut handle));
    let reason = reasons.first().expect("a Disconnected event");
    assert!(reason.contains("desynced"), "{reason}");
    feeder.abort();
    stop(task, &handle).await;
}

/// Frames of channels and message types the client does not know (other channels of the
/// exchange, a channel that does not exist yet, a new message type) are ignored, but their
/// envelope's number counts: no gap, no bad frame, the book untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_channels_and_message_types_are_ignored_but_their_numbers_count() {
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url));
    let mut ws = accept(&listener).await;
    send_text(&mut ws, &snapshot(0, "100")).await;
    let others = [
        envelope(
            "ticker",
            1,
            json!([{"type": "update", "tickers": [{"product_id": "BTC-USD", "price": "1"}]}]),
        ),
        envelope(
            "market_trades",
            2,
            json!([{"type": "update", "trades": []}]),
        ),
        envelope("status", 3, json!([{"type": "snapshot", "products": []}])),
        envelope(
            "futures_thing_of_2030",
            4,
            json!([{"anything": [1, 2, {"deep": true}]}]),
        ),
        envelope("candles", 5, json!("not even a list")),
        r#"{"type":"announcement","message":"hello"}"#.to_owned(),
        envelope(
            "l2_data",
            6,
            json!([{"type": "update", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "event_time": "2026-01-01T00:00:00Z", "price_level": "99", "new_quantity": "3"}]}]),
        ),
    ];
    for frame in &others {
        send_text(&mut ws, frame).await;
    }
    let view = wait_view(&mut handle, "the update after the unknown frames", |v| {
        v.products[0].bid_levels == 2
    })
    .await;
    assert_eq!(
        (
            view.stats.gaps,
            view.stats.bad_frames,
            view.stats.errors,
            view.stats.stale_frames
        ),
        (0, 0, 0, 0),
        "{:?}",
        view.stats
    );
    assert_eq!(view.stats.last_sequence_num, Some(6));
    assert_eq!(state(&view, "BTC-USD"), BookState::Live);
    stop(task, &handle).await;
}
