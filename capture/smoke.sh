#!/bin/sh
# smoke.sh - httpcap load + attach smoke test (make test-capture-smoke).
#
# As root: start python3 http.server on a loopback port of httpcap's test
# range (18000-18499), capture with -w filtered on that port, make one curl
# request, stop httpcap with SIGINT, and check that -r finds the request,
# that the file is 0600 and that zstdcat reads it.  Then the wrong-usage and
# no-privilege paths: exit status 2 with a usage hint, and a clear message
# when not root.  Not root: prints SKIP and succeeds.
set -u
BUILD=${BUILD:-build}
HTTPCAP=$BUILD/httpcap
PORT=${SMOKE_PORT:-18100}
DIR=$(mktemp -d /tmp/httpcap-smoke.XXXXXX)
SRV_PID= CAP_PID=

cleanup() {
	[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: smoke: $*"; [ -f "$DIR/cap.err" ] && sed 's/^/  httpcap: /' "$DIR/cap.err"; exit 1; }

# wrong usage: exit 2 and a hint, whoever runs it
"$HTTPCAP" --frobnicate >/dev/null 2>"$DIR/usage.err"; rc=$?
[ $rc -eq 2 ] || fail "unknown option: exit $rc, want 2"
grep -q "unknown option '--frobnicate'" "$DIR/usage.err" || fail "no message for a wrong flag"
grep -q -- "--help" "$DIR/usage.err" || fail "no usage hint for a wrong flag"
"$HTTPCAP" --help | grep -q "Examples:" || fail "--help has no examples"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: smoke: loading BPF needs root"
	exit 0
fi

# not root: a clear message (as nobody, when setpriv exists)
if command -v setpriv >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$HTTPCAP" -c 1 \
		>/dev/null 2>"$DIR/noroot.err"; rc=$?
	[ $rc -eq 1 ] || fail "as nobody: exit $rc, want 1"
	grep -q "needs root" "$DIR/noroot.err" || fail "as nobody: no 'needs root' message: $(cat "$DIR/noroot.err")"
fi

mkdir -p "$DIR/www"
echo "hello smoke" > "$DIR/www/smoke-test-path.txt"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DIR/www" \
	>"$DIR/srv.log" 2>&1 &
SRV_PID=$!

"$HTTPCAP" -w "$DIR/cap.htc" --port "$PORT" -U 2>"$DIR/cap.err" &
CAP_PID=$!
# ready when the banner is out (load + attach take a moment); bounded
i=0
until grep -q "capturing" "$DIR/cap.err" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "httpcap did not start within 30 s"
	kill -0 "$CAP_PID" 2>/dev/null || fail "httpcap exited at start"
	sleep 0.1
done
i=0
until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "http.server did not start on port $PORT"
	sleep 0.1
done
body=$(curl -s --max-time 5 "http://127.0.0.1:$PORT/smoke-test-path.txt")
[ "$body" = "hello smoke" ] || fail "curl got '$body'"

kill -INT "$CAP_PID"
i=0
while kill -0 "$CAP_PID" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "httpcap did not stop within 10 s of SIGINT"
	sleep 0.1
done
wait "$CAP_PID"; rc=$?
CAP_PID=
[ $rc -eq 0 ] || fail "httpcap exited $rc after SIGINT"
grep -q "events captured" "$DIR/cap.err" || fail "no statistics on stderr"
grep -q "0 events dropped" "$DIR/cap.err" || fail "events dropped"

mode=$(stat -c %a "$DIR/cap.htc")
[ "$mode" = 600 ] || fail "capture file mode $mode, want 600"
zstdcat "$DIR/cap.htc" >/dev/null 2>&1 || fail "zstdcat cannot read the file"
"$HTTPCAP" -r "$DIR/cap.htc" >"$DIR/read.json" 2>"$DIR/read.err" || fail "-r failed: $(cat "$DIR/read.err")"
grep -q "smoke-test-path.txt" "$DIR/read.json" || fail "-r output lacks the request"
n=$(grep -c '"curl"' "$DIR/read.json")
[ "$n" -ge 3 ] || fail "-r output has $n curl events, want >= 3 (connect, write, read)"
"$HTTPCAP" -r "$DIR/nonexistent.htc" >/dev/null 2>"$DIR/read2.err"; rc=$?
[ $rc -eq 1 ] || fail "-r of a missing file: exit $rc, want 1"
grep -q "cannot read" "$DIR/read2.err" || fail "-r of a missing file: no clear message"
echo "  PASS     smoke: capture, -r, mode 0600, zstdcat, usage errors"
