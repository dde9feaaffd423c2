#!/usr/bin/env bash
# The console's query endpoint on a PostgreSQL profile store (a real server started here):
# SQL answers match psql's, only one statement runs and it cannot write, errors come back as
# 400 with PostgreSQL's message, answers are bounded, a superuser's connection is refused, and
# Stellar's PROFILE_GET reads the same store.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/postgres.bash"
command -v curl >/dev/null || fail "no curl"
pg_start
# the store's own role: the console refuses SQL on a superuser's connection (below)
pg_q "CREATE ROLE sluice LOGIN; GRANT CREATE ON SCHEMA public TO sluice" >/dev/null
URL="postgres://sluice@127.0.0.1:$PGPORT/postgres"

cat > profiler.json <<'JSON'
{"profiles": [
  {"profile": "conns", "foreach": "id.orig_h", "init": {"n": 0}, "update": {"n": "n + 1"}, "result": "n"}
]}
JSON
echo "ops tok-$RANDOM$RANDOM" > api.tokens
TOKEN=$(cut -d' ' -f2 api.tokens)
APORT=$(free_port)
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$APORT", tokens: api.tokens}
profile_store: "$URL"
sources:
  zeek: {type: generator, types: [conn], rate: 1000, count: 3000, seed: 5}
  idle: {type: file, path: [idle.log], mode: tail}  # keeps sluice running once zeek is done
transforms:
  prof: {type: profiler, inputs: [zeek], profiles_file: profiler.json, period: 1s, lag: 1s}
sinks:
  m: {type: null, inputs: [prof, idle]}
YAML
: > idle.log
$SLUICE run -c p.yaml --no-status 2> run.log &
SPID=$!
PIDS+=($SPID)
( wait_port $APORT 20 ) || { tail -20 run.log; fail "sluice did not start"; }

q() { # q LANG TEXT: the API's answer (body), status in $ST
  ST=$(curl -sS -o ans.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -G \
    --data-urlencode "lang=$1" --data-urlencode "q=$2" "http://127.0.0.1:$APORT/api/v1/console/query") ||
    { tail -30 run.log; fail "query $2: no answer"; }
  cat ans.json
}
# the store fills as periods close: until psql sees every one of the 3000 connections
for i in $(seq 100); do
  n=$(pg_q "SELECT COALESCE(sum(v_int), 0) FROM measurements" 2>/dev/null || echo 0)
  [ "$n" = 3000 ] && break
  sleep 0.2
done
expect_eq "counts in the store" "$n" 3000

SQL="SELECT entity, count(*)::int AS periods, sum(v_int) AS n, max(period) > 0 AS positive, 0.5::float8 AS half FROM measurements GROUP BY entity ORDER BY entity"
q sql "$SQL" > /dev/null
expect_eq "sql status" "$ST" 200
$PY - "$(pg_q "SELECT json_agg(json_build_array(entity, periods, n, positive, half)) FROM ($SQL) t")" <<'PYEOF' || fail "sql answer: $(head -c 300 ans.json)"
import json, sys
want = json.loads(sys.argv[1])
got = json.load(open("ans.json"))
assert got["columns"] == ["entity", "periods", "n", "positive", "half"], got["columns"]
assert got["truncated"] is False
# bigint sum comes back from PostgreSQL as numeric: a JSON number either way
assert [[r[0], r[1], int(r[2]), r[3], r[4]] for r in got["rows"]] == [[w[0], w[1], int(w[2]), w[3], w[4]] for w in want], (got["rows"][:3], want[:3])
assert sum(int(r[2]) for r in got["rows"]) == 3000
PYEOF
ok "SQL on PostgreSQL: the rows psql gives, typed"

q sql "DELETE FROM measurements" > /dev/null
expect_eq "write refused" "$ST" 400
grep -q "read-only transaction" ans.json || fail "write message: $(cat ans.json)"
q sql "SELECT 1; DELETE FROM measurements" > /dev/null
expect_eq "two statements refused" "$ST" 400
grep -q "multiple commands" ans.json || fail "two statements: $(cat ans.json)"
q sql "SELECT pg_sleep(10)" > /dev/null
expect_eq "statement timeout" "$ST" 400
grep -q "statement timeout" ans.json || fail "timeout: $(cat ans.json)"
# COPY ... TO STDOUT (allowed in a READ ONLY transaction): an error, not an endless loop
q sql "COPY measurements TO STDOUT" > /dev/null
expect_eq "COPY TO STDOUT refused" "$ST" 400
grep -q "COPY is not supported" ans.json || fail "COPY message: $(cat ans.json)"
q sql "SELECT 1 AS after_copy" > /dev/null
expect_eq "a query after COPY" "$(cat ans.json)" '{"lang":"sql","columns":["after_copy"],"rows":[[1]],"truncated":false}'
q sql "SELEC 1" > /dev/null
expect_eq "syntax error" "$ST" 400
grep -q 'syntax error at or near' ans.json || fail "syntax: $(cat ans.json)"
expect_eq "rows still there" "$(pg_q "SELECT COALESCE(sum(v_int), 0) FROM measurements")" 3000

