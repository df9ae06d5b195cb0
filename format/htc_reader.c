// SPDX-License-Identifier: MIT
/*
 * htc_reader.c - the .htc reader.  It reads one frame at a time through a
 * bounded input window (a file, stdin or a caller's memory buffer), so a
 * multi-GB capture needs no more memory than its largest frame, and it
 * trusts nothing: every length is checked against the format's limits and
 * against the bytes present before it is used.  A frame that fails is
 * reported through the warn callback and skipped, reading resumes at the
 * next frame magic; a truncated tail ends the iteration with stats saying
 * where and why.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_frameHeaderSize, ZSTD_getFrameHeader */
#include <zstd.h>
#include <zstd_errors.h>

#include "htc_internal.h"

#define IBUF_MIN (256u << 10)
/* the largest window any frame needs: compressed data frame or trailer,
 * plus the 8-byte skippable header */
#define IBUF_MAX ((size_t)HTC_MAX_FRAME_CSIZE + 64)
#define SCAN_CHUNK (64u << 10)

struct htc_reader {
	int fd;			/* -1 for a memory buffer */
	int own_fd;
	/* input window: in[ipos..iend) are the unread bytes, in[0] is at file
	 * offset base.  Memory mode: in is the caller's buffer, eof is set. */
	const uint8_t *in;
	uint8_t *ibuf;
	size_t icap, ipos, iend;
	uint64_t base;
	int eof;

	ZSTD_DCtx *dctx;
	ZSTD_DCtx *mdctx;	/* magicless frames of header and trailer */
	uint8_t *out;		/* the decoded frame (or header/trailer body) */
	size_t ocap;
	const uint8_t *rp, *rend;	/* its unread records */
	uint64_t frame_off;
	struct htc_ctab *ctab;	/* compact events of the current frame */

	struct htc_header hdr;
	struct htc_trailer trl;
	struct htc_frame_info *frames;
	int have_trailer;

	/* every data frame read so far, by a digest of its content (frame_key):
	 * a frame that repeats one byte for byte is skipped */
	uint64_t *seen;
	size_t nseen, seen_cap;	/* open addressing, seen_cap a power of 2 */

	struct htc_reader_stats st;
	htc_warn_fn warn;
	void *wctx;
	int done;
	int err;		/* I/O error, sticky */
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void warnf(struct htc_reader *r, int err, uint64_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!r->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->warn(r->wctx, err, off, msg);
}

static uint64_t cur_off(const struct htc_reader *r)
{
	return r->base + r->ipos;
}

static size_t avail(const struct htc_reader *r)
{
	return r->iend - r->ipos;
}

/*
 * Make at least want bytes readable at in + ipos, unless the input ends
 * first.  Returns the bytes readable (maybe fewer than want at the end, or
 * more), or -errno on a read error.  Callers keep want below the format's
 * limits, which bounds the buffer.
 */
static ssize_t fill(struct htc_reader *r, size_t want)
{
	ssize_t n;

	if (avail(r) >= want || r->eof)
		return (ssize_t)avail(r);
	if (r->ipos) {
		memmove(r->ibuf, r->ibuf + r->ipos, avail(r));
		r->base += r->ipos;
		r->iend -= r->ipos;
		r->ipos = 0;
	}
	if (want > r->icap) {
		size_t ncap = r->icap * 2 > want ? r->icap * 2 : want;
		uint8_t *nb;

		/* doubling must not overshoot the biggest frame we accept */
		if (ncap > IBUF_MAX && want <= IBUF_MAX)
			ncap = IBUF_MAX;
		nb = realloc(r->ibuf, ncap);

		if (!nb)
			return -ENOMEM;
		r->ibuf = nb;
		r->in = nb;
		r->icap = ncap;
	}
	while (r->iend < want) {
		n = read(r->fd, r->ibuf + r->iend, r->icap - r->iend);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			/* a live capture may grow later; this reader stops here */
			r->eof = 1;
			break;
		}
		r->iend += (size_t)n;
	}
	return (ssize_t)avail(r);
}

static void consume(struct htc_reader *r, size_t n)
{
	r->ipos += n;
}

static const uint8_t *cur(const struct htc_reader *r)
{
	return r->in + r->ipos;
}

