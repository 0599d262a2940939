//! JWT checks on the socket: trusted keys of both algorithms pass, and every kind of bad token is
//! refused with `authentication failure` and its reason, leaving the connection open and nothing
//! subscribed.

use crate::support::sim as sim_common;

use std::path::PathBuf;
use std::time::Duration;

use cbbook::auth::{self, Key};
use cbbook::sim::{self, SimConfig, SimHandle, SimLog};
use serde_json::{Value, json};
use sim_common::{Client, Next, seq};

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

fn es256() -> Key {
    auth::load_key_file(&asset("demo-key.json")).unwrap()
}

fn ed25519() -> Key {
    auth::load_key_file(&asset("demo-key-ed25519.json")).unwrap()
}

/// The official Python SDK's public test key (from its own tests): valid, but not trusted here.
fn stranger() -> Key {
    auth::load_key_parts(
        "organizations/test-organization/apiKeys/test-api-key",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKwf3Uox30cRWzRBOPoPOH5p0Gpb0Dt8zUKXUEM5fMkGoAoGCCqGSM49\nAwEHoUQDQgAEbAtpLlSZYVOwYICz+uEyxcS29vRIujiES/gQ1DC7FV4zK4JuYE9v\nqDyGZQYjdXHLM7I6f/QnnOITL+dXYWBHRA==\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap()
}

fn now() -> i64 {
    auth::now_unix()
}

fn start(config: SimConfig) -> SimHandle {
    sim::spawn(
        SimConfig {
            log: SimLog::Silent,
            updates_per_sec: 50.0,
            ..config
        }
        .with_demo_keys()
        .unwrap(),
    )
    .unwrap()
}

fn subscribe(channel: &str, products: &[&str], jwt: &str) -> Value {
    json!({"type":"subscribe","product_ids":products,"channel":channel,"jwt":jwt})
}

/// Sends a subscribe and expects a refusal whose reason starts with `code: `; then checks that
/// nothing arrives for it (no snapshot, no ack).
async fn expect_refused(c: &mut Client, msg: Value, code: &str) {
    c.send(msg).await;
    let e = c.next().await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["message"], "authentication failure", "{e}");
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("{code}: ")),
        "expected {code}, got {reason}"
    );
    assert!(
        matches!(
            c.next_within(Duration::from_millis(400)).await,
            Next::Silent
        ),
        "a refused subscribe must not subscribe anything"
    );
}

