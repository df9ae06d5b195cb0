// SPDX-License-Identifier: MIT
/*
 * mkcaptures.c - write the capture files of httpreplay's end-to-end tests
 * with the tests/lib fixture builder: the traffic a server answering like
 * tests/replay/server.py would have seen, so a replay against that server
 * must match exactly.
 *
 * usage: mkcaptures DIR   (writes DIR/basic.htc, timing.htc, partial.htc,
 *                          redacted.htc, hostile.htc, hostile_line.htc,
 *                          offset.htc)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
/* 2025-11-25T20:00:00Z at monotonic 0: plausible wall-clock times */
#define RT_OFF 1764100800000000000LL

#define PID 100

/* The canonical answers of server.py (normal mode). */
#define R_ALPHA "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nalpha\n"
#define R_BRAVO "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nbravo\n"
#define R_404 "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nno such page\n"
#define R_HEAD_ALPHA "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"
#define R_204 "HTTP/1.1 204 No Content\r\n\r\n"
#define R_AUTH_OK "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nauth ok\n"

static char path_buf[4096];

static const char *out_path(const char *dir, const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

/* One request read, its answer written ms later; the clock moves on. */
static void exchange(struct fx *fx, uint64_t *t, uint64_t conn, const char *req,
		     const char *resp)
{
	fx_reads(fx, *t, PID, PID, conn, req);
	fx_writes(fx, *t + 1 * MS, PID, PID, conn, resp);
	*t += 10 * MS;
}

static struct fx *start(const char *dir, const char *name, uint64_t t)
{
	struct fx *fx = fx_open(out_path(dir, name), "replay-fixture", RT_OFF);

	fx_proc(fx, t, PID, 1, "web", "/usr/bin/python3", NULL);
	return fx;
}

/*
 * basic.htc, one keep-alive connection, in order (request ids 1001...):
 *   1001 GET /a              200 alpha
 *   1002 GET /b              200 bravo
 *   1003 GET /c              404 no such page
 *   1004 HEAD /a             200, no body
 *   1005 OPTIONS /a          204
 *   1006 GET /a?x=1&y=%20    200 alpha (query goes as captured)
 *   1007 POST /echo          "name=x", form type           201 got 6 bytes
 *   1008 PUT /echo           chunked "hello"                201 got 5 bytes
 *   1009 DELETE /item/1      204
 * Headers to check on the server: Connection: keep-alive, X-Hop (named by
 * Connection) and Keep-Alive must not arrive; X-Trace must.
 */
static void basic(const char *dir)
{
	uint64_t t = 1 * SEC;
	struct fx *fx = start(dir, "basic.htc", t);
	uint64_t c = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40001);

	exchange(fx, &t, c, "GET /a HTTP/1.1\r\nHost: app.example\r\nUser-Agent: fixture/1\r\n"
		 "Accept: */*\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret-hop\r\n"
		 "Keep-Alive: timeout=5\r\nX-Trace: t-1\r\n\r\n", R_ALPHA);
	exchange(fx, &t, c, "GET /b HTTP/1.1\r\nHost: app.example\r\nX-Trace: t-2\r\n\r\n", R_BRAVO);
	exchange(fx, &t, c, "GET /c HTTP/1.1\r\nHost: app.example\r\n\r\n", R_404);
	exchange(fx, &t, c, "HEAD /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_HEAD_ALPHA);
	exchange(fx, &t, c, "OPTIONS /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_204);
	exchange(fx, &t, c, "GET /a?x=1&y=%20 HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	exchange(fx, &t, c, "POST /echo HTTP/1.1\r\nHost: app.example\r\n"
		 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\n"
		 "name=x",
		 "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
		 "got 6 bytes\n");
	exchange(fx, &t, c, "PUT /echo HTTP/1.1\r\nHost: app.example\r\nContent-Type: text/plain\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		 "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
		 "got 5 bytes\n");
	exchange(fx, &t, c, "DELETE /item/1 HTTP/1.1\r\nHost: app.example\r\n\r\n", R_204);
	fx_close(fx, t, PID, PID, c);
	fx_finish(fx, NULL, NULL);
}

/* timing.htc: five GET /a starting at 1.0, 1.5, 2.0, 2.5, 3.0 s on two
 * connections: captured gaps sum to exactly 2 s. */
static void timing(const char *dir)
{
	struct fx *fx = start(dir, "timing.htc", 1 * SEC);
	uint64_t c1 = fx_accept(fx, 1 * SEC, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40011);
	uint64_t c2 = fx_accept(fx, 1 * SEC, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40012);

	for (int i = 0; i < 5; i++) {
		uint64_t t = 1 * SEC + (uint64_t)i * 500 * MS;

		exchange(fx, &t, i % 2 ? c2 : c1,
			 "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	}
	fx_close(fx, 4 * SEC, PID, PID, c1);
	fx_close(fx, 4 * SEC, PID, PID, c2);
	fx_finish(fx, NULL, NULL);
}

/*
 * partial.htc: bodies not fully captured must never be sent.
 *   1001 GET /a                               200 (sent)
 *   1002 POST /echo, 100-byte body, snaplen kept 40 of it     (skipped)
 *   1003 POST /echo, 60-byte body, 20 bytes lost to a drop    (skipped)
 *   1004 POST /echo, 60-byte body, answered after 30 bytes    (skipped)
 *   1005 GET /b                               200 (sent)
 *   1006 GET /a, its response cut by the snaplen after the head: the
 *        request is whole, so it is sent (the body is not compared)
 */
static void partial(const char *dir)
{
	static const char head100[] = "POST /echo HTTP/1.1\r\nHost: app.example\r\n"
				      "Content-Length: 100\r\n\r\n";
	static const char head60[] = "POST /echo HTTP/1.1\r\nHost: app.example\r\n"
				     "Content-Length: 60\r\n\r\n";
	char body[100];
	uint64_t t = 1 * SEC;
	struct fx *fx = start(dir, "partial.htc", t);
	uint64_t c1 = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40021);
	uint64_t c2 = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40022);
	uint64_t c3 = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40023);
	uint64_t c4 = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40024);

	memset(body, 'z', sizeof(body));
	exchange(fx, &t, c1, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	/* snaplen: the body read moved 100 bytes, 40 were kept */
	fx_reads(fx, t, PID, PID, c2, head100);
	fx_read_cut(fx, t + 1 * MS, PID, PID, c2, body, 40, 100);
	fx_writes(fx, t + 2 * MS, PID, PID, c2,
		  "HTTP/1.1 201 Created\r\nContent-Length: 14\r\n\r\ngot 100 bytes\n");
	t += 10 * MS;
	/* a drop: 20 body bytes in the middle were never captured at all */
	fx_reads(fx, t, PID, PID, c3, head60);
	fx_read(fx, t + 1 * MS, PID, PID, c3, body, 20);
	fx_skip(fx, c3, HTC_EV_READ, 20);
	fx_read(fx, t + 2 * MS, PID, PID, c3, body, 20);
	fx_writes(fx, t + 3 * MS, PID, PID, c3,
		  "HTTP/1.1 201 Created\r\nContent-Length: 13\r\n\r\ngot 60 bytes\n");
	t += 10 * MS;
	/* the server answered after 30 of the 60 bytes the head announced */
	fx_reads(fx, t, PID, PID, c4, head60);
	fx_read(fx, t + 1 * MS, PID, PID, c4, body, 30);
	fx_writes(fx, t + 3 * MS, PID, PID, c4,
		  "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
	t += 10 * MS;
	exchange(fx, &t, c1, "GET /b HTTP/1.1\r\nHost: app.example\r\n\r\n", R_BRAVO);
	fx_reads(fx, t, PID, PID, c1, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n");
	fx_write_cut(fx, t + 1 * MS, PID, PID, c1, R_ALPHA, sizeof(R_ALPHA) - 1 - 6, sizeof(R_ALPHA) - 1);
	t += 10 * MS;
	fx_close(fx, t, PID, PID, c1);
	fx_close(fx, t, PID, PID, c2);
	fx_close(fx, t, PID, PID, c3);
	fx_close(fx, t, PID, PID, c4);
	fx_finish(fx, NULL, NULL);
}

/* An event built by hand, for what the builder has no call for: flags. */
static void raw_event(struct fx *fx, uint8_t rtype, uint8_t type, uint64_t t, uint64_t conn,
		      uint16_t flags, int64_t ret, uint64_t off, const char *payload)
{
	struct htc_record rec = { .type = rtype };
	struct htc_event *ev = &rec.ev;

	ev->type = type;
	ev->syscall = type == HTC_EV_READ ? HTC_SYS_READ : type == HTC_EV_WRITE ? HTC_SYS_WRITE :
		      type == HTC_EV_ACCEPT ? HTC_SYS_ACCEPT4 : HTC_SYS_CLOSE;
	ev->flags = flags;
	ev->pid = ev->tid = PID;
	ev->fd = 77;
	ev->ts_ns = t;
	ev->dur_ns = 1000;
	ev->conn_id = conn;
	snprintf(ev->comm, sizeof(ev->comm), "web");
	ev->ep.family = HTC_AF_INET;
	ev->ep.role = HTC_ROLE_SERVER;
	ev->ep.lport = 8080;
	ev->ep.rport = 40031;
	memcpy(ev->ep.laddr, "\x7f\0\0\x01", 4);
	memcpy(ev->ep.raddr, "\x7f\0\0\x01", 4);
	ev->ret = ret;
	ev->stream_off = off;
	if (payload) {
		ev->payload = (const uint8_t *)payload;
		ev->cap_len = (uint32_t)strlen(payload);
	}
	fx_record(fx, &rec);
}

/*
 * redacted.htc: httpcap replaced secret values with '*' and marked the read
 * HTC_EVF_REDACTED (the builder has no call for that flag: built by hand on
 * a connection of its own, conn_id 900).
 *   1001 GET /auth, Authorization: ********, Cookie: ****    200 auth ok
 *   1002 GET /a                                              200 alpha
 */
static void redacted(const char *dir)
{
	static const char req[] = "GET /auth HTTP/1.1\r\nHost: app.example\r\n"
				  "Authorization: ********\r\nCookie: ****\r\nX-Trace: t-9\r\n\r\n";
	uint64_t t = 1 * SEC;
	struct fx *fx = start(dir, "redacted.htc", t);
	uint64_t c;

	fx_header(fx)->flags |= HTC_OPT_REDACT;
	raw_event(fx, HTC_REC_CONN, HTC_EV_ACCEPT, t, 900, 0, 77, 0, NULL);
	raw_event(fx, HTC_REC_DATA, HTC_EV_READ, t + 1 * MS, 900, HTC_EVF_REDACTED,
		  (int64_t)strlen(req), 0, req);
	raw_event(fx, HTC_REC_DATA, HTC_EV_WRITE, t + 2 * MS, 900, 0, (int64_t)strlen(R_AUTH_OK),
		  0, R_AUTH_OK);
	raw_event(fx, HTC_REC_CONN, HTC_EV_CLOSE, t + 3 * MS, 900, 0, 0, 0, NULL);
	t += 10 * MS;
	c = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40032);
	exchange(fx, &t, c, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	fx_close(fx, t, PID, PID, c);
	fx_finish(fx, NULL, NULL);
}

/*
 * hostile.htc: bytes that must be escaped when printed.
 *   1001 GET /caf<C3 A9><FF>?q=<80>, header X-Bin: <FF 80>   404; sent as is
 *   1002 GET /a, header X-Evil: <ESC>]0;pwned<BEL>   (the engine may reject
 *        a head with control bytes; if it reports it, it is sent)
 * hostile_line.htc: a request line with a control byte, never sent.
 *   1001 GET /x<ESC>[2J      unsendable (if the engine reports it at all)
 *   1002 GET /a              sent
 */
static void hostile(const char *dir)
{
	uint64_t t = 1 * SEC;
	struct fx *fx = start(dir, "hostile.htc", t);
	uint64_t c = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40041);

	exchange(fx, &t, c, "GET /caf\xc3\xa9\xff?q=\x80 HTTP/1.1\r\nHost: app.example\r\n"
		 "X-Bin: \xff\x80\r\n\r\n", R_404);
	exchange(fx, &t, c, "GET /a HTTP/1.1\r\nHost: app.example\r\nX-Evil: \x1b]0;pwned\x07\r\n\r\n",
		 R_ALPHA);
	fx_close(fx, t, PID, PID, c);
	fx_finish(fx, NULL, NULL);

	t = 1 * SEC;
	fx = start(dir, "hostile_line.htc", t);
	c = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40042);
	exchange(fx, &t, c, "GET /x\x1b[2J HTTP/1.1\r\nHost: app.example\r\n\r\n", R_404);
	exchange(fx, &t, c, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	fx_close(fx, t, PID, PID, c);
	fx_finish(fx, NULL, NULL);
}

/*
 * offset.htc: a header whose realtime offset is near INT64_MAX (corrupt or
 * hostile), with one request at a large monotonic time: no arithmetic on
 * them may overflow (the reader takes the offset as 0).
 *   1001 GET /a              200 alpha
 */
static void offset(const char *dir)
{
	uint64_t t = 9000000000ULL * SEC;
	struct fx *fx = fx_open(out_path(dir, "offset.htc"), "replay-fixture", INT64_MAX - 5);
	uint64_t c;

	fx_proc(fx, t, PID, 1, "web", "/usr/bin/python3", NULL);
	c = fx_accept(fx, t, PID, PID, "127.0.0.1", 8080, "127.0.0.1", 40043);
	exchange(fx, &t, c, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n", R_ALPHA);
	fx_close(fx, t, PID, PID, c);
	fx_finish(fx, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcaptures DIR\n");
		return 2;
	}
	basic(argv[1]);
	timing(argv[1]);
	partial(argv[1]);
	redacted(argv[1]);
	hostile(argv[1]);
	offset(argv[1]);
	return 0;
}
