/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tls.bpf.h - TLS plaintext: uprobes on the read and write functions of
 * the TLS libraries (OpenSSL's SSL_read/SSL_write and their _ex forms,
 * GnuTLS's gnutls_record_recv/send, Go's crypto/tls (*Conn).Read/Write),
 * attached by capture/tls.c to each library or executable that has them.
 *
 * A library call is tied to its TCP connection by the socket syscalls the
 * same thread makes inside it: the entry probe stashes the call per thread
 * (tls_threads), the syscall exit path (tls_syscall, from exit_data) writes
 * the fd into it and marks the connection decrypted, and the return probe
 * emits the plaintext as an event of that connection (HCB_EVF_TLS, its own
 * stream offsets).  A call that made no syscall (the library had the bytes
 * buffered) uses the fd its TLS object was last seen on (tls_fds).  A
 * program that feeds its TLS library through memory (Node.js: libuv reads
 * the socket, then SSL_read decrypts from a memory BIO) makes no syscall in
 * any call: its SSL_read is tied to the socket the thread read last (the
 * bytes it decrypts), even one that returns no data yet (the handshake), so
 * that its TLS object is known when it first writes.  Go
 * needs neither: its tls.Conn leads to the fd (tls.Conn.conn -> *net.TCPConn
 * -> *netFD -> poll.FD.Sysfd), and since a goroutine may move to another
 * thread while it waits, its calls are keyed by goroutine (the g pointer in
 * R14 of Go's register ABI), and probed at the function's return
 * instructions: a uretprobe rewrites the return address on the stack, which
 * Go's stack moving does not expect.
 *
 * Included by httpcap.bpf.c after its maps and helpers.
 */
#ifndef HTTPCAP_TLS_BPF_H
#define HTTPCAP_TLS_BPF_H

#include <bpf/bpf_tracing.h>

/* Set by capture/ (off with --no-tls): the syscall path does nothing more. */
const volatile bool tls_on = false;

/* A thread that calls a TLS library (OpenSSL, GnuTLS): its call in
 * progress, and the socket it read last. */
struct tls_call {
	__u64 ts;
	__u64 obj;	/* SSL * / gnutls_session_t */
	__u64 buf;
	__u64 outp;	/* SSL_*_ex: where the byte count is written; 0 otherwise */
	__s32 fd;	/* socket a syscall inside the call used; -1 none yet */
	__s32 last_rfd;	/* socket the thread read last; -1 none */
	__u8 sys;	/* HCB_SYS_SSL_READ...; 0: no call in progress */
	__u8 pad[7];
};

/* Kept in the thread's own task storage; the kernel frees it with the
 * thread.  The syscall path asks for it only in processes marked in
 * tls_procs, since the lookup is a helper call per data event. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tls_call);
} tls_threads SEC(".maps");

/*
 * Processes that have entered a TLS library call, one bit per tgid modulo
 * the table's size: only their threads can have a tls_threads entry, so
 * the syscall path asks for one only when the bit is set.  The task storage
 * lookup it saves cost ~45 ns per data event, 180 per request of four
 * (bpf_task_storage_get takes a per-CPU lock even to find nothing).  A bit is never cleared: another
 * process whose tgid shares it (a collision, a reused pid) pays the lookup
 * and finds nothing, as every process did before.
 */
#define TLS_PROC_BITS	(1 << 16)
__u64 tls_procs[TLS_PROC_BITS / 64] = {};

static __always_inline bool tls_proc_marked(__u32 tgid)
{
	__u32 i = tgid % TLS_PROC_BITS;

	return tls_procs[i / 64] & (1ULL << (i % 64));
}

static __always_inline void tls_proc_mark(__u32 tgid)
{
	__u32 i = tgid % TLS_PROC_BITS;

	if (!tls_proc_marked(tgid))
		__sync_fetch_and_or(&tls_procs[i / 64], 1ULL << (i % 64));
}

/* The fd each TLS object was last seen using. */
struct tls_obj {
	__u64 obj;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_CONNS);
	__type(key, struct tls_obj);
	__type(value, __s32);
} tls_fds SEC(".maps");

/* The plaintext streams of a decrypted connection, by the key of its
 * struct conn (kept apart: a bigger struct conn would grow the syscall
 * path's stack past BPF's 512 bytes). */
