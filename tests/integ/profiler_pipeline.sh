#!/usr/bin/env bash
# The `profiler` transform end to end: Metron's profiler.json over a file in event time
# (--once), measurements on the main output and in a SQLite store that PROFILE_GET reads
# back, triage events with Metron's fields, late events on .late, failing updates on
# .errors, SIGTERM mid-period flushing the open periods, a restart reading the store, and
# `sluice check` naming the bad expression in profiler.json.
source "$(dirname "$0")/lib/common.bash"

# 200 messages over 3 periods of 15 minutes (900000 ms), 3 source addresses, out of order
# by up to a second, plus response_body_len on most
$PY - <<'PYEOF'
import json, random
random.seed(7)
base = 1530978000000 - 1530978000000 % 900000   # a period boundary
msgs = []
for i in range(200):
    ts = base + i * 13000 + random.randint(0, 999)   # 200 * 13 s = 43 min: periods 0..2
    m = {"timestamp": ts, "ip_src_addr": ["10.0.0.1", "10.0.0.2", "192.168.1.9"][i % 3]}
    if i % 5:
        m["response_body_len"] = i * 10
    msgs.append(m)
random.shuffle(msgs[:])  # keep file order mostly ascending: swap neighbours
for i in range(0, len(msgs) - 1, 7):
    msgs[i], msgs[i + 1] = msgs[i + 1], msgs[i]
with open("in.json", "w") as f:
    for m in msgs:
        f.write(json.dumps(m) + "\n")
