// SPDX-License-Identifier: MIT
/*
 * util.c - httpreplay's small helpers: escaping of captured bytes for each
 * output format, percentiles, and the view of a loaded request for the
 * selection matcher.  The response digest is the engine's (htc_fnv1a64).
 *
 * The selection filters themselves (parsers and matcher) are httpanalyze's,
 * shared through the engine library (htc_select.h, engine/select.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "replay.h"

void rp_escape(FILE *f, const void *p, size_t n, enum rp_esc mode)
{
	/* the three tools' one rule and syntax (libhtc, htc_text.c) */
	htc_fescape(f, p, n, mode == RP_ESC_JSON ? HTC_ESC_JSON : HTC_ESC_TEXT);
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

bool rp_filter_match(const struct htc_select *f, const struct rp_req *r, uint64_t start_ns)
{
	/* a view of the fields the matcher reads */
	struct htc_eng_request v = {
		.method = r->method, .path = r->path, .status = r->status, .pid = r->pid,
		.start_ns = r->start_ns, .end_ns = r->end_ns,
	};

	v.ep.lport = r->lport;
	memcpy(v.comm, r->comm, sizeof(v.comm));
	return htc_sel_match(f, &v, start_ns);
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
