// SPDX-License-Identifier: MIT
/*
 * clickhouse.c - httpanalyze past one machine (issue 19): the ClickHouse
 * sink and the reports computed by ClickHouse.
 *
 * Load.  The rows are the SQLite loader's: one `load` runs db_load (the
 * same engine, links and columns as every other command) into an
 * in-memory database, then streams each table to ClickHouse as
 * TabSeparated in large POSTs (CH_BATCH bytes) through libcurl.  Every
 * ClickHouse table is derived from its SQLite table (PRAGMA table_xinfo):
 * a column added to schema.c reaches ClickHouse with no change here;
 * SQLite's generated columns become ALIAS columns (translated below, an
 * unknown form is refused).  Each row carries load_id (random per
 * attempt), capture_id and day (partition key: capture and day).  A load
 * is visible only once its row is in `loads`, written last: a load that
 * fails half-way leaves rows no query reads, and the next load of the same
 * files deletes them (ALTER TABLE ... DELETE).  A file already part of a
 * complete load is not loaded again.
 *
 * Why stage in SQLite rather than a second set of engine callbacks: the
 * rows (late links patched by key, the per-file statistics, the loss
 * counts) are built once, in load.c, and both stores get exactly the same
 * values; the cost is one load's rows in memory (the SQLite figure: ~400
 * MiB per million requests), so a fleet is loaded as many loads, one per
 * host or file set, on as many machines as wanted.
 *
 * Reports.  ClickHouse does the scans, joins, groupings and percentiles
 * (nearest rank, exactly as stats.c: arraySort(groupArray(x)) at rank
 * ceil(p/100*n)); the small results come back as TabSeparatedWithNames-
 * AndTypes into an in-memory SQLite database, where the same final SELECTs
 * as report.c's order and format them (rfc3339, round, CASE), so both
 * stores print byte for byte the same.  `show` reads one request's tree
 * into an in-memory database of the SQLite schema and runs show.c on it.
 * `report` and `export` are not supported yet.
 *
 * ClickHouse 18.16 (Debian 12): no window functions, no query parameters
 * over HTTP (user values are quoted by ch_quote), JOIN ... USING only.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "htc.h"
#include "htc_engine.h"
#include "clickhouse.h"
#include "db.h"
#include "db_int.h"
#include "output.h"
#include "report.h"

#define CH_DB "httpcap"
#define CH_BATCH ((size_t)16 << 20)	/* bytes of TabSeparated per INSERT */

/* ---- a growing buffer ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static int sb_room(struct sbuf *b, size_t n)
{
	if (b->oom)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return -ENOMEM;
		}
		b->p = np;
		b->cap = cap;
	}
	return 0;
}

static void sb_put(struct sbuf *b, const void *p, size_t n)
{
	if (sb_room(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_room(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A ClickHouse string literal: quotes and backslashes escaped (18.16 has
 * no query parameters over HTTP, so a user's value is quoted, never
 * spliced raw). */
static void ch_quote(struct sbuf *b, const char *s)
{
	sb_put(b, "'", 1);
	for (; *s; s++) {
		if (*s == '\\' || *s == '\'')
			sb_put(b, "\\", 1);
		sb_put(b, s, 1);
	}
	sb_put(b, "'", 1);
}

/* One TabSeparated field: the escapes ClickHouse's parser reads back
 * (backslash, tab, newline, CR, NUL); any other byte passes as is. */
static void tsv_put(struct sbuf *b, const unsigned char *p, size_t n)
{
	size_t start = 0;

	if (sb_room(b, n + 16))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *esc;

		switch (p[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\0': esc = "\\0"; break;
		default: continue;
		}
		sb_put(b, p + start, i - start);
		sb_put(b, esc, 2);
		start = i + 1;
	}
	sb_put(b, p + start, n - start);
}

/* ---- the HTTP interface ---- */

struct ch {
	CURL *curl;
	char *url;		/* as given, e.g. http://127.0.0.1:8123 */
	char errbuf[CURL_ERROR_SIZE];
	struct sbuf resp;
	int readonly;
};

static size_t ch_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sbuf *b = arg;

	sb_put(b, p, size * nmemb);
	return b->oom ? 0 : size * nmemb;
}

static int ch_open(struct ch *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		fprintf(stderr, "httpanalyze: bad --clickhouse '%s': want http://HOST:8123\n", url);
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c->curl = curl_easy_init())) {
		fprintf(stderr, "httpanalyze: cannot start libcurl\n");
		return -ENOMEM;
	}
	c->url = strdup(url);
	if (!c->url)
		return -ENOMEM;
	return 0;
}

static void ch_close(struct ch *c)
{
	if (c->curl) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->url);
	free(c->resp.p);
	memset(c, 0, sizeof(*c));
}

/*
 * POST to the server: with body NULL, sql is the body; else sql goes in
 * the URL (?query=) and body (len bytes) is the data.  The answer is in
 * c->resp.  Returns 0, or -EIO with one message printed naming what
 * (e.g. "inserting requests") and the server's own error text.
 */
static int ch_post(struct ch *c, const char *what, const char *sql, const void *body, size_t len)
{
	struct sbuf url = { 0 };
	size_t ul = strlen(c->url);
	long code = 0;
	CURLcode rc;

	c->resp.len = 0;
	if (c->resp.p)
		c->resp.p[0] = 0;
	sb_add(&url, "%s%s", c->url, strchr(c->url, '?') ? "&" : ul && c->url[ul - 1] == '/' ? "?" : "/?");
	/* an insert of many MiB, or a long report: the server's own limits apply */
	/* an INSERT into a Distributed table returns once the shards have it */
	sb_add(&url, "send_progress_in_http_headers=0&max_execution_time=0&insert_distributed_sync=1");
	if (c->readonly)
		sb_add(&url, "&readonly=1");
	if (body) {
		char *q = curl_easy_escape(c->curl, sql, 0);

		if (!q) {
			free(url.p);
			return -ENOMEM;
		}
		sb_add(&url, "&query=%s", q);
		curl_free(q);
	} else {
		body = sql;
		len = strlen(sql);
	}
	if (url.oom) {
		free(url.p);
		return -ENOMEM;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url.p);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "httpanalyze/" HTC_TOOL_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ch_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	/* a server that stops answering must not hang a load forever */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 300L);
	c->errbuf[0] = 0;
	rc = curl_easy_perform(c->curl);
	free(url.p);
	if (rc != CURLE_OK) {
		fprintf(stderr, "httpanalyze: clickhouse: %s at %s: %s\n", what, c->url,
			c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		size_t n = c->resp.len;

		while (n && (c->resp.p[n - 1] == '\n' || c->resp.p[n - 1] == ' '))
			n--;
		fprintf(stderr, "httpanalyze: clickhouse refused %s (HTTP %ld): ", what, code);
		out_term_escape(stderr, c->resp.p ? c->resp.p : "", n);
		fputc('\n', stderr);
		return -EIO;
	}
	if (c->resp.oom) {
		fprintf(stderr, "httpanalyze: clickhouse: %s: out of memory for the answer\n", what);
		return -ENOMEM;
	}
	return 0;
}

static int ch_exec(struct ch *c, const char *what, const char *sql)
{
	return ch_post(c, what, sql, NULL, 0);
}

/* ---- TabSeparatedWithNamesAndTypes into a local SQLite table ---- */

/* Unescape one field of p..end in place (returns its new length); *is_null
 * for \N. */
static size_t tsv_unescape(char *p, size_t n, int *is_null)
{
	size_t o = 0;

	*is_null = n == 2 && p[0] == '\\' && p[1] == 'N';
	if (*is_null)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (ch == '\\' && i + 1 < n) {
			ch = p[++i];
			switch (ch) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case '0': ch = '\0'; break;
			default: break;	/* \\ \' and the rest: the byte itself */
			}
		}
		p[o++] = ch;
	}
	return o;
}

enum { T_INT, T_REAL, T_TEXT };

static int ch_type(const char *t, size_t n)
{
	if (n > 9 && !strncmp(t, "Nullable(", 9)) {
		t += 9;
		n -= 10;
	}
	if ((n >= 3 && !strncmp(t, "Int", 3)) || (n >= 4 && !strncmp(t, "UInt", 4)))
		return T_INT;
	if (n >= 5 && !strncmp(t, "Float", 5))
		return T_REAL;
	return T_TEXT;
}

/*
 * Run sql on the server and store its rows as table `name` of the local
 * database fdb (created; columns named as the result's, values typed as
 * ClickHouse's: integers, reals, text, NULL).  Row order is kept (rowid).
 */
static int ch_fetch(struct ch *c, sqlite3 *fdb, const char *name, const char *sql)
{
	struct sbuf q = { 0 }, ddl = { 0 };
	sqlite3_stmt *st = NULL;
	char *p, *end, *line, *nl;
	int ncols = 0, types[256], err = 0;

	sb_add(&q, "%s FORMAT TabSeparatedWithNamesAndTypes", sql);
	if (q.oom) {
		err = -ENOMEM;
		goto cleanup;
	}
	if ((err = ch_exec(c, "a query", q.p)))
		goto cleanup;
	p = c->resp.p ? c->resp.p : (char *)"";
	end = p + c->resp.len;
	/* names */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl) {
		fprintf(stderr, "httpanalyze: clickhouse: no result header\n");
		err = -EIO;
		goto cleanup;
	}
	sb_add(&ddl, "CREATE TABLE \"%s\" (", name);
	for (line = p; line <= nl;) {
		char *tab = memchr(line, '\t', (size_t)(nl - line));
		char *fe = tab ? tab : nl;
		int isn;
		size_t n = tsv_unescape(line, (size_t)(fe - line), &isn);

		if (ncols == (int)(sizeof(types) / sizeof(types[0]))) {
			err = -E2BIG;
			goto cleanup;
		}
		sb_add(&ddl, "%s\"", ncols ? ", " : "");
		for (size_t i = 0; i < n; i++)
			sb_add(&ddl, "%s%c", line[i] == '"' ? "\"" : "", line[i]);
		sb_add(&ddl, "\"");
		ncols++;
		line = fe + 1;
	}
	sb_add(&ddl, ")");
	p = nl + 1;
	/* types */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl) {
		fprintf(stderr, "httpanalyze: clickhouse: no result types\n");
		err = -EIO;
		goto cleanup;
	}
	for (int i = 0; i < ncols; i++) {
		char *tab = memchr(p, '\t', (size_t)(nl - p));
		char *fe = tab && i + 1 < ncols ? tab : nl;

		types[i] = ch_type(p, (size_t)(fe - p));
		p = fe + 1;
	}
	p = nl + 1;
	if (ddl.oom || sqlite3_exec(fdb, ddl.p, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(fdb));
		err = -EIO;
		goto cleanup;
	}
	q.len = 0;
	sb_add(&q, "INSERT INTO \"%s\" VALUES (", name);
	for (int i = 0; i < ncols; i++)
		sb_add(&q, "%s?", i ? "," : "");
	sb_add(&q, ")");
	if (q.oom || sqlite3_prepare_v2(fdb, q.p, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(fdb));
		err = -EIO;
		goto cleanup;
	}
	sqlite3_exec(fdb, "BEGIN", NULL, NULL, NULL);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		for (int i = 0; i < ncols; i++) {
			char *tab = i + 1 < ncols ? memchr(p, '\t', (size_t)(nl - p)) : NULL;
			char *fe = tab ? tab : nl;
			int isn;
			size_t n = tsv_unescape(p, (size_t)(fe - p), &isn);

			if (isn)
				sqlite3_bind_null(st, i + 1);
			else if (types[i] == T_INT)
				sqlite3_bind_int64(st, i + 1, strtoll(p, NULL, 10));
			else if (types[i] == T_REAL)
				sqlite3_bind_double(st, i + 1, strtod(p, NULL));
			else
				sqlite3_bind_text(st, i + 1, p, (int)n, SQLITE_TRANSIENT);
			p = fe < nl ? fe + 1 : nl;
		}
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(fdb));
			err = -EIO;
			break;
		}
		sqlite3_reset(st);
		p = nl + 1;
	}
	sqlite3_exec(fdb, "COMMIT", NULL, NULL, NULL);