# the exact per-period counts (Metron's batch profiler)
exp = {}
for m in msgs:
    k = (m["ip_src_addr"], m["timestamp"] // 900000)
    exp[k] = exp.get(k, 0) + 1
with open("expected.json", "w") as f:
    json.dump({"%s|%d" % k: v for k, v in exp.items()}, f)
print(base)
PYEOF

cat > profiler.json <<'JSON'
{
  "timestampField": "timestamp",
  "profiles": [
    {"profile": "count-by-ip", "foreach": "ip_src_addr",
     "init": {"count": 0}, "update": {"count": "count + 1"}, "result": "count"},
    {"profile": "len-stats", "foreach": "ip_src_addr",
     "onlyif": "exists(response_body_len)",
     "init": {"s": "STATS_INIT()"}, "update": {"s": "STATS_ADD(s, response_body_len)"},
     "result": {"profile": "s",
                "triage": {"max_len": "STATS_MAX(s)", "n": "STATS_COUNT(s)"}}}
  ]
}
JSON
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
transforms:
  prof:
    type: profiler
    inputs: [in]
    profiles_file: profiler.json
    period: 15m
    lag: 5s
    store: sqlite:profiles.db
sinks:
  measurements: {type: file, inputs: [prof], path: m.json}
  triage: {type: file, inputs: [prof.triage], path: triage.json}
  late: {type: file, inputs: [prof.late], path: late.json}
  dead: {type: file, inputs: [prof.errors], path: dead.json}
YAML
$SLUICE check -c p.yaml > check.txt 2>&1 || { cat check.txt; fail "check"; }
$SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run"; }
$PY - <<'PYEOF' || { cat log.txt; fail "measurements"; }
import json
exp = json.load(open("expected.json"))
got = {}
for line in open("m.json"):
    m = json.loads(line)
    assert m["period.end"] - m["period.start"] == 900000, m
    assert m["period"] == m["period.start"] // 900000, m
    assert m["groups"] == [], m
    if m["profile"] == "count-by-ip":
        got["%s|%d" % (m["entity"], m["period"])] = m["value"]
assert got == exp, (got, exp)
PYEOF
ok "count-by-ip: exact per-period counts ($(count_lines m.json) measurements)"
expect_eq "late events (lag 5s covers the disorder)" "$(count_lines late.json)" 0
expect_eq "dead letters" "$(count_lines dead.json)" 0
$PY - <<'PYEOF' || fail "triage events"
import json
n = 0
for line in open("triage.json"):
    t = json.loads(line)
    assert t["profile"] == "len-stats" and t["source.type"] == "profiler", t
    assert t["is_alert"] == "true" and len(t["guid"]) == 36, t
    for k in ("entity", "period", "period.start", "period.end", "timestamp", "max_len", "n"):
        assert k in t, (k, t)
    assert t["n"] >= 1 and t["max_len"] <= 1990, t
    n += 1
assert n >= 3, n
PYEOF
ok "triage events carry Metron's fields"

# the store: PROFILE_GET reads what was written, STATS_* work on stored sketches
BASE=$(head -1 <(sed -n 's/.*"timestamp": \([0-9]*\).*/\1/p' in.json | sort -n))
NOW=$((BASE + 3 * 900000))
got=$($SLUICE stellar --store sqlite:profiles.db \
  -e "PROFILE_GET('count-by-ip', '10.0.0.1', PROFILE_WINDOW('from 1 hours ago', ${NOW}L))" 2>&1) \
  || fail "PROFILE_GET: $got"
want=$($PY -c "
import json
e = json.load(open('expected.json'))
print('[' + ', '.join(str(e[k]) for k in sorted(e, key=lambda k: int(k.split('|')[1])) if k.startswith('10.0.0.1|')) + ']')")
expect_eq "PROFILE_GET over the store" "$got" "$want"
got=$($SLUICE stellar --store sqlite:profiles.db \
  -e "STATS_COUNT(GET_FIRST(PROFILE_GET('len-stats', '10.0.0.2', PROFILE_WINDOW('from 1 hours ago', ${NOW}L)))) > 0" 2>&1)
expect_eq "a stored STATS sketch answers STATS_COUNT" "$got" "true"
n=$(sqlite3 profiles.db "select count(*) from measurements where profile = 'count-by-ip'" 2>&1) \
  || fail "sqlite3: $n"
[ "$n" -ge 6 ] || fail "sqlite3 sees $n measurements"
ok "sqlite3 reads the store ($n count-by-ip rows)"

# late events and failing updates: lag 0 and an event far behind the newest. Lateness is
# judged per batch (the watermark moves after each batch), so the late event comes in a
# second file (a batch of its own) and one worker keeps the batches in order.
$PY - <<'PYEOF'
import json
with open("late_in1.json", "w") as f:
    f.write(json.dumps({"timestamp": 1000000000000, "ip_src_addr": "a", "x": 1}) + "\n")
    f.write(json.dumps({"timestamp": 1000003600000, "ip_src_addr": "a", "x": 0}) + "\n")
with open("late_in2.json", "w") as f:
    f.write(json.dumps({"timestamp": 1000000000001, "ip_src_addr": "a", "x": 1}) + "\n")
    f.write(json.dumps({"ip_src_addr": "a", "x": 1}) + "\n")
PYEOF
cat > late.json.profiler <<'JSON'
{"timestampField": "timestamp", "profiles": [
  {"profile": "inv", "foreach": "ip_src_addr", "init": {"n": 0},
   "update": {"n": "n + 10 / x"}, "result": "n"}]}
JSON
cat > late.yaml <<'YAML'
workers: 1
sources:
  in: {type: file, path: [late_in1.json, late_in2.json]}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: late.json.profiler, period: 1m, lag: 0s}
sinks:
  m: {type: file, inputs: [prof], path: late_m.json}
  late: {type: file, inputs: [prof.late], path: late_late.json}
  dead: {type: file, inputs: [prof.errors], path: late_dead.json}
YAML
$SLUICE run -c late.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run late"; }
expect_eq "late events on prof.late" "$(count_lines late_late.json)" 1
expect_eq "dead letters: division by zero, no timestamp" "$(count_lines late_dead.json)" 2
grep -q 'by zero' late_dead.json || fail "division by zero not reported: $(cat late_dead.json)"
grep -q 'event time' late_dead.json || fail "missing timestamp not reported: $(cat late_dead.json)"
expect_eq "measurements (first period, and the second whose update failed)" "$(count_lines late_m.json)" 2

# SIGTERM mid-period (processing time, 1 h periods): the open period is flushed to the store
cat > live.json.profiler <<'JSON'
{"profiles": [{"profile": "hello-world", "foreach": "'global'",
  "init": {"count": 0}, "update": {"count": "count + 1"}, "result": "count"}]}
JSON
cat > live.yaml <<'YAML'
sources:
  gen: {type: generator, rate: 2000}
transforms:
  prof: {type: profiler, inputs: [gen], profiles_file: live.json.profiler, period: 1h,
         store: "sqlite:live.db"}
sinks:
  m: {type: file, inputs: [prof], path: live_m.json}
YAML
APIPORT=$(free_port)
printf 'api: {listen: "127.0.0.1:%s"}\n' "$APIPORT" >> live.yaml
$SLUICE run -c live.yaml --no-status 2> live_log.txt &
PID=$!; PIDS+=($PID)
wait_port $APIPORT
sleep 1.5
kill -TERM $PID
wait $PID || { cat live_log.txt; fail "exit status after SIGTERM"; }
sent=$(grep -Eo 'done: events in [0-9]+' live_log.txt | grep -Eo '[0-9]+$')
[ "${sent:-0}" -gt 500 ] || fail "too few events: $sent"
# (two measurements if the run crossed an hour boundary: their sum is what was sent)
got=$($PY -c "import json; print(sum(json.loads(l)['value'] for l in open('live_m.json')))")
expect_eq "the open period's count, flushed at SIGTERM" "$got" "$sent"
# restart: the store still answers
got=$($SLUICE stellar --store sqlite:live.db \
  -e "REDUCE(PROFILE_GET('hello-world', 'global', PROFILE_FIXED(2, 'HOURS', {'profiler.client.period.duration': 1, 'profiler.client.period.duration.units': 'HOURS'})), (s, x) -> s + x, 0)" 2>&1)
expect_eq "PROFILE_GET after a restart" "$got" "$sent"

# a bad profile fails `sluice check` with profiler.json's path, line and column
cat > bad.json <<'JSON'
{"profiles": [
  {"profile": "ok", "foreach": "ip_src_addr", "result": "1"},
  {"profile": "broken", "foreach": "ip_src_addr",
   "update": {"n": "n + * 2"}, "result": "n"}]}
JSON
cat > bad.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: bad.json}
sinks:
  m: {type: "null", inputs: [prof]}
