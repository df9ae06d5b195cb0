#!/bin/bash
# Filters: -p PID (once and repeated), --comm NAME, --port PORT each keep
# exactly what they should.  The captures run at the same time, on the same
# traffic: two python servers, curl clients to both.
. "$(dirname "$0")/lib.sh"
need_root
PA=18550
PB=18551

mkdir -p "$T/www"
echo a >"$T/www/a.txt"
start_python_server $PA "$T/www"; pya=$PY_PID
start_python_server $PB "$T/www"; pyb=$PY_PID

start_capture_bg pid -w "$T/pid.htc" -p $pya; c1=$CAP_PID
start_capture_bg pids -w "$T/pids.htc" -p $pya --pid $pyb; c2=$CAP_PID
start_capture_bg comm -w "$T/comm.htc" --comm curl; c3=$CAP_PID
start_capture_bg port -w "$T/port.htc" --port $PB; c4=$CAP_PID
wait_ready pid $c1; wait_ready pids $c2; wait_ready comm $c3; wait_ready port $c4

for i in 1 2; do
	curl -s -o /dev/null "http://127.0.0.1:$PA/a.txt?$i" || fail "curl A"
	curl -s -o /dev/null "http://127.0.0.1:$PB/a.txt?$i" || fail "curl B"
done
python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PB/a.txt?py').read()" || fail "python client"
settle
for c in $c1 $c2 $c3 $c4; do stop_capture $c || fail "httpcap exited with status $?"; done

check "$T/pid.htc" '
pya = int(args[0])
expect(ev, "nothing captured with -p")
eq(set(e["pid"] for e in ev), {pya}, "pids with -p")
eq(len(server_requests(ev)), 2, "requests of server A")
' $pya
check "$T/pids.htc" '
eq(set(e["pid"] for e in ev), {int(args[0]), int(args[1])}, "pids with -p twice")
eq(len(server_requests(ev)), 5, "requests of servers A and B")
' $pya $pyb
check "$T/comm.htc" '
expect(ev, "nothing captured with --comm")
eq(set(e["comm"] for e in ev), {"curl"}, "comms with --comm curl")
# other curl processes of the host may show up too: look at our ports
ours = sel(remote_port=lambda p: p in (int(args[0]), int(args[1])))
eq(set(e["remote_port"] for e in ours), {int(args[0]), int(args[1])}, "curl went to both servers")
eq(len(sel(ours, event_type="connect")), 4, "curl connections")
eq(len(sel(ours, event_type="write")), 4, "curl requests")
' $PA $PB
check "$T/port.htc" '
pb = int(args[0])
expect(ev, "nothing captured with --port")
for e in ev:
    expect(pb in (e["local_port"], e["remote_port"]), "event off port %d" % pb, e)
eq(set(e["comm"] for e in ev), {"curl", "python3"}, "comms on port B")
eq(len(server_requests(sel(pid=int(args[1])))), 3, "requests of server B")
' $PB $pyb
info "-p, -p -p, --comm, --port checked"
