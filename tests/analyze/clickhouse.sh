#!/bin/sh
# clickhouse.sh - httpanalyze with ClickHouse (issue 19), end to end: starts
# a private clickhouse-server (its own config, data folder and loopback
# ports 19410-19412, stopped at the end; then two more, 19413-19418, as the
# two shards of a cluster), loads the demo capture, the golden
# fixtures and a two-host capture with `httpanalyze load --clickhouse`,
# and checks that
#   - every report (summary, requests, latency, errors, deps, show; table,
#     json, csv; filters) is byte for byte the SQLite one of the same files;
#   - loading the same files again changes nothing, and a file already in
#     another load is refused;
#   - bad input gets a clear error: a refused query shows the server's text,
#     an unsupported command says so, an unreachable server is named;
#   - a server killed in the middle of a load gives a clear error and a
#     non-zero exit, the half-load is never read, and loading again works
#     with nothing counted twice.
#
#   BUILD=build sh tests/analyze/clickhouse.sh     (make test-analyze-clickhouse)
#
# Needs clickhouse-server and clickhouse-client (TEST_PKGS), not root.
# Without them: SKIP outside CI, FAIL in CI or as root (CI installs them).
set -u

BUILD=${BUILD:-build}
ROOT=$(pwd)
HA="$ROOT/$BUILD/httpanalyze"
HTTP_PORT=19410
TCP_PORT=19411
INTER_PORT=19412
URL="http://127.0.0.1:$HTTP_PORT"

if ! command -v clickhouse-server >/dev/null 2>&1; then
	if [ "${CI:-}" = true ] || [ "$(id -u)" = 0 ]; then
		echo "FAIL: clickhouse-server is not installed (TEST_PKGS lists it)"
		exit 1
	fi
	echo "SKIP: clickhouse-server not installed (apt-get install clickhouse-server clickhouse-client)"
	exit 0
fi

tmp=$(mktemp -d /tmp/httpanalyze-ch.XXXXXX) || exit 1
chmod 755 "$tmp"
srv_pid=
srv1_pid=
srv2_pid=
# stop_pid PID: TERM, bounded wait (20 s), then KILL
stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
stop_server() {
	stop_pid "$srv_pid"
	stop_pid "$srv1_pid"
	stop_pid "$srv2_pid"
	srv_pid=
	srv1_pid=
	srv2_pid=
}
trap 'stop_server; rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# ---- the servers: private config, data and ports ----
# server 0 (19410-19412) for most cases; 1 and 2 (19413-19418) the two
# shards of the cluster httpcap_two
mkconf() {
	d=$tmp/srv$1
	mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas"
	cat >"$d/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/server.log</log>
    <errorlog>$d/error.log</errorlog><console>0</console></logger>
  <http_port>$2</http_port>
  <tcp_port>$(($2 + 1))</tcp_port>
  <interserver_http_port>$(($2 + 2))</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$tmp/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <timezone>UTC</timezone>
  <max_concurrent_queries>20</max_concurrent_queries>
  <remote_servers>
    <httpcap_two>
      <shard><replica><host>127.0.0.1</host><port>19414</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>19417</port></replica></shard>
    </httpcap_two>
  </remote_servers>
</yandex>
EOF
}
cat >"$tmp/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default>
    <readonly><readonly>1</readonly></readonly></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
EOF
mkconf 0 $HTTP_PORT
mkconf 1 19413
mkconf 2 19416

