#!/usr/bin/env bash
# bench_kmeans — k-means fit time and scoring throughput, sluice (state/kmeans.c through
# kmeans_tool, one thread; the fit also with 2 threads) against python3-sklearn's KMeans in the same run, on the same data
# (n points x 8 features, 8..16 Gaussian blobs) from the same initial centres, so both run the
# same Lloyd iterations (the iteration counts are printed and must agree). Scoring is the
# distance to the nearest centre: sluice's sl_kmeans_score_many vs sklearn's
# km.transform(X).min(axis=1). sklearn runs with its default threads (OpenMP, all cores) and
# with OMP_NUM_THREADS=1. Times are the best of REPEAT runs. Prints one line per case:
#   kmeans n=... d=8 k=... iters=... sluice_fit_s=... sklearn_fit_s=... fit_ratio=...
#          sluice_score_pps=... sklearn_score_pps=... score_ratio=... sklearn_threads=...
# Usage: bench/bench_kmeans.sh [BUILD_DIR]   (a release build: cmake -DCMAKE_BUILD_TYPE=Release)
# Env: SIZES="100000 1000000" KS="8 16" REPEAT=3 LINES=1000000 (0: skip the pipeline case)
#      SLUICE=path of a release sluice (default BUILD_DIR/sluice)
set -euo pipefail
BUILD=${1:-${SL_BUILD:-build/release}}
TOOL=$BUILD/kmeans_tool
[ -x "$TOOL" ] || { echo "no $TOOL: build the kmeans_tool target in a release build" >&2; exit 1; }
PY=/usr/bin/python3
SIZES=${SIZES:-"100000 1000000"}
KS=${KS:-"8 16"}
REPEAT=${REPEAT:-3}
T=$(mktemp -d /tmp/bench-kmeans.XXXXXX)
trap 'rm -rf "$T"' EXIT

$PY - <<'PYEOF'
import sklearn, numpy, os
try:
    from threadpoolctl import threadpool_info
    pools = ", ".join("%s(%s) %d threads" % (p["internal_api"], p.get("prefix", ""), p["num_threads"])
                      for p in threadpool_info())
except Exception as e:
    pools = "threadpoolctl unavailable: %s" % e
print("# sklearn %s, numpy %s, OMP_NUM_THREADS=%s, cpus %d; pools: %s" % (
    sklearn.__version__, numpy.__version__, os.environ.get("OMP_NUM_THREADS", "unset"),
    os.cpu_count(), pools))
PYEOF
echo "# sluice: $TOOL (single thread), $(uname -m), $(nproc) cpus"

for n in $SIZES; do
  for k in $KS; do
    $PY - "$T" "$n" "$k" <<'PYEOF'
import sys, numpy as np
t, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(n + k)
c = rng.uniform(-10, 10, size=(k, 8))
X = c[rng.integers(0, k, n)] + rng.normal(0, 3, size=(n, 8))
X.tofile(t + "/x.f64")
X[rng.choice(n, k, replace=False)].tofile(t + "/c.f64")
PYEOF
    ours=$("$TOOL" --data "$T/x.f64" --dim 8 --k "$k" --init "$T/c.f64" --repeat "$REPEAT")
    ours2=$("$TOOL" --data "$T/x.f64" --dim 8 --k "$k" --init "$T/c.f64" --repeat "$REPEAT" --threads 2)
    $PY -c 'import json, sys; o = json.loads(sys.argv[1]); print("kmeans n=%d d=8 k=%d sluice_threads=2 iters=%d sluice_fit_s=%.4f" % (o["points"], o["k"], o["iterations"], o["fit_s"]))' "$ours2"
    for threads in default 1; do
      if [ $threads = 1 ]; then env="OMP_NUM_THREADS=1"; else env="_BENCH=1"; fi
      env $env $PY - "$T" "$k" "$REPEAT" "$ours" "$threads" <<'PYEOF'
import sys, time, json, warnings, numpy as np
from sklearn.cluster import KMeans
t, k, rep, ours, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
X = np.fromfile(t + "/x.f64").reshape(-1, 8); C = np.fromfile(t + "/c.f64").reshape(-1, 8)
fit = score = 1e300
for _ in range(rep):
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, init=C, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=300).fit(X)
    fit = min(fit, time.perf_counter() - t0)
    t0 = time.perf_counter()
    km.transform(X).min(axis=1)
    score = min(score, time.perf_counter() - t0)
