// SPDX-License-Identifier: MIT
/*
 * show.c - `httpanalyze show ID`: one request's timeline, its downstream
 * calls and, through them, the requests they became in other processes
 * (recursively), as a table with a bar per row, as JSON (nested) or as
 * CSV (one row per line of the timeline).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define BAR_W 40

struct show_ctx {
	sqlite3 *db;
	const struct report_opts *o;
	sqlite3_stmt *req, *calls;
	int64_t root_start, root_dur;
	int csv_started;
	struct out *lst;	/* csv / table timeline rows */
};

struct req_row {
	int64_t id, parent, start, end, pid, tid, status, req_bytes, resp_bytes, ncalls;
	int64_t parent_call;
	int has_parent, has_status, has_end, unanswered, reset, error;
	int parent_guess;	/* the parent call was ambiguous: the parent is a guess */
	char parent_ev[16];	/* its evidence (requests.parent_evidence) */
	char trace[40];		/* requests.trace_id, "" none */
	char tls[16];		/* requests.tls, "" plain */
	double dur;
	char method[64], path[1024], host[256], comm[32], client[80], server[80], proto[16];
	char service[1024];	/* services.service */
	int has_client_lat;	/* requests.client_latency_ns: linked to its client's call */
	int64_t client_lat;
	void *head;
	size_t head_len;
	void *resp_head;	/* requests.resp_head, NULL none */
	size_t resp_head_len;
};

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

static int load_req(struct show_ctx *c, int64_t id, struct req_row *r)
{
	sqlite3_stmt *st = c->req;
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->has_parent = sqlite3_column_type(st, 1) != SQLITE_NULL;
	r->parent = sqlite3_column_int64(st, 1);
	r->start = sqlite3_column_int64(st, 2);
	r->has_end = sqlite3_column_type(st, 3) != SQLITE_NULL;
	r->end = sqlite3_column_int64(st, 3);
	r->dur = sqlite3_column_double(st, 4);
	col_text(st, 5, r->method, sizeof(r->method));
	col_text(st, 6, r->path, sizeof(r->path));
	r->has_status = sqlite3_column_type(st, 7) != SQLITE_NULL;
	r->status = sqlite3_column_int64(st, 7);
	r->pid = sqlite3_column_int64(st, 8);
	r->tid = sqlite3_column_int64(st, 9);
	col_text(st, 10, r->comm, sizeof(r->comm));
	col_text(st, 11, r->host, sizeof(r->host));
	col_text(st, 12, r->client, sizeof(r->client));
	col_text(st, 13, r->server, sizeof(r->server));
	r->req_bytes = sqlite3_column_int64(st, 14);
	r->resp_bytes = sqlite3_column_int64(st, 15);
	r->ncalls = sqlite3_column_int64(st, 16);
	r->unanswered = sqlite3_column_int(st, 17);
	r->reset = sqlite3_column_int(st, 18);
	r->error = sqlite3_column_int(st, 19);
	r->parent_call = sqlite3_column_int64(st, 21);
	r->parent_guess = sqlite3_column_int(st, 22);
	col_text(st, 23, r->proto, sizeof(r->proto));
	col_text(st, 24, r->parent_ev, sizeof(r->parent_ev));
	col_text(st, 25, r->trace, sizeof(r->trace));
	col_text(st, 26, r->service, sizeof(r->service));
	r->has_client_lat = sqlite3_column_type(st, 27) != SQLITE_NULL;
	r->client_lat = sqlite3_column_int64(st, 27);
	r->resp_head_len = (size_t)sqlite3_column_bytes(st, 28);
	r->resp_head = r->resp_head_len ? malloc(r->resp_head_len) : NULL;
	if (r->resp_head)
		memcpy(r->resp_head, sqlite3_column_blob(st, 28), r->resp_head_len);
	else
		r->resp_head_len = 0;
	col_text(st, 29, r->tls, sizeof(r->tls));
	r->head_len = (size_t)sqlite3_column_bytes(st, 20);
	r->head = r->head_len ? malloc(r->head_len) : NULL;
	if (r->head)
		memcpy(r->head, sqlite3_column_blob(st, 20), r->head_len);
	else
		r->head_len = 0;
	sqlite3_reset(st);
	return 0;
}

