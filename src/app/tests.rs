//! Unit tests of the App's private helpers; behaviour through the public API is in tests/it/ui/app.rs.

use super::*;
use crate::config::MAX_GROUP;
use crate::feed::events::FeedStats;

#[test]
fn group_series_is_one_two_five() {
    let mut up = vec![1];
    while up.len() < 10 {
        up.push(coarser_group(*up.last().unwrap()));
    }
    assert_eq!(up, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    assert_eq!(coarser_group(3), 5, "off-series values join the series");
    assert_eq!(finer_group(3), 2);
    assert_eq!(finer_group(1), 1);
    assert_eq!(finer_group(1000), 500);
    assert_eq!(coarser_group(MAX_GROUP), MAX_GROUP, "stops at the maximum");
    assert!(coarser_group(MAX_GROUP - 1) <= MAX_GROUP);
}

#[test]
fn rates_need_history_and_survive_counter_resets() {
    let mut rates = Rates::default();
    let stats = |frames, updates| FeedStats {
        frames,
        updates,
        ..FeedStats::default()
    };
    assert_eq!(rates.per_second(0), None);
    rates.push(0, &stats(0, 0));
    assert_eq!(
        rates.per_second(100),
        None,
        "a single fresh sample is no rate"
    );
    rates.push(500, &stats(10, 100));
    assert_eq!(rates.per_second(500), Some((20.0, 200.0)));
    rates.push(1_500, &stats(30, 300));
    // The base is now the sample at 500 (the newest at least a second old).
    assert_eq!(rates.per_second(1_500), Some((20.0, 200.0)));
    rates.push(1_600, &stats(5, 5));
    let (m, u) = rates.per_second(1_600).unwrap();
    assert_eq!(
        (m, u),
        (0.0, 0.0),
        "a counter that went back counts as nothing"
    );
}

#[test]
fn notices_say_what_happened() {
    let gap = notice_for(&FeedEvent::Gap {
        at_ms: 5,
        expected: 10,
        got: 12,
    })
    .unwrap();
    assert_eq!(gap.level, Level::Warn);
    assert_eq!(gap.text, "sequence gap: expected 10, got 12; resyncing");
    assert_eq!(gap.at_ms, 5);
    let reconnect = notice_for(&FeedEvent::Reconnecting {
        at_ms: 0,
        in_ms: 2_500,
        attempt: 3,
    })
    .unwrap();
    assert_eq!(reconnect.text, "reconnecting in 2.5s (attempt 3)");
    assert!(
        notice_for(&FeedEvent::SubscribeSent {
            at_ms: 0,
            message: String::new()
        })
        .is_none()
    );
}

#[test]
fn routine_notices_do_not_hide_a_recent_warning() {
    let mut app = App::new(ViewerSetup::default(), 0);
    app.on_event(FeedEvent::Gap {
        at_ms: 1_000,
        expected: 5,
        got: 9,
    });
    app.on_event(FeedEvent::Snapshot {
        at_ms: 1_200,
        product: "BTC-USD".into(),
        bids: 1,
        asks: 1,
    });
    assert_eq!(app.notice.as_ref().unwrap().level, Level::Warn);
    app.on_event(FeedEvent::Disconnected {
        at_ms: 1_300,
        reason: "reset".into(),
    });
    assert_eq!(app.notice.as_ref().unwrap().text, "disconnected: reset");
    app.on_event(FeedEvent::Connected {
        at_ms: 1_300 + NOTICE_HOLD_MS,
        url: "ws://x".into(),
    });
    assert_eq!(app.notice.as_ref().unwrap().text, "connected to ws://x");
}

#[test]
fn an_auth_error_frame_points_at_the_auth_pane() {
    let notice = notice_for(&FeedEvent::ErrorFrame {
        at_ms: 0,
        message: "authentication failure".into(),
        reason: Some("key_unknown: no key named \"organizations/x/apiKeys/y\"".into()),
    })
    .unwrap();
    assert_eq!(
        notice.text,
        "server error: authentication failure; press a for why"
    );
    let notice = notice_for(&FeedEvent::ErrorFrame {
        at_ms: 0,
        message: "failure to subscribe".into(),
        reason: Some("FOO-BAR is not a valid product".into()),
    })
    .unwrap();
    assert_eq!(
        notice.text,
        "server error: failure to subscribe (FOO-BAR is not a valid product)"
    );
}

#[test]
fn a_refused_product_shows_down_with_the_servers_words_and_the_others_do_not() {
    use crate::feed::core::FeedCore;
    use crate::feed::events::{BookState, ViewRequest};
    let products = vec!["BTC-USD".to_owned(), "FOO-BAR".to_owned()];
    let mut core = FeedCore::new("ws://sim", &products, false, 1_000);
    core.connection_started(1_000, false);
    core.on_frame(
        r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#,
        1_100,
    );
    let view = core.view(&ViewRequest::default(), 1_100);
    assert_eq!(view.products[1].state, BookState::Refused);
    let setup = ViewerSetup {
        products,
        endpoint: "ws://sim".into(),
        ..ViewerSetup::default()
    };
    let mut app = App::new(setup, 1_100);
    app.update(Action::Resize {
        width: 100,
        height: 30,
    });
    app.update(Action::View(Arc::new(view)));
    assert_eq!(app.health_of(0), Health::Connecting);
    assert_eq!(app.health_of(1), Health::Down);
    app.update(Action::Key(crate::app::KeyAction::SelectProduct(1)));
    let area = ratatui::layout::Rect::new(0, 0, 100, 30);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    crate::ui::render(&app, area, &mut buf);
    let text: String = (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect();
    assert!(text.contains("FOO-BAR: not available"), "{text}");
    assert!(
        text.contains("failure to subscribe: FOO-BAR is not a valid product"),
        "{text}"
    );
    assert!(text.contains("DOWN"), "{text}");
}
