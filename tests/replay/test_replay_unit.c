// SPDX-License-Identifier: MIT
/*
 * test_replay_unit.c - cmocka tests of httpreplay's pure parts: the body
 * digest, escaping, the selection filters and their parsers, the header
 * rewriting (hop-by-hop, redacted, edits) and the comparison and report.
 * Table-driven: each vector has its input, expected result and why.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "htc_engine.h"
#include "replay.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Capture what a FILE writer prints. */
struct membuf {
	char *p;
	size_t n;
	FILE *f;
};

static void mb_open(struct membuf *m)
{
	m->p = NULL;
	m->n = 0;
	m->f = open_memstream(&m->p, &m->n);
	assert_non_null(m->f);
}

static char *mb_close(struct membuf *m)
{
	fclose(m->f);
	return m->p;
}

static void test_fnv(void **state)
{
	static const struct { const char *in; uint64_t want; } v[] = {
		{ "", 0xcbf29ce484222325ULL },		/* offset basis */
		{ "a", 0xaf63dc4c8601ec8cULL },		/* published FNV-1a 64 vector */
		{ "foobar", 0x85944171f73967e8ULL },	/* published FNV-1a 64 vector */
	};

	for (size_t i = 0; i < N(v); i++)
		assert_true(htc_fnv1a64(HTC_FNV1A64_INIT, v[i].in, strlen(v[i].in)) == v[i].want);
	/* incremental == one shot, as the write callback feeds pieces */
	assert_true(htc_fnv1a64(htc_fnv1a64(HTC_FNV1A64_INIT, "foo", 3), "bar", 3) ==
		    0x85944171f73967e8ULL);
}

static void test_escape(void **state)
{
	static const struct {
		const char *in; size_t len; enum rp_esc mode; const char *want; const char *why;
	} v[] = {
		{ "/a b", 4, RP_ESC_TEXT, "/a b", "printable passes" },
		{ "\x1b[2J", 4, RP_ESC_TEXT, "\\x1b[2J", "terminal escape neutralised" },
		{ "a\\b", 3, RP_ESC_TEXT, "a\\b", "backslash kept, as httpanalyze shows it" },
		{ "\xff\x00z", 3, RP_ESC_TEXT, "\\xff\\x00z", "high and NUL bytes" },
		{ "caf\xc3\xa9 \xe2\x80\xae", 9, RP_ESC_TEXT, "caf\xc3\xa9 \\xe2\\x80\\xae",
		  "valid UTF-8 shown, a bidi override escaped (the shared rule)" },
		{ "q\"\n", 3, RP_ESC_JSON, "q\\\"\\n", "json quote and newline" },
		{ "\x01\xe9", 2, RP_ESC_JSON, "\\u0001\\u00e9", "json control and a byte that is not UTF-8" },
		{ "caf\xc3\xa9\xe2\x80\xae", 8, RP_ESC_JSON, "caf\xc3\xa9\\u202e",
		  "json: UTF-8 kept (not read as Latin-1), a bidi override by its code point" },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct membuf m;
		char *out;

		mb_open(&m);
		rp_escape(m.f, v[i].in, v[i].len, v[i].mode);
		out = mb_close(&m);
		if (strcmp(out, v[i].want))
			fail_msg("escape vector %zu (%s): got '%s' want '%s'", i, v[i].why, out,
				 v[i].want);
		free(out);
	}
}

/* Inputs longer than the escaper's stack buffer (1 KiB out): nothing
 * lost or cut at its boundary. */
static void test_escape_long(void **state)
{
	static const struct { uint8_t byte; enum rp_esc mode; const char *unit; } v[] = {
		{ 0x01, RP_ESC_TEXT, "\\x01" }, { '\\', RP_ESC_TEXT, "\\" },
		{ '"', RP_ESC_JSON, "\\\"" }, { 'a', RP_ESC_JSON, "a" },
	};
	uint8_t in[700];

	for (size_t i = 0; i < N(v); i++) {
		size_t ulen = strlen(v[i].unit);
		struct membuf m;
		char *out;

		memset(in, v[i].byte, sizeof(in));
		mb_open(&m);
		rp_escape(m.f, in, sizeof(in), v[i].mode);
		out = mb_close(&m);
		assert_int_equal(strlen(out), sizeof(in) * ulen);
		for (size_t k = 0; k < sizeof(in); k++)
			if (memcmp(out + k * ulen, v[i].unit, ulen))
				fail_msg("long escape vector %zu: byte %zu", i, k);
		free(out);
	}
}