struct call_row {
	int64_t id, start, end, status, child, port, bytes_out, bytes_in;
	int has_end, has_status, has_child, error, unanswered, ambiguous;
	int has_server_lat;	/* calls.server_latency_ns: linked to the server's request */
	int64_t server_lat;
	double dur;
	char proto[16], ip[64], summary[1024], evidence[16];
};

/* Calls of request id, in start order (malloc'd array, *n OUT). */
static struct call_row *load_calls(struct show_ctx *c, int64_t id, size_t *n)
{
	sqlite3_stmt *st = c->calls;
	struct call_row *v = NULL;
	size_t cap = 0;
	int rc;

	*n = 0;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct call_row *k;

		if (*n == cap) {
			struct call_row *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		k = &v[(*n)++];
		memset(k, 0, sizeof(*k));
		k->id = sqlite3_column_int64(st, 0);
		col_text(st, 1, k->proto, sizeof(k->proto));
		col_text(st, 2, k->ip, sizeof(k->ip));
		k->port = sqlite3_column_int64(st, 3);
		k->start = sqlite3_column_int64(st, 4);
		k->has_end = sqlite3_column_type(st, 5) != SQLITE_NULL;
		k->end = sqlite3_column_int64(st, 5);
		k->dur = sqlite3_column_double(st, 6);
		col_text(st, 7, k->summary, sizeof(k->summary));
		k->has_status = sqlite3_column_type(st, 8) != SQLITE_NULL;
		k->status = sqlite3_column_int64(st, 8);
		k->has_child = sqlite3_column_type(st, 9) != SQLITE_NULL;
		k->child = sqlite3_column_int64(st, 9);
		k->bytes_out = sqlite3_column_int64(st, 10);
		k->bytes_in = sqlite3_column_int64(st, 11);
		k->error = sqlite3_column_int(st, 12);
		k->unanswered = sqlite3_column_int(st, 13);
		k->ambiguous = sqlite3_column_int(st, 14);
		col_text(st, 15, k->evidence, sizeof(k->evidence));
		k->has_server_lat = sqlite3_column_type(st, 16) != SQLITE_NULL;
		k->server_lat = sqlite3_column_int64(st, 16);
	}
	sqlite3_reset(st);
	return v;
}

static void tput(FILE *f, const char *s)
{
	out_term_escape(f, s, strlen(s));
}

static void bar(FILE *f, const struct show_ctx *c, int64_t start, int64_t end, char ch)
{
	char b[BAR_W + 1];
	double scale = c->root_dur > 0 ? (double)BAR_W / (double)c->root_dur : 0;
	int from = (int)floor((double)(start - c->root_start) * scale);
	int to = end ? (int)ceil((double)(end - c->root_start) * scale) : BAR_W;

	if (from < 0)
		from = 0;
	if (from > BAR_W - 1)
		from = BAR_W - 1;
	if (to > BAR_W)
		to = BAR_W;
	if (to <= from)
		to = from + 1;
	memset(b, ' ', BAR_W);
	memset(b + from, ch, (size_t)(to - from));
	b[BAR_W] = '\0';
	fprintf(f, "|%s|", b);
}

static void print_offset(FILE *f, const struct show_ctx *c, int64_t start, int has_dur,
			 double dur)
{
	fprintf(f, "%10.3f ", (double)(start - c->root_start) / 1e6);
	if (has_dur)
		fprintf(f, "%10.3f  ", dur);
	else
		fprintf(f, "%10s  ", "-");
}

static void head_lines(FILE *f, const void *head, size_t len, int indent, char mark)
{
	const char *p = head, *end = p + len;
	int lines = 0;

	while (p < end && lines < 40) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n && p[n - 1] == '\r')
			n--;
		if (!n)
			break;
		fprintf(f, "%*s%c ", indent, "", mark);
		out_term_escape(f, p, n > 200 ? 200 : n);
		if (n > 200)
			fputs("...", f);
		fputc('\n', f);
		lines++;
		p = nl ? nl + 1 : end;
	}
}

static int show_table(struct show_ctx *c, const struct req_row *r, int depth);

