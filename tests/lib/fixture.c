/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the .htc fixture builder of fixture.h: scripted syscalls in,
 * a capture file written with the libhtc writer out.  Test code only:
 * errors abort with a message instead of being returned.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX_MAX_CONNS 4096
#define FX_MAX_PROCS 64

struct fx_conn {
	uint64_t id;
	int32_t fd;
	uint32_t pid;
	uint16_t evflags;
	struct htc_endpoints ep;
	uint64_t off[2];	/* [0] read, [1] written */
	uint32_t seq[2];	/* TCP sequence number of the next byte, when has_seq */
	uint8_t has_seq[2];
	uint64_t toff[2];	/* the same of its TLS plaintext */
	int closed;
};

struct fx_pcomm {
	uint32_t pid;
	char comm[HTC_COMM_LEN];
};

struct fx {
	struct htc_writer *w;
	struct htc_header hdr;
	char *path;
	int memfd;
	uint64_t last_t;
	uint32_t nconns;
	struct fx_conn *conns;
	uint32_t nprocs;
	struct fx_pcomm procs[FX_MAX_PROCS];
	int next_fd;
	int64_t skew;
};

static void __attribute__((noreturn, format(printf, 1, 2))) fx_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fixture: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

struct fx *fx_open(const char *path, const char *hostname, int64_t realtime_offset_ns)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		fx_die("out of memory");
	fx->conns = calloc(FX_MAX_CONNS, sizeof(*fx->conns));
	if (!fx->conns)
		fx_die("out of memory");
	fx->memfd = -1;
	fx->next_fd = 5;
	if (path) {
		fx->path = strdup(path);
		if (!fx->path)
			fx_die("out of memory");
	}
	fx->hdr.version_major = HTC_VERSION_MAJOR;
	fx->hdr.version_minor = HTC_VERSION_MINOR;
	fx->hdr.flags = HTC_OPT_PAYLOAD;
	fx->hdr.snaplen = 65536;
	fx->hdr.realtime_offset_ns = realtime_offset_ns;
	fx->hdr.start_ns = 1000000000ULL;
	for (int i = 0; i < 16; i++)
		fx->hdr.capture_id[i] = (uint8_t)(0xf0 + i);
	snprintf(fx->hdr.hostname, sizeof(fx->hdr.hostname), "%s", hostname ? hostname : "fixture");
	snprintf(fx->hdr.kernel, sizeof(fx->hdr.kernel), "6.18.0-fixture");
	snprintf(fx->hdr.tool_version, sizeof(fx->hdr.tool_version), "fixture");
	return fx;
}

struct htc_header *fx_header(struct fx *fx)
{
	return &fx->hdr;
}

void fx_clock_skew(struct fx *fx, int64_t ns)
{
	fx->skew = ns;
}

int64_t fx_realtime_offset(const struct fx *fx)
{
	return fx->hdr.realtime_offset_ns;
}

/* The writer is opened lazily so fx_header() edits reach the file. */
static struct htc_writer *fx_writer(struct fx *fx)
{
	int err = 0;

	if (fx->w)
		return fx->w;
	if (fx->path) {
		fx->w = htc_writer_open(fx->path, &fx->hdr, NULL, &err);
	} else {
		int fd;

		fx->memfd = memfd_create("fixture", 0);
		if (fx->memfd < 0)
			fx_die("memfd_create: %s", strerror(errno));
		fd = dup(fx->memfd);
		if (fd < 0)
			fx_die("dup: %s", strerror(errno));
		fx->w = htc_writer_fdopen(fd, &fx->hdr, NULL, &err);
	}
	if (!fx->w)
		fx_die("cannot open writer on '%s': %s", fx->path ? fx->path : "memory",
		       htc_strerror(err));
	return fx->w;
}

void fx_record(struct fx *fx, const struct htc_record *rec)
{
	int err = htc_writer_append(fx_writer(fx), rec);

	if (err)
		fx_die("append of record type %u failed: %s", rec->type, htc_strerror(err));
}

static const char *fx_comm(struct fx *fx, uint32_t pid, char *buf)
{
	for (uint32_t i = 0; i < fx->nprocs; i++)
		if (fx->procs[i].pid == pid)
			return fx->procs[i].comm;
	snprintf(buf, HTC_COMM_LEN, "proc%u", pid);
	return buf;
}

