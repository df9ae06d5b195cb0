/* SPDX-License-Identifier: MIT */
/*
 * http1.c - HTTP/1.x on one connection, both roles.  Each direction of the
 * byte stream is a small state machine (between messages, head, body by
 * length, chunked, to close, resync) fed captured bytes and told about
 * uncaptured ones; lengths always come from the syscalls' return values,
 * so a hole only costs what it covers.  Messages pair up into exchanges in
 * order (pipelining): on a server connection requests, on a client
 * connection calls.  The parser itself is http1_parse.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* Which direction index carries requests on c. */
static int req_dir(const struct conn *c)
{
	return c->role == HTC_ROLE_SERVER ? DIR_IN : DIR_OUT;
}

struct body_ctx {
	struct htc_engine *e;
	struct exch *x;
	int is_req;
};

static void body_data(void *ctx, const char *p, size_t len)
{
	struct body_ctx *b = ctx;
	struct exch *x = b->x;

	if (!x)
		return;
	if (b->is_req) {
		/* inbound requests keep their captured body for replay, up
		 * to a cap; calls do not need theirs */
		if ((x->flags & HTC_ENGF_BODY_PARTIAL) || x->conn->role != HTC_ROLE_SERVER)
			return;
		if (x->body_len + len > ENG_BODY_CAP) {
			x->flags |= HTC_ENGF_BODY_PARTIAL;
			return;
		}
		if (eng_grow(&x->body, &x->body_cap, x->body_len + len, 1)) {
			x->flags |= HTC_ENGF_BODY_PARTIAL;
			return;
		}
		memcpy(x->body + x->body_len, p, len);
		x->body_len += len;
	} else {
		x->body_hash = fnv1a64(x->body_hash, p, len);
		x->resp_body_len += len;
	}
}

/* The message of direction d ended (its last byte was in the event at ts). */
static void msg_end(struct htc_engine *e, struct conn *c, int d, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	h->state = H_IDLE;
	h->ex = NULL;
	if (!x)
		return;
	if (d == req_dir(c)) {
		x->req_done = 1;
		return;
	}
	if (h->interim) {
		/* 1xx: the final response is still to come */
		h->interim = 0;
		return;
	}
	if (x->status == 101 && c->h2c_upgrade) {
		/* h2c: the request carries on as HTTP/2's stream 1, whose
		 * response is still to come (http1_data hands the bytes
		 * after this head to http2.c) */
		c->h2c_upgrade = 0;
		x->status = 0;
		x->resp_started = 0;
		x->stream_id = 1;
		x->proto = HTC_PROTO_HTTP2;
		x->req_done = 1;
		/* out of memory: HTTP/2 then ignores the connection's bytes
		 * (its data op checks for its state) */
		eng_set_proto(e, c, HTC_PROTO_HTTP2, d, NULL, 0);
		return;
	}
	x->resp_done = 1;
	x->end_ns = ts;
	if (x->status == 101 || (x->is_connect && x->status >= 200 && x->status < 300)) {
		/* the connection stops speaking HTTP */
		c->dir[0].state = c->dir[1].state = H_OFF;
	}
	eng_exch_done(e, x);
}

/* A response direction in resync (or reading to close) holds an exchange
 * whose end is unknown: the next start line, or the peer speaking, ends it. */
static void resp_unknown_end(struct htc_engine *e, struct conn *c)
{
	int d = !req_dir(c);
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	if (!x || (h->state != H_RESYNC && h->state != H_BODY_CLOSE))
		return;
	if (h->state == H_RESYNC)
		x->flags |= HTC_ENGF_RESP_LEN_UNKNOWN;	/* framing lost */
	h->ex = NULL;
	x->resp_done = 1;
	x->end_ns = x->last_resp_ns;
	eng_exch_done(e, x);
}

/* Parse just the start line in buf (when the head is cut or incomplete). */
static void early_start_line(struct htc_engine *e, struct exch *x, const uint8_t *buf, size_t len,
			     int is_req)
{
	const uint8_t *lf = memchr(buf, '\n', len);
	char tmp[2048 + 4];
	struct http_head *hh = &e->hh;
	size_t n;

	if (!x || !lf || (is_req ? x->has_str : x->status != 0))
		return;
	n = (size_t)(lf - buf) + 1;
	if (n > 2048)
		return;
	memcpy(tmp, buf, n);
	tmp[n] = '\r';
	tmp[n + 1] = '\n';
	if (is_req) {
		if (http_parse_request(tmp, n + 2, hh) > 0)
			eng_exch_set_strings(x, hh, "", 0);
	} else if (http_parse_response(tmp, n + 2, hh) > 0 && x->status == 0 &&
		   (hh->status >= 200 || hh->status < 100)) {
		x->status = hh->status;
	}
}

