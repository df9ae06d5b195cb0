/* SPDX-License-Identifier: MIT */
/*
 * capture.h - what the parts of httpcap (capture/) share: the parsed
 * command line, and the small modules main.c drives: BPF setup (bpfload.c),
 * kernel event decoding (convert.c), per-connection redaction state
 * (conntab.c), process metadata (procmeta.c) and rotating output files
 * (output.c).  Conventions as libbpf: 0 or -errno.
 */
#ifndef HTTPCAP_CAPTURE_H
#define HTTPCAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "htc.h"
#include "httpcap_bpf.h"
#include "redact.h"

#define CAP_MAX_PIDS HCB_MAX_FILTER
#define CAP_MAX_PORTS HCB_MAX_FILTER
#define CAP_MAX_HOSTS HCB_MAX_FILTER

/* A --host prefix in the kernel's form: IPv4 as ::ffff:a.b.c.d, bits
 * counted over the 128-bit address (an IPv4 /24 is 120). */
struct cap_host {
	uint8_t addr[16];	/* network byte order, bits beyond the prefix zeroed */
	uint8_t bits;		/* 0..128 */
	uint8_t family;		/* HTC_AF_INET or HTC_AF_INET6, as written */
};

/* ---- command line (cli.c) ---- */

struct cap_opts {
	const char *wfile;		/* -w, "-" = stdout */
	const char *rfile;		/* -r */
	uint64_t count;			/* -c, 0 = unlimited */
	uint32_t snaplen;		/* -s */
	uint32_t pids[CAP_MAX_PIDS];	/* -p */
	size_t npids;
	char comm[HCB_COMM_LEN];	/* --comm, "" = any */
	uint16_t ports[CAP_MAX_PORTS];	/* --port */
	size_t nports;
	struct cap_host hosts[CAP_MAX_HOSTS];	/* --host */
	size_t nhosts;
	const char *cgroup;		/* --cgroup PATH, as given */
	uint64_t cgroup_id;		/* ... resolved by cap_cgroup_resolve() */
	uint32_t cgroup_level;
	uint64_t rotate_bytes;		/* -C, in bytes (MB = 1,000,000 as tcpdump) */
	uint32_t rotate_secs;		/* -G */
	uint32_t nfiles;		/* -W */
	const char *user;		/* -Z */
	uint32_t ringbuf_kb;		/* -B */
	double duration;		/* --duration seconds, 0 = none */
	bool unbuffered;		/* -U */
	bool quiet;			/* -q */
	int verbose;			/* -v, repeatable */
	bool no_redact;
	const char *redact_names[REDACT_MAX_NAMES];	/* --redact, more secret names */
	size_t nredact;
	bool no_tls;			/* --no-tls: no TLS library probes */
	bool text;			/* --text */
	/* --since/--until (-r): wall-clock ns, or offsets from the capture
	 * start when *_rel (htc_sel_parse_time) */
	int64_t since_ns, until_ns;
	bool since_rel, until_rel, since_set, until_set;
	bool top;			/* --top */
	double interval;		/* --interval seconds of --top, default 1 */
	bool help, version;
};

/*
 * Parse argv into o (OUT).  Returns 0, or -EINVAL after writing one line
 * "httpcap: <what is wrong>" into err (errlen bytes).
 */
int cap_parse_args(int argc, char **argv, struct cap_opts *o, char *err, size_t errlen);
void cap_usage(FILE *f);
/* Whether address a (HTC_AF_* family) lies in one of o's --host prefixes
 * (true when there are none). */
bool cap_host_match(const struct cap_opts *o, uint8_t family, const uint8_t *a);
/* "ADDR/BITS" of h into buf (at least 64 bytes). */
void cap_host_text(const struct cap_host *h, char *buf, size_t len);
/* The active filters as "--pid 12, --port 80, --host 10.0.0.0/8" into
 * buf; "" when none. */
