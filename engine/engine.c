/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the streaming engine of htc_engine.h: capture records in;
 * connections, HTTP requests, downstream calls, cross-process links and
 * per-event annotations out.
 *
 * This file owns the connections: it finds or creates one per record,
 * keeps each direction's stream offset (so a stretch of bytes that was
 * not captured is known, and its length exact), has the detection decide
 * the connection's role and protocol (detect.c), and hands each syscall's
 * bytes to that protocol (struct eng_proto, engine_int.h), which cuts them
 * into exchanges (exch.c).  When a connection ends, its protocol reports
 * what the end cut, then the connection is reported and recycled.
 *
 * Memory is bounded by caps (connections, threads, links, pending
 * exchanges per connection) with least-recently-used eviction, counted in
 * stats.evicted.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* bin_get/bin_free treat a recycled object and its node as one pointer */
_Static_assert(offsetof(struct thr, node) == 0, "thr: node must come first");
_Static_assert(offsetof(struct conn, node) == 0, "conn: node must come first");

uint64_t htc_fnv1a64(uint64_t h, const void *p, size_t len)
{
	return fnv1a64(h, p, len);
}

static uint64_t wall(const struct efile *f, uint64_t ts)
{
	return (uint64_t)((int64_t)ts + f->offset);
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
	eng_link_detach(e, c);
	eng_htab_remove(&e->conns, &c->node);
	if (c->ops && c->ops->free)
		c->ops->free(c);
	else
		free(c->ps);
	free(c->last_mp);
	if (c->q != c->qin)
		free(c->q);
	eng_bin_put(&e->free_conn, &c->node);
}

/*
 * End of connection c: at its close event (closing = 1, ts), or at the
 * end of the input / eviction (closing = 0).  Reports what is pending,
 * then the connection, and frees it.
 */
static void conn_end(struct htc_engine *e, struct conn *c, int closing, uint64_t ts, int64_t ret)
{
	if (closing) {
		c->info.close_ns = ts;
		if (ret == -104 /* ECONNRESET */ || ret == -32 /* EPIPE */)
			c->info.flags |= HTC_ENGF_RESET;
	}
	if (c->ops && c->ops->close)
		c->ops->close(e, c, closing);
	eng_exch_drain(e, c, 0);
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
	c = eng_bin_get(&e->free_conn, sizeof(*c));
	if (!c)
		return NULL;
	c->q = c->qin;
	c->qcap = ENG_MAX_PENDING;
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
	eng_htab_insert(&e->conns, &c->node, conn_hash(file, ev->conn_id));
	return c;
}

/* The bytes one syscall moved on c, handed to its protocol. */
static int on_data(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts)
{
	int d = ev->type == HTC_EV_WRITE ? DIR_OUT : DIR_IN;
	struct stream_pos *pos = &c->in[d];
	struct eng_chunk k;
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
	if (!pos->started) {
		/* a connection seen from its start begins at offset 0, so a
		 * lost first event shows as a gap; one opened before the
		 * capture begins wherever it is first seen */
		pos->started = 1;
		pos->off = c->preexisting ? ev->stream_off : 0;
	}
	if (ev->stream_off > pos->off)
		gap_before = ev->stream_off - pos->off;
	else if (ev->stream_off < pos->off)
		skip = pos->off - ev->stream_off;	/* overlap: already seen */
	if (skip >= ret)
		return 0;
	if (ev->stream_off + ret > pos->off)
		pos->off = ev->stream_off + ret;
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
		if (eng_classify(e, c, d, p, (size_t)cap))
			return -ENOMEM;
		if (c->classified && c->role == HTC_ROLE_SERVER && !c->preexisting &&
		    c->info.connect_result == 0 && !c->link)
			eng_link_attach(e, c);
		if (c->classified && c->role == HTC_ROLE_CLIENT && !c->preexisting && !c->link &&
		    eng_proto_linked(c->info.proto))
			eng_link_attach(e, c);
	}
	if (!c->classified || !c->ops)
		return 0;
	k.ev = ev;
	k.ts = ts;
	k.p = p;
	k.len = (size_t)cap;
	k.lost = gap_before;
	k.tail = ret - cap;
	return c->ops->data(e, c, d, &k);
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
	if (eng_htab_init(&e->conns) || eng_htab_init(&e->threads) || eng_htab_init(&e->links)) {
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
	struct efile *f = eng_file_of(e, file_idx);
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
		eng_lru_touch(&e->conns, &c->node);
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
			struct exch *r = eng_attribute(e, file_idx, ev->pid, ev->tid, &amb);

			c->role = HTC_ROLE_CLIENT;
			c->info.connect_result = ev->ret < 0 ? (int32_t)ev->ret : 0;
			c->info.connect_ns = ev->dur_ns;
			if (r) {
				c->info.request_id = r->id;
				if (amb)
					c->info.flags |= HTC_ENGF_AMBIGUOUS;
			}
			eng_ann_request(e, r, r ? r->id : 0);
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
			eng_ann_touch(e, c->q[c->qn - 1], 0);
		} else if (c->role == HTC_ROLE_SERVER && c->last_req_id) {
			e->ann_serial = (uint64_t)-1;
			if (c->last_has_mp)
				eng_ann_copy(e, c->last_req_id, c->last_mp, c->last_mp + c->last_plen);
			else
				eng_ann_copy(e, c->last_req_id, NULL, NULL);
		} else if (c->role == HTC_ROLE_CLIENT) {
			int amb;
			struct exch *r = eng_attribute(e, file_idx, ev->pid, ev->tid, &amb);

			eng_ann_request(e, r, r ? r->id : 0);
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
	eng_link_free_all(e);
	return 0;
}

void htc_engine_stats(const struct htc_engine *e, struct htc_engine_stats *st)
{
	*st = e->st;
}

void htc_engine_free(struct htc_engine *e)
{
	if (!e)
		return;
	/* without reporting: the caller chose not to finish */
	e->sink.on_conn = NULL;
	e->sink.on_request = NULL;
	e->sink.on_call = NULL;
	e->sink.on_link = NULL;
	if (e->conns.b)
		htc_engine_finish(e);
	eng_thr_free_all(e);
	eng_bin_free(&e->free_conn);
	eng_exch_free_all(e);
	free(e->conns.b);
	free(e->threads.b);
	free(e->links.b);
	free(e->files);
	free(e->ann_buf);
	free(e);
}
