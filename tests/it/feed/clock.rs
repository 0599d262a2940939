//! Clock skew end to end (docs/auth.md, "Clock skew"): the simulator's clock moved with
//! `--clock-skew-ms`, the demo key trusted. The feed measures the offset from the frames, signs
//! with the server's time (`--jwt-clock auto`, the default) and ends signed; with `local` it is
//! refused, falls back to the public feed, and the diagnosis names the measured clock;
//! `cbbook auth clock` prints the offset and gates on it.

use crate::support::common::{run_env, start_sim};
use crate::support::feed as feed_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cbbook::app::auth_debug::{diagnose, name_the_clock};
use cbbook::auth::clock::{JwtClock, SignedWith};
use cbbook::feed::events::FeedEvent;
use cbbook::feed::{LiveConfig, client};
use cbbook::sim::{self, SimConfig};
use feed_support::*;

fn signed_config(url: &str, jwt_clock: JwtClock) -> LiveConfig {
    let key = cbbook::auth::load_key_file(Path::new("assets/demo-key.json")).unwrap();
    LiveConfig {
        key: Some(Arc::new(key)),
        watchdog: Duration::from_secs(3),
        jwt_clock,
        ..LiveConfig::new(url, vec!["BTC-USD".to_owned(), "ETH-USD".to_owned()])
    }
}

/// The value of `name=` in a stats line.
fn stat<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|field| field.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

/// `cbbook --headless --stats` for 3 s against `url` with the demo key: the last stderr line and
/// all of stderr.
fn headless_stats(url: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "--url",
        url,
        "--key",
        "assets/demo-key.json",
        "--headless",
        "--duration",
        "3",
        "--stats",
        "--no-trades",
    ];
    args.extend_from_slice(extra);
    args.push("BTC-USD");
    let out = run_env(&args, &[], Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    (last, stderr)
}

