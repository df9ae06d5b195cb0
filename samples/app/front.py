#!/usr/bin/python3
"""The demo's front service: a threaded Flask application.

  GET /users?n=TAG     three Redis commands (redis-server over TCP)
  GET /external?n=TAG  one HTTP call to the stand-in external API
  GET /slow?n=TAG      four Redis commands and one HTTP call, with pauses
  GET /health          no downstream call

Each inbound request is served by one thread (Werkzeug's threaded server),
and the Redis client and the HTTP client both keep pooled connections that
one thread opens and other threads reuse later: the case httpanalyze must
attribute by thread, not by connection.  Every inbound request and every
downstream call is written to the ground-truth log (groundtruth.py).

  front.py --port 5100 --redis-port 5101 --api-port 5102 [--log FILE]
"""

import argparse
import http.client
import logging
import queue
import sys
import time

import redis
from flask import Flask, g, jsonify, request
from werkzeug.serving import make_server

import groundtruth
import procname

app = Flask("demo-front")
cfg = {}
db = None       # redis.Redis over a shared ConnectionPool
api = None      # HttpPool to the external API


class HttpPool:
    """A small pool of keep-alive connections to one HTTP service.

    The standard library has no pooled HTTP client (urllib opens a new
    connection per request), hence these few lines.  A connection goes back
    to the pool after each exchange, so the next request (often on another
    thread) reuses it.
    """

    def __init__(self, host, port, size=4):
        self.host, self.port = host, port
        self.idle = queue.LifoQueue(maxsize=size)

    def get(self, path):
        try:
            conn, reused = self.idle.get_nowait(), True
        except queue.Empty:
            conn, reused = http.client.HTTPConnection(self.host, self.port, timeout=5), False
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError):
            if not reused:
                raise
            # The server closed an idle connection: retry once on a new one.
            conn.close()
            conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
        body = resp.read()
        try:
            self.idle.put_nowait(conn)
        except queue.Full:
            conn.close()
        return resp.status, body


def tag():
    return groundtruth.tag_of(request.args.get("n"))


def redis_call(*args):
    """One Redis command, logged with the inbound request it serves."""
    start = groundtruth.now_ns()
    result = db.execute_command(*args)
    groundtruth.write("call", tag=g.tag, protocol="redis", remote_port=cfg["redis_port"],
                      summary=" ".join(str(a) for a in args),
                      start_ns=start, end_ns=groundtruth.now_ns())
    g.ncalls += 1
    return result


def api_call(path):
    """One HTTP GET to the external API, logged with the inbound request it serves."""
    start = groundtruth.now_ns()
    status, body = api.get(path)
    groundtruth.write("call", tag=g.tag, protocol="http", remote_port=cfg["api_port"],
                      summary="GET " + path, status=status,
                      start_ns=start, end_ns=groundtruth.now_ns())
    g.ncalls += 1
    return status, body


@app.before_request
def begin():
    g.start = groundtruth.now_ns()
    g.tag = tag()
    g.ncalls = 0


@app.after_request
def end(resp):
    # Logged before the response bytes are written: the order of lines in
    # the log does not matter, the tag ties everything together.
    groundtruth.write("request", tag=g.tag, method=request.method,
                      path=request.full_path.rstrip("?"),
                      client_port=request.environ.get("REMOTE_PORT"),
                      status=resp.status_code, calls=g.ncalls, start_ns=g.start)
    return resp


def user_id():
    n = g.tag or "0"
    return (sum(n.encode()) % 10) + 1


@app.route("/users")
def users():
    uid = user_id()
    name = redis_call("GET", f"user:{uid}")
    profile = redis_call("HGETALL", f"profile:{uid}")
    redis_call("INCR", "stats:users")
    # The counter stays out of the body: ab counts a body whose length
    # changes as a failed request.
    return jsonify(id=uid, name=(name or b"").decode(),
                   profile={k.decode(): v.decode() for k, v in profile.items()})


@app.route("/external")
def external():
    status, body = api_call(f"/api/rates?n={g.tag or ''}")
    return app.response_class(body, status=200 if status == 200 else 502,
                              mimetype="application/json")


@app.route("/slow")
def slow():
    uid = user_id()
    redis_call("GET", f"user:{uid}")
    time.sleep(0.02)
    redis_call("HGETALL", f"profile:{uid}")
    time.sleep(0.02)
    redis_call("LRANGE", "orders", "0", "4")
    status, _ = api_call(f"/api/report?n={g.tag or ''}")
    time.sleep(0.02)
    redis_call("INCR", "stats:slow")
    return jsonify(id=uid, report_status=status)


@app.route("/health")
def health():
    return jsonify(status="ok")


def main():
    global db, api
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--api-port", type=int, required=True)
    ap.add_argument("--log", help="ground-truth JSON lines file (appended)")
    args = ap.parse_args()

    procname.set_comm("demo-front")
    groundtruth.open_log(args.log, "front")
    cfg.update(redis_port=args.redis_port, api_port=args.api_port)
    pool = redis.ConnectionPool(host="127.0.0.1", port=args.redis_port, max_connections=16,
                                socket_timeout=5)
    db = redis.Redis(connection_pool=pool)
    api = HttpPool("127.0.0.1", args.api_port)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = make_server(args.host, args.port, app, threaded=True)
    print(f"demo-front: listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
