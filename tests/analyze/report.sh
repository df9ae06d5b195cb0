#!/bin/sh
# report.sh - httpanalyze's pictures and traces, end to end:
#   - `report` of samples/demo.htc opened in real headless Chromium: the DOM
#     after the page's script ran (--dump-dom) holds the endpoints table with
#     one row per endpoint (and sorted by the script, so the CSP hash is
#     right), the service map, histograms and charts as SVG, and the
#     waterfall of the slowest request with the rows the links give; a
#     screenshot (--screenshot) is not blank;
#   - a hostile capture (tests/analyze/mkfixtures html_hostile.htc) whose
#     paths, headers, Redis key, process and host names carry <script>,
#     <img onerror=>, javascript: and attribute breakers, each trying to
#     change document.title: after load the title is unchanged, no element
#     or attribute of the capture made it into the DOM, also with the page's
#     CSP removed (the escaping alone holds); a control page with the same
#     payloads unescaped does change the title (the check can fail);
#   - `export --otlp`: the OTLP/JSON of the demo capture checked against the
#     OTLP spec by tests/analyze/otlp_check.py (json module only), parents
#     against httpanalyze's links; decoded by stock protobuf tools with the
#     OTLP .proto definitions (tests/analyze/otlp_proto.sh: protoc and
#     python3-protobuf), hostile captures too; traceparent joins; a local OTLP/HTTP
#     receiver (python3 http.server on 127.0.0.1) gets the same spans; a
#     refusing, an unreachable and a partially accepting collector give the
#     error, the count of what was sent, and exit status 1.
#
#   sh tests/analyze/report.sh                      (make test-analyze-report)
#   sh tests/analyze/report.sh --screenshot FILE    also keep the demo screenshot
#                                                   (make screenshot-analyze)
#
# Needs chromium, python3, protobuf-compiler, python3-protobuf (TEST_PKGS); no root, no network: every server
# listens on loopback, every wait is bounded, everything started is killed.
set -u

BUILD=${BUILD:-build}
ROOT=$(pwd)
HA="$ROOT/$BUILD/httpanalyze"
CHECK="$ROOT/tests/analyze/otlp_check.py"
DEMO=samples/demo.htc	# relative: the page shows the path as given
shot_out=""
[ "${1:-}" = "--screenshot" ] && shot_out=${2:-}

tmp=$(mktemp -d /tmp/httpanalyze-report.XXXXXX) || exit 1
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fix="$tmp/fx"
mkdir -p "$fix"
"$ROOT/$BUILD/tests/analyze/mkfixtures" "$fix" || { echo "FAIL: mkfixtures"; exit 1; }

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "FAIL: chromium not installed (make test installs it as root: apt-get install chromium)"
	exit 1
fi
# The collector URLs are on loopback: never through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# chrome NAME ARGS... URL: headless Chromium, fresh profile, no network
# services, bounded to 90 s; stdout to $tmp/NAME.out.  --no-sandbox: make
# test runs as root; --disable-dev-shm-usage: containers' small /dev/shm.
nchrome=0
chrome() {
	name=$1
	shift
	nchrome=$((nchrome + 1))
	mkdir -p "$tmp/profile$nchrome" "$tmp/home"
	HOME="$tmp/home" timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-extensions \
		--disable-default-apps --no-default-browser-check --mute-audio \
		--disable-dev-shm-usage \
		--user-data-dir="$tmp/profile$nchrome" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}

# ---- the demo report in Chromium ----
if "$HA" -q report -o "$tmp/demo.html" "$DEMO" 2>"$tmp/err"; then ok; else
	bad "report of the demo capture failed: $(cat "$tmp/err")"; fi
size=$(wc -c <"$tmp/demo.html")
[ "$size" -gt 10000 ] && [ "$size" -lt 2000000 ] && ok || bad "demo report size $size"
# the facts the DOM must show, from the database (not from the page)
"$HA" -q sql --format csv "SELECT count(*) FROM endpoint_stats" "$DEMO" | tr -d '\r' | tail -1 \
	>"$tmp/nendpoints"
slow=$("$HA" -q requests --sort duration --limit 1 --format csv "$DEMO" | tr -d '\r' | tail -1 |
	cut -d, -f1)
