#!/bin/bash
# capture/check_bench_pipeline.sh - bench_pipeline (capture/bench_pipeline.c)
# replays every event of a capture, and refuses what it cannot read with a
# message and status 1 (2 for a wrong flag), not a silent failure: run by
# `make test-capture-core`, no root needed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="$ROOT/${BUILD:-build}"
P="$B/bench/bench_pipeline"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: bench_pipeline: $*"; fails=1; }

# expect STATUS MESSAGE-PATTERN ARGS...: status and a line on stderr
expect() {
	local want=$1 pat=$2 rc
	shift 2
	"$P" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want" ] || bad "$*: status $rc, want $want"
	grep -q -- "$pat" "$T/err" || bad "$*: no '$pat' on stderr: $(cat "$T/err")"
}

demo="$ROOT/samples/demo.htc"
"$P" "$demo" -r 1 >"$T/out" 2>"$T/err" || bad "demo.htc: status $?: $(cat "$T/err")"
want=$("$B/bench/htcstat" "$demo" | sed -n 's/^events=//p')
got=$(sed -n 's/^pipeline_events=//p' "$T/out")
[ -n "$want" ] && [ "$got" = "$want" ] || bad "demo.htc: $got events replayed, htcstat counts $want"
grep -q '^pipeline_ns_per_event=[0-9]' "$T/out" || bad "demo.htc: no ns per event: $(cat "$T/out")"

head -c 1000 "$demo" >"$T/head.htc"		# the header, no event
expect 1 'no events' "$T/head.htc"
echo garbage >"$T/garbage.htc"
expect 1 'not an .htc' "$T/garbage.htc"
expect 1 'No such file' "$T/missing.htc"
expect 2 'usage' -r 0 "$demo"
expect 2 'usage'
[ "$fails" = 0 ] && echo "  bench_pipeline: demo.htc's $got events replayed; bad files and flags refused"
exit "$fails"