static void fx_addr(const char *txt, uint8_t *out, uint8_t *family)
{
	if (inet_pton(AF_INET, txt, out) == 1) {
		*family = HTC_AF_INET;
		return;
	}
	if (inet_pton(AF_INET6, txt, out) == 1) {
		*family = HTC_AF_INET6;
		return;
	}
	fx_die("bad address '%s'", txt);
}

static struct fx_conn *fx_new_conn(struct fx *fx, uint32_t pid, const char *laddr, uint16_t lport,
				   const char *raddr, uint16_t rport, uint8_t role)
{
	struct fx_conn *c;
	uint8_t fam2 = 0;

	if (fx->nconns >= FX_MAX_CONNS)
		fx_die("more than %d connections", FX_MAX_CONNS);
	c = &fx->conns[fx->nconns++];
	memset(c, 0, sizeof(*c));
	c->id = fx->nconns;
	c->fd = fx->next_fd++;
	c->pid = pid;
	c->ep.role = role;
	c->ep.lport = lport;
	c->ep.rport = rport;
	fx_addr(laddr, c->ep.laddr, &c->ep.family);
	fx_addr(raddr, c->ep.raddr, &fam2);
	if (fam2 != c->ep.family)
		fx_die("address families differ: '%s' and '%s'", laddr, raddr);
	return c;
}

static struct fx_conn *fx_conn(struct fx *fx, uint64_t conn)
{
	if (conn == 0 || conn > fx->nconns)
		fx_die("unknown conn %llu", (unsigned long long)conn);
	return &fx->conns[conn - 1];
}

static void fx_event(struct fx *fx, struct fx_conn *c, uint8_t type, uint8_t sys, uint64_t t,
		     uint32_t pid, uint32_t tid, int64_t ret, const void *payload, uint32_t cap_len)
{
	struct htc_record rec;
	struct htc_event *ev = &rec.ev;
	char cbuf[HTC_COMM_LEN];

	memset(&rec, 0, sizeof(rec));
	rec.type = (type == HTC_EV_READ || type == HTC_EV_WRITE) ? HTC_REC_DATA : HTC_REC_CONN;
	ev->type = type;
	ev->syscall = sys;
	ev->flags = c->evflags;
	ev->pid = pid;
	ev->tid = tid;
	ev->fd = c->fd;
	ev->ts_ns = (uint64_t)((int64_t)t + fx->skew);
	ev->dur_ns = 1000;
	ev->conn_id = c->id;
	snprintf(ev->comm, sizeof(ev->comm), "%s", fx_comm(fx, pid, cbuf));
	ev->ep = c->ep;
	ev->ret = ret;
	if (type == HTC_EV_READ || type == HTC_EV_WRITE) {
		int d = type == HTC_EV_WRITE;

		ev->stream_off = c->off[d];
		c->off[d] += (uint64_t)ret;
		if (c->has_seq[d] && !(c->evflags & HTC_EVF_TLS)) {	/* plaintext: none */
			ev->flags |= HTC_EVF_SEQ;
			ev->tcp_seq = c->seq[d];
			c->seq[d] += (uint32_t)ret;
		}
	} else if (type == HTC_EV_CLOSE) {
		ev->stream_off = c->off[0];
		ev->stream_off2 = c->off[1];
	}
	ev->cap_len = cap_len;
	ev->payload = payload;
	if (ev->ts_ns > fx->last_t)
		fx->last_t = ev->ts_ns;
	fx_record(fx, &rec);
}

uint64_t fx_accept(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
		   const char *laddr, uint16_t lport, const char *raddr, uint16_t rport)
{
	struct fx_conn *c = fx_new_conn(fx, pid, laddr, lport, raddr, rport, HTC_ROLE_SERVER);

	fx_event(fx, c, HTC_EV_ACCEPT, HTC_SYS_ACCEPT4, t, pid, tid, c->fd, NULL, 0);
	return c->id;
}

uint64_t fx_connect_ret(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
			const char *laddr, uint16_t lport, const char *raddr, uint16_t rport,
			int64_t ret)
{
	struct fx_conn *c = fx_new_conn(fx, pid, laddr, lport, raddr, rport, HTC_ROLE_CLIENT);

	fx_event(fx, c, HTC_EV_CONNECT, HTC_SYS_CONNECT, t, pid, tid, ret, NULL, 0);
	return c->id;
}

