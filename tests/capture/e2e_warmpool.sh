#!/bin/bash
# Truth on a warm pool (issue 13): nginx as a reverse proxy whose upstream
# keepalive pool to a Python HTTP/1.1 backend is warmed BEFORE httpcap and
# `tcpdump -i lo` start, so every upstream connection is older than both
# captures; then a few hundred requests while both record.  tcpdump's pcap,
# read by tshark, is the truth:
#   - every request tshark finds (method, URI, status), on the front port
#     and on the backend port, is found by httpanalyze in the .htc, at both
#     ends (nginx's calls and the backend's requests), the first requests
#     of the pooled connections included;
#   - every nginx -> backend call is linked to the backend request it
#     became, and that request to its nginx request (a pooled connection
#     joined mid-way links by TCP sequence numbers only);
#   - nothing is reported lost that was not lost (no gap, no unanswered,
#     no drops);
#   - the sequence numbers are TCP's own: nginx's first byte written on
#     each pooled connection has the number tcpdump saw on its segment,
#     and the backend's first byte read the same;
#   - httpanalyze on the pcap (sequence numbers from the packets) finds
#     the same requests and links nothing wrongly (one process per side
#     is unknown there: no calls, so no links, but the same framing).
# Ports 19300-19399.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v tcpdump >/dev/null || fail "tcpdump missing (TEST_PKGS)"
command -v tshark >/dev/null || fail "tshark missing (TEST_PKGS)"
FRONT=19310
BACK=19311
N=${WARMPOOL_N:-300}
# Debian's python3, whatever a pyenv puts first on PATH
PY=/usr/bin/python3

cat >"$T/backend.py" <<'PYEOF'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        code = 404 if self.path.startswith("/missing") else 201 if self.command == "POST" else 200
        body = ("%s %s\n" % (self.command, self.path)).encode() * (1 + len(self.path) % 7)
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *a):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF

cat >"$T/client.py" <<'PYEOF'
# client.py PORT N CONNS TAG: N requests over CONNS keep-alive connections
import http.client, sys
port, n, conns, tag = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cs = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(conns)]
for i in range(n):
    c = cs[i % conns]
    if i % 9 == 4:
        c.request("POST", "/form/%s/%d" % (tag, i), body=b"x=%d" % i,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    elif i % 10 == 7:
        c.request("GET", "/missing/%s/%d" % (tag, i))
    else:
        c.request("GET", "/item/%s/%d?q=%d" % (tag, i, i * 7))
    r = c.getresponse()
    r.read()
for c in cs:
    c.close()
PYEOF

$PY "$T/backend.py" $BACK >"$T/backend.err" 2>&1 &
track $!
start_nginx_conf $FRONT <<EOF
    keepalive_requests 100000;
    upstream back {
        server 127.0.0.1:$BACK;
        keepalive 8;
        keepalive_requests 100000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$FRONT;
        location / {
            proxy_pass http://back;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
wait_port $BACK

# warm the pool: parallel clients make nginx open several upstream
# connections, which stay idle in the pool
pids=()
for k in 1 2 3 4; do
	timeout 60 $PY "$T/client.py" $FRONT 20 2 "warm$k" >"$T/warm$k.err" 2>&1 &
	pids+=($!)
	track $!
done
for p in "${pids[@]}"; do wait "$p" || fail "warming client $p failed"; done
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FRONT/item/check" | grep -q 200 ||
	fail "the proxy does not answer"
pool=$(ss -Htn state established "( dport = :$BACK )" | wc -l)
[ "$pool" -ge 2 ] || fail "the upstream pool holds $pool connections, want at least 2"
info "pool warmed: $pool upstream connections open before the captures"

start_tcpdump "$T/x.pcap" "tcp port $FRONT or tcp port $BACK"
start_capture cap -w "$T/x.htc" --port $FRONT --port $BACK

# the load: a few parallel keep-alive clients, bounded in count and time
pids=()
for k in 1 2 3; do
	timeout 120 $PY "$T/client.py" $FRONT $((N / 3)) 2 "run$k" >"$T/client$k.err" 2>&1 &
	pids+=($!)
	track $!
done
for p in "${pids[@]}"; do wait "$p" || fail "client $p failed"; done
settle 2
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
kill -INT "$TD_PID"
wait "$TD_PID" 2>/dev/null
[ -s "$T/x.pcap" ] || fail "tcpdump wrote nothing"
grep -q "^0 events dropped" "$T/cap.err" || fail "httpcap dropped events: $(grep dropped "$T/cap.err")"

# the truth: tshark's requests and responses, per port
tshark -r "$T/x.pcap" -o tcp.relative_sequence_numbers:FALSE -d tcp.port==$BACK,http \
	-d tcp.port==$FRONT,http -Y http -T fields -E separator=/t \
	-e frame.number -e tcp.srcport -e tcp.dstport -e tcp.seq -e http.request.method \
	-e http.request.uri -e http.response.code -e http.request_in -e tcp.len \
	>"$T/tshark.tsv" 2>"$T/tshark.err" || fail "tshark"
tshark -r "$T/x.pcap" -o tcp.relative_sequence_numbers:FALSE -Y "tcp.len > 0" -T fields \
	-E separator=/t -e tcp.srcport -e tcp.dstport -e tcp.seq \
	>"$T/segs.tsv" 2>>"$T/tshark.err" || fail "tshark segments"

Q_REQ="SELECT request_id, method, path, status, server_port, client_port, gap, unanswered,
  parent_request_id, parent_call_id, preexisting FROM requests
  JOIN (SELECT conn, preexisting FROM connections) USING (conn)"
Q_CALL="SELECT call_id, request_id, child_request_id, name, summary, status, remote_port,
  local_port, flags, conn FROM calls"
Q_CONN="SELECT conn, pid, comm, local_port, remote_port, role, preexisting, seq_in, seq_out,
  unseen_in FROM connections"
Q_EV="SELECT count(*) AS n, count(tcp_seq) AS seq FROM events WHERE type IN ('read', 'write')"
for q in REQ CALL CONN EV; do
	v=Q_$q
	"$HTTPANALYZE" sql --format json -q "${!v}" "$T/x.htc" >"$T/$q.json" 2>"$T/an-$q.err" ||
		fail "httpanalyze $q on the .htc"
done
"$HTTPANALYZE" sql --format json -q "$Q_REQ" "$T/x.pcap" >"$T/pcap-REQ.json" 2>"$T/an-pcap.err" ||
	fail "httpanalyze on the pcap"

$PY - "$T" $FRONT $BACK $N >"$T/compare.out" 2>"$T/compare.err" <<'PYEOF' || fail "the .htc and the pcap disagree"
import collections, json, sys
T, front, back, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load = lambda name: [json.loads(l) for l in open("%s/%s" % (T, name)) if l.strip()]
reqs, calls, conns, preqs = load("REQ.json"), load("CALL.json"), load("CONN.json"), load("pcap-REQ.json")
ev = load("EV.json")[0]
assert ev["n"] > 0 and ev["seq"] == ev["n"], "data events with a sequence number: %r" % ev

# tshark's requests, with the status of their responses
rq, status = {}, {}
for line in open(T + "/tshark.tsv"):
    f = line.rstrip("\n").split("\t")
    f += [""] * (9 - len(f))
    num, sport, dport, seq, method, uri, code, req_in, _ = f
    if method:
        rq[int(num)] = (int(dport), method, uri)
    if code and req_in:
        status[int(req_in)] = int(code)
truth = collections.Counter((p, m, u, status.get(k)) for k, (p, m, u) in rq.items())
for port in (front, back):
    nt = sum(c for (p, _, _, _), c in truth.items() if p == port)
    assert nt >= n, "tshark found %d requests on port %d, want at least %d" % (nt, port, n)
assert all(s is not None for (_, _, _, s) in truth), "tshark: a request without response"

# 1. every request at both ends of the .htc: the servers' requests...
got = collections.Counter((r["server_port"], r["method"], r["path"], r["status"]) for r in reqs)
missing, extra = truth - got, got - truth
assert not missing and not extra, "requests differ from tshark's:\n  missing %r\n  extra %r" % (
    sorted(missing.items())[:10], sorted(extra.items())[:10])
# ... and nginx's calls, one per backend request
bk = collections.Counter((c["summary"].split(" ", 1)[0],
                          c["summary"].split(" ", 1)[1], c["status"])
                         for c in calls if c["remote_port"] == back)
tb = collections.Counter((m, u, s) for (p, m, u, s), k in truth.items() for _ in range(k) if p == back)
assert bk == tb, "nginx's calls differ from tshark's backend requests:\n  missing %r\n  extra %r" % (
    sorted((tb - bk).items())[:10], sorted((bk - tb).items())[:10])

# 2. links: every call to the backend has its child, whose parent is the
# nginx request that made the call
byid = {r["request_id"]: r for r in reqs}
unlinked = [c for c in calls if c["remote_port"] == back and not c["child_request_id"]]
assert not unlinked, "%d of %d calls without their backend request, e.g. %r" % (
    len(unlinked), sum(1 for c in calls if c["remote_port"] == back), unlinked[:3])
for c in calls:
    if c["remote_port"] != back:
        continue
    child = byid[c["child_request_id"]]
    assert child["server_port"] == back and child["path"] == c["summary"].split(" ", 1)[1], \
        "call %r linked to the wrong request %r" % (c, child)
    assert child["parent_call_id"] == c["call_id"], "request %r: parent call %r" % (child, c)
    assert c["request_id"] and child["parent_request_id"] == c["request_id"], \
        "request %r: parent %r, the call's request is %r" % (child, child["parent_request_id"], c["request_id"])
    par = byid[c["request_id"]]
    assert par["server_port"] == front and par["path"] == child["path"], \
        "call %r made by %r" % (c, par)

# 3. nothing reported lost
bad = [r for r in reqs if r["gap"] or r["unanswered"]]
assert not bad, "requests flagged lost or unanswered: %r" % bad[:5]

# 4. the pooled connections: joined mid-way at both ends, their first
# captured requests present, TCP's own numbers
pooled_c = [c for c in conns if c["remote_port"] == back and c["preexisting"]]
pooled_s = [c for c in conns if c["local_port"] == back and c["preexisting"]]
assert len(pooled_c) >= 2 and len(pooled_s) == len(pooled_c), \
    "pooled connections: %d nginx ends, %d backend ends" % (len(pooled_c), len(pooled_s))
first_seg = {}
for line in open(T + "/segs.tsv"):
    sport, dport, seq = line.split()
    first_seg.setdefault((int(sport), int(dport)), int(seq))
used = 0
for c in pooled_c:
    s = [x for x in pooled_s if x["remote_port"] == c["local_port"]]
    assert len(s) == 1, "no backend end for nginx's connection %r" % c
    s = s[0]
    if c["seq_out"] is None:
        continue	# idle through the capture
    used += 1
    want = first_seg.get((c["local_port"], back))
    assert c["seq_out"] == want == s["seq_in"], \
        "port %d: nginx's first byte written %r, tcpdump's %r, backend's first read %r" % (
            c["local_port"], c["seq_out"], want, s["seq_in"])
    want = first_seg.get((back, c["local_port"]))
    assert c["seq_in"] == want == s["seq_out"], \
        "port %d: backend's first byte written %r, tcpdump's %r, nginx's first read %r" % (
            c["local_port"], s["seq_out"], want, c["seq_in"])
    on_conn = [r for r in reqs if r["server_port"] == back and r["client_port"] == c["local_port"]]
    assert on_conn and all(r["preexisting"] for r in on_conn), "no request on pooled port %d" % c["local_port"]
assert used >= 2, "only %d pooled connections carried requests" % used

# 5. the pcap alone: the same requests
pg = collections.Counter((r["server_port"], r["method"], r["path"], r["status"]) for r in preqs)
assert pg == truth, "httpanalyze on the pcap:\n  missing %r\n  extra %r" % (
    sorted((truth - pg).items())[:10], sorted((pg - truth).items())[:10])
assert not [r for r in preqs if r["gap"] or r["unanswered"]], "pcap: requests flagged lost"
print("%d requests on each port, %d nginx calls all linked, %d pooled connections (%d used), sequence numbers = tcpdump's"
      % (sum(c for (p, _, _, _), c in truth.items() if p == front),
         sum(1 for c in calls if c["remote_port"] == back), len(pooled_c), used))
PYEOF
info "$(cat "$T/compare.out")"
