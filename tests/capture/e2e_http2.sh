#!/bin/bash
# HTTP/2 with prior knowledge (h2c): nginx `listen ... http2`, curl
# --http2-prior-knowledge, and h2load with many concurrent streams on few
# connections.  Every stream is a request (nginx) and a call (the client)
# with method, path and status, linked by 5-tuple and stream; the counts
# are h2load's own.
. "$(dirname "$0")/lib.sh"
need_root
command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 0; }
command -v h2load >/dev/null || fail "h2load is missing (Debian nghttp2-client, in TEST_PKGS)"
PORT=18620

mkdir -p "$T/www"
echo "hello h2" >"$T/www/index.html"
head -c 2000 /dev/urandom >"$T/www/mid.bin"
# /post reads the body and passes it on to an HTTP/1 server of the same
# nginx (a downstream call of the HTTP/2 request); a POST answered before
# its body is read ends in a stream reset that curl reports as a failure
start_nginx_h2 $PORT "root $T/www; location = /post { proxy_pass http://127.0.0.1:$((PORT + 1))/ok; } }
    server { listen 127.0.0.1:$((PORT + 1)); location = /ok { return 200 \"posted\n\"; }"
# a snaplen that holds nginx's batched writes of 8 streams whole
start_capture cap -w "$T/h2.htc" -s 65536 --port $PORT --port $((PORT + 1))

U=http://127.0.0.1:$PORT
for args in "$U/index.html" "$U/nope" "-d a=1&b=2 $U/post"; do
	# shellcheck disable=SC2086
	curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code} ' $args >>"$T/curl.out" ||
		fail "curl $args failed"
done
[ "$(cat "$T/curl.out")" = "2 200 2 404 2 200 " ] || fail "curl over HTTP/2: $(cat "$T/curl.out")"
# 3 connections, 8 streams at once on each, 300 requests over 3 paths
h2load -n 300 -c 3 -m 8 "$U/index.html" "$U/mid.bin" "$U/nope" >"$T/h2load.out" 2>&1 ||
	fail "h2load failed: $(tail -5 "$T/h2load.out")"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
grep -q "0 events dropped" "$T/cap.err" || fail "drops reported: $(grep dropped "$T/cap.err")"
grep -E "^(requests|status codes):" "$T/h2load.out" | sed 's/^/  h2load: /'

analyze "$T/h2.htc" '
import re
h2 = open(args[0]).read()
m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", h2)
s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", h2)
expect(m and s, "h2load output not understood", h2)
done, ok2, ok4 = int(m.group(3)), int(s.group(1)), int(s.group(3))
eq(done, 300, "h2load requests done")

# the server side: every stream a request
reqs = q("SELECT method, path, status, version, host_header, protocol, stream_id, unresolved,"
         " flags, ncalls FROM requests WHERE comm = \"nginx\" AND server_port = " + args[1] +
         " ORDER BY start_ns")
eq(len(reqs), 300 + 3, "nginx requests (h2load + curl)")
want = {("GET", "/index.html"): 200, ("GET", "/mid.bin"): 200, ("GET", "/nope"): 404,
        ("POST", "/post"): 200}
for r in reqs:
    eq((r["protocol"], r["version"], r["unresolved"]), ("http2", "HTTP/2", 0), "protocol of " + str(r))
    expect(r["stream_id"] % 2 == 1, "client stream ids are odd", r)
    eq(r["host_header"], "127.0.0.1:" + args[1], ":authority as host")
    expect((r["method"], r["path"]) in want, "unexpected request", r)
    eq(r["status"], want[(r["method"], r["path"])], "status of %s %s" % (r["method"], r["path"]))

# h2load: its calls on three connections, counts equal its own
calls = q("SELECT c.name, c.status, c.stream_id, c.conn, c.child_request_id, c.protocol,"
          " r.path AS child_path FROM calls c LEFT JOIN requests r ON r.request_id = c.child_request_id"
          " WHERE c.comm = \"h2load\"")
eq(len(calls), done, "h2load calls")
eq(len(set(c["conn"] for c in calls)), 3, "h2load connections")
eq(sum(1 for c in calls if 200 <= c["status"] < 300), ok2, "2xx against h2load")
eq(sum(1 for c in calls if 400 <= c["status"] < 500), ok4, "4xx against h2load")
# h2load spreads its requests over the paths per client: /nope is its 4xx
eq(sum(1 for c in calls if c["name"] == "GET /nope"), ok4, "h2load calls to /nope")
eq(sum(1 for c in calls if c["name"] in ("GET /index.html", "GET /mid.bin")), ok2, "h2load calls to files")
for c in calls:
    eq(c["protocol"], "http2", "call protocol")
    expect(c["child_request_id"] is not None, "call not linked to its request", c)
    eq("GET " + c["child_path"], c["name"], "a call and the request it became")
per = {}
for c in calls:
    per.setdefault(c["conn"], []).append(c["stream_id"])
for ids in per.values():
    eq(sorted(ids), list(range(1, 2 * len(ids), 2)), "stream ids of one h2load connection")
# multiplexed: streams in flight at once on one connection
mux = q("SELECT count(*) AS n FROM calls a JOIN calls b ON a.conn = b.conn AND a.call_id < b.call_id"
        " AND b.start_ns < a.end_ns WHERE a.comm = \"h2load\"")
expect(mux[0]["n"] > 0, "no overlapping streams on a connection")

cu = q("SELECT name, status, child_request_id FROM calls WHERE comm = \"curl\" ORDER BY start_ns")
eq([(c["name"], c["status"]) for c in cu],
   [("GET /index.html", 200), ("GET /nope", 404), ("POST /post", 200)], "curl calls")
expect(all(c["child_request_id"] for c in cu), "curl calls linked", cu)
post = q("SELECT request_id, CAST(body AS TEXT) AS b, ncalls FROM requests WHERE method = \"POST\" AND protocol = \"http2\"")
eq([(p["b"], p["ncalls"]) for p in post], [("a=1&b=2", 1)], "POST body kept for replay, its call")
up = q("SELECT protocol, name, request_id, child_request_id FROM calls WHERE comm = \"nginx\"")
eq([(u["protocol"], u["name"], u["request_id"]) for u in up], [("http", "POST /ok", post[0]["request_id"])],
   "the HTTP/2 request made the HTTP/1 call")
expect(up[0]["child_request_id"], "the HTTP/1 call linked", up)
conns = q("SELECT protocol, count(*) AS n FROM connections WHERE " + args[1] + " IN (local_port, remote_port)"
          " GROUP BY protocol")
eq([(c["protocol"], c["n"]) for c in conns], [("http2", 12)], "connections (both ends of 6)")
' "$T/h2load.out" $PORT

# the reports say http2
"$HTTPANALYZE" deps -q "$T/h2.htc" >"$T/deps.out" || fail "deps failed"
n404=$(sed -n 's/^status codes: .* \([0-9]*\) 4xx.*/\1/p' "$T/h2load.out")
grep -Eq "^h2load@[^ ]+ +\(no request\) +http2 +127\.0\.0\.1:$PORT +GET /nope +$n404 +$n404 " "$T/deps.out" ||
	fail "deps: $(cat "$T/deps.out")"

# httpreplay sends the captured GETs again over HTTP/2 (the POST is unsafe:
# skipped): same statuses, same bodies
HTTPREPLAY=${HTTPREPLAY:-$ROOT/$BUILD/httpreplay}
"$HTTPREPLAY" --port $PORT --speed max --concurrency 4 --max-mismatch 0 -t "$U" "$T/h2.htc" >"$T/replay.out" 2>&1 ||
	fail "httpreplay: $(tail -20 "$T/replay.out")"
grep -E "^(sent|status mismatches|body)" "$T/replay.out" | sed 's/^/  replay: /'
grep -Eq "^sent +302 \(answered 302, errors 0\)" "$T/replay.out" || fail "httpreplay: $(tail -12 "$T/replay.out")"
grep -Eq "^body differences +0 \(of 302 compared\)" "$T/replay.out" || fail "httpreplay: $(tail -12 "$T/replay.out")"
info "nginx h2c: 303 streams on 6 connections, counts equal h2load's, every call linked, replayed over HTTP/2"

