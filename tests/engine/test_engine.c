/* SPDX-License-Identifier: MIT */
/*
 * test_engine.c - the engine on writer-made captures: one fixture per
 * correlation case (thread per request, pooled keep-alive client, two
 * services linked by 5-tuple, two hosts merged, event loop), HTTP framing
 * cases through whole files (HEAD/204/304/1xx, chunked, close, unanswered,
 * reset, gaps), annotations, and bad input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect.h"
#include "fixture.h"

#define MS 1000000ULL
#define T0 2000000000ULL
#define OFF 1700000000000000000LL	/* wall-clock offset of the fixtures */

/* Run an in-memory capture through the engine, annotations included. */
static void run_buf(struct col *c, const void *buf, size_t len)
{
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_reader *r;
	struct htc_record rec;
	int err = 0, idx, n;

	assert_non_null(e);
	r = htc_reader_open_mem(buf, len, &err);
	assert_non_null(r);
	idx = htc_engine_add_file(e, htc_reader_header(r));
	assert_int_equal(idx, 0);
	while ((n = htc_reader_next(r, &rec)) == 1) {
		struct htc_eng_annot a;

		assert_int_equal(htc_engine_feed(e, (uint32_t)idx, &rec, &a), 0);
		col_annot(c, &rec, &a);
	}
	assert_int_equal(n, 0);
	assert_int_equal(htc_engine_finish(e), 0);
	htc_reader_close(r);
	htc_engine_free(e);
}

static struct col *run_fx(struct fx *fx)
{
	struct col *c = calloc(1, sizeof(*c));
	void *buf = NULL;
	size_t len = 0;

	assert_non_null(c);
	fx_finish(fx, &buf, &len);
	run_buf(c, buf, len);
	free(buf);
	return c;
}

static struct fx *new_fx(void)
{
	return fx_open(NULL, "testhost", OFF);
}

#define W(t) ((uint64_t)((int64_t)(t) + OFF))

/* ---- scenarios from tests/lib ---- */

static void test_keepalive(void **state)
{
	struct fx *fx = new_fx();
	struct col *c;
	const struct col_req *r;

	fx_scenario_keepalive(fx, T0);
	c = run_fx(fx);
	assert_int_equal(c->nreq, 5);
	assert_int_equal(c->nconn, 1);

	r = col_find_req(c, 1001);
	assert_non_null(r);
	assert_string_equal(r->method, "GET");
	assert_string_equal(r->path, "/index.html");
	assert_string_equal(r->host, "example.test");
	assert_int_equal(r->r.status, 200);
	assert_int_equal(r->r.resp_body_len, 12);
	assert_true(r->r.resp_body_hash != 0);
	assert_int_equal(r->r.seq, 0);
	assert_int_equal(r->nheaders, 2);
	assert_string_equal(r->hdr0, "Host: example.test");
	assert_int_equal(r->r.flags & (HTC_ENGF_ERROR | HTC_ENGF_UNANSWERED), 0);

	r = col_find_req(c, 1002);
	assert_non_null(r);
	assert_string_equal(r->method, "POST");
	assert_int_equal(r->r.status, 201);
	assert_int_equal(r->body_len, 12);
	assert_memory_equal(r->body, "{\"name\":\"x\"}", 12);
	assert_int_equal(r->r.resp_body_len, 8);	/* {"id":7} decoded from two chunks */
	assert_true(r->r.resp_body_hash != 0);

	r = col_find_req(c, 1003);
	assert_int_equal(r->r.status, 404);
	assert_true(r->r.flags & HTC_ENGF_ERROR);

	r = col_find_req(c, 1004);
	assert_string_equal(r->method, "HEAD");
	assert_int_equal(r->r.status, 200);
	assert_int_equal(r->r.resp_body_len, 0);

	r = col_find_req(c, 1005);
	assert_int_equal(r->r.status, 500);
	assert_true(r->r.flags & HTC_ENGF_ERROR);
	assert_int_equal(r->r.seq, 4);
	free(c);
}