cleanup:
	sqlite3_finalize(st);
	free(q.p);
	free(ddl.p);
	return err;
}

/* ---- the schema in ClickHouse ---- */

struct ch_table {
	const char *name;
	const char *key;	/* ORDER BY after load_id: non-NULL integer columns */
	const char *day;	/* the column whose date is the row's day */
};

static const struct ch_table ch_tables[] = {
	{ "files", "file_idx", "start_ns" },
	{ "losses", "file_idx, reason", NULL },
	{ "processes", "file_idx, pid", "seen_ns" },
	{ "connections", "conn", "open_ns" },
	{ "requests", "request_id", "start_ns" },
	{ "calls", "call_id", "start_ns" },
	{ "services", "file_idx, pid", NULL },
	{ "events", "event_id", "ts_ns" },
};
#define CH_NTABLES (sizeof(ch_tables) / sizeof(ch_tables[0]))
#define CH_EVENTS (CH_NTABLES - 1)

/* Is col one of t's key columns? */
static int is_key(const struct ch_table *t, const char *col)
{
	size_t n = strlen(col);

	for (const char *k = t->key; (k = strstr(k, col)); k += n)
		if ((k == t->key || k[-1] == ' ') && (k[n] == ',' || !k[n]))
			return 1;
	return 0;
}

/*
 * SQLite's generated column expression (from its CREATE TABLE text) as a
 * ClickHouse ALIAS expression.  The forms schema.c uses: a flag bit, and
 * the duration.  NULL for any other (the caller refuses the schema).
 */
static int gen_expr(const char *create, const char *col, char *out, size_t cap)
{
	static const char dur[] = "(CASE WHEN end_ns >= start_ns THEN (end_ns - start_ns) / 1e6 END)";
	char pat[96];
	const char *p, *e;
	int bit;

	snprintf(pat, sizeof(pat), "\n  %s ", col);
	p = strstr(create, pat);
	if (!p || !(e = strstr(p, " AS (")) || memchr(p + 1, '\n', (size_t)(e - p - 1)))
		return -EINVAL;
	e += 4;
	if (sscanf(e, "((flags >> %d) & 1)", &bit) == 1 && bit >= 0 && bit < 63) {
		snprintf(out, cap, "bitAnd(bitShiftRight(flags, %d), 1)", bit);
		return 0;
	}
	if (!strncmp(e, "(flags & 1)", 11)) {
		snprintf(out, cap, "bitAnd(flags, 1)");
		return 0;
	}
	if (!strncmp(e, dur, strlen(dur))) {
		snprintf(out, cap, "if(end_ns >= start_ns, (end_ns - start_ns) / 1e6, NULL)");
		return 0;
	}
	return -EINVAL;
}

struct ch_cols {
	char *ddl;		/* the CREATE TABLE text */
	char *select;		/* the SQLite SELECT of its rows, TSV order */
	char *insert;		/* INSERT INTO ... (cols) FORMAT TabSeparated */
	int ncols;		/* fields per row (the extra three included) */
};

/*
 * The ClickHouse table of SQLite table t->name of db: DDL, export SELECT
 * and INSERT.  on: "" or " ON CLUSTER name" (distributed DDL); dist: NULL,
 * or a cluster name: the MergeTree table is then <name>_local on every
 * shard, and <name> a Distributed table over them (what loads insert into
 * and reports read), sharded by load and file.
 */
static int ch_table_def(sqlite3 *db, const struct ch_table *t, const char *on, const char *dist,
			struct ch_cols *out)
{
	struct sbuf ddl = { 0 }, sel = { 0 }, ins = { 0 };
	sqlite3_stmt *st = NULL;
	const char *create = NULL;
	char sql[256], expr[256];
	int err = 0, n, own_cid, files, reqs;

	snprintf(sql, sizeof(sql), "SELECT sql FROM sqlite_master WHERE name = '%s'", t->name);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "httpanalyze: no table '%s' in the SQLite schema\n", t->name);
		sqlite3_finalize(st);
		return -EINVAL;
	}
	create = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (!create)
		return -ENOMEM;
	/* partitioned by capture: a table with a capture_id of its own (files)
	 * has it non-NULL, the others get their file's */
	own_cid = strstr(create, "\n  capture_id ") != NULL;
	files = !strcmp(t->name, "files");
	/* requests: ch_linked, 1 for the requests the load counted in
	 * linked_stats (both ends linked during the load: load.c's rule,
	 * which the rows alone do not tell; db_load_stats.linked) */
	reqs = !strcmp(t->name, "requests");
	sb_add(&ddl, "CREATE TABLE IF NOT EXISTS " CH_DB ".%s%s%s (\n"
	       "  load_id UInt64,%s day Date%s%s", t->name, dist ? "_local" : "", on,
	       own_cid ? "" : " capture_id String,", files ? ", file_key String" : "",
	       reqs ? ", ch_linked UInt8" : "");
	/* the row's day (and the file's capture id); for files (column 1), file_idx where
	 * file_key goes (the export puts the key there: SQLite has no sizes) */
	sb_add(&sel, "SELECT %sdate(coalesce(%s%s%s f.start_ns, 0) / 1000000000, 'unixepoch')%s%s",
	       own_cid ? "" : "f.capture_id, ", t->day ? "t." : "", t->day ? t->day : "",
	       t->day ? "," : "", files ? ", t.file_idx" : "",
	       reqs ? ", t.request_id IN (SELECT request_id FROM temp.ch_linked)" : "");
	sb_add(&ins, "INSERT INTO " CH_DB ".%s (load_id,%s day%s%s", t->name,
	       own_cid ? "" : " capture_id,", files ? ", file_key" : "", reqs ? ", ch_linked" : "");
	n = 2 + !own_cid + files + reqs;
	snprintf(sql, sizeof(sql), "PRAGMA table_xinfo(%s)", t->name);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = -EIO;
		goto cleanup;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 2);
		int hidden = sqlite3_column_int(st, 6);
		const char *ct = !strcasecmp(type, "INTEGER") ? "Int64" :
				 !strcasecmp(type, "REAL") ? "Float64" : "String";

		if (hidden == 2 || hidden == 3) {
			if (gen_expr(create, col, expr, sizeof(expr))) {
				fprintf(stderr, "httpanalyze: %s.%s: a generated column the ClickHouse "
					"schema cannot translate\n", t->name, col);
				err = -EINVAL;
				goto cleanup;
			}
			sb_add(&ddl, ",\n  %s ALIAS %s", col, expr);
			continue;
		}
		/* keys (and file_idx, the sharding key's) cannot be Nullable */
		if (is_key(t, col) || !strcmp(col, "file_idx"))
			sb_add(&ddl, ",\n  %s %s", col, ct);
		else if (!strcmp(col, "capture_id"))
			sb_add(&ddl, ",\n  %s String", col);
		else
			sb_add(&ddl, ",\n  %s Nullable(%s)", col, ct);
		if (!strcmp(col, "capture_id"))
			sb_add(&sel, ", coalesce(t.capture_id, '')");
		else
			sb_add(&sel, ", t.\"%s\"", col);
		sb_add(&ins, ", %s", col);
		n++;
	}
	sb_add(&ddl, "\n) ENGINE = MergeTree PARTITION BY (capture_id, toYYYYMMDD(day))"
	       " ORDER BY (load_id, %s)", t->key);
	if (dist)
		sb_add(&ddl, ";\nCREATE TABLE IF NOT EXISTS " CH_DB ".%s%s AS " CH_DB ".%s_local"
		       " ENGINE = Distributed(%s, " CH_DB ", %s_local, cityHash64(load_id, file_idx))",
		       t->name, on, t->name, dist, t->name);
	sb_add(&sel, " FROM \"%s\" t LEFT JOIN files f ON f.file_idx = t.file_idx ORDER BY t.rowid",
	       t->name);
	sb_add(&ins, ") FORMAT TabSeparated");
	if (ddl.oom || sel.oom || ins.oom)
		err = -ENOMEM;
cleanup:
	sqlite3_finalize(st);
	free((void *)create);
	if (err) {
		free(ddl.p);
		free(sel.p);
		free(ins.p);
		return err;
	}
	out->ddl = ddl.p;
	out->select = sel.p;
	out->insert = ins.p;
	out->ncols = n;
	return 0;
}

static const char ch_ddl_loads[] =
	"CREATE TABLE IF NOT EXISTS " CH_DB ".loads%s%s (\n"
	"  load_id UInt64,            -- the rows of this load carry it\n"
	"  load_key String,           -- its files' identities, in order\n"
	"  file_keys Array(String),   -- capture_id:host:start_ns:size of each file\n"
	"  capture_ids Array(String),\n"
	"  hosts Array(String),\n"
	"  paths Array(String),\n"
	"  requests UInt64, calls UInt64, connections UInt64, events UInt64,\n"
	"  with_events UInt8,         -- 1: the events table holds its events\n"
	"  loaded_ns Int64,           -- when the load completed\n"
	"  tool_version String\n"
	") ENGINE = MergeTree ORDER BY load_id";
static const char ch_ddl_attempts[] =
	"CREATE TABLE IF NOT EXISTS " CH_DB ".load_attempts%s%s (\n"
	"  load_id UInt64, load_key String, started_ns Int64\n"
	") ENGINE = MergeTree ORDER BY load_id";

/* Every statement that makes the schema (on, dist: as ch_table_def's). */
static int ch_schema(sqlite3 *db, const char *on, const char *dist, struct ch_cols *cols,
		     struct sbuf *out)
{
	static const char *const small[] = { "loads", "load_attempts" };
	int err;

