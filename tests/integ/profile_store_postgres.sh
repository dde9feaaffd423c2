#!/usr/bin/env bash
# The profile store on a real PostgreSQL (store: postgres://..., src/state/store_postgres.c):
#  - the same profiler pipeline run once into SQLite and once into PostgreSQL stores the same
#    measurements: every type of value (Integer, Double, String, Map, STATS sketch) reads back
#    identically through `sluice profiles --json`, PROFILE_GET and STATS_* in `sluice stellar`
#  - the tables are plain SQL: psql counts the rows
#  - a second run re-writes the same periods (UPSERT: no duplicates)
#  - PostgreSQL restarted under a running pipeline: the writer reconnects, nothing is lost
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/postgres.bash"
pg_start
URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"

$PY - <<'PYEOF'
import json
base = 1530978000000 - 1530978000000 % 900000
with open("in.json", "w") as f:
    for i in range(600):
        f.write(json.dumps({"timestamp": base + i * 4000, "ip": "10.0.0.%d" % (i % 4),
                            "len": i * 7 + 0.5, "user": "u%d" % (i % 3),
                            "note": "tab\there\\back\nnew 'q' \"dq\" \u00e9 \u2603 %d" % i}) + "\n")
PYEOF
cat > profiler.json <<'JSON'
{"timestampField": "timestamp", "profiles": [
  {"profile": "count", "foreach": "ip", "init": {"n": 0}, "update": {"n": "n + 1"}, "result": "n"},
  {"profile": "mean", "foreach": "ip", "init": {"s": 0.0, "n": 0},
   "update": {"s": "s + len", "n": "n + 1"}, "result": "s / n"},
  {"profile": "last", "foreach": "ip", "update": {"u": "user"}, "result": "u"},
  {"profile": "note", "foreach": "ip", "update": {"u": "note"}, "result": "u"},
  {"profile": "shape", "foreach": "ip", "update": {"m": "{'user': user, 'len': len}"}, "result": "m"},
  {"profile": "stats", "foreach": "ip", "init": {"s": "STATS_INIT()"},
   "update": {"s": "STATS_ADD(s, len)", "g": "user"}, "result": "s", "groupBy": ["g"]}
]}
JSON
pipeline() { # pipeline STORE_URL
  cat > p.yaml <<YAML
sources:
  in: {type: file, path: [in.json]}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: profiler.json, period: 15m, lag: 1s,
         store: "$1"}
sinks:
  m: {type: null, inputs: [prof]}
YAML
  $SLUICE run -c p.yaml --once --no-status 2>> log.txt || { tail -5 log.txt; fail "run into $1"; }
}
pipeline "sqlite:lite.db"
pipeline "$URL"
ROWS=$(sqlite3 lite.db 'SELECT count(*) FROM measurements')
[ "$ROWS" -gt 40 ] || fail "too few measurements: $ROWS"
expect_eq "psql: measurements" "$(pg_q 'SELECT count(*) FROM measurements')" "$ROWS"
pipeline "$URL"
expect_eq "psql: a second run upserts" "$(pg_q 'SELECT count(*) FROM measurements')" "$ROWS"

# every profile and entity reads back the same from both stores
$SLUICE profiles --store "sqlite:lite.db" --json | sed 's/"store":"[^"]*"//' > a.json
$SLUICE profiles --store "$URL" --json | sed 's/"store":"[^"]*"//' > b.json
grep -q '"profile":"stats"' a.json || fail "no stats profile: $(cat a.json)"
cmp -s a.json b.json || fail "profiles differ: $(diff a.json b.json | head -5)"
for p in count mean last note shape stats; do
  for e in 10.0.0.0 10.0.0.1 10.0.0.2 10.0.0.3; do
    $SLUICE profiles --store "sqlite:lite.db" $p $e --json | sed 's/"store":"[^"]*"//' > a.json
    $SLUICE profiles --store "$URL" $p $e --json | sed 's/"store":"[^"]*"//' > b.json
    cmp -s a.json b.json || fail "$p/$e differs: $(diff a.json b.json | head -5)"
  done
done
ok "sluice profiles: every profile and entity identical (SQLite vs PostgreSQL)"

# PROFILE_GET and the sketch read back (Metron's PROFILE_FIXED over the data's periods)
G=$(sqlite3 lite.db "SELECT groups FROM measurements WHERE profile = 'stats' AND entity = '10.0.0.1' LIMIT 1" | tr '"' "'")
export SL_STELLAR_NOW_MS=$(( 1530978000000 - 1530978000000 % 900000 + 3600000 ))
for e in "PROFILE_GET('count', '10.0.0.1', PROFILE_FIXED(2, 'HOURS'))" \
         "PROFILE_GET('mean', '10.0.0.2', PROFILE_FIXED(2, 'HOURS'))" \
         "PROFILE_GET('last', '10.0.0.3', PROFILE_FIXED(2, 'HOURS'))" \
         "PROFILE_GET('shape', '10.0.0.0', PROFILE_FIXED(2, 'HOURS'))" \
         "MAP(PROFILE_GET('stats', '10.0.0.1', PROFILE_FIXED(2, 'HOURS'), $G), s -> STATS_MEAN(s))"; do
  A=$($SLUICE stellar --store "sqlite:lite.db" -e "$e")
  [ -n "$A" ] || fail "$e: nothing"
  B=$($SLUICE stellar --store "$URL" -e "$e")
  expect_eq "$e" "$B" "$A"
  [ "$A" != "[]" ] || fail "$e read nothing"
done

# PostgreSQL restarts under a streaming pipeline: the writer reconnects and retries
pg_q 'DELETE FROM measurements'
cat > s.yaml <<YAML
sources:
  in: {type: tcp, listen: "127.0.0.1:$(free_port)", format: json}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: profiler.json, period: 15m, lag: 1s,
         store: "$URL"}
sinks:
  m: {type: null, inputs: [prof]}
YAML
PORT=$(grep -o '127.0.0.1:[0-9]*' s.yaml | cut -d: -f2)
$SLUICE check -c s.yaml >/dev/null 2>check.txt || { cat check.txt; fail "check s.yaml"; }
$SLUICE run -c s.yaml --no-status 2> slog.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
head -300 in.json | $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.close()' $PORT
sleep 1.5
pg_restart_fast
tail -n +301 in.json | $PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.close()' $PORT
sleep 0.5
kill -TERM $PID; wait $PID || fail "sluice exited with $? ($(tail -3 slog.txt))"
expect_eq "psql: measurements after a PostgreSQL restart" "$(pg_q 'SELECT count(*) FROM measurements')" "$ROWS"
grep -q "failed (attempt 1 of" slog.txt || fail "the restart was not noticed: $(cat slog.txt)"
ok "the store reconnected after a PostgreSQL restart"
