#!/usr/bin/env bash
# Network sources give slots back to silent clients:
#  - syslog over TLS: a client that connects and never finishes its handshake is dropped after
#    handshake_timeout (max_connections: 1, so it would otherwise hold the only slot)
#  - tcp with idle_timeout: a client silent past it is closed; what it sent is delivered
#  - without idle_timeout (the default) a silent client stays connected
#  - max_per_ip (tcp: 2, syslog over TCP: 1): one connection more from the same address is
#    closed at once, counted (sluice_*_rejected_total on /metrics) and logged; the ones open
#    keep working, and a slot given back is taken again
source "$(dirname "$0")/lib/common.bash"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout srv.key \
  -out srv.pem 2>/dev/null
SP=$(free_port); TP=$(free_port); UP=$(free_port); LP=$(free_port); YP=$(free_port)
AP=$(free_port)
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$AP"}
sources:
  lim: {type: tcp, listen: "127.0.0.1:$LP", max_per_ip: 2}
  ylim: {type: syslog, listen: "127.0.0.1:$YP", max_per_ip: 1}
  sys: {type: syslog, listen: "127.0.0.1:$SP", tls: {cert: srv.pem, key: srv.key},
        max_connections: 1, handshake_timeout: 1s}
  tcp: {type: tcp, listen: "127.0.0.1:$TP", idle_timeout: 1s}
  keep: {type: tcp, listen: "127.0.0.1:$UP"}
sinks:
  out: {type: file, inputs: [sys, tcp, keep, lim, ylim], path: out.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $SP; wait_port $TP; wait_port $UP; wait_port $LP; wait_port $YP; wait_port $AP
$PY - "$SP" "$TP" "$UP" "$LP" "$YP" <<'PYEOF' || fail "timeouts"
import socket, sys, time
sp, tp, up, lp, yp = map(int, sys.argv[1:])
def closed_within(s, secs):
    s.settimeout(secs)
    t0 = time.time()
    try:
        got = s.recv(100)
    except socket.timeout:
        return None
    except ConnectionResetError:
        got = b""
    return time.time() - t0 if got == b"" else None
stall = socket.create_connection(("127.0.0.1", sp))     # no ClientHello: a stalled handshake
t = closed_within(stall, 4)
assert t is not None and 0.7 < t < 3.5, t
print("ok: stalled TLS handshake dropped after %.1f s" % t)
idle = socket.create_connection(("127.0.0.1", tp))
idle.sendall(b'{"who":"idle"}\n')
t = closed_within(idle, 4)
assert t is not None and 0.7 < t < 3.5, t
print("ok: silent tcp client closed after %.1f s (idle_timeout 1s)" % t)
keep = socket.create_connection(("127.0.0.1", up))
assert closed_within(keep, 2.5) is None
keep.sendall(b'{"who":"kept"}\n')
keep.close()
print("ok: without idle_timeout a silent client stays")
# max_per_ip: 2 on lim: a third connection from 127.0.0.1 is closed at once
a = socket.create_connection(("127.0.0.1", lp))
b = socket.create_connection(("127.0.0.1", lp))
time.sleep(0.3)  # both accepted
c = socket.create_connection(("127.0.0.1", lp))
t = closed_within(c, 2)
assert t is not None and t < 1.5, t
print("ok: the third connection from one address closed after %.2f s (max_per_ip 2)" % t)
assert closed_within(a, 0.5) is None and closed_within(b, 0.5) is None
a.sendall(b'{"who":"a"}\n')
b.sendall(b'{"who":"b"}\n')
b.close()
time.sleep(0.3)  # b's slot is free again
d = socket.create_connection(("127.0.0.1", lp))
assert closed_within(d, 0.7) is None
d.sendall(b'{"who":"d"}\n')
a.close(); d.close()
print("ok: the connections within the limit work; a freed slot is taken again")
# max_per_ip: 1 on the syslog listener
y1 = socket.create_connection(("127.0.0.1", yp))
time.sleep(0.3)
y2 = socket.create_connection(("127.0.0.1", yp))
t = closed_within(y2, 2)
assert t is not None and t < 1.5, t
y1.sendall(b"<13>1 2024-01-01T00:00:00Z host app - - - from y1\n")
y1.close()
print("ok: syslog: the second connection from one address closed after %.2f s (max_per_ip 1)" % t)
PYEOF
metric() { curl -s "http://127.0.0.1:$AP/metrics" | awk -v n="$1" -v c="component=\"$2\"" \
  '$1 ~ "^"n"\\{" && index($1, c) {print $2}' | head -1; }
expect_eq "sluice_tcp_rejected_total of lim" "$(metric sluice_tcp_rejected_total lim)" 1
expect_eq "sluice_syslog_rejected_total of ylim" "$(metric sluice_syslog_rejected_total ylim)" 1
expect_eq "sluice_tcp_rejected_total of tcp (no limit)" "$(metric sluice_tcp_rejected_total tcp)" 0
grep -q "closed: max_per_ip (2) connections from this address are open" log.txt ||
  fail "max_per_ip not logged: $(cat log.txt)"
sleep 0.5
kill -TERM $PID; wait $PID || fail "exit status"
grep -q '"who":"idle"' out.json || fail "the idle client's line was lost: $(cat out.json)"
grep -q '"who":"kept"' out.json || fail "the kept client's line: $(cat out.json)"
for w in a b d; do
  grep -q "\"who\":\"$w\"" out.json || fail "max_per_ip: the line of client $w: $(cat out.json)"
done
grep -q "from y1" out.json || fail "max_per_ip: the syslog line: $(cat out.json)"
grep -q "TLS handshake not done within handshake_timeout" log.txt || fail "log: $(cat log.txt)"
ok "lines of closed clients delivered; closes logged"