# start_server N PORT: start server N, wait until it answers SELECT 1 (60 s);
# its pid in srv_pid (server 0), srv1_pid or srv2_pid
start_server() {
	clickhouse-server --config-file="$tmp/srv$1/config.xml" >"$tmp/srv$1/stdout" 2>&1 &
	pid=$!
	case $1 in 0) srv_pid=$pid ;; 1) srv1_pid=$pid ;; 2) srv2_pid=$pid ;; esac
	i=0
	while [ $i -lt 300 ]; do
		if [ "$(curl -s --max-time 2 "http://127.0.0.1:$2/" --data-binary 'SELECT 1' 2>/dev/null)" = 1 ]; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.2
		i=$((i + 1))
	done
	echo "FAIL: clickhouse-server did not answer SELECT 1 on port $2"
	tail -20 "$tmp/srv$1/stdout" "$tmp/srv$1/error.log" 2>/dev/null
	exit 1
}
start_server 0 $HTTP_PORT
q() { curl -s --max-time 30 "$URL/" --data-binary "$1"; }

# ---- the captures ----
fix="$tmp/fx"
mkdir -p "$fix"
"$ROOT/$BUILD/tests/analyze/mkfixtures" "$fix" || { echo "FAIL: mkfixtures"; exit 1; }
cp "$ROOT/samples/demo.htc" "$fix/demo.htc"

# load NAME FILES...: load into ClickHouse, remember the load id as $id_NAME
load() {
	name=$1
	shift
	(cd "$fix" && timeout 120 "$HA" load -q --clickhouse "$URL" "$@" >"$tmp/load.out" 2>"$tmp/load.err")
	rc=$?
	id=$(sed -n 's/^load \([0-9]*\): .*/\1/p' "$tmp/load.out")
	if [ $rc != 0 ] || [ -z "$id" ]; then
		bad "load $name ($*): exit $rc: $(cat "$tmp/load.err")"
		return 1
	fi
	eval "id_$name=$id"
	ok
}

# same NAME LOADID ARGS... -- FILES...: `httpanalyze ARGS FILES` (SQLite) and
# `httpanalyze ARGS --clickhouse URL --load ID` print the same
same() {
	name=$1
	lid=$2
	shift 2
	args=""
	while [ "$1" != "--" ]; do
		args="$args '$1'"
		shift
	done
	shift
	(cd "$fix" && eval timeout 60 "\"$HA\"" "$args" "$@" >"$tmp/sqlite.out" 2>"$tmp/sqlite.err"
	 echo "--- exit $?" >>"$tmp/sqlite.out")
	(cd "$fix" && eval timeout 60 "\"$HA\"" "$args" --clickhouse "$URL" --load "$lid" \
		>"$tmp/ch.out" 2>"$tmp/ch.err"; echo "--- exit $?" >>"$tmp/ch.out")
	# stderr too, but for the reader's warnings about a file, which only
	# a load prints
	grep -v "^httpanalyze: warning: '" "$tmp/sqlite.err" >>"$tmp/sqlite.out"
	cat "$tmp/ch.err" >>"$tmp/ch.out"
	if cmp -s "$tmp/sqlite.out" "$tmp/ch.out"; then
		ok
	else
		bad "$name: ClickHouse output differs from SQLite's"
		diff -u "$tmp/sqlite.out" "$tmp/ch.out" | head -30
		head -5 "$tmp/ch.err"
	fi
}

for f in demo keepalive mixed services traced evidence eventloop undecoded lost midstream \
	 hostile hostile_head multiframe; do
	load "$f" "$f.htc" || continue
done
load two host_a.htc host_b.htc

for f in demo keepalive mixed services traced evidence eventloop undecoded lost midstream \
	 hostile hostile_head multiframe two; do
	eval "lid=\${id_$f:-}"
	[ -n "$lid" ] || continue
	case $f in
	two) files="host_a.htc host_b.htc" ;;
	*) files="$f.htc" ;;
	esac
	# summary in csv: one listing at a time (--section)
	for sec in totals file process endpoint linked evidence dependency undecoded lost; do
		same "summary-$f-csv-$sec" "$lid" summary --format csv --section $sec -- $files
	done
	for fmt in table json csv; do
		[ $fmt = csv ] || same "summary-$f-$fmt" "$lid" summary --format $fmt -- $files
		same "requests-$f-$fmt" "$lid" requests --format $fmt -- $files
		same "latency-$f-$fmt" "$lid" latency --format $fmt -- $files
		same "errors-$f-$fmt" "$lid" errors --format $fmt -- $files
		same "deps-$f-$fmt" "$lid" deps --format $fmt -- $files
		same "show-$f-$fmt" "$lid" show 1001 --format $fmt -- $files
	done
