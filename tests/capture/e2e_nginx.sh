#!/bin/bash
# nginx serving static files: recv (recvfrom), writev for the headers,
# sendfile for the body (length, no payload); a keep-alive curl asking for
# three URLs on one connection.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
PORT=18520

mkdir -p "$T/www"
head -c 200000 /dev/urandom >"$T/www/big.bin"
echo "small file" >"$T/www/small.txt"
start_nginx $PORT "$T/www"
start_capture cap -w "$T/nginx.htc" --port $PORT

# one connection, three requests (curl reuses it)
curl -s -w '%{local_port} %{size_request} %{size_header} %{size_download} %{num_connects}\n' \
	-o /dev/null "http://127.0.0.1:$PORT/small.txt" \
	-o /dev/null "http://127.0.0.1:$PORT/big.bin" \
	-o /dev/null "http://127.0.0.1:$PORT/nope" >"$T/curl.sizes" || fail "curl failed"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"

check "$T/nginx.htc" '
PORT = int(args[0])
sizes = [l.split() for l in open(args[1])]
eq(len(set(s[0] for s in sizes)), 1, "curl used one connection")
eq(sum(int(s[4]) for s in sizes), 1, "curl connects")
lport = int(sizes[0][0])
big = int(args[2])
ng = sel(comm="nginx")
cu = sel(comm="curl")
expect(ng and cu, "no nginx or curl events")
eq(len(set(e["conn_id"] for e in sel(cu, event_type=lambda t: t in ("read", "write")))), 1, "curl connections")
s = sel(ng, remote_port=lport)
for e in s:
    eq((e["local_ip"], e["local_port"], e["remote_ip"]), ("127.0.0.1", PORT, "127.0.0.1"), "nginx 5-tuple")
reqs = server_requests(s)
eq(len(reqs), 3, "requests on the keep-alive connection")
eq([(r["method"], r["path"]) for r in reqs.values()],
   [("GET", "/small.txt"), ("GET", "/big.bin"), ("GET", "/nope")], "requests")
reads = sel(s, event_type="read")
writes = sel(s, event_type="write")
eq(set(e["syscall"] for e in reads), {"recvfrom"}, "nginx read syscalls (recv)")
expect({"writev", "sendfile"} <= set(e["syscall"] for e in writes), "nginx write syscalls", sorted(set(e["syscall"] for e in writes)))
sf = sel(writes, syscall="sendfile")
eq(total(sf), big + len("small file\n"), "sendfile bytes (both files)")
for e in sf:
    eq((e["captured_len"], e["payload"]), (0, ""), "sendfile payload")
# status lines in writev payloads
heads = [e["payload"] for e in sel(writes, syscall="writev")]
eq(sum(1 for h in heads if h.startswith("HTTP/1.1 200 OK\r\n")), 2, "200 responses")
eq(sum(1 for h in heads if h.startswith("HTTP/1.1 404 Not Found\r\n")), 1, "404 responses")
# byte counts against curl
sent = sum(int(x[1]) for x in sizes)
recv = sum(int(x[2]) + int(x[3]) for x in sizes)
eq(total(reads), sent, "nginx bytes read")
eq(total(writes), recv, "nginx bytes written")
c = sel(cu, local_port=lport)
eq(total(sel(c, event_type="write")), sent, "curl bytes sent")
eq(total(sel(c, event_type="read")), recv, "curl bytes received")
' $PORT "$T/curl.sizes" 200000
info "keep-alive connection with 3 requests, writev + sendfile checked"
