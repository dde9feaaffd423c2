#!/usr/bin/env bash
# Scale-out of the profiler (docs/cluster.md, "State and takeover"): librdkafka's mock cluster
# with 3 brokers, a real PostgreSQL, an input topic of 24 partitions keyed by entity, and
# CLUSTER_EVENTS events (default 1,000,000) over ~1000 entities and a few 1-minute periods, with
# enough disorder that some events are late:
#   A. one sluice node reads everything -> database a
#   B. three sluice nodes in one consumer group on the same pipeline file; one is killed with
#      kill -9 when about half the events are committed; the other two take its partitions
#      over, restore their in-period state from the changelog topic and finish -> database b
# Every stored measurement (profile, entity, groups, period, value) of b equals a's (psql),
# for a count, a sum and a STATS sketch; and the takeover really restored state (logged).
# The end of input: one marker per partition whose event time is a day later closes every
# period (the watermark is per partition); then the nodes get SIGTERM.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/postgres.bash"
KT=${SL_BUILD:?}/kafkatool
[ -x "$KT" ] || fail "no $KT"
N=${CLUSTER_EVENTS:-1000000}
# librdkafka's mock cluster keeps about 5 MB per partition and drops the oldest records beyond:
# 24 partitions hold 1 M records of ~75 bytes (6 would lose more than half of them)
PARTS=${CLUSTER_PARTITIONS:-24}
pg_start
pg_q "CREATE DATABASE a" >/dev/null
pg_q "CREATE DATABASE b" >/dev/null

mkfifo mock.in
sleep 100000 >mock.in &
PIDS+=($!)
# the changelog topics too: the mock cluster has no CreateTopics (a real cluster gets them
# created compacted by the profiler)
"$KT" mock -b 3 -t in:$PARTS -t ga-prof-changelog:6 -t gb-prof-changelog:6 <mock.in >boot.txt 2>mock.err &
PIDS+=($!)
for _ in $(seq 50); do [ -s boot.txt ] && break; sleep 0.1; done
B=$(cat boot.txt)
[ -n "$B" ] || fail "mock cluster did not start: $(cat mock.err)"
ok "mock cluster (3 brokers) at $B"

# ---- the input: keyed by entity (the partition is a hash of it), one marker per partition
t0=$(date +%s.%N)
$PY - "$B" "$N" "$PARTS" <<'PYEOF' || fail "produce"
import json, random, sys, zlib
from confluent_kafka import Producer
brokers, n, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "acks": "all",
              "enable.idempotence": True, "queue.buffering.max.messages": 2000000,
              "batch.num.messages": 10000})
rnd = random.Random(20)
base = 1700000000000 - 1700000000000 % 60000
span = 4 * 60000                      # four 1-minute periods
ips = ["10.%d.%d.%d" % (i // 65536, i // 256 % 256, i % 256) for i in range(1000)]
part = {ip: zlib.crc32(ip.encode()) % parts for ip in ips}
for i in range(n):
    ip = ips[rnd.randrange(1000)]
    # mostly in order, some up to 8 s behind (the lag is 5 s: those are late)
    ts = base + i * span // n - (rnd.randrange(8000) if rnd.random() < 0.01 else 0)
    v = json.dumps({"ts": ts, "ip": ip, "bytes": rnd.randrange(1, 1500)})
    while True:
        try:
            p.produce("in", v, key=ip, partition=part[ip])
            break
        except BufferError:
            p.poll(0.05)
    if i % 10000 == 0:
        p.poll(0)
for k in range(parts):
    p.produce("in", json.dumps({"ts": base + 86400000, "end": True}), key="end", partition=k)
left = p.flush(60)
sys.exit(1 if left else 0)
PYEOF
ok "produced $N events and $PARTS end markers ($(echo "$(date +%s.%N) - $t0" | bc) s)"

cat >profiler.json <<'JSON'
{"timestampField": "ts", "profiles": [
  {"profile": "count", "foreach": "ip", "onlyif": "exists(ip)",
   "init": {"n": 0}, "update": {"n": "n + 1"}, "result": "n"},
  {"profile": "sum", "foreach": "ip", "onlyif": "exists(ip)",
   "init": {"s": 0}, "update": {"s": "s + bytes"}, "result": "s"},
  {"profile": "stats", "foreach": "ip", "onlyif": "exists(ip)",
   "init": {"st": "STATS_INIT()"}, "update": {"st": "STATS_ADD(st, bytes)"}, "result": "st"}
]}
JSON
# pipeline GROUP DB: the same file for every node of a run
pipeline() {
  cat >"$1.yaml" <<YAML
sources:
  k:
    type: kafka
    brokers: "$B"
    topics: [in]
    group: $1
    librdkafka:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
transforms:
  prof:
    type: profiler
    inputs: [k]
    profiles_file: profiler.json
    period: 1m
    lag: 5s
    store: "postgres://postgres@127.0.0.1:$PGPORT/$2"
    changelog: {brokers: "$B"}
    changelog_interval: 2s
sinks:
  late: {type: null, inputs: [prof.late]}
YAML
}

# committed GROUP: the sum over the partitions of the group's committed offsets, and the sum
# of the end offsets ("committed end")
committed() {
  $PY - "$B" "$1" "$PARTS" <<'PYEOF'
import sys
from confluent_kafka import Consumer, TopicPartition
b, g, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": b, "group.id": g, "enable.auto.commit": False})
tps = [TopicPartition("in", i) for i in range(n)]
done = sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10))
end = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)
c.close()
print(done, end)
PYEOF
}

