#!/usr/bin/env bash
# file (json) -> parquet (partition_by type) -> receiver sink, against a real HTTP receiver on
# 127.0.0.1 (Python http.server; multipart parsed with email.parser; every request recorded
# as a JSON line; the status to answer is read from a mode file at each request):
#   A. every finished file arrives once, fields in contract order, the right type, the Parquet
#      bytes; `description` on the first request only; the spool is emptied
#   B. restart: no description again (<spool>/.receiver-state); keep_files -> uploaded/
#   C. left-over files in the spool (type from their directory) are uploaded first
#   D. receiver down (connection refused) with a full spool (back-pressure logged, counted),
#      then up: every file arrives, none twice; /metrics; SIGTERM drains
#   E. 401, 404 (a wrong url), 500, then 200: retried with back-off, credential error logged,
#      none rejected, none twice
#   F. 400: files moved to rejected/
#   H. receiver down, spool full, SIGTERM: stops within drain_timeout, files stay
#   T. HTTPS: a self-signed certificate is refused by default, trusted with ca_file
#   G. config errors: files_from naming nothing, a receiver with inputs
source "$(dirname "$0")/lib/common.bash"

cat > server.py <<'PYEOF'
import email.parser, email.policy, hashlib, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, log, mode_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        rec = {"order": [], "fields": {}}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            rec["order"].append(name)
            if name == "file":
                rec["filename"] = part.get_filename()
                rec["ctype"] = part.get_content_type()
                rec["len"] = len(data)
                rec["par1"] = data[:4] == b"PAR1" and data[-4:] == b"PAR1"
                rec["sha"] = hashlib.sha1(data).hexdigest()
            else:
                rec["fields"][name] = data.decode()
        try:
            status = int(open(mode_file).read().strip() or "200")
        except (OSError, ValueError):
            status = 200
        rec["status"] = status
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
srv = ThreadingHTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 4:  # TLS with this certificate + key (PEM)
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PYEOF

# fixture N FILE TAG: N events over three message types (TAG makes each run's files differ)
fixture() {
  $PY - "$1" "$2" "$3" <<'PYEOF'
import json, sys
types = ["GENERAL", "HTTP", "SMB"]
with open(sys.argv[2], "a") as f:
    for i in range(int(sys.argv[1])):
        f.write(json.dumps({"type": types[i % 3], "seq": i, "run": sys.argv[3]}) + "\n")
PYEOF
}

PORT=$(free_port)
start_server() { # LOG [CERT]
  $PY server.py "$PORT" "$1" mode ${2:-} &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_port "$PORT"
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }

# config NAME SOURCE_MODE EXTRA_RECEIVER_OPTIONS...
config() {
  local name=$1 mode=$2
  shift 2
  {
    echo "sources:"
    echo "  in: {type: file, path: [in.json], mode: $mode, start_at: beginning}"
    echo "sinks:"
    echo "  pq:"
    echo "    type: parquet"
    echo "    inputs: [in]"
    echo "    path: \"spool/{type}/{type}-%Y%m%d-%H%M%S.parquet\""
    echo "    partition_by: type"
    echo "    roll_rows: 100"
    echo "    roll_interval: 1h"
    echo "  up:"
    echo "    type: receiver"
    echo "    files_from: pq"
    echo "    url: \"http://127.0.0.1:$PORT/s3\""
    echo "    api_key: k-123"
    echo "    aggregator_id: agg-7"
    echo "    description: \"integration box\""
    echo "    retry_initial: 100ms"
    echo "    retry_max: 400ms"
    for o in "$@"; do echo "    $o"; done
  } > "$name"
}