	sb_add(out, "CREATE DATABASE IF NOT EXISTS " CH_DB "%s;\n", on);
	sb_add(out, ch_ddl_loads, dist ? "_local" : "", on);
	sb_add(out, ";\n");
	sb_add(out, ch_ddl_attempts, dist ? "_local" : "", on);
	sb_add(out, ";\n");
	for (size_t i = 0; dist && i < 2; i++)
		sb_add(out, "CREATE TABLE IF NOT EXISTS " CH_DB ".%s%s AS " CH_DB ".%s_local"
		       " ENGINE = Distributed(%s, " CH_DB ", %s_local, load_id);\n", small[i], on,
		       small[i], dist, small[i]);
	for (size_t i = 0; i < CH_NTABLES; i++) {
		if ((err = ch_table_def(db, &ch_tables[i], on, dist, &cols[i])))
			return err;
		sb_add(out, "%s;\n", cols[i].ddl);
	}
	return out->oom ? -ENOMEM : 0;
}

/* Run each statement of a ';\n'-separated text. */
static int ch_exec_all(struct ch *c, const char *what, char *text)
{
	for (char *p = text, *e; p && *p; p = e ? e + 2 : NULL) {
		e = strstr(p, ";\n");
		if (e)
			*e = 0;
		if (*p) {
			int err = ch_exec(c, what, p);

			if (e)
				*e = ';';
			if (err)
				return err;
		}
	}
	return 0;
}

/* The schema, derived from SQLite's: a database with every table. */
static sqlite3 *schema_db(void)
{
	int err = 0;
	sqlite3 *db = db_create(NULL, &err);

	if (db && db_exec(db, db_schema_events)) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void free_cols(struct ch_cols *cols)
{
	for (size_t i = 0; i < CH_NTABLES; i++) {
		free(cols[i].ddl);
		free(cols[i].select);
		free(cols[i].insert);
	}
}

/* ---- load ---- */

struct ch_load_opts {
	int events, quiet, verbose, progress;
	uint32_t payload_cap;
	const char *on;		/* "" or " ON CLUSTER name" */
	const char *dist;	/* NULL, or the cluster of Distributed tables */
};

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A file's identity: capture id, host, start and size (the rotated files
 * of one capture share the id, not the start). */
static int file_key(const char *path, const char *name, char *out, size_t cap)
{
	struct htc_reader *r;
	const struct htc_header *h;
	struct stat sb;
	char cid[33];
	int err = 0;

	r = htc_capture_open(path, NULL, NULL, &err);
	if (!r || stat(path, &sb)) {
		fprintf(stderr, "httpanalyze: cannot open '%s': %s\n", name,
			r ? strerror(errno) : htc_strerror(err ? err : -EINVAL));
		htc_reader_close(r);
		return -EINVAL;
	}
	h = htc_reader_header(r);
	for (int j = 0; j < 16; j++)
		snprintf(cid + 2 * j, 3, "%02x", h->capture_id[j]);
	snprintf(out, cap, "%s:%.*s:%" PRIu64 ":%lld", cid, (int)strnlen(h->hostname, HTC_HOSTNAME_LEN),
		 h->hostname, (uint64_t)h->start_ns, (long long)sb.st_size);
	htc_reader_close(r);
	return 0;
}

static void draw(const struct ch_load_opts *o, const char *table, uint64_t rows, uint64_t total,
		 int done)
{
	int width = 40, fill = total ? (int)((double)rows / (double)total * width) : width;

	if (!o->progress)
		return;
	if (fill > width)
		fill = width;
	fprintf(stderr, "\rsending %-11s [%.*s%*s] %llu/%llu rows", table, fill,
		"########################################", width - fill, "",
		(unsigned long long)rows, (unsigned long long)total);
	if (done)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* Stream one table of the staged load to ClickHouse in CH_BATCH posts. */
static int ch_send_table(struct ch *c, sqlite3 *db, const struct ch_table *t,
			 const struct ch_cols *cc, uint64_t load_id, char *const *keys, size_t nkeys,
			 const struct ch_load_opts *o, uint64_t *nrows)
{
	struct sbuf b = { 0 };
	sqlite3_stmt *st = NULL;
	char what[64], count[96];
	uint64_t rows = 0, total = 0;
	int rc, err = 0, files = !strcmp(t->name, "files");

	snprintf(what, sizeof(what), "inserting %s", t->name);
	snprintf(count, sizeof(count), "SELECT count(*) FROM \"%s\"", t->name);
	if (sqlite3_prepare_v2(db, count, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		total = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, cc->select, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_count(st);

		sb_add(&b, "%" PRIu64, load_id);
		for (int i = 0; i < n; i++) {
			sb_put(&b, "\t", 1);
			if (files && i == 1) {
				int64_t k = sqlite3_column_int64(st, i);
				const char *key = k >= 0 && (size_t)k < nkeys ? keys[k] : "";

				tsv_put(&b, (const unsigned char *)key, strlen(key));
				continue;
			}
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				sb_put(&b, "\\N", 2);
				break;
			case SQLITE_INTEGER:
				sb_add(&b, "%lld", (long long)sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT:
				sb_add(&b, "%.17g", sqlite3_column_double(st, i));
				break;
			default: {
				const unsigned char *p = sqlite3_column_blob(st, i);

				tsv_put(&b, p ? p : (const unsigned char *)"",
					(size_t)sqlite3_column_bytes(st, i));
			}
			}
		}
		sb_put(&b, "\n", 1);
		rows++;
		if (b.oom) {
			err = -ENOMEM;
			fprintf(stderr, "httpanalyze: out of memory encoding %s\n", t->name);
			goto cleanup;
		}
		if (b.len >= CH_BATCH) {
			if ((err = ch_post(c, what, cc->insert, b.p, b.len)))
				goto cleanup;
			b.len = 0;
			draw(o, t->name, rows, total, 0);
		}
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		err = -EIO;
		goto cleanup;
	}
	if (b.len && (err = ch_post(c, what, cc->insert, b.p, b.len)))
		goto cleanup;
	draw(o, t->name, rows, total, 1);
	*nrows = rows;
cleanup:
	if (err && o->progress)
		fputs("\r\033[K", stderr);
	sqlite3_finalize(st);
	free(b.p);
	return err;
}

/* Lines of the last answer, as NUL-terminated strings in place. */
static size_t answer_lines(struct ch *c, char **lines, size_t cap)
{
	size_t n = 0;
	char *p = c->resp.p;

	while (p && *p && n < cap) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = 0;
		lines[n++] = p;
		p = nl ? nl + 1 : NULL;
	}
	return n;
}

static void sb_str_array(struct sbuf *b, char *const *v, size_t n)
{
	sb_put(b, "[", 1);
	for (size_t k = 0; k < n; k++) {
		if (k)
			sb_put(b, ",", 1);
		ch_quote(b, v[k]);
	}
	sb_put(b, "]", 1);
}

static int ch_load(struct ch *c, const char *const *paths, const char *const *names, size_t n,
		   const struct ch_load_opts *o)
{
	struct ch_cols cols[CH_NTABLES] = { 0 };
	struct sbuf q = { 0 }, key = { 0 };
	struct db_load_opts lo = {
		.quiet = o->quiet, .verbose = o->verbose, .progress = o->progress,
		.payload_cap = o->payload_cap, .skip_indexes = DB_INDEX_ALL, .names = names,
		.events = o->events ? DB_EVENTS_COPY : DB_EVENTS_SCAN, .want_linked = 1,
	};
	struct db_load_stats ls = { 0 };
	uint64_t counts[CH_NTABLES] = { 0 }, load_id = 0;
	char **keys = calloc(n ? n : 1, sizeof(*keys)), *lines[64];
	sqlite3 *sdb = NULL, *db = NULL;
	double t0 = mono_s(), t_staged;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		char buf[512];

		if ((err = file_key(paths[k], names[k], buf, sizeof(buf))))
			goto cleanup;
		if (!(keys[k] = strdup(buf))) {
			err = -ENOMEM;
			goto cleanup;
		}
		sb_add(&key, "%s%s", k ? "," : "", buf);
	}
	/* the schema, made if missing */
	sdb = schema_db();
	if (!sdb) {
		err = -EIO;
		goto cleanup;
	}
	if ((err = ch_schema(sdb, o->on, o->dist, cols, &q)) ||
	    (err = ch_exec_all(c, "creating the schema", q.p)))
		goto cleanup;
	/* loaded already?  The same files: nothing to do; some of them in
	 * another load: refused (their events would count twice) */
	q.len = 0;
	sb_add(&q, "SELECT toString(load_id), load_key, arrayStringConcat(arrayFilter(k -> has(");
	sb_str_array(&q, keys, n);
	sb_add(&q, ", k), file_keys), ' ') FROM " CH_DB ".loads WHERE hasAny(file_keys, ");
	sb_str_array(&q, keys, n);
	sb_add(&q, ") ORDER BY loaded_ns FORMAT TabSeparated");
	if (q.oom || (err = ch_exec(c, "checking earlier loads", q.p)))
		goto cleanup;
	{
		size_t nl = answer_lines(c, lines, 64);

		for (size_t i = 0; i < nl; i++) {
			char *k1 = strchr(lines[i], '\t'), *k2 = k1 ? strchr(k1 + 1, '\t') : NULL;

			if (!k2)
				continue;
			*k1++ = 0;
			*k2++ = 0;
			if (!strcmp(k1, key.p)) {
				if (!o->quiet)
					fprintf(stderr, "httpanalyze: already loaded as load %s: "
						"nothing to do\n", lines[i]);
				printf("load %s: already loaded\n", lines[i]);
				goto cleanup;
			}
			fprintf(stderr, "httpanalyze: already in ClickHouse as part of load %s "
				"(with other files): %s; load the other files alone\n", lines[i], k2);
			err = -EEXIST;
			goto cleanup;
		}
	}
	/* rows of earlier attempts at these files that did not complete */
	q.len = 0;
	sb_add(&q, "SELECT toString(load_id) FROM " CH_DB ".load_attempts WHERE load_key = ");
	ch_quote(&q, key.p);
	/* (the loads are not excluded by a subquery: over Distributed tables
	 * ClickHouse refuses IN (SELECT ... FROM distributed) by default; no
	 * attempt of these files is complete, checked above) */
	sb_add(&q, " FORMAT TabSeparated");
	if (q.oom || (err = ch_exec(c, "checking earlier attempts", q.p)))
		goto cleanup;
	{
		size_t nl = answer_lines(c, lines, 64);
		struct sbuf ids = { 0 };

		for (size_t i = 0; i < nl; i++)
			sb_add(&ids, "%s%s", i ? "," : "", lines[i]);
		for (size_t i = 0; nl && i < CH_NTABLES && !err; i++) {
			q.len = 0;
			sb_add(&q, "ALTER TABLE " CH_DB ".%s%s%s DELETE WHERE load_id IN (%s)",
			       ch_tables[i].name, o->dist ? "_local" : "", o->on, ids.p);
			err = ch_exec(c, "deleting the rows of an unfinished load", q.p);
		}
		if (nl && !err && o->verbose)
			fprintf(stderr, "httpanalyze: deleting the rows of %zu unfinished load%s of "
				"these files\n", nl, nl == 1 ? "" : "s");
		free(ids.p);
		if (err)
			goto cleanup;
	}
	/* this attempt */
	do {
		if (getrandom(&load_id, sizeof(load_id), 0) != sizeof(load_id))
			load_id = (uint64_t)wall_ns() ^ (uint64_t)getpid() << 32;
		load_id >>= 1;	/* fits SQLite's and everyone's signed 64 bits */
	} while (!load_id);
	q.len = 0;
	sb_add(&q, "INSERT INTO " CH_DB ".load_attempts VALUES (%" PRIu64 ", ", load_id);
	ch_quote(&q, key.p);
	sb_add(&q, ", %" PRId64 ")", wall_ns());
	if (q.oom || (err = ch_exec(c, "recording the load", q.p)))
		goto cleanup;
	/* the rows, built by the SQLite loader */
	db = db_create(NULL, &err);
	if (!db || (err = db_load(db, paths, n, &lo, &ls))) {
		err = err ? err : -EIO;
		goto cleanup;
	}
	/* the requests counted in linked_stats (requests.ch_linked) */
	{
		sqlite3_stmt *st = NULL;

		if ((err = db_exec(db, "CREATE TEMP TABLE ch_linked (request_id INTEGER PRIMARY KEY)")) ||
		    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.ch_linked VALUES (?)", -1, &st,
				       NULL) != SQLITE_OK) {
			err = err ? err : -EIO;
			goto cleanup;
		}
		for (size_t k = 0; k < ls.nlinked && !err; k++) {
			sqlite3_bind_int64(st, 1, ls.linked[k]);
			if (sqlite3_step(st) != SQLITE_DONE)
				err = -EIO;
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		if (err) {
			fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
			goto cleanup;
		}
	}
	t_staged = mono_s();
	for (size_t i = 0; i < CH_NTABLES; i++) {
		if (i == CH_EVENTS && !o->events)
			continue;
		if ((err = ch_send_table(c, db, &ch_tables[i], &cols[i], load_id, keys, n, o,
					 &counts[i])))
			goto cleanup;
	}
	/* complete: visible from now on */
	q.len = 0;
	sb_add(&q, "INSERT INTO " CH_DB ".loads VALUES (%" PRIu64 ", ", load_id);
	ch_quote(&q, key.p);
	sb_add(&q, ", ");
	sb_str_array(&q, keys, n);
	for (int part = 0; part < 2; part++) {
		sb_add(&q, ", [");
		for (size_t k = 0; k < n; k++) {
			/* capture_id:host:start:size */
			char *f = strdup(keys[k]), *colon = f ? strchr(f, ':') : NULL, *v = f;

			if (colon) {
				*colon = 0;
				if (part) {
					char *x;

					v = colon + 1;
					for (int j = 0; j < 2 && (x = strrchr(v, ':')); j++)
						*x = 0;
				}
			}
			sb_add(&q, "%s", k ? "," : "");
			ch_quote(&q, v ? v : "");
			free(f);
		}
		sb_add(&q, "]");
	}
	sb_add(&q, ", ");
	sb_str_array(&q, (char *const *)names, n);
	sb_add(&q, ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %d, %" PRId64
	       ", '" HTC_TOOL_VERSION "')", counts[4], counts[5], counts[3], ls.events, !!o->events,
	       wall_ns());
	if (q.oom || (err = ch_exec(c, "marking the load complete", q.p)))
		goto cleanup;
	printf("load %" PRIu64 ": %zu file%s, %llu requests, %llu calls, %llu connections, "
	       "%llu events%s\n", load_id, n, n == 1 ? "" : "s", (unsigned long long)counts[4],
	       (unsigned long long)counts[5], (unsigned long long)counts[3],
	       (unsigned long long)ls.events, o->events ? "" : " (not copied: --events)");
	if (o->verbose) {
		double t = mono_s() - t0;

		fprintf(stderr, "httpanalyze: clickhouse load %.3f s (engine and staging %.3f s, "
			"sending %.3f s): %.0f events/s\n", t, t_staged - t0, mono_s() - t_staged,
			t > 0 ? (double)ls.events / t : 0.0);
	}
cleanup:
	free(ls.linked);
	for (size_t k = 0; k < n; k++)
		free(keys[k]);
	free(keys);
	free_cols(cols);
	free(q.p);
	free(key.p);
	sqlite3_close(sdb);
	sqlite3_close(db);
	return err;
}

