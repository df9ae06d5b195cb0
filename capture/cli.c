// SPDX-License-Identifier: MIT
/*
 * cli.c - httpcap's command line, in tcpdump's habits (-w, -r, -c, -s, -C,
 * -G, -W, -Z, -U, -q, -v) plus the filters and switches of this tool.
 * Parsing is separate from main() so that the unit tests can feed it bad
 * flags and check the messages.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

enum {
	OPT_COMM = 256,
	OPT_PORT,
	OPT_DURATION,
	OPT_NO_REDACT,
	OPT_NO_TLS,
	OPT_TEXT,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "write", required_argument, NULL, 'w' },
	{ "read", required_argument, NULL, 'r' },
	{ "count", required_argument, NULL, 'c' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "buffer-size", required_argument, NULL, 'B' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "no-redact", no_argument, NULL, OPT_NO_REDACT },
	{ "no-tls", no_argument, NULL, OPT_NO_TLS },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void cap_usage(FILE *f)
{
	fprintf(f,
"Usage: httpcap [-qUvV] [-w FILE] [-c COUNT] [-s SNAPLEN] [-p PID]... [--comm NAME]\n"
"               [--port PORT]... [-C SIZE] [-G SECONDS] [-W N] [-Z USER]\n"
"               [-B KIB] [--duration SECONDS] [--no-redact] [--no-tls] [--text]\n"
"       httpcap -r FILE [-c COUNT] [--text] [-p PID]... [--port PORT]... [--comm NAME]\n"
"\n"
"Capture what processes send and receive on TCP sockets, with eBPF (root).\n"
"Without -w, print one JSON object per event (or --text lines) on stdout.\n"
"\n"
"  -w, --write FILE   write a .htc capture file ('-' = stdout), created 0600\n"
"  -r, --read FILE    read a capture file and print its events\n"
"  -c, --count COUNT  stop after COUNT events\n"
"  -s, --snaplen SNAPLEN\n"
"                  capture at most SNAPLEN payload bytes per syscall\n"
"                  (default %u: whole headers of ordinary requests; 0 = none,\n"
"                  max %u)\n"
"  -p, --pid PID   only this process (repeatable, up to %u)\n"
"  --comm NAME     only processes whose command name is NAME\n"
"  --port PORT     only connections with PORT at either end (repeatable)\n"
"  -C SIZE         start a new file when the current one passes SIZE MB\n"
"                  (1 MB = 1,000,000 bytes); names FILE, FILE1, FILE2, ...\n"
"  -G SECONDS      start a new file every SECONDS; FILE is a strftime pattern\n"
"  -W N            with -C: a ring of N files FILE0..FILE{N-1};\n"
"                  with -G alone: stop after N files\n"
"  -Z USER         drop root for USER once BPF is loaded and the file is open\n"
"                  (with -C/-G the directory must be writable by USER)\n"
"  -U              flush the file after every ring-buffer drain\n"
"  -B, --buffer-size KIB  kernel ring buffer size in KiB (default 16384)\n"
"  --duration SEC  stop after SEC seconds\n"
"  --no-redact     keep secret header values (Authorization, Cookie, ...)\n"
"  --no-tls        no TLS plaintext: do not probe OpenSSL, GnuTLS and Go's\n"
"                  crypto/tls (encrypted connections stay encrypted)\n"
"  --text          one readable line per event instead of JSON\n"
"  -q, --quiet     no banner and no statistics on stderr\n"
"  -v, --verbose   more detail on stderr (attached programs, TLS binaries\n"
"                  probed; -vv: libbpf log)\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"Examples:\n"
"  httpcap --port 8080                      print HTTP traffic on port 8080\n"
"  httpcap -w trace.htc --duration 60       record one minute of every TCP socket\n"
"  httpcap -w /var/tmp/cap-%%H%%M.htc -G 3600 -Z nobody   hourly files, unprivileged\n"
"  httpcap -w ring.htc -C 100 -W 5          keep the last ~500 MB\n"
"  httpcap -r trace.htc --text              read a capture back\n"
"  httpanalyze trace.htc                    requests, latencies, downstream calls\n"
"\n"
"Exit status: 0 success, 1 runtime error (BPF, write error), 2 wrong usage.\n",
		HCB_DEFAULT_SNAPLEN, HCB_MAX_SNAPLEN, CAP_MAX_PIDS);
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

/* An unsigned integer in [lo, hi], the whole string. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_pos_double(const char *s, double hi, double *out)
{
	char *end;
	double v;

	if (!*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > hi)
		return false;
	*out = v;
	return true;
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
	optind = 0;	/* glibc: 0 resets its internal state too, for repeated calls */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":w:r:c:s:p:C:G:W:Z:B:UqvhV", long_opts, NULL)) != -1) {
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
		case OPT_NO_TLS:
			o->no_tls = true;
			break;
		case OPT_TEXT:
			o->text = true;
			break;
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
		return fail(err, errlen, "httpcap: unexpected argument '%s' (filters are --port, -p and --comm)", argv[optind]);
	if (o->rfile && (o->wfile || o->rotate_bytes || o->rotate_secs || o->nfiles || o->user ||
			 o->duration > 0))
		return fail(err, errlen, "httpcap: -r reads a file: it does not combine with -w, -C, -G, -W, -Z or --duration");
	if ((o->rotate_bytes || o->rotate_secs || o->nfiles) && (!o->wfile || !strcmp(o->wfile, "-")))
		return fail(err, errlen, "httpcap: -C, -G and -W rotate files: they need -w FILE (not stdout)");
	if (o->nfiles && !o->rotate_bytes && !o->rotate_secs)
		return fail(err, errlen, "httpcap: -W needs -C or -G");
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
	for (size_t i = 0; i < o->npids; i++)
		PUT("filter.pid=%u\n", o->pids[i]);
	for (size_t i = 0; i < o->nports; i++)
		PUT("filter.port=%u\n", o->ports[i]);
	if (o->comm[0])
		PUT("filter.comm=%s\n", o->comm);
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
