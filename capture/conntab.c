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
 * Each direction also remembers its last payload when redacting it
 * changed nothing, neither bytes nor the redactor's state (a message that
 * ends where it began: between two messages, most often).  The redactor
 * is a function of its state and the bytes (its memos and tables are
 * caches and constants), so while the direction's state stays the one
 * that payload left, the same bytes change nothing again: the next
 * payload is compared, and when it is that one it is not scanned, nor
 * copied out of the ring.  Keep-alive clients that repeat a request (load
 * generators, health checks, pollers) and servers that repeat a response
 * within the second of their Date header send such repeats (under wrk
 * against nginx, nearly every event: bench_pipeline 124 -> 96 ns per
 * event); for other traffic the cost is a compare that fails early and a
 * copy of a payload of at most MEMO_MAX bytes (+1.8% of bench_pipeline's
 * instructions on the demo capture).  A payload that had anything
 * overwritten is never remembered: it is scanned every time.
 *
 * Under load each event's lookup missed the cache three times (the bucket,
 * the entry, the memo), the rings' records and zstd's tables having gone
 * through the cache since: a direction's state, offset and memo share a
 * cache line, the read direction's with the entry's key, and conn_ids,
 * which count up, take neighbouring buckets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

/* Payloads longer than this are not remembered (heads and small bodies
 * are), and all memos together stay under MEMO_BUDGET bytes. */
#define MEMO_MAX	2048u
#define MEMO_BUDGET	(4u << 20)

/* One direction of a connection. */
struct cdir {
	struct redact_state rs;
	uint64_t next_off;		/* stream offset expected next */
	/* the last payload, when it left rs as it found it and overwrote
	 * nothing, and rs has not changed since (memo_len 0: none) */
	uint8_t *memo;			/* memo_cap bytes, allocated on first use */
	uint32_t memo_len, memo_cap;
};

struct centry {
	uint64_t conn_id;
	uint32_t hnext;			/* hash chain, index + 1, 0 = end */
	uint8_t ref;			/* looked up since the hand last passed */
	struct cdir d[4];		/* [0] read, [1] write, [2], [3] the same of TLS plaintext */
} __attribute__((aligned(64)));

struct conntab {
	struct centry *e;
	void *e_mem;			/* what calloc gave, e aligned in it */
	uint32_t *buckets;		/* index + 1, 0 = empty */
	size_t max, nbuckets, count;
	uint32_t hand;			/* the CLOCK hand: the next entry to look at, index + 1 */
	uint32_t freelist;		/* through hnext */
	uint32_t fresh;			/* entries handed out at least once: the rest are free */
	size_t memo_bytes;		/* allocated to memos */
};

/* conn_ids come from one counter (the BPF side's): the low bits spread
 * them evenly, and the live ones, mostly recent, share cache lines */
static size_t bucket_of(const struct conntab *t, uint64_t id)
{
	return id & (t->nbuckets - 1);
}

struct conntab *conntab_new(size_t max)
{
	struct conntab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max = max ? max : 1;
	t->nbuckets = 1;
	while (t->nbuckets < t->max)
		t->nbuckets <<= 1;
	/* calloc, not aligned_alloc and memset, and no free list made
	 * ahead: the pages stay untouched (and out of the resident set)
	 * until entries are used */
	t->e_mem = calloc(t->max + 1, sizeof(*t->e));
	t->e = t->e_mem ? (struct centry *)(((uintptr_t)t->e_mem + _Alignof(struct centry) - 1) &
					    ~(uintptr_t)(_Alignof(struct centry) - 1))
			: NULL;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->e || !t->buckets) {
		conntab_free(t);
		return NULL;
	}
	return t;
}

static void memo_free(struct conntab *t, struct centry *c)
{
	for (int d = 0; d < 4; d++) {
		if (c->d[d].memo) {
			t->memo_bytes -= c->d[d].memo_cap;
			free(c->d[d].memo);
			c->d[d].memo = NULL;
		}
	}
}

void conntab_free(struct conntab *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->e && t->memo_bytes && i < t->fresh; i++)
		memo_free(t, &t->e[i]);
	free(t->e_mem);
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
	if (!t->freelist && t->fresh < t->max) {
		i = ++t->fresh;
	} else {
		if (!t->freelist)
			remove_entry(t, victim(t));
		i = t->freelist;
		t->freelist = t->e[i - 1].hnext;
	}
	memset(&t->e[i - 1], 0, sizeof(t->e[i - 1]));
	t->e[i - 1].conn_id = id;
	b = bucket_of(t, id);
	t->e[i - 1].hnext = t->buckets[b];
	t->buckets[b] = i;
	t->e[i - 1].ref = 1;
	t->count++;
	return i;
}

_Static_assert(sizeof(struct redact_state) == 24, "redact_state compared with memcmp: no padding");

/* redact_payload() on the len bytes at src with direction d's state, or
 * nothing when they are the remembered payload.  Redacted bytes are
 * written to buf (src may be buf); *copied tells whether the payload is
 * now in buf: a repeat leaves it where it is. */
static size_t redact_memo(struct conntab *t, struct cdir *d, const uint8_t *src, uint8_t *buf,
			  size_t len, bool *copied)
{
	struct redact_state in;
	size_t n;

	if (d->memo_len == len && !memcmp(d->memo, src, len))
		return 0;
	if (src != buf)
		memcpy(buf, src, len);
	*copied = true;
	in = d->rs;
	n = redact_payload(&d->rs, buf, len);
	d->memo_len = 0;
	if (n || len > MEMO_MAX || memcmp(&in, &d->rs, sizeof(in)))
		return n;
	if (d->memo_cap < len) {
		/* 256-byte steps: a direction's payloads are mostly alike in size */
		uint32_t cap = ((uint32_t)len + 255) & ~255u;
		uint8_t *m;

		if (t->memo_bytes - d->memo_cap + cap > MEMO_BUDGET)
			return 0;
		m = realloc(d->memo, cap);
		if (!m)
			return 0;
		t->memo_bytes = t->memo_bytes - d->memo_cap + cap;
		d->memo = m;
		d->memo_cap = cap;
	}
	/* nothing was overwritten: buf holds the bytes as they came */
	memcpy(d->memo, buf, len);
	d->memo_len = (uint32_t)len;
	return 0;
}

/* conntab_redact() of the payload at src, redacted into buf when it is
 * not a repeat (*copied set then). */
static size_t redact_event(struct conntab *t, const struct htc_event *ev, const uint8_t *src,
			   uint8_t *buf, bool *copied)
{
	struct cdir *d;
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
	d = &t->e[get(t, ev->conn_id) - 1].d[dir];
	/* bytes the ring buffer lost before this event (drops) */
	if (ev->stream_off > d->next_off) {
		redact_skip(&d->rs, ev->stream_off - d->next_off);
		d->memo_len = 0;
	}
	ret = ev->ret > 0 ? (uint64_t)ev->ret : 0;
	d->next_off = ev->stream_off + ret;
	n = ev->cap_len ? redact_memo(t, d, src, buf, ev->cap_len, copied) : 0;
	/* bytes after snaplen, or all of a sendfile */
	if (ret > ev->cap_len) {
		redact_skip(&d->rs, ret - ev->cap_len);
		d->memo_len = 0;
	}
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
