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
	return htc_wall_ns(ts, f->offset);
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

/* Free c; hashed: it is still in the connections table. */
static void conn_release(struct htc_engine *e, struct conn *c, int hashed)
{
	eng_link_detach(e, c);
	if (hashed)
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

static void conn_report(struct htc_engine *e, struct conn *c, int hashed)
{
	if (!c->info.tls && (c->info.proto == HTC_PROTO_TLS || c->tls_plain))
		c->info.tls = HTC_TLS_ENCRYPTED;
	e->st.conns++;
	if (e->sink.on_conn)
		e->sink.on_conn(e->sink.ctx, &c->info);
	conn_release(e, c, hashed);
}

static int ep_same(const struct htc_endpoints *a, const struct htc_endpoints *b)
{
	return a->family == b->family && a->lport == b->lport && a->rport == b->rport &&
	       !memcmp(a->laddr, b->laddr, sizeof(a->laddr)) && !memcmp(a->raddr, b->raddr, sizeof(a->raddr));
}

/* ---- connections that go on under another conn_id ---- */

/*
 * A forking server (PostgreSQL's postmaster) accepts, forks, and closes
 * its copy of the socket before anything was read; the child then serves
 * it, and the capture first sees it there by its data, as a socket of
 * unknown origin.  So an accepted connection closed empty is held back a
 * moment (ENG_HANDOFF_NS) and, when a connection with the same endpoints
 * shows up by its data meanwhile, the two are one row: the child's, opened
 * at the accept.  Otherwise it is reported as it was.
 */
static void handoff_pop(struct htc_engine *e, uint32_t i, int report)
{
	struct conn *c = e->handoff[i];

	memmove(&e->handoff[i], &e->handoff[i + 1], (e->handoff_n - i - 1) * sizeof(e->handoff[0]));
	e->handoff_n--;
	if (report)
		conn_report(e, c, 0);
	else
		conn_release(e, c, 0);
}

static void handoff_hold(struct htc_engine *e, struct conn *c)
{
	if (e->handoff_n == ENG_MAX_HANDOFF)
		handoff_pop(e, 0, 1);
	eng_htab_remove(&e->conns, &c->node);
	e->handoff[e->handoff_n++] = c;
}

static void handoff_expire(struct htc_engine *e, uint64_t now)
{
	while (e->handoff_n && now > e->handoff[0]->info.close_ns + ENG_HANDOFF_NS)
		handoff_pop(e, 0, 1);
}

/* c, just seen by its data, may be a connection an empty closed accept
 * handed over: then it was opened by that accept. */
static void handoff_take(struct htc_engine *e, struct conn *c)
{
	for (uint32_t i = e->handoff_n; i-- > 0;) {
		struct conn *h = e->handoff[i];

		if (h->info.file_idx != c->info.file_idx || !ep_same(&h->info.ep, &c->info.ep))
			continue;
		c->info.open_ns = h->info.open_ns;
		c->info.flags &= ~HTC_ENGF_PREEXISTING;
		c->preexisting = 0;
		c->role = HTC_ROLE_SERVER;
		c->info.ep.role = HTC_ROLE_SERVER;
		handoff_pop(e, i, 0);
		return;
	}
}

/*
 * A non-blocking connect returns EINPROGRESS; a program may call connect()
 * again on the socket (ab, redis-cli) to learn the outcome, which the
 * capture records as a new connection.  The connects in progress are
 * remembered (a ring of ENG_MAX_HANDOFF), and a connect by the same process
 * to the same endpoints, while the first carried no data, continues it.
 */
static void connecting_note(struct htc_engine *e, const struct conn *c)
{
	uint32_t i = e->connecting_next++ % ENG_MAX_HANDOFF;

	e->connecting[i].id = c->info.id;
	e->connecting[i].conn_id = c->info.conn_id;
	e->connecting[i].file = c->info.file_idx;
	e->connecting[i].pid = c->info.pid;
	e->connecting[i].lport = c->info.ep.lport;
	e->connecting[i].rport = c->info.ep.rport;
}

static struct conn *connecting_find(struct htc_engine *e, uint32_t file, const struct htc_event *ev)
{
	for (uint32_t i = 0; i < ENG_MAX_HANDOFF; i++) {
		struct conn *c;

		if (!e->connecting[i].id || e->connecting[i].file != file ||
		    e->connecting[i].pid != ev->pid || e->connecting[i].lport != ev->ep.lport ||
		    e->connecting[i].rport != ev->ep.rport)
			continue;
		c = conn_find(e, file, e->connecting[i].conn_id);
		if (!c || c->info.id != e->connecting[i].id) {
			e->connecting[i].id = 0;	/* gone */
			continue;
		}
		if (c->info.pid != ev->pid || c->info.bytes_in || c->info.bytes_out || c->classified ||
		    !ep_same(&c->info.ep, &ev->ep))
			continue;
		e->connecting[i].id = 0;
		/* from now on the capture names it by the new conn_id */
		eng_htab_remove(&e->conns, &c->node);
		c->info.conn_id = ev->conn_id;
		eng_htab_insert(&e->conns, &c->node, conn_hash(file, ev->conn_id));
		return c;
	}
	return NULL;
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
	if (closing && c->role == HTC_ROLE_SERVER && !c->preexisting && !c->info.bytes_in &&
	    !c->info.bytes_out) {
		handoff_hold(e, c);
		return;
	}
	conn_report(e, c, 1);
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

/* A direction's first TCP sequence number (the connection's report). */
static void seq_first(struct conn *c, int d, uint32_t seq)
{
	if (d == DIR_IN) {
		c->info.seq_in = seq;
		c->info.flags2 |= HTC_ENGF2_SEQ_IN;
	} else {
		c->info.seq_out = seq;
		c->info.flags2 |= HTC_ENGF2_SEQ_OUT;
	}
}

/* A jump of the sequence number this far is not believed (a corrupt or
 * hostile file, or a number from another connection): the byte count is */
#define SEQ_MAX_JUMP (1u << 30)

/*
 * The engine offset of an event's first byte.  Without sequence numbers it
 * is the capture's stream_off (moved by adj, see below).  With them, the
 * number decides: its distance from the direction's number at offset 0 is
 * exact even where the capture's count is not (bytes moved by calls that
 * were not traced, another process reading the same socket, a connection
 * whose kernel state was evicted and recounted from 0), so a gap is as
 * long as the bytes really missing, and an overlap as short.  adj keeps
 * events without a number (sendmmsg/recvmmsg) on the same scale.
 */
static uint64_t stream_place(struct stream_pos *pos, const struct htc_event *ev, int has_seq)
{
	uint64_t off = ev->stream_off + (uint64_t)pos->adj;

	if (!has_seq)
		return off;
	if (pos->seq_ok) {
		/* unwrapped around the next expected offset */
		int32_t delta = (int32_t)(ev->tcp_seq - (pos->seq_base + (uint32_t)pos->off));

		if ((delta >= 0 ? (uint32_t)delta : 0u - (uint32_t)delta) < SEQ_MAX_JUMP &&
		    (delta >= 0 || (uint64_t)(-(int64_t)delta) <= pos->off)) {
			off = pos->off + (uint64_t)(int64_t)delta;
			pos->adj = (int64_t)(off - ev->stream_off);
			return off;
		}
	}
	pos->seq_base = ev->tcp_seq - (uint32_t)off;
	pos->seq_ok = 1;
	return off;
}

/* The bytes one syscall moved on c, handed to its protocol. */
static int on_data(struct htc_engine *e, struct conn *c, const struct htc_event *ev, uint64_t ts)
{
	int d = ev->type == HTC_EV_WRITE ? DIR_OUT : DIR_IN;
	struct stream_pos *pos = &c->in[d];
	struct eng_chunk k;
	uint64_t ret = ev->ret > 0 ? (uint64_t)ev->ret : 0;
	uint64_t cap = ev->cap_len < ret ? ev->cap_len : ret;
	uint64_t gap_before = 0, skip = 0, off;
	const uint8_t *p = ev->payload;
	int has_seq = (ev->flags & HTC_EVF_SEQ) && ev->ret > 0;

	if (!p)
		cap = 0;
	if ((ev->flags & (HTC_EVF_TLS | HTC_EVF_TLS_CIPHER)) && !c->tls_plain)
		eng_tls_decrypted(e, c);
	if (ev->flags & HTC_EVF_TLS) {
		/* the plaintext: parsed below; bytes_in/out count the wire's */
		c->info.tls = ev->syscall == HTC_SYS_GNUTLS_RECV || ev->syscall == HTC_SYS_GNUTLS_SEND ?
			      HTC_TLS_GNUTLS : ev->syscall == HTC_SYS_GO_TLS_READ ||
			      ev->syscall == HTC_SYS_GO_TLS_WRITE ? HTC_TLS_GO : HTC_TLS_OPENSSL;
	} else {
		if (d == DIR_OUT)
			c->info.bytes_out += ret;
		else
			c->info.bytes_in += ret;
		/* ciphertext of a decrypted connection: counted, not parsed */
		if (c->tls_plain)
			return 0;
	}
	if (!pos->started) {
		/* a connection seen from its start begins at offset 0, so a
		 * lost first event shows as a gap; one opened before the
		 * capture begins wherever it is first seen */
		pos->started = 1;
		pos->off = c->preexisting ? ev->stream_off : 0;
		if (c->preexisting && d == DIR_IN)
			c->info.unseen_in = ev->stream_off;
		if (has_seq)
			seq_first(c, d, ev->tcp_seq);
	}
	off = stream_place(pos, ev, has_seq);
	if (off > pos->off)
		gap_before = off - pos->off;
	else if (off < pos->off)
		skip = pos->off - off;	/* overlap: already seen */
	if (skip >= ret)
		return 0;
	if (off + ret > pos->off)
		pos->off = off + ret;
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
		/* a connection joined mid-way links by sequence numbers,
		 * or by HTTP/2's stream ids (link.c) */
		int linkable = !c->preexisting || has_seq || eng_proto_numbered(c->info.proto);

		if (c->classified && c->role == HTC_ROLE_SERVER && linkable &&
		    c->info.connect_result == 0 && !c->link)
			eng_link_attach(e, c);
		if (c->classified && c->role == HTC_ROLE_CLIENT && linkable && !c->link &&
		    eng_proto_linked(c->info.proto))
			eng_link_attach(e, c);
	}
	if (!c->classified || !c->ops)
		return 0;
	eng_loop_event(e, c, d, ev);
	k.ev = ev;
	k.ts = ts;
	k.p = p;
	k.len = (size_t)cap;
	k.lost = gap_before;
	k.tail = ret - cap;
	k.has_seq = pos->seq_ok;
	k.seq = pos->seq_base + (uint32_t)(off + skip);
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

/* Does a file of stream i already start at start_ns (the same file given
 * twice is two captures, as before)? */
static int stream_has_start(const struct htc_engine *e, uint32_t i, uint64_t start_ns)
{
	for (uint32_t k = 0; k < e->nfiles; k++)
		if (e->files[k].stream == i && e->files[k].start_ns == start_ns)
			return 1;
	return 0;
}

int htc_engine_add_file(struct htc_engine *e, const struct htc_header *hdr)
{
	struct efile *nf, *f;

	if (e->nfiles >= ENG_MAX_FILES)
		return -E2BIG;
	nf = realloc(e->files, (e->nfiles + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	e->files = nf;
	f = &nf[e->nfiles];
	memset(f, 0, sizeof(*f));
	f->stream = e->nfiles;
	if (hdr) {
		static const uint8_t zero[16];

		f->offset = hdr->realtime_offset_ns;
		memcpy(f->capture_id, hdr->capture_id, sizeof(f->capture_id));
		f->host_hash = fnv1a64(HTC_FNV1A64_INIT, hdr->hostname, strnlen(hdr->hostname, sizeof(hdr->hostname)));
		f->start_ns = hdr->start_ns;
		/* a file rotated out of a capture already registered (same
		 * capture id and host, another start) continues its stream */
		for (uint32_t i = 0; i < e->nfiles && memcmp(f->capture_id, zero, sizeof(zero)); i++) {
			const struct efile *o = &nf[i];

			if (o->stream == i && !memcmp(o->capture_id, f->capture_id, sizeof(f->capture_id)) &&
			    o->host_hash == f->host_hash && o->start_ns != f->start_ns &&
			    !stream_has_start(e, i, f->start_ns)) {
				f->stream = i;
				break;
			}
		}
	}
	return (int)e->nfiles++;
}

int htc_engine_feed(struct htc_engine *e, uint32_t file_idx, const struct htc_record *rec,
		    struct htc_eng_annot *annot)
{
	const struct htc_event *ev = &rec->ev;
	struct efile *f = eng_file_of(e, file_idx);
	struct conn *c;
	uint64_t ts;
	int err = 0, again = 0;

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
	e->ev_starts = 0;
	ts = wall(f, ev->ts_ns);
	/* rotated files of one capture are one stream: its first file names it */
	file_idx = f->stream;
	e->ann_want = annot != NULL;
	e->ann_serial = 0;
	e->ann_start = 0;
	e->ann_id = 0;
	e->ann_has_mp = 0;

	if (e->handoff_n)
		handoff_expire(e, ts);
	c = conn_find(e, file_idx, ev->conn_id);
	if (c) {
		eng_lru_touch(&e->conns, &c->node);
	} else if (ev->type == HTC_EV_CONNECT && (c = connecting_find(e, file_idx, ev))) {
		/* connect() again on a socket whose connect was in progress */
		eng_lru_touch(&e->conns, &c->node);
		again = 1;
	} else {
		if (ev->type == HTC_EV_CLOSE && rec->type == HTC_REC_CONN && ev->stream_off == 0 &&
		    ev->stream_off2 == 0)
			return 0;	/* close of a socket never seen carrying data */
		c = conn_new(e, file_idx, ev, ts);
		if (!c)
			return -ENOMEM;
		if (e->handoff_n && (ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE))
			handoff_take(e, c);
	}

	switch (ev->type) {
	case HTC_EV_ACCEPT:
	case HTC_EV_CONNECT:
		c->info.pid = ev->pid;
		c->info.tid = ev->tid;
		if (!again)
			c->info.open_ns = ts;
		if (ev->type == HTC_EV_CONNECT) {
			int amb;
			struct exch *r = eng_attribute(e, file_idx, ev->pid, ev->tid, &amb);

			c->role = HTC_ROLE_CLIENT;
			if (!again) {
				c->info.connect_result = ev->ret < 0 ? (int32_t)ev->ret : 0;
				c->info.connect_ns = ev->dur_ns;
				eng_loop_connect(e, c, ev);
			} else if (ev->ret != -EALREADY && ev->ret != -EINPROGRESS) {
				/* the outcome: connected (0, or EISCONN) or failed */
				c->info.connect_result = ev->ret < 0 && ev->ret != -EISCONN ? (int32_t)ev->ret : 0;
			}
			if (c->info.connect_result == -EINPROGRESS)
				connecting_note(e, c);
			if (r) {
				c->info.request_id = r->id;
				if (amb)
					c->info.flags |= HTC_ENGF_AMBIGUOUS;
			}
			eng_ann_request(e, r);
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
			eng_ann_thread(e, c, ev);
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
	while (e->handoff_n)
		handoff_pop(e, 0, 1);
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
