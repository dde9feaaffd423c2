#!/usr/bin/env bash
# dataShark's wordcount (split on whitespace, lower-case, count per word, batch) end to end:
# `sluice run --once` (file -> aggregate -> csv) against the same count in Python
# (collections.Counter over str.split() / lower(), what the PySpark job computes) and
# tr | sort | uniq -c, on ~29 MB of GPL-3 words (dataShark's own wordcount.txt is the GPL-3
# text). Checks nothing but that the counts are equal; prints seconds (best of 3).
#
#   bash bench/wordcount_vs_python.sh [BUILD_DIR (default build/release)] [LINES (600000)]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build/release}" && pwd)
LINES=${2:-600000}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/sluice-wc.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
TEXT=/usr/share/common-licenses/GPL-3
[ -r "$TEXT" ] || { echo "# no $TEXT: skipped"; exit 0; }
$PY - "$TEXT" "$LINES" <<'PYEOF'
import random, sys
random.seed(1)
w = open(sys.argv[1]).read().split()
with open("big.txt", "w") as out:
    for i in range(int(sys.argv[2])):
        out.write(" ".join(random.choice(w) for _ in range(random.randint(0, 16))) + "\n")
PYEOF
cat > wc.yaml <<'YAML'
sources:
  text: {type: file, path: big.txt, format: lines}
transforms:
  words:
    type: aggregate
    inputs: [text]
    split: message
    split_as: word
    lowercase: true
    group_by: {word: "word"}
    window: batch
sinks:
  out: {type: csv, inputs: [words], path: wc.csv, columns: [word, count]}
YAML
best() { # best of 3 wall seconds of "$@"
  local b=999
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
    b=$(echo "$t1 $t0 $b" | awk '{d=$1-$2; print (d<$3)?d:$3}')
  done
  echo "$b"
}
run_sluice() { rm -f wc.csv; "$BUILD/sluice" run -c wc.yaml --once --no-status; }
run_python() { $PY -c "
import collections
c = collections.Counter()
for l in open('big.txt'):
    c.update(x.lower() for x in l.split())
print(len(c))"; }
run_sort() { tr -s ' \t' '\n\n' < big.txt | grep -v '^$' | tr 'A-Z' 'a-z' | LC_ALL=C sort | uniq -c; }
ts=$(best run_sluice); tp=$(best run_python); tu=$(best run_sort)
$PY - <<'PYEOF'
import collections, csv
c = collections.Counter()
for l in open("big.txt"):
    c.update(x.lower() for x in l.split())
g = {r[0]: int(r[1]) for r in csv.reader(open("wc.csv")) if r != ["word", "count"]}
print("# counts equal:", g == dict(c), "distinct", len(g), "tokens", sum(g.values()))
PYEOF
MB=$(du -m big.txt | cut -f1)
echo "# wordcount, $LINES lines, ${MB} MB, best of 3, $(nproc) cores; Python $($PY -c 'import sys; print(sys.version.split()[0])')"
echo "bench=wordcount impl=sluice seconds=$ts"
echo "bench=wordcount impl=python_counter seconds=$tp"
echo "bench=wordcount impl=tr_sort_uniq seconds=$tu"
echo "bench=wordcount ratio_python_over_sluice=$(echo "$tp $ts" | awk '{printf "%.1f", $1/$2}')"
