/* SPDX-License-Identifier: MIT */
/*
 * source.c - htc_source: several capture files read as one stream in
 * wall-clock order (ts_ns + the file's realtime_offset_ns), so the files of
 * several hosts feed one engine on one timeline.
 *
 * Each file keeps a small reorder heap: records are held until one
 * SRC_REORDER_NS later has been read, so small disorder inside a file
 * (events of several CPUs reaching the ring buffer out of order) comes out
 * sorted; held records own a copy of their bytes (slots and buffers are
 * recycled, so there is no allocation per record in the steady state).
 * Records come nearly in order, so the held ones are a ring sorted by
 * construction (a record not earlier than the newest held one is appended,
 * the earliest is taken from the front: O(1) both) plus a min-heap for the
 * few that arrive out of order; the next record is the earlier of the two
 * fronts.  A heap alone paid log n pointer chases per record both ways.
 * The files' earliest records are then merged: files are few (one per host), so
 * the minimum is found by a linear scan.
 */
#include "htc_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Records of one file are held back this long (wall-clock ns) so that
 * small disorder inside the file (events of several CPUs) comes out in
 * order; and at most this many at once, holding at most this many bytes,
 * so memory stays bounded (a hostile file puts thousands of 64 KiB
 * payloads in one millisecond). */
#define SRC_REORDER_NS 5000000ULL
#define SRC_REORDER_MAX 65536
#define SRC_REORDER_BYTES ((size_t)32 << 20)

/* A record held in a file's reorder window, with its own copy of the bytes
 * it points to (the reader's pointers die at its next call). */
struct pend {
	struct htc_record rec;
	uint8_t *buf;
	size_t cap;
};

/* Where a held record sits in the ring or the heap: its order keys next to
 * the pointer, so ordering reads these arrays and not the records (which
 * were written thousands of records ago and are out of the cache). */
struct held {
	uint64_t key;		/* wall-clock ns */
	uint64_t seq;		/* read order: ties keep the file's order */
	struct pend *p;
};

struct src_file {
	struct htc_reader *r;
	int64_t offset;
	uint32_t file_idx;	/* as registered with the engine */
	int eof;
	uint64_t nread;
	uint64_t max_key;	/* latest key read so far */
	struct held *ring;	/* in order: ring[(rfirst + k) & (cap - 1)], k < nring */
	size_t nring, rfirst;
	struct held *heap;	/* min-heap on (key, seq) of the others */
	size_t nheap;
	size_t nheld, cap;	/* nring + nheap; room in ring and heap each */
	size_t held_bytes;	/* payload bytes the held records own */
	struct pend **free;	/* spare slots, buffers kept */
	size_t nfree;
	struct pend *out;	/* handed out last; recycled at the next call */
	uint64_t size;		/* bytes, 0 when unknown (stdin) */
};

struct htc_source {
	struct src_file *f;
	size_t n;
};

static uint64_t rec_ts(const struct htc_record *rec)
{
	switch (rec->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		return rec->ev.ts_ns;
	case HTC_REC_PROC:
		return rec->proc.ts_ns;
	case HTC_REC_LOSS:
		return rec->loss.ts_ns;
	case HTC_REC_OPTIONS:
		return rec->opt.ts_ns;
	default:
		return 0;
	}
}

static void pend_free(struct pend *p)
{
	if (p) {
		free(p->buf);
		free(p);
	}
}

void htc_source_close(struct htc_source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct src_file *f = &s->f[i];

		htc_reader_close(f->r);
		for (size_t k = 0; k < f->nring; k++)
			pend_free(f->ring[(f->rfirst + k) & (f->cap - 1)].p);
		for (size_t k = 0; k < f->nheap; k++)
			pend_free(f->heap[k].p);
		for (size_t k = 0; k < f->nfree; k++)
			pend_free(f->free[k]);
		pend_free(f->out);
		free(f->ring);
		free(f->heap);
		free(f->free);
	}
	free(s->f);
	free(s);
}

struct htc_source *htc_source_open(const char *const *paths, size_t npaths,
				   struct htc_engine *e, htc_warn_fn warn, void *warn_ctx, int *err)
{
	struct htc_source *s = NULL;
	int ret = 0;