static void test_parse_status(void **state)
{
	static const struct {
		const char *in; int ok; int lo, hi; size_t n; const char *why;
	} v[] = {
		{ "404", 1, 404, 404, 1, "exact" },
		{ "5xx", 1, 500, 599, 1, "class" },
		{ "400-499", 1, 400, 499, 1, "range" },
		{ "200,5xx", 1, 200, 200, 2, "list, first shown" },
		{ "", 0, 0, 0, 0, "empty" },
		{ "abc", 0, 0, 0, 0, "not a number" },
		{ "200,", 0, 0, 0, 0, "trailing comma" },
		{ "500-400", 0, 0, 0, 0, "reversed range" },
		{ "1000", 0, 0, 0, 0, "four digits" },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct htc_select f = {0};
		int err = htc_sel_parse_status(v[i].in, &f);

		if ((err == 0) != v[i].ok)
			fail_msg("status vector %zu (%s): err %d", i, v[i].why, err);
		if (!v[i].ok)
			continue;
		assert_int_equal(f.nstatus, v[i].n);
		assert_int_equal(f.status[0].lo, v[i].lo);
		assert_int_equal(f.status[0].hi, v[i].hi);
	}
}

static void test_parse_time(void **state)
{
	static const struct {
		const char *in; int ok; int64_t ns; bool rel; const char *why;
	} v[] = {
		{ "+1.5s", 1, 1500000000LL, true, "offset from the capture start" },
		{ "250ms", 1, 250000000LL, true, "offset without '+'" },
		{ "+1500", 1, 1500000000LL, true, "bare number: milliseconds, as httpanalyze" },
		{ "+2m", 1, 120000000000LL, true, "minutes" },
		{ "2026-01-02T03:04:05Z", 1, 1767323045000000000LL, false, "RFC 3339 UTC" },
		{ "2026-01-02T03:04:05.5Z", 1, 1767323045500000000LL, false, "fraction" },
		{ "2026-01-02 03:04:05", 1, 1767323045000000000LL, false, "space, UTC default" },
		{ "2026-01-02T04:04:05+01:00", 1, 1767323045000000000LL, false, "offset" },
		{ "2026-01-02", 1, 1767312000000000000LL, false, "date only" },
		{ "yesterday", 0, 0, false, "words" },
		{ "2026-13-02T00:00:00Z", 0, 0, false, "month 13" },
		{ "2026-01-02T03:04:05Zjunk", 0, 0, false, "trailing junk" },
		{ "+", 0, 0, false, "empty relative" },
		{ "-5", 0, 0, false, "negative" },
		{ "+1.5x", 0, 0, false, "unknown unit" },
	};

	for (size_t i = 0; i < N(v); i++) {
		int64_t ns = 0;
		bool rel = false;
		int err = htc_sel_parse_time(v[i].in, HTC_SEL_TIME_UTC_DEFAULT, &ns, &rel);

		if ((err == 0) != v[i].ok)
			fail_msg("time vector %zu '%s' (%s): err %d", i, v[i].in, v[i].why, err);
		if (v[i].ok && (ns != v[i].ns || rel != v[i].rel))
			fail_msg("time vector %zu '%s' (%s): got %lld rel %d", i, v[i].in, v[i].why,
				 (long long)ns, rel);
	}
}

static void test_parse_duration(void **state)
{
	static const struct { const char *in; int ok; uint64_t ns; } v[] = {
		{ "250ms", 1, 250000000 }, { "1.5s", 1, 1500000000 }, { "2", 1, 2000000 },
		{ "10us", 1, 10000 }, { "5m", 1, 300000000000ULL }, { "1h", 1, 3600000000000ULL },
		{ "7ns", 1, 7 }, { "5d", 0, 0 }, { "", 0, 0 }, { "-1", 0, 0 }, { "ms", 0, 0 },
	};

	for (size_t i = 0; i < N(v); i++) {
		uint64_t ns = 0;
		int err = htc_sel_parse_duration(v[i].in, &ns);

		if ((err == 0) != v[i].ok || (v[i].ok && ns != v[i].ns))
			fail_msg("duration vector %zu '%s': err %d ns %llu", i, v[i].in, err,
				 (unsigned long long)ns);
	}
}

