// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * httpcap.bpf.c - the kernel side of httpcap: one BTF tracepoint on
 * raw_syscalls/sys_exit sees every TCP conversation of the host and puts one
 * event per data syscall into the ring buffer of the CPU it ran on.
 *
 * The exit program rejects what is not traced first (a syscall number not
 * in the set, a failed call, own process, pid/comm filters), then reads
 * the arguments from the saved user registers (still there at exit), checks
 * that the fd is a TCP socket, finds or creates the connection's state,
 * copies up to snaplen payload bytes from user memory and emits.  No entry
 * program runs for data syscalls: one program run per event.  The only
 * entry program is connect's (a classic syscall tracepoint, which runs for
 * connect() only), for the time a connection took to open.  Nothing is
 * dropped silently: every event that cannot be delivered is counted by
 * reason in a per-CPU array that user space turns into HTC_REC_LOSS
 * records.  Only tracepoints are used, since this project's kernels have
 * neither kprobes nor working fentry (design.md); sys_exit is attached as
 * a BTF tracepoint (tp_btf), so that the registers, the task and its fd
 * table are read with plain loads the verifier checks rather than a helper
 * call each.
 */
#include <vmlinux.h>	/* from $(BUILD)/bpf: regenerated, or bpf/vmlinux.h */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "httpcap_bpf.h"
#include "syscalls.bpf.h"

/* 1: the per-event reads are typed loads through bpf_rdonly_cast (Linux
 * 6.2); 0: bpf_probe_read_kernel calls (the compat object) */
#ifndef HCB_KCAST
#define HCB_KCAST 1
#endif

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define MSG_PEEK	2
#define MSG_ERRQUEUE	0x2000
#define MSG_TRUNC	0x20
#define PF_IO_WORKER	0x00000010
#define PF_KTHREAD	0x00200000
#define EINPROGRESS	115
#define EBADF		9

/* ---- settings, written by capture/ through the skeleton before load ---- */
const volatile __u32 self_tgid = 0;
const volatile __u32 snaplen = HCB_DEFAULT_SNAPLEN;
const volatile bool filter_pids = false;
const volatile bool filter_ports = false;
const volatile bool filter_comm = false;
const volatile bool filter_hosts = false;
/* --cgroup: the cgroup v2 id of the path and its depth in the hierarchy
 * (root = 0); 0 = no cgroup filter */
const volatile __u64 cgroup_id = 0;
const volatile __u32 cgroup_level = 0;
const volatile char comm_filter[HCB_COMM_LEN] = {};
/* Wake the reader only once this much is pending: a wakeup per event costs
 * more than the event (context switches on both sides), and the reader
 * polls with a short timeout anyway. */
const volatile __u64 wakeup_bytes = 256 << 10;

/* Set by user space once every program is attached, so that no event is
 * emitted from a half-attached set (an exit seen without its entry). */
volatile __u32 capture_on = 0;
/* Source of conn_id: a global counter is unique for the whole capture,
 * whatever fds and socket addresses the kernel reuses. */
__u64 conn_counter = 0;

/* ---- maps ---- */
/*
 * One ring buffer per CPU, in the slots of events (created and put there by
 * user space, sized from -B), so that CPUs never wait on each other's
 * events: one ring shared by every CPU serialised every event of the host
 * on its spinlock and producer position (measured with two CPUs, nginx on
 * one and its client on the other: ~450 ns of BPF time per request more
 * than the same events on one CPU).  User space merges the rings by
 * timestamp (capture/rings.c).
 */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);	/* a template: the rings are user space's */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);		/* set to the number of CPUs by user space */
	__type(key, __u32);
	__array(values, struct ring);
} events SEC(".maps");

/* Syscall arguments from entry to exit, per thread. */
struct args {
	__u64 ts;
	__u64 ptr;	/* buffer, iovec array, msghdr, mmsghdr array or sockaddr */
	__u64 sk;	/* struct sock * seen at entry, 0 when not a TCP socket */
	__u32 cnt;	/* iovcnt / vlen */
	__s32 fd;
	__u8 sys;	/* enum hcb_syscall */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_INFLIGHT);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct args);
} inflight SEC(".maps");

/* Per-connection state, keyed by (tgid << 32 | fd).  sk tells a reused fd
 * (dup2, exec, missed close) from the connection that had it before. */
struct conn {
	__u64 id;
	__u64 sk;
	/* the struct file and struct socket seen with sk: the data path's
	 * check (file->private_data is the socket, one read where the sk
	 * behind it took two) */
	__u64 file;
	__u64 sock;
	/* the socket's inode number (sockfs numbers them from a counter):
	 * with sk, what tells a socket from a later one at the same address */
	__u64 ino;
	__u64 rx, tx;	/* bytes read / written so far */
	__u16 flags;	/* HCB_EVF_PREEXISTING */
	__u8 family, role;
	__u16 lport, rport;
	__u8 ignored;	/* excluded by a connection filter: remembered to skip fast */
	__u8 wake;	/* first connection of its process: wake the reader now */
	/* TLS (tls.bpf.h): a library call was tied to it, so its syscalls'
	 * payload (ciphertext) is not kept */
	__u8 tls;
	__u8 pad[5];
	__u8 laddr[16];
	__u8 raddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct conn);
} conns SEC(".maps");

/* Processes with tracked connections: the exit handler only walks the
 * connection map for those. */
struct proc {
	__s64 nconns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HCB_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HCB_MAX_FILTER);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HCB_MAX_FILTER);
	__type(key, __u16);
	__type(value, __u8);
} port_filter SEC(".maps");

/* --host prefixes (struct hcb_host_key); an LPM trie must not be
 * preallocated */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, HCB_MAX_FILTER);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hcb_host_key);
	__type(value, __u8);
} host_filter SEC(".maps");

/* The key of a --host lookup, built here rather than on the stack: the
 * callers' frames add up to the verifier's 512-byte limit on the path
 * sys_exit -> exit_data (get_conn() inlined there) -> emit_data. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hcb_host_key);
} host_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HCB_CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Iovec arrays of up to this many entries are read with one helper call
 * (most writev/sendmsg calls: nginx writes a response's head and body as
 * two), the longer ones one entry at a time. */
#define IOV_BATCH	8
/* and arrays of up to this many copied without a loop */
#define IOV_INLINE	2

/*
 * State of one iovec-copying loop (copy_iov).  It lives in the CPU's
 * scratch slot, not on the stack: the verifier does not track what a map
 * value holds, so the callback sees unknown scalars that it bounds itself,
 * and its states converge at once.  Kept on the stack, the byte count grew
 * with each iteration the verifier simulated, and a variant of emit_data
 * (two counter updates fewer) ran into the verifier's limit of a million
 * instructions; sys_exit now takes ~12 thousand (-vv shows it).
 */
