#!/usr/bin/env bash
# The Parquet fuzz corpus (random schemas, options and values, some not fitting) replayed with
# every written file saved, then read by DuckDB: the writer must never produce a file that
# DuckDB rejects.
source "$(dirname "$0")/lib/common.bash"
bash "$SL_SRC/scripts/node-deps.sh"
: "${SL_BUILD:?}"
mkdir -p files
SL_FUZZ_PARQUET_OUT=$T/files "$SL_BUILD/fuzz_parquet" "$SL_SRC/fuzz/corpus/parquet" >/dev/null \
  || fail "fuzz replay"
n=$(ls files | wc -l)
[ "$n" -gt 0 ] || fail "no files written"
node "$SL_SRC/tests/node/read_any.mjs" "$T/files" || fail "DuckDB rejected a file"
ok "$n fuzz files read by DuckDB"
