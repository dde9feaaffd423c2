#!/usr/bin/env bash
# sluice aggregator: the JVM aggregator's command line.
#   - --help has the seed's scopt shape and every flag;
#   - --print-config: the defaults; the saved YAML passes `sluice check -c`;
#   - settings.conf (-f) is overridden by the command line; AGGREGATOR_ARGS_FILE replaces it;
#   - settings.conf's collectorsFile (no flag) becomes sources.commands.collectors_file;
#   - each bad value (port, unknown flag, log level, missing value, bool, settings line) exits 2
#     with a message naming the flag or file:line;
#   - values are YAML-escaped (quotes, backslashes, newlines, ${...});
#   - a real run: sluice send -> CurveZMQ -> Parquet files in the spool, `shutdown` on the REP
#     port -> exit 0, every event in a finished PAR1 file.
source "$(dirname "$0")/lib/common.bash"

SEED_SECRET=693F66214F327A76785550413A5E253C3E6D70657A217B4155407A666A305876477B68495A2F5D36
SEED_PUBLIC=5A5832576F434D2D57367D667148464865326E3C4B74586B733C574C7A624E6355642D5239282E72
AGG="$SLUICE aggregator"

# ---- --help
$AGG --help > help.txt
head -1 help.txt | grep -q '^name: sluice aggregator, version: ' || fail "help header: $(head -1 help.txt)"
grep -q '^Usage: sluice aggregator \[options\]' help.txt || fail "usage line"
for f in '-f <value> | --config <value>' '--host <value>' '-p <value> | --port <value>' \
  '-s <value> | --shutdownPort <value>' '-b <value> | --batchTime <value>' '--dns <value>' \
  '-r <value> | --receiver <value>' '-o <value> | --commands <value>' \
  '-i <value> | --commandsPollInterval <value>' '-a <value> | --apiKey <value>' \
  '-k <value> | --keep-temp-files <value>' '-q <value> | --uniqueId <value>' \
  '-e <value> | --description <value>' '-t <value> | --secretKey <value>' \
  '-c <value> | --publicKey <value>' '-l <value> | --loglevel <value>' \
  '-g <value> | --prometheusPushGateway <value>' '--parallelism <value>' '--ttl <value>' \
  '--spool <value>' '--api-listen <value>' '--ping-listen <value>' '--print-config'; do
  grep -qF -- "  $f" help.txt || fail "help lacks '$f'"
done
grep -q 'default is 5555' help.txt && grep -q 'default is 5557' help.txt &&
  grep -q 'default is INFO, use one of DEBUG, WARNING, ERROR, OFF' help.txt || fail "help defaults"
ok "--help lists every flag of the seed, scopt style"

# ---- defaults
$AGG --print-config > def.yaml
for l in 'log_level: info' '  listen: "0.0.0.0:8080"' '    type: zmq' '    host: "\*"' \
  '    port: 5555' '    shutdown_port: 5557' '    roll_interval: 1s' '    partition_by: type' \
  '    path: "./aggregator-spool/{type}/{type}-%Y%m%d-%H%M%S.parquet"' '    inputs: \[collectors\]'; do
  grep -qx -- "$l" def.yaml || fail "defaults: no '$l' in: $(cat def.yaml)"
done
for absent in 'type: dns' 'type: receiver' 'type: commands' 'push_gateway:'; do
  grep -q "$absent" def.yaml && fail "defaults: '$absent' without its flag"
done
ok "--print-config: defaults (no dns, receiver, commands, push_gateway without their flags)"

# every part, with every flag
$AGG --host 10.1.2.3 -p 6000 -s 6001 -b 5 --dns 10.0.0.53 -r http://recv:8080/s3 \
  -o http://recv:8080/commands -i 30 -a key1 -k true -q agg-1 -e 'first "one"' \
  -t $SEED_SECRET -c $SEED_PUBLIC -l WARNING -g localhost:9091 --parallelism 4 --ttl 60 \
  --spool /var/spool/agg --api-listen 127.0.0.1:9000 --ping-listen=127.0.0.1:9113 \
  --print-config > all.yaml
