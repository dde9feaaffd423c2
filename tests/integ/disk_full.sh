#!/usr/bin/env bash
# Disk full under load (issue 19, docs/delivery.md "Full disks"): a small tmpfs is filled up
# by a filler file while lines keep arriving, then the filler is deleted. sluice must hold
# the input back (no crash, no drop, no busy loop), say so once per episode with the path and
# the reason, show it on /metrics, recover by itself, and lose no line.
#  (a) a sink's disk buffer on the full filesystem;
#  (b) the file sink's output directory and the file source's checkpoints file on it: the
#      sink's disk buffer (on another disk) takes the input meanwhile, the checkpoints cannot
#      be saved (kept in memory);
#  (c) only the checkpoints file on it: the output keeps flowing, the saved checkpoint stays
#      whole (the last one that fit), and it catches up once space returns.
# Needs root (mount -t tmpfs), which the test machines give.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.bash"

MNT=$T/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=6m sluice-diskfull "$MNT" || fail "cannot mount a tmpfs (root needed)"
trap 'cat $T/*log.txt >&2 2>/dev/null; for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done;
      umount -l "$MNT" 2>/dev/null || true; rm -rf "$T"' EXIT

metric() { # metric NAME COMPONENT PORT
  curl -s "http://127.0.0.1:$3/metrics" | awk -v n="$1" -v c="component=\"$2\"" \
    '$1 ~ "^"n"\\{" && index($1, c) {print $2}' | head -1
}
# fill: take every free byte of the tmpfs (again: space freed meanwhile is taken too)
fill() { cat /dev/zero >> "$MNT/filler" 2>/dev/null || true; }
# fill_leave KB: the filler leaves KB kilobytes free (the load fills the rest by itself)
fill_leave() {
  local avail
  avail=$(df --output=avail -k "$MNT" | tail -1)
  [ "$avail" -le "$1" ] || dd if=/dev/zero of="$MNT/filler" bs=1K count=$(( avail - $1 )) \
    oflag=append conv=notrunc status=none 2>/dev/null || true
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
distinct() { # distinct N FILES...: every n in [0, N) present? prints "distinct duplicates missing"
  local n=$1; shift
  $PY - "$n" "$@" <<'PYEOF'
import json, sys, collections
n = int(sys.argv[1]); seen = collections.Counter()
for path in sys.argv[2:]:
    try:
        with open(path) as f:
            for line in f:
                seen[json.loads(line)["n"]] += 1
    except FileNotFoundError:
        pass
missing = sum(1 for i in range(n) if not seen[i])
print(len(seen), sum(c - 1 for c in seen.values()), missing)
PYEOF
}
# appender IN N: N lines, 500 every 0.1 s
appender() {
  $PY - "$1" "$2" <<'PYEOF' &
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "a") as f:
    for i in range(n):
        f.write('{"n":%d,"pad":"%s"}\n' % (i, "x" * 60))
        if i % 500 == 499:
            f.flush()
            time.sleep(0.1)
PYEOF
  APP=$!
}
# per_episode NAME LOG FAILED RECOVERED: every error line FAILED starts an episode that a
# RECOVERED line ends (no line per retry or per event); returns how many there were. Space
# that a rolled-back write gives back can end an episode early, so a few are allowed.
per_episode() {
  local f r
  f=$(grep -c "$3" "$2" || true)
  r=$(grep -c "$4" "$2" || true)
  [ "$f" = "$r" ] && [ "$f" -le 6 ] ||
    { grep "level=error\|again" "$2" | head -20; fail "$1: '$3' logged $f times, '$4' $r times"; }
  [ "$f" = 0 ] || ok "$1: logged once per episode ($f): $(grep -o "$3[^;\"]*" "$2" | head -1)"
  EPISODES=$f
}
# episode NAME PID PORT SINK OUT...: fill the disk under load, check the run holds back
# without spinning, free the space, check it recovers
episode() {
  local name=$1 pid=$2 port=$3 sink=$4
  shift 4
  sleep 1.5
  fill_leave "$LEAVE" # the load fills the rest: whichever write comes first fails
  sleep 1.5
  # from now on space that deleted buffer segments give back is taken again within 50 ms
  # (the writers retry after 100 ms or more), so the episode does not end early
  ( while [ ! -e "$T/fill.stop" ]; do fill; sleep 0.05; done ) &
  local filler=$!
  PIDS+=($filler) # killed by the exit trap if a check fails meanwhile
  local before t0 c0 c1
  before=$(count_lines $*) # the patterns are expanded now
  t0=$(date +%s.%N)
  c0=$(cpu_ticks "$pid")
  sleep 3
  c1=$(cpu_ticks "$pid")
  kill -0 "$pid" 2>/dev/null || fail "$name: sluice died on a full disk"
  local cpu=$(( c1 - c0 )) hz
  hz=$(getconf CLK_TCK)
  # a busy loop would take a core (3 s); polling and retries take a few ticks
  [ $cpu -lt $(( hz * 3 / 4 )) ] || fail "$name: $cpu CPU ticks in 3 s while the disk is full (spinning?)"
  ok "$name: the disk is full; sluice waits without spinning ($cpu ticks of CPU in 3 s, $before lines out)"
  local failing errors recs
  if [ "$EXPECT" = buffer ]; then # the buffer cannot write: input held back
    for _ in $(seq 30); do # an append that took space a deleted segment gave back clears it
      failing=$(metric sluice_buffer_write_failing "$sink" "$port")
      [ "${failing%.*}" = 1 ] && break
      sleep 0.1
    done
    errors=$(metric sluice_buffer_write_errors_total "$sink" "$port")
    [ "${failing%.*}" = 1 ] || fail "$name: sluice_buffer_write_failing is '$failing'"
    [ "${errors%.*}" -gt 0 ] || fail "$name: sluice_buffer_write_errors_total is '$errors'"
    ok "$name: /metrics shows it (sluice_buffer_write_failing 1, $errors write errors)"
  else # the sink cannot write: its buffer (elsewhere) takes the input
    errors=$(metric sluice_component_errors_total "$sink" "$port")
    recs=$(metric sluice_buffer_records "$sink" "$port")
    [ "${errors%.*}" -gt 0 ] || fail "$name: sluice_component_errors_total of $sink is '$errors'"
    [ "${recs%.*}" -gt 0 ] || fail "$name: sluice_buffer_records of $sink is '$recs'"
    ok "$name: /metrics shows it ($errors failed events; $recs batches wait in the disk buffer)"
  fi
  OUT_DURING=$(count_lines $*)
  [ "$OUT_DURING" -lt "$N" ] || fail "$name: the output was complete before space returned"
  touch "$T/fill.stop"
  wait $filler
  rm -f "$MNT/filler" "$T/fill.stop"
  ok "$name: space is back"
}

