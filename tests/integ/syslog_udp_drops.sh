#!/usr/bin/env bash
# UDP has no back-pressure: with the sink stuck (a FIFO nobody reads yet) the syslog source
# stops reading, its small socket buffer fills and the kernel drops datagrams. Every drop
# must be counted (SO_RXQ_OVFL): received + dropped = sent, the events written = received,
# and the run's `dropped` total says the same. A TCP client meanwhile keeps its messages
# (flow control), none lost.
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
mkfifo stuck.pipe
cat > p.yaml <<YAML
queue_batches: 2
workers: 1
sources:
  s: {type: syslog, udp: "127.0.0.1:$PORT", listen: "127.0.0.1:$PORT", udp_buffer: 64KiB}
sinks:
  out: {type: csv, inputs: [s], path: stuck.pipe, columns: [app, message], header: false}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
N=30000 NT=20000
$PY - $PORT $N $NT <<'PYEOF' &
import socket, sys, threading
port, n, nt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def tcp():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"".join(b"<13>1 - h tcpapp - - - t=%d\n" % i for i in range(nt)))
    s.close()
t = threading.Thread(target=tcp); t.start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(b"<13>1 - h udpapp - - - u=%d" % i, ("127.0.0.1", port))
t.join()
PYEOF
SENDER=$!
sleep 3
cat stuck.pipe > out.csv &
wait $SENDER
sleep 1
# the kernel's drop count travels with the next datagram received: one more, sent when the
# buffer has room again
$PY -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'<13>1 - h udpapp - - - last', ('127.0.0.1', $PORT))"
sleep 1
kill -TERM $PID
wait $PID || { cat log.txt; fail "exit status"; }

summary=$(grep -o '[0-9]* UDP datagrams, [0-9]* dropped by the kernel' log.txt) || { cat log.txt; fail "no summary line"; }
got=$(echo "$summary" | awk '{print $1}')
dropped=$(echo "$summary" | awk '{print $4}')
echo "received $got, dropped $dropped of $((N + 1))"
[ "$dropped" -gt 0 ] || fail "nothing dropped: the test did not fill the socket buffer"
ok "the kernel dropped datagrams ($dropped)"
expect_eq "received + dropped" "$((got + dropped))" "$((N + 1))"
expect_eq "UDP events written" "$(grep -c '^udpapp,' out.csv)" "$got"
expect_eq "TCP events written (flow control, none lost)" "$(grep -c '^tcpapp,' out.csv)" "$NT"
grep -q "done: .*dropped $dropped" log.txt || { grep "done:" log.txt; fail "run total of dropped"; }
ok "run total says dropped $dropped"