/* ---- reports ---- */

struct ch_run {
	struct ch c;
	sqlite3 *fdb;		/* local: results to order and format */
	struct sbuf sel;	/* the rows of the selected complete loads */
	struct sbuf loadsel;	/* ... the same, over the loads table */
	struct sbuf svcsel;	/* --service: "((0, 0, 0), (load, file, pid)...)", the
				 * processes of the services it names */
	const struct report_opts *o;
};

/* Nearest rank, as stats.c: the sorted answered durations a, rank ceil(p/100*n). */
#define CH_PCT(p) "if(empty(a), NULL, a[toUInt64(greatest(1., least(toFloat64(length(a)), ceil(" #p " / 100. * length(a)))))])"
#define CH_DURATIONS "arraySort(groupArrayIf(ifNull(duration_ms, 0.), isNotNull(duration_ms))) AS a"

static int fetch(struct ch_run *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fetch(struct ch_run *r, const char *name, const char *fmt, ...)
{
	struct sbuf q = { 0 };
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_room(&q, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(q.p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	err = ch_fetch(&r->c, r->fdb, name, q.p);
	free(q.p);
	return err;
}

static int lexec(struct ch_run *r, const char *sql)
{
	return db_exec(r->fdb, sql);
}

/* SQLite's GLOB (*, ?, [...], [^...]) as an RE2 pattern for match(). */
static void glob_re(struct sbuf *b, const char *g)
{
	sb_put(b, "^", 1);
	for (; *g; g++) {
		if (*g == '*') {
			sb_add(b, "(?s:.*)");
		} else if (*g == '?') {
			sb_add(b, "(?s:.)");
		} else if (*g == '[' && g[1] && g[1 + (g[1] == '^')] &&
			   strchr(g + 2 + (g[1] == '^'), ']')) {
			/* a class: its first character may be ']' itself, as in GLOB */
			const char *e = strchr(g + 2 + (g[1] == '^'), ']');

			sb_put(b, "[", 1);
			g++;
			if (*g == '^')
				sb_put(b, g++, 1);
			for (; g < e; g++) {
				if (*g == '\\' || *g == '[' || *g == ']')
					sb_put(b, "\\", 1);
				sb_put(b, g, 1);
			}
			sb_put(b, "]", 1);
		} else {
			if (strchr("\\.+()|{}^$[]", *g))
				sb_put(b, "\\", 1);
			sb_put(b, g, 1);
		}
	}
	sb_put(b, "$", 1);
}

static int64_t ch_capture_start(struct ch_run *r)
{
	struct sbuf q = { 0 };
	int64_t v = 0;

	sb_add(&q, "SELECT min(ifNull(start_ns, 0)) FROM " CH_DB ".files WHERE %s FORMAT TabSeparated",
	       r->sel.p);
	if (!q.oom && !ch_exec(&r->c, "a query", q.p) && r->c.resp.p)
		v = strtoll(r->c.resp.p, NULL, 10);
	free(q.p);
	return v;
}

/*
 * The services of the selected loads into the local table `services` (a
 * few rows: one per process that served or called), and for --service
 * the processes it names, by report.c's rule (REPORT_SERVICE_MATCH run
 * on those rows), as a list of (load_id, file_idx, pid) for ClickHouse's
 * IN.  (0, 0, 0), of no load, is always in it: with one process found,
 * "((l, f, p))" would read as one tuple, not a list of one.
 */
static int ch_services(struct ch_run *r)
{
	sqlite3_stmt *st;
	int err;

	if ((err = fetch(r, "services", "SELECT load_id, file_idx, pid, service, host, comm, label,"
			 " ports FROM " CH_DB ".services WHERE %s", r->sel.p)))
		return err;
	if (!r->o->service)
		return 0;
	st = report_prep(r->fdb, "SELECT load_id, file_idx, pid FROM services WHERE "
			 REPORT_SERVICE_MATCH("?1"));
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, r->o->service, -1, SQLITE_STATIC);
	sb_add(&r->svcsel, "((0, 0, 0)");
	while (sqlite3_step(st) == SQLITE_ROW)
		sb_add(&r->svcsel, ", (%lld, %lld, %lld)", (long long)sqlite3_column_int64(st, 0),
		       (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2));
	sb_add(&r->svcsel, ")");
	sqlite3_finalize(st);
	return r->svcsel.oom ? -ENOMEM : 0;
}

/* report.c's q_filters, in ClickHouse SQL (values quoted). */
static void ch_filters(struct ch_run *r, struct sbuf *q)
{
	const struct report_opts *o = r->o;
	int64_t base = (o->since.set && o->since.relative) ||
		       (o->until.set && o->until.relative) ? ch_capture_start(r) : 0;

	if (o->method) {
		sb_add(q, " AND r.method = upper(");
		ch_quote(q, o->method);
		sb_add(q, ")");
	}
	if (o->path_glob) {
		struct sbuf re = { 0 };

		glob_re(&re, o->path_glob);
		sb_add(q, " AND match(ifNull(r.path, ''), ");
		ch_quote(q, re.p ? re.p : "");
		sb_add(q, ") AND isNotNull(r.path)");
		free(re.p);
	}
	if (o->comm) {
		sb_add(q, " AND r.comm = ");
		ch_quote(q, o->comm);
	}
	if (o->host) {
		sb_add(q, " AND r.host = ");
		ch_quote(q, o->host);
	}
	if (o->service)
		sb_add(q, " AND (r.load_id, r.file_idx, r.pid) IN %s", r->svcsel.p);
	if (o->trace_id) {
		sb_add(q, " AND r.trace_id = lower(");
		ch_quote(q, o->trace_id);
		sb_add(q, ")");
	}
	if (o->pid >= 0)
		sb_add(q, " AND r.pid = %lld", (long long)o->pid);
	if (o->nports) {
		sb_add(q, " AND r.server_port IN (");
		for (int i = 0; i < o->nports; i++)
			sb_add(q, "%s%d", i ? ", " : "", o->ports[i]);
		sb_add(q, ")");
	}
	if (o->min_duration_ms >= 0)
		sb_add(q, " AND r.duration_ms >= %.17g", o->min_duration_ms);
	if (o->nstatus) {
		sb_add(q, " AND (");
		for (int i = 0; i < o->nstatus; i++)
			sb_add(q, "%s(r.status >= %d AND r.status <= %d)", i ? " OR " : "",
			       o->status_lo[i], o->status_hi[i]);
		sb_add(q, ")");
	}
	if (o->since.set)
		sb_add(q, " AND r.start_ns >= %lld",
		       (long long)(o->since.ns + (o->since.relative ? base : 0)));
	if (o->until.set)
		sb_add(q, " AND r.start_ns < %lld",
		       (long long)(o->until.ns + (o->until.relative ? base : 0)));
}

/* report.c's q_order_limit: SQLite puts NULLs first in ascending order. */
static void ch_order_limit(struct ch_run *r, struct sbuf *q)
{
	const char *s = r->o->sort ? r->o->sort : "start";

	if (!strcmp(s, "duration"))
		sb_add(q, " ORDER BY r.duration_ms DESC NULLS FIRST, r.request_id, r.load_id");
	else if (!strcmp(s, "status"))
		sb_add(q, " ORDER BY r.status DESC NULLS FIRST, r.start_ns NULLS FIRST, r.request_id, r.load_id");
	else
		sb_add(q, " ORDER BY r.start_ns NULLS FIRST, r.request_id, r.load_id");
	if (r->o->limit >= 0)
		sb_add(q, " LIMIT %lld", (long long)r->o->limit);
}

/* Write the local query's rows as report.c does (REAL with 3 decimals). */
static int listing(struct ch_run *r, const char *sql)
{
	int64_t n = report_rows(r->fdb, r->o, report_prep(r->fdb, sql));

	return n < 0 ? (int)n : 0;
}

/* report.c's SVC_COL and SVC_JOIN over the local tables: t, the rows
 * fetched, and services (ch_services). */
#define CH_SVC_COL "coalesce(s.service, t.comm || '@' || t.host) AS service"
#define CH_SVC_JOIN "LEFT JOIN services s ON s.load_id = t.load_id AND s.file_idx = t.file_idx" \
	" AND s.pid = t.pid"

/* ClickHouse: the service of each row of a subquery with load_id,
 * file_idx, pid, comm and host, as report.c's: its process's services
 * row, else comm@host.  "FROM (subquery" CH_SVC_JOIN_RIGHT ")" with the
 * selected loads for %s; (ANY LEFT JOIN fills a missing row with defaults,
 * not NULLs: s_found tells). */
#define CH_SVC_EXPR "if(s_found = 1, s_service, concat(ifNull(comm, ''), '@', ifNull(host, '')))"
#define CH_SVC_JOIN_RIGHT ") ANY LEFT JOIN (SELECT load_id, file_idx, pid, service AS s_service," \
	" toUInt8(1) AS s_found FROM " CH_DB ".services WHERE %s) USING (load_id, file_idx, pid"

/* A filtered, ordered request listing: cols from ClickHouse, then the
 * local SELECT that names and formats them. */
static int request_listing(struct ch_run *r, const char *cols, const char *where,
			   const char *local)
{
	struct sbuf q = { 0 };
	int err;

	sb_add(&q, "SELECT %s FROM " CH_DB ".requests AS r WHERE %s%s", cols, r->sel.p, where);
	ch_filters(r, &q);
	ch_order_limit(r, &q);
	err = q.oom ? -ENOMEM : ch_fetch(&r->c, r->fdb, "t", q.p);
	free(q.p);
	return err ? err : listing(r, local);
}

static int ch_requests(struct ch_run *r)
{
	return request_listing(r,
		"r.request_id, r.parent_request_id, r.parent_ambiguous, r.parent_evidence,"
		" r.trace_id, r.start_ns, r.duration_ms, r.client_latency_ns, r.method, r.path,"
		" r.status, r.protocol, r.pid, r.comm, r.ncalls, r.host, r.load_id, r.file_idx", "",
		"SELECT request_id, parent_request_id, parent_ambiguous, parent_evidence,"
		" trace_id, rfc3339(start_ns) AS start,"
		" duration_ms, client_latency_ns / 1e6 AS client_ms, method, path, status, protocol,"
		" t.pid, t.comm, ncalls AS calls, t.host, " CH_SVC_COL " FROM t " CH_SVC_JOIN
		" ORDER BY t.rowid");
}

static int ch_errors(struct ch_run *r)
{
	return request_listing(r,
		"r.request_id, r.parent_request_id, r.parent_ambiguous, r.start_ns, r.duration_ms,"
		" r.method, r.path, r.status, r.protocol, r.unanswered, r.reset, r.flags,"
		" r.grpc_status, r.pid, r.comm, r.host, r.load_id, r.file_idx",
		" AND (r.error = 1 OR r.unanswered = 1 OR r.reset = 1 OR ifNull(r.status, 0) >= 400)",
		"SELECT request_id, parent_request_id, parent_ambiguous, rfc3339(start_ns) AS start,"
		" duration_ms, method, path, status, protocol,"
		" CASE WHEN unanswered THEN 'unanswered' WHEN reset THEN 'reset'"
		"  WHEN (flags >> 11) & 1 THEN 'stream reset'"
		"  WHEN grpc_status > 0 THEN 'grpc-status ' || grpc_status"
		"  WHEN status >= 500 THEN '5xx' WHEN status >= 400 THEN '4xx'"
		"  ELSE 'error' END AS reason,"
		" t.pid, t.comm, t.host, " CH_SVC_COL " FROM t " CH_SVC_JOIN " ORDER BY t.rowid");
}

static int ch_deps(struct ch_run *r)
{
	char lim[48] = "";
	char local[512];
	int err;

	err = fetch(r, "t",
		"SELECT service, caller, protocol, downstream, name, calls, errors,"
		" " CH_PCT(50) " AS p50_ms, " CH_PCT(90) " AS p90_ms, " CH_PCT(99) " AS p99_ms,"
		" proven, guessed, if(empty(b), NULL, b[toUInt64(greatest(1., least(toFloat64(length(b)),"
		" ceil(50 / 100. * length(b)))))]) AS server_p50_ms FROM ("
		" SELECT " CH_SVC_EXPR " AS service,"
		"  if(r_found = 1, r_endpoint, '(no request)') AS caller, protocol,"
		"  concat(ifNull(remote_ip, ''), ':', toString(ifNull(remote_port, 0))) AS downstream, name,"
		"  count() AS calls, countIf(error = 1 OR unanswered = 1) AS errors,"
		"  " CH_DURATIONS ","
		"  countIf(isNotNull(request_id) AND ambiguous = 0) AS proven, sum(ambiguous) AS guessed,"
		"  arraySort(groupArrayIf(ifNull(server_latency_ns, 0) / 1e6,"
		"   isNotNull(server_latency_ns))) AS b"
		" FROM (SELECT load_id, rid, request_id, comm, host, protocol, remote_ip, remote_port,"
		"   name, duration_ms, error, unanswered, ambiguous, server_latency_ns, s_service, s_found"
		"  FROM (SELECT load_id, file_idx, pid, ifNull(request_id, 0) AS rid, request_id,"
		"   comm, host, protocol, remote_ip, remote_port, name, duration_ms, error, unanswered,"
		"   ambiguous, server_latency_ns"
		"   FROM " CH_DB ".calls AS c WHERE %s%s%s"
		CH_SVC_JOIN_RIGHT "))"
		" ANY LEFT JOIN (SELECT load_id, request_id AS rid,"
		"   ifNull(endpoint, '') AS r_endpoint, toUInt8(1) AS r_found"
		"   FROM " CH_DB ".requests WHERE %s) USING (load_id, rid)"
		" GROUP BY service, caller, protocol, downstream, name)", r->sel.p,
		r->o->service ? " AND (c.load_id, c.file_idx, c.pid) IN " : "",
		r->o->service ? r->svcsel.p : "", r->sel.p, r->sel.p);
	if (err)
		return err;
	if (r->o->limit >= 0)
		snprintf(lim, sizeof(lim), " LIMIT %lld", (long long)r->o->limit);
	snprintf(local, sizeof(local),
		 "SELECT service, caller, protocol, downstream, name, calls, errors, p50_ms,"
		 " p90_ms, p99_ms, proven, guessed, server_p50_ms FROM t ORDER BY 1, 2, calls DESC, 4, 5%s",
		 lim);
	return listing(r, local);
}

static int ch_latency(struct ch_run *r)
{
	struct sbuf q = { 0 };
	struct out *lst = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc;

	sb_add(&q, "SELECT service, endpoint, length(a) AS n, unanswered, a[1] AS min_ms,"
	       " " CH_PCT(50) " AS p50, " CH_PCT(90) " AS p90, " CH_PCT(99) " AS p99,"
	       " a[length(a)] AS max_ms");
	for (int b = 0; b < REPORT_HIST_BUCKETS; b++)
		sb_add(&q, ", h%d", b);
	sb_add(&q, " FROM (SELECT service,"
	       " endpoint, countIf(isNull(duration_ms)) AS unanswered,"
	       " " CH_DURATIONS);
	for (int b = 0; b < REPORT_HIST_BUCKETS; b++) {
		if (b + 1 == REPORT_HIST_BUCKETS)
			sb_add(&q, ", countIf(duration_ms > %.17g) AS h%d", report_hist_le_ms[b - 1], b);
		else if (!b)
			sb_add(&q, ", countIf(duration_ms <= %.17g) AS h%d", report_hist_le_ms[b], b);
		else
			sb_add(&q, ", countIf(duration_ms > %.17g AND duration_ms <= %.17g) AS h%d",
			       report_hist_le_ms[b - 1], report_hist_le_ms[b], b);
	}
	sb_add(&q, " FROM (SELECT " CH_SVC_EXPR " AS service, endpoint, duration_ms FROM ("
	       "SELECT r.load_id, r.file_idx, r.pid, r.comm, r.host, ifNull(r.endpoint, '') AS endpoint,"
	       " r.duration_ms FROM " CH_DB ".requests AS r WHERE %s", r->sel.p);
	ch_filters(r, &q);
	sb_add(&q, CH_SVC_JOIN_RIGHT ")) GROUP BY service, endpoint) ORDER BY service, endpoint",
	       r->sel.p);
	err = q.oom ? -ENOMEM : ch_fetch(&r->c, r->fdb, "t", q.p);
	free(q.p);
	if (err)
		return err;
	if (!(st = report_prep(r->fdb, "SELECT * FROM t ORDER BY rowid")))
		return -EIO;
	if ((err = report_latency_begin(r->o, &lst)))
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct report_lat g = {
			.service = (const char *)sqlite3_column_text(st, 0),
			.endpoint = (const char *)sqlite3_column_text(st, 1),
			.n = (uint64_t)sqlite3_column_int64(st, 2),
			.unanswered = (uint64_t)sqlite3_column_int64(st, 3),
			.min = sqlite3_column_double(st, 4),
			.p50 = sqlite3_column_double(st, 5),
			.p90 = sqlite3_column_double(st, 6),
			.p99 = sqlite3_column_double(st, 7),
			.max = sqlite3_column_double(st, 8),
		};

		g.service = g.service ? g.service : "";
		g.endpoint = g.endpoint ? g.endpoint : "";
		for (int b = 0; b < REPORT_HIST_BUCKETS; b++)
			g.hist[b] = (uint64_t)sqlite3_column_int64(st, 9 + b);
		report_latency_emit(r->o, lst, &g);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(r->fdb));
		err = -EIO;
	}
cleanup:
	if (lst && (rc = out_finish(lst)) && !err)
		err = rc;
	sqlite3_finalize(st);
	return err;
}

