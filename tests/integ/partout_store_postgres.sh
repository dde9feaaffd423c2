#!/usr/bin/env bash
# The Partout master's store on a real PostgreSQL (`store: postgres://...`, through the same
# store code as SQLite: state/sqldb.h): every check of lib/partout_store_body.bash (API totals,
# restart keeps the store and the estimator, `sluice partout`), then the tables as psql sees
# them and two masters sharing the one store.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/postgres.bash"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
pg_start
STORE="postgres://postgres@127.0.0.1:$PGPORT/postgres"
source "$(dirname "$0")/lib/partout_store_body.bash"

expect_eq "psql: raw total" "$(pg_q 'SELECT sum(count) FROM partout_raw')" "$WANT"
expect_eq "psql: agents" "$(pg_q 'SELECT count(*) FROM partout_agents')" 5
expect_eq "psql: schema version" "$(pg_q 'SELECT version FROM partout_schema')" 1
ok "tables readable with psql"

# a second master on the same store: both answer from it, and the posts of both add up
PORT2=$(free_port)
APIPORT2=$(free_port)
sed -e "s/127.0.0.1:$PORT\"/127.0.0.1:$PORT2\"/; s/127.0.0.1:$APIPORT\"/127.0.0.1:$APIPORT2\"/" p.yaml > p2.yaml
start
$SLUICE run -c p2.yaml --no-status 2>> log2.txt &
PID2=$!; PIDS+=($PID2)
wait_port $PORT2
wait_port $APIPORT2
T3=$(post_fleet 2) || fail "post to master 1"
PORT_SAVE=$PORT; PORT=$PORT2
T4=$(post_fleet 3) || fail "post to master 2"
PORT=$PORT_SAVE
WANT=$((WANT + T3 + T4))
# each master commits what it accepted within its flush interval (1 s): the other sees it then
eventually() { for _ in $(seq 30); do check_api "$WANT" 2>/dev/null && return 0; sleep 0.2; done; check_api "$WANT"; }
eventually || fail "master 1 does not see master 2's posts"
APIPORT_SAVE=$APIPORT; APIPORT=$APIPORT2
eventually || fail "master 2 does not see master 1's posts"
APIPORT=$APIPORT_SAVE
curl -s "http://127.0.0.1:$APIPORT2/metrics" > metrics.txt
grep -Eq '^sluice_partout_store_leaves\{[^}]*\} [1-9]' metrics.txt || fail "store metrics: $(grep store metrics.txt)"
grep -Eq '^sluice_partout_store_commit_errors\{[^}]*\} 0' metrics.txt || fail "store errors: $(grep store metrics.txt)"
kill -TERM $PID2; wait $PID2 || fail "master 2 exited with $?"
stop
expect_eq "psql: raw total after two masters" "$(pg_q 'SELECT sum(count) FROM partout_raw')" "$WANT"
ok "two masters share one PostgreSQL store: $WANT"
