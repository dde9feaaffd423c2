#!/usr/bin/env bash
# The `sql` transform in a pipeline: event time from a column, a tumbling window with no grace,
# a late record on `<name>.late` (with its columns, @sql.query, @sql.source), a record whose
# value does not fit the schema on `<name>.errors` naming the column, the results with
# @sql.stream and window bounds, and a statement error refused by `sluice check` with the
# statement's line and column.
source "$(dirname "$0")/lib/common.bash"
cat > in.json <<'JSON'
{"k":"a","v":1,"ts":1000}
{"k":"b","v":5,"ts":4000}
{"k":"a","v":2,"ts":90000}
{"k":"a","v":3,"ts":2000}
{"k":"a","v":"three","ts":91000}
JSON
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
transforms:
  q:
    type: sql
    inputs: [in]
    topic: s
    statements: |
      CREATE STREAM S (K STRING, V BIGINT, TS BIGINT) WITH (kafka_topic='s', value_format='json', timestamp='ts');
      CREATE TABLE T AS SELECT K, SUM(V) AS TOTAL FROM S WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY K;
sinks:
  out: {type: file, inputs: [q], path: out.json}
  late: {type: file, inputs: [q.late], path: late.json}
  errs: {type: file, inputs: [q.errors], path: errs.json}
YAML
$SLUICE run -c p.yaml --once --no-status --workers 1 2> log.txt || { cat log.txt; fail "run"; }
$PY - <<'PYEOF'
import json
out = [json.loads(l) for l in open("out.json")]
got = [(o["K"], o["TOTAL"], o["@sql.stream"], o["@sql.windowstart"], o["@sql.windowend"]) for o in out]
assert got == [("a", 1, "T", 0, 10000), ("b", 5, "T", 0, 10000), ("a", 2, "T", 90000, 100000)], got
late = [json.loads(l) for l in open("late.json")]
assert len(late) == 1 and late[0]["V"] == 3 and late[0]["TS"] == 2000, late
assert late[0]["@sql.source"] == "S" and late[0]["@sql.query"].startswith("CTAS_T"), late
errs = [json.loads(l) for l in open("errs.json")]
assert len(errs) == 1 and "V" in errs[0]["error"] and "three" in errs[0]["error"], errs
PYEOF
ok "results, one late record on q.late, one dead letter on q.errors"

# a statement error: sluice check points into the statements
sed -i 's/SUM(V) AS TOTAL/SUM(VV) AS TOTAL/' p.yaml
set +e
$SLUICE check -c p.yaml 2> check.txt; rc=$?
set -e
expect_eq "check exit status" "$rc" 2
grep -q "line 2:33" check.txt || fail "no statement position: $(cat check.txt)"
grep -q "did you mean 'V'" check.txt || fail "no suggestion: $(cat check.txt)"
ok "statement error with its line:col and a suggestion"
