/* SPDX-License-Identifier: MIT */
/*
 * postgres.c - the PostgreSQL wire protocol (v3) on a client connection:
 * the frontend's simple (Q) and extended (P) queries become calls named by
 * their SQL, ended by the backend's ReadyForQuery (an ErrorResponse flags
 * them); an SSLRequest answered 'S' hands the connection to TLS.  Written
 * by hand, like redis.c: libpq owns its socket and wants whole messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define PG_STARTUP_V3 196608u
#define PG_SSL_REQUEST 80877103u
#define PG_GSS_REQUEST 80877104u
#define PG_CANCEL 80877102u

/* ---- the decoder ---- */

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

/* The n-th (0-based) NUL-terminated string of the kept body bytes from
 * offset from: OUT *len.  NULL when the kept bytes end first. */
static const uint8_t *pg_str(const struct pg_stream *d, size_t from, unsigned n, size_t *len)
{
	const uint8_t *s = d->keep + from, *end = d->keep + d->keep_len;

	if (from > d->keep_len)
		return NULL;
	for (;;) {
		const uint8_t *z = memchr(s, 0, (size_t)(end - s));

		if (!z)
			return NULL;
		if (n-- == 0) {
			*len = (size_t)(z - s);
			return s;
		}
		s = z + 1;
	}
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
	if (k < n || !d->keep_cut) {
		/* the whole text: a statement is named without its final
		 * semicolon ("BEGIN;" is BEGIN) */
		size_t m = k;

		while (m > 0 && tmp[m - 1] == ' ')
			m--;
		if (m > 0 && tmp[m - 1] == ';') {
			m--;
			while (m > 0 && tmp[m - 1] == ' ')
				m--;
			k = m;
		}
	}
	o = proto_escape(out, cap, tmp, k);
	if (k == n && d->keep_cut && o + 4 < cap)
		memcpy(out + o, "...", 4);
}

/* ---- the protocol's operations (client connections) ---- */

/*
 * Calls.  A simple Query ('Q') is one call, named by its SQL, ended by the
 * ReadyForQuery that follows it.  In the extended protocol every Execute
 * is one call, named by the SQL of the statement its portal was bound to
 * (remembered from the Parse, which may be long before: prepared
 * statements are parsed once and executed many times), ended by its own
 * CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse;
 * Parse, Bind, Describe and Sync alone make no call.  After an error the
 * server skips the messages up to the next Sync: Executes skipped so end
 * at the ReadyForQuery that answers that Sync, flagged as errors.
 *
 * The backend answers in order, so each call carries its sync group
 * (ptag): the number of ReadyForQuery the client awaited before it (one
 * per startup, Query and Sync sent).  A completion ends the oldest call
 * only when it is of the group being answered; a ReadyForQuery ends every
 * call of that group.
 */
#define PG_MAX_NAMES 64		/* statements and portals remembered per connection */
#define PG_NAME_CAP 64		/* bytes kept of a statement or portal name */

struct pg_name {
	uint8_t kind;		/* 'S' statement, 'P' portal; 0 free */
	uint8_t len;
	char name[PG_NAME_CAP];
	char sql[ENG_SUMMARY_CAP];
};

#define PG_TAG_EXT 1ull		/* ptag: an Execute's call (else a Query's) */

struct pg_state {
	struct pg_stream pf, pb;	/* frontend (client), backend (server) */
	struct exch *cur;	/* call of the message being written... */
	uint64_t cur_serial;	/* ...if still open (its serial unchanged) */
	uint32_t fz;		/* ReadyForQuery the client awaits, so far */
	uint32_t bz;		/* ReadyForQuery received (of those awaited) */
	struct pg_name *names;	/* statements and portals, grown up to PG_MAX_NAMES */
	size_t nnames, names_cap, victim;
};

static uint32_t pg_group(const struct exch *x)
{
	return (uint32_t)(x->ptag >> 1);
}

static struct pg_name *pg_name_find(struct pg_state *ps, uint8_t kind, const uint8_t *name, size_t len)
{
	if (len > PG_NAME_CAP)
		len = PG_NAME_CAP;
	for (size_t i = 0; i < ps->nnames; i++) {
		struct pg_name *n = &ps->names[i];

		if (n->kind == kind && n->len == len && !memcmp(n->name, name, len))
			return n;
	}
	return NULL;
}

/* Remember name (of kind) as standing for sql; a full table gives up its
 * entries in turn (round robin). */
static int pg_name_set(struct pg_state *ps, uint8_t kind, const uint8_t *name, size_t len, const char *sql)
{
	struct pg_name *n = pg_name_find(ps, kind, name, len);

	if (len > PG_NAME_CAP)
		len = PG_NAME_CAP;
	if (!n) {
		if (ps->nnames < PG_MAX_NAMES) {
			if (eng_grow(&ps->names, &ps->names_cap, ps->nnames + 1, sizeof(*ps->names)))
				return -ENOMEM;
			n = &ps->names[ps->nnames++];
		} else {
			n = &ps->names[ps->victim++ % PG_MAX_NAMES];
		}
		n->kind = kind;
		n->len = (uint8_t)len;
		memcpy(n->name, name, len);
	}
	snprintf(n->sql, sizeof(n->sql), "%s", sql);
	return 0;
}

