#!/bin/bash
# httpcap -r FILE -w OUT.pcapng|OUT.pcap: curl against python3 http.server
# (IPv4 and IPv6) and nginx, recorded by httpcap and by `tcpdump -i lo` at the same time.
# tshark on the export finds the HTTP requests (method, URI) and response
# codes tshark finds on tcpdump's pcap, with no TCP analysis flag; frame
# comments name the processes; the .pcap reads too; httpanalyze on the
# export finds the requests of the .htc.  A small -s snaplen and big
# responses: "previous segment not captured" is then the only TCP flag, and
# the requests are all still there.  Filters (--comm, --port, --since),
# a truncated .htc, an unwritable output, a full disk, a bad extension.
. "$(dirname "$0")/lib.sh"
need_root
command -v tcpdump >/dev/null || fail "tcpdump missing (TEST_PKGS)"
command -v tshark >/dev/null || fail "tshark missing (TEST_PKGS)"
HTTPANALYZE=${HTTPANALYZE:-$ROOT/$BUILD/httpanalyze}
PY=19100
NG=19101
PY6=19102	# python3 on ::1: IPv6 packets
TS=(tshark -n -d "tcp.port==$PY,http" -d "tcp.port==$NG,http" -d "tcp.port==$PY6,http"
    -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE)

mkdir -p "$T/www"
echo "hello from the export test" >"$T/www/hello.txt"
# big.bin fits one read of curl (up to 100 KiB) within -s 65536: captured
# whole; huge.bin is for the small snaplen
head -c 60000 /dev/urandom >"$T/www/big.bin"
head -c 300000 /dev/urandom >"$T/www/huge.bin"
start_python_server $PY "$T/www"
start_nginx $NG "$T/www"
python3 -m http.server $PY6 --bind ::1 --directory "$T/www" >"$T/pyserver6.log" 2>&1 &
track $!
wait_port $PY6 ::1

start_tcpdump "$T/x.pcap" "tcp port $PY or tcp port $NG or tcp port $PY6"
# the largest snaplen: every byte of these requests and responses captured
start_capture cap -w "$T/x.htc" -s 65536 --port $PY --port $NG --port $PY6

for p in /hello.txt /big.bin /missing; do
	curl -s -o /dev/null "http://127.0.0.1:$PY$p" || fail "curl $p"
done
# one keep-alive connection to nginx, a POST among the GETs
curl -s -o /dev/null -o /dev/null -o /dev/null \
	"http://127.0.0.1:$NG/hello.txt" "http://127.0.0.1:$NG/big.bin" \
	"http://127.0.0.1:$NG/missing?x=1" || fail "curl nginx"
curl -s -o /dev/null -X POST --data-binary "name=value" "http://127.0.0.1:$NG/hello.txt" || true
curl -s -g -o /dev/null "http://[::1]:$PY6/hello.txt?v6=1" || fail "curl ::1"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
kill -INT "$TD_PID"
wait "$TD_PID" 2>/dev/null
[ -s "$T/x.pcap" ] || fail "tcpdump wrote nothing"

"$HTTPCAP" -r "$T/x.htc" -w "$T/x.pcapng" 2>"$T/export.err" || fail "export to pcapng"
grep -q "wrote [1-9][0-9]* packets.*; 0 bytes not captured" "$T/export.err" \
	|| fail "no export summary, or gaps at the largest snaplen: $(cat "$T/export.err")"
"$HTTPCAP" -q -r "$T/x.htc" -w "$T/x-export.pcap" 2>"$T/export-pcap.err" || fail "export to pcap"
[ ! -s "$T/export-pcap.err" ] || fail "-q export printed: $(cat "$T/export-pcap.err")"
info "$(sed 's/^httpcap: //' "$T/export.err")"

