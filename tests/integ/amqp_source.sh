#!/usr/bin/env bash
# amqp source against a real RabbitMQ (a private node on loopback ports, management plugin on):
#   - the seed's procstart message, published through the management API exactly as the seed's
#     curl example shapes it, into the seed's test_queue (created the seed's way): one event
#     with the seed's fields, backslashes decoded as JSON says, @amqp.* metadata;
#   - 2,000 messages published with pika + one message of three JSON lines + 3 malformed
#     bodies: exactly 2,003 events, 3 dead letters (raw body kept), nothing left in the queue;
#   - max_redeliveries: a queue whose sink always fails (an amqp sink aimed at a closed port,
#     retry_for 200ms): each message is requeued, then dead-lettered once, and acked;
#   - a broker restart while a publisher streams 6,000 messages: every id arrives at least
#     once, the queue ends empty.
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/rabbitmq.bash"
TOOL="$PY $SL_SRC/tests/integ/lib/amqp_tool.py"

# configuration errors first (no broker needed)
cat > bad.yaml <<YAML
sources:
  a: {type: amqp, url: "http://x", queue: q}
sinks:
  out: {type: file, inputs: [a], path: out.json}
YAML
set +e
$SLUICE check -c bad.yaml 2> bad.txt; rc=$?
set -e
expect_eq "bad url refused (exit)" "$rc" 2
grep -q "url" bad.txt || fail "bad url message: $(cat bad.txt)"

rmq_start mgmt
MGMT="http://127.0.0.1:$RMQ_MGMT_PORT"

# the seed's queue, created the seed's way
curl -sf --user guest:guest -X PUT -H 'content-type: application/json' --data-binary '{"vhost":"/","name":"test_queue","durable":"true","auto_delete":"false","arguments":{"x-queue-type":"classic"}}' "$MGMT/api/queues/%2F/test_queue" \
  || fail "cannot create test_queue"
for q in bulk pz; do $TOOL declare "$RMQ_URL" $q; done

DEAD_PORT=$(free_port)
cat > p.yaml <<YAML
sources:
  seed:
    type: amqp
    url: "$RMQ_URL"
    queue: test_queue
    declare: true
    metadata: true
  bulk:
    type: amqp
    url: "amqp://guest:guest@127.0.0.1:$RMQ_PORT/%2F"
    queue: bulk
    prefetch: 500
    reconnect_min: 50ms
    reconnect_max: 500ms
  pz:
    type: amqp
    url: "$RMQ_URL"
    queue: pz
    max_redeliveries: 3
sinks:
  seed_out: {type: file, inputs: [seed], path: seed.json}
  bulk_out: {type: file, inputs: [bulk], path: bulk.json}
  bulk_err: {type: file, inputs: [bulk.errors], path: bulk_err.json}
  nowhere:
    type: amqp
    inputs: [pz]
    url: "amqp://guest:guest@127.0.0.1:$DEAD_PORT/%2F"
    routing_key: x
    retry_for: 200ms
    reconnect_min: 50ms
    reconnect_max: 400ms   # 9 failed deliveries must fit the 40 s wait below on a loaded machine
  pz_err: {type: file, inputs: [pz.errors], path: pz_err.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 100); do [ "$(grep -c "consuming queue" log.txt 2> /dev/null)" = 3 ] && break; sleep 0.1; done
[ "$(grep -c "consuming queue" log.txt)" = 3 ] || { cat log.txt; fail "sources did not connect"; }
ok "three sources consuming"

# wait_lines FILE N [SECS]: until FILE has at least N lines
wait_lines() {
  local i=0
  while [ "$(count_lines "$1")" -lt "$2" ]; do
    i=$((i+1)); [ $i -gt $((${3:-30}*10)) ] && { tail -20 log.txt; fail "$1: $(count_lines "$1") lines, want $2"; }
    sleep 0.1
  done
}

# ---- the seed's procstart message, through the management API as the seed publishes it
echo '{"vhost":"/","name":"amq.default","properties":{"delivery_mode":1,"headers":{}},"routing_key":"test_queue","delivery_mode":"1","payload":"{ \"publish_timestamp\": \"'$(date +%s)'\",\"cb_server\": \"cbserver\", \"command_line\": \"Global\\\\\\\\UsGthrFltPipeMssGthrPipe253\", \"computer_name\": \"JASON-WIN81-VM\", \"event_type\": \"proc\", \"expect_followon_w_md5\": false, \"md5\": \"D6021013D7C4E248AEB8BED12D3DCC88\", \"parent_create_time\": 1447440685, \"parent_md5\": \"79227C1E2225DE455F365B607A6D46FB\", \"parent_path\": \"c:\\\\\\\\windows\\\\\\\\system32\\\\\\\\searchindexer.exe\", \"parent_process_guid\": \"00000001-0000-0af4-01d1-1e444bf4c3dd\", \"path\": \"c:\\\\\\\\windows\\\\\\\\system32\\\\\\\\searchprotocolhost.exe\", \"pid\": 1972, \"process_guid\": \"00000001-0000-07b4-01d1-209a100bc217\", \"sensor_id\": 1, \"timestamp\": 1447697423, \"type\": \"ingress.event.procstart\", \"username\": \"SYSTEM\"}","headers":{},"props":{},"payload_encoding":"string"}' > seed_body.json
curl -sf --user guest:guest -X POST -H 'content-type: application/json' --data-binary @seed_body.json "$MGMT/api/exchanges/%2F/amq.default/publish" > pub.txt
grep -q '"routed":true' pub.txt || fail "seed message not routed: $(cat pub.txt)"
wait_lines seed.json.tmp 1
$PY - seed_body.json seed.json.tmp <<'PYEOF'
import json, sys
body = json.load(open(sys.argv[1]))
want = json.loads(body["payload"])            # what the seed's message means
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == 1, got
ev = got[0]
for k, v in want.items():
    assert ev.get(k) == v, (k, ev.get(k), v)