static void test_header_arg(void **state)
{
	static const struct { const char *in; int ok; const char *name, *value; const char *why; } v[] = {
		{ "X-Test: 1", 1, "X-Test", "1", "plain" },
		{ "Authorization:   Bearer t  ", 1, "Authorization", "Bearer t", "trimmed" },
		{ "X-Empty:", 1, "X-Empty", "", "empty value" },
		{ "NoColon", 0, NULL, NULL, "no colon" },
		{ ": v", 0, NULL, NULL, "empty name" },
		{ "Bad Name: v", 0, NULL, NULL, "space in name" },
		{ "X: a\r\nEvil: 1", 0, NULL, NULL, "header injection" },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct rp_hdr h;
		int err = rp_parse_header_arg(v[i].in, &h);

		if ((err == 0) != v[i].ok)
			fail_msg("header vector %zu (%s): err %d", i, v[i].why, err);
		if (!v[i].ok)
			continue;
		assert_string_equal(h.name, v[i].name);
		assert_string_equal(h.value, v[i].value);
		assert_int_equal(h.name_len, strlen(v[i].name));
		assert_int_equal(h.value_len, strlen(v[i].value));
		free(h.name);
		free(h.value);
	}
}

static void test_request_line(void **state)
{
	static const struct { const char *m, *p; int ok; const char *why; } v[] = {
		{ "GET", "/a?b=c", 1, "plain" },
		{ "OPTIONS", "*", 1, "asterisk form" },
		{ "GET", "/a b", 0, "space would split the request line" },
		{ "GET", "/a\r\nX: y", 0, "CRLF smuggling" },
		{ "G ET", "/", 0, "space in method" },
		{ "", "/", 0, "empty method" },
		{ "GET", "", 0, "empty path" },
		{ "GET", "/caf\xc3\xa9", 1, "raw UTF-8 goes as captured" },
	};

	for (size_t i = 0; i < N(v); i++)
		if (rp_request_line_ok(v[i].m, v[i].p) != v[i].ok)
			fail_msg("request line vector %zu (%s)", i, v[i].why);
	assert_true(rp_method_safe("GET"));
	assert_true(rp_method_safe("HEAD"));
	assert_true(rp_method_safe("OPTIONS"));
	assert_false(rp_method_safe("POST"));
	assert_false(rp_method_safe("DELETE"));
	assert_false(rp_method_safe("get"));	/* methods are case-sensitive */
}

/* Build a request whose headers come from "Name: value\n" lines. */
static struct rp_req *mkreq(const char *method, const char *headers, const char *body,
			    bool redacted)
{
	struct rp_req *r = calloc(1, sizeof(*r));
	const char *p = headers;

	assert_non_null(r);
	r->method = strdup(method);
	r->path = strdup("/x");
	r->host = strdup("");
	r->hdrs = calloc(32, sizeof(*r->hdrs));
	while (*p) {
		const char *nl = strchr(p, '\n'), *colon = strchr(p, ':');
		struct rp_hdr *h = &r->hdrs[r->nhdrs++];
		const char *v = colon + 1;

		while (*v == ' ')
			v++;
		h->name = strndup(p, colon - p);
		h->name_len = colon - p;
		h->value = strndup(v, nl - v);
		h->value_len = nl - v;
		p = nl + 1;
	}
	if (body) {
		r->body = (uint8_t *)strdup(body);
		r->body_len = strlen(body);
	}
	r->redacted = redacted;
	return r;
}

static char *render(const struct rp_out *o)
{
	struct membuf m;

	mb_open(&m);
	for (size_t i = 0; i < o->nhdrs; i++)
		fprintf(m.f, "%.*s: %.*s\n", (int)o->hdrs[i].name_len, o->hdrs[i].name,
			(int)o->hdrs[i].value_len, o->hdrs[i].value);
	return mb_close(&m);
}

