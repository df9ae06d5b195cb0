// SPDX-License-Identifier: MIT
/*
 * html.c - `httpanalyze report`: the analysis as one HTML page to attach to
 * a ticket.  Everything is inline (CSS, SVG drawn here, one script that
 * sorts tables), and a Content-Security-Policy in the page forbids any
 * fetch and any other script, so the page is readable offline and a
 * capture string that slipped through the escaping still could not run.
 *
 * Capture strings reach the page only through html_escape, only as
 * element text or quoted attribute values; ids, hrefs, coordinates and
 * class names are made of numbers and fixed text.  Every list is cut to a
 * stated top N, strings to HTML_STR_MAX bytes, so the page stays small
 * whatever the capture.  The same queries as the text reports (the
 * *_stats tables, percentile_nr, the links of show).
 *
 * Over 1,000 lines on purpose: the page is one document written top to
 * bottom into one stream, its sections sharing the escapers, the SVG
 * helpers and the page's own limits; split by section, each file would
 * need all of them, and a reader checking that nothing unescaped reaches
 * the page reads one file.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htc.h"
#include "html.h"
#include "output.h"

#define HTML_STR_MAX 160	/* bytes of a capture string shown */
#define TOP_FILES 50
#define TOP_PROCS 30
#define TOP_ENDPOINTS 50
#define TOP_HISTS 12
#define TOP_EDGES 40
#define TOP_SERVICES 40
#define MAP_NODES (TOP_SERVICES + 2 * TOP_EDGES)
#define TIME_BUCKETS 60
#define TOP_SLOW 10
#define TOP_FAIL 10
#define WF_ROWS 60
#define HEAD_LINES 30

/* ---- escaping ---- */

void html_escape_cut(FILE *f, const void *p, size_t n, size_t max)
{
	char stackbuf[1024], *buf = stackbuf;
	size_t len, cut = n > max;

	if (cut)
		n = max;
	len = out_term_escape_buf(stackbuf, sizeof(stackbuf), p, n);
	if (len >= sizeof(stackbuf)) {
		buf = malloc(len + 1);
		if (!buf)
			return;
		out_term_escape_buf(buf, len + 1, p, n);
	}
	for (size_t i = 0; i < len; i++) {
		switch (buf[i]) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: putc(buf[i], f);
		}
	}
	if (cut)
		fputs("...", f);
	if (buf != stackbuf)
		free(buf);
}

void html_escape(FILE *f, const void *p, size_t n)
{
	html_escape_cut(f, p, n, SIZE_MAX);
}

static void hs(FILE *f, const char *s)
{
	html_escape_cut(f, s ? s : "", s ? strlen(s) : 0, HTML_STR_MAX);
}

static void hcol(FILE *f, sqlite3_stmt *st, int i, size_t max)
{
	const void *p = sqlite3_column_type(st, i) == SQLITE_BLOB ? sqlite3_column_blob(st, i) :
				(const void *)sqlite3_column_text(st, i);

	html_escape_cut(f, p ? p : "", p ? (size_t)sqlite3_column_bytes(st, i) : 0, max);
}

/* ---- the page's script and style ---- */

/* Sorts the tables of class "sortable" by a click on a header: by the
 * cells' data-v numbers when they have one, else by text.  Reads no
 * capture data but the cells' text; marks each table it armed, which the
 * tests check.  html_script_hash must be its sha256 (the CSP names it);
 * the browser test fails when they differ. */
const char html_script[] =
"document.querySelectorAll('table.sortable').forEach(function (t) {\n"
"  t.setAttribute('data-sortable', 'ready');\n"
"  t.querySelectorAll('thead th').forEach(function (th, i) {\n"
"    th.addEventListener('click', function () {\n"
"      var b = t.tBodies[0], rows = Array.prototype.slice.call(b.rows);\n"
"      var asc = th.getAttribute('data-dir') !== 'asc';\n"
"      th.setAttribute('data-dir', asc ? 'asc' : 'desc');\n"
"      rows.sort(function (x, y) {\n"
"        var a = x.cells[i], c = y.cells[i], r;\n"
"        var u = a.getAttribute('data-v'), v = c.getAttribute('data-v');\n"
"        if (u !== null && v !== null) r = parseFloat(u) - parseFloat(v);\n"
"        else r = a.textContent.localeCompare(c.textContent);\n"
"        return asc ? r : -r;\n"
"      });\n"
"      rows.forEach(function (r) { b.appendChild(r); });\n"
"    });\n"
"  });\n"
"});\n";

const char html_script_hash[] = "'sha256-MHLAvmjs/oi7wU0jnRjCn7t6/BhznUJWcvirtnjaQq0='";

static const char html_style[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d232a;background:#fff}\n"
"h1{font-size:1.6em;margin:0 0 .2em}h2{margin-top:1.6em;border-bottom:1px solid #ccd}"
"h3{font-size:1.05em;margin:1.2em 0 .3em}\n"
"table{border-collapse:collapse;margin:.4em 0;font-size:13px}"
"th,td{border:1px solid #d5d9e0;padding:2px 7px;text-align:left;vertical-align:top}"
"th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
"table.sortable th{cursor:pointer}table.sortable th:after{content:' \\2195';color:#99a}\n"
".note{color:#556;font-size:12px}.err{color:#b3261e}.bad{background:#fde7e6}\n"
"svg{display:block;margin:.4em 0;background:#fbfcfe;border:1px solid #e3e6ec}\n"
"svg text{font:11px system-ui,sans-serif;fill:#1d232a}svg .small{font-size:9px}\n"
"svg.map,svg.waterfall,svg.chart{max-width:100%;height:auto}\n"
".hists{display:flex;flex-wrap:wrap;gap:10px}.hists figure{margin:0}"
"figcaption{font-size:12px;max-width:360px;overflow-wrap:anywhere}\n"
"pre{background:#f4f5f8;padding:6px;font-size:12px;overflow-x:auto;max-width:100%}\n"
".req{margin-bottom:1.5em}\n";

/* ---- page state ---- */

struct page {
	FILE *f;
	sqlite3 *db;
	const struct report_opts *o;
	int err;
};

static sqlite3_stmt *prep(struct page *pg, const char *sql)
{
	sqlite3_stmt *st;

	if (pg->err)
		return NULL;
	st = report_prep(pg->db, sql);
	if (!st)
		pg->err = -EIO;
	return st;
}

static int step(struct page *pg, sqlite3_stmt *st)
{
	int rc = st ? sqlite3_step(st) : SQLITE_DONE;

	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !pg->err) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(pg->db));
		pg->err = -EIO;
	}
	return rc == SQLITE_ROW;
}

