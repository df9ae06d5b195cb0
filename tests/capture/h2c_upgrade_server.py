#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""h2c_upgrade_server.py - an HTTP/1.1 server that upgrades to HTTP/2
(h2c, RFC 7540 section 3.2) when asked, for httpcap's tests.

usage: h2c_upgrade_server.py PORT CONNECTIONS

Debian's python3-h2 does the HTTP/2 side.  Each connection: read the
HTTP/1.1 request; with Upgrade: h2c, answer 101 Switching Protocols and
serve the request as stream 1 over HTTP/2 (then any further streams);
without, answer in HTTP/1.1.  GET /nope is a 404, anything else a 200 with
"ok PATH".  Serves CONNECTIONS connections, one at a time, then exits.
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def answer(path):
    if path == "/nope":
        return 404, b"not here\n"
    return 200, b"ok " + path.encode() + b"\n"


def serve_h2(sock, conn, first_path):
    def respond(sid, path):
        status, body = answer(path)
        conn.send_headers(sid, [(":status", str(status)), ("content-length", str(len(body)))])
        conn.send_data(sid, body, end_stream=True)

    if first_path is not None:
        respond(1, first_path)
    sock.sendall(conn.data_to_send())
    heads = {}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                heads[ev.stream_id] = dict((k.decode() if isinstance(k, bytes) else k,
                                            v.decode() if isinstance(v, bytes) else v)
                                           for k, v in ev.headers)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in heads:
                # the request is whole (its END_STREAM comes as an event
                # of its own, after the headers')
                respond(ev.stream_id, heads.pop(ev.stream_id)[":path"])
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        sock.sendall(conn.data_to_send())


def handle(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
    head, _, _ = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("upgrade", "").lower() == "h2c" and "http2-settings" in hdrs:
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_upgrade_connection(hdrs["http2-settings"])
        serve_h2(sock, conn, path)
    else:
        status, body = answer(path)
        sock.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(body))
                     + body)


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    print("listening", flush=True)
    for _ in range(n):
        s, _ = ls.accept()
        s.settimeout(10)
        try:
            handle(s)
        except (OSError, ValueError) as err:
            print("connection failed: %s" % err, file=sys.stderr, flush=True)
        finally:
            s.close()


if __name__ == "__main__":
    main()
