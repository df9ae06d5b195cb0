#!/usr/bin/env python3
# otlp_check.py - checks an OTLP/JSON trace export against the OTLP
# specification (opentelemetry-proto, docs/specification.md "JSON Protobuf
# Encoding", and opentelemetry/proto/trace/v1/trace.proto,
# common/v1/common.proto, resource/v1/resource.proto) and against the
# database httpanalyze exported it from.  Written from the spec with the
# json module only: it shares no code with the exporter.
#
#   otlp_check.py --requests R.json --calls C.json [--traceparent ID=TRACE:SPAN]... FILE
#
# FILE: ExportTraceServiceRequest objects, one per line.  R.json, C.json:
# `httpanalyze sql --format json` rows of the requests (request_id,
# parent_call_id, method, path, status, service, host, pid, server_port,
# start_ns, end_ns) and calls (call_id, request_id, protocol, name, status,
# remote_ip, remote_port, service, pid) expected in the export, exactly
# (service: services.service of the row's process, the service.name).
import argparse
import json
import re
import sys

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
U64 = re.compile(r"^[0-9]+$")
I64 = re.compile(r"^-?[0-9]+$")
# message Span field names in lowerCamelCase (trace.proto)
SPAN_FIELDS = {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
               "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
               "events", "droppedEventsCount", "links", "droppedLinksCount", "status"}
ANY_VALUE = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue",
             "kvlistValue", "bytesValue"}
errors = []


def err(msg):
    if len(errors) < 40:
        errors.append(msg)


