// SPDX-License-Identifier: MIT
/*
 * util.c - httpreplay's small helpers: the FNV-1a digest the engine uses for
 * response bodies, escaping of captured bytes for each output format,
 * percentiles, and the parsers of the selection filters.
 *
 * httpanalyze has twins of the escaping and the filter parsers
 * (analyze/output.c, analyze/report.c), but they live in the tool, not in
 * the engine library, and pull in SQLite; these follow the same rules
 * (units, RFC 3339, status classes) so the flags read the same in both.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "replay.h"

/* Must stay bit-identical to the engine's resp_body_hash: FNV-1a 64 over the
 * (dechunked) body bytes, offset basis RP_FNV_INIT. */
uint64_t rp_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void rp_escape(FILE *f, const void *p, size_t n, enum rp_esc mode)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (mode == RP_ESC_JSON) {
			switch (c) {
			case '"': fputs("\\\"", f); continue;
			case '\\': fputs("\\\\", f); continue;
			case '\n': fputs("\\n", f); continue;
			case '\r': fputs("\\r", f); continue;
			case '\t': fputs("\\t", f); continue;
			}
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
			continue;
		}
		if (c == '\\') {
			fputs("\\\\", f);
		} else if (mode == RP_ESC_CSV && c == '"') {
			fputs("\"\"", f);
		} else if (c < 0x20 || c >= 0x7f) {
			fprintf(f, "\\x%02x", c);
		} else {
			fputc(c, f);
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double rp_percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	/* nearest rank: the smallest value with at least p% of values <= it */
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

uint64_t rp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Whether a (alen bytes) equals the NUL-terminated b, ignoring ASCII case. */
bool rp_strieq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

const char *rp_skip_name(int reason)
{
	static const char *const names[RP_SKIP__COUNT] = {
		[RP_SKIP_NONE] = "none",
		[RP_SKIP_UNSAFE] = "unsafe_method",
		[RP_SKIP_PARTIAL] = "body_not_captured",
		[RP_SKIP_UNSENDABLE] = "unsendable",
	};

	if (reason < 0 || reason >= RP_SKIP__COUNT)
		return "unknown";
	return names[reason];
}

static int parse_int(const char *s, size_t n, int *out)
{
	int v = 0;

	if (!n || n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int rp_parse_status(const char *s, struct rp_filter *f)
{
	const char *p = s;

	if (!*s)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *dash = memchr(p, '-', n);
		struct rp_status_range r;

		if (f->nstatus >= sizeof(f->status) / sizeof(f->status[0]))
			return -EINVAL;
		if (n == 3 && isdigit((unsigned char)p[0]) && (p[1] == 'x' || p[1] == 'X') &&
		    (p[2] == 'x' || p[2] == 'X')) {
			r.lo = (p[0] - '0') * 100;
			r.hi = r.lo + 99;
		} else if (dash) {
			if (parse_int(p, dash - p, &r.lo) ||
			    parse_int(dash + 1, n - (dash - p) - 1, &r.hi) || r.lo > r.hi)
				return -EINVAL;
		} else {
			if (parse_int(p, n, &r.lo))
				return -EINVAL;
			r.hi = r.lo;
		}
		f->status[f->nstatus++] = r;
		p += n;
		if (*p == ',') {
			p++;
			if (!*p)
				return -EINVAL;
		}
	}
	return 0;
}

int rp_parse_time(const char *s, int64_t *ns, bool *rel)
{
	struct tm tm = {0};
	const char *p;
	int64_t frac = 0, off = 0;
	time_t t;

	*rel = false;
	if (*s == '+' || !strchr(s, '-')) {
		uint64_t d;

		/* an offset from the capture start, as httpanalyze reads it */
		if (rp_parse_duration(*s == '+' ? s + 1 : s, &d) || d > INT64_MAX)
			return -EINVAL;
		*rel = true;
		*ns = (int64_t)d;
		return 0;
	}
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return -EINVAL;
		if (*p == '.') {
			int64_t scale = 100000000;

			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			while (isdigit((unsigned char)*p)) {
				frac += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
	}
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' &&
		   isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ns = ((int64_t)t - off) * 1000000000LL + frac;
	return 0;
}

int rp_parse_duration(const char *s, uint64_t *ns)
{
	/* httpanalyze's units; a bare number is milliseconds, as there */
	static const struct { const char *unit; double ns; } units[] = {
		{ "", 1e6 }, { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	char *end;
	double v;

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
		*ns = (uint64_t)llround(v * units[i].ns);
		return 0;
	}
	return -EINVAL;
}

static bool method_in_list(const char *list, const char *m)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (rp_strieq(p, n, m))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

bool rp_filter_match(const struct rp_filter *f, const struct rp_req *r, uint64_t start_ns)
{
	if (f->methods && !method_in_list(f->methods, r->method))
		return false;
	if (f->path_glob && fnmatch(f->path_glob, r->path, 0) != 0) {
		/* also try without the query string, so that a glob for a
		 * path matches "/api/x?id=1" as a user of httpanalyze expects */
		size_t n = strcspn(r->path, "?");
		char *p = strndup(r->path, n);
		bool ok = p && fnmatch(f->path_glob, p, 0) == 0;

		free(p);
		if (!ok)
			return false;
	}
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
			ok = f->ports[i] == r->lport;
		if (!ok)
			return false;
	}
	if (f->comm && strcmp(f->comm, r->comm) != 0)
		return false;
	/* start_ns (the capture start) 0: relative bounds are not known yet,
	 * checked later */
	if ((f->since_rel && start_ns) || (f->since_ns && !f->since_rel)) {
		int64_t t = f->since_ns + (f->since_rel ? (int64_t)start_ns : 0);

		if ((int64_t)r->start_ns < t)
			return false;
	}
	if ((f->until_rel && start_ns) || (f->until_ns && !f->until_rel)) {
		int64_t t = f->until_ns + (f->until_rel ? (int64_t)start_ns : 0);

		if ((int64_t)r->start_ns > t)
			return false;
	}
	if (f->min_duration_ns) {
		if (!r->end_ns || r->end_ns - r->start_ns < f->min_duration_ns)
			return false;
	}
	return true;
}

void rp_req_free(struct rp_req *r)
{
	if (!r)
		return;
	free(r->err_msg);
	if (r->mem) {
		free(r->mem);	/* r itself */
		return;
	}
	free(r->method);
	free(r->path);
	free(r->host);
	for (size_t i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	free(r->body);
	free(r);
}
