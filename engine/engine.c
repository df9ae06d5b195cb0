/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the streaming engine of htc_engine.h: capture records in;
 * connections, HTTP requests, downstream calls, cross-process links and
 * per-event annotations out.
 *
 * Per connection, each direction of the byte stream is a small state
 * machine (between messages, head, body by length, chunked, to close,
 * resync) fed captured bytes and told about uncaptured ones; lengths always
 * come from the syscalls' return values, so a hole only costs what it
 * covers.  Messages pair up into exchanges in order (pipelining).  Server
 * exchanges are requests and stay "active" on the thread that read them
 * until their response is written; client exchanges (and Redis/PostgreSQL
 * commands, or runs of writes for other protocols) are calls, attributed to
 * the thread's active request when they start.  A table keyed by the
 * connection's 5-tuple pairs client and server exchanges by their index.
 *
 * Memory is bounded by caps (connections, threads, links, pending
 * exchanges per connection) with least-recently-used eviction, counted in
 * stats.evicted.  Exchange objects and their buffers are recycled through
 * a free list, so the steady state does no allocation per event.
 */
#include "htc_engine.h"
#include "htc_hash.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1_parse.h"
#include "engine_int.h"

/* ---- limits and internal structures ---- */

#define ENG_MAX_CONNS (1u << 16)	/* open connections tracked */
#define ENG_MAX_THREADS (1u << 16)	/* threads with active requests */
#define ENG_MAX_LINKS (1u << 16)	/* 5-tuples waiting for their other side */
#define ENG_LINK_WIN 256		/* exchanges awaiting their other side, per connection */
#define ENG_MAX_PENDING 64		/* exchanges waiting per connection (pipelining) */
#define ENG_MAX_ACTIVE 32		/* requests active at once on one thread */
#define ENG_MAX_FILES 4096
#define ENG_BODY_CAP (1u << 20)		/* request body bytes kept for replay */
#define ENG_SUMMARY_CAP 256

enum { DIR_IN = 0, DIR_OUT = 1 };	/* read, write */

/* Per-direction HTTP states. */
enum {
	H_IDLE,		/* between messages */
	H_HEAD,		/* start line and headers */
	H_BODY,		/* remaining bytes of a Content-Length body */
	H_CHUNKED,
	H_BODY_CLOSE,	/* response body delimited by the close */
	H_RESYNC,	/* framing lost: looking for a start line */
	H_OFF,		/* not HTTP (any more) */
};

/* Intrusive hash-table node with LRU links; first member of its owner. */
struct hnode {
	struct hnode *hnext;
	uint64_t hash;
	struct hnode *lru_prev, *lru_next;
};

/*
 * A bin of recycled objects whose first member is their struct hnode,
 * chained by hnext: connections and threads come and go at the event rate,
 * so they are reused rather than freed.  bin_get returns a zeroed object.
 */
static void *bin_get(struct hnode **bin, size_t size)
{
	struct hnode *n = *bin;

	if (!n)
		return calloc(1, size);
	*bin = n->hnext;
	memset(n, 0, size);
	return n;
}

static void bin_put(struct hnode **bin, struct hnode *n)
{
	n->hnext = *bin;
	*bin = n;
}

static void bin_free(struct hnode **bin)
{
	while (*bin) {
		struct hnode *n = *bin;

		*bin = n->hnext;
		free(n);
	}
}

struct htab {
	struct hnode **b;
	size_t nb, n;
	struct hnode lru;	/* sentinel: lru_next newest, lru_prev oldest */
};

struct efile {
	int64_t offset;		/* realtime_offset_ns */
	uint64_t next_req;	/* n of the next request id */
};

struct conn;
struct thr;

/* An exchange: an HTTP request and its response, or a call. */
struct exch {
	struct exch *next_free;
	struct conn *conn;
	struct thr *thr;	/* thread it is active on (server side) */
	uint64_t serial;	/* unique per use, for annotations */
	uint64_t id;		/* request id or call id */
	uint64_t parent;	/* calls: the request it is attributed to */
	uint32_t seq, file, pid, tid;
	char comm[HTC_COMM_LEN];
	uint8_t proto;
	uint8_t has_str, is_head, is_connect;
	uint8_t req_done, resp_started, resp_done, answered;
	int status;
	uint32_t flags, ncalls;
	uint64_t start_ns, resp_start_ns, end_ns, last_resp_ns;
	uint64_t req_bytes, resp_bytes;
	uint64_t body_hash, resp_body_len;
	size_t off_path, off_version, off_host;	/* in str: method\0path\0version\0host\0 */
	size_t head_len, nhdrs, body_len;
	/* from here on kept when the object is recycled (exch_new) */
	char *str;
	size_t str_cap;
	uint8_t *head;
	size_t head_cap;
	struct htc_eng_header *hdrs;
	size_t hdrs_cap;
	uint8_t *body;
	size_t body_cap;
	char summary[ENG_SUMMARY_CAP];	/* a string: bytes after its NUL are not read */
};

struct hdir {
	int state;
	int started;
	int interim;		/* the response head parsed was a 1xx */
	uint64_t off;		/* next expected stream offset */
	uint64_t remaining;
	struct http_chunked ch;
	uint8_t *buf;		/* head accumulation */
	size_t len, cap;
	struct exch *ex;	/* message in progress belongs to it; NULL: none */
};

/* Decoders of a non-HTTP client connection. */
struct pstate {
	struct resp_cmd rc;
	struct resp_reply rr;
	struct pg_stream pf, pb;
	struct exch *cur;	/* PostgreSQL: call of the message being written... */
	uint64_t cur_serial;	/* ...if still open (its serial unchanged) */
	int read_since_write;
	char sni[72];		/* TLS: server name from the ClientHello */
};

struct lkey {
	uint8_t family;
	uint8_t pad;
	uint16_t cport, sport;
	uint8_t caddr[16], saddr[16];
};

struct lseq {
	uint64_t id, parent;
	uint8_t reported, linked;
	/* this side's report carried the link (child_request_id, or
	 * parent_call_id and parent_id), so on_link can tell the sink which
	 * rows it must patch.  One flag is enough: a side's entry for a seq
	 * is written once (link_note at the exchange's start, never changed),
	 * so a report that found it carried the very ids on_link gives. */
	uint8_t carried;
};

struct lside {
	int used;
	struct conn *conn;
	struct lseq *v;		/* ring: seq s at v[s & (cap - 1)] */
	uint32_t base;		/* lowest seq still kept */
	size_t cap;
};

/* Both ends of one TCP connection, by 5-tuple: [0] client, [1] server. */
struct link {
	struct hnode node;
	struct lkey key;
	struct lside side[2];
};

struct thr {
	struct hnode node;
	uint32_t file, pid, tid;
	uint32_t n;
	struct exch *act[ENG_MAX_ACTIVE];
};

struct conn {
	struct hnode node;
	struct htc_eng_conn info;
	int role;
	int preexisting, classified, http;
	uint32_t nseq;
	struct hdir dir[2];
	struct exch *q[ENG_MAX_PENDING];	/* open exchanges, oldest first */
	uint32_t qn;
	struct pstate *ps;
	struct link *link;
	uint64_t last_req_id;
	char *last_mp;		/* method\0path\0 of the last request reported */
	size_t last_mp_cap, last_plen;
	int last_has_mp;
};

/* bin_get/bin_free treat a recycled object and its node as one pointer */
_Static_assert(offsetof(struct thr, node) == 0, "thr: node must come first");
_Static_assert(offsetof(struct conn, node) == 0, "conn: node must come first");

struct htc_engine {
	struct htc_engine_sink sink;
	struct htc_engine_stats st;
	struct efile *files;
	uint32_t nfiles;
	struct htab conns, threads, links;
	struct exch *free_ex;
	struct hnode *free_conn;	/* recycled objects (bin_*) */
	struct hnode *free_thr;
	uint64_t next_conn, next_call, serial;
	struct http_head hh;	/* scratch: too big for the stack of every call */
	/* annotation of the event being fed */
	int ann_want, ann_start, ann_has_mp;
	uint64_t ann_serial, ann_id;
	char *ann_buf;
	size_t ann_cap, ann_plen;
};

const char *htc_proto_name(unsigned proto)
{
	static const char *const names[] = { "unknown", "http", "redis", "postgres", "tls" };

	return proto < sizeof(names) / sizeof(names[0]) ? names[proto] : "unknown";
}

/* ---- small helpers ---- */

uint64_t htc_fnv1a64(uint64_t h, const void *p, size_t len)
{
	return fnv1a64(h, p, len);
}

