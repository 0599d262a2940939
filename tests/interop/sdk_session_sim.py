"""A full session of the official Coinbase Python SDK against `cbbook sim`.

Usage:
  sdk_session_sim.py session URL ES256_KEY_FILE ED25519_KEY_FILE
  sdk_session_sim.py reconnect URL ES256_KEY_FILE
  sdk_session_sim.py trades URL ES256_KEY_FILE
  sdk_session_sim.py orders URL ES256_KEY_FILE EXPECTED_ORDERS

`session` runs three SDK clients side by side:
  A  ES256 key:   level2 + heartbeats for BTC-USD and ETH-USD;
  B  Ed25519 key: user;
  C  a key the server does not know (the SDK's public test key): user and level2, which must
     both be refused with "authentication failure" while the connection stays open.
`trades` runs one ES256 client on `market_trades` and `ticker` for BTC-USD and ETH-USD: each
product's first event is a snapshot, every trade carries the documented fields with a BUY or SELL
maker side, no update repeats a trade id, and each product's last ticker price is its last trade's.
`orders` runs one ES256 client on `user` (all products) and `heartbeats` against a server that
holds EXPECTED_ORDERS open orders for the key: the snapshot arrives first, in batches of 50, with
every order's documented fields; updates follow, and applying them keeps a consistent set.
`reconnect` runs one ES256 client with the SDK's automatic retry against a server that drops
connections (--disconnect-every), and checks that it reconnects and resubscribes by itself.

Every frame is also handed to the SDK's own parser (`WebsocketResponse`), as an SDK user's code
would, so that any field the SDK cannot read fails the run. Prints one JSON verdict on stdout:
{"ok": bool, "checks": {name: {"ok": bool, "detail": ...}}}.
"""
import json
import sys
import threading
import time
from decimal import Decimal

from coinbase.websocket import WSClient
from coinbase.websocket.types.websocket_response import WebsocketResponse

# The official SDK's public test key (its unit tests use it): valid, but unknown to the server.
STRANGER_NAME = "organizations/test-organization/apiKeys/test-api-key"
STRANGER_SECRET = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKwf3Uox30cRWzRBOPoPOH5p0Gpb0Dt8zUKXUEM5fMkGoAoGCCqGSM49\n"
    "AwEHoUQDQgAEbAtpLlSZYVOwYICz+uEyxcS29vRIujiES/gQ1DC7FV4zK4JuYE9v\n"
    "qDyGZQYjdXHLM7I6f/QnnOITL+dXYWBHRA==\n-----END EC PRIVATE KEY-----\n"
)


def read_key(path):
    with open(path) as f:
        data = json.load(f)
    return data.get("name") or data.get("id"), data["privateKey"]


class Recorder:
    """Collects what one client receives, parsed twice: json.loads and the SDK's parser."""

    def __init__(self):
        self.lock = threading.Lock()
        self.frames = []
        self.sdk_parse_errors = []

    def __call__(self, message):
        frame = json.loads(message)
        if frame.get("type") != "error":
            try:
                WebsocketResponse(json.loads(message))
            except Exception as e:  # the SDK could not read it: a failure of the simulator
                self.sdk_parse_errors.append(f"{type(e).__name__}: {e}")
        with self.lock:
            self.frames.append(frame)

    def snapshot(self):
        with self.lock:
            return list(self.frames)


class Checks:
    def __init__(self):
        self.results = {}

    def check(self, name, ok, detail=None):
        self.results[name] = {"ok": bool(ok), "detail": detail}

    def verdict(self):
        return {"ok": all(r["ok"] for r in self.results.values()), "checks": self.results}


def split_connections(frames):
    """Splits a frame list where sequence_num restarts at 0 (a new connection)."""
    connections = []
    for f in frames:
        if "sequence_num" in f and f["sequence_num"] == 0:
            connections.append([])
        if not connections:
            connections.append([])
        connections[-1].append(f)
    return connections


def contiguous(frames):
    nums = [f["sequence_num"] for f in frames if "sequence_num" in f]
    return nums == list(range(len(nums))), nums[:5] + ["..."] + nums[-3:]


