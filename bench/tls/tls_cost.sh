#!/bin/bash
# bench/tls/tls_cost.sh - what the TLS plaintext probes cost (root).
#
# nginx over TLS (keep-alive, libssl.so.3) under wrk -t1 -c1 (libssl.so.3
# too), both ends traced, port 19040.  Each round: wrk alone, httpcap
# --no-tls, httpcap with the TLS probes.  With kernel.bpf_stats_enabled on
# (restored after): BPF ns per run of the TLS programs (SSL_* entries and
# returns) and per request, and the socket side's mean ns per run (the
# programs of the data and syscall hooks: sock_send, sock_recv and the
# tp_exit_ ones on Linux 6.3 and later, else sys_exit).  The uprobe
# traps themselves are kernel time outside BPF: the req/s figures show them.
# ROUNDS (3), SECS (5), MODES ("none notls tls") in the environment.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/${BUILD:-build}
. "$ROOT/tests/capture/nginx_conf.sh"
PORT=19040
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 0; }
for c in nginx wrk bpftool openssl; do
	command -v $c >/dev/null || { echo "SKIP: $c is not installed"; exit 0; }
done
T=$(mktemp -d /tmp/httpcap-bench-tls.XXXXXX)
old=$(sysctl -n kernel.bpf_stats_enabled)
NG=
cleanup() {
	[ -n "$NG" ] && kill "$NG" 2>/dev/null && wait "$NG" 2>/dev/null
	sysctl -q -w kernel.bpf_stats_enabled="$old"
	rm -rf "$T"
}
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout $T/key.pem -out $T/cert.pem -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
mkdir -p $T/www
echo "small file" >$T/www/a.txt
nginx_conf $T/nginx <<EOC
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$PORT ssl; ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem; root $T/www; }
EOC
nginx -c $T/nginx/nginx.conf -p $T/nginx >/dev/null 2>&1 &
NG=$!
sleep 1
sysctl -q -w kernel.bpf_stats_enabled=1
ids() { bpftool -j prog show | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))'; }
# the programs loaded since this httpcap started (others' are older)
snap() { bpftool -j prog show | python3 -c '
import json,sys
old=set(int(x) for x in sys.argv[1].split())
tls={"ssl_read_enter","ssl_read_ex_enter","ssl_write_enter","ssl_write_ex_enter","tls_ret"}
t=c=st=sc=0
for p in json.load(sys.stdin):
    if p["id"] in old: continue
    if p.get("name") in tls: t+=p.get("run_time_ns",0); c+=p.get("run_cnt",0)
    n=p.get("name","")
    if n in ("sys_exit","sock_send","sock_recv") or n.startswith("tp_exit_"):
        st+=p.get("run_time_ns",0); sc+=p.get("run_cnt",0)
print(t,c,st,sc)' "$1"; }
for r in $(seq $ROUNDS); do
	for mode in ${MODES:-none notls tls}; do
		CAP=""
		if [ $mode != none ]; then
			extra=""
			[ $mode = notls ] && extra=--no-tls
			before=$(ids)
			$B/httpcap -q -w $T/$mode.htc --port $PORT $extra 2>$T/$mode.err &
			CAP=$!
			for i in $(seq 300); do [ -s $T/$mode.htc ] && break; sleep 0.1; done
			sleep 1
			read t0 c0 s0 n0 < <(snap "$before")
		fi
		wrk -t1 -c1 -d${SECS}s https://127.0.0.1:$PORT/a.txt >$T/$mode.wrk 2>&1
		req=$(awk '/requests in/{print $1}' $T/$mode.wrk)
		if [ -n "$CAP" ]; then
			read t1 c1 s1 n1 < <(snap "$before")
			kill -INT $CAP
			wait $CAP
			c=$((c1 - c0)); n=$((n1 - n0))
			echo "round $r $mode: $((req / SECS)) req/s; TLS programs $c runs," \
			     "$(( (t1 - t0) / (c > 0 ? c : 1) )) ns/run, $(( (t1 - t0) / req )) ns/request;" \
			     "socket side $(( (s1 - s0) / (n > 0 ? n : 1) )) ns/run"
		else
			echo "round $r $mode: $((req / SECS)) req/s"
		fi
	done
done
