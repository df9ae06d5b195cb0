/* SPDX-License-Identifier: MIT */
/*
 * calls.c - calls on client connections of the protocols other than HTTP:
 * the helpers their decoders share (a call per command, bytes to the
 * newest call as the client writes and to the oldest as the server
 * answers), and, for protocols the engine does not decode (TLS, unknown
 * ones), calls by runs of writes: one call from the client's write to its
 * next write after an answer, named by its first bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

void eng_calls_close_all(struct htc_engine *e, struct conn *c)
{
	while (c->qn > 0) {
		struct exch *x = c->q[0];

		if (x->resp_bytes) {
			x->answered = 1;
			x->end_ns = x->last_resp_ns;
		}
		eng_exch_done(e, x);
	}
}

struct exch *eng_call_new(struct htc_engine *e, struct conn *c, const struct eng_chunk *k,
			  const char *summary)
{
	struct exch *x = eng_exch_start(e, c, k->ev, k->ts, c->info.proto);
	size_t n = strlen(summary);

	if (!x)
		return NULL;
	if (n >= sizeof(x->summary))
		n = sizeof(x->summary) - 1;
	memcpy(x->summary, summary, n);
	x->summary[n] = 0;
	eng_ann_touch(e, x, 0);
	return x;
}

int eng_call_open(const struct conn *c, const struct exch *x, uint64_t serial)
{
	for (uint32_t i = 0; i < c->qn; i++)
		if (c->q[i] == x)
			return x->serial == serial;
	return 0;
}

struct exch *eng_call_newest(struct conn *c)
{
	return c->qn ? c->q[c->qn - 1] : NULL;
}

int eng_calls_turn(struct conn *c)
{
	if (!c->read_since_write)
		return 0;
	c->read_since_write = 0;
	return 1;
}

void eng_calls_wrote(struct htc_engine *e, struct conn *c, const struct eng_chunk *k)
{
	struct exch *x = eng_call_newest(c);

	if (x) {
		x->req_bytes += k->lost + k->len + k->tail;
		eng_ann_touch(e, x, 0);
	} else {
		eng_ann_thread(e, c, k->ev);
	}
}

void eng_calls_read(struct htc_engine *e, struct conn *c, const struct eng_chunk *k)
{
	struct exch *x = c->qn ? c->q[0] : NULL;

	c->read_since_write = 1;
	if (x) {
		x->resp_bytes += k->lost + k->len + k->tail;
		x->last_resp_ns = k->ts;
		x->resp_started = 1;
		eng_ann_touch(e, x, 0);
	}
}

int eng_calls_runs(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	if (d != DIR_OUT) {
		eng_calls_read(e, c, k);
		return 0;
	}
	/* the client speaks again after answers: the run is over */
	if (eng_calls_turn(c))
		eng_calls_close_all(e, c);
	if (!eng_call_newest(c)) {
		char s[96];

		if (c->ops && c->ops->summary)
			c->ops->summary(c, k->p, k->len, s, sizeof(s));
		else if (k->len)
			proto_escape(s, 40, k->p, k->len);
		else
			snprintf(s, sizeof(s), "(%llu bytes not captured)",
				 (unsigned long long)(k->lost + k->tail));
		eng_call_new(e, c, k, s);
	}
	eng_calls_wrote(e, c, k);
	return 0;
}

void eng_calls_close(struct htc_engine *e, struct conn *c, int closing)
{
	eng_exch_drain(e, c, 1);
}

/* An unknown protocol: its calls are runs of writes, until its client's
 * bytes show a protocol the engine decodes. */
static int unknown_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	if (d == DIR_OUT && k->len) {
		/* a late chance to recognise it */
		int pr = proto_detect_client(k->p, k->len, c->info.ep.rport);

		if (pr == HTC_PROTO_REDIS || pr == HTC_PROTO_POSTGRES || pr == HTC_PROTO_HTTP2) {
			int err = eng_set_proto(e, c, (unsigned)pr, d, k->p, k->len);

			/* an HTTP/2 server speaks first (its SETTINGS): the
			 * client's preface names the protocol only now */
			if (!err && eng_proto_linked((unsigned)pr) && !c->preexisting && !c->link)
				eng_link_attach(e, c);
			return err ? err : c->ops->data(e, c, d, k);
		}
	}
	return eng_calls_runs(e, c, d, k);
}

const struct eng_proto eng_unknown = {
	.id = HTC_PROTO_UNKNOWN,
	.name = "unknown",
	.data = unknown_data,
	.close = eng_calls_close,
};
