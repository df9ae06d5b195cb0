/* SPDX-License-Identifier: MIT */
/*
 * report.h - the queries and reports behind httpanalyze's subcommands
 * (summary, requests, errors, show, deps, latency, sql), over the database
 * made by schema.c and load.c.  Every user-given value reaches SQL as a bound parameter.
 */
#ifndef HTTPANALYZE_REPORT_H
#define HTTPANALYZE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "output.h"

#define REPORT_MAX_STATUS 16

/* A point in time from --since/--until: absolute (RFC 3339) or an offset
 * from the capture start ("+1.5s", "250ms"). */
struct report_when {
	int set;
	int relative;
	int64_t ns;
};

struct report_opts {
	enum out_format fmt;
	FILE *out;
	/* request filters (requests, errors, latency); NULL / -1 = no filter */
	const char *method, *path_glob, *comm, *host;
	const char *trace_id;		/* requests.trace_id */
	const char *service;		/* services.service, or a prefix ending at ' ', ':', '@' */
	int64_t pid;
	int nports;			/* server ports the requests came in on, OR-ed */
	int ports[REPORT_MAX_STATUS];
	double min_duration_ms;		/* < 0: none */
	int nstatus;			/* status ranges, OR-ed */
	int status_lo[REPORT_MAX_STATUS], status_hi[REPORT_MAX_STATUS];
	struct report_when since, until;
	const char *sort;		/* start (default), duration, status */
	int64_t limit;			/* < 0: none */
	int depth;			/* show: child requests followed */
	int quiet;			/* summary: no loss warning on stderr */
	int writable;			/* sql: allow statements that change anything */
	const char *section;		/* summary: only this listing (report_summary_sections) */
};

/* Parsers for the command line; 0 or -EINVAL. */
int report_parse_duration_ms(const char *s, double *ms);
int report_parse_when(const char *s, struct report_when *w);
/* "500", "5xx", "404,5xx" */
int report_parse_status(const char *s, struct report_opts *o);

/*
 * Each report writes to o->out and returns 0, -ENOENT (show: no such
 * request; message printed) or -EIO (SQL error; message printed).
 */
int report_summary(sqlite3 *db, const struct report_opts *o);
/*
 * What differs between the stores behind the summary: SQL over db, which
 * also has the tables files, losses, processes, services, endpoint_stats,
 * linked_stats and downstream_stats of the SQLite schema (SQLite: the
 * database itself; ClickHouse: clickhouse.c's local copy of its results).
 */
struct report_summary_src {
	/* one-value queries: the requests, the calls, the requests linked
	 * to a call (parent_call_id set) */
	const char *requests, *calls, *linked;
	/* a table with the columns tls and tls_reason of connections */
	const char *tls;
	/* "WITH p AS (...), r AS (...), k AS (...)": per (file_idx, pid),
	 * p: comm and conns (every process with a connection), r and k: n,
	 * its requests and its calls */
	const char *processes;
	/* the rows evidence, calls, to_traced_requests, http, unordered */
	const char *evidence;
	/* the count of connections seen but not decoded, and their listing */
	const char *undecoded_count, *undecoded;
};
/* report_summary over the tables and queries src names. */
int report_summary_from(sqlite3 *db, const struct report_opts *o,
			const struct report_summary_src *src);
/* --service NAME over the services table: the whole name, a prefix of it
 * ending where a part of the name ends, or the name without its ports;
 * P is the SQL parameter (e.g. "?1"), used five times.  One rule for the
 * SQLite reports (report.c) and the ClickHouse ones (clickhouse.c). */
#define REPORT_SERVICE_MATCH(P) \
	"(service = " P " OR (substr(service, 1, length(" P ")) = " P \
	" AND substr(service, length(" P ") + 1, 1) IN (' ', ':', '@', ','))" \
	" OR label || '@' || host = " P ")"
/* The names of summary's listings (--section), NULL-terminated. */
extern const char *const report_summary_sections[];
int report_requests(sqlite3 *db, const struct report_opts *o);
int report_errors(sqlite3 *db, const struct report_opts *o);
int report_show(sqlite3 *db, const struct report_opts *o, const char *id);
int report_deps(sqlite3 *db, const struct report_opts *o);
int report_latency(sqlite3 *db, const struct report_opts *o);
/* Runs the user's SQL (one or more statements), each result as a listing.
 * Read-only unless o->writable: an authorizer lets statements read the
 * database's tables and views and call ordinary functions, nothing else
 * (no ATTACH, no VACUUM INTO, no writing pragma, no fts3_tokenizer), and a
 * statement that would change a database is refused before it runs. */
int report_sql(sqlite3 *db, const struct report_opts *o, const char *sql);

/* Prepare sql on db (report.c, used by show.c): NULL on failure, with
 * SQLite's message printed. */
sqlite3_stmt *report_prep(sqlite3 *db, const char *sql);
/* Write the rows of st as the listings do (o->fmt, REAL with 3 decimals),
 * SQLite's message printed if a step fails, and finalize st; st NULL (a
 * failed report_prep, message printed): -EIO.  The number of rows, or a
 * negative errno.  Shared with the ClickHouse reports. */
int64_t report_rows(sqlite3 *db, const struct report_opts *o, sqlite3_stmt *st);

/* head_sql, then the AND-ed filters of o over the requests table aliased
 * r (values bound, never spliced), then tail_sql, prepared (report.c, used
 * by the exports): NULL on failure, with SQLite's message printed. */
sqlite3_stmt *report_prep_filtered(sqlite3 *db, const struct report_opts *o,
				   const char *head_sql, const char *tail_sql);
/* True when o holds a request filter. */
int report_has_filters(const struct report_opts *o);

/* Upper bounds (ms) of the latency histogram buckets of `latency` and of
 * the HTML report; the last one is INFINITY. */
#define REPORT_HIST_BUCKETS 17
extern const double report_hist_le_ms[REPORT_HIST_BUCKETS];

/* One endpoint's latency, computed by whichever store (SQLite here,
 * ClickHouse in clickhouse.c): n answered requests, their min, nearest-rank
 * percentiles and max (ms), and hist[b] of them <= report_hist_le_ms[b]
 * (and > the bucket before). */
struct report_lat {
	const char *service, *endpoint;
	uint64_t n, unanswered;
	double min, p50, p90, p99, max;
	uint64_t hist[REPORT_HIST_BUCKETS];
};
/* Before the first g: in csv *lst, the listing with latency's header
 * (else NULL); in a table, the title.  0 or -ENOMEM; *lst, even then, is
 * for out_finish. */
int report_latency_begin(const struct report_opts *o, struct out **lst);
/* Write g as `latency` does in o->fmt: a table block with its histogram,
 * a JSON line, or a row of lst (csv). */
void report_latency_emit(const struct report_opts *o, struct out *lst, const struct report_lat *g);

/* The summary's TLS connections: the "tls" line of the table format, and
 * the rows of section "tls" (SQL over a table tbl with the columns tls and
 * tls_reason of connections); shared with the ClickHouse reports. */
int report_summary_tls(sqlite3 *db, const struct report_opts *o, const char *tbl);
#define REPORT_TLS_SECTION_SQL(tbl) \
	"SELECT CASE WHEN tls = 'encrypted' THEN 'encrypted' ELSE 'decrypted' END AS state," \
	" CASE WHEN tls = 'encrypted' THEN tls_reason ELSE tls END AS why," \
	" count(*) AS connections FROM " tbl " WHERE tls IS NOT NULL" \
	" GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"

#endif /* HTTPANALYZE_REPORT_H */
