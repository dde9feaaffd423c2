#!/usr/bin/env bash
# sluice receiver against curl -F (a real multipart client) with Parquet files that sluice
# itself wrote (`run --once`: file source → parquet sink, partitioned by type):
#   - flags: --help, unknown flag, missing --root, bad --max-bytes → exit 2;
#   - a good upload is stored at {root}/{type}/{yyyy-mm-dd}/{id}-{time}.parquet, bytes
#     identical, answer {"stored": ..., "rows": N}; the same bytes again → 200 duplicate,
#     nothing new; other bytes under the same name → the -1 suffix;
#   - unknown / missing api key → 401 and nothing under root (no temporary file either);
#   - not Parquet, truncated Parquet, bad type, bad id, bad or missing time → 400 + reason;
#   - over --max-bytes (streamed, and refused from Content-Length) → 413;
#   - description remembered in aggregators.json (first_seen kept, description updated);
#   - GET /commands: ETag, 304 on If-None-Match, a new ETag when the file changes, 404 when
#     it is gone; GET /health; --path restricts uploads; a key added to the keys file works
#     without a restart; DuckDB reads a stored file back (when tests/node is installed);
#   - SIGTERM: exit 0 with the counters logged.
source "$(dirname "$0")/lib/common.bash"

# ---- flags
$SLUICE receiver --help > help.txt || fail "--help exit"
grep -q -- '--max-bytes' help.txt || fail "--help lists flags: $(cat help.txt)"
set +e
$SLUICE receiver --root r --keys k --bogus 2> e1.txt; rc1=$?
$SLUICE receiver --keys k 2> e2.txt; rc2=$?
$SLUICE receiver --root r --keys k --max-bytes lots 2> e3.txt; rc3=$?
$SLUICE receiver --root r --keys missing-keys --listen 127.0.0.1:0 2> e4.txt; rc4=$?
set -e
expect_eq "unknown flag exit" "$rc1" 2
grep -q "unknown argument '--bogus'" e1.txt || fail "unknown flag message: $(cat e1.txt)"
expect_eq "missing --root exit" "$rc2" 2
expect_eq "bad --max-bytes exit" "$rc3" 2
expect_eq "missing keys file exit" "$rc4" 2
grep -q "missing-keys" e4.txt || fail "keys file message: $(cat e4.txt)"

# ---- Parquet files written by sluice
$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    for i in range(300):
        t = ["HTTP", "SMTP"][i % 2]
        f.write(json.dumps({"type": t, "seq": i, "host": "h%d" % (i % 3),
                            "msg": "event %d" % i}) + "\n")
PYEOF
cat > p.yaml <<'YAML'
sources:
  in: {type: file, path: [in.json]}
sinks:
  pq:
    type: parquet
    inputs: [in]
    path: "out/{type}.parquet"
    partition_by: type
    codec: zstd
YAML
timeout 60 $SLUICE run -c p.yaml --once --no-status 2> run.txt || { cat run.txt; fail "run --once"; }
HTTP_PQ=$T/out/HTTP.parquet
SMTP_PQ=$T/out/SMTP.parquet
[ -s "$HTTP_PQ" ] && [ -s "$SMTP_PQ" ] || fail "no parquet files: $(ls -R out)"

# ---- the receiver
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
printf '# api keys\nkey-one\n\n  key-two  \n' > keys.txt
mkdir -p root && echo partial > root/.upload-AbC123   # left by a crash: swept at start
echo '{"agg-old": {"description": "cut sh' > root/aggregators.json # broken: set aside
echo '{"commands": [{"name": "restart"}]}' > commands.json
$SLUICE receiver --listen 127.0.0.1:$PORT --root "$T/root" --keys keys.txt \
  --commands commands.json --max-bytes 200KiB --path /s3 2> rlog.txt &
RPID=$!; PIDS+=($RPID)
wait_port "$PORT"
[ ! -e root/.upload-AbC123 ] || fail "stale temporary file not swept"
ls root/aggregators.json.bad-* > /dev/null 2>&1 || fail "broken aggregators.json not set aside: $(ls -a root)"
grep -q 'aggregators.json: .*moved to .*aggregators.json.bad-' rlog.txt || fail "set aside not logged: $(cat rlog.txt)"
ok "a broken aggregators.json is set aside, the receiver starts"

