#!/bin/bash
# Kernel-side connection filters: --host ADDR[/BITS] (IPv4 and IPv6,
# repeatable, either end of the connection) and --cgroup PATH (a cgroup v2
# made here, its descendants included).  Four captures run at the same time
# on the same traffic; each keeps exactly its connections, and the count of
# connections filtered out is reported.  Ports 19250-19253.
. "$(dirname "$0")/lib.sh"
need_root
P2=19250	# server on 127.0.0.2
P1=19251	# server on 127.0.0.1
P6=19252	# server on ::1
PC=19253	# server on 127.0.0.1, inside the test's cgroup

# a cgroup v2 of our own: under the cgroup2 mount, or a cgroup2 mounted here
CGROOT=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
if [ -z "$CGROOT" ]; then
	CGROOT="$T/cgroup2"
	mkdir -p "$CGROOT"
	mount -t cgroup2 none "$CGROOT" || fail "cannot mount cgroup2 on $CGROOT"
	MOUNTS+=("$CGROOT")
fi
CG="$CGROOT/httpcap-e2e-$$"
if ! mkdir "$CG" 2>/dev/null; then
	# a read-only cgroup2 (a container): a mount of our own is writable
	CGROOT="$T/cgroup2"
	mkdir -p "$CGROOT"
	mount -t cgroup2 none "$CGROOT" || fail "cannot create a cgroup under $CG nor mount cgroup2"
	MOUNTS+=("$CGROOT")
	CG="$CGROOT/httpcap-e2e-$$"
	mkdir "$CG" || fail "cannot create cgroup $CG"
fi
mkdir "$CG/child" || fail "cannot create cgroup $CG/child"
cg_cleanup() {
	# empty and remove the cgroups first: cleanup unmounts a cgroup2 of
	# our own, which would leave them behind, unseen.  Only this test's
	# server is in them.
	local p
	for p in $(cat "$CG/child/cgroup.procs" "$CG/cgroup.procs" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 50); do
		rmdir "$CG/child" 2>/dev/null; rmdir "$CG" 2>/dev/null && break
		sleep 0.1
	done
	[ -d "$CG" ] && echo "warning: could not remove cgroup $CG" >&2
	cleanup
}
trap cg_cleanup EXIT

mkdir -p "$T/www"
echo hello >"$T/www/a.txt"
pyserve() {	# ADDR PORT: python3 http.server, pid in PY_PID
	python3 -m http.server "$2" --bind "$1" --directory "$T/www" >"$T/py-$2.log" 2>&1 &
	PY_PID=$!
	track "$PY_PID"
	wait_port "$2" "$1"
}
pyserve 127.0.0.2 $P2; py2=$PY_PID
pyserve 127.0.0.1 $P1; py1=$PY_PID
pyserve ::1 $P6; py6=$PY_PID
# in the child cgroup, so that only "descendants included" lets it through
sh -c "echo \$\$ >'$CG/child/cgroup.procs' && exec python3 -m http.server $PC --bind 127.0.0.1 \
	--directory '$T/www'" >"$T/py-$PC.log" 2>&1 &
pyc=$!
track $pyc
wait_port $PC
grep -qx "$pyc" "$CG/child/cgroup.procs" || fail "server $pyc is not in $CG/child"

start_capture_bg h2 -w "$T/h2.htc" --host 127.0.0.2; c1=$CAP_PID
start_capture_bg h6 -w "$T/h6.htc" --host ::1; c2=$CAP_PID
start_capture_bg hmix -w "$T/hmix.htc" --host 127.0.0.2/31 --host ::1/128; c3=$CAP_PID
start_capture_bg cg -w "$T/cg.htc" --cgroup "$CG"; c4=$CAP_PID
# the same cgroup by its path inside the hierarchy, as systemctl shows it
start_capture_bg cgrel -w "$T/cgrel.htc" --cgroup "${CG#"$CGROOT"}"; c5=$CAP_PID
wait_ready h2 $c1; wait_ready h6 $c2; wait_ready hmix $c3; wait_ready cg $c4; wait_ready cgrel $c5
grep -q "sockets matching --host 127.0.0.2/32" "$T/h2.err" || fail "banner does not name --host: $(cat "$T/h2.err")"
grep -q "sockets matching --cgroup $CG" "$T/cg.err" || fail "banner does not name --cgroup: $(cat "$T/cg.err")"

for i in 1 2; do
	curl -s -o /dev/null "http://127.0.0.2:$P2/a.txt?$i" || fail "curl 127.0.0.2"
	curl -s -o /dev/null "http://127.0.0.1:$P1/a.txt?$i" || fail "curl 127.0.0.1"
	curl -s -o /dev/null -g "http://[::1]:$P6/a.txt?$i" || fail "curl ::1"
	curl -s -o /dev/null "http://127.0.0.1:$PC/a.txt?$i" || fail "curl cgroup server"
done
settle
for c in $c1 $c2 $c3 $c4 $c5; do stop_capture $c || fail "httpcap exited with status $?"; done

for n in h2 h6 hmix cg cgrel; do
	f=$(grep -o '^[0-9]* connections filtered out' "$T/$n.err" | cut -d' ' -f1)
	[ -n "$f" ] && [ "$f" -gt 0 ] || fail "$n: no count of filtered connections: $(cat "$T/$n.err")"
done

check "$T/h2.htc" '
expect(ev, "nothing captured with --host 127.0.0.2")
for e in ev:
    expect("127.0.0.2" in (e["local_ip"], e["remote_ip"]), "event off 127.0.0.2", e)
eq(len(server_requests(sel(pid=int(args[0])))), 2, "requests of the 127.0.0.2 server")
eq(len(sel(event_type="connect", comm="curl")), 2, "curl connections to 127.0.0.2")
' $py2
check "$T/h6.htc" '
expect(ev, "nothing captured with --host ::1")
for e in ev:
    expect(e["local_ip"] == "::1" or e["remote_ip"] == "::1", "event off ::1", e)
eq(len(server_requests(sel(pid=int(args[0])))), 2, "requests of the ::1 server")
' $py6
check "$T/hmix.htc" '
ports = set(e["local_port"] for e in ev) | set(e["remote_port"] for e in ev)
expect(int(args[0]) in ports and int(args[1]) in ports, "both prefixes matched", sorted(ports))
for e in ev:
    expect(e["local_ip"] in ("127.0.0.2", "127.0.0.3", "::1") or
           e["remote_ip"] in ("127.0.0.2", "127.0.0.3", "::1"), "event off the prefixes", e)
eq(len(server_requests(ev)), 4, "requests of the 127.0.0.2 and ::1 servers")
' $P2 $P6
for n in cg cgrel; do
	check "$T/$n.htc" '
expect(ev, "nothing captured with --cgroup")
eq(set(e["pid"] for e in ev), {int(args[0])}, "pids with --cgroup (the server in the child cgroup)")
eq(len(server_requests(ev)), 2, "requests of the server in the cgroup")
' $pyc
done

# bad values, named in the message
"$HTTPCAP" --cgroup "$T" 2>"$T/bad.err" && fail "--cgroup on a plain directory accepted"
grep -q "not a cgroup v2 directory" "$T/bad.err" || fail "--cgroup message: $(cat "$T/bad.err")"
"$HTTPCAP" --cgroup /no/such/cgroup 2>"$T/bad.err" && fail "--cgroup on a missing path accepted"
grep -q "'/no/such/cgroup': no such cgroup" "$T/bad.err" || fail "--cgroup message: $(cat "$T/bad.err")"
info "--host (v4, v6, prefixes, repeated) and --cgroup (descendants) checked"
