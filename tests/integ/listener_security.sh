#!/usr/bin/env bash
# The shared HTTP listener (src/io/httpd.c) on the API and the http source:
#  - api tokens: /health and /metrics open, every other path 401 without a token or with an
#    unknown one, 200 with Bearer or X-Api-Key; a token added to the file works at once, a
#    removed one stops within ~1 s; open_metrics: false closes /metrics too
#  - http source tokens: 401 before the body is read, events only from the token holders
#  - HTTPS on the API with a client certificate required: 200 with one, 403 without, plain
#    HTTP refused
#  - max_per_ip: connections past the limit from one address are refused
#  - a missing tokens file or PEM file: a clear error naming the config line
source "$(dirname "$0")/lib/common.bash"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }

API=$(free_port); IN=$(free_port)
printf '# name token\nops   s3cret-ops\ningest s3cret-in\n' > api.tokens
printf 'ingest s3cret-in\n' > in.tokens
cat > p.yaml <<YAML
api: {listen: "127.0.0.1:$API", tokens: api.tokens, max_per_ip: 3}
sources:
  in: {type: http, listen: "127.0.0.1:$IN", tokens: in.tokens}
sinks:
  out: {type: file, inputs: [in], path: out.json}
YAML
$SLUICE run -c p.yaml --no-status 2> log.txt &
PID=$!; PIDS+=($PID)
wait_port $API; wait_port $IN
code() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }
expect_eq "/health without a token" "$(code "http://127.0.0.1:$API/health")" 200
expect_eq "/metrics without a token" "$(code "http://127.0.0.1:$API/metrics")" 200
expect_eq "pipeline without a token" "$(code "http://127.0.0.1:$API/api/v1/pipeline")" 401
expect_eq "pipeline with an unknown token" "$(code -H 'Authorization: Bearer nope' "http://127.0.0.1:$API/api/v1/pipeline")" 401
expect_eq "pipeline with Bearer" "$(code -H 'Authorization: Bearer s3cret-ops' "http://127.0.0.1:$API/api/v1/pipeline")" 200
expect_eq "pipeline with X-Api-Key" "$(code -H 'X-Api-Key: s3cret-ops' "http://127.0.0.1:$API/api/v1/pipeline")" 200
curl -s -D hdr.txt -o /dev/null "http://127.0.0.1:$API/api/v1/pipeline" || true
grep -qi '^WWW-Authenticate: Bearer' hdr.txt || fail "no WWW-Authenticate: $(cat hdr.txt)"
# rotation: a new token at once, a removed one within about a second
printf 'ops2 s3cret-new\n' > api.tokens
expect_eq "a new token works at once" "$(code -H 'Authorization: Bearer s3cret-new' "http://127.0.0.1:$API/api/v1/pipeline")" 200
sleep 1.2
expect_eq "a removed token is refused" "$(code -H 'Authorization: Bearer s3cret-ops' "http://127.0.0.1:$API/api/v1/pipeline")" 401

# http source
expect_eq "http source without a token" "$(code -X POST --data '{"a":1}' "http://127.0.0.1:$IN/")" 401
expect_eq "http source with a token" "$(code -X POST -H 'Authorization: Bearer s3cret-in' --data $'{"a":1}\n{"a":2}' "http://127.0.0.1:$IN/")" 200
expect_eq "http source with the api's token" "$(code -X POST -H 'Authorization: Bearer s3cret-new' --data '{"a":3}' "http://127.0.0.1:$IN/")" 401

# max_per_ip 3 on the API: 3 idle connections held open, the 4th is refused
$PY - "$API" <<'PYEOF' || fail "max_per_ip"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(3)
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    got = s.recv(100)
except (ConnectionResetError, socket.timeout):
    got = b""
assert not got.startswith(b"HTTP/1.1 200"), got
for h in held:
    h.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
assert s.recv(100).startswith(b"HTTP/1.1 200")
print("ok: max_per_ip: the 4th connection refused, served again once the others left")
PYEOF
kill -TERM $PID; wait $PID || fail "exit status"
expect_eq "events from the token holder only" "$(count_lines out.json)" 2

# HTTPS with client certificates, metrics closed too
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1') -out srv.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=ops -keyout cli.key -out cli.csr 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cli.pem 2>/dev/null
API2=$(free_port)
cat > t.yaml <<YAML
api: {listen: "127.0.0.1:$API2", tokens: api.tokens, open_metrics: false, tls_cert: srv.pem,
      tls_key: srv.key, tls_ca: ca.pem, require_client_cert: true}
sources:
  g: {type: tcp, listen: "127.0.0.1:$(free_port)"}
sinks:
  out: {type: null, inputs: [g]}
YAML
$SLUICE run -c t.yaml --no-status 2> tlog.txt &
PID=$!; PIDS+=($PID)
wait_port $API2
T='Authorization: Bearer s3cret-new'
expect_eq "https + client cert + token" "$(code --cacert ca.pem --cert cli.pem --key cli.key -H "$T" "https://127.0.0.1:$API2/api/v1/pipeline")" 200
expect_eq "https + client cert, /metrics without a token (open_metrics: false)" "$(code --cacert ca.pem --cert cli.pem --key cli.key "https://127.0.0.1:$API2/metrics")" 401
st=$(code --cacert ca.pem -H "$T" "https://127.0.0.1:$API2/api/v1/pipeline")
[ "$st" = 403 ] || [ "$st" = 000 ] || fail "https without a client certificate: $st"
ok "https without a client certificate refused ($st)"
expect_eq "plain http on the https port" "$(code "http://127.0.0.1:$API2/health")" 000
kill -TERM $PID; wait $PID || fail "exit status"

# configuration errors
sed 's/tokens: api.tokens/tokens: missing.tokens/' t.yaml > bad.yaml
if $SLUICE run -c bad.yaml --no-status 2> err.txt; then fail "a missing tokens file is accepted"; fi
grep -q "bad.yaml:1:1: .*tokens file missing.tokens" err.txt || fail "message: $(cat err.txt)"
sed 's/tls_key: srv.key/tls_key: ca.srl/' t.yaml > bad2.yaml
if $SLUICE run -c bad2.yaml --no-status 2> err.txt; then fail "a bad key file is accepted"; fi
grep -q "tls_key ca.srl: not a PEM file" err.txt || fail "message: $(cat err.txt)"
ok "configuration errors name the file"
