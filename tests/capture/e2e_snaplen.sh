#!/bin/bash
# -s SNAPLEN: at most SNAPLEN payload bytes per call, the byte counts whole;
# -s 0 records lengths only.  A secret cut by the snaplen leaves no piece.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18555
TOKEN=$(rand_token)

mkdir -p "$T/www"
head -c 5000 /dev/urandom | base64 >"$T/www/f.txt"
yes 0123456789abcdef | head -c 1000000 >"$T/www/big.bin"
start_python_server $PORT "$T/www"
start_capture_bg s20 -w "$T/s20.htc" -s 20 --port $PORT; c1=$CAP_PID
start_capture_bg s0 -w "$T/s0.htc" -s 0 --port $PORT; c2=$CAP_PID
# the token starts about 100 bytes into curl's request: cut inside it
start_capture_bg s112 -w "$T/s112.htc" -s 112 --port $PORT; c3=$CAP_PID
wait_ready s20 $c1; wait_ready s0 $c2; wait_ready s112 $c3

curl -s -o /dev/null -w '%{size_request} %{size_header} %{size_download}\n' \
	-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/f.txt" >"$T/sizes" || fail "curl"
settle
for c in $c1 $c2 $c3; do stop_capture $c || fail "httpcap exited with status $?"; done

for f in s20 s0 s112; do
	snap=${f#s}
	check "$T/$f.htc" '
snap = int(args[0])
sreq, shdr, sdown = map(int, open(args[1]).read().split())
data = sel(event_type=lambda t: t in ("read", "write"))
expect(data, "no data events")
for e in data:
    eq(e["captured_len"], min(snap, e["payload_len"]), "captured_len with -s %d" % snap)
    eq(len(e["payload"].encode("latin-1", "replace")) if snap else len(e["payload"]), e["captured_len"], "payload size")
cu = sel(comm="curl")
eq(total(sel(cu, event_type="write")), sreq, "curl bytes sent with -s %d" % snap)
eq(total(sel(cu, event_type="read")), shdr + sdown, "curl bytes received with -s %d" % snap)
' "$snap" "$T/sizes"
	n=$(zstdcat -q "$T/$f.htc" 2>/dev/null | grep -ac "${TOKEN:0:6}")
	[ "$n" = 0 ] || fail "-s $snap: a piece of the token is in the file"
done
info "-s 20, -s 0, -s 112 checked"

# the default snaplen (8192) and a 1 MB body: resp_body_len is the framed length (Content-Length), not the bytes the
# snaplen kept (issue 13, defect 7)
start_capture sdef -w "$T/sdef.htc" --port $PORT
curl -s -o /dev/null "http://127.0.0.1:$PORT/big.bin" || fail "curl big.bin"
settle
stop_capture $CAP_PID || fail "httpcap exited with status $?"
len=$("$ROOT/$BUILD/httpanalyze" sql --format csv "SELECT resp_body_len FROM requests WHERE path = '/big.bin'" \
	"$T/sdef.htc" 2>"$T/analyze.err" | tail -n +2 | tr -d '\r')
[ "$len" = 1000000 ] || fail "1 MB body with the default snaplen: resp_body_len '$len' ($(cat "$T/analyze.err"))"
info "1 MB body, snaplen 8192: resp_body_len $len"
