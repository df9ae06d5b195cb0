#!/bin/bash
# httpcap --top: piped (not a terminal) it prints one plain snapshot per
# interval naming the service, the endpoint and its rate, while -w writes
# the file as usual; on a terminal (script(1) gives it one) it takes the
# alternate screen and gives it back on q and on SIGTERM; -c bounds it.
# Ports 19270-19271.
. "$(dirname "$0")/lib.sh"
need_root
command -v script >/dev/null || fail "script (util-linux) is missing"
P=19270

mkdir -p "$T/www"
echo hello >"$T/www/a.txt"
start_python_server $P "$T/www"

# ---- piped: snapshots on stdout, the file written too ----
start_capture top -w "$T/top.htc" --top --port $P --duration 6; cap=$CAP_PID
for i in $(seq 40); do
	curl -s -o /dev/null "http://127.0.0.1:$P/a.txt?i=$i" || fail "curl $i"
	curl -s -o /dev/null "http://127.0.0.1:$P/nope" || fail "curl nope $i"
	# http.server answers DELETE with 501: an error
	[ $((i % 4)) = 0 ] && { curl -s -o /dev/null -X DELETE "http://127.0.0.1:$P/a.txt" || fail "curl DELETE"; }
	sleep 0.05
done
wait_exit $cap 30 || fail "httpcap --top exited with status $?"
grep -q $'\033' "$T/top.out" && fail "escape sequences in the piped output"
python3 - "$T/top.out" $P <<'EOF' || fail "snapshots: $(head -30 "$T/top.out")"
import re, sys
text, port = open(sys.argv[1]).read(), sys.argv[2]
snaps = [s for s in text.split("\n\n") if s.startswith("httpcap --top ")]
assert len(snaps) >= 4, "want a snapshot per second, got %d" % len(snaps)
assert "(end)" in snaps[-1], "the last snapshot is the end's"
rows = re.findall(r"^python3:%s +GET /a\.txt +([0-9.]+) +([0-9.]+) +(\S+) +(\S+) +(\d+)$" % port,
                  text, re.M)
assert rows, "no row for python3:%s GET /a.txt" % port
assert max(float(r[0]) for r in rows) > 1, "no request rate above 1/s: %r" % rows
assert int(rows[-1][4]) == 40, "total of the last snapshot: %r" % (rows[-1],)
nope = re.findall(r"^python3:%s +GET /nope +[0-9.]+ +([0-9.]+) " % port, text, re.M)
assert nope and all(float(e) == 0 for e in nope), "404s are not errors: %r" % nope
dele = re.findall(r"^python3:%s +DELETE /a\.txt +([0-9.]+) +([0-9.]+) .* (\d+)$" % port, text, re.M)
assert dele and max(float(d[1]) for d in dele) > 0, "501s counted as errors: %r" % dele
assert int(dele[-1][2]) == 10, "DELETE total: %r" % (dele[-1],)
assert re.search(r"^curl +http 127\.0\.0\.1:%s " % port, text, re.M), "no downstream row of curl"
assert re.search(r"[0-9.]+ req/s", snaps[1]), "header without the rate"
print("  snapshots: %d, /a.txt rates %s" % (len(snaps), [r[0] for r in rows]))
EOF
check "$T/top.htc" '
eq(len(server_requests(ev)), 90, "requests in the file written with --top")
'

# ---- -c bounds it ----
timeout 30 "$HTTPCAP" --top --port $P -c 5 >"$T/c.out" 2>"$T/c.err" &
cpid=$!
track $cpid
for _ in $(seq 100); do grep -q capturing "$T/c.err" && break; sleep 0.1; done
for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$P/a.txt" || fail "curl -c"; done
wait_exit $cpid 20 || fail "httpcap --top -c 5 exited with status $?"
grep -q '^5 events captured' "$T/c.err" || fail "-c 5: $(cat "$T/c.err")"

# ---- a terminal: alternate screen, q quits, SIGTERM restores ----
(sleep 4; printf q; sleep 20) | timeout 40 script -qc "$HTTPCAP --top --port $P --duration 30" \
	/dev/null >"$T/tty.out" 2>&1 &
spid=$!
track $spid
sleep 2
for i in $(seq 5); do curl -s -o /dev/null "http://127.0.0.1:$P/a.txt" || fail "curl tty"; done
for _ in $(seq 150); do grep -q "events captured" "$T/tty.out" && break; sleep 0.1; done
grep -q "events captured" "$T/tty.out" || fail "q did not end httpcap --top: $(cat -v "$T/tty.out" | tail -5)"
grep -q $'\033\[?1049h' "$T/tty.out" || fail "no alternate screen on a terminal"
grep -q $'\033\[?1049l' "$T/tty.out" || fail "alternate screen not left after q"
grep -q "python3:$P *GET /a.txt" "$T/tty.out" || fail "terminal view without the endpoint"

timeout 40 script -qc "$HTTPCAP --top --port $P --duration 30" /dev/null >"$T/tty2.out" 2>&1 </dev/null &
spid=$!
track $spid
# httpcap: the descendant of timeout -> script (-> sh) named httpcap
httpcap_under() {
	local p=$1 d c
	for d in 1 2 3 4; do
		for c in $(ps -o pid= --ppid "$p"); do
			[ "$(ps -o comm= -p "$c")" = httpcap ] && { echo "$c"; return; }
			p=$c
		done
	done
}
hc=""
for _ in $(seq 100); do
	grep -q "capturing" "$T/tty2.out" && hc=$(httpcap_under $spid) && [ -n "$hc" ] && break
	sleep 0.1
done
[ -n "$hc" ] || fail "httpcap --top under script did not start"
sleep 1.5
kill -TERM "$hc"
wait_exit $spid 20
grep -q $'\033\[?1049l' "$T/tty2.out" || fail "alternate screen not left after SIGTERM"
grep -q "events captured" "$T/tty2.out" || fail "no statistics after SIGTERM"
info "--top piped (snapshots, -w, -c) and on a terminal (q, SIGTERM) checked"
