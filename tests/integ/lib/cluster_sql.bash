# Shared by the cluster_sql*.sh tests (sourced after common.bash): librdkafka's mock cluster and
# the final value of each (key, window) a node's output files hold.
KT=${SL_BUILD:?}/kafkatool
[ -x "$KT" ] || fail "no $KT"

# mock_start ARGS...: a mock cluster (kafkatool mock ARGS, e.g. -t in:6; it has no
# CreateTopics, so every topic is named here) that lives until the test ends; B is its bootstrap
mock_start() {
  mkfifo mock.in
  sleep 100000 >mock.in &
  PIDS+=($!)
  "$KT" mock "$@" <mock.in >boot.txt 2>mock.err &
  PIDS+=($!)
  for _ in $(seq 50); do [ -s boot.txt ] && break; sleep 0.1; done
  B=$(cat boot.txt)
  [ -n "$B" ] || fail "mock cluster did not start: $(cat mock.err)"
}

# finals FILES...: "key window n total" per (key, window), the row with the largest count
# (EMIT CHANGES writes every update; a killed node's rows are a prefix of the windows' records)
finals() {
  $PY - "$@" <<'PYEOF'
import json, sys
best = {}
for f in sys.argv[1:]:
    try:
        lines = open(f).read().split("\n")
    except OSError:
        continue
    for l in lines:
        try:
            e = json.loads(l)
        except ValueError:
            continue  # the last line of a killed node's file
        k = (e["KEY"], e["@sql.windowstart"])
        if k not in best or e["N"] > best[k][0]:
            best[k] = (e["N"], e["TOTAL"])
for k in sorted(best):
    print(k[0], k[1], best[k][0], best[k][1])
PYEOF
}

# rows FILES...: the lines they hold (none when they do not exist yet)
rows() { { cat "$@" 2>/dev/null || true; } | wc -l; }

# three_nodes_kill_n2 TOPIC...: n1, n2 and n3 run node.yaml (output b-<node>.json); once n2
# checkpointed a task, records HALF..N-1 are produced to each TOPIC and n2 is killed (kill -9)
# while it reads them (KILL_AFTER rows in, default 300). Sets N1 and N3 (the survivors' pids), n2_before and
# n2_rows (n2's rows before the second half and at the kill), l1 and l3 (the survivors' log
# lines at the kill).
three_nodes_kill_n2() {
  local t pids=() i
  for i in 1 2 3; do
    NODE=n$i "$SLUICE" run -c node.yaml >"n$i.log" 2>&1 &
    PIDS+=($!)
    eval "N$i=$!"
  done
  for _ in $(seq 600); do
    grep -q "checkpoint k:[0-9]*/6: generation" n2.log 2>/dev/null && break
    sleep 0.1
  done
  grep -q "checkpoint k:" n2.log || fail "n2 wrote no checkpoint: $(tail -5 n2.log)"
  sleep 1
  n2_before=$(rows b-n2.json*)
  for t in "$@"; do
    "$KT" produce -B "$B" -t "$t" -n $((N - HALF)) -f $HALF -k 24 -s 60 2>/dev/null &
    pids+=($!)
  done
  for _ in $(seq 600); do
    [ "$(rows b-n2.json*)" -gt $((n2_before + ${KILL_AFTER:-300})) ] && break
    sleep 0.02
  done
  kill -9 "$N2"
  n2_rows=$(rows b-n2.json*)
  wait "${pids[@]}"
  [ "$n2_rows" -gt $((n2_before + ${KILL_AFTER:-300})) ] || fail "n2 read nothing of the second half"
  l1=$(wc -l <n1.log)
  l3=$(wc -l <n3.log)
}