static void test_prepare(void **state)
{
	static const struct {
		const char *method, *hdrs, *body;
		bool redacted;
		const char *set[2], *drop, *host;
		int err;
		const char *want;
		bool send_body;
		unsigned ndropped;
		const char *why;
	} v[] = {
		{ "GET", "Host: a\nAccept: */*\nConnection: keep-alive\nKeep-Alive: 5\n", NULL, false,
		  { 0 }, NULL, NULL, 0, "Host: a\nAccept: */*\n", false, 0,
		  "hop-by-hop headers go" },
		{ "GET", "Host: a\nConnection: close, X-Hop\nX-Hop: 1\nX-Keep: 2\n", NULL, false,
		  { 0 }, NULL, NULL, 0, "Host: a\nX-Keep: 2\n", false, 0,
		  "headers named by Connection are hop-by-hop too" },
		{ "POST", "Host: a\nTransfer-Encoding: chunked\nContent-Type: text/plain\n", "hello",
		  false, { 0 }, NULL, NULL, 0, "Host: a\nContent-Type: text/plain\n", true, 0,
		  "chunked body re-sent with a length: TE goes" },
		{ "POST", "Host: a\nContent-Length: 0\n", NULL, false, { 0 }, NULL, NULL, 0,
		  "Host: a\n", true, 0, "empty body still framed (Content-Length: 0)" },
		{ "DELETE", "Host: a\n", NULL, false, { 0 }, NULL, NULL, 0, "Host: a\n", false, 0,
		  "no body, no framing" },
		{ "GET", "Host: a\nAuthorization: ********\nCookie: ***\n", NULL, true, { 0 }, NULL,
		  NULL, 0, "Host: a\n", false, 2, "redacted placeholders never sent" },
		{ "GET", "Host: a\nAuthorization: ********\n", NULL, true,
		  { "Authorization: Bearer t" }, NULL, NULL, 0, "Host: a\nAuthorization: Bearer t\n",
		  false, 0, "--header supplies a redacted header" },
		{ "GET", "Host: a\nX-Stars: ***\n", NULL, false, { 0 }, NULL, NULL, 0,
		  "Host: a\nX-Stars: ***\n", false, 0, "stars without the redaction mark are data" },
		{ "GET", "Host: a\nX-A: 1\nx-a: 2\nX-B: 3\n", NULL, false, { "X-A: new", "X-C: 4" },
		  NULL, NULL, 0, "Host: a\nX-A: new\nX-B: 3\nX-C: 4\n", false, 0,
		  "--header replaces every occurrence in place, appends new ones" },
		{ "GET", "Host: a\nUser-Agent: x\n", NULL, false, { 0 }, "user-agent", "b:8080", 0,
		  "Host: b:8080\n", false, 0, "--drop-header is case-insensitive, --host rewrites" },
		{ "GET", "Accept: */*\n", NULL, false, { 0 }, NULL, "c", 0, "Accept: */*\nHost: c\n",
		  false, 0, "--host adds Host when the capture had none" },
		{ "GET", "Host: a\nX-Bin: a\rb\n", NULL, false, { 0 }, NULL, NULL, -EINVAL, NULL,
		  false, 0, "a CR in a captured value cannot be sent" },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct rp_req *r = mkreq(v[i].method, v[i].hdrs, v[i].body, v[i].redacted);
		struct rp_hdr set[2];
		char *drop[1] = { (char *)v[i].drop };
		struct rp_edits e = { .set = set, .drop = drop, .ndrop = v[i].drop ? 1 : 0,
				      .host = v[i].host };
		struct rp_out o;
		int err;

		for (size_t k = 0; k < 2 && v[i].set[k]; k++)
			assert_int_equal(rp_parse_header_arg(v[i].set[k], &set[e.nset++]), 0);
		err = rp_prepare(r, &e, &o);
		if (err != v[i].err)
			fail_msg("prepare vector %zu (%s): err %d", i, v[i].why, err);
		if (!err) {
			char *got = render(&o);

			if (strcmp(got, v[i].want))
				fail_msg("prepare vector %zu (%s): got\n%swant\n%s", i, v[i].why, got,
					 v[i].want);
			if (o.send_body != v[i].send_body || o.ndropped_redacted != v[i].ndropped)
				fail_msg("prepare vector %zu (%s): send_body %d dropped %u", i,
					 v[i].why, o.send_body, o.ndropped_redacted);
			free(got);
			rp_out_free(&o);
		}
		for (size_t k = 0; k < e.nset; k++) {
			free(set[k].name);
			free(set[k].value);
		}
		rp_req_free(r);
	}
}

