//! The auth-debug pane's content: the diagnosis it gives for each kind of refusal, and that no
//! secret (private key, JWT signature, the JWT itself) ever reaches the screen.

use crate::support::ui as ui_fixtures;

use std::sync::Arc;

use cbbook::app::auth_debug::diagnose;
use cbbook::app::{App, KeyAction, SentToken, ViewerSetup};
use cbbook::auth::{Key, Severity, SignatureVerdict, load_key_parts};
use cbbook::feed::events::ServerError;
use ui_fixtures::*;

fn refusal(reason: Option<&str>) -> ServerError {
    ServerError {
        raw: String::new(),
        message: "authentication failure".to_string(),
        reason: reason.map(str::to_string),
        at_ms: T0,
    }
}

fn auth_screens(setup: ViewerSetup, view: cbbook::feed::events::FeedView) -> Vec<String> {
    let mut screens = Vec::new();
    for (w, h) in [(120, 40), (80, 24), (200, 60)] {
        let mut app: App = app_with(setup.clone(), w, h, view.clone()).0;
        key(&mut app, KeyAction::ToggleAuth);
        // Every page of the pane, both sections.
        for _ in 0..14 {
            screens.push(screen(&app));
            key(&mut app, KeyAction::Scroll(10));
        }
    }
    screens
}

#[test]
fn no_secret_reaches_the_screen() {
    let key = demo_key();
    let secret = demo_secret();
    // Pieces of the PEM body: any of them on screen would be a leak.
    let body: String = secret.lines().filter(|l| !l.starts_with("-----")).collect();
    let pieces: Vec<&str> = (0..body.len().saturating_sub(12))
        .step_by(12)
        .map(|i| &body[i..i + 12])
        .collect();
    assert!(pieces.len() > 5);

    let views = [
        keyed_live_view(&key),
        keyed_refused_view(
            &key,
            Some("signature_invalid: the signature does not verify"),
        ),
        keyed_refused_view(&key, None),
    ];
    for (k, mut view) in views.into_iter().enumerate() {
        // The user connection's own JWT (its section of the pane), accepted or refused.
        let refused = (k == 1).then_some("key_unknown: no key named \"x\" is known");
        view.user = Some(keyed_user_view(&key, refused));
        let user_jwt = view.user.as_ref().unwrap().auth.last_jwt.clone().unwrap();
        let jwt = view.auth.last_jwt.clone().unwrap();
        assert_ne!(jwt, user_jwt);
        let signatures: Vec<String> = [&jwt, &user_jwt]
            .iter()
            .map(|j| j.rsplit('.').next().unwrap().to_string())
            .collect();
        for screen in auth_screens(keyed_setup(), view) {
            for signature in &signatures {
                for i in (0..signature.len() - 10).step_by(5) {
                    let piece = &signature[i..i + 10];
                    assert!(!screen.contains(piece), "signature on screen:\n{screen}");
                }
            }
            assert!(!screen.contains(&jwt[..40]), "raw JWT on screen:\n{screen}");
            assert!(
                !screen.contains(&user_jwt[..40]),
                "raw user JWT on screen:\n{screen}"
            );
            for piece in &pieces {
                assert!(!screen.contains(piece), "private key on screen:\n{screen}");
            }
        }
    }
}

#[test]
fn the_decoded_claims_are_shown() {
    let key = demo_key();
    let screens = auth_screens(keyed_setup(), keyed_live_view(&key));
    let all = screens.join("\n");
    for needle in [
        "alg        ES256",
        "kid        organizations/cbbook-demo/apiKeys/demo-es256-test-only",
        "nonce      5f1c0e9a…7766",
        "iss        cdp",
        "nbf        23:58:40 UTC (1m20s ago)",
        "exp        00:00:40 UTC (in 40s)",
        "signature  valid with this key's public key",
        "ES256 · sec1-pem",
        "acknowledged BTC-USD ETH-USD",
    ] {
        assert!(all.contains(needle), "missing `{needle}`");
    }
}

#[test]
fn key_unknown_says_the_server_does_not_trust_the_key_name() {
    let key = demo_key();
    let token = SentToken::inspect(&jwt(&key, T0 / 1000), Some(&key), T0 / 1000);
    let reason = format!(
        "key_unknown: no key named \"{}\" is known to this server",
        key.name()
    );
    let d = diagnose(
        Some(&token),
        Some(&refusal(Some(&reason))),
        Some(&key),
        false,
    );
    assert_eq!(d.summary, "the server does not trust this key name");
    assert_eq!(d.findings[0].code, "key_unknown");
    assert!(d.findings[0].message.contains(key.name()));
    assert!(
        d.findings[0].fix.contains("--authorized-key"),
        "{}",
        d.findings[0].fix
    );

    let demo = diagnose(
        Some(&token),
        Some(&refusal(Some(&reason))),
        Some(&key),
        true,
    );
    assert!(
        demo.findings[0].fix.contains("demo key"),
        "{}",
        demo.findings[0].fix
    );

    // Wording other servers use for the same thing.
    let d = diagnose(
        Some(&token),
        Some(&refusal(Some("Unknown key"))),
        Some(&key),
        false,
    );
    assert_eq!(d.findings[0].code, "key_unknown");
}

