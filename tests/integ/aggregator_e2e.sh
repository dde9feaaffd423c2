#!/usr/bin/env bash
# The whole on-premise aggregator path on loopback, with real peers on every side:
#   python3-zmq collectors (python3-flatbuffers messages, the seed's key pair) and `sluice send`
#   → `sluice aggregator` (CurveZMQ, dns against dnsmasq, Parquet per type, uploads, command
#   polling, /agent/ping, Prometheus pushes) → `sluice receiver` (key file, Parquet check,
#   storage) and prometheus-pushgateway.
# Checks: every event is in the stored Parquet files (read back with DuckDB) with origH/respH
# filled from dnsmasq's PTR records (and empty for an address without a name); the stored
# layout {root}/{type}/{yyyy-mm-dd}/{aggregator-id}-{time}.parquet; the description is
# remembered; collectors polling /agent/ping get each command set exactly once; the push
# gateway holds the aggregator's metrics under job="aggregator", instance=<uniqueId>.
# Faults: the receiver down for 30 s, then up (every file arrives, none twice); SIGKILL with
# files in the spool, then a restart (they are uploaded); a wrong api key (401, nothing stored,
# the files stay spooled).
source "$(dirname "$0")/lib/common.bash"
DNSMASQ=/usr/sbin/dnsmasq
PGW=/usr/bin/prometheus-pushgateway
for x in $DNSMASQ $PGW; do [ -x $x ] || { echo "SKIP: no $x"; exit 0; }; done
command -v flatc >/dev/null || { echo "SKIP: no flatc"; exit 0; }
bash "$SL_SRC/scripts/node-deps.sh"

SEED_SECRET=693F66214F327A76785550413A5E253C3E6D70657A217B4155407A666A305876477B68495A2F5D36
SEED_PUBLIC=5A5832576F434D2D57367D667148464865326E3C4B74586B733C574C7A624E6355642D5239282E72
SEED_PUBLIC_Z85='ZX2WoCM-W6}fqHFHe2n<KtXks<WLzbNcUd-R9(.r'
flatc --no-warnings --python -o gen "$SL_SRC/schemas/netevent.fbs"
COLLECT="$PY $SL_SRC/tests/integ/lib/collector.py gen"

# ---- dnsmasq: PTR records for 10.1.0.1-4; 10.9.0.1 has none
printf '%s\n' "10.1.0.1 alpha.test" "10.1.0.2 beta.test" "10.1.0.3 gamma.test" \
  "10.1.0.4 web.test" > hosts
