#!/bin/bash
# A Node.js front (one event loop; fetch and a keep-alive http.Agent,
# 8 requests at once) calling a threaded Python backend (issue 14):
#   traced    the client sends a traceparent, the front propagates its
#             trace id (a new span id): every link proven by the id
#   plain     nothing propagated: every link made is right or flagged,
#             the share proven is reported
# Ground truth: the X-Tag the front passes on (attrib.py).
. "$(dirname "$0")/lib.sh"
need_root
command -v node >/dev/null || { echo "SKIP: nodejs is not installed"; exit 0; }
ATTRIB="$ROOT/tests/capture/attrib.py"
N=${ATTRIB_N:-400}
# front, backend, propagate, client flag, min % proven
CASES=(
	"18820 18821 1 --traceparent 100"
	"18822 18823 0 - 0"
)
ports=()
for c in "${CASES[@]}"; do
	set -- $c
	python3 "$ATTRIB" backend "$2" >"$T/backend-$2.err" 2>&1 &
	track $!
	node "$ROOT/tests/capture/attrib_front.js" "$1" "$2" "$3" >"$T/front-$1.err" 2>&1 &
	track $!
	ports+=(--port "$1" --port "$2")
done
for c in "${CASES[@]}"; do
	set -- $c
	wait_port "$2"
	wait_port "$1"
done
start_capture cap -w "$T/attrib.htc" "${ports[@]}"
for c in "${CASES[@]}"; do
	set -- $c
	python3 "$ATTRIB" client "$1" "$N" unique $([ "$4" = - ] || echo "$4") ||
		fail "client of front $1 failed"
done
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "^0 events dropped" "$T/cap.err" || info "note: $(grep dropped "$T/cap.err")"
[ -n "${ATTRIB_KEEP:-}" ] && cp "$T/attrib.htc" "$ATTRIB_KEEP"
for c in "${CASES[@]}"; do
	set -- $c
	out=$(python3 "$ATTRIB" score "$HTTPANALYZE" "$T/attrib.htc" "$1" "$2" "$5") ||
		fail "front $1 (propagate $3): $out"
	info "front $1 (propagate $3, client $4): $out"
done
exit 0