#[test]
fn a_reason_the_local_check_confirms_comes_first() {
    let key = demo_key();
    // Signed by the ES256 key but claiming EdDSA: the local check sees alg_key_mismatch.
    let header =
        serde_json::json!({"alg": "EdDSA", "kid": key.name(), "nonce": "ab", "typ": "JWT"});
    let claims = serde_json::json!({"sub": key.name(), "iss": "cdp", "nbf": T0 / 1000, "exp": T0 / 1000 + 120});
    let token = SentToken::inspect(&key.sign_jwt(&header, &claims), Some(&key), T0 / 1000);
    assert!(
        token
            .report
            .problems
            .iter()
            .any(|p| p.code == "alg_key_mismatch")
    );
    let d = diagnose(
        Some(&token),
        Some(&refusal(Some("alg_key_mismatch: the token says EdDSA"))),
        Some(&key),
        false,
    );
    assert_eq!(
        d.summary,
        "the server reports alg_key_mismatch, and the local check agrees"
    );
    assert_eq!(d.findings[0].code, "alg_key_mismatch");
}

#[test]
fn a_reason_only_the_server_can_see_points_at_the_clock() {
    let key = demo_key();
    let token = SentToken::inspect(&jwt(&key, T0 / 1000), Some(&key), T0 / 1000);
    assert!(token.report.ok(), "{:?}", token.report.problems);
    assert_eq!(token.report.signature, SignatureVerdict::Valid);
    let d = diagnose(
        Some(&token),
        Some(&refusal(Some("not_yet_valid: nbf is 2 s in the future"))),
        Some(&key),
        false,
    );
    assert!(d.summary.contains("cannot see"), "{}", d.summary);
    assert_eq!(d.findings[0].code, "not_yet_valid");
    assert!(d.findings[0].fix.contains("clock"), "{}", d.findings[0].fix);
}

#[test]
fn coinbase_without_a_reason_gets_the_checklist() {
    let key = demo_key();
    let token = SentToken::inspect(&jwt(&key, T0 / 1000), Some(&key), T0 / 1000);
    let d = diagnose(Some(&token), Some(&refusal(None)), Some(&key), false);
    assert!(d.summary.contains("no reason given"), "{}", d.summary);
    assert!(d.findings[0].fix.contains("clock"));
    assert!(d.findings[0].fix.contains("api/v3/brokerage/time"));
}

#[test]
fn a_token_is_judged_as_of_when_it_was_sent() {
    let key = demo_key();
    // Sent ten minutes ago: long expired now, fine when it was sent.
    let token = SentToken::inspect(&jwt(&key, T0 / 1000 - 600), Some(&key), T0 / 1000);
    assert_eq!(token.judged_at, T0 / 1000 - 600);
    assert!(token.report.ok(), "{:?}", token.report.problems);
    let d = diagnose(Some(&token), None, Some(&key), false);
    assert_eq!(
        d.summary,
        "well-formed, signature valid, times valid when sent"
    );
}

