# The body of partout_store.sh and partout_store_postgres.sh (sourced after common.bash, with
# STORE set to a SQLite path or a postgres:// URL).
# partout source with `store:` (the Partout master's store and roll-ups), over real HTTP:
#  - 5 agents post aggregates; GET /api/v1/partout/agents lists them with their counts
#  - GET /api/v1/partout/agents/{uuid} gives the counts over time (raw rows today) and
#    ?level=2 groups them by module; both totals equal what was posted (conservation)
#  - `sluice partout --store FILE` prints the same agents and series (text and --json)
#  - the master is stopped (SIGTERM) and started again: the store still holds everything,
#    new posts add to it, and the estimator's window is replayed from the store (the level
#    told after the restart still counts the posts before it)
#  - bad arguments: 400; unknown agent: 404

PORT=$(free_port)
APIPORT=$(free_port)
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  master: {type: partout, listen: "127.0.0.1:$PORT", store: "$STORE", window: 2m,
           t_obj: 100, per_agent: false}
sinks:
  out: {type: file, inputs: [master], path: out.json}
YAML

start() {
  $SLUICE run -c p.yaml --no-status 2>> log.txt &
  PID=$!; PIDS+=($PID)
  wait_port $PORT
  wait_port $APIPORT
}
stop() {
  kill -TERM $PID
  wait $PID || fail "sluice exited with $? (log: $(tail -5 log.txt))"
}

post_fleet() { # post_fleet ROUND: 5 agents x 4 aggregates; prints the counts posted
  $PY - "$PORT" "$1" <<'PYEOF'
import json, sys, urllib.request
port, rnd = int(sys.argv[1]), int(sys.argv[2])
total = 0
for a in range(5):
    for k in range(4):
        n1, n2, n3 = a + k + 1, 2 * (a + 1), rnd + 1
        body = {"agent": {"uuid": "agent-%d" % a, "hostname": "host-%d" % a, "modules": {
            "fs": {"objects": {"/etc/passwd": {"messages": {
                "changed": {"level": "info", "count": n1},
                "removed": {"level": "error", "count": n2}}}}},
            "net": {"objects": {"eth0": {"messages": {"down": {"level": "error", "count": n3}}}}}}},
            "period_secs": 10}
        req = urllib.request.Request("http://127.0.0.1:%d/events" % port,
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200, r.status
        total += n1 + n2 + n3
print(total)
PYEOF
}

check_api() { # check_api WANT_TOTAL
  $PY - "$APIPORT" "$1" <<'PYEOF'
import json, sys, urllib.request, urllib.error
port, want = int(sys.argv[1]), int(sys.argv[2])
def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
st, agents = get("/api/v1/partout/agents")
assert st == 200, (st, agents)
assert [a["agent"] for a in agents] == ["agent-%d" % i for i in range(5)], agents
assert sum(a["count"] for a in agents) == want, (agents, want)
assert all(a["hostname"] == "host-" + a["agent"][-1] and a["level"] in (3, 4) for a in agents), agents
series_total = 0
for a in agents:
    st, s = get("/api/v1/partout/agents/%s" % a["agent"])
    assert st == 200 and s["total"] == a["count"], (st, s, a)
    assert all(x["tier"] == "raw" for x in s["series"]), s
    st, m = get("/api/v1/partout/agents/%s?level=2" % a["agent"])
    assert st == 200 and m["total"] == a["count"], m
    assert sorted({x["module"] for x in m["series"]}) == ["fs", "net"], m
    assert all("object" not in x for x in m["series"]), m
    series_total += s["total"]
assert series_total == want
st, s = get("/api/v1/partout/agents/agent-0?from=0&to=1")
assert st == 200 and s["total"] == 0 and s["series"] == [], s
st, e = get("/api/v1/partout/agents/nobody")
assert st == 404 and "unknown agent" in e["error"], (st, e)
st, e = get("/api/v1/partout/agents/agent-0?level=9")
assert st == 400, (st, e)
st, e = get("/api/v1/partout/agents/agent-0?from=yesterday")
assert st == 400, (st, e)
PYEOF
}

start
T1=$(post_fleet 0) || fail "post"
check_api "$T1" || fail "api after the first posts"
ok "API: 5 agents, totals = $T1 posted"

stop
start
check_api "$T1" || fail "api after a restart"
ok "restart: the store still holds $T1"
# Em before the restart: T1/2 per minute (window 2m) >= t_obj 100, so level 3; without the
# replay a restarted master would see Em = 1/2 and answer 4
LEVEL=$(curl -s -XPOST "http://127.0.0.1:$PORT/events" -d '{"agent": {"uuid": "agent-0",
  "modules": {"fs": {"objects": {"/etc/passwd": {"messages": {"changed": {"level": "info",
  "count": 1}}}}}}}, "period_secs": 10}' | $PY -c 'import json,sys; print(json.load(sys.stdin)["aggregate_level"])')
expect_eq "level after the restart (estimator replayed from the store)" "$LEVEL" 3
T2=$(post_fleet 1) || fail "post after restart"
WANT=$((T1 + 1 + T2))
check_api "$WANT" || fail "api after more posts"
ok "after the restart new posts add up: $WANT"
stop

# the command, on the store file (master stopped)
$SLUICE partout --store "$STORE" > agents.txt || fail "sluice partout"
grep -q '^agent-3 .*host-3' agents.txt || fail "agents table: $(cat agents.txt)"
grep -q '(5 agents)' agents.txt || fail "agents count: $(cat agents.txt)"
$SLUICE partout --store "$STORE" agent-2 --level 3 > series.txt || fail "sluice partout UUID"
grep -q 'raw .*fs .*/etc/passwd' series.txt || fail "series table: $(cat series.txt)"
$SLUICE partout --store "$STORE" --json > agents.json
GOT=$($PY -c 'import json,sys; print(sum(a["count"] for a in json.load(open("agents.json"))))')
expect_eq "sluice partout --json total" "$GOT" "$WANT"
SUM=0
for a in 0 1 2 3 4; do
  t=$($SLUICE partout --store "$STORE" agent-$a --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  SUM=$((SUM + t))
done
expect_eq "sum of the series totals" "$SUM" "$WANT"
if [ "${STORE#postgres}" = "$STORE" ]; then
  if $SLUICE partout --store nope.db 2> err.txt; then fail "a missing store file is accepted"; fi
  grep -q 'no such store file' err.txt || fail "missing store message: $(cat err.txt)"
fi
ok "sluice partout"