static int is_frame_magic(uint32_t m)
{
	return m == HTC_ZSTD_MAGIC || (m & HTC_SKIP_MAGIC_MASK) == HTC_SKIP_MAGIC_BASE;
}

/* Skip n bytes, reading through them on a stream.  Returns 0, 1 if the
 * input ended first, or -errno. */
static int skip(struct htc_reader *r, uint64_t n)
{
	ssize_t a;

	while (n) {
		a = fill(r, n < SCAN_CHUNK ? (size_t)n : SCAN_CHUNK);
		if (a < 0)
			return (int)a;
		if (a == 0)
			return 1;
		if ((uint64_t)a > n)
			a = (ssize_t)n;
		consume(r, (size_t)a);
		n -= (uint64_t)a;
	}
	return 0;
}

/*
 * Look for the next frame magic after the frame that failed at the current
 * position, and stop there (or at the end).  A fake magic inside
 * compressed data is possible; the frame it starts then fails too and we
 * come back here, one byte further, so a real frame is never jumped over.
 */
static int resync(struct htc_reader *r)
{
	uint64_t from = cur_off(r);
	ssize_t a;
	size_t i;

	consume(r, 1);
	for (;;) {
		a = fill(r, SCAN_CHUNK);
		if (a < 0)
			return (int)a;
		for (i = 0; i + 4 <= (size_t)a; i++) {
			if (is_frame_magic(get_le32(cur(r) + i))) {
				consume(r, i);
				warnf(r, HTC_ERR_CORRUPT, from,
				      "resynchronized: skipped %llu bytes from offset %llu to the next frame at offset %llu",
				      (unsigned long long)(cur_off(r) - from),
				      (unsigned long long)from, (unsigned long long)cur_off(r));
				return 0;
			}
		}
		if (r->eof && (size_t)a < SCAN_CHUNK) {
			consume(r, (size_t)a);
			warnf(r, HTC_ERR_CORRUPT, from,
			      "no frame after offset %llu: skipped %llu bytes to the end of the file",
			      (unsigned long long)from, (unsigned long long)(cur_off(r) - from));
			return 0;
		}
		consume(r, (size_t)a - 3);
	}
}

/* Is there a frame magic in the bytes after the current position?  Used
 * to tell a truncated last frame from a corrupt one that claims more bytes
 * than it has, with more frames behind it. */
static int magic_ahead(const struct htc_reader *r)
{
	size_t i;

	for (i = 1; i + 4 <= avail(r); i++)
		if (is_frame_magic(get_le32(cur(r) + i)))
			return 1;
	return 0;
}

/* The input ends inside the frame at the current position. */
static void truncated(struct htc_reader *r, uint64_t want, size_t have)
{
	r->st.truncated = 1;
	r->st.stop_offset = cur_off(r);
	r->done = 1;
	warnf(r, HTC_ERR_TRUNCATED, cur_off(r),
	      "truncated file: frame at offset %llu wants %llu bytes, only %zu left",
	      (unsigned long long)cur_off(r), (unsigned long long)want, have);
}

static int grow_out(struct htc_reader *r, size_t need)
{
	uint8_t *p;

	if (need <= r->ocap)
		return 0;
	p = realloc(r->out, need);
	if (!p)
		return -ENOMEM;
	r->out = p;
	r->ocap = need;
	return 0;
}

/*
 * Decode the magicless zstd frame holding a header or trailer body (src,
 * len) into r->out.  Returns the body length, or an HTC_ERR_* with *why set.
 */
static int64_t meta_body(struct htc_reader *r, const uint8_t *src, size_t len,
			 size_t limit, const char **why)
{
	ZSTD_frameHeader zfh;
	unsigned long long cs;
	size_t d;

	if (ZSTD_getFrameHeader_advanced(&zfh, src, len, ZSTD_f_zstd1_magicless) != 0 ||
	    zfh.frameType != ZSTD_frame || zfh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN) {
		*why = "body is not a zstd frame with a content size";
		return HTC_ERR_CORRUPT;
	}
	cs = zfh.frameContentSize;
	if (cs > limit) {
		*why = "body size beyond the limit";
		return HTC_ERR_TOOBIG;
	}
	if (grow_out(r, cs ? cs : 1))
		return -ENOMEM;
	d = ZSTD_decompressDCtx(r->mdctx, r->out, r->ocap, src, len);
	if (ZSTD_isError(d)) {
		*why = ZSTD_getErrorName(d);
		return ZSTD_getErrorCode(d) == ZSTD_error_checksum_wrong ?
			HTC_ERR_CHECKSUM : HTC_ERR_CORRUPT;
	}
	if (d != cs) {
		*why = "body shorter than its declared size";
		return HTC_ERR_CORRUPT;
	}
	return (int64_t)d;
}

