/* SPDX-License-Identifier: MIT */
/*
 * exch.c - exchanges and the threads they are attributed to.  An exchange
 * is a request (read on a server connection, answered on it) or a call
 * (written on a client connection).  A request stays active on the thread
 * that read it until its response is written; a call started on a thread
 * belongs to that thread's active request (ambiguous when several are).
 * Finished exchanges are reported to the sink, with the ids of the other
 * end of the connection when link.c has them, and their objects and
 * buffers recycled, so the steady state allocates nothing per event.
 * Also the annotation of each event fed (request id, method and path).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* ---- files ---- */

struct efile *eng_file_of(struct htc_engine *e, uint32_t idx)
{
	return idx < e->nfiles ? &e->files[idx] : NULL;
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
	x->grpc_message[0] = 0;
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
	if (x->resp_head_cap > 16 * 1024) {
		free(x->resp_head);
		x->resp_head = NULL;
		x->resp_head_cap = 0;
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
int eng_exch_set_strs(struct exch *x, const char *m, size_t ml, const char *p, size_t pl,
		      const char *version, const char *host, size_t hl)
{
	size_t vl = strlen(version);
	size_t need = ml + pl + vl + hl + 4;

	if (eng_grow(&x->str, &x->str_cap, need, 1))
		return -ENOMEM;
	memcpy(x->str, m, ml);
	x->str[ml] = 0;
	x->off_path = ml + 1;
	memcpy(x->str + x->off_path, p, pl);
	x->str[x->off_path + pl] = 0;
	x->off_version = x->off_path + pl + 1;
	memcpy(x->str + x->off_version, version, vl + 1);
	x->off_host = x->off_version + vl + 1;
	memcpy(x->str + x->off_host, host, hl);
	x->str[x->off_host + hl] = 0;
	x->has_str = 1;
	x->is_head = ml == 4 && http_token_eq(m, ml, "HEAD");
	x->is_connect = ml == 7 && http_token_eq(m, ml, "CONNECT");
	return 0;
}

int eng_exch_set_strings(struct exch *x, const struct http_head *h, const char *host, size_t host_len)
{
	return eng_exch_set_strs(x, h->method, h->method_len, h->target, h->target_len,
				 h->minor == 1 ? "HTTP/1.1" : "HTTP/1.0", host, host_len);
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
	eng_htab_remove(&e->threads, &t->node);
	eng_bin_put(&e->free_thr, &t->node);
	e->st.evicted++;
}

static struct thr *thr_get(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid)
{
	struct thr *t = thr_find(e, file, pid, tid);

	if (t) {
		eng_lru_touch(&e->threads, &t->node);
		return t;
	}
	if (e->threads.n >= ENG_MAX_THREADS)
		thr_evict(e, (struct thr *)e->threads.lru.lru_prev);
	t = eng_bin_get(&e->free_thr, sizeof(*t));
	if (!t)
		return NULL;
	t->file = file;
	t->pid = pid;
	t->tid = tid;
	eng_htab_insert(&e->threads, &t->node, thr_hash(file, pid, tid));
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
struct exch *eng_attribute(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid,
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

/* ---- evidence: propagated ids, forwarding, the thread rule ---- */

const char *htc_evidence_name(unsigned ev)
{
	static const char *const names[] = { "none", "guess", "loop", "thread", "forward", "id" };

	return ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "none";
}

/* Processes with requests in flight: the candidates of their calls. */
struct proc {
	struct hnode node;
	uint32_t file, pid, n;
	struct exch *v[ENG_MAX_INFLIGHT];
};

static uint64_t proc_hash(uint32_t file, uint32_t pid)
{
	return mix64((uint64_t)pid ^ ((uint64_t)(file + 1) * 0x9e3779b97f4a7c15ULL));
}

static struct proc *proc_find(struct htc_engine *e, uint32_t file, uint32_t pid)
{
	uint64_t h = proc_hash(file, pid);

	if (!e->procs.b)
		return NULL;
	for (struct hnode *n = HTAB_FIRST(&e->procs, h); n; n = n->hnext) {
		struct proc *p = (struct proc *)n;

		if (n->hash == h && p->file == file && p->pid == pid)
			return p;
	}
	return NULL;
}

static void proc_free(struct htc_engine *e, struct proc *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		p->v[i]->proc = NULL;
	eng_htab_remove(&e->procs, &p->node);
	free(p);
}

static void proc_del(struct exch *x)
{
	struct proc *p = x->proc;

	if (!p)
		return;
	for (uint32_t i = 0; i < p->n; i++)
		if (p->v[i] == x) {
			p->v[i] = p->v[--p->n];
			break;
		}
	x->proc = NULL;
}

static int proc_add(struct htc_engine *e, struct exch *x)
{
	struct proc *p;

	if (!e->procs.b && eng_htab_init(&e->procs))
		return -ENOMEM;
	p = proc_find(e, x->file, x->pid);
	if (p) {
		eng_lru_touch(&e->procs, &p->node);
	} else {
		if (e->procs.n >= ENG_MAX_PROCS) {
			proc_free(e, (struct proc *)e->procs.lru.lru_prev);
			e->st.evicted++;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->file = x->file;
		p->pid = x->pid;
		eng_htab_insert(&e->procs, &p->node, proc_hash(x->file, x->pid));
	}
	if (p->n >= ENG_MAX_INFLIGHT) {
		/* the oldest keeps its row but is no candidate any more:
		 * a missing candidate can turn a guess into a wrong proof, so
		 * the process stays without proofs by uniqueness until
		 * its requests in flight are back under the cap */
		uint32_t old = 0;

		for (uint32_t i = 1; i < p->n; i++)
			if (p->v[i]->start_ns < p->v[old]->start_ns)
				old = i;
		p->v[old]->proc = NULL;
		p->v[old] = p->v[--p->n];
		e->st.evicted++;
	}
	p->v[p->n++] = x;
	x->proc = p;
	return 0;
}

static uint64_t hash_nz(uint64_t h)
{
	return h ? h : 1;
}

static uint64_t hash_view(const char *p, size_t n, int lower)
{
	uint64_t h = HTC_FNV1A64_INIT;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (lower && ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		h = (h ^ ch) * 0x100000001b3ULL;
	}
	return hash_nz(h);
}

/* The view without surrounding blanks. */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* The field-th field of v split by sep (0-based), trimmed; 0 when absent. */
static size_t field(const char *v, size_t n, char sep, int f, const char **out)
{
	size_t s = 0;

	for (size_t i = 0; i <= n; i++)
		if (i == n || v[i] == sep) {
			if (f-- == 0) {
				*out = v + s;
				n = i - s;
				trim(out, &n);
				return n;
			}
			s = i + 1;
		}
	return 0;
}

/* Hash of an id, 0 when empty or all zeros (an invalid trace id). */
static uint64_t id_hash(const char *v, size_t n)
{
	size_t z = 0;

	for (size_t i = 0; i < n; i++)
		z += v[i] == '0' || v[i] == '-';
	return n && z < n ? hash_view(v, n, 1) : 0;
}

static void evkey_of(const struct http_head *hh, struct eng_evkey *k)
{
	memset(k, 0, sizeof(*k));
	k->clen = -1;
	{
		uint64_t h = HTC_FNV1A64_INIT;

		h = fnv1a64(h, hh->method, hh->method_len);
		h = fnv1a64(h, " ", 1);
		h = fnv1a64(h, hh->target, hh->target_len);
		k->fwd = hash_nz(h);
	}
	for (size_t i = 0; i < hh->nheaders; i++) {
		const struct htc_eng_header *hd = &hh->headers[i];
		const char *v = hd->value, *f;
		size_t n = hd->value_len, fl;

		trim(&v, &n);
		if (http_token_eq(hd->name, hd->name_len, "host")) {
			if (!k->host)
				k->host = hash_view(v, n, 1);
		} else if (http_token_eq(hd->name, hd->name_len, "content-length")) {
			int64_t cl = 0;
			size_t j;

			for (j = 0; j < n && j < 18 && v[j] >= '0' && v[j] <= '9'; j++)
				cl = cl * 10 + (v[j] - '0');
			if (j && j == n)
				k->clen = cl;
		} else if (http_token_eq(hd->name, hd->name_len, "x-forwarded-host")) {
			if ((fl = field(v, n, ',', 0, &f)))
				k->xfh = hash_view(f, fl, 1);
		} else if (http_token_eq(hd->name, hd->name_len, "traceparent")) {
			/* version-traceid-parentid-flags */
			if (field(v, n, '-', 1, &f) == 32)
				k->id[EV_TRACEPARENT] = id_hash(f, 32);
			if (field(v, n, '-', 2, &f) == 16)
				k->span = id_hash(f, 16);
		} else if (http_token_eq(hd->name, hd->name_len, "x-b3-traceid")) {
			k->id[EV_B3] = id_hash(v, n);
		} else if (http_token_eq(hd->name, hd->name_len, "b3")) {
			if ((fl = field(v, n, '-', 0, &f)) >= 16)
				k->id[EV_B3] = id_hash(f, fl);
		} else if (http_token_eq(hd->name, hd->name_len, "x-request-id")) {
			k->id[EV_REQUEST_ID] = id_hash(v, n);
		} else if (http_token_eq(hd->name, hd->name_len, "x-correlation-id")) {
			k->id[EV_CORRELATION_ID] = id_hash(v, n);
		} else if (http_token_eq(hd->name, hd->name_len, "x-amzn-trace-id")) {
			for (int j = 0; (fl = field(v, n, ';', j, &f)); j++)
				if (fl > 5 && !strncmp(f, "Root=", 5))
					k->id[EV_AMZN] = id_hash(f + 5, fl - 5);
		} else if (http_token_eq(hd->name, hd->name_len, "uber-trace-id")) {
			if ((fl = field(v, n, ':', 0, &f)))
				k->id[EV_UBER] = id_hash(f, fl);
		}
	}
}

int eng_evidence_request(struct htc_engine *e, struct exch *x, const struct http_head *hh, uint64_t ts)
{
	struct thr *t = x->thr;

	evkey_of(hh, &x->ev);
	x->keyed = 1;
	if (t && t->tid == x->tid) {
		/* the read completing its head opens the thread's window; a
		 * read completing two (pipelining) proves nothing */
		if (t->loop && t->loop_event == e->st.events) {
			t->loop_multi = 1;
		} else {
			t->loop = x;
			t->loop_serial = x->serial;
			t->loop_event = e->st.events;
			t->loop_ts = ts;
			t->loop_calls = 0;
			t->loop_multi = 0;
		}
	}
	return x->proc ? 0 : proc_add(e, x);
}

void eng_loop_event(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev)
{
	struct thr *t;

	if (d == DIR_OUT && c->role != HTC_ROLE_SERVER)
		return;	/* a call written: inside the window */
	t = thr_find(e, c->info.file_idx, ev->pid, ev->tid);
	if (t)
		t->loop = NULL;
}

/*
 * The request of the window of the thread writing call x on c, when the
 * window proves it: one request completed by the read that opened it, still
 * active, no call started in it before, and not a connection opened before
 * the window (a connect in progress for an earlier request: its first
 * write comes whenever the connect completes).
 */
static struct exch *loop_candidate(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
				   uint32_t seq)
{
	struct thr *t = thr_find(e, c->info.file_idx, ev->pid, ev->tid);
	struct exch *r;

	if (seq == 0 && c->loop_req) {
		/* connected in a window: the first call is that request's,
		 * whenever the connect completes */
		r = c->loop_req;
		c->loop_req = NULL;
		return r->serial == c->loop_serial && r->thr && r->pid == ev->pid ? r : NULL;
	}
	if (!t || !t->loop)
		return NULL;
	r = t->loop;
	if (t->loop_calls++ || t->loop_multi || r->serial != t->loop_serial || r->thr != t)
		return NULL;
	if (seq == 0 && c->info.open_ns < t->loop_ts)
		return NULL;	/* connected before the window, for another request */
	return r;
}

void eng_loop_connect(struct htc_engine *e, struct conn *c, const struct htc_event *ev)
{
	struct thr *t = thr_find(e, c->info.file_idx, ev->pid, ev->tid);
	struct exch *r;

	c->loop_req = NULL;
	if (!t || !t->loop)
		return;
	r = t->loop;
	if (t->loop_calls++ || t->loop_multi || r->serial != t->loop_serial || r->thr != t)
		return;
	c->loop_req = r;
	c->loop_serial = r->serial;
}

static int id_match(const struct eng_evkey *a, const struct eng_evkey *b)
{
	for (int i = 0; i < ENG_EV_NID; i++)
		if (a->id[i] && a->id[i] == b->id[i])
			return 1;
	return 0;
}

/* Call x gets parent r (NULL: none) with that evidence. */
static void set_parent(struct htc_engine *e, struct exch *x, struct exch *r, unsigned ev, int amb)
{
	if (x->par && x->par->serial == x->par_serial && x->par->ncalls)
		x->par->ncalls--;
	if (x->flags & HTC_ENGF_AMBIGUOUS)
		e->st.ambiguous--;
	x->flags &= ~(uint32_t)HTC_ENGF_AMBIGUOUS;
	x->par = r;
	x->par_serial = r ? r->serial : 0;
	x->parent = r ? r->id : 0;
	x->evidence = (uint8_t)(r ? ev : HTC_EV_NONE);
	if (r) {
		r->ncalls++;
		if (amb) {
			x->flags |= HTC_ENGF_AMBIGUOUS;
			e->st.ambiguous++;
		}
	}
}

int eng_evidence_call(struct htc_engine *e, struct exch *x, const struct http_head *hh)
{
	struct proc *p = proc_find(e, x->file, x->pid);
	struct exch *idr = NULL, *spanr = NULL, *fr = NULL, *fhr = NULL, *thr = NULL, *lr = NULL;
	uint32_t nid = 0, nspan = 0, nf = 0, nfh = 0;
	struct exch *best = NULL;
	unsigned best_ev = HTC_EV_NONE;
	int conflict = 0;

	evkey_of(hh, &x->ev);
	x->keyed = 1;
	for (uint32_t i = 0; p && i < p->n; i++) {
		struct exch *r = p->v[i];

		if (id_match(&x->ev, &r->ev)) {
			nid++;
			idr = r;
			if (x->ev.span && x->ev.span == r->ev.span) {
				nspan++;
				spanr = r;
			}
		}
		if (r->fwd_calls == 0 && r->ev.fwd == x->ev.fwd &&
		    (x->ev.clen < 0 || r->ev.clen < 0 || x->ev.clen == r->ev.clen)) {
			nf++;
			fr = r;
			if (r->ev.host && (r->ev.host == x->ev.host || r->ev.host == x->ev.xfh)) {
				nfh++;
				fhr = r;
			}
		}
	}
	if (nid > 1 && nspan == 1) {
		nid = 1;
		idr = spanr;
	}
	if (nf > 1 && nfh == 1) {
		nf = 1;
		fr = fhr;
	}
	if (x->evidence == HTC_EV_THREAD && x->par && x->par->serial == x->par_serial)
		thr = x->par;
	if (x->evidence == HTC_EV_LOOP && x->par && x->par->serial == x->par_serial)
		lr = x->par;
	/* strongest first; a weaker proof never overrides, a disagreeing one
	 * makes the link a guess */
	if (nid == 1) {
		best = idr;
		best_ev = HTC_EV_ID;
	}
	if (nf == 1) {
		if (!best) {
			best = fr;
			best_ev = HTC_EV_FORWARD;
		} else if (fr != best) {
			conflict = 1;
		}
	}
	if (thr) {
		if (!best) {
			best = thr;
			best_ev = HTC_EV_THREAD;
		} else if (thr != best) {
			conflict = 1;
		}
	}
	/* the order of a loop's reads and writes is the weakest proof: it
	 * proves only what nothing stronger speaks about (a stronger proof
	 * that disagrees shows the window held another request's
	 * continuation) */
	if (lr && !best) {
		best = lr;
		best_ev = HTC_EV_LOOP;
	}
	/* several requests in flight reproduced by the call, the window's
	 * not among them: the window does not prove it */
	if (best_ev == HTC_EV_LOOP && nf > 1 && (lr->fwd_calls || lr->ev.fwd != x->ev.fwd))
		conflict = 1;
	if (!best)
		return 0;	/* the rule of the start stands: a guess or none */
	/* the loop's order is a flagged choice, never a proof (see
	 * eng_exch_start): an asyncio front whose handlers await a timer
	 * before their calls had a fifth of its loop-ordered calls wrong */
	if (best_ev == HTC_EV_LOOP)
		conflict = 0;
	set_parent(e, x, best, conflict ? HTC_EV_GUESS : best_ev, conflict || best_ev == HTC_EV_LOOP);
	if (!conflict && best->ev.fwd == x->ev.fwd)
		best->fwd_calls++;
	eng_link_note(x->conn, x, x->parent);
	eng_link_attr(x->conn, x->seq, x->parent, conflict || best_ev == HTC_EV_LOOP, x->evidence);
	return 0;
}

/* ---- annotations ---- */

void eng_ann_copy(struct htc_engine *e, uint64_t id, const char *m, const char *p)
{
	size_t ml = m ? strlen(m) : 0, pl = p ? strlen(p) : 0;

	e->ann_id = id;
	e->ann_has_mp = 0;
	if (!m || !p)
		return;
	if (eng_grow(&e->ann_buf, &e->ann_cap, ml + pl + 2, 1))
		return;
	memcpy(e->ann_buf, m, ml + 1);
	memcpy(e->ann_buf + ml + 1, p, pl + 1);
	e->ann_has_mp = 1;
	e->ann_plen = ml + 1;
}

/* The event touched exchange x; start: it carries x's start line. */
void eng_ann_touch(struct htc_engine *e, struct exch *x, int start)
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
		eng_ann_copy(e, x->id, ex_method(x), ex_path(x));
	} else if (start && x->has_str) {
		eng_ann_copy(e, x->parent, ex_method(x), ex_path(x));
	} else {
		struct exch *p = NULL;
		struct thr *t = thr_find(e, x->file, x->pid, x->tid);

		for (uint32_t i = 0; t && i < t->n; i++)
			if (t->act[i]->id == x->parent)
				p = t->act[i];
		eng_ann_copy(e, x->parent, p ? ex_method(p) : NULL, p ? ex_path(p) : NULL);
	}
}

void eng_ann_request(struct htc_engine *e, struct exch *r)
{
	if (!e->ann_want || e->ann_serial)
		return;
	e->ann_serial = (uint64_t)-1;
	eng_ann_copy(e, r ? r->id : 0, r ? ex_method(r) : NULL, r ? ex_path(r) : NULL);
}

void eng_ann_thread(struct htc_engine *e, struct conn *c, const struct htc_event *ev)
{
	int amb;

	/* no lookup when nothing is to be annotated (the common case) */
	if (!e->ann_want || e->ann_serial)
		return;
	eng_ann_request(e, eng_attribute(e, c->info.file_idx, ev->pid, ev->tid, &amb));
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

/* Returns 1 when the report carried the peer's call (parent_call_id). */
static int report_request(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	struct htc_eng_request r;
	uint64_t peer_id = 0, peer_parent = 0;
	int carried = eng_link_peer(c, x->seq, &peer_id, &peer_parent);

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
	r.resp_head = x->resp_head_len ? x->resp_head : (const uint8_t *)"";
	r.resp_head_len = x->resp_head_len;
	r.resp_body_len = x->flags & HTC_ENGF_RESP_LEN_UNKNOWN ? 0 : x->resp_body_len;
	r.resp_body_hash = (x->flags & (HTC_ENGF_RESP_BODY_PARTIAL | HTC_ENGF_GAP)) || !x->resp_done
			   ? 0 : x->body_hash;
	if (carried) {
		r.parent_call_id = peer_id;
		r.parent_id = peer_parent;
		if (eng_link_peer_guess(c, x->seq))
			r.flags |= HTC_ENGF_PARENT_GUESS;
		r.parent_evidence = (uint8_t)eng_link_peer_evidence(c, x->seq);
	}
	r.proto = x->proto;
	r.stream_id = x->stream_id;
	r.unresolved = x->unresolved;
	r.grpc_status = x->has_grpc_status ? x->grpc_status : -1;
	r.grpc_message = x->grpc_message;
	r.req_msgs = x->msgs[0];
	r.resp_msgs = x->msgs[1];
	r.req_msg_bytes = x->msg_bytes[0];
	r.resp_msg_bytes = x->msg_bytes[1];
	r.tls = c->info.tls;
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

		if (!eng_grow(&c->last_mp, &c->last_mp_cap, ml + pl + 2, 1)) {
			memcpy(c->last_mp, x->str, ml + 1);
			memcpy(c->last_mp + ml + 1, x->str + x->off_path, pl + 1);
			c->last_plen = ml + 1;
			c->last_has_mp = 1;
		}
	}
	return carried;
}

/* Returns 1 when the report carried the peer's request (child_request_id). */
static int report_call(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	struct htc_eng_call k;
	uint64_t peer_id = 0, peer_parent = 0;
	int carried = eng_proto_linked(x->proto) && eng_link_peer(c, x->seq, &peer_id, &peer_parent);

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
	if (carried)
		k.child_request_id = peer_id;
	k.evidence = x->evidence;
	k.resp_head = x->resp_head_len ? x->resp_head : (const uint8_t *)"";
	k.resp_head_len = x->resp_head_len;
	k.stream_id = x->stream_id;
	k.unresolved = x->unresolved;
	k.grpc_status = x->has_grpc_status ? x->grpc_status : -1;
	k.grpc_message = x->grpc_message;
	k.req_msgs = x->msgs[0];
	k.resp_msgs = x->msgs[1];
	k.req_msg_bytes = x->msg_bytes[0];
	k.resp_msg_bytes = x->msg_bytes[1];
	k.tls = c->info.tls ? c->info.tls : c->info.proto == HTC_PROTO_TLS ? HTC_TLS_ENCRYPTED : 0;
	e->st.calls++;
	if (e->sink.on_call)
		e->sink.on_call(e->sink.ctx, &k);
	return carried;
}

/* x is finished (answered, or given up on): report it and free it. */
void eng_exch_done(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;
	int carried;

	if (x->status >= 400 || (x->has_grpc_status && x->grpc_status != 0))
		x->flags |= HTC_ENGF_ERROR;
	if (x->unresolved)
		x->flags |= HTC_ENGF_UNRESOLVED;
	if (!x->resp_started && !x->answered)
		x->flags |= HTC_ENGF_UNANSWERED;
	if (x->end_ns == 0 && x->resp_started)
		x->end_ns = x->last_resp_ns;
	if (c->role == HTC_ROLE_SERVER)
		carried = report_request(e, x);
	else
		carried = report_call(e, x);
	if (eng_proto_linked(x->proto))
		eng_link_reported(e, c, x->seq, carried);
	thr_del(e, x);
	proc_del(x);
	queue_remove(c, x);
	conn_dir_unref(c, x);
	exch_release(e, x);
}

/* Room for one more exchange on c: the queue grows up to what its
 * protocol multiplexes, then the oldest is let go.  0 or -ENOMEM. */
static int queue_room(struct htc_engine *e, struct conn *c)
{
	uint32_t max = c->ops && c->ops->max_pending ? c->ops->max_pending : ENG_MAX_PENDING;

	if (c->qn < c->qcap)
		return 0;
	if (c->qcap < max) {
		uint32_t ncap = c->qcap * 2 < max ? c->qcap * 2 : max;
		struct exch **nq = malloc(ncap * sizeof(*nq));

		if (!nq)
			return -ENOMEM;
		memcpy(nq, c->q, c->qn * sizeof(*nq));
		if (c->q != c->qin)
			free(c->q);
		c->q = nq;
		c->qcap = ncap;
		return 0;
	}
	/* the oldest never got its answer in time: let it go */
	e->st.evicted++;
	eng_exch_done(e, c->q[0]);
	return 0;
}

/* A new exchange on c, started by the event of (file, pid, tid, ts). */
struct exch *eng_exch_start_seq(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
				uint64_t ts, uint8_t proto, uint32_t seq)
{
	struct exch *x;
	struct efile *f = eng_file_of(e, c->info.file_idx);

	if (e->ev_starts >= HTC_ENG_MAX_STARTS) {
		/* a flood within one syscall's bytes: not one more row */
		e->st.cut++;
		return NULL;
	}
	e->ev_starts++;
	if (queue_room(e, c))
		return NULL;
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
	x->seq = seq;
	c->nseq = seq + 1;
	x->has_tseq = c->next_tseq_ok;
	x->tseq = c->next_tseq;
	c->next_tseq_ok = 0;
	if (c->role == HTC_ROLE_SERVER) {
		x->id = HTC_REQID_FIRST + (uint64_t)c->info.file_idx * HTC_REQID_FILE_STRIDE + f->next_req++;
		thr_add(e, x, c->info.file_idx, ev->pid, ev->tid);
		eng_link_note(c, x, 0);
	} else {
		int amb;
		struct exch *p = eng_attribute(e, c->info.file_idx, ev->pid, ev->tid, &amb);

		x->id = ++e->next_call;
		struct exch *lr = loop_candidate(e, c, ev, seq);

		/* the loop's order chooses among the thread's requests, but
		 * flagged: a continuation of another request (a timer, in
		 * asyncio or Node) can write inside the window, and the capture
		 * does not see the loop's own turns (epoll_wait) */
		if (p && amb && lr)
			set_parent(e, x, lr, HTC_EV_LOOP, 1);
		else if (p)
			set_parent(e, x, p, amb ? HTC_EV_GUESS : HTC_EV_THREAD, amb);
		if (eng_proto_linked(proto)) {
			eng_link_note(c, x, x->parent);
			eng_link_attr(c, x->seq, x->parent, proto == HTC_PROTO_HTTP && amb, x->evidence);
		}
	}
	if (c->info.flags & HTC_ENGF_PREEXISTING)
		x->flags |= HTC_ENGF_PREEXISTING;
	c->q[c->qn++] = x;
	return x;
}

struct exch *eng_exch_start(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
			    uint64_t ts, uint8_t proto)
{
	return eng_exch_start_seq(e, c, ev, ts, proto, c->nseq);
}

void eng_exch_drop(struct htc_engine *e, struct exch *x)
{
	struct conn *c = x->conn;

	thr_del(e, x);
	proc_del(x);
	queue_remove(c, x);
	conn_dir_unref(c, x);
	exch_release(e, x);
}

void eng_exch_drain(struct htc_engine *e, struct conn *c, int answered_by_bytes)
{
	while (c->qn > 0) {
		struct exch *x = c->q[0];

		if (c->info.flags & HTC_ENGF_RESET)
			x->flags |= HTC_ENGF_RESET;
		if (answered_by_bytes && x->resp_bytes) {
			x->answered = 1;
			x->end_ns = x->last_resp_ns;
		}
		eng_exch_done(e, x);
	}
}

void eng_thr_free_all(struct htc_engine *e)
{
	while (e->procs.n > 0)
		proc_free(e, (struct proc *)e->procs.lru.lru_next);
	free(e->procs.b);
	e->procs.b = NULL;
	while (e->threads.n > 0) {
		struct thr *t = (struct thr *)e->threads.lru.lru_next;

		eng_htab_remove(&e->threads, &t->node);
		free(t);
	}
	eng_bin_free(&e->free_thr);
}

void eng_exch_free_all(struct htc_engine *e)
{
	struct exch *x, *next;

	for (x = e->free_ex; x; x = next) {
		next = x->next_free;
		free(x->str);
		free(x->head);
		free(x->resp_head);
		free(x->body);
		free(x->hdrs);
		free(x);
	}
	e->free_ex = NULL;
}
