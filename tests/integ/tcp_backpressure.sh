#!/usr/bin/env bash
# Back-pressure reaches TCP senders: with the sink stuck (a FIFO nobody reads yet) the tcp
# source stops reading, the sender blocks in send(); once a reader appears every line
# arrives, none lost.
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
mkfifo stuck.pipe
cat > p.yaml <<YAML
queue_batches: 2
workers: 1
sources:
  net: {type: tcp, listen: "127.0.0.1:$PORT"}
sinks:
  out: {type: csv, inputs: [net], path: stuck.pipe, columns: [n], header: false}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
N=300000
$PY - $PORT $N > sender.txt <<'PYEOF' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
data = b"".join(b'{"n":%d,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}\n' % i for i in range(n))
t0 = time.time()
s.sendall(data)
s.close()
print("sent", len(data), "in", round(time.time() - t0, 2))
PYEOF
SENDER=$!
sleep 3
kill -0 $SENDER 2>/dev/null || fail "the sender finished although nothing was read: no back-pressure"
ok "sender blocked while the sink was stuck"
cat stuck.pipe > out.csv &
wait $SENDER
sleep 1
kill -TERM $PID
wait $PID || { cat log.txt; fail "exit status"; }
expect_eq "lines written" "$(count_lines out.csv)" "$N"
expect_eq "distinct" "$(sort -u out.csv | wc -l | tr -d ' ')" "$N"
