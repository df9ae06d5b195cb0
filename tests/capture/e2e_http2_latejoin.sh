#!/bin/bash
# The capture starts while h2load is already running: its connections are
# joined mid-stream, their HPACK dynamic tables unknown.  The streams that
# start after the join are found, with whatever header fields can be
# decoded (static table, literals, entries inserted since the join); the
# fields that cannot be are marked and counted, and no field is ever given
# a wrong name or value.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v h2load >/dev/null || fail "h2load is missing (Debian nghttp2-client, in TEST_PKGS)"
PORT=18640

mkdir -p "$T/www"
echo "hello h2" >"$T/www/index.html"
head -c 2000 /dev/urandom >"$T/www/mid.bin"
start_nginx_h2 $PORT "root $T/www;"

U=http://127.0.0.1:$PORT
# 2 connections, 4 streams at once, 100 requests a second each: 10 s
h2load -n 2000 -c 2 -m 4 --rps 100 "$U/index.html" "$U/mid.bin" "$U/nope" >"$T/h2load.out" 2>&1 &
H2PID=$!
track $H2PID
sleep 1.5
kill -0 $H2PID 2>/dev/null || fail "h2load ended before the capture began: $(tail -3 "$T/h2load.out")"
start_capture cap -w "$T/late.htc" -s 65536 --port $PORT
wait_exit $H2PID 60 || fail "h2load failed: $(tail -5 "$T/h2load.out")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"
grep -E "^(requests|status codes):" "$T/h2load.out" | sed 's/^/  h2load: /'

"$HTTPANALYZE" -v summary "$T/late.htc" >/dev/null 2>"$T/analyze.err" || fail "httpanalyze failed"
grep "HTTP/2 header fields" "$T/analyze.err" | sed 's/^httpanalyze: /  /'

analyze "$T/late.htc" '
PORT = args[0]
for side, table in (("nginx", "requests"), ("h2load", "calls")):
    cols = ("method, path, status, host_header, (flags >> 5) & 1 AS preexisting, unresolved, stream_id" if table == "requests"
            else "name, status, unresolved, stream_id, flags")
    rows = q("SELECT %s FROM %s WHERE comm = \"%s\"" % (cols, table, side))
    # the capture began some 1.5 s into a 10 s run (and takes a moment
    # to start)
    expect(len(rows) >= 100, "%s: only %d streams found after the join" % (side, len(rows)))
    unres = 0
    for r in rows:
        if table == "requests":
            expect(r["preexisting"] == 1, "a joined connection", r)
            m, p = r["method"], r["path"]
            # a field is the right one, or marked unresolved ("?", or
            # absent for :authority): never another
            expect(m in ("GET", "?"), "method", r)
            expect(r["host_header"] in ("", "127.0.0.1:" + PORT), "host", r)
        else:
            m, _, p = r["name"].partition(" ")
            expect(m in ("GET", "?"), "call method", r)
        expect(p in ("/index.html", "/mid.bin", "/nope", "?"), "path", r)
        if p != "?":
            eq(r["status"], 404 if p == "/nope" else 200, "status of " + p)
        else:
            expect(r["status"] in (200, 404), "status", r)
        unres += r["unresolved"]
    named = sum(1 for r in rows if (r.get("path") or r.get("name").partition(" ")[2]) != "?")
    print("  %s: %d streams found after the join, %d with their path, %d header fields unresolved" %
          (side, len(rows), named, unres))
    # h2load indexes :authority and user-agent: entries made before the
    # join are unknown, so fields are marked unresolved
    expect(unres > 0, "no unresolved field marked on a joined connection")
    expect(named * 10 >= len(rows) * 9, "paths (literals) should decode: %d of %d" % (named, len(rows)))
' $PORT
info "late join: streams found, unresolved fields marked, none wrong"
