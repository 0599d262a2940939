//! `cbbook sim` as a program: the ready line, the log lines, `--dump-book` on SIGTERM and SIGINT,
//! TLS, `--authorized-key`, `--write-corpus`, flags on the command line, and bad flags.

use crate::support::common;
use crate::support::sim as sim_common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use cbbook::auth;
use serde_json::{Value, json};
use sim_common::{Client, Next, TestBook, WAIT, seq};

/// A running `cbbook sim`; killed if the test ends early.
struct SimProcess {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
    stdout_rest: Option<std::thread::JoinHandle<String>>,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    common::repo_root()
}

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz")
}

/// Starts `cbbook sim ARGS` and waits for its ready line, which must be exactly
/// `listening on ws://127.0.0.1:PORT` (or wss://).
fn start(args: &[&str]) -> SimProcess {
    start_with(args, true)
}

/// [`start`]; `read_stderr: false` closes the reading end of its stderr at once (as
/// `cbbook sim 2>&1 | head -1` does once `head` has its line), and no log line is seen.
fn start_with(args: &[&str], read_stderr: bool) -> SimProcess {
    let mut child = Command::new(common::cbbook_bin())
        .arg("sim")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    let stdout_rest = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = line_tx.send(first);
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        rest
    });
    let stderr = child.stderr.take().unwrap();
    let (err_tx, err_rx) = mpsc::channel();
    if read_stderr {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
    } else {
        drop(stderr);
    }
    let first = line_rx.recv_timeout(WAIT).expect("no ready line");
    let line = first
        .strip_suffix('\n')
        .expect("the ready line ends with a newline");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"))
        .to_string();
    let port = url
        .strip_prefix("ws://127.0.0.1:")
        .or_else(|| url.strip_prefix("wss://127.0.0.1:"))
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
    assert!(port.parse::<u16>().unwrap() > 0, "{url}");
    SimProcess {
        child,
        url,
        stderr: err_rx,
        stdout_rest: Some(stdout_rest),
    }
}

impl SimProcess {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its status, the rest of stdout and all of stderr.
    fn wait(mut self) -> (ExitStatus, String, Vec<String>) {
        let until = std::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < until, "cbbook sim did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = self.stdout_rest.take().unwrap().join().unwrap();
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        (status, rest, lines)
    }

    /// Waits until stderr has shown a line containing `needle`.
    fn wait_for_log(&self, needle: &str, seen: &mut Vec<String>) {
        let until = std::time::Instant::now() + WAIT;
        while !seen.iter().any(|l| l.contains(needle)) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no log line with {needle:?}; got {seen:#?}"),
            }
        }
    }
}

/// Runs `cbbook sim ARGS` expecting it to fail before listening (and not to run on).
fn fails(args: &[&str]) -> String {
    let mut child = Command::new(common::cbbook_bin())
        .arg("sim")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit: it should have failed before listening");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{args:?} succeeded");
    assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_one_ready_line_then_logs_connections_and_refusals_on_stderr() {
    let sim = start(&["--port", "0", "--updates-per-sec", "50"]);
    assert!(sim.url.starts_with("ws://127.0.0.1:"));
    let mut c = Client::connect(&sim.url).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    c.next().await;
    c.subscribe("level2", &["FOO-BAR"]).await;
    assert_eq!(
        c.next_error().await["reason"],
        "FOO-BAR is not a valid product"
    );
    drop(c);
    let mut second = Client::connect(&sim.url).await;
    second.subscribe("heartbeats", &[]).await;
    second.next().await;
    drop(second);
    let mut seen = Vec::new();
    sim.wait_for_log("connection 2 closed", &mut seen);
    sim.signal("TERM");
    let (status, stdout_rest, mut lines) = sim.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(stdout_rest, "", "only the ready line goes to stdout");
    seen.append(&mut lines);
    let count = |needle: &str| seen.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("connection 1 from 127.0.0.1:"), 1, "{seen:#?}");
    assert_eq!(count("connection 2 from 127.0.0.1:"), 1, "{seen:#?}");
    assert_eq!(count(" refused "), 1, "{seen:#?}");
    assert_eq!(
        count(
            "connection 1 refused subscribe level2 [FOO-BAR]: failure to subscribe: FOO-BAR is not a valid product"
        ),
        1
    );
    assert_eq!(count("connection 1 closed"), 1);
    assert!(
        seen.iter().all(|l| l.starts_with("cbbook sim: ")),
        "{seen:#?}"
    );
}

