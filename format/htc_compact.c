// SPDX-License-Identifier: MIT
/*
 * htc_compact.c - the compact data event (record type DATA_C, format 1.1):
 * what a READ/WRITE event has of its own (time, thread, bytes, payload) in
 * LEB128 varints, and what it shares with its connection (pid, fd,
 * endpoints, comm) only when the frame has not said it yet.  docs/FORMAT.md
 * section 6.7 is the spec.
 *
 * Writer and reader each keep the same small table per data frame: a slot
 * per connection, chosen by conn_id, holding the connection's fields and
 * its next stream offset per direction.  Both start a frame with an empty
 * table and update a slot with every DATA_C record in the same order, so
 * the reader always holds what the writer left out.  The table is reset at
 * every frame, so each frame decodes alone (a corrupt frame costs only its
 * own records).  A slot taken by another connection only makes the next
 * record of the first one carry its fields again.
 *
 * Since 1.2 an event with a TCP sequence number (HTC_EVF_SEQ) writes it only
 * when it is not the previous one of its direction plus that event's length
 * (cflags SEQ, four bytes after the payload, where a 1.1 reader ignores
 * them): a connection's run of events costs four bytes, not four per event.
 */
#include <errno.h>

#include "htc_internal.h"

static inline uint32_t slot_of(uint64_t conn_id)
{
	return (uint32_t)((conn_id * 0x9E3779B97F4A7C15ull) >> (64 - HTC_CSLOT_BITS));
}

static size_t put_uv(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A varint from b[*pos..len); 0, or -1 when it runs past len or past 10
 * bytes. */
static int get_uv(const uint8_t *b, uint32_t len, uint32_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*pos < len && shift < 70) {
		uint8_t c = b[(*pos)++];

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

void htc_ctab_reset(struct htc_ctab *t)
{
	t->gen++;
	if (!t->gen) {	/* wrapped: every slot must look stale */
		memset(t->slot, 0, sizeof(t->slot));
		t->gen = 1;
	}
	t->prev_ts = 0;
}

/* Whether n bytes (n >= 8) at a and b are the same: word loads, the last
 * one overlapping (called for every event written; memcmp's call cost
 * more than these compares). */
static inline bool same_bytes(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	uint64_t x, y, d = 0;
	size_t i;

	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, p + i, 8);
		memcpy(&y, q + i, 8);
		d |= x ^ y;
	}
	memcpy(&x, p + n - 8, 8);
	memcpy(&y, q + n - 8, 8);
	return !(d | (x ^ y));
}

/* Whether e's connection fields are the slot's: its comm by the 16 bytes
 * last seen first (the same bytes, the same name), else as a string. */
static bool same_conn(const struct htc_cslot *s, const struct htc_event *e)
{
	size_t clen;

	if (s->pid != e->pid || s->fd != e->fd || !same_bytes(&s->ep, &e->ep, sizeof(s->ep)))
		return false;
	if (same_bytes(s->comm_raw, e->comm, HTC_COMM_LEN))
		return true;
	clen = strnlen(e->comm, HTC_COMM_LEN - 1);
	return s->comm_len == clen && !memcmp(s->comm, e->comm, clen);
}

static void fill_slot(struct htc_cslot *s, const struct htc_event *e, size_t clen, uint32_t gen)
{
	s->gen = gen;
	s->conn_id = e->conn_id;
	s->pid = e->pid;
	s->fd = e->fd;
	s->ep = e->ep;
	memset(s->comm, 0, sizeof(s->comm));
	memcpy(s->comm, e->comm, clen);
	memcpy(s->comm_raw, e->comm, sizeof(s->comm_raw));
	s->comm_len = (uint8_t)clen;
	memset(s->next, 0, sizeof(s->next));
	s->seq_ok = 0;
}

/* After a record of direction dir (read, write, then TLS plaintext read
 * and write, which carry no sequence number of their own): the sequence
 * number its successor is expected to carry, if it has one. */
static void seq_advance(struct htc_cslot *s, const struct htc_event *e, unsigned dir)
{
	if (e->flags & HTC_EVF_SEQ) {
		s->next_seq[dir] = e->tcp_seq + (uint32_t)e->ret;
		s->seq_ok |= (uint8_t)(1u << dir);
	} else {
		s->seq_ok &= (uint8_t)~(1u << dir);
	}
}

