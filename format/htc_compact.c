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
 *
 * Since 1.3 a payload may be sent as a delta (records DATA_D, TLS_D)
 * against the previous payload of its slot and direction in the frame:
 * keep-alive requests on a connection repeat their predecessor but for a
 * few bytes (a response its Date header), and zstd's cost follows the
 * bytes it is fed, whatever the level: the common prefix and suffix are
 * two varints instead of ~100 bytes.  The reader keeps a pointer to each
 * decoded payload (in the frame, or rebuilt into the table's arena); the
 * writer keeps a copy (the caller's buffers are gone after append).
 */
#include <errno.h>
#include <stdlib.h>

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
		for (size_t i = 0; i < sizeof(t->slot) / sizeof(t->slot[0]); i++)
			t->slot[i].gen = 0;	/* not wbuf: the writer's buffers */
		t->gen = 1;
	}
	t->prev_ts = 0;
	t->delta_bytes = 0;
	/* the previous frame's rebuilt payloads are free again */
	t->acur = t->arena;
	if (t->acur)
		t->acur->used = 0;
}

void htc_ctab_free(struct htc_ctab *t)
{
	struct htc_achunk *c, *n;

	if (!t)
		return;
	for (size_t i = 0; t->wbuf_bytes && i < sizeof(t->slot) / sizeof(t->slot[0]); i++)
		for (unsigned d = 0; d < 4; d++)
			free(t->slot[i].wbuf[d]);
	for (c = t->arena; c; c = n) {
		n = c->next;
		free(c);
	}
	free(t);
}

/* Room for n rebuilt payload bytes until the next reset, in a chunk that
 * never moves (realloc would move the frame's earlier payloads), or NULL.
 * A chunk of an earlier frame is reused when it is big enough; the
 * chunks stay allocated: at most the largest frame's rebuilt bytes
 * (HTC_MAX_DELTA_BYTES) plus one chunk. */
#define ACHUNK_MIN (256u << 10)
static uint8_t *arena_alloc(struct htc_ctab *t, size_t n)
{
	struct htc_achunk *c = t->acur, *nc;
	size_t cap;

	if (c && c->cap - c->used >= n)
		goto take;
	if (c && c->next && c->next->cap >= n) {
		c = c->next;
		c->used = 0;
		goto take;
	}
	cap = n > ACHUNK_MIN ? n : ACHUNK_MIN;
	nc = malloc(sizeof(*nc) + cap);
	if (!nc)
		return NULL;
	nc->cap = cap;
	nc->used = 0;
	if (c) {	/* after the current one, before the unused ones */
		nc->next = c->next;
		c->next = nc;
	} else {
		nc->next = t->arena;
		t->arena = nc;
	}
	c = nc;
take:
	t->acur = c;
	c->used += n;
	return c->data + c->used - n;
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
	s->ref_ok = 0;	/* a new connection here: no reference payload */
}

/* Bytes at the start of a and b (n each) that are equal: 8 at a time, the
 * first differing byte found from the XOR (little-endian loads: the
 * lowest set bit is in the first differing byte); the last word overlaps
 * the one before it rather than ending byte by byte. */
static inline uint32_t same_prefix(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	uint32_t i = 0;
	uint64_t x;

	if (n < 8) {
		while (i < n && a[i] == b[i])
			i++;
		return i;
	}
	for (; i + 8 <= n; i += 8) {
		x = get_le64(a + i) ^ get_le64(b + i);
		if (x)
			return i + (uint32_t)__builtin_ctzll(x) / 8;
	}
	if (i == n)
		return n;
	/* bytes n-8..i-1 are known equal: the first difference is past i */
	x = get_le64(a + n - 8) ^ get_le64(b + n - 8);
	return x ? n - 8 + (uint32_t)__builtin_ctzll(x) / 8 : n;
}

/* Bytes at the end of a and b (ending at ae and be, n at most) that are
 * equal: the highest set bit of the XOR is in the last differing byte. */
static inline uint32_t same_suffix(const uint8_t *ae, const uint8_t *be, uint32_t n)
{
	uint32_t i = 0;
	uint64_t x;

	if (n < 8) {
		while (i < n && ae[-1 - (int64_t)i] == be[-1 - (int64_t)i])
			i++;
		return i;
	}
	for (; i + 8 <= n; i += 8) {
		x = get_le64(ae - i - 8) ^ get_le64(be - i - 8);
		if (x)
			return i + (uint32_t)__builtin_clzll(x) / 8;
	}
	if (i == n)
		return n;
	x = get_le64(ae - n) ^ get_le64(be - n);
	return x ? n - 8 + (uint32_t)__builtin_clzll(x) / 8 : n;
}