$PY - <<'PYEOF' || fail "all flags: $(cat all.yaml)"
import yaml
c = yaml.safe_load(open("all.yaml"))
z = c["sources"]["collectors"]
assert (z["type"], z["host"], z["port"], z["shutdown_port"]) == ("zmq", "10.1.2.3", 6000, 6001), z
assert z["secret_key"].startswith("693F") and z["public_key"].startswith("5A58"), z
cm = c["sources"]["commands"]
assert cm == {"type": "commands", "url": "http://recv:8080/commands", "poll_interval": "30s",
              "listen": "127.0.0.1:9113", "state": "/var/spool/agg/commands.db"}, cm
r = c["transforms"]["resolve"]
assert r == {"type": "dns", "inputs": ["collectors"], "server": "10.0.0.53", "ttl": "60s",
             "parallelism": 4}, r
p = c["sinks"]["parquet"]
assert p["inputs"] == ["resolve"] and p["roll_interval"] == "5s", p
assert p["path"] == "/var/spool/agg/{type}/{type}-%Y%m%d-%H%M%S.parquet", p
u = c["sinks"]["upload"]
assert u == {"type": "receiver", "files_from": "parquet", "url": "http://recv:8080/s3",
             "api_key": "key1", "aggregator_id": "agg-1", "description": 'first "one"',
             "spool": "/var/spool/agg", "spool_max_bytes": "1GiB", "keep_files": True}, u
assert c["push_gateway"] == {"url": "localhost:9091", "job": "aggregator", "instance": "agg-1",
                             "interval": "10s"}, c["push_gateway"]
assert c["api"] == {"listen": "127.0.0.1:9000"} and c["log_level"] == "warn", c
PYEOF
ok "--print-config: every flag lands on its YAML key"

# the printed YAML loads with `sluice check`, which shows what feeds the receiver sink
P1=$(free_port); P2=$(free_port)
$AGG --host 127.0.0.1 -p $P1 -s $P2 -t $SEED_SECRET -c $SEED_PUBLIC --dns 127.0.0.1:1 \
  --spool sp -g 127.0.0.1:1 -q id-1 --api-listen 127.0.0.1:0 -r http://127.0.0.1:1/up \
  -a key1 --print-config > saved.yaml
$SLUICE check -c saved.yaml > check.txt 2>&1 || fail "check of the printed config: $(cat check.txt)"
grep -q 'saved.yaml: ok' check.txt || fail "check: $(cat check.txt)"
grep -Eq 'sink +upload +receiver +<- files of parquet' check.txt || fail "check: $(cat check.txt)"
ok "the printed config passes sluice check"

# ---- settings.conf, overridden by the command line
cat > settings.conf <<'CONF'
# the aggregator's settings
port = 6100
shutdownPort: 6101          // HOCON comment
batchTime = 7
"description" = "from \"conf\" \u00e9"
receiver = http://recv/s3   # an unquoted URL keeps its //
loglevel = debug
keep-temp-files = yes
CONF
$AGG -f settings.conf -p 6200 --print-config > merged.yaml
grep -qx '    port: 6200' merged.yaml || fail "CLI over settings.conf: $(grep port merged.yaml)"
grep -qx '    shutdown_port: 6101' merged.yaml || fail "settings.conf shutdownPort"
grep -qx '    roll_interval: 7s' merged.yaml || fail "settings.conf batchTime"
grep -qx '    url: "http://recv/s3"' merged.yaml || fail "settings.conf receiver: $(cat merged.yaml)"
grep -qxF '    description: "from \"conf\" é"' merged.yaml || fail "quoted value: $(grep description merged.yaml)"
grep -qx 'log_level: debug' merged.yaml || fail "settings.conf loglevel"
grep -qx '    keep_files: true' merged.yaml || fail "settings.conf keep-temp-files"
$AGG --config=settings.conf --batchTime 2 --print-config | grep -qx '    roll_interval: 2s' ||
  fail "--config= form"
ok "defaults -> settings.conf -> command line"

# ---- collectorsFile: a settings.conf key (no flag) -> sources.commands.collectors_file
printf 'c1\n' > ids.txt
printf 'commands = "http://recv/commands"\ncollectorsFile = ids.txt\n' > cf.conf
P1=$(free_port); P2=$(free_port)
$AGG -f cf.conf --host 127.0.0.1 -p $P1 -s $P2 -t $SEED_SECRET -c $SEED_PUBLIC --spool cfsp \
  --api-listen 127.0.0.1:0 --ping-listen 127.0.0.1:0 --print-config > cf.yaml
