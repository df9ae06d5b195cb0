// SPDX-License-Identifier: MIT
/*
 * otlp.c - `httpanalyze export --otlp FILE|URL`: one SERVER span per
 * request and one CLIENT span per downstream call, in OTLP/JSON
 * (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding":
 * lowerCamelCase names, trace and span ids as hex, 64-bit integers as
 * decimal strings, enums as numbers), with the OpenTelemetry semantic
 * conventions' attribute names.
 *
 * Parents come from httpanalyze's links: a call's parent is the request
 * that made it, a request's parent the call that became it (another
 * process or host).  A trace is one tree of those links; its id is the
 * trace id of a propagated traceparent header when a request of the tree
 * carried one (the topmost such request: the spans then join the
 * application's own trace), else a hash of the tree's root and of the
 * loaded files' capture ids, so a re-export gives the same ids.
 *
 * Spans are streamed from two ordered queries (requests, then calls, each
 * by process) into batches of --batch spans; only the link tree (ids,
 * parents, trace contexts: a few dozen bytes per row) is held in memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "htc.h"
#include "htc_hash.h"
#include "otlp.h"
#include "output.h"

/* SpanKind and StatusCode of opentelemetry/proto/trace/v1/trace.proto */
#define KIND_SERVER 2
#define KIND_CLIENT 3
#define STATUS_ERROR 2

/* Links followed from a span to its trace's root: deeper is a loop or
 * nonsense, and the span becomes a root there. */
#define TREE_MAX_DEPTH 64
/* Strings longer than this are cut in attributes (a path, a query). */
#define ATTR_MAX 2048

/* ---- traceparent ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n lowercase hex digits at p into out (n / 2 bytes); -1 if any is not. */
static int unhex(const char *p, size_t n, uint8_t *out)
{
	int nz = 0;

	for (size_t i = 0; i < n; i += 2) {
		int a = hexval((unsigned char)p[i]), b = hexval((unsigned char)p[i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i / 2] = (uint8_t)(a << 4 | b);
		nz |= out[i / 2];
	}
	return nz ? 0 : -1;	/* all zeros: invalid per W3C Trace Context */
}

/* value: "00-<32 hex>-<16 hex>-<2 hex>" (a later version may append
 * "-..."; version ff is invalid) */
static int parse_tp_value(const char *v, size_t n, struct otlp_tp *tp)
{
	uint8_t ver, flags;

	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -ENOENT;
	if (hexval((unsigned char)v[0]) < 0 || hexval((unsigned char)v[1]) < 0 ||
	    hexval((unsigned char)v[53]) < 0 || hexval((unsigned char)v[54]) < 0)
		return -ENOENT;
	ver = (uint8_t)(hexval((unsigned char)v[0]) << 4 | hexval((unsigned char)v[1]));
	flags = (uint8_t)(hexval((unsigned char)v[53]) << 4 | hexval((unsigned char)v[54]));
	(void)flags;
	if (ver == 0xff || (ver == 0 && n != 55) || (n > 55 && v[55] != '-'))
		return -ENOENT;
	if (unhex(v + 3, 32, tp->trace) || unhex(v + 36, 16, tp->span))
		return -ENOENT;
	return 0;
}

int otlp_find_traceparent(const void *head, size_t len, struct otlp_tp *tp)
{
	static const char name[] = "traceparent:";
	const char *p = head, *end = p + len;

	if (!p)
		return -ENOENT;
	/* skip the start line; then one header per line */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (p != head && (size_t)(le - p) >= sizeof(name) - 1 &&
		    !strncasecmp(p, name, sizeof(name) - 1)) {
			const char *v = p + sizeof(name) - 1;
			size_t n = (size_t)(le - v);

			if (n && v[n - 1] == '\r')
				n--;
			/* the first one counts; a repeated header is ignored */
			return parse_tp_value(v, n, tp);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return -ENOENT;
}

/* ---- ids ---- */

void otlp_span_id(uint64_t salt, char kind, int64_t id, uint8_t out[8])
{
	uint64_t h = mix64(salt ^ mix64((uint64_t)id ^ ((uint64_t)(unsigned char)kind << 56)));

	if (!h)
		h = 1;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (56 - 8 * i));
}

void otlp_trace_id(uint64_t salt, char kind, int64_t id, uint8_t out[16])
{
	uint64_t a = mix64(~salt ^ mix64((uint64_t)id ^ ((uint64_t)(unsigned char)kind << 56)));
	uint64_t b = mix64(a ^ 0x9e3779b97f4a7c15ULL);

	if (!a && !b)
		b = 1;
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(a >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
	}
}

int otlp_is_url(const char *t)
{
	return !strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8);
}