static int64_t scalar(struct page *pg, const char *sql)
{
	sqlite3_stmt *st = prep(pg, sql);
	int64_t v = 0;

	if (step(pg, st))
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void num_cell(FILE *f, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
		fprintf(f, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
			(long long)sqlite3_column_int64(st, i), (long long)sqlite3_column_int64(st, i));
	else
		fprintf(f, "<td class=\"n\" data-v=\"%.6g\">%.3f</td>", sqlite3_column_double(st, i),
			sqlite3_column_double(st, i));
}

/*
 * A table of every row of sql (our fixed text; column names are its
 * aliases), numbers right-aligned with a sort key.  Returns the rows.
 */
static int64_t table(struct page *pg, const char *id, int sortable, const char *sql)
{
	sqlite3_stmt *st = prep(pg, sql);
	FILE *f = pg->f;
	int64_t n = 0;
	int nc;

	if (!st)
		return 0;
	nc = sqlite3_column_count(st);
	fprintf(f, "<table id=\"%s\"%s><thead><tr>", id, sortable ? " class=\"sortable\"" : "");
	for (int i = 0; i < nc; i++) {
		fputs("<th>", f);
		hs(f, sqlite3_column_name(st, i));
		fputs("</th>", f);
	}
	fputs("</tr></thead><tbody>\n", f);
	while (step(pg, st)) {
		fputs("<tr>", f);
		for (int i = 0; i < nc; i++) {
			int t = sqlite3_column_type(st, i);

			if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
				num_cell(f, st, i);
			} else {
				fputs("<td>", f);
				if (t != SQLITE_NULL)
					hcol(f, st, i, HTML_STR_MAX);
				fputs("</td>", f);
			}
		}
		fputs("</tr>\n", f);
		n++;
	}
	fputs("</tbody></table>\n", f);
	sqlite3_finalize(st);
	return n;
}

/* "top N of M" when a list was cut */
static void cut_note(FILE *f, int64_t shown, int64_t total, const char *what)
{
	if (total > shown)
		fprintf(f, "<p class=\"note\">The %lld %s with the most traffic of %lld are shown.</p>\n",
			(long long)shown, what, (long long)total);
}

/* ---- the capture ---- */

static void sec_capture(struct page *pg)
{
	FILE *f = pg->f;
	sqlite3_stmt *st;
	int64_t n;

	fputs("<section id=\"capture\"><h2>Capture</h2>\n", f);
	st = prep(pg, "SELECT rfc3339(min(start_ns)), rfc3339(max(end_ns)),"
		  " (max(end_ns) - min(start_ns)) / 1e9, count(*), count(DISTINCT hostname),"
		  " (SELECT count(*) FROM requests), (SELECT count(*) FROM calls),"
		  " (SELECT count(*) FROM requests WHERE error OR unanswered OR reset),"
		  " coalesce(sum(lost_total), 0),"
		  " (SELECT count(*) FROM (SELECT DISTINCT file_idx, pid FROM connections))"
		  " FROM files");
	if (step(pg, st)) {
		fputs("<table id=\"capture-summary\"><tbody>\n<tr><th>time</th><td>", f);
		hcol(f, st, 0, 64);
		fputs(" .. ", f);
		hcol(f, st, 1, 64);
		fprintf(f, " (%.3f s)</td></tr>\n", sqlite3_column_double(st, 2));
		fprintf(f, "<tr><th>files, hosts</th><td>%lld file%s, %lld host%s</td></tr>\n",
			(long long)sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 3) == 1 ? "" : "s",
			(long long)sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 4) == 1 ? "" : "s");
		fprintf(f, "<tr><th>processes</th><td>%lld</td></tr>\n",
			(long long)sqlite3_column_int64(st, 9));
		fprintf(f, "<tr><th>requests</th><td>%lld (%lld failed, reset or unanswered)</td></tr>\n",
			(long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 7));
		fprintf(f, "<tr><th>downstream calls</th><td>%lld</td></tr>\n",
			(long long)sqlite3_column_int64(st, 6));
		fprintf(f, "<tr><th>events lost</th><td%s>%lld</td></tr>\n",
			sqlite3_column_int64(st, 8) ? " class=\"err\"" : "",
			(long long)sqlite3_column_int64(st, 8));
		fputs("</tbody></table>\n", f);
	}
	sqlite3_finalize(st);

	fputs("<h3>Files</h3>\n", f);
	n = table(pg, "files", 0, "SELECT file_idx AS file, path, hostname AS host, kernel,"
		  " rfc3339(start_ns) AS start, rfc3339(end_ns) AS end, events,"
		  " lost_total AS lost, truncated, frames_bad, records_skipped"
		  " FROM files ORDER BY file_idx LIMIT " "50");
	cut_note(f, n, scalar(pg, "SELECT count(*) FROM files"), "files");

	fputs("<h3>Processes</h3>\n", f);
	n = table(pg, "processes", 1,
		  "WITH p AS (SELECT file_idx, pid, max(comm) AS comm, count(*) AS conns"
		  "   FROM connections GROUP BY 1, 2)"
		  " SELECT f.hostname AS host, p.pid, coalesce(pr.comm, p.comm) AS comm,"
		  " coalesce(s.requests, 0) AS requests, coalesce(s.calls, 0) AS calls,"
		  " p.conns AS connections, pr.cmdline"
		  " FROM p JOIN files f USING (file_idx)"
		  " LEFT JOIN process_stats s USING (file_idx, pid)"
		  " LEFT JOIN processes pr USING (file_idx, pid)"
		  " ORDER BY coalesce(s.requests, 0) + coalesce(s.calls, 0) DESC, p.file_idx, p.pid"
		  " LIMIT 30");
	cut_note(f, n, scalar(pg, "SELECT count(*) FROM (SELECT DISTINCT file_idx, pid"
			      " FROM connections)"), "processes");

	fputs("<h3>Losses and gaps</h3>\n", f);
	if (scalar(pg, "SELECT count(*) FROM losses"))
		table(pg, "losses", 0, "SELECT f.hostname AS host, f.path, l.name AS reason,"
		      " l.count AS events FROM losses l JOIN files f USING (file_idx)"
		      " ORDER BY l.file_idx, l.reason LIMIT 50");
	else
		fputs("<p id=\"losses\">No event was lost by the capture.</p>\n", f);
	table(pg, "gaps", 0, "SELECT"
	      " (SELECT count(*) FROM requests WHERE gap) AS requests_with_gaps,"
	      " (SELECT count(*) FROM requests WHERE body_partial) AS bodies_partial,"
	      " (SELECT count(*) FROM requests WHERE unanswered) AS unanswered,"
	      " (SELECT count(*) FROM requests WHERE reset) AS reset,"
	      " (SELECT count(*) FROM requests WHERE ambiguous) AS ambiguous_links,"
	      " (SELECT coalesce(sum(truncated), 0) FROM files) AS files_truncated,"
	      " (SELECT coalesce(sum(frames_bad), 0) FROM files) AS frames_corrupt,"
	      " (SELECT coalesce(sum(records_skipped), 0) FROM files) AS records_skipped");
	fputs("</section>\n", f);
}

