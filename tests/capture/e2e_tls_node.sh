#!/bin/bash
# TLS plaintext from Node.js: its https client against nginx over TLS.
# Node links OpenSSL statically (nodesource's build; Debian's links
# libssl.so.3: either is probed, by its symbols), and feeds it through
# memory (libuv reads and writes the socket outside SSL_read/SSL_write), so
# its calls are tied by the socket its thread read last.  Both requests are
# found at both ends, decrypted, linked; the secret never reaches the file.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/capture/tls/lib_tls.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v node >/dev/null || { echo "SKIP: node is not installed (nodejs)"; exit 0; }
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
PORT=19030
TOKEN=$(rand_token)
NODE=$(readlink -f "$(command -v node)")

make_cert
mkdir -p "$T/www"
echo "small file" >"$T/www/a.txt"
start_nginx_tls $PORT "$T/www"
start_capture cap -v -w "$T/node.htc" --port $PORT
PORT=$PORT TOKEN=$TOKEN CA="$T/cert.pem" timeout 30 node - >"$T/node.out" 2>"$T/node.err" <<'JS' || fail "node client: $(tail -3 "$T/node.err")"
const https = require("https"), fs = require("fs");
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(process.env.CA) });
function get(path) {
  return new Promise((ok, ko) => {
    https.get({ host: "127.0.0.1", port: +process.env.PORT, path, agent,
                headers: { Authorization: "Bearer " + process.env.TOKEN } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => ok(res.statusCode + " " + body));
    }).on("error", ko);
  });
}
(async () => {
  console.log(await get("/a.txt"));
  console.log(await get("/nope"));
  agent.destroy();
})();
JS
grep -q "^200 small file" "$T/node.out" || fail "node got: $(cat "$T/node.out")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
# node's OpenSSL: in its own executable (probed when node is exec'd, by
# its symbols), or libssl.so.3
if nm -D "$NODE" 2>/dev/null | grep -q -w 'T SSL_read'; then
	LIB=$NODE
	grep -q "TLS: probing $NODE (openssl: SSL_read" "$T/cap.err" || fail "node's static OpenSSL was not probed"
else
	LIB=libssl.so.3
	grep -q "TLS: probing .*libssl\.so\.3 (openssl:" "$T/cap.err" || fail "libssl.so.3 was not probed"
fi
no_secret "$T/node.htc" "$TOKEN"	# the Authorization token
analyze "$T/node.htc" '
reqs = q("SELECT method, path, status, tls FROM requests ORDER BY start_ns")
eq([(r["method"], r["path"], r["status"], r["tls"]) for r in reqs],
   [("GET", "/a.txt", 200, "openssl"), ("GET", "/nope", 404, "openssl")], "nginx requests")
calls = q("SELECT comm, summary, status, tls, child_request_id FROM calls ORDER BY start_ns")
eq([(c["summary"], c["status"], c["tls"]) for c in calls],
   [("GET /a.txt", 200, "openssl"), ("GET /nope", 404, "openssl")], "node calls")
expect(all(c["child_request_id"] for c in calls), "calls linked to the requests", calls)
'
info "node's https client decrypted (OpenSSL of $LIB)"
