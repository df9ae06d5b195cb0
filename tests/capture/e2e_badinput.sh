#!/bin/bash
# Bad input gets a clear error: wrong flags (exit 2 and the flag named),
# -r on missing, foreign, empty, truncated and corrupted files, and httpcap
# run as an unprivileged user (says what it needs; -r still works).
. "$(dirname "$0")/lib.sh"
need_root
PORT=18580

# expect_fail STATUS PATTERN ARGS...: httpcap ARGS exits STATUS and its
# stderr matches PATTERN (grep -i)
expect_fail() {
	local want=$1 pat=$2 rc
	shift 2
	timeout 20 "$HTTPCAP" "$@" >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	[ $rc = "$want" ] || fail "httpcap $*: exit $rc, want $want ($(cat "$T/bad.err"))"
	grep -qi -- "$pat" "$T/bad.err" || fail "httpcap $*: message '$(cat "$T/bad.err")' does not match '$pat'"
	[ -s "$T/bad.out" ] && fail "httpcap $*: wrote to stdout: $(head -c 200 "$T/bad.out")"
	return 0
}

expect_fail 2 "unknown option '--bogus'" --bogus
expect_fail 2 "'-x'" -x
expect_fail 2 "invalid count 'abc'" -c abc
expect_fail 2 "-c' needs an argument" -c
expect_fail 2 "invalid snaplen '-5'" -s -5
expect_fail 2 "invalid snaplen '999999'" -s 999999
expect_fail 2 "invalid pid 'x'" -p x
expect_fail 2 "invalid port '70000'" --port 70000
expect_fail 2 "invalid port '0'" --port 0
expect_fail 2 "invalid size" -w "$T/x.htc" -C 0
expect_fail 2 "invalid interval" -w "$T/x.htc" -G -1
expect_fail 2 "need -w" -W 3
expect_fail 2 "duration" --duration abc
expect_fail 2 "unknown user 'nosuchuser'" -Z nosuchuser -w "$T/x.htc"
expect_fail 2 "does not combine" -r "$T/x.htc" -G 5
expect_fail 2 "must end in .pcapng or .pcap" -r "$T/x.htc" -w "$T/y.htc"
[ -e "$T/x.htc" ] && fail "a rejected command line created its output file"
info "bad flags: clear errors, exit 2"

# -r on files that are not captures
expect_fail 1 "no such file" -r "$T/nonexistent.htc"
head -c 5000 /dev/urandom >"$T/random.htc"
expect_fail 1 "not an .htc" -r "$T/random.htc"
: >"$T/empty.htc"
expect_fail 1 "truncated\|empty" -r "$T/empty.htc"
mkdir "$T/dir.htc"
expect_fail 1 "directory" -r "$T/dir.htc"
echo "GET / HTTP/1.1" >"$T/text.htc"
expect_fail 1 "not an .htc" -r "$T/text.htc"

# a real capture of several frames (one closes every second)
mkdir -p "$T/www"
echo hi >"$T/www/hi.txt"
start_python_server $PORT "$T/www"
start_capture cap -w "$T/good.htc" --port $PORT
for i in 1 2 3 4; do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/hi.txt?$i" || fail "curl"
	sleep 1.2
done
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
"$HTTPCAP" -r "$T/good.htc" >"$T/good.out" 2>"$T/good.err" || fail "good capture unreadable"
[ -s "$T/good.err" ] && fail "a clean file gave warnings: $(cat "$T/good.err")"
total=$(grep -c . "$T/good.out")
size=$(stat -c %s "$T/good.htc")

# truncated in the middle: complete frames read, the cut reported, exit 0
head -c $((size * 2 / 3)) "$T/good.htc" >"$T/cut.htc"
"$HTTPCAP" -r "$T/cut.htc" >"$T/cut.out" 2>"$T/cut.err" || fail "-r on a truncated file: exit $?"
grep -qi "truncated" "$T/cut.err" || fail "-r did not say the file is truncated: $(cat "$T/cut.err")"
grep -qi "offset [0-9]" "$T/cut.err" || fail "-r did not say where it stopped: $(cat "$T/cut.err")"
cut=$(grep -c . "$T/cut.out")
[ "$cut" -gt 0 ] && [ "$cut" -lt "$total" ] || fail "truncated file: $cut of $total events"
check "$T/cut.htc" 'expect(ev, "no events")'
info "truncated: $cut of $total events, '$(head -1 "$T/cut.err")'"

# a corrupted frame in the middle: reported and skipped, the rest read
cp "$T/good.htc" "$T/flip.htc"
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$T/flip.htc" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$HTTPCAP" -r "$T/flip.htc" >"$T/flip.out" 2>"$T/flip.err" || fail "-r on a corrupt file: exit $?"
grep -qi "corrupt\|checksum" "$T/flip.err" || fail "-r did not report the corrupt frame: $(cat "$T/flip.err")"
flip=$(grep -c . "$T/flip.out")
[ "$flip" -gt 0 ] && [ "$flip" -lt "$total" ] || fail "corrupt file: $flip of $total events"
info "corrupt frame: $flip of $total events, '$(head -1 "$T/flip.err")'"

# not root: a clear message naming what is needed; -r needs no privilege
cp "$HTTPCAP" "$T/httpcap"
chmod 755 "$T/httpcap"
cp "$T/good.htc" "$T/shared.htc"
chmod 644 "$T/shared.htc"
if command -v setpriv >/dev/null; then
	asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$@"; }
else
	asnobody() { su -s /bin/sh nobody -c "$(printf '%q ' "$@")"; }
fi
asnobody "$T/httpcap" -w /tmp/httpcap-nobody-$$.htc >"$T/nobody.out" 2>"$T/nobody.err"
rc=$?
rm -f /tmp/httpcap-nobody-$$.htc
[ $rc != 0 ] || fail "httpcap as nobody exited 0"
grep -qi "root\|CAP_BPF\|privilege\|permission" "$T/nobody.err" \
	|| fail "httpcap as nobody: unclear message: $(cat "$T/nobody.err")"
info "as nobody: exit $rc, '$(head -1 "$T/nobody.err")'"
asnobody "$T/httpcap" -r "$T/shared.htc" >"$T/nobody-r.out" 2>"$T/nobody-r.err" \
	|| fail "httpcap -r as nobody failed: $(cat "$T/nobody-r.err")"
[ "$(grep -c . "$T/nobody-r.out")" = "$total" ] || fail "httpcap -r as nobody: wrong event count"
