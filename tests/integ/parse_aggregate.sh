#!/usr/bin/env bash
# parse + aggregate end to end with `sluice run --once`:
#  1. an Apache access log (written here, with bad lines) parsed with %{COMBINEDAPACHELOG} into
#     typed fields, bad lines to parse.errors with the reason, then per client IP per 60 s
#     tumbling window (event time from the log): hits, 2xx, 5xx, bytes, distinct paths,
#     checked against the same figures computed in Python with its own regex;
#  2. dataShark's wordcount (file -> split on whitespace -> lower-case -> count, batch),
#     checked against tr | sort | uniq -c.
source "$(dirname "$0")/lib/common.bash"

# ---- 1. access log
$PY - <<'PYEOF'
import random
random.seed(7)
ips = ["10.0.0.%d" % i for i in range(1, 6)] + ["2001:db8::%x" % i for i in range(1, 3)]
paths = ["/", "/index.html", "/login", "/api/v1/items?id=%d", "/static/app.js"]
codes = [200, 200, 200, 201, 304, 404, 500, 503]
lines = []
base = 1700000000  # 2023-11-14T22:13:20Z
for i in range(400):
    t = base + random.randint(0, 299)
    ts = __import__("time").strftime("%d/%b/%Y:%H:%M:%S +0000", __import__("time").gmtime(t))
    p = random.choice(paths)
    if "%d" in p:
        p = p % random.randint(1, 9)
    size = random.choice(["-", str(random.randint(0, 50000))])
    lines.append('%s - %s [%s] "%s %s HTTP/1.1" %d %s "%s" "%s"' % (
        random.choice(ips), random.choice(["-", "alice", "bob"]), ts,
        random.choice(["GET", "POST"]), p, random.choice(codes), size,
        random.choice(["-", "http://example.com/start"]),
        random.choice(["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.1", "-"])))
    if i % 97 == 13:
        lines.append("garbage %d that is not a log line" % i)
    if i % 131 == 7:
        lines.append('10.9.9.9 - - [14/Nov/2023:22:15:00 +0000] "GET / HTTP/1.1" 200 12')  # no referrer/agent
open("access.log", "w").write("\n".join(lines) + "\n")
PYEOF

cat > p.yaml <<'YAML'
sources:
  logs: {type: file, path: access.log, format: lines}
transforms:
  access:
    type: parse
    inputs: [logs]
    format: grok
    pattern: "%{COMBINEDAPACHELOG}"
    types: {response: int, bytes: int, clientip: ip, timestamp: "timestamp:%d/%b/%Y:%H:%M:%S %z"}
    event_time: timestamp
    keep_source: false
  per_ip:
    type: aggregate
    inputs: [access]
    group_by: {ip: "clientip"}
    window: tumbling
    size: 60s
    allowed_lateness: 10m
    aggregates:
      hits: "count()"
      twoxx: "sum(response >= 200 && response < 300)"
      nxx: "sum(response >= 500 ? 1 : 0)"
      bytes: "sum(bytes)"
      paths: "distinct(request)"
sinks:
  out: {type: file, inputs: [per_ip], path: out.json}
  bad: {type: file, inputs: [access.errors], path: bad.json}
YAML
$SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "sluice run (access log)"; }
$PY - <<'PYEOF' || fail "access log aggregates"
import json, re, collections, calendar, time, ipaddress
rx = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) HTTP/([0-9.]+)" (\d+) (\d+|-) "([^"]*)" "([^"]*)"$')
want = collections.defaultdict(lambda: {"hits": 0, "twoxx": 0, "nxx": 0, "bytes": 0, "paths": set()})
bad = 0
for line in open("access.log"):
    m = rx.match(line.rstrip("\n"))
    if not m:
        bad += 1
        continue
    t = calendar.timegm(time.strptime(m.group(4), "%d/%b/%Y:%H:%M:%S +0000"))
    ws = t // 60 * 60
    ip = str(ipaddress.ip_address(m.group(1)))
    g = want[(ip, ws)]
    g["hits"] += 1
    code = int(m.group(8))
    g["twoxx"] += 200 <= code < 300
    g["nxx"] += code >= 500
    if m.group(9) != "-":
        g["bytes"] += int(m.group(9))  # a sum of no values is 0
    g["paths"].add(m.group(6))
