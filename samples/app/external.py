#!/usr/bin/python3
"""The demo's stand-in for an external API (a second HTTP service).

The front service calls it from /external and /slow.  It is a separate
process with its own comm ("demo-api"), so a capture shows a call leaving
the front service and the request it became in this one: httpanalyze links
the two by their TCP 5-tuple.  Python standard library only
(ThreadingHTTPServer, one thread per connection, HTTP/1.1 keep-alive).

  external.py --port 5102 [--log groundtruth.jsonl]
"""

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import groundtruth
import procname

# Endpoint -> (simulated work in seconds, body builder).
ROUTES = {
    "/api/rates": (0.002, lambda n: {"n": n, "eur_usd": 1.08, "gbp_usd": 1.27}),
    "/api/report": (0.030, lambda n: {"n": n, "report": "weekly", "rows": 12}),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, so the front can pool connections
    server_version = "demo-api/1.0"

    def log_message(self, fmt, *args):
        pass  # the ground-truth log says everything; keep the demo's terminal quiet

    def do_GET(self):
        start = groundtruth.now_ns()
        url = urlsplit(self.path)
        tag = groundtruth.tag_of(parse_qs(url.query).get("n", [None])[0])
        route = ROUTES.get(url.path)
        if route is None:
            status, body = 404, {"error": "no such endpoint"}
        else:
            time.sleep(route[0])
            status, body = 200, route[1](tag)
        data = json.dumps(body).encode()
        # Head and body go out in two writes (end_headers, then wfile.write),
        # as http.server does, with Nagle on: the README's walk-through shows
        # the delay this causes, as seen in a capture.  Left so on purpose.
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        groundtruth.write("request", tag=tag, method="GET", path=self.path,
                          client_port=self.client_address[1], status=status,
                          start_ns=start, end_ns=groundtruth.now_ns())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", help="ground-truth JSON lines file (appended)")
    args = ap.parse_args()

    procname.set_comm("demo-api")
    groundtruth.open_log(args.log, "external")
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    print(f"demo-api: listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