uint64_t fx_connect(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
		    const char *laddr, uint16_t lport, const char *raddr, uint16_t rport)
{
	return fx_connect_ret(fx, t, pid, tid, laddr, lport, raddr, rport, 0);
}

uint64_t fx_preexisting(struct fx *fx, uint32_t pid, const char *laddr, uint16_t lport,
			const char *raddr, uint16_t rport, uint8_t role)
{
	struct fx_conn *c = fx_new_conn(fx, pid, laddr, lport, raddr, rport, role);

	c->evflags = HTC_EVF_PREEXISTING;
	return c->id;
}

void fx_read_cut(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
		 const void *bytes, size_t cap_len, size_t ret)
{
	if (cap_len > ret || ret == 0)
		fx_die("read of %zu bytes with %zu captured", ret, cap_len);
	fx_event(fx, fx_conn(fx, conn), HTC_EV_READ, HTC_SYS_READ, t, pid, tid, (int64_t)ret,
		 bytes, (uint32_t)cap_len);
}

void fx_write_cut(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
		  const void *bytes, size_t cap_len, size_t ret)
{
	if (cap_len > ret || ret == 0)
		fx_die("write of %zu bytes with %zu captured", ret, cap_len);
	fx_event(fx, fx_conn(fx, conn), HTC_EV_WRITE, HTC_SYS_WRITE, t, pid, tid, (int64_t)ret,
		 bytes, (uint32_t)cap_len);
}

void fx_read(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
	     const void *bytes, size_t len)
{
	fx_read_cut(fx, t, pid, tid, conn, bytes, len, len);
}

void fx_write(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
	      const void *bytes, size_t len)
{
	fx_write_cut(fx, t, pid, tid, conn, bytes, len, len);
}

void fx_reads(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, const char *s)
{
	fx_read(fx, t, pid, tid, conn, s, strlen(s));
}

void fx_writes(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, const char *s)
{
	fx_write(fx, t, pid, tid, conn, s, strlen(s));
}

void fx_tls(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, uint8_t type,
	    uint8_t sys, const char *s)
{
	struct fx_conn *c = fx_conn(fx, conn);
	uint64_t off[2] = { c->off[0], c->off[1] };
	uint16_t flags = c->evflags;

	/* the plaintext is a stream of its own: its offsets, its flag */
	c->off[0] = c->toff[0];
	c->off[1] = c->toff[1];
	c->evflags = (uint16_t)((flags & ~HTC_EVF_TLS_CIPHER) | HTC_EVF_TLS);
	fx_event(fx, c, type, sys, t, pid, tid, (int64_t)strlen(s), s, (uint32_t)strlen(s));
	c->toff[0] = c->off[0];
	c->toff[1] = c->off[1];
	c->off[0] = off[0];
	c->off[1] = off[1];
	c->evflags = flags;
}

void fx_tls_cipher(struct fx *fx, uint64_t conn)
{
	fx_conn(fx, conn)->evflags |= HTC_EVF_TLS_CIPHER;
}

void fx_skip(struct fx *fx, uint64_t conn, uint8_t dir, uint64_t n)
{
	struct fx_conn *c = fx_conn(fx, conn);

	c->off[dir == HTC_EV_WRITE] += n;
	c->seq[dir == HTC_EV_WRITE] += (uint32_t)n;
}

void fx_seq(struct fx *fx, uint64_t conn, uint8_t dir, uint32_t seq)
{
	struct fx_conn *c = fx_conn(fx, conn);

	c->seq[dir == HTC_EV_WRITE] = seq;
	c->has_seq[dir == HTC_EV_WRITE] = 1;
}

void fx_seq_skip(struct fx *fx, uint64_t conn, uint8_t dir, uint32_t n)
{
	fx_conn(fx, conn)->seq[dir == HTC_EV_WRITE] += n;
}

void fx_close_ret(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, int64_t ret)
{
	struct fx_conn *c = fx_conn(fx, conn);

	fx_event(fx, c, HTC_EV_CLOSE, HTC_SYS_CLOSE, t, pid, tid, ret, NULL, 0);
	c->closed = 1;
}

void fx_close(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn)
{
	fx_close_ret(fx, t, pid, tid, conn, 0);
}

