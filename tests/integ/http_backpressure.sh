#!/usr/bin/env bash
# Back-pressure reaches HTTP clients: the sink writes into a FIFO that nobody reads yet, the
# queues fill, and the http source answers 429 (Retry-After) instead of buffering. When a
# reader appears everything that was accepted (200) comes out, and nothing else.
# (csv opens its path directly, so the FIFO blocks the sink thread in open(2).)
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
mkfifo stuck.pipe
cat > p.yaml <<YAML
queue_batches: 2
workers: 1
sources:
  web: {type: http, listen: "127.0.0.1:$PORT"}
sinks:
  out: {type: csv, inputs: [web], path: stuck.pipe, columns: [n], header: false}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
printf '{"n":1}\n{"n":2}\n' > body.ndjson
accepted=0; saw429=0
for i in $(seq 1 40); do
  code=$(curl -s -D headers.txt -o /dev/null -w '%{http_code}' -X POST --data-binary @body.ndjson "http://127.0.0.1:$PORT/")
  case $code in
    200) accepted=$((accepted + 2)) ;;
    429) saw429=$((saw429 + 1)); grep -qi '^Retry-After: 1' headers.txt || fail "429 without Retry-After" ;;
    *) fail "unexpected status $code" ;;
  esac
done
[ $saw429 -gt 0 ] || fail "the pipeline never pushed back (no 429 in 40 requests)"
ok "$saw429 requests answered 429, $accepted events accepted"
cat stuck.pipe > out.json &
READER=$!
sleep 1
kill -TERM $PID
wait $PID || { cat log.txt; fail "exit status"; }
wait $READER
expect_eq "events written = events accepted" "$(count_lines out.json)" "$accepted"
expect_eq "all of them" "$(tr -d '\r' < out.json | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')" "$((accepted / 2)) "
