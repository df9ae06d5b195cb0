// SPDX-License-Identifier: MIT
/*
 * test_format.c - cmocka tests of libhtc: round trips of every record type
 * and field, a multi-frame file truncated at every byte offset and
 * bit-flipped at every byte, hostile headers, frames and records (built by
 * hand here, as the spec in docs/FORMAT.md describes them), write errors,
 * file mode and zstdcat compatibility.  Inputs handed to the memory reader
 * end just before a PROT_NONE page, so a one-byte over-read crashes.
 * The same file is linked against the ASan+UBSan build of the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#include "htc.h"
#include "../../format/htc_internal.h"

/* ---- helpers ---- */

struct buf {
	uint8_t *p;
	size_t len;
};

/* Copy data so that it ends right before an inaccessible page. */
struct guarded {
	uint8_t *map;
	size_t maplen;
	uint8_t *p;
};

static struct guarded guard(const void *data, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + pg - 1) / pg + 1;
	struct guarded g;

	g.maplen = pages * pg;
	g.map = mmap(NULL, g.maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g.map != MAP_FAILED);
	assert_int_equal(mprotect(g.map + (pages - 1) * pg, pg, PROT_NONE), 0);
	g.p = g.map + (pages - 1) * pg - len;
	if (len)
		memcpy(g.p, data, len);
	return g;
}