/* What follows a request head: its body by its framing, or the next
 * message. */
static void req_body(struct htc_engine *e, struct conn *c, int d, const struct http_framing *fr,
		     uint64_t ts)
{
	struct hdir *h = &c->dir[d];

	if (fr->chunked) {
		h->state = H_CHUNKED;
		http_chunked_init(&h->ch);
	} else if (fr->content_length > 0) {
		h->state = H_BODY;
		h->remaining = (uint64_t)fr->content_length;
	} else {
		msg_end(e, c, d, ts);
	}
}

/* The head of direction d's message is complete at buf (n bytes), parsed
 * into e->hh by the caller (parsing it again here would find the same). */
static int on_head(struct htc_engine *e, struct conn *c, int d, const char *buf, int n, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct http_head *hh = &e->hh;
	struct http_framing fr;
	struct exch *x = h->ex;

	http_framing(hh, &fr);
	if (is_req && !x) {
		/* a request with no exchange (cut, or out of memory): framed
		 * all the same, so its body is not taken for a head */
		req_body(e, c, d, &fr, ts);
		return 0;
	}
	if (is_req) {
		const char *host;
		size_t hl = 0;

		host = http_header_kind(hh, HTTP_HK_HOST, &hl);
		if (eng_exch_set_strings(x, hh, host ? host : "", host ? hl : 0))
			return -ENOMEM;
		c->info.proto = HTC_PROTO_HTTP;
		if (c->role == HTC_ROLE_SERVER) {
			/* keep the head for replay; headers point into it */
			if (eng_grow(&x->head, &x->head_cap, (size_t)n, 1) ||
			    eng_grow(&x->hdrs, &x->hdrs_cap, hh->nheaders ? hh->nheaders : 1, sizeof(*x->hdrs)))
				return -ENOMEM;
			memcpy(x->head, buf, (size_t)n);
			x->head_len = (size_t)n;
			for (size_t i = 0; i < hh->nheaders; i++) {
				x->hdrs[i].name = (const char *)x->head + (hh->headers[i].name - buf);
				x->hdrs[i].name_len = hh->headers[i].name_len;
				x->hdrs[i].value = (const char *)x->head + (hh->headers[i].value - buf);
				x->hdrs[i].value_len = hh->headers[i].value_len;
			}
			x->nhdrs = hh->nheaders;
			if (eng_evidence_request(e, x, hh, ts))
				return -ENOMEM;
		} else {
			char *s = x->summary;
			size_t o;

			o = proto_escape(s, sizeof(x->summary), (const uint8_t *)hh->method, hh->method_len);
			if (o + 2 < sizeof(x->summary)) {
				s[o++] = ' ';
				proto_escape(s + o, sizeof(x->summary) - o, (const uint8_t *)hh->target,
					     hh->target_len);
			}
			eng_evidence_call(e, x, hh);
		}
		eng_ann_touch(e, x, 1);
		req_body(e, c, d, &fr, ts);
		return 0;
	}
	/* response */
	if (hh->status == 101) {
		size_t ul = 0;
		const char *up = http_header(hh, "upgrade", &ul);

		c->h2c_upgrade = up && http_token_eq(up, ul, "h2c");
	}
	if (x) {
		x->resp_started = 1;
		if (hh->status >= 100 && hh->status < 200 && hh->status != 101) {
			h->interim = 1;
			msg_end(e, c, d, ts);
			return 0;
		}
		x->status = hh->status;
		/* the final response's head, for show and the database:
		 * bounded (a hostile peer's head may be long) */
		{
			size_t hn = (size_t)n < HTC_ENG_MAX_RESP_HEAD ? (size_t)n : HTC_ENG_MAX_RESP_HEAD;

			if (eng_grow(&x->resp_head, &x->resp_head_cap, hn, 1))
				return -ENOMEM;
			memcpy(x->resp_head, buf, hn);
			x->resp_head_len = hn;
		}
	}
	if ((x && x->is_head) || hh->status == 204 || hh->status == 304 ||
	    (hh->status >= 100 && hh->status < 200)) {
		msg_end(e, c, d, ts);
	} else if (x && x->is_connect && hh->status >= 200 && hh->status < 300) {
		msg_end(e, c, d, ts);
	} else if (fr.chunked) {
		h->state = H_CHUNKED;
		http_chunked_init(&h->ch);
	} else if (fr.content_length >= 0) {
		h->remaining = (uint64_t)fr.content_length;
		if (h->remaining == 0)
			msg_end(e, c, d, ts);
		else
			h->state = H_BODY;
	} else {
		h->state = H_BODY_CLOSE;
	}
	return 0;
}

