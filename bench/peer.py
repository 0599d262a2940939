#!/usr/bin/env python3
"""The Python peer for cbbook's benchmarks: what a user of the official Coinbase SDK writes.

The official SDK (coinbase-advanced-py) hands every frame to `on_message(msg: str)`. The usual
book on top of it is `json.loads` and a dict per side keyed by `Decimal` (exact prices, as cbbook
keeps them). This script feeds the frames of a corpus to exactly that code, in one process, and
reports the time spent parsing and applying (file reading excluded).

Input: a cbbook recording (`{"t":...,"frame":{...}}` lines) or bare frames, one per line (what
`cbbook sim --write-corpus` writes).

Output (stdout, one JSON object): frames, updates, seconds (wall), cpu_seconds (this process's
CPU time over the same span), ns_per_update (from seconds), and a digest of the final books (best
bid/ask and level counts) to check that both programs built the same books.
"""

import json
import sys
import time
from decimal import Decimal


class Book:
    def __init__(self):
        self.bids = {}
        self.asks = {}


def on_message(msg, books, counts):
    """The on_message callback a user of the SDK writes for a level-2 book."""
    data = json.loads(msg)
    if data.get("channel") != "l2_data":
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
    if len(sys.argv) != 2:
        print("usage: peer.py CORPUS", file=sys.stderr)
        return 2
    frames = frames_of(sys.argv[1])
    books = {}
    counts = [0, 0]  # frames, updates
    start = time.perf_counter()
    cpu_start = time.process_time()
    for msg in frames:
        on_message(msg, books, counts)
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
    print(
        json.dumps(
            {
                "frames": counts[0],
                "updates": counts[1],
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "ns_per_update": seconds * 1e9 / max(counts[1], 1),
                "books": digest,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
