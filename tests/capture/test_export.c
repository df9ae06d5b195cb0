// SPDX-License-Identifier: MIT
/*
 * test_export.c - unit tests of the pcap/pcapng export (capture/export.c,
 * capture/export_pkt.c), no root: the packet builder's checksums (a known
 * RFC 1071 vector, then every packet checked by summing it back), IPv4 and
 * IPv6 headers, and whole exports of .htc files written here with the
 * writer API, read back with libpcap (pcap_open_offline reads pcapng) and
 * by walking the pcapng blocks: sequence numbers across gaps, segment
 * splitting, handshakes, FIN/RST, pairs written once, filters, the ISN
 * hook, a truncated input, an unwritable output.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "../../capture/export.h"

#define WALL0 1795638662000000000LL	/* 2026-11-25T20:31:02Z in ns */
#define MONO0 5000000000ULL

static char tmpdir[] = "/tmp/test_export.XXXXXX";

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- packet builder ---- */

static void test_csum_rfc1071(void **state)
{
	/* RFC 1071 section 3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	static const uint8_t v[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(exp_csum_fold(exp_csum_add(0, v, sizeof(v))), 0xddf2);
	/* an odd length pads with a zero byte */
	assert_int_equal(exp_csum_fold(exp_csum_add(0, v, 1)), 0x0000);
	assert_int_equal(exp_csum_fold(exp_csum_add(0, (const uint8_t *)"\xab", 1)), 0xab00);
}

/* The TCP checksum of a built packet, summed back with the pseudo-header:
 * 0xffff when right. */
static uint16_t tcp_verify(const uint8_t *pkt, int len)
{
	int v6 = (pkt[0] >> 4) == 6;
	int iphl = v6 ? 40 : (pkt[0] & 15) * 4;
	int alen = v6 ? 16 : 4;
	uint32_t sum;

	sum = exp_csum_add(0, pkt + (v6 ? 8 : 12), (size_t)alen * 2);
	sum += 6;
	sum += (uint32_t)(len - iphl);
	sum = exp_csum_add(sum, pkt + iphl, (size_t)(len - iphl));
	return exp_csum_fold(sum);
}

static const uint8_t a4[4] = { 10, 0, 0, 1 }, b4[4] = { 192, 168, 7, 9 };
static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t b6[16] = { 0xfe, 0x80, [8] = 0x12, [15] = 0x34 };

static void test_ipv4_packet(void **state)
{
	static uint8_t buf[EXP_PKT_MAX], data[3001];
	struct exp_seg s = {
		.family = HTC_AF_INET, .saddr = a4, .daddr = b4, .sport = 40000, .dport = 80,
		.seq = 0xfffffff0u, .ack = 77, .flags = EXP_TCP_ACK | EXP_TCP_PSH,
		.window = 1000, .ip_id = 0x1234, .data = data, .len = sizeof(data),
	};
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	n = exp_build_packet(&s, buf, sizeof(buf));
	assert_int_equal(n, 20 + 20 + 3001);
	assert_int_equal(buf[0], 0x45);
	assert_int_equal(get16(buf + 2), n);		/* total length */
	assert_int_equal(get16(buf + 4), 0x1234);
	assert_int_equal(buf[9], 6);
	assert_memory_equal(buf + 12, a4, 4);
	assert_memory_equal(buf + 16, b4, 4);
	assert_int_equal(exp_csum_fold(exp_csum_add(0, buf, 20)), 0xffff);	/* header checksum */
	assert_int_equal(get16(buf + 20), 40000);
	assert_int_equal(get16(buf + 22), 80);
	assert_int_equal(get32(buf + 24), 0xfffffff0u);
	assert_int_equal(get32(buf + 28), 77);
	assert_int_equal(buf[32] >> 4, 5);
	assert_int_equal(buf[33], EXP_TCP_ACK | EXP_TCP_PSH);
	assert_memory_equal(buf + 40, data, sizeof(data));
	assert_int_equal(tcp_verify(buf, n), 0xffff);
	/* one bit changed in the payload: the checksum no longer adds up */
	buf[100] ^= 1;
	assert_int_not_equal(tcp_verify(buf, n), 0xffff);

	/* a SYN: MSS and window scale options, 4-aligned header */
	s.flags = EXP_TCP_SYN;
	s.len = 0;
	s.data = NULL;
	s.mss = 65495;
	s.wscale = 14;
	n = exp_build_packet(&s, buf, sizeof(buf));
	assert_int_equal(n, 20 + 28);
	assert_int_equal(buf[32] >> 4, 7);
	assert_int_equal(buf[40], 2);
	assert_int_equal(get16(buf + 42), 65495);
	assert_int_equal(buf[44], 1);
	assert_int_equal(buf[45], 3);
	assert_int_equal(buf[47], 14);
	assert_int_equal(get32(buf + 28), 0);		/* no ACK flag: ack field 0 */
	assert_int_equal(tcp_verify(buf, n), 0xffff);

	/* the biggest segment fits an IPv4 total length; one more does not */
	{
		static uint8_t big[EXP_SEG_MAX + 1];

		s.flags = EXP_TCP_ACK;
		s.data = big;
		s.len = EXP_SEG_MAX;
		n = exp_build_packet(&s, buf, sizeof(buf));
		assert_int_equal(n, 20 + 20 + EXP_SEG_MAX);
		assert_true(n - 20 <= 65495);
		assert_int_equal(get16(buf + 2), n);
		assert_int_equal(tcp_verify(buf, n), 0xffff);
		s.len = EXP_SEG_MAX + 1;
		assert_int_equal(exp_build_packet(&s, buf, sizeof(buf)), -EINVAL);
		s.len = 10;
		assert_int_equal(exp_build_packet(&s, buf, 49), -ENOSPC);
	}
	s.family = 5;
	assert_int_equal(exp_build_packet(&s, buf, sizeof(buf)), -EINVAL);
}

