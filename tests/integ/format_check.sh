#!/usr/bin/env bash
# Every C file is as clang-format (.clang-format) writes it: scripts/format-check.sh is clean.
set -euo pipefail
cd "${SL_SRC:?}"
command -v clang-format >/dev/null || { echo "SKIP: no clang-format"; exit 0; }
bash scripts/format-check.sh
