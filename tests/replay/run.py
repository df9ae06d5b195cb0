#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run.py - httpreplay's end-to-end tests against real local servers.

Captures written by mkcaptures (the tests/lib fixture builder) are replayed
by httpreplay against tests/replay/server.py on 127.0.0.1, which logs what
it receives.  Checked: a faithful replay has zero mismatches; a server
changed on purpose has exactly its two mismatches reported; timing at
--speed 1 and 2; unsafe methods; bodies not fully captured; redacted
headers; keep-alive; filters, rewriting, output formats, dry run; and the
clear errors for bad flags, URL, files and an unreachable target.

Ports 20700-20709 (20709 is kept closed: the unreachable target).
Environment: HTTPREPLAY, MKCAPTURES (paths of the binaries).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPLAY = os.environ.get("HTTPREPLAY", "build/san/httpreplay")
MKCAP = os.environ.get("MKCAPTURES", "build/tests/replay/mkcaptures")
PORT_OK, PORT_MUT, PORT_TLS, PORT_CLOSED = 20701, 20702, 20703, 20709
CMD_TIMEOUT = 60        # seconds, any one httpreplay run

# Timing tolerance: the timing capture's gaps sum to 2.0 s.  A replay may
# not be faster than the schedule (minus 50 ms of clock rounding), and on a
# loaded 2-core CI machine may be late by up to 1.0 s (--speed 1) / 0.6 s
# (--speed 2).  Generous on purpose: a behaviour test, not a benchmark.
TIMING = {"1": (1.95, 3.0), "2": (0.95, 1.6)}

failures = []
passed = 0


def check(cond, what, detail=""):
    global passed
    if cond:
        passed += 1
        print(f"ok - {what}")
    else:
        failures.append(what)
        print(f"FAIL - {what}" + (f"\n    {detail}" if detail else ""))


def replay(*args, timeout=CMD_TIMEOUT):
    try:
        p = subprocess.run([REPLAY, *args], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode("utf-8", "replace"), \
            f"httpreplay timed out after {timeout} s: {' '.join(args)}"
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def jlines(out):
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    reqs = [r for r in recs if r.get("type") == "request"]
    summ = [r for r in recs if r.get("type") == "summary"]
    return reqs, (summ[-1] if summ else {})


class Server:
    def __init__(self, port, log, mutate=False, tls=None):
        self.log = log
        args = [sys.executable, os.path.join(HERE, "server.py"), str(port), log]
        if mutate:
            args.append("--mutate")
        if tls:
            args += ["--tls", *tls]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE)
        # bounded wait for "ready"
        line = self.p.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"server on port {port} did not start")

    def entries(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip()]

    def clear(self):
        open(self.log, "w").close()

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=5)


def hdr(entry, name):
    vals = [v for k, v in entry["headers"] if k.lower() == name.lower()]
    return vals[0] if vals else None


def main():
    tmp = tempfile.mkdtemp(prefix="replay-test-")
    servers = []
    try:
        subprocess.run([MKCAP, tmp], check=True, timeout=30)
        cap = {n: os.path.join(tmp, n + ".htc")
               for n in ("basic", "timing", "partial", "redacted", "hostile",
                          "hostile_line", "offset")}
        ok = Server(PORT_OK, os.path.join(tmp, "ok.log"))
        servers.append(ok)
        mut = Server(PORT_MUT, os.path.join(tmp, "mut.log"), mutate=True)
        servers.append(mut)
        # the closed port really is closed
        with socket.socket() as s:
            closed = s.connect_ex(("127.0.0.1", PORT_CLOSED)) != 0
        check(closed, f"port {PORT_CLOSED} is closed (unreachable target)")
        T_OK = f"http://127.0.0.1:{PORT_OK}"
        T_MUT = f"http://127.0.0.1:{PORT_MUT}"

        faithful(cap, ok, T_OK)
        safety(cap, ok, T_OK)
        mutated(cap, T_MUT)
        keepalive(cap, ok, T_OK)
        timing(cap, T_OK)
        interrupt(cap, ok, T_OK)
        partial(cap, ok, T_OK)
        redacted(cap, ok, T_OK)
        rewriting(cap, ok, T_OK)
        selection(cap, ok, T_OK)
        formats(cap, T_OK, T_MUT)
        dry_run(cap, ok)
        streams(cap, tmp)
        offset(cap)
        hostile(cap, ok, T_OK)
        errors(cap, T_OK)
        https(cap, tmp, servers)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {len(failures)} failed")
    if failures:
        print("failed: " + "; ".join(failures))
        return 1
    return 0


