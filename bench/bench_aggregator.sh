#!/usr/bin/env bash
# bench_aggregator.sh — the aggregator end to end on loopback: `sluice send` → CurveZMQ →
# `sluice aggregator` pipeline (zmq → parquet per type → receiver uploads, one worker) →
# `sluice receiver` storing the files.
#   bash bench/bench_aggregator.sh [BUILD_DIR=build/release] [EVENTS=2000000] [DELAYS=10]
# Prints:
#   bench=aggregator_throughput events=N seconds=S events_per_s=R files=F   (first send → the
#     receiver has stored every row; rows counted from the receiver's log)
#   bench=aggregator_delay samples=K median_ms=M p90_ms=P max_ms=X   (one event sent alone →
#     the file holding it is stored by the receiver; batchTime 1 s)
# No DNS transform (bench_dns measures it); the pipeline runs with `workers: 1`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-2000000}; DELAYS=${3:-10}
SLUICE=$PWD/$dir/sluice
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-agg.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
cd "$T"
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  for _ in $(seq 100); do
    $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
    sleep 0.1
  done
  echo "bench=aggregator ERROR: nothing listens on $1"; exit 1
}
$PY - <<'PYEOF'
import json
with open("events.json", "w") as f:
    for i in range(10000):
        f.write(json.dumps({"type": "GENERAL", "ts": 1700000000.0 + i / 1000, "uid": "C%08d" % i,
            "collectorId": "c1", "origIp": "10.0.%d.%d" % (i // 250 % 250, i % 250 + 1),
            "origPort": 1024 + i % 60000, "respIp": "192.168.1.%d" % (i % 200 + 1),
            "respPort": [53, 80, 443, 22][i % 4], "proto": "tcp", "duration": 0.5 + i % 7,
            "origBytes": i % 5000, "respBytes": i % 70000, "connState": "SF",
            "history": "ShADadFf", "origPkts": i % 40, "respPkts": i % 30}) + "\n")
PYEOF
read -r SEC PUB < <($SLUICE keygen --json | $PY -c 'import json,sys; k=json.load(sys.stdin); print(k["secret"]["hex_z85"], k["public"]["hex_z85"])')
echo bench-key > keys.txt
RPORT=$(free_port); ZPORT=$(free_port); SPORT=$(free_port)
$SLUICE receiver --listen 127.0.0.1:$RPORT --root store --keys keys.txt 2> receiver.log &
PIDS+=($!)
wait_port $RPORT
$SLUICE aggregator --host 127.0.0.1 -p $ZPORT -s $SPORT -b 1 -t $SEC -c $PUB \
  -r http://127.0.0.1:$RPORT/s3 -a bench-key -q bench-1 --spool spool --api-listen off \
  -l WARNING --print-config > agg.yaml
echo "workers: 1" >> agg.yaml
${SL_WRAP:-} $SLUICE run -c agg.yaml --no-status 2> agg.log &
APID=$!
PIDS+=($APID)
wait_port $ZPORT
stored_rows() { grep -o 'msg="stored path=[^"]* rows=[0-9]*' receiver.log | sed 's/.*rows=//' |
  awk '{s += $1} END {print s + 0}'; }

t0=$($PY -c 'import time; print(time.time())')
$SLUICE send --server-key $PUB --port $ZPORT --batch 100 --count $N --loop --quiet events.json > send.txt
while [ "$(stored_rows)" -lt "$N" ]; do
  sleep 0.05
  kill -0 $APID 2>/dev/null || { echo "bench=aggregator ERROR: aggregator died: $(tail -3 agg.log)"; exit 1; }
done
t1=$($PY -c 'import time; print(time.time())')
files=$(grep -c 'msg="stored path=' receiver.log)
$PY -c "print('bench=aggregator_throughput events=$N seconds=%.2f events_per_s=%.0f files=$files' % ($t1 - $t0, $N / ($t1 - $t0)))"

# delay: one event alone, until the receiver stored the file holding it
$PY - "$SLUICE" "$PUB" "$ZPORT" "$DELAYS" <<'PYEOF'
import json, re, subprocess, sys, time
sluice, pub, port, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def stored():
    return len(re.findall(r'msg="stored path=', open("receiver.log").read()))
ds = []
for i in range(k):
    with open("one.json", "w") as f:
        f.write(json.dumps({"type": "HTTP", "uid": "D%d" % i, "origIp": "10.0.0.1",
                            "respIp": "10.0.0.2", "method": "GET"}) + "\n")
    before = stored()
    t0 = time.time()
    subprocess.run([sluice, "send", "--server-key", pub, "--port", port, "--batch", "1",
                    "--quiet", "one.json"], check=True, stdout=subprocess.DEVNULL)
    while stored() == before:
        time.sleep(0.005)
        if time.time() - t0 > 30:
            sys.exit("bench=aggregator ERROR: event %d not stored after 30 s" % i)
    ds.append((time.time() - t0) * 1000)
    time.sleep(0.3 + (i % 3) * 0.3)   # land at different points of the 1 s roll
ds.sort()
print("bench=aggregator_delay samples=%d median_ms=%.0f p90_ms=%.0f max_ms=%.0f batch_time_s=1"
      % (k, ds[k // 2], ds[min(k - 1, int(k * 0.9))], ds[-1]))
PYEOF
$PY -c "import zmq; s=zmq.Context().socket(zmq.REQ); s.connect('tcp://127.0.0.1:$SPORT'); s.send(b'shutdown'); s.recv()"
wait $APID