struct iov_copy {
	__u64 uptr;	/* iovec array */
	__u64 want;	/* bytes to capture */
	__u64 got;	/* bytes captured so far */
	__u32 iovcnt;
	__s32 err;
	__u8 batched;	/* the iovecs are in iovs */
	__u8 pad[7];
};

/* Where an event is assembled before bpf_ringbuf_output, so that the ring
 * buffer holds only the bytes captured (a fixed-size reserve of snaplen
 * would waste it on small events).  Too big for a per-CPU array (32 KiB
 * limit), so an array with one slot per CPU, indexed by CPU: syscall
 * tracepoint programs do not nest on one CPU, and run with preemption
 * disabled (the TLS uprobe programs, which can be preempted, reserve in
 * the ring instead: tls_out()).  The payload area is three
 * times the largest copy so that masked offsets and lengths are provably in
 * bounds for the verifier.  It also holds a vectored call's iovec array and
 * the state of the loop that copies from it. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct scratch {
	struct hcb_event ev;	/* ev.payload and data are the same bytes */
	__u8 data[3 * HCB_MAX_SNAPLEN];
	struct iovec iovs[IOV_BATCH];
	struct iov_copy x;
};
#pragma clang diagnostic pop
_Static_assert(__builtin_offsetof(struct scratch, data) == sizeof(struct hcb_event),
	       "payload must follow the event header");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* set to the number of CPUs by user space */
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* ---- helpers ---- */

static __always_inline void count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	if (v)
		*v += n;	/* per-CPU slot: no atomic needed */
}

static __always_inline bool task_filtered(__u64 id)
{
	__u32 tgid = id >> 32;

	if (!capture_on || tgid == self_tgid)
		return true;
	if (filter_pids && !bpf_map_lookup_elem(&pid_filter, &tgid))
		return true;
	if (filter_comm) {
		char comm[HCB_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		for (int i = 0; i < HCB_COMM_LEN; i++) {
			if (comm[i] != comm_filter[i])
				return true;
			if (!comm[i])
				break;
		}
	}
	return false;
}

/*
 * The three reads every data event makes beyond the task (the fd's slot in
 * the fd table, the file's private_data, the socket's sequence number).
 * Where the kernel has the bpf_rdonly_cast kfunc (Linux 6.2), a kernel
 * address becomes a typed pointer that the program loads from directly,
 * each load made fault-safe by the JIT; elsewhere each is a
 * bpf_probe_read_kernel call.  Measured here: ~350 ns of BPF per request
 * (four events) less with the casts.  The object is built both ways
 * (HCB_KCAST 1 and 0; bpf/bpf.mk) and capture/bpfload.c loads the one the
 * running kernel takes.
 */
#if HCB_KCAST
extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id) __ksym;
#define kcast(type, p) \
	((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))

/* The current task from its address, which sys_exit takes once with
 * bpf_get_current_task() and hands down as a number (a global function
 * takes no kernel pointer): bpf_get_current_task_btf() and
 * bpf_get_current_pid_tgid() are helper calls, not inlined, and this
 * saves four of them per data event (~120 ns of BPF per request measured
 * here, on an AMD host with retpolines and "safe RET" returns). */
#define cur_task(t) kcast(struct task_struct, t)

/* fdt->fd[fd]: the slot's address as a one-pointer struct (llist_node),
 * since a variable index into the array is not a load the verifier allows */
static __always_inline struct file *fdt_slot(struct fdtable *fdt, int fd)
{
	return (struct file *)kcast(struct llist_node,
				    (unsigned long)fdt->fd + (unsigned int)fd * sizeof(void *))->next;
}

static __always_inline __u64 file_private(struct file *file)
{
	return (__u64)kcast(struct file, file)->private_data;
}

/* copied_seq (read) or write_seq of the TCP socket at sk */
static __always_inline bool sock_seq(__u64 sk, bool read, __u32 *seq)
{
	struct tcp_sock *tp = kcast(struct tcp_sock, sk);

	*seq = read ? tp->copied_seq : tp->write_seq;
	return true;
}
#else
static __always_inline struct file *fdt_slot(struct fdtable *fdt, int fd)
{
	struct file *file = NULL;

	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]))
		return NULL;
	return file;
}

static __always_inline __u64 file_private(struct file *file)
{
	return (__u64)BPF_CORE_READ(file, private_data);
}

/* the helper again: a number is not a pointer without the cast */
#define cur_task(t) bpf_get_current_task_btf()

static __always_inline bool sock_seq(__u64 sk, bool read, __u32 *seq)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	if (read)
		return !bpf_core_read(seq, sizeof(*seq), &tp->copied_seq);
	return !bpf_core_read(seq, sizeof(*seq), &tp->write_seq);
}
#endif

/* task->files->fdt->fd[fd], or NULL: plain loads down to the fd array
 * (through the BTF-typed task: no helper call each), then its slot. */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt;

	if (fd < 0)
		return NULL;
	fdt = task->files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	return fdt_slot(fdt, fd);
}

static __always_inline struct file *fd_file(int fd)
{
	return task_fd_file(bpf_get_current_task_btf(), fd);
}

/* The pid_tgid of a task, as bpf_get_current_pid_tgid() makes it. */
static __always_inline __u64 task_id(struct task_struct *t)
{
	return (__u64)t->tgid << 32 | (__u32)t->pid;
}

/* The struct sock of a file that is a socket (file->private_data->sk);
 * for another file, whatever lies there: callers check. */
