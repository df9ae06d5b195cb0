// SPDX-License-Identifier: MIT
/*
 * export.c - httpcap -r FILE -w OUT.pcapng|OUT.pcap: the capture's TCP
 * connections as packets.
 *
 * An .htc file holds syscalls, not packets; each connection is turned into
 * the packets a capture on the wire would have shown, made up where the
 * syscalls say nothing:
 *  - a handshake (SYN, SYN-ACK, ACK) at connect/accept, or at the first
 *    event of a connection opened before the capture (or before --since),
 *    then flagged as made up in its comment; a failed connect is a SYN
 *    answered by a RST;
 *  - data segments of the captured bytes, split at EXP_SEG_MAX, numbered
 *    from the stream offsets (seq = ISN + 1 + offset), each event's
 *    segments acknowledged by the other side at once;
 *  - bytes moved but not captured (past the snaplen, sendfile, drops) are
 *    left out: their sequence numbers are skipped, so Wireshark says
 *    "previous segment not captured" and never shows invented bytes;
 *  - a FIN (a RST when close() said ECONNRESET) at close, and the peer's
 *    FIN when the peer's close was captured too.
 * A connection whose two ends were both traced (a client and a server on
 * one host) is in the file twice; it is written once, from the end with
 * more captured bytes, and its comments name the other end's process.
 * That takes a first pass over the input; the second pass writes.
 *
 * Every packet carries the traced process whose syscall it was made from:
 * pcapng's epb_processid_threadid option (pid, tid), epb_flags' direction
 * (outbound: the process sent it; inbound: it received it) and a readable
 * comment (comm, pid, tid, syscall; the command line once per connection).
 * The classic pcap format has no room for any of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "export.h"
#include "htc_engine.h"
#include "htc_hash.h"

#define EXP_SNAPLEN 262144	/* IDB/pcap snaplen: no packet is cut */
#define EXP_WINDOW 0xffff	/* window field; with scale 14: 1 GiB, never full */
#define EXP_WSCALE 14
#define EXP_MSS 65495		/* what the SYNs announce, loopback-like */
#define EXP_FLUSH_BYTES (1 << 20)
#define EXP_CMDLINE_MAX 512	/* of a command line in a comment */
#define EXP_COMMENT_MAX 1024

/* ---- two tables: the connections by conn_id, the command lines by pid ---- */

/* The head of every table entry: its key, and whether the slot holds one. */
struct slot {
	uint64_t key;
	bool used;
};

/*
 * Open addressing with linear probing on a 64-bit key, grows at 50 % load.
 * By hand: glibc's hsearch has one table per process and string keys, and
 * an entry is looked up at every event.
 */
struct table {
	void *v;		/* cap entries of esz bytes, each starting with a struct slot */
	size_t cap, n;
	size_t esz;
	size_t first_cap;	/* a power of two */
};

static struct slot *tab_slot(void *v, size_t esz, size_t i)
{
	return (struct slot *)((char *)v + i * esz);
}

static void *tab_find(struct table *t, uint64_t key, bool add)
{
	struct slot *s;
	size_t i;

	if (add && (t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : t->first_cap;
		void *v = calloc(cap, t->esz);

		if (!v)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			struct slot *old = tab_slot(t->v, t->esz, k);

			if (!old->used)
				continue;
			for (i = mix64(old->key) & (cap - 1); tab_slot(v, t->esz, i)->used; i = (i + 1) & (cap - 1))
				;
			memcpy(tab_slot(v, t->esz, i), old, t->esz);
		}
		free(t->v);
		t->v = v;
		t->cap = cap;
	}
	if (!t->cap)
		return NULL;
	for (i = mix64(key) & (t->cap - 1); (s = tab_slot(t->v, t->esz, i))->used; i = (i + 1) & (t->cap - 1))
		if (s->key == key)
			return s;
	if (!add)
		return NULL;
	s->used = true;
	s->key = key;
	t->n++;
	return s;
}

/* ---- per-connection state ---- */

