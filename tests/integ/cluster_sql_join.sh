#!/usr/bin/env bash
# cluster_sql_join: a stream-stream join between two Kafka topics on a consumer group, with the
# sql transform's state checkpointed to a changelog per task (partition p of both topics, which
# are co-partitioned: same partition count, same keys, as ksqlDB requires), on librdkafka's mock
# cluster. Each record enters the stream declared on the Kafka topic it was read from (no
# topic_field: the default with `changelog`).
#   a. one node: every pair the join must make (computed here from the records) is counted,
#      per (key, window), exactly
#   b. three nodes in one group reading both topics with one kafka source; one is killed
#      (kill -9) while it reads the second half; the others take its tasks over, restore both
#      topics' offsets and the join buffers from the changelog, and the final value per
#      (key, window) equals (a)'s exactly
#   c. the same join fed by two kafka sources (two consumer groups, not co-partitioned): the
#      log says the join cannot meet
#   d. the cooperative-sticky assignor (no co-location): state per topic and partition
#   e. a join between topics of 6 and 4 partitions: said in the log
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/cluster_sql.bash"

N=12000   # records per topic: seq 0..N-1, key k<seq % 24>, event time 1700000000000 + 25 ms * seq
HALF=$((N / 2))

mock_start -t ja:6 -t jb:6 -t jab:6 -t jbb:6 -t soc.cluster:1 -t jstate:6 -t single-jstate:6 \
  -t two-jstate:6 -t coop-jstate:6 -t jc:4 -t four-jstate:6

statements() {
  cat <<EOF
      CREATE STREAM a (seq BIGINT, key STRING, ts BIGINT)
        WITH (kafka_topic='$1', value_format='json', timestamp='ts');
      CREATE STREAM b (seq BIGINT, key STRING, ts BIGINT)
        WITH (kafka_topic='$2', value_format='json', timestamp='ts');
      CREATE STREAM j AS SELECT a.key AS key, a.seq AS aseq, b.seq AS bseq
        FROM a JOIN b WITHIN 2 SECONDS ON a.key = b.key;
      CREATE TABLE w AS SELECT key, COUNT(*) AS n, SUM(aseq * 100000 + bseq) AS total FROM j
        WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 HOUR) GROUP BY key EMIT CHANGES;
EOF
}

# node_yaml GROUP STATE_TOPIC OUT TOPIC_A TOPIC_B: the pipeline every node runs
node_yaml() {
  cat <<EOF
cluster: {brokers: "$B", group: $1, node_id: "\${NODE}", status_interval: 300ms}
sources:
  k:
    type: kafka
    topics: [$4, $5]
    librdkafka: {session.timeout.ms: "6000"}
transforms:
  t:
    type: eval
    inputs: [k]
    set: {ts: "1700000000000L + seq * 25"}
  q:
    type: sql
    inputs: [t]
    outputs: [W]
    changelog: {topic: $2}
    changelog_interval: 300ms
    statements: |
$(statements "$4" "$5")
sinks:
  out: {type: file, inputs: [q], path: "$T/$3-\${NODE}.json"}
EOF
}