class Book:
    def __init__(self):
        self.bids, self.asks = {}, {}
        self.crossed_at = None
        self.updates = 0  # levels changed by update events (not snapshots)

    def apply(self, event):
        if event["type"] == "snapshot":
            self.bids, self.asks = {}, {}
        for u in event["updates"]:
            side = self.bids if u["side"] == "bid" else self.asks
            assert u["side"] in ("bid", "offer"), u
            price, size = Decimal(u["price_level"]), Decimal(u["new_quantity"])
            if size == 0:
                side.pop(price, None)
            else:
                side[price] = size
            if event["type"] == "update":
                self.updates += 1
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            self.crossed_at = self.crossed_at or (max(self.bids), min(self.asks))


def l2_checks(checks, frames, prefix):
    products = ["BTC-USD", "ETH-USD"]
    books = {p: Book() for p in products}
    first_l2 = {}
    for f in frames:
        if f.get("channel") != "l2_data":
            continue
        for event in f["events"]:
            p = event["product_id"]
            first_l2.setdefault(p, event["type"])
            books[p].apply(event)
    for p in products:
        checks.check(f"{prefix}snapshot_first_{p}", first_l2.get(p) == "snapshot", first_l2.get(p))
        b = books[p]
        checks.check(
            f"{prefix}book_{p}",
            len(b.bids) > 100 and len(b.asks) > 100 and b.crossed_at is None and b.updates >= 20,
            {"bids": len(b.bids), "asks": len(b.asks), "updates": b.updates,
             "crossed_at": str(b.crossed_at) if b.crossed_at else None},
        )


def run_session(url, es_file, ed_file):
    checks = Checks()
    es_name, es_secret = read_key(es_file)
    ed_name, ed_secret = read_key(ed_file)
    rec = {k: Recorder() for k in "ABC"}
    a = WSClient(base_url=url, api_key=es_name, api_secret=es_secret, on_message=rec["A"], retry=False)
    b = WSClient(base_url=url, api_key=ed_name, api_secret=ed_secret, on_message=rec["B"], retry=False)
    c = WSClient(base_url=url, api_key=STRANGER_NAME, api_secret=STRANGER_SECRET,
                 on_message=rec["C"], retry=False)
    for client in (a, b, c):
        client.open()
    a.subscribe(["BTC-USD", "ETH-USD"], ["level2", "heartbeats"])
    b.user(["BTC-USD"])
    c.subscribe(["BTC-USD"], ["user", "level2"])
    background = []
    deadline = time.time() + 5.5
    while time.time() < deadline:
        for client in (a, b, c):
            try:
                client.sleep_with_exception_check(0.25)
            except Exception as e:
                background.append(f"{type(e).__name__}: {e}")
    c_open = bool(c.websocket and c.websocket.open)
    for client in (a, b, c):
        client.close()

    fa, fb, fc = (rec[k].snapshot() for k in "ABC")
    checks.check("sdk_noticed_nothing", not background, background)
    checks.check("sdk_parsed_every_frame",
                 not any(rec[k].sdk_parse_errors for k in "ABC"),
                 {k: rec[k].sdk_parse_errors[:3] for k in "ABC"})

    # A: level2 + heartbeats with an ES256 key.
    checks.check("a_no_errors", not [f for f in fa if f.get("type") == "error"],
                 [f for f in fa if f.get("type") == "error"][:3])
    ok, detail = contiguous(fa)
    checks.check("a_sequence_contiguous", ok and len(fa) > 20, detail)
    acks = [f["events"][0]["subscriptions"] for f in fa if f.get("channel") == "subscriptions"]
    checks.check("a_acks", len(acks) == 2 and acks[-1] == {
        "heartbeats": ["heartbeats"], "level2": ["BTC-USD", "ETH-USD"]}, acks)
    l2_checks(checks, fa, "a_")
    beats = [f["events"][0] for f in fa if f.get("channel") == "heartbeats"]
    counters = [h["heartbeat_counter"] for h in beats]
    checks.check("a_heartbeats",
                 len(beats) >= 3 and all(isinstance(n, int) for n in counters)
                 and counters == list(range(counters[0], counters[0] + len(counters)))
                 and all(" +0000 UTC m=+" in h["current_time"] for h in beats),
                 counters)
    envelopes_ok = all(
        list(f.keys()) == ["channel", "client_id", "timestamp", "sequence_num", "events"]
        and f["client_id"] == "" and f["timestamp"].endswith("Z")
        for f in fa)
    checks.check("a_envelopes", envelopes_ok, fa[0] if fa else None)

    # B: user with an Ed25519 key.
    checks.check("b_no_errors", not [f for f in fb if f.get("type") == "error"],
                 [f for f in fb if f.get("type") == "error"][:3])
    user = [f for f in fb if f.get("channel") == "user"]
    checks.check("b_user_snapshot", len(user) == 1 and user[0]["events"][0]["type"] == "snapshot",
                 user[:1])
    b_acks = [f["events"][0]["subscriptions"] for f in fb if f.get("channel") == "subscriptions"]
    checks.check("b_ack", b_acks == [{"user": ["BTC-USD"]}], b_acks)

    # C: an unknown key, on user and on level2.
    errors = [f for f in fc if f.get("type") == "error"]
    checks.check(
        "c_refused_twice",
        len(errors) == 2 and all(e["message"] == "authentication failure"
                                 and e.get("reason", "").startswith("key_unknown: ") for e in errors),
        errors)
    checks.check("c_nothing_subscribed", len(fc) == len(errors), [f for f in fc if f not in errors][:2])
    checks.check("c_connection_stayed_open", c_open, None)
    return checks.verdict()