# rows of its waterfall: the request, its calls, the requests they became
# and their calls (depth 8 is plenty here), by a recursive query
"$HA" -q sql --format csv "WITH RECURSIVE t(kind, id) AS (SELECT 'r', $slow
  UNION ALL SELECT 'c', c.call_id FROM t JOIN calls c ON t.kind = 'r' AND c.request_id = t.id
  UNION ALL SELECT 'r', c.child_request_id FROM t JOIN calls c ON t.kind = 'c'
   AND c.call_id = t.id AND c.child_request_id IS NOT NULL) SELECT count(*) FROM t" "$DEMO" |
	tr -d '\r' | tail -1 >"$tmp/nrows"
"$HA" -q sql --format csv "SELECT count(*) FROM (SELECT 1 FROM calls c LEFT JOIN requests ch
  ON ch.request_id = c.child_request_id GROUP BY
  (SELECT service FROM services s WHERE s.file_idx = c.file_idx AND s.pid = c.pid),
  CASE WHEN ch.request_id IS NOT NULL THEN
   (SELECT service FROM services s WHERE s.file_idx = ch.file_idx AND s.pid = ch.pid)
  ELSE c.protocol || ' ' || c.remote_ip || ':' || c.remote_port END)" "$DEMO" |
	tr -d '\r' | tail -1 >"$tmp/nedges"

chrome demo-dom --dump-dom "file://$tmp/demo.html"
python3 - "$tmp/demo-dom.out" "$(cat "$tmp/nendpoints")" "$slow" "$(cat "$tmp/nrows")" \
	"$(cat "$tmp/nedges")" <<'EOF' && ok || bad "demo report DOM (see above)"
import sys
from html.parser import HTMLParser

dom, nend, slow, nrows, nedges = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.els, self.title = [], [], ""
    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "path": [e["tag"] + "#" + e["attrs"].get("id", "") for e in self.stack], "text": ""}
        self.els.append(el)
        if tag not in ("meta", "link", "br", "img", "input", "rect", "path", "line", "polyline", "marker"):
            self.stack.append(el)
    def handle_startendtag(self, tag, attrs):
        self.els.append({"tag": tag, "attrs": dict(attrs), "path": [e["tag"] + "#" + e["attrs"].get("id", "") for e in self.stack], "text": ""})
    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break
    def handle_data(self, d):
        for e in self.stack:
            e["text"] += d
        if self.stack and self.stack[-1]["tag"] == "title":
            self.title += d

p = P()
p.feed(open(dom, encoding="utf-8").read())
els = p.els
def by_id(i):
    m = [e for e in els if e["attrs"].get("id") == i]
    assert len(m) == 1, (i, len(m))
    return m[0]
def inside(i):
    return [e for e in els if any(x.endswith("#" + i) for x in e["path"])]

errs = []
def check(cond, what):
    if not cond:
        errs.append(what)

check(p.title == "httpcap report", "title %r" % p.title)
t = by_id("endpoints-table")
check(t["attrs"].get("data-sortable") == "ready", "the sort script did not run (CSP hash?)")
rows = [e for e in inside("endpoints-table") if e["tag"] == "tr" and any(x.startswith("tbody") for x in e["path"])]
check(len(rows) == min(nend, 50), "endpoints table: %d rows, want %d" % (len(rows), min(nend, 50)))
m = by_id("service-map")
check(m["tag"] == "svg", "service map is not an svg")
nodes = [e for e in inside("service-map") if e["tag"] == "g" and e["attrs"].get("class") == "node"]
edges = [e for e in inside("service-map") if e["tag"] == "g" and e["attrs"].get("class") == "edge"]
check(len(edges) == min(nedges, 40), "map: %d edges, want %d" % (len(edges), nedges))
check(len(nodes) >= 3 and any("demo-front front.py:5100@vm" in n["text"] for n in nodes), "map nodes: %r" % [n["text"] for n in nodes])
hists = [e for e in els if e["tag"] == "svg" and e["attrs"].get("class") == "hist"]
check(len(hists) == min(nend, 12), "histograms: %d svg, want %d" % (len(hists), min(nend, 12)))
check(all(any(x["tag"] == "rect" for x in inside(h["attrs"]["id"])) for h in hists), "a histogram has no bar")
for c in ("chart-rate", "chart-errors", "chart-p99"):
    check(by_id(c)["tag"] == "svg", c)
