#!/usr/bin/env bash
# http source with `ack: true`: the answer waits for the sinks.
#  - a file sink: 200, and the lines are in the file when the answer arrives
#  - a sink that fails the batch (amqp to a port where nothing listens, retry_for 300ms): 503
#  - a sink that keeps retrying (retry_for 1m): 504 after ack_timeout; the source stays up
#  - the same dead sink behind a disk buffer: 200 at once (durable in the buffer)
source "$(dirname "$0")/lib/common.bash"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
DEAD=$(free_port)
run_case() { # run_case NAME SINK_YAML -> starts sluice with an ack'ing http source on $PORT
  PORT=$(free_port)
  cat > "$1.yaml" <<YAML
sources:
  in: {type: http, listen: "127.0.0.1:$PORT", ack: true, ack_timeout: 1500ms, threads: 4}
sinks:
$2
YAML
  $SLUICE run -c "$1.yaml" --no-status 2> "$1.log" &
  PID=$!; PIDS+=($PID)
  wait_port $PORT
}
post() { curl -s -o body.txt -w '%{http_code}' -X POST --data-binary $'{"a":1}\n{"a":2}\n{"a":3}' "http://127.0.0.1:$PORT/"; }
stop() { kill -TERM $PID; wait $PID || true; }

run_case file "  out: {type: file, inputs: [in], path: out.json}"
expect_eq "file sink: status" "$(post)" 200
expect_eq "lines written when the answer came" "$(cat out.json.tmp | wc -l)" 3
stop

run_case fail "  dead: {type: amqp, inputs: [in], url: \"amqp://guest:guest@127.0.0.1:$DEAD/%2F\", routing_key: x, retry_for: 300ms, reconnect_min: 50ms, reconnect_max: 100ms}"
expect_eq "failing sink: status" "$(post)" 503
grep -q '"accepted":3' body.txt && grep -q "could not deliver" body.txt || fail "503 body: $(cat body.txt)"
stop

run_case slow "  dead: {type: amqp, inputs: [in], url: \"amqp://guest:guest@127.0.0.1:$DEAD/%2F\", routing_key: x, retry_for: 1m, reconnect_min: 50ms, reconnect_max: 100ms}"
t0=$(date +%s%N)
expect_eq "retrying sink: status" "$(post)" 504
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1400 ] && [ "$ms" -lt 10000 ] || fail "504 after ${ms} ms, want ack_timeout (1.5 s)"
grep -q "within ack_timeout" body.txt || fail "504 body: $(cat body.txt)"
curl -s "http://127.0.0.1:$PORT/" -X GET -o /dev/null || true
kill -0 $PID || fail "the source did not stay up"
kill -9 $PID; wait $PID 2>/dev/null || true
ok "504 after ${ms} ms"

run_case buffered "  dead: {type: amqp, inputs: [in], url: \"amqp://guest:guest@127.0.0.1:$DEAD/%2F\", routing_key: x, retry_for: 1m, reconnect_min: 50ms, reconnect_max: 100ms, buffer: {type: disk, path: buf}}"
t0=$(date +%s%N)
expect_eq "dead sink behind a disk buffer: status" "$(post)" 200
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1400 ] || fail "the buffered answer took ${ms} ms"
kill -9 $PID; wait $PID 2>/dev/null || true
ok "disk buffer: 200 in ${ms} ms"
