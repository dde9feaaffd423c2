#!/usr/bin/env bash
# Install the pinned npm packages of tests/node (DuckDB for Node, hyparquet) with `npm ci`.
# Idempotent: does nothing when node_modules matches package-lock.json.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/node" && pwd)"
stamp="$dir/node_modules/.sluice-lock"
if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "node-deps: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
echo "node-deps: npm ci in tests/node"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$dir/package-lock.json" "$stamp"
