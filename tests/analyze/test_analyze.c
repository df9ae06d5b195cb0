// SPDX-License-Identifier: MIT
/*
 * test_analyze.c - unit tests of httpanalyze's pieces that need no capture:
 * escaping (terminal, JSON, CSV), RFC 3339 times, endpoint normalisation,
 * command-line value parsers, the nearest-rank percentile, and the table
 * writer's alignment.  Table-driven: input, expected, one-line reason.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "html.h"
#include "otlp.h"
#include "output.h"
#include "report.h"
#include "stats.h"

/* Capture what a writer prints to a FILE. */
struct memout {
	FILE *f;
	char *buf;
	size_t len;
};

static void mo_open(struct memout *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static char *mo_close(struct memout *m)
{
	fclose(m->f);
	return m->buf;
}

struct esc_vec {
	const char *in;
	size_t len;
	const char *term, *json, *csv;
	const char *why;
};

#define S(x) x, sizeof(x) - 1
static const struct esc_vec esc_vecs[] = {
	{ S("plain"), "plain", "\"plain\"", "plain", "printable ASCII passes" },
	{ S("\x1b[31mred"), "\\x1b[31mred", "\"\\u001b[31mred\"", "\\x1b[31mred", "ESC escaped" },
	{ S("a\x07" "b\x7f"), "a\\x07b\\x7f", "\"a\\u0007b\\u007f\"", "a\\x07b\\x7f", "BEL, DEL" },
	{ S("\xc2\x9b" "2J"), "\\xc2\\x9b2J", "\"\\u009b2J\"", "\\xc2\\x9b2J",
	  "C1 CSI in UTF-8 refused" },
	{ S("caf\xc3\xa9"), "caf\xc3\xa9", "\"caf\xc3\xa9\"", "caf\xc3\xa9", "valid UTF-8 kept" },
	{ S("\xff\xfe"), "\\xff\\xfe", "\"\\u00ff\\u00fe\"", "\\xff\\xfe", "invalid UTF-8" },
	{ S("\xc0\xaf"), "\\xc0\\xaf", "\"\\u00c0\\u00af\"", "\\xc0\\xaf", "overlong slash" },
	{ S("\xe2\x80\xae" "abc"), "\\xe2\\x80\\xaeabc", "\"\\u202eabc\"",
	  "\\xe2\\x80\\xaeabc", "bidi override refused" },
	{ S("\xed\xa0\x80"), "\\xed\\xa0\\x80", "\"\\u00ed\\u00a0\\u0080\"", "\\xed\\xa0\\x80",
	  "surrogate refused" },
	{ S("\xe2\x82"), "\\xe2\\x82", "\"\\u00e2\\u0082\"", "\\xe2\\x82", "truncated sequence" },
	{ S("a\\b"), "a\\b", "\"a\\\\b\"", "a\\b", "backslash kept (escaped in JSON)" },
	{ S("a\0b"), "a\\x00b", "\"a\\u0000b\"", "a\\x00b", "NUL" },
	{ S("l1\r\nl2\t"), "l1\\x0d\\x0al2\\x09", "\"l1\\r\\nl2\\t\"", "l1\\x0d\\x0al2\\x09",
	  "CR LF TAB: one record per line" },
	{ S("say \"hi\", ok"), "say \"hi\", ok", "\"say \\\"hi\\\", ok\"", "\"say \"\"hi\"\", ok\"",
	  "quotes and comma: RFC 4180 quoting" },
	{ S(" pad"), " pad", "\" pad\"", "\" pad\"", "leading space quoted in CSV" },
	{ S(""), "", "\"\"", "", "empty" },
	{ S("=HYPERLINK(\"http://x\")"), "=HYPERLINK(\"http://x\")",
	  "\"=HYPERLINK(\\\"http://x\\\")\"", "\"'=HYPERLINK(\"\"http://x\"\")\"",
	  "CSV formula: ' before it (quoted: it holds quotes)" },
	{ S("+1+cmd"), "+1+cmd", "\"+1+cmd\"", "'+1+cmd", "CSV formula (+)" },
	{ S("-2+3"), "-2+3", "\"-2+3\"", "'-2+3", "CSV formula (-)" },
	{ S("@SUM(A1)"), "@SUM(A1)", "\"@SUM(A1)\"", "'@SUM(A1)", "CSV formula (@)" },
	{ S("a=1"), "a=1", "\"a=1\"", "a=1", "= inside a field is no formula" },
};

static void test_escape(void **state)
{
	for (size_t i = 0; i < sizeof(esc_vecs) / sizeof(esc_vecs[0]); i++) {
		const struct esc_vec *v = &esc_vecs[i];
		struct memout m;
		char buf[256];
		char *s;
		size_t want;

		want = out_term_escape_buf(buf, sizeof(buf), v->in, v->len);
		if (strcmp(buf, v->term))
			fail_msg("term %zu (%s): got '%s' want '%s'", i, v->why, buf, v->term);
		assert_int_equal(want, strlen(v->term));

		mo_open(&m);
		out_term_escape(m.f, v->in, v->len);
		s = mo_close(&m);
		if (strcmp(s, v->term))
			fail_msg("term stream %zu (%s): got '%s'", i, v->why, s);
		free(s);

		mo_open(&m);
		out_json_string(m.f, v->in, v->len);
		s = mo_close(&m);
		if (strcmp(s, v->json))
			fail_msg("json %zu (%s): got '%s' want '%s'", i, v->why, s, v->json);
		free(s);

		mo_open(&m);
		out_csv_field(m.f, v->in, v->len);
		s = mo_close(&m);
		if (strcmp(s, v->csv))
			fail_msg("csv %zu (%s): got '%s' want '%s'", i, v->why, s, v->csv);
		free(s);
	}
}

static void test_escape_truncates(void **state)
{
	char small[6];

	/* like snprintf: the wanted length, a NUL-terminated prefix */
	assert_int_equal(out_term_escape_buf(small, sizeof(small), "\x1b\x1b", 2), 8);
	assert_string_equal(small, "\\x1b\\");
	assert_int_equal(out_term_escape_buf(NULL, 0, "abc", 3), 3);
}

static void test_csv_long_field(void **state)
{
	char in[2000];
	struct memout m;
	char *s;

	memset(in, 'x', sizeof(in));
	in[100] = ',';
	mo_open(&m);
	out_csv_field(m.f, in, sizeof(in));
	s = mo_close(&m);
	assert_int_equal(strlen(s), sizeof(in) + 2);
	assert_true(s[0] == '"' && s[sizeof(in) + 1] == '"');
	free(s);
}

static void test_rfc3339(void **state)
{
	static const struct { int64_t ns; const char *want; const char *why; } v[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z", "epoch" },
		{ 1767225600123456789LL, "2026-01-01T00:00:00.123456789Z", "ns kept" },
		{ 1767225599999999999LL, "2025-12-31T23:59:59.999999999Z", "year boundary" },
		{ -1, "1969-12-31T23:59:59.999999999Z", "before the epoch" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		out_rfc3339(buf, sizeof(buf), v[i].ns);
		if (strcmp(buf, v[i].want))
			fail_msg("%s: got %s", v[i].why, buf);
	}
}

static void test_endpoint(void **state)
{
	static const struct { const char *m, *p, *want, *why; } v[] = {
		{ "GET", "/users/42", "GET /users/:id", "numeric segment" },
		{ "GET", "/users/42?x=1#f", "GET /users/:id", "query and fragment stripped" },
		{ "GET", "/users/abc", "GET /users/abc", "word kept" },
		{ "GET", "/o/0123456789abcdef/items", "GET /o/:id/items", "hex id" },
		{ "GET", "/o/deadbeef", "GET /o/deadbeef", "all letters: not an id" },
		{ "PUT", "/u/123e4567-e89b-12d3-a456-426614174000", "PUT /u/:id", "uuid" },
		{ "GET", "/", "GET /", "root" },
		{ "GET", "", "GET ", "empty path" },
		{ "", "/x", "? /x", "no method" },
		{ "GET", "/a//b/", "GET /a//b/", "empty segments kept" },
		{ "GET", "/v2/7", "GET /v2/:id", "v2 is not an id" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		db_endpoint(buf, sizeof(buf), v[i].m, v[i].p);
		if (strcmp(buf, v[i].want))
			fail_msg("%s: got '%s' want '%s'", v[i].why, buf, v[i].want);
	}
	/* a path longer than the buffer is cut, never overflows */
	{
		char big[600], small[16];

		memset(big, 'a', sizeof(big) - 1);
		big[0] = '/';
		big[sizeof(big) - 1] = '\0';
		db_endpoint(small, sizeof(small), "GET", big);
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

static void test_service_label(void **state)
{
	static const struct { const char *comm, *cmd, *want, *why; } v[] = {
		{ "python3", "/usr/bin/python3 backend.py 8081", "python3 backend.py", "script" },
		{ "python3", "python3 -u /srv/app/front.py", "python3 front.py", "option, base name" },
		{ "python3", "python3 -m http.server 8082", "python3 http.server", "-m module" },
		{ "python3", "python3 -W ignore app.py", "python3 app.py", "-W takes a value" },
		{ "python3", "python3 -c import os", "python3 -c", "inline program" },
		{ "python3.11", "python3.11 x.py", "python3.11 x.py", "versioned name" },
		{ "node", "node --require ./t.js server.js", "node server.js", "--require VALUE" },
		{ "java", "java -Xmx1g -jar /opt/app.jar", "java app.jar", "-jar FILE" },
		{ "java", "java -cp lib Main", "java Main", "-cp VALUE, main class" },
		{ "ruby", "ruby -I lib app.rb", "ruby app.rb", "-I VALUE" },
		{ "nginx", "nginx: worker process", "nginx", "not an interpreter" },
		{ "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn app:app", "gunicorn gunicorn",
		  "interpreter by argv[0]" },
		{ "python3", "", "python3", "no command line" },
		{ "python3", "python3", "python3", "no script" },
		{ "pythonic", "pythonic x.py", "pythonic", "a prefix is not an interpreter" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		db_service_label(buf, sizeof(buf), v[i].comm, v[i].cmd);
		if (strcmp(buf, v[i].want))
			fail_msg("%s: got '%s' want '%s'", v[i].why, buf, v[i].want);
	}
	/* bounded */
	assert_true(db_service_label(buf, 8, "python3", "python3 backend.py") > 7);
	assert_int_equal(strlen(buf), 7);
}

static void test_parsers(void **state)
{
	static const struct { const char *in; int ok; double ms; const char *why; } d[] = {
		{ "10ms", 1, 10, "ms" }, { "1s", 1, 1000, "s" }, { "250us", 1, 0.25, "us" },
		{ "1.5", 1, 1.5, "bare number is ms" }, { "2m", 1, 120000, "minutes" },
		{ "-1ms", 0, 0, "negative" }, { "10parsecs", 0, 0, "unknown unit" },
		{ "", 0, 0, "empty" }, { "ms", 0, 0, "no number" }, { "nan", 0, 0, "nan" },
	};
	static const struct { const char *in; int ok, rel; int64_t ns; const char *why; } w[] = {
		{ "2026-01-01T00:00:02Z", 1, 0, 1767225602000000000LL, "UTC" },
		{ "2026-01-01T01:00:02.5+01:00", 1, 0, 1767225602500000000LL, "offset, fraction" },
		{ "2026-01-01 00:00:00.000000001z", 1, 0, 1767225600000000001LL, "space, lower z" },
		{ "+1.5s", 1, 1, 1500000000LL, "offset from the start" },
		{ "250ms", 1, 1, 250000000LL, "offset without +" },
		{ "2026-01-01T00:00:02", 0, 0, 0, "no zone" },
		{ "2026-13-01T00:00:02Z", 0, 0, 0, "month 13" },
		{ "yesterday", 0, 0, 0, "words" },
		{ "2026-01-01T00:00:02+1:00", 0, 0, 0, "short offset" },
	};
	static const struct { const char *in; int ok, n, lo0, hi0; const char *why; } s[] = {
		{ "500", 1, 1, 500, 500, "one code" }, { "5xx", 1, 1, 500, 599, "class" },
		{ "4XX", 1, 1, 400, 499, "upper X" }, { "404,5xx", 1, 2, 404, 404, "list" },
		{ "6xy", 0, 0, 0, 0, "garbage" }, { "", 0, 0, 0, 0, "empty" },
		{ "500,", 0, 0, 0, 0, "trailing comma" }, { "1000", 0, 0, 0, 0, "4 digits" },
		{ "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", 0, 0, 0, 0, "too many" },
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		double ms = -1;
		int rc = report_parse_duration_ms(d[i].in, &ms);

		if ((rc == 0) != d[i].ok || (d[i].ok && ms != d[i].ms))
			fail_msg("duration '%s' (%s): rc %d ms %g", d[i].in, d[i].why, rc, ms);
	}
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		struct report_when when = { 0 };
		int rc = report_parse_when(w[i].in, &when);

		if ((rc == 0) != w[i].ok ||
		    (w[i].ok && (when.relative != w[i].rel || when.ns != w[i].ns)))
			fail_msg("when '%s' (%s): rc %d rel %d ns %lld", w[i].in, w[i].why, rc,
				 when.relative, (long long)when.ns);
	}
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		struct report_opts o = { 0 };
		int rc = report_parse_status(s[i].in, &o);

		if ((rc == 0) != s[i].ok ||
		    (s[i].ok && (o.nstatus != s[i].n || o.status_lo[0] != s[i].lo0 ||
				 o.status_hi[0] != s[i].hi0)))
			fail_msg("status '%s' (%s): rc %d n %d", s[i].in, s[i].why, rc, o.nstatus);
	}
}

static double query_double(sqlite3 *db, const char *sql, int *isnull)
{
	sqlite3_stmt *st;
	double v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
	v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_percentile(void **state)
{
	static const struct { const char *sql; int null; double want; const char *why; } v[] = {
		{ "SELECT percentile_nr(x, 50) FROM s", 0, 50, "p50 of 1..100" },
		{ "SELECT percentile_nr(x, 90) FROM s", 0, 90, "p90 of 1..100" },
		{ "SELECT percentile_nr(x, 99) FROM s", 0, 99, "p99 of 1..100" },
		{ "SELECT percentile_nr(x, 100) FROM s", 0, 100, "p100 is the max" },
		{ "SELECT percentile_nr(x, 0) FROM s", 0, 1, "p0 is the min" },
		{ "SELECT percentile_nr(x, 50) FROM s WHERE x <= 3", 0, 2, "odd count" },
		{ "SELECT percentile_nr(x, 50) FROM s WHERE x <= 4", 0, 2, "nearest rank, no interpolation" },
		{ "SELECT percentile_nr(x, 99) FROM s WHERE x = 7", 0, 7, "single value" },
		{ "SELECT percentile_nr(x, 50) FROM s WHERE x > 1000", 1, 0, "no rows: NULL" },
		{ "SELECT percentile_nr(NULL, 50) FROM s", 1, 0, "NULLs ignored" },
	};
	sqlite3 *db;
	int isnull;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(db_register_functions(db), 0);
	/* inserted in reverse: the aggregate must sort */
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE s (x REAL);"
				      "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i - 1 FROM n WHERE i > 1)"
				      " INSERT INTO s SELECT i FROM n;", NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		double got = query_double(db, v[i].sql, &isnull);

		if (isnull != v[i].null || (!isnull && got != v[i].want))
			fail_msg("%s: got %g null %d", v[i].why, got, isnull);
	}
	query_double(db, "SELECT rfc3339(NULL)", &isnull);
	assert_true(isnull);
	sqlite3_close(db);
}

static void test_table_writer(void **state)
{
	static const char *const cols[] = { "id", "name", "ms" };
	struct memout m;
	struct out *o;
	char *s;

	mo_open(&m);
	o = out_new(OUT_TABLE, m.f);
	assert_int_equal(out_begin(o, 3, cols), 0);
	out_int(o, 7);
	out_str(o, "caf\xc3\xa9");
	out_real(o, 1.5);
	out_end_row(o);
	out_int(o, 1234);
	out_str(o, "\x1b");
	out_null(o);
	out_end_row(o);
	assert_int_equal(out_finish(o), 0);
	s = mo_close(&m);
	/* numbers right-aligned, text left, width in characters not bytes */
	assert_string_equal(s,
			    "  id  name     ms\n"
			    "   7  caf\xc3\xa9  1.500\n"
			    "1234  \\x1b       \n");
	free(s);

	mo_open(&m);
	o = out_new(OUT_JSON, m.f);
	assert_int_equal(out_begin(o, 3, cols), 0);
	out_int(o, 7);
	out_str(o, NULL);
	out_real(o, INFINITY);
	out_end_row(o);
	assert_int_equal(out_finish(o), 0);
	s = mo_close(&m);
	assert_string_equal(s, "{\"id\": 7, \"name\": null, \"ms\": null}\n");
	free(s);

	mo_open(&m);
	o = out_new(OUT_CSV, m.f);
	assert_int_equal(out_begin(o, 3, cols), 0);
	out_int(o, 7);
	out_str(o, "a,b");
	out_null(o);
	out_end_row(o);
	assert_int_equal(out_finish(o), 0);
	s = mo_close(&m);
	assert_string_equal(s, "id,name,ms\r\n7,\"a,b\",\r\n");
	free(s);
}

static void test_formats(void **state)
{
	enum out_format f;

	assert_int_equal(out_parse_format("json", &f), 0);
	assert_int_equal(f, OUT_JSON);
	assert_int_equal(out_parse_format("csv", &f), 0);
	assert_int_equal(out_parse_format("table", &f), 0);
	assert_int_equal(out_parse_format("xml", &f), -EINVAL);
	assert_int_equal(out_parse_format("", &f), -EINVAL);
}

/* One row of numbers summing the events table, every column in it. */
static const char events_digest[] =
	"SELECT count(*), sum(event_id), sum(file_idx), sum(ts_ns % 1000003), sum(dur_ns),"
	" sum(pid + tid + fd + conn_id + ret + captured_len + flags),"
	" sum(coalesce(bytes, -1) + coalesce(stream_off, -7)),"
	" sum(coalesce(request_id, 0) % 100003), total(length(payload)),"
	" total(unicode(comm) + length(type) * 3 + length(syscall) * 7),"
	" sum(typeof(request_id) = 'null'), sum(typeof(payload) = 'blob'),"
	" sum(hex(substr(payload, 1, 4)) = '47455420')"	/* "GET " */
	" FROM events";

static char *query_row(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *row = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&row, &len);

	assert_non_null(f);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		fclose(f);
		free(row);
		sqlite3_finalize(st);
		return NULL;
	}
	for (int i = 0; i < sqlite3_column_count(st); i++)
		fprintf(f, "%s|", sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) :
			"NULL");
	sqlite3_finalize(st);
	fclose(f);
	return row;
}

/*
 * --events scan against --events copy on a real capture (samples/demo.htc,
 * copied: the test changes it): the same digest of every column; then a
 * capture changed after the load makes the scan fail with a clear error
 * instead of serving rows the other tables were not made from.
 */
static void test_events_scan(void **state)
{
	char path[] = "/tmp/test_analyze.XXXXXX";
	const char *paths[1] = { path };
	struct db_load_opts scan = { .quiet = 1, .payload_cap = UINT32_MAX,
				     .events = DB_EVENTS_SCAN };
	struct db_load_opts copy = scan;
	struct db_load_stats st;
	sqlite3 *a = NULL, *b = NULL;
	char *ra, *rb, buf[4096];
	FILE *in, *out;
	size_t n;
	int fd, err = 0;

	(void)state;
	copy.events = DB_EVENTS_COPY;
	in = fopen("samples/demo.htc", "rb");
	if (!in) {
		/* run from the top of the tree, as make test-analyze does */
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	out = fdopen(fd, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);

	a = db_create(NULL, &err);
	b = db_create(NULL, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(db_load(a, paths, 1, &scan, &st), 0);
	assert_true(st.events > 100);
	assert_int_equal(db_load(b, paths, 1, &copy, NULL), 0);
	ra = query_row(a, events_digest);
	rb = query_row(b, events_digest);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_string_equal(ra, rb);
	snprintf(buf, sizeof(buf), "%llu|", (unsigned long long)st.events);
	assert_memory_equal(ra, buf, strlen(buf));
	free(ra);
	free(rb);
	/* a scan runs once per query: twice gives the same rows */
	ra = query_row(a, events_digest);
	rb = query_row(a, "SELECT count(*) FROM events x JOIN events y USING (event_id)"
			  " WHERE x.request_id IS y.request_id AND x.payload IS y.payload");
	assert_non_null(ra);
	assert_non_null(rb);
	snprintf(buf, sizeof(buf), "%llu|", (unsigned long long)st.events);
	assert_string_equal(rb, buf);
	free(ra);
	free(rb);

	/* the file changes under us */
	out = fopen(path, "ab");
	assert_non_null(out);
	fputc(0, out);
	fclose(out);
	assert_null(query_row(a, events_digest));
	assert_non_null(strstr(sqlite3_errmsg(a), "changed or went away since the load"));
	unlink(path);
	assert_null(query_row(a, "SELECT count(*) FROM events"));
	sqlite3_close(a);
	sqlite3_close(b);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* stats_percentiles (selection) against sorting, on shapes that break
 * naive quickselects: sorted, reversed, all equal, few values, organ
 * pipe, random; every size up to 300 and some large ones. */
static void test_stats_percentiles(void **state)
{
	static const double ps[][3] = { { 50, 90, 99 }, { 0, 1, 100 }, { 99, 99.9, 100 } };
	size_t sizes[320], nsizes = 0;
	unsigned seed = 12345;

	(void)state;
	for (size_t n = 1; n <= 300; n++)
		sizes[nsizes++] = n;
	sizes[nsizes++] = 1000;
	sizes[nsizes++] = 4097;
	sizes[nsizes++] = 100000;
	for (size_t si = 0; si < nsizes; si++) {
		size_t n = sizes[si];
		double *v = malloc(n * sizeof(*v)), *w = malloc(n * sizeof(*w));

		assert_non_null(v);
		assert_non_null(w);
		for (int shape = 0; shape < 6; shape++) {
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				switch (shape) {
				case 0: v[i] = (double)i; break;
				case 1: v[i] = (double)(n - i); break;
				case 2: v[i] = 7.5; break;
				case 3: v[i] = (double)(seed >> 16 & 3); break;
				case 4: v[i] = (double)(i < n / 2 ? i : n - i); break;
				default: v[i] = (double)(seed >> 8 & 0xffff) / 7.0; break;
				}
			}
			memcpy(w, v, n * sizeof(*v));
			qsort(w, n, sizeof(*w), cmp_dbl);
			for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
				double got[3];

				stats_percentiles(v, n, ps[k], 3, got);
				for (int j = 0; j < 3; j++) {
					double r = ceil(ps[k][j] / 100.0 * (double)n);
					size_t rank = r < 1 ? 1 : (size_t)r;

					if (rank > n)
						rank = n;
					if (got[j] != w[rank - 1])
						fail_msg("n %zu shape %d p %g: got %g want %g", n, shape,
							 ps[k][j], got[j], w[rank - 1]);
				}
			}
		}
		free(v);
		free(w);
	}
}

/* Many groups (a capture with an endpoint per request): each found again,
 * counted once, in order of first appearance, the table growing. */
static void test_stats_groups(void **state)
{
	struct stats *t = stats_new();
	char name[32];
	size_t n = 50000;

	(void)state;
	assert_non_null(t);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < n; i++) {
			int len = snprintf(name, sizeof(name), "GET /item/x%zu", i);
			struct stats_key k = { .s = { "h", "c", name }, .n = { 1, 1, (size_t)len } };
			double ms = (double)i;

			assert_int_equal(stats_add(t, &k, round, &ms), 0);
		}
	assert_int_equal(stats_count(t), n);
	for (size_t i = 0; i < n; i += 997) {
		struct stats_group *g = stats_group(t, i);

		snprintf(name, sizeof(name), "GET /item/x%zu", i);
		assert_string_equal(g->key.s[2], name);
		assert_int_equal(g->count, 2);
		assert_int_equal(g->errors, 1);
		assert_int_equal(g->nms, 2);
	}
	assert_null(stats_group(t, n));
	stats_free(t);
}

/* The *_stats tables counted during the load equal the GROUP BY queries
 * they stand for, on the demo capture (two services, HTTP and Redis
 * calls, errors). */
static void test_stats_tables(void **state)
{
	static const char *const pairs[][2] = {
		{ "SELECT host, comm, endpoint, requests, errors, p50_ms, p90_ms, p99_ms"
		  " FROM endpoint_stats",
		  "SELECT host, comm, endpoint, count(*), sum(error OR unanswered),"
		  " percentile_nr(duration_ms, 50), percentile_nr(duration_ms, 90),"
		  " percentile_nr(duration_ms, 99) FROM requests GROUP BY 1, 2, 3" },
		{ "SELECT protocol, remote_ip, remote_port, name, calls, errors, p50_ms,"
		  " p90_ms, p99_ms FROM downstream_stats",
		  "SELECT protocol, remote_ip, remote_port, name, count(*),"
		  " sum(error OR unanswered), percentile_nr(duration_ms, 50),"
		  " percentile_nr(duration_ms, 90), percentile_nr(duration_ms, 99)"
		  " FROM calls GROUP BY 1, 2, 3, 4" },
		{ "SELECT file_idx, pid, requests FROM process_stats WHERE requests > 0",
		  "SELECT file_idx, pid, count(*) FROM requests GROUP BY 1, 2" },
		{ "SELECT file_idx, pid, calls FROM process_stats WHERE calls > 0",
		  "SELECT file_idx, pid, count(*) FROM calls GROUP BY 1, 2" },
	};
	const char *paths[1] = { "samples/demo.htc" };
	struct db_load_opts o = { .quiet = 1, .payload_cap = UINT32_MAX };
	sqlite3 *db;
	int err = 0;

	(void)state;
	if (access(paths[0], R_OK))
		skip();
	db = db_create(NULL, &err);
	assert_non_null(db);
	assert_int_equal(db_load(db, paths, 1, &o, NULL), 0);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char sql[2048], *r;

		snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM (%s)),"
			 " (SELECT count(*) FROM (%s EXCEPT %s)), (SELECT count(*) FROM (%s EXCEPT %s))",
			 pairs[i][1], pairs[i][0], pairs[i][1], pairs[i][1], pairs[i][0]);
		r = query_row(db, sql);
		assert_non_null(r);
		/* some groups, and none on one side only */
		if (!strcmp(r, "0|0|0|") || strcmp(strchr(r, '|'), "|0|0|"))
			fail_msg("stats table %zu differs from its GROUP BY: %s", i, r);
		free(r);
	}
	sqlite3_close(db);
}

