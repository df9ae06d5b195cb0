# tests/capture/tls/lib_tls.sh - what the TLS cases (e2e_tls_*.sh) share,
# sourced after lib.sh: a certificate made with `openssl req`, and nginx
# serving files over TLS (Debian's nginx links libssl.so.3).

# make_cert: $T/cert.pem and $T/key.pem for 127.0.0.1 (and localhost)
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
		-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1 ||
		fail "openssl req could not make a certificate"
}

# start_nginx_tls PORT ROOT [http2]: nginx with TLS on 127.0.0.1:PORT
# serving ROOT (with http2: offering h2 by ALPN)
start_nginx_tls() {
	local port=$1 root=$2 h2=${3:-}
	start_nginx_conf "$port" <<EOC
    keepalive_requests 100000;
    types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$port ssl $h2;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        root $root;
    }
EOC
}
