/* SPDX-License-Identifier: MIT */
/*
 * detect.c - which protocol a connection speaks, and which end is the
 * client: from the first captured bytes (a start line, a command, a
 * handshake), else the server's well-known port, else the ephemeral port.
 * The protocols are the rows of eng_protos[]; a new one is a row here and
 * a file of its own.  Also the one escaping rule for bytes shown to people.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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

/* ---- the protocols, and which one a connection speaks ---- */

/* Rows tried in order on a client's first bytes, then by port. */
static const struct eng_proto *const eng_protos[] = {
	&eng_http2,	/* before HTTP/1: its preface reads as a request line */
	&eng_grpc,	/* named only: its connections are eng_http2's */
	&eng_http1,
	&eng_redis,
	&eng_postgres,
	&eng_tls,
};
#define NPROTOS (sizeof(eng_protos) / sizeof(eng_protos[0]))

const struct eng_proto *eng_proto_of(unsigned id)
{
	for (size_t i = 0; i < NPROTOS; i++)
		if (eng_protos[i]->id == id)
			return eng_protos[i];
	return &eng_unknown;
}

const char *htc_proto_name(unsigned proto)
{
	return eng_proto_of(proto)->name;
}

int proto_detect_client(const uint8_t *p, size_t len, uint16_t server_port)
{
	if (len >= 1)
		for (size_t i = 0; i < NPROTOS; i++)
			if (eng_protos[i]->detect && eng_protos[i]->detect(p, len))
				return eng_protos[i]->id;
	for (size_t i = 0; i < NPROTOS; i++)
		if (eng_protos[i]->port && eng_protos[i]->port == server_port)
			return eng_protos[i]->id;
	return HTC_PROTO_UNKNOWN;
}

int eng_set_proto(struct htc_engine *e, struct conn *c, unsigned id, int d, const uint8_t *p, size_t len)
{
	if (c->ops && c->ops->free)
		c->ops->free(c);
	else
		free(c->ps);
	c->ps = NULL;
	c->info.proto = (uint8_t)id;
	c->ops = eng_proto_of(id);
	return c->ops->open ? c->ops->open(e, c, d, p, len) : 0;
}

int eng_classify(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	int looks_req = len ? http_is_request_start((const char *)p, len) == 1 : 0;
	int looks_resp = len ? http_is_response_start((const char *)p, len) == 1 : 0;
	int maybe_req = len ? http_is_request_start((const char *)p, len) != 0 : 0;
	/* HTTP/2: its client's preface, or frames seen mid-stream */
	int h2 = len && eng_http2.detect(p, len) &&
		 (c->role == HTC_ROLE_UNKNOWN || (c->role == HTC_ROLE_SERVER) == (d == DIR_IN));
	int h2_req = -1;
	int pr;

	if (!h2 && len && c->preexisting && !looks_req && !looks_resp &&
	    proto_detect_client(p, len, 0) == HTC_PROTO_UNKNOWN)
		h2 = eng_h2_sniff(p, len, &h2_req);
	if (h2) {
		if (c->role == HTC_ROLE_UNKNOWN) {
			uint16_t lp = c->info.ep.lport, rp = c->info.ep.rport;

			if (looks_req || h2_req == 1)	/* the preface, or a request's header block */
				c->role = d == DIR_IN ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
			else if (h2_req == 0)
				c->role = d == DIR_IN ? HTC_ROLE_CLIENT : HTC_ROLE_SERVER;
			else if (lp < rp && rp >= 32768)
				c->role = HTC_ROLE_SERVER;
			else
				c->role = HTC_ROLE_CLIENT;
			c->info.ep.role = (uint8_t)c->role;
		}
		c->classified = 1;
		return eng_set_proto(e, c, HTC_PROTO_HTTP2, d, p, len);
	}
	if (c->role == HTC_ROLE_UNKNOWN && !looks_req && !looks_resp && len) {
		/* seen mid-stream: a whole start line further on tells the
		 * role (one cut by the end of the bytes does not) */
		size_t o = http_find_start((const char *)p, len, 1);

		looks_req = o < len && http_is_request_start((const char *)p + o, len - o) == 1;
		o = http_find_start((const char *)p, len, 0);
		looks_resp = !looks_req && o < len &&
			     http_is_response_start((const char *)p + o, len - o) == 1;
	}

	if (c->role == HTC_ROLE_UNKNOWN) {
		uint16_t lp = c->info.ep.lport, rp = c->info.ep.rport;

		pr = len ? proto_detect_client(p, len, 0) : HTC_PROTO_UNKNOWN;
		if (looks_req)
			c->role = d == DIR_IN ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
		else if (looks_resp)
			c->role = d == DIR_IN ? HTC_ROLE_CLIENT : HTC_ROLE_SERVER;
		else if (pr != HTC_PROTO_UNKNOWN)
			/* a command or handshake: its reader is the server */
			c->role = d == DIR_IN ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
		else if (lp < rp && rp >= 32768)
			/* no clue in the bytes (a forked worker answering
			 * first...): the side with the ephemeral port (Linux
			 * uses 32768-60999) is the client */
			c->role = HTC_ROLE_SERVER;
		else
			c->role = HTC_ROLE_CLIENT;
		c->info.ep.role = (uint8_t)c->role;
	}
	if (c->role == HTC_ROLE_SERVER) {
		pr = HTC_PROTO_UNKNOWN;
		if (d == DIR_OUT && !looks_resp)
			return 0;	/* the server speaks first: wait for the client */
		if (d == DIR_IN && !maybe_req)
			pr = proto_detect_client(p, len, c->info.ep.lport);
		c->classified = 1;
		if (pr == HTC_PROTO_REDIS || pr == HTC_PROTO_POSTGRES || pr == HTC_PROTO_TLS) {
			/* named, not decoded: its client's side is */
			c->info.proto = (uint8_t)pr;
			return 0;
		}
		/* HTTP until shown otherwise; named once a head parses */
		if (looks_req || looks_resp)
			c->info.proto = HTC_PROTO_HTTP;
		c->ops = &eng_http1;
		return eng_http1.open(e, c, d, p, len);
	}
	/* client */
	if (d == DIR_OUT && len) {
		pr = proto_detect_client(p, len, c->info.ep.rport);
		if (pr == HTC_PROTO_UNKNOWN && maybe_req)
			pr = HTC_PROTO_HTTP;	/* a start line cut short */
	} else if (d == DIR_IN && looks_resp) {
		pr = HTC_PROTO_HTTP;
	} else if (!len || d == DIR_IN) {
		pr = proto_detect_client(p, 0, c->info.ep.rport);
	} else {
		pr = c->info.proto;
	}
	c->classified = 1;
	return eng_set_proto(e, c, (unsigned)pr, d, p, len);
}
