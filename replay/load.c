// SPDX-License-Identifier: MIT
/*
 * load.c - read capture files through the engine and keep the inbound
 * requests that pass the selection filters, copied out of the engine's
 * callbacks, with what the replay needs: method, path, headers, body,
 * captured status, timing and response digest.
 *
 * The engine reports requests by their end, and connections only at close;
 * the replay order (by start) and the "this connection carried redacted
 * events" mark are settled once the whole input has been read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htc_engine.h"
#include "replay.h"

struct conn_key {
	uint32_t file_idx;
	uint64_t conn_id;
};

struct loader {
	const struct rp_filter *filter;
	struct rp_req **reqs;
	size_t n, cap;
	/* (file, conn_id) of connections with HTC_EVF_REDACTED events */
	struct conn_key *red;
	size_t nred, capred;
	/* engine connection ids of those, learnt from on_conn */
	uint64_t *red_conns;
	size_t nred_conns, capred_conns;
	const char *const *paths;
	size_t total;		/* inbound requests seen, before the filters */
	int err;
};

static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	np = realloc(*p, ncap * sz);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static bool is_redacted_conn(const struct loader *l, uint32_t file_idx, uint64_t conn_id)
{
	/* small: only connections that carried a secret header */
	for (size_t i = l->nred; i > 0; i--)
		if (l->red[i - 1].file_idx == file_idx && l->red[i - 1].conn_id == conn_id)
			return true;
	return false;
}

static void on_conn(void *ctx, const struct htc_eng_conn *c)
{
	struct loader *l = ctx;

	if (l->err || !is_redacted_conn(l, c->file_idx, c->conn_id))
		return;
	if (grow((void **)&l->red_conns, &l->capred_conns, l->nred_conns, sizeof(uint64_t))) {
		l->err = -ENOMEM;
		return;
	}
	l->red_conns[l->nred_conns++] = c->id;
}

static char *dupn(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Whether the body is shorter than its Content-Length says.  The engine
 * flags bodies it saw cut (HTC_ENGF_BODY_PARTIAL, GAP); this second check
 * costs nothing and keeps the promise "never sent truncated" even for a
 * message the engine ended early (the server answered before the whole
 * body was read, or the capture stopped). */
static bool body_short(const struct rp_req *q)
{
	unsigned long long want = 0;
	bool have = false;

	for (size_t i = 0; i < q->nhdrs; i++) {
		const struct rp_hdr *h = &q->hdrs[i];
		char *end;

		if (rp_strieq(h->name, h->name_len, "transfer-encoding"))
			return false;	/* chunked: the decoder saw its end or flagged it */
		if (!rp_strieq(h->name, h->name_len, "content-length"))
			continue;
		errno = 0;
		want = strtoull(h->value, &end, 10);
		if (errno || end == h->value)
			return true;	/* unreadable length: do not trust the body */
		have = true;
	}
	return have && q->body_len < want;
}

static int copy_request(struct rp_req *q, const struct htc_eng_request *r)
{
	q->id = r->id;
	q->conn = r->conn;
	q->file_idx = r->file_idx;
	q->pid = r->pid;
	q->lport = r->ep.lport;
	memcpy(q->comm, r->comm, sizeof(q->comm));
	q->comm[sizeof(q->comm) - 1] = '\0';
	q->status = r->status;
	q->start_ns = r->start_ns;
	q->end_ns = r->end_ns;
	q->flags = r->flags;
	q->resp_hash = r->resp_body_hash;
	q->resp_len = r->resp_body_len;
	/* a digest only means something for a response fully captured; the
	 * engine gives 0 when it has none */
	q->hash_valid = r->status && r->end_ns && r->resp_body_hash &&
			!(r->flags & (HTC_ENGF_RESP_BODY_PARTIAL | HTC_ENGF_GAP));
	q->method = dupn(r->method ? r->method : "", r->method ? strlen(r->method) : 0);
	q->path = dupn(r->path ? r->path : "", r->path ? strlen(r->path) : 0);
	q->host = dupn(r->host ? r->host : "", r->host ? strlen(r->host) : 0);
	if (!q->method || !q->path || !q->host)
		return -ENOMEM;
	if (r->nheaders) {
		q->hdrs = calloc(r->nheaders, sizeof(*q->hdrs));
		if (!q->hdrs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct htc_eng_header *h = &r->headers[i];
		struct rp_hdr *d = &q->hdrs[q->nhdrs];

		d->name = dupn(h->name, h->name_len);
		d->value = dupn(h->value, h->value_len);
		q->nhdrs++;
		if (!d->name || !d->value)
			return -ENOMEM;
		d->name_len = h->name_len;
		d->value_len = h->value_len;
	}
	if (r->body_len) {
		q->body = malloc(r->body_len);
		if (!q->body)
			return -ENOMEM;
		memcpy(q->body, r->body, r->body_len);
		q->body_len = r->body_len;
	}
	if (body_short(q))
		q->flags |= HTC_ENGF_BODY_PARTIAL;
	return 0;
}

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	struct loader *l = ctx;
	struct rp_req probe = {0}, *q;

	if (l->err)
		return;
	l->total++;
	/* filter on a shallow view before copying bodies; relative times
	 * need the first start, so they are checked after the load */
	probe.method = (char *)(r->method ? r->method : "");
	probe.path = (char *)(r->path ? r->path : "");
	probe.status = r->status;
	probe.pid = r->pid;
	probe.lport = r->ep.lport;
	memcpy(probe.comm, r->comm, sizeof(probe.comm));
	probe.comm[sizeof(probe.comm) - 1] = '\0';
	probe.start_ns = r->start_ns;
	probe.end_ns = r->end_ns;
	if (!rp_filter_match(l->filter, &probe, 0))
		return;
	if (grow((void **)&l->reqs, &l->cap, l->n, sizeof(*l->reqs))) {
		l->err = -ENOMEM;
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q || copy_request(q, r)) {
		rp_req_free(q);
		l->err = -ENOMEM;
		return;
	}
	l->reqs[l->n++] = q;
}

static void on_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	fprintf(stderr, "httpreplay: warning: offset %llu: %s (%s)\n",
		(unsigned long long)offset, msg, htc_strerror(err));
}

