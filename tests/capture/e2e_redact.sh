#!/bin/bash
# Secret header values (Authorization, Cookie, X-Api-Key, and Set-Cookie in
# a response) never reach the file, not even compressed: zstdcat shows
# none of them; with --no-redact they are there.
. "$(dirname "$0")/lib.sh"
need_root
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
PORT=18570
TOKEN=$(rand_token)
COOKIE=$(rand_token)
APIKEY=$(rand_token)
SETCOOKIE=$(rand_token)

# a server that answers with a Set-Cookie
cat >"$T/server.py" <<PY
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Set-Cookie", "sid=$SETCOOKIE; HttpOnly")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", $PORT), H).serve_forever()
PY
python3 "$T/server.py" >"$T/server.err" 2>&1 &
track $!
wait_port $PORT

run() {	# run NAME [httpcap flags]
	local name=$1
	shift
	start_capture "$name" -w "$T/$name.htc" --port $PORT "$@"
	curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Cookie: a=$COOKIE" \
		-H "X-Api-Key: $APIKEY" "http://127.0.0.1:$PORT/secret" || fail "curl"
	# the same headers from a client whose command line does not show them
	# (from the environment: a bare argv word is not a header to redact),
	# written in two pieces cut inside the token, so that the server reads
	# it in two reads and the redactor must carry the value across them
	PORT=$PORT TOKEN=$TOKEN COOKIE=$COOKIE APIKEY=$APIKEY python3 - <<'PY' || fail "python client"
import os, socket, time
e = os.environ
req = ("GET /py HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nCookie: a=%s\r\n"
       "X-Api-Key: %s\r\n\r\n" % (e["TOKEN"], e["COOKIE"], e["APIKEY"])).encode()
cut = req.index(e["TOKEN"].encode()) + 9
s = socket.create_connection(("127.0.0.1", int(e["PORT"])), timeout=20)
s.sendall(req[:cut])
time.sleep(0.3)
s.sendall(req[cut:])
resp = b""
while b"ok\n" not in resp:
    chunk = s.recv(4096)
    if not chunk:
        break
    resp += chunk
assert resp.startswith(b"HTTP/1.1 200"), resp
s.close()
PY
	settle
	stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
}

run redacted
no_secret "$T/redacted.htc" "$TOKEN" "$COOKIE" "$APIKEY" "$SETCOOKIE"
check "$T/redacted.htc" '
tok = args[0]
reqs = sel(event_type="read", path=lambda p: p in ("/secret", "/py"), comm="python3")
reqs = [e for e in reqs if e["payload"].startswith("GET ")]
eq(len(reqs), 2, "requests read by the server")
py = sel(event_type="write", comm="python3", payload=lambda p: p.startswith("GET /py"))
eq(len(py), 1, "the python client request")
eq(len(sel(event_type="write", comm="python3", conn_id=py[0]["conn_id"], payload=lambda p: p.startswith("GET /py") or "Cookie" in p)), 2, "two client writes")
for e in sel(comm="python3", event_type=lambda t: t in ("read", "write")):
    expect(tok[3:11] not in e["payload"], "a piece of the token is readable", e)
for e in [r for r in reqs if r["path"] == "/secret"]:
    expect("Authorization: " + "*" * (len(tok) + 7) + "\r\n" in e["payload"], "Authorization not starred", e)
    expect("X-Api-Key: " + "*" * len(tok) + "\r\n" in e["payload"], "X-Api-Key not starred", e)
for e in sel(event_type="write", comm="python3"):
    if e["payload"].startswith("HTTP/1.1 200"):
        expect("Set-Cookie: ****" in e["payload"], "Set-Cookie not starred", e)
for e in ev:
    expect(tok not in e["payload"], "token printed", e)
' "$TOKEN"
info "redacted: no secret in the decompressed file"

run clear --no-redact
for s in "$TOKEN" "$COOKIE" "$APIKEY" "$SETCOOKIE"; do
	n=$(zstdcat -q "$T/clear.htc" 2>/dev/null | grep -ac "$s")
	[ "$n" != 0 ] || fail "--no-redact: $s is not in the file"
done
info "--no-redact keeps them"
