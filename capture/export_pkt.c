// SPDX-License-Identifier: MIT
/*
 * export_pkt.c - the packet builder of the pcap/pcapng export: one IPv4 or
 * IPv6 + TCP packet with its checksums, and the pcapng blocks (SHB, IDB,
 * EPB with comment, flags and process/thread options).
 *
 * Written by hand: libpcap writes only the classic pcap format (its
 * pcap_dump has no pcapng writer) and has no packet builder; the blocks
 * follow draft-ietf-opsawg-pcapng, in the host's byte order (the Section
 * Header Block's byte-order magic tells readers which one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export.h"

/* ---- output path ---- */

int exp_format_of(const char *path, enum exp_format *fmt)
{
	size_t n = strlen(path);

	if (!strcmp(path, "-")) {
		*fmt = EXP_PCAPNG;
		return 0;
	}
	if (n > 7 && !strcasecmp(path + n - 7, ".pcapng")) {
		*fmt = EXP_PCAPNG;
		return 0;
	}
	if (n > 5 && !strcasecmp(path + n - 5, ".pcap")) {
		*fmt = EXP_PCAP;
		return 0;
	}
	return -EINVAL;
}

/* ---- checksums (RFC 1071) ---- */

uint32_t exp_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	/* 16-bit big-endian words; a 64 KiB packet cannot overflow 32 bits
	 * before folding (32768 words * 0xffff < 2^32) */
	for (; n >= 2; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t exp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16 & 0xff;
	p[2] = v >> 8 & 0xff;
	p[3] = v & 0xff;
}

int exp_build_packet(const struct exp_seg *s, uint8_t *buf, size_t cap)
{
	size_t iphl, alen, tcphl = 20, total;
	uint8_t *tcp;
	uint32_t sum;

	if (s->family == HTC_AF_INET) {
		iphl = 20;
		alen = 4;
	} else if (s->family == HTC_AF_INET6) {
		iphl = 40;
		alen = 16;
	} else {
		return -EINVAL;
	}
	if (s->len > EXP_SEG_MAX || (s->len && !s->data))
		return -EINVAL;
	if (s->flags & EXP_TCP_SYN)
		tcphl += (s->mss ? 4 : 0) + 4;	/* MSS, NOP + window scale */
	total = iphl + tcphl + s->len;
	if (total > cap)
		return -ENOSPC;

	if (s->family == HTC_AF_INET) {
		buf[0] = 0x45;			/* version 4, 5 words */
		buf[1] = 0;			/* DSCP/ECN */
		put16(buf + 2, (uint16_t)total);
		put16(buf + 4, s->ip_id);
		put16(buf + 6, 0x4000);		/* don't fragment */
		buf[8] = 64;			/* TTL */
		buf[9] = 6;			/* TCP */
		put16(buf + 10, 0);
		memcpy(buf + 12, s->saddr, 4);
		memcpy(buf + 16, s->daddr, 4);
		put16(buf + 10, (uint16_t)~exp_csum_fold(exp_csum_add(0, buf, 20)));
	} else {
		put32(buf, 0x60000000);		/* version 6, no class or flow label */
		put16(buf + 4, (uint16_t)(tcphl + s->len));
		buf[6] = 6;			/* next header: TCP */
		buf[7] = 64;			/* hop limit */
		memcpy(buf + 8, s->saddr, 16);
		memcpy(buf + 24, s->daddr, 16);
	}

	tcp = buf + iphl;
	put16(tcp, s->sport);
	put16(tcp + 2, s->dport);
	put32(tcp + 4, s->seq);
	put32(tcp + 8, (s->flags & EXP_TCP_ACK) ? s->ack : 0);
	tcp[12] = (uint8_t)(tcphl / 4) << 4;
	tcp[13] = s->flags;
	put16(tcp + 14, s->window);
	put16(tcp + 16, 0);			/* checksum, below */
	put16(tcp + 18, 0);			/* urgent pointer */
	if (s->flags & EXP_TCP_SYN) {
		uint8_t *o = tcp + 20;

		if (s->mss) {
			o[0] = 2;		/* MSS */
			o[1] = 4;
			put16(o + 2, s->mss);
			o += 4;
		}
		o[0] = 1;			/* NOP: keeps the header 4-aligned */
		o[1] = 3;			/* window scale */
		o[2] = 3;
		o[3] = s->wscale > 14 ? 14 : s->wscale;
	}
	if (s->len)
		memcpy(tcp + tcphl, s->data, s->len);

	/* pseudo-header: addresses, protocol, TCP length (RFC 793 / RFC 8200 8.1) */
	sum = exp_csum_add(0, s->saddr, alen);
	sum = exp_csum_add(sum, s->daddr, alen);
	sum += 6;
	sum += (uint32_t)(tcphl + s->len);
	sum = exp_csum_add(sum, tcp, tcphl + s->len);
	{
		uint16_t c = (uint16_t)~exp_csum_fold(sum);

		/* 0 stands for "no checksum" in UDP only; TCP sends it as is */
		put16(tcp + 16, c);
	}
	return (int)total;
}

