// SPDX-License-Identifier: MIT
/*
 * load.c - httpanalyze's loader: capture files -> engine -> rows in one
 * SQLite transaction (prepared statements, encoded in batches for the rows
 * thread of rowq.c), each request and call written with its cross-process
 * link when the engine has it (late links patched by primary key),
 * statistics counted on the way (stats.c), indexes after the load.  The
 * schema it fills is schema.c's.
 *
 * Over 1,000 lines: the sinks (one per engine report) encode every column
 * of the schema's requests, calls, connections and files rows, in the
 * order of the INSERTs beside them; keeping each INSERT next to the code
 * that binds it is what keeps the two in step (schema.c holds the rest).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htc.h"
#include "htc_engine.h"
#include "htc_hash.h"
#include "db.h"
#include "db_int.h"
#include "output.h"
#include "rowq.h"
#include "stats.h"

/* ---- helpers ---- */

/* Is this path segment an identifier (number, hex id, UUID)? */
static int id_segment(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			digits++;
		else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-')
			hex++;
		else
			return 0;
	}
	if (digits == n)
		return 1;
	return n >= 8 && digits > 0;
}

char *db_endpoint(char *dst, size_t cap, const char *method, const char *path)
{
	const char *m = method && *method ? method : "?";
	size_t o, n = strcspn(path ? path : "", "?#");

	if (!cap)
		return dst;
	/* no snprintf: it runs once per request and call of the load */
	o = strnlen(m, cap - 1);
	memcpy(dst, m, o);
	if (o + 1 < cap)
		dst[o++] = ' ';
	for (size_t i = 0; i < n && o + 1 < cap;) {
		size_t seg = i;

		while (seg < n && path[seg] != '/')
			seg++;
		if (id_segment(path + i, seg - i)) {
			size_t k = cap - o - 1 < 3 ? cap - o - 1 : 3;

			memcpy(dst + o, ":id", k);
			o += k;
		} else {
			size_t k = seg - i;

			if (k > cap - o - 1)
				k = cap - o - 1;
			memcpy(dst + o, path + i, k);
			o += k;
		}
		if (o >= cap)
			o = cap - 1;
		if (seg < n && o + 1 < cap)
			dst[o++] = '/';
		i = seg + 1;
	}
	dst[o < cap ? o : cap - 1] = '\0';
	return dst;
}

/* What a call is, for grouping: HTTP endpoint, or the command name. */
static void call_name(char *dst, size_t cap, unsigned proto, const char *summary)
{
	size_t n = 0;

	if (!summary)
		summary = "";
	if (proto == HTC_PROTO_GRPC && summary[0]) {
		/* package.Service/Method: a name already */
		snprintf(dst, cap, "%s", summary);
		return;
	}
	if (proto == HTC_PROTO_HTTP || proto == HTC_PROTO_HTTP2) {
		char method[32];
		size_t m = strcspn(summary, " ");

		if (m >= sizeof(method))
			m = sizeof(method) - 1;
		memcpy(method, summary, m);
		method[m] = '\0';
		db_endpoint(dst, cap, method, summary[m] ? summary + m + 1 : "");
		return;
	}
	if (proto == HTC_PROTO_REDIS || proto == HTC_PROTO_POSTGRES) {
		while (summary[n] && summary[n] != ' ' && n + 1 < cap && n < 32) {
			char c = summary[n];

			dst[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		}
		dst[n] = '\0';
		if (n)
			return;
	}
	snprintf(dst, cap, "%s", htc_proto_name(proto));
}

/* Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and
 * with two addresses per row that was 5% of the load's CPU.  buf: 16+. */
static void fmt_ipv4(char *buf, const uint8_t *a)
{
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

static void fmt_ip(char *buf, size_t cap, unsigned family, const uint8_t *addr)
{
	if (family == HTC_AF_INET && cap >= INET_ADDRSTRLEN)
		fmt_ipv4(buf, addr);
	else if (family == HTC_AF_INET)
		inet_ntop(AF_INET, addr, buf, (socklen_t)cap);
	else if (family == HTC_AF_INET6)
		inet_ntop(AF_INET6, addr, buf, (socklen_t)cap);
	else
		snprintf(buf, cap, "?");
}

static const char *role_name(unsigned role)
{
	return role == HTC_ROLE_SERVER ? "server" : role == HTC_ROLE_CLIENT ? "client" : "unknown";
}

/* ---- the two latencies of a linked pair ---- */

/*
 * A request and the call that made it are usually reported one after the
 * other a few events apart (the request when its response is written, the
 * call when the response is read), each carrying the other's id.  Their
 * times are kept here from the first report to the second, so both rows
 * get their linked latency without an UPDATE: the call's is bound at its
 * insert, the request's set in its batch slot while the batch fills
 * (rq_slot_set), else patched by primary key.  An open-addressing table
 * (linear probing, backward-shift deletion) of id -> times: written here
 * because no packaged C library on the build list has one.
 */
struct pend {
	uint64_t id;			/* request or call id; 0 empty */
	int64_t dur;			/* its duration, ns (-1 unanswered) */
	struct stats_group *ep;		/* request: its endpoint group (linked stats) */
	struct rq_slot slot;		/* request: its client_latency_ns */
};

struct pendtab {
	struct pend *v;
	size_t n, cap;			/* cap: a power of two, at most half full */
};

static size_t pend_home(const struct pendtab *t, uint64_t id)
{
	return (size_t)mix64(id) & (t->cap - 1);
}

static struct pend *pend_find(struct pendtab *t, uint64_t id)
{
	if (!t->cap)
		return NULL;
	for (size_t i = pend_home(t, id);; i = (i + 1) & (t->cap - 1)) {
		if (!t->v[i].id)
			return NULL;
		if (t->v[i].id == id)
			return &t->v[i];
	}
}

static struct pend *pend_add(struct pendtab *t, uint64_t id)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct pend *v = calloc(cap, sizeof(*v));

		if (!v)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->v[k].id)
				continue;
			for (i = (size_t)mix64(t->v[k].id) & (cap - 1); v[i].id; i = (i + 1) & (cap - 1))
				;
			v[i] = t->v[k];
		}
		free(t->v);
		t->v = v;
		t->cap = cap;
	}
	for (i = pend_home(t, id); t->v[i].id && t->v[i].id != id; i = (i + 1) & (t->cap - 1))
		;
	if (!t->v[i].id)
		t->n++;
	memset(&t->v[i], 0, sizeof(t->v[i]));
	t->v[i].id = id;
	return &t->v[i];
}

static void pend_del(struct pendtab *t, struct pend *e)
{
	size_t i = (size_t)(e - t->v), j = i;

	t->n--;
	/* backward shift: move up the entries whose home is at or before
	 * the hole, so every probe run stays unbroken */
	for (;;) {
		size_t h;

		j = (j + 1) & (t->cap - 1);
		if (!t->v[j].id)
			break;
		h = pend_home(t, t->v[j].id);
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			t->v[i] = t->v[j];
			i = j;
		}
	}
	t->v[i].id = 0;
}

/* ---- loader ---- */

#define LOAD_PORT_CACHE 64	/* power of two */

struct lfile {
	const char *path;
	char host[HTC_HOSTNAME_LEN];
	int64_t offset;			/* realtime offset */
	uint64_t last_ts;		/* wall clock of the last record */
	uint64_t lost[HTC_LOSS_SLOTS];	/* summed HTC_REC_LOSS, for truncated files */
	uint64_t warned;
	uint64_t events;		/* loaded from this file */
	uint64_t joined, unseen;	/* connections joined mid-stream, bytes they had read unseen */
	struct loader *l;
};

struct loader {
	sqlite3 *db;
	const struct db_load_opts *opts;
	struct lfile *files;
	size_t nfiles;
	sqlite3_stmt *ev, *req, *call, *conn, *proc, *link_req, *link_call, *lat_req, *lat_call;
	int err;		/* first SQLite error in a callback */
	struct db_load_stats st;
	const char *warn_file;	/* for warnings when only one file is open */
	struct evq *evq;	/* events thread, NULL: events inserted here */
	int scan;		/* events served by events_vtab.c: not copied */
	struct rowq rq;		/* the other rows, on their own thread */
	/* the *_stats tables, counted as the rows go by (stats.h) */
	struct stats *ep_stats, *ds_stats, *preq_stats, *pcall_stats;
	/* per process (key.i = file_idx << 32 | pid): the server ports it
	 * answered on (key.s[0], decimal; "" for a process seen as a client
	 * only) and its task name (key.s[1]), for its service name */
	struct stats *ports;
	struct port_seen {
		uint32_t file_idx, pid;
		unsigned port, used;
	} port_seen[LOAD_PORT_CACHE];	/* note_port's cache */
	/* linked pairs waiting for their second report, and the durations
	 * of the linked requests per endpoint group: server, client */
	struct pendtab preq, pcall;
	struct stats *lk_srv, *lk_cli;
	int64_t *linked;	/* opts->want_linked: the requests counted in them */
	size_t nlinked, caplinked;
	size_t stored;		/* request head and body bytes stored */
	uint64_t unstored;	/* requests stored without them (LOAD_MAX_STORED) */
	uint64_t unstored_resp;	/* response heads not stored (the same) */
};

