// SPDX-License-Identifier: MIT
/*
 * cli.c - httpcap's command line, in tcpdump's habits (-w, -r, -c, -s, -C,
 * -G, -W, -Z, -U, -q, -v) plus the filters and switches of this tool.
 * Parsing is separate from main() so that the unit tests can feed it bad
 * flags and check the messages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "export.h"
#include "htc_select.h"

enum {
	OPT_COMM = 256,
	OPT_PORT,
	OPT_HOST,
	OPT_CGROUP,
	OPT_DURATION,
	OPT_NO_REDACT,
	OPT_REDACT,
	OPT_NO_TLS,
	OPT_TEXT,
	OPT_TOP,
	OPT_INTERVAL,
	OPT_VERSION,
	OPT_SINCE,
	OPT_UNTIL,
};

/* Long forms; tcpdump's own long names (--snapshot-length, --packet-buffered,
 * --relinquish-privileges) are accepted for its users' habits. */
static const struct option long_opts[] = {
	{ "write", required_argument, NULL, 'w' },
	{ "read", required_argument, NULL, 'r' },
	{ "count", required_argument, NULL, 'c' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "snapshot-length", required_argument, NULL, 's' },
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "file-size", required_argument, NULL, 'C' },
	{ "rotate-seconds", required_argument, NULL, 'G' },
	{ "file-count", required_argument, NULL, 'W' },
	{ "relinquish-privileges", required_argument, NULL, 'Z' },
	{ "packet-buffered", no_argument, NULL, 'U' },
	{ "buffer-size", required_argument, NULL, 'B' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "no-redact", no_argument, NULL, OPT_NO_REDACT },
	{ "redact", required_argument, NULL, OPT_REDACT },
	{ "no-tls", no_argument, NULL, OPT_NO_TLS },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "top", no_argument, NULL, OPT_TOP },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void cap_usage(FILE *f)
{
	fprintf(f,
"Usage: httpcap [-nqUvV] [-w FILE] [-c COUNT] [-s SNAPLEN] [-p PID]... [--comm NAME]\n"
"               [--port PORT]... [--host ADDR[/BITS]]... [--cgroup PATH]\n"
"               [-C SIZE] [-G SECONDS] [-W N] [-Z USER] [-B KIB]\n"
"               [--duration SECONDS] [--redact NAME]... [--no-redact] [--no-tls]\n"
"               [--text] [--top [--interval SEC]]\n"
"       httpcap -r FILE [-w OUT.pcapng|OUT.pcap] [-c COUNT] [--text] [-p PID]...\n"
"               [--port PORT]... [--host ADDR]... [--comm NAME] [--since TIME]\n"
"               [--until TIME]\n"
"\n"
"Capture what processes send and receive on TCP sockets, with eBPF (root).\n"
"Without -w, print one JSON object per event (or --text lines) on stdout.\n"
"\n"
"  -w, --write FILE   write a .htc capture file ('-' = stdout), created 0600\n"
"  -r, --read FILE    read a capture file and print its events; with -w OUT,\n"
"                  export its connections as packets for Wireshark/tcpdump:\n"
"                  OUT.pcapng (process of each packet in comments and options)\n"
"                  or OUT.pcap, by the extension ('-' = pcapng on stdout)\n"
"  -c, --count COUNT  stop after COUNT events\n"
"  -s, --snaplen, --snapshot-length SNAPLEN\n"
"                  capture at most SNAPLEN payload bytes per syscall\n"
"                  (default %u: whole headers of ordinary requests; 0 = none,\n"
"                  max %u)\n"
"  -p, --pid PID   only this process (repeatable, up to %u)\n"
"  --comm NAME     only processes whose command name is NAME\n"
"  --port PORT     only connections with PORT at either end (repeatable)\n"
"  --since TIME, --until TIME\n"
"                  with -r: only events in [since, until): RFC 3339 time\n"
"                  (2026-01-02T03:04:05Z) or +DURATION from the capture start\n"
"  --host ADDR[/BITS]  only connections with an end in this IPv4 or IPv6\n"
"                  address or prefix (repeatable, up to %u)\n"
"  --cgroup PATH   only processes of this cgroup v2 and its descendants (a\n"
"                  container, a systemd unit): /sys/fs/cgroup/... or the path\n"
"                  inside the hierarchy (/system.slice/nginx.service)\n"
"  -C, --file-size SIZE  start a new file when the current one passes SIZE MB\n"
"                  (1 MB = 1,000,000 bytes); names FILE, FILE1, FILE2, ...\n"
"  -G, --rotate-seconds SECONDS  start a new file every SECONDS; FILE is a\n"
"                  strftime pattern\n"
"  -W, --file-count N  with -C: a ring of N files FILE0..FILE{N-1};\n"
"                  with -G alone: stop after N files\n"
"  -Z, --relinquish-privileges USER  drop root for USER once BPF is loaded and\n"
"                  the file is open (with -C/-G the directory must be writable)\n"
"  -U, --packet-buffered  flush the file after every ring-buffer drain\n"
"  -B, --buffer-size KIB  kernel ring buffers, all CPUs, in KiB (default 16384)\n"
"  --duration SEC  stop after SEC seconds\n"
"  --redact NAME   also hide the values of headers, query, JSON and form\n"
"                  fields called NAME (any case; '-' and '_' ignored;\n"
"                  repeatable, up to %u)\n"
"  --no-redact     keep secrets (header values such as Authorization and\n"
"                  Cookie, secret query, JSON and form fields, Redis AUTH,\n"
"                  PostgreSQL passwords): see httpcap(8), REDACTION\n"
"  --no-tls        no TLS plaintext: do not probe OpenSSL, GnuTLS and Go's\n"
"                  crypto/tls (encrypted connections stay encrypted)\n"
"  --text          one readable line per event instead of JSON\n"
"  --top           a live view instead of events: per service and endpoint the\n"
"                  request rate, errors, p50/p99, and the downstream calls;\n"
"                  with -w the file is written too; q quits\n"
"  --interval SEC  --top refreshes every SEC seconds (default 1)\n"
"  -n              accepted for tcpdump's habit: httpcap never resolves names\n"
"  -q, --quiet     no banner and no statistics on stderr\n"
"  -v, --verbose   more detail on stderr (attached programs, TLS binaries\n"
"                  probed; -vv: libbpf log)\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"Examples:\n"
"  httpcap --port 8080                      print HTTP traffic on port 8080\n"
"  httpcap --top --port 8080                live request rates and latencies\n"
"  httpcap -w trace.htc --duration 60       record one minute of every TCP socket\n"
"  httpcap -w c.htc --cgroup /system.slice/nginx.service --host 10.0.0.0/8\n"
"  httpcap -w /var/tmp/cap-%%H%%M.htc -G 3600 -Z nobody   hourly files, unprivileged\n"
"  httpcap -w ring.htc -C 100 -W 5          keep the last ~500 MB\n"
"  httpcap -r trace.htc --text              read a capture back\n"
"  httpcap -r trace.htc -w out.pcapng --port 8080   packets for Wireshark\n"
"  httpanalyze trace.htc                    requests, latencies, downstream calls\n"
"\n"
"Exit status: 0 success, 1 runtime error (BPF, write error), 2 wrong usage.\n",
		HCB_DEFAULT_SNAPLEN, HCB_MAX_SNAPLEN, CAP_MAX_PIDS, CAP_MAX_HOSTS, REDACT_MAX_NAMES);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* An unsigned decimal integer in [lo, hi], the whole string: no sign, no
 * blank (strtoull would skip one), no trailing junk, no overflow. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* A decimal number > 0 and <= hi ("1.5", not "1e3", "0x10" or "inf"). */
static bool parse_pos_double(const char *s, double hi, double *out)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789.") != strlen(s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > hi)
		return false;
	*out = v;
	return true;
}

