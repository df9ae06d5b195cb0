// SPDX-License-Identifier: MIT
/*
 * print.c - httpcap's per-event output lines, JSON (the keys of the demo
 * tracer httpcap replaces, then the 5-tuple) and --text.
 *
 * Both formats treat captured bytes as hostile: JSON strings escape quotes,
 * backslashes and control bytes, keep valid UTF-8 as is (except C1 control
 * characters, which some terminals obey) and map each byte of an invalid
 * sequence to \u00XX, so the line is always valid JSON.  Text lines escape
 * everything outside printable ASCII as \xHH.  The line is built in memory
 * and written with one fwrite, so a concurrent reader never sees half a line
 * from us and a write error is seen once.  No JSON library: the output is a
 * flat object with a fixed key order that must match the demo tracer's
 * spacing byte for byte (": " and ", "), which is simplest to write out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "print.h"

#define PREVIEW_BYTES 64	/* payload bytes shown by --text */

/* A growable line buffer; on allocation failure it stops growing and
 * remembers the error. */
struct line {
	char *p;
	size_t len, cap;
	int err;
};

static void ln_reserve(struct line *l, size_t n)
{
	if (l->err || l->len + n + 1 <= l->cap)
		return;
	size_t cap = l->cap ? l->cap : 512;

	while (cap < l->len + n + 1)
		cap *= 2;
	char *p = realloc(l->p, cap);

	if (!p) {
		l->err = -ENOMEM;
		return;
	}
	l->p = p;
	l->cap = cap;
}

