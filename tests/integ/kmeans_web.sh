#!/usr/bin/env bash
# kmeans end to end, dataShark's web anomaly detection: train on an Apache access log written
# here (30 ordinary clients over 20 minutes), stream another log (the same clients plus one
# that floods the site with errors in one minute), and the flooding client must have the top
# score in its window. Also: a line the pattern misses goes to .errors; the saved model loaded
# back gives the same records; dataShark's own features (twoxx, nxx, k=2, processing time).
source "$(dirname "$0")/lib/common.bash"

$PY - <<'PYEOF'
import random, time
random.seed(42)
T0 = 1733400000  # a minute boundary
paths = ["/", "/index.html", "/img/logo.png", "/css/site.css", "/api/items", "/login"]
def line(ip, t, path, code, size):
    ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return '%s - - [%s] "GET %s HTTP/1.1" %d %s\n' % (ip, ts, path, code, size)
def normal(f, t0, minutes, extra=None):
    out = []
    for m in range(minutes):
        for c in range(30):
            ip = "10.0.0.%d" % (c + 1)
            for r in range(random.randint(3, 12)):
                code = random.choices([200, 304, 404, 500], [85, 8, 6, 1])[0]
                out.append((t0 + m * 60 + random.randint(0, 59), ip, random.choice(paths), code,
                            random.randint(200, 5000)))
    if extra:
        out += extra
    out.sort()
    for t, ip, p, code, size in out:
        f.write(line(ip, t, p, code, size))
with open("train_access_log", "w") as f:
    normal(f, T0, 20)
flood = [(T0 + 3600 + 120 + random.randint(0, 59), "10.9.9.9", "/wp-login.php?x=%d" % i,
          500 if i % 2 else 404, 120) for i in range(300)]
with open("access_log", "w") as f:
    normal(f, T0 + 3600, 5, flood)
    f.write("this line is not an access log line\n")
PYEOF

cat > p.yaml <<'YAML'
sources:
  access: {type: file, path: [access_log], format: lines}
transforms:
  web_anomaly:
    type: kmeans
    inputs: [access]
    pattern: '^(?P<source>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<response_code>\d+) (?P<bytes>\d+|-)'
    key: source
    features:
      requests: "count()"
      twoxx: "sum(response_code >= 200 && response_code < 300)"
      errors: "sum(response_code >= 400)"
      paths: "distinct(path)"
      bytes: "avg(bytes)"
    k: 3
    seed: 1
    scale: standard
    training: train_access_log
    training_window: 60s
    model_out: web.model.json
    time: event
    timestamp_field: time
    window: 60s
    threshold: 10
sinks:
  out: {type: file, inputs: [web_anomaly], path: out.json}
  dead: {type: file, inputs: [web_anomaly.errors], path: dead.json}
YAML
$SLUICE run -c p.yaml --once --workers 2 --no-status 2> log.txt || { cat log.txt; fail "run"; }
grep -q "trained k=3 on 600 vectors" log.txt || { cat log.txt; fail "training log line"; }
expect_eq "dead letters" "$(count_lines dead.json)" 1
grep -q "pattern does not match" dead.json || fail "dead letter message"
$PY - <<'PYEOF' || fail "scores"
import json
recs = [json.loads(l) for l in open("out.json")]
assert len(recs) >= 150, len(recs)
top = max(recs, key=lambda r: r["score"])
assert top["key"] == "10.9.9.9", top
assert top["metadata"]["requests"] == 300 and top["metadata"]["errors"] == 300, top
assert top["anomaly"] is True and top["window_start"] == "2024-12-05T13:02:00.000000000Z", top
others = sorted((r["score"] for r in recs if r["key"] != "10.9.9.9"), reverse=True)
assert top["score"] > 3 * others[0], (top["score"], others[:3])
assert set(top["metadata"]) == {"cluster", "requests", "twoxx", "errors", "paths", "bytes"}
anom = [r["key"] for r in recs if r["anomaly"]]
assert anom == ["10.9.9.9"], anom
# one record per client per minute: 5 minutes x 30 clients + the flood
assert len(recs) == 151, len(recs)
print("top", top["key"], round(top["score"], 2), "next", round(others[0], 2))
PYEOF
ok "flooding client has the top score"

# the saved model, loaded back, scores the same (with one worker instead of two)
$PY -c 'import json; m = json.load(open("web.model.json")); assert m["k"] == 3 and m["scale"] == "standard" and len(m["centres"]) == 3, m'
sed -e 's/^    training: train_access_log$/    model: web.model.json/' -e '/training_window\|model_out/d' p.yaml > p2.yaml
mv out.json out1.json
rm -f dead.json
$SLUICE run -c p2.yaml --once --workers 1 --no-status 2> log2.txt || { cat log2.txt; fail "run with model"; }
cmp out.json out1.json || fail "model file run differs"
ok "model file round trip"

# a model trained on other features is refused with a message naming them
sed -e 's/requests: "count()"/hits: "count()"/' p2.yaml > p3.yaml
if $SLUICE run -c p3.yaml --once --no-status 2> log3.txt; then fail "mismatched model accepted"; fi
grep -q "trained on the features \[requests, twoxx, errors, paths, bytes\]" log3.txt || { cat log3.txt; fail "mismatch message"; }
ok "feature mismatch refused"

# dataShark's own use case: (twoxx, nxx), k = 2, processing time, no scaling
cat > p4.yaml <<'YAML'
sources:
  access: {type: file, path: [access_log], format: lines}