static __always_inline struct sock *file_sk(struct file *file)
{
	struct socket *sock = BPF_CORE_READ(file, private_data);

	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The socket of file if it is an IPv4/IPv6 TCP socket, else NULL. */
static __always_inline struct sock *file_tcp_sock(struct file *file)
{
	struct sock *sk;
	umode_t mode;
	__u16 family, type, proto;

	if (!file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sk = file_sk(file);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	type = BPF_CORE_READ(sk, sk_type);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (type != SOCK_STREAM || proto != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* The inode number of a file (of a socket: sockfs's counter, not reused
 * while the capture runs, where a freed socket's addresses can be). */
static __always_inline __u64 file_ino(struct file *file)
{
	return file ? BPF_CORE_READ(file, f_inode, i_ino) : 0;
}

static __always_inline struct sock *fd_tcp_sock(int fd)
{
	return file_tcp_sock(fd_file(fd));
}

static __always_inline bool v4mapped(const __u8 *a)
{
	for (int i = 0; i < 10; i++)
		if (a[i])
			return false;
	return a[10] == 0xff && a[11] == 0xff;
}

/* The 5-tuple from __sk_common.  A v6 socket talking to a v4 peer
 * (::ffff:a.b.c.d on both ends) is reported as IPv4, so that its 5-tuple
 * matches the peer's and cross-process links work. */
static __always_inline void read_endpoints(struct sock *sk, struct conn *c)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	c->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		c->family = HCB_AF_INET;
		/* sized reads: BPF_CORE_READ_INTO would copy sizeof(*laddr) = 1 */
		bpf_core_read(c->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->raddr, 4, &sk->__sk_common.skc_daddr);
		return;
	}
	c->family = HCB_AF_INET6;
	bpf_core_read(c->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	bpf_core_read(c->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	if (v4mapped(c->laddr) && v4mapped(c->raddr)) {
		c->family = HCB_AF_INET;
		__builtin_memcpy(c->laddr, c->laddr + 12, 4);
		__builtin_memcpy(c->raddr, c->raddr + 12, 4);
		__builtin_memset(c->laddr + 4, 0, 12);
		__builtin_memset(c->raddr + 4, 0, 12);
	}
}

static __always_inline bool ports_excluded(const struct conn *c)
{
	__u16 p;

	if (!filter_ports)
		return false;
	p = c->lport;
	if (bpf_map_lookup_elem(&port_filter, &p))
		return false;
	p = c->rport;
	if (bpf_map_lookup_elem(&port_filter, &p))
		return false;
	return true;
}

/* Whether address a (family HCB_AF_*) lies in one of the --host prefixes. */
static __always_inline bool host_listed(__u8 family, const __u8 *a)
{
	__u32 zero = 0;
	struct hcb_host_key *k = bpf_map_lookup_elem(&host_key, &zero);

	if (!k)
		return false;
	k->prefixlen = 128;
	if (family == HCB_AF_INET) {
		__builtin_memset(k->addr, 0, 10);
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
		__builtin_memcpy(k->addr + 12, a, 4);
	} else {
		__builtin_memcpy(k->addr, a, 16);
	}
	return bpf_map_lookup_elem(&host_filter, k) != NULL;
}

/*
 * The connection filters (--port, --host, --cgroup), each matching when
 * any of its values does, all of them required.  They run once per
 * connection, when its state is created; its later events skip on the
 * remembered verdict, so they cost nothing per data event.  --cgroup asks
 * for the ancestor of the current task's cgroup at the level of the
 * filter's cgroup: equal ids mean the task is in that cgroup or below it
 * (containers, a systemd unit's children), in O(1).  The cgroup is the
 * one of the task that accepted, connected or first used the socket.
 */
static __always_inline bool conn_excluded(const struct conn *c)
{
	if (ports_excluded(c))
		return true;
	if (filter_hosts && !host_listed(c->family, c->laddr) &&
	    !host_listed(c->family, c->raddr))
		return true;
	if (cgroup_id && bpf_get_current_ancestor_cgroup_id(cgroup_level) != cgroup_id)
		return true;
	return false;
}

/* Returns true when this is the process's first tracked connection. */
static __always_inline bool proc_add(__u32 tgid, __s64 n)
{
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	struct proc np = { .nconns = n };

	if (p) {
		__sync_fetch_and_add(&p->nconns, n);
		return false;
	}
	if (n <= 0)
		return false;
	if (bpf_map_update_elem(&procs, &tgid, &np, BPF_NOEXIST)) {
		/* another CPU made it first (two threads' first connections
		 * at once): count this one there; only a full map loses it */
		p = bpf_map_lookup_elem(&procs, &tgid);
		if (p)
			__sync_fetch_and_add(&p->nconns, n);
		else
			count(HCB_CNT_MAP_FULL, 1);
		return false;
	}
	return true;
}

static __always_inline void peer_from_sockaddr(struct conn *c, const struct sockaddr_in6 *sa)
{
	c->rport = bpf_ntohs(sa->sin6_port);
	if (sa->sin6_family == AF_INET)
		__builtin_memcpy(c->raddr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sin6_family == AF_INET6)
		__builtin_memcpy(c->raddr, &sa->sin6_addr, 16);
}

static __always_inline void emit_conn_event(struct conn *c, __u64 id, int fd, __u8 type,
					    __u8 sys, __s64 ret, __u64 t0);

/*
 * State of the connection on (tgid, fd) whose socket is sk: the existing one,
 * or a new one with role and flags (fresh: always new, for accept and connect;
 * peer: the connect's sockaddr).  NULL when a connection filter excludes it
 * or there is no room.  A new one replaces a stale entry of a reused fd.
 */
static __always_inline struct conn *get_conn(__u32 tgid, int fd, struct sock *sk,
					     __u8 role, __u16 flags, bool fresh,
					     const struct sockaddr_in6 *peer)
{
	__u64 key = (__u64)tgid << 32 | (__u32)fd;
	struct conn *c = bpf_map_lookup_elem(&conns, &key);
	struct conn n = {};
	struct file *file = fd_file(fd);
	__u64 ino = file_ino(file);
	bool same = c && c->sk == (__u64)sk && c->ino == ino;

	if (same && !fresh)
		return c->ignored ? NULL : c;
	if (c && !c->ignored) {
		/* the fd holds another socket: the old one was closed, and
		 * another thread reused its number before that close's exit
		 * was seen (which then finds this new state and leaves it):
		 * its CLOSE now, or it would never have one */
		if (!same)
			emit_conn_event(c, bpf_get_current_pid_tgid(), fd, HCB_EV_CLOSE,
					HCB_SYS_CLOSE, 0, 0);
		proc_add(tgid, -1);
	}
	n.sk = (__u64)sk;
	n.file = (__u64)file;
	n.sock = file ? file_private(file) : 0;
	n.ino = ino;
	n.role = role;
	n.flags = flags;
	read_endpoints(sk, &n);
	/* a failed connect has reset the socket's peer: take it from the
	 * caller's sockaddr, before the filters look at it */
	if (peer && !n.rport)
		peer_from_sockaddr(&n, peer);
	if (conn_excluded(&n)) {
		n.ignored = 1;
		count(HCB_CNT_FILTERED, 1);
	} else {
		n.id = __sync_fetch_and_add(&conn_counter, 1) + 1;
		/* user space reads /proc/PID when it sees a process's first
		 * event: batching that event could let a short-lived process
		 * exit first */
		n.wake = proc_add(tgid, 1);
	}
	if (bpf_map_update_elem(&conns, &key, &n, BPF_ANY)) {
		count(HCB_CNT_MAP_FULL, 1);
		if (!n.ignored)
			proc_add(tgid, -1);
		return NULL;
	}
	if (n.ignored)
		return NULL;
	count(HCB_CNT_CONNS, 1);
	return bpf_map_lookup_elem(&conns, &key);
}

static __always_inline void fill_header(struct hcb_event *e, const struct conn *c, __u64 id,
					 int fd, __u8 type, __u8 sys, const char *comm)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->dur_ns = 0;
	e->conn_id = c->id;
	e->stream_off = 0;
	e->stream_off2 = 0;
	e->ret = 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->cap_len = 0;
	e->flags = c->flags;
	e->type = type;
	e->syscall = sys;
	e->family = c->family;
	e->role = c->role;
	e->lport = c->lport;
	e->rport = c->rport;
	e->pad = 0;
	e->seq_end = 0;
	__builtin_memcpy(e->laddr, c->laddr, 16);
	__builtin_memcpy(e->raddr, c->raddr, 16);
	/* two loads from the BTF-typed task's comm: bpf_get_current_comm()'s
	 * padded string copy cost ~25 ns per event (the kernel pads comm
	 * with zeros itself) */
	__builtin_memcpy(e->comm, comm, sizeof(e->comm));
}

#if HCB_KCAST
/* Bytes committed to the ring at rb and not consumed yet: its two
 * positions, read directly (what bpf_ringbuf_query(BPF_RB_AVAIL_DATA)
 * returns, without a helper call per event).  The map pointer goes to
 * bpf_rdonly_cast as is (its argument's type is not checked), and each
 * load is fault-safe. */
static __always_inline __u64 ring_avail(void *rb)
{
	struct bpf_ringbuf *r = kcast(struct bpf_ringbuf, kcast(struct bpf_ringbuf_map, rb)->rb);

	return r->producer_pos - r->consumer_pos;
}
#else
static __always_inline __u64 ring_avail(void *rb)
{
	return bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
}
#endif

/*
 * Wake the reader when the data pending in this CPU's ring buffer crosses a
 * multiple of wakeup_bytes with this record (size bytes), or for a
 * process's first connection: once per batch, not once per event while
 * the reader is behind.  Each wakeup is an irq_work self-IPI, an APIC MSR
 * write that traps on a virtual machine: forcing one per event above the
 * threshold cost ~5% of the traced processes' CPU.  The reader polls
 * every 100 ms anyway.
 */
static __always_inline __u64 rb_flags(void *rb, struct conn *c, __u64 size)
{
	__u64 avail;

	if (c && c->wake) {
		c->wake = 0;
		return BPF_RB_FORCE_WAKEUP;
	}
	if (!wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	avail = ring_avail(rb);
	return avail / wakeup_bytes != (avail + size) / wakeup_bytes ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* This CPU's ring buffer (NULL only if user space has not made it). */
static __always_inline void *cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&events, &cpu);
}

/* A fixed-size event reserved in this CPU's ring (*rb), or NULL, counted. */
static __always_inline struct hcb_event *reserve_event(void **rb)
{
	struct hcb_event *e = NULL;

	*rb = cpu_ring();
	if (*rb)
		e = bpf_ringbuf_reserve(*rb, sizeof(*e), 0);
	if (!e)
		count(HCB_CNT_RINGBUF_FULL, 1);
	return e;
}

/* A connection event (no payload): reserved in place, fixed size. */
static __always_inline void emit_conn_event(struct conn *c, __u64 id, int fd, __u8 type,
					    __u8 sys, __s64 ret, __u64 t0)
{
	void *rb;
	struct hcb_event *e = reserve_event(&rb);

	if (!e)
		return;
	fill_header(e, c, id, fd, type, sys, bpf_get_current_task_btf()->comm);
	e->ret = ret;
	e->dur_ns = t0 ? e->ts_ns - t0 : 0;
	if (type == HCB_EV_CLOSE) {
		e->stream_off = c->rx;
		e->stream_off2 = c->tx;
	}
	/* reserved: already counted in the pending data */
	bpf_ringbuf_submit(e, rb_flags(rb, c, sizeof(*e)));
}

/* An event of the current thread alone, no connection (HCB_EV_PROC_EXIT,
 * HCB_EV_EXEC); wake: the reader must act on it at once. */
static __always_inline void emit_task_event(__u8 type, __u64 id, bool wake)
{
	void *rb;
	struct hcb_event *e = reserve_event(&rb);

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wake ? BPF_RB_FORCE_WAKEUP : rb_flags(rb, NULL, sizeof(*e)));
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &cpu);
}

/* How many of an event's bytes are captured: snaplen, and never more than
 * the payload areas hold. */
static __always_inline __u64 snap_len(__u64 bytes)
{
	if (bytes > snaplen)
		bytes = snaplen;
	return bytes > HCB_MAX_SNAPLEN ? HCB_MAX_SNAPLEN : bytes;
}

/* What one data event covers: bytes moved and where the payload is. */
struct data_req {
	__u64 id;	/* pid_tgid of the caller: one helper call fewer here */
	__u64 task;	/* the current task's address (cur_task()) */
	__u64 uptr;	/* contiguous buffer, or iovec array when iov */
	__s64 bytes;
	__u32 iovcnt;
	__s32 fd;
	__u8 iov;
	__u8 type;	/* HCB_EV_READ or HCB_EV_WRITE */
	__u8 sys;
	__u8 nopayload;	/* sendfile */
	__u8 noseq;	/* sendmmsg/recvmmsg: the socket's sequence is the whole call's */
};

/* One iovec of a vectored call.  A bpf_loop callback, so the verifier
 * checks it once instead of once per unrolled iteration per program. */
static long copy_iov(__u32 i, void *unused)
{
	struct scratch *s = get_scratch();
	struct iov_copy *x;
	struct iovec iv;
	__u64 n;

	if (!s)
		return 1;
	x = &s->x;
	if (i >= x->iovcnt || x->got >= x->want)
		return 1;
	if (x->batched) {
		iv = s->iovs[i & (IOV_BATCH - 1)];
	} else if (bpf_probe_read_user(&iv, sizeof(iv),
				       (void *)(x->uptr + i * sizeof(struct iovec)))) {
		x->err = -1;
		return 1;
	}
	n = x->want - x->got;
	if (n > iv.iov_len)
		n = iv.iov_len;
	n &= 2 * HCB_MAX_SNAPLEN - 1;
	if (!n)
		return 0;
	if (bpf_probe_read_user(&s->data[x->got & (HCB_MAX_SNAPLEN - 1)], n, iv.iov_base)) {
		x->err = -1;
		return 1;
	}
	x->got += n;
	return 0;
}

/*
 * Emit one READ/WRITE event of r->bytes bytes on connection c with up to
 * snaplen payload bytes.  emit_data() is this as a global function, so
 * that the verifier checks it once, not once per call site (the mmsg
 * handler calls it in a loop): that took the load from over a second to
 * milliseconds.  The socket-layer hooks, one call site each, take it
 * inline (exit_data_body()).
 */
static __always_inline int emit_data_body(struct conn *c, struct data_req *r)
{
	struct scratch *s = get_scratch();
	__u64 off, want, got = 0, n;
	void *rb;
	__u16 flags = 0;
	long err = 0;

	if (r->type == HCB_EV_READ)
		off = __sync_fetch_and_add(&c->rx, r->bytes);
	else
		off = __sync_fetch_and_add(&c->tx, r->bytes);
	/* ciphertext of a connection whose plaintext is captured: counted only */
	if (c->tls)
		flags |= HCB_EVF_TLS_CIPHER;
	if (!s) {
		count(HCB_CNT_RINGBUF_FULL, 1);
		return 0;
	}
	fill_header(&s->ev, c, r->id, r->fd, r->type, r->sys, cur_task(r->task)->comm);
	s->ev.ret = r->bytes;
	s->ev.stream_off = off;

	want = r->nopayload || (flags & HCB_EVF_TLS_CIPHER) ? 0 : snap_len(r->bytes);
	if (!r->iov) {
		n = want & (2 * HCB_MAX_SNAPLEN - 1);
		if (n) {
			err = bpf_probe_read_user(s->data, n, (void *)r->uptr);
			if (!err)
				got = n;
		}
	} else if (want) {
		s->x.uptr = r->uptr;
		s->x.want = want;
		s->x.got = 0;
		s->x.iovcnt = r->iovcnt;
		s->x.err = 0;
		/* the kernel has just read the array itself, so it is there;
		 * if it has gone since, the loop reads entry by entry */
		s->x.batched = r->iovcnt && r->iovcnt <= IOV_BATCH &&
			       !bpf_probe_read_user(s->iovs, (((r->iovcnt - 1) & (IOV_BATCH - 1)) + 1) *
						    sizeof(struct iovec), (void *)r->uptr);
		if (s->x.batched && r->iovcnt <= IOV_INLINE) {
			/* the short arrays (nginx writes a response's head and
			 * body as two) without bpf_loop and its callback call
			 * per entry */
			for (__u32 i = 0; i < IOV_INLINE; i++) {
				if (i >= r->iovcnt || got >= want)
					break;
				n = want - got;
				if (n > s->iovs[i].iov_len)
					n = s->iovs[i].iov_len;
				n &= 2 * HCB_MAX_SNAPLEN - 1;
				if (n && bpf_probe_read_user(&s->data[got & (HCB_MAX_SNAPLEN - 1)], n,
							     s->iovs[i].iov_base)) {
					err = -1;
					break;
				}
				got += n;
			}
		} else {
			bpf_loop(HCB_MAX_IOV, copy_iov, NULL, 0);
			err = s->x.err;
			got = s->x.got;
		}
		/* more iovecs than HCB_MAX_IOV: the rest is not captured */
		if (!err && got < want)
			flags |= HCB_EVF_PARTIAL;
	}
	if (err) {
		flags |= HCB_EVF_PARTIAL;
		count(HCB_CNT_PAYLOAD_READ, 1);
	}
	got &= HCB_MAX_SNAPLEN * 2 - 1;
	if (got > HCB_MAX_SNAPLEN)
		got = HCB_MAX_SNAPLEN;
	/* Where the bytes sit in the connection's TCP sequence space: the
	 * socket's copied_seq (after a read) or write_seq (after a write) is
	 * just past this call's bytes, as long as no other thread moved bytes
	 * on the socket since the call released its lock.  One 4-byte read
	 * per event (measured: bpf/httpcap.bpf.c's commit), so that every
	 * event is placed even when the byte counter above missed bytes
	 * (splice, another process sharing the socket, a state evicted). */
	if (!r->noseq) {
		__u32 seq;

		if (sock_seq(c->sk, r->type == HCB_EV_READ, &seq)) {
			s->ev.seq_end = seq;
			flags |= HCB_EVF_SEQ;
		}
	}
	s->ev.cap_len = got;
	s->ev.flags |= flags;
	rb = cpu_ring();
	if (!rb || bpf_ringbuf_output(rb, s, sizeof(struct hcb_event) + got,
				      rb_flags(rb, c, sizeof(struct hcb_event) + got))) {
		count(HCB_CNT_RINGBUF_FULL, 1);
		return 0;
	}
	return 0;
}

__noinline int emit_data(struct conn *c, struct data_req *r)
{
	if (!c || !r)	/* a global function: the verifier wants it said */
		return 0;
	return emit_data_body(c, r);
}

#include "tls.bpf.h"

/* ---- entry side ---- */

/*
 * The only entry program: connect's, for the time the connection took to
 * open (connect_ns in the analysis).  Data syscalls have none: their exit
 * reads the arguments from the saved user registers.  A classic syscall
 * tracepoint, so that it runs for connect() only, not for every syscall.
 */
SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {};

	if (task_filtered(id))
		return 0;
	a.ts = bpf_ktime_get_ns();
	a.fd = ctx->args[0];
	a.sys = HCB_SYS_CONNECT;
	if (bpf_map_update_elem(&inflight, &id, &a, BPF_ANY))
		count(HCB_CNT_MAP_FULL, 1);
	return 0;
}

/* ---- exit side ---- */

/*
 * A connection first seen on data was opened before the capture, and a
 * syscall already blocked when httpcap attached (a server waiting in read())
 * has no entry, so its bytes were never seen.  Start the read offset at what
 * the application had really read, from the TCP counters, so the first
 * event's offset shows the gap instead of hiding it:
 *   read so far = bytes_received - (rcv_nxt - copied_seq)   (minus unread data)
 * At this exit the counters already include this call's bytes.  The write
 * side has no exact equivalent (bytes_acked counts the SYN of an active open
 * but not of a passive one, and the socket does not say which it was), so
 * it starts at 0: a write blocked across the attach stays unseen.
 */
static __always_inline void seed_offsets(struct conn *c, struct sock *sk, __u8 type, long ret)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 rd;

	rd = BPF_CORE_READ(tp, bytes_received) -
	     (__u32)(BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq));
	if (type == HCB_EV_READ)
		rd = rd > (__u64)ret ? rd - ret : 0;
	c->rx = rd;
}

