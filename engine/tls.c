/* SPDX-License-Identifier: MIT */
/*
 * tls.c - TLS seen from outside: records are recognised, not decrypted.
 * A client connection's calls are its runs of writes (calls.c), each
 * named by the server name (SNI) its ClientHello asked for; the handshake
 * is one call, up to the first application data.  An encrypted call is
 * never unanswered: what answers it, if anything, cannot be told.
 *
 * When the capture has the plaintext (TLS records of the file, from the
 * TLS library's calls), the connection switches to it here: the protocol
 * detection starts again on the plaintext, and the ciphertext is counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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

struct tls_state {
	char sni[72];		/* server name from the ClientHello, escaped */
	int app;		/* the client has written application data */
};

const char *htc_tls_name(unsigned tls)
{
	switch (tls) {
	case HTC_TLS_ENCRYPTED:
		return "encrypted";
	case HTC_TLS_OPENSSL:
		return "openssl";
	case HTC_TLS_GNUTLS:
		return "gnutls";
	case HTC_TLS_GO:
		return "go";
	}
	return NULL;
}

void eng_tls_decrypted(struct htc_engine *e, struct conn *c)
{
	/* the handshake's call was the TLS layer's, not the application's */
	while (c->qn)
		eng_exch_drop(e, c->q[0]);
	if (c->ops && c->ops->free)
		c->ops->free(c);
	else
		free(c->ps);
	c->ps = NULL;
	c->ops = NULL;
	c->classified = 0;
	c->info.proto = HTC_PROTO_UNKNOWN;
	c->read_since_write = 0;
	/* exchanges are numbered from the plaintext's first, at both ends */
	c->nseq = 0;
	memset(c->in, 0, sizeof(c->in));
	c->tls_plain = 1;
	if (!c->info.tls)
		c->info.tls = HTC_TLS_ENCRYPTED;	/* until the plaintext names its library */
}

/* A write of handshake records only (handshake 22, change_cipher_spec
 * 20): the handshake goes on. */
static int tls_handshake_write(const struct eng_chunk *k)
{
	return k->len && (k->p[0] == 0x16 || k->p[0] == 0x14);
}

static int tls_data(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k)
{
	struct tls_state *ts = c->ps;

	if (d == DIR_OUT && !ts->app) {
		if (!tls_handshake_write(k))
			ts->app = 1;
		else if (eng_call_newest(c)) {
			/* the client's next handshake flight: the same call
			 * (the turn stays pending for the first data) */
			eng_calls_wrote(e, c, k);
			return 0;
		}
	}
	return eng_calls_runs(e, c, d, k);
}

/* Calls still open at the end: answered (an encrypted exchange has no
 * framing to say otherwise). */
static void tls_close(struct htc_engine *e, struct conn *c, int closing)
{
	for (uint32_t i = 0; i < c->qn; i++) {
		struct exch *x = c->q[i];

		x->answered = 1;
		x->end_ns = x->resp_bytes ? x->last_resp_ns : x->start_ns;
	}
	eng_exch_drain(e, c, 1);
}

static int tls_open(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len)
{
	c->ps = calloc(1, sizeof(struct tls_state));
	return c->ps ? 0 : -ENOMEM;
}

/* Encrypted: the server name is all there is to say. */
static void tls_summary(struct conn *c, const uint8_t *p, size_t len, char *out, size_t cap)
{
	struct tls_state *ts = c->ps;

	if (!ts->sni[0])
		proto_tls_sni(p, len, ts->sni, sizeof(ts->sni));
	snprintf(out, cap, "TLS%s%s", ts->sni[0] ? " " : "", ts->sni);
}

/* A handshake record of TLS 1.0-1.3 (or SSL 3.0). */
static int tls_detect(const uint8_t *p, size_t len)
{
	return len >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04;
}

const struct eng_proto eng_tls = {
	.id = HTC_PROTO_TLS,
	.name = "tls",
	.detect = tls_detect,
	.open = tls_open,
	.data = tls_data,
	.close = tls_close,
	.summary = tls_summary,
};
