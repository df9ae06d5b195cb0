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

/* A set of connections: open addressing, linear probing.  Every
 * connection of a capture with cookies may carry redacted events, so the
 * lookups per event and per connection must not be linear scans. */
struct conn_slot {
	uint64_t id;
	uint32_t file_idx;
	bool used;
};

struct conn_set {
	struct conn_slot *slots;
	size_t cap, n;		/* cap: a power of two, or 0 */
};

static size_t conn_hash(uint32_t file_idx, uint64_t id, size_t cap)
{
	uint64_t h = (id ^ ((uint64_t)file_idx << 40)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (cap - 1);
}

static bool conn_set_has(const struct conn_set *s, uint32_t file_idx, uint64_t id)
{
	if (!s->cap)
		return false;
	for (size_t i = conn_hash(file_idx, id, s->cap);; i = (i + 1) & (s->cap - 1)) {
		const struct conn_slot *e = &s->slots[i];

		if (!e->used)
			return false;
		if (e->id == id && e->file_idx == file_idx)
			return true;
	}
}

static int conn_set_add(struct conn_set *s, uint32_t file_idx, uint64_t id)
{
	size_t i;

	if (conn_set_has(s, file_idx, id))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {	/* keep the load at most 1/2 */
		struct conn_set ns = { .cap = s->cap ? s->cap * 2 : 64 };

		ns.slots = calloc(ns.cap, sizeof(*ns.slots));
		if (!ns.slots)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++)
			if (s->slots[k].used)
				conn_set_add(&ns, s->slots[k].file_idx, s->slots[k].id);
		free(s->slots);
		*s = ns;
	}
	for (i = conn_hash(file_idx, id, s->cap); s->slots[i].used; i = (i + 1) & (s->cap - 1))
		;
	s->slots[i] = (struct conn_slot){ .id = id, .file_idx = file_idx, .used = true };
	s->n++;
	return 0;
}

struct loader {
	const struct htc_select *filter;
	struct rp_req **reqs;
	size_t n, cap;
	/* (file, conn_id) of connections with HTC_EVF_REDACTED events */
	struct conn_set red;
	/* engine connection ids of those (file_idx 0), learnt from on_conn */
	struct conn_set red_conns;
	const char *const *paths;
	size_t total;		/* inbound requests seen, before the filters */
	size_t kept_bytes;	/* memory the kept requests hold (about) */
	size_t cut;		/* requests not kept: beyond RP_MAX_KEEP_BYTES */
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

static void on_conn(void *ctx, const struct htc_eng_conn *c)
{
	struct loader *l = ctx;

	if (l->err || !conn_set_has(&l->red, c->file_idx, c->conn_id))
		return;
	if (conn_set_add(&l->red_conns, 0, c->id))
		l->err = -ENOMEM;
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

/* A copy of r in one block: the struct, its header array, strings and
 * body (a capture of many requests makes millions of small copies
 * otherwise).  NULL on ENOMEM. */
static struct rp_req *copy_request(const struct htc_eng_request *r)
{
	const char *m = r->method ? r->method : "";
	const char *pa = r->path ? r->path : "";
	const char *ho = r->host ? r->host : "";
	struct rp_req *q;
	size_t size;
	char *p;

	size = sizeof(*q) + r->nheaders * sizeof(*q->hdrs) + strlen(m) + strlen(pa) +
	       strlen(ho) + 3 + r->body_len;
	for (size_t i = 0; i < r->nheaders; i++)
		size += r->headers[i].name_len + r->headers[i].value_len + 2;
	q = malloc(size);
	if (!q)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->mem = q;
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
	q->proto = r->proto;
	q->grpc_status = r->proto == HTC_PROTO_GRPC ? r->grpc_status : -1;
	q->rgrpc_status = -1;
	/* a digest only means something for a response fully captured; the
	 * engine gives 0 when it has none */
	q->hash_valid = r->status && r->end_ns && r->resp_body_hash &&
			!(r->flags & (HTC_ENGF_RESP_BODY_PARTIAL | HTC_ENGF_GAP));
	q->hdrs = r->nheaders ? (struct rp_hdr *)(q + 1) : NULL;
	p = (char *)(q + 1) + r->nheaders * sizeof(*q->hdrs);
	q->method = p;
	p = stpcpy(p, m) + 1;
	q->path = p;
	p = stpcpy(p, pa) + 1;
	q->host = p;
	p = stpcpy(p, ho) + 1;
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct htc_eng_header *h = &r->headers[i];
		struct rp_hdr *d = &q->hdrs[i];

		d->name = p;
		d->name_len = h->name_len;
		memcpy(p, h->name, h->name_len);
		p[h->name_len] = '\0';
		p += h->name_len + 1;
		d->value = p;
		d->value_len = h->value_len;
		memcpy(p, h->value, h->value_len);
		p[h->value_len] = '\0';
		p += h->value_len + 1;
	}
	q->nhdrs = r->nheaders;
	if (r->body_len) {
		q->body = (uint8_t *)p;
		memcpy(p, r->body, r->body_len);
		q->body_len = r->body_len;
	}
	if (body_short(q))
		q->flags |= HTC_ENGF_BODY_PARTIAL;
	return q;
}

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	struct loader *l = ctx;
	struct rp_req *q;
	size_t need;

	if (l->err)
		return;
	l->total++;
	/* filter before copying bodies; relative times need the first
	 * start, so they are checked after the load */
	if (!htc_sel_match(l->filter, r, 0))
		return;
	/* every request is kept until the schedule is made: a bound on
	 * their memory, whatever the capture's compression ratio */
	need = sizeof(*q) + sizeof(*l->reqs) + r->head_len + r->body_len +
	       r->nheaders * sizeof(struct rp_hdr) + strlen(r->path) + strlen(r->host) + 64;
	if (need > RP_MAX_KEEP_BYTES - l->kept_bytes) {
		l->cut++;
		return;
	}
	l->kept_bytes += need;
	if (grow((void **)&l->reqs, &l->cap, l->n, sizeof(*l->reqs))) {
		l->err = -ENOMEM;
		return;
	}
	q = copy_request(r);
	if (!q) {
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

int rp_load(const char *const *paths, size_t npaths, const struct htc_select *f,
	    struct rp_req ***out, size_t *nout, size_t *total, size_t *cut, const char **what)
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
	*cut = 0;
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
		    (rec.ev.flags & HTC_EVF_REDACTED) && conn_set_add(&l.red, fi, rec.ev.conn_id)) {
			err = -ENOMEM;
			goto cleanup;
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
		l.reqs[i]->redacted = conn_set_has(&l.red_conns, 0, l.reqs[i]->conn);
	if (l.n)
		qsort(l.reqs, l.n, sizeof(*l.reqs), cmp_start);
	*out = l.reqs;
	*nout = l.n;
	*total = l.total;
	{
		struct htc_engine_stats st;

		htc_engine_stats(e, &st);
		*cut = l.cut + st.cut;
	}
	l.reqs = NULL;
	l.n = 0;
	err = 0;
cleanup:
	for (size_t i = 0; i < l.n; i++)
		rp_req_free(l.reqs[i]);
	free(l.reqs);
	free(l.red.slots);
	free(l.red_conns.slots);
	htc_source_close(src);
	htc_engine_free(e);
	return err;
}