/* The per-file tables of several loads: file_idx renumbered in load order
 * (one load: unchanged). */
static int renumber(struct ch_run *r)
{
	static const char *const t[] = {
		"files", "losses", "processes", "conn_by_proc", "preq", "pcall", "services",
	};
	char sql[512];
	int err;

	if ((err = lexec(r, "CREATE TABLE fmap AS SELECT f.load_id, f.file_idx AS old,"
			 " row_number() OVER (ORDER BY l.loaded_ns, f.load_id, f.file_idx) - 1 AS new"
			 " FROM files f JOIN loads l USING (load_id)")))
		return err;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(sql, sizeof(sql), "UPDATE %s SET file_idx = (SELECT new FROM fmap m"
			 " WHERE m.load_id = %s.load_id AND m.old = %s.file_idx)", t[i], t[i], t[i]);
		if ((err = lexec(r, sql)))
			return err;
	}
	return 0;
}

/*
 * summary: ClickHouse computes the tables report.c's summary reads (its
 * per-endpoint, linked and downstream stats, counts instead of the
 * requests and calls), fetched into r->fdb; report.c formats them.
 */
static int ch_summary(struct ch_run *r)
{
	static const struct report_summary_src src = {
		.requests = "SELECT requests FROM counts",
		.calls = "SELECT calls FROM counts",
		.linked = "SELECT linked FROM counts",
		.tls = "tls_conns",
		.processes = "WITH p AS (SELECT file_idx, pid, comm, conns FROM conn_by_proc),"
			     " r AS (SELECT file_idx, pid, n FROM preq),"
			     " k AS (SELECT file_idx, pid, n FROM pcall)",
		.evidence = "SELECT evidence, calls, to_traced_requests, http FROM evidence",
		.undecoded_count = "SELECT count(*) FROM undecoded",
		.undecoded = "SELECT protocol, server, sum(n) AS connections, sum(bi) AS bytes_in,"
			     " sum(bo) AS bytes_out, group_concat(DISTINCT comm) AS processes"
			     " FROM (SELECT * FROM undecoded ORDER BY first_load, first_conn)"
			     " GROUP BY 1, 2 ORDER BY sum(bi + bo) DESC, 1, 2 LIMIT 10",
	};
	const char *s = r->sel.p;
	int err;

	if ((err = fetch(r, "loads", "SELECT load_id, loaded_ns FROM " CH_DB ".loads WHERE %s",
			 r->loadsel.p)) ||
	    (err = fetch(r, "files", "SELECT * FROM " CH_DB ".files WHERE %s", s)) ||
	    (err = fetch(r, "losses", "SELECT load_id, file_idx, reason, name, count FROM "
			 CH_DB ".losses WHERE %s", s)) ||
	    (err = fetch(r, "processes", "SELECT load_id, file_idx, pid, comm, cmdline FROM "
			 CH_DB ".processes WHERE %s", s)) ||
	    (err = fetch(r, "conn_by_proc", "SELECT load_id, file_idx, pid, max(comm) AS comm,"
			 " count() AS conns FROM " CH_DB ".connections WHERE %s"
			 " GROUP BY load_id, file_idx, pid", s)) ||
	    (err = fetch(r, "preq", "SELECT load_id, file_idx, pid, count() AS n FROM "
			 CH_DB ".requests WHERE %s GROUP BY load_id, file_idx, pid", s)) ||
	    (err = fetch(r, "pcall", "SELECT load_id, file_idx, pid, count() AS n FROM "
			 CH_DB ".calls WHERE %s GROUP BY load_id, file_idx, pid", s)) ||
	    (err = fetch(r, "counts", "SELECT (SELECT count() FROM " CH_DB ".requests WHERE %s)"
			 " AS requests, (SELECT count() FROM " CH_DB ".calls WHERE %s) AS calls,"
			 " (SELECT count() FROM " CH_DB ".requests WHERE %s"
			 "  AND isNotNull(parent_call_id)) AS linked", s, s, s)) ||
	    /* per service and endpoint (a request whose process has no
	     * services row: '?', as load.c's insert_stats) */
	    (err = fetch(r, "endpoint_stats", "SELECT service, endpoint, requests, errors,"
			 " " CH_PCT(50) " AS p50_ms, " CH_PCT(90) " AS p90_ms, " CH_PCT(99) " AS p99_ms"
			 " FROM (SELECT if(s_found = 1, s_service, '?') AS service, endpoint,"
			 " count() AS requests, countIf(bitAnd(flags, 65) != 0) AS errors, " CH_DURATIONS
			 " FROM (SELECT load_id, file_idx, pid, endpoint, flags, duration_ms FROM "
			 CH_DB ".requests WHERE %s" CH_SVC_JOIN_RIGHT ") GROUP BY service, endpoint)",
			 s, s)) ||
	    /* the pairs the load counted (ch_linked) */
	    (err = fetch(r, "linked_stats", "SELECT service, endpoint, length(a) AS requests,"
			 " " CH_PCT(50) " AS server_p50_ms, if(empty(b), NULL, b[toUInt64(greatest(1.,"
			 " least(toFloat64(length(b)), ceil(50 / 100. * length(b)))))]) AS client_p50_ms,"
			 " " CH_PCT(99) " AS server_p99_ms, if(empty(b), NULL, b[toUInt64(greatest(1.,"
			 " least(toFloat64(length(b)), ceil(99 / 100. * length(b)))))]) AS client_p99_ms"
			 " FROM (SELECT if(s_found = 1, s_service, '?') AS service, endpoint,"
			 " arraySort(groupArray(ifNull(duration_ms, 0.))) AS a,"
			 " arraySort(groupArray(ifNull(client_latency_ns, 0) / 1e6)) AS b"
			 " FROM (SELECT load_id, file_idx, pid, endpoint, duration_ms, client_latency_ns"
			 " FROM " CH_DB ".requests WHERE %s AND ch_linked = 1"
			 CH_SVC_JOIN_RIGHT ") GROUP BY service, endpoint)",
			 s, s)) ||
	    (err = fetch(r, "downstream_stats", "SELECT protocol, remote_ip, remote_port, name,"
			 " calls, errors, " CH_PCT(50) " AS p50_ms, " CH_PCT(90) " AS p90_ms,"
			 " " CH_PCT(99) " AS p99_ms FROM (SELECT protocol, remote_ip, remote_port, name,"
			 " count() AS calls, countIf(bitAnd(flags, 65) != 0) AS errors, " CH_DURATIONS
			 " FROM " CH_DB ".calls WHERE %s GROUP BY protocol, remote_ip, remote_port, name)",
			 s)) ||
	    (err = fetch(r, "evidence", "SELECT evidence, count() AS calls,"
			 " countIf(isNotNull(child_request_id)) AS to_traced_requests,"
			 " countIf(ifNull(protocol, '') IN ('http', 'http2', 'grpc')) AS http"
			 " FROM " CH_DB ".calls WHERE %s GROUP BY evidence", s)) ||
	    (err = fetch(r, "undecoded", "SELECT protocol, if(role = 'server',"
			 " concat(ifNull(local_ip, ''), ':', toString(ifNull(local_port, 0))),"
			 " concat(ifNull(remote_ip, ''), ':', toString(ifNull(remote_port, 0)))) AS server,"
			 " comm, min(load_id) AS first_load, min(conn) AS first_conn, count() AS n,"
			 " sum(bytes_in) AS bi, sum(bytes_out) AS bo FROM " CH_DB ".connections"
			 " WHERE %s AND ifNull(protocol, '') IN ('tls', 'unknown')"
			 " AND ifNull(bytes_in + bytes_out, 0) > 0 GROUP BY protocol, server, comm", s)) ||
	    (err = fetch(r, "tls_conns", "SELECT tls, tls_reason FROM " CH_DB ".connections"
			 " WHERE %s AND isNotNull(tls)", s)) ||
	    (err = renumber(r)))
		return err;
	return report_summary_from(r->fdb, r->o, &src);
}

