/* SPDX-License-Identifier: MIT */
/*
 * test_http.c - table-driven vectors for the HTTP/1.x parser, the chunked
 * decoder and the Redis/PostgreSQL decoders (input, expected result,
 * one-line reason), hostile inputs, and truncation at every byte.  Inputs
 * are copied to just before a PROT_NONE page so a one-byte over-read
 * faults at once (picohttpparser's test trick).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "http1_parse.h"
#include "engine_int.h"

/* ---- guard page ---- */

static uint8_t *guard_base;
static size_t guard_size;

static int guard_setup(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);

	guard_size = 256 * 1024 + (size_t)pg;
	guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED)
		return -1;
	return mprotect(guard_base + guard_size - (size_t)pg, (size_t)pg, PROT_NONE);
}

static int guard_teardown(void **state)
{
	munmap(guard_base, guard_size);
	return 0;
}

/* len bytes of s placed so that the byte after the last is unreadable. */
static const char *guarded(const void *s, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *end = (char *)guard_base + guard_size - (size_t)pg;

	assert_true(len <= guard_size - (size_t)pg);
	memcpy(end - len, s, len);
	return end - len;
}

/* ---- request / response heads ---- */

struct head_vec {
	const char *in;
	int expect;		/* > 0: whole input is the head (strlen); or HTTP_* */
	const char *method, *target;
	int status;
	int nheaders;
	const char *why;
};

#define WHOLE 1

