// SPDX-License-Identifier: MIT
/*
 * test_rings.c - cmocka tests of rings.c, the reader that merges the
 * per-CPU BPF ring buffers in timestamp order.  Each ring is laid out here
 * as the kernel lays it out (kernel/bpf/ringbuf.c): a consumer position, a
 * producer position, and a data area mapped twice in a row (a memfd mapped
 * at base and base+size inside one reservation), followed by a PROT_NONE
 * guard page so that a read past the second copy faults.  The tests play
 * the producer: they write 8-byte headers (length with the BUSY/DISCARD
 * bits of linux/bpf.h, page offset) and bodies whose first 8 bytes are the
 * timestamp, then move the producer position.  Run plain and under
 * ASan+UBSan by `make test-capture-core`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/bpf.h>

#include "capture.h"

#define MAXRINGS 4
#define MAXSEEN 256

/* One ring, as the producer (this test) sees it. */
struct tring {
	uint64_t *cons;		/* own page, read-write */
	uint64_t *prod;		/* own page */
	uint8_t *data;		/* size bytes, mapped twice, then a guard page */
	size_t size;
	uint64_t wpos;		/* where the next record is written */
	void *resv;		/* the reservation holding both copies + guard */
	size_t resv_len;
	int fd;
};

/* One record as the callback got it. */
struct seen {
	unsigned ring;
	uint64_t ts;
	size_t size;
	size_t off;		/* offset of the body in its ring's data area */
};

struct fix {
	struct tring t[MAXRINGS];
	struct cap_ring_mem mem[MAXRINGS];
	unsigned n;
	struct cap_rings *rs;
	struct seen seen[MAXSEEN];
	unsigned nseen;
	/* callback behaviour */
	uint64_t fail_ts;	/* return fail_rc on the record with this ts */
	int fail_rc;
	int fail_armed;
	int publish_armed;	/* publish every ring's written records */
	unsigned bad_bytes;	/* records whose body was not as written */
};

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* A body byte: the pattern written after the timestamp, recomputed by the
 * callback to find a torn or misplaced record. */
static uint8_t body_byte(uint64_t ts, size_t i)
{
	return (uint8_t)(ts * 31 + i * 7 + 1);
}

static void tring_init(struct tring *t, size_t size, uint64_t start)
{
	size_t pg = page_size();
	uint8_t *base;

	t->size = size;
	t->cons = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->prod = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->cons != MAP_FAILED && t->prod != MAP_FAILED);
	t->fd = memfd_create("ring", MFD_CLOEXEC);
	assert_true(t->fd >= 0);
	assert_int_equal(ftruncate(t->fd, (off_t)size), 0);
	t->resv_len = 2 * size + pg;
	t->resv = mmap(NULL, t->resv_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->resv != MAP_FAILED);
	base = t->resv;
	assert_true(mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, t->fd, 0) ==
		    base);
	assert_true(mmap(base + size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, t->fd,
			 0) == base + size);
	t->data = base;
	/* the test depends on the aliasing: check it */
	t->data[size - 1] = 0x5a;
	assert_int_equal(t->data[2 * size - 1], 0x5a);
	t->data[size - 1] = 0;
	/* positions are free-running u64s: start wherever the test says */
	*t->cons = *t->prod = t->wpos = start;
}

static void tring_fini(struct tring *t)
{
	size_t pg = page_size();

	munmap(t->resv, t->resv_len);
	close(t->fd);
	munmap(t->cons, pg);
	munmap((void *)t->prod, pg);
}

/*
 * Write a record of len body bytes (the timestamp in the first 8 when
 * len >= 8, the pattern after it) with header flags, not yet published;
 * returns its position.  Padding up to 8-byte alignment is filled with
 * 0xff so that a reader taking bytes beyond len sees garbage.
 */