/* Request heads and bodies stored in all (the rest of each request is). */
#define LOAD_MAX_STORED ((size_t)256 << 20)

/* Count one request or call in its groups (main thread). */
static void count_row(struct loader *l, struct stats *by_name, const struct stats_key *k,
		      struct stats *by_proc, uint32_t file_idx, uint32_t pid, uint32_t flags,
		      uint64_t start, uint64_t end)
{
	struct stats_key pk = { .i = (int64_t)file_idx << 32 | pid };
	int error = !!(flags & (HTC_ENGF_ERROR | HTC_ENGF_UNANSWERED));
	/* the same value as the duration_ms column computes: the times are
	 * stored as signed 64-bit (0 as NULL), and SQLite subtracts as
	 * doubles when the integers would overflow */
	int64_t s = (int64_t)start, e = (int64_t)end, d;
	int has_ms = start && end && e >= s;
	double ms = !has_ms ? 0 : __builtin_sub_overflow(e, s, &d) ? ((double)e - (double)s) / 1e6 :
		    (double)d / 1e6;

	if ((stats_add(by_name, k, error, has_ms ? &ms : NULL) ||
	     stats_add(by_proc, &pk, 0, NULL)) && !l->err) {
		fprintf(stderr, "httpanalyze: out of memory counting endpoints\n");
		l->err = -ENOMEM;
	}
}

/* Note that process (file_idx, pid) answered on server port port (0: it
 * was seen, as a client or without a known port). */
static void note_port(struct loader *l, uint32_t file_idx, uint32_t pid, const char *comm,
		      unsigned port)
{
	struct port_seen *slot = &l->port_seen[mix64((uint64_t)file_idx << 32 ^ pid ^
						  (uint64_t)port << 48) & (LOAD_PORT_CACHE - 1)];
	char num[8];
	int n;
	struct stats_key k = {
		.s = { num, comm },
		.n = { 0, strnlen(comm, HTC_COMM_LEN) },
		.i = (int64_t)file_idx << 32 | pid,
	};

	/* the same few (process, port) pairs over and over: a direct-mapped
	 * cache of those already counted saves the table lookup (half a
	 * million rows of the bench capture: 3.6% of the load's CPU went to
	 * the lookups) */
	if (slot->used && slot->file_idx == file_idx && slot->pid == pid && slot->port == port)
		return;
	*slot = (struct port_seen){ .file_idx = file_idx, .pid = pid, .port = port, .used = 1 };
	n = port ? snprintf(num, sizeof(num), "%u", port) : 0;
	k.n[0] = (size_t)n;
	if (stats_add(l->ports, &k, 0, NULL) && !l->err) {
		fprintf(stderr, "httpanalyze: out of memory counting services\n");
		l->err = -ENOMEM;
	}
}

static void sql_fail(struct loader *l, const char *what)
{
	if (!l->err) {
		fprintf(stderr, "httpanalyze: sqlite: inserting %s: %s\n", what,
			sqlite3_errmsg(l->db));
		l->err = -EIO;
	}
}

static void step(struct loader *l, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		sql_fail(l, what);
	sqlite3_reset(st);
}

static void bind_ns(sqlite3_stmt *st, int i, uint64_t ns)
{
	if (ns)
		sqlite3_bind_int64(st, i, (sqlite3_int64)ns);
	else
		sqlite3_bind_null(st, i);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static const char *host_of(struct loader *l, uint32_t file_idx)
{
	return file_idx < l->nfiles ? l->files[file_idx].host : "?";
}

static void on_conn(void *ctx, const struct htc_eng_conn *c)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_CONN);
	char lip[64], rip[64];

	fmt_ip(lip, sizeof(lip), c->ep.family, c->ep.laddr);
	fmt_ip(rip, sizeof(rip), c->ep.family, c->ep.raddr);
	rq_int(q, (sqlite3_int64)c->id);
	rq_int(q, c->file_idx);
	rq_int(q, (sqlite3_int64)c->conn_id);
	rq_str(q, host_of(l, c->file_idx));
	rq_int(q, c->pid);
	rq_int(q, c->tid);
	rq_text(q, c->comm, (int)strnlen(c->comm, HTC_COMM_LEN));
	rq_str(q, role_name(c->ep.role));
	rq_text(q, lip, -1);
	rq_int(q, c->ep.lport);
	rq_text(q, rip, -1);
	rq_int(q, c->ep.rport);
	rq_str(q, htc_proto_name(c->proto));
	rq_int(q, c->connect_result);
	rq_ns(q, c->open_ns);
	rq_ns(q, c->close_ns);
	if (c->connect_ns)
		rq_double(q, (double)c->connect_ns / 1e6);
	else
		rq_null(q);
	rq_int(q, (sqlite3_int64)c->bytes_in);
	rq_int(q, (sqlite3_int64)c->bytes_out);
	rq_int(q, (sqlite3_int64)c->unseen_in);
	if (c->flags2 & HTC_ENGF2_SEQ_IN)
		rq_int(q, c->seq_in);
	else
		rq_null(q);
	if (c->flags2 & HTC_ENGF2_SEQ_OUT)
		rq_int(q, c->seq_out);
	else
		rq_null(q);
	rq_ns(q, c->request_id);
	rq_int(q, c->flags);
	rq_str(q, htc_tls_name(c->tls));
	rq_end(q);
	l->st.conns++;
	if (c->ep.role == HTC_ROLE_SERVER)
		note_port(l, c->file_idx, c->pid, c->comm, c->ep.lport);
	if ((c->flags & HTC_ENGF_PREEXISTING) && c->file_idx < l->nfiles) {
		l->files[c->file_idx].joined++;
		l->files[c->file_idx].unseen += c->unseen_in;
	}
}

/* The HTTP/2 and gRPC columns of a request or call: NULL where they do
 * not apply. */
static void put_h2(struct rowq *q, unsigned proto, uint32_t sid, uint32_t unresolved, int gstatus,
		   const char *gmsg, uint32_t req_msgs, uint32_t resp_msgs)
{
	int h2 = proto == HTC_PROTO_HTTP2 || proto == HTC_PROTO_GRPC;
	int grpc = proto == HTC_PROTO_GRPC;

	if (h2) {
		rq_int(q, sid);
		rq_int(q, unresolved);
	} else {
		rq_null(q);
		rq_null(q);
	}
	if (grpc && gstatus >= 0) {
		rq_int(q, gstatus);
		rq_str(q, gmsg && gmsg[0] ? gmsg : NULL);
	} else {
		rq_null(q);
		rq_null(q);
	}
	if (grpc) {
		rq_int(q, req_msgs);
		rq_int(q, resp_msgs);
	} else {
		rq_null(q);
		rq_null(q);
	}
}

/* A response head (resp_head column), within the LOAD_MAX_STORED bytes
 * of heads and bodies stored in all; NULL when none or beyond them. */
static void put_resp_head(struct loader *l, struct rowq *q, const uint8_t *h, size_t n)
{
	if (!n || !h) {
		rq_null(q);
	} else if (n <= LOAD_MAX_STORED - l->stored) {
		l->stored += n;
		rq_blob(q, h, (int)n);
	} else {
		l->unstored_resp++;
		rq_null(q);
	}
}

static int64_t dur_of(uint64_t start, uint64_t end)
{
	return start && end >= start ? (int64_t)(end - start) : -1;
}

/* The linked latencies of a request and its call, server and client (ns,
 * -1 unknown), counted under the request's endpoint group ep. */
static void count_linked(struct loader *l, const struct stats_key *ep, int64_t srv, int64_t cli,
			 uint64_t request_id)
{
	double a = (double)srv / 1e6, b = (double)cli / 1e6;

	if (srv < 0 || cli < 0 || !ep)
		return;
	/* in lockstep: the two tables have the same groups in the same order */
	if (stats_add(l->lk_srv, ep, 0, &a) || stats_add(l->lk_cli, ep, 0, &b))
		goto oom;
	if (l->opts->want_linked) {
		if (l->nlinked == l->caplinked) {
			size_t cap = l->caplinked ? l->caplinked * 2 : 256;
			int64_t *nv = realloc(l->linked, cap * sizeof(*nv));

			if (!nv)
				goto oom;
			l->linked = nv;
			l->caplinked = cap;
		}
		l->linked[l->nlinked++] = (int64_t)request_id;
	}
	return;
oom:
	if (!l->err) {
		fprintf(stderr, "httpanalyze: out of memory counting latencies\n");
		l->err = -ENOMEM;
	}
}

/* A latency known after its row went to the rows thread: by primary key. */
static void patch_latency(struct loader *l, int what, uint64_t id, int64_t ns)
{
	struct rowq *q;

	if (ns < 0)
		return;
	q = rq_begin(&l->rq, what);
	rq_int(q, ns);
	rq_int(q, (sqlite3_int64)id);
	rq_end(q);
}

static void pend_oom(struct loader *l)
{
	if (!l->err) {
		fprintf(stderr, "httpanalyze: out of memory linking latencies\n");
		l->err = -ENOMEM;
	}
}

/* The trace id a request carries, lowercase hex, into out (33 bytes):
 * traceparent's (version-traceid-parentid-flags), else X-B3-TraceId's or
 * b3's first field.  0 when none. */
