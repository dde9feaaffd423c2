#!/usr/bin/env bash
# Run every ctest test of a build dir and end with one line "N passed, N failed".
# Exit status is non-zero when any test failed (or none ran).
set -uo pipefail
dir=${1:-build/asan}
log=$(mktemp)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/tests/tsan.supp}
ctest --test-dir "$dir" --output-on-failure -j "${CTEST_JOBS:-2}" --timeout 600 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
total=$(grep -Eo 'tests failed out of [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
failed=$(grep -Eo '[0-9]+ tests failed out of' "$log" | tail -1 | grep -Eo '^[0-9]+')
rm -f "$log"
total=${total:-0}
failed=${failed:-0}
if [ "$total" -eq 0 ]; then
  echo "0 passed, 1 failed"
  echo "run-tests: no test ran" >&2
  exit 1
fi
echo "$((total - failed)) passed, ${failed} failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
