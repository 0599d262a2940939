//! `cbbook export` read back with the arrow-rs Parquet reader (no Python needed): the level rows
//! of a live session with gaps and resyncs rebuild the replayed books exactly, the trade rows
//! are the distinct trades, and the columns have the documented types (docs/export.md). The
//! interop test (`interop::parquet`) checks the same tables with pyarrow.

use crate::support::common::{self, path_str, run_env};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use arrow_array::{Array, Decimal128Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rust_decimal::Decimal;
use serde_json::Value;

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn stat(stderr: &str, key: &str) -> u64 {
    let last = stderr.lines().last().unwrap_or_default();
    last.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {last:?}"))
}

fn batches(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(8192)
        .build()
        .unwrap();
    reader.map(Result::unwrap).collect()
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("{name} has another type"))
}

/// The dump's text of an exact decimal.
fn text(value: i128) -> String {
    Decimal::from_i128_with_scale(value, 12)
        .normalize()
        .to_string()
}

type Side = BTreeMap<i128, i128>;

#[test]
fn level_rows_rebuild_the_replayed_books_and_trade_rows_are_the_distinct_trades() {
    let limit = Duration::from_secs(120);
    let dir = tempfile::tempdir().unwrap();
    let (rec, log) = (dir.path().join("s.jsonl.gz"), dir.path().join("l.log"));
    let (_sim, url) = common::start_sim(&["--gap-every", "120"], None);
    ok(&run_env(
        &[
            "--url",
            &url,
            "--headless",
            "--duration",
            "4",
            "--record",
            path_str(&rec),
            "--log-file",
            path_str(&log),
            "BTC-USD",
            "ETH-USD",
        ],
        &[],
        limit,
    ));
    let dump = dir.path().join("replayed.json");
    let stderr = ok(&run_env(
        &[
            "replay",
            path_str(&rec),
            "--headless",
            "--stats",
            "--dump-book",
            path_str(&dump),
            "--log-file",
            path_str(&log),
        ],
        &[],
        limit,
    ));
    assert!(stat(&stderr, "gaps") >= 1, "{stderr}");
    let tables = dir.path().join("t");
    ok(&run_env(
        &["export", path_str(&rec), "--parquet", path_str(&tables)],
        &[],
        limit,
    ));

    let levels = batches(&tables.join("levels.parquet"));
    let schema = levels[0].schema();
    let types: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    let ms = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let dec = DataType::Decimal128(38, 12);
    assert_eq!(
        types,
        [
            ("recv_time", &ms),
            ("exchange_time", &ns),
            ("connection", &DataType::UInt32),
            ("sequence_num", &DataType::UInt64),
            ("product_id", &DataType::Utf8),
            ("event", &DataType::Utf8),
            ("side", &DataType::Utf8),
            ("price", &dec),
            ("size", &dec),
        ]
    );
    let mut books: BTreeMap<String, (Side, Side)> = BTreeMap::new();
    let mut snapshot_key: Option<(u32, u64, String)> = None;
    let mut rows = 0u64;
    for batch in &levels {
        let (conn, seq) = (
            column::<UInt32Array>(batch, "connection"),
            column::<UInt64Array>(batch, "sequence_num"),
        );
        let (product, event, side) = (
            column::<StringArray>(batch, "product_id"),
            column::<StringArray>(batch, "event"),
            column::<StringArray>(batch, "side"),
        );
        let (price, size) = (
            column::<Decimal128Array>(batch, "price"),
            column::<Decimal128Array>(batch, "size"),
        );
        for i in 0..batch.num_rows() {
            rows += 1;
            let key = (conn.value(i), seq.value(i), product.value(i).to_owned());
            let book = books.entry(key.2.clone()).or_default();
            match event.value(i) {
                "snapshot" => {
                    if snapshot_key.as_ref() != Some(&key) {
                        *book = Default::default();
                        snapshot_key = Some(key);
                    }
                }
                "update" => snapshot_key = None,
                other => panic!("event {other}"),
            }
            let levels = match side.value(i) {
                "bid" => &mut book.0,
                "offer" => &mut book.1,
                other => panic!("side {other}"),
            };
            if size.value(i) == 0 {
                levels.remove(&price.value(i));
            } else {
                levels.insert(price.value(i), size.value(i));
            }
        }
    }
    assert_eq!(rows, stat(&stderr, "updates"), "one row per level applied");
    let replayed: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    for product in ["BTC-USD", "ETH-USD"] {
        let (bids, asks) = &books[product];
        let side = |levels: Vec<(&i128, &i128)>| -> Value {
            levels
                .into_iter()
                .map(|(p, s)| Value::from(vec![text(*p), text(*s)]))
                .collect()
        };
        assert_eq!(
            side(bids.iter().rev().collect()),
            replayed[product]["bids"],
            "{product}"
        );
        assert_eq!(
            side(asks.iter().collect()),
            replayed[product]["asks"],
            "{product}"
        );
    }

    let trades = batches(&tables.join("trades.parquet"));
    let mut ids = std::collections::BTreeSet::new();
    for batch in &trades {
        let (product, id) = (
            column::<StringArray>(batch, "product_id"),
            column::<StringArray>(batch, "trade_id"),
        );
        for i in 0..batch.num_rows() {
            assert!(ids.insert((product.value(i).to_owned(), id.value(i).to_owned())));
        }
    }
    assert!(!ids.is_empty());
    assert_eq!(
        ids.len() as u64,
        stat(&stderr, "trades"),
        "one row per distinct trade"
    );
}
