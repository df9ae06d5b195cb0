# shellcheck shell=bash
# samples/lib.sh - start and stop the demo application and a capture of it.
#
# Sourced by samples/demo.sh and tests/demo/*.sh, so `make demo`, `make
# samples` and the fidelity test run the application the same way.  Every
# wait is bounded; every process started here is remembered and stopped by
# demo_cleanup, which the caller installs as its EXIT/INT/TERM trap.
#
# Expects: TOP (the repository root), BUILD (default $TOP/build).

: "${BUILD:=$TOP/build}"
# The Debian python3, whatever a pyenv or venv puts first on PATH: flask and
# redis come from Debian packages (python3-flask, python3-redis).
: "${PYTHON:=/usr/bin/python3}"
HTTPCAP=${HTTPCAP:-$BUILD/httpcap}
HTTPANALYZE=${HTTPANALYZE:-$BUILD/httpanalyze}

APP_PID=
APP_CHILDREN=
CAP_PID=

# bold headings on a terminal only (and not with NO_COLOR): make demo piped
# to a file gets plain text
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "error: $*" >&2; exit 1; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "error: $1 needs root: httpcap loads eBPF programs into the kernel" >&2
		echo "  run it as root, e.g.:  sudo make ${2:-demo}" >&2
		echo "  (the sample capture needs no root:  $HTTPANALYZE samples/demo.htc)" >&2
		exit 1
	fi
}

# $1 max seconds, $2.. command: retry the command every 0.1 s until it succeeds.
wait_for() {
	local max=$1 i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -ge $((max * 10)) ] && return 1
		sleep 0.1
	done
}

# app_start BASE_PORT GTLOG WORKDIR: run samples/app/run.py in the background
# and wait (at most 20 s) until it says ready.
app_start() {
	local port=$1 gt=$2 dir=$3
	mkdir -p "$dir"
	: > "$dir/app.out"
	PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$TOP/samples/app/run.py" --base-port "$port" \
		--log "$gt" --workdir "$dir" > "$dir/app.out" 2> "$dir/app.err" &
	APP_PID=$!
	if ! wait_for 20 grep -qs '^ready:' "$dir/app.out"; then
		cat "$dir/app.err" >&2
		die "the demo application did not start in 20 s (log: $dir/app.err)"
	fi
	APP_CHILDREN=$(sed -n 's/^ready:.*pids //p' "$dir/app.out")
}

# Stop the application: run.py stops its children on SIGTERM; if it does not
# within 10 s, its children (by pid) and it are killed.
app_stop() {
	[ -n "$APP_PID" ] || return 0
	kill -TERM "$APP_PID" 2>/dev/null
	local i=0
	while kill -0 "$APP_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$APP_PID" 2>/dev/null; then
		echo "warning: demo application did not stop in 10 s, killing it" >&2
		kill -KILL "$APP_PID" 2>/dev/null
	fi
	local p
	for p in $APP_CHILDREN; do kill -KILL "$p" 2>/dev/null; done
	wait "$APP_PID" 2>/dev/null
	APP_PID=
	APP_CHILDREN=
}

# cap_start FILE ERRLOG ARGS...: start `httpcap -w FILE ARGS...` in the
# background and wait (at most 15 s) until its probes are attached.
cap_start() {
	local out=$1 err=$2
	shift 2
	rm -f "$out"
	"$HTTPCAP" -w "$out" "$@" 2> "$err" &
	CAP_PID=$!
	if ! wait_for 15 cap_ready "$out" "$err"; then
		cat "$err" >&2
		die "httpcap did not start in 15 s (log: $err)"
	fi
}

# Ready when it says so on stderr, or at the latest once the file exists and
# a second has passed (loading and attaching the programs).
cap_ready() {
	kill -0 "$CAP_PID" || { cat "$2" >&2; die "httpcap exited while starting"; }
	grep -qsiE 'capturing|listening|attached' "$2" && return 0
	[ -s "$1" ] || return 1
	sleep 1
}

# Stop the capture with SIGTERM (it writes the trailer, as on Ctrl-C), at
# most 10 s.  Not SIGINT: a non-interactive shell starts background jobs with
# SIGINT ignored.
cap_stop() {
	[ -n "$CAP_PID" ] || return 0
	kill -TERM "$CAP_PID" 2>/dev/null
	local i=0
	while kill -0 "$CAP_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$CAP_PID" 2>/dev/null; then
		echo "warning: httpcap did not stop in 10 s, killing it" >&2
		kill -KILL "$CAP_PID" 2>/dev/null
	fi
	wait "$CAP_PID" 2>/dev/null
	local rc=$?
	CAP_PID=
	return $rc
}

demo_cleanup() {
	cap_stop
	app_stop
}
