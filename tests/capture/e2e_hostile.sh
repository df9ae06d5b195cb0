#!/bin/bash
# Hostile payloads: terminal escapes, invalid UTF-8, NUL bytes, a request
# line with control bytes.  The JSON output stays valid JSON, --text never
# prints a control byte, live or from the file.
. "$(dirname "$0")/lib.sh"
need_root
PORT=18595

mkdir -p "$T/www"
start_python_server $PORT "$T/www"
start_capture_bg cap -w "$T/h.htc" --port $PORT; cw=$CAP_PID
start_capture_bg text --text --port $PORT; ct=$CAP_PID
wait_ready cap $cw; wait_ready text $ct

python3 - $PORT <<'PY' || fail "hostile client"
import socket, sys
port = int(sys.argv[1])
payloads = [
    b"GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\nX-Evil: \x1b[31mred\x00nul\xff\xfe\xc3\x28\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)),
    "GET /caf\u00e9/\u2028 HTTP/1.1\r\nHost: x\r\n\r\n".encode("utf-8"),
]
for p in payloads:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(p)
    try:
        s.recv(65536)
    except OSError:
        pass
    s.close()
PY
settle
stop_capture $cw || fail "httpcap exited with status $?"
stop_capture $ct || fail "httpcap --text exited with status $?"

python3 "$CAPCHECK" "$HTTPCAP" "$T/h.htc" '
r = sel(comm="python3", event_type="read")
eq(len(r) >= 3, True, "server reads")
pl = [e["payload"] for e in r]
expect(any("\x1b[2J" in p for p in pl), "ESC [2J not in any payload", pl)
expect(any("\u00e9" in p for p in pl), "valid UTF-8 lost", pl)
expect(any("".join(chr(i) for i in range(256)) in p for p in pl), "bytes 0..255 not mapped one to one", pl)
' || fail "JSON of hostile payloads"
"$HTTPCAP" -r "$T/h.htc" --text >"$T/rtext.out" 2>"$T/rtext.err" || fail "-r --text failed"
for f in "$T/text.out" "$T/rtext.out"; do
	[ -s "$f" ] || fail "$(basename "$f") is empty"
	# the tools' one rule: valid UTF-8 shown, no control, C1, bidi
	# override or line separator raw, no invalid byte
	/usr/bin/python3 - "$f" <<'PY' || fail "$(basename "$f") holds a raw control byte or invalid UTF-8"
import sys
t = open(sys.argv[1], "rb").read().decode("utf-8")	# strict: invalid bytes fail
bad = [c for c in t if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0
       or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069 or c in "\u2028\u2029"]
sys.exit(1 if bad else 0)
PY
	grep -q 'café' "$f" || fail "$(basename "$f"): valid UTF-8 (café) not shown as it is"
	grep -q 'xe2\\x80\\xa8' "$f" || fail "$(basename "$f"): U+2028 not escaped"
	grep -q 'x1b\[2J' "$f" || fail "$(basename "$f"): the escape is not shown escaped"
done
info "hostile payloads: valid JSON, clean text"
