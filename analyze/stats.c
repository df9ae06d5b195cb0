// SPDX-License-Identifier: MIT
/*
 * stats.c - groups counted while loading, with nearest-rank percentiles
 * (see stats.h for why).
 *
 * A small open-addressing hash table of groups, written here because the
 * packaged C libraries that have one (glib) would be a dependency for forty
 * lines; the groups are few (endpoints, downstreams, processes) and rows
 * come in runs of the same group, so the last group found is tried first.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "htc_hash.h"
#include "stats.h"

struct stats {
	uint64_t seed;			/* per table, random: see key_hash */
	struct stats_group **g;		/* groups, in order of first appearance */
	size_t n, cap;
	uint32_t *slot;			/* hash slots: index + 1 into g, 0 empty */
	size_t nslots;			/* power of two, kept at most half full */
	struct stats_group *last;
	int oom;
};

struct stats *stats_new(void)
{
	struct stats *t = calloc(1, sizeof(*t));

	/* no entropy: the address and the clock still vary per run */
	if (t && getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	return t;
}

void stats_free(struct stats *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->g[i]->ms);
		free(t->g[i]);
	}
	free(t->g);
	free(t->slot);
	free(t);
}

int stats_ok(const struct stats *t)
{
	return t && !t->oom;
}

size_t stats_count(const struct stats *t)
{
	return t->n;
}

struct stats_group *stats_last(struct stats *t)
{
	return t->oom ? NULL : t->last;
}

struct stats_group *stats_group(struct stats *t, size_t i)
{
	return i < t->n ? t->g[i] : NULL;
}

/*
 * FNV-1a over the key from a random start, then a full mix (murmur3's
 * finaliser) before the low bits pick a slot: the keys come from a
 * capture, which is untrusted, and plain FNV-1a's low bits depend only on
 * the inputs' low bits, so colliding endpoints would be easy to make and
 * would turn the table's probing quadratic.
 */
static uint64_t key_hash(const struct stats *t, const struct stats_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ t->seed;

	for (int j = 0; j < STATS_KEY_STRS; j++) {
		h = fnv1a64(h, k->s[j], k->n[j]);
		/* the length too, so ("ab", "c") and ("a", "bc") differ */
		h = fnv1a64(h, &k->n[j], sizeof(k->n[j]));
	}
	return mix64(fnv1a64(h, &k->i, sizeof(k->i)));
}

static int key_eq(const struct stats_key *a, const struct stats_key *b)
{
	if (a->i != b->i)
		return 0;
	for (int j = 0; j < STATS_KEY_STRS; j++)
		if (a->n[j] != b->n[j] || (a->n[j] && memcmp(a->s[j], b->s[j], a->n[j])))
			return 0;
	return 1;
}

static int rehash(struct stats *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 64;
	uint32_t *slot = calloc(ns, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = t->g[i]->hash & (ns - 1);

		while (slot[s])
			s = (s + 1) & (ns - 1);
		slot[s] = (uint32_t)(i + 1);
	}
	free(t->slot);
	t->slot = slot;
	t->nslots = ns;
	return 0;
}

static struct stats_group *group_new(struct stats *t, const struct stats_key *k, uint64_t h)
{
	size_t len = 0;
	struct stats_group *g;
	char *p;

	if (t->n >= UINT32_MAX - 1)
		return NULL;
	if ((t->n + 1) * 2 > t->nslots && rehash(t))
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct stats_group **ng = realloc(t->g, cap * sizeof(*ng));

		if (!ng)
			return NULL;
		t->g = ng;
		t->cap = cap;
	}
	for (int j = 0; j < STATS_KEY_STRS; j++)
		len += k->n[j] + 1;
	/* the key's strings live right after the group */
	g = calloc(1, sizeof(*g) + len);
	if (!g)
		return NULL;
	p = (char *)(g + 1);
	g->key.i = k->i;
	for (int j = 0; j < STATS_KEY_STRS; j++) {
		if (k->n[j])
			memcpy(p, k->s[j], k->n[j]);
		p[k->n[j]] = 0;
		g->key.s[j] = p;
		g->key.n[j] = k->n[j];
		p += k->n[j] + 1;
	}
	g->hash = h;
	{
		size_t s = h & (t->nslots - 1);

		while (t->slot[s])
			s = (s + 1) & (t->nslots - 1);
		t->slot[s] = (uint32_t)(t->n + 1);
	}
	t->g[t->n++] = g;
	return g;
}