struct conn {
	struct slot s;			/* s.key: the conn_id */
	struct htc_endpoints ep;
	uint64_t first_ts, last_ts;
	uint64_t cap_bytes;		/* pass 1: payload bytes of the events passing */
	uint32_t pid;
	char comm[HTC_COMM_LEN];
	bool skip;			/* the other end of a pair is written instead */
	bool paired;
	uint32_t peer_pid;		/* paired: the other end */
	char peer_comm[HTC_COMM_LEN];
	uint64_t peer_id;		/* skip: the conn_id written instead */
	bool preexisting;		/* opened before the capture */
	bool peer_preexisting;
	/* pass 1: the initial sequence numbers the kernel's own numbers give
	 * (format 1.2 tcp_seq), per direction, when kisn_ok has its bit */
	uint32_t kisn[2];
	uint8_t kisn_ok;
	/* its TLS plaintext was captured (format 1.2): the plaintext is the
	 * packets' payload, the ciphertext events are left out */
	bool tls_plain;
	/* pass 2 */
	bool started, closed, firstsight, told;
	bool base_set[2];
	uint32_t isn[2];		/* [0]: bytes the process sent; [1]: received */
	uint64_t base[2];		/* stream offset of seq ISN + 1 */
	uint64_t hi[2];			/* stream offset after the last byte written */
	uint64_t moved[2];		/* stream offset after the last event, captured or not */
	bool fin[2];			/* FIN sent in that direction */
	/* the first byte of direction d not captured: its receiver's ACKs
	 * stop there, as a receiver's that lost a segment, so Wireshark tells
	 * a gap once ("previous segment not captured"), not also as "ACKed
	 * unseen segment" at every later ACK */
	bool held[2];
	uint64_t hold_at[2];
	uint32_t last_ack[2];		/* the last ack number sent by each end */
	bool last_ack_set[2];
	bool rfin_pending;		/* the peer closed (paired): its FIN is due */
	uint64_t rfin_off;		/* at this offset of direction 1 */
	uint16_t ip_id[2];
};

static struct conn *ct_find(struct table *t, uint64_t conn_id, bool add)
{
	return tab_find(t, conn_id, add);
}

/* Command lines by pid, from PROC records, escaped for comments. */
struct procent {
	struct slot s;			/* s.key: the pid */
	char *cmdline;
};

static struct procent *pt_find(struct table *t, uint32_t pid, bool add)
{
	return tab_find(t, pid, add);
}

/*
 * Captured text into a comment: printable ASCII kept, a backslash doubled,
 * a NUL (between argv words) as a space, every other byte \xNN: comments
 * are UTF-8 text shown by Wireshark, and a capture's bytes are anything.
 */
static size_t escape(char *dst, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0 && i + 1 == n)
			break;
		if (o + 5 >= cap)
			break;
		if (c == 0) {
			dst[o++] = ' ';
		} else if (c == '\\') {
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (cap)
		dst[o < cap ? o : cap - 1] = '\0';
	return o;
}

/* ---- the export session ---- */

struct exporter {
	const struct exp_opts *o;
	const struct exp_filter *f;
	uint64_t since, until;		/* resolved, wall clock */
	int64_t rt_off;			/* the input's realtime offset */
	uint8_t capture_id[16];
	struct table ct;		/* struct conn */
	struct table pt;		/* struct procent */
	enum exp_format fmt;
	FILE *out;
	bool out_is_stdout;
	struct exp_buf blk;		/* pcapng blocks waiting to be written */
	pcap_t *dead;
	pcap_dumper_t *dumper;
	uint8_t pkt[EXP_PKT_MAX];
	uint64_t last_wall;		/* packets never go back in time in the file */
	struct exp_stats st;
	int werr;			/* first write error */
};

static bool pass_filter(const struct exporter *x, const struct htc_event *ev)
{
	const struct exp_filter *f = x->f;
	uint64_t wall;
	bool ok;
	size_t i;

	if (f->npids) {
		for (ok = false, i = 0; i < f->npids && !ok; i++)
			ok = ev->pid == f->pids[i];
		if (!ok)
			return false;
	}
	if (f->nports) {
		for (ok = false, i = 0; i < f->nports && !ok; i++)
			ok = ev->ep.lport == f->ports[i] || ev->ep.rport == f->ports[i];
		if (!ok)
			return false;
	}
	if (f->comm && *f->comm && strncmp(f->comm, ev->comm, HTC_COMM_LEN))
		return false;
	wall = htc_wall_ns(ev->ts_ns, x->rt_off);
	if (x->since && wall < x->since)
		return false;
	if (x->until && wall >= x->until)
		return false;
	return ev->ep.family == HTC_AF_INET || ev->ep.family == HTC_AF_INET6;
}

/* ---- pass 1: which connections were traced at both ends ---- */

static void scan_event(struct exporter *x, const struct htc_event *ev)
{
	struct conn *c = ct_find(&x->ct, ev->conn_id, false);

	if (!c && x->ct.n >= (x->o->max_conns ? x->o->max_conns : EXP_MAX_CONNS)) {
		x->st.over_limit++;
		return;
	}
	if (!c)
		c = ct_find(&x->ct, ev->conn_id, true);
	if (!c) {
		x->werr = x->werr ? x->werr : -ENOMEM;
		return;
	}
	if (!c->first_ts || ev->ts_ns < c->first_ts)
		c->first_ts = ev->ts_ns;
	if (ev->ts_ns > c->last_ts)
		c->last_ts = ev->ts_ns;
	if (!c->ep.family || (ev->ep.role && !c->ep.role))
		c->ep = ev->ep;
	if (!c->pid) {
		c->pid = ev->pid;
		memcpy(c->comm, ev->comm, HTC_COMM_LEN);
		c->comm[HTC_COMM_LEN - 1] = '\0';
	}
	if (ev->flags & HTC_EVF_PREEXISTING)
		c->preexisting = true;
	c->cap_bytes += ev->cap_len;
	/* the kernel's sequence number of this event's first byte: the ISN
	 * that puts stream offset off at it, so the packets carry the real
	 * numbers (those of tcpdump's capture of the same connection) */
	if (ev->flags & HTC_EVF_TLS)
		c->tls_plain = true;
	if ((ev->flags & HTC_EVF_SEQ) && !(ev->flags & HTC_EVF_TLS) &&
	    (ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE)) {
		int d = ev->type == HTC_EV_READ;	/* 0: sent, 1: received */

		if (!(c->kisn_ok & (1u << d))) {
			c->kisn[d] = ev->tcp_seq - 1 - (uint32_t)ev->stream_off;
			c->kisn_ok |= (uint8_t)(1u << d);
		}
	}
}

