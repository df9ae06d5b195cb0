#!/bin/sh
# run.sh - make test-hostile: every tool over hostile captures.
#
# The corpus: the crafted captures of mkhostile (memory bombs, absurd
# times and counts, control bytes), plus the reader's
# fuzz corpus (mutated, truncated and corrupt files).  Each tool reads
# each file twice:
#   - the ASan+UBSan build (BUILD/san/...), under a timeout: any crash,
#     sanitizer report or hang fails;
#   - the normal build, under `ulimit -v` and a timeout, its peak resident
#     memory measured: over RSS_LIMIT_MB fails.
# A tool may refuse a file (exit 1 or 2 with a message): that is a clear error,
# not a failure.  Prints one line per failure, then the largest RSS seen.
#
# Environment: BUILD (default build), MKHOSTILE (the generator).
set -u
BUILD=${BUILD:-build}
MKHOSTILE=${MKHOSTILE:-$BUILD/tests/hostile/mkhostile}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-640}
VMEM_LIMIT_KB=$((4 * 1024 * 1024))
TIMEOUT=${TIMEOUT:-60}

tmp=$(mktemp -d /tmp/htc-hostile.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/gen" "$tmp/out"
"$MKHOSTILE" "$tmp/gen" || { echo "FAIL: mkhostile"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98

pass=0
fail=0
maxrss=0
maxwhat=""

# one LABEL FILE CMD...: the command on FILE, both builds
one() {
	label=$1
	file=$2
	shift 2
	# sanitizers: crash, report or hang
	timeout "$TIMEOUT" "$BUILD/san/$@" "$file" >"$tmp/out/o" 2>"$tmp/out/e" </dev/null
	rc=$?
	case $rc in
	0|1|2) pass=$((pass + 1)) ;;
	124) fail=$((fail + 1)); echo "FAIL: $label $(basename "$file"): hung (san, ${TIMEOUT} s)" ;;
	*) fail=$((fail + 1)); echo "FAIL: $label $(basename "$file"): exit $rc (san)"
	   grep -m5 -E 'ERROR|runtime error|SUMMARY' "$tmp/out/e" ;;
	esac
	# memory: peak RSS of the normal build, under a virtual memory cap
	( ulimit -v $VMEM_LIMIT_KB
	  exec /usr/bin/time -f %M -o "$tmp/out/rss" timeout "$TIMEOUT" "$BUILD/$@" "$file" \
		>/dev/null 2>"$tmp/out/e2" </dev/null )
	rc=$?
	rss=$(tail -1 "$tmp/out/rss" 2>/dev/null)
	case $rss in ''|*[!0-9]*) rss=0 ;; esac
	if [ "$rss" -gt "$maxrss" ]; then
		maxrss=$rss
		maxwhat="$label $(basename "$file")"
	fi
	if [ $rc -gt 2 ]; then
		fail=$((fail + 1)); echo "FAIL: $label $(basename "$file"): exit $rc (memory limit or hang)"
		tail -2 "$tmp/out/e2"
	elif grep -q -i 'out of memory\|cannot allocate' "$tmp/out/e2"; then
		fail=$((fail + 1)); echo "FAIL: $label $(basename "$file"): ran out of memory"
	elif [ "$rss" -gt $((RSS_LIMIT_MB * 1024)) ]; then
		fail=$((fail + 1)); echo "FAIL: $label $(basename "$file"): RSS $((rss / 1024)) MiB > $RSS_LIMIT_MB MiB"
	else
		pass=$((pass + 1))
	fi
}

for f in "$tmp"/gen/*.htc "$tmp"/gen/*.pcap tests/fuzz/corpus/reader/*; do
	[ -f "$f" ] || continue
	one summary "$f" httpanalyze -q summary
	one requests "$f" httpanalyze -q requests --format csv
	one events "$f" httpanalyze -q sql "SELECT count(*), sum(length(payload)) FROM events"
	one show "$f" httpanalyze -q show 1001
	one replay "$f" httpreplay --dry-run
	one read "$f" httpcap -r
done

# one rule for what reaches a terminal (format/htc_text.c): no tool's
# output of the control-byte capture holds ESC, another C0 control but
# newline and tab, DEL, a C1 control or a bidirectional override raw
raw_check() {
	python3 -c '
import re, sys
b = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
bad = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]|\xe2\x80[\xa8\xa9]", b)
sys.exit(1 if bad else 0)' "$1"
}
c="$tmp/gen/control.htc"
for run in "httpanalyze requests" "httpanalyze requests --format json" "httpanalyze requests --format csv" \
	   "httpanalyze show 1001" "httpanalyze sql 'SELECT payload FROM events'" "httpreplay --dry-run" \
	   "httpcap -r" "httpcap -r --text"; do
	eval "set -- $run"
	tool=$1
	shift
	"$BUILD/$tool" "$@" "$c" >"$tmp/out/raw" 2>&1 </dev/null
	if raw_check "$tmp/out/raw"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: $run: a raw control or bidi byte in the output"
	fi
done

echo "hostile: $pass passed, $fail failed; largest RSS $((maxrss / 1024)) MiB ($maxwhat)"
[ $fail = 0 ]
