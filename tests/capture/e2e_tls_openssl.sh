#!/bin/bash
# TLS plaintext from OpenSSL as a shared library (libssl.so.3): nginx with
# TLS against curl --cacert (three requests on one keep-alive connection,
# a secret Authorization header) and a Python urllib client; curl against
# a Python https server.  Every request is found at both ends with method,
# path and status, decrypted by openssl, linked call to request, on the
# connection of the ciphertext (same conn_id, 5-tuple); the ciphertext is
# kept as byte counts; the secret never reaches the file.  Then --no-tls:
# the same traffic stays encrypted, never an error, "not probed".
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/capture/tls/lib_tls.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
NGX=19000
PYS=19001
TOKEN=$(rand_token)

make_cert
mkdir -p "$T/www"
echo "small file" >"$T/www/a.txt"
echo "python file" >"$T/www/py.txt"
head -c 30000 /dev/urandom >"$T/www/big.bin"
start_nginx_tls $NGX "$T/www"

# a Python https server (Debian's python3: its _ssl links libssl.so.3)
cat >"$T/pyserver.py" <<PY
import http.server, ssl, os
os.chdir("$T/www")
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
httpd = http.server.HTTPServer(("127.0.0.1", $PYS), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("$T/cert.pem", "$T/key.pem")
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
PY
"$DEB_PYTHON" "$T/pyserver.py" >"$T/pyserver.err" 2>&1 &
track $!
wait_port $PYS

traffic() {
	curl -s --cacert "$T/cert.pem" -H "Authorization: Bearer $TOKEN" \
		-o /dev/null "https://127.0.0.1:$NGX/a.txt" \
		-o /dev/null "https://127.0.0.1:$NGX/big.bin" \
		-o /dev/null "https://127.0.0.1:$NGX/nope" || fail "curl to nginx"
	"$DEB_PYTHON" - "$T/cert.pem" $NGX <<'PY' || fail "python client"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
body = urllib.request.urlopen("https://127.0.0.1:%s/a.txt?from=python" % sys.argv[2], context=ctx, timeout=20).read()
assert body == b"small file\n", body
PY
	out=$(curl -s --cacert "$T/cert.pem" "https://127.0.0.1:$PYS/py.txt") || fail "curl to python"
	[ "$out" = "python file" ] || fail "python server answered '$out'"
}

start_capture cap -v -w "$T/tls.htc" --port $NGX --port $PYS
grep -q "TLS: probing .*libssl.so.3 (openssl: SSL_read SSL_read_ex SSL_write SSL_write_ex)" "$T/cap.err" ||
	fail "-v does not list libssl.so.3 as probed"
traffic
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"
no_secret "$T/tls.htc" "$TOKEN"	# the Authorization token

analyze "$T/tls.htc" '
NGX, PYS = int(args[0]), int(args[1])
reqs = q("SELECT comm, method, path, status, tls, seq, conn, parent_call_id FROM requests ORDER BY start_ns")
ng = [r for r in reqs if r["comm"] == "nginx"]
eq([(r["method"], r["path"], r["status"], r["tls"]) for r in ng],
   [("GET", "/a.txt", 200, "openssl"), ("GET", "/big.bin", 200, "openssl"),
    ("GET", "/nope", 404, "openssl"), ("GET", "/a.txt?from=python", 200, "openssl")], "nginx requests")
eq(len(set(r["conn"] for r in ng[:3])), 1, "curl: one keep-alive connection")
py = [r for r in reqs if r["comm"] != "nginx"]
eq([(r["method"], r["path"], r["status"], r["tls"]) for r in py], [("GET", "/py.txt", 200, "openssl")],
   "python server requests")
calls = q("SELECT comm, protocol, summary, status, tls, child_request_id, error, unanswered FROM calls ORDER BY start_ns")
eq([(c["comm"], c["protocol"], c["summary"], c["status"], c["tls"]) for c in calls],
   [("curl", "http", "GET /a.txt", 200, "openssl"), ("curl", "http", "GET /big.bin", 200, "openssl"),
    ("curl", "http", "GET /nope", 404, "openssl"),
    (calls[3]["comm"], "http", "GET /a.txt?from=python", 200, "openssl"),
    ("curl", "http", "GET /py.txt", 200, "openssl")], "client calls")
expect(all(c["child_request_id"] for c in calls), "every call linked to its request", calls)
eq(sum(1 for r in reqs if r["parent_call_id"]), 5, "requests linked to their call")
conns = q("SELECT comm, role, protocol, tls, tls_reason, bytes_in, bytes_out, local_port, remote_port FROM connections")
eq(sorted((c["role"], c["protocol"], c["tls"]) for c in conns),
   sorted([("client", "http", "openssl")] * 3 + [("server", "http", "openssl")] * 3), "connections")
# the ciphertext stays counted: more bytes on the wire than in the requests
for c in conns:
    expect(c["bytes_in"] > 0 and c["bytes_out"] > 0, "ciphertext byte counts", c)
big = q("SELECT resp_bytes FROM requests WHERE path = \"/big.bin\"")[0]["resp_bytes"]
expect(big > 30000, "the decrypted response body is counted", big)
summ = q("SELECT tls, count(*) AS n FROM connections GROUP BY tls")
eq(summ, [{"tls": "openssl", "n": 6}], "tls of the connections")
' $NGX $PYS
"$HTTPANALYZE" -q "$T/tls.htc" >"$T/summary.txt" 2>&1 || fail "httpanalyze summary"
grep -q "^tls        6 connections: 6 decrypted (openssl 6), 0 encrypted" "$T/summary.txt" ||
	fail "summary: $(grep '^tls' "$T/summary.txt")"
# the plaintext events are on the ciphertext's connection: same conn_id
check "$T/tls.htc" '
ng = sel(comm="nginx")
plain = sel(ng, syscall=lambda s: s in ("ssl_read", "ssl_write"))
expect(plain, "no nginx plaintext events")
cipher = sel(ng, syscall=lambda s: s in ("read", "write", "writev", "recvfrom"))
expect(set(e["conn_id"] for e in plain) <= set(e["conn_id"] for e in cipher), "plaintext on the ciphertext connections")
expect(any(e["payload"].startswith("GET /a.txt HTTP/1.1") for e in plain), "plaintext request")
'

# exported for Wireshark (issue 17): the plaintext is the packets' payload,
# so tshark reads the HTTP requests it could not decrypt on its own
if command -v tshark >/dev/null; then
	"$HTTPCAP" -q -r "$T/tls.htc" -w "$T/tls.pcapng" || fail "export of the TLS capture"
	got=$(tshark -n -r "$T/tls.pcapng" -d "tcp.port==$NGX,http" -d "tcp.port==$PYS,http" \
		-Y http.request -T fields -e http.request.method -e http.request.uri 2>/dev/null | sort | uniq -c)
	for want in "GET	/a.txt" "GET	/nope" "GET	/py.txt"; do
		echo "$got" | grep -q "$want" || fail "export: '$want' not read by tshark: $got"
	done
	n=$(tshark -n -r "$T/tls.pcapng" -Y "tcp.analysis.flags && !tcp.analysis.lost_segment && !tcp.analysis.window_update" 2>/dev/null | wc -l)
	[ "$n" = 0 ] || fail "export: $n packets with TCP analysis flags other than the snaplen gaps"
	info "export: tshark reads the decrypted requests from the pcapng"
fi

# --no-tls: the same traffic, encrypted, never an error
start_capture nocap -w "$T/notls.htc" --no-tls --port $NGX --port $PYS
traffic
settle
stop_capture "$CAP_PID" || fail "httpcap --no-tls exited with status $?"
analyze "$T/notls.htc" '
eq(q("SELECT count(*) AS n FROM requests")[0]["n"], 0, "requests without TLS probes")
conns = q("SELECT tls, tls_reason, protocol FROM connections")
eq(set((c["tls"], c["tls_reason"], c["protocol"]) for c in conns), {("encrypted", "not probed", "tls")},
   "connections without TLS probes")
eq(q("SELECT count(*) AS n FROM calls WHERE error OR unanswered")[0]["n"], 0, "encrypted calls are no errors")
'
info "nginx, curl and python over OpenSSL decrypted at both ends; --no-tls keeps them encrypted"
