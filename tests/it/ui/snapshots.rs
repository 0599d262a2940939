//! Whole screens of the viewer in each state, at 120x40 and 80x24, from hand-made feed views
//! with fixed times. Review a changed snapshot by eye: it is the screen users see.

use crate::support::ui as ui_fixtures;

use cbbook::app::{Action, KeyAction};
use cbbook::feed::events::{BookState, FeedEvent};
use ui_fixtures::*;

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn check(name: &str, build: impl Fn(u16, u16) -> cbbook::app::App) {
    for (w, h) in SIZES {
        let app = build(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&app));
    }
}

#[test]
fn connecting() {
    check("connecting", |w, h| {
        let mut app = app(w, h, connecting_view());
        app.update(Action::Event(FeedEvent::Connecting {
            at_ms: T0 - 300,
            url: ENDPOINT.to_string(),
            attempt: 1,
        }));
        app
    });
}

#[test]
fn live() {
    check("live", |w, h| app(w, h, live_view()));
}

#[test]
fn live_second_product_grouped() {
    check("live_eth_grouped", |w, h| {
        let mut view = live_view();
        view.products[1] = product_grouped("ETH-USD", "3456.75", "3456.80", "0.01", 5, 40);
        let mut app = app(w, h, view);
        key(&mut app, KeyAction::NextProduct);
        key(&mut app, KeyAction::GroupCoarser);
        key(&mut app, KeyAction::GroupCoarser);
        app
    });
}

#[test]
fn resync_after_gap() {
    check("resync_after_gap", |w, h| {
        let mut app = app(w, h, resync_view());
        app.update(Action::Event(FeedEvent::Gap {
            at_ms: T0 - 2_000,
            expected: 4_120,
            got: 4_125,
        }));
        app
    });
}

#[test]
fn reconnecting() {
    check("reconnecting", |w, h| {
        let mut app = app(w, h, reconnecting_view());
        app.update(Action::Event(FeedEvent::Disconnected {
            at_ms: T0 - 4_000,
            reason: "connection reset by peer".to_string(),
        }));
        app.update(Action::Event(FeedEvent::Reconnecting {
            at_ms: T0 - 4_000,
            in_ms: 6_500,
            attempt: 3,
        }));
        app
    });
}

#[test]
fn stale() {
    check("stale", |w, h| {
        let mut app = app(w, h, live_view());
        app.update(Action::Tick { now_ms: T0 + 4_000 });
        app
    });
}

#[test]
fn every_trouble_counter() {
    check("trouble_counters", |w, h| {
        let mut view = live_view();
        view.stats.gaps = 3;
        view.stats.resyncs = 4;
        view.stats.bad_frames = 2;
        view.stats.stale_frames = 17;
        view.stats.ignored_updates = 1_250;
        view.stats.events_dropped = 12;
        app(w, h, view)
    });
}

/// A book the server left crossed: the badge says CROSSED (not LIVE), the spread row says the
/// book is suspect, the rule counts it, the status line tells what happened.
#[test]
fn crossed_book() {
    check("crossed_book", |w, h| {
        let mut view = live_view();
        view.products[0] = product("BTC-USD", "64931.00", "64930.51", "0.01", 40);
        view.products[0].state = BookState::Crossed;
        view.stats.crossed = 1;
        view.stats.resyncs = 1;
        let mut app = app(w, h, view);
        app.update(Action::Event(FeedEvent::Crossed {
            at_ms: T0 - 1_000,
            product: "BTC-USD".to_string(),
            best_bid: dec("64931.00"),
            best_ask: dec("64930.51"),
        }));
        app
    });
}

#[test]
fn key_refused_then_public() {
    let key = demo_key();
    let reason = format!(
        "key_unknown: no key named \"{}\" is known to this server",
        key.name()
    );
    check("key_refused_then_public", |w, h| {
        let view = keyed_fell_back_view(&key, &reason);
        let mut app = app_with(keyed_setup(), w, h, view).0;
        for event in [
            FeedEvent::AuthRejected {
                at_ms: T0 - 1_200,
                channel: "level2".to_string(),
                message: "authentication failure".to_string(),
                reason: Some(reason.clone()),
            },
            FeedEvent::FellBackToPublic { at_ms: T0 - 1_200 },
            // The heartbeats subscribe, signed too, is refused just after.
            FeedEvent::ErrorFrame {
                at_ms: T0 - 1_199,
                message: "authentication failure".to_string(),
                reason: Some(reason.clone()),
            },
        ] {
            app.update(Action::Event(event));
        }
        app
    });
}

