#!/usr/bin/env bash
# bench_sql.sh — the `sql` transform end to end on one worker: an NDJSON file → sql
# (tumbling-window COUNT/SUM GROUP BY over 100k keys, EMIT CHANGES) → null sink, with
# `sluice run --once`, `workers: 1`.
#   bash bench/bench_sql.sh [BUILD_DIR=build/release] [EVENTS=2000000] [RUNS=3]
# Prints (best of RUNS; seconds are the run's wall time minus that of the same pipeline over
# an empty file, i.e. start-up and shutdown are not counted):
#   bench=sql_pipeline events=N seconds=S events_per_s=R written=W startup_s=E cpu_s=C target=...
# (cpu_s: user+sys of the whole run, every thread; the file source parses on its own thread)
# With FLUENT_BIT=/path/to/fluent-bit (a build of the peer the issue names; this script never
# builds it) the same file goes through Fluent Bit's stream processor in the same run: tail
# (read from head, exit at EOF, json parser) → [STREAM_TASK] CREATE STREAM ... SELECT K,
# COUNT(*), SUM(V) FROM TAG:'x' WINDOW TUMBLING (60 SECOND) GROUP BY K → null (Flush 0.1,
# the fastest of the settings tried), and the ratio is printed. Fluent Bit's run ends on a
# one-second tick, so its seconds are taken from its own log (millisecond stamps): from the
# last start-up line to the tail input's "ended, stop" (its stream processor runs inside
# the input's append, so every record has been through it by then); the same run without
# the stream task shows what the stream processor itself costs:
#   bench=sql_pipeline_peer peer=fluent-bit events=N seconds=S events_per_s=R wall_s=W
#   bench=sql_pipeline_peer_nosp peer=fluent-bit events=N seconds=S events_per_s=R
#   bench=sql_pipeline_ratio sluice_over_peer=X peer_cpu_over_sluice_cpu=Y
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-2000000}; RUNS=${3:-3}
SLUICE=$PWD/$dir/sluice
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-sql.XXXXXX)
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

sluice_conf() {
  cat > "sluice-$1.yaml" <<EOF
workers: 1
sources:
  in:
    type: file
    path: $T/$1.ndjson
transforms:
  q:
    type: sql
    inputs: [in]
    topic: s
    statements: |
      CREATE STREAM S (K STRING, K2 STRING, V BIGINT) WITH (kafka_topic='s', value_format='JSON');
      CREATE TABLE T AS SELECT K, COUNT(*) AS C, SUM(V) AS SV FROM S
        WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY K;
sinks:
  out:
    type: null
    inputs: [q]
EOF
}
sluice_conf events
sluice_conf empty

now() { $PY -c 'import time; print(time.time())'; }
# wall seconds of one command (stdout+stderr to $1, user+sys seconds to $1.cpu)
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -o "$out.cpu" -f '%U %S' "$@" > "$out" 2>&1 ||
    { echo "bench=sql_pipeline ERROR: $* failed: $(tail -3 "$out")" >&2; exit 1; }
  t1=$(now)
  $PY -c "print($t1 - $t0)"
}
cpu() { awk '{print $1 + $2}' "$1.cpu"; }
best() { $PY -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }

run_sluice() {
  local s0=() s1=() c1=()
  for _ in $(seq "$RUNS"); do
    s0+=("$(timed empty.log "$SLUICE" run -c sluice-empty.yaml --once --no-status)")
    s1+=("$(timed events.log "$SLUICE" run -c sluice-events.yaml --once --no-status)")
    c1+=("$(cpu events.log)")
  done
  local written
  written=$(grep -o 'written [0-9]*' events.log | tail -1 | sed 's/written //')
  $PY -c "
s = $(best "${s1[@]}") - $(best "${s0[@]}")
r = $N / s
print('bench=sql_pipeline events=$N seconds=%.3f events_per_s=%.0f written=${written:-?}'
      ' startup_s=%.3f cpu_s=%.3f target=%s'
      % (s, r, $(best "${s0[@]}"), $(best "${c1[@]}"), 'met' if r >= 1.5e6 else 'MISSED'))
print(r, $(best "${c1[@]}"), file=open('sluice.rate', 'w'))"
}

peer_conf() { # $1: input file, $2: config name, $3: "" or a Streams_File line
  cat > "parsers.conf" <<'EOF'
[PARSER]
    Name   json
    Format json
EOF
  cat > streams.conf <<'EOF'
[STREAM_TASK]
    Name win
    Exec CREATE STREAM win AS SELECT K, COUNT(*), SUM(V) FROM TAG:'x' WINDOW TUMBLING (60 SECOND) GROUP BY K;
EOF
  cat > "$2.conf" <<EOF
[SERVICE]
    Flush        0.1
    Grace        0
    Log_Level    info
    Parsers_File $T/parsers.conf
    $3
[INPUT]
    Name          tail
    Tag           x
    Path          $T/$1.ndjson
    Read_from_Head On
    Exit_On_Eof   On
    Parser        json
    Mem_Buf_Limit 2GB
    Buffer_Chunk_Size 1MB
    Buffer_Max_Size 1MB
[OUTPUT]
    Name  null
    Match x
EOF
}

# seconds from the last start-up log line to "ended, stop" (Fluent Bit's ms log stamps)
peer_seconds() {
  $PY - "$1" <<'PYEOF'
import re, sys, datetime
t0 = t1 = None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\[(\d+/\d+/\d+ \d+:\d+:\d+\.\d+)\]", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f").timestamp()
    if "ended, stop" in line:
        t1 = t
        break
    t0 = t
print(t1 - t0 if t0 is not None and t1 is not None else "nan")
PYEOF
}

run_peer() {
  peer_conf events peer-sp "Streams_File $T/streams.conf"
  peer_conf events peer-nosp ""
  local s1=() s2=() w=() c1=()
  for _ in $(seq "$RUNS"); do
    w+=("$(timed peer-sp.log "$FLUENT_BIT" -c peer-sp.conf)")
    c1+=("$(cpu peer-sp.log)")
    grep -q 'ended, stop' peer-sp.log ||
      { echo "bench=sql_pipeline ERROR: fluent-bit did not finish the file" >&2; exit 1; }
    s1+=("$(peer_seconds peer-sp.log)")
    timed peer-nosp.log "$FLUENT_BIT" -c peer-nosp.conf > /dev/null
    s2+=("$(peer_seconds peer-nosp.log)")
  done
  local ver
  ver=$("$FLUENT_BIT" --version | head -1)
  $PY -c "
s = $(best "${s1[@]}"); s2 = $(best "${s2[@]}")
r = $N / s
sl, slcpu = map(float, open('sluice.rate').read().split())
print('bench=sql_pipeline_peer peer=fluent-bit version=\"$ver\" events=$N seconds=%.3f'
      ' events_per_s=%.0f wall_s=%.3f cpu_s=%.3f' % (s, r, $(best "${w[@]}"), $(best "${c1[@]}")))
print('bench=sql_pipeline_peer_nosp peer=fluent-bit events=$N seconds=%.3f events_per_s=%.0f'
      % (s2, $N / s2))
print('bench=sql_pipeline_ratio sluice_over_peer=%.2f peer_cpu_over_sluice_cpu=%.2f'
      % (sl / r, $(best "${c1[@]}") / slcpu))"
}

run_sluice
if [ -n "${FLUENT_BIT:-}" ]; then
  run_peer
fi