#[test]
fn a_token_from_another_key_is_flagged() {
    let key = demo_key();
    let other = load_key_parts(
        "organizations/other/apiKeys/other",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKwf3Uox30cRWzRBOPoPOH5p0Gpb0Dt8zUKXUEM5fMkGoAoGCCqGSM49\nAwEHoUQDQgAEbAtpLlSZYVOwYICz+uEyxcS29vRIujiES/gQ1DC7FV4zK4JuYE9v\nqDyGZQYjdXHLM7I6f/QnnOITL+dXYWBHRA==\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap();
    let token = SentToken::inspect(&jwt(&other, T0 / 1000), Some(&key), T0 / 1000);
    let codes: Vec<&str> = token.report.problems.iter().map(|p| p.code).collect();
    assert!(codes.contains(&"key_name_mismatch"), "{codes:?}");
    assert_eq!(token.report.signature, SignatureVerdict::Invalid);
    let d = diagnose(Some(&token), None, Some(&key), false);
    assert_eq!(d.summary, "the token has errors (below)");
    let mismatch = d
        .findings
        .iter()
        .find(|f| f.code == "key_name_mismatch")
        .unwrap();
    assert_eq!(mismatch.severity, Severity::Error);
}

#[test]
fn key_warnings_are_listed_with_their_fix() {
    // The PEM with literal backslash-n sequences, as pasted into an env var.
    let escaped = demo_secret().replace('\n', "\\n");
    let key: Arc<Key> = Arc::new(
        load_key_parts(
            "organizations/cbbook-demo/apiKeys/demo-es256-test-only",
            &escaped,
        )
        .unwrap(),
    );
    assert!(key.warnings().iter().any(|w| w.code == "literal_newlines"));
    let d = diagnose(None, None, Some(&key), false);
    let warning = d
        .findings
        .iter()
        .find(|f| f.code == "literal_newlines")
        .unwrap();
    assert_eq!(warning.severity, Severity::Warning);

    let setup = ViewerSetup {
        key: Some(key),
        ..setup()
    };
    let all = auth_screens(setup, keyed_live_view(&demo_key())).join("\n");
    assert!(all.contains("⚠ literal_newlines"), "{all}");
}

#[test]
fn without_a_key_the_pane_says_how_to_add_one() {
    let all = auth_screens(setup(), live_view()).join("\n");
    assert!(all.contains("unauthenticated (level2 is public)"));
    assert!(all.contains("--key FILE"));
    assert!(all.contains("COINBASE_API_KEY"));
    assert!(all.contains("COINBASE_API_SECRET"));
}

/// The whole auth pane, on a screen tall enough to hold all of it, right of the ladder.
fn pane_text(setup: ViewerSetup, view: cbbook::feed::events::FeedView) -> String {
    let mut app: App = app_with(setup, 200, 150, view).0;
    key(&mut app, KeyAction::ToggleAuth);
    let text = screen(&app);
    assert!(
        text.contains(" a closes "),
        "the pane does not fit:\n{text}"
    );
    text.lines()
        .filter_map(|line| {
            let start = line.find('│')?;
            let inner = line[start + '│'.len_utf8()..].trim_end();
            Some(
                inner
                    .strip_suffix('│')
                    .unwrap_or(inner)
                    .trim_end()
                    .to_string(),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn after_a_fallback_the_pane_shows_the_refused_subscribe_then_the_public_one() {
    let key = demo_key();
    let view = keyed_fell_back_view(&key, "key_unknown: no key named \"x\" is known");
    let all = pane_text(keyed_setup(), view);
    let find = |needle: &str| {
        all.find(needle)
            .unwrap_or_else(|| panic!("missing `{needle}` in:\n{all}"))
    };
    let refused = find("subscribe    signed, refused (authentication failure); JWT redacted:");
    let signed = find(r#""channel":"level2","jwt":"<redacted>"}"#);
    let then = find("then         public fallback, sent after the refusal:");
    let public = all[then..]
        .find(r#""channel":"level2"}"#)
        .map(|i| i + then)
        .unwrap_or_else(|| panic!("no public subscribe after the fallback label:\n{all}"));
    assert!(refused < signed && signed < then && then < public, "{all}");
    assert!(all.contains("JWT refused (decoded; the signature is never shown)"));

    // Refused without a fallback yet: the signed subscribe is the one shown, once.
    let all = pane_text(
        keyed_setup(),
        keyed_refused_view(&key, Some("key_unknown: no key named \"x\" is known")),
    );
    assert_eq!(all.matches("subscribe    ").count(), 1, "{all}");
    assert!(!all.contains("public fallback"), "{all}");
}

/// The auth pane's inner rows as drawn: (first inner line of the screen, the rows it shows).
fn pane_rows(screen: &str) -> (Vec<String>, usize) {
    let lines: Vec<&str> = screen.lines().collect();
    let no_pane = || panic!("no auth pane on screen:\n{screen}");
    let top = lines
        .iter()
        .position(|l| l.contains("┌ auth"))
        .unwrap_or_else(no_pane);
    let bottom = top
        + lines[top..]
            .iter()
            .position(|l| l.contains('└'))
            .unwrap_or_else(no_pane);
    let rows = lines[top + 1..bottom]
        .iter()
        .map(|l| l.to_string())
        .collect();
    (rows, bottom - top - 1)
}

#[test]
fn scrolling_stops_at_the_bottom_and_a_page_is_the_panes_height() {
    let key_ = demo_key();
    let mut app = app_with(keyed_setup(), 80, 24, keyed_refused_view(&key_, None)).0;
    key(&mut app, KeyAction::ToggleAuth);
    // Frames drawn in turn, as the event loop draws them: each tells the App how far the pane
    // can scroll.
    let mut frames = Frames::default();
    let mut screen = |app: &mut App| frames.screen(app);
    let (top, height) = pane_rows(&screen(&mut app));

    // A page is what the pane shows at once: PgDn from the top equals `height` Downs.
    key(&mut app, KeyAction::Page(1));
    let paged = pane_rows(&screen(&mut app)).0;
    key(&mut app, KeyAction::Page(-1));
    assert_eq!(
        pane_rows(&screen(&mut app)).0,
        top,
        "PgUp goes back to the top"
    );
    for _ in 0..height {
        key(&mut app, KeyAction::Scroll(1));
    }
    assert_eq!(pane_rows(&screen(&mut app)).0, paged);

    // Far past the bottom: the extra presses do not pile up, so one Up moves at once.
    for _ in 0..50 {
        key(&mut app, KeyAction::Page(1));
    }
    let bottom = pane_rows(&screen(&mut app)).0;
    assert_ne!(bottom, top, "the content is longer than the pane");
    key(&mut app, KeyAction::Scroll(-1));
    let up_one = pane_rows(&screen(&mut app)).0;
    assert_ne!(up_one, bottom, "Up after the bottom moves at once");
    assert_eq!(up_one[1..], bottom[..height - 1], "by one line");
    key(&mut app, KeyAction::Scroll(1));
    assert_eq!(
        pane_rows(&screen(&mut app)).0,
        bottom,
        "Down at the bottom stays"
    );
    key(&mut app, KeyAction::Page(-1));
    assert_ne!(
        pane_rows(&screen(&mut app)).0,
        bottom,
        "PgUp after the bottom moves at once"
    );
}

/// Every page of the auth pane at `width` x `height`, a line at a time apart.
fn pane_pages(view: cbbook::feed::events::FeedView, width: u16, height: u16) -> String {
    let mut app = app(width, height, view);
    key(&mut app, KeyAction::ToggleAuth);
    let mut pages = Vec::new();
    for _ in 0..12 {
        pages.push(screen(&app));
        key(&mut app, KeyAction::Scroll(1));
    }
    pages.join("\n")
}

#[test]
fn the_subscribe_json_never_breaks_inside_a_product_id() {
    for (width, height) in [(60, 16), (61, 16), (64, 20), (70, 20), (80, 24)] {
        let text = pane_pages(live_view(), width, height);
        for id in [r#""BTC-USD""#, r#""ETH-USD""#] {
            assert!(
                text.contains(id),
                "{width}x{height}: {id} broken across lines:\n{text}"
            );
        }
        assert!(text.contains(r#""level2"}"#), "{width}x{height}:\n{text}");
    }
}

/// After a reconnect: FOO-BAR was refused, so the feed asked again for BTC-USD alone.
fn refused_product_view() -> cbbook::feed::events::FeedView {
    let mut view = live_view();
    let mut unknown = waiting("FOO-BAR");
    unknown.state = cbbook::feed::events::BookState::Refused;
    view.products = vec![btc(40), unknown];
    let btc_only = vec!["BTC-USD".to_string()];
    view.auth
        .requested
        .insert("level2".to_string(), btc_only.clone());
    view.auth
        .acknowledged
        .insert("level2".to_string(), btc_only);
    view.auth.last_error = Some(ServerError {
        raw: r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#.to_string(),
        message: "failure to subscribe".to_string(),
        reason: Some("FOO-BAR is not a valid product".to_string()),
        at_ms: T0 - 60_000,
    });
    view
}

#[test]
fn refused_products_stay_listed_with_the_reason_after_a_reconnect() {
    let text = pane_pages(refused_product_view(), 200, 60);
    let line = text
        .lines()
        .find(|l| l.contains("refused      FOO-BAR"))
        .unwrap_or_else(|| panic!("no refused line:\n{text}"));
    assert!(
        line.contains("refused      FOO-BAR (FOO-BAR is not a valid product)"),
        "{line}"
    );
    // Under level2's requested and acknowledged lines, on the first page.
    let lines: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle));
    let (requested, acked, refused) = (
        at("level2       requested    BTC-USD"),
        at("acknowledged BTC-USD"),
        at("refused      FOO-BAR"),
    );
    assert!(
        requested.is_some() && acked.is_some() && refused.is_some(),
        "{text}"
    );
    assert!(requested < acked && acked < refused, "{text}");

    // A later error replaced the server's reason: the product is still listed, and says so.
    let mut later = refused_product_view();
    if let Some(error) = &mut later.auth.last_error {
        error.message = "rate limited".to_string();
        error.reason = Some("too many messages".to_string());
    }
    let text = pane_pages(later, 200, 60);
    assert!(
        text.contains("refused      FOO-BAR (the reason was in an earlier error frame)"),
        "{text}"
    );
    // Nothing refused: no such line.
    assert!(!pane_pages(live_view(), 200, 60).contains("refused      "));
}
