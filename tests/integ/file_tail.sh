#!/usr/bin/env bash
# file source in tail mode: appends, a line written in two pieces, rotation (rename + new
# file), truncation, a file that appears later under the glob; then SIGTERM flushes all.
source "$(dirname "$0")/lib/common.bash"

mkdir logs
printf '{"n":0,"old":true}\n' > logs/a.log          # exists before start: skipped (start_at: end)
cat > p.yaml <<'YAML'
sources:
  logs: {type: file, path: ["logs/*.log"], mode: tail}
sinks:
  out: {type: file, inputs: [logs], path: out.json}
  dead: {type: file, inputs: [logs.errors], path: dead.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
sleep 1
for i in 1 2 3; do printf '{"n":%d}\n' $i >> logs/a.log; done
printf '{"n":4,' >> logs/a.log; sleep 0.5; printf '"split":true}\n' >> logs/a.log
printf 'not json\n' >> logs/a.log
sleep 0.6
mv logs/a.log logs/a.log.1                           # rotation: old file renamed away ...
printf '{"n":5}\n' >> logs/a.log.1                   # ... still written for a moment
printf '{"n":6}\n' > logs/a.log                      # ... then a new file under the name
sleep 1.2
printf '{"n":7}\n{"n":8}\n' > logs/b.log             # a new file matching the glob
sleep 1.8
: > logs/b.log                                       # truncation
printf '{"n":9}\n' >> logs/b.log
sleep 1
kill -TERM $PID
wait $PID || { cat log.txt; fail "exit status"; }
got=$($PY -c 'import json; print(sorted(json.loads(l)["n"] for l in open("out.json")))')
expect_eq "events followed" "$got" "[1, 2, 3, 4, 5, 6, 7, 8, 9]"
expect_eq "dead letters" "$(count_lines dead.json)" 1
grep -q '"raw":"not json"' dead.json || fail "dead letter content: $(cat dead.json)"
grep -q "\"line\":6,\"offset\":64" dead.json || fail "dead letter line number: $(cat dead.json)"
