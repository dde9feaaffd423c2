#!/usr/bin/env bash
# zmq source: python3-zmq CurveZMQ clients against a sluice zmq source (the seed's example
# key pair), file sinks for events and dead letters:
#   - 'localhost' refused, a public key that does not match the secret key refused;
#   - valid client key: messages arrive; malformed ones land in .errors (raw base64 + reason);
#   - wrong server key, no encryption: nothing arrives, the rejection is logged;
#   - allow-list: an allowed key gets in, another key is rejected and logged;
#   - shutdown via the REP socket: reply "ok" after the flush, exit 0, nothing lost.
# Parts that need the real network-event codec (src/codec/netevent.c, another branch) run only
# when it is present: `sluice send` → events in out.json, flatc-made messages. Without it every
# message is a dead letter, which the counts below account for.
source "$(dirname "$0")/lib/common.bash"

HAVE_CODEC=0
[ -f "$SL_SRC/src/codec/netevent.c" ] && HAVE_CODEC=1
[ $HAVE_CODEC = 1 ] || echo "note: src/codec/netevent.c absent: skipping the parts that need real FlatBuffers"

SEED_SECRET=693F66214F327A76785550413A5E253C3E6D70657A217B4155407A666A305876477B68495A2F5D36
SEED_PUBLIC=5A5832576F434D2D57367D667148464865326E3C4B74586B733C574C7A624E6355642D5239282E72
SEED_PUBLIC_Z85='ZX2WoCM-W6}fqHFHe2n<KtXks<WLzbNcUd-R9(.r'