/* The connection of a data syscall on fd, or NULL (not a TCP socket,
 * excluded by a connection filter, no room). */
static __always_inline struct conn *data_conn(struct task_struct *task, __u64 id, int fd,
					      __u8 type, long ret, __u64 want_sk)
{
	__u64 key = (id & 0xffffffff00000000ULL) | (__u32)fd;
	struct file *file = task_fd_file(task, fd);
	struct sock *sk;
	struct conn *c;

	if (!file)
		return NULL;
	/* a known connection: same file, same socket, so no type checks:
	 * the fd's slot and the file's private_data are its only two
	 * reads beyond the task */
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->file == (__u64)file &&
	    c->sock == file_private(file))
		return c->ignored || (want_sk && c->sk != want_sk) ? NULL : c;
	sk = file_tcp_sock(file);
	if (!sk || (want_sk && (__u64)sk != want_sk))
		return NULL;
	c = get_conn(id >> 32, fd, sk, HCB_ROLE_UNKNOWN, HCB_EVF_PREEXISTING, false, NULL);
	if (!c)
		return NULL;
	/* new and not yet moved a byte: created by this very event */
	if ((c->flags & HCB_EVF_PREEXISTING) && !c->rx && !c->tx)
		seed_offsets(c, sk, type, ret);
	return c;
}