def replay_stdin(data, *args, timeout=CMD_TIMEOUT):
    try:
        p = subprocess.run([REPLAY, *args], input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "", f"httpreplay timed out after {timeout} s: {' '.join(args)}"
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def streams(cap, tmp):
    """A capture read from a FIFO, a pipe or stdin ('-') is read once: the
    same dry run as from the file, no hang (issue 21)."""
    import threading
    want = replay("--dry-run", "--format", "json", cap["basic"])
    with open(cap["basic"], "rb") as f:
        data = f.read()
    fifo = os.path.join(tmp, "basic.fifo")
    os.mkfifo(fifo)

    def feed():
        try:
            with open(fifo, "wb") as w:
                w.write(data)
        except OSError:
            pass
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    got = replay("--dry-run", "--format", "json", fifo, timeout=20)
    if got[0] == -1:
        # unblock the writer if httpreplay never opened the FIFO
        try:
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
    t.join(5)
    check(want[0] == 0 and got[0] == 0 and got[1] == want[1],
          "a FIFO is read once: the same dry run as the file", got[2])
    for name, args in (("stdin '-'", ["-"]), ("/dev/stdin (a pipe)", ["/dev/stdin"])):
        got = replay_stdin(data, "--dry-run", "--format", "json", *args, timeout=20)
        check(got[0] == 0 and got[1] == want[1], f"{name}: the same dry run as the file", got[2])
    env_tmp = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = os.path.join(tmp, "no-such-dir")
    try:
        got = replay_stdin(data, "--dry-run", "-", timeout=20)
    finally:
        if env_tmp is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = env_tmp
    check(got[0] != 0 and "cannot copy the stream '-'" in got[2],
          "stdin with no room for its copy: a clear error", got[2])


def faithful(cap, ok, target):
    ok.clear()
    # --concurrency 1: one request at a time, so the server sees the order
    rc, out, err = replay(cap["basic"], "--target", target, "--allow-unsafe", "-c", "1",
                          "--speed", "max", "--format", "json", "-v", "--max-mismatch", "0")
    reqs, s = jlines(out)
    check(rc == 0, "faithful replay: exit 0 with --max-mismatch 0", f"rc={rc} err={err}")
    check(s.get("sent") == 9 and s.get("mismatched") == 0 and s.get("errors") == 0,
          "faithful replay: 9 sent, zero mismatches", json.dumps(s))
    check(s.get("bodies_compared", 0) >= 6, "faithful replay: bodies compared",
          json.dumps(s))
    check([r["request_id"] for r in reqs] == list(range(1001, 1010)),
          "faithful replay: every request listed with -v, in captured order")
    got = ok.entries()
    check([(e["method"], e["path"]) for e in got] == [
        ("GET", "/a"), ("GET", "/b"), ("GET", "/c"), ("HEAD", "/a"), ("OPTIONS", "/a"),
        ("GET", "/a?x=1&y=%20"), ("POST", "/echo"), ("PUT", "/echo"), ("DELETE", "/item/1")],
        "server saw the captured requests in order, query as captured",
        str([(e["method"], e["path"]) for e in got]))
    if len(got) == 9:
        first, post, put = got[0], got[6], got[7]
        check(hdr(first, "X-Trace") == "t-1" and hdr(first, "User-Agent") == "fixture/1"
              and hdr(first, "Host") == "app.example",
              "end-to-end headers sent as captured (Host kept)", str(first["headers"]))
        check(hdr(first, "X-Hop") is None and hdr(first, "Keep-Alive") is None,
              "hop-by-hop headers (Keep-Alive, named by Connection) not sent",
              str(first["headers"]))
        check(post["body"] == "name=x" and hdr(post, "Content-Length") == "6"
              and hdr(post, "Content-Type") == "application/x-www-form-urlencoded",
              "POST body and Content-Type sent, Content-Length computed", str(post))
        check(put["body"] == "hello" and hdr(put, "Content-Length") == "5"
              and hdr(put, "Transfer-Encoding") is None,
              "chunked body re-sent whole with a Content-Length", str(put))
        check(all(hdr(e, "Expect") is None for e in got)
              and hdr(got[1], "Accept") is None,
              "no libcurl defaults added (Accept, Expect)", str(got[1]["headers"]))


def safety(cap, ok, target):
    ok.clear()
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max", "--format", "json")
    _, s = jlines(out)
    check(rc == 0 and s.get("skipped", {}).get("unsafe_method") == 3 and s.get("sent") == 6,
          "without --allow-unsafe: POST, PUT, DELETE skipped and counted", json.dumps(s))
    check(err.count("--allow-unsafe") == 1, "unsafe skip explained once", err)
    check(not any(e["method"] in ("POST", "PUT", "DELETE") for e in ok.entries()),
          "no unsafe method reached the server")


def mutated(cap, target):
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max",
                          "--format", "json", "--max-mismatch", "0")
    reqs, s = jlines(out)
    listed = sorted((r["request_id"], r["result"]) for r in reqs)
    check(rc == 1, "changed server: exit 1 when over --max-mismatch", f"rc={rc} {err}")
    check(listed == [(1002, "body_mismatch"), (1003, "status_mismatch")],
          "changed server: exactly /b (body) and /c (status) reported", str(listed))
    r3 = [r for r in reqs if r["request_id"] == 1003]
    check(r3 and r3[0]["captured_status"] == 404 and r3[0]["replayed_status"] == 500,
          "status mismatch shows 404 captured beside 500 replayed", str(r3))
    r2 = [r for r in reqs if r["request_id"] == 1002]
    check(r2 and r2[0]["captured_body_len"] == 6 and r2[0]["replayed_body_len"] == 7
          and r2[0]["captured_body_fnv"] != r2[0]["replayed_body_fnv"],
          "body mismatch shows both digests and lengths", str(r2))
    check(s.get("status_mismatches") == 1 and s.get("body_differences") == 1
          and s.get("mismatched") == 2, "summary counts one status and one body mismatch",
          json.dumps(s))
    rc, _, _ = replay(cap["basic"], "--target", target, "--speed", "max", "--max-mismatch", "2")
    check(rc == 0, "changed server: exit 0 when within --max-mismatch 2")
    rc, out, _ = replay(cap["basic"], "--target", target, "--speed", "max")
    check(rc == 0 and "status mismatches   1" in out and "body differences    1" in out
          and "/b" in out and "/c" in out,
          "table report lists both mismatches and the summary", out)


