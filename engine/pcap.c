/* SPDX-License-Identifier: MIT */
/*
 * pcap.c - tcpdump captures (pcap and pcapng, read with libpcap) as a
 * record source: TCP is reassembled per connection and direction into the
 * records httpcap would have written on the server's side of each
 * connection (ACCEPT, READ for client->server bytes, WRITE for
 * server->client bytes, CLOSE), so one engine does one analysis whatever
 * the capture came from.
 *
 * The records are written once, as an .htc, into an unlinked temporary
 * file (TMPDIR, else /tmp) that the process keeps and reopens: every
 * reader of the tools (headers, trailers, statistics, the events table
 * that re-reads its files) then works on it unchanged, and a file opened
 * again (httpanalyze checks each file, then merges them; the events table
 * re-reads) is converted once per process.
 *
 * Reassembly: stream offsets are the sequence numbers relative to the
 * first byte (ISN + 1 when the SYN was seen, else the first byte seen).
 * Bytes already delivered (retransmissions, overlaps) are dropped; a
 * segment beyond the next expected byte is held until the hole fills, up
 * to PCAP_HOLD_SEGS segments / PCAP_HOLD_DIR_BYTES per direction and
 * PCAP_HOLD_BYTES in all; past that, or at FIN/RST/end, the hole becomes a
 * gap (the next record's stream_off jumps): no byte is ever invented.  A
 * segment cut by the snapshot length gives ret > cap_len, as a syscall
 * whose payload was cut by httpcap's own snaplen.
 */
#include "htc_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits: a hostile pcap (millions of SYNs, endless holes) must not make
 * memory grow without bound.  The least recently seen connection makes
 * room for a new one (it is closed, counted in the warning). */
#define PCAP_MAX_CONNS 131072
#define PCAP_HASH_BITS 18
#define PCAP_HOLD_SEGS 256
#define PCAP_HOLD_DIR_BYTES ((size_t)1 << 20)
#define PCAP_HOLD_BYTES ((size_t)64 << 20)
/* converted files kept per process */
#define PCAP_CACHE_MAX 64

/* ---- bounds-checked big-endian reads over (p, len) ---- */
static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One segment held beyond a hole. */
struct seg {
	struct seg *next;
	uint64_t off;		/* stream offset of its first byte */
	uint32_t len;		/* bytes on the wire */
	uint32_t cap;		/* bytes captured (<= len), in data[] */
	uint64_t ts;
	uint8_t data[];
};

struct dir {
	int based;		/* base known */
	uint32_t base;		/* sequence number of stream offset 0 */
	uint64_t next;		/* next stream offset expected */
	struct seg *held;	/* sorted by off */
	uint32_t nheld;
	size_t held_bytes;
};

struct pconn {
	struct pconn *hnext;		/* hash chain */
	struct pconn *lprev, *lnext;	/* LRU list, most recent first */
	uint8_t key[37];		/* family, then both (addr, port) ordered */
	uint8_t family;
	/* [0] client, [1] server */
	uint8_t addr[2][16];
	uint16_t port[2];
	int role_known;		/* from the SYN or SYN-ACK */
	int accepted;		/* ACCEPT written */
	int fin[2];
	int closed;		/* CLOSE written: kept for the packets that come late */
	uint64_t conn_id;
	struct dir d[2];	/* [0] client -> server (READ), [1] server -> client (WRITE) */
};

/* Warnings of a conversion, kept to be told at every open of the file. */
#define PCAP_WARN_MAX 8
struct warns {
	int n;
	int err[PCAP_WARN_MAX];
	char msg[PCAP_WARN_MAX][256];
};

/* Why the last htc_pcap_open of this thread failed, "" when unknown. */
static __thread char last_error[PCAP_ERRBUF_SIZE + 128];

const char *htc_pcap_error(void)
{
	return last_error;
}

