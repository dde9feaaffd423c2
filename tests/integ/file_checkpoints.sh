#!/usr/bin/env bash
# file source with `checkpoints:` (positions delivered to the sinks, resumed on restart):
#  - tail: 2,000 lines, SIGTERM, 500 appended while down, restart: each line exactly once
#  - a rotation while down (a.log renamed a.log.1, a new a.log): the rest of the old file from
#    its checkpoint, the new file from its start (told apart by their first bytes)
#  - a file replaced by another one while down (inode reuse, new content): read from its start
#  - read mode resumes too: a second `run --once` over the same files reads nothing again
#  - kill -9 at random moments, 5 times, while 300,000 lines are read: after the last run
#    every line is in the output at least once (duplicates counted and reported)
#  - a damaged checkpoint file is a config error naming FILE:LINE
source "$(dirname "$0")/lib/common.bash"

lines() { # lines FILE FROM TO: JSON lines {"f": FILE, "n": i}
  $PY -c 'import sys
f, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdout.write("".join("{\"f\":\"%s\",\"n\":%d}\n" % (f, i) for i in range(a, b)))' "$@"
}
# the file sink writes NAME.tmp and renames it when done (NAME.1, ... when NAME exists): an
# output is every file NAME*
count_distinct() { $PY -c 'import glob, json, sys
seen = set(); n = 0
for f in glob.glob(sys.argv[1] + "*"):
    for l in open(f):
        d = json.loads(l); seen.add((d["f"], d["n"])); n += 1
print(len(seen), n - len(seen))' "$1"; }
wait_lines() { # wait_lines NAME N [SECONDS]
  local i=0; while [ "$(cat "$1"* 2>/dev/null | wc -l)" -lt "$2" ]; do
    i=$((i+1)); [ $i -gt $(( ${3:-20} * 10 )) ] && fail "only $(cat "$1"* 2>/dev/null | wc -l) of $2 lines in $1*"; sleep 0.1; done
}

mkdir logs
lines a 0 2000 > logs/a.log
cat > p.yaml <<'YAML'
sources:
  logs: {type: file, path: ["logs/*.log*"], mode: tail, start_at: beginning, checkpoints: ck/logs.pos}
sinks:
  out: {type: file, inputs: [logs], path: out.json}
YAML
start() { $SLUICE run -c p.yaml --no-status 2>> log.txt & PID=$!; PIDS+=($PID); }
stop() { kill -TERM $PID; wait $PID || { tail -5 log.txt; fail "exit status $?"; }; }

start; wait_lines out.json 2000; sleep 1.2; stop
[ -f ck/logs.pos ] || fail "no checkpoint file"
head -1 ck/logs.pos | grep -q "sluice-file-checkpoints 1" || fail "checkpoint header: $(cat ck/logs.pos)"
lines a 2000 2500 >> logs/a.log
start; wait_lines out.json 2500; sleep 0.5; stop
expect_eq "after a restart: distinct, duplicates" "$(count_distinct out.json)" "2500 0"
grep -q "resuming at byte" log.txt || fail "no resume logged: $(cat log.txt)"

# rotation while down
lines a 2500 2600 >> logs/a.log
mv logs/a.log logs/a.log.1
lines b 0 300 > logs/a.log
start; wait_lines out.json 2900; sleep 0.5; stop
expect_eq "rotation while down: distinct, duplicates" "$(count_distinct out.json)" "2900 0"
grep -q "logs/a.log.1: resuming at byte" log.txt || fail "the rotated file was not recognised: $(grep resum log.txt)"

# inode reuse: a.log.1 removed, its inode free; a new file with new content at the same path
rm logs/a.log.1
lines c 0 50 > logs/a.log.1
start; wait_lines out.json 2950; sleep 0.5; stop
expect_eq "a replaced file read from its start: distinct, duplicates" "$(count_distinct out.json)" "2950 0"

# read mode: a second run reads nothing again, a third after an append reads the rest
cat > r.yaml <<'YAML'
sources:
  logs: {type: file, path: ["rlogs/*.log"], checkpoints: ck/r.pos}
sinks:
  out: {type: file, inputs: [logs], path: rout.json}
YAML
mkdir rlogs
lines r 0 1000 > rlogs/x.log
$SLUICE run -c r.yaml --once --no-status 2>> log.txt
$SLUICE run -c r.yaml --once --no-status 2>> log.txt
expect_eq "read mode twice" "$(count_distinct rout.json)" "1000 0"
lines r 1000 1200 >> rlogs/x.log
$SLUICE run -c r.yaml --once --no-status 2>> log.txt
expect_eq "read mode after an append" "$(count_distinct rout.json)" "1200 0"

# kill -9 at random moments while a writer appends 300,000 lines over ~8 s
mkdir klogs
: > klogs/k.log
cat > k.yaml <<'YAML'
sources:
  logs: {type: file, path: ["klogs/*.log"], mode: tail, start_at: beginning, checkpoints: ck/k.pos}
sinks:
  out: {type: file, inputs: [logs], path: kout.json}
YAML
KN=${SOAK_LINES:-300000}   # `make soak` raises it, and SOAK_KILLS
$PY -c 'import sys, time
with open("klogs/k.log", "a") as f:
    for c in range(int(sys.argv[1]) // 3750):
        f.write("".join("{\"f\":\"k\",\"n\":%d}\n" % i for i in range(c * 3750, (c + 1) * 3750)))
        f.flush(); time.sleep(0.1)' "$KN" &
WPID=$!; PIDS+=($WPID)
for i in $(seq "${SOAK_KILLS:-5}"); do
  $SLUICE run -c k.yaml --no-status 2>> klog.txt & KPID=$!; PIDS+=($KPID)
  sleep "$((RANDOM % 2 + 1)).$((RANDOM % 10))"
  kill -9 $KPID; wait $KPID 2>/dev/null || true
done
wait $WPID
$SLUICE run -c k.yaml --no-status 2>> klog.txt & KPID=$!; PIDS+=($KPID)
i=0
until [ "$(count_distinct kout.json | cut -d' ' -f1)" = "$KN" ]; do
  i=$((i+1)); [ $i -gt $(( 300 + KN / 1000 )) ] && fail "after kill -9: $(count_distinct kout.json) (distinct, duplicates) of $KN"
  sleep 0.2
done
kill -TERM $KPID; wait $KPID || fail "exit status"
read -r DISTINCT DUPS < <(count_distinct kout.json)
expect_eq "kill -9 x${SOAK_KILLS:-5}: every line delivered" "$DISTINCT" "$KN"
echo "kill -9 x${SOAK_KILLS:-5} while appending: $DUPS duplicates (delivered again after a kill: what was read after the last checkpoint, at most 250 ms of reading plus the queues)"
[ "$DUPS" -lt $(( KN / 2 )) ] || fail "duplicates: $DUPS"

# a damaged checkpoint file
printf 'sluice-file-checkpoints 1\n12\tnot a number\n' > ck/bad.pos
sed 's#ck/k.pos#ck/bad.pos#' k.yaml > bad.yaml
if $SLUICE check -c bad.yaml > check.txt 2>&1; then fail "a damaged checkpoint file is accepted"; fi
grep -q "ck/bad.pos:2: not a checkpoint line" check.txt || fail "message: $(cat check.txt)"
ok "damaged checkpoint file refused with its line"
