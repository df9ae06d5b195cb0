#!/bin/bash
# One connection row per connection (issue 13, defect 5): ab and redis-cli
# connect non-blocking and call connect() again on the socket (EINPROGRESS,
# then the outcome), which the capture records as two connects; httpanalyze
# must still show one row per connection, closed, with its protocol.
. "$(dirname "$0")/lib.sh"
need_root
HPORT=18720
RPORT=18721
ANALYZE="$ROOT/$BUILD/httpanalyze"

mkdir -p "$T/www"
echo hello >"$T/www/index.html"
start_python_server $HPORT "$T/www"
redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	--dir "$T" >"$T/redis.log" 2>&1 &
track $!
wait_port $RPORT

start_capture cap -w "$T/c.htc" --port $HPORT --port $RPORT
ab -q -n 10 "http://127.0.0.1:$HPORT/index.html" >"$T/ab.out" 2>&1 || fail "ab: $(cat "$T/ab.out")"
for i in 1 2 3; do
	redis-cli -p $RPORT ping >/dev/null || fail "redis-cli"
done
settle
stop_capture $CAP_PID || fail "httpcap exited with status $?"

"$ANALYZE" --db "$T/c.db" -q "$T/c.htc" >/dev/null 2>"$T/analyze.err" || fail "httpanalyze: $(cat "$T/analyze.err")"
# the capture itself has the second connects this is about
n=$("$HTTPCAP" -r "$T/c.htc" --text --comm ab | grep -c ' connect ')
info "ab: $n connect events in the capture for 10 connections"
rows() {
	"$ANALYZE" sql --db "$T/c.db" --format csv "$1" | tail -n +2 | tr -d '\r'
}
got=$(rows "SELECT comm, count(*), sum(close_ns IS NULL), group_concat(DISTINCT protocol), sum(connect_result != 0)
	FROM connections WHERE comm IN ('ab', 'redis-cli') GROUP BY comm ORDER BY comm")
want=$'ab,10,0,http,0\nredis-cli,3,0,redis,0'
[ "$got" = "$want" ] || fail "client connection rows (comm,rows,open,protocols,failed): got
$got
want
$want"
calls=$(rows "SELECT count(*) FROM calls WHERE comm IN ('ab', 'redis-cli') AND unanswered = 0")
[ "$calls" = 13 ] || fail "$calls answered calls, want 13"
info "ab -n 10 and 3 redis-cli: one row per connection ($(echo $got | tr '\n' ' '))"