struct conv {
	struct htc_writer *w;
	struct warns *warns;
	const char *name;
	struct pconn *tab[1u << PCAP_HASH_BITS];
	struct pconn *lru_head, *lru_tail;
	size_t nconns;
	size_t held_bytes;
	uint64_t next_conn_id;
	int linktype;
	int err;		/* first write error */
	/* counted, reported in one warning at the end */
	uint64_t packets, not_tcp, frag4, frag6, malformed, evicted, gaps, dup_bytes, unsupported;
	uint64_t last_ts;
};

static void conv_warn(struct conv *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conv_warn(struct conv *c, int err, const char *fmt, ...)
{
	struct warns *w = c->warns;
	va_list ap;

	if (w->n >= PCAP_WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(w->msg[w->n], sizeof(w->msg[0]), fmt, ap);
	va_end(ap);
	w->err[w->n++] = err;
}

static void put(struct conv *c, const struct htc_record *rec)
{
	int r;

	if (c->err)
		return;
	r = htc_writer_append(c->w, rec);
	if (r)
		c->err = r;
}

/* The record skeleton of a connection: the server's side of it. */
static void ev_init(const struct pconn *pc, struct htc_event *ev, uint8_t type, uint64_t ts)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->syscall = HTC_SYS_UNKNOWN;
	ev->fd = -1;
	ev->ts_ns = ts;
	ev->conn_id = pc->conn_id;
	/* process unknown: a packet capture does not say */
	strcpy(ev->comm, "?");
	ev->ep.family = pc->family == 4 ? HTC_AF_INET : HTC_AF_INET6;
	ev->ep.role = pc->role_known ? HTC_ROLE_SERVER : HTC_ROLE_UNKNOWN;
	ev->ep.lport = pc->port[1];
	ev->ep.rport = pc->port[0];
	memcpy(ev->ep.laddr, pc->addr[1], 16);
	memcpy(ev->ep.raddr, pc->addr[0], 16);
	if (!pc->role_known)
		ev->flags |= HTC_EVF_PREEXISTING;
}

static void emit_accept(struct conv *c, struct pconn *pc, uint64_t ts)
{
	struct htc_record rec = { .type = HTC_REC_CONN };

	if (pc->accepted)
		return;
	pc->accepted = 1;
	if (!pc->role_known)
		return;		/* first sight mid-way: the data says it all */
	ev_init(pc, &rec.ev, HTC_EV_ACCEPT, ts);
	rec.ev.syscall = HTC_SYS_ACCEPT;
	rec.ev.ret = 0;
	put(c, &rec);
}

static void emit_data(struct conv *c, struct pconn *pc, int d, uint64_t off, uint32_t len,
		      const uint8_t *p, uint32_t cap, uint64_t ts)
{
	struct htc_record rec = { .type = HTC_REC_DATA };

	emit_accept(c, pc, ts);
	ev_init(pc, &rec.ev, d == 0 ? HTC_EV_READ : HTC_EV_WRITE, ts);
	rec.ev.ret = len;
	rec.ev.stream_off = off;
	/* the packets' own numbers, as httpcap reads them from the socket:
	 * the same alignment path in the engine for both sources */
	if (pc->d[d].based) {
		rec.ev.flags |= HTC_EVF_SEQ;
		rec.ev.tcp_seq = pc->d[d].base + (uint32_t)off;
	}
	rec.ev.cap_len = cap;
	rec.ev.payload = cap ? p : NULL;
	put(c, &rec);
}

/* Deliver what is held at or before dir->next (trimming what was already
 * delivered); with force, also the rest, the holes becoming gaps. */
static void drain(struct conv *c, struct pconn *pc, int d, int force)
{
	struct dir *dr = &pc->d[d];

	while (dr->held && (force || dr->held->off <= dr->next)) {
		struct seg *s = dr->held;
		uint64_t end = s->off + s->len;

		dr->held = s->next;
		dr->nheld--;
		dr->held_bytes -= s->cap;
		c->held_bytes -= s->cap;
		if (end > dr->next) {
			uint64_t skip = s->off < dr->next ? dr->next - s->off : 0;
			uint32_t cap = skip < s->cap ? s->cap - (uint32_t)skip : 0;

			if (s->off > dr->next)
				c->gaps++;
			emit_data(c, pc, d, s->off + skip, (uint32_t)(s->len - skip),
				  s->data + (skip < s->cap ? skip : 0), cap, s->ts);
			dr->next = end;
		} else {
			c->dup_bytes += s->len;
		}
		free(s);
	}
}

static void dir_free(struct conv *c, struct dir *dr)
{
	while (dr->held) {
		struct seg *s = dr->held;

		dr->held = s->next;
		c->held_bytes -= s->cap;
		free(s);
	}
	dr->nheld = 0;
	dr->held_bytes = 0;
}

static uint32_t key_hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h >> (32 - PCAP_HASH_BITS);
}

