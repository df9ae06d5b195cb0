#!/bin/bash
# TLS plaintext from Go's crypto/tls: a small HTTPS server and client
# (tests/capture/tls/tlsgo.go) built by the test with Debian's Go, once as
# usual and once stripped (-ldflags="-s -w": no symbol table, found through
# the pclntab).  The server runs before the capture (found in /proc), the
# client starts during it (found by its exec).  Every request is found at
# both ends, decrypted by go and linked (the client is a copy of the
# program, another file: probed when it is exec'd); the Go processes are unharmed (the
# client gets its three answers intact, the server still answers after
# the capture); the Authorization token never reaches the file.
. "$(dirname "$0")/lib.sh"
need_root
command -v go >/dev/null || { echo "SKIP: go is not installed (golang-go)"; exit 0; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: Go probes are x86-64 only"; exit 0; }
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
TOKEN=$(rand_token)

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
	fail "openssl req could not make a certificate"
# stdlib only: no network, caches in the temp dir
export GOCACHE="$T/gocache" GOPATH="$T/gopath" GOFLAGS=-mod=mod GO111MODULE=off
cp "$ROOT/tests/capture/tls/tlsgo.go" "$T/tlsgo.go"
(cd "$T" && go build -o tlsgo tlsgo.go) >"$T/build.err" 2>&1 || fail "go build: $(tail -3 "$T/build.err")"
(cd "$T" && go build -ldflags="-s -w" -o tlsgo-stripped tlsgo.go) >>"$T/build.err" 2>&1 ||
	fail "go build -s -w: $(tail -3 "$T/build.err")"
readelf -S "$T/tlsgo-stripped" | grep -q '\.symtab' && fail "the stripped build has a symbol table"

run() {	# run BINARY PORT
	local bin=$1 port=$2 name srv
	name=$(basename "$bin")
	"$bin" server "$port" "$T/cert.pem" "$T/key.pem" >"$T/$name-server.out" 2>"$T/$name-server.err" &
	srv=$!
	track $srv
	wait_port "$port"
	start_capture "cap-$name" -v -w "$T/$name.htc" --port "$port"
	grep -q "TLS: probing $bin (go: crypto/tls" "$T/cap-$name.err" ||
		fail "$name: the running server was not probed"
	cp "$bin" "$bin-client"
	TOKEN=$TOKEN "$bin-client" client "$port" "$T/cert.pem" >"$T/$name-client.out" 2>"$T/$name-client.err" ||
		fail "$name: the client failed: $(cat "$T/$name-client.err")"
	settle
	stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
	sed -n '/capturing/,$p' "$T/cap-$name.err" | grep -q "TLS: probing $bin-client (go: crypto/tls" ||
		fail "$name: the client started during the capture was not probed at its exec"
	[ "$(cat "$T/$name-client.out")" = "200 hello /one
200 hello /two
404 404 page not found" ] || fail "$name: client output: $(cat "$T/$name-client.out")"
	kill -0 $srv 2>/dev/null || fail "$name: the server died"
	out=$(curl -s --cacert "$T/cert.pem" "https://127.0.0.1:$port/after") || fail "$name: server gone after the capture"
	[ "$out" = "hello /after" ] || fail "$name: server answered '$out' after the capture"
	if zstdcat -q "$T/$name.htc" 2>/dev/null | grep -a -q "$TOKEN"; then
		fail "$name: the Authorization token is in the file"
	fi
	analyze "$T/$name.htc" '
reqs = q("SELECT method, path, status, tls, parent_call_id FROM requests ORDER BY start_ns")
eq([(r["method"], r["path"], r["status"], r["tls"]) for r in reqs],
   [("GET", "/one", 200, "go"), ("GET", "/two", 200, "go"), ("GET", "/missing", 404, "go")], "server requests")
expect(all(r["parent_call_id"] for r in reqs), "requests linked to their calls", reqs)
calls = q("SELECT summary, status, tls, child_request_id FROM calls ORDER BY start_ns")
eq([(c["summary"], c["status"], c["tls"]) for c in calls],
   [("GET /one", 200, "go"), ("GET /two", 200, "go"), ("GET /missing", 404, "go")], "client calls")
eq(q("SELECT count(DISTINCT conn) AS n FROM calls")[0]["n"], 1, "one keep-alive connection")
eq(q("SELECT group_concat(DISTINCT tls) AS t FROM connections")[0]["t"], "go", "connections decrypted by go")
'
	info "$name: 3 requests decrypted at both ends, processes unharmed"
}

run "$T/tlsgo" 19010
run "$T/tlsgo-stripped" 19011