/* The indexes built are the schema's (all by default), or those asked for;
 * each index name of the schema text is known to the loader. */
static void test_indexes(void **state)
{
	static const struct { unsigned skip; const char *want; } cases[] = {
		{ 0, "calls_request,connections_conn_id,requests_parent,requests_start|" },
		{ DB_INDEX_ALL, "NULL|" },
		{ DB_INDEX_ALL & ~DB_INDEX_CALLS_REQUEST, "calls_request|" },
		{ DB_INDEX_ALL & ~DB_INDEX_REQUESTS_START, "requests_start|" },
	};
	const char *paths[1] = { "samples/demo.htc" };

	(void)state;
	if (access(paths[0], R_OK))
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct db_load_opts o = { .quiet = 1, .payload_cap = UINT32_MAX,
					  .skip_indexes = cases[i].skip };
		int err = 0;
		sqlite3 *db = db_create(NULL, &err);
		char *r;

		assert_non_null(db);
		assert_int_equal(db_load(db, paths, 1, &o, NULL), 0);
		r = query_row(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM"
			      " sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name)");
		assert_non_null(r);
		assert_string_equal(r, cases[i].want);
		free(r);
		sqlite3_close(db);
	}
	/* every CREATE INDEX of the documented schema is one the loader builds */
	{
		const char *t = db_schema_text(), *p = t;
		int n = 0;

		while ((p = strstr(p, "CREATE INDEX ")))
			n++, p++;
		assert_int_equal(n, 4);
	}
}


