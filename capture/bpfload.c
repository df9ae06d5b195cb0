// SPDX-License-Identifier: MIT
/*
 * bpfload.c - httpcap's BPF side from user space: make sure tracefs is
 * there (libbpf needs it to attach tracepoints), set the .rodata settings
 * and map sizes through the skeleton, load, fill the filter maps, attach,
 * and hand out the ring buffer and the loss counters.  Every failure comes
 * back with a message that says what is needed, since "operation not
 * permitted" alone does not tell a user to run as root.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "httpcap.skel.h"
#include "httpcap_compat.skel.h"	/* httpcap_compat__elf_bytes() */

#define TRACEFS "/sys/kernel/tracing"
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"

struct cap_bpf {
	struct httpcap *skel;
	struct cap_rings *rings;
	int *ring_fds;		/* nrings ring buffers, one per online CPU */
	int nrings;
	bool *online;		/* ncpus: which CPUs have a ring */
	size_t ring_size;
	int ncpus;
	unsigned nprogs;
	uint64_t *percpu;	/* ncpus values, for counter reads */
	bool tls;		/* the TLS programs are loaded */
	bool compat;		/* the object without kfuncs is loaded */
	bool sock_hooks;	/* the kernel has the socket layer's tracepoints */
	bool sock;		/* and the loaded programs take the data there */
};

static int verbosity;

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if ((level == LIBBPF_WARN && verbosity >= 1) || verbosity >= 2)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* libbpf finds tracepoint ids under tracefs; a fresh machine does not mount
 * it, so do what `mount -t tracefs` would. */
static int ensure_tracefs(char *msg, size_t len)
{
	if (!access(TRACEFS "/events/syscalls", F_OK) ||
	    !access(DEBUGFS_TRACING "/events/syscalls", F_OK))
		return 0;
	if (access(TRACEFS "/events", F_OK)) {
		if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0) {
			int err = -errno;

			snprintf(msg, len, "httpcap: tracefs is not mounted and mounting it on "
				 TRACEFS " failed: %s (needs root: CAP_SYS_ADMIN; or run "
				 "'mount -t tracefs tracefs " TRACEFS "')", cap_strerror(err));
			return err;
		}
	}
	if (access(TRACEFS "/events/syscalls", F_OK)) {
		snprintf(msg, len, "httpcap: this kernel has no syscall tracepoints ("
			 TRACEFS "/events/syscalls is missing: CONFIG_FTRACE_SYSCALLS)");
		return -ENOENT;
	}
	return 0;
}

/* A CPU's ring: its share of -B (KiB, all online CPUs together), rounded
 * down to a power of two, at least 1 MiB (a single busy CPU's burst room)
 * and at most 2 GiB (the largest ring the kernel makes). */
static size_t ring_size(uint32_t kb, int nonline)
{
	uint64_t share = (uint64_t)kb * 1024 / (uint64_t)(nonline > 0 ? nonline : 1), sz = 1 << 20;

	while (sz * 2 <= share && sz < (1ULL << 31))
		sz <<= 1;
	return (size_t)sz;
}

/* Whether each possible CPU is online (/sys/devices/system/cpu/online,
 * "0-3,8,10-11"), into on[ncpus]; all of them when it cannot be read.
 * The online count. */
static int online_cpus(bool *on, int ncpus)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int n = 0, a, b;
	char sep;

	for (int i = 0; i < ncpus; i++)
		on[i] = !f;
	if (!f)
		return ncpus;
	while (fscanf(f, "%d", &a) == 1) {
		b = a;
		sep = (char)fgetc(f);
		if (sep == '-') {
			if (fscanf(f, "%d", &b) != 1)
				break;
			sep = (char)fgetc(f);
		}
		for (int i = a; i <= b && i < ncpus; i++)
			if (i >= 0)
				on[i] = true;
		if (sep != ',')
			break;
	}
	fclose(f);
	for (int i = 0; i < ncpus; i++)
		n += on[i];
	if (!n) {	/* unreadable after all: every possible CPU */
		for (int i = 0; i < ncpus; i++)
			on[i] = true;
		n = ncpus;
	}
	return n;
}

/* One ring buffer per online CPU, in that CPU's slot of the events map (a
 * CPU brought online later has none: its events are counted as
 * ringbuf_full). */