wf = by_id("wf-slowest-" + slow)
check(wf["tag"] == "svg", "waterfall of request %s is not an svg" % slow)
wrows = [e for e in inside("wf-slowest-" + slow) if e["tag"] == "g" and "row" in e["attrs"].get("class", "")]
check(len(wrows) == nrows, "waterfall of %s: %d rows, want %d" % (slow, len(wrows), nrows))
check(wrows and "GET /slow" in wrows[0]["text"], "waterfall first row: %r" % (wrows[0]["text"] if wrows else None))
check(sum(1 for r in wrows if "request" in r["attrs"]["class"]) >= 2, "waterfall: no linked child request")
check(sum(1 for e in els if e["tag"] == "script") == 1, "scripts in the page")
if errs:
    print("\n".join(errs))
    sys.exit(1)
EOF

# the screenshot: a PNG, not one flat colour
chrome demo-shot --hide-scrollbars --window-size=1000,1400 --screenshot="$tmp/demo.png" \
	"file://$tmp/demo.html"
python3 - "$tmp/demo.png" <<'EOF' && ok || bad "screenshot blank or not a PNG"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
i, idat, w, h = 8, b"", 0, 0
while i < len(b):
    n, t = struct.unpack(">I4s", b[i:i + 8])
    if t == b"IHDR":
        w, h = struct.unpack(">II", b[i + 8:i + 16])
    if t == b"IDAT":
        idat += b[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
assert w >= 800 and h >= 1000, (w, h)
# a flat page filters to one repeated byte; text, tables and charts do not
hist = {}
for x in raw:
    hist[x] = hist.get(x, 0) + 1
top = max(hist.values())
assert len(hist) > 64 and top < 0.97 * len(raw), (len(hist), top / len(raw))
EOF
if [ -n "$shot_out" ]; then
	cp "$tmp/demo.png" "$ROOT/$shot_out" && echo "screenshot written to $shot_out"
fi

# ---- hostile capture: nothing of it may run or become markup ----
"$HA" -q report -o "$tmp/hostile.html" "$fix/html_hostile.htc" 2>"$tmp/err" && ok ||
	bad "report of html_hostile.htc failed: $(cat "$tmp/err")"
# the same page without its CSP: the escaping alone must hold
grep -v 'http-equiv="Content-Security-Policy"' "$tmp/hostile.html" >"$tmp/hostile-nocsp.html"
# control: the payloads as they would land unescaped; the title must change,
# or this test could not see a failure
cat >"$tmp/control.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>httpcap report</title></head><body>
<p>GET /<script>document.title='pwned-path'</script></p></body></html>
EOF
for page in hostile hostile-nocsp control; do
	chrome "$page-dom" --virtual-time-budget=3000 --dump-dom "file://$tmp/$page.html"
done
for page in hostile hostile-nocsp control; do
	python3 - "$tmp/$page-dom.out" "$page" <<'EOF' && ok || bad "hostile report: $page (see above)"
import sys
from html.parser import HTMLParser
dom, page = sys.argv[1], sys.argv[2]
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.onattrs, self.title, self.in_title, self.text = [], [], "", False, ""
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.in_title = tag == "title"
        self.onattrs += [(tag, k) for k, v in attrs if k.startswith("on") or (v or "").strip().lower().startswith("javascript:")]
    def handle_endtag(self, tag):
        self.in_title = False
    def handle_data(self, d):
        self.text += d
        if self.in_title:
            self.title += d
p = P()
p.feed(open(dom, encoding="utf-8").read())
if page == "control":
    assert p.title != "httpcap report", "control page kept its title: the check is blind"
    sys.exit(0)
errs = []
if p.title != "httpcap report":
    errs.append("document.title changed to %r" % p.title)
if p.onattrs:
    errs.append("event handler or javascript: attributes in the DOM: %r" % p.onattrs)
for t in ("img", "b", "i", "iframe", "object", "embed", "form", "a"):
    n = p.tags.count(t)
    if t == "a":
        n -= 6  # the page's own navigation
    if n:
        errs.append("%d <%s> elements" % (n, t))
if p.tags.count("script") != 1 or p.tags.count("style") != 1:
    errs.append("script/style elements: %d/%d" % (p.tags.count("script"), p.tags.count("style")))
# the payloads are there, as text
for s in ("<script>document.title='pwned-path'</script>", "onerror=\"document.title='pwned-header'\"",
          "javascript:document.title='pwned-host'", "<b onclick=x>", "<i>host</i>",
          "<style>*{display:none}</style>", "'-alert(1)-'\"onmouseover=\"x"):
    if s not in p.text:
        errs.append("payload not shown as text: %r" % s)
if errs:
    print("\n".join(errs))
    sys.exit(1)
EOF
done

# ---- OTLP ----
export_ok() { # NAME ARGS...: export, must succeed
	name=$1
	shift
	if "$HA" -q export "$@" >"$tmp/$name.stdout" 2>"$tmp/$name.err"; then ok; else
		bad "export $*: $(cat "$tmp/$name.err")"; fi
}
export_ok demo --otlp "$tmp/demo.jsonl" "$DEMO"
export_ok demo2 --otlp "$tmp/demo2.jsonl" "$DEMO"
cmp -s "$tmp/demo.jsonl" "$tmp/demo2.jsonl" && ok || bad "two exports of one capture differ"
# the database side of the checks: requests, calls, links
"$HA" -q sql --format json "SELECT request_id, parent_call_id, method, path, status,
  (SELECT service FROM services s WHERE s.file_idx = requests.file_idx AND s.pid = requests.pid) AS service, host,
  pid, server_port, start_ns, end_ns FROM requests" "$DEMO" >"$tmp/demo-req.json"
"$HA" -q sql --format json "SELECT call_id, request_id, protocol, name, status, remote_ip,
  remote_port,
  (SELECT service FROM services s WHERE s.file_idx = calls.file_idx AND s.pid = calls.pid) AS service, pid FROM calls" "$DEMO" >"$tmp/demo-calls.json"
python3 "$CHECK" --requests "$tmp/demo-req.json" --calls "$tmp/demo-calls.json" \
	"$tmp/demo.jsonl" && ok || bad "OTLP of the demo capture (see above)"
# the same, and the hostile captures' spans, through protoc and protobuf's
# own JSON parser with the OTLP .proto definitions
nspans=$(python3 -c "import json, sys; print(sum(len(s['spans']) for l in open(sys.argv[1])
  for r in json.loads(l)['resourceSpans'] for s in r['scopeSpans']))" "$tmp/demo.jsonl")
