// SPDX-License-Identifier: MIT
/*
 * fuzz_roundtrip.c - libFuzzer target over writer and reader together:
 * the input describes records (type, every field, payload and string
 * lengths), they are written with small frames into a memory file, read
 * back from memory, and every field must come back as written, with the
 * trailer's counts matching.  It finds asymmetries between the encoder and
 * decoder that the decode-only target cannot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS 128

/* A cursor over the input that yields zeros once it runs out. */
struct in {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (in->left ? *in->p : 0);
		if (in->left) {
			in->p++;
			in->left--;
		}
	}
	return v;
}

/* A view of up to max bytes of the input, for payloads and strings. */
static const uint8_t *view(struct in *in, uint32_t *len, uint32_t max)
{
	uint32_t n = (uint32_t)take(in, 2) % (max + 1);
	const uint8_t *p = in->p;

	if (n > in->left)
		n = (uint32_t)in->left;
	in->p += n;
	in->left -= n;
	*len = n;
	return p;
}

static void fill_comm(struct in *in, char *comm)
{
	for (int i = 0; i < HTC_COMM_LEN; i++)
		comm[i] = (char)take(in, 1);
}

static void get_rec(struct in *in, struct htc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = (uint16_t)(1 + take(in, 1) % 5);
	switch (r->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		r->ev.type = (uint8_t)take(in, 1);
		r->ev.syscall = (uint8_t)take(in, 1);
		r->ev.flags = (uint16_t)take(in, 2);
		r->ev.pid = (uint32_t)take(in, 4);
		r->ev.tid = (uint32_t)take(in, 4);
		r->ev.fd = (int32_t)take(in, 4);
		r->ev.ts_ns = take(in, 8);
		r->ev.dur_ns = take(in, 8);
		r->ev.conn_id = take(in, 8);
		fill_comm(in, r->ev.comm);
		r->ev.ep.family = (uint8_t)take(in, 1);
		r->ev.ep.role = (uint8_t)take(in, 1);
		r->ev.ep.lport = (uint16_t)take(in, 2);
		r->ev.ep.rport = (uint16_t)take(in, 2);
		for (int i = 0; i < 16; i++)
			r->ev.ep.laddr[i] = (uint8_t)take(in, 1);
		for (int i = 0; i < 16; i++)
			r->ev.ep.raddr[i] = (uint8_t)take(in, 1);
		r->ev.ret = (int64_t)take(in, 8);
		r->ev.stream_off = take(in, 8);
		r->ev.stream_off2 = take(in, 8);
		r->ev.tcp_seq = (uint32_t)take(in, 4);
		r->ev.payload = view(in, &r->ev.cap_len, 4096);
		break;
	case HTC_REC_PROC:
		r->proc.ts_ns = take(in, 8);
		r->proc.pid = (uint32_t)take(in, 4);
		r->proc.ppid = (uint32_t)take(in, 4);
		r->proc.uid = (uint32_t)take(in, 4);
		r->proc.gid = (uint32_t)take(in, 4);
		fill_comm(in, r->proc.comm);
		r->proc.exe = (const char *)view(in, &r->proc.exe_len, 4096);
		r->proc.cmdline = (const char *)view(in, &r->proc.cmdline_len, 4096);
		r->proc.cgroup = (const char *)view(in, &r->proc.cgroup_len, 4096);
		r->proc.container = (const char *)view(in, &r->proc.container_len, 4096);
		break;
	case HTC_REC_LOSS:
		r->loss.ts_ns = take(in, 8);
		r->loss.reason = (uint32_t)take(in, 4);
		r->loss.count = take(in, 8);
		break;
	case HTC_REC_OPTIONS:
		r->opt.ts_ns = take(in, 8);
		r->opt.snaplen = (uint32_t)take(in, 4);
		r->opt.flags = (uint32_t)take(in, 4);
		r->opt.text = (const char *)view(in, &r->opt.text_len, 4096);
		break;
	}
}

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void same_comm(const char *got, const char *want)
{
	/* written up to the first NUL, at most 15 bytes */
	CHECK(strncmp(got, want, HTC_COMM_LEN - 1) == 0);
	CHECK(strlen(got) == strnlen(want, HTC_COMM_LEN - 1));
}

static void same_bytes(const void *a, uint32_t alen, const void *b, uint32_t blen)
{
	CHECK(alen == blen);
	CHECK(!alen || memcmp(a, b, alen) == 0);
}

