/* SPDX-License-Identifier: MIT */
/*
 * proto.c - streaming decoders for Redis RESP and the PostgreSQL wire
 * protocol, just deep enough to cut a client's byte stream into commands
 * (with a name for each) and its server's stream into the replies that end
 * them.  Written by hand: hiredis and libpq are client libraries that own
 * the socket and want whole, valid messages; here the bytes are someone
 * else's conversation, captured in pieces with holes.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "htc_engine.h"
#include "http1_parse.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define PG_STARTUP_V3 196608u
#define PG_SSL_REQUEST 80877103u
#define PG_GSS_REQUEST 80877104u
#define PG_CANCEL 80877102u

int proto_detect_client(const uint8_t *p, size_t len, uint16_t server_port)
{
	if (len >= 1 && http_is_request_start((const char *)p, len) == 1)
		return HTC_PROTO_HTTP;
	if (len >= 2 && p[0] == '*' && p[1] >= '0' && p[1] <= '9')
		return HTC_PROTO_REDIS;
	if (len >= 8) {
		uint32_t l = be32(p), code = be32(p + 4);

		if (l >= 8 && l <= 10000 && (code == PG_STARTUP_V3 || code == PG_SSL_REQUEST ||
					     code == PG_GSS_REQUEST || code == PG_CANCEL))
			return HTC_PROTO_POSTGRES;
	}
	if (len >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04)
		return HTC_PROTO_TLS;
	if (server_port == 6379)
		return HTC_PROTO_REDIS;
	if (server_port == 5432)
		return HTC_PROTO_POSTGRES;
	return HTC_PROTO_UNKNOWN;
}

size_t proto_escape(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = 0;
	return o;
}

/* The same rule, for the tools (httpreplay's terminal and CSV output). */
size_t htc_eng_escape(char *dst, size_t cap, const void *src, size_t len)
{
	return proto_escape(dst, cap, src, len);
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

int proto_tls_sni(const uint8_t *p, size_t len, char *out, size_t cap)
{
	size_t i, end, n;

	/* record header, handshake header: ClientHello (1) */
	if (len < 5 + 4 + 2 + 32 + 1 || p[0] != 0x16 || p[1] != 0x03 || p[5] != 1)
		return 0;
	end = 5 + (size_t)be16(p + 3);
	if (end > len)
		end = len;	/* cut by snaplen: parse what is there */
	i = 5 + 4 + 2 + 32;
	n = p[i];			/* session id */
	i += 1 + n;
	if (i + 2 > end)
		return 0;
	i += 2 + be16(p + i);		/* cipher suites */
	if (i + 1 > end)
		return 0;
	i += 1 + (size_t)p[i];		/* compression methods */
	if (i + 2 > end)
		return 0;
	i += 2;				/* extensions length */
	while (i + 4 <= end) {
		uint32_t type = be16(p + i), elen = be16(p + i + 2);

		i += 4;
		if (type == 0) {
			/* server_name: list length, name type 0, name length */
			if (i + 5 > end || p[i + 2] != 0)
				return 0;
			n = be16(p + i + 3);
			if (i + 5 + n > end || n == 0)
				return 0;
			proto_escape(out, cap, p + i + 5, n);
			return 1;
		}
		i += elen;
	}
	return 0;
}

/* A decimal from a RESP/size line ("-1", "12"); 0 with *ok = 0 on junk. */
static int64_t line_int(const char *s, uint32_t len, int *ok)
{
	int64_t v = 0;
	uint32_t i = 0;
	int neg = 0;

	while (len && (s[len - 1] == '\r'))
		len--;
	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	*ok = i < len;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > 1000000000000LL) {
			*ok = 0;
			return 0;
		}
		v = v * 10 + (s[i] - '0');
	}
	return neg ? -v : v;
}

/* ---- Redis commands ---- */

enum { C_START, C_ALINE, C_BTYPE, C_BLINE, C_BULK, C_INLINE };

void resp_cmd_init(struct resp_cmd *d)
{
	memset(d, 0, sizeof(*d));
}

void resp_cmd_resync(struct resp_cmd *d)
{
	resp_cmd_init(d);
}

