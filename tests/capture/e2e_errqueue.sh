#!/bin/bash
# Reads that do not consume the stream are not events: recv(MSG_PEEK)
# (the bytes are read again) and recvmsg(MSG_ERRQUEUE) (the socket's error
# queue: here a TX timestamp with a copy of the sent packet).  Each side
# must show exactly its request and its response, on the socket-layer
# hooks and on sys_exit.  recv(MSG_TRUNC) on TCP drops bytes without
# copying them: an event with their length and no payload (the buffer
# holds none of them).
. "$(dirname "$0")/lib.sh"
need_root
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=18590

for hooks in default syscalls; do
	if [ $hooks = syscalls ]; then export HTTPCAP_BPF_HOOKS=syscalls; else unset HTTPCAP_BPF_HOOKS; fi
	start_capture cap-$hooks -w "$T/$hooks.htc" --port $PORT
	/usr/bin/python3 "$HERE/errqueue_peer.py" $PORT >"$T/$hooks.json" 2>"$T/$hooks.err" ||
		fail "errqueue_peer.py failed: $(cat "$T/$hooks.err")"
	settle
	stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
	check "$T/$hooks.htc" '
info = json.load(open(args[0]))
expect(info["errqueue_bytes"] > 0, "the error queue gave nothing: the case tests nothing", info)
evs = sel(pid=info["pid"], event_type=lambda t: t in ("read", "write"))
reads = [e for e in evs if e["event_type"] == "read"]
writes = [e for e in evs if e["event_type"] == "write"]
copied = [e for e in reads if e["captured_len"]]
eq(sorted(e["payload_len"] for e in copied), sorted([info["req"], info["resp"]]), "reads (request once, response once)")
eq(sorted(e["payload_len"] for e in writes), sorted([info["req"], info["resp"], info["dropped"]]), "writes")
for e in reads:
    expect(e["syscall"] == "recvfrom", "a read that is not the plain recv", e)
# recv(MSG_TRUNC): its length, none of its buffer (which holds no bytes of it)
dropped = [e for e in reads if not e["captured_len"]]
eq(sum(e["payload_len"] for e in dropped), info["dropped"], "bytes dropped with MSG_TRUNC")
expect(all(e["payload"] == "" for e in dropped), "a MSG_TRUNC read has a payload", dropped)
' "$T/$hooks.json"
done
echo "errqueue: MSG_PEEK and MSG_ERRQUEUE reads are not events, MSG_TRUNC ones carry no payload, on both sets of hooks"
