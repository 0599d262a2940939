//! Interop with independent implementations, both ways, for ES256 and EdDSA:
//! tokens built by the official Coinbase Python SDK and by PyJWT pass `cbbook auth inspect --key`;
//! tokens from `cbbook auth jwt` pass PyJWT's `jwt.decode` with the public key.
//!
//! Needs the venv made by `scripts/interop-venv` (see `common::interop_python`); without it these
//! tests fail loudly, unless CBBOOK_SKIP_INTEROP=1 says to skip them knowingly.
// Test code: a failed unwrap is a failed test, with its location.

use crate::support::auth as auth_support;
use crate::support::common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auth_support::*;
use serde_json::{Value, json};

/// Generous: Python imports the SDK on a loaded 2-core machine.
const TIMEOUT: Duration = Duration::from_secs(180);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args`, feeding `stdin`, killing it after `TIMEOUT`.
fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .env_remove("COINBASE_API_KEY")
        .env_remove("COINBASE_API_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        out_pipe.read_to_string(&mut text).unwrap();
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        err_pipe.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not finish in {TIMEOUT:?}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn script(name: &str) -> String {
    repo_root()
        .join("tests/interop")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Key files for both algorithms in every accepted form, owner-only copies in `dir`.
fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        private_copy(dir, &demo_key()),
        private_copy(dir, &demo_key_ed25519()),
        private_copy(dir, &fixture("pkcs8-p256.json")),
        private_copy(dir, &fixture("pkcs8-ed25519.json")),
    ];
    files.extend(sdk_vector_files(dir).into_iter().map(|(_, path)| path));
    files
}

fn inspect_json(key_file: &Path, token: &str) -> (Option<i32>, Value) {
    let result = run(
        &common::cbbook_bin(),
        &[
            "auth",
            "inspect",
            "-",
            "--key",
            key_file.to_str().unwrap(),
            "--json",
        ],
        Some(token),
    );
    let report = serde_json::from_str(&result.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect printed no JSON ({e}): {}\n{}",
            result.stdout, result.stderr
        )
    });
    (result.code, report)
}

#[test]
fn official_sdk_and_pyjwt_tokens_pass_cbbook_inspect() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = key_files(dir.path());
    let mut args = vec![script("make_jwts.py")];
    args.extend(files.iter().map(|f| f.to_str().unwrap().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let made = run(&python, &args, None);
    assert_eq!(made.code, Some(0), "make_jwts.py failed:\n{}", made.stderr);
    let tokens: Value = serde_json::from_str(&made.stdout).unwrap();

    let mut algorithms_seen = Vec::new();
    for file in &files {
        let entry = &tokens[file.to_str().unwrap()];
        let alg = entry["alg"].as_str().unwrap();
        algorithms_seen.push(alg.to_string());
        for kind in ["sdk", "pyjwt"] {
            let token = entry[kind].as_str().unwrap();
            let (code, report) = inspect_json(file, token);
            let context = format!("{kind} token for {}: {report:#}", file.display());
            assert_eq!(code, Some(0), "{context}");
            assert_eq!(report["ok"], true, "{context}");
            assert_eq!(report["signature"], "valid", "{context}");
            assert_eq!(report["problems"], json!([]), "{context}");
            assert_eq!(report["header"]["alg"], alg, "{context}");
            assert_eq!(report["header"]["kid"], entry["name"], "{context}");
            assert_eq!(report["claims"]["iss"], "cdp", "{context}");
        }
        // The control: the same name signed by a stranger's key is refused.
        let (code, report) = inspect_json(file, entry["pyjwt_wrong_key"].as_str().unwrap());
        assert_eq!(code, Some(1), "{report:#}");
        assert_eq!(report["signature"], "invalid");
        let codes: Vec<&str> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["signature_invalid"]);
    }
    assert!(algorithms_seen.iter().any(|a| a == "ES256"));
    assert!(algorithms_seen.iter().any(|a| a == "EdDSA"));
}

#[test]
fn cbbook_tokens_pass_pyjwt_decode_with_the_public_key() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut items = Vec::new();
    for (i, file) in key_files(dir.path()).iter().enumerate() {
        let key = cbbook::auth::load_key_file(file).unwrap();
        let pem = write_private(
            dir.path(),
            &format!("public-{i}.pem"),
            &key.public_key().to_pem(),
        );
        for rest in [None, Some("GET /api/v3/brokerage/accounts")] {
            let mut args = vec!["auth", "jwt", "--key", file.to_str().unwrap()];
            if let Some(spec) = rest {
                args.extend(["--rest", spec]);
            }
            let made = run(&common::cbbook_bin(), &args, None);
            assert_eq!(made.code, Some(0), "{}", made.stderr);
            items.push(json!({
                "token": made.stdout.trim_end(),
                "key_file": file,
                "public_pem": pem,
                "uri": rest.map(|_| "GET api.coinbase.com/api/v3/brokerage/accounts"),
            }));
        }
    }
    let checked = run(
        &python,
        &[&script("verify_jwts.py")],
        Some(&Value::Array(items.clone()).to_string()),
    );
    let results: Value = serde_json::from_str(&checked.stdout).unwrap_or_else(|e| {
        panic!(
            "verify_jwts.py printed no JSON ({e}):\n{}\n{}",
            checked.stdout, checked.stderr
        )
    });
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), items.len(), "every token was checked");
    let failures: Vec<&Value> = results.iter().filter(|r| r["ok"] != true).collect();
    assert!(
        failures.is_empty(),
        "PyJWT refused cbbook tokens: {failures:#?}"
    );
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    let algs: Vec<&str> = results
        .iter()
        .map(|r| r["header"]["alg"].as_str().unwrap())
        .collect();
    assert!(
        algs.contains(&"ES256") && algs.contains(&"EdDSA"),
        "{algs:?}"
    );
}

// ---- A skip is never mistaken for a pass ----

#[test]
fn a_skipped_interop_test_says_so_outside_the_harness_capture() {
    // Run one interop test of this binary with CBBOOK_SKIP_INTEROP=1: it reports `ok`, and its
    // notice must still reach the terminal (output captured by the harness is dropped on `ok`).
    let name = common::test_name(
        module_path!(),
        "official_sdk_and_pyjwt_tokens_pass_cbbook_inspect",
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact"])
        .env("CBBOOK_SKIP_INTEROP", "1")
        .env_remove("RUST_TEST_NOCAPTURE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(
        stderr.contains(&format!("INTEROP TEST SKIPPED ({name})")),
        "the skip notice is not visible:\nstdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn scripts_test_prints_a_banner_before_and_after_a_run_that_skips_interop() {
    // A stand-in `cargo` that records its arguments, so the script runs in a blink.
    let dir = tempfile::tempdir().unwrap();
    let fake_cargo = dir.path().join("cargo");
    std::fs::write(&fake_cargo, "#!/bin/sh\necho \"cargo $*\"\n").unwrap();
    set_mode(&fake_cargo, 0o755);
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = repo_root().join("scripts/test");
    let output = Command::new("bash")
        .arg(&script)
        .env("PATH", &path)
        .env("CBBOOK_SKIP_INTEROP", "1")
        .env_remove("CBBOOK_PYTHON")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cargo test --all-targets"), "{stdout}");
    assert_eq!(
        stderr
            .matches("INTEROP TESTS SKIPPED: CBBOOK_SKIP_INTEROP=1")
            .count(),
        2,
        "a banner before and after the run:\n{stderr}"
    );
    assert!(stderr.contains("checked NOTHING"), "{stderr}");

    // Without the variable there is no banner (the venv is made first: stop at a missing Python
    // instead of building one, which must fail loudly, not skip).
    let output = Command::new("bash")
        .arg(&script)
        .env("PATH", &path)
        .env_remove("CBBOOK_SKIP_INTEROP")
        .env("PYTHON", "/nonexistent/python3")
        .env("CBBOOK_VENV", dir.path().join("venv"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(!stderr.contains("INTEROP TESTS SKIPPED"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}
