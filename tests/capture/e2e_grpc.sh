#!/bin/bash
# gRPC (Debian's python3-grpcio): a server, a client calling it directly
# (unary, server streaming, client streaming, an error status), and the
# same client through nginx's grpc_pass, so that two traced services talk
# HTTP/2 to each other: calls and their grpc-status right, message counts
# right, the proxy's upstream calls attributed to its requests and linked
# to the requests they became.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
"$DEB_PYTHON" -c 'import grpc' 2>/dev/null || fail "python3-grpcio is missing (in TEST_PKGS)"
PORT=18630		# the gRPC server
FRONT=18631		# nginx grpc_pass to it
PEER_PY="$ROOT/tests/capture/grpc_peer.py"

"$DEB_PYTHON" "$PEER_PY" server $PORT >"$T/server.out" 2>"$T/server.err" &
track $!
wait_port $PORT
start_nginx_h2 $FRONT "location / { grpc_pass grpc://127.0.0.1:$PORT; }"
start_capture cap -w "$T/grpc.htc" -s 65536 --port $PORT --port $FRONT

"$DEB_PYTHON" "$PEER_PY" client $PORT 5 >"$T/direct.json" 2>"$T/direct.err" || fail "client failed"
"$DEB_PYTHON" "$PEER_PY" client $FRONT 3 >"$T/front.json" 2>"$T/front.err" || fail "client via nginx failed"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"
for f in direct front; do
	echo "  client ($f): $(cat "$T/$f.json")"
done

analyze "$T/grpc.htc" '
direct, front = json.load(open(args[0])), json.load(open(args[1]))
PORT, FRONT = int(args[2]), int(args[3])
for got, n in ((direct, 5), (front, 3)):
    eq((got["say_ok"], got["count_items"], got["sum"], got["fail_code"], got["fail_message"]),
       (n, 5, 8, "NOT_FOUND", "no such thing"), "what the client got")

# the server: every call a request, with its status and messages
want = {  # endpoint: (grpc_status, grpc_message, request messages, response messages)
    "demo.Echo/Say": (0, None, 1, 1),
    "demo.Echo/Count": (0, None, 1, 5),
    "demo.Echo/Sum": (0, None, 3, 1),
    "demo.Echo/Fail": (5, "no such thing", 1, 0),
}
reqs = q("SELECT request_id, parent_request_id, parent_call_id, method, path, endpoint, status, protocol,"
         " grpc_status, grpc_message, req_messages, resp_messages, error, unresolved"
         " FROM requests WHERE server_port = %d ORDER BY start_ns" % PORT)
eq(len(reqs), (5 + 3) + (3 + 3), "requests of the gRPC server")
eq(sum(1 for r in reqs if r["endpoint"] == "demo.Echo/Say"), 8, "Say requests")
for r in reqs:
    eq((r["method"], r["path"], r["status"], r["protocol"], r["unresolved"]),
       ("POST", "/" + r["endpoint"], 200, "grpc", 0), "request " + str(r))
    g = want[r["endpoint"]]
    eq((r["grpc_status"], r["grpc_message"], r["req_messages"], r["resp_messages"]), g,
       "status and messages of " + r["endpoint"])
    eq(r["error"], 1 if g[0] else 0, "error flag of " + r["endpoint"])

# the clients: every call, its grpc-status right; a name it has is right
# (the gRPC C core writes from threads named its own way: the calls are the
# ones nginx did not make)
calls = q("SELECT c.call_id, c.name, c.status, c.grpc_status, c.grpc_message, c.error, c.remote_port,"
          " c.child_request_id, r.endpoint AS child FROM calls c LEFT JOIN requests r"
          " ON r.request_id = c.child_request_id WHERE c.comm != \"nginx\" ORDER BY c.start_ns")
eq(len(calls), (5 + 3) + (3 + 3), "calls of the two clients")
eq(sum(1 for c in calls if c["grpc_status"] == 5), 2, "calls that failed with NOT_FOUND")
for c in calls:
    expect(c["child_request_id"], "a client call not linked", c)
    g = want[c["child"]]
    eq((c["grpc_status"], c["grpc_message"], c["error"]), (g[0], g[1], 1 if g[0] else 0),
       "grpc-status of a call to " + c["child"])
    # a name is the request'"'"'s, or unresolved ("?"): never another
    expect(c["name"] in (c["child"], "?"), "wrong call name", c)
resolved = sum(1 for c in calls if c["name"] != "?")
print("  client calls named: %d of %d" % (resolved, len(calls)))
# the first write of the gRPC C core is a sendmsg of 25 iovecs: all captured
# (HCB_MAX_IOV), so every call has its name
eq(resolved, len(calls), "client calls named")

# nginx: its upstream calls attributed to its requests, linked both ways
up = q("SELECT c.call_id, c.request_id, c.child_request_id, c.name, c.grpc_status, pr.endpoint AS parent,"
       " ch.endpoint AS child, ch.parent_request_id AS child_parent, ch.parent_call_id AS child_call"
       " FROM calls c LEFT JOIN requests pr ON pr.request_id = c.request_id"
       " LEFT JOIN requests ch ON ch.request_id = c.child_request_id WHERE c.comm = \"nginx\"")
eq(len(up), 6, "nginx upstream calls")
for c in up:
    eq((c["parent"], c["child"], c["name"]), (c["name"], c["name"], c["name"]), "proxied call " + str(c))
    eq((c["child_parent"], c["child_call"]), (c["request_id"], c["call_id"]), "link of " + c["name"])
    eq(c["grpc_status"], want[c["name"]][0], "grpc-status of the proxied " + c["name"])
deps = q("SELECT caller, protocol, name, calls, errors FROM v_deps WHERE caller != \"(none)\" ORDER BY name")
eq([(d["caller"], d["protocol"], d["name"], d["calls"], d["errors"]) for d in deps],
   [("demo.Echo/Count", "grpc", "demo.Echo/Count", 1, 0), ("demo.Echo/Fail", "grpc", "demo.Echo/Fail", 1, 1),
    ("demo.Echo/Say", "grpc", "demo.Echo/Say", 3, 0), ("demo.Echo/Sum", "grpc", "demo.Echo/Sum", 1, 0)],
   "deps of nginx")
' "$T/direct.json" "$T/front.json" $PORT $FRONT

# httpreplay sends the captured calls again over HTTP/2, with their
# captured bodies: same HTTP status, grpc-status and response bodies
HTTPREPLAY=${HTTPREPLAY:-$ROOT/$BUILD/httpreplay}
"$HTTPREPLAY" --allow-unsafe --port $PORT --speed max --concurrency 2 --max-mismatch 0 -t "http://127.0.0.1:$PORT" \
	"$T/grpc.htc" >"$T/replay.out" 2>&1 || fail "httpreplay: $(cat "$T/replay.out")"
grep -E "^(sent|status mismatches|body)" "$T/replay.out" | sed 's/^/  replay: /'
grep -Eq "^sent +14 \(answered 14, errors 0\)" "$T/replay.out" || fail "httpreplay: $(cat "$T/replay.out")"
grep -Eq "^body differences +0 \(of 14 compared\)" "$T/replay.out" || fail "httpreplay: $(cat "$T/replay.out")"
info "gRPC: unary, streaming and error calls right, direct and through nginx; links as for HTTP/1; replayed"

