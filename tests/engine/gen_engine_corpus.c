/* SPDX-License-Identifier: MIT */
/*
 * gen_engine_corpus.c - writes the seed corpus of fuzz_engine: fixture
 * captures ('H' + .htc bytes) and event scripts (see fuzz_engine.c) that
 * walk HTTP, Redis and PostgreSQL exchanges, and TLS decrypted.  `make fuzz-engine-corpus`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static void put(const char *dir, const char *name, const void *a, size_t alen, const void *b, size_t blen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen)) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* A TLS connection decrypted at both ends (format 1.2's TLS records):
 * handshake ciphertext, then plaintext beside ciphertext counted only. */
static void tls_decrypted(struct fx *fx, uint64_t t)
{
	static const unsigned char hello[] = { 0x16, 3, 1, 0, 4, 1, 0, 0, 0 };
	static const unsigned char rec[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };
	const uint64_t ms = 1000000;
	uint64_t c = fx_connect(fx, t += ms, 100, 100, "10.0.0.1", 40000, "10.0.0.2", 443);
	uint64_t s = fx_accept(fx, t += ms, 200, 200, "10.0.0.2", 443, "10.0.0.1", 40000);

	fx_write(fx, t += ms, 100, 100, c, hello, sizeof(hello));
	fx_read(fx, t += ms, 200, 200, s, hello, sizeof(hello));
	fx_write(fx, t += ms, 200, 200, s, hello, sizeof(hello));
	fx_read(fx, t += ms, 100, 100, c, hello, sizeof(hello));
	fx_tls(fx, t += ms, 100, 100, c, HTC_EV_WRITE, HTC_SYS_SSL_WRITE, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	fx_tls_cipher(fx, c);
	fx_tls_cipher(fx, s);
	fx_write_cut(fx, t += ms, 100, 100, c, rec, 0, 60);
	fx_read_cut(fx, t += ms, 200, 200, s, rec, 0, 60);
	fx_tls(fx, t += ms, 200, 200, s, HTC_EV_READ, HTC_SYS_GNUTLS_RECV, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	fx_tls(fx, t += ms, 200, 200, s, HTC_EV_WRITE, HTC_SYS_GO_TLS_WRITE,
	       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	fx_write_cut(fx, t += ms, 200, 200, s, rec, 0, 70);
	fx_read_cut(fx, t += ms, 100, 100, c, rec, 0, 70);
	fx_tls(fx, t += ms, 100, 100, c, HTC_EV_READ, HTC_SYS_SSL_READ, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	fx_close(fx, t += ms, 100, 100, c);
	fx_close(fx, t += ms, 200, 200, s);
}

static void fixture(const char *dir, const char *name, int which)
{
	struct fx *fx = fx_open(NULL, "seed", 1000);
	void *buf;
	size_t len;

	if (which == 0) {
		fx_scenario_keepalive(fx, 2000000000ULL);
	} else if (which == 1) {
		fx_scenario_two_services(fx, 2000000000ULL);
	} else if (which == 2) {
		/* a pool joined mid-way at both ends, TCP sequence numbers
		 * (format 1.2) wrapping, and bytes only the numbers show lost */
		uint64_t t = 2000000000ULL, in, p, q;

		in = fx_accept(fx, t += 1000, 1, 1, "127.0.0.1", 80, "127.0.0.9", 5001);
		p = fx_preexisting(fx, 1, "127.0.0.1", 40000, "127.0.0.1", 9000, HTC_ROLE_UNKNOWN);
		q = fx_preexisting(fx, 2, "127.0.0.1", 9000, "127.0.0.1", 40000, HTC_ROLE_UNKNOWN);
		fx_seq(fx, p, HTC_EV_WRITE, 0xfffffff0u);
		fx_seq(fx, q, HTC_EV_READ, 0xfffffff0u);
		fx_seq(fx, q, HTC_EV_WRITE, 77);
		fx_seq(fx, p, HTC_EV_READ, 77);
		for (int i = 0; i < 3; i++) {
			fx_reads(fx, t += 1000, 1, 1, in, "GET /f HTTP/1.1\r\n\r\n");
			fx_writes(fx, t += 1000, 1, 1, p, "GET /b HTTP/1.1\r\n\r\n");
			fx_reads(fx, t += 1000, 2, 2, q, "GET /b HTTP/1.1\r\n\r\n");
			fx_writes(fx, t += 1000, 2, 2, q, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			if (i == 1)
				fx_seq_skip(fx, p, HTC_EV_READ, 38);
			else
				fx_reads(fx, t += 1000, 1, 1, p, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			fx_writes(fx, t += 1000, 1, 1, in, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		}
	} else {
		tls_decrypted(fx, 2000000000ULL);
	}
	fx_finish(fx, &buf, &len);
	put(dir, name, "H", 1, buf, len);
	free(buf);
}

struct script {
	unsigned char b[4096];
	size_t n;
};

static void op(struct script *s, int kind, int slot, int th)
{
	s->b[s->n++] = (unsigned char)(kind | slot << 3 | th << 5);
}

static void data(struct script *s, int kind, int slot, const void *p, size_t len)
{
	op(s, kind, slot, 0);
	s->b[s->n++] = (unsigned char)len;
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

#define STR(s, k, slot, str) data(s, k, slot, str, strlen(str))

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct script s = { .n = 0 };

	fixture(dir, "fixture-keepalive", 0);
	fixture(dir, "fixture-two-services", 1);
	fixture(dir, "fixture-seq-pool", 2);
	fixture(dir, "fixture-tls-decrypted", 3);

	/* slots 0 and 1: one connection seen from both ends */
	op(&s, 1, 0, 0);
	op(&s, 0, 1, 0);
	STR(&s, 3, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	STR(&s, 2, 1, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	op(&s, 1, 2, 0);
	STR(&s, 3, 2, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	STR(&s, 2, 2, "$1\r\nv\r\n");
	STR(&s, 3, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	STR(&s, 2, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
	op(&s, 4, 0, 0);
	op(&s, 4, 1, 0);
	put(dir, "script-link-redis", s.b, s.n, NULL, 0);

	s.n = 0;
	op(&s, 0, 1, 0);
	STR(&s, 2, 1, "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
	op(&s, 5, 1, 0);
	STR(&s, 2, 1, "GET /x HTTP/1.1\r\n\r\n");
	STR(&s, 6, 1, "HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n");
	STR(&s, 3, 1, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n");
	op(&s, 4, 1, 3);
	put(dir, "script-gaps", s.b, s.n, NULL, 0);

	s.n = 0;
	{
		static const unsigned char startup[] = { 0, 0, 0, 8, 0, 3, 0, 0 };
		static const unsigned char q[] = { 'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0 };
		static const unsigned char z[] = { 'Z', 0, 0, 0, 5, 'I' };

		op(&s, 1, 3, 0);
		data(&s, 3, 3, startup, sizeof(startup));
		data(&s, 2, 3, z, sizeof(z));
		data(&s, 3, 3, q, sizeof(q));
		data(&s, 2, 3, z, sizeof(z));
	}
	put(dir, "script-postgres", s.b, s.n, NULL, 0);

	/* the extended protocol: a named statement parsed once, executed
	 * twice (pipelined, one Sync), then once more after its ReadyForQuery */
	s.n = 0;
	{
		static const unsigned char startup[] = { 0, 0, 0, 8, 0, 3, 0, 0 };
		static const unsigned char z[] = { 'Z', 0, 0, 0, 5, 'I' };
		static const unsigned char parse[] = { 'P', 0, 0, 0, 18, 'P', '0', 0, 'S', 'E', 'L', 'E',
						       'C', 'T', ' ', '$', '1', 0, 0, 0 };
		static const unsigned char bind_exec[] = { 'B', 0, 0, 0, 13, 0, 'P', '0', 0, 0, 0, 0, 0, 0, 0,
							   'E', 0, 0, 0, 9, 0, 0, 0, 0, 0 };
		static const unsigned char sync[] = { 'S', 0, 0, 0, 4 };
		static const unsigned char done[] = { '1', 0, 0, 0, 4, '2', 0, 0, 0, 4,
						      'C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0 };

		op(&s, 1, 3, 0);
		data(&s, 3, 3, startup, sizeof(startup));
		data(&s, 2, 3, z, sizeof(z));
		data(&s, 3, 3, parse, sizeof(parse));
		data(&s, 3, 3, bind_exec, sizeof(bind_exec));
		data(&s, 3, 3, bind_exec, sizeof(bind_exec));
		data(&s, 3, 3, sync, sizeof(sync));
		data(&s, 2, 3, done, sizeof(done));
		data(&s, 2, 3, done + 10, sizeof(done) - 10);
		data(&s, 2, 3, z, sizeof(z));
		data(&s, 3, 3, bind_exec, sizeof(bind_exec));
		data(&s, 3, 3, sync, sizeof(sync));
		data(&s, 2, 3, done + 5, sizeof(done) - 5);
		data(&s, 2, 3, z, sizeof(z));
	}
	put(dir, "script-postgres-extended", s.b, s.n, NULL, 0);

	/* a TLS ClientHello with a server name, then application data */
	s.n = 0;
	{
		static const unsigned char hello[] = {
			0x16, 3, 1, 0, 67, 1, 0, 0, 63, 3, 3,
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
			0, 0, 2, 0x13, 1, 1, 0, 0, 20,
			0, 0, 0, 16, 0, 14, 0, 0, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		};
		static const unsigned char appdata[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };

		op(&s, 1, 0, 0);
		data(&s, 3, 0, hello, sizeof(hello));
		data(&s, 2, 0, appdata, sizeof(appdata));
		data(&s, 3, 0, appdata, sizeof(appdata));
		data(&s, 2, 0, appdata, sizeof(appdata));
	}
	put(dir, "script-tls", s.b, s.n, NULL, 0);

	/* HTTP/2 seen from both ends (slots 0 and 1): preface, SETTINGS, a
	 * GET and a gRPC call (static-table and literal fields, one entry
	 * inserted and then referenced), padded DATA, CONTINUATION, trailers,
	 * RST_STREAM */
	s.n = 0;
	{
		static const unsigned char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
		static const unsigned char req[] = {
			0, 0, 0, 4, 0, 0, 0, 0, 0,				/* SETTINGS */
			0, 0, 7, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 2, 'e', 'x',	/* GET / */
			0, 0, 4, 1, 0, 0, 0, 0, 3, 0x83, 0x86, 0x44, 8,	/* POST /pkg.S/M ... */
			0, 0, 32, 9, 4, 0, 0, 0, 3, '/', 'p', 'k', 'g', '.', 'S', '/', 'M', 0xbf,
			0x5f, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'g', 'r', 'p', 'c',
			0x40, 2, 't', 'e', 0,
			0, 0, 9, 0, 9, 0, 0, 0, 3, 1, 0, 0, 0, 0, 2, 'h', 'i', 0,	/* padded DATA */
		};
		static const unsigned char resp[] = {
			0, 0, 0, 4, 1, 0, 0, 0, 0,				/* SETTINGS ACK */
			0, 0, 1, 1, 4, 0, 0, 0, 1, 0x88,			/* 200 */
			0, 0, 2, 0, 1, 0, 0, 0, 1, 'o', 'k',
			0, 0, 1, 1, 4, 0, 0, 0, 3, 0x88,
			0, 0, 7, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 2, 'y', 'o',
			0, 0, 15, 1, 5, 0, 0, 0, 3, 0x40, 11, 'g', 'r', 'p', 'c', '-', 's', 't', 'a', 't', 'u', 's', 1, '7',
			0, 0, 4, 3, 0, 0, 0, 0, 5, 0, 0, 0, 8,			/* RST_STREAM on 5 */
		};

		op(&s, 1, 0, 0);
		op(&s, 0, 1, 0);
		data(&s, 3, 0, pre, 24);
		data(&s, 3, 0, req, sizeof(req));
		data(&s, 2, 1, pre, 24);
		data(&s, 2, 1, req, sizeof(req));
		data(&s, 3, 1, resp, sizeof(resp));
		data(&s, 2, 0, resp, sizeof(resp));
		op(&s, 4, 0, 0);
		op(&s, 4, 1, 0);
		put(dir, "script-http2", s.b, s.n, NULL, 0);

		/* the same frames joined mid-way (no accept, no preface), a
		 * gap inside a header block, then more frames */
		s.n = 0;
		data(&s, 2, 2, req, sizeof(req));
		op(&s, 5, 2, 0);
		data(&s, 3, 2, resp, sizeof(resp));
		data(&s, 2, 2, req + 9, sizeof(req) - 9);
		put(dir, "script-http2-late", s.b, s.n, NULL, 0);

		/* h2c by Upgrade: HTTP/1.1, 101, then HTTP/2 */
		s.n = 0;
		op(&s, 0, 1, 0);
		STR(&s, 2, 1, "GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
			      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
		STR(&s, 3, 1, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
		data(&s, 3, 1, resp, sizeof(resp));
		data(&s, 2, 1, pre, 24);
		data(&s, 2, 1, req, sizeof(req));
		put(dir, "script-h2c-upgrade", s.b, s.n, NULL, 0);
	}
	return 0;
}