static void lru_unlink(struct conv *c, struct pconn *pc)
{
	if (pc->lprev)
		pc->lprev->lnext = pc->lnext;
	else
		c->lru_head = pc->lnext;
	if (pc->lnext)
		pc->lnext->lprev = pc->lprev;
	else
		c->lru_tail = pc->lprev;
	pc->lprev = pc->lnext = NULL;
}

static void lru_front(struct conv *c, struct pconn *pc)
{
	pc->lnext = c->lru_head;
	pc->lprev = NULL;
	if (c->lru_head)
		c->lru_head->lprev = pc;
	c->lru_head = pc;
	if (!c->lru_tail)
		c->lru_tail = pc;
}

/* Deliver what is held and write the CLOSE (when anything was written);
 * with forget, drop pc, else keep it closed: packets that come late (a
 * retransmission after the FINs, the last ACK) are then known as such and
 * make no new connection, until a SYN opens one on the same ports. */
static void conn_end(struct conv *c, struct pconn *pc, uint64_t ts, int64_t ret, int forget)
{
	struct pconn **pp = &c->tab[key_hash(pc->key, sizeof(pc->key))];

	if (!pc->closed) {
		drain(c, pc, 0, 1);
		drain(c, pc, 1, 1);
		if (pc->accepted) {
			struct htc_record rec = { .type = HTC_REC_CONN };

			ev_init(pc, &rec.ev, HTC_EV_CLOSE, ts);
			rec.ev.syscall = HTC_SYS_CLOSE;
			rec.ev.ret = ret;
			rec.ev.stream_off = pc->d[0].next;
			rec.ev.stream_off2 = pc->d[1].next;
			put(c, &rec);
		}
		pc->closed = 1;
		dir_free(c, &pc->d[0]);
		dir_free(c, &pc->d[1]);
	}
	if (!forget)
		return;
	while (*pp && *pp != pc)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = pc->hnext;
	lru_unlink(c, pc);
	c->nconns--;
	free(pc);
}

