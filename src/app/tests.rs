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
    assert_eq!(gap.severity, Severity::Warn);
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
    assert_eq!(app.notice.as_ref().unwrap().severity, Severity::Warn);
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
