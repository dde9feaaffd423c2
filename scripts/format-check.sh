#!/usr/bin/env bash
# List C files that clang-format (.clang-format: LLVM base, 4 spaces, 100 columns, Linux
# braces) would change; exit 1 if any. `clang-format -i FILE` fixes one.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files -co --exclude-standard '*.c' '*.h'); do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "needs formatting: $f"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "format-check: ok"
exit $bad
