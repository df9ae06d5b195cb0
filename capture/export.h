/* SPDX-License-Identifier: MIT */
/*
 * export.h - httpcap -r FILE -w OUT.pcapng|OUT.pcap: a capture's TCP
 * connections as synthetic IPv4/IPv6 packets for Wireshark and tcpdump,
 * with the process behind every packet (pcapng comments and the
 * epb_processid_threadid option).
 *
 * Two layers:
 *  - the packet builder (export_pkt.c): one IPv4/IPv6 + TCP packet with
 *    correct checksums, and pcapng blocks (SHB, IDB, EPB with options);
 *    pure functions over caller buffers, unit-tested without root;
 *  - the exporter (export.c): connections followed from the .htc events
 *    (handshake, data segments numbered from the stream offsets, ACKs,
 *    FIN or RST; uncaptured bytes left as sequence gaps) and written as
 *    pcapng (by this code: libpcap cannot write pcapng) or pcap (libpcap's
 *    pcap_dump, nanosecond timestamps, LINKTYPE_RAW).
 *
 * Conventions as libbpf: 0 or -errno.
 */
#ifndef HTTPCAP_EXPORT_H
#define HTTPCAP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "htc.h"

/* ---- packet builder (export_pkt.c) ---- */

#define EXP_TCP_FIN 0x01
#define EXP_TCP_SYN 0x02
#define EXP_TCP_RST 0x04
#define EXP_TCP_PSH 0x08
#define EXP_TCP_ACK 0x10

/* TCP payload per segment: the largest that keeps the IP payload (a
 * 20-byte TCP header, data segments carry no options, + data) within 65495
 * bytes, the most Linux sends on loopback; so an IPv4 total length always
 * fits its 16 bits. */
#define EXP_SEG_MAX 65475
/* Room for one packet: IPv6 header + TCP header with options + data. */
#define EXP_PKT_MAX (40 + 40 + EXP_SEG_MAX)
/* LINKTYPE_RAW: each packet starts with its IPv4 or IPv6 header. */
#define EXP_LINKTYPE_RAW 101

/* One TCP segment between two endpoints. */
struct exp_seg {
	uint8_t family;			/* HTC_AF_INET or HTC_AF_INET6 */
	const uint8_t *saddr, *daddr;	/* 4 or 16 bytes, network order */
	uint16_t sport, dport;		/* host order */
	uint32_t seq, ack;
	uint8_t flags;			/* EXP_TCP_* */
	uint16_t window;		/* as sent (unscaled field value) */
	uint8_t wscale;			/* SYN only: window scale option shift (0..14) */
	uint16_t mss;			/* SYN only: MSS option; 0 = none */
	uint16_t ip_id;			/* IPv4 identification */
	const uint8_t *data;		/* len bytes of TCP payload (may be NULL when 0) */
	uint32_t len;			/* <= EXP_SEG_MAX */
};

/*
 * Build the IP + TCP packet of s into buf (cap bytes; EXP_PKT_MAX always
 * fits), with the IPv4 header checksum and the TCP checksum (over the
 * pseudo-header) filled in.  Returns the packet length, or -EINVAL (bad
 * family, len too big) / -ENOSPC (cap too small).
 */
int exp_build_packet(const struct exp_seg *s, uint8_t *buf, size_t cap);

/* The Internet checksum (RFC 1071) of n bytes, folded, not complemented,
 * starting from sum: for checking packets in the tests. */
uint32_t exp_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t exp_csum_fold(uint32_t sum);

/* pcapng option codes used here (draft-ietf-opsawg-pcapng, section 4) */
#define PCAPNG_OPT_ENDOFOPT	0
#define PCAPNG_OPT_COMMENT	1	/* opt_comment, UTF-8, any block */
#define PCAPNG_SHB_HARDWARE	2
#define PCAPNG_SHB_OS		3
#define PCAPNG_SHB_USERAPPL	4
#define PCAPNG_IF_NAME		2
#define PCAPNG_IF_DESCRIPTION	3
#define PCAPNG_IF_TSRESOL	9
#define PCAPNG_EPB_FLAGS	2	/* bits 0-1: 01 inbound, 10 outbound */
/* epb_processid_threadid: two unsigned 32-bit integers in the section's
 * byte order, the process id then the thread id; 0 = unknown (draft-ietf-
 * opsawg-pcapng, "Enhanced Packet Block Options"; Wireshark's
 * OPT_EPB_PROCESSID_THREADID, code 8). */
#define PCAPNG_EPB_PROCESSID_THREADID 8

#define PCAPNG_BT_SHB 0x0A0D0D0A
#define PCAPNG_BT_IDB 0x00000001
#define PCAPNG_BT_EPB 0x00000006

/* A growing byte buffer for blocks. */
struct exp_buf {
	uint8_t *p;
	size_t len, cap;
	int err;		/* -ENOMEM once an append failed */
};
void exp_buf_free(struct exp_buf *b);

/* Section Header Block (host byte order, which pcapng readers detect from
 * the byte-order magic) with shb_hardware, shb_os, shb_userappl (NULL: left
 * out) and a comment (NULL: none).  Appended to b; 0 or -ENOMEM. */
