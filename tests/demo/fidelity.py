#!/usr/bin/python3
"""Compare httpanalyze's attribution with the demo application's ground truth.

  fidelity.py --gt groundtruth.jsonl --trace capture.htc [--httpanalyze build/httpanalyze]

The ground truth (samples/app/groundtruth.py) is what the application did:
each inbound request with its tag (?n=...), and each downstream call with
the tag of the request it served.  httpanalyze only sees the capture.  Three
things are scored, each as precision (what httpanalyze reported that is
right) and recall (what really happened that httpanalyze reported):

  requests  every inbound request (front and external API) by method, path
            (the path carries the tag), status, serving thread and client
            port;
  calls     every downstream call under the right inbound request (the calls
            table, and `show ID` for the /slow requests), matched
            by the request's tag, protocol, remote port, summary ("GET
            user:4", "GET /api/rates?n=f1") and calling thread;
  links     every request of the external API has as parent the front
            request that called it (5-tuple link across processes).

Exit status 0 only when all six figures are 100%.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"fidelity: cannot run '{cmd[0]}': {e}")
    if p.returncode != 0:
        sys.exit(f"fidelity: '{' '.join(cmd)}' failed with status {p.returncode}: "
                 f"{p.stderr.strip()[:500]}")
    return p.stdout


def json_objects(text):
    """One JSON document, or one object per line: a list of dicts."""
    text = text.strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def tag_of(path):
    if path is None:
        return None
    v = parse_qs(urlsplit(path).query).get("n")
    return v[0] if v else None


def call_key(proto, port, summary):
    """What identifies a downstream call of one request: protocol, remote
    port and summary.  httpanalyze sums up a Redis command by its name and
    key ("LRANGE orders", not "LRANGE orders 0 4"), so only those two words
    of the application's Redis commands are compared."""
    s = re.sub(r"\s+", " ", (summary or "").strip())
    if proto == "redis":
        words = s.split(" ")
        s = " ".join([words[0].upper()] + words[1:2])
    return (proto, port, s)