static void ln_put(struct line *l, const char *s, size_t n)
{
	ln_reserve(l, n);
	if (l->err)
		return;
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void ln_str(struct line *l, const char *s)
{
	ln_put(l, s, strlen(s));
}

static void ln_char(struct line *l, char c)
{
	ln_put(l, &c, 1);
}

__attribute__((format(printf, 2, 3)))
static void ln_fmt(struct line *l, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->err = -EINVAL;
		return;
	}
	/* every caller formats numbers and short fixed strings */
	ln_put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* n bytes escaped by the tools' one rule (libhtc, htc_text.c), appended. */
static void ln_escape(struct line *l, const uint8_t *s, size_t n, enum htc_esc how)
{
	size_t need = htc_escape(NULL, 0, s, n, how);

	ln_reserve(l, need);
	if (l->err)
		return;
	htc_escape(l->p + l->len, need + 1, s, n, how);
	l->len += need;
}

/* n bytes as the inside of a JSON string. */
static void json_bytes(struct line *l, const uint8_t *s, size_t n)
{
	ln_escape(l, s, n, HTC_ESC_JSON);
}

static void json_str(struct line *l, const char *s, size_t n)
{
	ln_char(l, '"');
	json_bytes(l, (const uint8_t *)s, n);
	ln_char(l, '"');
}

/* A NUL-terminated string of at most max bytes, or null. */
static void json_str_or_null(struct line *l, const char *s, size_t max)
{
	if (!s)
		ln_str(l, "null");
	else
		json_str(l, s, strnlen(s, max));
}

/* n bytes for a terminal, inside quotes. */
static void text_bytes(struct line *l, const uint8_t *s, size_t n)
{
	ln_escape(l, s, n, HTC_ESC_QUOTED);
}

static void text_str(struct line *l, const char *s, size_t max)
{
	text_bytes(l, (const uint8_t *)s, strnlen(s, max));
}

/* Wall-clock time of an event: seconds and nanoseconds since the epoch,
 * floored so a (corrupt) negative offset still prints sensibly. */
static void wall_time(const struct htc_header *hdr, uint64_t ts_ns, time_t *sec, long *nsec)
{
	int64_t off = hdr ? hdr->realtime_offset_ns : 0;
	/* unsigned arithmetic wraps instead of overflowing; the result is
	 * what the file says, and a corrupt file only prints a strange date */
	int64_t t = (int64_t)(ts_ns + (uint64_t)off);
	int64_t s = t / 1000000000, ns = t % 1000000000;

	if (ns < 0) {
		ns += 1000000000;
		s--;
	}
	*sec = (time_t)s;
	*nsec = (long)ns;
}

static void json_timestamp(struct line *l, const struct htc_header *hdr, uint64_t ts_ns)
{
	time_t sec;
	long nsec;
	struct tm tm;
	char buf[64];

	wall_time(hdr, ts_ns, &sec, &nsec);
	if (!gmtime_r(&sec, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof(buf), "1970-01-01T00:00:00");
	ln_fmt(l, "\"%s.%09ldZ\"", buf, nsec);
}

/* Address text of one endpoint; false when the family is unknown. */
static bool addr_text(const struct htc_endpoints *ep, const uint8_t *a, char *buf, size_t len)
{
	if (ep->family == HTC_AF_INET)
		return inet_ntop(AF_INET, a, buf, (socklen_t)len) != NULL;
	if (ep->family == HTC_AF_INET6)
		return inet_ntop(AF_INET6, a, buf, (socklen_t)len) != NULL;
	return false;
}

static void json_ip(struct line *l, const struct htc_endpoints *ep, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (addr_text(ep, a, buf, sizeof(buf)))
		ln_fmt(l, "\"%s\"", buf);
	else
		ln_str(l, "null");
}

static bool is_data(const struct htc_record *rec)
{
	return rec->type == HTC_REC_DATA;
}

static void format_json(struct line *l, const struct htc_header *hdr, const struct htc_record *rec,
			const struct htc_eng_annot *annot)
{
	const struct htc_event *ev = &rec->ev;
	int64_t payload_len = is_data(rec) ? ev->ret : 0;

	ln_str(l, "{\"timestamp\": ");
	json_timestamp(l, hdr, ev->ts_ns);
	ln_str(l, ", \"request_id\": ");
	if (annot && annot->request_id)
		ln_fmt(l, "%" PRIu64, annot->request_id);
	else
		ln_str(l, "null");
	ln_fmt(l, ", \"pid\": %" PRIu32 ", \"tid\": %" PRIu32 ", \"comm\": ", ev->pid, ev->tid);
	json_str(l, ev->comm, strnlen(ev->comm, sizeof(ev->comm)));
	ln_str(l, ", \"method\": ");
	json_str_or_null(l, annot ? annot->method : NULL, 4096);
	ln_str(l, ", \"path\": ");
	json_str_or_null(l, annot ? annot->path : NULL, 65536);
	ln_fmt(l, ", \"payload_len\": %" PRId64 ", \"payload\": \"", payload_len);
	if (ev->payload && ev->cap_len)
		json_bytes(l, ev->payload, ev->cap_len);
	ln_fmt(l, "\", \"event_type\": \"%s\", \"event_type_id\": %u, \"protocol\": \"TCP\"",
	       htc_event_type_name(ev->type), (unsigned)ev->type);
	ln_fmt(l, ", \"fd\": %" PRId32 ", \"conn_id\": %" PRIu64 ", \"local_ip\": ", ev->fd,
	       ev->conn_id);
	json_ip(l, &ev->ep, ev->ep.laddr);
	ln_fmt(l, ", \"local_port\": %u, \"remote_ip\": ", (unsigned)ev->ep.lport);
	json_ip(l, &ev->ep, ev->ep.raddr);
	ln_fmt(l, ", \"remote_port\": %u, \"syscall\": \"%s\", \"captured_len\": %" PRIu32,
	       (unsigned)ev->ep.rport, htc_syscall_name(ev->syscall),
	       ev->payload ? ev->cap_len : 0);
	if (ev->type == HTC_EV_CONNECT)
		ln_fmt(l, ", \"result\": %" PRId64, ev->ret);
	if ((ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE) && (ev->flags & HTC_EVF_SEQ))
		ln_fmt(l, ", \"tcp_seq\": %" PRIu32, ev->tcp_seq);
	ln_str(l, "}\n");
}

static void text_endpoint(struct line *l, const struct htc_endpoints *ep, const uint8_t *a,
			  uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];

	if (!addr_text(ep, a, buf, sizeof(buf)))
		ln_fmt(l, "?:%u", (unsigned)port);
	else if (ep->family == HTC_AF_INET6)
		ln_fmt(l, "[%s]:%u", buf, (unsigned)port);
	else
		ln_fmt(l, "%s:%u", buf, (unsigned)port);
}

static void format_text(struct line *l, const struct htc_header *hdr, const struct htc_record *rec,
			const struct htc_eng_annot *annot)
{
	const struct htc_event *ev = &rec->ev;
	const struct htc_endpoints *ep = &ev->ep;
	time_t sec;
	long nsec;
	struct tm tm;
	char tbuf[32];
	/* data flows remote -> local on reads and accepts, the other way
	 * otherwise; close has no direction */
	bool inbound = ev->type == HTC_EV_READ || ev->type == HTC_EV_ACCEPT;
	const char *arrow = ev->type == HTC_EV_CLOSE ? " - " : " > ";

	/* tcpdump's habit: local time of day, microseconds */
	wall_time(hdr, ev->ts_ns, &sec, &nsec);
	if (!localtime_r(&sec, &tm) || strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm) == 0)
		snprintf(tbuf, sizeof(tbuf), "??:??:??");
	ln_fmt(l, "%s.%06ld ", tbuf, nsec / 1000);
	text_str(l, ev->comm, sizeof(ev->comm));
	ln_fmt(l, "[%" PRIu32 "/%" PRIu32 "] %s %s ", ev->pid, ev->tid,
	       htc_event_type_name(ev->type), htc_syscall_name(ev->syscall));
	if (inbound) {
		text_endpoint(l, ep, ep->raddr, ep->rport);
		ln_str(l, arrow);
		text_endpoint(l, ep, ep->laddr, ep->lport);
	} else {
		text_endpoint(l, ep, ep->laddr, ep->lport);
		ln_str(l, arrow);
		text_endpoint(l, ep, ep->raddr, ep->rport);
	}
	ln_fmt(l, " fd=%" PRId32 " conn=%" PRIu64, ev->fd, ev->conn_id);
	switch (ev->type) {
	case HTC_EV_READ:
	case HTC_EV_WRITE:
		ln_fmt(l, " len=%" PRId64, ev->ret);
		if ((int64_t)(ev->payload ? ev->cap_len : 0) < ev->ret)
			ln_fmt(l, " cap=%" PRIu32, ev->payload ? ev->cap_len : 0);
		break;
	case HTC_EV_CONNECT:
		ln_fmt(l, " result=%" PRId64, ev->ret);
		if (ev->ret < 0 && ev->ret > -4096)
			ln_fmt(l, " (%s)", strerror((int)-ev->ret));
		break;
	case HTC_EV_CLOSE:
		ln_fmt(l, " in=%" PRIu64 " out=%" PRIu64, ev->stream_off, ev->stream_off2);
		break;
	default:
		break;
	}
	if (annot && annot->request_id)
		ln_fmt(l, " req=%" PRIu64, annot->request_id);
	if (annot && annot->method) {
		ln_char(l, ' ');
		text_str(l, annot->method, 4096);
		if (annot->path) {
			ln_char(l, ' ');
			text_str(l, annot->path, 4096);
		}
	}
	if (ev->payload && ev->cap_len) {
		size_t n = ev->cap_len < PREVIEW_BYTES ? ev->cap_len : PREVIEW_BYTES;

		ln_str(l, " \"");
		text_bytes(l, ev->payload, n);
		ln_char(l, '"');
		if (n < ev->cap_len)
			ln_str(l, "...");
	}
	ln_char(l, '\n');
}

int print_event(FILE *f, enum print_format fmt, const struct htc_header *hdr,
		const struct htc_record *rec, const struct htc_eng_annot *annot)
{
	struct line l = { 0 };
	int err = 0;

	if (!f || !rec || (rec->type != HTC_REC_DATA && rec->type != HTC_REC_CONN))
		return -EINVAL;
	if (fmt == PRINT_TEXT)
		format_text(&l, hdr, rec, annot);
	else if (fmt == PRINT_JSON)
		format_json(&l, hdr, rec, annot);
	else
		return -EINVAL;
	if (l.err) {
		err = l.err;
		goto cleanup;
	}
	errno = 0;
	if (fwrite(l.p, 1, l.len, f) != l.len || ferror(f))
		err = errno ? -errno : -EIO;
cleanup:
	free(l.p);
	return err;
}