int exp_pcapng_shb(struct exp_buf *b, const char *hardware, const char *os,
		   const char *userappl, const char *comment);
/* Interface Description Block: linktype, snaplen, if_name, if_description,
 * if_tsresol = 9 (nanoseconds). */
int exp_pcapng_idb(struct exp_buf *b, uint16_t linktype, uint32_t snaplen,
		   const char *name, const char *description);

/* Per packet: what goes into the EPB's options. */
struct exp_pkt_meta {
	uint64_t wall_ns;	/* ns since the epoch */
	uint32_t pid, tid;	/* 0 = unknown; both 0: no pid/tid option */
	int dir;		/* 1 inbound, 2 outbound, 0 unknown (epb_flags) */
	const char *comment;	/* NUL-terminated UTF-8, NULL or "" = none */
};
/* Enhanced Packet Block on interface 0 with the packet's len bytes. */
int exp_pcapng_epb(struct exp_buf *b, const struct exp_pkt_meta *m,
		   const uint8_t *pkt, uint32_t len);

/* ---- exporter (export.c) ---- */

enum exp_format { EXP_PCAPNG, EXP_PCAP };

/*
 * The format of an output path by its extension: ".pcapng" -> pcapng,
 * ".pcap" -> pcap (case-insensitive), "-" (standard output) -> pcapng.
 * Returns 0, or -EINVAL for any other name.
 */
int exp_format_of(const char *path, enum exp_format *fmt);

/*
 * Where the initial sequence numbers come from.  The default (NULL hook)
 * derives them from the connection id and the direction (a hash: stable
 * for a file, different per connection, as real ISNs look).  A hook
 * returning true sets *isn for the direction (0: the bytes the traced
 * process sent, 1: the bytes it received) from the record that opened the
 * connection in the export (its CONNECT/ACCEPT, or its first event when the
 * connection was first seen later).  Without a hook, a direction whose
 * events carry the kernel's sequence numbers (format 1.2, HTC_EVF_SEQ)
 * takes isn = the first such event's tcp_seq - 1 - its stream offset, so
 * the packets carry the connection's real numbers, those a tcpdump capture
 * of it shows.  With either, the first-sight rule below does not apply.
 */
typedef bool (*exp_isn_fn)(void *ctx, const struct htc_event *ev, int dir, uint32_t *isn);

/* What to export; a zeroed filter passes everything. */
struct exp_filter {
	const uint32_t *pids;	size_t npids;	/* the process (tgid) */
	const uint16_t *ports;	size_t nports;	/* either end's port */
	const char *comm;			/* exact, NULL or "" = any */
	/* [since, until): wall-clock ns since the epoch, or with *_rel an
	 * offset from the capture start (htc_sel_parse_time); 0 = open */
	int64_t since_ns, until_ns;
	bool since_rel, until_rel;
};

/* Memory is bounded whatever the input holds (a hostile file can name
 * millions of connections in a few compressed bytes): about 500 bytes per
 * connection end, 200 per process.  Beyond, connections are not exported
 * (counted in exp_stats.over_limit) and command lines not named. */
#define EXP_MAX_CONNS (1u << 20)
#define EXP_MAX_PROCS (1u << 18)

struct exp_opts {
	enum exp_format format;
	uint32_t seg_max;	/* TCP payload per segment; 0 = EXP_SEG_MAX */
	uint64_t count;		/* stop after this many events exported; 0 = all */
	uint32_t max_conns;	/* connection ends tracked; 0 = EXP_MAX_CONNS */
	exp_isn_fn isn;		/* NULL: synthetic */
	void *isn_ctx;
};

struct exp_stats {
	uint64_t events;	/* events exported */
	uint64_t packets;	/* packets written */
	uint64_t bytes;		/* TCP payload bytes written */
	uint64_t gap_bytes;	/* bytes moved but not captured: sequence gaps */
	uint64_t conns;		/* TCP connections in the output */
	uint64_t paired;	/* connections whose two ends were both traced,
				 * written once (from the end with more bytes) */
	uint64_t firstsight;	/* handshakes made up at first sight */
	uint64_t over_limit;	/* events of connections beyond EXP_MAX_CONNS, left out */
};

struct exporter;

/*
 * Export the capture at in_path (an .htc file or anything httpcap -r
 * reads; "-" = standard input, spooled) to out_path ("-" = standard
 * output) through the filter.  The input is read twice: once to find the
 * connections whose two ends were both traced (so each is written once),
 * once to write.  warn (may be NULL) hears every problem the reader
 * recovered from (corrupt frame, truncated tail).  rst (OUT) receives the
 * reader's statistics of the second pass (truncation, where it stopped).
 * Returns 0, or -errno / HTC_ERR_*; *what (OUT) then names the side that
 * failed: "read" or "write".
 */
int exp_run(const char *in_path, const char *out_path, const struct exp_opts *o,
	    const struct exp_filter *f, htc_warn_fn warn, void *warn_ctx,
	    struct exp_stats *st, struct htc_reader_stats *rst, const char **what);

#endif /* HTTPCAP_EXPORT_H */
