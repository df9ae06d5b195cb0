#!/usr/bin/env python3
"""tests/capture/attrib.py - the servers, the client and the score of the
attribution cases (e2e_attrib_*.sh, issue 14).

  attrib.py backend PORT              threaded HTTP/1.1 backend (http.server)
  attrib.py client PORT N PATHS [--request-id] [--traceparent]
                                      N requests, 8 at a time on keep-alive
                                      connections; each carries a unique
                                      X-Tag (the ground truth: proxies pass
                                      it on); PATHS: unique | repeated
  attrib.py score HTTPANALYZE FILE FRONT_PORT BACK_PORT MIN_PROVEN_PCT
                                      scores the links of the backend's
                                      requests against the X-Tag they carry
  attrib.py score-redis HTTPANALYZE FILE FRONT_PORT REDIS_PORT
                                      scores the front's Redis calls
                                      (INCR hits:TAG) against the X-Tag of
                                      the request they are attributed to

The score: a backend request's parent is right when the front request it
names carries the same X-Tag.  Proven: a link whose evidence is a proof
(id, forward, thread, loop); flagged: a guess (parent_ambiguous).  Fails
when a proven link is wrong, or fewer than MIN_PROVEN_PCT % are proven.
Works on a database of an httpanalyze without evidence columns too (then a
link not flagged counts as proven), for before/after figures.
"""
import concurrent.futures
import http.client
import http.server
import json
import random
import re
import subprocess
import sys
import time


def backend(port):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            # a little work, so requests overlap in the front
            time.sleep(random.random() * 0.004)
            body = b"ok " + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer.daemon_threads = True
    # socketserver listens with a backlog of 5: when the front opens its 8
    # upstream connections at once, a SYN can be dropped and retried a
    # second later, and the request waiting on it overlaps every request
    # of its path in that second (no longer provable by forwarding)
    http.server.ThreadingHTTPServer.request_queue_size = 64
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def client(port, n, paths, request_id, traceparent=False):
    def one(conn_box, i):
        if conn_box.get("c") is None:
            conn_box["c"] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c = conn_box["c"]
        path = "/u/%d?q=%d" % (i, i) if paths == "unique" else "/same/%d" % (i % 2)
        h = {"X-Tag": "t%d" % i}
        if request_id:
            h["X-Request-ID"] = "rid-%08d-%s" % (i, "%08x" % random.getrandbits(32))
        if traceparent:
            h["traceparent"] = "00-%032x-%016x-01" % (random.getrandbits(128) | 1, random.getrandbits(64) | 1)
        c.request("GET", path, headers=h)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("client: %s -> %d" % (path, r.status))

    boxes = [dict() for _ in range(8)]

    def worker(k):
        for i in range(k, n, 8):
            one(boxes[k], i)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for f in [ex.submit(worker, k) for k in range(8)]:
            f.result()


def tag_of(head):
    m = re.search(r"(?im)^x-tag:\s*(\S+)", head or "")
    return m.group(1) if m else None