def keepalive(cap, ok, target):
    ok.clear()
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max",
                          "--concurrency", "1", "--allow-unsafe")
    ports = {e["port"] for e in ok.entries()}
    check(rc == 0 and len(ok.entries()) == 9 and len(ports) == 1,
          "--concurrency 1: all 9 requests over one kept-alive connection", str(ports))
    ok.clear()
    rc, out, err = replay(cap["timing"], "--target", target, "--speed", "max",
                          "--concurrency", "2")
    ports = {e["port"] for e in ok.entries()}
    check(rc == 0 and len(ok.entries()) == 5 and len(ports) <= 2,
          "--concurrency 2: at most 2 connections", str(ports))


def elapsed_of(args):
    t0 = time.monotonic()
    rc, out, err = replay(*args)
    wall = time.monotonic() - t0
    _, s = jlines(out)
    return rc, s.get("elapsed_s", -1), wall, s


def timing(cap, target):
    base = [cap["timing"], "--target", target, "--format", "json", "--max-mismatch", "0"]
    for speed, (lo, hi) in TIMING.items():
        rc, el, wall, s = elapsed_of(base + ["--speed", speed])
        check(rc == 0 and lo <= el <= hi and s.get("sent") == 5,
              f"--speed {speed}: 2.0 s of captured gaps replayed in {el:.3f} s "
              f"(allowed {lo}-{hi} s; wall {wall:.3f} s)", json.dumps(s))
    rc, el, wall, s = elapsed_of(base + ["--speed", "max"])
    check(rc == 0 and el < 0.9, f"--speed max: {el:.3f} s (< 0.9 s)", json.dumps(s))
    # --rate 10/s: 5 starts need at least 0.4 s even at --speed max
    rc, el, wall, s = elapsed_of(base + ["--speed", "max", "--rate", "10"])
    check(rc == 0 and 0.39 <= el <= 2.0, f"--rate 10: 5 requests in {el:.3f} s (0.39-2.0 s)",
          json.dumps(s))


