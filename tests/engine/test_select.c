/* SPDX-License-Identifier: MIT */
/*
 * test_select.c - table-driven vectors for the request selection shared by
 * httpanalyze and httpreplay (engine/select.c): durations, times (strict
 * RFC 3339 as httpanalyze reads it, and with UTC default as httpreplay
 * does), status specs, and the matcher over an engine request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "htc_select.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_duration(void **state)
{
	static const struct { const char *in; int ok; uint64_t ns; const char *why; } v[] = {
		{ "250ms", 1, 250000000, "ms" }, { "1.5s", 1, 1500000000, "fraction" },
		{ "2", 1, 2000000, "bare number is ms" }, { "1.5", 1, 1500000, "bare fraction" },
		{ "10us", 1, 10000, "us" }, { "250us", 1, 250000, "us" },
		{ "5m", 1, 300000000000ULL, "minutes" }, { "1h", 1, 3600000000000ULL, "hours" },
		{ "7ns", 1, 7, "ns" }, { ".5s", 1, 500000000, "leading dot" },
		{ "5d", 0, 0, "days are not a unit" }, { "10parsecs", 0, 0, "unknown unit" },
		{ "", 0, 0, "empty" }, { "-1", 0, 0, "negative" }, { "-1ms", 0, 0, "negative ms" },
		{ "ms", 0, 0, "no number" }, { "nan", 0, 0, "nan" }, { "inf", 0, 0, "inf" },
		{ " 5ms", 0, 0, "leading space" }, { "1e300s", 0, 0, "overflow" },
	};

	(void)state;
	for (size_t i = 0; i < N(v); i++) {
		uint64_t ns = 0;
		int err = htc_sel_parse_duration(v[i].in, &ns);

		if ((err == 0) != v[i].ok || (v[i].ok && ns != v[i].ns))
			fail_msg("duration '%s' (%s): err %d ns %llu", v[i].in, v[i].why, err,
				 (unsigned long long)ns);
	}
}

static void test_time(void **state)
{
	static const unsigned U = HTC_SEL_TIME_UTC_DEFAULT;
	static const struct {
		const char *in; unsigned flags; int ok; int64_t ns; bool rel; const char *why;
	} v[] = {
		{ "+1.5s", 0, 1, 1500000000LL, true, "offset from the capture start" },
		{ "250ms", 0, 1, 250000000LL, true, "offset without '+'" },
		{ "+1500", U, 1, 1500000000LL, true, "bare number: milliseconds" },
		{ "+2m", U, 1, 120000000000LL, true, "minutes" },
		{ "2026-01-01T00:00:02Z", 0, 1, 1767225602000000000LL, false, "UTC" },
		{ "2026-01-01T01:00:02.5+01:00", 0, 1, 1767225602500000000LL, false, "offset, fraction" },
		{ "2026-01-01 00:00:00.000000001z", 0, 1, 1767225600000000001LL, false, "space, lower z" },
		{ "2026-01-01t00:00:02-00:30", 0, 1, 1767227402000000000LL, false, "lower t, negative offset" },
		{ "2026-01-01T00:00:02", 0, 0, 0, false, "no zone, strict" },
		{ "2026-01-02 03:04:05", U, 1, 1767323045000000000LL, false, "no zone: UTC" },
		{ "2026-01-02", 0, 0, 0, false, "date alone, strict" },
		{ "2026-01-02", U, 1, 1767312000000000000LL, false, "date alone: midnight UTC" },
		{ "2026-13-01T00:00:02Z", U, 0, 0, false, "month 13" },
		{ "2026-01-01T00:00:02+1:00", U, 0, 0, false, "short offset" },
		{ "2026-01-01T00:00:02+24:00", U, 0, 0, false, "offset hour 24" },
		{ "2026-01-02T03:04:05Zjunk", U, 0, 0, false, "trailing junk" },
		{ "2026-01-02T03:04:05.Z", U, 0, 0, false, "empty fraction" },
		{ "yesterday", U, 0, 0, false, "words" },
		{ "+", U, 0, 0, false, "empty relative" },
		{ "-5", U, 0, 0, false, "negative" },
		{ "+1.5x", U, 0, 0, false, "unknown unit" },
	};

	(void)state;
	for (size_t i = 0; i < N(v); i++) {
		int64_t ns = 0;
		bool rel = false;
		int err = htc_sel_parse_time(v[i].in, v[i].flags, &ns, &rel);

		if ((err == 0) != v[i].ok)
			fail_msg("time '%s' (%s): err %d", v[i].in, v[i].why, err);
		if (v[i].ok && (ns != v[i].ns || rel != v[i].rel))
			fail_msg("time '%s' (%s): got %lld rel %d", v[i].in, v[i].why,
				 (long long)ns, rel);
	}
}

static void test_status(void **state)
{
	static const struct { const char *in; int ok; size_t n; int lo, hi; const char *why; } v[] = {
		{ "500", 1, 1, 500, 500, "one code" }, { "5xx", 1, 1, 500, 599, "class" },
		{ "4XX", 1, 1, 400, 499, "upper X" }, { "404,5xx", 1, 2, 404, 404, "list, first shown" },
		{ "400-499", 1, 1, 400, 499, "range" }, { "200-200", 1, 1, 200, 200, "one-code range" },
		{ "", 0, 0, 0, 0, "empty" }, { "6xy", 0, 0, 0, 0, "garbage" },
		{ "abc", 0, 0, 0, 0, "not a number" }, { "500,", 0, 0, 0, 0, "trailing comma" },
		{ ",500", 0, 0, 0, 0, "leading comma" }, { "500-400", 0, 0, 0, 0, "reversed range" },
		{ "500-", 0, 0, 0, 0, "open range" }, { "1000", 0, 0, 0, 0, "four digits" },
		{ "100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116", 0, 0, 0, 0,
		  "too many" },
		{ "6xx", 0, 0, 0, 0, "no status class 6" }, { "0xx", 0, 0, 0, 0, "no status class 0" },
		{ "600", 0, 0, 0, 0, "beyond 599" }, { "099", 0, 0, 0, 0, "below 100" },
		{ "500-600", 0, 0, 0, 0, "range beyond 599" },
		{ "100", 1, 1, 100, 100, "lowest" }, { "599", 1, 1, 599, 599, "highest" },
	};

	(void)state;
	for (size_t i = 0; i < N(v); i++) {
		struct htc_select f = { 0 };
		int err = htc_sel_parse_status(v[i].in, &f);

		if ((err == 0) != v[i].ok)
			fail_msg("status '%s' (%s): err %d", v[i].in, v[i].why, err);
		if (v[i].ok && (f.nstatus != v[i].n || f.status[0].lo != v[i].lo ||
				f.status[0].hi != v[i].hi))
			fail_msg("status '%s' (%s): n %zu %d-%d", v[i].in, v[i].why, f.nstatus,
				 f.status[0].lo, f.status[0].hi);
	}
}

static void test_status_appends(void **state)
{
	struct htc_select f = { 0 };

	(void)state;
	assert_int_equal(htc_sel_parse_status("200", &f), 0);
	assert_int_equal(htc_sel_parse_status("5xx", &f), 0);
	assert_int_equal(f.nstatus, 2);
	assert_int_equal(f.status[1].lo, 500);
}

static void test_match(void **state)
{
	struct htc_eng_request r = { .method = "POST", .path = "/api/items?id=1", .status = 201,
				     .pid = 100, .comm = "web", .start_ns = 5000000000ULL,
				     .end_ns = 5300000000ULL };
	static const struct {
		const char *methods, *glob, *status, *comm; uint32_t pid; uint16_t port;
		const char *since, *until, *mindur; int want; const char *why;
	} v[] = {
		{ NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, 1, "no filter" },
		{ "get,post", NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, 1, "method list, any case" },
		{ "GET", NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, "other method" },
		{ "POS", NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, "method prefix" },
		{ NULL, "/api/*", NULL, NULL, 0, 0, NULL, NULL, NULL, 1, "glob over path and query" },
		{ NULL, "/api/items", NULL, NULL, 0, 0, NULL, NULL, NULL, 1, "glob without the query" },
		{ NULL, "/other*", NULL, NULL, 0, 0, NULL, NULL, NULL, 0, "glob miss" },
		{ NULL, NULL, "2xx", NULL, 0, 0, NULL, NULL, NULL, 1, "status class" },
		{ NULL, NULL, "200-201", NULL, 0, 0, NULL, NULL, NULL, 1, "status range" },
		{ NULL, NULL, "404,5xx", NULL, 0, 0, NULL, NULL, NULL, 0, "status miss" },
		{ NULL, NULL, NULL, "web", 100, 0, NULL, NULL, NULL, 1, "comm and pid" },
		{ NULL, NULL, NULL, "db", 0, 0, NULL, NULL, NULL, 0, "comm miss" },
		{ NULL, NULL, NULL, "we", 0, 0, NULL, NULL, NULL, 0, "comm prefix" },
		{ NULL, NULL, NULL, NULL, 7, 0, NULL, NULL, NULL, 0, "pid miss" },
		{ NULL, NULL, NULL, NULL, 0, 8080, NULL, NULL, NULL, 1, "server port" },
		{ NULL, NULL, NULL, NULL, 0, 9090, NULL, NULL, NULL, 0, "other server port" },
		{ NULL, NULL, NULL, NULL, 0, 0, "1970-01-01T00:00:04Z", "1970-01-01T00:00:06Z", NULL, 1,
		  "inside the window (RFC 3339)" },
		{ NULL, NULL, NULL, NULL, 0, 0, "1970-01-01T00:00:05Z", NULL, NULL, 1, "since is inclusive" },
		{ NULL, NULL, NULL, NULL, 0, 0, NULL, "1970-01-01T00:00:05Z", NULL, 0,
		  "until is exclusive, as in httpanalyze's SQL" },
		{ NULL, NULL, NULL, NULL, 0, 0, "1970-01-01T00:00:05.1Z", NULL, NULL, 0, "before --since" },
		{ NULL, NULL, NULL, NULL, 0, 0, "+1s", NULL, NULL, 1, "relative: capture started at 4 s" },
		{ NULL, NULL, NULL, NULL, 0, 0, NULL, "+500ms", NULL, 0, "relative until" },
		{ NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, "300ms", 1, "duration at least" },
		{ NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, "301ms", 0, "too short" },
	};

	(void)state;
	r.ep.lport = 8080;
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
			assert_int_equal(htc_sel_parse_time(v[i].since, 0, &f.since_ns, &f.since_rel), 0);
		if (v[i].until)
			assert_int_equal(htc_sel_parse_time(v[i].until, 0, &f.until_ns, &f.until_rel), 0);
		if (v[i].mindur)
			assert_int_equal(htc_sel_parse_duration(v[i].mindur, &f.min_duration_ns), 0);
		if (htc_sel_match(&f, &r, 4000000000ULL) != v[i].want)
			fail_msg("match vector %zu (%s)", i, v[i].why);
		/* without the capture start, relative bounds are not checked */
		if ((f.since_rel || f.until_rel) && !htc_sel_match(&f, &r, 0))
			fail_msg("match vector %zu (%s): relative bound checked without a start",
				 i, v[i].why);
	}
}

static void test_match_hostile(void **state)
{
	/* NULL method/path, comm filling its array without a NUL, unanswered */
	struct htc_eng_request r = { .status = 0, .start_ns = 10 };
	struct htc_select f = { .methods = "GET", .comm = "0123456789abcdef" };

	(void)state;
	memset(r.comm, 'x', sizeof(r.comm));
	assert_false(htc_sel_match(&f, &r, 0));
	f.methods = NULL;
	assert_false(htc_sel_match(&f, &r, 0));
	memcpy(r.comm, f.comm, sizeof(r.comm));
	assert_true(htc_sel_match(&f, &r, 0));
	f.path_glob = "*";
	assert_true(htc_sel_match(&f, &r, 0));
	f.min_duration_ns = 1;
	assert_false(htc_sel_match(&f, &r, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_appends),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
