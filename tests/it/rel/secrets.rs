//! Secrets stay secret on every channel: key reports (`auth check`, the viewer's start-up, the
//! simulator's `--authorized-key`), whatever the damage to the key; the log file at any
//! `RUST_LOG`, stdout, stderr and recordings of an authenticated session; `Debug` of the configs
//! that hold keys. See RELIABILITY.md, "Secrets".

use crate::support::auth as auth_support;
use crate::support::common;
use crate::support::rel as rel_support;

use std::path::Path;
use std::time::Duration;

use auth_support::{SDK_EC_SECRET, SDK_ED25519_64, SDK_NAME, write_key_json, write_private};
use cbbook::auth::{load_key_file, load_key_parts};
use common::{path_str, repo_root, run_env, start_sim};
use proptest::prelude::*;
use rel_support::{cases, leaked, pem_body, pieces};
use serde_json::json;

/// Pieces of the SDK's EC test key body and of its Ed25519 key, as they could leak.
fn secret_pieces() -> Vec<String> {
    let mut all = pieces(&pem_body(SDK_EC_SECRET), 20, 4);
    all.extend(pieces(SDK_ED25519_64, 20, 4));
    all
}

/// Every text a failed or successful load can show: the report, each problem, `Debug`.
fn load_texts(result: Result<cbbook::auth::Key, cbbook::auth::KeyFailure>) -> Vec<String> {
    match result {
        Ok(key) => {
            let mut texts = vec![format!("{key:?}"), format!("{key:#?}")];
            for w in key.warnings() {
                texts.push(format!("{} {} {}", w.code, w.message, w.fix));
            }
            texts
        }
        Err(failure) => {
            let mut texts = vec![format!("{failure}"), format!("{failure:?}")];
            for p in &failure.problems {
                texts.push(format!("{} {} {}", p.code, p.message, p.fix));
            }
            texts
        }
    }
}

/// A PEM pasted on one line (its line breaks replaced by spaces, as in a shell variable or a
/// config field): before the fix, the `pem_invalid` message quoted the whole line as the "label"
/// of a missing END line, key included.
#[test]
fn a_pem_pasted_on_one_line_is_diagnosed_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = SDK_EC_SECRET.trim_end().replace('\n', " ");
    let joined = SDK_EC_SECRET.trim_end().replace('\n', "");
    let secrets = secret_pieces();
    for (i, text) in [&one_line, &joined].into_iter().enumerate() {
        let file = write_key_json(
            dir.path(),
            &format!("one-line-{i}.json"),
            &json!({"name": SDK_NAME, "privateKey": text}),
        );
        let failure = load_key_file(&file).unwrap_err();
        let codes: Vec<&str> = failure.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, ["pem_invalid"], "{failure}");
        assert!(
            failure.problems[0].message.contains("one line"),
            "the message names the problem: {failure}"
        );
        for text in load_texts(Err(failure)) {
            assert_eq!(leaked(&text, &secrets), None, "key echoed: {text}");
        }
        // Every command that reports on a key file: text and JSON reports, the token
        // commands, the viewer's start-up and the simulator's --authorized-key.
        let token = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln";
        let commands: Vec<Vec<&str>> = vec![
            vec!["auth", "check", "--key", path_str(&file)],
            vec!["auth", "check", "--json", "--key", path_str(&file)],
            vec!["auth", "jwt", "--key", path_str(&file)],
            vec!["auth", "inspect", "--key", path_str(&file), token],
            vec!["--key", path_str(&file), "--headless", "BTC-USD"],
            vec!["sim", "--authorized-key", path_str(&file)],
        ];
        for args in commands {
            let out = run_env(&args, &[], Duration::from_secs(60));
            assert!(!out.status.success(), "{args:?} accepted a broken key");
            for stream in [&out.stdout, &out.stderr] {
                let text = String::from_utf8_lossy(stream);
                assert_eq!(leaked(&text, &secrets), None, "{args:?} echoed: {text}");
            }
        }
        // The environment pair takes the same path.
        let out = run_env(
            &["auth", "check"],
            &[
                ("COINBASE_API_KEY", SDK_NAME),
                ("COINBASE_API_SECRET", text),
            ],
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(1));
        let shown = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(shown.contains("pem_invalid"), "{shown}");
        assert_eq!(leaked(&shown, &secrets), None, "env pair echoed: {shown}");
    }
}

