#!/usr/bin/env bash
# Disk buffers on sinks (buffer: {type: disk}, core/sinkbuf.h, docs/delivery.md):
#  (a) file -> PostgreSQL sink with a disk buffer while the server is down: a second sink
#      (file, memory buffer) keeps flowing, the buffer grows (sluice_buffer_records on
#      /metrics), the file source's checkpoints advance (the buffer acknowledged), and once
#      the server is back every line arrives.
#  (b) kill -9 at random moments, in a loop, during file (checkpoints) -> disk buffer -> file
#      sink: after the last run every input line is in the output at least once; duplicates
#      are counted and printed.
#  (c) a restart delivers what a previous run left in the buffer first, with the target
#      still down at shutdown (drain_timeout), and config errors point at the buffer option.
#  (f) batches larger than a segment, and larger than max_size (split), are delivered.
#  (e) kill -9 while the target is down and the batches are only in the buffer (the file
#      checkpoint already past them): the next run delivers them.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.bash"

metric() { # metric NAME COMPONENT PORT
  curl -s "http://127.0.0.1:$3/metrics" | awk -v n="$1" -v c="component=\"$2\"" \
    '$1 ~ "^"n"\\{" && index($1, c) {print $2}' | head -1
}

# ---- (c) config errors at the option
cat > bad.yaml <<'YAML'
sources:
  in: {type: file, path: in.json}
sinks:
  out:
    type: file
    inputs: [in]
    path: out.json
    buffer: {type: disk, when_full: wait}
YAML
set +e
$SLUICE check -c bad.yaml > bad.txt 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "bad.yaml:8:" bad.txt && grep -q "when_full" bad.txt ||
  { cat bad.txt; fail "bad when_full not reported at 8:x"; }
sed -i 's/buffer: {type: disk, when_full: wait}/buffer: {max_size: 10GiB}/' bad.yaml
set +e
$SLUICE check -c bad.yaml > bad.txt 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "needs type: disk" bad.txt || { cat bad.txt; fail "disk option on memory"; }
ok "buffer config errors"

# ---- (f) batches larger than a segment or than max_size: nothing lost (docs/limits.md)
$PY -c "
with open('big1.txt','w') as f:
    for i in range(40): f.write('%d ' % i + 'x' * 900000 + '\n')
with open('big2.txt','w') as f:
    for i in range(3000): f.write('%d ' % i + 'z' * 1020 + '\n')
"
for t in "big1 4MiB" "big2 1MiB"; do
  set -- $t
  cat > $1.yaml <<YAML
sources:
  in: {type: file, path: $1.txt, format: lines}
sinks:
  out: {type: file, inputs: [in], path: $1.json, buffer: {type: disk, path: $1-buf, max_size: $2}}
YAML
  timeout 120 $SLUICE run -c $1.yaml --once --no-status 2> $1.log || { cat $1.log; fail "$1 run"; }
  expect_eq "$1 (max_size $2): lines delivered" "$(count_lines $1.json)" "$(count_lines $1.txt)"
done

# ---- (b) kill -9 loop: file (checkpoints) -> disk buffer -> file (`make soak`: SOAK_LINES,
# SOAK_KILLS)
N=${SOAK_LINES:-200000}
: > in.json
# lines keep arriving (about 8 s) while sluice is killed and restarted
$PY - "$N" <<'PYEOF' &
import sys, time
n = int(sys.argv[1])
with open("in.json", "a") as f:
    for i in range(n):
        f.write('{"n":%d,"pad":"%s"}\n' % (i, "x" * (i % 50)))
        if i % 2500 == 2499:
            f.flush()
            time.sleep(0.1)
PYEOF
appender=$!
cat > k.yaml <<'YAML'
sources:
  in: {type: file, path: in.json, mode: tail, start_at: beginning, checkpoints: ck.json}
sinks:
  out:
    type: file
    inputs: [in]
    path: out.json
    buffer: {type: disk, path: kbuf, sync: batch, max_size: 64MiB, segment_size: 1MiB}
