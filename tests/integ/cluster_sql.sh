#!/usr/bin/env bash
# cluster_sql: a windowed SQL aggregation on a consumer group, its state checkpointed to a
# changelog topic per input partition (the sql transform's `changelog:`), on librdkafka's mock
# cluster:
#   a. one node over the whole input: the final COUNT and SUM per (key, window) equal what the
#      produced records give (computed here from the records themselves)
#   b. three nodes in one group; one is killed (kill -9) halfway through; the others take its
#      partitions over, restore their state from the changelog (said in their logs) and
#      skip what it already held: the final value per (key, window) equals (a)'s exactly
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/cluster_sql.bash"

N=24000   # records: seq 0..N-1, key k<seq % 24>, event time 1700000000000 + 25 ms * seq
HALF=$((N / 2))

mock_start -t in:6 -t inb:6 -t soc.cluster:1 -t sqlstate:6 -t single-state:6

# node_yaml GROUP STATE_TOPIC OUT INPUT_TOPIC: the pipeline every node runs
node_yaml() {
  cat <<EOF
cluster: {brokers: "$B", group: $1, node_id: "\${NODE}", status_interval: 300ms}
sources:
  k:
    type: kafka
    topics: $4
    librdkafka: {session.timeout.ms: "6000"}
transforms:
  t:
    type: eval
    inputs: [k]
    set: {ts: "1700000000000L + seq * 25"}
  q:
    type: sql
    inputs: [t]
    topic: in
    changelog: {topic: $2}
    changelog_interval: 300ms
    statements: |
      CREATE STREAM s (seq BIGINT, key STRING, ts BIGINT)
        WITH (kafka_topic='in', value_format='json', timestamp='ts');
      CREATE TABLE w AS SELECT key, COUNT(*) AS n, SUM(seq) AS total FROM s
        WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 HOUR) GROUP BY key EMIT CHANGES;
sinks:
  out: {type: file, inputs: [q], path: "$T/$3-\${NODE}.json"}
EOF
}

# the truth, from the records produced
$PY - $N >want.txt <<'PYEOF'
import sys
n = int(sys.argv[1])
w = {}
for i in range(n):
    k = ("k%d" % (i % 24), (1700000000000 + 25 * i) // 60000 * 60000)
    c, s = w.get(k, (0, 0))
    w[k] = (c + 1, s + i)
for k in sorted(w):
    print(k[0], k[1], w[k][0], w[k][1])
PYEOF
[ "$(wc -l <want.txt)" -ge 200 ] || fail "too few windows in the expected result"

# ---- a. one node, the whole input
"$KT" produce -B "$B" -t in -n $N -k 24 -s 60 2>/dev/null
node_yaml single single-state a in >single.yaml
NODE=a1 timeout 120 "$SLUICE" run --once -c single.yaml >a1.log 2>&1 || fail "single node: $(tail -5 a1.log)"
finals a-a1.json* >a.txt
cmp -s a.txt want.txt || fail "one node: final values differ from the records': $(diff a.txt want.txt | head -5)"
ok "one node: $(wc -l <a.txt) (key, window) finals equal the records' counts and sums"

# ---- b. three nodes, one killed halfway: the first half is produced, n2 is killed once it
# checkpointed, then the second half
"$KT" produce -B "$B" -t inb -n $HALF -k 24 -s 60 2>/dev/null
node_yaml soc sqlstate b inb >node.yaml
three_nodes_kill_n2 inb
ok "n2 killed while reading the second half (it wrote $n2_rows rows, $((n2_rows - n2_before)) of them from the second half)"
# the others take its partitions over and restore their state
restored() { { tail -n +$((l1 + 1)) n1.log; tail -n +$((l3 + 1)) n3.log; } | grep "state restored from sqlstate" | grep -v "input offsets: none"; }
for _ in $(seq 600); do
  restored >/dev/null && break
  sleep 0.1
done
restored | head -3 | sed 's/^/  /'
restored >/dev/null || fail "no partition of n2 restored from a checkpoint after the kill"
ok "n2's partitions restored from the changelog by the survivors"
for _ in $(seq 900); do
  finals b-*.json* >b.txt
  cmp -s b.txt a.txt && break
  sleep 0.1
done
cmp -s b.txt a.txt || fail "after the takeover the finals differ from one node's: $(diff b.txt a.txt | head -5)"
ok "three nodes with n2 killed: $(wc -l <b.txt) (key, window) finals equal one node's exactly"
kill -TERM $N1 $N3
wait $N1 || fail "n1 exit: $(tail -3 n1.log)"
wait $N3 || fail "n3 exit: $(tail -3 n3.log)"

# ---- c. a node of another group (no committed offsets: it reads every partition from the
# start) with the same changelog: it restores the six states and must skip every record they
# hold. 2000 more records, 1000 of them repeating seqs already counted (same key and window).
"$KT" produce -B "$B" -t inb -n 2000 -f $((N - 1000)) -k 24 -s 60 2>/dev/null
node_yaml other sqlstate c inb >other.yaml
NODE=c1 timeout 120 "$SLUICE" run --once -c other.yaml >c1.log 2>&1 || fail "c1: $(tail -5 c1.log)"
[ "$(grep -c "state restored from sqlstate" c1.log)" -ge 6 ] || fail "c1 did not restore six partitions: $(grep restored c1.log)"
$PY - $N >want2.txt <<'PYEOF'
import sys
n = int(sys.argv[1])
w = {}
for i in list(range(n)) + list(range(n - 1000, n + 1000)):
    k = ("k%d" % (i % 24), (1700000000000 + 25 * i) // 60000 * 60000)
    c, s = w.get(k, (0, 0))
    w[k] = (c + 1, s + i)
for k in sorted(w):
    print(k[0], k[1], w[k][0], w[k][1])
PYEOF
finals c-c1.json* >c.txt
[ "$(wc -l <c.txt)" -ge 24 ] || fail "c1 wrote too few windows: $(wc -l <c.txt)"
grep -F -x -f c.txt want2.txt | cmp -s - c.txt ||
  fail "c1's finals are not the records': $(grep -F -x -v -f want2.txt c.txt | head -3)"
ok "another group restoring the six states: $(wc -l <c.txt) windows continued exactly (what the states held skipped, what came after them read again: $(cat c-c1.json* | wc -l) rows for 2000 new records)"
grep -h "level=error" a1.log n1.log n3.log c1.log && fail "errors in the logs"
echo PASS
