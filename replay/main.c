// SPDX-License-Identifier: MIT
/*
 * main.c - httpreplay: send the inbound HTTP requests of .htc captures
 * again to a target server and compare its answers with the captured ones.
 *
 * Flow: parse flags, read the captures through the engine, select
 * (filters, safety, --limit), rewrite headers, then either list what would
 * be sent (--dry-run) or send with libcurl and report.
 * Exit status: 0 done, 1 more mismatches than --max-mismatch (or every
 * request failed to reach the target), 2 bad flags, URL or file.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htc_engine.h"
#include "replay.h"

#define EXIT_MISMATCH 1
#define EXIT_USAGE 2

static const char usage_text[] =
"usage: httpreplay [options] FILE.htc... --target URL\n"
"\n"
"Send the inbound HTTP requests captured in FILE.htc (by httpcap) to URL again,\n"
"in captured order, and compare each answer with the captured one: status,\n"
"latency and response body digest.\n"
"\n"
"target and timing:\n"
"  -t, --target URL        http[s]://HOST[:PORT][/PREFIX] to send to (PREFIX is\n"
"                          put before every captured path)\n"
"  -r, --read FILE         a capture to replay, as the FILE arguments (repeatable)\n"
"      --speed X           1 = the captured gaps (default), 2 = twice as fast,\n"
"                          max = as fast as possible\n"
"      --concurrency N     at most N requests in flight, over at most N\n"
"                          kept-alive connections (default 8)\n"
"      --rate R            at most R request starts per second\n"
"  -c, --count, --limit N  send at most N requests\n"
"      --timeout SEC       give up on one request after SEC seconds (default 30)\n"
"      --connect-timeout SEC  (default 5)\n"
"  -k, --insecure          do not verify the target's TLS certificate\n"
"\n"
"selection (as `httpanalyze requests`):\n"
"  -m, --method LIST       methods, comma-separated (GET,POST)\n"
"      --path GLOB         path glob, e.g. '/api/*' (query string optional)\n"
"      --status LIST       captured status: 200, 4xx, 500-599, comma-separated\n"
"  -p, --pid PID           serving process id (repeatable)\n"
"      --comm NAME         serving process name\n"
"      --port PORT         server port the requests came in on (repeatable);\n"
"                          picks one service out of a capture of several\n"
"      --since TIME        started at or after / before TIME: RFC 3339\n"
"      --until TIME        (2026-01-02T03:04:05Z) or an offset from the\n"
"                          capture start (+1.5s, +250ms; a bare number is ms)\n"
"      --min-duration D    captured duration at least D (10ms, 1.5s; bare: ms)\n"
"\n"
"rewriting and safety:\n"
"  -H, --header 'N: V'     set or replace header N (repeatable)\n"
"      --drop-header N     do not send header N (repeatable)\n"
"      --host HOST         send Host: HOST\n"
"      --allow-unsafe      also send methods other than GET, HEAD, OPTIONS\n"
"  Hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, ...) are not\n"
"  replayed; the body goes out whole with a recomputed Content-Length.  Headers\n"
"  redacted at capture time are never sent with their '*' placeholder: they\n"
"  are dropped unless --header gives them a value.  Requests whose body was\n"
"  not fully captured are skipped and counted.\n"
"\n"
"output:\n"
"  -f, --format FMT        table (default), json (one object per line, then a\n"
"                          summary object) or csv (summary on stderr)\n"
"      --max-mismatch N    exit 1 when more than N requests mismatch\n"
"      --dry-run           print what would be sent (escaped), send nothing\n"
"  -v, --verbose           list every request, not only mismatches\n"
"  -h, --help              this text;  -V, --version\n"
"\n"
"examples:\n"
"  httpreplay trace.htc --target http://127.0.0.1:8080\n"
"  httpreplay trace.htc -t http://staging:8080 --speed max --concurrency 16 --path '/api/*'\n"
"  httpreplay a.htc b.htc -t http://127.0.0.1:8080 --allow-unsafe \\\n"
"      -H 'Authorization: Bearer test-token' --max-mismatch 0 --format json\n"
"  httpreplay trace.htc --dry-run --method POST --allow-unsafe\n"
"\n"
"short flags mean what they mean to tcpdump and httpcap: -r reads a file,\n"
"-c counts, -p is a pid; --speed, --rate, --concurrency and --path have no\n"
"short form any more (see httpreplay(1), OPTIONS THAT CHANGED).\n"
"\n"
"exit status: 0 done, 1 more mismatches than --max-mismatch or no request\n"
"reached the target, 2 bad flags, URL or capture file.  See httpreplay(1).\n";

enum {
	OPT_STATUS = 256, OPT_PID, OPT_PORT, OPT_COMM, OPT_SINCE, OPT_UNTIL, OPT_MINDUR,
	OPT_DROP, OPT_HOST, OPT_UNSAFE, OPT_MAXMIS, OPT_DRY, OPT_TIMEOUT, OPT_CTIMEOUT,
	OPT_SPEED, OPT_CONC, OPT_RATE, OPT_PATH,
};

static const struct option long_opts[] = {
	{ "target", required_argument, NULL, 't' },
	{ "read", required_argument, NULL, 'r' },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "count", required_argument, NULL, 'c' },
	{ "limit", required_argument, NULL, 'c' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CTIMEOUT },
	{ "insecure", no_argument, NULL, 'k' },
	{ "method", required_argument, NULL, 'm' },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "min-duration", required_argument, NULL, OPT_MINDUR },
	{ "header", required_argument, NULL, 'H' },
	{ "drop-header", required_argument, NULL, OPT_DROP },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "allow-unsafe", no_argument, NULL, OPT_UNSAFE },
	{ "format", required_argument, NULL, 'f' },
	{ "max-mismatch", required_argument, NULL, OPT_MAXMIS },
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 }
};

struct cli {
	struct htc_select filter;
	struct rp_edits edits;
	struct rp_send_opts send;
	unsigned long long limit;	/* 0 = none */
	long long max_mismatch;		/* -1 = none */
	bool allow_unsafe, dry_run, verbose;
	enum rp_format fmt;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("httpreplay: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ntry 'httpreplay --help'\n", stderr);
	return EXIT_USAGE;
}

