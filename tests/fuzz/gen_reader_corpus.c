// SPDX-License-Identifier: MIT
/*
 * gen_reader_corpus.c - writes the seed corpus of fuzz_reader into DIR:
 * small valid files made with the writer (every record type, many frames,
 * no records), and broken ones derived from them (truncated, bit-flipped,
 * future versions, hostile lengths, garbage between frames), and a raw
 * record stream for the target's wrapped second pass.  The output
 * is committed in tests/fuzz/corpus/reader/; rerun with
 * `make fuzz-reader-corpus` after a format change.
 *
 * It also writes the few seeds of fuzz_roundtrip into ROUNDTRIP_DIR.
 *
 *   gen_reader_corpus READER_DIR ROUNDTRIP_DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "htc.h"
#include "../../format/htc_internal.h"

static const char *dir;
static int g_delta;	/* make() writes with opts.compact and opts.delta (1.3) */

static int put(const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "gen_reader_corpus: cannot write '%s': %s\n", path, strerror(errno));
		exit(1);
	}
	return 0;
}

/* Write records with the library into a temp file, return its bytes. */
static uint8_t *make(const struct htc_record *recs, int n, uint32_t frame_bytes, size_t *len)
{
	struct htc_writer_opts o = { .frame_bytes = frame_bytes, .compact = g_delta,
				     .delta = g_delta };
	char tmp[] = "/tmp/gen_reader_corpus.XXXXXX";
	struct htc_header h = { .snaplen = 256, .realtime_offset_ns = 1764100000000000000ll };
	struct htc_writer *w;
	uint8_t *buf;
	struct stat st;
	FILE *f;
	int fd, err, i;

	strcpy(h.hostname, "fuzz");
	strcpy(h.kernel, "6.18.0");
	strcpy(h.tool_version, "0.1.0");
	strcpy(h.options, "snaplen=256\n");
	fd = mkstemp(tmp);
	if (fd < 0)
		exit(1);
	w = htc_writer_fdopen(fd, &h, &o, &err);
	if (!w)
		exit(1);
	for (i = 0; i < n; i++)
		if (htc_writer_append(w, &recs[i]))
			exit(1);
	if (htc_writer_close(w, 0, NULL))
		exit(1);
	f = fopen(tmp, "rb");
	if (!f || fstat(fileno(f), &st))
		exit(1);
	buf = malloc((size_t)st.st_size + 4096);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	unlink(tmp);
	return buf;
}

static void event(struct htc_record *r, unsigned i, const char *payload)
{
	memset(r, 0, sizeof(*r));
	r->type = i % 5 == 0 ? HTC_REC_CONN : HTC_REC_DATA;
	r->ev.type = i % 5 == 0 ? HTC_EV_ACCEPT : (i & 1 ? HTC_EV_WRITE : HTC_EV_READ);
	r->ev.syscall = (uint8_t)(1 + i % 16);
	r->ev.pid = 100;
	r->ev.tid = 100 + i % 3;
	r->ev.fd = 5;
	r->ev.ts_ns = 1000 + i;
	r->ev.conn_id = 1 + i % 2;
	strcpy(r->ev.comm, "srv");
	r->ev.ep.family = i % 2 ? HTC_AF_INET6 : HTC_AF_INET;
	r->ev.ep.lport = 80;
	r->ev.ep.rport = 5000;
	r->ev.ret = (int64_t)strlen(payload);
	r->ev.cap_len = (uint32_t)strlen(payload);
	r->ev.payload = (const uint8_t *)payload;
}

/* A hand-made data frame of raw record bytes. */
static size_t frame(uint8_t *dst, const uint8_t *content, size_t len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t z;

	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	z = ZSTD_compress2(c, dst, ZSTD_compressBound(len), content, len);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(z))
		exit(1);
	return z;
}