/* ---- service map ---- */

/* The service name (services.service) of a request r, a call c, a child
 * request ch: a primary-key lookup each */
#define SVC_OF(a) "coalesce((SELECT service FROM services s WHERE s.file_idx = " a ".file_idx" \
	" AND s.pid = " a ".pid), " a ".comm || '@' || " a ".host)"
#define SVC_OF_R SVC_OF("r")
#define SVC_OF_C SVC_OF("c")
#define SVC_OF_CH SVC_OF("ch")

struct map_node {
	char name[200];
	int layer, row, service;
	int64_t requests, errors;
};

struct map_edge {
	int a, b;
	int64_t calls, errors;
	double p99;
	int has_p99;
};

struct map {
	struct map_node n[MAP_NODES];
	int nn;
	struct map_edge e[TOP_EDGES];
	int ne;
};

static int map_node(struct map *m, const char *name, int service)
{
	for (int i = 0; i < m->nn; i++)
		if (!strcmp(m->n[i].name, name))
			return i;
	if (m->nn == MAP_NODES)
		return -1;
	memset(&m->n[m->nn], 0, sizeof(m->n[0]));
	snprintf(m->n[m->nn].name, sizeof(m->n[0].name), "%s", name);
	m->n[m->nn].service = service;
	return m->nn++;
}

#define MAP_W 210
#define MAP_H 42
#define MAP_DX 390
#define MAP_DY 64
#define MAP_MAXL 8

static void map_text(FILE *f, double x, double y, const char *cls, const char *s, size_t max)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s%s%s>", x, y, cls ? " class=\"" : "",
		cls ? cls : "", cls ? "\"" : "");
	html_escape_cut(f, s, strlen(s), max);
	fputs("</text>", f);
}