# two client key pairs: A is on the allow-list, B is not
read -r A_PUB A_SEC B_PUB B_SEC < <($PY -c '
import zmq
a = zmq.curve_keypair(); b = zmq.curve_keypair()
print(a[0].decode(), a[1].decode(), b[0].decode(), b[1].decode())')
A_PUB_HEXZ85=$($PY -c "import sys; print(sys.argv[1].encode().hex().upper())" "$A_PUB")

# ---- configuration errors
cat > bad1.yaml <<YAML
sources:
  z: {type: zmq, host: localhost, port: 0, shutdown_port: -1, secret_key: $SEED_SECRET}
sinks:
  out: {type: file, inputs: [z], path: out.json}
YAML
set +e
$SLUICE check -c bad1.yaml 2> err1.txt; rc=$?
set -e
expect_eq "localhost refused (exit)" "$rc" 2
grep -q "localhost' isn't acceptable" err1.txt || fail "localhost message: $(cat err1.txt)"
cat > bad2.yaml <<YAML
sources:
  z: {type: zmq, host: 127.0.0.1, port: 0, shutdown_port: -1, secret_key: $SEED_SECRET,
      public_key: "$B_PUB"}
sinks:
  out: {type: file, inputs: [z], path: out.json}
YAML
set +e
$SLUICE check -c bad2.yaml 2> err2.txt; rc=$?
set -e
expect_eq "mismatched public key (exit)" "$rc" 2
grep -q "does not belong to secret_key" err2.txt || fail "key mismatch message: $(cat err2.txt)"

# ---- the pipeline: z (seed keys, any client), za (allow-list: A only)
PORT=$(free_port)
APORT=$(free_port)
SPORT=$(free_port)
cat > p.yaml <<YAML
sources:
  z:
    type: zmq
    host: 127.0.0.1
    port: $PORT
    shutdown_port: $SPORT
    secret_key: $SEED_SECRET
    public_key: $SEED_PUBLIC
  za:
    type: zmq
    host: 127.0.0.1
    port: $APORT
    shutdown_port: -1
    secret_key: $SEED_SECRET
    allow_keys: [$A_PUB_HEXZ85]
sinks:
  out: {type: file, inputs: [z, za], path: out.json}
  dead: {type: file, inputs: [z.errors, za.errors], path: dead.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
for _ in $(seq 100); do grep -q "listening on port $APORT" log.txt && break; sleep 0.1; done
grep -q "listening on port $PORT" log.txt || fail "zmq source did not start: $(cat log.txt)"

# client.py PORT SERVERKEY|none COUNT KIND [PUB SEC]: push COUNT messages of KIND
#   bad: malformed bytes (distinct per message), file:PATH: the bytes of PATH each time
cat > client.py <<'PYEOF'
import sys, time, zmq
port, server, count, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
if server != "none":
    if len(sys.argv) > 6:
        pub, sec = sys.argv[5].encode(), sys.argv[6].encode()
    else:
        pub, sec = zmq.curve_keypair()
    s.curve_secretkey, s.curve_publickey, s.curve_serverkey = sec, pub, server.encode()
s.connect("tcp://127.0.0.1:%s" % port)
data = open(kind[5:], "rb").read() if kind.startswith("file:") else None
for i in range(count):
    s.send(data if data is not None else b"\xff\xfe not a flatbuffer %d" % i)
s.close(linger=3000)   # until everything is handed to TCP, or 3 s for a refused client
ctx.term()
PYEOF

# the file sink writes FILE.tmp until it finishes (shutdown): count that while running
wait_for_lines() { # FILE N: until FILE.tmp has N lines (10 s)
  for _ in $(seq 100); do [ "$(count_lines "$1.tmp")" -ge "$2" ] && return 0; sleep 0.1; done
  fail "$1: $(count_lines "$1.tmp") lines, want $2; log: $(cat log.txt)"
}

# valid key (the seed's public key as Z85), malformed messages -> .errors
$PY client.py $PORT "$SEED_PUBLIC_Z85" 50 bad
wait_for_lines dead.json 50
expect_eq "malformed messages in .errors" "$(count_lines dead.json.tmp)" 50
$PY - <<'PYEOF' || fail "dead letters: $(head -2 dead.json.tmp)"
import base64, json
rows = [json.loads(l) for l in open("dead.json.tmp")]
raws = sorted(base64.b64decode(r["raw"]) for r in rows)
want = sorted(b"\xff\xfe not a flatbuffer %d" % i for i in range(50))
assert raws == want, (raws[:2], want[:2])
assert all(r["error"] and r["component"] == "z" and r["where"] == "127.0.0.1" for r in rows), rows[0]
PYEOF
ok "dead letters keep the raw bytes (base64), the reason and the peer"

# wrong server key: nothing arrives, the rejection is logged
WRONG=$($PY -c 'import zmq; print(zmq.curve_keypair()[0].decode())')
$PY client.py $PORT "$WRONG" 20 bad
# no encryption against a Curve server (a second later: rejections are logged rate-limited)
sleep 1.1
$PY client.py $PORT none 20 bad
# allow-list: B rejected, A accepted
$PY client.py $APORT "$SEED_PUBLIC_Z85" 20 bad "$B_PUB" "$B_SEC"
$PY client.py $APORT "$SEED_PUBLIC_Z85" 7 bad "$A_PUB" "$A_SEC"
wait_for_lines dead.json 57
sleep 0.5
expect_eq "only the accepted clients' messages" "$(count_lines dead.json.tmp out.json.tmp)" 57
grep -q 'comp=z .*client rejected: cryptographic error' log.txt || fail "wrong key not logged"
grep -q 'comp=z .*client rejected: .*\(mechanism mismatch\|without CURVE\)' log.txt ||
  fail "plain client not logged: $(grep rejected log.txt)"
grep -F "comp=za" log.txt | grep -qF "rejected: key $B_PUB is not in allow_keys" ||
  fail "allow-list rejection not logged: $(grep za log.txt)"
ok "wrong key, no encryption and allow-list rejections are logged"
expect_eq "allowed client's messages" "$(grep -c '"component":"za"' dead.json.tmp)" 7

SENT=57
if [ $HAVE_CODEC = 1 ]; then
  # real network events: `sluice send` (batches of size-prefixed buffers, then bare ones)
  $PY - <<'PYEOF'
import json
with open("events.json", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"type": "GENERAL", "ts": 1700000000.0 + i, "uid": "C%06d" % i,
                            "origIp": "10.0.0.%d" % (i % 250 + 1), "origPort": 1024 + i,
                            "respIp": "192.168.1.1", "respPort": 443, "proto": "tcp"}) + "\n")
