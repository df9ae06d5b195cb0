#!/bin/bash
# tests/demo/fidelity.sh - end to end: does httpanalyze attribute every
# downstream call of the demo application to the request that made it?
#
# Runs the demo application (ports 5110-5112) under `httpcap -w`, sends a
# deterministic set of tagged requests (traffic.py), then scores
# httpanalyze's requests, calls and cross-process links against the
# application's own ground-truth log (fidelity.py).  Fails below 100%
# precision or recall.  Needs root (eBPF); prints SKIP otherwise.
#
# FIDELITY_WARM=1: the application's pooled connections (to Redis and to the
# API) are opened by warm-up requests before httpcap starts, as on a
# production host where the capture starts while the service runs.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=samples/lib.sh
. "$TOP/samples/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: test-demo-fidelity: needs root (httpcap loads eBPF programs)"
	exit 0
fi
"$PYTHON" -c 'import flask, redis' 2>/dev/null ||
	die "python3-flask and python3-redis are needed (apt-get install python3-flask python3-redis)"

PORT=${FIDELITY_PORT:-5110}
WORK=$BUILD/test-demo
COUNT=${FIDELITY_COUNT:-80}
rm -rf "$WORK"
mkdir -p "$WORK"

trap demo_cleanup EXIT
trap 'exit 130' INT TERM

app_start "$PORT" "$WORK/groundtruth.jsonl" "$WORK"
if [ "${FIDELITY_WARM:-0}" = 1 ]; then
	"$PYTHON" "$TOP/tests/demo/traffic.py" --port "$PORT" --count 16 --concurrency 4 --prefix w ||
		die "the demo application did not answer the warm-up requests"
	# Not captured, so not in the truth either (the services append: O_APPEND).
	: > "$WORK/groundtruth.jsonl"
fi
cap_start "$WORK/fidelity.htc" "$WORK/httpcap.err" \
	--port "$PORT" --port $((PORT + 1)) --port $((PORT + 2))
"$PYTHON" "$TOP/tests/demo/traffic.py" --port "$PORT" --count "$COUNT" --concurrency 4 ||
	die "the demo application did not answer every request"
cap_stop || die "httpcap failed: $(cat "$WORK/httpcap.err")"
app_stop

"$PYTHON" "$TOP/tests/demo/fidelity.py" --gt "$WORK/groundtruth.jsonl" \
	--trace "$WORK/fidelity.htc" --httpanalyze "$HTTPANALYZE" || {
	echo "FAIL: test-demo-fidelity (files in $WORK)"
	exit 1
}
echo "PASS: test-demo-fidelity"
