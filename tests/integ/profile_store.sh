#!/usr/bin/env bash
# The profile store from the shell: `sluice stellar --store` creates the documented schema,
# rows written with the sqlite3 CLI (as docs/profile-store.md describes them) are read back by
# PROFILE_GET with their Java types, and bad URLs fail clearly (`sluice profiles`: profiles_cli.sh).
source "$(dirname "$0")/lib/common.bash"

export SL_STELLAR_NOW_MS=1472131630748 # Thu 25 Aug 2016 13:27:10.748 UTC
DB="$T/p.db"

# ---- URL errors
set +e
$SLUICE stellar --store mysql:x -e 1 >out.txt 2>err.txt; rc=$?
set -e
expect_eq "unknown scheme exit" "$rc" 2
grep -q "unknown scheme 'mysql'" err.txt || fail "unknown scheme message: $(cat err.txt)"
set +e
$SLUICE stellar --store postgres://127.0.0.1:1/db -e 1 2>err.txt; rc=$?
set -e
expect_eq "postgres exit" "$rc" 2
grep -q "cannot connect" err.txt || fail "postgres message: $(cat err.txt)"
set +e
$SLUICE stellar -e "PROFILE_GET('p', 'e', PROFILE_FIXED(1, 'HOURS'))" 2>err.txt; rc=$?
set -e
expect_eq "no store exit" "$rc" 1
grep -q "no profile store configured; start with --store sqlite:PATH" err.txt ||
  fail "no store message: $(cat err.txt)"

# ---- an empty store, created on open
expect_eq "empty store" "$($SLUICE stellar --store "sqlite:$DB" -e "PROFILE_GET('p', 'e', PROFILE_FIXED(1, 'HOURS'))")" "[]"
[ -f "$DB" ] || fail "the store file was not created"
ok "store file created"

if ! command -v sqlite3 >/dev/null; then
  ok "no sqlite3 CLI: the rest is skipped"
  exit 0
fi
expect_eq "schema version" "$(sqlite3 "$DB" 'SELECT version FROM sluice_schema')" 1
expect_eq "journal mode" "$(sqlite3 "$DB" 'PRAGMA journal_mode')" wal

# ---- rows written by hand, read back by PROFILE_GET (periods 1635700, 1635701: 13:00, 13:15)
sqlite3 "$DB" <<'SQL'
INSERT INTO measurements VALUES
 ('flows', '10.0.0.1', '[]', 900000, 1635700, 1472130000000, 1472130900000, 'Integer', 12, 0),
 ('flows', '10.0.0.1', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'Integer', 30, 0),
 ('flows', '10.0.0.1', '["tcp"]', 900000, 1635701, 1472130900000, 1472131800000, 'Double', 2.5, 0),
 ('flows', '10.0.0.2', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'Map', '{"a":[1,"x"]}', 0),
 ('names', 'h1', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'String', 'alice', 0);
SQL
Q() { $SLUICE stellar --store "sqlite:$DB" -e "$1"; }
expect_eq "PROFILE_GET" "$(Q "PROFILE_GET('flows', '10.0.0.1', PROFILE_FIXED(30, 'MINUTES'))")" "[12, 30]"
expect_eq "Integer stays Integer" "$(Q "GET_LAST(PROFILE_GET('flows', '10.0.0.1', PROFILE_FIXED(30, 'MINUTES'))) + 2147483647")" "-2147483619"
expect_eq "groups" "$(Q "PROFILE_GET('flows', '10.0.0.1', PROFILE_FIXED(30, 'MINUTES'), ['tcp'])")" "[2.5]"
expect_eq "map value" "$(Q "PROFILE_GET('flows', '10.0.0.2', PROFILE_FIXED(30, 'MINUTES'))")" "[{a=[1, x]}]"
expect_eq "default value" "$(Q "PROFILE_GET('flows', '10.0.0.1', PROFILE_FIXED(1, 'HOURS'), [], {'profiler.default.value': 0})")" "[0, 0, 0, 12, 30]"
expect_eq "window" "$(Q "PROFILE_GET('flows', '10.0.0.1', PROFILE_WINDOW('from 20 minutes ago'))")" "[30]"
expect_eq "verbose" "$(Q "MAP_GET('period.start', GET_FIRST(PROFILE_VERBOSE('names', 'h1', PROFILE_FIXED(10, 'MINUTES'))))")" "1472130900000"
