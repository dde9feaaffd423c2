#!/usr/bin/env bash
# cluster: and repartition across three sluice processes on librdkafka's mock cluster:
#   1. config errors name their line:col (cluster without brokers, repartition without key)
#   2. three nodes split the input and the repartition topic; /api/v1/cluster on any node shows
#      every member and its partitions (each partition held once); every event arrives; each
#      user's events meet on one node; the repartition topic is partitioned as Java's murmur2
#      partitioner would (ksqlDB/Kafka Streams co-location), read back with evbin metadata
#   3. a node stops: the others take its partitions (the API says it left), and the events
#      produced afterwards all arrive, each user's again on one node
source "$(dirname "$0")/lib/common.bash"
KT=${SL_BUILD:?}/kafkatool
[ -x "$KT" ] || fail "no $KT"

# ---- 1. config errors
cat >bad1.yaml <<'EOF'
cluster:
  group: soc
sources:
  g: {type: generator, count: 1}
sinks:
  o: {type: null, inputs: [g]}
EOF
"$SLUICE" check -c bad1.yaml >bad1.out 2>&1 && fail "cluster without brokers accepted"
grep -q 'bad1.yaml:1:1: cluster needs brokers' bad1.out || fail "bad1: $(cat bad1.out)"
cat >bad2.yaml <<'EOF'
cluster: {brokers: "127.0.0.1:1"}
sources:
  g: {type: generator, count: 1}
transforms:
  rp:
    type: repartition
    inputs: [g]
    partitons: 3
sinks:
  o: {type: null, inputs: [rp]}
EOF
"$SLUICE" check -c bad2.yaml >bad2.out 2>&1 && fail "repartition with a typo accepted"
grep -q "bad2.yaml:8:5: unknown option 'partitons' for repartition 'rp'" bad2.out ||
  fail "bad2: $(cat bad2.out)"
sed -i '/partitons/d' bad2.yaml
"$SLUICE" check -c bad2.yaml >bad2b.out 2>&1 && fail "repartition without key accepted"
grep -q "bad2.yaml:5:3: repartition 'rp' needs option 'key'" bad2b.out || fail "bad2b: $(cat bad2b.out)"
ok "config errors at their line:col"

# lines_of NAME: lines of a file sink's output, finished (NAME) or still open (NAME.tmp)
lines_of() { { cat "$1" "$1.tmp" 2>/dev/null || true; } | wc -l | tr -d ' '; }

# ---- the mock cluster (it has no CreateTopics: the topics are made here)
mkfifo mock.in
sleep 100000 >mock.in &
PIDS+=($!)
"$KT" mock -t in:6 -t soc.cluster:1 -t soc.byuser.repartition:6 <mock.in >boot.txt 2>mock.err &
PIDS+=($!)
for _ in $(seq 50); do [ -s boot.txt ] && break; sleep 0.1; done
B=$(cat boot.txt)
[ -n "$B" ] || fail "mock cluster did not start: $(cat mock.err)"

cat >node.yaml <<EOF
cluster: {brokers: "$B", group: soc, node_id: "\${NODE}", status_interval: 300ms}
api: {listen: "127.0.0.1:\${PORT}"}
sources:
  k:
    type: kafka
    topics: in
    librdkafka: {session.timeout.ms: "6000"}
transforms:
  u:
    type: eval
    inputs: [k]
    set: {user: "FORMAT('u%d', TO_INTEGER(seq - 37 * FLOOR(seq / 37.0)))"}
  byuser:
    type: repartition
    inputs: [u]
    key: user
  tag:
    type: eval
    inputs: [byuser]
    set: {node: "'\${NODE}'"}
sinks:
  out: {type: file, inputs: [tag], path: "$T/out-\${NODE}.json"}
EOF
P1=$(free_port); P2=$(free_port); P3=$(free_port)
start() { NODE=$1 PORT=$2 "$SLUICE" run -c node.yaml >"$1.log" 2>&1 & }
start n1 $P1; N1=$!; PIDS+=($N1)
start n2 $P2; N2=$!; PIDS+=($N2)
start n3 $P3; N3=$!; PIDS+=($N3)
wait_port $P1; wait_port $P2; wait_port $P3

# view PORT: /api/v1/cluster summarised: "alive-nodes|holders of each repartition partition"
view() {
  curl -sf "http://127.0.0.1:$1/api/v1/cluster" | $PY -c '
import json, sys
v = json.load(sys.stdin)
alive = sorted(m["node_id"] for m in v["members"] if m["alive"])
held = {}
for m in v["members"]:
    if not m["alive"]:
        continue
    for s in m["status"]["sources"]:
        if s["component"] == "byuser":
            for p in s["partitions"]:
                held.setdefault(p["partition"], []).append(m["node_id"])
print(",".join(alive) + "|" + ";".join("%d:%s" % (p, "+".join(sorted(held[p]))) for p in sorted(held)))' 2>/dev/null || true
}
# wait_view PORT NODES: until the members alive are NODES and each of the 6 partitions is held
# by exactly one of them
wait_view() {
  local v
  for _ in $(seq 300); do
    v=$(view "$1")
    if [ "${v%%|*}" = "$2" ] && $PY -c '
import sys
alive = set(sys.argv[1].split(","))
parts = [p for p in sys.argv[2].split(";") if p]
assert len(parts) == 6
for p in parts:
    holders = p.split(":")[1].split("+")
    assert len(holders) == 1 and holders[0] in alive
' "$2" "${v#*|}" 2>/dev/null; then
      echo "$v"
      return 0
    fi
    sleep 0.1
  done
  fail "cluster view on $1: '$v', want members $2 each holding partitions once"
}
V=$(wait_view $P1 n1,n2,n3)
ok "n1 sees n1,n2,n3; repartition partitions: ${V#*|}"
[ "$(wait_view $P3 n1,n2,n3)" = "$V" ] || fail "n3 sees another cluster than n1"
ok "n3's view equals n1's"
for n in n1 n2 n3; do
  [ "$(awk -F'\\|' '{print $2}' <<<"$V" | tr ';' '\n' | grep -c ":$n$")" -ge 1 ] ||
    fail "$n holds no repartition partition: $V"
