// SPDX-License-Identifier: MIT
/*
 * htc_writer.c - the .htc writer: a header skippable frame, then records
 * gathered into an uncompressed buffer and written as one zstd frame
 * (content size and checksum on) each time the buffer reaches frame_bytes
 * or its first record is frame_ms old, and on close a trailer skippable
 * frame with the counts and the frame index.  A frame is written with one
 * write() loop, so a crash loses at most the open frame; a frame that fails
 * half-way is cut off again with ftruncate so the file stays readable.
 *
 * With opts.threaded, a thread compresses and writes each closed frame
 * while the caller fills the next one (a queue of one frame: a caller
 * faster than the thread waits for it).  Write errors then show on a
 * later call (append, flush, close), still sticky; flush and close wait
 * until everything handed over is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_c_format: magicless frames */
#include <zstd.h>

#include "htc_internal.h"

/* Look at the clock every this many appends: clock_gettime is a vDSO call,
 * cheap, but not free at millions of records per second. */
#define CLOCK_EVERY 64

struct htc_writer {
	int fd;
	int err;		/* first write error, sticky */
	uint64_t off;		/* bytes written = offset of the next frame */
	ZSTD_CCtx *cctx;
	uint32_t frame_bytes;
	uint64_t frame_ns;

	uint8_t *buf;		/* the open frame, uncompressed */
	size_t len, cap;
	uint8_t *zbuf;		/* its compressed form */
	size_t zcap;
	uint32_t frame_records;
	uint64_t frame_first_ts, frame_last_ts;
	uint64_t frame_opened_ns;	/* CLOCK_MONOTONIC when the first record came */
	uint32_t since_clock;

	struct htc_frame_info *frames;
	uint32_t nframes, frames_cap;

	struct htc_ctab *ctab;	/* compact events of the open frame */
	int compact;		/* data events as DATA_C */
	int delta;		/* payload deltas: DATA_D, TLS_D (format 1.3) */

	/* opts.threaded: the frame being compressed and written by th;
	 * jbuf has the capacity cap, as buf (they are swapped) */
	int threaded, started;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy, stop;
	uint8_t *jbuf;
	size_t jlen;
	uint32_t jrecords;
	uint64_t jfirst, jlast;

	uint64_t payload_bytes;
	uint64_t first_ts, last_ts;	/* of events */
	struct htc_writer_stats st;
};

/* w->err and w->off are written by the writing thread under opts.threaded */
static inline int werr(const struct htc_writer *w)
{
	return __atomic_load_n(&w->err, __ATOMIC_ACQUIRE);
}

static inline int set_werr(struct htc_writer *w, int err)
{
	__atomic_store_n(&w->err, err, __ATOMIC_RELEASE);
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Write all of buf at the current end.  On a short or failed write, cut
 * the file back to where this write started, so what remains ends on a
 * frame boundary (not possible on pipes; the reader then reports a
 * truncated tail).  The error is sticky.
 */
static int write_all(struct htc_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;
	ssize_t n;

	if (werr(w))
		return werr(w);
	while (done < len) {
		n = write(w->fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			if (done && ftruncate(w->fd, (off_t)w->off) == 0)
				lseek(w->fd, (off_t)w->off, SEEK_SET);
			return set_werr(w, e);
		}
		done += (size_t)n;
	}
	__atomic_store_n(&w->off, w->off + len, __ATOMIC_RELEASE);
	w->st.bytes_out += len;
	return 0;
}

static size_t put_str16(uint8_t *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max - 1);

	put_le16(p, (uint16_t)n);
	memcpy(p + 2, s, n);
	return 2 + n;
}

/*
 * Write a header or trailer skippable frame: the 16-byte prefix, then body
 * compressed into one checksummed zstd frame in zstd's magicless format
 * (the frame minus its 4 magic bytes).  Without the magic, a reader
 * resynchronising after a damaged frame cannot mistake this nested frame
 * for a data frame.
 */