YAML
kills=0
for i in $(seq "${SOAK_KILLS:-8}"); do
  $SLUICE run -c k.yaml --no-status 2>> klog.txt &
  pid=$!
  PIDS+=($pid)
  sleep "$($PY -c 'import random; print(round(random.uniform(0.3, 1.5), 2))')"
  kill -9 $pid 2>/dev/null && kills=$((kills + 1))
  wait $pid 2>/dev/null || true
done
wait $appender
# the last run ends by itself once everything is out (SIGTERM after the output is complete)
$SLUICE run -c k.yaml --no-status 2>> klog.txt &
pid=$!
PIDS+=($pid)
sleep 1 # the output may be complete already: a SIGTERM before the handler is set kills
for _ in $(seq $(( 600 + N / 500 ))); do
  [ "$(cat out.json* 2>/dev/null | cut -d, -f1 | sort -u | wc -l)" -ge $N ] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid || { tail -20 klog.txt; fail "last run exit status"; }
$PY - "$N" <<'PYEOF' || { tail -30 klog.txt; fail "lines missing after kill -9"; }
import glob, json, sys, collections
n = int(sys.argv[1])
seen = collections.Counter()
for path in glob.glob("out.json*"):  # the finished file and what a killed run left in .tmp
    with open(path) as f:
        for line in f:
            seen[json.loads(line)["n"]] += 1
missing = [i for i in range(n) if seen[i] == 0]
dups = sum(c - 1 for c in seen.values() if c > 1)
print("kill -9 loop: %d lines in, %d out, %d distinct, %d duplicates, %d missing"
      % (n, sum(seen.values()), len(seen), dups, len(missing)))
sys.exit(1 if missing else 0)
PYEOF
resumed=$(grep -c "to deliver, recovered" klog.txt || true)
torn=$(grep -c "torn tail" klog.txt || true)
ok "kill -9 x$kills: nothing lost (restarts that found records in the buffer: $resumed, torn tails truncated: $torn)"

# ---- (a) target down: PostgreSQL stopped while lines arrive
source "$here/lib/postgres.bash"
pg_start fsync=off
pg_ctl_as() { pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -o "$PG_OPTS" "$@"; }
: > a.json
APIPORT=$(free_port)
cat > a.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  in: {type: file, path: a.json, mode: tail, start_at: beginning, checkpoints: ack.json}
sinks:
  pg:
    type: postgres
    inputs: [in]
    dsn: "$PG_DSN"
    table: buffered
    create: true
    retry_backoff: 50ms
    retry_backoff_max: 200ms
    max_retries: 3
    buffer: {type: disk, path: pgbuf, sync: batch, drain_timeout: 2s}
  copy: {type: file, inputs: [in], path: copy.json}
YAML
$SLUICE run -c a.yaml --no-status 2> alog.txt &
apid=$!
PIDS+=($apid)
wait_port $APIPORT
# the table exists once the sink connected; then the server goes away
for _ in $(seq 100); do pg_q "SELECT 1 FROM buffered LIMIT 1" >/dev/null 2>&1 && break; sleep 0.1; done
pg_ctl_as -m fast -w stop >/dev/null
M=40000
$PY -c "
with open('a.json','a') as f:
    for i in range($M):
        f.write('{\"n\":%d,\"msg\":\"event %d\"}\n' % (i, i))
"
for _ in $(seq 300); do [ "$(count_lines copy.json*)" -ge $M ] && break; sleep 0.1; done
expect_eq "the other sink kept flowing while PostgreSQL is down" "$(count_lines copy.json*)" $M
recs=$(metric sluice_buffer_records pg $APIPORT)
[ "${recs%.*}" -gt 0 ] || fail "sluice_buffer_records of pg is '$recs' while the server is down"
ok "disk buffer holds $recs batches while the server is down"
# the file source's checkpoint covers the input: the buffer acknowledged it
for _ in $(seq 50); do grep -q "$(stat -c %s a.json)" ack.json 2>/dev/null && break; sleep 0.1; done
grep -q "$(stat -c %s a.json)" ack.json || { cat ack.json; fail "checkpoint did not advance"; }
ok "file checkpoint advanced to the end while the target is down"
pg_ctl_as -w -t 60 start >/dev/null
for _ in $(seq 600); do
  [ "$(pg_q 'SELECT count(DISTINCT n) FROM buffered' 2>/dev/null || echo 0)" -ge $M ] && break
  sleep 0.1