static void sec_map(struct page *pg)
{
	FILE *f = pg->f;
	struct map *m = calloc(1, sizeof(*m));
	sqlite3_stmt *st;
	int rows[MAP_MAXL + 1] = { 0 }, maxl = 0, maxr = 1;
	int64_t nedges;

	fputs("<section id=\"map\"><h2>Service map</h2>\n", f);
	if (!m) {
		pg->err = -ENOMEM;
		return;
	}
	/* services by requests served, then the edges between processes
	 * (a call that became a traced request) or to a downstream */
	st = prep(pg, "SELECT " SVC_OF_R ", count(*), sum(error OR unanswered OR reset)"
		  " FROM requests r GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 40");
	while (step(pg, st)) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int i = map_node(m, name ? name : "?", 1);

		if (i >= 0) {
			m->n[i].requests = sqlite3_column_int64(st, 1);
			m->n[i].errors = sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
	st = prep(pg, "SELECT " SVC_OF_C " AS caller,"
		  " CASE WHEN ch.request_id IS NOT NULL THEN " SVC_OF_CH
		  "  ELSE c.protocol || ' ' || c.remote_ip || ':' || c.remote_port END AS callee,"
		  " ch.request_id IS NOT NULL, count(*) AS calls,"
		  " sum(c.error OR c.unanswered OR c.reset) AS errors,"
		  " percentile_nr(c.duration_ms, 99) AS p99_ms"
		  " FROM calls c LEFT JOIN requests ch ON ch.request_id = c.child_request_id"
		  " GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 40");
	while (step(pg, st) && m->ne < TOP_EDGES) {
		struct map_edge *e = &m->e[m->ne];
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);

		e->a = map_node(m, a ? a : "?", 1);
		e->b = map_node(m, b ? b : "?", sqlite3_column_int(st, 2));
		if (e->a < 0 || e->b < 0)
			continue;
		e->calls = sqlite3_column_int64(st, 3);
		e->errors = sqlite3_column_int64(st, 4);
		e->has_p99 = sqlite3_column_type(st, 5) != SQLITE_NULL;
		e->p99 = sqlite3_column_double(st, 5);
		m->ne++;
	}
	sqlite3_finalize(st);
	nedges = scalar(pg, "SELECT count(*) FROM (SELECT 1 FROM calls c LEFT JOIN requests ch"
			" ON ch.request_id = c.child_request_id GROUP BY " SVC_OF_C ","
			" CASE WHEN ch.request_id IS NOT NULL THEN " SVC_OF_CH
			"  ELSE c.protocol || ' ' || c.remote_ip || ':' || c.remote_port END)");

	/* layers: a callee one column right of its furthest caller (bounded:
	 * a loop stops at MAP_MAXL) */
	for (int it = 0; it < m->nn; it++) {
		int moved = 0;

		for (int i = 0; i < m->ne; i++) {
			struct map_edge *e = &m->e[i];

			if (e->a != e->b && m->n[e->b].layer <= m->n[e->a].layer &&
			    m->n[e->a].layer < MAP_MAXL) {
				m->n[e->b].layer = m->n[e->a].layer + 1;
				moved = 1;
			}
		}
		if (!moved)
			break;
	}
	for (int i = 0; i < m->nn; i++) {
		struct map_node *n = &m->n[i];

		n->row = rows[n->layer]++;
		if (n->layer > maxl)
			maxl = n->layer;
		if (rows[n->layer] > maxr)
			maxr = rows[n->layer];
	}
	if (!m->nn) {
		fputs("<p>No request and no call in this capture.</p>\n", f);
	} else {
		fprintf(f, "<svg id=\"service-map\" class=\"map\" xmlns=\"http://www.w3.org/2000/svg\""
			" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
			20 + (maxl + 1) * MAP_DX, 20 + maxr * MAP_DY, 20 + (maxl + 1) * MAP_DX,
			20 + maxr * MAP_DY);
		fputs("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\""
		      " markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\""
		      " fill=\"#778\"/></marker></defs>\n", f);
		for (int i = 0; i < m->ne; i++) {
			struct map_edge *e = &m->e[i];
			struct map_node *a = &m->n[e->a], *b = &m->n[e->b];
			double x1 = 20 + a->layer * MAP_DX + MAP_W, y1 = 20 + a->row * MAP_DY + MAP_H / 2;
			double x2 = 20 + b->layer * MAP_DX, y2 = 20 + b->row * MAP_DY + MAP_H / 2;
			char label[96];

			if (e->a == e->b)
				x2 = x1 - MAP_W / 2, y2 = y1 + MAP_H / 2;
			fprintf(f, "<g class=\"edge\"><path d=\"M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f\""
				" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\""
				" marker-end=\"url(#arrow)\"/>", x1, y1, x1 + 60, y1, x2 - 60, y2, x2, y2,
				e->errors ? "#c0392b" : "#8895a7",
				1 + fmin(4, log10((double)e->calls + 1)));
			snprintf(label, sizeof(label), "%lld calls, %.1f%% err, p99 ",
				 (long long)e->calls, 100.0 * (double)e->errors / (double)e->calls);
			if (e->has_p99)
				snprintf(label + strlen(label), sizeof(label) - strlen(label), "%.1f ms",
					 e->p99);
			else
				strcat(label, "-");
			fprintf(f, "<text class=\"small\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
				(x1 + x2) / 2, (y1 + y2) / 2 - 5);
			html_escape_cut(f, label, strlen(label), sizeof(label));
			fputs("</text>", f);
			fputs("</g>\n", f);
		}
		for (int i = 0; i < m->nn; i++) {
			struct map_node *n = &m->n[i];
			double x = 20 + n->layer * MAP_DX, y = 20 + n->row * MAP_DY;
			char sub[80];

			fprintf(f, "<g class=\"node\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\""
				" rx=\"6\" fill=\"%s\" stroke=\"%s\"/>", x, y, MAP_W, MAP_H,
				n->service ? "#e8f0fe" : "#f3f3f3", n->errors ? "#c0392b" : "#8895a7");
			map_text(f, x + 8, y + 17, NULL, n->name, 30);
			if (n->service)
				snprintf(sub, sizeof(sub), "%lld requests, %lld failed",
					 (long long)n->requests, (long long)n->errors);
			else
				snprintf(sub, sizeof(sub), "downstream (not traced)");
			map_text(f, x + 8, y + 33, "small", sub, 80);
			fputs("</g>\n", f);
		}
		fputs("</svg>\n", f);
	}
	fputs("<h3>Dependencies</h3>\n", f);
	{
		int64_t n = table(pg, "dependencies", 1,
			"SELECT " SVC_OF_C " AS caller,"
			" CASE WHEN ch.request_id IS NOT NULL THEN " SVC_OF_CH
			"  ELSE c.protocol || ' ' || c.remote_ip || ':' || c.remote_port END AS callee,"
			" count(*) AS calls, sum(c.error OR c.unanswered OR c.reset) AS errors,"
			" round(1.0 * sum(c.error OR c.unanswered OR c.reset) / count(*), 3)"
			"  AS error_rate,"
			" percentile_nr(c.duration_ms, 50) AS p50_ms,"
			" percentile_nr(c.duration_ms, 99) AS p99_ms"
			" FROM calls c LEFT JOIN requests ch ON ch.request_id = c.child_request_id"
			" GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 40");

		cut_note(f, n, nedges, "dependencies");
	}
	fputs("</section>\n", f);
	free(m);
}

/* ---- endpoints ---- */

struct hist {
	char svc[200], ep[400];
	int64_t count[REPORT_HIST_BUCKETS];
	int64_t total;
};

static void hist_svg(FILE *f, int idx, const struct hist *h)
{
	int first = REPORT_HIST_BUCKETS, last = 0, nb;
	int64_t maxc = 1;
	const int W = 360, H = 140, L = 30, B = 26;

	for (int b = 0; b < REPORT_HIST_BUCKETS; b++) {
		if (!h->count[b])
			continue;
		if (b < first)
			first = b;
		last = b;
		if (h->count[b] > maxc)
			maxc = h->count[b];
	}
	if (first == REPORT_HIST_BUCKETS)
		first = last = 0;
	/* at least 6 buckets wide, so one bar is not the whole chart */
	while (last - first < 5 && (first > 0 || last < REPORT_HIST_BUCKETS - 1)) {
		if (last < REPORT_HIST_BUCKETS - 1)
			last++;
		if (last - first < 5 && first > 0)
			first--;
	}
	nb = last - first + 1;
	fprintf(f, "<figure><svg id=\"hist-%d\" class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\""
		" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", idx, W, H, W, H);
	for (int b = first; b <= last; b++) {
		double bw = (double)(W - L - 6) / nb, x = L + (b - first) * bw;
		double bh = (double)(H - B - 14) * (double)h->count[b] / (double)maxc;
		char lab[24];

		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a78c2\"/>",
			x + 1, H - B - bh, bw - 2, bh);
		if (h->count[b])
			fprintf(f, "<text class=\"small\" x=\"%.1f\" y=\"%.1f\">%lld</text>", x + 2,
				H - B - bh - 2, (long long)h->count[b]);
		if (b == REPORT_HIST_BUCKETS - 1)
			snprintf(lab, sizeof(lab), ">%g", report_hist_le_ms[b - 1]);
		else
			snprintf(lab, sizeof(lab), "%g", report_hist_le_ms[b]);
		fprintf(f, "<text class=\"small\" x=\"%.1f\" y=\"%d\">%s</text>", x + 1, H - B + 11, lab);
	}
	fprintf(f, "<text class=\"small\" x=\"%d\" y=\"%d\">ms (bucket upper bound)</text>", L, H - 3);
	fprintf(f, "<text class=\"small\" x=\"2\" y=\"12\">%lld</text></svg>", (long long)maxc);
	fputs("<figcaption>", f);
	hs(f, h->ep);
	fputs(" <span class=\"note\">", f);
	hs(f, h->svc);
	fprintf(f, ", %lld answered</span></figcaption></figure>\n", (long long)h->total);
}