assert ev["computer_name"] == "JASON-WIN81-VM" and ev["pid"] == 1972
assert ev["command_line"] == "Global\\\\UsGthrFltPipeMssGthrPipe253", ev["command_line"]
assert ev["path"] == "c:\\\\windows\\\\system32\\\\searchprotocolhost.exe", ev["path"]
assert ev["expect_followon_w_md5"] is False and ev["type"] == "ingress.event.procstart"
assert ev["@amqp.routing_key"] == "test_queue" and ev["@amqp.exchange"] == ""
assert ev["@amqp.queue"] == "test_queue" and ev["@amqp.redelivered"] is False
assert isinstance(ev["@amqp.delivery_tag"], int)
PYEOF
ok "seed procstart event: fields, backslashes and metadata as published"

# ---- bulk: 2,000 + one three-line message + 3 malformed
$TOOL publish "$RMQ_URL" bulk 2000 --bad 3 --multi
wait_lines bulk.json.tmp 2003
wait_lines bulk_err.json.tmp 3
$PY - bulk.json.tmp bulk_err.json.tmp <<'PYEOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
ids = sorted(e["id"] for e in evs)
assert ids == list(range(2000)) + [800000, 800001, 800002], (len(ids), ids[:5], ids[-5:])
errs = [json.loads(l) for l in open(sys.argv[2])]
assert len(errs) == 3, errs
for e in errs:
    assert e["component"] == "bulk" and "invalid JSON" in e["error"], e
    assert e["raw"].startswith('{"id": 9000'), e
    assert "queue bulk" in e["where"], e
PYEOF
ok "bulk: 2,003 events (one message of 3 lines), 3 dead letters with their raw bodies"

# ---- max_redeliveries: the sink of pz always fails
$TOOL publish "$RMQ_URL" pz 3
wait_lines pz_err.json.tmp 3 40
$PY - pz_err.json.tmp <<'PYEOF'
import json, sys
errs = [json.loads(l) for l in open(sys.argv[1])]
assert len(errs) == 3, errs
assert sorted(json.loads(e["raw"])["id"] for e in errs) == [0, 1, 2], errs
for e in errs:
    assert "max_redeliveries" in e["error"], e
PYEOF
ok "pz: each message failed 3 times, then dead-lettered once with its body"

# ---- broker restart while a publisher streams (it reconnects and republishes, too)
$TOOL publish "$RMQ_URL" bulk 6000 --start 10000 --pace 0.05 --retry &
PUB=$!; PIDS+=($PUB)
for _ in $(seq 100); do [ "$(count_lines bulk.json.tmp)" -gt 2503 ] && break; sleep 0.1; done
before=$(count_lines bulk.json.tmp)
rmq_stop
ok "broker stopped with $((before - 2003)) of 6,000 streamed events in"
rmq_start mgmt
wait $PUB || fail "publisher failed"
for _ in $(seq 300); do
  $PY -c '
import json, sys
ids = {json.loads(l)["id"] for l in open(sys.argv[1])}
sys.exit(0 if all(i in ids for i in range(10000, 16000)) else 1)' bulk.json.tmp && break
  sleep 0.2
done
grep -q "connection to .* lost" log.txt || fail "no reconnect logged"
kill -TERM $SPID
wait $SPID || fail "sluice exit $?"
$PY - bulk.json <<'PYEOF'
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
missing = [i for i in range(10000, 16000) if i not in set(ids)]
assert not missing, ("missing", len(missing), missing[:10])
print("ok: restart: all 6,000 ids arrived; duplicates (redelivered): %d" % (len([i for i in ids if i >= 10000]) - 6000))
PYEOF
for q in bulk pz test_queue; do
  expect_eq "queue $q empty after stop (all acked)" "$($TOOL count "$RMQ_URL" $q)" 0
done
grep -q "ERROR\|AddressSanitizer\|runtime error" log.txt && { cat log.txt; fail "errors in log"; }
ok "amqp source"
