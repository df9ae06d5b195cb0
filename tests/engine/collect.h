/* SPDX-License-Identifier: MIT */
/*
 * collect.h - a test sink for the engine: copies every reported request,
 * call, connection, link and per-event annotation into arrays the tests
 * can assert on.  Header-only, used by test_engine.c and the bench.
 */
#ifndef HTC_TESTS_ENGINE_COLLECT_H
#define HTC_TESTS_ENGINE_COLLECT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htc.h"
#include "htc_engine.h"

#define COL_MAX 256

struct col_req {
	struct htc_eng_request r;	/* pointers cleared */
	char method[16], path[256], host[64];
	char body[256];
	size_t body_len;
	size_t nheaders;
	char hdr0[64];
};

struct col_call {
	struct htc_eng_call c;
	char summary[256];
};

struct col_link {
	uint64_t call, child, parent;
	unsigned flags;		/* HTC_LINK_* */
};

struct col_ann {
	uint8_t type;
	uint64_t conn_id;
	uint64_t request_id;
	char method[16], path[64];	/* "" when NULL */
	int has_mp;
};

struct col {
	size_t nreq, ncall, nconn, nlink, nann;
	struct col_req req[COL_MAX];
	struct col_call call[COL_MAX];
	struct htc_eng_conn conn[COL_MAX];
	struct col_link link[COL_MAX];
	struct col_ann ann[4 * COL_MAX];
};

static inline void col_str(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

static inline void col_on_request(void *ctx, const struct htc_eng_request *r)
{
	struct col *c = ctx;
	struct col_req *q;

	if (c->nreq >= COL_MAX)
		return;
	q = &c->req[c->nreq++];
	q->r = *r;
	col_str(q->method, sizeof(q->method), r->method);
	col_str(q->path, sizeof(q->path), r->path);
	col_str(q->host, sizeof(q->host), r->host);
	q->body_len = r->body_len;
	if (r->body_len)
		memcpy(q->body, r->body, r->body_len < sizeof(q->body) ? r->body_len : sizeof(q->body));
	q->nheaders = r->nheaders;
	if (r->nheaders)
		snprintf(q->hdr0, sizeof(q->hdr0), "%.*s: %.*s", (int)r->headers[0].name_len,
			 r->headers[0].name, (int)r->headers[0].value_len, r->headers[0].value);
	q->r.method = q->r.path = q->r.version = q->r.host = NULL;
	q->r.head = q->r.body = NULL;
	q->r.headers = NULL;
}

static inline void col_on_call(void *ctx, const struct htc_eng_call *k)
{
	struct col *c = ctx;
	struct col_call *q;

	if (c->ncall >= COL_MAX)
		return;
	q = &c->call[c->ncall++];
	q->c = *k;
	col_str(q->summary, sizeof(q->summary), k->summary);
	q->c.summary = NULL;
}

static inline void col_on_conn(void *ctx, const struct htc_eng_conn *k)
{
	struct col *c = ctx;

	if (c->nconn < COL_MAX)
		c->conn[c->nconn++] = *k;
}

static inline void col_on_link(void *ctx, uint64_t call, uint64_t child, uint64_t parent,
			       unsigned flags)
{
	struct col *c = ctx;

	if (c->nlink < COL_MAX) {
		c->link[c->nlink].call = call;
		c->link[c->nlink].child = child;
		c->link[c->nlink].parent = parent;
		c->link[c->nlink].flags = flags;
		c->nlink++;
	}
}

static inline struct htc_engine_sink col_sink(struct col *c)
{
	struct htc_engine_sink s = { c, col_on_conn, col_on_request, col_on_call, col_on_link };

	return s;
}

static inline void col_annot(struct col *c, const struct htc_record *rec, const struct htc_eng_annot *a)
{
	struct col_ann *x;

	if (c->nann >= sizeof(c->ann) / sizeof(c->ann[0]) ||
	    (rec->type != HTC_REC_DATA && rec->type != HTC_REC_CONN))
		return;
	x = &c->ann[c->nann++];
	x->type = rec->ev.type;
	x->conn_id = rec->ev.conn_id;
	x->request_id = a->request_id;
	x->has_mp = a->method != NULL;
	col_str(x->method, sizeof(x->method), a->method);
	col_str(x->path, sizeof(x->path), a->path);
}

static inline const struct col_req *col_find_req(const struct col *c, uint64_t id)
{
	for (size_t i = 0; i < c->nreq; i++)
		if (c->req[i].r.id == id)
			return &c->req[i];
	return NULL;
}

static inline const struct col_call *col_find_call(const struct col *c, const char *summary)
{
	for (size_t i = 0; i < c->ncall; i++)
		if (!strcmp(c->call[i].summary, summary))
			return &c->call[i];
	return NULL;
}

#endif /* HTC_TESTS_ENGINE_COLLECT_H */