# ---- (a) a disk buffer on a full disk
N=30000
APIPORT=$(free_port)
cat > a.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  in: {type: file, path: a.json, mode: tail, start_at: beginning}
sinks:
  out:
    type: file
    inputs: [in]
    path: out-a.json
    buffer: {type: disk, path: $MNT/buf-a, max_size: 64MiB, segment_size: 256KiB}
YAML
: > a.json
$SLUICE run -c a.yaml --no-status 2> alog.txt &
apid=$!
PIDS+=($apid)
wait_port $APIPORT
appender a.json $N
LEAVE=0
EXPECT=buffer
episode "(a)" $apid $APIPORT out 'out-a.json*'
wait $APP
for _ in $(seq 300); do [ "$(count_lines out-a.json*)" -ge $N ] && break; sleep 0.1; done
kill -TERM $apid
wait $apid || { tail -20 alog.txt; fail "(a): exit status"; }
read -r got dups missing <<< "$(distinct $N out-a.json*)"
[ "$missing" = 0 ] || { tail -20 alog.txt; fail "(a): $missing of $N lines missing"; }
ok "(a) every line out after the disk was full: $got distinct, $dups duplicates"
# an error naming the segment and ENOSPC once per episode, and a line when it ended
per_episode "(a)" alog.txt "cannot write $MNT/buf-a/seg-[0-9a-f]*\.log: No space left on device" \
  "disk buffer $MNT/buf-a: writes succeed again after"
[ "$EPISODES" -ge 1 ] || { tail alog.txt; fail "(a): the full disk was not logged"; }

# ---- (b) buffer, output directory and checkpoints on the full disk
APIPORT=$(free_port)
mkdir -p "$MNT/out"
cat > b.yaml <<YAML
api: {listen: "127.0.0.1:$APIPORT"}
sources:
  in: {type: file, path: b.json, mode: tail, start_at: beginning, checkpoints: $MNT/ck-b.pos}
sinks:
  out:
    type: file
    inputs: [in]
    path: $MNT/out/out-b.json
    buffer: {type: disk, path: buf-b, max_size: 64MiB, segment_size: 256KiB}