# a query that selects far more than an answer holds: rows come one at a time and the
# statement is cancelled after the 1,000th (was: libpq kept the whole result, here ~400 MB,
# in sluice's memory before 1,000 rows of it were sent); an answer stops at 16 MiB
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SPID/status"; }
before=$(hwm)
q sql "SELECT i, repeat('x', 1000) AS pad FROM generate_series(1, 400000) i" > /dev/null
expect_eq "large result status" "$ST" 200
after=$(hwm)
$PY - <<'PYEOF' || fail "large result: $(head -c 300 ans.json)"
import json
got = json.load(open("ans.json"))
assert got["truncated"] is True and len(got["rows"]) == 1000, (got["truncated"], len(got["rows"]))
assert [r[0] for r in got["rows"]] == list(range(1, 1001))
assert all(r[1] == "x" * 1000 for r in got["rows"])
PYEOF
[ $((after - before)) -lt 150000 ] || fail "a 1,000-row answer grew sluice's peak memory by $((after - before)) KB"
q sql "SELECT i, repeat('y', 1000000) AS pad FROM generate_series(1, 100) i" > /dev/null
expect_eq "16 MiB answer status" "$ST" 200
$PY - <<'PYEOF' || fail "16 MiB answer: $(head -c 300 ans.json)"
import json
got = json.load(open("ans.json"))
assert got["truncated"] is True and 10 <= len(got["rows"]) <= 17, (got["truncated"], len(got["rows"]))
assert [r[0] for r in got["rows"]] == list(range(1, len(got["rows"]) + 1))
PYEOF
q sql "SELECT 1 AS one WHERE false" > /dev/null
expect_eq "empty result" "$(cat ans.json)" '{"lang":"sql","columns":["one"],"rows":[],"truncated":false}'
ok "large results: 1,000 rows or 16 MiB, streamed"

# Stellar through the same store
ent=$(pg_q "SELECT entity FROM measurements ORDER BY entity LIMIT 1")
want=$(pg_q "SELECT json_agg(v_int ORDER BY period) FROM measurements WHERE entity = '$ent'")
q stellar "PROFILE_GET('conns', '$ent', PROFILE_FIXED(1, 'HOURS', {'profiler.client.period.duration': 1, 'profiler.client.period.duration.units': 'SECONDS'}))" > /dev/null
expect_eq "stellar status" "$ST" 200
$PY - "$want" <<'PYEOF' || fail "stellar answer: $(cat ans.json) vs $want"
import json, sys
assert json.load(open("ans.json"))["result"] == json.loads(sys.argv[1])
PYEOF
ok "Stellar PROFILE_GET on PostgreSQL"

kill -TERM $SPID
wait $SPID || { tail -20 run.log; fail "sluice exit status"; }

# a store whose role is a superuser: READ ONLY does not stop COPY ... TO PROGRAM (it ran
# `touch` on the database host through the console), so SQL is refused there
cat > su.yaml <<YAML
api: {listen: "127.0.0.1:$APORT", tokens: api.tokens}
profile_store: "postgres://postgres@127.0.0.1:$PGPORT/postgres"
sources:
  idle: {type: file, path: [idle.log], mode: tail}
sinks:
  m: {type: null, inputs: [idle]}
YAML
$SLUICE run -c su.yaml --no-status 2> su.log &
SPID=$!
PIDS+=($SPID)
( wait_port $APORT 20 ) || { tail -20 su.log; fail "sluice (superuser store) did not start"; }
MARK="$PWD/copy-to-program-ran"
chmod 777 "$PWD"
q sql "COPY (SELECT 1) TO PROGRAM 'touch $MARK'" > /dev/null
expect_eq "superuser store refused" "$ST" 403
grep -q "superuser" ans.json || fail "superuser message: $(cat ans.json)"
[ ! -e "$MARK" ] || fail "COPY TO PROGRAM ran on the database host"
q sql "SELECT 1" > /dev/null
expect_eq "superuser store: plain SELECT refused too" "$ST" 403
kill -TERM $SPID
wait $SPID || { tail -20 su.log; fail "sluice (superuser store) exit status"; }
ok "no SQL on a superuser's connection"
! grep -l 'Sanitizer' ./*.log || fail "sanitizer reports"
ok "console queries on PostgreSQL"