static void show_call_table(struct show_ctx *c, const struct call_row *k, int depth)
{
	FILE *f = c->o->out;

	print_offset(f, c, k->start, k->has_end, k->dur);
	bar(f, c, k->start, k->has_end ? k->end : 0, '#');
	/* even our own columns are escaped: a reused --db may come from
	 * anyone */
	fprintf(f, " %*s", depth * 2, "");
	tput(f, k->proto);
	fputc(' ', f);
	tput(f, k->ip);
	fprintf(f, ":%lld ", (long long)k->port);
	out_term_escape(f, k->summary, strlen(k->summary));
	if (k->has_status)
		fprintf(f, " -> %lld", (long long)k->status);
	if (k->unanswered)
		fputs(" (no answer)", f);
	if (k->ambiguous) {
		fputs(" (ambiguous)", f);
	} else {
		fputs(" [", f);
		tput(f, k->evidence);
		fputc(']', f);
	}
	if (k->has_child)
		fprintf(f, " => request %lld", (long long)k->child);
	if (k->has_server_lat)
		fprintf(f, " (server %.3f ms)", (double)k->server_lat / 1e6);
	fputc('\n', f);
}

static int show_table(struct show_ctx *c, const struct req_row *r, int depth)
{
	FILE *f = c->o->out;
	struct call_row *calls;
	size_t n;
	int err = 0;

	print_offset(f, c, r->start, r->has_end, r->dur);
	bar(f, c, r->start, r->has_end ? r->end : 0, '=');
	fprintf(f, " %*s", depth * 2, "");
	if (depth)
		fprintf(f, "request %lld ", (long long)r->id);
	out_term_escape(f, r->method, strlen(r->method));
	fputc(' ', f);
	out_term_escape(f, r->path, strlen(r->path));
	fputs(" in ", f);
	out_term_escape(f, r->service, strlen(r->service));
	fprintf(f, " (pid %lld", (long long)r->pid);
	if (strcmp(r->proto, "http"))
		fprintf(f, ", %s", r->proto);	/* http2, grpc */
	fputs(")\n", f);
	calls = load_calls(c, r->id, &n);
	for (size_t i = 0; i < n; i++) {
		struct req_row child;

		show_call_table(c, &calls[i], depth);
		if (!calls[i].has_child || depth + 1 > c->o->depth)
			continue;
		if (load_req(c, calls[i].child, &child))
			continue;
		err = show_table(c, &child, depth + 1);
		free(child.head);
		free(child.resp_head);
		if (err)
			break;
	}
	free(calls);
	print_offset(f, c, r->has_end ? r->end : r->start, 0, 0);
	if (r->has_end)
		bar(f, c, r->end - 1, r->end, '<');
	else
		fprintf(f, "|%*s|", BAR_W, "");
	fprintf(f, " %*s", depth * 2, "");
	if (r->has_status)
		fprintf(f, "response %lld, %lld bytes\n", (long long)r->status,
			(long long)r->resp_bytes);
	else
		fprintf(f, "no response%s\n", r->reset ? " (reset)" : "");
	return err;
}

static void json_req(struct show_ctx *c, const struct req_row *r, int depth);

static void jkey(FILE *f, const char *k)
{
	fprintf(f, ", \"%s\": ", k);
}

static void jstr(FILE *f, const char *s)
{
	out_json_string(f, s, strlen(s));
}