PYEOF
  $SLUICE send --server-key $SEED_PUBLIC --port $PORT --batch 64 --quiet events.json > send1.txt
  grep -q "sent 3000 events" send1.txt || fail "send: $(cat send1.txt)"
  $SLUICE send --server-key "$SEED_PUBLIC_Z85" --port $PORT --batch 1 --count 500 --quiet \
    events.json > send2.txt
  grep -q "sent 500 events in 500 messages" send2.txt || fail "send --batch 1: $(cat send2.txt)"
  wait_for_lines out.json 3500
  grep -q '"uid":"C000042"' out.json.tmp || fail "event fields: $(head -1 out.json.tmp)"
  grep -q '"type":"GENERAL"' out.json.tmp || fail "type field: $(head -1 out.json.tmp)"
  ok "sluice send: 3500 events through CurveZMQ"
  SENT=$((SENT + 3500))
  # flatc-made (JSON → binary by Debian's flatc) and python-made (python3-flatbuffers with
  # flatc --python code) messages, one plain buffer and a size-prefixed run
  cat > flatc_http.json <<'JSON'
{ ts: 1588206738095510000, uid: "CfLatC1", collectorId: "col-7", origIp: "10.0.1.4",
  origPort: 60757, respIp: "192.168.0.4", respPort: 80, proto: "tcp",
  http: { transDepth: 1, method: "OPTIONS", host: "dav.example", userAgent: "DavClnt \u00e9",
          statusCode: 403, respMimeTypes: ["text/html"] } }
JSON
  flatc --no-warnings -b -o . "$SL_SRC/schemas/netevent.fbs" flatc_http.json
  flatc --no-warnings --python -o gen "$SL_SRC/schemas/netevent.fbs"
  $PY client.py $PORT "$SEED_PUBLIC_Z85" 1 "file:flatc_http.bin"
  $PY "$SL_SRC/tests/integ/lib/collector.py" gen $PORT "$SEED_PUBLIC_Z85" 10 --start 900000 \
    > py1.txt
  $PY "$SL_SRC/tests/integ/lib/collector.py" gen $PORT "$SEED_PUBLIC_Z85" 25 --start 910000 \
    --batch 8 > py2.txt
  SENT=$((SENT + 36))
  wait_for_lines out.json $((SENT - 57))
  $PY - <<'PYEOF' || fail "flatc/python-made events: $(grep -e CfLatC1 -e C0090 out.json.tmp | head -3)"
import json
evs = {e["uid"]: e for e in map(json.loads, open("out.json.tmp")) if "uid" in e}
f = evs["CfLatC1"]
assert f["type"] == "HTTP" and f["method"] == "OPTIONS" and f["statusCode"] == 403, f
assert f["userAgent"] == "DavClnt \u00e9" and f["respMimeTypes"] == ["text/html"], f
assert f["collectorId"] == "col-7" and f["ts"] == "2020-04-30T00:32:18.095510000Z", f
py = [evs["C%08d" % i] for i in list(range(900000, 900010)) + list(range(910000, 910025))]
for e in py:
    i = int(e["uid"][1:])
    assert e["type"] == "GENERAL" and e["origBytes"] == 100 + i and e["connState"] == "SF", e
    assert e["localOrig"] == (i % 2 == 0) and e["respPort"] == 443 and e["proto"] == "tcp", e
PYEOF
  ok "flatc-made and python-made (flatc --python) messages decoded, every field"
else
  echo "SKIP (needs the netevent codec): sluice send -> events, flatc-made messages"
fi

# ---- shutdown via the REP socket: a burst, then "shutdown"; nothing lost, exit 0
if [ $HAVE_CODEC = 1 ]; then
  $SLUICE send --server-key $SEED_PUBLIC --port $PORT --count 20000 --loop --quiet events.json \
    > send3.txt
  grep -q "sent 20000 events" send3.txt || fail "send: $(cat send3.txt)"
  SENT=$((SENT + 20000))
else
  $PY client.py $PORT "$SEED_PUBLIC_Z85" 5000 bad
  SENT=$((SENT + 5000))
fi
REPLY=$($PY -c "
import zmq
s = zmq.Context().socket(zmq.REQ); s.rcvtimeo = 30000; s.linger = 0
s.connect('tcp://127.0.0.1:$SPORT'); s.send(b'shutdown'); print(s.recv().decode())")
expect_eq "shutdown reply" "$REPLY" ok
set +e
wait $PID; rc=$?
set -e
PIDS=()
expect_eq "exit status after shutdown" "$rc" 0
expect_eq "sent = written (events + dead letters)" "$(count_lines out.json dead.json)" "$SENT"
grep -q "shutdown complete: reply sent" log.txt || fail "no shutdown line: $(tail -5 log.txt)"
echo "PASS"
