#!/usr/bin/env bash
# Run every benchmark of a (release) build dir; each prints `bench=... key=value` lines.
set -euo pipefail
dir=${1:-build/release}
echo "# sluice benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)"
for b in "$dir"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
# end-to-end benchmarks that drive the sluice binary (bench/*.sh BUILD_DIR)
for s in "$(dirname "$0")"/../bench/*.sh; do
  [ -f "$s" ] || continue
  echo "== $(basename "$s")"
  bash "$s" "$dir"
done
