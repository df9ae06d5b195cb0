#!/bin/bash
# HTTP/2 inside TLS (h2 by ALPN): curl --http2 against nginx with http2,
# both over OpenSSL.  The plaintext is detected as HTTP/2 like h2c: both
# streams are found at both ends with method, path, status, decrypted by
# openssl and linked.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/capture/tls/lib_tls.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
PORT=19050

make_cert
mkdir -p "$T/www"
echo "small file" >"$T/www/a.txt"
start_nginx_tls $PORT "$T/www" http2
start_capture cap -w "$T/h2.htc" --port $PORT
out=$(curl -s --http2 --cacert "$T/cert.pem" -o /dev/null -o /dev/null -w '%{http_version} %{response_code}\n' \
	"https://127.0.0.1:$PORT/a.txt" "https://127.0.0.1:$PORT/nope") || fail "curl --http2"
[ "$out" = "2 200
2 404" ] || fail "curl did not speak h2: $out"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
analyze "$T/h2.htc" '
reqs = q("SELECT method, path, status, protocol, tls FROM requests ORDER BY stream_id")
eq([tuple(r.values()) for r in reqs],
   [("GET", "/a.txt", 200, "http2", "openssl"), ("GET", "/nope", 404, "http2", "openssl")], "nginx requests")
calls = q("SELECT summary, status, protocol, tls, child_request_id FROM calls ORDER BY stream_id")
eq([(c["summary"], c["status"], c["protocol"], c["tls"]) for c in calls],
   [("GET /a.txt", 200, "http2", "openssl"), ("GET /nope", 404, "http2", "openssl")], "curl calls")
expect(all(c["child_request_id"] for c in calls), "calls linked to the requests", calls)
'
info "h2 inside TLS: 2 streams decrypted and linked"