void cap_filters_text(const struct cap_opts *o, char *buf, size_t len);
/*
 * --cgroup: o->cgroup_id and o->cgroup_level (OUT) of the cgroup v2
 * directory o->cgroup, a path under the cgroup2 mount or inside the
 * hierarchy (/system.slice/x.service).  Returns 0, or -errno with a
 * message in msg.  proc_mounts: "/proc/self/mountinfo" (tests: a fake).
 */
int cap_cgroup_resolve(struct cap_opts *o, const char *mountinfo, char *msg, size_t msglen);
/* "key=value\n" lines describing the options, for the file header. */
void cap_opts_text(const struct cap_opts *o, int argc, char **argv, char *buf, size_t len);

/* ---- kernel events (convert.c) ---- */

/*
 * Decode one ring-buffer sample (size bytes) into rec (OUT); rec's payload
 * points into data.  Returns 1 for an event record, 0 for a PROC_EXIT
 * notification (*exit_pid set), 2 for an EXEC one (*exit_pid: the pid
 * that called exec), -EINVAL when the sample is malformed.
 */
int cap_decode_event(const void *data, size_t size, struct htc_record *rec, uint32_t *exit_pid);

/* ---- redaction state per connection (conntab.c) ---- */

struct conntab;

/* Bounded: at most max connections; the least recently used is evicted. */
struct conntab *conntab_new(size_t max);
void conntab_free(struct conntab *t);
/*
 * Redact ev's payload in buf (a writable copy of ev->payload, cap_len
 * bytes) with the state of ev's connection and direction, telling the
 * redactor about uncaptured bytes first (stream gaps, snaplen cuts).
 * Forgets the connection on CLOSE.  Returns bytes overwritten.
 */
size_t conntab_redact(struct conntab *t, const struct htc_event *ev, uint8_t *buf);
/* The same on an event straight from the ring buffer (mapped read-only):
 * its payload is copied to buf (HCB_MAX_SNAPLEN bytes) and pointed there,
 * then redacted; HTC_EVF_REDACTED is set when bytes were overwritten.  A
 * payload that repeats its direction's last one, which redaction left
 * alone, from the same redactor state is left where it is, unchanged. */
bool conntab_redact_event(struct conntab *t, struct htc_event *ev, uint8_t *buf);
size_t conntab_count(const struct conntab *t);

/* ---- process metadata (procmeta.c) ---- */

/* The container id in a cgroup path (64 or 32+ hex digits of docker,
 * containerd, cri-o, podman, kubepods), copied into out (outlen bytes).
 * Returns its length, 0 when there is none. */
size_t cap_container_id(const char *cgroup, size_t len, char *out, size_t outlen);

struct proctab;

/* proc_root: "/proc" (tests use a fake tree); redact: hide secrets in cmdlines */
struct proctab *proctab_new(const char *proc_root, bool redact);
void proctab_free(struct proctab *t);
/*
 * The metadata record for pid, read from /proc on first sight and cached.
 * Returns 1 and fills rec (OUT, valid until the next call) when the record
 * has not yet been written to the current output file, 0 when it has.
 * comm is used when /proc no longer has the process.
 */
int proctab_need(struct proctab *t, uint32_t pid, const char *comm, uint64_t ts_ns,
		 struct htc_record *rec);
/* A new output file: every process is written again on its next event. */
void proctab_new_file(struct proctab *t);
void proctab_forget(struct proctab *t, uint32_t pid);
size_t proctab_count(const struct proctab *t);

/* ---- output files with rotation (output.c) ---- */

struct output;

/*
 * Open the first file of o->wfile (strftime name under -G, numbered under
 * -C, a ring under -W).  hdr is copied; its start_ns is updated per file.
 * uid/gid: owner of the files created before a privilege drop (-Z), -1 to
 * keep root.  Returns NULL with *err set.
 */
void output_writer_opts(struct htc_writer_opts *w);
struct output *output_open(const struct cap_opts *o, const struct htc_header *hdr,
			   long uid, long gid, int *err);
