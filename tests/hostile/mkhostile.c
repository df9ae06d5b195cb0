// SPDX-License-Identifier: MIT
/*
 * mkhostile.c - the crafted captures of `make test-hostile`, written with
 * the project's own writer (tests/lib): valid files whose contents attack
 * the tools that read them.  Each is small on disk and large, or odd, in
 * what it says:
 *
 *   bomb_pipelined.htc  2,500 reads of 64 KiB of "GET /p HTTP/1.1" + blank
 *                       line: 8.6 million pipelined requests in ~52 KB
 *   bomb_lines.htc      the same line with no blank line: a head that
 *                       never ends, 64 KiB per read
 *   bomb_redis.htc      2,500 writes of 64 KiB of RESP PING commands to
 *                       port 6379: 11 million calls
 *   bomb_bodies.htc     400 POSTs of 1 MiB bodies of one byte repeated
 *   bomb_conns.htc      4,000 connections opened and never closed (the
 *                       fixture writer's limit) with unfinished heads
 *   offset_max.htc      a realtime offset of INT64_MAX and times near 2^63
 *   lost_huge.htc       loss counts near UINT64_MAX
 *   control.htc         ESC, OSC, NUL, DEL, C1 and U+202E in request
 *                       lines, reason phrases, header values and bodies
 *   pcap_conns.pcap     150,000 TCP connections (one request each, never
 *                       closed) in a tcpdump capture: over the importer's
 *                       limit of connections tracked
 *   pcap_holes.pcap     one connection whose every other segment is
 *                       missing: 2,000 segments of 4 KiB held for a hole
 *                       that never fills (the importer's hold limits)
 *
 * usage: mkhostile DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define SEC 1000000000ULL
#define RT_OFF 1764100800000000000LL

static char dir[4000];

static struct fx *open_fx(const char *name, int64_t off)
{
	char path[4096];
	struct fx *fx;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fx = fx_open(path, "hostile", off);
	if (!fx) {
		fprintf(stderr, "mkhostile: cannot write %s\n", path);
		exit(1);
	}
	fx_header(fx)->snaplen = 65536;
	return fx;
}

static void done(struct fx *fx)
{
	if (fx_finish(fx, NULL, NULL)) {
		fprintf(stderr, "mkhostile: writing a capture failed\n");
		exit(1);
	}
}

/* n bytes of unit repeated */
static char *repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *b = malloc(n);

	if (!b)
		exit(1);
	for (size_t i = 0; i < n; i++)
		b[i] = unit[i % ul];
	return b;
}

static void bomb(const char *name, const char *unit, int writes, uint16_t port)
{
	struct fx *fx = open_fx(name, RT_OFF);
	size_t n = 64 * 1024;
	char *b = repeat(unit, n);
	uint64_t t = SEC, c;

	if (port == 80)
		c = fx_accept(fx, t, 10, 10, "127.0.0.1", 80, "127.0.0.1", 40000);
	else
		c = fx_connect(fx, t, 10, 10, "127.0.0.1", 40001, "127.0.0.1", port);
	for (int i = 0; i < writes; i++) {
		if (port == 80)
			fx_read(fx, t += 1000, 10, 10, c, b, n);
		else
			fx_write(fx, t += 1000, 10, 10, c, b, n);
	}
	done(fx);
	free(b);
}

static void bodies(void)
{
	struct fx *fx = open_fx("bomb_bodies.htc", RT_OFF);
	size_t chunk = 64 * 1024, body = 1 << 20;
	char *b = repeat("x", chunk);
	uint64_t t = SEC, c = fx_accept(fx, t, 10, 10, "127.0.0.1", 80, "127.0.0.1", 40002);
	char head[128];

	for (int r = 0; r < 400; r++) {
		snprintf(head, sizeof(head), "POST /u%d HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", r, body);
		fx_reads(fx, t += 1000, 10, 10, c, head);
		for (size_t o = 0; o < body; o += chunk)
			fx_read(fx, t += 1000, 10, 10, c, b, chunk);
		fx_writes(fx, t += 1000, 10, 10, c, "HTTP/1.1 204 No Content\r\n\r\n");
	}
	done(fx);
	free(b);
}

static void conns(void)
{
	struct fx *fx = open_fx("bomb_conns.htc", RT_OFF);
	uint64_t t = SEC;

	for (int i = 0; i < 4000; i++) {
		uint64_t c = fx_accept(fx, t += 1000, 10, 10, "127.0.0.1", 80, "127.0.0.1",
				       (uint16_t)(1024 + i % 60000));

		fx_reads(fx, t += 1000, 10, 10, c, "GET /open HTTP/1.1\r\nHost: x\r\n");
	}
	done(fx);
}

