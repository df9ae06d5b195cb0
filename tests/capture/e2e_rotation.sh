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
