/* SPDX-License-Identifier: MIT */
/*
 * postgres.c - the PostgreSQL wire protocol (v3) on a client connection:
 * the frontend's simple (Q) and extended (P) queries become calls named by
 * their SQL, ended by the backend's ReadyForQuery (an ErrorResponse flags
 * them); an SSLRequest answered 'S' hands the connection to TLS.  Written
 * by hand, like redis.c: libpq owns its socket and wants whole messages.
 */
#include <errno.h>
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

/* ---- the protocol's operations (client connections) ---- */

struct pg_state {
	struct pg_stream pf, pb;	/* frontend (client), backend (server) */
	struct exch *cur;	/* call of the message being written... */
	uint64_t cur_serial;	/* ...if still open (its serial unchanged) */
};

static void pg_write(struct htc_engine *e, struct conn *c, const struct eng_chunk *k)
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
		if (r == PG_MSG_START && (ps->pf.type == 'Q' || ps->pf.type == 'P')) {
			ps->cur = eng_call_new(e, c, k, "");
			ps->cur_serial = ps->cur ? ps->cur->serial : 0;
		} else if (r == PG_MSG_DONE) {
			if (ps->cur && !eng_call_open(c, ps->cur, ps->cur_serial))
				ps->cur = NULL;	/* closed meanwhile (reply lost, evicted) */
			if ((ps->pf.type == 'Q' || ps->pf.type == 'P') && ps->cur) {
				pg_summary(&ps->pf, ps->cur->summary, sizeof(ps->cur->summary));
				ps->cur = NULL;
			} else if (ps->pf.type == 0 && (ps->pf.last_startup_code == 80877103u ||
							 ps->pf.last_startup_code == 80877104u)) {
				ps->pb.expect_ssl_byte = 1;
			}
		}
	}
}

static int pg_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct pg_state *ps = c->ps;
	const uint8_t *p = k->p;
	size_t len = k->len;

	if (d == DIR_OUT) {
		if (k->lost)
			pg_gap(&ps->pf, k->lost);
		if (eng_calls_turn(c)) {
			if (ps->pb.lost)
				eng_calls_close_all(e, c);
			if (ps->pf.lost)
				pg_init(&ps->pf, 0, 0);
			if (ps->pb.lost)
				pg_init(&ps->pb, 1, 0);
		}
		pg_write(e, c, k);
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
		if (r == PG_MSG_START && ps->pb.type == 'E' && c->qn)
			c->q[0]->flags |= HTC_ENGF_ERROR;
		if (r == PG_MSG_DONE && ps->pb.type == 0 && ps->pb.ssl_answer == 'S') {
			/* TLS from here on: calls by runs of writes (this
			 * frees ps: nothing of it is read after) */
			return eng_set_proto(e, c, HTC_PROTO_TLS, d, NULL, 0);
		}
		if (r == PG_MSG_DONE && ps->pb.type == 'Z') {
			while (c->qn) {
				struct exch *x = c->q[0];

				x->answered = 1;
				x->end_ns = k->ts;
				eng_exch_done(e, x);
			}
		}
	}
	if (k->tail)
		pg_gap(&ps->pb, k->tail);
	return 0;
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
};