# upload ID TYPE TIME FILE [KEY] [extra curl args...]: prints "<status> <body>"
upload() {
  local id=$1 type=$2 time=$3 file=$4 key=${5:-key-one}
  shift 5 || shift $#
  curl -sS -o body.txt -w '%{http_code}' -F "api-key=$key" -F "aggregator-id=$id" \
    -F "type=$type" -F "time=$time" "$@" -F "file=@$file;type=application/octet-stream" \
    "$URL/s3"
  printf ' %s' "$(cat body.txt)"
}
files_under_root() { find "$T/root" -type f ! -name 'aggregators.json*' | sort; }

# good upload: exact path, identical bytes, rows
out=$(upload agg-1 HTTP 1700000000123 "$HTTP_PQ" key-one -F "description=rack 4, first box")
expect_eq "good upload" "$out" '200 {"stored":"HTTP/2023-11-14/agg-1-1700000000123.parquet","rows":150}'
STORED=$T/root/HTTP/2023-11-14/agg-1-1700000000123.parquet
cmp "$HTTP_PQ" "$STORED" || fail "stored bytes differ"
ok "stored bytes identical"
out=$(upload agg-1 SMTP 1700086400000 "$SMTP_PQ" key-two -H 'Transfer-Encoding: chunked')
expect_eq "second key, next day (UTC), chunked" "$out" '200 {"stored":"SMTP/2023-11-15/agg-1-1700086400000.parquet","rows":150}'

# idempotent re-upload, then other bytes under the same name
out=$(upload agg-1 HTTP 1700000000123 "$HTTP_PQ")
expect_eq "identical re-upload" "$out" '200 {"stored":"HTTP/2023-11-14/agg-1-1700000000123.parquet","rows":150,"duplicate":true}'
# the name comes from the number: leading zeros name the same file
out=$(upload agg-1 HTTP 001700000000123 "$HTTP_PQ")
expect_eq "same time with leading zeros" "$out" '200 {"stored":"HTTP/2023-11-14/agg-1-1700000000123.parquet","rows":150,"duplicate":true}'
out=$(upload agg-1 HTTP 1700000000123 "$SMTP_PQ")
expect_eq "other bytes, same name" "$out" '200 {"stored":"HTTP/2023-11-14/agg-1-1700000000123-1.parquet","rows":150}'
cmp "$SMTP_PQ" "$T/root/HTTP/2023-11-14/agg-1-1700000000123-1.parquet" || fail "suffixed bytes"
out=$(upload agg-1 HTTP 1700000000123 "$SMTP_PQ")
expect_eq "re-upload of the suffixed file" "${out%% *}" 200
expect_eq "files after uploads" "$(files_under_root | wc -l)" 3
BEFORE=$(files_under_root)

# credentials: nothing stored, no temporary file left
out=$(upload agg-2 HTTP 1700000000123 "$HTTP_PQ" wrong-key)
expect_eq "unknown key" "$out" "401 unknown api key"
out=$(curl -sS -o body.txt -w '%{http_code}' -F aggregator-id=agg-2 -F type=HTTP \
  -F time=1700000000123 -F "file=@$HTTP_PQ" "$URL/s3")
expect_eq "missing key" "$out $(cat body.txt)" "401 missing api-key before the file part"
# the key after the file: refused when the file starts, before a byte of it is written
out=$(curl -sS -o body.txt -w '%{http_code}' -F aggregator-id=agg-2 -F type=HTTP \
  -F time=1700000000123 -F "file=@$HTTP_PQ" -F api-key=key-one "$URL/s3")
expect_eq "key after the file" "$out $(cat body.txt)" "401 missing api-key before the file part"
[ "$(files_under_root)" = "$BEFORE" ] || fail "401 stored something: $(files_under_root)"
[ ! -d "$T/root/HTTP/2023-11-14" ] || [ -z "$(find "$T/root" -name '.*' -type f)" ] ||
  fail "temporary files left: $(find "$T/root" -name '.*')"
ok "nothing stored for 401"