static void get_str16(const uint8_t *b, size_t len, size_t *pos, char *dst,
		      size_t max, int *ok)
{
	size_t n;

	if (!*ok || len - *pos < 2) {
		*ok = 0;
		return;
	}
	n = get_le16(b + *pos);
	*pos += 2;
	if (n > len - *pos) {
		*ok = 0;
		return;
	}
	/* a string longer than our field is cut, not rejected: a newer
	 * writer may allow more, and the rest of the header is still good */
	memcpy(dst, b + *pos, n < max - 1 ? n : max - 1);
	dst[n < max - 1 ? n : max - 1] = '\0';
	*pos += n;
}

/* Read and check the header frame at the start of the input. */
static int read_header(struct htc_reader *r)
{
	struct htc_header *h = &r->hdr;
	const uint8_t *p, *b;
	uint32_t size, fixed;
	const char *why;
	int64_t blen;
	ssize_t a;
	size_t pos;
	int ok = 1;

	a = fill(r, 8 + HTC_META_PREFIX);
	if (a < 0)
		return (int)a;
	p = cur(r);
	if (a < 4) {
		uint8_t m[4];

		put_le32(m, HTC_SKIP_HEADER);
		return memcmp(p, m, (size_t)a) ? HTC_ERR_MAGIC : HTC_ERR_TRUNCATED;
	}
	if (get_le32(p) != HTC_SKIP_HEADER)
		return HTC_ERR_MAGIC;
	if (a < 8 + HTC_META_PREFIX)
		return HTC_ERR_TRUNCATED;
	if (memcmp(p + 8, HTC_HDR_MAGIC, HTC_INNER_MAGIC_LEN))
		return HTC_ERR_MAGIC;
	h->version_major = get_le16(p + 16);
	h->version_minor = get_le16(p + 18);
	/* a newer minor only adds what we may ignore; any other major is a
	 * different format */
	if (h->version_major != HTC_VERSION_MAJOR)
		return HTC_ERR_VERSION;
	size = get_le32(p + 4);
	if (size > HTC_MAX_HEADER)
		return HTC_ERR_TOOBIG;
	if (size < HTC_META_PREFIX)
		return HTC_ERR_CORRUPT;
	a = fill(r, 8 + (size_t)size);
	if (a < 0)
		return (int)a;
	if ((size_t)a < 8 + (size_t)size)
		return HTC_ERR_TRUNCATED;
	p = cur(r);
	blen = meta_body(r, p + 8 + HTC_META_PREFIX, size - HTC_META_PREFIX,
			 HTC_MAX_HEADER, &why);
	if (blen < 0)
		return (int)blen;
	b = r->out;
	if (blen < HTC_HDR_FIXED)
		return HTC_ERR_CORRUPT;
	fixed = get_le32(b);
	if (fixed < HTC_HDR_FIXED || fixed > blen)
		return HTC_ERR_CORRUPT;
	h->flags = get_le32(b + 4);
	h->snaplen = get_le32(b + 8);
	h->file_seq = get_le32(b + 12);
	h->realtime_offset_ns = (int64_t)get_le64(b + 16);
	/* checked before anyone adds it to a time: a hostile header must not
	 * overflow the tools' arithmetic (see htc_wall_ns) */
	if (h->realtime_offset_ns > HTC_MAX_REALTIME_OFFSET ||
	    h->realtime_offset_ns < -HTC_MAX_REALTIME_OFFSET)
		h->realtime_offset_ns = 0;
	h->start_ns = get_le64(b + 24);
	memcpy(h->capture_id, b + 32, 16);
	pos = fixed;
	get_str16(b, (size_t)blen, &pos, h->hostname, HTC_HOSTNAME_LEN, &ok);
	get_str16(b, (size_t)blen, &pos, h->kernel, HTC_KERNEL_LEN, &ok);
	get_str16(b, (size_t)blen, &pos, h->tool_version, HTC_TOOLVER_LEN, &ok);
	get_str16(b, (size_t)blen, &pos, h->options, HTC_OPTTEXT_LEN, &ok);
	if (!ok)
		return HTC_ERR_CORRUPT;
	consume(r, 8 + (size_t)size);
	return 0;
}