static uint64_t put(struct tring *t, uint64_t ts, uint32_t len, uint32_t flags)
{
	uint64_t pos = t->wpos;
	size_t off = pos & (t->size - 1);
	uint32_t hdr[2] = { len | flags, 0 };
	uint8_t *body = t->data + off + BPF_RINGBUF_HDR_SZ;
	size_t total = (len + BPF_RINGBUF_HDR_SZ + 7) & ~(size_t)7;

	assert_true(total <= t->size);
	memcpy(t->data + off, hdr, sizeof(hdr));
	memset(body, 0xff, total - BPF_RINGBUF_HDR_SZ);
	for (uint32_t i = 0; i < len; i++)
		body[i] = body_byte(ts, i);
	if (len >= sizeof(ts))
		memcpy(body, &ts, sizeof(ts));
	t->wpos += total;
	return pos;
}

static void publish(struct tring *t)
{
	__atomic_store_n(t->prod, t->wpos, __ATOMIC_RELEASE);
}

/* Set or clear a header's flag bits at pos (the producer committing). */
static void set_flags(struct tring *t, uint64_t pos, uint32_t flags)
{
	uint32_t *hdr = (uint32_t *)(t->data + (pos & (t->size - 1)));
	uint32_t len = *hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

	__atomic_store_n(hdr, len | flags, __ATOMIC_RELEASE);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct fix *f = ctx;
	const uint8_t *p = data;
	struct seen *s;
	unsigned ring = MAXRINGS;
	uint64_t ts = 0;

	for (unsigned i = 0; i < f->n; i++)
		if (p >= f->t[i].data && p <= f->t[i].data + f->t[i].size)
			ring = i;
	/* a header is always in the first copy, so its body starts there or
	 * right at the second copy (header in the last 8 bytes), and ends
	 * within the second */
	if (ring == MAXRINGS)
		fail_msg("sample at %p is not behind a header in any ring's first copy", data);
	assert_true(p + size <= f->t[ring].data + 2 * f->t[ring].size);
	assert_true(f->nseen < MAXSEEN);
	if (size >= sizeof(ts))
		memcpy(&ts, p, sizeof(ts));
	for (size_t i = size >= sizeof(ts) ? sizeof(ts) : 0; i < size; i++)
		if (p[i] != body_byte(ts, i)) {
			f->bad_bytes++;
			break;
		}
	s = &f->seen[f->nseen++];
	*s = (struct seen){ .ring = ring, .ts = ts, .size = size,
			    .off = (size_t)(p - f->t[ring].data) };
	if (f->publish_armed) {
		f->publish_armed = 0;
		for (unsigned i = 0; i < f->n; i++)
			publish(&f->t[i]);
	}
	if (f->fail_armed && ts == f->fail_ts) {
		f->fail_armed = 0;
		return f->fail_rc;
	}
	return 0;
}

static struct fix *fix_new(unsigned n, size_t size, uint64_t start)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(n <= MAXRINGS);
	f->n = n;
	for (unsigned i = 0; i < n; i++) {
		tring_init(&f->t[i], size, start);
		f->mem[i] = (struct cap_ring_mem){ .cons = f->t[i].cons, .prod = f->t[i].prod,
						   .data = f->t[i].data, .size = size };
	}
	f->rs = cap_rings_attach(f->mem, n, on_sample, f);
	assert_non_null(f->rs);
	return f;
}

static void fix_free(struct fix *f)
{
	cap_rings_free(f->rs);
	for (unsigned i = 0; i < f->n; i++)
		tring_fini(&f->t[i]);
	free(f);
}

/* The callback saw exactly these (ring, ts) pairs in this order, with
 * every body as written. */
static void expect_seen(struct fix *f, const unsigned (*want)[2], unsigned nwant)
{
	assert_int_equal(f->bad_bytes, 0);
	if (f->nseen != nwant) {
		for (unsigned i = 0; i < f->nseen; i++)
			print_message("  seen[%u] ring %u ts %llu\n", i, f->seen[i].ring,
				      (unsigned long long)f->seen[i].ts);
		fail_msg("%u records seen, %u expected", f->nseen, nwant);
	}
	for (unsigned i = 0; i < nwant; i++)
		if (f->seen[i].ring != want[i][0] || f->seen[i].ts != want[i][1])
			fail_msg("record %u: ring %u ts %llu, expected ring %u ts %u", i,
				 f->seen[i].ring, (unsigned long long)f->seen[i].ts, want[i][0],
				 want[i][1]);
	f->nseen = 0;
}

