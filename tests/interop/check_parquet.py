"""Reads the tables of `cbbook export --parquet DIR` with pyarrow and checks them against cbbook's
own replay of the same recording (docs/export.md).

Usage: check_parquet.py DIR DUMP.json LEVEL_ROWS TRADES TOP_LEVELS

- the three schemas, column by column (names, types, nullability);
- levels.parquet has LEVEL_ROWS rows (the replay's `updates`) and trades.parquet TRADES rows (the
  replay's `trades`: distinct trades), each trade id once per product;
- the books rebuilt from levels.parquet's rows alone, in order, equal the replay's --dump-book
  exactly (prices and sizes as exact decimals);
- the trades in the dump (each product's newest) are in trades.parquet with the same values;
- every top.parquet sample equals the best TOP_LEVELS levels of the books rebuilt from the level
  rows received before it;
- DuckDB, a second reader, counts the same rows and rebuilds the same final books from
  levels.parquet in SQL alone (each product's book from the start of its last snapshot, the
  last size of each price, zero sizes dropped).

Prints a JSON verdict on stdout: {"ok": bool, "failures": [...], "counts": {...}}.
"""

import json
import sys
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def canon(d):
    """The dump's canonical form: no trailing zeros, no point when integral."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


DEC = pa.decimal128(38, 12)
MS = pa.timestamp("ms", tz="UTC")
NS = pa.timestamp("ns", tz="UTC")
SCHEMAS = {
    "levels.parquet": [
        ("recv_time", MS, False),
        ("exchange_time", NS, True),
        ("connection", pa.uint32(), False),
        ("sequence_num", pa.uint64(), False),
        ("product_id", pa.string(), False),
        ("event", pa.string(), False),
        ("side", pa.string(), False),
        ("price", DEC, False),
        ("size", DEC, False),
    ],
    "trades.parquet": [
        ("trade_id", pa.string(), False),
        ("time", MS, False),
        ("recv_time", MS, False),
        ("product_id", pa.string(), False),
        ("price", DEC, False),
        ("size", DEC, False),
        ("side", pa.string(), False),
        ("aggressor", pa.string(), False),
    ],
    "top.parquet": [
        ("time", MS, False),
        ("product_id", pa.string(), False),
        ("side", pa.string(), False),
        ("level", pa.uint16(), False),
        ("price", DEC, False),
        ("size", DEC, False),
    ],
}


def top_of(books, product, n):
    bids, asks = books.get(product, ({}, {}))
    best_bids = sorted(bids.items(), key=lambda kv: -kv[0])[:n]
    best_asks = sorted(asks.items(), key=lambda kv: kv[0])[:n]
    return best_bids, best_asks


def compare_books(books, dump, how):
    """Each product's rebuilt book ({price: size} per side) against the dump, level for level."""
    for product, book in dump.items():
        bids, asks = books.get(product, ({}, {}))
        rebuilt_bids = [[canon(p), canon(s)] for p, s in sorted(bids.items(), key=lambda kv: -kv[0])]
        rebuilt_asks = [[canon(p), canon(s)] for p, s in sorted(asks.items(), key=lambda kv: kv[0])]
        check(rebuilt_bids == book["bids"], f"{product}: bids {how} differ "
              f"({len(rebuilt_bids)} vs {len(book['bids'])} levels)")
        check(rebuilt_asks == book["asks"], f"{product}: asks {how} differ "
              f"({len(rebuilt_asks)} vs {len(book['asks'])} levels)")


# The final books from levels.parquet in SQL: a snapshot event (its rows are contiguous and share
# connection, sequence number and product) starts its product's book afresh; from the start of
# each product's last one, the last row of each price holds its size; a zero size removed it.
BOOKS_SQL = """
WITH r AS (
    SELECT file_row_number AS rn, connection, sequence_num, product_id, event, side, price, size
    FROM read_parquet($path, file_row_number = true)
),
s AS (
    SELECT *, event = 'snapshot' AND (
        lag(event) OVER w IS DISTINCT FROM 'snapshot'
        OR lag(connection) OVER w <> connection
        OR lag(sequence_num) OVER w <> sequence_num
        OR lag(product_id) OVER w <> product_id) AS starts
    FROM r WINDOW w AS (ORDER BY rn)
),
b AS (SELECT product_id, max(rn) AS start FROM s WHERE starts GROUP BY product_id),
last AS (
    SELECT s.product_id, s.side, s.price, arg_max(s.size, s.rn) AS size
    FROM s LEFT JOIN b USING (product_id)
    WHERE s.rn >= coalesce(b.start, 0)
    GROUP BY s.product_id, s.side, s.price
)
SELECT product_id, side, price, size FROM last WHERE size > 0
"""


def check_with_duckdb(out_dir, dump, level_rows, trades_expected):
    """DuckDB reads the same tables: row counts, and the final books rebuilt in SQL."""
    con = duckdb.connect()
    levels = f"{out_dir}/levels.parquet"
    (rows,) = con.execute("SELECT count(*) FROM read_parquet($path)", {"path": levels}).fetchone()
    check(rows == level_rows, f"duckdb: levels rows {rows} != {level_rows}")
    (trades,) = con.execute("SELECT count(*) FROM read_parquet($path)",
                            {"path": f"{out_dir}/trades.parquet"}).fetchone()
    check(trades == trades_expected, f"duckdb: trades rows {trades} != {trades_expected}")
    books = {}
    for product, side, price, size in con.execute(BOOKS_SQL, {"path": levels}).fetchall():
        bids, asks = books.setdefault(product, ({}, {}))
        (bids if side == "bid" else asks)[price] = size
    check(set(books) <= set(dump), f"duckdb: books for products not in the dump: {set(books) - set(dump)}")
    compare_books(books, dump, "rebuilt in SQL by DuckDB")
    return sum(len(b) + len(a) for b, a in books.values())