grep -qx '    collectors_file: "ids.txt"' cf.yaml || fail "collectorsFile: $(cat cf.yaml)"
$SLUICE check -c cf.yaml 2> cf.err || fail "collectorsFile YAML does not check: $(cat cf.err)"
set +e
$AGG --collectorsFile ids.txt --print-config > /dev/null 2> cf.err; rc=$?
set -e
expect_eq "--collectorsFile is not a flag (exit)" "$rc" 2
grep -q "unknown option '--collectorsFile'" cf.err || fail "message: $(cat cf.err)"
ok "settings.conf collectorsFile"

# ---- AGGREGATOR_ARGS_FILE replaces the command line
printf -- '--print-config -p 6300\n  -e "two words \\"q\\""  -a '"'"'it is'"'"'\n' > args.txt
AGGREGATOR_ARGS_FILE=args.txt $AGG -p 9999 -l NOPE > fromfile.yaml
grep -qx '    port: 6300' fromfile.yaml || fail "args file: $(grep port fromfile.yaml)"
grep -qx '    # secret_key: required to run (-t/--secretKey)' fromfile.yaml || fail "placeholder"
AGGREGATOR_ARGS_FILE=args.txt $AGG -r http://r/s3 > fromfile2.yaml
grep -q 'type: receiver' fromfile2.yaml && fail "-r came from the CLI"
printf -- '-r http://r/s3 -e "two words \\"q\\"" -a '"'"'it is'"'"' --print-config\n' > args2.txt
AGGREGATOR_ARGS_FILE=args2.txt $AGG > fromfile3.yaml
grep -qxF '    description: "two words \"q\""' fromfile3.yaml || fail "quotes in the args file: $(cat fromfile3.yaml)"
grep -qxF '    api_key: "it is"' fromfile3.yaml || fail "single quotes in the args file"
ok "AGGREGATOR_ARGS_FILE replaces the command line (quotes honoured)"

# ---- bad values: exit 2 and a message naming the flag or file:line
bad() { # WANT_REGEX ARGS...: exit 2 and stderr matching WANT_REGEX
  local want=$1; shift
  set +e
  $AGG "$@" > /dev/null 2> err.txt; local rc=$?
  set -e
  [ $rc = 2 ] || fail "'$*': exit $rc, want 2 ($(cat err.txt))"
  grep -qE -- "$want" err.txt || fail "'$*': message '$(cat err.txt)' does not match '$want'"
}
bad "-p/--port: 'abc' is not a whole number" -p abc --print-config
bad "-p/--port: '70000' is not a whole number from 0 to 65535" --port 70000 --print-config
bad "-s/--shutdownPort: " -s x --print-config
bad "-b/--batchTime: '0' is not a whole number from 1" -b 0 --print-config
bad "--parallelism: " --parallelism many --print-config
bad "unknown option '--nope'" --nope --print-config
bad "unknown option '-x'" -x 1 --print-config
bad "unexpected argument 'stray'" stray --print-config
bad "-l/--loglevel: unknown log level 'LOUD'" -l LOUD --print-config
bad "-p/--port: missing value" --print-config -p
bad "-k/--keep-temp-files: 'maybe' is not a boolean" -k maybe --print-config
bad "-q/--uniqueId: 'agg 1/x': the unique id" -q 'agg 1/x' --print-config
bad "--print-config: takes no value" --print-config=yes
bad "--spool: .* must be non-empty and have no" --spool 'a{b}' --print-config
bad "nosuch.conf: cannot open the settings file" -f nosuch.conf --print-config
printf 'port = 1\nbatchTime = soon\n' > bad1.conf
bad "bad1.conf:2: batchTime: 'soon' is not a whole number" -f bad1.conf --print-config
printf 'port = 1\n\nportt = 2\n' > bad2.conf
bad "bad2.conf:3: unknown setting 'portt'" -f bad2.conf --print-config
printf 'host "x"\n' > bad3.conf
bad "bad3.conf:1: expected '=' or ':'" -f bad3.conf --print-config
printf 'description = "open\n' > bad4.conf
bad "bad4.conf:1: unterminated quoted string" -f bad4.conf --print-config
printf -- '--print-config -e "open\n' > badargs.txt
export AGGREGATOR_ARGS_FILE=badargs.txt
bad "AGGREGATOR_ARGS_FILE: badargs.txt: unterminated quote"
export AGGREGATOR_ARGS_FILE=/nonexistent
bad "AGGREGATOR_ARGS_FILE: cannot open /nonexistent"
unset AGGREGATOR_ARGS_FILE
bad "-t/--secretKey: required" --spool sp2 -p 0 -s -1
bad "-q/--uniqueId: required with -r/--receiver" --spool sp2 -p 0 -s -1 -t $SEED_SECRET \
  -r http://127.0.0.1:1/up -a k