def score(name, correct, reported, truth):
    p = 100.0 * correct / reported if reported else 100.0
    r = 100.0 * correct / truth if truth else 100.0
    print(f"  {name:<9} precision {p:6.2f}% ({correct}/{reported})   "
          f"recall {r:6.2f}% ({correct}/{truth})")
    return p == 100.0 and r == 100.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", required=True)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--httpanalyze", default="build/httpanalyze")
    ap.add_argument("--db", help="database kept for inspection (default TRACE.sqlite)")
    args = ap.parse_args()
    ha = args.httpanalyze

    with open(args.gt) as f:
        gt = [json.loads(line) for line in f if line.strip()]
    gt_reqs = [r for r in gt if r["kind"] == "request"]
    gt_calls = [r for r in gt if r["kind"] == "call"]
    if not gt_reqs:
        sys.exit("fidelity: the ground-truth log has no request")

    # One load, kept in a database that the later queries reuse.
    db = args.db or args.trace + ".sqlite"
    if os.path.exists(db):
        os.unlink(db)
    an_reqs = json_objects(run([ha, "requests", "--format", "json", "--db", db, args.trace]))
    an_calls = json_objects(run([ha, "sql", "--db", db, "--format", "json",
                                 "SELECT call_id, request_id, child_request_id, tid, protocol, "
                                 "remote_port, summary, ambiguous, evidence FROM calls"]))
    # Who served each request, as the kernel saw it: checked against the
    # application's own view (its thread id and its peer's port).
    served = {r["request_id"]: r for r in json_objects(run(
        [ha, "sql", "--db", db, "--format", "json",
         "SELECT request_id, tid, client_port FROM requests"]))}
    # The hard case this application exists for: calls on a pooled
    # connection that another thread opened.  The test must exercise it.
    pooled = json_objects(run([ha, "sql", "--db", db, "--format", "json",
                               "SELECT count(*) AS n FROM calls c JOIN connections k "
                               "ON k.conn = c.conn WHERE c.request_id IS NOT NULL "
                               "AND k.tid != c.tid"]))
    npooled = pooled[0]["n"] if pooled else 0
    by_path = {}
    by_id = {}
    for r in an_reqs:
        by_path.setdefault((r.get("method"), r.get("path")), []).append(r)
        by_id[r["request_id"]] = r

    problems = []
    # Requests.
    ok_reqs = 0
    front_id = {}       # tag -> request_id of the front request
    for g in gt_reqs:
        cands = by_path.get((g["method"], g["path"]), [])
        if len(cands) != 1:
            problems.append(f"request {g['method']} {g['path']} ({g['service']}): "
                            f"found {len(cands)} times")
            continue
        a = cands[0]
        if a.get("status") != g["status"]:
            problems.append(f"request {g['path']}: status {a.get('status')}, "
                            f"really {g['status']}")
            continue
        k = served.get(a["request_id"], {})
        if (k.get("tid"), k.get("client_port")) != (g["tid"], g["client_port"]):
            problems.append(f"request {g['path']}: thread {k.get('tid')} client port "
                            f"{k.get('client_port')}, really {g['tid']} {g['client_port']}")
            continue
        ok_reqs += 1
        if g["service"] == "front":
            front_id[g["tag"]] = a["request_id"]

    # Calls: each one httpanalyze attributed to a request must be one that
    # request's tag really made (an ambiguous attribution is a guess: wrong).
    truth = collections.defaultdict(collections.Counter)
    for c in gt_calls:
        truth[c["tag"]][call_key(c["protocol"], c["remote_port"], c["summary"])
                        + (c["tid"],)] += 1
    got = collections.defaultdict(collections.Counter)
    reported_calls = 0
    for c in an_calls:
        if c.get("request_id") is None:
            continue    # clients of the app (curl, traffic.py): no inbound request
        reported_calls += 1
        req = by_id.get(c["request_id"])
        if c.get("ambiguous"):
            problems.append(f"call {c['summary']!r} marked ambiguous")
            continue
        got[tag_of(req.get("path")) if req else None][
            call_key(c.get("protocol"), c.get("remote_port"), c.get("summary"))
            + (c.get("tid"),)] += 1
    ok_calls = 0
    for t, counter in got.items():
        want = truth.get(t, collections.Counter())
        ok_calls += sum((counter & want).values())
        for k, n in (counter - want).items():
            problems.append(f"call {k} x{n} attributed to the request tagged {t}: not made by it")
    truth_calls = sum(sum(c.values()) for c in truth.values())
    # Each attributed call by its evidence (issue 14): proven (a propagated
    # id, a forwarded copy, the thread rule, the loop's order) or flagged (a
    # guess), and right or wrong against the ground truth.  A wrong link
    # that is not flagged is the one thing never allowed.
    left = {t: collections.Counter(c) for t, c in truth.items()}
    by_evidence = collections.Counter()
    kinds = collections.Counter()
    for c in an_calls:
        if c.get("request_id") is None:
            continue
        req = by_id.get(c["request_id"])
        t = tag_of(req.get("path")) if req else None
        key = call_key(c.get("protocol"), c.get("remote_port"), c.get("summary")) + (c.get("tid"),)
        right = left.get(t, collections.Counter())[key] > 0
        if right:
            left[t][key] -= 1
        flagged = bool(c.get("ambiguous")) or c.get("evidence") in ("guess", "none", None)
        by_evidence[("right" if right else "wrong", "flagged" if flagged else "proven")] += 1
        kinds[c.get("evidence") or "none"] += 1
    if by_evidence[("wrong", "proven")]:
        problems.append(f"{by_evidence[('wrong', 'proven')]} calls attributed wrongly"
                        " and not flagged")
    for t, counter in truth.items():
        for k, n in (counter - got.get(t, collections.Counter())).items():
            problems.append(f"call {k} x{n} of the request tagged {t}: not attributed to it")

    # `show ID` must tell the same story as the calls table, for the /slow
    # requests (the richest timeline: Redis, HTTP and a child request).
    nshow = 0
    for a in an_reqs:
        if not (a.get("path") or "").startswith("/slow"):
            continue
        nshow += 1
        shown = json_objects(run([ha, "show", str(a["request_id"]), "--format", "json",
                                  "--db", db]))
        calls = shown[0].get("calls", []) if shown else []
        seen = collections.Counter(call_key(c.get("protocol"), c.get("remote_port"),
                                            c.get("summary")) for c in calls)
        want = collections.Counter()
        for key, n in truth.get(tag_of(a["path"]), collections.Counter()).items():
            want[key[:3]] += n
        if seen != want:
            problems.append(f"show {a['request_id']} ({a['path']}): calls {sorted(seen.items())}"
                            f", really {sorted(want.items())}")
        kids = [c.get("child_request_id") for c in calls if c.get("protocol") == "http"]
        for k in kids:
            child = by_id.get(k)
            if child is None or tag_of(child.get("path")) != tag_of(a["path"]):
                problems.append(f"show {a['request_id']}: HTTP call leads to request {k}, "
                                f"not to the API request of the same tag")

    # Links: each request of the external API has its front request as parent.
    ok_links = nlinks = 0
    for g in gt_reqs:
        if g["service"] != "external":
            continue
        nlinks += 1
        cands = by_path.get((g["method"], g["path"]), [])
        want = front_id.get(g["tag"])
        got = cands[0].get("parent_request_id") if len(cands) == 1 else None
        if want is not None and got == want:
            ok_links += 1
        else:
            problems.append(f"link {g['path']}: parent {got}, expected {want}")
    reported_links = sum(1 for a in an_reqs if a.get("parent_request_id") is not None)

    for p in problems[:20]:
        print(f"  mismatch: {p}")
    if len(problems) > 20:
        print(f"  ... and {len(problems) - 20} more")
    print(f"fidelity of {args.trace} against {args.gt}:")
    print(f"  ({npooled} calls on a pooled connection opened by another thread;"
          f" show checked on {nshow} /slow requests)")
    if npooled == 0:
        print("  mismatch: no call reused a pooled connection: the test did not cover that case")
        return 1
    print(f"  calls by evidence: {by_evidence[('right', 'proven')]} right and proven, "
          f"{by_evidence[('right', 'flagged')]} right but flagged, "
          f"{by_evidence[('wrong', 'flagged')]} wrong and flagged, "
          f"{by_evidence[('wrong', 'proven')]} wrong and unflagged (must be 0); kinds: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    good = by_evidence[("wrong", "proven")] == 0
    good &= score("requests", ok_reqs, len(an_reqs), len(gt_reqs))
    good &= score("calls", ok_calls, reported_calls, truth_calls)
    good &= score("links", ok_links, reported_links, nlinks)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