static void sec_endpoints(struct page *pg)
{
	FILE *f = pg->f;
	struct hist *h = calloc(TOP_HISTS, sizeof(*h));
	char sql[2048];
	size_t len;
	sqlite3_stmt *st;
	int nh = 0;
	int64_t n;

	fputs("<section id=\"endpoints\"><h2>Endpoints</h2>\n"
	      "<p class=\"note\">Latency in ms, nearest-rank percentiles; errors are failed,"
	      " reset or unanswered requests. Click a column to sort.</p>\n", f);
	if (!h) {
		pg->err = -ENOMEM;
		return;
	}
	n = table(pg, "endpoints-table", 1,
		  "SELECT service, endpoint, requests, errors,"
		  " round(1.0 * errors / requests, 3) AS error_rate, p50_ms, p90_ms, p99_ms"
		  " FROM endpoint_stats ORDER BY requests DESC, 1, 2 LIMIT 50");
	cut_note(f, n, scalar(pg, "SELECT count(*) FROM endpoint_stats"), "endpoints");

	fprintf(f, "<h3>Latency histograms</h3>\n<div class=\"hists\" id=\"histograms\">\n");
	st = prep(pg, "SELECT service, endpoint FROM endpoint_stats"
		  " ORDER BY requests DESC, 1, 2 LIMIT 12");
	while (step(pg, st) && nh < TOP_HISTS) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);

		snprintf(h[nh].svc, sizeof(h[nh].svc), "%s", a ? a : "");
		snprintf(h[nh].ep, sizeof(h[nh].ep), "%s", b ? b : "");
		nh++;
	}
	sqlite3_finalize(st);
	/* one pass over the requests: the bucket of each answered one, by
	 * the bounds of `latency` (our numbers, not capture text) */
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " SVC_OF_R ", endpoint, CASE");
	for (int b = 0; b < REPORT_HIST_BUCKETS - 1; b++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					" WHEN duration_ms <= %.17g THEN %d", report_hist_le_ms[b], b);
	snprintf(sql + len, sizeof(sql) - len, " ELSE %d END, count(*) FROM requests r"
		 " WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3", REPORT_HIST_BUCKETS - 1);
	st = prep(pg, sql);
	while (step(pg, st)) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);
		int bk = sqlite3_column_int(st, 2);

		for (int i = 0; i < nh; i++) {
			if (strcmp(h[i].svc, a ? a : "") || strcmp(h[i].ep, b ? b : "") ||
			    bk < 0 || bk >= REPORT_HIST_BUCKETS)
				continue;
			h[i].count[bk] += sqlite3_column_int64(st, 3);
			h[i].total += sqlite3_column_int64(st, 3);
		}
	}
	sqlite3_finalize(st);
	for (int i = 0; i < nh; i++)
		hist_svg(f, i, &h[i]);
	fputs("</div>\n", f);
	cut_note(f, nh, n, "endpoint histograms");
	fputs("</section>\n", f);
	free(h);
}

/* ---- over time ---- */

struct tb {
	int64_t n, errors;
	double p99;
	int has_p99;
};

static void chart(FILE *f, const char *id, const char *title, const struct tb *v, int nb,
		  int64_t width_ns, int what, int64_t t0)
{
	const int W = 760, H = 150, L = 50, B = 22, T = 16;
	double vals[TIME_BUCKETS], maxv = 0;
	char ts[64];

	for (int i = 0; i < nb; i++) {
		double x = 0;

		if (what == 0)
			x = (double)v[i].n / ((double)width_ns / 1e9);
		else if (what == 1)
			x = v[i].n ? 100.0 * (double)v[i].errors / (double)v[i].n : 0;
		else
			x = v[i].has_p99 ? v[i].p99 : 0;
		vals[i] = x;
		if (x > maxv)
			maxv = x;
	}
	fprintf(f, "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
		" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", id, W, H, W, H);
	fprintf(f, "<text x=\"%d\" y=\"12\">%s</text>", L, title);
	fprintf(f, "<text class=\"small\" x=\"2\" y=\"%d\">%.4g</text>", T + 8, maxv);
	fprintf(f, "<text class=\"small\" x=\"2\" y=\"%d\">0</text>", H - B);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#99a\"/>", L, H - B, W - 4,
		H - B);
	if (what == 2) {
		/* only the buckets with answered requests: an empty one is not
		 * a latency of 0 */
		int first = 1;

		fputs("<polyline fill=\"none\" stroke=\"#7b3fbf\" stroke-width=\"1.5\" points=\"", f);
		for (int i = 0; i < nb; i++) {
			if (!v[i].has_p99)
				continue;
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ",
				L + (i + 0.5) * (W - L - 4) / (double)nb,
				H - B - (maxv > 0 ? vals[i] / maxv : 0) * (H - B - T));
			first = 0;
		}
		fputs("\"/>", f);
		for (int i = 0; i < nb; i++)
			if (v[i].has_p99)
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"#7b3fbf\"/>",
					L + (i + 0.5) * (W - L - 4) / (double)nb,
					H - B - (maxv > 0 ? vals[i] / maxv : 0) * (H - B - T));
	} else {
		for (int i = 0; i < nb; i++) {
			double bw = (double)(W - L - 4) / nb;
			double bh = maxv > 0 ? vals[i] / maxv * (H - B - T) : 0;

			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
				L + i * bw + 0.5, H - B - bh, bw > 2 ? bw - 1 : bw, bh,
				what ? "#c0392b" : "#4a78c2");
		}
	}
	out_rfc3339(ts, sizeof(ts), t0);
	fprintf(f, "<text class=\"small\" x=\"%d\" y=\"%d\">%s</text>", L, H - 6, ts);
	fprintf(f, "<text class=\"small\" x=\"%d\" y=\"%d\" text-anchor=\"end\">+%.3f s</text>",
		W - 4, H - 6, (double)width_ns * nb / 1e9);
	fputs("</svg>\n", f);
}

