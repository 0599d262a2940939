//! Injected faults: sequence gaps, abrupt disconnects, stalls, a frozen market, a skewed clock,
//! and the slow-consumer policy.

use crate::support::sim as sim_common;

use std::time::Duration;

use cbbook::sim::SimConfig;
use sim_common::{Client, Next, WAIT, kind, seq, start, wait_for};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_every_drops_one_frame_in_n_but_never_a_snapshot_or_ack() {
    let sim = start(SimConfig {
        updates_per_sec: 500.0,
        gap_every: Some(10),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    c.subscribe("heartbeats", &[]).await;
    let mut received = Vec::new();
    let mut snapshots = 0;
    let mut acks = 0;
    while received.len() < 300 {
        let v = c.next().await;
        if v["events"][0]["type"] == "snapshot" {
            snapshots += 1;
        }
        if v["channel"] == "subscriptions" {
            acks += 1;
        }
        received.push(seq(&v));
    }
    assert_eq!((snapshots, acks), (2, 2));
    // Frames 0..=3 are the snapshots and acks: seq 9 is the first drop.
    assert_eq!(&received[..4], &[0, 1, 2, 3]);
    let mut gaps = 0;
    for pair in received.windows(2) {
        let jump = pair[1] - pair[0];
        assert!(jump == 1 || jump == 2, "{pair:?}");
        if jump == 2 {
            gaps += 1;
            // The missing number is one of every ten.
            assert_eq!((pair[0] + 2) % 10, 0, "{pair:?}");
        }
    }
    let last = *received.last().unwrap();
    assert_eq!(gaps as u64, (last + 1) / 10, "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_every_moves_a_drop_off_an_ack_to_the_next_data_frame() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        gap_every: Some(2),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["ETH-USD"]).await;
    let snap = c.next().await;
    assert_eq!(
        (seq(&snap), snap["events"][0]["type"].as_str()),
        (0, Some("snapshot"))
    );
    // With N = 2 the drop due at seq 1 would hit the ack: it is kept and the drop moves to the
    // next update (seq 2); seq 3 is dropped on its own account.
    let ack = c.next().await;
    assert_eq!((seq(&ack), kind(&ack).as_str()), (1, "subscriptions"));
    assert_eq!(seq(&c.next().await), 4);
    assert_eq!(seq(&c.next().await), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_every_drops_connections_without_a_close_frame() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        disconnect_every: Some(Duration::from_millis(1200)),
        ..SimConfig::default()
    });
    for _ in 0..2 {
        let opened = Instant::now();
        let mut c = Client::connect(&sim.url()).await;
        c.subscribe("level2", &["BTC-USD"]).await;
        c.subscribe("heartbeats", &[]).await;
        match c.until_closed().await {
            Next::Dropped(why) => {
                assert!(!why.is_empty());
            }
            other => panic!("expected an abrupt end, got {other:?}"),
        }
        let lived = opened.elapsed();
        assert!(
            lived >= Duration::from_millis(1100) && lived < Duration::from_secs(10),
            "{lived:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_after_goes_silent_but_keeps_the_socket_open() {
    let sim = start(SimConfig {
        updates_per_sec: 200.0,
        stall_after: Some(Duration::from_millis(1200)),
        ..SimConfig::default()
    });
    let opened = Instant::now();
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    c.subscribe("heartbeats", &[]).await;
    let mut frames = 0;
    let mut last_frame = opened;
    loop {
        match c.next_within(Duration::from_millis(2500)).await {
            Next::Frame(_) => {
                frames += 1;
                last_frame = Instant::now();
            }
            Next::Silent => break,
            other => panic!("expected silence, got {other:?}"),
        }
    }
    assert!(frames > 10, "{frames}");
    let quiet_from = last_frame - opened;
    assert!(
        quiet_from >= Duration::from_millis(1000) && quiet_from < Duration::from_secs(8),
        "{quiet_from:?}"
    );
    // Still connected: the server holds the socket.
    assert_eq!(sim.open_connections(), 1);
    // Later messages get no answer either.
    c.subscribe("heartbeats", &[]).await;
    assert!(matches!(
        c.next_within(Duration::from_millis(1500)).await,
        Next::Silent
    ));
    // A new connection is served normally.
    let mut fresh = Client::connect(&sim.url()).await;
    fresh.subscribe("heartbeats", &[]).await;
    assert_eq!(fresh.next().await["channel"], "subscriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_updates_after_freezes_the_market_but_not_heartbeats() {
    let sim = start(SimConfig {
        updates_per_sec: 500.0,
        stop_updates_after: Some(Duration::from_millis(1000)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    c.subscribe("ticker", &["BTC-USD"]).await;
    c.subscribe("heartbeats", &[]).await;
    // Past the freeze (and the frames already queued), only heartbeats arrive.
    c.until(|v| v["events"][0]["heartbeat_counter"] == 2, |_| {})
        .await;
    let frozen = sim.dump_books();
    let mut heartbeats = 0;
    while heartbeats < 2 {
        let v = c.next().await;
        assert_eq!(v["channel"], "heartbeats", "after the freeze: {v}");
        heartbeats += 1;
    }
    assert_eq!(sim.dump_books(), frozen);
    assert!(frozen["BTC-USD"]["sequence_num"].as_u64().unwrap() > 100);
    // A new subscriber gets the frozen book.
    let mut late = Client::connect(&sim.url()).await;
    late.subscribe("level2", &["ETH-USD"]).await;
    let mut book = sim_common::TestBook::default();
    book.apply_frame(&late.next().await, "ETH-USD");
    let (bids, asks) = book.dump_sides();
    assert_eq!(frozen["ETH-USD"]["bids"], bids);
    assert_eq!(frozen["ETH-USD"]["asks"], asks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_moves_every_server_time() {
    let sim = start(SimConfig {
        clock_skew_ms: 90_000,
        updates_per_sec: 100.0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("heartbeats", &[]).await;
    c.subscribe("level2", &["ETH-USD"]).await;
    let hb = c.next_on("heartbeats").await;
    let now = chrono::Utc::now();
    let ts = chrono::DateTime::parse_from_rfc3339(hb["timestamp"].as_str().unwrap()).unwrap();
    let ahead = (ts.with_timezone(&chrono::Utc) - now).num_milliseconds();
    assert!(
        (85_000..95_000).contains(&ahead),
        "envelope {ahead} ms ahead"
    );
    let current = hb["events"][0]["current_time"].as_str().unwrap();
    let wall = current.split(" +0000").next().unwrap();
    let wall = chrono::NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let ahead = (wall.and_utc() - now).num_milliseconds();
    assert!(
        (85_000..95_000).contains(&ahead),
        "current_time {ahead} ms ahead"
    );
    let update = c
        .until(
            |v| v["channel"] == "l2_data" && v["events"][0]["type"] == "update",
            |_| {},
        )
        .await;
    let event_time = update["events"][0]["updates"][0]["event_time"]
        .as_str()
        .unwrap();
    let et = chrono::DateTime::parse_from_rfc3339(event_time).unwrap();
    let ahead = (et.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    assert!(
        (85_000..95_000).contains(&ahead),
        "event_time {ahead} ms ahead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_without_slowing_anyone_else() {
    let sim = start(SimConfig {
        updates_per_sec: 5_000.0,
        queue_frames: 256,
        write_timeout: Duration::from_secs(2),
        ..SimConfig::default()
    });
    let mut slow = Client::connect(&sim.url()).await;
    slow.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    let mut fast = Client::connect(&sim.url()).await;
    fast.subscribe("level2", &["BTC-USD", "ETH-USD"]).await;
    // The slow one reads nothing; the fast one keeps up the whole time.
    let started = Instant::now();
    let mut expected = 0;
    while sim.open_connections() > 1 {
        assert!(
            started.elapsed() < WAIT,
            "the slow consumer was never dropped"
        );
        let v = fast.next().await;
        assert_eq!(seq(&v), expected, "the fast consumer lost nothing");
        expected += 1;
    }
    // The fast one still gets everything after.
    for _ in 0..50 {
        let v = fast.next().await;
        assert_eq!(seq(&v), expected);
        expected += 1;
    }
    // The slow one finds a closed connection once it reads (close frame or reset).
    match slow.until_closed().await {
        Next::Closed(_) | Next::Dropped(_) => {}
        Next::Silent => panic!("the slow consumer was left open"),
        Next::Frame(_) => unreachable!(),
    }
    wait_for("one open connection", || sim.open_connections() == 1).await;
}

/// A connection's queue holds its own products' frames only, so it is judged by its own backlog:
/// a client of one product that pauses while the rest of the market sends many times the queue
/// is kept, and gets every frame after its snapshot exactly once; a client that stops reading is
/// dropped all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_judged_by_its_own_backlog_not_the_whole_market() {
    const QUEUE: usize = 160;
    const PAUSE: Duration = Duration::from_millis(1_000);
    // 30 synthetic products and BTC-USD at 400 updates/s each: every product sends at least one
    // frame per 20 ms tick, about 75 a second, so the whole market sends over 1,500 frames a
    // second (a shared queue of 160 would overflow within 0.2 s of a pause), and BTC-USD alone
    // about 75 (its own queue of 160 lasts two seconds).
    let mut config = SimConfig {
        products: (0..30).map(|i| format!("P{i}-USD")).collect(),
        updates_per_sec: 400.0,
        queue_frames: QUEUE,
        // Only a full queue can drop anyone here.
        write_timeout: Duration::from_secs(60),
        // Then the books settle, to compare the client's with the simulator's.
        stop_updates_after: Some(Duration::from_secs(7)),
        ..SimConfig::default()
    };
    // The real BTC book: a 5 MB snapshot, far more than a socket holds for a client that does
    // not read, so the server's writes to such a client wait.
    config
        .add_book_file(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz"),
        )
        .unwrap();
    let sim = start(config);
    let mut stopped = Client::connect_small_window(sim.local_addr(), 4096).await;
    stopped.subscribe("level2", &["BTC-USD"]).await;
    let mut paused = Client::connect_small_window(sim.local_addr(), 4096).await;
    paused.subscribe("level2", &["BTC-USD"]).await;
    tokio::time::sleep(PAUSE).await;
    // The paused client reads again: every frame from its snapshot on, one number after the
    // other, until the market freezes and its queue is drained.
    let mut book = sim_common::TestBook::default();
    let mut expected = 0;
    let mut updates = 0;
    loop {
        let v = match paused.next_within(Duration::from_secs(2)).await {
            Next::Frame(v) => v,
            Next::Silent => break,
            other => panic!("the paused client was dropped: {other:?}"),
        };
        assert_eq!(seq(&v), expected, "{}", kind(&v));
        expected += 1;
        if v["channel"] == "l2_data" {
            if v["events"][0]["type"] == "update" {
                updates += 1;
            }
            book.apply_frame(&v, "BTC-USD");
            assert!(!book.is_crossed());
        }
    }
    assert!(updates > 100, "only {updates} update frames");
    let dump = sim.dump_books();
    let (bids, asks) = book.dump_sides();
    assert!(
        dump["BTC-USD"]["bids"] == bids && dump["BTC-USD"]["asks"] == asks,
        "the client's book differs from the simulator's"
    );
    // The client that never read was dropped by its own backlog, long before the freeze (the
    // write timeout is a minute); the paused one is still open.
    assert_eq!(
        sim.open_connections(),
        1,
        "the stopped client is still open"
    );
    match stopped.until_closed().await {
        Next::Closed(_) | Next::Dropped(_) => {}
        Next::Silent => panic!("the stopped client was left open"),
        Next::Frame(_) => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_faults_stop_with_a_frozen_market() {
    // Every other frame dropped, duplicated or held back, until the market freezes: after it,
    // the heartbeats come one number after the other, so a client's books can settle.
    let sim = start(SimConfig {
        gap_every: Some(2),
        duplicate_every: Some(3),
        reorder_every: Some(5),
        stop_updates_after: Some(std::time::Duration::from_millis(300)),
        ..SimConfig::default()
    });
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("heartbeats", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut received = Vec::new();
    while received.len() < 3 {
        let v = c.next().await;
        if v["channel"] == "heartbeats" {
            received.push(seq(&v));
        }
    }
    // The first heartbeat after the freeze may follow a number dropped before it.
    assert!(
        received.windows(2).skip(1).all(|p| p[1] == p[0] + 1),
        "{received:?}"
    );
}

/// Milliseconds `text` (RFC 3339) lies ahead of this machine's clock now.
fn ms_ahead(text: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_moves_the_acks_books_and_trades_too() {
    // docs/sim.md, "Rehearsing clock skew": every time the simulator prints follows its clock.
    let sim = start(SimConfig {
        clock_skew_ms: -90_000,
        updates_per_sec: 200.0,
        ..SimConfig::default()
    });
    let behind = |text: &str, what: &str| {
        let ahead = ms_ahead(text);
        assert!((-95_000..-85_000).contains(&ahead), "{what}: {ahead} ms");
    };
    let mut c = Client::connect(&sim.url()).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    let ack = c.next_on("subscriptions").await;
    behind(ack["timestamp"].as_str().unwrap(), "ack");
    c.subscribe("market_trades", &["BTC-USD"]).await;
    let update = c
        .until(
            |v| v["channel"] == "l2_data" && v["events"][0]["type"] == "update",
            |_| {},
        )
        .await;
    behind(update["timestamp"].as_str().unwrap(), "l2_data envelope");
    let event_time = update["events"][0]["updates"][0]["event_time"]
        .as_str()
        .unwrap();
    behind(event_time, "l2_data event_time");
    let trades = c.next_on("market_trades").await;
    behind(
        trades["timestamp"].as_str().unwrap(),
        "market_trades envelope",
    );
    for trade in trades["events"][0]["trades"].as_array().unwrap() {
        behind(trade["time"].as_str().unwrap(), "trade time");
    }
}
