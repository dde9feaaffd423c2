#!/usr/bin/env bash
# --once: finite sources read to their end, queues drain, sinks flush, exit 0 — with a slow
# consumer (csv + file + console) and several files given by glob.
source "$(dirname "$0")/lib/common.bash"

for i in 1 2 3; do gen_json 20000 "part-$i.json"; done
printf 'plain line one\nplain line two\n' > raw.log
cat > p.yaml <<'YAML'
sources:
  parts: {type: file, path: ["part-*.json"]}
  raw: {type: file, path: [raw.log], format: lines}
  gen: {type: generator, count: 5000, seed: 7}
sinks:
  all: {type: file, inputs: [parts, gen], path: all.json}
  lines: {type: csv, inputs: [raw], path: lines.csv, columns: [message]}
  n: {type: "null", inputs: [parts, raw, gen]}
YAML
timeout 120 $SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run --once"; }
expect_eq "events in all.json" "$(count_lines all.json)" 65000
expect_eq "csv lines (header + 2)" "$(count_lines lines.csv)" 3
grep -q 'plain line two' lines.csv || fail "raw line content"
grep -q 'done: events in 65002' log.txt || fail "summary line: $(tail -2 log.txt)"
