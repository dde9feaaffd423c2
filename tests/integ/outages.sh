#!/usr/bin/env bash
# Target outages of 30 s under load, nothing lost (issue 19; PostgreSQL: disk_buffer.sh (a)).
# Two pipelines run at the same time, each fed by lines appended to its file (200 a second
# for 45 s), and both targets go away for 30 s at the same moment:
#  (a) file -> parquet (roll_rows 500) -> receiver sink -> `sluice receiver`: the receiver
#      is stopped (SIGTERM) and started again on the same port and root; every row is in the
#      Parquet files it stored, read back with DuckDB;
#  (b) file (checkpoints) -> kafka sink with buffer: {type: disk}, next to a file sink, while
#      the mock cluster's three brokers are down: the file sink never stalls (its output grows
#      during the outage), the kafka sink's buffer holds the rest (sluice_buffer_records on
#      /metrics), and afterwards every line is in the topic at least once.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.bash"
KT=${SL_BUILD:?}/kafkatool
[ -x "$KT" ] || fail "no $KT"
NODE_DUMP=$SL_SRC/tests/node/dump_rows.mjs
[ -d "$SL_SRC/tests/node/node_modules/@duckdb/node-api" ] && command -v node > /dev/null ||
  fail "tests/node is not installed (scripts/node-deps.sh): DuckDB reads the received files"
N=${OUTAGE_LINES:-9000}
OUTAGE=${OUTAGE_SECONDS:-30}

metric() { # metric NAME COMPONENT PORT
  curl -s "http://127.0.0.1:$3/metrics" | awk -v n="$1" -v c="component=\"$2\"" \
    '$1 ~ "^"n"\\{" && index($1, c) {print $2}' | head -1
}
# distinct_n: the distinct "n" of the JSON objects on stdin, and how many are not in [0, N)
missing_of() { # missing_of N < objects: prints "distinct duplicates missing"
  $PY -c '
import json, sys, collections
n = int(sys.argv[1]); seen = collections.Counter()
for line in sys.stdin:
    line = line.strip()
    if line:
        seen[int(json.loads(line)["n"])] += 1
print(len(seen), sum(c - 1 for c in seen.values()), sum(1 for i in range(n) if not seen[i]))' "$1"
}
appender() { # appender FILE: N lines, 20 every 0.1 s
  $PY - "$1" "$N" <<'PYEOF' &
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "a") as f:
    for i in range(n):
        f.write('{"type":"%s","n":%d,"msg":"event %d","pad":"%s"}\n'
                % (("GENERAL", "HTTP")[i % 2], i, i, "x" * 40))
        if i % 20 == 19:
            f.flush()
            time.sleep(0.1)
PYEOF
  APPS+=($!)
}

# ---- the targets: a receiver and a mock Kafka cluster
RPORT=$(free_port)
printf 'k-123\n' > keys.txt
start_receiver() {
  $SLUICE receiver --listen 127.0.0.1:$RPORT --root "$T/root" --keys keys.txt --path /s3 \
    2>> rlog.txt &
  RPID=$!
  PIDS+=($RPID)
  wait_port "$RPORT"
}
start_receiver
mkfifo mock.in
sleep 100000 > mock.in &
PIDS+=($!)
"$KT" mock -t out:3 < mock.in > boot.txt 2> mock.err &
PIDS+=($!)
for _ in $(seq 50); do [ -s boot.txt ] && break; sleep 0.1; done
B=$(cat boot.txt)
[ -n "$B" ] || fail "mock cluster did not start: $(cat mock.err)"

# ---- the pipelines
cat > a.yaml <<YAML
sources:
  in: {type: file, path: a.json, mode: tail, start_at: beginning, checkpoints: a.pos}
sinks:
  pq:
    type: parquet
    inputs: [in]
    path: "spool/{type}/a-%Y%m%d-%H%M%S.parquet"
    partition_by: type
    roll_rows: 500
    roll_interval: 2s
  up:
    type: receiver
    files_from: pq
    url: "http://127.0.0.1:$RPORT/s3"
    api_key: k-123
    aggregator_id: agg-1
    retry_initial: 100ms
    retry_max: 2s
YAML
APIPORT=$(free_port)
cat > b.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  in: {type: file, path: b.json, mode: tail, start_at: beginning, checkpoints: b.pos}
sinks:
  ko:
    type: kafka
    inputs: [in]
    brokers: "$B"
    topic: out
    buffer: {type: disk, path: kbuf, segment_size: 1MiB}
  copy: {type: file, inputs: [in], path: copy.json}
