// SPDX-License-Identifier: MIT
/*
 * top.c - httpcap --top: a live view of what the engine makes of the
 * capture, redrawn every interval: per service (command name and server
 * port) and endpoint (method and path, query string left out) the request
 * rate, the error rate and the p50/p99 latency; per calling process and
 * peer the downstream calls, the same way.
 *
 * The engine's sink callbacks fill two bounded tables (TOP_MAX_ROWS rows
 * each; what comes after they are full is summed in one "(other)" row) and
 * each row keeps its last TOP_SAMPLES latencies, so memory does not grow
 * with traffic or with the number of distinct paths.  Percentiles are over
 * the samples of the last TOP_WINDOW_NS, sorted at each redraw (a few
 * thousand numbers a second: no streaming estimator needed).
 *
 * On a terminal the view takes the alternate screen (restored by top_free,
 * which main() reaches on q, SIGINT and SIGTERM alike) and reads keys from
 * a non-canonical stdin; elsewhere (a pipe, a file) each interval prints
 * one plain snapshot, then a blank line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "htc_engine.h"
#include "top.h"

#define TOP_MAX_ROWS 256		/* endpoints, and downstream peers, tracked */
#define TOP_SAMPLES 256			/* latencies kept per row */
#define TOP_WINDOW_NS (10ULL * 1000000000ULL)	/* percentiles over the last 10 s */
#define TOP_PLAIN_ROWS 20		/* rows per table in a plain snapshot */

struct top_row {
	char who[40];			/* "python3:8080", or the caller's comm */
	char what[96];			/* "GET /a.txt", or "redis 127.0.0.1:6379" */
	uint64_t hash;
	uint64_t total, errors;
	uint32_t n_iv, err_iv;		/* in the interval being counted */
	double rate, err_rate;		/* of the last interval shown */
	uint64_t lat[TOP_SAMPLES];	/* ns */
	uint64_t lat_at[TOP_SAMPLES];	/* when each was added (monotonic ns) */
	unsigned lat_next, lat_n;
	double p50, p99;		/* ns, of the last redraw; < 0: none */
};

struct top_table {
	struct top_row *rows;		/* TOP_MAX_ROWS, the last one is "(other)" */
	size_t n;
};

struct top {
	struct top_table req, calls;
	bool tty, keys;
	struct termios saved;
	double interval;
	uint64_t last_draw;		/* monotonic ns */
	uint64_t reqs_iv, calls_iv;
	uint64_t *scratch;		/* TOP_SAMPLES, for percentiles */
	char filters[256];
	char *frame;			/* the text of one redraw */
	size_t frame_len, frame_cap;
};

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* The row of (who, what), added if there is room, else "(other)". */
static struct top_row *row_of(struct top_table *t, const char *who, const char *what)
{
	uint64_t h = fnv(fnv(HTC_FNV1A64_INIT, who), what);
	struct top_row *r;

	for (size_t i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if (r->hash == h && !strcmp(r->who, who) && !strcmp(r->what, what))
			return r;
	}
	if (t->n == TOP_MAX_ROWS - 1) {
		r = &t->rows[TOP_MAX_ROWS - 1];
		if (!r->who[0]) {
			snprintf(r->who, sizeof(r->who), "*");
			snprintf(r->what, sizeof(r->what), "(other: more than %d rows)",
				 TOP_MAX_ROWS - 1);
			r->p50 = r->p99 = -1;
		}
		return r;
	}
	r = &t->rows[t->n++];
	snprintf(r->who, sizeof(r->who), "%s", who);
	snprintf(r->what, sizeof(r->what), "%s", what);
	r->hash = h;
	r->p50 = r->p99 = -1;
	return r;
}

static void row_add(struct top_row *r, bool err, uint64_t lat_ns, bool has_lat)
{
	r->total++;
	r->n_iv++;
	if (err) {
		r->errors++;
		r->err_iv++;
	}
	if (has_lat) {
		r->lat[r->lat_next] = lat_ns;
		r->lat_at[r->lat_next] = cap_mono_ns();
		r->lat_next = (r->lat_next + 1) % TOP_SAMPLES;
		if (r->lat_n < TOP_SAMPLES)
			r->lat_n++;
	}
}

/* An inbound request: service comm:port, endpoint "METHOD /path". */
static void on_request(void *ctx, const struct htc_eng_request *q)
{
	struct top *t = ctx;
	char who[40], comm[4 * HTC_COMM_LEN + 1], what[96], path[64 * 4 + 1];
	size_t plen = strcspn(q->path ? q->path : "", "?");
	bool err;

	htc_escape(comm, sizeof(comm), q->comm, strnlen(q->comm, HTC_COMM_LEN), HTC_ESC_TEXT);
	snprintf(who, sizeof(who), "%.30s:%u", comm, q->ep.lport);
	htc_escape(path, sizeof(path), q->path ? q->path : "", plen > 64 ? 64 : plen, HTC_ESC_TEXT);
	snprintf(what, sizeof(what), "%.16s %.72s%s", q->method ? q->method : "?", path,
		 plen > 64 ? "..." : "");
	err = q->status >= 500 || q->grpc_status > 0 ||
	      (q->flags & (HTC_ENGF_RESET | HTC_ENGF_STREAM_RESET | HTC_ENGF_UNANSWERED));
	row_add(row_of(&t->req, who, what), err, q->end_ns > q->start_ns ? q->end_ns - q->start_ns : 0,
		q->end_ns >= q->start_ns && q->end_ns);
	t->reqs_iv++;
}

