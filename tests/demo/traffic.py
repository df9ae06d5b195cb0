#!/usr/bin/python3
"""Deterministic, tagged traffic for the demo application (fidelity test).

  traffic.py --port 5110 [--count 80] [--concurrency 4] [--prefix f]

Request i goes to ENDPOINTS[i % 4] with the tag ?n=<prefix><i>, so every inbound
request, and every downstream call made for it, can be told apart in the
ground-truth log and in httpanalyze's output.  Half the workers keep one
keep-alive connection to the front service, the other half open a new one
per request, so both ways of reaching a threaded server are covered.
Exits non-zero unless every request got a 200.
"""

import argparse
import http.client
import sys
import threading

ENDPOINTS = ["/users", "/external", "/slow", "/health"]


def worker(k, jobs, port, keepalive, failures, prefix):
    conn = None
    for i in jobs:
        path = f"{ENDPOINTS[i % len(ENDPOINTS)]}?n={prefix}{i}"
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={} if keepalive else {"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failures.append(f"{path}: status {resp.status}")
            if not keepalive or resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"{path}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=80)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--prefix", default="f", help="tag prefix (default f)")
    args = ap.parse_args()
    if not 1 <= args.count <= 10000 or not 1 <= args.concurrency <= 64:
        ap.error("--count must be 1..10000 and --concurrency 1..64")

    failures = []
    threads = []
    for k in range(args.concurrency):
        jobs = range(k, args.count, args.concurrency)
        t = threading.Thread(target=worker, args=(k, jobs, args.port, k % 2 == 0, failures,
                                                     args.prefix))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    for f in failures[:10]:
        print(f"traffic: {f}", file=sys.stderr)
    print(f"traffic: {args.count} requests, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
