//! The command-line contract of `cbbook auth jwt|check|inspect`, run on the real binary, and the
//! viewer's refusal to start with an unusable key.
// Test code: a failed unwrap is a failed test, with its location.

use crate::support::auth as auth_support;
use crate::support::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use auth_support::*;
use common::path_str;
use serde_json::{Value, json};

/// Runs `cbbook ARGS` with the key variables cleared (plus `env`), feeding `stdin`.
fn cbbook(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(common::cbbook_bin());
    command
        .args(args)
        .env_remove("COINBASE_API_KEY")
        .env_remove("COINBASE_API_SECRET")
        .env_remove("COINBASE_API_PASSPHRASE")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json_out(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", stdout(output)))
}

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn problem_codes(value: &Value) -> Vec<String> {
    value["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

fn is_compact_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

// ---- auth jwt ----

#[test]
fn jwt_prints_only_the_token_and_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    for key in [demo_key(), demo_key_ed25519()] {
        let path = private_copy(dir.path(), &key);
        let output = cbbook(&["auth", "jwt", "--key", path_str(&path)], &[], None);
        assert!(output.status.success(), "{}", stderr(&output));
        let out = stdout(&output);
        assert!(out.ends_with('\n'), "ends with a newline: {out:?}");
        let token = out.strip_suffix('\n').unwrap();
        assert!(is_compact_jwt(token), "{out:?}");
        assert!(stderr(&output).is_empty(), "{}", stderr(&output));
        let claims = segment(token, 1);
        assert!(claims.get("uri").is_none());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(),
            120
        );
        // Fresh: nbf is close to now.
        let now = cbbook::auth::now_unix();
        assert!((claims["nbf"].as_i64().unwrap() - now).abs() < 60);
    }
}

/// A result that cannot be written (a full disk, a closed pipe) is a failure with a reason, not
/// a panic and not a success; a stderr that cannot be written changes nothing.
#[test]
fn unwritable_stdout_fails_with_a_reason_and_unwritable_stderr_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(dir.path(), &demo_key());
    let key = path_str(&path);
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let runs: [&[&str]; 3] = [
        &["auth", "jwt", "--key", key],
        &["auth", "check", "--key", key, "--json"],
        &["auth", "check", "--key", key],
    ];
    for args in runs {
        let out = Command::new(common::cbbook_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot write the result to stdout"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A missing key reports on stderr; with stderr on /dev/full it still exits 1 (a panic: 101).
    let out = Command::new(common::cbbook_bin())
        .args(["auth", "jwt", "--key", "/no/such/key.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn jwt_rest_adds_the_uri() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(dir.path(), &demo_key());
    let rest_jwt = |spec: &str| {
        cbbook(
            &["auth", "jwt", "--key", path_str(&path), "--rest", spec],
            &[],
            None,
        )
    };
    let output = rest_jwt("GET /api/v3/brokerage/accounts");
    assert!(output.status.success(), "{}", stderr(&output));
    let claims = segment(stdout(&output).trim_end(), 1);
    assert_eq!(
        claims["uri"],
        "GET api.coinbase.com/api/v3/brokerage/accounts"
    );

    let output = rest_jwt("/no/method");
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    assert!(stderr(&output).contains("METHOD PATH"));

    // Only real HTTP methods, and a path from its leading slash.
    for (spec, says) in [
        (
            "FOO /x",
            "\"FOO\" is not an HTTP method; give one of GET POST PUT DELETE PATCH",
        ),
        ("GET api/v3/brokerage/accounts", "must start with /"),
        ("GET https://api.coinbase.com/x", "no scheme or host"),
    ] {
        let output = rest_jwt(spec);
        assert_eq!(output.status.code(), Some(2), "{spec}");
        assert!(stdout(&output).is_empty(), "no token for {spec}");
        assert!(
            stderr(&output).contains(says),
            "{spec}: {}",
            stderr(&output)
        );
    }
    let output = rest_jwt("post /api/v3/brokerage/orders");
    assert!(output.status.success(), "{}", stderr(&output));
    let claims = segment(stdout(&output).trim_end(), 1);
    assert_eq!(
        claims["uri"],
        "POST api.coinbase.com/api/v3/brokerage/orders"
    );
}

#[test]
fn jwt_from_the_environment_pair_with_literal_newlines() {
    // The most common breakage: the PEM pasted into an env var with \n escapes.
    let escaped = SDK_EC_SECRET.replace('\n', "\\n");
    let output = cbbook(
        &["auth", "jwt"],
        &[
            ("COINBASE_API_KEY", SDK_NAME),
            ("COINBASE_API_SECRET", &escaped),
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output);
    assert!(is_compact_jwt(token.trim_end()));
    assert_eq!(segment(token.trim_end(), 0)["kid"], SDK_NAME);
    assert!(
        stderr(&output).contains("literal_newlines"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn jwt_without_a_key_or_with_a_bad_one_prints_no_token() {
    let output = cbbook(&["auth", "jwt"], &[], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    assert!(stderr(&output).contains("key_not_configured"));

    let output = cbbook(
        &["auth", "jwt", "--key", path_str(&fixture("p384.json"))],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert!(
        err.contains("curve_unsupported") && err.contains("fix:"),
        "{err}"
    );
}

// ---- auth check ----

#[test]
fn check_json_for_a_good_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    for (path, algorithm, format) in [
        (&files[0].1, "ES256", "sec1-pem"),
        (&files[1].1, "EdDSA", "ed25519-base64-64"),
        (&files[2].1, "EdDSA", "ed25519-base64-32"),
    ] {
        let output = cbbook(
            &["auth", "check", "--key", path_str(path), "--json"],
            &[],
            None,
        );
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        let report = json_out(&output);
        assert_eq!(
            keys_of(&report),
            ["algorithm", "format", "key_name", "ok", "problems"]
        );
        assert_eq!(report["ok"], true);
        assert_eq!(report["key_name"], SDK_NAME);
        assert_eq!(report["algorithm"], algorithm);
        assert_eq!(report["format"], format);
        assert_eq!(report["problems"], json!([]));
    }
}

#[test]
fn check_json_is_printed_even_when_the_key_cannot_be_loaded() {
    let output = cbbook(
        &["auth", "check", "--key", "/nonexistent/key.json", "--json"],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(
        keys_of(&report),
        ["algorithm", "format", "key_name", "ok", "problems"]
    );
    assert_eq!(report["ok"], false);
    assert_eq!(report["key_name"], Value::Null);
    assert_eq!(report["algorithm"], Value::Null);
    let problem = &report["problems"][0];
    assert_eq!(keys_of(problem), ["code", "fix", "message", "severity"]);
    assert_eq!(problem["code"], "file_unreadable");
    assert_eq!(problem["severity"], "error");

    // A key that parses partly: the name is known, the curve is wrong.
    let output = cbbook(
        &[
            "auth",
            "check",
            "--key",
            path_str(&fixture("p384.json")),
            "--json",
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(
        report["key_name"],
        "organizations/cbbook-fixtures/apiKeys/fixture-key"
    );
    assert_eq!(report["algorithm"], Value::Null);
    assert_eq!(
        problem_codes(&report),
        ["curve_unsupported", "file_permissions"]
    );
}

#[test]
fn an_endless_key_file_is_refused_quickly_with_its_report() {
    let limit = std::time::Duration::from_secs(60);
    let output = common::run_env(
        &["auth", "check", "--key", "/dev/zero", "--json"],
        &[],
        limit,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json_out(&output);
    assert_eq!(report["ok"], false);
    assert_eq!(problem_codes(&report), ["file_too_large"]);
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a key file")
    );

    // The viewer loads its key the same way.
    let output = common::run_env(&["--key", "/dev/zero", "BTC-USD"], &[], limit);
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty(), "the terminal is not touched");
    assert!(
        stderr(&output).contains("file_too_large"),
        "{}",
        stderr(&output)
    );

    // And so does inspect's --public-key.
    let token = token_at_t0();
    let output = common::run_env(
        &[
            "auth",
            "inspect",
            &token,
            "--public-key",
            "/dev/zero",
            "--json",
        ],
        &[],
        limit,
    );
    assert_ne!(output.status.code(), Some(0));
    let report = json_out(&output);
    assert_eq!(problem_codes(&report)[0], "file_too_large");
}

#[test]
fn check_warnings_alone_exit_zero() {
    // Fixture files are checked out 0644: a file_permissions warning, still usable.
    let output = cbbook(
        &[
            "auth",
            "check",
            "--key",
            path_str(&fixture("literal-newlines.json")),
            "--json",
        ],
        &[],
        None,
    );
    let report = json_out(&output);
    let severities: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["severity"].as_str().unwrap())
        .collect();
    if cfg!(unix) {
        assert_eq!(
            problem_codes(&report),
            ["file_permissions", "literal_newlines"]
        );
    }
    assert!(severities.iter().all(|s| *s == "warning"));
    assert_eq!(report["ok"], true);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn check_without_any_key_says_how_to_give_one() {
    let output = cbbook(&["auth", "check", "--json"], &[], None);
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(problem_codes(&report), ["key_not_configured"]);
    assert!(
        report["problems"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("COINBASE_API_SECRET")
    );
}

#[test]
fn check_environment_pair_with_only_one_half_set() {
    let output = cbbook(
        &["auth", "check", "--json"],
        &[("COINBASE_API_KEY", SDK_NAME)],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(problem_codes(&report), ["private_key_missing"]);
    assert_eq!(report["key_name"], SDK_NAME);

    let output = cbbook(
        &["auth", "check", "--json"],
        &[("COINBASE_API_SECRET", SDK_ED25519_64)],
        None,
    );
    assert_eq!(problem_codes(&json_out(&output)), ["name_missing"]);
}

#[test]
fn check_swapped_environment_pair_is_named_without_echoing_the_key() {
    let output = cbbook(
        &["auth", "check", "--json"],
        &[
            ("COINBASE_API_KEY", SDK_EC_SECRET),
            ("COINBASE_API_SECRET", SDK_NAME),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(!out.contains("MHcCAQEE"), "private key echoed: {out}");
    let report = json_out(&output);
    assert_eq!(report["key_name"], Value::Null);
    assert_eq!(problem_codes(&report), ["name_missing", "key_not_base64"]);
    for problem in report["problems"].as_array().unwrap() {
        assert!(
            problem["message"].as_str().unwrap().contains("swapped"),
            "{problem}"
        );
    }
}

#[test]
fn check_legacy_exchange_key_from_the_environment() {
    let output = cbbook(
        &["auth", "check", "--json"],
        &[
            ("COINBASE_API_KEY", "0123456789abcdef0123456789abcdef"),
            ("COINBASE_API_SECRET", SDK_ED25519_32),
            ("COINBASE_API_PASSPHRASE", "hunter2hunter2"),
        ],
        None,
    );
    // A 32-byte base64 secret is a valid Ed25519 seed: the key loads, the passphrase is moot.
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    let exchange_secret =
        "c2VjcmV0IGJ5dGVzIG9mIGFuIGV4Y2hhbmdlIGtleSwgc2l4dHktZm91ciBvZiB0aGVtIGluIGFsbCEhISEhIQ==";
    let output = cbbook(
        &["auth", "check", "--json"],
        &[
            ("COINBASE_API_KEY", "0123456789abcdef0123456789abcdef"),
            ("COINBASE_API_SECRET", exchange_secret),
            ("COINBASE_API_PASSPHRASE", "hunter2hunter2"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(problem_codes(&json_out(&output)), ["legacy_exchange_key"]);
}

#[test]
fn check_readable_report_aligns_fields_and_gives_each_fix() {
    let output = cbbook(
        &[
            "auth",
            "check",
            "--key",
            path_str(&fixture("hand-edited-label.json")),
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("key name   organizations/cbbook-fixtures/apiKeys/fixture-key"),
        "{out}"
    );
    assert!(out.contains("pem_label_unknown"), "{out}");
    assert!(out.contains("fix: restore the label"), "{out}");
    assert!(out.contains("FAILED: 1 error"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(dir.path(), &demo_key());
    let output = cbbook(&["auth", "check", "--key", path_str(&path)], &[], None);
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    assert!(out.contains("algorithm  ES256"), "{out}");
    assert!(
        out.contains("self-test  a fresh WebSocket JWT signed with this key verifies"),
        "{out}"
    );
    assert!(
        out.contains("OK: this key can sign Coinbase JWTs."),
        "{out}"
    );
    assert!(!out.contains("MHcCAQEE"), "no key material in the report");
}

// ---- auth inspect ----

/// A token from the SDK EC vector, built at T0 by the library.
fn token_at_t0() -> String {
    cbbook::auth::load_key_parts(SDK_NAME, SDK_EC_SECRET)
        .unwrap()
        .ws_jwt(T0)
}

#[test]
fn inspect_shows_human_times_on_a_fixed_clock() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let token = token_at_t0();
    let inspect_at = |at: i64| {
        let at = at.to_string();
        let args = [
            "auth",
            "inspect",
            &token,
            "--key",
            path_str(&files[0].1),
            "--at",
            &at,
        ];
        cbbook(&args, &[], None)
    };
    let output = inspect_at(T0 + 23);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let out = stdout(&output);
    assert!(out.contains("expires in 97 s"), "{out}");
    assert!(out.contains("2024-11-19 07:06:40 UTC"), "{out}");
    assert!(out.contains("signature  valid"), "{out}");
    assert!(out.contains(&format!("kid    {SDK_NAME}")), "{out}");

    let output = inspect_at(T0 + 120 + 180);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("expired 3 min ago"), "{out}");
    assert!(
        out.contains("expired") && out.contains("fix: build a fresh JWT"),
        "{out}"
    );
}

#[test]
fn inspect_json_shape_and_stdin() {
    let token = token_at_t0();
    let at = T0.to_string();
    let output = cbbook(
        &["auth", "inspect", "-", "--json", "--at", &at],
        &[],
        Some(&format!("{token}\n")),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report = json_out(&output);
    assert_eq!(
        keys_of(&report),
        ["claims", "header", "ok", "problems", "signature"]
    );
    assert_eq!(report["ok"], true);
    assert_eq!(report["signature"], "unchecked");
    assert_eq!(report["header"]["alg"], "ES256");
    assert_eq!(report["claims"]["nbf"], T0);
    assert_eq!(report["problems"], json!([]));
}

#[test]
fn inspect_with_a_public_key_pem() {
    let dir = tempfile::tempdir().unwrap();
    let key = cbbook::auth::load_key_parts(SDK_NAME, SDK_EC_SECRET).unwrap();
    let pem = write_private(dir.path(), "public.pem", &key.public_key().to_pem());
    let token = key.ws_jwt(T0);
    let at = T0.to_string();
    let output = cbbook(
        &[
            "auth",
            "inspect",
            &token,
            "--public-key",
            path_str(&pem),
            "--json",
            "--at",
            &at,
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(json_out(&output)["signature"], "valid");

    // Another key's public key: invalid, exit 1.
    let other = path_str(&fixture("p256-public.pem")).to_string();
    let output = cbbook(
        &[
            "auth",
            "inspect",
            &token,
            "--public-key",
            &other,
            "--json",
            "--at",
            &at,
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(report["signature"], "invalid");
    assert_eq!(report["ok"], false);
    assert_eq!(problem_codes(&report), ["signature_invalid"]);
}

/// `auth inspect TOKEN --json --at T0` plus `extra` arguments.
fn inspect_at_t0(token: &str, extra: &[&str], json: bool) -> Output {
    let at = T0.to_string();
    let mut args = vec!["auth", "inspect", token, "--at", &at];
    if json {
        args.push("--json");
    }
    args.extend_from_slice(extra);
    cbbook(&args, &[], None)
}

#[test]
fn inspect_with_an_unusable_key_file_blames_the_key_not_the_token() {
    let token = token_at_t0();
    let truncated = path_str(&fixture("truncated-pem.json")).to_string();
    let output = inspect_at_t0(&token, &["--key", &truncated], true);
    // The token is fine: not "1, Coinbase would refuse it", but 2, "not verified".
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let report = json_out(&output);
    assert_eq!(problem_codes(&report), ["pem_invalid"]);
    assert_eq!(report["signature"], "unchecked");
    assert_eq!(report["ok"], false);
    let problem = &report["problems"][0];
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("the key given to verify the signature (--key "),
        "{problem}"
    );
    assert!(
        problem["fix"].as_str().unwrap().contains("--public-key"),
        "{problem}"
    );
}

#[test]
fn inspect_with_an_unusable_public_key_never_claims_coinbase_would_refuse_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_at_t0();
    // A private PKCS#8 PEM given where the public key belongs.
    let key_json: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("pkcs8-p256.json")).unwrap())
            .unwrap();
    let private_pem = write_private(
        dir.path(),
        "private.pem",
        key_json["privateKey"].as_str().unwrap(),
    );
    let missing = dir.path().join("nope.pem");
    for (path, code) in [
        (path_str(&missing), "file_unreadable"),
        (path_str(&private_pem), "pem_label_unknown"),
    ] {
        let output = inspect_at_t0(&token, &["--public-key", path], false);
        assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
        let out = stdout(&output);
        assert!(!out.contains("authentication failure"), "{out}");
        assert!(!out.contains("FAILED"), "{out}");
        assert!(!out.contains("downloaded from the CDP portal"), "{out}");
        assert!(out.contains("verification key\n  error    "), "{out}");
        assert!(out.contains(code), "{out}");
        assert!(
            out.contains("fix: give --public-key the -----BEGIN PUBLIC KEY-----"),
            "{out}"
        );
        assert!(out.contains("signature  unchecked (the key given"), "{out}");
        assert!(
            out.contains("NOT VERIFIED: the key given to verify"),
            "{out}"
        );
        assert!(
            !out.contains("MHcCAQEE") && !out.contains("MIGHAgEA"),
            "no key material"
        );

        let output = inspect_at_t0(&token, &["--public-key", path], true);
        assert_eq!(output.status.code(), Some(2));
        let report = json_out(&output);
        assert_eq!(problem_codes(&report), [code]);
        assert_eq!(report["signature"], "unchecked");
        assert_eq!(report["ok"], false);
    }

    // A token with errors of its own still fails (1), and says the signature was not checked.
    let expired_at = (T0 + 3600).to_string();
    let args = [
        "auth",
        "inspect",
        &token,
        "--public-key",
        path_str(&missing),
        "--at",
        &expired_at,
    ];
    let output = cbbook(&args, &[], None);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("FAILED: 1 error"), "{out}");
    assert!(out.contains("expired"), "{out}");
    assert!(out.contains("The signature was not checked"), "{out}");
}

#[test]
fn inspect_text_and_json_agree_on_a_valid_signature_under_a_broken_header() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let key = cbbook::auth::load_key_parts(SDK_NAME, SDK_EC_SECRET).unwrap();
    // The header field is named "algorithm" instead of "alg"; the signature itself is right.
    let token = key.sign_jwt(
        &json!({"algorithm": "ES256", "kid": SDK_NAME, "nonce": "ab".repeat(16), "typ": "JWT"}),
        &json!({"sub": SDK_NAME, "iss": "cdp", "nbf": T0, "exp": T0 + 120}),
    );
    let key_file = path_str(&files[0].1).to_string();
    let output = inspect_at_t0(&token, &["--key", &key_file], true);
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(report["signature"], "valid");
    assert_eq!(report["ok"], false);
    assert_eq!(problem_codes(&report), ["alg_missing"]);
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the signature itself verifies as ES256")
    );

    let output = inspect_at_t0(&token, &["--key", &key_file], false);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("signature  valid (checked with key"), "{out}");
    assert!(!out.contains("INVALID"), "{out}");
    assert!(out.contains("only the header is wrong"), "{out}");
}

#[test]
fn inspect_a_padded_token_fails_without_claiming_what_coinbase_does() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let padded = format!("{}==", token_at_t0());
    let key_file = path_str(&files[0].1).to_string();
    let output = inspect_at_t0(&padded, &["--key", &key_file], false);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("base64url_not_canonical"), "{out}");
    assert!(!out.contains("Coinbase would accept"), "{out}");
    assert!(!out.contains("authentication failure"), "{out}");
    assert!(out.contains("whether Coinbase does is not known"), "{out}");

    let output = inspect_at_t0(&padded, &["--key", &key_file], true);
    let report = json_out(&output);
    assert_eq!(report["ok"], false);
    assert_eq!(report["signature"], "valid");
    assert_eq!(problem_codes(&report), ["base64url_not_canonical"]);
}

#[test]
fn inspect_garbage_exits_one_with_malformed_token() {
    let output = cbbook(&["auth", "inspect", "hello", "--json"], &[], None);
    assert_eq!(output.status.code(), Some(1));
    let report = json_out(&output);
    assert_eq!(problem_codes(&report), ["malformed_token"]);
    assert_eq!(report["header"], Value::Null);
}

// ---- The viewer refuses an unusable key before touching the terminal ----

#[test]
fn viewer_with_a_bad_key_prints_the_diagnosis_and_exits_non_zero() {
    let output = cbbook(
        &[
            "--key",
            path_str(&fixture("hand-edited-label.json")),
            "BTC-USD",
        ],
        &[],
        None,
    );
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty(), "the terminal is not touched");
    let err = stderr(&output);
    assert!(err.contains("pem_label_unknown"), "{err}");
    assert!(err.contains("fix: restore the label"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no terminal escape sequences: {err:?}"
    );

    // The same from a bad environment pair.
    let output = cbbook(
        &["BTC-USD"],
        &[
            ("COINBASE_API_KEY", SDK_NAME),
            ("COINBASE_API_SECRET", "not a key at all!"),
        ],
        None,
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("key_not_base64"),
        "{}",
        stderr(&output)
    );
}
