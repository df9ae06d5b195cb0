#!/bin/bash
# nginx as a reverse proxy (one worker: an event loop; an upstream
# keepalive pool) in front of threaded Python backends: are the backends'
# requests linked to the nginx request that made them, by proof, and never
# wrongly unless flagged (issue 14)?  Four fronts, each with its backend:
#   unique    unique paths and queries
#   unique-rid   ... and proxy_set_header X-Request-ID $request_id
#   repeated  two paths for every request, proxy_set_header X-Request-ID
#             $request_id (a new id: nothing propagated from the client)
#   passed    two paths, the client's own X-Request-ID passed through
# The ground truth is the X-Tag header each client request carries and
# nginx passes on (attrib.py); the engine does not read it.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
ATTRIB="$ROOT/tests/capture/attrib.py"
N=${ATTRIB_N:-400}
# front, backend, extra directive, client paths, client flag, min % proven
CASES=(
	"18802 18812 - unique - 99"
	"18803 18813 rid unique - 99"
	"18804 18814 rid repeated - 99"
	"18805 18815 - repeated --request-id 99"
)
d="$T/nginx"
mkdir -p "$d/tmp"
{
	echo "worker_processes 1; daemon off; pid $d/nginx.pid; error_log $d/error.log;"
	echo "events { worker_connections 1024; }"
	echo "http { access_log off; keepalive_requests 100000;"
	echo "  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;"
	echo "  fastcgi_temp_path $d/tmp/fastcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;"
	for c in "${CASES[@]}"; do
		set -- $c
		echo "  upstream b$2 { server 127.0.0.1:$2; keepalive 16; }"
		echo "  server { listen 127.0.0.1:$1; location / { proxy_pass http://b$2;"
		echo "    proxy_http_version 1.1; proxy_set_header Connection \"\";"
		[ "$3" = rid ] && echo "    proxy_set_header X-Request-ID \$request_id;"
		echo "  } }"
	done
	echo "}"
} >"$d/nginx.conf"
ports=()
for c in "${CASES[@]}"; do
	set -- $c
	python3 "$ATTRIB" backend "$2" >"$T/backend-$2.err" 2>&1 &
	track $!
	ports+=(--port "$1" --port "$2")
done
nginx -c "$d/nginx.conf" -p "$d" >"$T/nginx.err" 2>&1 &
track $!
for c in "${CASES[@]}"; do
	set -- $c
	wait_port "$2"
	wait_port "$1"
done
start_capture cap -w "$T/attrib.htc" "${ports[@]}"
for c in "${CASES[@]}"; do
	set -- $c
	python3 "$ATTRIB" client "$1" "$N" "$4" $([ "$5" = - ] || echo "$5") ||
		fail "client of front $1 failed"
done
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "^0 events dropped" "$T/cap.err" || info "note: $(grep dropped "$T/cap.err")"
[ -n "${ATTRIB_KEEP:-}" ] && cp "$T/attrib.htc" "$ATTRIB_KEEP"
for c in "${CASES[@]}"; do
	set -- $c
	out=$(python3 "$ATTRIB" score "$HTTPANALYZE" "$T/attrib.htc" "$1" "$2" "$6") ||
		fail "front $1 ($3 $4 $5): $out"
	info "front $1 ($4 paths, $3, client $5): $out"
done