static void unguard(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

static char tmpdir[] = "/tmp/test_format.XXXXXX";

static char *tmp_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static struct buf slurp(const char *path)
{
	struct buf b = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b.len = (size_t)st.st_size;
	b.p = malloc(b.len + 1);
	assert_non_null(b.p);
	assert_int_equal(read(fd, b.p, b.len), (ssize_t)b.len);
	close(fd);
	return b;
}

/* Collected warnings. */
struct warns {
	int n;
	int last_err;
	char last[256];
	char first[256];
};

static void on_warn(void *ctx, int err, uint64_t off, const char *msg)
{
	struct warns *w = ctx;

	if (!w->n)
		snprintf(w->first, sizeof(w->first), "%s", msg);
	w->n++;
	w->last_err = err;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

static void base_header(struct htc_header *h)
{
	memset(h, 0, sizeof(*h));
	h->flags = HTC_OPT_REDACT | HTC_OPT_PAYLOAD;
	h->snaplen = 4096;
	h->realtime_offset_ns = 1764100000000000000ll;
	h->start_ns = 123456789;
	for (int i = 0; i < 16; i++)
		h->capture_id[i] = (uint8_t)(0xa0 + i);
	strcpy(h->hostname, "host-1");
	strcpy(h->kernel, "6.18.0");
	strcpy(h->tool_version, "0.1.0");
	strcpy(h->options, "snaplen=4096\nredact=1\n");
}

static uint8_t payload_bytes[256];

/* Whether event i carries a TCP sequence number (format 1.2), and which:
 * runs of events of one connection that follow each other (the compact
 * encoding leaves the number out), broken by events without one and by
 * jumps (lost bytes), starting near 2^32 so the numbers wrap. */
static int has_seq(unsigned i)
{
	return (i / 4) % 5 != 0;
}

static uint32_t seq_of(unsigned i)
{
	uint32_t s = 0xffff0000u + (i % 4) * 0x100000u;

	for (unsigned j = i % 4; j < i; j += 4)
		s += (uint32_t)(50 + j % 50) + ((j / 4) % 7 == 3 ? 1000u : 0u);
	return s;
}

/* A data event numbered i: every field derived from i, so a reader can
 * check any record it gets back alone. */
static void mk_event(struct htc_record *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	r->type = HTC_REC_DATA;
	r->ev.type = i & 1 ? HTC_EV_WRITE : HTC_EV_READ;
	r->ev.syscall = (uint8_t)(1 + i % 11);
	r->ev.flags = (uint16_t)(i % 8);
	r->ev.pid = 1000 + i % 5;
	r->ev.tid = 2000 + i % 7;
	r->ev.fd = (int32_t)(3 + i % 9);
	r->ev.ts_ns = 1000000ull + i * 1000ull;
	r->ev.dur_ns = i * 3ull;
	r->ev.conn_id = 1 + i % 4;
	snprintf(r->ev.comm, HTC_COMM_LEN, "proc%u", i % 3);
	r->ev.ep.family = HTC_AF_INET;
	r->ev.ep.role = HTC_ROLE_SERVER;
	r->ev.ep.lport = 8080;
	r->ev.ep.rport = (uint16_t)(40000 + i % 4);
	r->ev.ep.laddr[0] = 127;
	r->ev.ep.laddr[3] = 1;
	r->ev.ret = 50 + i % 50;
	r->ev.stream_off = i * 77ull;
	r->ev.cap_len = (uint32_t)(i % 60);
	r->ev.payload = payload_bytes + i % 100;
	if (has_seq(i)) {
		r->ev.flags |= HTC_EVF_SEQ;
		r->ev.tcp_seq = seq_of(i);
	}
}

static void check_event(const struct htc_record *r, unsigned i)
{
	struct htc_record e;

	mk_event(&e, i);
	assert_int_equal(r->type, e.type);
	assert_int_equal(r->ev.type, e.ev.type);
	assert_int_equal(r->ev.syscall, e.ev.syscall);
	assert_int_equal(r->ev.flags, e.ev.flags);
	assert_int_equal(r->ev.pid, e.ev.pid);
	assert_int_equal(r->ev.tid, e.ev.tid);
	assert_int_equal(r->ev.fd, e.ev.fd);
	assert_int_equal(r->ev.ts_ns, e.ev.ts_ns);
	assert_int_equal(r->ev.dur_ns, e.ev.dur_ns);
	assert_int_equal(r->ev.conn_id, e.ev.conn_id);
	assert_string_equal(r->ev.comm, e.ev.comm);
	assert_memory_equal(&r->ev.ep, &e.ev.ep, sizeof(e.ev.ep));
	assert_int_equal(r->ev.ret, e.ev.ret);
	assert_int_equal(r->ev.stream_off, e.ev.stream_off);
	assert_int_equal(r->ev.cap_len, e.ev.cap_len);
	assert_int_equal(r->ev.tcp_seq, e.ev.tcp_seq);
	if (e.ev.cap_len)
		assert_memory_equal(r->ev.payload, e.ev.payload, e.ev.cap_len);
}

/* Event number i from its timestamp. */
static unsigned ev_index(const struct htc_record *r)
{
	return (unsigned)((r->ev.ts_ns - 1000000ull) / 1000ull);
}

/*
 * Write n numbered events to path with small frames.  Returns the file's
 * bytes (caller frees).
 */
static int g_compact;	/* write_events writes data events as DATA_C (1.1) */
static int g_threaded;	/* write_events writes frames from the writer's thread */

/* Events first .. first+n-1 written to path, frames of frame_bytes. */
static struct buf write_events_from(const char *path, unsigned first, unsigned n,
				    uint32_t frame_bytes)
{
	struct htc_writer_opts o = { .frame_bytes = frame_bytes, .compact = g_compact,
				     .threaded = g_threaded };
	struct htc_header h;
	struct htc_writer *w;
	struct htc_record r;
	int err;

	base_header(&h);
	w = htc_writer_open(path, &h, &o, &err);
	assert_non_null(w);
	for (unsigned i = first; i < first + n; i++) {
		mk_event(&r, i);
		assert_int_equal(htc_writer_append(w, &r), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	return slurp(path);
}

static struct buf write_events(const char *path, unsigned n, uint32_t frame_bytes)
{
	return write_events_from(path, 0, n, frame_bytes);
}

/* Read everything from a memory buffer; per-event presence in seen[]. */
struct readout {
	int open_err;
	unsigned got;
	int bad_event;		/* an event came back with wrong content */
	struct htc_reader_stats st;
	int have_trailer;
	struct warns w;
};

static struct readout read_all_mem(const void *p, size_t len, uint8_t *seen, unsigned nseen)
{
	struct readout o = { 0 };
	struct guarded g = guard(p, len);
	struct htc_reader *r = htc_reader_open_mem(g.p, len, &o.open_err);
	struct htc_record rec;
	int ret;

	if (r) {
		htc_reader_set_warn(r, on_warn, &o.w);
		while ((ret = htc_reader_next(r, &rec)) == 1) {
			unsigned i = ev_index(&rec);
			struct htc_record e;

			o.got++;
			if (rec.type != HTC_REC_DATA || i >= nseen) {
				o.bad_event = 1;
				continue;
			}
			mk_event(&e, i);
			if (rec.ev.cap_len != e.ev.cap_len || rec.ev.stream_off != e.ev.stream_off ||
			    memcmp(rec.ev.payload, e.ev.payload, e.ev.cap_len))
				o.bad_event = 1;
			if (seen)
				seen[i]++;
		}
		assert_int_equal(ret, 0);
		htc_reader_stats(r, &o.st);
		o.have_trailer = htc_reader_trailer(r) != NULL;
		htc_reader_close(r);
	}
	unguard(&g);
	return o;
}

/* Frame index of a complete file, from its trailer. */
static struct htc_frame_info *frame_index(const struct buf *b, uint32_t *n)
{
	struct htc_reader *r;
	struct htc_record rec;
	const struct htc_trailer *t;
	struct htc_frame_info *fi;
	int err;

	r = htc_reader_open_mem(b->p, b->len, &err);
	assert_non_null(r);
	while (htc_reader_next(r, &rec) == 1)
		;
	t = htc_reader_trailer(r);
	assert_non_null(t);
	*n = t->nframes;
	fi = calloc(t->nframes, sizeof(*fi));
	memcpy(fi, t->frames, t->nframes * sizeof(*fi));
	htc_reader_close(r);
	return fi;
}

/* ---- round trip ---- */

static void test_roundtrip_every_type(void **state)
{
	static char big_exe[4096], cmdline[] = "python3\0app.py\0--port\0""8080";
	static char opt_text[HTC_OPTTEXT_LEN];
	struct htc_record in[8], out;
	struct htc_header h, *hp = &h;
	struct htc_writer_stats ws;
	struct htc_writer *w;
	struct htc_reader *r;
	const struct htc_header *rh;
	const struct htc_trailer *t;
	uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t v6b[16] = { 0xfe, 0x80, [8] = 0xde, 0xad, 0xbe, 0xef, [15] = 0xff };
	struct buf b;
	int err, n = 0;

	base_header(&h);
	memset(h.hostname, 'h', HTC_HOSTNAME_LEN - 1);	/* max-length strings */
	memset(h.kernel, 'k', HTC_KERNEL_LEN - 1);
	memset(h.tool_version, 't', HTC_TOOLVER_LEN - 1);
	memset(h.options, 'o', HTC_OPTTEXT_LEN - 1);
	memset(big_exe, '/', sizeof(big_exe));
	memset(opt_text, '=', sizeof(opt_text));

	/* 0: a data event, IPv4, with payload */
	mk_event(&in[0], 42);
	in[0].ev.cap_len = 200;
	in[0].ev.payload = payload_bytes;
	in[0].ev.stream_off2 = 0x1122334455667788ull;
	/* 1: a data event with no payload (sendfile), comm of 15 chars */
	mk_event(&in[1], 7);
	in[1].ev.syscall = HTC_SYS_SENDFILE;
	in[1].ev.cap_len = 0;
	in[1].ev.payload = NULL;
	in[1].ev.ret = 1ll << 40;
	strcpy(in[1].ev.comm, "0123456789abcde");
	/* 2: connect over IPv6 that is in progress, negative fd field */
	memset(&in[2], 0, sizeof(in[2]));
	in[2].type = HTC_REC_CONN;
	in[2].ev.type = HTC_EV_CONNECT;
	in[2].ev.syscall = HTC_SYS_CONNECT;
	in[2].ev.flags = HTC_EVF_PREEXISTING | HTC_EVF_PARTIAL | HTC_EVF_REDACTED;
	in[2].ev.pid = UINT32_MAX;
	in[2].ev.tid = 1;
	in[2].ev.fd = -1;
	in[2].ev.ts_ns = UINT64_MAX;
	in[2].ev.dur_ns = 5;
	in[2].ev.conn_id = UINT64_MAX - 1;
	strcpy(in[2].ev.comm, "curl");
	in[2].ev.ep.family = HTC_AF_INET6;
	in[2].ev.ep.role = HTC_ROLE_CLIENT;
	in[2].ev.ep.lport = 65535;
	in[2].ev.ep.rport = 443;
	memcpy(in[2].ev.ep.laddr, v6a, 16);
	memcpy(in[2].ev.ep.raddr, v6b, 16);
	in[2].ev.ret = -115;
	/* 3: close with totals in both stream offsets */
	in[3] = in[2];
	in[3].ev.type = HTC_EV_CLOSE;
	in[3].ev.syscall = HTC_SYS_CLOSE;
	in[3].ev.ret = 0;
	in[3].ev.stream_off = 12345;
	in[3].ev.stream_off2 = 67890;
	in[3].ev.ts_ns = 5;
	/* 4: process metadata, every string, one long, one empty */
	memset(&in[4], 0, sizeof(in[4]));
	in[4].type = HTC_REC_PROC;
	in[4].proc.ts_ns = 77;
	in[4].proc.pid = 10;
	in[4].proc.ppid = 1;
	in[4].proc.uid = 1000;
	in[4].proc.gid = 1001;
	strcpy(in[4].proc.comm, "python3");
	in[4].proc.exe = big_exe;
	in[4].proc.exe_len = sizeof(big_exe);
	in[4].proc.cmdline = cmdline;
	in[4].proc.cmdline_len = sizeof(cmdline) - 1;
	in[4].proc.cgroup = "/system.slice/app.service";
	in[4].proc.cgroup_len = 25;
	in[4].proc.container = NULL;
	in[4].proc.container_len = 0;
	/* 5, 6: losses, one of a reason this version does not know */
	memset(&in[5], 0, sizeof(in[5]));
	in[5].type = HTC_REC_LOSS;
	in[5].loss.ts_ns = 99;
	in[5].loss.reason = HTC_LOSS_RINGBUF_FULL;
	in[5].loss.count = 1ull << 33;
	in[6] = in[5];
	in[6].loss.reason = 9;
	in[6].loss.count = 3;
	/* 7: options */
	memset(&in[7], 0, sizeof(in[7]));
	in[7].type = HTC_REC_OPTIONS;
	in[7].opt.ts_ns = 1;
	in[7].opt.snaplen = 65535;
	in[7].opt.flags = HTC_OPT_PAYLOAD;
	in[7].opt.text = opt_text;
	in[7].opt.text_len = sizeof(opt_text);

	w = htc_writer_open(tmp_path("rt.htc"), hp, NULL, &err);
	assert_non_null(w);
	for (int i = 0; i < 8; i++)
		assert_int_equal(htc_writer_append(w, &in[i]), 0);
	assert_int_equal(htc_writer_close(w, 424242, &ws), 0);
	assert_int_equal(ws.records, 8);
	assert_int_equal(ws.events, 4);
	assert_int_equal(ws.frames, 1);
	assert_int_equal(ws.lost[0], 1ull << 33);
	assert_int_equal(ws.lost[9], 3);

	b = slurp(tmp_path("rt.htc"));
	assert_int_equal(ws.bytes_out, b.len);
	/* by path and from memory */
	for (int pass = 0; pass < 2; pass++) {
		struct guarded g = guard(b.p, b.len);

		r = pass ? htc_reader_open_mem(g.p, b.len, &err) : htc_reader_open(tmp_path("rt.htc"), &err);
		assert_non_null(r);
		rh = htc_reader_header(r);
		assert_int_equal(rh->version_major, HTC_VERSION_MAJOR);
		/* without opts.delta the file is a 1.2 one (nothing of 1.3 in it) */
		assert_int_equal(rh->version_minor, HTC_MINOR_NO_DELTA);
		assert_int_equal(rh->flags, h.flags);
		assert_int_equal(rh->snaplen, h.snaplen);
		assert_int_equal(rh->realtime_offset_ns, h.realtime_offset_ns);
		assert_int_equal(rh->start_ns, h.start_ns);
		assert_memory_equal(rh->capture_id, h.capture_id, 16);
		assert_string_equal(rh->hostname, h.hostname);
		assert_string_equal(rh->kernel, h.kernel);
		assert_string_equal(rh->tool_version, h.tool_version);
		assert_string_equal(rh->options, h.options);
		assert_null(htc_reader_trailer(r));	/* not before the end */
		for (n = 0; htc_reader_next(r, &out) == 1; n++) {
			const struct htc_record *e = &in[n];

			assert_int_equal(out.type, e->type);
			switch (e->type) {
			case HTC_REC_DATA:
			case HTC_REC_CONN:
				assert_int_equal(out.ev.type, e->ev.type);
				assert_int_equal(out.ev.syscall, e->ev.syscall);
				assert_int_equal(out.ev.flags, e->ev.flags);
				assert_int_equal(out.ev.pid, e->ev.pid);
				assert_int_equal(out.ev.tid, e->ev.tid);
				assert_int_equal(out.ev.fd, e->ev.fd);
				assert_true(out.ev.ts_ns == e->ev.ts_ns);
				assert_int_equal(out.ev.dur_ns, e->ev.dur_ns);
				assert_true(out.ev.conn_id == e->ev.conn_id);
				assert_string_equal(out.ev.comm, e->ev.comm);
				assert_int_equal(out.ev.ep.family, e->ev.ep.family);
				assert_int_equal(out.ev.ep.role, e->ev.ep.role);
				assert_int_equal(out.ev.ep.lport, e->ev.ep.lport);
				assert_int_equal(out.ev.ep.rport, e->ev.ep.rport);
				assert_memory_equal(out.ev.ep.laddr, e->ev.ep.laddr, 16);
				assert_memory_equal(out.ev.ep.raddr, e->ev.ep.raddr, 16);
				assert_true(out.ev.ret == e->ev.ret);
				assert_int_equal(out.ev.stream_off, e->ev.stream_off);
				assert_int_equal(out.ev.stream_off2, e->ev.stream_off2);
				assert_int_equal(out.ev.cap_len, e->ev.cap_len);
				if (e->ev.cap_len)
					assert_memory_equal(out.ev.payload, e->ev.payload, e->ev.cap_len);
				break;
			case HTC_REC_PROC:
				assert_int_equal(out.proc.ts_ns, e->proc.ts_ns);
				assert_int_equal(out.proc.pid, e->proc.pid);
				assert_int_equal(out.proc.ppid, e->proc.ppid);
				assert_int_equal(out.proc.uid, e->proc.uid);
				assert_int_equal(out.proc.gid, e->proc.gid);
				assert_string_equal(out.proc.comm, e->proc.comm);
				assert_int_equal(out.proc.exe_len, e->proc.exe_len);
				assert_memory_equal(out.proc.exe, e->proc.exe, e->proc.exe_len);
				assert_int_equal(out.proc.cmdline_len, e->proc.cmdline_len);
				assert_memory_equal(out.proc.cmdline, e->proc.cmdline, e->proc.cmdline_len);
				assert_int_equal(out.proc.cgroup_len, e->proc.cgroup_len);
				assert_memory_equal(out.proc.cgroup, e->proc.cgroup, e->proc.cgroup_len);
				assert_int_equal(out.proc.container_len, 0);
				break;
			case HTC_REC_LOSS:
				assert_int_equal(out.loss.ts_ns, e->loss.ts_ns);
				assert_int_equal(out.loss.reason, e->loss.reason);
				assert_int_equal(out.loss.count, e->loss.count);
				break;
			case HTC_REC_OPTIONS:
				assert_int_equal(out.opt.ts_ns, e->opt.ts_ns);
				assert_int_equal(out.opt.snaplen, e->opt.snaplen);
				assert_int_equal(out.opt.flags, e->opt.flags);
				assert_int_equal(out.opt.text_len, e->opt.text_len);
				assert_memory_equal(out.opt.text, e->opt.text, e->opt.text_len);
				break;
			}
		}
		assert_int_equal(n, 8);
		t = htc_reader_trailer(r);
		assert_non_null(t);
		assert_int_equal(t->records, 8);
		assert_int_equal(t->events, 4);
		assert_int_equal(t->payload_bytes, 200);
		assert_int_equal(t->first_ts, 5);
		assert_true(t->last_ts == UINT64_MAX);
		assert_int_equal(t->end_ns, 424242);
		assert_int_equal(t->lost[HTC_LOSS_RINGBUF_FULL], 1ull << 33);
		assert_int_equal(t->lost[9], 3);
		assert_int_equal(t->nframes, 1);
		assert_int_equal(t->frames[0].records, 8);
		assert_int_equal(t->frames[0].first_ts, 1);
		assert_true(t->frames[0].last_ts == UINT64_MAX);
		{
			struct htc_reader_stats st;

			htc_reader_stats(r, &st);
			assert_int_equal(st.frames_ok, 1);
			assert_int_equal(st.frames_bad, 0);
			assert_int_equal(st.records, 8);
			assert_int_equal(st.records_skipped, 0);
			assert_int_equal(st.truncated, 0);
			assert_int_equal(st.stop_offset, b.len);
		}
		assert_int_equal(htc_reader_next(r, &out), 0);	/* stays at the end */
		htc_reader_close(r);
		unguard(&g);
	}
	free(b.p);
}

/* A comm with no NUL in its 16 bytes is cut to 15: decoded strings are
 * always terminated. */
/* A realtime offset beyond +-2^62 in a header (corrupt or hostile) is read
 * as 0, so no tool's time arithmetic can overflow; one within is kept. */
static void test_absurd_realtime_offset(void **state)
{
	static const struct {
		int64_t in, want;
	} v[] = {
		{ INT64_MAX, 0 }, { INT64_MIN, 0 }, { HTC_MAX_REALTIME_OFFSET + 1, 0 },
		{ HTC_MAX_REALTIME_OFFSET, HTC_MAX_REALTIME_OFFSET },
		{ -HTC_MAX_REALTIME_OFFSET, -HTC_MAX_REALTIME_OFFSET },
		{ 1764100000000000000ll, 1764100000000000000ll },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct htc_header h;
		struct htc_writer *w;
		struct htc_reader *r;
		struct buf b;
		int err = 0;

		base_header(&h);
		h.realtime_offset_ns = v[i].in;
		w = htc_writer_open(tmp_path("off.htc"), &h, NULL, &err);
		assert_non_null(w);
		assert_int_equal(htc_writer_close(w, 1, NULL), 0);
		b = slurp(tmp_path("off.htc"));
		r = htc_reader_open_mem(b.p, b.len, &err);
		assert_non_null(r);
		if (htc_reader_header(r)->realtime_offset_ns != v[i].want)
			fail_msg("offset %lld read as %lld, want %lld", (long long)v[i].in,
				 (long long)htc_reader_header(r)->realtime_offset_ns, (long long)v[i].want);
		htc_reader_close(r);
		free(b.p);
	}
	/* the sum never traps, whatever the values */
	assert_int_equal(htc_wall_ns(UINT64_MAX, INT64_MAX), (uint64_t)INT64_MAX - 1);
}

static void test_comm_unterminated(void **state)
{
	struct htc_record r, out;
	struct htc_writer *w;
	struct htc_reader *rd;
	int err;

	mk_event(&r, 1);
	memset(r.ev.comm, 'x', HTC_COMM_LEN);
	w = htc_writer_open(tmp_path("comm.htc"), NULL, NULL, &err);
	assert_non_null(w);
	assert_int_equal(htc_writer_append(w, &r), 0);
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	rd = htc_reader_open(tmp_path("comm.htc"), &err);
	assert_non_null(rd);
	assert_int_equal(htc_reader_next(rd, &out), 1);
	assert_int_equal(strlen(out.ev.comm), HTC_COMM_LEN - 1);
	assert_string_equal(htc_reader_header(rd)->hostname, "");
	htc_reader_close(rd);
}

/*
 * A file written by version 1.0 of the library, committed: any change of
 * the layout that would make old files unreadable (or read differently)
 * fails here.  Made by tests/fuzz/gen_reader_corpus.c.
 */
static void test_golden_v1_0(void **state)
{
	static const uint16_t types[] = { HTC_REC_CONN, HTC_REC_DATA, HTC_REC_DATA, HTC_REC_DATA,
					  HTC_REC_DATA, HTC_REC_CONN, HTC_REC_PROC, HTC_REC_LOSS,
					  HTC_REC_OPTIONS };
	const struct htc_header *h;
	const struct htc_trailer *t;
	struct htc_reader *r;
	struct htc_record rec;
	int err, n = 0;

	r = htc_reader_open("tests/format/golden/v1.0-all-types.htc", &err);
	if (!r)
		print_message("golden file: %s (run from the top folder)\n", htc_strerror(err));
	assert_non_null(r);
	h = htc_reader_header(r);
	assert_int_equal(h->version_major, 1);
	assert_int_equal(h->version_minor, 0);
	assert_string_equal(h->hostname, "fuzz");
	assert_string_equal(h->kernel, "6.18.0");
	assert_string_equal(h->options, "snaplen=256\n");
	assert_int_equal(h->snaplen, 256);
	assert_int_equal(h->realtime_offset_ns, 1764100000000000000ll);
	while (htc_reader_next(r, &rec) == 1) {
		assert_true(n < 9);
		assert_int_equal(rec.type, types[n]);
		if (n == 1) {
			assert_int_equal(rec.ev.type, HTC_EV_WRITE);
			assert_int_equal(rec.ev.syscall, 2);
			assert_int_equal(rec.ev.pid, 100);
			assert_int_equal(rec.ev.tid, 101);
			assert_int_equal(rec.ev.ts_ns, 1001);
			assert_int_equal(rec.ev.conn_id, 2);
			assert_int_equal(rec.ev.ep.family, HTC_AF_INET6);
			assert_int_equal(rec.ev.ep.lport, 80);
			assert_int_equal(rec.ev.ep.rport, 5000);
			assert_string_equal(rec.ev.comm, "srv");
			assert_int_equal(rec.ev.cap_len, 40);
			assert_memory_equal(rec.ev.payload, "HTTP/1.1 200 OK\r\n", 17);
		}
		if (rec.type == HTC_REC_PROC) {
			assert_int_equal(rec.proc.exe_len, 12);
			assert_memory_equal(rec.proc.exe, "/usr/bin/srv", 12);
			assert_int_equal(rec.proc.cmdline_len, 10);
			assert_memory_equal(rec.proc.cmdline, "srv\0-p\0" "80", 10);
		}
		if (rec.type == HTC_REC_LOSS) {
			assert_int_equal(rec.loss.reason, HTC_LOSS_MAP_FULL);
			assert_int_equal(rec.loss.count, 3);
		}
		if (rec.type == HTC_REC_OPTIONS)
			assert_memory_equal(rec.opt.text, "snaplen=256\n", 12);
		n++;
	}
	assert_int_equal(n, 9);
	t = htc_reader_trailer(r);
	assert_non_null(t);
	assert_int_equal(t->records, 9);
	assert_int_equal(t->events, 6);
	assert_int_equal(t->lost[HTC_LOSS_MAP_FULL], 3);
	htc_reader_close(r);
}

/* The trailer's frame index agrees with the frames a reader finds. */
static void test_multiframe_index(void **state)
{
	struct buf b = write_events(tmp_path("mf.htc"), 2000, 2048);
	uint32_t nf, i, sum = 0;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	struct readout o;
	uint8_t seen[2000] = { 0 };

	assert_true(nf > 20);
	for (i = 0; i < nf; i++) {
		sum += fi[i].records;
		assert_true(fi[i].offset + fi[i].csize <= b.len);
		/* each frame starts with the zstd magic */
		assert_int_equal(get_le32(b.p + fi[i].offset), HTC_ZSTD_MAGIC);
		if (i)
			assert_int_equal(fi[i].offset, fi[i - 1].offset + fi[i - 1].csize);
		if (i + 1 < nf)
			assert_true(fi[i].usize >= 2048);
		assert_true(fi[i].first_ts <= fi[i].last_ts);
	}
	assert_int_equal(sum, 2000);
	o = read_all_mem(b.p, b.len, seen, 2000);
	assert_int_equal(o.got, 2000);
	assert_int_equal(o.bad_event, 0);
	assert_int_equal(o.st.frames_ok, nf);
	assert_int_equal(o.w.n, 0);
	free(fi);
	free(b.p);
}

/* ---- truncation ---- */

static void test_truncate_every_offset(void **state)
{
	enum { N = 300 };
	struct buf b = write_events(tmp_path("tr.htc"), N, 1024);
	uint32_t nf, i;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	size_t hdr_end = fi[0].offset;
	int saw_msg = 0;

	assert_true(nf >= 8);
	for (size_t len = 0; len <= b.len; len++) {
		uint8_t seen[N] = { 0 };
		struct readout o = read_all_mem(b.p, len, seen, N);
		unsigned want = 0, boundary = len == hdr_end || len == b.len;

		if (len < hdr_end) {
			assert_int_equal(o.open_err, HTC_ERR_TRUNCATED);
			continue;
		}
		assert_int_equal(o.open_err, 0);
		for (i = 0; i < nf; i++) {
			if (fi[i].offset + fi[i].csize <= len)
				want += fi[i].records;
			if (fi[i].offset + fi[i].csize == len)
				boundary = 1;
		}
		/* every complete frame, and nothing else */
		assert_int_equal(o.got, want);
		assert_int_equal(o.bad_event, 0);
		for (i = 0; i < want; i++)
			assert_int_equal(seen[i], 1);
		if (o.st.truncated != !boundary)
			print_message("len %zu of %zu: truncated %d warn %s\n", len, b.len, o.st.truncated, o.w.last);
		assert_int_equal(o.st.truncated, !boundary);
		assert_int_equal(o.have_trailer, len == b.len);
		if (!boundary) {
			assert_int_equal(o.st.frames_bad, 0);
			assert_int_equal(o.w.last_err, HTC_ERR_TRUNCATED);
			/* stopped at the start of the incomplete frame */
			{
				uint64_t stop = hdr_end;

				for (i = 0; i < nf; i++)
					if (fi[i].offset + fi[i].csize <= len)
						stop = fi[i].offset + fi[i].csize;
				assert_int_equal(o.st.stop_offset, stop);
			}
			if (strstr(o.w.last, "truncated file: frame at offset"))
				saw_msg = 1;
		} else {
			assert_int_equal(o.st.stop_offset, len);
			assert_int_equal(o.w.n, 0);
		}
	}
	assert_true(saw_msg);
	free(fi);
	free(b.p);
}

/* The truncation message names the frame and the byte counts. */
static void test_truncate_message(void **state)
{
	struct buf b = write_events(tmp_path("trm.htc"), 300, 1024);
	uint32_t nf;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	size_t cut = fi[3].offset + 10;
	char want[160];
	struct readout o = read_all_mem(b.p, cut, NULL, 0);

	snprintf(want, sizeof(want), "truncated file: frame at offset %llu wants ",
		 (unsigned long long)fi[3].offset);
	assert_non_null(strstr(o.w.last, want));
	assert_non_null(strstr(o.w.last, "only 10 left"));
	assert_int_equal(o.st.stop_offset, fi[3].offset);
	assert_int_equal(o.st.truncated, 1);
	free(fi);
	free(b.p);
}

/* ---- bit flips ---- */

static void test_bitflip_every_frame(void **state)
{
	enum { N = 300 };
	struct buf b = write_events(tmp_path("bf.htc"), N, 1024);
	uint32_t nf, i, f;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	unsigned first[64], detected = 0, flips = 0;

	assert_true(nf < 64);
	for (i = 0, first[0] = 0; i < nf; i++)
		first[i + 1] = first[i] + fi[i].records;
	for (f = 0; f < nf; f++) {
		for (uint32_t pos = 0; pos < fi[f].csize; pos++) {
			uint8_t seen[N] = { 0 };
			struct readout o;
			unsigned lost = 0;

			b.p[fi[f].offset + pos] ^= (uint8_t)(1u << (pos % 8));
			o = read_all_mem(b.p, b.len, seen, N);
			b.p[fi[f].offset + pos] ^= (uint8_t)(1u << (pos % 8));
			flips++;
			assert_int_equal(o.open_err, 0);
			assert_int_equal(o.bad_event, 0);
			/* every record of every other frame is back, once */
			for (i = 0; i < N; i++) {
				if (i >= first[f] && i < first[f + 1]) {
					lost += !seen[i];
					assert_true(seen[i] <= 1);
				} else {
					assert_int_equal(seen[i], 1);
				}
			}
			/* the flipped frame is all or nothing, and a loss is reported */
			assert_true(lost == 0 || lost == fi[f].records);
			if (lost) {
				detected++;
				assert_true(o.st.frames_bad >= 1);
				assert_true(o.w.n >= 1);
				assert_int_equal(o.st.truncated, 0);
			}
			assert_int_equal(o.have_trailer, 1);
		}
	}
	/* zstd's checksum catches every flip that changes the content; the
	 * rest (the frame descriptor's unused bit, slack bits of entropy
	 * tables) change nothing, and those frames came back intact above */
	print_message("bit flips: %u of %u detected\n", detected, flips);
	assert_true(detected * 100 >= flips * 99);
	free(fi);
	free(b.p);
}

/* Compact data events (DATA_C, format 1.1): every field comes back as
 * written, in order, over many frames (each starts its table empty) and
 * with connections, processes and names changing between events; the file
 * is smaller than with DATA; and the frame index and bit-flip tests hold
 * in that encoding too (a damaged frame costs only its own records). */
static void test_compact_roundtrip(void **state)
{
	enum { N = 3000 };
	struct buf plain = write_events(tmp_path("plain.htc"), N, 4096), b;
	struct htc_reader *r;
	struct htc_record rec;
	unsigned i = 0;
	int err;

	g_compact = 1;
	b = write_events(tmp_path("compact.htc"), N, 4096);
	r = htc_reader_open_mem(b.p, b.len, &err);
	assert_non_null(r);
	while ((err = htc_reader_next(r, &rec)) == 1) {
		assert_int_equal(ev_index(&rec), i);
		check_event(&rec, i);
		assert_int_equal(rec.ev.stream_off2, 0);
		i++;
	}
	assert_int_equal(err, 0);
	assert_int_equal(i, N);
	htc_reader_close(r);
	print_message("%u events: %zu bytes as DATA, %zu as DATA_C\n", N, plain.len, b.len);
	assert_true(b.len < plain.len);
	test_multiframe_index(state);
	test_bitflip_every_frame(state);
	g_compact = 0;
	free(plain.p);
	free(b.p);
}

/* TLS plaintext (TLS_C, format 1.2) beside a connection's syscalls, in
 * either writer mode: each comes back with its flag (only the plaintext
 * has HTC_EVF_TLS), its syscall and its own stream offsets, interleaved
 * with the ciphertext of the same connection across frames. */
static void test_tls_records(void **state)
{
	enum { N = 400 };

	for (int compact = 0; compact < 2; compact++) {
		struct htc_writer_opts o = { .frame_bytes = 2048, .compact = compact };
		struct htc_header h;
		struct htc_writer *w;
		struct htc_reader *r;
		struct htc_record rec;
		uint64_t off[4] = { 0 };
		unsigned i = 0;
		struct buf b;
		int err;

		base_header(&h);
		w = htc_writer_open(tmp_path("tls.htc"), &h, &o, &err);
		assert_non_null(w);
		for (unsigned k = 0; k < N; k++) {
			unsigned tls = k % 3 != 0, d = k % 2;

			mk_event(&rec, k);
			rec.ev.conn_id = 7;
			rec.ev.type = d ? HTC_EV_WRITE : HTC_EV_READ;
			rec.ev.syscall = tls ? (d ? HTC_SYS_SSL_WRITE : HTC_SYS_SSL_READ) : HTC_SYS_READ;
			rec.ev.flags = tls ? HTC_EVF_TLS : HTC_EVF_TLS_CIPHER;
			rec.ev.stream_off = off[d + 2 * tls];
			off[d + 2 * tls] += (uint64_t)rec.ev.ret;
			assert_int_equal(htc_writer_append(w, &rec), 0);
		}
		assert_int_equal(htc_writer_close(w, 0, NULL), 0);
		b = slurp(tmp_path("tls.htc"));
		r = htc_reader_open_mem(b.p, b.len, &err);
		assert_non_null(r);
		assert_int_equal(htc_reader_header(r)->version_minor, 2);
		memset(off, 0, sizeof(off));
		while ((err = htc_reader_next(r, &rec)) == 1) {
			unsigned tls = i % 3 != 0, d = i % 2;

			assert_int_equal(rec.type, HTC_REC_DATA);
			assert_int_equal(ev_index(&rec), i);
			assert_int_equal(rec.ev.flags, tls ? HTC_EVF_TLS : HTC_EVF_TLS_CIPHER);
			assert_int_equal(rec.ev.syscall, tls ? (d ? HTC_SYS_SSL_WRITE : HTC_SYS_SSL_READ)
							     : HTC_SYS_READ);
			assert_int_equal(rec.ev.stream_off, off[d + 2 * tls]);
			off[d + 2 * tls] += (uint64_t)rec.ev.ret;
			i++;
		}
		assert_int_equal(err, 0);
		assert_int_equal(i, N);
		htc_reader_close(r);
		free(b.p);
	}
	assert_string_equal(htc_syscall_name(HTC_SYS_GO_TLS_WRITE), "go_tls_write");
	assert_string_equal(htc_tls_lib_name(HTC_SYS_GNUTLS_RECV), "gnutls");
	assert_null(htc_tls_lib_name(HTC_SYS_READ));
}

/* opts.threaded: the same files, byte for byte, as written in the caller's
 * thread (so the multi-frame and compact tests hold too); and a write
 * error in the thread shows on a later call, sticky, up to close. */
static void test_threaded_writer(void **state)
{
	struct htc_writer_opts o = { .frame_bytes = 1024, .threaded = 1 };
	struct buf a = write_events(tmp_path("sync.htc"), 2000, 2048), b;
	struct htc_writer *w;
	struct htc_record r;
	int err = 0, fd, fails = 0;
	unsigned i;

	g_threaded = 1;
	b = write_events(tmp_path("thr.htc"), 2000, 2048);
	assert_int_equal(a.len, b.len);
	/* the header holds the creation time; frames must be identical */
	assert_memory_equal(a.p + a.len / 2, b.p + b.len / 2, a.len - a.len / 2);
	test_multiframe_index(state);
	test_compact_roundtrip(state);
	g_threaded = 0;
	free(a.p);
	free(b.p);

	/* a pipe whose reader goes away after the header: every frame's
	 * write fails with EPIPE, in the writer's thread */
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		signal(SIGPIPE, SIG_IGN);
		w = htc_writer_fdopen(p[1], NULL, &o, &err);
		assert_non_null(w);
		close(p[0]);
	}
	(void)fd;
	for (i = 0; i < 500; i++) {
		mk_event(&r, i);
		fails += htc_writer_append(w, &r) == -EPIPE;
	}
	assert_true(fails > 0);
	assert_int_equal(htc_writer_flush(w), -EPIPE);
	assert_int_equal(htc_writer_close(w, 0, NULL), -EPIPE);
}

/* A flipped bit in a frame's content checksum: HTC_ERR_CHECKSUM, named in
 * the message with the frame's offset, frame skipped, the next one read. */
static void test_checksum_reported(void **state)
{
	struct buf b = write_events(tmp_path("ck.htc"), 300, 1024);
	uint32_t nf;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	uint8_t seen[300] = { 0 };
	char want[64];
	struct readout o;

	b.p[fi[2].offset + fi[2].csize - 2] ^= 0x04;
	o = read_all_mem(b.p, b.len, seen, 300);
	assert_int_equal(o.st.frames_bad, 1);
	assert_int_equal(o.st.frames_ok, nf - 1);
	assert_int_equal(o.got, 300 - fi[2].records);
	assert_int_equal(o.w.n, 1);
	assert_int_equal(o.w.last_err, HTC_ERR_CHECKSUM);
	snprintf(want, sizeof(want), "frame at offset %llu: ", (unsigned long long)fi[2].offset);
	assert_non_null(strstr(o.w.last, want));
	assert_non_null(strstr(o.w.last, "checksum"));
	assert_int_equal(o.have_trailer, 1);
	free(fi);
	free(b.p);
}

/* Flips in the header frame fail the open cleanly or are harmless; flips
 * in the trailer lose the trailer at most, never a record. */
static void test_bitflip_header_trailer(void **state)
{
	enum { N = 100 };
	struct buf b = write_events(tmp_path("bht.htc"), N, 1024);
	uint32_t nf;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	size_t data_end = fi[nf - 1].offset + fi[nf - 1].csize;

	for (size_t pos = 0; pos < b.len; pos++) {
		uint8_t seen[N] = { 0 };
		struct readout o;

		if (pos == fi[0].offset)
			pos = data_end;
		b.p[pos] ^= (uint8_t)(1u << (pos % 8));
		o = read_all_mem(b.p, b.len, seen, N);
		b.p[pos] ^= (uint8_t)(1u << (pos % 8));
		if (pos < fi[0].offset) {
			if (o.open_err) {
				assert_true(o.open_err == HTC_ERR_MAGIC || o.open_err == HTC_ERR_VERSION ||
					    o.open_err == HTC_ERR_CORRUPT || o.open_err == HTC_ERR_CHECKSUM ||
					    o.open_err == HTC_ERR_TOOBIG || o.open_err == HTC_ERR_TRUNCATED);
				continue;
			}
		}
		assert_int_equal(o.open_err, 0);
		if (pos >= data_end) {
			assert_int_equal(o.got, N);
			assert_int_equal(o.bad_event, 0);
			/* lost only with a message, or when its magic became
			 * another skippable magic, which zstd's rules skip */
			if (!o.have_trailer)
				assert_true(o.w.n >= 1 || o.st.truncated || pos == data_end);
		}
	}
	free(fi);
	free(b.p);
}

/* ---- hostile input, built by hand per docs/FORMAT.md ---- */

/* A valid header frame (from the writer) to put hand-made frames behind. */
static struct buf header_only(void)
{
	struct htc_header h;
	struct htc_writer *w;
	struct buf b;
	int err;

	base_header(&h);
	w = htc_writer_open(tmp_path("hdr.htc"), &h, NULL, &err);
	assert_non_null(w);
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	b = slurp(tmp_path("hdr.htc"));
	/* drop the trailer: the header frame is 8 + its size field */
	b.len = 8 + get_le32(b.p + 4);
	return b;
}

static size_t zframe(uint8_t *dst, size_t cap, const void *src, size_t len, int checksum,
		     int csize)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t z;

	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, csize);
	if (csize)
		z = ZSTD_compress2(c, dst, cap, src, len);
	else {
		/* the streaming API leaves the content size out */
		ZSTD_inBuffer in = { src, len, 0 };
		ZSTD_outBuffer out = { dst, cap, 0 };

		z = ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
		assert_int_equal(z, 0);
		z = out.pos;
	}
	assert_false(ZSTD_isError(z));
	ZSTD_freeCCtx(c);
	return z;
}

/* The magicless frame of header and trailer bodies: a frame minus its
 * 4 magic bytes. */
static size_t zframe_ml(uint8_t *dst, size_t cap, const void *src, size_t len)
{
	size_t z = zframe(dst, cap, src, len, 1, 1);

	memmove(dst, dst + 4, z - 4);
	return z - 4;
}

/* Record builder for hand-made frames. */
static size_t rec_hdr(uint8_t *p, uint16_t type, uint32_t len)
{
	put_le16(p, type);
	put_le16(p + 2, 0);
	put_le32(p + 4, len);
	return HTC_REC_HDR_LEN;
}

static size_t loss_rec(uint8_t *p, uint64_t ts, uint32_t reason, uint64_t count,
		       uint32_t extra)
{
	size_t n = rec_hdr(p, HTC_REC_LOSS, HTC_LOSS_FIXED + extra);

	put_le64(p + n, ts);
	put_le32(p + n + 8, reason);
	put_le32(p + n + 12, 0);
	put_le64(p + n + 16, count);
	memset(p + n + 24, 0xee, extra);	/* a future minor's fields */
	return n + HTC_LOSS_FIXED + extra;
}

struct file_case {
	const char *name;
	uint8_t frame[512];	/* uncompressed frame content */
	size_t len;
	int records, skipped, frames_bad;
};

/* Build file = header + compressed frame of content + a good frame, read
 * it, and return the readout. */
static struct readout read_with_frame(const uint8_t *content, size_t len, int minor)
{
	struct buf h = header_only();
	uint8_t *f = malloc(h.len + 4096 + 2 * len);
	size_t n = h.len;
	uint8_t good[64];
	struct readout o;

	memcpy(f, h.p, h.len);
	if (minor >= 0)
		put_le16(f + 18, (uint16_t)minor);
	n += zframe(f + n, 2048 + 2 * len, content, len, 1, 1);
	/* a good frame behind it: one loss record, ts 555 */
	n += zframe(f + n, 1024, good, loss_rec(good, 555, 1, 1, 0), 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	free(f);
	free(h.p);
	return o;
}

static void test_future_minor_unknown_record(void **state)
{
	uint8_t c[512];
	size_t n = 0;
	struct readout o;

	n += loss_rec(c + n, 1, 0, 10, 0);
	n += rec_hdr(c + n, 999, 5);	/* unknown type: skipped */
	memcpy(c + n, "hello", 5);
	n += 5;
	n += rec_hdr(c + n, 0xffff, 0);	/* unknown, empty */
	n += loss_rec(c + n, 2, 1, 20, 16);	/* longer body: new fields ignored */
	o = read_with_frame(c, n, 7);
	assert_int_equal(o.open_err, 0);
	assert_int_equal(o.got, 3);
	assert_int_equal(o.st.records_skipped, 2);
	assert_int_equal(o.st.frames_bad, 0);
	assert_int_equal(o.w.n, 0);	/* forward compatibility is not a problem */
}

static void test_hostile_records(void **state)
{
	static struct file_case cases[16];
	struct file_case *c;
	size_t n;
	int i = 0;

	/* record length far past the frame: rest of the frame dropped */
	c = &cases[i++];
	c->name = "length 0xffffffff";
	n = loss_rec(c->frame, 1, 0, 1, 0);
	n += rec_hdr(c->frame + n, HTC_REC_LOSS, 0xffffffffu);
	n += loss_rec(c->frame + n, 1, 0, 1, 0);
	c->len = n, c->records = 1 + 1, c->skipped = 1;

	/* record header cut by the frame end */
	c = &cases[i++];
	c->name = "stray bytes";
	n = loss_rec(c->frame, 1, 0, 1, 0);
	memcpy(c->frame + n, "\x04\x00\x00", 3);
	c->len = n + 3, c->records = 2, c->skipped = 1;

	/* known type, body shorter than its fixed part */
	c = &cases[i++];
	c->name = "short event";
	n = rec_hdr(c->frame, HTC_REC_DATA, 100);
	memset(c->frame + n, 0, 100);
	n += 100;
	n += loss_rec(c->frame + n, 1, 0, 1, 0);
	c->len = n, c->records = 2, c->skipped = 1;

	/* event cap_len beyond its body */
	c = &cases[i++];
	c->name = "cap_len past body";
	n = rec_hdr(c->frame, HTC_REC_DATA, HTC_EV_FIXED + 4);
	memset(c->frame + n, 0, HTC_EV_FIXED + 4);
	put_le32(c->frame + n + 120, 5);
	n += HTC_EV_FIXED + 4;
	c->len = n, c->records = 1, c->skipped = 1;

	/* proc string lengths that wrap a 32-bit sum */
	c = &cases[i++];
	c->name = "proc lengths wrap";
	n = rec_hdr(c->frame, HTC_REC_PROC, HTC_PROC_FIXED + 4);
	memset(c->frame + n, 0, HTC_PROC_FIXED + 4);
	put_le32(c->frame + n + 40, 0x80000000u);
	put_le32(c->frame + n + 44, 0x80000000u);
	put_le32(c->frame + n + 48, 2);
	put_le32(c->frame + n + 52, 2);
	n += HTC_PROC_FIXED + 4;
	c->len = n, c->records = 1, c->skipped = 1;

	/* options text past the body */
	c = &cases[i++];
	c->name = "options text";
	n = rec_hdr(c->frame, HTC_REC_OPTIONS, HTC_OPT_FIXED);
	memset(c->frame + n, 0, HTC_OPT_FIXED);
	put_le32(c->frame + n + 16, 1);
	n += HTC_OPT_FIXED;
	c->len = n, c->records = 1, c->skipped = 1;

	/* short loss and short options */
	c = &cases[i++];
	c->name = "short loss";
	n = rec_hdr(c->frame, HTC_REC_LOSS, 23);
	memset(c->frame + n, 0, 23);
	n += 23;
	c->len = n, c->records = 1, c->skipped = 1;

	/* an empty frame is fine */
	c = &cases[i++];
	c->name = "empty frame";
	c->len = 0, c->records = 1, c->skipped = 0;

	for (int k = 0; k < i; k++) {
		struct readout o = read_with_frame(cases[k].frame, cases[k].len, -1);

		print_message("case '%s': %u records, %llu skipped, warn '%s'\n", cases[k].name,
			      o.got, (unsigned long long)o.st.records_skipped, o.w.last);
		assert_int_equal(o.open_err, 0);
		assert_int_equal(o.got, cases[k].records);
		assert_int_equal(o.st.records_skipped, cases[k].skipped);
		assert_int_equal(o.st.frames_ok, 2);
		if (cases[k].skipped)
			assert_true(o.w.n >= 1);
	}
}

/* ---- payload deltas (DATA_D, TLS_D, format 1.3) ---- */

/* One event of the delta vectors: what is written, and the record type
 * the writer must choose for it. */
struct dvec {
	uint64_t conn_id;
	unsigned dir;		/* 0 read, 1 write, 2 TLS read, 3 TLS write */
	const char *payload;	/* NULL: long, see dv_payload */
	uint16_t want;		/* record type on disk */
	unsigned flags;		/* DV_* */
	const char *why;
};
#define DV_FLUSH 1	/* flush (close the frame) before this event */
#define DV_PID 2	/* another pid: the record carries CONN again */
#define DV_SEQ 4	/* a sequence number the reader cannot guess */
#define DV_CONNREC 8	/* a CONN record (close of another conn) before it */

static char dv_long[1500];

static void dv_event(struct htc_record *r, const struct dvec *v, unsigned i, uint64_t *off)
{
	unsigned dir = v->dir;

	memset(r, 0, sizeof(*r));
	r->type = HTC_REC_DATA;
	r->ev.type = dir & 1 ? HTC_EV_WRITE : HTC_EV_READ;
	r->ev.syscall = dir >= 2 ? (dir & 1 ? HTC_SYS_SSL_WRITE : HTC_SYS_SSL_READ)
				 : (dir & 1 ? HTC_SYS_WRITEV : HTC_SYS_RECVFROM);
	r->ev.flags = dir >= 2 ? HTC_EVF_TLS : 0;
	r->ev.pid = v->flags & DV_PID ? 4242 : 4000;
	r->ev.tid = r->ev.pid + 1 + i % 3;
	r->ev.fd = 7;
	r->ev.ts_ns = 5000000ull + i * 1000ull;
	r->ev.dur_ns = i;
	r->ev.conn_id = v->conn_id;
	strcpy(r->ev.comm, "nginx");
	r->ev.ep.family = HTC_AF_INET;
	r->ev.ep.role = HTC_ROLE_SERVER;
	r->ev.ep.lport = 80;
	r->ev.ep.rport = (uint16_t)(50000 + v->conn_id % 1000);
	r->ev.payload = (const uint8_t *)(v->payload ? v->payload : dv_long);
	r->ev.cap_len = (uint32_t)(v->payload ? strlen(v->payload) : sizeof(dv_long));
	r->ev.ret = (int64_t)r->ev.cap_len + 10;
	r->ev.stream_off = off[dir];
	off[dir] += (uint64_t)r->ev.ret;
	if (v->flags & DV_SEQ) {
		r->ev.flags |= HTC_EVF_SEQ;
		r->ev.tcp_seq = 0xfffffff0u + i * 1000u;	/* never the expected one */
	}
}

static void same_event(const struct htc_record *g, const struct htc_record *w)
{
	assert_int_equal(g->type, w->type);
	assert_int_equal(g->ev.type, w->ev.type);
	assert_int_equal(g->ev.syscall, w->ev.syscall);
	assert_int_equal(g->ev.flags, w->ev.flags);
	assert_int_equal(g->ev.pid, w->ev.pid);
	assert_int_equal(g->ev.tid, w->ev.tid);
	assert_int_equal(g->ev.fd, w->ev.fd);
	assert_int_equal(g->ev.ts_ns, w->ev.ts_ns);
	assert_int_equal(g->ev.dur_ns, w->ev.dur_ns);
	assert_int_equal(g->ev.conn_id, w->ev.conn_id);
	assert_string_equal(g->ev.comm, w->ev.comm);
	assert_memory_equal(&g->ev.ep, &w->ev.ep, sizeof(w->ev.ep));
	assert_int_equal(g->ev.ret, w->ev.ret);
	assert_int_equal(g->ev.stream_off, w->ev.stream_off);
	assert_int_equal(g->ev.stream_off2, w->ev.stream_off2);
	assert_int_equal(g->ev.tcp_seq, w->ev.tcp_seq);
	assert_int_equal(g->ev.cap_len, w->ev.cap_len);
	if (w->ev.cap_len)
		assert_memory_equal(g->ev.payload, w->ev.payload, w->ev.cap_len);
}

/* The record types of a file's data frames, in order (at most max). */
static size_t record_types(const struct buf *b, uint16_t *types, size_t max)
{
	size_t pos = 8 + get_le32(b->p + 4), n = 0;

	while (pos + 8 <= b->len) {
		uint32_t magic = get_le32(b->p + pos);

		if (magic == HTC_ZSTD_MAGIC) {
			size_t z = ZSTD_findFrameCompressedSize(b->p + pos, b->len - pos);
			unsigned long long u = ZSTD_getFrameContentSize(b->p + pos, z);
			uint8_t *c = malloc(u + 1);
			size_t d, k;

			assert_false(ZSTD_isError(z));
			d = ZSTD_decompress(c, u + 1, b->p + pos, z);
			assert_int_equal(d, u);
			for (k = 0; k + 8 <= d; k += 8 + get_le32(c + k + 4))
				if (n < max)
					types[n++] = get_le16(c + k);
			free(c);
			pos += z;
		} else {
			pos += 8 + get_le32(b->p + pos + 4);
		}
	}
	return n;
}

/*
 * Every case of a payload delta, written with opts.delta and read back:
 * each record is of the type the vector says (the writer took the delta
 * or not for the reason given), each event comes back equal to what was
 * written, field for field and byte for byte, and the payloads of every
 * record of a frame (in the frame, rebuilt, or runs of a reference) are
 * still intact when the frame's last record has been read.
 */
static void test_delta_roundtrip(void **state)
{
	static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char reqx[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nEXTRA";
	static const char post[] = "POST /a HTTP/1.1\r\nHost: x\r\n\r\nEXTRA";
	static const char postb[] = "POST /b HTTP/1.1\r\nHost: x\r\n\r\nEXTRA";
	static const char postc[] = "POST /b HTTP/1.1\r\n\r\nEXTRA";
	static const char rsp1[] = "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 05:00:01 GMT\r\n\r\nok";
	static const char rsp2[] = "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 05:00:02 GMT\r\n\r\nok";
	static const char reqy[] = "GET /a HTTP/1.1\r\nHost: y\r\n\r\n";
	uint64_t c2 = 2;
	const uint16_t C = HTC_REC_DATA_C, D = HTC_REC_DATA_D, TC = HTC_REC_TLS_C,
		       TD = HTC_REC_TLS_D;
	struct dvec v[] = {
		{ 1, 0, req, C, 0, "no reference: the connection's first read" },
		{ 1, 0, req, D, 0, "identical payload" },
		{ 1, 0, reqx, D, 0, "prefix only (the reference is a prefix of it)" },
		{ 1, 0, post, D, 0, "suffix only" },
		{ 1, 0, postb, D, 0, "prefix and suffix" },
		{ 1, 0, postc, D, 0, "prefix and suffix, empty middle" },
		{ 1, 1, rsp1, C, 0, "writes are apart from reads" },
		{ 1, 1, rsp2, D, DV_SEQ, "a response differing in its Date, with SEQ" },
		{ 1, 2, req, TC, 0, "TLS reads are apart from reads" },
		{ 1, 2, req, TD, DV_SEQ, "TLS read, identical" },
		{ 1, 3, rsp2, TC, 0, "TLS writes are apart from writes" },
		{ 1, 3, rsp1, TD, 0, "TLS write, differing" },
		{ 1, 0, postc, D, DV_SEQ, "SEQ after an empty middle" },
		{ 1, 0, NULL, C, 0, "longer than the delta limit: literal" },
		{ 1, 0, NULL, C, 0, "its predecessor was too long to be kept" },
		{ 1, 0, req, C, 0, "no reference after a long payload" },
		{ 1, 0, req, D, DV_CONNREC, "reference from a literal record, a CONN record between" },
		{ 1, 0, reqy, D, 0, "reference from a delta record" },
		{ 1, 0, reqy, D, 0, "reference rebuilt from a delta record" },
		{ 1, 1, rsp1, D, 0, "the write reference outlived the reads" },
		{ 0, 0, req, C, 0, "another connection in the same slot" },
		{ 1, 0, reqy, C, 0, "its slot was taken: CONN, no reference" },
		{ 1, 0, reqy, C, DV_PID, "another pid: CONN clears the references" },
		{ 1, 0, reqy, D, DV_PID, "and deltas again" },
		{ 3, 0, reqy, C, DV_PID, "a third connection, own slot" },
		{ 1, 0, reqy, D, DV_PID, "interleaved connections keep theirs" },
		{ 1, 0, reqy, C, DV_PID | DV_FLUSH, "a new frame clears the references" },
		{ 1, 0, reqy, D, DV_PID, "and deltas again" },
		{ 1, 0, "", C, DV_PID, "cap_len 0: nothing to save" },
		{ 1, 0, "", C, DV_PID, "cap_len 0 twice" },
		{ 1, 0, reqy, C, DV_PID, "after an empty reference: no prefix" },
		{ 1, 0, "abc", C, DV_PID, "short payload" },
		{ 1, 0, "abc", C, DV_PID, "identical but under 8 bytes: literal" },
		{ 3, 1, rsp1, C, DV_PID, "last" },
	};
	enum { N = sizeof(v) / sizeof(v[0]) };
	struct htc_writer_opts o = { .compact = 1, .delta = 1 };
	struct htc_record in[N], got[N], conn;
	uint64_t off[4] = { 0 }, off3[4] = { 0 }, off0[4] = { 0 };
	uint16_t types[2 * N];
	struct htc_header h;
	struct htc_writer *w;
	struct htc_reader *r;
	struct buf b;
	size_t nt, first = 0;
	unsigned i, k;
	int err;

	for (i = 0; i < sizeof(dv_long); i++)
		dv_long[i] = (char)('a' + i % 26);
	/* a connection id that takes conn 1's slot (the slot formula of
	 * FORMAT.md 6.7) */
	while (((c2 * 0x9E3779B97F4A7C15ull) >> 52) != ((1 * 0x9E3779B97F4A7C15ull) >> 52))
		c2++;
	v[20].conn_id = c2;

	base_header(&h);
	w = htc_writer_open(tmp_path("delta.htc"), &h, &o, &err);
	assert_non_null(w);
	for (i = 0; i < N; i++) {
		uint64_t *of = v[i].conn_id == 1 ? off : v[i].conn_id == 3 ? off3 : off0;

		dv_event(&in[i], &v[i], i, of);
		if (v[i].flags & DV_FLUSH)
			assert_int_equal(htc_writer_flush(w), 0);
		if (v[i].flags & DV_CONNREC) {
			memset(&conn, 0, sizeof(conn));
			conn.type = HTC_REC_CONN;
			conn.ev.type = HTC_EV_CLOSE;
			conn.ev.conn_id = 1;
			conn.ev.ts_ns = 1;	/* before every event: not an index */
			assert_int_equal(htc_writer_append(w, &conn), 0);
		}
		assert_int_equal(htc_writer_append(w, &in[i]), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	b = slurp(tmp_path("delta.htc"));

	nt = record_types(&b, types, 2 * N);
	assert_int_equal(nt, N + 1);
	for (i = 0, k = 0; i < N; i++, k++) {
		if (v[i].flags & DV_CONNREC)
			assert_int_equal(types[k++], HTC_REC_CONN);
		if (types[k] != v[i].want)
			print_error("event %u (%s): record type %u, want %u\n", i, v[i].why,
				    types[k], v[i].want);
		assert_int_equal(types[k], v[i].want);
	}

	r = htc_reader_open_mem(b.p, b.len, &err);
	assert_non_null(r);
	assert_int_equal(htc_reader_header(r)->version_minor, 3);
	for (i = 0; i < N; i++) {
		assert_int_equal(htc_reader_next(r, &got[i]), 1);
		if (got[i].type == HTC_REC_CONN) {
			assert_true(v[i].flags & DV_CONNREC);
			assert_int_equal(htc_reader_next(r, &got[i]), 1);
		}
		same_event(&got[i], &in[i]);
		/* the frame's last record: every payload of the frame is
		 * still where the reader put it */
		if (i + 1 == N || (v[i + 1].flags & DV_FLUSH)) {
			for (k = (unsigned)first; k <= i; k++)
				same_event(&got[k], &in[k]);
			first = i + 1;
		}
	}
	assert_int_equal(htc_reader_next(r, &got[0]), 0);
	htc_reader_close(r);
	free(b.p);
}

/* Event i, a READ of n payload bytes on one connection whose fields never
 * change (no CONN after the first record of a frame). */
static void same_conn_read(struct htc_record *in, unsigned i, const uint8_t *p, uint32_t n)
{
	mk_event(in, i);
	in->ev.conn_id = 5;
	in->ev.pid = 1;
	in->ev.fd = 3;
	strcpy(in->ev.comm, "srv");
	in->ev.ep.rport = 1;
	in->ev.type = HTC_EV_READ;
	in->ev.flags = 0;
	in->ev.payload = p;
	in->ev.cap_len = n;
	in->ev.ret = n;
}

/* count READs of the same n payload bytes on one connection, written
 * with o to tmp file name and read back from memory (*fb, the caller's to
 * free): every payload intact, none skipped.  Returns the reader, at the
 * end, for the caller to look at the trailer and close. */
static struct htc_reader *same_reads_roundtrip(const char *name, const struct htc_writer_opts *o,
						const uint8_t *pay, uint32_t n, unsigned count,
						struct buf *fb)
{
	struct htc_record in, got;
	struct htc_reader_stats st;
	struct htc_header h;
	struct htc_writer *w;
	struct htc_reader *r;
	unsigned k = 0;
	int err;

	base_header(&h);
	w = htc_writer_open(tmp_path(name), &h, o, &err);
	assert_non_null(w);
	for (unsigned i = 0; i < count; i++) {
		same_conn_read(&in, i, pay, n);
		assert_int_equal(htc_writer_append(w, &in), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	*fb = slurp(tmp_path(name));
	r = htc_reader_open_mem(fb->p, fb->len, &err);
	assert_non_null(r);
	while ((err = htc_reader_next(r, &got)) == 1) {
		assert_int_equal(got.ev.cap_len, n);
		assert_memory_equal(got.ev.payload, pay, n);
		k++;
	}
	assert_int_equal(err, 0);
	assert_int_equal(k, count);
	htc_reader_stats(r, &st);
	assert_int_equal(st.records_skipped, 0);
	return r;
}

/* Keep-alive traffic (identical requests, responses differing in their
 * Date): with opts.delta the file is smaller and every event comes back;
 * without it the file is the 1.2 one.  Also the writer's bound on the
 * payload bytes a reader rebuilds per frame: identical 1 KiB payloads in
 * 32 MiB frames are cut into frames of at most 16 MiB of them. */
static void test_delta_keepalive(void **state)
{
	enum { N = 4000 };
	struct buf b[2];
	char rsp[N][80];

	for (int delta = 0; delta < 2; delta++) {
		struct htc_writer_opts o = { .compact = 1, .delta = delta };
		struct dvec v = { 9, 0, "GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n\r\n",
				  0, 0, "" };
		struct htc_record in, got;
		uint64_t off[4] = { 0 };
		struct htc_header h;
		struct htc_writer *w;
		struct htc_reader *r;
		int err;

		base_header(&h);
		w = htc_writer_open(tmp_path("ka.htc"), &h, &o, &err);
		assert_non_null(w);
		for (unsigned i = 0; i < N; i++) {
			snprintf(rsp[i], sizeof(rsp[i]),
				 "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 05:%02u:%02u GMT\r\n\r\nok",
				 i / 600 % 60, i / 10 % 60);
			v.dir = i & 1;
			v.conn_id = 9 + (i / 2) % 3;
			v.payload = i & 1 ? rsp[i] : "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";
			dv_event(&in, &v, i, off);
			in.ev.stream_off = 0;
			assert_int_equal(htc_writer_append(w, &in), 0);
		}
		assert_int_equal(htc_writer_close(w, 0, NULL), 0);
		b[delta] = slurp(tmp_path("ka.htc"));
		r = htc_reader_open_mem(b[delta].p, b[delta].len, &err);
		assert_non_null(r);
		assert_int_equal(htc_reader_header(r)->version_minor, delta ? 3 : 2);
		for (unsigned i = 0; i < N; i++) {
			v.dir = i & 1;
			v.conn_id = 9 + (i / 2) % 3;
			v.payload = i & 1 ? rsp[i] : "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";
			dv_event(&in, &v, i, off);
			in.ev.stream_off = 0;
			assert_int_equal(htc_reader_next(r, &got), 1);
			same_event(&got, &in);
		}
		assert_int_equal(htc_reader_next(r, &got), 0);
		htc_reader_close(r);
	}
	print_message("%u keep-alive events: %zu bytes, %zu with deltas\n", N, b[0].len, b[1].len);
	assert_true(b[1].len < b[0].len);
	free(b[0].p);
	free(b[1].p);

	/* With the default frame_bytes (1 MiB), a frame holds about as many
	 * events with deltas as without: 3,000 identical payloads of 1000
	 * bytes (3 MB as literals, ~60 KB as deltas) take three frames, of
	 * at most ~1,050 events each, not one */
	{
		struct htc_writer_opts o = { .compact = 1, .delta = 1, .frame_ms = 60000 };
		static uint8_t pay[1000];
		struct htc_reader *r;
		const struct htc_trailer *t;
		struct buf fb;

		memset(pay, 'q', sizeof(pay));
		r = same_reads_roundtrip("frames.htc", &o, pay, sizeof(pay), 3000, &fb);
		t = htc_reader_trailer(r);
		assert_non_null(t);
		assert_int_equal(t->nframes, 3);
		for (uint32_t f = 0; f < t->nframes; f++)
			assert_true(t->frames[f].records <= 1050);
		htc_reader_close(r);
		free(fb.p);
	}

	/* 20,000 identical payloads of HTC_DELTA_MAX bytes: 20 MiB to
	 * rebuild, in frames that could hold it all */
	{
		struct htc_writer_opts o = { .compact = 1, .delta = 1, .frame_bytes = 32u << 20,
					     .frame_ms = 60000 };
		static uint8_t big[HTC_DELTA_MAX];
		struct htc_reader *r;
		const struct htc_trailer *t;
		struct buf fb;
		uint64_t sum = 0;

		memset(big, 'z', sizeof(big));
		r = same_reads_roundtrip("big.htc", &o, big, sizeof(big), 20000, &fb);
		t = htc_reader_trailer(r);
		assert_non_null(t);
		/* 16 MiB of rebuilt payload per frame: the first frame holds
		 * its literal and 16384 deltas, the second the rest */
		assert_int_equal(t->nframes, 2);
		for (uint32_t f = 0; f < t->nframes; f++)
			sum += t->frames[f].records;
		assert_int_equal(sum, 20000);
		assert_int_equal(t->frames[0].records, 1 + (HTC_DELTA_FRAME_BYTES / HTC_DELTA_MAX));
		htc_reader_close(r);
		free(fb.p);
	}
}

/* The writer's 4 MiB of reference copies run out: 3000 connections of
 * two directions, each payload of 1000 bytes sent twice (6000 copies of
 * 1 KiB wanted).  The directions that got a copy send their second
 * payload as a delta, the others literal, and every event comes back. */
static void test_delta_budget(void **state)
{
	enum { NC = 3000 };
	struct htc_writer_opts o = { .compact = 1, .delta = 1, .frame_bytes = 32u << 20,
				     .frame_ms = 60000 };
	static uint8_t pay[2][1000];
	static uint16_t types[4 * NC + 8];
	struct htc_record in, got;
	struct htc_header h;
	struct htc_writer *w;
	struct htc_reader *r;
	size_t nt, nd = 0;
	struct buf b;
	int err;

	memset(pay[0], 'r', sizeof(pay[0]));
	memset(pay[1], 'w', sizeof(pay[1]));
	base_header(&h);
	w = htc_writer_open(tmp_path("budget.htc"), &h, &o, &err);
	assert_non_null(w);
	for (unsigned i = 0; i < 4 * NC; i++) {
		mk_event(&in, i);
		in.ev.conn_id = 100 + (i / 2) % NC;
		in.ev.pid = 1;
		in.ev.fd = 3;
		strcpy(in.ev.comm, "srv");
		in.ev.ep.rport = 1;
		in.ev.flags = 0;
		in.ev.tcp_seq = 0;
		in.ev.payload = pay[i & 1];
		in.ev.cap_len = sizeof(pay[0]);
		assert_int_equal(htc_writer_append(w, &in), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	b = slurp(tmp_path("budget.htc"));
	nt = record_types(&b, types, sizeof(types) / sizeof(types[0]));
	assert_int_equal(nt, 4 * NC);
	for (size_t k = 0; k < nt; k++)
		nd += types[k] == HTC_REC_DATA_D;
	print_message("%u events, %zu deltas (4 MiB of 1 KiB copies: 4096 directions)\n",
		      4 * NC, nd);
	/* the first 2 * NC have no reference; of the second, those whose
	 * direction got a copy (slots shared by two connections get none) */
	assert_true(nd > 0 && nd <= 4096);
	r = htc_reader_open_mem(b.p, b.len, &err);
	assert_non_null(r);
	for (unsigned i = 0; i < 4 * NC; i++) {
		mk_event(&in, i);
		in.ev.conn_id = 100 + (i / 2) % NC;
		in.ev.pid = 1;
		in.ev.fd = 3;
		strcpy(in.ev.comm, "srv");
		in.ev.ep.rport = 1;
		in.ev.flags = 0;
		in.ev.tcp_seq = 0;
		in.ev.payload = pay[i & 1];
		in.ev.cap_len = sizeof(pay[0]);
		assert_int_equal(htc_reader_next(r, &got), 1);
		same_event(&got, &in);
	}
	assert_int_equal(htc_reader_next(r, &got), 0);
	htc_reader_close(r);
	free(b.p);
}

/* Varint builder for hand-made compact records. */
static size_t uv(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * A hand-made compact READ record of conn_id 1 (FORMAT.md 6.7, 6.9):
 * type DATA_C/TLS_C (literal: mid holds the payload) or DATA_D/TLS_D
 * (mid holds the middle bytes, pre and suf the run lengths); midlen bytes
 * of mid are written whatever cap_len says, so bodies can lie.
 */
static size_t crec(uint8_t *p, uint16_t type, int conn, uint64_t cap_len, uint64_t pre,
		   uint64_t suf, const void *mid, size_t midlen)
{
	uint8_t *b = p + HTC_REC_HDR_LEN;
	size_t n = 0;

	b[n++] = HTC_EV_READ;
	b[n++] = HTC_SYS_READ;
	/* conn 2: flag SEQ and cflags SEQ, and no room for the number */
	put_le16(b + n, conn == 2 ? HTC_EVF_SEQ : 0);
	n += 2;
	b[n++] = conn == 2 ? HTC_CF_SEQ : conn ? HTC_CF_CONN : 0;
	n += uv(b + n, 1);
	if (conn == 1) {
		memset(b + n, 0, 47);	/* pid ... raddr 0, comm_len 0 */
		n += 47;
	}
	n += uv(b + n, 0);	/* ts */
	n += uv(b + n, 0);	/* tid */
	n += uv(b + n, 0);	/* dur */
	n += uv(b + n, 2 * cap_len);	/* ret, zigzag */
	n += uv(b + n, 0);	/* off */
	n += uv(b + n, 0);	/* stream_off2 */
	n += uv(b + n, cap_len);
	if (type == HTC_REC_DATA_D || type == HTC_REC_TLS_D) {
		n += uv(b + n, pre);
		n += uv(b + n, suf);
	}
	memcpy(b + n, mid, midlen);
	n += midlen;
	rec_hdr(p, type, (uint32_t)n);
	return HTC_REC_HDR_LEN + n;
}

/* Read a file of one hand-made frame (content) from guarded memory: the
 * records read, skipped, the warnings, and the payload of the last one. */
struct dread {
	unsigned got;
	uint64_t skipped;
	struct warns w;
	char last[64];
};

static struct dread read_frame(const uint8_t *content, size_t len)
{
	struct buf h = header_only();
	size_t cap = h.len + 4096 + len + len / 8;
	uint8_t *f = malloc(cap);
	size_t n = h.len;
	struct htc_reader_stats st;
	struct htc_record rec;
	struct htc_reader *r;
	struct guarded g;
	struct dread d = { 0 };
	int err;

	memcpy(f, h.p, h.len);
	n += zframe(f + n, cap - n, content, len, 1, 1);
	g = guard(f, n);
	r = htc_reader_open_mem(g.p, n, &err);
	assert_non_null(r);
	htc_reader_set_warn(r, on_warn, &d.w);
	while ((err = htc_reader_next(r, &rec)) == 1) {
		d.got++;
		if (rec.type == HTC_REC_DATA && rec.ev.cap_len < sizeof(d.last)) {
			memcpy(d.last, rec.ev.payload, rec.ev.cap_len);
			d.last[rec.ev.cap_len] = 0;
		}
	}
	assert_int_equal(err, 0);
	htc_reader_stats(r, &st);
	d.skipped = st.records_skipped;
	htc_reader_close(r);
	unguard(&g);
	free(f);
	free(h.p);
	return d;
}

/* Hand-made delta records that lie: each is skipped with HTC_ERR_CORRUPT
 * and its reason, the records around it are read, nothing is read out of
 * bounds (the frame ends before a guard page; run under ASan too). */
static void test_delta_malformed(void **state)
{
	static const struct {
		const char *name;
		uint16_t type;
		int conn;
		uint64_t cap_len, pre, suf;
		const char *mid;
		size_t midlen;
		int ok;		/* a valid delta: its payload is want */
		const char *want;	/* payload, or a word of the warning */
	} cases[] = {
		{ "valid", HTC_REC_DATA_D, 0, 20, 6, 10, "XYZW", 4, 1, "012345XYZWabcdefghij" },
		{ "valid, empty middle", HTC_REC_DATA_D, 0, 16, 6, 10, "", 0, 1, "012345abcdefghij" },
		{ "valid, a run of the reference", HTC_REC_DATA_D, 0, 10, 0, 10, "", 0, 1,
		  "abcdefghij" },
		{ "no reference: CONN cleared it", HTC_REC_DATA_D, 1, 16, 16, 0, "", 0, 0,
		  "previous payload" },
		{ "no reference: TLS reads are apart", HTC_REC_TLS_D, 0, 16, 16, 0, "", 0, 0,
		  "previous payload" },
		{ "prefix + suffix > reference", HTC_REC_DATA_D, 0, 30, 12, 10, "01234567", 8, 0,
		  "longer than the previous" },
		{ "prefix > reference", HTC_REC_DATA_D, 0, 1u << 30, 1u << 30, 0, "", 0, 0,
		  "longer than the previous" },
		{ "suffix wraps", HTC_REC_DATA_D, 0, 16, 4, UINT64_MAX - 2, "", 0, 0,
		  "longer than the previous" },
		{ "prefix + suffix > cap_len", HTC_REC_DATA_D, 0, 8, 5, 5, "", 0, 0,
		  "longer than the payload" },
		{ "middle past the record", HTC_REC_DATA_D, 0, 20, 4, 4, "abcde", 5, 0,
		  "middle bytes run past" },
		{ "cap_len beyond 2^32", HTC_REC_DATA_D, 0, 1ull << 40, 8, 8, "", 0, 0,
		  "middle bytes run past" },
		{ "bad varint", HTC_REC_DATA_D, 0, 16, 0x8080808080808080ull, 0, "", 0, 0,
		  "prefix or suffix varint" },
		{ "sequence number past the middle", HTC_REC_DATA_D, 2, 20, 6, 10, "XYZW", 4, 0,
		  "sequence number runs past" },
	};
	static const char ref[] = "0123456789abcdefghij";	/* 20 bytes */
	uint8_t c[1024];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t n = 0;
		struct dread d;

		/* the reference: a literal read, then the case, then a good
		 * record whose reference is the literal again */
		n += crec(c + n, HTC_REC_DATA_C, 1, 20, 0, 0, ref, 20);
		n += crec(c + n, cases[k].type, cases[k].conn, cases[k].cap_len, cases[k].pre,
			  cases[k].suf, cases[k].mid, cases[k].midlen);
		if (!strcmp(cases[k].name, "bad varint"))
			memset(c + n - 11, 0x80, 11);	/* unterminated varints */
		if (cases[k].ok || cases[k].conn == 1) {
			/* after a valid delta or a CONN, the reference is
			 * that record's payload: a literal again */
			n += crec(c + n, HTC_REC_DATA_C, 0, 20, 0, 0, ref, 20);
		}
		n += crec(c + n, HTC_REC_DATA_D, 0, 20, 20, 0, "", 0);
		d = read_frame(c, n);
		print_message("case '%s': %u read, %llu skipped, warn '%s'\n", cases[k].name, d.got,
			      (unsigned long long)d.skipped, d.w.last);
		if (cases[k].ok) {
			assert_int_equal(d.skipped, 0);
			assert_int_equal(d.got, 4);
			assert_int_equal(d.w.n, 0);
			/* the case's payload, checked through a reader of its own */
			n = crec(c, HTC_REC_DATA_C, 1, 20, 0, 0, ref, 20);
			n += crec(c + n, cases[k].type, 0, cases[k].cap_len, cases[k].pre, cases[k].suf,
				  cases[k].mid, cases[k].midlen);
			d = read_frame(c, n);
			assert_string_equal(d.last, cases[k].want);
		} else {
			assert_int_equal(d.skipped, 1);
			assert_int_equal(d.got, cases[k].conn == 1 ? 3 : 2);
			assert_int_equal(d.w.n, 1);
			assert_int_equal(d.w.last_err, HTC_ERR_CORRUPT);
			assert_non_null(strstr(d.w.last, cases[k].want));
			assert_string_equal(d.last, ref);
		}
	}

	/* 64 MiB of rebuilt payload per frame, and not a byte more: 65,536
	 * deltas of 1 KiB are read (each a copy: prefix and suffix), the
	 * next two are skipped; a small frame cannot become gigabytes */
	{
		enum { ND = (HTC_MAX_DELTA_BYTES >> 10) + 2 };
		static uint8_t lit[1024];
		size_t cap = (size_t)ND * 32 + 2048, n = 0;
		uint8_t *big = malloc(cap);
		struct dread d;

		memset(lit, 'q', sizeof(lit));
		n += crec(big + n, HTC_REC_DATA_C, 1, sizeof(lit), 0, 0, lit, sizeof(lit));
		for (unsigned i = 0; i < ND; i++)
			n += crec(big + n, HTC_REC_DATA_D, 0, 1024, 1000, 20, "qqqq", 4);
		assert_true(n <= cap);
		d = read_frame(big, n);
		print_message("arena limit: %u read, %llu skipped, warn '%s'\n", d.got,
			      (unsigned long long)d.skipped, d.w.last);
		assert_int_equal(d.got, 1 + ND - 2);
		assert_int_equal(d.skipped, 2);
		assert_int_equal(d.w.last_err, HTC_ERR_CORRUPT);
		assert_non_null(strstr(d.w.last, "64 MiB"));
		free(big);
	}
}

/* Frames that lie about themselves. */
static void test_hostile_frames(void **state)
{
	struct buf h = header_only();
	uint8_t *f = calloc(1, 1 << 20), good[64];
	size_t n, gl = loss_rec(good, 555, 1, 1, 0);
	struct readout o;
	uint8_t big[2000];

	memset(big, 'A', sizeof(big));
	/* 1: declared content size of 1 GiB (single segment, 8-byte FCS) */
	memcpy(f, h.p, h.len);
	n = h.len;
	put_le32(f + n, HTC_ZSTD_MAGIC);
	f[n + 4] = 0xE0;
	put_le64(f + n + 5, 1ull << 30);
	put_le32(f + n + 13, 1 | (1 << 1) | (100 << 3));	/* last RLE block */
	n += 17;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.st.frames_bad, 1);
	assert_non_null(strstr(o.w.first, "beyond the"));

	/* 2: no content size in the frame header */
	n = h.len;
	n += zframe(f + n, 4096, big, sizeof(big), 1, 0);
	n += zframe(f + n, 1024, good, gl, 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.st.frames_bad, 1);
	assert_non_null(strstr(o.w.first, "no content size"));

	/* 3: garbage between frames, then a good frame */
	n = h.len;
	memset(f + n, 0x55, 1000);
	n += 1000;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.st.frames_bad, 1);
	assert_non_null(strstr(o.w.last, "skipped 1000 bytes"));

	/* 4: someone else's skippable frame is skipped silently */
	n = h.len;
	put_le32(f + n, 0x184D2A5E);
	put_le32(f + n + 4, 100);
	n += 108;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.w.n, 0);

	/* 5: a skippable frame claiming 4 GiB at the end: truncated */
	n = h.len;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	put_le32(f + n, 0x184D2A5E);
	put_le32(f + n + 4, 0xffffffffu);
	n += 8 + 50;
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.st.truncated, 1);

	/* 6: a trailer claiming 4 GiB: ignored with a message */
	n = h.len;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	put_le32(f + n, HTC_SKIP_TRAILER);
	put_le32(f + n + 4, 0xffffffffu);
	n += 8 + 50;
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.have_trailer, 0);
	assert_non_null(strstr(o.w.first, "beyond the"));

	/* 7: a trailer whose frame count overruns its body */
	{
		uint8_t t[HTC_TRL_FIXED + HTC_TRL_ENTRY] = { 0 };
		size_t z;

		put_le32(t, HTC_TRL_FIXED);
		put_le32(t + 4, HTC_TRL_ENTRY);
		put_le32(t + 8, 0x10000000u);
		n = h.len;
		put_le32(f + n, HTC_SKIP_TRAILER);
		memcpy(f + n + 8, HTC_TRL_MAGIC, 8);
		put_le16(f + n + 16, 1);
		put_le16(f + n + 18, 0);
		put_le32(f + n + 20, 0);
		z = zframe_ml(f + n + 24, 1024, t, sizeof(t));
		put_le32(f + n + 4, (uint32_t)(16 + z));
		n += 24 + z;
		o = read_all_mem(f, n, NULL, 0);
		assert_int_equal(o.have_trailer, 0);
		assert_non_null(strstr(o.w.first, "inconsistent"));
		/* entry size smaller than 40 is refused too */
		put_le32(t + 4, 8);
		put_le32(t + 8, 1);
		n = h.len;
		z = zframe_ml(f + n + 24, 1024, t, sizeof(t));
		put_le32(f + n + 4, (uint32_t)(16 + z));
		n += 24 + z;
		o = read_all_mem(f, n, NULL, 0);
		assert_int_equal(o.have_trailer, 0);
		assert_non_null(strstr(o.w.first, "inconsistent"));
		/* a good trailer built the same way is taken */
		put_le32(t + 4, HTC_TRL_ENTRY);
		put_le64(t + 16, 12345);
		n = h.len;
		z = zframe_ml(f + n + 24, 1024, t, sizeof(t));
		put_le32(f + n + 4, (uint32_t)(16 + z));
		n += 24 + z;
		o = read_all_mem(f, n, NULL, 0);
		assert_int_equal(o.have_trailer, 1);
		assert_int_equal(o.w.n, 0);
	}

	/* 8: frame whose first block claims more than 128 KiB */
	n = h.len;
	put_le32(f + n, HTC_ZSTD_MAGIC);
	f[n + 4] = 0x20;	/* single segment, 1-byte FCS */
	f[n + 5] = 10;
	put_le32(f + n + 6, 1 | (0 << 1) | ((1u << 20) << 3));
	n += 9;
	n += zframe(f + n, 1024, good, gl, 1, 1);
	o = read_all_mem(f, n, NULL, 0);
	assert_int_equal(o.got, 1);
	assert_int_equal(o.st.frames_bad, 1);

	/* 9: bytes 1..3 after the last frame */
	for (int k = 1; k <= 3; k++) {
		n = h.len;
		n += zframe(f + n, 1024, good, gl, 1, 1);
		memset(f + n, 0x28, (size_t)k);
		o = read_all_mem(f, n + (size_t)k, NULL, 0);
		assert_int_equal(o.got, 1);
		assert_int_equal(o.st.truncated, 1);
	}
	free(f);
	free(h.p);
}

/* Bad magic, versions and header lengths, all at open. */
static void test_bad_files(void **state)
{
	struct buf h = header_only();
	uint8_t b[8192];
	struct {
		const char *why;
		size_t off;	/* patch a le32 / le16 at off (0 = none) */
		int width;
		uint32_t val;
		size_t len;	/* bytes of the patched header to keep */
		int err;
	} cases[] = {
		{ "intact", 0, 0, 0, h.len, 0 },
		{ "future minor is fine", 18, 2, 99, h.len, 0 },
		{ "future major", 16, 2, 2, h.len, HTC_ERR_VERSION },
		{ "major 0", 16, 2, 0, h.len, HTC_ERR_VERSION },
		{ "wrong skippable nibble", 0, 4, 0x184D2A50, h.len, HTC_ERR_MAGIC },
		{ "plain zstd frame", 0, 4, HTC_ZSTD_MAGIC, h.len, HTC_ERR_MAGIC },
		{ "wrong inner magic", 8, 4, 0x31435448, h.len, HTC_ERR_MAGIC },
		{ "header size 4 GiB", 4, 4, 0xffffffffu, h.len, HTC_ERR_TOOBIG },
		{ "header size below its prefix", 4, 4, 3, h.len, HTC_ERR_CORRUPT },
		{ "header size past the end", 4, 4, 5000, h.len, HTC_ERR_TRUNCATED },
		{ "header body flipped", 30, 4, 0x12345678, h.len, HTC_ERR_CORRUPT },
		{ "empty file", 0, 0, 0, 0, HTC_ERR_TRUNCATED },
		{ "3 bytes of magic", 0, 0, 0, 3, HTC_ERR_TRUNCATED },
		{ "magic only", 0, 0, 0, 8, HTC_ERR_TRUNCATED },
		{ "header cut", 0, 0, 0, 40, HTC_ERR_TRUNCATED },
	};

	assert_true(h.len < sizeof(b));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct readout o;

		memcpy(b, h.p, h.len);
		if (cases[i].width == 2)
			put_le16(b + cases[i].off, (uint16_t)cases[i].val);
		else if (cases[i].width == 4)
			put_le32(b + cases[i].off, cases[i].val);
		o = read_all_mem(b, cases[i].len, NULL, 0);
		print_message("%s: %s\n", cases[i].why, htc_strerror(o.open_err));
		if (cases[i].err == HTC_ERR_CORRUPT)	/* checksum or decoding */
			assert_true(o.open_err == HTC_ERR_CORRUPT || o.open_err == HTC_ERR_CHECKSUM);
		else
			assert_int_equal(o.open_err, cases[i].err);
	}
	/* not an .htc file at all */
	{
		const char *texts[] = { "GIF89a........", "\177ELF\002\001\001", "\x89PNG" };

		for (size_t i = 0; i < 3; i++) {
			struct readout o = read_all_mem(texts[i], strlen(texts[i]), NULL, 0);

			assert_int_equal(o.open_err, HTC_ERR_MAGIC);
		}
	}
	/* the error of a path that does not exist is errno's */
	{
		int err = 0;

		assert_null(htc_reader_open(tmp_path("nope.htc"), &err));
		assert_int_equal(err, -ENOENT);
		assert_null(htc_reader_open(NULL, &err));
		assert_int_equal(err, -EINVAL);
		assert_null(htc_reader_open_mem(NULL, 5, &err));
		assert_int_equal(err, -EINVAL);
	}
	free(h.p);
}

/* ---- writer errors and file handling ---- */

static void test_dev_full(void **state)
{
	struct htc_writer *w;
	int err = 0, fd;

	if (access("/dev/full", W_OK)) {
		skip();
		return;
	}
	w = htc_writer_open("/dev/full", NULL, NULL, &err);
	assert_null(w);
	assert_int_equal(err, -ENOSPC);
	assert_non_null(strstr(htc_strerror(err), "No space"));
	fd = open("/dev/full", O_WRONLY);
	assert_true(fd >= 0);
	err = 0;
	assert_null(htc_writer_fdopen(fd, NULL, NULL, &err));
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(fcntl(fd, F_GETFD), -1);	/* the writer closed it */
}

/*
 * A write error mid-capture (here EFBIG from RLIMIT_FSIZE, which fails a
 * write part-way like a full disk) is sticky, and leaves a file that reads
 * cleanly up to its last complete frame.
 */
static void test_write_error_keeps_file_valid(void **state)
{
	const char *path = tmp_path("efbig.htc");
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct htc_writer_opts o = { .frame_bytes = 3000 };
		struct rlimit rl = { 20000, 20000 };
		struct htc_writer_stats st;
		struct htc_writer *w;
		struct htc_record r;
		int err = 0;
		unsigned i;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl))
			_exit(10);
		w = htc_writer_open(path, NULL, &o, &err);
		if (!w)
			_exit(11);
		for (i = 0; i < 100000 && !err; i++) {
			mk_event(&r, i);
			/* incompressible payloads, so frames are big */
			r.ev.cap_len = 256;
			r.ev.payload = payload_bytes;
			err = htc_writer_append(w, &r);
		}
		if (err != -EFBIG)
			_exit(12);
		if (htc_writer_append(w, &r) != -EFBIG || htc_writer_flush(w) != -EFBIG)
			_exit(13);	/* not sticky */
		if (htc_writer_close(w, 0, &st) != -EFBIG || st.frames == 0)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		struct buf b = slurp(path);
		struct readout o = read_all_mem(b.p, b.len, NULL, 0);

		assert_true(b.len <= 20000);
		assert_int_equal(o.open_err, 0);
		assert_true(o.got > 0);
		assert_int_equal(o.st.truncated, 0);
		assert_int_equal(o.st.frames_bad, 0);
		assert_int_equal(o.st.stop_offset, b.len);
		assert_int_equal(o.have_trailer, 0);
		assert_int_equal(o.w.n, 0);
		free(b.p);
	}
}