/* Decimal digits only: no sign, no blank (strtoull skips one), no junk. */
static int parse_ull(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

/* A decimal number > 0 and <= max: "1.5", not "1e3", "0x10", "inf" or " 2". */
static int parse_positive(const char *s, double max, double *v)
{
	char *end;

	if (!*s || strspn(s, "0123456789.") != strlen(s))
		return -EINVAL;
	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v) || *v <= 0 || *v > max)
		return -EINVAL;
	return 0;
}

/* Whether s reads as a plain number, for telling an old short flag's
 * value (-r 100, the rate) from the new one's (-r FILE). */
static bool numeric(const char *s)
{
	return *s && strspn(s, "0123456789.") == strlen(s);
}

/* -r files, put in front of the FILE arguments (kept for the whole run). */
static char **read_files;

/* Returns 0, or the exit status to leave with. */
static int parse_args(int *argcp, char ***argvp, struct cli *c, int *first_file)
{
	int argc = *argcp, nread = 0;
	char **argv = *argvp;
	unsigned long long v;
	double d;
	int opt;

	read_files = calloc(argc + 1, sizeof(char *));
	if (!read_files)
		return usage_error("%s", "out of memory");
	c->send.speed = 1;
	c->send.concurrency = 8;
	c->send.timeout_ms = 30000;
	c->send.connect_timeout_ms = 5000;
	c->max_mismatch = -1;
	c->fmt = RP_FMT_TABLE;
	/* permute: files and flags in any order, as the examples show */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":t:s:c:r:n:km:p:H:f:vhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (!*optarg)
				return usage_error("--target '': want http[s]://HOST[:PORT]");
			c->send.target = optarg;
			break;
		case 'r':
			/* -r was --rate's short form: "-r 100" names no file */
			if (numeric(optarg) && access(optarg, F_OK))
				return usage_error("-r '%s': -r reads a capture file (as tcpdump -r) and "
						   "there is no file '%s'; the request rate is --rate %s",
						   optarg, optarg, optarg);
			if (!*optarg)
				return usage_error("-r '': want a capture file");
			read_files[nread++] = optarg;
			break;
		case 's':
			return usage_error("-s '%s': -s is tcpdump's snapshot length, which a replay has "
					   "none of; the replay speed is --speed %s (-s was its short form)",
					   optarg, optarg);
		case 'n':
			return usage_error("-n '%s': -n is not --limit any more (tcpdump's -n means "
					   "'do not resolve names'); send at most N requests with "
					   "-c %s or --count %s", optarg, optarg, optarg);
		case OPT_SPEED:
			if (!strcmp(optarg, "max"))
				c->send.speed = 0;
			else if (parse_positive(optarg, 1000, &c->send.speed))
				return usage_error("--speed '%s': want a number > 0 and <= 1000, or 'max'", optarg);
			break;
		case OPT_CONC:
			if (parse_ull(optarg, 1000, &v) || !v)
				return usage_error("--concurrency '%s': want 1 to 1000", optarg);
			c->send.concurrency = (unsigned)v;
			break;
		case OPT_RATE:
			if (parse_positive(optarg, 1e6, &c->send.rate))
				return usage_error("--rate '%s': want requests per second, > 0 and <= 1000000",
						   optarg);
			break;
		case 'c':
			if (parse_ull(optarg, ~0ULL, &c->limit) || !c->limit)
				return usage_error("-c/--count '%s': want a count of requests >= 1 "
						   "(the concurrency is --concurrency)", optarg);
			break;
		case OPT_TIMEOUT:
		case OPT_CTIMEOUT:
			if (parse_positive(optarg, 86400, &d))
				return usage_error("%s '%s': want seconds > 0 and <= 86400",
						   opt == OPT_TIMEOUT ? "--timeout" : "--connect-timeout", optarg);
			*(opt == OPT_TIMEOUT ? &c->send.timeout_ms : &c->send.connect_timeout_ms) =
				(long)ceil(d * 1000);
			break;
		case 'k':
			c->send.insecure = true;
			break;
		case 'm':
			if (!*optarg)
				return usage_error("--method '%s': empty", optarg);
			c->filter.methods = optarg;
			break;
		case OPT_PATH:
			if (!*optarg)
				return usage_error("--path '': want a glob such as '/api/*'");
			c->filter.path_glob = optarg;
			break;
		case OPT_STATUS:
			if (htc_sel_parse_status(optarg, &c->filter))
				return usage_error("--status '%s': want 200, 4xx or 500-599, comma-separated (16 at most)",
						   optarg);
			break;
		case 'p':
			/* -p was --path's short form: a glob is no pid */
			if (*optarg && !numeric(optarg))
				return usage_error("-p/--pid '%s': not a process id (-p is --pid, as in "
						   "httpcap; the path glob is --path '%s')", optarg, optarg);
			if (parse_ull(optarg, UINT32_MAX, &v))
				return usage_error("--pid '%s': not a process id", optarg);
			if (c->filter.npids >= sizeof(c->filter.pids) / sizeof(c->filter.pids[0]))
				return usage_error("--pid '%s': 16 at most", optarg);
			c->filter.pids[c->filter.npids++] = (uint32_t)v;
			break;
		case OPT_PORT:
			if (parse_ull(optarg, 65535, &v) || !v)
				return usage_error("--port '%s': want a TCP port", optarg);
			if (c->filter.nports >= sizeof(c->filter.ports) / sizeof(c->filter.ports[0]))
				return usage_error("--port '%s': 16 at most", optarg);
			c->filter.ports[c->filter.nports++] = (uint16_t)v;
			break;
		case OPT_COMM:
			if (!*optarg)
				return usage_error("--comm '': want a process name");
			c->filter.comm = optarg;
			break;
		case OPT_SINCE:
			if (htc_sel_parse_time(optarg, HTC_SEL_TIME_UTC_DEFAULT, &c->filter.since_ns, &c->filter.since_rel))
				return usage_error("--since '%s': want 2026-01-02T03:04:05Z or +1.5s from the capture start",
						   optarg);
			break;
		case OPT_UNTIL:
			if (htc_sel_parse_time(optarg, HTC_SEL_TIME_UTC_DEFAULT, &c->filter.until_ns, &c->filter.until_rel))
				return usage_error("--until '%s': want 2026-01-02T03:04:05Z or +1.5s from the capture start",
						   optarg);
			break;
		case OPT_MINDUR:
			if (htc_sel_parse_duration(optarg, &c->filter.min_duration_ns))
				return usage_error("--min-duration '%s': want 10ms, 1.5s, 2m (a bare number is ms)", optarg);
			break;
		case 'H': {
			struct rp_hdr *n = realloc(c->edits.set, (c->edits.nset + 1) * sizeof(*n));

			if (!n)
				return usage_error("%s", "out of memory");
			c->edits.set = n;
			if (rp_parse_header_arg(optarg, &n[c->edits.nset]))
				return usage_error("--header '%s': want 'Name: value' (a token name, no CR/LF)",
						   optarg);
			c->edits.nset++;
			break;
		}
		case OPT_DROP: {
			char **n;

			if (!*optarg)
				return usage_error("--drop-header '': want a header name");
			n = realloc(c->edits.drop, (c->edits.ndrop + 1) * sizeof(*n));

			if (!n)
				return usage_error("%s", "out of memory");
			c->edits.drop = n;
			n[c->edits.ndrop++] = optarg;
			break;
		}
		case OPT_HOST:
			if (!*optarg || strpbrk(optarg, "\r\n \t"))
				return usage_error("--host '%s': want a host name (no spaces)", optarg);
			c->edits.host = optarg;
			break;
		case OPT_UNSAFE:
			c->allow_unsafe = true;
			break;
		case 'f':
			if (!strcmp(optarg, "table"))
				c->fmt = RP_FMT_TABLE;
			else if (!strcmp(optarg, "json"))
				c->fmt = RP_FMT_JSON;
			else if (!strcmp(optarg, "csv"))
				c->fmt = RP_FMT_CSV;
			else
				return usage_error("--format '%s': want table, json or csv", optarg);
			break;
		case OPT_MAXMIS:
			if (parse_ull(optarg, (1ULL << 62), &v))
				return usage_error("--max-mismatch '%s': want a count >= 0", optarg);
			c->max_mismatch = (long long)v;
			break;
		case OPT_DRY:
			c->dry_run = true;
			break;
		case 'v':
			c->verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("httpreplay %s (%s)\n", HTC_TOOL_VERSION, curl_version());
			exit(0);
		case ':':
			if (optopt && optopt < 256)
				return usage_error("option '-%c' needs a value", optopt);
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (nread) {
		/* the -r files first, then the FILE arguments */
		char **nargv = calloc(optind + nread + (argc - optind) + 1, sizeof(char *));

		if (!nargv)
			return usage_error("%s", "out of memory");
		memcpy(nargv, argv, optind * sizeof(char *));
		memcpy(nargv + optind, read_files, nread * sizeof(char *));
		memcpy(nargv + optind + nread, argv + optind, (argc - optind) * sizeof(char *));
		free(read_files);
		read_files = nargv;
		argc += nread;
		argv = nargv;
		*argcp = argc;
		*argvp = argv;
	}
	if (optind >= argc)
		return usage_error("%s", "no capture file given");
	if (!c->send.target && !c->dry_run)
		return usage_error("%s", "no --target URL given (or use --dry-run)");
	*first_file = optind;
	return 0;
}

