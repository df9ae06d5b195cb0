#!/bin/bash
# A single-threaded Python asyncio front serving several requests at once
# on its one event loop, each making a Redis call and an HTTP call on
# pooled keep-alive connections (issue 14): no link or attribution that is
# wrong without being flagged, for the backend requests (scored by the
# X-Tag the front passes on) and for the Redis calls (INCR hits:TAG).
# The shares proven are reported.
. "$(dirname "$0")/lib.sh"
need_root
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 0; }
ATTRIB="$ROOT/tests/capture/attrib.py"
N=${ATTRIB_N:-200}
FRONT=18830
BACK=18831
REDIS=18832
redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	--dir "$T" >"$T/redis.log" 2>&1 &
track $!
python3 "$ATTRIB" backend $BACK >"$T/backend.err" 2>&1 &
track $!
wait_port $REDIS
wait_port $BACK
python3 "$ROOT/tests/capture/attrib_asyncio.py" $FRONT $BACK $REDIS >"$T/front.err" 2>&1 &
track $!
wait_port $FRONT
start_capture cap -w "$T/attrib.htc" --port $FRONT --port $BACK --port $REDIS
python3 "$ATTRIB" client $FRONT "$N" unique || fail "client of the asyncio front failed: $(tail -3 "$T/front.err")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
out=$(python3 "$ATTRIB" score "$HTTPANALYZE" "$T/attrib.htc" $FRONT $BACK 0) || fail "backend links: $out"
info "backend links: $out"
out=$(python3 "$ATTRIB" score-redis "$HTTPANALYZE" "$T/attrib.htc" $FRONT $REDIS) || fail "Redis calls: $out"
info "Redis calls: $out"
exit 0
