#!/bin/bash
# Live output and how a capture ends: JSON lines on stdout with -c COUNT,
# --text lines, -w - (a capture file on stdout), --duration, SIGTERM (a
# complete file), and -Z USER with -G rotation after the privilege drop.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18585

mkdir -p "$T/www" "$T/z"
echo live >"$T/www/live.txt"
chown nobody "$T/z"
start_python_server $PORT "$T/www"

start_capture_bg json --port $PORT -c 6; cj=$CAP_PID
start_capture_bg cfile -w "$T/c5.htc" --port $PORT -c 5; ccf=$CAP_PID
start_capture_bg term -w "$T/term.htc" --port $PORT; cterm=$CAP_PID
start_capture_bg z -w "$T/z/z-%H%M%S.htc" -G 1 -Z nobody --port $PORT; cz=$CAP_PID
wait_ready json $cj; wait_ready cfile $ccf; wait_ready term $cterm; wait_ready z $cz
# the --duration ones last, so that their 8 s cover the traffic below
start_capture_bg text --port $PORT --text --duration 8; ct=$CAP_PID
start_capture_bg stdout -w - --port $PORT --duration 8; cs=$CAP_PID
wait_ready text $ct; wait_ready stdout $cs
t0=$(date +%s)

for i in 1 2 3; do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/live.txt?$i" || fail "curl"
	sleep 1
done
settle

# -c 6: ends by itself after 6 events, each a JSON line
wait_exit $cj 10 || fail "httpcap -c 6 exited with status $?"
[ "$(grep -c . "$T/json.out")" = 6 ] || fail "-c 6 printed $(grep -c . "$T/json.out") lines"
python3 "$CAPCHECK" - "$T/json.out" '
w = sel(comm="curl", event_type="write")
expect(w, "no curl write among the first 6 events", ev)
eq((w[0]["method"], w[0]["path"]), ("GET", "/live.txt?1"), "method and path of the first request write")
expect(sel(event_type="connect"), "no connect among the first 6 events", ev)
' || fail "JSON on stdout"

# -w with -c 5: ends by itself with a complete file of 5 events
wait_exit $ccf 10 || fail "httpcap -w -c 5 exited with status $?"
"$HTTPCAP" -r "$T/c5.htc" >"$T/c5.out" 2>"$T/c5.rerr" || fail "-c 5 capture unreadable"
[ -s "$T/c5.rerr" ] && fail "-c 5 capture incomplete: $(cat "$T/c5.rerr")"
[ "$(grep -c . "$T/c5.out")" = 5 ] || fail "-w -c 5 wrote $(grep -c . "$T/c5.out") events"

# --duration 8: ends by itself, on time
wait_exit $ct 15 || fail "httpcap --text --duration exited with status $?"
wait_exit $cs 15 || fail "httpcap -w - --duration exited with status $?"
t1=$(date +%s)
[ $((t1 - t0)) -le 14 ] || fail "--duration 8 took $((t1 - t0)) s after the start"
grep -q 'GET /live.txt?2' "$T/text.out" || fail "--text lacks the request: $(head -3 "$T/text.out")"
LC_ALL=C grep -q '[^[:print:]]' "$T/text.out" && fail "--text printed a non-printable byte"
[ "$(grep -c . "$T/text.out")" -ge 18 ] || fail "--text printed $(grep -c . "$T/text.out") lines"

# -w -: a capture file on stdout
"$HTTPCAP" -r "$T/stdout.out" >"$T/stdout.json" 2>"$T/stdout.rerr" || fail "-w - output unreadable: $(cat "$T/stdout.rerr")"
check "$T/stdout.out" 'eq(len(server_requests(sel(comm="python3"))), 3, "requests in the -w - capture")'
# the statistics went to stderr, not into the file
grep -q "events captured" "$T/stdout.err" || fail "-w -: no statistics on stderr"

# SIGTERM: a complete file, no warning when read
stop_capture $cterm TERM || fail "httpcap exited with status $? on SIGTERM"
"$HTTPCAP" -r "$T/term.htc" >/dev/null 2>"$T/term.rerr" || fail "SIGTERM capture unreadable"
[ -s "$T/term.rerr" ] && fail "SIGTERM capture incomplete: $(cat "$T/term.rerr")"
check "$T/term.htc" 'eq(len(server_requests(sel(comm="python3"))), 3, "requests after SIGTERM")'

# -Z nobody -G 1: files made after the drop belong to nobody and are readable
stop_capture $cz || fail "httpcap -Z exited with status $?"
n=$(ls "$T/z" | wc -l)
[ "$n" -ge 3 ] || fail "-Z nobody -G 1: $n files ($(ls "$T/z"))"
owners=$(stat -c %U "$T"/z/* | sort -u | tr '\n' ' ')
echo "$owners" | grep -q nobody || fail "-Z nobody: no file created by nobody after the drop (owners: $owners)"
for f in "$T"/z/*; do
	"$HTTPCAP" -r "$f" >/dev/null 2>"$T/z.rerr" || fail "$f unreadable: $(cat "$T/z.rerr")"
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f")"
done
info "-c, --text, -w -, --duration, SIGTERM, -Z with -G ($n files, owners $owners)"
