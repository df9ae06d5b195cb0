#!/bin/bash
# Secrets beyond headers (issue 21) never reach the file: a request's
# secret query parameters (?token=, api_key=), Redis AUTH on the wire, and
# the password of `redis-cli -a` in the process's command line.
. "$(dirname "$0")/lib.sh"
need_root
command -v zstdcat >/dev/null || { echo "SKIP: zstd is not installed"; exit 0; }
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 0; }
HPORT=18577
RPORT=18578
TOKEN=$(rand_token)
APIKEY=$(rand_token)
PASS=$(rand_token)

mkdir -p "$T/www"
echo hello >"$T/www/cb"
start_python_server $HPORT "$T/www"
redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	--requirepass "$PASS" --dir "$T" >"$T/redis.log" 2>&1 &
track $!
wait_port $RPORT

start_capture q -w "$T/q.htc" --port $HPORT --port $RPORT
curl -s -o /dev/null "http://127.0.0.1:$HPORT/cb?page=2&token=$TOKEN&api_key=$APIKEY" || fail "curl"
# with -a on the command line, and by AUTH from a client whose command
# line does not show it
redis-cli --no-auth-warning -p $RPORT -a "$PASS" ping >"$T/ping1" || fail "redis-cli -a"
printf 'AUTH %s\nPING\n' "$PASS" | redis-cli -p $RPORT >"$T/ping2" || fail "redis-cli AUTH"
grep -q PONG "$T/ping1" && grep -q PONG "$T/ping2" || fail "redis did not answer PONG"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"

no_secret "$T/q.htc" "$TOKEN" "$APIKEY" "$PASS"
# what is left is still analysed: the request with its starred query, the
# Redis commands named
got=$("$HTTPANALYZE" sql -q --format csv "SELECT path FROM requests WHERE path LIKE '/cb%'" "$T/q.htc" | tr -d '\r' | tail -1)
want="/cb?page=2&token=$(echo "$TOKEN" | tr -c '\n' '*')&api_key=$(echo "$APIKEY" | tr -c '\n' '*')"
[ "$got" = "$want" ] || fail "request path: got '$got', want '$want'"
n=$("$HTTPANALYZE" sql -q --format csv "SELECT count(*) FROM calls WHERE protocol = 'redis' AND name = 'AUTH'" "$T/q.htc" | tr -d '\r' | tail -1)
[ "$n" = 2 ] || fail "AUTH calls: got $n, want 2"
info "query parameters, Redis AUTH and redis-cli -a: no secret in the decompressed file"