def main():
    out_dir, dump_path, level_rows, trades_expected, top_levels = sys.argv[1:6]
    level_rows, trades_expected, top_levels = int(level_rows), int(trades_expected), int(top_levels)
    with open(dump_path) as f:
        dump = json.load(f)

    files = {}
    for name, fields in SCHEMAS.items():
        pf = pq.ParquetFile(f"{out_dir}/{name}")
        files[name] = pf
        schema = pf.schema_arrow
        got = [(fld.name, fld.type, fld.nullable) for fld in schema]
        check(got == fields, f"{name} schema: {got}")

    levels = files["levels.parquet"]
    check(levels.metadata.num_rows == level_rows,
          f"levels rows {levels.metadata.num_rows} != {level_rows}")

    # Top samples by time, to compare with the books rebuilt up to then.
    top = files["top.parquet"].read().to_pylist()
    samples = {}
    for row in top:
        samples.setdefault(row["time"], {}).setdefault(row["product_id"], []).append(row)
    sample_times = sorted(samples)
    next_sample = 0
    samples_checked = 0

    def compare_samples_before(t):
        nonlocal next_sample, samples_checked
        while next_sample < len(sample_times) and (t is None or sample_times[next_sample] <= t):
            at = sample_times[next_sample]
            for product, rows in samples[at].items():
                bids, asks = top_of(books, product, top_levels)
                want = [("bid", i + 1, p, s) for i, (p, s) in enumerate(bids)] + \
                       [("offer", i + 1, p, s) for i, (p, s) in enumerate(asks)]
                got = [(r["side"], r["level"], r["price"], r["size"]) for r in rows]
                check(got == want, f"top sample {at} {product}: {got[:3]} != {want[:3]}")
                samples_checked += 1
            next_sample += 1

    books = {}
    prev_key = None
    exchange_times = 0
    for batch in levels.iter_batches(batch_size=65536):
        # Nanoseconds do not fit a Python datetime: compared as integers.
        exchange_ns = batch.column("exchange_time").cast(pa.int64()).to_pylist()
        recv_ms = batch.column("recv_time").cast(pa.int64()).to_pylist()
        for ns, ms in zip(exchange_ns, recv_ms):
            if ns is not None:
                exchange_times += 1
                check(abs(ns // 1_000_000 - ms) < 60_000, f"exchange_time {ns} far from recv_time {ms}")
        for row in batch.drop_columns(["exchange_time"]).to_pylist():
            compare_samples_before(row["recv_time"])
            product = row["product_id"]
            key = (row["connection"], row["sequence_num"], product)
            if row["event"] == "snapshot":
                if prev_key != ("snapshot",) + key:
                    books[product] = ({}, {})
                prev_key = ("snapshot",) + key
            else:
                prev_key = None
            check(row["event"] in ("snapshot", "update"), f"event {row['event']}")
            check(row["side"] in ("bid", "offer"), f"side {row['side']}")
            bids, asks = books.setdefault(product, ({}, {}))
            side = bids if row["side"] == "bid" else asks
            if row["size"] == 0:
                side.pop(row["price"], None)
            else:
                side[row["price"]] = row["size"]
    compare_samples_before(None)
    check(samples_checked > 0, "no top sample to check")
    check(exchange_times == levels.metadata.num_rows, f"{exchange_times} exchange times of {levels.metadata.num_rows}")

    compare_books(books, dump, "rebuilt from levels.parquet")

    trades = files["trades.parquet"].read().to_pylist()
    check(len(trades) == trades_expected, f"trades rows {len(trades)} != {trades_expected}")
    ids = [(t["product_id"], t["trade_id"]) for t in trades]
    check(len(set(ids)) == len(ids), "a trade id appears twice for one product")
    by_id = {(t["product_id"], t["trade_id"]): t for t in trades}
    dumped = 0
    for product, book in dump.items():
        for t in book.get("trades", []):
            row = by_id.get((product, t["trade_id"]))
            if not check(row is not None, f"{product} trade {t['trade_id']} missing"):
                continue
            dumped += 1
            check(canon(row["price"]) == t["price"] and canon(row["size"]) == t["size"],
                  f"trade {t['trade_id']}: {row['price']} {row['size']} != {t['price']} {t['size']}")
            check(row["side"] == t["side"] and row["aggressor"] == t["aggressor"],
                  f"trade {t['trade_id']}: side/aggressor")
            check(row["time"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{row['time'].microsecond // 1000:03d}Z" == t["time"],
                  f"trade {t['trade_id']}: time {row['time']} != {t['time']}")
    check(dumped > 0 or trades_expected == 0, "no dumped trade to compare")

    duckdb_levels = check_with_duckdb(out_dir, dump, level_rows, trades_expected)

    print(json.dumps({
        "ok": not failures,
        "failures": failures[:20],
        "counts": {"levels": levels.metadata.num_rows, "trades": len(trades), "top": len(top),
                   "top_samples_checked": samples_checked, "dumped_trades_checked": dumped,
                   "duckdb_book_levels": duckdb_levels},
    }))


if __name__ == "__main__":
    main()
