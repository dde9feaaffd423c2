#!/usr/bin/env bash
# k-means parity with python3-sklearn (KMeans(init=centres, n_init=1, algorithm="lloyd")):
# the same data and initial centres give the same centres (1e-6 relative), the same number
# of iterations, inertia and scores (distance to the nearest centre), without and with
# standard scaling (StandardScaler), through state/kmeans.c (kmeans_tool) and through the
# kmeans transform's training (features aggregated from JSON lines, model_out). k-means++
# with a seed clusters well-separated blobs exactly, and is deterministic; two threads give
# the same clustering.
source "$(dirname "$0")/lib/common.bash"
TOOL=${SL_BUILD:-$(dirname "$SLUICE")}/kmeans_tool
[ -x "$TOOL" ] || fail "kmeans_tool not built ($TOOL)"

$PY - <<'PYEOF'
import numpy as np, json
rng = np.random.default_rng(3)
# 5 overlapping blobs in 6 dimensions with very different feature scales
k, d, n = 5, 6, 4000
centres = rng.normal(0, 4, size=(k, d))
X = centres[rng.integers(0, k, n)] + rng.normal(0, 2.5, size=(n, d))
X *= np.array([1, 10, 0.1, 1000, 1, 3])
X[:, 4] = np.abs(X[:, 4]).round()          # a count-like feature
X.tofile("x.f64")
Y = X[:500] * 1.3 + 1                       # unseen points to score
Y.tofile("y.f64")
C = X[rng.choice(n, k, replace=False)] + 0.01
C.tofile("c.f64")
with open("train.json", "w") as f:          # the same points as events for the transform
    for i, row in enumerate(X):
        f.write(json.dumps({"id": i, **{"f%d" % j: float(v) for j, v in enumerate(row)}}) + "\n")
json.dump(C.tolist(), open("c.json", "w"))
PYEOF

check() { # check NAME SCALE(0|1) MODEL SCORES
  $PY - "$@" <<'PYEOF'
import sys, json, numpy as np, warnings
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
name, scale, model, scores = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
d = 6
X = np.fromfile("x.f64").reshape(-1, d); Y = np.fromfile("y.f64").reshape(-1, d)
C = np.fromfile("c.f64").reshape(-1, d)
if scale:
    sc = StandardScaler().fit(X)
    X, Y, C = sc.transform(X), sc.transform(Y), sc.transform(C)
km = KMeans(n_clusters=len(C), init=C, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=300).fit(X)
m = json.load(open(model))
ours = np.array(m["centres"])
rel = np.abs(ours - km.cluster_centers_).max() / np.abs(km.cluster_centers_).max()
assert rel < 1e-6, (name, "centres differ", rel)
if scale:
    assert np.allclose(m["mean"], sc.mean_, rtol=1e-9) and np.allclose(m["std"], sc.scale_, rtol=1e-9)
assert m["training"]["iterations"] == km.n_iter_, (name, m["training"]["iterations"], km.n_iter_)
assert abs(m["training"]["inertia"] - km.inertia_) <= 1e-6 * km.inertia_, (name, m["training"]["inertia"], km.inertia_)
if scores != "-":
    want = km.transform(Y).min(axis=1)
    got = np.fromfile(scores)
    srel = (np.abs(got - want) / np.maximum(want, 1e-12)).max()
    assert srel < 1e-6, (name, "scores differ", srel)
else:
    srel = float("nan")
print("ok: %s: centres rel %.2e, scores rel %.2e, %d iterations, inertia %.6g" % (name, rel, srel, km.n_iter_, km.inertia_))
PYEOF
}

"$TOOL" --data x.f64 --dim 6 --k 5 --init c.f64 --model m.json --score y.f64 --scores s.f64 > r.json
check "given centres" 0 m.json s.f64 || fail "parity, no scaling"
"$TOOL" --data x.f64 --dim 6 --k 5 --init c.f64 --scale --model ms.json --score y.f64 --scores ss.f64 > rs.json
check "given centres, standard scaling" 1 ms.json ss.f64 || fail "parity, scaling"

# the same through the transform: one key per point, features sum(f_j), init: centres
for scale in none standard; do
  cat > p.yaml <<YAML
sources:
  in: {type: file, path: [y.json], format: json}
transforms:
  km:
    type: kmeans
    inputs: [in]
    key: id
    features: {f0: "sum(f0)", f1: "sum(f1)", f2: "sum(f2)", f3: "sum(f3)", f4: "sum(f4)", f5: "sum(f5)"}
    k: 5
    init: centres
    centres: $(cat c.json)
    scale: $scale
    training: train.json
    training_format: json
    model_out: t_$scale.json
sinks:
  out: {type: file, inputs: [km], path: out_$scale.json}
YAML
  $PY -c '
import json, numpy as np
Y = np.fromfile("y.f64").reshape(-1, 6)
with open("y.json", "w") as f:
    for i, row in enumerate(Y):
        f.write(json.dumps({"id": i, **{"f%d" % j: float(v) for j, v in enumerate(row)}}) + "\n")'
  $SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "transform run ($scale)"; }
  # the transform's records in id order -> scores file
  $PY -c '
import json, numpy as np, sys
recs = sorted((json.loads(l) for l in open("out_'$scale'.json")), key=lambda r: int(r["key"]))
assert len(recs) == 500, len(recs)
np.array([r["score"] for r in recs]).tofile("ts_'$scale'.f64")'
  check "transform, scale $scale" $([ $scale = standard ] && echo 1 || echo 0) t_$scale.json ts_$scale.f64 ||
    fail "transform parity ($scale)"
done

# k-means++ with a seed: well-separated blobs are found exactly, the same for the same seed
$PY - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(11)
k, d = 8, 4
centres = rng.uniform(-100, 100, size=(k, d))
lab = rng.integers(0, k, 40000)
X = centres[lab] + rng.normal(0, 1, size=(len(lab), d))
X.tofile("b.f64"); lab.astype(np.int32).tofile("b_true.i32")
PYEOF
"$TOOL" --data b.f64 --dim 4 --k 8 --seed 5 --model b1.json --labels b1.i32 > b1.txt
"$TOOL" --data b.f64 --dim 4 --k 8 --seed 5 --model b2.json > b2.txt
cmp b1.json b2.json || fail "k-means++ not deterministic for a seed"
"$TOOL" --data b.f64 --dim 4 --k 8 --seed 5 --threads 2 --model b3.json --labels b3.i32 > b3.txt
cmp b1.i32 b3.i32 || fail "2 threads: other labels"
$PY -c '
import json, numpy as np
a, b = (np.array(json.load(open(f))["centres"]) for f in ("b1.json", "b3.json"))
assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max(), np.abs(a - b).max()' || fail "2 threads: other centres"
ok "2 threads: the same labels, centres within 1e-9"
$PY - <<'PYEOF' || fail "k-means++ on blobs"
import numpy as np, json
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
X = np.fromfile("b.f64").reshape(-1, 4)
truth = np.fromfile("b_true.i32", dtype=np.int32)
ours = np.fromfile("b1.i32", dtype=np.int32)
ari = adjusted_rand_score(truth, ours)
sk = KMeans(n_clusters=8, init="k-means++", n_init=10, random_state=0, algorithm="lloyd").fit(X)
mine = json.load(open("b1.json"))["training"]["inertia"]
assert ari == 1.0, ari
assert mine <= sk.inertia_ * 1.0001, (mine, sk.inertia_)
print("ok: k-means++ seed 5: ARI %.4f, inertia %.6g (sklearn n_init=10: %.6g)" % (ari, mine, sk.inertia_))
PYEOF