def score(ha, path, front, back, min_pct):
    def q(sql):
        out = subprocess.run([ha, "sql", "--format", "json", "-q", sql, path], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    cols = set(q("SELECT * FROM requests LIMIT 1")[0])
    ev = "parent_evidence" if "parent_evidence" in cols else "NULL AS parent_evidence"
    fr = {r["request_id"]: tag_of(r["h"]) for r in
          q("SELECT request_id, CAST(head AS TEXT) AS h FROM requests WHERE server_port = %d" % front)}
    bk = q("SELECT request_id, CAST(head AS TEXT) AS h, parent_request_id, parent_ambiguous, %s"
           " FROM requests WHERE server_port = %d" % (ev, back))
    n = {"proven": 0, "proven_wrong": 0, "flagged": 0, "flagged_wrong": 0, "missing": 0}
    kinds = {}
    wrong = []
    for r in bk:
        tag = tag_of(r["h"])
        p = r["parent_request_id"]
        if p is None:
            n["missing"] += 1
            continue
        right = tag is not None and fr.get(p) == tag
        if r["parent_ambiguous"]:
            n["flagged"] += 1
            n["flagged_wrong"] += not right
        else:
            n["proven"] += 1
            n["proven_wrong"] += not right
            if not right:
                wrong.append((r["request_id"], tag, p, fr.get(p)))
        k = r["parent_evidence"] or "?"
        kinds[k] = kinds.get(k, 0) + 1
    total = len(bk)
    pct = 100.0 * n["proven"] / total if total else 0.0
    print("%d backend requests (front requests %d): proven %d (%.1f%%, wrong %d), flagged %d"
          " (wrong guesses %d), missing %d; by evidence %s"
          % (total, len(fr), n["proven"], pct, n["proven_wrong"], n["flagged"],
             n["flagged_wrong"], n["missing"], json.dumps(kinds, sort_keys=True)))
    if total == 0 or total != len(fr):
        raise SystemExit("FAIL: %d backend requests for %d front requests" % (total, len(fr)))
    if n["proven_wrong"]:
        raise SystemExit("FAIL: %d proven links are wrong: %s" % (n["proven_wrong"], wrong[:5]))
    if pct < min_pct:
        raise SystemExit("FAIL: %.1f%% proven, want >= %s%%" % (pct, min_pct))


def score_redis(ha, path, front, redis_port):
    def q(sql):
        out = subprocess.run([ha, "sql", "--format", "json", "-q", sql, path], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    cols = set(q("SELECT * FROM calls LIMIT 1")[0])
    ev = "evidence" if "evidence" in cols else "NULL AS evidence"
    fr = {r["request_id"]: tag_of(r["h"]) for r in
          q("SELECT request_id, CAST(head AS TEXT) AS h FROM requests WHERE server_port = %d" % front)}
    calls = q("SELECT call_id, request_id, summary, ambiguous, %s FROM calls"
              " WHERE protocol = 'redis' AND remote_port = %d" % (ev, redis_port))
    n = {"proven": 0, "proven_wrong": 0, "flagged": 0, "flagged_wrong": 0, "missing": 0}
    kinds = {}
    wrong = []
    for c in calls:
        m = re.search(r"hits:(\S+)", c["summary"] or "")
        tag = m.group(1) if m else None
        p = c["request_id"]
        if p is None:
            n["missing"] += 1
            continue
        right = tag is not None and fr.get(p) == tag
        if c["ambiguous"] or (c["evidence"] in ("guess", "none")):
            n["flagged"] += 1
            n["flagged_wrong"] += not right
        else:
            n["proven"] += 1
            n["proven_wrong"] += not right
            if not right:
                wrong.append((c["call_id"], tag, p, fr.get(p)))
        k = c["evidence"] or "?"
        kinds[k] = kinds.get(k, 0) + 1
    print("%d Redis calls (front requests %d): proven %d (wrong %d), flagged %d (wrong guesses"
          " %d), missing %d; by evidence %s"
          % (len(calls), len(fr), n["proven"], n["proven_wrong"], n["flagged"],
             n["flagged_wrong"], n["missing"], json.dumps(kinds, sort_keys=True)))
    if not calls or len(calls) != len(fr):
        raise SystemExit("FAIL: %d Redis calls for %d front requests" % (len(calls), len(fr)))
    if n["proven_wrong"]:
        raise SystemExit("FAIL: %d proven Redis attributions are wrong: %s"
                         % (n["proven_wrong"], wrong[:5]))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "backend":
        backend(int(a[1]))
    elif a[0] == "client":
        client(int(a[1]), int(a[2]), a[3], "--request-id" in a[4:], "--traceparent" in a[4:])
    elif a[0] == "score":
        score(a[1], a[2], int(a[3]), int(a[4]), float(a[5]))
    elif a[0] == "score-redis":
        score_redis(a[1], a[2], int(a[3]), int(a[4]))
    else:
        raise SystemExit("usage: see the header of attrib.py")