struct tls_stream {
	__u64 conn_id;	/* the connection they are of (fds are reused) */
	__u64 rx, tx;	/* plaintext bytes read / written so far */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct tls_stream);
} tls_streams SEC(".maps");

/* A Go (*Conn).Read/Write in progress, per goroutine. */
struct go_key {
	__u64 g;
	__u32 tgid;
	__u32 pad;
};

struct go_call {
	__u64 ts;
	__u64 conn;	/* *tls.Conn */
	__u64 buf;
	__u8 sys;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_INFLIGHT);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* From exit_data: a syscall of type on connection c (fd) by a thread that
 * uses a TLS library.  Inside a call, it ties the call to c, and c's
 * ciphertext is no longer kept.  A function of its own: inlined, its stack
 * would push exit_data's chain of calls past the 512 bytes BPF allows. */
__noinline int tls_syscall(int fd, struct conn *c, __u32 type)
{
	struct tls_call *a;

	if (!c)
		return 0;
	a = bpf_task_storage_get(&tls_threads, bpf_get_current_task_btf(), 0, 0);
	if (!a)
		return 0;
	if (type == HCB_EV_READ)
		a->last_rfd = fd;
	if (!a->sys)
		return 0;
	a->fd = fd;
	c->tls = 1;
	return 0;
}

/*
 * The plaintext event: reserved in this CPU's ring at the size that holds
 * its bytes, filled there, submitted.  Not assembled in the scratch slot
 * as the syscall events are: a uprobe program runs with migration
 * disabled but can be preempted (bpf_prog_run_array_uprobe; a kernel with
 * full preemption), and another task's event on this CPU would then
 * overwrite a shared slot between its filling and its output; a
 * reservation is this program's alone.  The sizes are powers of two from
 * 256 bytes to the largest snaplen, so a record takes at most twice its
 * bytes, and 256 bytes of payload room when it has fewer.  A program
 * preempted while it holds its reservation keeps the reader from the
 * records after it in this CPU's ring until it runs again, as it would
 * inside bpf_ringbuf_output's copy: the window is one header and one
 * payload copy long.
 */
static __always_inline int tls_out(struct conn *c, __u64 id, int fd, __u8 type, __u8 sys,
				   __u64 buf, __u64 bytes, __u64 t0, __u64 off)
{
	void *rb = cpu_ring();
	struct hcb_event *e = NULL;
	__u64 want = snap_len(bytes), room = 0;
	__u16 flags = HCB_EVF_TLS;

	if (!rb) {
		count(HCB_CNT_RINGBUF_FULL, 1);
		return 0;
	}
	/* a constant size per reservation: the verifier knows each one */
#define TLS_ROOM(n) else if (want <= (n)) { e = bpf_ringbuf_reserve(rb, sizeof(*e) + (n), 0); room = (n); }
	if (0) {
	}
	TLS_ROOM(256) TLS_ROOM(512) TLS_ROOM(1024) TLS_ROOM(2048) TLS_ROOM(4096)
	TLS_ROOM(8192) TLS_ROOM(16384) TLS_ROOM(32768) TLS_ROOM(HCB_MAX_SNAPLEN)
#undef TLS_ROOM
	if (!e) {
		count(HCB_CNT_RINGBUF_FULL, 1);
		return 0;
	}
	fill_header(e, c, id, fd, type, sys, bpf_get_current_task_btf()->comm);
	e->dur_ns = t0 ? e->ts_ns - t0 : 0;
	/* written: the bytes were the application's at the call's entry,
	 * before any of its ciphertext went out */
	if (type == HCB_EV_WRITE && t0)
		e->ts_ns = t0;
	e->ret = bytes;
	e->stream_off = off;
	if (want && bpf_probe_read_user(e->payload, want, (void *)buf)) {
		flags |= HCB_EVF_PARTIAL;
		count(HCB_CNT_PAYLOAD_READ, 1);
		want = 0;
	}
	e->cap_len = want;
	e->flags |= flags;	/* plaintext has no TCP sequence of its own */
	bpf_ringbuf_submit(e, rb_flags(rb, c, sizeof(*e) + room));
	return 0;
}