static void check(const struct htc_record *g, const struct htc_record *w)
{
	CHECK(g->type == w->type);
	switch (w->type) {
	case HTC_REC_DATA:
	case HTC_REC_CONN:
		CHECK(g->ev.type == w->ev.type && g->ev.syscall == w->ev.syscall);
		/* TLS only on TLS plaintext, which is a DATA record: a reader
		 * clears it on every other record (FORMAT.md 6.8) */
		CHECK(g->ev.flags == (w->type == HTC_REC_CONN ? w->ev.flags & ~HTC_EVF_TLS
							      : w->ev.flags));
		CHECK(g->ev.pid == w->ev.pid);
		CHECK(g->ev.tid == w->ev.tid && g->ev.fd == w->ev.fd);
		CHECK(g->ev.ts_ns == w->ev.ts_ns && g->ev.dur_ns == w->ev.dur_ns);
		CHECK(g->ev.conn_id == w->ev.conn_id && g->ev.ret == w->ev.ret);
		CHECK(g->ev.stream_off == w->ev.stream_off);
		CHECK(g->ev.stream_off2 == w->ev.stream_off2);
		/* a sequence number only with its flag (format 1.2) */
		CHECK(g->ev.tcp_seq == (w->ev.flags & HTC_EVF_SEQ ? w->ev.tcp_seq : 0));
		CHECK(memcmp(&g->ev.ep, &w->ev.ep, sizeof(w->ev.ep)) == 0);
		same_comm(g->ev.comm, w->ev.comm);
		same_bytes(g->ev.payload, g->ev.cap_len, w->ev.payload, w->ev.cap_len);
		break;
	case HTC_REC_PROC:
		CHECK(g->proc.ts_ns == w->proc.ts_ns && g->proc.pid == w->proc.pid);
		CHECK(g->proc.ppid == w->proc.ppid && g->proc.uid == w->proc.uid);
		CHECK(g->proc.gid == w->proc.gid);
		same_comm(g->proc.comm, w->proc.comm);
		same_bytes(g->proc.exe, g->proc.exe_len, w->proc.exe, w->proc.exe_len);
		same_bytes(g->proc.cmdline, g->proc.cmdline_len, w->proc.cmdline, w->proc.cmdline_len);
		same_bytes(g->proc.cgroup, g->proc.cgroup_len, w->proc.cgroup, w->proc.cgroup_len);
		same_bytes(g->proc.container, g->proc.container_len, w->proc.container,
			   w->proc.container_len);
		break;
	case HTC_REC_LOSS:
		CHECK(g->loss.ts_ns == w->loss.ts_ns && g->loss.reason == w->loss.reason);
		CHECK(g->loss.count == w->loss.count);
		break;
	case HTC_REC_OPTIONS:
		CHECK(g->opt.ts_ns == w->opt.ts_ns && g->opt.snaplen == w->opt.snaplen);
		CHECK(g->opt.flags == w->opt.flags);
		same_bytes(g->opt.text, g->opt.text_len, w->opt.text, w->opt.text_len);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct htc_record recs[MAX_RECS];
	struct in in = { data, size };
	struct htc_writer_opts o = { 0 };
	struct htc_writer_stats ws;
	struct htc_writer *w;
	struct htc_reader *r;
	struct htc_record got;
	uint64_t lost[HTC_LOSS_SLOTS] = { 0 }, events = 0;
	const struct htc_trailer *t;
	struct stat st;
	unsigned n = 0, i;
	uint8_t *file;
	int fd, err;

	o.frame_bytes = 64 + (uint32_t)take(&in, 2);	/* many small frames */
	{
		uint64_t lv = take(&in, 1);

		o.level = (int)(lv % 8) - 4;
		o.compact = (lv >> 3) & 1;	/* data events as DATA_C (1.1) */
		o.delta = (lv >> 4) & 1;	/* payload deltas, DATA_D (1.3) */
	}
	while (in.left && n < MAX_RECS) {
		get_rec(&in, &recs[n]);
		/* two frames of one capture never repeat each other (each has
		 * its own times), and a reader skips a frame that does
		 * (FORMAT.md 12, rule 6): records of equal bytes in frames of
		 * equal bytes (found with all-zero input) are not a capture */
		switch (recs[n].type) {
		case HTC_REC_DATA:
		case HTC_REC_CONN:
			recs[n].ev.ts_ns += n;
			break;
		case HTC_REC_PROC:
			recs[n].proc.ts_ns += n;
			break;
		case HTC_REC_LOSS:
			recs[n].loss.ts_ns += n;
			break;
		case HTC_REC_OPTIONS:
			recs[n].opt.ts_ns += n;
			break;
		}
		if (recs[n].type == HTC_REC_LOSS && recs[n].loss.reason < HTC_LOSS_SLOTS) {
			/* the writer's sums saturate, never wrap */
			uint64_t *l = &lost[recs[n].loss.reason];

			*l = recs[n].loss.count > UINT64_MAX - *l ? UINT64_MAX : *l + recs[n].loss.count;
		}
		events += recs[n].type <= HTC_REC_CONN;
		n++;
	}

	fd = memfd_create("roundtrip", MFD_CLOEXEC);
	CHECK(fd >= 0);
	w = htc_writer_fdopen(dup(fd), NULL, &o, &err);
	CHECK(w);
	for (i = 0; i < n; i++)
		CHECK(htc_writer_append(w, &recs[i]) == 0);
	CHECK(htc_writer_close(w, 7, &ws) == 0);
	CHECK(ws.records == n && ws.events == events);
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == ws.bytes_out);
	file = malloc((size_t)st.st_size);
	CHECK(file && pread(fd, file, (size_t)st.st_size, 0) == st.st_size);
	close(fd);

	r = htc_reader_open_mem(file, (size_t)st.st_size, &err);
	CHECK(r);
	for (i = 0; (err = htc_reader_next(r, &got)) == 1; i++) {
		CHECK(i < n);
		check(&got, &recs[i]);
	}
	CHECK(err == 0 && i == n);
	t = htc_reader_trailer(r);
	CHECK(t && t->records == n && t->events == events && t->end_ns == 7);
	CHECK(t->nframes == ws.frames);
	CHECK(memcmp(t->lost, lost, sizeof(lost)) == 0);
	htc_reader_close(r);
	free(file);
	return 0;
}
