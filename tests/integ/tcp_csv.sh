#!/usr/bin/env bash
# tcp (json lines, many clients) -> csv, then SIGTERM: every event sent is in the CSV.
source "$(dirname "$0")/lib/common.bash"

PORT=$(free_port)
cat > p.yaml <<YAML
sources:
  net: {type: tcp, listen: "127.0.0.1:$PORT", format: json}
sinks:
  out:
    type: csv
    inputs: [net]
    path: out.csv
    columns: [client, seq, text]
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $PORT
CLIENTS=8 PER=5000
$PY - $PORT $CLIENTS $PER <<'PYEOF'
import json, socket, sys, threading
port, clients, per = map(int, sys.argv[1:4])
def run(c):
    s = socket.create_connection(("127.0.0.1", port))
    buf = b"".join((json.dumps({"client": c, "seq": i, "text": "a,b \"c\"\nd" if i % 100 == 0 else "t%d" % i}) + "\n").encode() for i in range(per))
    # odd split points: lines cross send() calls
    step = 7919
    for off in range(0, len(buf), step):
        s.sendall(buf[off:off + step])
    s.close()
ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
PYEOF
sleep 0.5
kill -TERM $PID
wait $PID || { cat log.txt; fail "sluice exit status"; }
$PY - $CLIENTS $PER <<'PYEOF' || fail "csv content"
import csv, sys
clients, per = map(int, sys.argv[1:3])
rows = list(csv.reader(open("out.csv", newline="")))
assert rows[0] == ["client", "seq", "text"], rows[0]
body = rows[1:]
assert len(body) == clients * per, len(body)
got = {(int(r[0]), int(r[1])): r[2] for r in body}
assert len(got) == clients * per
for (c, i), t in got.items():
    want = "a,b \"c\"\nd" if i % 100 == 0 else "t%d" % i
    assert t == want, (c, i, t)
print("rows", len(body))
PYEOF
ok "tcp -> csv: $((CLIENTS*PER)) rows after SIGTERM"
