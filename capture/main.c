// SPDX-License-Identifier: MIT
/*
 * main.c - httpcap: load the BPF programs, drain their ring buffer, and
 * either write the events to a .htc file (-w, with rotation) or run them
 * through the engine and print them (JSON lines or --text); -r prints a
 * file the same way.
 *
 * The drain loop is single-threaded: the per-CPU ring buffers read merged
 * (rings.c) with a short timeout, then once a second the housekeeping that
 * must happen even when no event arrives (kernel loss counters into
 * HTC_REC_LOSS records, closing the open frame so that a SIGKILL loses at
 * most a second, -G rotation, --duration).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture.h"
#include "export.h"
#include "htc_engine.h"
#include "print.h"
#include "top.h"

#define POLL_MS 100
#define FLUSH_NS 100000000ULL	/* -U: a drain kept busy flushes this often */
#define NS_PER_SEC 1000000000ULL

struct app {
	struct cap_opts o;
	struct htc_header hdr;
	struct cap_bpf *bpf;
	struct cap_tls *tls;		/* NULL with --no-tls */
	struct output *out;		/* -w */
	struct htc_engine *eng;		/* printing, or --top */
	struct top *top;		/* --top */
	int file_idx;
	enum print_format fmt;
	struct conntab *ct;
	struct proctab *pt;
	uint8_t *pbuf;			/* writable payload copy for redaction */
	uint64_t events, conns, redacted, user_lost, payload_bytes;
	uint64_t last_cnt[HCB_CNT__COUNT];
	uint64_t last_user_lost;
	uint64_t now;			/* cap_mono_ns() once per drain loop turn */
	uint64_t total_lost[HTC_LOSS__COUNT];
	int err;			/* first output error */
	bool count_reached;
	bool out_closed;		/* stdout went away (EPIPE) */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

uint64_t cap_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* REALTIME - MONOTONIC, from the closest of a few samples: bpf_ktime_get_ns()
 * is CLOCK_MONOTONIC and readers need wall-clock time. */
static int64_t realtime_offset(void)
{
	uint64_t best_gap = UINT64_MAX;
	int64_t off = 0;

	for (int i = 0; i < 5; i++) {
		uint64_t m1 = cap_mono_ns(), r = real_ns(), m2 = cap_mono_ns();

		if (m2 - m1 < best_gap) {
			best_gap = m2 - m1;
			off = (int64_t)(r - (m1 + (m2 - m1) / 2));
		}
	}
	return off;
}

static void build_header(struct htc_header *h, const struct cap_opts *o, int argc, char **argv)
{
	struct utsname u;

	memset(h, 0, sizeof(*h));
	h->version_major = HTC_VERSION_MAJOR;
	h->version_minor = HTC_VERSION_MINOR;
	h->flags = (o->no_redact ? 0 : HTC_OPT_REDACT) | (o->snaplen ? HTC_OPT_PAYLOAD : 0);
	h->snaplen = o->snaplen;
	h->realtime_offset_ns = realtime_offset();
	h->start_ns = cap_mono_ns();
	if (getrandom(h->capture_id, sizeof(h->capture_id), 0) != sizeof(h->capture_id)) {
		/* no entropy source: time and pid still tell files apart */
		uint64_t t = real_ns(), p = getpid();

		memcpy(h->capture_id, &t, 8);
		memcpy(h->capture_id + 8, &p, 8);
	}
	if (gethostname(h->hostname, sizeof(h->hostname) - 1) < 0)
		snprintf(h->hostname, sizeof(h->hostname), "unknown");
	if (!uname(&u))
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	snprintf(h->tool_version, sizeof(h->tool_version), "httpcap %s", HTC_TOOL_VERSION);
	cap_opts_text(o, argc, argv, h->options, sizeof(h->options));
}

static int options_record(struct app *a, uint64_t ts)
{
	struct htc_record rec = { .type = HTC_REC_OPTIONS };

	rec.opt.ts_ns = ts;
	rec.opt.snaplen = a->hdr.snaplen;
	rec.opt.flags = a->hdr.flags;
	rec.opt.text = a->hdr.options;
	rec.opt.text_len = strlen(a->hdr.options);
	return output_append(a->out, &rec);
}

/* A record to the file, or to the engine and stdout. */
static int emit(struct app *a, const struct htc_record *rec)
{
	struct htc_eng_annot annot = {};
	int err;

	if (a->out) {
		err = output_append(a->out, rec);
		if (err || !a->top)
			return err;
	}
	/* --top: the engine's callbacks are the output, not each event */
	err = htc_engine_feed(a->eng, a->file_idx, rec, a->top ? NULL : &annot);
	if (err || a->top)
		return err;
	if (rec->type != HTC_REC_DATA && rec->type != HTC_REC_CONN)
		return 0;
	err = print_event(stdout, a->fmt, &a->hdr, rec, &annot);
	if (err == -EPIPE || ferror(stdout)) {
		a->out_closed = true;
		return 0;
	}
	return err;
}

static void set_err(struct app *a, int err)
{
	if (!a->err)
		a->err = err;
}

/* Rotate when due; a new file starts with OPTIONS and gets PROC again. */
static int tick_output(struct app *a, uint64_t now)
{
	bool rotated = false;
	int err;

	if (!a->out)
		return 0;
	err = output_tick(a->out, now, &rotated);
	if (!err && rotated) {
		proctab_new_file(a->pt);
		err = options_record(a, now);
		if (!err && a->o.verbose)
			fprintf(stderr, "httpcap: now writing '%s'\n", output_path(a->out));
	}
	return err;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct app *a = ctx;
	struct htc_record rec, prec;
	uint32_t exit_pid = 0;
	int rc;

	if (a->count_reached || a->err || a->out_closed || (a->out && output_done(a->out)))
		return 0;
	rc = cap_decode_event(data, size, &rec, &exit_pid);
	if (rc < 0) {
		a->user_lost++;
		return 0;
	}
	if (rc == 0) {
		proctab_forget(a->pt, exit_pid);
		return 0;
	}
	if (rc == 2) {
		cap_tls_exec(a->tls, exit_pid);
		return 0;
	}
	if (!a->o.no_redact && conntab_redact_event(a->ct, &rec.ev, a->pbuf))
		a->redacted++;
	/* no clock read per event: the event's own time (the same monotonic
	 * clock), or the loop's last reading if that is later */
	rc = tick_output(a, rec.ev.ts_ns > a->now ? rec.ev.ts_ns : a->now);
	if (!rc && proctab_need(a->pt, rec.ev.pid, rec.ev.comm, rec.ev.ts_ns, &prec) == 1)
		rc = emit(a, &prec);
	if (!rc)
		rc = emit(a, &rec);
	if (rc) {
		set_err(a, rc);
		return rc;
	}
	a->events++;
	a->payload_bytes += rec.ev.cap_len;
	if (rec.ev.type == HTC_EV_ACCEPT || rec.ev.type == HTC_EV_CONNECT)
		a->conns++;
	if (a->o.count && a->events >= a->o.count)
		a->count_reached = true;
	return 0;
}

/* Kernel loss counters since the last call into HTC_REC_LOSS records. */
static int report_losses(struct app *a)
{
	uint64_t cnt[HCB_CNT__COUNT], now = cap_mono_ns();
	struct htc_record rec = { .type = HTC_REC_LOSS };
	int err;

	err = cap_bpf_counters(a->bpf, cnt);
	if (err) {
		/* keep the old values and try again next second, but say so */
		static bool warned;

		if (!warned && !a->o.quiet)
			fprintf(stderr, "httpcap: cannot read the kernel's loss counters: %s "
				"(drops may go unreported)\n", cap_strerror(err));
		warned = true;
		return 0;
	}
	cnt[HTC_LOSS_USER] = a->user_lost;
	for (unsigned r = 0; r < HTC_LOSS__COUNT; r++) {
		uint64_t last = r == HTC_LOSS_USER ? a->last_user_lost : a->last_cnt[r];

		if (cnt[r] <= last)
			continue;
		rec.loss.ts_ns = now;
		rec.loss.reason = r;
		rec.loss.count = cnt[r] - last;
		a->total_lost[r] += rec.loss.count;
		/* --top shows the count in its header line */
		if (!a->out && !a->o.quiet && !a->top)
			fprintf(stderr, "httpcap: %llu events lost (%s)\n",
				(unsigned long long)rec.loss.count, htc_loss_reason_name(r));
		err = emit(a, &rec);
		if (err)
			return err;
	}
	memcpy(a->last_cnt, cnt, sizeof(cnt));
	a->last_user_lost = a->user_lost;
	return 0;
}

static uint64_t total_lost(const struct app *a)
{
	uint64_t lost = 0;

	for (unsigned r = 0; r < HTC_LOSS__COUNT; r++)
		lost += a->total_lost[r];
	return lost;
}

static void print_stats(struct app *a, const struct htc_writer_stats *ws, unsigned nfiles)
{
	uint64_t lost = 0;

	for (unsigned r = 0; r < HTC_LOSS__COUNT; r++)
		lost += a->total_lost[r];
	fprintf(stderr, "%llu events captured (%llu connections opened, %llu payload bytes, "
		"%llu redacted)\n", (unsigned long long)a->events, (unsigned long long)a->conns,
		(unsigned long long)a->payload_bytes, (unsigned long long)a->redacted);
	fprintf(stderr, "%llu events dropped (", (unsigned long long)lost);
	for (unsigned r = 0; r < HTC_LOSS__COUNT; r++)
		fprintf(stderr, "%s%s %llu", r ? ", " : "", htc_loss_reason_name(r),
			(unsigned long long)a->total_lost[r]);
	fprintf(stderr, ")\n");
	if (ws)
		fprintf(stderr, "%llu bytes written in %u file%s, %llu records, %llu bytes "
			"before compression (ratio %.1f)\n", (unsigned long long)ws->bytes_out,
			nfiles, nfiles == 1 ? "" : "s", (unsigned long long)ws->records,
			(unsigned long long)ws->bytes_in,
			ws->bytes_out ? (double)ws->bytes_in / ws->bytes_out : 0.0);
}

static int drop_privileges(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return -errno;
	if (setuid(0) == 0)
		return -EPERM;	/* the drop did not stick */
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* no SA_RESTART: poll() returns EINTR and the loop sees the stop */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void read_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	fprintf(stderr, "httpcap: '%s': %s at offset %llu\n", (const char *)ctx, msg,
		(unsigned long long)offset);
}

/* --since/--until against the file's header: wall-clock ns, 0 = open */
static uint64_t time_bound(const struct htc_header *h, bool set, int64_t ns, bool rel)
{
	if (!set)
		return 0;
	return rel ? htc_wall_ns(h->start_ns, h->realtime_offset_ns) + (uint64_t)ns : (uint64_t)ns;
}

static bool passes_filters(const struct cap_opts *o, const struct htc_header *h,
			   const struct htc_event *ev)
{
	uint64_t since = time_bound(h, o->since_set, o->since_ns, o->since_rel);
	uint64_t until = time_bound(h, o->until_set, o->until_ns, o->until_rel);
	uint64_t wall = htc_wall_ns(ev->ts_ns, h->realtime_offset_ns);
	bool ok;
	size_t i;

	if ((since && wall < since) || (until && wall >= until))
		return false;

	if (o->npids) {
		for (ok = false, i = 0; i < o->npids && !ok; i++)
			ok = ev->pid == o->pids[i];
		if (!ok)
			return false;
	}
	if (o->nports) {
		for (ok = false, i = 0; i < o->nports && !ok; i++)
			ok = ev->ep.lport == o->ports[i] || ev->ep.rport == o->ports[i];
		if (!ok)
			return false;
	}
	if (!cap_host_match(o, ev->ep.family, ev->ep.laddr) &&
	    !cap_host_match(o, ev->ep.family, ev->ep.raddr))
		return false;
	return !o->comm[0] || !strncmp(o->comm, ev->comm, HTC_COMM_LEN);
}

/* -r: a file through the engine to stdout, as a live capture prints. */
static int read_file(const struct cap_opts *o, enum print_format fmt)
{
	const char *paths[1] = { o->rfile };
	struct htc_engine_sink sink = {};
	struct htc_reader_stats st = {};
	struct htc_engine *eng = NULL;
	struct htc_source *src = NULL;
	struct htc_eng_annot annot;
	struct htc_record rec;
	uint64_t printed = 0;
	uint32_t idx;
	int err = 0, rc;

	eng = htc_engine_new(&sink);
	if (!eng) {
		fprintf(stderr, "httpcap: %s\n", cap_strerror(-errno));
		return 1;
	}
	src = htc_source_open(paths, 1, eng, read_warn, (void *)o->rfile, &err);
	if (!src) {
		/* a pcap libpcap refused says why through htc_pcap_error */
		fprintf(stderr, "httpcap: cannot read '%s': %s\n", o->rfile,
			*htc_pcap_error() ? htc_pcap_error() : cap_strerror(err));
		htc_engine_free(eng);
		return 1;
	}
	while ((rc = htc_source_next(src, &rec, &idx)) > 0) {
		memset(&annot, 0, sizeof(annot));
		err = htc_engine_feed(eng, idx, &rec, &annot);
		if (err)
			break;
		if ((rec.type != HTC_REC_DATA && rec.type != HTC_REC_CONN) ||
		    !passes_filters(o, htc_reader_header(htc_source_reader(src, idx)), &rec.ev))
			continue;
		err = print_event(stdout, fmt, htc_reader_header(htc_source_reader(src, idx)),
				  &rec, &annot);
		if (err || ferror(stdout))
			break;
		if (o->count && ++printed >= o->count)
			break;
	}
	if (rc < 0)
		err = rc;
	htc_reader_stats(htc_source_reader(src, 0), &st);
	if (st.truncated)
		fprintf(stderr, "httpcap: '%s' is truncated: stopped at offset %llu after "
			"%llu complete frames\n", o->rfile, (unsigned long long)st.stop_offset,
			(unsigned long long)st.frames_ok);
	else if (!err && rc == 0 && !htc_reader_trailer(htc_source_reader(src, 0)))
		fprintf(stderr, "httpcap: '%s' has no trailer: the capture was interrupted "
			"(every complete frame was read)\n", o->rfile);
	if (st.frames_bad)
		fprintf(stderr, "httpcap: '%s': %llu corrupt frames skipped\n", o->rfile,
			(unsigned long long)st.frames_bad);
	if (st.frames_dup)
		fprintf(stderr, "httpcap: '%s': %llu frames repeating an earlier one byte for "
			"byte skipped\n", o->rfile, (unsigned long long)st.frames_dup);
	htc_engine_finish(eng);
	htc_source_close(src);
	htc_engine_free(eng);
	if (fflush(stdout) && errno != EPIPE)
		err = -errno;
	if (err && err != -EPIPE) {
		fprintf(stderr, "httpcap: reading '%s': %s\n", o->rfile, cap_strerror(err));
		return 1;
	}
	return 0;
}

/* -r FILE -w OUT.pcapng|OUT.pcap: the connections as packets (export.c). */
static int export_file(const struct cap_opts *o)
{
	struct exp_opts eo = { .count = o->count };
	struct exp_filter f = {
		.pids = o->pids, .npids = o->npids,
		.ports = o->ports, .nports = o->nports,
		.comm = o->comm,
		.since_ns = o->since_set ? o->since_ns : 0, .since_rel = o->since_set && o->since_rel,
		.until_ns = o->until_set ? o->until_ns : 0, .until_rel = o->until_set && o->until_rel,
	};
	struct htc_reader_stats st = {};
	struct exp_stats es = {};
	const char *what = "read";
	int err;

	exp_format_of(o->wfile, &eo.format);	/* checked by cap_parse_args */
	if (!strcmp(o->wfile, "-") && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "httpcap: refusing to write binary packet data to a terminal: "
			"redirect stdout or use -w FILE\n");
		return 2;
	}
	err = exp_run(o->rfile, o->wfile, &eo, &f, read_warn, (void *)o->rfile, &es, &st, &what);
	if (st.truncated)
		fprintf(stderr, "httpcap: '%s' is truncated: stopped at offset %llu after "
			"%llu complete frames (every complete frame was exported)\n", o->rfile,
			(unsigned long long)st.stop_offset, (unsigned long long)st.frames_ok);
	if (st.frames_bad)
		fprintf(stderr, "httpcap: '%s': %llu corrupt frames skipped\n", o->rfile,
			(unsigned long long)st.frames_bad);
	if (err) {
		if (!strcmp(what, "write") && err == -EEXIST)
			fprintf(stderr, "httpcap: '%s' is the capture being read: refusing to "
				"overwrite it\n", o->wfile);
		else if (!strcmp(what, "write"))
			fprintf(stderr, "httpcap: cannot write '%s': %s%s\n", o->wfile, cap_strerror(err),
				es.packets ? " (the file is incomplete)" : "");
		else
			fprintf(stderr, "httpcap: cannot read '%s': %s\n", o->rfile,
				*htc_pcap_error() ? htc_pcap_error() : cap_strerror(err));
		return 1;
	}
	if (es.over_limit)
		fprintf(stderr, "httpcap: '%s': more than %u connections: %llu events of the "
			"connections beyond left out (filter with --port, --comm or --since)\n",
			o->rfile, EXP_MAX_CONNS, (unsigned long long)es.over_limit);
	if (!o->quiet)
		fprintf(stderr, "httpcap: wrote %llu packets of %llu connections (%llu events, "
			"%llu payload bytes) to '%s'; %llu bytes not captured left as sequence gaps; "
			"%llu connections traced at both ends written once; %llu handshakes "
			"made up at first sight\n",
			(unsigned long long)es.packets, (unsigned long long)es.conns,
			(unsigned long long)es.events, (unsigned long long)es.bytes,
			strcmp(o->wfile, "-") ? o->wfile : "stdout",
			(unsigned long long)es.gap_bytes, (unsigned long long)es.paired,
			(unsigned long long)es.firstsight);
	return 0;
}