[ "$nspans" = $(($(wc -l <"$tmp/demo-req.json") + $(wc -l <"$tmp/demo-calls.json"))) ] && ok ||
	bad "demo export: $nspans spans"
sh "$ROOT/tests/analyze/otlp_proto.sh" "$tmp/demo.jsonl" "$nspans" && ok ||
	bad "OTLP of the demo capture: protobuf decoding (see above)"
hf="$fix/html_hostile.htc $fix/hostile.htc $fix/hostile_head.htc $fix/traced.htc $fix/mixed.htc"
# shellcheck disable=SC2086
export_ok hostile --otlp "$tmp/hostile.jsonl" --batch 7 $hf
# shellcheck disable=SC2086
n=$("$HA" -q sql --format csv "SELECT (SELECT count(*) FROM requests) + (SELECT count(*) FROM calls)" \
	$hf | tr -d '\r' | tail -1)
sh "$ROOT/tests/analyze/otlp_proto.sh" "$tmp/hostile.jsonl" "$n" && ok ||
	bad "OTLP of the hostile captures: protobuf decoding (see above)"

# a propagated traceparent: the tree joins the application's trace
export_ok traced --otlp "$tmp/traced.jsonl" "$fix/traced.htc"
"$HA" -q sql --format json "SELECT request_id, parent_call_id, method, path, status,
  (SELECT service FROM services s WHERE s.file_idx = requests.file_idx AND s.pid = requests.pid) AS service, host,
  pid, server_port, start_ns, end_ns FROM requests" "$fix/traced.htc" >"$tmp/traced-req.json"
