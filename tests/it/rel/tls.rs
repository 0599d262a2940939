//! TLS through the real binary: certificates are always verified, host names included; the only
//! way to trust a private authority is `--ca-cert`; no flag, config key or environment variable
//! turns verification off, and a failed `wss://` attempt is never retried as `ws://`. The
//! in-process cases (5 MB book over wss, untrusted and wrong-host certificates) are in
//! `tests/it/feed/tls.rs`.

use crate::support::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::{path_str, run_env, start_sim};
use serde_json::Value;

/// Every long option of every command, from `--help`.
fn all_options() -> BTreeSet<String> {
    let commands: [&[&str]; 8] = [
        &[],
        &["replay"],
        &["sim"],
        &["auth"],
        &["auth", "check"],
        &["auth", "jwt"],
        &["auth", "inspect"],
        &["auth", "self-test"],
    ];
    let mut options = BTreeSet::new();
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run_env(&args, &[], Duration::from_secs(30));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for word in text.split_whitespace() {
            if let Some(option) = word.strip_prefix("--") {
                let name: String = option
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if !name.is_empty() {
                    options.insert(name);
                }
            }
        }
    }
    options
}

#[test]
fn no_option_or_config_key_turns_verification_off() {
    let options = all_options();
    assert!(
        options.contains("ca-cert") && options.contains("tls-cert"),
        "{options:?}"
    );
    for option in &options {
        for word in [
            "insecure",
            "verify",
            "danger",
            "skip",
            "invalid",
            "no-tls",
            "trust-all",
        ] {
            assert!(
                !option.contains(word),
                "--{option} looks like a way around certificate checks"
            );
        }
    }
    // The config file refuses keys it does not know, so no such setting can hide there.
    let dir = tempfile::tempdir().unwrap();
    for key in [
        "insecure = true",
        "tls_verify = false",
        "danger_accept_invalid_certs = true",
        "ca_cert = \"/tmp/ca.pem\"",
    ] {
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("{key}\n")).unwrap();
        let out = run_env(
            &[
                "--config",
                path_str(&config),
                "--headless",
                "--duration",
                "1",
                "BTC-USD",
            ],
            &[],
            Duration::from_secs(30),
        );
        assert!(!out.status.success(), "config key accepted: {key}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not valid"), "{key}: {stderr}");
    }
}

fn write_cert(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// The events a short headless run printed on stderr.
fn headless_events(url: &str, extra: &[&str], env: &[(&str, &str)], log: &Path) -> Vec<Value> {
    let mut args = vec![
        "--url",
        url,
        "--headless",
        "--duration",
        "2.5",
        "--log-file",
        path_str(log),
    ];
    args.extend_from_slice(extra);
    args.push("BTC-USD");
    let out = run_env(&args, env, Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn only_ca_cert_makes_a_private_certificate_trusted_and_failures_never_downgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path());
    let (_sim, url) = start_sim(
        &["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)],
        None,
    );
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let port = url.rsplit(':').next().unwrap();
    let log = dir.path().join("cbbook.log");
    let snapshot = |events: &[Value]| events.iter().any(|e| e["event"] == "snapshot");
    // The usual environment variables of other TLS stacks do not add trust.
    let cert_dir = dir.path().to_str().unwrap();
    let env = [
        ("SSL_CERT_FILE", path_str(&cert)),
        ("SSL_CERT_DIR", cert_dir),
        ("REQUESTS_CA_BUNDLE", path_str(&cert)),
        ("NODE_TLS_REJECT_UNAUTHORIZED", "0"),
    ];
    let untrusted = headless_events(&url, &[], &env, &log);
    assert!(!snapshot(&untrusted), "data over an unverified connection");
    let reasons: Vec<&str> = untrusted
        .iter()
        .filter(|e| e["event"] == "disconnected")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(!reasons.is_empty());
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("TLS") && r.contains("--ca-cert")),
        "{reasons:?}"
    );
    // Every attempt is wss://, never a plain ws:// retry.
    for e in untrusted.iter().filter(|e| e["event"] == "connecting") {
        assert_eq!(e["url"].as_str().unwrap(), url, "{e}");
    }
    // The right authority, the wrong host name: still refused.
    let wrong_host = format!("wss://localhost:{port}");
    let events = headless_events(&wrong_host, &["--ca-cert", path_str(&cert)], &[], &log);
    assert!(!snapshot(&events));
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "disconnected")
            .all(|e| e["reason"].as_str().unwrap().contains("not valid for name")),
        "{events:?}"
    );
    // --ca-cert with the right host: trusted.
    let events = headless_events(&url, &["--ca-cert", path_str(&cert)], &[], &log);
    assert!(snapshot(&events), "{events:?}");
}
