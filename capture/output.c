// SPDX-License-Identifier: MIT
/*
 * output.c - the capture's output files: one htc_writer at a time, rotated
 * as tcpdump does.  -C SIZE starts a new file when the current one passes
 * SIZE million bytes (names FILE, FILE1, FILE2, ...), -G SECONDS every
 * SECONDS (FILE is a strftime pattern), -W N keeps a ring of N files
 * (FILE0..FILE{N-1}, with -C) or stops after N files (with -G alone).
 *
 * Files are created relative to a directory fd opened at start, with mode
 * 0600, so that after -Z drops root the rotation still creates files in the
 * same directory (which must then be writable by that user: checked at
 * start, not at the first rotation an hour later).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

struct output {
	struct htc_header hdr;
	struct htc_writer_opts wopts;
	struct htc_writer *w;
	int dirfd;
	bool is_stdout;
	char dir[PATH_MAX];
	char pattern[PATH_MAX];		/* base name, strftime pattern under -G */
	char cur[2 * PATH_MAX + 2];	/* current file, as shown to the user */
	uint64_t rotate_bytes;
	uint32_t rotate_secs, nfiles;
	unsigned nopened;		/* files opened so far */
	unsigned cidx;			/* -C index within the current -G period */
	uint64_t period_start_ns;
	long uid, gid;
	bool done;
	struct htc_writer_stats total;
};