/* k's group, made when new; NULL (and the table unusable) on ENOMEM. */
static struct stats_group *find(struct stats *t, const struct stats_key *k)
{
	struct stats_group *g = t->last;

	if (t->oom)
		return NULL;
	if (!g || !key_eq(&g->key, k)) {
		uint64_t h = key_hash(t, k);

		g = NULL;
		for (size_t s = t->nslots ? h & (t->nslots - 1) : 0; t->nslots && t->slot[s];
		     s = (s + 1) & (t->nslots - 1)) {
			struct stats_group *c = t->g[t->slot[s] - 1];

			if (c->hash == h && key_eq(&c->key, k)) {
				g = c;
				break;
			}
		}
		if (!g && !(g = group_new(t, k, h))) {
			t->oom = 1;
			return NULL;
		}
		t->last = g;
	}
	return g;
}

/* Room for more durations in g: 0 or -ENOMEM. */
static int reserve(struct stats_group *g, size_t more)
{
	size_t cap = g->cap ? g->cap : 16;
	double *nv;

	if (g->nms + more <= g->cap)
		return 0;
	while (cap < g->nms + more)
		cap *= 2;
	nv = realloc(g->ms, cap * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	g->ms = nv;
	g->cap = cap;
	return 0;
}

int stats_add(struct stats *t, const struct stats_key *k, int error, const double *ms)
{
	struct stats_group *g = find(t, k);

	if (!g)
		return -ENOMEM;
	g->count++;
	g->errors += !!error;
	if (ms) {
		if (reserve(g, 1))
			goto oom;
		g->ms[g->nms++] = *ms;
	}
	return 0;
oom:
	t->oom = 1;
	return -ENOMEM;
}

int stats_merge(struct stats *t, const struct stats_key *k, const struct stats_group *from)
{
	struct stats_group *g = find(t, k);

	if (!g)
		return -ENOMEM;
	if (reserve(g, from->nms)) {
		t->oom = 1;
		return -ENOMEM;
	}
	g->count += from->count;
	g->errors += from->errors;
	if (from->nms)
		memcpy(g->ms + g->nms, from->ms, from->nms * sizeof(*g->ms));
	g->nms += from->nms;
	return 0;
}

/* ---- percentiles ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void swap(double *v, size_t a, size_t b)
{
	double t = v[a];

	v[a] = v[b];
	v[b] = t;
}

static double median3(double a, double b, double c)
{
	if (a < b)
		return b < c ? b : a < c ? c : a;
	return a < c ? a : b < c ? c : b;
}

/*
 * The k-th smallest of v[lo..hi) put at v[k], everything before it <= it
 * and after it >= it.  Quickselect with a three-way partition (latencies
 * repeat a lot); a capture is untrusted input, so when the ranges stop
 * shrinking fast (a crafted order defeating the median of three) the rest
 * is sorted instead: O(n log n) at worst.
 */
static double select_kth(double *v, size_t lo, size_t hi, size_t k)
{
	int budget = 2 * (int)log2((double)(hi - lo) + 1) + 8;

	while (hi - lo > 16) {
		double piv = median3(v[lo], v[lo + (hi - lo) / 2], v[hi - 1]);
		size_t lt = lo, i = lo, gt = hi;

		if (budget-- <= 0)
			break;
		while (i < gt) {
			if (v[i] < piv)
				swap(v, lt++, i++);
			else if (v[i] > piv)
				swap(v, i, --gt);
			else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return piv;
	}
	qsort(v + lo, hi - lo, sizeof(*v), cmp_double);
	return v[k];
}

size_t stats_rank(size_t n, double p)
{
	double r = ceil(p / 100.0 * (double)n);

	return r < 1 ? 1 : r > (double)n ? n : (size_t)r;
}

void stats_percentiles(double *v, size_t n, const double *p, size_t np, double *out)
{
	size_t lo = 0;

	for (size_t j = 0; j < np; j++) {
		size_t k = stats_rank(n, p[j]);

		/* ascending p: what is below the previous rank stays there */
		if (k - 1 < lo)
			lo = 0;
		out[j] = select_kth(v, lo, n, k - 1);
		lo = k - 1;
	}
}