/* Parse the trailer payload p (size bytes); a bad one is reported and
 * ignored, the records stay readable. */
static void read_trailer(struct htc_reader *r, const uint8_t *p, uint32_t size)
{
	uint64_t off = cur_off(r);
	struct htc_frame_info *fr = NULL;
	uint32_t fixed, esize, n, i;
	const uint8_t *b, *e;
	const char *why;
	int64_t blen;

	if (size < HTC_META_PREFIX || memcmp(p, HTC_TRL_MAGIC, HTC_INNER_MAGIC_LEN)) {
		warnf(r, HTC_ERR_CORRUPT, off, "trailer at offset %llu: bad inner magic, ignored",
		      (unsigned long long)off);
		return;
	}
	if (get_le16(p + 8) != HTC_VERSION_MAJOR) {
		warnf(r, HTC_ERR_VERSION, off, "trailer at offset %llu: version %u, ignored",
		      (unsigned long long)off, get_le16(p + 8));
		return;
	}
	blen = meta_body(r, p + HTC_META_PREFIX, size - HTC_META_PREFIX, HTC_MAX_TRAILER, &why);
	if (blen < 0) {
		warnf(r, (int)blen, off, "trailer at offset %llu: %s, ignored",
		      (unsigned long long)off, why);
		return;
	}
	b = r->out;
	if (blen < HTC_TRL_FIXED)
		goto bad;
	fixed = get_le32(b);
	esize = get_le32(b + 4);
	n = get_le32(b + 8);
	if (fixed < HTC_TRL_FIXED || fixed > blen || esize < HTC_TRL_ENTRY ||
	    (uint64_t)n * esize > (uint64_t)blen - fixed)
		goto bad;
	if (n) {
		fr = calloc(n, sizeof(*fr));
		if (!fr) {
			warnf(r, -ENOMEM, off, "trailer at offset %llu: no memory for %u frames, ignored",
			      (unsigned long long)off, n);
			return;
		}
	}
	for (i = 0, e = b + fixed; i < n; i++, e += esize) {
		fr[i].offset = get_le64(e);
		fr[i].csize = get_le32(e + 8);
		fr[i].usize = get_le32(e + 12);
		fr[i].records = get_le32(e + 16);
		fr[i].first_ts = get_le64(e + 24);
		fr[i].last_ts = get_le64(e + 32);
	}
	/* concatenated captures: the last trailer wins */
	free(r->frames);
	r->frames = fr;
	memset(&r->trl, 0, sizeof(r->trl));
	r->trl.records = get_le64(b + 16);
	r->trl.events = get_le64(b + 24);
	r->trl.payload_bytes = get_le64(b + 32);
	r->trl.first_ts = get_le64(b + 40);
	r->trl.last_ts = get_le64(b + 48);
	r->trl.end_ns = get_le64(b + 56);
	for (i = 0; i < HTC_LOSS_SLOTS; i++)
		r->trl.lost[i] = get_le64(b + 64 + 8 * i);
	r->trl.nframes = n;
	r->trl.frames = fr;
	r->have_trailer = 1;
	return;
bad:
	warnf(r, HTC_ERR_CORRUPT, off,
	      "trailer at offset %llu: body of %lld bytes has inconsistent lengths, ignored",
	      (unsigned long long)off, (long long)blen);
}

/* A data frame failed: count it, say why, and go on at the next magic. */
static int bad_frame(struct htc_reader *r, int err, const char *why)
{
	r->st.frames_bad++;
	warnf(r, err, cur_off(r), "frame at offset %llu: %s, skipped",
	      (unsigned long long)cur_off(r), why);
	return resync(r);
}

/*
 * A data frame whose blocks were walked to its end (pos bytes) failed to
 * decode.  If a frame (or the end of the input) follows right there, the
 * walk was sound: skip the frame whole.  Otherwise its sizes are suspect,
 * and resync() scans from its second byte.
 */
