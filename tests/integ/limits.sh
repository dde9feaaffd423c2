#!/usr/bin/env bash
# Limits on attacker-controlled sizes (docs/limits.md): each limit that no other test covers
# is hit here with its default or a small configured value, and the documented behaviour is
# checked: a dead letter naming the reason while the following records still pass, a 413,
# a config error, a count in the log. Everything runs with --once on stdin or on loopback.
source "$(dirname "$0")/lib/common.bash"

# --- JSON lines (stdin; the file, tcp, http, amqp and kafka sources share the decoder) ------
# depth: 64 levels parse, 65 are a dead letter "nesting too deep"; 4096 fields parse, 4097
# are "too many fields in one event"; max_line: a dead letter, the rest of the line skipped
cat > json.yaml <<'YAML'
sources:
  in: {type: stdin, max_line: 64KiB}
sinks:
  out: {type: file, inputs: [in], path: out.json}
  bad: {type: file, inputs: [in.errors], path: bad.json}
YAML
$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    f.write('{"n":1,"d":' + '{"a":' * 63 + '1' + '}' * 63 + '}\n')        # depth 64: ok
    f.write('{"n":2,"d":' + '{"a":' * 64 + '1' + '}' * 64 + '}\n')        # depth 65
    f.write('{"n":3,"d":' + '[' * 64 + ']' * 64 + '}\n')                  # arrays count too
    f.write(json.dumps(dict([("n", 4)] + [("f%d" % i, i) for i in range(4095)])) + "\n")
    f.write(json.dumps(dict([("n", 5)] + [("f%d" % i, i) for i in range(4096)])) + "\n")
    f.write('{"n":6,"x":"' + "y" * 70000 + '"}\n')                         # > 64 KiB
    f.write('{"n":7}\n')
PYEOF
$SLUICE run -c json.yaml --once --no-status < in.json 2> log.txt || { cat log.txt; fail "json run"; }
$PY - <<'PYEOF' || fail "json limits: $(cut -c1-300 bad.json)"
import json
ok = [json.loads(l)["n"] for l in open("out.json")]
assert ok == [1, 4, 7], ok
bad = [json.loads(l) for l in open("bad.json")]
assert [b["line"] for b in bad] == [2, 3, 5, 6], [b["line"] for b in bad]
assert "nesting too deep" in bad[0]["error"], bad[0]["error"]
assert "nesting too deep" in bad[1]["error"], bad[1]["error"]
assert "too many fields in one event (max 4096)" in bad[2]["error"], bad[2]["error"]
assert bad[3]["error"] == "line longer than max_line (65536 bytes): skipped", bad[3]["error"]
assert len(bad[3]["raw"]) == 65536, len(bad[3]["raw"])
PYEOF
ok "json: depth 64 ok, 65 dead letter; 4096 fields ok, 4097 dead letter; max_line dead letter"

# JSON document length: 16 MiB even when max_line allows more
cat > huge.yaml <<'YAML'
sources:
  in: {type: stdin, max_line: 32MiB}
sinks:
  out: {type: file, inputs: [in], path: hout.json}
  bad: {type: file, inputs: [in.errors], path: hbad.json}
YAML
$PY -c 'import sys; sys.stdout.write("{\"a\":\"" + "x" * (17 << 20) + "\"}\n{\"ok\":1}\n")' |
  $SLUICE run -c huge.yaml --once --no-status 2> log.txt || { cat log.txt; fail "huge run"; }
grep -q '"error":"invalid JSON at byte 16777216 of the line: document of 17825800 bytes exceeds the limit of 16777216"' hbad.json ||
  fail "json 16 MiB: $(cut -c1-300 hbad.json)"
expect_eq "json: the line after a 17 MiB document" "$(cat hout.json)" '{"ok":1}'

# distinct field names: the process-wide symbol table holds 2^20; past it an event naming a
# new field is a dead letter, events naming known fields still pass
$PY - <<'PYEOF'
with open("syms.json", "w") as f:
    i = 0
    while i < (1 << 20) + 1000:
        f.write("{" + ",".join('"k%d":1' % j for j in range(i, i + 4000)) + "}\n")
        i += 4000
    f.write('{"k5":2}\n')
PYEOF
cat > syms.yaml <<'YAML'
sources:
  in: {type: stdin}
transforms:
  last: {type: filter, inputs: [in], condition: "k5 == 2"}
sinks:
  out: {type: file, inputs: [last], path: sout.json}
  bad: {type: file, inputs: [in.errors], path: sbad.json}
