#!/usr/bin/env bash
# commands source against a small python server that serves /commands with an ETag (304 on
# If-None-Match) and whose content the test changes (docs/components/commands.md):
#   - config errors: no url and no file, no state;
#   - three collectors each get 200 + the set exactly once, then 204; a 128-byte id is fine;
#   - bad ids (empty, 129 bytes, bad characters, missing) -> 400; other paths 404, POST 405;
#   - a new set served -> each collector gets it exactly once; the server saw 304s;
#   - 20 parallel pings from one new id -> exactly one 200;
#   - invalid JSON served -> the old set stays, counted in /metrics;
#   - the server gone -> failures counted, logged once, the set stays;
#   - the audit events (command_set, command_delivery) arrive in a file sink;
#   - restart on the same state: 204 for collectors that had the current version, 200 for a
#     new one, no new version;
#   - a new set that cannot be stored (state locked by another process): stored at a later
#     poll (the ETag of the failed answer is not kept);
#   - the `file` input: a changed file is a new version;
#   - file and url both change while the state is locked; the file's set fails to store, the
#     url's (same poll) waits for the lock and is stored: it stays (the file's is not offered
#     again over it);
#   - a 200 the collector does not read (it hangs up): undone, the set goes out again;
#   - a receiver that never answers: the poll fails after `timeout`; SIGTERM is prompt.
source "$(dirname "$0")/lib/common.bash"

# ---- configuration errors
cat > bad1.yaml <<YAML
sources:
  cmds: {type: commands, state: s.db, listen: "127.0.0.1:0"}
sinks:
  out: {type: null, inputs: [cmds]}
YAML
set +e
$SLUICE check -c bad1.yaml 2> err1.txt; rc=$?
set -e
expect_eq "no url and no file (exit)" "$rc" 2
grep -q "no url and no file" err1.txt || fail "message: $(cat err1.txt)"
cat > bad2.yaml <<YAML
sources:
  cmds: {type: commands, url: "http://127.0.0.1:1/commands", listen: "127.0.0.1:0"}
YAML
set +e
$SLUICE check -c bad2.yaml 2> err2.txt; rc=$?
set -e
expect_eq "no state (exit)" "$rc" 2
grep -q "state" err2.txt || fail "message: $(cat err2.txt)"