static int bad_walked_frame(struct htc_reader *r, int err, const char *why, size_t pos)
{
	if (!((r->eof && avail(r) == pos) ||
	      (avail(r) >= pos + 4 && is_frame_magic(get_le32(cur(r) + pos)))))
		return bad_frame(r, err, why);
	r->st.frames_bad++;
	warnf(r, err, cur_off(r), "frame at offset %llu: %s, skipped",
	      (unsigned long long)cur_off(r), why);
	consume(r, pos);
	return 0;
}

/* The input ended inside the frame here: a truncated tail, or a corrupt
 * length when more frames follow. */
static int short_frame(struct htc_reader *r, uint64_t want)
{
	if (magic_ahead(r))
		return bad_frame(r, HTC_ERR_CORRUPT, "lengths run past the next frame");
	truncated(r, want, avail(r));
	return 0;
}

/*
 * A frame's identity: FNV-1a over its content size, its first and last 64
 * bytes and zstd's checksum of the whole content (the frame's last 4
 * bytes).  Two frames of one capture never have the same content (each
 * starts with its own times), so equal keys mean a repeated frame: the
 * same bytes written twice by a broken copy or a hostile file, whose
 * records would otherwise be counted twice.  Not cryptographic: a file
 * crafted to collide can only get one of its own frames skipped.
 */
static uint64_t frame_key(const uint8_t *d, size_t n, uint32_t zsum)
{
	uint64_t h = 1469598103934665603ULL;
	size_t head = n < 64 ? n : 64, tail = n < 128 ? n - head : 64;

#define MIX(b) (h = (h ^ (uint8_t)(b)) * 1099511628211ULL)
	for (int i = 0; i < 8; i++)
		MIX((uint64_t)n >> (8 * i));
	for (int i = 0; i < 4; i++)
		MIX(zsum >> (8 * i));
	for (size_t i = 0; i < head; i++)
		MIX(d[i]);
	for (size_t i = n - tail; i < n; i++)
		MIX(d[i]);
#undef MIX
	return h ? h : 1;	/* 0 marks an empty slot */
}

/* At most this many frames remembered (16 MiB): a file of more tiny
 * frames is checked for repeats of its first ones only. */
#define HTC_MAX_SEEN_FRAMES (1u << 20)

/* Remember key; returns 1 if it was seen before, 0 if new, -ENOMEM. */
static int seen_add(struct htc_reader *r, uint64_t key)
{
	size_t i;

	if (2 * (r->nseen + 1) > r->seen_cap && r->nseen < HTC_MAX_SEEN_FRAMES) {
		size_t cap = r->seen_cap ? 2 * r->seen_cap : 1024;
		uint64_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t k = 0; k < r->seen_cap; k++) {
			if (!r->seen[k])
				continue;
			for (i = r->seen[k] & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
				;
			t[i] = r->seen[k];
		}
		free(r->seen);
		r->seen = t;
		r->seen_cap = cap;
	}
	for (i = key & (r->seen_cap - 1); r->seen[i]; i = (i + 1) & (r->seen_cap - 1))
		if (r->seen[i] == key)
			return 1;
	if (2 * (r->nseen + 1) <= r->seen_cap) {
		r->seen[i] = key;
		r->nseen++;
	}
	return 0;
}

/*
 * Load and decode the zstd frame at the current position.  Its compressed
 * size is found by walking the block headers (RFC 8878 3.1.1.2) by hand:
 * ZSTD_findFrameCompressedSize needs the whole frame in memory, and on a
 * stream we must know how much to read, with a bound, before we have it.
 */