/* A data syscall's event: what its hook knows of it.  A global function
 * takes at most five arguments, hence the struct. */
struct data_args {
	__u64 taskp;	/* the current task's address (cur_task()) */
	__u64 a1, a2;	/* the syscall's second and third arguments */
	__u64 sk;	/* the socket the bytes moved on, 0 when the hook does not say */
	__s64 ret;	/* bytes moved */
	__s32 fd;
	__u8 sys;	/* HCB_SYS_* */
	__u8 type;	/* HCB_EV_READ or HCB_EV_WRITE */
	__u8 discarded;	/* recv(MSG_TRUNC): the bytes were dropped, not copied */
	/* no padding: kernels before 6.3 refuse a global function's argument
	 * with uninitialized stack bytes, and padding is never written */
	__u8 zero;
};
_Static_assert(sizeof(struct data_args) == 48, "struct data_args has padding");

/*
 * read/write/readv/writev/recvfrom/sendto/recvmsg/sendmsg/sendfile64.
 * exit_data() is this as a global function, for the many call sites of
 * sys_exit's program.  The two socket-layer hooks take it inline, and
 * emit_data_body() with it (inl): two BPF-to-BPF calls fewer per data
 * event, and no argument structs through the stack (~80 ns of BPF per
 * request here, bench/notes.md), for a body the verifier checks twice
 * more.
 */
