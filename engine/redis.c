/* SPDX-License-Identifier: MIT */
/*
 * redis.c - Redis (RESP2/RESP3) on a client connection: a streaming
 * decoder of the client's commands (each a call, named by its command and
 * first key) and of the server's replies (each ends the oldest open call;
 * an error reply flags it), fed captured bytes in pieces and told about
 * uncaptured stretches.  Written by hand: hiredis is a client library that
 * owns the socket and wants whole, valid messages; here the bytes are
 * someone else's conversation, captured in pieces with holes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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

/* ---- the protocol's operations (client connections) ---- */

struct redis_state {
	struct resp_cmd rc;	/* the client's commands */
	struct resp_reply rr;	/* the server's replies */
	struct exch *cur;	/* call of the command being written... */
	uint64_t cur_serial;	/* ...if still open (its serial unchanged) */
};

static void redis_write(struct htc_engine *e, struct conn *c, const struct eng_chunk *k)
{
	struct redis_state *ps = c->ps;
	const uint8_t *p = k->p;
	size_t len = k->len;

	while (len > 0) {
		size_t used = 0;
		int r = resp_cmd_feed(&ps->rc, p, len, &used);

		p += used;
		len -= used;
		if (r == RESP_CMD_START) {
			ps->cur = eng_call_new(e, c, k, "?");
			ps->cur_serial = ps->cur ? ps->cur->serial : 0;
		} else if (r == RESP_CMD_DONE) {
			/* the command's own call, if it got one (not cut) and is
			 * still open: never an older call's name */
			if (ps->cur && eng_call_open(c, ps->cur, ps->cur_serial))
				resp_cmd_summary(&ps->rc, ps->cur->summary, sizeof(ps->cur->summary));
			ps->cur = NULL;
		}
		if (ps->rc.lost && !eng_call_newest(c)) {
			/* framing lost: one call for this run of writes */
			char s[64];

			proto_escape(s, 40, p, len);
			eng_call_new(e, c, k, s);
			return;
		}
	}
}

static int redis_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct redis_state *ps = c->ps;
	const uint8_t *p = k->p;
	size_t len = k->len;

	if (d == DIR_OUT) {
		if (k->lost)
			resp_cmd_gap(&ps->rc, k->lost);
		if (eng_calls_turn(c)) {
			/* a reply stream that lost its framing ends the calls it
			 * could not answer one by one */
			if (ps->rr.lost)
				eng_calls_close_all(e, c);
			resp_reply_init(&ps->rr);
			if (ps->rc.lost)
				resp_cmd_resync(&ps->rc);
		}
		redis_write(e, c, k);
		eng_calls_wrote(e, c, k);
		if (k->tail)
			resp_cmd_gap(&ps->rc, k->tail);
		return 0;
	}
	eng_calls_read(e, c, k);
	if (k->lost)
		resp_reply_gap(&ps->rr, k->lost);
	while (len > 0) {
		size_t used = 0;
		int iserr = 0;

		if (resp_reply_feed(&ps->rr, p, len, &used, &iserr) == 1 && c->qn) {
			struct exch *x = c->q[0];

			x->answered = 1;
			x->end_ns = k->ts;
			if (iserr)
				x->flags |= HTC_ENGF_ERROR;
			eng_exch_done(e, x);
		}
		p += used;
		len -= used;
	}
	if (k->tail)
		resp_reply_gap(&ps->rr, k->tail);
	return 0;
}

static int redis_open(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	struct redis_state *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	resp_cmd_init(&ps->rc);
	resp_reply_init(&ps->rr);
	c->ps = ps;
	return 0;
}

/* A RESP array of bulk strings: how every client sends its commands. */
static int redis_detect(const uint8_t *p, size_t len)
{
	return len >= 2 && p[0] == '*' && p[1] >= '0' && p[1] <= '9';
}

const struct eng_proto eng_redis = {
	.id = HTC_PROTO_REDIS,
	.name = "redis",
	.port = 6379,
	.detect = redis_detect,
	.open = redis_open,
	.data = redis_data,
	.close = eng_calls_close,
};
