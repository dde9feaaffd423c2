#!/usr/bin/env bash
# bench_kafka.sh — the kafka source and sink against librdkafka's own clients, in one run, on
# one mock cluster (3 brokers on loopback, kafkatool mock):
#   kafka -> null   sluice (1 worker) consuming N JSON records vs. kafkatool consume (a bare
#                   librdkafka consumer that only counts);
#   file -> kafka   sluice (1 worker) producing N NDJSON lines from a file vs. kafkatool produce
#                   (a bare idempotent acks=all producer of the same records).
#   bash bench/bench_kafka.sh [BUILD_DIR=build/release] [N=300000]
# Prints `bench=kafka path=... events=N events_per_s=R` and `ratio=` lines (sluice / bare).
# Rates: the producer side is whole-process time (both wait for every delivery report). The
# consumer side is from the first record to the last for both (sluice logs "read N records in
# S s from the first to the last"); the bare consumer gets the librdkafka settings the kafka
# source uses (end-of-partition events, the larger local queue: docs/kafka.md). The time of
# the whole --once run of sluice (assignment to exit) is printed as run_seconds.
# The topics have 24 partitions because the mock cluster keeps at most 5 MiB per partition
# (librdkafka's rdkafka_mock.c) and drops the oldest records beyond: 300,000 records of
# ~270 B stay within it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}
N=${2:-300000}
SLUICE=$dir/sluice
KT=$dir/kafkatool
PY=/usr/bin/python3
[ -x "$KT" ] || { echo "bench=kafka skipped: no $KT"; exit 0; }
T=$(mktemp -d /tmp/sluice-bench-kafka.XXXXXX)
cleanup() { kill "${MOCK:-}" "${HOLD:-}" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
mkfifo "$T/mock.in"
sleep 100000 >"$T/mock.in" &
HOLD=$!
"$KT" mock -t in:24 -t out:24 <"$T/mock.in" >"$T/boot" 2>/dev/null &
MOCK=$!
for _ in $(seq 50); do [ -s "$T/boot" ] && break; sleep 0.1; done
B=$(cat "$T/boot")
now() { date +%s.%N; }
rate() { $PY -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$@"; }
# log_span LOG: seconds between the "assigned" line and the "done" line of a sluice log
log_span() {
  $PY - "$1" <<'PYEOF'
import re, sys, datetime
ts = {}
for l in open(sys.argv[1]):
    m = re.match(r'ts=(\S+)Z ', l)
    if not m: continue
    t = datetime.datetime.fromisoformat(m.group(1))
    if 'assigned' in l and 'a' not in ts: ts['a'] = t
    if 'msg="done' in l: ts['d'] = t
print((ts['d'] - ts['a']).total_seconds())
PYEOF
}

# ---- producers: bare, then sluice from a file of the same records
"$KT" produce -B "$B" -t in -n "$N" -s 200 -k 1000 2>"$T/p.err"
bare_p=$(grep -o 'rate=[0-9]*' "$T/p.err" | cut -d= -f2)
echo "bench=kafka path=bare-producer events=$N events_per_s=$bare_p"
"$KT" consume -B "$B" -t in -n "$N" -g dump -p >"$T/records.json" 2>"$T/dump.err" || { cat "$T/dump.err"; exit 1; }
cat >"$T/fk.yaml" <<EOF
sources:
  f: {type: file, path: $T/records.json, mode: read, start_at: beginning}
sinks:
  k: {type: kafka, inputs: [f], brokers: "$B", topic: out}
EOF
t0=$(now)
"$SLUICE" run --once --workers 1 --no-status -c "$T/fk.yaml" 2>"$T/fk.log"
t1=$(now)
grep -q "written $N," "$T/fk.log" || { tail -3 "$T/fk.log"; echo "bench=kafka file->kafka: count mismatch"; exit 1; }
sl_p=$(rate "$N" "$($PY -c "print($t1 - $t0)")")
echo "bench=kafka path=file-to-kafka events=$N events_per_s=$sl_p"
echo "bench=kafka path=file-to-kafka ratio=$($PY -c "print('%.2f' % ($sl_p / $bare_p))")"

# ---- consumers: bare, then sluice to null, on the same topic (other groups)
"$KT" consume -B "$B" -t in -n "$N" -g bare -e -X queued.min.messages=1000000 \
  -X queued.max.messages.kbytes=262144 2>"$T/c.err" >/dev/null
bare_c=$(grep -o 'rate=[0-9]*' "$T/c.err" | cut -d= -f2)
echo "bench=kafka path=bare-consumer events=$N events_per_s=$bare_c"
cat >"$T/kn.yaml" <<EOF
sources:
  k: {type: kafka, brokers: "$B", topics: [in], group: bench}
sinks:
  n: {type: "null", inputs: [k]}
EOF
"$SLUICE" run --once --workers 1 --no-status -c "$T/kn.yaml" 2>"$T/kn.log"
grep -q "events in $N," "$T/kn.log" || { tail -3 "$T/kn.log"; echo "bench=kafka kafka->null: count mismatch"; exit 1; }
secs=$(sed -n 's/.*read [0-9]* records in \([0-9.]*\) s from the first.*/\1/p' "$T/kn.log")
sl_c=$(rate "$N" "$secs")
echo "bench=kafka path=kafka-to-null events=$N events_per_s=$sl_c run_seconds=$(log_span "$T/kn.log")"
echo "bench=kafka path=kafka-to-null ratio=$($PY -c "print('%.2f' % ($sl_c / $bare_c))")"