done

# summary's listings one at a time in a table and in json
lid=${id_services:-0}
same summary-section-table "$lid" summary --section linked -- services.htc
same summary-section-process "$lid" summary --section process -- services.htc
same summary-section-lost "$lid" summary --section lost -- services.htc
lid=${id_mixed:-0}
same summary-section-json "$lid" summary --format json --section totals -- mixed.htc
same summary-section-endpoint-json "$lid" summary --format json --section endpoint -- mixed.htc
lid=${id_midstream:-0}
same summary-section-lost-midstream "$lid" summary --section lost -- midstream.htc

# --service (issue 20): the whole name, the prefixes the README lists, the
# name without its ports; requests, errors, latency and deps
lid=${id_services:-0}
same filter-service "$lid" requests --service 'back:9090@svc1' -- services.htc
same filter-service-comm "$lid" requests --service front -- services.htc
same filter-service-partial "$lid" requests --service fro -- services.htc
same filter-service-latency "$lid" latency --service back -- services.htc
same filter-service-deps "$lid" deps --service 'front:8080' -- services.htc
same filter-service-deps-json "$lid" deps --service front --format json -- services.htc
same filter-service-errors "$lid" errors --service back -- services.htc
same filter-service-none "$lid" requests --service nosuch -- services.htc
same show-services-linked "$lid" show 1002 -- services.htc
same show-services-linked-json "$lid" show 1002 --format json -- services.htc
lid=${id_mixed:-0}
same filter-service-port "$lid" requests --service 'api:9000' -- mixed.htc
same filter-service-nohost "$lid" errors --service 'api@web1' -- mixed.htc
same filter-service-status "$lid" latency --service api --status 2xx --format csv -- mixed.htc
lid=${id_demo:-0}
same filter-service-demo "$lid" requests --service demo-front --limit 30 -- demo.htc
same filter-service-demo-deps "$lid" deps --service 'demo-front front.py' -- demo.htc
same show-demo-services "$lid" show 1002 -- demo.htc
lid=${id_hostile:-0}
same show-hostile-resp "$lid" show 1002 -- hostile.htc
same show-hostile-resp-json "$lid" show 1002 --format json -- hostile.htc


# filters, sorting, limits
lid=${id_mixed:-0}
same filter-status "$lid" requests --status 5xx -- mixed.htc
same filter-status-list "$lid" requests --status 404,5xx --sort status -- mixed.htc
same filter-method "$lid" requests --method get -- mixed.htc
same filter-path "$lid" requests --path '/api/*' -- mixed.htc
same filter-path-class "$lid" requests --path '/[a-m]*' -- mixed.htc
same filter-min-duration "$lid" requests --min-duration 2ms --sort duration -- mixed.htc
same filter-since "$lid" requests --since +5ms --until +40ms -- mixed.htc
same filter-limit "$lid" errors --limit 1 --sort duration -- mixed.htc
same filter-latency "$lid" latency --status 2xx --format json -- mixed.htc
same filter-comm "$lid" latency --comm nosuch -- mixed.htc
lid=${id_two:-0}
same filter-host "$lid" requests --host host-b -- host_a.htc host_b.htc
same filter-pid "$lid" requests --pid 300 -- host_a.htc host_b.htc
same filter-deps-limit "$lid" deps --limit 1 -- host_a.htc host_b.htc
same show-child "$lid" show 1000001001 -- host_a.htc host_b.htc
same show-depth0 "$lid" show 1000001001 --depth 0 --format json -- host_a.htc host_b.htc
same show-missing "$lid" show 77 -- host_a.htc host_b.htc
lid=${id_traced:-0}
same filter-trace "$lid" requests --trace-id 4BF92F3577B34DA6A3CE929D0E0E4736 -- traced.htc
lid=${id_demo:-0}
same filter-port "$lid" requests --port 8080 --port 6379 --limit 20 -- demo.htc

