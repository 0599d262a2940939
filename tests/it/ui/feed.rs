//! What the feed hands the viewer, checked against the simulator: the auth pane's subscribe line
//! is the level2 subscribe (JWT redacted), and the `reconnects` counter means the same live and in
//! a replay of that run's recording, failed attempts included.

use crate::support::feed as feed_support;
use crate::support::ui as ui_fixtures;

use std::time::Duration;

use cbbook::feed::events::{FeedCommand, FeedEvent};
use cbbook::feed::{LiveConfig, ReplayConfig, client, replay};
use cbbook::sim::{self, SimConfig};
use feed_support::*;

fn products() -> Vec<String> {
    vec!["BTC-USD".to_string(), "ETH-USD".to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_pane_gets_the_level2_subscribe_not_the_heartbeats_one() {
    let sim = sim::spawn(SimConfig::default().with_demo_keys().unwrap()).unwrap();
    let key = ui_fixtures::demo_key();
    let config = LiveConfig {
        key: Some(key.clone()),
        ..LiveConfig::new(sim.url(), products())
    };
    let (task, mut handle) = client::start(config);
    let view = wait_view(&mut handle, "subscribed and live", |v| {
        all_live(v) && v.auth.acknowledged.contains_key("heartbeats")
    })
    .await;
    // Both subscribes went out (level2 first, then heartbeats), and the pane keeps level2's.
    let sent: Vec<String> = events(&mut handle)
        .into_iter()
        .filter_map(|e| match e {
            FeedEvent::SubscribeSent { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert!(
        sent.last().unwrap().contains(r#""channel":"heartbeats""#),
        "{sent:?}"
    );
    let subscribe = view.auth.last_subscribe.clone().unwrap();
    assert_eq!(
        subscribe,
        r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"<redacted>"}"#
    );
    let jwt = view.auth.last_jwt.clone().unwrap();
    assert_eq!(jwt.split('.').count(), 3);

    // A resync sends unsubscribe then subscribe: the pane ends on the subscribe, with its JWT.
    handle.commands.send(FeedCommand::Resync).unwrap();
    let view = wait_view(&mut handle, "resynced and live", |v| {
        v.stats.resyncs >= 1 && all_live(v)
    })
    .await;
    let after = view.auth.last_subscribe.clone().unwrap();
    assert!(after.starts_with(r#"{"type":"subscribe""#), "{after}");
    assert!(after.contains(r#""channel":"level2""#), "{after}");
    assert_ne!(view.auth.last_jwt.as_deref(), Some(jwt.as_str()));
    stop(task, &handle).await;
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_leaves_the_signed_subscribe_and_the_public_fallback() {
    // The simulator trusts only the demo key: a fixture key is refused.
    let sim = sim::spawn(SimConfig::default().with_demo_keys().unwrap()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys/pkcs8-p256.json");
    let key = std::sync::Arc::new(cbbook::auth::load_key_file(&path).unwrap());
    let config = LiveConfig {
        key: Some(key),
        ..LiveConfig::new(sim.url(), products())
    };
    let (task, mut handle) = client::start(config);
    let view = wait_view(&mut handle, "fell back to public and live", |v| {
        v.auth.fell_back_to_public && all_live(v)
    })
    .await;
    assert_eq!(
        view.auth.refused_subscribe.as_deref(),
        Some(
            r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"<redacted>"}"#
        )
    );
    assert_eq!(
        view.auth.last_subscribe.as_deref(),
        Some(r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}"#)
    );
    let error = view.auth.last_error.clone().unwrap();
    assert_eq!(error.message, "authentication failure");
    stop(task, &handle).await;
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_mean_the_same_live_and_in_replay() {
    // A server that is down at start (failed attempts), then up, then drops the connection.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("rec.jsonl");
    let config = LiveConfig {
        record: Some(record.clone()),
        ..LiveConfig::new(format!("ws://127.0.0.1:{port}"), products())
    };
    let (task, mut handle) = client::start(config);
    wait_view(&mut handle, "two failed attempts", |v| {
        v.stats.reconnects >= 2
    })
    .await;
    let sim = sim::spawn(SimConfig {
        port,
        disconnect_every: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    })
    .unwrap();
    let before = handle.views.borrow().stats.reconnects;
    wait_view(&mut handle, "live again after a dropped connection", |v| {
        v.stats.reconnects > before && all_live(v)
    })
    .await;
    let live = stop(task, &handle).await;
    sim.shutdown();

    let mut host = replay::HeadlessHost::new(|_e: FeedEvent| {});
    let replayed = replay::run(&ReplayConfig::new(&record), &mut host).unwrap();
    assert!(live.stats().reconnects >= 3, "{:?}", live.stats());
    assert_eq!(replayed.core.stats().reconnects, live.stats().reconnects);
    assert_eq!(replayed.core.dump_books(), live.dump_books());
}

/// A recording of one BTC-USD snapshot: 1000 bids and 1000 asks a cent apart around 100, enough
/// to fill any ladder at the groupings the test uses.
fn one_snapshot_recording(dir: &std::path::Path) -> std::path::PathBuf {
    let level = |side: &str, cents: i64| {
        format!(
            r#"{{"side":"{side}","event_time":"1970-01-01T00:00:00Z","price_level":"{}.{:02}","new_quantity":"1"}}"#,
            cents / 100,
            cents % 100
        )
    };
    let bids = (0..1000).map(|i| level("bid", 9_999 - i));
    let asks = (0..1000).map(|i| level("offer", 10_001 + i));
    let updates: Vec<String> = bids.chain(asks).collect();
    let frame = format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":0,"events":[{{"type":"snapshot","product_id":"BTC-USD","updates":[{}]}}]}}"#,
        updates.join(",")
    );
    let path = dir.join("rec.jsonl");
    let lines = [
        r#"{"t":1000,"connect":{"url":"ws://x","authenticated":false,"products":["BTC-USD"]}}"#
            .to_string(),
        format!(r#"{{"t":1000,"frame":{frame}}}"#),
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

/// The viewer after the END of a replay, driven as its event loop does (commands to the feed,
/// views back): `+` regroups the final book (the title's pending marker goes), a taller
/// terminal gets more rows, and `d` gets the depth chart's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_end_of_a_replay_the_viewer_still_regroups_resizes_and_charts() {
    use cbbook::app::{Action, App, KeyAction};
    use cbbook::feed::events::{ConnectionState, FeedHandle};

    let send = |commands: Vec<FeedCommand>, handle: &FeedHandle| {
        for command in commands {
            handle.commands.send(command).unwrap();
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut handle = replay::spawn(ReplayConfig::new(one_snapshot_recording(dir.path())));
    let mut app = App::new(ui_fixtures::replay_setup(), ui_fixtures::T0);
    send(app.update(cbbook::ui::resize(120, 20)), &handle);
    let end = wait_view(&mut handle, "the end", |v| {
        v.connection == ConnectionState::Finished
    })
    .await;
    send(app.update(Action::View(end)), &handle);
    assert!(ui_fixtures::screen(&app).contains("END of the recording"));

    // Waits for the view the App asks for, and shows it.
    async fn shown(app: &mut App, handle: &mut FeedHandle, what: &str) -> usize {
        let wanted = app.view_request();
        let view = wait_view(handle, what, |v| {
            v.products.first().is_some_and(|p| {
                p.group_ticks == wanted.group_ticks
                    && p.bids.len() == wanted.depth
                    && p.chart_bids.is_empty() == (wanted.chart_depth == 0)
            })
        })
        .await;
        assert!(app.update(Action::View(view)).is_empty());
        app.shown_product().unwrap().bids.len()
    }
    let short = shown(&mut app, &mut handle, "the first request").await;

    // A taller terminal: more rows of the final book.
    send(app.update(cbbook::ui::resize(120, 40)), &handle);
    let tall = shown(&mut app, &mut handle, "more rows").await;
    assert!(tall > short, "{short} rows, then {tall}");

    // `+` twice: pending at first, then regrouped.
    let mut commands = ui_fixtures::key(&mut app, KeyAction::GroupCoarser);
    commands.extend(ui_fixtures::key(&mut app, KeyAction::GroupCoarser));
    let grouping = app.group_ticks();
    assert!(grouping > 1);
    assert!(ui_fixtures::screen(&app).contains(&format!("→ {grouping} ticks…")));
    send(commands, &handle);
    shown(&mut app, &mut handle, "the coarser grouping").await;
    assert_eq!(app.shown_product().unwrap().group_ticks, grouping);
    let screen = ui_fixtures::screen(&app);
    assert!(!screen.contains("ticks…"), "{screen}");
    assert!(screen.contains("END of the recording"), "{screen}");

    // The depth chart.
    send(ui_fixtures::key(&mut app, KeyAction::ToggleChart), &handle);
    assert!(app.view_request().chart_depth > 0);
    shown(&mut app, &mut handle, "the chart's rows").await;
    assert!(!app.shown_product().unwrap().chart_bids.is_empty());

    handle.commands.send(FeedCommand::Shutdown).unwrap();
}
