#!/usr/bin/env bash
# amqp sink against a real RabbitMQ (a private node on loopback ports):
#   - 5,000 generated events → amqp sink (publisher confirms, declare_queue) → counted and
#     checked with pika: exactly 5,000 JSON messages, persistent, application/json;
#   - routing_key template: {kind} routes events to two queues; a key with no queue bound
#     (mandatory) comes back from the broker and lands in <name>.errors, not silently lost;
#   - amqp → amqp: a source queue relayed through the sink to another queue while the broker
#     restarts: every id arrives at least once, the source queue ends empty.
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/rabbitmq.bash"
TOOL="$PY $SL_SRC/tests/integ/lib/amqp_tool.py"

rmq_start
for q in route_a route_b relay_in relay_out; do $TOOL declare "$RMQ_URL" $q; done

# ---- generated events → sink_q
gen_json 5000 in.json
$PY - in.json <<'PYEOF'
import json, sys
# kinds: a, b, and every 1000th event "zz" (no queue bound for route_zz)
lines = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[1], "w") as f:
    for i, ev in enumerate(lines):
        ev["kind"] = "zz" if i % 1000 == 999 else ("a" if i % 2 else "b")
        f.write(json.dumps(ev) + "\n")
PYEOF
cat > p.yaml <<YAML
sources:
  f: {type: file, path: in.json}
sinks:
  q1: {type: amqp, inputs: [f], url: "$RMQ_URL", declare_queue: sink_q, routing_key: sink_q}
  q2: {type: amqp, inputs: [f], url: "$RMQ_URL", routing_key: "route_{kind}"}
  q2_err: {type: file, inputs: [q2.errors], path: q2_err.json}
YAML
$SLUICE run -c p.yaml --once --no-status 2> log1.txt || { cat log1.txt; fail "sluice run"; }
got=$($TOOL drain "$RMQ_URL" sink_q 5000 20 2> sink_q.txt)
expect_eq "messages in sink_q" "$got" 5000
$PY - in.json sink_q.txt <<'PYEOF'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
assert sorted(g["seq"] for g in got) == list(range(5000))
bys = {w["seq"]: w for w in want}
for g in got:
    w = bys[g["seq"]]
    assert g == w, (g, w)
PYEOF
ok "sink_q: 5,000 messages, each the event's JSON"
expect_eq "nothing left in sink_q" "$($TOOL count "$RMQ_URL" sink_q)" 0
a=$($TOOL drain "$RMQ_URL" route_a 2495 20 2> /dev/null)
b=$($TOOL drain "$RMQ_URL" route_b 2500 20 2> /dev/null)
expect_eq "route_a (kind a, less 5 zz)" "$a" 2495
expect_eq "route_b (kind b)" "$b" 2500
expect_eq "unroutable route_zz events in q2.errors" "$(count_lines q2_err.json)" 5
grep -q '"error":"unroutable' q2_err.json || fail "unroutable message: $(head -1 q2_err.json)"
grep -q '"kind":"zz"' q2_err.json || fail "dead letter without the event: $(head -1 q2_err.json)"

# ---- relay through a broker restart: amqp source → amqp sink on the same broker, while a
# publisher streams into relay_in (it reconnects and republishes through the restart too)
cat > r.yaml <<YAML
sources:
  in: {type: amqp, url: "$RMQ_URL", queue: relay_in, prefetch: 200, reconnect_min: 50ms,
       reconnect_max: 500ms}
sinks:
  out: {type: amqp, inputs: [in], url: "$RMQ_URL", declare_queue: relay_out,
        routing_key: relay_out, reconnect_min: 50ms, reconnect_max: 500ms}
YAML
$SLUICE run -c r.yaml --no-status 2> log2.txt &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 100); do grep -q "consuming queue" log2.txt 2> /dev/null && break; sleep 0.1; done
$TOOL publish "$RMQ_URL" relay_in 6000 --pace 0.05 --retry &
PUB=$!; PIDS+=($PUB)
for _ in $(seq 100); do [ "$($TOOL count "$RMQ_URL" relay_out)" -ge 600 ] && break; sleep 0.1; done
rmq_stop
rmq_start
wait $PUB || fail "publisher failed"
for _ in $(seq 150); do
  [ "$($TOOL count "$RMQ_URL" relay_in)" = 0 ] && [ "$($TOOL count "$RMQ_URL" relay_out)" -ge 6000 ] && break
  sleep 0.2
done
kill -TERM $SPID
wait $SPID || { cat log2.txt; fail "sluice exit $?"; }
grep -q 'comp=out msg="connection to .* lost' log2.txt || { cat log2.txt; fail "the sink logged no reconnect"; }
n=$($TOOL count "$RMQ_URL" relay_out)
$TOOL drain "$RMQ_URL" relay_out "$n" 30 2> relay_out.txt > /dev/null
$PY - relay_out.txt <<'PYEOF'
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
missing = set(range(6000)) - set(ids)
assert not missing, ("missing", len(missing), sorted(missing)[:10])
print("ok: relay through a restart: 6,000 ids at least once (%d messages, %d duplicates)"
      % (len(ids), len(ids) - 6000))
PYEOF
expect_eq "relay_in empty after stop (all acked)" "$($TOOL count "$RMQ_URL" relay_in)" 0
grep -q "ERROR\|AddressSanitizer\|runtime error" log1.txt log2.txt && { cat log1.txt log2.txt; fail "errors in log"; }
ok "amqp sink"

# ---- examples/amqp.yaml works as written (the broker's port patched in)
sed "s|127.0.0.1:5672|127.0.0.1:$RMQ_PORT|g" "$SL_SRC/examples/amqp.yaml" > ex.yaml
$SLUICE run -c ex.yaml --no-status 2> log3.txt &
EPID=$!; PIDS+=($EPID)
for _ in $(seq 100); do grep -q "consuming queue" log3.txt 2> /dev/null && break; sleep 0.1; done
$PY - "$RMQ_URL" <<'PYEOF'
import json, sys, pika
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
for i, t in enumerate(["ingress.event.procstart", "ingress.event.netconn", "ingress.event.procstart"]):
    ch.basic_publish("", "test_queue", json.dumps({"type": t, "pid": 1000 + i}).encode())
ch.basic_publish("", "test_queue", b"not json")
c.close()
PYEOF
for _ in $(seq 100); do [ "$(count_lines out/amqp/events.json.tmp)" = 3 ] && [ "$(count_lines out/amqp/errors.json.tmp)" = 1 ] && break; sleep 0.1; done
kill -TERM $EPID; wait $EPID || fail "example exit"
expect_eq "example: events.json" "$(count_lines out/amqp/events.json)" 3
expect_eq "example: errors.json" "$(count_lines out/amqp/errors.json)" 1
expect_eq "example: procstarts queue" "$($TOOL count "$RMQ_URL" procstarts)" 2
expect_eq "example: test_queue acked" "$($TOOL count "$RMQ_URL" test_queue)" 0
ok "examples/amqp.yaml"
grep -q "ERROR\|AddressSanitizer\|runtime error" log3.txt && { cat log3.txt; fail "errors in example log"; }
ok "amqp sink and example"