/* Copy the rows of local table `from` (fetched) into `to` of db, by the
 * stored columns of `to`. */
static int copy_rows(sqlite3 *db, const char *to, const char *from)
{
	struct sbuf cols = { 0 }, sql = { 0 };
	sqlite3_stmt *st = NULL;
	char pragma[128];
	int err = 0;

	snprintf(pragma, sizeof(pragma), "PRAGMA table_xinfo(%s)", to);
	if (sqlite3_prepare_v2(db, pragma, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (!sqlite3_column_int(st, 6))
			sb_add(&cols, "%s\"%s\"", cols.len ? ", " : "",
			       (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	sb_add(&sql, "INSERT OR IGNORE INTO %s (%s) SELECT %s FROM \"%s\"", to, cols.p, cols.p, from);
	err = cols.oom || sql.oom ? -ENOMEM : db_exec(db, sql.p);
	free(cols.p);
	free(sql.p);
	return err;
}

/*
 * show: the request tree read from ClickHouse (the request, its calls, the
 * requests they became, to --depth levels) into an in-memory database of
 * the SQLite schema, then show.c's report over it: the same output.
 */
static int ch_show(struct ch_run *r, const char *idtext)
{
	struct sbuf ids = { 0 }, q = { 0 };
	sqlite3 *db = NULL, *saved = NULL;
	sqlite3_stmt *st = NULL;
	char *end, lid[32] = "";
	long long id;
	int err = 0, nloads = 0;

	errno = 0;
	id = strtoll(idtext, &end, 10);
	if (errno || end == idtext || *end || id <= 0) {
		fprintf(stderr, "httpanalyze: bad request id '%s': want a number like 1001\n", idtext);
		return -EINVAL;
	}
	/* ids are unique within a load: which load is it in? */
	sb_add(&q, "SELECT toString(load_id) FROM " CH_DB ".requests WHERE %s AND request_id = %lld"
	       " FORMAT TabSeparated", r->sel.p, id);
	if (q.oom || (err = ch_exec(&r->c, "a query", q.p)))
		goto cleanup;
	for (char *p = r->c.resp.p, *e; p && *p; p = e ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (e)
			*e = 0;
		if (nloads++)
			sb_add(&ids, ", ");
		sb_add(&ids, "%s", p);
		snprintf(lid, sizeof(lid), "%s", p);
	}
	if (nloads > 1) {
		fprintf(stderr, "httpanalyze: request %lld is in %d loads (%s): choose one with "
			"--load\n", id, nloads, ids.p);
		err = -ENOENT;
		goto cleanup;
	}
	db = db_create(NULL, &err);
	if (!db) {
		err = err ? err : -EIO;
		goto cleanup;
	}
	/* fetched into db itself, beside the tables they are copied into */
	saved = r->fdb;
	r->fdb = db;
	if (nloads) {
		/* level by level: requests, their calls, the requests those became */
		ids.len = 0;
		sb_add(&ids, "%lld", id);
		for (int level = 0; level <= r->o->depth + 1 && ids.len && !err; level++) {
			char t[32];

			snprintf(t, sizeof(t), "r%d", level);
			if ((err = fetch(r, t, "SELECT * FROM " CH_DB ".requests WHERE load_id = %s"
					 " AND request_id IN (%s)", lid, ids.p)) ||
			    (err = copy_rows(db, "requests", t)))
				break;
			snprintf(t, sizeof(t), "c%d", level);
			if ((err = fetch(r, t, "SELECT * FROM " CH_DB ".calls WHERE load_id = %s"
					 " AND request_id IN (%s)", lid, ids.p)) ||
			    (err = copy_rows(db, "calls", t)))
				break;
			/* the next level: the requests the calls became */
			q.len = 0;
			sb_add(&q, "SELECT DISTINCT child_request_id FROM \"%s\""
			       " WHERE child_request_id IS NOT NULL", t);
			if (sqlite3_prepare_v2(r->fdb, q.p, -1, &st, NULL) != SQLITE_OK) {
				err = -EIO;
				break;
			}
			ids.len = 0;
			while (sqlite3_step(st) == SQLITE_ROW)
				sb_add(&ids, "%s%lld", ids.len ? ", " : "",
				       (long long)sqlite3_column_int64(st, 0));
			sqlite3_finalize(st);
			st = NULL;
		}
		/* the service names of the processes (show prints them) */
		if (!err && !(err = fetch(r, "sv", "SELECT * FROM " CH_DB ".services WHERE load_id = %s",
					  lid)))
			err = copy_rows(db, "services", "sv");
		if (err)
			goto cleanup;
	}
	err = report_show(db, r->o, idtext);
cleanup:
	sqlite3_finalize(st);
	if (saved)
		r->fdb = saved;
	sqlite3_close(db);
	free(ids.p);
	free(q.p);
	return err;
}

/* sql: the query runs on the server (read-only unless --writable); a
 * result is written as `sql` writes SQLite's, in --format. */
static int ch_sql(struct ch_run *r, const char *sql)
{
	size_t n = strlen(sql);
	char *q = strdup(sql);
	int err;

	if (!q)
		return -ENOMEM;
	while (n && (isspace((unsigned char)q[n - 1]) || q[n - 1] == ';'))
		q[--n] = 0;
	r->c.readonly = !r->o->writable;
	if (strcasestr(q, "FORMAT ") || !strncasecmp(q, "INSERT", 6) || !strncasecmp(q, "CREATE", 6) ||
	    !strncasecmp(q, "ALTER", 5) || !strncasecmp(q, "DROP", 4) ||
	    !strncasecmp(q, "OPTIMIZE", 8) || !strncasecmp(q, "TRUNCATE", 8)) {
		/* passed through: ClickHouse's own answer */
		err = ch_exec(&r->c, "the query", q);
		if (!err && r->c.resp.len)
			fwrite(r->c.resp.p, 1, r->c.resp.len, r->o->out);
	} else {
		sqlite3_stmt *st;
		int64_t rows;

		err = ch_fetch(&r->c, r->fdb, "t", q);
		if (!err && (st = report_prep(r->fdb, "SELECT * FROM t ORDER BY rowid"))) {
			rows = out_stmt(r->o->fmt, r->o->out, st, -1);
			sqlite3_finalize(st);
			err = rows < 0 ? (int)rows : 0;
		} else if (!err) {
			err = -EIO;
		}
	}
	free(q);
	return err;
}

/* ---- command line ---- */

enum {
	CO_CLICKHOUSE = 256, CO_FORMAT, CO_METHOD, CO_PATH, CO_STATUS, CO_MIN_DURATION, CO_PID,
	CO_PORT, CO_COMM, CO_HOST, CO_SINCE, CO_UNTIL, CO_SORT, CO_LIMIT, CO_CAPTURE, CO_EVENTS,
	CO_PAYLOAD_CAP, CO_CLUSTER, CO_WRITABLE, CO_TRACE_ID, CO_LOAD, CO_ON_CLUSTER, CO_DEPTH,
	CO_SERVICE, CO_SECTION,
};

static const struct option ch_longopts[] = {
	{ "clickhouse", required_argument, NULL, CO_CLICKHOUSE },
	{ "format", required_argument, NULL, CO_FORMAT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "method", required_argument, NULL, CO_METHOD },
	{ "path", required_argument, NULL, CO_PATH },
	{ "status", required_argument, NULL, CO_STATUS },
	{ "min-duration", required_argument, NULL, CO_MIN_DURATION },
	{ "pid", required_argument, NULL, CO_PID },
	{ "port", required_argument, NULL, CO_PORT },
	{ "comm", required_argument, NULL, CO_COMM },
	{ "host", required_argument, NULL, CO_HOST },
	{ "trace-id", required_argument, NULL, CO_TRACE_ID },
	{ "service", required_argument, NULL, CO_SERVICE },
	{ "section", required_argument, NULL, CO_SECTION },
	{ "since", required_argument, NULL, CO_SINCE },
	{ "until", required_argument, NULL, CO_UNTIL },
	{ "sort", required_argument, NULL, CO_SORT },
	{ "limit", required_argument, NULL, CO_LIMIT },
	{ "capture", required_argument, NULL, CO_CAPTURE },
	{ "depth", required_argument, NULL, CO_DEPTH },
	{ "load", required_argument, NULL, CO_LOAD },
	{ "events", no_argument, NULL, CO_EVENTS },
	{ "payload-cap", required_argument, NULL, CO_PAYLOAD_CAP },
	{ "cluster", required_argument, NULL, CO_CLUSTER },
	{ "writable", no_argument, NULL, CO_WRITABLE },
	{ "on-cluster", no_argument, NULL, CO_ON_CLUSTER },
	{ NULL, 0, NULL, 0 },
};

static const char *const ch_cmds[] = {
	"load", "summary", "requests", "latency", "errors", "deps", "sql", "schema", "show",
	"report", "export",
};

static const char ch_help[] =
	"usage: httpanalyze load --clickhouse URL [--events] [--payload-cap N]\n"
	"                        [--cluster NAME [--on-cluster]] [-v] [-q] FILE.htc...\n"
	"       httpanalyze summary|requests|latency|errors|deps|show --clickhouse URL\n"
	"                        [--capture ID]... [--load ID]... [--format table|json|csv]\n"
	"                        [filters as without --clickhouse] [--sort ...] [--limit N]\n"
	"       httpanalyze sql --clickhouse URL [--writable] 'QUERY'\n"
	"       httpanalyze schema --clickhouse URL [--cluster NAME [--on-cluster]]\n"
	"\n"
	"Load capture files into ClickHouse (URL: http://HOST:8123) and report from\n"
	"there; the loads read are all complete ones, or those of --capture (a\n"
	"capture id) and --load (what load printed).  See CLICKHOUSE in httpanalyze(1).\n";

int ch_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--clickhouse") || !strncmp(argv[i], "--clickhouse=", 13))
			return 1;
	}
	/* `load` is a ClickHouse command only */
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		return !strcmp(argv[i], "load");
	}
	return 0;
}

static int ch_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ch_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("httpanalyze: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'httpanalyze --help' and httpanalyze(1), CLICKHOUSE.\n", stderr);
	return 2;
}