/* The key of a packet's connection: the same both ways. */
static void make_key(uint8_t *key, uint8_t fam, const uint8_t *sa, uint16_t sp,
		     const uint8_t *da, uint16_t dp, int *swapped)
{
	uint8_t a[18], b[18];

	memcpy(a, sa, 16);
	a[16] = (uint8_t)(sp >> 8);
	a[17] = (uint8_t)sp;
	memcpy(b, da, 16);
	b[16] = (uint8_t)(dp >> 8);
	b[17] = (uint8_t)dp;
	*swapped = memcmp(a, b, 18) > 0;
	key[0] = fam;
	memcpy(key + 1, *swapped ? b : a, 18);
	memcpy(key + 19, *swapped ? a : b, 18);
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Hold a segment beyond a hole; when the limits are reached the earliest
 * hole is given up (a gap). */
static void hold(struct conv *c, struct pconn *pc, int d, uint64_t off, uint32_t len,
		 const uint8_t *p, uint32_t cap, uint64_t ts)
{
	struct dir *dr = &pc->d[d];
	struct seg *s, **pp;

	while (dr->held && (dr->nheld >= PCAP_HOLD_SEGS ||
			    dr->held_bytes + cap > PCAP_HOLD_DIR_BYTES ||
			    c->held_bytes + cap > PCAP_HOLD_BYTES)) {
		/* give up the first hole: deliver from the first held segment on */
		if (dr->held->off > dr->next)
			c->gaps++;
		dr->next = dr->held->off;
		drain(c, pc, d, 0);
	}
	if (c->held_bytes + cap > PCAP_HOLD_BYTES) {
		/* other connections hold it all: this one cannot wait */
		c->gaps++;
		emit_data(c, pc, d, off, len, p, cap, ts);
		dr->next = off + len;
		return;
	}
	s = malloc(sizeof(*s) + cap);
	if (!s) {
		c->err = -ENOMEM;
		return;
	}
	s->off = off;
	s->len = len;
	s->cap = cap;
	s->ts = ts;
	memcpy(s->data, p, cap);
	for (pp = &dr->held; *pp && (*pp)->off <= off; pp = &(*pp)->next)
		;
	s->next = *pp;
	*pp = s;
	dr->nheld++;
	dr->held_bytes += cap;
	c->held_bytes += cap;
}

static void on_tcp(struct conv *c, uint8_t fam, const uint8_t *sa, const uint8_t *da,
		   const uint8_t *p, uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	uint8_t key[37];
	uint16_t sp, dp;
	uint32_t seq, ack, hl, len, cap;
	uint8_t fl;
	int swapped, d;
	struct pconn *pc, **pp;
	struct dir *dr;
	uint64_t off;
	int64_t rel;

	if (caplen < 20 || wirelen < 20) {
		c->malformed++;
		return;
	}
	sp = be16(p);
	dp = be16(p + 2);
	seq = be32(p + 4);
	ack = be32(p + 8);
	hl = (uint32_t)(p[12] >> 4) * 4;
	fl = p[13];
	if (hl < 20 || hl > wirelen || hl > caplen) {
		c->malformed++;
		return;
	}
	len = wirelen - hl;
	cap = caplen - hl;
	if (cap > len)
		cap = len;
	p += hl;

	make_key(key, fam, sa, sp, da, dp, &swapped);
	pp = &c->tab[key_hash(key, sizeof(key))];
	for (pc = *pp; pc && memcmp(pc->key, key, sizeof(key)); pc = pc->hnext)
		;
	if (pc && (fl & TH_SYN) && !(fl & TH_ACK) &&
	    (pc->closed || (pc->role_known && memcmp(pc->addr[0], sa, 16) == 0 &&
			    pc->port[0] == sp && pc->d[0].based && seq + 1 != pc->d[0].base))) {
		/* a new connection on the same ports (reuse) */
		conn_end(c, pc, ts, 0, 1);
		pc = NULL;
	}
	if (pc && pc->closed) {
		c->dup_bytes += len;	/* late: after the FINs or the RST */
		return;
	}
	if (!pc) {
		int syn = !!(fl & TH_SYN);

		/* only a SYN or data make a connection: a stray ACK, FIN or RST
		 * of one closed or never seen says nothing */
		if (!syn && !len)
			return;
		if (c->nconns >= PCAP_MAX_CONNS) {
			if (!c->lru_tail->closed)
				c->evicted++;
			conn_end(c, c->lru_tail, ts, 0, 1);
		}
		pc = calloc(1, sizeof(*pc));
		if (!pc) {
			c->err = -ENOMEM;
			return;
		}
		memcpy(pc->key, key, sizeof(key));
		pc->family = fam;
		pc->conn_id = ++c->next_conn_id;
		/* the client: the SYN's sender, the SYN-ACK's receiver; seen
		 * mid-way, the end with the higher port (ephemeral), the
		 * engine deciding from the bytes (role unknown) */
		if (syn) {
			int client_is_src = !(fl & TH_ACK);

			pc->role_known = 1;
			memcpy(pc->addr[0], client_is_src ? sa : da, 16);
			memcpy(pc->addr[1], client_is_src ? da : sa, 16);
			pc->port[0] = client_is_src ? sp : dp;
			pc->port[1] = client_is_src ? dp : sp;
		} else {
			int client_is_src = sp > dp || (sp == dp && !swapped);

			memcpy(pc->addr[0], client_is_src ? sa : da, 16);
			memcpy(pc->addr[1], client_is_src ? da : sa, 16);
			pc->port[0] = client_is_src ? sp : dp;
			pc->port[1] = client_is_src ? dp : sp;
		}
		pc->hnext = *pp;
		*pp = pc;
		c->nconns++;
	} else {
		lru_unlink(c, pc);
	}
	lru_front(c, pc);

	d = (memcmp(pc->addr[0], sa, 16) == 0 && pc->port[0] == sp) ? 0 : 1;
	dr = &pc->d[d];
	if (fl & TH_SYN) {
		if (!dr->based) {
			dr->based = 1;
			dr->base = seq + 1;
		}
		if (d == 1 && (fl & TH_ACK)) {
			if (!pc->d[0].based) {
				pc->d[0].based = 1;
				pc->d[0].base = ack;
			}
			emit_accept(c, pc, ts);
		}
		seq++;		/* the SYN takes one sequence number */
	}
	if (len) {
		if (!dr->based) {
			dr->based = 1;
			dr->base = seq;
		}
		/* the offset, unwrapped near the next expected byte */
		rel = (int64_t)dr->next + (int32_t)(seq - (dr->base + (uint32_t)dr->next));
		if (rel < 0) {
			/* starts before the stream: keep what follows offset 0 */
			uint64_t skip = (uint64_t)-rel;

			if (skip >= len) {
				c->dup_bytes += len;
				goto flags;
			}
			p += skip < cap ? skip : cap;
			cap = skip < cap ? cap - (uint32_t)skip : 0;
			len -= (uint32_t)skip;
			rel = 0;
		}
		off = (uint64_t)rel;
		if (off + len <= dr->next) {
			c->dup_bytes += len;	/* retransmission */
		} else if (off <= dr->next) {
			uint64_t skip = dr->next - off;

			if (skip)
				c->dup_bytes += skip;
			emit_data(c, pc, d, dr->next, (uint32_t)(len - skip),
				  p + (skip < cap ? skip : cap), skip < cap ? cap - (uint32_t)skip : 0, ts);
			dr->next = off + len;
			drain(c, pc, d, 0);
		} else {
			hold(c, pc, d, off, len, p, cap, ts);
		}
	}
flags:
	if (fl & TH_RST) {
		conn_end(c, pc, ts, -ECONNRESET, 0);
		return;
	}
	if (fl & TH_FIN) {
		pc->fin[d] = 1;
		if (pc->fin[0] && pc->fin[1])
			conn_end(c, pc, ts, 0, 0);
	}
}

/* One packet from the network layer on: IPv4 or IPv6 (version nibble). */
static void on_ip(struct conv *c, const uint8_t *p, uint32_t caplen, uint32_t wirelen, uint64_t ts)
{
	uint8_t sa[16] = {}, da[16] = {};

	if (caplen < 1) {
		c->malformed++;
		return;
	}
	if ((p[0] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(p[0] & 15) * 4, tot;

		if (caplen < 20 || ihl < 20 || caplen < ihl) {
			c->malformed++;
			return;
		}
		tot = be16(p + 2);
		if (tot < ihl || tot > wirelen) {
			/* a total length beyond the frame: what was on the wire
			 * is all there is (TSO on the capturing host gives 0) */
			if (tot != 0 && tot < ihl) {
				c->malformed++;
				return;
			}
			tot = wirelen;
		}
		if (p[9] != 6) {
			c->not_tcp++;
			return;
		}
		if (be16(p + 6) & 0x3fff) {
			c->frag4++;	/* more fragments or an offset */
			return;
		}
		memcpy(sa, p + 12, 4);
		memcpy(da, p + 16, 4);
		on_tcp(c, 4, sa, da, p + ihl, (caplen < tot ? caplen : tot) - ihl, tot - ihl, ts);
	} else if ((p[0] >> 4) == 6) {
		uint32_t off = 40, plen, tot;
		uint8_t nh;

		if (caplen < 40) {
			c->malformed++;
			return;
		}
		plen = be16(p + 4);
		tot = 40 + plen;
		if (plen == 0 || tot > wirelen)
			tot = wirelen;	/* jumbogram or TSO: the frame's length */
		nh = p[6];
		memcpy(sa, p + 8, 16);
		memcpy(da, p + 24, 16);
		/* extension headers, a bounded number */
		for (int i = 0; i < 8 && nh != 6; i++) {
			if (nh == 44) {
				c->frag6++;
				return;
			}
			if (nh != 0 && nh != 43 && nh != 60 && nh != 51) {
				c->not_tcp++;
				return;
			}
			if (off + 8 > caplen || off + 8 > tot) {
				c->malformed++;
				return;
			}
			{
				uint32_t hl = nh == 51 ? ((uint32_t)p[off + 1] + 2) * 4
						       : ((uint32_t)p[off + 1] + 1) * 8;

				nh = p[off];
				off += hl;
			}
		}
		if (nh != 6) {
			c->not_tcp++;
			return;
		}
		if (off > caplen || off > tot) {
			c->malformed++;
			return;
		}
		on_tcp(c, 6, sa, da, p + off, (caplen < tot ? caplen : tot) - off, tot - off, ts);
	} else {
		c->not_tcp++;
	}
}

/* Strip the link layer; the network protocol as an ethertype (0x0800,
 * 0x86dd), 0 when unknown. */
static void on_packet(struct conv *c, const struct pcap_pkthdr *h, const uint8_t *p)
{
	uint32_t caplen = h->caplen, wirelen = h->len, hl = 0;
	uint16_t et = 0;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;

	c->packets++;
	c->last_ts = ts;
	if (wirelen < caplen)
		wirelen = caplen;
	switch (c->linktype) {
	case DLT_EN10MB:
		if (caplen < 14)
			goto bad;
		et = be16(p + 12);
		hl = 14;
		/* VLAN tags, at most two */
		for (int i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
			if (caplen < hl + 4)
				goto bad;
			et = be16(p + hl + 2);
			hl += 4;
		}
		break;
	case DLT_LINUX_SLL:
		if (caplen < 16)
			goto bad;
		et = be16(p + 14);
		hl = 16;
		break;
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			goto bad;
		et = be16(p);
		hl = 20;
		break;
#endif
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t af;

		if (caplen < 4)
			goto bad;
		/* NULL: host order of the capturing machine, either */
		af = be32(p);
		if (af > 0xffff)
			af = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;
		et = af == 2 ? 0x0800 : (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86dd : 0;
		hl = 4;
		break;
	}
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
	case 101:	/* LINKTYPE_RAW, as some files carry it */
		et = caplen && (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
		break;
	default:
		c->unsupported++;
		return;
	}
	if (et != 0x0800 && et != 0x86dd) {
		c->not_tcp++;
		return;
	}
	if (wirelen < hl)
		goto bad;
	on_ip(c, p + hl, caplen - hl, wirelen - hl, ts);
	return;
bad:
	c->malformed++;
}

static int linktype_ok(int lt)
{
	switch (lt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
#endif
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
	case 101:
		return 1;
	}
	return 0;
}

int htc_pcap_probe(const char *path)
{
	uint8_t m[4];
	uint32_t v;
	int fd, n;

	if (!path || !strcmp(path, "-"))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)read(fd, m, sizeof(m));
	close(fd);
	if (n != 4)
		return 0;
	v = be32(m);
	return v == 0xa1b2c3d4 || v == 0xd4c3b2a1 || v == 0xa1b23c4d || v == 0x4d3cb2a1 ||
	       v == 0x0a0d0d0a;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Convert path into an .htc on fd; 0 or < 0 (nothing usable). */
static int convert(const char *path, int fd, struct warns *warns)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct htc_header hdr = {};
	struct htc_writer_opts wo = { .compact = 1 };
	struct conv *c = NULL;
	struct pcap_pkthdr *ph;
	const u_char *pkt;
	pcap_t *pcap;
	FILE *fp;
	int r, wfd = -1, ret = 0, first;
	uint64_t t0 = 0;

	/* libpcap reads packet by packet through stdio: a large buffer makes
	 * a read per MiB rather than per 4 KiB */
	fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;

		snprintf(last_error, sizeof(last_error), "cannot open: %s", strerror(e));
		return -e;
	}
	setvbuf(fp, NULL, _IOFBF, (size_t)1 << 20);
	pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pcap) {
		fclose(fp);
		snprintf(last_error, sizeof(last_error), "not a readable pcap: %s", errbuf);
		return HTC_ERR_CORRUPT;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		goto cleanup;
	}
	c->warns = warns;
	c->name = base_name(path);
	c->linktype = pcap_datalink(pcap);
	if (!linktype_ok(c->linktype)) {
		snprintf(last_error, sizeof(last_error), "link type %s (%d) not supported (Ethernet, "
			  "Linux cooked v1/v2, raw IP and loopback are)",
			  pcap_datalink_val_to_name(c->linktype) ? pcap_datalink_val_to_name(c->linktype)
								 : "?", c->linktype);
		ret = HTC_ERR_CORRUPT;
		goto cleanup;
	}
	/* the first packet gives the capture's start for the header */
	r = pcap_next_ex(pcap, &ph, &pkt);
	first = r == 1;
	if (first)
		t0 = (uint64_t)ph->ts.tv_sec * 1000000000ull + (uint64_t)ph->ts.tv_usec;
	hdr.version_major = HTC_VERSION_MAJOR;
	hdr.version_minor = HTC_VERSION_MINOR;
	hdr.flags = HTC_OPT_PAYLOAD;
	hdr.snaplen = (uint32_t)pcap_snapshot(pcap);
	hdr.realtime_offset_ns = 0;	/* packet times are wall-clock already */
	hdr.start_ns = t0;
	if (getrandom(hdr.capture_id, sizeof(hdr.capture_id), 0) != sizeof(hdr.capture_id))
		memset(hdr.capture_id, 0x5a, sizeof(hdr.capture_id));
	snprintf(hdr.hostname, sizeof(hdr.hostname), "pcap:%s", c->name);
	snprintf(hdr.tool_version, sizeof(hdr.tool_version), "httpcap %s pcap import",
		 HTC_TOOL_VERSION);
	snprintf(hdr.options, sizeof(hdr.options), "source=pcap\nlinktype=%s\nsnaplen=%d\n",
		 pcap_datalink_val_to_name(c->linktype) ? pcap_datalink_val_to_name(c->linktype)
							: "?", pcap_snapshot(pcap));
	wfd = dup(fd);
	if (wfd < 0) {
		ret = -errno;
		goto cleanup;
	}
	c->w = htc_writer_fdopen(wfd, &hdr, &wo, &ret);
	wfd = -1;
	if (!c->w)
		goto cleanup;
	while (r == 1 && !c->err) {
		on_packet(c, ph, pkt);
		r = pcap_next_ex(pcap, &ph, &pkt);
	}
	if (r == PCAP_ERROR)
		conv_warn(c, HTC_ERR_TRUNCATED, "pcap read stopped after %llu packets: %s; "
			  "keeping what was read", (unsigned long long)c->packets,
			  pcap_geterr(pcap));
	/* the end: what is held is delivered (holes become gaps); open
	 * connections stay open, as in a capture that stopped */
	for (struct pconn *pc = c->lru_head; pc; pc = pc->lnext) {
		drain(c, pc, 0, 1);
		drain(c, pc, 1, 1);
	}
	if (c->frag4 || c->frag6 || c->malformed || c->evicted || c->unsupported)
		conv_warn(c, 0, "pcap: %llu packets; lost: %llu IPv4 and %llu IPv6 fragments "
			  "(not reassembled), %llu malformed, %llu connections over the limit of %d "
			  "closed early", (unsigned long long)c->packets,
			  (unsigned long long)c->frag4, (unsigned long long)c->frag6,
			  (unsigned long long)(c->malformed + c->unsupported),
			  (unsigned long long)c->evicted, PCAP_MAX_CONNS);
	if (c->err) {
		ret = c->err;
		snprintf(last_error, sizeof(last_error), "pcap conversion failed after %llu packets: %s",
			 (unsigned long long)c->packets, htc_strerror(ret));
	}
cleanup:
	if (c) {
		while (c->lru_head) {
			struct pconn *pc = c->lru_head;

			lru_unlink(c, pc);
			dir_free(c, &pc->d[0]);
			dir_free(c, &pc->d[1]);
			free(pc);
		}
		if (c->w) {
			int r2 = htc_writer_close(c->w, c->last_ts, NULL);

			if (!ret)
				ret = r2;
		}
		free(c);
	}
	pcap_close(pcap);
	return ret;
}

