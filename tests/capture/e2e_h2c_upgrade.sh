#!/bin/bash
# h2c via Upgrade: curl --http2 on http:// asks an HTTP/1.1 server to
# upgrade (Upgrade: h2c); the server (tests/capture/h2c_upgrade_server.py,
# Debian's python3-h2) answers 101 and the connection goes on in HTTP/2:
# the upgraded request is stream 1, answered over HTTP/2, and the next
# request on the connection is stream 3.
. "$(dirname "$0")/lib.sh"
need_root
"$DEB_PYTHON" -c 'import h2.connection' 2>/dev/null || fail "python3-h2 is missing (in TEST_PKGS)"
PORT=18650

"$DEB_PYTHON" "$ROOT/tests/capture/h2c_upgrade_server.py" $PORT 2 >"$T/server.out" 2>"$T/server.err" &
SPID=$!
track $SPID
for _ in $(seq 100); do grep -q listening "$T/server.out" && break; sleep 0.1; done
grep -q listening "$T/server.out" || fail "the upgrade server did not start"
start_capture cap -w "$T/up.htc" --port $PORT

U=http://127.0.0.1:$PORT
# one connection, two requests: the first upgrades it
curl -s --http2 -o /dev/null -w '%{http_version} %{http_code} ' "$U/index.html" -o /dev/null "$U/nope" \
	>"$T/curl.out" || fail "curl failed"
# without Upgrade: HTTP/1.1 as usual
curl -s --http1.1 -o /dev/null -w '%{http_version} %{http_code} ' "$U/plain" >>"$T/curl.out" || fail "curl failed"
[ "$(cat "$T/curl.out")" = "2 200 2 404 1.1 200 " ] || fail "curl: $(cat "$T/curl.out")"
wait_exit $SPID 10 || fail "the upgrade server failed: $(cat "$T/server.err")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

analyze "$T/up.htc" '
reqs = q("SELECT method, path, status, version, protocol, stream_id, conn FROM requests ORDER BY start_ns")
eq([(r["method"], r["path"], r["status"], r["version"], r["protocol"], r["stream_id"]) for r in reqs],
   [("GET", "/index.html", 200, "HTTP/1.1", "http2", 1),
    ("GET", "/nope", 404, "HTTP/2", "http2", 3),
    ("GET", "/plain", 200, "HTTP/1.1", "http", None)], "requests")
eq(reqs[0]["conn"], reqs[1]["conn"], "one connection, upgraded")
calls = q("SELECT name, status, protocol, stream_id, child_request_id FROM calls ORDER BY start_ns")
eq([(c["name"], c["status"], c["protocol"], c["stream_id"]) for c in calls],
   [("GET /index.html", 200, "http2", 1), ("GET /nope", 404, "http2", 3), ("GET /plain", 200, "http", None)],
   "calls")
expect(all(c["child_request_id"] for c in calls), "calls linked", calls)
'
info "h2c Upgrade: the upgraded request is stream 1, the next one stream 3; plain HTTP/1.1 untouched"
