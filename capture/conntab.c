// SPDX-License-Identifier: MIT
/*
 * conntab.c - the redaction state of each live connection, two directions
 * each, and two more for its TLS plaintext (a stream of its own), keyed by
 * conn_id.  Bounded: a fixed pool of entries, a hash for
 * lookup and a least-recently-used list for eviction, so a capture of a host
 * with endless short connections (or missed closes) never grows.  Written by
 * hand because it is ~100 lines and a generic map would need the same LRU
 * on top.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

struct centry {
	uint64_t conn_id;
	struct redact_state rs[4];	/* [0] read, [1] write, [2], [3] the same of TLS plaintext */
	uint64_t next_off[4];		/* stream offset expected next */
	uint32_t hnext;			/* hash chain, index + 1, 0 = end */
	uint32_t prev, next;		/* LRU list, index + 1 */
	int used;
};

struct conntab {
	struct centry *e;
	uint32_t *buckets;		/* index + 1, 0 = empty */
	size_t max, nbuckets, count;
	uint32_t head, tail;		/* most / least recently used, index + 1 */
	uint32_t freelist;		/* through hnext */
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

void conntab_free(struct conntab *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->buckets);
	free(t);
}

size_t conntab_count(const struct conntab *t)
{
	return t->count;
}

static void lru_unlink(struct conntab *t, uint32_t i)
{
	struct centry *c = &t->e[i - 1];

	if (c->prev)
		t->e[c->prev - 1].next = c->next;
	else
		t->head = c->next;
	if (c->next)
		t->e[c->next - 1].prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = 0;
}

static void lru_push(struct conntab *t, uint32_t i)
{
	struct centry *c = &t->e[i - 1];

	c->prev = 0;
	c->next = t->head;
	if (t->head)
		t->e[t->head - 1].prev = i;
	t->head = i;
	if (!t->tail)
		t->tail = i;
}

static void remove_entry(struct conntab *t, uint32_t i)
{
	struct centry *c = &t->e[i - 1];
	uint32_t *pp = &t->buckets[bucket_of(t, c->conn_id)];

	while (*pp && *pp != i)
		pp = &t->e[*pp - 1].hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(t, i);
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

static uint32_t get(struct conntab *t, uint64_t id)
{
	uint32_t i = find(t, id);
	size_t b;

	if (i) {
		lru_unlink(t, i);
		lru_push(t, i);
		return i;
	}
	if (!t->freelist)
		remove_entry(t, t->tail);
	i = t->freelist;
	t->freelist = t->e[i - 1].hnext;
	memset(&t->e[i - 1], 0, sizeof(t->e[i - 1]));
	t->e[i - 1].conn_id = id;
	t->e[i - 1].used = 1;
	b = bucket_of(t, id);
	t->e[i - 1].hnext = t->buckets[b];
	t->buckets[b] = i;
	lru_push(t, i);
	t->count++;
	return i;
}

size_t conntab_redact(struct conntab *t, const struct htc_event *ev, uint8_t *buf)
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
	n = ev->cap_len ? redact_payload(&c->rs[dir], buf, ev->cap_len) : 0;
	/* bytes after snaplen, or all of a sendfile */
	if (ret > ev->cap_len)
		redact_skip(&c->rs[dir], ret - ev->cap_len);
	return n;
}

bool conntab_redact_event(struct conntab *t, struct htc_event *ev, uint8_t *buf)
{
	if (ev->cap_len) {
		memcpy(buf, ev->payload, ev->cap_len);
		ev->payload = buf;
	}
	if (!conntab_redact(t, ev, buf))
		return false;
	ev->flags |= HTC_EVF_REDACTED;
	return true;
}