static int make_rings(struct cap_bpf *b)
{
	int outer = bpf_map__fd(b->skel->maps.events), k = 0;

	b->ring_fds = malloc((size_t)b->nrings * sizeof(int));
	if (!b->ring_fds)
		return -ENOMEM;
	for (int i = 0; i < b->nrings; i++)
		b->ring_fds[i] = -1;
	for (int i = 0; i < b->ncpus && k < b->nrings; i++) {
		uint32_t cpu = (uint32_t)i;

		if (!b->online[i])
			continue;
		b->ring_fds[k] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "httpcap_ring", 0, 0,
						(uint32_t)b->ring_size, NULL);
		if (b->ring_fds[k] < 0 || bpf_map_update_elem(outer, &cpu, &b->ring_fds[k], 0))
			return -errno;
		k++;
	}
	return 0;
}

/* Whether the running kernel's BTF (vmlinux, NULL when it has none) has
 * name of kind (BTF_KIND_*). */
static bool kernel_has(const struct btf *vmlinux, const char *name, int kind)
{
	return vmlinux && btf__find_by_name_kind(vmlinux, name, kind) > 0;
}

/*
 * The hooks (bpf/httpcap.bpf.c): with sock, the socket layer's sendmsg and
 * recvmsg tracepoints for the data and the syscall tracepoints of accept,
 * connect, close, the mmsg pair and sendfile (Linux 6.3 and later, the main
 * object); otherwise sys_exit, which runs for every syscall.  The other
 * set is not loaded.
 */
static void pick_hooks(struct httpcap *skel, bool sock)
{
	struct bpf_program *sock_progs[] = {
		skel->progs.sock_send, skel->progs.sock_recv,
		skel->progs.tp_exit_accept, skel->progs.tp_exit_accept4,
		skel->progs.tp_exit_connect, skel->progs.tp_exit_close,
		skel->progs.tp_exit_sendmmsg, skel->progs.tp_exit_recvmmsg,
		skel->progs.tp_exit_sendfile64,
	};

	for (size_t i = 0; i < sizeof(sock_progs) / sizeof(sock_progs[0]); i++)
		bpf_program__set_autoload(sock_progs[i], sock);
	bpf_program__set_autoload(skel->progs.sys_exit, !sock);
}

/*
 * The skeleton, opened on the main object or, with compat, on the one built
 * without kfuncs for kernels before 6.2 (bpf/httpcap.bpf.c, HCB_KCAST).
 * bpf/bpf.mk checks that the two have the same maps, programs and
 * globals, so the main object's skeleton describes either: only the ELF
 * bytes it opens differ.
 */
