#!/usr/bin/env bash
# The `sql` transform with shard_by: the same input through a tumbling-window COUNT/SUM GROUP BY
# and a stream-stream join keyed by the shard field, once unsharded (--workers 1) and once in 2
# shards (--workers 2): the final count and sum per key and window, and the joined rows, are
# the same. Queries keyed by another column are refused by `sluice check` with the query and
# its key. Over REST, a statement goes to every shard (and a misaligned one is refused) and a
# push query gets the rows of both shards.
source "$(dirname "$0")/lib/common.bash"
$PY - <<'PYEOF'
import json, random
random.seed(16)
with open("in.json", "w") as f:
    for i in range(12000):
        kind = "a" if i % 3 else "b"
        ev = {"kind": kind, "user": "u%d" % random.randrange(300), "host": "h%d" % random.randrange(5),
              "v": random.randrange(100), "ts": i * 10}
        if i % 500 == 7:
            del ev["user"]  # no shard field: no state is keyed by it
        f.write(json.dumps(ev) + "\n")
PYEOF
conf() { # conf SHARD_LINES GROUP_COL
cat <<YAML
sources:
  in: {type: file, path: [in.json]}
transforms:
  q:
    type: sql
    inputs: [in]
    topic_field: kind
$1
    statements: |
      CREATE STREAM A (USER STRING, HOST STRING, V BIGINT, TS BIGINT) WITH (kafka_topic='a', value_format='json', timestamp='ts');
      CREATE STREAM B (USER STRING, V BIGINT, TS BIGINT) WITH (kafka_topic='b', value_format='json', timestamp='ts');
      CREATE TABLE T AS SELECT $2, COUNT(*) AS N, SUM(V) AS TOTAL FROM A WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY $2;
      CREATE STREAM J AS SELECT A.USER AS WHO, A.V AS AV, B.V AS BV, A.TS AS ATS, B.TS AS BTS FROM A JOIN B WITHIN 1 HOURS ON A.USER = B.USER;
sinks:
  out: {type: file, inputs: [q], path: out.json}
YAML
}
conf "" USER > plain.yaml
conf "    shard_by: user
    shards: 2" USER > sharded.yaml
$SLUICE run -c plain.yaml --once --no-status --workers 1 2> log1.txt || { cat log1.txt; fail "run unsharded"; }
mv out.json plain.json
$SLUICE run -c sharded.yaml --once --no-status --workers 2 2> log2.txt || { cat log2.txt; fail "run sharded"; }
mv out.json sharded.json
grep -q "state in 2 shards by user" log2.txt || fail "not sharded: $(cat log2.txt)"
$PY - <<'PYEOF'
import json
def load(path):
    win, join = {}, []
    for l in open(path):
        o = json.loads(l)
        if o["@sql.stream"] == "T":
            k = (o["USER"], o["@sql.windowstart"])
            # updates of one key may reach the sink out of batch order with 2 workers: the final
            # one is the one with the highest count
            if k not in win or o["N"] > win[k][0]:
                win[k] = (o["N"], o["TOTAL"])
        else:
            join.append((o["WHO"], o["AV"], o["BV"], o["ATS"], o["BTS"]))
    return win, sorted(join)
pw, pj = load("plain.json")
sw, sj = load("sharded.json")
assert len(pw) > 1000 and len(pj) > 10000, (len(pw), len(pj))
assert pw == sw, [(k, pw.get(k), sw.get(k)) for k in set(pw) | set(sw) if pw.get(k) != sw.get(k)][:5]
assert pj == sj, (len(pj), len(sj))
print("windows", len(pw), "joined rows", len(pj))
PYEOF
ok "2 shards: the same final counts and sums per key and window, the same joined rows"

# keyed by another column: refused with the query and its key
conf "    shard_by: user" HOST > bad.yaml
set +e
$SLUICE check -c bad.yaml 2> check.txt; rc=$?
set -e
expect_eq "check exit status (GROUP BY HOST)" "$rc" 2
grep -q "query CTAS_T_0: it is keyed by GROUP BY HOST, which does not include the shard column: A.USER (shard_by: user)" check.txt \
  || fail "message: $(cat check.txt)"