void fx_proc(struct fx *fx, uint64_t t, uint32_t pid, uint32_t ppid, const char *comm,
	     const char *exe, const char *cmdline)
{
	struct htc_record rec;
	struct fx_pcomm *pc = NULL;

	for (uint32_t i = 0; i < fx->nprocs; i++)
		if (fx->procs[i].pid == pid)
			pc = &fx->procs[i];
	if (!pc) {
		if (fx->nprocs >= FX_MAX_PROCS)
			fx_die("more than %d processes", FX_MAX_PROCS);
		pc = &fx->procs[fx->nprocs++];
	}
	pc->pid = pid;
	snprintf(pc->comm, sizeof(pc->comm), "%s", comm);

	memset(&rec, 0, sizeof(rec));
	rec.type = HTC_REC_PROC;
	rec.proc.ts_ns = t;
	rec.proc.pid = pid;
	rec.proc.ppid = ppid;
	snprintf(rec.proc.comm, sizeof(rec.proc.comm), "%s", comm);
	rec.proc.exe = exe ? exe : "";
	rec.proc.exe_len = (uint32_t)strlen(rec.proc.exe);
	rec.proc.cmdline = cmdline ? cmdline : comm;
	rec.proc.cmdline_len = (uint32_t)strlen(rec.proc.cmdline);
	rec.proc.cgroup = "";
	rec.proc.container = "";
	fx_record(fx, &rec);
}

void fx_rotate(struct fx *fx, const char *path, uint64_t t)
{
	int err;

	if (!fx->path || !path)
		fx_die("fx_rotate: only files rotate");
	fx_writer(fx);
	err = htc_writer_close(fx->w, t, NULL);
	if (err)
		fx_die("closing writer: %s", htc_strerror(err));
	fx->w = NULL;
	free(fx->path);
	fx->path = strdup(path);
	if (!fx->path)
		fx_die("out of memory");
	/* what httpcap's rotation does: the same header (capture id, host,
	 * clock offset), the new file's start, the next number if numbered */
	fx->hdr.start_ns = t;
	if (fx->hdr.file_seq)
		fx->hdr.file_seq++;
}

int fx_finish(struct fx *fx, void **buf, size_t *len)
{
	int err;

	fx_writer(fx);
	err = htc_writer_close(fx->w, fx->last_t, NULL);
	if (err)
		fx_die("closing writer: %s", htc_strerror(err));
	if (buf && len) {
		int fd = fx->memfd;
		struct stat st;
		size_t got = 0;

		if (fd < 0) {
			fd = open(fx->path, O_RDONLY);
			if (fd < 0)
				fx_die("open '%s': %s", fx->path, strerror(errno));
		}
		if (fstat(fd, &st))
			fx_die("fstat: %s", strerror(errno));
		*buf = malloc((size_t)st.st_size + 1);
		if (!*buf)
			fx_die("out of memory");
		while (got < (size_t)st.st_size) {
			ssize_t n = pread(fd, (char *)*buf + got, (size_t)st.st_size - got, (off_t)got);

			if (n <= 0)
				fx_die("reading back the fixture: %s", n ? strerror(errno) : "short file");
			got += (size_t)n;
		}
		*len = got;
		if (fd != fx->memfd)
			close(fd);
	}
	if (fx->memfd >= 0)
		close(fx->memfd);
	free(fx->path);
	free(fx->conns);
	free(fx);
	return 0;
}

/* ---- scenarios ---- */

#define MS 1000000ULL