static int trace_id_of(const struct htc_eng_request *r, char out[33])
{
	int found = 0;

	for (size_t i = 0; i < r->nheaders; i++) {
		const struct htc_eng_header *h = &r->headers[i];
		const char *v = h->value;
		size_t n = h->value_len, s = 0, e;
		int tp = h->name_len == 11 && !strncasecmp(h->name, "traceparent", 11);
		int b3 = (h->name_len == 12 && !strncasecmp(h->name, "x-b3-traceid", 12)) ||
			 (h->name_len == 2 && !strncasecmp(h->name, "b3", 2));

		if (!tp && !(b3 && found < 1))
			continue;
		while (s < n && (v[s] == ' ' || v[s] == '\t'))
			s++;
		if (tp) {
			/* 2 hex digits of version, a dash, 32 of trace id */
			if (n - s < 36 || v[s + 2] != '-')
				continue;
			s += 3;
			e = s + 32;
		} else {
			for (e = s; e < n && e - s < 32 && isxdigit((unsigned char)v[e]); e++)
				;
			if (e - s != 16 && e - s != 32)
				continue;
		}
		for (size_t j = s; j < e; j++) {
			if (!isxdigit((unsigned char)v[j]))
				goto next;
			out[j - s] = (char)tolower((unsigned char)v[j]);
		}
		out[e - s] = 0;
		if (tp)
			return 1;
		found = 1;
next:;
	}
	return found;
}

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_REQ);
	char cip[64], sip[64], ep[512], hash[24], trace[33];
	struct pend *pc, *pr = NULL;
	int64_t dur, cli = -1;
	int late_call = 0;

	fmt_ip(sip, sizeof(sip), r->ep.family, r->ep.laddr);
	fmt_ip(cip, sizeof(cip), r->ep.family, r->ep.raddr);
	if (r->proto == HTC_PROTO_GRPC && r->path[0] == '/' && r->path[1])
		snprintf(ep, sizeof(ep), "%s", r->path + 1);	/* package.Service/Method */
	else
		db_endpoint(ep, sizeof(ep), r->method, r->path);
	rq_int(q, (sqlite3_int64)r->id);
	if (r->parent_call_id) {
		rq_ns(q, r->parent_id);
		rq_int(q, (sqlite3_int64)r->parent_call_id);
		rq_int(q, !!(r->flags & HTC_ENGF_PARENT_GUESS));
		rq_str(q, htc_evidence_name(r->parent_evidence));
	} else {
		rq_null(q);
		rq_null(q);
		rq_null(q);
		rq_null(q);
	}
	if (trace_id_of(r, trace))
		rq_text(q, trace, -1);
	else
		rq_null(q);
	rq_int(q, r->file_idx);
	rq_str(q, host_of(l, r->file_idx));
	rq_int(q, (sqlite3_int64)r->conn);
	rq_int(q, r->seq);
	rq_int(q, r->pid);
	rq_int(q, r->tid);
	rq_text(q, r->comm, (int)strnlen(r->comm, HTC_COMM_LEN));
	rq_text(q, cip, -1);
	rq_int(q, r->ep.rport);
	rq_text(q, sip, -1);
	rq_int(q, r->ep.lport);
	rq_str(q, r->method);
	rq_str(q, r->path);
	rq_str(q, r->version);
	rq_str(q, r->host ? r->host : "");
	rq_text(q, ep, -1);
	if (r->status)
		rq_int(q, r->status);
	else
		rq_null(q);
	rq_ns(q, r->start_ns);
	rq_ns(q, r->end_ns);
	rq_int(q, (sqlite3_int64)r->req_bytes);
	rq_int(q, (sqlite3_int64)r->resp_bytes);
	rq_int(q, r->ncalls);
	rq_int(q, r->flags);
	if (r->flags & HTC_ENGF_RESP_LEN_UNKNOWN)
		rq_null(q);
	else
		rq_int(q, (sqlite3_int64)r->resp_body_len);
	if (r->status && !(r->flags & HTC_ENGF_RESP_BODY_PARTIAL)) {
		/* "%016llx" by hand (per row) */
		for (int i = 0; i < 16; i++)
			hash[i] = "0123456789abcdef"[r->resp_body_hash >> (60 - 4 * i) & 0xf];
		rq_text(q, hash, 16);
	} else {
		rq_null(q);
	}
	/* heads and bodies are the bulk of what a capture can inflate to:
	 * stored up to LOAD_MAX_STORED bytes in all, then NULL (counted) */
	if (r->head_len + r->body_len <= LOAD_MAX_STORED - l->stored) {
		l->stored += r->head_len + r->body_len;
		rq_blob(q, r->head ? (const void *)r->head : "", (int)r->head_len);
		if (r->body_len)
			rq_blob(q, r->body, (int)r->body_len);
		else
			rq_null(q);
	} else {
		l->unstored++;
		rq_null(q);
		rq_null(q);
	}
	rq_str(q, htc_proto_name(r->proto ? r->proto : HTC_PROTO_HTTP));
	put_h2(q, r->proto, r->stream_id, r->unresolved, r->grpc_status, r->grpc_message, r->req_msgs,
	       r->resp_msgs);
	put_resp_head(l, q, r->resp_head, r->resp_head_len);
	/* client_latency_ns: the linked call's, if it was reported first;
	 * else a slot its report fills (struct pend) */
	dur = dur_of(r->start_ns, r->end_ns);
	if (r->parent_call_id && (pc = pend_find(&l->pcall, r->parent_call_id))) {
		cli = pc->dur;
		if (cli >= 0)
			rq_int(q, cli);
		else
			rq_null(q);
		pend_del(&l->pcall, pc);
		late_call = 1;
	} else if (r->parent_call_id) {
		struct rq_slot slot;

		rq_null_slot(q, &slot);
		if ((pr = pend_add(&l->preq, r->id))) {
			pr->dur = dur;
			pr->slot = slot;
		} else {
			pend_oom(l);
		}
	} else {
		rq_null(q);
	}
	rq_str(q, htc_tls_name(r->tls));
	rq_end(q);
	if (late_call)
		patch_latency(l, RQ_LAT_CALL, r->parent_call_id, dur);
	l->st.requests++;
	{
		const char *host = host_of(l, r->file_idx);
		/* per process: merged by service name at the end (insert_stats) */
		struct stats_key k = {
			.s = { host, r->comm, ep },
			.n = { strlen(host), strnlen(r->comm, HTC_COMM_LEN), strlen(ep) },
			.i = (int64_t)r->file_idx << 32 | r->pid,
		};

		note_port(l, r->file_idx, r->pid, r->comm, r->ep.lport);
		count_row(l, l->ep_stats, &k, l->preq_stats, r->file_idx, r->pid, r->flags,
			  r->start_ns, r->end_ns);
		if (pr)
			pr->ep = stats_last(l->ep_stats);
		if (late_call)
			count_linked(l, &k, dur, cli, r->id);
	}
}

static void on_call(void *ctx, const struct htc_eng_call *c)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_CALL);
	char lip[64], rip[64], name[256];
	struct pend *pr = NULL, *pc;
	int64_t cdur;

	fmt_ip(lip, sizeof(lip), c->ep.family, c->ep.laddr);
	fmt_ip(rip, sizeof(rip), c->ep.family, c->ep.raddr);
	call_name(name, sizeof(name), c->proto, c->summary);
	rq_int(q, (sqlite3_int64)c->id);
	rq_ns(q, c->request_id);
	rq_ns(q, c->child_request_id);
	rq_int(q, c->file_idx);
	rq_str(q, host_of(l, c->file_idx));
	rq_int(q, (sqlite3_int64)c->conn);
	rq_int(q, c->seq);
	rq_int(q, c->pid);
	rq_int(q, c->tid);
	rq_text(q, c->comm, (int)strnlen(c->comm, HTC_COMM_LEN));
	rq_str(q, htc_proto_name(c->proto));
	rq_text(q, lip, -1);
	rq_int(q, c->ep.lport);
	rq_text(q, rip, -1);
	rq_int(q, c->ep.rport);
	rq_str(q, c->summary ? c->summary : "");
	rq_text(q, name, -1);
	if (c->status)
		rq_int(q, c->status);
	else
		rq_null(q);
	rq_ns(q, c->start_ns);
	rq_ns(q, c->end_ns);
	rq_int(q, (sqlite3_int64)c->bytes_out);
	rq_int(q, (sqlite3_int64)c->bytes_in);
	rq_int(q, c->flags);
	rq_str(q, htc_evidence_name(c->evidence));
	put_h2(q, c->proto, c->stream_id, c->unresolved, c->grpc_status, c->grpc_message, c->req_msgs,
	       c->resp_msgs);
	put_resp_head(l, q, c->resp_head, c->resp_head_len);
	/* server_latency_ns: the linked request's, reported first as a rule
	 * (struct pend); else kept for its report */
	cdur = dur_of(c->start_ns, c->end_ns);
	if (c->child_request_id && (pr = pend_find(&l->preq, c->child_request_id))) {
		if (pr->dur >= 0)
			rq_int(q, pr->dur);
		else
			rq_null(q);
	} else if (c->child_request_id) {
		rq_null(q);
		if ((pc = pend_add(&l->pcall, c->id)))
			pc->dur = cdur;
		else
			pend_oom(l);
	} else {
		rq_null(q);
	}
	rq_str(q, htc_tls_name(c->tls));
	rq_end(q);
	if (pr) {
		/* the request's slot, or its row by key if already handed over */
		if (cdur >= 0 && rq_slot_set(&l->rq, &pr->slot, cdur))
			patch_latency(l, RQ_LAT_REQ, c->child_request_id, cdur);
		count_linked(l, pr->ep ? &pr->ep->key : NULL, pr->dur, cdur, c->child_request_id);
		pend_del(&l->preq, pr);
	}
	l->st.calls++;
	{
		const char *proto = htc_proto_name(c->proto);
		struct stats_key k = {
			.s = { proto, rip, name },
			.n = { strlen(proto), strlen(rip), strlen(name) },
			.i = c->ep.rport,
		};

		count_row(l, l->ds_stats, &k, l->pcall_stats, c->file_idx, c->pid, c->flags,
			  c->start_ns, c->end_ns);
		note_port(l, c->file_idx, c->pid, c->comm, 0);
	}
}