static int load_frame(struct htc_reader *r)
{
	ZSTD_frameHeader zfh;
	const uint8_t *p;
	size_t fhs, pos, d, bh, bsize;
	ssize_t a;
	char why[96];
	int err;

	a = fill(r, ZSTD_FRAMEHEADERSIZE_MAX);
	if (a < 0)
		return (int)a;
	fhs = ZSTD_frameHeaderSize(cur(r), (size_t)a);
	if (ZSTD_isError(fhs)) {
		if ((size_t)a < ZSTD_FRAMEHEADERSIZE_PREFIX(ZSTD_f_zstd1))
			return short_frame(r, ZSTD_FRAMEHEADERSIZE_PREFIX(ZSTD_f_zstd1));
		return bad_frame(r, HTC_ERR_CORRUPT, "bad zstd frame header");
	}
	if ((size_t)a < fhs)
		return short_frame(r, fhs);
	if (ZSTD_getFrameHeader(&zfh, cur(r), (size_t)a) != 0)
		return bad_frame(r, HTC_ERR_CORRUPT, "bad zstd frame header");
	if (zfh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN)
		return bad_frame(r, HTC_ERR_CORRUPT, "no content size in the frame header");
	if (zfh.frameContentSize > HTC_MAX_FRAME_USIZE) {
		snprintf(why, sizeof(why), "declared size %llu beyond the %u limit",
			 (unsigned long long)zfh.frameContentSize, HTC_MAX_FRAME_USIZE);
		return bad_frame(r, HTC_ERR_TOOBIG, why);
	}
	for (pos = fhs;;) {
		a = fill(r, pos + 3);
		if (a < 0)
			return (int)a;
		if ((size_t)a < pos + 3)
			return short_frame(r, pos + 3);
		p = cur(r) + pos;
		bh = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
		bsize = bh >> 3;
		if (((bh >> 1) & 3) == 3)
			return bad_frame(r, HTC_ERR_CORRUPT, "reserved block type");
		if (bsize > ZSTD_BLOCKSIZE_MAX)
			return bad_frame(r, HTC_ERR_CORRUPT, "block larger than 128 KiB");
		pos += 3 + (((bh >> 1) & 3) == 1 ? 1 : bsize);	/* RLE: one byte */
		if (pos > HTC_MAX_FRAME_CSIZE) {
			snprintf(why, sizeof(why), "compressed size beyond the %u limit",
				 HTC_MAX_FRAME_CSIZE);
			return bad_frame(r, HTC_ERR_TOOBIG, why);
		}
		if (bh & 1)
			break;
	}
	if (zfh.checksumFlag)
		pos += 4;
	a = fill(r, pos);
	if (a < 0)
		return (int)a;
	if ((size_t)a < pos)
		return short_frame(r, pos);

	err = grow_out(r, zfh.frameContentSize ? zfh.frameContentSize : 1);
	if (err)
		return err;
	d = ZSTD_decompressDCtx(r->dctx, r->out, r->ocap, cur(r), pos);
	if (ZSTD_isError(d)) {
		snprintf(why, sizeof(why), "%s (%zu bytes)", ZSTD_getErrorName(d), pos);
		return bad_walked_frame(r, ZSTD_getErrorCode(d) == ZSTD_error_checksum_wrong ?
					HTC_ERR_CHECKSUM : HTC_ERR_CORRUPT, why, pos);
	}
	if (d != zfh.frameContentSize)
		return bad_walked_frame(r, HTC_ERR_CORRUPT, "content shorter than declared", pos);
	err = seen_add(r, frame_key(r->out, d, zfh.checksumFlag ? get_le32(cur(r) + pos - 4) : 0));
	if (err < 0)
		return err;
	if (err) {
		r->st.frames_dup++;
		warnf(r, HTC_ERR_CORRUPT, cur_off(r), "frame at offset %llu repeats an earlier "
		      "frame byte for byte: skipped, its records would count twice",
		      (unsigned long long)cur_off(r));
		consume(r, pos);
		return 0;
	}
	r->frame_off = cur_off(r);
	consume(r, pos);
	r->st.frames_ok++;
	r->rp = r->out;
	r->rend = r->out + d;
	htc_ctab_reset(r->ctab);	/* compact events refer to their frame only */
	return 0;
}

/* The trailer frame at the current position, of size payload bytes. */
static int load_trailer(struct htc_reader *r, uint32_t size)
{
	ssize_t a = fill(r, 8 + (size_t)size);

	if (a < 0)
		return (int)a;
	if ((size_t)a < 8 + (size_t)size) {
		/* not short_frame: the trailer is last, and its body holds a
		 * frame of its own */
		truncated(r, 8 + (uint64_t)size, avail(r));
		return 0;
	}
	read_trailer(r, cur(r) + 8, size);
	consume(r, 8 + (size_t)size);
	return 0;
}

/*
 * A skippable frame that is not ours to read: someone else's, a second
 * header (concatenated files), or an oversized trailer.  zstd's rule is to
 * skip it, reading through it on a stream.
 */
