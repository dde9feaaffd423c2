#!/usr/bin/env bash
# The Partout master's store on SQLite (the default): see lib/partout_store_body.bash.
source "$(dirname "$0")/lib/common.bash"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
STORE=db/partout.db
source "$(dirname "$0")/lib/partout_store_body.bash"