#[test]
fn replaying() {
    check("replaying", |w, h| {
        let mut app = app_with(replay_setup(), w, h, replay_view()).0;
        app.update(Action::Event(FeedEvent::Gap {
            at_ms: R0 - 2_000,
            expected: 4_120,
            got: 4_125,
        }));
        app
    });
}

#[test]
fn replay_finished() {
    check("replay_finished", |w, h| {
        let mut app = app_with(replay_setup(), w, h, replay_finished_view()).0;
        app.update(Action::Event(FeedEvent::Disconnected {
            at_ms: R0 - 900,
            reason: "the server closed the connection".to_string(),
        }));
        app.update(Action::Event(FeedEvent::Finished { at_ms: R0 }));
        app
    });
}

#[test]
fn replay_auth_pane() {
    check("replay_auth_pane", |w, h| {
        let mut app = app_with(replay_setup(), w, h, replay_view()).0;
        key(&mut app, KeyAction::ToggleAuth);
        app
    });
}

#[test]
fn grouped_ladder_beside_the_auth_pane() {
    // The ladder is narrow next to a pane: its title must fit.
    check("grouped_beside_auth_pane", |w, h| {
        let mut view = live_view();
        view.products[0] = product_grouped("BTC-USD", "64930.00", "64930.20", "0.01", 20, 40);
        let mut app = app(w, h, view);
        for _ in 0..4 {
            key(&mut app, KeyAction::GroupCoarser);
        }
        key(&mut app, KeyAction::ToggleAuth);
        app
    });
}

#[test]
fn no_key_auth_pane() {
    check("no_key_auth_pane", |w, h| {
        let mut app = app(w, h, live_view());
        key(&mut app, KeyAction::ToggleAuth);
        app
    });
}

#[test]
fn auth_refused_key_unknown() {
    let key = demo_key();
    let reason = format!(
        "key_unknown: no key named \"{}\" is known to this server",
        key.name()
    );
    check("auth_refused_key_unknown", |w, h| {
        let view = keyed_refused_view(&key, Some(&reason));
        let mut app = app_with(keyed_setup(), w, h, view).0;
        app.update(Action::Event(FeedEvent::AuthRejected {
            at_ms: T0 - 1_200,
            channel: "level2".to_string(),
            message: "authentication failure".to_string(),
            reason: Some(reason.clone()),
        }));
        app
    });
}

#[test]
fn auth_refused_key_unknown_pane() {
    let key = demo_key();
    let reason = format!(
        "key_unknown: no key named \"{}\" is known to this server",
        key.name()
    );
    check("auth_refused_key_unknown_pane", |w, h| {
        let view = keyed_refused_view(&key, Some(&reason));
        let mut app = app_with(keyed_setup(), w, h, view).0;
        key_press(&mut app, KeyAction::ToggleAuth);
        app
    });
}

#[test]
fn auth_refused_without_reason_pane() {
    let key = demo_key();
    check("auth_refused_no_reason_pane", |w, h| {
        let view = keyed_refused_view(&key, None);
        let mut app = app_with(keyed_setup(), w, h, view).0;
        key_press(&mut app, KeyAction::ToggleAuth);
        app
    });
}

#[test]
fn signed_live_auth_pane() {
    let key = demo_key();
    check("signed_live_auth_pane", |w, h| {
        let mut s = keyed_setup();
        s.demo = true;
        let mut app = app_with(s, w, h, keyed_live_view(&key)).0;
        key_press(&mut app, KeyAction::ToggleAuth);
        app
    });
}

fn key_press(app: &mut cbbook::app::App, action: KeyAction) {
    ui_fixtures::key(app, action);
}

#[test]
fn help() {
    check("help", |w, h| {
        let mut app = app(w, h, live_view());
        key(&mut app, KeyAction::ToggleHelp);
        app
    });
}

#[test]
fn depth_chart() {
    check("depth_chart", |w, h| {
        let mut view = live_view();
        let mut btc = btc(40);
        btc.chart_bids = side("64930.50", "0.01", 1, 400, true, 3);
        btc.chart_asks = side("64930.51", "0.01", 1, 400, false, 5);
        view.products[0] = btc;
        let mut app = app(w, h, view);
        key(&mut app, KeyAction::ToggleChart);
        app
    });
}

#[test]
fn paused() {
    check("paused", |w, h| {
        let mut app = app(w, h, live_view());
        key(&mut app, KeyAction::TogglePause);
        app
    });
}

#[test]
fn tiny_terminal() {
    for (w, h) in [(40, 10), (79, 15)] {
        let app = app(w, h, live_view());
        insta::assert_snapshot!(format!("tiny_{w}x{h}"), screen(&app));
    }
}
