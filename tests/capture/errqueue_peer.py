#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# errqueue_peer.py PORT: one request and its response on loopback, with a
# peek on the server and, on the client, TX timestamps (SO_TIMESTAMPING)
# whose error-queue message recvmsg(MSG_ERRQUEUE) reads back: the looped
# packet, headers and payload, which is not stream data.  Then bytes the
# server drops with recv(MSG_TRUNC), which copies nothing.  Prints the pid
# and how many bytes the error queue gave and the server dropped.
import socket, sys, select, json, os
SO_TIMESTAMPING = 37
F = (1 << 1) | (1 << 4) | (1 << 7)  # TX_SOFTWARE | SOFTWARE | OPT_ID
port = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", port))
cli.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, F)
c, _ = srv.accept()
req = b"GET /errq HTTP/1.1\r\nHost: x\r\n\r\n"
cli.sendall(req)
got = c.recv(100, socket.MSG_PEEK)
got = c.recv(100)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
n = 0
for _ in range(50):
    select.select([cli], [], [], 0.1)
    try:
        data, anc, fl, _a = cli.recvmsg(4096, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except BlockingIOError:
        continue
    n = len(data)
    break
resp = cli.recv(100)
# TCP's recv(MSG_TRUNC) drops bytes without copying them into the buffer
drop = b"DROPPED-" * 4
cli.sendall(drop)
buf = bytearray(b"STALE---" * 4)	# what an event with a payload would show
dropped = 0
while dropped < len(drop):
    dropped += c.recv_into(buf, len(drop) - dropped, socket.MSG_TRUNC)
print(json.dumps({"pid": os.getpid(), "errqueue_bytes": n, "req": len(req), "resp": len(resp),
                  "dropped": dropped}))
cli.close(); c.close(); srv.close()