/* Append one record to the current file. */
int output_append(struct output *out, const struct htc_record *rec);
int output_flush(struct output *out);
/*
 * Rotate when -C or -G says so; call before each event and every second.
 * *rotated (OUT) is set when a new file was started: the caller writes its
 * OPTIONS record and the PROC records again.
 */
int output_tick(struct output *out, uint64_t now_ns, bool *rotated);
/* Whether a -G/-W capture has written its last file and should stop. */
bool output_done(const struct output *out);
const char *output_path(const struct output *out);
/* Check that the directory stays writable after the privilege drop. */
int output_check_dir_writable(const struct output *out);
/* Close the current file; stats (OUT) sum every file written. */
int output_close(struct output *out, uint64_t end_ns, struct htc_writer_stats *stats,
		 unsigned *nfiles);

/* ---- BPF (bpfload.c) ---- */

struct cap_bpf;
typedef int (*cap_sample_fn)(void *ctx, void *data, size_t size);

/*
 * Mount tracefs if needed, open, configure (o), load and attach the BPF
 * programs and set up the ring buffer whose samples go to cb.  Events flow
 * only after cap_bpf_start().  On failure returns NULL, *err set, and the
 * message to print in msg.
 */
struct cap_bpf *cap_bpf_open(const struct cap_opts *o, cap_sample_fn cb, void *ctx,
			     int *err, char *msg, size_t msglen);
void cap_bpf_start(struct cap_bpf *b);
void cap_bpf_stop(struct cap_bpf *b);
/* Wait up to timeout_ms (poll only), then hand over the CPUs' records up to
 * now, on a timeout too, at most max of them (0: all): samples handled, or
 * a negative error. */
int cap_bpf_poll(struct cap_bpf *b, int timeout_ms, unsigned max);
/* The rings the programs write (for cap_sched_start). */
struct cap_rings *cap_bpf_rings(struct cap_bpf *b);
/* The same without the wait. */
int cap_bpf_consume(struct cap_bpf *b, unsigned max);
/* Everything left in the rings, whatever its time: after cap_bpf_stop(). */
int cap_bpf_consume_all(struct cap_bpf *b);
/* Kernel counters summed over CPUs, HCB_CNT__COUNT slots (OUT). */
int cap_bpf_counters(struct cap_bpf *b, uint64_t *cnt);
unsigned cap_bpf_nprogs(const struct cap_bpf *b);
void cap_bpf_close(struct cap_bpf *b);

/* ---- the per-CPU ring buffers, read in time order (rings.c) ---- */

struct cap_rings;

/* Map the n BPF ring buffers fds (each of size data bytes, a power of two
 * and a multiple of the page size) and watch them with epoll; samples go to
 * cb.  NULL with *err (-errno) on failure. */
struct cap_rings *cap_rings_open(const int *fds, unsigned n, size_t size, cap_sample_fn cb,
				 void *ctx, int *err);

/* A ring laid out as the kernel's in memory of the caller's (tests): the
 * consumer and producer positions and the data area, mapped twice in a
 * row at data. */
struct cap_ring_mem {
	uint64_t *cons;
	const uint64_t *prod;
	const uint8_t *data;
	size_t size;
};

struct cap_rings *cap_rings_attach(struct cap_ring_mem *mem, unsigned n, cap_sample_fn cb,
				   void *ctx);
/* Hand the records committed in the rings now and stamped no later than
 * until (cap_mono_ns() read before this call: see rings.c;
 * UINT64_MAX for the last drain) to cb, earliest timestamp first, at most
 * max of them (0: no limit; the rest wait for the next call, still in
 * order): records handled, or cb's negative return (that record
 * consumed). */
int cap_rings_consume(struct cap_rings *rs, uint64_t until, unsigned max);
/* Wait up to timeout_ms for a wakeup from any ring: 0, or -errno (-EINTR
 * when a signal came first). */
int cap_rings_wait(struct cap_rings *rs, int timeout_ms);
/* How full the fullest ring is, in per mille of its size. */
unsigned cap_rings_fill(const struct cap_rings *rs);

/* ---- when the drain loop runs (sched.c) ---- */

