// SPDX-License-Identifier: MIT
/*
 * report.c - the reports of httpanalyze's subcommands.  Listings are one
 * SQL query each, written by output.c in the chosen format; the filters
 * build a WHERE clause of fixed text whose values are bound parameters, so
 * nothing from the command line or from a capture is ever spliced into SQL.
 * Percentiles are nearest-rank (stats_rank: schema.c percentile_nr, the *_stats
 * tables and `latency`): the smallest observed value with at least p% of the
 * values at or below it.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htc_select.h"
#include "report.h"
#include "stats.h"

/* ---- command-line value parsers: thin wrappers over the selection parsers
 * shared with httpreplay (engine/select.c), kept for httpanalyze.c ---- */

int report_parse_duration_ms(const char *s, double *ms)
{
	uint64_t ns;

	if (htc_sel_parse_duration(s, &ns))
		return -EINVAL;
	*ms = (double)ns / 1e6;
	return 0;
}

/* Strict: an absolute time must say its zone (no UTC default). */
int report_parse_when(const char *s, struct report_when *w)
{
	bool rel;

	w->set = 1;
	if (htc_sel_parse_time(s, 0, &w->ns, &rel))
		return -EINVAL;
	w->relative = rel;
	return 0;
}

_Static_assert(REPORT_MAX_STATUS == HTC_SEL_MAX, "report_opts holds what htc_sel_parse_status accepts");

int report_parse_status(const char *s, struct report_opts *o)
{
	struct htc_select f = { 0 };

	o->nstatus = 0;
	if (htc_sel_parse_status(s, &f))
		return -EINVAL;
	for (size_t i = 0; i < f.nstatus; i++) {
		o->status_lo[i] = f.status[i].lo;
		o->status_hi[i] = f.status[i].hi;
	}
	o->nstatus = (int)f.nstatus;
	return 0;
}

/* ---- query building with bound values ---- */

#define MAX_BINDS 48

struct query {
	char sql[8192];
	size_t len;
	int nb;
	struct { int kind; int64_t i; double d; const char *s; } b[MAX_BINDS];
	int overflow;
};