static void test_file_mode_0600(void **state)
{
	const char *path = tmp_path("mode.htc");
	struct htc_writer *w;
	struct stat st;
	mode_t old = umask(0);
	int fd, err;

	/* a fresh file, and an existing world-readable one */
	unlink(path);
	for (int pass = 0; pass < 2; pass++) {
		w = htc_writer_open(path, NULL, NULL, &err);
		assert_non_null(w);
		assert_int_equal(htc_writer_close(w, 0, NULL), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		chmod(path, 0644);
	}
	umask(old);
	/* O_CLOEXEC */
	w = htc_writer_open(path, NULL, NULL, &err);
	assert_non_null(w);
	for (fd = 3; fd < 64; fd++) {
		char link[64], target[256];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (!strcmp(target, path))
				assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		}
	}
	htc_writer_close(w, 0, NULL);
}

static void test_zstdcat(void **state)
{
	char cmd[512];
	struct buf b = write_events(tmp_path("zc.htc"), 500, 2048);
	uint32_t nf, i;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	uint64_t usum = 0;
	struct buf out;
	int rc;

	if (system("command -v zstdcat >/dev/null 2>&1")) {
		free(fi);
		free(b.p);
		skip();
		return;
	}
	for (i = 0; i < nf; i++)
		usum += fi[i].usize;
	snprintf(cmd, sizeof(cmd), "zstdcat -q %s/zc.htc > %s/zc.raw", tmpdir, tmpdir);
	rc = system(cmd);
	assert_int_equal(rc, 0);
	out = slurp(tmp_path("zc.raw"));
	/* skippable frames produce nothing; data frames their records */
	assert_int_equal(out.len, usum);
	free(out.p);
	free(fi);
	free(b.p);
}

