#!/usr/bin/env bash
# ksqlDB REST API on the api listener (POST /ksql, /query), the state file replayed at restart,
# and `sluice sql` (standalone, piped stdin; remote against the running sluice).
source "$(dirname "$0")/lib/common.bash"
command -v curl >/dev/null || exit 77

PORT=$(free_port)
mkdir logs; : > logs/a.log
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$PORT"}
sources:
  ev: {type: file, path: ["logs/*.log"], mode: tail}
transforms:
  ksql:
    type: sql
    inputs: [ev]
    topic: events
    statements: ""
    state_file: state.jsonl
sinks:
  out: {type: file, inputs: [ksql], path: out.json}
YAML
start() { $SLUICE run -c p.yaml --no-status 2>> log.txt & PID=$!; PIDS+=($PID); wait_port $PORT; }
ksql() { curl -s -o resp.json -w '%{http_code}' -XPOST "http://127.0.0.1:$PORT/ksql" \
           -H 'Content-Type: application/vnd.ksql.v1+json' --data-binary @-; }
jq_() { $PY -c "import json,sys; r=json.load(open('resp.json')); print(repr(($1)))"; }
start

code=$(ksql <<'J'
{"ksql": "CREATE STREAM EVENTS (ID INT, NAME STRING) WITH (kafka_topic='events', value_format='json'); CREATE STREAM BIG AS SELECT ID, UCASE(NAME) AS N FROM EVENTS WHERE ID > 1;", "streamsProperties": {}}
J
)
expect_eq "/ksql status" "$code" 200
expect_eq "create stream" "$(jq_ 'r[0]["@type"], r[0]["commandId"], r[0]["commandStatus"]["status"], r[0]["commandStatus"]["message"]')" \
  "('currentStatus', 'stream/EVENTS/create', 'SUCCESS', 'Stream created')"
expect_eq "csas" "$(jq_ 'r[1]["commandStatus"]["queryId"], r[1]["statementText"]')" \
  "('CSAS_BIG_0', 'CREATE STREAM BIG AS SELECT ID, UCASE(NAME) AS N FROM EVENTS WHERE ID > 1')"

code=$(printf '{"ksql": "SHOW STREAMS;\\nCREATE STREAM X AS SELECT\\n  NOPE FROM EVENTS;"}' | ksql)
expect_eq "bad statement status" "$code" 400
expect_eq "bad statement" "$(jq_ 'r["@type"], r["error_code"], r["message"].split(":")[0:2], r["statementText"], len(r["entities"])')" \
  "('statement_error', 40001, ['3', '3'], 'CREATE STREAM X AS SELECT\n  NOPE FROM EVENTS', 1)"

code=$(echo '{"ksql": "SHOW STREAMS;"}' | ksql)
expect_eq "show streams" "$(jq_ '[(s["name"], s["topic"], s["type"], s["valueFormat"]) for s in r[0]["streams"]]')" \
  "[('EVENTS', 'events', 'STREAM', 'JSON'), ('BIG', 'BIG', 'STREAM', 'JSON')]"

# a push query while events arrive: header, 2 rows, the end at LIMIT 2
curl -sN -m 10 -XPOST "http://127.0.0.1:$PORT/query" \
  -d '{"ksql": "SELECT ID, NAME FROM EVENTS WHERE ID >= 0 EMIT CHANGES LIMIT 2;", "streamsProperties": {}}' > q.json &
QP=$!
sleep 0.5
for i in 1 2 3; do echo "{\"ID\":$i,\"NAME\":\"n$i\"}" >> logs/a.log; done
wait $QP || fail "/query curl"
expect_eq "/query" "$($PY -c 'import json; r=json.load(open("q.json")); print(r[0]["header"]["columnNames"], r[0]["header"]["columnTypes"], [x["row"]["columns"] for x in r[1:3]], r[3])')" \
  "['ID', 'NAME'] ['INTEGER', 'STRING'] [[1, 'n1'], [2, 'n2']] {'finalMessage': 'Limit Reached'}"

# remote shell
(sleep 0.8; echo '{"ID":9,"NAME":"r"}' >> logs/a.log) &
out=$(printf "SHOW STREAMS;\nSELECT ID FROM EVENTS EMIT CHANGES LIMIT 1;\n" | $SLUICE sql --server "http://127.0.0.1:$PORT")
echo "$out" | grep -q '^|BIG  ' || fail "remote SHOW STREAMS: $out"
echo "$out" | grep -q '^|9  ' || fail "remote push query row: $out"
ok "remote shell"

kill -TERM $PID; wait $PID || fail "exit status"
n=$($PY -c 'import json; print(sorted(json.loads(l)["N"] for l in open("out.json") if json.loads(l).get("@sql.stream")=="BIG"))')
expect_eq "CSAS output leaves the transform" "$n" "['N2', 'N3', 'R']"

# restart: the REST-created query runs again on new input
expect_eq "state file entries" "$(count_lines state.jsonl)" 2
rm -f out.json
start
echo '{"ID":42,"NAME":"after"}' >> logs/a.log
sleep 1.2
kill -TERM $PID; wait $PID || fail "exit status"
grep -q '"N":"AFTER"' out.json || { cat log.txt; fail "query not back after restart: $(cat out.json 2>/dev/null)"; }
grep -q 'replayed 2 statements' log.txt || fail "replay log"
ok "restart replays the REST statements"

# standalone shell
printf '{"ID":1,"NAME":"a"}\n{"ID":5,"NAME":"b"}\n' > in.ndjson
out=$(printf "CREATE STREAM S (ID INT, NAME STRING)\n  WITH (kafka_topic='t', value_format='json');\nSELECT ID, UCASE(NAME) AS U FROM S WHERE ID > 1 EMIT CHANGES;\n.load t in.ndjson\n.push t {\"ID\":7,\"NAME\":\"x\"}\n" | $SLUICE sql)
expect_eq "standalone rows" "$(echo "$out" | grep -E '^\|[0-9]' | tr -s ' ')" "$(printf '|5 |B |\n|7 |X |')"
