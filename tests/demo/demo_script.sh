#!/bin/bash
# tests/demo/demo_script.sh - samples/demo.sh fails clearly and cleans up.
#
#   - a wrong argument: exit status 1 and a message naming it;
#   - not root: exit status 1 and a message that says root is needed, with
#     nothing started (as root, checked as the user nobody when runuser
#     exists);
#   - as root: interrupted (SIGINT to its process group, as Ctrl-C does)
#     while it sends traffic, it exits 130 and leaves no process running: not
#     the application's three services, not httpcap.
# Ports 5120-5122.  Every wait is bounded.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
DEMO=$TOP/samples/demo.sh
fail() { echo "FAIL: test-demo-script: $*"; exit 1; }

out=$("$DEMO" --bogus 2>&1)
rc=$?
[ $rc = 1 ] || fail "unknown argument: exit status $rc, expected 1"
grep -q "unknown argument '--bogus'" <<<"$out" || fail "unknown argument: message was: $out"

if [ "$(id -u)" = 0 ]; then
	if command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
		out=$(cd / && runuser -u nobody -- env BUILD="$BUILD" "$DEMO" 2>&1)
		rc=$?
	else
		out="error: the demo needs root"; rc=1    # cannot check without another user
	fi
else
	out=$("$DEMO" 2>&1)
	rc=$?
fi
[ $rc = 1 ] || fail "not root: exit status $rc, expected 1"
grep -q "needs root" <<<"$out" || fail "not root: message was: $out"
grep -q "starting the demo" <<<"$out" && fail "not root: it started something: $out"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: test-demo-script: the interruption case needs root (eBPF)"
	exit 0
fi

work=$BUILD/test-demo-script
rm -rf "$work"
mkdir -p "$work"
log=$work/demo.out
# A process group of its own, as a shell's foreground job: SIGINT to the
# group reaches the script and everything it runs, as Ctrl-C would.
set -m
httpcap=$BUILD/httpcap httpanalyze=$BUILD/httpanalyze
BUILD=$work/build HTTPCAP=$httpcap HTTPANALYZE=$httpanalyze DEMO_PORT=5120 \
	"$DEMO" >"$log" 2>&1 &
pgid=$!
set +m
cleanup() {
	kill -KILL -- "-$pgid" 2>/dev/null
	for p in ${pids:-}; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT

i=0
until grep -q 'sending traffic' "$log"; do
	kill -0 "$pgid" 2>/dev/null || fail "demo.sh ended before sending traffic: $(tail -5 "$log")"
	i=$((i + 1))
	[ $i -lt 300 ] || fail "demo.sh did not start sending traffic in 30 s: $(tail -5 "$log")"
	sleep 0.1
done
pids=$(sed -n 's/.*pids //p' "$log")
cap=$(pgrep -g "$pgid" -x httpcap)
if [ -z "$pids" ] || [ -z "$cap" ]; then
	fail "could not find the application's pids or httpcap ('$pids', '$cap')"
fi
sleep 0.5
kill -INT -- "-$pgid"
i=0
while kill -0 "$pgid" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "demo.sh still running 30 s after SIGINT"
	sleep 0.1
done
wait "$pgid"
rc=$?
[ $rc = 130 ] || fail "interrupted demo.sh exited with $rc, expected 130"
grep -q 'interrupted: stopping everything' "$log" || fail "no message on interruption: $(tail -5 "$log")"
for p in $pids $cap; do
	kill -0 "$p" 2>/dev/null && fail "process $p ($(cat /proc/"$p"/comm 2>/dev/null)) still running after the interruption"
done
left=$(pgrep -g "$pgid")
[ -z "$left" ] || fail "processes left in the demo's group: $left"
echo "PASS: test-demo-script"
