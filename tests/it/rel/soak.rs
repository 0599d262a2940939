//! The quick version of the soak (`scripts/soak --duration 25`): the real `cbbook sim` with a
//! fault every few seconds (gaps, duplicates, late frames, error frames, foreign products,
//! abrupt disconnects and stalls) and a headless `cbbook` against it, ending with equal books,
//! flat memory and descriptors, and no panic. The 10-minute run and its numbers are in
//! RELIABILITY.md.

use crate::support::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{cbbook_bin, path_str, repo_root, wait_output};
use serde_json::Value;

#[test]
fn a_short_soak_with_every_fault_ends_with_equal_books_and_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("python3")
        .arg(repo_root().join("scripts/soak"))
        .args(["--duration", "25", "--bin", path_str(&cbbook_bin())])
        .args(["--out", path_str(dir.path())])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs scripts/soak");
    let out = wait_output(child, Duration::from_secs(180), "scripts/soak");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "soak failed:\n{stderr}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["failures"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["books_equal"], true);
    for key in ["gaps", "resyncs", "reconnects", "errors"] {
        assert!(
            summary["stats"][key].as_u64().unwrap() > 0,
            "{key}: {summary}"
        );
    }
    assert!(
        summary["disconnects_watchdog"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(
        summary["disconnects_abrupt"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(summary["samples"].as_u64().unwrap() >= 10, "{summary}");
    let csv = std::fs::read_to_string(dir.path().join("rss.csv")).unwrap();
    assert!(csv.lines().count() >= 11, "{csv}");
}