static void peer_text(const struct htc_endpoints *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ep->family == HTC_AF_INET6) {
		inet_ntop(AF_INET6, ep->raddr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ep->rport);
	} else {
		inet_ntop(AF_INET, ep->raddr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ep->rport);
	}
}

/* A downstream call: caller's comm, "proto peer". */
static void on_call(void *ctx, const struct htc_eng_call *c)
{
	struct top *t = ctx;
	char comm[4 * HTC_COMM_LEN + 1], what[96], peer[80];
	bool err;

	htc_escape(comm, sizeof(comm), c->comm, strnlen(c->comm, HTC_COMM_LEN), HTC_ESC_TEXT);
	peer_text(&c->ep, peer, sizeof(peer));
	snprintf(what, sizeof(what), "%s %s", htc_proto_name(c->proto), peer);
	err = c->status >= 500 || c->grpc_status > 0 ||
	      (c->flags & (HTC_ENGF_RESET | HTC_ENGF_STREAM_RESET | HTC_ENGF_UNANSWERED));
	row_add(row_of(&t->calls, comm, what), err, c->end_ns > c->start_ns ? c->end_ns - c->start_ns : 0,
		c->end_ns >= c->start_ns && c->end_ns);
	t->calls_iv++;
}

static void restore_terminal(struct top *t)
{
	if (t->tty) {
		fputs("\033[?25h\033[?1049l", stdout);
		fflush(stdout);
	}
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->tty = t->keys = false;
}

struct top *top_new(const struct cap_opts *o, struct htc_engine_sink *sink)
{
	struct top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->req.rows = calloc(TOP_MAX_ROWS, sizeof(struct top_row));
	t->calls.rows = calloc(TOP_MAX_ROWS, sizeof(struct top_row));
	t->scratch = calloc(TOP_SAMPLES, sizeof(uint64_t));
	if (!t->req.rows || !t->calls.rows || !t->scratch) {
		top_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->interval = o->interval > 0 ? o->interval : 1;
	cap_filters_text(o, t->filters, sizeof(t->filters));
	t->last_draw = cap_mono_ns();
	sink->ctx = t;
	sink->on_request = on_request;
	sink->on_call = on_call;
	t->tty = isatty(STDOUT_FILENO);
	if (t->tty) {
		/* the alternate screen, cursor hidden: what the user had on the
		 * terminal comes back at exit */
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
		fflush(stdout);
		if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t->saved)) {
			struct termios raw = t->saved;

			/* keys without Enter and without echo; ISIG kept, so
			 * Ctrl-C is still SIGINT */
			raw.c_lflag &= ~(ICANON | ECHO);
			raw.c_cc[VMIN] = 0;
			raw.c_cc[VTIME] = 0;
			t->keys = !tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		}
	}
	return t;
}

bool top_quit_key(struct top *t)
{
	char buf[32];
	ssize_t n;

	if (!t || !t->keys)
		return false;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == 'q' || buf[i] == 'Q')
				return true;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Rates of the interval just ended (secs long), percentiles of the window. */
static void settle_rows(struct top *t, struct top_table *tb, double secs, uint64_t now)
{
	size_t n = tb->n + (tb->rows[TOP_MAX_ROWS - 1].who[0] ? 1 : 0);

	for (size_t i = 0; i < n; i++) {
		struct top_row *r = i < tb->n ? &tb->rows[i] : &tb->rows[TOP_MAX_ROWS - 1];
		size_t k = 0;

		r->rate = r->n_iv / secs;
		r->err_rate = r->err_iv / secs;
		r->n_iv = r->err_iv = 0;
		for (unsigned j = 0; j < r->lat_n; j++)
			if (now - r->lat_at[j] <= TOP_WINDOW_NS)
				t->scratch[k++] = r->lat[j];
		if (!k) {
			r->p50 = r->p99 = -1;
			continue;
		}
		qsort(t->scratch, k, sizeof(uint64_t), cmp_u64);
		/* nearest rank */
		r->p50 = t->scratch[(k * 50 + 99) / 100 - 1];
		r->p99 = t->scratch[(k * 99 + 99) / 100 - 1];
	}
}

/* Busiest first: the last interval's rate, then the total. */
static int cmp_rows(const void *a, const void *b)
{
	const struct top_row *x = *(const struct top_row *const *)a;
	const struct top_row *y = *(const struct top_row *const *)b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->what, y->what);
}