# ---- --events: every event, payload bytes exact (hostile ones included) ----
(cd "$fix" && "$HA" load -q --events --clickhouse "$URL" html_hostile.htc >"$tmp/load.out" 2>"$tmp/load.err")
id_ev=$(sed -n 's/^load \([0-9]*\): .*/\1/p' "$tmp/load.out")
evq="SELECT event_id, file_idx, ts_ns, dur_ns, pid, tid, comm, type, syscall, fd, conn_id, ret,"
evq="$evq bytes, stream_off, captured_len, flags, request_id,"
evq="$evq CASE WHEN payload IS NULL THEN '-' ELSE hex(payload) END AS payload"
(cd "$fix" && "$HA" sql --events copy --format csv "$evq FROM events ORDER BY event_id" html_hostile.htc \
	>"$tmp/ev.sqlite" 2>"$tmp/ev.err")
(cd "$fix" && "$HA" sql --format csv --clickhouse "$URL" \
	"$evq FROM httpcap.events WHERE load_id = ${id_ev:-0} ORDER BY event_id" >"$tmp/ev.ch" 2>>"$tmp/ev.err")
if [ "$(wc -l <"$tmp/ev.sqlite")" -gt 5 ] && cmp -s "$tmp/ev.sqlite" "$tmp/ev.ch"; then
	ok
else
	bad "events of html_hostile.htc differ: $(cat "$tmp/load.err" "$tmp/ev.err"; diff "$tmp/ev.sqlite" "$tmp/ev.ch" | head -5)"
fi
hq="SELECT request_id, hex(head) AS head, CASE WHEN body IS NULL THEN '-' ELSE hex(body) END AS body"
(cd "$fix" && "$HA" sql --format csv "$hq FROM requests ORDER BY request_id" hostile.htc >"$tmp/h.sqlite" 2>&1)
(cd "$fix" && "$HA" sql --format csv --clickhouse "$URL" "$hq FROM httpcap.requests WHERE load_id = ${id_hostile:-0} ORDER BY request_id" >"$tmp/h.ch" 2>&1)
if [ "$(wc -l <"$tmp/h.sqlite")" -gt 1 ] && cmp -s "$tmp/h.sqlite" "$tmp/h.ch"; then
	ok
else
	bad "request heads and bodies of hostile.htc differ: $(diff "$tmp/h.sqlite" "$tmp/h.ch" | head -5)"
fi

# ---- loading again changes nothing ----
counts() {
	for t in loads files requests calls connections processes losses; do
		printf '%s ' "$(q "SELECT count() FROM httpcap.$t")"
	done
}
before=$(counts)
(cd "$fix" && "$HA" load --clickhouse "$URL" keepalive.htc >"$tmp/again.out" 2>"$tmp/again.err")
rc=$?
after=$(counts)
if [ $rc = 0 ] && [ "$before" = "$after" ] && grep -q "already loaded" "$tmp/again.out"; then
	ok
else
	bad "loading keepalive.htc twice: exit $rc, rows '$before' -> '$after': $(cat "$tmp/again.out" "$tmp/again.err")"
fi
(cd "$fix" && "$HA" load --clickhouse "$URL" host_a.htc host_b.htc >"$tmp/again.out" 2>&1)
[ $? = 0 ] && [ "$(counts)" = "$before" ] && ok || bad "loading the two hosts twice added rows"
# a file that is part of another load: refused, nothing added
(cd "$fix" && "$HA" load --clickhouse "$URL" host_a.htc >"$tmp/again.out" 2>"$tmp/again.err")
rc=$?
if [ $rc = 1 ] && [ "$(counts)" = "$before" ] && grep -q "already in ClickHouse as part of load" "$tmp/again.err"; then
	ok
