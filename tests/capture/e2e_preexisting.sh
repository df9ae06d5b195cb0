#!/bin/bash
# A connection opened BEFORE httpcap started, used after: captured, with
# the right 5-tuple, on both ends.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18545

"$PEER" server rw 127.0.0.1 $PORT 1 >"$T/server.json" 2>"$T/server.err" &
spid=$!
track $spid
wait_listening "$T/server.err"
"$PEER" client rw 127.0.0.1 $PORT 2 "$T/go" >"$T/client.out" 2>"$T/client.err" &
cpid=$!
track $cpid
for _ in $(seq 100); do grep -q connected "$T/client.out" && break; sleep 0.1; done
grep -q connected "$T/client.out" || fail "client did not connect"

start_capture cap -w "$T/pre.htc" --port $PORT
touch "$T/go"
wait_exit $cpid 30 || fail "peer client failed"
wait_exit $spid 30 || fail "peer server failed"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

check "$T/pre.htc" '
srv = json.load(open(args[0]))
cli = json.loads(open(args[1]).read().splitlines()[-1])
lport = cli["local_port"]
s = sel(pid=srv["pid"])
c = sel(pid=cli["pid"])
expect(s and c, "pre-existing connection not captured", ev[:5])
eq(sel(s, event_type="accept") + sel(c, event_type="connect"), [], "accept/connect happened before the capture")
for e in s:
    eq((e["local_ip"], e["local_port"], e["remote_ip"], e["remote_port"]), ("127.0.0.1", 18545, "127.0.0.1", lport), "server 5-tuple")
for e in c:
    eq((e["local_ip"], e["local_port"], e["remote_ip"], e["remote_port"]), ("127.0.0.1", lport, "127.0.0.1", 18545), "client 5-tuple")
eq(total(sel(c, event_type="write")), cli["sent"], "client bytes sent")
eq(total(sel(s, event_type="write")), srv["sent"], "server bytes sent")
reqs = server_requests(s)
eq([r["path"] for r in reqs.values()], ["/peer/rw/0", "/peer/rw/1"], "requests")
expect(sel(c, event_type="close"), "close not seen")
' "$T/server.json" "$T/client.out"
info "pre-existing connection captured"
