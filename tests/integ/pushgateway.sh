#!/usr/bin/env bash
# push_gateway: a real prometheus-pushgateway on a free loopback port (killed by the trap).
#   - a generator -> parquet + null pipeline pushes every 200 ms to a bare host:port URL;
#     the gateway shows the aggregator's names (parquet_data > 0, parquet_writers, uploads,
#     zmq, errors, spool_bytes) and the sluice_* metrics with job="aggregator",
#     instance="test-1", and no failed push;
#   - after SIGTERM, the final push carries the final counts: events = the run's "done" line,
#     parquet_data = the bytes of the finished Parquet files;
#   - a gateway that is not there: the pipeline runs and exits 0, the failure is logged;
#   - configuration errors at line:col.
source "$(dirname "$0")/lib/common.bash"

GW=/usr/bin/prometheus-pushgateway
if [ ! -x $GW ]; then
  echo "SKIP: $GW not installed"
  exit 0
fi
GPORT=$(free_port)
$GW --web.listen-address=127.0.0.1:$GPORT --persistence.file= > gw.log 2>&1 &
GPID=$!; PIDS+=($GPID)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$GPORT/-/ready" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$GPORT/-/ready" > /dev/null || fail "pushgateway not ready: $(cat gw.log)"
ok "pushgateway ready on port $GPORT"

cat > p.yaml <<YAML
push_gateway:
  url: "127.0.0.1:$GPORT"
  job: aggregator
  instance: test-1
  interval: 200ms
sources:
  gen: {type: generator, rate: 2000}
sinks:
  lake:
    type: parquet
    inputs: [gen]
    path: "out/{type}/{type}-%H%M%S.parquet"
    partition_by: type
    roll_interval: 1s
  devnull: {type: "null", inputs: [gen]}
YAML
$SLUICE check -c p.yaml > check.txt || fail "check: $(cat check.txt)"
grep -q "push_gateway: 127.0.0.1:$GPORT every 0.2s" check.txt || fail "check output: $(cat check.txt)"
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)

L='instance="test-1",job="aggregator"'
metric() { # NAME: the value of NAME{instance="test-1",job="aggregator"} on the gateway (or "")
  { curl -fs "http://127.0.0.1:$GPORT/metrics" || true; } | { grep -E "^$1\{$L\} " || true; } |
    awk '{print $2}'
}
for _ in $(seq 100); do
  v=$(metric parquet_data)
  [ -n "$v" ] && $PY -c "import sys; sys.exit(0 if float('$v') > 0 else 1)" && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$GPORT/metrics" > scrape1.txt
grep -qE "^parquet_data\{$L\} [1-9]" scrape1.txt ||
  fail "no parquet_data > 0: $(grep -E '^(parquet|push)' scrape1.txt); log: $(cat log.txt)"
ok "parquet_data > 0 with job=aggregator, instance=test-1"
# --persistence.file= (Debian's default file is shared by every gateway): ours holds one group
expect_eq "groups on the gateway" "$(grep -c '^push_time_seconds{' scrape1.txt)" 1
for m in parquet_writers uploads zmq errors spool_bytes sluice_workers sluice_uptime_seconds; do
  grep -qE "^$m\{$L\} " scrape1.txt || fail "no $m: $(grep -v '^#' scrape1.txt | head -20)"
done
grep -q "^# TYPE parquet_data counter" scrape1.txt || fail "parquet_data is not a counter"
grep -q "^# TYPE parquet_writers gauge" scrape1.txt || fail "parquet_writers is not a gauge"
grep -q "^# HELP zmq ZMQ messages received" scrape1.txt || fail "zmq help"
grep -qE "^sluice_component_events_out_total\{component=\"gen\",$L,kind=\"source\",type=\"generator\"\} " \
  scrape1.txt || fail "sluice_ metrics: $(grep events_out scrape1.txt)"
expect_eq "uploads (no receiver sink)" "$(metric uploads)" 0
expect_eq "zmq (no zmq source)" "$(metric zmq)" 0
expect_eq "no failed push" "$(metric push_failure_time_seconds)" 0
# pushes keep coming (push_time_seconds moves)
t1=$(metric push_time_seconds)
sleep 0.6
t2=$(metric push_time_seconds)
[ "$t1" != "$t2" ] || fail "push_time_seconds did not move: $t1"
ok "pushed every interval"

