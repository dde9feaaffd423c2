#!/usr/bin/env bash
# bench_cluster.sh — events/s of one pipeline run by 1, 2 and 3 sluice nodes sharing a
# `cluster:` section on one librdkafka mock cluster (3 brokers on loopback, kafkatool mock):
#   kafka (json, 128 partitions) -> eval (user = seq mod USERS) -> repartition by user (evbin,
#   128 partitions, murmur2) -> profiler (count and STATS per user, event time) -> null
#   bash bench/bench_cluster.sh [BUILD_DIR=build/release] [N=3000000] [NODES="1 2 3"]
# N records of ~80 B are produced (the mock cluster keeps at most 5 MiB per partition:
# 128 partitions hold 3 M) before the nodes start. Each node runs with `workers: W`
# (WORKERS, default 1). The rate is taken from the nodes' /metrics (the profiler's events_in,
# summed over the nodes, polled every 50 ms) from the moment node 1's /api/v1/cluster shows
# every node holding partitions of both groups (the joins and rebalances are over) to the N-th
# event; `measured` says which share of N that window covered. Prints per run: `bench=cluster nodes=K events=N events_per_s=R
# cpu_s=C events_per_cpu_s=E` (C: user+system seconds of all nodes over the whole run), and
# `scaling=` lines (rate with K nodes / rate with 1). mock_cluster_cpu_s: the CPU the three mock
# brokers (one kafkatool process) used over the run, producing the input included.
# Every process shares this machine's cores (and the mock brokers run inside kafkatool):
# read events_per_cpu_s for sizing, events_per_s for what this machine does.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}
N=${2:-3000000}
NODES=${3:-1 2 3}
WORKERS=${WORKERS:-1}
USERS=${USERS:-5000}
SLUICE=$dir/sluice
KT=$dir/kafkatool
PY=/usr/bin/python3
[ -x "$KT" ] || { echo "bench=cluster skipped: no $KT"; exit 0; }
T=$(mktemp -d /tmp/sluice-bench-cluster.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
cat >"$T/profiler.json" <<'JSON'
{"profiles": [
  {"profile": "events", "foreach": "user", "init": {"n": 0}, "update": {"n": "n + 1"},
   "result": "n"},
  {"profile": "size", "foreach": "user", "init": {"s": "STATS_INIT()"},
   "update": {"s": "STATS_ADD(s, seq)"}, "result": "s"}
]}
JSON

declare -A RATE
for k in $NODES; do
  mkfifo "$T/mock.in.$k"
  sleep 100000 >"$T/mock.in.$k" &
  PIDS+=($!)
  "$KT" mock -t in:128 -t bench.cluster:1 -t bench.byuser.repartition:128 <"$T/mock.in.$k" \
    >"$T/boot.$k" 2>/dev/null &
  MOCK=$!
  PIDS+=($MOCK)
  for _ in $(seq 50); do [ -s "$T/boot.$k" ] && break; sleep 0.1; done
  B=$(cat "$T/boot.$k")
  "$KT" produce -B "$B" -t in -n "$N" -s 80 -k 1000 2>/dev/null
  cat >"$T/node.yaml" <<EOF
cluster: {brokers: "$B", group: bench, node_id: "\${NODE}"}
api: {listen: "127.0.0.1:\${PORT}"}
workers: $WORKERS
sources:
  k: {type: kafka, topics: in, max_inflight: 256}
transforms:
  u:
    type: eval
    inputs: [k]
    set: {user: "FORMAT('u%d', TO_INTEGER(seq - $USERS * FLOOR(seq / $USERS.0)))"}
  byuser: {type: repartition, inputs: [u], key: user}
  prof:
    type: profiler
    inputs: [byuser]
    profiles_file: $T/profiler.json
    time: processing
    period: 1m
sinks:
  out: {type: null, inputs: [prof]}
EOF
  ports=()
  pids=()
  for i in $(seq "$k"); do
    port=$(free_port)
    NODE=n$i PORT=$port "$SLUICE" run -c "$T/node.yaml" >"$T/n$i.$k.log" 2>&1 &
    pids+=($!)
    PIDS+=($!)
    ports+=($port)
  done
  # poll the profilers' events_in over the nodes until N: times at 10% and 90%
  # poll the profilers' events_in over the nodes until N, and node 1's /api/v1/cluster until
  # every node holds partitions of both groups (the last rebalance is over)
  read -r ts cs t1 < <($PY - "$N" "$k" "${ports[@]}" <<'PYEOF'
import json, re, sys, time, urllib.request
n, k, ports = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pat = re.compile(r'^sluice_component_events_in_total\{component="prof"[^}]*\} (\S+)', re.M)
def get(port, path):
    try:
        return urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=1).read()
    except OSError:
        return None
def total():
    s = 0
    for p in ports:
        body = get(p, "/metrics")
        m = pat.search(body.decode()) if body else None
        s += float(m.group(1)) if m else 0
    return s
def stable():
    body = get(ports[0], "/api/v1/cluster")
    if not body:
        return False
    v = json.loads(body)
    held = {"k": 0, "byuser": 0}
    alive = 0
    for m in v["members"]:
        if not m["alive"]:
            continue
        alive += 1
        mine = {s["component"]: len(s["partitions"]) for s in m["status"]["sources"]}
        if not mine.get("k") or not mine.get("byuser"):
            return False
        for c in held:
            held[c] += mine[c]
    return alive == k and held["k"] == held["byuser"] == 128
ts = cs = t1 = None
deadline = time.time() + 600
while time.time() < deadline:
    c, t = total(), time.time()
    if ts is None and stable():
        ts, cs = t, c
    if c >= n:
        t1 = t
        break
    time.sleep(0.05)
print(ts or 0, cs or 0, t1 or 0)
PYEOF
)
  cpu=0
  for p in "${pids[@]}"; do
    c=$(awk '{print ($14 + $15) / 100}' "/proc/$p/stat" 2>/dev/null || echo 0)
    cpu=$($PY -c "print('%.2f' % ($cpu + $c))")
  done
  mock_cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$MOCK/stat" 2>/dev/null || echo 0)
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  kill -9 "$MOCK" 2>/dev/null || true
  if [ "$t1" = 0 ] || [ "$ts" = 0 ]; then
    echo "bench=cluster nodes=$k events=$N error=did-not-finish (logs: $(tail -2 "$T/n1.$k.log"))"
    continue
  fi
  r=$($PY -c "print('%.0f' % (($N - $cs) / max($t1 - $ts, 0.05)))")
  measured=$($PY -c "print('%.0f%%' % (100.0 * ($N - $cs) / $N))")
  RATE[$k]=$r
  epc=$($PY -c "print('%.0f' % ($N / $cpu) if $cpu > 0 else 0)")
  echo "bench=cluster nodes=$k workers=$WORKERS events=$N events_per_s=$r cpu_s=$cpu events_per_cpu_s=$epc mock_cluster_cpu_s=$mock_cpu measured=$measured"
done
for k in $NODES; do
  [ -n "${RATE[1]:-}" ] && [ -n "${RATE[$k]:-}" ] &&
    echo "scaling nodes=$k ratio=$($PY -c "print('%.2f' % (${RATE[$k]} / ${RATE[1]}))")"
done