# check LOG FINISHED_COUNT WHAT: the 200 answers are exactly the finished files, once each,
# with every field in contract order and the type of the file
check() {
  $PY - "$1" "$2" "$3" <<'PYEOF' || fail "$3"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = int(sys.argv[2])
ok = [r for r in recs if r["status"] == 200]
assert len(ok) == want, "200s: %d, finished files: %d" % (len(ok), want)
assert len({r["sha"] for r in ok}) == want, "a file arrived twice"
for r in recs:
    order = [n for n in r["order"] if n != "description"]
    assert order == ["api-key", "aggregator-id", "type", "time", "file"], r["order"]
    if "description" in r["order"]:
        assert r["order"].index("description") == 4, r["order"]
    f = r["fields"]
    assert f["api-key"] == "k-123" and f["aggregator-id"] == "agg-7", f
    assert r["filename"].startswith(f["type"] + "-"), (r["filename"], f["type"])
    assert f["type"] in ("GENERAL", "HTTP", "SMB"), f
    assert r["par1"] and r["ctype"] == "application/octet-stream", r
    assert 1_700_000_000_000 < int(f["time"]) < 4_000_000_000_000, f["time"]
print("ok: %s: %d files, %d requests" % (sys.argv[3], want, len(recs)))
PYEOF
}
ndesc() { grep -c '"description"' "$1" || true; }
nparquet() { find "$@" -name '*.parquet' 2>/dev/null | wc -l | tr -d ' '; }

# ---- A. first run: every file once, description once, spool emptied
fixture 650 in.json a # 216 or 217 per type: 2 files each by roll_rows, 1 at shutdown
start_server a.jsonl
config a.yaml read
timeout 60 "$SLUICE" run -c a.yaml --once --no-status 2> a.log || { cat a.log; fail "run A"; }
fin=$(grep -c 'finished file' a.log)
expect_eq "A: files finished" "$fin" 9
expect_eq "A: finished at shutdown" "$(grep -c 'finished file.* rows=1[67] ' a.log)" 3
check a.jsonl "$fin" "A: every finished file uploaded once"
expect_eq "A: requests with a description" "$(ndesc a.jsonl)" 1
head -1 a.jsonl | grep -q '"description": "integration box"' || fail "A: description not first"
expect_eq "A: parquet files left in the spool" "$(nparquet spool)" 0
grep -q 'description_sent=1' spool/.receiver-state || fail "A: no .receiver-state"

stop_server

# ---- B. restart: no description again; keep_files keeps them under uploaded/
start_server b.jsonl
: > in.json
fixture 600 in.json b
config b.yaml read "keep_files: true"
timeout 60 "$SLUICE" run -c b.yaml --once --no-status 2> b.log || { cat b.log; fail "run B"; }
check b.jsonl "$(grep -c 'finished file' b.log)" "B: restart"
expect_eq "B: requests with a description" "$(ndesc b.jsonl)" 0
expect_eq "B: kept under uploaded/" "$(nparquet spool/uploaded/GENERAL spool/uploaded/HTTP spool/uploaded/SMB)" 6
expect_eq "B: left elsewhere in the spool" "$(nparquet spool/GENERAL spool/HTTP spool/SMB)" 0

stop_server

# ---- C. left-over files are uploaded first, typed by their directory
start_server c.jsonl
mkdir -p spool/HTTP spool/SMB spool/.hidden
mv "$(find spool/uploaded/HTTP -name '*.parquet' | head -1)" spool/HTTP/HTTP-left.parquet
mv "$(find spool/uploaded/SMB -name '*.parquet' | head -1)" spool/SMB/SMB-left.parquet
touch -d '-1 min' spool/SMB/SMB-left.parquet # oldest first
cp spool/HTTP/HTTP-left.parquet spool/HTTP/.HTTP-x.parquet.1.tmp # hidden: ignored
cp spool/HTTP/HTTP-left.parquet spool/.hidden/HTTP-y.parquet     # hidden dir: ignored
: > in.json
fixture 600 in.json c
config c.yaml read "max_uploads: 1"
timeout 60 "$SLUICE" run -c c.yaml --once --no-status 2> c.log || { cat c.log; fail "run C"; }
grep -q '2 file(s) .* left in the spool' c.log || { cat c.log; fail "C: left-overs not found"; }
check c.jsonl "$(($(grep -c 'finished file' c.log) + 2))" "C: left-overs and new files"
first=$($PY -c 'import json,sys; print(" ".join(json.loads(l)["filename"] + ":" + json.loads(l)["fields"]["type"] for l in list(open("c.jsonl"))[:2]))')
expect_eq "C: first uploads" "$first" "SMB-left.parquet:SMB HTTP-left.parquet:HTTP"
[ -f spool/HTTP/.HTTP-x.parquet.1.tmp ] && [ -f spool/.hidden/HTTP-y.parquet ] || fail "C: hidden files touched"
rm -rf spool/uploaded spool/.hidden spool/HTTP/.HTTP-x.parquet.1.tmp
stop_server

