#!/bin/bash
# kill -9 mid-capture leaves a readable file: every frame but those of the
# last second or so.  Requests made well before the kill must be in it.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18565

mkdir -p "$T/www"
echo k >"$T/www/k.txt"
start_python_server $PORT "$T/www"
start_capture cap -w "$T/k9.htc" --port $PORT

for i in 1 2 3; do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/early$i" || fail "curl"
done
# frames close at least every second: these are on disk after ~2.5 s
sleep 2.5
# keep traffic going while the capture dies
for i in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$PORT/late$i"; done
kill -KILL "$CAP_PID"
wait "$CAP_PID" 2>/dev/null
[ -s "$T/k9.htc" ] || fail "no file after kill -9"

"$HTTPCAP" -r "$T/k9.htc" >"$T/read.out" 2>"$T/read.err"
rc=$?
[ $rc = 0 ] || fail "httpcap -r on the killed capture exited $rc: $(cat "$T/read.err")"
grep -qi "trailer\|truncat\|incomplete" "$T/read.err" || info "note: -r said nothing about the missing trailer"
check "$T/k9.htc" '
paths = [r["path"] for r in server_requests(sel(comm="python3")).values()]
for i in (1, 2, 3):
    expect("/early%d" % i in paths, "/early%d lost by kill -9" % i, paths)
'
info "killed capture readable: $(grep -c . "$T/read.out") events; stderr: $(head -c 200 "$T/read.err")"