#[test]
fn a_server_3_s_behind_ends_signed_with_the_servers_time() {
    let (_sim, url) = start_sim(
        &[
            "--clock-skew-ms",
            "-3000",
            "--authorized-key",
            "assets/demo-key.json",
        ],
        None,
    );
    let (last, stderr) = headless_stats(&url, &[]);
    assert_eq!(stat(&last, "auth"), "signed", "{stderr}");
    let offset: i64 = stat(&last, "clock_offset_ms").parse().unwrap();
    assert!((2_700..=3_300).contains(&offset), "{last}");
    // Refused once with this machine's clock, then signed again with the server's.
    assert!(stderr.contains(r#""event":"clock_retry""#), "{stderr}");
    assert!(!stderr.contains("fell_back_to_public"), "{stderr}");
}

#[test]
fn with_the_local_clock_a_server_3_s_behind_refuses_the_key() {
    let (_sim, url) = start_sim(
        &[
            "--clock-skew-ms",
            "-3000",
            "--authorized-key",
            "assets/demo-key.json",
        ],
        None,
    );
    let (last, stderr) = headless_stats(&url, &["--jwt-clock", "local"]);
    assert_eq!(stat(&last, "auth"), "refused", "{stderr}");
    let offset: i64 = stat(&last, "clock_offset_ms").parse().unwrap();
    assert!((2_700..=3_300).contains(&offset), "{last}");
    assert!(!stderr.contains("clock_retry"), "{stderr}");
}

#[test]
fn a_server_3_s_ahead_stays_signed_and_reports_this_machine_behind() {
    let (_sim, url) = start_sim(
        &[
            "--clock-skew-ms",
            "3000",
            "--authorized-key",
            "assets/demo-key.json",
        ],
        None,
    );
    let (last, stderr) = headless_stats(&url, &[]);
    assert_eq!(stat(&last, "auth"), "signed", "{stderr}");
    let offset: i64 = stat(&last, "clock_offset_ms").parse().unwrap();
    assert!((-3_300..=-2_700).contains(&offset), "{last}");
    assert!(!stderr.contains("auth_rejected"), "{stderr}");
}

#[test]
fn without_a_key_the_stats_say_public() {
    let (_sim, url) = start_sim(&[], None);
    let out = run_env(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "2",
            "--stats",
            "--no-trades",
            "BTC-USD",
        ],
        &[],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    assert_eq!(stat(last, "auth"), "public");
    let offset: i64 = stat(last, "clock_offset_ms").parse().unwrap();
    assert!(offset.abs() < 300, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_signs_again_with_the_servers_time_and_the_books_go_live() {
    let sim = sim::spawn(SimConfig {
        clock_skew_ms: -3_000,
        ..SimConfig::default().with_demo_keys().unwrap()
    })
    .unwrap();
    let (task, mut handle) = client::start(signed_config(&sim.url(), JwtClock::Auto));
    let view = wait_view(&mut handle, "signed with the server's time, live", |v| {
        all_live(v) && v.auth.clock_retried && v.auth.acknowledged.contains_key("level2")
    })
    .await;
    assert!(!view.auth.fell_back_to_public);
    match view.auth.signed_with {
        Some(SignedWith::Server { offset_ms }) => {
            assert!((2_700..=3_300).contains(&offset_ms), "{offset_ms}")
        }
        other => panic!("signed with {other:?}"),
    }
    let clock = view.auth.clock.unwrap();
    assert!((2_700..=3_300).contains(&clock.offset_ms), "{clock:?}");
    // The subscribes' answers bound it from below: the error is known, and small on loopback.
    assert!(clock.error_ms.is_some_and(|e| e < 300), "{clock:?}");
    let ev = events(&mut handle);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, FeedEvent::ClockRetry { .. }))
            .count(),
        1,
        "{ev:?}"
    );
    stop(task, &handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_local_clock_the_diagnosis_names_the_measured_clock() {
    let sim = sim::spawn(SimConfig {
        clock_skew_ms: -3_000,
        ..SimConfig::default().with_demo_keys().unwrap()
    })
    .unwrap();
    let (task, mut handle) = client::start(signed_config(&sim.url(), JwtClock::Local));
    let view = wait_view(&mut handle, "fell back, clock measured", |v| {
        v.auth.fell_back_to_public && all_live(v) && v.auth.clock.is_some()
    })
    .await;
    assert_eq!(view.auth.signed_with, Some(SignedWith::Local));
    let bare = diagnose(None, view.auth.last_error.as_ref(), None, false);
    let named = name_the_clock(bare, &view.auth);
    let first = &named.findings[0];
    assert_eq!(first.code, "clock_skew", "{named:?}");
    let offset = view.auth.clock.unwrap().offset_ms;
    let said = format!("{:+.2} s ahead of", offset as f64 / 1000.0);
    assert!(first.message.contains(&said), "{said} in {}", first.message);
    assert!(
        named.summary.contains("the likely cause"),
        "{}",
        named.summary
    );
    stop(task, &handle).await;
}

#[test]
fn auth_clock_prints_the_offset_and_gates_on_the_tolerance() {
    let (_skewed, url) = start_sim(&["--clock-skew-ms", "-3000"], None);
    let out = run_env(
        &["auth", "clock", "--url", &url, "--heartbeats", "2"],
        &[],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("this machine is +3.0") || stdout.starts_with("this machine is +2.9"),
        "{stdout}"
    );
    assert!(stdout.contains("ahead of the server"), "{stdout}");

    let out = run_env(
        &[
            "auth",
            "clock",
            "--url",
            &url,
            "--heartbeats",
            "2",
            "--json",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let offset = json["offset_ms"].as_i64().unwrap();
    assert!((2_700..=3_300).contains(&offset), "{json}");
    assert!(json["samples"].as_u64().unwrap() >= 3, "{json}");
    assert!(json["error_ms"].as_i64().is_some_and(|e| e < 300), "{json}");
    assert_eq!(json["ok"], false);

    let (_plain, url) = start_sim(&[], None);
    let out = run_env(
        &[
            "auth",
            "clock",
            "--url",
            &url,
            "--heartbeats",
            "2",
            "--json",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["offset_ms"].as_i64().unwrap().abs() < 300, "{json}");
    assert_eq!(json["ok"], true);

    // Nothing listening: exit 2 with a reason.
    let out = run_env(
        &[
            "auth",
            "clock",
            "--url",
            "ws://127.0.0.1:9",
            "--heartbeats",
            "1",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot measure the clock offset"),
        "{stderr}"
    );
}
