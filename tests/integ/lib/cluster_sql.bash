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
rows() { cat "$@" 2>/dev/null | wc -l; }
