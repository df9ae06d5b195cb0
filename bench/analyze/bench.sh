#!/bin/sh
# bench.sh - httpanalyze loader benchmark (make bench-analyze): writes a
# synthetic capture of N requests (bench/analyze/gen.c: front service,
# backend HTTP call, Redis calls; 10 events per request), then 5 times,
# interleaved so that the machine's noise hits every variant alike:
#   scan   httpanalyze -q -v requests --limit 0 FILE.htc    (the default:
#          in memory, events served from the files by a virtual table)
#   copy   the same with --events copy (every event copied into SQLite)
#   db     the same with --db FILE.sqlite (on disk, events copied: what
#          --db users get)
#   base   with ANALYZE_BENCH_BASELINE=/path/to/older/httpanalyze: that
#          binary's default, for a before/after in the same run
#   total  httpanalyze -q summary FILE.htc                  -> seconds
# and prints the medians of events/s per wall-clock second and per CPU
# second (user+sys of the loader: on a shared machine the steadier one).
# N: ANALYZE_BENCH_REQUESTS (default 100000).
# Not a test: no assertion, numbers only.
set -eu
BUILD=${BUILD:-build}
N=${ANALYZE_BENCH_REQUESTS:-100000}
HA="$BUILD/httpanalyze"
BASE=${ANALYZE_BENCH_BASELINE:-}
tmp=$(mktemp -d /tmp/httpanalyze-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$BUILD/bench/analyze/gen" "$tmp/bench.htc" "$N" >"$tmp/gen.txt"
events=$(awk '{print $3}' "$tmp/gen.txt")
echo "bench-analyze: $(cat "$tmp/gen.txt"), file $(du -h "$tmp/bench.htc" | cut -f1)"

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# one NAME BINARY ARGS...: a load; appends events/s (wall, cpu) to $tmp/NAME.*
one() {
	name=$1
	shift
	"$@" 2>"$tmp/v" >/dev/null
	sed -n 's/.*(\([0-9]*\) events\/s;.*/\1/p' "$tmp/v" >>"$tmp/$name.wall"
	sed -n 's/.* \([0-9]*\) events\/cpu-s).*/\1/p' "$tmp/v" >>"$tmp/$name.cpu"
}

variants="scan copy db"
[ -n "$BASE" ] && variants="$variants base"
for v in $variants; do : >"$tmp/$v.wall"; : >"$tmp/$v.cpu"; done
: >"$tmp/total"
i=0
while [ $i -lt 5 ]; do
	one scan "$HA" -q -v requests --limit 0 "$tmp/bench.htc"
	one copy "$HA" -q -v --events copy requests --limit 0 "$tmp/bench.htc"
	rm -f "$tmp/db.sqlite"
	one db "$HA" -q -v --db "$tmp/db.sqlite" requests --limit 0 "$tmp/bench.htc"
	if [ -n "$BASE" ]; then
		one base "$BASE" -q -v requests --limit 0 "$tmp/bench.htc"
	fi
	s=$(date +%s.%N)
	"$HA" -q summary "$tmp/bench.htc" >/dev/null
	e=$(date +%s.%N)
	awk "BEGIN{print $e - $s}" >>"$tmp/total"
	i=$((i + 1))
done
printf 'bench-analyze: %s requests, %s events (median of 5; events/s per wall s, per cpu s)\n' \
	"$N" "$events"
row() {
	printf '  %-44s %9s events/s  %9s events/cpu-s\n' "$1" \
		"$(median <"$tmp/$2.wall")" "$(median <"$tmp/$2.cpu")"
}
row "in memory, events scanned (default):" scan
row "in memory, events copied (--events copy):" copy
row "on disk, events copied (--db):" db
if [ -n "$BASE" ]; then
	row "baseline $(basename "$BASE") (its default):" base
fi
printf '  httpanalyze summary, end to end:  %.3f s\n' "$(median <"$tmp/total")"