static void keep_arg(struct resp_cmd *d, int64_t argi, const uint8_t *p, size_t n)
{
	uint8_t *buf = argi == 0 ? d->arg0 : d->arg1;
	uint32_t *blen = argi == 0 ? &d->arg0_len : &d->arg1_len;
	size_t room;

	if (argi > 1)
		return;
	room = RESP_ARG_CAP - *blen;
	if (n > room) {
		if (argi == 1)
			d->arg1_cut = 1;
		n = room;
	}
	memcpy(buf + *blen, p, n);
	*blen += (uint32_t)n;
}

static int cmd_arg_done(struct resp_cmd *d)
{
	d->argi++;
	if (d->argi >= d->nargs) {
		d->state = C_START;
		return RESP_CMD_DONE;
	}
	d->state = C_BTYPE;
	return RESP_CMD_NONE;
}

int resp_cmd_feed(struct resp_cmd *d, const uint8_t *p, size_t len, size_t *used)
{
	size_t i = 0;

	if (d->lost) {
		*used = len;
		return RESP_CMD_NONE;
	}
	while (i < len) {
		uint8_t c = p[i];

		switch (d->state) {
		case C_START:
			if (c == '\r' || c == '\n' || c == ' ') {
				i++;
				break;
			}
			d->arg0_len = d->arg1_len = 0;
			d->arg1_cut = 0;
			d->nargs = d->argi = 0;
			d->linelen = 0;
			if (c == '*') {
				d->inline_cmd = 0;
				d->state = C_ALINE;
				*used = i + 1;
				return RESP_CMD_START;
			}
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
				d->inline_cmd = 1;
				d->state = C_INLINE;
				*used = i;
				return RESP_CMD_START;
			}
			goto lost;
		case C_ALINE:
		case C_BLINE: {
			int ok;
			int64_t n;

			i++;
			if (c != '\n') {
				if (d->linelen >= sizeof(d->line))
					goto lost;
				d->line[d->linelen++] = (char)c;
				break;
			}
			n = line_int(d->line, d->linelen, &ok);
			d->linelen = 0;
			if (!ok)
				goto lost;
			if (d->state == C_ALINE) {
				d->nargs = n;
				if (n <= 0) {
					d->state = C_START;
					*used = i;
					return RESP_CMD_DONE;
				}
				d->state = C_BTYPE;
			} else if (n < 0) {
				if (cmd_arg_done(d) == RESP_CMD_DONE) {
					*used = i;
					return RESP_CMD_DONE;
				}
			} else {
				d->remaining = (uint64_t)n + 2;
				d->state = C_BULK;
			}
			break;
		}
		case C_BTYPE:
			if (c != '$')
				goto lost;
			i++;
			d->state = C_BLINE;
			break;
		case C_BULK: {
			size_t n = len - i;
			uint64_t data_left = d->remaining > 2 ? d->remaining - 2 : 0;

			if (n > d->remaining)
				n = (size_t)d->remaining;
			keep_arg(d, d->argi, p + i, n < data_left ? n : (size_t)data_left);
			i += n;
			d->remaining -= n;
			if (!d->remaining && cmd_arg_done(d) == RESP_CMD_DONE) {
				*used = i;
				return RESP_CMD_DONE;
			}
			break;
		}
		case C_INLINE:
			i++;
			if (c == '\n') {
				d->state = C_START;
				*used = i;
				return RESP_CMD_DONE;
			}
			if (c == '\r')
				break;
			if (c == ' ') {
				if (d->argi < 2 && (d->argi == 0 ? d->arg0_len : d->arg1_len))
					d->argi++;
				break;
			}
			if (++d->linelen > 64 * 1024)
				goto lost;
			keep_arg(d, d->argi, &c, 1);
			break;
		}
	}
	*used = i;
	return RESP_CMD_NONE;
lost:
	d->lost = 1;
	*used = len;
	return RESP_CMD_NONE;
}

