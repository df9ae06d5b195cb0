#!/bin/sh
# bench.sh - httpanalyze loader benchmark (make bench-analyze): writes a
# synthetic capture of N requests (bench/analyze/gen.c: front service,
# backend HTTP call, Redis calls; 10 events per request), then 5 times:
#   load   httpanalyze -q -v --db FILE.sqlite requests --limit 0   -> events/s
#          (in-memory database would be faster; an on-disk one is what
#          --db users get, so the number is the conservative one)
#   total  httpanalyze -q summary FILE.htc                          -> seconds
# and prints the medians.  N: ANALYZE_BENCH_REQUESTS (default 100000).
# events/s is given per wall-clock second and per CPU second (user+sys of
# the loader): on a shared machine the second is the steadier figure.
# Not a test: no assertion, numbers only.
set -eu
BUILD=${BUILD:-build}
N=${ANALYZE_BENCH_REQUESTS:-100000}
HA="$BUILD/httpanalyze"
tmp=$(mktemp -d /tmp/httpanalyze-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$BUILD/bench/analyze/gen" "$tmp/bench.htc" "$N" >"$tmp/gen.txt"
events=$(awk '{print $3}' "$tmp/gen.txt")
echo "bench-analyze: $(cat "$tmp/gen.txt"), file $(du -h "$tmp/bench.htc" | cut -f1)"

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

i=0
: >"$tmp/load" ; : >"$tmp/mem" ; : >"$tmp/memcpu" ; : >"$tmp/total"
while [ $i -lt 5 ]; do
	rm -f "$tmp/db.sqlite"
	"$HA" -q -v --db "$tmp/db.sqlite" requests --limit 0 "$tmp/bench.htc" 2>"$tmp/v" >/dev/null
	sed -n 's/.*(\([0-9]*\) events\/s;.*/\1/p' "$tmp/v" >>"$tmp/load"
	"$HA" -q -v requests --limit 0 "$tmp/bench.htc" 2>"$tmp/v" >/dev/null
	sed -n 's/.*(\([0-9]*\) events\/s;.*/\1/p' "$tmp/v" >>"$tmp/mem"
	sed -n 's/.* \([0-9]*\) events\/cpu-s).*/\1/p' "$tmp/v" >>"$tmp/memcpu"
	s=$(date +%s.%N)
	"$HA" -q summary "$tmp/bench.htc" >/dev/null
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l >>"$tmp/total" 2>/dev/null || awk "BEGIN{print $e - $s}" >>"$tmp/total"
	i=$((i + 1))
done
printf 'bench-analyze: %s requests, %s events\n' "$N" "$events"
printf '  load into SQLite on disk (--db):  %s events/s (median of 5)\n' "$(median <"$tmp/load")"
printf '  load into SQLite in memory:       %s events/s, %s events/cpu-s (median of 5)\n' \
	"$(median <"$tmp/mem")" "$(median <"$tmp/memcpu")"
printf '  httpanalyze summary, end to end:  %.3f s (median of 5)\n' "$(median <"$tmp/total")"
