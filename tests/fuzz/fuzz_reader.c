// SPDX-License-Identifier: MIT
/*
 * fuzz_reader.c - libFuzzer target over the memory reader: open any bytes
 * as an .htc file, read every record, touch every byte each record points
 * to (so ASan sees any view that runs past the input), then the header,
 * trailer and stats.  It must never crash, leak or allocate without bound.
 *
 * Mutated bytes rarely get past zstd's checksums, so each input is read a
 * second way too: wrapped, as a record stream, in a valid header, data
 * frame and trailer (the same bytes as the trailer body), which puts the
 * record and trailer decoders in front of the fuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "htc.h"
#include "../../format/htc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += b[i];
	sink += s;
}

static void on_warn(void *ctx, int err, uint64_t off, const char *msg)
{
	/* every warning says something, with an error code */
	if (!msg[0] || err >= 0)
		abort();
	touch(msg, strlen(msg));
	(*(unsigned *)ctx)++;
}

static void read_file(const uint8_t *data, size_t size);

/* Compress src as one checksummed frame at dst; magicless drops the 4
 * magic bytes as header and trailer bodies do.  Returns the size, 0 on
 * failure. */
static size_t zframe(uint8_t *dst, size_t cap, const void *src, size_t len, int magicless)
{
	static ZSTD_CCtx *c;
	size_t z;

	if (!c) {
		c = ZSTD_createCCtx();
		if (!c)
			abort();
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, -5);	/* speed */
	}
	z = ZSTD_compress2(c, dst, cap, src, len);
	if (ZSTD_isError(z))
		abort();
	if (magicless) {
		memmove(dst, dst + 4, z - 4);
		z -= 4;
	}
	return z;
}

static size_t skippable(uint8_t *dst, size_t cap, uint32_t magic, const char *inner,
			const void *body, size_t len)
{
	size_t z = zframe(dst + 24, cap - 24, body, len, 1);

	put_le32(dst, magic);
	put_le32(dst + 4, (uint32_t)(16 + z));
	memcpy(dst + 8, inner, 8);
	put_le16(dst + 16, HTC_VERSION_MAJOR);
	put_le16(dst + 18, HTC_VERSION_MINOR);
	put_le32(dst + 20, 0);
	return 24 + z;
}

static void read_wrapped(const uint8_t *data, size_t size)
{
	uint8_t hb[HTC_HDR_FIXED + 8] = { 0 };
	size_t cap = 2 * ZSTD_compressBound(size) + 1024, n;
	uint8_t *f = malloc(cap);

	if (!f)
		abort();
	put_le32(hb, HTC_HDR_FIXED);
	n = skippable(f, cap, HTC_SKIP_HEADER, HTC_HDR_MAGIC, hb, sizeof(hb));
	n += zframe(f + n, cap - n, data, size, 0);
	n += skippable(f + n, cap - n, HTC_SKIP_TRAILER, HTC_TRL_MAGIC, data, size);
	read_file(f, n);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_file(data, size);
	if (size <= (1u << 16))
		read_wrapped(data, size);
	return 0;
}

static void read_file(const uint8_t *data, size_t size)
{
	const struct htc_header *h;
	const struct htc_trailer *t;
	struct htc_reader_stats st;
	struct htc_record rec;
	struct htc_reader *r;
	unsigned warns = 0;
	uint64_t n = 0;
	int err, ret;

	r = htc_reader_open_mem(data, size, &err);
	if (!r) {
		if (err >= 0 || !htc_strerror(err)[0])
			abort();
		return;
	}
	htc_reader_set_warn(r, on_warn, &warns);
	h = htc_reader_header(r);
	touch(h->hostname, strlen(h->hostname));
	touch(h->kernel, strlen(h->kernel));
	touch(h->tool_version, strlen(h->tool_version));
	touch(h->options, strlen(h->options));
	while ((ret = htc_reader_next(r, &rec)) == 1) {
		n++;
		switch (rec.type) {
		case HTC_REC_DATA:
		case HTC_REC_CONN:
			touch(rec.ev.payload, rec.ev.cap_len);
			touch(rec.ev.comm, strlen(rec.ev.comm));
			sink += htc_event_type_name(rec.ev.type)[0];
			sink += htc_syscall_name(rec.ev.syscall)[0];
			break;
		case HTC_REC_PROC:
			touch(rec.proc.exe, rec.proc.exe_len);
			touch(rec.proc.cmdline, rec.proc.cmdline_len);
			touch(rec.proc.cgroup, rec.proc.cgroup_len);
			touch(rec.proc.container, rec.proc.container_len);
			touch(rec.proc.comm, strlen(rec.proc.comm));
			break;
		case HTC_REC_LOSS:
			sink += htc_loss_reason_name(rec.loss.reason)[0];
			break;
		case HTC_REC_OPTIONS:
			touch(rec.opt.text, rec.opt.text_len);
			break;
		default:
			abort();	/* unknown types are skipped, never returned */
		}
	}
	if (ret != 0)
		abort();	/* memory input: no I/O error possible */
	t = htc_reader_trailer(r);
	if (t)
		touch(t->frames, (size_t)t->nframes * sizeof(*t->frames));
	htc_reader_stats(r, &st);
	if (st.records != n || st.stop_offset > size)
		abort();
	if ((st.frames_bad || st.truncated) && !warns)
		abort();	/* every problem is reported */
	htc_reader_close(r);
}
