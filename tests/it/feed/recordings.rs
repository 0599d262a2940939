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
            | Entry::Continued { t_ms: t, .. }
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
        assert!(
            live.contains("BTC-USD") && live.contains("ETH-USD"),
            "{live:.200}"
        );
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
        assert_eq!(
            std::fs::read(&record).unwrap(),
            bytes,
            "the file was left as it was"
        );
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

/// The counter `key` of a `--stats` line (the last line of stderr).
fn stat(stderr: &str, key: &str) -> u64 {
    let last = stderr.lines().last().unwrap_or_default();
    last.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {last:?}"))
}

#[test]
fn a_rotating_recording_makes_files_that_each_replay_alone_to_whole_books() {
    let dir = tempfile::tempdir().unwrap();
    let files_dir = dir.path().join("rec");
    std::fs::create_dir(&files_dir).unwrap();
    let (_sim, url) = common::start_sim(&[], None);
    let live = dir.path().join("live.json");
    let log = dir.path().join("live.log");
    let base = files_dir.join("s.jsonl.zst");
    // Start just after a 2 s boundary, so that the run ends mid-period: its last file then has
    // had time for its snapshots.
    while now_ms().rem_euclid(2000) > 100 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = run(&[
        "--url",
        &url,
        "--headless",
        "--duration",
        "7",
        "--dump-book",
        path_str(&live),
        "--record",
        path_str(&base),
        "--record-rotate",
        "2s",
        "--log-file",
        path_str(&log),
        "BTC-USD",
        "ETH-USD",
    ]);
    ok(&out);
    assert!(!base.exists(), "the base name itself is not written");
    let mut files: Vec<_> = std::fs::read_dir(&files_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let stamp = name
            .strip_prefix("s-")
            .and_then(|n| n.strip_suffix(".jsonl.zst"))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            stamp.len() == 16
                && stamp.as_bytes()[8] == b'T'
                && stamp.ends_with('Z')
                && stamp[..8].bytes().all(|b| b.is_ascii_digit())
                && stamp[9..15].bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
    }
    let live = std::fs::read_to_string(&live).unwrap();
    for (i, file) in files.iter().enumerate() {
        // Every file but the first starts with the connection going on, then asks for
        // snapshots.
        let mut reader = RecordReader::open(file).unwrap();
        let mut kinds = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            kinds.push(match entry {
                Entry::Continued { info, .. } => {
                    assert_eq!(info.products, ["BTC-USD", "ETH-USD"]);
                    "continued"
                }
                Entry::Connect { .. } => "connect",
                Entry::Resync { .. } => "resync",
                _ => "other",
            });
        }
        if i == 0 {
            assert_eq!(kinds.first(), Some(&"connect"), "{file:?}");
        } else {
            assert_eq!(kinds.first(), Some(&"continued"), "{file:?}");
            assert!(kinds.contains(&"resync"), "{file:?}");
        }
        let dump = dir.path().join(format!("replay-{i}.json"));
        let out = run(&[
            "replay",
            path_str(file),
            "--headless",
            "--stats",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
        ]);
        let stderr = ok(&out);
        assert_eq!(stat(&stderr, "gaps"), 0, "{file:?}: {stderr}");
        assert!(!stderr.contains("ends early"), "{file:?}: {stderr}");
        let text = std::fs::read_to_string(&dump).unwrap();
        let books: serde_json::Value = serde_json::from_str(&text).unwrap();
        for product in ["BTC-USD", "ETH-USD"] {
            let book = &books[product];
            let best = |side: &str| {
                book[side][0][0]
                    .as_str()
                    .unwrap_or_else(|| panic!("{file:?}: {product}: {side}: {book:.300}"))
                    .parse::<f64>()
                    .unwrap()
            };
            assert!(best("bids") < best("asks"), "{file:?}: {product}");
        }
        if i + 1 == files.len() {
            assert_eq!(text, live, "the last file replays to the live books");
        }
    }
}

#[test]
fn bad_rotation_periods_and_rotation_without_a_recording_are_refused() {
    for (args, expect) in [
        (
            &["--record", "x.jsonl", "--record-rotate", "5x", "BTC-USD"][..],
            "unknown unit",
        ),
        (
            &["--record", "x.jsonl", "--record-rotate", "0s", "BTC-USD"][..],
            "at least 1s",
        ),
        (&["--record-rotate", "1h", "BTC-USD"][..], "--record"),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

#[test]
fn export_refuses_to_overwrite_tables_and_files_that_are_not_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.jsonl");
    std::fs::write(
        &rec,
        concat!(
            r#"{"t":1000,"connect":{"url":"ws://x","authenticated":false,"products":["BTC-USD"]}}"#,
            "\n",
            r#"{"t":1001,"frame":{"channel":"l2_data","client_id":"","timestamp":"2026-12-04T23:00:00.5Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-12-04T23:00:00.5Z","price_level":"100.5","new_quantity":"2"},{"side":"offer","event_time":"2026-12-04T23:00:00.5Z","price_level":"101","new_quantity":"0.000000000001"}]}]}}"#,
            "\n",
        ),
    )
    .unwrap();
    let tables = dir.path().join("t");
    let out = run(&["export", path_str(&rec), "--parquet", path_str(&tables)]);
    let stderr = ok(&out);
    assert!(stderr.contains("2 level rows, 0 trades"), "{stderr}");
    for name in ["levels.parquet", "trades.parquet", "top.parquet"] {
        let bytes = std::fs::read(tables.join(name)).unwrap();
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{name}"
        );
    }
    assert!(!tables.join("levels.parquet.partial").exists());
    let out = run(&["export", path_str(&rec), "--parquet", path_str(&tables)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exists: give --force"), "{stderr}");
    ok(&run(&[
        "export",
        path_str(&rec),
        "--parquet",
        path_str(&tables),
        "--force",
    ]));

    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, vec![0xFFu8; 5000]).unwrap();
    let out = run(&[
        "export",
        path_str(&junk),
        "--parquet",
        path_str(&dir.path().join("u")),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("not a cbbook recording"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("u")).unwrap().collect();
    assert!(left.is_empty(), "a failed export leaves nothing: {left:?}");
}
