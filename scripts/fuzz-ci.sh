#!/usr/bin/env bash
# fuzz-ci.sh — the CI-sized fuzz campaign: every libFuzzer target for FUZZ_SECONDS each.
#
# Usage: scripts/fuzz-ci.sh [BUILD_DIR]   (default build/fuzz, the `fuzz` preset)
#   FUZZ_SECONDS    seconds per target (default 20)
#   FUZZ_TARGETS    space-separated names (json syslog ...) to run a subset (default: all)
#   FUZZ_ARTIFACTS  where crashing inputs and logs go (default BUILD_DIR/fuzz-ci)
#   FUZZ_MAX_LEN    largest input libFuzzer makes (default: its own, 4096 or the largest seed);
#                   long inputs find what short ones cannot (operator chains, deep nesting)
#
# Every fuzz/fuzz_<name>.c must have a built BUILD_DIR/fuzz_<name>; it runs on a scratch copy
# of fuzz/corpus/<name>/ (new inputs stay out of the repository; the checked-in corpus is
# replayed by ctest) with fuzz/dict/<name>.dict when there is one. Prints one row per target
# (runs, exec/s, cov, ft, corpus size) and exits 1 when any target crashed, leaked, timed out
# or ran out of memory; the input that did it is kept as FUZZ_ARTIFACTS/<name>-crash-<sha1>
# (replay it with BUILD_DIR/fuzz_<name> FILE, or the ASan build's corpus replayer).
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$SRC/build/fuzz}
SECS=${FUZZ_SECONDS:-20}
ART=${FUZZ_ARTIFACTS:-$B/fuzz-ci}
mkdir -p "$ART"
WORK=$(mktemp -d /tmp/sluice-fuzz-ci.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

names=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a names <<<"$FUZZ_TARGETS"
else
    for f in "$SRC"/fuzz/fuzz_*.c; do
        n=$(basename "$f" .c)
        names+=("${n#fuzz_}")
    done
fi

printf '%-18s %10s %8s %7s %7s %6s %s\n' target runs exec/s cov ft corpus result
failed=0
total_runs=0
for n in "${names[@]}"; do
    bin=$B/fuzz_$n
    if [ ! -x "$bin" ]; then
        printf '%-18s %s\n' "$n" "MISSING: $bin not built"
        failed=1
        continue
    fi
    corpus=$WORK/$n
    mkdir -p "$corpus"
    [ -d "$SRC/fuzz/corpus/$n" ] && cp -r "$SRC/fuzz/corpus/$n/." "$corpus/" 2>/dev/null
    dict=()
    [ -f "$SRC/fuzz/dict/$n.dict" ] && dict=(-dict="$SRC/fuzz/dict/$n.dict")
    [ -n "${FUZZ_MAX_LEN:-}" ] && dict+=(-max_len="$FUZZ_MAX_LEN")
    log=$ART/$n.log
    "$bin" -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$WORK/$n-" "${dict[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    ncorp=$(find "$corpus" -type f | wc -l)
    result=ok
    if [ $rc -ne 0 ]; then
        result="FAIL (exit $rc)"
        for a in "$WORK/$n"-*; do
            [ -f "$a" ] || continue
            kind=$(basename "$a" | sed "s/^$n-//; s/-.*//")
            keep=$ART/$n-$kind-$(sha1sum "$a" | cut -c1-12)
            cp "$a" "$keep"
            result="$result $kind: $keep"
        done
        failed=1
    fi
    total_runs=$((total_runs + ${runs:-0}))
    printf '%-18s %10s %8s %7s %7s %6s %s\n' "$n" "${runs:-?}" "${eps:-?}" "${cov:-?}" \
        "${ft:-?}" "$ncorp" "$result"
    if [ $rc -ne 0 ]; then
        grep -m1 -E 'ERROR: |SUMMARY: |deadly signal|runtime error' "$log" | sed 's/^/    /'
        echo "    log: $log"
    fi
done
echo "fuzz-ci: ${#names[@]} targets, ${SECS}s each, $total_runs runs in all," \
    "$([ $failed = 0 ] && echo 'no crash' || echo 'FAILED')"
exit $failed
