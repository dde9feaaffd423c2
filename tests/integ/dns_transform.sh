#!/usr/bin/env bash
# The `dns` transform against real DNS servers on loopback: Debian's dnsmasq serving PTR
# records from a hosts file (names filled, NXDOMAIN left empty and counted, order kept over
# several batches, the host field already set is kept, a second run of the same addresses
# within one process asks nothing: dnsmasq's query log proves the cache), then a server that
# reads and never answers (every event still comes out, in order, after the timeout, counted
# as timeouts / skipped), then a closed port.
source "$(dirname "$0")/lib/common.bash"
DNSMASQ=/usr/sbin/dnsmasq
[ -x $DNSMASQ ] || { echo "SKIP: no dnsmasq"; exit 0; }

# --- fixtures: 20 named addresses (10.1.0.1..20), 5 without a name (10.9.0.1..5)
$PY - <<'PYEOF'
import json
with open("hosts", "w") as f:
    for i in range(1, 21):
        f.write("10.1.0.%d host%d.test\n" % (i, i))
    f.write("fd00::1 six.test\n")
with open("in.json", "w") as f:
    for i in range(5000):          # several batches; every address many times
        ev = {"seq": i, "origIp": "10.1.0.%d" % (1 + i % 20),
              "respIp": "10.9.0.%d" % (1 + i % 5) if i % 2 else "10.1.0.%d" % (1 + (i * 7) % 20)}
        if i == 3:
            ev["respH"] = "kept.example"
        if i == 4:
            ev["origIp"] = "fd00::1"
        if i == 5:
            ev["origIp"] = "not an address"
        f.write(json.dumps(ev) + "\n")
PYEOF
cp in.json again.json

UDP=$($PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$DNSMASQ --no-daemon --no-resolv --no-hosts --addn-hosts="$T/hosts" --port="$UDP" \
  --listen-address=127.0.0.1 --bind-interfaces --bogus-priv --log-queries --log-facility=- \
  --pid-file= --user="$(id -un)" 2>dnsmasq.log &
DPID=$!
PIDS+=($DPID)
for _ in $(seq 50); do grep -q "read $T/hosts" dnsmasq.log 2>/dev/null && break; sleep 0.1; done
grep -q "read $T/hosts" dnsmasq.log || fail "dnsmasq did not start: $(cat dnsmasq.log)"

config() { # config SERVER OUT [extra option lines]
  cat <<YAML
sources:
  in: {type: file, path: [in.json, again.json]}
transforms:
  names:
    type: dns
    inputs: [in]
    server: $1
    parallelism: 4
$3
sinks:
  out: {type: file, inputs: [names], path: $2}
YAML
}

# --- 1. dnsmasq: the input twice in one run (the second pass is all cache hits). One worker:
# with several, two workers may hand the transform the source's batches in either order
# (true of every stage), and the transform keeps the order in which it received them.
config "127.0.0.1:$UDP" out.json "" > p.yaml
"$SLUICE" run -c p.yaml --once --workers 1 2>run.log || fail "run: $(cat run.log)"
$PY - <<'PYEOF' || fail "output"
import json
rows = [json.loads(l) for l in open("out.json")]
assert len(rows) == 10000, len(rows)
seqs = [r["seq"] for r in rows]
assert seqs == list(range(5000)) * 2, "order"
for r in rows:
    ip = r["origIp"]
    if ip.startswith("10.1.0."):
        assert r["origH"] == "host%s.test" % ip.rsplit(".", 1)[1], r
    if r["seq"] == 4:
        assert r["origH"] == "six.test", r
    if r["seq"] == 5:
        assert "origH" not in r, r
    if r["seq"] == 3:
        assert r["respH"] == "kept.example", r
    elif r["respIp"].startswith("10.9."):
        assert "respH" not in r, r          # NXDOMAIN: left empty
    else:
        assert r["respH"] == "host%s.test" % r["respIp"].rsplit(".", 1)[1], r
PYEOF
ok "names filled, NXDOMAIN left empty, order kept over 10000 events"
# 20 + 5 + 1 distinct addresses: one query each, whatever the repetitions (the cache)
expect_eq "queries to dnsmasq" "$(grep -c 'query\[PTR\]' dnsmasq.log)" 26
grep -q 'lookups=26 resolved=21 not_found=5 timeouts=0' run.log || fail "counters: $(grep comp=names run.log)"
grep -Eq 'unresolved_fields=4998 invalid=2"' run.log || fail "unresolved count: $(grep comp=names run.log)"
ok "counters: 26 lookups, 5 not found, 4998 fields unresolved (2 x 2499), 2 invalid"

# --- 2. a server that reads and never answers
cat > silent.py <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open("silent.port", "w") as f:
    f.write(str(s.getsockname()[1]))
n = 0
while True:
    s.recvfrom(4096)
    n += 1
    with open("silent.count.tmp", "w") as f:
        f.write(str(n))
PYEOF
$PY silent.py & PIDS+=($!)
for _ in $(seq 50); do [ -s silent.port ] && break; sleep 0.1; done
config "127.0.0.1:$(cat silent.port)" out2.json "    timeout: 200ms
    retries: 1" > p2.yaml
start=$(date +%s%N)
"$SLUICE" run -c p2.yaml --once --workers 1 2>run2.log || fail "run2: $(cat run2.log)"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
$PY - <<'PYEOF' || fail "output 2"
import json
rows = [json.loads(l) for l in open("out2.json")]
assert [r["seq"] for r in rows] == list(range(5000)) * 2, "order"
assert not any("origH" in r for r in rows)
assert sum("respH" in r for r in rows) == 2      # only the one already set
PYEOF
ok "silent server: 10000 events out in order, unnamed, in ${ms} ms"
grep -Eq 'timeouts=[1-9][0-9]* ' run2.log || fail "timeouts not counted: $(grep comp=names run2.log)"
grep -q 'counts as down' run2.log || fail "no back-off: $(cat run2.log)"
grep -Eq 'unresolved_fields=19996 ' run2.log || fail "unresolved: $(grep comp=names run2.log)"
ok "timeouts counted ($(grep -o 'timeouts=[0-9]*' run2.log), $(grep -o 'skipped=[0-9]*' run2.log)); $(cat silent.count.tmp) queries received"

# --- 3. a closed port: refused at once, counted as failures, events out
CLOSED=$($PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
config "127.0.0.1:$CLOSED" out3.json "    timeout: 200ms
    retries: 1" > p3.yaml
"$SLUICE" run -c p3.yaml --once 2>run3.log || fail "run3: $(cat run3.log)"
expect_eq "closed port: events out" "$(count_lines out3.json)" 10000
grep -q 'resolved=0' run3.log || fail "closed: $(grep comp=names run3.log)"
ok "closed port: $(grep -o 'timeouts=[0-9]* failures=[0-9]* skipped=[0-9]*' run3.log)"

# --- 4. a bad server option is a config error with its position
config "not-an-ip:53" out4.json "" > p4.yaml
if "$SLUICE" check -c p4.yaml 2>check.log; then fail "bad server accepted"; fi
grep -q "p4.yaml:7:" check.log || fail "position: $(cat check.log)"
ok "bad server: $(head -1 check.log)"
kill $DPID
