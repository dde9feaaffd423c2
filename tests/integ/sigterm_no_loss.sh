#!/usr/bin/env bash
# SIGTERM during a steady stream: the source stops, every accepted event reaches the sink.
# Then a second signal exits at once.
source "$(dirname "$0")/lib/common.bash"

cat > p.yaml <<'YAML'
sources:
  gen: {type: generator, rate: 20000}
sinks:
  out: {type: file, inputs: [gen], path: out.json}
YAML
APIPORT=$(free_port)
printf 'api: {listen: "127.0.0.1:%s"}\n' "$APIPORT" >> p.yaml
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $APIPORT
sleep 1.5
kill -TERM $PID
wait $PID || { cat log.txt; fail "exit status after SIGTERM"; }
sent=$(grep -Eo 'done: events in [0-9]+' log.txt | grep -Eo '[0-9]+$')
[ "${sent:-0}" -gt 1000 ] || fail "too few events generated: $sent"
expect_eq "events written after SIGTERM" "$(count_lines out.json)" "$sent"

# second signal: immediate exit with status 130
cat > slow.yaml <<'YAML'
sources:
  gen: {type: generator, rate: 1000}
sinks:
  out: {type: "null", inputs: [gen]}
YAML
$SLUICE run -c slow.yaml --no-status 2> log2.txt &
PID=$!; PIDS+=($PID)
sleep 0.5
kill -TERM $PID; kill -TERM $PID
set +e; wait $PID; rc=$?; set -e
[ $rc -eq 0 ] || [ $rc -eq 130 ] || fail "second signal exit status $rc: $(cat log2.txt)"
ok "second signal exits ($rc)"