YAML
$SLUICE run -c syms.yaml --once --no-status < syms.json 2> log.txt || { cat log.txt; fail "symbols run"; }
expect_eq "symbol table full: dead letters" "$(count_lines sbad.json)" 1
grep -q '"error":"invalid JSON at byte [0-9]* of the line: too many distinct field names (symbol table full)".*"line":263,' sbad.json ||
  fail "symbol table: $(cut -c1-300 sbad.json)"
expect_eq "symbol table full: a known field still passes" "$(cat sout.json)" '{"k5":2}'

# --- zeek: a #fields header of more than 1024 columns is a dead letter ----------------------
$PY - <<'PYEOF'
cols = ["c%d" % i for i in range(1025)]
with open("wide.log", "w") as f:
    f.write("#separator \\x09\n#path\tconn\n#fields\t" + "\t".join(cols) + "\n")
    f.write("#fields\tts\tuid\n#types\ttime\tstring\n1.5\tCabc\n")
PYEOF
cat > zeek.yaml <<'YAML'
sources:
  in: {type: file, path: [wide.log], format: zeek}
sinks:
  out: {type: file, inputs: [in], path: zeek.json}
  bad: {type: file, inputs: [in.errors], path: zbad.json}
YAML
$SLUICE run -c zeek.yaml --once --no-status 2> log.txt || { cat log.txt; fail "zeek run"; }
grep -q '"error":"invalid Zeek line: #fields: 1025 columns (at most 1024)"' zbad.json ||
  fail "zeek columns: $(cut -c1-300 zbad.json)"
grep -q '"uid":"Cabc"' zeek.json || fail "zeek: the next header was not used: $(cat zeek.json)"
ok "zeek: 1025 columns is a dead letter, the next header works"

# --- tcp: past max_connections the listener stops accepting until a connection closes ------
PORT=$(free_port)
cat > tcp.yaml <<YAML
sources:
  net: {type: tcp, listen: "127.0.0.1:$PORT", format: json, max_connections: 2}
sinks:
  out: {type: file, inputs: [net], path: tcp.json}
YAML
$SLUICE run -c tcp.yaml --no-status 2> tcp.log &
PIDS+=($!)
wait_port "$PORT"
$PY - "$PORT" <<'PYEOF' || { cat tcp.log; fail "tcp max_connections"; }
import glob, json, socket, sys, time
port = int(sys.argv[1])
def got():  # the file sink writes into tcp.json.tmp until it closes the file
    out = []
    for p in glob.glob("tcp.json*"):
        out += [json.loads(l)["c"] for l in open(p) if l.endswith("\n")]
    return sorted(out)
def wait_for(want, secs):
    end = time.time() + secs
    while time.time() < end and got() != want:
        time.sleep(0.1)
    return got()
time.sleep(0.3)  # wait_port's probe connection has closed
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
for i, s in enumerate(socks):
    s.sendall(b'{"c": %d}\n' % i)
    time.sleep(0.2)
assert wait_for([0, 1], 10) == [0, 1], got()
time.sleep(1.0)
assert got() == [0, 1], "the third connection was read: %r" % got()
socks[0].close()
assert wait_for([0, 1, 2], 10) == [0, 1, 2], got()
PYEOF
grep -q 'max_connections (2) reached: not accepting for now' tcp.log || fail "tcp: no warning"
ok "tcp: max_connections 2: a third client waits until one closes"

# --- parse transform: csv past 65536 fields is a dead letter --------------------------------
cat > csv.yaml <<'YAML'
sources:
  in: {type: stdin, format: lines}
transforms:
  p: {type: parse, inputs: [in], format: csv, source: message, columns: [a, b]}
sinks:
  out: {type: file, inputs: [p], path: out.json}
  bad: {type: file, inputs: [p.errors], path: bad.json}
YAML
rm -f out.json bad.json
$PY -c 'print("a,b,c\n" + ",".join(["x"] * 65537) + "\nd,e")'  |
  $SLUICE run -c csv.yaml --once --no-status 2> log.txt || { cat log.txt; fail "csv run"; }
expect_eq "csv rows that pass" "$(count_lines out.json)" 2
grep -q 'more than 65536 CSV fields' bad.json || fail "csv dead letter: $(cut -c1-300 bad.json)"
ok "csv: 65537 fields is a dead letter naming the limit"