static void q_add(struct query *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void q_add(struct query *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(q->sql + q->len, sizeof(q->sql) - q->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(q->sql) - q->len)
		q->overflow = 1;
	else
		q->len += (size_t)n;
}

static void q_int(struct query *q, int64_t v)
{
	if (q->nb == MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	q->b[q->nb].kind = 0;
	q->b[q->nb++].i = v;
}

static void q_dbl(struct query *q, double v)
{
	if (q->nb == MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	q->b[q->nb].kind = 1;
	q->b[q->nb++].d = v;
}

static void q_str(struct query *q, const char *s)
{
	if (q->nb == MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	q->b[q->nb].kind = 2;
	q->b[q->nb++].s = s;
}

static sqlite3_stmt *q_prepare(sqlite3 *db, struct query *q)
{
	sqlite3_stmt *st = NULL;

	if (q->overflow) {
		fprintf(stderr, "httpanalyze: internal error: query too long\n");
		return NULL;
	}
	if (sqlite3_prepare_v2(db, q->sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		return NULL;
	}
	for (int i = 0; i < q->nb; i++) {
		if (q->b[i].kind == 0)
			sqlite3_bind_int64(st, i + 1, q->b[i].i);
		else if (q->b[i].kind == 1)
			sqlite3_bind_double(st, i + 1, q->b[i].d);
		else
			sqlite3_bind_text(st, i + 1, q->b[i].s, -1, SQLITE_STATIC);
	}
	return st;
}

sqlite3_stmt *report_prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/* Capture start: the earliest file start (for relative --since/--until). */
static int64_t capture_start(sqlite3 *db)
{
	sqlite3_stmt *st = report_prep(db, "SELECT min(coalesce(start_ns, 0)) FROM files");
	int64_t v = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The service of a request aliased r (services, by its process). */
#define SVC_COL "coalesce(s.service, r.comm || '@' || r.host) AS service"
#define SVC_JOIN "LEFT JOIN services s ON s.file_idx = r.file_idx AND s.pid = r.pid"

/* AND the row aliased a was served or made by service name: the whole
 * name, or a prefix of it that ends where a part of the name ends
 * ('python3', 'python3 backend.py', 'python3 backend.py:8081', 'nginx:80'),
 * or the name without its ports ('nginx@vm') (README, Service names). */
static void q_service(struct query *q, const char *a, const char *name)
{
	int n = q->nb + 1;

	q_add(q, " AND (%s.file_idx, %s.pid) IN (SELECT file_idx, pid FROM services"
		 " WHERE " REPORT_SERVICE_MATCH("?%d") ")", a, a, n, n, n, n, n);
	q_str(q, name);
}

/* AND-ed filters on the requests table aliased r. */
static void q_filters(sqlite3 *db, struct query *q, const struct report_opts *o)
{
	int64_t base = (o->since.set && o->since.relative) ||
		       (o->until.set && o->until.relative) ? capture_start(db) : 0;

	if (o->method) {
		q_add(q, " AND r.method = upper(?)");
		q_str(q, o->method);
	}
	if (o->path_glob) {
		q_add(q, " AND r.path GLOB ?");
		q_str(q, o->path_glob);
	}
	if (o->comm) {
		q_add(q, " AND r.comm = ?");
		q_str(q, o->comm);
	}
	if (o->host) {
		q_add(q, " AND r.host = ?");
		q_str(q, o->host);
	}
	if (o->service)
		q_service(q, "r", o->service);
	if (o->trace_id) {
		q_add(q, " AND r.trace_id = lower(?)");
		q_str(q, o->trace_id);
	}
	if (o->pid >= 0) {
		q_add(q, " AND r.pid = ?");
		q_int(q, o->pid);
	}
	if (o->nports) {
		q_add(q, " AND r.server_port IN (");
		for (int i = 0; i < o->nports; i++) {
			q_add(q, "%s?", i ? ", " : "");
			q_int(q, o->ports[i]);
		}
		q_add(q, ")");
	}
	if (o->min_duration_ms >= 0) {
		q_add(q, " AND r.duration_ms >= ?");
		q_dbl(q, o->min_duration_ms);
	}
	if (o->nstatus) {
		q_add(q, " AND (");
		for (int i = 0; i < o->nstatus; i++) {
			q_add(q, "%s(r.status BETWEEN ? AND ?)", i ? " OR " : "");
			q_int(q, o->status_lo[i]);
			q_int(q, o->status_hi[i]);
		}
		q_add(q, ")");
	}
	if (o->since.set) {
		q_add(q, " AND r.start_ns >= ?");
		q_int(q, o->since.ns + (o->since.relative ? base : 0));
	}
	if (o->until.set) {
		q_add(q, " AND r.start_ns < ?");
		q_int(q, o->until.ns + (o->until.relative ? base : 0));
	}
}

int report_has_filters(const struct report_opts *o)
{
	return o->method || o->path_glob || o->comm || o->host || o->service || o->trace_id ||
	       o->pid >= 0 || o->nports ||
	       o->min_duration_ms >= 0 || o->nstatus || o->since.set || o->until.set;
}

sqlite3_stmt *report_prep_filtered(sqlite3 *db, const struct report_opts *o,
				   const char *head, const char *tail)
{
	struct query q = { 0 };

	q_add(&q, "%s", head);
	q_filters(db, &q, o);
	q_add(&q, "%s", tail);
	return q_prepare(db, &q);
}

static void q_order_limit(struct query *q, const struct report_opts *o)
{
	const char *s = o->sort ? o->sort : "start";

	if (!strcmp(s, "duration"))
		q_add(q, " ORDER BY r.duration_ms DESC NULLS FIRST, r.request_id");
	else if (!strcmp(s, "status"))
		q_add(q, " ORDER BY r.status DESC NULLS FIRST, r.start_ns, r.request_id");
	else
		q_add(q, " ORDER BY r.start_ns, r.request_id");
	if (o->limit >= 0) {
		q_add(q, " LIMIT ?");
		q_int(q, o->limit);
	}
}

int64_t report_rows(sqlite3 *db, const struct report_opts *o, sqlite3_stmt *st)
{
	int64_t n;

	if (!st)
		return -EIO;
	n = out_stmt(o->fmt, o->out, st, 3);
	if (n == -EIO)
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return n;
}

static int run_listing(sqlite3 *db, const struct report_opts *o, struct query *q)
{
	int64_t n = report_rows(db, o, q_prepare(db, q));

	return n < 0 ? (int)n : 0;
}

/* ---- requests, errors ---- */

int report_requests(sqlite3 *db, const struct report_opts *o)
{
	struct query q = { 0 };

	q_add(&q, "SELECT r.request_id, r.parent_request_id, r.parent_ambiguous, r.parent_evidence,"
		  " r.trace_id, rfc3339(r.start_ns) AS start,"
		  " r.duration_ms, r.client_latency_ns / 1e6 AS client_ms,"
		  " r.method, r.path, r.status, r.protocol, r.pid, r.comm,"
		  " r.ncalls AS calls, r.host, " SVC_COL " FROM requests r " SVC_JOIN " WHERE 1");
	q_filters(db, &q, o);
	q_order_limit(&q, o);
	return run_listing(db, o, &q);
}

int report_errors(sqlite3 *db, const struct report_opts *o)
{
	struct query q = { 0 };

	q_add(&q, "SELECT r.request_id, r.parent_request_id, r.parent_ambiguous, rfc3339(r.start_ns) AS start,"
		  " r.duration_ms, r.method, r.path, r.status, r.protocol,"
		  " CASE WHEN r.unanswered THEN 'unanswered' WHEN r.reset THEN 'reset'"
		  "  WHEN (r.flags >> 11) & 1 THEN 'stream reset'"
		  "  WHEN r.grpc_status > 0 THEN 'grpc-status ' || r.grpc_status"
		  "  WHEN r.status >= 500 THEN '5xx' WHEN r.status >= 400 THEN '4xx'"
		  "  ELSE 'error' END AS reason,"
		  " r.pid, r.comm, r.host, " SVC_COL " FROM requests r " SVC_JOIN
		  " WHERE (r.error OR r.unanswered OR r.reset OR r.status >= 400)");
	q_filters(db, &q, o);
	q_order_limit(&q, o);
	return run_listing(db, o, &q);
}

/* ---- deps ---- */

int report_deps(sqlite3 *db, const struct report_opts *o)
{
	struct query q = { 0 };

	q_add(&q, "SELECT coalesce(s.service, c.comm || '@' || c.host) AS service,"
		  " coalesce(r.endpoint, '(no request)') AS caller, c.protocol,"
		  " c.remote_ip || ':' || c.remote_port AS downstream, c.name,"
		  " count(*) AS calls, sum(c.error OR c.unanswered) AS errors,"
		  " percentile_nr(c.duration_ms, 50) AS p50_ms,"
		  " percentile_nr(c.duration_ms, 90) AS p90_ms,"
		  " percentile_nr(c.duration_ms, 99) AS p99_ms,"
		  /* how the calls got their caller (issue 14): proven, or a guess */
		  " sum(c.request_id IS NOT NULL AND NOT c.ambiguous) AS proven,"
		  " sum(c.ambiguous) AS guessed,"
		  " percentile_nr(c.server_latency_ns / 1e6, 50) AS server_p50_ms"
		  " FROM calls c LEFT JOIN requests r ON r.request_id = c.request_id"
		  " LEFT JOIN services s ON s.file_idx = c.file_idx AND s.pid = c.pid WHERE 1");
	if (o->service)
		q_service(&q, "c", o->service);
	q_add(&q, " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, calls DESC, 4, 5");
	if (o->limit >= 0) {
		q_add(&q, " LIMIT ?");
		q_int(&q, o->limit);
	}
	return run_listing(db, o, &q);
}

/* ---- latency ---- */

const double report_hist_le_ms[REPORT_HIST_BUCKETS] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
	INFINITY,
};
#define hist_le_ms report_hist_le_ms
#define NBUCKETS ((size_t)REPORT_HIST_BUCKETS)

struct lat_group {
	char *service, *endpoint;
	double *v;
	size_t n, cap;
	uint64_t unanswered;
};

/* v sorted ascending, n > 0 */
static double pick(const double *v, size_t n, double p)
{
	return v[stats_rank(n, p) - 1];
}

static void print_hist_label(char *buf, size_t cap, size_t b)
{
	if (b + 1 == NBUCKETS)
		snprintf(buf, cap, "> %g ms", hist_le_ms[b - 1]);
	else
		snprintf(buf, cap, "<= %g ms", hist_le_ms[b]);
}

static void lat_emit(const struct report_opts *o, struct out *lst, struct lat_group *g, int json)
{
	struct report_lat r = {
		.service = g->service, .endpoint = g->endpoint, .n = g->n,
		.unanswered = g->unanswered,
	};

	(void)json;
	/* values arrive sorted (ORDER BY duration_ms) */
	for (size_t i = 0, b = 0; i < g->n; i++) {
		while (g->v[i] > hist_le_ms[b])
			b++;
		r.hist[b]++;
	}
	if (g->n) {
		r.min = g->v[0];
		r.p50 = pick(g->v, g->n, 50);
		r.p90 = pick(g->v, g->n, 90);
		r.p99 = pick(g->v, g->n, 99);
		r.max = g->v[g->n - 1];
	}
	report_latency_emit(o, lst, &r);
}

void report_latency_emit(const struct report_opts *o, struct out *lst, const struct report_lat *g)
{
	const uint64_t *hist = g->hist;
	uint64_t maxc = 0;
	size_t first = NBUCKETS, last = 0;
	double p50 = g->p50, p90 = g->p90, p99 = g->p99;
	int json = o->fmt == OUT_JSON;

	for (size_t b = 0; b < NBUCKETS; b++) {
		if (!hist[b])
			continue;
		if (first == NBUCKETS)
			first = b;
		last = b;
		if (hist[b] > maxc)
			maxc = hist[b];
	}
	if (json) {
		FILE *f = o->out;

		fputs("{\"service\": ", f);
		out_json_string(f, g->service, strlen(g->service));
		fputs(", \"endpoint\": ", f);
		out_json_string(f, g->endpoint, strlen(g->endpoint));
		fprintf(f, ", \"requests\": %llu, \"unanswered\": %llu", (unsigned long long)g->n,
			(unsigned long long)g->unanswered);
		if (g->n)
			fprintf(f, ", \"min_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
				"\"p99_ms\": %.3f, \"max_ms\": %.3f", g->min, p50, p90, p99,
				g->max);
		else
			fputs(", \"min_ms\": null, \"p50_ms\": null, \"p90_ms\": null, "
			      "\"p99_ms\": null, \"max_ms\": null", f);
		fputs(", \"histogram\": [", f);
		for (size_t b = first; g->n && b <= last; b++) {
			if (b + 1 == NBUCKETS)
				fprintf(f, "%s{\"le_ms\": null, \"count\": %llu}", b > first ? ", " : "",
					(unsigned long long)hist[b]);
			else
				fprintf(f, "%s{\"le_ms\": %g, \"count\": %llu}", b > first ? ", " : "",
					hist_le_ms[b], (unsigned long long)hist[b]);
		}
		fputs("]}\n", f);
		return;
	}
	if (lst) {
		out_str(lst, g->service);
		out_str(lst, g->endpoint);
		out_int(lst, (int64_t)g->n);
		out_int(lst, (int64_t)g->unanswered);
		if (g->n) {
			out_real(lst, g->min);
			out_real(lst, p50);
			out_real(lst, p90);
			out_real(lst, p99);
			out_real(lst, g->max);
		}
		out_end_row(lst);
		return;
	}
	/* table: a block per endpoint with its histogram */
	fputs("\n", o->out);
	out_term_escape(o->out, g->endpoint, strlen(g->endpoint));
	fputs("  (", o->out);
	out_term_escape(o->out, g->service, strlen(g->service));
	fprintf(o->out, ")  requests %llu", (unsigned long long)g->n);
	if (g->unanswered)
		fprintf(o->out, " (+%llu unanswered)", (unsigned long long)g->unanswered);
	if (g->n)
		fprintf(o->out, "  min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms",
			g->min, p50, p90, p99, g->max);
	fputc('\n', o->out);
	for (size_t b = first; g->n && b <= last; b++) {
		char label[32];
		int w = maxc ? (int)((hist[b] * 40 + maxc - 1) / maxc) : 0;

		print_hist_label(label, sizeof(label), b);
		fprintf(o->out, "  %12s |%-40.*s| %llu\n", label, w,
			"########################################", (unsigned long long)hist[b]);
	}
}

int report_latency_begin(const struct report_opts *o, struct out **lst)
{
	static const char *const cols[] = {
		"service", "endpoint", "requests", "unanswered", "min_ms", "p50_ms", "p90_ms",
		"p99_ms", "max_ms",
	};

	*lst = NULL;
	if (o->fmt == OUT_CSV) {
		*lst = out_new(o->fmt, o->out);
		if (!*lst || out_begin(*lst, 9, cols))
			return -ENOMEM;
	}
	if (o->fmt == OUT_TABLE)
		fputs("latency per endpoint (ms, nearest-rank percentiles)\n", o->out);
	return 0;
}

int report_latency(sqlite3 *db, const struct report_opts *o)
{
	struct query q = { 0 };
	struct lat_group g = { 0 };
	struct out *lst = NULL;
	sqlite3_stmt *st;
	int rc, err = 0;

	/* one sorted pass: percentiles and histograms computed in C */
	q_add(&q, "SELECT " SVC_COL ", r.endpoint, r.duration_ms FROM requests r " SVC_JOIN
		  " WHERE 1");
	q_filters(db, &q, o);
	q_add(&q, " ORDER BY 1, 2, r.duration_ms IS NULL, r.duration_ms");
	st = q_prepare(db, &q);
	if (!st)
		return -EIO;
	if ((err = report_latency_begin(o, &lst)))
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *svc = (const char *)sqlite3_column_text(st, 0);
		const char *ep = (const char *)sqlite3_column_text(st, 1);

		svc = svc ? svc : "";
		ep = ep ? ep : "";
		if (!g.service || strcmp(g.service, svc) || strcmp(g.endpoint, ep)) {
			if (g.service)
				lat_emit(o, lst, &g, o->fmt == OUT_JSON);
			free(g.service);
			free(g.endpoint);
			g.service = strdup(svc);
			g.endpoint = strdup(ep);
			g.n = 0;
			g.unanswered = 0;
			if (!g.service || !g.endpoint) {
				err = -ENOMEM;
				goto cleanup;
			}
		}
		if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
			g.unanswered++;
			continue;
		}
		if (g.n == g.cap) {
			size_t cap = g.cap ? g.cap * 2 : 256;
			double *nv = realloc(g.v, cap * sizeof(*nv));

			if (!nv) {
				err = -ENOMEM;
				goto cleanup;
			}
			g.v = nv;
			g.cap = cap;
		}
		g.v[g.n++] = sqlite3_column_double(st, 2);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		err = -EIO;
		goto cleanup;
	}
	if (g.service)
		lat_emit(o, lst, &g, o->fmt == OUT_JSON);
cleanup:
	if (lst && (rc = out_finish(lst)) && !err)
		err = rc;
	free(g.service);
	free(g.endpoint);
	free(g.v);
	sqlite3_finalize(st);
	return err;
}

/* ---- sql ---- */

/*
 * User SQL is read-only by default: `httpanalyze sql` runs on a database of
 * someone else's capture, often as whoever opened the file, and SQLite
 * statements can do more than read (ATTACH creates files, VACUUM INTO copies
 * the data to a file of its own mode, fts3_tokenizer hands out a pointer).
 * The authorizer allows what reading needs and denies the rest by name.
 */
struct sql_guard {
	char denied[160];	/* what the authorizer refused, for the message */
};

/* Pragmas that only report (with or without a table name as argument). */
static const char *const sql_pragmas_ro[] = {
	"table_info", "table_xinfo", "table_list", "index_list", "index_info",
	"index_xinfo", "foreign_key_list", "database_list", "collation_list",
	"function_list", "module_list", "pragma_list", "compile_options",
};

static int sql_authorize(void *ctx, int action, const char *a1, const char *a2,
			 const char *dbname, const char *trigger)
{
	struct sql_guard *g = ctx;
	const char *what = NULL;

	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		/* a2: the function's name */
		if (a2 && !sqlite3_stricmp(a2, "fts3_tokenizer"))
			what = "the function fts3_tokenizer";
		else
			return SQLITE_OK;
		break;
	case SQLITE_PRAGMA:
		/* a1: the pragma, a2: its argument (NULL when none) */
		for (size_t i = 0; a1 && i < sizeof(sql_pragmas_ro) / sizeof(sql_pragmas_ro[0]); i++)
			if (!sqlite3_stricmp(a1, sql_pragmas_ro[i]))
				return SQLITE_OK;
		snprintf(g->denied, sizeof(g->denied), "PRAGMA %.64s", a1 ? a1 : "?");
		return SQLITE_DENY;
	case SQLITE_ATTACH:
		what = "ATTACH";
		break;
	case SQLITE_DETACH:
		what = "DETACH";
		break;
	default:
		what = "a statement that changes the database";
		break;
	}
	snprintf(g->denied, sizeof(g->denied), "%s", what);
	return SQLITE_DENY;
}

static void sql_error(sqlite3 *db, const struct sql_guard *g)
{
	if (g && g->denied[0])
		fprintf(stderr, "httpanalyze: sql: %s is not allowed: queries are read-only "
			"(--writable allows changes)\n", g->denied);
	else
		fprintf(stderr, "httpanalyze: sql error: %s\n", sqlite3_errmsg(db));
}

static int sql_run(sqlite3 *db, const struct report_opts *o, const char *sql, struct sql_guard *g)
{
	const char *p = sql;

	while (p && *p) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		int64_t n;

		if (sqlite3_prepare_v2(db, p, -1, &st, &tail) != SQLITE_OK) {
			sql_error(db, g);
			return -EIO;
		}
		p = tail;
		if (!st)	/* whitespace or a comment */
			continue;
		if (g && !sqlite3_stmt_readonly(st)) {
			/* what the authorizer has no code for (VACUUM, ...) */
			const char *s = sqlite3_sql(st);

			snprintf(g->denied, sizeof(g->denied), "the statement \"%.40s%s\"", s, strlen(s) > 40 ? "..." : "");
			sql_error(db, g);
			sqlite3_finalize(st);
			return -EPERM;
		}
		if (sqlite3_column_count(st) == 0) {
			int rc;

			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (rc != SQLITE_DONE) {
				sql_error(db, g);
				sqlite3_finalize(st);
				return -EIO;
			}
			sqlite3_finalize(st);
			continue;
		}
		n = out_stmt(o->fmt, o->out, st, -1);
		if (n == -EIO)
			sql_error(db, g);
		sqlite3_finalize(st);
		if (n < 0)
			return (int)n;
	}
	return 0;
}

int report_sql(sqlite3 *db, const struct report_opts *o, const char *sql)
{
	struct sql_guard g = { "" };
	int err;

	if (o->writable)
		return sql_run(db, o, sql, NULL);
	sqlite3_set_authorizer(db, sql_authorize, &g);
	err = sql_run(db, o, sql, &g);
	sqlite3_set_authorizer(db, NULL, NULL);
	return err;
}

/* ---- summary ---- */

const char *const report_summary_sections[] = {
	"totals", "tls", "file", "process", "endpoint", "linked", "evidence", "dependency",
	"undecoded", "lost", NULL,
};

/* One listing of summary: in a table under its title; in JSON each row
 * carries "section": name; in CSV only the one --section asked for. */
static int section(sqlite3 *db, const struct report_opts *o, const char *title,
		   const char *name, const char *sql)
{
	char buf[4096];
	int64_t n;

	if (o->section && strcmp(o->section, name))
		return 0;
	if (o->fmt == OUT_TABLE) {
		fprintf(o->out, "\n%s\n", title);
		snprintf(buf, sizeof(buf), "%s", sql);
	} else if (o->fmt == OUT_CSV) {
		snprintf(buf, sizeof(buf), "%s", sql);
	} else {
		snprintf(buf, sizeof(buf), "SELECT '%s' AS section, * FROM (%s)", name, sql);
	}
	n = report_rows(db, o, report_prep(db, buf));
	if (n == 0 && o->fmt == OUT_TABLE)
		fputs("  (none)\n", o->out);
	return n < 0 ? (int)n : 0;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = report_prep(db, sql);
	int64_t v = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* "tls  N connections: D decrypted (openssl n, ...), E encrypted (reason
 * n, ...)": one line, when the capture has TLS connections. */
/* The summary's "tls" line, from the table tbl (connections, or the
 * ClickHouse reports' copy of its tls columns). */
int report_summary_tls(sqlite3 *db, const struct report_opts *o, const char *tbl)
{
	char sql[256];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql),
		 "SELECT tls <> 'encrypted', CASE WHEN tls = 'encrypted' THEN tls_reason ELSE tls END,"
		 " count(*) FROM %s WHERE tls IS NOT NULL GROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC, 2", tbl);
	st = report_prep(db, sql);
	int64_t n[2] = { 0, 0 };
	char part[2][512] = { "", "" };
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int dec = sqlite3_column_int(st, 0);
		const char *what = (const char *)sqlite3_column_text(st, 1);
		size_t len = strlen(part[dec]);

		n[dec] += sqlite3_column_int64(st, 2);
		snprintf(part[dec] + len, sizeof(part[dec]) - len, "%s%s %lld", len ? ", " : "",
			 what ? what : "?", sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	if (n[0] + n[1])
		fprintf(o->out, "tls        %lld connection%s: %lld decrypted%s%s%s, %lld encrypted%s%s%s\n",
			(long long)(n[0] + n[1]), n[0] + n[1] == 1 ? "" : "s", (long long)n[1],
			n[1] ? " (" : "", part[1], n[1] ? ")" : "", (long long)n[0],
			n[0] ? " (" : "", part[0], n[0] ? ")" : "");
	return 0;
}

