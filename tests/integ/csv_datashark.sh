#!/usr/bin/env bash
# csv sink, layout: datashark — the rows dataShark's out_csv.py wrote: the time of writing,
# key, score, then the metadata values sorted by key, through Python's csv.writer. The test
# writes the same records with Python's csv.writer (the time taken from our rows) and
# compares the files byte for byte; then checks the options (event time, utc, separator,
# metadata from the other fields) and the config errors.
source "$(dirname "$0")/lib/common.bash"

$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    for i in range(2000):
        md = {"twoxx": i * 3, "nxx": i % 5, "cluster": i % 2}
        if i % 7 == 0:
            md["note"] = 'a,b "quoted" %d' % i
        if i % 11 == 0:
            md["flag"] = (i % 22 == 0)
        if i % 13 == 0:
            md["ratio"] = i / 3.0
        if i % 17 == 0:
            md["missing"] = None
        if i % 19 == 0:
            md["\u00e9t\u00e9"] = "\u00fcnicode \u20ac"
        score = float(i) if i % 3 else i / 8.0
        f.write(json.dumps({"key": "10.0.%d.%d" % (i // 256, i % 256), "score": score,
                            "metadata": md}) + "\n")
    # score as an integer, key as a number, no metadata at all
    f.write(json.dumps({"key": 42, "score": 7, "metadata": {}}) + "\n")
PYEOF

cat > p.yaml <<'YAML'
sources:
  recs: {type: file, path: [in.json]}
sinks:
  usecase: {type: csv, inputs: [recs], layout: datashark, path: out/UseCase.csv}
YAML
START=$(date +%s)
timeout 60 $SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run"; }
END=$(date +%s)

$PY - $START $END <<'PYEOF' || fail "rows differ from dataShark's"
import csv, io, json, sys, time
start, end = int(sys.argv[1]), int(sys.argv[2])
ours = open("out/UseCase.csv", "rb").read()
rows = list(csv.reader(io.StringIO(ours.decode("utf-8"), newline="")))
recs = [json.loads(l) for l in open("in.json", encoding="utf-8")]
assert len(rows) == len(recs), (len(rows), len(recs))
# dataShark's out_csv.py, with the time we wrote (local time, "%Y-%m-%d %H:%M:%S")
buf = io.StringIO(newline="")
w = csv.writer(buf, delimiter=",", quotechar='"', quoting=csv.QUOTE_MINIMAL)
for r, row in zip(recs, rows):
    t = time.mktime(time.strptime(row[0], "%Y-%m-%d %H:%M:%S"))
    assert start - 1 <= t <= end + 1, (row[0], start, end)
    out = [row[0], r["key"], r["score"]]
    md = r["metadata"]
    for k in sorted(md):
        out.append(md[k])
    w.writerow(out)
want = buf.getvalue().encode("utf-8")
if ours != want:
    a, b = ours.split(b"\r\n"), want.split(b"\r\n")
    for x, y in zip(a, b):
        if x != y:
            print("ours:", x[:200]); print("want:", y[:200]); break
    sys.exit(1)
print("ok: %d rows byte-identical to Python's csv.writer" % len(rows))
PYEOF
ok "layout: datashark = dataShark's out_csv.py rows"

# event time in UTC with microseconds, a tab separator, metadata from the other fields
printf '%s\n' '{"ip":"a","d":2.5,"z":1,"b":"x y","m":true}' '{"ip":"b","d":0.1,"c":null}' > flat.json
cat > p2.yaml <<'YAML'
sources:
  recs: {type: file, path: [flat.json]}
sinks:
  t:
    type: csv
    inputs: [recs]
    layout: datashark
    path: flat.tsv
    separator: "\t"
    key_field: ip
    score_field: d
    metadata_field: nothing_here
    timestamp_source: event
    timestamp_format: "%Y-%m-%dT%H:%M:%S.%fZ"
    timezone: utc
YAML
timeout 60 $SLUICE run -c p2.yaml --once --no-status 2> log2.txt || { cat log2.txt; fail "run 2"; }
$PY - <<'PYEOF' || fail "flat rows"
import re
rows = open("flat.tsv", "rb").read().decode().split("\r\n")
assert rows[-1] == "", rows
a = rows[0].split("\t"); b = rows[1].split("\t")
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", a[0]), a
assert a[1:] == ["a", "2.5", "x y", "True", "1"], a     # b, m, z sorted
assert b[1:] == ["b", "0.1", ""], b                      # c: None -> empty
print("ok: flat rows", a[1:], b[1:])
PYEOF
ok "key_field, score_field, metadata from the other fields, event time, tab"

# config errors: columns with layout datashark; no columns without it
cat > bad.yaml <<'YAML'
sources:
  recs: {type: file, path: [in.json]}
sinks:
  x: {type: csv, inputs: [recs], layout: datashark, path: x.csv, columns: [a]}
YAML
if $SLUICE check -c bad.yaml > bad.txt 2>&1; then fail "columns with layout: datashark accepted"; fi
grep -q "columns with layout: datashark" bad.txt || { cat bad.txt; fail "error message"; }
grep -q "bad.yaml:4:" bad.txt || { cat bad.txt; fail "error position"; }
cat > bad2.yaml <<'YAML'
sources:
  recs: {type: file, path: [in.json]}
sinks:
  x: {type: csv, inputs: [recs], path: x.csv}
YAML
if $SLUICE check -c bad2.yaml > bad2.txt 2>&1; then fail "csv without columns accepted"; fi
grep -q "no columns" bad2.txt || { cat bad2.txt; fail "error message 2"; }
ok "config errors"
