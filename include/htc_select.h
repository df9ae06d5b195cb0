/* SPDX-License-Identifier: MIT */
/*
 * htc_select.h - request selection shared by httpanalyze and httpreplay:
 * the parsers of the filter values (--status, --since/--until,
 * --min-duration) and the matcher of an engine request against a filter.
 *
 * httpanalyze applies its filters in SQL (bound parameters) and uses only
 * the parsers; httpreplay uses the parsers and htc_sel_match, so "the same
 * filters as httpanalyze requests" is one piece of code.  Built into the
 * engine library (engine/select.c), which both tools link.
 */
#ifndef HTC_SELECT_H
#define HTC_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htc_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTC_SEL_MAX 16		/* status ranges, pids, ports */

struct htc_sel_status { int lo, hi; };

/* A request filter; zeroed = match everything. */
struct htc_select {
	const char *methods;		/* comma-separated, case-insensitive; NULL = any */
	const char *path_glob;		/* fnmatch(3), tried on the path with and
					 * without its query; NULL = any */
	struct htc_sel_status status[HTC_SEL_MAX];	size_t nstatus;	/* OR-ed */
	uint32_t pids[HTC_SEL_MAX];	size_t npids;
	uint16_t ports[HTC_SEL_MAX];	size_t nports;	/* server (local) port */
	const char *comm;		/* exact; NULL = any */
	int64_t since_ns, until_ns;	/* wall clock, 0 = unbounded; [since, until) */
	bool since_rel, until_rel;	/* relative to the capture start */
	uint64_t min_duration_ns;	/* 0 = none; unanswered requests never pass */
};

/* Parse a duration: "250ms", "1.5s", "2m", units ns us ms s m h; a bare
 * number is milliseconds.  Returns 0 or -EINVAL. */
int htc_sel_parse_duration(const char *s, uint64_t *ns);

/* htc_sel_parse_time flags */
#define HTC_SEL_TIME_UTC_DEFAULT 0x1	/* accept a time without zone (UTC) and a
					 * date alone (midnight UTC) */
/*
 * Parse --since/--until: RFC 3339 "2026-11-25T20:40:00[.123](Z|+01:00)"
 * ('T', 't' or ' ' between date and time; 'Z' or 'z'), or an offset from
 * the capture start "[+]DURATION" (*rel set, *ns the offset).
 * Returns 0 or -EINVAL.
 */
int htc_sel_parse_time(const char *s, unsigned flags, int64_t *ns, bool *rel);

/* Append "404", "4xx", "400-499", comma-separated, to f->status (at most
 * HTC_SEL_MAX in all).  Returns 0 or -EINVAL. */
int htc_sel_parse_status(const char *s, struct htc_select *f);

/* Whether r passes f.  start_ns (the capture start, wall clock) resolves
 * relative times; 0: relative bounds are not checked (yet). */
bool htc_sel_match(const struct htc_select *f, const struct htc_eng_request *r,
		   uint64_t start_ns);

#ifdef __cplusplus
}
#endif
#endif /* HTC_SELECT_H */