# ---- the commands server: GET /commands serves served.json with a strong ETag
SPORT=$(free_port)
cat > server.py <<'PYEOF'
import hashlib, http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/commands":
            self.send_error(404); return
        body = open("served.json", "rb").read()
        etag = '"%s"' % hashlib.sha1(body).hexdigest()
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304); self.send_header("ETag", etag); self.end_headers()
            with open("server.log", "a") as f: f.write("304\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open("server.log", "a") as f: f.write("200\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
printf '{"commands":[{"op":"capture","iface":"eth0"}],"v":1}' > served.json
cp served.json v1.json
start_server() {
  $PY server.py $SPORT &
  SPID=$!; PIDS+=($SPID)
  wait_port $SPORT
}
start_server

PORT=$(free_port)
APIPORT=$(free_port)
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  cmds:
    type: commands
    url: "http://127.0.0.1:$SPORT/commands"
    poll_interval: 200ms
    listen: "127.0.0.1:$PORT"
    state: state/commands.db
sinks:
  audit: {type: file, inputs: [cmds], path: audit.json}
YAML
start_sluice() { # LOG
  $SLUICE run -c p.yaml --no-status 2> "$1" &
  PID=$!; PIDS+=($PID)
  wait_port $PORT
  wait_port $APIPORT
}
stop_sluice() {
  kill -TERM $PID
  wait $PID || fail "exit status; log: $(cat log*.txt)"
}
# ping ID: prints the status; the body goes to body.txt
ping() { curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$PORT/agent/ping?id=$1"; }
metric() { # NAME: its value for component cmds
  curl -s "http://127.0.0.1:$APIPORT/metrics" | awk -v m="$1{component=\"cmds\"}" '$1 == m {print $2}'
}
# wait_metric NAME MIN: until the metric reaches MIN (10 s)
wait_metric() {
  for _ in $(seq 100); do
    v=$(metric "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ] && return 0; sleep 0.1
  done
  fail "$1 = '$(metric "$1")', want >= $2; log: $(cat log1.txt)"
}

start_sluice log1.txt
wait_metric sluice_commands_versions_total 1

# ---- three collectors: 200 + the set once, then 204
for id in c1 c2 c3; do
  expect_eq "first ping $id" "$(ping $id)" 200
  cmp -s body.txt v1.json || fail "$id body: $(cat body.txt)"
done
for id in c1 c2 c3; do expect_eq "second ping $id" "$(ping $id)" 204; done
LONG=$(printf 'a%.0s' $(seq 128))
expect_eq "128-byte id" "$(ping "$LONG")" 200
curl -s -D hdr.txt -o /dev/null "http://127.0.0.1:$PORT/agent/ping?id=hdrs"
grep -qi '^content-type: application/json' hdr.txt || fail "content type: $(cat hdr.txt)"

# ---- bad requests
expect_eq "empty id" "$(ping '')" 400
grep -q '"error":"empty id"' body.txt || fail "empty id body: $(cat body.txt)"
expect_eq "129-byte id" "$(ping "${LONG}b")" 400
expect_eq "slash in id" "$(ping 'a%2Fb')" 400
expect_eq "space in id" "$(ping 'a+b')" 400
expect_eq "NUL in id" "$(ping 'a%00b')" 400
expect_eq "missing id" "$(curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$PORT/agent/ping")" 400
grep -q 'missing id' body.txt || fail "missing id body: $(cat body.txt)"
expect_eq "other path" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/agent/x?id=c1")" 404
expect_eq "POST" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/agent/ping?id=c9")" 405
expect_eq "bad requests counted" "$(metric sluice_commands_bad_requests_total)" 6

# ---- a new set: each collector gets it exactly once
printf '{"commands":[{"op":"capture","iface":"eth1"}],"v":2}' > served.json
cp served.json v2.json
wait_metric sluice_commands_versions_total 2
for id in c1 c2 c3; do
  expect_eq "new set, first ping $id" "$(ping $id)" 200
  cmp -s body.txt v2.json || fail "$id body: $(cat body.txt)"
  expect_eq "new set, second ping $id" "$(ping $id)" 204
done
# polls come every 200ms: give the next one (an unchanged set) time to be answered 304
for _ in $(seq 30); do grep -q 304 server.log 2>/dev/null && break; sleep 0.1; done
[ "$(grep -c 304 server.log)" -gt 0 ] || fail "the server never answered 304 (no If-None-Match?)"
ok "polls with If-None-Match get 304s ($(grep -c 304 server.log))"

# ---- concurrent pings from one id: exactly one 200
BURST=()
for i in $(seq 20); do
  curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/agent/ping?id=burst" > "burst.$i" &
  BURST+=($!)
done
wait "${BURST[@]}"
expect_eq "burst: 200s" "$(cat burst.* | grep -c 200)" 1
expect_eq "burst: 204s" "$(cat burst.* | grep -c 204)" 19

# ---- invalid JSON served: the old set stays, counted
printf '{"commands": [oops' > served.json
wait_metric sluice_commands_invalid_total 1
expect_eq "versions after invalid" "$(metric sluice_commands_versions_total)" 2
expect_eq "old set kept (c1)" "$(ping c1)" 204
expect_eq "old set to a new collector" "$(ping c4)" 200
cmp -s body.txt v2.json || fail "c4 body: $(cat body.txt)"
grep -q 'not valid JSON' log1.txt || fail "invalid JSON not logged: $(cat log1.txt)"

# ---- the server gone: failures counted and logged once, the set stays
F=$(metric sluice_commands_poll_failures_total)
kill $SPID; wait $SPID 2>/dev/null || true
wait_metric sluice_commands_poll_failures_total $((F + 3))
expect_eq "'connect' failure logged once" "$(grep -c "Couldn't connect" log1.txt)" 1
expect_eq "set kept while the server is gone" "$(ping c6)" 200
cmp -s body.txt v2.json || fail "c6 body: $(cat body.txt)"
expect_eq "deliveries metric" "$(metric sluice_commands_deliveries_total)" 11
stop_sluice

# ---- the audit events
$PY - <<'PYEOF' || fail "audit events: $(cat audit.json)"
import json
rows = [json.loads(l) for l in open("audit.json")]
sets = [r for r in rows if r["type"] == "command_set"]
dels = [r for r in rows if r["type"] == "command_delivery"]
assert len(sets) == 2 and len(dels) == 11, (len(sets), len(dels))
assert [s["bytes"] for s in sets] == [len(open("v1.json").read()), len(open("v2.json").read())], sets
assert all(s["origin"] == "url" and len(s["version"]) == 16 and s["ts"] for s in sets), sets
v1, v2 = sets[0]["version"], sets[1]["version"]
got = sorted((d["collector"], d["version"]) for d in dels)
want = sorted([("c1", v1), ("c2", v1), ("c3", v1), ("a" * 128, v1), ("hdrs", v1),
               ("c1", v2), ("c2", v2), ("c3", v2), ("burst", v2), ("c4", v2), ("c6", v2)])
assert got == want, got
PYEOF
ok "audit: 2 command_set, 11 command_delivery events"

# ---- restart on the same state: history kept
cp v2.json served.json
start_server
BEFORE=$(count_lines server.log)
start_sluice log2.txt
wait_metric sluice_commands_polls_total 3
# the ETag of the last good answer was kept: the server says "unchanged" from the first poll
expect_eq "200s from the server after restart" "$(tail -n +$((BEFORE + 1)) server.log | grep -c 200)" 0
for id in c1 c2 c3 c4 c6 burst; do expect_eq "after restart $id" "$(ping $id)" 204; done
expect_eq "after restart, new collector" "$(ping c5)" 200
cmp -s body.txt v2.json || fail "c5 body: $(cat body.txt)"
expect_eq "no new version after restart" "$(metric sluice_commands_versions_total)" 0
expect_eq "no poll failures after restart" "$(metric sluice_commands_poll_failures_total)" 0

# ---- a new set that cannot be stored (another process holds the state's write lock): the
# ETag is not taken, so a later poll fetches the set again and stores it
# hold_lock DB LOG: hold DB's write lock (in the background, pid in LPID) until LOG says a
# store failed (the source's busy timeout is 5 s), then let go at once; returns once held
hold_lock() {
  rm -f locked
  $PY - "$1" "$2" <<'PYEOF' &
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")
open("locked", "w").close()
for _ in range(600):
    if "cannot store the new command set" in open(sys.argv[2]).read(): break
    time.sleep(0.05)
con.execute("ROLLBACK")
PYEOF
  LPID=$!; PIDS+=($LPID)
  for _ in $(seq 100); do [ -e locked ] && break; sleep 0.1; done
}
hold_lock state/commands.db log2.txt
printf '{"commands":[],"v":3}' > served.json
cp served.json v3.json
wait $LPID
grep -q 'cannot store the new command set' log2.txt || fail "store failure not logged: $(cat log2.txt)"
expect_eq "no version while the state is locked" "$(metric sluice_commands_versions_total)" 0
wait_metric sluice_commands_versions_total 1
expect_eq "stored at a later poll, c1" "$(ping c1)" 200
cmp -s body.txt v3.json || fail "c1 body after the retry: $(cat body.txt)"
stop_sluice

# ---- the file input: a changed file is a new version (and --once polls once)
printf '[{"op":"stop"}]' > local.json
FPORT=$(free_port)
cat > f.yaml <<YAML
sources:
  cmds: {type: commands, file: local.json, state: f.db, listen: "127.0.0.1:$FPORT",
         poll_interval: 100ms, max_body: 8MiB}
sinks:
  out: {type: null, inputs: [cmds]}
YAML
$SLUICE run -c f.yaml --no-status 2> logf.txt &
FPID=$!; PIDS+=($FPID)
wait_port $FPORT
expect_eq "file set" "$(curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$FPORT/agent/ping?id=f1")" 200
cmp -s body.txt local.json || fail "file body: $(cat body.txt)"
printf '[{"op":"start"}]' > local.json
for _ in $(seq 50); do [ "$(grep -c 'new command set' logf.txt)" -ge 2 ] && break; sleep 0.1; done
expect_eq "changed file, f1" "$(curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$FPORT/agent/ping?id=f1")" 200
cmp -s body.txt local.json || fail "changed file body: $(cat body.txt)"

