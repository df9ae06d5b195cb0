// SPDX-License-Identifier: MIT
/*
 * mkfixtures.c - writes the capture files httpanalyze's golden tests
 * analyse (tests/analyze/golden.sh), with the tests/lib fixture builder:
 * fixed clocks and ids, so every run writes the same bytes.
 *
 *   mkfixtures DIR
 *
 * keepalive.htc     fx_scenario_keepalive: 5 requests on one connection
 * services.htc      fx_scenario_two_services: front -> back (+ redis), one host
 * host_a/b.htc      fx_scenario_two_hosts: the same on two hosts, two files
 * skew_a/b.htc      the same with host B's clock 30 s fast (skew_b_fast.htc:
 *                   the call is over before its request starts) and 30 s
 *                   slow (skew_b_slow.htc: the request is over before the
 *                   call starts): links found late, patched by the loader
 * mixed.htc         keepalive plus an "api" process: ids, slow, 4xx/5xx,
 *                   unanswered and reset requests (filter tests)
 * hostile.htc       quotes and SQL-looking text in paths and headers, C1
 *                   and bidi bytes in a path, ESC sequences in a Redis key,
 *                   a response body and header, a host and a process name
 * hostile_head.htc  ESC sequences in a request path and header values
 * lost.htc          keepalive plus loss records (ring buffer, map full)
 * lost_huge.htc     keepalive plus loss counts near UINT64_MAX (hostile)
 * undecoded.htc     no HTTP at all: a TLS client (ClientHello to :443) and
 *                   a server speaking an unknown binary protocol
 * tls.htc           TLS: curl -> nginx decrypted at both ends (OpenSSL),
 *                   a second curl connection whose calls were not seen, a
 *                   java client that nothing decrypted
 * multiframe.htc    services + keepalive in many small frames
 * truncated.htc     multiframe cut inside its last data frame
 * corrupt.htc       multiframe with one byte flipped inside its 2nd frame
 * notanhtc.htc      a text file
 * traced.htc        two services linked by a call whose request carried a
 *                   W3C traceparent (OTLP export: the spans join its trace)
 * html_hostile.htc  markup and script in paths, headers, a Redis key, a
 *                   process name and a host name, in slow, failing and
 *                   linked requests (HTML report: nothing may run)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "htc.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
/* wall clock = ts + this: 2026-01-01T00:00:00Z at ts 0 */
#define WALL0 (1767225600LL * 1000000000LL)

static char dir[4096];

static const char *path_of(const char *name)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "mkfixtures: %s: %s\n", what, htc_strerror(err));
	exit(1);
}

/* fx's capture, finished, into the fixture file name. */
static int finish_to(struct fx *fx, const char *name)
{
	void *buf;
	size_t len;
	FILE *f;
	int bad;

	if (fx_finish(fx, &buf, &len))
		return -1;
	f = fopen(path_of(name), "wb");
	bad = !f || fwrite(buf, 1, len, f) != len;
	if (f && fclose(f))
		bad = 1;
	free(buf);
	return bad ? -1 : 0;
}

/* fx_scenario_two_hosts into two files, host B's clock off by skew ns. */
static int two_hosts(const char *name_a, const char *name_b, int64_t skew)
{
	struct fx *a = fx_open(NULL, "host-a", WALL0 - 5000 * (int64_t)SEC);
	struct fx *b = fx_open(NULL, "host-b", WALL0 - 1234 * (int64_t)SEC);

	if (skew)
		fx_clock_skew(b, skew);
	fx_scenario_two_hosts(a, b, (uint64_t)WALL0 + 3 * SEC);
	return finish_to(a, name_a) | finish_to(b, name_b);
}