/* (family, lower end, higher end): the same for both ends of a connection */
struct pairkey {
	struct conn *c;
	uint8_t k[1 + 2 * 18];
	bool local_low;
};

static int end_cmp(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	int r = memcmp(a, b, 16);

	return r ? r : (ap > bp) - (ap < bp);
}

static int pairkey_cmp(const void *pa, const void *pb)
{
	const struct pairkey *a = pa, *b = pb;
	int r = memcmp(a->k, b->k, sizeof(a->k));

	if (r)
		return r;
	return (a->c->first_ts > b->c->first_ts) - (a->c->first_ts < b->c->first_ts);
}

static void put_end(uint8_t *k, const uint8_t *addr, uint16_t port)
{
	memcpy(k, addr, 16);
	k[16] = port >> 8;
	k[17] = port & 0xff;
}

/* Which end of a pair to write: more captured bytes; a tie: the server. */
static bool keep_first(const struct conn *a, const struct conn *b)
{
	if (a->cap_bytes != b->cap_bytes)
		return a->cap_bytes > b->cap_bytes;
	if (a->ep.role != b->ep.role)
		return a->ep.role == HTC_ROLE_SERVER;
	return a->s.key < b->s.key;
}

static int find_pairs(struct exporter *x)
{
	struct pairkey *keys;
	size_t n = 0;

	if (!x->ct.n)
		return 0;
	keys = calloc(x->ct.n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < x->ct.cap; i++) {
		struct conn *c = (struct conn *)x->ct.v + i;
		struct pairkey *p;
		bool low;

		if (!c->s.used)
			continue;
		p = &keys[n++];
		p->c = c;
		low = end_cmp(c->ep.laddr, c->ep.lport, c->ep.raddr, c->ep.rport) <= 0;
		p->local_low = low;
		p->k[0] = c->ep.family;
		put_end(p->k + 1, low ? c->ep.laddr : c->ep.raddr, low ? c->ep.lport : c->ep.rport);
		put_end(p->k + 19, low ? c->ep.raddr : c->ep.laddr, low ? c->ep.rport : c->ep.lport);
	}
	qsort(keys, n, sizeof(*keys), pairkey_cmp);
	for (size_t i = 0; i < n; i++) {
		struct conn *a = keys[i].c, *b, *keep, *drop;

		if (a->paired)
			continue;
		for (size_t j = i + 1; j < n && !memcmp(keys[j].k, keys[i].k, sizeof(keys[i].k)); j++) {
			b = keys[j].c;
			/* the other end: the mirror tuple, alive at the same time
			 * (a port used again later is another connection) */
			if (b->paired || keys[j].local_low == keys[i].local_low ||
			    b->first_ts > a->last_ts || a->first_ts > b->last_ts)
				continue;
			keep = keep_first(a, b) ? a : b;
			drop = keep == a ? b : a;
			a->paired = b->paired = true;
			drop->skip = true;
			drop->peer_id = keep->s.key;
			keep->peer_pid = drop->pid;
			keep->peer_preexisting = drop->preexisting;
			memcpy(keep->peer_comm, drop->comm, HTC_COMM_LEN);
			x->st.paired++;
			break;
		}
	}
	free(keys);
	return 0;
}

/* ---- pass 2: packets ---- */

static int flush_blocks(struct exporter *x)
{
	if (x->blk.err)
		return x->blk.err;
	if (x->blk.len && fwrite(x->blk.p, 1, x->blk.len, x->out) != x->blk.len)
		return errno ? -errno : -EIO;
	x->blk.len = 0;
	return 0;
}

