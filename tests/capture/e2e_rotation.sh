#!/bin/bash
# Rotation: -C SIZE (FILE, FILE1, FILE2, ...), -C with -W N (a ring
# FILE0..FILE{N-1}), -G SECONDS (strftime names), -G with -W N (stops after
# N files).  Every file is a complete, readable capture.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18560

mkdir -p "$T/www" "$T/c" "$T/ring" "$T/g" "$T/gw"
head -c 1000000 /dev/urandom >"$T/www/random.bin"
start_python_server $PORT "$T/www"

# 64 KiB snaplen: the random bodies make megabytes that do not compress
start_capture_bg c -w "$T/c/cap.htc" -C 0.3 -s 65536 --port $PORT; cc=$CAP_PID
start_capture_bg ring -w "$T/ring/ring.htc" -C 0.3 -W 3 -s 65536 --port $PORT; cr=$CAP_PID
wait_ready c $cc; wait_ready ring $cr
start_capture_bg g -w "$T/g/g-%Y%m%d-%H%M%S.htc" -G 1 --port $PORT; cg=$CAP_PID
start_capture_bg gw -w "$T/gw/gw-%H%M%S.htc" -G 1 -W 2 --port $PORT; cgw=$CAP_PID
wait_ready g $cg; wait_ready gw $cgw

# about 4 s of traffic, a few MB of it
end=$(( $(date +%s) + 4 ))
n=0
while [ "$(date +%s)" -lt $end ] && [ $n -lt 200 ]; do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/random.bin" || fail "curl failed"
	n=$((n + 1))
	sleep 0.2
done
info "$n downloads of 1 MB"
settle
# -G 1 -W 2 ends by itself after its second file
wait_exit $cgw 10 || fail "httpcap -G 1 -W 2 exited with status $?"
for c in $cc $cr $cg; do stop_capture $c || fail "httpcap exited with status $?"; done