/*
 * Most links are known when the second of the pair is reported, and both
 * rows already carry them (requests.parent_*, calls.child_request_id).
 * Only a side reported before its peer was seen (clock skew between hosts)
 * is patched here, by primary key, on the rows thread after its insert.
 */
static void on_link(void *ctx, uint64_t call_id, uint64_t child_id, uint64_t parent_id,
		    unsigned flags)
{
	struct loader *l = ctx;
	struct rowq *q;
	struct pend *e;

	if (flags & (HTC_LINK_LATE_REQUEST | HTC_LINK_LATE_CALL)) {
		/* one side went without the link: both rows are patched below
		 * (their latencies by subqueries on the other's key) */
		if ((e = pend_find(&l->preq, child_id)))
			pend_del(&l->preq, e);
		if ((e = pend_find(&l->pcall, call_id)))
			pend_del(&l->pcall, e);
		flags |= HTC_LINK_LATE_REQUEST | HTC_LINK_LATE_CALL;
	}
	if (flags & HTC_LINK_LATE_REQUEST) {
		q = rq_begin(&l->rq, RQ_LINK_REQ);
		rq_ns(q, parent_id);
		rq_int(q, (sqlite3_int64)call_id);
		rq_int(q, !!(flags & HTC_LINK_PARENT_GUESS));
		rq_str(q, htc_evidence_name(HTC_LINK_EVIDENCE(flags)));
		rq_int(q, (sqlite3_int64)child_id);
		rq_end(q);
	}
	if (flags & HTC_LINK_LATE_CALL) {
		q = rq_begin(&l->rq, RQ_LINK_CALL);
		rq_int(q, (sqlite3_int64)child_id);
		rq_int(q, (sqlite3_int64)call_id);
		rq_end(q);
	}
	l->st.links++;
}

static const char sql_ins_req[] =
	"INSERT INTO requests (request_id, parent_request_id, parent_call_id, parent_ambiguous, parent_evidence, trace_id, file_idx, host, conn, seq, pid, tid, comm,"
	" client_ip, client_port, server_ip, server_port, method, path, version,"
	" host_header, endpoint, status, start_ns, end_ns, req_bytes,"
	" resp_bytes, ncalls, flags, resp_body_len, resp_body_hash, head, body, protocol, stream_id,"
	" unresolved, grpc_status, grpc_message, req_messages, resp_messages, resp_head,"
	" client_latency_ns, tls)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_call[] =
	"INSERT INTO calls (call_id, request_id, child_request_id, file_idx, host, conn, seq, pid, tid, comm,"
	" protocol, local_ip, local_port, remote_ip, remote_port, summary, name, status,"
	" start_ns, end_ns, bytes_out, bytes_in, flags, evidence, stream_id, unresolved, grpc_status,"
	" grpc_message, req_messages, resp_messages, resp_head, server_latency_ns, tls)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_conn[] =
	"INSERT INTO connections (conn, file_idx, conn_id, host, pid, tid, comm, role,"
	" local_ip, local_port, remote_ip, remote_port, protocol, connect_result, open_ns,"
	" close_ns, connect_ms, bytes_in, bytes_out, unseen_in, seq_in, seq_out, request_id, flags, tls)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
/* Why each TLS connection stayed encrypted, once every row is in: from
 * its file (captured without the probes?) and its process (did it
 * decrypt any other connection?). */
static const char sql_tls_reason[] =
	"UPDATE connections SET tls_reason = CASE"
	" WHEN (SELECT f.format_version IN ('1.0', '1.1') OR f.options LIKE '%' || char(10) || 'tls=0' || char(10) || '%'"
	"       FROM files f WHERE f.file_idx = connections.file_idx) THEN 'not probed'"
	" WHEN EXISTS (SELECT 1 FROM connections d WHERE d.file_idx = connections.file_idx"
	"       AND d.pid = connections.pid AND d.tls IN ('openssl', 'gnutls', 'go')) THEN 'calls not seen'"
	" ELSE 'no probed library' END"
	" WHERE tls = 'encrypted'";
static const char sql_ins_proc[] =
	"INSERT OR REPLACE INTO processes (file_idx, host, pid, ppid, uid, gid, comm, exe,"
	" cmdline, cgroup, container, seen_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_link_req[] =
	"UPDATE requests SET parent_request_id = ?1, parent_call_id = ?2, parent_ambiguous = ?3,"
	" parent_evidence = ?4, client_latency_ns = (SELECT c.end_ns - c.start_ns FROM calls c"
	" WHERE c.call_id = ?2 AND c.end_ns >= c.start_ns) WHERE request_id = ?5";
static const char sql_link_call[] =
	"UPDATE calls SET child_request_id = ?1, server_latency_ns = (SELECT r.end_ns - r.start_ns"
	" FROM requests r WHERE r.request_id = ?1 AND r.end_ns >= r.start_ns) WHERE call_id = ?2";
static const char sql_lat_req[] =
	"UPDATE requests SET client_latency_ns = ? WHERE request_id = ?";
static const char sql_lat_call[] =
	"UPDATE calls SET server_latency_ns = ? WHERE call_id = ?";

static void insert_event(struct loader *l, uint32_t fidx, const struct htc_event *ev,
			 uint64_t request_id)
{
	struct evq *q = l->evq;
	struct evrow tmp, *r = &tmp;
	uint32_t plen = ev->cap_len;

	if (l->scan) {
		l->st.events++;
		return;
	}
	if (plen > l->opts->payload_cap)
		plen = l->opts->payload_cap;
	if (!ev->payload)
		plen = 0;
	if (q)
		r = evq_row(q, ev->payload, plen);
	r->fidx = fidx;
	r->ts = (int64_t)(ev->ts_ns + (uint64_t)l->files[fidx].offset);
	r->dur = (int64_t)ev->dur_ns;
	r->pid = ev->pid;
	r->tid = ev->tid;
	memcpy(r->comm, ev->comm, HTC_COMM_LEN);
	r->type = ev->type;
	r->syscall = ev->syscall;
	r->fd = ev->fd;
	r->conn_id = ev->conn_id;
	r->ret = ev->ret;
	r->stream_off = ev->stream_off;
	r->cap_len = ev->cap_len;
	r->plen = plen;
	r->flags = ev->flags;
	r->tcp_seq = ev->tcp_seq;
	r->request_id = request_id;
	l->st.events++;
	if (!q)
		rq_event(&l->rq, r, ev->payload);
}

static void insert_proc(struct loader *l, uint32_t fidx, const struct htc_proc *p)
{
	struct rowq *q = rq_begin(&l->rq, RQ_PROC);
	char cmd[4096];
	size_t n = p->cmdline_len < sizeof(cmd) - 1 ? p->cmdline_len : sizeof(cmd) - 1;

	/* argv is NUL-separated; spaces read better and survive TEXT */
	memcpy(cmd, p->cmdline ? p->cmdline : "", n);
	while (n && cmd[n - 1] == '\0')
		n--;
	for (size_t k = 0; k < n; k++)
		if (cmd[k] == '\0')
			cmd[k] = ' ';
	rq_int(q, fidx);
	rq_str(q, host_of(l, fidx));
	rq_int(q, p->pid);
	rq_int(q, p->ppid);
	rq_int(q, p->uid);
	rq_int(q, p->gid);
	rq_text(q, p->comm, (int)strnlen(p->comm, HTC_COMM_LEN));
	rq_text(q, p->exe ? p->exe : "", (int)p->exe_len);
	rq_text(q, cmd, (int)n);
	rq_text(q, p->cgroup ? p->cgroup : "", (int)p->cgroup_len);
	rq_text(q, p->container ? p->container : "", (int)p->container_len);
	rq_int(q, (sqlite3_int64)(p->ts_ns + (uint64_t)l->files[fidx].offset));
	rq_end(q);
	l->st.procs++;
}

/* A reader warning about one known file. */
static void on_file_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	struct lfile *f = ctx;

	f->l->st.warnings++;
	f->warned++;
	if (!f->l->opts->quiet)
		fprintf(stderr, "httpanalyze: warning: '%s': %s\n", f->path, msg);
}

