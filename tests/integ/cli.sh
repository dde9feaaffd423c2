#!/usr/bin/env bash
# The command line: --version, help, check on a good config, usage errors.
source "$(dirname "$0")/lib/common.bash"

$SLUICE --version | grep -q '^sluice [0-9]' || fail "--version"
ok "--version"
$SLUICE help > help.txt
for t in file stdin generator tcp http filter console csv null; do
  grep -q "^  $t " help.txt || fail "help lists no '$t'"
done
ok "help lists every component type"
$SLUICE help csv > csv.txt
grep -q 'separator' csv.txt || fail "help csv has no 'separator'"
grep -q 'quote_char' csv.txt || fail "help csv has no 'quote_char'"
ok "help csv shows its options"
set +e
$SLUICE help nosuch 2>err.txt; rc=$?
set -e
expect_eq "help nosuch exit" "$rc" 2
set +e
$SLUICE run 2>err.txt; rc=$?
set -e
expect_eq "run without -c exit" "$rc" 2
grep -q 'missing -c FILE' err.txt || fail "usage message"

cat > good.yaml <<'YAML'
sources:
  gen: {type: generator, count: 10}
transforms:
  tcp_only:
    type: filter
    inputs: [gen]
    include: {proto: "^tcp$"}
sinks:
  out: {type: "null", inputs: [tcp_only, gen.errors]}
YAML
$SLUICE check -c good.yaml > check.txt
grep -q 'tcp_only' check.txt || fail "check prints the graph"
grep -q '<- tcp_only, gen.errors' check.txt || fail "check prints inputs"
grep -q 'good.yaml: ok' check.txt || fail "check says ok"
ok "check prints the graph"