/* One packet to the output. */
static void write_packet(struct exporter *x, const struct exp_seg *s, const struct exp_pkt_meta *m)
{
	struct exp_pkt_meta mm = *m;
	int len;

	if (x->werr)
		return;
	len = exp_build_packet(s, x->pkt, sizeof(x->pkt));
	if (len < 0) {
		x->werr = len;
		return;
	}
	/* ring-buffer reordering can put an event a little before the last
	 * one: keep the file in time order, as Wireshark expects */
	if (mm.wall_ns < x->last_wall)
		mm.wall_ns = x->last_wall;
	x->last_wall = mm.wall_ns;
	if (x->fmt == EXP_PCAPNG) {
		x->werr = exp_pcapng_epb(&x->blk, &mm, x->pkt, (uint32_t)len);
		if (!x->werr && x->blk.len >= EXP_FLUSH_BYTES)
			x->werr = flush_blocks(x);
	} else {
		struct pcap_pkthdr h = {
			.caplen = (bpf_u_int32)len,
			.len = (bpf_u_int32)len,
		};

		/* a nanosecond dumper takes ns in tv_usec */
		h.ts.tv_sec = (time_t)(mm.wall_ns / 1000000000ULL);
		h.ts.tv_usec = (suseconds_t)(mm.wall_ns % 1000000000ULL);
		pcap_dump((u_char *)x->dumper, &h, x->pkt);
		if (ferror(x->out))
			x->werr = errno ? -errno : -EIO;
	}
	x->st.packets++;
	x->st.bytes += s->len;
}

static uint32_t seq_at(const struct conn *c, int d, uint64_t off)
{
	return c->isn[d] + 1 + (uint32_t)(off - c->base[d]);
}

/* The ack number of direction d's receiver: all of d written so far. */
static uint32_t ack_of(const struct conn *c, int d)
{
	if (c->held[d])
		return seq_at(c, d, c->hold_at[d]);
	return seq_at(c, d, c->hi[d]) + (c->fin[d] ? 1 : 0);
}

static void hole(struct conn *c, int d, uint64_t at)
{
	if (c->held[d])
		return;
	c->held[d] = true;
	c->hold_at[d] = at;
}

static void set_base(struct conn *c, int d, uint64_t off)
{
	if (c->base_set[d])
		return;
	c->base_set[d] = true;
	c->base[d] = c->hi[d] = c->moved[d] = off;
}

/* A segment of direction d (0: local -> remote, 1: remote -> local). */
static void seg_init(const struct conn *c, int d, struct exp_seg *s)
{
	memset(s, 0, sizeof(*s));
	s->family = c->ep.family;
	s->saddr = d ? c->ep.raddr : c->ep.laddr;
	s->daddr = d ? c->ep.laddr : c->ep.raddr;
	s->sport = d ? c->ep.rport : c->ep.lport;
	s->dport = d ? c->ep.lport : c->ep.rport;
	s->window = EXP_WINDOW;
}

struct pktctx {
	uint64_t wall;		/* of the event; +1 ns per packet */
	uint32_t pid, tid;
	const char *who;	/* "curl pid 1 tid 1" */
	const char *extra;	/* once per connection: command line, peer */
};

static void emit(struct exporter *x, struct conn *c, struct pktctx *p, int d,
		 struct exp_seg *s, const char *what)
{
	char comment[EXP_COMMENT_MAX + EXP_CMDLINE_MAX];
	struct exp_pkt_meta m = {
		.wall_ns = p->wall++,
		.pid = p->pid, .tid = p->tid,
		.dir = d ? 1 : 2,
		.comment = comment,
	};

	s->ip_id = c->ip_id[d]++;
	if (s->flags & EXP_TCP_ACK) {
		c->last_ack[d] = s->ack;
		c->last_ack_set[d] = true;
	}
	snprintf(comment, sizeof(comment), "%s %s%s%s", p->who, what,
		 p->extra && *p->extra ? "; " : "", p->extra ? p->extra : "");
	p->extra = NULL;
	write_packet(x, s, &m);
}

static void isn_init(struct exporter *x, struct conn *c, const struct htc_event *ev)
{
	for (int d = 0; d < 2; d++) {
		uint64_t h = mix64(c->s.key * 2 + (uint64_t)d);
		uint32_t isn;

		memcpy(&isn, x->capture_id, 4);
		c->isn[d] = (uint32_t)h ^ (uint32_t)(h >> 32) ^ isn;
		if (x->o->isn && x->o->isn(x->o->isn_ctx, ev, d, &isn)) {
			c->isn[d] = isn;
			set_base(c, d, 0);
		} else if ((c->kisn_ok & (1u << d)) && !c->tls_plain) {
			/* (a decrypted connection's numbers count ciphertext) */
			c->isn[d] = c->kisn[d];
			set_base(c, d, 0);
		}
	}
}

/* Handshake at connect/accept (firstsight false) or made up at the first
 * event of a connection opened earlier. */
static void handshake(struct exporter *x, struct conn *c, const struct htc_event *ev,
		      struct pktctx *p, bool firstsight)
{
	struct exp_seg s;
	int ci;			/* the initiator's direction: 0 local, 1 remote */
	bool refused = false;
	const char *why;

