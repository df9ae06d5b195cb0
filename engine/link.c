/* SPDX-License-Identifier: MIT */
/*
 * link.c - the two ends of one TCP connection, when both processes were
 * traced (on one host, or on two hosts whose files are merged): an entry
 * per 5-tuple holds, for each side, the ids of its exchanges by sequence
 * number, so the call made by the client and the request it became in the
 * server find each other whichever is reported first (on_link).
 *
 * The two ends' exchanges are matched by the TCP sequence number of the
 * request's first byte when both have one (format 1.2 events, pcap
 * imports): the same bytes carry the same number at both ends, so a
 * connection older than the capture (a proxy's or a database client's
 * pool) links as well as a new one, and a request one end missed costs
 * only its own link.  Without numbers, only two ends both seen from the
 * connection's start are matched, by their order on it (seq), or, on
 * HTTP/2, by the stream id (seq is derived from it: the connection's own
 * numbering, the same at both ends wherever a capture joined).
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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
	uint8_t guess;	/* the call's parent is a guess (HTC_ENGF_AMBIGUOUS) */
	uint8_t evidence;	/* of the call's parent (HTC_EV_*) */
	uint8_t has_tseq;
	uint32_t tseq;	/* TCP sequence number of the request's first byte */
};

struct lside {
	int used;
	int from_start;	/* seen from its start (or HTTP/2): order counts */
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
	eng_htab_remove(&e->links, &l->node);
	free(l);
}

/* Register connection c on its side of its tuple's link entry. */
void eng_link_attach(struct htc_engine *e, struct conn *c)
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
		eng_htab_insert(&e->links, &l->node, h);
	} else {
		eng_lru_touch(&e->links, &l->node);
	}
	l->side[side].used = 1;
	l->side[side].from_start = !c->preexisting || eng_proto_numbered(c->info.proto);
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

/* Exchange x on connection c got its id (at its start). */
void eng_link_note(struct conn *c, const struct exch *x, uint64_t parent)
{
	struct lseq *q;

	if (!c->link)
		return;
	q = link_seq(&c->link->side[c->role == HTC_ROLE_SERVER], x->seq, 1);
	if (q) {
		q->id = x->id;
		q->parent = parent;
		q->has_tseq = x->has_tseq;
		q->tseq = x->tseq;
	}
}

/* The other side's entry for seq, or NULL. */
void eng_link_guess(struct conn *c, uint32_t seq)
{
	struct lseq *q;

	if (!c->link)
		return;
	q = link_seq(&c->link->side[c->role == HTC_ROLE_SERVER], seq, 0);
	if (q)
		q->guess = 1;
}

static struct lseq *link_peer(struct conn *c, uint32_t seq);

/* The call's parent was decided again at its head (before its peer was
 * likely reported; if it was, with the old parent, on_link patches it). */
void eng_link_attr(struct conn *c, uint32_t seq, uint64_t parent, int guess, unsigned evidence)
{
	struct lseq *q, *peer;

	if (!c->link)
		return;
	q = link_seq(&c->link->side[c->role == HTC_ROLE_SERVER], seq, 0);
	if (!q)
		return;
	q->parent = parent;
	q->guess = (uint8_t)!!guess;
	q->evidence = (uint8_t)evidence;
	peer = link_peer(c, seq);
	if (peer && peer->reported)
		peer->carried = 0;
}

/*
 * The other side's entry of this side's exchange seq: the one whose
 * request starts at the same TCP sequence number, else, both ends seen
 * from the start, the one at the same place in the order (unless their
 * numbers disagree).  The scan is over the other side's window, which
 * holds only the exchanges not linked yet (link_trim), a handful.
 */
static struct lseq *link_peer(struct conn *c, uint32_t seq)
{
	struct lside *ms, *ps;
	struct lseq *me, *q;

	if (!c->link)
		return NULL;
	ms = &c->link->side[c->role == HTC_ROLE_SERVER];
	ps = &c->link->side[c->role != HTC_ROLE_SERVER];
	me = link_seq(ms, seq, 0);
	if (me && me->has_tseq) {
		for (uint64_t i = ps->base; i < (uint64_t)ps->base + ps->cap; i++) {
			q = &ps->v[i & (ps->cap - 1)];
			if (q->id && q->has_tseq && q->tseq == me->tseq)
				return q;
		}
	}
	if (!ms->from_start || !ps->from_start)
		return NULL;
	q = link_seq(ps, seq, 0);
	if (!q || !q->id || (me && me->has_tseq && q->has_tseq && q->tseq != me->tseq))
		return NULL;
	return q;
}

int eng_link_peer(struct conn *c, uint32_t seq, uint64_t *id, uint64_t *parent)
{
	const struct lseq *q = link_peer(c, seq);

	if (!q)
		return 0;
	*id = q->id;
	*parent = q->parent;
	return 1;
}

int eng_link_peer_guess(struct conn *c, uint32_t seq)
{
	const struct lseq *q = link_peer(c, seq);

	return q && q->guess;
}

unsigned eng_link_peer_evidence(struct conn *c, uint32_t seq)
{
	const struct lseq *q = link_peer(c, seq);

	return q ? q->evidence : HTC_EV_NONE;
}

/* After reporting exchange seq of c: emit the link if the peer was reported.
 * carried: the report carried the peer's ids. */
void eng_link_reported(struct htc_engine *e, struct conn *c, uint32_t seq, int carried)
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
	if (call->guess)
		flags |= HTC_LINK_PARENT_GUESS;
	flags |= (unsigned)call->evidence << 8;
	if (e->sink.on_link)
		e->sink.on_link(e->sink.ctx, call->id, req->id, call->parent, flags);
	link_trim(&c->link->side[0]);
	link_trim(&c->link->side[1]);
}

void eng_link_detach(struct htc_engine *e, struct conn *c)
{
	struct link *l = c->link;

	if (!l)
		return;
	l->side[c->role == HTC_ROLE_SERVER].conn = NULL;
	c->link = NULL;
}

void eng_link_free_all(struct htc_engine *e)
{
	while (e->links.n > 0)
		link_free(e, (struct link *)e->links.lru.lru_next);
}