static void pg_name_drop(struct pg_state *ps, uint8_t kind, const uint8_t *name, size_t len)
{
	struct pg_name *n = pg_name_find(ps, kind, name, len);

	if (n)
		n->kind = 0;
}

/* The SQL bound to a statement name the Parse of which was not seen. */
static void pg_unknown_name(char *out, size_t cap, const char *what, const uint8_t *name, size_t len)
{
	char esc[4 * PG_NAME_CAP + 1];

	proto_escape(esc, sizeof(esc), name, len > PG_NAME_CAP ? PG_NAME_CAP : len);
	snprintf(out, cap, "(%s \"%.160s\" prepared before the capture)", what, esc);
}

/* A frontend message of the extended protocol ended (keep[] holds its
 * first bytes).  0 or -ENOMEM. */
static int pg_ext_message(struct htc_engine *e, struct conn *c, struct pg_state *ps,
			  const struct eng_chunk *k)
{
	const struct pg_stream *d = &ps->pf;
	const uint8_t *a, *b;
	size_t alen, blen;
	char sql[ENG_SUMMARY_CAP];
	struct pg_name *n;

	switch (d->type) {
	case 'P':	/* Parse: statement name, query, parameter types */
		a = pg_str(d, 0, 0, &alen);
		if (!a)
			return 0;
		pg_summary(d, sql, sizeof(sql));
		return pg_name_set(ps, 'S', a, alen, sql);
	case 'B':	/* Bind: portal name, statement name, parameters */
		a = pg_str(d, 0, 0, &alen);
		b = pg_str(d, 0, 1, &blen);
		if (!a || !b)
			return 0;
		n = pg_name_find(ps, 'S', b, blen);
		if (n)
			snprintf(sql, sizeof(sql), "%s", n->sql);
		else
			pg_unknown_name(sql, sizeof(sql), "statement", b, blen);
		return pg_name_set(ps, 'P', a, alen, sql);
	case 'E': {	/* Execute: portal name, row limit */
		struct exch *x;

		a = pg_str(d, 0, 0, &alen);
		if (!a)
			a = (const uint8_t *)"", alen = 0;
		n = pg_name_find(ps, 'P', a, alen);
		if (n)
			snprintf(sql, sizeof(sql), "%s", n->sql);
		else
			pg_unknown_name(sql, sizeof(sql), "portal", a, alen);
		x = eng_call_new(e, c, k, sql);
		if (x)
			x->ptag = (uint64_t)ps->fz << 1 | PG_TAG_EXT;
		return 0;
	}
	case 'C':	/* Close: 'S' or 'P', name */
		if (d->keep_len >= 2 && (d->keep[0] == 'S' || d->keep[0] == 'P')) {
			a = pg_str(d, 1, 0, &alen);
			if (a)
				pg_name_drop(ps, d->keep[0], a, alen);
		}
		return 0;
	case 'S':	/* Sync: a ReadyForQuery will answer */
		ps->fz++;
		return 0;
	}
	return 0;
}