static int write_meta(struct htc_writer *w, uint32_t skip_magic, const char *inner,
		      const uint8_t *body, size_t len)
{
	size_t zcap = HTC_META_PREFIX + 8 + ZSTD_compressBound(len);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint8_t *b = malloc(zcap);
	size_t z;
	int err = -ENOMEM;

	if (!b || !c)
		goto cleanup;
	err = -EIO;	/* cannot happen: known parameters, zcap is the bound */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1)))
		goto cleanup;
	z = ZSTD_compress2(c, b + 8 + HTC_META_PREFIX, zcap - 8 - HTC_META_PREFIX, body, len);
	if (ZSTD_isError(z))
		goto cleanup;
	put_le32(b, skip_magic);
	put_le32(b + 4, (uint32_t)(HTC_META_PREFIX + z));
	memcpy(b + 8, inner, HTC_INNER_MAGIC_LEN);
	put_le16(b + 16, HTC_VERSION_MAJOR);
	put_le16(b + 18, w->delta ? HTC_VERSION_MINOR : HTC_MINOR_NO_DELTA);
	put_le32(b + 20, 0);
	err = write_all(w, b, 8 + HTC_META_PREFIX + z);
cleanup:
	ZSTD_freeCCtx(c);
	free(b);
	return err;
}

static int write_header(struct htc_writer *w, const struct htc_header *hdr)
{
	static const struct htc_header empty;
	uint8_t *b;
	size_t n;
	int err;

	if (!hdr)
		hdr = &empty;
	b = calloc(1, HTC_HDR_FIXED + 4 * 2 + HTC_HOSTNAME_LEN + HTC_KERNEL_LEN +
		      HTC_TOOLVER_LEN + HTC_OPTTEXT_LEN);
	if (!b)
		return -ENOMEM;
	put_le32(b, HTC_HDR_FIXED);
	put_le32(b + 4, hdr->flags);
	put_le32(b + 8, hdr->snaplen);
	put_le32(b + 12, hdr->file_seq);
	put_le64(b + 16, (uint64_t)hdr->realtime_offset_ns);
	put_le64(b + 24, hdr->start_ns);
	memcpy(b + 32, hdr->capture_id, 16);
	n = HTC_HDR_FIXED;
	n += put_str16(b + n, hdr->hostname, HTC_HOSTNAME_LEN);
	n += put_str16(b + n, hdr->kernel, HTC_KERNEL_LEN);
	n += put_str16(b + n, hdr->tool_version, HTC_TOOLVER_LEN);
	n += put_str16(b + n, hdr->options, HTC_OPTTEXT_LEN);
	err = write_meta(w, HTC_SKIP_HEADER, HTC_HDR_MAGIC, b, n);
	free(b);
	return err;
}

/* Compress and write one frame (len bytes of buf), and add it to the
 * index: the caller's thread, or the writing thread under opts.threaded. */
static int frame_out(struct htc_writer *w, const uint8_t *buf, size_t len, uint32_t records,
		     uint64_t first_ts, uint64_t last_ts)
{
	struct htc_frame_info *fi;
	size_t z;
	int err;

	if (werr(w))
		return werr(w);
	if (w->nframes == w->frames_cap) {
		uint32_t ncap = w->frames_cap ? w->frames_cap * 2 : 64;

		fi = realloc(w->frames, (size_t)ncap * sizeof(*fi));
		if (!fi)
			return set_werr(w, -ENOMEM);
		w->frames = fi;
		w->frames_cap = ncap;
	}
	z = ZSTD_compress2(w->cctx, w->zbuf, w->zcap, buf, len);
	if (ZSTD_isError(z))
		return set_werr(w, -EIO);	/* cannot happen: zcap is the bound */
	err = write_all(w, w->zbuf, z);
	if (err)
		return err;
	fi = &w->frames[w->nframes++];
	fi->offset = w->off - z;
	fi->csize = (uint32_t)z;
	fi->usize = (uint32_t)len;
	fi->records = records;
	fi->first_ts = first_ts;
	fi->last_ts = last_ts;
	w->st.frames++;
	w->st.bytes_in += len;
	return 0;
}