static __always_inline int exit_data_body(struct data_args *a, bool inl)
{
	struct task_struct *task;
	struct data_req r = {};
	__u64 id, a1, a2;
	long ret;
	struct conn *c;
	__u8 sys, type;
	int fd;

	task = cur_task(a->taskp);
	id = task_id(task);
	a1 = a->a1;
	a2 = a->a2;
	ret = a->ret;
	fd = a->fd;
	sys = a->sys;
	type = a->type;
	c = data_conn(task, id, fd, type, ret, a->sk);
	if (!c)
		return 0;
	if (tls_on && tls_proc_marked(id >> 32))
		tls_syscall(fd, c, type);
	r.id = id;
	r.task = a->taskp;
	r.bytes = ret;
	r.fd = fd;
	r.type = type;
	r.sys = sys;
	if (sys == HCB_SYS_READV || sys == HCB_SYS_WRITEV) {
		r.iov = 1;
		r.uptr = a1;
		r.iovcnt = a2;
	} else if (sys == HCB_SYS_RECVMSG || sys == HCB_SYS_SENDMSG) {
		struct user_msghdr m;

		/* the kernel wrote back msg_namelen/controllen/flags, never
		 * msg_iov: the iovec array is the one the caller passed */
		if (bpf_probe_read_user(&m, sizeof(m), (void *)a1)) {
			/* unreadable msghdr: a contiguous read of address 0 fails
			 * in emit_data and is counted as a payload read failure */
			r.uptr = 0;
		} else {
			r.iov = 1;
			r.uptr = (__u64)m.msg_iov;
			r.iovcnt = m.msg_iovlen;
		}
	} else if (sys == HCB_SYS_SENDFILE) {
		r.nopayload = 1;	/* sendfile64(out_fd, in_fd, offset, count) */
	} else {
		r.uptr = a1;
	}
	/* TCP's recv(MSG_TRUNC) drops the bytes without copying them: the
	 * buffer holds whatever it held before, not this call's bytes */
	if (a->discarded)
		r.nopayload = 1;
	return inl ? emit_data_body(c, &r) : emit_data(c, &r);
}

__noinline int exit_data(struct data_args *a)
{
	if (!a)		/* a global function: the verifier wants it said */
		return 0;
	return exit_data_body(a, false);
}

/* sendmmsg/recvmmsg return a message count; each message's byte count is
 * in its mmsghdr.msg_len, and each becomes one event. */
__noinline int exit_mmsg(int fd, __u64 vec, long ret, __u32 systype, int discarded)
{
	__u64 taskp = bpf_get_current_task();
	struct task_struct *task = cur_task(taskp);
	__u64 id = task_id(task);
	__u8 sys = systype >> 8, type = systype & 0xff;
	struct data_req r = {};
	struct conn *c;

	c = data_conn(task, id, fd, type, 0, 0);
	if (!c)
		return 0;
	r.id = id;
	r.task = taskp;
	r.fd = fd;
	r.type = type;
	r.sys = sys;
	r.iov = 1;
	r.noseq = 1;
	r.nopayload = discarded;	/* recvmmsg(MSG_TRUNC): nothing copied */
	for (int i = 0; i < HCB_MAX_MMSG; i++) {
		struct mmsghdr mh;

		if (i >= ret)
			break;
		if (bpf_probe_read_user(&mh, sizeof(mh),
					(void *)(vec + i * sizeof(struct mmsghdr)))) {
			count(HCB_CNT_PAYLOAD_READ, 1);
			break;
		}
		if (!mh.msg_len)
			continue;
		r.bytes = mh.msg_len;
		r.uptr = (__u64)mh.msg_hdr.msg_iov;
		r.iovcnt = mh.msg_hdr.msg_iovlen;
		emit_data(c, &r);
	}
	return 0;
}

/* accept's exit needs no entry: the new fd is the return value, so a
 * server blocked in accept() when the capture started is still seen. */
__noinline int exit_accept(long ret, __u32 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sock *sk;
	struct conn *c;

	sk = fd_tcp_sock(ret);
	if (!sk)
		return 0;
	c = get_conn(id >> 32, ret, sk, HCB_ROLE_SERVER, 0, true, NULL);
	if (c)
		emit_conn_event(c, id, ret, HCB_EV_ACCEPT, sys, ret, 0);
	return 0;
}

