#!/usr/bin/env bash
# bench_zmq.sh — `sluice send` → ZeroMQ (CurveZMQ, then plain) → sluice zmq source → null sink.
#   bash bench/bench_zmq.sh [BUILD_DIR=build/release] [EVENTS=2000000] [BATCH=100]
# Prints `bench=zmq curve=on|off batch=N events=N events_per_s=R` per run and the encryption
# cost (plain rate / curve rate). Needs the network-event codec (src/codec/netevent.c).
# Rate = events / (first send → last message flushed by the sender); the sender blocks at its
# HWM when sluice falls behind, so this is the receiver's rate too; the sluice totals are
# checked against the count (nothing lost).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-2000000}; BATCH=${3:-100}
SLUICE=$dir/sluice
PY=/usr/bin/python3
if [ ! -f src/codec/netevent.c ]; then
  echo "bench=zmq skipped: needs src/codec/netevent.c (the network-event codec)"; exit 0
fi
T=$(mktemp -d /tmp/sluice-bench-zmq.XXXXXX)
trap 'rm -rf "$T"' EXIT
$PY - "$T/events.json" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(json.dumps({"type": "GENERAL", "ts": 1700000000.0 + i / 1000, "uid": "C%08d" % i,
            "collectorId": "c1", "origIp": "10.0.%d.%d" % (i // 250 % 250, i % 250 + 1),
            "origPort": 1024 + i % 60000, "respIp": "192.168.1.%d" % (i % 200 + 1),
            "respPort": [53, 80, 443, 22][i % 4], "proto": "tcp"}) + "\n")
PYEOF
read -r SEC PUB < <($SLUICE keygen --json | $PY -c 'import json,sys; k=json.load(sys.stdin); print(k["secret"]["hex_z85"], k["public"]["hex_z85"])')
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
declare -A RATE
for curve in on off; do
  PORT=$(free_port); SPORT=$(free_port)
  keys="secret_key: $SEC"; [ $curve = off ] && keys="curve: false"
  cat > "$T/p.yaml" <<YAML
sources:
  z: {type: zmq, host: 127.0.0.1, port: $PORT, shutdown_port: $SPORT, $keys}
sinks:
  null: {type: "null", inputs: [z]}
YAML
  $SLUICE run -c "$T/p.yaml" --no-status 2> "$T/log.txt" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on port" "$T/log.txt" && break; sleep 0.1; done
  flags="--server-key $PUB"; [ $curve = off ] && flags="--no-curve"
  out=$($SLUICE send $flags --port $PORT --batch $BATCH --count $N --loop --quiet "$T/events.json")
  secs=$(echo "$out" | sed -n 's/.*(\([0-9.]*\) s with the final flush).*/\1/p')
  $PY -c "import zmq; s=zmq.Context().socket(zmq.REQ); s.connect('tcp://127.0.0.1:$SPORT'); s.send(b'shutdown'); s.recv()"
  wait $pid
  got=$(sed -n 's/.*done: events in \([0-9]*\),.*/\1/p' "$T/log.txt")
  [ "$got" = "$N" ] || { echo "bench=zmq curve=$curve ERROR: sent $N, sluice took $got"; exit 1; }
  RATE[$curve]=$($PY -c "print(round($N / $secs))")
  echo "bench=zmq curve=$curve batch=$BATCH events=$N seconds=$secs events_per_s=${RATE[$curve]}"
done
$PY -c "print('bench=zmq encryption_cost=%.2fx (plain/curve events/s)' % (${RATE[off]} / ${RATE[on]}))"