# wait_all GROUP SECONDS: until the group committed every record
wait_all() {
  local i=0 c e
  while :; do
    read -r c e < <(committed "$1")
    [ "$c" = "$e" ] && [ "$e" -gt 0 ] && return 0
    i=$((i + 1))
    if [ $i -gt $(($2 * 2)) ]; then
      tail -n 15 ./*.log >&2
      fail "$1: $c of $e records committed after $2 s"
    fi
    sleep 0.5
  done
}

# wait_exit PID LOG: after its SIGTERM, a node must checkpoint, flush and exit 0 within 60 s
wait_exit() {
  local i=0
  while kill -0 "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then
      kill -9 "$1"
      tail -5 "$2"
      fail "$2: no exit 60 s after SIGTERM"
    fi
    sleep 0.1
  done
  wait "$1" || { tail -20 "$2"; fail "$2: exit status $?"; }
}

# rows DB: every measurement as text (profile, entity, groups, period, value)
rows() {
  psql -X -q -v ON_ERROR_STOP=1 -A -t -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$1" -c \
    "SELECT profile, entity, groups, duration_ms, period, vtype, v_int, v_real, v_text,
            encode(v_blob, 'hex') FROM measurements ORDER BY 1, 2, 3, 4, 5"
}

# ---- A: one node
pipeline ga a
t0=$(date +%s.%N)
$SLUICE run -c ga.yaml --no-status >a.log 2>&1 &
PA=$!
PIDS+=($PA)
wait_all ga ${CLUSTER_WAIT:-150}
kill -TERM $PA
wait_exit $PA a.log
ta=$(echo "$(date +%s.%N) - $t0" | bc)
rows a >a.txt
na=$(wc -l <a.txt)
[ "$na" -gt 3000 ] || fail "too few measurements in A: $na"
ok "A: one node, $na measurements ($ta s)"

# ---- B: three nodes in one group; one is killed (kill -9) when about half is committed
pipeline gb b
NODE=()
for i in 1 2 3; do
  $SLUICE run -c gb.yaml --no-status >b$i.log 2>&1 &
  NODE[$i]=$!
  PIDS+=($!)
done
t0=$(date +%s.%N)
# one poller (a Python start per poll is too slow: the nodes read 1 M records in seconds)
$PY - "$B" gb "$PARTS" $((N / 2)) <<'PYEOF' || fail "B: half of the records not committed in 150 s"
import sys, time
from confluent_kafka import Consumer, TopicPartition
b, g, n, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({"bootstrap.servers": b, "group.id": g, "enable.auto.commit": False})
tps = [TopicPartition("in", i) for i in range(n)]
end = time.time() + 150
while time.time() < end:
    if sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10)) >= want:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PYEOF
kill -9 "${NODE[1]}"
wait "${NODE[1]}" 2>/dev/null || true
read -r c e < <(committed gb)
[ "$c" -lt "$e" ] || fail "B: the kill came after the end ($c of $e committed)"
ok "B: node 1 killed with $c of $e records committed"
wait_all gb 150
kill -TERM "${NODE[2]}" "${NODE[3]}"
wait_exit "${NODE[2]}" b2.log
wait_exit "${NODE[3]}" b3.log
tb=$(echo "$(date +%s.%N) - $t0" | bc)
grep -h "state restored" b2.log b3.log | grep -v "input offset -1" | head -3 || true
restored=$(grep -h "state restored" b2.log b3.log | grep -vc "generation 0" || true)
[ "$restored" -gt 0 ] || fail "B: no partition was restored from a checkpoint"
ok "B: $restored partition takeovers restored a checkpoint"
if grep -h "level=error" a.log b1.log b2.log b3.log | head -5 | grep .; then
  fail "errors in the logs"
fi
rows b >b.txt
nb=$(wc -l <b.txt)
if ! cmp -s a.txt b.txt; then
  diff a.txt b.txt | head -20
  fail "B: the measurements differ from A ($nb vs $na rows)"
fi
ok "B: 3 nodes with one killed store the same $nb measurements as A, value for value ($tb s)"
la=$(sed -n 's/.* \([0-9]*\) late events.*/\1/p' a.log)
[ "${la:-0}" -gt 0 ] || fail "no late events: the test does not exercise the watermark"
ok "late events in A: $la (refused identically in B: the measurements are equal)"