static void test_two_services(void **state)
{
	struct fx *fx = new_fx();
	struct col *c;
	const struct col_req *front, *back;
	const struct col_call *http, *get, *set;

	fx_scenario_two_services(fx, T0);
	c = run_fx(fx);
	assert_int_equal(c->nreq, 2);
	assert_int_equal(c->ncall, 3);
	front = col_find_req(c, 1001);
	back = col_find_req(c, 1002);
	assert_non_null(front);
	assert_non_null(back);
	assert_string_equal(front->path, "/order/42");
	assert_string_equal(back->path, "/stock/42");
	assert_int_equal(front->r.ncalls, 2);
	assert_int_equal(back->r.ncalls, 1);

	http = col_find_call(c, "GET /stock/42");
	get = col_find_call(c, "GET stock:42");
	set = col_find_call(c, "SET order:42");
	assert_non_null(http);
	assert_non_null(get);
	assert_non_null(set);
	assert_int_equal(http->c.proto, HTC_PROTO_HTTP);
	assert_int_equal(http->c.status, 200);
	assert_int_equal(http->c.request_id, 1001);
	assert_int_equal(get->c.proto, HTC_PROTO_REDIS);
	assert_int_equal(get->c.request_id, 1002);
	assert_int_equal(set->c.request_id, 1001);
	assert_true(get->c.end_ns > get->c.start_ns);

	/* the link, and the fields set before reporting */
	assert_int_equal(c->nlink, 1);
	assert_int_equal(c->link[0].call, http->c.id);
	assert_int_equal(c->link[0].child, 1002);
	assert_int_equal(c->link[0].parent, 1001);
	assert_int_equal(back->r.parent_id, 1001);
	assert_int_equal(back->r.parent_call_id, http->c.id);
	assert_int_equal(http->c.child_request_id, 1002);
	free(c);
}

/* Two hosts, two files, clocks set differently, merged by htc_source. */
static void test_two_hosts(void **state)
{
	char dir[] = "/tmp/htc-engine-XXXXXX";
	char pa[64], pb[64];
	const char *paths[2] = { pa, pb };
	struct fx *a, *b;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_source *s;
	struct htc_record rec;
	uint32_t fi;
	int err = 0, n;
	const struct col_req *front, *back;
	uint64_t done, total;

	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.htc", dir);
	snprintf(pb, sizeof(pb), "%s/b.htc", dir);
	/* host B's monotonic clock is 5000 s behind A's */
	a = fx_open(pa, "host-a", OFF);
	b = fx_open(pb, "host-b", OFF + 5000LL * 1000000000LL);
	fx_scenario_two_hosts(a, b, W(T0 + 100 * MS));
	fx_finish(a, NULL, NULL);
	fx_finish(b, NULL, NULL);

	s = htc_source_open(paths, 2, e, NULL, NULL, &err);
	assert_non_null(s);
	assert_int_equal(htc_source_nfiles(s), 2);
	while ((n = htc_source_next(s, &rec, &fi)) == 1)
		assert_int_equal(htc_engine_feed(e, fi, &rec, NULL), 0);
	assert_int_equal(n, 0);
	htc_source_progress(s, &done, &total);
	assert_true(total > 0);
	assert_int_equal(done, total);
	htc_engine_finish(e);

	front = col_find_req(c, 1001);
	back = col_find_req(c, HTC_REQID_FIRST + HTC_REQID_FILE_STRIDE);
	assert_non_null(front);
	assert_non_null(back);
	assert_string_equal(back->path, "/stock/42");
	assert_int_equal(back->r.file_idx, 1);
	assert_int_equal(c->nlink, 1);
	assert_int_equal(c->link[0].child, back->r.id);
	assert_int_equal(c->link[0].parent, 1001);
	/* one timeline: the back request lies inside the front one */
	assert_true(back->r.start_ns > front->r.start_ns);
	assert_true(back->r.end_ns < front->r.end_ns);

	htc_source_close(s);
	htc_engine_free(e);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_two_services),
		cmocka_unit_test(test_two_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
