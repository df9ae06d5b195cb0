#!/bin/bash
# PostgreSQL (Debian's postgresql package) with pgbench in simple, extended
# and prepared modes (issue 13, defect 3): httpanalyze's calls, counted per
# statement, equal pg_stat_statements' counts of the same run.  The
# cluster is the test's own: initdb as the postgres user in $T, loopback
# and a private port, pg_stat_statements preloaded; stopped at exit.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18710
ANALYZE="$ROOT/$BUILD/httpanalyze"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$BIN/initdb" ] || fail "no PostgreSQL server (package postgresql)"
id postgres >/dev/null 2>&1 || fail "no postgres user (package postgresql)"
TX=${PG_TX:-40}		# transactions per client and mode

D="$T/pg"
mkdir -p "$D"
chown postgres: "$D"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$BIN/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 >"$T/initdb.log" 2>&1 \
	|| { cat "$T/initdb.log"; fail "initdb failed"; }
cat >>"$D/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$D'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 1000
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 60 start >"$T/pg_ctl.err" 2>&1 \
	|| { tail -n 20 "$D/server.log"; fail "PostgreSQL did not start"; }
PGPID=$(head -n 1 "$D/data/postmaster.pid")
track "$PGPID"
stop_pg() {
	as_pg "$BIN/pg_ctl" -D "$D/data" -m fast -w -t 30 stop >/dev/null 2>&1
}
PSQL=(psql -X -q -At -h 127.0.0.1 -p $PORT -U postgres -d postgres)

pgbench -i -s 1 -q -h 127.0.0.1 -p $PORT -U postgres postgres >"$T/pgbench-init.log" 2>&1 \
	|| { cat "$T/pgbench-init.log"; fail "pgbench -i failed"; }
"${PSQL[@]}" -c "CREATE EXTENSION pg_stat_statements" || fail "CREATE EXTENSION"
"${PSQL[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null || fail "reset"

start_capture cap -w "$T/pg.htc" --port $PORT
for mode in simple extended prepared; do
	pgbench -n -S -M $mode -c 2 -j 1 -t "$TX" -h 127.0.0.1 -p $PORT -U postgres postgres \
		>"$T/pgbench-$mode.log" 2>&1 || { cat "$T/pgbench-$mode.log"; fail "pgbench -M $mode"; }
done
settle 2
stop_capture $CAP_PID || fail "httpcap exited with status $?"

"${PSQL[@]}" -F $'\t' -c "SELECT calls, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
	WHERE query NOT LIKE '%pg_stat_statements%'" >"$T/pgss.tsv" || fail "pg_stat_statements"
stop_pg || fail "pg_ctl stop"

"$ANALYZE" --db "$T/pg.db" -q "$T/pg.htc" >/dev/null 2>"$T/analyze.err" || fail "httpanalyze: $(cat "$T/analyze.err")"
"$ANALYZE" sql --db "$T/pg.db" --format csv \
	"SELECT summary, error, unanswered FROM calls WHERE protocol = 'postgres' AND comm = 'pgbench'" \
	>"$T/calls.csv" || fail "httpanalyze sql"
# one connection row per connection (defect 5): pgbench opens 2 per mode
# and one more for its setup queries; the postmaster accepts each and hands
# it to a backend, which serves it: one server row, opened at the accept
rows=$("$ANALYZE" sql --db "$T/pg.db" --format csv \
	"SELECT role, count(*), sum(preexisting), sum(bytes_in = 0 AND bytes_out = 0) FROM connections
	 GROUP BY role ORDER BY role" | tail -n +2 | tr -d '\r' | tr '\n' ' ')
[ "$rows" = "client,9,0,0 server,9,0,0 " ] || fail "connection rows (role,rows,preexisting,empty): $rows"

python3 - "$T/pgss.tsv" "$T/calls.csv" "$TX" <<'EOF' || fail "per-statement counts differ"
import csv, re, sys
from collections import Counter

def norm(q):
    """A statement as pg_stat_statements normalises it: constants and
    parameters as ?, spacing collapsed, no final semicolon."""
    q = re.sub(r"'(?:[^']|'')*'", "?", q)
    q = re.sub(r"\$\d+", "?", q)
    q = re.sub(r"\b\d+\b", "?", q)
    q = re.sub(r"\s+", " ", q).strip()
    return q.rstrip("; ")

pgss = Counter()
for line in open(sys.argv[1]):
    calls, q = line.rstrip("\n").split("\t", 1)
    pgss[norm(q)] += int(calls)
ours = Counter()
bad = 0
with open(sys.argv[2]) as f:
    for row in csv.DictReader(f):
        ours[row["summary"]] += 1
        bad += int(row["error"]) + int(row["unanswered"])
# a summary cut at the engine's cap ("...") matches the one statement it begins
got = Counter()
for s, n in ours.items():
    if s.endswith("..."):
        p = norm(s[:-3])[:-2]	# the cut may end inside a constant
        m = [k for k in pgss if k.startswith(p)]
        got[m[0] if len(m) == 1 else s] += n
    else:
        got[norm(s)] += n
print("  statement counts (pg_stat_statements / httpanalyze):")
for k in sorted(set(pgss) | set(got)):
    print(f"    {pgss[k]:5d} {got[k]:5d}  {k[:90]}")
tx = int(sys.argv[3])
sel = "SELECT abalance FROM pgbench_accounts WHERE aid = ?"
assert pgss[sel] == 3 * 2 * tx, f"pg_stat_statements counted {pgss[sel]} SELECTs, pgbench ran {6 * tx}"
assert got == pgss, "counts differ"
assert bad == 0, f"{bad} calls flagged error or unanswered"
EOF
info "connections (role,rows,preexisting,empty): $rows"
info "pgbench simple, extended, prepared ($TX transactions x 2 clients each): per-statement counts equal pg_stat_statements'"
