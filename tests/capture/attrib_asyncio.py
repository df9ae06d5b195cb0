#!/usr/bin/env python3
"""tests/capture/attrib_asyncio.py - a single-threaded asyncio front for the
attribution tests (e2e_attrib_asyncio.sh, issue 14): one event loop serves
several requests at once; each request makes a Redis call (INCR of its
X-Tag) and an HTTP call to the backend (passing the X-Tag on), on pooled
keep-alive connections shared by all requests, with small awaits between,
so that requests interleave on the one thread.

  attrib_asyncio.py FRONT_PORT BACKEND_PORT REDIS_PORT
"""
import asyncio
import random
import sys


class Pool:
    """Keep-alive connections, opened on demand (after the capture started:
    a connection older than the capture is not linked), up to n; any
    request takes any free one."""

    def __init__(self, port, n):
        self.port, self.free, self.n, self.opened = port, asyncio.Queue(), n, 0

    async def take(self):
        if self.free.empty() and self.opened < self.n:
            self.opened += 1
            return await asyncio.open_connection("127.0.0.1", self.port)
        return await self.free.get()

    def give(self, rw):
        self.free.put_nowait(rw)


async def redis_incr(pool, key):
    r, w = await pool.take()
    k = key.encode()
    w.write(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(k), k))
    await w.drain()
    line = await r.readline()
    pool.give((r, w))
    if not line.startswith(b":"):
        raise RuntimeError("redis: %r" % line)


async def backend_get(pool, path, tag):
    r, w = await pool.take()
    w.write(("GET %s HTTP/1.1\r\nHost: backend\r\nX-Tag: %s\r\n\r\n" % (path, tag)).encode())
    await w.drain()
    length = 0
    status = await r.readline()
    while True:
        line = await r.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    await r.readexactly(length)
    pool.give((r, w))
    if b" 200 " not in status:
        raise RuntimeError("backend: %r" % status)


async def handle(reader, writer, redis, back):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            path = line.split()[1].decode()
            tag = "?"
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                if name.strip().lower() == "x-tag":
                    tag = value.strip()
            await asyncio.sleep(random.random() * 0.002)
            await redis_incr(redis, "hits:" + tag)
            await asyncio.sleep(random.random() * 0.002)
            await backend_get(back, "/b" + path, tag)
            body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (ConnectionError, IndexError):
        pass
    writer.close()


async def main(front, backend, redis_port):
    redis, back = Pool(redis_port, 4), Pool(backend, 4)
    srv = await asyncio.start_server(lambda r, w: handle(r, w, redis, back), "127.0.0.1", front)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