/* Under opts.threaded: wait until the writing thread has no frame. */
static void wait_idle(struct htc_writer *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void *writer_thread(void *arg)
{
	struct htc_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->busy)
			break;	/* stop, and nothing left */
		pthread_mutex_unlock(&w->mu);
		frame_out(w, w->jbuf, w->jlen, w->jrecords, w->jfirst, w->jlast);
		pthread_mutex_lock(&w->mu);
		w->busy = 0;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Close the open frame: write it, or hand it to the writing thread. */
static int close_frame(struct htc_writer *w)
{
	int err = 0;

	if (werr(w))
		return werr(w);
	if (!w->len)
		return 0;
	if (w->started) {
		uint8_t *b;

		wait_idle(w);	/* a queue of one frame */
		if (werr(w))
			return werr(w);
		b = w->jbuf;
		w->jbuf = w->buf;
		w->buf = b;
		w->jlen = w->len;
		w->jrecords = w->frame_records;
		w->jfirst = w->frame_first_ts;
		w->jlast = w->frame_last_ts;
		pthread_mutex_lock(&w->mu);
		w->busy = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	} else {
		err = frame_out(w, w->buf, w->len, w->frame_records, w->frame_first_ts,
				w->frame_last_ts);
	}
	if (err)
		return err;
	w->len = 0;
	w->frame_records = 0;
	htc_ctab_reset(w->ctab);	/* each frame decodes alone */
	return 0;
}

/* Stop the writing thread once it has written what it holds. */
static void stop_thread(struct htc_writer *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->started = 0;
}

/* Make the frame buffers hold at least need uncompressed bytes (both of
 * them under opts.threaded, once the thread is idle). */
static int reserve(struct htc_writer *w, size_t need)
{
	uint8_t *b, *z;
	size_t zcap;

	if (need <= w->cap)
		return 0;
	wait_idle(w);
	zcap = ZSTD_compressBound(need);
	b = realloc(w->buf, need);
	if (!b)
		return -ENOMEM;
	w->buf = b;
	if (w->threaded) {
		b = realloc(w->jbuf, need);
		if (!b)
			return -ENOMEM;
		w->jbuf = b;
	}
	z = realloc(w->zbuf, zcap);
	if (!z)
		return -ENOMEM;
	w->zbuf = z;
	w->cap = need;
	w->zcap = zcap;
	return 0;
}

struct htc_writer *htc_writer_fdopen(int fd, const struct htc_header *hdr,
				     const struct htc_writer_opts *opts, int *err)
{
	struct htc_writer *w;
	off_t pos;
	int level, e;

	if (fd < 0) {
		e = -EBADF;
		goto fail_nofd;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		e = -ENOMEM;
		goto fail;
	}
	w->fd = fd;
	w->frame_bytes = opts && opts->frame_bytes ? opts->frame_bytes : HTC_DEF_FRAME_BYTES;
	if (w->frame_bytes > HTC_MAX_FRAME_USIZE / 2)
		w->frame_bytes = HTC_MAX_FRAME_USIZE / 2;
	w->frame_ns = (uint64_t)(opts && opts->frame_ms ? opts->frame_ms : HTC_DEF_FRAME_MS) * 1000000ull;
	level = opts && opts->level ? opts->level : HTC_DEF_LEVEL;
	w->compact = opts && opts->compact;
	w->delta = opts && opts->delta;
	w->threaded = opts && opts->threaded;
	pos = lseek(fd, 0, SEEK_CUR);
	w->off = pos > 0 ? (uint64_t)pos : 0;	/* pipes have no position */

	w->cctx = ZSTD_createCCtx();
	w->ctab = calloc(1, sizeof(*w->ctab));
	if (!w->cctx || !w->ctab) {
		e = -ENOMEM;
		goto cleanup;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1))) {
		e = -EINVAL;
		goto cleanup;
	}
	/* room for a full frame plus one typical record past the threshold */
	e = reserve(w, (size_t)w->frame_bytes + 64 * 1024);
	if (e)
		goto cleanup;
	e = write_header(w, hdr);
	if (e)
		goto cleanup;
	htc_ctab_reset(w->ctab);
	w->ctab->delta = w->delta;
	if (w->threaded) {
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		if (pthread_create(&w->th, NULL, writer_thread, w)) {
			/* no thread: write in the caller's thread */
			pthread_mutex_destroy(&w->mu);
			pthread_cond_destroy(&w->cv);
		} else {
			w->started = 1;
		}
	}
	return w;