/* ---- the link tree ---- */

struct node {
	int64_t id;
	int64_t up;		/* request: parent_call_id; call: request_id; 0 none */
	int64_t root;		/* resolved root: request idx + 1, or -(call idx + 1); 0 unset */
	int32_t best;		/* root only: request idx whose traceparent names the trace, -1 */
	uint16_t depth;		/* links from the root */
	uint16_t best_depth;
	uint8_t has_tp;
	struct otlp_tp tp;
};

struct tree {
	struct node *req, *call;	/* ordered by id */
	size_t nreq, ncall;
	uint64_t salt;
};

static struct node *find(struct node *v, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].id == id)
			return &v[mid];
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct node *ref_node(struct tree *t, int64_t ref)
{
	return ref > 0 ? &t->req[ref - 1] : &t->call[-ref - 1];
}

/* The parent of ref in the tree, or 0. */
static int64_t ref_up(struct tree *t, int64_t ref)
{
	struct node *n = ref_node(t, ref), *p;

	if (!n->up)
		return 0;
	if (ref > 0) {
		p = find(t->call, t->ncall, n->up);
		return p ? -(int64_t)(p - t->call) - 1 : 0;
	}
	p = find(t->req, t->nreq, n->up);
	return p ? (int64_t)(p - t->req) + 1 : 0;
}

static void resolve(struct tree *t, int64_t ref)
{
	int64_t path[TREE_MAX_DEPTH + 1], root, cur = ref;
	size_t n = 0;
	unsigned depth;

	for (;;) {
		struct node *nd = ref_node(t, cur);
		int64_t up;

		if (nd->root) {
			root = nd->root;
			depth = nd->depth;
			break;
		}
		up = n < TREE_MAX_DEPTH ? ref_up(t, cur) : 0;
		if (!up) {
			nd->root = root = cur;
			nd->depth = 0;
			depth = 0;
			break;
		}
		path[n++] = cur;
		cur = up;
	}
	while (n--) {
		struct node *nd = ref_node(t, path[n]);

		nd->root = root;
		nd->depth = (uint16_t)++depth;
	}
}

static int load_nodes(sqlite3 *db, const char *sql, struct node **out, size_t *nout, int heads)
{
	sqlite3_stmt *st = report_prep(db, sql);
	struct node *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct node *nd;

		if (n == cap) {
			struct node *nv;

			cap = cap ? cap * 2 : 1024;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				free(v);
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			v = nv;
		}
		nd = &v[n++];
		memset(nd, 0, sizeof(*nd));
		nd->id = sqlite3_column_int64(st, 0);
		nd->up = sqlite3_column_int64(st, 1);
		nd->best = -1;
		if (heads)
			nd->has_tp = !otlp_find_traceparent(sqlite3_column_blob(st, 2),
							    (size_t)sqlite3_column_bytes(st, 2), &nd->tp);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		free(v);
		sqlite3_finalize(st);
		return -EIO;
	}
	sqlite3_finalize(st);
	*out = v;
	*nout = n;
	return 0;
}