int main(int argc, char **argv)
{
	struct app app = {};
	struct app *a = &app;
	struct passwd *pw = NULL;
	struct htc_writer_stats ws = {};
	struct htc_engine_sink sink = {};
	char msg[512];
	struct cap_sched *sched = NULL;
	uint64_t start, last_tick, now;
	unsigned nfiles = 0, raises;
	bool more = false;	/* the last pass left records waiting */
	bool unflushed = false;	/* records taken since the last flush */
	uint64_t last_flush = 0;
	int err, ret = 1;

	if (cap_parse_args(argc, argv, &a->o, msg, sizeof(msg))) {
		fprintf(stderr, "%s\nTry 'httpcap --help' for more information.\n", msg);
		return 2;
	}
	if (a->o.help) {
		cap_usage(stdout);
		return 0;
	}
	if (a->o.version) {
		printf("httpcap %s (libbpf %s, .htc format %d.%d)\n", HTC_TOOL_VERSION,
		       libbpf_version_string(), HTC_VERSION_MAJOR, HTC_VERSION_MINOR);
		return 0;
	}
	a->fmt = a->o.text ? PRINT_TEXT : PRINT_JSON;
	if (a->o.rfile && a->o.wfile)
		return export_file(&a->o);
	if (a->o.rfile)
		return read_file(&a->o, a->fmt);

	if (a->o.wfile && !strcmp(a->o.wfile, "-") && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "httpcap: refusing to write binary capture data to a terminal: "
			"redirect stdout or use -w FILE\n");
		return 2;
	}
	if (a->o.user) {
		errno = 0;
		pw = getpwnam(a->o.user);
		if (!pw) {
			fprintf(stderr, "httpcap: unknown user '%s' for -Z\n", a->o.user);
			return 2;
		}
	}
	if (a->o.cgroup && cap_cgroup_resolve(&a->o, "/proc/self/mountinfo", msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		return 2;
	}
	for (size_t i = 0; i < a->o.nredact; i++)
		redact_add_name(a->o.redact_names[i]);	/* checked by cap_parse_args */
	install_signals();
	build_header(&a->hdr, &a->o, argc, argv);
	a->ct = conntab_new(HCB_MAX_CONNS);
	a->pt = proctab_new("/proc", !a->o.no_redact);
	a->pbuf = malloc(HCB_MAX_SNAPLEN);
	if (!a->ct || !a->pt || !a->pbuf) {
		fprintf(stderr, "httpcap: out of memory\n");
		goto cleanup;
	}

	a->bpf = cap_bpf_open(&a->o, on_sample, a, &err, msg, sizeof(msg));
	if (!a->bpf) {
		fprintf(stderr, "%s\n", msg);
		goto cleanup;
	}
	if (!a->o.no_tls && !cap_bpf_tls(a->bpf)) {
		/* the kernel refused the TLS programs: the file says so */
		a->o.no_tls = true;
		cap_opts_text(&a->o, argc, argv, a->hdr.options, sizeof(a->hdr.options));
	}
	if (cap_bpf_tls(a->bpf)) {
		/* before -Z drops root: attaching uprobes needs it */
		a->tls = cap_tls_open(a->bpf, a->o.verbose);
		if (!a->tls) {
			fprintf(stderr, "httpcap: out of memory\n");
			goto cleanup;
		}
	}
	if (a->o.wfile) {
		a->out = output_open(&a->o, &a->hdr, pw ? (long)pw->pw_uid : -1,
				     pw ? (long)pw->pw_gid : -1, &err);
		if (!a->out) {
			fprintf(stderr, "httpcap: cannot create '%s': %s\n", a->o.wfile,
				cap_strerror(err));
			goto cleanup;
		}
		err = options_record(a, a->hdr.start_ns);
		if (err) {
			fprintf(stderr, "httpcap: writing '%s': %s\n", output_path(a->out),
				cap_strerror(err));
			goto cleanup;
		}
	}
	if (a->o.top) {
		a->top = top_new(&a->o, &sink);
		if (!a->top) {
			fprintf(stderr, "httpcap: starting --top: %s\n", cap_strerror(-errno));
			goto cleanup;
		}
	}
	if (!a->out || a->o.top) {
		a->eng = htc_engine_new(&sink);
		if (!a->eng) {
			fprintf(stderr, "httpcap: starting the engine: %s\n", cap_strerror(-errno));
			goto cleanup;
		}
		a->file_idx = htc_engine_add_file(a->eng, &a->hdr);
		if (a->file_idx < 0) {
			fprintf(stderr, "httpcap: starting the engine: %s\n",
				cap_strerror(a->file_idx));
			goto cleanup;
		}
	}
	if (pw) {
		err = drop_privileges(pw);
		if (err) {
			fprintf(stderr, "httpcap: dropping privileges to '%s' failed: %s\n",
				a->o.user, cap_strerror(err));
			goto cleanup;
		}
		if (a->out && (err = output_check_dir_writable(a->out))) {
			fprintf(stderr, "httpcap: -Z %s with -C/-G: rotation creates files in the "
				"directory of '%s', which '%s' cannot write: %s\n", a->o.user,
				a->o.wfile, a->o.user, cap_strerror(err));
			goto cleanup;
		}
	}

	/* SCHED_IDLE while the drain keeps up, SCHED_BATCH when behind
	 * (sched.c) */
	sched = cap_sched_start(cap_bpf_rings(a->bpf), &err);
	if (!sched) {
		fprintf(stderr, "httpcap: out of memory\n");
		goto cleanup;
	}
	if (err && a->o.verbose)
		fprintf(stderr, "httpcap: the drain loop stays SCHED_BATCH: %s\n", cap_strerror(err));
	cap_bpf_start(a->bpf);
	if (!a->o.quiet) {
		char filters[1024];

		cap_filters_text(&a->o, filters, sizeof(filters));
		/* the TLS probes cost a trap per library call: say they are on */
		fprintf(stderr, "httpcap: capturing TCP on %s%s%s%s, snapshot length %u "
			"bytes%s%s\n", filters[0] ? "sockets matching " : "all sockets", filters,
			a->tls && cap_tls_files(a->tls) ? ", TLS plaintext too (--no-tls: off)" : "",
			a->o.no_redact ? "" : ", redacting secrets", a->o.snaplen,
			a->out ? ", writing " : "", a->out ? output_path(a->out) : "");
	}
	start = last_tick = a->now = cap_mono_ns();
	while (!stop_signal && !a->count_reached && !a->err && !a->out_closed) {
		/* the kernel side wakes us only when a batch is pending
		 * (wakeup_bytes); a timeout takes what is there too.  A pass
		 * takes at most a chunk: with more waiting, the next one
		 * follows a nap instead of a wait (sched.c) */
		if (more) {
			cap_sched_nap(sched);
			err = cap_bpf_consume(a->bpf, CAP_DRAIN_CHUNK);
		} else {
			err = cap_bpf_poll(a->bpf, POLL_MS, CAP_DRAIN_CHUNK);
		}
		if (err == -EINTR)
			err = cap_bpf_consume(a->bpf, CAP_DRAIN_CHUNK);
		more = err >= CAP_DRAIN_CHUNK;
		if (err < 0 && err != -EINTR) {
			if (!a->err)
				fprintf(stderr, "httpcap: reading the ring buffer: %s\n",
					cap_strerror(err));
			break;
		}
		/* -U and printing: flush once a drain has ended (a pass
		 * leaves nothing waiting), if any pass of it took records,
		 * and every FLUSH_NS within a long one */
		now = a->now = cap_mono_ns();
		unflushed |= err > 0;
		if (unflushed && (!more || now - last_flush >= FLUSH_NS)) {
			unflushed = false;
			last_flush = now;
			if (a->o.unbuffered && a->out)
				set_err(a, output_flush(a->out));
			if (!a->out && fflush(stdout))
				a->out_closed = true;
		}
		cap_sched_pass(sched, now);
		if (now - last_tick >= NS_PER_SEC) {
			last_tick = now;
			set_err(a, report_losses(a));
			if (a->out) {
				set_err(a, output_flush(a->out));
				set_err(a, tick_output(a, now));
				if (output_done(a->out))
					break;
			}
		}
		if (a->o.duration > 0 && now - start >= a->o.duration * NS_PER_SEC)
			break;
		if (a->top) {
			struct top_status ts = { .events = a->events, .lost = total_lost(a) };

			if (top_quit_key(a->top))
				break;
			if (top_draw(a->top, &ts, false))
				a->out_closed = true;
		}
	}
	/* stop the kernel side, then take what is still in the ring buffer */
	raises = cap_sched_stop(sched);
	sched = NULL;
	if (a->o.verbose)
		fprintf(stderr, "httpcap: the drain loop was raised to SCHED_BATCH %u times\n", raises);
	cap_bpf_stop(a->bpf);
	if (!a->err && !a->out_closed && !a->count_reached)
		cap_bpf_consume_all(a->bpf);
	if (!a->err)
		set_err(a, report_losses(a));
	if (a->eng) {
		htc_engine_finish(a->eng);
		fflush(stdout);
	}
	if (a->top) {
		/* a plain (piped) view ends with what the last interval and the
		 * end of the capture added; a terminal gets its screen back */
		if (!top_on_tty(a->top) && !a->out_closed) {
			struct top_status ts = { .events = a->events, .lost = total_lost(a) };

			top_draw(a->top, &ts, true);
		}
		top_free(a->top);
		a->top = NULL;
	}
	ret = 0;
	if (a->err) {
		fprintf(stderr, "httpcap: writing '%s': %s\n",
			a->out ? output_path(a->out) : "stdout", cap_strerror(a->err));
		ret = 1;
	}
	if (a->out) {
		char path[4096];

		snprintf(path, sizeof(path), "%s", output_path(a->out));
		err = output_close(a->out, cap_mono_ns(), &ws, &nfiles);
		a->out = NULL;
		if (err && !a->err) {
			fprintf(stderr, "httpcap: closing '%s': %s\n", path, cap_strerror(err));
			ret = 1;
		}
	}
	if (!a->o.quiet)
		print_stats(a, nfiles ? &ws : NULL, nfiles);
	if (!a->o.quiet && (a->o.nports || a->o.nhosts || a->o.cgroup || a->o.verbose)) {
		uint64_t cnt[HCB_CNT__COUNT];

		/* --pid and --comm reject tasks before any socket is looked
		 * at: they have nothing to count */
		if (!cap_bpf_counters(a->bpf, cnt))
			fprintf(stderr, "%llu connections filtered out (--port, --host, --cgroup), "
				"%llu tracked\n", (unsigned long long)cnt[HCB_CNT_FILTERED],
				(unsigned long long)cnt[HCB_CNT_CONNS]);
	}
	if (a->o.verbose) {
		uint64_t cnt[HCB_CNT__COUNT];

		if (!cap_bpf_counters(a->bpf, cnt) && a->tls)
			fprintf(stderr, "kernel: %llu TLS plaintext events from %u files probed, "
				"%llu library calls with data not tied to a traced connection\n",
				(unsigned long long)cnt[HCB_CNT_TLS_EVENTS], cap_tls_files(a->tls),
				(unsigned long long)cnt[HCB_CNT_TLS_UNTIED]);
	}
cleanup:
	cap_sched_stop(sched);
	top_free(a->top);
	if (a->out) {
		output_close(a->out, cap_mono_ns(), NULL, NULL);
	}
	htc_engine_free(a->eng);
	cap_tls_close(a->tls);
	cap_bpf_close(a->bpf);
	conntab_free(a->ct);
	proctab_free(a->pt);
	free(a->pbuf);
	return ret;
}
