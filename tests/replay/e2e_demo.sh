#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/replay/e2e_demo.sh - httpreplay end to end on the demo application
# (samples/app), with real captures:
#  1. the shipped sample capture (samples/demo.htc, made by httpcap from the
#     demo app on base port 5100) replayed against a fresh demo app on
#     ports 20720-20722, front and stand-in API each: zero mismatches;
#  2. as root, with httpcap built: the demo app on ports 20730-20732
#     captured live by httpcap while curl sends traffic (a secret header
#     included), then replayed against it at --speed 1: zero mismatches.
# Prints SKIP for what cannot run here (no root, no demo dependencies).
# Everything started is stopped by the EXIT trap (samples/lib.sh).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
: "${BUILD:=$TOP/build}"
HTTPREPLAY=${HTTPREPLAY:-$BUILD/httpreplay}
# shellcheck source=../../samples/lib.sh
. "$TOP/samples/lib.sh"

WORK=$(mktemp -d /tmp/replay-e2e.XXXXXX)
fails=0
cleanup() {
	demo_cleanup
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

# json_get FILE KEY: a top-level number from the summary line of a JSON report.
json_get() {
	"$PYTHON" -c 'import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
print(s.get(sys.argv[2], ""))' "$1" "$2"
}

# replay_check NAME WANT_SENT ARGS...: replay, then want exit 0, zero
# mismatches and WANT_SENT requests sent (any when WANT_SENT is "+").
replay_check() {
	local name=$1 want=$2 rc sent mism
	shift 2
	"$HTTPREPLAY" "$@" --format json --max-mismatch 0 > "$WORK/$name.json" 2> "$WORK/$name.err"
	rc=$?
	sent=$(json_get "$WORK/$name.json" sent 2>/dev/null)
	mism=$(json_get "$WORK/$name.json" mismatched 2>/dev/null)
	if [ "$rc" = 0 ] && [ "$mism" = 0 ] && { [ "$want" = + ] && [ "${sent:-0}" -gt 0 ] ||
						  [ "$sent" = "$want" ]; }; then
		ok "$name: $sent requests replayed, zero mismatches"
	else
		fail "$name: rc=$rc sent=$sent (want $want) mismatched=$mism"
		sed 's/^/    /' "$WORK/$name.json" "$WORK/$name.err" | head -40
	fi
}

if ! "$PYTHON" -c 'import flask, redis' 2>/dev/null || ! command -v redis-server >/dev/null ||
   ! command -v curl >/dev/null; then
	echo "SKIP: the demo application needs $PYTHON with flask and redis, redis-server and curl" \
	     "(make test installs them as root)"
	exit 0
fi
[ -x "$HTTPREPLAY" ] || { echo "FAIL - '$HTTPREPLAY' is not built"; exit 1; }

# ---- 1. the shipped sample against a fresh demo app ----
# The sample was captured by samples/demo.sh with the front on its base
# port (DEMO_PORT, default 5100) and the API on base + 2: --port picks each.
SBASE=$(sed -n 's/^BASE_PORT=\${DEMO_PORT:-\([0-9]*\)}.*/\1/p' "$TOP/samples/demo.sh" 2>/dev/null)
: "${SBASE:=5100}"
if [ -r "$TOP/samples/demo.htc" ]; then
	app_start 20720 "$WORK/gt1.jsonl" "$WORK/app1"
	replay_check "sample front" + "$TOP/samples/demo.htc" --port "$SBASE" \
		--target http://127.0.0.1:20720 --speed max --concurrency 4
	replay_check "sample api" + "$TOP/samples/demo.htc" --port $((SBASE + 2)) \
		--target http://127.0.0.1:20722 --speed max --concurrency 4
	"$HTTPREPLAY" "$TOP/samples/demo.htc" --dry-run > /dev/null 2> "$WORK/ports.err"
	grep -q "pick one service with --port" "$WORK/ports.err" &&
		ok "a capture of several services without --port: the ports are pointed out" ||
		fail "no note about several server ports: $(cat "$WORK/ports.err")"
	grep -q "redacted at capture" "$WORK/sample front.err" &&
		ok "the sample's redacted Authorization header was reported, not sent" ||
		fail "the sample's redacted Authorization header was not reported"
	app_stop
else
	echo "SKIP: samples/demo.htc is not there"
fi

# ---- 2. capture live with httpcap, replay ----
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: live capture of the demo app needs root (httpcap loads eBPF programs)"
elif [ ! -x "$HTTPCAP" ]; then
	echo "SKIP: '$HTTPCAP' is not built"
else
	app_start 20730 "$WORK/gt2.jsonl" "$WORK/app2"
	cap_start "$WORK/live.htc" "$WORK/httpcap.err" --port 20730 --port 20731 --port 20732
	printf 'Authorization: Bearer e2e-secret\n' > "$WORK/secret"
	args=()
	for p in /users?n=r1 /users?n=r2 /health?n=r3 /external?n=r4 /slow?n=r5 /nope?n=r6 \
		 /users?n=r7 /health?n=r8; do
		args+=(-o /dev/null "http://127.0.0.1:20730$p")
	done
	# one keep-alive connection with small gaps, then a second client
	curl -s --max-time 30 "${args[@]}" || fail "curl against the demo app failed"
	sleep 0.3
	curl -s --max-time 10 -o /dev/null -H @"$WORK/secret" "http://127.0.0.1:20730/users?n=r9" ||
		fail "curl with a secret header failed"
	sleep 0.5
	cap_stop || echo "note: httpcap exited with an error: $(cat "$WORK/httpcap.err")"
	replay_check "live capture, front" 9 "$WORK/live.htc" --port 20730 \
		--target http://127.0.0.1:20730 --speed 1
	replay_check "live capture, api" + "$WORK/live.htc" --port 20732 \
		--target http://127.0.0.1:20732 --speed max
	if grep -q "e2e-secret" "$WORK"/*.json "$WORK"/*.err 2>/dev/null; then
		fail "the secret reached httpreplay's output"
	else
		ok "the secret was redacted by httpcap and never printed by httpreplay"
	fi
	app_stop
fi

if [ "$fails" -gt 0 ]; then
	echo "$fails failed"
	exit 1
fi
echo "all passed"