/* Grow *buf to hold need bytes; 0 or -ENOMEM. */
static int grow(void *bufp, size_t *cap, size_t need, size_t elem)
{
	void **buf = bufp;
	/* small first: many exchanges are alive at once */
	size_t ncap = *cap ? *cap : (elem == 1 ? 128 : 8);
	void *nb;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(*buf, ncap * elem);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* ---- hash tables with LRU order ---- */

static void lru_init(struct hnode *s)
{
	s->lru_prev = s->lru_next = s;
}

static void lru_unlink(struct hnode *n)
{
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
}

static void lru_push(struct hnode *s, struct hnode *n)
{
	n->lru_next = s->lru_next;
	n->lru_prev = s;
	s->lru_next->lru_prev = n;
	s->lru_next = n;
}

static void lru_touch(struct htab *t, struct hnode *n)
{
	if (t->lru.lru_next != n) {
		lru_unlink(n);
		lru_push(&t->lru, n);
	}
}

static int htab_init(struct htab *t)
{
	t->nb = 1024;
	t->n = 0;
	t->b = calloc(t->nb, sizeof(*t->b));
	lru_init(&t->lru);
	return t->b ? 0 : -ENOMEM;
}

static void htab_grow(struct htab *t)
{
	size_t nb = t->nb * 2;
	struct hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;	/* stay at the current size: slower, still correct */
	for (size_t i = 0; i < t->nb; i++) {
		struct hnode *n = t->b[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static void htab_insert(struct htab *t, struct hnode *n, uint64_t hash)
{
	/* at most one entry per two buckets: a lookup of an absent key
	 * (every new connection's link) then mostly finds an empty bucket
	 * instead of reading a node that is not in the cache */
	if (t->n >= t->nb / 2)
		htab_grow(t);
	n->hash = hash;
	n->hnext = t->b[hash & (t->nb - 1)];
	t->b[hash & (t->nb - 1)] = n;
	lru_push(&t->lru, n);
	t->n++;
}

static void htab_remove(struct htab *t, struct hnode *n)
{
	struct hnode **pp = &t->b[n->hash & (t->nb - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	lru_unlink(n);
	t->n--;
}

#define HTAB_FIRST(t, hash) ((t)->b[(hash) & ((t)->nb - 1)])

/* ---- files ---- */

static struct efile *file_of(struct htc_engine *e, uint32_t idx)
{
	return idx < e->nfiles ? &e->files[idx] : NULL;
}

static uint64_t wall(const struct efile *f, uint64_t ts)
{
	return (uint64_t)((int64_t)ts + f->offset);
}

/* ---- exchanges ---- */

static struct exch *exch_new(struct htc_engine *e, struct conn *c)
{
	struct exch *x = e->free_ex;

	if (x) {
		e->free_ex = x->next_free;
	} else {
		x = calloc(1, sizeof(*x));
		if (!x)
			return NULL;
	}
	/* keep the buffers, reset the rest */
	memset(x, 0, offsetof(struct exch, str));
	x->summary[0] = 0;
	x->conn = c;
	x->serial = ++e->serial;
	x->body_hash = HTC_FNV1A64_INIT;
	return x;
}

static void exch_release(struct htc_engine *e, struct exch *x)
{
	/* large buffers go back to malloc so idle memory stays small */
	if (x->body_cap > 64 * 1024) {
		free(x->body);
		x->body = NULL;
		x->body_cap = 0;
	}
	if (x->head_cap > 16 * 1024) {
		free(x->head);
		x->head = NULL;
		x->head_cap = 0;
		free(x->str);
		x->str = NULL;
		x->str_cap = 0;
	}
	x->next_free = e->free_ex;
	e->free_ex = x;
}

static const char *ex_method(const struct exch *x)
{
	return x->has_str ? x->str : NULL;
}

static const char *ex_path(const struct exch *x)
{
	return x->has_str ? x->str + x->off_path : NULL;
}

/* Store method, path, version and host as NUL-terminated strings. */
static int ex_set_strings(struct exch *x, const struct http_head *h, const char *host, size_t host_len)
{
	size_t need = h->method_len + h->target_len + 9 + host_len + 4;

	if (grow(&x->str, &x->str_cap, need, 1))
		return -ENOMEM;
	memcpy(x->str, h->method, h->method_len);
	x->str[h->method_len] = 0;
	x->off_path = h->method_len + 1;
	memcpy(x->str + x->off_path, h->target, h->target_len);
	x->str[x->off_path + h->target_len] = 0;
	x->off_version = x->off_path + h->target_len + 1;
	memcpy(x->str + x->off_version, "HTTP/1.0", 9);
	x->str[x->off_version + 7] = (char)('0' + (h->minor == 1));
	x->off_host = x->off_version + 9;
	memcpy(x->str + x->off_host, host, host_len);
	x->str[x->off_host + host_len] = 0;
	x->has_str = 1;
	x->is_head = h->method_len == 4 && http_token_eq(h->method, h->method_len, "HEAD");
	x->is_connect = h->method_len == 7 && http_token_eq(h->method, h->method_len, "CONNECT");
	return 0;
}

/* ---- threads and their active requests ---- */

static uint64_t thr_hash(uint32_t file, uint32_t pid, uint32_t tid)
{
	return mix64(((uint64_t)pid << 32 | tid) ^ ((uint64_t)file * 0x9e3779b97f4a7c15ULL));
}

static struct thr *thr_find(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid)
{
	uint64_t h = thr_hash(file, pid, tid);

	for (struct hnode *n = HTAB_FIRST(&e->threads, h); n; n = n->hnext) {
		struct thr *t = (struct thr *)n;

		if (n->hash == h && t->file == file && t->pid == pid && t->tid == tid)
			return t;
	}
	return NULL;
}

static void thr_evict(struct htc_engine *e, struct thr *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		t->act[i]->thr = NULL;
	htab_remove(&e->threads, &t->node);
	bin_put(&e->free_thr, &t->node);
	e->st.evicted++;
}

static struct thr *thr_get(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid)
{
	struct thr *t = thr_find(e, file, pid, tid);

	if (t) {
		lru_touch(&e->threads, &t->node);
		return t;
	}
	if (e->threads.n >= ENG_MAX_THREADS)
		thr_evict(e, (struct thr *)e->threads.lru.lru_prev);
	t = bin_get(&e->free_thr, sizeof(*t));
	if (!t)
		return NULL;
	t->file = file;
	t->pid = pid;
	t->tid = tid;
	htab_insert(&e->threads, &t->node, thr_hash(file, pid, tid));
	return t;
}

static void thr_add(struct htc_engine *e, struct exch *x, uint32_t file, uint32_t pid, uint32_t tid)
{
	struct thr *t = thr_get(e, file, pid, tid);

	if (!t)
		return;
	if (t->n >= ENG_MAX_ACTIVE) {
		/* the oldest stays a request but no longer attracts calls */
		t->act[0]->thr = NULL;
		memmove(t->act, t->act + 1, (t->n - 1) * sizeof(t->act[0]));
		t->n--;
		e->st.evicted++;
	}
	t->act[t->n++] = x;
	x->thr = t;
}

static void thr_del(struct htc_engine *e, struct exch *x)
{
	struct thr *t = x->thr;

	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->act[i] == x) {
			memmove(t->act + i, t->act + i + 1, (t->n - i - 1) * sizeof(t->act[0]));
			t->n--;
			break;
		}
	x->thr = NULL;
	/* an idle thread keeps its entry (no malloc per request); the LRU
	 * cap bounds them */
}

/*
 * The request a thread is serving: the only active one, or the most recent
 * of several (OUT *ambiguous = 1).  NULL when none.
 */
static struct exch *attribute(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid,
			      int *ambiguous)
{
	struct thr *t = thr_find(e, file, pid, tid);
	struct exch *best = NULL;

	*ambiguous = 0;
	if (!t || t->n == 0)
		return NULL;
	for (uint32_t i = 0; i < t->n; i++)
		if (!best || t->act[i]->start_ns >= best->start_ns)
			best = t->act[i];
	*ambiguous = t->n > 1;
	return best;
}

/* ---- cross-process links ---- */

static int is_v4mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pre, 12);
}

/* The connection's 5-tuple as (client, server), IPv4-mapped IPv6 folded
 * to IPv4 so a dual-stack server and an IPv4 client agree. */
static void link_key(const struct htc_endpoints *ep, int is_client, struct lkey *k)
{
	const uint8_t *la = ep->laddr, *ra = ep->raddr;
	uint8_t fam = ep->family;

	memset(k, 0, sizeof(*k));
	if (fam == HTC_AF_INET6 && is_v4mapped(la) && is_v4mapped(ra)) {
		fam = HTC_AF_INET;
		la += 12;
		ra += 12;
	}
	k->family = fam;
	memcpy(is_client ? k->caddr : k->saddr, la, fam == HTC_AF_INET ? 4 : 16);
	memcpy(is_client ? k->saddr : k->caddr, ra, fam == HTC_AF_INET ? 4 : 16);
	k->cport = is_client ? ep->lport : ep->rport;
	k->sport = is_client ? ep->rport : ep->lport;
}

static void link_free_side(struct lside *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void link_free(struct htc_engine *e, struct link *l)
{
	for (int i = 0; i < 2; i++) {
		if (l->side[i].conn)
			l->side[i].conn->link = NULL;
		link_free_side(&l->side[i]);
	}
	htab_remove(&e->links, &l->node);
	free(l);
}

/* Register connection c on its side of its tuple's link entry. */
static void link_attach(struct htc_engine *e, struct conn *c)
{
	struct lkey k;
	uint64_t h;
	struct link *l = NULL;
	int side = c->role == HTC_ROLE_SERVER;

	link_key(&c->info.ep, !side, &k);
	h = mix64(fnv1a64(HTC_FNV1A64_INIT, &k, sizeof(k)));
	for (struct hnode *n = HTAB_FIRST(&e->links, h); n; n = n->hnext)
		if (n->hash == h && !memcmp(&((struct link *)n)->key, &k, sizeof(k))) {
			l = (struct link *)n;
			break;
		}
	if (l && l->side[side].used) {
		/* the tuple is reused by a new connection: a new pair */
		link_free(e, l);
		l = NULL;
	}
	if (!l) {
		if (e->links.n >= ENG_MAX_LINKS) {
			link_free(e, (struct link *)e->links.lru.lru_prev);
			e->st.evicted++;
		}
		l = calloc(1, sizeof(*l));
		if (!l)
			return;
		l->key = k;
		htab_insert(&e->links, &l->node, h);
	} else {
		lru_touch(&e->links, &l->node);
	}
	l->side[side].used = 1;
	l->side[side].conn = c;
	c->link = l;
}

/*
 * The entry of seq on one side: a window of the last ENG_LINK_WIN
 * exchanges (a ring, grown on demand), so a long keep-alive connection
 * costs no more than its window; linked entries leave it (link_reported).
 * NULL when seq fell out of the window, or is beyond it and !create.
 */
static struct lseq *link_seq(struct lside *s, uint32_t seq, int create)
{
	if (seq < s->base)
		return NULL;
	if (seq >= s->base + s->cap) {
		if (!create)
			return NULL;
		while (seq >= s->base + s->cap && s->cap < ENG_LINK_WIN) {
			size_t ncap = s->cap ? s->cap * 2 : 8;
			struct lseq *nv = calloc(ncap, sizeof(*nv));

			if (!nv)
				return NULL;
			for (uint64_t q = s->base; q < (uint64_t)s->base + s->cap; q++)
				nv[q & (ncap - 1)] = s->v[q & (s->cap - 1)];
			free(s->v);
			s->v = nv;
			s->cap = ncap;
		}
		if (seq - s->base >= 2 * s->cap) {
			memset(s->v, 0, s->cap * sizeof(*s->v));
			s->base = seq - (uint32_t)s->cap + 1;
		}
		while (seq >= s->base + s->cap) {
			/* the oldest never found its other side: let it go */
			memset(&s->v[s->base & (s->cap - 1)], 0, sizeof(*s->v));
			s->base++;
		}
	}
	return &s->v[seq & (s->cap - 1)];
}

/* Drop the linked entries at the bottom of a side's window. */
static void link_trim(struct lside *s)
{
	while (s->cap && s->v[s->base & (s->cap - 1)].linked) {
		memset(&s->v[s->base & (s->cap - 1)], 0, sizeof(*s->v));
		s->base++;
	}
}

/* An exchange of seq on connection c got its id (at its start). */
static void link_note(struct conn *c, uint32_t seq, uint64_t id, uint64_t parent)
{
	struct lseq *q;

	if (!c->link)
		return;
	q = link_seq(&c->link->side[c->role == HTC_ROLE_SERVER], seq, 1);
	if (q) {
		q->id = id;
		q->parent = parent;
	}
}

/* The other side's entry for seq, or NULL. */
static struct lseq *link_peer(struct conn *c, uint32_t seq)
{
	struct lseq *q;

	if (!c->link)
		return NULL;
	q = link_seq(&c->link->side[c->role != HTC_ROLE_SERVER], seq, 0);
	return q && q->id ? q : NULL;
}

/* After reporting exchange seq of c: emit the link if the peer was reported.
 * carried: the report carried the peer's ids. */
static void link_reported(struct htc_engine *e, struct conn *c, uint32_t seq, int carried)
{
	struct lseq *me, *peer, *call, *req;
	unsigned flags = 0;

	if (!c->link)
		return;
	me = link_seq(&c->link->side[c->role == HTC_ROLE_SERVER], seq, 0);
	peer = link_peer(c, seq);
	if (!me || !me->id)
		return;
	me->reported = 1;
	me->carried = (uint8_t)carried;
	if (!peer || !peer->reported || me->linked)
		return;
	me->linked = peer->linked = 1;
	e->st.links++;
	call = c->role == HTC_ROLE_SERVER ? peer : me;
	req = c->role == HTC_ROLE_SERVER ? me : peer;
	if (!call->carried)
		flags |= HTC_LINK_LATE_CALL;
	if (!req->carried)
		flags |= HTC_LINK_LATE_REQUEST;
	if (e->sink.on_link)
		e->sink.on_link(e->sink.ctx, call->id, req->id, call->parent, flags);
	link_trim(&c->link->side[0]);
	link_trim(&c->link->side[1]);
}

static void link_detach(struct htc_engine *e, struct conn *c)
{
	struct link *l = c->link;

	if (!l)
		return;
	l->side[c->role == HTC_ROLE_SERVER].conn = NULL;
	c->link = NULL;
}

/* ---- annotations ---- */

static void ann_copy(struct htc_engine *e, uint64_t id, const char *m, const char *p)
{
	size_t ml = m ? strlen(m) : 0, pl = p ? strlen(p) : 0;

	e->ann_id = id;
	e->ann_has_mp = 0;
	if (!m || !p)
		return;
	if (grow(&e->ann_buf, &e->ann_cap, ml + pl + 2, 1))
		return;
	memcpy(e->ann_buf, m, ml + 1);
	memcpy(e->ann_buf + ml + 1, p, pl + 1);
	e->ann_has_mp = 1;
	e->ann_plen = ml + 1;
}

/* The event touched exchange x; start: it carries x's start line. */
static void ann_touch(struct htc_engine *e, struct exch *x, int start)
{
	if (!e->ann_want)
		return;
	if (e->ann_serial && e->ann_serial != x->serial && !(start && !e->ann_start))
		return;
	if (e->ann_serial == x->serial && !start && e->ann_has_mp)
		return;
	e->ann_serial = x->serial;
	e->ann_start = e->ann_start || start;
	if (x->conn->role == HTC_ROLE_SERVER) {
		ann_copy(e, x->id, ex_method(x), ex_path(x));
	} else if (start && x->has_str) {
		ann_copy(e, x->parent, ex_method(x), ex_path(x));
	} else {
		struct exch *p = NULL;
		struct thr *t = thr_find(e, x->file, x->pid, x->tid);

		for (uint32_t i = 0; t && i < t->n; i++)
			if (t->act[i]->id == x->parent)
				p = t->act[i];
		ann_copy(e, x->parent, p ? ex_method(p) : NULL, p ? ex_path(p) : NULL);
	}
}

/* An event tied to request r (connect while serving it...). */
static void ann_request(struct htc_engine *e, struct exch *r, uint64_t id)
{
	if (!e->ann_want || e->ann_serial)
		return;
	e->ann_serial = (uint64_t)-1;
	ann_copy(e, id, r ? ex_method(r) : NULL, r ? ex_path(r) : NULL);
}

/* ---- reporting ---- */

static void conn_dir_unref(struct conn *c, struct exch *x)
{
	for (int d = 0; d < 2; d++)
		if (c->dir[d].ex == x)
			c->dir[d].ex = NULL;
}

static void queue_remove(struct conn *c, struct exch *x)
{
	for (uint32_t i = 0; i < c->qn; i++)
		if (c->q[i] == x) {
			memmove(c->q + i, c->q + i + 1, (c->qn - i - 1) * sizeof(c->q[0]));
			c->qn--;
			return;
		}
}

static const struct htc_eng_header empty_header = { "", 0, "", 0 };

/* Returns the peer's lseq the report carried (parent_call_id), or NULL. */
static const struct lseq *report_request(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	struct htc_eng_request r;
	struct lseq *peer = link_peer(c, x->seq);

	memset(&r, 0, sizeof(r));
	r.id = x->id;
	r.conn = c->info.id;
	r.seq = x->seq;
	r.file_idx = c->info.file_idx;
	r.pid = x->pid;
	r.tid = x->tid;
	memcpy(r.comm, x->comm, sizeof(r.comm));
	r.ep = c->info.ep;
	r.method = x->has_str ? x->str : "";
	r.path = x->has_str ? x->str + x->off_path : "";
	r.version = x->has_str ? x->str + x->off_version : "";
	r.host = x->has_str ? x->str + x->off_host : "";
	r.status = x->status;
	r.start_ns = x->start_ns;
	r.end_ns = x->end_ns;
	r.req_bytes = x->req_bytes;
	r.resp_bytes = x->resp_bytes;
	r.ncalls = x->ncalls;
	r.flags = x->flags;
	/* never NULL, even when empty: callers may memcpy them */
	r.head = x->head_len ? x->head : (const uint8_t *)"";
	r.head_len = x->head_len;
	r.headers = x->nhdrs ? x->hdrs : (const struct htc_eng_header *)&empty_header;
	r.nheaders = x->nhdrs;
	r.body = x->body_len ? x->body : (const uint8_t *)"";
	r.body_len = x->body_len;
	r.resp_body_len = x->resp_body_len;
	r.resp_body_hash = (x->flags & (HTC_ENGF_RESP_BODY_PARTIAL | HTC_ENGF_GAP)) || !x->resp_done
			   ? 0 : x->body_hash;
	if (peer) {
		r.parent_call_id = peer->id;
		r.parent_id = peer->parent;
	}
	e->st.requests++;
	if (r.flags & HTC_ENGF_UNANSWERED)
		e->st.unanswered++;
	if (e->sink.on_request)
		e->sink.on_request(e->sink.ctx, &r);
	/* what the close event of this connection will be annotated with */
	c->last_req_id = x->id;
	c->last_has_mp = 0;
	if (x->has_str) {
		/* the parser lets no NUL into a method or target: the
		 * offsets give their lengths */
		size_t ml = x->off_path - 1, pl = x->off_version - x->off_path - 1;

		if (!grow(&c->last_mp, &c->last_mp_cap, ml + pl + 2, 1)) {
			memcpy(c->last_mp, x->str, ml + 1);
			memcpy(c->last_mp + ml + 1, x->str + x->off_path, pl + 1);
			c->last_plen = ml + 1;
			c->last_has_mp = 1;
		}
	}
	return peer;
}

/* Returns the peer's lseq the report carried (child_request_id), or NULL. */
static const struct lseq *report_call(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	struct htc_eng_call k;
	struct lseq *peer = x->proto == HTC_PROTO_HTTP ? link_peer(c, x->seq) : NULL;

	memset(&k, 0, sizeof(k));
	k.id = x->id;
	k.request_id = x->parent;
	k.conn = c->info.id;
	k.seq = x->seq;
	k.file_idx = c->info.file_idx;
	k.pid = x->pid;
	k.tid = x->tid;
	memcpy(k.comm, x->comm, sizeof(k.comm));
	k.ep = c->info.ep;
	k.proto = x->proto;
	k.summary = x->summary;
	k.status = x->status;
	k.start_ns = x->start_ns;
	k.end_ns = x->end_ns;
	k.bytes_out = x->req_bytes;
	k.bytes_in = x->resp_bytes;
	k.flags = x->flags;
	if (peer)
		k.child_request_id = peer->id;
	e->st.calls++;
	if (e->sink.on_call)
		e->sink.on_call(e->sink.ctx, &k);
	return peer;
}

/* x is finished (answered, or given up on): report it and free it. */
static void exch_done(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	const struct lseq *peer;

	if (x->status >= 400)
		x->flags |= HTC_ENGF_ERROR;
	if (!x->resp_started && !x->answered)
		x->flags |= HTC_ENGF_UNANSWERED;
	if (x->end_ns == 0 && x->resp_started)
		x->end_ns = x->last_resp_ns;
	if (c->role == HTC_ROLE_SERVER)
		peer = report_request(e, x);
	else
		peer = report_call(e, x);
	if (x->proto == HTC_PROTO_HTTP)
		link_reported(e, c, x->seq, peer != NULL);
	thr_del(e, x);
	queue_remove(c, x);
	conn_dir_unref(c, x);
	exch_release(e, x);
}

/* A new exchange on c, started by the event of (file, pid, tid, ts). */
static struct exch *exch_start(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
			       uint64_t ts, uint8_t proto)
{
	struct exch *x;
	struct efile *f = file_of(e, c->info.file_idx);

	if (c->qn >= ENG_MAX_PENDING) {
		/* the oldest never got its answer in time: let it go */
		e->st.evicted++;
		exch_done(e, c->q[0]);
	}
	x = exch_new(e, c);
	if (!x)
		return NULL;
	x->file = c->info.file_idx;
	x->pid = ev->pid;
	x->tid = ev->tid;
	memcpy(x->comm, ev->comm, sizeof(x->comm));
	x->comm[HTC_COMM_LEN - 1] = 0;
	x->start_ns = ts;
	x->proto = proto;
	x->seq = c->nseq++;
	if (c->role == HTC_ROLE_SERVER) {
		x->id = HTC_REQID_FIRST + (uint64_t)c->info.file_idx * HTC_REQID_FILE_STRIDE + f->next_req++;
		thr_add(e, x, c->info.file_idx, ev->pid, ev->tid);
		link_note(c, x->seq, x->id, 0);
	} else {
		int amb;
		struct exch *p = attribute(e, c->info.file_idx, ev->pid, ev->tid, &amb);

		x->id = ++e->next_call;
		if (p) {
			x->parent = p->id;
			p->ncalls++;
			if (amb) {
				x->flags |= HTC_ENGF_AMBIGUOUS;
				e->st.ambiguous++;
			}
		}
		if (proto == HTC_PROTO_HTTP)
			link_note(c, x->seq, x->id, x->parent);
	}
	if (c->info.flags & HTC_ENGF_PREEXISTING)
		x->flags |= HTC_ENGF_PREEXISTING;
	c->q[c->qn++] = x;
	return x;
}

/* ---- HTTP per direction ---- */

/* Which direction index carries requests on c. */
static int req_dir(const struct conn *c)
{
	return c->role == HTC_ROLE_SERVER ? DIR_IN : DIR_OUT;
}

struct body_ctx {
	struct htc_engine *e;
	struct exch *x;
	int is_req;
};

static void body_data(void *ctx, const char *p, size_t len)
{
	struct body_ctx *b = ctx;
	struct exch *x = b->x;

	if (!x)
		return;
	if (b->is_req) {
		/* inbound requests keep their captured body for replay, up
		 * to a cap; calls do not need theirs */
		if ((x->flags & HTC_ENGF_BODY_PARTIAL) || x->conn->role != HTC_ROLE_SERVER)
			return;
		if (x->body_len + len > ENG_BODY_CAP) {
			x->flags |= HTC_ENGF_BODY_PARTIAL;
			return;
		}
		if (grow(&x->body, &x->body_cap, x->body_len + len, 1)) {
			x->flags |= HTC_ENGF_BODY_PARTIAL;
			return;
		}
		memcpy(x->body + x->body_len, p, len);
		x->body_len += len;
	} else {
		x->body_hash = fnv1a64(x->body_hash, p, len);
		x->resp_body_len += len;
	}
}

/* The message of direction d ended (its last byte was in the event at ts). */
static void msg_end(struct htc_engine *e, struct conn *c, int d, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	h->state = H_IDLE;
	h->ex = NULL;
	if (!x)
		return;
	if (d == req_dir(c)) {
		x->req_done = 1;
		return;
	}
	if (h->interim) {
		/* 1xx: the final response is still to come */
		h->interim = 0;
		return;
	}
	x->resp_done = 1;
	x->end_ns = ts;
	if (x->status == 101 || (x->is_connect && x->status >= 200 && x->status < 300)) {
		/* the connection stops speaking HTTP */
		c->dir[0].state = c->dir[1].state = H_OFF;
	}
	exch_done(e, x);
}

/* A response direction in resync (or reading to close) holds an exchange
 * whose end is unknown: the next start line, or the peer speaking, ends it. */
static void resp_unknown_end(struct htc_engine *e, struct conn *c)
{
	int d = !req_dir(c);
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	if (!x || (h->state != H_RESYNC && h->state != H_BODY_CLOSE))
		return;
	h->ex = NULL;
	x->resp_done = 1;
	x->end_ns = x->last_resp_ns;
	exch_done(e, x);
}

/* Parse just the start line in buf (when the head is cut or incomplete). */
static void early_start_line(struct htc_engine *e, struct exch *x, const uint8_t *buf, size_t len,
			     int is_req)
{
	const uint8_t *lf = memchr(buf, '\n', len);
	char tmp[2048 + 4];
	struct http_head *hh = &e->hh;
	size_t n;

	if (!x || !lf || (is_req ? x->has_str : x->status != 0))
		return;
	n = (size_t)(lf - buf) + 1;
	if (n > 2048)
		return;
	memcpy(tmp, buf, n);
	tmp[n] = '\r';
	tmp[n + 1] = '\n';
	if (is_req) {
		if (http_parse_request(tmp, n + 2, hh) > 0)
			ex_set_strings(x, hh, "", 0);
	} else if (http_parse_response(tmp, n + 2, hh) > 0 && x->status == 0 &&
		   (hh->status >= 200 || hh->status < 100)) {
		x->status = hh->status;
	}
}

/* The head of direction d's message is complete at buf (n bytes), parsed
 * into e->hh by the caller (parsing it again here would find the same). */
static int on_head(struct htc_engine *e, struct conn *c, int d, const char *buf, int n, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct http_head *hh = &e->hh;
	struct http_framing fr;
	struct exch *x = h->ex;

	http_framing(hh, &fr);
	if (is_req) {
		const char *host;
		size_t hl = 0;

		if (!x)
			return 0;
		host = http_header_kind(hh, HTTP_HK_HOST, &hl);
		if (ex_set_strings(x, hh, host ? host : "", host ? hl : 0))
			return -ENOMEM;
		c->info.proto = HTC_PROTO_HTTP;
		if (c->role == HTC_ROLE_SERVER) {
			/* keep the head for replay; headers point into it */
			if (grow(&x->head, &x->head_cap, (size_t)n, 1) ||
			    grow(&x->hdrs, &x->hdrs_cap, hh->nheaders ? hh->nheaders : 1, sizeof(*x->hdrs)))
				return -ENOMEM;
			memcpy(x->head, buf, (size_t)n);
			x->head_len = (size_t)n;
			for (size_t i = 0; i < hh->nheaders; i++) {
				x->hdrs[i].name = (const char *)x->head + (hh->headers[i].name - buf);
				x->hdrs[i].name_len = hh->headers[i].name_len;
				x->hdrs[i].value = (const char *)x->head + (hh->headers[i].value - buf);
				x->hdrs[i].value_len = hh->headers[i].value_len;
			}
			x->nhdrs = hh->nheaders;
		} else {
			char *s = x->summary;
			size_t o;

			o = proto_escape(s, sizeof(x->summary), (const uint8_t *)hh->method, hh->method_len);
			if (o + 2 < sizeof(x->summary)) {
				s[o++] = ' ';
				proto_escape(s + o, sizeof(x->summary) - o, (const uint8_t *)hh->target,
					     hh->target_len);
			}
		}
		ann_touch(e, x, 1);
		if (fr.chunked) {
			h->state = H_CHUNKED;
			http_chunked_init(&h->ch);
		} else if (fr.content_length > 0) {
			h->state = H_BODY;
			h->remaining = (uint64_t)fr.content_length;
		} else {
			msg_end(e, c, d, ts);
		}
		return 0;
	}
	/* response */
	if (x) {
		x->resp_started = 1;
		if (hh->status >= 100 && hh->status < 200 && hh->status != 101) {
			h->interim = 1;
			msg_end(e, c, d, ts);
			return 0;
		}
		x->status = hh->status;
	}
	if ((x && x->is_head) || hh->status == 204 || hh->status == 304 ||
	    (hh->status >= 100 && hh->status < 200)) {
		msg_end(e, c, d, ts);
	} else if (x && x->is_connect && hh->status >= 200 && hh->status < 300) {
		msg_end(e, c, d, ts);
	} else if (fr.chunked) {
		h->state = H_CHUNKED;
		http_chunked_init(&h->ch);
	} else if (fr.content_length >= 0) {
		h->remaining = (uint64_t)fr.content_length;
		if (h->remaining == 0)
			msg_end(e, c, d, ts);
		else
			h->state = H_BODY;
	} else {
		h->state = H_BODY_CLOSE;
	}
	return 0;
}

static void add_bytes(struct exch *x, int is_req, uint64_t n, uint64_t ts)
{
	if (!x)
		return;
	if (is_req) {
		x->req_bytes += n;
	} else {
		x->resp_bytes += n;
		x->last_resp_ns = ts;
	}
}

/* A message start in direction d at the event (the first bytes seen). */
static void msg_begin(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev, uint64_t ts)
{
	struct hdir *h = &c->dir[d];

	h->state = H_HEAD;
	h->len = 0;
	h->ex = NULL;
	if (d == req_dir(c)) {
		/* the peer speaks again: a response of unknown length is over */
		resp_unknown_end(e, c);
		h->ex = exch_start(e, c, ev, ts, HTC_PROTO_HTTP);
		if (h->ex)
			ann_touch(e, h->ex, 1);
	} else {
		/* the response of the oldest exchange still without one */
		for (uint32_t i = 0; i < c->qn; i++)
			if (!c->q[i]->resp_done) {
				h->ex = c->q[i];
				break;
			}
		if (h->ex) {
			if (!h->ex->resp_started)
				h->ex->resp_start_ns = ts;
			ann_touch(e, h->ex, 0);
		}
	}
}

/* The head in progress is not HTTP: drop its exchange, look for a start. */
static void head_error(struct htc_engine *e, struct conn *c, int d)
{
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	e->st.parse_errors++;
	h->state = H_RESYNC;
	h->len = 0;
	if (x && d == req_dir(c)) {
		/* not a request after all; it made no calls, so nothing
		 * else refers to it: forget it */
		h->ex = NULL;
		if (x->ncalls == 0 && !x->has_str) {
			thr_del(e, x);
			queue_remove(c, x);
			conn_dir_unref(c, x);
			exch_release(e, x);
		} else {
			x->flags |= HTC_ENGF_GAP;
			x->req_done = 1;
		}
	} else if (x) {
		h->ex = x;	/* its end is now unknown (resync) */
	}
}

static int ends_head(const uint8_t *b, size_t len, size_t from)
{
	size_t i = from > 3 ? from - 3 : 0;

	for (; i < len; i++) {
		const uint8_t *lf = memchr(b + i, '\n', len - i);

		if (!lf)
			return 0;
		i = (size_t)(lf - b);
		if (i + 1 < len && b[i + 1] == '\n')
			return 1;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return 1;
	}
	return 0;
}

/* Captured bytes p[0..len) of direction d. */
static int http_data(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev,
		     uint64_t ts, const uint8_t *p, size_t len)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct body_ctx bc = { e, NULL, is_req };

	while (len > 0) {
		/* bytes of a message in progress belong to its exchange */
		if (h->ex && e->ann_serial != h->ex->serial)
			ann_touch(e, h->ex, 0);
		switch (h->state) {
		case H_OFF:
			return 0;
		case H_IDLE: {
			int s;

			while (len > 0 && (*p == '\r' || *p == '\n')) {
				p++;
				len--;
			}
			if (!len)
				return 0;
			s = is_req ? http_is_request_start((const char *)p, len)
				   : http_is_response_start((const char *)p, len);
			if (s == 0) {
				e->st.parse_errors++;
				h->state = H_RESYNC;
				if (!is_req) {
					/* whatever this is, it answers the oldest */
					msg_begin(e, c, d, ev, ts);
					h->state = H_RESYNC;
				}
				break;
			}
			msg_begin(e, c, d, ev, ts);
			break;
		}
		case H_HEAD: {
			int r;
			size_t old = h->len, take;

			if (old == 0) {
				r = is_req ? http_parse_request((const char *)p, len, &e->hh)
					   : http_parse_response((const char *)p, len, &e->hh);
				if (r > 0) {
					add_bytes(h->ex, is_req, (uint64_t)r, ts);
					if (on_head(e, c, d, (const char *)p, r, ts) == -ENOMEM)
						return -ENOMEM;
					p += r;
					len -= (size_t)r;
					break;
				}
				if (r == HTTP_ERROR) {
					/* resync from the next byte, not this one */
					head_error(e, c, d);
					p++;
					len--;
					break;
				}
			}
			/* accumulate, bounded by the head limit */
			take = len;
			if (old + take > HTTP_MAX_HEAD + 4)
				take = HTTP_MAX_HEAD + 4 - old;
			if (grow(&h->buf, &h->cap, old + take, 1))
				return -ENOMEM;
			memcpy(h->buf + old, p, take);
			h->len = old + take;
			if (!ends_head(h->buf, h->len, old)) {
				if (h->len > HTTP_MAX_HEAD) {
					head_error(e, c, d);
					p += take;
					len -= take;
					break;
				}
				/* only when this piece ends the start line, so a
				 * long line in tiny pieces is not rescanned */
				if (h->ex && !h->ex->has_str && memchr(p, '\n', take)) {
					early_start_line(e, h->ex, h->buf, h->len, is_req);
					if (is_req)
						ann_touch(e, h->ex, 1);
				}
				add_bytes(h->ex, is_req, take, ts);
				p += take;
				len -= take;
				break;
			}
			r = is_req ? http_parse_request((const char *)h->buf, h->len, &e->hh)
				   : http_parse_response((const char *)h->buf, h->len, &e->hh);
			if (r == HTTP_INCOMPLETE && h->len <= HTTP_MAX_HEAD) {
				add_bytes(h->ex, is_req, take, ts);
				p += take;
				len -= take;
				break;
			}
			if (r < 0 || (size_t)r <= old) {
				/* the head started in an earlier event: rescan
				 * this one from its start */
				head_error(e, c, d);
				break;
			}
			add_bytes(h->ex, is_req, (uint64_t)r - old, ts);
			p += (size_t)r - old;
			len -= (size_t)r - old;
			h->len = 0;
			if (on_head(e, c, d, (const char *)h->buf, r, ts) == -ENOMEM)
				return -ENOMEM;
			break;
		}
		case H_BODY: {
			size_t n = len;

			if (n > h->remaining)
				n = (size_t)h->remaining;
			bc.x = h->ex;
			body_data(&bc, (const char *)p, n);
			add_bytes(h->ex, is_req, n, ts);
			p += n;
			len -= n;
			h->remaining -= n;
			if (!h->remaining)
				msg_end(e, c, d, ts);
			break;
		}
		case H_CHUNKED: {
			size_t used = 0;
			int r;

			bc.x = h->ex;
			r = http_chunked_feed(&h->ch, (const char *)p, len, &used, body_data, &bc);
			add_bytes(h->ex, is_req, used, ts);
			p += used;
			len -= used;
			if (r == 1) {
				msg_end(e, c, d, ts);
			} else if (r == HTTP_ERROR) {
				e->st.parse_errors++;
				if (h->ex)
					h->ex->flags |= is_req ? HTC_ENGF_BODY_PARTIAL : HTC_ENGF_RESP_BODY_PARTIAL;
				if (is_req) {
					msg_end(e, c, d, ts);
					h->state = H_RESYNC;
				} else {
					h->state = H_RESYNC;	/* keep h->ex: end unknown */
				}
			}
			break;
		}
		case H_BODY_CLOSE:
			bc.x = h->ex;
			body_data(&bc, (const char *)p, len);
			add_bytes(h->ex, is_req, len, ts);
			return 0;
		case H_RESYNC: {
			size_t off = http_find_start((const char *)p, len, is_req);

			add_bytes(h->ex, is_req, off, ts);
			if (off == len)
				return 0;
			p += off;
			len -= off;
			if (!is_req)
				resp_unknown_end(e, c);
			h->ex = NULL;
			h->state = H_IDLE;
			break;
		}
		}
	}
	return 0;
}

/* n bytes of direction d were counted but not captured. */
static void http_gap(struct htc_engine *e, struct conn *c, int d, uint64_t n, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct exch *x = h->ex;

	while (n > 0) {
		if (x)
			x->flags |= HTC_ENGF_GAP;
		switch (h->state) {
		case H_OFF:
		case H_RESYNC:
			add_bytes(x, is_req, n, ts);
			return;
		case H_IDLE:
			/* a whole message may hide in there */
			h->state = H_RESYNC;
			h->ex = NULL;
			return;
		case H_HEAD:
			early_start_line(e, x, h->buf, h->len, is_req);
			add_bytes(x, is_req, n, ts);
			h->len = 0;
			h->state = H_RESYNC;
			if (x && is_req) {
				x->req_done = 1;
				h->ex = NULL;
			} else if (x) {
				x->resp_started = 1;
			}
			return;
		case H_BODY: {
			uint64_t k = n < h->remaining ? n : h->remaining;

			if (x)
				x->flags |= is_req ? HTC_ENGF_BODY_PARTIAL : HTC_ENGF_RESP_BODY_PARTIAL;
			add_bytes(x, is_req, k, ts);
			h->remaining -= k;
			n -= k;
			if (!h->remaining) {
				msg_end(e, c, d, ts);
				x = NULL;
			}
			break;
		}
		case H_CHUNKED:
			if (x)
				x->flags |= is_req ? HTC_ENGF_BODY_PARTIAL : HTC_ENGF_RESP_BODY_PARTIAL;
			add_bytes(x, is_req, n, ts);
			if (http_chunked_gap(&h->ch, n) == 0)
				return;
			if (is_req) {
				msg_end(e, c, d, ts);
				h->state = H_RESYNC;
			} else {
				h->state = H_RESYNC;	/* end unknown */
			}
			return;
		case H_BODY_CLOSE:
			if (x)
				x->flags |= HTC_ENGF_RESP_BODY_PARTIAL;
			add_bytes(x, is_req, n, ts);
			return;
		}
	}
}

/* ---- other protocols (client side): calls ---- */

/* Close every open call of c (oldest first) as answered at end_ns. */
static void calls_close_all(struct htc_engine *e, struct conn *c)
{
	while (c->qn > 0) {
		struct exch *x = c->q[0];

		if (x->resp_bytes) {
			x->answered = 1;
			x->end_ns = x->last_resp_ns;
		}
		exch_done(e, x);
	}
}

static struct exch *call_new(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
			     uint64_t ts, const char *summary)
{
	struct exch *x = exch_start(e, c, ev, ts, c->info.proto);
	size_t n = strlen(summary);

	if (!x)
		return NULL;
	if (n >= sizeof(x->summary))
		n = sizeof(x->summary) - 1;
	memcpy(x->summary, summary, n);
	x->summary[n] = 0;
	ann_touch(e, x, 0);
	return x;
}

/* Is x (with that serial: objects are recycled) still open on c? */
static int queue_has(const struct conn *c, const struct exch *x, uint64_t serial)
{
	for (uint32_t i = 0; i < c->qn; i++)
		if (c->q[i] == x)
			return x->serial == serial;
	return 0;
}

static struct exch *newest_call(struct conn *c)
{
	return c->qn ? c->q[c->qn - 1] : NULL;
}

static void redis_write(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts,
			const uint8_t *p, size_t len)
{
	struct pstate *ps = c->ps;

	while (len > 0) {
		size_t used = 0;
		int r = resp_cmd_feed(&ps->rc, p, len, &used);

		p += used;
		len -= used;
		if (r == RESP_CMD_START) {
			call_new(e, c, ev, ts, "?");
		} else if (r == RESP_CMD_DONE) {
			struct exch *x = newest_call(c);

			if (x)
				resp_cmd_summary(&ps->rc, x->summary, sizeof(x->summary));
		}
		if (ps->rc.lost && !newest_call(c)) {
			/* framing lost: one call for this run of writes */
			char s[64];

			proto_escape(s, 40, p, len);
			call_new(e, c, ev, ts, s);
			return;
		}
	}
}

static void pg_write(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts,
		     const uint8_t *p, size_t len)
{
	struct pstate *ps = c->ps;

	while (len > 0 || ps->pf.pending_done) {
		size_t used = 0;
		int r = pg_feed(&ps->pf, p, len, &used);

		p += used;
		len -= used;
		if (r == PG_NONE)
			break;
		if (r == PG_MSG_START && (ps->pf.type == 'Q' || ps->pf.type == 'P')) {
			ps->cur = call_new(e, c, ev, ts, "");
			ps->cur_serial = ps->cur ? ps->cur->serial : 0;
		} else if (r == PG_MSG_DONE) {
			if (ps->cur && !queue_has(c, ps->cur, ps->cur_serial))
				ps->cur = NULL;	/* closed meanwhile (reply lost, evicted) */
			if ((ps->pf.type == 'Q' || ps->pf.type == 'P') && ps->cur) {
				pg_summary(&ps->pf, ps->cur->summary, sizeof(ps->cur->summary));
				ps->cur = NULL;
			} else if (ps->pf.type == 0 && (ps->pf.last_startup_code == 80877103u ||
							 ps->pf.last_startup_code == 80877104u)) {
				ps->pb.expect_ssl_byte = 1;
			}
		}
	}
}

static void other_write(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts,
			const uint8_t *p, size_t len, uint64_t ret)
{
	struct pstate *ps = c->ps;
	struct exch *x;

	if (ps->read_since_write) {
		/* the client speaks again after answers */
		ps->read_since_write = 0;
		if (c->info.proto == HTC_PROTO_REDIS) {
			if (ps->rr.lost)
				calls_close_all(e, c);
			resp_reply_init(&ps->rr);
			if (ps->rc.lost)
				resp_cmd_resync(&ps->rc);
		} else if (c->info.proto == HTC_PROTO_POSTGRES) {
			if (ps->pb.lost)
				calls_close_all(e, c);
			if (ps->pf.lost)
				pg_init(&ps->pf, 0, 0);
			if (ps->pb.lost)
				pg_init(&ps->pb, 1, 0);
		} else {
			calls_close_all(e, c);
		}
	}
	if (c->info.proto == HTC_PROTO_REDIS) {
		redis_write(e, c, ev, ts, p, len);
	} else if (c->info.proto == HTC_PROTO_POSTGRES) {
		pg_write(e, c, ev, ts, p, len);
	} else if (!newest_call(c)) {
		char s[96];

		if (c->info.proto == HTC_PROTO_TLS) {
			/* encrypted: the server name is all there is to say */
			if (!ps->sni[0])
				proto_tls_sni(p, len, ps->sni, sizeof(ps->sni));
			snprintf(s, sizeof(s), "TLS%s%s", ps->sni[0] ? " " : "", ps->sni);
		} else if (len) {
			proto_escape(s, 40, p, len);
		} else {
			snprintf(s, sizeof(s), "(%llu bytes not captured)", (unsigned long long)ret);
		}
		call_new(e, c, ev, ts, s);
	}
	x = newest_call(c);
	if (x) {
		x->req_bytes += ret;
		ann_touch(e, x, 0);
	} else {
		int amb;
		struct exch *r = attribute(e, c->info.file_idx, ev->pid, ev->tid, &amb);

		ann_request(e, r, r ? r->id : 0);
	}
}

static void other_read(struct htc_engine *e, struct conn *c, uint64_t ts, const uint8_t *p, size_t len,
		       uint64_t ret, uint64_t gap_before, uint64_t gap_after)
{
	struct pstate *ps = c->ps;
	struct exch *x = c->qn ? c->q[0] : NULL;

	ps->read_since_write = 1;
	if (x) {
		x->resp_bytes += ret;
		x->last_resp_ns = ts;
		x->resp_started = 1;
		ann_touch(e, x, 0);
	}
	if (c->info.proto == HTC_PROTO_REDIS) {
		if (gap_before)
			resp_reply_gap(&ps->rr, gap_before);
		while (len > 0) {
			size_t used = 0;
			int iserr = 0;

			if (resp_reply_feed(&ps->rr, p, len, &used, &iserr) == 1 && c->qn) {
				x = c->q[0];
				x->answered = 1;
				x->end_ns = ts;
				if (iserr)
					x->flags |= HTC_ENGF_ERROR;
				exch_done(e, x);
			}
			p += used;
			len -= used;
		}
		if (gap_after)
			resp_reply_gap(&ps->rr, gap_after);
	} else if (c->info.proto == HTC_PROTO_POSTGRES) {
		if (gap_before)
			pg_gap(&ps->pb, gap_before);
		while (len > 0 || ps->pb.pending_done) {
			size_t used = 0;
			int r = pg_feed(&ps->pb, p, len, &used);

			p += used;
			len -= used;
			if (r == PG_NONE)
				break;
			if (r == PG_MSG_START && ps->pb.type == 'E' && c->qn)
				c->q[0]->flags |= HTC_ENGF_ERROR;
			if (r == PG_MSG_DONE && ps->pb.type == 0 && ps->pb.ssl_answer == 'S') {
				/* TLS from here on: calls by runs of writes */
				c->info.proto = HTC_PROTO_TLS;
				return;
			}
			if (r == PG_MSG_DONE && ps->pb.type == 'Z') {
				while (c->qn) {
					x = c->q[0];
					x->answered = 1;
					x->end_ns = ts;
					exch_done(e, x);
				}
			}
		}
		if (gap_after)
			pg_gap(&ps->pb, gap_after);
	}
}

/* ---- connections ---- */

static uint64_t conn_hash(uint32_t file, uint64_t conn_id)
{
	return mix64(conn_id ^ ((uint64_t)file << 48) ^ ((uint64_t)file * 0x9e3779b97f4a7c15ULL));
}

static struct conn *conn_find(struct htc_engine *e, uint32_t file, uint64_t conn_id)
{
	uint64_t h = conn_hash(file, conn_id);

	for (struct hnode *n = HTAB_FIRST(&e->conns, h); n; n = n->hnext) {
		struct conn *c = (struct conn *)n;

		if (n->hash == h && c->info.conn_id == conn_id && c->info.file_idx == file)
			return c;
	}
	return NULL;
}

static void conn_free(struct htc_engine *e, struct conn *c)
{
	link_detach(e, c);
	htab_remove(&e->conns, &c->node);
	for (int d = 0; d < 2; d++)
		free(c->dir[d].buf);
	free(c->ps);
	free(c->last_mp);
	bin_put(&e->free_conn, &c->node);
}

/*
 * End of connection c: at its close event (closing = 1, ts), or at the
 * end of the input / eviction (closing = 0).  Reports what is pending,
 * then the connection, and frees it.
 */
static void conn_end(struct htc_engine *e, struct conn *c, int closing, uint64_t ts, int64_t ret)
{
	int rq = req_dir(c);

	if (closing) {
		c->info.close_ns = ts;
		if (ret == -104 /* ECONNRESET */ || ret == -32 /* EPIPE */)
			c->info.flags |= HTC_ENGF_RESET;
	}
	/* a message cut by the close */
	if (c->http) {
		struct hdir *hq = &c->dir[rq], *hr = &c->dir[!rq];

		if (closing && hq->ex && (hq->state == H_HEAD || hq->state == H_BODY || hq->state == H_CHUNKED))
			hq->ex->flags |= HTC_ENGF_RESET;
		if (hr->ex && hr->state == H_HEAD && hr->len) {
			/* a response head cut by the end: its status line may
			 * be whole */
			early_start_line(e, hr->ex, hr->buf, hr->len, 0);
			if (hr->ex->status)
				hr->ex->resp_started = 1;
		}
		if (hr->ex && (hr->state == H_BODY_CLOSE || hr->state == H_RESYNC)) {
			resp_unknown_end(e, c);
		} else if (closing && hr->ex && (hr->state == H_HEAD || hr->state == H_BODY ||
						 hr->state == H_CHUNKED)) {
			hr->ex->flags |= HTC_ENGF_RESET;
		}
	}
	while (c->qn > 0) {
		struct exch *x = c->q[0];

		if (c->info.flags & HTC_ENGF_RESET)
			x->flags |= HTC_ENGF_RESET;
		if (!c->http && x->resp_bytes) {
			x->answered = 1;
			x->end_ns = x->last_resp_ns;
		}
		exch_done(e, x);
	}
	e->st.conns++;
	if (e->sink.on_conn)
		e->sink.on_conn(e->sink.ctx, &c->info);
	conn_free(e, c);
}

static struct conn *conn_new(struct htc_engine *e, uint32_t file, const struct htc_event *ev, uint64_t ts)
{
	struct conn *c;

	if (e->conns.n >= ENG_MAX_CONNS) {
		e->st.evicted++;
		conn_end(e, (struct conn *)e->conns.lru.lru_prev, 0, 0, 0);
	}
	c = bin_get(&e->free_conn, sizeof(*c));
	if (!c)
		return NULL;
	c->info.id = ++e->next_conn;
	c->info.file_idx = file;
	c->info.conn_id = ev->conn_id;
	c->info.pid = ev->pid;
	c->info.tid = ev->tid;
	memcpy(c->info.comm, ev->comm, sizeof(c->info.comm));
	c->info.comm[HTC_COMM_LEN - 1] = 0;
	c->info.ep = ev->ep;
	c->info.open_ns = ts;
	c->role = ev->ep.role;
	if (ev->flags & HTC_EVF_PREEXISTING || ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE ||
	    ev->type == HTC_EV_CLOSE) {
		c->info.flags |= HTC_ENGF_PREEXISTING;
		c->preexisting = 1;
	}
	htab_insert(&e->conns, &c->node, conn_hash(file, ev->conn_id));
	return c;
}

/* Decide what c is from its first captured data (dir d, bytes p). */
static int conn_classify(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	int looks_req = len ? http_is_request_start((const char *)p, len) == 1 : 0;
	int looks_resp = len ? http_is_response_start((const char *)p, len) == 1 : 0;
	int maybe_req = len ? http_is_request_start((const char *)p, len) != 0 : 0;

	if (c->role == HTC_ROLE_UNKNOWN && !looks_req && !looks_resp && len) {
		/* seen mid-stream: a whole start line further on tells the
		 * role (one cut by the end of the bytes does not) */
		size_t o = http_find_start((const char *)p, len, 1);

		looks_req = o < len && http_is_request_start((const char *)p + o, len - o) == 1;
		o = http_find_start((const char *)p, len, 0);
		looks_resp = !looks_req && o < len &&
			     http_is_response_start((const char *)p + o, len - o) == 1;
	}

	if (c->role == HTC_ROLE_UNKNOWN) {
		int pr = len ? proto_detect_client(p, len, 0) : HTC_PROTO_UNKNOWN;
		uint16_t lp = c->info.ep.lport, rp = c->info.ep.rport;

		if (looks_req)
			c->role = d == DIR_IN ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
		else if (looks_resp)
			c->role = d == DIR_IN ? HTC_ROLE_CLIENT : HTC_ROLE_SERVER;
		else if (pr != HTC_PROTO_UNKNOWN)
			/* a command or handshake: its reader is the server */
			c->role = d == DIR_IN ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
		else if (lp < rp && rp >= 32768)
			/* no clue in the bytes (a forked worker answering
			 * first...): the side with the ephemeral port (Linux
			 * uses 32768-60999) is the client */
			c->role = HTC_ROLE_SERVER;
		else
			c->role = HTC_ROLE_CLIENT;
		c->info.ep.role = (uint8_t)c->role;
	}
	if (c->role == HTC_ROLE_SERVER) {
		int pr = HTC_PROTO_UNKNOWN;

		if (d == DIR_OUT && !looks_resp)
			return 0;	/* the server speaks first: wait for the client */
		if (d == DIR_IN && !maybe_req)
			pr = proto_detect_client(p, len, c->info.ep.lport);
		if (pr == HTC_PROTO_REDIS || pr == HTC_PROTO_POSTGRES || pr == HTC_PROTO_TLS) {
			c->info.proto = (uint8_t)pr;
			c->http = 0;
		} else {
			/* HTTP until shown otherwise; named once a head parses */
			c->http = 1;
			if (looks_req || looks_resp)
				c->info.proto = HTC_PROTO_HTTP;
			else if (len)
				c->dir[d].state = H_RESYNC;
		}
		c->classified = 1;
		return 0;
	}
	/* client */
	if (d == DIR_OUT && len) {
		c->info.proto = (uint8_t)proto_detect_client(p, len, c->info.ep.rport);
		if (c->info.proto == HTC_PROTO_UNKNOWN && maybe_req)
			c->info.proto = HTC_PROTO_HTTP;	/* a start line cut short */
	} else if (d == DIR_IN && looks_resp) {
		c->info.proto = HTC_PROTO_HTTP;
	} else if (!len || d == DIR_IN) {
		c->info.proto = (uint8_t)proto_detect_client(p, 0, c->info.ep.rport);
	}
	c->http = c->info.proto == HTC_PROTO_HTTP;
	c->classified = 1;
	if (!c->http) {
		c->ps = calloc(1, sizeof(*c->ps));
		if (!c->ps)
			return -ENOMEM;
		resp_cmd_init(&c->ps->rc);
		resp_reply_init(&c->ps->rr);
		/* a startup message is untyped; a connection seen mid-way is not */
		pg_init(&c->ps->pf, 0, d == DIR_OUT && len >= 8 && p[0] == 0);
		pg_init(&c->ps->pb, 1, 0);
	}
	return 0;
}

static int on_data(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts)
{
	int d = ev->type == HTC_EV_WRITE ? DIR_OUT : DIR_IN;
	struct hdir *h = &c->dir[d];
	uint64_t ret = ev->ret > 0 ? (uint64_t)ev->ret : 0;
	uint64_t cap = ev->cap_len < ret ? ev->cap_len : ret;
	uint64_t gap_before = 0, skip = 0;
	const uint8_t *p = ev->payload;

	if (!p)
		cap = 0;
	if (d == DIR_OUT)
		c->info.bytes_out += ret;
	else
		c->info.bytes_in += ret;
	if (!h->started) {
		/* a connection seen from its start begins at offset 0, so a
		 * lost first event shows as a gap; one opened before the
		 * capture begins wherever it is first seen */
		h->started = 1;
		h->off = c->preexisting ? ev->stream_off : 0;
		if (c->preexisting)
			h->state = H_RESYNC;
	}
	if (ev->stream_off > h->off)
		gap_before = ev->stream_off - h->off;
	else if (ev->stream_off < h->off)
		skip = h->off - ev->stream_off;	/* overlap: already seen */
	if (skip >= ret) {
		return 0;
	}
	if (ev->stream_off + ret > h->off)
		h->off = ev->stream_off + ret;
	if (skip) {
		uint64_t s = skip < cap ? skip : cap;

		p += s;
		cap -= s;
		ret -= skip;
	}
	if (gap_before || cap < ret) {
		e->st.gaps++;
		c->info.flags |= HTC_ENGF_GAP;
	}

	if (!c->classified) {
		if (conn_classify(e, c, d, p, (size_t)cap))
			return -ENOMEM;
		if (c->classified && c->role == HTC_ROLE_SERVER && !c->preexisting &&
		    c->info.connect_result == 0 && !c->link)
			link_attach(e, c);
		if (c->classified && c->role == HTC_ROLE_CLIENT && !c->preexisting && !c->link &&
		    c->info.proto == HTC_PROTO_HTTP)
			link_attach(e, c);
	}
	if (!c->classified)
		return 0;
	if (c->http) {
		int err;

		if (gap_before)
			http_gap(e, c, d, gap_before, ts);
		err = http_data(e, c, d, ev, ts, p, (size_t)cap);
		if (err)
			return err;
		if (cap < ret)
			http_gap(e, c, d, ret - cap, ts);
		if (!e->ann_serial) {
			/* bytes of no exchange: client side still belongs to
			 * the thread's request */
			if (c->role == HTC_ROLE_CLIENT) {
				int amb;
				struct exch *r = attribute(e, c->info.file_idx, ev->pid, ev->tid, &amb);

				ann_request(e, r, r ? r->id : 0);
			}
		}
		return 0;
	}
	if (c->role != HTC_ROLE_CLIENT || !c->ps)
		return 0;
	if (d == DIR_OUT) {
		if (c->info.proto == HTC_PROTO_UNKNOWN && cap) {
			/* a late chance to recognise it */
			int pr = proto_detect_client(p, (size_t)cap, c->info.ep.rport);

			if (pr == HTC_PROTO_REDIS || pr == HTC_PROTO_POSTGRES)
				c->info.proto = (uint8_t)pr;
		}
		if (gap_before && c->info.proto == HTC_PROTO_REDIS)
			resp_cmd_gap(&c->ps->rc, gap_before);
		if (gap_before && c->info.proto == HTC_PROTO_POSTGRES)
			pg_gap(&c->ps->pf, gap_before);
		other_write(e, c, ev, ts, p, (size_t)cap, ret + gap_before);
		if (cap < ret && c->info.proto == HTC_PROTO_REDIS)
			resp_cmd_gap(&c->ps->rc, ret - cap);
		if (cap < ret && c->info.proto == HTC_PROTO_POSTGRES)
			pg_gap(&c->ps->pf, ret - cap);
	} else {
		other_read(e, c, ts, p, (size_t)cap, ret + gap_before, gap_before, ret - cap);
	}
	return 0;
}

/* ---- public API ---- */

struct htc_engine *htc_engine_new(const struct htc_engine_sink *sink)
{
	struct htc_engine *e = calloc(1, sizeof(*e));

	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	if (sink)
		e->sink = *sink;
	if (htab_init(&e->conns) || htab_init(&e->threads) || htab_init(&e->links)) {
		htc_engine_free(e);
		errno = ENOMEM;
		return NULL;
	}
	return e;
}

int htc_engine_add_file(struct htc_engine *e, const struct htc_header *hdr)
{
	struct efile *nf;

	if (e->nfiles >= ENG_MAX_FILES)
		return -E2BIG;
	nf = realloc(e->files, (e->nfiles + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	e->files = nf;
	memset(&nf[e->nfiles], 0, sizeof(nf[0]));
	nf[e->nfiles].offset = hdr ? hdr->realtime_offset_ns : 0;
	return (int)e->nfiles++;
}

int htc_engine_feed(struct htc_engine *e, uint32_t file_idx, const struct htc_record *rec,
		    struct htc_eng_annot *annot)
{
	const struct htc_event *ev = &rec->ev;
	struct efile *f = file_of(e, file_idx);
	struct conn *c;
	uint64_t ts;
	int err = 0;

	if (annot) {
		annot->request_id = 0;
		annot->method = annot->path = NULL;
	}
	if (!f)
		return -EINVAL;
	if (rec->type != HTC_REC_DATA && rec->type != HTC_REC_CONN)
		return 0;
	if (ev->type >= HTC_EV__COUNT)
		return 0;
	e->st.events++;
	ts = wall(f, ev->ts_ns);
	e->ann_want = annot != NULL;
	e->ann_serial = 0;
	e->ann_start = 0;
	e->ann_id = 0;
	e->ann_has_mp = 0;

	c = conn_find(e, file_idx, ev->conn_id);
	if (c) {
		lru_touch(&e->conns, &c->node);
	} else {
		if (ev->type == HTC_EV_CLOSE && rec->type == HTC_REC_CONN && ev->stream_off == 0 &&
		    ev->stream_off2 == 0)
			return 0;	/* close of a socket never seen carrying data */
		c = conn_new(e, file_idx, ev, ts);
		if (!c)
			return -ENOMEM;
	}

	switch (ev->type) {
	case HTC_EV_ACCEPT:
	case HTC_EV_CONNECT:
		c->info.pid = ev->pid;
		c->info.tid = ev->tid;
		c->info.open_ns = ts;
		if (ev->type == HTC_EV_CONNECT) {
			int amb;
			struct exch *r = attribute(e, file_idx, ev->pid, ev->tid, &amb);

			c->role = HTC_ROLE_CLIENT;
			c->info.connect_result = ev->ret < 0 ? (int32_t)ev->ret : 0;
			c->info.connect_ns = ev->dur_ns;
			if (r) {
				c->info.request_id = r->id;
				if (amb)
					c->info.flags |= HTC_ENGF_AMBIGUOUS;
			}
			ann_request(e, r, r ? r->id : 0);
		} else {
			c->role = HTC_ROLE_SERVER;
		}
		c->info.ep.role = (uint8_t)c->role;
		break;
	case HTC_EV_READ:
	case HTC_EV_WRITE:
		if (rec->type != HTC_REC_DATA)
			break;
		err = on_data(e, c, ev, ts);
		break;
	case HTC_EV_CLOSE:
		/* the close comes after the newest exchange: still pending
		 * (unanswered), or the last one reported */
		if (c->role == HTC_ROLE_SERVER && c->qn) {
			ann_touch(e, c->q[c->qn - 1], 0);
		} else if (c->role == HTC_ROLE_SERVER && c->last_req_id) {
			e->ann_serial = (uint64_t)-1;
			if (c->last_has_mp)
				ann_copy(e, c->last_req_id, c->last_mp, c->last_mp + c->last_plen);
			else
				ann_copy(e, c->last_req_id, NULL, NULL);
		} else if (c->role == HTC_ROLE_CLIENT) {
			int amb;
			struct exch *r = attribute(e, file_idx, ev->pid, ev->tid, &amb);

			ann_request(e, r, r ? r->id : 0);
		}
		conn_end(e, c, 1, ts, ev->ret);
		break;
	}
	if (annot) {
		annot->request_id = e->ann_id;
		if (e->ann_has_mp) {
			annot->method = e->ann_buf;
			annot->path = e->ann_buf + e->ann_plen;
		}
	}
	return err;
}

int htc_engine_finish(struct htc_engine *e)
{
	/* oldest first, so reports keep roughly the order of the capture */
	while (e->conns.n > 0)
		conn_end(e, (struct conn *)e->conns.lru.lru_prev, 0, 0, 0);
	while (e->links.n > 0)
		link_free(e, (struct link *)e->links.lru.lru_next);
	return 0;
}

void htc_engine_stats(const struct htc_engine *e, struct htc_engine_stats *st)
{
	*st = e->st;
}

void htc_engine_free(struct htc_engine *e)
{
	struct exch *x, *next;

	if (!e)
		return;
	/* without reporting: the caller chose not to finish */
	e->sink.on_conn = NULL;
	e->sink.on_request = NULL;
	e->sink.on_call = NULL;
	e->sink.on_link = NULL;
	if (e->conns.b)
		htc_engine_finish(e);
	while (e->threads.n > 0) {
		struct thr *t = (struct thr *)e->threads.lru.lru_next;

		htab_remove(&e->threads, &t->node);
		free(t);
	}
	bin_free(&e->free_conn);
	bin_free(&e->free_thr);
	for (x = e->free_ex; x; x = next) {
		next = x->next_free;
		free(x->str);
		free(x->head);
		free(x->body);
		free(x->hdrs);
		free(x);
	}
	free(e->conns.b);
	free(e->threads.b);
	free(e->links.b);
	free(e->files);
	free(e->ann_buf);
	free(e);
}
