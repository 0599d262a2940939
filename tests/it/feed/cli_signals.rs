//! The binary stopped by signals while it runs headless (live and replay), and a recording that
//! fails while a live run goes on: each ends with its dump, its stats and its exit status.

use crate::support::common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Reap, path_str};

use super::cli::{read_json, run, small_recording, start_sim};

/// Starts `cbbook ARGS` with stderr read line by line on a thread.
fn spawn_with_stderr_lines(args: &[&str]) -> (Reap, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(common::cbbook_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Reap(child), rx)
}

/// Lines until one contains `needle` (failing after a generous limit).
fn lines_until(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {needle:?} in {seen:#?}"),
        }
    }
}

/// Sends `signal` to the child, waits for it to end, and returns its exit code and the rest of
/// its stderr.
fn signal_and_wait(
    child: &mut Reap,
    rx: &std::sync::mpsc::Receiver<String>,
    signal: &str,
) -> (Option<i32>, Vec<String>) {
    let sent = Command::new("kill")
        .args([signal, &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{signal} did not stop the run"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> =
        std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(10)).ok()).collect();
    (status.code(), rest)
}

#[test]
fn ctrl_c_and_sigterm_stop_a_headless_replay_with_its_dump_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = (dir.path().join("rec.jsonl"), dir.path().join("l.log"));
    // Paced at recorded speed, the last update is 50 s away.
    small_recording(&rec, 51_000);
    for signal in ["-INT", "-TERM"] {
        let dump = dir.path().join(format!("d{signal}.json"));
        let (mut child, rx) = spawn_with_stderr_lines(&[
            "replay",
            path_str(&rec),
            "--headless",
            "--speed",
            "1",
            "--stats",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
        ]);
        lines_until(&rx, "\"event\":\"snapshot\"");
        // The update recorded at the snapshot's time follows it at once, but prints nothing:
        // give a loaded machine time to apply it before the signal (the next entry is 50 s
        // away, so waiting cannot overshoot).
        std::thread::sleep(Duration::from_millis(500));
        let (code, rest) = signal_and_wait(&mut child, &rx, signal);
        assert_eq!(code, Some(0), "{signal}: {rest:#?}");
        assert!(
            rest.iter()
                .any(|l| l.contains("stopping; the dump and stats follow")),
            "{rest:#?}"
        );
        let last = rest.last().unwrap();
        assert!(
            last.starts_with("frames=2 updates=2 "),
            "{signal}: {rest:#?}"
        );
        // The book as it was when the signal came: before the last update.
        let book = read_json(&dump);
        assert_eq!(
            book["BTC-USD"]["bids"],
            serde_json::json!([["100", "1"]]),
            "{signal}"
        );
    }
}

#[test]
fn sigterm_stops_a_headless_live_run_with_its_dump_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (dump, log) = (dir.path().join("d.json"), dir.path().join("l.log"));
    let (_sim, url) = start_sim(&["--updates-per-sec", "20"]);
    let (mut child, rx) = spawn_with_stderr_lines(&[
        "--url",
        &url,
        "--headless",
        "--duration",
        "120",
        "--stats",
        "--dump-book",
        path_str(&dump),
        "--log-file",
        path_str(&log),
        "BTC-USD",
    ]);
    lines_until(&rx, "\"event\":\"snapshot\"");
    let started = Instant::now();
    let (code, rest) = signal_and_wait(&mut child, &rx, "-TERM");
    assert_eq!(code, Some(0), "{rest:#?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(rest.last().unwrap().starts_with("frames="), "{rest:#?}");
    let book = read_json(&dump);
    assert!(
        !book["BTC-USD"]["bids"].as_array().unwrap().is_empty(),
        "{book}"
    );
}

#[test]
fn a_failing_recording_is_its_own_event_and_a_failing_stderr_does_not_stop_a_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    let (_sim, url) = start_sim(&["--updates-per-sec", "20"]);
    let out = run(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "3",
            "--record",
            "/dev/full",
            "--log-file",
            path_str(&log),
            "BTC-USD",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stopped: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "recording_stopped")
        .collect();
    assert_eq!(stopped.len(), 1, "{stderr}");
    assert_eq!(stopped[0]["path"], "/dev/full");
    assert!(
        stopped[0]["error"]
            .as_str()
            .unwrap()
            .contains("No space left on device"),
        "{stderr}"
    );
    assert!(
        !events.iter().any(|e| e["event"] == "bad_frame"),
        "{stderr}"
    );
    // Live headless with stderr on a full device: the run ends normally, with its dump.
    let dump = dir.path().join("d.json");
    let child = Command::new(common::cbbook_bin())
        .args([
            "--url",
            &url,
            "--headless",
            "--duration",
            "3",
            "--stats",
            "--dump-book",
            path_str(&dump),
        ])
        .args(["--log-file", path_str(&log), "BTC-USD"])
        .stdout(std::process::Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let status = common::wait_output(child, Duration::from_secs(60), "live headless").status;
    assert!(status.success(), "{status:?}");
    assert!(
        !read_json(&dump)["BTC-USD"]["bids"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
