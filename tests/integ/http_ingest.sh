#!/usr/bin/env bash
# http source: good NDJSON (200), JSON array (200), malformed (400 + line), oversized (413),
# wrong method (405), unknown path (404); then /metrics and /api/v1/pipeline of the API.
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
APIPORT=$(free_port)
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  web: {type: http, listen: "127.0.0.1:$PORT", path: /ingest, max_body: 64KiB}
sinks:
  out: {type: file, inputs: [web], path: out.json}
  dead: {type: file, inputs: [web.errors], path: dead.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
wait_port $APIPORT
post() { curl -s -o body.txt -w '%{http_code}' -X POST --data-binary @"$1" "http://127.0.0.1:$PORT${2:-/ingest}"; }

printf '{"a":1}\n{"a":2}\n{"a":3}\n' > good.ndjson
expect_eq "good status" "$(post good.ndjson)" 200
grep -q '"accepted":3' body.txt || fail "good body: $(cat body.txt)"

printf '[{"a":4},{"a":5}]' > arr.json
expect_eq "array status" "$(post arr.json)" 200
grep -q '"accepted":2' body.txt || fail "array body: $(cat body.txt)"

printf '{"a":6}\n{"a":7,,}\n{"a":8}\n' > bad.ndjson
expect_eq "malformed status" "$(post bad.ndjson)" 400
grep -q '"line":2' body.txt || fail "malformed body has no line: $(cat body.txt)"

head -c 100000 /dev/zero | tr '\0' 'x' > big.txt
expect_eq "oversized status" "$(post big.txt)" 413

expect_eq "GET on ingest" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ingest")" 405
expect_eq "unknown path" "$(post good.ndjson /nope)" 404

expect_eq "/health" "$(curl -s "http://127.0.0.1:$APIPORT/health" | tr -d ' \n')" '{"status":"ok"}'
curl -s "http://127.0.0.1:$APIPORT/metrics" > metrics.txt
grep -q '^sluice_component_events_out_total{component="web",type="http",kind="source"} 7$' metrics.txt \
  || fail "metrics: $(grep web metrics.txt)"
curl -s "http://127.0.0.1:$APIPORT/api/v1/pipeline" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert {c["name"] for c in d["components"]} == {"web","out","dead"}, d' \
  || fail "/api/v1/pipeline"
kill -TERM $PID
wait $PID || fail "exit status"
expect_eq "events written" "$(count_lines out.json)" 7
expect_eq "dead letters" "$(count_lines dead.json)" 1