static int skip_frame(struct htc_reader *r, uint32_t magic, uint32_t size)
{
	uint64_t off = cur_off(r);
	int err;

	if (magic == HTC_SKIP_TRAILER)
		warnf(r, HTC_ERR_TOOBIG, off, "trailer at offset %llu: %u bytes beyond the %u limit, ignored",
		      (unsigned long long)off, size, HTC_MAX_TRAILER);
	err = skip(r, 8 + (uint64_t)size);
	if (err != 1)
		return err;
	r->st.truncated = 1;
	r->st.stop_offset = off;
	r->done = 1;
	warnf(r, HTC_ERR_TRUNCATED, off,
	      "truncated file: skippable frame at offset %llu wants %llu bytes, only %llu left",
	      (unsigned long long)off, 8 + (unsigned long long)size,
	      (unsigned long long)(cur_off(r) - off));
	return 0;
}

/* Advance to the next data frame with records, handling skippable frames.
 * Returns 0 (records ready, or done set) or -errno. */
static int next_frame(struct htc_reader *r)
{
	uint32_t magic, size;
	char why[64];
	ssize_t a;
	int err;

	while (!r->done && r->rp == r->rend) {
		a = fill(r, 8);
		if (a < 0)
			return (int)a;
		if (a == 0) {
			r->done = 1;
			r->st.stop_offset = cur_off(r);
			return 0;
		}
		magic = a >= 4 ? get_le32(cur(r)) : 0;
		size = a >= 8 ? get_le32(cur(r) + 4) : 0;
		if (a < 4) {
			err = short_frame(r, 4);
		} else if (magic == HTC_ZSTD_MAGIC) {
			err = load_frame(r);
		} else if ((magic & HTC_SKIP_MAGIC_MASK) != HTC_SKIP_MAGIC_BASE) {
			snprintf(why, sizeof(why), "no frame magic (0x%08x)", magic);
			err = bad_frame(r, HTC_ERR_CORRUPT, why);
		} else if (a < 8) {
			err = short_frame(r, 8);
		} else if (magic == HTC_SKIP_TRAILER && size <= HTC_MAX_TRAILER) {
			err = load_trailer(r, size);
		} else {
			err = skip_frame(r, magic, size);
		}
		if (err)
			return err;
	}
	return 0;
}

int htc_reader_next(struct htc_reader *r, struct htc_record *rec)
{
	const uint8_t *p;
	uint32_t len;
	uint16_t type;
	size_t left;
	const char *why;
	bool compact;
	int err;

	if (!r || !rec)
		return -EINVAL;
	for (;;) {
		if (r->rp == r->rend) {
			if (r->err)
				return r->err;
			err = next_frame(r);
			if (err) {
				r->err = err;
				r->done = 1;
				r->st.stop_offset = cur_off(r);
				return err;
			}
			if (r->rp == r->rend)
				return 0;
		}
		p = r->rp;
		left = (size_t)(r->rend - p);
		if (left < HTC_REC_HDR_LEN) {
			warnf(r, HTC_ERR_CORRUPT, r->frame_off,
			      "frame at offset %llu: %zu stray bytes at its end, skipped",
			      (unsigned long long)r->frame_off, left);
			r->st.records_skipped++;
			r->rp = r->rend;
			continue;
		}
		type = get_le16(p);
		len = get_le32(p + 4);
		if (len > left - HTC_REC_HDR_LEN) {
			warnf(r, HTC_ERR_CORRUPT, r->frame_off,
			      "frame at offset %llu: record at byte %zu wants %u bytes, only %zu left in the frame; rest of the frame skipped",
			      (unsigned long long)r->frame_off, (size_t)(p - r->out), len,
			      left - HTC_REC_HDR_LEN);
			r->st.records_skipped++;
			r->rp = r->rend;
			continue;
		}
		r->rp = p + HTC_REC_HDR_LEN + len;
		compact = (type == HTC_REC_DATA_C || type == HTC_REC_TLS_C ||
			   type == HTC_REC_DATA_D || type == HTC_REC_TLS_D) && len <= HTC_MAX_RECORD;
		if (!compact && !htc_rec_known(type)) {
			/* a newer minor version's record: skipping is the rule */
			r->st.records_skipped++;
			continue;
		}
		if (!compact && len > HTC_MAX_RECORD) {
			warnf(r, HTC_ERR_TOOBIG, r->frame_off,
			      "frame at offset %llu: record of %u bytes beyond the %u limit, skipped",
			      (unsigned long long)r->frame_off, len, HTC_MAX_RECORD);
			r->st.records_skipped++;
			continue;
		}
		memset(rec, 0, sizeof(*rec));
		err = compact ? htc_compact_decode(r->ctab, p + HTC_REC_HDR_LEN, len,
						   type == HTC_REC_TLS_C || type == HTC_REC_TLS_D,
						   type == HTC_REC_DATA_D || type == HTC_REC_TLS_D,
						   rec, &why)
			      : htc_rec_decode(type, p + HTC_REC_HDR_LEN, len, rec, &why);
		if (err == -ENOMEM) {
			/* not the file's fault: the caller must not take the
			 * rest of the frame as read */
			r->err = err;
			r->done = 1;
			r->rp = r->rend;
			return err;
		}
		if (err) {
			warnf(r, err, r->frame_off, "frame at offset %llu: record at byte %zu: %s, skipped",
			      (unsigned long long)r->frame_off, (size_t)(p - r->out), why);
			r->st.records_skipped++;
			continue;
		}
		r->st.records++;
		return 1;
	}
}

