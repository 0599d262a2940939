//! Interop with the official Coinbase Python SDK (`coinbase-advanced-py`): its `WSClient` runs a
//! full session against the simulator and must not notice anything (see
//! `tests/interop/sdk_session_sim.py` for what is checked).
//!
//! Needs the venv made by `scripts/interop-venv` (see `common::interop_python`); without it these
//! tests fail loudly, unless CBBOOK_SKIP_INTEROP=1 says to skip them knowingly.

use crate::support::common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use cbbook::sim::{self, SimConfig, SimHandle, SimLog};
use serde_json::Value;

/// Python imports the SDK and runs a ~7 s session on a loaded 2-core machine.
const TIMEOUT: Duration = Duration::from_secs(180);

fn path(rel: &str) -> String {
    common::repo_root().join(rel).to_str().unwrap().to_string()
}

/// Runs the session script and returns its verdict, failing with every failed check listed.
async fn run_script(python: PathBuf, args: &[String]) -> Value {
    let child = tokio::process::Command::new(python)
        .arg(path("tests/interop/sdk_session_sim.py"))
        .args(args)
        .env_remove("COINBASE_API_KEY")
        .env_remove("COINBASE_API_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("the SDK session did not finish in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "script failed: {stderr}\n{stdout}");
    let verdict: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON verdict ({e}): {stdout}\n{stderr}"));
    let failed: Vec<String> = verdict["checks"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["ok"] != true)
        .map(|(name, r)| format!("{name}: {}", r["detail"]))
        .collect();
    assert!(
        failed.is_empty() && verdict["ok"] == true,
        "the official SDK noticed:\n{}\nstderr:\n{stderr}",
        failed.join("\n")
    );
    verdict
}

/// Starts an in-process simulator that trusts the demo keys and logs nothing.
fn start_sim(config: SimConfig) -> SimHandle {
    sim::spawn(
        SimConfig {
            log: SimLog::Silent,
            ..config
        }
        .with_demo_keys()
        .unwrap(),
    )
    .unwrap()
}

/// Asserts that each of the checks that matter passed, by name, so that a script that checked
/// less cannot pass.
fn assert_passed(verdict: &Value, names: &[&str]) {
    let checks = verdict["checks"].as_object().unwrap();
    for name in names {
        assert_eq!(checks[*name]["ok"], true, "{name} missing or failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_runs_a_full_session() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let sim = start_sim(SimConfig::default());
    let verdict = run_script(
        python,
        &[
            "session".into(),
            sim.url(),
            path("assets/demo-key.json"),
            path("assets/demo-key-ed25519.json"),
        ],
    )
    .await;
    assert_passed(
        &verdict,
        &[
            "sdk_noticed_nothing",
            "sdk_parsed_every_frame",
            "a_no_errors",
            "a_sequence_contiguous",
            "a_acks",
            "a_snapshot_first_BTC-USD",
            "a_snapshot_first_ETH-USD",
            "a_book_BTC-USD",
            "a_book_ETH-USD",
            "a_heartbeats",
            "a_envelopes",
            "b_no_errors",
            "b_user_snapshot",
            "b_ack",
            "c_refused_twice",
            "c_nothing_subscribed",
            "c_connection_stayed_open",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_reconnects_and_resubscribes_after_an_abrupt_close() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let sim = start_sim(SimConfig {
        disconnect_every: Some(Duration::from_millis(2500)),
        ..SimConfig::default()
    });
    let verdict = run_script(
        python,
        &["reconnect".into(), sim.url(), path("assets/demo-key.json")],
    )
    .await;
    assert_passed(
        &verdict,
        &[
            "sdk_noticed_nothing",
            "sdk_parsed_every_frame",
            "reconnected",
            "connection_0_contiguous",
            "connection_0_snapshot_first",
            "connection_1_contiguous",
            "connection_1_snapshot_first",
            "no_errors",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_reads_the_simulators_trades_and_tickers() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let sim = start_sim(SimConfig {
        updates_per_sec: 200.0,
        ..SimConfig::default()
    });
    let verdict = run_script(
        python,
        &["trades".into(), sim.url(), path("assets/demo-key.json")],
    )
    .await;
    let mut names = vec![
        "sdk_noticed_nothing".to_string(),
        "sdk_parsed_every_frame".to_string(),
        "no_errors".to_string(),
        "trades_snapshots_first".to_string(),
    ];
    for p in ["BTC-USD", "ETH-USD"] {
        for check in [
            "trades_arrive",
            "trade_fields",
            "trade_ids_once",
            "ticker_snapshot_first",
            "ticker_price_is_the_last_trade",
        ] {
            names.push(format!("{check}_{p}"));
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_passed(&verdict, &names);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_reads_the_simulators_user_orders() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let sim = start_sim(SimConfig {
        updates_per_sec: 300.0,
        user_orders: 130,
        user_churn_per_sec: 4.0,
        ..SimConfig::default()
    });
    let verdict = run_script(
        python,
        &[
            "orders".into(),
            sim.url(),
            path("assets/demo-key.json"),
            "130".into(),
        ],
    )
    .await;
    assert_passed(
        &verdict,
        &[
            "sdk_noticed_nothing",
            "sdk_parsed_every_frame",
            "no_errors",
            "sequence_contiguous",
            "snapshot_batches_of_50",
            "order_fields",
            "some_without_limit_price",
            "updates_arrive",
            "open_set_consistent",
        ],
    );
}