static int tree_build(sqlite3 *db, struct tree *t)
{
	sqlite3_stmt *st;
	int err;

	memset(t, 0, sizeof(*t));
	/* every row, filtered or not: a filtered request keeps its trace */
	err = load_nodes(db, "SELECT request_id, coalesce(parent_call_id, 0), head FROM requests"
			 " ORDER BY request_id", &t->req, &t->nreq, 1);
	if (!err)
		err = load_nodes(db, "SELECT call_id, coalesce(request_id, 0) FROM calls"
				 " ORDER BY call_id", &t->call, &t->ncall, 0);
	if (err)
		return err;
	for (size_t i = 0; i < t->nreq; i++)
		resolve(t, (int64_t)i + 1);
	for (size_t i = 0; i < t->ncall; i++)
		resolve(t, -(int64_t)i - 1);
	/* the topmost traceparent of each tree names its trace */
	for (size_t i = 0; i < t->nreq; i++) {
		struct node *nd = &t->req[i], *r;

		if (!nd->has_tp)
			continue;
		r = ref_node(t, nd->root);
		if (r->best < 0 || nd->depth < r->best_depth) {
			r->best = (int32_t)i;
			r->best_depth = nd->depth;
		}
	}
	/* the salt: the files' capture ids, in load order */
	t->salt = 0xcbf29ce484222325ULL;
	st = report_prep(db, "SELECT coalesce(capture_id, '') FROM files ORDER BY file_idx");
	if (!st)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW)
		t->salt = fnv1a64(t->salt, sqlite3_column_text(st, 0),
				  (size_t)sqlite3_column_bytes(st, 0) + 1);
	sqlite3_finalize(st);
	return 0;
}

static void tree_free(struct tree *t)
{
	free(t->req);
	free(t->call);
}

/* Trace id and parent span id (has_parent OUT) of the span at ref. */
static void span_ctx(struct tree *t, int64_t ref, uint8_t trace[16], uint8_t parent[8],
		     int *has_parent)
{
	struct node *nd = ref_node(t, ref), *root = ref_node(t, nd->root);
	int64_t up = ref_up(t, ref);

	if (root->best >= 0)
		memcpy(trace, t->req[root->best].tp.trace, 16);
	else
		otlp_trace_id(t->salt, nd->root > 0 ? 'r' : 'c', root->id, trace);
	*has_parent = 1;
	if (up && nd->depth)
		otlp_span_id(t->salt, up > 0 ? 'r' : 'c', ref_node(t, up)->id, parent);
	else if (root->best >= 0 && root->best_depth <= 1)
		/* the root joins the application's trace under the span that
		 * sent the context (its own request's, or its child's when the
		 * root is the client call that carried it) */
		memcpy(parent, t->req[root->best].tp.span, 8);
	else
		*has_parent = 0;
}

/* ---- JSON ---- */

static void jhex(FILE *f, const uint8_t *b, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	putc('"', f);
}

static void jtext(FILE *f, const void *p, size_t n)
{
	out_json_string(f, p ? p : "", p ? (n > ATTR_MAX ? ATTR_MAX : n) : 0);
}

struct attrs {
	FILE *f;
	int n;
};

static void akey(struct attrs *a, const char *k)
{
	fprintf(a->f, "%s{\"key\":\"%s\",\"value\":", a->n++ ? "," : "", k);
}

static void a_text(struct attrs *a, const char *k, const void *p, size_t n)
{
	akey(a, k);
	fputs("{\"stringValue\":", a->f);
	jtext(a->f, p, n);
	fputs("}}", a->f);
}

static void a_str(struct attrs *a, const char *k, const char *s)
{
	a_text(a, k, s, strlen(s));
}

