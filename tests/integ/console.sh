#!/usr/bin/env bash
# The web console (docs/console.md) in Debian's headless Chromium, driven by playwright-core
# (web/console/test/e2e.mjs), against a running sluice with a real pipeline: a rate-limited
# generator into a profiler with a SQLite store, Parquet files uploaded to `sluice receiver`,
# an access log into a k-means transform (one dead letter), and a Partout master fed by
# Python agents. The API needs a token from a tokens file. Every page must render, its numbers
# must be the API's, its charts must grow, and the login prompt must work.
#   bash tests/integ/console.sh [--screenshots DIR]   (PNG of each page into DIR)
source "$(dirname "$0")/lib/common.bash"
SHOTS=""
if [ "${1:-}" = --screenshots ]; then SHOTS=$(cd "$OLDPWD" && mkdir -p "$2" && cd "$2" && pwd); fi
WEB="$SL_SRC/web/console"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "no $CHROMIUM (scripts/deps.sh installs Debian's chromium)"
[ -d "$WEB/node_modules/playwright-core" ] || fail "no $WEB/node_modules (scripts/deps.sh runs npm ci there)"

# ---- the committed bundle is what the sources build (the binary embeds web/console/dist)
node "$WEB/build.mjs" --check || fail "web/console/dist is stale: npm run build in web/console"

# ---- fixtures: an access log with a flooding client, its training log, a profiler config
$PY - <<'PYEOF'
import random, time
random.seed(42)
T0 = 1733400000
paths = ["/", "/index.html", "/img/logo.png", "/css/site.css", "/api/items", "/login"]
def line(ip, t, path, code, size):
    ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return '%s - - [%s] "GET %s HTTP/1.1" %d %s\n' % (ip, ts, path, code, size)
def normal(f, t0, minutes, extra=None):
    out = []
    for m in range(minutes):
        for c in range(12):
            for r in range(random.randint(3, 12)):
                out.append((t0 + m * 60 + random.randint(0, 59), "10.0.0.%d" % (c + 1),
                            random.choice(paths), random.choices([200, 304, 404, 500], [85, 8, 6, 1])[0],
                            random.randint(200, 5000)))
    out += extra or []
    out.sort()
    for t, ip, p, code, size in out:
        f.write(line(ip, t, p, code, size))
with open("train_access_log", "w") as f:
    normal(f, T0, 20)
flood = [(T0 + 3600 + 60 + random.randint(0, 59), "10.9.9.9", "/wp-login.php?x=%d" % i,
          500 if i % 2 else 404, 120) for i in range(300)]
with open("access_log", "w") as f:
    normal(f, T0 + 3600, 4, flood)
    f.write("this line is not an access log line\n")
PYEOF
cat > profiler.json <<'JSON'
{"profiles": [
  {"profile": "conns", "foreach": "id.orig_h", "init": {"n": 0}, "update": {"n": "n + 1"}, "result": "n"},
  {"profile": "bytes", "foreach": "id.orig_h", "onlyif": "exists(orig_bytes)",
   "init": {"b": 0}, "update": {"b": "b + orig_bytes", "p": "proto"}, "result": "b", "groupBy": ["p"]}
]}
JSON
TOKEN="console-$RANDOM$RANDOM"
echo "ops $TOKEN" > api.tokens
echo "good-key" > keys.txt

RPORT=$(free_port); APORT=$(free_port); PPORT=$(free_port); CPORT=$(free_port)
echo '{"version": 1, "commands": [{"collector": "*", "action": "set-interval", "seconds": 30}]}' \
  > commands.json
$SLUICE receiver --listen 127.0.0.1:$RPORT --root store --keys keys.txt 2> receiver.log &
RPID=$!
PIDS+=($RPID)
wait_port $RPORT