/* ---- HTML report and OTLP export ---- */

struct html_vec {
	const char *in;
	size_t len, max;
	const char *want, *why;
};

static const struct html_vec html_vecs[] = {
	{ S("plain text"), 999, "plain text", "text passes" },
	{ S("<script>alert(1)</script>"), 999, "&lt;script&gt;alert(1)&lt;/script&gt;",
	  "markup becomes text" },
	{ S("a&b &lt;"), 999, "a&amp;b &amp;lt;", "an entity in a capture stays text" },
	{ S("\"'><img onerror=x>"), 999, "&quot;&#39;&gt;&lt;img onerror=x&gt;",
	  "both quotes: safe in any quoted attribute" },
	{ S("javascript:alert(1)"), 999, "javascript:alert(1)",
	  "harmless as text (never put in a URL)" },
	{ S("\x1b[31m<b>"), 999, "\\x1b[31m&lt;b&gt;", "controls escaped first, then markup" },
	{ S("\xc2\x9b\xe2\x80\xae"), 999, "\\xc2\\x9b\\xe2\\x80\\xae", "C1 and bidi override" },
	{ S("caf\xc3\xa9 \xe2\x9c\x93"), 999, "caf\xc3\xa9 \xe2\x9c\x93", "valid UTF-8 kept" },
	{ S("\xff<"), 999, "\\xff&lt;", "not UTF-8" },
	{ S("a\0<"), 999, "a\\x00&lt;", "NUL" },
	{ S("<<<<<<"), 3, "&lt;&lt;&lt;...", "cut before escaping, marked" },
	{ S("caf\xc3\xa9"), 4, "caf\\xc3...", "a cut sequence is escaped, never raw" },
	{ S(""), 999, "", "empty" },
};