static void expect_drained(struct fix *f)
{
	for (unsigned i = 0; i < f->n; i++)
		assert_int_equal(*f->t[i].cons, *f->t[i].prod);
}

/* 1: ring0 1,4,5,9 and ring1 2,3,7,8 come out as 1..9, each intact. */
static void test_rings_merge(void **state)
{
	static const unsigned want[][2] = {
		{ 0, 1 }, { 1, 2 }, { 1, 3 }, { 0, 4 }, { 0, 5 }, { 1, 7 }, { 1, 8 }, { 0, 9 },
	};
	struct fix *f = fix_new(2, 4096, 0);
	uint32_t lens[] = { 8, 13, 40, 100 };

	for (unsigned i = 0; i < 4; i++) {
		put(&f->t[0], (uint64_t[]){ 1, 4, 5, 9 }[i], lens[i], 0);
		put(&f->t[1], (uint64_t[]){ 2, 3, 7, 8 }[i], lens[3 - i], 0);
	}
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 8);
	/* sizes as written: ring0's k-th record has lens[k], ring1's lens[3-k] */
	assert_int_equal(f->seen[0].size, 8);
	assert_int_equal(f->seen[1].size, 100);
	assert_int_equal(f->seen[7].size, 100);
	assert_int_equal(f->seen[1].off, BPF_RINGBUF_HDR_SZ);
	expect_seen(f, want, 8);
	expect_drained(f);
	assert_int_equal(*f->t[0].cons, f->t[0].wpos);
	/* nothing new: nothing handed over */
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 0);
	assert_int_equal(f->nseen, 0);
	fix_free(f);
}

/* The watermark: records stamped after it wait for a later drain, the
 * rest come out; a thread that commits on CPU 0 after ring 0 was read and
 * then on CPU 1 has its second record (stamped after the watermark) held
 * with its first. */
/* How full the fullest ring is, in per mille: what the drain's scheduling
 * (sched.c) raises it on.  Records count from when they are reserved (the
 * producer position), until a drain has handed them over. */
static void test_rings_fill(void **state)
{
	struct fix *f = fix_new(2, 4096, 1ull << 40);	/* positions far from 0 */

	(void)state;
	assert_int_equal(cap_rings_fill(f->rs), 0);
	/* 16 + 8 header = 24 bytes a record: 20 of them 480 bytes, 117 per
	 * mille of ring 1; 5 in ring 0, 29 per mille */
	for (uint64_t i = 0; i < 20; i++)
		put(&f->t[1], 100 + i, 16, 0);
	for (uint64_t i = 0; i < 5; i++)
		put(&f->t[0], 200 + i, 16, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_fill(f->rs), 480 * 1000 / 4096);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 25);
	assert_int_equal(cap_rings_fill(f->rs), 0);
	/* a full ring is 1000 */
	for (uint64_t i = 0; i < 4096 / 32; i++)
		put(&f->t[0], 300 + i, 24, 0);
	publish(&f->t[0]);
	assert_int_equal(cap_rings_fill(f->rs), 1000);
	fix_free(f);
}

static void test_rings_watermark(void **state)
{
	static const unsigned first[][2] = { { 0, 1 }, { 1, 3 }, { 0, 5 } };
	static const unsigned late[][2] = { { 0, 6 } };
	static const unsigned rest[][2] = { { 1, 7 }, { 1, 10 } };
	struct fix *f = fix_new(2, 4096, 0);

	(void)state;
	put(&f->t[0], 1, 16, 0);
	put(&f->t[0], 5, 16, 0);
	put(&f->t[1], 3, 16, 0);
	put(&f->t[1], 7, 16, 0);	/* after the watermark 5: held */
	put(&f->t[1], 10, 16, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_consume(f->rs, 5, 0), 3);
	expect_seen(f, first, 3);
	/* ring 0's record stamped 6, committed after that drain read ring 0:
	 * it comes out before ring 1's 7, which was already there */
	put(&f->t[0], 6, 16, 0);
	publish(&f->t[0]);
	assert_int_equal(cap_rings_consume(f->rs, 6, 0), 1);
	expect_seen(f, late, 1);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 2);
	expect_seen(f, rest, 2);
	expect_drained(f);
	fix_free(f);
}

