#!/usr/bin/env bash
# cluster_aggregate: the aggregate and kmeans transforms' open windows on a consumer group,
# checkpointed per task to a changelog topic (`changelog:`), on librdkafka's mock cluster:
#   a. one node over the whole input (--once): every (key, window) comes out once, with the
#      count, sum, min and max the produced records give (computed here from the records)
#   b. three nodes in one group; n2 is killed (kill -9) while it reads the second half; the
#      others take its partitions over, restore its windows from the changelog (said in their
#      logs) and skip what the windows held: once a last record per key closes them, every
#      (key, window) has come out whole, equal to (a)'s (a window n2 closed before its last
#      checkpoint may come out twice, the same row: at-least-once), and none in parts; the
#      same for kmeans: every (key, window) scored on the records' whole features
# Without `changelog:` (and allowed_lateness / lag 2h, for the one watermark over all
# partitions) step b fails: the survivors never see n2's open windows, e.g. k1's first windows
# are missing and one comes out in parts, and kmeans scores k1's windows on other counts
# (checked by hand when this test was written).
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/cluster_sql.bash"

N=24000   # records: seq 0..N-1, key k<seq % 24>, event time 1700000000000 + 25 ms * seq
HALF=$((N / 2))

mock_start -t in:6 -t inb:6 -t soc.cluster:1 -t aggstate:6 -t single-state:6 -t aggstate-km:6 \
  -t single-state-km:6

# node_yaml GROUP STATE_TOPIC OUT INPUT_TOPIC
node_yaml() {
  cat <<YAML
cluster: {brokers: "$B", group: $1, node_id: "\${NODE}", status_interval: 300ms}
sources:
  k:
    type: kafka
    topics: $4
    librdkafka: {session.timeout.ms: "6000"}
transforms:
  w:
    type: aggregate
    inputs: [t]
    window: tumbling
    size: 60s
    time_field: ts_ms
    group_by: {key: "key"}
    aggregates: {n: "count()", total: "sum(seq)", lo: "min(seq)", hi: "max(seq)", kinds: "distinct(seq)"}
    changelog: {topic: $2}
    changelog_interval: 300ms
  km:
    type: kmeans
    inputs: [t]
    key: "key"
    features: {n: "count()", total: "sum(seq)", kinds: "distinct(seq)"}
    k: 2
    init: centres
    centres: [[0, 0, 0], [100, 1000000, 100]]
    training: $T/train.jsonl
    training_format: json
    time: event
    timestamp_field: ts_ms
    window: 60s
    changelog: {topic: $2-km}
    changelog_interval: 300ms
  t:
    type: eval
    inputs: [k]
    set: {ts_ms: "1700000000000L + seq * 25"}
sinks:
  out: {type: file, inputs: [w], path: "$T/$3-\${NODE}.json"}
  kout: {type: file, inputs: [km], path: "$T/km$3-\${NODE}.json"}
YAML
}

# kmeans' training: records like the stream's (the same model on every node)
$PY - >train.jsonl <<'PYEOF'
import json
for i in range(4800):
    print(json.dumps({"seq": i * 3, "key": "k%d" % (i % 24), "ts_ms": 1600000000000 + 25 * i}))
PYEOF