/* ---- pcapng blocks ---- */

void exp_buf_free(struct exp_buf *b)
{
	if (!b)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int buf_room(struct exp_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_put(struct exp_buf *b, const void *p, size_t n)
{
	if (buf_room(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_u16(struct exp_buf *b, uint16_t v)
{
	buf_put(b, &v, 2);	/* host order: the section's byte order */
}

static void buf_u32(struct exp_buf *b, uint32_t v)
{
	buf_put(b, &v, 4);
}

static void buf_pad4(struct exp_buf *b)
{
	static const uint8_t zero[4];

	buf_put(b, zero, (4 - b->len % 4) % 4);
}

/* One option: code, length, value, padding to 32 bits. */
static void opt_put(struct exp_buf *b, uint16_t code, const void *v, size_t n)
{
	if (n > 0xffff - 3)
		n = 0xffff - 3;	/* an option's length field is 16 bits */
	buf_u16(b, code);
	buf_u16(b, (uint16_t)n);
	buf_put(b, v, n);
	buf_pad4(b);
}

static void opt_str(struct exp_buf *b, uint16_t code, const char *s)
{
	if (s && *s)
		opt_put(b, code, s, strlen(s));
}

/* Start a block (type, length to be patched); returns its offset. */
static size_t block_begin(struct exp_buf *b, uint32_t type)
{
	size_t at = b->len;

	buf_u32(b, type);
	buf_u32(b, 0);
	return at;
}

/* Close the options (opt_endofopt), add the trailing length, patch the
 * leading one. */
static int block_end(struct exp_buf *b, size_t at, bool had_opts)
{
	uint32_t total;

	if (had_opts) {
		buf_u16(b, PCAPNG_OPT_ENDOFOPT);
		buf_u16(b, 0);
	}
	total = (uint32_t)(b->len - at + 4);
	buf_u32(b, total);
	if (b->err)
		return b->err;
	memcpy(b->p + at + 4, &total, 4);
	return 0;
}

int exp_pcapng_shb(struct exp_buf *b, const char *hardware, const char *os,
		   const char *userappl, const char *comment)
{
	size_t at = block_begin(b, PCAPNG_BT_SHB);
	size_t before;

	buf_u32(b, 0x1A2B3C4D);		/* byte-order magic */
	buf_u16(b, 1);			/* version 1.0 */
	buf_u16(b, 0);
	buf_u32(b, 0xffffffff);		/* section length: not given (-1) */
	buf_u32(b, 0xffffffff);
	before = b->len;
	opt_str(b, PCAPNG_OPT_COMMENT, comment);
	opt_str(b, PCAPNG_SHB_HARDWARE, hardware);
	opt_str(b, PCAPNG_SHB_OS, os);
	opt_str(b, PCAPNG_SHB_USERAPPL, userappl);
	return block_end(b, at, b->len != before);
}

int exp_pcapng_idb(struct exp_buf *b, uint16_t linktype, uint32_t snaplen,
		   const char *name, const char *description)
{
	size_t at = block_begin(b, PCAPNG_BT_IDB);
	uint8_t tsresol = 9;		/* 10^-9 s: the capture's nanoseconds */

	buf_u16(b, linktype);
	buf_u16(b, 0);			/* reserved */
	buf_u32(b, snaplen);
	opt_str(b, PCAPNG_IF_NAME, name);
	opt_str(b, PCAPNG_IF_DESCRIPTION, description);
	opt_put(b, PCAPNG_IF_TSRESOL, &tsresol, 1);
	return block_end(b, at, true);
}

int exp_pcapng_epb(struct exp_buf *b, const struct exp_pkt_meta *m,
		   const uint8_t *pkt, uint32_t len)
{
	size_t at = block_begin(b, PCAPNG_BT_EPB);
	size_t before;

	buf_u32(b, 0);				/* interface 0 */
	buf_u32(b, (uint32_t)(m->wall_ns >> 32));	/* timestamp, if_tsresol units */
	buf_u32(b, (uint32_t)m->wall_ns);
	buf_u32(b, len);			/* captured */
	buf_u32(b, len);			/* original: the whole synthetic packet */
	buf_put(b, pkt, len);
	buf_pad4(b);
	before = b->len;
	if (m->comment && *m->comment)
		opt_put(b, PCAPNG_OPT_COMMENT, m->comment, strlen(m->comment));
	if (m->dir == 1 || m->dir == 2) {
		uint32_t fl = (uint32_t)m->dir;	/* bits 0-1: 01 inbound, 10 outbound */

		opt_put(b, PCAPNG_EPB_FLAGS, &fl, 4);
	}
	if (m->pid || m->tid) {
		uint32_t v[2] = { m->pid, m->tid };

		opt_put(b, PCAPNG_EPB_PROCESSID_THREADID, v, 8);
	}
	return block_end(b, at, b->len != before);
}