static void on_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	struct loader *l = ctx;

	l->st.warnings++;
	/* with several files we cannot tell which one it was: none gets the
	 * fallback message of insert_file */
	for (size_t k = 0; k < l->nfiles; k++)
		l->files[k].warned = 1;
	if (l->opts->quiet)
		return;
	if (l->warn_file)
		fprintf(stderr, "httpanalyze: warning: '%s': %s\n", l->warn_file, msg);
	else
		fprintf(stderr, "httpanalyze: warning: %s\n", msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void progress(struct loader *l, struct htc_source *s, int done)
{
	uint64_t cur = 0, total = 0;
	int width = 40, fill;
	double frac;

	htc_source_progress(s, &cur, &total);
	frac = done ? 1.0 : total ? (double)cur / (double)total : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * width);
	fprintf(stderr, "\rloading [%.*s%*s] %3d%%  %llu events", fill,
		"########################################", width - fill, "",
		(int)(frac * 100), (unsigned long long)l->st.events);
	if (done)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int prepare(struct loader *l, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(l->db));
		return -EIO;
	}
	return 0;
}

/*
 * Loss counts come from the file: a corrupt or hostile one may say
 * anything (UINT64_MAX wrapped to "lost 11").  Counts saturate at
 * LOSS_MAX, far beyond any real capture's (2^48 events), so that the sums
 * over all slots and over the largest set of files stay within SQLite's
 * signed 64-bit integers.
 */
#define LOSS_MAX (1ULL << 48)

static uint64_t loss_add(uint64_t a, uint64_t b)
{
	if (a >= LOSS_MAX || b >= LOSS_MAX - a)
		return LOSS_MAX;
	return a + b;
}

/* Open each file alone first, so an error names the file it is about. */
static int check_file(const char *path, const char *name, struct htc_header *hdr)
{
	struct htc_reader *r;
	int err = 0;

	r = htc_capture_open(path, NULL, NULL, &err);	/* .htc, or pcap converted */
	if (!r) {
		if (err == HTC_ERR_MAGIC)
			fprintf(stderr, "httpanalyze: '%s': not an .htc capture file\n", name);
		else if (*htc_pcap_error())
			fprintf(stderr, "httpanalyze: '%s': %s\n", name, htc_pcap_error());
		else
			fprintf(stderr, "httpanalyze: cannot open '%s': %s\n", name,
				htc_strerror(err));
		return err ? err : -EINVAL;
	}
	*hdr = *htc_reader_header(r);
	htc_reader_close(r);
	return 0;
}

/* The same capture file given twice (or a copy of it): the same capture id,
 * host, start and size.  Its events would be counted twice: say so (the
 * rotated files of one capture share the id but not the start). */
static void warn_duplicates(const struct lfile *files, const struct htc_header *h,
			    const char *const *paths, size_t n, int quiet)
{
	for (size_t k = 1; k < n && !quiet; k++)
		for (size_t j = 0; j < k; j++) {
			struct stat a, b;

			if (!memcmp(h[k].capture_id, h[j].capture_id, sizeof(h[k].capture_id)) &&
			    h[k].start_ns == h[j].start_ns && !strcmp(h[k].hostname, h[j].hostname) &&
			    !stat(paths[k], &a) && !stat(paths[j], &b) && a.st_size == b.st_size) {
				fprintf(stderr, "httpanalyze: warning: '%s' is the same capture as '%s' "
					"(capture id, host, start and size): its events are counted twice\n",
					files[k].path, files[j].path);
				break;
			}
		}
}

/* ---- service names ---- */

/* Interpreters: their service is named by the script they run too. */
static int interpreter(const char *name, size_t n)
{
	static const char *const pre[] = {
		"python", "pypy", "node", "nodejs", "ruby", "perl", "php", "java", "lua", "luajit",
		"bun", "deno", "Rscript", "elixir", "erl", "beam.smp", "dotnet", "mono",
	};

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t m = strlen(pre[i]);

		/* python3, python3.11, php8.2: the name then a version */
		if (n >= m && !memcmp(name, pre[i], m) &&
		    (n == m || strspn(name + m, "0123456789.") == n - m))
			return 1;
	}
	return 0;
}

/* Options of the interpreters above whose value is the next argument. */
static int takes_value(const char *a)
{
	static const char *const opts[] = {
		"-W", "-X", "-Q", "-r", "--require", "--import", "--loader",
		"--experimental-loader", "-cp", "-classpath", "--class-path", "-p",
		"--module-path", "-I", "-d", "-S",
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(a, opts[i]))
			return 1;
	return 0;
}

int db_service_label(char *dst, size_t cap, const char *comm, const char *cmdline)
{
	const char *argv0, *script = NULL, *sp;
	char buf[4096], *save = NULL, *a;
	size_t n0;
	int n;

	/* the interpreter by argv[0]'s base name, else by the task name */
	snprintf(buf, sizeof(buf), "%s", cmdline ? cmdline : "");
	sp = strchr(buf, ' ');
	n0 = sp ? (size_t)(sp - buf) : strlen(buf);
	argv0 = memrchr(buf, '/', n0);
	argv0 = argv0 ? argv0 + 1 : buf;
	n0 -= (size_t)(argv0 - buf);
	if (interpreter(argv0, n0) || interpreter(comm, strlen(comm))) {
		a = strtok_r(buf, " ", &save);	/* argv[0] */
		while ((a = strtok_r(NULL, " ", &save))) {
			if (!strcmp(a, "-m") || !strcmp(a, "-jar") || !strcmp(a, "--module")) {
				script = strtok_r(NULL, " ", &save);	/* python -m MOD, java -jar FILE */
				break;
			}
			if (!strcmp(a, "-c") || !strcmp(a, "-e") || !strcmp(a, "--eval")) {
				script = a;	/* an inline program: the option says so */
				break;
			}
			if (a[0] != '-') {
				script = a;
				break;
			}
			if (takes_value(a) && !strtok_r(NULL, " ", &save))
				break;
		}
	}
	if (script) {
		const char *b = strrchr(script, '/');

		script = b && b[1] ? b + 1 : script;
		n = snprintf(dst, cap, "%s %s", comm, script);
	} else {
		n = snprintf(dst, cap, "%s", comm);
	}
	return n;
}

/* A process's service: key (file_idx << 32 | pid) and name. */
struct svc {
	int64_t key;
	char *name;
	char comm[HTC_COMM_LEN + 1];
	const char *host;
};

