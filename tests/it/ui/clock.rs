//! The measured clock offset on screen (docs/auth.md, "Clock skew"): the status line and the
//! auth pane, refused with the clock named as the cause, and signed with the server's time.

use crate::support::ui as ui_fixtures;

use cbbook::app::KeyAction;
use cbbook::auth::clock::{JwtClock, SignedWith};
use cbbook::feed::core::clock::ClockEstimate;
use ui_fixtures::*;

const SKEW: ClockEstimate = ClockEstimate {
    offset_ms: 2_980,
    samples: 42,
    error_ms: Some(3),
};

fn pane(view: cbbook::feed::events::FeedView, w: u16, h: u16) -> String {
    let mut app = app_with(keyed_setup(), w, h, view).0;
    ui_fixtures::key(&mut app, KeyAction::ToggleAuth);
    screen(&app)
}

#[test]
fn a_refusal_with_the_clock_ahead_names_the_measured_clock() {
    let key = demo_key();
    let mut view = keyed_refused_view(&key, None);
    view.auth.clock = Some(SKEW);
    view.auth.signed_with = Some(SignedWith::Local);
    view.auth.jwt_clock = JwtClock::Local;
    let text = pane(view, 120, 40);
    assert!(
        text.contains("+2.98 s ahead of Coinbase, from 42 frames"),
        "{text}"
    );
    assert!(
        text.contains("clock +2.98 s ahead of Coinbase"),
        "status line: {text}"
    );
    assert!(
        text.contains("✗ clock_skew: this machine's clock is +2.98 s"),
        "{text}"
    );
    assert!(
        !text.contains("check, in order"),
        "no list of guesses: {text}"
    );
    insta::assert_snapshot!("clock_refused_pane_120x40", text);
}

#[test]
fn signed_with_the_servers_time_after_the_retry() {
    let key = demo_key();
    let mut view = keyed_live_view(&key);
    view.auth.clock = Some(SKEW);
    view.auth.signed_with = Some(SignedWith::Server { offset_ms: 2_980 });
    view.auth.clock_retried = true;
    for (w, h) in [(120, 40), (80, 24)] {
        let text = pane(view.clone(), w, h);
        insta::assert_snapshot!(format!("clock_signed_server_time_{w}x{h}"), text);
    }
    let text = pane(view.clone(), 120, 40);
    assert!(text.contains("signed (server time)"), "{text}");
    assert!(
        text.contains("JWTs signed with the server's time: this"),
        "{text}"
    );
    assert!(text.contains("machine's minus 2.98 s"), "{text}");
    // Under the threshold, the status line says nothing of the clock.
    view.auth.clock = Some(ClockEstimate {
        offset_ms: 120,
        ..SKEW
    });
    let app = app_with(keyed_setup(), 120, 40, view).0;
    assert!(!screen(&app).contains("clock +"), "{}", screen(&app));
}
