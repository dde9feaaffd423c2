#!/usr/bin/env bash
# sqlite sink against a database file, checked with the sqlite3 CLI: create: true with
# inferred types (int, double, text with tabs/newlines, bool as 0/1, nested map as JSON text,
# null, timestamp as ISO-8601 text), drop_fields, a columns subset with a nested path,
# upserts with repeated keys within and across transactions (and a replay), rows that break
# a CHECK / NOT NULL constraint of a pre-created table as dead letters on lite.errors while
# every other row commits; WAL mode.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.bash"
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3 CLI"; exit 77; }
q() { sqlite3 -batch -noheader "$@"; }

$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    for i in range(2500):
        ev = {"id": i, "score": i / 4, "name": "n%d" % i, "ok": i % 2 == 0,
              "nested": {"a": {"b": i % 7}}, "gone": None, "ROWKEY": "rk", "ROWTIME": 1}
        if i == 7:
            ev["name"] = "tab\there\nnl\\bs \u00e9"
        f.write(json.dumps(ev) + "\n")
with open("up.json", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"k": "key%d" % (i % 100), "v": i}) + "\n")
    f.write(json.dumps({"k": "dup", "v": 1}) + "\n")
    f.write(json.dumps({"k": "dup", "v": 2}) + "\n")
with open("bad.json", "w") as f:
    for i in range(1500):
        ev = {"id": i, "n": i}
        if i in (10, 1400): ev["n"] = -1      # CHECK (n >= 0)
        if i == 700: del ev["n"]              # NOT NULL
        f.write(json.dumps(ev) + "\n")
PYEOF
cat > conn.log <<'EOF'
{"ts":1700000000.123456,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1234,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}
EOF
mkdir -p db
sqlite3 db/strict.db "CREATE TABLE strict_t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))"
cat > s.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
  upin: {type: file, path: [up.json]}
  bad: {type: file, path: [bad.json]}
  zeek: {type: file, path: [conn.log], format: zeek}
sinks:
  all:
    type: sqlite
    inputs: [in]
    path: db/events.db
    table: events
    create: true
    batch: 1000
    drop_fields: [ROWKEY, ROWTIME]
  some:
    type: sqlite
    inputs: [in]
    path: db/events.db
    table: main.sub
    create: true
    columns: [id, nested.a.b, name]
  up:
    type: sqlite
    inputs: [upin]
    path: db/up.db
    table: upserted
    create: true
    upsert_keys: [k]
    batch: 700
  z:
    type: sqlite
    inputs: [zeek]
    path: db/up.db
    table: conns
    create: true
  lite:
    type: sqlite
    inputs: [bad]
    path: db/strict.db
    table: strict_t
  dead:
    type: file
    inputs: [lite.errors]
    path: dead.json
YAML
# One worker: "upsert last wins" below needs up.json's rows in file order at the sink; with
# several workers two batches of one source may reach a sink in either order (docs/runtime.md)
timeout 60 $SLUICE run -c s.yaml --once --workers 1 --no-status 2> log1.txt || { cat log1.txt; fail "run"; }
expect_eq "events rows" "$(q db/events.db 'SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events')" "2500|2500|0|2499"
expect_eq "events schema" "$(q db/events.db "SELECT group_concat(name || ':' || type, ',') FROM pragma_table_info('events')")" \
  "id:INTEGER,score:REAL,name:TEXT,ok:BOOLEAN,nested:TEXT,gone:TEXT"
expect_eq "values" "$(q db/events.db "SELECT count(*) FROM events WHERE score = id / 4.0 AND (name = 'n' || id OR id = 7) AND ok = (id % 2 = 0) AND json_extract(nested, '\$.a.b') = id % 7 AND gone IS NULL")" 2500
expect_eq "escaped text" "$(q db/events.db "SELECT name = 'tab' || char(9) || 'here' || char(10) || 'nl\\bs é' FROM events WHERE id = 7")" 1
expect_eq "subset" "$(q db/events.db "SELECT count(*), sum(\"nested.a.b\" = id % 7) FROM sub")" "2500|2500"
expect_eq "subset schema" "$(q db/events.db "SELECT group_concat(name, ',') FROM pragma_table_info('sub')")" "id,nested.a.b,name"
expect_eq "upsert rows" "$(q db/up.db 'SELECT count(*), count(DISTINCT k) FROM upserted')" "101|101"
expect_eq "upsert last wins" "$(q db/up.db "SELECT count(*) FROM upserted WHERE k <> 'dup' AND v = 2900 + CAST(substr(k, 4) AS INTEGER)")" 100
expect_eq "upsert dup in one batch" "$(q db/up.db "SELECT v FROM upserted WHERE k = 'dup'")" 2
expect_eq "timestamp text" "$(q db/up.db "SELECT ts FROM conns")" "2023-11-14T22:13:20.123456Z"
expect_eq "wal mode" "$(q db/up.db 'PRAGMA journal_mode')" wal
expect_eq "good rows committed" "$(q db/strict.db 'SELECT count(*), sum(n) FROM strict_t')" "1497|$(( 1499*1500/2 - 10 - 1400 - 700 ))"
expect_eq "dead letters" "$(count_lines dead.json)" 3
$PY - <<'PYEOF' || fail "dead letter content: $(cat dead.json)"
import json
d = [json.loads(l) for l in open("dead.json")]
assert sorted(x["event"]["id"] for x in d) == [10, 700, 1400], d
for x in d:
    assert x["component"] == "lite", x
    want = "NOT NULL constraint failed" if x["event"]["id"] == 700 else "CHECK constraint failed"
    assert want in x["error"], x
PYEOF
# a replay of the upsert input changes nothing
timeout 60 $SLUICE run -c s.yaml --once --no-status 2> log2.txt || { cat log2.txt; fail "replay"; }
expect_eq "upsert replay" "$(q db/up.db 'SELECT count(*) FROM upserted')" 101
ok "sqlite sink"