static struct httpcap *open_skel(bool compat)
{
	struct httpcap *obj = calloc(1, sizeof(*obj));
	int err;

	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	err = httpcap__create_skeleton(obj);
	if (!err) {
		if (compat)
			obj->skeleton->data = httpcap_compat__elf_bytes(&obj->skeleton->data_sz);
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	}
	if (err) {
		httpcap__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

/* Whether a load failed for want of privileges: EPERM, or EACCES when not
 * root (as root, EACCES is the verifier refusing a program). */
static bool no_privilege(int err)
{
	return err == -EPERM || (err == -EACCES && geteuid() != 0);
}

/* Open the skeleton, set its settings and map sizes, and load it; with
 * tls false the TLS programs are not loaded (b->tls says which).  0, or
 * -errno with the message in msg. */
static int load_skel(struct cap_bpf *b, const struct cap_opts *o, bool tls, char *msg, size_t msglen)
{
	int err;

	b->tls = tls;
	b->skel = open_skel(b->compat);
	if (!b->skel) {
		err = -errno ? -errno : -ENOMEM;
		snprintf(msg, msglen, "httpcap: opening the BPF object failed: %s", cap_strerror(err));
		return err;
	}
	b->skel->rodata->self_tgid = getpid();
	b->skel->rodata->snaplen = o->snaplen;
	b->skel->rodata->filter_pids = o->npids > 0;
	b->skel->rodata->filter_ports = o->nports > 0;
	b->skel->rodata->filter_comm = o->comm[0] != '\0';
	b->skel->rodata->filter_hosts = o->nhosts > 0;
	b->skel->rodata->cgroup_id = o->cgroup ? o->cgroup_id : 0;
	b->skel->rodata->cgroup_level = o->cgroup_level;
	memcpy((char *)b->skel->rodata->comm_filter, o->comm, HCB_COMM_LEN);
	b->skel->rodata->tls_on = tls;
	pick_hooks(b->skel, b->sock);
	if (!tls) {
		/* not loaded at all: nothing to verify */
		struct bpf_program *tp[] = {
			b->skel->progs.ssl_read_enter, b->skel->progs.ssl_read_ex_enter,
			b->skel->progs.ssl_write_enter, b->skel->progs.ssl_write_ex_enter,
			b->skel->progs.tls_ret, b->skel->progs.gnutls_recv_enter,
			b->skel->progs.gnutls_send_enter,
#if defined(__x86_64__)
			b->skel->progs.go_tls_read_enter, b->skel->progs.go_tls_write_enter,
			b->skel->progs.go_tls_ret,
#endif
		};

		for (size_t i = 0; i < sizeof(tp) / sizeof(tp[0]); i++)
			bpf_program__set_autoload(tp[i], false);
	}
	/* a 32nd of a CPU's ring, at most 256 KiB: the reader is woken
	 * often enough that each batch is short (a batch of 1 MiB, ~1 ms of
	 * work, stalled the traced server it preempted: p99 latency at half
	 * load 2.5x untraced, 1.6x with 128 KiB), yet not once per event */
	b->ring_size = ring_size(o->ringbuf_kb, b->nrings);
	b->skel->rodata->wakeup_bytes = b->ring_size / 32 < (256 << 10) ? b->ring_size / 32 :
					(256 << 10);
	err = bpf_map__set_max_entries(b->skel->maps.events, (uint32_t)b->ncpus);
	if (!err)
		err = bpf_map__set_max_entries(b->skel->maps.scratch, b->ncpus);
	if (err) {
		snprintf(msg, msglen, "httpcap: sizing the BPF maps failed: %s", cap_strerror(err));
		return err;
	}
	if (verbosity >= 2) {
		/* -vv: the verifier's statistics of every program, loaded or
		 * not (instructions processed against its limit of a million) */
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, b->skel->obj)
			bpf_program__set_log_level(prog, 4);
	}
	err = httpcap__load(b->skel);
	if (err) {
		if (no_privilege(err))
			snprintf(msg, msglen, "httpcap: loading BPF programs needs root "
				 "(CAP_BPF and CAP_PERFMON): %s", cap_strerror(err));
		else
			snprintf(msg, msglen, "httpcap: loading BPF programs failed: %s "
				 "(run with -vv for libbpf's and the verifier's log)", cap_strerror(err));
	}
	return err;
}

/*
 * Load the best object this kernel takes, in this order: the main one on
 * the socket layer's tracepoints (where the kernel has them), the main one
 * on sys_exit, then the compat one (b->compat set at first: the kernel
 * lacks the kfuncs, only that one), each with the TLS programs and then
 * without them.  A kernel that refuses the uprobe programs still has the
 * syscalls to capture; one that refuses the socket-layer programs still
 * takes sys_exit, at ~0.4 us more CPU per request; one that refuses the
 * main object for a reason its BTF did not show (a verifier that differs
 * from the ones tested) still takes the one built for older kernels, at
 * ~10% more BPF time.  refuse_sock and refuse_main (tests): those count as
 * refused.  A refusal for lack of privileges is not retried.  0, or the
 * last -errno with its message in msg.  The lines that say what was given
 * up give the reason of the refusal that gave it up.
 */
static int load_best(struct cap_bpf *b, const struct cap_opts *o, bool refuse_sock,
		     bool refuse_main, char *msg, size_t msglen)
{
	const bool want_tls = !o->no_tls;
	/* [level]: 0 main on the socket hooks, 1 main on sys_exit, 2 compat */
	int err = -EINVAL, level_err[3] = { 0, 0, 0 }, tls_err[3] = { 0, 0, 0 };
	int level = 0;

	/* i: level << 1, bit 0 without TLS */
	for (int i = b->compat ? 4 : b->sock_hooks ? 0 : 2; i < 6; i++) {
		level = i >> 1;
		if (!want_tls && !(i & 1))
			continue;
		b->compat = level == 2;
		b->sock = level == 0;
		if (level < 2 && refuse_main) {
			err = -EACCES;	/* what the verifier returns */
			snprintf(msg, msglen, "httpcap: the main BPF object was refused "
				 "(HTTPCAP_BPF_COMPAT=fallback)");
		} else if (b->sock && refuse_sock) {
			err = -EACCES;
			snprintf(msg, msglen, "httpcap: the socket-layer BPF programs were refused "
				 "(HTTPCAP_BPF_HOOKS=refuse-sock)");
		} else {
			err = load_skel(b, o, !(i & 1), msg, msglen);
			if (!err)
				break;
			httpcap__destroy(b->skel);
			b->skel = NULL;
		}
		if (!level_err[level])
			level_err[level] = err;
		if (!(i & 1))
			tls_err[level] = err;
		if (no_privilege(err))
			return err;
	}
	if (err)
		return err;
	if (level_err[0] && level == 1)
		fprintf(stderr, "httpcap: the BPF programs on the socket layer's tracepoints were "
			"refused (%s): taking every syscall at sys_exit (-vv shows the verifier's "
			"log)\n", cap_strerror(level_err[0]));
	if ((level_err[0] || level_err[1]) && level == 2)
		fprintf(stderr, "httpcap: the BPF object for Linux 6.2 and later was refused "
			"(%s): loaded the one for older kernels (-vv shows the verifier's log)\n",
			cap_strerror(level_err[1] ? level_err[1] : level_err[0]));
	if (want_tls && !b->tls)
		fprintf(stderr, "httpcap: the TLS probes could not be loaded (%s): capturing "
			"without TLS plaintext\n", cap_strerror(tls_err[level]));
	return 0;
}

struct cap_bpf *cap_bpf_open(const struct cap_opts *o, cap_sample_fn cb, void *ctx,
			     int *err, char *msg, size_t msglen)
{
	struct cap_bpf *b = calloc(1, sizeof(*b));
	struct bpf_program *prog;
	const char *force, *hooks;
	struct btf *vmlinux;
	uint8_t one = 1;
	size_t i;

	*err = 0;
	if (!b) {
		*err = -ENOMEM;
		snprintf(msg, msglen, "httpcap: out of memory");
		return NULL;
	}
	verbosity = o->verbose;
	libbpf_set_print(libbpf_print);
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0) {
		*err = b->ncpus ? b->ncpus : -EINVAL;
		snprintf(msg, msglen, "httpcap: cannot count the CPUs: %s", cap_strerror(*err));
		goto fail;
	}
	b->percpu = calloc(b->ncpus, sizeof(uint64_t));
	b->online = calloc(b->ncpus, sizeof(bool));
	if (!b->percpu || !b->online) {
		*err = -ENOMEM;
		snprintf(msg, msglen, "httpcap: out of memory");
		goto fail;
	}
	b->nrings = online_cpus(b->online, b->ncpus);
	/* HTTPCAP_BPF_COMPAT (for tests): 1, the compat object on any
	 * kernel; fallback, the main object counts as refused */
	force = getenv("HTTPCAP_BPF_COMPAT");
	/* parsed once: its few MB cost milliseconds per load */
	vmlinux = btf__load_vmlinux_btf();
	b->compat = (force && !strcmp(force, "1")) ||
		    !kernel_has(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC);
	/* HTTPCAP_BPF_HOOKS (for tests): syscalls, sys_exit on any kernel;
	 * refuse-sock, the socket-layer programs count as refused */
	hooks = getenv("HTTPCAP_BPF_HOOKS");
	b->sock_hooks = !(hooks && !strcmp(hooks, "syscalls")) &&
			kernel_has(vmlinux, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) &&
			kernel_has(vmlinux, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF);
	btf__free(vmlinux);
	*err = load_best(b, o, hooks && !strcmp(hooks, "refuse-sock"),
			 force && !strcmp(force, "fallback"), msg, msglen);
	if (*err)
		goto fail;
	*err = make_rings(b);
	if (*err) {
		snprintf(msg, msglen, "httpcap: creating the ring buffers (%d x %zu KiB) failed: %s",
			 b->nrings, b->ring_size >> 10, cap_strerror(*err));
		goto fail;
	}
	for (i = 0; i < o->npids; i++) {
		*err = bpf_map_update_elem(bpf_map__fd(b->skel->maps.pid_filter), &o->pids[i], &one, 0);
		if (*err)
			break;
	}
	for (i = 0; !*err && i < o->nports; i++)
		*err = bpf_map_update_elem(bpf_map__fd(b->skel->maps.port_filter), &o->ports[i], &one, 0);
	for (i = 0; !*err && i < o->nhosts; i++) {
		struct hcb_host_key k = { .prefixlen = o->hosts[i].bits };

		memcpy(k.addr, o->hosts[i].addr, sizeof(k.addr));
		*err = bpf_map_update_elem(bpf_map__fd(b->skel->maps.host_filter), &k, &one, 0);
	}
	if (*err) {
		*err = -errno;
		snprintf(msg, msglen, "httpcap: setting the filters failed: %s", cap_strerror(*err));
		goto fail;
	}
	*err = ensure_tracefs(msg, msglen);
	if (*err)
		goto fail;
	*err = httpcap__attach(b->skel);
	if (*err) {
		snprintf(msg, msglen, "httpcap: attaching to the syscall tracepoints failed: %s%s",
			 cap_strerror(*err), *err == -EPERM || *err == -EACCES ?
			 " (needs root: CAP_BPF and CAP_PERFMON)" : " (run with -v for details)");
		goto fail;
	}
	bpf_object__for_each_program(prog, b->skel->obj)
		b->nprogs += bpf_program__autoload(prog);
	b->rings = cap_rings_open(b->ring_fds, (unsigned)b->nrings, b->ring_size, cb, ctx, err);
	if (!b->rings) {
		snprintf(msg, msglen, "httpcap: mapping the ring buffers failed: %s", cap_strerror(*err));
		goto fail;
	}
	if (o->verbose)
		fprintf(stderr, "httpcap: attached %u BPF programs (%s; raw tracepoints "
			"sched_process_exit, sched_process_exec; syscall tracepoint "
			"sys_enter_connect; TLS uprobes attached apart), a ring "
			"buffer of %zu KiB per CPU, %d CPUs online of %d; %s\n",
			b->nprogs, b->sock ?
			"BTF tracepoints sock_send_length and sock_recv_length for the data "
			"of read, readv, recvfrom, recvmsg, write, writev, sendto and sendmsg; "
			"syscall tracepoints sys_exit_ of accept, accept4, connect, close, "
			"recvmmsg, sendmmsg and sendfile64" :
			"BTF tracepoint sys_exit, for accept, accept4, connect, close, read, "
			"readv, recvfrom, recvmsg, recvmmsg, write, writev, sendto, sendmsg, "
			"sendmmsg and sendfile64",
			b->ring_size >> 10, b->nrings, b->ncpus,
			b->compat ? "kernel fields read with bpf_probe_read_kernel (the object for "
				    "kernels without bpf_rdonly_cast)" :
				    "kernel fields read through bpf_rdonly_cast");
	return b;
fail:
	cap_bpf_close(b);
	return NULL;
}

