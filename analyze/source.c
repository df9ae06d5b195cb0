/* SPDX-License-Identifier: MIT */
/*
 * source.c - htc_source: several capture files read as one stream in
 * wall-clock order (ts_ns + the file's realtime_offset_ns), so the files of
 * several hosts feed one engine on one timeline.
 *
 * A k-way merge with one record of lookahead per file: the record returned
 * is the earliest lookahead, and its reader is only advanced on the next
 * call, so its payload pointers stay valid without a copy.  Files are few
 * (one per host), so the minimum is found by a linear scan rather than a
 * heap.  Disorder inside one file (ring-buffer reordering across CPUs) is
 * passed through as is: the engine tolerates it.
 */
#include "htc_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct src_file {
	struct htc_reader *r;
	int64_t offset;
	uint32_t file_idx;	/* as registered with the engine */
	int have;		/* rec holds the lookahead */
	int done;
	struct htc_record rec;
	uint64_t key;		/* wall-clock ns of rec */
	uint64_t size;		/* bytes, 0 when unknown (stdin) */
};

struct htc_source {
	struct src_file *f;
	size_t n;
	ssize_t last;		/* file whose record was returned last, -1 none */
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

void htc_source_close(struct htc_source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		htc_reader_close(s->f[i].r);
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
	s->last = -1;
	for (size_t i = 0; i < npaths; i++) {
		struct src_file *f = &s->f[i];
		const struct htc_header *hdr;
		struct stat st;

		f->r = htc_reader_open(paths[i], &ret);
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

/* Make sure file i has its lookahead; < 0 on error. */
static int fill(struct src_file *f)
{
	int r;

	if (f->have || f->done)
		return 0;
	r = htc_reader_next(f->r, &f->rec);
	if (r < 0)
		return r;
	if (r == 0) {
		f->done = 1;
		return 0;
	}
	f->have = 1;
	f->key = (uint64_t)((int64_t)rec_ts(&f->rec) + f->offset);
	return 0;
}

int htc_source_next(struct htc_source *s, struct htc_record *rec, uint32_t *file_idx)
{
	ssize_t best = -1;

	if (s->last >= 0)
		s->f[s->last].have = 0;	/* it was handed out: move on */
	s->last = -1;
	for (size_t i = 0; i < s->n; i++) {
		int r = fill(&s->f[i]);

		if (r < 0)
			return r;
		/* ties go to the lower file index: a stable order */
		if (s->f[i].have && (best < 0 || s->f[i].key < s->f[best].key))
			best = (ssize_t)i;
	}
	if (best < 0)
		return 0;
	*rec = s->f[best].rec;
	if (file_idx)
		*file_idx = s->f[best].file_idx;
	s->last = best;
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
			d += s->f[i].done ? s->f[i].size
					  : (st.stop_offset < s->f[i].size ? st.stop_offset : s->f[i].size);
		}
	}
	if (done)
		*done = d;
	if (total)
		*total = t;
}
