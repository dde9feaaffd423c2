#!/usr/bin/env bash
# syslog source with real senders: util-linux `logger` (TCP LF, TCP octet-counted, UDP; RFC 3164
# and RFC 5424 with structured data), a real rsyslogd started here (own config and work dir,
# no imuxsock, no system socket) that forwards over TCP with omfwd (LF framing with
# RSYSLOG_ForwardFormat, octet-counted RFC 5424) and over TLS (gtls driver, x509/name, a
# client certificate the source requires; certificates made here with certtool), 40
# concurrent clients mixing LF and octet-counted frames on one connection, malformed and
# over-long messages (kept as events with parse_error), and a TLS client without a
# certificate (refused). Every message must arrive once with the right fields.
source "$(dirname "$0")/lib/common.bash"

command -v rsyslogd >/dev/null || RSYSLOGD=/usr/sbin/rsyslogd
RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd)}
[ -x "$RSYSLOGD" ] || fail "rsyslogd not installed (scripts/deps.sh installs it)"
command -v logger >/dev/null || fail "logger (util-linux) missing"
command -v certtool >/dev/null || fail "certtool (gnutls-bin) missing"
GTLS=$(ls /usr/lib/*/rsyslog/lmnsd_gtls.so 2>/dev/null | head -1 || true)
[ -n "$GTLS" ] || fail "rsyslog's gtls driver is missing: apt-get install rsyslog-gnutls"

# ---- certificates: a CA, the server (localhost) and a client
cat > ca.tmpl <<EOF
cn = "sluice test CA"
ca
cert_signing_key
expiration_days = 2
EOF
cat > server.tmpl <<EOF
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
EOF
cat > client.tmpl <<EOF
cn = "rsyslog-client"
dns_name = "rsyslog-client"
tls_www_client
encryption_key
signing_key
expiration_days = 2
EOF
certtool --generate-privkey --key-type=ecdsa --outfile ca-key.pem 2>/dev/null
certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem 2>/dev/null
for who in server client; do
  certtool --generate-privkey --key-type=ecdsa --outfile $who-key.pem 2>/dev/null
  certtool --generate-certificate --load-privkey $who-key.pem --load-ca-certificate ca.pem \
    --load-ca-privkey ca-key.pem --template $who.tmpl --outfile $who.pem 2>/dev/null
done
ok "certificates made with certtool"

# four distinct free ports (separate free_port calls may return the same one twice)
read -r P_MAIN P_OCT P_TLS P_RS < <($PY -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
cat > p.yaml <<YAML
sources:
  main: {type: syslog, listen: "127.0.0.1:$P_MAIN", udp: "127.0.0.1:$P_MAIN"}
  oct: {type: syslog, listen: "127.0.0.1:$P_OCT", framing: octet, format: rfc5424}
  sec:
    type: syslog
    listen: "127.0.0.1:$P_TLS"
    tls: {cert: server.pem, key: server-key.pem, ca: ca.pem, require_client_cert: true}
sinks:
  m: {type: file, inputs: [main], path: main.json}
  o: {type: file, inputs: [oct], path: oct.json}
  t: {type: file, inputs: [sec], path: tls.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $P_MAIN; wait_port $P_OCT; wait_port $P_TLS

# ---- rsyslogd: imtcp in, three omfwd actions out
mkdir -p rswork
cat > rs.conf <<EOF
global(workDirectory="$T/rswork"
       DefaultNetstreamDriverCAFile="$T/ca.pem"
       DefaultNetstreamDriverCertFile="$T/client.pem"
       DefaultNetstreamDriverKeyFile="$T/client-key.pem")
module(load="imtcp")
input(type="imtcp" port="$P_RS" address="127.0.0.1")
action(type="omfwd" target="127.0.0.1" port="$P_MAIN" protocol="tcp"
       TCP_Framing="traditional" template="RSYSLOG_ForwardFormat")
action(type="omfwd" target="127.0.0.1" port="$P_OCT" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="$P_TLS" protocol="tcp"
       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="localhost" template="RSYSLOG_SyslogProtocol23Format")
EOF
"$RSYSLOGD" -n -i "$T/rs.pid" -f "$T/rs.conf" 2> rs.log &
RSPID=$!; PIDS+=($RSPID)
wait_port $P_RS

N_RS=3000
$PY - $P_RS $N_RS <<'PYEOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
buf = b"".join(b'<165>1 2024-03-10T11:00:00.123Z srchost rsapp 77 ID9 [ex@1 k="v\\"q" n="%d"] rs seq=%d\n'
               % (i, i) for i in range(n))
s.sendall(buf)
s.close()
PYEOF
ok "$N_RS messages sent to rsyslogd"

# ---- logger: RFC 5424 over TCP (LF), RFC 3164 octet-counted over TCP, RFC 5424 over UDP
N_LG=500
seq 0 $((N_LG - 1)) | sed 's/^/lg5 seq=/' > l5.txt
seq 0 $((N_LG - 1)) | sed 's/^/lg3 seq=/' > l3.txt
seq 0 199 | sed 's/^/lgu seq=/' > lu.txt
logger --tcp -n 127.0.0.1 -P $P_MAIN --rfc5424 -t lg5 -p local4.warning --msgid ID7 \
  --sd-id zoo@123 --sd-param 'tiger="hungry"' -f l5.txt
logger --tcp --octet-count -n 127.0.0.1 -P $P_MAIN --rfc3164 -t lg3 -p auth.info -f l3.txt
logger --udp -n 127.0.0.1 -P $P_MAIN --rfc5424 -t lgu -p daemon.err -f lu.txt
ok "logger sent TCP/LF 5424, TCP/octet 3164, UDP 5424"

# ---- 40 concurrent clients, LF and octet-counted frames mixed on each connection; malformed
# and over-long messages; a TLS client without a certificate
CLIENTS=40 PER=500
$PY - $P_MAIN $P_TLS $CLIENTS $PER <<'PYEOF'
import socket, ssl, sys, threading
port, tport, clients, per = map(int, sys.argv[1:5])
def run(c):
    s = socket.create_connection(("127.0.0.1", port))
    out = []
    for i in range(per):
        m = b"<14>1 2024-03-10T11:00:00Z cl%d conc - - - c=%d i=%d" % (c, c, i)
        out.append(b"%d %s" % (len(m), m) if i % 2 else m + b"\n")
    buf = b"".join(out)
    for off in range(0, len(buf), 4093):      # frames cross send() calls
        s.sendall(buf[off:off + 4093])
    s.close()
ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"garbage line\n<13>1 2024-13-10T11:00:00Z h a p m - bad-ts\n"
          b"<13>1 2024-03-10T11:00:00Z h a p m [x@1 a=\"1\n<13>1 - h long - - - " + b"x" * 70000 + b"\n")
s.close()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations("ca.pem")
try:
    with socket.create_connection(("127.0.0.1", tport)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            t.sendall(b"<13>1 - h nocert - - - nocert\n")
            t.recv(1)
except (ssl.SSLError, OSError):
    pass
PYEOF
ok "concurrent clients done"

# the file sink writes <path>.tmp and renames it at the end
lines() { if [ -f "$1.tmp" ]; then wc -l < "$1.tmp"; elif [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
# ---- wait for everything (rsyslog forwards asynchronously)
want_main=$((N_RS + 2 * N_LG + 200 + CLIENTS * PER + 4))
for i in $(seq 1 600); do
  m=$(lines main.json); o=$(lines oct.json); t=$(lines tls.json)
  [ "$m" -ge $want_main ] && [ "$o" -ge $N_RS ] && [ "$t" -ge $N_RS ] && break
  sleep 0.1
done
sleep 0.5
kill -TERM $RSPID; wait $RSPID 2>/dev/null || true
kill -TERM $PID
wait $PID || { cat log.txt; fail "sluice exit status"; }

$PY - $N_RS $N_LG $CLIENTS $PER "$(hostname)" <<'PYEOF' || { tail -20 log.txt; tail -5 rs.log; exit 1; }
import json, sys
n_rs, n_lg, clients, per, hostname = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def load(p):
    return [json.loads(l) for l in open(p, encoding="utf-8")]
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
def ok(msg):
    print("ok:", msg)
main, oct_, tls = load("main.json"), load("oct.json"), load("tls.json")

def check_rs(evs, where, rfc5424):
    rs = [e for e in evs if e.get("app") == "rsapp"]
    seqs = sorted(int(e["message"].split("seq=")[1]) for e in rs)
    if seqs != list(range(n_rs)):
        fail("%s: rsyslog messages: %d, distinct %d, want %d" % (where, len(seqs), len(set(seqs)), n_rs))
    for e in rs:
        want = {"facility": 20, "facility_name": "local4", "severity": 5, "severity_name": "notice",
                "host": "srchost", "procid": "77"}
        for k, v in want.items():
            if e.get(k) != v:
                fail("%s: %s = %r, want %r in %r" % (where, k, e.get(k), v, e))
        if not e["timestamp"].startswith("2024-03-10T11:00:00.123"):
            fail("%s: timestamp %r" % (where, e["timestamp"]))
        if "parse_error" in e:
            fail("%s: parse error %r" % (where, e))
        if rfc5424:
            i = e["message"].split("seq=")[1]
            if e.get("msgid") != "ID9" or e.get("sd") != {"ex@1": {"k": 'v"q', "n": i}}:
                fail("%s: msgid/sd %r" % (where, e))
    ok("%s: %d rsyslog messages, fields right" % (where, n_rs))

check_rs(main, "rsyslog omfwd TCP LF (ForwardFormat) -> main", False)
check_rs(oct_, "rsyslog omfwd TCP octet-counted (RFC 5424) -> oct", True)
check_rs(tls, "rsyslog omfwd TLS gtls (RFC 5424, client cert) -> sec", True)
if any("nocert" in e.get("message", "") for e in tls):
    fail("a TLS client without a certificate got through")
ok("TLS client without a certificate refused")

def check_logger(app, n, want):
    evs = [e for e in main if e.get("app") == app]
    seqs = sorted(int(e["message"].split("seq=")[1]) for e in evs)
    if seqs != list(range(n)):
        fail("logger %s: %d messages, want %d" % (app, len(seqs), n))
    for e in evs:
        for k, v in want.items():
            if e.get(k) != v:
                fail("logger %s: %s = %r, want %r in %r" % (app, k, e.get(k), v, e))
        if "timestamp" not in e or "parse_error" in e or e.get("host") != hostname:
            fail("logger %s: %r" % (app, e))
    ok("logger %s: %d messages, fields right" % (app, n))

check_logger("lg5", n_lg, {"facility": 20, "severity": 4, "severity_name": "warning", "msgid": "ID7"})
if not all(e["sd"]["zoo@123"] == {"tiger": "hungry"} for e in main if e.get("app") == "lg5"):
    fail("logger structured data")
check_logger("lg3", n_lg, {"facility": 4, "facility_name": "auth", "severity": 6})
check_logger("lgu", 200, {"facility": 3, "severity": 3, "severity_name": "err"})
if not all(e["peer"].startswith("127.0.0.1:") for e in main):
    fail("peer")

conc = {}
for e in main:
    if e.get("app") == "conc":
        c, i = (int(x.split("=")[1]) for x in e["message"].split())
        if e["host"] != "cl%d" % c:
            fail("concurrent: host %r for client %d" % (e["host"], c))
        conc.setdefault(c, set()).add(i)
if len(conc) != clients or any(len(v) != per for v in conc.values()):
    fail("concurrent clients: %d clients, counts %r" % (len(conc), sorted(len(v) for v in conc.values())[:5]))
ok("%d concurrent clients x %d messages (LF and octet-counted mixed), all there" % (clients, per))

bad = [e for e in main if e.get("parse_error")]
reasons = sorted(e["parse_error_reason"] for e in bad)
want = sorted(["not syslog: no PRI and no timestamp", "RFC 5424: invalid timestamp",
               "structured data: unterminated value", "message longer than max_message (truncated)"])
if reasons != want:
    fail("malformed: %r" % reasons)
g = [e for e in bad if e["message"] == "garbage line"]
if not g or g[0]["parse_error_offset"] != 0:
    fail("raw message of a malformed line: %r" % bad)
long_ = [e for e in bad if "max_message" in e["parse_error_reason"]][0]
if len(long_["message"]) != 65536 or long_.get("facility") != 1:
    fail("over-long message: %d bytes" % len(long_["message"]))
ok("malformed and over-long messages kept as events with parse_error, reason and offset")
want_total = n_rs + 2 * n_lg + 200 + clients * per + 4
if len(main) != want_total:
    fail("main: %d events, want %d (duplicates?)" % (len(main), want_total))
ok("main: %d events, no duplicates" % len(main))
PYEOF
grep -q "TLS handshake failed\|client certificate refused" log.txt || fail "no log line for the refused TLS client"
ok "refused TLS client logged"