transforms:
  web_anomaly:
    type: kmeans
    inputs: [access]
    pattern: '^(?P<source>.+?) .*?\[.+?\] ".+?" (?P<response_code>\d+) '
    key: source
    features:
      twoxx: "sum(response_code >= 200 && response_code < 300)"
      nxx: "sum(response_code >= 500)"
    training: train_access_log
sinks:
  out: {type: file, inputs: [web_anomaly], path: out4.json}
YAML
$SLUICE run -c p4.yaml --once --no-status 2> log4.txt || { cat log4.txt; fail "run datashark features"; }
$PY - <<'PYEOF' || fail "datashark features"
import json
recs = [json.loads(l) for l in open("out4.json")]
keys = {r["key"] for r in recs}
assert len(keys) == 31, len(keys)
top = max(recs, key=lambda r: r["score"])
assert top["key"] == "10.9.9.9" and set(top["metadata"]) == {"cluster", "twoxx", "nxx"}, top
assert top["metadata"]["nxx"] == 150, top
PYEOF
ok "dataShark features"

# online updates: each scored vector moves its centre (count-based rate); the updated model
# is written at the end, its counts grown by the number of records
sed -e 's/^    training: train_access_log$/    model: web.model.json/' -e '/training_window/d' \
    -e 's|^    model_out: web.model.json$|    model_out: online.model.json\n    online: true|' p.yaml > p5.yaml
rm -f out.json dead.json
$SLUICE run -c p5.yaml --once --no-status 2> log5.txt || { cat log5.txt; fail "online run"; }
grep -q "updated model written to online.model.json" log5.txt || { cat log5.txt; fail "online model not written"; }
$PY - <<'PYEOF' || fail "online update"
import json
a, b = json.load(open("web.model.json")), json.load(open("online.model.json"))
n = sum(1 for _ in open("out.json"))
assert abs(sum(b["counts"]) - sum(a["counts"]) - n) < 1e-9, (sum(a["counts"]), sum(b["counts"]), n)
assert a["centres"] != b["centres"]
PYEOF
ok "online update"

# max_keys bounds the open accumulators: the rest are dead letters, counted as errors
sed -e 's/^    threshold: 10$/    max_keys: 5/' p2.yaml > p6.yaml
rm -f out.json dead.json
$SLUICE run -c p6.yaml --once --no-status 2> log6.txt || { cat log6.txt; fail "max_keys run"; }
expect_eq "records with max_keys 5" "$(count_lines out.json)" 5
grep -q "max_keys open (key, window) accumulators reached" dead.json || fail "max_keys dead letter"
ok "max_keys"

# streaming, processing time: a window closes on the clock (1 s tick), not only at the end
cat > p7.yaml <<'YAML'
sources:
  access: {type: file, path: [live_log], format: lines, mode: tail, start_at: beginning}
transforms:
  web_anomaly:
    type: kmeans
    inputs: [access]
    pattern: '^(?P<source>.+?) .*?\[.+?\] ".+?" (?P<response_code>\d+) '
    key: source
    features: {twoxx: "sum(response_code >= 200 && response_code < 300)", nxx: "sum(response_code >= 500)"}
    training: train_access_log
    window: 1s
sinks:
  out: {type: file, inputs: [web_anomaly], path: live.json}
YAML
head -100 access_log > live_log
$SLUICE run -c p7.yaml --no-status 2> log7.txt &
PIDS+=($!)
i=0
until [ "$(count_lines live.json.tmp)" -gt 0 ]; do
  i=$((i+1)); [ $i -gt 100 ] && { cat log7.txt; fail "no record while streaming"; }
  sleep 0.1
done
first=$(count_lines live.json.tmp)
sed -n 101,200p access_log >> live_log
i=0
until [ "$(count_lines live.json.tmp)" -gt "$first" ]; do
  i=$((i+1)); [ $i -gt 100 ] && { cat log7.txt; fail "no record for the appended lines"; }
  sleep 0.1
done
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" || fail "exit status after SIGTERM"
ok "streaming windows close on the clock ($first records, then $(count_lines live.json) in all)"

# event time from JSON in several notations: epoch ms, epoch s with a fraction, RFC 3339 with
# an offset, Apache's time; a value that is no time goes to .errors
cat > times.json <<'JSON'
{"ip": "a", "ts": 1733400030000}
{"ip": "a", "ts": "2024-12-05T12:00:40+00:00"}
{"ip": "a", "ts": "2024-12-05T13:00:50+01:00"}
{"ip": "a", "ts": 1733400061.5}
{"ip": "b", "ts": "[05/Dec/2024:12:01:10 +0000]"}
{"ip": "c", "ts": "yesterday"}
JSON
cat > p8.yaml <<'YAML'
sources:
  in: {type: file, path: [times.json], format: json}
transforms:
  km:
    type: kmeans
    inputs: [in]
    key: ip
    features: {n: "count()"}
    k: 1
    training: times.json
    training_format: json
    time: event
    timestamp_field: ts
sinks:
  out: {type: file, inputs: [km], path: t.json}
  dead: {type: file, inputs: [km.errors], path: tdead.json}
YAML
$SLUICE run -c p8.yaml --once --no-status 2> log8.txt || { cat log8.txt; fail "event time run"; }
$PY - <<'PYEOF' || fail "event time notations"
import json
got = [(r["key"], r["window_start"][11:16], r["metadata"]["n"]) for r in map(json.loads, open("t.json"))]
assert got == [("a", "12:00", 3), ("a", "12:01", 1), ("b", "12:01", 1)], got
d = [json.loads(l) for l in open("tdead.json")]
assert len(d) == 1 and "timestamp_field 'ts': not a time" in d[0]["error"], d
PYEOF
ok "event time notations"
