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
#include <stdio.h>
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
	/* both reports carried the link: nothing to patch; proven by the
	 * thread rule */
	assert_int_equal(c->link[0].flags, HTC_EV_THREAD << 8);
	assert_int_equal(http->c.evidence, HTC_EV_THREAD);
	assert_int_equal(back->r.parent_evidence, HTC_EV_THREAD);
	free(c);
}

/* Two hosts, two files, clocks set differently, merged by htc_source.
 * state: 0 clocks agree, 1 host B 30 s fast, 2 host B 30 s slow. */
static void test_two_hosts(void **state)
{
	intptr_t skew = (intptr_t)*state;
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

	if (skew == 1) {
		/* host B's clock is 30 s fast: its events sort after all of A's */
		fx_clock_skew(b, 30LL * 1000000000LL);
	} else if (skew == 2) {
		/* 30 s slow: the back request is over before the call starts */
		fx_clock_skew(b, -30LL * 1000000000LL);
	}
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
	if (skew == 0) {
		/* one timeline: the back request lies inside the front one */
		assert_true(back->r.start_ns > front->r.start_ns);
		assert_true(back->r.end_ns < front->r.end_ns);
		assert_int_equal(back->r.parent_id, 1001);
		assert_int_equal(c->link[0].flags & 0xff, 0);
	} else if (skew == 1) {
		/* the call was reported before its request started: the
		 * request carried the link, the call did not */
		assert_int_equal(back->r.parent_id, 1001);
		assert_int_equal(back->r.parent_call_id, c->link[0].call);
		assert_int_equal(col_find_call(c, "GET /stock/42")->c.child_request_id, 0);
		assert_int_equal(c->link[0].flags & 0xff, HTC_LINK_LATE_CALL);
	} else {
		/* the request was reported before the call started: the
		 * call carried the link, the request did not */
		assert_int_equal(back->r.parent_id, 0);
		assert_int_equal(back->r.parent_call_id, 0);
		assert_int_equal(col_find_call(c, "GET /stock/42")->c.child_request_id, back->r.id);
		assert_int_equal(c->link[0].flags & 0xff, HTC_LINK_LATE_REQUEST);
	}

	htc_source_close(s);
	htc_engine_free(e);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
	free(c);
}


/* ---- correlation cases ---- */

/* Two threads each serve a request at the same time and each makes a call:
 * every call goes to its own thread's request, none is ambiguous. */
