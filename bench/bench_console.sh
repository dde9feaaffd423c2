#!/usr/bin/env bash
# bench_console.sh — what the web console costs a busy pipeline: the same run without the API,
# with the API (its history thread, no samples) and with `api: {samples: 50}` (the pipeline
# tap that keeps the last 50 events of every component's output and errors, docs/console.md):
#   generator (conn, full speed, N events) -> filter -> null, `sluice run --once --workers 2`
#   bash bench/bench_console.sh [BUILD_DIR=build/release] [N=30000000] [ROUNDS=3]
# Rounds alternate the three configurations; prints per configuration the median wall time:
#   bench=console api=none|nosamples|samples50 events=N median_s=S events_per_s=R ratio=S/S_none
# Only what the machine does during the run counts: read the ratios, not the rates.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}
N=${2:-30000000}
ROUNDS=${3:-3}
SLUICE=$(pwd)/$dir/sluice
[ -x "$SLUICE" ] || { echo "bench_console: no $SLUICE" >&2; exit 1; }
T=$(mktemp -d /tmp/sluice-bench-console.XXXXXX)
trap 'rm -rf "$T"' EXIT
for v in none nosamples samples50; do
  {
    case $v in
      nosamples) echo 'api: {listen: "127.0.0.1:0"}' ;;
      samples50) echo 'api: {listen: "127.0.0.1:0", samples: 50}' ;;
    esac
    cat <<EOF
sources:
  gen: {type: generator, types: [conn], count: $N, seed: 1}
transforms:
  f: {type: filter, inputs: [gen], condition: "proto == 'tcp' || proto == 'udp'"}
sinks:
  out: {type: null, inputs: [f]}
EOF
  } > "$T/$v.yaml"
done
declare -A times
for r in $(seq "$ROUNDS"); do
  for v in none nosamples samples50; do
    s=$(date +%s%N)
    "$SLUICE" run -c "$T/$v.yaml" --once --no-status --workers 2 2>/dev/null
    e=$(date +%s%N)
    times[$v]="${times[$v]:-} $(( (e - s) / 1000000 ))"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median "${times[none]}")
for v in none nosamples samples50; do
  m=$(median "${times[$v]}")
  awk -v v="$v" -v n="$N" -v m="$m" -v b="$base" 'BEGIN {
    printf "bench=console api=%s events=%d median_s=%.3f events_per_s=%.0f ratio=%.3f\n",
      v, n, m / 1000, n / (m / 1000), m / b }'
done
