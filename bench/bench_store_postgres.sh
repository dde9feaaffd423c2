#!/usr/bin/env bash
# The profile store and the Partout store on SQLite and on PostgreSQL in the same run (bench/bench_store.c: puts,
# then 96-period PROFILE_GET reads on 1 and 4 threads, idle and under a writer), on a
# throw-away PostgreSQL 15 cluster on loopback (tests/integ/lib/postgres.bash).
#   bash bench/bench_store_postgres.sh [BUILD_DIR] [ENTITIES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
N=${2:-10000}
PY=/usr/bin/python3
fail() { echo "bench_store_postgres: $*" >&2; exit 1; }
cleanup() { :; }
source "$ROOT/tests/integ/lib/postgres.bash"
pg_start
echo "# sqlite"
"$BUILD/bench_store" "$N"
echo "# postgres $("$PG_BIN/postgres" --version)"
"$BUILD/bench_store" "$N" "postgres://postgres@127.0.0.1:$PGPORT/postgres"
echo "# the Partout store, 10,000 agents x 5 aggregates of 12 leaves"
"$BUILD/bench_partout_store"
"$BUILD/bench_partout_store" "postgres://postgres@127.0.0.1:$PGPORT/postgres"