/*
 * The writer's side of a payload delta for e in direction dir of slot s,
 * when its payload is not the reference's bytes: whether to send it as a
 * delta (*pre, *suf set), and the reference brought up to e's payload,
 * which is what the reader's will be.  Out of line: keep-alive traffic
 * mostly repeats itself (delta_plan), and this one's registers would
 * weigh on that path.
 */
static __attribute__((noinline)) bool delta_update(struct htc_ctab *t, struct htc_cslot *s,
						   const struct htc_event *e, unsigned dir,
						   uint32_t *pre, uint32_t *suf)
{
	uint32_t n = e->cap_len, rl, p, x;
	uint8_t bit = (uint8_t)(1u << dir);
	bool use = false;

	if (n > HTC_DELTA_MAX) {	/* not kept: the next one is literal */
		s->ref_ok &= (uint8_t)~bit;
		return false;
	}
	if (s->ref_ok & bit) {
		rl = s->ref_len[dir];
		x = n < rl ? n : rl;
		p = same_prefix(e->payload, s->wbuf[dir], x);
		*pre = p;
		*suf = same_suffix(e->payload + n, s->wbuf[dir] + rl, x - p);
		use = p + *suf >= HTC_DELTA_MIN;
	}
	if (n > s->wcap[dir]) {
		/* sized to what the direction carries (256-byte steps), so
		 * the budget covers every slot's two directions of ~100-byte
		 * payloads; grown, rarely, when a longer one comes */
		uint32_t cap = (n + 255) & ~255u;
		uint8_t *nb;

		if (t->wbuf_bytes + cap - s->wcap[dir] > HTC_DELTA_WBUDGET ||
		    !(nb = realloc(s->wbuf[dir], cap))) {
			s->ref_ok &= (uint8_t)~bit;	/* no room: literal */
			return use;
		}
		t->wbuf_bytes += cap - s->wcap[dir];
		s->wbuf[dir] = nb;
		s->wcap[dir] = (uint16_t)cap;
	}
	if (n)
		memcpy(s->wbuf[dir], e->payload, n);
	s->ref_len[dir] = n;
	s->ref_ok |= bit;
	return use;
}

_Static_assert(HTC_DELTA_MAX < (1u << 14) && HTC_DELTA_MIN >= 4,
	       "a delta record must not outgrow HTC_EV_C_MAX + cap_len");
/* Whether to send e's payload as a delta (*pre, *suf set), its
 * direction's reference kept equal to the reader's.  A payload equal to
 * the reference (keep-alive requests, responses within the same second)
 * costs memcmp's vector compare and no copy. */