YAML
: > a.json
: > b.json
APPS=()
$SLUICE run -c a.yaml --no-status 2> alog.txt &
apid=$!
PIDS+=($apid)
$SLUICE run -c b.yaml --no-status 2> blog.txt &
bpid=$!
PIDS+=($bpid)
wait_port $APIPORT
appender a.json
appender b.json
sleep 5

# ---- both targets down for $OUTAGE s
kill -TERM $RPID
wait $RPID || fail "receiver exit status"
for id in 1 2 3; do echo "down $id" > mock.in; done
t0=$(date +%s)
sleep 2
copy0=$(count_lines copy.json*)
in0=$(count_lines b.json)
sleep $((OUTAGE - 4))
copy1=$(count_lines copy.json*)
in1=$(count_lines b.json)
recs=$(metric sluice_buffer_records ko $APIPORT)
# the file sink next to the kafka sink took (almost) everything appended meanwhile
[ $((copy1 - copy0)) -ge $(( (in1 - in0) * 9 / 10 )) ] ||
  { tail blog.txt; fail "(b) the file sink stalled: $copy0 -> $copy1 lines while the input went $in0 -> $in1"; }
ok "(b) the file sink kept flowing while the brokers are down: $copy0 -> $copy1 lines"
[ "${recs%.*}" -gt 0 ] || fail "(b) sluice_buffer_records of ko is '$recs' while the brokers are down"
ok "(b) the kafka sink's disk buffer holds $recs batches"
spooled=$(find spool -name '*.parquet' ! -path 'spool/uploaded/*' | wc -l | tr -d ' ')
[ "$spooled" -ge 1 ] || fail "(a) no Parquet file waits in the spool while the receiver is down"
ok "(a) $spooled Parquet files wait in the receiver sink's spool"
sleep $((OUTAGE - $(date +%s) + t0))
for id in 1 2 3; do echo "up $id" > mock.in; done
start_receiver
ok "targets back after $(($(date +%s) - t0)) s"
for p in "${APPS[@]}"; do wait "$p"; done

# ---- everything arrives
# (a) every file finished and uploaded: the spool empties once the last file is rolled
for _ in $(seq 600); do
  [ "$(find spool -name '*.parquet' ! -path 'spool/uploaded/*' | wc -l)" = 0 ] &&
    [ "$(grep -o 'msg="stored path=[^"]* rows=[0-9]*' rlog.txt | sed 's/.*rows=//' |
      awk '{s += $1} END {print s + 0}')" -ge $N ] && break
  sleep 0.1
done
kill -TERM $apid
wait $apid || { tail -20 alog.txt; fail "(a) exit status"; }
read -r got dups missing <<< "$(node "$NODE_DUMP" "$T/root" n | missing_of $N)"
[ "$missing" = 0 ] || { tail -20 alog.txt; tail rlog.txt; fail "(a) $missing of $N rows missing in the received files"; }
ok "(a) after a $OUTAGE s receiver outage every row was received: $got distinct, $dups duplicates"
grep -q "retry" alog.txt || grep -q "spool" alog.txt || { tail alog.txt; fail "(a) the outage was not logged"; }

# (b) every line in the topic
for _ in $(seq 600); do
  [ "$(metric sluice_buffer_records ko $APIPORT)" = 0 ] && break
  sleep 0.1
done
kill -TERM $bpid
wait $bpid || { tail -20 blog.txt; fail "(b) exit status"; }
expect_eq "(b) the file sink has every line" "$(count_lines copy.json*)" $N
# read the whole topic: as many records as its partitions' high watermarks add up to
"$KT" count -B "$B" -t out > count.txt 2>&1 || fail "$(cat count.txt)"
total=$(sed -n 's/^records=\([0-9]*\) .*/\1/p' count.txt)
[ -n "$total" ] && [ "$total" -ge $N ] || fail "(b) the topic holds $(cat count.txt), want >= $N"
"$KT" consume -B "$B" -t out -n "$total" -i 10000 -p > topic.txt 2> consume.err || true
read -r got dups missing <<< "$(missing_of $N < topic.txt)"
if [ "$missing" != 0 ]; then
  tail -5 consume.err
  fail "(b) $missing of $N lines not in the topic ($(cat count.txt))"
fi
ok "(b) after a $OUTAGE s broker outage every line is in the topic: $got distinct, $dups duplicates"
ok "outages"