# --- sql transform: max_state_bytes drops records into .errors, the rest go on --------------
$PY -c '
import json
for i in range(2000): print(json.dumps({"k": "key%05d" % i, "v": i}))' > keys.json
cat > sql.yaml <<'YAML'
sources:
  in: {type: stdin}
transforms:
  q:
    type: sql
    inputs: [in]
    topic: s
    max_state_bytes: 8KiB
    statements: |
      CREATE STREAM S (K STRING, V BIGINT) WITH (kafka_topic='s', value_format='json');
      CREATE TABLE T AS SELECT K, SUM(V) AS TOTAL FROM S GROUP BY K;
sinks:
  out: {type: file, inputs: [q], path: out.json}
  errs: {type: file, inputs: [q.errors], path: errs.json}
YAML
rm -f out.json
$SLUICE run -c sql.yaml --once --no-status < keys.json 2> log.txt || { cat log.txt; fail "sql run"; }
$PY - <<'PYEOF' || fail "sql max_state_bytes"
import json
out = [json.loads(l) for l in open("out.json")]
errs = [json.loads(l) for l in open("errs.json")]
assert 0 < len(out) < 200, len(out)
assert len(out) + len(errs) == 2000, (len(out), len(errs))
assert "state is full" in errs[0]["error"] and "max_state_bytes" in errs[0]["error"], errs[0]
PYEOF
ok "sql: max_state_bytes 8KiB keeps $(count_lines out.json) groups, the rest are dead letters"

