#!/usr/bin/python3
"""Compare httpanalyze's attribution with the demo application's ground truth.

  fidelity.py --gt groundtruth.jsonl --trace capture.htc [--httpanalyze build/httpanalyze]

The ground truth (samples/app/groundtruth.py) is what the application did:
each inbound request with its tag (?n=...), and each downstream call with
the tag of the request it served.  httpanalyze only sees the capture.  Three
things are scored, each as precision (what httpanalyze reported that is
right) and recall (what really happened that httpanalyze reported):

  requests  every inbound request (front and external API) by method, path
            (the path carries the tag) and status;
  calls     every downstream call under the right inbound request, matched
            by the request's tag, protocol, remote port and summary
            ("GET user:4", "GET /api/rates?n=f1");
  links     every request of the external API has as parent the front
            request that called it (5-tuple link across processes).

Exit status 0 only when all six figures are 100%.
"""

import argparse
import collections
import json
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
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


def norm_summary(proto, s):
    """Summaries compared without case in the command word or spacing."""
    s = re.sub(r"\s+", " ", (s or "").strip())
    words = s.split(" ", 1)
    if words and proto == "redis":
        s = " ".join([words[0].upper()] + words[1:])
    return s


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
    args = ap.parse_args()
    ha = args.httpanalyze

    with open(args.gt) as f:
        gt = [json.loads(line) for line in f if line.strip()]
    gt_reqs = [r for r in gt if r["kind"] == "request"]
    gt_calls = [r for r in gt if r["kind"] == "call"]
    if not gt_reqs:
        sys.exit("fidelity: the ground-truth log has no request")

    an_reqs = json_objects(run([ha, "requests", "--format", "json", args.trace]))
    by_path = {}
    for r in an_reqs:
        by_path.setdefault((r.get("method"), r.get("path")), []).append(r)

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
        ok_reqs += 1
        if g["service"] == "front":
            front_id[g["tag"]] = a["request_id"]

    # Calls, per front request, from `show ID`.
    truth = collections.defaultdict(collections.Counter)
    for c in gt_calls:
        truth[c["tag"]][(c["protocol"], c["remote_port"],
                         norm_summary(c["protocol"], c["summary"]))] += 1
    reported_calls = ok_calls = 0
    for a in an_reqs:
        if not a.get("calls"):
            continue
        shown = json_objects(run([ha, "show", str(a["request_id"]), "--format", "json",
                                  args.trace]))
        calls = []
        for obj in shown:
            if isinstance(obj.get("calls"), list):
                calls = obj["calls"]
                break
        got = collections.Counter(
            (c.get("protocol"), c.get("remote_port"), norm_summary(c.get("protocol"),
                                                                  c.get("summary")))
            for c in calls)
        reported_calls += sum(got.values())
        want = truth.get(tag_of(a.get("path")), collections.Counter())
        ok = sum((got & want).values())
        ok_calls += ok
        for k in (got - want):
            problems.append(f"call {k} under {a.get('path')}: not made by that request")
    truth_calls = sum(sum(c.values()) for c in truth.values())
    if ok_calls < truth_calls:
        problems.append(f"{truth_calls - ok_calls} calls made by the application were not "
                        f"attributed to their request")

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
    good = score("requests", ok_reqs, len(an_reqs), len(gt_reqs))
    good &= score("calls", ok_calls, reported_calls, truth_calls)
    good &= score("links", ok_links, reported_links, nlinks)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
