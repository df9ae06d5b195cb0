// SPDX-License-Identifier: MIT
/*
 * conntab.c - the redaction state of each live connection, two directions
 * each, and two more for its TLS plaintext (a stream of its own), keyed by
 * conn_id.  Bounded: a fixed pool of entries, a hash for lookup and the
 * CLOCK approximation of least-recently-used for eviction (a referenced
 * flag per entry and a hand that clears them on its way to the first one
 * not referenced since its last pass), so a capture of a host with endless
 * short connections (or missed closes) never grows.  A linked LRU list
 * touched two other entries' cache lines on every event to keep an order
 * that only matters when the table is full.  Written by hand because it
 * is ~100 lines and a generic map would need the same eviction on top.
 *
 * Each direction also remembers its last payload when redacting it changed
 * nothing, with the redactor's state before and after.  The redactor is a
 * function of its state and the bytes (its memos and tables are caches and
 * constants), so the same bytes from the same state change nothing again
 * and leave the same state: the next payload is compared, and when it is
 * that one the state is taken over instead of scanning the bytes again.
 * Keep-alive clients that repeat a request (load generators, health
 * checks, pollers) and servers that repeat a response within the second
 * of their Date header send such repeats (under wrk against nginx, nearly
 * every event: bench_pipeline 124 -> 96 ns per event); for other traffic
 * the cost is a compare that fails early and a copy of a payload of at
 * most MEMO_MAX bytes (+1.8% of bench_pipeline's instructions on the
 * demo capture).  A payload that had anything
 * overwritten is never remembered: it is scanned every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

/* The last payload of a direction that redaction left alone (len 0: none). */
struct rmemo {
	struct redact_state in, out;	/* the redactor's state before and after it */
	uint32_t len, cap;
	uint8_t raw[];
};

/* Payloads longer than this are not remembered (heads and small bodies
 * are), and all memos together stay under MEMO_BUDGET bytes. */
#define MEMO_MAX	2048u
#define MEMO_BUDGET	(4u << 20)

struct centry {
	uint64_t conn_id;
	struct redact_state rs[4];	/* [0] read, [1] write, [2], [3] the same of TLS plaintext */
	uint64_t next_off[4];		/* stream offset expected next */
	struct rmemo *memo[4];		/* per direction, allocated on first use */
	uint32_t hnext;			/* hash chain, index + 1, 0 = end */
	uint8_t used;
	uint8_t ref;			/* looked up since the hand last passed */
};

struct conntab {
	struct centry *e;
	uint32_t *buckets;		/* index + 1, 0 = empty */
	size_t max, nbuckets, count;
	uint32_t hand;			/* the CLOCK hand: the next entry to look at, index + 1 */
	uint32_t freelist;		/* through hnext */
	size_t memo_bytes;		/* allocated to memos */
};

static size_t bucket_of(const struct conntab *t, uint64_t id)
{
	return (id * 0x9E3779B97F4A7C15ULL) >> 32 & (t->nbuckets - 1);
}

struct conntab *conntab_new(size_t max)
{
	struct conntab *t = calloc(1, sizeof(*t));
	size_t i;

	if (!t)
		return NULL;
	t->max = max ? max : 1;
	t->nbuckets = 1;
	while (t->nbuckets < t->max)
		t->nbuckets <<= 1;
	t->e = calloc(t->max, sizeof(*t->e));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->e || !t->buckets) {
		conntab_free(t);
		return NULL;
	}
	for (i = 0; i < t->max; i++)
		t->e[i].hnext = i + 1 < t->max ? i + 2 : 0;
	t->freelist = 1;
	return t;
}

static void memo_free(struct conntab *t, struct centry *c)
{
	for (int d = 0; d < 4; d++) {
		if (c->memo[d]) {
			t->memo_bytes -= sizeof(*c->memo[d]) + c->memo[d]->cap;
			free(c->memo[d]);
			c->memo[d] = NULL;
		}
	}
}

void conntab_free(struct conntab *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->e && t->memo_bytes && i < t->max; i++)
		memo_free(t, &t->e[i]);
	free(t->e);
	free(t->buckets);
	free(t);
}

size_t conntab_count(const struct conntab *t)
{
	return t->count;
}

static void remove_entry(struct conntab *t, uint32_t i)
{
	struct centry *c = &t->e[i - 1];
	uint32_t *pp = &t->buckets[bucket_of(t, c->conn_id)];

	while (*pp && *pp != i)
		pp = &t->e[*pp - 1].hnext;
	if (*pp)
		*pp = c->hnext;
	memo_free(t, c);
	memset(c, 0, sizeof(*c));
	c->hnext = t->freelist;
	t->freelist = i;
	t->count--;
}

static uint32_t find(struct conntab *t, uint64_t id)
{
	uint32_t i = t->buckets[bucket_of(t, id)];

	while (i && t->e[i - 1].conn_id != id)
		i = t->e[i - 1].hnext;
	return i;
}

/* The entry to evict from a full table: the first one at or after the
 * hand not referenced since the hand last passed it, each referenced one
 * passed losing its flag (at most one turn: then all have lost it). */
