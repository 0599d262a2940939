//! `cbbook export --parquet` read back by pyarrow and by DuckDB (tests/interop/check_parquet.py):
//! a compressed, rotating recording of a live session against `cbbook sim` (with gaps, so
//! resyncs too) exports to tables whose schemas are as documented, whose row counts are the
//! replay's levels and distinct trades, and whose level rows alone rebuild the replay's books
//! exactly, in Python and in DuckDB's SQL (docs/export.md).

use crate::support::common::{self, path_str, run_env};

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
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
fn a_rotating_compressed_recording_exports_to_parquet_that_pyarrow_and_duckdb_rebuild_to_the_replayed_books()
 {
    let Some(python) = common::interop_python() else {
        return;
    };
    let limit = Duration::from_secs(120);
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let (live, log) = (dir.path().join("live.json"), dir.path().join("l.log"));
    let (_sim, url) = common::start_sim(&["--gap-every", "150"], None);
    let base = rec.join("s.jsonl.zst");
    let out = run_env(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "6",
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
        ],
        &[],
        limit,
    );
    ok(&out);
    let mut files: Vec<_> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");

    // The files one after the other are one zstd stream of the whole session: its replay gives
    // the counts and the books to compare with.
    let all = dir.path().join("all.jsonl.zst");
    let bytes: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    std::fs::write(&all, bytes).unwrap();
    let dump = dir.path().join("replayed.json");
    let out = run_env(
        &[
            "replay",
            path_str(&all),
            "--headless",
            "--stats",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
        ],
        &[],
        limit,
    );
    let stderr = ok(&out);
    assert_eq!(
        std::fs::read_to_string(&dump).unwrap(),
        std::fs::read_to_string(&live).unwrap(),
        "the rotated files in order replay to the live books"
    );
    let (updates, trades) = (stat(&stderr, "updates"), stat(&stderr, "trades"));
    assert!(
        stat(&stderr, "gaps") >= 1,
        "the sim's gaps made resyncs: {stderr}"
    );
    assert!(trades > 0, "{stderr}");

    let tables = dir.path().join("tables");
    let mut args = vec!["export".to_owned()];
    args.extend(files.iter().map(|f| path_str(f).to_owned()));
    args.extend([
        "--parquet".into(),
        path_str(&tables).into(),
        "--top-levels".into(),
        "5".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_env(&args, &[], limit);
    let stderr = ok(&out);
    assert!(
        stderr.contains(&format!("{updates} level rows, {trades} trades")),
        "{stderr}"
    );
    let check = Command::new(&python)
        .arg(common::repo_root().join("tests/interop/check_parquet.py"))
        .args([
            path_str(&tables),
            path_str(&dump),
            &updates.to_string(),
            &trades.to_string(),
            "5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let verdict: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(
        verdict["counts"]["top_samples_checked"].as_u64().unwrap() >= 4,
        "{verdict}"
    );
    // DuckDB rebuilt every level of the replay's books (the script compares them one by one).
    let dumped: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let book_levels: usize = dumped
        .as_object()
        .unwrap()
        .values()
        .map(|book| book["bids"].as_array().unwrap().len() + book["asks"].as_array().unwrap().len())
        .sum();
    assert!(book_levels > 0, "{dumped}");
    assert_eq!(
        verdict["counts"]["duckdb_book_levels"].as_u64(),
        Some(book_levels as u64),
        "{verdict}"
    );
}