/// Label lines that carry key text (a body pasted onto the BEGIN or END line) are not quoted.
#[test]
fn label_lines_holding_key_text_are_not_quoted() {
    let body = pem_body(SDK_EC_SECRET);
    let secrets = secret_pieces();
    let cases = [
        format!("-----BEGIN {body}-----\n{body}\n-----END EC PRIVATE KEY-----\n"),
        format!("-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END {body}-----\n"),
        format!("-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY{body}\n"),
        format!("-----BEGIN EC PRIVATE KEY {body}-----\n-----END EC PRIVATE KEY-----\n"),
        format!("-----BEGIN EC PRIVATE KEY-----{body}\n-----END EC PRIVATE KEY-----\n"),
    ];
    for case in cases {
        let result = load_key_parts(SDK_NAME, &case);
        assert!(result.is_err(), "{case}");
        for text in load_texts(result) {
            assert_eq!(leaked(&text, &secrets), None, "{case:?} echoed: {text}");
        }
    }
}

/// One realistic edit of a key text, as copies and pastes damage them.
#[derive(Debug, Clone)]
enum Edit {
    /// Line breaks replaced by this.
    Breaks(&'static str),
    /// Characters `start..start+len` deleted.
    Cut(usize, usize),
    /// Text inserted at a position.
    Insert(usize, String),
    /// The first BEGIN/END label replaced.
    Label(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        prop::sample::select(vec![" ", "", "\\n", "\r\n", "\t", "\\\\n", "  "])
            .prop_map(Edit::Breaks),
        (0usize..300, 1usize..40).prop_map(|(s, l)| Edit::Cut(s, l)),
        (0usize..300, "[ -~\n]{1,12}").prop_map(|(at, t)| Edit::Insert(at, t)),
        "[A-Za-z ]{0,24}".prop_map(Edit::Label),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    match edit {
        Edit::Breaks(with) => text.replace('\n', with),
        Edit::Cut(start, len) => {
            let start = (*start).min(chars.len());
            let end = (start + len).min(chars.len());
            chars[..start].iter().chain(&chars[end..]).collect()
        }
        Edit::Insert(at, t) => {
            let at = (*at).min(chars.len());
            let mut out: String = chars[..at].iter().collect();
            out.push_str(t);
            out.extend(&chars[at..]);
            out
        }
        Edit::Label(label) => text.replacen("EC PRIVATE KEY", label, 1),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Whatever copy-and-paste did to a key, no report, problem or `Debug` output quotes it, as
    /// the private key, as the key name (name and key swapped), or inside a key file.
    #[test]
    fn no_damaged_key_is_echoed(
        edits in prop::collection::vec(edit(), 1..4),
        ed25519 in any::<bool>(),
    ) {
        let original = if ed25519 { SDK_ED25519_64 } else { SDK_EC_SECRET };
        let damaged = edits.iter().fold(original.to_owned(), |t, e| apply(&t, e));
        let secrets = secret_pieces();
        let dir = tempfile::tempdir().unwrap();
        let file = write_key_json(
            dir.path(),
            "key.json",
            &json!({"name": SDK_NAME, "privateKey": damaged}),
        );
        for result in [
            load_key_parts(SDK_NAME, &damaged),
            load_key_parts(&damaged, SDK_NAME),
            load_key_file(&file),
        ] {
            for text in load_texts(result) {
                prop_assert_eq!(leaked(&text, &secrets), None, "{:?} echoed: {}", damaged, text);
            }
        }
    }
}

/// The end of a key given as the name (name and key swapped, the key cut when copied): the name
/// is refused without being quoted, and the swapped name is not taken for the key.
#[test]
fn a_piece_of_a_key_given_as_the_name_is_not_echoed() {
    let secrets = secret_pieces();
    let tail = &SDK_ED25519_64[SDK_ED25519_64.len() - 23..];
    let result = load_key_parts(tail, SDK_NAME);
    let texts = load_texts(result);
    assert!(
        texts.iter().any(|t| t.contains("name_missing")),
        "{texts:?}"
    );
    for text in texts {
        assert_eq!(leaked(&text, &secrets), None, "{tail:?} echoed: {text}");
    }
}

/// A bare PEM file or a file that is not JSON at all: the JSON error never quotes the content.
#[test]
fn key_files_that_are_not_json_are_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = secret_pieces();
    let body = pem_body(SDK_EC_SECRET);
    let cases = [
        SDK_EC_SECRET.to_owned(),
        format!("{{\"name\": \"{SDK_NAME}\", \"privateKey\": \"{SDK_EC_SECRET}\"}}"),
        format!("{{\"name\": \"{SDK_NAME}\", \"privateKey\": {body}}}"),
        format!("name={SDK_NAME}\nprivateKey={body}\n"),
        format!("[\"{SDK_ED25519_64}\"]"),
        format!("{{\"privateKey\": \"{SDK_ED25519_64}\" \"name\": 1}}"),
    ];
    for (i, case) in cases.iter().enumerate() {
        let file = write_private(dir.path(), &format!("k{i}.json"), case);
        let result = load_key_file(&file);
        assert!(result.is_err(), "{case}");
        for text in load_texts(result) {
            assert_eq!(leaked(&text, &secrets), None, "{case:?} echoed: {text}");
        }
    }
}

/// Something that looks like a JWT: base64url of `{"`, as text, hex (tungstenite prints frame
/// payloads in hex) or a byte list (a `Debug` of bytes).
fn jwt_like(text: &str) -> Option<&'static str> {
    ["eyJ", "65794a", "101, 121, 74"]
        .into_iter()
        .find(|needle| text.contains(needle))
}

/// An authenticated session (the simulator trusts the key) with gaps, so that many subscribes
/// carry fresh JWTs, at several `RUST_LOG` settings: the log shows each token as its header and
/// claims only, and no JWT or key material reaches the log, stdout, stderr or the recording.
/// The key also opens the user connection (your orders; the key holds ten on the simulator),
/// whose `user` and `heartbeats` subscribes carry JWTs of their own: the same holds for them.
/// Before the fix, `RUST_LOG=tungstenite::protocol=trace` got past the cap on the WebSocket
/// library and logged every subscribe frame, JWT included.
#[test]
fn no_jwt_or_key_reaches_any_output_at_any_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let key = repo_root().join("assets/demo-key.json");
    let key_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    let key_pieces = pieces(&pem_body(key_json["privateKey"].as_str().unwrap()), 20, 4);
    let sim_err = dir.path().join("sim.err");
    let (_sim, url) = start_sim(
        &[
            "--authorized-key",
            path_str(&key),
            "--gap-every",
            "40",
            "--updates-per-sec",
            "50",
            "--user-orders",
            "10",
        ],
        Some(&sim_err),
    );
    let levels = [
        "trace",
        "info,tungstenite::protocol=trace,tungstenite::protocol::frame=trace",
        "info,tokio_tungstenite=trace,tungstenite::handshake=trace,rustls=trace",
        "debug,tungstenite[x]=trace",
    ];
    for (i, level) in levels.iter().enumerate() {
        let log = dir.path().join(format!("cbbook-{i}.log"));
        let record = dir.path().join(format!("session-{i}.jsonl"));
        let out = run_env(
            &[
                "--url",
                &url,
                "--key",
                path_str(&key),
                "--headless",
                "--duration",
                "3",
                "--stats",
                "--log-file",
                path_str(&log),
                "--record",
                path_str(&record),
                "BTC-USD",
            ],
            &[("RUST_LOG", level)],
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{level}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !stderr.contains("auth_rejected"),
            "the key must be accepted: {stderr}"
        );
        let log_text = std::fs::read_to_string(&log).unwrap();
        // The user connection subscribed `user` and `heartbeats`, each with its own JWT, shown
        // as a summary; its orders reached the session.
        let user_sent: Vec<&str> = log_text
            .lines()
            .filter(|l| l.contains("sent on the user connection"))
            .collect();
        assert!(
            user_sent.len() >= 2 && user_sent.iter().all(|l| l.contains("jwt(header=")),
            "{level}: the user connection's subscribes are logged as summaries: {user_sent:?}"
        );
        let stats = String::from_utf8_lossy(&out.stdout).into_owned() + stderr.as_str();
        // The simulator keeps 10 open, but fills, cancels and expires some and replaces each
        // a tick later: the count at the end may be caught in such a gap.
        let orders: Option<u32> = stats
            .split_whitespace()
            .find_map(|word| word.strip_prefix("orders=")?.parse().ok());
        assert!(
            orders.is_some_and(|n| (1..=10).contains(&n)),
            "{level}: the user channel's orders reach the session: {stats}"
        );
        let summaries = log_text.matches("jwt(header=").count();
        assert!(
            summaries >= 2,
            "{level}: the log shows each token as header and claims ({summaries} found)"
        );
        for (what, text) in [
            ("log", log_text.as_str()),
            ("stderr", stderr.as_str()),
            ("stdout", &String::from_utf8_lossy(&out.stdout)),
            ("recording", &std::fs::read_to_string(&record).unwrap()),
            (
                "simulator stderr",
                &std::fs::read_to_string(&sim_err).unwrap(),
            ),
        ] {
            assert_eq!(jwt_like(text), None, "{level}: a JWT reached the {what}");
            assert_eq!(
                leaked(text, &key_pieces),
                None,
                "{level}: key material reached the {what}"
            );
        }
    }
}