$AGG -r http://127.0.0.1:1/up --print-config | grep -qx '    # aggregator_id: required to run (-q/--uniqueId)' ||
  fail "aggregator_id placeholder"
ok "bad values exit 2 naming the flag or file:line"

# ---- YAML escaping: what goes in comes back out, ${...} is not substituted
$AGG -r http://r/s3 -e $'a "b" \\ c\nline2 ${HOME} $${X}' -a $'tab\there' --print-config > esc.yaml
$PY - <<'PYEOF' || fail "escaping: $(grep -A8 upload: esc.yaml)"
import yaml
u = yaml.safe_load(open("esc.yaml"))["sinks"]["upload"]
assert u["description"] == 'a "b" \\ c\nline2 $${HOME} $$${X}', repr(u["description"])
assert u["api_key"] == "tab\there", u
PYEOF
# and sluice's loader turns $${ back into ${ (a file sink shows the text of a path)
$AGG -p 0 -s -1 --host 127.0.0.1 -t $SEED_SECRET -q id-2 -r http://127.0.0.1:1/s3 -e 'x${SLUICE_TEST_UNSET_VARIABLE}y' -g 127.0.0.1:1 --print-config > env.yaml
$SLUICE check -c env.yaml > /dev/null 2>&1 || fail "check with \${ in a value: $($SLUICE check -c env.yaml 2>&1)"
ok "values are YAML-escaped and never substituted"

# ---- a real run: sluice send -> zmq -> parquet in the spool; shutdown on the REP port;
# with a push gateway when prometheus-pushgateway is installed (-g, -q: the final push)
PORT=$(free_port); SPORT=$(free_port)
GWARGS=()
if [ -x /usr/bin/prometheus-pushgateway ]; then
  GPORT=$(free_port)
  /usr/bin/prometheus-pushgateway --web.listen-address=127.0.0.1:$GPORT --persistence.file= > gw.log 2>&1 &
  GPID=$!; PIDS+=($GPID)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$GPORT/-/ready" > /dev/null 2>&1 && break; sleep 0.1; done
  GWARGS=(-g 127.0.0.1:$GPORT -q agg-test)
fi
$AGG --host 127.0.0.1 -p $PORT -s $SPORT -t $SEED_SECRET -c $SEED_PUBLIC --spool spool -b 1 \
  --api-listen 127.0.0.1:0 "${GWARGS[@]}" 2> log.txt &
PID=$!; PIDS+=($PID)
for _ in $(seq 100); do grep -q "listening on port $PORT" log.txt && break; sleep 0.1; done
grep -q "listening on port $PORT" log.txt || fail "aggregator did not start: $(cat log.txt)"
$PY - <<'PYEOF'
import json
with open("events.json", "w") as f:
    for i in range(1500):
        f.write(json.dumps({"type": "GENERAL", "ts": 1700000000.0 + i, "uid": "C%06d" % i,
                            "origIp": "10.0.0.%d" % (i % 250 + 1), "origPort": 1024 + i,
                            "respIp": "192.168.1.1", "respPort": 443, "proto": "tcp"}) + "\n")
PYEOF
$SLUICE send --server-key $SEED_PUBLIC --port $PORT --batch 50 --quiet events.json > send.txt
grep -q "sent 1500 events" send.txt || fail "send: $(cat send.txt)"
sleep 1.5 # a batchTime: some files roll while running
$SLUICE send --server-key $SEED_PUBLIC --port $PORT --batch 1 --count 500 --quiet events.json > send2.txt
grep -q "sent 500 events" send2.txt || fail "send: $(cat send2.txt)"
REPLY=$($PY -c "
import zmq
s = zmq.Context().socket(zmq.REQ); s.rcvtimeo = 30000; s.linger = 0
s.connect('tcp://127.0.0.1:$SPORT'); s.send(b'shutdown'); print(s.recv().decode())")
expect_eq "shutdown reply" "$REPLY" ok
set +e
wait $PID; rc=$?
set -e
PIDS=(${GPID:-})
expect_eq "exit status after shutdown" "$rc" 0
nfiles=$(find spool -name '*.parquet' | wc -l)
[ "$nfiles" -ge 1 ] || fail "no Parquet file under the spool: $(find spool)"
[ -z "$(find spool -name '*.tmp')" ] || fail "temp files left: $(find spool -name '*.tmp')"
for f in $(find spool -name '*.parquet'); do
  case "$f" in spool/GENERAL/GENERAL-*.parquet) ;; *) fail "file name: $f" ;; esac
  [ -s "$f" ] && [ "$(head -c4 "$f")" = PAR1 ] && [ "$(tail -c4 "$f")" = PAR1 ] || fail "not Parquet: $f"