static void a_col(struct attrs *a, const char *k, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return;
	a_text(a, k, sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
}

static void a_int(struct attrs *a, const char *k, int64_t v)
{
	akey(a, k);
	fprintf(a->f, "{\"intValue\":\"%" PRId64 "\"}}", v);
}

static void a_bool(struct attrs *a, const char *k)
{
	akey(a, k);
	fputs("{\"boolValue\":true}}", a->f);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/* ---- batches and where they go ---- */

struct sink {
	const struct otlp_opts *xo;
	FILE *file;		/* the file, or the caller's stream for "-" */
	CURL *curl;
	struct curl_slist *hdrs;
	char *url;
	char resp[1024];	/* start of the collector's answer */
	size_t resp_len;
	/* the batch being written */
	char *buf;
	size_t len;
	FILE *b;
	size_t nspans;		/* in the batch */
	size_t nres;		/* resources in the batch */
	int in_res;
	char res_key[1400];	/* host, pid, service (services.service: < 1024) of the open resource */
	/* counts */
	uint64_t batches, spans_sent, spans_rejected;
};

static size_t curl_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, room = sizeof(s->resp) - 1 - s->resp_len;

	memcpy(s->resp + s->resp_len, p, n < room ? n : room);
	s->resp_len += n < room ? n : room;
	s->resp[s->resp_len] = '\0';
	return n;
}

static int sink_open(struct sink *s, const struct otlp_opts *xo, FILE *out)
{
	memset(s, 0, sizeof(*s));
	s->xo = xo;
	if (!otlp_is_url(xo->target)) {
		s->file = strcmp(xo->target, "-") ? fopen(xo->target, "w") : out;
		if (!s->file) {
			fprintf(stderr, "httpanalyze: cannot create '%s': %s\n", xo->target,
				strerror(errno));
			return -EIO;
		}
		return 0;
	}
	{
		/* a URL with no path is a collector's base: the traces
		 * endpoint is /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT */
		const char *host = strstr(xo->target, "://") + 3;
		const char *path = strchr(host, '/');
		size_t n = strlen(xo->target);

		s->url = malloc(n + 16);
		if (!s->url)
			return -ENOMEM;
		memcpy(s->url, xo->target, n + 1);
		if (!path || !strcmp(path, "/"))
			strcpy(s->url + n, path ? "v1/traces" : "/v1/traces");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	s->curl = curl_easy_init();
	s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!s->curl || !s->hdrs)
		return -ENOMEM;
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, xo->timeout_s > 0 ? xo->timeout_s : 30L);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "httpanalyze/" HTC_TOOL_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, curl_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	return 0;
}

static int sink_close(struct sink *s)
{
	int err = 0;

	if (s->b)
		fclose(s->b);
	free(s->buf);
	if (s->file && strcmp(s->xo->target, "-") && fclose(s->file)) {
		fprintf(stderr, "httpanalyze: writing '%s': %s\n", s->xo->target, strerror(errno));
		err = -EIO;
	}
	if (s->curl) {
		curl_easy_cleanup(s->curl);
		curl_global_cleanup();
	}
	curl_slist_free_all(s->hdrs);
	free(s->url);
	return err;
}

/* The collector's answer, printable on a terminal, cut short. */
static void print_resp(struct sink *s)
{
	if (!s->resp_len)
		return;
	fputs(": ", stderr);
	out_term_escape(stderr, s->resp, s->resp_len > 300 ? 300 : s->resp_len);
}

/* What OTLP/HTTP says to retry (specification, "Failures"): no
 * connection, and the answers 429, 502, 503, 504; tried at most this often,
 * waiting 1 s, 2 s, ... or the server's Retry-After, at most RETRY_MAX_S. */
#define POST_TRIES 3
#define RETRY_MAX_S 10

static int retryable(CURLcode rc, long code)
{
	if (rc != CURLE_OK)
		return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
		       rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
	return code == 429 || code == 502 || code == 503 || code == 504;
}

static void pause_s(long s)
{
	struct timespec ts = { .tv_sec = s };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int sink_post(struct sink *s, const char *body, size_t len)
{
	long code = 0;
	CURLcode rc;
	int tries = 0;

	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	for (;;) {
		curl_off_t after = 0;

		s->resp_len = 0;
		s->resp[0] = '\0';
		code = 0;
		rc = curl_easy_perform(s->curl);
		tries++;
		if (rc == CURLE_OK)
			curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code >= 200 && code <= 299)
			break;
		if (!retryable(rc, code) || tries == POST_TRIES) {
			if (rc != CURLE_OK) {
				fprintf(stderr, "httpanalyze: export to '%s' failed: %s", s->url,
					curl_easy_strerror(rc));
			} else {
				fprintf(stderr, "httpanalyze: export to '%s' refused: HTTP %ld", s->url,
					code);
				print_resp(s);
			}
			if (tries > 1)
				fprintf(stderr, " (%d attempts)", tries);
			return -EIO;
		}
		if (rc == CURLE_OK)
			curl_easy_getinfo(s->curl, CURLINFO_RETRY_AFTER, &after);
		pause_s(after > 0 ? (after < RETRY_MAX_S ? (long)after : RETRY_MAX_S) :
				    1L << (tries - 1));
	}
	{
		/* a partial success names the spans the collector dropped */
		const char *r = strstr(s->resp, "\"rejectedSpans\"");

		if (r) {
			r += strlen("\"rejectedSpans\"");
			while (*r == ' ' || *r == ':' || *r == '"')
				r++;
			s->spans_rejected += strtoull(r, NULL, 10);
		}
	}
	return 0;
}