static void test_ipv6_packet(void **state)
{
	static uint8_t buf[EXP_PKT_MAX];
	const uint8_t data[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct exp_seg s = {
		.family = HTC_AF_INET6, .saddr = a6, .daddr = b6, .sport = 8080, .dport = 51000,
		.seq = 1, .ack = 2, .flags = EXP_TCP_ACK, .window = 65535,
		.data = data, .len = sizeof(data) - 1,
	};
	int n;

	(void)state;
	n = exp_build_packet(&s, buf, sizeof(buf));
	assert_int_equal(n, 40 + 20 + (int)sizeof(data) - 1);
	assert_int_equal(buf[0] >> 4, 6);
	assert_int_equal(get16(buf + 4), 20 + sizeof(data) - 1);	/* payload length */
	assert_int_equal(buf[6], 6);
	assert_memory_equal(buf + 8, a6, 16);
	assert_memory_equal(buf + 24, b6, 16);
	assert_int_equal(get16(buf + 40), 8080);
	assert_int_equal(tcp_verify(buf, n), 0xffff);
}

static void test_format_of(void **state)
{
	static const struct { const char *path; int rc; enum exp_format f; } v[] = {
		{ "out.pcapng", 0, EXP_PCAPNG },
		{ "OUT.PCAPNG", 0, EXP_PCAPNG },
		{ "a/b.pcap", 0, EXP_PCAP },
		{ "-", 0, EXP_PCAPNG },			/* stdout: pcapng */
		{ "out.htc", -EINVAL, 0 },		/* not a packet format */
		{ "out", -EINVAL, 0 },
		{ ".pcap", -EINVAL, 0 },		/* an extension alone is no name */
		{ "x.pcapng.gz", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum exp_format f = 99;

		assert_int_equal(exp_format_of(v[i].path, &f), v[i].rc);
		if (!v[i].rc)
			assert_int_equal(f, v[i].f);
	}
}

/* ---- whole exports ---- */

static struct htc_header file_hdr(void)
{
	struct htc_header h;

	memset(&h, 0, sizeof(h));
	h.version_major = HTC_VERSION_MAJOR;
	h.version_minor = HTC_VERSION_MINOR;
	h.realtime_offset_ns = WALL0 - (int64_t)MONO0;
	h.start_ns = MONO0;
	h.snaplen = 5000;
	memcpy(h.capture_id, "0123456789abcdef", 16);
	strcpy(h.hostname, "testhost");
	strcpy(h.kernel, "6.18.0");
	strcpy(h.tool_version, "httpcap test");
	return h;
}

static struct htc_record ev(uint16_t rtype, int type, uint64_t conn, int role, uint64_t t_us)
{
	struct htc_record r;

	memset(&r, 0, sizeof(r));
	r.type = rtype;
	r.ev.type = (uint8_t)type;
	r.ev.syscall = type == HTC_EV_READ ? HTC_SYS_READ : type == HTC_EV_WRITE ? HTC_SYS_WRITE :
		       type == HTC_EV_CONNECT ? HTC_SYS_CONNECT : type == HTC_EV_ACCEPT ? HTC_SYS_ACCEPT :
		       HTC_SYS_CLOSE;
	r.ev.pid = 4242;
	r.ev.tid = 4243;
	r.ev.ts_ns = MONO0 + t_us * 1000;
	r.ev.conn_id = conn;
	strcpy(r.ev.comm, "curl");
	r.ev.ep.family = HTC_AF_INET;
	r.ev.ep.role = (uint8_t)role;
	r.ev.ep.lport = 40001;
	r.ev.ep.rport = 8080;
	memcpy(r.ev.ep.laddr, "\x7f\x00\x00\x01", 4);
	memcpy(r.ev.ep.raddr, "\x7f\x00\x00\x02", 4);
	return r;
}

static uint8_t payload[300000];

static struct htc_record dat(int type, uint64_t conn, int role, uint64_t t_us, uint64_t off,
			     int64_t ret, uint32_t cap)
{
	struct htc_record r = ev(HTC_REC_DATA, type, conn, role, t_us);

	r.ev.stream_off = off;
	r.ev.ret = ret;
	r.ev.cap_len = cap;
	r.ev.payload = payload + off % 1000;
	return r;
}

static void write_htc(const char *path, const struct htc_record *recs, size_t n)
{
	struct htc_header h = file_hdr();
	struct htc_writer *w;
	int err = 0;

	w = htc_writer_open(path, &h, NULL, &err);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(htc_writer_append(w, &recs[i]), 0);
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
}

/* A packet read back: TCP fields. */
struct pk {
	int v6;
	uint16_t sport, dport;
	uint32_t seq, ack, len;
	uint8_t flags;
	uint64_t ns;
};

static size_t read_back(const char *path, struct pk *out, size_t max)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t n = 0;
	pcap_t *p;

	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	assert_non_null(p);
	assert_int_equal(pcap_datalink(p), DLT_RAW);
	while (pcap_next_ex(p, &h, &d) == 1) {
		int v6 = d[0] >> 4 == 6, iphl = v6 ? 40 : 20;
		struct pk *k = &out[n];

		assert_true(n < max);
		assert_int_equal(h->caplen, h->len);
		if (!v6) {
			assert_int_equal(get16(d + 2), h->caplen);
			assert_int_equal(exp_csum_fold(exp_csum_add(0, d, 20)), 0xffff);
		} else {
			assert_int_equal(get16(d + 4) + 40, h->caplen);
		}
		assert_int_equal(tcp_verify(d, (int)h->caplen), 0xffff);
		k->v6 = v6;
		k->sport = get16(d + iphl);
		k->dport = get16(d + iphl + 2);
		k->seq = get32(d + iphl + 4);
		k->ack = get32(d + iphl + 8);
		k->flags = d[iphl + 13];
		k->len = h->caplen - (uint32_t)iphl - (uint32_t)(d[iphl + 12] >> 4) * 4;
		k->ns = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec;
		n++;
	}
	pcap_close(p);
	return n;
}

static char *tpath(const char *name)
{
	static char bufs[4][256];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

static int run(const char *in, const char *out, enum exp_format fmt, uint32_t seg_max,
	       const struct exp_filter *f, struct exp_stats *st)
{
	struct exp_opts o = { .format = fmt, .seg_max = seg_max };
	struct exp_filter none = { 0 };
	struct htc_reader_stats rst;
	const char *what;

	return exp_run(in, out, &o, f ? f : &none, NULL, NULL, st, &rst, &what);
}

/* A client connection: 100 bytes sent, 200000 received of which 5000
 * captured (snaplen), then 1000 received, all captured, then close. */
static void test_seq_gaps_and_splitting(void **state)
{
	struct htc_record r[] = {
		ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0),
		dat(HTC_EV_WRITE, 1, HTC_ROLE_CLIENT, 10, 0, 100, 100),
		dat(HTC_EV_READ, 1, HTC_ROLE_CLIENT, 20, 0, 200000, 5000),
		dat(HTC_EV_READ, 1, HTC_ROLE_CLIENT, 30, 200000, 1000, 1000),
		ev(HTC_REC_CONN, HTC_EV_CLOSE, 1, HTC_ROLE_CLIENT, 40),
	};
	static struct pk p[64];
	struct exp_stats st;
	uint32_t isn_c, isn_s;
	size_t n, i = 0;

	(void)state;
	r[4].ev.stream_off = 201000;	/* bytes read */
	r[4].ev.stream_off2 = 100;	/* bytes written */
	write_htc(tpath("a.htc"), r, 5);
	assert_int_equal(run(tpath("a.htc"), tpath("a.pcapng"), EXP_PCAPNG, 1448, NULL, &st), 0);
	n = read_back(tpath("a.pcapng"), p, 64);
	/* handshake */
	assert_int_equal(p[0].flags, EXP_TCP_SYN);
	assert_int_equal(p[0].sport, 40001);
	isn_c = p[0].seq;
	assert_int_equal(p[1].flags, EXP_TCP_SYN | EXP_TCP_ACK);
	assert_int_equal(p[1].ack, isn_c + 1);
	isn_s = p[1].seq;
	assert_int_equal(p[2].flags, EXP_TCP_ACK);
	assert_int_equal(p[2].seq, isn_c + 1);
	assert_int_equal(p[2].ack, isn_s + 1);
	assert_int_equal(p[0].ns, (uint64_t)WALL0);	/* wall clock from the header */
	i = 3;
	/* the request and its ACK */
	assert_int_equal(p[i].len, 100);
	assert_int_equal(p[i].seq, isn_c + 1);
	assert_int_equal(p[i].ack, isn_s + 1);
	assert_int_equal(p[i].ns, (uint64_t)WALL0 + 10000);
	i++;
	assert_int_equal(p[i].sport, 8080);
	assert_int_equal(p[i].len, 0);
	assert_int_equal(p[i].ack, isn_c + 101);
	i++;
	/* 5000 captured bytes in 1448-byte segments, PSH on the last */
	{
		uint32_t want[] = { 1448, 1448, 1448, 656 }, off = 0;

		for (int k = 0; k < 4; k++, i++) {
			assert_int_equal(p[i].sport, 8080);
			assert_int_equal(p[i].len, want[k]);
			assert_int_equal(p[i].seq, isn_s + 1 + off);
			assert_int_equal(p[i].flags & EXP_TCP_PSH, k == 3 ? EXP_TCP_PSH : 0);
			off += want[k];
		}
	}
	/* the ACK covers the captured bytes only: the rest is a gap */
	assert_int_equal(p[i].sport, 40001);
	assert_int_equal(p[i].ack, isn_s + 1 + 5000);
	i++;
	/* after the gap: seq from the stream offset 200000; the receiver's
	 * ACKs stay at the gap (no duplicate ACK, no ACK of unseen bytes) */
	assert_int_equal(p[i].len, 1000);
	assert_int_equal(p[i].seq, isn_s + 1 + 200000);
	i++;
	/* FIN after the 100 bytes written, and its ACK */
	assert_int_equal(p[i].flags, EXP_TCP_FIN | EXP_TCP_ACK);
	assert_int_equal(p[i].seq, isn_c + 101);
	assert_int_equal(p[i].ack, isn_s + 1 + 5000);
	i++;
	assert_int_equal(p[i].ack, isn_c + 102);
	i++;
	assert_int_equal(n, i);
	assert_int_equal(st.gap_bytes, 195000);
	assert_int_equal(st.bytes, 6100);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.packets, n);

	/* the same as .pcap: the same packets, nanosecond timestamps */
	{
		static struct pk q[64];

		assert_int_equal(run(tpath("a.htc"), tpath("a.pcap"), EXP_PCAP, 1448, NULL, &st), 0);
		assert_int_equal(read_back(tpath("a.pcap"), q, 64), n);
		assert_memory_equal(p, q, n * sizeof(p[0]));
	}
	/* the default segment size keeps 5000 bytes in one segment */
	assert_int_equal(run(tpath("a.htc"), tpath("b.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	assert_int_equal(read_back(tpath("b.pcapng"), p, 64), n - 3);
	assert_int_equal(p[5].len, 5000);
}

/* An IPv6 server connection opened before the capture: a made-up
 * handshake, numbered so that the first bytes seen follow it. */
static void test_ipv6_firstsight(void **state)
{
	struct htc_record r[] = {
		dat(HTC_EV_READ, 7, HTC_ROLE_UNKNOWN, 10, 5000, 300, 300),
		dat(HTC_EV_WRITE, 7, HTC_ROLE_UNKNOWN, 20, 9000, 400, 400),
		ev(HTC_REC_CONN, HTC_EV_CLOSE, 7, HTC_ROLE_UNKNOWN, 30),
	};
	static struct pk p[32];
	struct exp_stats st;
	size_t n;

	(void)state;
	for (int i = 0; i < 3; i++) {
		r[i].ev.ep.family = HTC_AF_INET6;
		memcpy(r[i].ev.ep.laddr, a6, 16);
		memcpy(r[i].ev.ep.raddr, b6, 16);
		r[i].ev.ep.lport = 8080;	/* the lower port: the server */
		r[i].ev.ep.rport = 50000;
		r[i].ev.flags = HTC_EVF_PREEXISTING;
	}
	r[2].ev.stream_off = 5300;
	r[2].ev.stream_off2 = 9400;
	write_htc(tpath("c.htc"), r, 3);
	assert_int_equal(run(tpath("c.htc"), tpath("c.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	n = read_back(tpath("c.pcapng"), p, 32);
	assert_int_equal(n, 3 + 2 + 2 + 2);
	assert_true(p[0].v6);
	assert_int_equal(p[0].flags, EXP_TCP_SYN);
	assert_int_equal(p[0].sport, 50000);	/* the remote end connected */
	assert_int_equal(p[3].len, 300);
	assert_int_equal(p[3].seq, p[0].seq + 1);	/* no gap for what came before */
	assert_int_equal(p[5].len, 400);
	assert_int_equal(p[5].seq, p[1].seq + 1);
	assert_int_equal(p[7].flags, EXP_TCP_FIN | EXP_TCP_ACK);
	assert_int_equal(p[7].seq, p[1].seq + 401);
	assert_int_equal(st.firstsight, 1);
	assert_int_equal(st.gap_bytes, 0);
}

/* Both ends traced: the connection once, from the end with more bytes;
 * the other end's close is the peer's FIN. */
static void test_pair_written_once(void **state)
{
	struct htc_record r[10];
	static struct pk p[32];
	struct exp_stats st;
	size_t n, k = 0;

	(void)state;
	r[k++] = ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0);
	r[k] = ev(HTC_REC_CONN, HTC_EV_ACCEPT, 2, HTC_ROLE_SERVER, 1);
	/* the server's view: the mirror tuple */
	memcpy(r[k].ev.ep.laddr, "\x7f\x00\x00\x02", 4);
	memcpy(r[k].ev.ep.raddr, "\x7f\x00\x00\x01", 4);
	r[k].ev.ep.lport = 8080;
	r[k].ev.ep.rport = 40001;
	r[k].ev.pid = 99;
	strcpy(r[k].ev.comm, "nginx");
	k++;
	r[k++] = dat(HTC_EV_WRITE, 1, HTC_ROLE_CLIENT, 10, 0, 50, 50);
	r[k] = dat(HTC_EV_READ, 2, HTC_ROLE_SERVER, 11, 0, 50, 50);
	r[k].ev.ep = r[1].ev.ep;
	strcpy(r[k].ev.comm, "nginx");
	r[k++].ev.pid = 99;
	r[k] = dat(HTC_EV_WRITE, 2, HTC_ROLE_SERVER, 12, 0, 3000, 100);	/* sendfile-like cut */
	r[k].ev.ep = r[1].ev.ep;
	strcpy(r[k].ev.comm, "nginx");
	r[k++].ev.pid = 99;
	r[k++] = dat(HTC_EV_READ, 1, HTC_ROLE_CLIENT, 13, 0, 3000, 3000);
	r[k] = ev(HTC_REC_CONN, HTC_EV_CLOSE, 2, HTC_ROLE_SERVER, 14);
	r[k].ev.ep = r[1].ev.ep;
	r[k].ev.stream_off = 50;
	r[k].ev.stream_off2 = 3000;
	strcpy(r[k].ev.comm, "nginx");
	r[k++].ev.pid = 99;
	r[k] = ev(HTC_REC_CONN, HTC_EV_CLOSE, 1, HTC_ROLE_CLIENT, 15);
	r[k].ev.stream_off = 3000;
	r[k++].ev.stream_off2 = 50;
	write_htc(tpath("d.htc"), r, k);
	assert_int_equal(run(tpath("d.htc"), tpath("d.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	n = read_back(tpath("d.pcapng"), p, 32);
	assert_int_equal(st.paired, 1);
	assert_int_equal(st.conns, 1);
	/* the client has more captured bytes (3050 against 150): its view */
	assert_int_equal(p[0].sport, 40001);
	assert_int_equal(st.bytes, 3050);
	/* handshake 3, request + ack 2, response + ack 2, peer FIN + ack 2,
	 * FIN + ack 2: one of each, no duplicate */
	assert_int_equal(n, 11);
	assert_int_equal(p[7].sport, 8080);
	assert_int_equal(p[7].flags, EXP_TCP_FIN | EXP_TCP_ACK);
	assert_int_equal(p[7].seq, p[1].seq + 3001);
	assert_int_equal(p[9].flags, EXP_TCP_FIN | EXP_TCP_ACK);
	assert_int_equal(p[9].sport, 40001);
	assert_int_equal(p[10].ack, p[0].seq + 52);

	/* filtered to nginx: no pair, the server's view with its gap */
	{
		struct exp_filter f = { .comm = "nginx" };

		assert_int_equal(run(tpath("d.htc"), tpath("e.pcapng"), EXP_PCAPNG, 0, &f, &st), 0);
		assert_int_equal(st.paired, 0);
		assert_int_equal(st.gap_bytes, 2900);
		n = read_back(tpath("e.pcapng"), p, 32);
		assert_int_equal(p[0].sport, 40001);	/* the client still sends the SYN */
		assert_int_equal(p[0].dport, 8080);
	}
	/* a time window after the handshakes: a first-sight handshake */
	{
		struct exp_filter f = { .since_ns = 12000, .since_rel = true, .comm = "curl" };

		assert_int_equal(run(tpath("d.htc"), tpath("f.pcapng"), EXP_PCAPNG, 0, &f, &st), 0);
		assert_int_equal(st.firstsight, 1);
		assert_int_equal(st.events, 2);
		n = read_back(tpath("f.pcapng"), p, 32);
		assert_int_equal(p[0].flags, EXP_TCP_SYN);
		assert_int_equal(p[3].len, 3000);
		assert_int_equal(p[3].seq, p[1].seq + 1);
	}
}

/* A failed connect: SYN, RST.  close() saying ECONNRESET: RST. */
static void test_refused_and_reset(void **state)
{
	struct htc_record r[4];
	static struct pk p[16];
	struct exp_stats st;
	size_t n;

	(void)state;
	r[0] = ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0);
	r[0].ev.ret = -ECONNREFUSED;
	r[1] = ev(HTC_REC_CONN, HTC_EV_CONNECT, 2, HTC_ROLE_CLIENT, 5);
	r[1].ev.ep.lport = 40002;
	r[2] = ev(HTC_REC_CONN, HTC_EV_CLOSE, 2, HTC_ROLE_CLIENT, 6);
	r[2].ev.ep.lport = 40002;
	r[2].ev.ret = -ECONNRESET;
	write_htc(tpath("g.htc"), r, 3);
	assert_int_equal(run(tpath("g.htc"), tpath("g.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	n = read_back(tpath("g.pcapng"), p, 16);
	assert_int_equal(n, 2 + 3 + 1);
	assert_int_equal(p[1].flags, EXP_TCP_RST | EXP_TCP_ACK);
	assert_int_equal(p[1].ack, p[0].seq + 1);
	assert_int_equal(p[5].flags, EXP_TCP_RST | EXP_TCP_ACK);
	assert_int_equal(p[5].seq, p[2].seq + 1);
}

static bool fixed_isn(void *ctx, const struct htc_event *e, int dir, uint32_t *isn)
{
	(void)ctx;
	(void)e;
	*isn = dir ? 0xfffffff0u : 1000;
	return true;
}

/* The ISN hook sets the numbers (the kernel's, once recorded); wrapping
 * past 2^32 is fine. */
static void test_isn_hook(void **state)
{
	struct htc_record r[] = {
		ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0),
		dat(HTC_EV_READ, 1, HTC_ROLE_CLIENT, 20, 0, 100, 100),
	};
	struct exp_opts o = { .format = EXP_PCAPNG, .isn = fixed_isn };
	struct exp_filter f = { 0 };
	struct htc_reader_stats rst;
	static struct pk p[16];
	struct exp_stats st;
	const char *what;

	(void)state;
	write_htc(tpath("h.htc"), r, 2);
	assert_int_equal(exp_run(tpath("h.htc"), tpath("h.pcapng"), &o, &f, NULL, NULL, &st, &rst,
				 &what), 0);
	assert_int_equal(read_back(tpath("h.pcapng"), p, 16), 5);
	assert_int_equal(p[0].seq, 1000);
	assert_int_equal(p[1].seq, 0xfffffff0u);
	assert_int_equal(p[3].seq, 0xfffffff1u);
	assert_int_equal(p[4].ack, 0xfffffff1u + 100);	/* wrapped */
	/* a bound on the connections tracked: the second one is left out */
	{
		struct htc_record r2[] = {
			ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0),
			ev(HTC_REC_CONN, HTC_EV_CONNECT, 2, HTC_ROLE_CLIENT, 1),
			dat(HTC_EV_WRITE, 2, HTC_ROLE_CLIENT, 2, 0, 10, 10),
		};
		struct exp_opts o2 = { .format = EXP_PCAPNG, .max_conns = 1 };

		r2[1].ev.ep.lport = r2[2].ev.ep.lport = 40002;
		write_htc(tpath("m.htc"), r2, 3);
		assert_int_equal(exp_run(tpath("m.htc"), tpath("m.pcapng"), &o2, &f, NULL, NULL, &st,
					 &rst, &what), 0);
		assert_int_equal(st.over_limit, 2);
		assert_int_equal(st.conns, 1);
		assert_int_equal(read_back(tpath("m.pcapng"), p, 16), 3);
	}
}

/* pcapng blocks as written: SHB options, IDB if_tsresol, EPB options. */
static void test_pcapng_layout(void **state)
{
	struct htc_record r[3];
	struct htc_proc *pr;
	struct exp_stats st;
	static uint8_t f[65536];
	size_t len, off;
	FILE *fp;
	int epbs = 0, comments = 0, pidtid = 0, flags_out = 0, flags_in = 0, cmdline = 0;

	(void)state;
	memset(&r[0], 0, sizeof(r[0]));
	r[0].type = HTC_REC_PROC;
	pr = &r[0].proc;
	pr->pid = 4242;
	pr->cmdline = "curl\0-s\0http://x/\0";
	pr->cmdline_len = 18;
	memcpy(pr->comm, "curl", 5);
	r[1] = ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0);
	r[2] = dat(HTC_EV_WRITE, 1, HTC_ROLE_CLIENT, 10, 0, 10, 10);
	write_htc(tpath("i.htc"), r, 3);
	assert_int_equal(run(tpath("i.htc"), tpath("i.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	fp = fopen(tpath("i.pcapng"), "rb");
	assert_non_null(fp);
	len = fread(f, 1, sizeof(f), fp);
	fclose(fp);
	for (off = 0; off + 12 <= len; ) {
		uint32_t type, blen, body, ol;
		size_t o;

		memcpy(&type, f + off, 4);
		memcpy(&blen, f + off + 4, 4);
		assert_true(blen % 4 == 0 && blen >= 12 && off + blen <= len);
		assert_memory_equal(f + off + 4, f + off + blen - 4, 4);	/* lengths agree */
		if (type == PCAPNG_BT_SHB) {
			uint32_t magic;

			memcpy(&magic, f + off + 8, 4);
			assert_int_equal(magic, 0x1A2B3C4D);
			assert_int_equal(off, 0);
			assert_non_null(memmem(f + off, blen, "host testhost", 13));
			assert_non_null(memmem(f + off, blen, "Linux 6.18.0", 12));
			assert_non_null(memmem(f + off, blen, "httpcap ", 8));
			body = 24;
		} else if (type == PCAPNG_BT_IDB) {
			uint16_t lt;

			memcpy(&lt, f + off + 8, 2);
			assert_int_equal(lt, EXP_LINKTYPE_RAW);
			body = 16;
		} else {
			assert_int_equal(type, PCAPNG_BT_EPB);
			memcpy(&ol, f + off + 20, 4);	/* captured length */
			body = 28 + ((ol + 3) & ~3u);
			epbs++;
		}
		/* options: code, length, value padded; end with opt_endofopt */
		for (o = off + body; o + 4 <= off + blen - 4; ) {
			uint16_t code, olen;

			memcpy(&code, f + o, 2);
			memcpy(&olen, f + o + 2, 2);
			if (code == 0)
				break;
			assert_true(o + 4 + olen <= off + blen - 4);
			if (type == PCAPNG_BT_IDB && code == PCAPNG_IF_TSRESOL) {
				assert_int_equal(olen, 1);
				assert_int_equal(f[o + 4], 9);
			}
			if (type == PCAPNG_BT_EPB && code == PCAPNG_OPT_COMMENT) {
				comments++;
				assert_non_null(memmem(f + o + 4, olen, "curl pid 4242 tid 4243", 22));
				if (memmem(f + o + 4, olen, "cmdline: curl -s http://x/", 26))
					cmdline++;
			}
			if (type == PCAPNG_BT_EPB && code == PCAPNG_EPB_PROCESSID_THREADID) {
				uint32_t v[2];

				assert_int_equal(olen, 8);
				memcpy(v, f + o + 4, 8);
				assert_int_equal(v[0], 4242);
				assert_int_equal(v[1], 4243);
				pidtid++;
			}
			if (type == PCAPNG_BT_EPB && code == PCAPNG_EPB_FLAGS) {
				uint32_t v;

				memcpy(&v, f + o + 4, 4);
				flags_out += v == 2;
				flags_in += v == 1;
			}
			o += 4 + ((olen + 3u) & ~3u);
		}
		off += blen;
	}
	assert_int_equal(off, len);
	assert_int_equal(epbs, 5);
	assert_int_equal(comments, 5);
	assert_int_equal(pidtid, 5);
	assert_int_equal(cmdline, 1);		/* once per connection */
	assert_int_equal(flags_out, 3);		/* SYN, ACK, data */
	assert_int_equal(flags_in, 2);		/* SYN-ACK, ACK */
}

/* A truncated capture exports its complete frames; a bad output fails as
 * a write error. */
static void test_truncated_and_unwritable(void **state)
{
	static struct htc_record r[4000];
	struct exp_opts o = { .format = EXP_PCAPNG };
	struct htc_writer_opts wo = { .frame_bytes = 4096 };
	struct exp_filter f = { 0 };
	struct htc_reader_stats rst;
	struct htc_header h = file_hdr();
	struct htc_writer *w;
	struct exp_stats st;
	const char *what;
	struct stat sb;
	int err = 0;

	(void)state;
	w = htc_writer_open(tpath("t.htc"), &h, &wo, &err);
	assert_non_null(w);
	r[0] = ev(HTC_REC_CONN, HTC_EV_CONNECT, 1, HTC_ROLE_CLIENT, 0);
	assert_int_equal(htc_writer_append(w, &r[0]), 0);
	for (int i = 1; i < 4000; i++) {
		r[i] = dat(HTC_EV_WRITE, 1, HTC_ROLE_CLIENT, (uint64_t)i, (uint64_t)(i - 1) * 100, 100, 100);
		assert_int_equal(htc_writer_append(w, &r[i]), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	assert_int_equal(stat(tpath("t.htc"), &sb), 0);
	assert_int_equal(truncate(tpath("t.htc"), sb.st_size / 2), 0);
	assert_int_equal(exp_run(tpath("t.htc"), tpath("t.pcapng"), &o, &f, NULL, NULL, &st, &rst,
				 &what), 0);
	assert_true(rst.truncated);
	assert_true(rst.frames_ok > 0);
	assert_true(st.events > 100 && st.events < 4000);

	assert_int_equal(exp_run(tpath("t.htc"), "/nonexistent-dir/x.pcapng", &o, &f, NULL, NULL,
				 &st, &rst, &what), -ENOENT);
	assert_string_equal(what, "write");
	/* the input itself as the output: refused, the input intact */
	assert_int_equal(exp_run(tpath("t.htc"), tpath("t.htc"), &o, &f, NULL, NULL,
				 &st, &rst, &what), -EEXIST);
	assert_int_equal(stat(tpath("t.htc"), &sb), 0);
	assert_true(sb.st_size > 0);
	/* not a capture: a read error, and no output file */
	{
		FILE *fp = fopen(tpath("junk"), "w");

		assert_non_null(fp);
		fputs("not a capture file\n", fp);
		fclose(fp);
	}
	assert_int_equal(exp_run(tpath("junk"), tpath("u.pcapng"), &o, &f, NULL, NULL,
				 &st, &rst, &what), HTC_ERR_MAGIC);
	assert_int_not_equal(access(tpath("u.pcapng"), F_OK), 0);
	assert_string_equal(what, "read");
	/* a full disk */
	if (access("/dev/full", W_OK) == 0) {
		o.format = EXP_PCAP;
		assert_int_equal(exp_run(tpath("a.htc"), "/dev/full", &o, &f, NULL, NULL, &st, &rst,
					 &what), -ENOSPC);
		assert_string_equal(what, "write");
		o.format = EXP_PCAPNG;
		assert_int_equal(exp_run(tpath("a.htc"), "/dev/full", &o, &f, NULL, NULL, &st, &rst,
					 &what), -ENOSPC);
	}
}

/* Thousands of connections and processes: both tables grow (from 1024
 * and 256 entries) and every connection still finds its own entry: one
 * connection per pid, each told with its own command line, "p<pid>". */
static void test_many_conns_and_procs(void **state)
{
	enum { N = 3000 };
	static struct htc_record r[3 * N];
	static char cmds[N][16];
	static uint8_t f[4 << 20];
	struct exp_stats st;
	size_t k = 0, len, told = 0;
	FILE *fp;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		struct htc_proc *pr = &r[k].proc;
		uint64_t id = 1 + (uint64_t)i * 0x9e3779b97f4a7c15ULL % 1000003;

		memset(&r[k], 0, sizeof(r[k]));
		r[k].type = HTC_REC_PROC;
		pr->pid = 1000 + i;
		pr->cmdline = cmds[i];
		pr->cmdline_len = (uint32_t)snprintf(cmds[i], sizeof(cmds[i]), "p%u", pr->pid) + 1;
		memcpy(pr->comm, "curl", 5);
		k++;
		r[k] = ev(HTC_REC_CONN, HTC_EV_CONNECT, id, HTC_ROLE_CLIENT, i);
		r[k].ev.pid = 1000 + i;
		r[k].ev.ep.lport = (uint16_t)(20000 + i);
		k++;
		r[k] = dat(HTC_EV_WRITE, id, HTC_ROLE_CLIENT, i + 1, 0, 10, 10);
		r[k].ev.pid = 1000 + i;
		r[k].ev.ep.lport = (uint16_t)(20000 + i);
		k++;
	}
	write_htc(tpath("many.htc"), r, k);
	assert_int_equal(run(tpath("many.htc"), tpath("many.pcapng"), EXP_PCAPNG, 0, NULL, &st), 0);
	assert_int_equal(st.conns, N);
	assert_int_equal(st.events, 2 * N);
	assert_int_equal(st.paired, 0);
	fp = fopen(tpath("many.pcapng"), "rb");
	assert_non_null(fp);
	len = fread(f, 1, sizeof(f), fp);
	assert_true(len < sizeof(f));
	fclose(fp);
	/* each comment naming a command line names the process it belongs to */
	for (const uint8_t *q = f; (q = memmem(q, len - (size_t)(q - f), "cmdline: p", 10)); q += 10) {
		unsigned pid = 0, cpid = 0;
		const uint8_t *w = q;

		assert_int_equal(sscanf((const char *)q + 10, "%u", &cpid), 1);
		while (w > f && q - w < 200 && memcmp(w, " pid ", 5))
			w--;
		assert_int_equal(sscanf((const char *)w + 5, "%u", &pid), 1);
		assert_int_equal(pid, cpid);
		told++;
	}
	assert_int_equal(told, N);		/* once per connection */
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071),
		cmocka_unit_test(test_ipv4_packet),
		cmocka_unit_test(test_ipv6_packet),
		cmocka_unit_test(test_format_of),
		cmocka_unit_test(test_seq_gaps_and_splitting),
		cmocka_unit_test(test_ipv6_firstsight),
		cmocka_unit_test(test_pair_written_once),
		cmocka_unit_test(test_refused_and_reset),
		cmocka_unit_test(test_isn_hook),
		cmocka_unit_test(test_pcapng_layout),
		cmocka_unit_test(test_truncated_and_unwritable),
		cmocka_unit_test(test_many_conns_and_procs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
