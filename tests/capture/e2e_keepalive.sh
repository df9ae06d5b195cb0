#!/bin/bash
# A keep-alive client (python http.client) making five requests, with and
# without bodies, on one connection to the C peer server.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18540

start_capture cap -w "$T/ka.htc" --port $PORT
"$PEER" server rw 127.0.0.1 $PORT 1 >"$T/server.json" 2>"$T/server.err" &
spid=$!
track $spid
wait_listening "$T/server.err"
python3 - $PORT >"$T/client.json" <<'PY' || fail "python client failed"
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
for i in range(5):
    c.request("GET", "/ka/%d" % i, headers={"X-Seq": str(i)})
    r = c.getresponse()
    assert r.status == 200, r.status
    r.read()
print(json.dumps({"local_port": c.sock.getsockname()[1]}))
c.close()
PY
wait_exit $spid 20 || fail "peer server failed"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

check "$T/ka.htc" '
srv = json.load(open(args[0]))
lport = json.load(open(args[1]))["local_port"]
s = sel(pid=srv["pid"])
c = sel(comm="python3", local_port=lport)
eq(len(set(e["conn_id"] for e in s)), 1, "server connections")
eq(len(set(e["conn_id"] for e in c)), 1, "client connections")
reqs = server_requests(s)
eq([(r["method"], r["path"]) for r in reqs.values()], [("GET", "/ka/%d" % i) for i in range(5)], "requests")
eq(len(set(reqs)), 5, "distinct request ids")
eq(total(sel(s, event_type="read")), srv["received"], "bytes read")
eq(total(sel(s, event_type="write")), srv["sent"], "bytes written")
eq(total(sel(c, event_type="write")), srv["received"], "client bytes written")
for e in sel(s, event_type="write"):
    expect(e["request_id"] in reqs, "response without its request", e)
' "$T/server.json" "$T/client.json"
info "5 requests on one connection"