static void batch_open(struct sink *s)
{
	s->b = open_memstream(&s->buf, &s->len);
	s->nspans = 0;
	s->nres = 0;
	s->in_res = 0;
	if (s->b)
		fputs("{\"resourceSpans\":[", s->b);
}

static void res_close(struct sink *s)
{
	if (s->in_res)
		fputs("]}]}", s->b);
	s->in_res = 0;
}

/* Finish and send the open batch (if it holds spans). */
static int batch_flush(struct sink *s)
{
	int err = 0;
	size_t n = s->nspans;

	if (!s->b)
		return -ENOMEM;
	res_close(s);
	fputs("]}", s->b);
	if (fflush(s->b) || ferror(s->b))
		err = -ENOMEM;
	fclose(s->b);
	s->b = NULL;
	if (!err && n) {
		if (s->file) {
			if (fwrite(s->buf, 1, s->len, s->file) != s->len || putc('\n', s->file) == EOF) {
				fprintf(stderr, "httpanalyze: writing '%s': %s", s->xo->target,
					strerror(errno));
				err = -EIO;
			}
		} else {
			err = sink_post(s, s->buf, s->len);
		}
		if (!err) {
			s->batches++;
			s->spans_sent += n;
		}
	}
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
	return err;
}

/* Open the resource (host, pid, service name) of the span about to be written,
 * after a flush when the batch is full. */
static int span_begin(struct sink *s, const char *host, int64_t pid, const char *comm)
{
	char key[sizeof(s->res_key)];
	struct attrs a;
	int err;

	if (s->nspans >= s->xo->batch) {
		if ((err = batch_flush(s)))
			return err;
		batch_open(s);
		if (!s->b)
			return -ENOMEM;
	}
	/* zero-filled: the whole key is compared */
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s%c%" PRId64 "%c%s", host, 0, pid, 0, comm);
	if (!s->in_res || memcmp(key, s->res_key, sizeof(key))) {
		res_close(s);
		memcpy(s->res_key, key, sizeof(key));
		fputs(s->nres++ ? ",{\"resource\":{\"attributes\":[" :
				  "{\"resource\":{\"attributes\":[", s->b);
		a.f = s->b;
		a.n = 0;
		a_str(&a, "service.name", comm[0] ? comm : "unknown_service");
		a_str(&a, "host.name", host);
		a_int(&a, "process.pid", pid);
		fputs("]},\"scopeSpans\":[{\"scope\":{\"name\":\"httpcap\",\"version\":\""
		      HTC_TOOL_VERSION "\"},\"spans\":[", s->b);
		s->in_res = 1;
	} else {
		putc(',', s->b);
	}
	s->nspans++;
	return 0;
}

static void span_head(FILE *f, const uint8_t trace[16], const uint8_t span[8],
		      const uint8_t parent[8], int has_parent)
{
	fputs("{\"traceId\":", f);
	jhex(f, trace, 16);
	fputs(",\"spanId\":", f);
	jhex(f, span, 8);
	if (has_parent) {
		fputs(",\"parentSpanId\":", f);
		jhex(f, parent, 8);
	}
}

static void span_times(FILE *f, sqlite3_stmt *st, int start_col)
{
	int64_t start = sqlite3_column_int64(st, start_col);
	int64_t end = sqlite3_column_type(st, start_col + 1) == SQLITE_NULL ? start :
		      sqlite3_column_int64(st, start_col + 1);

	if (end < start)
		end = start;
	fprintf(f, ",\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\"",
		(uint64_t)(start < 0 ? 0 : start), (uint64_t)(end < 0 ? 0 : end));
}

/* Close the attributes and the span, with an error status if msg. */
static void span_end(FILE *f, const char *msg)
{
	fputs("]", f);
	if (msg) {
		fprintf(f, ",\"status\":{\"code\":%d,\"message\":", STATUS_ERROR);
		out_json_string(f, msg, strlen(msg));
		fputs("}", f);
	}
	fputs("}", f);
}