static void offset_max(void)
{
	struct fx *fx = open_fx("offset_max.htc", INT64_MAX);
	uint64_t t = (1ULL << 63) - 10 * SEC;
	uint64_t c = fx_accept(fx, t, 10, 10, "127.0.0.1", 80, "127.0.0.1", 40003);

	fx_reads(fx, t += 1000, 10, 10, c, "GET /a HTTP/1.1\r\n\r\n");
	fx_writes(fx, t += 1000, 10, 10, c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(fx, t += 1000, 10, 10, c);
	done(fx);
}

static void lost_huge(void)
{
	struct fx *fx = open_fx("lost_huge.htc", RT_OFF);
	struct htc_record rec = { .type = HTC_REC_LOSS };

	rec.loss.ts_ns = 2 * SEC;
	rec.loss.reason = HTC_LOSS_RINGBUF_FULL;
	rec.loss.count = UINT64_MAX - 5;
	fx_record(fx, &rec);
	rec.loss.reason = HTC_LOSS_MAP_FULL;
	rec.loss.count = 1ULL << 63;
	fx_record(fx, &rec);
	fx_record(fx, &rec);
	done(fx);
}

static void control(void)
{
	static const char resp_nul[] = "HTTP/1.1 200 O\0K\r\nX-N: a\0b\r\nContent-Length: 3\r\n\r\n\0\x1b\x9b";
	struct fx *fx = open_fx("control.htc", RT_OFF);
	uint64_t t = SEC, c = fx_accept(fx, t, 10, 10, "127.0.0.1", 80, "127.0.0.1", 40004);

	fx_reads(fx, t += 1000, 10, 10, c, "GET /\x1b[2J\xe2\x80\xae/x HTTP/1.1\r\nHost: \x1b]0;pwned\x07\r\n\r\n");
	fx_writes(fx, t += 1000, 10, 10, c, "HTTP/1.1 404 \x1b[31mNope\xc2\x9b\r\nContent-Length: 0\r\n\r\n");
	fx_reads(fx, t += 1000, 10, 10, c, "GET /\xe2\x80\xae" "evil HTTP/1.1\r\nX-B: \x7f\x01\r\n\r\n");
	fx_write(fx, t += 1000, 10, 10, c, resp_nul, sizeof(resp_nul) - 1);
	fx_close(fx, t += 1000, 10, 10, c);
	done(fx);
}

/* ---- tcpdump captures (classic pcap, Ethernet), written byte by byte ---- */

static FILE *pcap_create(const char *name)
{
	char path[4096];
	FILE *f;
	/* magic, version 2.4, thiszone, sigfigs, snaplen, linktype 1 */
	static const uint8_t hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr)) {
		fprintf(stderr, "mkhostile: cannot write %s\n", path);
		exit(1);
	}
	return f;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* One Ethernet/IPv4/TCP packet client (10.1.x.y:port) -> server
 * (10.0.0.1:80) or back, ACK and flags, seq, data. */
static void pcap_pkt(FILE *f, uint32_t usec, uint32_t client, uint16_t cport, int to_client,
		     uint8_t flags, uint32_t seq, const void *data, size_t dl)
{
	uint8_t b[14 + 20 + 20];
	uint8_t rh[16];
	uint32_t srv = 0x0a000001, cli = 0x0a010000 | (client & 0xffff);

	memset(b, 0, sizeof(b));
	b[12] = 0x08;
	b[14] = 0x45;
	put_be(b + 16, (uint32_t)(40 + dl), 2);
	b[22] = 64;
	b[23] = 6;
	put_be(b + 26, to_client ? srv : cli, 4);
	put_be(b + 30, to_client ? cli : srv, 4);
	put_be(b + 34, to_client ? 80 : cport, 2);
	put_be(b + 36, to_client ? cport : 80, 2);
	put_be(b + 38, seq, 4);
	b[46] = 0x50;
	b[47] = flags;
	put_le32(rh, 1764100800 + usec / 1000000);
	put_le32(rh + 4, usec % 1000000);
	put_le32(rh + 8, (uint32_t)(sizeof(b) + dl));
	put_le32(rh + 12, (uint32_t)(sizeof(b) + dl));
	if (fwrite(rh, 1, 16, f) != 16 || fwrite(b, 1, sizeof(b), f) != sizeof(b) ||
	    (dl && fwrite(data, 1, dl, f) != dl)) {
		fprintf(stderr, "mkhostile: writing a pcap failed\n");
		exit(1);
	}
}

static void pcap_conns(void)
{
	static const char req[] = "GET /c HTTP/1.1\r\n\r\n";
	FILE *f = pcap_create("pcap_conns.pcap");

	for (uint32_t i = 0; i < 150000; i++)
		pcap_pkt(f, i, i / 50000, (uint16_t)(1024 + i % 50000), 0, 0x18, 1, req,
			 sizeof(req) - 1);
	if (fclose(f)) {
		fprintf(stderr, "mkhostile: writing a pcap failed\n");
		exit(1);
	}
}

static void pcap_holes(void)
{
	static char seg[4096];
	FILE *f = pcap_create("pcap_holes.pcap");

	memset(seg, 'x', sizeof(seg));
	memcpy(seg, "POST /h HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 46);
	pcap_pkt(f, 0, 1, 5555, 0, 0x02, 99, NULL, 0);
	pcap_pkt(f, 1, 1, 5555, 1, 0x12, 7, NULL, 0);
	pcap_pkt(f, 2, 1, 5555, 0, 0x18, 100, seg, sizeof(seg));
	for (uint32_t i = 1; i <= 2000; i++)
		pcap_pkt(f, 2 + i, 1, 5555, 0, 0x18, 100 + 2 * i * (uint32_t)sizeof(seg), seg,
			 sizeof(seg));
	if (fclose(f)) {
		fprintf(stderr, "mkhostile: writing a pcap failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 || strlen(argv[1]) >= sizeof(dir)) {
		fprintf(stderr, "usage: mkhostile DIR\n");
		return 2;
	}
	strcpy(dir, argv[1]);
	bomb("bomb_pipelined.htc", "GET /p HTTP/1.1\r\n\r\n", 2500, 80);
	bomb("bomb_lines.htc", "GET /p HTTP/1.1\r\n", 2500, 80);
	bomb("bomb_redis.htc", "*1\r\n$4\r\nPING\r\n", 2500, 6379);
	bodies();
	conns();
	offset_max();
	lost_huge();
	control();
	pcap_conns();
	pcap_holes();
	return 0;
}
