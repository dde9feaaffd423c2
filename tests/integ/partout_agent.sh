#!/usr/bin/env bash
# partout sink (the Partout agent) against a partout source (the master), two sluice processes
# over real HTTP on 127.0.0.1 (docs/partout.md "Agent side"):
#  - conservation: the counts the master emits add up to the events the agent read
#  - level change: the master's thresholds are low (Tobj 300, Tmod 600), so after 700 events
#    it answers level 2; what the agent reads afterwards reaches the master as module counts
#  - master outage: the master stops, the agent reads more, the master comes back: the agent
#    keeps the counts across its failed posts and sums them into the next one; nothing lost
#  - jitter: with period 1 s and splay 0.4 the posts arrive 0.8..1.2 s apart (+ scheduling
#    slack), and not all equally (Partout's agent had period^2 * splay)
#  - max_leaves: a second agent keeps 5 keys; the rest folds into parents, nothing lost
#  - alive notices from an agent that counts nothing
#  - relay: uuid_field gives each event's agent its own tree and post; max_agents bounds them
#  - HTTPS with client certificates (the master's tls_ca, tls_client_cert: required)
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
master_conf() { # $1: output file
  cat <<YAML
sources:
  master: {type: partout, listen: "127.0.0.1:$PORT", keys: keys.txt, window: 1m, per_agent: false,
           period_min: 1s, period_max: 1s, divisor: 1000000, splay: 0.4,
           t_obj: 300, t_mod: 600, t_uuid: 1000000000, t_max: 2000000000}
transforms:
  stamp: {type: eval, inputs: [master], set: {arrived: "DATE_FORMAT('HH:mm:ss.SSS', 'UTC')"}}
sinks:
  out: {type: file, inputs: [stamp], path: $1}
YAML
}
printf "agent-1 secret-1\nagent-2 secret-2\n* fleet-key\n" > keys.txt
master_conf out1.json > m1.yaml
master_conf out2.json > m2.yaml
cat > a.yaml <<YAML
sources:
  in: {type: file, path: in.json, mode: tail, start_at: beginning}
sinks:
  agent: {type: partout, inputs: [in], url: "http://127.0.0.1:$PORT/events", api_key: secret-1,
          uuid: agent-1, hostname: edge-1, os_family: debian, period: 1s, splay: 0.4,
          module_field: mod, object_field: obj, msg_field: text, level_field: sev,
          retry_initial: 100ms, retry_max: 400ms}
YAML
: > in.json

start_master() { # $1: config
  $SLUICE run -c "$1" --no-status 2>> master.log &
  MPID=$!; PIDS+=($MPID)
  wait_port $PORT
}
stop() { kill -TERM "$1"; wait "$1" || true; }

# feed N MODULE: append N events with a few objects and messages
feed() {
  $PY - "$1" "$2" <<'PYEOF'
import json, sys
n, mod = int(sys.argv[1]), sys.argv[2]
with open("in.json", "a") as f:
    for i in range(n):
        f.write(json.dumps({"mod": mod, "obj": "/var/o %d\u00e9" % (i % 3), "text": "msg %d" % (i % 4),
                            "sev": "error" if i % 4 == 0 else "info"}) + "\n")
PYEOF
}

# sum [MODULE]: the counts the master emitted (all, or of one module)
sum() {
  cat out1.json* out2.json* 2>/dev/null | $PY -c '
import json, sys
m = sys.argv[1] if len(sys.argv) > 1 else None
print(sum(e["count"] for e in map(json.loads, sys.stdin) if m is None or e.get("module") == m))' "$@"
}

wait_sum() { # WANT [SECONDS]
  local want=$1 secs=${2:-8} i=0 got
  while got=$(sum); [ "$got" != "$want" ]; do
    i=$((i+1)); [ $i -gt $((secs*10)) ] && fail "master emitted $got counts, want $want"
    sleep 0.1
  done
}

start_master m1.yaml
M1=$MPID
$SLUICE run -c a.yaml --no-status 2> agent.log &
APID=$!; PIDS+=($APID)

