#!/usr/bin/env bash
# sluice usecase: dataShark's two shipped use cases, rewritten (examples/usecases/), run from
# their .conf files:
#   - wordcount (batch): CSV rows as dataShark's out_csv wrote them, counts checked against
#     awk; --debug prints collect()'s list, checked the same way;
#   - web anomaly detection (streaming, k-means trained on a file): Apache logs dropped into
#     the watched folder; the injected client that draws 5xx errors has the highest score; the
#     same over the syslog input (logger -> syslog source); --debug prints pprint() blocks;
#   - production mode: a directory with both and a disabled copy, in one process;
#   - bad .conf files: errors with file:line:col.
source "$(dirname "$0")/lib/common.bash"

EX="$SL_SRC/examples/usecases"
cp -r "$EX" uc
mkdir -p logs
# test-local paths (the keys stay as dataShark wrote them)
sed -i "s|/tmp/usecase1.csv|$T/wc.csv|" uc/wordcount/wordcount.conf
sed -i -e "s|/tmp/sluice-web-logs|$T/logs|" -e "s|/tmp/UseCase-web_anomaly.csv|$T/wad.csv|" \
  uc/web-anomaly-detection/web-anomaly-detection.conf
# windows are aligned on the clock: an hour instead of a minute, so that a log read across a
# window boundary (split counts) is 60 times less likely
sed -i "s|window: 60s |window: 1h  |" uc/web-anomaly-detection/web-anomaly-detection.yaml
grep -q "window: 1h" uc/web-anomaly-detection/web-anomaly-detection.yaml || fail "window not set"

# what Python's split() + lower() + reduceByKey count, by awk: "word count" lines, sorted
awk '{ for (i = 1; i <= NF; i++) c[tolower($i)]++ } END { for (w in c) print w, c[w] }' \
  uc/wordcount/wordcount.txt | LC_ALL=C sort > want_wc.txt
nwords=$(count_lines want_wc.txt)

# ---- wordcount, batch, CSV out
$SLUICE usecase run uc/wordcount/wordcount.conf --no-status > wc.out 2> wc.err ||
  { cat wc.err; fail "wordcount run"; }
$PY - wc.csv > got_wc.txt <<'PYEOF' || fail "wordcount csv"
import csv, re, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
for r in rows:
    # dataShark's out_csv row: time, key, score (no metadata in wordcount's (word, count))
    assert len(r) == 3, r
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", r[0]), r
    print(r[1], int(r[2]))
PYEOF
LC_ALL=C sort -o got_wc.txt got_wc.txt
cmp -s got_wc.txt want_wc.txt || { diff got_wc.txt want_wc.txt | head; fail "wordcount counts differ from awk"; }
ok "wordcount: $nwords words, counts as awk/sort/uniq"
grep -q "Loaded Confs: \['uc/wordcount/wordcount.conf'\]" wc.err || fail "Loaded Confs line"

# ---- wordcount --debug: collect()'s list on stdout, nothing written to the CSV
rm -f wc.csv
$SLUICE usecase run uc/wordcount/wordcount.conf --debug --no-status > dbg.out 2> dbg.err ||
  { cat dbg.err; fail "wordcount --debug"; }
[ ! -e wc.csv ] || fail "--debug wrote the CSV"
expect_eq "debug output lines" "$(count_lines dbg.out)" 1
grep -q "Debug Mode is ON" dbg.err || fail "debug banner"
head -c 12 dbg.out | grep -q "^\[(u'" || fail "debug output is not a list of u'' tuples: $(head -c 80 dbg.out)"
$PY - dbg.out > got_dbg.txt <<'PYEOF' || fail "debug list"
import ast, sys
for word, n in ast.literal_eval(open(sys.argv[1]).read()):
    print(word, n)
PYEOF
LC_ALL=C sort -o got_dbg.txt got_dbg.txt
cmp -s got_dbg.txt want_wc.txt || fail "debug counts differ from awk"
ok "wordcount --debug: [(u'word', n), ...] with the same counts"