/* 1: a pass of at most max records stops there and hands what it took back
 * to the kernel; the next pass goes on in time order, with the records
 * committed in between merged in, and a pass stops at its watermark or
 * its max, whichever comes first. */
static void test_rings_chunk(void **state)
{
	static const unsigned first[][2] = { { 0, 1 }, { 1, 2 }, { 1, 3 } };
	static const unsigned second[][2] = { { 0, 4 }, { 2, 5 }, { 0, 9 } };
	static const unsigned third[][2] = { { 1, 10 } };
	static const unsigned rest[][2] = { { 1, 11 }, { 0, 12 } };
	struct fix *f = fix_new(3, 4096, 0);

	(void)state;
	put(&f->t[0], 1, 16, 0);
	put(&f->t[0], 4, 16, 0);
	put(&f->t[0], 9, 16, 0);
	put(&f->t[1], 2, 16, 0);
	put(&f->t[1], 3, 16, 0);
	put(&f->t[1], 10, 16, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 3), 3);
	expect_seen(f, first, 3);
	/* what was taken is the kernel's again: 8-byte header + 16 each */
	assert_int_equal(*f->t[0].cons, 24);
	assert_int_equal(*f->t[1].cons, 48);
	/* committed between the passes: 5 on a ring that had nothing
	 * left goes between the leftovers; 11 and 12 come after them */
	put(&f->t[2], 5, 16, 0);
	put(&f->t[1], 11, 16, 0);
	put(&f->t[0], 12, 16, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	publish(&f->t[2]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 3), 3);
	expect_seen(f, second, 3);
	/* the watermark 10 stops this pass before its max of 5 */
	assert_int_equal(cap_rings_consume(f->rs, 10, 5), 1);
	expect_seen(f, third, 1);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 2);
	expect_seen(f, rest, 2);
	expect_drained(f);
	fix_free(f);
}

/* 2: a record still being written holds back its ring from there on. */
static void test_rings_busy(void **state)
{
	static const unsigned first[][2] = { { 0, 1 }, { 0, 4 }, { 0, 5 }, { 0, 9 } };
	static const unsigned second[][2] = { { 1, 2 }, { 1, 3 }, { 1, 7 } };
	static const unsigned mid1[][2] = { { 0, 1 }, { 1, 2 }, { 0, 9 } };
	static const unsigned mid2[][2] = { { 1, 3 }, { 1, 7 } };
	struct fix *f = fix_new(2, 4096, 0);
	uint64_t busy, cons1;

	put(&f->t[0], 1, 16, 0);
	put(&f->t[0], 4, 16, 0);
	put(&f->t[0], 5, 16, 0);
	put(&f->t[0], 9, 16, 0);
	busy = put(&f->t[1], 2, 24, BPF_RINGBUF_BUSY_BIT);
	put(&f->t[1], 3, 24, 0);
	put(&f->t[1], 7, 24, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	cons1 = *f->t[1].cons;
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 4);
	expect_seen(f, first, 4);
	assert_int_equal(*f->t[0].cons, *f->t[0].prod);
	assert_int_equal(*f->t[1].cons, cons1);
	/* still busy: still nothing from ring1 */
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 0);
	assert_int_equal(f->nseen, 0);
	set_flags(&f->t[1], busy, 0);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 3);
	expect_seen(f, second, 3);
	expect_drained(f);

	/* busy in the middle: what is before it goes, the rest waits */
	put(&f->t[0], 1, 8, 0);
	put(&f->t[0], 9, 8, 0);
	put(&f->t[1], 2, 8, 0);
	busy = put(&f->t[1], 3, 8, BPF_RINGBUF_BUSY_BIT);
	put(&f->t[1], 7, 8, 0);
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 3);
	expect_seen(f, mid1, 3);
	assert_int_equal(*f->t[1].cons, busy);
	set_flags(&f->t[1], busy, 0);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 2);
	expect_seen(f, mid2, 2);
	expect_drained(f);
	fix_free(f);
}

