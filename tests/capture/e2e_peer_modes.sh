#!/bin/bash
# The C peer (tests/capture/peer.c) in each syscall family: read/write,
# readv/writev, recvmsg/sendmsg, recvmmsg/sendmmsg; three keep-alive
# requests per mode, on IPv4, and read/write once more on IPv6 (::1).
. "$(dirname "$0")/lib.sh"
need_root
BASE=18530
MODES="rw vec msg mmsg"

args=()
i=0
for m in $MODES v6; do args+=(--port $((BASE + i))); i=$((i + 1)); done
start_capture cap -w "$T/peer.htc" "${args[@]}"

i=0
for m in $MODES v6; do
	port=$((BASE + i)); addr=127.0.0.1; mode=$m
	[ $m = v6 ] && { addr=::1; mode=rw; }
	"$PEER" server $mode $addr $port 1 >"$T/server-$m.json" 2>"$T/server-$m.err" &
	track $!
	spid=$!
	wait_listening "$T/server-$m.err"
	"$PEER" client $mode $addr $port 3 >"$T/client-$m.json" 2>"$T/client-$m.err" || fail "peer client $m failed"
	wait_exit $spid 20 || fail "peer server $m failed"
	i=$((i + 1))
done
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"

check "$T/peer.htc" '
base, tdir = int(args[0]), args[1]
want = {"rw": ("write", "read"), "vec": ("writev", "readv"), "msg": ("sendmsg", "recvmsg"),
        "mmsg": ("sendmmsg", "recvmmsg"), "v6": ("write", "read")}
for i, m in enumerate(["rw", "vec", "msg", "mmsg", "v6"]):
    port = base + i
    ip = "::1" if m == "v6" else "127.0.0.1"
    srv = json.load(open("%s/server-%s.json" % (tdir, m)))
    cli = json.load(open("%s/client-%s.json" % (tdir, m)))
    s = sel(pid=srv["pid"])
    c = sel(pid=cli["pid"])
    expect(s and c, "%s: no events of the peers" % m)
    for e in s:
        eq((e["local_ip"], e["local_port"], e["remote_ip"], e["remote_port"]),
           (ip, port, ip, cli["local_port"]), "%s server 5-tuple" % m)
    for e in c:
        eq((e["local_ip"], e["local_port"], e["remote_ip"], e["remote_port"]),
           (ip, cli["local_port"], ip, port), "%s client 5-tuple" % m)
    eq(len(set(e["conn_id"] for e in c)), 1, "%s: client connections" % m)
    wr, rd = want[m]
    for side, evs, info in (("server", s, srv), ("client", c, cli)):
        w, r = sel(evs, event_type="write"), sel(evs, event_type="read")
        eq(set(e["syscall"] for e in w), {wr}, "%s %s write syscalls" % (m, side))
        eq(set(e["syscall"] for e in r), {rd}, "%s %s read syscalls" % (m, side))
        eq(total(w), info["sent"], "%s %s bytes sent" % (m, side))
        eq(total(r), info["received"], "%s %s bytes received" % (m, side))
        if m != "mmsg":    # one event per call; sendmmsg may be one or per message
            eq(len(w), info["sends"], "%s %s write events" % (m, side))
            eq(len(r), info["recvs"], "%s %s read events" % (m, side))
    reqs = server_requests(s)
    eq(len(reqs), 3, "%s: requests" % m)
    eq([r["path"] for r in reqs.values()], ["/peer/%s/%d" % ("rw" if m == "v6" else m, k) for k in range(3)], "%s paths" % m)
    sw = sel(s, event_type="write")
    eq(sum(1 for e in sw if e["payload"].startswith("HTTP/1.1 200 OK\r\n")), 3, "%s: status lines" % m)
    expect(sel(s, event_type="accept") and sel(c, event_type="connect", result=0), "%s: accept/connect" % m)
' $BASE "$T"
info "rw, vec, msg, mmsg and IPv6 checked"
