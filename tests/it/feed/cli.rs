//! The feed through the `cbbook` binary: the issue's "done when" scenario (headless live against
//! `cbbook sim` with gaps, disconnects and a frozen market), headless replay of the recording it
//! made, replay of a bare-frame corpus against an independent model, and broken lines.

use crate::support::common;
use crate::support::feed as feed_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{Reap, path_str, run_env};
use feed_support::{assert_same_books, without_sequence_nums};
use rust_decimal::Decimal;
use serde_json::Value;

/// Starts `cbbook sim ARGS` and returns it with its URL.
pub(super) fn start_sim(args: &[&str]) -> (Reap, String) {
    common::start_sim(args, None)
}

/// Runs the binary to completion (with a generous limit).
pub(super) fn run(args: &[&str], limit: Duration) -> Output {
    run_env(args, &[], limit)
}

/// Replays `input` headless with `--stats`, dumping the books to `dump`; the run must succeed.
fn replay_with_stats(input: &Path, dump: &Path, log: &Path) -> Output {
    let out = run(
        &[
            "replay",
            path_str(input),
            "--headless",
            "--dump-book",
            path_str(dump),
            "--stats",
            "--log-file",
            path_str(log),
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `--stats` line: the last line of stderr, as ordered (key, value) pairs.
fn stats(stderr: &[u8]) -> Vec<(String, u64)> {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().last().unwrap_or_default().to_owned();
    // A live run's line ends with ` clock_offset_ms=N auth=WORD` (feed/clock.rs checks them).
    let counters = match last.split_once(" clock_offset_ms=") {
        Some((counters, rest)) => {
            assert!(rest.contains(" auth="), "{last}");
            counters
        }
        None => last.as_str(),
    };
    let pairs: Vec<(String, u64)> = counters
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("not a stats line: {last:?}"));
            (
                k.to_owned(),
                v.parse()
                    .unwrap_or_else(|_| panic!("not a number in {last:?}")),
            )
        })
        .collect();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "frames",
            "updates",
            "gaps",
            "resyncs",
            "reconnects",
            "errors",
            "crossed",
            "trades",
            "elapsed_ms",
            "updates_per_s",
            "connections"
        ],
        "{last}"
    );
    pairs
}

fn stat(pairs: &[(String, u64)], key: &str) -> u64 {
    pairs.iter().find(|(k, _)| k == key).unwrap().1
}