	c->started = true;
	c->firstsight = firstsight;
	isn_init(x, c, ev);
	if (!firstsight) {
		set_base(c, 0, 0);
		set_base(c, 1, 0);
	}
	if (c->ep.role == HTC_ROLE_CLIENT)
		ci = 0;
	else if (c->ep.role == HTC_ROLE_SERVER)
		ci = 1;
	else	/* unknown: the end on the higher (ephemeral) port connected */
		ci = c->ep.lport > c->ep.rport ? 0 : 1;
	if (firstsight) {
		x->st.firstsight++;
		why = (ev->flags & HTC_EVF_PREEXISTING) ?
		      "synthetic handshake (connection opened before the capture)" :
		      "synthetic handshake (connection first seen here)";
	} else {
		why = ev->type == HTC_EV_CONNECT ? "connect: synthetic handshake" :
						   "accept: synthetic handshake";
		refused = ev->type == HTC_EV_CONNECT && ev->ret < 0 && ev->ret != -EINPROGRESS;
	}
	/* the bytes before base are not in the export: numbers start there */
	seg_init(c, ci, &s);
	s.seq = c->isn[ci];
	s.flags = EXP_TCP_SYN;
	s.mss = EXP_MSS;
	s.wscale = EXP_WSCALE;
	emit(x, c, p, ci, &s, why);
	seg_init(c, !ci, &s);
	if (refused) {
		s.seq = 0;
		s.ack = c->isn[ci] + 1;
		s.flags = EXP_TCP_RST | EXP_TCP_ACK;
		s.window = 0;
		emit(x, c, p, !ci, &s, "connect failed: RST");
		c->closed = true;
		return;
	}
	s.seq = c->isn[!ci];
	s.ack = c->isn[ci] + 1;
	s.flags = EXP_TCP_SYN | EXP_TCP_ACK;
	s.mss = EXP_MSS;
	s.wscale = EXP_WSCALE;
	emit(x, c, p, !ci, &s, "synthetic SYN-ACK");
	seg_init(c, ci, &s);
	s.seq = c->isn[ci] + 1;
	s.ack = c->isn[!ci] + 1;
	s.flags = EXP_TCP_ACK;
	emit(x, c, p, ci, &s, "synthetic ACK");
}

/* A pure ACK from the receiver of direction d. */
static void ack_for(struct exporter *x, struct conn *c, struct pktctx *p, int d, const char *what)
{
	struct exp_seg s;

	seg_init(c, !d, &s);
	s.seq = ack_of(c, !d);
	s.ack = ack_of(c, d);
	s.flags = EXP_TCP_ACK;
	/* the same ACK again would be a duplicate ACK (a loss signal) */
	if (c->last_ack_set[!d] && c->last_ack[!d] == s.ack)
		return;
	emit(x, c, p, !d, &s, what);
}

static void fin(struct exporter *x, struct conn *c, struct pktctx *p, int d, uint64_t total,
		bool reset)
{
	struct exp_seg s;

	if (c->fin[d])
		return;
	set_base(c, d, total);
	if (total > c->moved[d]) {
		/* moved but in no event (drops): a gap */
		x->st.gap_bytes += total - c->moved[d];
		c->moved[d] = total;
	}
	if (total > c->hi[d]) {
		hole(c, d, c->hi[d]);
		c->hi[d] = total;	/* the FIN comes after the bytes not captured */
	}
	seg_init(c, d, &s);
	s.seq = seq_at(c, d, c->hi[d]);
	s.ack = ack_of(c, !d);
	if (reset) {
		s.flags = EXP_TCP_RST | EXP_TCP_ACK;
		emit(x, c, p, d, &s, "close: RST (connection reset)");
		c->fin[0] = c->fin[1] = true;
		c->closed = true;
		return;
	}
	s.flags = EXP_TCP_FIN | EXP_TCP_ACK;
	emit(x, c, p, d, &s, d ? "peer's FIN (its close was captured)" : "close: FIN");
	c->fin[d] = true;
	ack_for(x, c, p, d, "synthetic ACK of the FIN");
	if (c->fin[0] && c->fin[1])
		c->closed = true;
}

static void data(struct exporter *x, struct conn *c, const struct htc_event *ev,
		 struct pktctx *p, int d)
{
	uint64_t start = ev->stream_off, end, cap_end, ret;
	uint32_t seg_max = x->o->seg_max && x->o->seg_max <= EXP_SEG_MAX ? x->o->seg_max : EXP_SEG_MAX;
	char what[160];
	bool sent = false;