/* 3: discarded records are consumed, never handed over. */
static void test_rings_discard(void **state)
{
	static const unsigned want[][2] = { { 0, 1 }, { 1, 3 }, { 0, 4 } };
	struct fix *f = fix_new(3, 4096, 0);

	put(&f->t[0], 1, 8, 0);
	put(&f->t[0], 2, 20, BPF_RINGBUF_DISCARD_BIT);
	put(&f->t[0], 4, 8, 0);
	put(&f->t[1], 0, 33, BPF_RINGBUF_DISCARD_BIT);
	put(&f->t[1], 0, 8, BPF_RINGBUF_DISCARD_BIT);
	put(&f->t[1], 3, 8, 0);
	put(&f->t[1], 5, 1, BPF_RINGBUF_DISCARD_BIT);
	/* a ring holding only discarded records */
	put(&f->t[2], 0, 0, BPF_RINGBUF_DISCARD_BIT);
	put(&f->t[2], 0, 100, BPF_RINGBUF_DISCARD_BIT);
	for (unsigned i = 0; i < 3; i++)
		publish(&f->t[i]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 3);
	expect_seen(f, want, 3);
	expect_drained(f);
	assert_int_equal(*f->t[2].cons, 8 + 112);
	fix_free(f);
}

/* 4: a record that runs past the end of the data area comes out whole
 * (the double mapping), from positions far beyond the size. */
static void test_rings_wrap(void **state)
{
	static const unsigned want[][2] = { { 1, 10 }, { 0, 11 }, { 0, 12 }, { 1, 13 } };
	static const unsigned last[][2] = { { 0, 14 } };
	const size_t size = 8192;
	struct fix *f = fix_new(2, size, 5 * size - 16);

	put(&f->t[0], 11, 200, 0);		/* header at size-16, body runs on */
	put(&f->t[0], 12, 8, 0);
	put(&f->t[1], 10, 8, 0);		/* ends exactly at the end */
	put(&f->t[1], 13, size - 48, 0);	/* header at offset 0 of the next lap */
	publish(&f->t[0]);
	publish(&f->t[1]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 4);
	assert_int_equal(f->seen[1].off, size - 8);
	assert_int_equal(f->seen[1].size, 200);
	assert_int_equal(f->seen[2].off, 192 + BPF_RINGBUF_HDR_SZ);
	assert_int_equal(f->seen[3].off, BPF_RINGBUF_HDR_SZ);
	assert_int_equal(f->seen[3].size, size - 48);
	expect_seen(f, want, 4);
	expect_drained(f);
	assert_int_equal(*f->t[0].cons, 5 * size - 16 + 208 + 16);

	/* a header in the last 8 bytes, its whole body in the second copy */
	f->t[0].wpos = *f->t[0].cons = *f->t[0].prod = 7 * size - 8;
	put(&f->t[0], 14, 64, 0);
	publish(&f->t[0]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 1);
	assert_int_equal(f->seen[0].off, size);
	expect_seen(f, last, 1);
	assert_int_equal(*f->t[0].cons, 7 * size - 8 + 72);
	fix_free(f);
}

/* 5: records committed while a drain runs wait for the next drain, even
 * when they are earlier than what is left. */
