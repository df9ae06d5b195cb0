#!/bin/sh
# clickhouse.sh - httpanalyze with ClickHouse against SQLite on disk
# (make bench-analyze-clickhouse, issue 19): writes a synthetic capture of N
# requests (bench/analyze/gen.c; 10 events per front request), starts a
# private clickhouse-server (ports 19420-19422, its own folder), then
#   sqlite-load   httpanalyze -q -v summary --db FILE.sqlite FILE.htc  (events copied)
#   sqlite-scan   the same with --events scan (events not copied), requests --limit 0
#   ch-load       httpanalyze load -v --clickhouse URL FILE.htc        (events not copied)
#   ch-load-ev    the same with --events (a copy of the file, one byte
#                 longer: another file identity, another load)
#   sqlite-summary  httpanalyze summary --db FILE.sqlite  (reopened, read-only)
#   ch-summary      httpanalyze summary --clickhouse URL --load ID
# load: events/s of the -v line; summary: wall seconds, median of RUNS.
# N: ANALYZE_BENCH_REQUESTS (default 1000000), RUNS: ANALYZE_BENCH_RUNS (3);
# ANALYZE_BENCH_EVENTS=0 skips the --events load (its staging holds every
# event in memory).  Memory and time grow with N: 10M requests (N=5000000)
# is ~15 minutes and ~5 GB here.
# Not a test: numbers only.
set -eu
BUILD=${BUILD:-build}
N=${ANALYZE_BENCH_REQUESTS:-1000000}
RUNS=${ANALYZE_BENCH_RUNS:-3}
HA="$(pwd)/$BUILD/httpanalyze"
URL=http://127.0.0.1:19420
tmp=$(mktemp -d /var/tmp/httpanalyze-chbench.XXXXXX)
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; sleep 1; rm -rf "$tmp"' EXIT INT TERM

"$BUILD/bench/analyze/gen" "$tmp/bench.htc" "$N" >"$tmp/gen.txt"
echo "bench-analyze-clickhouse: $(cat "$tmp/gen.txt"), file $(du -h "$tmp/bench.htc" | cut -f1)"

mkdir -p "$tmp/srv/data" "$tmp/srv/tmp"
cat >"$tmp/srv/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$tmp/srv/server.log</log><errorlog>$tmp/srv/error.log</errorlog></logger>
  <http_port>19420</http_port><tcp_port>19421</tcp_port><interserver_http_port>19422</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$tmp/srv/data/</path><tmp_path>$tmp/srv/tmp/</tmp_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size><timezone>UTC</timezone>
</yandex>
EOF
clickhouse-server --config-file="$tmp/srv/config.xml" >"$tmp/srv/stdout" 2>&1 &
srv=$!
i=0
until [ "$(curl -s --max-time 2 "$URL/" --data-binary 'SELECT 1' 2>/dev/null)" = 1 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "clickhouse-server did not start"; exit 1; }
	sleep 0.2
done

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
secs() { /usr/bin/time -f %e -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err"; cat "$tmp/t"; }

# loads: one each (a load is minutes at 10M requests)
/usr/bin/time -f "%e %M" -o "$tmp/t" "$HA" -q -v summary --db "$tmp/b.sqlite" "$tmp/bench.htc" >/dev/null 2>"$tmp/v"
sql_s=$(cut -d' ' -f1 "$tmp/t")
sql_rss=$(($(cut -d' ' -f2 "$tmp/t") / 1024))
sql_ev=$(sed -n 's/.*(\([0-9]*\) events\/s;.*/\1/p' "$tmp/v")
# SQLite on disk without the events copied (as the ClickHouse load without --events)
/usr/bin/time -f %e -o "$tmp/t" "$HA" -q -v requests --limit 0 --events scan --db "$tmp/scan.sqlite" "$tmp/bench.htc" >/dev/null 2>"$tmp/v"
scan_s=$(cat "$tmp/t")
scan_ev=$(sed -n 's/.*(\([0-9]*\) events\/s;.*/\1/p' "$tmp/v")
rm -f "$tmp/scan.sqlite"
/usr/bin/time -f "%e %M" -o "$tmp/t" "$HA" load -q -v --clickhouse "$URL" "$tmp/bench.htc" >"$tmp/lo" 2>"$tmp/v"
ch_s=$(cut -d' ' -f1 "$tmp/t")
ch_rss=$(($(cut -d' ' -f2 "$tmp/t") / 1024))
ch_line=$(grep 'clickhouse load' "$tmp/v")
id=$(sed -n 's/^load \([0-9]*\): .*/\1/p' "$tmp/lo")
chev_s=-
chev_line="not run (ANALYZE_BENCH_EVENTS=0)"
if [ "${ANALYZE_BENCH_EVENTS:-1}" != 0 ]; then
	cp "$tmp/bench.htc" "$tmp/bench-ev.htc"
	printf 'x' >>"$tmp/bench-ev.htc"	# another file identity: a second load
	/usr/bin/time -f %e -o "$tmp/t" "$HA" load -q -v --events --clickhouse "$URL" "$tmp/bench-ev.htc" >/dev/null 2>"$tmp/v" || true
	chev_s=$(cat "$tmp/t")
	chev_line=$(grep 'clickhouse load' "$tmp/v" || echo "failed: $(tail -2 "$tmp/v")")
fi
sleep 5	# let the server merge what it was sent
for i in $(seq "$RUNS"); do
	secs "$HA" summary --db "$tmp/b.sqlite" >>"$tmp/sqlsum"
	secs "$HA" summary --clickhouse "$URL" --load "$id" >>"$tmp/chsum"
	secs "$HA" requests --limit 10 --sort duration --db "$tmp/b.sqlite" >>"$tmp/sqlreq"
	secs "$HA" requests --limit 10 --sort duration --clickhouse "$URL" --load "$id" >>"$tmp/chreq"
done
echo "sqlite --db load:   ${sql_s} s wall, ${sql_ev} events/s (loader's -v), max RSS ${sql_rss} MiB"
echo "sqlite --db --events scan load: ${scan_s} s wall, ${scan_ev} events/s (no events copied)"
echo "clickhouse load:    ${ch_s} s wall, max RSS ${ch_rss} MiB; ${ch_line#httpanalyze: }"
echo "clickhouse --events: ${chev_s} s wall; ${chev_line#httpanalyze: }"
echo "summary:            sqlite --db $(median <"$tmp/sqlsum") s, clickhouse $(median <"$tmp/chsum") s (median of $RUNS)"
echo "requests --sort duration --limit 10: sqlite --db $(median <"$tmp/sqlreq") s, clickhouse $(median <"$tmp/chreq") s"
echo "sizes:              sqlite file $(du -h "$tmp/b.sqlite" | cut -f1), clickhouse data $(du -sh "$tmp/srv/data" | cut -f1) (both loads)"
