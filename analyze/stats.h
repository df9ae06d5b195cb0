/* SPDX-License-Identifier: MIT */
/*
 * stats.h - groups counted while loading, with nearest-rank percentiles.
 *
 * The loader sees every request and call once; counting them per group
 * (endpoint, downstream, process) as they go by costs a hash lookup, while
 * the same GROUP BY over the finished tables costs a sort of every row
 * (0.4 to 0.7 s per query for 500,000 requests, measured).  load.c writes the
 * groups into the *_stats tables at the end of the load; summary (which
 * takes no filters) reads those; the filtered reports run their GROUP BY.
 *
 * Percentiles here and in the percentile_nr() SQL aggregate are the same
 * function (nearest rank: the smallest value with at least p% of the
 * values <= it), so a stats table and the GROUP BY it replaces agree.
 */
#ifndef HTTPANALYZE_STATS_H
#define HTTPANALYZE_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_KEY_STRS 4

/* A group's key: up to STATS_KEY_STRS byte strings and one integer. */
struct stats_key {
	const char *s[STATS_KEY_STRS];
	size_t n[STATS_KEY_STRS];
	int64_t i;
};

struct stats_group {
	struct stats_key key;		/* strings owned by the table, NUL-terminated */
	uint64_t count;			/* stats_add calls */
	uint64_t errors;		/* ... with error set */
	double *ms;			/* the non-NULL durations, in arrival order */
	size_t nms, cap;
	uint64_t hash;
};

struct stats;

struct stats *stats_new(void);
void stats_free(struct stats *t);
/* Count one row in k's group; ms NULL: no duration (unanswered).
 * Returns 0 or -ENOMEM (the table is then unusable: stats_ok says so). */
int stats_add(struct stats *t, const struct stats_key *k, int error, const double *ms);
/* Add group from's counts and durations to k's group of t (from is
 * another table's: groups merged under a coarser key).  0 or -ENOMEM. */
int stats_merge(struct stats *t, const struct stats_key *k, const struct stats_group *from);
int stats_ok(const struct stats *t);
size_t stats_count(const struct stats *t);
/* The i-th group, 0 <= i < stats_count, in order of first appearance. */
struct stats_group *stats_group(struct stats *t, size_t i);
/* The group of the last stats_add or stats_merge (NULL before one, or
 * after ENOMEM); groups do not move while the table lives. */
struct stats_group *stats_last(struct stats *t);

/* The nearest rank of percentile p among n > 0 values: ceil(p/100 * n),
 * at least 1, at most n (1-based).  The one rule of every percentile
 * httpanalyze prints. */
size_t stats_rank(size_t n, double p);

/*
 * Nearest-rank percentiles of v[0..n): out[j] = the smallest value with at
 * least p[j]% of v <= it, i.e. sorted(v)[ceil(p[j]/100 * n) - 1] (at least
 * the first).  p must be ascending.  Reorders v (selection, not a full
 * sort: linear time).  n > 0.
 */
void stats_percentiles(double *v, size_t n, const double *p, size_t np, double *out);

#endif /* HTTPANALYZE_STATS_H */