static int pg_write(struct htc_engine *e, struct conn *c, const struct eng_chunk *k)
{
	struct pg_state *ps = c->ps;
	const uint8_t *p = k->p;
	size_t len = k->len;

	while (len > 0 || ps->pf.pending_done) {
		size_t used = 0;
		int r = pg_feed(&ps->pf, p, len, &used);

		p += used;
		len -= used;
		if (r == PG_NONE)
			break;
		if (r == PG_MSG_START && ps->pf.type == 'Q') {
			ps->cur = eng_call_new(e, c, k, "");
			ps->cur_serial = ps->cur ? ps->cur->serial : 0;
			if (ps->cur)
				ps->cur->ptag = (uint64_t)ps->fz << 1;
			ps->fz++;
		} else if (r == PG_MSG_DONE) {
			if (ps->cur && !eng_call_open(c, ps->cur, ps->cur_serial))
				ps->cur = NULL;	/* closed meanwhile (reply lost, evicted) */
			if (ps->pf.type == 'Q' && ps->cur) {
				pg_summary(&ps->pf, ps->cur->summary, sizeof(ps->cur->summary));
				ps->cur = NULL;
			} else if (ps->pf.type == 0 && (ps->pf.last_startup_code == PG_SSL_REQUEST ||
							 ps->pf.last_startup_code == PG_GSS_REQUEST)) {
				ps->pb.expect_ssl_byte = 1;
			} else if (ps->pf.type == 0 && ps->pf.last_startup_code == PG_STARTUP_V3) {
				ps->fz++;	/* the ReadyForQuery after authentication */
			} else if (ps->pf.type && pg_ext_message(e, c, ps, k)) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* The backend ended the oldest call (a completion message, or an error
 * flagged): when it is of the group being answered. */
static void pg_end_oldest(struct htc_engine *e, struct conn *c, struct pg_state *ps,
			  const struct eng_chunk *k, int error)
{
	struct exch *x = c->qn ? c->q[0] : NULL;

	if (!x || pg_group(x) != ps->bz)
		return;
	if (error)
		x->flags |= HTC_ENGF_ERROR;
	if (!(x->ptag & PG_TAG_EXT))
		return;		/* a Query's calls end at ReadyForQuery */
	x->answered = 1;
	x->end_ns = k->ts;
	eng_exch_done(e, x);
}

/* ReadyForQuery: every call of the group being answered ends. */
static void pg_ready(struct htc_engine *e, struct conn *c, struct pg_state *ps, const struct eng_chunk *k)
{
	if (ps->bz == ps->fz)
		return;		/* answers a message sent before the capture */
	while (c->qn && (int32_t)(pg_group(c->q[0]) - ps->bz) <= 0) {
		struct exch *x = c->q[0];

		/* an Execute ended here was skipped after an error */
		if (x->ptag & PG_TAG_EXT)
			x->flags |= HTC_ENGF_ERROR;
		x->answered = 1;
		x->end_ns = k->ts;
		eng_exch_done(e, x);
	}
	ps->bz++;
}

static int pg_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct pg_state *ps = c->ps;
	const uint8_t *p = k->p;
	size_t len = k->len;

	if (d == DIR_OUT) {
		if (k->lost)
			pg_gap(&ps->pf, k->lost);
		if (eng_calls_turn(c) && (ps->pb.lost || ps->pf.lost)) {
			/* framing lost: what was asked is over; count
			 * afresh from here */
			eng_calls_close_all(e, c);
			if (ps->pf.lost)
				pg_init(&ps->pf, 0, 0);
			if (ps->pb.lost)
				pg_init(&ps->pb, 1, 0);
			ps->bz = ps->fz;
		}
		if (pg_write(e, c, k))
			return -ENOMEM;
		eng_calls_wrote(e, c, k);
		if (k->tail)
			pg_gap(&ps->pf, k->tail);
		return 0;
	}
	eng_calls_read(e, c, k);
	if (k->lost)
		pg_gap(&ps->pb, k->lost);
	while (len > 0 || ps->pb.pending_done) {
		size_t used = 0;
		int r = pg_feed(&ps->pb, p, len, &used);

		p += used;
		len -= used;
		if (r == PG_NONE)
			break;
		if (r == PG_MSG_DONE && ps->pb.type == 0 && ps->pb.ssl_answer == 'S') {
			/* TLS from here on: calls by runs of writes (this
			 * frees ps: nothing of it is read after) */
			return eng_set_proto(e, c, HTC_PROTO_TLS, d, NULL, 0);
		}
		if (r != PG_MSG_DONE)
			continue;
		switch (ps->pb.type) {
		case 'C':	/* CommandComplete */
		case 'I':	/* EmptyQueryResponse */
		case 's':	/* PortalSuspended */
			pg_end_oldest(e, c, ps, k, 0);
			break;
		case 'E':	/* ErrorResponse */
			pg_end_oldest(e, c, ps, k, 1);
			break;
		case 'Z':
			pg_ready(e, c, ps, k);
			break;
		}
	}
	if (k->tail)
		pg_gap(&ps->pb, k->tail);
	return 0;
}

static void pg_free(struct conn *c)
{
	struct pg_state *ps = c->ps;

	if (ps)
		free(ps->names);
	free(ps);
	c->ps = NULL;
}

static int pg_open(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	struct pg_state *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	/* a startup message is untyped; a connection seen mid-way is not */
	pg_init(&ps->pf, 0, d == DIR_OUT && len >= 8 && p[0] == 0);
	pg_init(&ps->pb, 1, 0);
	c->ps = ps;
	return 0;
}

/* A startup, SSL/GSS encryption or cancel request: the only untyped
 * messages, one of which begins every session (or cancel). */
static int pg_detect(const uint8_t *p, size_t len)
{
	uint32_t l, code;

	if (len < 8)
		return 0;
	l = be32(p);
	code = be32(p + 4);
	return l >= 8 && l <= 10000 && (code == PG_STARTUP_V3 || code == PG_SSL_REQUEST ||
					code == PG_GSS_REQUEST || code == PG_CANCEL);
}

const struct eng_proto eng_postgres = {
	.id = HTC_PROTO_POSTGRES,
	.name = "postgres",
	.port = 5432,
	.detect = pg_detect,
	.open = pg_open,
	.data = pg_data,
	.close = eng_calls_close,
	.free = pg_free,
};