# bad files and fields: 400 with a reason
head -c 4000 /dev/urandom > random.bin
out=$(upload agg-1 HTTP 1700000000999 random.bin)
expect_eq "not Parquet" "$out" "400 bad Parquet file: no PAR1 magic at byte 0 (not a Parquet file)"
head -c -5 "$HTTP_PQ" > truncated.parquet
out=$(upload agg-1 HTTP 1700000000999 truncated.parquet)
case "$out" in "400 bad Parquet file: no PAR1 magic at the end"*) ok "truncated: $out" ;;
  *) fail "truncated: $out" ;; esac
$PY - "$HTTP_PQ" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
open("badlen.parquet", "wb").write(b[:-8] + struct.pack("<I", 999999) + b"PAR1")
PYEOF
out=$(upload agg-1 HTTP 1700000000999 badlen.parquet)
expect_eq "footer length" "$out" "400 bad Parquet file: footer length 999999 exceeds file size $(stat -c %s badlen.parquet)"
out=$(upload agg-1 HTTPS 1700000000999 "$HTTP_PQ")
case "$out" in '400 bad type "HTTPS"'*) ok "bad type" ;; *) fail "bad type: $out" ;; esac
out=$(upload 'agg/../../x' HTTP 1700000000999 "$HTTP_PQ")
case "$out" in "400 bad aggregator-id"*) ok "bad id" ;; *) fail "bad id: $out" ;; esac
out=$(upload "$(printf 'a%.0s' $(seq 129))" HTTP 1700000000999 "$HTTP_PQ")
expect_eq "id of 129 bytes" "${out%% *}" 400
out=$(upload agg-1 HTTP 2023-11-14T00:00:00Z "$HTTP_PQ")
case "$out" in "400 bad time"*) ok "bad time" ;; *) fail "bad time: $out" ;; esac
for t in +1700000000123 -0 0x10 1e12 1234567890123456; do
  out=$(upload agg-1 HTTP "$t" "$HTTP_PQ")
  case "$out" in "400 bad time"*) ;; *) fail "time '$t': $out" ;; esac
done
ok "signs, hex, exponents and 16 digits are bad times"
out=$(curl -sS -o body.txt -w '%{http_code}' -F api-key=key-one -F aggregator-id=agg-1 \
  -F type=HTTP -F "file=@$HTTP_PQ" "$URL/s3")
expect_eq "missing time" "$out $(cat body.txt)" "400 missing field time"
out=$(curl -sS -o body.txt -w '%{http_code}' -F api-key=key-one -F aggregator-id=agg-1 \
  -F type=HTTP -F time=1 "$URL/s3")
expect_eq "missing file" "$out $(cat body.txt)" "400 missing file part"
out=$(curl -sS -o body.txt -w '%{http_code}' -d 'api-key=key-one' "$URL/s3")
expect_eq "urlencoded body" "${out}" 400

# malformed forms
out=$(upload agg-1 HTTP 1700000000999 "$HTTP_PQ" key-one -F api-key=key-one)
expect_eq "field given twice" "$out" "400 field api-key given twice"
out=$(upload agg-1 HTTP 1700000000999 "$HTTP_PQ" key-one -F "file=@$HTTP_PQ")
expect_eq "two files" "$out" "400 more than one file part"
: > empty.bin
out=$(curl -sS -o body.txt -w '%{http_code}' -F api-key=key-one -F aggregator-id=agg-1 \
  -F type=HTTP -F time=1 -F "file=@empty.bin" -F description=d -F "file=@$HTTP_PQ" "$URL/s3")
expect_eq "an empty file part, then another" "$out $(cat body.txt)" "400 more than one file part"
out=$(curl -sS -o body.txt -w '%{http_code}' -F api-key= -F aggregator-id=agg-1 \
  -F api-key=key-one -F type=HTTP -F time=1 -F "file=@$HTTP_PQ" "$URL/s3")
expect_eq "an empty api-key, then another" "$out $(cat body.txt)" "400 field api-key given twice"
out=$(upload agg-1 HTTP 1700000000999 "$HTTP_PQ" key-one -F "description=$(head -c 5000 /dev/zero | tr '\0' x)")
expect_eq "description too long" "$out" "400 field description longer than 4096 bytes"

