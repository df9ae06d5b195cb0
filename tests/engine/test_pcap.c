/* SPDX-License-Identifier: MIT */
/*
 * test_pcap.c - table-driven vectors for the pcap record source
 * (engine/pcap.c): pcaps written here with libpcap's pcap_dump, one TCP
 * connection each, read back through htc_pcap_open; the records are
 * summed up as a string ("A R0+3:abc W0+2:ok C") and compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "htc_engine.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* One packet: direction (0 client -> server), flags, sequence number
 * relative to that side's ISN (the SYN is at -1), data; caplen_cut > 0
 * keeps only that many data bytes in the file (the snapshot length). */
struct pk {
	int dir;
	uint8_t flags;
	int32_t rel;
	const char *data;
	int cut;
	int frag;	/* IPv4: a fragment (more fragments set) */
	int bad_off;	/* TCP data offset beyond the packet */
};

#define SYN { 0, F_SYN, -1, "", 0, 0, 0 }
#define SYNACK { 1, F_SYN | F_ACK, -1, "", 0, 0, 0 }
#define C(rel, d) { 0, F_ACK, rel, d, 0, 0, 0 }
#define S(rel, d) { 1, F_ACK, rel, d, 0, 0, 0 }
#define FINC(rel) { 0, F_FIN | F_ACK, rel, "", 0, 0, 0 }
#define FINS(rel) { 1, F_FIN | F_ACK, rel, "", 0, 0, 0 }

static uint32_t isn[2] = { 1000, 5000 };