# ---- D. receiver down with a full spool, then up; /metrics; SIGTERM drains
: > in.json
fixture 600 in.json d
API=$(free_port)
config d.yaml tail "spool_max_bytes: 1" "drain_timeout: 5s"
printf 'api: {listen: "127.0.0.1:%s"}\n' "$API" >> d.yaml
"$SLUICE" run -c d.yaml --no-status 2> d.log &
SL=$!
PIDS+=("$SL")
for _ in $(seq 50); do grep -q 'spool full' d.log && break; sleep 0.1; done
grep -q 'spool full' d.log || { cat d.log; fail "D: no back-pressure log"; }
sleep 1 # connection refused, retried
start_server d.jsonl
for _ in $(seq 100); do [ "$(count_lines d.jsonl)" -ge 6 ] && break; sleep 0.1; done
fixture 300 in.json d2 # more while running
for _ in $(seq 100); do [ "$(count_lines d.jsonl)" -ge 9 ] && break; sleep 0.1; done
m=$(curl -s "http://127.0.0.1:$API/metrics")
grep -q '^sluice_receiver_uploaded_files_total{component="up"} 9' <<<"$m" || fail "D: metrics: $(grep receiver <<<"$m")"
grep -q '^sluice_receiver_backpressure_total{component="up"} [1-9]' <<<"$m" || fail "D: backpressure metric"
grep -q '^sluice_receiver_upload_failures_total{component="up"} [1-9]' <<<"$m" || fail "D: failures metric"
grep -q '^sluice_receiver_spool_files{component="up"} 0' <<<"$m" || fail "D: spool_files gauge"
kill -TERM "$SL"
wait "$SL" || { cat d.log; fail "D: exit status"; }
grep -q 'Connection refused\|Could not connect\|Failed to connect' d.log || { cat d.log; fail "D: no connection error logged"; }
check d.jsonl "$(grep -c 'finished file' d.log)" "D: down, then up"
expect_eq "D: parquet files left in the spool" "$(nparquet spool)" 0
stop_server

# ---- E. 401, then 404, then 500, then 200: retried (404 is the url's fault, not the file's)
: > in.json
fixture 300 in.json e
echo 401 > mode
start_server e.jsonl
(sleep 0.8; echo 404 > mode; sleep 0.8; echo 500 > mode; sleep 0.8; echo 200 > mode) &
config e.yaml read "drain_timeout: 20s"
timeout 60 "$SLUICE" run -c e.yaml --once --no-status 2> e.log || { cat e.log; fail "run E"; }
grep -q 'credential error' e.log || { cat e.log; fail "E: no credential error logged"; }
grep -q '"status": 401' e.jsonl && grep -q '"status": 404' e.jsonl &&
  grep -q '"status": 500' e.jsonl || fail "E: no 401, 404 and 500"
check e.jsonl "$(grep -c 'finished file' e.log)" "E: 401, 404 and 500, then 200"
[ ! -d spool/rejected ] || { find spool/rejected; fail "E: a file was rejected"; }

stop_server