def second_connection_settled(frames):
    connections = split_connections(frames)
    if len(connections) < 2:
        return False
    channels = {f.get("channel") for f in connections[1]}
    return "l2_data" in channels and "heartbeats" in channels


def run_reconnect(url, es_file):
    checks = Checks()
    name, secret = read_key(es_file)
    rec = Recorder()
    client = WSClient(base_url=url, api_key=name, api_secret=secret, on_message=rec, retry=True)
    client.open()
    client.subscribe(["ETH-USD"], ["level2", "heartbeats"])
    background = []
    # Close once the second connection is settled (snapshot and a heartbeat seen), well before
    # the server's next abrupt close: closing while the SDK is between connections would make
    # its close() fail for a reason that is not the server's.
    deadline = time.time() + 20.0
    while time.time() < deadline:
        try:
            client.sleep_with_exception_check(0.25)
        except Exception as e:
            background.append(f"{type(e).__name__}: {e}")
        if second_connection_settled(rec.snapshot()):
            break
    try:
        client.close()
    except Exception as e:
        background.append(f"close: {type(e).__name__}: {e}")
    frames = rec.snapshot()
    connections = split_connections(frames)
    checks.check("sdk_noticed_nothing", not background, background)
    checks.check("sdk_parsed_every_frame", not rec.sdk_parse_errors, rec.sdk_parse_errors[:3])
    checks.check("reconnected", len(connections) >= 2, len(connections))
    for i, conn in enumerate(connections):
        ok, detail = contiguous(conn)
        first_l2 = next((f for f in conn if f.get("channel") == "l2_data"), None)
        checks.check(f"connection_{i}_contiguous", ok, detail)
        checks.check(f"connection_{i}_snapshot_first",
                     first_l2 is not None and first_l2["events"][0]["type"] == "snapshot",
                     None if first_l2 is None else first_l2["events"][0]["type"])
    checks.check("no_errors", not [f for f in frames if f.get("type") == "error"], None)
    return checks.verdict()


