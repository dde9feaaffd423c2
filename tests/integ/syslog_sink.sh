#!/usr/bin/env bash
# syslog sink -> a real rsyslogd started here (own config and work dir: imudp, imtcp, imtcp
# with the gtls driver and certtool-made certificates; no imuxsock/imklog), which writes every
# message raw (%rawmsg%) to a file per input. Checks every record's PRI, header and dataShark
# JSON document over UDP (bare, dataShark's own shape), TCP octet counting (RFC 5424), TCP LF
# (RFC 3164), TLS (RFC 5424, server verified; and with a client certificate the server
# requires); an oversized record in .errors; then stops rsyslogd in the middle of a TCP stream,
# starts it again, and checks that no record was lost.
source "$(dirname "$0")/lib/common.bash"

RSYSLOGD=/usr/sbin/rsyslogd
[ -x $RSYSLOGD ] || fail "rsyslogd not installed"
command -v certtool >/dev/null || fail "certtool not installed"

# ---- certificates: a CA, a server certificate for 127.0.0.1/localhost, a client certificate
cat > ca.tmpl <<'EOF'
cn = "sluice test CA"
ca
cert_signing_key
expiration_days = 2
EOF
cat > srv.tmpl <<'EOF'
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
EOF
cat > cli.tmpl <<'EOF'
cn = "sluice client"
tls_www_client
encryption_key
signing_key
expiration_days = 2
EOF
{
  certtool --generate-privkey --key-type=ecdsa --outfile ca.key
  certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
  for n in srv cli; do
    certtool --generate-privkey --key-type=ecdsa --outfile $n.key
    certtool --generate-certificate --load-privkey $n.key --load-ca-certificate ca.pem \
      --load-ca-privkey ca.key --template $n.tmpl --outfile $n.pem
  done
} > certtool.log 2>&1 || { cat certtool.log; fail "certtool"; }

UDP=$(free_port); TCP=$(free_port); TLS=$(free_port); MTLS=$(free_port)
mkdir -p rs ng
# rsyslog's TLS driver is the separate package rsyslog-gnutls; without it, a real syslog-ng
# (unpacked under /opt/sluice-peers) is the TLS server
RS_TLS=0
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] && RS_TLS=1
cat > rsyslog.conf <<EOF
global(workDirectory="$T/rs" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="$T/ca.pem"
       defaultNetstreamDriverCertFile="$T/srv.pem"
       defaultNetstreamDriverKeyFile="$T/srv.key")
main_queue(queue.type="Direct")
module(load="imudp")
module(load="imtcp" maxSessions="100")
template(name="raw" type="string" string="%rawmsg%\n")
input(type="imudp" address="127.0.0.1" port="$UDP" ruleset="r_udp" rcvbufSize="4m")
input(type="imtcp" address="127.0.0.1" port="$TCP" ruleset="r_tcp")
# UDP: the receiving thread only queues (a slow receiver drops datagrams: UDP's nature)
ruleset(name="r_udp" queue.type="LinkedList" queue.size="100000") { action(type="omfile" file="$T/udp.log" template="raw") }
ruleset(name="r_tcp") { action(type="omfile" file="$T/tcp.log" template="raw") }
ruleset(name="r_tls") { action(type="omfile" file="$T/tls.log" template="raw") }
ruleset(name="r_mtls") { action(type="omfile" file="$T/mtls.log" template="raw") }
EOF
if [ $RS_TLS = 1 ]; then
  cat >> rsyslog.conf <<EOF