# size bound: streamed past 200 KiB, and refused from Content-Length (2 MiB)
head -c 300000 /dev/urandom > big.bin
out=$(upload agg-1 HTTP 1700000000999 big.bin)
expect_eq "over --max-bytes (streamed)" "$out" "413 file larger than 204800 bytes"
head -c 2000000 /dev/urandom > huge.bin
out=$(upload agg-1 HTTP 1700000000999 huge.bin)
case "$out" in "413 body of "*) ok "over --max-bytes (Content-Length): $out" ;;
  *) fail "huge: $out" ;; esac
# chunked (no Content-Length) past the bound: the connection is closed (curl: empty reply)
set +e
curl -sS -o /dev/null -H 'Transfer-Encoding: chunked' -F api-key=key-one -F aggregator-id=agg-1 \
  -F type=HTTP -F time=1700000000999 -F "file=@huge.bin" "$URL/s3" 2> chunked.err
rc=$?
set -e
[ $rc -ne 0 ] || fail "chunked upload past the bound succeeded"
ok "chunked past the bound: curl exit $rc"
[ "$(files_under_root)" = "$BEFORE" ] || fail "rejections stored something: $(files_under_root)"
[ -z "$(find "$T/root" -name '.upload-*')" ] || fail "temporary files left"
ok "nothing stored for 400/413"

# routes
expect_eq "other path" "$(curl -s -o /dev/null -w '%{http_code}' -F a=b "$URL/other")" 404
expect_eq "GET on the upload path" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/s3")" 405
expect_eq "health" "$(curl -s -w '%{http_code}' -o /dev/null "$URL/health")" 200

# aggregators.json: description, first_seen kept when the description changes
out=$(upload agg-1 HTTP 1700000001000 "$HTTP_PQ" key-one -F "description=rack 5")
expect_eq "upload with a new description" "${out%% *}" 200
out=$(upload node.B_2 SMTP 1700000001000 "$SMTP_PQ")
expect_eq "an aggregator without description" "${out%% *}" 200
$PY - "$T/root/aggregators.json" <<'PYEOF' || fail "aggregators.json: $(cat "$T/root/aggregators.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert set(a) == {"agg-1", "node.B_2"}, a
assert a["agg-1"]["description"] == "rack 5", a
assert a["agg-1"]["first_seen"] <= a["agg-1"]["last_seen"], a
assert "description" not in a["node.B_2"], a
PYEOF
ok "aggregators.json"

# GET /commands: ETag, 304, change, 404
curl -sS -D h1.txt -o c1.json "$URL/commands"
cmp c1.json commands.json || fail "commands body"
ETAG=$(grep -i '^etag:' h1.txt | cut -d' ' -f2 | tr -d '\r')
[[ "$ETAG" =~ ^\"[0-9a-f]{16}\"$ ]] || fail "strong ETag: '$ETAG'"
expect_eq "If-None-Match" "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/commands")" 304
expect_eq "If-None-Match (list)" "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"0\", $ETAG" "$URL/commands")" 304
expect_eq "If-None-Match (other)" "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000000000000000"' "$URL/commands")" 200
echo '{"commands": [{"name": "restart"}, {"name": "upgrade"}]}' > commands.json.new
mv commands.json.new commands.json
curl -sS -D h2.txt -o c2.json -H "If-None-Match: $ETAG" "$URL/commands"
grep -q '^HTTP/1.1 200' h2.txt || fail "changed commands: $(cat h2.txt)"
cmp c2.json commands.json || fail "changed commands body"
ETAG2=$(grep -i '^etag:' h2.txt | cut -d' ' -f2 | tr -d '\r')
[ "$ETAG2" != "$ETAG" ] || fail "ETag did not change"
ok "new ETag $ETAG2"
rm commands.json
expect_eq "commands file gone" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/commands")" 404

# a key added to the keys file works without a restart
out=$(upload agg-3 GENERAL 1700000002000 "$HTTP_PQ" key-three)
expect_eq "key not yet known" "${out%% *}" 401
printf 'key-three\n' >> keys.txt
out=$(upload agg-3 GENERAL 1700000002000 "$HTTP_PQ" key-three)
expect_eq "key added to the file" "${out%% *}" 200