done
ok "every node holds repartition partitions"

# all_seqs N: until the out files hold the seqs 0..N-1 (each at least once); prints duplicates
all_seqs() {
  for _ in $(seq 600); do
    if $PY - "$1" "$T"/out-*.json* >seqs.txt 2>/dev/null <<'PYEOF'
import json, sys
n = int(sys.argv[1])
seen = {}
for f in sys.argv[2:]:
    for l in open(f):
        s = json.loads(l)["seq"]
        seen[s] = seen.get(s, 0) + 1
assert all(i in seen for i in range(n)), "missing"
print(sum(seen.values()) - len(seen))
PYEOF
    then
      cat seqs.txt
      return 0
    fi
    sleep 0.1
  done
  fail "not every seq below $1 arrived"
}
# colocated FROM_LINES...: each user's events (lines after the given counts) on one node
colocated() {
  $PY - "$@" <<'PYEOF'
import json, sys, glob
skip = dict(a.split("=") for a in sys.argv[1:])
where = {}
for f in sorted(glob.glob("out-*.json*")):
    for i, l in enumerate(open(f)):
        if i < int(skip.get(f.replace(".tmp", ""), 0)):
            continue
        e = json.loads(l)
        where.setdefault(e["user"], set()).add(e["node"])
split = {u: n for u, n in where.items() if len(n) > 1}
assert len(where) == 37, len(where)
assert not split, split
PYEOF
}

"$KT" produce -B "$B" -t in -n 20000 -k 64 2>/dev/null
D=$(all_seqs 20000)
ok "20000 events through three nodes and the repartition topic ($D duplicates)"
colocated || fail "a user's events on two nodes"
ok "each of 37 users on one node"
for n in n1 n2 n3; do [ "$(lines_of out-$n.json)" -gt 0 ] || fail "$n wrote nothing"; done

# the repartition topic as Java would partition it (murmur2), through a sluice reader
cat >reader.yaml <<EOF
sources:
  r:
    type: kafka
    brokers: "$B"
    topics: soc.byuser.repartition
    group: reader
    format: evbin
    metadata: true
sinks:
  f: {type: file, inputs: [r], path: "$T/rp.json"}
EOF
timeout 60 "$SLUICE" run --once -c reader.yaml >reader.log 2>&1 || fail "reader: $(tail -3 reader.log)"
$PY - rp.json <<'PYEOF' || fail "repartition topic not partitioned as murmur2"
import json, sys
def murmur2(data):
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(data)) & 0xffffffff
    for i in range(len(data) // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff; k ^= k >> r; k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff; h ^= k
    tail, extra = len(data) & ~3, len(data) % 4
    if extra >= 3: h ^= data[tail + 2] << 16
    if extra >= 2: h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]; h = (h * m) & 0xffffffff
    h ^= h >> 13; h = (h * m) & 0xffffffff; h ^= h >> 15
    return h
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    want = (murmur2(e["user"].encode()) & 0x7fffffff) % 6
    assert e["@kafka.partition"] == want, (e, want)
    assert e["@kafka.key"] == e["user"] and isinstance(e["seq"], int)
    n += 1
assert n >= 20000, n
PYEOF
ok "repartition records keyed by user on murmur2's partition, types kept (evbin)"

# ---- 3. n3 leaves
declare -A before
for n in n1 n2 n3; do before[$n]=$(lines_of out-$n.json); done
kill -TERM $N3
wait $N3 || fail "n3 did not stop cleanly: $(tail -3 n3.log)"
V=$(wait_view $P1 n1,n2)
ok "after n3 left, n1 sees n1,n2 holding: ${V#*|}"
curl -sf "http://127.0.0.1:$P1/api/v1/cluster" | $PY -c '
import json, sys
v = json.load(sys.stdin)
m = {x["node_id"]: x for x in v["members"]}
assert m["n3"]["alive"] is False and m["n3"]["status"]["state"] == "left", m["n3"]
assert v["node_id"] == "n1" and v["group"] == "soc" and v["local"]["api"].endswith(":'"$P1"'")
' || fail "n3 not shown as left"
ok "n3 shown as left"
"$KT" produce -B "$B" -t in -n 10000 -f 20000 -k 64 2>/dev/null
D=$(all_seqs 30000)
ok "30000 events in all after the rebalance ($D duplicates)"
colocated "out-n1.json=${before[n1]}" "out-n2.json=${before[n2]}" "out-n3.json=999999999" ||
  fail "after the rebalance a user's events on two nodes"
ok "each user on one node after the rebalance"
[ "$(lines_of out-n3.json)" = "${before[n3]}" ] || fail "n3 wrote after it stopped"

kill -TERM $N1 $N2
wait $N1 || fail "n1 exit: $(tail -3 n1.log)"
wait $N2 || fail "n2 exit: $(tail -3 n2.log)"
grep -h "level=error" n1.log n2.log n3.log && fail "errors in the logs"
echo PASS