bool cap_bpf_tls(const struct cap_bpf *b)
{
	return b->tls;
}

struct httpcap *cap_bpf_skel(struct cap_bpf *b)
{
	return b->skel;
}

void cap_bpf_start(struct cap_bpf *b)
{
	__atomic_store_n(&b->skel->bss->capture_on, 1, __ATOMIC_RELEASE);
}

void cap_bpf_stop(struct cap_bpf *b)
{
	__atomic_store_n(&b->skel->bss->capture_on, 0, __ATOMIC_RELEASE);
}

int cap_bpf_poll(struct cap_bpf *b, int timeout_ms, unsigned max)
{
	int err = cap_rings_wait(b->rings, timeout_ms);

	/* a wakeup from one ring, or the timeout: every ring's records up to
	 * now belong in the same merge (the clock first, then the rings) */
	return err ? err : cap_bpf_consume(b, max);
}

struct cap_rings *cap_bpf_rings(struct cap_bpf *b)
{
	return b->rings;
}

int cap_bpf_consume(struct cap_bpf *b, unsigned max)
{
	return cap_rings_consume(b->rings, cap_mono_ns(), max);
}

int cap_bpf_consume_all(struct cap_bpf *b)
{
	return cap_rings_consume(b->rings, UINT64_MAX, 0);
}

unsigned cap_bpf_nprogs(const struct cap_bpf *b)
{
	return b->nprogs;
}

int cap_bpf_counters(struct cap_bpf *b, uint64_t *cnt)
{
	int fd = bpf_map__fd(b->skel->maps.counters);

	for (uint32_t k = 0; k < HCB_CNT__COUNT; k++) {
		cnt[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, b->percpu))
			return -errno;
		for (int c = 0; c < b->ncpus; c++)
			cnt[k] += b->percpu[c];
	}
	return 0;
}

void cap_bpf_close(struct cap_bpf *b)
{
	if (!b)
		return;
	cap_rings_free(b->rings);
	for (int i = 0; b->ring_fds && i < b->nrings; i++)
		if (b->ring_fds[i] >= 0)
			close(b->ring_fds[i]);
	free(b->ring_fds);
	free(b->online);
	httpcap__destroy(b->skel);
	free(b->percpu);
	free(b);
}