input(type="imtcp" address="127.0.0.1" port="$TLS" ruleset="r_tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="$MTLS" ruleset="r_mtls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
EOF
else
  NG=/opt/sluice-peers/syslog-ng
  [ -x $NG/usr/sbin/syslog-ng ] || fail "neither rsyslog-gnutls nor syslog-ng (scripts/deps.sh --syslog-ng) for the TLS server"
  # flags(no-parse): ${MSG} is the message exactly as received (PRI and header included)
  cat > ng.conf <<EOF
@version: 3.38
options { keep-hostname(yes); flush-lines(0); };
source s_tls { syslog(ip("127.0.0.1") port($TLS) transport("tls") flags(no-parse)
  tls(key-file("$T/srv.key") cert-file("$T/srv.pem") peer-verify(optional-untrusted))); };
source s_mtls { syslog(ip("127.0.0.1") port($MTLS) transport("tls") flags(no-parse)
  tls(key-file("$T/srv.key") cert-file("$T/srv.pem") ca-file("$T/ca.pem") peer-verify(required-trusted))); };
destination d_tls { file("$T/tls.log" template("\${MSG}\n")); };
destination d_mtls { file("$T/mtls.log" template("\${MSG}\n")); };
log { source(s_tls); destination(d_tls); };
log { source(s_mtls); destination(d_mtls); };
EOF
  LD_LIBRARY_PATH=$NG/usr/lib/syslog-ng:$NG/usr/lib $NG/usr/sbin/syslog-ng \
    --module-path=$NG/usr/lib/syslog-ng/3.38 -F -f ng.conf -R "$T/ng/persist" -p "$T/ng/pid" \
    -c "$T/ng/ctl" > ng.out 2>&1 &
  PIDS+=($!)
fi
RS_PID=
start_rsyslog() {
  $RSYSLOGD -n -f rsyslog.conf -i "$T/rs/rsyslogd.pid" >> rsyslog.out 2>&1 &
  RS_PID=$!; PIDS+=($RS_PID)
  wait_port $TCP
}
stop_rsyslog() {
  kill -TERM $RS_PID; wait $RS_PID 2>/dev/null || true
}
start_rsyslog
wait_port $TLS; wait_port $MTLS
if [ $RS_TLS = 1 ]; then ok "TLS server: rsyslogd (gtls)"; else ok "TLS server: syslog-ng 3.38 (rsyslog-gnutls is not installed)"; fi

# ---- records in dataShark's shape: (key, score, {metadata})
gen_records() { # N FILE SEED
  $PY - "$@" <<'PYEOF'
import json, sys
n, path, seed = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        md = {"cluster": i % 2, "twoxx": i * 3, "nxx": i % 5, "note": "r\u00e9 \"%s\" %d" % (seed, i),
              "sev": ["err", "warning", 5, "bogus"][i % 4]}
        if i % 97 == 0:
            md["title"] = "override %d" % i  # replaces the title in place (dict.update)
        f.write(json.dumps({"key": "%s-10.0.%d.%d" % (seed, i // 256, i % 256),
                            "score": i / 8.0, "metadata": md}) + "\n")
PYEOF
}
gen_records 300 udp.json u
gen_records 3000 tcp.json t
# one record too large for max_message_size: a dead letter, not a message
$PY -c 'import json; print(json.dumps({"key": "huge", "score": 1.0, "metadata": {"blob": "x" * 5000}}))' >> tcp.json

cat > p1.yaml <<YAML
sources:
  u: {type: file, path: [udp.json]}
  t: {type: file, path: [tcp.json]}
sinks:
  s_udp:
    type: syslog
    inputs: [u]
    port: $UDP
    format: bare                    # dataShark: <110>{json}
    title: Web Anomaly Detection
  s_tcp:
    type: syslog
    inputs: [t]
    transport: tcp
    port: $TCP
    app_name: dsk-octet
    hostname: testhost
    max_message_size: 4KiB
    title: Web Anomaly Detection
  s_lf:
    type: syslog
    inputs: [t]
    transport: tcp
    framing: lf
    format: rfc3164
    port: $TCP
    app_name: dsk-lf
    hostname: testhost
    procid: "-"
    facility: local3
    severity: warning
    max_message_size: 4KiB
    title: Web Anomaly Detection
  s_tls:
    type: syslog
    inputs: [t]
    transport: tls
    port: $TLS
    tls_ca: ca.pem
    app_name: dsk-tls
    hostname: testhost
    msgid: ANOMALY
    max_message_size: 4KiB
    oversize: truncate
    pkey: src
    score: dist
    timestamp_format: "%Y-%m-%dT%H:%M:%S.%fZ"
    timezone: utc
    title: Web Anomaly Detection
  s_mtls:
    type: syslog
    inputs: [u]
    transport: tls
    port: $MTLS
    tls_ca: ca.pem
    tls_cert: cli.pem
    tls_key: cli.key
    tls_server_name: localhost
    app_name: dsk-mtls
    hostname: testhost
    title: Web Anomaly Detection
  s_tpl:
    type: syslog
    inputs: [u]
    transport: tcp
    port: $TCP
    app_name: dsk-tpl
    hostname: testhost
    severity_field: metadata.sev
    body: template
    template: "key=%{key} score=%{score} cluster=%{metadata.cluster} 100%% [%{nope}] %x"
  dead: {type: file, inputs: [s_tcp.errors, s_lf.errors], path: dead.json}
YAML
timeout 120 $SLUICE run -c p1.yaml --once --no-status 2> log1.txt || { cat log1.txt; fail "run 1"; }

# rsyslog writes asynchronously from its receive threads: wait for the last lines
want_lines() { # FILE N
  local i=0
  while [ "$(count_lines "$1")" -lt "$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
}
want_lines udp.log 300; want_lines tcp.log 6300; want_lines tls.log 3001; want_lines mtls.log 300

$PY - <<'PYEOF' || { cat log1.txt rsyslog.out; fail "messages as rsyslog received them"; }
import json, re, time, sys
def records(path, seed):
    out = {}
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        if r["key"] == "huge":
            continue
        out[r["key"]] = r
    return out
U, T = records("udp.json", "u"), records("tcp.json", "t")
R5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) - (.*)$')
R3164 = re.compile(r'^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(\[\d+\])?: (.*)$')
RBARE = re.compile(r'^<(\d+)>(\{.*)$')
TS_LOCAL = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$')
TS_UTC = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')

def expect_doc(body, recs, pkey="source_ip", score="anomaly_score", ts=TS_LOCAL):
    doc = json.loads(body)
    rec = recs[doc[pkey]]
    md = rec["metadata"]
    want = {"title": md.get("title", "Web Anomaly Detection"), pkey: rec["key"], score: rec["score"]}
    for k, v in md.items():
        if k != "title":
            want[k] = v
    got = dict(doc)
    assert ts.match(got.pop("timestamp")), doc
    assert got == want, (got, want)
    assert list(doc)[:4] == ["title", "timestamp", pkey, score], list(doc)
    return rec["key"]

def check(path, rx, recs, pri, **kw):
    seen = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if kw.get("app") and (" %s " % kw["app"] not in line and " %s:" % kw["app"] not in line):
            continue
        m = rx.match(line)
        assert m, (path, line[:200])
        assert int(m.group(1)) == pri, (path, line[:80])
        if rx is R5424:
            assert m.group(3) == "testhost" and m.group(4) == kw["app"], line[:100]
            assert m.group(6) == kw.get("msgid", "-"), line[:100]
            assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', m.group(2)), line[:60]
            body = m.group(7)
        elif rx is R3164:
            assert m.group(3) == "testhost" and m.group(4) == kw["app"] and not m.group(5), line[:100]
            body = m.group(6)
        else:
            body = m.group(2)
        k = expect_doc(body, recs, kw.get("pkey", "source_ip"), kw.get("score", "anomaly_score"),
                       kw.get("ts", TS_LOCAL))
        seen[k] = seen.get(k, 0) + 1
    missing = set(recs) - set(seen)
    dup = {k: n for k, n in seen.items() if n != 1}
    assert not missing and not dup, (path, kw.get("app"), len(missing), sorted(missing)[:5], list(dup.items())[:5])
    print("ok:", path, kw.get("app", "bare"), len(seen), "records, PRI", pri)

check("udp.log", RBARE, U, 13 * 8 + 6)
check("tcp.log", R5424, T, 13 * 8 + 6, app="dsk-octet")
check("tcp.log", R3164, T, 19 * 8 + 4, app="dsk-lf")
# the TLS sink truncates the oversized record (oversize: truncate) instead of dropping it
lines = open("tls.log", encoding="utf-8").read().splitlines()
huge = [l for l in lines if '"dist":1.0,"blob":"xxx' in l]
assert len(huge) == 1 and len(huge[0].encode()) == 4096 and not huge[0].endswith("}"), [len(l) for l in huge]
with open("tls.log.ok", "w", encoding="utf-8") as f:
    f.write("".join(l + "\n" for l in lines if l not in huge))
check("tls.log.ok", R5424, T, 13 * 8 + 6, app="dsk-tls", msgid="ANOMALY", pkey="src", score="dist", ts=TS_UTC)
check("mtls.log", R5424, U, 13 * 8 + 6, app="dsk-mtls")
# body: template, severity from a field (a name, a number; an unknown name: severity)
tpl = {}
for line in open("tcp.log", encoding="utf-8"):
    m = R5424.match(line.rstrip("\n"))
    if m and m.group(4) == "dsk-tpl":
        tpl[m.group(7)] = int(m.group(1))
assert len(tpl) == len(U), len(tpl)
for r in U.values():
    body = "key=%s score=%r cluster=%d 100%% [] %%x" % (r["key"], r["score"], r["metadata"]["cluster"])
    sev = {"err": 3, "warning": 4, 5: 5, "bogus": 6}[r["metadata"]["sev"]]
    assert tpl.get(body) == 13 * 8 + sev, (body, tpl.get(body), list(tpl)[:2])
print("ok: tcp.log dsk-tpl", len(tpl), "template messages, severities from the field")
PYEOF
ok "udp bare, tcp octet-counting 5424, tcp lf 3164, tls 5424, tls with client certificate: every record once"

# the oversized record went to .errors from both size-limited TCP sinks, with the reason
expect_eq "dead letters" "$(count_lines dead.json)" 2
grep -q 'exceeds max_message_size' dead.json || fail "dead letter reason: $(head -c 300 dead.json)"
ok "oversized record dead-lettered"

# ---- a TLS server whose certificate does not carry the expected name: nothing is sent
cat > p2.yaml <<YAML
sources:
  u: {type: file, path: [udp.json]}
sinks:
  s: {type: syslog, inputs: [u], transport: tls, port: $TLS, tls_ca: ca.pem,
      tls_server_name: not-the-server.example, app_name: dsk-badname, drain_timeout: 1s}
YAML
before=$(count_lines tls.log)
timeout 60 $SLUICE run -c p2.yaml --once --no-status 2> log2.txt || true
grep -q "certificate" log2.txt || { cat log2.txt; fail "no certificate error logged"; }
grep -q "300 messages .* not confirmed" log2.txt || { cat log2.txt; fail "undelivered messages not reported"; }
expect_eq "tls.log after a wrong server name" "$(count_lines tls.log)" "$before"

# ---- TCP: the server stops in the middle of a stream and comes back; nothing is lost
N=6000
SRC=$(free_port)
cat > p3.yaml <<YAML
sources:
  net: {type: tcp, listen: "127.0.0.1:$SRC", format: json}
sinks:
  s:
    type: syslog
    inputs: [net]
    transport: tcp
    port: $TCP
    app_name: dsk-restart
    hostname: testhost
    retry_initial: 50ms
    retry_max: 500ms
YAML
$SLUICE run -c p3.yaml --no-status 2> log3.txt &
SL=$!; PIDS+=($SL)
wait_port $SRC
$PY - $SRC $N <<'PYEOF' &
import json, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
for i in range(n):
    s.sendall((json.dumps({"key": "r-%d" % i, "score": float(i), "metadata": {"i": i}}) + "\n").encode())
    if i % 50 == 49:
        time.sleep(0.02)  # about 2,500 records a second: the outage falls in the middle
s.close()
PYEOF
FEED=$!
sleep 1
stop_rsyslog
ok "rsyslogd stopped after $(grep -c dsk-restart tcp.log) restart-test records"
sleep 1.5
start_rsyslog
ok "rsyslogd started again"
wait $FEED
i=0
while [ "$(grep -c dsk-restart tcp.log)" -lt $N ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
kill -TERM $SL; wait $SL || { cat log3.txt; fail "sluice exit status"; }
$PY - $N <<'PYEOF' || { tail -20 log3.txt; fail "records lost across the restart"; }
import json, re, sys
n = int(sys.argv[1])
seen = {}
for line in open("tcp.log", encoding="utf-8"):
    if " dsk-restart " not in line:
        continue
    body = re.match(r'^<110>1 \S+ testhost dsk-restart \d+ - - (.*)$', line.rstrip("\n")).group(1)
    k = json.loads(body)["source_ip"]
    seen[k] = seen.get(k, 0) + 1
missing = [i for i in range(n) if "r-%d" % i not in seen]
assert not missing, (len(missing), missing[:10])
dups = sum(c - 1 for c in seen.values())
print("ok: all %d records after the restart; %d duplicates (sent again after the reconnect)" % (n, dups))
PYEOF
grep -q "again" log3.txt || { cat log3.txt; fail "no reconnect logged"; }
ok "server restart: nothing lost"

# ---- volume: more than the 64 MiB retransmit buffer holds while confirm_delay keeps every
# message pending; the sink waits for room (back-pressure), nothing is dropped or dead-lettered
cat > p4.yaml <<YAML
sources:
  gen: {type: generator, count: 150000, seed: 3}
sinks:
  s: {type: syslog, inputs: [gen], transport: tcp, port: $TCP, app_name: dsk-volume,
      confirm_delay: 2s}
  s_tls: {type: syslog, inputs: [gen], transport: tls, port: $TLS, tls_ca: ca.pem,
          app_name: dsk-volume-tls, confirm_delay: 2s}
  dead: {type: file, inputs: [s.errors, s_tls.errors], path: dead4.json}
YAML
timeout 200 $SLUICE run -c p4.yaml --once --no-status 2> log4.txt || { cat log4.txt; fail "run 4"; }
i=0
while [ "$(grep -c ' dsk-volume ' tcp.log)" -lt 150000 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
expect_eq "volume messages in rsyslog's file" "$(grep -c ' dsk-volume ' tcp.log)" 150000
i=0
while [ "$(grep -c ' dsk-volume-tls ' tls.log)" -lt 150000 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
expect_eq "volume messages over TLS" "$(grep -c ' dsk-volume-tls ' tls.log)" 150000
expect_eq "volume dead letters" "$(count_lines dead4.json)" 0

# ---- config errors point at the option
cat > bad.yaml <<'YAML'
sources:
  u: {type: file, path: [udp.json]}
sinks:
  s:
    type: syslog
    inputs: [u]
    facility: local9
YAML
if $SLUICE check -c bad.yaml > bad.txt 2>&1; then fail "facility local9 accepted"; fi
grep -q 'bad.yaml:7:.*unknown facility "local9"' bad.txt || { cat bad.txt; fail "facility error"; }
cat > bad2.yaml <<'YAML'
sources:
  u: {type: file, path: [udp.json]}
sinks:
  s: {type: syslog, inputs: [u], app_name: "two words"}
YAML
if $SLUICE check -c bad2.yaml > bad2.txt 2>&1; then fail "app_name with a space accepted"; fi
grep -q 'not a syslog header token' bad2.txt || { cat bad2.txt; fail "app_name error"; }
cat > bad3.yaml <<'YAML'
sources:
  u: {type: file, path: [udp.json]}
sinks:
  s: {type: syslog, inputs: [u], transport: tls, tls_ca: /nonexistent/ca.pem}
YAML
if $SLUICE check -c bad3.yaml > bad3.txt 2>&1; then fail "missing tls_ca accepted"; fi
grep -q 'cannot load CA certificates from /nonexistent/ca.pem' bad3.txt || { cat bad3.txt; fail "tls_ca error"; }
ok "config errors"