cleanup:
	ZSTD_freeCCtx(w->cctx);
	htc_ctab_free(w->ctab);
	free(w->jbuf);
	free(w->buf);
	free(w->zbuf);
	free(w);
fail:
	close(fd);
fail_nofd:
	if (err)
		*err = e;
	return NULL;
}

struct htc_writer *htc_writer_open(const char *path, const struct htc_header *hdr,
				   const struct htc_writer_opts *opts, int *err)
{
	int fd;

	if (!path) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (err)
			*err = -errno;
		return NULL;
	}
	/* an existing file keeps its mode through O_TRUNC: captures hold
	 * secrets, so make it 0600 whatever it was (not for /dev/null etc.) */
	{
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600)
			fchmod(fd, 0600);
	}
	return htc_writer_fdopen(fd, hdr, opts, err);
}

int htc_writer_append(struct htc_writer *w, const struct htc_record *rec)
{
	int64_t n;
	int compact;
	uint64_t ts;
	int err;

	if (!w)
		return -EINVAL;
	if (werr(w))
		return werr(w);
	if (!rec)
		return -EINVAL;
	/* TLS plaintext is always a TLS_C record (a DATA record would mix it
	 * into the syscalls' stream for 1.1 readers, which skip TLS_C) */
	compact = rec->type == HTC_REC_DATA && (w->compact || (rec->ev.flags & HTC_EVF_TLS));
	/* the record is judged as htc_rec_size() judges it; a compact data
	 * event (DATA_C, TLS_C) then takes at most HTC_EV_C_MAX + cap_len */
	n = compact ? htc_ev_size(&rec->ev) : htc_rec_size(rec);
	if (n < 0)
		return (int)n;
	if (compact)
		n = HTC_REC_HDR_LEN + HTC_EV_C_MAX + (int64_t)rec->ev.cap_len;
	if (w->len + (size_t)n > w->cap) {
		err = close_frame(w);
		if (err)
			return err;
		err = reserve(w, (size_t)n);
		if (err)
			return err;
	}
	if (compact) {
		uint8_t *b = w->buf + w->len;
		int d;
		size_t blen = htc_compact_encode(w->ctab, &rec->ev, b + HTC_REC_HDR_LEN, &d);

		if (rec->ev.flags & HTC_EVF_TLS)
			put_le16(b, d ? HTC_REC_TLS_D : HTC_REC_TLS_C);
		else
			put_le16(b, d ? HTC_REC_DATA_D : HTC_REC_DATA_C);
		put_le16(b + 2, 0);
		put_le32(b + 4, (uint32_t)blen);
		n = HTC_REC_HDR_LEN + (int64_t)blen;
		ts = rec->ev.ts_ns;
	} else {
		ts = htc_rec_encode(rec, w->buf + w->len);
	}
	w->len += (size_t)n;

	if (!w->frame_records++) {
		w->frame_first_ts = w->frame_last_ts = ts;
		w->frame_opened_ns = mono_ns();
		w->since_clock = 0;
	} else {
		if (ts < w->frame_first_ts)
			w->frame_first_ts = ts;
		if (ts > w->frame_last_ts)
			w->frame_last_ts = ts;
	}
	w->st.records++;
	switch (rec->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		w->st.events++;
		w->payload_bytes += rec->ev.cap_len;
		if (w->st.events == 1 || ts < w->first_ts)
			w->first_ts = ts;
		if (ts > w->last_ts)
			w->last_ts = ts;
		break;
	case HTC_REC_LOSS:
		if (rec->loss.reason < HTC_LOSS_SLOTS) {
			/* saturating: a count never wraps to a small number */
			uint64_t *l = &w->st.lost[rec->loss.reason];

			*l = rec->loss.count > UINT64_MAX - *l ? UINT64_MAX : *l + rec->loss.count;
		}
		break;
	}

	/* A frame holds about as many events with deltas as without: its
	 * delta records count the payload bytes they stand for.  Frames of
	 * 5x the events (1 MiB of mostly deltas) made each compression a
	 * burst 5x as long on the drain thread, and httpcap's p99 at the
	 * maximum rate 1.75 ms instead of 1.0 (nginx under wrk, 4 rounds).
	 * A reader rebuilds those payloads in memory: their bytes per frame
	 * are bounded (FORMAT.md 11) whatever frame_bytes is. */
	if (w->len + w->ctab->delta_bytes >= w->frame_bytes ||
	    w->ctab->delta_bytes >= HTC_DELTA_FRAME_BYTES)
		return close_frame(w);
	if (++w->since_clock >= CLOCK_EVERY) {
		w->since_clock = 0;
		if (mono_ns() - w->frame_opened_ns >= w->frame_ns)
			return close_frame(w);
	}
	return 0;
}

