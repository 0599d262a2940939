//! The viewer's replay (`feed::spawn_replay`): views and events through the handle, pacing by the
//! recorded times, and commands.

use crate::support::feed as feed_support;

use std::io::Write;
use std::time::{Duration, Instant};

use cbbook::cli::Speed;
use cbbook::feed::events::{BookState, ConnectionState, FeedCommand, FeedEvent, ViewRequest};
use cbbook::feed::{ReplayConfig, spawn_replay};
use feed_support::*;

/// A small recording: one connection, snapshot at t=1000, updates until t=1600, a gap at the end.
fn recording(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rec.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let frame = |seq: u64, kind: &str, price: &str| {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"1"}}]}}]}}"#
        )
    };
    writeln!(f, r#"{{"t":1000,"connect":{{"url":"ws://x","authenticated":false,"products":["BTC-USD","ETH-USD"]}}}}"#).unwrap();
    writeln!(f, r#"{{"t":1000,"frame":{}}}"#, frame(0, "snapshot", "100")).unwrap();
    for (i, t) in [1200, 1400, 1600].iter().enumerate() {
        writeln!(
            f,
            r#"{{"t":{t},"frame":{}}}"#,
            frame(i as u64 + 1, "update", &format!("10{i}.5"))
        )
        .unwrap();
    }
    writeln!(f, r#"{{"t":1600,"frame":{}}}"#, frame(9, "update", "99")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_at_full_speed_ends_with_the_books_and_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn_replay(ReplayConfig::new(recording(dir.path())));
    let view = wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    assert_eq!(view.products.len(), 2, "products from the connect marker");
    assert_eq!(
        view.products[0].state,
        BookState::Desynced,
        "the gap at the end"
    );
    assert_eq!(view.products[0].bid_levels, 5);
    assert_eq!(view.products[1].state, BookState::Waiting);
    assert_eq!((view.stats.frames, view.stats.gaps), (5, 1));
    assert_eq!(view.at_ms, 1600, "views carry the recorded time");
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(|e| matches!(e, FeedEvent::Snapshot { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(
            e,
            FeedEvent::Gap {
                expected: 4,
                got: 9,
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(
        matches!(ev.last(), Some(FeedEvent::Finished { .. })),
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_replay_follows_the_recorded_times() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut handle = spawn_replay(ReplayConfig {
        speed: Speed::Factor(2.0),
        ..ReplayConfig::new(recording(dir.path()))
    });
    wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    // 600 ms recorded at double speed: at least 300 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_slow_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn_replay(ReplayConfig {
        speed: Speed::Factor(0.001),
        ..ReplayConfig::new(recording(dir.path()))
    });
    wait_view(&mut handle, "the snapshot", |v| {
        v.products
            .first()
            .is_some_and(|p| p.state == BookState::Live)
    })
    .await;
    let started = Instant::now();
    handle.commands.send(FeedCommand::Shutdown).unwrap();
    let view = wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(view.stats.frames < 5, "it stopped early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_shows_as_a_finished_feed_with_the_reason() {
    let mut handle = spawn_replay(ReplayConfig::new("/nonexistent/rec.jsonl"));
    wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    let ev = events(&mut handle);
    assert!(
        ev.iter().any(|e| matches!(e, FeedEvent::ReplayFailed { error, .. } if error.contains("/nonexistent/rec.jsonl"))),
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_end_view_requests_are_still_answered_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn_replay(ReplayConfig {
        view: ViewRequest {
            depth: 2,
            group_ticks: 1,
            chart_depth: 0,
            rows_for: None,
            ..ViewRequest::default()
        },
        ..ReplayConfig::new(recording(dir.path()))
    });
    let end = wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    assert_eq!(end.products[0].bids.len(), 2, "as first asked");
    assert!(end.products[0].chart_bids.is_empty());
    // Well after the end: coarser grouping, more rows, the depth chart.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let wider = ViewRequest {
        depth: 50,
        group_ticks: 10,
        chart_depth: 40,
        rows_for: None,
        ..ViewRequest::default()
    };
    handle
        .commands
        .send(FeedCommand::SetView(wider.clone()))
        .unwrap();
    let view = wait_view(&mut handle, "the regrouped final book", |v| {
        v.products.first().is_some_and(|p| p.group_ticks == 10)
    })
    .await;
    let btc = &view.products[0];
    // Bids 99, 100, 100.5, 101.5, 102.5 at tick 0.1: by 1.0 they fill four rows.
    let prices: Vec<String> = btc.bids.iter().map(|r| r.price.to_string()).collect();
    assert_eq!(prices, ["102", "101", "100", "99"]);
    assert_eq!(btc.chart_bids.len(), 4);
    assert_eq!((btc.bid_levels, btc.state), (5, BookState::Desynced));
    assert_eq!(view.connection, ConnectionState::Finished);
    assert_eq!(view.at_ms, 1600, "still as of the end of the recording");
    assert_eq!(
        (view.stats.frames, view.stats.gaps),
        (5, 1),
        "nothing replayed twice"
    );
    // A resync cannot be served by a recording: ignored, and the replay goes on answering.
    handle.commands.send(FeedCommand::Resync).unwrap();
    handle
        .commands
        .send(FeedCommand::SetView(ViewRequest {
            group_ticks: 1,
            ..wider
        }))
        .unwrap();
    let view = wait_view(&mut handle, "ungrouped again", |v| {
        v.products.first().is_some_and(|p| p.group_ticks == 1)
    })
    .await;
    assert_eq!(view.products[0].bids.len(), 5);
    assert_eq!(
        view.stats.resyncs, end.stats.resyncs,
        "no resync asked of a recording"
    );
    // Shutdown ends the thread: the view channel closes.
    handle.commands.send(FeedCommand::Shutdown).unwrap();
    feed_gone(&mut handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_end_the_replay_stops_when_the_viewer_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn_replay(ReplayConfig::new(recording(dir.path())));
    wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    // The viewer drops its command sender without a Shutdown.
    let (commands, _) = tokio::sync::mpsc::unbounded_channel();
    drop(std::mem::replace(&mut handle.commands, commands));
    feed_gone(&mut handle).await;
}

/// Waits until the feed's thread has ended (its view sender dropped).
async fn feed_gone(handle: &mut cbbook::feed::events::FeedHandle) {
    let ended = tokio::time::timeout(WAIT, async {
        while handle.views.changed().await.is_ok() {}
    })
    .await;
    assert!(ended.is_ok(), "the replay thread did not end");
}

/// Two connections: 0 carries BTC-USD from t=1000, 1 carries ETH-USD from t=1100; updates on
/// both until t=2000 (with one `disconnect` on connection 1 at 1500 and its reconnect at 1550).
fn two_connection_recording(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("two.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let frame = |seq: u64, kind: &str, product: &str, price: &str| {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"{product}","updates":[{{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"1"}}]}}]}}"#
        )
    };
    let connect = |t: u64, c: &str, product: &str| {
        format!(
            r#"{{"t":{t}{c},"connect":{{"url":"ws://x","authenticated":false,"products":["{product}"]}}}}"#
        )
    };
    writeln!(f, "{}", connect(1000, "", "BTC-USD")).unwrap();
    writeln!(
        f,
        r#"{{"t":1000,"frame":{}}}"#,
        frame(0, "snapshot", "BTC-USD", "100")
    )
    .unwrap();
    writeln!(f, "{}", connect(1100, r#","c":1"#, "ETH-USD")).unwrap();
    writeln!(
        f,
        r#"{{"t":1100,"c":1,"frame":{}}}"#,
        frame(0, "snapshot", "ETH-USD", "10")
    )
    .unwrap();
    for i in 1..=9u64 {
        let t = 1100 + i * 100;
        writeln!(
            f,
            r#"{{"t":{t},"frame":{}}}"#,
            frame(i, "update", "BTC-USD", &format!("10{i}"))
        )
        .unwrap();
        if t == 1500 {
            writeln!(
                f,
                r#"{{"t":1500,"c":1,"disconnect":"the connection ended"}}"#
            )
            .unwrap();
            writeln!(f, "{}", connect(1550, r#","c":1"#, "ETH-USD")).unwrap();
            writeln!(
                f,
                r#"{{"t":1550,"c":1,"frame":{}}}"#,
                frame(0, "snapshot", "ETH-USD", "10")
            )
            .unwrap();
        } else {
            let seq = if t < 1500 { i } else { i - 4 };
            writeln!(
                f,
                r#"{{"t":{t},"c":1,"frame":{}}}"#,
                frame(seq, "update", "ETH-USD", &format!("1{i}"))
            )
            .unwrap();
        }
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_sees_every_connection_of_a_several_connection_recording_as_it_plays() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn_replay(ReplayConfig {
        speed: Speed::Factor(1.0),
        ..ReplayConfig::new(two_connection_recording(dir.path()))
    });
    // Before the end: connection 1's product, live, in a view listing both connections.
    let view = wait_view(&mut handle, "connection 1's book while playing", |v| {
        v.connection != ConnectionState::Finished
            && v.products
                .iter()
                .any(|p| p.product == "ETH-USD" && p.state == BookState::Live)
    })
    .await;
    assert!(
        view.at_ms < 2000,
        "before the end of the file: {}",
        view.at_ms
    );
    let names: Vec<&str> = view.products.iter().map(|p| p.product.as_str()).collect();
    assert_eq!(names, ["BTC-USD", "ETH-USD"]);
    assert_eq!(view.connections.len(), 2, "{:?}", view.connections);
    assert_eq!(view.connections[0].index, 0);
    assert_eq!(view.connections[0].products, ["BTC-USD"]);
    assert_eq!(view.connections[1].index, 1);
    assert_eq!(view.connections[1].products, ["ETH-USD"]);
    assert!(view.connections[1].last_sequence_num.is_some());
    assert_eq!(view.connection, ConnectionState::Replaying);
    // Connection 1's loss: the session is as far as its least advanced connection, and that
    // connection's reconnect is counted on it alone.
    let view = wait_view(&mut handle, "connection 1 reconnected", |v| {
        v.connections.get(1).is_some_and(|c| c.reconnects == 1)
    })
    .await;
    assert_eq!(view.connections[0].reconnects, 0);
    assert_eq!(view.stats.reconnects, 1);
    // The end: every product, both connections still listed.
    let view = wait_view(&mut handle, "finished", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    let names: Vec<&str> = view.products.iter().map(|p| p.product.as_str()).collect();
    assert_eq!(names, ["BTC-USD", "ETH-USD"]);
    assert!(
        view.products.iter().all(|p| p.state == BookState::Live),
        "{:?}",
        view.products
    );
    assert_eq!(view.products[0].bid_levels, 10);
    assert_eq!(
        view.products[1].bid_levels, 6,
        "the snapshot after the reconnect, then 5 updates"
    );
    assert_eq!(view.connections.len(), 2);
    assert_eq!(view.at_ms, 2000);
}