/// `Debug` of the configurations that hold keys: the simulator's (authorized keys, TLS key) and
/// the live feed's (the signing key) name what they hold and never its secret.
#[test]
fn debug_of_configs_holding_keys_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = repo_root().join("assets/demo-key.json");
    let key = cbbook::auth::load_key_file(&key_file).or_else(|_| {
        let copy = auth_support::private_copy(dir.path(), &key_file);
        cbbook::auth::load_key_file(&copy)
    });
    let key = std::sync::Arc::new(key.unwrap());
    let key_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let mut secrets = pieces(&pem_body(key_json["privateKey"].as_str().unwrap()), 20, 4);
    // A TLS key for the simulator.
    let tls_key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&tls_key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    write_private(dir.path(), "k.pem", &tls_key.serialize_pem());
    secrets.extend(pieces(&pem_body(&tls_key.serialize_pem()), 20, 4));
    // The simulator's configuration as `cbbook sim` builds it from its flags.
    let cli = <cbbook::cli::Cli as clap::Parser>::try_parse_from([
        "cbbook",
        "sim",
        "--tls-cert",
        path_str(&cert_path),
        "--tls-key",
        path_str(&key_path),
        "--authorized-key",
        path_str(&key_file),
    ])
    .unwrap();
    let Some(cbbook::cli::Command::Sim(args)) = cli.command else {
        panic!("not the sim command")
    };
    let sim = cbbook::sim::SimConfig::from_args(&args).unwrap();
    assert!(sim.tls.is_some() && sim.authorized_keys.len() == 1);
    let live = cbbook::feed::LiveConfig {
        key: Some(key.clone()),
        ..cbbook::feed::LiveConfig::new("ws://127.0.0.1:9", vec!["BTC-USD".into()])
    };
    for text in [
        format!("{sim:?}"),
        format!("{sim:#?}"),
        format!("{live:?}"),
        format!("{live:#?}"),
        format!("{key:?}"),
    ] {
        assert_eq!(leaked(&text, &secrets), None, "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    assert!(format!("{live:?}").contains(key.name()));
}

/// Key files readable by others are loaded with a `file_permissions` warning, shown by
/// `auth check` and by the viewer's start-up (which goes on).
#[test]
fn a_key_file_readable_by_others_gets_a_warning_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_key_json(
        dir.path(),
        "open.json",
        &json!({"name": SDK_NAME, "privateKey": SDK_EC_SECRET}),
    );
    auth_support::set_mode(&file, 0o644);
    let key = load_key_file(&file).unwrap();
    let codes: Vec<&str> = key.warnings().iter().map(|w| w.code).collect();
    assert_eq!(codes, ["file_permissions"]);
    let out = run_env(
        &["auth", "check", "--key", path_str(&file)],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "a warning alone is not fatal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("file_permissions") && text.contains("chmod 600"),
        "{text}"
    );
    let out = run_env(
        &[
            "--key",
            path_str(&file),
            "--url",
            "ws://127.0.0.1:9",
            "--headless",
            "--duration",
            "0.5",
            "--log-file",
            path_str(&dir.path().join("log")),
            "BTC-USD",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning file_permissions") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    let secrets = secret_pieces();
    assert_eq!(leaked(&stderr, &secrets), None);
    assert!(Path::new(&file).exists());
}

/// A key pasted into the config file (which has no key settings) or a key file given as the
/// config file is refused without quoting the key.
#[test]
fn a_key_in_the_config_file_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = secret_pieces();
    let escaped = SDK_EC_SECRET.replace('\n', "\\n");
    let cases = [
        format!("name = \"{SDK_NAME}\"\nprivateKey = \"{escaped}\"\n"),
        format!("privateKey = \"{escaped}\"\n"),
        format!("secret = '''\n{SDK_EC_SECRET}'''\n"),
        serde_json::to_string(&json!({"name": SDK_NAME, "privateKey": SDK_EC_SECRET})).unwrap(),
        serde_json::to_string_pretty(&json!({"name": SDK_NAME, "privateKey": SDK_ED25519_64}))
            .unwrap(),
    ];
    for (i, case) in cases.iter().enumerate() {
        let config = write_private(dir.path(), &format!("config-{i}.toml"), case);
        let out = run_env(
            &["--config", path_str(&config), "--headless", "BTC-USD"],
            &[],
            Duration::from_secs(30),
        );
        assert!(!out.status.success(), "{case}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("config file"), "{stderr}");
        assert_eq!(leaked(&stderr, &secrets), None, "{case:?} echoed: {stderr}");
    }
}
