# Shared helpers for the integration tests (sourced, not run by ctest).
# Each test runs the real binary ($SLUICE) in a private temp dir and cleans up after itself.
set -euo pipefail
: "${SLUICE:?SLUICE must point at the sluice binary}"
: "${SL_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-integ.XXXXXX)
PIDS=()
# CLEANUPS: functions the libraries add (a server to stop); run last-added first at exit, before
# the PIDS are killed. One exit trap for all: a library that set its own trap replaced the
# others' (postgres.bash's replaced rabbitmq.bash's: tests using both left RabbitMQ running).
CLEANUPS=()
cleanup() {
  local i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do "${CLEANUPS[$i]}" || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# free_port: a currently free TCP port on 127.0.0.1
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: until something listens on 127.0.0.1:PORT
wait_port() {
  local port=$1 secs=${2:-10} i=0
  while ! $PY -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
    i=$((i+1)); [ $i -gt $((secs*10)) ] && fail "nothing listens on port $port"
    sleep 0.1
  done
}

# count_lines FILE...: number of lines over the files (0 when none exist)
count_lines() { cat "$@" 2>/dev/null | wc -l | tr -d ' '; }

# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; ok "$1 = $3"; }

# gen_json N FILE [BAD_EVERY]: N json lines, every BAD_EVERY-th line malformed (0: none)
gen_json() {
  $PY - "$1" "$2" "${3:-0}" <<'PYEOF'
import json, sys
n, path, bad = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
protos = ["tcp", "udp", "icmp"]
with open(path, "w") as f:
    for i in range(n):
        if bad and i % bad == bad - 1:
            f.write('{"seq": %d, "proto": "tcp", broken\n' % i)
            continue
        ev = {"seq": i, "proto": protos[i % 3], "id.orig_h": "10.0.%d.%d" % (i // 256 % 256, i % 256),
              "id.resp_p": [53, 80, 443, 22][i % 4], "msg": "line %d \u00e9 \"q\"" % i,
              "nested": {"a": {"b": i % 7}}}
        f.write(json.dumps(ev) + "\n")
PYEOF
}