static void test_stdin(void **state)
{
	struct buf b = write_events(tmp_path("in.htc"), 100, 1024);
	int saved = dup(0), fd = open(tmp_path("in.htc"), O_RDONLY), err, n = 0;
	struct htc_reader *r;
	struct htc_record rec;

	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 0);
	close(fd);
	r = htc_reader_open("-", &err);
	assert_non_null(r);
	while (htc_reader_next(r, &rec) == 1)
		check_event(&rec, (unsigned)n++);
	assert_int_equal(n, 100);
	assert_non_null(htc_reader_trailer(r));
	htc_reader_close(r);
	dup2(saved, 0);
	close(saved);
	free(b.p);
}

/* Through a pipe (httpcap -w - | httpcap -r -): the writer cannot seek
 * and the reader gets short reads; everything arrives, trailer included. */
static void test_pipe(void **state)
{
	int p[2], saved, err, n = 0, status;
	struct htc_reader *r;
	struct htc_record rec;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct htc_writer_opts o = { .frame_bytes = 700 };
		struct htc_writer *w;

		close(p[0]);
		w = htc_writer_fdopen(p[1], NULL, &o, &err);
		if (!w)
			_exit(1);
		for (unsigned i = 0; i < 500; i++) {
			mk_event(&rec, i);
			if (htc_writer_append(w, &rec))
				_exit(2);
		}
		_exit(htc_writer_close(w, 0, NULL) ? 3 : 0);
	}
	close(p[1]);
	saved = dup(0);
	dup2(p[0], 0);
	close(p[0]);
	r = htc_reader_open("-", &err);
	assert_non_null(r);
	while (htc_reader_next(r, &rec) == 1)
		check_event(&rec, (unsigned)n++);
	assert_int_equal(n, 500);
	assert_non_null(htc_reader_trailer(r));
	/* offsets count from the start of the stream */
	assert_true(htc_reader_trailer(r)->frames[0].offset > 0);
	assert_true(htc_reader_trailer(r)->frames[0].offset < 1024);
	htc_reader_close(r);
	dup2(saved, 0);
	close(saved);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Frames bigger than the reader's initial buffer, and a record bigger than
 * frame_bytes, through the file reader. */