/* url.path and url.query from a request target */
static void a_target(struct attrs *a, const char *target)
{
	const char *q = strchr(target, '?');
	size_t n = q ? (size_t)(q - target) : strlen(target);
	const char *h = memchr(target, '#', n);

	if (h)
		n = (size_t)(h - target);
	a_text(a, "url.path", target, n);
	if (q) {
		const char *e = strchr(q + 1, '#');

		a_text(a, "url.query", q + 1, e ? (size_t)(e - q - 1) : strlen(q + 1));
	}
}

enum {
	R_ID, R_HOST, R_PID, R_COMM, R_START, R_END, R_METHOD, R_PATH, R_VERSION,
	R_HOSTHDR, R_ENDPOINT, R_STATUS, R_CIP, R_CPORT, R_SIP, R_SPORT, R_UNANS, R_RESET,
};

static int emit_request(struct sink *s, struct tree *t, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, R_ID);
	struct node *nd = find(t->req, t->nreq, id);
	uint8_t trace[16], span[8], parent[8];
	int has_parent, err, unans = sqlite3_column_int(st, R_UNANS);
	int has_status = sqlite3_column_type(st, R_STATUS) != SQLITE_NULL;
	int64_t status = sqlite3_column_int64(st, R_STATUS);
	const char *ver = col(st, R_VERSION), *hosthdr = col(st, R_HOSTHDR);
	char msg[64], etype[24];
	const char *m = NULL;
	struct attrs a;

	if (!nd)
		return 0;	/* changed under us: cannot happen in one read */
	if ((err = span_begin(s, col(st, R_HOST), sqlite3_column_int64(st, R_PID),
			      col(st, R_COMM))))
		return err;
	span_ctx(t, (int64_t)(nd - t->req) + 1, trace, parent, &has_parent);
	otlp_span_id(t->salt, 'r', id, span);
	span_head(s->b, trace, span, parent, has_parent);
	fputs(",\"name\":", s->b);
	jtext(s->b, sqlite3_column_text(st, R_ENDPOINT), (size_t)sqlite3_column_bytes(st, R_ENDPOINT));
	fprintf(s->b, ",\"kind\":%d", KIND_SERVER);
	span_times(s->b, st, R_START);
	fputs(",\"attributes\":[", s->b);
	a.f = s->b;
	a.n = 0;
	a_col(&a, "http.request.method", st, R_METHOD);
	a_target(&a, col(st, R_PATH));
	a_str(&a, "url.scheme", "http");
	if (!strncmp(ver, "HTTP/", 5))
		a_str(&a, "network.protocol.version", ver + 5);
	if (has_status)
		a_int(&a, "http.response.status_code", status);
	if (hosthdr[0]) {
		/* the Host header names the server as the client asked for it */
		const char *colon = strrchr(hosthdr, ':');
		const char *rb = strrchr(hosthdr, ']');
		size_t n = colon && (!rb || colon > rb) ? (size_t)(colon - hosthdr) : strlen(hosthdr);

		a_text(&a, "server.address", hosthdr, n);
	} else {
		a_col(&a, "server.address", st, R_SIP);
	}
	a_int(&a, "server.port", sqlite3_column_int64(st, R_SPORT));
	a_col(&a, "client.address", st, R_CIP);
	a_int(&a, "client.port", sqlite3_column_int64(st, R_CPORT));
	a_int(&a, "httpcap.request_id", id);
	a_col(&a, "httpcap.endpoint", st, R_ENDPOINT);
	/* a server span fails on 5xx and on no answer; 4xx is the client's
	 * error (semantic conventions, HTTP spans: status) */
	if (unans) {
		a_bool(&a, "httpcap.unanswered");
		m = sqlite3_column_int(st, R_RESET) ? "connection reset before the response" :
						      "no response";
		a_str(&a, "error.type", sqlite3_column_int(st, R_RESET) ? "reset" : "no_response");
	} else if (has_status && status >= 500) {
		snprintf(msg, sizeof(msg), "HTTP %" PRId64, status);
		snprintf(etype, sizeof(etype), "%" PRId64, status);
		a_str(&a, "error.type", etype);
		m = msg;
	}
	span_end(s->b, m);
	return 0;
}

