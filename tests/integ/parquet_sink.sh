#!/usr/bin/env bash
# file (json) -> parquet sink: partition_by type, {field} and strftime path parts, a declared
# schema (one event that does not fit: a dead letter on pq.errors with field and reason), inferred schema
# in a second sink, roll_rows; every file is complete (renamed, no .tmp left) and DuckDB reads
# back every value.
source "$(dirname "$0")/lib/common.bash"
bash "$SL_SRC/scripts/node-deps.sh"

$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    for i in range(3000):
        t = ["conn", "dns", "http"][i % 3]
        ev = {"type": t, "seq": i, "host": "h%d" % (i % 2), "ts": 1700000000.5 + i,
              "id": {"orig_h": "10.0.0.%d" % (i % 250), "resp_p": 443},
              "tags": ["a", "b"] if i % 4 else []}
        f.write(json.dumps(ev) + "\n")
    # does not fit: seq is a string
    f.write(json.dumps({"type": "conn", "seq": "oops", "host": "h0"}) + "\n")
PYEOF
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
sinks:
  pq:
    type: parquet
    inputs: [in]
    path: "out/{type}/%Y/{host}.parquet"
    partition_by: type
    codec: zstd
    roll_rows: 400
    roll_interval: 1h
    schema:
      type: string!
      seq: int64!
      host: string
      ts: timestamp_us
      id: {orig_h: string, resp_p: uint16}
      tags: [string]
  inferred:
    type: parquet
    inputs: [in]
    path: "inf/all.parquet"
  dead:                              # the parquet sink's dead letters
    type: file
    inputs: [pq.errors]
    path: dead.json
YAML
timeout 120 $SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run --once"; }
grep -q 'field=seq reason=string value' log.txt || { cat log.txt; fail "reject log line"; }
expect_eq "dead letters on pq.errors" "$(count_lines dead.json)" 1
$PY - <<'PYEOF' || fail "dead letter content: $(cat dead.json)"
import json
d = json.loads(open("dead.json").readline())
assert d["component"] == "pq" and "field=seq" in d["error"], d
assert d["event"]["seq"] == "oops", d
PYEOF
[ -z "$(find out inf -name '*.tmp')" ] || fail "temp files left: $(find out inf -name '*.tmp')"
nfin=$(grep -c 'finished file' log.txt)
nfiles=$(find out inf -name '*.parquet' | wc -l)
expect_eq "finished notices = files" "$nfin" "$nfiles"
[ "$nfiles" -ge 9 ] || fail "expected rolled files, got $nfiles"
cat > check.mjs <<'JSEOF'
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const q = async (s) => (await con.runAndReadAll(s)).getRowObjectsJson();
const fail = (m) => { console.error('FAIL: ' + m); process.exit(1); };
const r = await q(`SELECT count(*)::INTEGER n, count(DISTINCT seq)::INTEGER d, min(seq)::INTEGER lo, max(seq)::INTEGER hi,
  bool_and(type = split_part(filename, '/', -3)) t, bool_and(host = replace(split_part(filename, '/', -1), '.parquet', '')
  OR regexp_matches(split_part(filename, '/', -1), host || '-[0-9]+\\.parquet')) h,
  bool_and(epoch_us(ts) = 1700000000500000 + seq * 1000000) ts_ok,
  bool_and(id.orig_h = '10.0.0.' || (seq % 250)::VARCHAR AND id.resp_p = 443) id_ok,
  bool_and(len(tags) = CASE WHEN seq % 4 = 0 THEN 0 ELSE 2 END) tags_ok
  FROM read_parquet('out/*/*/*.parquet', filename = true)`);
const x = r[0];
if (x.n !== 3000 || x.d !== 3000 || x.lo !== 0 || x.hi !== 2999) fail('rows ' + JSON.stringify(x));
for (const k of ['t', 'h', 'ts_ok', 'id_ok', 'tags_ok']) if (x[k] !== true) fail(k + ' ' + JSON.stringify(x));
const kv = await q(`SELECT DISTINCT decode(value) v FROM parquet_kv_metadata('out/*/*/*.parquet') WHERE decode(key) = 'sluice.message_type' ORDER BY v`);
if (JSON.stringify(kv.map((k) => k.v)) !== '["conn","dns","http"]') fail('kv ' + JSON.stringify(kv));
const inf = await q(`SELECT count(*)::INTEGER n, typeof(seq) ts, typeof(ts) tt, typeof(id) ti FROM read_parquet('inf/*.parquet') GROUP BY ALL`);
if (inf.length !== 1 || inf[0].n !== 3001 || inf[0].tt !== 'DOUBLE' || inf[0].ti !== 'JSON' || inf[0].ts !== 'VARCHAR')
  fail('inferred ' + JSON.stringify(inf));
console.log('ok: duckdb read every file');
JSEOF
cp check.mjs "$SL_SRC/tests/node/.check-$$.mjs"
node "$SL_SRC/tests/node/.check-$$.mjs"; rc=$?
rm -f "$SL_SRC/tests/node/.check-$$.mjs"
[ $rc -eq 0 ] || fail "duckdb check"
ok "parquet sink"
