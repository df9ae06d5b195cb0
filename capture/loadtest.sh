#!/bin/sh
# loadtest.sh - how much httpcap sustains (make bench-capture; root).
#
# 1. 10,000 curl requests (100 curl processes of 100 requests, 4 at a time)
#    to python3 http.server, captured with -w: the file must hold 10,000
#    accepted connections and 10,000 requests read by the server, and
#    httpcap must report zero drops.
# 2. wrk against nginx (static 100-byte file, keep-alive) for DURATION
#    seconds at each connection count, captured with -w: events/s written
#    and drops, so the rate the capture sustains without drops is visible.
# Servers listen on loopback ports 18400-18401 (httpcap's test range).
set -u
BUILD=${BUILD:-build}
HTTPCAP=$(readlink -f "$BUILD/httpcap")
DURATION=${DURATION:-10}
CONNS=${CONNS:-"4 16 64"}
P1=18400 P2=18401
DIR=$(mktemp -d /tmp/httpcap-load.XXXXXX)
PIDS=

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: loadtest: $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: loadtest: needs root"
	exit 0
fi
for t in curl wrk nginx python3; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: loadtest: $t is not installed"; exit 0; }
done

# start_capture FILE ARGS...: httpcap in the background until its banner
start_capture() {
	out=$1; shift
	"$HTTPCAP" -w "$out" "$@" 2>"$out.err" &
	CAP=$!
	PIDS="$PIDS $CAP"
	i=0
	until grep -q capturing "$out.err" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && fail "httpcap did not start: $(cat "$out.err")"
		sleep 0.1
	done
}
stop_capture() {
	kill -INT "$CAP"; wait "$CAP" || fail "httpcap exited non-zero: $(cat "$1.err")"
}
wait_port() {
	i=0
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "no server on port $1"
		sleep 0.1
	done
}

# ---- 1. 10,000 curl requests ----
mkdir -p "$DIR/www"
head -c 100 /dev/zero | tr '\0' x > "$DIR/www/x.txt"
python3 -m http.server $P1 --bind 127.0.0.1 --directory "$DIR/www" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_port $P1
start_capture "$DIR/curl.htc" --port $P1
t0=$(date +%s.%N)
seq 100 | xargs -P 4 -I{} curl -s -o /dev/null "http://127.0.0.1:$P1/x.txt?{}-[1-100]"
t1=$(date +%s.%N)
stop_capture "$DIR/curl.htc"
"$HTTPCAP" -r "$DIR/curl.htc" > "$DIR/curl.json" || fail "-r failed"
accepts=$(grep -c '"event_type": "accept"' "$DIR/curl.json")
reqs=$(grep '"comm": "python3"' "$DIR/curl.json" | grep '"event_type": "read"' | grep -c 'GET /x.txt')
dropped=$(sed -n 's/^\([0-9]*\) events dropped.*/\1/p' "$DIR/curl.htc.err")
echo "curl: 10000 requests in $(echo "$t1 - $t0" | bc) s: $accepts accepts, $reqs requests read by the server, $dropped dropped"
grep 'events captured\|bytes written' "$DIR/curl.htc.err" | sed 's/^/  /'
[ "$accepts" = 10000 ] && [ "$reqs" = 10000 ] && [ "$dropped" = 0 ] || fail "want 10000 / 10000 / 0"
if [ -x "$BUILD/httpanalyze" ]; then
	"$BUILD/httpanalyze" summary "$DIR/curl.htc" > "$DIR/summary.txt" 2>&1 || fail "httpanalyze failed"
	sed -n 's/^requests */  httpanalyze: requests /p' "$DIR/summary.txt"
	grep -q '^requests *10000 ' "$DIR/summary.txt" || fail "httpanalyze does not count 10000 requests"
fi

# ---- 2. wrk against nginx ----
cat > "$DIR/nginx.conf" <<NGX
daemon off;
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	server { listen 127.0.0.1:$P2; root $DIR/www; }
}
NGX
nginx -c "$DIR/nginx.conf" -p "$DIR" 2>/dev/null &
PIDS="$PIDS $!"
wait_port $P2
for c in $CONNS; do
	wrk -t 2 -c "$c" -d 3 "http://127.0.0.1:$P2/x.txt" > "$DIR/base.txt" 2>&1
	base=$(sed -n 's/^Requests\/sec: *//p' "$DIR/base.txt")
	start_capture "$DIR/wrk$c.htc" --port $P2
	wrk -t 2 -c "$c" -d "$DURATION" "http://127.0.0.1:$P2/x.txt" > "$DIR/wrk.txt" 2>&1
	stop_capture "$DIR/wrk$c.htc"
	ev=$(sed -n 's/^\([0-9]*\) events captured.*/\1/p' "$DIR/wrk$c.htc.err")
	dropped=$(sed -n 's/^\([0-9]*\) events dropped.*/\1/p' "$DIR/wrk$c.htc.err")
	rps=$(sed -n 's/^Requests\/sec: *//p' "$DIR/wrk.txt")
	echo "wrk -c $c: $rps req/s while capturing ($base without), $ev events in ${DURATION} s = $((ev / DURATION)) events/s, $dropped dropped"
	grep 'dropped\|bytes written' "$DIR/wrk$c.htc.err" | sed 's/^/  /'
done
