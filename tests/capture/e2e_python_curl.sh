#!/bin/bash
# python3 http.server with curl: sendto/recvfrom on both sides; three
# requests, checked field by field against what curl reports it moved.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18510

mkdir -p "$T/www"
echo "hello from python" >"$T/www/hello.txt"
head -c 3000 /dev/urandom | base64 >"$T/www/data.txt"
start_python_server $PORT "$T/www"
start_capture cap -w "$T/py.htc" --port $PORT

: >"$T/curl.sizes"
for path in /hello.txt /data.txt /missing; do
	curl -s -o /dev/null -w '%{local_port} %{size_request} %{size_header} %{size_download} %{http_code}\n' \
		"http://127.0.0.1:$PORT$path" >>"$T/curl.sizes" || fail "curl $path failed"
done
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"

check "$T/py.htc" '
PORT = int(args[0])
sizes = [l.split() for l in open(args[1])]
paths = ["/hello.txt", "/data.txt", "/missing"]
server = sel(comm="python3")
client = sel(comm="curl")
expect(server and client, "no python3 or curl events")
# every event is on our port
for e in ev:
    expect(PORT in (e["local_port"], e["remote_port"]), "event off port", e)
# three inbound requests, in order, with method and path
reqs = server_requests(server)
eq(len(reqs), 3, "requests")
eq([r["method"] for r in reqs.values()], ["GET"] * 3, "methods")
eq([r["path"] for r in reqs.values()], paths, "paths")
for (lport, sreq, shdr, sdown, code), path in zip(sizes, paths):
    lport = int(lport)
    c = sel(client, local_port=lport)
    s = sel(server, remote_port=lport)
    expect(c and s, "no events for the connection from port %d" % lport)
    # 5-tuple, both sides
    for e in c:
        eq((e["local_ip"], e["remote_ip"], e["remote_port"]), ("127.0.0.1", "127.0.0.1", PORT), "client 5-tuple")
    for e in s:
        eq((e["local_ip"], e["remote_ip"], e["local_port"]), ("127.0.0.1", "127.0.0.1", PORT), "server 5-tuple")
    eq(len(set(e["conn_id"] for e in c)), 1, "client conn_ids for port %d" % lport)
    # connect and accept seen
    expect(sel(c, event_type="connect", result=lambda r: r in (0, -115)), "no connect", c)
    expect(sel(s, event_type="accept"), "no accept", s)
    expect(sel(c, event_type="close") and sel(s, event_type="close"), "close missing")
    # syscalls: curl and python use sendto/recvfrom
    cw, cr = sel(c, event_type="write"), sel(c, event_type="read")
    sw, sr = sel(s, event_type="write"), sel(s, event_type="read")
    eq(set(e["syscall"] for e in cw + sw), {"sendto"}, "write syscalls")
    eq(set(e["syscall"] for e in cr + sr), {"recvfrom"}, "read syscalls")
    # byte counts: what curl says it moved, on both sides
    eq(total(cw), int(sreq), "curl bytes sent, %s" % path)
    eq(total(sr), int(sreq), "python bytes read, %s" % path)
    eq(total(cr), int(shdr) + int(sdown), "curl bytes received, %s" % path)
    eq(total(sw), int(shdr) + int(sdown), "python bytes written, %s" % path)
    # request line in the client write, status line in the server response
    expect(cw[0]["payload"].startswith("GET %s HTTP/1.1\r\n" % path), "request line", cw[0])
    eq(cw[0]["method"], "GET", "client write method")
    eq(cw[0]["path"], path, "client write path")
    status = "HTTP/1.0 %s " % code
    expect(any(e["payload"].startswith(status) for e in sw), "no %r in the response" % status, sw)
    expect(cr[0]["payload"].startswith(status), "curl did not read %r" % status, cr[0])
    # the server side events of one request carry its id
    rid = sr[0]["request_id"]
    expect(rid is not None and any(e["request_id"] == rid for e in sw), "response not tied to request %r" % rid)
' $PORT "$T/curl.sizes"
info "3 requests checked"