/* A capture of a host holds every service's inbound requests; sent to one
 * target, those of the others can only mismatch.  Say so, once. */
static void note_ports(struct rp_req **reqs, size_t n, size_t nfilter)
{
	uint16_t ports[8];
	size_t np = 0;
	bool more = false;

	if (nfilter)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < np && ports[k] != reqs[i]->lport; k++)
			;
		if (k < np)
			continue;
		if (np == sizeof(ports) / sizeof(ports[0])) {
			more = true;
			break;
		}
		ports[np++] = reqs[i]->lport;
	}
	if (np < 2)
		return;
	fprintf(stderr, "httpreplay: note: the selected requests came in on %zu%s server ports (",
		np, more ? "+" : "");
	for (size_t k = 0; k < np; k++)
		fprintf(stderr, "%s%u", k ? ", " : "", ports[k]);
	fputs("), all sent to one target; pick one service with --port\n", stderr);
}

static void on_signal(int sig)
{
	(void)sig;
	rp_interrupted = 1;
}

/* Check each file on its own first, so a bad one is named in the message
 * (the merged source only says that one of them failed).  *start (OUT):
 * the earliest capture start, wall clock, for relative --since/--until. */
static int check_files(const char *const *paths, char **names, int n, uint64_t *start)
{
	*start = 0;
	for (int i = 0; i < n; i++) {
		const struct htc_header *h;
		struct htc_reader *r;
		int err = 0;
		int64_t t;

		r = htc_capture_open(paths[i], NULL, NULL, &err);	/* .htc or pcap */
		if (!r) {
			fprintf(stderr, "httpreplay: error: cannot read '%s': %s\n", names[i],
				*htc_pcap_error() ? htc_pcap_error() : htc_strerror(err));
			return err ? err : -EINVAL;
		}
		h = htc_reader_header(r);
		t = (int64_t)htc_wall_ns(h->start_ns, h->realtime_offset_ns);
		if (h->start_ns && t > 0 && (!*start || (uint64_t)t < *start))
			*start = (uint64_t)t;
		htc_reader_close(r);
	}
	return 0;
}