pub(super) fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn headless_live_survives_gaps_and_disconnects_and_ends_with_the_simulators_books() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let record = dir.path().join("session.jsonl");
    let log = dir.path().join("cbbook.log");
    let (mut sim, url) = start_sim(&[
        "--gap-every",
        "300",
        "--disconnect-every",
        "4",
        "--stop-updates-after",
        "9",
        "--dump-book",
        path_str(&b),
    ]);
    let out = run(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "15",
            "--dump-book",
            path_str(&a),
            "--stats",
            "--record",
            path_str(&record),
            "--log-file",
            path_str(&log),
            "BTC-USD",
            "ETH-USD",
        ],
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = Command::new("kill")
        .args(["-TERM", &sim.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while sim.0.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "cbbook sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (client, server) = (read_json(&a), read_json(&b));
    assert_same_books(&client, &server, &["BTC-USD", "ETH-USD"]);
    // Same form byte for byte (key order, formatting), `sequence_num` aside (docs/sim.md).
    let (a_text, b_text) = (
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&b).unwrap(),
    );
    assert!(
        without_sequence_nums(&a_text) == without_sequence_nums(&b_text),
        "the dumps differ beyond sequence_num:\nclient: {a_text:.300}\nsim:    {b_text:.300}"
    );

    let pairs = stats(&out.stderr);
    assert!(stat(&pairs, "gaps") >= 1, "{pairs:?}");
    assert!(stat(&pairs, "resyncs") >= stat(&pairs, "gaps"), "{pairs:?}");
    assert!(stat(&pairs, "reconnects") >= 2, "{pairs:?}");
    assert!(stat(&pairs, "updates") > 1000, "{pairs:?}");
    assert!(stat(&pairs, "elapsed_ms") >= 15_000, "{pairs:?}");
    // Events on stderr are JSON lines, and the log went to the file asked for.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with(r#"{"event":"gap""#)),
        "{stderr}"
    );
    assert!(std::fs::metadata(&log).unwrap().len() > 0);

    // The recording replays headless to the same dump, and the same counters.
    let replayed = dir.path().join("replayed.json");
    let out = replay_with_stats(&record, &replayed, &log);
    assert_eq!(
        std::fs::read_to_string(&replayed).unwrap(),
        std::fs::read_to_string(&a).unwrap()
    );
    let replay_pairs = stats(&out.stderr);
    for key in ["frames", "updates", "gaps", "resyncs", "errors"] {
        assert_eq!(stat(&replay_pairs, key), stat(&pairs, key), "{key}");
    }

    // Broken lines are counted and skipped; the books do not change.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&record)
        .unwrap();
    file.write_all(b"{\"t\":1,\"frame\":{\"channel\":\"l2_da\n{\"t\":2,\"text\":\"\xff\xfe\"}\n{\"t\":\"no\"}\n")
        .unwrap();
    drop(file);
    let out = run(
        &[
            "replay",
            path_str(&record),
            "--headless",
            "--dump-book",
            path_str(&replayed),
            "--log-file",
            path_str(&log),
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 3 broken line(s)"));
    assert_eq!(
        std::fs::read_to_string(&replayed).unwrap(),
        std::fs::read_to_string(&a).unwrap()
    );
}

/// A naive model of a book: price -> size per side, exact decimals, zero removes.
type Side = BTreeMap<Decimal, Decimal>;

fn model_books(corpus: &str) -> BTreeMap<String, (Side, Side)> {
    let mut books: BTreeMap<String, (Side, Side)> = BTreeMap::new();
    for line in corpus.lines() {
        let frame: Value = serde_json::from_str(line).unwrap();
        if frame["channel"] != "l2_data" {
            continue;
        }
        for event in frame["events"].as_array().unwrap() {
            let product = event["product_id"].as_str().unwrap().to_owned();
            let book = books.entry(product).or_default();
            if event["type"] == "snapshot" {
                *book = Default::default();
            }
            for u in event["updates"].as_array().unwrap() {
                let side = if u["side"] == "bid" {
                    &mut book.0
                } else {
                    &mut book.1
                };
                let price = Decimal::from_str(u["price_level"].as_str().unwrap())
                    .unwrap()
                    .normalize();
                let size = Decimal::from_str(u["new_quantity"].as_str().unwrap())
                    .unwrap()
                    .normalize();
                if size.is_zero() {
                    side.remove(&price);
                } else {
                    side.insert(price, size);
                }
            }
        }
    }
    books
}

fn model_side(side: &Side, best_first_descending: bool) -> Value {
    let rows: Vec<Value> = if best_first_descending {
        side.iter()
            .rev()
            .map(|(p, s)| serde_json::json!([p.to_string(), s.to_string()]))
            .collect()
    } else {
        side.iter()
            .map(|(p, s)| serde_json::json!([p.to_string(), s.to_string()]))
            .collect()
    };
    Value::Array(rows)
}

#[test]
fn a_bare_frame_corpus_replays_to_an_independent_model() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.jsonl");
    let dump = dir.path().join("dump.json");
    let log = dir.path().join("cbbook.log");
    let out = run(
        &[
            "sim",
            "--write-corpus",
            path_str(&corpus),
            "--updates",
            "20000",
            "--seed",
            "7",
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&corpus).unwrap();
    assert!(
        !text.starts_with("{\"t\":"),
        "the corpus is meant to be bare frames"
    );
    let out = replay_with_stats(&corpus, &dump, &log);
    let pairs = stats(&out.stderr);
    assert_eq!(stat(&pairs, "gaps"), 0, "{pairs:?}");
    assert!(stat(&pairs, "updates") >= 20_000, "{pairs:?}");
    let got = read_json(&dump);
    let model = model_books(&text);
    assert!(!model.is_empty());
    for (product, (bids, asks)) in &model {
        assert_eq!(got[product]["state"], "live", "{product}");
        assert_eq!(
            got[product]["bids"],
            model_side(bids, true),
            "{product} bids"
        );
        assert_eq!(
            got[product]["asks"],
            model_side(asks, false),
            "{product} asks"
        );
    }
}

/// Something that looks like a JWT (base64url of `{"`), anywhere in `text`.
fn jwt_like(text: &str) -> Option<&str> {
    text.find("eyJ").map(|i| &text[i..text.len().min(i + 60)])
}

#[test]
fn an_authenticated_session_leaks_no_jwt_and_reports_the_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("session.jsonl");
    let log = dir.path().join("cbbook.log");
    // This simulator trusts no key: the client must report the refusal and go public.
    let (_sim, url) = start_sim(&["--updates-per-sec", "20"]);
    let key = common::repo_root().join("assets/demo-key.json");
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
            "--record",
            path_str(&record),
            "--log-file",
            path_str(&log),
            "BTC-USD",
        ],
        &[(
            "RUST_LOG",
            "trace,tungstenite=trace,tokio_tungstenite=trace",
        )],
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let events: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rejected = events
        .iter()
        .find(|e| e["event"] == "auth_rejected")
        .expect("an auth_rejected event");
    assert_eq!(rejected["message"], "authentication failure");
    assert!(
        rejected["reason"]
            .as_str()
            .unwrap()
            .starts_with("key_unknown"),
        "{rejected}"
    );
    assert!(events.iter().any(|e| e["event"] == "fell_back_to_public"));
    assert!(
        events.iter().any(|e| e["event"] == "snapshot"),
        "public level2 works after the fallback"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("jwt(header="),
        "the log shows tokens as header and claims"
    );
    for (what, text) in [
        ("stderr", stderr.as_str()),
        ("stdout", &String::from_utf8_lossy(&out.stdout)),
        ("log", &log_text),
        ("recording", &std::fs::read_to_string(&record).unwrap()),
    ] {
        assert_eq!(jwt_like(text), None, "a JWT reached the {what}");
    }
}