static int svc_cmp(const void *a, const void *b)
{
	const struct svc *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static int port_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Port groups by process, then first appearance (so a process's task
 * name is the first one seen: the order of the groups table). */
static int group_key_cmp(const void *a, const void *b)
{
	const struct stats_group *x = *(const struct stats_group *const *)a;
	const struct stats_group *y = *(const struct stats_group *const *)b;

	if (x->key.i != y->key.i)
		return (x->key.i > y->key.i) - (x->key.i < y->key.i);
	return (x > y) - (x < y);
}

static const struct svc *svc_find(const struct svc *v, size_t n, int64_t key)
{
	struct svc k = { .key = key };

	return bsearch(&k, v, n, sizeof(*v), svc_cmp);
}

/* At most this many ports in a service's name, then ",+N" */
#define SVC_MAX_PORTS 8

/*
 * The services table: one row per process that served or made a request,
 * named "LABEL[:PORT,...]@HOST" (see db_service_label and the README's
 * "Service names"), from the ports and task names counted during the load
 * and the processes table.  *out (OUT, sorted by key) is for the merge of
 * the endpoint statistics; the caller frees it (svc_free).
 */
static int build_services(struct loader *l, struct svc **out, size_t *nout)
{
	size_t ng = stats_count(l->ports), n = 0;
	struct svc *v = calloc(ng ? ng : 1, sizeof(*v));
	int *ports = calloc(ng ? ng : 1, sizeof(*ports));
	sqlite3_stmt *pq = NULL, *ins = NULL;
	int err = 0;

	if (!v || !ports) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* the groups sorted by process, so each process's ports are a run */
	{
		struct stats_group **gs = calloc(ng ? ng : 1, sizeof(*gs));

		if (!gs) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (size_t i = 0; i < ng; i++)
			gs[i] = stats_group(l->ports, i);
		qsort(gs, ng, sizeof(*gs), group_key_cmp);
		if ((err = prepare(l, "SELECT comm, cmdline FROM processes WHERE file_idx = ? AND pid = ?",
				   &pq)) ||
		    (err = prepare(l, "INSERT INTO services VALUES (?,?,?,?,?,?,?)", &ins))) {
			free(gs);
			goto cleanup;
		}
		for (size_t i = 0; i < ng && !err;) {
			int64_t key = gs[i]->key.i;
			uint32_t fidx = (uint32_t)(key >> 32), pid = (uint32_t)key;
			const char *comm = gs[i]->key.s[1], *cmdline = NULL;
			char label[512], plist[64], name[1024];	/* label, ports, @host (255) */
			size_t np = 0, pl = 0, j;

			for (j = i; j < ng && gs[j]->key.i == key; j++)
				if (gs[j]->key.n[0])
					ports[np++] = atoi(gs[j]->key.s[0]);
			qsort(ports, np, sizeof(*ports), port_cmp);
			plist[0] = 0;
			for (size_t k = 0, shown = 0; k < np; k++) {
				if (k && ports[k] == ports[k - 1])
					continue;
				if (shown == SVC_MAX_PORTS) {
					size_t more = 0;

					for (size_t m = k; m < np; m++)
						more += !(m && ports[m] == ports[m - 1]);
					pl += (size_t)snprintf(plist + pl, sizeof(plist) - pl, ",+%zu", more);
					break;
				}
				pl += (size_t)snprintf(plist + pl, sizeof(plist) - pl, "%s%d",
						       shown ? "," : "", ports[k]);
				shown++;
			}
			sqlite3_bind_int64(pq, 1, fidx);
			sqlite3_bind_int64(pq, 2, pid);
			if (sqlite3_step(pq) == SQLITE_ROW) {
				const char *pc = (const char *)sqlite3_column_text(pq, 0);

				if (pc && *pc)
					comm = pc;
				cmdline = (const char *)sqlite3_column_text(pq, 1);
			}
			v[n].key = key;
			snprintf(v[n].comm, sizeof(v[n].comm), "%s", comm);
			v[n].host = host_of(l, fidx);
			db_service_label(label, sizeof(label), v[n].comm, cmdline);
			snprintf(name, sizeof(name), "%s%s%s@%s", label, pl ? ":" : "", plist,
				 v[n].host);
			sqlite3_reset(pq);
			v[n].name = strdup(name);
			if (!v[n].name) {
				err = -ENOMEM;
				break;
			}
			sqlite3_bind_int64(ins, 1, fidx);
			sqlite3_bind_int64(ins, 2, pid);
			sqlite3_bind_text(ins, 3, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, v[n].host, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 5, v[n].comm, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 6, label, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 7, plist, pl ? (int)pl : -1, SQLITE_STATIC);
			step(l, ins, "service");
			err = l->err;
			n++;
			i = j;
		}
		free(gs);
	}
cleanup:
	sqlite3_finalize(pq);
	sqlite3_finalize(ins);
	free(ports);
	*out = v;
	*nout = n;
	return err;
}

static void svc_free(struct svc *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The rotated files of one capture (same capture id and host) are
 * numbered (format 1.2): a number missing between two given is a file
 * deleted or not given, whose events are not in the analysis (its
 * connections only show as gaps).  Files before the lowest number given
 * are not reported: a ring of -W files overwrites its oldest on purpose.
 */
static void warn_missing_files(const struct htc_header *h, size_t n, int quiet)
{
	uint32_t *seq;

	if (quiet || n < 2 || !(seq = malloc(n * sizeof(*seq))))
		return;
	for (size_t k = 0; k < n; k++) {
		size_t m = 0;
		int first = 1;
		char cid[40];

		if (!h[k].file_seq)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (memcmp(h[j].capture_id, h[k].capture_id, sizeof(h[k].capture_id)) ||
			    strcmp(h[j].hostname, h[k].hostname) || !h[j].file_seq)
				continue;
			if (j < k) {
				first = 0;	/* this capture was reported with file j */
				break;
			}
			seq[m++] = h[j].file_seq;
		}
		if (!first || m < 2)
			continue;
		qsort(seq, m, sizeof(*seq), cmp_u32);
		for (int j = 0; j < 16; j++)
			snprintf(cid + 2 * j, 3, "%02x", h[k].capture_id[j]);
		for (size_t j = 1; j < m; j++) {
			if (seq[j] <= seq[j - 1] + 1)
				continue;
			if (seq[j] == seq[j - 1] + 2)
				fprintf(stderr, "httpanalyze: warning: file %" PRIu32 " of capture %s (host '%s') "
					"is missing: its events are not in this analysis\n",
					seq[j - 1] + 1, cid, h[k].hostname);
			else
				fprintf(stderr, "httpanalyze: warning: files %" PRIu32 " to %" PRIu32
					" of capture %s (host '%s') are missing: their events are not in "
					"this analysis\n", seq[j - 1] + 1, seq[j] - 1, cid, h[k].hostname);
		}
	}
	free(seq);
}

/* Percentiles 50, 90, 99 of a group bound at st's parameters i.. (NULL
 * when no duration); the durations are reordered. */
static void bind_pcts(sqlite3_stmt *st, int i, struct stats_group *g)
{
	static const double p[3] = { 50, 90, 99 };
	double v[3];

	if (!g->nms) {
		for (int j = 0; j < 3; j++)
			sqlite3_bind_null(st, i + j);
		return;
	}
	stats_percentiles(g->ms, g->nms, p, 3, v);
	for (int j = 0; j < 3; j++)
		sqlite3_bind_double(st, i + j, v[j]);
}

/* linked_stats: the linked latencies counted per endpoint group, merged
 * per service as endpoint_stats. */
static int insert_linked(struct loader *l, const struct svc *svc, size_t nsvc)
{
	static const double p[2] = { 50, 99 };
	struct stats *ms = stats_new(), *mc = stats_new();
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (!ms || !mc) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < stats_count(l->lk_srv) && !err; i++) {
		struct stats_group *gs = stats_group(l->lk_srv, i), *gc = stats_group(l->lk_cli, i);
		const struct svc *v = svc_find(svc, nsvc, gs->key.i);
		const char *name = v ? v->name : "?";
		struct stats_key k = {
			.s = { name, gs->key.s[2] },
			.n = { strlen(name), gs->key.n[2] },
		};

		if (!gc || stats_merge(ms, &k, gs) || stats_merge(mc, &k, gc))
			err = -ENOMEM;
	}
	if (err || (err = prepare(l, "INSERT INTO linked_stats VALUES (?,?,?,?,?,?,?)", &st)))
		goto cleanup;
	for (size_t i = 0; i < stats_count(ms) && !err; i++) {
		struct stats_group *gs = stats_group(ms, i), *gc = stats_group(mc, i);
		double a[2], b[2];

		stats_percentiles(gs->ms, gs->nms, p, 2, a);
		stats_percentiles(gc->ms, gc->nms, p, 2, b);
		sqlite3_bind_text(st, 1, gs->key.s[0], (int)gs->key.n[0], SQLITE_STATIC);
		sqlite3_bind_text(st, 2, gs->key.s[1], (int)gs->key.n[1], SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)gs->nms);
		sqlite3_bind_double(st, 4, a[0]);
		sqlite3_bind_double(st, 5, b[0]);
		sqlite3_bind_double(st, 6, a[1]);
		sqlite3_bind_double(st, 7, b[1]);
		step(l, st, "statistics");
		err = l->err;
	}
cleanup:
	sqlite3_finalize(st);
	stats_free(ms);
	stats_free(mc);
	return err;
}

/* The *_stats tables from the groups counted during the load; the
 * endpoints, counted per process, merged per service (svc, sorted). */
static int insert_stats(struct loader *l, const struct svc *svc, size_t nsvc)
{
	static const char *const sql[] = {
		"INSERT INTO endpoint_stats VALUES (?,?,?,?,?,?,?,?,?)",
		"INSERT INTO downstream_stats VALUES (?,?,?,?,?,?,?,?,?)",
		"INSERT INTO process_stats VALUES (?,?,?,0)",
		"INSERT INTO process_stats VALUES (?,?,0,?)"
		" ON CONFLICT (file_idx, pid) DO UPDATE SET calls = excluded.calls",
	};
	struct stats *by_svc = stats_new();
	struct stats *t[] = { by_svc, l->ds_stats, l->preq_stats, l->pcall_stats };
	int err = 0;

	if (!by_svc)
		return -ENOMEM;
	/* key: service, endpoint, host, comm (the service's: the same for
	 * every process of it) */
	for (size_t i = 0; i < stats_count(l->ep_stats) && !err; i++) {
		struct stats_group *g = stats_group(l->ep_stats, i);
		const struct svc *v = svc_find(svc, nsvc, g->key.i);
		const char *name = v ? v->name : "?";
		const char *comm = v ? v->comm : g->key.s[1];
		struct stats_key k = {
			.s = { name, g->key.s[2], g->key.s[0], comm },
			.n = { strlen(name), g->key.n[2], g->key.n[0], strlen(comm) },
		};

		if (stats_merge(by_svc, &k, g))
			err = -ENOMEM;
	}
	for (size_t w = 0; w < sizeof(t) / sizeof(t[0]) && !err; w++) {
		sqlite3_stmt *st = NULL;

		if ((err = prepare(l, sql[w], &st)))
			break;
		for (size_t i = 0; i < stats_count(t[w]) && !err; i++) {
			struct stats_group *g = stats_group(t[w], i);
			int c = 1;

			if (w >= 2) {
				sqlite3_bind_int64(st, c++, g->key.i >> 32);
				sqlite3_bind_int64(st, c++, g->key.i & 0xffffffff);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->count);
			} else if (w == 0) {
				/* host, comm, endpoint, counts, percentiles, service */
				sqlite3_bind_text(st, c++, g->key.s[2], (int)g->key.n[2], SQLITE_STATIC);
				sqlite3_bind_text(st, c++, g->key.s[3], (int)g->key.n[3], SQLITE_STATIC);
				sqlite3_bind_text(st, c++, g->key.s[1], (int)g->key.n[1], SQLITE_STATIC);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->count);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->errors);
				bind_pcts(st, c, g);
				c += 3;
				sqlite3_bind_text(st, c++, g->key.s[0], (int)g->key.n[0], SQLITE_STATIC);
			} else {
				sqlite3_bind_text(st, c++, g->key.s[0], (int)g->key.n[0], SQLITE_STATIC);
				sqlite3_bind_text(st, c++, g->key.s[1], (int)g->key.n[1], SQLITE_STATIC);
				sqlite3_bind_int64(st, c++, g->key.i);
				sqlite3_bind_text(st, c++, g->key.s[2], (int)g->key.n[2], SQLITE_STATIC);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->count);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->errors);
				bind_pcts(st, c, g);
			}
			step(l, st, "statistics");
			err = l->err;
		}
		sqlite3_finalize(st);
	}
	stats_free(by_svc);
	if (!err)
		err = insert_linked(l, svc, nsvc);
	if (err == -ENOMEM)
		fprintf(stderr, "httpanalyze: out of memory counting endpoints\n");
	return err;
}

