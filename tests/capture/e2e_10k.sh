#!/bin/bash
# 10,000 curl requests to nginx: 10,000 requests in the capture, each
# request's client write and server read, and zero drops reported (on
# stderr and in the file).  Prints the event rate it sustained.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
PORT=18590
N=${N_REQUESTS:-10000}

mkdir -p "$T/www"
echo "ten thousand" >"$T/www/t.txt"
start_nginx $PORT "$T/www"
python3 - "$PORT" "$N" >"$T/urls.cfg" <<'PY'
import sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    print('url = "http://127.0.0.1:%d/t.txt?i=%d"\noutput = "/dev/null"' % (port, i))
PY
start_capture cap -w "$T/10k.htc" --port $PORT

t0=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max 8 -K "$T/urls.cfg" 2>"$T/curl.err" || fail "curl failed: $(tail -3 "$T/curl.err")"
t1=$(date +%s.%N)
settle 2
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "^0 events dropped" "$T/cap.err" || fail "drops: $(grep dropped "$T/cap.err")"

check "$T/10k.htc" '
n = int(args[0])
ng = sel(comm="nginx")
reqs = server_requests(ng)
eq(len(reqs), n, "requests seen by nginx")
paths = set(r["path"] for r in reqs.values())
eq(len(paths), n, "distinct paths")
cw = sel(comm="curl", event_type="write", method="GET")
eq(len(cw), n, "curl request writes")
eq(len(set(r for r in reqs)), n, "distinct request ids")
print("  [10k] %d events, %d requests, %d connections" % (len(ev), len(reqs), len(set(e["conn_id"] for e in ev))))
' "$N"
events=$(sed -n 's/^\([0-9]*\) events captured.*/\1/p' "$T/cap.err")
python3 -c "
import sys
ev, t0, t1, n = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print('  [10k] %d requests in %.1f s: %.0f requests/s, %.0f events/s captured, 0 dropped' % (n, t1 - t0, n / (t1 - t0), ev / (t1 - t0)))
" "$events" "$t0" "$t1" "$N"