	if (ev->ret <= 0 || c->fin[d])
		return;
	ret = (uint64_t)ev->ret;
	set_base(c, d, start);
	end = start + ret;
	if (start > c->moved[d])
		x->st.gap_bytes += start - c->moved[d];	/* events not captured (drops) */
	if (end > c->moved[d])
		c->moved[d] = end;
	cap_end = start + (ev->cap_len < ret ? ev->cap_len : ret);
	if (end > cap_end)
		x->st.gap_bytes += end - cap_end;	/* past the snaplen */
	if (start > c->hi[d])
		hole(c, d, c->hi[d]);
	else if (cap_end < end && cap_end >= c->hi[d])
		hole(c, d, cap_end);
	snprintf(what, sizeof(what), "%s %lld bytes%s", htc_syscall_name(ev->syscall),
		 (long long)ev->ret, ev->flags & HTC_EVF_REDACTED ? " (redacted at capture)" : "");
	if (end > cap_end) {
		size_t n = strlen(what);

		snprintf(what + n, sizeof(what) - n, ", %llu not captured",
			 (unsigned long long)(end - cap_end));
	}
	if (cap_end > start && start < c->hi[d]) {
		/* overlaps what was written (offsets going back): only the new part */
		if (cap_end <= c->hi[d])
			cap_end = start;
	}
	for (uint64_t off = start; off < cap_end; ) {
		uint64_t from = off < c->hi[d] ? c->hi[d] : off;
		uint32_t n = (uint32_t)(cap_end - from < seg_max ? cap_end - from : seg_max);
		struct exp_seg s;

		if (from >= cap_end)
			break;
		seg_init(c, d, &s);
		s.seq = seq_at(c, d, from);
		s.ack = ack_of(c, !d);
		s.flags = EXP_TCP_ACK | (from + n == cap_end ? EXP_TCP_PSH : 0);
		s.data = ev->payload + (from - start);
		s.len = n;
		emit(x, c, p, d, &s, what);
		c->hi[d] = from + n;
		off = from + n;
		sent = true;
	}
	if (sent)
		ack_for(x, c, p, d, "synthetic ACK");
	/* the peer's FIN waits for the bytes it sent before it */
	if (d == 1 && c->rfin_pending && c->moved[1] >= c->rfin_off) {
		c->rfin_pending = false;
		fin(x, c, p, 1, c->rfin_off, false);
	}
}

static void who_of(char *buf, size_t len, const struct htc_event *ev)
{
	char comm[4 * HTC_COMM_LEN + 1];

	escape(comm, sizeof(comm), ev->comm, strnlen(ev->comm, HTC_COMM_LEN));
	snprintf(buf, len, "%s pid %u tid %u", comm, ev->pid, ev->tid);
}

/* Once per connection: the command line, and the peer's process. */
static void extra_of(struct exporter *x, struct conn *c, char *buf, size_t len)
{
	struct procent *pe = pt_find(&x->pt, c->pid, false);
	size_t n = 0;

	buf[0] = '\0';
	if (pe && pe->cmdline)
		n += snprintf(buf, len, "cmdline: %s", pe->cmdline);
	if (c->paired && n < len) {
		char comm[4 * HTC_COMM_LEN + 1];

		escape(comm, sizeof(comm), c->peer_comm, strnlen(c->peer_comm, HTC_COMM_LEN));
		snprintf(buf + n, len - n, "%speer: %s pid %u (also traced; written once, from this end)",
			 n ? "; " : "", comm, c->peer_pid);
	}
	c->told = true;
}