# the truth: every (a, b) pair of one key within 2 s, in the window of the later one's time
$PY - $N >want.txt <<'PYEOF'
import sys
n = int(sys.argv[1])
w = {}
for i in range(n):
    for j in range(max(0, i - 80), min(n, i + 81)):
        if i % 24 != j % 24:
            continue
        k = ("k%d" % (i % 24), (1700000000000 + 25 * max(i, j)) // 60000 * 60000)
        c, s = w.get(k, (0, 0))
        w[k] = (c + 1, s + i * 100000 + j)
for k in sorted(w):
    print(k[0], k[1], w[k][0], w[k][1])
PYEOF
[ "$(wc -l <want.txt)" -ge 100 ] || fail "too few windows in the expected result"

# ---- a. one node, both topics whole
"$KT" produce -B "$B" -t ja -n $N -k 24 -s 60 2>/dev/null
"$KT" produce -B "$B" -t jb -n $N -k 24 -s 60 2>/dev/null
node_yaml single single-jstate a ja jb >single.yaml
NODE=a1 timeout 120 "$SLUICE" run --once -c single.yaml >a1.log 2>&1 || fail "single node: $(tail -5 a1.log)"
finals a-a1.json* >a.txt
cmp -s a.txt want.txt || fail "one node: the join's finals differ from the records': $(diff a.txt want.txt | head -5)"
ok "one node: $(wc -l <a.txt) (key, window) finals of the join equal the pairs in the records ($(awk '{s += $3} END {print s}' a.txt) pairs)"

# ---- b. three nodes, one killed while it reads the second half
"$KT" produce -B "$B" -t jab -n $HALF -k 24 -s 60 2>/dev/null
"$KT" produce -B "$B" -t jbb -n $HALF -k 24 -s 60 2>/dev/null
node_yaml soc jstate b jab jbb >node.yaml
three_nodes_kill_n2 jab jbb
ok "n2 killed while reading the second half ($((n2_rows - n2_before)) of its rows from it)"
restored() { { tail -n +$((l1 + 1)) n1.log; tail -n +$((l3 + 1)) n3.log; } | grep "state restored from jstate" | grep "jab [0-9]*, jbb [0-9]*\|jbb [0-9]*, jab [0-9]*"; }
for _ in $(seq 600); do
  restored >/dev/null && break
  sleep 0.1
done
restored | head -2 | sed 's/^/  /'
restored >/dev/null || fail "no task of n2 restored with both topics' offsets after the kill"
ok "n2's tasks restored from the changelog by the survivors, one offset per topic"
for _ in $(seq 900); do
  finals b-*.json* >b.txt
  cmp -s b.txt a.txt && break
  sleep 0.1
done
cmp -s b.txt a.txt || fail "after the takeover the join's finals differ from one node's: $(diff b.txt a.txt | head -5)"
ok "three nodes with n2 killed: $(wc -l <b.txt) (key, window) finals of the join equal one node's exactly"
kill -TERM $N1 $N3
wait $N1 || fail "n1 exit: $(tail -3 n1.log)"
wait $N3 || fail "n3 exit: $(tail -3 n3.log)"
grep -h "level=error" a1.log n1.log n3.log && fail "errors in the logs"

# ---- c. the joined topics from two sources (two groups): said in the log
node_yaml two two-jstate c ja jb |
  sed -e 's/^    topics: \[ja, jb\]/    topics: [ja]/' \
      -e 's/^    inputs: \[k\]/    inputs: [k, k2]/' \
      -e "s/^transforms:/  k2: {type: kafka, topics: [jb]}\ntransforms:/" >two.yaml
NODE=c1 timeout 120 "$SLUICE" run --once -c two.yaml >c1.log 2>&1 || fail "c1: $(tail -5 c1.log)"
grep -q "inputs from two kafka sources" c1.log || fail "two groups feeding a join were not reported: $(grep -c . c1.log) log lines"
ok "a join fed by two consumer groups is reported: $(grep -o 'inputs from two kafka sources ([^)]*)' c1.log | head -1)"

# ---- d. an assignor that does not co-locate partition p of both topics (cooperative-sticky):
# state per topic and partition, said in the log (their checkpoints must not share a key)
node_yaml coop coop-jstate d ja jb |
  sed 's/librdkafka: {session.timeout.ms: "6000"}/librdkafka: {session.timeout.ms: "6000", partition.assignment.strategy: cooperative-sticky}/' >coop.yaml
NODE=d1 timeout 120 "$SLUICE" run --once -c coop.yaml >d1.log 2>&1 || fail "d1: $(tail -5 d1.log)"
grep -q "cooperative-sticky does not give partition p of every topic to one member" d1.log ||
  fail "cooperative-sticky was not reported: $(grep -c . d1.log) log lines"
grep -q "task k:ja\[0\]" d1.log && grep -q "task k:jb\[0\]" d1.log ||
  fail "cooperative-sticky: the state was not kept per topic: $(grep -m3 task d1.log)"
ok "cooperative-sticky: state per topic and partition (tasks k:ja[0], k:jb[0], ...), said in the log"

# ---- e. topics with other partition counts (6 and 4): not co-partitioned, said in the log
"$KT" produce -B "$B" -t jc -n 200 -k 24 -s 60 2>/dev/null
node_yaml four four-jstate e ja jc >four.yaml
NODE=e1 timeout 120 "$SLUICE" run --once -c four.yaml >e1.log 2>&1 || fail "e1: $(tail -5 e1.log)"
grep -q "partitions) and .* are not co-partitioned" e1.log ||
  fail "topics of 6 and 4 partitions joined were not reported: $(grep -m3 task e1.log)"
ok "a join between topics of 6 and 4 partitions is reported: $(grep -o 'topics [a-z]* ([0-9]* partitions) and [a-z]* ([0-9]*)' e1.log | head -1)"
echo PASS