static void add_bytes(struct exch *x, int is_req, uint64_t n, uint64_t ts)
{
	if (!x)
		return;
	if (is_req) {
		x->req_bytes += n;
	} else {
		x->resp_bytes += n;
		x->last_resp_ns = ts;
	}
}

/* A message start in direction d at the event (the first bytes seen). */
static void msg_begin(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev, uint64_t ts,
		      const uint8_t *p)
{
	struct hdir *h = &c->dir[d];

	h->state = H_HEAD;
	h->len = 0;
	h->ex = NULL;
	if (d == req_dir(c)) {
		/* the peer speaks again: a response of unknown length is over */
		resp_unknown_end(e, c);
		/* the request's place in the TCP stream: what links it to
		 * the other end's copy of it (link.c) */
		c->next_tseq_ok = c->kseq_ok;
		c->next_tseq = c->kseq + (uint32_t)(p - c->kseq_p);
		h->ex = eng_exch_start(e, c, ev, ts, HTC_PROTO_HTTP);
		if (h->ex)
			eng_ann_touch(e, h->ex, 1);
	} else {
		/* the response of the oldest exchange still without one */
		for (uint32_t i = 0; i < c->qn; i++)
			if (!c->q[i]->resp_done) {
				h->ex = c->q[i];
				break;
			}
		if (h->ex) {
			if (!h->ex->resp_started)
				h->ex->resp_start_ns = ts;
			eng_ann_touch(e, h->ex, 0);
		}
	}
}

/* The head in progress is not HTTP: drop its exchange, look for a start. */
static void head_error(struct htc_engine *e, struct conn *c, int d)
{
	struct hdir *h = &c->dir[d];
	struct exch *x = h->ex;

	e->st.parse_errors++;
	h->state = H_RESYNC;
	h->len = 0;
	if (x && d == req_dir(c)) {
		/* not a request after all; it made no calls, so nothing
		 * else refers to it: forget it */
		h->ex = NULL;
		if (x->ncalls == 0 && !x->has_str) {
			eng_exch_drop(e, x);
		} else {
			x->flags |= HTC_ENGF_GAP | HTC_ENGF_REQ_GAP;
			x->req_done = 1;
		}
	} else if (x) {
		h->ex = x;	/* its end is now unknown (resync) */
	}
}

static int ends_head(const uint8_t *b, size_t len, size_t from)
{
	size_t i = from > 3 ? from - 3 : 0;

	for (; i < len; i++) {
		const uint8_t *lf = memchr(b + i, '\n', len - i);

		if (!lf)
			return 0;
		i = (size_t)(lf - b);
		if (i + 1 < len && b[i + 1] == '\n')
			return 1;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return 1;
	}
	return 0;
}