# ---- file and url: the file's set could not be stored, the url's (later) was: the url's stays
printf '{"src":"file","n":1}' > both.json
printf '{"src":"url","n":1}' > served.json
BPORT=$(free_port)
cat > b.yaml <<YAML
sources:
  cmds: {type: commands, file: both.json, url: "http://127.0.0.1:$SPORT/commands", state: b.db,
         listen: "127.0.0.1:$BPORT", poll_interval: 200ms}
YAML
$SLUICE run -c b.yaml --no-status 2> logb.txt &
BRUN=$!; PIDS+=($BRUN)
wait_port $BPORT
bping() { curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$BPORT/agent/ping?id=$1"; }
for _ in $(seq 50); do [ "$(grep -c 'new command set' logb.txt)" -ge 2 ] && break; sleep 0.1; done
expect_eq "file and url: first set" "$(bping b1)" 200
expect_eq "file and url: the url's set (polled after the file)" "$(cat body.txt)" '{"src":"url","n":1}'
hold_lock b.db logb.txt # the url's store, in the same poll, then waits for it and succeeds
printf '{"src":"file","n":2}' > both.json
printf '{"src":"url","n":2}' > served.json
wait $LPID
for _ in $(seq 100); do grep -q 'is now replaced by the one from url' logb.txt && break; sleep 0.1; done
grep -q 'file both.json: cannot store the new command set' logb.txt || fail "file store failure: $(cat logb.txt)"
sleep 1.2 # several polls: the file's set must not come back
expect_eq "file and url: after the lock" "$(bping b2)" 200
expect_eq "file and url: the url's later set stays" "$(cat body.txt)" '{"src":"url","n":2}'
kill -TERM $BRUN; wait $BRUN || fail "exit status: $(cat logb.txt)"
ok "a set that could not be stored does not replace a later one"

# ---- a 200 that does not go out (the collector hangs up without reading): undone, sent again
$PY -c 'import json; print(json.dumps({"x": ["%06d" % i * 10 for i in range(60000)]}))' > local.json
for _ in $(seq 100); do [ "$(grep -c 'new command set' logf.txt)" -ge 3 ] && break; sleep 0.1; done
$PY - $FPORT <<'PYEOF'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /agent/ping?id=slow HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.5)
s.close()
PYEOF
for _ in $(seq 50); do grep -q 'did not reach slow' logf.txt && break; sleep 0.1; done
grep -q 'did not reach slow .*goes out again' logf.txt || fail "undo not logged: $(cat logf.txt)"
expect_eq "undone delivery, again" "$(curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$FPORT/agent/ping?id=slow")" 200
cmp -s body.txt local.json || fail "big body differs ($(wc -c < body.txt) bytes)"
expect_eq "undone delivery, then" "$(curl -s -o body.txt -w '%{http_code}' "http://127.0.0.1:$FPORT/agent/ping?id=slow")" 204
kill -TERM $FPID
wait $FPID || fail "file source exit status: $(cat logf.txt)"
kill $SPID; wait $SPID 2>/dev/null || true