static void note_skips(struct rp_req **reqs, size_t n)
{
	size_t unsafe = 0, partial = 0, bad = 0;
	char methods[128] = "";

	for (size_t i = 0; i < n; i++) {
		switch (reqs[i]->skip) {
		case RP_SKIP_UNSAFE:
			if (!unsafe++ || !strstr(methods, reqs[i]->method)) {
				size_t l = strlen(methods);

				if (l + strlen(reqs[i]->method) + 3 < sizeof(methods))
					snprintf(methods + l, sizeof(methods) - l, "%s%s",
						 l ? ", " : "", reqs[i]->method);
			}
			break;
		case RP_SKIP_PARTIAL:
			partial++;
			break;
		case RP_SKIP_UNSENDABLE:
			bad++;
			break;
		}
	}
	/* one message per reason, not per request */
	if (unsafe) {
		fprintf(stderr, "httpreplay: skipped %zu requests with methods that may change state (",
			unsafe);
		rp_escape(stderr, methods, strlen(methods), RP_ESC_TEXT);
		fputs("); add --allow-unsafe to send them\n", stderr);
	}
	if (partial)
		fprintf(stderr, "httpreplay: skipped %zu requests whose body was not fully captured "
			"(snaplen or drops); they are never sent truncated\n", partial);
	if (bad)
		fprintf(stderr, "httpreplay: skipped %zu requests whose method, path or headers "
			"cannot be sent as they are (spaces, control bytes)\n", bad);
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	struct rp_req **reqs = NULL;
	struct rp_out *outs = NULL;
	struct rp_summary sum = {0};
	char *base = NULL, *prefix = NULL;
	const char *what, *msg;
	size_t n = 0, keep = 0, sendable = 0, nred = 0, total = 0, cut = 0;
	int first = 0, err, rc, nspools = 0;
	struct htc_spool *spools = NULL;
	const char **spooled = NULL;
	uint64_t cap_start = 0;

	rc = parse_args(&argc, &argv, &c, &first);
	if (rc)
		goto cleanup;
	rc = EXIT_USAGE;
	if (c.send.target) {
		err = rp_target_check(c.send.target, &base, &prefix, &msg);
		if (err) {
			fprintf(stderr, "httpreplay: error: bad --target '%s': %s\n", c.send.target,
				msg ? msg : strerror(-err));
			goto cleanup;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "httpreplay: error: libcurl initialisation failed\n");
		goto cleanup;
	}
	/* pipes, FIFOs and stdin are read once, into temporary files: the
	 * capture is opened more than once */
	nspools = argc - first;
	spools = calloc((size_t)nspools, sizeof(*spools));
	spooled = calloc((size_t)nspools, sizeof(*spooled));
	if (!spools || !spooled) {
		fprintf(stderr, "httpreplay: error: out of memory\n");
		goto cleanup;
	}
	for (int i = 0; i < nspools; i++) {
		if ((err = htc_spool(argv[first + i], &spools[i]))) {
			fprintf(stderr, "httpreplay: error: %s '%s': %s\n",
				spools[i].failed_write ? "cannot copy the stream" : "cannot read",
				argv[first + i], strerror(-err));
			goto cleanup;
		}
		spooled[i] = spools[i].path;
	}
	if (check_files(spooled, argv + first, nspools, &cap_start))
		goto cleanup;
	err = rp_load(spooled, (size_t)nspools, &c.filter, &reqs, &n, &total, &cut, &what);
	if (err) {
		fprintf(stderr, "httpreplay: error: %s of the capture failed: %s\n", what,
			htc_strerror(err));
		goto cleanup;
	}
	if (cut)
		fprintf(stderr, "httpreplay: warning: %zu requests not loaded: beyond the memory "
			"limit (%zu MiB of requests, %d started by one system call); the filters "
			"select fewer\n", cut, RP_MAX_KEEP_BYTES >> 20, HTC_ENG_MAX_STARTS);

	/* relative --since/--until, then safety, then --limit */
	/* a capture without a start time: its first request stands for it */
	if (!cap_start && n)
		cap_start = reqs[0]->start_ns;
	for (size_t i = 0; i < n; i++) {
		struct rp_req *r = reqs[i];

		if ((c.filter.since_rel || c.filter.until_rel) &&
		    !rp_filter_match(&c.filter, r, cap_start ? cap_start : 1)) {
			rp_req_free(r);
			continue;
		}
		if (c.limit && sendable >= c.limit) {
			sum.limited++;
			rp_req_free(r);
			continue;
		}
		/* what the request needs is its own bytes: a response past the
		 * snaplen does not stop it (its body is then not compared) */
		if (r->flags & (HTC_ENGF_BODY_PARTIAL | HTC_ENGF_REQ_GAP))
			r->skip = RP_SKIP_PARTIAL;
		else if (r->flags & HTC_ENGF_UNRESOLVED)
			/* HTTP/2 joined mid-connection: some of its header
			 * fields are unknown, so it cannot be sent as it was */
			r->skip = RP_SKIP_UNSENDABLE;
		else if (!rp_request_line_ok(r->method, r->path))
			r->skip = RP_SKIP_UNSENDABLE;
		else if (!c.allow_unsafe && !rp_method_safe(r->method))
			r->skip = RP_SKIP_UNSAFE;
		else
			sendable++;
		reqs[keep++] = r;
	}
	n = keep;
	if (!n)
		fprintf(stderr, "httpreplay: no request selected: the capture holds %zu inbound HTTP "
			"requests%s\n", total, total ? ", none passed the filters" :
			" (requests a process sent to others are not replayed)");
	outs = calloc(n ? n : 1, sizeof(*outs));
	if (!outs) {
		fprintf(stderr, "httpreplay: error: out of memory for %zu requests\n", n);
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (reqs[i]->skip)
			continue;
		err = rp_prepare(reqs[i], &c.edits, &outs[i]);
		if (err == -EINVAL) {
			reqs[i]->skip = RP_SKIP_UNSENDABLE;
			continue;
		} else if (err) {
			fprintf(stderr, "httpreplay: error: out of memory preparing request %llu\n",
				(unsigned long long)reqs[i]->id);
			goto cleanup;
		}
		reqs[i]->ndropped_redacted = outs[i].ndropped_redacted;
		if (outs[i].ndropped_redacted)
			nred++;
	}
	note_skips(reqs, n);
	note_ports(reqs, n, c.filter.nports);
	if (nred)
		fprintf(stderr, "httpreplay: %zu requests carried headers redacted at capture time; "
			"they are sent without them (give a value with --header 'Name: value')\n",
			nred);

	if (c.dry_run) {
		for (size_t i = 0; i < n; i++)
			rp_dry_run(stdout, reqs[i], &outs[i], base ? base : "(no --target)",
				   prefix ? prefix : "");
		rc = 0;
		goto cleanup;
	}

	/* a second Ctrl-C kills as usual (SA_RESETHAND) */
	{
		struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	err = rp_send_all(reqs, outs, n, &c.send, &sum.elapsed_s);
	if (rp_interrupted)
		fprintf(stderr, "httpreplay: interrupted: the report covers the requests sent so far\n");
	if (err) {
		fprintf(stderr, "httpreplay: error: sending failed: %s\n", strerror(-err));
		rc = EXIT_MISMATCH;
		goto cleanup;
	}
	rp_summarize(reqs, n, &sum);
	rp_report(stdout, c.fmt, reqs, n, &sum, c.verbose);
	fflush(stdout);
	rc = 0;
	if (sum.sent && sum.errors == sum.sent) {
		fprintf(stderr, "httpreplay: error: none of the %zu requests reached '%s'\n",
			sum.sent, c.send.target);
		rc = EXIT_MISMATCH;
	}
	if (c.max_mismatch >= 0 && sum.mismatched > (unsigned long long)c.max_mismatch) {
		fprintf(stderr, "httpreplay: %zu mismatched requests, more than --max-mismatch %lld\n",
			sum.mismatched, c.max_mismatch);
		rc = EXIT_MISMATCH;
	}
cleanup:
	for (size_t i = 0; i < n; i++) {
		rp_out_free(outs ? &outs[i] : NULL);
		rp_req_free(reqs[i]);
	}
	free(outs);
	free(reqs);
	for (size_t i = 0; i < c.edits.nset; i++) {
		free(c.edits.set[i].name);
		free(c.edits.set[i].value);
	}
	free(c.edits.set);
	free(c.edits.drop);
	for (int i = 0; spools && i < nspools; i++)
		htc_spool_close(&spools[i]);
	free(spools);
	free(spooled);
	free(base);
	free(prefix);
	curl_global_cleanup();
	return rc;
}