#[test]
fn bad_command_lines_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cbbook.log");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--url", "http://x", "--headless", "BTC-USD"],
            "not a WebSocket URL",
        ),
        (
            &["--headless", "BTC-USD", "eth-usd"],
            "`eth-usd` is not a product id: ids are upper case; did you mean `ETH-USD`?",
        ),
        (
            &["--headless", "--duration", "1", "--url", "ws://127.0.0.1:9"],
            "no product given",
        ),
        (
            &["--headless", "--watchdog-secs", "0", "BTC-USD"],
            "--watchdog-secs",
        ),
        (
            &["replay", "/nonexistent/recording.jsonl", "--headless"],
            "cannot read the recording",
        ),
    ];
    for (args, expect) in cases {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--log-file", path_str(&log)]);
        let out = run(&all, Duration::from_secs(30));
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

// ---- Hostile files, output streams and signals (RELIABILITY.md section 7) ----

/// A snapshot (bid 100, ask 200) at t=1000, one update (bid 101) at `update_t`.
pub(super) fn small_recording(path: &Path, update_t: i64) {
    let frame = |seq: u64, kind: &str, side: &str, price: &str| {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{{"side":"{side}","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"1"}}]}}]}}"#
        )
    };
    let text = format!(
        "{{\"t\":1000,\"connect\":{{\"url\":\"ws://x\",\"authenticated\":false,\"products\":[\"BTC-USD\"]}}}}\n\
         {{\"t\":1000,\"frame\":{}}}\n{{\"t\":1000,\"frame\":{}}}\n{{\"t\":{update_t},\"frame\":{}}}\n",
        frame(0, "snapshot", "bid", "100"),
        frame(1, "update", "offer", "200"),
        frame(2, "update", "bid", "101"),
    );
    std::fs::write(path, text).unwrap();
}

/// The dump of `small_recording` replayed to its end.
fn assert_small_book(dump: &Path) {
    let book = read_json(dump);
    assert_eq!(
        book["BTC-USD"]["bids"],
        serde_json::json!([["101", "1"], ["100", "1"]])
    );
    assert_eq!(book["BTC-USD"]["asks"], serde_json::json!([["200", "1"]]));
}

fn assert_no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn replay_speeds_and_recorded_times_no_clock_can_wait_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, dump, log) = (
        dir.path().join("rec.jsonl"),
        dir.path().join("d.json"),
        dir.path().join("l.log"),
    );
    small_recording(&rec, 1500);
    let out = run(
        &[
            "replay",
            path_str(&rec),
            "--headless",
            "--speed",
            "1e-300",
            "--log-file",
            path_str(&log),
        ],
        Duration::from_secs(30),
    );
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--speed 1e-300 is too slow: use a factor of at least 0.001"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One corrupt time at recorded speed: the file still replays promptly, to the right book.
    small_recording(&rec, 999_999_999_999_999_999);
    let started = Instant::now();
    let out = run(
        &[
            "replay",
            path_str(&rec),
            "--headless",
            "--speed",
            "1",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("did not wait out 1 pause(s) of more than 60 s"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_small_book(&dump);
}

#[test]
fn an_endless_line_is_skipped_with_bounded_memory() {
    // 700 MiB without a line break (over the 384 MiB line limit, under the 768 MiB replay skips
    // in a row before it gives a file up), then a recording, through a pipe, under a 900 MB
    // address space limit (holding the line whole cannot fit): the line is skipped (counted as
    // broken) and the recording replays.
    let dir = tempfile::tempdir().unwrap();
    let (rec, dump, log) = (
        dir.path().join("rec.jsonl"),
        dir.path().join("d.json"),
        dir.path().join("l.log"),
    );
    small_recording(&rec, 1500);
    let script = format!(
        "ulimit -v 900000 && exec '{}' replay /dev/stdin --headless --dump-book '{}' --log-file '{}'",
        path_str(&common::cbbook_bin()),
        path_str(&dump),
        path_str(&log)
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let recording = std::fs::read(&rec).unwrap();
    let writer = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..700 {
            if stdin.write_all(&zeros).is_err() {
                return;
            }
        }
        let _ = stdin.write_all(b"\n");
        let _ = stdin.write_all(&recording);
    });
    let out = common::wait_output(child, Duration::from_secs(300), "replay of an endless line");
    writer.join().unwrap();
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let limit = format!(
        "skipped 1 broken line(s) (1 over the {} MiB line limit)",
        cbbook::feed::record::MAX_LINE_BYTES >> 20
    );
    assert!(stderr.contains(&limit), "{stderr}");
    assert_small_book(&dump);
}

#[test]
fn a_closed_or_full_stderr_loses_neither_the_dump_nor_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = (dir.path().join("rec.jsonl"), dir.path().join("l.log"));
    small_recording(&rec, 1500);
    for (i, closed) in [true, false].into_iter().enumerate() {
        let dump = dir.path().join(format!("d{i}.json"));
        let stderr = if closed {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::from(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
        };
        let mut child = Command::new(common::cbbook_bin())
            .args([
                "replay",
                path_str(&rec),
                "--headless",
                "--stats",
                "--dump-book",
                path_str(&dump),
            ])
            .args(["--log-file", path_str(&log)])
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        // Closed before the child writes anything: every write to stderr fails (EPIPE).
        drop(child.stderr.take());
        let status = common::wait_output(child, Duration::from_secs(60), "replay").status;
        assert!(status.success(), "closed={closed}: {status:?}");
        assert_small_book(&dump);
    }
}

#[test]
fn a_bad_dump_destination_fails_at_start_and_a_failing_dump_keeps_the_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = (dir.path().join("rec.jsonl"), dir.path().join("l.log"));
    // Paced, this recording takes 50 s: failing at the start must not wait for it.
    small_recording(&rec, 51_000);
    let missing = dir.path().join("no/such/dir/d.json");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec![
                "replay",
                path_str(&rec),
                "--headless",
                "--speed",
                "1",
                "--dump-book",
                path_str(&missing),
            ],
            "cannot write the book dump to",
        ),
        (
            vec![
                "replay",
                path_str(&rec),
                "--headless",
                "--dump-book",
                path_str(dir.path()),
            ],
            "is a directory: give the path of a file",
        ),
        (
            vec![
                "--headless",
                "--duration",
                "60",
                "--url",
                "ws://127.0.0.1:9",
                "--dump-book",
                path_str(&missing),
                "BTC-USD",
            ],
            "cannot write the book dump to",
        ),
    ];
    for (mut args, expect) in cases {
        args.extend(["--log-file", path_str(&log)]);
        let started = Instant::now();
        let out = run(&args, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{args:?} was not refused at start"
        );
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("{\"event\""), "{args:?} ran: {stderr}");
        assert!(
            stderr.matches("os error").count() <= 1,
            "cause printed twice: {stderr}"
        );
    }
    assert!(!missing.exists() && !dir.path().join("no").exists());
    // A dump that fails at the end (a full disk): the stats line is still printed, then the error.
    let out = run(
        &[
            "replay",
            path_str(&rec),
            "--headless",
            "--stats",
            "--dump-book",
            "/dev/full",
            "--log-file",
            path_str(&log),
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines[lines.len() - 2].starts_with("frames=3 updates=3 "),
        "{stderr}"
    );
    assert!(
        lines[lines.len() - 1].contains("cannot write the book dump to /dev/full"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("No space left").count(), 1, "{stderr}");
    assert!(stderr.contains("Check the disk has space"), "{stderr}");
}

#[test]
fn files_that_are_not_recordings_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    let (rec, dump) = (dir.path().join("rec.jsonl"), dir.path().join("d.json"));
    small_recording(&rec, 1500);
    // gzip and zstd are read; xz is not.
    let xz = dir.path().join("rec.jsonl.xz");
    std::fs::write(&xz, b"\xFD7zXZ\x00\x00\x04\xE6\xD6\xB4\x46").unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let binary = dir.path().join("blob.bin");
    std::fs::write(
        &binary,
        (0..200_000u32)
            .map(|i| (i * 7919 % 256) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let cases: [(&Path, &str); 4] = [
        (&xz, "xz-compressed: decompress it first (`unxz -k"),
        (&empty, "is empty: nothing to replay"),
        (&binary, "is not a cbbook recording or a file of frames"),
        (dir.path(), "is a directory: give the path of a file"),
    ];
    for (file, expect) in cases {
        let out = run(
            &[
                "replay",
                path_str(file),
                "--headless",
                "--dump-book",
                path_str(&dump),
                "--log-file",
                path_str(&log),
            ],
            Duration::from_secs(60),
        );
        assert_no_panic(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file:?}: {stderr}");
        assert!(stderr.contains(expect), "{file:?}: {stderr}");
        assert!(!stderr.contains("os error"), "{file:?}: {stderr}");
        assert!(
            stderr.lines().filter(|l| l.contains("bad_frame")).count() <= 100,
            "{file:?}"
        );
        assert!(!dump.exists(), "{file:?} left a dump");
    }
    // A byte-order mark in front of a recording changes nothing.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend(std::fs::read(&rec).unwrap());
    std::fs::write(&rec, with_bom).unwrap();
    let out = replay_with_stats(&rec, &dump, &log);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("broken line"));
    assert_small_book(&dump);
}

#[test]
fn an_unknown_product_is_refused_and_the_others_are_served_headless() {
    let dir = tempfile::tempdir().unwrap();
    let (dump, log) = (dir.path().join("a.json"), dir.path().join("cbbook.log"));
    let (_sim, url) = start_sim(&[]);
    let out = run(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "4",
            "--stats",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
            "BTC-USD",
            "FOO-BAR",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(r#"{"event":"product_refused""#)
                && l.contains(r#""product":"FOO-BAR""#)),
        "{stderr}"
    );
    let books = read_json(&dump);
    assert_eq!(books["BTC-USD"]["state"], "live", "{stderr}");
    assert!(books["BTC-USD"]["bids"].as_array().unwrap().len() > 10);
    assert_eq!(books["FOO-BAR"]["state"], "refused");
    assert_eq!(books["FOO-BAR"]["reason"], "FOO-BAR is not a valid product");
    assert_eq!(stat(&stats(&out.stderr), "errors"), 1);
}

#[test]
fn every_product_refused_ends_a_headless_run_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (dump, log) = (dir.path().join("a.json"), dir.path().join("cbbook.log"));
    let (_sim, url) = start_sim(&[]);
    let started = Instant::now();
    let out = run(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "25",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
            "FOO-BAR",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it waited for --duration"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "cbbook: the server refused every product: FOO-BAR (FOO-BAR is not a valid product)"
        ),
        "{stderr}"
    );
    assert_eq!(read_json(&dump)["FOO-BAR"]["state"], "refused");
}

#[test]
fn a_products_file_adds_products_in_order_and_a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (dump, log) = (dir.path().join("a.json"), dir.path().join("cbbook.log"));
    let list = dir.path().join("products.txt");
    std::fs::write(&list, "# majors\nETH-USD  # second tab\n\nBTC-USD\n").unwrap();
    let (_sim, url) = start_sim(&[]);
    let out = run(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "3",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
            "--products-file",
            path_str(&list),
            "BTC-USD",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cbbook: warning: BTC-USD is asked for more than once; it is shown once"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],\"channel\":\"level2\""#),
        "{stderr}"
    );
    let books = read_json(&dump);
    assert_eq!(books["BTC-USD"]["state"], "live", "{stderr}");
    assert_eq!(books["ETH-USD"]["state"], "live", "{stderr}");

    std::fs::write(&list, "BTC-USD\n\nsol-usd # lower case\n").unwrap();
    let out = run(
        &[
            "--headless",
            "--products-file",
            path_str(&list),
            "--log-file",
            path_str(&log),
        ],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:3: `sol-usd` is not a product id: ids are upper case; did you mean `SOL-USD`?",
            list.display()
        )),
        "{stderr}"
    );
}
