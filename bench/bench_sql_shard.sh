#!/usr/bin/env bash
# bench_sql_shard.sh — the `sql` transform with and without sharding: an NDJSON file of EVENTS
# events over 100,000 keys → sql (tumbling-window COUNT/SUM GROUP BY the key, EMIT CHANGES) →
# null sink, `sluice run --once`, once with `workers: 1` (one engine) and once with
# `workers: 2` and `shard_by: K` (two engines, one per worker).
#   bash bench/bench_sql_shard.sh [BUILD_DIR=build/release] [EVENTS=1000000] [RUNS=5]
# Prints, for each, the best of RUNS (wall seconds minus those of the same pipeline over an
# empty file, so start-up and shutdown are not counted) and the CPU seconds of that run:
#   bench=sql_shard mode=unsharded workers=1 events=N seconds=S events_per_s=R cpu_s=C
#   bench=sql_shard mode=sharded workers=2 events=N seconds=S events_per_s=R cpu_s=C
#   bench=sql_shard speedup=X
# Run it on an otherwise idle machine: with other work on the cores, two workers cannot run
# at once and the speed-up says nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-1000000}; RUNS=${3:-5}
SLUICE=$PWD/$dir/sluice
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-shard.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
$PY - "$N" <<'PYEOF'
import sys
n = int(sys.argv[1])
with open("events.ndjson", "w") as f:
    for i in range(n):
        k = (i * 7919) % 100000
        f.write('{"K":"k%06d","K2":"g%03d","V":%d}\n' % (k, k % 1000, k % 977))
open("empty.ndjson", "w").close()
PYEOF

conf() { # conf NAME WORKERS INPUT EXTRA
  cat > "$1.yaml" <<EOF
workers: $2
sources:
  in: {type: file, path: $T/$3.ndjson}
transforms:
  q:
    type: sql
    inputs: [in]
    topic: s
$4
    statements: |
      CREATE STREAM S (K STRING, K2 STRING, V BIGINT) WITH (kafka_topic='s', value_format='JSON');
      CREATE TABLE T AS SELECT K, COUNT(*) AS C, SUM(V) AS SV FROM S
        WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY K;
sinks:
  out: {type: null, inputs: [q]}
EOF
}
conf unsharded-events 1 events ""
conf unsharded-empty 1 empty ""
conf sharded-events 2 events "    shard_by: K"
conf sharded-empty 2 empty "    shard_by: K"

# "wall cpu" of one run
timed() {
  /usr/bin/time -f "%e %U %S" -o t.txt "$SLUICE" run -c "$1.yaml" --once --no-status \
    > run.log 2>&1 || { echo "bench=sql_shard ERROR: $1: $(tail -3 run.log)" >&2; exit 1; }
  $PY -c "w, u, s = open('t.txt').read().split()[-3:]; print(w, float(u) + float(s))"
}

declare -A RATE
for mode in unsharded sharded; do
  best=1e9; cpu=0; empty=1e9
  for _ in $(seq "$RUNS"); do
    read -r w c < <(timed "$mode-events")
    read -r e _ < <(timed "$mode-empty")
    if $PY -c "import sys; sys.exit(0 if $w < $best else 1)"; then best=$w; cpu=$c; fi
    if $PY -c "import sys; sys.exit(0 if $e < $empty else 1)"; then empty=$e; fi
  done
  w=$([ "$mode" = sharded ] && echo 2 || echo 1)
  RATE[$mode]=$($PY -c "print($N / max($best - $empty, 1e-3))")
  $PY -c "
s = max($best - $empty, 1e-3)
print('bench=sql_shard mode=$mode workers=$w events=$N seconds=%.3f events_per_s=%.0f cpu_s=%.2f'
      % (s, $N / s, $cpu))"
done
$PY -c "print('bench=sql_shard speedup=%.2f' % (${RATE[sharded]} / ${RATE[unsharded]}))"