enum {
	C_ID, C_HOST, C_PID, C_COMM, C_START, C_END, C_PROTO, C_RIP, C_RPORT, C_SUMMARY,
	C_NAME, C_STATUS, C_UNANS, C_RESET, C_ERROR,
};

static int emit_call(struct sink *s, struct tree *t, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, C_ID);
	struct node *nd = find(t->call, t->ncall, id);
	uint8_t trace[16], span[8], parent[8];
	int has_parent, err;
	int has_status = sqlite3_column_type(st, C_STATUS) != SQLITE_NULL;
	int64_t status = sqlite3_column_int64(st, C_STATUS);
	const char *proto = col(st, C_PROTO), *name = col(st, C_NAME), *sum = col(st, C_SUMMARY);
	const char *db = !strcmp(proto, "redis") ? "redis" :
			 !strcmp(proto, "postgres") ? "postgresql" : NULL;
	char msg[64], etype[24], label[128];
	const char *m = NULL;
	struct attrs a;

	if (!nd)
		return 0;
	if ((err = span_begin(s, col(st, C_HOST), sqlite3_column_int64(st, C_PID),
			      col(st, C_COMM))))
		return err;
	span_ctx(t, -(int64_t)(nd - t->call) - 1, trace, parent, &has_parent);
	otlp_span_id(t->salt, 'c', id, span);
	span_head(s->b, trace, span, parent, has_parent);
	fputs(",\"name\":", s->b);
	if (name[0]) {
		jtext(s->b, name, strlen(name));
	} else {
		snprintf(label, sizeof(label), "%s %s:%lld", proto, col(st, C_RIP),
			 (long long)sqlite3_column_int64(st, C_RPORT));
		jtext(s->b, label, strlen(label));
	}
	fprintf(s->b, ",\"kind\":%d", KIND_CLIENT);
	span_times(s->b, st, C_START);
	fputs(",\"attributes\":[", s->b);
	a.f = s->b;
	a.n = 0;
	if (!strcmp(proto, "http")) {
		/* summary: "GET /path?query" as sent */
		const char *sp = strchr(sum, ' ');

		if (sp) {
			a_text(&a, "http.request.method", sum, (size_t)(sp - sum));
			a_target(&a, sp + 1);
		}
		if (has_status)
			a_int(&a, "http.response.status_code", status);
	} else if (db) {
		a_str(&a, "db.system", db);
		a_str(&a, "db.system.name", db);
		if (name[0])
			a_str(&a, "db.operation.name", name);
		a_str(&a, "db.query.text", sum);
	} else {
		a_str(&a, "network.protocol.name", proto);
	}
	a_col(&a, "server.address", st, C_RIP);
	a_int(&a, "server.port", sqlite3_column_int64(st, C_RPORT));
	a_str(&a, "network.transport", "tcp");
	a_int(&a, "httpcap.call_id", id);
	/* a client span fails on any 4xx/5xx, an error reply or no answer */
	if (sqlite3_column_int(st, C_UNANS)) {
		a_bool(&a, "httpcap.unanswered");
		m = sqlite3_column_int(st, C_RESET) ? "connection reset before the answer" :
						      "no answer";
		a_str(&a, "error.type", sqlite3_column_int(st, C_RESET) ? "reset" : "no_response");
	} else if (has_status && status >= 400) {
		snprintf(msg, sizeof(msg), "HTTP %" PRId64, status);
		snprintf(etype, sizeof(etype), "%" PRId64, status);
		a_str(&a, "error.type", etype);
		m = msg;
	} else if (sqlite3_column_int(st, C_ERROR)) {
		m = "error reply";
		a_str(&a, "error.type", "error_reply");
	}
	span_end(s->b, m);
	return 0;
}

