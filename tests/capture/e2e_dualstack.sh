#!/bin/bash
# A dual-stack server (python3 http.server bound to ::) reached over IPv4
# and IPv6: the IPv4 client's connection is reported with IPv4 addresses on
# both ends (v4-mapped addresses unmapped), so the two 5-tuples match; the
# IPv6 one as ::1.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18515

python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null \
	|| { echo "SKIP: no IPv6 loopback"; exit 0; }
mkdir -p "$T/www"
echo ds >"$T/www/ds.txt"
python3 -m http.server $PORT --bind :: --directory "$T/www" >"$T/pyserver.log" 2>&1 &
track $!
wait_port $PORT ::1
start_capture cap -w "$T/ds.htc" --port $PORT
curl -s -4 -o /dev/null -w '%{local_port}\n' "http://127.0.0.1:$PORT/ds.txt?v4" >"$T/ports" || fail "curl -4"
curl -s -6 -o /dev/null -w '%{local_port}\n' "http://[::1]:$PORT/ds.txt?v6" >>"$T/ports" || fail "curl -6"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

check "$T/ds.htc" '
p4, p6 = [int(x) for x in open(args[0]).read().split()]
port = int(args[1])
for lport, ip in ((p4, "127.0.0.1"), (p6, "::1")):
    c = sel(comm="curl", local_port=lport)
    s = sel(comm="python3", remote_port=lport)
    expect(c and s, "no events for the %s connection" % ip)
    for e in c:
        eq((e["local_ip"], e["remote_ip"], e["remote_port"]), (ip, ip, port), "curl 5-tuple")
    for e in s:
        eq((e["local_ip"], e["remote_ip"], e["local_port"]), (ip, ip, port), "server 5-tuple")
    reqs = server_requests(s)
    eq([r["path"] for r in reqs.values()], ["/ds.txt?" + ("v4" if ip == "127.0.0.1" else "v6")], "request")
' "$T/ports" $PORT
info "dual-stack server: IPv4 and IPv6 clients"
