#!/bin/bash
# tcpdump's pcap as a capture: python3 http.server and nginx served curl
# while httpcap and `tcpdump -i lo` recorded the same traffic; httpanalyze
# on the pcap must find the requests of the .htc (method, path, status),
# latencies are printed side by side (not asserted: timing), and the pcap
# with one segment of a response dropped (editcap) gives a gap on that
# request, the next requests of the connection still framed right.
. "$(dirname "$0")/lib.sh"
need_root
command -v tcpdump >/dev/null || fail "tcpdump missing (TEST_PKGS)"
command -v editcap >/dev/null || fail "editcap missing (tshark's package, TEST_PKGS)"
PY=18900
NG=18901

mkdir -p "$T/www"
echo "hello from the pcap test" >"$T/www/hello.txt"
head -c 300000 /dev/urandom >"$T/www/big.bin"
start_python_server $PY "$T/www"
start_nginx $NG "$T/www"

start_tcpdump "$T/x.pcap" "tcp port $PY or tcp port $NG"
start_capture cap -w "$T/x.htc" --port $PY --port $NG

for p in /hello.txt /big.bin /missing; do
	curl -s -o /dev/null "http://127.0.0.1:$PY$p" || fail "curl $p"
done
# one keep-alive connection to nginx: the big response in the middle
curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	"http://127.0.0.1:$NG/hello.txt" "http://127.0.0.1:$NG/big.bin" \
	"http://127.0.0.1:$NG/missing" "http://127.0.0.1:$NG/hello.txt?after=1" || fail "curl nginx"
settle
stop_capture "$CAP_PID" || fail "httpcap exited with status $?"
kill -INT "$TD_PID"
wait "$TD_PID" 2>/dev/null
[ -s "$T/x.pcap" ] || fail "tcpdump wrote nothing"

SQL="SELECT method, path, status, duration_ms, gap, server_port FROM requests ORDER BY start_ns"
"$HTTPANALYZE" sql --format json -q "$SQL" "$T/x.htc" >"$T/htc.json" 2>"$T/an-htc.err" || fail "httpanalyze on the .htc"
"$HTTPANALYZE" sql --format json -q "$SQL" "$T/x.pcap" >"$T/pcap.json" 2>"$T/an-pcap.err" || fail "httpanalyze on the pcap"

python3 - "$T/htc.json" "$T/pcap.json" <<'PYEOF' || fail "pcap and htc disagree"
import json, sys
htc = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pcap = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
key = lambda r: (r["method"], r["path"], r["status"])
assert len(htc) == 7, "htc: want 7 requests, got %d: %r" % (len(htc), htc)
assert [key(r) for r in pcap] == [key(r) for r in htc], \
    "requests differ:\n  htc  %r\n  pcap %r" % ([key(r) for r in htc], [key(r) for r in pcap])
assert not any(r["gap"] for r in pcap), "gap in an undamaged pcap: %r" % pcap
print("  %-4s %-22s %6s %10s %10s %9s" % ("", "request", "status", "htc_ms", "pcap_ms", "diff_ms"))
diffs = []
for h, p in zip(htc, pcap):
    assert p["duration_ms"] is not None, "unanswered in the pcap: %r" % p
    d = p["duration_ms"] - h["duration_ms"]
    diffs.append(abs(d))
    print("  %-4s %-22s %6s %10.3f %10.3f %+9.3f" % (h["method"], h["path"], h["status"],
          h["duration_ms"], p["duration_ms"], d))
print("  latency |pcap - htc|: max %.3f ms, mean %.3f ms over %d requests"
      % (max(diffs), sum(diffs) / len(diffs), len(diffs)))
PYEOF
info "7 requests: the same in the pcap as in the .htc"

# httpcap -r and httpreplay read the pcap as well
"$HTTPCAP" -r "$T/x.pcap" >"$T/r.out" 2>"$T/r.err" || fail "httpcap -r on the pcap"
grep -q '"path": "/big.bin"' "$T/r.out" || fail "httpcap -r: no /big.bin request"

# drop a segment in the middle of the body of nginx's big response: its
# second full-size segment (the other responses are a few hundred bytes)
n=$(tshark -r "$T/x.pcap" -Y "tcp.srcport == $NG && tcp.len > 2000" -T fields -e frame.number \
	2>/dev/null | sed -n 2p)
[ -n "$n" ] || fail "no segment to drop"
editcap "$T/x.pcap" "$T/drop.pcap" "$n" >/dev/null || fail "editcap"
"$HTTPANALYZE" sql --format json -q "$SQL" "$T/drop.pcap" >"$T/drop.json" 2>"$T/an-drop.err" \
	|| fail "httpanalyze on the damaged pcap"
python3 - "$T/pcap.json" "$T/drop.json" $NG <<'PYEOF' || fail "dropped segment"
import json, sys
full = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
drop = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ng = int(sys.argv[3])
key = lambda r: (r["method"], r["path"], r["status"])
assert [key(r) for r in drop] == [key(r) for r in full], \
    "mis-framed after the drop:\n  full %r\n  drop %r" % ([key(r) for r in full], [key(r) for r in drop])
gaps = [(r["path"], r["server_port"]) for r in drop if r["gap"]]
assert gaps == [("/big.bin", ng)], "want a gap on nginx's /big.bin only, got %r" % gaps
PYEOF
info "dropped segment (frame $n): a gap on /big.bin, the requests after it intact"