"$HA" -q sql --format json "SELECT call_id, request_id, protocol, name, status, remote_ip,
  remote_port,
  (SELECT service FROM services s WHERE s.file_idx = calls.file_idx AND s.pid = calls.pid) AS service, pid FROM calls" "$fix/traced.htc" >"$tmp/traced-calls.json"
python3 "$CHECK" --requests "$tmp/traced-req.json" --calls "$tmp/traced-calls.json" \
	--traceparent 1001=4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7 \
	"$tmp/traced.jsonl" && ok || bad "OTLP with traceparent (see above)"

# filters of `requests` apply
export_ok filtered --otlp "$tmp/filtered.jsonl" --status 5xx "$fix/mixed.htc"
"$HA" -q sql --format json "SELECT request_id, parent_call_id, method, path, status,
  (SELECT service FROM services s WHERE s.file_idx = requests.file_idx AND s.pid = requests.pid) AS service, host,
  pid, server_port, start_ns, end_ns FROM requests WHERE status BETWEEN 500 AND 599" \
	"$fix/mixed.htc" >"$tmp/filtered-req.json"
"$HA" -q sql --format json "SELECT call_id, request_id, protocol, name, status, remote_ip,
  remote_port,
  (SELECT service FROM services s WHERE s.file_idx = calls.file_idx AND s.pid = calls.pid) AS service, pid FROM calls WHERE request_id IN (SELECT request_id FROM requests
  WHERE status BETWEEN 500 AND 599)" "$fix/mixed.htc" >"$tmp/filtered-calls.json"
python3 "$CHECK" --requests "$tmp/filtered-req.json" --calls "$tmp/filtered-calls.json" \
	"$tmp/filtered.jsonl" && ok || bad "OTLP with --status 5xx (see above)"

# ---- OTLP/HTTP to a local receiver ----
cat >"$tmp/recv.py" <<'EOF'
# A minimal OTLP/HTTP (JSON) receiver on 127.0.0.1: stores each body that
# arrives at /v1/traces as application/json; mode ok, refuse (503), after1
# (accepts the first request, then 503), flaky (503 to the second request
# only) or partial (200 with a partial success).  Counts the requests in
# DIR/count.  Stops at the file DIR/stop or after 60 s.
import http.server, os, sys, time
mode, outdir = sys.argv[1], sys.argv[2]
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        n += 1
        with open(os.path.join(outdir, "count"), "w") as f:
            f.write(str(n))
        good = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/json"
        if not good or mode == "refuse" or (mode == "after1" and n > 1) or (mode == "flaky" and n == 2):
            code, answer = (503, b'{"code":14,"message":"busy <now>"}') if good else (404, b"wrong")
        else:
            open(os.path.join(outdir, "%04d.json" % n), "wb").write(body)
            code, answer = 200, b'{}'
            if mode == "partial":
                answer = b'{"partialSuccess":{"rejectedSpans":"2","errorMessage":"no"}}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
