# tests/capture/lib.sh - shared helpers of httpcap's end-to-end test cases
# (sourced by tests/capture/e2e_*.sh; run through tests/capture/run.sh).
#
# Each case gets a private temp dir ($T), starts its servers and captures
# through these helpers, and everything started is stopped by the EXIT trap,
# by pid.  Every wait is bounded.  Ports: 18500-18999 on loopback.

set -u

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HTTPCAP=${HTTPCAP:-$ROOT/$BUILD/httpcap}
PEER=${PEER:-$ROOT/$BUILD/tests/capture/peer}
CAPCHECK="$ROOT/tests/capture/capcheck.py"
CASE=$(basename "$0" .sh)
CASE=${CASE#e2e_}

# the startup of httpcap (loading and attaching BPF) can take a while
CAP_READY_TIMEOUT=${CAP_READY_TIMEOUT:-90}

T=$(mktemp -d "/tmp/httpcap-e2e-$CASE.XXXXXX")
chmod 755 "$T"
PIDS=()
MOUNTS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${MOUNTS[@]}"; do
		umount "$p" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "  (kept $T)"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL [$CASE]: $*" >&2
	for f in "$T"/*.err; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f") (last lines)" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

info() {
	echo "  [$CASE] $*"
}

# track PID: stop it at exit
track() {
	PIDS+=("$1")
}

# wait_port PORT [ADDR]: until something listens there (10 s at most)
wait_port() {
	local port=$1 addr=${2:-127.0.0.1}
	python3 - "$addr" "$port" <<'EOF' || fail "nothing listens on $addr port $port after 10 s"
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
deadline = time.time() + 10
while time.time() < deadline:
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((addr, port))
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
    finally:
        s.close()
sys.exit(1)
EOF
}

# wait_listening ERRFILE: until the C peer server says it listens (10 s at
# most); probing its port would use up its connections.
wait_listening() {
	local i
	for i in $(seq 100); do
		grep -q "listening" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "peer server did not start ($1)"
}

# start_capture NAME ARGS...: httpcap ARGS in the background, stdout to
# $T/NAME.out, stderr to $T/NAME.err; waits until it says it is capturing.
# Sets CAP_PID.
start_capture() {
	start_capture_bg "$@"
	wait_ready "$1" "$CAP_PID"
}

# start_capture_bg NAME ARGS...: the same without waiting (several captures
# start faster side by side); then wait_ready NAME PID for each.
start_capture_bg() {
	local name=$1
	shift
	"$HTTPCAP" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	CAP_PID=$!
	track "$CAP_PID"
}

wait_ready() {
	local name=$1 pid=$2 i
	for i in $(seq $((CAP_READY_TIMEOUT * 10))); do
		grep -q "capturing" "$T/$name.err" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || {
			wait "$pid"
			fail "httpcap ($name) exited (status $?) before capturing"
		}
		sleep 0.1
	done
	fail "httpcap ($name) did not start capturing within $CAP_READY_TIMEOUT s"
}

# stop_capture PID [SIGNAL]: signal (default INT) and wait (30 s at most);
# returns httpcap's exit status.
# no_secret FILE STRING...: none of the strings is in FILE decompressed
# (a failure shows where one is).
no_secret() {
	local file=$1 s n where
	shift
	for s in "$@"; do
		n=$(zstdcat -q "$file" 2>/dev/null | grep -ac "$s")
		if [ "$n" != 0 ]; then
			where=$(zstdcat -q "$file" 2>/dev/null | grep -ao ".\{0,60\}$s" | tr -c '[:print:]\n' '.' | head -3)
			fail "secret $s appears $n times in the decompressed file: $where"
		fi
	done
}

# start_tcpdump FILE FILTER: tcpdump on lo writing FILE, listening when
# this returns; its pid in TD_PID.
start_tcpdump() {
	# -Z root: no drop to the tcpdump user (which may not write in $T)
	tcpdump -i lo -s 0 -U -Z root -w "$1" "$2" >"$T/tcpdump.out" 2>"$T/tcpdump.err" &
	TD_PID=$!
	track "$TD_PID"
	for _ in $(seq 100); do grep -q "listening on" "$T/tcpdump.err" && break; sleep 0.1; done
	grep -q "listening on" "$T/tcpdump.err" || fail "tcpdump did not start"
}

stop_capture() {
	local pid=$1 sig=${2:-INT} i
	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "httpcap (pid $pid) still running 30 s after SIG$sig"
	wait "$pid"
}

# wait_exit PID SECONDS: wait for a process to end by itself; its status.
wait_exit() {
	local pid=$1 secs=$2 i
	for i in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "pid $pid still running after $secs s"
	wait "$pid"
}

# settle: the capture drains its ring buffer asynchronously; give the last
# events a moment to reach it before it is stopped.
settle() {
	sleep "${1:-1}"
}

# check FILE PYTHON: run PYTHON with `ev` = the events of `httpcap -r FILE`
# (capcheck.py's helpers imported); fails the case on an assertion.
check() {
	local file=$1 code=$2
	shift 2
	python3 "$CAPCHECK" "$HTTPCAP" "$file" "$code" "$@" || fail "check on $(basename "$file") failed"
}

# a random token no capture should show
rand_token() {
	python3 -c 'import secrets; print("TOK" + secrets.token_hex(12))'
}

# start_python_server PORT DIR: python3 -m http.server; sets PY_PID
start_python_server() {
	local port=$1 dir=$2
	python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" \
		>"$T/pyserver-$port.log" 2>&1 &
	PY_PID=$!
	track "$PY_PID"
	wait_port "$port"
}

. "$ROOT/tests/capture/nginx_conf.sh"

# start_nginx_conf PORT: nginx in $T/nginx-PORT with nginx_conf's
# configuration, the lines inside `http { }` read on stdin (a heredoc);
# waits until PORT listens.  Sets NGINX_PID.
start_nginx_conf() {
	local port=$1 d="$T/nginx-$1"
	nginx_conf "$d" || fail "could not write $d/nginx.conf"
	nginx -c "$d/nginx.conf" -p "$d" >"$T/nginx-$port.err" 2>&1 &
	NGINX_PID=$!
	track "$NGINX_PID"
	wait_port "$port"
}

# start_nginx PORT ROOTDIR: nginx serving ROOTDIR; sets NGINX_PID
start_nginx() {
	local port=$1 root=$2
	start_nginx_conf "$port" <<EOF
    sendfile on;
    tcp_nopush off;
    keepalive_requests 100000;
    types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$port;
        root $root;
    }
EOF
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root to load BPF"
		exit 0
	fi
}

# ---- HTTP/2 cases (e2e_http2*.sh, e2e_grpc.sh) ----

HTTPANALYZE=${HTTPANALYZE:-$ROOT/$BUILD/httpanalyze}
# Debian's python3 (python3-grpcio), whatever a pyenv puts first on PATH
DEB_PYTHON=${DEB_PYTHON:-/usr/bin/python3}

# start_nginx_h2 PORT SERVER_BODY: nginx with `listen 127.0.0.1:PORT http2`
# (h2c, prior knowledge) and SERVER_BODY inside its server block; sets
# NGINX_PID.
start_nginx_h2() {
	local port=$1 body=$2
	start_nginx_conf "$port" <<EOC
    keepalive_requests 100000;
    http2_max_concurrent_streams 128;
    types { text/html html; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$port http2;
        $body
    }
EOC
}

# analyze FILE PYTHON [ARG...]: run PYTHON with q(sql) = the rows (dicts)
# of `httpanalyze sql --format json SQL FILE`, args, and expect/eq as in
# check.
analyze() {
	local file=$1 code=$2
	shift 2
	python3 - "$HTTPANALYZE" "$file" "$code" "$@" <<'PYEOF' || fail "analysis of $(basename "$file") failed"
import json, subprocess, sys
ha, path, code, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def q(sql):
    out = subprocess.run([ha, "sql", "--format", "json", "-q", sql, path], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return [json.loads(l) for l in out.splitlines() if l.strip()]
def expect(cond, msg, *ctx):
    if not cond:
        raise SystemExit("FAIL: " + msg + "".join("\n    " + str(c) for c in ctx))
def eq(got, want, msg):
    expect(got == want, "%s: got %r, want %r" % (msg, got, want))
exec(code)
PYEOF
}