static void sec_time(struct page *pg)
{
	static const int64_t widths_ms[] = {
		1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000,
		60000, 120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000,
		43200000, 86400000,
	};
	FILE *f = pg->f;
	struct tb v[TIME_BUCKETS];
	int64_t t0 = 0, t1 = 0, w = 0;
	uint64_t range;
	sqlite3_stmt *st;
	int nb;

	fputs("<section id=\"time\"><h2>Over time</h2>\n", f);
	st = prep(pg, "SELECT min(start_ns), max(start_ns), count(*) FROM requests");
	if (!step(pg, st) || !sqlite3_column_int64(st, 2)) {
		sqlite3_finalize(st);
		fputs("<p>No request.</p></section>\n", f);
		return;
	}
	t0 = sqlite3_column_int64(st, 0);
	t1 = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	/* unsigned: a hostile file's times may be anything, t1 >= t0 */
	range = (uint64_t)t1 - (uint64_t)t0;
	/* at most TIME_BUCKETS - 1 widths, so that one more bucket for
	 * starting on a round time still fits */
	for (size_t i = 0; i < sizeof(widths_ms) / sizeof(widths_ms[0]); i++) {
		w = widths_ms[i] * 1000000;
		if (range / (uint64_t)w < TIME_BUCKETS - 2)
			break;
	}
	if (range / (uint64_t)w >= TIME_BUCKETS - 2)
		w = (int64_t)(range / (TIME_BUCKETS - 2) + 1);
	if (t0 >= 0)
		t0 -= t0 % w;	/* buckets on round times */
	nb = (int)(((uint64_t)t1 - (uint64_t)t0) / (uint64_t)w) + 1;
	assert(nb >= 1 && nb <= TIME_BUCKETS);
	if (nb > TIME_BUCKETS)
		nb = TIME_BUCKETS;
	memset(v, 0, sizeof(v));
	st = prep(pg, "SELECT (start_ns - ?1) / ?2, count(*), sum(error OR unanswered OR reset),"
		  " percentile_nr(duration_ms, 99) FROM requests GROUP BY 1");
	if (st) {
		sqlite3_bind_int64(st, 1, t0);
		sqlite3_bind_int64(st, 2, w);
	}
	while (step(pg, st)) {
		int64_t b = sqlite3_column_int64(st, 0);

		if (b < 0 || b >= nb)
			continue;
		v[b].n = sqlite3_column_int64(st, 1);
		v[b].errors = sqlite3_column_int64(st, 2);
		v[b].has_p99 = sqlite3_column_type(st, 3) != SQLITE_NULL;
		v[b].p99 = sqlite3_column_double(st, 3);
	}
	sqlite3_finalize(st);
	fprintf(f, "<p class=\"note\">%d buckets of %.3f s over the whole capture (by request"
		" start).</p>\n", nb, (double)w / 1e9);
	chart(f, "chart-rate", "requests per second", v, nb, w, 0, t0);
	chart(f, "chart-errors", "error rate (% failed, reset or unanswered)", v, nb, w, 1, t0);
	chart(f, "chart-p99", "p99 latency (ms)", v, nb, w, 2, t0);
	fputs("</section>\n", f);
}

/* ---- waterfalls ---- */

struct wf_row {
	int depth, call, error, has_end;
	int64_t id, start, end;
	char text[400];
};

struct wf {
	struct page *pg;
	sqlite3_stmt *req, *calls;
	struct wf_row rows[WF_ROWS];
	int n, more;
};

static void wf_request(struct wf *w, int64_t id, int indent, int level);

/* The calls of request req_id, each followed by the request it became
 * (collected first: the statements are reused by the recursion). */
static void wf_calls(struct wf *w, int64_t req_id, int indent, int level)
{
	sqlite3_stmt *st = w->calls;
	struct wf_row *k = malloc(WF_ROWS * sizeof(*k));
	int64_t kid[WF_ROWS];
	int nk = 0;

	if (!k) {
		w->pg->err = -ENOMEM;
		return;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, req_id);
	while (step(w->pg, st)) {
		struct wf_row *r;
		const char *sum = (const char *)sqlite3_column_text(st, 6);

		if (w->n + nk >= WF_ROWS) {
			w->more++;
			continue;
		}
		r = &k[nk];
		memset(r, 0, sizeof(*r));
		r->call = 1;
		r->depth = indent;
		r->id = sqlite3_column_int64(st, 0);
		r->start = sqlite3_column_int64(st, 1);
		r->has_end = sqlite3_column_type(st, 2) != SQLITE_NULL;
		r->end = sqlite3_column_int64(st, 2);
		r->error = sqlite3_column_int(st, 9) || sqlite3_column_int(st, 10);
		snprintf(r->text, sizeof(r->text), "%s %s:%lld %s", sqlite3_column_text(st, 3) ?
			 (const char *)sqlite3_column_text(st, 3) : "",
			 sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "",
			 (long long)sqlite3_column_int64(st, 5), sum ? sum : "");
		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text),
				 " -> %lld", (long long)sqlite3_column_int64(st, 7));
		if (sqlite3_column_int(st, 10))
			strncat(r->text, " (no answer)", sizeof(r->text) - strlen(r->text) - 1);
		if (sqlite3_column_int(st, 11))
			strncat(r->text, " (ambiguous link)", sizeof(r->text) - strlen(r->text) - 1);
		kid[nk++] = sqlite3_column_type(st, 8) == SQLITE_NULL ? 0 :
			    sqlite3_column_int64(st, 8);
	}
	sqlite3_reset(st);
	for (int i = 0; i < nk; i++) {
		if (w->n == WF_ROWS) {
			w->more++;
			continue;
		}
		w->rows[w->n++] = k[i];
		if (kid[i] && level + 1 <= w->pg->o->depth)
			wf_request(w, kid[i], indent + 1, level + 1);
	}
	free(k);
}

