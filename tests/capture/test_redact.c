// SPDX-License-Identifier: MIT
/*
 * test_redact.c - unit tests of capture/redact.c, the streaming redactor of
 * secret HTTP header values.
 *
 * Table-driven: each vector is an input stream and the stream expected after
 * redaction ('*' where a secret was), with a one-line reason.  Every vector
 * is run whole, split in two at every byte, and fed one byte at a time,
 * since the redactor must give the same bytes whatever the split.  Inputs
 * sit just before a PROT_NONE guard page so a one-byte over-read crashes.
 * Property tests over generated streams and random bytes check the
 * invariants: no secret survives, only '*' is ever written, CR/LF and
 * lengths never change, hostile input never crashes.
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

#include "../../capture/redact.h"

/* ---- guard-page buffers ---- */

struct guarded {
	uint8_t *map;
	size_t map_len;	/* 0: the shared arena, not to unmap */
	uint8_t *data;	/* len bytes ending right at the guard page */
};

#define ARENA_PAGES 16

/* One mapping reused for small inputs: mapping a page per payload would
 * make the split-at-every-byte loops slow. */
static uint8_t *arena;
static size_t arena_len;

/* Copy len bytes so that the byte after the last one is unreadable. */
static struct guarded guard_copy(const void *src, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct guarded g = { 0 };

	if (!arena) {
		arena_len = ARENA_PAGES * pg;
		arena = mmap(NULL, arena_len + pg, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(arena != MAP_FAILED);
		assert_int_equal(mprotect(arena + arena_len, pg, PROT_NONE), 0);
	}
	if (len <= arena_len) {
		g.data = arena + arena_len - len;
	} else {
		size_t data_pages = (len + pg - 1) / pg;

		g.map_len = (data_pages + 1) * pg;
		g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(g.map != MAP_FAILED);
		assert_int_equal(mprotect(g.map + data_pages * pg, pg, PROT_NONE), 0);
		g.data = g.map + data_pages * pg - len;
	}
	if (len)
		memcpy(g.data, src, len);
	return g;
}

static void guard_free(struct guarded *g)
{
	if (g->map_len)
		munmap(g->map, g->map_len);
}

/* Redact src (len bytes) as payloads cut at the offsets in cuts[] (sorted,
 * 0 < cut < len), each payload in its own guarded buffer.  out gets the
 * concatenated result; returns the sum of redact_payload()'s counts. */
static size_t redact_cut(const char *src, size_t len, const size_t *cuts, size_t ncuts, char *out)
{
	struct redact_state st = { 0 };
	size_t start = 0, total = 0;

	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		struct guarded g = guard_copy(src + start, end - start);

		total += redact_payload(&st, g.data, end - start);
		memcpy(out + start, g.data, end - start);
		guard_free(&g);
		start = end;
	}
	return total;
}

static size_t count_stars_changed(const char *in, const char *out, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (in[i] != out[i])
			n++;
	return n;
}

/* ---- vectors ---- */

struct vector {
	const char *reason;
	const char *in;
	const char *want;
	size_t len;	/* of in and want; literals may hold NUL bytes */
};

/* V(reason, in, want): sizeof counts the NULs inside a literal, strlen would not */
#define V(r, i, w) { r, i, w, sizeof(i) - 1 + 0 * sizeof(char[sizeof(i) == sizeof(w) ? 1 : -1]) }

#define REQ(h) "GET /a HTTP/1.1\r\nHost: example.com\r\n" h "Accept: */*\r\n\r\n"