YAML
: > b.json
$SLUICE run -c b.yaml --no-status 2> blog.txt &
bpid=$!
PIDS+=($bpid)
wait_port $APIPORT
appender b.json $N
LEAVE=200 # the output fills the rest
EXPECT=sink
episode "(b)" $bpid $APIPORT out "$MNT/out/out-b.json*"
wait $APP
for _ in $(seq 300); do [ "$(count_lines "$MNT"/out/out-b.json*)" -ge $N ] && break; sleep 0.1; done
# the checkpoint catches up with the input
size=$(stat -c %s b.json)
for _ in $(seq 50); do grep -q "^$size	" "$MNT/ck-b.pos" 2>/dev/null && break; sleep 0.1; done
grep -q "^$size	" "$MNT/ck-b.pos" || { cat "$MNT/ck-b.pos"; fail "(b): checkpoint is not at $size"; }
kill -TERM $bpid
wait $bpid || { tail -20 blog.txt; fail "(b): exit status"; }
read -r got dups missing <<< "$(distinct $N "$MNT"/out/out-b.json*)"
[ "$missing" = 0 ] || { tail -20 blog.txt; fail "(b): $missing of $N lines missing"; }
ok "(b) every line out: $got distinct, $dups duplicates; checkpoint at the end of the input"
# each part that hit the full disk says so once per episode, with its path
per_episode "(b) file sink" blog.txt "cannot write $MNT/out/out-b.json.tmp: No space left on device" \
  "writes to $MNT/out/out-b.json.tmp succeed again after"
per_episode "(b) sink writes" blog.txt 'msg="write failed for' 'msg="writes succeed again after'
[ "$EPISODES" -ge 1 ] || { grep level=error blog.txt; fail "(b): the sink's ENOSPC was not logged"; }
per_episode "(b) checkpoints" blog.txt "cannot write checkpoints $MNT/ck-b.pos: No space left" \
  "checkpoints $MNT/ck-b.pos saved again after"
[ "$EPISODES" -ge 1 ] || { grep level=error blog.txt; fail "(b): the checkpoint's ENOSPC was not logged"; }
ok "(b) $(grep -c "No space left on device" blog.txt) lines about the full disk in all"

# ---- (c) only the checkpoints on the full disk: the output flows, the checkpoint stays whole
cat > c.yaml <<YAML
sources:
  in: {type: file, path: c.json, mode: tail, start_at: beginning, checkpoints: $MNT/ck-c.pos}
sinks:
  out: {type: file, inputs: [in], path: out-c.json}
YAML
: > c.json
$SLUICE run -c c.yaml --no-status 2> clog.txt &
cpid=$!
PIDS+=($cpid)
appender c.json $N
sleep 1
fill
for _ in $(seq 100); do grep -q "cannot write checkpoints" clog.txt && break; sleep 0.1; done
grep -q "cannot write checkpoints $MNT/ck-c.pos: No space left on device" clog.txt ||
  { tail clog.txt; fail "(c): the failed checkpoint save was not logged"; }
saved=$(sed -n 2p "$MNT/ck-c.pos" | cut -f1)
head -1 "$MNT/ck-c.pos" | grep -q "^sluice-file-checkpoints 1$" && [ -n "$saved" ] ||
  { cat "$MNT/ck-c.pos"; fail "(c): the checkpoint file is not whole on a full disk"; }
[ ! -e "$MNT/ck-c.pos.tmp" ] || fail "(c): a temporary checkpoint file is left on the full disk"
wait $APP
# the output does not wait for the checkpoint
for _ in $(seq 300); do [ "$(count_lines out-c.json*)" -ge $N ] && break; sleep 0.1; done
expect_eq "(c) lines out while the checkpoints cannot be saved" "$(count_lines out-c.json*)" $N
ok "(c) the saved checkpoint stays at byte $saved while the disk is full"
rm -f "$MNT/filler"
size=$(stat -c %s c.json)
for _ in $(seq 50); do grep -q "^$size	" "$MNT/ck-c.pos" && break; sleep 0.1; done
grep -q "^$size	" "$MNT/ck-c.pos" || { cat "$MNT/ck-c.pos"; fail "(c): checkpoint did not catch up"; }
grep -q "checkpoints $MNT/ck-c.pos saved again after" clog.txt || fail "(c): no recovery line"
kill -TERM $cpid
wait $cpid || { tail -20 clog.txt; fail "(c): exit status"; }
n=$(grep -c "cannot write checkpoints" clog.txt || true)
expect_eq "(c) checkpoint errors logged for the episode" "$n" 1
ok "disk full"
