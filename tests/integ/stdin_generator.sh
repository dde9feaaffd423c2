#!/usr/bin/env bash
# stdin source (json and lines) and the generator: seeded output is repeatable, count is
# exact, the shapes are Zeek's.
source "$(dirname "$0")/lib/common.bash"

cat > in.yaml <<'YAML'
sources:
  in: {type: stdin}
sinks:
  out: {type: file, inputs: [in], path: out.json}
  bad: {type: file, inputs: [in.errors], path: bad.json}
YAML
printf '{"a":1}\n\n{"a":2}\r\n{oops}\n{"a":3}' | $SLUICE run -c in.yaml --once --no-status 2> log.txt || fail "stdin run"
expect_eq "stdin events (last line has no newline)" "$(count_lines out.json)" 3
expect_eq "stdin dead letters" "$(count_lines bad.json)" 1
grep -q '"line":4' bad.json || fail "stdin dead letter line: $(cat bad.json)"

cat > lines.yaml <<'YAML'
sources:
  in: {type: stdin, format: lines, message_field: text}
sinks:
  out: {type: csv, inputs: [in], path: out.csv, columns: [text], header: false}
YAML
printf 'one\ntwo, with comma\n' | $SLUICE run -c lines.yaml --once --no-status 2> log.txt || fail "lines run"
expect_eq "raw lines" "$(cat out.csv | tr -d '\r' | tr '\n' '|')" 'one|"two, with comma"|'

cat > gen.yaml <<'YAML'
sources:
  gen: {type: generator, count: 3000, seed: 99, start_time: "2020-04-30T00:00:00Z"}
sinks:
  out: {type: file, inputs: [gen], path: gen.json}
YAML
$SLUICE run -c gen.yaml --once --no-status 2> log.txt || fail "generator run"
mv gen.json first.json
$SLUICE run -c gen.yaml --once --no-status 2> log.txt || fail "generator run 2"
# two workers may hand batches to the sink in either order: compare as sets of lines
cmp -s <(sort first.json) <(sort gen.json) || fail "same seed, different events"
expect_eq "generator count" "$(count_lines gen.json)" 3000
$PY - <<'PYEOF' || fail "generator shapes"
import json, re
paths = {}
for line in open("gen.json"):
    e = json.loads(line)
    paths[e["_path"]] = paths.get(e["_path"], 0) + 1
    assert re.fullmatch(r"C[0-9A-Za-z]{17}", e["uid"]), e["uid"]
    assert 0 < e["id.orig_p"] < 65536 and 0 < e["id.resp_p"] < 65536
    assert 1588204800 <= e["ts"] < 1588204800 + 86400, e["ts"]
    if e["_path"] == "conn":
        assert e["proto"] in ("tcp", "udp") and e["conn_state"]
    elif e["_path"] == "http":
        assert 100 <= e["status_code"] < 600 and e["method"]
    else:
        assert e["query"] and e["rcode_name"] in ("NOERROR", "NXDOMAIN")
assert set(paths) == {"conn", "http", "dns"}, paths
size = sum(len(l) for l in open("gen.json")) / 3000
assert 200 < size < 500, size
print(paths, "avg bytes", int(size))
PYEOF