conf "    shard_by: user" USER | sed 's/ON A.USER = B.USER/ON A.HOST = B.USER/' > badjoin.yaml
set +e
$SLUICE check -c badjoin.yaml 2> check.txt; rc=$?
set -e
expect_eq "check exit status (join)" "$rc" 2
grep -q "query CSAS_J_1: the join with B is on A.HOST = B.USER, not on the shard column: B.USER" check.txt \
  || fail "message: $(cat check.txt)"
$SLUICE check -c sharded.yaml 2> check.txt || fail "aligned config refused: $(cat check.txt)"
ok "misaligned GROUP BY and join refused by sluice check"

# REST: statements on every shard, push query rows from both
command -v curl >/dev/null || { echo "no curl: REST part skipped"; exit 0; }
PORT=$(free_port)
mkdir logs; : > logs/a.log
cat > rest.yaml <<YAML
api: {listen: "127.0.0.1:$PORT"}
sources:
  ev: {type: file, path: ["logs/*.log"], mode: tail}
transforms:
  ksql:
    type: sql
    inputs: [ev]
    topic: events
    shard_by: user
    shards: 2
    statements: "CREATE STREAM E (USER STRING, HOST STRING, V INT) WITH (kafka_topic='events', value_format='json');"
    state_file: state.jsonl
sinks:
  out: {type: file, inputs: [ksql], path: rest_out.json}
YAML
start() { $SLUICE run -c rest.yaml --no-status --workers 2 2>> log3.txt & PID=$!; PIDS+=($PID); wait_port $PORT; }
start
ksql() { curl -s -o resp.json -w '%{http_code}' -XPOST "http://127.0.0.1:$PORT/ksql" --data-binary @-; }
code=$(echo '{"ksql": "CREATE TABLE C AS SELECT USER, COUNT(*) AS N FROM E GROUP BY USER;"}' | ksql)
expect_eq "aligned CTAS over REST" "$code" 200
code=$(echo '{"ksql": "CREATE TABLE H AS SELECT HOST, COUNT(*) AS N FROM E GROUP BY HOST;"}' | ksql)
expect_eq "misaligned CTAS over REST" "$code" 400
grep -q "does not include the shard column" resp.json || fail "REST message: $(cat resp.json)"
curl -sN -m 10 -XPOST "http://127.0.0.1:$PORT/query" \
  -d '{"ksql": "SELECT USER, V FROM E EMIT CHANGES LIMIT 20;"}' > q.json &
QP=$!
curl -sN -m 10 -XPOST "http://127.0.0.1:$PORT/query" \
  -d '{"ksql": "SELECT USER, V FROM E EMIT CHANGES LIMIT 5;"}' > q5.json &
QP5=$!
sleep 0.5
for i in $(seq 1 20); do echo "{\"user\":\"p$i\",\"host\":\"h\",\"V\":$i}" >> logs/a.log; done
wait $QP || fail "/query curl"
wait $QP5 || fail "/query curl (LIMIT 5)"
$PY - <<'PYEOF'
import json
r = json.load(open("q.json"))
rows = sorted(x["row"]["columns"][1] for x in r[1:] if "row" in x)
assert rows == list(range(1, 21)), rows
assert r[-1] == {"finalMessage": "Limit Reached"}, r[-1]
r = json.load(open("q5.json"))
assert len([x for x in r if "row" in x]) == 5 and r[-1] == {"finalMessage": "Limit Reached"}, r
PYEOF
ok "push queries: the rows of both shards, LIMIT over all of them"
sleep 0.5
kill -TERM $PID; wait $PID || fail "exit status"
users() { $PY -c 'import json; print(len(set(json.loads(l)["USER"] for l in open("rest_out.json") if json.loads(l).get("@sql.stream")=="C")))'; }
expect_eq "REST CTAS ran on both shards" "$(users)" 20
# restart: the state file's CTAS is replayed on both shards
rm rest_out.json
start
for i in $(seq 1 20); do echo "{\"user\":\"r$i\",\"host\":\"h\",\"V\":$i}" >> logs/a.log; done
sleep 1.2
kill -TERM $PID; wait $PID || fail "exit status"
grep -q 'replayed 1 statements (0 failed)' log3.txt || fail "replay: $(cat log3.txt)"
expect_eq "replayed CTAS runs on both shards" "$(users)" 20
