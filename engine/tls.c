/* SPDX-License-Identifier: MIT */
/*
 * tls.c - TLS seen from outside: records are recognised, not decrypted.
 * A client connection's calls are its runs of writes (calls.c), each
 * named by the server name (SNI) its ClientHello asked for.
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
};

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
	.data = eng_calls_runs,
	.close = eng_calls_close,
	.summary = tls_summary,
};