int htc_writer_poll(struct htc_writer *w)
{
	if (!w)
		return -EINVAL;
	if (werr(w))
		return werr(w);
	if (w->len && mono_ns() - w->frame_opened_ns >= w->frame_ns)
		return close_frame(w);
	return 0;
}

int htc_writer_flush(struct htc_writer *w)
{
	int err;

	if (!w)
		return -EINVAL;
	err = close_frame(w);
	wait_idle(w);	/* written, not only handed over */
	return err ? err : werr(w);
}

uint64_t htc_writer_size(const struct htc_writer *w)
{
	return w ? __atomic_load_n(&w->off, __ATOMIC_ACQUIRE) : 0;
}

static int write_trailer(struct htc_writer *w, uint64_t end_ns)
{
	size_t n = HTC_TRL_FIXED + (size_t)w->nframes * HTC_TRL_ENTRY;
	uint8_t *b, *t;
	uint32_t i;
	int err;

	if (n > HTC_MAX_TRAILER)
		return HTC_ERR_TOOBIG;	/* > 1.6 M frames: years of capture */
	b = calloc(1, n);
	if (!b)
		return -ENOMEM;
	put_le32(b, HTC_TRL_FIXED);
	put_le32(b + 4, HTC_TRL_ENTRY);
	put_le32(b + 8, w->nframes);
	put_le64(b + 16, w->st.records);
	put_le64(b + 24, w->st.events);
	put_le64(b + 32, w->payload_bytes);
	put_le64(b + 40, w->first_ts);
	put_le64(b + 48, w->last_ts);
	put_le64(b + 56, end_ns ? end_ns : w->last_ts);
	for (i = 0; i < HTC_LOSS_SLOTS; i++)
		put_le64(b + 64 + 8 * i, w->st.lost[i]);
	t = b + HTC_TRL_FIXED;
	for (i = 0; i < w->nframes; i++, t += HTC_TRL_ENTRY) {
		const struct htc_frame_info *fi = &w->frames[i];

		put_le64(t, fi->offset);
		put_le32(t + 8, fi->csize);
		put_le32(t + 12, fi->usize);
		put_le32(t + 16, fi->records);
		put_le32(t + 20, 0);
		put_le64(t + 24, fi->first_ts);
		put_le64(t + 32, fi->last_ts);
	}
	err = write_meta(w, HTC_SKIP_TRAILER, HTC_TRL_MAGIC, b, n);
	free(b);
	return err;
}

int htc_writer_close(struct htc_writer *w, uint64_t end_ns, struct htc_writer_stats *stats)
{
	int err, e;

	if (!w) {
		if (stats)
			memset(stats, 0, sizeof(*stats));
		return 0;
	}
	err = close_frame(w);
	stop_thread(w);	/* after it has written its last frame */
	if (!err)
		err = write_trailer(w, end_ns);
	if (close(w->fd) && !err)
		err = -errno;
	e = w->err;
	if (stats)
		*stats = w->st;
	ZSTD_freeCCtx(w->cctx);
	htc_ctab_free(w->ctab);
	free(w->jbuf);
	free(w->buf);
	free(w->zbuf);
	free(w->frames);
	free(w);
	return e ? e : err;
}