size_t htc_compact_encode(struct htc_ctab *t, const struct htc_event *e, uint8_t *b)
{
	struct htc_cslot *s = &t->slot[slot_of(e->conn_id)];
	size_t clen, n = 0;
	/* TLS plaintext is a stream of its own beside the syscalls' */
	unsigned dir = (e->type == HTC_EV_WRITE) + (e->flags & HTC_EVF_TLS ? 2 : 0);
	uint8_t cflags = 0;

	if (s->gen != t->gen || s->conn_id != e->conn_id || !same_conn(s, e)) {
		cflags |= HTC_CF_CONN;
		fill_slot(s, e, strnlen(e->comm, HTC_COMM_LEN - 1), t->gen);
	}
	if ((e->flags & HTC_EVF_SEQ) &&
	    (!(s->seq_ok & (1u << dir)) || s->next_seq[dir] != e->tcp_seq))
		cflags |= HTC_CF_SEQ;
	b[n++] = e->type;
	b[n++] = e->syscall;
	put_le16(b + n, e->flags);
	n += 2;
	b[n++] = cflags;
	n += put_uv(b + n, e->conn_id);
	if (cflags & HTC_CF_CONN) {
		put_le32(b + n, e->pid);
		put_le32(b + n + 4, (uint32_t)e->fd);
		b[n + 8] = e->ep.family;
		b[n + 9] = e->ep.role;
		put_le16(b + n + 10, e->ep.lport);
		put_le16(b + n + 12, e->ep.rport);
		memcpy(b + n + 14, e->ep.laddr, 16);
		memcpy(b + n + 30, e->ep.raddr, 16);
		clen = s->comm_len;
		b[n + 46] = (uint8_t)clen;
		memcpy(b + n + 47, e->comm, clen);
		n += 47 + clen;
	}
	n += put_uv(b + n, zz((int64_t)(e->ts_ns - t->prev_ts)));
	n += put_uv(b + n, zz((int64_t)e->tid - (int64_t)e->pid));
	n += put_uv(b + n, e->dur_ns);
	n += put_uv(b + n, zz(e->ret));
	n += put_uv(b + n, zz((int64_t)(e->stream_off - s->next[dir])));
	n += put_uv(b + n, e->stream_off2);
	n += put_uv(b + n, e->cap_len);
	if (e->cap_len)
		memcpy(b + n, e->payload, e->cap_len);
	n += e->cap_len;
	if (cflags & HTC_CF_SEQ) {
		put_le32(b + n, e->tcp_seq);
		n += 4;
	}
	t->prev_ts = e->ts_ns;
	s->next[dir] = e->stream_off + (uint64_t)e->ret;
	seq_advance(s, e, dir);
	return n;
}

int htc_compact_decode(struct htc_ctab *t, const uint8_t *b, uint32_t len, int tls,
		       struct htc_record *rec, const char **why)
{
	struct htc_event *e = &rec->ev;
	struct htc_cslot *s;
	uint64_t v[7], conn_id;
	uint32_t pos = 5;
	uint8_t cflags;
	unsigned dir;

	if (len < 6) {
		*why = "compact event shorter than its 6 first bytes";
		return HTC_ERR_CORRUPT;
	}
	e->type = b[0];
	e->syscall = b[1];
	/* the record type says whether it is plaintext, not the flag bit */
	e->flags = (get_le16(b + 2) & ~HTC_EVF_TLS) | (tls ? HTC_EVF_TLS : 0);
	cflags = b[4];
	if (get_uv(b, len, &pos, &conn_id)) {
		*why = "compact event: bad conn_id varint";
		return HTC_ERR_CORRUPT;
	}
	s = &t->slot[slot_of(conn_id)];
	if (cflags & HTC_CF_CONN) {
		struct htc_event c = {};
		size_t clen;

		if (len - pos < 47 || b[pos + 46] >= HTC_COMM_LEN || len - pos - 47 < b[pos + 46]) {
			*why = "compact event: connection fields run past the record";
			return HTC_ERR_CORRUPT;
		}
		c.conn_id = conn_id;
		c.pid = get_le32(b + pos);
		c.fd = (int32_t)get_le32(b + pos + 4);
		c.ep.family = b[pos + 8];
		c.ep.role = b[pos + 9];
		c.ep.lport = get_le16(b + pos + 10);
		c.ep.rport = get_le16(b + pos + 12);
		memcpy(c.ep.laddr, b + pos + 14, 16);
		memcpy(c.ep.raddr, b + pos + 30, 16);
		clen = b[pos + 46];
		memcpy(c.comm, b + pos + 47, clen);
		pos += 47 + (uint32_t)clen;
		fill_slot(s, &c, clen, t->gen);
	} else if (s->gen != t->gen || s->conn_id != conn_id) {
		*why = "compact event refers to a connection this frame has not described";
		return HTC_ERR_CORRUPT;
	}
	for (int i = 0; i < 7; i++) {
		if (get_uv(b, len, &pos, &v[i])) {
			*why = "compact event: bad varint";
			return HTC_ERR_CORRUPT;
		}
	}
	if (v[6] > len - pos) {
		*why = "event payload runs past the record";
		return HTC_ERR_CORRUPT;
	}
	dir = (e->type == HTC_EV_WRITE) + (tls ? 2 : 0);
	e->conn_id = conn_id;
	e->pid = s->pid;
	e->fd = s->fd;
	e->ep = s->ep;
	memcpy(e->comm, s->comm, HTC_COMM_LEN);
	e->ts_ns = t->prev_ts + (uint64_t)unzz(v[0]);
	e->tid = (uint32_t)((int64_t)s->pid + unzz(v[1]));
	e->dur_ns = v[2];
	e->ret = unzz(v[3]);
	e->stream_off = s->next[dir] + (uint64_t)unzz(v[4]);
	e->stream_off2 = v[5];
	e->cap_len = (uint32_t)v[6];
	e->payload = b + pos;
	e->tcp_seq = 0;
	if (cflags & HTC_CF_SEQ) {
		if (len - pos - e->cap_len < 4) {
			*why = "compact event: sequence number runs past the record";
			return HTC_ERR_CORRUPT;
		}
		e->tcp_seq = get_le32(b + pos + e->cap_len);
		e->flags |= HTC_EVF_SEQ;
	} else if (e->flags & HTC_EVF_SEQ) {
		if (!(s->seq_ok & (1u << dir))) {
			*why = "compact event: sequence number expected from an event this frame has not had";
			return HTC_ERR_CORRUPT;
		}
		e->tcp_seq = s->next_seq[dir];
	}
	t->prev_ts = e->ts_ns;
	s->next[dir] = e->stream_off + (uint64_t)e->ret;
	seq_advance(s, e, dir);
	rec->type = HTC_REC_DATA;
	return 0;
}