def run_trades(url, es_file):
    checks = Checks()
    name, secret = read_key(es_file)
    rec = Recorder()
    client = WSClient(base_url=url, api_key=name, api_secret=secret, on_message=rec, retry=False)
    client.open()
    client.subscribe(["BTC-USD", "ETH-USD"], ["market_trades", "ticker"])
    background = []
    deadline = time.time() + 4.0
    while time.time() < deadline:
        try:
            client.sleep_with_exception_check(0.25)
        except Exception as e:
            background.append(f"{type(e).__name__}: {e}")
    client.close()
    frames = rec.snapshot()
    checks.check("sdk_noticed_nothing", not background, background)
    checks.check("sdk_parsed_every_frame", not rec.sdk_parse_errors, rec.sdk_parse_errors[:3])
    checks.check("no_errors", not [f for f in frames if f.get("type") == "error"], None)
    fields = {"trade_id", "product_id", "price", "size", "side", "time"}
    # One snapshot per product (empty when it has not traded yet), all before any update.
    kinds = [e["type"] for f in frames if f.get("channel") == "market_trades" for e in f["events"]]
    first_update = kinds.index("update") if "update" in kinds else len(kinds)
    checks.check("trades_snapshots_first",
                 kinds[:first_update].count("snapshot") == 2 and "snapshot" not in kinds[first_update:],
                 kinds[:6])
    for p in ("BTC-USD", "ETH-USD"):
        trade_events = [(e["type"], t) for f in frames if f.get("channel") == "market_trades"
                        for e in f["events"] for t in e.get("trades", []) if t["product_id"] == p]
        updates = [t for kind, t in trade_events if kind == "update"]
        checks.check(f"trades_arrive_{p}", len(updates) > 0, len(updates))
        checks.check(f"trade_fields_{p}",
                     all(set(t) >= fields and t["side"] in ("BUY", "SELL") and Decimal(t["price"]) > 0
                         and Decimal(t["size"]) > 0 for _, t in trade_events),
                     trade_events[:1])
        ids = [t["trade_id"] for t in updates]
        checks.check(f"trade_ids_once_{p}", len(ids) == len(set(ids)), len(ids) - len(set(ids)))
        tickers = [(e["type"], t) for f in frames if f.get("channel") == "ticker"
                   for e in f["events"] for t in e.get("tickers", []) if t["product_id"] == p]
        checks.check(f"ticker_snapshot_first_{p}", bool(tickers) and tickers[0][0] == "snapshot",
                     tickers[0][0] if tickers else None)
        newest = max((t for _, t in trade_events), key=lambda t: int(t["trade_id"]), default=None)
        last_price = tickers[-1][1].get("price") if tickers else None
        checks.check(f"ticker_price_is_the_last_trade_{p}",
                     newest is not None and last_price is not None
                     and Decimal(last_price) == Decimal(newest["price"]),
                     [last_price, None if newest is None else newest["price"]])
    return checks.verdict()


def run_orders(url, es_file, expected):
    checks = Checks()
    name, secret = read_key(es_file)
    rec = Recorder()
    client = WSClient(base_url=url, api_key=name, api_secret=secret, on_message=rec, retry=False)
    client.open()
    client.subscribe([], ["user", "heartbeats"])
    background = []
    deadline = time.time() + 5.0
    while time.time() < deadline:
        try:
            client.sleep_with_exception_check(0.25)
        except Exception as e:
            background.append(f"{type(e).__name__}: {e}")
    client.close()
    frames = rec.snapshot()
    checks.check("sdk_noticed_nothing", not background, background)
    checks.check("sdk_parsed_every_frame", not rec.sdk_parse_errors, rec.sdk_parse_errors[:3])
    checks.check("no_errors", not [f for f in frames if f.get("type") == "error"],
                 [f for f in frames if f.get("type") == "error"][:3])
    ok, detail = contiguous(frames)
    checks.check("sequence_contiguous", ok, detail)
    events = [e for f in frames if f.get("channel") == "user" for e in f["events"]]
    kinds = [e["type"] for e in events]
    first_update = kinds.index("update") if "update" in kinds else len(kinds)
    batches = [len(e["orders"]) for e in events[:first_update]]
    full, rest = divmod(expected, 50)
    checks.check("snapshot_batches_of_50",
                 all(k == "snapshot" for k in kinds[:first_update])
                 and batches == [50] * full + ([rest] if rest else []), batches)
    required = {"order_id", "client_order_id", "cumulative_quantity", "leaves_quantity", "avg_price",
                "status", "product_id", "creation_time", "order_side", "order_type"}
    all_orders = [o for e in events for o in e["orders"]]
    checks.check("order_fields",
                 all(set(o) >= required and o["order_side"] in ("BUY", "SELL") for o in all_orders),
                 all_orders[:1])
    checks.check("some_without_limit_price", any("limit_price" not in o for o in all_orders), None)
    checks.check("updates_arrive", len(events) - first_update > 0, len(events) - first_update)
    open_orders = {}
    for e in events:
        for o in e["orders"]:
            if o["status"] in ("OPEN", "PENDING"):
                open_orders[o["order_id"]] = o
            else:
                open_orders.pop(o["order_id"], None)
    checks.check("open_set_consistent",
                 all(Decimal(o["leaves_quantity"]) > 0 for o in open_orders.values())
                 and abs(len(open_orders) - expected) <= 10, len(open_orders))
    return checks.verdict()


def main():
    mode = sys.argv[1]
    if mode == "session":
        verdict = run_session(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "reconnect":
        verdict = run_reconnect(sys.argv[2], sys.argv[3])
    elif mode == "trades":
        verdict = run_trades(sys.argv[2], sys.argv[3])
    elif mode == "orders":
        verdict = run_orders(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(verdict))


if __name__ == "__main__":
    main()
