#!/bin/bash
# TLS plaintext from GnuTLS (gnutls_record_send/recv in libgnutls.so.30):
# gnutls-cli (gnutls-bin) sends two requests on one connection to nginx
# over TLS (OpenSSL at that end).  Both requests are found at both ends:
# the client's calls decrypted by gnutls, nginx's requests by openssl,
# linked; the secret header never reaches the file.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/capture/tls/lib_tls.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v gnutls-cli >/dev/null || { echo "SKIP: gnutls-cli is not installed (gnutls-bin)"; exit 0; }
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
PORT=19020
TOKEN=$(rand_token)

make_cert
mkdir -p "$T/www"
echo "small file" >"$T/www/a.txt"
start_nginx_tls $PORT "$T/www"
start_capture cap -v -w "$T/gnutls.htc" --port $PORT
grep -q "TLS: probing .*libgnutls.so.30.* (gnutls: gnutls_record_recv gnutls_record_send)" "$T/cap.err" ||
	fail "-v does not list libgnutls.so.30 as probed"
# two requests, then time for the answers before stdin ends the session
{
	printf 'GET /a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' "$TOKEN"
	printf 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n'
	sleep 2
} | timeout 20 gnutls-cli --x509cafile "$T/cert.pem" -p $PORT 127.0.0.1 >"$T/gnutls.out" 2>"$T/gnutls.err"
grep -q "^small file" "$T/gnutls.out" || fail "gnutls-cli did not get the file: $(tail -3 "$T/gnutls.err")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
no_secret "$T/gnutls.htc" "$TOKEN"	# the Authorization token
analyze "$T/gnutls.htc" '
reqs = q("SELECT method, path, status, tls, parent_call_id FROM requests ORDER BY start_ns")
eq([(r["method"], r["path"], r["status"], r["tls"]) for r in reqs],
   [("GET", "/a.txt", 200, "openssl"), ("GET", "/nope", 404, "openssl")], "nginx requests")
calls = q("SELECT comm, summary, status, tls, child_request_id FROM calls ORDER BY start_ns")
eq([(c["comm"], c["summary"], c["status"], c["tls"]) for c in calls],
   [("gnutls-cli", "GET /a.txt", 200, "gnutls"), ("gnutls-cli", "GET /nope", 404, "gnutls")], "gnutls-cli calls")
expect(all(c["child_request_id"] for c in calls), "calls linked to the requests", calls)
eq(sorted(c["tls"] for c in q("SELECT tls FROM connections")), ["gnutls", "openssl"], "connections")
'
info "gnutls-cli decrypted through GnuTLS, nginx through OpenSSL, linked"