# --- profiler: max_entities evicts (flushes early) the least recently used ------------------
$PY -c '
import json
for i in range(500): print(json.dumps({"timestamp": 1530978000000 + i, "ip": "10.0.%d.%d" % (i // 250, i % 250)}))' > ents.json
cat > profiler.json <<'JSON'
{"timestampField": "timestamp",
 "profiles": [{"profile": "n", "foreach": "ip", "init": {"c": 0}, "update": {"c": "c + 1"},
               "result": "c"}]}
JSON
cat > prof.yaml <<'YAML'
sources:
  in: {type: stdin}
transforms:
  prof: {type: profiler, inputs: [in], profiles_file: profiler.json, period: 15m, lag: 5s,
         max_entities: 20}
sinks:
  m: {type: file, inputs: [prof], path: m.json}
YAML
$SLUICE run -c prof.yaml --once --no-status < ents.json 2> log.txt || { cat log.txt; fail "profiler run"; }
# the bound is split over the transform's 16 shards, ceil(20 / 16) = 2 each: 32 held at most
held=$(sed -n 's/.*measurements, \([0-9]*\) entities held.*/\1/p' log.txt)
evicted=$(sed -n 's/.* \([0-9]*\) evicted.*/\1/p' log.txt)
[ -n "$held" ] && [ "$held" -le 32 ] && [ $((held + evicted)) -eq 500 ] ||
  fail "profiler evictions: $(grep flushed log.txt)"
expect_eq "profiler: every entity still measured once" "$(count_lines m.json)" 500
ok "profiler: max_entities 20 over 500 entities: $held held, $evicted evicted, none lost"

# --- config file: larger than 16 MiB is a config error --------------------------------------
{ echo "sources: {in: {type: stdin}}"; echo "sinks: {out: {type: null, inputs: [in]}}";
  head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' '#'; echo; } > big.yaml
if $SLUICE check -c big.yaml > check.txt 2>&1; then fail "a 16 MiB config was accepted"; fi
grep -q 'config file too large (max 16 MiB)' check.txt || fail "config size: $(cut -c1-300 check.txt)"
ok "config: over 16 MiB refused"

# --- Stellar and SQL sources: nesting refused with a position, not a stack overflow ---------
$PY -c 'print("(" * 1000 + "1" + ")" * 1000)' > deep.st
if $SLUICE stellar -f deep.st > st.txt 2>&1; then fail "1000 nested parentheses accepted"; fi
grep -q 'expression nested too deeply' st.txt || fail "stellar depth: $(head -c 300 st.txt)"
ok "stellar: nesting past the parser's 200 levels is an error"
# a chain of 10,000 operators is one level each (it overflowed the compiler's stack before)
$PY -c 'print("sources: {in: {type: stdin}}\ntransforms: {f: {type: filter, inputs: [in], condition: \"" + "1 + " * 10000 + "1 == 3\"}}\nsinks: {out: {type: null, inputs: [f]}}")' > chain.yaml
if $SLUICE check -c chain.yaml > chain.txt 2>&1; then fail "a 10,000-operator chain was accepted"; fi
grep -q 'expression too deep: more than 6000 levels' chain.txt || fail "stellar chain: $(head -c 300 chain.txt)"
ok "stellar: a chain of 10,000 operators is a config error, not a crash"
$PY -c 'print("CREATE STREAM S (K INT) WITH (kafka_topic='"'s'"', value_format='"'json'"');\nSELECT " + "(" * 1000 + "K" + ")" * 1000 + " FROM S EMIT CHANGES;")' > deep.sql
$SLUICE sql < deep.sql > sql.txt 2>&1 || true
grep -q 'nesting deeper than 200 levels' sql.txt || fail "sql depth: $(head -c 300 sql.txt)"
ok "sql: nesting past 200 levels is an error"

# --- http source: past max_connections a client waits (kernel backlog) until one closes ----
PORT=$(free_port)
cat > hc.yaml <<YAML
sources:
  web: {type: http, listen: "127.0.0.1:$PORT", max_connections: 1}
sinks:
  out: {type: null, inputs: [web]}
YAML
$SLUICE run -c hc.yaml --no-status 2> hc.log &
PIDS+=($!)
wait_port "$PORT"
if command -v curl > /dev/null; then
  $PY - "$PORT" <<'PYEOF' || { cat hc.log; fail "http max_connections"; }
import socket, subprocess, sys, time
port = int(sys.argv[1])
def post():
    r = subprocess.run(["curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", "-XPOST",
                        "--data-binary", '{"a":1}', "http://127.0.0.1:%d/" % port],
                       capture_output=True, text=True)
    return r.stdout
time.sleep(0.3)
held = socket.create_connection(("127.0.0.1", port))
time.sleep(0.3)
code = post()
assert code == "000", "answered while the only connection was held: %s" % code
held.close()
time.sleep(0.3)
code = post()
assert code == "200", code
PYEOF
  ok "http: max_connections 1: a second client waits until the first closes"
  # request head: libmicrohttpd's 32 KiB per connection
  big=$(head -c 40000 /dev/zero | tr '\0' a)
  expect_eq "http: a 40 KB header" "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H "X-Big: $big" \
    --data-binary '{"a":1}' "http://127.0.0.1:$PORT/")" 431
  expect_eq "http: a 40 KB URL" "$(curl -s -o /dev/null -w '%{http_code}' -XPOST \
    --data-binary '{"a":1}' "http://127.0.0.1:$PORT/$big")" 414
fi

# --- HTTP: tokens file over 4 MiB refused at start; ksql body over 4 MiB is 413 -------------
PORT=$(free_port)
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' > big.tokens
cat > tok.yaml <<YAML
sources:
  web: {type: http, listen: "127.0.0.1:$PORT", tokens: big.tokens}
sinks:
  out: {type: null, inputs: [web]}
YAML
if timeout 20 $SLUICE run -c tok.yaml --no-status > tok.txt 2>&1; then fail "big tokens file accepted"; fi
grep -q 'tokens file big.tokens: .*too' tok.txt || fail "tokens size: $(head -c 300 tok.txt)"
ok "http: a tokens file over 4 MiB is refused at start"

if command -v curl > /dev/null; then
  cat > api.yaml <<YAML
api: {listen: "127.0.0.1:$PORT"}
sources:
  in: {type: file, path: [none.log], mode: tail}
transforms:
  ksql: {type: sql, inputs: [in], topic: events, statements: ""}
sinks:
  out: {type: null, inputs: [ksql]}
YAML
  : > none.log
  $SLUICE run -c api.yaml --no-status 2> api.log &
  PIDS+=($!)
  wait_port "$PORT"
  { printf '{"ksql": "'; head -c $((4 * 1024 * 1024)) /dev/zero | tr '\0' ' '; printf 'SHOW STREAMS;"}'; } > big.json
  code=$(curl -s -o resp.json -w '%{http_code}' -XPOST "http://127.0.0.1:$PORT/ksql" --data-binary @big.json)
  expect_eq "ksql body over 4 MiB" "$code" 413
  grep -q '"error_code":41300' resp.json || fail "ksql 413 body: $(cat resp.json)"
  code=$(curl -s -o resp.json -w '%{http_code}' -XPOST "http://127.0.0.1:$PORT/ksql" \
           --data-binary '{"ksql": "SHOW STREAMS;"}')
  expect_eq "ksql still answers after a 413" "$code" 200
fi
echo "limits: all checks passed"
