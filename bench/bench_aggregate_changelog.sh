#!/usr/bin/env bash
# bench_aggregate_changelog.sh — what `changelog:` costs the aggregate transform: one node
# reads N records from a librdkafka mock cluster (3 brokers on loopback, kafkatool mock),
# kafka (json, 48 partitions: the mock cluster keeps at most 5 MiB of each) -> eval (event time, a user out of USERS) -> aggregate (tumbling
# 1 min by event time, group by user: count, sum, distinct, top_k 3) -> null, with --once:
#   plain      one table, one watermark (allowed_lateness 3h, the whole input: the partitions
#              are read in turns, and a smaller lateness drops the ones read later)
#   changelog  a table per task (partition), checkpointed every INTERVAL (default 5s) and at
#              the end, to a compacted changelog topic
#   bash bench/bench_aggregate_changelog.sh [BUILD_DIR=build/release] [N=2000000] [RUNS=3]
# Prints per run: `bench=aggregate_changelog mode=M events=N s=S events_per_s=R cpu_s=C
# events_per_cpu_s=E rows=W tasks_checkpointed=K` (S and R include joining the consumer group, about
# 3 s on the mock cluster; C is the node's user+system CPU), and the ratios changelog / plain
# of the best run of each.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}
N=${2:-2000000}
RUNS=${3:-3}
INTERVAL=${INTERVAL:-5s}
USERS=${USERS:-20000}
SLUICE=$dir/sluice
KT=$dir/kafkatool
[ -x "$KT" ] || { echo "bench=aggregate_changelog skipped: no $KT"; exit 0; }
T=$(mktemp -d /tmp/sluice-bench-aggcl.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
mkfifo "$T/mock.in"
sleep 100000 >"$T/mock.in" &
PIDS+=($!)
topics=()
for r in $(seq "$RUNS"); do topics+=(-t "aggstate$r:6"); done
"$KT" mock -t in:48 "${topics[@]}" <"$T/mock.in" >"$T/boot" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/boot" ] && break; sleep 0.1; done
B=$(cat "$T/boot")
"$KT" produce -B "$B" -t in -n "$N" -s 80 -k 1000 2>/dev/null

# yaml GROUP MODE RUN (each run its own changelog topic: a new group restoring another run's
# tasks would skip the input they hold)
yaml() {
  cat <<YAML
sources:
  k: {type: kafka, brokers: "$B", group: $1, topics: in, max_inflight: 256}
transforms:
  e:
    type: eval
    inputs: [k]
    set: {ts_ms: "1700000000000L + seq * 2", user: "FORMAT('u%d', TO_INTEGER(seq - $USERS * FLOOR(seq / $USERS.0)))"}
  w:
    type: aggregate
    inputs: [e]
    window: tumbling
    size: 60s
    time_field: ts_ms
    group_by: {user: "user"}
    aggregates: {n: "count()", total: "sum(seq)", keys: "distinct(key)", top: "top_k(key, 3)"}
    max_groups: 5000000
YAML
  if [ "$2" = changelog ]; then
    echo "    changelog: {topic: aggstate$3}"
    echo "    changelog_interval: $INTERVAL"
  else
    echo "    allowed_lateness: 3h"
  fi
  cat <<YAML
sinks:
  out: {type: file, inputs: [w], path: "$T/out-$1.json"}
YAML
}

declare -A BEST BESTC
for r in $(seq "$RUNS"); do
  for mode in plain changelog; do
    g="$mode$r"
    yaml "$g" "$mode" "$r" >"$T/$g.yaml"
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$T/time" "$SLUICE" run --once -c "$T/$g.yaml" >"$T/$g.log" 2>&1
    t1=$(date +%s.%N)
    read -r us ss <"$T/time"
    s=$(echo "$t1 - $t0" | bc -l)
    rate=$(echo "$N / $s" | bc)
    rows=$(cat "$T/out-$g.json"* | wc -l)
    ck=$(grep -c "checkpoint k:" "$T/$g.log" || true)
    cpu=$(echo "$us + $ss" | bc -l)
    per_cpu=$(echo "$N / $cpu" | bc)
    printf 'bench=aggregate_changelog mode=%s events=%d s=%.2f events_per_s=%d cpu_s=%.2f events_per_cpu_s=%d rows=%d tasks_checkpointed=%s\n' \
      "$mode" "$N" "$s" "$rate" "$cpu" "$per_cpu" "$rows" "$ck"
    [ "${BEST[$mode]:-0}" -lt "$rate" ] && BEST[$mode]=$rate
    [ "${BESTC[$mode]:-0}" -lt "$per_cpu" ] && BESTC[$mode]=$per_cpu
    rm -f "$T/out-$g.json"*
  done
done
printf 'ratio events_per_s=%.2f events_per_cpu_s=%.2f (changelog / plain, best of %d runs each)\n' \
  "$(echo "${BEST[changelog]} / ${BEST[plain]}" | bc -l)" \
  "$(echo "${BESTC[changelog]} / ${BESTC[plain]}" | bc -l)" "$RUNS"