static void mixed_api(struct fx *fx, uint64_t t)
{
	const uint32_t P = 300;
	uint64_t c, c2;

	fx_proc(fx, t, P, 1, "api", "/usr/bin/api", "api --port 9000");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 9000, "10.0.0.7", 50000);
	fx_reads(fx, t += MS, P, P, c, "GET /users/1 HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_writes(fx, t += 2 * MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	fx_reads(fx, t += MS, P, P, c, "GET /users/2?verbose=1 HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_writes(fx, t += 10 * MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	fx_reads(fx, t += MS, P, P, c, "GET /users/abc HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_writes(fx, t += 1 * MS, P, P, c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, P, P, c, "DELETE /users/3 HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_writes(fx, t += 20 * MS, P, P, c,
		  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, P, P, c,
		 "GET /orders/0123456789abcdef HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_writes(fx, t += 4 * MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	/* the client gives up: no response before the close */
	fx_reads(fx, t += MS, P, P, c, "GET /slow HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_close(fx, t += 50 * MS, P, P, c);
	/* reset in the middle of a response */
	c2 = fx_accept(fx, t += MS, P, P + 1, "10.0.0.1", 9000, "10.0.0.7", 50001);
	fx_reads(fx, t += MS, P, P + 1, c2, "POST /upload HTTP/1.1\r\nHost: api\r\n"
		 "Content-Length: 4\r\n\r\nabcd");
	fx_writes(fx, t += 3 * MS, P, P + 1, c2, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
	fx_close_ret(fx, t += MS, P, P + 1, c2, -ECONNRESET);
}

/* An event loop ("front", one thread) serving two requests at once calls
 * "back" on the same host: the call goes to the newer request, a guess
 * (calls.ambiguous), so back's request has a parent that is a guess
 * (requests.parent_ambiguous); then one request alone makes a call whose
 * parent is certain. */
static void event_loop(struct fx *fx, uint64_t t)
{
	const uint32_t F = 100, B = 200;
	uint64_t a, b, up, in;

	fx_proc(fx, t, F, 1, "front", "/usr/bin/front", "front");
	fx_proc(fx, t, B, 1, "back", "/usr/bin/back", "back");
	a = fx_accept(fx, t += MS, F, F, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, F, F, "127.0.0.1", 8080, "127.0.0.1", 41001);
	fx_reads(fx, t += MS, F, F, a, "GET /a HTTP/1.1\r\nHost: front\r\n\r\n");
	fx_reads(fx, t += MS, F, F, b, "GET /b HTTP/1.1\r\nHost: front\r\n\r\n");
	up = fx_connect(fx, t += MS, F, F, "127.0.0.1", 42000, "127.0.0.1", 9090);
	in = fx_accept(fx, t += MS, B, B, "127.0.0.1", 9090, "127.0.0.1", 42000);
	fx_writes(fx, t += MS, F, F, up, "GET /stock HTTP/1.1\r\nHost: back\r\n\r\n");
	fx_reads(fx, t += MS, B, B, in, "GET /stock HTTP/1.1\r\nHost: back\r\n\r\n");
	fx_writes(fx, t += MS, B, B, in, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
	fx_reads(fx, t += MS, F, F, up, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
	fx_writes(fx, t += MS, F, F, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, F, F, b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* alone: certain */
	fx_reads(fx, t += MS, F, F, a, "GET /c HTTP/1.1\r\nHost: front\r\n\r\n");
	fx_writes(fx, t += MS, F, F, up, "GET /stock HTTP/1.1\r\nHost: back\r\n\r\n");
	fx_reads(fx, t += MS, B, B, in, "GET /stock HTTP/1.1\r\nHost: back\r\n\r\n");
	fx_writes(fx, t += MS, B, B, in, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
	fx_reads(fx, t += MS, F, F, up, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
	fx_writes(fx, t += MS, F, F, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

/* An event loop (one thread) serving three requests at once, each making
 * one call to a traced backend: the first proven by its propagated
 * traceparent trace id, the second as a forwarded copy (a proxy), the
 * third with nothing to prove it: a guess (issue 14). */
static void evidence(struct fx *fx, uint64_t t)
{
	const uint32_t F = 100, B = 200;
	uint64_t a, b, d, up, in;
	static const char *const calls[] = {
		"GET /stock HTTP/1.1\r\nHost: back\r\n"
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01\r\n\r\n",
		"GET /b?x=1 HTTP/1.1\r\nHost: back\r\nX-Forwarded-Host: front\r\n\r\n",
		"GET /stock HTTP/1.1\r\nHost: back\r\n\r\n",
	};

	fx_proc(fx, t, F, 1, "front", "/usr/bin/front", "front");
	fx_proc(fx, t, B, 1, "back", "/usr/bin/back", "back");
	a = fx_accept(fx, t += MS, F, F, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, F, F, "127.0.0.1", 8080, "127.0.0.1", 41001);
	d = fx_accept(fx, t += MS, F, F, "127.0.0.1", 8080, "127.0.0.1", 41002);
	fx_reads(fx, t += MS, F, F, a, "GET /a HTTP/1.1\r\nHost: front\r\n"
		 "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
	fx_reads(fx, t += MS, F, F, b, "GET /b?x=1 HTTP/1.1\r\nHost: front\r\n\r\n");
	fx_reads(fx, t += MS, F, F, d, "GET /d HTTP/1.1\r\nHost: front\r\n\r\n");
	up = fx_connect(fx, t += MS, F, F, "127.0.0.1", 42000, "127.0.0.1", 9090);
	in = fx_accept(fx, t += MS, B, B, "127.0.0.1", 9090, "127.0.0.1", 42000);
	for (int i = 0; i < 3; i++) {
		fx_writes(fx, t += MS, F, F, up, calls[i]);
		fx_reads(fx, t += MS, B, B, in, calls[i]);
		fx_writes(fx, t += MS, B, B, in, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
		fx_reads(fx, t += MS, F, F, up, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42");
	}
	fx_writes(fx, t += MS, F, F, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, F, F, b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, F, F, d, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

/* A capture started on a running server: one keep-alive connection was
 * open before it and had read 8446 bytes (the capture seeds the read
 * offset from TCP's counters), then one accepted during the capture. */
static void midstream(struct fx *fx, uint64_t t)
{
	const uint32_t P = 100;
	uint64_t old, c;

	fx_proc(fx, t, P, 1, "web", "/usr/bin/web", "web");
	old = fx_preexisting(fx, P, "10.0.0.1", 8080, "10.0.0.9", 40000, HTC_ROLE_UNKNOWN);
	fx_skip(fx, old, HTC_EV_READ, 8446);
	fx_reads(fx, t += MS, P, P, old, "GET /late HTTP/1.1\r\nHost: web\r\n\r\n");
	fx_writes(fx, t += MS, P, P, old, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 8080, "10.0.0.9", 40001);
	fx_reads(fx, t += MS, P, P, c, "GET /new HTTP/1.1\r\nHost: web\r\n\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, P, P, c);
}

/* Hostile bytes where a capture can carry them.  The request heads hold
 * quotes and SQL-looking text but no control bytes (see hostile_head). */
static void hostile(struct fx *fx, uint64_t t)
{
	const uint32_t P = 400;
	uint64_t c, r;

	fx_proc(fx, t, P, 1, "\x1b[1mevil", "/tmp/\x1b]0;title\x07", "evil\x1b[2J --flag");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 8000, "10.0.0.66", 6666);
	fx_reads(fx, t += MS, P, P, c,
		 "GET /search?q=1'%20OR%20'1'='1\";DROP%20TABLE%20requests;-- HTTP/1.1\r\n"
		 "Host: evil\r\nUser-Agent: \"quoted\",comma,'; DROP TABLE calls;--\r\n\r\n");
	r = fx_connect(fx, t += MS, P, P, "10.0.0.1", 43000, "10.0.0.5", 6379);
	fx_writes(fx, t += MS, P, P, r, "*2\r\n$3\r\nGET\r\n$9\r\n\x1b[31mkey'\r\n");
	fx_reads(fx, t += MS, P, P, r, "$-1\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n\x1b[2Jcleared");
	fx_reads(fx, t += MS, P, P, c, "GET /red');DROP%20TABLE%20calls;--\xc2\x9b\xe2\x80\xae HTTP/1.1\r\n"
		 "Host: evil\r\n\r\n");
	/* a response header with a C1 CSI, a bidi override and a byte that is
	 * not UTF-8: stored as is, escaped wherever it is shown */
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
		  "X-Evil: caf\xc3\xa9\xc2\x9b" "31m\xe2\x80\xae\xff\r\n\r\n");
	fx_close(fx, t += MS, P, P, r);
	fx_close(fx, t += MS, P, P, c);
}

/* ESC sequences inside request heads (path, header values). */
static void hostile_head(struct fx *fx, uint64_t t)
{
	const uint32_t P = 400;
	uint64_t c;

	fx_proc(fx, t, P, 1, "evil", "/usr/bin/evil", "evil");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 8000, "10.0.0.66", 6666);
	fx_reads(fx, t += MS, P, P, c, "GET /\x1b[31mred HTTP/1.1\r\nHost: evil\x1b[2J\r\n"
		 "User-Agent: \x1b]0;pwned\x07\r\n\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, P, P, c);
}

/* front -> back (+ redis on each), one host, the client's traceparent on
 * front's request (and front's own on its call to back, as an
 * instrumented service sends it) */
static void traced(struct fx *fx, uint64_t t)
{
	const uint32_t FP = 100, FT = 101, BP = 200, BT = 201;
	uint64_t cin, cout, sin, r;

	fx_proc(fx, t, FP, 1, "front", "/usr/bin/front", "front");
	fx_proc(fx, t, BP, 1, "back", "/usr/bin/back", "back");
	cin = fx_accept(fx, t += MS, FP, FT, "127.0.0.1", 8080, "127.0.0.1", 41000);
	fx_reads(fx, t += MS, FP, FT, cin, "GET /order/42?x=1 HTTP/1.1\r\nHost: front:8080\r\n"
		 "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n");
	cout = fx_connect(fx, t += MS, FP, FT, "127.0.0.1", 42000, "127.0.0.1", 9090);
	fx_writes(fx, t += MS, FP, FT, cout, "GET /stock/42 HTTP/1.1\r\nHost: back\r\n"
		  "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01\r\n\r\n");
	sin = fx_accept(fx, t += MS, BP, BT, "127.0.0.1", 9090, "127.0.0.1", 42000);
	fx_reads(fx, t += MS, BP, BT, sin, "GET /stock/42 HTTP/1.1\r\nHost: back\r\n"
		 "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01\r\n\r\n");
	r = fx_connect(fx, t += MS, BP, BT, "127.0.0.1", 43000, "127.0.0.1", 6379);
	fx_writes(fx, t += MS, BP, BT, r, "*2\r\n$3\r\nGET\r\n$8\r\nstock:42\r\n");
	fx_reads(fx, t += MS, BP, BT, r, "-ERR wrong\r\n");
	fx_writes(fx, t += MS, BP, BT, sin, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, FP, FT, cout, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, FP, FT, cin, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
	/* a second request, no traceparent: its trace id is derived */
	fx_reads(fx, t += MS, FP, FT, cin, "GET /health HTTP/1.1\r\nHost: front\r\n\r\n");
	fx_writes(fx, t += MS, FP, FT, cin, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* and one with a malformed traceparent (uppercase hex): ignored */
	fx_reads(fx, t += MS, FP, FT, cin, "GET /health HTTP/1.1\r\nHost: front\r\n"
		 "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01\r\n\r\n");
	fx_writes(fx, t += MS, FP, FT, cin, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, FP, FT, cout);
	fx_close(fx, t += MS, BP, BT, sin);
	fx_close(fx, t += MS, BP, BT, r);
	fx_close(fx, t += MS, FP, FT, cin);
}

/*
 * Everything a capture can carry that would be markup in a page: each
 * payload tries to change document.title, so the browser test can tell
 * whether any of it ran.  A slow request (in "slowest", with a call that
 * became a request of the second process) and failing ones (in
 * "failing"), so the waterfalls and request heads show them too.
 */
static void html_hostile(struct fx *fx, uint64_t t)
{
	const uint32_t P = 500, Q = 600;
	uint64_t c, k, s, r;

	fx_proc(fx, t, P, 1, "<script>x</script>", "/tmp/<img src=x onerror=alert(1)>",
		"\"><script>document.title='pwned-cmdline'</script>");
	fx_proc(fx, t, Q, 1, "<b onclick=x>", "/usr/bin/q", "q");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 8000, "10.0.0.66", 6666);
	fx_reads(fx, t += MS, P, P, c,
		 "GET /<script>document.title='pwned-path'</script> HTTP/1.1\r\n"
		 "Host: javascript:document.title='pwned-host'\r\n"
		 "X-Evil: <img src=x onerror=\"document.title='pwned-header'\">\r\n"
		 "Referer: \"><svg onload=document.title='pwned-svg'>\r\n\r\n");
	k = fx_connect(fx, t += MS, P, P, "10.0.0.1", 43000, "10.0.0.2", 9000);
	fx_writes(fx, t += MS, P, P, k,
		  "GET /</text><script>document.title='pwned-call'</script> HTTP/1.1\r\n"
		  "Host: q\r\n\r\n");
	s = fx_accept(fx, t += MS, Q, Q, "10.0.0.2", 9000, "10.0.0.1", 43000);
	fx_reads(fx, t += MS, Q, Q, s,
		 "GET /</text><script>document.title='pwned-call'</script> HTTP/1.1\r\n"
		 "Host: q\r\n\r\n");
	r = fx_connect(fx, t += MS, Q, Q, "10.0.0.2", 43001, "10.0.0.5", 6379);
	fx_writes(fx, t += MS, Q, Q, r,
		  "*2\r\n$3\r\nGET\r\n$50\r\n<style>*{display:none}</style><script>x=1</script>\r\n");
	fx_reads(fx, t += MS, Q, Q, r, "$-1\r\n");
	fx_writes(fx, t += 30 * MS, Q, Q, s, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, P, P, k, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += 20 * MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, P, P, c,
		 "GET /a?<img/src=x/onerror=document.title='pwned-query'>&javascript:alert(1) HTTP/1.1\r\n"
		 "Host: x\r\n\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, P, P, c, "POST /'-alert(1)-'\"onmouseover=\"x HTTP/1.1\r\n"
		 "Host: x\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, P, P, k);
	fx_close(fx, t += MS, Q, Q, s);
	fx_close(fx, t += MS, Q, Q, r);
	fx_close(fx, t += MS, P, P, c);
}

static void lost(struct fx *fx, uint64_t t)
{
	struct htc_record rec = { .type = HTC_REC_LOSS };

	rec.loss.ts_ns = t;
	rec.loss.reason = HTC_LOSS_RINGBUF_FULL;
	rec.loss.count = 7;
	fx_record(fx, &rec);
	rec.loss.reason = HTC_LOSS_MAP_FULL;
	rec.loss.count = 2;
	fx_record(fx, &rec);
	rec.loss.reason = HTC_LOSS_RINGBUF_FULL;
	rec.loss.count = 3;
	fx_record(fx, &rec);
}

/* Traffic the engine sees but cannot decode: the summary must show it. */
static void undecoded(struct fx *fx, uint64_t t)
{
	static const uint8_t hello[] = {
		0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
		0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x00,
	};
	static const uint8_t bin[] = { 0x00, 0x01, 0xfe, 0xca, 0x00, 0x00, 0x00, 0x08, 'p', 'i', 'n', 'g' };
	uint64_t c = fx_connect(fx, t, 300, 300, "10.0.0.5", 40100, "10.0.0.9", 443);
	uint64_t s = fx_accept(fx, t + MS, 301, 301, "10.0.0.5", 7000, "10.0.0.7", 40200);

	fx_proc(fx, t, 300, 1, "curl", "/usr/bin/curl", NULL);
	fx_proc(fx, t, 301, 1, "binsrv", "/usr/local/bin/binsrv", NULL);
	fx_write(fx, t += MS, 300, 300, c, hello, sizeof(hello));
	fx_read(fx, t += MS, 300, 300, c, bin, sizeof(bin));
	fx_read(fx, t += MS, 301, 301, s, bin, sizeof(bin));
	fx_write(fx, t += MS, 301, 301, s, bin, sizeof(bin));
	fx_close(fx, t += MS, 300, 300, c);
	fx_close(fx, t += MS, 301, 301, s);
}

/* TLS (format 1.2): one connection decrypted at both ends, two that stayed
 * encrypted for the two reasons a capture with the probes can have. */
static void tls(struct fx *fx, uint64_t t)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00 };
	static const uint8_t rec[] = { 0x17, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4 };
	uint64_t c, s, c2, j;

	fx_proc(fx, t, 300, 1, "curl", "/usr/bin/curl", NULL);
	fx_proc(fx, t, 400, 1, "nginx", "/usr/sbin/nginx", NULL);
	fx_proc(fx, t, 500, 1, "java", "/usr/bin/java", NULL);
	c = fx_connect(fx, t += MS, 300, 300, "10.0.0.5", 40100, "10.0.0.6", 443);
	s = fx_accept(fx, t += MS, 400, 400, "10.0.0.6", 443, "10.0.0.5", 40100);
	fx_write(fx, t += MS, 300, 300, c, hello, sizeof(hello));
	fx_read(fx, t += MS, 400, 400, s, hello, sizeof(hello));
	fx_write(fx, t += MS, 400, 400, s, hello, sizeof(hello));
	fx_read(fx, t += MS, 300, 300, c, hello, sizeof(hello));
	fx_tls(fx, t += MS, 300, 300, c, HTC_EV_WRITE, HTC_SYS_SSL_WRITE,
	       "GET /x HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_tls_cipher(fx, c);
	fx_tls_cipher(fx, s);
	fx_write_cut(fx, t += MS, 300, 300, c, rec, 0, 52);
	fx_read_cut(fx, t += MS, 400, 400, s, rec, 0, 52);
	fx_tls(fx, t += MS, 400, 400, s, HTC_EV_READ, HTC_SYS_SSL_READ,
	       "GET /x HTTP/1.1\r\nHost: api\r\n\r\n");
	fx_tls(fx, t += 2 * MS, 400, 400, s, HTC_EV_WRITE, HTC_SYS_SSL_WRITE,
	       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	fx_write_cut(fx, t += MS, 400, 400, s, rec, 0, 60);
	fx_read_cut(fx, t += MS, 300, 300, c, rec, 0, 60);
	fx_tls(fx, t += MS, 300, 300, c, HTC_EV_READ, HTC_SYS_SSL_READ,
	       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	/* curl's other connection: its library calls not seen */
	c2 = fx_connect(fx, t += MS, 300, 300, "10.0.0.5", 40101, "10.0.0.8", 443);
	fx_write(fx, t += MS, 300, 300, c2, hello, sizeof(hello));
	fx_read(fx, t += MS, 300, 300, c2, hello, sizeof(hello));
	fx_write(fx, t += MS, 300, 300, c2, rec, sizeof(rec));
	fx_read(fx, t += MS, 300, 300, c2, rec, sizeof(rec));
	/* java: nothing decrypted in that process */
	j = fx_connect(fx, t += MS, 500, 500, "10.0.0.5", 40102, "10.0.0.9", 443);
	fx_write(fx, t += MS, 500, 500, j, hello, sizeof(hello));
	fx_read(fx, t += MS, 500, 500, j, hello, sizeof(hello));
	fx_close(fx, t += MS, 300, 300, c);
	fx_close(fx, t += MS, 400, 400, s);
	fx_close(fx, t += MS, 300, 300, c2);
	fx_close(fx, t += MS, 500, 500, j);
}

/* Counts that would wrap a 64-bit sum (a hostile file): shown saturated. */
static void lost_huge(struct fx *fx, uint64_t t)
{
	struct htc_record rec = { .type = HTC_REC_LOSS };

	rec.loss.ts_ns = t;
	rec.loss.reason = HTC_LOSS_RINGBUF_FULL;
	rec.loss.count = UINT64_MAX - 5;
	fx_record(fx, &rec);
	rec.loss.reason = HTC_LOSS_MAP_FULL;
	rec.loss.count = 1ULL << 63;
	fx_record(fx, &rec);
	fx_record(fx, &rec);
}

/* Rewrite an in-memory capture into small frames; returns the frame
 * offsets and sizes of the result through the trailer of a re-read. */
static void multiframe(const void *buf, size_t len, const char *out)
{
	struct htc_writer_opts wo = { .frame_bytes = 512 };
	struct htc_reader *r;
	struct htc_writer *w;
	struct htc_record rec;
	int err = 0, rc;

	r = htc_reader_open_mem(buf, len, &err);
	if (!r)
		die("reopen", err);
	w = htc_writer_open(out, htc_reader_header(r), &wo, &err);
	if (!w)
		die(out, err);
	while ((rc = htc_reader_next(r, &rec)) > 0)
		if ((err = htc_writer_append(w, &rec)))
			die("append", err);
	if (rc < 0)
		die("read", rc);
	if ((err = htc_writer_close(w, 0, NULL)))
		die("close", err);
	htc_reader_close(r);
}

static void damage(const char *src, const char *dst, int truncate)
{
	struct htc_reader *r;
	struct htc_record rec;
	const struct htc_trailer *t;
	FILE *f;
	char *buf;
	long len;
	uint64_t at;
	int err = 0;

	r = htc_reader_open(src, &err);
	if (!r)
		die(src, err);
	while (htc_reader_next(r, &rec) > 0)
		;
	t = htc_reader_trailer(r);
	if (!t || t->nframes < 3) {
		fprintf(stderr, "mkfixtures: %s: want >= 3 frames, have %u\n", src,
			t ? t->nframes : 0);
		exit(1);
	}
	if (truncate)
		at = t->frames[t->nframes - 1].offset + t->frames[t->nframes - 1].csize / 2;
	else
		at = t->frames[1].offset + t->frames[1].csize / 2;
	htc_reader_close(r);

	f = fopen(src, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		perror(src);
		exit(1);
	}
	buf = malloc((size_t)len);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		perror(src);
		exit(1);
	}
	fclose(f);
	if (!truncate)
		buf[at] ^= 0x5a;
	f = fopen(dst, "wb");
	if (!f || fwrite(buf, 1, truncate ? at : (size_t)len, f) != (truncate ? at : (size_t)len) ||
	    fclose(f)) {
		perror(dst);
		exit(1);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	struct fx *fx;
	void *buf;
	size_t len;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: mkfixtures DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);

	fx = fx_open(path_of("keepalive.htc"), "web1", WALL0);
	fx_scenario_keepalive(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("services.htc"), "svc1", WALL0);
	fx_scenario_two_services(fx, 2 * SEC);
	fx_finish(fx, NULL, NULL);

	/* two hosts whose monotonic clocks differ by ~an hour; then the same
	 * with host B's clock 30 s slow and 30 s fast */
	if (two_hosts("host_a.htc", "host_b.htc", 0) ||
	    two_hosts("skew_a.htc", "skew_b_slow.htc", -30 * (int64_t)SEC) ||
	    two_hosts("skew_a.htc", "skew_b_fast.htc", 30 * (int64_t)SEC))
		return 1;

	fx = fx_open(path_of("mixed.htc"), "web1", WALL0);
	fx_scenario_keepalive(fx, 1 * SEC);
	mixed_api(fx, 2 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("midstream.htc"), "web1", WALL0);
	midstream(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("eventloop.htc"), "web1", WALL0);
	event_loop(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("evidence.htc"), "web1", WALL0);
	evidence(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("hostile.htc"), "evil\x1b[5mhost", WALL0);
	hostile(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("hostile_head.htc"), "web1", WALL0);
	hostile_head(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("traced.htc"), "svc1", WALL0);
	traced(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("html_hostile.htc"), "<i>host</i>", WALL0);
	html_hostile(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("lost.htc"), "web1", WALL0);
	fx_scenario_keepalive(fx, 1 * SEC);
	lost(fx, 2 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("undecoded.htc"), "edge1", WALL0);
	undecoded(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("tls.htc"), "edge1", WALL0);
	tls(fx, 1 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(path_of("lost_huge.htc"), "web1", WALL0);
	fx_scenario_keepalive(fx, 1 * SEC);
	lost_huge(fx, 2 * SEC);
	fx_finish(fx, NULL, NULL);

	/* three rotated files of one capture, numbered as httpcap numbers
	 * them (format 1.2): a keep-alive connection across all three */
	fx = fx_open(path_of("rot1.htc"), "web1", WALL0);
	fx_header(fx)->file_seq = 1;
	fx_scenario_keepalive(fx, 1 * SEC);
	fx_rotate(fx, path_of("rot2.htc"), 2 * SEC);
	mixed_api(fx, 3 * SEC);
	fx_rotate(fx, path_of("rot3.htc"), 4 * SEC);
	fx_scenario_keepalive(fx, 5 * SEC);
	fx_finish(fx, NULL, NULL);

	fx = fx_open(NULL, "svc1", WALL0);
	fx_scenario_two_services(fx, 2 * SEC);
	mixed_api(fx, 3 * SEC);
	fx_finish(fx, &buf, &len);
	multiframe(buf, len, path_of("multiframe.htc"));
	free(buf);
	{
		char src[8192];

		snprintf(src, sizeof(src), "%s", path_of("multiframe.htc"));
		damage(src, path_of("truncated.htc"), 1);
		damage(src, path_of("corrupt.htc"), 0);
	}

	f = fopen(path_of("notanhtc.htc"), "w");
	if (!f || fputs("GET / HTTP/1.1\r\n\r\nthis is not a capture file\n", f) < 0 || fclose(f))
		return 1;
	return 0;
}