done
kill -TERM $apid
wait $apid || { tail -20 alog.txt; fail "run (a) exit status"; }
expect_eq "every line in PostgreSQL after the outage" "$(pg_q 'SELECT count(DISTINCT n) FROM buffered')" $M
ok "duplicates in PostgreSQL: $(pg_q 'SELECT count(*) - count(DISTINCT n) FROM buffered')"
grep -Eq "rows not written|kept in the disk buffer" alog.txt || { tail alog.txt; fail "no failed delivery logged"; }

# ---- (c) shutdown with the target down: the rest stays for the next run
pg_ctl_as -m fast -w stop >/dev/null
$PY -c "
with open('a.json','a') as f:
    for i in range($M, $M + 5000):
        f.write('{\"n\":%d,\"msg\":\"event %d\"}\n' % (i, i))
"
$SLUICE run -c a.yaml --no-status 2> clog.txt &
cpid=$!
PIDS+=($cpid)
for _ in $(seq 300); do [ "$(count_lines copy.json*)" -ge $((M + 5000)) ] && break; sleep 0.1; done
kill -TERM $cpid
wait $cpid || { tail -20 clog.txt; fail "run (c) exit status"; }
grep -q "stay in the disk buffer" clog.txt || { tail clog.txt; fail "no 'stay in the disk buffer'"; }
ok "shutdown with the target down left the rest in the buffer"
pg_ctl_as -w -t 60 start >/dev/null
$SLUICE run -c a.yaml --no-status 2> dlog.txt &
dpid=$!
PIDS+=($dpid)
for _ in $(seq 300); do
  [ "$(pg_q 'SELECT count(DISTINCT n) FROM buffered' 2>/dev/null || echo 0)" -ge $((M + 5000)) ] && break
  sleep 0.1
done
kill -TERM $dpid
wait $dpid || { tail -20 dlog.txt; fail "run (d) exit status"; }
grep -q "to deliver" dlog.txt || { tail dlog.txt; fail "restart did not find the buffer"; }
expect_eq "the next run delivered what the buffer kept" \
  "$(pg_q 'SELECT count(DISTINCT n) FROM buffered')" $((M + 5000))

# ---- (e) kill -9 with batches in the buffer (target down), then a restart with it back
pg_ctl_as -m fast -w stop >/dev/null
$PY -c "
with open('a.json','a') as f:
    for i in range($M + 5000, $M + 10000):
        f.write('{\"n\":%d,\"msg\":\"event %d\"}\n' % (i, i))
"
$SLUICE run -c a.yaml --no-status 2> elog.txt &
epid=$!
PIDS+=($epid)
for _ in $(seq 300); do [ "$(count_lines copy.json*)" -ge $((M + 10000)) ] && break; sleep 0.1; done
sleep 0.5 # the group commit (10 ms) and the checkpoint save (250 ms)
kill -9 $epid
wait $epid 2>/dev/null || true
pg_ctl_as -w -t 60 start >/dev/null
$SLUICE run -c a.yaml --no-status 2> flog.txt &
fpid=$!
PIDS+=($fpid)
for _ in $(seq 300); do
  [ "$(pg_q 'SELECT count(DISTINCT n) FROM buffered' 2>/dev/null || echo 0)" -ge $((M + 10000)) ] && break
  sleep 0.1
done
kill -TERM $fpid
wait $fpid || { tail -20 flog.txt; fail "run (f) exit status"; }
grep -q "to deliver" flog.txt || { tail flog.txt; fail "restart after kill -9 did not find the buffer"; }
expect_eq "after kill -9 with the target down, the next run delivered everything" \
  "$(pg_q 'SELECT count(DISTINCT n) FROM buffered')" $((M + 10000))
ok "disk buffer"
