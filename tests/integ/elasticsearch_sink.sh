#!/usr/bin/env bash
# elasticsearch sink against a _bulk protocol server written here (no Elasticsearch is
# packaged): python3's http.server on 127.0.0.1, which validates the framing strictly
# (POST .../_bulk, Content-Type application/x-ndjson, newline-terminated action/document line
# pairs, valid JSON, the index name, gzip and the API key where configured) and answers with
# scripted failures: items 400 mapper_parsing_exception (documents marked bad), items 429
# the first time (documents marked flaky), one whole request 503, one request whose
# connection is dropped after the documents were stored (the answer is lost). At the end every
# accepted document must be in the server's store exactly once (by _id) with dataShark's
# shape, and every rejected one in the sink's .errors with the error type.
source "$(dirname "$0")/lib/common.bash"

cat > server.py <<'PYEOF'
import gzip, json, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"requests": 0, "whole_503": 0, "dropped": 0, "item_429": 0, "item_400": 0,
         "violations": [], "store": {}, "index_ops": {}, "attempts": {}, "indices": set(),
         "gzip_requests": 0, "apikey_requests": 0}
lock = threading.Lock()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def violation(self, why):
        with lock:
            state["violations"].append(why)
        self.reply(400, {"error": {"type": "illegal_argument_exception", "reason": why}, "status": 400})

    def do_GET(self):
        if self.path == "/_test/dump":
            with lock:
                out = dict(state)
                out["indices"] = sorted(state["indices"])
            return self.reply(200, out)
        self.reply(404, {})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        keyed = self.path.startswith("/k/")
        if self.path not in ("/_bulk", "/k/_bulk"):
            return self.violation("path " + self.path)
        if self.headers.get("Content-Type") != "application/x-ndjson":
            return self.violation("content type %r" % self.headers.get("Content-Type"))
        if keyed:
            if self.headers.get("Authorization") != "ApiKey c2x1aWNlOnNlY3JldA==":
                return self.violation("api key %r" % self.headers.get("Authorization"))
            if self.headers.get("Content-Encoding") != "gzip":
                return self.violation("not gzipped")
            raw = gzip.decompress(raw)
            with lock:
                state["gzip_requests"] += 1
                state["apikey_requests"] += 1
        elif self.headers.get("Content-Encoding"):
            return self.violation("unexpected Content-Encoding")
        text = raw.decode("utf-8")
        if not text.endswith("\n"):
            return self.violation("body does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) % 2:
            return self.violation("odd number of lines: %d" % len(lines))
        pairs = []
        for i in range(0, len(lines), 2):
            try:
                act, doc = json.loads(lines[i]), json.loads(lines[i + 1])
            except ValueError as e:
                return self.violation("line %d: %s" % (i, e))
            if not isinstance(act, dict) or list(act) != ["index"] or not isinstance(doc, dict):
                return self.violation("bad action/doc pair at line %d" % i)
            meta = act["index"]
            if set(meta) != {"_index", "_id"}:
                return self.violation("action members %r" % sorted(meta))
            pairs.append((meta, doc))
        with lock:
            state["requests"] += 1
            nreq = state["requests"]
        # one whole request 503 (the second one): nothing stored
        if nreq == 2:
            with lock:
                state["whole_503"] += 1
            return self.reply(503, {"error": {"type": "unavailable_shards_exception", "reason": "scripted"}, "status": 503})
        items, errors = [], False
        with lock:
            for meta, doc in pairs:
                did = meta["_id"]
                state["attempts"][did] = state["attempts"].get(did, 0) + 1
                if doc.get("bad"):
                    state["item_400"] += 1
                    errors = True
                    items.append({"index": {"_index": meta["_index"], "_id": did, "status": 400,
                                            "error": {"type": "mapper_parsing_exception",
                                                      "reason": "failed to parse field [bad] of type [long]"}}})
                    continue
                if doc.get("flaky") and state["attempts"][did] == 1:
                    state["item_429"] += 1
                    errors = True
                    items.append({"index": {"_index": meta["_index"], "_id": did, "status": 429,
                                            "error": {"type": "es_rejected_execution_exception",
                                                      "reason": "rejected execution (scripted)"}}})
                    continue
                created = did not in state["store"]
                state["store"][did] = {"_index": meta["_index"], "doc": doc}
                state["index_ops"][did] = state["index_ops"].get(did, 0) + 1
                state["indices"].add(meta["_index"])
                items.append({"index": {"_index": meta["_index"], "_id": did, "_version": 1,
                                        "result": "created" if created else "updated",
                                        "status": 201 if created else 200}})
        # the fourth request: stored, but the connection drops before the answer
        if nreq == 4:
            with lock:
                state["dropped"] += 1
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.reply(200, {"took": 3, "errors": errors, "items": items})

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
PYEOF
$PY server.py port.txt 2> server.log &
PIDS+=($!)
for i in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
PORT=$(cat port.txt)
wait_port $PORT

# records: every 37th is bad (400), every 11th flaky (429 once)
$PY - <<'PYEOF'
import json
with open("in.json", "w") as f:
    for i in range(3000):
        md = {"cluster": i % 2, "twoxx": i * 3, "nxx": i % 5}
        if i % 37 == 5:
            md["bad"] = True
        if i % 11 == 3:
            md["flaky"] = True
        f.write(json.dumps({"doc_id": "d%05d" % i, "key": "10.0.%d.%d" % (i // 256, i % 256),
                            "score": i / 4.0, "metadata": md}) + "\n")
with open("in2.json", "w") as f:
    for i in range(500):
        f.write(json.dumps({"doc_id": "k%04d" % i, "key": "k%d" % i, "score": 1.5,
                            "metadata": {"n": i}}) + "\n")
PYEOF

cat > p.yaml <<YAML
sources:
  recs: {type: file, path: [in.json]}
  recs2: {type: file, path: [in2.json]}
sinks:
  es:
    type: elasticsearch
    inputs: [recs]
    url: "http://127.0.0.1:$PORT"
    index_name: "sluice-%Y.%m.%d"
    id_field: doc_id
    metadata_field: metadata
    title: Web Anomaly Detection
    bulk_count: 200
    retry_initial: 20ms
    retry_max: 200ms
    timeout: 5s
  es_keyed:
    type: elasticsearch
    inputs: [recs2]
    url: "http://127.0.0.1:$PORT/k/"
    api_key: "c2x1aWNlOnNlY3JldA=="
    gzip: true
    index_name: "keyed"
    id_field: doc_id
    bulk_bytes: 16KiB
    retry_initial: 20ms
    retry_max: 200ms
  rejects: {type: file, inputs: [es.errors, es_keyed.errors], path: rejects.json}
YAML
timeout 120 $SLUICE run -c p.yaml --once --no-status 2> log.txt || { cat log.txt; fail "run"; }
curl -s "http://127.0.0.1:$PORT/_test/dump" > dump.json

$PY - <<'PYEOF' || { tail -20 log.txt; fail "server store / rejects"; }
import json, time
d = json.load(open("dump.json"))
assert not d["violations"], d["violations"][:5]
recs = [json.loads(l) for l in open("in.json")]
recs2 = [json.loads(l) for l in open("in2.json")]
store = d["store"]
days = {time.strftime("sluice-%Y.%m.%d", time.gmtime(time.time() - s)) for s in (0, 120)}
bad = {r["doc_id"] for r in recs if r["metadata"].get("bad")}
for r in recs + recs2:
    did = r["doc_id"]
    if did in bad:
        assert did not in store, did
        continue
    assert did in store, ("missing", did)
    got = store[did]
    doc = dict(got["doc"])
    ts = doc.pop("timestamp")
    assert len(ts) == 19 and ts[10] == " ", ts
    title = "Web Anomaly Detection" if did.startswith("d") else "Use Case"
    want = {"title": title, "source_ip": r["key"], "anomaly_score": r["score"]}
    want.update(r["metadata"])
    want.pop("doc_id", None)
    assert doc == want, (doc, want)
    assert got["_index"] in (days if did.startswith("d") else {"keyed"}), got["_index"]
assert len(store) == len(recs) + len(recs2) - len(bad), (len(store), len(recs), len(bad))
ops = d["index_ops"]
dup = {k: v for k, v in ops.items() if v > 1}
# only the request whose answer was lost may have been indexed twice (same _id: overwritten)
assert len(dup) <= 200, len(dup)
rej = [json.loads(l) for l in open("rejects.json")]
assert len(rej) == len(bad), (len(rej), len(bad))
for e in rej:
    assert e["component"] == "es", e
    assert e["error"].startswith("elasticsearch 400 mapper_parsing_exception: failed to parse"), e["error"]
    doc = json.loads(e["raw"])
    assert doc["bad"] is True and '"_id":"d' in e["where"], e
assert {json.loads(e["raw"])["source_ip"] for e in rej} == {r["key"] for r in recs if r["doc_id"] in bad}
assert d["whole_503"] == 1 and d["dropped"] == 1, d
assert d["item_429"] == sum(1 for r in recs if r["metadata"].get("flaky") and r["doc_id"] not in bad), d["item_429"]
assert d["gzip_requests"] >= 3 and d["apikey_requests"] == d["gzip_requests"], d
print("ok: %d documents stored once by _id, %d rejected (mapper_parsing_exception) in .errors; "
      "%d item 429s retried, one 503, one dropped connection (%d documents indexed twice, same _id); "
      "%d gzip+ApiKey requests; %d requests in all" % (len(store), len(rej), d["item_429"], len(dup),
                                                      d["gzip_requests"], d["requests"]))
PYEOF
grep -q "done: events in 3500" log.txt || { tail -3 log.txt; fail "summary"; }
ok "elasticsearch bulk protocol: partial failures, retries, dead letters, at-least-once"

# a node that is down: retried until drain_timeout, then the documents are reported failed
DEAD=$(free_port)
cat > p2.yaml <<YAML
sources:
  recs2: {type: file, path: [in2.json]}
sinks:
  es: {type: elasticsearch, inputs: [recs2], port: $DEAD, retry_initial: 20ms, retry_max: 100ms,
       drain_timeout: 1s}
YAML
timeout 60 $SLUICE run -c p2.yaml --once --no-status 2> log2.txt || true
grep -q "500 documents not indexed" log2.txt || { cat log2.txt; fail "undelivered documents not reported"; }
grep -q "Could not connect\|Couldn't connect\|Connection refused\|Failed to connect" log2.txt || { cat log2.txt; fail "connection error not logged"; }
ok "node down: retried with back-off, given up at drain_timeout"

# ---- https: the node's certificate verified against tls_ca; refused with another CA
cat > ca.tmpl <<'TEOF'
cn = "sluice test CA"
ca
cert_signing_key
expiration_days = 2
TEOF
cat > srv.tmpl <<'TEOF'
cn = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
TEOF
{
  certtool --generate-privkey --key-type=ecdsa --outfile ca.key
  certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
  certtool --generate-privkey --key-type=ecdsa --outfile other.key
  certtool --generate-self-signed --load-privkey other.key --template ca.tmpl --outfile other.pem
  certtool --generate-privkey --key-type=ecdsa --outfile srv.key
  certtool --generate-certificate --load-privkey srv.key --load-ca-certificate ca.pem \
    --load-ca-privkey ca.key --template srv.tmpl --outfile srv.pem
} > certtool.log 2>&1 || { cat certtool.log; fail "certtool"; }
cat > tls_server.py <<'PYEOF'
import json, ssl, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
ids = set()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        self.reply(sorted(ids))
    def do_POST(self):
        lines = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        items = []
        for i in range(0, len(lines), 2):
            ids.add(json.loads(lines[i])["index"]["_id"])
            items.append({"index": {"status": 201}})
        self.reply({"errors": False, "items": items})
srv = HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("srv.pem", "srv.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PYEOF
$PY tls_server.py tls.port 2> tls_server.log &
PIDS+=($!)
for i in $(seq 50); do [ -s tls.port ] && break; sleep 0.1; done
TPORT=$(cat tls.port)
wait_port $TPORT
tls_run() { # NAME EXTRA_OPTIONS
  cat > p3.yaml <<YAML
sources:
  recs2: {type: file, path: [in2.json]}
sinks:
  es: {type: elasticsearch, inputs: [recs2], url: "https://127.0.0.1:$TPORT", id_field: doc_id,
       retry_initial: 20ms, retry_max: 100ms, drain_timeout: 1s, $2}
YAML
  timeout 60 $SLUICE run -c p3.yaml --once --no-status 2> "log-$1.txt" || true
}
tls_run good "tls_ca: ca.pem"
grep -q "errors 0" log-good.txt || { cat log-good.txt; fail "https with tls_ca"; }
expect_eq "documents over https" "$(curl -s --cacert ca.pem "https://127.0.0.1:$TPORT/" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" 500
tls_run wrong_ca "tls_ca: other.pem"
grep -q "500 documents not indexed" log-wrong_ca.txt || { cat log-wrong_ca.txt; fail "a server signed by another CA was accepted"; }
grep -qi "certificate" log-wrong_ca.txt || { cat log-wrong_ca.txt; fail "no certificate error logged"; }
tls_run no_verify "tls_ca: other.pem, tls_verify: false"
grep -q "errors 0" log-no_verify.txt || { cat log-no_verify.txt; fail "tls_verify: false"; }
ok "https: verified with tls_ca, refused with another CA, accepted with tls_verify: false"