# 1. level 4 while Em < Tobj
feed 200 early
wait_sum 200
d=$(cat out1.json* | $PY -c 'import json,sys; print(sorted({e["detail"] for e in map(json.loads, sys.stdin)}))')
expect_eq "detail of the first posts" "$d" "[4]"
e=$(cat out1.json* | $PY -c '
import json,sys
print(sum(e["count"] for e in map(json.loads, sys.stdin) if e.get("level") == "error"))')
expect_eq "error counts (message level)" "$e" "50"
grep -q '"object":"/var/o 0é"' out1.json* || fail "object key not decoded (b64: for non-ASCII)"
ok "non-ASCII object keys travel base64 and come out decoded"

# 2. the level drops: Em reaches 700 >= Tmod
feed 500 middle
wait_sum 700
sleep 1.5 # the post that carried the last of them was answered with level 2
feed 100 late
wait_sum 800
d=$(cat out1.json* | $PY -c '
import json,sys
print(sorted({(e["detail"], "object" in e) for e in map(json.loads, sys.stdin) if e["module"] == "late"}))')
expect_eq "detail after the level change" "$d" "[(2, False)]"
expect_eq "late counts" "$(sum late)" "100"

# 3. master outage: stop it, feed, start it again
stop $M1
feed 300 outage
sleep 2 # the agent's posts fail meanwhile (connection refused, back-off)
feed 50 outage
grep -q "counts kept for the next post" agent.log || fail "the agent did not log the failed posts"
start_master m2.yaml
M2=$MPID
wait_sum 1150
expect_eq "outage counts (out2)" "$(cat out2.json* | $PY -c 'import json,sys; print(sum(e["count"] for e in map(json.loads, sys.stdin)))')" "350"

# 4. jitter: one event every 50 ms for ~7 s; the posts' arrival times at the master
$PY - <<'PYEOF' &
import json, time
for i in range(140):
    with open("in.json", "a") as f:
        f.write(json.dumps({"mod": "jitter", "obj": "o", "text": "t", "sev": "info"}) + "\n")
    time.sleep(0.05)
PYEOF
FEEDER=$!; PIDS+=($FEEDER)
wait $FEEDER
wait_sum 1290
cat out2.json* | $PY -c '
import json, sys
ts = sorted({e["arrived"] for e in map(json.loads, sys.stdin) if e["module"] == "jitter"})
def secs(t):
    h, m, s = t.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
posts = []
for t in map(secs, ts):
    if not posts or t - posts[-1] > 0.3:
        posts.append(t)
gaps = [round(b - a, 3) for a, b in zip(posts, posts[1:])][1:-1]  # the first and last are partial
print("post intervals:", gaps)
assert len(gaps) >= 4, "too few posts"
assert all(0.75 <= g <= 1.3 for g in gaps), "an interval outside 1 s +- 0.2 s (+ slack)"
assert max(gaps) - min(gaps) > 0.02, "no jitter"
' || fail "jitter"
ok "post intervals within period +- splay/2"

# 5. the bound: a second agent keeps at most 5 keys; 40 distinct objects fold into their
#    module's count (logged, counted), the total is kept. It reads its file once and posts
#    at shutdown (finish), with bearer auth.
$PY - <<'PYEOF'
import json
with open("in2.json", "w") as f:
    for i in range(60):
        f.write(json.dumps({"module": "m%d" % (i % 2), "object": "obj-%d" % (i % 40),
                            "msg": "x"}) + "\n")
PYEOF
cat > a2.yaml <<YAML
sources:
  in: {type: file, path: in2.json}
sinks:
  agent: {type: partout, inputs: [in], url: "http://127.0.0.1:$PORT/events", api_key: secret-2,
          auth_header: bearer, uuid: agent-2, max_leaves: 5, period: 1h}
YAML
$SLUICE run -c a2.yaml --no-status 2> agent2.log || fail "agent 2: $(cat agent2.log)"
grep -q "counts folded into the parent" agent2.log || fail "no fold logged: $(cat agent2.log)"
a2=$(cat out2.json* | $PY -c '
import json,sys
print(sum(e["count"] for e in map(json.loads, sys.stdin) if e["agent"] == "agent-2"))')
expect_eq "agent-2 counts with max_leaves 5" "$a2" "60"

# 5b. relay: uuid_field puts each event in the tree of its agent (one post per agent, with its
#     hostname); max_agents 2: a third relayed agent's counts go to the sink's own uuid
$PY - <<'PYEOF'
import json
with open("in4.json", "w") as f:
    for i in range(90):
        f.write(json.dumps({"src": "relay-%d" % (i % 3), "host": "h%d" % (i % 3),
                            "module": "m", "object": "o", "msg": "x"}) + "\n")
PYEOF
cat > a4.yaml <<YAML
sources:
  in: {type: file, path: in4.json}
sinks:
  agent: {type: partout, inputs: [in], url: "http://127.0.0.1:$PORT/events", api_key: fleet-key,
          uuid: relay-self, hostname: relay-host, uuid_field: src, hostname_field: host, max_agents: 2, period: 1h}
YAML
$SLUICE run -c a4.yaml --no-status 2> agent4.log || fail "agent 4: $(cat agent4.log)"
r=$(cat out2.json* | $PY -c '
import json,sys
c = {}
for e in map(json.loads, sys.stdin):
    if e["agent"].startswith("relay"):
        c[(e["agent"], e.get("hostname"))] = c.get((e["agent"], e.get("hostname")), 0) + e["count"]
print(sorted(c.items()))')
expect_eq "relayed agents" "$r" "[(('relay-0', 'h0'), 30), (('relay-1', 'h1'), 30), (('relay-self', 'relay-host'), 30)]"
grep -q "max_agents (2) relayed agents busy" agent4.log || fail "no max_agents log"

# 5c. alive notices: an agent that counts nothing posts {"agent": {"count": 0}} once
#     alive_period passed without an accepted post (here 1 s, until the master answers)
: > in5.json
cat > a5.yaml <<YAML
sources:
  in: {type: file, path: in5.json, mode: tail}
sinks:
  agent: {type: partout, inputs: [in], url: "http://127.0.0.1:$PORT/events", api_key: fleet-key,
          uuid: quiet-1, period: 1s, splay: 0, alive_period: 1s}
YAML
$SLUICE run -c a5.yaml --no-status 2> agent5.log &
A5=$!; PIDS+=($A5)
sleep 2.6
stop $A5
grep -Eq "stopped: [1-9][0-9]* aggregates accepted, 0 counts posted, .*, [1-9][0-9]* alive notices" \
  agent5.log || fail "no alive notice: $(tail -2 agent5.log)"
ok "alive notices"

# 6. shutdown: total conserved, no loss logged
stop $APID
stop $M2
expect_eq "conservation: master counts = agent events" "$(sum)" "$(( $(count_lines in.json) + 60 + 90 ))"
grep -E "counts (dropped|lost)" agent.log agent2.log && fail "an agent logged a loss"
grep -q "stopped: .*, 0 dropped, 0 lost" agent.log || fail "agent summary: $(tail -3 agent.log)"
grep -q 'level=error' master.log && fail "master errors: $(grep level=error master.log)"

# 7. HTTPS: the master asks for client certificates (required); the agent verifies the master
#    with ca_file and shows tls_cert/tls_key (skipped without openssl)
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem \
    2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out srv.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=agent -keyout cli.key -out cli.csr 2>/dev/null
  openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cli.pem \
    2>/dev/null
  cat > tls.yaml <<YAML
sources:
  master: {type: partout, listen: "127.0.0.1:$PORT", tls_cert: srv.pem, tls_key: srv.key,
           tls_ca: ca.pem, tls_client_cert: required}
sinks:
  out: {type: file, inputs: [master], path: tls.json}
YAML
  start_master tls.yaml
  head -25 in2.json > in3.json
  cat > a3.yaml <<YAML
sources:
  in: {type: file, path: in3.json}
sinks:
  agent: {type: partout, inputs: [in], url: "https://127.0.0.1:$PORT/events", uuid: agent-3,
          ca_file: ca.pem, tls_cert: cli.pem, tls_key: cli.key, period: 1h}
YAML
  $SLUICE run -c a3.yaml --no-status 2> agent3.log || fail "agent 3: $(cat agent3.log)"
  stop $MPID
  expect_eq "counts over HTTPS with a client certificate" \
    "$($PY -c 'import json; print(sum(json.loads(l)["count"] for l in open("tls.json")))')" 25
else
  echo "skip: HTTPS (no openssl)"
fi
ok "partout agent"
