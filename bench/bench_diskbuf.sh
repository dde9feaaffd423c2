#!/usr/bin/env bash
# bench_diskbuf.sh — what a disk buffer costs: file -> null with the default memory buffer
# and with `buffer: {type: disk, sync: batch}`, alternated in the same run (REPS times each,
# medians), then the segment log alone (bench_diskbuf: append, recovery of a large buffer,
# read + ack).
#   bash bench/bench_diskbuf.sh [BUILD_DIR=build/release] [EVENTS=2000000] [REPS=3] [MIB=1024]
# Prints:
#   bench=diskbuf_pipeline mode=memory|disk events=N seconds=S events_per_s=R [fsyncs=F
#     fsyncs_per_s=Y batches=B]    (one line per run, then the medians:)
#   bench=diskbuf_ratio memory_events_per_s=A disk_events_per_s=B ratio=B/A target=0.5
#   bench=diskbuf_append ... / bench=diskbuf_recover ... / bench=diskbuf_read ...
# Never asserts: the figures go to docs/PERFORMANCE.md with this command line.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-2000000}; REPS=${3:-3}; MIB=${4:-1024}
SLUICE=$PWD/$dir/sluice
BENCH=$PWD/$dir/bench_diskbuf
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-diskbuf.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
$PY - "$N" <<'PYEOF'
import sys
n = int(sys.argv[1])
with open("in.json", "w") as f:
    for i in range(n):
        f.write('{"ts":"2024-01-02T03:04:05.%06dZ","src":"10.0.%d.%d","dst":"192.168.1.%d",'
                '"port":%d,"bytes":%d,"proto":"tcp","msg":"flow %d"}\n'
                % (i % 1000000, i // 250 % 250, i % 250, i % 200, 1024 + i % 60000, i % 70000, i))
PYEOF
cat > memory.yaml <<'YAML'
sources:
  in: {type: file, path: in.json}
sinks:
  out: {type: "null", inputs: [in]}
YAML
cat > disk.yaml <<'YAML'
sources:
  in: {type: file, path: in.json}
sinks:
  out: {type: "null", inputs: [in], buffer: {type: disk, path: buf, sync: batch}}
YAML
declare -A secs
for r in $(seq "$REPS"); do
  for mode in memory disk; do
    rm -rf buf
    t0=$(date +%s.%N)
    $SLUICE run -c $mode.yaml --once --no-status 2> log.txt
    t1=$(date +%s.%N)
    s=$($PY -c "print(round($t1 - $t0, 3))")
    out=$(grep -Eo 'written [0-9]+' log.txt | grep -Eo '[0-9]+$')
    [ "$out" = "$N" ] || { echo "bench=diskbuf_pipeline ERROR mode=$mode written=$out"; cat log.txt; exit 1; }
    secs[$mode]="${secs[$mode]:-} $s"
    extra=""
    if [ $mode = disk ]; then
      f=$(grep -Eo '[0-9]+ fsyncs' log.txt | grep -Eo '^[0-9]+')
      b=$(grep -Eo '[0-9]+ batches appended' log.txt | grep -Eo '^[0-9]+')
      extra=" fsyncs=$f fsyncs_per_s=$($PY -c "print(round($f / $s, 1))") batches=$b"
    fi
    echo "bench=diskbuf_pipeline mode=$mode events=$N seconds=$s events_per_s=$($PY -c "print(int($N / $s))")$extra"
  done
done
$PY - "$N" "${secs[memory]}" "${secs[disk]}" <<'PYEOF'
import statistics, sys
n = int(sys.argv[1])
m = statistics.median(float(x) for x in sys.argv[2].split())
d = statistics.median(float(x) for x in sys.argv[3].split())
print("bench=diskbuf_ratio memory_events_per_s=%d disk_events_per_s=%d ratio=%.2f target=0.5"
      % (n / m, n / d, m / d))
PYEOF
"$BENCH" "$T/dbuf" "$MIB"