static void wf_request(struct wf *w, int64_t id, int indent, int level)
{
	sqlite3_stmt *st = w->req;
	struct wf_row *r;

	if (w->n == WF_ROWS) {
		w->more++;
		return;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	if (!step(w->pg, st)) {
		sqlite3_reset(st);
		return;
	}
	r = &w->rows[w->n++];
	memset(r, 0, sizeof(*r));
	r->depth = indent;
	r->id = id;
	r->start = sqlite3_column_int64(st, 1);
	r->has_end = sqlite3_column_type(st, 2) != SQLITE_NULL;
	r->end = sqlite3_column_int64(st, 2);
	r->error = sqlite3_column_int(st, 9) || sqlite3_column_int(st, 10) ||
		   sqlite3_column_int(st, 11);
	snprintf(r->text, sizeof(r->text), "%s%s %s", level ? "=> " : "",
		 sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "",
		 sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "");
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text), " -> %lld",
			 (long long)sqlite3_column_int64(st, 5));
	else
		strncat(r->text, sqlite3_column_int(st, 11) ? " -> reset" : " -> no response",
			sizeof(r->text) - strlen(r->text) - 1);
	snprintf(r->text + strlen(r->text), sizeof(r->text) - strlen(r->text), " [%s]",
		 sqlite3_column_text(st, 6) ? (const char *)sqlite3_column_text(st, 6) : "");
	sqlite3_reset(st);
	wf_calls(w, id, indent + 1, level);
}

static void wf_render(struct page *pg, struct wf *w, const char *idp, int64_t id)
{
	FILE *f = pg->f;
	const int W = 980, LW = 470, RH = 20, BX = LW + 10, BW = W - BX - 70;
	int64_t t0 = w->rows[0].start, t1 = w->rows[0].has_end ? w->rows[0].end : t0;
	double span;

	for (int i = 1; i < w->n; i++) {
		int64_t e = w->rows[i].has_end ? w->rows[i].end : w->rows[i].start;

		if (!w->rows[0].has_end && e > t1)
			t1 = e;
	}
	span = t1 > t0 ? (double)(t1 - t0) : 1e6;
	fprintf(f, "<svg id=\"wf-%s-%lld\" class=\"waterfall\" xmlns=\"http://www.w3.org/2000/svg\""
		" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", idp, (long long)id,
		W, 24 + w->n * RH, W, 24 + w->n * RH);
	fprintf(f, "<text class=\"small\" x=\"%d\" y=\"12\">0 ms</text>"
		"<text class=\"small\" x=\"%d\" y=\"12\" text-anchor=\"end\">%.3f ms</text>",
		BX, BX + BW, span / 1e6);
	for (int i = 0; i < w->n; i++) {
		const struct wf_row *r = &w->rows[i];
		double y = 20 + i * RH;
		double x0 = BX + (double)(r->start - t0) / span * BW;
		double x1 = r->has_end ? BX + (double)(r->end - t0) / span * BW : BX + BW;

		if (x0 < BX)
			x0 = BX;
		if (x0 > BX + BW)
			x0 = BX + BW;
		if (x1 > BX + BW)
			x1 = BX + BW;
		if (x1 < x0 + 1)
			x1 = x0 + 1;
		fprintf(f, "<g class=\"row %s\" data-id=\"%lld\">", r->call ? "call" : "request",
			(long long)r->id);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">", 4 + r->depth * 14, y + 13);
		html_escape_cut(f, r->text, strlen(r->text), 90 - (size_t)r->depth * 2);
		fputs("</text>", f);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" fill=\"%s\"%s/>",
			x0, y + 3, x1 - x0, r->error ? "#c0392b" : r->call ? "#e08e2b" : "#4a78c2",
			r->has_end ? "" : " fill-opacity=\"0.4\"");
		if (r->has_end)
			fprintf(f, "<text class=\"small\" x=\"%.1f\" y=\"%.1f\">%.3f ms</text>",
				x1 + 3 > BX + BW ? (double)(BX + BW + 3) : x1 + 3, y + 13,
				(double)(r->end - r->start) / 1e6);
		fputs("</g>", f);
	}
	fputs("</svg>\n", f);
	if (w->more)
		fprintf(f, "<p class=\"note\">%d more rows not shown (at most %d per request).</p>\n",
			w->more, WF_ROWS);
}

static void head_pre(struct page *pg, int64_t id)
{
	sqlite3_stmt *st = prep(pg, "SELECT head FROM requests WHERE request_id = ?");
	FILE *f = pg->f;

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (step(pg, st) && sqlite3_column_bytes(st, 0)) {
		const char *p = sqlite3_column_blob(st, 0);
		const char *end = p + sqlite3_column_bytes(st, 0);
		int lines = 0;

		fputs("<details><summary>request head</summary><pre>", f);
		while (p < end && lines < HEAD_LINES) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			if (n && p[n - 1] == '\r')
				n--;
			if (!n)
				break;
			html_escape_cut(f, p, n, 200);
			putc('\n', f);
			lines++;
			p = nl ? nl + 1 : end;
		}
		fputs("</details>\n", f);
	}
	sqlite3_finalize(st);
}

/* A list of requests (the ids sql selects, with a total) with the
 * waterfall of each. */