/* Captured bytes p[0..len) of direction d. */
static int http_data(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev,
		     uint64_t ts, const uint8_t *p, size_t len, size_t *rest)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct body_ctx bc = { e, NULL, is_req };

	*rest = 0;
	while (len > 0) {
		if (c->ops != &eng_http1) {
			/* upgraded (h2c): the rest is the new protocol's */
			*rest = len;
			return 0;
		}
		/* bytes of a message in progress belong to its exchange */
		if (h->ex && e->ann_serial != h->ex->serial)
			eng_ann_touch(e, h->ex, 0);
		switch (h->state) {
		case H_OFF:
			return 0;
		case H_IDLE: {
			int s;

			while (len > 0 && (*p == '\r' || *p == '\n')) {
				p++;
				len--;
			}
			if (!len)
				return 0;
			s = is_req ? http_is_request_start((const char *)p, len)
				   : http_is_response_start((const char *)p, len);
			if (s == 0) {
				e->st.parse_errors++;
				h->state = H_RESYNC;
				if (!is_req) {
					/* whatever this is, it answers the oldest */
					msg_begin(e, c, d, ev, ts, p);
					h->state = H_RESYNC;
				}
				break;
			}
			msg_begin(e, c, d, ev, ts, p);
			break;
		}
		case H_HEAD: {
			int r;
			size_t old = h->len, take;

			if (old == 0) {
				r = is_req ? http_parse_request((const char *)p, len, &e->hh)
					   : http_parse_response((const char *)p, len, &e->hh);
				if (r > 0) {
					add_bytes(h->ex, is_req, (uint64_t)r, ts);
					if (on_head(e, c, d, (const char *)p, r, ts) == -ENOMEM)
						return -ENOMEM;
					p += r;
					len -= (size_t)r;
					break;
				}
				if (r == HTTP_ERROR) {
					/* resync from the next byte, not this one */
					head_error(e, c, d);
					p++;
					len--;
					break;
				}
			}
			/* accumulate, bounded by the head limit */
			take = len;
			if (old + take > HTTP_MAX_HEAD + 4)
				take = HTTP_MAX_HEAD + 4 - old;
			if (eng_grow(&h->buf, &h->cap, old + take, 1))
				return -ENOMEM;
			memcpy(h->buf + old, p, take);
			h->len = old + take;
			if (!ends_head(h->buf, h->len, old)) {
				if (h->len > HTTP_MAX_HEAD) {
					head_error(e, c, d);
					p += take;
					len -= take;
					break;
				}
				/* only when this piece ends the start line, so a
				 * long line in tiny pieces is not rescanned */
				if (h->ex && !h->ex->has_str && memchr(p, '\n', take)) {
					early_start_line(e, h->ex, h->buf, h->len, is_req);
					if (is_req)
						eng_ann_touch(e, h->ex, 1);
				}
				add_bytes(h->ex, is_req, take, ts);
				p += take;
				len -= take;
				break;
			}
			r = is_req ? http_parse_request((const char *)h->buf, h->len, &e->hh)
				   : http_parse_response((const char *)h->buf, h->len, &e->hh);
			if (r == HTTP_INCOMPLETE && h->len <= HTTP_MAX_HEAD) {
				add_bytes(h->ex, is_req, take, ts);
				p += take;
				len -= take;
				break;
			}
			if (r < 0 || (size_t)r <= old) {
				/* the head started in an earlier event: rescan
				 * this one from its start */
				head_error(e, c, d);
				break;
			}
			add_bytes(h->ex, is_req, (uint64_t)r - old, ts);
			p += (size_t)r - old;
			len -= (size_t)r - old;
			h->len = 0;
			if (on_head(e, c, d, (const char *)h->buf, r, ts) == -ENOMEM)
				return -ENOMEM;
			break;
		}
		case H_BODY: {
			size_t n = len;

			if (n > h->remaining)
				n = (size_t)h->remaining;
			bc.x = h->ex;
			body_data(&bc, (const char *)p, n);
			add_bytes(h->ex, is_req, n, ts);
			p += n;
			len -= n;
			h->remaining -= n;
			if (!h->remaining)
				msg_end(e, c, d, ts);
			break;
		}
		case H_CHUNKED: {
			size_t used = 0;
			int r;

			bc.x = h->ex;
			r = http_chunked_feed(&h->ch, (const char *)p, len, &used, body_data, &bc);
			add_bytes(h->ex, is_req, used, ts);
			p += used;
			len -= used;
			if (r == 1) {
				msg_end(e, c, d, ts);
			} else if (r == HTTP_ERROR) {
				e->st.parse_errors++;
				if (h->ex)
					h->ex->flags |= is_req ? HTC_ENGF_BODY_PARTIAL
							       : HTC_ENGF_RESP_BODY_PARTIAL | HTC_ENGF_RESP_LEN_UNKNOWN;
				if (is_req) {
					msg_end(e, c, d, ts);
					h->state = H_RESYNC;
				} else {
					h->state = H_RESYNC;	/* keep h->ex: end unknown */
				}
			}
			break;
		}
		case H_BODY_CLOSE:
			bc.x = h->ex;
			body_data(&bc, (const char *)p, len);
			add_bytes(h->ex, is_req, len, ts);
			return 0;
		case H_RESYNC: {
			size_t off = http_find_start((const char *)p, len, is_req);

			add_bytes(h->ex, is_req, off, ts);
			if (off == len)
				return 0;
			p += off;
			len -= off;
			if (!is_req)
				resp_unknown_end(e, c);
			h->ex = NULL;
			h->state = H_IDLE;
			break;
		}
		}
	}
	return 0;
}

