/* SPDX-License-Identifier: MIT */
/*
 * test_http2.c - HTTP/2 and gRPC through the engine, on writer-made
 * captures whose header blocks come from libnghttp2's own HPACK encoder:
 * framing (preface, SETTINGS, HEADERS with padding, priority and
 * CONTINUATION, DATA with padding, RST_STREAM, GOAWAY), streams as
 * requests and calls, gRPC status and messages, every byte in its own
 * event, gaps, and the late-join property: a connection joined at any
 * header block decodes the fields it can and never names one wrongly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "fixture.h"
#include "htc.h"
#include "htc_engine.h"

#define MS 1000000ULL
#define T0 2000000000ULL
#define OFF 1700000000000000000LL
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* ---- a sink keeping what the tests look at ---- */

#define MAXX 512
#define MAXH 32

struct hx {			/* one request or call */
	int is_call;
	uint64_t id, child;
	uint32_t seq, stream_id, unresolved, flags;
	uint8_t proto;
	int status, grpc_status;
	char method[32], path[128], host[64], version[16], summary[128], grpc_message[64];
	uint32_t req_msgs, resp_msgs;
	uint64_t req_msg_bytes, resp_msg_bytes, req_bytes, resp_bytes, resp_body_len;
	char body[64];
	size_t body_len, nh;
	char hn[MAXH][32], hv[MAXH][64];
};

struct sink {
	size_t n, nconn, nlink;
	struct hx x[MAXX];
	struct htc_eng_conn conn[8];
};

static void s_req(void *ctx, const struct htc_eng_request *r)
{
	struct sink *s = ctx;
	struct hx *x;

	assert_true(s->n < MAXX);
	x = &s->x[s->n++];
	memset(x, 0, sizeof(*x));
	x->id = r->id;
	x->child = r->parent_call_id;
	x->seq = r->seq;
	x->stream_id = r->stream_id;
	x->unresolved = r->unresolved;
	x->flags = r->flags;
	x->proto = r->proto;
	x->status = r->status;
	x->grpc_status = r->grpc_status;
	snprintf(x->method, sizeof(x->method), "%s", r->method);
	snprintf(x->path, sizeof(x->path), "%s", r->path);
	snprintf(x->host, sizeof(x->host), "%s", r->host);
	snprintf(x->version, sizeof(x->version), "%s", r->version);
	snprintf(x->grpc_message, sizeof(x->grpc_message), "%s", r->grpc_message);
	x->req_msgs = r->req_msgs;
	x->resp_msgs = r->resp_msgs;
	x->req_bytes = r->req_bytes;
	x->resp_bytes = r->resp_bytes;
	x->resp_body_len = r->resp_body_len;
	x->body_len = r->body_len;
	memcpy(x->body, r->body, r->body_len < sizeof(x->body) ? r->body_len : sizeof(x->body));
	/* the head (empty when the request's fields were not captured) is
	 * the headers' backing store: they point into it */
	if (r->head_len) {
		assert_true(r->head_len >= 2);
		assert_memory_equal(r->head + r->head_len - 2, "\r\n", 2);
	}
	for (size_t i = 0; i < r->nheaders && i < MAXH; i++) {
		assert_true((const uint8_t *)r->headers[i].name >= r->head &&
			    (const uint8_t *)r->headers[i].value + r->headers[i].value_len <= r->head + r->head_len);
		snprintf(x->hn[i], sizeof(x->hn[i]), "%.*s", (int)r->headers[i].name_len, r->headers[i].name);
		snprintf(x->hv[i], sizeof(x->hv[i]), "%.*s", (int)r->headers[i].value_len, r->headers[i].value);
		x->nh++;
	}
}

