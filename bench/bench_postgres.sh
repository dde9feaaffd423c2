#!/usr/bin/env bash
# bench_postgres.sh — NDJSON file → sluice → postgres sink (COPY, batch rows per transaction)
# against psql's `\copy t FROM file` of the same rows (COPY text) into an identical table, in
# the same run, on a PostgreSQL 15 server started here (tests/integ/lib/postgres.bash; default
# settings: fsync on).
#   bash bench/bench_postgres.sh [BUILD_DIR=build/release] [ROWS=200000] [BATCH=5000] [RUNS=3]
# Prints per run `bench=postgres what=sluice|psql_copy rows=N seconds=S rows_per_s=R`, then
# `bench=postgres rows=N batch=B sluice_rows_per_s=R copy_rows_per_s=R ratio=X` with the best
# run of each. The sluice time is the whole `sluice run --once` (start, JSON parse, COPY,
# commits, exit); the psql time is the whole `psql -c "\copy ..."`. Row counts are checked.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-200000}; BATCH=${3:-5000}; RUNS=${4:-3}
SLUICE=$(cd "$dir" && pwd)/sluice
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-pg.XXXXXX)
cleanup() { rm -rf "$T"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
source tests/integ/lib/postgres.bash
pg_start
cd "$T"
$PY - "$N" <<'PYEOF'
import json, sys
n = int(sys.argv[1])
with open("rows.json", "w") as j, open("rows.tsv", "w") as t:
    for i in range(n):
        host = "host-%d.example.org" % (i % 5000)
        msg = "GET /index.html?q=%d HTTP/1.1" % i
        port = [53, 80, 443, 22][i % 4]
        b = i * 1.5
        ok = i % 3 == 0
        ts = "2024-01-01T00:%02d:%02d.%06dZ" % (i // 60 % 60, i % 60, i % 1000000)
        j.write(json.dumps({"id": i, "ts": ts, "host": host, "port": port, "bytes": b,
                            "ok": ok, "msg": msg}) + "\n")
        t.write("%d\t%s\t%s\t%d\t%r\t%s\t%s\n" % (i, ts, host, port, b, "true" if ok else "false", msg))
PYEOF
schema="(id bigint, ts timestamptz, host text, port int, bytes double precision, ok boolean, msg text)"
pg_q "CREATE TABLE t_sluice $schema; CREATE TABLE t_copy $schema"
cat > p.yaml <<YAML
sources:
  in: {type: file, path: [rows.json]}
sinks:
  pg:
    type: postgres
    inputs: [in]
    dsn: "$PG_DSN"
    table: t_sluice
    columns: [id, ts, host, port, bytes, ok, msg]
    batch: $BATCH
YAML
now() { date +%s.%N; }
best_s=0; best_c=0
for run in $(seq "$RUNS"); do
  pg_q "TRUNCATE t_sluice; TRUNCATE t_copy; CHECKPOINT"
  t0=$(now)
  "$SLUICE" run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "sluice run"; }
  t1=$(now)
  [ "$(pg_q 'SELECT count(*) FROM t_sluice')" = "$N" ] || fail "t_sluice rows"
  pg_q "CHECKPOINT"
  t2=$(now)
  psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "\\copy t_copy FROM rows.tsv"
  t3=$(now)
  [ "$(pg_q 'SELECT count(*) FROM t_copy')" = "$N" ] || fail "t_copy rows"
  read -r rs rc < <($PY -c "print($N/($t1-$t0), $N/($t3-$t2))")
  printf 'bench=postgres what=sluice rows=%d seconds=%.3f rows_per_s=%.0f\n' "$N" "$($PY -c "print($t1-$t0)")" "$rs"
  printf 'bench=postgres what=psql_copy rows=%d seconds=%.3f rows_per_s=%.0f\n' "$N" "$($PY -c "print($t3-$t2)")" "$rc"
  best_s=$($PY -c "print(max($best_s, $rs))"); best_c=$($PY -c "print(max($best_c, $rc))")
done
[ "$(pg_q "SELECT count(*) FROM t_sluice s JOIN t_copy c USING (id) WHERE (s.*)::text = (c.*)::text")" = "$N" ] ||
  fail "sluice's rows differ from psql's"
printf 'bench=postgres rows=%d batch=%d sluice_rows_per_s=%.0f copy_rows_per_s=%.0f ratio=%.2f\n' \
  "$N" "$BATCH" "$best_s" "$best_c" "$($PY -c "print($best_s/$best_c)")"
