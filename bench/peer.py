#!/usr/bin/env python3
"""The Python peer for cbbook's benchmarks: what a user of the official Coinbase SDK writes.

The official SDK (coinbase-advanced-py) hands every frame to `on_message(msg: str)`. The usual
book on top of it is `json.loads` and a dict per side keyed by `Decimal` (exact prices, as cbbook
keeps them). This script feeds the frames of a corpus to exactly that code, in one process, and
reports the time spent parsing and applying (file reading excluded).

Input: a cbbook recording (`{"t":...,"frame":{...}}` lines) or bare frames, one per line (what
`cbbook sim --write-corpus` writes).

With `--tape`, it also does what the same user writes to show a tape beside the book, the work
cbbook does for `market_trades` and `ticker` (docs/feed.md, "Trades"): each trade id once (a
subscribe's snapshot repeats trades), the last 1,000 trades per product with exact price and
size, taker volume at each price, and the latest ticker's numbers. Without it, those frames are
parsed (`json.loads`) and dropped, as a level-2-only program would.

Output (stdout, one JSON object): frames, updates, seconds (wall), cpu_seconds (this process's
CPU time over the same span), ns_per_update (from seconds), and a digest of the final books (best
bid/ask and level counts) to check that both programs built the same books; with `--tape`, a
digest of the trades too (distinct trades and the newest trade id per product).
"""

import collections
import json
import sys
import time
from decimal import Decimal

TRADES_KEPT = 1000
TICKER_NUMBERS = ("price", "volume_24_h", "price_percent_chg_24_h", "high_24_h", "low_24_h")


class Book:
    def __init__(self):
        self.bids = {}
        self.asks = {}


class Tape:
    def __init__(self):
        self.kept = collections.deque()
        self.ids = set()
        self.total = 0
        self.volume = {}  # price -> [bought, sold]
        self.ticker = None


def on_trades(data, tapes):
    """A tape: each trade once, oldest first, the last TRADES_KEPT, volume at price."""
    trades = [t for event in data["events"] for t in event["trades"]]
    trades.sort(key=lambda t: (len(t["trade_id"]), t["trade_id"]))
    for t in trades:
        tape = tapes.get(t["product_id"])
        if tape is None:
            tape = tapes[t["product_id"]] = Tape()
        trade_id = t["trade_id"]
        if trade_id in tape.ids:
            continue
        price = Decimal(t["price"])
        size = Decimal(t["size"])
        taker_buys = t["side"] == "SELL"  # `side` is the maker's
        tape.kept.append((trade_id, t["time"], price, size, t["side"]))
        tape.ids.add(trade_id)
        if len(tape.kept) > TRADES_KEPT:
            tape.ids.discard(tape.kept.popleft()[0])
        at = tape.volume.get(price)
        if at is None:
            at = tape.volume[price] = [Decimal(0), Decimal(0)]
        at[0 if taker_buys else 1] += size
        tape.total += 1


def on_ticker(data, tapes):
    for event in data["events"]:
        for t in event["tickers"]:
            tape = tapes.get(t["product_id"])
            if tape is None:
                tape = tapes[t["product_id"]] = Tape()
            tape.ticker = {k: Decimal(t[k]) for k in TICKER_NUMBERS if k in t}


def on_message(msg, books, counts, tapes=None):
    """The on_message callback a user of the SDK writes for a level-2 book (and, given
    `tapes`, a tape)."""
    data = json.loads(msg)
    channel = data.get("channel")
    if tapes is not None and channel == "market_trades":
        on_trades(data, tapes)
        return
    if tapes is not None and channel == "ticker":
        on_ticker(data, tapes)
        return
    if channel != "l2_data":
        return
    for event in data["events"]:
        product = event["product_id"]
        book = books.get(product)
        if book is None or event["type"] == "snapshot":
            book = books[product] = Book()
        for u in event["updates"]:
            side = book.bids if u["side"] == "bid" else book.asks
            price = Decimal(u["price_level"])
            qty = Decimal(u["new_quantity"])
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
            counts[1] += 1
    counts[0] += 1


def frames_of(path):
    """The frames of a corpus, as the strings the SDK would hand to on_message."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8").strip()
            if not line:
                continue
            if line.startswith('{"t":'):
                entry = json.loads(line)
                if "frame" not in entry:
                    continue
                out.append(json.dumps(entry["frame"], separators=(",", ":")))
            else:
                out.append(line)
    return out


def main():
    args = sys.argv[1:]
    tapes = None
    if args[:1] == ["--tape"]:
        tapes = {}
        args = args[1:]
    if len(args) != 1:
        print("usage: peer.py [--tape] CORPUS", file=sys.stderr)
        return 2
    frames = frames_of(args[0])
    books = {}
    counts = [0, 0]  # frames, updates
    start = time.perf_counter()
    cpu_start = time.process_time()
    for msg in frames:
        on_message(msg, books, counts, tapes)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    digest = {
        product: {
            "best_bid": str(max(b.bids)) if b.bids else None,
            "best_ask": str(min(b.asks)) if b.asks else None,
            "bid_levels": len(b.bids),
            "ask_levels": len(b.asks),
        }
        for product, b in sorted(books.items())
    }
    result = {
        "frames": counts[0],
        "updates": counts[1],
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "ns_per_update": seconds * 1e9 / max(counts[1], 1),
        "books": digest,
    }
    if tapes is not None:
        result["trades"] = {
            product: {"trades": t.total, "newest": t.kept[-1][0] if t.kept else None}
            for product, t in sorted(tapes.items())
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