void resp_cmd_gap(struct resp_cmd *d, uint64_t n)
{
	/* a gap is only survivable inside a bulk argument's data, and it
	 * must not swallow the CRLF ending it: then the next captured byte
	 * is known to be data or CRLF, never a header */
	if (!d->lost && d->state == C_BULK && n + 2 <= d->remaining) {
		d->remaining -= n;
		if (d->argi == 1)
			d->arg1_cut = 1;
		if (d->argi == 0)
			d->arg0_len = 0;
		return;
	}
	d->lost = 1;
}

static void upper_escape(char *out, size_t cap, const uint8_t *p, size_t n)
{
	uint8_t up[RESP_ARG_CAP];

	for (size_t i = 0; i < n; i++)
		up[i] = (p[i] >= 'a' && p[i] <= 'z') ? (uint8_t)(p[i] - 32) : p[i];
	proto_escape(out, cap, up, n);
}

void resp_cmd_summary(const struct resp_cmd *d, char *out, size_t cap)
{
	size_t o;

	if (cap == 0)
		return;
	upper_escape(out, cap, d->arg0, d->arg0_len);
	o = strlen(out);
	if (d->arg0_len == 0) {
		snprintf(out, cap, "?");
		o = strlen(out);
	}
	if ((d->arg1_len || d->arg1_cut) && o + 2 < cap) {
		out[o++] = ' ';
		o += proto_escape(out + o, cap - o, d->arg1, d->arg1_len);
		if (d->arg1_cut && o + 4 < cap) {
			memcpy(out + o, "...", 4);
		}
	}
}

/* ---- Redis replies ---- */

enum { R_TYPE, R_LINE, R_BULK };

void resp_reply_init(struct resp_reply *d)
{
	memset(d, 0, sizeof(*d));
}

/* An element ended: pop finished aggregates.  1 when a top-level reply ended. */
static int reply_elem_done(struct resp_reply *d)
{
	d->state = R_TYPE;
	while (d->depth > 0) {
		if (--d->stack[d->depth - 1] > 0)
			return 0;
		d->depth--;
	}
	return 1;
}

int resp_reply_feed(struct resp_reply *d, const uint8_t *p, size_t len, size_t *used, int *is_error)
{
	size_t i = 0;

	*is_error = 0;
	if (d->lost) {
		*used = len;
		return 0;
	}
	while (i < len) {
		uint8_t c = p[i];

		switch (d->state) {
		case R_TYPE:
			if (!strchr("+-:_,#($!=*~>%|", c) || c == 0)
				goto lost;
			d->type = c;
			if (d->depth == 0)
				d->top_type = c;
			d->linelen = 0;
			d->state = R_LINE;
			i++;
			break;
		case R_LINE: {
			int ok;
			int64_t n;

			i++;
			if (c != '\n') {
				/* simple strings and errors may be long; only
				 * counts need their digits */
				if (d->linelen < sizeof(d->line))
					d->line[d->linelen] = (char)c;
				d->linelen++;
				if (d->linelen > 1024 * 1024)
					goto lost;
				break;
			}
			if (strchr("+-:_,#(", d->type)) {
				if (reply_elem_done(d))
					goto top;
				break;
			}
			if (d->linelen > sizeof(d->line))
				goto lost;
			n = line_int(d->line, d->linelen, &ok);
			if (!ok)
				goto lost;
			if (strchr("$!=", d->type)) {
				if (n < 0) {
					if (reply_elem_done(d))
						goto top;
				} else {
					d->remaining = (uint64_t)n + 2;
					d->state = R_BULK;
				}
				break;
			}
			if (d->type == '%')
				n *= 2;
			else if (d->type == '|')
				n = n * 2 + 1;	/* attribute pairs, then the element they annotate */
			if (n <= 0) {
				if (reply_elem_done(d))
					goto top;
				break;
			}
			if (d->depth >= (int)(sizeof(d->stack) / sizeof(d->stack[0])))
				goto lost;
			d->stack[d->depth++] = n;
			d->state = R_TYPE;
			break;
		}
		case R_BULK: {
			size_t n = len - i;

			if (n > d->remaining)
				n = (size_t)d->remaining;
			i += n;
			d->remaining -= n;
			if (!d->remaining && reply_elem_done(d))
				goto top;
			break;
		}
		}
	}
	*used = i;
	return 0;
top:
	*used = i;
	*is_error = d->top_type == '-' || d->top_type == '!';
	return 1;
lost:
	d->lost = 1;
	*used = len;
	return 0;
}