/* The entry's timestamp when enter_connect saw it (0 otherwise: connect
 * was already blocked when the capture started). */
static __always_inline __u64 connect_t0(__u64 id, int fd)
{
	struct args *a = bpf_map_lookup_elem(&inflight, &id);
	__u64 t0 = 0;

	if (!a)
		return 0;
	if (a->sys == HCB_SYS_CONNECT && a->fd == fd)
		t0 = a->ts;
	bpf_map_delete_elem(&inflight, &id);
	return t0;
}

__noinline int exit_connect(int fd, __u64 addr, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sockaddr_in6 sa = {};
	__u64 t0 = connect_t0(id, fd);
	struct sock *sk;
	struct conn *c;
	bool have;

	sk = fd_tcp_sock(fd);
	if (!sk)
		return 0;
	have = addr && !bpf_probe_read_user(&sa, sizeof(sa), (void *)addr);
	c = get_conn(id >> 32, fd, sk, HCB_ROLE_CLIENT, 0, true, have ? &sa : NULL);
	if (c)
		emit_conn_event(c, id, fd, HCB_EV_CONNECT, HCB_SYS_CONNECT, ret, t0);
	return 0;
}

/*
 * close: only fds with connection state, found with one lookup.  The fd
 * is free as soon as close has run: another thread may have accepted or
 * connected onto it before this exit, and the entry is then that new
 * connection's, which must survive.  It is told by its socket, which is
 * in the fd table now, by address and inode number: the address alone
 * misled.  Where close() drops the file's last reference itself (Linux
 * 6.18 here), a loopback connection whose peer had closed first is gone
 * before this exit, and the next socket() can get its memory back at
 * once: a thread's new socket on the same fd number at the same address
 * passed for the closed one, and neither this exit nor the new
 * connection's emitted the closed one's CLOSE (tests/capture/
 * e2e_threads.sh: 2 connections of 4,480 in 14 runs).
 */
__noinline int exit_close(int fd, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = (id & 0xffffffff00000000ULL) | (__u32)fd;
	struct conn *c = bpf_map_lookup_elem(&conns, &key);
	struct file *file;

	if (!c)
		return 0;
	if (ret == -EBADF)
		return 0;
	file = fd_file(fd);
	if ((__u64)file_tcp_sock(file) == c->sk && file_ino(file) == c->ino)
		return 0;
	if (!c->ignored) {
		emit_conn_event(c, id, fd, HCB_EV_CLOSE, HCB_SYS_CLOSE, ret, 0);
		proc_add(id >> 32, -1);
	}
	if (c->tls)
		bpf_map_delete_elem(&tls_streams, &key);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/*
 * The user registers a syscall was entered with, which hold its number and
 * arguments until it returns.  The hooks that are not sys_exit get no
 * registers: bpf_task_pt_regs() finds them, a helper call (~150 ns per data
 * event measured here, with this host's return mitigations); with
 * bpf_rdonly_cast they are a load, at the offset from the task's stack that
 * the helper gave once (THREAD_SIZE, which KASAN and the page size change).
 */
#if HCB_KCAST
__u64 regs_off = 0;

static __always_inline struct pt_regs *user_regs(struct task_struct *task)
{
	__u64 stack = (__u64)task->stack;

	/* task is the current one; the helper takes only a trusted pointer */
	if (!regs_off)
		regs_off = (__u64)bpf_task_pt_regs(bpf_get_current_task_btf()) - stack;
	return kcast(struct pt_regs, stack + regs_off);
}
#else
__u64 regs_off = 0;	/* the same globals in both objects (bpf/bpf.mk) */

static __always_inline struct pt_regs *user_regs(struct task_struct *task)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}
#endif

/* The HCB_SYS_ of the syscalls that move a socket's bytes in one sendmsg or
 * recvmsg call (the data the socket-layer hooks take), 0 for any other. */
static __always_inline __u8 socket_io_sys(long nr)
{
	switch (nr) {
	case HNR_READ:		return HCB_SYS_READ;
	case HNR_WRITE:		return HCB_SYS_WRITE;
	case HNR_RECVFROM:	return HCB_SYS_RECVFROM;
	case HNR_SENDTO:	return HCB_SYS_SENDTO;
	case HNR_READV:		return HCB_SYS_READV;
	case HNR_WRITEV:	return HCB_SYS_WRITEV;
	case HNR_RECVMSG:	return HCB_SYS_RECVMSG;
	case HNR_SENDMSG:	return HCB_SYS_SENDMSG;
	default:		return 0;
	}
}

/* Whether a data syscall (socket_io_sys()'s, sendfile) reads. */
static __always_inline bool sys_reads(__u8 sys)
{
	return sys == HCB_SYS_READ || sys == HCB_SYS_READV || sys == HCB_SYS_RECVFROM ||
	       sys == HCB_SYS_RECVMSG;
}

/*
 * What every syscall exit hook does once it knows the syscall is one of the
 * set: reject what did not happen or is not traced, cheapest first, then
 * hand the syscall to its handler.  regs: the user registers, NULL when the
 * hook has none (found from the task then).
 */
static __always_inline int syscall_done(__u8 sys, long ret, struct pt_regs *regs)
{
	struct task_struct *task;
	struct data_args d;
	struct sys_regs g;
	bool peek = false, trunc = false;
	__u64 id, taskp;

	/* nothing happened: no bytes moved, no connection made */
	if (ret <= 0 && sys != HCB_SYS_CLOSE && sys != HCB_SYS_CONNECT &&
	    !(ret == 0 && (sys == HCB_SYS_ACCEPT || sys == HCB_SYS_ACCEPT4)))
		return 0;
	taskp = bpf_get_current_task();
	task = cur_task(taskp);
	id = task_id(task);
	if (task_filtered(id) || sys_compat(task))
		return 0;
	if (!regs)
		regs = user_regs(task);
	sys_args(regs, &g);
	/* one call site per handler: each is a global function, which the
	 * verifier checks once rather than once per path that reaches it */
	switch (sys) {
	case HCB_SYS_RECVFROM:
	case HCB_SYS_RECVMMSG:
		peek = g.a3 & (MSG_PEEK | MSG_ERRQUEUE);
		trunc = g.a3 & MSG_TRUNC;
		break;
	case HCB_SYS_RECVMSG:
		peek = g.a2 & (MSG_PEEK | MSG_ERRQUEUE);
		trunc = g.a2 & MSG_TRUNC;
		break;
	}
	/* recv*(..., MSG_PEEK) leaves the bytes in the socket: the next read
	 * returns them again, so peeks are not events; MSG_ERRQUEUE reads the
	 * socket's error queue (timestamps, zerocopy notices), not its stream */
	if (peek)
		return 0;
	switch (sys) {
	case HCB_SYS_RECVMMSG:
		return exit_mmsg(g.a0, g.a1, ret, sys << 8 | HCB_EV_READ, trunc);
	case HCB_SYS_SENDMMSG:
		return exit_mmsg(g.a0, g.a1, ret, sys << 8 | HCB_EV_WRITE, 0);
	case HCB_SYS_ACCEPT:
	case HCB_SYS_ACCEPT4:
		return exit_accept(ret, sys);
	case HCB_SYS_CONNECT:
		return exit_connect(g.a0, g.a1, ret);
	case HCB_SYS_CLOSE:
		return exit_close(g.a0, ret);
	}
	/* the rest: socket_io_sys()'s and sendfile */
	d = (struct data_args){ .taskp = taskp, .a1 = g.a1, .a2 = g.a2, .ret = ret,
				.fd = g.a0, .sys = sys,
				.type = sys_reads(sys) ? HCB_EV_READ : HCB_EV_WRITE,
				.discarded = trunc };
	return exit_data(&d);
}