uint64_t fx_scenario_keepalive(struct fx *fx, uint64_t t0)
{
	uint64_t t = t0, c;
	const uint32_t P = 100;

	fx_proc(fx, t, P, 1, "web", "/usr/bin/web", "web");
	c = fx_accept(fx, t += MS, P, P, "10.0.0.1", 8080, "10.0.0.9", 40000);

	fx_reads(fx, t += MS, P, P, c, "GET /index.html HTTP/1.1\r\nHost: example.test\r\n"
		 "User-Agent: fixture\r\n\r\n");
	fx_writes(fx, t += 2 * MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
		  "Content-Type: text/plain\r\n\r\nhello world\n");

	fx_reads(fx, t += MS, P, P, c, "POST /api/items HTTP/1.1\r\nHost: example.test\r\n"
		 "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n");
	fx_reads(fx, t += MS, P, P, c, "{\"name\":\"x\"}");
	fx_writes(fx, t += 3 * MS, P, P, c, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "7\r\n{\"id\":7\r\n");
	fx_writes(fx, t += MS, P, P, c, "1\r\n}\r\n0\r\n\r\n");

	fx_reads(fx, t += MS, P, P, c, "GET /missing HTTP/1.1\r\nHost: example.test\r\n\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");

	fx_reads(fx, t += MS, P, P, c, "HEAD /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n");
	fx_writes(fx, t += MS, P, P, c, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");

	fx_reads(fx, t += MS, P, P, c, "GET /boom HTTP/1.1\r\nHost: example.test\r\n\r\n");
	fx_writes(fx, t += 5 * MS, P, P, c, "HTTP/1.1 500 Internal Server Error\r\n"
		  "Connection: close\r\nContent-Length: 4\r\n\r\nboom");
	fx_close(fx, t += MS, P, P, c);
	return t;
}

/* The two-service exchange; host addresses and times vary between the
 * one-host and two-host forms.  fb may equal fa. */
static uint64_t two_services(struct fx *fa, struct fx *fb, uint64_t t0_wall,
			     const char *ip_front, const char *ip_back)
{
	const uint32_t FP = 100, FT = 101, BP = 200, BT = 201;
	int64_t oa = fx_realtime_offset(fa), ob = fx_realtime_offset(fb);
	uint64_t w = t0_wall, cin, cout, sin, r1, r2;

#define TA(x) ((uint64_t)((int64_t)(x) - oa))
#define TB(x) ((uint64_t)((int64_t)(x) - ob))
	fx_proc(fa, TA(w), FP, 1, "front", "/usr/bin/front", "front");
	fx_proc(fb, TB(w), BP, 1, "back", "/usr/bin/back", "back");

	cin = fx_accept(fa, TA(w += MS), FP, FT, ip_front, 8080, "10.0.0.9", 41000);
	fx_reads(fa, TA(w += MS), FP, FT, cin, "GET /order/42 HTTP/1.1\r\nHost: front\r\n\r\n");

	cout = fx_connect(fa, TA(w += MS), FP, FT, ip_front, 42000, ip_back, 9090);
	fx_writes(fa, TA(w += MS), FP, FT, cout, "GET /stock/42 HTTP/1.1\r\nHost: back\r\n\r\n");

	sin = fx_accept(fb, TB(w += MS), BP, BT, ip_back, 9090, ip_front, 42000);
	fx_reads(fb, TB(w += MS), BP, BT, sin, "GET /stock/42 HTTP/1.1\r\nHost: back\r\n\r\n");
	r2 = fx_connect(fb, TB(w += MS), BP, BT, ip_back, 43000, ip_back, 6379);
	fx_writes(fb, TB(w += MS), BP, BT, r2, "*2\r\n$3\r\nGET\r\n$8\r\nstock:42\r\n");
	fx_reads(fb, TB(w += MS), BP, BT, r2, "$1\r\n7\r\n");
	fx_writes(fb, TB(w += MS), BP, BT, sin, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nstock=7\n");

	fx_reads(fa, TA(w += MS), FP, FT, cout, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nstock=7\n");
	r1 = fx_connect(fa, TA(w += MS), FP, FT, ip_front, 43001, ip_front, 6379);
	fx_writes(fa, TA(w += MS), FP, FT, r1, "*3\r\n$3\r\nSET\r\n$8\r\norder:42\r\n$2\r\nok\r\n");
	fx_reads(fa, TA(w += MS), FP, FT, r1, "+OK\r\n");
	fx_writes(fa, TA(w += MS), FP, FT, cin, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");

	fx_close(fa, TA(w += MS), FP, FT, cout);
	fx_close(fb, TB(w += MS), BP, BT, sin);
	fx_close(fb, TB(w += MS), BP, BT, r2);
	fx_close(fa, TA(w += MS), FP, FT, r1);
	fx_close(fa, TA(w += MS), FP, FT, cin);
#undef TA
#undef TB
	return w;
}

uint64_t fx_scenario_two_services(struct fx *fx, uint64_t t0)
{
	return two_services(fx, fx, (uint64_t)((int64_t)t0 + fx_realtime_offset(fx)), "127.0.0.1",
			    "127.0.0.1") - (uint64_t)fx_realtime_offset(fx);
}

uint64_t fx_scenario_two_hosts(struct fx *a, struct fx *b, uint64_t t0_wall)
{
	return two_services(a, b, t0_wall, "10.0.0.1", "10.0.0.2");
}