/* The summary over the SQLite database of load.c. */
int report_summary(sqlite3 *db, const struct report_opts *o)
{
	static const struct report_summary_src src = {
		.requests = "SELECT count(*) FROM requests",
		.calls = "SELECT count(*) FROM calls",
		.linked = "SELECT count(*) FROM requests WHERE parent_call_id IS NOT NULL",
		.tls = "connections",
		.processes = "WITH p AS (SELECT file_idx, pid, max(comm) AS comm,"
			     "   count(*) AS conns FROM connections GROUP BY 1, 2),"
			     " r AS (SELECT file_idx, pid, requests AS n FROM process_stats),"
			     " k AS (SELECT file_idx, pid, calls AS n FROM process_stats)",
		.evidence = "SELECT evidence, count(*) AS calls,"
			    " sum(child_request_id IS NOT NULL) AS to_traced_requests,"
			    " sum(protocol IN ('http', 'http2', 'grpc')) AS http"
			    " FROM calls GROUP BY evidence",
		.undecoded_count = "SELECT count(*) FROM connections WHERE protocol IN ('tls', 'unknown')"
				   " AND bytes_in + bytes_out > 0",
		.undecoded = "SELECT protocol, CASE role WHEN 'server' THEN local_ip || ':' || local_port"
			     "  ELSE remote_ip || ':' || remote_port END AS server,"
			     " count(*) AS connections, sum(bytes_in) AS bytes_in,"
			     " sum(bytes_out) AS bytes_out, group_concat(DISTINCT comm) AS processes"
			     " FROM connections WHERE protocol IN ('tls', 'unknown')"
			     " AND bytes_in + bytes_out > 0"
			     " GROUP BY 1, 2 ORDER BY sum(bytes_in + bytes_out) DESC, 1, 2 LIMIT 10",
	};

	return report_summary_from(db, o, &src);
}

