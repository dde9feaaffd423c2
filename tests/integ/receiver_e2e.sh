#!/usr/bin/env bash
# The aggregator's upload path on one machine: file (json) -> parquet (partition_by type,
# roll_rows) -> receiver sink -> `sluice receiver`:
#   A. every finished file is stored once at {type}/{date}/{id}-{time}.parquet with the bytes
#      the sink wrote (keep_files keeps a copy to compare), the rows add up, the spool is
#      emptied, the description lands in aggregators.json; DuckDB reads every stored file
#      (when tests/node is installed);
#   B. a wrong api key: the receiver answers 401 and stores nothing, the sink keeps the files
#      in its spool (credential error, retried), then a restart with the right key uploads
#      them;
#   C. SIGTERM: the receiver exits 0 with its counters.
source "$(dirname "$0")/lib/common.bash"

$PY - <<'PYEOF'
import json
types = ["GENERAL", "HTTP", "SMB"]
with open("in.json", "w") as f:
    for i in range(650):
        f.write(json.dumps({"type": types[i % 3], "seq": i, "msg": "event %d" % i}) + "\n")
PYEOF

PORT=$(free_port)
printf 'k-123\n' > keys.txt
$SLUICE receiver --listen 127.0.0.1:$PORT --root "$T/root" --keys keys.txt --path /s3 \
  2> rlog.txt &
RPID=$!; PIDS+=($RPID)
wait_port "$PORT"

# config NAME KEY EXTRA...
config() {
  local name=$1 key=$2
  shift 2
  {
    echo "sources:"
    echo "  in: {type: file, path: [in.json], mode: read, start_at: beginning}"
    echo "sinks:"
    echo "  pq:"
    echo "    type: parquet"
    echo "    inputs: [in]"
    echo "    path: \"spool/{type}/{type}-%Y%m%d-%H%M%S.parquet\""
    echo "    partition_by: type"
    echo "    roll_rows: 100"
    echo "    roll_interval: 1h"
    echo "  up:"
    echo "    type: receiver"
    echo "    files_from: pq"
    echo "    url: \"http://127.0.0.1:$PORT/s3\""
    echo "    api_key: $key"
    echo "    aggregator_id: agg-7"
    echo "    description: \"integration box\""
    echo "    retry_initial: 100ms"
    echo "    retry_max: 400ms"
    for o in "$@"; do echo "    $o"; done
  } > "$name"
}
stored() { find "$T/root" -name '*.parquet' | wc -l | tr -d ' '; }

# ---- A
config a.yaml k-123 "keep_files: true"
timeout 60 $SLUICE run -c a.yaml --once --no-status 2> a.log || { cat a.log; fail "run A"; }
fin=$(grep -c 'finished file' a.log)
expect_eq "A: files finished" "$fin" 9
expect_eq "A: files stored" "$(stored)" "$fin"
expect_eq "A: parquet files left in the spool (outside uploaded/)" \
  "$(find spool -name '*.parquet' ! -path 'spool/uploaded/*' | wc -l | tr -d ' ')" 0
expect_eq "A: stored log lines" "$(grep -c 'msg="stored path=' rlog.txt)" "$fin"
# every stored file is one the sink wrote, byte for byte
for f in $(find spool/uploaded -name '*.parquet'); do
  m=0
  for g in $(find "$T/root/$(basename "$(dirname "$f")")" -name '*.parquet'); do
    cmp -s "$f" "$g" && m=$((m + 1))
  done
  [ $m = 1 ] || fail "A: $f stored $m times"
done
ok "A: every finished file stored once, bytes identical"
rows=$(grep -o 'msg="stored path=[^"]* rows=[0-9]*' rlog.txt | sed 's/.*rows=//' | awk '{s += $1} END {print s}')
expect_eq "A: rows stored" "$rows" 650
for f in $(find "$T/root" -name '*.parquet'); do
  rel=${f#"$T/root/"}
  [[ "$rel" =~ ^(GENERAL|HTTP|SMB)/[0-9]{4}-[0-9]{2}-[0-9]{2}/agg-7-[0-9]{13}(-[0-9]+)?\.parquet$ ]] ||
    fail "A: stored name $rel"
done
ok "A: stored names"
$PY - "$T/root/aggregators.json" <<'PYEOF' || fail "A: aggregators.json: $(cat "$T/root/aggregators.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["agg-7"]["description"] == "integration box", a
PYEOF
ok "A: description remembered"
if [ -d "$SL_SRC/tests/node/node_modules/@duckdb/node-api" ] && command -v node > /dev/null; then
  total=0
  for d in "$T"/root/*/*/; do
    out=$(node "$SL_SRC/tests/node/read_any.mjs" "$d") || fail "DuckDB: $out"
    n=$(echo "$out" | sed -n 's/^[0-9]* files, \([0-9]*\) rows, 0 rejected by DuckDB$/\1/p')
    [ -n "$n" ] || fail "DuckDB: $out"
    total=$((total + n))
  done
  expect_eq "A: rows read back by DuckDB" "$total" 650
else
  echo "note: tests/node not installed (scripts/node-deps.sh): DuckDB check skipped"
fi

# ---- B: a wrong key keeps the files in the spool; the right key uploads them
before=$(stored)
rm -rf spool/uploaded
config b.yaml wrong-key "drain_timeout: 1s"
timeout 60 $SLUICE run -c b.yaml --once --no-status 2> b.log || true
expect_eq "B: nothing stored with a wrong key" "$(stored)" "$before"
grep -q 'rejected status=401 reason=\\"unknown api key\\"' rlog.txt || fail "B: no 401 logged"
left=$(find spool -name '*.parquet' | wc -l | tr -d ' ')
[ "$left" -ge 1 ] || fail "B: the sink dropped refused files: $(cat b.log)"
ok "B: $left file(s) kept in the spool"
: > in.json
config b2.yaml k-123
timeout 60 $SLUICE run -c b2.yaml --once --no-status 2> b2.log || { cat b2.log; fail "run B2"; }
expect_eq "B: spool emptied with the right key" "$(find spool -name '*.parquet' | wc -l | tr -d ' ')" 0
expect_eq "B: stored after the restart" "$(stored)" $((before + left))

# ---- C
kill -TERM $RPID
rc=0; wait $RPID || rc=$?
expect_eq "C: receiver exit after SIGTERM" "$rc" 0
grep -q "stopped: stored $((before + left)) " rlog.txt || fail "C: counters: $(grep stopped rlog.txt)"
ok "receiver_e2e"