static void test_filter(void **state)
{
	struct rp_req r = { .method = "POST", .path = "/api/items?id=1", .status = 201,
			    .pid = 100, .lport = 8080, .comm = "web", .start_ns = 5000000000ULL,
			    .end_ns = 5300000000ULL };
	static const struct {
		const char *methods, *glob, *status, *comm; uint32_t pid;
		const char *since, *until, *mindur; int want; const char *why;
		uint16_t port;
	} v[] = {
		{ NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 1, "no filter", 0 },
		{ "get,post", NULL, NULL, NULL, 0, NULL, NULL, NULL, 1, "method list, any case", 0 },
		{ "GET", NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, "other method", 0 },
		{ NULL, "/api/*", NULL, NULL, 0, NULL, NULL, NULL, 1, "glob over path and query", 0 },
		{ NULL, "/api/items", NULL, NULL, 0, NULL, NULL, NULL, 1, "glob without the query", 0 },
		{ NULL, "/other*", NULL, NULL, 0, NULL, NULL, NULL, 0, "glob miss", 0 },
		{ NULL, NULL, "2xx", NULL, 0, NULL, NULL, NULL, 1, "status class", 0 },
		{ NULL, NULL, "404,5xx", NULL, 0, NULL, NULL, NULL, 0, "status miss", 0 },
		{ NULL, NULL, NULL, "web", 100, NULL, NULL, NULL, 1, "comm and pid", 0 },
		{ NULL, NULL, NULL, "db", 0, NULL, NULL, NULL, 0, "comm miss", 0 },
		{ NULL, NULL, NULL, NULL, 7, NULL, NULL, NULL, 0, "pid miss", 0 },
		{ NULL, NULL, NULL, NULL, 0, "1970-01-01T00:00:04Z", "1970-01-01T00:00:06Z", NULL, 1,
		  "inside the window (RFC 3339)", 0 },
		{ NULL, NULL, NULL, NULL, 0, "1970-01-01T00:00:05.1Z", NULL, NULL, 0, "before --since", 0 },
		{ NULL, NULL, NULL, NULL, 0, "+1s", NULL, NULL, 1, "relative: capture started at 4 s", 0 },
		{ NULL, NULL, NULL, NULL, 0, NULL, "+500ms", NULL, 0, "relative until", 0 },
		{ NULL, NULL, NULL, NULL, 0, NULL, NULL, "300ms", 1, "duration at least", 0 },
		{ NULL, NULL, NULL, NULL, 0, NULL, NULL, "301ms", 0, "too short", 0 },
		{ NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 1, "server port", 8080 },
		{ NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, "other server port", 9090 },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct htc_select f = { .methods = v[i].methods, .path_glob = v[i].glob,
				       .comm = v[i].comm };

		if (v[i].status)
			assert_int_equal(htc_sel_parse_status(v[i].status, &f), 0);
		if (v[i].pid)
			f.pids[f.npids++] = v[i].pid;
		if (v[i].port)
			f.ports[f.nports++] = v[i].port;
		if (v[i].since)
			assert_int_equal(htc_sel_parse_time(v[i].since, HTC_SEL_TIME_UTC_DEFAULT, &f.since_ns, &f.since_rel), 0);
		if (v[i].until)
			assert_int_equal(htc_sel_parse_time(v[i].until, HTC_SEL_TIME_UTC_DEFAULT, &f.until_ns, &f.until_rel), 0);
		if (v[i].mindur)
			assert_int_equal(htc_sel_parse_duration(v[i].mindur, &f.min_duration_ns), 0);
		if (rp_filter_match(&f, &r, 4000000000ULL) != v[i].want)
			fail_msg("filter vector %zu (%s)", i, v[i].why);
	}
}

static void test_percentile(void **state)
{
	double v[] = { 5, 1, 4, 2, 3, 10, 9, 8, 7, 6 };

	assert_true(rp_percentile(v, 10, 50) == 5);
	assert_true(rp_percentile(v, 10, 99) == 10);
	assert_true(rp_percentile(v, 10, 0) == 1);
	assert_true(rp_percentile(v, 1, 99) == 1);
	assert_true(rp_percentile(NULL, 0, 50) == 0);
}