/* The frame of p for linktype lt (v6: IPv6) into buf; its length. */
static size_t frame(uint8_t *buf, int lt, int v6, const struct pk *p)
{
	static const uint8_t a4[2][4] = { { 10, 0, 0, 1 }, { 10, 0, 0, 2 } };
	uint8_t a6[2][16] = { { 0xfd, 0, [15] = 1 }, { 0xfd, 0, [15] = 2 } };
	uint16_t port[2] = { 40000, 80 };
	size_t n = 0, ip, tcp, dl = strlen(p->data);
	uint32_t seq = isn[p->dir] + 1 + (uint32_t)p->rel, ack = isn[!p->dir] + 1;
	uint16_t et = v6 ? 0x86dd : 0x0800;

	switch (lt) {
	case DLT_EN10MB:
		memset(buf, 0, 12);
		buf[12] = (uint8_t)(et >> 8);
		buf[13] = (uint8_t)et;
		n = 14;
		break;
	case DLT_LINUX_SLL:
		memset(buf, 0, 14);
		buf[14] = (uint8_t)(et >> 8);
		buf[15] = (uint8_t)et;
		n = 16;
		break;
	case DLT_LINUX_SLL2:
		memset(buf, 0, 20);
		buf[0] = (uint8_t)(et >> 8);
		buf[1] = (uint8_t)et;
		n = 20;
		break;
	case DLT_NULL: {
		uint32_t af = v6 ? 10 : 2;	/* host order */

		memcpy(buf, &af, 4);
		n = 4;
		break;
	}
	case DLT_LOOP:
		buf[0] = buf[1] = buf[2] = 0;
		buf[3] = v6 ? 24 : 2;
		n = 4;
		break;
	default:
		break;
	}
	ip = n;
	if (v6) {
		memset(buf + ip, 0, 40);
		buf[ip] = 0x60;
		buf[ip + 4] = (uint8_t)((20 + dl) >> 8);
		buf[ip + 5] = (uint8_t)(20 + dl);
		buf[ip + 6] = 6;
		buf[ip + 7] = 64;
		memcpy(buf + ip + 8, a6[p->dir], 16);
		memcpy(buf + ip + 24, a6[!p->dir], 16);
		tcp = ip + 40;
	} else {
		memset(buf + ip, 0, 20);
		buf[ip] = 0x45;
		buf[ip + 2] = (uint8_t)((40 + dl) >> 8);
		buf[ip + 3] = (uint8_t)(40 + dl);
		if (p->frag)
			buf[ip + 6] = 0x20;
		buf[ip + 8] = 64;
		buf[ip + 9] = 6;
		memcpy(buf + ip + 12, a4[p->dir], 4);
		memcpy(buf + ip + 16, a4[!p->dir], 4);
		tcp = ip + 20;
	}
	memset(buf + tcp, 0, 20);
	buf[tcp] = (uint8_t)(port[p->dir] >> 8);
	buf[tcp + 1] = (uint8_t)port[p->dir];
	buf[tcp + 2] = (uint8_t)(port[!p->dir] >> 8);
	buf[tcp + 3] = (uint8_t)port[!p->dir];
	for (int i = 0; i < 4; i++) {
		buf[tcp + 4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		buf[tcp + 8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	buf[tcp + 12] = p->bad_off ? 0xf0 : 0x50;
	buf[tcp + 13] = p->dir == 0 && p->flags == F_SYN ? F_SYN : p->flags;
	memcpy(buf + tcp + 20, p->data, dl);
	return tcp + 20 + dl;
}

/* Write the packets as a pcap of linktype lt; its path (static). */
static const char *write_pcap(int lt, int v6, const struct pk *pk, size_t npk)
{
	static char path[64];
	uint8_t buf[2048];
	pcap_t *dead;
	pcap_dumper_t *d;
	int fd;

	strcpy(path, "/tmp/test_pcap.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	dead = pcap_open_dead(lt, 65535);
	assert_non_null(dead);
	d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (size_t i = 0; i < npk; i++) {
		struct pcap_pkthdr h = {};
		size_t len = frame(buf, lt, v6, &pk[i]);

		h.ts.tv_sec = 1700000000;
		h.ts.tv_usec = (suseconds_t)(i * 1000);
		h.len = (bpf_u_int32)len;
		h.caplen = pk[i].cut ? (bpf_u_int32)(len - strlen(pk[i].data) + (size_t)pk[i].cut)
				     : (bpf_u_int32)len;
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return path;
}

static void on_warn(void *ctx, int err, uint64_t off, const char *msg)
{
	char *w = ctx;

	(void)err;
	(void)off;
	snprintf(w + strlen(w), 512 - strlen(w), "%s;", msg);
}

/* The records of the pcap as "A R0+3:abc W0+2:ok C" (C! for a reset;
 * ? after A/R/W: role unknown, first sight). */
static void summary(const char *path, char *out, size_t cap, char *warns)
{
	struct htc_reader *r;
	struct htc_record rec;
	int err = 0;
	size_t o = 0;

	out[0] = 0;
	warns[0] = 0;
	r = htc_pcap_open(path, on_warn, warns, &err);
	assert_non_null(r);
	while (htc_reader_next(r, &rec) == 1) {
		const struct htc_event *ev = &rec.ev;
		const char *unk;

		if (rec.type != HTC_REC_DATA && rec.type != HTC_REC_CONN)
			continue;
		assert_int_equal(ev->pid, 0);
		assert_string_equal(ev->comm, "?");
		unk = ev->ep.role == HTC_ROLE_UNKNOWN ? "?" : "";
		assert_int_equal(ev->ep.lport, 80);	/* the server's side */
		switch (ev->type) {
		case HTC_EV_ACCEPT:
			o += (size_t)snprintf(out + o, cap - o, "%sA%s", o ? " " : "", unk);
			break;
		case HTC_EV_READ:
		case HTC_EV_WRITE:
			o += (size_t)snprintf(out + o, cap - o, "%s%c%s%llu+%lld:%.*s", o ? " " : "",
					      ev->type == HTC_EV_READ ? 'R' : 'W', unk,
					      (unsigned long long)ev->stream_off, (long long)ev->ret,
					      (int)ev->cap_len, (const char *)ev->payload);
			break;
		case HTC_EV_CLOSE:
			o += (size_t)snprintf(out + o, cap - o, "%sC%s", o ? " " : "",
					      ev->ret < 0 ? "!" : "");
			break;
		}
		assert_true(o < cap);
	}
	htc_reader_close(r);
}

struct vec {
	const char *why;
	struct pk pk[12];
	size_t npk;
	const char *want;
	const char *warn;	/* a substring of the warnings, or NULL */
};

#define V(why, want, warn, ...) { why, { __VA_ARGS__ }, N(((struct pk[]){ __VA_ARGS__ })), want, warn }

static const struct vec vecs[] = {
	V("in order", "A R0+3:GET W0+2:ok C", NULL,
	  SYN, SYNACK, C(0, "GET"), S(0, "ok"), FINC(3), FINS(2)),
	V("out of order: held until the hole fills", "A R0+3:abc R3+3:def C", NULL,
	  SYN, SYNACK, C(3, "def"), C(0, "abc"), FINC(6), FINS(0)),
	V("retransmission delivered once", "A R0+3:abc R3+3:def C", NULL,
	  SYN, SYNACK, C(0, "abc"), C(0, "abc"), C(3, "def"), C(0, "abc"), FINC(6), FINS(0)),
	V("overlap: the new bytes only", "A R0+4:abcd R4+2:ef C", NULL,
	  SYN, SYNACK, C(0, "abcd"), C(2, "cdef"), FINC(6), FINS(0)),
	V("missing segment: a gap (offset jump), nothing invented", "A R0+3:abc R6+3:ghi C", NULL,
	  SYN, SYNACK, C(0, "abc"), C(6, "ghi"), FINC(9), FINS(0)),
	V("gap left at the end of the file", "A R0+3:abc R6+3:ghi", NULL,
	  SYN, SYNACK, C(0, "abc"), C(6, "ghi")),
	V("RST: held bytes out, then a reset close", "A R0+2:ab R4+2:ef C!", NULL,
	  SYN, SYNACK, C(0, "ab"), C(4, "ef"), { 1, F_RST, 0, "", 0, 0, 0 }),
	V("snapshot length: bytes counted, not invented", "A R0+10:0123 W0+2:ok C", NULL,
	  SYN, SYNACK, { 0, F_ACK, 0, "0123456789", 4, 0, 0 }, S(0, "ok"), FINC(10), FINS(2)),
	V("no SYN-ACK seen: accepted at first sight", "A R0+3:GET C", NULL,
	  SYN, C(0, "GET"), FINC(3), FINS(0)),
	V("first sight mid-way: role unknown, server by the port", "R?0+3:GET W?0+2:ok C", NULL,
	  C(100, "GET"), S(50, "ok"), FINC(103), FINS(52)),
	V("IPv4 fragment counted as lost", "A R0+3:abc R6+3:ghi C", "1 IPv4",
	  SYN, SYNACK, C(0, "abc"), { 0, F_ACK, 3, "def", 0, 1, 0 }, C(6, "ghi"), FINC(9), FINS(0)),
	V("TCP data offset beyond the packet: malformed", "A R0+3:abc C", "1 malformed",
	  SYN, SYNACK, C(0, "abc"), { 0, F_ACK, 3, "def", 0, 0, 1 }, FINC(3), FINS(0)),
	V("retransmission after the FINs: no new connection", "A R0+3:abc C", NULL,
	  SYN, SYNACK, C(0, "abc"), FINC(3), FINS(0), C(0, "abc"), { 0, F_ACK, 4, "", 0, 0, 0 }),
	V("ports reused after a close: a new connection", "A R0+3:abc C A R0+3:xyz C", NULL,
	  SYN, SYNACK, C(0, "abc"), FINC(3), FINS(0), SYN, SYNACK, C(0, "xyz"), FINC(3), FINS(0)),
	V("data before the SYN's sequence: dropped", "A R0+3:abc C", NULL,
	  SYN, SYNACK, { 0, F_ACK, -5, "zz", 0, 0, 0 }, C(0, "abc"), FINC(3), FINS(0)),
};

static void test_vectors(void **state)
{
	char got[1024], warns[512];

	(void)state;
	for (size_t i = 0; i < N(vecs); i++) {
		const char *path = write_pcap(DLT_EN10MB, 0, vecs[i].pk, vecs[i].npk);

		summary(path, got, sizeof(got), warns);
		unlink(path);
		if (strcmp(got, vecs[i].want))
			fail_msg("%s:\n  got  '%s'\n  want '%s'", vecs[i].why, got, vecs[i].want);
		if (vecs[i].warn && !strstr(warns, vecs[i].warn))
			fail_msg("%s: warnings '%s' lack '%s'", vecs[i].why, warns, vecs[i].warn);
	}
}

/* Sequence numbers wrapping through 2^32 inside the stream. */
static void test_wrap(void **state)
{
	static const struct pk pk[] = {
		SYN, SYNACK, C(0, "abc"), C(6, "ghi"), C(3, "def"), FINC(9), FINS(0),
	};
	char got[1024], warns[512];
	const char *path;

	(void)state;
	isn[0] = 0xfffffffb;	/* offset 4 is sequence 0 */
	path = write_pcap(DLT_EN10MB, 0, pk, N(pk));
	summary(path, got, sizeof(got), warns);
	unlink(path);
	isn[0] = 1000;
	assert_string_equal(got, "A R0+3:abc R3+3:def R6+3:ghi C");
}

/* The link types and both IP versions give the same records. */
static void test_linktypes(void **state)
{
	static const struct pk pk[] = { SYN, SYNACK, C(0, "GET"), S(0, "ok"), FINC(3), FINS(2) };
	static const int lts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
				   DLT_RAW };
	char got[1024], warns[512];

	(void)state;
	for (size_t i = 0; i < N(lts); i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			const char *path = write_pcap(lts[i], v6, pk, N(pk));

			summary(path, got, sizeof(got), warns);
			unlink(path);
			if (strcmp(got, "A R0+3:GET W0+2:ok C"))
				fail_msg("linktype %d v6 %d: got '%s'", lts[i], v6, got);
		}
	}
}

/* Not a pcap, a truncated header: a clear error, no reader. */
static void test_bad_files(void **state)
{
	char path[] = "/tmp/test_pcap_bad.XXXXXX", warns[512] = "";
	static const uint8_t hdr[] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
	int fd = mkstemp(path), err = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	assert_int_equal(htc_pcap_probe(path), 1);
	assert_null(htc_pcap_open(path, on_warn, warns, &err));
	assert_int_equal(err, HTC_ERR_CORRUPT);
	assert_non_null(strstr(htc_pcap_error(), "not a readable pcap"));
	unlink(path);
	assert_int_equal(htc_pcap_probe("-"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_linktypes),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
