#!/usr/bin/env bash
# file (json) -> filter -> file, with exact counts, dead letters kept in their own file,
# with 1 and 2 workers.
source "$(dirname "$0")/lib/common.bash"

N=30000
gen_json $N in.json 1000          # every 1000th line is malformed: 30 bad lines
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json], format: json}
transforms:
  keep_tcp:
    type: filter
    inputs: [in]
    include: {proto: "tcp$"}
    exclude: {"id.resp_p": "53"}
sinks:
  out: {type: file, inputs: [keep_tcp], path: out.json}
  dead: {type: file, inputs: [in.errors], path: dead.json}
YAML
for w in 1 2; do
  rm -f out.json dead.json
  $SLUICE run -c p.yaml --once --workers $w --no-status 2> log.txt || { cat log.txt; fail "run"; }
  # what python says the filter must keep
  want=$($PY - <<'PYEOF'
import json, re
n = 0
for line in open("in.json"):
    try: ev = json.loads(line)
    except ValueError: continue
    if re.match("tcp$", ev["proto"]) and not re.match("53", str(ev["id.resp_p"])): n += 1
print(n)
PYEOF
)
  expect_eq "workers=$w kept events" "$(count_lines out.json)" "$want"
  expect_eq "workers=$w dead letters" "$(count_lines dead.json)" 30
  # every output line is valid JSON with the original fields, and the bad lines carry where/line
  $PY - <<'PYEOF' || fail "output content"
import json
seen = set()
for line in open("out.json"):
    ev = json.loads(line)
    assert ev["proto"] == "tcp" and ev["id.resp_p"] != 53, ev
    assert ev["nested"]["a"]["b"] == ev["seq"] % 7
    assert ev["msg"] == "line %d \u00e9 \"q\"" % ev["seq"]
    seen.add(ev["seq"])
for line in open("dead.json"):
    d = json.loads(line)
    assert d["component"] == "in" and d["where"].endswith("in.json"), d
    assert d["line"] % 1000 == 0 and "broken" in d["raw"], d
    assert d["error"], d
print(len(seen))
PYEOF
  [ ! -e out.json.tmp ] || fail "a .tmp file was left behind"
done
ok "file -> filter -> file"
