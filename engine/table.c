/* SPDX-License-Identifier: MIT */
/*
 * table.c - the engine's containers: intrusive hash tables whose nodes
 * also sit on a least-recently-used list (connections, threads and links
 * are evicted oldest first when a cap is reached), bins that recycle
 * those objects, and the growable buffers of exchanges.  Written here
 * rather than taken from a library: the nodes are embedded in the engine's
 * own objects, which live on an LRU list at the same time, and no packaged
 * C table does both without an allocation per insert.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void *eng_bin_get(struct hnode **bin, size_t size)
{
	struct hnode *n = *bin;

	if (!n)
		return calloc(1, size);
	*bin = n->hnext;
	memset(n, 0, size);
	return n;
}

void eng_bin_put(struct hnode **bin, struct hnode *n)
{
	n->hnext = *bin;
	*bin = n;
}

void eng_bin_free(struct hnode **bin)
{
	while (*bin) {
		struct hnode *n = *bin;

		*bin = n->hnext;
		free(n);
	}
}

/* ---- growable buffers ---- */

int eng_grow(void *bufp, size_t *cap, size_t need, size_t elem)
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

int eng_htab_init(struct htab *t)
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

void eng_htab_insert(struct htab *t, struct hnode *n, uint64_t hash)
{
	/* at most one entry per two buckets: a lookup of an absent key
	 * (every new connection's link) then mostly finds an empty bucket
	 * instead of reading a node that is not in the cache */
	if (t->n >= t->nb / 2)
		htab_grow(t);
	n->hash = hash;
	n->hnext = t->b[hash & (t->nb - 1)];
	t->b[hash & (t->nb - 1)] = n;
	eng_lru_push(&t->lru, n);
	t->n++;
}

void eng_htab_remove(struct htab *t, struct hnode *n)
{
	struct hnode **pp = &t->b[n->hash & (t->nb - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	eng_lru_unlink(n);
	t->n--;
}

