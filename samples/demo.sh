#!/bin/bash
# samples/demo.sh - the demo behind `make demo` and `make samples`.
#
#   samples/demo.sh                  capture mixed traffic, then analyse it
#   samples/demo.sh --sample FILE    a small capture (a few dozen requests), kept as FILE
#
# Starts the demo application (redis-server, the stand-in external API and
# the Flask front service, on 127.0.0.1 ports 5100-5102), captures it with
# `httpcap -w` filtered to those ports while curl and ab send traffic, stops
# everything it started (also on Ctrl-C), and shows what httpanalyze makes of
# the capture: the summary, the dependency map and one /slow request's
# timeline.  Needs root (eBPF).  Files go to $BUILD/demo/.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=samples/lib.sh
. "$TOP/samples/lib.sh"

BASE_PORT=${DEMO_PORT:-5100}
FRONT=http://127.0.0.1:$BASE_PORT
PORTS=(--port "$BASE_PORT" --port $((BASE_PORT + 1)) --port $((BASE_PORT + 2)))
OUT=$BUILD/demo
TRACE=$OUT/demo.htc
SAMPLE=

case "${1:-}" in
--sample) SAMPLE=${2:?--sample needs a file name} ;;
"") ;;
-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) die "unknown argument '$1' (see --help)" ;;
esac

need_root "the demo" "$([ -n "$SAMPLE" ] && echo samples || echo demo)"
for f in "$HTTPCAP" "$HTTPANALYZE"; do
	[ -x "$f" ] || die "'$f' is not built (run make first)"
done
for c in curl ab redis-server "$PYTHON"; do
	command -v "$c" >/dev/null || die "'$c' not found (make demo installs it as root)"
done

trap demo_cleanup EXIT
trap 'echo "interrupted: stopping everything the demo started" >&2; exit 130' INT TERM
mkdir -p "$OUT"

say "starting the demo application (front :$BASE_PORT, redis :$((BASE_PORT + 1)), api :$((BASE_PORT + 2)))"
app_start "$BASE_PORT" "$OUT/groundtruth.jsonl" "$OUT"
sed 's/^ready: //' "$OUT/app.out"

say "httpcap -w $TRACE ${PORTS[*]}"
cap_start "$TRACE" "$OUT/httpcap.err" "${PORTS[@]}"

# curl_get TAG PATH [curl args]: one request, one line of output.
curl_get() {
	local tag=$1 path=$2
	shift 2
	curl -s -o /dev/null --max-time 10 -w "  %{http_code}  %{time_total}s  GET $path?n=$tag\n" \
		"$@" "$FRONT$path?n=$tag"
}

say "sending traffic"
if [ -n "$SAMPLE" ]; then
	# A small, varied capture to ship in samples/: every endpoint, an error,
	# and a secret header that httpcap redacts.
	for i in 1 2 3 4 5 6 7 8; do curl_get "u$i" /users; done
	for i in 1 2 3 4 5 6; do curl_get "e$i" /external; done
	for i in 1 2 3 4; do curl_get "s$i" /slow; done
	for i in 1 2 3 4 5 6; do curl_get "h$i" /health; done
	curl_get a1 /users -H 'Authorization: Bearer demo-secret-token'
	curl_get x1 /nope
else
	for p in /users /external /slow /health /nope; do curl_get c1 "$p"; done
	curl_get a1 /users -H 'Authorization: Bearer demo-secret-token'
	# ab: bounded request counts, 4 at a time.
	for spec in "300 /users" "100 /external" "40 /slow" "100 /health"; do
		set -- $spec
		printf '  ab -n %s -c 4 %s: ' "$1" "$2"
		ab -q -n "$1" -c 4 -s 10 "$FRONT$2?n=ab" 2>&1 |
			awk '/^Complete requests/{c=$3} /^Failed requests/{f=$3}
			     /^Requests per second/{r=$4} END{printf "%s done, %s failed, %s req/s\n", c, f, r}'
	done
fi

say "stopping the capture and the application"
cap_stop || echo "warning: httpcap exited with an error (log: $OUT/httpcap.err)" >&2
sed 's/^/  /' "$OUT/httpcap.err"
app_stop
ls -l "$TRACE" | awk '{printf "  %s: %s bytes\n", $NF, $5}'

if [ -n "$SAMPLE" ]; then
	cp "$TRACE" "$SAMPLE"
	chmod 0644 "$SAMPLE"    # a shipped sample, readable by anyone (captures are 0600)
	say "sample written: $SAMPLE"
	"$HTTPANALYZE" "$SAMPLE"
	exit 0
fi

say "httpanalyze $TRACE        (the summary, no root needed)"
"$HTTPANALYZE" "$TRACE" || die "httpanalyze failed on $TRACE"

say "httpanalyze deps $TRACE   (who calls what)"
"$HTTPANALYZE" deps "$TRACE"

id=$("$HTTPANALYZE" requests --path '/slow*' --format json "$TRACE" |
	sed -n 's/.*"request_id": *\([0-9]*\).*/\1/p' | head -1)
if [ -n "$id" ]; then
	say "httpanalyze show $id $TRACE   (one /slow request's timeline)"
	"$HTTPANALYZE" show "$id" "$TRACE"
else
	echo "warning: no /slow request found in $TRACE" >&2
fi

say "done: the capture is $TRACE; try  $HTTPANALYZE requests $TRACE"
