#!/bin/bash
# ENOSPC: a capture to a tiny tmpfs stops with a clear message and a
# non-zero exit, and the file is readable up to its last complete frame.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18575

mkdir -p "$T/www" "$T/tiny"
head -c 1000000 /dev/urandom >"$T/www/random.bin"
mount -t tmpfs -o size=512k tmpfs "$T/tiny" || { echo "SKIP: cannot mount a tmpfs"; exit 0; }
MOUNTS+=("$T/tiny")
start_python_server $PORT "$T/www"
start_capture cap -w "$T/tiny/full.htc" -s 65536 --port $PORT

# small requests first, in frames that reach the disk (a frame closes
# every second), then more than the disk holds
echo small >"$T/www/small.txt"
for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/small.txt?$i" || fail "curl"; done
sleep 2.5
for i in $(seq 40); do
	kill -0 "$CAP_PID" 2>/dev/null || break
	curl -s -o /dev/null "http://127.0.0.1:$PORT/random.bin"
	sleep 0.2
done
wait_exit "$CAP_PID" 20
rc=$?
[ $rc != 0 ] || fail "httpcap exited 0 on a full disk"
grep -qi "no space\|ENOSPC" "$T/cap.err" || fail "no clear ENOSPC message: $(cat "$T/cap.err")"
grep -q "full.htc" "$T/cap.err" || fail "the message does not name the file: $(cat "$T/cap.err")"
info "exit $rc: $(grep -i "no space" "$T/cap.err" | head -1)"

"$HTTPCAP" -r "$T/tiny/full.htc" >"$T/read.out" 2>"$T/read.err" \
	|| fail "the file on the full disk is not readable: $(cat "$T/read.err")"
n=$(grep -c . "$T/read.out")
check "$T/tiny/full.htc" '
paths = [r["path"] for r in server_requests(sel(comm="python3")).values()]
for i in (1, 2, 3):
    expect("/small.txt?%d" % i in paths, "request %d made before the disk filled is lost" % i, paths)
'
info "$n events readable from $(stat -c %s "$T/tiny/full.htc") bytes; -r said: $(head -c 200 "$T/read.err")"