done
rows=$(sed -n 's/.*finished file path=spool.* rows=\([0-9]*\) .*/\1/p' log.txt | awk '{s+=$1} END {print s}')
expect_eq "rows in the finished files (log)" "$rows" 2000
# the footers say the same (FileMetaData.num_rows, Thrift compact field 3)
$PY - $(find spool -name '*.parquet') <<'PYEOF' > footer_rows.txt
import struct, sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def skip(b, i, t):
    if t in (1, 2): return i
    if t == 3: return i + 1
    if t in (4, 5, 6): return varint(b, i)[1]
    if t == 7: return i + 8
    if t == 8: n, i = varint(b, i); return i + n
    if t in (9, 10):
        h = b[i]; i += 1; n = h >> 4; et = h & 15
        if n == 15: n, i = varint(b, i)
        for _ in range(n): i = skip(b, i, et)
        return i
    if t == 12:
        fid = 0
        while True:
            h = b[i]; i += 1
            if h == 0: return i
            d = h >> 4; ft = h & 15
            if d: fid += d
            else: fid, i = varint(b, i)
            i = skip(b, i, ft)
    raise ValueError(t)
total = 0
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    n = struct.unpack("<I", b[-8:-4])[0]
    m = b[-8 - n:-8]
    i = fid = 0
    while True:
        h = m[i]; i += 1
        if h == 0: break
        d = h >> 4; ft = h & 15
        if d: fid += d
        else: raise ValueError("long field header")
        if fid == 3 and ft == 6:
            v, i = varint(m, i); total += (v >> 1) ^ -(v & 1); continue
        i = skip(m, i, ft)
print(total)
PYEOF
expect_eq "rows in the Parquet footers" "$(cat footer_rows.txt)" 2000
if command -v node > /dev/null && [ -d "$SL_SRC/tests/node/node_modules/@duckdb" ]; then
  cat > "$SL_SRC/tests/node/.agg-$$.mjs" <<JSEOF
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const r = (await con.runAndReadAll(\`SELECT count(*)::INTEGER n, count(DISTINCT uid)::INTEGER u,
  bool_and(type = 'GENERAL') t FROM read_parquet('$T/spool/GENERAL/*.parquet')\`)).getRowObjectsJson()[0];
if (r.n !== 2000 || r.u !== 1500 || r.t !== true) { console.error('FAIL: ' + JSON.stringify(r)); process.exit(1); }
JSEOF
  set +e
  node "$SL_SRC/tests/node/.agg-$$.mjs"; rc=$?
  set -e
  rm -f "$SL_SRC/tests/node/.agg-$$.mjs"
  [ $rc = 0 ] || fail "duckdb read of the spool"
  ok "DuckDB reads 2000 rows, 1500 distinct uids"
fi
grep -q "shutdown complete: reply sent" log.txt || fail "no shutdown line: $(tail -5 log.txt)"
if [ ${#GWARGS[@]} -gt 0 ]; then
  curl -fs "http://127.0.0.1:$GPORT/metrics" > gw.txt
  val() { grep -E "^$1\{instance=\"agg-test\",job=\"aggregator\"\} " gw.txt | awk '{printf "%d", $2}'; }
  msgs=$(( $(sed -n 's/.* in \([0-9]*\) messages.*/\1/p' send.txt) + $(sed -n 's/.* in \([0-9]*\) messages.*/\1/p' send2.txt) ))
  expect_eq "push gateway: zmq = messages sent" "$(val zmq)" "$msgs"
  expect_eq "push gateway: parquet_data = bytes of the files" "$(val parquet_data)" \
    "$(find spool -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')"
  expect_eq "push gateway: parquet_writers" "$(val parquet_writers)" 0
  expect_eq "push gateway: errors" "$(val errors)" 0
fi
echo "PASS"