	if (npaths == 0) {
		ret = -EINVAL;
		goto cleanup;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->f = calloc(npaths, sizeof(*s->f)))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < npaths; i++) {
		struct src_file *f = &s->f[i];
		const struct htc_header *hdr;
		struct stat st;

		/* a tcpdump capture is converted to records by engine/pcap.c */
		f->r = htc_capture_open(paths[i], warn, warn_ctx, &ret);
		if (!f->r) {
			if (!ret)
				ret = -EIO;
			goto cleanup;
		}
		s->n++;
		if (warn)
			htc_reader_set_warn(f->r, warn, warn_ctx);
		hdr = htc_reader_header(f->r);
		f->offset = hdr->realtime_offset_ns;
		f->file_idx = (uint32_t)i;
		if (e) {
			int idx = htc_engine_add_file(e, hdr);

			if (idx < 0) {
				ret = idx;
				goto cleanup;
			}
			f->file_idx = (uint32_t)idx;
		}
		if (strcmp(paths[i], "-") && stat(paths[i], &st) == 0)
			f->size = (uint64_t)st.st_size;
	}
	return s;
cleanup:
	htc_source_close(s);
	if (err)
		*err = ret;
	errno = ret < 0 && ret > -4096 ? -ret : EINVAL;
	return NULL;
}

static int held_less(const struct held *a, const struct held *b)
{
	return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void heap_push(struct src_file *f, const struct held *h)
{
	size_t i = f->nheap++;

	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (!held_less(h, &f->heap[up]))
			break;
		f->heap[i] = f->heap[up];
		i = up;
	}
	f->heap[i] = *h;
}

static void heap_pop(struct src_file *f)
{
	struct held last = f->heap[--f->nheap];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m = l;

		if (l >= f->nheap)
			break;
		if (l + 1 < f->nheap && held_less(&f->heap[l + 1], &f->heap[l]))
			m = l + 1;
		if (!held_less(&f->heap[m], &last))
			break;
		f->heap[i] = f->heap[m];
		i = m;
	}
	if (f->nheap)
		f->heap[i] = last;
}

/* The earliest held record of f (f->nheld > 0): the front of the ring or
 * the top of the heap. */
static const struct held *held_first(const struct src_file *f)
{
	if (!f->nheap)
		return &f->ring[f->rfirst];
	if (!f->nring || held_less(&f->heap[0], &f->ring[f->rfirst]))
		return &f->heap[0];
	return &f->ring[f->rfirst];
}

static void held_push(struct src_file *f, const struct held *h)
{
	const struct held *last = f->nring ? &f->ring[(f->rfirst + f->nring - 1) & (f->cap - 1)]
					   : NULL;

	/* h was read after every held record: with a key not below the
	 * newest in the ring it goes after it, ties keeping the file's order */
	if (!last || h->key >= last->key)
		f->ring[(f->rfirst + f->nring++) & (f->cap - 1)] = *h;
	else
		heap_push(f, h);
	f->nheld++;
}

/* The bytes a held record owns (its copy of payload or strings). */
static size_t pend_bytes(const struct pend *p)
{
	const struct htc_record *rec = &p->rec;

	switch (rec->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		return rec->ev.payload ? rec->ev.cap_len : 0;
	case HTC_REC_PROC:
		return (size_t)rec->proc.exe_len + rec->proc.cmdline_len + rec->proc.cgroup_len +
		       rec->proc.container_len;
	case HTC_REC_OPTIONS:
		return rec->opt.text_len;
	}
	return 0;
}

static struct pend *held_pop(struct src_file *f)
{
	const struct held *h = held_first(f);
	struct pend *p = h->p;

	if (h == &f->heap[0]) {
		heap_pop(f);
	} else {
		f->rfirst = (f->rfirst + 1) & (f->cap - 1);
		f->nring--;
	}
	f->nheld--;
	f->held_bytes -= pend_bytes(p);
	return p;
}