static int parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int ch_main(int argc, char **argv)
{
	struct report_opts ro = {
		.fmt = OUT_TABLE, .out = stdout, .pid = -1, .min_duration_ms = -1, .limit = -1,
		.depth = 8,
	};
	struct ch_load_opts lo = { .payload_cap = UINT32_MAX, .on = "" };
	int on_cluster = 0;
	struct ch_run r = { .o = &ro };
	const char *url = NULL, *cmd = NULL, *captures[64];
	char cluster[160] = "";
	size_t ncaptures = 0, nloads = 0;
	uint64_t loads[64];
	struct htc_spool *spools = NULL;
	const char **spooled = NULL;
	int opt, err = 0, rc = 0;
	int64_t v;

	/* the command: the first argument that is not an option (or value) */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1]) {
			for (const struct option *o = ch_longopts; a[1] == '-' && o->name; o++)
				if (o->has_arg == required_argument && !strcmp(a + 2, o->name))
					i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(ch_cmds) / sizeof(ch_cmds[0]); k++)
			if (!strcmp(a, ch_cmds[k])) {
				cmd = ch_cmds[k];
				memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(*argv));
				argc--;
			}
		break;
	}
	if (!cmd)
		cmd = "summary";
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vqh", ch_longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(ch_help, stdout);
			return 0;
		case CO_CLICKHOUSE: url = optarg; break;
		case CO_FORMAT:
			if (out_parse_format(optarg, &ro.fmt))
				return ch_usage("bad --format '%s': want table, json or csv", optarg);
			break;
		case 'v': lo.verbose = 1; break;
		case 'q': lo.quiet = ro.quiet = 1; break;
		case CO_METHOD: ro.method = optarg; break;
		case CO_PATH: ro.path_glob = optarg; break;
		case CO_COMM: ro.comm = optarg; break;
		case CO_HOST: ro.host = optarg; break;
		case CO_TRACE_ID: ro.trace_id = optarg; break;
		case CO_SERVICE:
			if (!*optarg)
				return ch_usage("bad --service '': want a service name (see `httpanalyze "
						"summary`)%s", "");
			ro.service = optarg;
			break;
		case CO_SECTION: {
			int i;

			for (i = 0; report_summary_sections[i]; i++)
				if (!strcmp(optarg, report_summary_sections[i]))
					break;
			if (!report_summary_sections[i])
				return ch_usage("bad --section '%s': want totals, tls, file, process, "
						"endpoint, linked, evidence, dependency, undecoded or lost",
						optarg);
			ro.section = optarg;
			break;
		}
		case CO_STATUS:
			if (report_parse_status(optarg, &ro))
				return ch_usage("bad --status '%s': want e.g. 500, 5xx, 500-599 or 404,5xx", optarg);
			break;
		case CO_MIN_DURATION:
			if (report_parse_duration_ms(optarg, &ro.min_duration_ms))
				return ch_usage("bad --min-duration '%s': want e.g. 10ms, 1.5s, 250us", optarg);
			break;
		case CO_PID:
			if (parse_num(optarg, 0, INT64_MAX, &ro.pid))
				return ch_usage("bad --pid '%s'", optarg);
			break;
		case CO_PORT:
			if (parse_num(optarg, 1, 65535, &v))
				return ch_usage("bad --port '%s': want a TCP port, 1..65535", optarg);
			if (ro.nports >= REPORT_MAX_STATUS)
				return ch_usage("too many --port (at most %s)", "16");
			ro.ports[ro.nports++] = (int)v;
			break;
		case CO_SINCE:
			if (report_parse_when(optarg, &ro.since))
				return ch_usage("bad --since '%s'", optarg);
			break;
		case CO_UNTIL:
			if (report_parse_when(optarg, &ro.until))
				return ch_usage("bad --until '%s'", optarg);
			break;
		case CO_SORT:
			if (strcmp(optarg, "start") && strcmp(optarg, "duration") && strcmp(optarg, "status"))
				return ch_usage("bad --sort '%s': want start, duration or status", optarg);
			ro.sort = optarg;
			break;
		case CO_LIMIT:
			if (parse_num(optarg, 0, INT64_MAX, &ro.limit))
				return ch_usage("bad --limit '%s'", optarg);
			break;
		case CO_CAPTURE: {
			size_t n = strlen(optarg);

			if (!n || n > 32 || strspn(optarg, "0123456789abcdefABCDEF") != n)
				return ch_usage("bad --capture '%s': want a capture id (32 hex digits, "
						"files.capture_id)", optarg);
			if (ncaptures == sizeof(captures) / sizeof(captures[0]))
				return ch_usage("too many --capture (at most %s)", "64");
			captures[ncaptures++] = optarg;
			break;
		}
		case CO_LOAD: {
			char *end;

			errno = 0;
			if (nloads == sizeof(loads) / sizeof(loads[0]))
				return ch_usage("too many --load (at most %d)", 64);
			loads[nloads++] = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-')
				return ch_usage("bad --load '%s': want a load id (what load printed, "
						"loads.load_id)", optarg);
			break;
		}
		case CO_DEPTH:
			if (parse_num(optarg, 0, 64, &v))
				return ch_usage("bad --depth '%s': want 0..64", optarg);
			ro.depth = (int)v;
			break;
		case CO_EVENTS: lo.events = 1; break;
		case CO_PAYLOAD_CAP:
			if (parse_num(optarg, 0, UINT32_MAX, &v))
				return ch_usage("bad --payload-cap '%s': want bytes >= 0", optarg);
			lo.payload_cap = (uint32_t)v;
			break;
		case CO_CLUSTER:
			if (!*optarg || strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
			    strlen(optarg) || strlen(optarg) > 100)
				return ch_usage("bad --cluster '%s': want a cluster name of the server's "
						"remote_servers", optarg);
			snprintf(cluster, sizeof(cluster), " ON CLUSTER %s", optarg);
			lo.dist = optarg;
			break;
		case CO_WRITABLE: ro.writable = 1; break;
		case CO_ON_CLUSTER: on_cluster = 1; break;
		default:
			return ch_usage("unknown option, or one that does not apply with --clickhouse: '%s'",
					argv[optind - 1]);
		}
	}
	if (on_cluster && !lo.dist)
		return ch_usage("--on-cluster needs --cluster NAME%s", "");
	if (on_cluster)
		lo.on = cluster;
	if (lo.dist && strcmp(cmd, "load") && strcmp(cmd, "schema"))
		return ch_usage("--cluster and --on-cluster apply to load and schema (%s reads the "
				"Distributed tables by their names)", cmd);
	if (!strcmp(cmd, "schema")) {
		struct ch_cols cols[CH_NTABLES] = { 0 };
		struct sbuf t = { 0 };
		sqlite3 *sdb = schema_db();

		err = sdb ? ch_schema(sdb, lo.on, lo.dist, cols, &t) : -EIO;
		if (!err)
			fputs(t.p, stdout);
		free_cols(cols);
		free(t.p);
		sqlite3_close(sdb);
		return err ? 1 : 0;
	}
	if (!url)
		return ch_usage("%s needs --clickhouse URL (http://HOST:8123)", cmd);
	if (!strcmp(cmd, "report") || !strcmp(cmd, "export")) {
		fprintf(stderr, "httpanalyze: %s is not supported with --clickhouse yet: load the "
			"capture files into SQLite (httpanalyze %s FILE...)\n", cmd, cmd);
		return 2;
	}
	if (strcmp(cmd, "load") && (lo.events || lo.payload_cap != UINT32_MAX))
		return ch_usage("--events and --payload-cap apply to load only (%s)", cmd);
	if (!strcmp(cmd, "summary") && ro.fmt == OUT_CSV && !ro.section)
		return ch_usage("summary --format csv needs --section NAME (one table: totals, tls, "
				"file, process, endpoint, linked, evidence, dependency, undecoded or "
				"lost)%s", "");
	if (strcmp(cmd, "summary") && ro.section)
		return ch_usage("--section applies to summary only (%s)", cmd);
	if (strcmp(cmd, "sql") && ro.writable)
		return ch_usage("--writable applies to sql only (%s)", cmd);
	if ((err = ch_open(&r.c, url)))
		return err == -EINVAL ? 2 : 1;
	if (!strcmp(cmd, "load")) {
		size_t n = (size_t)(argc - optind);
		const char *const *files = (const char *const *)(argv + optind);

		if (!n) {
			rc = ch_usage("load needs capture files (%s FILE.htc...)", "httpanalyze load --clickhouse URL");
			goto out;
		}
		if (ncaptures || nloads || report_has_filters(&ro) || ro.nports) {
			rc = ch_usage("load takes no report filter or --capture (%s)", "they select what reports read");
			goto out;
		}
		spools = calloc(n, sizeof(*spools));
		spooled = calloc(n, sizeof(*spooled));
		if (!spools || !spooled) {
			rc = 1;
			goto out;
		}
		for (size_t k = 0; k < n; k++) {
			if ((err = htc_spool(files[k], &spools[k]))) {
				fprintf(stderr, "httpanalyze: cannot open '%s': %s\n", files[k], strerror(-err));
				rc = 1;
				goto out;
			}
			spooled[k] = spools[k].path;
		}
		lo.progress = !lo.quiet && isatty(STDERR_FILENO);
		err = ch_load(&r.c, spooled, files, n, &lo);
		rc = err ? 1 : 0;
		for (size_t k = 0; k < n; k++)
			htc_spool_close(&spools[k]);
		goto out;
	}
	{
		int one = !strcmp(cmd, "sql") || !strcmp(cmd, "show");

		if (one && optind >= argc) {
			rc = ch_usage("%s needs %s", cmd, !strcmp(cmd, "sql") ? "QUERY" : "REQUEST_ID");
			goto out;
		}
		if (one ? optind + 1 != argc : optind < argc) {
			rc = ch_usage("%s with --clickhouse reads the loads in ClickHouse: no capture "
				      "file (load them with httpanalyze load --clickhouse URL FILE...)", cmd);
			goto out;
		}
	}
	if (sqlite3_open(":memory:", &r.fdb) != SQLITE_OK || db_register_functions(r.fdb)) {
		rc = 1;
		goto out;
	}
	/* the loads read: complete ones, of the given captures and loads */
	sb_add(&r.loadsel, "(0");
	if (ncaptures) {
		sb_add(&r.loadsel, " OR hasAny(capture_ids, [");
		for (size_t k = 0; k < ncaptures; k++) {
			char low[33];
			size_t j;

			for (j = 0; captures[k][j]; j++)
				low[j] = (char)tolower((unsigned char)captures[k][j]);
			low[j] = 0;
			sb_add(&r.loadsel, "%s", k ? ", " : "");
			ch_quote(&r.loadsel, low);
		}
		sb_add(&r.loadsel, "])");
	}
	if (nloads) {
		sb_add(&r.loadsel, " OR load_id IN (");
		for (size_t k = 0; k < nloads; k++)
			sb_add(&r.loadsel, "%s%" PRIu64, k ? ", " : "", loads[k]);
		sb_add(&r.loadsel, ")");
	}
	if (!ncaptures && !nloads)
		sb_add(&r.loadsel, " OR 1");
	sb_add(&r.loadsel, ")");
	/* the selected loads' ids, as a list: over Distributed tables
	 * ClickHouse refuses IN (SELECT ... FROM distributed) by default */
	if (strcmp(cmd, "sql")) {
		struct sbuf q = { 0 };
		size_t nl = 0;

		sb_add(&q, "SELECT toString(load_id) FROM " CH_DB ".loads WHERE %s ORDER BY load_id"
		       " FORMAT TabSeparated", r.loadsel.p);
		err = ch_exec(&r.c, "reading the loads", q.p);
		free(q.p);
		sb_add(&r.sel, "load_id IN (");
		for (char *p = err ? NULL : r.c.resp.p, *e; p && *p; p = e ? e + 1 : NULL) {
			e = strchr(p, '\n');
			if (e)
				*e = 0;
			sb_add(&r.sel, "%s%s", nl++ ? ", " : "", p);
		}
		sb_add(&r.sel, ")");
		if (!err && !nl) {
			fprintf(stderr, "httpanalyze: no complete load in ClickHouse at %s%s: load "
				"capture files with httpanalyze load --clickhouse URL FILE...\n", url,
				ncaptures || nloads ? " of the given --capture or --load" : "");
			err = -ENOENT;
		}
		if (err || r.sel.oom) {
			rc = 1;
			goto out;
		}
	}
	if (strcmp(cmd, "sql") && strcmp(cmd, "show") && (err = ch_services(&r)))
		;
	else if (!strcmp(cmd, "summary"))
		err = ch_summary(&r);
	else if (!strcmp(cmd, "requests"))
		err = ch_requests(&r);
	else if (!strcmp(cmd, "errors"))
		err = ch_errors(&r);
	else if (!strcmp(cmd, "latency"))
		err = ch_latency(&r);
	else if (!strcmp(cmd, "deps"))
		err = ch_deps(&r);
	else if (!strcmp(cmd, "sql"))
		err = ch_sql(&r, argv[optind]);
	else if (!strcmp(cmd, "show"))
		err = ch_show(&r, argv[optind]);
	if (!err && fflush(stdout)) {
		fprintf(stderr, "httpanalyze: writing the output: %s\n", strerror(errno));
		err = -EIO;
	}
	rc = err ? 1 : 0;
out:
	free(spools);
	free(spooled);
	free(r.sel.p);
	free(r.loadsel.p);
	free(r.svcsel.p);
	sqlite3_close(r.fdb);
	ch_close(&r.c);
	return rc;
}