static void test_thread_per_request(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, ra, rb;
	struct col *c;
	const struct col_call *ka, *kb;

	a = fx_accept(fx, t += MS, 100, 101, "10.0.0.1", 80, "10.0.0.9", 5001);
	b = fx_accept(fx, t += MS, 100, 102, "10.0.0.1", 80, "10.0.0.9", 5002);
	fx_reads(fx, t += MS, 100, 101, a, "GET /a HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 102, b, "GET /b HTTP/1.1\r\n\r\n");
	ra = fx_connect(fx, t += MS, 100, 101, "10.0.0.1", 6000, "10.0.0.5", 6379);
	rb = fx_connect(fx, t += MS, 100, 102, "10.0.0.1", 6001, "10.0.0.5", 6379);
	fx_writes(fx, t += MS, 100, 102, rb, "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
	fx_writes(fx, t += MS, 100, 101, ra, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
	fx_reads(fx, t += MS, 100, 101, ra, "$1\r\n1\r\n");
	fx_reads(fx, t += MS, 100, 102, rb, "-ERR nope\r\n");
	fx_writes(fx, t += MS, 100, 102, b, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, 100, 101, a, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
	c = run_fx(fx);

	assert_int_equal(c->nreq, 2);
	ka = col_find_call(c, "GET a");
	kb = col_find_call(c, "GET b");
	assert_non_null(ka);
	assert_non_null(kb);
	assert_int_equal(ka->c.request_id, 1001);
	assert_int_equal(kb->c.request_id, 1002);
	assert_int_equal(ka->c.flags & HTC_ENGF_AMBIGUOUS, 0);
	assert_int_equal(kb->c.flags & HTC_ENGF_AMBIGUOUS, 0);
	assert_true(kb->c.flags & HTC_ENGF_ERROR);	/* Redis error reply */
	assert_int_equal(col_find_req(c, 1002)->r.status, 502);
	assert_int_equal(col_find_req(c, 1001)->r.ncalls, 1);
	/* connections opened while serving carry the request */
	for (size_t i = 0; i < c->nconn; i++)
		if (c->conn[i].ep.rport == 6379)
			assert_int_equal(c->conn[i].request_id, c->conn[i].ep.lport == 6000 ? 1001 : 1002);
	free(c);
}

/* A keep-alive client connection opened before any request is reused by
 * two requests in turn: each call belongs to the request active then. */
static void test_pooled_client(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, pool, in;
	struct col *c;
	int seen = 0;

	pool = fx_connect(fx, t += MS, 100, 101, "10.0.0.1", 7000, "10.0.0.2", 8080);
	in = fx_accept(fx, t += MS, 100, 101, "10.0.0.1", 80, "10.0.0.9", 5001);
	for (int i = 0; i < 2; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /front/%d HTTP/1.1\r\n\r\n", i);
		fx_reads(fx, t += MS, 100, 101, in, req);
		snprintf(req, sizeof(req), "GET /back/%d HTTP/1.1\r\n\r\n", i);
		fx_writes(fx, t += MS, 100, 101, pool, req);
		fx_reads(fx, t += MS, 100, 101, pool, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		fx_writes(fx, t += MS, 100, 101, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	fx_close(fx, t += MS, 100, 101, in);
	c = run_fx(fx);
	assert_int_equal(c->nreq, 2);
	assert_int_equal(c->ncall, 2);
	for (size_t i = 0; i < c->ncall; i++) {
		const struct col_call *k = &c->call[i];

		assert_int_equal(k->c.request_id, !strcmp(k->summary, "GET /back/0") ? 1001 : 1002);
		assert_int_equal(k->c.seq, !strcmp(k->summary, "GET /back/0") ? 0 : 1);
		assert_int_equal(k->c.status, 200);
		seen++;
	}
	assert_int_equal(seen, 2);
	for (size_t i = 0; i < c->nconn; i++)
		if (c->conn[i].ep.rport == 8080)
			assert_int_equal(c->conn[i].request_id, 0);	/* opened before */
	free(c);
}

/* One thread, two requests in flight (an event loop): the call goes to
 * the most recent one, marked ambiguous and counted. */
static void test_event_loop_ambiguous(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, r;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_engine_stats st;
	void *buf;
	size_t len;
	struct htc_reader *rd;
	struct htc_record rec;
	int err;

	a = fx_accept(fx, t += MS, 300, 300, "10.0.0.1", 80, "10.0.0.9", 5001);
	b = fx_accept(fx, t += MS, 300, 300, "10.0.0.1", 80, "10.0.0.9", 5002);
	/* connected before: the order of the loop does not prove the call
	 * (its first write may be any request's) */
	r = fx_connect(fx, t += MS, 300, 300, "10.0.0.1", 6000, "10.0.0.5", 9999);
	fx_reads(fx, t += MS, 300, 300, a, "GET /a HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 300, 300, b, "GET /b HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 300, 300, r, "PING\n");
	fx_reads(fx, t += MS, 300, 300, r, "PONG\n");
	fx_writes(fx, t += MS, 300, 300, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, 300, 300, b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_finish(fx, &buf, &len);

	rd = htc_reader_open_mem(buf, len, &err);
	htc_engine_add_file(e, htc_reader_header(rd));
	while (htc_reader_next(rd, &rec) == 1)
		htc_engine_feed(e, 0, &rec, NULL);
	htc_engine_finish(e);
	htc_engine_stats(e, &st);

	assert_int_equal(c->ncall, 1);
	assert_int_equal(c->call[0].c.request_id, 1002);
	assert_true(c->call[0].c.flags & HTC_ENGF_AMBIGUOUS);
	assert_int_equal(c->call[0].c.proto, HTC_PROTO_UNKNOWN);
	assert_string_equal(c->call[0].summary, "PING\\x0a");
	assert_true(c->call[0].c.end_ns > c->call[0].c.start_ns);
	assert_int_equal(st.ambiguous, 1);
	assert_int_equal(col_find_req(c, 1002)->r.ncalls, 1);
	assert_int_equal(col_find_req(c, 1001)->r.ncalls, 0);
	htc_reader_close(rd);
	htc_engine_free(e);
	free(buf);
	free(c);
}

/* An IPv4 client and a dual-stack server that sees it as ::ffff:127.0.0.1. */
static void test_link_v4mapped(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, cl, sv;
	struct col *c;

	cl = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 50000, "127.0.0.1", 8080);
	sv = fx_accept(fx, t += MS, 200, 200, "::ffff:127.0.0.1", 8080, "::ffff:127.0.0.1", 50000);
	for (int i = 0; i < 3; i++) {
		fx_writes(fx, t += MS, 100, 100, cl, "GET /x HTTP/1.1\r\n\r\n");
		fx_reads(fx, t += MS, 200, 200, sv, "GET /x HTTP/1.1\r\n\r\n");
		fx_writes(fx, t += MS, 200, 200, sv, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		fx_reads(fx, t += MS, 100, 100, cl, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	c = run_fx(fx);
	assert_int_equal(c->nreq, 3);
	assert_int_equal(c->ncall, 3);
	assert_int_equal(c->nlink, 3);
	/* call #k made request #k */
	for (size_t i = 0; i < c->nlink; i++) {
		const struct col_req *r = col_find_req(c, c->link[i].child);

		assert_non_null(r);
		for (size_t k = 0; k < c->ncall; k++)
			if (c->call[k].c.id == c->link[i].call)
				assert_int_equal(c->call[k].c.seq, r->r.seq);
	}
	free(c);
}

/* ---- HTTP framing through the engine ---- */

static void test_no_body_responses(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;
	struct htc_engine_stats st;
	static const int want[] = { 200, 204, 304, 200, 200 };

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_reads(fx, t += MS, 100, 100, s, "HEAD /big HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, s, "DELETE /x HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 204 No Content\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, s, "GET /c HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 304 Not Modified\r\nContent-Length: 55\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, s, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 100 Continue\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, s, "data");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	fx_reads(fx, t += MS, 100, 100, s, "GET /last HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!");
	{
		void *buf;
		size_t len;
		struct htc_engine_sink sink;
		struct htc_engine *e;
		struct htc_reader *rd;
		struct htc_record rec;
		int err;

		c = calloc(1, sizeof(*c));
		sink = col_sink(c);
		e = htc_engine_new(&sink);
		fx_finish(fx, &buf, &len);
		rd = htc_reader_open_mem(buf, len, &err);
		htc_engine_add_file(e, htc_reader_header(rd));
		while (htc_reader_next(rd, &rec) == 1)
			htc_engine_feed(e, 0, &rec, NULL);
		htc_engine_finish(e);
		htc_engine_stats(e, &st);
		htc_reader_close(rd);
		htc_engine_free(e);
		free(buf);
	}
	assert_int_equal(c->nreq, 5);
	for (int i = 0; i < 5; i++) {
		const struct col_req *r = col_find_req(c, 1001 + (uint64_t)i);

		assert_non_null(r);
		assert_int_equal(r->r.status, want[i]);
		assert_int_equal(r->r.flags & (HTC_ENGF_UNANSWERED | HTC_ENGF_GAP | HTC_ENGF_RESET), 0);
	}
	assert_int_equal(col_find_req(c, 1004)->body_len, 4);
	assert_int_equal(col_find_req(c, 1004)->r.resp_body_len, 2);
	assert_int_equal(st.parse_errors, 0);
	assert_int_equal(st.gaps, 0);
	free(c);
}

/* Control bytes in a reason phrase or a header value (a sloppy or hostile
 * server) do not turn answered requests into unanswered ones: RFC 9110
 * lets a recipient keep them (issue 21). */
static void test_control_bytes_kept(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_reads(fx, t += MS, 100, 100, s, "GET /a HTTP/1.1\r\nX-Trace: a\x1b[31mb\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 O\x1b]0;pwned\x07K\r\nContent-Length: 2\r\n\r\nok");
	fx_reads(fx, t += MS, 100, 100, s, "GET /b HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 503 Busy\r\nX-Bad: \x7f\x01\r\rz\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, s, "GET /c HTTP/1.1\r\n\r\n");
	{
		static const char nul[] = "HTTP/1.1 200 N\0L\r\nX: \0\r\nContent-Length: 1\r\n\r\n!";

		fx_write(fx, t += MS, 100, 100, s, nul, sizeof(nul) - 1);
	}
	c = run_fx(fx);
	assert_int_equal(c->nreq, 3);
	assert_int_equal(col_find_req(c, 1003)->r.status, 200);
	assert_int_equal(col_find_req(c, 1003)->r.resp_body_len, 1);
	assert_int_equal(col_find_req(c, 1001)->r.status, 200);
	assert_int_equal(col_find_req(c, 1001)->r.resp_body_len, 2);
	assert_int_equal(col_find_req(c, 1001)->r.flags & (HTC_ENGF_UNANSWERED | HTC_ENGF_ERROR), 0);
	assert_int_equal(col_find_req(c, 1002)->r.status, 503);
	assert_int_equal(col_find_req(c, 1002)->r.flags & HTC_ENGF_UNANSWERED, 0);
	free(c);
}

/* A flood: one read holding 1000 tiny pipelined requests (a few KiB of a
 * capture that compresses a thousandfold) starts HTC_ENG_MAX_STARTS, cuts
 * and counts the rest, frames the cut ones all the same (a cut request's
 * body is not taken for a request), and the connection goes on (issue 21). */
static void test_flood_cut(void **state)
{
	static const char unit[] = "GET /f HTTP/1.1\r\n\r\n";
	static const char post[] = "POST /x HTTP/1.1\r\nContent-Length: 31\r\n\r\n"
				   "GET /not-a-request HTTP/1.1\r\n\r\n";
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	size_t n = 0, cap = 1000 * sizeof(unit) + sizeof(post);
	char *b = malloc(cap);
	struct htc_engine_stats st;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_reader *rd;
	struct htc_record rec;
	void *buf;
	size_t len;
	int err;

	assert_non_null(b);
	for (int i = 0; i < 1000; i++) {
		if (i == 500) {
			memcpy(b + n, post, sizeof(post) - 1);
			n += sizeof(post) - 1;
		}
		memcpy(b + n, unit, sizeof(unit) - 1);
		n += sizeof(unit) - 1;
	}
	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_read(fx, t += MS, 100, 100, s, b, n);
	fx_reads(fx, t += MS, 100, 100, s, "GET /after HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_finish(fx, &buf, &len);
	rd = htc_reader_open_mem(buf, len, &err);
	assert_non_null(rd);
	htc_engine_add_file(e, htc_reader_header(rd));
	while (htc_reader_next(rd, &rec) == 1)
		assert_int_equal(htc_engine_feed(e, 0, &rec, NULL), 0);
	htc_engine_finish(e);
	htc_engine_stats(e, &st);
	assert_int_equal(st.cut, 1001 - HTC_ENG_MAX_STARTS);
	assert_int_equal(st.requests, HTC_ENG_MAX_STARTS + 1);
	assert_int_equal(st.parse_errors, 0);
	/* the request after the flood is one more request; the one answer
	 * goes to the oldest still waiting, as pipelining says */
	assert_int_equal(st.unanswered, HTC_ENG_MAX_STARTS);
	htc_reader_close(rd);
	htc_engine_free(e);
	free(buf);
	free(b);
	free(c);
}

/* Requests and responses split at every byte across two syscalls, and
 * several messages in one syscall, all give the same result. */
static void test_split_every_byte(void **state)
{
	static const char req[] = "POST /split HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "3\r\nabc\r\n0\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
	uint64_t hash = 0;

	for (size_t cut = 1; cut < sizeof(resp) - 1; cut++) {
		struct fx *fx = new_fx();
		uint64_t t = T0, s;
		size_t rc = cut < sizeof(req) - 1 ? cut : sizeof(req) - 2;
		struct col *c;
		const struct col_req *r;

		s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
		fx_read(fx, t += MS, 100, 100, s, req, rc);
		fx_read(fx, t += MS, 100, 100, s, req + rc, sizeof(req) - 1 - rc);
		fx_write(fx, t += MS, 100, 100, s, resp, cut);
		fx_write(fx, t += MS, 100, 100, s, resp + cut, sizeof(resp) - 1 - cut);
		/* then two pipelined requests in one read, answered in one write */
		fx_reads(fx, t += MS, 100, 100, s, "GET /p1 HTTP/1.1\r\n\r\nGET /p2 HTTP/1.1\r\n\r\n");
		fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 201 A\r\nContent-Length: 1\r\n\r\nx"
			  "HTTP/1.1 202 B\r\nContent-Length: 0\r\n\r\n");
		c = run_fx(fx);
		if (c->nreq != 3) {
			for (size_t i = 0; i < c->nreq; i++)
				printf("req %llu %s %d\n", (unsigned long long)c->req[i].r.id, c->req[i].path, c->req[i].r.status);
			fail_msg("cut %zu: %zu requests", cut, c->nreq);
		}
		r = col_find_req(c, 1001);
		assert_string_equal(r->path, "/split");
		assert_int_equal(r->r.status, 200);
		assert_int_equal(r->body_len, 3);
		assert_memory_equal(r->body, "abc", 3);
		assert_int_equal(r->r.resp_body_len, 11);
		assert_int_equal(r->r.req_bytes, sizeof(req) - 1);
		assert_int_equal(r->r.resp_bytes, sizeof(resp) - 1);
		assert_int_equal(r->r.start_ns, W(T0 + 2 * MS));
		assert_int_equal(r->r.end_ns, W(T0 + 5 * MS));
		if (!hash)
			hash = r->r.resp_body_hash;
		assert_int_equal(r->r.resp_body_hash, hash);
		assert_int_equal(col_find_req(c, 1002)->r.status, 201);
		assert_string_equal(col_find_req(c, 1003)->path, "/p2");
		assert_int_equal(col_find_req(c, 1003)->r.status, 202);
		free(c);
	}
	/* FNV-1a 64 of "hello world" */
	assert_int_equal(hash, 0x779a65e7023cd2e7ULL);
}

/* HTTP/1.0 style: no length, the body ends with the connection. */
static void test_close_delimited(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;
	const struct col_req *r;

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_reads(fx, t += MS, 100, 100, s, "GET /old HTTP/1.0\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nfirst ");
	fx_writes(fx, t += MS, 100, 100, s, "second");
	fx_close(fx, t += MS, 100, 100, s);
	c = run_fx(fx);
	assert_int_equal(c->nreq, 1);
	r = &c->req[0];
	assert_int_equal(r->r.status, 200);
	assert_int_equal(r->r.resp_body_len, 12);
	assert_int_equal(r->r.end_ns, W(T0 + 4 * MS));
	assert_int_equal(r->r.flags & (HTC_ENGF_UNANSWERED | HTC_ENGF_RESET), 0);
	assert_string_equal(r->r.version == NULL ? "" : "", "");
	free(c);
}

static void test_unanswered_and_reset(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, d;
	struct col *c;

	a = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	b = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5002);
	d = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5003);
	fx_reads(fx, t += MS, 100, 100, a, "GET /closed HTTP/1.1\r\n\r\n");
	fx_close(fx, t += MS, 100, 100, a);
	fx_reads(fx, t += MS, 100, 100, b, "GET /cut HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, b, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
	fx_close_ret(fx, t += MS, 100, 100, b, -104);
	fx_reads(fx, t += MS, 100, 100, d, "GET /never HTTP/1.1\r\n\r\n");	/* capture ends */
	c = run_fx(fx);
	assert_int_equal(c->nreq, 3);
	assert_true(col_find_req(c, 1001)->r.flags & HTC_ENGF_UNANSWERED);
	assert_int_equal(col_find_req(c, 1001)->r.end_ns, 0);
	/* the close after an unanswered request belongs to it */
	for (size_t i = 0; i < c->nann; i++)
		if (c->ann[i].type == HTC_EV_CLOSE && c->ann[i].conn_id == a) {
			assert_int_equal(c->ann[i].request_id, 1001);
			assert_string_equal(c->ann[i].path, "/closed");
		}
	assert_true(col_find_req(c, 1002)->r.flags & HTC_ENGF_RESET);
	assert_int_equal(col_find_req(c, 1002)->r.flags & HTC_ENGF_UNANSWERED, 0);
	assert_int_equal(col_find_req(c, 1002)->r.status, 200);
	assert_true(col_find_req(c, 1003)->r.flags & HTC_ENGF_UNANSWERED);
	for (size_t i = 0; i < c->nconn; i++)
		if (c->conn[i].ep.rport == 5003)
			assert_int_equal(c->conn[i].close_ns, 0);
	free(c);
}

/* Uncaptured bytes: snaplen cuts a body, a drop inside a request body, a
 * drop inside a head.  The next exchanges still parse. */
static void test_gaps(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;
	char big[1000];
	const struct col_req *r;

	memset(big, 'b', sizeof(big));
	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	/* 1001: response body cut by snaplen */
	fx_reads(fx, t += MS, 100, 100, s, "GET /snap HTTP/1.1\r\n\r\n");
	{
		char resp[1100];
		int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");

		memcpy(resp + n, big, sizeof(big));
		fx_write_cut(fx, t += MS, 100, 100, s, resp, 100, (size_t)n + sizeof(big));
	}
	/* 1002: a drop inside the request body */
	fx_reads(fx, t += MS, 100, 100, s, "PUT /drop HTTP/1.1\r\nContent-Length: 30\r\n\r\n0123456789");
	fx_skip(fx, s, HTC_EV_READ, 10);
	fx_reads(fx, t += MS, 100, 100, s, "0123456789");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* 1003: a drop inside the head; the request is known from its start */
	fx_reads(fx, t += MS, 100, 100, s, "GET /headgap HTTP/1.1\r\nHost: x\r\n");
	fx_skip(fx, s, HTC_EV_READ, 20);
	fx_reads(fx, t += MS, 100, 100, s, "\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n");
	/* 1004: fine again */
	fx_reads(fx, t += MS, 100, 100, s, "GET /after HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	c = run_fx(fx);

	assert_int_equal(c->nreq, 4);
	r = col_find_req(c, 1001);
	assert_int_equal(r->r.status, 200);
	assert_true(r->r.flags & HTC_ENGF_RESP_BODY_PARTIAL);
	assert_int_equal(r->r.resp_body_hash, 0);
	assert_int_equal(r->r.resp_bytes, 41 + 1000);
	r = col_find_req(c, 1002);
	assert_string_equal(r->path, "/drop");
	assert_true(r->r.flags & HTC_ENGF_BODY_PARTIAL);
	assert_int_equal(r->r.req_bytes, 42 + 30);
	assert_int_equal(r->r.status, 200);
	r = col_find_req(c, 1003);
	assert_string_equal(r->path, "/headgap");
	assert_true(r->r.flags & HTC_ENGF_GAP);
	assert_int_equal(r->r.status, 404);
	r = col_find_req(c, 1004);
	assert_string_equal(r->path, "/after");
	assert_int_equal(r->r.status, 200);
	assert_int_equal(r->r.flags & (HTC_ENGF_GAP | HTC_ENGF_RESP_BODY_PARTIAL), 0);
	assert_true(c->conn[0].flags & HTC_ENGF_GAP);
	free(c);

	/* the first event of an accepted connection was lost: a gap, then
	 * the next request is found */
	fx = new_fx();
	t = T0;
	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_skip(fx, s, HTC_EV_READ, 60);
	fx_reads(fx, t += MS, 100, 100, s, "ody\r\nGET /found HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->nreq, 1);
	assert_string_equal(c->req[0].path, "/found");
	assert_int_equal(c->req[0].r.status, 200);
	free(c);
}

/* A server connection open before the capture, first seen mid-body. */
static void test_preexisting(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;

	s = fx_preexisting(fx, 100, "10.0.0.1", 80, "10.0.0.9", 5001, HTC_ROLE_UNKNOWN);
	fx_reads(fx, t += MS, 100, 100, s, "tail of an earlier body\r\nGET /seen HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->nreq, 1);
	assert_string_equal(c->req[0].path, "/seen");
	assert_true(c->req[0].r.flags & HTC_ENGF_PREEXISTING);
	assert_true(c->conn[0].flags & HTC_ENGF_PREEXISTING);
	free(c);

	/* roles of sockets of unknown role from their bytes or ports: a
	 * forked database worker answering first is a server (no calls); a
	 * process writing Redis commands is a client */
	fx = new_fx();
	t = T0;
	s = fx_preexisting(fx, 300, "127.0.0.1", 5432, "127.0.0.1", 45000, HTC_ROLE_UNKNOWN);
	fx_writes(fx, t += MS, 300, 300, s, "N");
	fx_read(fx, t += MS, 300, 300, s, "\0\0\0\x10\0\x03\0\0user\0x\0\0", 16);
	s = fx_preexisting(fx, 400, "127.0.0.1", 45001, "127.0.0.1", 7777, HTC_ROLE_UNKNOWN);
	fx_writes(fx, t += MS, 400, 400, s, "*1\r\n$4\r\nPING\r\n");
	fx_reads(fx, t += MS, 400, 400, s, "+PONG\r\n");
	c = run_fx(fx);
	assert_int_equal(c->ncall, 1);
	assert_string_equal(c->call[0].summary, "PING");
	assert_int_equal(c->call[0].c.proto, HTC_PROTO_REDIS);
	for (size_t i = 0; i < c->nconn; i++)
		if (c->conn[i].ep.lport == 5432) {
			assert_int_equal(c->conn[i].ep.role, HTC_ROLE_SERVER);
			assert_int_equal(c->conn[i].proto, HTC_PROTO_POSTGRES);
		}
	free(c);
}

/* ---- TCP sequence numbers (format 1.2) ---- */

static const struct col_req *req_by_path(const struct col *c, const char *path)
{
	for (size_t i = 0; i < c->nreq; i++)
		if (!strcmp(c->req[i].path, path))
			return &c->req[i];
	return NULL;
}

/*
 * A proxy's upstream keepalive pool, open before the capture, both ends
 * traced on one host.  The backend answers a request whose write the
 * capture missed (/old), so the two ends' exchange orders differ by one.
 * With sequence numbers (state 1) every call links to the request it
 * became, by the number of its first byte (the client's numbers wrap past
 * 2^32 on the way), and the backend requests get their parents; without
 * them (state 0), as in 1.1 files, a connection joined mid-way is never
 * linked, since its order proves nothing.
 */
static void test_seq_pool_link(void **state)
{
	int with_seq = (int)(intptr_t)*state;
	static const char old_req[] = "GET /old HTTP/1.1\r\n\r\n";
	const uint32_t c0 = 0xfffffff0u, s0 = 5000;
	struct fx *fx = new_fx();
	uint64_t t = T0, in, p, q;
	struct col *c;

	in = fx_accept(fx, t += MS, 100, 101, "127.0.0.1", 80, "127.0.0.9", 5001);
	p = fx_preexisting(fx, 100, "127.0.0.1", 40000, "127.0.0.1", 9000, HTC_ROLE_UNKNOWN);
	q = fx_preexisting(fx, 200, "127.0.0.1", 9000, "127.0.0.1", 40000, HTC_ROLE_UNKNOWN);
	if (with_seq) {
		fx_seq(fx, q, HTC_EV_READ, c0);
		fx_seq(fx, p, HTC_EV_WRITE, c0 + (uint32_t)strlen(old_req));
		fx_seq(fx, q, HTC_EV_WRITE, s0);
		fx_seq(fx, p, HTC_EV_READ, s0);
	}
	/* the client wrote /old before the capture */
	fx_reads(fx, t += MS, 200, 201, q, old_req);
	fx_writes(fx, t += MS, 200, 201, q, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold");
	fx_reads(fx, t += MS, 100, 101, p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold");
	for (int i = 0; i < 2; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /front/%d HTTP/1.1\r\n\r\n", i);
		fx_reads(fx, t += MS, 100, 101, in, req);
		snprintf(req, sizeof(req), "GET /back/%d HTTP/1.1\r\n\r\n", i);
		fx_writes(fx, t += MS, 100, 101, p, req);
		fx_reads(fx, t += MS, 200, 201, q, req);
		fx_writes(fx, t += MS, 200, 201, q, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		fx_reads(fx, t += MS, 100, 101, p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		fx_writes(fx, t += MS, 100, 101, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	c = run_fx(fx);
	assert_int_equal(c->nreq, 5);
	assert_int_equal(c->ncall, 2);
	assert_non_null(req_by_path(c, "/old"));
	assert_int_equal(c->nlink, with_seq ? 2 : 0);
	for (int i = 0; i < 2; i++) {
		char path[32], summary[64];
		const struct col_req *front, *back;
		const struct col_call *k;

		snprintf(path, sizeof(path), "/front/%d", i);
		front = req_by_path(c, path);
		snprintf(path, sizeof(path), "/back/%d", i);
		back = req_by_path(c, path);
		snprintf(summary, sizeof(summary), "GET /back/%d", i);
		k = col_find_call(c, summary);
		assert_non_null(front);
		assert_non_null(back);
		assert_non_null(k);
		assert_int_equal(k->c.request_id, front->r.id);
		assert_int_equal(k->c.status, 200);
		if (!with_seq) {
			assert_int_equal(back->r.parent_id, 0);
			continue;
		}
		assert_int_equal(back->r.parent_id, front->r.id);
		assert_int_equal(back->r.parent_call_id, k->c.id);
		assert_int_equal(c->link[i].child, back->r.id);
		assert_int_equal(c->link[i].parent, front->r.id);
	}
	/* where the capture joined each direction, in TCP's numbers */
	for (size_t i = 0; i < c->nconn; i++) {
		const struct htc_eng_conn *k = &c->conn[i];

		if (k->ep.lport == 80)
			continue;
		if (!with_seq) {
			assert_int_equal(k->flags2 & (HTC_ENGF2_SEQ_IN | HTC_ENGF2_SEQ_OUT), 0);
		} else if (k->ep.lport == 40000) {
			assert_int_equal(k->flags2, HTC_ENGF2_SEQ_IN | HTC_ENGF2_SEQ_OUT);
			assert_int_equal(k->seq_out, c0 + (uint32_t)strlen(old_req));
			assert_int_equal(k->seq_in, s0);
		} else {
			assert_int_equal(k->seq_in, c0);
			assert_int_equal(k->seq_out, s0);
		}
	}
	free(c);
}

/*
 * The same pool across two hosts, one capture each, merged: the front's
 * host A (its pooled client end) and the backend's host B (its server
 * end), whose monotonic clocks differ by 5000 s and whose captures began
 * at different moments (B saw /early, whose write A never saw).  Linked by
 * sequence numbers, across files.
 */
static void test_seq_two_hosts(void **state)
{
	static const char early[] = "GET /early HTTP/1.1\r\n\r\n";
	const uint32_t c0 = 123456789u, s0 = 0xfffffffeu;
	char dir[] = "/tmp/htc-engine-XXXXXX";
	char pa[64], pb[64];
	const char *paths[2] = { pa, pb };
	struct fx *a, *b;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_source *s;
	struct htc_record rec;
	uint64_t w = W(T0), in, p, q;
	int64_t oa, ob;
	uint32_t fi;
	int err = 0, n;

	(void)state;
	assert_non_null(c);
	assert_non_null(e);
	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.htc", dir);
	snprintf(pb, sizeof(pb), "%s/b.htc", dir);
	a = fx_open(pa, "host-a", OFF);
	b = fx_open(pb, "host-b", OFF + 5000LL * 1000000000LL);
	oa = fx_realtime_offset(a);
	ob = fx_realtime_offset(b);
#define TA(x) ((uint64_t)((int64_t)(x) - oa))
#define TB(x) ((uint64_t)((int64_t)(x) - ob))
	q = fx_preexisting(b, 200, "10.0.0.2", 9000, "10.0.0.1", 40000, HTC_ROLE_UNKNOWN);
	fx_seq(b, q, HTC_EV_READ, c0);
	fx_seq(b, q, HTC_EV_WRITE, s0);
	fx_reads(b, TB(w += MS), 200, 201, q, early);
	fx_writes(b, TB(w += MS), 200, 201, q, "HTTP/1.1 204 No Content\r\n\r\n");
	in = fx_accept(a, TA(w += MS), 100, 101, "10.0.0.1", 80, "10.0.0.9", 5001);
	p = fx_preexisting(a, 100, "10.0.0.1", 40000, "10.0.0.2", 9000, HTC_ROLE_UNKNOWN);
	fx_seq(a, p, HTC_EV_WRITE, c0 + (uint32_t)strlen(early));
	fx_seq(a, p, HTC_EV_READ, s0 + 27);
	for (int i = 0; i < 2; i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /front/%d HTTP/1.1\r\n\r\n", i);
		fx_reads(a, TA(w += MS), 100, 101, in, req);
		snprintf(req, sizeof(req), "GET /back/%d HTTP/1.1\r\n\r\n", i);
		fx_writes(a, TA(w += MS), 100, 101, p, req);
		fx_reads(b, TB(w += MS), 200, 201, q, req);
		fx_writes(b, TB(w += MS), 200, 201, q, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		fx_reads(a, TA(w += MS), 100, 101, p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		fx_writes(a, TA(w += MS), 100, 101, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
#undef TA
#undef TB
	fx_finish(a, NULL, NULL);
	fx_finish(b, NULL, NULL);

	s = htc_source_open(paths, 2, e, NULL, NULL, &err);
	assert_non_null(s);
	while ((n = htc_source_next(s, &rec, &fi)) == 1)
		assert_int_equal(htc_engine_feed(e, fi, &rec, NULL), 0);
	assert_int_equal(n, 0);
	htc_engine_finish(e);

	assert_int_equal(c->nreq, 5);
	assert_int_equal(c->nlink, 2);
	for (int i = 0; i < 2; i++) {
		char path[32];
		const struct col_req *front, *back;

		snprintf(path, sizeof(path), "/front/%d", i);
		front = req_by_path(c, path);
		snprintf(path, sizeof(path), "/back/%d", i);
		back = req_by_path(c, path);
		assert_non_null(front);
		assert_non_null(back);
		assert_int_equal(front->r.file_idx, 0);
		assert_int_equal(back->r.file_idx, 1);
		assert_int_equal(back->r.parent_id, front->r.id);
	}
	assert_int_equal(req_by_path(c, "/early")->r.parent_id, 0);
	htc_source_close(s);
	htc_engine_free(e);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
	free(c);
}

/*
 * Bytes the capture did not count: on a pooled connection (its framing
 * found on /z) the response to /a was read by a call the capture did not see, so stream_off runs on
 * without a jump and only the sequence number shows the loss, exactly.
 * The lost bytes are /a's response (flagged: a gap, length unknown, no
 * status), and the next responses go to /b and /c, not one exchange
 * early.  The same with a loss the byte count shows (fx_skip).
 */
static void test_seq_gap_resumes(void **state)
{
	static const char resp_a[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

	for (int with_seq = 0; with_seq < 2; with_seq++) {
		struct fx *fx = new_fx();
		uint64_t t = T0, p;
		struct col *c;
		const struct col_call *a, *b, *k;

		p = fx_preexisting(fx, 100, "127.0.0.1", 40000, "127.0.0.1", 9000, HTC_ROLE_UNKNOWN);
		if (with_seq) {
			fx_seq(fx, p, HTC_EV_WRITE, 77);
			fx_seq(fx, p, HTC_EV_READ, 0xffffffe0u);
		}
		/* one whole exchange first: the capture has found the
		 * connection's framing */
		fx_writes(fx, t += MS, 100, 101, p, "GET /z HTTP/1.1\r\n\r\n");
		fx_reads(fx, t += MS, 100, 101, p, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		fx_writes(fx, t += MS, 100, 101, p, "GET /a HTTP/1.1\r\n\r\n");
		if (with_seq)
			fx_seq_skip(fx, p, HTC_EV_READ, (uint32_t)strlen(resp_a));
		else
			fx_skip(fx, p, HTC_EV_READ, strlen(resp_a));
		fx_writes(fx, t += MS, 100, 101, p, "GET /b HTTP/1.1\r\n\r\n");
		fx_reads(fx, t += MS, 100, 101, p, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		fx_writes(fx, t += MS, 100, 101, p, "GET /c HTTP/1.1\r\n\r\n");
		fx_reads(fx, t += MS, 100, 101, p, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
		c = run_fx(fx);
		assert_int_equal(c->ncall, 4);
		assert_int_equal(col_find_call(c, "GET /z")->c.status, 200);
		a = col_find_call(c, "GET /a");
		b = col_find_call(c, "GET /b");
		k = col_find_call(c, "GET /c");
		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(k);
		assert_int_equal(a->c.status, 0);
		assert_true(a->c.flags & HTC_ENGF_GAP);
		assert_true(a->c.flags & HTC_ENGF_RESP_LEN_UNKNOWN);
		assert_int_equal(b->c.status, 404);
		assert_int_equal(k->c.status, 201);
		assert_int_equal(b->c.flags & (HTC_ENGF_GAP | HTC_ENGF_UNANSWERED), 0);
		assert_int_equal(k->c.flags & (HTC_ENGF_GAP | HTC_ENGF_UNANSWERED), 0);
		assert_true(c->conn[0].flags & HTC_ENGF_GAP);
		free(c);
	}
}

/*
 * An overlap the sequence numbers show: an event whose stream_off follows
 * on, but whose bytes (by their number) were already delivered (another
 * reader of the socket counted them too).  They are not fed twice: one
 * request, not two.
 */
static void test_seq_overlap(void **state)
{
	static const char req[] = "GET /once HTTP/1.1\r\n\r\n";
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c;

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	fx_seq(fx, s, HTC_EV_READ, 1000);
	fx_seq(fx, s, HTC_EV_WRITE, 9000);
	fx_reads(fx, t += MS, 100, 100, s, req);
	/* the same bytes again, by number */
	fx_seq(fx, s, HTC_EV_READ, 1000);
	fx_reads(fx, t += MS, 100, 100, s, req);
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->nreq, 1);
	assert_string_equal(c->req[0].path, "/once");
	assert_int_equal(c->req[0].r.status, 200);
	assert_int_equal(c->req[0].r.flags & HTC_ENGF_GAP, 0);
	free(c);
}

/* ---- PostgreSQL through the engine ---- */

static size_t pgm(uint8_t *b, char type, const void *body, size_t len)
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

static void test_postgres(void **state)
{
	static const uint8_t startup[] = { 0, 0, 0, 16, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0 };
	struct fx *fx = new_fx();
	uint64_t t = T0, in, pg;
	uint8_t b[256];
	size_t n;
	struct col *c;

	in = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	pg = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 40000, "10.0.0.3", 5432);
	fx_write(fx, t += MS, 100, 100, pg, startup, sizeof(startup));
	n = pgm(b, 'R', "\0\0\0\0", 4);
	n += pgm(b + n, 'Z', "I", 1);
	fx_read(fx, t += MS, 100, 100, pg, b, n);
	fx_reads(fx, t += MS, 100, 100, in, "GET /users HTTP/1.1\r\n\r\n");
	n = pgm(b, 'Q', "SELECT name\nFROM users;\0", 24);
	fx_write(fx, t += MS, 100, 100, pg, b, n);
	n = pgm(b, 'T', "\0\0", 2);
	n += pgm(b + n, 'C', "SELECT 0\0", 9);
	n += pgm(b + n, 'Z', "I", 1);
	fx_read(fx, t += MS, 100, 100, pg, b, n);
	n = pgm(b, 'Q', "DROP x;\0", 8);
	fx_write(fx, t += MS, 100, 100, pg, b, n);
	n = pgm(b, 'E', "SERROR\0\0", 8);
	n += pgm(b + n, 'Z', "I", 1);
	fx_read(fx, t += MS, 100, 100, pg, b, n);
	fx_writes(fx, t += MS, 100, 100, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->ncall, 2);	/* startup and auth are not calls */
	assert_string_equal(c->call[0].summary, "SELECT name FROM users");
	assert_int_equal(c->call[0].c.proto, HTC_PROTO_POSTGRES);
	assert_int_equal(c->call[0].c.request_id, 1001);
	assert_int_equal(c->call[0].c.end_ns, W(T0 + 7 * MS));
	assert_string_equal(c->call[1].summary, "DROP x");
	assert_true(c->call[1].c.flags & HTC_ENGF_ERROR);
	assert_int_equal(col_find_req(c, 1001)->r.ncalls, 2);
	free(c);
}

/*
 * The extended protocol, table-driven: each case is a script of writes
 * (client) and reads (server answers) in a compact notation, and the calls
 * it must make.  Messages are separated by '|': a type letter, then its
 * string fields after ':' (see pg_build); the same letter means the
 * frontend's message in a write, the backend's in a read.  An expected
 * call is its summary, "!" first when flagged as an error.
 */
struct pg_step {
	char dir;		/* 'w' client writes, 'r' client reads */
	const char *msgs;
};

struct pg_case {
	const char *name;
	struct pg_step steps[12];
	const char *calls[8];	/* expected, in report order */
};

static size_t pg_put_str(uint8_t *b, const char *s, size_t n)
{
	memcpy(b, s, n);
	b[n] = 0;
	return n + 1;
}

/* One message from "T:field:field" into b; returns its length. */
static size_t pg_build(uint8_t *b, char dir, const char *spec, size_t slen)
{
	char type = spec[0];
	const char *f[4] = { "", "", "", "" };
	size_t fl[4] = { 0, 0, 0, 0 }, nf = 0, n = 5;
	const char *s = spec + 1, *end = spec + slen;

	while (s < end && *s == ':' && nf < 4) {
		const char *z = memchr(s + 1, ':', (size_t)(end - s - 1));

		if (!z)
			z = end;
		f[nf] = s + 1;
		fl[nf++] = (size_t)(z - s - 1);
		s = z;
	}
	b[0] = (uint8_t)type;
	if (dir == 'w') {
		switch (type) {
		case 'Q':
			n += pg_put_str(b + n, f[0], fl[0]);
			break;
		case 'P':	/* name, query, no parameter types */
			n += pg_put_str(b + n, f[0], fl[0]);
			n += pg_put_str(b + n, f[1], fl[1]);
			b[n++] = 0, b[n++] = 0;
			break;
		case 'B':	/* portal, statement, no formats or parameters */
			n += pg_put_str(b + n, f[0], fl[0]);
			n += pg_put_str(b + n, f[1], fl[1]);
			memset(b + n, 0, 6);
			n += 6;
			break;
		case 'E':	/* portal, no row limit */
			n += pg_put_str(b + n, f[0], fl[0]);
			memset(b + n, 0, 4);
			n += 4;
			break;
		case 'D':	/* Describe / Close: 'S' or 'P', name */
		case 'C':
			b[n++] = (uint8_t)f[0][0];
			n += pg_put_str(b + n, f[1], fl[1]);
			break;
		}		/* S(ync), H (flush): empty */
	} else {
		switch (type) {
		case 'C':
			n += pg_put_str(b + n, f[0], fl[0]);
			break;
		case 'Z':
			b[n++] = 'I';
			break;
		case 'E':
			memcpy(b + n, "SERROR\0\0", 8);
			n += 8;
			break;
		case 'D':
			b[n++] = 0, b[n++] = 0;
			break;
		case 'T':
			b[n++] = 0, b[n++] = 0;
			break;
		}		/* 1, 2, 3, n, I, s: empty */
	}
	b[1] = (uint8_t)((n - 1) >> 24);
	b[2] = (uint8_t)((n - 1) >> 16);
	b[3] = (uint8_t)((n - 1) >> 8);
	b[4] = (uint8_t)(n - 1);
	return n;
}

static size_t pg_script(uint8_t *b, char dir, const char *msgs)
{
	size_t n = 0;

	while (*msgs) {
		const char *bar = strchr(msgs, '|');
		size_t l = bar ? (size_t)(bar - msgs) : strlen(msgs);

		n += pg_build(b + n, dir, msgs, l);
		msgs += l + (bar ? 1 : 0);
	}
	return n;
}

static const struct pg_case pg_cases[] = {
	{ "simple query unchanged",
	  { { 'w', "Q:SELECT 1" }, { 'r', "T|D|C:SELECT 1|Z" } },
	  { "SELECT 1" } },
	{ "BEGIN; and END; without their semicolon",
	  { { 'w', "Q:BEGIN;" }, { 'r', "C:BEGIN|Z" }, { 'w', "Q:END ; " }, { 'r', "C:COMMIT|Z" },
	    { 'w', "Q:SELECT 1; SELECT 2;" }, { 'r', "C:SELECT 1|C:SELECT 1|Z" } },
	  { "BEGIN", "END", "SELECT 1; SELECT 2" } },
	{ "unnamed statement (PQexecParams)",
	  { { 'w', "P::SELECT $1|B:::|D:P:|E:|S" }, { 'r', "1|2|T|D|C:SELECT 1|Z" } },
	  { "SELECT $1" } },
	{ "prepared once, executed three times with no new Parse",
	  { { 'w', "P:P_0:SELECT a FROM t WHERE id = $1|S" }, { 'r', "1|Z" },
	    { 'w', "B::P_0|E:|S" }, { 'r', "2|D|C:SELECT 1|Z" },
	    { 'w', "B::P_0|E:|S" }, { 'r', "2|D|C:SELECT 1|Z" },
	    { 'w', "B::P_0|E:|S" }, { 'r', "2|D|C:SELECT 1|Z" } },
	  { "SELECT a FROM t WHERE id = $1", "SELECT a FROM t WHERE id = $1",
	    "SELECT a FROM t WHERE id = $1" } },
	{ "pipelined Executes, one Sync",
	  { { 'w', "P:a:SELECT 1|P:b:UPDATE t SET x = 1|B:pa:a|B:pb:b|E:pa|E:pb|E:pa|S" },
	    { 'r', "1|1|2|2|D|C:SELECT 1|C:UPDATE 1|D|C:SELECT 1|Z" } },
	  { "SELECT 1", "UPDATE t SET x = 1", "SELECT 1" } },
	{ "pipelined Syncs: each ReadyForQuery its own group",
	  { { 'w', "P:a:SELECT 1|B::a|E:|S|B::a|E:|S" },
	    { 'r', "1|2|C:SELECT 1|Z" }, { 'r', "2|C:SELECT 1|Z" } },
	  { "SELECT 1", "SELECT 1" } },
	{ "an error skips the Executes up to the Sync",
	  { { 'w', "P:a:SELECT 1/0|P:b:SELECT 2|B:x:a|E:x|B:y:b|E:y|S" }, { 'r', "1|1|2|E|Z" },
	    { 'w', "B::b|E:|S" }, { 'r', "2|C:SELECT 1|Z" } },
	  { "!SELECT 1/0", "!SELECT 2", "SELECT 2" } },
	{ "an error on a Parse with no Execute makes no call",
	  { { 'w', "P:a:SELEC|S|P:b:SELECT 3|B::b|E:|S" }, { 'r', "E|Z|1|2|C:SELECT 1|Z" } },
	  { "SELECT 3" } },
	{ "portal run in pieces (row limit): each Execute a call",
	  { { 'w', "P:c:SELECT g|B:cur:c|E:cur|E:cur|S" }, { 'r', "1|2|D|s|D|C:SELECT 2|Z" } },
	  { "SELECT g", "SELECT g" } },
	{ "closed statement name reused for another query",
	  { { 'w', "P:s:SELECT 1|B::s|E:|C:S:s|P:s:SELECT 2|B::s|E:|S" },
	    { 'r', "1|2|C:SELECT 1|3|1|2|C:SELECT 1|Z" } },
	  { "SELECT 1", "SELECT 2" } },
	{ "statement prepared before the capture",
	  { { 'w', "B::P_7|E:|S" }, { 'r', "2|C:SELECT 1|Z" } },
	  { "(statement \"P_7\" prepared before the capture)" } },
	{ "simple and extended mixed in a pipeline",
	  { { 'w', "Q:SELECT 1|P::SELECT 2|B:::|E:|S" }, { 'r', "C:SELECT 1|Z|1|2|C:SELECT 1|Z" } },
	  { "SELECT 1", "SELECT 2" } },
};

static void test_postgres_extended(void **state)
{
	static const uint8_t startup[] = { 0, 0, 0, 16, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0 };

	for (size_t i = 0; i < sizeof(pg_cases) / sizeof(pg_cases[0]); i++) {
		const struct pg_case *pc = &pg_cases[i];
		struct fx *fx = new_fx();
		uint64_t t = T0, pg;
		uint8_t b[1024];
		size_t n, want = 0;
		struct col *c;

		pg = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 40000, "10.0.0.3", 5432);
		fx_write(fx, t += MS, 100, 100, pg, startup, sizeof(startup));
		/* AuthenticationOk, ReadyForQuery */
		memcpy(b, "R\0\0\0\x08\0\0\0\0", 9);
		n = 9 + pg_build(b + 9, 'r', "Z", 1);
		fx_read(fx, t += MS, 100, 100, pg, b, n);
		for (size_t j = 0; j < 12 && pc->steps[j].dir; j++) {
			n = pg_script(b, pc->steps[j].dir, pc->steps[j].msgs);
			if (pc->steps[j].dir == 'w')
				fx_write(fx, t += MS, 100, 100, pg, b, n);
			else
				fx_read(fx, t += MS, 100, 100, pg, b, n);
		}
		fx_close(fx, t += MS, 100, 100, pg);
		c = run_fx(fx);
		while (want < 8 && pc->calls[want])
			want++;
		if (c->ncall != want)
			fail_msg("%s: %zu calls, want %zu", pc->name, c->ncall, want);
		for (size_t j = 0; j < want; j++) {
			const char *w = pc->calls[j];
			int err = w[0] == '!';

			if (strcmp(c->call[j].summary, w + err))
				fail_msg("%s: call %zu is '%s', want '%s'", pc->name, j, c->call[j].summary, w + err);
			if (!!(c->call[j].c.flags & HTC_ENGF_ERROR) != err)
				fail_msg("%s: call %zu error flag %d", pc->name, j, !err);
			if (c->call[j].c.flags & HTC_ENGF_UNANSWERED)
				fail_msg("%s: call %zu unanswered", pc->name, j);
			assert_int_equal(c->call[j].c.proto, HTC_PROTO_POSTGRES);
		}
		free(c);
	}
}

/* ---- one connection row per connection (issue 13, defect 5) ---- */

static void test_one_row_per_connection(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, c1, c2, c3, s1, p1, p2, probe;
	struct col *c;
	size_t nclient = 0, nserver = 0;

	/* ab, redis-cli: connect() returns EINPROGRESS, then connect() again
	 * on the same socket (a new conn_id in the capture), which carries the
	 * data; the first one is never closed */
	c1 = fx_connect_ret(fx, t += MS, 100, 100, "127.0.0.1", 40000, "127.0.0.1", 80, -EINPROGRESS);
	s1 = fx_accept(fx, t += MS, 200, 200, "127.0.0.1", 80, "127.0.0.1", 40000);
	c2 = fx_connect_ret(fx, t += MS, 100, 100, "127.0.0.1", 40000, "127.0.0.1", 80, -EALREADY);
	c3 = fx_connect_ret(fx, t += MS, 100, 100, "127.0.0.1", 40000, "127.0.0.1", 80, 0);
	assert_true(c1 != c3 && c2 != c3);
	fx_writes(fx, t += MS, 100, 100, c3, "GET / HTTP/1.0\r\n\r\n");
	fx_reads(fx, t += MS, 200, 200, s1, "GET / HTTP/1.0\r\n\r\n");
	fx_writes(fx, t += MS, 200, 200, s1, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, c3, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, 100, 100, c3);
	fx_close(fx, t += MS, 200, 200, s1);
	/* PostgreSQL: the postmaster (300) accepts, forks a backend (301) and
	 * closes its copy; the backend's first event is its first read */
	p1 = fx_accept(fx, t += MS, 300, 300, "127.0.0.1", 5432, "127.0.0.1", 41000);
	fx_close(fx, t += MS, 300, 300, p1);
	p2 = fx_preexisting(fx, 301, "127.0.0.1", 5432, "127.0.0.1", 41000, HTC_ROLE_UNKNOWN);
	fx_read(fx, t += MS, 301, 301, p2, "\0\0\0\x08\x04\xd2\x16\x2f", 8);
	fx_writes(fx, t += MS, 301, 301, p2, "N");
	fx_close(fx, t += MS, 301, 301, p2);
	/* a probe: accepted, closed empty, nobody takes it over */
	probe = fx_accept(fx, t += MS, 300, 300, "127.0.0.1", 5432, "127.0.0.1", 41001);
	fx_close(fx, t += MS, 300, 300, probe);
	/* time passes */
	fx_connect(fx, t += 3000 * MS, 500, 500, "127.0.0.1", 42000, "127.0.0.1", 9999);
	c = run_fx(fx);
	for (size_t i = 0; i < c->nconn; i++) {
		const struct htc_eng_conn *k = &c->conn[i];

		if (k->ep.rport == 80) {
			nclient++;
			assert_int_equal(k->connect_result, 0);
			assert_int_equal(k->open_ns, W(T0 + MS));	/* the first connect */
			assert_int_equal(k->bytes_out, 18);
			assert_int_equal(k->proto, HTC_PROTO_HTTP);
			assert_true(k->close_ns != 0);
		} else if (k->ep.lport == 80) {
			nserver++;
		} else if (k->ep.rport == 41000) {
			nserver++;
			assert_int_equal(k->pid, 301);
			assert_int_equal(k->open_ns, W(T0 + 11 * MS));	/* the accept */
			assert_false(k->flags & HTC_ENGF_PREEXISTING);
			assert_int_equal(k->bytes_in, 8);
		} else if (k->ep.rport == 41001) {
			nserver++;
			assert_int_equal(k->pid, 300);
			assert_int_equal(k->bytes_in + k->bytes_out, 0);
		}
	}
	assert_int_equal(nclient, 1);
	assert_int_equal(nserver, 3);
	/* the HTTP exchange is still linked across the two processes */
	assert_int_equal(c->nlink, 1);
	free(c);
}

/* ---- joined mid-stream: the bytes read before are counted (issue 13) ---- */

static void test_unseen_before_join(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s, n;
	struct col *c;

	s = fx_preexisting(fx, 100, "10.0.0.1", 80, "10.0.0.9", 5001, HTC_ROLE_UNKNOWN);
	fx_skip(fx, s, HTC_EV_READ, 8446);
	fx_reads(fx, t += MS, 100, 100, s, "GET /a HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	n = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5002);
	fx_skip(fx, n, HTC_EV_READ, 10);	/* a drop, not a join */
	fx_reads(fx, t += MS, 100, 100, n, "GET /b HTTP/1.1\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->nconn, 2);
	for (size_t i = 0; i < c->nconn; i++) {
		if (c->conn[i].ep.rport == 5001) {
			assert_true(c->conn[i].flags & HTC_ENGF_PREEXISTING);
			assert_int_equal(c->conn[i].unseen_in, 8446);
		} else {
			assert_int_equal(c->conn[i].unseen_in, 0);
		}
	}
	free(c);
}

/* ---- a parent that is a guess is reported as one (issue 13, defect 4) ---- */

static void test_parent_guess(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, up, in;
	struct col *c;
	const struct col_req *child;

	a = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41001);
	/* connected before the reads: no proof by the loop's order */
	up = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 42000, "127.0.0.1", 9090);
	in = fx_accept(fx, t += MS, 200, 200, "127.0.0.1", 9090, "127.0.0.1", 42000);
	fx_reads(fx, t += MS, 100, 100, a, "GET /a HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, b, "GET /b HTTP/1.1\r\n\r\n");
	for (int i = 0; i < 2; i++) {
		if (i == 1) {
			fx_writes(fx, t += MS, 100, 100, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			fx_writes(fx, t += MS, 100, 100, b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			fx_reads(fx, t += MS, 100, 100, a, "GET /c HTTP/1.1\r\n\r\n");
		}
		fx_writes(fx, t += MS, 100, 100, up, "GET /s HTTP/1.1\r\n\r\n");
		fx_reads(fx, t += MS, 200, 200, in, "GET /s HTTP/1.1\r\n\r\n");
		fx_writes(fx, t += MS, 200, 200, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		fx_reads(fx, t += MS, 100, 100, up, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	c = run_fx(fx);
	assert_int_equal(c->nlink, 2);
	/* two requests active: the call is the newer's, a guess */
	child = col_find_req(c, 1003);
	assert_non_null(child);
	assert_int_equal(child->r.parent_id, 1002);
	assert_true(child->r.flags & HTC_ENGF_PARENT_GUESS);
	assert_true(c->link[0].flags & HTC_LINK_PARENT_GUESS);
	/* one request active: certain */
	child = col_find_req(c, 1005);
	assert_non_null(child);
	assert_int_equal(child->r.parent_id, 1004);
	assert_false(child->r.flags & HTC_ENGF_PARENT_GUESS);
	assert_false(c->link[1].flags & HTC_LINK_PARENT_GUESS);
	free(c);
}

/* ---- links proven by evidence (issue 14) ---- */

/* An event loop (one thread) serving two requests at once, then writing
 * call `call` on an upstream connection, served by pid 200: returns the
 * collected rows.  ra, rb: the heads of the two inbound requests. */
static struct col *loop_two(const char *ra, const char *rb, const char *call, int in_window)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, up = 0, in = 0;

	a = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41001);
	for (int i = 0; i < 2; i++) {
		/* connected before the reads, or in the window of b's read */
		if (i == in_window) {
			up = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 42000, "127.0.0.1", 9090);
			in = fx_accept(fx, t += MS, 200, 200, "127.0.0.1", 9090, "127.0.0.1", 42000);
		}
		if (i == 0) {
			fx_reads(fx, t += MS, 100, 100, a, ra);
			fx_reads(fx, t += MS, 100, 100, b, rb);
		}
	}
	fx_writes(fx, t += MS, 100, 100, up, call);
	fx_reads(fx, t += MS, 200, 200, in, call);
	fx_writes(fx, t += MS, 200, 200, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, up, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	return run_fx(fx);
}

#define TP_A "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
#define TP_B "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"

static void test_evidence(void **state)
{
	static const struct {
		const char *ra, *rb, *call;
		uint64_t parent;	/* the call's request: 1001 (a), 1002 (b) */
		int evidence, ambiguous;
		const char *why;
		int in_window;		/* the call's connection opened in b's window */
	} v[] = {
		{ "GET /a HTTP/1.1\r\n" TP_A "\r\n", "GET /b HTTP/1.1\r\n" TP_B "\r\n",
		  "GET /s HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01\r\n\r\n",
		  1001, HTC_EV_ID, 0, "the older request's trace id, a new span: proven by id", 0 },
		{ "GET /a HTTP/1.1\r\n" TP_A "\r\n", "GET /b HTTP/1.1\r\n" TP_A "\r\n",
		  "GET /s HTTP/1.1\r\n" TP_A "\r\n",
		  1002, HTC_EV_GUESS, 1, "one trace id in both, same span in both: not unique, a guess", 0 },
		{ "GET /a HTTP/1.1\r\n" TP_A "\r\n",
		  "GET /b HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-2222222222222222-01\r\n\r\n",
		  "GET /s HTTP/1.1\r\n" TP_A "\r\n",
		  1001, HTC_EV_ID, 0, "one trace id in both: the span the call repeats chooses", 0 },
		{ "GET /a HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124\r\n\r\n",
		  "GET /b HTTP/1.1\r\n\r\n",
		  "GET /s HTTP/1.1\r\nb3: 463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-1\r\n\r\n",
		  1001, HTC_EV_ID, 0, "X-B3-TraceId in, single b3 header out", 0 },
		{ "GET /a HTTP/1.1\r\nX-Request-ID: r-17\r\n\r\n", "GET /b HTTP/1.1\r\nX-Request-ID: r-18\r\n\r\n",
		  "GET /s HTTP/1.1\r\nx-request-id: r-17\r\n\r\n",
		  1001, HTC_EV_ID, 0, "X-Request-ID, name case-insensitive", 0 },
		{ "GET /a HTTP/1.1\r\nX-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1\r\n\r\n",
		  "GET /b HTTP/1.1\r\n\r\n",
		  "GET /s HTTP/1.1\r\nX-Amzn-Trace-Id: Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793\r\n\r\n",
		  1001, HTC_EV_ID, 0, "X-Amzn-Trace-Id: the Root field", 0 },
		{ "GET /a HTTP/1.1\r\nuber-trace-id: 7a8b:1:0:1\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n",
		  "GET /s HTTP/1.1\r\nuber-trace-id: 7a8b:2:1:1\r\n\r\n",
		  1001, HTC_EV_ID, 0, "uber-trace-id: the trace id field", 0 },
		{ "GET /a HTTP/1.1\r\nX-Request-ID: 0000\r\n\r\n", "GET /b HTTP/1.1\r\nX-Request-ID: 0000\r\n\r\n",
		  "GET /x HTTP/1.1\r\nX-Request-ID: 0000\r\n\r\n",
		  1002, HTC_EV_GUESS, 1, "an all-zero id is no id", 0 },
		{ "GET /a?q=1 HTTP/1.1\r\nHost: front\r\n\r\n", "GET /b HTTP/1.1\r\nHost: front\r\n\r\n",
		  "GET /a?q=1 HTTP/1.1\r\nHost: backend\r\n\r\n",
		  1001, HTC_EV_FORWARD, 0, "the older request forwarded (a proxy)", 0 },
		{ "GET /a HTTP/1.1\r\n\r\n", "GET /a?q=1 HTTP/1.1\r\n\r\n", "GET /a?q=2 HTTP/1.1\r\n\r\n",
		  1002, HTC_EV_GUESS, 1, "the query differs: not a copy", 0 },
		{ "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a HTTP/1.1\r\nHost: y\r\n\r\n",
		  "GET /a HTTP/1.1\r\nHost: b\r\n\r\n",
		  1002, HTC_EV_GUESS, 1, "the same path twice, hosts say nothing: a guess", 0 },
		{ "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a HTTP/1.1\r\nHost: Y\r\n\r\n",
		  "GET /a HTTP/1.1\r\nHost: b\r\nX-Forwarded-Host: x\r\n\r\n",
		  1001, HTC_EV_FORWARD, 0, "the same path twice, X-Forwarded-Host chooses", 0 },
		{ "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
		  "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		  1001, HTC_EV_FORWARD, 0, "the same path twice, the body length chooses", 0 },
		{ "GET /a HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n",
		  "GET /b HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n",
		  1001, HTC_EV_GUESS, 1, "id and forwarding disagree: the id's, flagged", 0 },
		{ "GET /a HTTP/1.1\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n", "GET /s HTTP/1.1\r\n\r\n",
		  1002, HTC_EV_LOOP, 1, "connected in b's window, nothing else: the loop's order chooses, flagged", 1 },
		{ "GET /a HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n",
		  "GET /s HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n",
		  1001, HTC_EV_ID, 0, "connected in b's window, a's id: the stronger proof stands", 1 },
		{ "GET /a HTTP/1.1\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n", "GET /a HTTP/1.1\r\n\r\n",
		  1001, HTC_EV_FORWARD, 0, "connected in b's window, a forwarded: the stronger proof stands", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct col *c = loop_two(v[i].ra, v[i].rb, v[i].call, v[i].in_window);
		const struct col_req *child;

		print_message("evidence %zu: %s\n", i, v[i].why);
		assert_int_equal(c->ncall, 1);
		assert_int_equal(c->call[0].c.request_id, v[i].parent);
		assert_int_equal(c->call[0].c.evidence, v[i].evidence);
		assert_int_equal(!!(c->call[0].c.flags & HTC_ENGF_AMBIGUOUS), v[i].ambiguous);
		/* the child request carries the same */
		child = col_find_req(c, 1003);
		assert_non_null(child);
		assert_int_equal(child->r.parent_id, v[i].parent);
		assert_int_equal(child->r.parent_evidence, v[i].evidence);
		assert_int_equal(!!(child->r.flags & HTC_ENGF_PARENT_GUESS), v[i].ambiguous);
		assert_int_equal(c->nlink, 1);
		assert_int_equal(HTC_LINK_EVIDENCE(c->link[0].flags), v[i].evidence);
		/* ncalls follows the final parent */
		assert_int_equal(col_find_req(c, v[i].parent)->r.ncalls, 1);
		assert_int_equal(col_find_req(c, v[i].parent == 1001 ? 1002 : 1001)->r.ncalls, 0);
		free(c);
	}
}

/* A thread-per-request server: the thread rule proves; a request of
 * another thread with the same path does not override it, it disagrees. */
static void test_evidence_thread(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, up;
	struct col *c;

	(void)state;
	a = fx_accept(fx, t += MS, 100, 101, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, 100, 102, "127.0.0.1", 8080, "127.0.0.1", 41001);
	fx_reads(fx, t += MS, 100, 101, a, "GET /a HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 102, b, "GET /b HTTP/1.1\r\n\r\n");
	up = fx_connect(fx, t += MS, 100, 101, "127.0.0.1", 42000, "127.0.0.1", 9090);
	fx_writes(fx, t += MS, 100, 101, up, "GET /s HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 101, up, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_writes(fx, t += MS, 100, 101, up, "GET /b HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 101, up, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);
	assert_int_equal(c->ncall, 2);
	assert_int_equal(c->call[0].c.request_id, 1001);
	assert_int_equal(c->call[0].c.evidence, HTC_EV_THREAD);
	assert_false(c->call[0].c.flags & HTC_ENGF_AMBIGUOUS);
	/* forwarding says 1002, the thread 1001: a flagged guess */
	assert_int_equal(c->call[1].c.request_id, 1002);
	assert_int_equal(c->call[1].c.evidence, HTC_EV_GUESS);
	assert_true(c->call[1].c.flags & HTC_ENGF_AMBIGUOUS);
	free(c);
}

/* The order of an event loop: a pooled connection written right after the
 * read of a request (nothing read or answered since) is that request's;
 * a second call in the same window, a window opened by a read holding two
 * requests, or one closed by another read, prove nothing. */
static void test_evidence_loop(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct fx *fx = new_fx();
	uint64_t t = T0, a, b, p1, p2;
	struct col *c;

	(void)state;
	/* two pooled connections, used once before (no request active) */
	p1 = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 42000, "127.0.0.1", 9090);
	p2 = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 42001, "127.0.0.1", 9090);
	fx_writes(fx, t += MS, 100, 100, p1, "GET /warm HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, p1, ok);
	fx_writes(fx, t += MS, 100, 100, p2, "GET /warm HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, p2, ok);
	a = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41000);
	b = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41001);
	fx_reads(fx, t += MS, 100, 100, a, "GET /a HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, b, "GET /b HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, p1, "GET /s1 HTTP/1.1\r\n\r\n");	/* b's: proven */
	fx_writes(fx, t += MS, 100, 100, p2, "GET /s2 HTTP/1.1\r\n\r\n");	/* second in the window */
	fx_reads(fx, t += MS, 100, 100, p1, ok);
	fx_reads(fx, t += MS, 100, 100, p2, ok);
	fx_writes(fx, t += MS, 100, 100, a, ok);
	fx_writes(fx, t += MS, 100, 100, b, ok);
	/* one read holding two requests (pipelined) */
	fx_reads(fx, t += MS, 100, 100, a, "GET /p HTTP/1.1\r\n\r\nGET /q HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, p1, "GET /s3 HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, p1, ok);
	fx_writes(fx, t += MS, 100, 100, a, ok);
	fx_writes(fx, t += MS, 100, 100, a, ok);
	/* a window closed by a read of another connection */
	fx_reads(fx, t += MS, 100, 100, a, "GET /c HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, b, "GET /d HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, p2, "GET /s4 HTTP/1.1\r\n\r\n");	/* d's window */
	fx_reads(fx, t += MS, 100, 100, p2, ok);
	fx_writes(fx, t += MS, 100, 100, p1, "GET /s5 HTTP/1.1\r\n\r\n");	/* after a read */
	fx_reads(fx, t += MS, 100, 100, p1, ok);
	fx_writes(fx, t += MS, 100, 100, a, ok);
	fx_writes(fx, t += MS, 100, 100, b, ok);
	c = run_fx(fx);
	{
		static const struct {
			const char *summary;
			uint64_t parent;
			int evidence;
		} want[] = {
			{ "GET /warm", 0, HTC_EV_NONE },
			{ "GET /s1", 1002, HTC_EV_LOOP },
			{ "GET /s2", 1002, HTC_EV_GUESS },
			{ "GET /s3", 1004, HTC_EV_GUESS },
			{ "GET /s4", 1006, HTC_EV_LOOP },
			{ "GET /s5", 1006, HTC_EV_GUESS },
		};

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			const struct col_call *k = col_find_call(c, want[i].summary);

			print_message("loop: %s\n", want[i].summary);
			assert_non_null(k);
			assert_int_equal(k->c.request_id, want[i].parent);
			assert_int_equal(k->c.evidence, want[i].evidence);
			/* the loop's order chooses, flagged (a timer's
			 * continuation could write inside the window) */
			assert_int_equal(!!(k->c.flags & HTC_ENGF_AMBIGUOUS),
					 want[i].evidence == HTC_EV_GUESS || want[i].evidence == HTC_EV_LOOP);
		}
	}
	free(c);
}

/* ---- resp_body_len past the snaplen (issue 13, defect 7) ---- */

static void test_resp_body_len_framed(void **state)
{
	static char big[8192];
	struct {
		const char *name;
		const char *head;	/* response head, then the body cut */
		size_t cap, body;	/* of the write carrying the head: captured, body bytes after the head */
		const char *after;	/* a later, whole write ("" none) */
		uint64_t want;		/* resp_body_len */
		int unknown;		/* HTC_ENGF_RESP_LEN_UNKNOWN */
	} cases[] = {
		{ "Content-Length past the snaplen", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
		  8192, 1000000, "", 1000000, 0 },
		{ "one chunk past the snaplen, framing intact",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf4240\r\n", 8192, 1000000,
		  "\r\n0\r\n\r\n", 1000000, 0 },
		{ "chunk sizes in the uncaptured bytes", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n",
		  8192, 144800, "\r\n0\r\n\r\n", 0, 1 },
	};

	memset(big, 'a', sizeof(big));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *fx = new_fx();
		uint64_t t = T0, s;
		struct col *c;
		char *buf = malloc(cases[i].cap);
		size_t hl = strlen(cases[i].head);

		assert_non_null(buf);
		memcpy(buf, cases[i].head, hl);
		memcpy(buf + hl, big, cases[i].cap - hl);
		if (i == 2) {
			/* 16-byte chunks, their framing cut by the snaplen */
			for (size_t o = hl; o + 22 <= cases[i].cap; o += 22)
				memcpy(buf + o, "aaaaaaaaaaaaaaaa\r\n10\r\n", 22);
		}
		s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5000);
		fx_reads(fx, t += MS, 100, 100, s, "GET /big HTTP/1.1\r\n\r\n");
		fx_write_cut(fx, t += MS, 100, 100, s, buf, cases[i].cap, hl + cases[i].body);
		if (cases[i].after[0])
			fx_writes(fx, t += MS, 100, 100, s, cases[i].after);
		fx_close(fx, t += MS, 100, 100, s);
		c = run_fx(fx);
		assert_int_equal(c->nreq, 1);
		if (c->req[0].r.resp_body_len != cases[i].want ||
		    !!(c->req[0].r.flags & HTC_ENGF_RESP_LEN_UNKNOWN) != cases[i].unknown)
			fail_msg("%s: resp_body_len %llu flags %#x", cases[i].name,
				 (unsigned long long)c->req[0].r.resp_body_len, c->req[0].r.flags);
		assert_true(c->req[0].r.flags & HTC_ENGF_RESP_BODY_PARTIAL);
		free(buf);
		free(c);
	}
}

/* ---- annotations ---- */

static void test_annotations(void **state)
{
	struct fx *fx = new_fx();
	struct col *c;
	size_t reads = 0;

	fx_scenario_two_services(fx, T0);
	c = run_fx(fx);
	for (size_t i = 0; i < c->nann; i++) {
		const struct col_ann *a = &c->ann[i];

		switch (a->type) {
		case HTC_EV_ACCEPT:
			assert_int_equal(a->request_id, 0);
			break;
		case HTC_EV_CLOSE:
			/* client connections closed after the requests ended */
			if (a->request_id == 0)
				break;
			/* fallthrough */
		case HTC_EV_READ:
		case HTC_EV_WRITE:
		case HTC_EV_CONNECT:
			reads++;
			assert_true(a->request_id == 1001 || a->request_id == 1002);
			assert_true(a->has_mp);
			assert_string_equal(a->method, "GET");
			break;
		}
	}
	assert_true(reads >= 15);
	/* the front's outbound HTTP write carries its own start line, but
	 * belongs to the front request */
	for (size_t i = 0; i < c->nann; i++)
		if (c->ann[i].type == HTC_EV_WRITE && !strcmp(c->ann[i].path, "/stock/42"))
			assert_true(c->ann[i].request_id == 1001 || c->ann[i].request_id == 1002);
	free(c);
}

/* On a keep-alive server connection every read and write belongs to an
 * exchange: body-only reads and writes included. */
static void test_annotations_bodies(void **state)
{
	struct fx *fx = new_fx();
	struct col *c;
	static const uint64_t want[] = { 1001, 1001, 1002, 1002, 1002, 1002, 1003, 1003, 1004, 1004,
					 1005, 1005, 1005 };
	size_t k = 0;

	fx_scenario_keepalive(fx, T0);
	c = run_fx(fx);
	for (size_t i = 0; i < c->nann; i++) {
		const struct col_ann *a = &c->ann[i];

		if (a->type != HTC_EV_READ && a->type != HTC_EV_WRITE && a->type != HTC_EV_CLOSE)
			continue;
		assert_true(k < sizeof(want) / sizeof(want[0]));
		if (a->request_id != want[k])
			fail_msg("event %zu: request_id %llu, want %llu", k,
				 (unsigned long long)a->request_id, (unsigned long long)want[k]);
		assert_true(a->has_mp);
		k++;
	}
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	free(c);
}

/* The same capture twice: the same IDs (httpcap -r and httpanalyze agree). */
static void test_stable_ids(void **state)
{
	void *buf;
	size_t len;
	struct fx *fx = new_fx();
	struct col *c1 = calloc(1, sizeof(*c1)), *c2 = calloc(1, sizeof(*c2));

	fx_scenario_keepalive(fx, T0);
	fx_finish(fx, &buf, &len);
	run_buf(c1, buf, len);
	run_buf(c2, buf, len);
	assert_int_equal(c1->nreq, c2->nreq);
	for (size_t i = 0; i < c1->nreq; i++) {
		assert_int_equal(c1->req[i].r.id, c2->req[i].r.id);
		assert_string_equal(c1->req[i].path, c2->req[i].path);
	}
	assert_int_equal(c1->nann, c2->nann);
	for (size_t i = 0; i < c1->nann; i++)
		assert_int_equal(c1->ann[i].request_id, c2->ann[i].request_id);
	free(buf);
	free(c1);
	free(c2);
}

/* ---- bad input and bounds ---- */

static void test_bad_input(void **state)
{
	struct htc_engine *e = htc_engine_new(NULL);
	struct htc_record rec;
	struct htc_eng_annot a;
	static const uint8_t junk[64] = { 'G', 'E', 'T', ' ', '/', 0 };

	assert_non_null(e);
	memset(&rec, 0, sizeof(rec));
	rec.type = HTC_REC_DATA;
	rec.ev.type = HTC_EV_READ;
	rec.ev.conn_id = 1;
	rec.ev.ret = 64;
	rec.ev.cap_len = 64;
	rec.ev.payload = junk;
	/* no file registered */
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), -EINVAL);
	assert_int_equal(htc_engine_add_file(e, NULL), 0);
	assert_int_equal(htc_engine_feed(e, 7, &rec, &a), -EINVAL);
	/* NUL bytes in what starts like a request: not a request */
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	/* cap_len larger than ret, payload NULL, ret <= 0, unknown types */
	rec.ev.cap_len = 1000;
	rec.ev.ret = 3;
	rec.ev.stream_off = 64;
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	rec.ev.payload = NULL;
	rec.ev.stream_off = 67;
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	rec.ev.ret = -5;
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	rec.ev.type = 200;
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	rec.type = 99;
	assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	assert_int_equal(htc_engine_finish(e), 0);
	htc_engine_free(e);
	htc_engine_free(NULL);
}

/* A client that pipelines far more requests than are answered: bounded,
 * the overflow reported as unanswered and counted. */
static void test_pending_cap(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_engine_stats st;
	void *buf;
	size_t len;
	struct htc_reader *rd;
	struct htc_record rec;
	int err;

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	for (int i = 0; i < 200; i++)
		fx_reads(fx, t += 1000, 100, 100, s, "GET / HTTP/1.1\r\n\r\n");
	fx_finish(fx, &buf, &len);
	rd = htc_reader_open_mem(buf, len, &err);
	htc_engine_add_file(e, htc_reader_header(rd));
	while (htc_reader_next(rd, &rec) == 1)
		htc_engine_feed(e, 0, &rec, NULL);
	htc_engine_stats(e, &st);
	assert_true(st.evicted >= 100);
	htc_engine_finish(e);
	htc_engine_stats(e, &st);
	assert_int_equal(st.requests, 200);
	assert_int_equal(st.unanswered, 200);
	htc_reader_close(rd);
	htc_engine_free(e);
	free(buf);
	free(c);
}

/* Records out of order inside one file (two CPUs): the source's reorder
 * window puts the request's read before the call it makes. */
struct warn_ctx {
	int n;
	int err;
};

static void on_warn(void *ctx, int err, uint64_t off, const char *msg)
{
	struct warn_ctx *w = ctx;

	w->n++;
	w->err = err;
}

/* Expected order of test_source_order: wall time, then file, then the
 * order in the file. */
struct ord {
	uint64_t ts;
	uint32_t file, idx;
};

static int ord_cmp(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * htc_source puts records back in time order: most come in order (its
 * ring), some recorded up to 4 ms late (its heap), many with equal times
 * (file order kept; across files the lower index first), payloads of
 * growing and shrinking sizes (recycled buffers); two files merged.
 */
/*
 * Rotated files of one capture are one stream (issue 13, rotated files):
 * a request read in the first file is answered in the second, a call
 * whose connection was opened (and its protocol recognised) in the first
 * keeps its protocol and link in the third, request ids continue.
 */
static void test_rotated_files(void **state)
{
	char dir[] = "/tmp/htc-engine-XXXXXX";
	char p[3][64];
	const char *paths[3] = { p[0], p[1], p[2] };
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_source *src;
	struct htc_record rec;
	struct fx *fx;
	uint64_t t = T0, a, up, in;
	uint32_t fi;
	int err = 0;

	assert_non_null(c);
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 3; i++)
		snprintf(p[i], sizeof(p[i]), "%s/cap%d.htc", dir, i);
	fx = fx_open(p[0], "web1", OFF);
	a = fx_accept(fx, t += MS, 100, 100, "127.0.0.1", 8080, "127.0.0.1", 41000);
	fx_reads(fx, t += MS, 100, 100, a, "GET /one HTTP/1.1\r\n\r\n");
	up = fx_connect(fx, t += MS, 100, 100, "127.0.0.1", 42000, "127.0.0.1", 9090);
	in = fx_accept(fx, t += MS, 200, 200, "127.0.0.1", 9090, "127.0.0.1", 42000);
	fx_writes(fx, t += MS, 100, 100, up, "GET /x HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 200, 200, in, "GET /x HTTP/1.1\r\n\r\n");
	fx_rotate(fx, p[1], t += MS);
	fx_writes(fx, t += MS, 200, 200, in, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	fx_reads(fx, t += MS, 100, 100, up, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	fx_writes(fx, t += MS, 100, 100, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, a, "GET /two HTTP/1.1\r\n\r\n");
	fx_rotate(fx, p[2], t += MS);
	fx_writes(fx, t += MS, 100, 100, up, "GET /y HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 200, 200, in, "GET /y HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 200, 200, in, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny");
	fx_reads(fx, t += MS, 100, 100, up, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny");
	fx_writes(fx, t += MS, 100, 100, a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += MS, 100, 100, a);
	fx_finish(fx, NULL, NULL);

	/* given in any order: the source merges them by time */
	paths[0] = p[2], paths[2] = p[0];
	src = htc_source_open(paths, 3, e, NULL, NULL, &err);
	assert_non_null(src);
	while (htc_source_next(src, &rec, &fi) == 1)
		assert_int_equal(htc_engine_feed(e, fi, &rec, NULL), 0);
	htc_source_close(src);
	assert_int_equal(htc_engine_finish(e), 0);

	assert_int_equal(c->nreq, 4);
	for (size_t i = 0; i < c->nreq; i++) {
		const struct col_req *r = &c->req[i];

		assert_int_equal(r->r.status, 200);
		assert_false(r->r.flags & (HTC_ENGF_UNANSWERED | HTC_ENGF_PREEXISTING | HTC_ENGF_GAP));
	}
	/* ids continue across the files, in the order requests started */
	assert_string_equal(col_find_req(c, 1001)->path, "/one");
	assert_string_equal(col_find_req(c, 1002)->path, "/x");
	assert_string_equal(col_find_req(c, 1003)->path, "/two");
	assert_string_equal(col_find_req(c, 1004)->path, "/y");
	assert_int_equal(col_find_req(c, 1002)->r.parent_id, 1001);
	assert_int_equal(col_find_req(c, 1004)->r.parent_id, 1003);
	assert_int_equal(c->ncall, 2);
	for (size_t i = 0; i < c->ncall; i++) {
		assert_int_equal(c->call[i].c.proto, HTC_PROTO_HTTP);
		assert_false(c->call[i].c.flags & HTC_ENGF_UNANSWERED);
	}
	assert_int_equal(c->nlink, 2);
	assert_int_equal(c->nconn, 3);	/* one row each, whatever file they span */
	htc_engine_free(e);
	free(c);
	for (int i = 0; i < 3; i++)
		unlink(p[i]);
	rmdir(dir);
}

static void test_source_order(void **state)
{
	enum { N = 3000 };
	char dir[] = "/tmp/htc-engine-XXXXXX";
	char p[2][64];
	const char *paths[2] = { p[0], p[1] };
	struct ord *want = calloc(2 * N, sizeof(*want));
	size_t nwant = 0, got = 0;
	struct htc_source *s;
	struct htc_record rec;
	uint32_t fi;
	int err = 0, r;

	assert_non_null(want);
	assert_non_null(mkdtemp(dir));
	for (uint32_t f = 0; f < 2; f++) {
		struct fx *fx;
		uint64_t conn, seed = 7 + f;
		char pay[200];

		snprintf(p[f], sizeof(p[f]), "%s/o%u.htc", dir, f);
		fx = fx_open(p[f], "h", OFF);
		conn = fx_accept(fx, T0 - 1000 * MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
		for (uint32_t i = 0; i < N; i++) {
			uint64_t ts = T0 + (uint64_t)i * 20000;
			int n;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* a quarter of them recorded up to 4 ms late, so no record
			 * is more than the 5 ms window behind one before it */
			if (seed >> 62 == 0)
				ts -= (seed >> 20) % (4 * MS);
			else if (i % 5 == 0 && i)	/* equal times, in this file and across */
				ts = want[nwant - 1].ts;
			n = snprintf(pay, sizeof(pay), "%u %u ", f, i);
			memset(pay + n, 'x', (i * 37) % 150);
			pay[n + (i * 37) % 150] = 0;
			fx_reads(fx, ts, 100, 100, conn, pay);
			want[nwant].ts = ts;
			want[nwant].file = f;
			want[nwant].idx = i;
			nwant++;
		}
		fx_finish(fx, NULL, NULL);
	}
	qsort(want, nwant, sizeof(*want), ord_cmp);

	s = htc_source_open(paths, 2, NULL, NULL, NULL, &err);
	assert_non_null(s);
	while ((r = htc_source_next(s, &rec, &fi)) == 1) {
		unsigned f = 99, i = 99999;
		char tmp[200];

		if (rec.type != HTC_REC_DATA)
			continue;
		assert_true(got < nwant);
		assert_true(rec.ev.cap_len < sizeof(tmp));
		memcpy(tmp, rec.ev.payload, rec.ev.cap_len);
		tmp[rec.ev.cap_len] = 0;
		assert_int_equal(sscanf(tmp, "%u %u", &f, &i), 2);
		if (f != want[got].file || i != want[got].idx || fi != f ||
		    rec.ev.ts_ns != want[got].ts)
			fail_msg("record %zu: file %u #%u ts %llu, want file %u #%u ts %llu", got, f, i,
				 (unsigned long long)rec.ev.ts_ns, want[got].file, want[got].idx,
				 (unsigned long long)want[got].ts);
		got++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(got, nwant);
	htc_source_close(s);
	unlink(p[0]);
	unlink(p[1]);
	rmdir(dir);
	free(want);
}

static void test_source_reorder_and_bad_files(void **state)
{
	char dir[] = "/tmp/htc-engine-XXXXXX";
	char p1[64], p2[64], p3[64];
	const char *paths[1] = { p1 };
	struct fx *fx;
	uint64_t t = T0, in, out;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_source *s;
	struct htc_record rec;
	struct warn_ctx w = { 0, 0 };
	uint32_t fi;
	int err = 0;
	FILE *f;
	void *buf;
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(p1, sizeof(p1), "%s/reorder.htc", dir);
	fx = fx_open(p1, "h", OFF);
	in = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	out = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 6000, "10.0.0.5", 6379);
	/* the read happened first (t+1ms) but was recorded after the write */
	fx_writes(fx, t + 2 * MS, 100, 100, out, "*1\r\n$4\r\nPING\r\n");
	fx_reads(fx, t + 1 * MS, 100, 100, in, "GET /r HTTP/1.1\r\n\r\n");
	fx_reads(fx, t + 3 * MS, 100, 100, out, "+PONG\r\n");
	fx_writes(fx, t + 4 * MS, 100, 100, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_finish(fx, NULL, NULL);

	s = htc_source_open(paths, 1, e, NULL, NULL, &err);
	assert_non_null(s);
	while (htc_source_next(s, &rec, &fi) == 1)
		assert_int_equal(htc_engine_feed(e, fi, &rec, NULL), 0);
	htc_engine_finish(e);
	htc_source_close(s);
	assert_int_equal(c->ncall, 1);
	assert_string_equal(c->call[0].summary, "PING");
	assert_int_equal(c->call[0].c.request_id, 1001);

	/* not an .htc file: a clear error, nothing opened */
	snprintf(p2, sizeof(p2), "%s/junk.htc", dir);
	f = fopen(p2, "w");
	assert_non_null(f);
	fputs("this is not a capture file\n", f);
	fclose(f);
	paths[0] = p2;
	err = 0;
	assert_null(htc_source_open(paths, 1, NULL, NULL, NULL, &err));
	assert_int_equal(err, HTC_ERR_MAGIC);
	paths[0] = "/nonexistent/x.htc";
	assert_null(htc_source_open(paths, 1, NULL, NULL, NULL, &err));
	assert_int_equal(err, -ENOENT);
	assert_null(htc_source_open(paths, 0, NULL, NULL, NULL, &err));
	assert_int_equal(err, -EINVAL);

	/* a truncated file: what is whole is read, the reader's warning
	 * reaches the caller */
	snprintf(p3, sizeof(p3), "%s/cut.htc", dir);
	fx = fx_open(NULL, "h", OFF);
	fx_scenario_keepalive(fx, T0);
	fx_finish(fx, &buf, &len);
	f = fopen(p3, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len - 30, f), len - 30);
	fclose(f);
	paths[0] = p3;
	s = htc_source_open(paths, 1, NULL, on_warn, &w, &err);
	assert_non_null(s);
	while (htc_source_next(s, &rec, &fi) == 1)
		;
	assert_true(w.n >= 1);
	htc_source_close(s);

	free(buf);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	rmdir(dir);
	htc_engine_free(e);
	free(c);
}

/* Hostile bytes on a server connection: every one is bounded, counted as
 * a parse error, and the connection recovers at the next request. */
static void test_hostile_stream(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, s;
	struct col *c = calloc(1, sizeof(*c));
	struct htc_engine_sink sink = col_sink(c);
	struct htc_engine *e = htc_engine_new(&sink);
	struct htc_engine_stats st;
	size_t cap = 256 * 1024, n;
	char *b = malloc(cap);
	void *buf;
	size_t len;
	struct htc_reader *rd;
	struct htc_record rec;
	int err;

	s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
	/* 1. thousands of headers */
	n = (size_t)snprintf(b, cap, "GET /many HTTP/1.1\r\n");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(b + n, cap - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(b + n, cap - n, "\r\n");
	fx_read(fx, t += MS, 100, 100, s, b, n);
	/* 2. a 100 KiB line with no CRLF, in 1000 pieces */
	memset(b, 'a', cap);
	memcpy(b, "\r\nGET /", 7);
	for (int i = 0; i < 1000; i++)
		fx_read(fx, t += 1000, 100, 100, s, b + (size_t)i * 100, 100);
	/* 3. NUL bytes and binary garbage */
	fx_read(fx, t += MS, 100, 100, s, "\r\nGET /\0x HTTP/1.1\r\n\r\n", 22);
	srand(7);
	for (size_t i = 0; i < 4096; i++)
		b[i] = (char)(rand() & 0xff);
	fx_read(fx, t += MS, 100, 100, s, b, 4096);
	/* then a good request */
	fx_reads(fx, t += MS, 100, 100, s, "\r\nGET /ok HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_finish(fx, &buf, &len);

	rd = htc_reader_open_mem(buf, len, &err);
	htc_engine_add_file(e, htc_reader_header(rd));
	while (htc_reader_next(rd, &rec) == 1)
		assert_int_equal(htc_engine_feed(e, 0, &rec, NULL), 0);
	htc_engine_finish(e);
	htc_engine_stats(e, &st);
	assert_true(st.parse_errors >= 3);
	assert_true(c->nreq >= 1);
	assert_string_equal(c->req[c->nreq - 1].path, "/ok");
	assert_int_equal(c->req[c->nreq - 1].r.status, 200);
	for (size_t i = 0; i + 1 < c->nreq; i++)
		assert_int_equal(c->req[i].r.status, 0);	/* nothing else got the answer */
	htc_reader_close(rd);
	htc_engine_free(e);
	free(buf);
	free(b);
	free(c);
}

/* The capture ends after every byte of an exchange: one request is always
 * reported, unanswered until its response head is whole, never more. */
static void test_truncated_capture_every_byte(void **state)
{
	static const char req[] = "POST /t HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody";
	static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	size_t rl = sizeof(req) - 1, total = rl + sizeof(resp) - 1;

	for (size_t n = 1; n <= total; n++) {
		struct fx *fx = new_fx();
		uint64_t t = T0, s;
		struct col *c;

		s = fx_accept(fx, t += MS, 100, 100, "10.0.0.1", 80, "10.0.0.9", 5001);
		fx_read(fx, t += MS, 100, 100, s, req, n < rl ? n : rl);
		if (n > rl)
			fx_write(fx, t += MS, 100, 100, s, resp, n - rl);
		c = run_fx(fx);
		if (c->nreq != 1)
			fail_msg("cut at %zu: %zu requests", n, c->nreq);
		if (n <= rl + 17) {	/* before the status line is whole */
			if (!(c->req[0].r.flags & HTC_ENGF_UNANSWERED) && c->req[0].r.status == 0)
				fail_msg("cut at %zu: neither unanswered nor a status", n);
		} else {
			assert_int_equal(c->req[0].r.status, 200);
			assert_int_equal(c->req[0].r.flags & HTC_ENGF_UNANSWERED, 0);
		}
		if (n >= rl - 4)
			assert_string_equal(c->req[0].path, "/t");
		free(c);
	}
}

/* TLS: recognised, not decoded; calls are runs of writes, named by SNI. */
static void test_tls_calls(void **state)
{
	static const unsigned char hello[] = {
		0x16, 3, 1, 0, 67, 1, 0, 0, 63, 3, 3,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		0, 0, 2, 0x13, 1, 1, 0, 0, 20,
		0, 0, 0, 16, 0, 14, 0, 0, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
	};
	static const unsigned char rec[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };
	struct fx *fx = new_fx();
	uint64_t t = T0, k;
	struct col *c;

	k = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 40000, "93.184.216.34", 443);
	fx_write(fx, t += MS, 100, 100, k, hello, sizeof(hello));
	fx_read(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_write(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_read(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_close(fx, t += MS, 100, 100, k);
	c = run_fx(fx);
	assert_int_equal(c->ncall, 2);
	assert_string_equal(c->call[0].summary, "TLS example.com");
	assert_string_equal(c->call[1].summary, "TLS example.com");
	assert_int_equal(c->call[0].c.proto, HTC_PROTO_TLS);
	assert_int_equal(c->call[1].c.end_ns, W(T0 + 5 * MS));
	assert_int_equal(c->conn[0].proto, HTC_PROTO_TLS);
	free(c);
}

/* An encrypted connection's last run (the client's close_notify alert) is
 * not unanswered: nothing says an answer was due. */
static void test_tls_never_error(void **state)
{
	static const unsigned char hello[] = { 0x16, 3, 1, 0, 4, 1, 0, 0, 0 };
	static const unsigned char rec[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };
	static const unsigned char alert[] = { 0x15, 3, 3, 0, 2, 1, 0 };
	struct fx *fx = new_fx();
	uint64_t t = T0, k;
	struct col *c;

	k = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 40000, "10.0.0.2", 443);
	fx_write(fx, t += MS, 100, 100, k, hello, sizeof(hello));
	fx_read(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_write(fx, t += MS, 100, 100, k, hello, sizeof(hello));	/* Finished: same call */
	fx_write(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_read(fx, t += MS, 100, 100, k, rec, sizeof(rec));
	fx_write(fx, t += MS, 100, 100, k, alert, sizeof(alert));
	fx_close(fx, t += MS, 100, 100, k);
	c = run_fx(fx);
	assert_int_equal(c->ncall, 3);
	for (size_t i = 0; i < c->ncall; i++) {
		assert_int_equal(c->call[i].c.flags & (HTC_ENGF_UNANSWERED | HTC_ENGF_ERROR), 0);
		assert_int_equal(c->call[i].c.tls, HTC_TLS_ENCRYPTED);
	}
	assert_int_equal(c->conn[0].tls, HTC_TLS_ENCRYPTED);
	free(c);
}

/* Both ends of a decrypted connection (OpenSSL client, GnuTLS server):
 * the handshake is forgotten, the plaintext makes the requests and calls,
 * linked, byte counts stay the wire's. */
static void test_tls_decrypted(void **state)
{
	static const unsigned char hello[] = { 0x16, 3, 1, 0, 4, 1, 0, 0, 0 };
	static const unsigned char rec[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };
	struct fx *fx = new_fx();
	uint64_t t = T0, k, s;
	struct col *c;

	k = fx_connect(fx, t += MS, 100, 100, "10.0.0.1", 40000, "10.0.0.2", 443);
	s = fx_accept(fx, t += MS, 200, 200, "10.0.0.2", 443, "10.0.0.1", 40000);
	fx_write(fx, t += MS, 100, 100, k, hello, sizeof(hello));
	fx_read(fx, t += MS, 200, 200, s, hello, sizeof(hello));
	fx_write(fx, t += MS, 200, 200, s, hello, sizeof(hello));
	fx_read(fx, t += MS, 100, 100, k, hello, sizeof(hello));
	fx_write(fx, t += MS, 100, 100, k, hello, sizeof(hello));
	fx_read(fx, t += MS, 200, 200, s, hello, sizeof(hello));
	for (int i = 0; i < 2; i++) {
		fx_tls(fx, t += MS, 100, 100, k, HTC_EV_WRITE, HTC_SYS_SSL_WRITE,
		       i ? "GET /b HTTP/1.1\r\nHost: h\r\n\r\n" : "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
		fx_tls_cipher(fx, k);
		fx_tls_cipher(fx, s);
		fx_write_cut(fx, t += MS, 100, 100, k, rec, 0, 60);
		fx_read_cut(fx, t += MS, 200, 200, s, rec, 0, 60);
		fx_tls(fx, t += MS, 200, 200, s, HTC_EV_READ, HTC_SYS_GNUTLS_RECV,
		       i ? "GET /b HTTP/1.1\r\nHost: h\r\n\r\n" : "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
		fx_tls(fx, t += MS, 200, 200, s, HTC_EV_WRITE, HTC_SYS_GNUTLS_SEND,
		       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		fx_write_cut(fx, t += MS, 200, 200, s, rec, 0, 70);
		fx_read_cut(fx, t += MS, 100, 100, k, rec, 0, 70);
		fx_tls(fx, t += MS, 100, 100, k, HTC_EV_READ, HTC_SYS_SSL_READ,
		       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
	fx_close(fx, t += MS, 100, 100, k);
	fx_close(fx, t += MS, 200, 200, s);
	c = run_fx(fx);
	assert_int_equal(c->nreq, 2);
	assert_int_equal(c->ncall, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(c->req[i].method, "GET");
		assert_string_equal(c->req[i].path, i ? "/b" : "/a");
		assert_int_equal(c->req[i].r.status, 404);
		assert_int_equal(c->req[i].r.tls, HTC_TLS_GNUTLS);
		assert_int_equal(c->req[i].r.seq, i);
		assert_int_equal(c->call[i].c.proto, HTC_PROTO_HTTP);
		assert_int_equal(c->call[i].c.tls, HTC_TLS_OPENSSL);
		assert_int_equal(c->call[i].c.status, 404);
		assert_int_equal(c->call[i].c.child_request_id ? c->call[i].c.child_request_id :
				 c->link[i].child, c->req[i].r.id);
	}
	assert_int_equal(c->nlink, 2);
	assert_int_equal(c->nconn, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct htc_eng_conn *n = &c->conn[i];

		assert_int_equal(n->proto, HTC_PROTO_HTTP);
		assert_int_equal(n->tls, n->ep.role == HTC_ROLE_SERVER ? HTC_TLS_GNUTLS : HTC_TLS_OPENSSL);
		/* the wire's bytes: 2 handshake records and 2 x 60 out, for the client */
		if (n->ep.role == HTC_ROLE_CLIENT)
			assert_int_equal(n->bytes_out, 2 * sizeof(hello) + 120);
	}
	free(c);
}

/* Redis commands pipelined in one write, replies split across reads; an
 * IPv6 pair of services linked. */
static void test_redis_pipeline_and_v6_link(void **state)
{
	struct fx *fx = new_fx();
	uint64_t t = T0, in, r, cl, sv;
	struct col *c;
	const struct col_call *k;

	in = fx_accept(fx, t += MS, 100, 100, "::1", 80, "::1", 50001);
	fx_reads(fx, t += MS, 100, 100, in, "GET /batch HTTP/1.1\r\n\r\n");
	r = fx_connect(fx, t += MS, 100, 100, "::1", 50002, "::1", 6379);
	fx_writes(fx, t += MS, 100, 100, r, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
		  "*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n");
	fx_reads(fx, t += MS, 100, 100, r, "$1\r\n1\r\n$-1\r\n-WRONGTYPE x\r");
	fx_reads(fx, t += MS, 100, 100, r, "\n");
	cl = fx_connect(fx, t += MS, 100, 100, "::1", 50003, "::1", 9000);
	sv = fx_accept(fx, t += MS, 200, 200, "::1", 9000, "::1", 50003);
	fx_writes(fx, t += MS, 100, 100, cl, "GET /v6 HTTP/1.1\r\n\r\n");
	fx_reads(fx, t += MS, 200, 200, sv, "GET /v6 HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += MS, 200, 200, sv, "HTTP/1.1 204 No Content\r\n\r\n");
	fx_reads(fx, t += MS, 100, 100, cl, "HTTP/1.1 204 No Content\r\n\r\n");
	fx_writes(fx, t += MS, 100, 100, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	c = run_fx(fx);

	assert_int_equal(c->ncall, 4);
	k = col_find_call(c, "GET a");
	assert_non_null(k);
	assert_int_equal(k->c.end_ns, W(T0 + 5 * MS));
	k = col_find_call(c, "GET b");
	assert_non_null(k);
	assert_int_equal(k->c.flags & HTC_ENGF_ERROR, 0);
	k = col_find_call(c, "HGET h");
	assert_non_null(k);
	assert_true(k->c.flags & HTC_ENGF_ERROR);
	assert_int_equal(k->c.end_ns, W(T0 + 6 * MS));	/* its reply ended in the second read */
	assert_int_equal(col_find_req(c, 1001)->r.ncalls, 4);
	assert_int_equal(c->nlink, 1);
	assert_int_equal(c->link[0].parent, 1001);
	assert_int_equal(col_find_req(c, c->link[0].child)->r.status, 204);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_two_services),
		cmocka_unit_test_prestate(test_two_hosts, NULL),
		cmocka_unit_test_prestate(test_two_hosts, (void *)1),
		cmocka_unit_test_prestate(test_two_hosts, (void *)2),
		cmocka_unit_test(test_thread_per_request),
		cmocka_unit_test(test_pooled_client),
		cmocka_unit_test(test_event_loop_ambiguous),
		cmocka_unit_test(test_link_v4mapped),
		cmocka_unit_test(test_no_body_responses),
		cmocka_unit_test(test_control_bytes_kept),
		cmocka_unit_test(test_flood_cut),
		cmocka_unit_test(test_split_every_byte),
		cmocka_unit_test(test_close_delimited),
		cmocka_unit_test(test_unanswered_and_reset),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_preexisting),
		cmocka_unit_test_prestate(test_seq_pool_link, (void *)0),
		cmocka_unit_test_prestate(test_seq_pool_link, (void *)1),
		cmocka_unit_test(test_seq_two_hosts),
		cmocka_unit_test(test_seq_gap_resumes),
		cmocka_unit_test(test_seq_overlap),
		cmocka_unit_test(test_postgres),
		cmocka_unit_test(test_postgres_extended),
		cmocka_unit_test(test_one_row_per_connection),
		cmocka_unit_test(test_resp_body_len_framed),
		cmocka_unit_test(test_parent_guess),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_evidence_thread),
		cmocka_unit_test(test_evidence_loop),
		cmocka_unit_test(test_unseen_before_join),
		cmocka_unit_test(test_tls_calls),
		cmocka_unit_test(test_tls_never_error),
		cmocka_unit_test(test_tls_decrypted),
		cmocka_unit_test(test_redis_pipeline_and_v6_link),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_annotations_bodies),
		cmocka_unit_test(test_stable_ids),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_pending_cap),
		cmocka_unit_test(test_hostile_stream),
		cmocka_unit_test(test_truncated_capture_every_byte),
		cmocka_unit_test(test_rotated_files),
		cmocka_unit_test(test_source_order),
		cmocka_unit_test(test_source_reorder_and_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
