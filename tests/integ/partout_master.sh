#!/usr/bin/env bash
# partout source (the Partout master), over real HTTP:
#  - a simulated fleet ramps its load: the aggregate_level / aggregate_period_secs of the
#    answers change exactly at Tobj, Tmod, Tuuid, Tmax (window 1m: Em = the counts posted so far)
#  - the per-agent share (a second master): a quiet agent keeps level 4 while a loud one gets
#    the master's level
#  - conservation: the sum of `count` over the events in the file sink equals the counts posted
#  - a bad body: 400 with the JSON path; an unknown api key: 401; a key of another agent: 403;
#    a body past max_body: 413; legacy POST /event: "received"; base64 keys decoded
#  - HTTPS with a client certificate checked against a CA (skipped without openssl)
source "$(dirname "$0")/lib/common.bash"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

PORT=$(free_port)
PORT2=$(free_port)
cat > keys.txt <<'KEYS'
# agent uuid (or *)   api key
*        fleet-key
agent-x  key-of-x
KEYS
cat > p.yaml <<YAML
sources:
  master: {type: partout, listen: "127.0.0.1:$PORT", keys: keys.txt, window: 1m, per_agent: false,
           max_body: 64KiB}
  share: {type: partout, listen: "127.0.0.1:$PORT2", window: 1m}