static void test_html_escape(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(html_vecs) / sizeof(html_vecs[0]); i++) {
		const struct html_vec *v = &html_vecs[i];
		struct memout m;
		char *got;

		mo_open(&m);
		html_escape_cut(m.f, v->in, v->len, v->max);
		got = mo_close(&m);
		if (strcmp(got, v->want))
			fail_msg("html %zu (%s): got '%s' want '%s'", i, v->why, got, v->want);
		free(got);
	}
	{
		/* the page's script: no capture data, matched by the CSP hash
		 * (checked by the browser test), never closing its element */
		assert_null(strstr(html_script, "</"));
		assert_int_equal(strncmp(html_script_hash, "'sha256-", 8), 0);
		assert_int_equal(strlen(html_script_hash), 8 + 44 + 1);
	}
}

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
struct tp_vec {
	const char *head;
	int ok;
	const char *why;
};

static const struct tp_vec tp_vecs[] = {
	{ "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: " TP "\r\n\r\n", 1, "W3C example" },
	{ "GET / HTTP/1.1\r\nTraceParent:" TP "\r\n", 1, "name case-insensitive, no space" },
	{ "GET / HTTP/1.1\ntraceparent: \t" TP " \r\n", 1, "LF only, blanks around the value" },
	{ "GET / HTTP/1.1\r\ntraceparent: " TP, 1, "last line without CRLF" },
	{ "GET / HTTP/1.1\r\ntraceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x\r\n",
	  1, "a later version may append fields" },
	{ "GET / HTTP/1.1\r\ntraceparent: " TP "-x\r\n", 0, "version 00 has no more fields" },
	{ "GET / HTTP/1.1\r\ntraceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
	  0, "version ff is invalid" },
	{ "GET / HTTP/1.1\r\ntraceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01\r\n",
	  0, "uppercase hex is invalid" },
	{ "GET / HTTP/1.1\r\ntraceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n",
	  0, "all-zero trace id" },
	{ "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\r\n",
	  0, "all-zero parent id" },
	{ "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01\r\n",
	  0, "trace id one digit short" },
	{ "GET / HTTP/1.1\r\ntraceparent: 00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01\r\n",
	  0, "wrong separators" },
	{ "GET /traceparent: " TP " HTTP/1.1\r\nHost: a\r\n", 0, "in the start line: not a header" },
	{ "GET / HTTP/1.1\r\nx-traceparent: " TP "\r\n", 0, "another header's name" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n", 0, "none" },
};

static void test_traceparent(void **state)
{
	static const uint8_t trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	static const uint8_t span[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };

	(void)state;
	for (size_t i = 0; i < sizeof(tp_vecs) / sizeof(tp_vecs[0]); i++) {
		const struct tp_vec *v = &tp_vecs[i];
		struct otlp_tp tp;
		size_t n = strlen(v->head);
		/* the head ends where the capture ends: no NUL to lean on */
		char *copy = malloc(n ? n : 1);
		int rc;

		assert_non_null(copy);
		memcpy(copy, v->head, n);
		rc = otlp_find_traceparent(copy, n, &tp);
		if ((rc == 0) != v->ok)
			fail_msg("traceparent %zu (%s): rc %d", i, v->why, rc);
		if (rc == 0 && i < 4) {
			assert_memory_equal(tp.trace, trace, 16);
			assert_memory_equal(tp.span, span, 8);
		}
		free(copy);
	}
	assert_int_equal(otlp_find_traceparent(NULL, 0, &(struct otlp_tp){ 0 }), -ENOENT);
}

static void test_otlp_ids(void **state)
{
	uint8_t a[16], b[16], s1[8], s2[8], s3[8], zero[16] = { 0 };

	(void)state;
	/* deterministic: a re-export gives the same ids */
	otlp_trace_id(42, 'r', 1001, a);
	otlp_trace_id(42, 'r', 1001, b);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, zero, 16);
	/* the kind, the id and the files (salt) all count */
	otlp_trace_id(42, 'c', 1001, b);
	assert_memory_not_equal(a, b, 16);
	otlp_trace_id(43, 'r', 1001, b);
	assert_memory_not_equal(a, b, 16);
	otlp_span_id(42, 'r', 1001, s1);
	otlp_span_id(42, 'c', 1001, s2);
	otlp_span_id(42, 'r', 1002, s3);
	assert_memory_not_equal(s1, s2, 8);
	assert_memory_not_equal(s1, s3, 8);
	assert_memory_not_equal(s1, zero, 8);
	assert_true(otlp_is_url("http://localhost:4318"));
	assert_true(otlp_is_url("HTTPS://collector/v1/traces"));
	assert_false(otlp_is_url("spans.jsonl"));
	assert_false(otlp_is_url("http-spans.jsonl"));
	assert_false(otlp_is_url("-"));
}

