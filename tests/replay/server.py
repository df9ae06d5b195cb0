#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""server.py - the HTTP server httpreplay's tests replay against.

It answers exactly as the captures of tests/replay/mkcaptures.c recorded
(normal mode), or with deliberate differences (--mutate: /b answers another
body, /c another status), and logs every request it receives (method, path,
headers in order, body, client port) as one JSON line, so the tests can see
what httpreplay really sent.

usage: server.py PORT LOGFILE [--mutate] [--tls CERT KEY]
Listens on 127.0.0.1 only; HTTP/1.1 with keep-alive; HTTPS with --tls.
"""
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
LOG = sys.argv[2]
MUTATE = "--mutate" in sys.argv[3:]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replay-test"
    sys_version = ""

    def log_message(self, *args):
        pass

    def record(self, body):
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
            "port": self.client_address[1],
        }
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body, head_only=False):
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only and status != 204:
            self.wfile.write(body)

    def route(self, head_only=False):
        body = self.read_body()
        self.record(body)
        path = self.path.split("?", 1)[0]
        if self.command in ("POST", "PUT") and path == "/echo":
            return self.answer(201, b"got %d bytes\n" % len(body))
        if self.command in ("DELETE", "OPTIONS"):
            return self.answer(204, b"")
        if path == "/a":
            return self.answer(200, b"alpha\n", head_only)
        if path == "/b":
            return self.answer(200, b"BRAVO!\n" if MUTATE else b"bravo\n", head_only)
        if path == "/auth":
            if self.headers.get("Authorization") == "Bearer good":
                return self.answer(200, b"auth ok\n", head_only)
            return self.answer(401, b"no credentials\n", head_only)
        if path == "/c" and MUTATE:
            return self.answer(500, b"no such page\n", head_only)
        return self.answer(404, b"no such page\n", head_only)

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route(head_only=True)

    do_POST = do_PUT = do_DELETE = do_OPTIONS = do_GET


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client refusing our self-signed certificate is a test case
        pass


def main():
    httpd = Server(("127.0.0.1", PORT), Handler)
    httpd.daemon_threads = True
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        # handshake in the handler's thread, not in accept(): a client that
        # gives up on the certificate must not stall the others
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
