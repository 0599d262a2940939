//! The live client against a scripted WebSocket server on loopback: every step of the protocol
//! is checked from the server's side (what the client sent) and from the client's (books,
//! events, counters). The simulator-based tests are in `tests/it/feed/sim.rs`.

use crate::support::feed as feed_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{BookState, FeedCommand, FeedEvent, FeedHandle, FeedView};
use cbbook::feed::{LiveConfig, ReplayConfig, client, headless, replay};
use feed_support::{ServerWs as Ws, disconnect_reasons, events, listener, state};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// This file's limit for every wait.
const WAIT: Duration = Duration::from_secs(20);

async fn accept(listener: &TcpListener) -> Ws {
    feed_support::accept_within(listener, WAIT).await
}

/// The next text message from the client, as JSON.
async fn recv(ws: &mut Ws) -> Value {
    feed_support::recv_within(ws, WAIT).await
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

fn envelope(channel: &str, seq: u64, events: Value) -> Value {
    json!({"channel": channel, "client_id": "", "timestamp": "2026-01-01T00:00:00.123Z", "sequence_num": seq, "events": events})
}

fn l2(seq: u64, kind: &str, product: &str, levels: &[(&str, &str, &str)]) -> Value {
    let updates: Vec<Value> = levels
        .iter()
        .map(|(side, price, qty)| {
            json!({"side": side, "event_time": "1970-01-01T00:00:00Z", "price_level": price, "new_quantity": qty})
        })
        .collect();
    envelope(
        "l2_data",
        seq,
        json!([{"type": kind, "product_id": product, "updates": updates}]),
    )
}

fn heartbeat(seq: u64) -> Value {
    envelope(
        "heartbeats",
        seq,
        json!([{"current_time": "now", "heartbeat_counter": seq}]),
    )
}

fn ack(seq: u64, products: &[&str]) -> Value {
    envelope(
        "subscriptions",
        seq,
        json!([{"subscriptions": {"heartbeats": ["heartbeats"], "level2": products}}]),
    )
}

/// Reads the two subscribes every connection starts with and checks their shape.
async fn expect_subscribes(ws: &mut Ws, products: &[&str], with_jwt: bool) -> (Value, Value) {
    let level2 = recv(ws).await;
    assert_eq!(level2["type"], "subscribe", "{level2}");
    assert_eq!(level2["channel"], "level2");
    assert_eq!(level2["product_ids"], json!(products));
    assert_eq!(level2.get("jwt").is_some(), with_jwt, "{level2}");
    let heartbeats = recv(ws).await;
    assert_eq!(heartbeats["type"], "subscribe");
    assert_eq!(heartbeats["channel"], "heartbeats");
    assert_eq!(heartbeats.get("jwt").is_some(), with_jwt, "{heartbeats}");
    (level2, heartbeats)
}

fn config(url: &str, products: &[&str]) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(3),
        ..LiveConfig::new(url, products.iter().map(|p| p.to_string()).collect())
    }
}

/// Waits until a published view satisfies `cond`.
async fn wait_view(
    handle: &mut FeedHandle,
    what: &str,
    cond: impl Fn(&FeedView) -> bool,
) -> Arc<FeedView> {
    feed_support::wait_view_within(WAIT, handle, what, cond).await
}