static int insert_file(struct loader *l, struct htc_source *s, size_t k)
{
	struct htc_reader *r = htc_source_reader(s, k);
	const struct htc_header *h = htc_reader_header(r);
	const struct htc_trailer *t = htc_reader_trailer(r);
	struct htc_reader_stats rs;
	struct lfile *f = &l->files[k];
	sqlite3_stmt *st = NULL, *ls = NULL;
	char cid[40], ver[32];
	uint64_t lost[HTC_LOSS_SLOTS], total = 0, other = 0;
	int i = 1, err = 0;

	htc_reader_stats(r, &rs);
	for (int j = 0; j < 16; j++)
		snprintf(cid + 2 * j, 3, "%02x", h->capture_id[j]);
	snprintf(ver, sizeof(ver), "%u.%u", h->version_major, h->version_minor);
	for (int j = 0; j < HTC_LOSS_SLOTS; j++) {
		lost[j] = loss_add(0, t ? t->lost[j] : f->lost[j]);
		total = loss_add(total, lost[j]);
		if (j >= HTC_LOSS__COUNT)
			other = loss_add(other, lost[j]);
	}
	if ((err = prepare(l, "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			   "?,?,?,?,?,?,?,?,?,?,?,?,?)", &st)) ||
	    (err = prepare(l, "INSERT INTO losses VALUES (?,?,?,?)", &ls)))
		goto cleanup;
	sqlite3_bind_int64(st, i++, (sqlite3_int64)k);
	bind_str(st, i++, f->path);
	bind_str(st, i++, h->hostname);
	bind_str(st, i++, h->kernel);
	bind_str(st, i++, h->tool_version);
	bind_str(st, i++, ver);
	bind_str(st, i++, cid);
	bind_ns(st, i++, h->start_ns ? h->start_ns + (uint64_t)h->realtime_offset_ns : 0);
	bind_ns(st, i++, t && t->end_ns ? t->end_ns + (uint64_t)h->realtime_offset_ns : f->last_ts);
	sqlite3_bind_int64(st, i++, h->realtime_offset_ns);
	sqlite3_bind_int64(st, i++, h->snaplen);
	sqlite3_bind_int(st, i++, !!(h->flags & HTC_OPT_REDACT));
	bind_str(st, i++, h->options);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.records);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)f->events);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.frames_ok);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.frames_bad);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.records_skipped);
	sqlite3_bind_int(st, i++, rs.truncated);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.stop_offset);
	sqlite3_bind_int(st, i++, t != NULL);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)total);
	for (int j = 0; j < HTC_LOSS__COUNT; j++)
		sqlite3_bind_int64(st, i++, (sqlite3_int64)lost[j]);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)other);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)f->joined);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)f->unseen);
	if (h->file_seq)
		sqlite3_bind_int64(st, i++, h->file_seq);
	else
		sqlite3_bind_null(st, i++);
	step(l, st, "file");
	for (int j = 0; j < HTC_LOSS_SLOTS; j++) {
		if (!lost[j])
			continue;
		sqlite3_bind_int64(ls, 1, (sqlite3_int64)k);
		sqlite3_bind_int(ls, 2, j);
		bind_str(ls, 3, htc_loss_reason_name((unsigned)j));
		sqlite3_bind_int64(ls, 4, (sqlite3_int64)lost[j]);
		step(l, ls, "loss");
	}
	/* a problem the reader did not report through the warn callback */
	if (!f->warned && (rs.truncated || rs.frames_bad || rs.frames_dup) && !l->opts->quiet) {
		if (rs.truncated)
			fprintf(stderr, "httpanalyze: warning: '%s': truncated file, stopped at "
				"offset %llu; loaded the %llu complete frames\n", f->path,
				(unsigned long long)rs.stop_offset,
				(unsigned long long)rs.frames_ok);
		if (rs.frames_bad)
			fprintf(stderr, "httpanalyze: warning: '%s': %llu corrupt frames skipped\n",
				f->path, (unsigned long long)rs.frames_bad);
		if (rs.frames_dup)
			fprintf(stderr, "httpanalyze: warning: '%s': %llu repeated frames skipped\n",
				f->path, (unsigned long long)rs.frames_dup);
	}
	err = l->err;
cleanup:
	sqlite3_finalize(st);
	sqlite3_finalize(ls);
	return err;
}