# SIGHUP re-reads the keys (and does not stop the server)
kill -HUP $RPID
sleep 0.5
kill -0 $RPID || fail "SIGHUP stopped the receiver"
out=$(upload agg-3 GENERAL 1700000002001 "$HTTP_PQ" key-three)
expect_eq "upload after SIGHUP" "${out%% *}" 200
grep -q 'SIGHUP' rlog.txt || fail "SIGHUP not logged"

# concurrent uploads: each one stored
CPIDS=()
for i in 1 2 3 4 5 6 7 8; do
  curl -sS -o "par$i.txt" -w '%{http_code}' -F api-key=key-two -F aggregator-id=par-$i \
    -F type=TDS -F time=170000000000$i -F "file=@$SMTP_PQ" "$URL/s3" > "par$i.code" &
  CPIDS+=($!)
done
for p in "${CPIDS[@]}"; do wait "$p" || true; done
for i in 1 2 3 4 5 6 7 8; do
  [ "$(cat "par$i.code")" = 200 ] || fail "concurrent upload $i: $(cat "par$i.code") $(cat "par$i.txt")"
  cmp "$SMTP_PQ" "$T/root/TDS/2023-11-14/par-$i-170000000000$i.parquet" || fail "concurrent bytes $i"
done
ok "8 concurrent uploads stored"

# a peer holding connections open (slowloris) gets at most 32 of them: another peer
# (127.0.0.2, still loopback) is served
$PY - "$PORT" > slow.txt <<'PYEOF' &
import socket, sys, time
socks = []
for _ in range(70):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /health HTTP/1.1\r\n")  # and never the rest
    socks.append(s)
print("holding", len(socks), flush=True)
time.sleep(8)
PYEOF
SLOW=$!
for _ in $(seq 50); do grep -q holding slow.txt 2>/dev/null && break; sleep 0.1; done
out=$(curl -sS -m 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "$URL/health" || true)
kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null || true
expect_eq "another peer while one holds 70 connections" "$out" 200

# DuckDB reads a stored file back
HAVE_DUCK=0
[ -d "$SL_SRC/tests/node/node_modules/@duckdb/node-api" ] && command -v node > /dev/null && HAVE_DUCK=1
if [ "$HAVE_DUCK" = 1 ]; then
  out=$(node "$SL_SRC/tests/node/read_any.mjs" "$T/root/SMTP/2023-11-15") || fail "DuckDB: $out"
  expect_eq "DuckDB reads the stored file" "$out" "1 files, 150 rows, 0 rejected by DuckDB"
  # and the receiver accepts what another writer wrote (DuckDB: 4 row groups, nested columns)
  js="$SL_SRC/tests/node/.receiver-$$.mjs"
  cat > "$js" <<JSEOF
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
await con.run(\`COPY (SELECT i, 'n' || (i % 10) AS s, [i, i + 1] AS l, {'a': i} AS st FROM range(20000) t(i))
  TO '$T/duck.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 5000)\`);
JSEOF
  node "$js" || { rm -f "$js"; fail "DuckDB COPY"; }
  rm -f "$js"
  out=$(upload duck GENERAL 1700000003000 duck.parquet)
  expect_eq "a DuckDB-written file" "$out" '200 {"stored":"GENERAL/2023-11-14/duck-1700000003000.parquet","rows":20000}'
else
  echo "note: tests/node not installed (scripts/node-deps.sh): DuckDB check skipped"
fi

# SIGTERM: exit 0, counters logged, no temporary file left
kill -TERM $RPID
rc=0; wait $RPID || rc=$?
expect_eq "exit after SIGTERM" "$rc" 0
stored=15; [ "$HAVE_DUCK" = 1 ] && stored=16
grep -q "stopped: stored $stored " rlog.txt || fail "counters: $(grep stopped rlog.txt)"
grep -q 'rejected status=401 reason=\\"unknown api key\\" remote=127.0.0.1:' rlog.txt ||
  fail "rejection log line: $(grep status=401 rlog.txt | head -2)"
grep -q 'msg="stored path=HTTP/2023-11-14/agg-1-1700000000123.parquet aggregator=agg-1 type=HTTP bytes=' rlog.txt ||
  fail "upload log line: $(grep stored rlog.txt | head -2)"
[ -z "$(find "$T/root" -name '.*' -type f)" ] || fail "hidden files left: $(find "$T/root" -name '.*')"
ok "receiver_cmd"