async fn dump_book_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("books.json");
    let sim = start(&[
        "--products",
        "ETH-USD,BTC-USD",
        "--updates-per-sec",
        "300",
        "--stop-updates-after",
        "1",
        "--dump-book",
        dump.to_str().unwrap(),
    ]);
    let mut c = Client::connect(&sim.url).await;
    c.subscribe("level2", &["ETH-USD", "BTC-USD"]).await;
    c.subscribe("heartbeats", &[]).await;
    let mut books = [TestBook::default(), TestBook::default()];
    c.until(
        |v| {
            v["events"][0]["heartbeat_counter"]
                .as_u64()
                .is_some_and(|n| n >= 3)
        },
        |v| {
            books[0].apply_frame(v, "BTC-USD");
            books[1].apply_frame(v, "ETH-USD");
        },
    )
    .await;
    sim.signal(signal);
    let (status, _, lines) = sim.wait();
    assert!(status.success(), "{status:?} {lines:#?}");
    assert!(lines.iter().any(|l| l.contains(signal)), "{lines:#?}");
    let text = std::fs::read_to_string(&dump).unwrap();
    // The client's form: compact JSON, products in sorted key order, each book's fields in the
    // order state, sequence_num, bids, asks, one final newline.
    assert!(
        text.starts_with("{\"BTC-USD\":{\"state\":\"live\",\"sequence_num\":"),
        "{:.80}",
        text
    );
    assert!(text.contains("},\"ETH-USD\":{\"state\":\"live\",\"sequence_num\":"));
    // The last product ends with its ticker (the simulator always has one).
    assert!(
        text.ends_with("}}}\n") && !text.ends_with("\n\n"),
        "{}",
        &text[text.len() - 40..]
    );
    for book in text.split("\"sequence_num\":").skip(1) {
        let after_number = book.trim_start_matches(|c: char| c.is_ascii_digit());
        assert!(
            after_number.starts_with(",\"bids\":[["),
            "{:.40}",
            after_number
        );
        assert!(after_number.contains("]],\"asks\":[["));
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2);
    for (book, product) in books.iter().zip(["BTC-USD", "ETH-USD"]) {
        let (bids, asks) = book.dump_sides();
        assert_eq!(v[product]["state"], "live");
        assert!(v[product]["sequence_num"].as_u64().unwrap() > 0);
        assert_eq!(v[product]["bids"], bids, "{product}");
        assert_eq!(v[product]["asks"], asks, "{product}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_book_on_sigterm() {
    dump_book_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_book_on_sigint() {
    dump_book_on("INT").await;
}

fn write_cert(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, ck.cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_wss_with_the_given_certificate() {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, cert_pem) = write_cert(dir.path());
    let sim = start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(sim.url.starts_with("wss://127.0.0.1:"), "{}", sim.url);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut c = Client::connect_with(
        &sim.url,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls))),
    )
    .await;
    c.subscribe("level2", &["BTC-USD"]).await;
    let snap = c.next().await;
    assert_eq!(snap["events"][0]["type"], "snapshot");
    // A client speaking plain ws:// to it is refused, and the refusal is logged.
    let plain = sim.url.replacen("wss://", "ws://", 1);
    let attempt = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(plain)).await;
    assert!(matches!(attempt, Ok(Err(_))), "plain ws:// must fail");
    let mut seen = Vec::new();
    sim.wait_for_log("refused: TLS handshake failed", &mut seen);
    // Unusable TLS files fail before listening, saying which.
    let err = fails(&[
        "--tls-cert",
        key.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(err.contains("--tls-cert"), "{err}");
    let err = fails(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        cert.to_str().unwrap(),
    ]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = fails(&["--tls-cert", cert.to_str().unwrap()]);
    assert!(err.contains("--tls-key"), "{err}");
}

/// What a short headless client run against `url` trusting `ca` printed on stderr.
fn headless_client_stderr(url: &str, ca: &Path) -> String {
    let out = common::run_env(
        &[
            "--url",
            url,
            "--headless",
            "--duration",
            "2",
            "--ca-cert",
            ca.to_str().unwrap(),
            "BTC-USD",
        ],
        &[],
        Duration::from_secs(60),
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_ca_certificate_served_as_the_servers_own_is_explained_and_the_documented_one_works() {
    let dir = tempfile::tempdir().unwrap();
    // CA:TRUE, as `openssl req -x509` makes by default.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = params.self_signed(&key).unwrap();
    let (cert, key_file) = (dir.path().join("ca.pem"), dir.path().join("ca-key.pem"));
    std::fs::write(&cert, ca_cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let sim = start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ]);
    let err = headless_client_stderr(&sim.url, &cert);
    assert!(
        err.contains("the server's certificate is a CA certificate used as the server's own")
            && err.contains("CA:FALSE"),
        "{err}"
    );
    assert!(!err.contains("\"snapshot\""), "{err}");
    drop(sim);

    // The command docs/sim.md gives makes a certificate the client trusts with --ca-cert.
    let docs = std::fs::read_to_string(repo().join("docs/sim.md")).unwrap();
    let command = docs
        .lines()
        .find(|l| l.starts_with("openssl req -x509"))
        .expect("docs/sim.md gives an openssl command");
    assert!(
        command.contains("basicConstraints=critical,CA:FALSE"),
        "{command}"
    );
    let has_openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_openssl {
        eprintln!("openssl is not installed: the documented command was not run");
        return;
    }
    let made = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (cert, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let sim = start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ]);
    let out = headless_client_stderr(&sim.url, &cert);
    assert!(out.contains("\"snapshot\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_key_takes_a_key_file_or_a_name_and_public_pem() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ed.pub.pem");
    std::fs::write(&pem, cbbook::sim::DEMO_PUBLIC_KEYS[1].1).unwrap();
    let es_file = repo().join("assets/demo-key.json");
    let named = format!("{}={}", cbbook::sim::DEMO_PUBLIC_KEYS[1].0, pem.display());
    let sim = start(&[
        "--authorized-key",
        es_file.to_str().unwrap(),
        "--authorized-key",
        &named,
    ]);
    let mut c = Client::connect(&sim.url).await;
    for (i, file) in ["demo-key.json", "demo-key-ed25519.json"]
        .into_iter()
        .enumerate()
    {
        let key = auth::load_key_file(&repo().join("assets").join(file)).unwrap();
        c.send(json!({"type":"subscribe","channel":"user","product_ids":[],"jwt":key.ws_jwt(auth::now_unix())}))
            .await;
        let snap = c.next().await;
        assert_eq!(snap["channel"], "user", "{file}: {snap}");
        assert_eq!(seq(&snap), 2 * i as u64);
        c.next().await;
    }
    // Without the flag, the same keys are strangers.
    let bare = start(&[]);
    let mut c = Client::connect(&bare.url).await;
    let key = auth::load_key_file(&es_file).unwrap();
    c.send(json!({"type":"subscribe","channel":"user","product_ids":[],"jwt":key.ws_jwt(auth::now_unix())}))
        .await;
    let e = c.next().await;
    assert!(
        e["reason"].as_str().unwrap().starts_with("key_unknown: "),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_and_clock_flags_work_from_the_command_line() {
    let sim = start(&[
        "--gap-every",
        "4",
        "--clock-skew-ms",
        "-3600000",
        "--disconnect-every",
        "2",
        "--updates-per-sec",
        "300",
        "--port",
        "0",
    ]);
    let mut c = Client::connect(&sim.url).await;
    c.subscribe("level2", &["BTC-USD"]).await;
    let mut last = None;
    let mut gaps = 0;
    let mut skew_ok = false;
    let end = loop {
        match c.next_within(WAIT).await {
            Next::Frame(v) => {
                let s = seq(&v);
                if let Some(l) = last {
                    if s != l + 1 {
                        gaps += 1;
                    }
                }
                last = Some(s);
                let ts =
                    chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
                let behind = (chrono::Utc::now() - ts.with_timezone(&chrono::Utc)).num_seconds();
                skew_ok = (3590..3610).contains(&behind);
                assert!(skew_ok, "{behind} s behind");
            }
            other => break other,
        }
    };
    assert!(matches!(end, Next::Dropped(_)), "{end:?}");
    assert!(gaps >= 5, "{gaps}");
    assert!(skew_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_after_from_the_command_line() {
    let sim = start(&["--stall-after", "1", "--products", "ETH-USD"]);
    let mut c = Client::connect(&sim.url).await;
    c.subscribe("heartbeats", &[]).await;
    let mut frames = 0;
    loop {
        match c.next_within(Duration::from_millis(2500)).await {
            Next::Frame(_) => frames += 1,
            Next::Silent => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(frames >= 1);
    let mut seen = Vec::new();
    sim.wait_for_log("stalled (--stall-after)", &mut seen);
}

#[test]
fn fixed_port_and_seed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, name: &str, port: Option<u16>| {
        let dump = dir.path().join(name);
        let port_text = port.unwrap_or(0).to_string();
        let sim = start(&[
            "--seed",
            seed,
            "--updates-per-sec",
            "0",
            "--port",
            &port_text,
            "--dump-book",
            dump.to_str().unwrap(),
        ]);
        if let Some(p) = port {
            assert_eq!(sim.url, format!("ws://127.0.0.1:{p}"));
        }
        sim.signal("TERM");
        assert!(sim.wait().0.success());
        std::fs::read(dump).unwrap()
    };
    let a = run("7", "a.json", Some(port));
    let b = run("7", "b.json", None);
    let c = run("8", "c.json", None);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn book_flag_seeds_a_product_from_the_real_book() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("d.json");
    let sim = start(&[
        "--book",
        fixture().to_str().unwrap(),
        "--products",
        "ETH-USD",
        "--updates-per-sec",
        "0",
        "--dump-book",
        dump.to_str().unwrap(),
    ]);
    sim.signal("TERM");
    assert!(sim.wait().0.success());
    let v: Value = serde_json::from_slice(&std::fs::read(dump).unwrap()).unwrap();
    assert_eq!(v["BTC-USD"]["bids"].as_array().unwrap().len(), 18_376);
    assert_eq!(v["BTC-USD"]["asks"].as_array().unwrap().len(), 27_017);
    assert_eq!(v["BTC-USD"]["bids"][0], json!(["64930.57", "0.07705309"]));
    assert!(v["ETH-USD"].is_object());
}

#[test]
fn write_corpus_is_a_reproducible_recording() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        let out = Command::new(common::cbbook_bin())
            .args([
                "sim",
                "--write-corpus",
                path.to_str().unwrap(),
                "--updates",
                "3000",
            ])
            .args([
                "--book",
                fixture().to_str().unwrap(),
                "--products",
                "BTC-USD",
            ])
            .args(["--seed", seed])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("3000 updates"));
        std::fs::read_to_string(path).unwrap()
    };
    let a = write("a.jsonl", "5");
    assert_eq!(a, write("b.jsonl", "5"), "same seed, same bytes");
    assert_ne!(a, write("c.jsonl", "6"));
    let mut updates = 0;
    let mut book = TestBook::default();
    for (i, line) in a.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(seq(&v), i as u64);
        if i == 0 {
            assert_eq!(v["events"][0]["type"], "snapshot");
            assert_eq!(v["events"][0]["updates"].as_array().unwrap().len(), 45_393);
        }
        if v["channel"] == "l2_data" && v["events"][0]["type"] == "update" {
            let n = v["events"][0]["updates"].as_array().unwrap().len();
            assert!((1..=15).contains(&n));
            updates += n;
        }
        book.apply_frame(&v, "BTC-USD");
        assert!(!book.is_crossed());
    }
    assert_eq!(updates, 3000);
}

#[test]
fn bad_flags_fail_before_listening_and_say_what_to_do() {
    let cases: [(&[&str], &str); 9] = [
        (&["--bind", "nowhere"], "--bind"),
        (&["--gap-every", "1"], "--gap-every"),
        (
            &["--book", "/no/such/book.json.gz"],
            "cannot read book file",
        ),
        (&["--products", "btc-usd"], "not a product id"),
        (&["--stall-after", "0"], "--stall-after"),
        (
            &["--authorized-key", "/no/such/key.json"],
            "NAME=PUBLIC_KEY.pem",
        ),
        (&["--updates-per-sec", "1e12"], "--updates-per-sec"),
        // A device or huge file as a public key is refused without reading it all.
        (
            &["--authorized-key", "organizations/o/apiKeys/k=/dev/zero"],
            "file_too_large",
        ),
        (&["--authorized-key", "=/dev/null"], "the key name is empty"),
    ];
    for (args, expected) in cases {
        let err = fails(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = fails(&["--port", &port]);
    assert!(err.contains("cannot listen on 127.0.0.1:"), "{err}");
}

#[test]
fn a_dump_book_path_that_cannot_be_written_fails_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/books.json");
    let err = fails(&["--port", "0", "--dump-book", missing.to_str().unwrap()]);
    assert!(err.contains("--dump-book"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let err = fails(&["--port", "0", "--dump-book", dir.path().to_str().unwrap()]);
    assert!(err.contains("is a directory"), "{err}");
    // The check leaves nothing behind, and a good path still serves.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let good = dir.path().join("books.json");
    let sim = start(&["--port", "0", "--dump-book", good.to_str().unwrap()]);
    assert!(!good.exists());
    drop(sim);
}

#[test]
fn a_client_that_is_not_websocket_is_refused_and_logged() {
    use std::io::Write;
    let sim = start(&[]);
    let addr = sim.url.strip_prefix("ws://").unwrap().to_string();
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // The server hangs up (read ends instead of timing out).
    let mut answer = Vec::new();
    assert!(tcp.read_to_end(&mut answer).is_ok());
    let mut seen = Vec::new();
    sim.wait_for_log("refused: not a WebSocket handshake", &mut seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stderr_nobody_reads_any_more_does_not_stop_serving() {
    let sim = start_with(&["--products", "BTC-USD"], false);
    // Every connection logs lines that can no longer be written; each must still be served.
    for round in 0..3 {
        let mut c = Client::connect(&sim.url).await;
        c.subscribe("level2", &["BTC-USD"]).await;
        let snapshot = c
            .until(
                |v| v["channel"] == "l2_data" && v["events"][0]["type"] == "snapshot",
                |_| {},
            )
            .await;
        assert_eq!(
            snapshot["events"][0]["product_id"], "BTC-USD",
            "round {round}"
        );
    }
    sim.signal("TERM");
    let (status, _, lines) = sim.wait();
    assert!(status.success(), "{status:?}");
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_client_text_is_cut_in_frames_and_log_lines() {
    let sim = start(&[]);
    let mut c = Client::connect(&sim.url).await;
    let huge = "A".repeat(1_000_000);
    let mut seen = Vec::new();
    for message in [
        json!({"type":"subscribe","channel":"level2","product_ids":[format!("X-{huge}")]}),
        json!({"type":"subscribe","channel":huge,"product_ids":["BTC-USD"]}),
        json!({"type":huge,"channel":"level2","product_ids":["BTC-USD"]}),
        json!({"type":"subscribe","channel":"level2","product_ids":[{"a":huge}]}),
    ] {
        c.send(message).await;
        let raw = c.next_raw(WAIT).await.unwrap();
        assert!(raw.len() < 1500, "an error frame of {} bytes", raw.len());
        let frame: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(frame["type"], "error", "{frame}");
        assert!(
            frame["reason"].as_str().unwrap().contains("(cut: "),
            "{frame}"
        );
    }
    // Every refusal was logged, each on a line of sane length that notes the cut.
    sim.wait_for_log("refused", &mut seen);
    while seen.iter().filter(|l| l.contains("refused")).count() < 4 {
        let line = sim.stderr.recv_timeout(WAIT).unwrap();
        seen.push(line);
    }
    for line in seen.iter().filter(|l| l.contains("refused")) {
        assert!(line.len() < 2500, "a log line of {} bytes", line.len());
        assert!(line.contains("(cut: "), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_closed_with_1009_and_logged_as_such() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let sim = start(&[]);
    let mut c = Client::connect(&sim.url).await;
    let big = format!(
        "{{\"type\":\"subscribe\",\"channel\":\"level2\",\"product_ids\":[\"{}\"]}}",
        "B".repeat(3 << 20)
    );
    // The server may stop reading before all of it is sent.
    let _ = c.ws.send(Message::text(big)).await;
    let code = tokio::time::timeout(WAIT, async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("no close frame in time");
    assert_eq!(code, Some(CloseCode::Size));
    let mut seen = Vec::new();
    sim.wait_for_log("closed after", &mut seen);
    let line = seen.iter().find(|l| l.contains("closed after")).unwrap();
    assert!(line.contains("over the size limit"), "{line}");
    assert!(!line.contains("went away"), "{line}");
}

#[test]
fn start_up_errors_exit_1_when_stderr_cannot_be_written() {
    let cases: [&[&str]; 3] = [
        // Reported by main.
        &["sim", "--bind", "nowhere"],
        &["sim", "--dump-book", "/no/such/dir/books.json"],
        // Reported by the viewer's start-up (an unusable key).
        &["--headless", "--key", "/no/such/key.json", "BTC-USD"],
    ];
    for args in cases {
        // A full device.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(common::cbbook_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(full)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} with stderr on /dev/full"
        );
        // A pipe whose reader has left.
        let mut child = Command::new(common::cbbook_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let status = common::wait_output(child, WAIT, "cbbook").status;
        assert_eq!(status.code(), Some(1), "{args:?} with stderr's reader gone");
    }
}

#[test]
fn a_bad_orders_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key = repo().join("assets").join("demo-key.json");
    let key = key.to_str().unwrap();
    let file = dir.path().join("orders.json");
    let orders = file.to_str().unwrap();
    std::fs::write(&file, r#"{"organizations/x/apiKeys/y":[]}"#).unwrap();
    let err = fails(&["--authorized-key", key, "--orders", orders]);
    assert!(err.contains("is not trusted by the simulator"), "{err}");
    assert!(err.contains("--authorized-key"), "{err}");
    std::fs::write(&file, "{not json").unwrap();
    let err = fails(&["--authorized-key", key, "--orders", orders]);
    assert!(
        err.contains(&format!("--orders {orders}: key must be a string")),
        "{err}"
    );
    let err = fails(&["--orders", "/no/such/orders.json"]);
    assert!(
        err.contains("--orders /no/such/orders.json: cannot read it"),
        "{err}"
    );
}