int main(int argc, char **argv)
{
	static const char *pl[] = {
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"",
		"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	};
	struct htc_record recs[64];
	uint8_t *b, *f, raw[512];
	size_t len, hlen, n;
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_reader_corpus READER_DIR ROUNDTRIP_DIR\n");
		return 2;
	}
	/* fuzz_roundtrip's seeds: its input is a list of field bytes, so a
	 * few byte patterns reach every record type */
	dir = argv[2];
	for (i = 0; i < 4; i++) {
		uint8_t seed[600];

		for (size_t k = 0; k < sizeof(seed); k++)
			seed[k] = (uint8_t)(k * (2 * i + 1) + i);
		seed[0] = 0;	/* small frames */
		snprintf((char *)raw, sizeof(raw), "seed%d.bin", i);
		put((const char *)raw, seed, 150 * (size_t)(i + 1));
	}
	dir = argv[1];

	/* every record type */
	for (i = 0; i < 6; i++)
		event(&recs[i], (unsigned)i, pl[i % 4]);
	memset(&recs[6], 0, sizeof(recs[6]));
	recs[6].type = HTC_REC_PROC;
	recs[6].proc.pid = 100;
	strcpy(recs[6].proc.comm, "srv");
	recs[6].proc.exe = "/usr/bin/srv";
	recs[6].proc.exe_len = 12;
	recs[6].proc.cmdline = "srv\0-p\0" "80";
	recs[6].proc.cmdline_len = 10;
	recs[6].proc.cgroup = "/x";
	recs[6].proc.cgroup_len = 2;
	memset(&recs[7], 0, sizeof(recs[7]));
	recs[7].type = HTC_REC_LOSS;
	recs[7].loss.reason = HTC_LOSS_MAP_FULL;
	recs[7].loss.count = 3;
	memset(&recs[8], 0, sizeof(recs[8]));
	recs[8].type = HTC_REC_OPTIONS;
	recs[8].opt.text = "snaplen=256\n";
	recs[8].opt.text_len = 12;
	b = make(recs, 9, 600, &len);
	put("valid_all_types.htc", b, len);
	/* the same records as a raw stream: fuzz_reader's second pass wraps
	 * its input in frames, so this seeds the record decoders directly */
	{
		uint8_t rs[4096];
		size_t m = 0;

		for (i = 0; i < 9; i++) {
			int64_t sz = htc_rec_size(&recs[i]);

			if (sz < 0 || m + (size_t)sz > sizeof(rs))
				exit(1);
			htc_rec_encode(&recs[i], rs + m);
			m += (size_t)sz;
		}
		put("records_all_types.bin", rs, m);
	}
	put("trunc_in_frame.htc", b, len - len / 3);
	put("trunc_in_trailer.htc", b, len - 7);
	hlen = 8 + get_le32(b + 4);
	put("trunc_in_header.htc", b, hlen - 5);
	b[hlen + 20] ^= 0x10;
	put("bitflip_frame.htc", b, len);
	b[hlen + 20] ^= 0x10;
	b[len - 12] ^= 0x01;
	put("bitflip_trailer.htc", b, len);
	b[len - 12] ^= 0x01;
	put_le16(b + 16, 2);
	put("future_major.htc", b, len);
	put_le16(b + 16, 1);
	b[0] ^= 0xff;
	put("bad_magic.htc", b, len);
	b[0] ^= 0xff;

	/* many small frames */
	for (i = 0; i < 40; i++)
		event(&recs[i], (unsigned)i, pl[i % 4]);
	free(b);
	b = make(recs, 40, 256, &len);
	put("valid_multiframe.htc", b, len);

	/* keep-alive traffic with payload deltas (DATA_D, TLS_D: format
	 * 1.3): requests repeated, responses differing in a few bytes, on
	 * two connections and in plaintext too; and its first frame's
	 * records as a raw stream, for the wrapped pass */
	{
		static const char *ka[] = {
			"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
			"HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 05:00:01 GMT\r\n\r\nok",
			"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
			"HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 05:00:02 GMT\r\n\r\nok",
		};

		for (i = 0; i < 40; i++) {
			event(&recs[i], (unsigned)i, ka[i % 4]);
			recs[i].type = HTC_REC_DATA;
			recs[i].ev.type = i & 1 ? HTC_EV_WRITE : HTC_EV_READ;
			recs[i].ev.tid = 100;
			recs[i].ev.ep.family = HTC_AF_INET;
			recs[i].ev.conn_id = 1 + (i / 4) % 2;
			if (i >= 24)
				recs[i].ev.flags = HTC_EVF_TLS;
		}
		free(b);
		g_delta = 1;
		b = make(recs, 40, 1500, &len);
		g_delta = 0;
		put("valid_delta.htc", b, len);
		hlen = 8 + get_le32(b + 4);
		if (get_le32(b + hlen) != HTC_ZSTD_MAGIC)
			exit(1);
		{
			size_t z = ZSTD_findFrameCompressedSize(b + hlen, len - hlen);
			uint8_t rs[4096];
			size_t d = ZSTD_decompress(rs, sizeof(rs), b + hlen, z);

			if (ZSTD_isError(z) || ZSTD_isError(d))
				exit(1);
			put("records_delta.bin", rs, d);
		}
	}

	/* no records */
	free(b);
	b = make(recs, 0, 0, &len);
	put("valid_empty.htc", b, len);

	/* hand-made frames behind a real header (b holds one) */
	hlen = 8 + get_le32(b + 4);
	f = malloc(hlen + 8192);
	memcpy(f, b, hlen);
	put_le16(f + 18, 9);	/* a future minor */
	n = 0;
	put_le16(raw + n, 99);	/* unknown record type */
	put_le16(raw + n + 2, 0);
	put_le32(raw + n + 4, 4);
	memcpy(raw + n + 8, "abcd", 4);
	n += 12;
	put_le16(raw + n, HTC_REC_LOSS);	/* loss with a longer body */
	put_le16(raw + n + 2, 0);
	put_le32(raw + n + 4, HTC_LOSS_FIXED + 8);
	memset(raw + n + 8, 1, HTC_LOSS_FIXED + 8);
	n += 8 + HTC_LOSS_FIXED + 8;
	len = hlen + frame(f + hlen, raw, n);
	put("future_minor_unknown_record.htc", f, len);

	put_le32(raw + 4, 0xffffffffu);	/* absurd record length */
	len = hlen + frame(f + hlen, raw, n);
	put("hostile_record_length.htc", f, len);

	memset(f + hlen, 0x41, 300);	/* garbage, then a frame */
	len = hlen + 300 + frame(f + hlen + 300, raw, n);
	put("garbage_between_frames.htc", f, len);

	n = hlen;	/* declared content size 1 GiB */
	put_le32(f + n, HTC_ZSTD_MAGIC);
	f[n + 4] = 0xE0;
	put_le64(f + n + 5, 1ull << 30);
	put_le32(f + n + 13, 1 | (1 << 1) | (100 << 3));
	put("hostile_content_size.htc", f, n + 17);

	put_le32(f + hlen, 0x184D2A5E);	/* someone else's skippable frame */
	put_le32(f + hlen + 4, 0xfffffff0u);
	put("skippable_4gib.htc", f, hlen + 64);
	free(f);
	free(b);
	return 0;
}