UDP=$($PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$DNSMASQ --no-daemon --no-resolv --no-hosts --addn-hosts="$T/hosts" --port="$UDP" \
  --listen-address=127.0.0.1 --bind-interfaces --bogus-priv --log-facility=- \
  --pid-file= --user="$(id -un)" 2>dnsmasq.log &
PIDS+=($!)
for _ in $(seq 50); do grep -q "read $T/hosts" dnsmasq.log 2>/dev/null && break; sleep 0.1; done

# ---- the push gateway
GPORT=$(free_port)
$PGW --web.listen-address=127.0.0.1:$GPORT --persistence.file= > pgw.log 2>&1 &
PIDS+=($!)
wait_port $GPORT

# ---- the receiver
RPORT=$(free_port)
echo "good-key" > keys.txt
echo '{"version": 1, "commands": [{"collector": "*", "action": "set-interval", "seconds": 30}]}' \
  > commands.json
start_receiver() {
  $SLUICE receiver --listen 127.0.0.1:$RPORT --root store --keys keys.txt \
    --commands commands.json 2>> receiver.log &
  RPID=$!
  PIDS+=($RPID)
  wait_port $RPORT
}
start_receiver

# ---- the aggregator
ZPORT=$(free_port); SPORT=$(free_port); PPORT=$(free_port); APORT=$(free_port)
start_aggregator() { # [extra flags...]
  $SLUICE aggregator --host 127.0.0.1 -p $ZPORT -s $SPORT -b 1 --dns 127.0.0.1:$UDP \
    -r http://127.0.0.1:$RPORT/s3 -o http://127.0.0.1:$RPORT/commands -i 1 -a good-key \
    -q agg-1 -e "loopback test aggregator" -t $SEED_SECRET -c $SEED_PUBLIC \
    -g 127.0.0.1:$GPORT --spool spool --ping-listen 127.0.0.1:$PPORT \
    --api-listen 127.0.0.1:$APORT "$@" 2>> agg.log &
  APID=$!
  PIDS+=($APID)
  wait_port $ZPORT
  wait_port $PPORT
}
shutdown_aggregator() {
  $PY - $SPORT > shut.txt <<'PYEOF'
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
s.send(b"shutdown")
assert s.poll(60000), "no shutdown reply"
print(s.recv().decode())
PYEOF
  wait $APID || fail "aggregator exit status: $(tail -20 agg.log)"
  expect_eq "shutdown reply" "$(cat shut.txt)" ok
}
stored_rows() { # COLS: every stored row as JSON lines
  node "$SL_SRC/tests/node/dump_rows.mjs" store "$1"
}
start_aggregator

# ---- collectors: two python ones with the seed's server key, and sluice send
$COLLECT $ZPORT "$SEED_PUBLIC_Z85" 3000 --start 0 --batch 50 > c1.txt &
C1=$!
$COLLECT $ZPORT "$SEED_PUBLIC_Z85" 2000 --start 100000 > c2.txt &
C2=$!
$PY - <<'PYEOF'
import json
with open("http.json", "w") as f:
    for i in range(500):
        f.write(json.dumps({"type": "HTTP", "ts": 1700000000.0 + i, "uid": "H%06d" % i,
                            "origIp": "10.1.0.3", "origPort": 40000 + i, "respIp": "10.1.0.4",
                            "respPort": 80, "proto": "tcp", "method": "GET",
                            "host": "web.test", "statusCode": 200}) + "\n")
PYEOF
$SLUICE send --server-key $SEED_PUBLIC --port $ZPORT --quiet http.json > send.txt
wait $C1 $C2
grep -q "sent 500 events" send.txt || fail "send: $(cat send.txt)"

# ---- /agent/ping: each collector gets the set once, then 204
ping() { curl -s -o ping.out -w '%{http_code}' "http://127.0.0.1:$PPORT/agent/ping?id=$1"; }
for _ in $(seq 50); do [ "$(ping probe)" = 200 ] && break; sleep 0.2; done
for c in col-a col-b col-c; do
  expect_eq "first ping of $c" "$(ping $c)" 200
  grep -q '"set-interval"' ping.out || fail "ping body: $(cat ping.out)"
  expect_eq "second ping of $c" "$(ping $c)" 204
done
expect_eq "malformed id" "$(ping 'bad%20id')" 400
echo '{"version": 2, "commands": [{"collector": "*", "action": "upgrade"}]}' > commands.json
for _ in $(seq 50); do [ "$(ping probe)" = 200 ] && break; sleep 0.2; done
for c in col-a col-b col-c; do
  expect_eq "new set for $c" "$(ping $c)" 200
  grep -q '"upgrade"' ping.out || fail "new set body: $(cat ping.out)"
  expect_eq "new set once for $c" "$(ping $c)" 204
done

# ---- Prometheus push gateway
for _ in $(seq 50); do
  curl -s "http://127.0.0.1:$GPORT/metrics" > pgw.txt
  grep -q '^parquet_data{.*instance="agg-1".*job="aggregator"' pgw.txt && break
  sleep 0.2
done
grep -q '^parquet_data{.*instance="agg-1".*job="aggregator".*} [1-9]' pgw.txt ||
  fail "push gateway: $(grep -e parquet_data -e zmq pgw.txt | head)"
grep -q '^zmq{.*instance="agg-1"' pgw.txt || fail "zmq metric missing: $(grep zmq pgw.txt | head -3)"
ok "metrics pushed with job=aggregator, instance=agg-1"

shutdown_aggregator
# the last push comes after the receiver sink's drain: nothing left in the spool, no upload
curl -s "http://127.0.0.1:$GPORT/metrics" > pgw.txt
expect_eq "final push: spool_bytes" "$(grep -E '^spool_bytes\{.*instance="agg-1"' pgw.txt | awk '{print $2}')" 0
expect_eq "final push: uploads" "$(grep -E '^uploads\{.*instance="agg-1"' pgw.txt | awk '{print $2}')" 0

# ---- what the receiver stored
stored_rows type,uid,origIp,origH,respIp,respH > rows.json
$PY - <<'PYEOF' || fail "stored rows: $(head -3 rows.json)"
import collections, json, re
rows = [json.loads(l) for l in open("rows.json")]
names = {"10.1.0.1": "alpha.test", "10.1.0.2": "beta.test", "10.1.0.3": "gamma.test",
         "10.1.0.4": "web.test"}
uids = collections.Counter(r["uid"] for r in rows)
want = {"C%08d" % i for i in list(range(3000)) + list(range(100000, 102000))}
want |= {"H%06d" % i for i in range(500)}
assert set(uids) == want, (len(uids), len(want), sorted(want - set(uids))[:5])
assert max(uids.values()) == 1, [u for u, n in uids.items() if n > 1][:5]
for r in rows:
    assert re.fullmatch(r"(GENERAL|HTTP)/\d{4}-\d\d-\d\d/agg-1-\d+(-\d+)?\.parquet", r["_file"]), r
    assert r["_file"].startswith(r["type"] + "/"), r
    assert r["origH"] == names[r["origIp"]], r
    assert r["respH"] == names.get(r["respIp"]) or (r["respIp"] == "10.9.0.1" and not r["respH"]), r
print("rows", len(rows))
PYEOF
ok "every event stored once, by type, with origH/respH from dnsmasq"
grep -q '"loopback test aggregator"' store/aggregators.json || fail "description: $(cat store/aggregators.json)"
expect_eq "uploads carrying the description" "$(grep -c 'stored path=.*description=yes' receiver.log)" 1
[ "$(grep -c 'stored path=.*description=no' receiver.log)" -ge 1 ] || fail "later uploads: $(grep stored receiver.log | head -3)"
grep -m1 'stored path=' receiver.log | grep -q 'description=yes' || fail "description not on the first upload"
ok "description sent once, on the first upload, and remembered"

# ---- fault: the receiver down at start, then up: every file arrives, none twice
kill $RPID; wait $RPID 2>/dev/null || true
rm -rf store
start_aggregator
$COLLECT $ZPORT "$SEED_PUBLIC_Z85" 1000 --start 200000 --batch 20 > c3.txt
sleep 30 # the issue's 30 s outage: files wait in the spool, uploads fail and back off
[ -n "$(find spool -name '*.parquet' -not -name '.*' | head -1)" ] || fail "nothing spooled: $(ls -R spool)"
start_receiver
for _ in $(seq 450); do # the back-off after 30 s of failures is up to a minute (full jitter)
  [ -z "$(find spool -name '*.parquet' -not -name '.*' -not -path '*/uploaded/*' | head -1)" ] && break
  sleep 0.2
done
shutdown_aggregator
stored_rows uid > rows2.json
$PY - <<'PYEOF' || fail "after the receiver came back: $(wc -l < rows2.json) rows"
import collections, json
uids = collections.Counter(json.loads(l)["uid"] for l in open("rows2.json"))
assert set(uids) == {"C%08d" % i for i in range(200000, 201000)}, len(uids)
assert max(uids.values()) == 1
PYEOF
ok "receiver down then up: every file arrived once"

# ---- fault: SIGKILL with files in the spool; a restart uploads them
kill $RPID; wait $RPID 2>/dev/null || true
rm -rf store
start_aggregator
$COLLECT $ZPORT "$SEED_PUBLIC_Z85" 800 --start 300000 --batch 20 > c4.txt
sleep 3 # the files are finished (batchTime 1) and wait in the spool
spooled=$(find spool -name '*.parquet' -not -name '.*' -not -path '*/uploaded/*' | wc -l)
[ "$spooled" -ge 1 ] || fail "nothing spooled before the kill"
kill -9 $APID; wait $APID 2>/dev/null || true
start_receiver
start_aggregator
for _ in $(seq 150); do
  [ -z "$(find spool -name '*.parquet' -not -name '.*' -not -path '*/uploaded/*' | head -1)" ] && break
  sleep 0.2
done
shutdown_aggregator
stored_rows uid > rows3.json
$PY - <<'PYEOF' || fail "after SIGKILL and restart: $(wc -l < rows3.json) rows"
import collections, json
uids = collections.Counter(json.loads(l)["uid"] for l in open("rows3.json"))
assert set(uids) == {"C%08d" % i for i in range(300000, 300800)}, len(uids)
assert max(uids.values()) == 1
PYEOF
ok "SIGKILL: the spooled files were uploaded after the restart ($spooled files)"

# ---- fault: a wrong api key: 401, nothing stored, the files stay in the spool
rm -rf store spool
start_aggregator -a wrong-key
$COLLECT $ZPORT "$SEED_PUBLIC_Z85" 100 --start 400000 > c5.txt
sleep 3
kill -TERM $APID
wait $APID || true
[ -z "$(find store -name '*.parquet' 2>/dev/null | head -1)" ] || fail "stored with a wrong key"
grep -q "401" agg.log || fail "401 not logged by the aggregator: $(tail -5 agg.log)"
[ -n "$(find spool -name '*.parquet' -not -name '.*' | head -1)" ] || fail "files not kept in the spool"
ok "wrong api key: 401, nothing stored, files kept"
