#!/usr/bin/env bash
# Zeek logs as input (`format: zeek` of the file source, `sluice send --format zeek`):
#   - TSV with headers (#separator, #set_separator, #empty_field, #unset_field, #path, #fields,
#     #types), escapes, (empty), -, sets and vectors; typed by #path onto the network-event
#     schema (conn -> GENERAL with camelCase names, ts as the event time);
#   - Zeek JSON lines with dotted and underscore names, typed by the file name (http -> HTTP);
#   - a log path that is no network-event type keeps Zeek's names and gets no type;
#   - bad lines (bad value, wrong column count, data before #fields) are dead letters with the
#     file, line and byte offset; the good lines around them flow;
#   - `sluice send --format zeek` encodes the same logs as FlatBuffers: they arrive through a
#     CurveZMQ zmq source with the same fields as the file source reads them.
source "$(dirname "$0")/lib/common.bash"

printf '%s\n' \
  '#separator \x09' \
  '#set_separator	,' \
  '#empty_field	(empty)' \
  '#unset_field	-' \
  '#path	conn' \
  '#open	2026-01-01-00-00-00' \
  '#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	history	orig_pkts	tunnel_parents' \
  '#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	string	count	set[string]' \
  '1700000000.500000	CAbc1	10.0.0.1	51000	192.168.1.1	443	tcp	ssl	1.250000	100	2000	SF	T	ShADadFf	10	(empty)' \
  '1700000001.000000	CAbc2	10.0.0.2	51001	192.168.1.2	53	udp	dns	-	-	-	S0	F	D	1	Cx1,Cx2' \
  'not-a-time	CAbc3	10.0.0.3	51002	192.168.1.3	80	tcp	-	0.1	5	5	SF	-	-	1	-' \
  '1700000003.000000	CAbc4	10.0.0.4	51003	192.168.1.4	80	tcp' \
  '1700000004.250000	CAbc5	10.0.0.5	51004	fe80::1	8080	tcp	a\x09b\x2cc	0.5	7	8	SF	-	-	2	x\x2cy,z' \
  '#close	2026-01-01-00-00-10' > conn.log