static void s_call(void *ctx, const struct htc_eng_call *k)
{
	struct sink *s = ctx;
	struct hx *x;

	assert_true(s->n < MAXX);
	x = &s->x[s->n++];
	memset(x, 0, sizeof(*x));
	x->is_call = 1;
	x->id = k->id;
	x->child = k->child_request_id;
	x->seq = k->seq;
	x->stream_id = k->stream_id;
	x->unresolved = k->unresolved;
	x->flags = k->flags;
	x->proto = k->proto;
	x->status = k->status;
	x->grpc_status = k->grpc_status;
	snprintf(x->summary, sizeof(x->summary), "%s", k->summary);
	snprintf(x->grpc_message, sizeof(x->grpc_message), "%s", k->grpc_message);
	x->req_msgs = k->req_msgs;
	x->resp_msgs = k->resp_msgs;
	x->req_msg_bytes = k->req_msg_bytes;
	x->resp_msg_bytes = k->resp_msg_bytes;
}

static void s_conn(void *ctx, const struct htc_eng_conn *c)
{
	struct sink *s = ctx;

	if (s->nconn < 8)
		s->conn[s->nconn++] = *c;
}

static void s_link(void *ctx, uint64_t call, uint64_t child, uint64_t parent, unsigned flags)
{
	((struct sink *)ctx)->nlink++;
}

static struct sink *run(struct fx *fx, struct htc_engine_stats *st)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct htc_engine_sink sk = { s, s_conn, s_req, s_call, s_link };
	struct htc_engine *e = htc_engine_new(&sk);
	struct htc_reader *r;
	struct htc_record rec;
	void *buf = NULL;
	size_t len = 0;
	int err = 0, n;

	assert_non_null(s);
	assert_non_null(e);
	fx_finish(fx, &buf, &len);
	r = htc_reader_open_mem(buf, len, &err);
	assert_non_null(r);
	assert_int_equal(htc_engine_add_file(e, htc_reader_header(r)), 0);
	while ((n = htc_reader_next(r, &rec)) == 1) {
		struct htc_eng_annot a;

		assert_int_equal(htc_engine_feed(e, 0, &rec, &a), 0);
	}
	assert_int_equal(n, 0);
	assert_int_equal(htc_engine_finish(e), 0);
	if (st)
		htc_engine_stats(e, st);
	htc_reader_close(r);
	htc_engine_free(e);
	free(buf);
	return s;
}

static const struct hx *by_stream(const struct sink *s, int is_call, uint32_t sid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->x[i].is_call == is_call && s->x[i].stream_id == sid)
			return &s->x[i];
	return NULL;
}

/* ---- frames ---- */

struct buf {
	uint8_t b[65536];
	size_t n;
};

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t len)
{
	uint8_t *o = b->b + b->n;

	assert_true(b->n + 9 + len <= sizeof(b->b));
	o[0] = (uint8_t)(len >> 16);
	o[1] = (uint8_t)(len >> 8);
	o[2] = (uint8_t)len;
	o[3] = type;
	o[4] = flags;
	o[5] = (uint8_t)(sid >> 24);
	o[6] = (uint8_t)(sid >> 16);
	o[7] = (uint8_t)(sid >> 8);
	o[8] = (uint8_t)sid;
	if (len)
		memcpy(o + 9, p, len);
	b->n += 9 + len;
}