/* Room for twice as many held records; 0 or -ENOMEM. */
static int held_grow(struct src_file *f)
{
	size_t ncap = f->cap ? f->cap * 2 : 64;
	struct held *nr, *nh;
	struct pend **nf;

	/* the larger arrays first, so a failure leaves f as it was */
	nh = realloc(f->heap, ncap * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	f->heap = nh;
	/* every slot may come back: the held ones and the one out */
	nf = realloc(f->free, (ncap + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	f->free = nf;
	nr = malloc(ncap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	/* unwrap the ring at the start of the new one */
	for (size_t k = 0; k < f->nring; k++)
		nr[k] = f->ring[(f->rfirst + k) & (f->cap - 1)];
	free(f->ring);
	f->ring = nr;
	f->rfirst = 0;
	f->cap = ncap;
	return 0;
}

/* Copy the bytes p->rec points to (the reader's, until its next call)
 * into p's buffer and point p->rec there. */
static int pend_own(struct pend *p)
{
	const struct htc_record *rec = &p->rec;
	size_t need = 0, o = 0;

	switch (rec->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		need = rec->ev.payload ? rec->ev.cap_len : 0;
		break;
	case HTC_REC_PROC:
		need = (size_t)rec->proc.exe_len + rec->proc.cmdline_len + rec->proc.cgroup_len +
		       rec->proc.container_len;
		break;
	case HTC_REC_OPTIONS:
		need = rec->opt.text_len;
		break;
	}
	if (need > p->cap) {
		uint8_t *nb = realloc(p->buf, need);

		if (!nb)
			return -ENOMEM;
		p->buf = nb;
		p->cap = need;
	}
#define COPY(ptr, len) do { \
		if ((len) && (ptr)) { \
			memcpy(p->buf + o, (ptr), (len)); \
			(ptr) = (const void *)(p->buf + o); \
			o += (len); \
		} \
	} while (0)
	switch (rec->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		COPY(p->rec.ev.payload, p->rec.ev.cap_len);
		break;
	case HTC_REC_PROC:
		COPY(p->rec.proc.exe, p->rec.proc.exe_len);
		COPY(p->rec.proc.cmdline, p->rec.proc.cmdline_len);
		COPY(p->rec.proc.cgroup, p->rec.proc.cgroup_len);
		COPY(p->rec.proc.container, p->rec.proc.container_len);
		break;
	case HTC_REC_OPTIONS:
		COPY(p->rec.opt.text, p->rec.opt.text_len);
		break;
	}
#undef COPY
	return 0;
}

/*
 * Read file f until its earliest held record is known to be its earliest
 * overall: a record SRC_REORDER_NS later was read, or the file ended.
 * < 0 on error.
 */
static int fill(struct src_file *f)
{
	while (!f->eof && f->nheld < SRC_REORDER_MAX && f->held_bytes < SRC_REORDER_BYTES &&
	       (f->nheld == 0 || f->max_key < held_first(f)->key + SRC_REORDER_NS)) {
		struct pend *p;
		struct held h;
		int r;

		if (f->nheld == f->cap && held_grow(f))
			return -ENOMEM;
		p = f->nfree ? f->free[--f->nfree] : calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		/* decoded straight into its slot: no copy of the record */
		r = htc_reader_next(f->r, &p->rec);
		if (r <= 0) {
			/* room: nheld < cap, so every slot fits in free (cap + 1) */
			f->free[f->nfree++] = p;
			if (r < 0)
				return r;
			f->eof = 1;
			break;
		}
		if (pend_own(p)) {
			f->free[f->nfree++] = p;
			return -ENOMEM;
		}
		h.key = htc_wall_ns(rec_ts(&p->rec), f->offset);
		h.seq = f->nread++;
		h.p = p;
		f->held_bytes += pend_bytes(p);
		if (h.key > f->max_key)
			f->max_key = h.key;
		held_push(f, &h);
	}
	return 0;
}

int htc_source_next(struct htc_source *s, struct htc_record *rec, uint32_t *file_idx)
{
	ssize_t best = -1;
	struct src_file *f;

	for (size_t i = 0; i < s->n; i++) {
		f = &s->f[i];
		if (f->out) {
			/* handed out last time: its slot is free again */
			f->free[f->nfree++] = f->out;
			f->out = NULL;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		int r = fill(&s->f[i]);

		if (r < 0)
			return r;
		/* ties go to the lower file index: a stable order */
		if (s->f[i].nheld &&
		    (best < 0 || held_first(&s->f[i])->key < held_first(&s->f[best])->key))
			best = (ssize_t)i;
	}
	if (best < 0)
		return 0;
	f = &s->f[best];
	f->out = held_pop(f);
	*rec = f->out->rec;
	if (file_idx)
		*file_idx = f->file_idx;
	return 1;
}

size_t htc_source_nfiles(const struct htc_source *s)
{
	return s->n;
}

struct htc_reader *htc_source_reader(struct htc_source *s, size_t file_idx)
{
	return file_idx < s->n ? s->f[file_idx].r : NULL;
}

void htc_source_progress(const struct htc_source *s, uint64_t *done, uint64_t *total)
{
	uint64_t d = 0, t = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct htc_reader_stats st;

		htc_reader_stats(s->f[i].r, &st);
		if (s->f[i].size) {
			t += s->f[i].size;
			d += s->f[i].eof && !s->f[i].nheld ? s->f[i].size
					  : (st.stop_offset < s->f[i].size ? st.stop_offset : s->f[i].size);
		}
	}
	if (done)
		*done = d;
	if (total)
		*total = t;
}
