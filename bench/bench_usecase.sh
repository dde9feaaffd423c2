#!/usr/bin/env bash
# bench_usecase.sh — dataShark's wordcount use case through `sluice usecase run` (the shipped
# examples/usecases/wordcount .conf and transforms, over a larger text) against the same
# steps in Python in the same run: split(), lower(), count, dataShark's CSV rows
# (csv.writer: time, word, count). No Spark here: Python is the floor a PySpark job cannot beat
# on one core (its workers run this same Python per record, plus serialisation).
#   bash bench/bench_usecase.sh [BUILD_DIR=build/release] [LINES=1000000]
# Prints:
#   bench=usecase_wordcount impl=sluice lines=N bytes=B words=W seconds=S lines_per_s=R
#   bench=usecase_wordcount impl=python ...
#   bench=usecase_wordcount ratio=X   (python seconds / sluice seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}; N=${2:-1000000}
SLUICE=$PWD/$dir/sluice
SRC=$PWD/examples/usecases/wordcount
PY=/usr/bin/python3
T=$(mktemp -d /tmp/sluice-bench-uc.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
cp "$SRC/wordcount.yaml" .
sed -e "s|/tmp/usecase1.csv|$T/sluice.csv|" -e "s|^file = .*|file = big.txt|" \
  "$SRC/wordcount.conf" > wordcount.conf
$PY - "$N" "$SRC/wordcount.txt" <<'PYEOF'
import random, sys
random.seed(1)
n = int(sys.argv[1])
words = open(sys.argv[2]).read().split()
# a larger vocabulary than the sample: its words with a number on some of them
vocab = words + ["%s%d" % (random.choice(words), i) for i in range(20000)]
with open("big.txt", "w") as f:
    for _ in range(n):
        f.write(" ".join(random.choice(vocab).capitalize() if random.random() < 0.1
                         else random.choice(vocab) for _ in range(random.randint(4, 14))) + "\n")
PYEOF
bytes=$(stat -c %s big.txt)
cat > wc.py <<'PYEOF'
import csv, sys
from datetime import datetime
counts = {}
with open("big.txt") as f:
    for line in f:
        for w in line.split():
            w = w.lower()
            counts[w] = counts.get(w, 0) + 1
with open("python.csv", "a", newline="") as out:
    wr = csv.writer(out, delimiter=",", quotechar='"', quoting=csv.QUOTE_MINIMAL)
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    for w, c in counts.items():
        wr.writerow([now, w, c])
PYEOF
t0=$(date +%s.%N)
$SLUICE usecase run wordcount.conf --no-status --log-level warn 2> sluice.err || { cat sluice.err; exit 1; }
t1=$(date +%s.%N)
$PY wc.py
t2=$(date +%s.%N)
ws=$(wc -l < sluice.csv)
wp=$(wc -l < python.csv)
[ "$ws" = "$wp" ] || { echo "bench=usecase_wordcount ERROR: sluice $ws words, python $wp"; exit 1; }
$PY - "$t0" "$t1" "$t2" "$N" "$bytes" "$ws" <<'PYEOF'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
n, b, w = sys.argv[4], int(sys.argv[5]), sys.argv[6]
s, p = t1 - t0, t2 - t1
print("bench=usecase_wordcount impl=sluice lines=%s bytes=%d words=%s seconds=%.3f lines_per_s=%.0f" % (n, b, w, s, int(n) / s))
print("bench=usecase_wordcount impl=python lines=%s bytes=%d words=%s seconds=%.3f lines_per_s=%.0f" % (n, b, w, p, int(n) / p))
print("bench=usecase_wordcount ratio=%.2f" % (p / s))
PYEOF