static void json_req(struct show_ctx *c, const struct req_row *r, int depth)
{
	FILE *f = c->o->out;
	struct call_row *calls;
	char ts[64];
	size_t n;

	out_rfc3339(ts, sizeof(ts), r->start);
	fprintf(f, "{\"request_id\": %lld", (long long)r->id);
	jkey(f, "parent_request_id");
	if (r->has_parent)
		fprintf(f, "%lld", (long long)r->parent);
	else
		fputs("null", f);
	jkey(f, "parent_ambiguous");
	fputs(!r->has_parent ? "null" : r->parent_guess ? "true" : "false", f);
	jkey(f, "parent_evidence");
	if (r->has_parent)
		jstr(f, r->parent_ev);
	else
		fputs("null", f);
	jkey(f, "trace_id");
	if (r->trace[0])
		jstr(f, r->trace);
	else
		fputs("null", f);
	jkey(f, "host"); jstr(f, r->host);
	fprintf(f, ", \"pid\": %lld, \"tid\": %lld", (long long)r->pid, (long long)r->tid);
	jkey(f, "comm"); jstr(f, r->comm);
	jkey(f, "client"); jstr(f, r->client);
	jkey(f, "server"); jstr(f, r->server);
	jkey(f, "protocol"); jstr(f, r->proto);
	jkey(f, "method"); jstr(f, r->method);
	jkey(f, "path"); jstr(f, r->path);
	jkey(f, "status");
	if (r->has_status)
		fprintf(f, "%lld", (long long)r->status);
	else
		fputs("null", f);
	jkey(f, "start"); jstr(f, ts);
	jkey(f, "duration_ms");
	if (r->has_end)
		fprintf(f, "%.3f", r->dur);
	else
		fputs("null", f);
	jkey(f, "client_ms");	/* its client's time (requests.client_latency_ns) */
	if (r->has_client_lat)
		fprintf(f, "%.3f", (double)r->client_lat / 1e6);
	else
		fputs("null", f);
	jkey(f, "service"); jstr(f, r->service);
	fprintf(f, ", \"req_bytes\": %lld, \"resp_bytes\": %lld, \"unanswered\": %s, \"reset\": %s",
		(long long)r->req_bytes, (long long)r->resp_bytes,
		r->unanswered ? "true" : "false", r->reset ? "true" : "false");
	jkey(f, "head");
	out_json_string(f, r->head ? r->head : "", r->head_len);
	jkey(f, "resp_head");
	if (r->resp_head)
		out_json_string(f, r->resp_head, r->resp_head_len);
	else
		fputs("null", f);
	fputs(", \"calls\": [", f);
	calls = load_calls(c, r->id, &n);
	for (size_t i = 0; i < n; i++) {
		const struct call_row *k = &calls[i];
		struct req_row child;

		out_rfc3339(ts, sizeof(ts), k->start);
		fprintf(f, "%s{\"call_id\": %lld", i ? ", " : "", (long long)k->id);
		jkey(f, "protocol"); jstr(f, k->proto);
		jkey(f, "remote_ip"); jstr(f, k->ip);
		fprintf(f, ", \"remote_port\": %lld", (long long)k->port);
		jkey(f, "start"); jstr(f, ts);
		fprintf(f, ", \"offset_ms\": %.3f", (double)(k->start - c->root_start) / 1e6);
		jkey(f, "duration_ms");
		if (k->has_end)
			fprintf(f, "%.3f", k->dur);
		else
			fputs("null", f);
		jkey(f, "server_ms");	/* the server's time (calls.server_latency_ns) */
		if (k->has_server_lat)
			fprintf(f, "%.3f", (double)k->server_lat / 1e6);
		else
			fputs("null", f);
		jkey(f, "summary"); jstr(f, k->summary);
		jkey(f, "status");
		if (k->has_status)
			fprintf(f, "%lld", (long long)k->status);
		else
			fputs("null", f);
		fprintf(f, ", \"bytes_out\": %lld, \"bytes_in\": %lld, \"ambiguous\": %s",
			(long long)k->bytes_out, (long long)k->bytes_in,
			k->ambiguous ? "true" : "false");
		jkey(f, "evidence"); jstr(f, k->evidence);
		jkey(f, "child_request_id");
		if (k->has_child)
			fprintf(f, "%lld", (long long)k->child);
		else
			fputs("null", f);
		if (k->has_child && depth + 1 <= c->o->depth && !load_req(c, k->child, &child)) {
			jkey(f, "child");
			json_req(c, &child, depth + 1);
			free(child.head);
			free(child.resp_head);
		}
		fputc('}', f);
	}
	free(calls);
	fputs("]}", f);
}

