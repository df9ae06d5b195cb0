#!/bin/bash
# Secrets in bodies (issue 21) never reach the file: JSON request bodies
# (password), an OAuth-style JSON response (access_token, refresh_token),
# a form body (api_key), a chunked JSON response, and a field named by
# --redact; the rest of each body is kept and the requests still analysed.
. "$(dirname "$0")/lib.sh"
need_root
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
/usr/bin/python3 -c 'import flask' 2>/dev/null || { echo "SKIP: python3-flask is not installed"; exit 0; }
PORT=18579
PW=$(rand_token)
AT=$(rand_token)
RT=$(rand_token)
KEY=$(rand_token)
SSN=$(rand_token)
CT=$(rand_token)

cat >"$T/app.py" <<PY
import json, sys
from flask import Flask, request, Response
app = Flask(__name__)

@app.post("/login")
def login():
    body = request.get_json()
    assert body["password"] == "$PW"
    return {"access_token": "$AT", "refresh_token": "$RT", "expires_in": 3600, "user": body["user"]}

@app.post("/form")
def form():
    assert request.form["api_key"] == "$KEY"
    return "ok %s\n" % request.form["user"]

@app.get("/stream")
def stream():
    def gen():
        yield '{"user": "carol", "client_'
        yield 'secret": "$CT'
        yield '", "n": 2}'
    return Response(gen(), mimetype="application/json")

app.run(host="127.0.0.1", port=$PORT)
PY
/usr/bin/python3 "$T/app.py" >"$T/app.log" 2>&1 &
track $!
wait_port $PORT

start_capture b -w "$T/b.htc" --port $PORT --redact ssn
curl -s -o "$T/r1" -H 'Content-Type: application/json' \
	-d "{\"user\": \"alice\", \"password\": \"$PW\"}" "http://127.0.0.1:$PORT/login" || fail "curl login"
curl -s -o "$T/r2" -d "user=bob&api_key=$KEY&ssn=$SSN" "http://127.0.0.1:$PORT/form" || fail "curl form"
curl -s -o "$T/r3" "http://127.0.0.1:$PORT/stream" || fail "curl stream"
grep -q "$AT" "$T/r1" && grep -q 'ok bob' "$T/r2" && grep -q "$CT" "$T/r3" ||
	fail "the app did not answer as expected: $(cat "$T/r1" "$T/r2" "$T/r3" "$T/app.log")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

no_secret "$T/b.htc" "$PW" "$AT" "$RT" "$KEY" "$SSN" "$CT"
# the rest of the bodies is kept: the analysis sees the same requests
for s in '"user": "alice"' 'user=bob' '"expires_in":3600' '"n": 2'; do
	zstdcat -q "$T/b.htc" 2>/dev/null | tr -d " " | grep -aqF "${s// /}" || fail "'$s' was lost from the file"
done
got=$("$HTTPANALYZE" sql -q --format csv "SELECT count(*) FROM requests WHERE status = 200" "$T/b.htc" | tr -d '\r' | tail -1)
[ "$got" = 3 ] || fail "answered requests: got $got, want 3"
info "JSON, form and chunked JSON bodies, --redact ssn: no secret in the decompressed file"
