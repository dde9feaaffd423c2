#!/usr/bin/env bash
# bench_datashark_sinks.sh — throughput of the dataShark-shaped outputs, generator → sink,
# `sluice run --once` wall time:
#   - syslog sink, TCP octet counting, RFC 5424, dataShark JSON body → a real rsyslogd 8.2302
#     (imtcp, Direct main queue, omfile of %rawmsg%), started here;
#   - syslog sink, TLS → the same rsyslogd (gtls) when rsyslog-gnutls is installed;
#   - elasticsearch sink → a minimal _bulk server in python3 (every item 201). This measures
#     the python server at least as much as the sink: read it as a floor, not a figure of
#     Elasticsearch.
#   bash bench/bench_datashark_sinks.sh [BUILD_DIR=build/release] [N=200000]
# Prints `bench=datashark_sinks what=... events=N sluice_seconds=S all_written_seconds=W
# events_per_s=R`: sluice_seconds until `sluice run --once` exited (every message confirmed:
# TCP-acknowledged + confirm_delay, or every bulk item answered), all_written_seconds until
# rsyslogd's file holds every message (events_per_s is from this one). Checks that the receiver
# got every event; never asserts a speed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-200000}
SLUICE=$(cd "$dir" && pwd)/sluice
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-dsk.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 100); do $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0; sleep 0.1; done; fail "port $1"; }
now() { date +%s.%N; }
cd "$T"

# ---- rsyslogd
TCP=$(free_port); TLS=$(free_port); LG=$(free_port)
GTLS=0; [ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] && GTLS=1
if [ $GTLS = 1 ]; then
  printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n' > ca.tmpl
  printf 'cn = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' > srv.tmpl
  { certtool --generate-privkey --key-type=ecdsa --outfile ca.key
    certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
    certtool --generate-privkey --key-type=ecdsa --outfile srv.key
    certtool --generate-certificate --load-privkey srv.key --load-ca-certificate ca.pem \
      --load-ca-privkey ca.key --template srv.tmpl --outfile srv.pem; } > /dev/null 2>&1
fi
mkdir -p rs
{
  echo "global(workDirectory=\"$T/rs\" maxMessageSize=\"64k\""
  [ $GTLS = 1 ] && echo " defaultNetstreamDriverCAFile=\"$T/ca.pem\" defaultNetstreamDriverCertFile=\"$T/srv.pem\" defaultNetstreamDriverKeyFile=\"$T/srv.key\""
  echo ")"
  echo 'main_queue(queue.type="LinkedList" queue.size="1000000" queue.dequeueBatchSize="1024")'
  echo 'module(load="imtcp")'
  echo 'template(name="raw" type="string" string="%rawmsg%\n")'
  echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$TCP\" ruleset=\"r\")"
  [ $GTLS = 1 ] && echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$TLS\" ruleset=\"r2\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")"
  echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$LG\" ruleset=\"lg\")"
  echo "ruleset(name=\"lg\") { action(type=\"omfile\" file=\"$T/lg.log\" template=\"raw\") }"
  echo "ruleset(name=\"r\") { action(type=\"omfile\" file=\"$T/tcp.log\" template=\"raw\") }"
  echo "ruleset(name=\"r2\") { action(type=\"omfile\" file=\"$T/tls.log\" template=\"raw\") }"
} > rsyslog.conf
/usr/sbin/rsyslogd -n -f rsyslog.conf -i "$T/rs/pid" > rsyslog.out 2>&1 &
PIDS+=($!)
wait_port $TCP

# ---- a minimal _bulk server (keep-alive; every item 201)
cat > es.py <<'PYEOF'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
count = [0]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        b = str(count[0]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = body.count(b"\n") // 2
        count[0] += n
        item = b'{"index":{"_index":"i","status":201}}'
        out = b'{"took":1,"errors":false,"items":[' + b",".join([item] * n) + b"]}"
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
srv = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PYEOF
$PY es.py es.port & PIDS+=($!)
for _ in $(seq 50); do [ -s es.port ] && break; sleep 0.1; done
ES=$(cat es.port)

run() { # WHAT SINK_YAML [FILE: the receiver is done when FILE has N lines]
  cat > p.yaml <<YAML
sources:
  gen: {type: generator, count: $N, seed: 7}
sinks:
  out:
    inputs: [gen]
$2
YAML
  local t0 t1
  t0=$(now)
  $SLUICE run -c p.yaml --once --no-status 2> "log-$1.txt" || { cat "log-$1.txt"; fail "$1"; }
  t1=$(now)
  local t2=$t1
  if [ -n "${3:-}" ]; then
    for _ in $(seq 1200); do [ "$(wc -l < "$3" 2>/dev/null || echo 0)" -ge "$N" ] && break; sleep 0.05; done
    [ "$(wc -l < "$3")" -ge "$N" ] || fail "$1: the receiver got $(wc -l < "$3") of $N"
    t2=$(now)
  fi
  $PY -c "print('bench=datashark_sinks what=$1 events=$N sluice_seconds=%.3f all_written_seconds=%.3f events_per_s=%.0f' % ($t1-$t0, $t2-$t0, $N/($t2-$t0)))"
}

run syslog_tcp_rsyslog "    type: syslog
    transport: tcp
    port: $TCP
    confirm_delay: 100ms" tcp.log
if [ $GTLS = 1 ]; then
  run syslog_tls_rsyslog "    type: syslog
    transport: tls
    port: $TLS
    tls_ca: $T/ca.pem
    confirm_delay: 100ms" tls.log
fi
# the peer: syslog-ng's loggen (3.38) sending as many RFC 5424 octet-counted messages of the
# same average size to the same rsyslogd (it formats nothing: a fixed padded message)
NG=/opt/sluice-peers/syslog-ng
loggen_run() { # WHAT PORT FILE
  local size t0 t2
  size=$(awk '{s+=length($0)} END {print int(s/NR)}' tcp.log)
  t0=$(now)
  SYSLOGNG_PREFIX=$NG/usr LD_LIBRARY_PATH=$NG/usr/lib/syslog-ng:$NG/usr/lib $NG/usr/bin/loggen \
    --inet --stream --syslog-proto --size "$size" --rate 100000000 --number "$N" \
    127.0.0.1 "$2" > "loggen-$1.txt" 2>&1 || { cat "loggen-$1.txt"; fail "loggen"; }
  for _ in $(seq 1200); do [ "$(wc -l < "$3" 2>/dev/null || echo 0)" -ge "$N" ] && break; sleep 0.05; done
  [ "$(wc -l < "$3")" -ge "$N" ] || fail "$1: the receiver got $(wc -l < "$3") of $N"
  t2=$(now)
  $PY -c "print('bench=datashark_sinks what=$1 events=$N size=$size all_written_seconds=%.3f events_per_s=%.0f' % ($t2-$t0, $N/($t2-$t0)))"
}
if [ -x $NG/usr/bin/loggen ]; then
  loggen_run loggen_tcp_rsyslog $LG lg.log   # (loggen's TLS plugin sent nothing here: no TLS peer row)
fi
run elasticsearch_python_bulk "    type: elasticsearch
    url: http://127.0.0.1:$ES
    bulk_count: 5000"
got=$(curl -s "http://127.0.0.1:$ES/")
[ "$got" = "$N" ] || fail "bulk server got $got of $N"
echo "bench=datashark_sinks rsyslog=$(/usr/sbin/rsyslogd -v | head -1 | awk '{print $2}') python=$($PY -V | awk '{print $2}')"