static struct htc_reader *reader_new(void)
{
	struct htc_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = -1;
	r->dctx = ZSTD_createDCtx();
	r->mdctx = ZSTD_createDCtx();
	r->ctab = calloc(1, sizeof(*r->ctab));
	if (!r->dctx || !r->mdctx || !r->ctab ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(r->mdctx, ZSTD_d_format, ZSTD_f_zstd1_magicless))) {
		ZSTD_freeDCtx(r->dctx);
		ZSTD_freeDCtx(r->mdctx);
		htc_ctab_free(r->ctab);
		free(r);
		return NULL;
	}
	return r;
}

static struct htc_reader *reader_start(struct htc_reader *r, int *err)
{
	int e = read_header(r);

	if (e) {
		htc_reader_close(r);
		if (err)
			*err = e;
		return NULL;
	}
	return r;
}

struct htc_reader *htc_reader_open_mem(const void *buf, size_t len, int *err)
{
	struct htc_reader *r;

	if (!buf && len) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	r = reader_new();
	if (!r) {
		if (err)
			*err = -ENOMEM;
		return NULL;
	}
	r->in = buf ? buf : (const uint8_t *)"";
	r->iend = len;
	r->eof = 1;
	return reader_start(r, err);
}

struct htc_reader *htc_reader_open(const char *path, int *err)
{
	struct htc_reader *r;
	int fd;

	if (!path) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	if (!strcmp(path, "-")) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (err)
				*err = -errno;
			return NULL;
		}
	}
	r = reader_new();
	if (r)
		r->ibuf = malloc(IBUF_MIN);
	if (!r || !r->ibuf) {
		if (fd != STDIN_FILENO)
			close(fd);
		htc_reader_close(r);
		if (err)
			*err = -ENOMEM;
		return NULL;
	}
	r->fd = fd;
	r->own_fd = fd != STDIN_FILENO;
	r->in = r->ibuf;
	r->icap = IBUF_MIN;
	return reader_start(r, err);
}

void htc_reader_set_warn(struct htc_reader *r, htc_warn_fn fn, void *ctx)
{
	if (!r)
		return;
	r->warn = fn;
	r->wctx = ctx;
}

const struct htc_header *htc_reader_header(const struct htc_reader *r)
{
	return r ? &r->hdr : NULL;
}

const struct htc_trailer *htc_reader_trailer(const struct htc_reader *r)
{
	return r && r->have_trailer ? &r->trl : NULL;
}

void htc_reader_stats(const struct htc_reader *r, struct htc_reader_stats *st)
{
	if (!st)
		return;
	if (!r) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = r->st;
	if (!r->done)
		st->stop_offset = cur_off(r);
}

void htc_reader_close(struct htc_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	ZSTD_freeDCtx(r->dctx);
	ZSTD_freeDCtx(r->mdctx);
	htc_ctab_free(r->ctab);
	free(r->ibuf);
	free(r->out);
	free(r->frames);
	free(r->seen);
	free(r);
}
