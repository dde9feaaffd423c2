#!/usr/bin/env bash
# bench_syslog.sh — syslog over TCP → JSON-lines file: sluice's `syslog` source against
# rsyslog (Debian's rsyslogd) and syslog-ng 3.38 (unpacked under /opt/sluice-peers) in the
# same run, on the same input.
#   bash bench/bench_syslog.sh [BUILD_DIR=build/release] [MESSAGES=2000000] [CONNECTIONS=4] [RUNS=3]
#   FRAMING=octet bash bench/bench_syslog.sh ...   (RFC 6587 octet counting instead of LF;
#   syslog-ng then listens with its syslog() driver, which expects octet-counted RFC 5424)
#
# Input: tests/tools/syslog_blast builds MESSAGES messages in memory first (half RFC 5424
# with an SD element, half RFC 3164 with a BSD timestamp and tag[pid]; ~135 bytes each,
# LF-framed) and writes them over CONNECTIONS TCP connections; its speed against a receiver
# that only reads is printed first (bench=syslog_sender), so the sender is seen not to be
# the bottleneck. Each receiver parses every message and writes one JSON object per message
# with the same fields (facility, severity, timestamp, host, app, procid, msgid, structured
# data, message, peer; sluice's own field set, a superset, with SD as a nested map):
#   - sluice: `syslog` source → `file` sink, workers: 1;
#   - rsyslog: imtcp → ruleset → omfile with a jsonf list template, ioBufferSize 256k;
#   - syslog-ng: network(transport(tcp)) → file() with $(format-json ...), flush-lines(1000).
# Each receiver runs alone (started, fed, stopped) RUNS times; the best run counts. Time:
# from the sender's first byte (after it built its messages) until the output file stops growing (polled every 20 ms) and holds
# MESSAGES lines. cpu_s: user+sys of the receiver process (all its threads) over that span,
# so msgs_per_cpu_s is the per-core rate whatever else the machine runs (these machines are
# shared: wall figures move with the load; the per-core figure much less).
# Prints, per receiver:
#   bench=syslog_tcp_file peer=NAME messages=N seconds=S msgs_per_s=R cpu_s=C msgs_per_cpu_s=P
# and the ratios:
#   bench=syslog_tcp_file_ratio sluice_over_rsyslog=X sluice_over_syslogng=Y (per CPU second)
#   and the same for wall rates.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-2000000}; C=${3:-4}; RUNS=${4:-3}
FRAMING=${FRAMING:-lf}
SLUICE=$PWD/$dir/sluice
BLAST=$PWD/$dir/syslog_blast
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
NG=/opt/sluice-peers/syslog-ng
PY=/usr/bin/python3
[ -x "$SLUICE" ] && [ -x "$BLAST" ] || { echo "build $dir first (sluice, syslog_blast)" >&2; exit 1; }
T=$(mktemp -d /tmp/sluice-bench-syslog.XXXXXX)
RPID=""
trap '[ -n "$RPID" ] && kill -9 $RPID 2>/dev/null; [ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"' EXIT
cd "$T"

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
  for _ in $(seq 1 100); do
    $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
now() { date +%s.%N; }

echo "# $("$BLAST" --discard "$N" "$C" "$FRAMING" | sed 's/^/bench=syslog_sender framing='"$FRAMING"' /')"

start_sluice() { # port out
  cat > sluice.yaml <<YAML
workers: 1
sources:
  s: {type: syslog, listen: "127.0.0.1:$1"}
sinks:
  out: {type: file, inputs: [s], path: $2}
YAML
  "$SLUICE" run -c sluice.yaml --no-status 2> sluice.log &
  RPID=$!
}

start_rsyslog() { # port out
  rm -rf rswork; mkdir -p rswork
  cat > rs.conf <<EOF
global(workDirectory="$T/rswork" maxMessageSize="64k")
module(load="imtcp" MaxSessions="1000")
template(name="j" type="list" option.jsonf="on") {
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
  property(outname="peer" name="fromhost-ip" format="jsonf")
}
ruleset(name="r") {
  action(type="omfile" file="$T/$2" template="j" ioBufferSize="256k" flushOnTXEnd="off")
}
input(type="imtcp" port="$1" address="127.0.0.1" ruleset="r")
EOF
  "$RSYSLOGD" -n -i "$T/rs.pid" -f "$T/rs.conf" 2> rs.log &
  RPID=$!
}

