//! The auth pane's two sections: the market data and the user data (your orders), each with its
//! own JWT, verdict, server error and diagnosis; no JWT or private key on screen in either.

use crate::support::ui as ui_fixtures;

use cbbook::app::{App, KeyAction};
use ui_fixtures::*;

/// The whole pane on a screen tall enough for both sections.
fn full_pane(setup: cbbook::app::ViewerSetup, view: cbbook::feed::events::FeedView) -> String {
    let mut app: App = app_with(setup, 200, 150, view).0;
    key(&mut app, KeyAction::ToggleAuth);
    let text = screen(&app);
    assert!(
        text.contains(" a closes "),
        "the pane does not fit:\n{text}"
    );
    text
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("missing `{needle}` in:\n{text}"))
}

#[test]
fn each_connection_kind_has_its_own_section() {
    let key = demo_key();
    let mut view = keyed_live_view(&key);
    view.user = Some(keyed_user_view(&key, None));
    let text = full_pane(keyed_setup(), view.clone());
    let market = position(&text, "── market data ──");
    let user = position(
        &text,
        "── user data ── wss://advanced-trade-ws-user.coinbase.com",
    );
    assert!(market < user, "{text}");
    let user_part = &text[user..];
    assert!(
        user_part.contains("signed user subscribe accepted · 0 open orders"),
        "{text}"
    );
    assert!(
        user_part.contains("JWTs signed with this machine's time"),
        "{text}"
    );
    assert!(
        user_part.contains("JWT sent (decoded; the signature is never shown)"),
        "{text}"
    );
    // Its own token: signed 60 s before T0, not the market data's (80 s before).
    assert!(user_part.contains("nbf        23:59:00 UTC"), "{text}");
    assert!(
        user_part.contains(r#""channel":"user","jwt":"<redacted>""#),
        "{text}"
    );
    // The market data's token stays in the market data's section.
    assert!(
        text[market..user].contains("nbf        23:58:40 UTC"),
        "{text}"
    );
    assert!(!user_part.contains("nbf        23:58:40 UTC"), "{text}");
    for jwt in [
        view.auth.last_jwt.clone().unwrap(),
        view.user.unwrap().auth.last_jwt.unwrap(),
    ] {
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(
            !text.contains(&signature[..16]),
            "signature on screen:\n{text}"
        );
        assert!(!text.contains(&jwt[..40]), "raw JWT on screen:\n{text}");
    }
}

#[test]
fn a_refused_user_channel_is_diagnosed_in_its_section_and_the_books_go_on() {
    let key = demo_key();
    let mut view = keyed_live_view(&key);
    view.user = Some(keyed_user_view(
        &key,
        Some("key_unknown: no key named \"x\" is known"),
    ));
    let text = full_pane(keyed_setup(), view);
    let user = position(&text, "── user data ──");
    let (market_part, user_part) = text.split_at(user);
    assert!(market_part.contains("signed subscribe accepted"), "{text}");
    assert!(!market_part.contains("key_unknown"), "{text}");
    assert!(
        user_part.contains("refused: authentication failure (the market data goes on)"),
        "{text}"
    );
    assert!(
        user_part.contains("the server does not trust this key name"),
        "{text}"
    );
    assert!(user_part.contains("JWT refused"), "{text}");
    assert!(user_part.contains("error frame"), "{text}");
    insta::assert_snapshot!("auth_two_sections_user_refused_200x150", text);
}

#[test]
fn the_two_sections_as_drawn() {
    let key = demo_key();
    let mut view = keyed_live_view(&key);
    view.user = Some(keyed_user_view(&key, None));
    let mut app: App = app_with(keyed_setup(), 120, 40, view).0;
    key_press(&mut app);
    insta::assert_snapshot!("auth_two_sections_120x40", pages(&mut app));
}

fn key_press(app: &mut App) {
    key(app, KeyAction::ToggleAuth);
}

/// Every page of the pane, one screen after another.
fn pages(app: &mut App) -> String {
    let mut out = Vec::new();
    for _ in 0..4 {
        out.push(screen(app));
        key(app, KeyAction::Scroll(30));
    }
    out.join("\n")
}

#[test]
fn without_a_key_the_user_section_says_none_is_made() {
    let text = full_pane(setup(), live_view());
    let user = position(&text, "── user data ── no connection");
    assert!(
        text[user..].contains("no user connection without a key"),
        "{text}"
    );
    assert!(!text[user..].contains("JWT"), "{text}");
}