__attribute__((format(printf, 2, 3)))
static void put(struct top *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->frame_cap - t->frame_len;

		va_start(ap, fmt);
		n = vsnprintf(t->frame + t->frame_len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			t->frame_len += n;
			return;
		}
		{
			size_t cap = t->frame_cap ? 2 * t->frame_cap : 16384;
			char *f;

			while (cap < t->frame_len + n + 1)
				cap *= 2;
			f = realloc(t->frame, cap);
			if (!f)
				return;
			t->frame = f;
			t->frame_cap = cap;
		}
	}
}

static const char *lat_text(double ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1e6)
		snprintf(buf, len, "%.0fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

/* One table's lines, at most max rows; returns the lines written. */
static int put_table(struct top *t, struct top_table *tb, const char *head_who,
		     const char *head_what, const char *unit, int max, int width)
{
	struct top_row *sorted[TOP_MAX_ROWS];
	size_t n = 0;
	int lines = 0;
	char a[16], b[16];

	for (size_t i = 0; i < tb->n; i++)
		sorted[n++] = &tb->rows[i];
	if (tb->rows[TOP_MAX_ROWS - 1].who[0])
		sorted[n++] = &tb->rows[TOP_MAX_ROWS - 1];
	qsort(sorted, n, sizeof(sorted[0]), cmp_rows);
	put(t, "%-22s %-40.*s %9s %8s %8s %8s %9s\n", head_who, width > 100 ? 40 : 30,
	    head_what, unit, "ERR/S", "P50", "P99", "TOTAL");
	lines++;
	for (size_t i = 0; i < n && lines < max; i++, lines++) {
		struct top_row *r = sorted[i];

		put(t, "%-22.22s %-40.*s %9.1f %8.1f %8s %8s %9llu\n", r->who,
		    width > 100 ? 40 : 30, r->what, r->rate, r->err_rate,
		    lat_text(r->p50, a, sizeof(a)), lat_text(r->p99, b, sizeof(b)),
		    (unsigned long long)r->total);
	}
	if (!n) {
		put(t, "  (none yet)\n");
		lines++;
	}
	return lines;
}

int top_draw(struct top *t, const struct top_status *st, bool final)
{
	uint64_t now = cap_mono_ns();
	double secs = (now - t->last_draw) / 1e9;
	int rows = 0, cols = 0, max;
	struct winsize ws;
	char when[32];
	time_t wall = time(NULL);
	struct tm tm;

	if (!final && secs < t->interval)
		return 0;
	if (secs <= 0)
		secs = t->interval;
	t->last_draw = now;
	settle_rows(t, &t->req, secs, now);
	settle_rows(t, &t->calls, secs, now);
	localtime_r(&wall, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (t->tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	t->frame_len = 0;
	put(t, "httpcap --top %s  every %gs%s  %.1f req/s  %.1f calls/s  %llu events  %llu lost%s%s\n",
	    when, t->interval, final ? " (end)" : "", t->reqs_iv / secs, t->calls_iv / secs,
	    (unsigned long long)st->events, (unsigned long long)st->lost,
	    t->filters[0] ? "  filters: " : "", t->filters);
	t->reqs_iv = t->calls_iv = 0;
	/* on a terminal the two tables share the screen; a plain snapshot
	 * shows the busiest TOP_PLAIN_ROWS of each */
	max = rows ? (rows - 4) / 2 : TOP_PLAIN_ROWS + 1;
	if (max < 2)
		max = 2;
	put(t, "\n");
	put_table(t, &t->req, "SERVICE", "ENDPOINT", "REQ/S", max, cols ? cols : 200);
	put(t, "\n");
	put_table(t, &t->calls, "CALLER", "DOWNSTREAM", "CALLS/S", max, cols ? cols : 200);
	if (t->tty) {
		/* home, each line cleared to its end, the rest of the screen
		 * cleared; lines longer than the terminal are cut */
		fputs("\033[H", stdout);
		for (char *l = t->frame, *nl; l < t->frame + t->frame_len; l = nl + 1) {
			int len;

			nl = memchr(l, '\n', t->frame + t->frame_len - l);
			if (!nl)
				nl = t->frame + t->frame_len;
			len = (int)(nl - l);
			if (cols && len > cols)
				len = cols;
			fprintf(stdout, "%.*s\033[K\n", len, l);
		}
		fputs(t->keys ? "q: quit\033[K\033[J" : "\033[J", stdout);
	} else {
		fwrite(t->frame, 1, t->frame_len, stdout);
		fputs("\n", stdout);
	}
	if (fflush(stdout) || ferror(stdout))
		return -EPIPE;
	return 0;
}

bool top_on_tty(const struct top *t)
{
	return t && t->tty;
}

void top_free(struct top *t)
{
	if (!t)
		return;
	restore_terminal(t);
	free(t->req.rows);
	free(t->calls.rows);
	free(t->scratch);
	free(t->frame);
	free(t);
}