YAML
set +e; $SLUICE check -c bad.yaml > bad.txt 2>&1; rc=$?; set -e
expect_eq "check exit status for a bad profile" "$rc" 2
grep -q 'bad.json:4:' bad.txt || fail "no bad.json:4: position in: $(cat bad.txt)"
grep -q 'profiles\[1\].update.n' bad.txt || fail "no JSON path in: $(cat bad.txt)"
ok "bad profile: $(head -1 bad.txt)"

# inline profiles in the YAML: same results as the file, errors at the YAML position
cat > inline.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
transforms:
  prof:
    type: profiler
    inputs: [in]
    timestamp_field: timestamp
    period: 15m
    lag: 5s
    profiles:
      - profile: count-by-ip
        foreach: ip_src_addr
        init: {count: 0}
        update: {count: "count + 1"}
        result: count
sinks:
  m: {type: file, inputs: [prof], path: inline_m.json}
YAML
$SLUICE run -c inline.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run inline"; }
$PY - <<'PYEOF' || fail "inline measurements"
import json
exp = json.load(open("expected.json"))
got = {"%s|%d" % (m["entity"], m["period"]): m["value"] for m in map(json.loads, open("inline_m.json"))}
assert got == exp, (got, exp)
PYEOF
ok "inline profiles give the same measurements"
sed -i 's/update: {count: "count + 1"}/update: {count: "count + + 1"}/' inline.yaml
set +e; $SLUICE check -c inline.yaml > bad2.txt 2>&1; rc=$?; set -e
expect_eq "check exit status for a bad inline profile" "$rc" 2
grep -q 'inline.yaml:14:' bad2.txt || fail "no inline.yaml:14: position in: $(cat bad2.txt)"
ok "bad inline profile: $(head -1 bad2.txt)"

# `sluice profiles` over the first store
$SLUICE profiles --store sqlite:profiles.db > prof.txt 2>&1 || { cat prof.txt; fail "sluice profiles"; }
grep -Eq '^count-by-ip +3 ' prof.txt || fail "profiles table: $(cat prof.txt)"
grep -Eq '^len-stats +3 ' prof.txt || fail "profiles table: $(cat prof.txt)"
$SLUICE profiles --store sqlite:profiles.db count-by-ip 10.0.0.1 --json > series.txt 2>&1 \
  || { cat series.txt; fail "sluice profiles series"; }
$PY - <<'PYEOF' || fail "series: $(cat series.txt)"
import json
exp = json.load(open("expected.json"))
rows = json.load(open("series.txt"))["measurements"]
got = {"10.0.0.1|%d" % r["period"]: r["value"] for r in rows}
assert got == {k: v for k, v in exp.items() if k.startswith("10.0.0.1|")}, got
assert all(r["type"] == "Integer" and r["end_ms"] - r["start_ms"] == 900000 for r in rows), rows
PYEOF
ok "sluice profiles lists profiles and an entity's series"

# the HTTP API while periods close every second (processing time)
cat > api.yaml <<'YAML'
sources:
  gen: {type: generator, rate: 2000}
transforms:
  prof: {type: profiler, inputs: [gen], profiles_file: live.json.profiler, period: 1s,
         lag: 0s, store: "sqlite:api.db"}
YAML
APIPORT=$(free_port)
printf 'api: {listen: "127.0.0.1:%s"}\n' "$APIPORT" >> api.yaml
$SLUICE run -c api.yaml --no-status 2> api_log.txt &
PID=$!; PIDS+=($PID)
wait_port $APIPORT
sleep 3.5
curl -sf "http://127.0.0.1:$APIPORT/api/v1/profiles" > api1.json || fail "GET /api/v1/profiles"
curl -sf "http://127.0.0.1:$APIPORT/api/v1/profiles/hello-world/global?from=0" > api2.json \
  || fail "GET /api/v1/profiles/hello-world/global"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APIPORT/api/v1/profiles/hello-world/global?from=yesterday")
