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
# timeline.  Needs root (eBPF).  Files go to $BUILD/demo/; DEMO_PORT=N
# moves the application to ports N..N+2.
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
"$PYTHON" -c 'import flask, redis' 2>/dev/null ||
	die "$PYTHON cannot import flask and redis (Debian packages python3-flask python3-redis; make demo installs them as root)"

trap demo_cleanup EXIT
trap 'echo "interrupted: stopping everything the demo started" >&2; exit 130' INT TERM
mkdir -p "$OUT"

say "starting the demo application (front :$BASE_PORT, redis :$((BASE_PORT + 1)), api :$((BASE_PORT + 2)))"
app_start "$BASE_PORT" "$OUT/groundtruth.jsonl" "$OUT"
sed 's/^ready: //' "$OUT/app.out"

say "httpcap -w $TRACE ${PORTS[*]}"
cap_start "$TRACE" "$OUT/httpcap.err" "${PORTS[@]}"

# curl_many PATH...: one curl process for all of them (one keep-alive
# connection), one line per request.
curl_many() {
	local args=() p
	for p in "$@"; do args+=(-o /dev/null "$FRONT$p"); done
	curl -s --max-time 30 -w '  %{http_code}  %{time_total}s  GET %{url}\n' "${args[@]}"
}

# A secret for httpcap to redact.  From a file (curl -H @FILE), not from the
# command line: httpcap records command lines as they are.
printf 'Authorization: Bearer demo-secret-token\n' > "$OUT/secret-header"

say "sending traffic"
if [ -n "$SAMPLE" ]; then
	# A small, varied capture to ship in samples/: every endpoint, an error,
	# and a secret header that httpcap redacts.
	curl_many /users?n=u{1..8} /external?n=e{1..6} /slow?n=s{1..4} /health?n=h{1..6} /nope?n=x1
	curl -s -o /dev/null -H @"$OUT/secret-header" --max-time 10 \
		-w '  %{http_code}  %{time_total}s  GET %{url} (with an Authorization header)\n' \
		"$FRONT/users?n=a1"
else
	curl_many /users?n=c1 /external?n=c1 /slow?n=c1 /health?n=c1 /nope?n=c1
	curl -s -o /dev/null -H @"$OUT/secret-header" --max-time 10 \
		-w '  %{http_code}  %{time_total}s  GET %{url} (with an Authorization header)\n' \
		"$FRONT/users?n=a1"
	# ab: bounded request counts, 4 at a time, a new connection each.
	for spec in "300 /users" "100 /external" "40 /slow" "100 /health"; do
		read -r n path <<<"$spec"
		printf '  ab -n %s -c 4 %s: ' "$n" "$path"
		ab -q -n "$n" -c 4 -s 10 "$FRONT$path?n=ab" 2>&1 |
			awk '/^Complete requests/{c=$3} /^Failed requests/{f=$3}
			     /^Requests per second/{r=$4} END{printf "%s done, %s failed, %s req/s\n", c, f, r}'
	done
fi

say "stopping the capture and the application"
cap_stop || echo "warning: httpcap exited with an error (log: $OUT/httpcap.err)" >&2
sed 's/^/  /' "$OUT/httpcap.err"
app_stop
echo "  $TRACE: $(wc -c < "$TRACE") bytes"

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

say "done in ${SECONDS} s: the capture is $TRACE; try  $HTTPANALYZE requests $TRACE"