/* csv: the timeline flattened, one row per request or call */
static void csv_req(struct show_ctx *c, const struct req_row *r, int depth)
{
	struct out *o = c->lst;
	struct call_row *calls;
	char ts[64];
	size_t n;

	out_rfc3339(ts, sizeof(ts), r->start);
	out_int(o, depth);
	out_str(o, "request");
	out_int(o, r->id);
	out_str(o, ts);
	out_real(o, (double)(r->start - c->root_start) / 1e6);
	if (r->has_end)
		out_real(o, r->dur);
	else
		out_null(o);
	out_str(o, r->proto);
	out_str(o, r->server);
	{
		char s[1200];

		snprintf(s, sizeof(s), "%s %s", r->method, r->path);
		out_str(o, s);
	}
	if (r->has_status)
		out_int(o, r->status);
	else
		out_null(o);
	out_null(o);
	if (r->has_parent)
		out_int(o, r->parent_guess);	/* its parent is a guess */
	else
		out_null(o);
	if (r->has_parent)
		out_str(o, r->parent_ev);
	else
		out_null(o);
	out_end_row(o);
	calls = load_calls(c, r->id, &n);
	for (size_t i = 0; i < n; i++) {
		const struct call_row *k = &calls[i];
		struct req_row child;
		char remote[96];

		out_rfc3339(ts, sizeof(ts), k->start);
		snprintf(remote, sizeof(remote), "%s:%lld", k->ip, (long long)k->port);
		out_int(o, depth);
		out_str(o, "call");
		out_int(o, k->id);
		out_str(o, ts);
		out_real(o, (double)(k->start - c->root_start) / 1e6);
		if (k->has_end)
			out_real(o, k->dur);
		else
			out_null(o);
		out_str(o, k->proto);
		out_str(o, remote);
		out_str(o, k->summary);
		if (k->has_status)
			out_int(o, k->status);
		else
			out_null(o);
		if (k->has_child)
			out_int(o, k->child);
		else
			out_null(o);
		out_int(o, k->ambiguous);	/* its request is a guess */
		out_str(o, k->evidence);
		out_end_row(o);
		if (k->has_child && depth + 1 <= c->o->depth && !load_req(c, k->child, &child)) {
			csv_req(c, &child, depth + 1);
			free(child.head);
			free(child.resp_head);
		}
	}
	free(calls);
}