static void put(struct buf *b, const void *p, size_t len)
{
	memcpy(b->b + b->n, p, len);
	b->n += len;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

/* A header block of nva by deflater d into out; its length. */
static size_t block(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, const nghttp2_nv *nva, size_t n)
{
	ssize_t k = nghttp2_hd_deflate_hd(d, out, cap, nva, n);

	assert_true(k > 0);
	return (size_t)k;
}

static void headers(struct buf *b, nghttp2_hd_deflater *d, uint32_t sid, int end_stream,
		    const nghttp2_nv *nva, size_t n)
{
	uint8_t hb[4096];
	size_t k = block(d, hb, sizeof(hb), nva, n);

	frame(b, 1, (uint8_t)(0x4 | (end_stream ? 0x1 : 0)), sid, hb, k);
}

static void settings(struct buf *b)
{
	static const uint8_t s[] = { 0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 0xff, 0xff };

	frame(b, 4, 0, 0, s, sizeof(s));
}

/* ---- server side: streams, padding, priority, CONTINUATION, RST ---- */

/* Requests and responses of one connection, server side (reads: the
 * client's frames). */
static void server_conn(struct buf *in, struct buf *out)
{
	nghttp2_hd_deflater *dc, *ds;
	uint8_t hb[4096], pl[64];
	size_t k;
	const nghttp2_nv r1[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/a?x=1"),
				  NV(":authority", "ex.test"), NV("accept", "*/*") };
	const nghttp2_nv r3[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/b"),
				  NV(":authority", "ex.test"), NV("content-type", "text/plain") };
	const nghttp2_nv r5[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/reset"),
				  NV(":authority", "ex.test") };
	const nghttp2_nv s200[] = { NV(":status", "200"), NV("server", "t") };
	const nghttp2_nv s404[] = { NV(":status", "404"), NV("server", "t") };
	const nghttp2_nv s100[] = { NV(":status", "100") };

	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	put(in, PREFACE, 24);
	settings(in);
	frame(in, 8, 0, 0, "\0\x0f\0\0", 4);			/* WINDOW_UPDATE */
	/* stream 1: HEADERS with priority and padding, END_STREAM */
	k = block(dc, hb, sizeof(hb), r1, 5);
	pl[0] = 3;						/* pad length */
	memcpy(pl + 1, "\0\0\0\0\x10", 5);			/* priority */
	memcpy(pl + 6, hb, k);
	memset(pl + 6 + k, 0, 3);
	frame(in, 1, 0x1 | 0x4 | 0x8 | 0x20, 1, pl, 6 + k + 3);
	/* stream 3: HEADERS in two pieces (CONTINUATION), body in two DATA
	 * frames, the second padded */
	k = block(dc, hb, sizeof(hb), r3, 5);
	frame(in, 1, 0, 3, hb, 4);
	frame(in, 9, 0x4, 3, hb + 4, k - 4);
	frame(in, 0, 0, 3, "hello ", 6);
	memcpy(pl, "\x02world\0\0", 8);
	frame(in, 0, 0x1 | 0x8, 3, pl, 8);
	/* stream 5: the client gives up (RST_STREAM CANCEL) */
	headers(in, dc, 5, 1, r5, 4);
	frame(in, 6, 0, 0, "pingping", 8);			/* PING */

	settings(out);
	frame(out, 4, 0x1, 0, NULL, 0);				/* SETTINGS ACK */
	headers(out, ds, 3, 0, s100, 1);			/* 100-continue first */
	headers(out, ds, 3, 0, s404, 2);
	frame(out, 0, 0x1, 3, "nope", 4);
	/* stream 1's head in three pieces */
	k = block(ds, hb, sizeof(hb), s200, 2);
	frame(out, 1, 0, 1, hb, 1);
	frame(out, 9, 0, 1, hb + 1, 1);
	frame(out, 9, 0x4, 1, hb + 2, k - 2);
	frame(out, 0, 0, 1, "0123", 4);
	frame(out, 0, 0x1, 1, "4567", 4);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
}

static void check_server(const struct sink *s)
{
	const struct hx *x;

	assert_int_equal(s->n, 3);
	x = by_stream(s, 0, 1);
	assert_non_null(x);
	assert_string_equal(x->method, "GET");
	assert_string_equal(x->path, "/a?x=1");
	assert_string_equal(x->host, "ex.test");
	assert_string_equal(x->version, "HTTP/2");
	assert_int_equal(x->proto, HTC_PROTO_HTTP2);
	assert_int_equal(x->status, 200);
	assert_int_equal(x->seq, 0);
	assert_int_equal(x->resp_body_len, 8);
	assert_int_equal(x->unresolved, 0);
	assert_int_equal(x->grpc_status, -1);
	assert_int_equal(x->nh, 2);
	assert_string_equal(x->hn[0], "accept");
	assert_string_equal(x->hv[0], "*/*");
	assert_string_equal(x->hn[1], "host");		/* :authority, for replay */
	assert_string_equal(x->hv[1], "ex.test");
	assert_int_equal(x->flags & (HTC_ENGF_ERROR | HTC_ENGF_UNANSWERED | HTC_ENGF_GAP), 0);

	x = by_stream(s, 0, 3);
	assert_non_null(x);
	assert_string_equal(x->method, "POST");
	assert_string_equal(x->path, "/b");
	assert_int_equal(x->status, 404);		/* not the 100 */
	assert_int_equal(x->seq, 1);
	assert_int_equal(x->body_len, 11);
	assert_memory_equal(x->body, "hello world", 11);
	assert_true(x->flags & HTC_ENGF_ERROR);

	x = by_stream(s, 0, 5);
	assert_non_null(x);
	assert_string_equal(x->path, "/reset");
	assert_int_equal(x->seq, 2);
	assert_true(x->flags & HTC_ENGF_STREAM_RESET);
	assert_true(x->flags & HTC_ENGF_ERROR);
	assert_int_equal(s->conn[0].proto, HTC_PROTO_HTTP2);
}

static void test_server_frames(void **state)
{
	struct fx *fx = fx_open(NULL, "h", OFF);
	static struct buf in, out;
	uint64_t t = T0, c;
	struct sink *s;

	in.n = out.n = 0;
	server_conn(&in, &out);
	c = fx_accept(fx, t += MS, 10, 10, "10.0.0.1", 80, "10.0.0.2", 40000);
	fx_write(fx, t += MS, 10, 10, c, out.b, 9 + 12);	/* the server's SETTINGS first */
	fx_read(fx, t += MS, 10, 10, c, in.b, in.n);
	fx_write(fx, t += MS, 10, 10, c, out.b + 21, out.n - 21 - 9 - 4 - 9 - 4);
	/* RST_STREAM on 5 before the last frames of stream 1 */
	{
		static struct buf rst;

		rst.n = 0;
		frame(&rst, 3, 0, 5, "\0\0\0\x08", 4);
		fx_read(fx, t += MS, 10, 10, c, rst.b, rst.n);
	}
	fx_write(fx, t += MS, 10, 10, c, out.b + out.n - 26, 26);
	fx_close(fx, t += MS, 10, 10, c);
	s = run(fx, NULL);
	check_server(s);
	free(s);
}

/* The same bytes, each in its own event: nothing depends on where the
 * syscalls cut the stream. */
static void test_every_byte(void **state)
{
	struct fx *fx = fx_open(NULL, "h", OFF);
	static struct buf in, out, rst;
	uint64_t t = T0, c;
	struct sink *s;

	in.n = out.n = rst.n = 0;
	server_conn(&in, &out);
	frame(&rst, 3, 0, 5, "\0\0\0\x08", 4);
	c = fx_accept(fx, t += MS, 10, 10, "10.0.0.1", 80, "10.0.0.2", 40000);
	for (size_t i = 0; i < in.n; i++)
		fx_read(fx, t += 1000, 10, 10, c, in.b + i, 1);
	for (size_t i = 0; i < out.n - 26; i++)
		fx_write(fx, t += 1000, 10, 10, c, out.b + i, 1);
	for (size_t i = 0; i < rst.n; i++)
		fx_read(fx, t += 1000, 10, 10, c, rst.b + i, 1);
	for (size_t i = out.n - 26; i < out.n; i++)
		fx_write(fx, t += 1000, 10, 10, c, out.b + i, 1);
	s = run(fx, NULL);
	check_server(s);
	free(s);
}

/* ---- client side: gRPC, and the two ends linked ---- */

static void grpc_msg(struct buf *b, const char *m, size_t n)
{
	uint8_t p[5] = { 0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	put(b, p, 5);
	put(b, m, n);
}

static void test_grpc_and_links(void **state)
{
	struct fx *fx = fx_open(NULL, "h", OFF);
	nghttp2_hd_deflater *dc, *ds;
	static struct buf req, data, resp, tr, d2;
	uint64_t t = T0, cc, sc;
	struct sink *s;
	const struct hx *x;
	const nghttp2_nv rq[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/pkg.Svc/Get"),
				  NV(":authority", "svc:50051"), NV("content-type", "application/grpc"),
				  NV("te", "trailers") };
	const nghttp2_nv rs[] = { NV(":status", "200"), NV("content-type", "application/grpc+proto") };
	const nghttp2_nv tl[] = { NV("grpc-status", "7"), NV("grpc-message", "denied") };

	req.n = data.n = resp.n = tr.n = d2.n = 0;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	put(&req, PREFACE, 24);
	settings(&req);
	headers(&req, dc, 1, 0, rq, 6);
	/* two messages, the second split over two DATA frames */
	grpc_msg(&d2, "abc", 3);
	grpc_msg(&d2, "0123456789", 10);
	frame(&data, 0, 0, 1, d2.b, 10);
	frame(&data, 0, 0x1, 1, d2.b + 10, d2.n - 10);
	settings(&resp);
	headers(&resp, ds, 1, 0, rs, 2);
	d2.n = 0;
	grpc_msg(&d2, "xy", 2);
	frame(&resp, 0, 0, 1, d2.b, d2.n);
	headers(&tr, ds, 1, 1, tl, 2);

	/* the client (pid 20) and the server (pid 30), both traced */
	cc = fx_connect(fx, t += MS, 20, 20, "10.0.0.2", 40000, "10.0.0.1", 50051);
	sc = fx_accept(fx, t += MS, 30, 30, "10.0.0.1", 50051, "10.0.0.2", 40000);
	fx_write(fx, t += MS, 20, 20, cc, req.b, req.n);
	fx_read(fx, t += MS, 30, 30, sc, req.b, req.n);
	fx_write(fx, t += MS, 20, 20, cc, data.b, data.n);
	fx_read(fx, t += MS, 30, 30, sc, data.b, data.n);
	fx_write(fx, t += MS, 30, 30, sc, resp.b, resp.n);
	fx_read(fx, t += MS, 20, 20, cc, resp.b, resp.n);
	fx_write(fx, t += MS, 30, 30, sc, tr.b, tr.n);
	fx_read(fx, t += MS, 20, 20, cc, tr.b, tr.n);
	s = run(fx, NULL);

	x = by_stream(s, 1, 1);
	assert_non_null(x);
	assert_int_equal(x->proto, HTC_PROTO_GRPC);
	assert_string_equal(x->summary, "pkg.Svc/Get");
	assert_int_equal(x->status, 200);
	assert_int_equal(x->grpc_status, 7);
	assert_string_equal(x->grpc_message, "denied");
	assert_true(x->flags & HTC_ENGF_ERROR);
	assert_int_equal(x->req_msgs, 2);
	assert_int_equal(x->req_msg_bytes, 13);
	assert_int_equal(x->resp_msgs, 1);
	assert_int_equal(x->resp_msg_bytes, 2);
	assert_true(x->child != 0);
	x = by_stream(s, 0, 1);
	assert_non_null(x);
	assert_int_equal(x->proto, HTC_PROTO_GRPC);
	assert_string_equal(x->path, "/pkg.Svc/Get");
	assert_int_equal(x->grpc_status, 7);
	assert_int_equal(x->req_msgs, 2);
	assert_int_equal(x->body_len, 23);		/* the messages and their prefixes, for replay */
	assert_int_equal(s->nlink, 1);
	for (size_t i = 0; i < s->nconn; i++)
		assert_int_equal(s->conn[i].proto, HTC_PROTO_GRPC);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	free(s);
}

/*
 * Both ends of an HTTP/2 connection joined mid-way (stream 1 was before
 * the capture; neither end's preface or SETTINGS is seen): stream 3's call
 * and request still link, by the stream id, which is the connection's own
 * numbering at both ends.
 */
static void test_late_join_link(void **state)
{
	struct fx *fx = fx_open(NULL, "h", OFF);
	nghttp2_hd_deflater *dc, *ds;
	static struct buf req, resp;
	uint64_t t = T0, cc, sc;
	struct sink *s;
	const struct hx *call, *rq;
	const nghttp2_nv q[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/late"),
				 NV(":authority", "svc") };
	const nghttp2_nv r[] = { NV(":status", "204") };

	(void)state;
	req.n = resp.n = 0;
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	headers(&req, dc, 3, 1, q, 4);
	headers(&resp, ds, 3, 1, r, 1);
	cc = fx_preexisting(fx, 20, "10.0.0.2", 40000, "10.0.0.1", 8443, HTC_ROLE_UNKNOWN);
	sc = fx_preexisting(fx, 30, "10.0.0.1", 8443, "10.0.0.2", 40000, HTC_ROLE_UNKNOWN);
	fx_write(fx, t += MS, 20, 20, cc, req.b, req.n);
	fx_read(fx, t += MS, 30, 30, sc, req.b, req.n);
	fx_write(fx, t += MS, 30, 30, sc, resp.b, resp.n);
	fx_read(fx, t += MS, 20, 20, cc, resp.b, resp.n);
	s = run(fx, NULL);
	call = by_stream(s, 1, 3);
	rq = by_stream(s, 0, 3);
	assert_non_null(call);
	assert_non_null(rq);
	assert_int_equal(call->status, 204);
	assert_int_equal(rq->status, 204);
	assert_int_equal(s->nlink, 1);
	assert_true(call->child != 0);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	free(s);
}

/* ---- gaps ---- */

static void test_gaps(void **state)
{
	struct fx *fx = fx_open(NULL, "h", OFF);
	nghttp2_hd_deflater *dc, *ds;
	static struct buf a, b, r;
	uint64_t t = T0, c;
	struct sink *s;
	const struct hx *x;
	struct htc_engine_stats st;
	char big[3000];
	const nghttp2_nv r1[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/one"),
				  NV(":authority", "ex.test"), NV("x-tag", "first") };
	const nghttp2_nv r3[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/two"),
				  NV(":authority", "ex.test"), NV("x-tag", "first") };
	const nghttp2_nv ok[] = { NV(":status", "200") };

	a.n = b.n = r.n = 0;
	memset(big, 'z', sizeof(big));
	assert_int_equal(nghttp2_hd_deflate_new(&dc, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&ds, 4096), 0);
	put(&a, PREFACE, 24);
	headers(&a, dc, 1, 1, r1, 5);
	headers(&r, ds, 1, 0, ok, 1);
	frame(&r, 0, 0x1, 1, big, sizeof(big));
	headers(&b, dc, 3, 1, r3, 5);

	c = fx_accept(fx, t += MS, 10, 10, "10.0.0.1", 80, "10.0.0.2", 40000);
	fx_read(fx, t += MS, 10, 10, c, a.b, a.n);
	/* the response's DATA cut by the snaplen: framing holds */
	fx_write_cut(fx, t += MS, 10, 10, c, r.b, 100, r.n);
	/* a drop inside stream 3's header block: its fields, and what it put
	 * in the table, are lost */
	fx_read(fx, t += MS, 10, 10, c, b.b, 12);
	fx_skip(fx, c, HTC_EV_READ, b.n - 12);
	b.n = 0;
	{
		const nghttp2_nv r5[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/three"),
					  NV(":authority", "ex.test"), NV("x-tag", "first") };

		headers(&b, dc, 5, 1, r5, 5);
	}
	fx_read(fx, t += MS, 10, 10, c, b.b, b.n);
	/* stream 7's HEADERS lost whole in a vectored write's uncaptured
	 * tail: its DATA shows it */
	b.n = 0;
	{
		const nghttp2_nv r7[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/seven"),
					  NV(":authority", "ex.test") };

		headers(&b, dc, 7, 0, r7, 4);
		frame(&b, 0, 0x1, 7, "body", 4);
	}
	fx_read_cut(fx, t += MS, 10, 10, c, b.b, 0, b.n - 13);
	fx_read(fx, t += MS, 10, 10, c, b.b + b.n - 13, 13);
	r.n = 0;
	headers(&r, ds, 3, 1, ok, 1);
	headers(&r, ds, 5, 1, ok, 1);
	headers(&r, ds, 7, 1, ok, 1);
	fx_write(fx, t += MS, 10, 10, c, r.b, r.n);
	s = run(fx, &st);

	x = by_stream(s, 0, 1);
	assert_non_null(x);
	assert_string_equal(x->path, "/one");
	assert_int_equal(x->status, 200);
	assert_true(x->flags & HTC_ENGF_RESP_BODY_PARTIAL);
	assert_int_equal(x->resp_bytes, 9 + 1 + 9 + sizeof(big));
	x = by_stream(s, 0, 3);
	assert_non_null(x);
	assert_string_equal(x->path, "?");		/* its block was not captured */
	assert_true(x->unresolved > 0);
	assert_true(x->flags & HTC_ENGF_UNRESOLVED);
	assert_int_equal(x->status, 200);
	x = by_stream(s, 0, 5);
	assert_non_null(x);
	/* :path is a literal; :authority and x-tag were inserted by stream 1
	 * and referenced since: the table was lost with stream 3's block */
	assert_string_equal(x->path, "/three");
	assert_string_equal(x->method, "GET");
	assert_string_equal(x->host, "");
	assert_int_equal(x->unresolved, 2);
	assert_int_equal(x->nh, 0);
	assert_true(st.h2_unresolved >= 3);
	x = by_stream(s, 0, 7);
	assert_non_null(x);
	assert_string_equal(x->method, "?");
	assert_string_equal(x->path, "?");
	assert_true(x->flags & HTC_ENGF_GAP);
	assert_true(x->flags & HTC_ENGF_UNRESOLVED);
	assert_int_equal(x->status, 200);
	assert_int_equal(x->seq, 3);
	assert_int_equal(s->n, 4);
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	free(s);
}

/* ---- late join: the property ---- */

/*
 * Blocks encoded by nghttp2's deflater with a small table (evictions),
 * headers that repeat (indexed fields), names that repeat with new values
 * (literals with indexed names, inserted), never-indexed ones, and a table
 * size change part-way.  A connection joined at block k (k = 0..N-1): for
 * every request, each header reported is the true one at its place among
 * the request's fields (the unresolved ones taken out), method/path/host
 * are right or "?"/"" when not resolved, and the counts add up.
 */
#define NB 40

struct truth {
	char n[12][32], v[12][64];
	size_t nf;
};

static void make_block(struct truth *tr, int i)
{
	static const char *paths[] = { "/a", "/b/c", "/d?q=1", "/" };
	static const char *agents[] = { "ua-1", "ua-2" };
	size_t n = 0;

#define F(name, ...) do { snprintf(tr->n[n], 32, "%s", name); snprintf(tr->v[n], 64, __VA_ARGS__); n++; } while (0)
	F(":method", "%s", i % 5 == 3 ? "POST" : "GET");
	F(":scheme", "http");
	F(":path", "%s", paths[i % 4]);
	F(":authority", "host%d.test", i / 10);
	F("user-agent", "%s", agents[(i / 7) % 2]);
	F("x-req", "r%d", i);			/* a new value every time */
	F("x-session", "s%d", i / 3);
	if (i % 2)
		F("cookie", "k=%d", i % 4);
	F("accept", "*/*");
#undef F
	tr->nf = n;
}

static void test_late_join(void **state)
{
	static struct truth tr[NB];
	static struct buf blocks[NB];
	nghttp2_hd_deflater *d;
	uint64_t total_unres = 0;

	assert_int_equal(nghttp2_hd_deflate_new(&d, 256), 0);
	for (int i = 0; i < NB; i++) {
		nghttp2_nv nv[12];
		uint8_t hb[2048];
		size_t k;

		make_block(&tr[i], i);
		for (size_t j = 0; j < tr[i].nf; j++) {
			nv[j].name = (uint8_t *)tr[i].n[j];
			nv[j].value = (uint8_t *)tr[i].v[j];
			nv[j].namelen = strlen(tr[i].n[j]);
			nv[j].valuelen = strlen(tr[i].v[j]);
			nv[j].flags = !strcmp(tr[i].n[j], "cookie") ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
		}
		if (i == NB / 2)
			assert_int_equal(nghttp2_hd_deflate_change_table_size(d, 128), 0);
		k = block(d, hb, sizeof(hb), nv, tr[i].nf);
		blocks[i].n = 0;
		frame(&blocks[i], 1, 0x5, (uint32_t)(2 * i + 1), hb, k);
	}
	nghttp2_hd_deflate_del(d);

	for (int k = 0; k < NB; k++) {
		struct fx *fx = fx_open(NULL, "h", OFF);
		uint64_t t = T0, c;
		struct sink *s;
		struct htc_engine_stats st;
		uint64_t fields = 0, unres = 0;

		c = fx_preexisting(fx, 10, "10.0.0.1", 80, "10.0.0.2", 40000, HTC_ROLE_SERVER);
		for (int i = k; i < NB; i++)
			fx_read(fx, t += MS, 10, 10, c, blocks[i].b, blocks[i].n);
		s = run(fx, &st);
		assert_int_equal(s->n, NB - k);
		for (int i = k; i < NB; i++) {
			const struct hx *x = by_stream(s, 0, (uint32_t)(2 * i + 1));
			const struct truth *t1 = &tr[i];
			size_t j = 0;

			assert_non_null(x);
			assert_true(!strcmp(x->method, t1->v[0]) || !strcmp(x->method, "?"));
			assert_true(!strcmp(x->path, t1->v[2]) || !strcmp(x->path, "?"));
			assert_true(!strcmp(x->host, t1->v[3]) || !strcmp(x->host, ""));
			/* reported headers: a subsequence of the true regular
			 * fields, then host (from :authority) */
			for (size_t h = 0; h < x->nh; h++) {
				if (!strcmp(x->hn[h], "host") && h == x->nh - 1) {
					assert_string_equal(x->hv[h], t1->v[3]);
					continue;
				}
				while (j < t1->nf && (t1->n[j][0] == ':' || strcmp(t1->n[j], x->hn[h]) ||
						      strcmp(t1->v[j], x->hv[h])))
					j++;
				if (j == t1->nf)
					fail_msg("join %d, block %d: header %s: %s is not the true one", k, i,
						 x->hn[h], x->hv[h]);
				j++;
			}
			if (k == 0)
				assert_int_equal(x->unresolved, 0);
			fields += t1->nf;
			unres += x->unresolved;
		}
		/* every field is counted once: resolved or not */
		assert_int_equal(st.h2_fields, fields);
		assert_int_equal(st.h2_unresolved, unres);
		if (k == 1)
			assert_true(unres > 0);
		total_unres += unres;
		free(s);
	}
	assert_true(total_unres > 0);
}

/* ---- hostile bytes ---- */

static void test_hostile(void **state)
{
	/* a bad HPACK integer, an index past the tables, a huge size
	 * update, Huffman garbage, a CONTINUATION without HEADERS, a frame
	 * longer than allowed: counted, never a crash */
	static const uint8_t blocks[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
		{ 0xbf, 0x00 },
		{ 0x3f, 0xe1, 0xff, 0xff, 0x0f },
		{ 0x44, 0x83, 0xff, 0xff, 0xff },
		{ 0x82, 0x84, 0x87 },
	};
	struct fx *fx = fx_open(NULL, "h", OFF);
	static struct buf in;
	uint64_t t = T0, c;
	struct sink *s;

	in.n = 0;
	put(&in, PREFACE, 24);
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		size_t n = 8;

		while (n > 1 && blocks[i][n - 1] == 0 && i != 1)
			n--;
		frame(&in, 1, 0x5, (uint32_t)(2 * i + 1), blocks[i], n);
	}
	frame(&in, 9, 0x4, 99, "\x82", 1);
	c = fx_accept(fx, t += MS, 10, 10, "10.0.0.1", 80, "10.0.0.2", 40000);
	fx_read(fx, t += MS, 10, 10, c, in.b, in.n);
	in.n = 0;
	frame(&in, 0, 0, 1, NULL, 0);
	in.b[0] = 0xff;					/* 16 MiB: too long */
	fx_read(fx, t += MS, 10, 10, c, in.b, in.n);
	s = run(fx, NULL);
	assert_true(s->n >= 4);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_frames),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_grpc_and_links),
		cmocka_unit_test(test_late_join_link),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_late_join),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