/* n bytes of direction d were counted but not captured. */
static void http_gap(struct htc_engine *e, struct conn *c, int d, uint64_t n, uint64_t ts)
{
	struct hdir *h = &c->dir[d];
	int is_req = d == req_dir(c);
	struct exch *x = h->ex;

	while (n > 0) {
		if (x)
			x->flags |= HTC_ENGF_GAP | (is_req ? HTC_ENGF_REQ_GAP : 0);
		switch (h->state) {
		case H_OFF:
		case H_RESYNC:
			if (x && !is_req)
				x->flags |= HTC_ENGF_RESP_LEN_UNKNOWN;
			add_bytes(x, is_req, n, ts);
			return;
		case H_IDLE:
			/* a whole message may hide in there */
			h->state = H_RESYNC;
			h->ex = NULL;
			if (!is_req) {
				/* bytes between responses are a response: the
				 * oldest exchange waiting for one got it (its
				 * head lost), so the next start line found is
				 * the next exchange's, not this one's.  Left
				 * waiting, every later response of the
				 * keep-alive connection would be paired one
				 * exchange too early. */
				x = NULL;
				for (uint32_t i = 0; i < c->qn; i++)
					if (!c->q[i]->resp_done) {
						x = h->ex = c->q[i];
						break;
					}
				if (x) {
					x->flags |= HTC_ENGF_GAP | HTC_ENGF_RESP_LEN_UNKNOWN;
					if (!x->resp_started)
						x->resp_start_ns = ts;
					x->resp_started = 1;
					add_bytes(x, 0, n, ts);
				}
			}
			return;
		case H_HEAD:
			early_start_line(e, x, h->buf, h->len, is_req);
			add_bytes(x, is_req, n, ts);
			if (x && !is_req)
				x->flags |= HTC_ENGF_RESP_LEN_UNKNOWN;
			h->len = 0;
			h->state = H_RESYNC;
			if (x && is_req) {
				x->req_done = 1;
				h->ex = NULL;
			} else if (x) {
				x->resp_started = 1;
			}
			return;
		case H_BODY: {
			uint64_t k = n < h->remaining ? n : h->remaining;

			if (x)
				x->flags |= is_req ? HTC_ENGF_BODY_PARTIAL : HTC_ENGF_RESP_BODY_PARTIAL;
			add_bytes(x, is_req, k, ts);
			if (x && !is_req)
				x->resp_body_len += k;	/* framed by its Content-Length */
			h->remaining -= k;
			n -= k;
			if (!h->remaining) {
				msg_end(e, c, d, ts);
				x = NULL;
			}
			break;
		}
		case H_CHUNKED:
			if (x)
				x->flags |= is_req ? HTC_ENGF_BODY_PARTIAL : HTC_ENGF_RESP_BODY_PARTIAL;
			add_bytes(x, is_req, n, ts);
			if (http_chunked_gap(&h->ch, n) == 0) {
				/* inside one chunk's data: the framing holds */
				if (x && !is_req)
					x->resp_body_len += n;
				return;
			}
			if (x && !is_req)
				x->flags |= HTC_ENGF_RESP_LEN_UNKNOWN;
			if (is_req) {
				msg_end(e, c, d, ts);
				h->state = H_RESYNC;
			} else {
				h->state = H_RESYNC;	/* end unknown */
			}
			return;
		case H_BODY_CLOSE:
			if (x) {
				x->flags |= HTC_ENGF_RESP_BODY_PARTIAL;
				x->resp_body_len += n;	/* up to the close, counted */
			}
			add_bytes(x, is_req, n, ts);
			return;
		}
	}
}

/* ---- the protocol's operations ---- */

static int http1_open(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	/* joined mid-stream: each direction starts by looking for a start
	 * line, never by trusting its first byte to be one */
	if (c->preexisting)
		c->dir[DIR_IN].state = c->dir[DIR_OUT].state = H_RESYNC;
	/* a server's first bytes that are no start line (the detection named
	 * it HTTP when they were one): look for one */
	if (c->role == HTC_ROLE_SERVER && c->info.proto != HTC_PROTO_HTTP && len)
		c->dir[d].state = H_RESYNC;
	return 0;
}