/* Converted files, kept open for the life of the process, known by the
 * pcap's device, inode, size and mtime. */
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int fd;
	int src;	/* the pcap, kept open: its inode is not reused meanwhile */
	struct warns warns;
} cache[PCAP_CACHE_MAX];
static size_t ncache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct htc_reader *htc_pcap_open(const char *path, htc_warn_fn warn, void *warn_ctx, int *err)
{
	struct htc_reader *r = NULL;
	struct warns *warns = NULL;
	char proc[64];
	struct stat st;
	int fd = -1, ret = 0, cached = 0;

	last_error[0] = 0;
	if (stat(path, &st)) {
		ret = -errno;
		goto out;
	}
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncache; i++) {
		if (cache[i].dev == st.st_dev && cache[i].ino == st.st_ino &&
		    cache[i].size == st.st_size && cache[i].mtime.tv_sec == st.st_mtim.tv_sec &&
		    cache[i].mtime.tv_nsec == st.st_mtim.tv_nsec) {
			fd = cache[i].fd;
			warns = &cache[i].warns;
			cached = 1;
			break;
		}
	}
	if (!cached) {
		static __thread struct warns one;

		fd = htc_tmpfile();
		warns = &one;
		memset(warns, 0, sizeof(*warns));
		if (fd < 0) {
			ret = fd;
		} else {
			ret = convert(path, fd, warns);
			if (ret) {
				close(fd);
				fd = -1;
			} else if (ncache < PCAP_CACHE_MAX &&
				   (cache[ncache].src = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
				cache[ncache].dev = st.st_dev;
				cache[ncache].ino = st.st_ino;
				cache[ncache].size = st.st_size;
				cache[ncache].mtime = st.st_mtim;
				cache[ncache].fd = fd;
				cache[ncache].warns = *warns;
				warns = &cache[ncache].warns;
				ncache++;
				cached = 1;
			}
		}
	}
	/* told at every open, as a reader tells of a damaged .htc each time */
	for (int i = 0; warn && warns && i < warns->n; i++)
		warn(warn_ctx, warns->err[i], 0, warns->msg[i]);
	pthread_mutex_unlock(&cache_lock);
	if (fd < 0)
		goto out;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = htc_reader_open(proc, &ret);
	if (!r)
		snprintf(last_error, sizeof(last_error), "converted pcap unreadable: %s",
			 htc_strerror(ret));
	if (!cached)
		close(fd);	/* the reader has its own open file */
out:
	if (!r && err)
		*err = ret ? ret : -EIO;
	return r;
}

struct htc_reader *htc_capture_open(const char *path, htc_warn_fn warn, void *warn_ctx, int *err)
{
	if (htc_pcap_probe(path))
		return htc_pcap_open(path, warn, warn_ctx, err);
	return htc_reader_open(path, err);
}