static void test_big_frames_from_file(void **state)
{
	const char *path = tmp_path("big.htc");
	struct htc_writer_opts o = { .frame_bytes = 4 << 20 };
	uint8_t *pay = malloc(3 << 20);
	struct htc_writer *w;
	struct htc_record r;
	struct htc_reader *rd;
	struct htc_reader_stats st;
	int err, n = 0;

	assert_non_null(pay);
	/* incompressible, so compressed frames are MiBs too */
	srand(1);
	for (size_t i = 0; i < (3u << 20); i++)
		pay[i] = (uint8_t)rand();
	w = htc_writer_open(path, NULL, &o, &err);
	assert_non_null(w);
	for (unsigned i = 0; i < 12; i++) {
		mk_event(&r, i);
		r.ev.payload = pay;
		r.ev.cap_len = i == 5 ? (3u << 20) : (700u << 10) + i;
		assert_int_equal(htc_writer_append(w, &r), 0);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
	rd = htc_reader_open(path, &err);
	assert_non_null(rd);
	while (htc_reader_next(rd, &r) == 1) {
		assert_int_equal(r.ev.cap_len, n == 5 ? (3u << 20) : (700u << 10) + (unsigned)n);
		assert_memory_equal(r.ev.payload, pay, r.ev.cap_len);
		n++;
	}
	assert_int_equal(n, 12);
	htc_reader_stats(rd, &st);
	assert_true(st.frames_ok >= 3);
	htc_reader_close(rd);
	free(pay);
}

/* Two captures one after the other (cat a b): both read, last trailer. */
static void test_concatenated(void **state)
{
	struct buf a = write_events(tmp_path("ca.htc"), 100, 1024);
	struct buf b = write_events_from(tmp_path("cb.htc"), 100, 50, 1024);
	uint8_t *c = malloc(a.len + b.len);
	struct readout o;

	memcpy(c, a.p, a.len);
	memcpy(c + a.len, b.p, b.len);
	o = read_all_mem(c, a.len + b.len, NULL, 0);
	assert_int_equal(o.got, 150);
	assert_int_equal(o.have_trailer, 1);
	assert_int_equal(o.w.n, 0);
	free(c);
	free(a.p);
	free(b.p);
}

/* A frame repeated byte for byte (a broken copy, a hostile file, the same
 * file given twice through one stream) is skipped with a warning and
 * counted, so its records do not count twice; every other record comes
 * back once. */
static void test_repeated_frames(void **state)
{
	enum { N = 200 };
	struct buf b = write_events(tmp_path("rep.htc"), N, 1024);
	uint32_t nf;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	uint8_t seen[N] = { 0 };
	struct readout o;
	size_t dlen;
	uint8_t *d;

	(void)state;
	assert_true(nf >= 3);
	/* frame 1 again right after itself, and frame 0 again at the end of
	 * the data frames (before the trailer) */
	dlen = b.len + fi[1].csize + fi[0].csize;
	d = malloc(dlen);
	assert_non_null(d);
	{
		size_t at = fi[2].offset, end = fi[nf - 1].offset + fi[nf - 1].csize, o2 = 0;

		memcpy(d, b.p, at);
		o2 = at;
		memcpy(d + o2, b.p + fi[1].offset, fi[1].csize);
		o2 += fi[1].csize;
		memcpy(d + o2, b.p + at, end - at);
		o2 += end - at;
		memcpy(d + o2, b.p + fi[0].offset, fi[0].csize);
		o2 += fi[0].csize;
		memcpy(d + o2, b.p + end, b.len - end);
		o2 += b.len - end;
		assert_int_equal(o2, dlen);
	}
	o = read_all_mem(d, dlen, seen, N);
	assert_int_equal(o.open_err, 0);
	assert_int_equal(o.bad_event, 0);
	assert_int_equal(o.got, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(o.st.frames_dup, 2);
	assert_int_equal(o.st.frames_ok, nf);
	assert_int_equal(o.st.frames_bad, 0);
	assert_int_equal(o.w.n, 2);
	free(d);
	free(fi);
	free(b.p);
}

/* The file reader (bounded window, reads in pieces) agrees with the memory
 * reader on truncated and damaged files, including garbage longer than its
 * scan window. */
static void test_file_reader_recovery(void **state)
{
	enum { N = 300 };
	struct buf b = write_events(tmp_path("fr.htc"), N, 1024);
	uint32_t nf;
	struct htc_frame_info *fi = frame_index(&b, &nf);
	size_t glen = 200000;
	uint8_t *g = malloc(b.len + glen);
	const char *path = tmp_path("fr2.htc");
	struct {
		size_t len;
		size_t flip;	/* 0 = none */
		int garbage;	/* insert glen bytes of garbage after frame 2 */
	} cases[] = {
		{ b.len, 0, 0 },
		{ fi[4].offset + 7, 0, 0 },
		{ b.len - 3, 0, 0 },
		{ b.len, fi[2].offset + 40, 0 },
		{ b.len, 0, 1 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t len = cases[k].len, cut = fi[3].offset;
		struct readout m;
		struct warns w = { 0 };
		struct htc_reader *r;
		struct htc_reader_stats st;
		struct htc_record rec;
		unsigned got = 0;
		int err;

		if (cases[k].garbage) {
			memcpy(g, b.p, cut);
			memset(g + cut, 0x55, glen);
			memcpy(g + cut + glen, b.p + cut, b.len - cut);
			len = b.len + glen;
		} else {
			memcpy(g, b.p, len);
			if (cases[k].flip)
				g[cases[k].flip] ^= 0x40;
		}
		m = read_all_mem(g, len, NULL, 0);
		{
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			assert_true(fd >= 0);
			assert_int_equal(write(fd, g, len), (ssize_t)len);
			close(fd);
		}
		r = htc_reader_open(path, &err);
		assert_non_null(r);
		htc_reader_set_warn(r, on_warn, &w);
		while (htc_reader_next(r, &rec) == 1)
			got++;
		htc_reader_stats(r, &st);
		assert_int_equal(got, m.got);
		assert_int_equal(st.frames_ok, m.st.frames_ok);
		assert_int_equal(st.frames_bad, m.st.frames_bad);
		assert_int_equal(st.truncated, m.st.truncated);
		assert_int_equal(st.stop_offset, m.st.stop_offset);
		assert_int_equal(w.n, m.w.n);
		assert_int_equal(htc_reader_trailer(r) != NULL, m.have_trailer);
		if (cases[k].garbage) {
			assert_int_equal(got, N);
			assert_non_null(strstr(w.last, "skipped 200000 bytes"));
		}
		htc_reader_close(r);
	}
	free(g);
	free(fi);
	free(b.p);
}

/* A capture still being written reads up to its last flushed frame, with
 * no error; more appears as the writer goes on. */
static void test_live_file(void **state)
{
	const char *path = tmp_path("live.htc");
	struct htc_writer *w;
	struct htc_reader *r;
	struct htc_reader_stats st;
	struct htc_record rec;
	int err, got;

	w = htc_writer_open(path, NULL, NULL, &err);
	assert_non_null(w);
	for (int round = 1; round <= 3; round++) {
		for (unsigned i = 0; i < 10; i++) {
			mk_event(&rec, (unsigned)round * 100 + i);
			assert_int_equal(htc_writer_append(w, &rec), 0);
		}
		assert_int_equal(htc_writer_flush(w), 0);
		mk_event(&rec, (unsigned)round * 100 + 99);	/* one more, still buffered */
		assert_int_equal(htc_writer_append(w, &rec), 0);
		r = htc_reader_open(path, &err);
		assert_non_null(r);
		for (got = 0; htc_reader_next(r, &rec) == 1; got++)
			;
		htc_reader_stats(r, &st);
		assert_int_equal(got, round * 11 - 1);
		assert_int_equal(st.truncated, 0);
		assert_null(htc_reader_trailer(r));
		htc_reader_close(r);
	}
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
}

/* frame_ms: a frame reaches the file once its first record is that old,
 * through append and through poll. */
static void test_frame_timer_and_flush(void **state)
{
	struct htc_writer_opts o = { .frame_ms = 1 };
	struct timespec ts = { 0, 5 * 1000000 };
	struct htc_writer *w;
	struct htc_record r;
	uint64_t s0, s1;
	int err;

	w = htc_writer_open(tmp_path("timer.htc"), NULL, &o, &err);
	assert_non_null(w);
	s0 = htc_writer_size(w);
	mk_event(&r, 0);
	assert_int_equal(htc_writer_append(w, &r), 0);
	assert_int_equal(htc_writer_poll(w), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(htc_writer_size(w), s0);	/* buffered */
	assert_int_equal(htc_writer_poll(w), 0);
	s1 = htc_writer_size(w);
	assert_true(s1 > s0);
	/* through append: after 64 appends the clock is looked at */
	assert_int_equal(htc_writer_append(w, &r), 0);
	nanosleep(&ts, NULL);
	for (int i = 0; i < 64; i++)
		assert_int_equal(htc_writer_append(w, &r), 0);
	assert_true(htc_writer_size(w) > s1);
	/* flush writes what is open, and nothing when nothing is */
	assert_int_equal(htc_writer_append(w, &r), 0);
	s1 = htc_writer_size(w);
	assert_int_equal(htc_writer_flush(w), 0);
	assert_true(htc_writer_size(w) > s1);
	s1 = htc_writer_size(w);
	assert_int_equal(htc_writer_flush(w), 0);
	assert_int_equal(htc_writer_size(w), s1);
	assert_int_equal(htc_writer_close(w, 0, NULL), 0);
}

static void test_api_misuse(void **state)
{
	struct htc_writer_stats st;
	struct htc_reader_stats rs;
	struct htc_writer *w;
	struct htc_record r;
	int err;

	assert_int_equal(htc_writer_close(NULL, 0, &st), 0);
	assert_int_equal(st.records, 0);
	htc_reader_close(NULL);
	htc_reader_stats(NULL, &rs);
	assert_null(htc_reader_header(NULL));
	assert_null(htc_reader_trailer(NULL));
	assert_int_equal(htc_writer_append(NULL, &r), -EINVAL);
	assert_int_equal(htc_writer_flush(NULL), -EINVAL);
	assert_int_equal(htc_writer_size(NULL), 0);
	assert_null(htc_writer_open(NULL, NULL, NULL, &err));
	assert_int_equal(err, -EINVAL);
	assert_null(htc_writer_fdopen(-1, NULL, NULL, &err));
	assert_int_equal(err, -EBADF);
	assert_null(htc_writer_open(tmp_path("no/such/dir.htc"), NULL, NULL, &err));
	assert_int_equal(err, -ENOENT);

	w = htc_writer_open(tmp_path("misuse.htc"), NULL, NULL, &err);
	assert_non_null(w);
	memset(&r, 0, sizeof(r));
	r.type = 77;
	assert_int_equal(htc_writer_append(w, &r), -EINVAL);
	assert_int_equal(htc_writer_append(w, NULL), -EINVAL);
	mk_event(&r, 1);
	r.ev.payload = NULL;
	r.ev.cap_len = 5;
	assert_int_equal(htc_writer_append(w, &r), -EINVAL);
	r.ev.payload = payload_bytes;
	r.ev.cap_len = HTC_MAX_RECORD;	/* body = 128 + this: over the limit */
	assert_int_equal(htc_writer_append(w, &r), HTC_ERR_TOOBIG);
	memset(&r, 0, sizeof(r));
	r.type = HTC_REC_PROC;
	r.proc.exe_len = 3;
	assert_int_equal(htc_writer_append(w, &r), -EINVAL);
	/* rejected records are not errors of the writer */
	mk_event(&r, 1);
	assert_int_equal(htc_writer_append(w, &r), 0);
	assert_int_equal(htc_writer_close(w, 0, &st), 0);
	assert_int_equal(st.records, 1);
}

static void test_names(void **state)
{
	static const struct {
		const char *(*fn)(unsigned);
		unsigned v;
		const char *want;
	} t[] = {
		{ htc_event_type_name, HTC_EV_ACCEPT, "accept" },
		{ htc_event_type_name, HTC_EV_READ, "read" },
		{ htc_event_type_name, HTC_EV_CONNECT, "connect" },
		{ htc_event_type_name, HTC_EV_WRITE, "write" },
		{ htc_event_type_name, HTC_EV_CLOSE, "close" },
		{ htc_event_type_name, 99, "unknown" },
		{ htc_syscall_name, HTC_SYS_RECVFROM, "recvfrom" },
		{ htc_syscall_name, HTC_SYS_SENDFILE, "sendfile" },
		{ htc_syscall_name, HTC_SYS_EXIT, "exit" },
		{ htc_syscall_name, HTC_SYS__COUNT, "unknown" },
		{ htc_syscall_name, UINT32_MAX, "unknown" },
		{ htc_loss_reason_name, HTC_LOSS_RINGBUF_FULL, "ringbuf_full" },
		{ htc_loss_reason_name, HTC_LOSS_USER, "user" },
		{ htc_loss_reason_name, HTC_LOSS__COUNT, "unknown" },
		{ htc_rec_type_name, HTC_REC_DATA, "data" },
		{ htc_rec_type_name, HTC_REC_OPTIONS, "options" },
		{ htc_rec_type_name, 0, "unknown" },
	};
	static const struct {
		int err;
		const char *part;
	} e[] = {
		{ 0, "success" },
		{ HTC_ERR_MAGIC, "not an .htc" },
		{ HTC_ERR_VERSION, "newer" },
		{ HTC_ERR_TRUNCATED, "truncated" },
		{ HTC_ERR_CHECKSUM, "checksum" },
		{ HTC_ERR_CORRUPT, "corrupt" },
		{ HTC_ERR_TOOBIG, "limits" },
		{ HTC_ERR_STATE, "sequence" },
		{ -ENOENT, "No such file" },
		{ -HTC_ERR_BASE - 99, "unknown" },
		{ 5, "unknown" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_string_equal(t[i].fn(t[i].v), t[i].want);
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		assert_non_null(strstr(htc_strerror(e[i].err), e[i].part));
	/* every syscall and reason in the enums has a name */
	for (unsigned i = 1; i < HTC_SYS__COUNT; i++)
		assert_string_not_equal(htc_syscall_name(i), "unknown");
	for (unsigned i = 0; i < HTC_LOSS__COUNT; i++)
		assert_string_not_equal(htc_loss_reason_name(i), "unknown");
}

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof(payload_bytes); i++)
		payload_bytes[i] = (uint8_t)(i * 131 + 7);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_absurd_realtime_offset),
		cmocka_unit_test(test_comm_unterminated),
		cmocka_unit_test(test_golden_v1_0),
		cmocka_unit_test(test_multiframe_index),
		cmocka_unit_test(test_compact_roundtrip),
		cmocka_unit_test(test_tls_records),
		cmocka_unit_test(test_delta_roundtrip),
		cmocka_unit_test(test_delta_keepalive),
		cmocka_unit_test(test_delta_budget),
		cmocka_unit_test(test_delta_malformed),
		cmocka_unit_test(test_threaded_writer),
		cmocka_unit_test(test_truncate_every_offset),
		cmocka_unit_test(test_truncate_message),
		cmocka_unit_test(test_bitflip_every_frame),
		cmocka_unit_test(test_checksum_reported),
		cmocka_unit_test(test_bitflip_header_trailer),
		cmocka_unit_test(test_future_minor_unknown_record),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_hostile_frames),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_dev_full),
		cmocka_unit_test(test_write_error_keeps_file_valid),
		cmocka_unit_test(test_file_mode_0600),
		cmocka_unit_test(test_zstdcat),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_big_frames_from_file),
		cmocka_unit_test(test_concatenated),
		cmocka_unit_test(test_repeated_frames),
		cmocka_unit_test(test_file_reader_recovery),
		cmocka_unit_test(test_live_file),
		cmocka_unit_test(test_frame_timer_and_flush),
		cmocka_unit_test(test_api_misuse),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("format", tests, setup, teardown);
}