start_syslogng() { # port out
  local NGDRIVER=network
  [ "$FRAMING" = octet ] && NGDRIVER=syslog
  cat > ng.conf <<EOF
@version: 3.38
options { keep-hostname(yes); chain-hostnames(no); use-dns(no); use-fqdn(no); stats-freq(0);
          log-fifo-size(100000); flush-lines(1000); };
source s { $NGDRIVER(ip("127.0.0.1") port($1) transport("tcp") max-connections(1000)
                   log-iw-size(100000)); };
destination d { file("$T/$2" template("\$(format-json facility=\$FACILITY_NUM severity=\$LEVEL_NUM
  timestamp=\$ISODATE host=\$HOST app=\$PROGRAM procid=\$PID msgid=\$MSGID sd=\$SDATA
  message=\$MSG peer=\$SOURCEIP)\n")); };
log { source(s); destination(d); };
EOF
  LD_LIBRARY_PATH=$NG/usr/lib/syslog-ng:$NG/usr/lib \
    "$NG/usr/sbin/syslog-ng" --module-path="$NG/usr/lib/syslog-ng/3.38" -F -f "$T/ng.conf" \
    -R "$T/ng.persist" -p "$T/ng.pid" -c "$T/ng.ctl" 2> ng.log &
  RPID=$!
}

# run_one NAME -> "seconds cpu_s"
run_one() {
  local name=$1 port out=$1.json
  port=$(free_port)
  rm -f "$out"
  "start_$name" "$port" "$out"
  wait_port "$port"
  local c0 t0 t1 size prev=-1 stable=0 c1
  c0=$(cpu_ticks $RPID)
  t0=$(now)
  "$BLAST" 127.0.0.1 "$port" "$N" "$C" "$FRAMING" > blast.txt
  t0=$(sed -n 's/.* start=\([0-9.]*\).*/\1/p' blast.txt)   # sending began (messages built)
  t1=$(now)
  # until the file stops growing for 1 s
  while :; do
    size=$(stat -c %s "$out" 2>/dev/null || echo 0)
    if [ "$size" = "$prev" ]; then
      stable=$((stable + 1)); [ $stable -ge 50 ] && break
    else
      stable=0; prev=$size; t1=$(now)
    fi
    sleep 0.02
  done
  c1=$(cpu_ticks $RPID)
  kill -TERM $RPID; wait $RPID 2>/dev/null || true; RPID=""
  local lines; lines=$(wc -l < "$out")
  [ "$lines" = "$N" ] || echo "# WARNING: $name wrote $lines lines, want $N" >&2
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)"
}

declare -A BEST_S BEST_C
for name in sluice rsyslog syslogng; do
  if [ $name = syslogng ] && [ ! -x "$NG/usr/sbin/syslog-ng" ]; then
    echo "# syslog-ng not unpacked: bash scripts/deps.sh --syslog-ng"; continue
  fi
  for r in $(seq 1 "$RUNS"); do
    read -r s c < <(run_one $name)
    if [ -z "${BEST_S[$name]:-}" ] || [ "$(echo "$s < ${BEST_S[$name]}" | bc -l)" = 1 ]; then
      BEST_S[$name]=$s
    fi
    if [ -z "${BEST_C[$name]:-}" ] || [ "$(echo "$c < ${BEST_C[$name]}" | bc -l)" = 1 ]; then
      BEST_C[$name]=$c
    fi
  done
  printf 'bench=syslog_tcp_file peer=%s framing='"$FRAMING"' messages=%d connections=%d seconds=%.3f msgs_per_s=%.0f cpu_s=%.3f msgs_per_cpu_s=%.0f\n' \
    $name "$N" "$C" "${BEST_S[$name]}" "$(echo "$N / ${BEST_S[$name]}" | bc -l)" \
    "${BEST_C[$name]}" "$(echo "$N / ${BEST_C[$name]}" | bc -l)"
done
ratio() { [ -n "${2:-}" ] && printf '%.2f' "$(echo "$2 / $1" | bc -l)" || echo "n/a"; }
echo "bench=syslog_tcp_file_ratio per=cpu_second sluice_over_rsyslog=$(ratio "${BEST_C[sluice]}" "${BEST_C[rsyslog]:-}") sluice_over_syslogng=$(ratio "${BEST_C[sluice]}" "${BEST_C[syslogng]:-}")"
echo "bench=syslog_tcp_file_ratio per=wall_second sluice_over_rsyslog=$(ratio "${BEST_S[sluice]}" "${BEST_S[rsyslog]:-}") sluice_over_syslogng=$(ratio "${BEST_S[sluice]}" "${BEST_S[syslogng]:-}")"