COUNT=6000
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$APORT", tokens: api.tokens, samples: 50}
profile_store: sqlite:profiles.db
sources:
  zeek: {type: generator, types: [conn], rate: 400, count: $COUNT, seed: 3}
  access: {type: file, path: [access_log], format: lines}
  master: {type: partout, listen: "127.0.0.1:$PPORT", store: partout.db}
  cmds: {type: commands, file: commands.json, listen: "127.0.0.1:$CPORT", state: cmds.db, poll_interval: 1s}
transforms:
  typed: {type: eval, inputs: [zeek], set: {msgtype: "'GENERAL'"}}
  prof: {type: profiler, inputs: [zeek], profiles_file: profiler.json, period: 2s, lag: 1s}
  web_anomaly:
    type: kmeans
    inputs: [access]
    pattern: '^(?P<source>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<response_code>\d+) (?P<bytes>\d+|-)'
    key: source
    features: {requests: "count()", errors: "sum(response_code >= 400)", paths: "distinct(path)"}
    k: 2
    seed: 1
    scale: standard
    training: train_access_log
    training_window: 60s
    time: event
    timestamp_field: time
    window: 60s
    threshold: 10
sinks:
  pq:
    type: parquet
    inputs: [typed]
    path: "spool/{msgtype}/{msgtype}-%Y%m%d-%H%M.parquet"
    partition_by: msgtype
    roll_rows: 1000
    roll_interval: 2s
  up:
    type: receiver
    files_from: pq
    url: "http://127.0.0.1:$RPORT/s3"
    api_key: good-key
    aggregator_id: console-test
    retry_initial: 100ms
    retry_max: 400ms
  measurements: {type: file, inputs: [prof], path: m.json}
  scores: {type: file, inputs: [web_anomaly], path: scores.json}
  dead: {type: file, inputs: [web_anomaly.errors], path: dead.json}
  agents: {type: null, inputs: [master]}
  commands: {type: null, inputs: [cmds]}
YAML
$SLUICE run -c p.yaml --no-status 2> run.log &
SPID=$!
PIDS+=($SPID)
( wait_port $APORT 20 ) || { tail -20 run.log; fail "sluice did not start"; }
wait_port $PPORT 20

# ---- Partout agents: five of them, one much louder
$PY - "$PPORT" <<'PYEOF' || fail "partout posts"
import json, sys, urllib.request
port = int(sys.argv[1])
def post(uuid, n):
    mods = {"fs": {"count": n, "objects": {"/etc": {"count": n, "messages": {"changed": {"level": "info", "count": n}}}}}}
    body = json.dumps({"agent": {"uuid": uuid, "hostname": "host-" + uuid, "arch": "x64", "platform": "linux",
                                 "count": n, "modules": mods}, "period_secs": 10}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/events" % port, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200, r.status
for rnd in range(2):
    for i, n in enumerate([5, 40, 12, 900, 3]):
        post("agent-%d" % i, n)
PYEOF
ok "partout agents posted"

# ---- three collectors ask for their commands (the set is delivered once to each)
( wait_port $CPORT 20 ) || { tail -20 run.log; fail "commands source did not start"; }
for i in 1 2 3; do
  for try in $(seq 50); do
    st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CPORT/agent/ping?id=collector-$i")
    [ "$st" = 200 ] && break
    sleep 0.1 # until the first poll has read commands.json
  done
  [ "$st" = 200 ] || fail "ping collector-$i: $st"
done
ok "collectors pinged"

args=(--url "http://127.0.0.1:$APORT" --token "$TOKEN" --generator zeek --count $COUNT)
[ -n "$SHOTS" ] && args+=(--screenshots "$SHOTS")
timeout 200 node "$WEB/test/e2e.mjs" "${args[@]}" || { tail -20 run.log; [ -n "${SL_KEEP:-}" ] && cp -r "$T" "$SL_KEEP"; fail "console in chromium"; }

kill -TERM $SPID
wait $SPID || { tail -20 run.log; fail "sluice exit status"; }
kill -TERM $RPID
wait $RPID || true
! grep -l 'Sanitizer' ./*.log || fail "sanitizer reports: $(cat run.log | grep -A5 Sanitizer | head -20)"
ok "console"
