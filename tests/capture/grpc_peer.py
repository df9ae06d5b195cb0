#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""grpc_peer.py - a gRPC server and client for httpcap's HTTP/2 tests.

usage: grpc_peer.py server PORT
       grpc_peer.py client PORT N      (N unary calls, then the others)
       grpc_peer.py front PORT UPSTREAM_PORT
                                       (a gRPC server whose Relay method
                                        calls Echo/Say on UPSTREAM_PORT)

No generated code: generic handlers with raw bytes (Debian's python3-grpcio
alone).  Service demo.Echo:
  Say      unary: answers "echo:" + the request
  Count    server streaming: the request is a count n, answers n messages
  Sum      client streaming: answers the total length of what it got
  Fail     unary: fails with NOT_FOUND and the message "no such thing"
  Relay    unary (front only): calls Say upstream, answers its answer
The client prints one JSON line of what it did and got.
"""
import json
import sys
from concurrent import futures

import grpc

SVC = "demo.Echo"


def ident(b):
    return b


def serve(port, upstream=None):
    def say(req, ctx):
        return b"echo:" + req

    def count(req, ctx):
        for i in range(int(req.decode())):
            yield b"item-%d" % i

    def total(reqs, ctx):
        return str(sum(len(r) for r in reqs)).encode()

    def fail(req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(say, ident, ident),
        "Count": grpc.unary_stream_rpc_method_handler(count, ident, ident),
        "Sum": grpc.stream_unary_rpc_method_handler(total, ident, ident),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, ident, ident),
    }
    if upstream:
        ch = grpc.insecure_channel("127.0.0.1:%d" % upstream)
        up = ch.unary_unary("/%s/Say" % SVC, request_serializer=ident, response_deserializer=ident)

        def relay(req, ctx):
            return up(req, timeout=10)

        handlers["Relay"] = grpc.unary_unary_rpc_method_handler(relay, ident, ident)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SVC, handlers),))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def client(port, n):
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(ch).result(timeout=10)
    say = ch.unary_unary("/%s/Say" % SVC, request_serializer=ident, response_deserializer=ident)
    count = ch.unary_stream("/%s/Count" % SVC, request_serializer=ident, response_deserializer=ident)
    tot = ch.stream_unary("/%s/Sum" % SVC, request_serializer=ident, response_deserializer=ident)
    fail = ch.unary_unary("/%s/Fail" % SVC, request_serializer=ident, response_deserializer=ident)
    out = {"say_ok": 0}
    for i in range(n):
        if say(b"hello-%d" % i, timeout=10) == b"echo:hello-%d" % i:
            out["say_ok"] += 1
    out["count_items"] = len(list(count(b"5", timeout=10)))
    out["sum"] = int(tot(iter([b"aaa", b"bbbb", b"c"]), timeout=10).decode())
    try:
        fail(b"x", timeout=10)
        out["fail_code"] = "OK"
    except grpc.RpcError as err:
        out["fail_code"] = err.code().name
        out["fail_message"] = err.details()
    if "relay" in sys.argv[4:]:
        relay = ch.unary_unary("/%s/Relay" % SVC, request_serializer=ident, response_deserializer=ident)
        out["relay"] = relay(b"via-front", timeout=10).decode()
    ch.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "front":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        client(int(sys.argv[2]), int(sys.argv[3]))