/* Emit bytes of plaintext at buf as a TLS event of connection (tgid, fd). */
__noinline int tls_emit(int fd, __u64 buf, __u64 bytes, __u64 t0, __u32 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = (id & 0xffffffff00000000ULL) | (__u32)fd;
	struct tls_stream *ts, nts = {};
	struct conn *c;
	__u64 off;
	__u8 type;

	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || c->ignored) {
		/* not a tracked TCP connection (or filtered out) */
		count(HCB_CNT_TLS_UNTIED, 1);
		return 0;
	}
	c->tls = 1;
	ts = bpf_map_lookup_elem(&tls_streams, &key);
	if (!ts || ts->conn_id != c->id) {
		nts.conn_id = c->id;
		if (bpf_map_update_elem(&tls_streams, &key, &nts, BPF_ANY)) {
			count(HCB_CNT_MAP_FULL, 1);
			return 0;
		}
		ts = bpf_map_lookup_elem(&tls_streams, &key);
		if (!ts)
			return 0;
	}
	type = (sys == HCB_SYS_SSL_READ || sys == HCB_SYS_GNUTLS_RECV ||
		sys == HCB_SYS_GO_TLS_READ) ? HCB_EV_READ : HCB_EV_WRITE;
	/* plaintext: a stream of its own beside the ciphertext */
	if (type == HCB_EV_READ)
		off = __sync_fetch_and_add(&ts->rx, bytes);
	else
		off = __sync_fetch_and_add(&ts->tx, bytes);
	count(HCB_CNT_TLS_EVENTS, 1);
	return tls_out(c, id, fd, type, sys, buf, bytes, t0, off);
}

static __always_inline int tls_enter(__u8 sys, __u64 obj, __u64 buf, __u64 outp)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p, a = { .last_rfd = -1 };

	if (task_filtered(id))
		return 0;
	tls_proc_mark(id >> 32);
	p = bpf_task_storage_get(&tls_threads, bpf_get_current_task_btf(), &a,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p) {
		count(HCB_CNT_MAP_FULL, 1);
		return 0;
	}
	p->ts = bpf_ktime_get_ns();
	p->obj = obj;
	p->buf = buf;
	p->outp = outp;
	p->fd = -1;
	p->sys = sys;
	return 0;
}

/* The call returns rc: bytes moved, or for the _ex forms 1 and the count
 * at outp. */
static __always_inline int tls_return(long rc)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_task_storage_get(&tls_threads, bpf_get_current_task_btf(), 0, 0);
	struct tls_obj k = {};
	struct tls_call a;
	__u64 bytes = 0;
	__s32 *f;

	if (!p || !p->sys)
		return 0;
	a = *p;
	p->sys = 0;
	/* OpenSSL's functions return int: -1 is 0xffffffff in RAX */
	if (a.sys == HCB_SYS_SSL_READ || a.sys == HCB_SYS_SSL_WRITE)
		rc = (int)rc;
	if (a.outp) {
		if (rc == 1 && bpf_probe_read_user(&bytes, sizeof(bytes), (void *)a.outp))
			bytes = 0;
	} else if (rc > 0) {
		bytes = rc;
	}
	k.obj = a.obj;
	k.tgid = id >> 32;
	f = bpf_map_lookup_elem(&tls_fds, &k);
	if (a.fd < 0) {
		if (f)
			a.fd = *f;
		else if (a.sys == HCB_SYS_SSL_READ || a.sys == HCB_SYS_GNUTLS_RECV)
			a.fd = a.last_rfd;	/* fed through memory: the last socket read */
		else if (bytes)
			count(HCB_CNT_TLS_UNTIED, 1);
		if (a.fd < 0)
			return 0;
	}
	/* even a call that moved nothing (a handshake step) ties its object;
	 * written only when new (an update costs more than the lookup) */
	if (!f || *f != a.fd)
		bpf_map_update_elem(&tls_fds, &k, &a.fd, BPF_ANY);
	if (!bytes)
		return 0;
	return tls_emit(a.fd, a.buf, bytes, a.ts, a.sys);
}