static void sec_requests(struct page *pg, const char *id, const char *title, const char *note,
			 const char *list_sql, const char *total_sql, int top)
{
	FILE *f = pg->f;
	struct wf *w = calloc(1, sizeof(*w));
	sqlite3_stmt *st;
	int64_t ids[TOP_SLOW > TOP_FAIL ? TOP_SLOW : TOP_FAIL];
	int n = 0;
	int64_t total = scalar(pg, total_sql);

	fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n<p class=\"note\">%s", id, title, note);
	if (total > top)
		fprintf(f, " The first %d of %lld are shown.", top, (long long)total);
	fputs("</p>\n", f);
	if (!w) {
		pg->err = -ENOMEM;
		return;
	}
	st = prep(pg, list_sql);
	while (step(pg, st) && n < top)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (!n)
		fputs("<p>None.</p>\n", f);
	w->pg = pg;
	w->req = prep(pg, "SELECT request_id, start_ns, end_ns, method, path, status, " SVC_OF_R ","
		      " host, pid, error, unanswered, reset FROM requests r WHERE request_id = ?");
	w->calls = prep(pg, "SELECT call_id, start_ns, end_ns, protocol, remote_ip, remote_port,"
			" summary, status, child_request_id, error, unanswered, ambiguous"
			" FROM calls WHERE request_id = ? ORDER BY start_ns, call_id");
	for (int i = 0; i < n && w->req && w->calls; i++) {
		sqlite3_stmt *q = prep(pg, "SELECT method, path, status, duration_ms, " SVC_OF_R ","
				       " NULL, rfc3339(start_ns), unanswered, reset FROM requests r"
				       " WHERE request_id = ?");

		if (!q)
			break;
		sqlite3_bind_int64(q, 1, ids[i]);
		if (step(pg, q)) {
			fprintf(f, "<div class=\"req\" id=\"%s-%lld\"><h3>request %lld: ", id,
				(long long)ids[i], (long long)ids[i]);
			hcol(f, q, 0, 16);
			fputc(' ', f);
			hcol(f, q, 1, HTML_STR_MAX);
			if (sqlite3_column_type(q, 2) != SQLITE_NULL)
				fprintf(f, " &rarr; %lld", (long long)sqlite3_column_int64(q, 2));
			else
				fputs(sqlite3_column_int(q, 8) ? " &rarr; reset" : " &rarr; no response", f);
			if (sqlite3_column_type(q, 3) != SQLITE_NULL)
				fprintf(f, ", %.3f ms", sqlite3_column_double(q, 3));
			fputs("</h3>\n<p class=\"note\">", f);
			hcol(f, q, 4, 128);
			fputs(", ", f);
			hcol(f, q, 6, 64);
			fputs("</p>\n", f);
			w->n = 0;
			w->more = 0;
			wf_request(w, ids[i], 0, 0);
			if (w->n)
				wf_render(pg, w, id, ids[i]);
			head_pre(pg, ids[i]);
			fputs("</div>\n", f);
		}
		sqlite3_finalize(q);
	}
	sqlite3_finalize(w->req);
	sqlite3_finalize(w->calls);
	free(w);
	fputs("</section>\n", f);
}

/* ---- the page ---- */

static void page(struct page *pg)
{
	FILE *f = pg->f;

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
		" style-src 'unsafe-inline'; img-src data:; script-src %s; base-uri 'none';"
		" form-action 'none'\">\n"
		"<meta name=\"referrer\" content=\"no-referrer\">\n"
		"<meta name=\"generator\" content=\"httpanalyze %s\">\n"
		"<title>httpcap report</title>\n<style>\n%s</style>\n</head><body>\n",
		html_script_hash, HTC_TOOL_VERSION, html_style);
	fprintf(f, "<h1>httpcap report</h1>\n<p class=\"note\" id=\"limits\">Made by httpanalyze %s"
		" from the capture files below. The page is bounded whatever the capture: at most"
		" %d files, %d processes, %d endpoints (%d histograms), %d dependencies and %d"
		" services in the map, %d time buckets, the %d slowest and the first %d failing"
		" requests with %d timeline rows each; capture strings are cut at %d bytes,"
		" request heads at %d lines of 200 bytes."
		" Where a list is cut the page says so.</p>\n"
		"<nav><a href=\"#capture\">capture</a> &middot; <a href=\"#map\">service map</a>"
		" &middot; <a href=\"#endpoints\">endpoints</a> &middot; <a href=\"#time\">over"
		" time</a> &middot; <a href=\"#slowest\">slowest</a> &middot; <a"
		" href=\"#failing\">failing</a></nav>\n",
		HTC_TOOL_VERSION, TOP_FILES, TOP_PROCS, TOP_ENDPOINTS, TOP_HISTS, TOP_EDGES,
		TOP_SERVICES, TIME_BUCKETS, TOP_SLOW, TOP_FAIL, WF_ROWS, HTML_STR_MAX, HEAD_LINES);
	sec_capture(pg);
	sec_map(pg);
	sec_endpoints(pg);
	sec_time(pg);
	sec_requests(pg, "slowest", "Slowest requests",
		     "The slowest answered requests, each with its downstream calls and the"
		     " requests they became in other processes (bars: requests blue, calls"
		     " orange, failures red).",
		     "SELECT request_id FROM requests WHERE duration_ms IS NOT NULL"
		     " ORDER BY duration_ms DESC, request_id LIMIT 10",
		     "SELECT count(*) FROM requests WHERE duration_ms IS NOT NULL", TOP_SLOW);
	sec_requests(pg, "failing", "Failing requests",
		     "Requests answered with a 4xx or 5xx status, reset or never answered, in"
		     " time order.",
		     "SELECT request_id FROM requests WHERE error OR unanswered OR reset"
		     " OR status >= 400 ORDER BY start_ns, request_id LIMIT 10",
		     "SELECT count(*) FROM requests WHERE error OR unanswered OR reset"
		     " OR status >= 400", TOP_FAIL);
	fprintf(f, "<script>%s</script>\n</body></html>\n", html_script);
}

int html_report(sqlite3 *db, const struct report_opts *o, const char *path)
{
	struct page pg = { .db = db, .o = o };
	char *tmp = NULL;
	int err;

	if (!strcmp(path, "-")) {
		pg.f = o->out;
	} else {
		size_t n = strlen(path) + 16;

		tmp = malloc(n);
		if (!tmp)
			return -EIO;
		snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
		pg.f = fopen(tmp, "w");
		if (!pg.f) {
			fprintf(stderr, "httpanalyze: cannot create '%s': %s\n", tmp, strerror(errno));
			free(tmp);
			return -EIO;
		}
	}
	page(&pg);
	err = pg.err;
	if (err == -ENOMEM)
		fprintf(stderr, "httpanalyze: report: out of memory\n");
	if (tmp) {
		if (ferror(pg.f) | fclose(pg.f)) {
			if (!err)
				fprintf(stderr, "httpanalyze: writing '%s': %s\n", tmp, strerror(errno));
			err = -EIO;
		}
		if (!err && rename(tmp, path)) {
			fprintf(stderr, "httpanalyze: cannot rename '%s' to '%s': %s\n", tmp, path,
				strerror(errno));
			err = -EIO;
		}
		if (err)
			unlink(tmp);
		free(tmp);
	}
	return err ? -EIO : 0;
}