static unsigned digits(unsigned n)
{
	unsigned d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* The name of the next file, as tcpdump forms it. */
static int next_name(struct output *out, char *name, size_t len)
{
	char base[PATH_MAX];

	if (out->rotate_secs) {
		time_t now = time(NULL);
		struct tm tm;

		/* the user's -w is the pattern, as in tcpdump -G */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (!localtime_r(&now, &tm) || !strftime(base, sizeof(base), out->pattern, &tm))
			return -ENAMETOOLONG;
#pragma GCC diagnostic pop
	} else {
		snprintf(base, sizeof(base), "%s", out->pattern);
	}
	if (out->rotate_bytes && out->nfiles) {
		if (snprintf(name, len, "%s%0*u", base, (int)digits(out->nfiles - 1),
			     out->cidx % out->nfiles) >= (int)len)
			return -ENAMETOOLONG;
	} else if (out->rotate_bytes && out->cidx) {
		if (snprintf(name, len, "%s%u", base, out->cidx) >= (int)len)
			return -ENAMETOOLONG;
	} else if (snprintf(name, len, "%s", base) >= (int)len) {
		return -ENAMETOOLONG;
	}
	return 0;
}

static int open_next(struct output *out, uint64_t now_ns)
{
	char name[PATH_MAX];
	int fd, err;

	if (out->is_stdout) {
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		snprintf(out->cur, sizeof(out->cur), "-");
	} else {
		err = next_name(out, name, sizeof(name));
		if (err)
			return err;
		if (strcmp(out->dir, ".") && strcmp(out->dir, "/"))
			snprintf(out->cur, sizeof(out->cur), "%s/%s", out->dir, name);
		else if (!strcmp(out->dir, "/"))
			snprintf(out->cur, sizeof(out->cur), "/%s", name);
		else
			snprintf(out->cur, sizeof(out->cur), "%s", name);
		fd = openat(out->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			    0600);
		if (fd < 0)
			return -errno;
		/* an existing file keeps its mode on O_TRUNC: captures are 0600 */
		if (fchmod(fd, 0600) < 0 ||
		    (out->uid >= 0 && geteuid() == 0 && fchown(fd, out->uid, out->gid) < 0)) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	out->hdr.start_ns = now_ns;
	/* numbered, so that a file missing between two others is seen */
	out->hdr.file_seq = out->nopened + 1;
	out->w = htc_writer_fdopen(fd, &out->hdr, &out->wopts, &err);
	if (!out->w)
		return err ? err : -EIO;
	out->nopened++;
	return 0;
}

/* How httpcap writes its files (also what bench_pipeline measures). */
void output_writer_opts(struct htc_writer_opts *w)
{
	memset(w, 0, sizeof(*w));
	/* data events as DATA_C (format 1.1): about a third of the bytes
	 * to compress and to store */
	w->compact = 1;
	/* zstd's fast mode -2: on the bench's nginx traffic (a 263 MB
	 * capture, `zstd -b1 --fast=N`) 2.6 GB/s against level 1's 1.76 GB/s,
	 * for +0.6% in size (-4: no faster, +25%); compression had been a
	 * quarter of httpcap's CPU under load */
	w->level = -2;
	/* payloads as deltas against the previous one of their connection
	 * and direction (DATA_D, format 1.3): keep-alive messages repeat
	 * their predecessor, and zstd's cost follows the bytes it is fed.
	 * bench_pipeline on the bench's nginx capture, under callgrind:
	 * 2,323 -> 2,181 instructions per event (zstd 671 -> 447, encoding
	 * 259 -> 334), file 14% smaller */
	w->delta = 1;
	/* frames of 256 KiB rather than libhtc's 1 MiB: each is compressed in
	 * one go on the drain thread, and a burst of ~0.4 ms (1 MiB at zstd
	 * -2) delays the traced programs' wakeups for its whole length
	 * (sched.c).  nginx at half load, interleaved with the same build
	 * with 1 MiB frames, two runs of 10 rounds: p99 1.21 -> 1.14 ms and
	 * 1.26 -> 1.20 ms (untraced 0.88 and 1.00; 512 KiB: 1.26).  The
	 * cost, on the bench's capture (bench_pipeline): 121.5 -> 126.2 ns
	 * per event, and a file 13.5% larger (5.37 -> 6.10 MB; each frame
	 * starts zstd afresh), still half of tcpdump's pcap | zstd -1 */
	w->frame_bytes = 256 << 10;
	/* Not wopts.threaded (zstd and write() in a thread of the writer's
	 * own): on a 2-core VM under nginx + wrk it cost 5-9% more httpcap
	 * CPU per request (1093/1147/1113 -> 1194/1183/1184 ns) and dropped
	 * nothing less (no drops either way up to the highest rate). */
}

struct output *output_open(const struct cap_opts *o, const struct htc_header *hdr,
			   long uid, long gid, int *err)
{
	struct output *out = calloc(1, sizeof(*out));
	char tmp[PATH_MAX];

	if (!out) {
		*err = -ENOMEM;
		return NULL;
	}
	out->hdr = *hdr;
	out->dirfd = -1;
	out->uid = uid;
	out->gid = gid;
	out->rotate_bytes = o->rotate_bytes;
	out->rotate_secs = o->rotate_secs;
	out->nfiles = o->nfiles;
	out->is_stdout = !strcmp(o->wfile, "-");
	output_writer_opts(&out->wopts);
	/* frames small enough that -C sizes are kept to within a few percent
	 * (the file size only grows when a frame is written) */
	if (o->rotate_bytes && o->rotate_bytes / 8 < out->wopts.frame_bytes)
		out->wopts.frame_bytes = o->rotate_bytes / 8 > 16384 ? o->rotate_bytes / 8 : 16384;
	if (!out->is_stdout) {
		if (strlen(o->wfile) >= sizeof(tmp)) {
			*err = -ENAMETOOLONG;
			goto fail;
		}
		snprintf(tmp, sizeof(tmp), "%s", o->wfile);
		snprintf(out->dir, sizeof(out->dir), "%s", dirname(tmp));
		snprintf(tmp, sizeof(tmp), "%s", o->wfile);
		snprintf(out->pattern, sizeof(out->pattern), "%s", basename(tmp));
		out->dirfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (out->dirfd < 0) {
			*err = -errno;
			snprintf(out->cur, sizeof(out->cur), "%s", out->dir);
			goto fail;
		}
	}
	out->period_start_ns = cap_mono_ns();
	*err = open_next(out, out->period_start_ns);
	if (*err)
		goto fail;
	return out;
fail:
	if (out->dirfd >= 0)
		close(out->dirfd);
	free(out);
	return NULL;
}

const char *output_path(const struct output *out)
{
	return out->cur;
}

bool output_done(const struct output *out)
{
	return out->done;
}

int output_check_dir_writable(const struct output *out)
{
	if (out->is_stdout || (!out->rotate_bytes && !out->rotate_secs))
		return 0;
	if (faccessat(out->dirfd, ".", W_OK | X_OK, AT_EACCESS) < 0)
		return -errno;
	return 0;
}

static void add_stats(struct htc_writer_stats *t, const struct htc_writer_stats *s)
{
	t->records += s->records;
	t->events += s->events;
	t->frames += s->frames;
	t->bytes_in += s->bytes_in;
	t->bytes_out += s->bytes_out;
	for (int i = 0; i < HTC_LOSS_SLOTS; i++)
		t->lost[i] += s->lost[i];
}

static int rotate(struct output *out, uint64_t now_ns, bool new_period, bool *rotated)
{
	struct htc_writer_stats st = {};
	int err;

	err = htc_writer_close(out->w, now_ns, &st);
	out->w = NULL;
	add_stats(&out->total, &st);
	if (err)
		return err;
	if (new_period) {
		out->period_start_ns = now_ns;
		out->cidx = 0;
		/* -G with -W and no -C: stop after N files */
		if (out->nfiles && !out->rotate_bytes && out->nopened >= out->nfiles) {
			out->done = true;
			return 0;
		}
	} else {
		out->cidx++;
	}
	err = open_next(out, now_ns);
	if (err)
		return err;
	*rotated = true;
	return 0;
}

int output_tick(struct output *out, uint64_t now_ns, bool *rotated)
{
	*rotated = false;
	if (out->done)
		return 0;
	if (!out->w)
		return -EBADF;
	/* now_ns may be an event's time, a little before the period began */
	if (out->rotate_secs && now_ns > out->period_start_ns &&
	    now_ns - out->period_start_ns >= out->rotate_secs * 1000000000ULL)
		return rotate(out, now_ns, true, rotated);
	if (out->rotate_bytes && htc_writer_size(out->w) >= out->rotate_bytes)
		return rotate(out, now_ns, false, rotated);
	return 0;
}

int output_append(struct output *out, const struct htc_record *rec)
{
	if (out->done)
		return 0;
	if (!out->w)
		return -EBADF;
	return htc_writer_append(out->w, rec);
}

int output_flush(struct output *out)
{
	return out->w ? htc_writer_flush(out->w) : 0;
}

int output_close(struct output *out, uint64_t end_ns, struct htc_writer_stats *stats,
		 unsigned *nfiles)
{
	struct htc_writer_stats st = {};
	int err = 0;

	if (!out)
		return 0;
	if (out->w) {
		err = htc_writer_close(out->w, end_ns, &st);
		add_stats(&out->total, &st);
	}
	if (stats)
		*stats = out->total;
	if (nfiles)
		*nfiles = out->nopened;
	if (out->dirfd >= 0)
		close(out->dirfd);
	free(out);
	return err;
}