expect_eq "bad from: 400" "$code" 400
kill -TERM $PID
wait $PID || { cat api_log.txt; fail "api run exit status"; }
$PY - <<'PYEOF' || fail "API answers: $(cat api1.json api2.json)"
import json
a = json.load(open("api1.json"))
p = {x["profile"]: x for x in a["profiles"]}
assert p["hello-world"]["entities"] == 1 and p["hello-world"]["measurements"] >= 2, a
b = json.load(open("api2.json"))
assert b["profile"] == "hello-world" and b["entity"] == "global", b
ms = b["measurements"]
assert len(ms) >= 2 and all(m["end_ms"] - m["start_ms"] == 1000 and m["value"] > 0 for m in ms), b
assert [m["period"] for m in ms] == sorted(m["period"] for m in ms), b
PYEOF
ok "HTTP API: /api/v1/profiles and an entity's measurements"

# a top-level profile_store: profilers without `store:` write it, and an `eval` reads the
# entity's baseline with PROFILE_GET in the same kind of pipeline
cat > top.yaml <<'YAML'
profile_store: sqlite:top.db
sources:
  in: {type: file, path: [in.json]}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: profiler.json, period: 15m, lag: 5s}
sinks:
  m: {type: "null", inputs: [prof]}
YAML
$SLUICE run -c top.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run top"; }
n=$(sqlite3 top.db "select count(*) from measurements where profile = 'count-by-ip'")
[ "$n" -ge 6 ] || fail "top-level store has $n measurements"
$PY - <<PYEOF
import json
with open("probe.json", "w") as f:
    for ip in ("10.0.0.1", "10.0.0.2", "8.8.8.8"):
        f.write(json.dumps({"ip_src_addr": ip}) + "\n")
PYEOF
cat > baseline.yaml <<YAML
profile_store: sqlite:top.db
sources:
  in: {type: file, path: [probe.json]}
transforms:
  base:
    type: eval
    inputs: [in]
    set:
      counts: "PROFILE_GET('count-by-ip', ip_src_addr, PROFILE_WINDOW('from 1 hours ago', ${NOW}L))"
      total: "REDUCE(counts, (s, x) -> s + x, 0)"
sinks:
  out: {type: file, inputs: [base], path: base.json}
YAML
$SLUICE run -c baseline.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run baseline"; }
$PY - <<'PYEOF' || fail "eval with PROFILE_GET: $(cat base.json)"
import json
exp = json.load(open("expected.json"))
for l in open("base.json"):
    e = json.loads(l)
    want = sum(v for k, v in exp.items() if k.startswith(e["ip_src_addr"] + "|"))
    assert e["total"] == want, (e, want)
PYEOF
ok "an eval reads each entity's baseline from the top-level profile_store"

# `expires` (days): a running profiler removes its profile's old measurements (the 2018
# count-by-ip rows of profiles.db), and leaves other profiles alone
before=$(sqlite3 profiles.db "select count(*) from measurements where profile = 'len-stats'")
cat > exp.json.profiler <<'JSON'
{"profiles": [{"profile": "count-by-ip", "foreach": "'x'", "onlyif": "false",
  "result": "1", "expires": 1}]}
JSON
cat > exp.yaml <<'YAML'
sources:
  gen: {type: generator, rate: 100}
transforms:
  prof: {type: profiler, inputs: [gen], profiles_file: exp.json.profiler, store: "sqlite:profiles.db"}
YAML
APIPORT=$(free_port)
printf 'api: {listen: "127.0.0.1:%s"}\n' "$APIPORT" >> exp.yaml
$SLUICE run -c exp.yaml --no-status 2> exp_log.txt &
PID=$!; PIDS+=($PID)
wait_port $APIPORT
for i in $(seq 50); do
  n=$(sqlite3 profiles.db "select count(*) from measurements where profile = 'count-by-ip'")
  [ "$n" = 0 ] && break
  sleep 0.1
done
kill -TERM $PID
wait $PID || { cat exp_log.txt; fail "expires run"; }
expect_eq "count-by-ip rows older than a day removed" "$n" 0
expect_eq "other profiles untouched" \
  "$(sqlite3 profiles.db "select count(*) from measurements where profile = 'len-stats'")" "$before"
grep -q "older than 1 days removed" exp_log.txt || fail "no expiry log line: $(cat exp_log.txt)"