readable() {
	local f
	for f in "$@"; do
		"$HTTPCAP" -r "$f" >"$T/read.out" 2>"$T/read.err" || fail "$f is not readable: $(cat "$T/read.err")"
		grep -qi "truncat\|corrupt\|checksum" "$T/read.err" && fail "$f: $(cat "$T/read.err")"
		[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
	done
	return 0
}

# -C: cap.htc, cap.htc1, ... without holes, each about the size asked
files=$(cd "$T/c" && ls)
count=$(echo "$files" | wc -l)
[ "$count" -ge 3 ] || fail "-C 0.3: $count files ($files)"
expected="cap.htc"
for i in $(seq 1 $((count - 1))); do expected="$expected cap.htc$i"; done
[ "$(echo $files | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(echo $expected | tr ' ' '\n' | sort | tr '\n' ' ')" ] \
	|| fail "-C names: got '$files', want '$expected'"
readable "$T"/c/*
for f in "$T/c/cap.htc" "$T/c/cap.htc1"; do
	sz=$(stat -c %s "$f")
	[ "$sz" -ge 300000 ] && [ "$sz" -le 1500000 ] || fail "$f is $sz bytes with -C 0.3"
done
info "-C: $count files"

# -C -W 3: exactly ring.htc0..ring.htc2, and it wrapped (the first file was reused)
files=$(cd "$T/ring" && ls | tr '\n' ' ')
[ "$files" = "ring.htc0 ring.htc1 ring.htc2 " ] || fail "-W 3 names: got '$files'"
readable "$T"/ring/*
# the same traffic made more than 3 files under plain -C: the ring wrapped
[ "$(ls "$T/c" | wc -l)" -gt 3 ] || info "note: too little traffic to wrap the ring"

# -G 1: several files named by the pattern, one per second
count=$(ls "$T/g" | grep -c '^g-[0-9]\{8\}-[0-9]\{6\}\.htc$')
[ "$count" -ge 3 ] || fail "-G 1: $count files named g-YYYYmmdd-HHMMSS.htc ($(ls "$T/g"))"
[ "$count" = "$(ls "$T/g" | wc -l)" ] || fail "-G: unexpected names: $(ls "$T/g")"
readable "$T"/g/*

# -G 1 -W 2: two files, then it stopped
count=$(ls "$T/gw" | grep -c '^gw-[0-9]\{6\}\.htc$')
[ "$count" = 2 ] || fail "-G 1 -W 2: $count files ($(ls "$T/gw"))"
readable "$T"/gw/*

# all the downloads are in the -G files taken together, none twice
total=0
for f in "$T"/g/*; do
	k=$(python3 "$CAPCHECK" "$HTTPCAP" "$f" 'print(len(server_requests(sel(comm="python3"))))') || fail "check $f"
	total=$((total + k))
done
[ "$total" -ge $((n - 1)) ] && [ "$total" -le "$n" ] || fail "-G files hold $total requests, $n were made"
info "-G: $(ls "$T/g" | wc -l) files, $total requests; -G -W 2 stopped after 2 files"

# the -G files read together are one capture (issue 13): every download
# answered, including those in flight at a file boundary, request ids
# continuing from 1001, each curl call linked to the request it became
ANALYZE="$ROOT/$BUILD/httpanalyze"
"$ANALYZE" --db "$T/g.db" --events copy -q "$T"/g/* >/dev/null 2>"$T/analyze.err" || fail "httpanalyze: $(cat "$T/analyze.err")"
q() { "$ANALYZE" sql --db "$T/g.db" --format csv "$1" | tail -n +2 | tr -d '\r'; }
got=$(q "SELECT count(*), sum(status = 200 AND NOT unanswered AND resp_body_len = 1000000), min(request_id), max(request_id)
	FROM requests WHERE comm = 'python3'")
want="$total,$total,1001,$((1000 + total))"
[ "$got" = "$want" ] || fail "-G files as one capture (requests, answered, first id, last id): got $got, want $want"
linked=$(q "SELECT count(*) FROM calls WHERE comm = 'curl' AND child_request_id IS NOT NULL AND protocol = 'http'")
[ "$linked" = "$total" ] || fail "-G files as one capture: $linked of $total curl calls linked"
across=$(q "SELECT count(*) FROM (SELECT request_id FROM events WHERE request_id IS NOT NULL
	GROUP BY request_id HAVING count(DISTINCT file_idx) > 1)")
info "-G files as one capture: $total requests answered and linked, $across of them across a file boundary"
# the files are numbered 1, 2, ... (format 1.2), and a deleted middle one
# is named by httpanalyze (issue 13)
seqs=$(q "SELECT group_concat(file_seq, ' ') FROM (SELECT file_seq FROM files ORDER BY path)")
want=$(seq -s ' ' 1 "$(ls "$T/g" | wc -l)")
[ "$seqs" = "$want" ] || fail "-G files numbered: got '$seqs', want '$want'"
mkdir -p "$T/g2"
cp "$T"/g/* "$T/g2/"
rm "$T/g2/$(ls "$T/g2" | sed -n 2p)"
"$ANALYZE" summary "$T"/g2/* >/dev/null 2>"$T/missing.err" || fail "httpanalyze without file 2"
grep -q "warning: file 2 of capture [0-9a-f]\{32\} (host '.*') is missing" "$T/missing.err" ||
	fail "no warning about the missing file 2: $(cat "$T/missing.err")"
info "-G files numbered $seqs; without file 2: $(grep -o 'file 2 of capture.*missing' "$T/missing.err")"

# requests in flight at the boundary, for sure: a server taking 1.3 s to
# answer, under -G 1 (each request starts in one file and ends in another)
SLOW=18563
mkdir -p "$T/gs"
python3 - "$SLOW" >"$T/slow.log" 2>&1 <<'EOF' &
import socketserver, sys, time
class H(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                time.sleep(1.3)
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nslow\n")
                self.wfile.flush()
socketserver.TCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
track $!
wait_port $SLOW
start_capture gs -w "$T/gs/gs-%H%M%S.htc" -G 1 --port $SLOW
for i in 1 2 3; do
	curl -s -o /dev/null -m 10 "http://127.0.0.1:$SLOW/slow$i" || fail "curl slow$i"
done
settle
stop_capture $CAP_PID || fail "httpcap -G 1 exited with status $?"
nf=$(ls "$T/gs" | wc -l)
"$ANALYZE" --db "$T/gs.db" --events copy -q "$T"/gs/* >/dev/null 2>"$T/analyze.err" || fail "httpanalyze: $(cat "$T/analyze.err")"
got=$("$ANALYZE" sql --db "$T/gs.db" --format csv "SELECT count(*), sum(status = 200 AND NOT unanswered),
	sum(resp_body_len = 5), (SELECT count(*) FROM calls WHERE comm = 'curl' AND child_request_id IS NOT NULL),
	(SELECT count(*) FROM (SELECT request_id FROM events WHERE request_id IS NOT NULL
	 GROUP BY request_id HAVING count(DISTINCT file_idx) > 1))
	FROM requests WHERE path LIKE '/slow%'" | tail -n +2 | tr -d '\r')
[ "$nf" -ge 3 ] || fail "-G 1 over ~4 s: $nf files"
[ "$got" = "3,3,3,3,3" ] || fail "requests across -G boundaries (requests, answered, body, linked, across): $got"
info "-G 1, $nf files: 3 requests of 1.3 s, each across a file boundary, answered and linked"
