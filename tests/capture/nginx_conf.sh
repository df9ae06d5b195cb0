# tests/capture/nginx_conf.sh - the nginx configuration every test and bench
# nginx shares, sourced by tests/capture/lib.sh and bench/tls/tls_cost.sh.
# It only writes a file (no $T, no traps), so a script with its own cleanup
# can source it.

# nginx_conf DIR: write DIR/nginx.conf (and make DIR/tmp): one worker in the
# foreground, its pid, error log and temp files under DIR, no access log,
# and inside `http { }` the lines read on stdin (types, upstreams, servers).
nginx_conf() {
	local d=$1
	mkdir -p "$d/tmp" || return 1
	{
		cat <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
		cat
		echo "}"
	} >"$d/nginx.conf"
}
