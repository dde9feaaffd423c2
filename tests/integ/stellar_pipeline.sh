#!/usr/bin/env bash
# Stellar in pipelines: `eval` assigns (nested paths, removal, in order), `filter.condition`
# keeps what the predicate accepts, evaluation errors go to .errors with the message, and a
# compile error in the config names file:line:col and the column inside the expression.
source "$(dirname "$0")/lib/common.bash"

N=9000
gen_json $N in.json
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json], format: json}
transforms:
  calc:
    type: eval
    inputs: [in]
    set:
      port_plus: "id.resp_p + 1"
      flags.web: "id.resp_p == 80 or id.resp_p == 443"
      flags.depth: "nested.a.b * 10"
      ratio: "if id.resp_p == 22 then 100 / (seq - seq) else 1"
    remove: [msg]
  web:
    type: filter
    inputs: [calc]
    condition: "flags.web and proto != 'icmp'"
sinks:
  out: {type: file, inputs: [web], path: out.json}
  dead: {type: file, inputs: [calc.errors], path: dead.json}
YAML
$SLUICE check -c p.yaml > check.txt 2>&1 || { cat check.txt; fail "check"; }
$SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run"; }
want=$($PY - <<'PYEOF'
import json
n = 0
for line in open("in.json"):
    ev = json.loads(line)
    p = ev["id.resp_p"]
    if p == 22: continue           # 100 / 0: a dead letter
    if p in (80, 443) and ev["proto"] != "icmp": n += 1
print(n)
PYEOF
)
expect_eq "kept events" "$(count_lines out.json)" "$want"
expect_eq "dead letters (integer division by zero)" "$(count_lines dead.json)" $((N / 4))
$PY - <<'PYEOF' || fail "output content"
import json
for line in open("out.json"):
    ev = json.loads(line)
    assert ev["port_plus"] == ev["id.resp_p"] + 1, ev
    assert ev["flags"] == {"web": True, "depth": ev["nested"]["a"]["b"] * 10}, ev
    assert "msg" not in ev and ev["ratio"] == 1, ev
for line in open("dead.json"):
    d = json.loads(line)
    assert d["component"] == "calc" and "by zero" in d["error"], d
    assert d["event"]["id.resp_p"] == 22, d
PYEOF
ok "eval and filter.condition results"

# compile errors: file:line:col of the expression in the YAML, column inside it, exit 2
cat > bad.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json], format: json}
transforms:
  calc:
    type: eval
    inputs: [in]
    set:
      x: "seq +* 2"
sinks:
  out: {type: null, inputs: [calc]}
YAML
set +e
$SLUICE check -c bad.yaml > err.txt 2>&1
rc=$?
set -e
expect_eq "check exit status on a bad expression" "$rc" 2
grep -q 'bad.yaml:8:' err.txt || { cat err.txt; fail "no file:line in the error"; }
grep -q 'column 6' err.txt || { cat err.txt; fail "no column inside the expression"; }
ok "compile error located: $(head -1 err.txt)"

cat > bad2.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json], format: json}
transforms:
  f:
    type: filter
    inputs: [in]
    condition: "NO_SUCH_FN(seq)"
sinks:
  out: {type: null, inputs: [f]}
YAML
set +e
$SLUICE check -c bad2.yaml > err2.txt 2>&1
rc=$?
set -e
expect_eq "check exit status on an unknown function" "$rc" 2
grep -q 'unknown function NO_SUCH_FN' err2.txt || { cat err2.txt; fail "unknown function"; }
ok "unknown function reported"
