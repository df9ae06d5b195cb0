#!/bin/bash
# Every CPU kept busy by programs that are not traced: the drain loop runs
# SCHED_IDLE while it keeps up (capture/sched.c), so here it would wait for
# an idle CPU that never comes.  The guard must see it starving and raise
# it: the requests made meanwhile reach the file (-U) while the CPUs are
# still busy, nothing is dropped, and -v says it was raised.  With -Z (no
# CAP_SYS_NICE left, RLIMIT_NICE below 20) the drain could not leave
# SCHED_IDLE again, so it never enters it: -v says so.
. "$(dirname "$0")/lib.sh"
need_root
PORT=19530
N=20

mkdir -p "$T/www"
echo starved >"$T/www/s.txt"
start_python_server $PORT "$T/www"
start_capture cap -v -U -w "$T/st.htc" --port $PORT

# one busy loop per CPU, bounded in time
BURN=()
for i in $(seq "$(nproc)"); do
	timeout 12 sh -c 'while :; do :; done' &
	BURN+=($!)
	track $!
done
sleep 0.5
for i in $(seq $N); do
	curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/s.txt?n=$i" || fail "request $i failed"
done
t0=$(date +%s%N)
seen=0
for i in $(seq 80); do
	seen=$("$HTTPCAP" -r "$T/st.htc" 2>/dev/null | grep -c 'GET /s.txt?n=' || true)
	[ "$seen" -ge $((2 * N)) ] && break	# both ends: curl's write, the server's read
	sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$seen" -ge $((2 * N)) ] || fail "only $seen of $((2 * N)) request events in the file after ${ms} ms of busy CPUs"
kill "${BURN[@]}" 2>/dev/null
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q '^0 events dropped' "$T/cap.err" || fail "events dropped: $(grep 'events dropped' "$T/cap.err")"
raised=$(sed -n 's/.*raised to SCHED_BATCH \([0-9]*\) times.*/\1/p' "$T/cap.err")
[ -n "$raised" ] && [ "$raised" -ge 1 ] || fail "the starving drain loop was not raised (${raised:-no -v line})"
info "all CPUs busy: $N requests in the file ${ms} ms after the last, drain raised $raised times"

# -Z: no way back from SCHED_IDLE, so SCHED_BATCH throughout
if [ "$(ulimit -e)" != unlimited ] && [ "$(ulimit -e)" -lt 20 ]; then
	"$HTTPCAP" -Z nobody -v --duration 1 -w "$T/z.htc" --port $PORT >"$T/z.out" 2>"$T/z.err" ||
		fail "httpcap -Z nobody failed: $(tail -n 3 "$T/z.err")"
	grep -q 'the drain loop stays SCHED_BATCH' "$T/z.err" ||
		fail "-Z nobody: no 'stays SCHED_BATCH' line: $(cat "$T/z.err")"
	info "-Z nobody: the drain loop stays SCHED_BATCH"
fi
