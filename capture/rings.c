// SPDX-License-Identifier: MIT
/*
 * rings.c - the reader of the per-CPU event ring buffers, in time order.
 *
 * The BPF programs write each CPU's events into that CPU's own ring buffer
 * (bpf/httpcap.bpf.c: one ring shared by all CPUs put every event of the
 * host behind one spinlock and one producer position bounced between the
 * CPUs, ~110 ns per event on two CPUs).  The events of one connection can
 * come from several CPUs (a thread moves, the two ends of a loopback
 * connection), so the rings are read merged: of the records committed when
 * a drain starts, the one with the earliest timestamp is taken next.
 *
 * A pass (one call of cap_rings_consume; main.c drains in passes of at
 * most CAP_DRAIN_CHUNK records) takes only records stamped no later than
 * the clock read before it looked at any ring (the watermark).  The rings
 * are read one after another, so without it a thread that committed an
 * event on CPU 0 just after ring 0 was read, then its next event on CPU 1
 * before ring 1 was read, would have its second event handed over a pass
 * before its first:
 * one connection's bytes out of order, which the redactor must never see
 * (a header name in the first, its secret value in the second).  The
 * second event was stamped after the first was committed, so after the
 * watermark, and waits for the next pass with the first.  Records of one
 * thread thus keep their order; records of several CPUs come out in time
 * order, give or take the events stamped before they were committed
 * (TLS plaintext written carries the library call's start).
 *
 * Written here rather than with libbpf's ring_buffer: libbpf (1.1) hands
 * the records of one ring at a time to a callback and consumes them as it
 * goes, so two rings cannot be merged; a merge needs every ring's next
 * record at once.  The memory layout is the kernel's (kernel/bpf/ringbuf.c,
 * the BPF_RINGBUF_* constants of linux/bpf.h): a read-write page holding
 * the consumer position, then a read-only page holding the producer
 * position followed by the data area mapped twice in a row, so that a
 * record that wraps around is contiguous.  Each record starts with an
 * 8-byte header: its length, with a BUSY bit while the producer has not
 * committed it and a DISCARD bit, then a page offset; records are 8-byte
 * aligned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "capture.h"

struct ring {
	uint64_t *cons;			/* consumer position (ours to write) */
	const uint64_t *prod;		/* producer position */
	const uint8_t *data;		/* data area, mapped twice */
	uint64_t mask;			/* data size - 1 */
	uint64_t end;			/* producer position when this drain began */
	uint64_t pos;			/* where this drain reads: *cons is published */
	void *map_rw, *map_ro;		/* mmap()ed areas, NULL for attached memory */
	size_t ro_len;
};

/* A ring with a committed record waiting, keyed by its timestamp. */
struct head {
	uint64_t ts;
	unsigned ring;
};

struct cap_rings {
	struct ring *r;
	unsigned n;
	struct head *heap;
	unsigned nheap;
	int epfd;
	struct epoll_event *evs;
	cap_sample_fn cb;
	void *ctx;
};

static uint64_t load_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* The room a record of len bytes takes: header, body, 8-byte alignment. */
static uint64_t rec_size(uint32_t len)
{
	return (len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

/*
 * The consumer position is published once per pass (a drain takes its
 * records in passes of at most CAP_DRAIN_CHUNK, main.c), and every
 * PUBLISH_BYTES within a long one, not after each record as libbpf does:
 * the producers on the other CPUs read it at every reservation, so a store
 * per record moved its cache line between CPUs once per event (nginx under
 * wrk, medians of 5: reader 926 -> 903 ns, BPF 1306 -> 1263 ns per request).  The rings hold many
 * drains' worth, so the space freed a drain late is not missed.
 */
#define PUBLISH_BYTES (256u << 10)

static void ring_publish(struct ring *r)
{
	if (*r->cons != r->pos)
		__atomic_store_n(r->cons, r->pos, __ATOMIC_RELEASE);
}

/*
 * The next committed record of ring r before the end of this drain: sets
 * *ts (its first 8 bytes, the event's timestamp; 0 for a shorter one) and
 * returns true.  Discarded records on the way are passed (consumed at the
 * next ring_publish).  False when the ring is empty up to r->end or its
 * next record is still being written (the records behind it wait for the
 * next drain).
 */
static bool ring_peek(struct ring *r, uint64_t *ts)
{
	while (r->pos < r->end) {
		const uint8_t *rec = r->data + (r->pos & r->mask);
		uint32_t len = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);

		if (len & BPF_RINGBUF_BUSY_BIT)
			return false;
		if (len & BPF_RINGBUF_DISCARD_BIT) {
			r->pos += rec_size(len & ~BPF_RINGBUF_DISCARD_BIT);
			continue;
		}
		*ts = 0;
		if (len >= sizeof(*ts))
			memcpy(ts, rec + BPF_RINGBUF_HDR_SZ, sizeof(*ts));
		return true;
	}
	return false;
}

static bool head_less(const struct head *a, const struct head *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->ring < b->ring);
}