sinks:
  out: {type: file, inputs: [master, share], path: out.json}
  dead: {type: file, inputs: [master.errors], path: dead.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
wait_port $PORT2

# The fleet: 10 agents post level-4 aggregates; after each post the answer must carry
# level(Em) and clamp(int(Em/100), 10, 3600) with Em = everything posted so far.
$PY - "$PORT" "$PORT2" <<'PYEOF' || fail "fleet"
import json, sys, urllib.request, urllib.error, random
port, port2 = int(sys.argv[1]), int(sys.argv[2])
random.seed(7)

def post(body, key="fleet-key", path="/events", p=port):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (p, path), data=body.encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    if key:
        req.add_header("X-Api-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def aggregate(uuid, n, nmod=2, nobj=3, nmsg=2):
    """A level-4 body whose leaves add up to n (inner counts summed upward)."""
    leaves = [(m, o, g) for m in range(nmod) for o in range(nobj) for g in range(nmsg)]
    counts = [0] * len(leaves)
    for i in range(n):
        counts[random.randrange(len(leaves))] += 1
    mods = {}
    for (m, o, g), c in zip(leaves, counts):
        if not c:
            continue
        mod = mods.setdefault("mod%d" % m, {"count": 0, "objects": {}})
        obj = mod["objects"].setdefault("/var/obj %d" % o, {"count": 0, "messages": {}})
        obj["messages"]["msg %d" % g] = {"level": "error" if g else "info", "count": c}
        obj["count"] += c
        mod["count"] += c
    return json.dumps({"agent": {"uuid": uuid, "hostname": "h-" + uuid, "arch": "x64",
                                 "platform": "linux", "count": n, "modules": mods},
                       "period_secs": 10})

def expect_level(em):
    return 4 if em < 500 else 3 if em < 2000 else 2 if em < 5000 else 1 if em < 10000 else 0

posted = 0
seen = set()
# steps chosen to land just below and exactly on every threshold
steps = [100, 200, 199, 1, 1499, 1, 2999, 1, 4999, 1, 350000, 10000]
for i, n in enumerate(steps):
    st, body = post(aggregate("agent-%d" % (i % 10), n))
    assert st == 200, (st, body)
    posted += n
    r = json.loads(body)
    want_p = min(max(posted // 100, 10), 3600)
    assert r["aggregate_level"] == expect_level(posted), (posted, r)
    assert r["aggregate_period_secs"] == want_p, (posted, r)
    assert r["aggregate_period_splay"] == 0.05 and r["notify_alive_period_secs"] == 86400, r
    assert r["count"] == n, r
    seen.add(r["aggregate_level"])
assert seen == {4, 3, 2, 1, 0}, seen
print("ok: ramp: levels 4 3 2 1 0 at Em 499/500 1999/2000 4999/5000 9999/10000; period clamps at 3600")

# base64 keys: a b64: prefix, and key_encoding base64 for the whole body
st, body = post(json.dumps({"agent": {"uuid": "agent-b64", "modules": {"fs": {"objects": {
    "b64:L2V0Yy9zaGFkb3c=": {"messages": {"b64:Y2hhbmdlZA": {"level": "info", "count": 3}}}}}}}}))
assert st == 200, (st, body)
st, body = post(json.dumps({"key_encoding": "base64", "agent": {"uuid": "agent-b64", "modules": {
    "fs": {"objects": {"L2V0Yy9ncm91cA==": {"count": 2}}}}}}))
assert st == 200, (st, body)
posted += 5

# legacy /event
st, body = post(json.dumps({"hostname": "old", "agent_uuid": "agent-old", "module": "m",
                            "object": "o", "msg": "legacy"}), path="/event")
assert (st, body) == (200, "received"), (st, body)
posted += 1

# a bad body: 400 with the JSON path
st, body = post(json.dumps({"agent": {"uuid": "agent-1", "modules": {"fs": {"objects": {
    "/etc/passwd": {"messages": {"changed": {"level": "info", "count": -1}}}}}}}}))
assert st == 400, (st, body)
want = "$.agent.modules.fs.objects./etc/passwd.messages.changed.count: expected a non-negative integer"
assert json.loads(body)["error"] == want, body
assert json.loads(body)["aggregate_level"] == 0, body   # 400s carry the master's settings
# inner counts must add up
st, body = post(json.dumps({"agent": {"uuid": "agent-1", "count": 5, "modules": {"fs": {"count": 4}}}}))
assert st == 400 and json.loads(body)["error"].startswith("$.agent.count: 5 does not equal"), body
st, body = post("{not json")
assert st == 400 and json.loads(body)["error"].startswith("$: invalid JSON"), body
print("ok: bad bodies: 400 with the JSON path")

# auth: missing / unknown key 401, another agent's key 403, its own key 200
assert post(aggregate("agent-x", 1), key=None)[0] == 401
assert post(aggregate("agent-x", 1), key="nope")[0] == 401
st, body = post(aggregate("agent-y", 1), key="key-of-x")
assert st == 403, (st, body)
st, body = post(aggregate("agent-x", 4), key="key-of-x")
assert st == 200, (st, body)
posted += 4
# the keys file is re-read when it changes; Authorization: Bearer works as X-Api-Key does
assert post(aggregate("agent-z", 1), key="key-of-z")[0] == 401
with open("keys.txt", "a") as f:
    f.write("agent-z  key-of-z\n")
req = urllib.request.Request("http://127.0.0.1:%d/events" % port, data=aggregate("agent-z", 2).encode(),
                             method="POST", headers={"Authorization": "Bearer key-of-z"})
with urllib.request.urlopen(req, timeout=5) as r:
    assert r.status == 200
posted += 2
print("ok: api keys: 401 missing/unknown, 403 another agent's, 200 its own; keys file re-read; Bearer")

# body past max_body: 413
st, body = post(aggregate("agent-x", 1) + " " * 70000)
assert st == 413, st

# the per-agent share (master 2, window 1m, defaults): one loud agent, nine quiet ones
for i in range(9):
    st, body = post(aggregate("quiet-%d" % i, 20), key=None, p=port2)
    assert st == 200, body
st, body = post(aggregate("loud", 2820), key=None, p=port2)   # Em = 3000, N = 10
assert st == 200, body
loud = json.loads(body)
st, body = post(json.dumps({"agent": {"uuid": "quiet-0", "count": 0}}), key=None, p=port2)
quiet = json.loads(body)
assert loud["aggregate_level"] == 2 and loud["aggregate_period_secs"] == 30, loud
assert quiet["aggregate_level"] == 4 and quiet["aggregate_period_secs"] == 10, quiet
posted += 9 * 20 + 2820
print("ok: per-agent share: Em 3000 -> the loud agent level 2 / 30 s, a quiet one level 4 / 10 s")
# hostile bodies never crash the master: random bytes, truncations, deep nesting, odd numbers
good = aggregate("fuzz", 50).encode()
bodies = [bytes(random.randrange(256) for _ in range(random.randrange(1, 300))) for _ in range(60)]
bodies += [good[:k] for k in range(0, len(good), max(1, len(good) // 40))]
bodies += [b'{"agent":' * 50, b'{"agent":{"uuid":"u","count":1e400}}', b'{"agent":{"uuid":"u","count":-0}}',
           b'{"agent":{"uuid":"u","count":99999999999999999999}}', b'{"agent":{"uuid":"\\ud800","count":1}}',
           b'{"agent":{"uuid":"u","modules":{"m":{"objects":{"b64:====":{"count":1}}}}}}']
codes = {}
for b in bodies:
    req = urllib.request.Request("http://127.0.0.1:%d/events" % port2, data=b, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            st, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, body = e.code, e.read()
    codes[st] = codes.get(st, 0) + 1
    if st == 200:   # "-0" is a valid count of 0
        posted += json.loads(body)["count"]
assert set(codes) <= {200, 400}, codes
assert post(json.dumps({"agent": {"uuid": "after", "count": 1}}), key=None, p=port2)[0] == 200
posted += 1
print("ok: %d hostile bodies answered %s, the master still answers" % (len(bodies), codes))
# concurrent agents (the pool threads share the policy and the keys)
import threading
lock = threading.Lock()
errors = []
retries = [0]
def worker(w):
    global posted
    import time
    for i in range(25):
        body_out = aggregate("conc-%d" % w, 7 + i)
        for attempt in range(200):   # as an agent does: on 429 keep the counts, retry
            st, body = post(body_out, key=None, p=port2)
            if st != 429:
                break
            with lock:
                retries[0] += 1
            time.sleep(0.02)
        with lock:
            if st != 200:
                errors.append((st, body))
            else:
                posted += json.loads(body)["count"]
ts = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in ts: t.start()
for t in ts: t.join()
assert not errors, errors[:3]
print("ok: 8 agents x 25 posts at once (%d retries after 429: nothing taken)" % retries[0])
open("posted.txt", "w").write(str(posted))
PYEOF

kill -TERM $PID
wait $PID || fail "exit status"
SUM=$($PY -c 'import json,sys; print(sum(json.loads(l)["count"] for l in open("out.json")))')
expect_eq "conservation: sum of counts emitted" "$SUM" "$(cat posted.txt)"
grep -q '"object":"/etc/shadow","msg":"changed"' out.json || fail "b64 keys not decoded"
grep -q '"object":"/etc/group"' out.json || fail "key_encoding base64 not decoded"
grep -q '"msg":"legacy"' out.json || fail "legacy event missing"
$PY -c '
import json
for l in open("out.json"):
    e = json.loads(l)
    names = ["agent", "module", "object", "msg"][:e["detail"]]
    assert set(names) | {"count", "period"} <= set(e), e
' || fail "event fields"
expect_eq "dead letters (bad bodies)" "$(count_lines dead.json)" 3
grep -q 'stopped: .* 3 bad' log.txt || fail "bad requests not counted: $(grep stopped log.txt)"

# ---- HTTPS with client certificates checked against a CA
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem \
    2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out srv.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=agent -keyout cli.key -out cli.csr 2>/dev/null
  openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cli.pem \
    2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue -keyout rogue.key \
    -out rogue.pem 2>/dev/null
  PORT3=$(free_port)
  cat > tls.yaml <<YAML
sources:
  master: {type: partout, listen: "127.0.0.1:$PORT3", tls_cert: srv.pem, tls_key: srv.key,
           tls_ca: ca.pem, tls_client_cert: required}
sinks:
  out: {type: file, inputs: [master], path: tls.json}
YAML
  $SLUICE run -c tls.yaml --no-status 2> tls.log &
  PID=$!; PIDS+=($PID)
  wait_port $PORT3
  BODY='{"agent":{"uuid":"tls-agent","count":7}}'
  st=$(curl -s -o r.txt -w '%{http_code}' --cacert ca.pem --cert cli.pem --key cli.key \
       -X POST --data "$BODY" "https://127.0.0.1:$PORT3/events")
  expect_eq "https with a client certificate" "$st" 200
  grep -q '"aggregate_level":4' r.txt || fail "tls answer: $(cat r.txt)"
  st=$(curl -s -o r.txt -w '%{http_code}' --cacert ca.pem -X POST --data "$BODY" \
       "https://127.0.0.1:$PORT3/events" || true)
  expect_eq "https without a client certificate" "$st" 403
  st=$(curl -s -o r.txt -w '%{http_code}' --cacert ca.pem --cert rogue.pem --key rogue.key \
       -X POST --data "$BODY" "https://127.0.0.1:$PORT3/events" || true)
  [ "$st" = 403 ] || [ "$st" = 000 ] || fail "untrusted client certificate: $st"
  ok "untrusted client certificate refused ($st)"
  kill -TERM $PID
  wait $PID || fail "tls exit status"
  expect_eq "tls events" "$(cat tls.json | $PY -c 'import json,sys; print(sum(json.loads(l)["count"] for l in sys.stdin))')" 7
else
  echo "note: no openssl, HTTPS part skipped"
fi
echo "PASS"