else
	bad "host_a.htc alone after the two-host load: exit $rc: $(cat "$tmp/again.err")"
fi

# ---- bad input ----
# expect NAME WANT_RC PATTERN ARGS...: exit status and a stderr line
expect() {
	name=$1
	want=$2
	pat=$3
	shift 3
	(cd "$fix" && timeout 60 "$HA" "$@" >"$tmp/x.out" 2>"$tmp/x.err")
	rc=$?
	if [ $rc = "$want" ] && grep -q -- "$pat" "$tmp/x.err"; then
		ok
	else
		bad "$name: exit $rc (want $want), stderr: $(cat "$tmp/x.err")"
	fi
}
expect sql-refused 1 "clickhouse refused a query (HTTP 404): Code: 60, e.displayText() = DB::Exception: Table httpcap.nosuch doesn.t exist" sql --clickhouse "$URL" 'SELECT * FROM httpcap.nosuch'
expect sql-readonly 1 "clickhouse refused" sql --clickhouse "$URL" 'DROP TABLE httpcap.requests'
expect report-unsupported 2 "report is not supported with --clickhouse yet" report --clickhouse "$URL"
expect export-unsupported 2 "export is not supported with --clickhouse yet" export --clickhouse "$URL"
expect show-ambiguous 1 "request 1001 is in .* loads (.*): choose one with --load" show 1001 --clickhouse "$URL"
expect no-url 2 "load needs --clickhouse URL" load keepalive.htc
expect bad-url 2 "bad --clickhouse 'ftp://x'" summary --clickhouse ftp://x
expect bad-capture 2 "bad --capture" summary --clickhouse "$URL" --capture xyz
expect no-such-load 1 "no complete load in ClickHouse" summary --clickhouse "$URL" --load 12345
expect unreachable 1 "clickhouse: reading the loads at http://127.0.0.1:19499" summary --clickhouse http://127.0.0.1:19499
expect not-htc 1 "notanhtc.htc" load --clickhouse "$URL" notanhtc.htc
expect files-with-report 2 "no capture file" summary --clickhouse "$URL" keepalive.htc
expect summary-csv-no-section 2 "summary --format csv needs --section NAME" summary --format csv --clickhouse "$URL"
expect bad-section 2 "bad --section 'nope'" summary --section nope --clickhouse "$URL"
expect bad-service 2 "bad --service ''" requests --service '' --clickhouse "$URL"
"$HA" load --help >"$tmp/x.out" 2>&1 && grep -q "^usage: httpanalyze load --clickhouse URL" "$tmp/x.out" && ok ||
	bad "load --help: $(cat "$tmp/x.out")"
# sql passes a query through and prints it as `sql` does
(cd "$fix" && "$HA" sql --clickhouse "$URL" --format csv \
	"SELECT count() AS n FROM httpcap.requests WHERE load_id = ${id_mixed:-0}" >"$tmp/x.out" 2>&1)
n_sqlite=$(cd "$fix" && "$HA" sql --format csv 'SELECT count(*) AS n FROM requests' mixed.htc)
[ "$(cat "$tmp/x.out")" = "$n_sqlite" ] && ok || bad "sql count: '$(cat "$tmp/x.out")' vs '$n_sqlite'"
# --capture selects the loads holding that capture id: every fixture has the
# same one, the demo capture its own
(cd "$fix" && "$HA" summary --clickhouse "$URL" --capture F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF --format json >"$tmp/x.out" 2>&1)
nfiles=$(grep -c '^{"section": "file",' "$tmp/x.out")
want=$(q "SELECT count() FROM httpcap.files WHERE capture_id = 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff' AND load_id IN (SELECT load_id FROM httpcap.loads)")
if [ "$nfiles" = "$want" ] && [ "$nfiles" -ge 14 ] && ! grep -q demo.htc "$tmp/x.out"; then
	ok