/*
 * HTTP/2's preface where a request was expected (its first bytes were too
 * few to tell, or a server's first read was taken for HTTP/1): the
 * connection speaks HTTP/2 from its first byte.  Returns 1 when it
 * switched (k fed to HTTP/2), 0 when not, or -ENOMEM.
 */
static int preface_switch(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct hdir *h = &c->dir[d];
	uint8_t pre[24];
	size_t old = h->state == H_HEAD ? h->len : 0, n;
	int err;

	if (c->role != HTC_ROLE_SERVER || d != DIR_IN || k->lost || !k->len || old >= 4 ||
	    (h->state != H_HEAD && h->state != H_IDLE) || (h->ex && h->ex->has_str) || c->nseq > 1)
		return 0;
	if (old)
		memcpy(pre, h->buf, old);
	n = k->len < sizeof(pre) - old ? k->len : sizeof(pre) - old;
	memcpy(pre + old, k->p, n);
	if (!eng_http2.detect(pre, old + n))
		return 0;
	if (h->ex)
		eng_exch_drop(e, h->ex);
	h->ex = NULL;
	if ((err = eng_set_proto(e, c, HTC_PROTO_HTTP2, d, pre, old + n)))
		return err;
	if (old) {
		struct eng_chunk k0 = *k;

		k0.p = pre;
		k0.len = old;
		k0.tail = 0;
		if ((err = c->ops->data(e, c, d, &k0)))
			return err;
	}
	err = c->ops->data(e, c, d, k);
	return err ? err : 1;
}

static int http1_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	size_t rest;
	int err;

	if ((err = preface_switch(e, c, d, k)))
		return err < 0 ? err : 0;
	if (k->lost)
		http_gap(e, c, d, k->lost, k->ts);
	c->kseq_ok = k->has_seq;
	c->kseq = k->seq;
	c->kseq_p = k->p;
	err = http_data(e, c, d, k->ev, k->ts, k->p, k->len, &rest);
	c->kseq_ok = 0;
	if (err)
		return err;
	if (c->ops != &eng_http1) {
		/* upgraded to h2c mid-event: the rest, and what the syscall
		 * did not capture, are HTTP/2's */
		struct eng_chunk k2 = *k;

		k2.p = k->p + (k->len - rest);
		k2.len = rest;
		k2.lost = 0;
		return c->ops->data(e, c, d, &k2);
	}
	if (k->tail)
		http_gap(e, c, d, k->tail, k->ts);
	/* bytes of no exchange: the client side still belongs to the thread's request */
	if (c->role == HTC_ROLE_CLIENT)
		eng_ann_thread(e, c, k->ev);
	return 0;
}

/* A message cut by the end of the connection. */
static void http1_close(struct htc_engine *e, struct conn *c, int closing)
{
	int rq = req_dir(c);
	struct hdir *hq = &c->dir[rq], *hr = &c->dir[!rq];

	if (closing && hq->ex && (hq->state == H_HEAD || hq->state == H_BODY || hq->state == H_CHUNKED))
		hq->ex->flags |= HTC_ENGF_RESET;
	if (hr->ex && hr->state == H_HEAD && hr->len) {
		/* a response head cut by the end: its status line may be whole */
		early_start_line(e, hr->ex, hr->buf, hr->len, 0);
		if (hr->ex->status)
			hr->ex->resp_started = 1;
	}
	if (hr->ex && (hr->state == H_BODY_CLOSE || hr->state == H_RESYNC)) {
		resp_unknown_end(e, c);
	} else if (closing && hr->ex && (hr->state == H_HEAD || hr->state == H_BODY ||
					 hr->state == H_CHUNKED)) {
		hr->ex->flags |= HTC_ENGF_RESET;
	}
}

static void http1_free(struct conn *c)
{
	for (int d = 0; d < 2; d++) {
		free(c->dir[d].buf);
		c->dir[d].buf = NULL;
		c->dir[d].len = c->dir[d].cap = 0;
		c->dir[d].ex = NULL;
	}
}

static int http1_detect(const uint8_t *p, size_t len)
{
	return http_is_request_start((const char *)p, len) == 1;
}

const struct eng_proto eng_http1 = {
	.id = HTC_PROTO_HTTP,
	.name = "http",
	.detect = http1_detect,
	.open = http1_open,
	.data = http1_data,
	.close = http1_close,
	.free = http1_free,
};
