#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capcheck.py - read a capture back with `httpcap -r FILE` and check it.

usage: capcheck.py HTTPCAP FILE CODE [ARG...]
       capcheck.py - JSONFILE CODE [ARG...]   (JSON lines httpcap printed live)

Every output line must be a JSON object with httpcap's keys in httpcap's
order (the demo tracer's first, then the 5-tuple), with consistent values.
Then CODE (python) runs with:
  ev        the list of events (dicts), in file order
  args      the extra ARGs
  stderr    what `httpcap -r` wrote on stderr
  sel(**kw) events whose keys equal the given values (callables are
            predicates: sel(remote_port=18500, syscall=lambda s: s != "close"))
  expect(cond, msg, *ctx)  fail with msg (and ctx) unless cond
  eq(got, want, msg)       fail unless got == want
  server_requests(evs)     {request_id: first read event} of the inbound requests
  total(evs)               sum of payload_len
An exception or a failed expectation exits non-zero with a message.
"""
import json
import re
import subprocess
import sys

KEYS = ["timestamp", "request_id", "pid", "tid", "comm", "method", "path",
        "payload_len", "payload", "event_type", "event_type_id", "protocol",
        "fd", "conn_id", "local_ip", "local_port", "remote_ip", "remote_port",
        "syscall", "captured_len"]
TYPES = {"accept": 0, "read": 1, "connect": 2, "write": 3, "close": 4}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
DATA_SYSCALLS = {"read", "readv", "recvfrom", "recvmsg", "recvmmsg", "write",
                 "writev", "sendto", "sendmsg", "sendmmsg", "sendfile",
                 # TLS plaintext (format 1.2): the library call
                 "ssl_read", "ssl_write", "gnutls_record_recv", "gnutls_record_send",
                 "go_tls_read", "go_tls_write"}


class CheckFailed(Exception):
    pass


def expect(cond, msg, *ctx):
    if not cond:
        detail = "".join("\n    " + (json.dumps(c) if isinstance(c, (dict, list)) else str(c))
                         for c in ctx)
        raise CheckFailed(msg + detail)


def eq(got, want, msg):
    expect(got == want, "%s: got %r, want %r" % (msg, got, want))


def check_line(n, line):
    try:
        e = json.loads(line)
    except ValueError as err:
        raise CheckFailed("line %d is not JSON (%s): %r" % (n, err, line[:300]))
    expect(isinstance(e, dict), "line %d is not an object" % n)
    keys = list(e.keys())
    eq(keys[:len(KEYS)], KEYS, "line %d keys" % n)
    extra = keys[len(KEYS):]
    expect(extra in ([], ["result"], ["tcp_seq"]), "line %d: unexpected extra keys %r" % (n, extra))
    if extra == ["tcp_seq"]:
        expect(e["event_type"] in ("read", "write") and isinstance(e["tcp_seq"], int) and
               0 <= e["tcp_seq"] < 1 << 32, "line %d: bad tcp_seq %r" % (n, e.get("tcp_seq")))
    expect(TS_RE.match(e["timestamp"]), "line %d: bad timestamp %r" % (n, e["timestamp"]))
    expect(e["event_type"] in TYPES, "line %d: bad event_type %r" % (n, e["event_type"]))
    eq(e["event_type_id"], TYPES[e["event_type"]], "line %d event_type_id" % n)
    eq(e["protocol"], "TCP", "line %d protocol" % n)
    expect(e["request_id"] is None or (isinstance(e["request_id"], int) and e["request_id"] > 0),
           "line %d: bad request_id %r" % (n, e["request_id"]))
    for k in ("method", "path"):
        expect(e[k] is None or isinstance(e[k], str), "line %d: bad %s" % (n, k))
    for k in ("pid", "tid", "fd", "conn_id", "local_port", "remote_port",
              "payload_len", "captured_len"):
        expect(isinstance(e[k], int), "line %d: %s is not a number" % (n, k))
    expect(0 <= e["local_port"] < 65536 and 0 <= e["remote_port"] < 65536,
           "line %d: bad ports" % n)
    if e["event_type"] in ("read", "write"):
        expect(e["syscall"] in DATA_SYSCALLS, "line %d: %s by %r" % (n, e["event_type"], e["syscall"]))
        expect(e["payload_len"] > 0, "line %d: data event moving %d bytes" % (n, e["payload_len"]), e)
        expect(0 <= e["captured_len"] <= e["payload_len"],
               "line %d: captured_len %d > payload_len %d" % (n, e["captured_len"], e["payload_len"]))
        if all(ord(c) < 128 for c in e["payload"]):
            eq(len(e["payload"]), e["captured_len"], "line %d: payload length" % n)
    else:
        eq(e["payload"], "", "line %d: payload of a %s" % (n, e["event_type"]))
    if e["event_type"] == "connect":
        expect("result" in e, "line %d: connect without result" % n)
    return e


def load(httpcap, path):
    if httpcap == "-":
        with open(path, "rb") as f:
            out = f.read().decode("utf-8")
        return [check_line(i + 1, l) for i, l in enumerate(out.splitlines())], ""
    p = subprocess.run([httpcap, "-r", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    out = p.stdout.decode("utf-8")   # must be valid UTF-8: raises otherwise
    err = p.stderr.decode("utf-8", "replace")
    expect(p.returncode == 0, "httpcap -r %s exited %d" % (path, p.returncode), err)
    ev = [check_line(i + 1, l) for i, l in enumerate(out.splitlines())]
    return ev, err


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    httpcap, path, code = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        ev, err = load(httpcap, path)

        def sel(evs=None, **kw):
            out = []
            for e in (ev if evs is None else evs):
                ok = True
                for k, v in kw.items():
                    if callable(v):
                        ok = ok and v(e.get(k))
                    else:
                        ok = ok and e.get(k) == v
                if ok:
                    out.append(e)
            return out

        def server_requests(evs):
            reqs = {}
            for e in evs:
                if e["event_type"] == "read" and e["request_id"] is not None \
                        and e["request_id"] not in reqs:
                    reqs[e["request_id"]] = e
            return reqs

        def total(evs):
            return sum(e["payload_len"] for e in evs)

        env = {"ev": ev, "args": sys.argv[4:], "stderr": err, "sel": sel, "expect": expect,
               "eq": eq, "server_requests": server_requests, "total": total, "json": json,
               "re": re}
        exec(compile(code, "<check>", "exec"), env)
    except CheckFailed as e:
        sys.stderr.write("check failed: %s\n" % e)
        return 1
    except subprocess.TimeoutExpired:
        sys.stderr.write("check failed: httpcap -r %s took more than 300 s\n" % path)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