void resp_reply_gap(struct resp_reply *d, uint64_t n)
{
	if (!d->lost && d->state == R_BULK && n + 2 <= d->remaining) {
		d->remaining -= n;
		return;
	}
	d->lost = 1;
}

/* ---- PostgreSQL ---- */

enum { PG_HDR, PG_BODY, PG_BODY_END };

void pg_init(struct pg_stream *d, int backend, int untyped)
{
	memset(d, 0, sizeof(*d));
	d->backend = backend;
	d->untyped = untyped;
}

int pg_feed(struct pg_stream *d, const uint8_t *p, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (d->lost) {
		*used = len;
		return PG_NONE;
	}
	if (d->pending_done) {
		/* PG_MSG_START of an empty message was returned: end it */
		d->pending_done = 0;
		return PG_MSG_DONE;
	}
	while (i < len) {
		if (d->remaining == 0) {
			uint32_t need = d->untyped ? 8 : 5;

			if (d->backend && d->expect_ssl_byte && d->hlen == 0) {
				d->expect_ssl_byte = 0;
				d->ssl_answer = p[i];
				d->type = 0;
				*used = i + 1;
				if (p[i] != 'S' && p[i] != 'N' && p[i] != 'E')
					goto lost;
				return PG_MSG_DONE;
			}
			d->hdr[d->hlen++] = p[i++];
			if (d->hlen < need)
				continue;
			d->hlen = 0;
			d->keep_len = 0;
			d->keep_cut = 0;
			if (d->untyped) {
				uint32_t l = be32(d->hdr), code = be32(d->hdr + 4);

				if (l < 8 || l > 100000)
					goto lost;
				d->type = 0;
				d->last_startup_code = code;
				if (code != PG_SSL_REQUEST && code != PG_GSS_REQUEST)
					d->untyped = 0;
				d->remaining = l - 8;
			} else {
				uint32_t l = be32(d->hdr + 1);

				if (l < 4 || l > (1u << 30))
					goto lost;
				d->type = d->hdr[0];
				d->remaining = l - 4;
			}
			*used = i;
			/* an empty message: START now, DONE on the next call */
			d->pending_done = d->remaining == 0;
			return PG_MSG_START;
		}
		{
			size_t n = len - i;

			if (n > d->remaining)
				n = (size_t)d->remaining;
			if (d->keep_len < PG_SQL_CAP) {
				size_t k = PG_SQL_CAP - d->keep_len;

				if (k > n) {
					k = n;
				} else {
					d->keep_cut = 1;
				}
				memcpy(d->keep + d->keep_len, p + i, k);
				d->keep_len += (uint32_t)k;
			} else {
				d->keep_cut = 1;
			}
			i += n;
			d->remaining -= n;
			if (!d->remaining) {
				*used = i;
				return PG_MSG_DONE;
			}
		}
	}
	*used = i;
	return PG_NONE;
lost:
	d->lost = 1;
	*used = len;
	return PG_NONE;
}

void pg_gap(struct pg_stream *d, uint64_t n)
{
	if (!d->lost && d->hlen == 0 && n < d->remaining) {
		d->remaining -= n;
		d->keep_cut = 1;
		return;
	}
	d->lost = 1;
}

void pg_summary(const struct pg_stream *d, char *out, size_t cap)
{
	const uint8_t *s = d->keep;
	size_t n = d->keep_len, k;
	uint8_t tmp[PG_SQL_CAP] = { 0 };
	size_t o;

	if (d->type == 'P') {
		const uint8_t *z = memchr(s, 0, n);

		if (!z) {
			n = 0;
		} else {
			n -= (size_t)(z - s) + 1;
			s = z + 1;
		}
	}
	for (k = 0; k < n && s[k]; k++)
		tmp[k] = (s[k] == '\n' || s[k] == '\t' || s[k] == '\r') ? ' ' : s[k];
	o = proto_escape(out, cap, tmp, k);
	if (k == n && d->keep_cut && o + 4 < cap)
		memcpy(out + o, "...", 4);
}
