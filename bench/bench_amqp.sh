#!/usr/bin/env bash
# bench_amqp.sh — RabbitMQ through sluice against a bare librabbitmq client, same broker, same
# run (a private node on loopback, as the integration tests start it).
#   bash bench/bench_amqp.sh [BUILD_DIR=build/release] [MESSAGES=200000] [SIZE=200]
# Source: the queue is filled with MESSAGES JSON messages of about SIZE bytes, then drained
#   (a) by `amqp_bare consume` (manual acks, nothing done per message) and (b) by sluice
#   amqp → null (one worker: JSON parse, batches, acks after the sink). Rate = MESSAGES /
#   (consumer start → queue has no ready message); sluice's own count is checked (nothing
#   lost). Prints `bench=amqp dir=source client=bare|sluice ... events_per_s=R` and the ratio.
# Sink: MESSAGES events from a file → sluice amqp sink (publisher confirms per batch,
#   persistent) against `amqp_bare publish` (confirms every 1,024, persistent); rate =
#   MESSAGES / run time. Prints `bench=amqp dir=sink ...` and the ratio.
# Postgres: amqp → postgres when the postgres sink is built in (skipped otherwise).
set -euo pipefail
dir=$(cd "${1:-build/release}" && pwd); N=${2:-200000}; SIZE=${3:-200}
export SLUICE=$dir/sluice SL_SRC=$(cd "$(dirname "$0")/.." && pwd)
BARE=$dir/amqp_bare
[ -x "$BARE" ] || { echo "bench=amqp ERROR: $BARE missing (build the amqp_bare target)"; exit 1; }
source "$SL_SRC/tests/integ/lib/common.bash"
source "$SL_SRC/tests/integ/lib/rabbitmq.bash"
rmq_start
U=$RMQ_URL

# ---- source
$BARE publish "$U" bench_in "$N" "$SIZE" > /dev/null
$BARE consume "$U" bench_in "$N" > bare.txt &
bare_pid=$!
bare_s=$($BARE wait-empty "$U" bench_in)
wait $bare_pid
BARE_RATE=$($PY -c "print(round($N / $bare_s))")
echo "bench=amqp dir=source client=bare messages=$N size=$SIZE seconds=$bare_s events_per_s=$BARE_RATE"

$BARE publish "$U" bench_in "$N" "$SIZE" > /dev/null
cat > p.yaml <<YAML
workers: 1
sources:
  a: {type: amqp, url: "$U", queue: bench_in}
sinks:
  null: {type: "null", inputs: [a]}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
spid=$!; PIDS+=($spid)
sl_s=$($BARE wait-empty "$U" bench_in)
# the last prefetch window is in flight: let it finish before stopping
for _ in $(seq 100); do grep -q "consuming" log.txt && break; sleep 0.05; done
sleep 0.5
kill -TERM $spid; wait $spid
acked=$(sed -n 's/.*stopped: \([0-9]*\) messages acked.*/\1/p' log.txt)
[ "$acked" = "$N" ] || { cat log.txt; echo "bench=amqp ERROR: sluice acked $acked of $N"; exit 1; }
SL_RATE=$($PY -c "print(round($N / $sl_s))")
echo "bench=amqp dir=source client=sluice workers=1 messages=$N size=$SIZE seconds=$sl_s events_per_s=$SL_RATE"
$PY -c "print('bench=amqp dir=source ratio=%.2f (sluice amqp->null / bare consumer)' % ($SL_RATE / $BARE_RATE))"

# ---- sink
$BARE publish "$U" bench_bare "$N" "$SIZE" --persistent > bare_pub.txt
BARE_PUB=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' bare_pub.txt)
echo "bench=amqp dir=sink client=bare messages=$N size=$SIZE persistent=1 $(cat bare_pub.txt) events_per_s=$BARE_PUB"
$PY - "$N" "$SIZE" events.json <<'PYEOF'
import json, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
pad = "x" * max(1, size - 120)
with open(sys.argv[3], "w") as f:
    for i in range(n):
        f.write(json.dumps({"seq": i, "proto": "tcp", "src": "10.0.%d.%d" % (i // 256 % 256, i % 256),
                            "port": 1024 + i % 60000, "pad": pad}, separators=(",", ":")) + "\n")
PYEOF
cat > s.yaml <<YAML
workers: 1
sources:
  f: {type: file, path: events.json}
sinks:
  q: {type: amqp, inputs: [f], url: "$U", declare_queue: bench_out, routing_key: bench_out}
YAML
t0=$(date +%s.%N)
$SLUICE run -c s.yaml --once --no-status 2> log2.txt
t1=$(date +%s.%N)
got=$($BARE count "$U" bench_out)
[ "$got" = "$N" ] || { cat log2.txt; echo "bench=amqp ERROR: sink queue holds $got of $N"; exit 1; }
SINK_S=$($PY -c "print('%.3f' % ($t1 - $t0))")
SINK_RATE=$($PY -c "print(round($N / ($t1 - $t0)))")
echo "bench=amqp dir=sink client=sluice workers=1 messages=$N size=$SIZE persistent=1 seconds=$SINK_S events_per_s=$SINK_RATE"
$PY -c "print('bench=amqp dir=sink ratio=%.2f (sluice file->amqp / bare publisher)' % ($SINK_RATE / $BARE_PUB))"

# ---- amqp -> postgres, when that sink is built in and a PostgreSQL server is installed
if ! $SLUICE help postgres > /dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  echo "bench=amqp dir=postgres skipped: no postgres sink or no PostgreSQL server"
  exit 0
fi
source "$SL_SRC/tests/integ/lib/postgres.bash"
pg_start
trap 'pg_stop; rmq_cleanup' EXIT
$BARE publish "$U" bench_pg "$N" "$SIZE" > /dev/null
cat > pg.yaml <<YAML
workers: 1
sources:
  a: {type: amqp, url: "$U", queue: bench_pg}
sinks:
  pg: {type: postgres, inputs: [a], dsn: "$PG_DSN", table: t, create: true,
       schema: {seq: BIGINT, proto: TEXT, src: TEXT, port: INT, pad: TEXT}}
YAML
t0=$(date +%s.%N)
$SLUICE run -c pg.yaml --no-status 2> log3.txt &
spid=$!; PIDS+=($spid)
rows=0
for _ in $(seq 1200); do
  rows=$(pg_q "SELECT count(*) FROM t" 2> /dev/null || echo 0)
  [ "$rows" = "$N" ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
kill -TERM $spid; wait $spid
[ "$rows" = "$N" ] || { tail log3.txt; echo "bench=amqp dir=postgres ERROR: $rows of $N rows"; exit 1; }
PG_RATE=$($PY -c "print(round($N / ($t1 - $t0)))")
echo "bench=amqp dir=postgres client=sluice workers=1 messages=$N size=$SIZE seconds=$($PY -c "print('%.3f' % ($t1 - $t0))") events_per_s=$PG_RATE"
$PY -c "print('bench=amqp dir=postgres ratio=%.2f (amqp->postgres / amqp->null)' % ($PG_RATE / $SL_RATE))"