/* --host ADDR[/BITS]: IPv4 or IPv6, host bits beyond the prefix cleared. */
static bool parse_host(const char *arg, struct cap_host *h)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(arg, '/');
	size_t alen = slash ? (size_t)(slash - arg) : strlen(arg);
	uint64_t bits;
	uint8_t a4[4];

	memset(h, 0, sizeof(*h));
	if (!alen || alen >= sizeof(addr))
		return false;
	memcpy(addr, arg, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, a4) == 1) {
		h->family = HTC_AF_INET;
		h->addr[10] = h->addr[11] = 0xff;
		memcpy(h->addr + 12, a4, 4);
		bits = 32;
		if (slash && !parse_u64(slash + 1, 0, 32, &bits))
			return false;
		bits += 96;
	} else if (inet_pton(AF_INET6, addr, h->addr) == 1) {
		h->family = HTC_AF_INET6;
		bits = 128;
		if (slash && !parse_u64(slash + 1, 0, 128, &bits))
			return false;
	} else {
		return false;
	}
	h->bits = bits;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;

		h->addr[i] &= (uint8_t)(0xff00 >> keep);
	}
	return true;
}

bool cap_host_match(const struct cap_opts *o, uint8_t family, const uint8_t *a)
{
	uint8_t m[16] = { 0 };

	if (!o->nhosts)
		return true;
	if (family == HTC_AF_INET) {
		m[10] = m[11] = 0xff;
		memcpy(m + 12, a, 4);
	} else if (family == HTC_AF_INET6) {
		memcpy(m, a, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < o->nhosts; i++) {
		const struct cap_host *h = &o->hosts[i];
		unsigned full = h->bits / 8, rest = h->bits % 8;

		if (memcmp(m, h->addr, full))
			continue;
		if (rest && ((m[full] ^ h->addr[full]) & (uint8_t)(0xff00 >> rest)))
			continue;
		return true;
	}
	return false;
}

void cap_host_text(const struct cap_host *h, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (h->family == HTC_AF_INET)
		inet_ntop(AF_INET, h->addr + 12, a, sizeof(a));
	else
		inet_ntop(AF_INET6, h->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, h->family == HTC_AF_INET ? h->bits - 96 : h->bits);
}

void cap_filters_text(const struct cap_opts *o, char *buf, size_t len)
{
	char h[64];
	size_t n = 0;

#define PUT(...) do { if (n < len) n += snprintf(buf + n, len - n, __VA_ARGS__); } while (0)
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < o->npids; i++)
		PUT("%s--pid %u", n ? ", " : "", o->pids[i]);
	if (o->comm[0])
		PUT("%s--comm %s", n ? ", " : "", o->comm);
	for (size_t i = 0; i < o->nports; i++)
		PUT("%s--port %u", n ? ", " : "", o->ports[i]);
	for (size_t i = 0; i < o->nhosts; i++) {
		cap_host_text(&o->hosts[i], h, sizeof(h));
		PUT("%s--host %s", n ? ", " : "", h);
	}
	if (o->cgroup)
		PUT("%s--cgroup %s", n ? ", " : "", o->cgroup);
#undef PUT
	if (n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

int cap_parse_args(int argc, char **argv, struct cap_opts *o, char *err, size_t errlen)
{
	char optname[3] = "-?";
	uint64_t v;
	double d;
	int c;

	memset(o, 0, sizeof(*o));
	o->snaplen = HCB_DEFAULT_SNAPLEN;
	o->ringbuf_kb = 16384;
	o->interval = 1;
	optind = 0;	/* glibc: 0 resets its internal state too, for repeated calls */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":w:r:c:s:p:C:G:W:Z:B:i:nUqvhV", long_opts, NULL)) != -1) {
		const char *arg = optarg;

		optname[1] = c;
		switch (c) {
		case 'w':
			if (!*arg)
				return fail(err, errlen, "httpcap: -w needs a file name");
			o->wfile = arg;
			break;
		case 'r':
			if (!*arg)
				return fail(err, errlen, "httpcap: -r needs a file name");
			o->rfile = arg;
			break;
		case 'c':
			if (!parse_u64(arg, 1, UINT64_MAX, &o->count))
				return fail(err, errlen, "httpcap: invalid count '%s' for -c: want a positive integer", arg);
			break;
		case 's':
			if (!parse_u64(arg, 0, HCB_MAX_SNAPLEN, &v))
				return fail(err, errlen, "httpcap: invalid snaplen '%s' for -s: want 0 to %u", arg, HCB_MAX_SNAPLEN);
			o->snaplen = v;
			break;
		case 'p':
			if (!parse_u64(arg, 1, INT32_MAX, &v))
				return fail(err, errlen, "httpcap: invalid pid '%s' for -p", arg);
			if (o->npids == CAP_MAX_PIDS)
				return fail(err, errlen, "httpcap: too many -p: at most 64");
			o->pids[o->npids++] = v;
			break;
		case OPT_COMM:
			if (!*arg || strlen(arg) >= HCB_COMM_LEN)
				return fail(err, errlen, "httpcap: invalid --comm '%s': want 1 to 15 characters (the kernel's comm)", arg);
			snprintf(o->comm, sizeof(o->comm), "%s", arg);
			break;
		case OPT_PORT:
			if (!parse_u64(arg, 1, 65535, &v))
				return fail(err, errlen, "httpcap: invalid port '%s' for --port: want 1 to 65535", arg);
			if (o->nports == CAP_MAX_PORTS)
				return fail(err, errlen, "httpcap: too many --port: at most 64");
			o->ports[o->nports++] = v;
			break;
		case OPT_HOST:
			if (o->nhosts == CAP_MAX_HOSTS)
				return fail(err, errlen, "httpcap: too many --host: at most %u", CAP_MAX_HOSTS);
			if (!parse_host(arg, &o->hosts[o->nhosts]))
				return fail(err, errlen, "httpcap: invalid --host '%s': want an IPv4 or IPv6 "
					    "address, optionally /BITS (10.0.0.0/8, ::1, fd00::/8)", arg);
			o->nhosts++;
			break;
		case OPT_CGROUP:
			if (!*arg)
				return fail(err, errlen, "httpcap: --cgroup needs a cgroup directory");
			if (o->cgroup)
				return fail(err, errlen, "httpcap: --cgroup given twice ('%s', '%s'): one "
					    "cgroup (its descendants are included)", o->cgroup, arg);
			o->cgroup = arg;
			break;
		case OPT_TOP:
			o->top = true;
			break;
		case OPT_INTERVAL:
			if (!parse_pos_double(arg, 3600, &o->interval) || o->interval < 0.1)
				return fail(err, errlen, "httpcap: invalid interval '%s' for --interval: "
					    "want seconds, 0.1 to 3600", arg);
			break;
		case 'i':
			return fail(err, errlen, "httpcap: -i '%s': httpcap captures sockets, not a network "
				    "interface; choose traffic with --host, --port, --pid or --cgroup", arg);
		case 'n':
			break;	/* tcpdump's "do not resolve names": httpcap never does */
		case 'C':
			if (!parse_pos_double(arg, 1e9, &d) || d * 1e6 < 4096)
				return fail(err, errlen, "httpcap: invalid size '%s' for -C: want megabytes, at least 0.004", arg);
			o->rotate_bytes = (uint64_t)(d * 1e6);
			break;
		case 'G':
			if (!parse_u64(arg, 1, 100L * 365 * 86400, &v))
				return fail(err, errlen, "httpcap: invalid interval '%s' for -G: want seconds, at least 1", arg);
			o->rotate_secs = v;
			break;
		case 'W':
			if (!parse_u64(arg, 1, 1000000, &v))
				return fail(err, errlen, "httpcap: invalid file count '%s' for -W: want 1 to 1000000", arg);
			o->nfiles = v;
			break;
		case 'Z':
			if (!*arg)
				return fail(err, errlen, "httpcap: -Z needs a user name");
			o->user = arg;
			break;
		case 'B':
			if (!parse_u64(arg, 64, 4U << 20, &v))
				return fail(err, errlen, "httpcap: invalid buffer size '%s' for -B: want 64 to 4194304 KiB", arg);
			o->ringbuf_kb = v;
			break;
		case OPT_DURATION:
			if (!parse_pos_double(arg, 1e9, &o->duration))
				return fail(err, errlen, "httpcap: invalid duration '%s': want positive seconds", arg);
			break;
		case OPT_NO_REDACT:
			o->no_redact = true;
			break;
		case OPT_REDACT:
			if (!arg[strspn(arg, "-_")])
				return fail(err, errlen, "httpcap: invalid name '%s' for --redact: want a field name such as session_key", arg);
			if (o->nredact >= REDACT_MAX_NAMES)
				return fail(err, errlen, "httpcap: too many --redact names (at most %u)", REDACT_MAX_NAMES);
			o->redact_names[o->nredact++] = arg;
			break;
		case OPT_NO_TLS:
			o->no_tls = true;
			break;
		case OPT_TEXT:
			o->text = true;
			break;
		case OPT_SINCE:
		case OPT_UNTIL: {
			bool rel;
			int64_t ns;

			if (htc_sel_parse_time(arg, 0, &ns, &rel))
				return fail(err, errlen, "httpcap: invalid time '%s' for --%s: want RFC 3339 "
					    "(2026-01-02T03:04:05Z) or +DURATION (+1.5s) from the capture start",
					    arg, c == OPT_SINCE ? "since" : "until");
			if (c == OPT_SINCE) {
				o->since_ns = ns;
				o->since_rel = rel;
				o->since_set = true;
			} else {
				o->until_ns = ns;
				o->until_rel = rel;
				o->until_set = true;
			}
			break;
		}
		case 'U':
			o->unbuffered = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->help = true;
			return 0;
		case 'V':
		case OPT_VERSION:
			o->version = true;
			return 0;
		case ':':
			if (optopt)
				optname[1] = optopt;
			else
				return fail(err, errlen, "httpcap: option '%s' needs an argument", argv[optind - 1]);
			return fail(err, errlen, "httpcap: option '%s' needs an argument", optname);
		default:
			if (optopt && optopt < 256) {
				optname[1] = optopt;
				return fail(err, errlen, "httpcap: unknown option '%s'", optname);
			}
			return fail(err, errlen, "httpcap: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "httpcap: unexpected argument '%s' (filters are --port, --host, -p, "
			    "--comm and --cgroup)", argv[optind]);
	if (o->rfile && (o->rotate_bytes || o->rotate_secs || o->nfiles || o->user ||
			 o->duration > 0 || o->cgroup || o->top))
		return fail(err, errlen, "httpcap: -r reads a file: it does not combine with -C, -G, -W, -Z, "
			    "--duration, --cgroup or --top");
	if (o->rfile && o->wfile) {
		enum exp_format f;

		if (exp_format_of(o->wfile, &f))
			return fail(err, errlen, "httpcap: -r with -w exports packets: '%s' must end in "
				    ".pcapng or .pcap (or be '-': pcapng on stdout)", o->wfile);
		if (o->text)
			return fail(err, errlen, "httpcap: --text prints events: it does not combine with -r and -w");
	}
	if ((o->since_set || o->until_set) && !o->rfile)
		return fail(err, errlen, "httpcap: --since and --until select events of a file: they need -r "
			    "(a live capture stops with --duration or -c)");
	if (o->top && o->text)
		return fail(err, errlen, "httpcap: --top and --text: --top shows a live table instead of "
			    "the events, --text prints the events");
	if (o->top && o->wfile && !strcmp(o->wfile, "-"))
		return fail(err, errlen, "httpcap: --top draws on stdout: with -w it needs a file, not '-'");
	if (o->interval != 1 && !o->top)
		return fail(err, errlen, "httpcap: --interval is the refresh of --top: add --top");
	if ((o->rotate_bytes || o->rotate_secs || o->nfiles) && (!o->wfile || !strcmp(o->wfile, "-")))
		return fail(err, errlen, "httpcap: -C, -G and -W rotate files: they need -w FILE (not stdout)");
	if (o->nfiles && !o->rotate_bytes && !o->rotate_secs)
		return fail(err, errlen, "httpcap: -W needs -C or -G");
	if (o->nredact && o->no_redact)
		return fail(err, errlen, "httpcap: --redact adds secret names: it does not combine with --no-redact");
	if (o->nredact && o->rfile)
		return fail(err, errlen, "httpcap: --redact applies while capturing: a file read with -r was redacted when it was written");
	return 0;
}

/* For the file header: what was asked, in "key=value" lines. */
void cap_opts_text(const struct cap_opts *o, int argc, char **argv, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...) do { if (n < len) n += snprintf(buf + n, len - n, __VA_ARGS__); } while (0)
	PUT("argv=");
	for (int i = 0; i < argc; i++)
		PUT("%s%s", i ? " " : "", argv[i]);
	PUT("\nsnaplen=%u\nredact=%d\ntls=%d\n", o->snaplen, !o->no_redact, !o->no_tls);
	for (size_t i = 0; i < o->nredact; i++)
		PUT("redact.name=%s\n", o->redact_names[i]);
	for (size_t i = 0; i < o->npids; i++)
		PUT("filter.pid=%u\n", o->pids[i]);
	for (size_t i = 0; i < o->nports; i++)
		PUT("filter.port=%u\n", o->ports[i]);
	if (o->comm[0])
		PUT("filter.comm=%s\n", o->comm);
	for (size_t i = 0; i < o->nhosts; i++) {
		char h[64];

		cap_host_text(&o->hosts[i], h, sizeof(h));
		PUT("filter.host=%s\n", h);
	}
	if (o->cgroup)
		PUT("filter.cgroup=%s\n", o->cgroup);
	if (o->count)
		PUT("count=%llu\n", (unsigned long long)o->count);
	if (o->duration > 0)
		PUT("duration=%g\n", o->duration);
	if (o->rotate_bytes)
		PUT("rotate.bytes=%llu\n", (unsigned long long)o->rotate_bytes);
	if (o->rotate_secs)
		PUT("rotate.seconds=%u\n", o->rotate_secs);
	if (o->nfiles)
		PUT("rotate.files=%u\n", o->nfiles);
#undef PUT
	if (n >= len && len)
		buf[len - 1] = '\0';
}

const char *cap_strerror(int err)
{
	static char bufs[4][128];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s", htc_strerror(err));
	if (b[0] >= 'A' && b[0] <= 'Z' && !(b[1] >= 'A' && b[1] <= 'Z'))
		b[0] += 'a' - 'A';
	return b;
}