def attrs(lst, where):
    """KeyValue list -> dict of python values, checking AnyValue's shape."""
    out = {}
    if not isinstance(lst, list):
        err("%s: attributes is not a list" % where)
        return out
    for kv in lst:
        if set(kv) - {"key", "value"} or not isinstance(kv.get("key"), str):
            err("%s: bad KeyValue %r" % (where, kv))
            continue
        v = kv["value"]
        if not isinstance(v, dict) or len(v) != 1 or set(v) - ANY_VALUE:
            err("%s: %s: AnyValue must hold one of %s: %r" % (where, kv["key"], ANY_VALUE, v))
            continue
        (t, x), = v.items()
        if t == "intValue":
            # int64 in the proto3 JSON mapping: a decimal string
            if not isinstance(x, str) or not I64.match(x):
                err("%s: %s: intValue %r is not a decimal string" % (where, kv["key"], x))
                continue
            x = int(x)
        elif t == "stringValue" and not isinstance(x, str):
            err("%s: %s: stringValue %r" % (where, kv["key"], x))
        elif t == "boolValue" and not isinstance(x, bool):
            err("%s: %s: boolValue %r" % (where, kv["key"], x))
        if kv["key"] in out:
            err("%s: attribute %s twice" % (where, kv["key"]))
        out[kv["key"]] = x
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--traceparent", action="append", default=[])
    ap.add_argument("file")
    a = ap.parse_args()
    reqs = {r["request_id"]: r for r in map(json.loads, open(a.requests, encoding="utf-8"))}
    calls = {c["call_id"]: c for c in map(json.loads, open(a.calls, encoding="utf-8"))}

    spans = []  # (resource attrs, span, span attrs)
    for n, line in enumerate(open(a.file, encoding="utf-8"), 1):
        req = json.loads(line)
        if set(req) != {"resourceSpans"} or not isinstance(req["resourceSpans"], list):
            err("line %d: not an ExportTraceServiceRequest: keys %r" % (n, list(req)))
            continue
        for rs in req["resourceSpans"]:
            if set(rs) - {"resource", "scopeSpans", "schemaUrl"}:
                err("line %d: ResourceSpans keys %r" % (n, list(rs)))
            res = attrs(rs.get("resource", {}).get("attributes", []), "resource")
            for k, t in (("service.name", str), ("host.name", str), ("process.pid", int)):
                if not isinstance(res.get(k), t):
                    err("line %d: resource %s missing or not %s" % (n, k, t.__name__))
            for ss in rs.get("scopeSpans", []):
                if not isinstance(ss.get("scope", {}).get("name"), str):
                    err("line %d: scope without a name" % n)
                for s in ss.get("spans", []):
                    where = "span %s" % s.get("spanId")
                    if set(s) - SPAN_FIELDS:
                        err("%s: unknown fields %r" % (where, set(s) - SPAN_FIELDS))
                    if not HEX32.match(s.get("traceId", "")) or s["traceId"] == "0" * 32:
                        err("%s: traceId %r: want 32 lowercase hex digits, not all zero" % (where, s.get("traceId")))
                    if not HEX16.match(s.get("spanId", "")) or s["spanId"] == "0" * 16:
                        err("%s: spanId: want 16 lowercase hex digits, not all zero" % where)
                    if "parentSpanId" in s and not HEX16.match(s["parentSpanId"]):
                        err("%s: parentSpanId %r" % (where, s["parentSpanId"]))
                    if not isinstance(s.get("name"), str) or not s["name"]:
                        err("%s: no name" % where)
                    if s.get("kind") not in (0, 1, 2, 3, 4, 5):
                        err("%s: kind %r is not a SpanKind number" % (where, s.get("kind")))
                    for k in ("startTimeUnixNano", "endTimeUnixNano"):
                        if not isinstance(s.get(k), str) or not U64.match(s[k]):
                            err("%s: %s %r is not a decimal string" % (where, k, s.get(k)))
                    if int(s.get("endTimeUnixNano", "0")) < int(s.get("startTimeUnixNano", "0")):
                        err("%s: ends before it starts" % where)
                    st = s.get("status")
                    if st is not None and (set(st) - {"code", "message"} or st.get("code", 0) not in (0, 1, 2)):
                        err("%s: status %r" % (where, st))
                    spans.append((res, s, attrs(s.get("attributes", []), where)))

    ids = [s["spanId"] for _, s, _ in spans]
    if len(set(ids)) != len(ids):
        err("span ids are not unique")
    server = {sa.get("httpcap.request_id"): (r, s, sa) for r, s, sa in spans if s.get("kind") == 2}
    client = {sa.get("httpcap.call_id"): (r, s, sa) for r, s, sa in spans if s.get("kind") == 3}
    if len(server) + len(client) != len(spans):
        err("%d spans are neither a request's SERVER span nor a call's CLIENT span"
            % (len(spans) - len(server) - len(client)))
    if set(server) != set(reqs):
        err("server spans: %d, requests: %d (missing %r, extra %r)" % (
            len(server), len(reqs), sorted(set(reqs) - set(server))[:5], sorted(set(server) - set(reqs))[:5]))
    if set(client) != set(calls):
        err("client spans: %d, calls: %d (missing %r, extra %r)" % (
            len(client), len(calls), sorted(set(calls) - set(client))[:5], sorted(set(client) - set(calls))[:5]))

    def same(where, got, want):
        if got != want:
            err("%s: %r, want %r" % (where, got, want))

    for rid, q in reqs.items():
        if rid not in server:
            continue
        res, s, sa = server[rid]
        w = "request %d" % rid
        same(w + " service.name", res.get("service.name"), q["service"])
        same(w + " host.name", res.get("host.name"), q["host"])
        same(w + " process.pid", res.get("process.pid"), q["pid"])
        same(w + " http.request.method", sa.get("http.request.method"), q["method"])
        same(w + " url.path", sa.get("url.path"), q["path"].split("?")[0].split("#")[0])
        same(w + " http.response.status_code", sa.get("http.response.status_code"), q["status"])
        same(w + " server.port", sa.get("server.port"), q["server_port"])
        same(w + " start", int(s["startTimeUnixNano"]), q["start_ns"])
        same(w + " end", int(s["endTimeUnixNano"]), q["end_ns"] if q["end_ns"] is not None else q["start_ns"])
        failed = q["status"] is None or q["status"] >= 500
        same(w + " status error", s.get("status", {}).get("code") == 2, failed)
        # the link: a request is the child of the call that became it
        pc = q["parent_call_id"]
        if pc is not None and pc in client:
            same(w + " parentSpanId (call %d)" % pc, s.get("parentSpanId"), client[pc][1]["spanId"])
            same(w + " traceId (call %d)" % pc, s["traceId"], client[pc][1]["traceId"])
    for cid, c in calls.items():
        if cid not in client:
            continue
        res, s, sa = client[cid]
        w = "call %d" % cid
        same(w + " service.name", res.get("service.name"), c["service"])
        same(w + " process.pid", res.get("process.pid"), c["pid"])
        same(w + " server.address", sa.get("server.address"), c["remote_ip"])
        same(w + " server.port", sa.get("server.port"), c["remote_port"])
        if c["protocol"] in ("redis", "postgres"):
            same(w + " db.system", sa.get("db.system"), {"redis": "redis", "postgres": "postgresql"}[c["protocol"]])
            same(w + " db.operation.name", sa.get("db.operation.name"), c["name"])
        if c["protocol"] == "http":
            if "http.request.method" not in sa:
                err(w + ": no http.request.method")
            same(w + " http.response.status_code", sa.get("http.response.status_code"), c["status"])
        if c["status"] is not None and c["status"] >= 400:
            same(w + " status error", s.get("status", {}).get("code"), 2)
        rid = c["request_id"]
        if rid is not None and rid in server:
            same(w + " parentSpanId (request %d)" % rid, s.get("parentSpanId"), server[rid][1]["spanId"])
            same(w + " traceId (request %d)" % rid, s["traceId"], server[rid][1]["traceId"])
        elif rid is None and c["call_id"] in calls and "parentSpanId" in s:
            # a root call: a parent only from a propagated traceparent
            pass
    for tp in a.traceparent:
        rid, rest = tp.split("=")
        trace, parent = rest.split(":")
        rid = int(rid)
        if rid not in server:
            err("traceparent: no span for request %d" % rid)
            continue
        s = server[rid][1]
        same("request %d traceId (traceparent)" % rid, s["traceId"], trace)
        same("request %d parentSpanId (traceparent)" % rid, s.get("parentSpanId"), parent)
        # every span linked under it shares the trace
        n = sum(1 for _, x, _ in spans if x["traceId"] == trace)
        if n < 2:
            err("traceparent: only %d span in trace %s" % (n, trace))
    if errors:
        print("\n".join(errors))
        return 1
    print("otlp_check: %d spans (%d server, %d client) valid, parents as the links" % (
        len(spans), len(server), len(client)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
