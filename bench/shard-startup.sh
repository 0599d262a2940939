#!/bin/sh
# Start-up to every book live (BENCHMARKS.md, "Sharded start-up") for 50 products against `cbbook sim` (defaults: 16 per
# connection, 8 connections/s). Prints ms from the first `connecting` event to the last snapshot.
BIN=${BIN:-target/release/cbbook}
P=$(seq 0 49 | sed 's/^/T/;s/$/-USD/' | paste -sd,)
$BIN sim --port 0 --products "$P" > /tmp/sim.out 2>/dev/null &
SIM=$!
sleep 1
URL=$(head -1 /tmp/sim.out | sed 's/listening on //')
$BIN --url "$URL" --headless --duration ${DUR:-6} --stats --log-file /tmp/shardbench.log $(echo "$P" | tr , ' ') 2>/tmp/shardbench.err
kill $SIM
python3 - <<'PY'
import json
ev=[json.loads(l) for l in open('/tmp/shardbench.err') if l.startswith('{')]
t0=min(e['at_ms'] for e in ev if e['event']=='connecting')
snaps={}
for e in ev:
    if e['event']=='snapshot': snaps.setdefault(e['product'], e['at_ms'])
conns=[e['at_ms']-t0 for e in ev if e['event']=='connected']
print("products live:", len(snaps), "last first-snapshot after", max(snaps.values())-t0, "ms; connected at", conns)
PY
tail -1 /tmp/shardbench.err