# the truth, from the records produced
$PY - $N >want.txt <<'PYEOF'
import sys
n = int(sys.argv[1])
w = {}
for i in range(n):
    k = ("k%d" % (i % 24), (1700000000000 + 25 * i) // 60000 * 60000)
    c, s, lo, hi, kinds = w.get(k, (0, 0, None, None, set()))
    kinds.add(i)
    w[k] = (c + 1, s + i, i if lo is None else min(lo, i), i if hi is None else max(hi, i), kinds)
for k in sorted(w):
    c, s, lo, hi, kinds = w[k]
    print(k[0], k[1], c, s, lo, hi, len(kinds))
PYEOF
[ "$(wc -l <want.txt)" -ge 200 ] || fail "too few windows in the expected result"

# rows KIND FILES...: per output row, sorted (duplicates kept), of the windows before the
# closing records only: KIND windows (the aggregate's) "key window_start n total lo hi kinds",
# KIND scores (the kmeans') "key window_start n total kinds score"
rows_of() {
  $PY - "$@" <<'PYEOF'
import json, sys, datetime
kind, out = sys.argv[1], []
for f in sys.argv[2:]:
    try:
        lines = open(f).read().split("\n")
    except OSError:
        continue
    for l in lines:
        try:
            e = json.loads(l)
        except ValueError:
            continue  # the last line of a killed node's file
        ws = e["window_start"]
        if isinstance(ws, str):
            ws = int(datetime.datetime.fromisoformat(ws.replace("Z", "+00:00")).timestamp() * 1000)
        if ws >= 1700000000000 + 25 * 1000000 - 60000:
            continue  # the closers' own windows
        if kind == "windows":
            out.append("%s %d %d %d %d %d %d" % (e["key"], ws, e["n"], e["total"], e["lo"], e["hi"], e["kinds"]))
        else:
            m = e["metadata"]
            out.append("%s %d %d %d %d %.6f" % (e["key"], ws, m["n"], m["total"], m["kinds"], e["score"]))
for l in sorted(out):
    print(l)
PYEOF
}
windows() { rows_of windows "$@"; }
scores() { rows_of scores "$@"; }

# ---- a. one node, the whole input
"$KT" produce -B "$B" -t in -n $N -k 24 -s 60 2>/dev/null
node_yaml single single-state a in >single.yaml
NODE=a1 timeout 120 "$SLUICE" run --once -c single.yaml >a1.log 2>&1 || fail "single node: $(tail -5 a1.log)"
windows a-a1.json* >a.txt
cmp -s a.txt want.txt || fail "one node: windows differ from the records': $(diff a.txt want.txt | head -5)"
ok "one node: $(wc -l <a.txt) (key, window) rows, each once, equal the records' count, sum, min, max, distinct"
scores kma-a1.json* >ka.txt
cut -d' ' -f1-4,7 want.txt | cmp -s - <(cut -d' ' -f1-5 ka.txt) ||
  fail "one node: kmeans features differ from the records': $(diff <(cut -d' ' -f1-4,7 want.txt) <(cut -d' ' -f1-5 ka.txt) | head -5)"
ok "one node: $(wc -l <ka.txt) kmeans scores, one per (key, window), of the records' features"

# ---- b. three nodes, n2 killed while it reads the second half
"$KT" produce -B "$B" -t inb -n $HALF -k 24 -s 60 2>/dev/null
node_yaml soc aggstate b inb >node.yaml
KILL_AFTER=8 three_nodes_kill_n2 inb   # a row per (key, window) closed: ~40 for n2
ok "n2 killed while reading the second half (it wrote $n2_rows rows, $((n2_rows - n2_before)) of them from the second half)"
restored() { { tail -n +$((l1 + 1)) n1.log; tail -n +$((l3 + 1)) n3.log; } | grep "state restored from aggstate " | grep -v "input offsets: none"; }
for _ in $(seq 600); do
  restored >/dev/null && break
  sleep 0.1
done
restored | head -3 | sed 's/^/  /'
restored >/dev/null || fail "no task of n2 restored from a checkpoint after the kill"
# the kmeans' restores follow the aggregate's in the same assignment (each stage's hook in
# turn): wait for them too
km_restored() { { tail -n +$((l1 + 1)) n1.log; tail -n +$((l3 + 1)) n3.log; } | grep "state restored from aggstate-km " | grep -v "input offsets: none"; }
for _ in $(seq 300); do
  km_restored >/dev/null && break
  sleep 0.1
done
km_restored >/dev/null || fail "no kmeans task of n2 restored from a checkpoint after the kill"
ok "n2's tasks restored from the changelog by the survivors (aggregate and kmeans)"
# a last record per key, 25000 s later: it closes every window of every task
"$KT" produce -B "$B" -t inb -n 24 -f 1000000 -k 24 -s 60 2>/dev/null
for _ in $(seq 900); do
  windows b-*.json* | uniq >b.txt
  cmp -s b.txt a.txt && break
  sleep 0.1
done
cmp -s b.txt a.txt || fail "after the takeover the windows differ from one node's: $(diff b.txt a.txt | head -5)"
dups=$(( $(windows b-*.json* | wc -l) - $(wc -l <b.txt) ))
ok "three nodes with n2 killed: $(wc -l <b.txt) (key, window) rows equal one node's, none in parts ($dups emitted twice, the same row)"
for _ in $(seq 300); do
  scores kmb-*.json* | uniq >kb.txt
  cmp -s kb.txt ka.txt && break
  sleep 0.1
done
cmp -s kb.txt ka.txt || fail "kmeans after the takeover: scores differ from one node's: $(diff kb.txt ka.txt | head -5)"
kdups=$(( $(scores kmb-*.json* | wc -l) - $(wc -l <kb.txt) ))
ok "kmeans, three nodes with n2 killed: $(wc -l <kb.txt) scores equal one node's, none of a part window ($kdups scored twice, the same)"
kill -TERM $N1 $N3
wait $N1 || fail "n1 exit: $(tail -3 n1.log)"
wait $N3 || fail "n3 exit: $(tail -3 n3.log)"
grep -h "level=error" a1.log n1.log n3.log && fail "errors in the logs"
echo PASS