int report_show(sqlite3 *db, const struct report_opts *o, const char *idtext)
{
	static const char *const csv_cols[] = {
		"depth", "kind", "id", "start", "offset_ms", "duration_ms", "protocol",
		"remote", "summary", "status", "child_request_id", "ambiguous", "evidence",
	};
	struct show_ctx c = { .db = db, .o = o };
	struct req_row r = { 0 };
	char *end;
	long long id;
	int err = 0;

	errno = 0;
	id = strtoll(idtext, &end, 10);
	if (errno || end == idtext || *end || id <= 0) {
		fprintf(stderr, "httpanalyze: bad request id '%s': want a number like 1001\n",
			idtext);
		return -EINVAL;
	}
	c.req = report_prep(db, "SELECT request_id, parent_request_id, start_ns, end_ns, duration_ms,"
		     " method, path, status, pid, tid, comm, host,"
		     " client_ip || ':' || client_port, server_ip || ':' || server_port,"
		     " req_bytes, resp_bytes, ncalls, unanswered, reset, error, head,"
		     " parent_call_id, parent_ambiguous, protocol, parent_evidence, trace_id,"
		     " coalesce((SELECT service FROM services s WHERE s.file_idx = r.file_idx"
		     "  AND s.pid = r.pid), comm || '@' || host), client_latency_ns, resp_head, tls"
		     " FROM requests r"
		     " WHERE request_id = ?");
	c.calls = report_prep(db, "SELECT call_id, protocol, remote_ip, remote_port, start_ns, end_ns,"
		       " duration_ms, summary, status, child_request_id, bytes_out, bytes_in,"
		       " error, unanswered, ambiguous, evidence, server_latency_ns FROM calls"
		       " WHERE request_id = ?"
		       " ORDER BY start_ns, call_id");
	if (!c.req || !c.calls) {
		err = -EIO;
		goto cleanup;
	}
	err = load_req(&c, id, &r);
	if (err == -ENOENT) {
		fprintf(stderr, "httpanalyze: no request %lld in this capture (see "
			"`httpanalyze requests`)\n", id);
		goto cleanup;
	} else if (err) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	c.root_start = r.start;
	c.root_dur = r.has_end ? r.end - r.start : 0;
	if (!r.has_end) {
		/* unanswered: scale to the last thing that happened */
		int64_t last = 0;
		size_t n;
		struct call_row *k = load_calls(&c, r.id, &n);

		for (size_t i = 0; i < n; i++) {
			int64_t e = k[i].has_end ? k[i].end : k[i].start;

			if (e - r.start > last)
				last = e - r.start;
		}
		free(k);
		c.root_dur = last > 0 ? last : 1000000;
	}
	switch (o->fmt) {
	case OUT_JSON:
		json_req(&c, &r, 0);
		fputc('\n', o->out);
		break;
	case OUT_CSV:
		c.lst = out_new(OUT_CSV, o->out);
		if (!c.lst || out_begin(c.lst, 12, csv_cols)) {
			err = -ENOMEM;
			break;
		}
		csv_req(&c, &r, 0);
		err = out_finish(c.lst);
		c.lst = NULL;
		break;
	default: {
		char ts[64];
		FILE *f = o->out;

		out_rfc3339(ts, sizeof(ts), r.start);
		fprintf(f, "request %lld  ", (long long)r.id);
		out_term_escape(f, r.method, strlen(r.method));
		fputc(' ', f);
		out_term_escape(f, r.path, strlen(r.path));
		if (r.has_status)
			fprintf(f, "  -> %lld", (long long)r.status);
		else
			fputs(r.reset ? "  -> reset, no response" : "  -> no response", f);
		if (r.has_end)
			fprintf(f, "  %.3f ms", r.dur);
		fputc('\n', f);
		fputs("  service  ", f);
		out_term_escape(f, r.service, strlen(r.service));
		fprintf(f, "  pid %lld tid %lld\n", (long long)r.pid, (long long)r.tid);
		if (r.has_end || r.has_client_lat) {
			/* the server's time and, when its client was captured
			 * too, the client's (README, Latency) */
			fputs("  latency  ", f);
			if (r.has_end)
				fprintf(f, "server %.3f ms (first byte read to last byte written)",
					r.dur);
			if (r.has_client_lat)
				fprintf(f, "%sclient %.3f ms (its call: first byte written to last byte read)",
					r.has_end ? ", " : "", (double)r.client_lat / 1e6);
			fputc('\n', f);
		}
		fputs("  client   ", f);
		tput(f, r.client);
		fputs(" -> ", f);
		tput(f, r.server);
		if (r.tls[0]) {
			fputs("  over TLS, decrypted from ", f);
			tput(f, r.tls);
		}
		fputc('\n', f);
		fprintf(f, "  start    %s\n", ts);
		if (r.trace[0]) {
			fputs("  trace    ", f);
			tput(f, r.trace);
			fputc('\n', f);
		}
		if (r.has_parent)
			fprintf(f, "  parent   request %lld (call %lld)%s%s\n", (long long)r.parent,
				(long long)r.parent_call,
				!r.parent_guess ? ", proven by "
				: !strcmp(r.parent_ev, "loop")
				? ", a guess: chosen by the event loop's order, not proven"
				: ", a guess: no proof among the requests active on its thread",
				r.parent_guess ? "" : r.parent_ev);
		fprintf(f, "  bytes    %lld in, %lld out; %lld downstream calls\n",
			(long long)r.req_bytes, (long long)r.resp_bytes, (long long)r.ncalls);
		head_lines(f, r.head, r.head_len, 2, '>');
		head_lines(f, r.resp_head, r.resp_head_len, 2, '<');
		{
			char scale[32];

			snprintf(scale, sizeof(scale), "%.3f ms", (double)c.root_dur / 1e6);
			fprintf(f, "\n%10s %10s  |0 ms%*s|\n", "start_ms", "dur_ms",
				BAR_W - 4, scale);
		}
		err = show_table(&c, &r, 0);
		break;
	}
	}
cleanup:
	out_finish(c.lst);
	free(r.head);
	free(r.resp_head);
	sqlite3_finalize(c.req);
	sqlite3_finalize(c.calls);
	return err;
}
