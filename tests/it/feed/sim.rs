//! The live client against the simulator (`cbbook::sim`) on loopback, with injected faults:
//! gaps, disconnects, a stalled server, a late server, a refused key, and a recording of a
//! faulty session replayed to the same books.

use crate::support::feed as feed_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cbbook::feed::events::{BookState, FeedEvent};
use cbbook::feed::{LiveConfig, ReplayConfig, client, replay};
use cbbook::sim::{self, SimConfig};
use feed_support::*;
use serde_json::Value;

const PRODUCTS: [&str; 2] = ["BTC-USD", "ETH-USD"];

fn live_config(url: &str) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(3),
        // As the command line does: the trades and the ticker too.
        trades: true,
        ..LiveConfig::new(url, PRODUCTS.iter().map(|p| p.to_string()).collect())
    }
}

/// `live_config` signing its subscribes with the demo key (`assets/demo-key.json`).
fn live_config_with_demo_key(url: &str) -> LiveConfig {
    let key = cbbook::auth::load_key_file(Path::new("assets/demo-key.json")).unwrap();
    LiveConfig {
        key: Some(Arc::new(key)),
        ..live_config(url)
    }
}

fn dump_value(core: &cbbook::feed::core::FeedCore) -> Value {
    serde_json::from_str(&core.dump_books()).unwrap()
}