static inline bool delta_plan(struct htc_ctab *t, struct htc_cslot *s, const struct htc_event *e,
			      unsigned dir, uint32_t *pre, uint32_t *suf)
{
	uint32_t n = e->cap_len;

	/* (a reference is never longer than HTC_DELTA_MAX) */
	if ((s->ref_ok & (1u << dir)) && n == s->ref_len[dir] &&
	    !memcmp(e->payload, s->wbuf[dir], n)) {
		*pre = n;
		*suf = 0;
		return n >= HTC_DELTA_MIN;
	}
	return delta_update(t, s, e, dir, pre, suf);
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

size_t htc_compact_encode(struct htc_ctab *t, const struct htc_event *e, uint8_t *b,
			  int *delta)
{
	struct htc_cslot *s = &t->slot[slot_of(e->conn_id)];
	size_t clen, n = 0;
	/* TLS plaintext is a stream of its own beside the syscalls' */
	unsigned dir = (e->type == HTC_EV_WRITE) + (e->flags & HTC_EVF_TLS ? 2 : 0);
	uint8_t cflags = 0;
	uint32_t pre = 0, suf = 0;
	bool d = false;

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
	if (t->delta)
		d = delta_plan(t, s, e, dir, &pre, &suf);
	if (d) {
		uint32_t mid = e->cap_len - pre - suf;

		n += put_uv(b + n, pre);
		n += put_uv(b + n, suf);
		if (mid)
			memcpy(b + n, e->payload + pre, mid);
		n += mid;
		t->delta_bytes += e->cap_len;
	} else {
		if (e->cap_len)
			memcpy(b + n, e->payload, e->cap_len);
		n += e->cap_len;
	}
	*delta = d;
	if (cflags & HTC_CF_SEQ) {
		put_le32(b + n, e->tcp_seq);
		n += 4;
	}
	t->prev_ts = e->ts_ns;
	s->next[dir] = e->stream_off + (uint64_t)e->ret;
	seq_advance(s, e, dir);
	return n;
}

/*
 * The prefix and suffix of a delta record at b[*pos..len), checked
 * against the reference of s's direction dir and the record: 0 with *pos
 * past them (at the middle bytes), or HTC_ERR_CORRUPT with *why set.
 */
static int delta_check(const struct htc_ctab *t, const struct htc_cslot *s, unsigned dir,
		       const uint8_t *b, uint32_t len, uint32_t *pos, uint64_t cap_len,
		       uint64_t *pre, uint64_t *suf, const char **why)
{
	uint64_t rl;

	if (get_uv(b, len, pos, pre) || get_uv(b, len, pos, suf)) {
		*why = "delta event: bad prefix or suffix varint";
		return HTC_ERR_CORRUPT;
	}
	if (!(s->ref_ok & (1u << dir))) {
		*why = "delta event without a previous payload of its direction in the frame";
		return HTC_ERR_CORRUPT;
	}
	rl = s->ref_len[dir];
	if (*pre > rl || *suf > rl - *pre) {
		*why = "delta event: prefix + suffix longer than the previous payload";
		return HTC_ERR_CORRUPT;
	}
	if (*pre + *suf > cap_len) {
		*why = "delta event: prefix + suffix longer than the payload";
		return HTC_ERR_CORRUPT;
	}
	if (cap_len - *pre - *suf > len - *pos) {
		*why = "delta event: middle bytes run past the record";
		return HTC_ERR_CORRUPT;
	}
	/* checked before any byte is copied: no record, skipped or not,
	 * rebuilds more than the limit */
	if (cap_len > HTC_MAX_DELTA_BYTES - t->delta_bytes) {
		*why = "delta events of the frame rebuild more than 64 MiB of payload";
		return HTC_ERR_CORRUPT;
	}
	return 0;
}

/*
 * The payload of a checked delta record (middle bytes at mid): a run of
 * the reference when it is one (the same bytes: no copy), which lives as
 * long as the frame, else rebuilt into the arena.  NULL: no memory.
 */
static const uint8_t *delta_build(struct htc_ctab *t, const struct htc_cslot *s, unsigned dir,
				  const uint8_t *mid, uint64_t cap_len, uint64_t pre, uint64_t suf)
{
	const uint8_t *ref = s->ref[dir];
	uint64_t rl = s->ref_len[dir], m = cap_len - pre - suf;
	uint8_t *p;

	if (!m && (!pre || !suf))
		return pre ? ref : ref + rl - suf;
	p = arena_alloc(t, (size_t)cap_len);
	if (!p)
		return NULL;
	memcpy(p, ref, (size_t)pre);
	memcpy(p + pre, mid, (size_t)m);
	memcpy(p + pre + m, ref + rl - suf, (size_t)suf);
	return p;
}

int htc_compact_decode(struct htc_ctab *t, const uint8_t *b, uint32_t len, int tls, int delta,
		       struct htc_record *rec, const char **why)
{
	struct htc_event *e = &rec->ev;
	struct htc_cslot *s;
	const uint8_t *mid;	/* the payload's bytes in the record */
	uint64_t v[7], conn_id, pre = 0, suf = 0;
	uint32_t pos = 5;
	int err;
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
	dir = (e->type == HTC_EV_WRITE) + (tls ? 2 : 0);
	if (delta) {
		err = delta_check(t, s, dir, b, len, &pos, v[6], &pre, &suf, why);
		if (err)
			return err;
		mid = b + pos;
		pos += (uint32_t)(v[6] - pre - suf);
	} else {
		if (v[6] > len - pos) {
			*why = "event payload runs past the record";
			return HTC_ERR_CORRUPT;
		}
		mid = b + pos;
		pos += (uint32_t)v[6];
	}
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
	e->payload = mid;
	e->tcp_seq = 0;
	if (cflags & HTC_CF_SEQ) {
		if (len - pos < 4) {
			*why = "compact event: sequence number runs past the record";
			return HTC_ERR_CORRUPT;
		}
		e->tcp_seq = get_le32(b + pos);
		e->flags |= HTC_EVF_SEQ;
	} else if (e->flags & HTC_EVF_SEQ) {
		if (!(s->seq_ok & (1u << dir))) {
			*why = "compact event: sequence number expected from an event this frame has not had";
			return HTC_ERR_CORRUPT;
		}
		e->tcp_seq = s->next_seq[dir];
	}
	if (delta) {	/* the record is sound: rebuild its payload */
		e->payload = delta_build(t, s, dir, mid, v[6], pre, suf);
		if (!e->payload) {
			*why = "no memory for a rebuilt payload";
			return -ENOMEM;
		}
		t->delta_bytes += v[6];
	}
	t->prev_ts = e->ts_ns;
	s->next[dir] = e->stream_off + (uint64_t)e->ret;
	seq_advance(s, e, dir);
	/* the next delta of this direction refers to this payload */
	s->ref[dir] = e->payload;
	s->ref_len[dir] = e->cap_len;
	s->ref_ok |= (uint8_t)(1u << dir);
	rec->type = HTC_REC_DATA;
	return 0;
}