/* Both outputs over the demo capture: one span per request and call in
 * well-formed batches; one page with its policy and its one script. */
static void test_report_export(void **state)
{
	const char *paths[1] = { "samples/demo.htc" };
	struct db_load_opts lo = { .quiet = 1, .payload_cap = UINT32_MAX };
	struct report_opts ro = { .fmt = OUT_TABLE, .pid = -1, .min_duration_ms = -1,
				  .limit = -1, .depth = 8, .quiet = 1 };
	struct otlp_opts xo = { .target = "-", .batch = 50 };
	struct memout m;
	sqlite3 *db;
	char *out, *p;
	int err = 0, n;

	(void)state;
	db = db_create(NULL, &err);
	assert_non_null(db);
	/* run from the top of the tree, as make test-analyze does */
	assert_int_equal(db_load(db, paths, 1, &lo, NULL), 0);

	mo_open(&m);
	ro.out = m.f;
	assert_int_equal(otlp_export(db, &ro, &xo), 0);
	out = mo_close(&m);
	for (n = 0, p = out; (p = strstr(p, "\"kind\":2")); p++)
		n++;
	assert_int_equal(n, 36);
	for (n = 0, p = out; (p = strstr(p, "\"kind\":3")); p++)
		n++;
	assert_int_equal(n, 79);
	for (n = 0, p = out; (p = strchr(p, '\n')); p++)
		n++;
	assert_int_equal(n, (36 + 79 + 49) / 50);	/* lines: batches of 50 */
	for (p = out; *p; p = strchr(p, '\n') + 1)
		assert_int_equal(strncmp(p, "{\"resourceSpans\":[{\"resource\":", 30), 0);
	free(out);

	/* a filter: the 5xx requests (none in the demo) and nothing else */
	ro.nstatus = 1;
	ro.status_lo[0] = 500;
	ro.status_hi[0] = 599;
	mo_open(&m);
	ro.out = m.f;
	assert_int_equal(otlp_export(db, &ro, &xo), 0);
	out = mo_close(&m);
	assert_string_equal(out, "");
	free(out);
	ro.nstatus = 0;

	mo_open(&m);
	ro.out = m.f;
	assert_int_equal(html_report(db, &ro, "-"), 0);
	out = mo_close(&m);
	assert_non_null(strstr(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
	assert_non_null(strstr(out, html_script_hash));
	p = strstr(out, "<script");
	assert_non_null(p);
	assert_null(strstr(p + 1, "<script"));
	assert_non_null(strstr(out, "<svg id=\"service-map\""));
	assert_non_null(strstr(out, "<svg id=\"wf-slowest-1021\""));
	free(out);
	sqlite3_close(db);
}

/* Request times a hostile file can hold: the report's time buckets stay
 * within their array (ASan) and their number within the stated bound. */
static void test_report_times(void **state)
{
	static const struct { int64_t t0, t1; const char *why; } v[] = {
		{ 0, 0, "one instant" },
		{ 999, 999 + 58 * 20000000LL - 1, "just under 58 widths, start not round" },
		{ 19999999, 19999999 + 1200000000LL - 2,
		  "just under 60 widths of 20 ms, start just before a round time" },
		{ 1000000123, 1000000123 + 59000000LL, "59 ms" },
		{ 1, INT64_MAX, "the whole positive range" },
		{ -5000000000000000000LL, 5000000000000000000LL, "before 1970 to 2128" },
		{ INT64_MIN, INT64_MAX, "every int64" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct report_opts ro = { .fmt = OUT_TABLE, .pid = -1, .min_duration_ms = -1,
					  .limit = -1, .depth = 8, .quiet = 1 };
		struct memout m;
		sqlite3 *db;
		sqlite3_stmt *st;
		char *out, *p, *end;
		int err = 0, n = 0;

		db = db_create(NULL, &err);
		assert_non_null(db);
		assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO requests (request_id, start_ns,"
			" end_ns, method, path, endpoint, comm, host, status, flags)"
			" VALUES (?, ?, ?, 'GET', '/', 'GET /', 'c', 'h', 200, 0)", -1, &st, NULL), 0);
		for (int j = 0; j < 2; j++) {
			int64_t t = j ? v[i].t1 : v[i].t0;

			sqlite3_bind_int64(st, 1, 1001 + j);
			sqlite3_bind_int64(st, 2, t);
			sqlite3_bind_int64(st, 3, t < INT64_MAX - 1000 ? t + 1000 : t);
			assert_int_equal(sqlite3_step(st), SQLITE_DONE);
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		mo_open(&m);
		ro.out = m.f;
		if (html_report(db, &ro, "-"))
			fail_msg("times %zu (%s): report failed", i, v[i].why);
		out = mo_close(&m);
		p = strstr(out, "<svg id=\"chart-rate\"");
		assert_non_null(p);
		end = strstr(p, "</svg>");
		while ((p = strstr(p, "<rect")) && p < end)
			n++, p++;
		if (n < 1 || n > 60)
			fail_msg("times %zu (%s): %d buckets", i, v[i].why, n);
		free(out);
		sqlite3_close(db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_truncates),
		cmocka_unit_test(test_csv_long_field),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_service_label),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_table_writer),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_events_scan),
		cmocka_unit_test(test_stats_percentiles),
		cmocka_unit_test(test_stats_groups),
		cmocka_unit_test(test_stats_tables),
		cmocka_unit_test(test_indexes),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_otlp_ids),
		cmocka_unit_test(test_report_export),
		cmocka_unit_test(test_report_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