srv.timeout = 0.2
with open(os.path.join(outdir, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(outdir, "port.tmp"), os.path.join(outdir, "port"))
end = time.time() + 60
while time.time() < end and not os.path.exists(os.path.join(outdir, "stop")):
    srv.handle_request()
EOF
# receiver MODE: start one, $port set; stop_receiver
receiver() {
	rdir="$tmp/recv-$1"
	mkdir -p "$rdir"
	timeout -k 2 70 python3 "$tmp/recv.py" "$1" "$rdir" &
	rpid=$!
	pids="$pids $rpid"
	i=0
	while [ ! -f "$rdir/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	port=$(cat "$rdir/port" 2>/dev/null || echo 1)
}
stop_receiver() {
	touch "$rdir/stop"
	wait "$rpid" 2>/dev/null
}

receiver ok
"$HA" export --batch 40 --otlp "http://127.0.0.1:$port" "$DEMO" >/dev/null 2>"$tmp/post.err"
rc=$?
stop_receiver
export_ok demo40 --batch 40 --otlp "$tmp/demo40.jsonl" "$DEMO"
for f in "$rdir"/0*.json; do cat "$f"; echo; done >"$tmp/received.jsonl" 2>/dev/null
if [ $rc = 0 ] && cmp -s "$tmp/received.jsonl" "$tmp/demo40.jsonl" &&
    [ "$(ls "$rdir"/0*.json | wc -l)" = $(((nspans + 39) / 40)) ] &&
    grep -q "$nspans spans sent to 'http://127.0.0.1:$port/v1/traces' in" "$tmp/post.err"; then
	ok
else
	bad "OTLP/HTTP: rc $rc, receiver got $(ls "$rdir" | wc -l) files: $(cat "$tmp/post.err")"
fi
python3 "$CHECK" --requests "$tmp/demo-req.json" --calls "$tmp/demo-calls.json" \
	"$tmp/received.jsonl" && ok || bad "OTLP/HTTP: the received spans (see above)"

# a collector that refuses (503: tried 3 times, 1 s then 2 s apart)
receiver refuse
"$HA" export --otlp "http://127.0.0.1:$port/v1/traces" "$DEMO" >/dev/null 2>"$tmp/refuse.err"
rc=$?
stop_receiver
grep -q "refused: HTTP 503: .*busy <now>.* (3 attempts); 0 of $nspans spans sent in 0 batches" \
	"$tmp/refuse.err" && [ $rc = 1 ] && [ "$(cat "$rdir/count")" = 3 ] && ok ||
	bad "refusing collector: rc $rc, $(cat "$rdir/count") requests: $(cat "$tmp/refuse.err")"
# one that accepts the first batch only: what was sent is counted
receiver after1
"$HA" export --batch 50 --otlp "http://127.0.0.1:$port" "$DEMO" >/dev/null 2>"$tmp/after1.err"
rc=$?
stop_receiver
grep -q "refused: HTTP 503.*; 50 of $nspans spans sent in 1 batch before it" "$tmp/after1.err" &&
	[ $rc = 1 ] && ok || bad "collector failing mid-way: rc $rc: $(cat "$tmp/after1.err")"
# one that refuses once: the batch is sent again, every span arrives once
receiver flaky
"$HA" export --batch 40 --otlp "http://127.0.0.1:$port" "$DEMO" >/dev/null 2>"$tmp/flaky.err"
rc=$?
stop_receiver
for f in "$rdir"/0*.json; do cat "$f"; echo; done >"$tmp/received-flaky.jsonl" 2>/dev/null
[ $rc = 0 ] && cmp -s "$tmp/received-flaky.jsonl" "$tmp/demo40.jsonl" &&
	[ "$(cat "$rdir/count")" = $(((nspans + 39) / 40 + 1)) ] && ok ||
	bad "collector refusing once: rc $rc, $(cat "$rdir/count") requests: $(cat "$tmp/flaky.err")"
# 400 is not retried
receiver bad
"$HA" export --otlp "http://127.0.0.1:$port/v1/other" "$DEMO" >/dev/null 2>"$tmp/bad.err"
rc=$?
stop_receiver
grep -q "refused: HTTP 404: wrong; 0 of $nspans spans" "$tmp/bad.err" && [ $rc = 1 ] &&
	[ "$(cat "$rdir/count")" = 1 ] && ok || bad "collector answering 404: rc $rc: $(cat "$tmp/bad.err")"
# one that drops spans (partial success)
receiver partial
"$HA" export --otlp "http://127.0.0.1:$port" "$DEMO" >/dev/null 2>"$tmp/partial.err"
rc=$?
stop_receiver
grep -q "the collector rejected 2 of them" "$tmp/partial.err" && [ $rc = 1 ] && ok ||
	bad "partial success: rc $rc: $(cat "$tmp/partial.err")"
# nothing listening
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")
"$HA" export --otlp "http://127.0.0.1:$port" "$DEMO" >/dev/null 2>"$tmp/down.err"
rc=$?
grep -q "export to 'http://127.0.0.1:$port/v1/traces' failed: .* (3 attempts); 0 of $nspans spans sent" \
	"$tmp/down.err" && [ $rc = 1 ] && ok || bad "unreachable collector: rc $rc: $(cat "$tmp/down.err")"

echo "report: $pass passed, $fail failed"
[ $fail = 0 ]
