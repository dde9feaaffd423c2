#!/usr/bin/env bash
# Source rules (banned functions, raw allocation, layering): scripts/checksrc.sh must be clean.
set -euo pipefail
cd "${SL_SRC:?}"
bash scripts/checksrc.sh