static const struct head_vec req_vecs[] = {
	{ "GET / HTTP/1.1\r\n\r\n", WHOLE, "GET", "/", 0, 0, "minimal request" },
	{ "GET /a?b=c HTTP/1.0\r\nHost: x\r\n\r\n", WHOLE, "GET", "/a?b=c", 0, 1, "1.0 with query" },
	{ "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", WHOLE, "POST", "/p", 0, 2, "post head" },
	{ "GET / HTTP/1.1\n\n", WHOLE, "GET", "/", 0, 0, "bare LF line ends" },
	{ "GET / HTTP/1.1\r\nX:  v  \r\n\r\n", WHOLE, "GET", "/", 0, 1, "value whitespace trimmed" },
	{ "GET / HTTP/1.1\r\nX:\r\n\r\n", WHOLE, "GET", "/", 0, 1, "empty value" },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", WHOLE, "OPTIONS", "*", 0, 0, "asterisk form" },
	{ "GET http://h/x HTTP/1.1\r\n\r\n", WHOLE, "GET", "http://h/x", 0, 0, "absolute form" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "no blank line yet" },
	{ "GET / HTTP/1.1", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "start line cut" },
	{ "GE", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "method cut" },
	{ "", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "nothing yet" },
	{ "GET / HTTP/2.0\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "HTTP/2 is not HTTP/1.x" },
	{ "GET /  HTTP/1.1\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "two spaces" },
	{ "GET\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "no target" },
	{ " GET / HTTP/1.1\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "leading space" },
	{ "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "space in header name" },
	{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "header without colon" },
	{ "GET / HTTP/1.1\r\n: v\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "empty header name" },
	{ "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", WHOLE, "GET", "/", 0, 1, "control byte in value: kept (RFC 9110 5.5)" },
	{ "GET /\x7f HTTP/1.1\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "DEL in target" },
	{ "G\xc3T / HTTP/1.1\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "non-token method" },
	{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HTTP_ERROR, NULL, NULL, 0, 0, "TLS client hello" },
	{ "GET /\x01 HTTP/1.1", HTTP_ERROR, NULL, NULL, 0, 0, "control byte in target, line incomplete" },
};

static const struct head_vec resp_vecs[] = {
	{ "HTTP/1.1 200 OK\r\n\r\n", WHOLE, NULL, NULL, 200, 0, "minimal response" },
	{ "HTTP/1.0 404 Not Found\r\nA: b\r\n\r\n", WHOLE, NULL, NULL, 404, 1, "1.0 with header" },
	{ "HTTP/1.1 204\r\n\r\n", WHOLE, NULL, NULL, 204, 0, "no reason phrase" },
	{ "HTTP/1.1 200 \r\n\r\n", WHOLE, NULL, NULL, 200, 0, "empty reason phrase" },
	{ "HTTP/1.1 200 O\x1b[2JK\r\n\r\n", WHOLE, NULL, NULL, 200, 0, "ESC in the reason phrase: kept" },
	{ "HTTP/1.1 200 O\x7fK\r\nX: a\x7f\x01b\r\n\r\n", WHOLE, NULL, NULL, 200, 1, "DEL in reason and value: kept" },
	{ "HTTP/1.1 100 Continue\r\n\r\n", WHOLE, NULL, NULL, 100, 0, "interim" },
	{ "HTTP/1.1 200 OK\r\n", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "headers to come" },
	{ "HTTP/1.", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "version cut" },
	{ "HTTP/1.1 2", HTTP_INCOMPLETE, NULL, NULL, 0, 0, "status cut" },
	{ "HTTP/1.1 20x OK\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "bad status digit" },
	{ "HTTP/1.1 200OK\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "no space after status" },
	{ "HTTP/3 200 OK\r\n\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "not 1.x" },
	{ "SSH-2.0-OpenSSH\r\n", HTTP_ERROR, NULL, NULL, 0, 0, "another protocol" },
};

static void check_heads(const struct head_vec *v, size_t n, int request)
{
	static struct http_head h;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i].in);
		const char *in = guarded(v[i].in, len);
		int r = request ? http_parse_request(in, len, &h) : http_parse_response(in, len, &h);
		int want = v[i].expect == WHOLE ? (int)len : v[i].expect;

		if (r != want)
			fail_msg("vector %zu (%s): got %d, want %d", i, v[i].why, r, want);
		if (r <= 0)
			continue;
		if (request) {
			assert_true(h.method_len == strlen(v[i].method) &&
				    !memcmp(h.method, v[i].method, h.method_len));
			assert_true(h.target_len == strlen(v[i].target) &&
				    !memcmp(h.target, v[i].target, h.target_len));
		} else {
			assert_int_equal(h.status, v[i].status);
		}
		assert_int_equal(h.nheaders, v[i].nheaders);
	}
}

static void test_request_vectors(void **state)
{
	check_heads(req_vecs, sizeof(req_vecs) / sizeof(req_vecs[0]), 1);
}

static void test_response_vectors(void **state)
{
	check_heads(resp_vecs, sizeof(resp_vecs) / sizeof(resp_vecs[0]), 0);
}

/* Every prefix of a valid head is INCOMPLETE, never an error or a read
 * past its end. */
static void test_truncation_every_byte(void **state)
{
	static const char req[] = "POST /api/v1/items?x=1 HTTP/1.1\r\nHost: example.test\r\n"
				  "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n";
	static const char resp[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
				   "X-A: b\r\n\r\n";
	static struct http_head h;

	for (size_t n = 0; n < sizeof(req) - 1; n++)
		assert_int_equal(http_parse_request(guarded(req, n), n, &h), HTTP_INCOMPLETE);
	assert_int_equal(http_parse_request(guarded(req, sizeof(req) - 1), sizeof(req) - 1, &h),
			 (int)sizeof(req) - 1);
	for (size_t n = 0; n < sizeof(resp) - 1; n++)
		assert_int_equal(http_parse_response(guarded(resp, n), n, &h), HTTP_INCOMPLETE);
	assert_int_equal(http_parse_response(guarded(resp, sizeof(resp) - 1), sizeof(resp) - 1, &h),
			 (int)sizeof(resp) - 1);
}

/* ---- hostile heads ---- */

static void test_hostile(void **state)
{
	static struct http_head h;
	size_t cap = 200 * 1024, n;
	char *b = malloc(cap);

	assert_non_null(b);

	/* thousands of headers: bounded by HTTP_MAX_HEADERS */
	n = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(b + n, cap - n, "X%d: v\r\n", i);
	n += (size_t)snprintf(b + n, cap - n, "\r\n");
	assert_int_equal(http_parse_request(guarded(b, n), n, &h), HTTP_ERROR);

	/* a line that never ends: incomplete below the head limit, then error */
	memset(b, 'a', cap);
	memcpy(b, "GET /", 5);
	assert_int_equal(http_parse_request(guarded(b, 1000), 1000, &h), HTTP_INCOMPLETE);
	assert_int_equal(http_parse_request(guarded(b, HTTP_MAX_HEAD + 10), HTTP_MAX_HEAD + 10, &h),
			 HTTP_ERROR);

	/* a header line that never ends */
	n = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\nX: ");
	memset(b + n, 'v', cap - n);
	assert_int_equal(http_parse_request(guarded(b, HTTP_MAX_HEAD + 100), HTTP_MAX_HEAD + 100, &h),
			 HTTP_ERROR);

	/* NUL bytes */
	memcpy(b, "GET /\0 HTTP/1.1\r\n\r\n", 19);
	assert_int_equal(http_parse_request(guarded(b, 19), 19, &h), HTTP_ERROR);
	/* in a value, a NUL is kept as a byte of the value (RFC 9110 5.5) */
	memcpy(b, "GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24);
	assert_int_equal(http_parse_request(guarded(b, 24), 24, &h), 24);
	assert_int_equal(h.headers[0].value_len, 1);

	/* binary garbage never parses as a head, and never over-reads */
	srand(1);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % 200);

		for (size_t i = 0; i < len; i++)
			b[i] = (char)(rand() & 0xff);
		http_parse_request(guarded(b, len), len, &h);
		http_parse_response(guarded(b, len), len, &h);
		http_find_start(guarded(b, len), len, round & 1);
	}
	free(b);
}

/* ---- framing ---- */

struct framing_vec {
	const char *head;
	int64_t cl;
	int chunked, close;
	const char *why;
};

static const struct framing_vec framing_vecs[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 10, 0, 0, "content-length" },
	{ "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n", 7, 0, 0, "names are case-insensitive" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 1, 0, "chunked" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", -1, 1, 0, "chunked last coding" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -1, 1, 0,
	  "chunked wins over length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", -1, 0, 0, "junk length is ignored" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", -1, 0, 0,
	  "overflowing length is ignored" },
	{ "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", -1, 0, 1, "close in a list" },
	{ "HTTP/1.0 200 OK\r\n\r\n", -1, 0, 1, "1.0 closes by default" },
	{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", -1, 0, 0, "1.0 keep-alive" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCONTENT-LENGTH: 7\r\n\r\n", 7, 0, 0,
	  "the last valid length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n", 5, 0, 0,
	  "an invalid length after a valid one is ignored" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", -1, 0, 0,
	  "the last transfer-encoding decides" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -1, 0, 0,
	  "chunked not last" },
	{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nconnection: close\r\n\r\n", -1, 0, 1,
	  "close in a second connection header" },
	{ "HTTP/1.0 200 OK\r\nConnection: ,Keep-Alive ,\r\n\r\n", -1, 0, 0, "list with empty elements" },
	{ "HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", -1, 0, 0, "closed is not close" },
	{ "HTTP/1.1 200 OK\r\nConnection: CLOSE\r\n\r\n", -1, 0, 1, "close alone, upper case" },
	{ "HTTP/1.1 200 OK\r\nConnection: closf\r\n\r\n", -1, 0, 0, "close alone, near miss" },
	{ "HTTP/1.0 200 OK\r\nConnection: KEEP-alive\r\n\r\n", -1, 0, 0, "keep-alive alone, mixed case" },
	{ "HTTP/1.0 200 OK\r\nConnection: keep_alive\r\n\r\n", -1, 0, 1, "keep-alive alone, near miss" },
	{ "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\n\r\n", -1, 0, 0, "another header's close" },
};

static void test_framing(void **state)
{
	static struct http_head h;

	for (size_t i = 0; i < sizeof(framing_vecs) / sizeof(framing_vecs[0]); i++) {
		const struct framing_vec *v = &framing_vecs[i];
		struct http_framing f;
		size_t len = strlen(v->head);

		assert_int_equal(http_parse_response(v->head, len, &h), (int)len);
		http_framing(&h, &f);
		if (f.content_length != v->cl || f.chunked != v->chunked || f.close != v->close)
			fail_msg("framing vector %zu (%s): cl %lld chunked %d close %d", i, v->why,
				 (long long)f.content_length, f.chunked, f.close);
	}
}

/*
 * A value byte at every offset 0..40 of a value of every length (the
 * parser checks values 16 bytes a step, then 8, then one: each path and
 * each boundary between them is crossed), with and without the line's LF
 * yet.  Control bytes are kept, not errors (RFC 9110 5.5: a recipient may
 * keep them; an observer must not turn a sloppy server's answers into
 * failures).
 */
static void test_value_byte_every_offset(void **state)
{
	static const struct {
		unsigned char c;
		int ok;
	} bytes[] = {
		{ '\t', 1 }, { ' ', 1 }, { '~', 1 }, { 0x80, 1 }, { 0xff, 1 },
		{ 0x00, 1 }, { 0x01, 1 }, { 0x1b, 1 }, { 0x1f, 1 }, { 0x7f, 1 }, { '\r', 1 },
	};
	static struct http_head h;
	char buf[128];

	for (size_t b = 0; b < sizeof(bytes) / sizeof(bytes[0]); b++) {
		for (size_t vlen = 1; vlen <= 40; vlen++) {
			for (size_t at = 0; at < vlen; at++) {
				size_t n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nX-Y: ");
				size_t v0 = n, len;
				int r, want;

				memset(buf + n, 'v', vlen);
				buf[n + at] = (char)bytes[b].c;
				n += vlen;
				memcpy(buf + n, "\r\n\r\n", 4);
				len = n + 4;
				r = http_parse_response(guarded(buf, len), len, &h);
				/* a tab or space at an end is trimmed, not an error */
				want = bytes[b].ok ? (int)len : HTTP_ERROR;
				if (r != want)
					fail_msg("byte 0x%02x at %zu of %zu: got %d, want %d", bytes[b].c, at,
						 vlen, r, want);
				if (r > 0) {
					size_t s = 0, e = vlen;

					while (s < e && (buf[v0 + s] == ' ' || buf[v0 + s] == '\t'))
						s++;
					while (e > s && (buf[v0 + e - 1] == ' ' || buf[v0 + e - 1] == '\t'))
						e--;
					assert_int_equal(h.headers[0].value_len, e - s);
				}
				/* the same line without its end: more bytes may come */
				r = http_parse_response(guarded(buf, n), n, &h);
				if (r != HTTP_INCOMPLETE)
					fail_msg("byte 0x%02x at %zu of %zu, no LF: got %d", bytes[b].c, at,
						 vlen, r);
			}
		}
	}
}

/* The headers the parser recognises, whatever their case; near misses are
 * other headers; the first Host is the one. */
static void test_header_kinds(void **state)
{
	static const struct {
		const char *name;
		unsigned kind;
	} v[] = {
		{ "Host", HTTP_HK_HOST }, { "HOST", HTTP_HK_HOST }, { "hOsT", HTTP_HK_HOST },
		{ "Content-Length", HTTP_HK_CONTENT_LENGTH }, { "content-LENGTH", HTTP_HK_CONTENT_LENGTH },
		{ "Transfer-Encoding", HTTP_HK_TRANSFER_ENCODING },
		{ "TRANSFER-ENCODING", HTTP_HK_TRANSFER_ENCODING },
		{ "Connection", HTTP_HK_CONNECTION }, { "connection", HTTP_HK_CONNECTION },
		{ "Hosts", HTTP_HK_OTHER }, { "Hos", HTTP_HK_OTHER }, { "Hort", HTTP_HK_OTHER },
		{ "Content-Lengt", HTTP_HK_OTHER }, { "Content-Lengthh", HTTP_HK_OTHER },
		{ "Content_Length", HTTP_HK_OTHER }, { "Transfer-Encodinh", HTTP_HK_OTHER },
		{ "Connectio", HTTP_HK_OTHER }, { "Proxy-Connection", HTTP_HK_OTHER },
		{ "X-Host", HTTP_HK_OTHER },
	};
	static struct http_head h;
	char buf[256];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nA: 1\r\n%s: x%zu\r\n\r\n", v[i].name, i);
		const char *val;
		size_t vlen = 0;

		assert_int_equal(http_parse_request(guarded(buf, (size_t)n), (size_t)n, &h), n);
		assert_int_equal(h.nheaders, 2);
		if (h.kind[0] != HTTP_HK_OTHER || h.kind[1] != v[i].kind)
			fail_msg("%s: kind %u, want %u", v[i].name, h.kind[1], v[i].kind);
		val = http_header_kind(&h, v[i].kind, &vlen);
		if (v[i].kind == HTTP_HK_OTHER) {
			assert_null(val);
			continue;
		}
		assert_non_null(val);
		assert_ptr_equal(val, h.headers[1].value);
		/* the generic lookup agrees */
		assert_ptr_equal(http_header(&h, v[i].name, &vlen), val);
	}
	/* two Host headers: the first */
	{
		const char *in = "GET / HTTP/1.1\r\nhost: a\r\nHost: b\r\n\r\n";
		size_t len = strlen(in), vlen = 0;
		const char *val;

		assert_int_equal(http_parse_request(in, len, &h), (int)len);
		val = http_header_kind(&h, HTTP_HK_HOST, &vlen);
		assert_true(val && vlen == 1 && *val == 'a');
		assert_null(http_header_kind(&h, HTTP_HK_CONTENT_LENGTH, &vlen));
	}
}

/* ---- chunked ---- */

struct sink {
	char buf[256];
	size_t len;
};

static void sink_fn(void *ctx, const char *p, size_t len)
{
	struct sink *s = ctx;

	assert_true(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, len);
	s->len += len;
}

struct chunk_vec {
	const char *in;
	int result;		/* 1 done, 0 more, HTTP_ERROR */
	const char *body;
	const char *why;
};

static const struct chunk_vec chunk_vecs[] = {
	{ "5\r\nhello\r\n0\r\n\r\n", 1, "hello", "one chunk" },
	{ "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", 1, "hello", "two chunks" },
	{ "A\r\n0123456789\r\n0\r\n\r\n", 1, "0123456789", "hex size" },
	{ "5;ext=1\r\nhello\r\n0\r\n\r\n", 1, "hello", "chunk extension" },
	{ "5\r\nhello\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", 1, "hello", "trailers" },
	{ "5\nhello\n0\n\n", 1, "hello", "bare LF" },
	{ "5\r\nhel", 0, "hel", "cut in data" },
	{ "5\r\nhello\r\n0\r\n", 0, "hello", "final CRLF missing" },
	{ "x\r\n", HTTP_ERROR, "", "not hex" },
	{ "5\r\nhelloXX", HTTP_ERROR, "hello", "no CRLF after data" },
	{ "fffffffffffffffff\r\n", HTTP_ERROR, "", "size overflow" },
};

static void test_chunked(void **state)
{
	for (size_t i = 0; i < sizeof(chunk_vecs) / sizeof(chunk_vecs[0]); i++) {
		const struct chunk_vec *v = &chunk_vecs[i];
		struct http_chunked c;
		struct sink s = { .len = 0 };
		size_t used = 0, len = strlen(v->in);
		int r;

		http_chunked_init(&c);
		r = http_chunked_feed(&c, guarded(v->in, len), len, &used, sink_fn, &s);
		if (r != v->result || s.len != strlen(v->body) || memcmp(s.buf, v->body, s.len))
			fail_msg("chunk vector %zu (%s): got %d, body %.*s", i, v->why, r, (int)s.len, s.buf);
		if (r == 1)
			assert_int_equal(used, len);
	}
}

/* Chunked bodies split at every byte decode the same. */
static void test_chunked_split(void **state)
{
	static const char in[] = "4\r\nWiki\r\n6;x=y\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
	size_t len = sizeof(in) - 1;

	for (size_t cut = 0; cut <= len; cut++) {
		struct http_chunked c;
		struct sink s = { .len = 0 };
		size_t used = 0, used2 = 0;
		int r;

		http_chunked_init(&c);
		r = http_chunked_feed(&c, guarded(in, cut), cut, &used, sink_fn, &s);
		if (cut < len) {
			assert_int_equal(r, 0);
			assert_int_equal(used, cut);
			r = http_chunked_feed(&c, guarded(in + cut, len - cut), len - cut, &used2, sink_fn, &s);
		}
		assert_int_equal(r, 1);
		assert_int_equal(s.len, 24);
		assert_memory_equal(s.buf, "Wikipedia in \r\n\r\nchunks.", 24);
	}
}

static void test_chunked_gap(void **state)
{
	struct http_chunked c;
	size_t used;

	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, "a\r\n01", 5, &used, NULL, NULL), 0);
	assert_int_equal(http_chunked_gap(&c, 8), 0);	/* the rest of the data */
	assert_int_equal(http_chunked_feed(&c, "\r\n0\r\n\r\n", 7, &used, NULL, NULL), 1);
	http_chunked_init(&c);
	assert_int_equal(http_chunked_gap(&c, 1), HTTP_ERROR);	/* inside a size line */
}

/* ---- start-line recognition ---- */

struct start_vec {
	const char *in;
	int request;
	size_t expect;	/* offset, or (size_t)-1 for strlen (none) */
	const char *why;
};

static const struct start_vec start_vecs[] = {
	{ "GET / HTTP/1.1\r\n", 1, 0, "at the start" },
	{ "xx\r\nGET / HTTP/1.1\r\n", 1, 4, "after a line end" },
	{ "xxGET / HTTP/1.1\r\n", 1, (size_t)-1, "not at a line start" },
	{ "binary\nFOO / HTTP/1.1\r\n", 1, (size_t)-1, "unknown method" },
	{ "body\r\nHTTP/1.1 200 OK\r\n", 0, 6, "response after body" },
	{ "HTTP/1.1 2", 0, 0, "cut start counts" },
	{ "\nPOST", 1, 1, "cut method counts" },
};

static void test_find_start(void **state)
{
	for (size_t i = 0; i < sizeof(start_vecs) / sizeof(start_vecs[0]); i++) {
		const struct start_vec *v = &start_vecs[i];
		size_t len = strlen(v->in);
		size_t want = v->expect == (size_t)-1 ? len : v->expect;
		size_t got = http_find_start(guarded(v->in, len), len, v->request);

		if (got != want)
			fail_msg("start vector %zu (%s): got %zu want %zu", i, v->why, got, want);
	}
}

/* ---- Redis ---- */

struct resp_vec {
	const char *in;
	int ncmds;
	const char *summary;	/* of the last command */
	const char *why;
};

static const struct resp_vec resp_cmd_vecs[] = {
	{ "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 1, "GET key", "get" },
	{ "*3\r\n$3\r\nset\r\n$4\r\nuser\r\n$1\r\nx\r\n", 1, "SET user", "lowercase name uppercased" },
	{ "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 2, "GET a", "pipelined" },
	{ "PING\r\n", 1, "PING", "inline" },
	{ "*2\r\n$3\r\nGET\r\n$4\r\na\x1b[m\r\n", 1, "GET a\\x1b[m", "escape sequence escaped" },
};

static void test_resp(void **state)
{
	for (size_t i = 0; i < sizeof(resp_cmd_vecs) / sizeof(resp_cmd_vecs[0]); i++) {
		const struct resp_vec *v = &resp_cmd_vecs[i];
		struct resp_cmd d;
		const uint8_t *p = (const uint8_t *)guarded(v->in, strlen(v->in));
		size_t len = strlen(v->in), used;
		int n = 0;
		char sum[128] = "";

		resp_cmd_init(&d);
		while (len) {
			int r = resp_cmd_feed(&d, p, len, &used);

			p += used;
			len -= used;
			if (r == RESP_CMD_DONE) {
				n++;
				resp_cmd_summary(&d, sum, sizeof(sum));
			}
		}
		if (n != v->ncmds || strcmp(sum, v->summary))
			fail_msg("resp vector %zu (%s): %d commands, summary '%s'", i, v->why, n, sum);
	}
}

struct reply_vec {
	const char *in;
	int nreplies, last_error;
	const char *why;
};

static const struct reply_vec reply_vecs[] = {
	{ "+OK\r\n", 1, 0, "simple" },
	{ "-ERR no\r\n", 1, 1, "error" },
	{ "$3\r\nabc\r\n:1\r\n", 2, 0, "bulk then integer" },
	{ "$-1\r\n", 1, 0, "null bulk" },
	{ "*2\r\n$1\r\na\r\n*1\r\n:5\r\n", 1, 0, "nested array" },
	{ "*0\r\n", 1, 0, "empty array" },
	{ "%1\r\n+k\r\n+v\r\n", 1, 0, "RESP3 map" },
	{ "$5\r\nab", 0, 0, "bulk cut" },
	{ "?\r\n", 0, 0, "junk: lost" },
};

static void test_resp_reply(void **state)
{
	for (size_t i = 0; i < sizeof(reply_vecs) / sizeof(reply_vecs[0]); i++) {
		const struct reply_vec *v = &reply_vecs[i];
		struct resp_reply d;
		size_t len = strlen(v->in), used;
		const uint8_t *p = (const uint8_t *)guarded(v->in, len);
		int n = 0, err = 0, last = 0;

		resp_reply_init(&d);
		while (len) {
			if (resp_reply_feed(&d, p, len, &used, &err) == 1) {
				n++;
				last = err;
			}
			p += used;
			len -= used;
		}
		if (n != v->nreplies || last != v->last_error)
			fail_msg("reply vector %zu (%s): %d replies", i, v->why, n);
	}
}

/* ---- PostgreSQL ---- */

static size_t pg_msg(uint8_t *b, char type, const void *body, size_t len)
{
	uint32_t l = (uint32_t)len + 4;

	b[0] = (uint8_t)type;
	b[1] = (uint8_t)(l >> 24);
	b[2] = (uint8_t)(l >> 16);
	b[3] = (uint8_t)(l >> 8);
	b[4] = (uint8_t)l;
	memcpy(b + 5, body, len);
	return len + 5;
}

static void test_pg(void **state)
{
	uint8_t b[512];
	size_t n = 0, used;
	struct pg_stream d;
	char sum[PG_SQL_CAP + 8];
	int starts = 0, dones = 0;
	const uint8_t *p;

	/* startup (untyped), then a simple query and an extended Parse */
	static const uint8_t startup[] = { 0, 0, 0, 16, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0 };

	memcpy(b, startup, sizeof(startup));
	n = sizeof(startup);
	n += pg_msg(b + n, 'Q', "SELECT 1;\0", 10);
	n += pg_msg(b + n, 'P', "s1\0SELECT *\nFROM t WHERE id=$1\0\0\0", 33);
	n += pg_msg(b + n, 'S', "", 0);
	assert_int_equal(proto_detect_client(b, n, 0), HTC_PROTO_POSTGRES);

	pg_init(&d, 0, 1);
	p = b;
	while (n || d.pending_done) {
		int r = pg_feed(&d, p, n, &used);

		p += used;
		n -= used;
		if (r == PG_NONE)
			break;
		if (r == PG_MSG_START)
			starts++;
		if (r == PG_MSG_DONE) {
			dones++;
			if (d.type == 'Q') {
				pg_summary(&d, sum, sizeof(sum));
				assert_string_equal(sum, "SELECT 1");
			} else if (d.type == 'P') {
				pg_summary(&d, sum, sizeof(sum));
				assert_string_equal(sum, "SELECT * FROM t WHERE id=$1");
			}
		}
	}
	assert_int_equal(starts, 4);
	assert_int_equal(dones, 4);

	/* a length below the minimum loses the stream, never loops */
	pg_init(&d, 0, 0);
	memcpy(b, "Q\0\0\0\x02", 5);
	assert_int_equal(pg_feed(&d, b, 5, &used), PG_NONE);
	assert_true(d.lost);
}

static void test_detect_escape(void **state)
{
	char out[64];

	assert_int_equal(proto_detect_client((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 80), HTC_PROTO_HTTP);
	assert_int_equal(proto_detect_client((const uint8_t *)"*1\r\n", 4, 1234), HTC_PROTO_REDIS);
	assert_int_equal(proto_detect_client((const uint8_t *)"\x16\x03\x01\x00", 4, 443), HTC_PROTO_TLS);
	assert_int_equal(proto_detect_client((const uint8_t *)"hello", 5, 6379), HTC_PROTO_REDIS);
	assert_int_equal(proto_detect_client((const uint8_t *)"hello", 5, 7000), HTC_PROTO_UNKNOWN);

	proto_escape(out, sizeof(out), (const uint8_t *)"a\x1b[31m\\\n\0z", 10);
	assert_string_equal(out, "a\\x1b[31m\\\\\\x0a\\x00z");
	/* never cuts an escape in half */
	proto_escape(out, 4, (const uint8_t *)"ab\x01", 3);
	assert_string_equal(out, "ab");
}

/* A ClientHello built by hand: SNI found; every truncation is safe. */
static void test_tls_sni(void **state)
{
	uint8_t h[128];
	size_t n = 0, ext, hs;
	char out[64];
	static const char name[] = "api.example.com";
	size_t nl = sizeof(name) - 1;

	h[n++] = 0x16; h[n++] = 3; h[n++] = 1; n += 2;		/* record, length later */
	hs = n;
	h[n++] = 1; n += 3;					/* ClientHello, length later */
	h[n++] = 3; h[n++] = 3;
	memset(h + n, 0xab, 32); n += 32;			/* random */
	h[n++] = 0;						/* session id */
	h[n++] = 0; h[n++] = 2; h[n++] = 0x13; h[n++] = 0x01;	/* one cipher suite */
	h[n++] = 1; h[n++] = 0;					/* null compression */
	ext = n; n += 2;
	h[n++] = 0xff; h[n++] = 0x01; h[n++] = 0; h[n++] = 1; h[n++] = 0;	/* renegotiation_info */
	h[n++] = 0; h[n++] = 0; h[n++] = 0; h[n++] = (uint8_t)(nl + 5);	/* server_name */
	h[n++] = 0; h[n++] = (uint8_t)(nl + 3); h[n++] = 0; h[n++] = 0; h[n++] = (uint8_t)nl;
	memcpy(h + n, name, nl); n += nl;
	h[ext] = 0; h[ext + 1] = (uint8_t)(n - ext - 2);
	h[3] = 0; h[4] = (uint8_t)(n - 5);
	h[hs + 1] = 0; h[hs + 2] = 0; h[hs + 3] = (uint8_t)(n - hs - 4);

	assert_int_equal(proto_detect_client(h, n, 443), HTC_PROTO_TLS);
	assert_int_equal(proto_tls_sni((const uint8_t *)guarded(h, n), n, out, sizeof(out)), 1);
	assert_string_equal(out, name);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(proto_tls_sni((const uint8_t *)guarded(h, k), k, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_vectors),
		cmocka_unit_test(test_response_vectors),
		cmocka_unit_test(test_truncation_every_byte),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_value_byte_every_offset),
		cmocka_unit_test(test_header_kinds),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_split),
		cmocka_unit_test(test_chunked_gap),
		cmocka_unit_test(test_find_start),
		cmocka_unit_test(test_resp),
		cmocka_unit_test(test_resp_reply),
		cmocka_unit_test(test_pg),
		cmocka_unit_test(test_detect_escape),
		cmocka_unit_test(test_tls_sni),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