/*
 * Hooks of the older kernels (before 6.3, or the object built for kernels
 * before 6.2): every syscall of the host comes through here, so what is not
 * traced is rejected first and cheaply: capture off, then a syscall number
 * outside the set.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u8 sys;

	if (!capture_on)
		return 0;
	switch (sys_nr(regs)) {
	case HNR_RECVMMSG:	sys = HCB_SYS_RECVMMSG; break;
	case HNR_SENDMMSG:	sys = HCB_SYS_SENDMMSG; break;
	case HNR_SENDFILE:	sys = HCB_SYS_SENDFILE; break;
	case HNR_ACCEPT:	sys = HCB_SYS_ACCEPT; break;
	case HNR_ACCEPT4:	sys = HCB_SYS_ACCEPT4; break;
	case HNR_CONNECT:	sys = HCB_SYS_CONNECT; break;
	case HNR_CLOSE:		sys = HCB_SYS_CLOSE; break;
	default:
		sys = socket_io_sys(sys_nr(regs));
		if (!sys)
			return 0;
	}
	return syscall_done(sys, ret, regs);
}

/*
 * The hooks of Linux 6.3 and later (capture/bpfload.c picks the set).  A
 * program on sys_exit runs at every syscall of every task: with an empty
 * one there, wrk and nginx spent ~0.7 us more CPU per request, of which
 * bpf_stats showed 0.32 (bench/notes.md).  The socket layer has tracepoints
 * of its own, after each sendmsg and recvmsg of any socket with the bytes
 * moved: the data syscalls are taken there (the syscall number tells them
 * from the others that pass there too: sendfile, splice, the mmsg pair,
 * io_uring).  The rarer ones (accept, connect, close, the mmsg pair, whose
 * calls move several messages, and sendfile, which moves pages in several
 * sendmsg calls) at their own syscall tracepoints, which run a program for
 * that syscall only.  Any syscall tracepoint still sends every syscall
 * through the kernel's slower exit path (~0.35 us per request measured
 * here): leaving them too would need another way to see accept() return.
 *
 * Which syscall, which fd and which buffer: the user registers, as at
 * sys_exit.  The socket of the fd must be the tracepoint's: a read of
 * something that is not a socket but uses one inside the kernel is not an
 * event of that socket.
 */
static __always_inline int sock_moved(struct sock *sk, int ret, int flags, __u8 type)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct data_args d;
	struct sys_regs g;
	__u64 taskp, id;
	__u8 sys;

	if (!capture_on || ret <= 0 || (flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	taskp = bpf_get_current_task();
	task = cur_task(taskp);
	/* kernel threads and io_uring's workers: no syscall of their own */
	if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
		return 0;
	if (sys_compat(task))
		return 0;
	regs = user_regs(task);
	sys = socket_io_sys(sys_nr(regs));
	if (!sys)
		return 0;
	/* the call's direction must be the hook's: io_uring's task work runs
	 * at a syscall's return and sends or receives on its own, under the
	 * registers of whatever syscall the task was in (a read interrupted
	 * while an io_uring send on the same socket completes) */
	if (sys_reads(sys) != (type == HCB_EV_READ))
		return 0;
	id = task_id(task);
	if (task_filtered(id))
		return 0;
	sys_args(regs, &g);
	d = (struct data_args){ .taskp = taskp, .a1 = g.a1, .a2 = g.a2,
				.sk = (__u64)sk, .ret = ret, .fd = g.a0,
				.sys = sys, .type = type,
				.discarded = type == HCB_EV_READ && (flags & MSG_TRUNC) };
	return exit_data_body(&d, true);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return sock_moved(sk, ret, flags, HCB_EV_WRITE);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return sock_moved(sk, ret, flags, HCB_EV_READ);
}

#define SYSCALL_EXIT(name, sys)							\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return capture_on ? syscall_done(sys, ctx->ret, NULL) : 0;		\
}

SYSCALL_EXIT(accept, HCB_SYS_ACCEPT)
SYSCALL_EXIT(accept4, HCB_SYS_ACCEPT4)
SYSCALL_EXIT(connect, HCB_SYS_CONNECT)
SYSCALL_EXIT(close, HCB_SYS_CLOSE)
SYSCALL_EXIT(sendmmsg, HCB_SYS_SENDMMSG)
SYSCALL_EXIT(recvmmsg, HCB_SYS_RECVMMSG)
SYSCALL_EXIT(sendfile64, HCB_SYS_SENDFILE)

/* ---- process exit ---- */

struct exit_ctx {
	__u64 id;
};

static long close_on_exit(struct bpf_map *map, __u64 *key, struct conn *c, struct exit_ctx *x)
{
	if ((*key >> 32) != (x->id >> 32))
		return 0;
	if (!c->ignored)
		emit_conn_event(c, x->id, (__s32)(__u32)*key, HCB_EV_CLOSE, HCB_SYS_EXIT, 0, 0);
	if (c->tls)
		bpf_map_delete_elem(&tls_streams, key);
	bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * A thread exits: drop its stashed arguments.  The last thread of a
 * process: its sockets are about to be closed by the kernel without a
 * close() call, so emit their CLOSE (syscall EXIT) and forget them, then
 * tell user space the pid is gone.
 */
SEC("raw_tracepoint/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct exit_ctx x = { .id = id };
	struct proc *p;

	bpf_map_delete_elem(&inflight, &id);
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	if (p->nconns > 0)
		bpf_for_each_map_elem(&conns, close_on_exit, &x, 0);
	bpf_map_delete_elem(&procs, &tgid);

	emit_task_event(HCB_EV_PROC_EXIT, id, false);
	return 0;
}