# ---- F. 400: moved to rejected/
echo 400 > mode
start_server f.jsonl
: > in.json
fixture 300 in.json f
config f.yaml read
timeout 60 "$SLUICE" run -c f.yaml --once --no-status 2> f.log || true
fin=$(grep -c 'finished file' f.log)
grep -q 'receiver rejected .*HTTP 400' f.log || { cat f.log; fail "F: no reject log"; }
expect_eq "F: files under rejected/" "$(nparquet spool/rejected)" "$fin"
expect_eq "F: requests" "$(count_lines f.jsonl)" "$fin"
stop_server

# ---- H. receiver down, spool full, SIGTERM: the wait for room ends, the drain gives up after
# drain_timeout, the files stay for the next start
: > in.json
fixture 300 in.json h
config h.yaml tail "spool_max_bytes: 1" "drain_timeout: 500ms"
"$SLUICE" run -c h.yaml --no-status 2> h.log &
SL=$!
PIDS+=("$SL")
for _ in $(seq 50); do grep -q 'spool full' h.log && break; sleep 0.1; done
grep -q 'spool full' h.log || { cat h.log; fail "H: no back-pressure"; }
t0=$(date +%s%N)
kill -TERM "$SL"
wait "$SL" || { cat h.log; fail "H: exit status"; }
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 5000 ] || fail "H: SIGTERM took $ms ms"
ok "H: stopped in $ms ms with the receiver down"
fin=$(grep -c 'finished file' h.log)
grep -q "$fin file(s) .* left in the spool" h.log || { cat h.log; fail "H: no left-over log"; }
expect_eq "H: files left in the spool" "$(nparquet spool/GENERAL spool/HTTP spool/SMB)" "$fin"

# ---- T. HTTPS: the certificate is verified by default; ca_file makes it trusted
rm -f mode
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null
cat cert.pem key.pem > server.pem
start_server t.jsonl server.pem
: > in.json
fixture 300 in.json t
config t1.yaml tail "drain_timeout: 300ms"
sed -i 's#http://#https://#' t1.yaml
"$SLUICE" run -c t1.yaml --no-status 2> t1.log &
SL=$!
PIDS+=("$SL")
for _ in $(seq 100); do grep -q 'certificate' t1.log && break; sleep 0.1; done
kill -TERM "$SL"
wait "$SL" || { cat t1.log; fail "T1: exit status"; }
grep -q 'certificate' t1.log || { cat t1.log; fail "T1: no certificate error"; }
fin=$(grep -c 'finished file' t1.log)
expect_eq "T1: self-signed refused, files left" "$(nparquet spool/GENERAL spool/HTTP spool/SMB)" "$((fin + 3))"
: > in.json
config t2.yaml read "ca_file: cert.pem"
sed -i 's#http://#https://#' t2.yaml
timeout 60 "$SLUICE" run -c t2.yaml --once --no-status 2> t2.log || { cat t2.log; fail "run T2"; }
check t.jsonl "$((fin + 3))" "T2: HTTPS with ca_file (T1's and H's files)"
expect_eq "T2: parquet files left in the spool" "$(nparquet spool/GENERAL spool/HTTP spool/SMB)" 0
stop_server

# ---- G. config errors
config g.yaml read
sed -i 's/files_from: pq/files_from: nothing/' g.yaml
if "$SLUICE" run -c g.yaml --once --no-status 2> g.log; then fail "G: files_from nothing accepted"; fi
grep -q "g.yaml:13:[0-9]*: .*files_from 'nothing' names no component" g.log || fail "G: $(cat g.log)"
config g2.yaml read
sed -i 's/    type: receiver/    type: receiver\n    inputs: [in]/' g2.yaml
if "$SLUICE" run -c g2.yaml --once --no-status 2> g2.log; then fail "G: inputs accepted"; fi
grep -q "takes no inputs" g2.log || fail "G: $(cat g2.log)"
! grep -l 'Sanitizer' ./*.log || fail "sanitizer reports"
ok "receiver sink"
