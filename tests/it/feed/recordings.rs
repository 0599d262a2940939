//! Compressed recordings (zstd, gzip) through the binary: recorded live against `cbbook sim`,
//! replayed to the live books, a recording killed mid-write replayed up to its last flush
//! (docs/recording.md, "Compressed recordings").

use crate::support::common::{self, Reap, path_str, run_env};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cbbook::feed::record::{Entry, RecordReader};

fn run(args: &[&str]) -> std::process::Output {
    run_env(args, &[], Duration::from_secs(90))
}

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Replays `file` headless and returns the dump and stderr.
pub(super) fn replay_dump(file: &Path, dir: &Path) -> (String, String) {
    let dump = dir.join(format!(
        "replayed-{}.json",
        file.file_name().unwrap().to_string_lossy()
    ));
    let log = dir.join("replay.log");
    let out = run(&[
        "replay",
        path_str(file),
        "--headless",
        "--dump-book",
        path_str(&dump),
        "--log-file",
        path_str(&log),
    ]);
    let stderr = ok(&out);
    (std::fs::read_to_string(&dump).unwrap(), stderr)
}

/// The receive time of the last entry of a recording, read the way replay reads it.
fn last_time(file: &Path) -> i64 {
    let mut reader = RecordReader::open(file).unwrap();
    let mut last = 0;
    while let Some(entry) = reader.next_entry().unwrap() {
        last = match entry {
            Entry::Frame { t_ms: Some(t), .. }
            | Entry::Connect { t_ms: t, .. }
            | Entry::Disconnect { t_ms: t, .. }
            | Entry::Resync { t_ms: t }
            | Entry::Binary { t_ms: t, .. }
            | Entry::Unread { t_ms: t, .. } => t,
            Entry::Frame { t_ms: None, .. } => last,
        };
    }
    last
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn zstd_and_gzip_recordings_replay_to_the_live_books() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = common::start_sim(&[], None);
    for (name, magic) in [
        ("s.jsonl.zst", &b"\x28\xB5\x2F\xFD"[..]),
        ("s.jsonl.gz", &b"\x1F\x8B"[..]),
    ] {
        let record = dir.path().join(name);
        let live = dir.path().join(format!("live-{name}.json"));
        let log = dir.path().join("live.log");
        let out = run(&[
            "--url",
            &url,
            "--headless",
            "--duration",
            "3",
            "--dump-book",
            path_str(&live),
            "--record",
            path_str(&record),
            "--log-file",
            path_str(&log),
            "BTC-USD",
            "ETH-USD",
        ]);
        ok(&out);
        let bytes = std::fs::read(&record).unwrap();
        assert!(bytes.starts_with(magic), "{name} is not compressed");
        let (replayed, stderr) = replay_dump(&record, dir.path());
        let live = std::fs::read_to_string(&live).unwrap();
        assert!(live.contains("BTC-USD") && live.contains("ETH-USD"), "{live:.200}");
        assert_eq!(replayed, live, "{name}");
        // Finished cleanly: no word of damage.
        assert!(!stderr.contains("ends early"), "{name}: {stderr}");

        // A second run to the same compressed file is refused (a stream cannot be appended to
        // safely), with what to do.
        let out = run(&[
            "--url",
            &url,
            "--headless",
            "--duration",
            "1",
            "--record",
            path_str(&record),
            "--log-file",
            path_str(&log),
            "BTC-USD",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("already exists") && stderr.contains("never appended to"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&record).unwrap(), bytes, "the file was left as it was");
    }
}

#[test]
fn a_compressed_recording_killed_mid_write_replays_up_to_its_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = common::start_sim(&[], None);
    for name in ["killed.jsonl.zst", "killed.jsonl.gz"] {
        let record = dir.path().join(name);
        let log = dir.path().join("live.log");
        let child = Command::new(common::cbbook_bin())
            .args([
                "--url",
                &url,
                "--headless",
                "--record",
                path_str(&record),
                "--log-file",
                path_str(&log),
                "BTC-USD",
                "ETH-USD",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = Reap(child);
        // Long enough for the snapshots and a few seconds of updates.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            assert!(child.0.try_wait().unwrap().is_none(), "cbbook ended early");
            std::thread::sleep(Duration::from_millis(100));
        }
        let killed_at = now_ms();
        child.0.kill().unwrap();
        child.0.wait().unwrap();

        let (replayed, stderr) = replay_dump(&record, dir.path());
        assert!(
            stderr.contains("ends early or is damaged"),
            "{name}: {stderr}"
        );
        let dump: serde_json::Value = serde_json::from_str(&replayed).unwrap();
        for product in ["BTC-USD", "ETH-USD"] {
            let book = &dump[product];
            assert!(
                book["bids"].as_array().is_some_and(|b| !b.is_empty())
                    && book["asks"].as_array().is_some_and(|a| !a.is_empty()),
                "{name}: {product}: {book:.200}"
            );
        }
        // At most about a second lost: the flush interval, plus the time the kill took.
        let last = last_time(&record);
        assert!(
            killed_at - last < 1_500,
            "{name}: the last entry read is {} ms before the kill",
            killed_at - last
        );
    }
}