static void export_proc(struct exporter *x, const struct htc_proc *pr)
{
	struct procent *pe = pt_find(&x->pt, pr->pid, false);
	char buf[EXP_CMDLINE_MAX], *s;
	size_t n;

	if (!pe && x->pt.n >= EXP_MAX_PROCS)
		return;
	if (!pe)
		pe = pt_find(&x->pt, pr->pid, true);
	if (!pe) {
		x->werr = x->werr ? x->werr : -ENOMEM;
		return;
	}
	escape(buf, sizeof(buf), pr->cmdline ? pr->cmdline : "", pr->cmdline ? pr->cmdline_len : 0);
	/* programs that rewrite their argv (redis-server) pad it with blanks */
	for (n = strlen(buf); n && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	s = strdup(buf);
	if (!s) {
		x->werr = x->werr ? x->werr : -ENOMEM;
		return;
	}
	free(pe->cmdline);
	pe->cmdline = s;
}

/* The close of the other end of a pair: the peer's FIN on the kept one. */
static void peer_close(struct exporter *x, const struct conn *drop, const struct htc_event *ev)
{
	struct conn *c = ct_find(&x->ct, drop->peer_id, false);
	char who[128];
	struct pktctx p = { .wall = htc_wall_ns(ev->ts_ns, x->rt_off), .pid = ev->pid, .tid = ev->tid,
			    .who = who };

	if (!c || !c->started || c->closed || c->fin[1])
		return;
	who_of(who, sizeof(who), ev);
	/* the peer's written total is in the kept end's read offsets when both
	 * ends counted from the connection's start */
	c->rfin_off = (c->firstsight || drop->preexisting || !c->base_set[1] || c->tls_plain) ?
		      c->moved[1] : ev->stream_off2;
	if (c->moved[1] >= c->rfin_off)
		fin(x, c, &p, 1, c->rfin_off, false);
	else
		c->rfin_pending = true;
}

static void export_event(struct exporter *x, const struct htc_event *ev)
{
	struct conn *c = ct_find(&x->ct, ev->conn_id, false);
	char who[128], extra[EXP_CMDLINE_MAX + 128];
	struct pktctx p = { .wall = htc_wall_ns(ev->ts_ns, x->rt_off), .pid = ev->pid, .tid = ev->tid,
			    .who = who };

	if (!c)
		return;		/* not seen by pass 1: cannot happen on a file read twice */
	if (c->skip) {
		if (ev->type == HTC_EV_CLOSE)
			peer_close(x, c, ev);
		return;
	}
	if (c->closed)
		return;
	/* a decrypted connection: its plaintext stands for the payload (what
	 * Wireshark cannot decrypt on its own), its ciphertext is left out */
	if (c->tls_plain && (ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE) &&
	    !(ev->flags & HTC_EVF_TLS))
		return;	/* its handshake too: ciphertext kept before the first plaintext */
	who_of(who, sizeof(who), ev);
	if (!c->told) {
		extra_of(x, c, extra, sizeof(extra));
		p.extra = extra;
	}
	if (!c->started) {
		x->st.conns++;
		if (ev->type == HTC_EV_CONNECT || ev->type == HTC_EV_ACCEPT) {
			handshake(x, c, ev, &p, false);
			x->st.events++;
			return;
		}
		handshake(x, c, ev, &p, true);
	}
	x->st.events++;
	switch (ev->type) {
	case HTC_EV_WRITE:
		data(x, c, ev, &p, 0);
		break;
	case HTC_EV_READ:
		data(x, c, ev, &p, 1);
		break;
	case HTC_EV_CLOSE:
		/* CLOSE: stream_off = bytes read, stream_off2 = bytes written */
		if (c->rfin_pending) {
			c->rfin_pending = false;
			fin(x, c, &p, 1, c->rfin_off > c->hi[1] ? c->rfin_off : c->hi[1], false);
		}
		/* (a decrypted connection's totals count ciphertext: its FIN
		 * follows the plaintext written) */
		fin(x, c, &p, 0, c->tls_plain ? c->hi[0] : ev->stream_off2, ev->ret == -ECONNRESET);
		break;
	default:
		break;	/* a second connect/accept on a started connection */
	}
}

/* End of input: the peer FINs still waiting for bytes that never came. */
static void export_finish(struct exporter *x)
{
	for (size_t i = 0; i < x->ct.cap; i++) {
		struct conn *c = (struct conn *)x->ct.v + i;
		char who[4 * HTC_COMM_LEN + 64], comm[4 * HTC_COMM_LEN + 1];
		struct pktctx p = { .wall = x->last_wall, .pid = c->peer_pid, .who = who };

		if (!c->s.used || !c->rfin_pending || c->closed || x->werr)
			continue;
		escape(comm, sizeof(comm), c->peer_comm, strnlen(c->peer_comm, HTC_COMM_LEN));
		snprintf(who, sizeof(who), "%s pid %u", comm, c->peer_pid);
		c->rfin_pending = false;
		fin(x, c, &p, 1, c->rfin_off, false);
	}
}

/* ---- output ---- */

static int out_open(struct exporter *x, const char *path, const struct htc_header *hdr)
{
	if (!strcmp(path, "-")) {
		x->out = stdout;
		x->out_is_stdout = true;
	} else {
		/* 0600 as the capture files: the payloads are the same bytes */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0)
			return -errno;
		x->out = fdopen(fd, "wb");
		if (!x->out) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	if (x->fmt == EXP_PCAP) {
		x->dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, EXP_SNAPLEN,
							       PCAP_TSTAMP_PRECISION_NANO);
		if (!x->dead)
			return -ENOMEM;
		x->dumper = pcap_dump_fopen(x->dead, x->out);
		if (!x->dumper)
			return -EIO;
		return 0;
	} else {
		char hw[HTC_HOSTNAME_LEN + 32], os[HTC_KERNEL_LEN + 16], desc[HTC_HOSTNAME_LEN + 128];
		char app[HTC_TOOLVER_LEN + 64];
		int err;

		snprintf(hw, sizeof(hw), "host %s", hdr->hostname);
		snprintf(os, sizeof(os), "Linux %s", hdr->kernel);
		snprintf(app, sizeof(app), "httpcap %s (captured by %s)", HTC_TOOL_VERSION,
			 hdr->tool_version[0] ? hdr->tool_version : "unknown");
		snprintf(desc, sizeof(desc), "TCP sockets traced with eBPF on %s (packets synthesized "
			 "from syscalls)", hdr->hostname);
		err = exp_pcapng_shb(&x->blk, hw, os, app,
				     "exported by httpcap -r: handshakes, ACKs and FINs are made up; "
				     "bytes not captured are sequence gaps");
		if (!err)
			err = exp_pcapng_idb(&x->blk, EXP_LINKTYPE_RAW, EXP_SNAPLEN, "httpcap", desc);
		return err ? err : flush_blocks(x);
	}
}

