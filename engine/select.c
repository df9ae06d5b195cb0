// SPDX-License-Identifier: MIT
/*
 * select.c - request selection for httpanalyze and httpreplay: parsers of
 * the filter values (durations, RFC 3339 times or offsets from the capture
 * start, status specs) and the matcher of an engine request against a
 * filter.  One copy so that a flag reads the same in both tools; httpanalyze
 * turns the parsed values into SQL with bound parameters, httpreplay calls
 * htc_sel_match on each request the engine reports.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "htc_select.h"

int htc_sel_parse_duration(const char *s, uint64_t *ns)
{
	/* a bare number is milliseconds */
	static const struct { const char *unit; double ns; } units[] = {
		{ "", 1e6 }, { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	char *end;
	double v;

	/* strtod alone would also take spaces, signs, "inf" and "nan" */
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v * units[i].ns > 9.2e18)
			return -EINVAL;
		/* v >= 0: rounding half up is llround's, without needing libm
		 * in every program that links the engine */
		*ns = (uint64_t)(v * units[i].ns + 0.5);
		return 0;
	}
	return -EINVAL;
}

/* RFC 3339 date-time: 2026-01-02T03:04:05[.frac](Z|+hh:mm|-hh:mm).  By hand
 * around strptime because strptime has no fraction and glibc's %z does not
 * take "+01:00" on every version. */
static int parse_rfc3339(const char *s, unsigned flags, int64_t *ns)
{
	bool utc_default = flags & HTC_SEL_TIME_UTC_DEFAULT;
	struct tm tm = { 0 };
	const char *p;
	int64_t frac = 0, scale = 100000000, off = 0;
	time_t t;

	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return -EINVAL;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			for (; isdigit((unsigned char)*p); p++) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
	} else if (!utc_default) {
		return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		unsigned hh, mm;
		int used = 0;

		if (sscanf(p + 1, "%2u:%2u%n", &hh, &mm, &used) != 2 || used != 5 ||
		    hh > 23 || mm > 59)
			return -EINVAL;
		off = sign * ((int64_t)hh * 3600 + mm * 60);
		p += 6;
	} else if (!utc_default) {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ns = ((int64_t)t - off) * 1000000000 + frac;
	return 0;
}

int htc_sel_parse_time(const char *s, unsigned flags, int64_t *ns, bool *rel)
{
	uint64_t d;

	*rel = false;
	if (*s != '+' && !parse_rfc3339(s, flags, ns))
		return 0;
	if (htc_sel_parse_duration(*s == '+' ? s + 1 : s, &d) || d > INT64_MAX)
		return -EINVAL;
	*rel = true;
	*ns = (int64_t)d;
	return 0;
}

/* 1 to 3 digits, nothing else */
static int parse_code(const char *s, size_t n, int *out)
{
	int v = 0;

	if (!n || n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	/* an HTTP status is three digits, 100 to 599 (RFC 9110 15) */
	if (v < 100 || v > 599)
		return -EINVAL;
	*out = v;
	return 0;
}

int htc_sel_parse_status(const char *s, struct htc_select *f)
{
	const char *p = s;

	if (!*s)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *dash = memchr(p, '-', n);
		struct htc_sel_status r;

		if (f->nstatus >= HTC_SEL_MAX)
			return -EINVAL;
		if (n == 3 && p[0] >= '1' && p[0] <= '5' && tolower((unsigned char)p[1]) == 'x' &&
		    tolower((unsigned char)p[2]) == 'x') {
			r.lo = (p[0] - '0') * 100;
			r.hi = r.lo + 99;
		} else if (dash) {
			if (parse_code(p, (size_t)(dash - p), &r.lo) ||
			    parse_code(dash + 1, n - (size_t)(dash - p) - 1, &r.hi) || r.lo > r.hi)
				return -EINVAL;
		} else {
			if (parse_code(p, n, &r.lo))
				return -EINVAL;
			r.hi = r.lo;
		}
		f->status[f->nstatus++] = r;
		p += n;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	return 0;
}

static bool method_in_list(const char *list, const char *m)
{
	size_t mlen = strlen(m);
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == mlen && !strncasecmp(p, m, n))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static bool path_match(const char *glob, const char *path)
{
	size_t n;
	char *p;
	bool ok;

	if (!fnmatch(glob, path, 0))
		return true;
	/* also without the query string, so that a glob for a path matches
	 * "/api/x?id=1" */
	n = strcspn(path, "?");
	if (!path[n])
		return false;
	p = strndup(path, n);
	ok = p && !fnmatch(glob, p, 0);
	free(p);
	return ok;
}

/* A bound, resolved against the capture start; false when not checked. */
static bool bound(int64_t v, bool rel, uint64_t start_ns, int64_t *t)
{
	if (rel ? !start_ns : !v)
		return false;
	*t = v + (rel ? (int64_t)start_ns : 0);
	return true;
}

bool htc_sel_match(const struct htc_select *f, const struct htc_eng_request *r,
		   uint64_t start_ns)
{
	const char *method = r->method ? r->method : "";
	const char *path = r->path ? r->path : "";
	int64_t t;

	if (f->methods && !method_in_list(f->methods, method))
		return false;
	if (f->path_glob && !path_match(f->path_glob, path))
		return false;
	if (f->nstatus) {
		bool ok = false;

		for (size_t i = 0; i < f->nstatus && !ok; i++)
			ok = r->status >= f->status[i].lo && r->status <= f->status[i].hi;
		if (!ok)
			return false;
	}
	if (f->npids) {
		bool ok = false;

		for (size_t i = 0; i < f->npids && !ok; i++)
			ok = f->pids[i] == r->pid;
		if (!ok)
			return false;
	}
	if (f->nports) {
		bool ok = false;

		for (size_t i = 0; i < f->nports && !ok; i++)
			ok = f->ports[i] == r->ep.lport;
		if (!ok)
			return false;
	}
	/* comm is a fixed array, maybe without its NUL */
	if (f->comm && (strnlen(r->comm, sizeof(r->comm)) != strlen(f->comm) ||
			strncmp(f->comm, r->comm, sizeof(r->comm))))
		return false;
	/* [since, until), as httpanalyze's SQL */
	if (bound(f->since_ns, f->since_rel, start_ns, &t) && (int64_t)r->start_ns < t)
		return false;
	if (bound(f->until_ns, f->until_rel, start_ns, &t) && (int64_t)r->start_ns >= t)
		return false;
	if (f->min_duration_ns &&
	    (!r->end_ns || r->end_ns < r->start_ns || r->end_ns - r->start_ns < f->min_duration_ns))
		return false;
	return true;
}