static int cmp_start(const void *a, const void *b)
{
	const struct rp_req *x = *(const struct rp_req *const *)a;
	const struct rp_req *y = *(const struct rp_req *const *)b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int rp_load(const char *const *paths, size_t npaths, const struct rp_filter *f,
	    struct rp_req ***out, size_t *nout, size_t *total, const char **what)
{
	struct loader l = { .filter = f, .paths = paths };
	struct htc_engine_sink sink = { .ctx = &l, .on_conn = on_conn, .on_request = on_request };
	struct htc_engine *e = NULL;
	struct htc_source *src = NULL;
	struct htc_record rec;
	uint32_t fi;
	int err, ret;

	*out = NULL;
	*nout = 0;
	*total = 0;
	*what = "engine";
	e = htc_engine_new(&sink);
	if (!e) {
		err = -errno;
		goto cleanup;
	}
	*what = "open";
	src = htc_source_open(paths, npaths, e, on_warn, NULL, &err);
	if (!src)
		goto cleanup;
	*what = "read";
	while ((ret = htc_source_next(src, &rec, &fi)) > 0) {
		if ((rec.type == HTC_REC_DATA || rec.type == HTC_REC_CONN) &&
		    (rec.ev.flags & HTC_EVF_REDACTED) && !is_redacted_conn(&l, fi, rec.ev.conn_id)) {
			if (grow((void **)&l.red, &l.capred, l.nred, sizeof(*l.red))) {
				err = -ENOMEM;
				goto cleanup;
			}
			l.red[l.nred++] = (struct conn_key){ fi, rec.ev.conn_id };
		}
		err = htc_engine_feed(e, fi, &rec, NULL);
		if (err)
			goto cleanup;
		if (l.err) {
			err = l.err;
			goto cleanup;
		}
	}
	if (ret < 0) {
		err = ret;
		goto cleanup;
	}
	*what = "engine";
	err = htc_engine_finish(e);
	if (!err)
		err = l.err;
	if (err)
		goto cleanup;
	for (size_t i = 0; i < l.n; i++)
		for (size_t k = 0; k < l.nred_conns && !l.reqs[i]->redacted; k++)
			l.reqs[i]->redacted = l.reqs[i]->conn == l.red_conns[k];
	if (l.n)
		qsort(l.reqs, l.n, sizeof(*l.reqs), cmp_start);
	*out = l.reqs;
	*nout = l.n;
	*total = l.total;
	l.reqs = NULL;
	l.n = 0;
	err = 0;
cleanup:
	for (size_t i = 0; i < l.n; i++)
		rp_req_free(l.reqs[i]);
	free(l.reqs);
	free(l.red);
	free(l.red_conns);
	htc_source_close(src);
	htc_engine_free(e);
	return err;
}