static int out_close(struct exporter *x)
{
	int err = x->werr;

	if (!x->out)
		return err;
	if (x->fmt == EXP_PCAPNG && !err)
		err = flush_blocks(x);
	if (!err && fflush(x->out))
		err = -errno;
	if (!err && ferror(x->out))
		err = -EIO;
	if (x->dumper) {
		pcap_dump_close(x->dumper);	/* closes x->out, stdout too: nothing follows */
		x->dumper = NULL;
	} else if (!x->out_is_stdout) {
		if (fclose(x->out) && !err)
			err = -errno;
	}
	x->out = NULL;
	if (x->dead)
		pcap_close(x->dead);
	x->dead = NULL;
	return err;
}

static void exporter_free(struct exporter *x)
{
	for (size_t i = 0; i < x->pt.cap; i++)
		free(((struct procent *)x->pt.v)[i].cmdline);
	free(x->pt.v);
	free(x->ct.v);
	exp_buf_free(&x->blk);
}

/* Same file (device and inode): -w must not truncate the capture it reads. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static uint64_t resolve_time(int64_t v, bool rel, uint64_t start_wall)
{
	if (!v && !rel)
		return 0;
	return rel ? start_wall + (uint64_t)v : (uint64_t)v;
}

int exp_run(const char *in_path, const char *out_path, const struct exp_opts *o,
	    const struct exp_filter *f, htc_warn_fn warn, void *warn_ctx,
	    struct exp_stats *st, struct htc_reader_stats *rst, const char **what)
{
	struct exporter *x = calloc(1, sizeof(*x));
	struct htc_spool sp = { .fd = -1 };
	struct htc_source *src = NULL;
	const struct htc_header *hdr;
	const char *paths[1];
	struct htc_record rec;
	uint32_t idx;
	int err = 0, rc;

	*what = "read";
	if (!x)
		return -ENOMEM;
	x->o = o;
	x->f = f;
	x->fmt = o->format;
	x->ct = (struct table){ .esz = sizeof(struct conn), .first_cap = 1024 };
	x->pt = (struct table){ .esz = sizeof(struct procent), .first_cap = 256 };
	err = htc_spool(in_path, &sp);
	if (err)
		goto out;
	paths[0] = sp.path;
	if (strcmp(out_path, "-") && same_file(sp.path, out_path)) {
		*what = "write";
		err = -EEXIST;
		goto out;
	}

	/* pass 1: connections, and which were traced at both ends */
	src = htc_source_open(paths, 1, NULL, NULL, NULL, &err);
	if (!src)
		goto out;
	hdr = htc_reader_header(htc_source_reader(src, 0));
	x->rt_off = hdr->realtime_offset_ns;
	memcpy(x->capture_id, hdr->capture_id, sizeof(x->capture_id));
	{
		uint64_t start_wall = htc_wall_ns(hdr->start_ns, x->rt_off);

		x->since = resolve_time(f->since_ns, f->since_rel, start_wall);
		x->until = resolve_time(f->until_ns, f->until_rel, start_wall);
	}
	while ((rc = htc_source_next(src, &rec, &idx)) > 0 && !x->werr)
		if ((rec.type == HTC_REC_DATA || rec.type == HTC_REC_CONN) && pass_filter(x, &rec.ev))
			scan_event(x, &rec.ev);
	htc_source_close(src);
	src = NULL;
	if (rc < 0 || x->werr) {
		err = rc < 0 ? rc : x->werr;
		goto out;
	}
	err = find_pairs(x);
	if (err)
		goto out;

	/* pass 2: packets; the output is opened only now that the input reads */
	src = htc_source_open(paths, 1, NULL, warn, warn_ctx, &err);
	if (!src)
		goto out;
	hdr = htc_reader_header(htc_source_reader(src, 0));
	err = out_open(x, out_path, hdr);
	if (err) {
		*what = "write";
		goto out;
	}
	while ((rc = htc_source_next(src, &rec, &idx)) > 0 && !x->werr) {
		if (rec.type == HTC_REC_PROC) {
			export_proc(x, &rec.proc);
			continue;
		}
		if ((rec.type != HTC_REC_DATA && rec.type != HTC_REC_CONN) || !pass_filter(x, &rec.ev))
			continue;
		export_event(x, &rec.ev);
		if (o->count && x->st.events >= o->count)
			break;
	}
	if (rc >= 0 && !(o->count && x->st.events >= o->count))
		export_finish(x);
	if (rst)
		htc_reader_stats(htc_source_reader(src, 0), rst);
	if (x->werr) {
		*what = "write";
		err = x->werr;
	} else if (rc < 0) {
		err = rc;
	}
	{
		int cerr = out_close(x);

		if (cerr && !err) {
			*what = "write";
			err = cerr;
		}
	}
out:
	if (x->out)
		out_close(x);
	htc_source_close(src);
	htc_spool_close(&sp);
	if (st)
		*st = x->st;
	exporter_free(x);
	free(x);
	return err;
}
