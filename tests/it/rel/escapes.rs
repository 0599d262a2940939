//! Terminal escape injection: untrusted text (a token's `kid`, `sub`, `iss` and claim names, a
//! key file's name, a product id a client sends to the simulator, a server's error reason, a
//! command-line argument) never reaches cbbook's text output with a control character in it.
//! Each test feeds a hostile value carrying ESC sequences (title, clear screen, OSC 52 clipboard),
//! C1 CSI (U+009B), DEL and line breaks, and checks the output holds none of those bytes but
//! shows them escaped (`\x1b`, `\u{9b}`). See RELIABILITY.md, section 9.4.

use crate::support::auth::{demo_key, write_key_json};
use crate::support::common::{self, path_str, run_env, start_sim};
use crate::support::sim::Client;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

/// A window title, a screen clear, a clipboard write (OSC 52), a C1 CSI, DEL, a carriage return
/// and a line break.
const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07\u{9b}31m\x7f\rforged\nline";

/// The first control byte sequence in `output` that a terminal would act on: ESC, BEL, CR, DEL,
/// or a C1 character (UTF-8 `C2 80`..`C2 9F`); line breaks and tabs are allowed (cbbook builds
/// its lines).
fn control_in(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    text.char_indices()
        .find(|(_, c)| c.is_control() && *c != '\n' && *c != '\t')
        .map(|(at, c)| {
            let from = at.saturating_sub(40);
            format!("{c:?} at byte {at}: ...{:?}", &text[from..at])
        })
}

fn assert_safe(what: &str, output: &[u8]) {
    if let Some(found) = control_in(output) {
        panic!("{what}: a control character reached the output: {found}");
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn hostile_token() -> String {
    let header = json!({"alg": "ES256", "kid": HOSTILE, "typ": "JWT", "nonce": "ab"});
    let claims = json!({
        "sub": HOSTILE, "iss": HOSTILE, "nbf": 1, "exp": 2, HOSTILE: "a claim name",
        "aud": ["x\u{85}y"],
    });
    format!("{}.{}.c2ln", b64(&header), b64(&claims))
}

#[test]
fn auth_inspect_shows_a_hostile_token_escaped() {
    let token = hostile_token();
    let out = run_env(&["auth", "inspect", &token], &[], LIMIT);
    assert_eq!(out.status.code(), Some(1), "the token has errors");
    assert_safe("auth inspect stdout", &out.stdout);
    assert_safe("auth inspect stderr", &out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    // kid, sub, iss and the claim name, each shown escaped on its row.
    assert!(
        text.matches(
            "\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;aGk=\\x07\\u{9b}31m\\x7f\\x0dforged\\x0aline"
        )
        .count()
            == 4,
        "{text}"
    );
    assert!(!text.contains("\nline"), "a line was forged:\n{text}");
    // The same token read from stdin.
    let mut child = std::process::Command::new(common::cbbook_bin())
        .args(["auth", "inspect", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes()).unwrap();
    let out = common::wait_output(child, LIMIT, "cbbook auth inspect -");
    assert_safe("auth inspect - stdout", &out.stdout);
}

#[test]
fn auth_inspect_json_keeps_the_values_and_escapes_del_and_c1() {
    let out = run_env(&["auth", "inspect", &hostile_token(), "--json"], &[], LIMIT);
    assert_safe("auth inspect --json", &out.stdout);
    // Escaped as JSON: the same strings come back when parsed.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["header"]["kid"], HOSTILE);
    assert_eq!(report["claims"][HOSTILE], "a claim name");
    assert_eq!(report["claims"]["aud"][0], "x\u{85}y");
}

#[test]
fn auth_check_shows_a_hostile_key_name_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut key: Value =
        serde_json::from_str(&std::fs::read_to_string(demo_key()).unwrap()).unwrap();
    key["name"] = json!(format!("organizations/x/apiKeys/{HOSTILE}"));
    let path = write_key_json(dir.path(), "key.json", &key);
    let out = run_env(&["auth", "check", "--key", path_str(&path)], &[], LIMIT);
    assert_safe("auth check stdout", &out.stdout);
    assert_safe("auth check stderr", &out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("apiKeys/\\x1b]0;pwned\\x07"), "{text}");
    let out = run_env(
        &["auth", "check", "--key", path_str(&path), "--json"],
        &[],
        LIMIT,
    );
    assert_safe("auth check --json", &out.stdout);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["key_name"], key["name"]);
    // The same key signing: `auth jwt` prints its warnings (if any) and the token safely.
    let out = run_env(&["auth", "jwt", "--key", path_str(&path)], &[], LIMIT);
    assert_safe("auth jwt stdout", &out.stdout);
    assert_safe("auth jwt stderr", &out.stderr);
}

#[test]
fn the_simulator_logs_a_hostile_product_id_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sim.log");
    let (_sim, url) = start_sim(&["--products", "BTC-USD"], Some(&log));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = Client::connect(&url).await;
        client
            .send(json!({"type": "subscribe", "channel": "level2", "product_ids": [HOSTILE]}))
            .await;
        // The refusal comes back: the simulator has logged the request by then.
        let refusal = client.next().await;
        assert_eq!(refusal["type"], "error", "{refusal}");
        client
            .send(json!({"type": "subscribe", "channel": HOSTILE, "product_ids": ["BTC-USD"]}))
            .await;
        let refusal = client.next().await;
        assert_eq!(refusal["type"], "error", "{refusal}");
    });
    let deadline = Instant::now() + LIMIT;
    let text = loop {
        let text = std::fs::read(&log).unwrap();
        if String::from_utf8_lossy(&text).matches("refused").count() >= 2 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&text)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_safe("cbbook sim stderr", &text);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("\\x1b]0;pwned\\x07"), "{text}");
    // One log line per event: the client's line break did not start a line of its own.
    assert!(!text.lines().any(|l| l.starts_with("line")), "{text}");
}

#[test]
fn headless_events_keep_a_hostile_server_text_as_json_without_c1() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("rec.jsonl");
    let error = json!({"type": "error", "message": HOSTILE, "reason": format!("reason {HOSTILE}")});
    let lines = [
        r#"{"t":1000,"connect":{"url":"ws://x","authenticated":false,"products":["BTC-USD"]}}"#
            .to_string(),
        format!(r#"{{"t":1001,"frame":{error}}}"#),
    ];
    std::fs::write(&recording, lines.join("\n")).unwrap();
    let out = run_env(
        &["replay", path_str(&recording), "--headless", "--stats"],
        &[],
        LIMIT,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_safe("headless replay stderr", &out.stderr);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let event: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "error_frame")
        .unwrap_or_else(|| panic!("no error_frame event:\n{stderr}"));
    assert_eq!(
        event["message"], HOSTILE,
        "the JSON still says what the server sent"
    );
}

#[test]
fn a_hostile_command_line_argument_is_echoed_escaped() {
    // clap quotes the value it refuses; a file name is echoed by the error that cannot open it.
    for args in [
        vec!["replay", "x", "--speed", HOSTILE],
        vec!["replay", HOSTILE, "--headless"],
        vec!["--headless", "--duration", "1", "--products-file", HOSTILE],
    ] {
        let out = run_env(&args, &[], LIMIT);
        assert!(!out.status.success(), "{args:?}");
        assert_safe(&format!("{args:?} stderr"), &out.stderr);
        assert_safe(&format!("{args:?} stdout"), &out.stdout);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("\\u{9b}31m"), "{args:?}: {stderr}");
    }
}