static void heap_down(struct cap_rings *rs, unsigned i)
{
	struct head *h = rs->heap;

	for (;;) {
		unsigned l = 2 * i + 1, m = i;

		if (l < rs->nheap && head_less(&h[l], &h[m]))
			m = l;
		if (l + 1 < rs->nheap && head_less(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		struct head t = h[i];

		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_push(struct cap_rings *rs, uint64_t ts, unsigned ring)
{
	struct head *h = rs->heap;
	unsigned i = rs->nheap++;

	h[i] = (struct head){ .ts = ts, .ring = ring };
	while (i && head_less(&h[i], &h[(i - 1) / 2])) {
		struct head t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

int cap_rings_consume(struct cap_rings *rs, uint64_t until, unsigned max)
{
	int n = 0, err = 0;

	/* only what is committed now: a busy producer cannot keep this
	 * loop from returning to the caller's housekeeping */
	rs->nheap = 0;
	for (unsigned i = 0; i < rs->n; i++) {
		uint64_t ts;

		rs->r[i].pos = *rs->r[i].cons;
		rs->r[i].end = load_acquire(rs->r[i].prod);
		if (ring_peek(&rs->r[i], &ts))
			heap_push(rs, ts, i);
	}
	while (rs->nheap && rs->heap[0].ts <= until && (!max || (unsigned)n < max)) {
		struct ring *r = &rs->r[rs->heap[0].ring];
		const uint8_t *rec = r->data + (r->pos & r->mask);
		uint64_t ts;
		uint32_t len;

		memcpy(&len, rec, sizeof(len));
		err = rs->cb(rs->ctx, (void *)(rec + BPF_RINGBUF_HDR_SZ), len);
		/* the record is consumed whatever the callback said, as with
		 * libbpf: handled or refused, it is not handed over again */
		r->pos += rec_size(len);
		n++;
		if (err < 0)
			break;
		if (r->pos - *r->cons >= PUBLISH_BYTES)
			ring_publish(r);
		if (ring_peek(r, &ts)) {
			rs->heap[0].ts = ts;
		} else {
			rs->heap[0] = rs->heap[--rs->nheap];
		}
		heap_down(rs, 0);
	}
	for (unsigned i = 0; i < rs->n; i++)
		ring_publish(&rs->r[i]);
	return err < 0 ? err : n;
}

unsigned cap_rings_fill(const struct cap_rings *rs)
{
	uint64_t most = 0;

	for (unsigned i = 0; i < rs->n; i++) {
		const struct ring *r = &rs->r[i];
		uint64_t used = load_acquire(r->prod) - load_acquire(r->cons);

		used = used * 1000 / (r->mask + 1);
		if (used > most)
			most = used;
	}
	return most > 1000 ? 1000 : (unsigned)most;
}

int cap_rings_wait(struct cap_rings *rs, int timeout_ms)
{
	return epoll_wait(rs->epfd, rs->evs, (int)rs->n, timeout_ms) < 0 ? -errno : 0;
}

static struct cap_rings *rings_alloc(unsigned n, cap_sample_fn cb, void *ctx)
{
	struct cap_rings *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->epfd = -1;
	rs->r = calloc(n, sizeof(*rs->r));
	rs->heap = calloc(n, sizeof(*rs->heap));
	rs->evs = calloc(n, sizeof(*rs->evs));
	if (!rs->r || !rs->heap || !rs->evs) {
		cap_rings_free(rs);
		return NULL;
	}
	rs->n = n;
	rs->cb = cb;
	rs->ctx = ctx;
	return rs;
}

struct cap_rings *cap_rings_open(const int *fds, unsigned n, size_t size, cap_sample_fn cb,
				 void *ctx, int *err)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct cap_rings *rs;

	*err = -EINVAL;
	if (!n || !size || (size & (size - 1)) || size % pg)
		return NULL;
	*err = -ENOMEM;
	rs = rings_alloc(n, cb, ctx);
	if (!rs)
		return NULL;
	rs->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rs->epfd < 0)
		goto fail_errno;
	for (unsigned i = 0; i < n; i++) {
		struct ring *r = &rs->r[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		r->map_rw = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (r->map_rw == MAP_FAILED) {
			r->map_rw = NULL;
			goto fail_errno;
		}
		r->ro_len = pg + 2 * size;
		r->map_ro = mmap(NULL, r->ro_len, PROT_READ, MAP_SHARED, fds[i], (off_t)pg);
		if (r->map_ro == MAP_FAILED) {
			r->map_ro = NULL;
			goto fail_errno;
		}
		r->cons = r->map_rw;
		r->prod = r->map_ro;
		r->data = (const uint8_t *)r->map_ro + pg;
		r->mask = size - 1;
		if (epoll_ctl(rs->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			goto fail_errno;
	}
	*err = 0;
	return rs;
fail_errno:
	*err = -errno;
	cap_rings_free(rs);
	return NULL;
}

struct cap_rings *cap_rings_attach(struct cap_ring_mem *mem, unsigned n, cap_sample_fn cb,
				   void *ctx)
{
	struct cap_rings *rs = rings_alloc(n, cb, ctx);

	if (!rs)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		rs->r[i].cons = mem[i].cons;
		rs->r[i].prod = mem[i].prod;
		rs->r[i].data = mem[i].data;
		rs->r[i].mask = mem[i].size - 1;
	}
	return rs;
}

void cap_rings_free(struct cap_rings *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; rs->r && i < rs->n; i++) {
		if (rs->r[i].map_rw)
			munmap(rs->r[i].map_rw, (size_t)sysconf(_SC_PAGESIZE));
		if (rs->r[i].map_ro)
			munmap(rs->r[i].map_ro, rs->r[i].ro_len);
	}
	if (rs->epfd >= 0)
		close(rs->epfd);
	free(rs->r);
	free(rs->heap);
	free(rs->evs);
	free(rs);
}