static void test_rings_snapshot(void **state)
{
	static const unsigned first[][2] = { { 1, 3 }, { 0, 5 } };
	static const unsigned second[][2] = { { 0, 1 }, { 1, 2 } };
	struct fix *f = fix_new(2, 4096, 0);
	uint64_t end0, end1;

	put(&f->t[0], 5, 16, 0);
	publish(&f->t[0]);
	end0 = f->t[0].wpos;
	put(&f->t[0], 1, 16, 0);	/* written, published from the callback */
	put(&f->t[1], 3, 16, 0);
	publish(&f->t[1]);
	end1 = f->t[1].wpos;
	put(&f->t[1], 2, 16, 0);
	f->publish_armed = 1;
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 2);
	assert_int_equal(f->publish_armed, 0);
	expect_seen(f, first, 2);
	assert_int_equal(*f->t[0].cons, end0);
	assert_int_equal(*f->t[1].cons, end1);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 2);
	expect_seen(f, second, 2);
	expect_drained(f);
	fix_free(f);
}

/* 6: the callback's error is returned at once; that record is consumed,
 * the rest come with the next drain. */
static void test_rings_cb_error(void **state)
{
	static const unsigned first[][2] = { { 0, 1 }, { 1, 2 }, { 1, 3 }, { 0, 4 } };
	static const unsigned second[][2] = { { 0, 5 }, { 1, 7 }, { 1, 8 }, { 0, 9 } };
	static const unsigned third[][2] = { { 1, 11 } };
	struct fix *f = fix_new(2, 4096, 0);
	uint64_t after4;

	for (unsigned i = 0; i < 4; i++) {
		put(&f->t[0], (uint64_t[]){ 1, 4, 5, 9 }[i], 24, 0);
		if (i == 1)
			after4 = f->t[0].wpos;
		put(&f->t[1], (uint64_t[]){ 2, 3, 7, 8 }[i], 24, 0);
	}
	publish(&f->t[0]);
	publish(&f->t[1]);
	f->fail_ts = 4;
	f->fail_rc = -7;
	f->fail_armed = 1;
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), -7);
	expect_seen(f, first, 4);
	assert_int_equal(*f->t[0].cons, after4);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 4);
	expect_seen(f, second, 4);
	expect_drained(f);

	/* an error on a ring's last record: nothing is handed over twice */
	put(&f->t[1], 10, 8, 0);
	put(&f->t[1], 11, 8, 0);
	publish(&f->t[1]);
	f->fail_ts = 10;
	f->fail_rc = -1;
	f->fail_armed = 1;
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), -1);
	assert_int_equal(f->nseen, 1);
	f->nseen = 0;
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 1);
	expect_seen(f, third, 1);
	expect_drained(f);
	fix_free(f);
}

/* 7: a body shorter than a timestamp counts as time 0 (the reader must not
 * take the padding after it as a timestamp) and is handed over whole. */
static void test_rings_short(void **state)
{
	static const unsigned want[][2] = {
		{ 1, 0 }, { 2, 0 }, { 0, 1 }, { 0, 2 }, { 2, 4 }, { 1, 5 },
	};
	struct fix *f = fix_new(3, 4096, 4096 - 8);

	put(&f->t[0], 1, 8, 0);
	put(&f->t[0], 2, 8, 0);
	put(&f->t[1], 0, 7, 0);	/* one 0xff byte of padding after it */
	put(&f->t[1], 5, 8, 0);
	put(&f->t[2], 0, 0, 0);	/* a header alone */
	put(&f->t[2], 4, 8, 0);
	for (unsigned i = 0; i < 3; i++)
		publish(&f->t[i]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 6);
	assert_int_equal(f->seen[0].size, 7);
	assert_int_equal(f->seen[0].off, 4096);	/* header in the last 8 bytes */
	assert_int_equal(f->seen[1].size, 0);
	expect_seen(f, want, 6);
	expect_drained(f);
	fix_free(f);
}