static int emit_all(struct sink *s, struct tree *t, sqlite3_stmt *st,
		    int (*emit)(struct sink *, struct tree *, sqlite3_stmt *), sqlite3 *db)
{
	int rc, err = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((err = emit(s, t, st)))
			return err;
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

/* the service name (services.service) in place of the task name: the
 * resource's service.name */
#define REQ_COLS "SELECT r.request_id, r.host, r.pid, coalesce(s.service, r.comm), r.start_ns, r.end_ns, r.method," \
	" r.path, r.version, r.host_header, r.endpoint, r.status, r.client_ip, r.client_port," \
	" r.server_ip, r.server_port, r.unanswered, r.reset FROM requests r" \
	" LEFT JOIN services s ON s.file_idx = r.file_idx AND s.pid = r.pid WHERE 1"
#define REQ_ORDER " ORDER BY r.host, r.pid, r.comm, r.start_ns, r.request_id"
#define CALL_COLS "SELECT c.call_id, c.host, c.pid, coalesce(s.service, c.comm), c.start_ns, c.end_ns, c.protocol," \
	" c.remote_ip, c.remote_port, c.summary, c.name, c.status, c.unanswered, c.reset," \
	" c.error FROM calls c LEFT JOIN services s ON s.file_idx = c.file_idx AND s.pid = c.pid"
#define CALL_ORDER " ORDER BY c.host, c.pid, c.comm, c.start_ns, c.call_id"

int otlp_export(sqlite3 *db, const struct report_opts *o, const struct otlp_opts *xo)
{
	struct sink s;
	struct tree t;
	sqlite3_stmt *rq = NULL, *cq = NULL;
	int64_t total = 0;
	int err;

	err = tree_build(db, &t);
	if (err)
		goto out_tree;
	rq = report_prep_filtered(db, o, REQ_COLS, REQ_ORDER);
	if (report_has_filters(o))
		cq = report_prep_filtered(db, o, CALL_COLS " WHERE c.request_id IN"
					  " (SELECT r.request_id FROM requests r WHERE 1", ")" CALL_ORDER);
	else
		cq = report_prep(db, CALL_COLS CALL_ORDER);
	if (!rq || !cq) {
		err = -EIO;
		goto out_tree;
	}
	{
		/* what is to be sent, for the message if it fails */
		sqlite3_stmt *c = report_prep_filtered(db, o, "SELECT (SELECT count(*) FROM requests r"
						       " WHERE 1", ")");

		if (c && sqlite3_step(c) == SQLITE_ROW)
			total = sqlite3_column_int64(c, 0);
		sqlite3_finalize(c);
		if (report_has_filters(o))
			c = report_prep_filtered(db, o, "SELECT count(*) FROM calls c WHERE c.request_id"
						 " IN (SELECT r.request_id FROM requests r WHERE 1", ")");
		else
			c = report_prep(db, "SELECT count(*) FROM calls");
		if (c && sqlite3_step(c) == SQLITE_ROW)
			total += sqlite3_column_int64(c, 0);
		sqlite3_finalize(c);
	}
	err = sink_open(&s, xo, o->out ? o->out : stdout);
	if (err) {
		if (err == -ENOMEM)
			fprintf(stderr, "httpanalyze: export: out of memory\n");
		sink_close(&s);
		goto out_tree;
	}
	batch_open(&s);
	err = s.b ? 0 : -ENOMEM;
	if (!err)
		err = emit_all(&s, &t, rq, emit_request, db);
	if (!err)
		err = emit_all(&s, &t, cq, emit_call, db);
	if (!err)
		err = batch_flush(&s);
	if (err && err != -ENOMEM) {
		/* the sink printed what failed; now what got through */
		fprintf(stderr, "; %" PRIu64 " of %" PRId64 " spans sent in %" PRIu64
			" batch%s before it, the rest not sent\n", s.spans_sent, total, s.batches,
			s.batches == 1 ? "" : "es");
	} else if (err) {
		fprintf(stderr, "httpanalyze: export: out of memory\n");
	}
	if (!err && s.curl && !o->quiet)
		fprintf(stderr, "httpanalyze: %" PRIu64 " spans sent to '%s' in %" PRIu64
			" batch%s%s\n", s.spans_sent, s.url, s.batches, s.batches == 1 ? "" : "es",
			s.spans_rejected ? "" : ", all accepted");
	if (!err && s.spans_rejected) {
		fprintf(stderr, "httpanalyze: the collector rejected %" PRIu64 " of them\n",
			s.spans_rejected);
		err = -EIO;
	}
	if (sink_close(&s) && !err)
		err = -EIO;
out_tree:
	if (err == -ENOMEM)
		err = -EIO;
	sqlite3_finalize(rq);
	sqlite3_finalize(cq);
	tree_free(&t);
	return err;
}