# ---- a receiver that never answers: `timeout` fails the poll; SIGTERM does not wait for it
HPORT=$(free_port)
$PY -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(60)' $HPORT &
HPID=$!; PIDS+=($HPID)
wait_port $HPORT
hang_run() { # TIMEOUT LOG
  cat > h.yaml <<YAML
sources:
  cmds: {type: commands, url: "http://127.0.0.1:$HPORT/commands", state: h.db,
         listen: "127.0.0.1:0", poll_interval: 100ms, timeout: $1}
YAML
  $SLUICE run -c h.yaml --no-status 2> "$2" &
  HRUN=$!; PIDS+=($HRUN)
}
hang_run 300ms logh1.txt
for _ in $(seq 50); do grep -q 'Timeout was reached' logh1.txt && break; sleep 0.1; done
grep -q 'Timeout was reached' logh1.txt || fail "poll timeout not logged: $(cat logh1.txt)"
kill -TERM $HRUN; wait $HRUN || fail "exit status: $(cat logh1.txt)"
ok "a poll that takes longer than timeout fails"
hang_run 60s logh2.txt
for _ in $(seq 50); do grep -q 'listening on port' logh2.txt && break; sleep 0.1; done
sleep 0.3 # the poll is under way
T0=$(date +%s%N)
kill -TERM $HRUN; wait $HRUN || fail "exit status: $(cat logh2.txt)"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
[ $MS -lt 3000 ] || fail "stop during a hanging poll took $MS ms"
ok "stop during a hanging poll: $MS ms"
kill $HPID; wait $HPID 2>/dev/null || true
ok "commands source"