got = {}
for line in open("out.json"):
    r = json.loads(line)
    ws = calendar.timegm(time.strptime(r["window_start"][:19], "%Y-%m-%dT%H:%M:%S"))
    we = calendar.timegm(time.strptime(r["window_end"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert we - ws == 60, r
    key = (r["ip"], ws)
    assert key not in got, ("twice", key)
    got[key] = r
assert set(got) == set(want), (sorted(set(got) ^ set(want))[:5])
for k, w in want.items():
    r = got[k]
    for f in ("hits", "twoxx", "nxx", "bytes"):
        assert r.get(f) == w[f], (k, f, r.get(f), w[f])
    assert r["paths"] == len(w["paths"]), (k, r["paths"], len(w["paths"]))
errs = [json.loads(l) for l in open("bad.json")]
assert len(errs) == bad, (len(errs), bad)
for e in errs:
    assert "grok pattern 1 of 1 (%{COMBINEDAPACHELOG}): no match" in e["error"], e
    assert "stops at byte" in e["error"] or "ends before" in e["error"], e
print("groups", len(want), "bad lines", bad, "events", sum(w["hits"] for w in want.values()))
PYEOF
ok "access log: typed grok fields, bad lines in .errors, per-IP 60 s windows agree with Python"

# ---- 2. wordcount (dataShark's use case 1)
$PY - <<'PYEOF'
import random
random.seed(11)
words = ["The", "the", "THE", "quick", "brown", "Fox", "fox", "jumps", "over", "lazy", "dog",
         "Dog", "licence", "GNU", "gnu", "free", "software", "Freedom", "copy", "it's", "(c)",
         "program.", "program", "e-mail", "42", "x"]
out = []
for i in range(3000):
    n = random.randint(0, 14)
    sep = lambda: random.choice([" ", " ", "  ", "\t", " \t "])
    out.append(random.choice(["", " ", "\t"]) + sep().join(random.choice(words) for _ in range(n)) + random.choice(["", " ", "\t "]))
open("words.txt", "w").write("\n".join(out) + "\n")
PYEOF
cat > w.yaml <<'YAML'
sources:
  text: {type: file, path: words.txt, format: lines}
transforms:
  words:
    type: aggregate
    inputs: [text]
    split: message
    split_as: word
    lowercase: true
    group_by: {word: "word"}
    aggregates: {count: "count()"}
    window: batch
sinks:
  out: {type: csv, inputs: [words], path: wc.csv, columns: [word, count]}
YAML
$SLUICE run -c w.yaml --once --no-status 2> wlog.txt || { cat wlog.txt; fail "sluice run (wordcount)"; }
tr -s ' \t' '\n\n' < words.txt | grep -v '^$' | tr 'A-Z' 'a-z' | LC_ALL=C sort | uniq -c \
  | awk '{print $2 "," $1}' > want.csv
$PY - <<'PYEOF' || fail "wordcount"
import csv
got = {}
for row in csv.reader(open("wc.csv", newline="")):
    if row == ["word", "count"]:
        continue
    assert row[0] not in got, row
    got[row[0]] = int(row[1])
want = {}
for line in open("want.csv"):
    w, n = line.rstrip("\n").rsplit(",", 1)
    want[w] = int(n)
assert got == want, (sorted(set(got.items()) ^ set(want.items()))[:10])
print("distinct words", len(got), "tokens", sum(got.values()))
PYEOF
ok "wordcount: split, lower-case, count (batch) agree with tr | sort | uniq -c"