else
	bad "--capture: $nfiles files in the summary, $want in ClickHouse"
fi

# ---- the server goes away in the middle of a load ----
"$ROOT/$BUILD/bench/analyze/gen" "$fix/big.htc" 100000 >/dev/null || bad "gen"
(cd "$fix" && timeout 300 "$HA" load --clickhouse "$URL" big.htc >"$tmp/kill.out" 2>"$tmp/kill.err"; echo $? >"$tmp/kill.rc") &
ld_pid=$!
# kill -9 once the attempt is recorded (before its rows are all sent: the
# load stages 100k requests first), bounded to 60 s
i=0
na=$(q "SELECT count() FROM httpcap.loads")
while [ $i -lt 600 ] && [ "$(q "SELECT count() FROM httpcap.load_attempts")" -le "$na" ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -9 "$srv_pid" 2>/dev/null
wait "$srv_pid" 2>/dev/null
srv_pid=
wait $ld_pid
rc=$(cat "$tmp/kill.rc")
if [ "$rc" = 1 ] && grep -q "httpanalyze: clickhouse: .* at $URL: " "$tmp/kill.err" &&
   ! grep -q '^load [0-9]*: ' "$tmp/kill.out"; then
	ok
else
	bad "server killed mid-load: exit $rc, stdout '$(cat "$tmp/kill.out")', stderr '$(cat "$tmp/kill.err")'"
fi
start_server 0 $HTTP_PORT
nload_before=$(q "SELECT count() FROM httpcap.loads")
if [ "$(q "SELECT count() FROM httpcap.loads WHERE has(paths, 'big.htc')")" = 0 ]; then
	ok
else
	bad "the killed load is listed as complete"
fi
(cd "$fix" && timeout 300 "$HA" load -v --clickhouse "$URL" big.htc >"$tmp/kill.out" 2>"$tmp/kill.err")
rc=$?
big=$(sed -n 's/^load \([0-9]*\): .*/\1/p' "$tmp/kill.out")
nreq=$(q "SELECT count() FROM httpcap.requests WHERE load_id = ${big:-0}")
want=$(cd "$fix" && "$HA" sql --format csv 'SELECT count(*) AS n FROM requests' big.htc | tail -1 | tr -d '\r')
nall=$(q "SELECT count() FROM httpcap.requests WHERE load_id NOT IN (SELECT load_id FROM httpcap.loads)")
if [ $rc = 0 ] && [ -n "$big" ] && [ "$nreq" = "$want" ] && [ "$(q "SELECT count() FROM httpcap.loads")" = $((nload_before + 1)) ]; then
	ok
else
	bad "loading again after the kill: loads $nload_before -> $(q "SELECT count() FROM httpcap.loads"), exit $rc, load '$big', $nreq requests (want $want): $(cat "$tmp/kill.err")"
fi
# the unfinished attempt's rows: deleted (a mutation, asynchronous: bounded wait)
i=0
while [ "$nall" != 0 ] && [ $i -lt 100 ]; do
	sleep 0.2
	nall=$(q "SELECT count() FROM httpcap.requests WHERE load_id NOT IN (SELECT load_id FROM httpcap.loads)")
	i=$((i + 1))
done
[ "$nall" = 0 ] && ok || bad "$nall rows of the killed load left after loading again"
same big-summary "${big:-0}" summary -- big.htc
same big-latency "${big:-0}" latency -- big.htc

# ---- a pair linked late, across hosts with skewed clocks ----
# skew_a.htc is host_a.htc, already in the load `two`: a fresh database
q "DROP DATABASE httpcap" >/dev/null
load skew_slow skew_a.htc skew_b_slow.htc
lid=${id_skew_slow:-0}
for fmt in table json; do
	same "requests-skew-$fmt" "$lid" requests --format $fmt -- skew_a.htc skew_b_slow.htc
	same "errors-skew-$fmt" "$lid" errors --format $fmt -- skew_a.htc skew_b_slow.htc
	same "latency-skew-$fmt" "$lid" latency --format $fmt -- skew_a.htc skew_b_slow.htc
	same "deps-skew-$fmt" "$lid" deps --format $fmt -- skew_a.htc skew_b_slow.htc
	same "show-skew-$fmt" "$lid" show 1001 --format $fmt -- skew_a.htc skew_b_slow.htc
done
# summary's "linked" listing: the pairs linked during the load only (not
# this one; requests.ch_linked tells ClickHouse which)
same summary-skew-table "$lid" summary -- skew_a.htc skew_b_slow.htc
for sec in totals file process endpoint linked evidence dependency undecoded lost; do
	same "summary-skew-$sec" "$lid" summary --format csv --section $sec -- skew_a.htc skew_b_slow.htc
done

# ---- a cluster of two shards: Distributed tables over <table>_local ----
stop_server
start_server 1 19413
start_server 2 19416
U1=http://127.0.0.1:19413
U2=http://127.0.0.1:19416
# the local and Distributed tables made on each node (--on-cluster does it
# from one node where the cluster has ZooKeeper), loads sent through either
for port in 19414 19417; do
	"$HA" schema --clickhouse x --cluster httpcap_two >"$tmp/ddl.sql"
	if ! timeout 60 clickhouse-client --host 127.0.0.1 --port $port --multiquery <"$tmp/ddl.sql" >"$tmp/ddl.out" 2>&1; then
		bad "cluster DDL through clickhouse-client on port $port: $(cat "$tmp/ddl.out")"
	fi
done
URL_SAVE=$URL
for spec in "$U1 mixed mixed.htc" "$U2 two host_a.htc host_b.htc" "$U2 services services.htc" "$U1 demo demo.htc"; do
	set -- $spec
	u=$1
	name=$2
	shift 2
	(cd "$fix" && timeout 120 "$HA" load -q --clickhouse "$u" --cluster httpcap_two "$@" >"$tmp/load.out" 2>"$tmp/load.err")
	rc=$?
	id=$(sed -n 's/^load \([0-9]*\): .*/\1/p' "$tmp/load.out")
	if [ $rc != 0 ] || [ -z "$id" ]; then
		bad "cluster load $name: exit $rc: $(cat "$tmp/load.err")"
		continue
	fi
	ok
	# read through the other node
	[ "$u" = "$U1" ] && URL=$U2 || URL=$U1
	for cmd in summary requests latency errors deps; do
		same "cluster-$cmd-$name" "$id" $cmd -- "$@"
	done
	same "cluster-show-$name" "$id" show 1001 -- "$@"
	URL=$URL_SAVE
done
(cd "$fix" && "$HA" load -q --clickhouse "$U2" --cluster httpcap_two mixed.htc >"$tmp/again.out" 2>&1)
grep -q "already loaded" "$tmp/again.out" && ok || bad "cluster: mixed.htc loaded twice: $(cat "$tmp/again.out")"
n1=$(curl -s "$U1/" --data-binary "SELECT count() FROM httpcap.requests_local")
n2=$(curl -s "$U2/" --data-binary "SELECT count() FROM httpcap.requests_local")
nd=$(curl -s "$U1/" --data-binary "SELECT count() FROM httpcap.requests")
if [ -n "$nd" ] && [ "$nd" -gt 0 ] && [ $((n1 + n2)) = "$nd" ]; then
	ok
else
	bad "cluster: requests on the shards $n1 + $n2, through the Distributed table $nd"
fi
echo "clickhouse: cluster: requests on shard 1: $n1, shard 2: $n2"

echo "clickhouse: $pass passed, $fail failed"

[ $fail = 0 ]
