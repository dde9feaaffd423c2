# A throw-away PostgreSQL 15 cluster for the integration tests and benchmarks (sourced).
#   pg_start [extra postgres -c settings...]  initdb + start on a free loopback port; sets
#                                             PGPORT, PGHOST, PGUSER, PG_DSN, PG_DIR
#   pg_restart_fast                           pg_ctl restart -m fast (clients are cut off)
#   pg_stop                                   stop and remove the cluster (also on EXIT)
#   pg_q SQL                                  run SQL with psql, unaligned, tuples only
# As root, initdb and postgres run as the `postgres` system user in a directory it owns.
# Exits 77 (ctest: skipped) when no PostgreSQL server is installed.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_DIR=""

pg_as() {
  if [ "$(id -u)" = 0 ]; then (cd "$PG_DIR" && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_start() {
  [ -x "$PG_BIN/initdb" ] || { echo "SKIP: no PostgreSQL server (initdb) installed"; exit 77; }
  PG_DIR=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; fail "initdb"; }
  PGPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  local opts="-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1"
  for o in "$@"; do opts="$opts -c $o"; done
  PG_OPTS=$opts
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -o "$opts" -w -t 60 start \
    >/dev/null || { cat "$PG_DIR/server.log"; fail "pg_ctl start"; }
  export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=postgres
  PG_DSN="host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres"
  local i=0
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; do
    i=$((i+1)); [ $i -gt 100 ] && fail "postgres not ready"; sleep 0.1
  done
  CLEANUPS+=(pg_stop)
}

pg_restart_fast() {
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -o "$PG_OPTS" -m fast -w -t 60 \
    restart >/dev/null || { cat "$PG_DIR/server.log"; fail "pg_ctl restart"; }
}

pg_stop() {
  [ -n "$PG_DIR" ] || return 0
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

pg_q() {
  psql -X -q -v ON_ERROR_STOP=1 -A -t -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "$1"
}