pps = len(X) / score
print("kmeans n=%d d=8 k=%d iters=%d/%d sluice_fit_s=%.4f sklearn_fit_s=%.4f fit_ratio=%.2f "
      "sluice_score_pps=%.0f sklearn_score_pps=%.0f score_ratio=%.2f sklearn_threads=%s" % (
      len(X), k, ours["iterations"], km.n_iter_, ours["fit_s"], fit, fit / ours["fit_s"],
      ours["score_per_s"], pps, ours["score_per_s"] / pps, threads))
PYEOF
    done
  done
done

# ---- the web anomaly use case end to end: Apache lines -> pattern -> per-IP (twoxx, nxx) ->
# score, sluice's kmeans transform (`run --once`, file source, null sink) against the same
# steps in plain Python (dataShark's web-anomaly-detection.py logic without Spark: re.match
# per line, sums per IP, sklearn predict + distance), on LINES lines from 5,000 clients.
SLUICE_BIN=${SLUICE:-$BUILD/sluice}
LINES=${LINES:-1000000}
if [ -x "$SLUICE_BIN" ] && [ "$LINES" -gt 0 ]; then
  $PY - "$T" "$LINES" <<'PYEOF'
import sys, random
t, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
codes = [200] * 17 + [304, 404, 500]
with open(t + "/train.log", "w") as f:
    for i in range(200000):
        f.write('10.%d.%d.%d - - [05/Dec/2024:12:00:00 +0000] "GET /p%d HTTP/1.1" %d 512\n' % (
            i % 7, i % 5000 // 100, i % 100, i % 50, codes[i % 20]))
with open(t + "/access.log", "w") as f:
    for i in range(n):
        f.write('10.%d.%d.%d - - [05/Dec/2024:12:00:00 +0000] "GET /p%d HTTP/1.1" %d 512\n' % (
            random.randrange(7), random.randrange(50), random.randrange(100), i % 50, random.choice(codes)))
PYEOF
  cat > "$T/p.yaml" <<YAML
sources:
  access: {type: file, path: [$T/access.log], format: lines}
transforms:
  web_anomaly:
    type: kmeans
    inputs: [access]
    pattern: '^(?P<source>.+?) .*?\[.+?\] ".+?" (?P<response_code>\d+) '
    key: source
    features:
      twoxx: "sum(response_code >= 200 && response_code < 300)"
      nxx: "sum(response_code >= 500)"
    training: $T/train.log
sinks:
  out: {type: null, inputs: [web_anomaly]}
YAML
  best=1e300
  for _ in $(seq "$REPEAT"); do
    s=$(date +%s.%N)
    "$SLUICE_BIN" run -c "$T/p.yaml" --once --no-status 2> "$T/log.txt" || { cat "$T/log.txt"; exit 1; }
    e=$(date +%s.%N)
    best=$($PY -c "print(min($best, $e - $s))")
  done
  OMP_NUM_THREADS=1 $PY - "$T" "$LINES" "$best" "$REPEAT" <<'PYEOF'
import sys, re, time, numpy as np
from sklearn.cluster import KMeans
t, n, ours, rep = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
pat = re.compile(r'(?P<source>.+?) .*?\[.+?\] ".+?" (?P<response_code>\d+) ')
def vectors(path):
    acc = {}
    for line in open(path):
        m = pat.match(line)
        if not m:
            continue
        c = int(m.group("response_code"))
        v = acc.setdefault(m.group("source"), [0, 0])
        v[0] += 200 <= c < 300
        v[1] += c >= 500
    return acc
best = 1e300
for _ in range(rep):
    t0 = time.perf_counter()
    tr = vectors(t + "/train.log")
    km = KMeans(n_clusters=2, n_init=1, random_state=0).fit(np.array(list(tr.values()), float))
    st = vectors(t + "/access.log")
    X = np.array(list(st.values()), float)
    km.transform(X).min(axis=1)
    best = min(best, time.perf_counter() - t0)
print("kmeans_pipeline lines=%d keys=%d sluice_s=%.3f sluice_lines_per_s=%.0f python_s=%.3f "
      "python_lines_per_s=%.0f ratio=%.2f (sluice: whole process incl. start-up and training; "
      "python: OMP_NUM_THREADS=1)" % (n, len(st), ours, n / ours, best, n / best, best / ours))
PYEOF
fi