int report_summary_from(sqlite3 *db, const struct report_opts *o,
			const struct report_summary_src *src)
{
	int64_t lost = scalar(db, "SELECT coalesce(sum(lost_total), 0) FROM files");
	int64_t joined = scalar(db, "SELECT coalesce(sum(joined_midstream), 0) FROM files");
	int64_t unseen = scalar(db, "SELECT coalesce(sum(unseen_bytes), 0) FROM files");
	char sqlbuf[2048];
	int err;

	snprintf(sqlbuf, sizeof(sqlbuf),
		 "SELECT rfc3339(min(start_ns)) AS start, rfc3339(max(end_ns)) AS end,"
		 " (max(end_ns) - min(start_ns)) / 1e9 AS seconds, count(*) AS files,"
		 " count(DISTINCT hostname) AS hosts,"
		 " (%s) AS requests,"
		 " (SELECT coalesce(sum(errors), 0) FROM endpoint_stats) AS failed,"
		 " (%s) AS calls,"
		 " (SELECT count(*) FROM services) AS services,"
		 " (%s) AS linked,"
		 " sum(lost_total) AS lost FROM files", src->requests, src->calls, src->linked);
	if (o->fmt != OUT_TABLE && (err = section(db, o, "totals", "totals", sqlbuf)))
		return err;
	if (o->fmt == OUT_TABLE && !o->section) {
		sqlite3_stmt *st;

		snprintf(sqlbuf, sizeof(sqlbuf),
			 "SELECT rfc3339(min(start_ns)), rfc3339(max(end_ns)),"
			 " (max(end_ns) - min(start_ns)) / 1e9, count(*),"
			 " count(DISTINCT hostname), (%s), (%s),"
			 " (SELECT coalesce(sum(errors), 0) FROM endpoint_stats)"
			 " FROM files", src->requests, src->calls);
		st = report_prep(db, sqlbuf);
		if (!st)
			return -EIO;
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *a = (const char *)sqlite3_column_text(st, 0);
			const char *b = (const char *)sqlite3_column_text(st, 1);

			fprintf(o->out, "capture    %s .. %s (%.3f s), %lld file%s, %lld host%s\n",
				a ? a : "?", b ? b : "?", sqlite3_column_double(st, 2),
				sqlite3_column_int64(st, 3),
				sqlite3_column_int64(st, 3) == 1 ? "" : "s",
				sqlite3_column_int64(st, 4),
				sqlite3_column_int64(st, 4) == 1 ? "" : "s");
			fprintf(o->out, "requests   %lld (%lld failed or unanswered), "
				"downstream calls %lld\n", sqlite3_column_int64(st, 5),
				sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 6));
		}
		sqlite3_finalize(st);
		if ((err = report_summary_tls(db, o, src->tls)))
			return err;
	}
	/* json and csv: the table's "tls" line as rows */
	snprintf(sqlbuf, sizeof(sqlbuf), "SELECT count(*) FROM %s WHERE tls IS NOT NULL", src->tls);
	if (o->fmt != OUT_TABLE && scalar(db, sqlbuf)) {
		snprintf(sqlbuf, sizeof(sqlbuf), REPORT_TLS_SECTION_SQL("%s"), src->tls);
		if ((err = section(db, o, "tls", "tls", sqlbuf)))
			return err;
	}
	if ((err = section(db, o, "files", "file",
			   "SELECT file_idx AS file, path, hostname AS host,"
			   " rfc3339(start_ns) AS start, rfc3339(end_ns) AS end,"
			   " events, lost_total AS lost, joined_midstream AS joined,"
			   " unseen_bytes AS unseen, truncated, frames_bad"
			   " FROM files ORDER BY file_idx")))
		return err;
	snprintf(sqlbuf, sizeof(sqlbuf),
			   "%s SELECT f.hostname AS host, p.pid, coalesce(pr.comm, p.comm) AS comm,"
			   " coalesce(r.n, 0) AS requests, coalesce(k.n, 0) AS calls,"
			   " p.conns AS connections, s.service,"
			   /* cut on a terminal only: machine formats get it all */
			   " CASE WHEN length(pr.cmdline) > 60 AND %d"
			   "  THEN substr(pr.cmdline, 1, 57) || '...' ELSE pr.cmdline END AS cmdline"
			   " FROM p JOIN files f USING (file_idx) LEFT JOIN r USING (file_idx, pid)"
			   " LEFT JOIN k USING (file_idx, pid)"
			   " LEFT JOIN processes pr USING (file_idx, pid)"
			   " LEFT JOIN services s USING (file_idx, pid)"
			   " ORDER BY p.file_idx, p.pid", src->processes, o->fmt == OUT_TABLE);
	if ((err = section(db, o, "processes", "process", sqlbuf)))
		return err;
	if ((err = section(db, o, "endpoints (latency ms, nearest-rank percentiles)", "endpoint",
			   "SELECT service, endpoint, requests, errors,"
			   " round(1.0 * errors / requests, 3) AS error_rate, p50_ms, p90_ms, p99_ms"
			   " FROM endpoint_stats ORDER BY requests DESC, 1, 2")))
		return err;
	/* where both ends of a request were captured: the time the server
	 * spent beside the time its client waited (README, Latency) */
	if ((o->fmt != OUT_TABLE || scalar(db, "SELECT count(*) FROM linked_stats")) &&
	    (err = section(db, o, "latency seen by both ends (ms; server: first byte read to last"
			   " byte written; client: its call, first byte written to last byte read)",
			   "linked",
			   "SELECT service, endpoint, requests, server_p50_ms, client_p50_ms,"
			   " server_p99_ms, client_p99_ms FROM linked_stats"
			   " ORDER BY requests DESC, 1, 2 LIMIT 20")))
		return err;
	snprintf(sqlbuf, sizeof(sqlbuf), "%s"
		 " ORDER BY CASE evidence WHEN 'id' THEN 0 WHEN 'forward' THEN 1"
		 "  WHEN 'thread' THEN 2 WHEN 'loop' THEN 3 WHEN 'guess' THEN 4 ELSE 5 END",
		 src->evidence);
	if ((err = section(db, o, "links by evidence (calls to their request, strongest first)",
			   "evidence", sqlbuf)))
		return err;
	if ((err = section(db, o, "top downstream dependencies", "dependency",
			   "SELECT protocol, remote_ip || ':' || remote_port AS downstream, name,"
			   " calls, errors, p50_ms, p99_ms"
			   " FROM downstream_stats ORDER BY calls DESC, 1, 2, 3 LIMIT 10")))
		return err;
	/* what was seen but not decoded (TLS, protocols the engine does not
	 * know): "requests 0" must not hide it */
	if (o->fmt != OUT_TABLE || scalar(db, src->undecoded_count)) {
		if ((err = section(db, o, "traffic seen but not decoded (top 10)", "undecoded",
				   src->undecoded)))
			return err;
	}
	if (o->fmt != OUT_TABLE || lost) {
		if ((err = section(db, o, "events lost by the capture", "lost",
				   "SELECT f.hostname AS host, f.path, l.name AS reason,"
				   " l.count AS events FROM losses l JOIN files f USING (file_idx)"
				   " ORDER BY l.file_idx, l.reason")))
			return err;
	} else if (o->section && strcmp(o->section, "lost")) {
		/* another listing asked for */
	} else if (!joined) {
		fputs("\nevents lost by the capture: none\n", o->out);
	} else {
		fputs("\nevents lost by the capture: none dropped, but not all was seen:\n", o->out);
	}
	/* a capture started on a running host does not see the start of the
	 * connections already open: not a loss of events, but not all */
	if (o->fmt == OUT_TABLE && joined && (!o->section || !strcmp(o->section, "lost")))
		fprintf(o->out, "%s  %lld connection%s joined mid-stream (opened before the capture),"
			" %lld bytes read before the first captured one unseen"
			" (bytes written before it are not known)\n",
			lost ? "\n" : "", (long long)joined, joined == 1 ? "" : "s", (long long)unseen);
	if (lost && !o->quiet)
		fprintf(stderr, "httpanalyze: warning: the capture lost %lld events: "
			"requests and calls may be missing or incomplete\n", (long long)lost);
	return 0;
}