kill -TERM $PID
set +e
wait $PID; rc=$?
set -e
PIDS=($GPID)
expect_eq "exit status after SIGTERM" "$rc" 0
grep -q 'push_gateway.*stopped: [1-9][0-9]* pushes, 0 failed' log.txt ||
  fail "pusher summary: $(grep push_gateway log.txt)"
events=$(sed -n 's/.*done: events in \([0-9]*\),.*/\1/p' log.txt)
[ -n "$events" ] && [ "$events" -gt 0 ] || fail "no done line: $(tail -3 log.txt)"
curl -fs "http://127.0.0.1:$GPORT/metrics" > scrape2.txt
got=$(grep -E "^sluice_component_events_out_total\{component=\"gen\",$L" scrape2.txt | awk '{print $2}' || true)
[ "$(echo "$got" | wc -l)" = 1 ] && [ -n "$got" ] ||
  fail "events_out of gen: '$got' in: $(grep -E '^sluice_component_events_out_total' scrape2.txt)"
expect_eq "final push: events emitted" "$($PY -c "print(int(float('$got')))")" "$events"
bytes=$(find out -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
pd=$(grep -E "^parquet_data\{$L\} " scrape2.txt | awk '{print $2}')
expect_eq "final push: parquet_data = bytes of the Parquet files" \
  "$($PY -c "print(int(float('$pd')))")" "$bytes"
expect_eq "final push: no open writer" "$(grep -E "^parquet_writers\{$L\} " scrape2.txt | awk '{print $2}')" 0

# ---- no gateway there: the pipeline runs on, the failure is logged, exit 0
DEAD=$(free_port)
cat > dead.yaml <<YAML
push_gateway: {url: "http://127.0.0.1:$DEAD/", interval: 100ms, instance: "a/b"}
sources:
  gen: {type: generator, count: 20000, rate: 40000}
sinks:
  devnull: {type: "null", inputs: [gen]}
YAML
set +e
timeout 60 $SLUICE run -c dead.yaml --once --no-status 2> dead.txt; rc=$?
set -e
expect_eq "no gateway: exit status" "$rc" 0
grep -q "push to http://127.0.0.1:$DEAD/metrics/job/sluice/instance@base64/YS9i failed" dead.txt ||
  fail "failure not logged: $(grep push_gateway dead.txt)"
grep -q "events in 20000, written 20000" dead.txt || fail "events: $(tail -2 dead.txt)"
ok "an absent gateway is logged and counted, the pipeline runs on"

# ---- configuration errors
printf 'push_gateway:\n  url: "ftp://x"\nsources:\n  g: {type: generator, count: 1}\nsinks:\n  n: {type: "null", inputs: [g]}\n' > bad1.yaml
set +e
$SLUICE check -c bad1.yaml 2> e1.txt; rc=$?
set -e
expect_eq "ftp url: exit" "$rc" 2
grep -q 'bad1.yaml:2:.*push_gateway.url must be an http(s) URL' e1.txt || fail "$(cat e1.txt)"
printf 'push_gateway: {url: "localhost:9091", intervall: 1s}\nsources:\n  g: {type: generator, count: 1}\nsinks:\n  n: {type: "null", inputs: [g]}\n' > bad2.yaml
set +e
$SLUICE check -c bad2.yaml 2> e2.txt; rc=$?
set -e
expect_eq "unknown option: exit" "$rc" 2
grep -q "bad2.yaml:1:.*unknown push_gateway option 'intervall'" e2.txt || fail "$(cat e2.txt)"
printf 'push_gateway: {url: "localhost:9091", interval: 0s}\nsources:\n  g: {type: generator, count: 1}\nsinks:\n  n: {type: "null", inputs: [g]}\n' > bad3.yaml
set +e
$SLUICE check -c bad3.yaml 2> e3.txt; rc=$?
set -e
expect_eq "zero interval: exit" "$rc" 2
grep -q "positive duration" e3.txt || fail "$(cat e3.txt)"
ok "configuration errors name line:col"
echo "PASS"