/// The header and claims a correct token has, to be spoiled one field at a time.
fn parts(key: &Key, t: i64) -> (Value, Value) {
    let alg = key.algorithm().as_str();
    (
        json!({"alg":alg,"kid":key.name(),"nonce":"0123456789abcdef0123456789abcdef","typ":"JWT"}),
        json!({"sub":key.name(),"iss":"cdp","nbf":t,"exp":t + 120}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_keys_of_both_algorithms_subscribe() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    c.send(subscribe("user", &["BTC-USD"], &ed25519().ws_jwt(now())))
        .await;
    let snap = c.next().await;
    assert_eq!(snap["channel"], "user");
    assert_eq!(snap["events"][0]["type"], "snapshot");
    assert_eq!(snap["events"][0]["orders"], json!([]));
    let ack = c.next().await;
    assert_eq!(
        ack["events"][0]["subscriptions"],
        json!({"user":["BTC-USD"]})
    );
    // An authenticated level2 subscribe, as the SDK sends it.
    c.send(subscribe("level2", &["ETH-USD"], &es256().ws_jwt(now())))
        .await;
    let snap = c.next().await;
    assert_eq!(snap["channel"], "l2_data");
    assert_eq!(seq(&snap), 2);
    let ack = c.next().await;
    assert_eq!(
        ack["events"][0]["subscriptions"],
        json!({"level2":["ETH-USD"],"user":["BTC-USD"]})
    );
    // futures_balance_summary also needs a JWT.
    c.send(subscribe(
        "futures_balance_summary",
        &[],
        &es256().ws_jwt(now()),
    ))
    .await;
    let snap = c.next_on("futures_balance_summary").await;
    assert!(snap["events"][0]["fcm_balance_summary"].is_object());
    // Unsubscribing user needs one too.
    c.send(json!({"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"user"}))
        .await;
    let e = c.next_error().await;
    assert!(e["reason"].as_str().unwrap().starts_with("jwt_required: "));
    c.send(json!({"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"user","jwt":es256().ws_jwt(now())}))
        .await;
    let ack = c.next_on("subscriptions").await;
    assert!(
        ack["events"][0]["subscriptions"].get("user").is_none(),
        "{ack}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_refused_on_user_and_level2() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    let k = stranger();
    expect_refused(
        &mut c,
        subscribe("user", &["BTC-USD"], &k.ws_jwt(now())),
        "key_unknown",
    )
    .await;
    // An invalid JWT on a public channel is refused, not ignored.
    expect_refused(
        &mut c,
        subscribe("level2", &["BTC-USD"], &k.ws_jwt(now())),
        "key_unknown",
    )
    .await;
    // The connection lives: the public path still works, from sequence number 0.
    c.send(json!({"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}))
        .await;
    let snap = c.next().await;
    assert_eq!((seq(&snap), snap["channel"].as_str()), (0, Some("l2_data")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_with_its_problem_code() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    let key = es256();
    let t = now();
    let sign = |header: &Value, claims: &Value| key.sign_jwt(header, claims);
    let (h, cl) = parts(&key, t);
    // A correct hand-built token passes (so the spoiled ones below fail for their own reason).
    c.send(subscribe("user", &[], &sign(&h, &cl))).await;
    assert_eq!(c.next().await["channel"], "user");
    assert_eq!(c.next().await["channel"], "subscriptions");

    let spoiled = |edit: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut cl) = parts(&key, t);
        edit(&mut h, &mut cl);
        sign(&h, &cl)
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            spoiled(&|_, c| {
                c["nbf"] = json!(t - 300);
                c["exp"] = json!(t - 180);
            }),
        ),
        (
            "not_yet_valid",
            spoiled(&|_, c| {
                c["nbf"] = json!(t + 30);
                c["exp"] = json!(t + 150);
            }),
        ),
        (
            "lifetime_too_long",
            spoiled(&|_, c| c["exp"] = json!(t + 3600)),
        ),
        (
            "nbf_not_numeric",
            spoiled(&|_, c| c["nbf"] = json!(t.to_string())),
        ),
        (
            "exp_not_numeric",
            spoiled(&|_, c| c["exp"] = json!((t + 120).to_string())),
        ),
        (
            "nonce_missing",
            spoiled(&|h, _| {
                h.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        (
            "kid_sub_mismatch",
            spoiled(&|_, c| c["sub"] = json!("organizations/x/apiKeys/y")),
        ),
        (
            "alg_key_mismatch",
            spoiled(&|h, _| h["alg"] = json!("EdDSA")),
        ),
        (
            "exp_missing",
            spoiled(&|_, c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("malformed_token", "not.a.jwt".to_string()),
    ];
    for (code, jwt) in cases {
        expect_refused(&mut c, subscribe("user", &[], &jwt), code).await;
    }
    // A tampered signature.
    let good = key.ws_jwt(t);
    let (body, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{body}.{flipped}{}", &sig[1..]);
    expect_refused(
        &mut c,
        subscribe("level2", &["BTC-USD"], &tampered),
        "signature_invalid",
    )
    .await;
    // A REST token (with `uri`) is tolerated on the socket, as by the exchange (a warning).
    c.send(subscribe(
        "heartbeats",
        &[],
        &key.rest_jwt("GET", "/api/v3/brokerage/accounts", t),
    ))
    .await;
    assert_eq!(c.next().await["channel"], "subscriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nbf_gets_one_second_of_leeway_by_default() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    let key = ed25519();
    // Issued 1 s in the future: accepted with the default leeway.
    c.send(subscribe("user", &[], &key.ws_jwt(now() + 1))).await;
    assert_eq!(c.next().await["channel"], "user");

    let strict = start(SimConfig {
        jwt_leeway_secs: 0,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&strict.url()).await;
    expect_refused(
        &mut c,
        subscribe("user", &[], &key.ws_jwt(now() + 2)),
        "not_yet_valid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_server_clock_refuses_fresh_tokens() {
    // The server runs 5 s behind: a fresh token's nbf lies in its future.
    let behind = start(SimConfig {
        clock_skew_ms: -5_000,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&behind.url()).await;
    expect_refused(
        &mut c,
        subscribe("user", &[], &es256().ws_jwt(now())),
        "not_yet_valid",
    )
    .await;
    // The server runs 3 min ahead: a fresh token has already expired.
    let ahead = start(SimConfig {
        clock_skew_ms: 180_000,
        ..SimConfig::default()
    });
    let mut c = Client::connect(&ahead.url()).await;
    expect_refused(
        &mut c,
        subscribe("user", &[], &es256().ws_jwt(now())),
        "expired",
    )
    .await;
    // A client that corrects for the skew gets in.
    c.send(subscribe("user", &[], &es256().ws_jwt(now() + 180)))
        .await;
    assert_eq!(c.next().await["channel"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_unsubscribe_keeps_the_subscription() {
    let sim = start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    c.send(json!({"type":"subscribe","product_ids":["ETH-USD"],"channel":"level2"}))
        .await;
    c.next_on("subscriptions").await;
    c.send(json!({"type":"unsubscribe","product_ids":["ETH-USD"],"channel":"level2","jwt":stranger().ws_jwt(now())}))
        .await;
    let e = c.next_error().await;
    assert!(e["reason"].as_str().unwrap().starts_with("key_unknown: "));
    // Updates keep coming.
    let v = c.next_on("l2_data").await;
    assert_eq!(v["events"][0]["product_id"], "ETH-USD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_trusts_no_key_refuses_every_token() {
    let sim = sim_common::start(SimConfig::default());
    let mut c = Client::connect(&sim.url()).await;
    expect_refused(
        &mut c,
        subscribe("user", &[], &es256().ws_jwt(now())),
        "key_unknown",
    )
    .await;
}