/// Waits until the market has been frozen for a while and every book is live again.
async fn wait_frozen_and_live(
    handle: &mut cbbook::feed::events::FeedHandle,
    frozen_at: Instant,
    extra: impl Fn(&cbbook::feed::events::FeedView) -> bool,
) {
    let settle = frozen_at + Duration::from_millis(1500);
    tokio::time::sleep_until(settle.into()).await;
    wait_view(handle, "frozen market, every book live", |v| {
        all_live(v) && extra(v)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_lead_to_resyncs_and_books_equal_to_the_simulators() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = sim::spawn(SimConfig {
        updates_per_sec: 150.0,
        gap_every: Some(25),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let (task, mut handle) = client::start(live_config(&sim.url()));
    wait_frozen_and_live(&mut handle, started + freeze, |v| v.stats.gaps >= 2).await;
    let core = stop(task, &handle).await;
    let stats = core.stats().clone();
    assert!(stats.gaps >= 2 && stats.resyncs >= stats.gaps, "{stats:?}");
    assert_eq!(stats.reconnects, 0, "{stats:?}");
    assert_same_books(&dump_value(&core), &sim.dump_books(), &PRODUCTS);
    // Both dumps come from one writer: the same text, `sequence_num` aside (docs/sim.md), and
    // the trades aside too: trades lost in a gap come back with the next trades snapshot, which
    // waits for a spare message slot and may still be on its way when the test stops (the
    // disconnect test checks the trades exactly).
    let strip = |text: &str| {
        let mut v: Value = serde_json::from_str(
            &without_sequence_nums(text).replace("\"sequence_num\":_", "\"sequence_num\":0"),
        )
        .unwrap();
        for book in v.as_object_mut().unwrap().values_mut() {
            let book = book.as_object_mut().unwrap();
            book.remove("trades");
            book.remove("ticker");
        }
        v.to_string()
    };
    assert!(
        strip(&core.dump_books()) == strip(&sim.dump_text()),
        "the client's and the simulator's dumps differ beyond sequence_num and trades"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnects_lead_to_reconnects_and_books_equal_to_the_simulators() {
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = sim::spawn(SimConfig {
        updates_per_sec: 150.0,
        disconnect_every: Some(Duration::from_millis(1200)),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let (task, mut handle) = client::start(live_config(&sim.url()));
    wait_frozen_and_live(&mut handle, started + freeze, |v| v.stats.reconnects >= 2).await;
    let core = stop(task, &handle).await;
    let ev = events(&mut handle);
    assert!(
        ev.iter()
            .any(|e| matches!(e, FeedEvent::Disconnected { .. })),
        "{ev:?}"
    );
    assert!(core.stats().reconnects >= 2);
    assert_eq!(
        core.stats().gaps,
        0,
        "a new connection restarting at 0 is not a gap"
    );
    assert_same_books(&dump_value(&core), &sim.dump_books(), &PRODUCTS);
    // Every reconnect's trades snapshot overlapped the trades already seen: each is kept once,
    // and the last trades are the simulator's, aggressors included.
    let (client, server) = (dump_value(&core), sim.dump_books());
    for product in PRODUCTS {
        let trades = client[product]["trades"].as_array().unwrap();
        assert!(!trades.is_empty(), "{product}: no trades");
        let mut ids: Vec<&str> = trades
            .iter()
            .map(|t| t["trade_id"].as_str().unwrap())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), trades.len(), "{product}: a trade twice");
        assert_eq!(
            client[product]["trades"], server[product]["trades"],
            "{product}"
        );
        assert_eq!(
            client[product]["ticker"], server[product]["ticker"],
            "{product}"
        );
        assert_eq!(
            client[product]["ticker"]["price"],
            trades.last().unwrap()["price"],
            "{product}: the ticker's price is the last trade's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_left() {
    let sim = sim::spawn(SimConfig {
        stall_after: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    })
    .unwrap();
    let cfg = LiveConfig {
        watchdog: Duration::from_secs(1),
        ..live_config(&sim.url())
    };
    let (task, mut handle) = client::start(cfg);
    wait_view(&mut handle, "live", all_live).await;
    let view = wait_view(&mut handle, "a reconnect after the stall", |v| {
        v.stats.reconnects >= 1
    })
    .await;
    assert_eq!(view.stats.gaps, 0);
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(
            |e| matches!(e, FeedEvent::Disconnected { reason, .. } if reason.contains("watchdog"))
        ),
        "{ev:?}"
    );
    // And it comes back on the next connection.
    wait_view(&mut handle, "live again", |v| {
        all_live(v) && v.stats.reconnects >= 1
    })
    .await;
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_server_is_joined() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (task, mut handle) = client::start(live_config(&format!("ws://127.0.0.1:{port}")));
    wait_view(&mut handle, "failed attempts", |v| v.stats.reconnects >= 2).await;
    assert!(
        handle
            .views
            .borrow()
            .products
            .iter()
            .all(|p| p.state == BookState::Waiting)
    );
    let _sim = sim::spawn(SimConfig {
        port,
        ..SimConfig::default()
    })
    .unwrap();
    wait_view(&mut handle, "live once the server is up", all_live).await;
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_becomes_an_event_with_its_reason_and_the_feed_goes_public() {
    // The default simulator trusts no key.
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let (task, mut handle) = client::start(live_config_with_demo_key(&sim.url()));
    let view = wait_view(&mut handle, "fallback and live books", |v| {
        v.auth.fell_back_to_public && all_live(v)
    })
    .await;
    let error = view.auth.last_error.clone().expect("the error frame");
    assert_eq!(error.message, "authentication failure");
    let ev = events(&mut handle);
    let reason = ev
        .iter()
        .find_map(|e| match e {
            FeedEvent::AuthRejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("an AuthRejected event");
    let reason = reason.expect("the simulator gives a reason");
    assert!(reason.starts_with("key_unknown"), "{reason}");
    assert!(
        ev.iter()
            .any(|e| matches!(e, FeedEvent::FellBackToPublic { .. }))
    );
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_of_a_faulty_session_replays_to_the_live_books() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("faulty.jsonl");
    let started = Instant::now();
    let freeze = Duration::from_secs(4);
    let sim = sim::spawn(SimConfig {
        updates_per_sec: 150.0,
        gap_every: Some(30),
        disconnect_every: Some(Duration::from_millis(1500)),
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let cfg = LiveConfig {
        record: Some(record.clone()),
        ..live_config(&sim.url())
    };
    let (task, mut handle) = client::start(cfg);
    wait_frozen_and_live(&mut handle, started + freeze, |v| {
        v.stats.gaps >= 1 && v.stats.reconnects >= 1
    })
    .await;
    let live = stop(task, &handle).await;
    assert_same_books(&dump_value(&live), &sim.dump_books(), &PRODUCTS);

    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let report = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    assert_eq!(report.broken_lines, 0);
    assert_eq!(report.core.dump_books(), live.dump_books());
    let (r, l) = (report.core.stats(), live.stats());
    assert_eq!(
        (r.frames, r.updates, r.gaps, r.resyncs),
        (l.frames, l.updates, l.gaps, l.resyncs)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_key_subscribes_with_fresh_jwts_and_stays_authenticated() {
    let sim = sim::spawn(SimConfig {
        gap_every: Some(20),
        ..SimConfig::default().with_demo_keys().unwrap()
    })
    .unwrap();
    let (task, mut handle) = client::start(live_config_with_demo_key(&sim.url()));
    // Resyncs after gaps send unsubscribe + subscribe with fresh JWTs: all must be accepted.
    let view = wait_view(&mut handle, "live after a resync", |v| {
        all_live(v) && v.stats.resyncs >= 1
    })
    .await;
    assert!(!view.auth.fell_back_to_public);
    assert!(view.auth.last_jwt.is_some());
    assert_eq!(view.stats.errors, 0, "{:?}", view.auth.last_error);
    let ev = events(&mut handle);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, FeedEvent::AuthRejected { .. })),
        "{ev:?}"
    );
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_clock_ahead_of_the_server_is_refused_with_its_reason() {
    // The server's clock runs 10 s behind: the client's nbf lies in the server's future. With
    // this machine's clock (`--jwt-clock local`: the other modes correct it, feed/clock.rs).
    let sim = sim::spawn(SimConfig {
        clock_skew_ms: -10_000,
        ..SimConfig::default().with_demo_keys().unwrap()
    })
    .unwrap();
    let config = LiveConfig {
        jwt_clock: cbbook::auth::clock::JwtClock::Local,
        ..live_config_with_demo_key(&sim.url())
    };
    let (task, mut handle) = client::start(config);
    wait_view(&mut handle, "fallback and live books", |v| {
        v.auth.fell_back_to_public && all_live(v)
    })
    .await;
    let reason = events(&mut handle)
        .into_iter()
        .find_map(|e| match e {
            FeedEvent::AuthRejected { reason, .. } => reason,
            _ => None,
        })
        .expect("an AuthRejected event with a reason");
    assert!(reason.contains("nbf"), "{reason}");
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_is_refused_and_the_others_go_live() {
    let started = Instant::now();
    let freeze = Duration::from_secs(3);
    let sim = sim::spawn(SimConfig {
        stop_updates_after: Some(freeze),
        ..SimConfig::default()
    })
    .unwrap();
    let asked = ["BTC-USD", "FOO-BAR", "ETH-USD"];
    let config = LiveConfig {
        watchdog: Duration::from_secs(3),
        ..LiveConfig::new(sim.url(), asked.iter().map(|p| p.to_string()).collect())
    };
    let (task, mut handle) = client::start(config);
    let settle = started + freeze + Duration::from_millis(1500);
    tokio::time::sleep_until(settle.into()).await;
    let view = wait_view(&mut handle, "FOO-BAR refused, the others live", |v| {
        state(v, "FOO-BAR") == BookState::Refused
            && state(v, "BTC-USD") == BookState::Live
            && state(v, "ETH-USD") == BookState::Live
    })
    .await;
    assert_eq!(view.auth.requested["level2"], ["BTC-USD", "ETH-USD"]);
    assert_eq!(view.auth.acknowledged["level2"], ["BTC-USD", "ETH-USD"]);
    let core = stop(task, &handle).await;
    let ev = events(&mut handle);
    let refused: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            FeedEvent::ProductRefused {
                product, reason, ..
            } => Some((product.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [("FOO-BAR", "FOO-BAR is not a valid product")]);
    let dump = dump_value(&core);
    assert_eq!(dump["FOO-BAR"]["state"], "refused");
    assert_eq!(dump["FOO-BAR"]["reason"], "FOO-BAR is not a valid product");
    assert_eq!(dump["FOO-BAR"]["bids"], Value::Array(vec![]));
    assert_same_books(&dump, &sim.dump_books(), &PRODUCTS);
    assert!(client::check_products_accepted(&core).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_every_product_is_refused_ends_with_a_clear_error() {
    let sim = sim::spawn(SimConfig::default()).unwrap();
    let asked = vec!["FOO-BAR".to_owned(), "BAR-BAZ".to_owned()];
    let (task, handle) = client::start(LiveConfig::new(sim.url(), asked));
    // It stops by itself (nothing is left to ask for): no shutdown is sent.
    let core = tokio::time::timeout(WAIT, task)
        .await
        .expect("the feed went on with every product refused")
        .unwrap();
    drop(handle);
    assert!(core.all_refused());
    assert_eq!(core.stats().reconnects, 0);
    let err = client::check_products_accepted(&core)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refused every product")
            && err.contains("FOO-BAR (FOO-BAR is not a valid product)")
            && err.contains("BAR-BAZ (BAR-BAZ is not a valid product)")
            && err.contains("e.g. BTC-USD"),
        "{err}"
    );
}
