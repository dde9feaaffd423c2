#!/usr/bin/env bash
# `sluice profiles` (src/app/profiles_cmd.c) over a store whose rows are written with the
# sqlite3 CLI: the profiles and entities tables, an entity's measurements, --json (the
# /api/v1/profiles rendering), and a missing file is not created.
source "$(dirname "$0")/lib/common.bash"

if ! command -v sqlite3 >/dev/null; then
  ok "no sqlite3 CLI: skipped"
  exit 0
fi
DB="$T/p.db"
$SLUICE stellar --store "sqlite:$DB" -e 1 >/dev/null
sqlite3 "$DB" <<'SQL'
INSERT INTO measurements VALUES
 ('flows', '10.0.0.1', '[]', 900000, 1635700, 1472130000000, 1472130900000, 'Integer', 12, 0),
 ('flows', '10.0.0.1', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'Integer', 30, 0),
 ('flows', '10.0.0.1', '["tcp"]', 900000, 1635701, 1472130900000, 1472131800000, 'Double', 2.5, 0),
 ('flows', '10.0.0.2', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'Map', '{"a":[1,"x"]}', 0),
 ('names', 'h1', '[]', 900000, 1635701, 1472130900000, 1472131800000, 'String', 'alice', 0);
SQL

# ---- sluice profiles
$SLUICE profiles --store "sqlite:$DB" >out.txt
grep -Eq '^flows +2 +4 ' out.txt || fail "profiles table: $(cat out.txt)"
grep -Eq '^names +1 +1 ' out.txt || fail "profiles table: $(cat out.txt)"
ok "sluice profiles"
$SLUICE profiles --store "sqlite:$DB" flows >out.txt
grep -Eq '^10\.0\.0\.1 +3 ' out.txt || fail "entities table: $(cat out.txt)"
ok "sluice profiles PROFILE"
$SLUICE profiles --store "sqlite:$DB" flows 10.0.0.1 --groups '[]' >out.txt
expect_eq "measurements rows" "$(grep -c '^2016-08-25T13:' out.txt)" 2
$SLUICE profiles --store "sqlite:$DB" flows 10.0.0.1 --json >out.json
$PY - out.json <<'PYEOF' || fail "profiles --json: $(cat out.json)"
import json, sys
d = json.load(open(sys.argv[1]))
ms = d["measurements"]
assert d["profile"] == "flows" and d["entity"] == "10.0.0.1" and not d["truncated"], d
assert [(m["groups"], m["type"], m["value"]) for m in ms] == [(["tcp"], "Double", 2.5), ([], "Integer", 12), ([], "Integer", 30)], ms
PYEOF
ok "sluice profiles --json"
set +e
$SLUICE profiles --store "sqlite:$T/missing.db" 2>err.txt; rc=$?
set -e
expect_eq "missing file exit" "$rc" 1
[ ! -e "$T/missing.db" ] || fail "sluice profiles created a store"
ok "sluice profiles does not create a missing store"