async fn stop(task: JoinHandle<FeedCore>, handle: &FeedHandle) -> FeedCore {
    feed_support::stop_within(WAIT, task, handle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_applies_snapshot_and_updates() {
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url, &["BTC-USD", "ETH-USD"]));
    let mut ws = accept(&listener).await;
    expect_subscribes(&mut ws, &["BTC-USD", "ETH-USD"], false).await;
    send(
        &mut ws,
        l2(
            0,
            "snapshot",
            "BTC-USD",
            &[("bid", "100.50", "1"), ("offer", "101", "2")],
        ),
    )
    .await;
    send(&mut ws, ack(1, &["BTC-USD", "ETH-USD"])).await;
    send(&mut ws, l2(2, "snapshot", "ETH-USD", &[("bid", "10", "5")])).await;
    send(
        &mut ws,
        l2(
            3,
            "update",
            "BTC-USD",
            &[("bid", "100.5", "0"), ("bid", "100", "3")],
        ),
    )
    .await;
    send(&mut ws, heartbeat(4)).await;
    let view = wait_view(&mut handle, "heartbeat 4", |v| {
        v.stats.last_sequence_num == Some(4)
    })
    .await;
    assert_eq!(state(&view, "BTC-USD"), BookState::Live);
    assert_eq!(view.stats.heartbeat_counter, Some(4));
    assert_eq!(view.stats.gaps, 0);
    assert_eq!(view.auth.acknowledged["level2"], ["BTC-USD", "ETH-USD"]);
    let core = stop(task, &handle).await;
    assert_eq!(
        core.dump_books(),
        r#"{"BTC-USD":{"state":"live","sequence_num":3,"bids":[["100","3"]],"asks":[["101","2"]]},"ETH-USD":{"state":"live","sequence_num":2,"bids":[["10","5"]],"asks":[]}}"#
    );
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(|e| matches!(e, FeedEvent::Subscribed { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, FeedEvent::Finished { .. })),
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_resubscribes_level2_and_the_new_snapshot_brings_the_book_back() {
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url, &["BTC-USD"]));
    let mut ws = accept(&listener).await;
    expect_subscribes(&mut ws, &["BTC-USD"], false).await;
    send(
        &mut ws,
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]),
    )
    .await;
    send(&mut ws, l2(1, "update", "BTC-USD", &[("bid", "99", "1")])).await;
    // Frame 2 is lost.
    send(&mut ws, l2(3, "update", "BTC-USD", &[("bid", "98", "1")])).await;
    let unsubscribe = recv(&mut ws).await;
    assert_eq!(unsubscribe["type"], "unsubscribe", "{unsubscribe}");
    assert_eq!(unsubscribe["channel"], "level2");
    assert_eq!(unsubscribe["product_ids"], json!(["BTC-USD"]));
    let subscribe = recv(&mut ws).await;
    assert_eq!(subscribe["type"], "subscribe", "{subscribe}");
    assert_eq!(subscribe["channel"], "level2");
    let view = wait_view(&mut handle, "gap seen", |v| v.stats.gaps == 1).await;
    assert_eq!(state(&view, "BTC-USD"), BookState::Desynced);
    send(
        &mut ws,
        l2(
            4,
            "snapshot",
            "BTC-USD",
            &[("bid", "200", "1"), ("offer", "201", "1")],
        ),
    )
    .await;
    let view = wait_view(&mut handle, "live again", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    assert_eq!(view.stats.resyncs, 1);
    assert_eq!(view.products[0].best_bid.unwrap().0.to_string(), "200");
    // A lower number is ignored, not a gap.
    send(&mut ws, l2(2, "update", "BTC-USD", &[("bid", "1", "1")])).await;
    send(&mut ws, heartbeat(5)).await;
    let view = wait_view(&mut handle, "heartbeat 5", |v| {
        v.stats.last_sequence_num == Some(5)
    })
    .await;
    assert_eq!((view.stats.gaps, view.stats.stale_frames), (1, 1));
    let core = stop(task, &handle).await;
    let book = &core.product("BTC-USD").unwrap().book;
    assert_eq!(
        book.dump_side(cbbook::book::Side::Bid),
        [["200".to_string(), "1".to_string()]]
    );
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            FeedEvent::Gap {
                expected: 2,
                got: 3,
                ..
            }
        )),
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_left_and_the_client_reconnects() {
    let (listener, url) = listener().await;
    let cfg = LiveConfig {
        watchdog: Duration::from_millis(700),
        ..config(&url, &["BTC-USD"])
    };
    let (task, mut handle) = client::start(cfg);
    let mut first = accept(&listener).await;
    expect_subscribes(&mut first, &["BTC-USD"], false).await;
    send(
        &mut first,
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]),
    )
    .await;
    // Then nothing: the socket stays open but silent. The client must come back on its own.
    let mut second = accept(&listener).await;
    expect_subscribes(&mut second, &["BTC-USD"], false).await;
    let view = wait_view(&mut handle, "a reconnect", |v| v.stats.reconnects >= 1).await;
    assert_eq!(state(&view, "BTC-USD"), BookState::Desynced);
    let reasons = disconnect_reasons(events(&mut handle));
    let reason = reasons.first().expect("a Disconnected event");
    assert!(reason.contains("watchdog"), "{reason}");
    // The new connection starts again at 0: not a gap.
    send(
        &mut second,
        l2(0, "snapshot", "BTC-USD", &[("bid", "101", "1")]),
    )
    .await;
    let view = wait_view(&mut handle, "live on the new connection", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    assert_eq!(view.stats.gaps, 0);
    drop(first);
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_start_is_retried_until_it_comes_up() {
    // Find a free port, then leave it closed while the client starts.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}");
    let (task, mut handle) = client::start(config(&url, &["BTC-USD"]));
    wait_view(&mut handle, "two failed attempts", |v| {
        v.stats.reconnects >= 2
    })
    .await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let mut ws = accept(&listener).await;
    expect_subscribes(&mut ws, &["BTC-USD"], false).await;
    send(
        &mut ws,
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]),
    )
    .await;
    wait_view(&mut handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(|e| matches!(e, FeedEvent::Disconnected { reason, .. } if reason.contains("cannot connect"))),
        "{ev:?}"
    );
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_reported_and_the_feed_falls_back_to_public() {
    let key = cbbook::auth::load_key_file(Path::new("assets/demo-key.json")).unwrap();
    let (public_key, key_name) = (key.public_key(), key.name().to_owned());
    let (listener, url) = listener().await;
    let cfg = LiveConfig {
        key: Some(Arc::new(key)),
        // This machine's clock: the fallback comes at once (with the others, after the
        // refusal is judged against the clock: feed/clock.rs).
        jwt_clock: cbbook::auth::clock::JwtClock::Local,
        // This scripted server is the market's only: the user connection goes nowhere.
        user_url: Some("ws://127.0.0.1:9".to_string()),
        ..config(&url, &["BTC-USD"])
    };
    let (task, mut handle) = client::start(cfg);
    let mut ws = accept(&listener).await;
    let (level2, heartbeats) = expect_subscribes(&mut ws, &["BTC-USD"], true).await;
    let jwt = level2["jwt"].as_str().unwrap().to_owned();
    let last_jwt = heartbeats["jwt"].as_str().unwrap().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert_ne!(jwt, last_jwt, "every subscribe carries a fresh JWT");
    // Each is a valid WebSocket token of the configured key, signed now.
    for token in [&jwt, &last_jwt] {
        let report = cbbook::auth::inspect_token(
            token,
            &cbbook::auth::InspectOptions {
                key: Some(&public_key),
                expected_name: Some(&key_name),
                now_unix: cbbook::auth::now_unix(),
                leeway_secs: 5,
                websocket: true,
            },
        );
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.signature, cbbook::auth::SignatureVerdict::Valid);
    }
    send(
        &mut ws,
        json!({"type": "error", "message": "authentication failure", "reason": "key_unknown: the server trusts no key of that name"}),
    )
    .await;
    // The client subscribes again, without a JWT.
    expect_subscribes(&mut ws, &["BTC-USD"], false).await;
    let view = wait_view(&mut handle, "fallback", |v| v.auth.fell_back_to_public).await;
    assert!(view.auth.key_configured);
    assert_eq!(view.auth.last_jwt.as_deref(), Some(last_jwt.as_str()));
    assert!(
        !view
            .auth
            .last_subscribe
            .as_ref()
            .unwrap()
            .contains(&last_jwt)
    );
    let error = view.auth.last_error.clone().unwrap();
    assert_eq!(
        error.reason.as_deref(),
        Some("key_unknown: the server trusts no key of that name")
    );
    send(
        &mut ws,
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]),
    )
    .await;
    wait_view(&mut handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    let ev = events(&mut handle);
    let rejected = ev.iter().find_map(|e| match e {
        FeedEvent::AuthRejected {
            message,
            reason,
            channel,
            ..
        } => Some((message.clone(), reason.clone(), channel.clone())),
        _ => None,
    });
    assert_eq!(
        rejected,
        Some((
            "authentication failure".to_owned(),
            Some("key_unknown: the server trusts no key of that name".to_owned()),
            "level2".to_owned()
        ))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, FeedEvent::FellBackToPublic { .. })),
        "{ev:?}"
    );
    for e in &ev {
        if let FeedEvent::SubscribeSent { message, .. } = e {
            assert!(
                !message.contains(&jwt) && !message.contains(&last_jwt),
                "JWT in an event: {message}"
            );
        }
    }
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_of_a_faulty_authenticated_session_replays_to_the_live_books() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("session.jsonl");
    let key = cbbook::auth::load_key_file(Path::new("assets/demo-key.json")).unwrap();
    let (listener, url) = listener().await;
    let cfg = LiveConfig {
        key: Some(Arc::new(key)),
        record: Some(record.clone()),
        // This scripted server is the market's only: the user connection goes nowhere.
        user_url: Some("ws://127.0.0.1:9".to_string()),
        ..config(&url, &["BTC-USD", "ETH-USD"])
    };
    let (task, mut handle) = client::start(cfg);
    let mut jwts = Vec::new();

    // Connection 1: snapshots, updates, a gap, a resync, then an abrupt close.
    let mut ws = accept(&listener).await;
    let (l2sub, hb) = expect_subscribes(&mut ws, &["BTC-USD", "ETH-USD"], true).await;
    jwts.push(l2sub["jwt"].as_str().unwrap().to_owned());
    jwts.push(hb["jwt"].as_str().unwrap().to_owned());
    send(&mut ws, ack(0, &["BTC-USD", "ETH-USD"])).await;
    send(
        &mut ws,
        l2(
            1,
            "snapshot",
            "BTC-USD",
            &[("bid", "100", "1"), ("offer", "101", "1")],
        ),
    )
    .await;
    send(
        &mut ws,
        l2(
            2,
            "snapshot",
            "ETH-USD",
            &[("bid", "10", "1"), ("offer", "11", "1")],
        ),
    )
    .await;
    send(
        &mut ws,
        l2(3, "update", "BTC-USD", &[("bid", "100.5", "2")]),
    )
    .await;
    send(
        &mut ws,
        l2(5, "update", "ETH-USD", &[("offer", "10.5", "4")]),
    )
    .await;
    for _ in 0..2 {
        let m = recv(&mut ws).await;
        jwts.push(m["jwt"].as_str().unwrap().to_owned());
    }
    send(
        &mut ws,
        l2(
            6,
            "snapshot",
            "BTC-USD",
            &[("bid", "100.25", "3"), ("offer", "101", "1")],
        ),
    )
    .await;
    send(
        &mut ws,
        l2(
            7,
            "snapshot",
            "ETH-USD",
            &[("bid", "10", "2"), ("offer", "11", "1")],
        ),
    )
    .await;
    send(&mut ws, json!({"type": "error", "message": "failure to subscribe", "reason": "FOO-BAR is not a valid product"})).await;
    ws.send(Message::text("not json at all")).await.unwrap();
    wait_view(&mut handle, "resynced", |v| {
        v.stats.resyncs == 1 && v.products.iter().all(|p| p.state == BookState::Live)
    })
    .await;
    drop(ws);

    // Connection 2: starts at 0 again, new snapshots and updates.
    let mut ws = accept(&listener).await;
    let (l2sub, hb) = expect_subscribes(&mut ws, &["BTC-USD", "ETH-USD"], true).await;
    jwts.push(l2sub["jwt"].as_str().unwrap().to_owned());
    jwts.push(hb["jwt"].as_str().unwrap().to_owned());
    send(
        &mut ws,
        l2(
            0,
            "snapshot",
            "BTC-USD",
            &[("bid", "99", "1"), ("offer", "102", "1")],
        ),
    )
    .await;
    send(
        &mut ws,
        l2(
            1,
            "snapshot",
            "ETH-USD",
            &[("bid", "9", "1"), ("offer", "12", "1")],
        ),
    )
    .await;
    send(
        &mut ws,
        l2(
            2,
            "update",
            "BTC-USD",
            &[("bid", "99.5", "7"), ("offer", "102", "0")],
        ),
    )
    .await;
    send(&mut ws, heartbeat(3)).await;
    let live = wait_view(&mut handle, "second connection", |v| {
        v.stats.last_sequence_num == Some(3) && v.stats.reconnects == 1
    })
    .await;
    let live_core = stop(task, &handle).await;
    drop(ws);

    let text = std::fs::read_to_string(&record).unwrap();
    for jwt in &jwts {
        assert!(!text.contains(jwt.as_str()), "a JWT reached the recording");
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(
            !text.contains(signature),
            "a JWT signature reached the recording"
        );
    }
    assert!(
        !text.contains("\"jwt\""),
        "a jwt field reached the recording"
    );

    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let mut config = ReplayConfig::new(&record);
    config.products = vec![];
    let report = replay::run(&config, &mut host).unwrap();
    assert_eq!(report.broken_lines, 0);
    assert_eq!(report.core.dump_books(), live_core.dump_books());
    let (r, l) = (report.core.stats(), live_core.stats());
    assert_eq!(
        (
            r.frames,
            r.updates,
            r.gaps,
            r.resyncs,
            r.errors,
            r.bad_frames,
            r.reconnects
        ),
        (
            l.frames,
            l.updates,
            l.gaps,
            l.resyncs,
            l.errors,
            l.bad_frames,
            l.reconnects
        )
    );
    assert_eq!((l.gaps, l.errors, l.bad_frames, l.reconnects), (1, 1, 1, 1));
    assert_eq!(live.stats.updates, l.updates);

    // Headless replay writes the same dump.
    let dump = dir.path().join("dump.json");
    let output = headless::HeadlessOutput {
        dump_book: Some(dump.clone()),
        stats: false,
    };
    headless::run_replay(&config, None, &output).unwrap();
    assert_eq!(
        std::fs::read_to_string(&dump).unwrap().trim_end(),
        live_core.dump_books()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_can_ask_for_a_resync() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("rec.jsonl");
    let (listener, url) = listener().await;
    let cfg = LiveConfig {
        record: Some(record.clone()),
        ..config(&url, &["BTC-USD"])
    };
    let (task, mut handle) = client::start(cfg);
    let mut ws = accept(&listener).await;
    expect_subscribes(&mut ws, &["BTC-USD"], false).await;
    send(
        &mut ws,
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]),
    )
    .await;
    wait_view(&mut handle, "live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    handle.commands.send(FeedCommand::Resync).unwrap();
    assert_eq!(recv(&mut ws).await["type"], "unsubscribe");
    assert_eq!(recv(&mut ws).await["type"], "subscribe");
    let view = wait_view(&mut handle, "desynced", |v| {
        state(v, "BTC-USD") == BookState::Desynced
    })
    .await;
    assert_eq!((view.stats.resyncs, view.stats.gaps), (1, 0));
    stop(task, &handle).await;
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.lines().any(|l| l.contains(r#""resync":"user""#)),
        "{text}"
    );
    // Replay desyncs the book at the same point: the final states agree.
    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let report = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    assert_eq!(
        report.core.product("BTC-USD").unwrap().state,
        BookState::Desynced
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_hanging_handshake() {
    // A server that accepts TCP and then says nothing: the WebSocket handshake never completes.
    let (listener, url) = listener().await;
    let (task, mut handle) = client::start(config(&url, &["BTC-USD"]));
    let (_tcp, _) = listener.accept().await.unwrap();
    wait_view(&mut handle, "connecting", |v| {
        matches!(
            v.connection,
            cbbook::feed::events::ConnectionState::Connecting { .. }
        )
    })
    .await;
    let started = std::time::Instant::now();
    stop(task, &handle).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A self-signed `wss://` simulator (the client is not meant to trust it).
fn tls_simulator() -> cbbook::sim::SimHandle {
    use rustls_pki_types::pem::PemObject;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let chain =
        vec![rustls_pki_types::CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap()];
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    cbbook::sim::spawn(cbbook::sim::SimConfig {
        tls: Some(Arc::new(tls)),
        ..cbbook::sim::SimConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_to_a_tls_server_suggests_wss() {
    let sim = tls_simulator();
    let url = sim.url().replacen("wss://", "ws://", 1);
    let (task, mut handle) = client::start(config(&url, &["BTC-USD"]));
    wait_view(&mut handle, "a failed attempt", |v| v.stats.reconnects >= 1).await;
    stop(task, &handle).await;
    let reasons = disconnect_reasons(events(&mut handle));
    assert!(!reasons.is_empty());
    for reason in &reasons {
        assert!(
            reason.starts_with(&format!("cannot connect to {url}: "))
                && reason.ends_with("(the server may speak TLS: try wss://)"),
            "{reason}"
        );
    }
}
