//! A recording keeps every frame the live client received, so that replay counts what live
//! counted: binary frames that are not UTF-8 text (base64 under `binary`), frames the WebSocket
//! layer refused before their bytes could be read (`unread`: over the size limit, text that is
//! not UTF-8), and the ordinary ones. See RELIABILITY.md, section 9.2, and docs/recording.md.

use crate::support::feed as feed_support;

use std::time::Duration;

use cbbook::feed::events::{BookState, FeedEvent, FeedStats};
use cbbook::feed::replay::{self, HeadlessHost, ReplayConfig};
use cbbook::feed::{LiveConfig, client};
use feed_support::{ServerWs as Ws, listener, state, stop, wait_view};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(30);

async fn accept(listener: &TcpListener) -> Ws {
    let mut ws = feed_support::accept_within(listener, WAIT).await;
    for _ in ["level2", "heartbeats"] {
        feed_support::recv_within(&mut ws, WAIT).await;
    }
    ws
}

fn envelope(channel: &str, seq: u64, events: Value) -> String {
    json!({"channel": channel, "client_id": "", "timestamp": "2026-01-01T00:00:00.123Z", "sequence_num": seq, "events": events}).to_string()
}

fn level(side: &str, price: &str, qty: &str) -> Value {
    json!({"side": side, "event_time": "1970-01-01T00:00:00Z", "price_level": price, "new_quantity": qty})
}

fn snapshot(bid: &str) -> String {
    envelope(
        "l2_data",
        0,
        json!([{"type": "snapshot", "product_id": "BTC-USD", "updates": [level("bid", bid, "1"), level("offer", "200", "2")]}]),
    )
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

async fn live_after(ws: &mut Ws, handle: &mut cbbook::feed::events::FeedHandle, bid: &str) {
    ws.send(Message::text(snapshot(bid))).await.unwrap();
    wait_view(handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
            && v.products[0]
                .best_bid
                .is_some_and(|(p, _)| p.to_string() == bid)
    })
    .await;
}

/// What live and replay must agree on.
fn counts(s: &FeedStats) -> [u64; 7] {
    [
        s.frames,
        s.bad_frames,
        s.updates,
        s.gaps,
        s.resyncs,
        s.reconnects,
        s.errors,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_keeps_binary_and_unreadable_frames_and_replays_to_the_live_counts() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("session.jsonl");
    let (listener, url) = listener().await;
    let config = LiveConfig {
        record: Some(record.clone()),
        watchdog: Duration::from_secs(5),
        ..LiveConfig::new(&url, vec!["BTC-USD".to_owned()])
    };
    let (task, mut handle) = client::start(config);

    // Connection 1: binary frames (one not UTF-8, one holding a heartbeat), a text frame that is
    // not JSON, an update, then a text frame that is not UTF-8 (the connection ends).
    let mut ws = accept(&listener).await;
    live_after(&mut ws, &mut handle, "100").await;
    ws.send(Message::binary(vec![0xff, 0xfe, 0x00, b'\n', 0x80]))
        .await
        .unwrap();
    let heartbeat = envelope(
        "heartbeats",
        1,
        json!([{"current_time": "2026-01-01T00:00:00Z", "heartbeat_counter": 1}]),
    );
    ws.send(Message::binary(heartbeat.into_bytes()))
        .await
        .unwrap();
    ws.send(Message::text("garbage")).await.unwrap();
    let update = envelope(
        "l2_data",
        2,
        json!([{"type": "update", "product_id": "BTC-USD", "updates": [level("bid", "101", "3")]}]),
    );
    ws.send(Message::text(update)).await.unwrap();
    raw_text_frame(&mut ws, 4, &[0x7b, 0xff, 0xfe, 0x7d]).await;
    // Connection 2: a frame over the size limit (the connection ends).
    let mut ws = accept(&listener).await;
    live_after(&mut ws, &mut handle, "120").await;
    raw_text_frame(&mut ws, 1 << 62, b"{").await;
    // Connection 3: the book comes back.
    let mut ws = accept(&listener).await;
    live_after(&mut ws, &mut handle, "130").await;
    let live = stop(task, &handle).await;
    let live_counts = counts(live.stats());
    assert_eq!(live.stats().bad_frames, 4, "{:?}", live.stats());
    assert_eq!(live.stats().reconnects, 2, "{:?}", live.stats());

    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#","binary":"//4ACoA="}"#), "{text}");
    assert_eq!(text.matches(r#","unread":"#).count(), 2, "{text}");

    let mut bad_frames = Vec::new();
    let mut host = HeadlessHost::new(|event: FeedEvent| {
        if let FeedEvent::BadFrame { error, .. } = event {
            bad_frames.push(error);
        }
    });
    let report = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    assert_eq!(report.broken_lines, 0);
    assert_eq!(
        counts(report.core.stats()),
        live_counts,
        "frames, bad frames, updates, gaps, resyncs, reconnects, errors"
    );
    assert_eq!(report.core.dump_books(), live.dump_books());
    assert_eq!(bad_frames.len(), 4, "{bad_frames:?}");
    assert_eq!(bad_frames[0], "binary frame that is not UTF-8 text");
    assert!(bad_frames[3].contains("64 MiB"), "{bad_frames:?}");
}