int db_load(sqlite3 *db, const char *const *paths, size_t n,
	    const struct db_load_opts *opts, struct db_load_stats *stats)
{
	struct htc_engine_sink sink = { 0 };
	struct loader l = { .db = db, .opts = opts };
	struct htc_engine *e = NULL;
	struct htc_source *s = NULL;
	struct htc_record rec;
	struct htc_eng_annot annot;
	struct htc_header *hdrs = NULL;
	struct svc *svc = NULL;
	size_t nsvc = 0;
	double t0 = now_s(), c0 = cpu_s(), last_draw = 0, t_load, t_index;
	double t_rows = 0, t_stats = 0;
	uint32_t fidx;
	unsigned want;
	int err = 0, rc, in_tx = 0;

	l.files = calloc(n ? n : 1, sizeof(*l.files));
	if (!l.files)
		return -ENOMEM;
	l.nfiles = n;
	hdrs = calloc(n ? n : 1, sizeof(*hdrs));
	if (!hdrs) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t k = 0; k < n; k++) {
		l.files[k].path = opts->names ? opts->names[k] : paths[k];
		if ((err = check_file(paths[k], l.files[k].path, &hdrs[k])))
			goto cleanup;
	}
	warn_duplicates(l.files, hdrs, paths, n, opts->quiet);
	warn_missing_files(hdrs, n, opts->quiet);
	free(hdrs);
	hdrs = NULL;
	if (n == 1)
		l.warn_file = l.files[0].path;
	l.ep_stats = stats_new();
	l.ds_stats = stats_new();
	l.preq_stats = stats_new();
	l.pcall_stats = stats_new();
	l.ports = stats_new();
	l.lk_srv = stats_new();
	l.lk_cli = stats_new();
	if (!l.ep_stats || !l.ds_stats || !l.preq_stats || !l.pcall_stats || !l.ports ||
	    !l.lk_srv || !l.lk_cli) {
		err = -ENOMEM;
		fprintf(stderr, "httpanalyze: out of memory\n");
		goto cleanup;
	}
	sink.ctx = &l;
	sink.on_conn = on_conn;
	sink.on_request = on_request;
	sink.on_call = on_call;
	sink.on_link = on_link;
	e = htc_engine_new(&sink);
	if (!e) {
		err = -errno;
		fprintf(stderr, "httpanalyze: cannot start the engine: %s\n", strerror(errno));
		goto cleanup;
	}
	s = htc_source_open(paths, n, e, on_warn, &l, &err);
	if (!s) {
		fprintf(stderr, "httpanalyze: cannot open the capture files: %s\n",
			htc_strerror(err));
		goto cleanup;
	}
	for (size_t k = 0; k < n; k++) {
		const struct htc_header *h = htc_reader_header(htc_source_reader(s, k));

		snprintf(l.files[k].host, sizeof(l.files[k].host), "%s", h->hostname);
		/* per-file callbacks, so each warning names its file */
		l.files[k].l = &l;
		htc_reader_set_warn(htc_source_reader(s, k), on_file_warn, &l.files[k]);
		l.files[k].offset = h->realtime_offset_ns;
	}
	/* events: scanned from the files (no copy), or copied; in memory the
	 * copy goes on its own thread and database (struct evq) */
	{
		const char *fn = sqlite3_db_filename(db, "main");
		int mem = !fn || !*fn;

		l.scan = opts->events == DB_EVENTS_SCAN ||
			 (opts->events == DB_EVENTS_AUTO && mem);
		if (!l.scan && mem)
			l.evq = evq_start(db);
		if (!l.scan && !l.evq && (err = db_exec(db, db_schema_events)))
			goto cleanup;
	}
	if ((!l.scan && !l.evq && (err = prepare(&l, db_sql_ins_event, &l.ev))) ||
	    (err = prepare(&l, sql_ins_req, &l.req)) ||
	    (err = prepare(&l, sql_ins_call, &l.call)) ||
	    (err = prepare(&l, sql_ins_conn, &l.conn)) ||
	    (err = prepare(&l, sql_ins_proc, &l.proc)) ||
	    (err = prepare(&l, sql_link_req, &l.link_req)) ||
	    (err = prepare(&l, sql_link_call, &l.link_call)) ||
	    (err = prepare(&l, sql_lat_req, &l.lat_req)) ||
	    (err = prepare(&l, sql_lat_call, &l.lat_call)))
		goto cleanup;
	if ((err = db_exec(db, "BEGIN")))
		goto cleanup;
	in_tx = 1;
	{
		sqlite3_stmt *sts[RQ__COUNT] = {
			[RQ_CONN] = l.conn, [RQ_REQ] = l.req, [RQ_CALL] = l.call,
			[RQ_PROC] = l.proc, [RQ_LINK_REQ] = l.link_req,
			[RQ_LINK_CALL] = l.link_call, [RQ_EVENT] = l.ev,
			[RQ_LAT_REQ] = l.lat_req, [RQ_LAT_CALL] = l.lat_call,
		};

		/* from here until rowq_stop, db is the rows thread's */
		if ((err = rowq_start(&l.rq, db, sts)))
			goto cleanup;
	}
	while ((rc = htc_source_next(s, &rec, &fidx)) > 0) {
		struct lfile *f = fidx < n ? &l.files[fidx] : NULL;

		if (!f)
			continue;
		l.st.records++;
		switch (rec.type) {
		case HTC_REC_DATA:
		case HTC_REC_CONN:
			annot.request_id = 0;
			if ((err = htc_engine_feed(e, fidx, &rec, &annot))) {
				fprintf(stderr, "httpanalyze: engine: %s\n", strerror(-err));
				goto cleanup;
			}
			insert_event(&l, fidx, &rec.ev, annot.request_id);
			f->events++;
			f->last_ts = rec.ev.ts_ns + (uint64_t)f->offset;
			break;
		case HTC_REC_PROC:
			insert_proc(&l, fidx, &rec.proc);
			break;
		case HTC_REC_LOSS: {
			unsigned j = rec.loss.reason < HTC_LOSS_SLOTS ? rec.loss.reason
								      : HTC_LOSS_SLOTS - 1;

			f->lost[j] = loss_add(f->lost[j], rec.loss.count);
			break;
		}
		default:
			break;
		}
		if (l.err) {
			err = l.err;
			goto cleanup;
		}
		if (opts->progress && !(l.st.records & 0xffff)) {
			double t = now_s();

			if (t - last_draw > 0.1) {
				progress(&l, s, 0);
				last_draw = t;
			}
		}
	}
	if (rc < 0) {
		err = rc;
		fprintf(stderr, "httpanalyze: reading the capture files: %s\n", htc_strerror(rc));
		goto cleanup;
	}
	if ((err = htc_engine_finish(e)) || (err = l.err)) {
		if (!l.err)
			fprintf(stderr, "httpanalyze: engine: %s\n", strerror(-err));
		goto cleanup;
	}
	if ((err = rowq_stop(&l.rq)))
		goto cleanup;
	t_rows = now_s();
	if ((err = build_services(&l, &svc, &nsvc)) || (err = insert_stats(&l, svc, nsvc)))
		goto cleanup;
	t_stats = now_s();
	for (size_t k = 0; k < n; k++)
		if ((err = insert_file(&l, s, k)))
			goto cleanup;
	if ((err = db_exec(db, sql_tls_reason)))
		goto cleanup;
	{
		struct htc_engine_stats est;

		htc_engine_stats(e, &est);
		if (l.unstored && !opts->quiet)
			fprintf(stderr, "httpanalyze: warning: %llu requests stored without their head "
				"and body: beyond %zu MiB of heads and bodies in all\n",
				(unsigned long long)l.unstored, LOAD_MAX_STORED >> 20);
		if (l.unstored_resp && !opts->quiet)
			fprintf(stderr, "httpanalyze: warning: %llu response heads not stored: beyond "
				"%zu MiB of heads and bodies in all\n",
				(unsigned long long)l.unstored_resp, LOAD_MAX_STORED >> 20);
		if (est.cut && !opts->quiet)
			fprintf(stderr, "httpanalyze: warning: %llu requests and calls not loaded: "
				"more than %d started by one system call (a flood of tiny "
				"messages)\n", (unsigned long long)est.cut, HTC_ENG_MAX_STARTS);
	}
	if (opts->progress)
		progress(&l, s, 1);
	if ((err = evq_stop(l.evq)))
		goto cleanup;
	if (l.scan) {
		const char *fn = sqlite3_db_filename(db, "main");

		/* in a kept file the table would be unreadable by the sqlite3
		 * CLI: it lives in temp, for this run only */
		err = db_events_vtab(db, fn && *fn ? "temp" : "main", db_schema_events, paths,
				     n, opts->payload_cap, l.st.events);
		if (err) {
			fprintf(stderr, "httpanalyze: sqlite: events table: %s\n",
				sqlite3_errmsg(db));
			goto cleanup;
		}
	}
	t_load = now_s();
	want = DB_INDEX_ALL & ~opts->skip_indexes;
	/* PRAGMA threads: SQLite's sorter builds each index with a helper
	 * thread (the rows thread is done by now) */
	if ((want && ((err = db_exec(db, "PRAGMA threads = 2")) || (err = db_create_indexes(db, want)))) ||
	    (err = db_exec(db, "COMMIT")))
		goto cleanup;
	in_tx = 0;
	t_index = now_s();
	/* statistics for the query planner from a sample: a full ANALYZE
	 * would cost as much as the load */
	if (want && (err = db_exec(db, "PRAGMA analysis_limit=1000; ANALYZE main")))
		goto cleanup;
	l.st.files = n;
	l.st.seconds = now_s() - t0;
	if (opts->verbose)
		fprintf(stderr, "httpanalyze: rows done at %.3f s, then services and statistics "
			"%.3f s\n", t_rows - t0, t_stats - t_rows);
	if (opts->verbose)
		fprintf(stderr, "httpanalyze: load %.3f s (rows thread cpu %.3f s), indexes %.3f s%s, "
			"analyze %.3f s\n", t_load - t0, l.rq.cpu_s, t_index - t_load,
			!want ? " (none needed)" : want != DB_INDEX_ALL ? " (those the command reads)" : "",
			now_s() - t_index);
	if (opts->verbose) {
		/* CPU time too: on a shared machine the wall clock says more
		 * about the neighbours than about us */
		double cpu = cpu_s() - c0;

		fprintf(stderr, "httpanalyze: loaded %llu events, %llu requests, %llu calls, "
			"%llu connections, %llu links from %zu files in %.3f s (%.0f events/s; "
			"cpu %.3f s, %.0f events/cpu-s)\n",
			(unsigned long long)l.st.events, (unsigned long long)l.st.requests,
			(unsigned long long)l.st.calls, (unsigned long long)l.st.conns,
			(unsigned long long)l.st.links, n, l.st.seconds,
			l.st.seconds > 0 ? (double)l.st.events / l.st.seconds : 0.0, cpu,
			cpu > 0 ? (double)l.st.events / cpu : 0.0);
	}
	{
		struct htc_engine_stats es;

		htc_engine_stats(e, &es);
		l.st.h2_fields = es.h2_fields;
		l.st.h2_unresolved = es.h2_unresolved;
	}
	if (opts->verbose && l.st.h2_fields)
		fprintf(stderr, "httpanalyze: HTTP/2 header fields %llu, resolved %llu (%.1f%%), "
			"unresolved %llu (their table entries predate the capture or a gap)\n",
			(unsigned long long)l.st.h2_fields,
			(unsigned long long)(l.st.h2_fields - l.st.h2_unresolved),
			100.0 * (double)(l.st.h2_fields - l.st.h2_unresolved) / (double)l.st.h2_fields,
			(unsigned long long)l.st.h2_unresolved);
	if (stats) {
		*stats = l.st;
		stats->linked = l.linked;
		stats->nlinked = l.nlinked;
		l.linked = NULL;
	}
cleanup:
	free(l.linked);
	free(hdrs);
	rowq_stop(&l.rq);
	evq_free(l.evq);
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(l.ev);
	sqlite3_finalize(l.req);
	sqlite3_finalize(l.call);
	sqlite3_finalize(l.conn);
	sqlite3_finalize(l.proc);
	sqlite3_finalize(l.link_req);
	sqlite3_finalize(l.link_call);
	sqlite3_finalize(l.lat_req);
	sqlite3_finalize(l.lat_call);
	free(l.preq.v);
	free(l.pcall.v);
	stats_free(l.lk_srv);
	stats_free(l.lk_cli);
	htc_source_close(s);
	htc_engine_free(e);
	stats_free(l.ep_stats);
	stats_free(l.ds_stats);
	stats_free(l.preq_stats);
	stats_free(l.pcall_stats);
	stats_free(l.ports);
	svc_free(svc, nsvc);
	free(l.files);
	return err;
}
