#!/bin/bash
# Two Python servers (the same comm, python3) behind nginx, told apart by
# their service names (script and port), and the two latencies of a linked
# request: the backend's own time and the time nginx waited for it (issue
# 20).  Each backend writes its response in two small writes (head, then
# body) with Nagle's algorithm on (no TCP_NODELAY), over keep-alive
# connections from nginx: the body waits for the ACK of the head, which
# nginx delays, so nginx waits far longer than the backend worked.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
FRONT=19200
BACK_A=19201
BACK_B=19202
N=20	# requests per backend

# the backend: BaseHTTPRequestHandler with HTTP/1.1 keep-alive; its head is
# flushed by end_headers (one write), its body is a second write
cat >"$T/backend.py" <<'EOF'
import http.server, sys

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("%s %s\n" % (sys.argv[0].rsplit("/", 1)[-1], self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
cp "$T/backend.py" "$T/stock.py"
/usr/bin/python3 "$T/backend.py" $BACK_A >"$T/backend.err" 2>&1 &
track $!
/usr/bin/python3 "$T/stock.py" $BACK_B >"$T/stock.err" 2>&1 &
track $!
wait_port $BACK_A
wait_port $BACK_B

start_nginx_conf $FRONT <<EOF
    upstream a { server 127.0.0.1:$BACK_A; keepalive 4; }
    upstream b { server 127.0.0.1:$BACK_B; keepalive 4; }
    server {
        listen 127.0.0.1:$FRONT;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /a/ { proxy_pass http://a; }
        location /b/ { proxy_pass http://b; }
    }
EOF

start_capture cap -w "$T/svc.htc" --port $FRONT --port $BACK_A --port $BACK_B
# one keep-alive curl per backend, N requests each (bounded: 60 s)
urls_a=() urls_b=()
for i in $(seq $N); do
	urls_a+=(-o /dev/null "http://127.0.0.1:$FRONT/a/$i")
	urls_b+=(-o /dev/null "http://127.0.0.1:$FRONT/b/$i")
done
curl -s --max-time 60 -w '%{http_code}\n' "${urls_a[@]}" >"$T/curl-a.out" || fail "curl /a failed"
curl -s --max-time 60 -w '%{http_code}\n' "${urls_b[@]}" >"$T/curl-b.out" || fail "curl /b failed"
[ "$(grep -c '^200$' "$T/curl-a.out" "$T/curl-b.out" | awk -F: '{s += $2} END {print s}')" = $((2 * N)) ] ||
	fail "curl: not every answer was 200: $(cat "$T/curl-a.out" "$T/curl-b.out" | sort | uniq -c)"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

host=$(hostname)
HA="$HTTPANALYZE"
analyze "$T/svc.htc" '
host, fa, fb, fr, n = args[0], args[1], args[2], args[3], int(args[4])
svc = {r["service"]: r for r in q("SELECT * FROM services")}
want_a = "python3 backend.py:%s@%s" % (fa, host)
want_b = "python3 stock.py:%s@%s" % (fb, host)
want_n = "nginx:%s@%s" % (fr, host)
for w in (want_a, want_b, want_n):
    expect(w in svc, "service %r missing" % w, sorted(svc))
# both backends are python3: the names tell them apart
eq(svc[want_a]["comm"], svc[want_b]["comm"], "the two backends share their comm")
# every request of a backend is its own service, in the requests and in endpoint_stats
rows = q("SELECT r.path, s.service FROM requests r JOIN services s USING (file_idx, pid)"
         " WHERE r.server_port IN (%s, %s)" % (fa, fb))
eq(len(rows), 2 * n, "backend requests")
for r in rows:
    eq(r["service"], want_a if r["path"].startswith("/a/") else want_b, "service of " + r["path"])
ep = {(r["service"], r["endpoint"]): r["requests"] for r in q("SELECT * FROM endpoint_stats")}
eq(ep.get((want_a, "GET /a/:id")), n, "endpoint_stats of backend.py")
eq(ep.get((want_b, "GET /b/:id")), n, "endpoint_stats of stock.py")
# both latencies of every linked backend request: nginx (the client) waited
# at least as long as the backend worked
lk = q("SELECT r.request_id, r.end_ns - r.start_ns AS server_ns, r.client_latency_ns AS client_ns,"
       " c.server_latency_ns AS back_ns FROM requests r JOIN calls c ON c.call_id = r.parent_call_id"
       " WHERE r.server_port IN (%s, %s)" % (fa, fb))
eq(len(lk), 2 * n, "backend requests linked to the nginx call that made them")
for r in lk:
    expect(r["client_ns"] is not None and r["client_ns"] >= r["server_ns"],
           "client time >= server time", r)
    eq(r["back_ns"], r["server_ns"], "calls.server_latency_ns is the request time")
srv = sorted(r["server_ns"] for r in lk)[n - 1] / 1e6
cli = sorted(r["client_ns"] for r in lk)[n - 1] / 1e6
print("  backend p50: server %.3f ms, as nginx saw it %.3f ms" % (srv, cli))
# Nagle: the body waits for the delayed ACK of the head (40 ms on Linux)
expect(cli > srv + 20, "client p50 %.3f ms not > server p50 %.3f ms + 20 ms (Nagle)" % (cli, srv))
ls = {r["service"]: r for r in q("SELECT * FROM linked_stats")}
expect(want_a in ls and want_b in ls, "linked_stats", ls)
' "$host" $BACK_A $BACK_B $FRONT $N

# the listings: --service by prefix, both latencies in show and summary,
# the one JSON style
"$HA" -q requests --service 'python3 backend.py' --format json "$T/svc.htc" >"$T/req-a.json" ||
	fail "httpanalyze requests --service"
[ "$(grep -c '"service": "python3 backend.py:'$BACK_A'@' "$T/req-a.json")" = $N ] ||
	fail "--service 'python3 backend.py': $(head -3 "$T/req-a.json")"
grep -q '"request_id": 10' "$T/req-a.json" || fail "grep '\"request_id\": ' on httpanalyze's JSON"
[ "$("$HA" -q requests --service python3 --format csv "$T/svc.htc" | tail -n +2 | wc -l)" = $((2 * N)) ] ||
	fail "--service python3: not both backends"
[ "$("$HA" -q requests --service "nginx:$FRONT" --format csv "$T/svc.htc" | tail -n +2 | wc -l)" = $((2 * N)) ] ||
	fail "--service nginx:$FRONT"
id=$(head -1 "$T/req-a.json" | sed 's/.*"request_id": \([0-9]*\).*/\1/')
"$HA" -q show "$id" "$T/svc.htc" >"$T/show.out" || fail "show $id"
grep -q "service  python3 backend.py:$BACK_A@" "$T/show.out" || fail "show: service: $(head -3 "$T/show.out")"
grep -q "latency  server .* ms .*, client .* ms" "$T/show.out" || fail "show: both latencies: $(head -4 "$T/show.out")"
"$HA" -q summary --section linked "$T/svc.htc" >"$T/linked.out" || fail "summary --section linked"
grep -q "python3 stock.py:$BACK_B@" "$T/linked.out" || fail "summary linked: $(cat "$T/linked.out")"
info "two python3 backends named apart; server and client latency of $((2 * N)) linked requests checked"