static const struct vector vectors[] = {
	V("no secret: unchanged",
	  REQ(""), REQ("")),
	V("Authorization bearer token",
	  REQ("Authorization: Bearer abc.def.ghi\r\n"),
	  REQ("Authorization: ******************\r\n")),
	V("Basic credentials, no blank after colon",
	  REQ("Authorization:Basic dXNlcjpwYXNz\r\n"),
	  REQ("Authorization:******************\r\n")),
	V("several blanks and a tab after the colon are kept",
	  REQ("Cookie: \t  a=1; b=2\r\n"),
	  REQ("Cookie: \t  ********\r\n")),
	V("lower case names",
	  REQ("authorization: x\r\ncookie: y\r\n"),
	  REQ("authorization: *\r\ncookie: *\r\n")),
	V("upper case names",
	  REQ("AUTHORIZATION: x\r\nX-API-KEY: k\r\n"),
	  REQ("AUTHORIZATION: *\r\nX-API-KEY: *\r\n")),
	V("proxy authorization and api keys",
	  REQ("Proxy-Authorization: Basic Zm9v\r\nX-Api-Key: 123\r\nApi-Key: 456\r\nApiKey: 7\r\n"),
	  REQ("Proxy-Authorization: **********\r\nX-Api-Key: ***\r\nApi-Key: ***\r\nApiKey: *\r\n")),
	V("tokens of several vendors",
	  REQ("X-Auth-Token: t1\r\nX-Amz-Security-Token: t2\r\nPrivate-Token: t3\r\nX-Vault-Token: t4\r\n"),
	  REQ("X-Auth-Token: **\r\nX-Amz-Security-Token: **\r\nPrivate-Token: **\r\nX-Vault-Token: **\r\n")),
	V("underscore names (behind proxies)",
	  REQ("X_API_KEY: k\r\n"),
	  REQ("X_API_KEY: *\r\n")),
	V("empty secret value",
	  REQ("Authorization:\r\nCookie: \r\n"),
	  REQ("Authorization:\r\nCookie: \r\n")),
	V("blank before the colon still counts",
	  REQ("Authorization : x\r\n"),
	  REQ("Authorization : *\r\n")),
	V("bare LF line ends",
	  "GET / HTTP/1.1\nAuthorization: abc\nHost: x\n\n",
	  "GET / HTTP/1.1\nAuthorization: ***\nHost: x\n\n"),
	V("obs-fold continuation of a secret is redacted",
	  REQ("Cookie: a=1;\r\n b=2\r\n"),
	  REQ("Cookie: ****\r\n ***\r\n")),
	V("obs-fold continuation of a plain header is kept",
	  REQ("X-Note: a\r\n b\r\n"),
	  REQ("X-Note: a\r\n b\r\n")),
	V("a bare CR inside a value does not end it",
	  REQ("Cookie: a\rb\r\n"),
	  REQ("Cookie: *\r*\r\n")),
	V("header names that are not secret",
	  REQ("User-Agent: curl\r\nContent-Type: text/plain\r\nIdempotency-Key: k\r\nSec-WebSocket-Key: w\r\nX-Request-Id: r\r\n"),
	  REQ("User-Agent: curl\r\nContent-Type: text/plain\r\nIdempotency-Key: k\r\nSec-WebSocket-Key: w\r\nX-Request-Id: r\r\n")),
	V("the secret word in a value is not a secret name",
	  REQ("X-Note: Authorization: abc\r\n"),
	  REQ("X-Note: Authorization: abc\r\n")),
	V("response Set-Cookie",
	  "HTTP/1.1 200 OK\r\nSet-Cookie: sid=42; HttpOnly\r\nContent-Length: 2\r\n\r\nok",
	  "HTTP/1.1 200 OK\r\nSet-Cookie: ****************\r\nContent-Length: 2\r\n\r\nok"),
	V("pipelined requests, each redacted",
	  "GET /1 HTTP/1.1\r\nCookie: one\r\n\r\nGET /2 HTTP/1.1\r\nCookie: two\r\n\r\n"
	  "POST /3 HTTP/1.1\r\nContent-Length: 3\r\nAuthorization: three\r\n\r\nabc"
	  "GET /4 HTTP/1.1\r\nX-Api-Key: four\r\n\r\n",
	  "GET /1 HTTP/1.1\r\nCookie: ***\r\n\r\nGET /2 HTTP/1.1\r\nCookie: ***\r\n\r\n"
	  "POST /3 HTTP/1.1\r\nContent-Length: 3\r\nAuthorization: *****\r\n\r\nabc"
	  "GET /4 HTTP/1.1\r\nX-Api-Key: ****\r\n\r\n"),
	V("a body that looks like headers is body, and the next request is parsed",
	  "POST /f HTTP/1.1\r\nContent-Length: 38\r\n\r\n"
	  "Authorization: bodytext\r\nCookie: k\r\n\r\n"
	  "GET /n HTTP/1.1\r\nAuthorization: real\r\n\r\n",
	  "POST /f HTTP/1.1\r\nContent-Length: 38\r\n\r\n"
	  "Authorization: bodytext\r\nCookie: k\r\n\r\n"
	  "GET /n HTTP/1.1\r\nAuthorization: ****\r\n\r\n"),
	V("chunked body that looks like headers, trailers redacted",
	  "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "12\r\nCookie: in-body\r\n\r\n\r\n"
	  "3;ext=1\r\nabc\r\n0\r\nX-Auth-Token: trailer\r\n\r\n"
	  "GET /n HTTP/1.1\r\nCookie: next\r\n\r\n",
	  "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "12\r\nCookie: in-body\r\n\r\n\r\n"
	  "3;ext=1\r\nabc\r\n0\r\nX-Auth-Token: *******\r\n\r\n"
	  "GET /n HTTP/1.1\r\nCookie: ****\r\n\r\n"),
	V("Transfer-Encoding list with chunked last, upper case",
	  "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\n"
	  "5\r\nCook:\r\n0\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: b\r\nContent-Length: 0\r\n\r\n",
	  "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\n"
	  "5\r\nCook:\r\n0\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: *\r\nContent-Length: 0\r\n\r\n"),
	V("responses without a body: 204, 304, 1xx",
	  "HTTP/1.1 100 Continue\r\n\r\n"
	  "HTTP/1.1 204 No Content\r\nSet-Cookie: a\r\n\r\n"
	  "HTTP/1.1 304 Not Modified\r\nSet-Cookie: b\r\nContent-Length: 10\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: c\r\n\r\nbody until close\r\nSet-Cookie: body\r\n",
	  "HTTP/1.1 100 Continue\r\n\r\n"
	  "HTTP/1.1 204 No Content\r\nSet-Cookie: *\r\n\r\n"
	  "HTTP/1.1 304 Not Modified\r\nSet-Cookie: *\r\nContent-Length: 10\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: *\r\n\r\nbody until close\r\nSet-Cookie: body\r\n"),
	V("answer to HEAD: Content-Length without a body, next response follows",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: next\r\nContent-Length: 0\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: ****\r\nContent-Length: 0\r\n\r\n"),
	V("answer to HEAD announcing a chunked body, next response follows",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: next\r\nContent-Length: 4\r\n\r\nbody",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nSet-Cookie: ****\r\nContent-Length: 4\r\n\r\nbody"),
	V("leading empty lines before a request are skipped",
	  "\r\n\r\nGET / HTTP/1.1\r\nCookie: x\r\n\r\n",
	  "\r\n\r\nGET / HTTP/1.1\r\nCookie: *\r\n\r\n"),
	V("not HTTP: secret-looking lines are still hidden, and Redis AUTH's password",
	  "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\ntoken: abc\r\nauthorization: x\r\n",
	  "*2\r\n$4\r\nAUTH\r\n$6\r\n******\r\n*1\r\ntoken: ***\r\nauthorization: *\r\n"),
	V("Redis: AUTH user pass, pipelined with a GET whose value is kept",
	  "*3\r\n$4\r\nauth\r\n$3\r\napp\r\n$2\r\npw\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
	  "*3\r\n$4\r\nauth\r\n$3\r\n***\r\n$2\r\n**\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"),
	V("Redis: HELLO 3 AUTH user pass",
	  "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$3\r\npw1\r\n",
	  "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\n*\r\n$3\r\n***\r\n"),
	V("PostgreSQL: a cleartext/MD5 PasswordMessage overwritten, the query kept",
	  "\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00""\x0c""hunter2\x00""Q\x00""\x00""\x00""\x0d""SELECT 1\x00""",
	  "\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00""\x0c""********Q\x00""\x00""\x00""\x0d""SELECT 1\x00"""),
	V("PostgreSQL: after a refused SSLRequest, the startup and password",
	  "\x00""\x00""\x00""\x08""\x04""\xd2""\x16""/\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00""\x0c""hunter2\x00""",
	  "\x00""\x00""\x00""\x08""\x04""\xd2""\x16""/\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00""\x0c""********"),
	V("PostgreSQL: a SCRAM SASLInitialResponse overwritten",
	  "\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00"" SCRAM-SHA-256\x00""\x00""\x00""\x00""\x0a""n,,n=,r=abQ\x00""\x00""\x00""\x0d""SELECT 1\x00""",
	  "\x00""\x00""\x00""\x1e""\x00""\x03""\x00""\x00""user\x00""app\x00""database\x00""db\x00""\x00""p\x00""\x00""\x00"" ****************************Q\x00""\x00""\x00""\x0d""SELECT 1\x00"""),
	V("Redis: inline AUTH",
	  "AUTH s3cret\r\nPING\r\n",
	  "AUTH ******\r\nPING\r\n"),
	V("invalid Content-Length: scan mode still redacts",
	  "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\nxyz\r\nCookie: c\r\n",
	  "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\nxyz\r\nCookie: *\r\n"),
	V("bad chunk size: scan mode still redacts",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nSet-Cookie: s\r\n",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nSet-Cookie: *\r\n"),
	V("NUL inside a secret name still matches",
	  REQ("Auth\0orization: v\r\n"),
	  REQ("Auth\0orization: *\r\n")),
	V("NUL and control bytes inside a secret value are overwritten",
	  REQ("Cookie: a\0b\x1b[2J\r\n"),
	  REQ("Cookie: *******\r\n")),
	V("line without colon is skipped",
	  REQ("garbage line\r\nCookie: z\r\n"),
	  REQ("garbage line\r\nCookie: *\r\n")),
	V("HTTP/1.0 response",
	  "HTTP/1.0 200 OK\r\nSet-Cookie: old\r\nContent-Length: 3\r\n\r\nabc",
	  "HTTP/1.0 200 OK\r\nSet-Cookie: ***\r\nContent-Length: 3\r\n\r\nabc"),
	V("duplicate Content-Length, list form",
	  "POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\nbodyGET / HTTP/1.1\r\nCookie: q\r\n\r\n",
	  "POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\nbodyGET / HTTP/1.1\r\nCookie: *\r\n\r\n"),
	/* secrets in a request's query string (issue 21): the value of a
	 * parameter whose name is secret by the header rule */
	V("query: token and access_token, others kept",
	  "GET /cb?token=abc123&x=1&access_token=zz9 HTTP/1.1\r\nHost: h\r\n\r\n",
	  "GET /cb?token=******&x=1&access_token=*** HTTP/1.1\r\nHost: h\r\n\r\n"),
	V("query: api_key, API-KEY, password, client_secret, ';' separator",
	  "GET /a?api_key=k1;API-KEY=k2&password=hunter2&client_secret=s HTTP/1.1\r\n\r\n",
	  "GET /a?api_key=**;API-KEY=**&password=*******&client_secret=* HTTP/1.1\r\n\r\n"),
	V("query: a secret word in a value or in the path is no secret",
	  "GET /token/x?q=token&page=2 HTTP/1.1\r\n\r\n",
	  "GET /token/x?q=token&page=2 HTTP/1.1\r\n\r\n"),
	V("query: a name without value, an empty value, the last parameter",
	  "GET /?token&sessionid=&sid=1&session=s2 HTTP/1.1\r\n\r\n",
	  "GET /?token&sessionid=&sid=1&session=** HTTP/1.1\r\n\r\n"),
	V("query: pipelined requests, a header secret after a query secret",
	  "GET /1?token=a HTTP/1.1\r\nCookie: c\r\n\r\nGET /2?p=1&passwd=b HTTP/1.1\r\n\r\n",
	  "GET /1?token=* HTTP/1.1\r\nCookie: *\r\n\r\nGET /2?p=1&passwd=* HTTP/1.1\r\n\r\n"),
	V("query: a response's status line is not a target",
	  "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
	  "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
	/* secrets in JSON and form bodies (issue 21): string values (and
	 * arrays of strings) of fields whose name is secret by the header rule */
	V("JSON body: a secret key's string value, others kept",
	  "POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n{\"user\": \"bob\", \"password\": \"hunter2\", \"n\": 1}",
	  "POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n{\"user\": \"bob\", \"password\": \"*******\", \"n\": 1}"),
	V("JSON body: camelCase, escapes, numbers and null kept, arrays of strings, secret word as a value",
	  "POST /login HTTP/1.1\r\nContent-Type: application/vnd.api+json; charset=utf-8\r\nContent-Length: 115\r\n\r\n{\"apiKey\":\"k-1\",\"client_secret\" : \"s\\\"x\\\\y\",\"token\":123,\"refresh_token\":null,\"tokens\":[\"a\",\"bc\"],\"note\":\"password\"}",
	  "POST /login HTTP/1.1\r\nContent-Type: application/vnd.api+json; charset=utf-8\r\nContent-Length: 115\r\n\r\n{\"apiKey\":\"***\",\"client_secret\" : \"*******\",\"token\":123,\"refresh_token\":null,\"tokens\":[\"*\",\"**\"],\"note\":\"password\"}"),
	V("JSON body without Content-Type, sniffed; nested object",
	  "POST /login HTTP/1.1\r\nContent-Length: 60\r\n\r\n  {\"a\": {\"session_id\": \"zz\", \"b\": [1, \"x\"]}, \"pass\": \"kept\"}",
	  "POST /login HTTP/1.1\r\nContent-Length: 60\r\n\r\n  {\"a\": {\"session_id\": \"**\", \"b\": [1, \"x\"]}, \"pass\": \"kept\"}"),
	V("a text/plain body is not looked into",
	  "POST /login HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\n{\"password\": \"notjson\"}",
	  "POST /login HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\n{\"password\": \"notjson\"}"),
	V("form body: secret fields' values",
	  "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nuser=bob&password=hunter2&api_key=k9&x=1",
	  "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nuser=bob&password=*******&api_key=**&x=1"),
	V("chunked JSON response: a token split across chunks",
	  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"access_tok\r\n10\r\nen\": \"eyJhbGciOi\r\n18\r\nJ9\", \"expires_in\": 3600}\r\n0\r\n\r\n",
	  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"access_tok\r\n10\r\nen\": \"**********\r\n18\r\n**\", \"expires_in\": 3600}\r\n0\r\n\r\n"),
	V("content type is per message: the next body without one is not a form",
	  "POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"secret\":\"s1\"}PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nsecret=keep",
	  "POST /login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"secret\":\"**\"}PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nsecret=keep"),
	V("JSON response delimited by the close",
	  "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id_token\": \"abc\"}",
	  "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id_token\": \"***\"}"),
};

#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

static void check_vector(const struct vector *v, size_t len)
{
	char *out = malloc(len + 1);
	size_t cuts[2];

	assert_non_null(out);
	/* whole */
	size_t n = redact_cut(v->in, len, NULL, 0, out);
	if (memcmp(out, v->want, len) != 0) {
		print_error("vector '%s' (whole):\n got  %.*s\n want %.*s\n", v->reason,
			    (int)len, out, (int)len, v->want);
		fail();
	}
	assert_int_equal(n, count_stars_changed(v->in, v->want, len));

	/* every split in two */
	for (size_t c = 1; c < len; c++) {
		cuts[0] = c;
		n = redact_cut(v->in, len, cuts, 1, out);
		if (memcmp(out, v->want, len) != 0) {
			print_error("vector '%s' split at %zu:\n got  %.*s\n want %.*s\n", v->reason,
				    c, (int)len, out, (int)len, v->want);
			fail();
		}
	}

	/* one byte at a time */
	{
		struct redact_state st = { 0 };

		for (size_t i = 0; i < len; i++) {
			uint8_t b = (uint8_t)v->in[i];

			redact_payload(&st, &b, 1);
			out[i] = (char)b;
		}
		if (memcmp(out, v->want, len) != 0) {
			print_error("vector '%s' byte by byte:\n got  %.*s\n want %.*s\n", v->reason,
				    (int)len, out, (int)len, v->want);
			fail();
		}
	}
	free(out);
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t k = 0; k < NVEC; k++)
		check_vector(&vectors[k], vectors[k].len);
}

/* Three-way splits of a pipelined exchange: every (a, b) pair. */
static void test_three_way_splits(void **state)
{
	const struct vector *v = NULL;
	size_t len, cuts[2];
	char *out;

	(void)state;
	for (size_t k = 0; k < NVEC && !v; k++)
		if (strstr(vectors[k].reason, "pipelined"))
			v = &vectors[k];
	assert_non_null(v);
	len = v->len;
	out = malloc(len);
	assert_non_null(out);
	for (size_t a = 1; a < len; a++)
		for (size_t b = a + 1; b < len; b++) {
			cuts[0] = a;
			cuts[1] = b;
			redact_cut(v->in, len, cuts, 2, out);
			if (memcmp(out, v->want, len) != 0) {
				print_error("split at %zu,%zu:\n got  %.*s\n", a, b, (int)len, out);
				fail();
			}
		}
	free(out);
}

/* ---- every secret header name, in every case, split at every byte ---- */

static const char *const secret_names[] = {
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Set-Cookie2",
	"X-API-Key", "X-Api-Key", "Api-Key", "ApiKey", "X-Auth-Token", "X-Access-Token",
	"X-Amz-Security-Token", "X-Goog-Api-Key", "Private-Token", "X-Vault-Token",
	"X-CSRF-Token", "X-Session-Id", "X-Client-Secret", "X-Password", "X-Credentials",
	"Authentication", "X-Authorization",
};

static const char *const plain_names[] = {
	"Host", "User-Agent", "Accept", "Content-Type", "Content-Length", "X-Request-Id",
	"Idempotency-Key", "Sec-WebSocket-Key", "Referer", "Location", "Cache-Control",
	"X-Forwarded-For", "Traceparent", "ETag",
};

/* name with its case changed: 0 as is, 1 lower, 2 upper, 3 alternating */
static void recase(char *dst, const char *src, int mode)
{
	size_t i;

	for (i = 0; src[i]; i++) {
		char c = src[i];

		if (mode == 1 || (mode == 3 && i % 2))
			c = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		else if (mode == 2 || mode == 3)
			c = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
		dst[i] = c;
	}
	dst[i] = '\0';
}

static void check_header(const char *name, int secret, int response)
{
	char in[512], want[512], *out;
	const char *value = "v4lue-0f_the.s3cret/+=";
	const char *stars = "**********************";
	size_t len, cuts[1];

	snprintf(in, sizeof(in), "%s\r\nX-Pre: 1\r\n%s: %s\r\nX-Post: 2\r\n\r\n",
		 response ? "HTTP/1.1 200 OK" : "GET /p?q=1 HTTP/1.1", name, value);
	snprintf(want, sizeof(want), "%s\r\nX-Pre: 1\r\n%s: %s\r\nX-Post: 2\r\n\r\n",
		 response ? "HTTP/1.1 200 OK" : "GET /p?q=1 HTTP/1.1", name,
		 secret ? stars : value);
	if (strcasecmp(name, "content-length") == 0) {
		/* a plain header, but its value must frame a body */
		snprintf(in, sizeof(in), "%s\r\n%s: 0\r\n\r\n",
			 response ? "HTTP/1.1 200 OK" : "GET /p HTTP/1.1", name);
		strcpy(want, in);
	}
	len = strlen(in);
	out = malloc(len);
	assert_non_null(out);
	assert_int_equal(redact_is_secret_name(name, strlen(name)), secret);
	for (size_t c = 0; c < len; c++) {
		cuts[0] = c;
		redact_cut(in, len, cuts, c ? 1 : 0, out);
		if (memcmp(out, want, len) != 0) {
			print_error("header '%s' split at %zu:\n got  %.*s\n want %s\n", name, c,
				    (int)len, out, want);
			fail();
		}
		if (secret)
			assert_null(memmem(out, len, value, strlen(value)));
	}
	free(out);
}

static void test_every_secret_header(void **state)
{
	char name[64];

	(void)state;
	for (size_t k = 0; k < sizeof(secret_names) / sizeof(secret_names[0]); k++)
		for (int mode = 0; mode < 4; mode++)
			for (int resp = 0; resp < 2; resp++) {
				recase(name, secret_names[k], mode);
				check_header(name, 1, resp);
			}
}

static void test_plain_headers_kept(void **state)
{
	char name[64];

	(void)state;
	for (size_t k = 0; k < sizeof(plain_names) / sizeof(plain_names[0]); k++)
		for (int mode = 0; mode < 4; mode++) {
			recase(name, plain_names[k], mode);
			check_header(name, 0, mode & 1);
		}
}

/* ---- gaps: snaplen, drops, sendfile ---- */

struct gap_vector {
	const char *reason;
	const char *parts[4];	/* captured payloads, in order */
	uint64_t skip[4];	/* bytes not captured after each part */
	const char *want[4];
};

static const struct gap_vector gap_vectors[] = {
	{ "snaplen cut inside a secret value: its tail is hidden",
	  { "GET / HTTP/1.1\r\nAuthorization: Bea", "rest-of-token\r\nHost: x\r\n\r\n" },
	  { 40, 0 },
	  { "GET / HTTP/1.1\r\nAuthorization: ***", "*************\r\nHost: x\r\n\r\n" } },
	{ "snaplen cut inside a secret name: its value is hidden",
	  { "GET / HTTP/1.1\r\nAuthori", "abc\r\nHost: x\r\n\r\n" },
	  { 12, 0 },
	  { "GET / HTTP/1.1\r\nAuthori", "***\r\nHost: x\r\n\r\n" } },
	{ "gap then a new request: back in sync",
	  { "GET / HTTP/1.1\r\nHost: x\r\nCook", "GET /2 HTTP/1.1\r\nHost: y\r\nCookie: c\r\n\r\n" },
	  { 100, 0 },
	  { "GET / HTTP/1.1\r\nHost: x\r\nCook", "GET /2 HTTP/1.1\r\nHost: y\r\nCookie: *\r\n\r\n" } },
	{ "gap inside a Content-Length body is exact",
	  { "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01", "89", "GET / HTTP/1.1\r\nCookie: c\r\n\r\n" },
	  { 6, 0, 0 },
	  { "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01", "89", "GET / HTTP/1.1\r\nCookie: *\r\n\r\n" } },
	{ "sendfile body then the next response on the connection",
	  { "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n", "HTTP/1.1 200 OK\r\nSet-Cookie: s\r\nContent-Length: 0\r\n\r\n" },
	  { 4096, 0 },
	  { "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n", "HTTP/1.1 200 OK\r\nSet-Cookie: *\r\nContent-Length: 0\r\n\r\n" } },
	{ "gap inside chunk data is exact",
	  { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123", "CDEF\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\nSet-Cookie: t\r\n\r\n" },
	  { 8, 0, 0 },
	  { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123", "CDEF\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\nSet-Cookie: *\r\n\r\n" } },
	{ "body truncated by snaplen, larger than its length: binary tail kept",
	  { "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "\x01\x02 binary\r\nmore" },
	  { 100, 0 },
	  { "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "\x01\x02 binary\r\nmore" } },
	{ "lost place, text fragment after a gap is hidden up to its line end",
	  { "GET / HTTP/1.1\r\nX-Long: aaaa", "tail of something\r\nCookie: c\r\nX-Ok: 1\r\n" },
	  { 5000, 0 },
	  { "GET / HTTP/1.1\r\nX-Long: aaaa", "*****************\r\nCookie: *\r\nX-Ok: 1\r\n" } },
	/* issue 13, defect 6: no false redaction after uncaptured body bytes */
	{ "gap past a chunk's end: the next chunk's size and data are not starred",
	  { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123", "fff4\r\nsome body text\r\n" },
	  { 100, 0 },
	  { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123", "fff4\r\nsome body text\r\n" } },
	{ "gap past a Content-Length body's end: text kept, a secret line still hidden",
	  { "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "more body text\r\nCookie: c\r\n" },
	  { 100, 0 },
	  { "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "more body text\r\nCookie: *\r\n" } },
	{ "a stream that is not HTTP is left alone after a gap",
	  { "*1\r\n$4\r\nPING\r\n", "+PONG\r\n" },
	  { 10, 0 },
	  { "*1\r\n$4\r\nPING\r\n", "+PONG\r\n" } },
};

static void test_gaps(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(gap_vectors) / sizeof(gap_vectors[0]); k++) {
		const struct gap_vector *v = &gap_vectors[k];
		struct redact_state st = { 0 };

		for (int p = 0; p < 4 && v->parts[p]; p++) {
			size_t len = strlen(v->parts[p]);
			struct guarded g = guard_copy(v->parts[p], len);

			redact_payload(&st, g.data, len);
			if (memcmp(g.data, v->want[p], len) != 0) {
				print_error("gap vector '%s' part %d:\n got  %.*s\n want %s\n",
					    v->reason, p, (int)len, (char *)g.data, v->want[p]);
				fail();
			}
			guard_free(&g);
			redact_skip(&st, v->skip[p]);
		}
	}
}

/* Whatever the gap, a secret value cut by it never shows: cut a request
 * with a long token at every byte, skip a varying amount, and feed the
 * rest; no 4 consecutive token bytes may survive. */
static void test_gap_at_every_byte(void **state)
{
	const char *msg = "GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer QWERTYUIOPASDFGHJKLZXCVBNM\r\n"
			  "X-Other: fine\r\n\r\n";
	const char *tok = "QWERTYUIOPASDFGHJKLZXCVBNM";
	size_t len = strlen(msg), tstart = strstr(msg, tok) - msg, tlen = strlen(tok);

	(void)state;
	for (size_t cut = 1; cut < len; cut++)
		for (size_t skip = 0; cut + skip < len; skip += 3) {
			struct redact_state st = { 0 };
			char a[256], b[256];
			size_t blen = len - cut - skip;

			memcpy(a, msg, cut);
			memcpy(b, msg + cut + skip, blen);
			redact_payload(&st, (uint8_t *)a, cut);
			redact_skip(&st, skip);
			redact_payload(&st, (uint8_t *)b, blen);
			/* every surviving token byte would be at its original place */
			for (size_t i = 0; i < cut; i++)
				if (i >= tstart && i < tstart + tlen && a[i] != '*')
					fail_msg("cut %zu skip %zu: token byte %zu kept before the gap",
						 cut, skip, i);
			for (size_t i = 0; i < blen; i++) {
				size_t at = cut + skip + i;

				if (at >= tstart && at < tstart + tlen && b[i] != '*')
					fail_msg("cut %zu skip %zu: token byte %zu kept after the gap",
						 cut, skip, at);
			}
		}
}

/* ---- generated streams: split-independence and no secret survives ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic, so a failure can be replayed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

/* A generated stream and the stream expected after redaction. */
struct sbuf {
	char *p, *w;
	size_t len, cap;
};

/* Append n bytes to the input; to the expectation as they are, or as '*'
 * when hidden. */
static void sb_put(struct sbuf *b, const char *s, size_t n, int hidden)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		b->w = realloc(b->w, b->cap);
		assert_non_null(b->p);
		assert_non_null(b->w);
	}
	memcpy(b->p + b->len, s, n);
	if (hidden)
		memset(b->w + b->len, '*', n);
	else
		memcpy(b->w + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	b->w[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s), 0);
}

static void sb_hidden(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s), 1);
}

/* Body text: header-like lines that are not secrets to hide ("BODYKEEP"),
 * never starting with "HTTP/1." so no resync is triggered. */
static void gen_body(struct sbuf *b, size_t n)
{
	static const char *const pieces[] = { "Cookie: BODYKEEP\r\n", "\r\n", "x", "\0\x01\xff",
					      "Authorization: BODYKEEP" };
	size_t start = b->len;

	while (b->len - start < n) {
		const char *p = pieces[rnd(5)];
		size_t pl = p[0] ? strlen(p) : 3;

		if (pl > n - (b->len - start))
			pl = n - (b->len - start);
		sb_put(b, p, pl, 0);
	}
}

static void gen_message(struct sbuf *b, int response)
{
	char line[128];
	int nh = (int)rnd(6), framing = (int)rnd(3);	/* 0 none, 1 length, 2 chunked */
	size_t blen = rnd(60);

	if (response)
		sb_str(b, "HTTP/1.1 200 OK\r\n");
	else
		sb_str(b, rnd(2) ? "GET /path HTTP/1.1\r\n" : "POST /api/v1 HTTP/1.1\r\n");
	for (int h = 0; h < nh; h++) {
		switch (rnd(4)) {
		case 0:
			sb_str(b, secret_names[rnd(sizeof(secret_names) / sizeof(secret_names[0]))]);
			sb_str(b, rnd(2) ? ": " : ":");
			snprintf(line, sizeof(line), "SECRET%u", rnd(100000));
			sb_hidden(b, line);
			sb_str(b, "\r\n");
			break;
		case 1:
			snprintf(line, sizeof(line), "X-Plain-%u: keep-%u\r\n", rnd(99), rnd(999));
			sb_str(b, line);
			break;
		case 2:
			sb_str(b, "cookie:");
			sb_hidden(b, "SECRET");
			sb_str(b, "\r\n ");
			sb_hidden(b, "SECRETFOLD");
			sb_str(b, "\r\n");
			break;
		default:
			snprintf(line, sizeof(line), "Host: h%u\r\n", rnd(9));
			sb_str(b, line);
			break;
		}
	}
	if (framing == 0 && response)
		framing = 1;	/* body-until-close would end the stream */
	if (framing == 1) {
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", blen);
		sb_str(b, line);
		gen_body(b, blen);
	} else if (framing == 2) {
		sb_str(b, "Transfer-Encoding: chunked\r\n\r\n");
		for (int c = (int)rnd(3); c >= 0; c--) {
			size_t cl = 1 + rnd(20);

			snprintf(line, sizeof(line), "%zx\r\n", cl);
			sb_str(b, line);
			gen_body(b, cl);
			sb_str(b, "\r\n");
		}
		if (rnd(2)) {
			sb_str(b, "0\r\n\r\n");
		} else {
			sb_str(b, "0\r\nX-Trailer-Token: ");
			sb_hidden(b, "SECRETTRAILER");
			sb_str(b, "\r\n\r\n");
		}
	} else {
		sb_str(b, "\r\n");
	}
}

static void test_generated_streams(void **state)
{
	(void)state;
	for (int iter = 0; iter < 400; iter++) {
		struct sbuf in = { 0 };
		int response = iter & 1;
		int nmsg = 1 + (int)rnd(5);

		for (int m = 0; m < nmsg; m++)
			gen_message(&in, response);

		char *whole = malloc(in.len), *split = malloc(in.len);
		size_t cuts[8], ncuts = rnd(8);

		assert_non_null(whole);
		assert_non_null(split);
		redact_cut(in.p, in.len, NULL, 0, whole);
		for (size_t k = 0; k < ncuts; k++)
			cuts[k] = 1 + rnd((uint32_t)in.len - 1);
		/* sort and dedupe the cut points */
		for (size_t x = 0; x < ncuts; x++)
			for (size_t y = x + 1; y < ncuts; y++)
				if (cuts[y] < cuts[x]) {
					size_t t = cuts[x];
					cuts[x] = cuts[y];
					cuts[y] = t;
				}
		size_t nc = 0;
		for (size_t k = 0; k < ncuts; k++)
			if (nc == 0 || cuts[k] != cuts[nc - 1])
				cuts[nc++] = cuts[k];
		redact_cut(in.p, in.len, cuts, nc, split);

		if (memcmp(whole, in.w, in.len) != 0)
			fail_msg("iteration %d: whole stream:\n got  %.*s\n want %.*s", iter,
				 (int)in.len, whole, (int)in.len, in.w);
		if (memcmp(split, in.w, in.len) != 0)
			fail_msg("iteration %d: stream cut in %zu:\n got  %.*s\n want %.*s", iter,
				 nc + 1, (int)in.len, split, (int)in.len, in.w);
		assert_null(memmem(whole, in.len, "SECRET", 6));
		free(whole);
		free(split);
		free(in.p);
		free(in.w);
	}
}

/* ---- the whole-line fast path against the byte machine ---- */

/*
 * A payload that holds whole lines goes the fast way (head_fast() in
 * redact.c: 16-byte loads, the name memo, values read at once); one byte
 * at a time it goes through the byte machine.  Both must give the same
 * bytes and the same count, for names and values whose colon or LF falls
 * at every offset around those loads, Content-Type words at every offset,
 * Transfer-Encoding near misses, odd Content-Lengths and status codes,
 * heads cut anywhere.  Each input is also cut after every LF and before
 * every CR or LF (a line's end in the next payload).
 */
static void check_cuts_agree(const char *in, size_t len)
{
	char *whole = malloc(len + 1), *other = malloc(len + 1);
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	size_t n, m, nc;

	assert_non_null(whole);
	assert_non_null(other);
	assert_non_null(cuts);
	n = redact_cut(in, len, NULL, 0, whole);
	for (int mode = 0; mode < 3; mode++) {
		nc = 0;
		for (size_t i = 1; i < len; i++)
			if (mode == 0 || (mode == 1 && in[i - 1] == '\n') ||
			    (mode == 2 && (in[i] == '\r' || in[i] == '\n')))
				cuts[nc++] = i;
		m = redact_cut(in, len, cuts, nc, other);
		if (memcmp(whole, other, len) != 0 || m != n)
			fail_msg("cut mode %d, %zu vs %zu bytes hidden:\n in    %.*s\n whole %.*s\n cut   %.*s",
				 mode, n, m, (int)len, in, (int)len, whole, (int)len, other);
	}
	free(whole);
	free(other);
	free(cuts);
}

static void check_cutsf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void check_cutsf(const char *fmt, ...)
{
	char in[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(in, sizeof(in), fmt, ap);
	va_end(ap);
	assert_true(len >= 0 && (size_t)len < sizeof(in));
	check_cuts_agree(in, (size_t)len);
}

static void test_fast_path_edges(void **state)
{
	static const char *const cts[] = { "json", "JSON", "urlencoded", "URLencoded", "jso",
					   "urlencode", "j", "u" };
	static const char *const tes[] = { "chunked", "cchunked", "chunkchunked", "xchunked",
					   "Chunked ", "chunke", "chunked,chunked", "cHuNkEd", "c" };
	static const char *const cls[] = { "0", "5", " 5", "5 ", "5, 5", "05", "x", "", "5x",
					   "1152921504606846975", "1152921504606846976",
					   "99999999999999999999999" };
	static const char *const codes[] = { "100", "101", "199", "200", "204", "304", "404" };
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: x\r\r\nA: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET / HTTP/1.1\r\n:x\r\n\r\n",
		"GET / HTTP/1.1\r\nCookie: c\r\n folded\r\n\tmore\r\n\r\n",
		"GET / HTTP/1.1\r\nCookie:\r \r\tx \r y\r\nAuthorization: a\r\rb\r\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Api-Key: \r\r\nCookie:\t\r\n\r\n",
		"GET / HTTP/1.1\r\nA\001b: x\r\nX-Api-Key: k\r\n\r\n",
		"GET / HTTP/1.1\r\n\377\376: x\r\nSet-Cookie:\r\n\r\n",
		"GET /?a=b&token=t HTTP/1.1\r\nX-Api-Key: k\r\n\r\n",
		"OPTIONS  * HTTP/1.1\r\nA: b\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\nCookie: c\n\n",
		"\r\n\r\nGET / HTTP/1.1\r\nProxy-Authorization: Basic x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n",
		"GET / HTTP/1.1\r\nHost: x",
		"GET / HTTP/1.1\r\nHost",
		"GET / HTTP/1.1\r",
		"HTTP/1.1 200",
		"GET",
	};
	const char *const n40 = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";

	(void)state;
	for (int n = 0; n < 40; n++) {
		static const int vls[] = { 0, 1, 12, 13, 14, 15, 16, 17, 30, 31, 32, 33 };

		for (size_t k = 0; k < sizeof(vls) / sizeof(vls[0]); k++) {
			check_cutsf("HTTP/1.1 200 OK\r\nX-%.*s: %.*s\r\nContent-Length: 3\r\n\r\nabc",
				    n, n40, vls[k], n40);
			check_cutsf("GET /r HTTP/1.1\r\nHost: h\r\nX-%.*s:%.*s\n\n", n, n40, vls[k], n40);
		}
		check_cutsf("HTTP/1.1 200 OK\r\nX-%.*s-Token: s3cret\r\n\r\n", n, n40);
		check_cutsf("GET / HTTP/1.1\r\nAuthorization%.*s: Bearer x\r\n\r\n", n, n40);
		for (size_t k = 0; k < sizeof(cts) / sizeof(cts[0]); k++) {
			check_cutsf("HTTP/1.1 200 OK\r\nContent-Type: %.*s%s\r\nContent-Length: 14\r\n\r\n"
				    "{\"token\":\"t\"}x", n, n40, cts[k]);
			check_cutsf("POST / HTTP/1.1\r\nContent-Type:%.*s%s\r\nContent-Length: 9\r\n\r\n"
				    "password=", n, n40, cts[k]);
		}
	}
	for (size_t k = 0; k < sizeof(tes) / sizeof(tes[0]); k++) {
		check_cutsf("HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			    tes[k]);
		check_cutsf("HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\nX-After: 1\r\n\r\n"
			    "3\r\nabc\r\n0\r\nCookie: c\r\n\r\n", tes[k]);
		check_cutsf("HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n", tes[k]);
	}
	for (size_t k = 0; k < sizeof(cls) / sizeof(cls[0]); k++) {
		check_cutsf("HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nhello", cls[k]);
		check_cutsf("POST /x?token=1 HTTP/1.1\r\nContent-Length:%s\r\n\r\nhello", cls[k]);
		check_cutsf("HTTP/1.1 200 OK\r\nContent-Length: %s\r\n", cls[k]);
	}
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
		check_cutsf("HTTP/1.1 %s X\r\nContent-Length: 4\r\n\r\nbodyHTTP/1.1 200 OK\r\n"
			    "Set-Cookie: a=b\r\n\r\n", codes[k]);
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		check_cutsf("%s", heads[k]);
		check_cutsf("GET /r200 HTTP/1.1\r\n\r\n%s", heads[k]);
	}
	check_cutsf("%s%s%s", "GET / HTTP/1.1\r\nHost: a:1\r\nCookie: s=1\r\n\r\n",
		    "GET / HTTP/1.1\r\nHost: a:1\r\nCookie: s=1\r\n\r\n",
		    "GET / HTTP/1.1\r\nHost: a:1\r\nCookie: s=1\r\n\r\n");
	check_cutsf("%s%s", "HTTP/1.1 200 OK\r\nServer: nginx\r\nSet-Cookie: id=2; Path=/\r\n"
		    "Content-Length: 12\r\n\r\nhello world\n",
		    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\n\r\nhello world\n");
}

/* ---- hostile input ---- */

static void check_invariants(const uint8_t *in, const uint8_t *out, size_t len, size_t n)
{
	size_t changed = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == out[i])
			continue;
		changed++;
		assert_int_equal(out[i], '*');
		assert_true(in[i] != '\r' && in[i] != '\n');
	}
	assert_true(changed <= n);
}

static void test_random_bytes(void **state)
{
	static const char *const alphabet[] = {
		"\r\n", "\n", "\r", ":", " ", "\t", "Cookie", "Authorization", "HTTP/1.1 200 OK\r\n",
		"GET / HTTP/1.1\r\n", "Content-Length: ", "Transfer-Encoding: chunked\r\n",
		"0", "9", "ff", ";", "\0", "\xff", "\x1b", "-", "99999999999999999999999",
	};
	uint8_t in[2048], out[2048];

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 0, want = rnd(sizeof(in));
		struct redact_state st = { 0 };

		while (len < want) {
			if (rnd(3) == 0) {
				in[len++] = (uint8_t)rnd(256);
			} else {
				const char *a = alphabet[rnd(sizeof(alphabet) / sizeof(alphabet[0]))];
				size_t al = a[0] ? strlen(a) : 1;

				if (al > want - len)
					al = want - len;
				memcpy(in + len, a, al);
				len += al;
			}
		}
		memcpy(out, in, len);
		size_t n = 0, off = 0;
		while (off < len) {
			size_t part = 1 + rnd((uint32_t)(len - off));
			struct guarded g = guard_copy(out + off, part);

			n += redact_payload(&st, g.data, part);
			memcpy(out + off, g.data, part);
			guard_free(&g);
			off += part;
			if (rnd(4) == 0)
				redact_skip(&st, rnd(3) ? rnd(100) : UINT64_MAX - rnd(10));
		}
		check_invariants(in, out, len, n);
	}
}

static void test_huge_lines(void **state)
{
	size_t len = 4u << 20;
	uint8_t *buf = malloc(len);
	struct redact_state st = { 0 };
	const char *head = "GET / HTTP/1.1\r\nCookie: ";

	(void)state;
	assert_non_null(buf);
	/* a 4 MiB secret value without any line end: all of it hidden */
	memset(buf, 'v', len);
	memcpy(buf, head, strlen(head));
	size_t n = redact_payload(&st, buf, len);
	assert_int_equal(n, len - strlen(head));
	assert_int_equal(buf[len - 1], '*');
	/* ... and it goes on being hidden in the next payload */
	memset(buf, 'w', 100);
	assert_int_equal(redact_payload(&st, buf, 100), 100);

	/* a 4 MiB header name: nothing hidden, no crash */
	memset(&st, 0, sizeof(st));
	memset(buf, 'N', len);
	memcpy(buf, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(redact_payload(&st, buf, len), 0);
	/* the name contains "token" far beyond 255 bytes: still secret */
	memcpy(buf, "token: x\r\n", 10);
	assert_int_equal(redact_payload(&st, buf, 10), 1);

	/* a 4 MiB start line */
	memset(&st, 0, sizeof(st));
	memset(buf, 'A', len);
	assert_int_equal(redact_payload(&st, buf, len), 0);
	/* all NUL */
	memset(&st, 0, sizeof(st));
	memset(buf, 0, len);
	assert_int_equal(redact_payload(&st, buf, len), 0);
	free(buf);
}

static void test_null_and_empty(void **state)
{
	struct redact_state st = { 0 };
	uint8_t b = 'x';

	(void)state;
	assert_int_equal(redact_payload(NULL, &b, 1), 0);
	assert_int_equal(redact_payload(&st, NULL, 1), 0);
	assert_int_equal(redact_payload(&st, &b, 0), 0);
	redact_skip(NULL, 5);
	redact_skip(&st, 0);
	assert_int_equal(redact_is_secret_name(NULL, 3), 0);
	assert_int_equal(redact_is_secret_name("", 0), 0);
	/* a corrupt state value is handled safely */
	st.st = 0xffu;
	uint8_t line[] = "Cookie: x\r\nCookie: y\r\n";
	redact_payload(&st, line, sizeof(line) - 1);
	assert_int_equal(line[sizeof(line) - 4], '*');
}

/* The word matcher restarts correctly inside a partial match (KMP): each
 * word preceded by a false start of itself, and near misses. */
static void test_secret_words(void **state)
{
	static const struct { const char *name; int secret; } v[] = {
		{ "sesession", 1 }, { "sessession", 1 }, { "X-Sessio", 0 }, { "autauth", 1 },
		{ "aauth", 1 }, { "cocookie", 1 }, { "totoken", 1 }, { "secsecret", 1 },
		{ "papassw", 1 }, { "apiapikey", 1 }, { "credcredential", 1 }, { "Api_Key", 1 },
		{ "a-u-t-h", 1 }, { "aut h", 0 }, { "cookiE", 1 }, { "tokn", 0 }, { "secre", 0 },
		{ "pass", 0 }, { "apike", 0 }, { "credentia", 0 }, { "Content-Length", 0 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
		if (redact_is_secret_name(v[k].name, strlen(v[k].name)) != v[k].secret)
			fail_msg("'%s' should%s be secret", v[k].name, v[k].secret ? "" : " not");
}

/* Command lines (argv joined by NULs) keep their arguments but not the
 * secret header values passed on them. */
static void test_redact_text(void **state)
{
	static const struct {
		const char *reason;
		const char *in, *want;
		size_t len;
	} v[] = {
#define T(r, i, w) { r, i, w, sizeof(i) - 1 + 0 * sizeof(char[sizeof(i) == sizeof(w) ? 1 : -1]) }
		T("curl -H with a bearer token",
		  "curl\0-s\0-H\0Authorization: Bearer SEKRIT\0http://127.0.0.1:1/",
		  "curl\0-s\0-H\0Authorization: *************\0http://127.0.0.1:1/"),
		T("attached -H and --header= forms",
		  "curl\0-HCookie: a=b\0--header=X-Api-Key: k1\0-v",
		  "curl\0-HCookie: ***\0--header=X-Api-Key: **\0-v"),
		T("nothing secret",
		  "python3\0-m\0http.server\0--bind\0127.0.0.1\0""18500",
		  "python3\0-m\0http.server\0--bind\0127.0.0.1\0""18500"),
		T("URL and a start-line-looking argument are left alone",
		  "x\0GET / HTTP/1.1\0https://h/?a=b",
		  "x\0GET / HTTP/1.1\0https://h/?a=b"),
		T("trailing NUL, lines inside one argument",
		  "sh\0-c\0x\ntoken: abc\nok: 1\0",
		  "sh\0-c\0x\ntoken: ***\nok: 1\0"),
		/* issue 21: passwords on command lines */
		T("redis-cli -a PASS (and its port option kept)",
		  "/usr/bin/redis-cli\0-p\0""6379\0-a\0s3cret\0PING",
		  "/usr/bin/redis-cli\0-p\0""6379\0-a\0******\0PING"),
		T("-a of another program is not a password",
		  "ls\0-a\0/tmp",
		  "ls\0-a\0/tmp"),
		T("mysql -pPASS and --password=, --token VALUE, --api-key=",
		  "mysql\0-uroot\0-phunter2\0--password=hunter2\0--token\0tk\0--api-key=k\0--port=3306",
		  "mysql\0-uroot\0-p*******\0--password=*******\0--token\0**\0--api-key=*\0--port=3306"),
		T("a URL's password and secret query parameters",
		  "redis-cli\0-u\0redis://app:pw1@10.0.0.2:6379/0\0curl\0https://h/x?access_token=abc&page=2",
		  "redis-cli\0-u\0redis://app:***@10.0.0.2:6379/0\0curl\0https://h/x?access_token=***&page=2"),
		T("JSON and form arguments (curl -d), an environment-style assignment",
		  "curl\0-d\0{\"user\":\"a\",\"password\":\"pw\"}\0--data\0user=a&passwd=pw2\0-e\0DB_PASSWORD=xyz",
		  "curl\0-d\0{\"user\":\"a\",\"password\":\"**\"}\0--data\0user=a&passwd=***\0-e\0DB_PASSWORD=***"),
		T("a URL without a password keeps its user",
		  "psql\0postgresql://app@db/x",
		  "psql\0postgresql://app@db/x"),
#undef T
	};

	(void)state;
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		struct guarded g = guard_copy(v[k].in, v[k].len);

		redact_text(g.data, v[k].len);
		if (memcmp(g.data, v[k].want, v[k].len) != 0) {
			print_error("%s:\n got  %.*s\n", v[k].reason, (int)v[k].len, (char *)g.data);
			fail();
		}
		guard_free(&g);
	}
	assert_int_equal(redact_text(NULL, 4), 0);
}

/* A gap (bytes not captured) inside a JSON or form body: a value cut by
 * it stays secret to its end, a name cut by it makes its value secret,
 * and the machine finds the next names again whatever the quote parity. */
static void test_body_gaps(void **state)
{
	static const struct {
		const char *reason, *a, *b, *want_b;
		uint64_t gap;
	} v[] = {
		{ "gap inside a secret value",
		  "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 46\r\n\r\n{\"password\": \"ab",
		  "ef\", \"x\": \"y\", \"token\": \"t\"}", "**\", \"x\": \"y\", \"token\": \"*\"}", 2 },
		{ "gap inside a name",
		  "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"pas",
		  "rd\": \"v\", \"x\": \"y\"}", "rd\": \"*\", \"x\": \"y\"}", 3 },
		{ "gap inside a plain value, then a secret name in the other parity",
		  "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n{\"a\": \"x",
		  "y\", \"secret\": \"z\"}", "y\", \"secret\": \"*\"}", 10 },
		{ "gap inside a form name",
		  "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\na=1&pass",
		  "ord=v&b=2", "ord=*&b=2", 7 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		struct redact_state st = { 0 };
		char a[256], b[256];
		size_t la = strlen(v[k].a), lb = strlen(v[k].b);

		memcpy(a, v[k].a, la);
		memcpy(b, v[k].b, lb);
		redact_payload(&st, (uint8_t *)a, la);
		redact_skip(&st, v[k].gap);
		redact_payload(&st, (uint8_t *)b, lb);
		if (memcmp(b, v[k].want_b, lb) != 0) {
			print_error("%s:\n got  %.*s\n want %s\n", v[k].reason, (int)lb, b, v[k].want_b);
			fail();
		}
	}
}

/* --redact NAME: whole names in headers, queries, JSON and form bodies and
 * command lines; a longer or shorter name is not hidden.  Run last: the
 * names stay added for the rest of the process. */
static void test_extra_names(void **state)
{
	static const char in[] =
		"POST /a?internal_sig=q1&internalsigx=q2 HTTP/1.1\r\nInternal-Sig: h1\r\n"
		"Internal-Sig2: h2\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n"
		"{\"internalSig\": \"j1\", \"ssn\": \"078-05-1120\"}";
	static const char want[] =
		"POST /a?internal_sig=**&internalsigx=q2 HTTP/1.1\r\nInternal-Sig: **\r\n"
		"Internal-Sig2: h2\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n"
		"{\"internalSig\": \"**\", \"ssn\": \"***********\"}";
	static const struct vector vx = { "--redact names", in, want, sizeof(in) - 1 };
	uint8_t cmd[] = "app\0--ssn=1\0SSN=2\0--ssnx=3";

	(void)state;
	assert_int_equal(sizeof(in), sizeof(want));
	assert_int_equal(redact_is_secret_name("Internal-Sig", 12), 0);
	assert_int_equal(redact_add_name("internal-sig"), 0);
	assert_int_equal(redact_add_name("SSN"), 0);
	assert_int_equal(redact_add_name("-_"), -1);
	assert_int_equal(redact_add_name(""), -1);
	assert_int_equal(redact_is_secret_name("INTERNAL_SIG", 12), 1);
	assert_int_equal(redact_is_secret_name("Internal-Sig2", 13), 0);
	check_vector(&vx, vx.len);
	redact_text(cmd, sizeof(cmd) - 1);
	assert_memory_equal(cmd, "app\0--ssn=*\0SSN=*\0--ssnx=3", sizeof(cmd) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_three_way_splits),
		cmocka_unit_test(test_every_secret_header),
		cmocka_unit_test(test_plain_headers_kept),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_gap_at_every_byte),
		cmocka_unit_test(test_generated_streams),
		cmocka_unit_test(test_fast_path_edges),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_huge_lines),
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_redact_text),
		cmocka_unit_test(test_secret_words),
		cmocka_unit_test(test_body_gaps),
		cmocka_unit_test(test_extra_names),	/* last: it adds names for good */
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