# requests (method, URI) and response codes: tcpdump's pcap against the exports
reqs() {
	"${TS[@]}" -r "$1" -Y "http.request && (tcp.port==$PY || tcp.port==$NG || tcp.port==$PY6)" \
		-T fields -e http.request.method -e http.request.uri 2>"$T/tshark.err" | sort
}
codes() {
	"${TS[@]}" -r "$1" -Y "http.response && (tcp.port==$PY || tcp.port==$NG || tcp.port==$PY6)" \
		-T fields -e http.response.code 2>>"$T/tshark.err" | sort
}
reqs "$T/x.pcap" >"$T/req-tcpdump.txt"
reqs "$T/x.pcapng" >"$T/req-export.txt"
reqs "$T/x-export.pcap" >"$T/req-export-pcap.txt"
[ "$(wc -l <"$T/req-tcpdump.txt")" = 8 ] || fail "tcpdump's pcap: want 8 requests, got: $(cat "$T/req-tcpdump.txt")"
diff "$T/req-tcpdump.txt" "$T/req-export.txt" >"$T/diff.err" || fail "requests of the pcapng differ from tcpdump's"
diff "$T/req-tcpdump.txt" "$T/req-export-pcap.txt" >"$T/diff.err" || fail "requests of the .pcap differ from tcpdump's"
codes "$T/x.pcap" >"$T/codes-tcpdump.txt"
codes "$T/x.pcapng" >"$T/codes-export.txt"
diff "$T/codes-tcpdump.txt" "$T/codes-export.txt" >"$T/diff.err" || fail "response codes differ from tcpdump's"
n=$("${TS[@]}" -r "$T/x.pcapng" -Y "ipv6 && http.request" 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "want the IPv6 request in the export, found $n"
info "8 requests (one over IPv6) and their status codes: the same in the export as in tcpdump's pcap"

# the kernel's sequence numbers (format 1.2): each flow's first data byte
# carries the same raw TCP sequence number in the export as on the wire
firstseq() {
	"${TS[@]}" -r "$1" -Y "tcp.len > 0 && (tcp.port==$PY || tcp.port==$NG || tcp.port==$PY6)" \
		-T fields -e tcp.srcport -e tcp.dstport -e tcp.seq_raw 2>>"$T/tshark.err" |
		awk '!seen[$1 " " $2]++' | sort
}
firstseq "$T/x.pcap" >"$T/seq-tcpdump.txt"
firstseq "$T/x.pcapng" >"$T/seq-export.txt"
[ -s "$T/seq-tcpdump.txt" ] || fail "no data segment in tcpdump's pcap"
diff "$T/seq-tcpdump.txt" "$T/seq-export.txt" >"$T/diff.err" ||
	fail "first sequence numbers per flow differ (tcpdump <, export >): $(cat "$T/diff.err")"
info "$(wc -l <"$T/seq-tcpdump.txt") flows: the export's first data sequence numbers are tcpdump's"

# no TCP analysis flag, no bad checksum (checking is on)
"${TS[@]}" -r "$T/x.pcapng" -Y "tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0" \
	>"$T/flags.txt" 2>>"$T/tshark.err"
[ ! -s "$T/flags.txt" ] || fail "TCP analysis flags on the complete export: $(head -5 "$T/flags.txt")"
n=$("${TS[@]}" -r "$T/x.pcapng" -Y "tcp.checksum.status == 1" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "no checksum was checked good"
info "no TCP analysis flag; $n TCP checksums checked good"

# every packet names its process; the servers and the client are named
"${TS[@]}" -r "$T/x.pcapng" -T fields -e frame.comment >"$T/comments.txt" 2>>"$T/tshark.err"
total=$("${TS[@]}" -r "$T/x.pcapng" 2>/dev/null | wc -l)
named=$(grep -c ' pid [0-9]* tid [0-9]*' "$T/comments.txt")
[ "$named" = "$total" ] || fail "$named of $total packets have a process comment"
grep -q "nginx" "$T/comments.txt" || fail "no comment names nginx"
grep -q "python3" "$T/comments.txt" || fail "no comment names python3"
grep -q "curl pid" "$T/comments.txt" || fail "no comment names curl"
grep -q "cmdline: .*http.server" "$T/comments.txt" || fail "python's command line is in no comment"
info "$total packets, each with its process in a comment"

# round trip: httpanalyze on the export finds the requests of the .htc
SQL="SELECT method, path, status FROM requests ORDER BY start_ns"
"$HTTPANALYZE" sql --format csv -q "$SQL" "$T/x.htc" >"$T/an-htc.txt" 2>"$T/an-htc.err" || fail "httpanalyze on the .htc"
"$HTTPANALYZE" sql --format csv -q "$SQL" "$T/x.pcapng" >"$T/an-export.txt" 2>"$T/an-export.err" \
	|| fail "httpanalyze on the export"
[ "$(grep -c . "$T/an-htc.txt")" -ge 8 ] || fail "httpanalyze: too few requests in the .htc: $(cat "$T/an-htc.txt")"
diff "$T/an-htc.txt" "$T/an-export.txt" >"$T/diff.err" || fail "httpanalyze: the export's requests differ from the .htc's"
info "httpanalyze: the same $(($(grep -c . "$T/an-htc.txt") - 1)) requests in the export as in the .htc"

# filters: one service only
"$HTTPCAP" -q -r "$T/x.htc" -w "$T/nginx.pcapng" --comm nginx || fail "export --comm nginx"
"${TS[@]}" -r "$T/nginx.pcapng" -T fields -e tcp.port 2>/dev/null | grep -q "$PY" \
	&& fail "--comm nginx: python's packets exported"
[ "$(reqs "$T/nginx.pcapng" | wc -l)" = 4 ] || fail "--comm nginx: want nginx's 4 requests"
"$HTTPCAP" -q -r "$T/x.htc" -w "$T/py.pcap" --port $PY || fail "export --port"
[ "$(reqs "$T/py.pcap" | wc -l)" = 3 ] || fail "--port $PY: want python's 3 requests"
"$HTTPCAP" -q -r "$T/x.htc" -w "$T/late.pcapng" --since +1h || fail "export --since"
[ "$("${TS[@]}" -r "$T/late.pcapng" 2>/dev/null | wc -l)" = 0 ] || fail "--since +1h: packets exported"
info "--comm, --port and --since select what is exported"

# a small snaplen and big responses: gaps, and only gaps
start_capture small -w "$T/small.htc" -s 200 --port $PY --port $NG
curl -s -o /dev/null "http://127.0.0.1:$PY/huge.bin" || fail "curl small python"
curl -s -o /dev/null -o /dev/null "http://127.0.0.1:$NG/huge.bin" "http://127.0.0.1:$NG/hello.txt" \
	|| fail "curl small nginx"
settle
stop_capture "$CAP_PID" || fail "httpcap (small) exited with status $?"
"$HTTPCAP" -r "$T/small.htc" -w "$T/small.pcapng" 2>"$T/export-small.err" || fail "export small"
grep -q "[1-9][0-9]* bytes not captured" "$T/export-small.err" || fail "no gap reported: $(cat "$T/export-small.err")"
"${TS[@]}" -r "$T/small.pcapng" -Y "tcp.analysis.flags && !tcp.analysis.lost_segment" \
	>"$T/flags-small.txt" 2>>"$T/tshark.err"
[ ! -s "$T/flags-small.txt" ] || fail "TCP flags other than lost segment: $(head -5 "$T/flags-small.txt")"
lost=$("${TS[@]}" -r "$T/small.pcapng" -Y "tcp.analysis.lost_segment" 2>/dev/null | wc -l)
[ "$lost" -gt 0 ] || fail "no 'previous segment not captured' where the snaplen cut"
[ "$(reqs "$T/small.pcapng" | wc -l)" = 3 ] || fail "small snaplen: want 3 requests, got $(reqs "$T/small.pcapng")"
info "snaplen 200: $lost segments after a gap ('previous segment not captured'), no other flag, 3 requests"

# bad input and bad output
n=$(stat -c %s "$T/x.htc")
head -c $((n * 2 / 3)) "$T/x.htc" >"$T/cut.htc"
"$HTTPCAP" -r "$T/cut.htc" -w "$T/cut.pcapng" 2>"$T/cut.err" || fail "truncated input: exit $?"
grep -q "truncated: stopped at offset [0-9]* after [0-9]* complete frames" "$T/cut.err" \
	|| fail "truncated input: no word of where it stopped: $(cat "$T/cut.err")"
"${TS[@]}" -r "$T/cut.pcapng" >/dev/null 2>&1 || fail "export of a truncated input does not read"
"$HTTPCAP" -r "$T/x.htc" -w "$T/no/such/dir/x.pcapng" 2>"$T/nodir.err"
rc=$?
[ $rc = 1 ] || fail "unwritable path: exit $rc, want 1"
grep -q "cannot write '.*x.pcapng': no such file or directory" "$T/nodir.err" || fail "unwritable path: $(cat "$T/nodir.err")"
"$HTTPCAP" -r "$T/x.htc" -w - >/dev/full 2>"$T/full.err"
rc=$?
[ $rc = 1 ] || fail "/dev/full: exit $rc, want 1"
grep -q "no space left on device" "$T/full.err" || fail "/dev/full: $(cat "$T/full.err")"
mkdir -p "$T/tiny"
if mount -t tmpfs -o size=64k tmpfs "$T/tiny"; then
	MOUNTS+=("$T/tiny")
	"$HTTPCAP" -r "$T/x.htc" -w "$T/tiny/x.pcap" 2>"$T/tiny.err"
	rc=$?
	[ $rc = 1 ] || fail "full tmpfs: exit $rc, want 1"
	grep -q "no space left on device (the file is incomplete)" "$T/tiny.err" || fail "full tmpfs: $(cat "$T/tiny.err")"
fi
"$HTTPCAP" -r "$T/x.htc" -w "$T/x.txt" 2>"$T/ext.err"
rc=$?
[ $rc = 2 ] || fail "unknown extension: exit $rc, want 2"
grep -q "must end in .pcapng or .pcap" "$T/ext.err" || fail "unknown extension: $(cat "$T/ext.err")"
[ ! -e "$T/x.txt" ] || fail "unknown extension: a file was created"
cp "$T/x.htc" "$T/same.pcap"
"$HTTPCAP" -r "$T/same.pcap" -w "$T/same.pcap" 2>"$T/same.err" && fail "the input as output accepted"
cmp -s "$T/x.htc" "$T/same.pcap" || fail "the input was overwritten"
# an existing output is replaced, as tcpdump -w does
"$HTTPCAP" -q -r "$T/x.htc" -w "$T/x.pcapng" --port $NG || fail "export over an existing file"
[ "$(reqs "$T/x.pcapng" | wc -l)" = 4 ] || fail "an existing file was not replaced"
info "truncated input exported up to where it stopped; unwritable path, full disk, bad extension: clear errors"