$PY - <<'PYEOF'
import json
rows = [
    {"ts": 1700000100.25, "uid": "CH1", "id.orig_h": "10.1.0.1", "id.orig_p": 40000,
     "id.resp_h": "93.184.216.34", "id.resp_p": 80, "trans_depth": 1, "method": "GET",
     "host": "example.org", "uri": "/index.html", "status_code": 200,
     "resp_mime_types": ["text/html"], "user_agent": "curl/8.0 \u00e9"},
    {"ts": 1700000101.5, "uid": "CH2", "id_orig_h": "10.1.0.2", "id_orig_p": 40001,
     "id_resp_h": "93.184.216.35", "id_resp_p": 443, "method": "POST", "status_code": 404},
]
with open("site1_http.json.log", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
    f.write('{"ts": 1700000102.0, "uid": broken\n')
PYEOF

printf '%s\n' '#separator \x09' '#path	dns' '#fields	ts	id.orig_h	query	TTLs' \
  '#types	time	addr	string	vector[interval]' '10.25	1.1.1.1	example.org	3600.0,60.5' > dns.log
printf '%s\n' '1.0	x	y' > headless.log

cat > p.yaml <<YAML
sources:
  z:
    type: file
    path: ["conn.log", "site1_http.json.log", "dns.log", "headless.log"]
    format: zeek
sinks:
  out: {type: file, inputs: [z], path: out.json}
  dead: {type: file, inputs: [z.errors], path: dead.json}
YAML
$SLUICE run --once -c p.yaml 2> log.txt || fail "run: $(cat log.txt)"
expect_eq "events" "$(count_lines out.json)" 6
expect_eq "dead letters" "$(count_lines dead.json)" 4
$PY - <<'PYEOF' || fail "zeek events: $(cat out.json)"
import json
evs = {e.get("uid", e.get("query")): e for e in map(json.loads, open("out.json"))}
c1 = evs["CAbc1"]
assert c1 == {"type": "GENERAL", "ts": "2023-11-14T22:13:20.500000000Z", "uid": "CAbc1", "origIp": "10.0.0.1",
              "origPort": 51000, "respIp": "192.168.1.1", "respPort": 443, "proto": "tcp",
              "service": "ssl", "duration": 1.25, "origBytes": 100, "respBytes": 2000,
              "connState": "SF", "localOrig": True, "history": "ShADadFf", "origPkts": 10,
              "tunnelParents": []}, c1
c2 = evs["CAbc2"]
assert "duration" not in c2 and "origBytes" not in c2 and c2["tunnelParents"] == ["Cx1", "Cx2"], c2
assert c2["localOrig"] is False, c2
c5 = evs["CAbc5"]
assert c5["service"] == "a\tb,c" and c5["tunnelParents"] == ["x,y", "z"], c5
assert c5["respIp"] == "fe80::1", c5
h1, h2 = evs["CH1"], evs["CH2"]
assert h1["type"] == "HTTP" and h1["origIp"] == "10.1.0.1" and h1["statusCode"] == 200, h1
assert h1["transDepth"] == 1 and h1["userAgent"] == "curl/8.0 \u00e9", h1
assert h1["respMimeTypes"] == ["text/html"], h1
assert h2["type"] == "HTTP" and h2["origIp"] == "10.1.0.2" and h2["respPort"] == 443, h2
d = evs["example.org"]
assert d == {"ts": 10.25, "id.orig_h": "1.1.1.1", "query": "example.org", "TTLs": [3600.0, 60.5]}, d
PYEOF
ok "TSV and JSON logs typed onto the network-event schema, escapes, sets, unset and empty"

$PY - <<'PYEOF' || fail "dead letters: $(cat dead.json)"
import json
rows = [json.loads(l) for l in open("dead.json")]
by = {(r["where"], r["line"]): r for r in rows}
bad_ts = by[("conn.log", 11)]
assert "ts" in bad_ts["error"] and "not-a-time" in bad_ts["error"], bad_ts
assert bad_ts["raw"].startswith("not-a-time\tCAbc3"), bad_ts
short = by[("conn.log", 12)]
assert "column" in short["error"] or "fields" in short["error"], short
js = by[("site1_http.json.log", 3)]
assert js["error"] == "invalid Zeek JSON at byte 28 of the line: expected a value", js
hl = by[("headless.log", 1)]
assert "#fields" in hl["error"], hl
off = open("conn.log", "rb").read().split(b"\n")
assert bad_ts["offset"] == sum(len(l) + 1 for l in off[:10]), (bad_ts["offset"],)
PYEOF
ok "bad lines are dead letters with file, line, offset and reason"

# ---- sluice send --format zeek: the same logs as FlatBuffers through CurveZMQ
SEED_SECRET=693F66214F327A76785550413A5E253C3E6D70657A217B4155407A666A305876477B68495A2F5D36
SEED_PUBLIC=5A5832576F434D2D57367D667148464865326E3C4B74586B733C574C7A624E6355642D5239282E72
PORT=$(free_port)
SPORT=$(free_port)
cat > z.yaml <<YAML
sources:
  z: {type: zmq, host: 127.0.0.1, port: $PORT, shutdown_port: $SPORT, secret_key: $SEED_SECRET}
sinks:
  out: {type: file, inputs: [z], path: zout.json}
YAML
$SLUICE run -c z.yaml 2> zlog.txt &
PIDS+=($!)
SPID=$!
wait_port $PORT
$SLUICE send --server-key $SEED_PUBLIC --port $PORT --format zeek conn.log site1_http.json.log \
  > send.txt 2> send_err.txt || fail "send: $(cat send.txt send_err.txt)"
grep -q "sent 5 events" send.txt || fail "send count: $(cat send.txt send_err.txt)"
grep -q "conn.log:11: skipped" send_err.txt || fail "send did not report the bad line: $(cat send_err.txt)"
$PY - $SPORT <<'PYEOF'
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
s.send(b"shutdown")
assert s.poll(20000), "no shutdown reply"
s.recv()
PYEOF
wait $SPID || fail "zmq pipeline exit: $(cat zlog.txt)"
expect_eq "events through CurveZMQ" "$(count_lines zout.json)" 5
$PY - <<'PYEOF' || fail "zmq events: $(cat zout.json)"
import json
file_evs = {e["uid"]: e for e in map(json.loads, open("out.json")) if "uid" in e}
for e in map(json.loads, open("zout.json")):
    want = file_evs[e["uid"]]
    for k, v in e.items():
        if k in want:
            assert want[k] == v, (k, v, want[k])
    for k in ("type", "origIp", "origPort", "respIp", "respPort", "proto"):
        assert e.get(k) == want.get(k), (k, e, want)
PYEOF
ok "sluice send --format zeek: the logs arrive as network events with the file source's values"