def interrupt(cap, ok, target):
    # SIGINT 0.2 s after the first request reached the server, in a 2 s
    # schedule (starts at 0, 0.5, 1, 1.5, 2 s): no more starts, a report of
    # what was sent (1, or 2 on a slow machine), and the process ends.
    ok.clear()
    p = subprocess.Popen([REPLAY, cap["timing"], "--target", target, "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not ok.entries() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    _, s = jlines(out.decode())
    check(p.returncode == 0 and 1 <= s.get("sent", 0) <= 2 and s.get("selected") == 5
          and b"interrupted" in err,
          "Ctrl-C: sending stops, the report covers what was sent",
          f"rc={p.returncode} {json.dumps(s)} {err.decode()}")


def partial(cap, ok, target):
    ok.clear()
    rc, out, err = replay(cap["partial"], "--target", target, "--allow-unsafe",
                          "--speed", "max", "--format", "json", "-v")
    reqs, s = jlines(out)
    check(rc == 0 and s.get("skipped", {}).get("body_not_captured") == 3 and s.get("sent") == 3
          and s.get("mismatched") == 0,
          "bodies cut by snaplen or a drop: skipped and counted, others sent (a response"
          " past the snaplen does not stop its request)", json.dumps(s) + err)
    check([e["method"] for e in ok.entries()] == ["GET", "GET", "GET"],
          "no truncated body was sent", str(ok.entries()))
    check("not fully captured" in err, "partial skip explained", err)


def redacted(cap, ok, target):
    ok.clear()
    rc, out, err = replay(cap["redacted"], "--target", target, "--speed", "max",
                          "--format", "json", "-v")
    reqs, s = jlines(out)
    got = ok.entries()
    auth = [e for e in got if e["path"] == "/auth"]
    check(auth and hdr(auth[0], "Authorization") is None and hdr(auth[0], "Cookie") is None
          and hdr(auth[0], "X-Trace") == "t-9",
          "redacted Authorization and Cookie not sent; other headers are",
          str(auth[0]["headers"] if auth else got))
    check(not any("*" * 4 in v for e in got for _, v in e["headers"]),
          "no '*' placeholder ever reached the server")
    check(s.get("redacted_headers_dropped") == 1 and "redacted at capture" in err,
          "redacted headers dropped: counted and said", json.dumps(s) + err)
    r = [q for q in reqs if q["request_id"] == 1001]
    check(r and r[0]["result"] == "status_mismatch" and r[0]["replayed_status"] == 401,
          "without credentials the server answers 401: reported as a mismatch", str(r))
    ok.clear()
    rc, out, err = replay(cap["redacted"], "--target", target, "--speed", "max",
                          "--format", "json", "-H", "Authorization: Bearer good",
                          "--max-mismatch", "0")
    _, s = jlines(out)
    auth = [e for e in ok.entries() if e["path"] == "/auth"]
    check(rc == 0 and auth and hdr(auth[0], "Authorization") == "Bearer good"
          and s.get("mismatched") == 0,
          "--header supplies the redacted value: sent, zero mismatches", json.dumps(s))


def rewriting(cap, ok, target):
    ok.clear()
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max", "-c", "1",
                          "--path", "/a", "--method", "GET",
                          "--host", "staging.example", "-H", "X-Trace: replaced",
                          "-H", "X-New: 1", "--drop-header", "user-agent")
    got = ok.entries()
    check(rc == 0 and [e["path"] for e in got] == ["/a", "/a?x=1&y=%20"],
          "--path /a --method GET selects GET /a, with and without a query",
          str(got) + err)
    if got:
        e = got[0]
        check(hdr(e, "Host") == "staging.example", "--host rewrites Host", str(e["headers"]))
        check(hdr(e, "X-Trace") == "replaced" and hdr(e, "X-New") == "1"
              and [k.lower() for k, _ in e["headers"]].count("x-trace") == 1,
              "--header replaces and adds", str(e["headers"]))
        check(hdr(e, "User-Agent") is None, "--drop-header removes", str(e["headers"]))
    ok.clear()
    rc, out, err = replay(cap["basic"], "--target", target + "/prefix", "--speed", "max",
                          "--limit", "1")
    got = ok.entries()
    check(rc == 0 and [e["path"] for e in got] == ["/prefix/a"],
          "target path prefix goes before the captured path; --limit 1", str(got))


def selection(cap, ok, target):
    cases = [
        (["--path", "/a*"], 4, "path glob (query optional)"),
        (["--method", "head,options"], 2, "method list"),
        (["--status", "4xx"], 1, "status class"),
        (["--status", "200,204"], 5, "status list"),
        (["--comm", "web", "--pid", "100"], 6, "comm and pid"),
        (["--comm", "nginx"], 0, "comm that matches nothing"),
        (["--since", "+20ms", "--until", "+0.045s"], 3, "relative time window"),
        (["--since", "20", "--until", "45"], 3, "bare numbers are ms, as httpanalyze"),
        (["--since", "2025-11-25T20:00:01.03Z"], 3, "absolute --since (RFC 3339)"),
        (["--limit", "2"], 2, "--limit"),
    ]
    for args, want, why in cases:
        ok.clear()
        rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max", *args)
        n = len(ok.entries())
        check(rc == 0 and n == want, f"selection {why}: {want} sent", f"got {n} rc={rc} {err}")


def formats(cap, t_ok, t_mut):
    rc, out, err = replay(cap["basic"], "--target", t_mut, "--speed", "max", "--format", "csv")
    lines = out.splitlines()
    check(rc == 0 and lines and lines[0].startswith("request_id,method,path,result")
          and len(lines) == 3 and "mismatched requests 2" in err,
          "csv: header, one row per mismatch, summary on stderr", out + err)
    rc, out, err = replay(cap["basic"], "--target", t_ok, "--speed", "max", "--format", "json")
    try:
        recs = [json.loads(l) for l in out.splitlines()]
        valid = recs[-1]["type"] == "summary"
    except (ValueError, KeyError, IndexError):
        valid = False
    check(rc == 0 and valid, "json: valid lines ending with the summary", out)
    s = recs[-1] if valid else {}
    check(s.get("latency_ms", {}).get("captured_p50", 0) > 0
          and s.get("latency_ratio_p50", 0) > 0 and "latency_ratio_p99" in s,
          "json summary has latency p50/p99 and their ratio", json.dumps(s))


def dry_run(cap, ok):
    ok.clear()
    rc, out, err = replay(cap["redacted"], "--dry-run")
    check(rc == 0 and "GET /auth HTTP/1.1" in out and "X-Trace: t-9" in out
          and "not sent (redacted at capture): Authorization" in out and "****" not in out,
          "--dry-run lists the request, says which redacted headers are left out", out)
    check(ok.entries() == [], "--dry-run sends nothing")
    rc, out, err = replay(cap["basic"], "--dry-run", "--allow-unsafe", "--method", "PUT")
    check(rc == 0 and "Content-Length: 5" in out and "hello" in out
          and "Transfer-Encoding" not in out, "--dry-run shows the re-framed body", out)


def raw_bytes_in(text):
    """Whether printed text holds a control byte or a byte that was not
    valid UTF-8 (decoded as U+FFFD): what escaping must prevent."""
    return any(ch in text for ch in "\x1b\x07\ufffd\x80\xff")


def offset(cap):
    """A realtime offset near INT64_MAX in the header: no overflow (UBSan
    halts this build on one), the request still found (issue 21)."""
    rc, out, err = replay("--dry-run", "--since", "+0s", cap["offset"],
                          timeout=15)
    check(rc == 0 and "GET /a HTTP/1.1" in out, "absurd realtime offset: read, no overflow",
          f"rc={rc} {err}")


def hostile(cap, ok, target):
    # Bytes >= 0x80 in a path and a header value go to the server as
    # captured and are printed escaped.  Control bytes in a head: the engine
    # rejects such a head (no request reported); were it reported, the
    # request line would be refused as unsendable, the header sent; either
    # way nothing raw is printed.  Each run is bounded (15 s).
    ok.clear()
    rc, out, err = replay(cap["hostile"], "--target", target, "--speed", "max", "-v",
                          "--format", "json", "--max-mismatch", "0", timeout=15)
    got = ok.entries()
    check(rc == 0 and not raw_bytes_in(out + err)
          and '"/caf\u00e9\\u00ff?q=\\u0080"' in out,
          "high bytes in a path: JSON output keeps UTF-8, escapes the rest (\\u00NN)",
          out + err)
    first = [e for e in got if e["path"].startswith("/caf")]
    check(first and first[0]["path"] == "/caf\xc3\xa9\xff?q=\x80"
          and hdr(first[0], "X-Bin") == "\xff\x80",
          "path and header bytes go to the server exactly as captured", str(got))
    rc, out, err = replay(cap["hostile"], "--dry-run", timeout=15)
    check(rc == 0 and not raw_bytes_in(out + err) and "/caf\u00e9\\xff?q=\\x80" in out
          and "X-Bin: \\xff\\x80" in out,
          "--dry-run shows UTF-8 and escapes the other bytes (\\xNN)", out)
    rc, out, err = replay(cap["hostile"], "--target", target, "--speed", "max", "-v",
                          timeout=15)
    check(rc == 0 and not raw_bytes_in(out + err), "table output escaped", out + err)
    rc, out, err = replay(cap["hostile"], "--target", target, "--speed", "max", "-v",
                          "--format", "csv", timeout=15)
    check(rc == 0 and not raw_bytes_in(out + err), "csv output escaped", out + err)
    ok.clear()
    rc, out, err = replay(cap["hostile_line"], "--target", target, "--speed", "max", "-v",
                          "--format", "json", timeout=15)
    paths = [e["path"] for e in ok.entries()]
    check(rc == 0 and paths == ["/a"] and not raw_bytes_in(out + err),
          "a request line with control bytes is never sent", str(paths) + out + err)


def errors(cap, target):
    bad_flags = [
        ["--speed", "0"], ["--speed", "fast"], ["--concurrency", "0"], ["--concurrency", "x"],
        ["--rate", "-1"], ["--limit", "0"], ["--format", "xml"], ["--status", "abc"],
        ["--since", "yesterday"], ["-H", "NoColon"], ["-H", "Bad Name: v"], ["--bogus"],
        ["--max-mismatch", "-1"], ["--pid", "x"],
    ]
    for args in bad_flags:
        rc, out, err = replay(cap["basic"], "--target", target, *args)
        check(rc == 2 and "httpreplay" in err, f"bad flag {' '.join(args)}: exit 2 with a message",
              f"rc={rc} {err}")
    rc, out, err = replay("--target", target)
    check(rc == 2 and "no capture file" in err, "no file: exit 2", err)
    rc, out, err = replay(cap["basic"])
    check(rc == 2 and "--target" in err, "no target: exit 2", err)
    for url in ["ftp://127.0.0.1/", "not a url", "http://", "http://127.0.0.1:8080/?q=1"]:
        rc, out, err = replay(cap["basic"], "--target", url)
        check(rc == 2 and "bad --target" in err, f"bad URL '{url}': exit 2", err)
    with tempfile.NamedTemporaryFile(suffix=".htc") as f:
        f.write(os.urandom(512))
        f.flush()
        rc, out, err = replay(f.name, "--target", target)
        check(rc == 2 and f.name in err, "random bytes as a capture: exit 2 naming the file", err)
    rc, out, err = replay("/nonexistent/x.htc", "--target", target)
    check(rc == 2 and "/nonexistent/x.htc" in err, "missing file: exit 2 naming it", err)
    with open(cap["basic"], "rb") as f:
        data = f.read()
    with tempfile.NamedTemporaryFile(suffix=".htc") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        rc, out, err = replay(f.name, "--target", target, "--speed", "max")
        check(rc in (0, 2) and "Traceback" not in err and "AddressSanitizer" not in err,
              f"truncated capture: handled (rc {rc})", err)
    rc, out, err = replay(cap["basic"], "--target", f"http://127.0.0.1:{PORT_CLOSED}",
                          "--speed", "max", "--format", "json", "--connect-timeout", "2")
    _, s = jlines(out)
    check(rc == 1 and s.get("errors") == 6 and err.count("Couldn't connect") + 
          err.count("Failed to connect") >= 1 and "none of the 6 requests reached" in err,
          "unreachable target: clear message, every request counted as an error, exit 1",
          json.dumps(s) + err)


def https(cap, tmp, servers):
    # An HTTPS target with a self-signed certificate: refused without -k
    # (a TLS error, counted), replayed with it.
    if not shutil.which("openssl"):
        print("SKIP: https target: no openssl command to make a certificate")
        return
    crt, key = os.path.join(tmp, "t.crt"), os.path.join(tmp, "t.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    tls = Server(PORT_TLS, os.path.join(tmp, "tls.log"), tls=(crt, key))
    servers.append(tls)
    target = f"https://127.0.0.1:{PORT_TLS}"
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max", "--format", "json",
                          "-c", "1")
    _, s = jlines(out)
    check(rc == 1 and s.get("errors") == 6 and "certificate" in err,
          "https, self-signed: TLS errors counted, said once, exit 1", json.dumps(s) + err)
    rc, out, err = replay(cap["basic"], "--target", target, "--speed", "max", "--format", "json",
                          "-k", "--max-mismatch", "0", "-c", "2")
    _, s = jlines(out)
    check(rc == 0 and s.get("sent") == 6 and s.get("mismatched") == 0,
          "https with --insecure: zero mismatches", json.dumps(s) + err)


if __name__ == "__main__":
    sys.exit(main())