/* 8: equal timestamps across rings: lower ring first, nothing lost. */
static void test_rings_ties(void **state)
{
	static const unsigned want[][2] = {
		{ 0, 5 }, { 0, 5 }, { 1, 5 }, { 2, 5 }, { 3, 5 }, { 0, 6 }, { 1, 6 }, { 3, 6 },
	};
	struct fix *f = fix_new(4, 4096, 0);

	/* filled from the highest ring down, so that the order comes from
	 * the ring index, not from the order of writing */
	put(&f->t[3], 5, 8, 0);
	put(&f->t[3], 6, 8, 0);
	put(&f->t[2], 5, 8, 0);
	put(&f->t[1], 5, 8, 0);
	put(&f->t[1], 6, 8, 0);
	put(&f->t[0], 5, 8, 0);
	put(&f->t[0], 5, 16, 0);
	put(&f->t[0], 6, 8, 0);
	for (unsigned i = 0; i < 4; i++)
		publish(&f->t[i]);
	assert_int_equal(cap_rings_consume(f->rs, UINT64_MAX, 0), 8);
	assert_int_equal(f->seen[0].size, 8);	/* ring0's two ts 5 in order */
	assert_int_equal(f->seen[1].size, 16);
	expect_seen(f, want, 8);
	expect_drained(f);
	fix_free(f);
}

/*
 * Many rounds of random records over four rings (few distinct timestamps,
 * so many ties; lengths 0..80; some discarded; positions crossing the end
 * of the data area) against a plain model of the merge: take the ring
 * whose next record has the lowest (timestamp, ring index).
 */
struct mrec {
	uint64_t ts;
	uint32_t len;
	bool discard;
};

static void test_rings_random(void **state)
{
	struct fix *f = fix_new(4, 4096, 3 * 4096 - 200);
	struct mrec q[4][24];
	unsigned nq[4], head[4];
	uint32_t seed = 12345;

	for (unsigned round = 0; round < 300; round++) {
		unsigned total = 0, got;

		for (unsigned r = 0; r < 4; r++) {
			uint64_t ts = round * 10;

			nq[r] = (seed = seed * 1103515245 + 12345) >> 16 & 15;
			head[r] = 0;
			for (unsigned k = 0; k < nq[r]; k++) {
				struct mrec *m = &q[r][k];

				seed = seed * 1103515245 + 12345;
				ts += (seed >> 16) & 3;	/* often equal */
				m->len = (seed >> 20) % 81;
				m->discard = ((seed >> 28) & 7) == 0;
				m->ts = m->len >= 8 ? ts : 0;
				put(&f->t[r], m->ts, m->len, m->discard ? BPF_RINGBUF_DISCARD_BIT : 0);
				total += !m->discard;
			}
			publish(&f->t[r]);
		}
		got = (unsigned)cap_rings_consume(f->rs, UINT64_MAX, 0);
		assert_int_equal(got, total);
		assert_int_equal(f->nseen, total);
		assert_int_equal(f->bad_bytes, 0);
		for (unsigned i = 0; i < total; i++) {
			unsigned best = 4;

			for (unsigned r = 0; r < 4; r++) {
				while (head[r] < nq[r] && q[r][head[r]].discard)
					head[r]++;
				if (head[r] < nq[r] &&
				    (best == 4 || q[r][head[r]].ts < q[best][head[best]].ts))
					best = r;
			}
			assert_true(best < 4);
			if (f->seen[i].ring != best || f->seen[i].ts != q[best][head[best]].ts ||
			    f->seen[i].size != q[best][head[best]].len)
				fail_msg("round %u record %u: ring %u ts %llu size %zu, model ring %u ts %llu size %u",
					 round, i, f->seen[i].ring, (unsigned long long)f->seen[i].ts,
					 f->seen[i].size, best,
					 (unsigned long long)q[best][head[best]].ts,
					 q[best][head[best]].len);
			head[best]++;
		}
		f->nseen = 0;
		expect_drained(f);
	}
	fix_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rings_merge),
		cmocka_unit_test(test_rings_watermark),
		cmocka_unit_test(test_rings_chunk),
		cmocka_unit_test(test_rings_fill),
		cmocka_unit_test(test_rings_busy),
		cmocka_unit_test(test_rings_discard),
		cmocka_unit_test(test_rings_wrap),
		cmocka_unit_test(test_rings_snapshot),
		cmocka_unit_test(test_rings_cb_error),
		cmocka_unit_test(test_rings_short),
		cmocka_unit_test(test_rings_ties),
		cmocka_unit_test(test_rings_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