/* ---- OpenSSL 1.1 and 3 ---- */

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return tls_enter(HCB_SYS_SSL_READ, (__u64)ssl, (__u64)buf, 0);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return tls_enter(HCB_SYS_SSL_READ, (__u64)ssl, (__u64)buf, (__u64)readbytes);
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf)
{
	return tls_enter(HCB_SYS_SSL_WRITE, (__u64)ssl, (__u64)buf, 0);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{
	return tls_enter(HCB_SYS_SSL_WRITE, (__u64)ssl, (__u64)buf, (__u64)written);
}

/* The return of any of the four (and of GnuTLS's two): the entry said
 * which it was. */
SEC("uretprobe")
int BPF_KRETPROBE(tls_ret, long rc)
{
	return tls_return(rc);
}

/* ---- GnuTLS ---- */

/* ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size) */
SEC("uprobe")
int BPF_KPROBE(gnutls_recv_enter, void *session, void *data)
{
	return tls_enter(HCB_SYS_GNUTLS_RECV, (__u64)session, (__u64)data, 0);
}

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size) */
SEC("uprobe")
int BPF_KPROBE(gnutls_send_enter, void *session, void *data)
{
	return tls_enter(HCB_SYS_GNUTLS_SEND, (__u64)session, (__u64)data, 0);
}

/* ---- Go crypto/tls (register ABI, Go 1.17+; amd64) ---- */

#if defined(__TARGET_ARCH_x86)
/* Offsets in Go's structs, unchanged since Go 1.9: tls.Conn starts with
 * conn net.Conn (an interface: itab, data), a *net.TCPConn whose struct
 * starts with fd *netFD, whose pfd poll.FD has Sysfd after fdmu (16
 * bytes). */
#define GO_IFACE_DATA	8
#define GO_FD_SYSFD	16

static __always_inline int go_fd(__u64 conn)
{
	__u64 data = 0, nfd = 0;
	__s64 fd = -1;

	if (bpf_probe_read_user(&data, sizeof(data), (void *)(conn + GO_IFACE_DATA)) || !data ||
	    bpf_probe_read_user(&nfd, sizeof(nfd), (void *)data) || !nfd ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(nfd + GO_FD_SYSFD)))
		return -1;
	return fd < 0 || fd > 0x7fffffff ? -1 : (int)fd;
}

static __always_inline int go_enter(struct pt_regs *ctx, __u8 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = {};
	struct go_call a = {};

	if (task_filtered(id))
		return 0;
	k.g = ctx->r14;		/* the running goroutine */
	k.tgid = id >> 32;
	a.ts = bpf_ktime_get_ns();
	a.conn = ctx->ax;	/* c *Conn */
	a.buf = ctx->bx;	/* b []byte: ptr (len in cx) */
	a.sys = sys;
	if (bpf_map_update_elem(&go_calls, &k, &a, BPF_ANY))
		count(HCB_CNT_MAP_FULL, 1);
	return 0;
}

/* At a RET of the function: n int in RAX (err in RBX, RCX). */
static __always_inline int go_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = {};
	struct go_call *p, a;
	long n = ctx->ax;
	int fd;

	k.g = ctx->r14;
	k.tgid = id >> 32;
	p = bpf_map_lookup_elem(&go_calls, &k);
	if (!p)
		return 0;
	a = *p;
	bpf_map_delete_elem(&go_calls, &k);
	if (n <= 0)
		return 0;
	fd = go_fd(a.conn);
	if (fd < 0) {
		count(HCB_CNT_TLS_UNTIED, 1);
		return 0;
	}
	return tls_emit(fd, a.buf, n, a.ts, a.sys);
}

SEC("uprobe")
int go_tls_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, HCB_SYS_GO_TLS_READ);
}

SEC("uprobe")
int go_tls_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, HCB_SYS_GO_TLS_WRITE);
}

SEC("uprobe")
int go_tls_ret(struct pt_regs *ctx)
{
	return go_return(ctx);
}
#endif /* __TARGET_ARCH_x86 */

/*
 * A process calls exec: tell user space, which probes the new executable
 * (a Go program, OpenSSL linked in) and the TLS libraries it maps.  Woken
 * at once: a probe attached late misses the process's first calls.
 */
SEC("raw_tracepoint/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!tls_on || task_filtered(id))
		return 0;
	emit_task_event(HCB_EV_EXEC, id, true);
	return 0;
}

#endif /* HTTPCAP_TLS_BPF_H */