static uint32_t victim(struct conntab *t)
{
	for (;;) {
		uint32_t i = t->hand < 1 || t->hand > t->max ? 1 : t->hand;
		struct centry *c = &t->e[i - 1];

		t->hand = i % t->max + 1;
		if (!c->ref)
			return i;
		c->ref = 0;
	}
}

static uint32_t get(struct conntab *t, uint64_t id)
{
	uint32_t i = find(t, id);
	size_t b;

	if (i) {
		t->e[i - 1].ref = 1;
		return i;
	}
	if (!t->freelist)
		remove_entry(t, victim(t));
	i = t->freelist;
	t->freelist = t->e[i - 1].hnext;
	memset(&t->e[i - 1], 0, sizeof(t->e[i - 1]));
	t->e[i - 1].conn_id = id;
	t->e[i - 1].used = 1;
	b = bucket_of(t, id);
	t->e[i - 1].hnext = t->buckets[b];
	t->buckets[b] = i;
	t->e[i - 1].ref = 1;
	t->count++;
	return i;
}

_Static_assert(sizeof(struct redact_state) == 24, "redact_state compared with memcmp: no padding");

/* redact_payload() on the len bytes at src with direction dir's state, or
 * what it did the last time with these bytes from this state.  Redacted
 * bytes are written to buf (src may be buf); *copied tells whether the
 * payload is now in buf: a repeat leaves it where it is. */
static size_t redact_memo(struct conntab *t, struct centry *c, int dir, const uint8_t *src,
			  uint8_t *buf, size_t len, bool *copied)
{
	struct rmemo *m = c->memo[dir];
	struct redact_state in;
	size_t n;

	if (m && m->len == len && !memcmp(&m->in, &c->rs[dir], sizeof(in)) &&
	    !memcmp(m->raw, src, len)) {
		c->rs[dir] = m->out;
		return 0;
	}
	if (src != buf)
		memcpy(buf, src, len);
	*copied = true;
	in = c->rs[dir];
	n = redact_payload(&c->rs[dir], buf, len);
	if (n || len > MEMO_MAX) {
		if (m)
			m->len = 0;
		return n;
	}
	if (!m || m->cap < len) {
		/* 256-byte steps: a direction's payloads are mostly alike in size */
		uint32_t cap = ((uint32_t)len + 255) & ~255u;
		size_t old = m ? sizeof(*m) + m->cap : 0;

		if (t->memo_bytes - old + sizeof(*m) + cap > MEMO_BUDGET) {
			if (m)
				m->len = 0;
			return 0;
		}
		m = realloc(m, sizeof(*m) + cap);
		if (!m) {	/* the old one, if any, is still there: forget it */
			if (c->memo[dir])
				c->memo[dir]->len = 0;
			return 0;
		}
		t->memo_bytes = t->memo_bytes - old + sizeof(*m) + cap;
		m->cap = cap;
		c->memo[dir] = m;
	}
	/* nothing was overwritten: buf holds the bytes as they came */
	memcpy(m->raw, buf, len);
	m->len = (uint32_t)len;
	m->in = in;
	m->out = c->rs[dir];
	return 0;
}

/* conntab_redact() of the payload at src, redacted into buf when it is
 * not a repeat (*copied set then). */
static size_t redact_event(struct conntab *t, const struct htc_event *ev, const uint8_t *src,
			   uint8_t *buf, bool *copied)
{
	struct centry *c;
	uint64_t ret;
	size_t n;
	int dir;
	uint32_t i;

	if (ev->type == HTC_EV_CLOSE) {
		i = find(t, ev->conn_id);
		if (i)
			remove_entry(t, i);
		return 0;
	}
	if (ev->type != HTC_EV_READ && ev->type != HTC_EV_WRITE)
		return 0;
	dir = (ev->type == HTC_EV_WRITE) + (ev->flags & HTC_EVF_TLS ? 2 : 0);
	c = &t->e[get(t, ev->conn_id) - 1];
	/* bytes the ring buffer lost before this event (drops) */
	if (ev->stream_off > c->next_off[dir])
		redact_skip(&c->rs[dir], ev->stream_off - c->next_off[dir]);
	ret = ev->ret > 0 ? (uint64_t)ev->ret : 0;
	c->next_off[dir] = ev->stream_off + ret;
	n = ev->cap_len ? redact_memo(t, c, dir, src, buf, ev->cap_len, copied) : 0;
	/* bytes after snaplen, or all of a sendfile */
	if (ret > ev->cap_len)
		redact_skip(&c->rs[dir], ret - ev->cap_len);
	return n;
}

size_t conntab_redact(struct conntab *t, const struct htc_event *ev, uint8_t *buf)
{
	bool copied = false;

	return redact_event(t, ev, buf, buf, &copied);
}

bool conntab_redact_event(struct conntab *t, struct htc_event *ev, uint8_t *buf)
{
	bool copied = false;
	size_t n = redact_event(t, ev, ev->payload, buf, &copied);

	if (copied)
		ev->payload = buf;
	if (!n)
		return false;
	ev->flags |= HTC_EVF_REDACTED;
	return true;
}