# ---- wordcount with output = elasticsearch ([out_elasticsearch] as dataShark's README writes
# it) against a _bulk server written here (no Elasticsearch is packaged)
eport=$(free_port)
$PY - "$eport" es.ndjson <<'PYEOF' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        assert self.path.startswith("/_bulk"), self.path
        lines = body.split("\n")
        assert lines[-1] == "", "the body must end with a newline"
        items = []
        with open(sys.argv[2], "a") as f:
            for action, doc in zip(lines[0:-1:2], lines[1:-1:2]):
                a = json.loads(action)
                op = next(iter(a))
                f.write(json.dumps({"action": a, "doc": json.loads(doc)}) + "\n")
                items.append({op: {"_index": a[op]["_index"], "status": 201, "result": "created"}})
        out = json.dumps({"took": 1, "errors": False, "items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
PIDS+=($!)
wait_port "$eport"
mkdir -p wes
cp uc/wordcount/wordcount.txt uc/wordcount/wordcount.yaml wes/
mv wes/wordcount.yaml wes/wc_es.yaml
printf 'type = batch\nfile = wordcount.txt\ncode = wordcount.py\nname = Word Count\nenabled = true\noutput = elasticsearch\n\n[out_elasticsearch]\n        host = 127.0.0.1\n        port = %s\n        index_name = usecase\n        doc_type = spark-driver\n        pkey = word\n        score = count\n        title = Word Count\n        debug = false\n' \
  "$eport" > wes/wc_es.conf
$SLUICE usecase run wes/wc_es.conf --no-status > wes.out 2> wes.err || { cat wes.err; fail "wordcount -> elasticsearch"; }
$PY - es.ndjson > got_es.txt <<'PYEOF' || fail "elasticsearch documents"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    a = r["action"]["index"]
    assert a["_index"] == "usecase" and a.get("_type") == "spark-driver", a
    d = r["doc"]
    assert list(d) == ["title", "timestamp", "word", "count"], d
    assert d["title"] == "Word Count"
    print(d["word"], d["count"])
PYEOF
LC_ALL=C sort -o got_es.txt got_es.txt
cmp -s got_es.txt want_wc.txt || fail "elasticsearch counts differ from awk"
ok "wordcount -> elasticsearch: $nwords documents {title, timestamp, word, count} in index usecase"

# ---- --debug writes floats and strings as Python's repr does
mkdir -p fl
printf '20\n0.1\n100.07724239028794\n0.5666666666666662\n1e16\n1e15\n0.0001\n0.00001\n1.5e-7\n-0.0\n123456789012345678\n3.14159\n1e22\n-7.25\n' > fl/n.txt
printf 'type = batch\nfile = n.txt\noutput = csv\n' > fl/fl.conf
printf 'transforms:\n  f:\n    type: eval\n    inputs: [input]\n    set: {key: "message", score: "TO_DOUBLE(message)"}\n    remove: [message]\n' > fl/fl.yaml
$SLUICE usecase run fl/fl.conf --debug --no-status > fl.out 2> fl.err || { cat fl.err; fail "floats"; }
$PY - fl.out <<'PYEOF' || { cat fl.out; fail "Python repr"; }
import ast, sys
text = open(sys.argv[1]).read().strip()
want = repr([(k, float(k)) for k in open("fl/n.txt").read().split()])
# Python 3 writes str without the u prefix: compare with it taken out
assert text.replace("(u'", "('").replace('(u"', '("') == want, (text, want)
PYEOF
ok "--debug: repr of floats as Python's"

# ---- web anomaly detection, streaming: drop the log into the watched folder, then stop
# (the open 60 s window is flushed at the stop, as at the end of the input)
start_wad() { # CONF OUT ERR [ARGS...]
  local conf=$1 out=$2 err=$3
  shift 3
  $SLUICE usecase run "$conf" --no-status "$@" > "$out" 2> "$err" &
  WPID=$!
  PIDS+=("$WPID")
}
wait_log() { # FILE PATTERN
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1"
  fail "no '$2' in $1"
}
stop_wad() {
  kill -TERM "$WPID"
  wait "$WPID" || fail "use case exited with $?"
}
drop_log() { # put the sample log into the folder in one step (as Spark's textFileStream wants)
  cp uc/web-anomaly-detection/sample_access_log "logs/.incoming$1"
  mv "logs/.incoming$1" "logs/access$1.log"
}
wait_events() { # ERR N: the done line says N events in
  grep -q "events in $2," "$1" || { cat "$1"; fail "not all $2 lines were read"; }
}
nlog=$(count_lines uc/web-anomaly-detection/sample_access_log)
check_wad() { # CSV: the injected client first by score, 21 clients, metadata sorted by key
  $PY - "$1" <<'PYEOF' || fail "web anomaly CSV $1"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) == 21, len(rows)
# time, key, score, then the metadata values sorted by key: cluster, nxx, twoxx
rows.sort(key=lambda r: -float(r[2]))
top = rows[0]
assert top[1] == "10.66.66.66", rows[:3]
assert top[4:] == ["100", "20"], top
assert float(top[2]) > 3 * float(rows[1][2]), (top, rows[1])
print("ok: top", top[1], "score", top[2], "next", rows[1][1], rows[1][2])
PYEOF
}
start_wad uc/web-anomaly-detection/web-anomaly-detection.conf wad.out wad.err
wait_log wad.err "waiting for one"
drop_log 1
wait_log wad.err "following $T/logs/access1.log"
sleep 2
stop_wad
wait_events wad.err "$nlog"
check_wad wad.csv
ok "web anomaly detection: 10.66.66.66 ranked first"

# ---- the same with --debug: pprint() blocks, 10 records and '...'
rm -f logs/* wad.csv
start_wad uc/web-anomaly-detection/web-anomaly-detection.conf wadd.out wadd.err --debug
wait_log wadd.err "waiting for one"
drop_log 2
wait_log wadd.err "following"
sleep 2
stop_wad
[ ! -e wad.csv ] || fail "--debug wrote the CSV"
$PY - wadd.out <<'PYEOF' || { cat wadd.out; fail "pprint format"; }
import ast, re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0] == "-" * 43 and lines[2] == "-" * 43, lines[:3]
assert re.match(r"^Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", lines[1]), lines[1]
recs = [ast.literal_eval(l) for l in lines[3:13]]
for key, score, meta in recs:
    assert isinstance(key, str) and isinstance(score, float), (key, score)
    assert sorted(meta) == ["cluster", "nxx", "twoxx"], meta
assert lines[13] == "..." and lines[14] == "", lines[13:15]
PYEOF
ok "web anomaly --debug: pprint() block"

# ---- the web anomaly use case over syslog: Apache lines sent with logger (RFC 5424, UDP)
port=$(free_port)
cp -r uc/web-anomaly-detection wads
mv wads/web-anomaly-detection.conf wads/wad-syslog.conf
mv wads/web-anomaly-detection.yaml wads/wad-syslog.yaml
sed -i -e "s|^input = file|input = syslog|" -e "s|$T/wad.csv|$T/wads.csv|" \
  -e "s|^\[in_file\]|[in_syslog]\n        host = 127.0.0.1\n        port = $port\n        protocol = tcp\n[in_file_unused]|" \
  wads/wad-syslog.conf
start_wad wads/wad-syslog.conf wads.out wads.err
wait_port "$port"
logger --rfc5424 -T -n 127.0.0.1 -P "$port" -t apache -f uc/web-anomaly-detection/sample_access_log ||
  fail "logger"
sleep 2
stop_wad
wait_events wads.err "$nlog"
check_wad wads.csv
ok "web anomaly over syslog (logger, TCP): 10.66.66.66 ranked first"

# ---- input = kafka + [log_filter]: JSON messages from librdkafka's mock cluster; include and
# exclude as dataShark's logFilter (re.match on the message's JSON fields), checked against
# Python; counts per client through an extra sink of the transforms file
KT=${SL_BUILD:?}/kafkatool
[ -x "$KT" ] || fail "no $KT"
mkfifo mock.in
sleep 100000 > mock.in &
PIDS+=($!)
"$KT" mock -t logs:2 < mock.in > boot.txt 2> mock.err &
PIDS+=($!)
for _ in $(seq 50); do [ -s boot.txt ] && break; sleep 0.1; done
B=$(cat boot.txt)
[ -n "$B" ] || fail "mock cluster did not start: $(cat mock.err)"
$PY - > msgs.json <<'PYEOF'
import json, random
random.seed(7)
for i in range(3000):
    ev = {"client": "10.0.0.%d" % random.randint(1, 40),
          "vhost": random.choice(["shop.example.com", "shop", "blog.example.com", "xshop", "Shop"]),
          "agent": random.choice(["Mozilla/5.0", "Googlebot/2.1", "curl/8", "SemrushBOT"])}
    if i % 50 == 0:
        del ev["vhost"]          # a missing include field: dropped
    if i % 40 == 0:
        del ev["agent"]          # a missing exclude field: kept
    print(json.dumps(ev))
PYEOF
mkdir -p kuc
cat > kuc/kafka_uc.conf <<EOF
name = Kafka clients
type = streaming
enabled = true
input = kafka
output = csv

[in_kafka]
        host = 127.0.0.1
        port = 2181
        brokers = $B
        topic = logs
        partitions = 2
        offset_reset = earliest

[log_filter]
        [[include]]
                vhost = ^shop
        [[exclude]]
                agent = (?i).*bot

[out_csv]
        path = $T/kuc.csv
EOF
cat > kuc/kafka_uc.yaml <<EOF
transforms:
  per_client:
    type: aggregate
    inputs: [input]
    group_by: {key: client}
    aggregates: {score: "count()"}
    window: tumbling
    size: 1h
    time: processing
sinks:
  all:
    type: file
    inputs: [per_client]
    path: $T/kuc.json
EOF
start_wad kuc/kafka_uc.conf kuc.out kuc.err --debug
"$KT" produce -B "$B" -t logs -l < msgs.json 2> /dev/null || fail "produce"
for _ in $(seq 100); do grep -q "assigned" kuc.err && break; sleep 0.1; done
sleep 3
stop_wad
$PY - msgs.json kuc.json <<'PYEOF' || { cat kuc.err | tail; fail "kafka + log_filter counts"; }
import json, re, sys
want = {}
for line in open(sys.argv[1]):
    ev = json.loads(line)
    # dataShark's logFilter: every include must re.match, no exclude may re.match
    if "vhost" not in ev or not re.match("^shop", ev["vhost"]):
        continue
    if "agent" in ev and re.match("(?i).*bot", ev["agent"]):
        continue
    want[ev["client"]] = want.get(ev["client"], 0) + 1
got = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    got[r["key"]] = got.get(r["key"], 0) + r["score"]
assert got == want, (sorted(got.items())[:5], sorted(want.items())[:5])
print("ok: %d clients, %d events kept of 3000" % (len(got), sum(got.values())))
PYEOF
ok "input = kafka with [log_filter]: include/exclude as dataShark's logFilter"

# ---- output = syslog: dataShark's JSON document per record over UDP, facility 13 at INFO
uport=$($PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp -r uc/web-anomaly-detection wsys
mv wsys/web-anomaly-detection.conf wsys/wad-sys.conf
mv wsys/web-anomaly-detection.yaml wsys/wad-sys.yaml
sed -i -e "s|^output = csv|output = syslog|" wsys/wad-sys.conf
printf '[out_syslog]\n        host = 127.0.0.1\n        port = %s\n        pkey = source_ip\n        score = anomaly_score\n        title = Web Anomaly Detection\n        debug = false\n' \
  "$uport" >> wsys/wad-sys.conf
$PY - "$uport" udp.txt <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(30)
with open(sys.argv[2], "w") as f:
    f.write("")
    for _ in range(21):
        f.write(s.recvfrom(70000)[0].decode() + "\n")
        f.flush()
PYEOF
LPID=$!
PIDS+=("$LPID")
rm -f logs/*
start_wad wsys/wad-sys.conf wsys.out wsys.err
wait_log wsys.err "waiting for one"
drop_log 4
wait_log wsys.err "following"
sleep 2
stop_wad
wait "$LPID" || fail "syslog listener: not 21 messages ($(count_lines udp.txt))"
$PY - udp.txt <<'PYEOF' || { head -3 udp.txt; fail "syslog documents"; }
import json, sys
docs = []
for line in open(sys.argv[1]):
    assert line.startswith("<110>1 "), line   # facility 13, severity info, RFC 5424
    doc = json.loads(line[line.index("{"):])
    assert list(doc)[:4] == ["title", "timestamp", "source_ip", "anomaly_score"], doc
    assert doc["title"] == "Web Anomaly Detection"
    assert sorted(list(doc)[4:]) == ["cluster", "nxx", "twoxx"], doc
    docs.append(doc)
docs.sort(key=lambda d: -d["anomaly_score"])
assert docs[0]["source_ip"] == "10.66.66.66" and docs[0]["nxx"] == 100, docs[0]
PYEOF
ok "web anomaly -> syslog: 21 dataShark documents, 10.66.66.66 first"

# ---- production mode: one process for every enabled use case of a directory
mkdir -p prod
cp -r uc/wordcount uc/web-anomaly-detection prod/
cp -r uc/wordcount prod/wordcount_off
mv prod/wordcount_off/wordcount.conf prod/wordcount_off/wordcount_off.conf
mv prod/wordcount_off/wordcount.yaml prod/wordcount_off/wordcount_off.yaml
sed -i -e "s|^enabled = true|enabled = false|" -e "s|$T/wc.csv|$T/off.csv|" \
  prod/wordcount_off/wordcount_off.conf
rm -f wc.csv wad.csv logs/*
start_wad prod prod.out prod.err
wait_log prod.err "waiting for one"
drop_log 3
wait_log prod.err "following"
sleep 2
stop_wad
grep -q "Skipped (not enabled): prod/wordcount_off/wordcount_off.conf" prod.err ||
  { cat prod.err; fail "disabled use case not listed"; }
[ ! -e off.csv ] || fail "the disabled use case ran"
grep -q "Loaded Confs: \['prod/web-anomaly-detection/web-anomaly-detection.conf', 'prod/wordcount/wordcount.conf'\]" prod.err ||
  { cat prod.err; fail "Loaded Confs"; }
expect_eq "production: wordcount rows" "$(count_lines wc.csv)" "$nwords"
check_wad wad.csv
ok "production mode: both enabled use cases in one process, the disabled one skipped"

# ---- bad .conf files: file:line:col
bad() { # NAME WANT (a regex over stderr)
  local rc=0
  $SLUICE usecase check "$1" > /dev/null 2> bad.err || rc=$?
  expect_eq "$1 exit status" "$rc" 2
  grep -Eq "$2" bad.err || { cat bad.err; fail "$1: no '$2'"; }
}
mkdir -p b
touch b/x.txt
cp uc/wordcount/wordcount.yaml b/dup.yaml
printf 'type = batch\nfile = x.txt\noutput = csv\n[out_csv]\n  path = a.csv\n  path = b.csv\n' > b/dup.conf
bad b/dup.conf "^sluice: b/dup.conf:6:3: Duplicate keyword name"
cp uc/wordcount/wordcount.yaml b/opt.yaml
printf 'type = batch\nfile = x.txt\noutput = syslog\n[out_syslog]\n  host = 127.0.0.1\n  prot = 514\n' > b/opt.conf
bad b/opt.conf "^sluice: b/opt.conf:6:3: unknown option 'prot'"
cp uc/wordcount/wordcount.yaml b/type.yaml
printf 'type = batches\nfile = x.txt\noutput = csv\n' > b/type.conf
bad b/type.conf "^sluice: b/type.conf:1:8: type must be batch or streaming"
printf 'transforms:\n  x: {type: eval, inputs: [input], set: {n: "1"}}\n' > b/re.yaml
printf 'type = streaming\ntraining = t.log\ninput = file\noutput = csv\n[in_file]\n  folder_path = %s\n[log_filter]\n  [[include]]\n    message = "^(10"\n' "$T/logs" > b/re.conf
bad b/re.conf "^sluice: b/re.conf:9:15: include regex for 'message' does not compile"
printf 'type = streaming\ninput = file\noutput = csv\n[in_file]\n  folder_path = %s\n[log_filter]\n  [[exclude]]\n    host = a, b\n' "$T/logs" > b/list.conf
cp b/re.yaml b/list.yaml
bad b/list.conf "^sluice: b/list.conf:8:12: 'host' must be one value, not a list"
printf 'type = batch\nfile = x.txt\ncode = nocode.py\noutput = csv\n' > b/noxf.conf
bad b/noxf.conf "^sluice: b/noxf.conf:3:1: no transforms file b/noxf.yaml"
printf 'type = batch\nfile = x.txt\noutput = csv\n' > b/yopt.conf
printf 'transforms:\n  w:\n    type: aggregate\n    inputs: [input]\n    windw: batch\n' > b/yopt.yaml
bad b/yopt.conf "^sluice: b/yopt.yaml:5:5: unknown option 'windw'"
printf 'type = batch\nfile = x.txt\noutput = csv\n' > b/ysub.conf
printf 'transforms:\n  w:\n    type: kmeans\n    inputs: [input]\n    training: ${conf.trainin}\n' > b/ysub.yaml
bad b/ysub.conf "^sluice: b/ysub.yaml:5:15: \\$\\{conf.trainin\\}: no such key"
# production mode stops at a use case that does not parse
mkdir -p prodbad/x && printf '[a]\n[[[b]]]\n' > prodbad/x/x.conf
rc=0; $SLUICE usecase run prodbad > /dev/null 2> bad.err || rc=$?
expect_eq "production with a bad .conf: exit status" "$rc" 2
grep -q "^sluice: prodbad/x/x.conf:2:4: Section too nested" bad.err || { cat bad.err; fail "prodbad"; }
ok "bad .conf files: file:line:col"