enum { CAP_SCHED_IDLE, CAP_SCHED_BATCH };
struct cap_sched;

/* The calling thread (the drain loop) SCHED_IDLE while it keeps up with
 * rings, raised to SCHED_BATCH by a guard thread when behind; SCHED_BATCH
 * throughout when it could not leave SCHED_IDLE again.  NULL only when
 * out of memory; *err says why the drain is not adaptive (0: it is). */
struct cap_sched *cap_sched_start(struct cap_rings *rings, int *err);
/* After each pass of the drain loop (now: cap_mono_ns(), read after the
 * pass): lowers it again once caught up. */
void cap_sched_pass(struct cap_sched *s, uint64_t now);
/* Records a pass of the drain loop takes at most (sched.c: short bursts). */
#define CAP_DRAIN_CHUNK 256
/* Between two passes when the last took a whole chunk: a short sleep
 * while the drain keeps up, none when it is behind. */
void cap_sched_nap(struct cap_sched *s);
/* Stop the guard, leave the drain SCHED_BATCH; how many times it was
 * raised. */
unsigned cap_sched_stop(struct cap_sched *s);
/* The decision alone, for tests: the mode after a guard tick (drain_side
 * false: fill_pm, starved ticks in a row) or after a pass (drain_side). */
int cap_sched_next(int mode, unsigned fill_pm, unsigned starved_ticks, bool drain_side);
/* The hold after a raise from SCHED_IDLE: the shortest after a raise long
 * after the last lowering (lowered_for_ns), double the last one (hold_ns)
 * when the drain starved again soon after it was lowered. */
uint64_t cap_sched_hold(uint64_t hold_ns, uint64_t lowered_for_ns);
/* The nap's decision alone, for tests: whether to nap with the fullest
 * ring fill_pm per mille full, the guard having raised the drain or not. */
bool cap_sched_naps(unsigned fill_pm, bool raised);
/* Whether the host's CPUs were idle long enough (idle_ns, all CPUs) for a
 * SCHED_IDLE drain that ran drain_ns in the same time to keep up. */
bool cap_sched_room(uint64_t idle_ns, uint64_t drain_ns);

void cap_rings_free(struct cap_rings *rs);

/* Whether the TLS programs are loaded (not with --no-tls, nor when the
 * kernel refused them: the capture then goes on without TLS). */
bool cap_bpf_tls(const struct cap_bpf *b);
/* The skeleton, for capture/tls.c's attachments. */
struct httpcap *cap_bpf_skel(struct cap_bpf *b);

/* ---- TLS plaintext probes (tls.c, gopclntab.c) ---- */

/*
 * Function name in a Go program's pclntab (the .gopclntab section's len
 * bytes at p; Go 1.18+, 64-bit): OUT *entry and *end, its first address and
 * the next function's.  0; -ENOENT (not there, or a table that does not
 * hold together); -ENOTSUP (an older Go, or 32-bit).
 */
int cap_go_find_func(const uint8_t *p, size_t len, const char *name, uint64_t *entry,
		     uint64_t *end);

struct cap_tls;

/*
 * Probe every TLS library and program on the host (bpf/tls.bpf.h's
 * uprobes): the usual library folders, and the executable and mapped
 * libraries of every process.  verbose: list each file probed on stderr.
 * A failure to attach (no root, no uprobes) is said once on stderr and the
 * capture goes on without TLS.  NULL only when out of memory.
 */
struct cap_tls *cap_tls_open(struct cap_bpf *b, int verbose);
/* Process pid called exec: probe its executable if new. */
void cap_tls_exec(struct cap_tls *t, uint32_t pid);
/* Files probed so far. */
unsigned cap_tls_files(const struct cap_tls *t);
void cap_tls_close(struct cap_tls *t);

/* htc_strerror(err) with a lowercase first letter ("operation not
 * permitted"), as messages are written here; err is negative. */
const char *cap_strerror(int err);

/* ---- time ---- */
uint64_t cap_mono_ns(void);

#endif /* HTTPCAP_CAPTURE_H */