static void test_compare(void **state)
{
	static const struct {
		const char *method; int status; bool hash_valid; uint64_t hash, len;
		bool sent; int curl_err; long rstatus; uint64_t rhash, rlen;
		unsigned want; const char *why;
	} v[] = {
		{ "GET", 200, true, 7, 3, true, 0, 200, 7, 3, 0, "same" },
		{ "GET", 200, true, 7, 3, true, 0, 500, 9, 3, RP_MIS_STATUS, "status only once" },
		{ "GET", 200, true, 7, 3, true, 0, 200, 8, 3, RP_MIS_BODY, "digest differs" },
		{ "GET", 200, true, 7, 3, true, 0, 200, 7, 4, RP_MIS_BODY, "length differs" },
		{ "GET", 200, false, 7, 3, true, 0, 200, 8, 3, 0, "body not captured: not compared" },
		{ "HEAD", 200, true, 7, 3, true, 0, 200, 1, 0, 0, "HEAD has no body" },
		{ "GET", 0, false, 0, 0, true, 0, 200, 1, 1, 0, "unanswered capture: nothing to compare" },
		{ "GET", 200, true, 7, 3, true, 7, 0, 0, 0, RP_MIS_ERROR, "transport error" },
		{ "GET", 200, true, 7, 3, false, 0, 0, 0, 0, 0, "not sent" },
	};

	for (size_t i = 0; i < N(v); i++) {
		struct rp_req r = { .method = (char *)v[i].method, .status = v[i].status,
				    .hash_valid = v[i].hash_valid, .resp_hash = v[i].hash,
				    .resp_len = v[i].len, .sent = v[i].sent,
				    .curl_err = v[i].curl_err, .rstatus = v[i].rstatus,
				    .rhash = v[i].rhash, .rlen = v[i].rlen };

		if (rp_req_mismatch(&r) != v[i].want)
			fail_msg("compare vector %zu (%s): got %u", i, v[i].why, rp_req_mismatch(&r));
	}
}

static void test_summary_and_report(void **state)
{
	struct rp_req a = { .id = 1001, .method = "GET", .path = "/a", .status = 200,
			    .start_ns = 0, .end_ns = 2000000, .hash_valid = true, .resp_hash = 1,
			    .resp_len = 1, .sent = true, .rstatus = 200, .rlat_ns = 1000000,
			    .rhash = 1, .rlen = 1 };
	struct rp_req b = { .id = 1002, .method = "GET", .path = "/b\x1b", .status = 200,
			    .start_ns = 0, .end_ns = 4000000, .hash_valid = true, .resp_hash = 1,
			    .resp_len = 1, .sent = true, .rstatus = 500, .rlat_ns = 2000000 };
	struct rp_req c = { .id = 1003, .method = "POST", .path = "/c", .skip = RP_SKIP_UNSAFE };
	struct rp_req d = { .id = 1004, .method = "GET", .path = "/d", .status = 200,
			    .sent = true, .curl_err = 7, .err_msg = "refused" };
	struct rp_req *reqs[] = { &a, &b, &c, &d };
	struct rp_summary s = { .limited = 2, .elapsed_s = 1.5 };
	struct membuf m;
	char *out;

	rp_summarize(reqs, 4, &s);
	assert_int_equal(s.selected, 6);
	assert_int_equal(s.sent, 3);
	assert_int_equal(s.responded, 2);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.skipped[RP_SKIP_UNSAFE], 1);
	assert_int_equal(s.status_mismatch, 1);
	assert_int_equal(s.body_diff, 0);
	assert_int_equal(s.body_compared, 1);
	assert_int_equal(s.mismatched, 2);
	assert_true(s.cap_p50_ms == 2.0 && s.rep_p50_ms == 1.0 && s.ratio_p50 == 0.5);
	assert_true(s.cap_p99_ms == 4.0 && s.rep_p99_ms == 2.0);

	mb_open(&m);
	rp_report(m.f, RP_FMT_JSON, reqs, 4, &s, false);
	out = mb_close(&m);
	/* only mismatches without -v; the escape byte never leaks out */
	assert_null(strstr(out, "\"request_id\":1001"));
	assert_non_null(strstr(out, "\"request_id\":1002"));
	assert_non_null(strstr(out, "\"path\":\"/b\\u001b\""));
	assert_non_null(strstr(out, "\"result\":\"status_mismatch\""));
	assert_non_null(strstr(out, "\"result\":\"error\""));
	assert_non_null(strstr(out, "\"type\":\"summary\""));
	assert_non_null(strstr(out, "\"status_mismatches\":1"));
	assert_non_null(strstr(out, "\"unsafe_method\":1"));
	assert_null(strchr(out, '\x1b'));
	free(out);

	mb_open(&m);
	rp_report(m.f, RP_FMT_TABLE, reqs, 4, &s, true);
	out = mb_close(&m);
	assert_non_null(strstr(out, "/b\\x1b"));
	assert_non_null(strstr(out, "(unsafe_method)"));
	assert_non_null(strstr(out, "status mismatches   1"));
	assert_null(strchr(out, '\x1b'));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_long),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_header_arg),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_summary_and_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
