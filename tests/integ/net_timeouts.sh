#!/usr/bin/env bash
# Network sources give slots back to silent clients:
#  - syslog over TLS: a client that connects and never finishes its handshake is dropped after
#    handshake_timeout (max_connections: 1, so it would otherwise hold the only slot)
#  - tcp with idle_timeout: a client silent past it is closed; what it sent is delivered
#  - without idle_timeout (the default) a silent client stays connected
source "$(dirname "$0")/lib/common.bash"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout srv.key \
  -out srv.pem 2>/dev/null
SP=$(free_port); TP=$(free_port); UP=$(free_port)
cat > p.yaml <<YAML
sources:
  sys: {type: syslog, listen: "127.0.0.1:$SP", tls: {cert: srv.pem, key: srv.key},
        max_connections: 1, handshake_timeout: 1s}
  tcp: {type: tcp, listen: "127.0.0.1:$TP", idle_timeout: 1s}
  keep: {type: tcp, listen: "127.0.0.1:$UP"}
sinks:
  out: {type: file, inputs: [sys, tcp, keep], path: out.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $SP; wait_port $TP; wait_port $UP
$PY - "$SP" "$TP" "$UP" <<'PYEOF' || fail "timeouts"
import socket, sys, time
sp, tp, up = map(int, sys.argv[1:])
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
PYEOF
sleep 0.5
kill -TERM $PID; wait $PID || fail "exit status"
grep -q '"who":"idle"' out.json || fail "the idle client's line was lost: $(cat out.json)"
grep -q '"who":"kept"' out.json || fail "the kept client's line: $(cat out.json)"
grep -q "TLS handshake not done within handshake_timeout" log.txt || fail "log: $(cat log.txt)"
ok "lines of closed clients delivered; closes logged"
