// SPDX-License-Identifier: MIT
/*
 * httpanalyze.c - the command line: git-style subcommands over capture
 * files loaded into SQLite (schema.c, load.c), reports in report.c.
 *
 *   httpanalyze [summary] FILE...      httpanalyze requests [filters] FILE...
 *   httpanalyze show ID FILE...        httpanalyze deps|latency|errors FILE...
 *   httpanalyze sql "SELECT ..." FILE...   httpanalyze schema
 *   httpanalyze report -o report.html FILE...   (html.c)
 *   httpanalyze export --otlp FILE|URL [filters] FILE...   (otlp.c)
 *   --db out.sqlite keeps the database; later runs with --db and no FILE
 *   reuse it (opened read-only).
 *
 * Exit status: 0 ok, 1 runtime error (file, SQL, unknown request), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htc.h"
#include "clickhouse.h"
#include "db.h"
#include "html.h"
#include "otlp.h"
#include "output.h"
#include "report.h"

enum cmd {
	CMD_SUMMARY, CMD_REQUESTS, CMD_SHOW, CMD_DEPS, CMD_LATENCY, CMD_ERRORS,
	CMD_SQL, CMD_SCHEMA, CMD_REPORT, CMD_EXPORT, CMD__COUNT
};

#define C(x) (1u << (x))
#define C_ALL ((1u << CMD__COUNT) - 1)
#define C_FILTER (C(CMD_REQUESTS) | C(CMD_ERRORS) | C(CMD_LATENCY) | C(CMD_EXPORT))

static const struct {
	const char *name;
	const char *args;	/* first positional argument, if any */
	const char *help;
} cmds[CMD__COUNT] = {
	[CMD_SUMMARY] = { "summary", NULL, "time span, hosts, processes, endpoints, dependencies, losses" },
	[CMD_REQUESTS] = { "requests", NULL, "list inbound requests (filters below)" },
	[CMD_SHOW] = { "show", "REQUEST_ID", "one request's timeline with its downstream calls" },
	[CMD_DEPS] = { "deps", NULL, "caller endpoint -> downstream, counts and percentiles" },
	[CMD_LATENCY] = { "latency", NULL, "percentiles per endpoint and a histogram" },
	[CMD_ERRORS] = { "errors", NULL, "failed, reset and unanswered requests" },
	[CMD_SQL] = { "sql", "QUERY", "run SQL over the schema (`httpanalyze schema`)" },
	[CMD_SCHEMA] = { "schema", NULL, "print the documented database schema" },
	[CMD_REPORT] = { "report", NULL, "one self-contained HTML page (-o FILE): map, charts, waterfalls" },
	[CMD_EXPORT] = { "export", NULL, "spans to OpenTelemetry (--otlp FILE|URL), filters below" },
};

enum {
	OPT_DB = 256, OPT_FORMAT, OPT_METHOD, OPT_PATH, OPT_STATUS, OPT_MIN_DURATION,
	OPT_PID, OPT_PORT, OPT_COMM, OPT_HOST, OPT_SINCE, OPT_UNTIL, OPT_SORT, OPT_LIMIT, OPT_DEPTH,
	OPT_PAYLOAD_CAP, OPT_EVENTS, OPT_WRITABLE, OPT_OTLP, OPT_BATCH, OPT_TRACE_ID,
	OPT_SERVICE, OPT_SECTION,
};

static const struct option longopts[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "payload-cap", required_argument, NULL, OPT_PAYLOAD_CAP },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "method", required_argument, NULL, OPT_METHOD },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "min-duration", required_argument, NULL, OPT_MIN_DURATION },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "section", required_argument, NULL, OPT_SECTION },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "trace-id", required_argument, NULL, OPT_TRACE_ID },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "writable", no_argument, NULL, OPT_WRITABLE },
	{ "output", required_argument, NULL, 'o' },
	{ "otlp", required_argument, NULL, OPT_OTLP },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ NULL, 0, NULL, 0 },
};

/* Which subcommands take which option (0: every one). */
static unsigned opt_cmds(int opt)
{
	switch (opt) {
	case OPT_METHOD: case OPT_PATH: case OPT_STATUS: case OPT_MIN_DURATION:
	case OPT_PID: case OPT_PORT: case OPT_COMM: case OPT_HOST: case OPT_SINCE: case OPT_UNTIL:
	case OPT_TRACE_ID:
		return C_FILTER;
	case OPT_SERVICE:
		return C_FILTER | C(CMD_DEPS);
	case OPT_SORT:
		return C(CMD_REQUESTS) | C(CMD_ERRORS);
	case OPT_LIMIT:
		return C(CMD_REQUESTS) | C(CMD_ERRORS) | C(CMD_DEPS);
	case OPT_DEPTH:
		return C(CMD_SHOW) | C(CMD_REPORT);
	case OPT_WRITABLE:
		return C(CMD_SQL);
	case OPT_SECTION:
		return C(CMD_SUMMARY);
	case 'o':
		return C(CMD_REPORT);
	case OPT_OTLP: case OPT_BATCH:
		return C(CMD_EXPORT);
	default:
		return C_ALL;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: httpanalyze [COMMAND] [OPTIONS] FILE.htc...\n"
		"       httpanalyze COMMAND --db DB.sqlite [OPTIONS]   (reuse a kept database)\n"
		"\n"
		"Load httpcap capture files (several files: several hosts, one analysis)\n"
		"into SQLite and report on the HTTP requests they hold.\n"
		"\ncommands (summary is the default):\n");
	for (int i = 0; i < CMD__COUNT; i++)
		fprintf(f, "  %-9s %-11s %s\n", cmds[i].name, cmds[i].args ? cmds[i].args : "",
			cmds[i].help);
	fprintf(f,
		"\noptions:\n"
		"  --format table|json|csv  output format (default table; json: one object per line)\n"
		"  --db FILE                keep the database in FILE (must not exist); with no\n"
		"                           capture FILE, open it read-only instead of loading\n"
		"  --payload-cap N          keep at most N payload bytes per event (default all)\n"
		"  --events copy|scan       events table: copy every event into the database, or\n"
		"                           scan the capture files when it is read (faster load;\n"
		"                           default scan, copy with --db)\n"
		"  -v, --verbose            load statistics on stderr (events/s)\n"
		"  -q, --quiet              no progress bar, no warnings\n"
		"  -h, --help, -V, --version\n"
		"clickhouse (past one machine; httpanalyze(1), CLICKHOUSE):\n"
		"  httpanalyze load --clickhouse URL [--events] [--cluster NAME [--on-cluster]]\n"
		"              FILE.htc...\n"
		"  httpanalyze summary|requests|latency|errors|deps|show --clickhouse URL\n"
		"              [--capture ID] [--load ID]   (the loads read; default all)\n"
		"  httpanalyze sql --clickhouse URL 'QUERY'    httpanalyze schema --clickhouse URL\n"
		"filters (requests, errors, latency):\n"
		"  --method M  --path GLOB  --status 500|5xx|500-599|404,5xx  --min-duration 10ms|1s\n"
		"  --pid N  --port PORT (server port, repeatable)  --comm NAME  --host NAME\n"
		"  --trace-id ID (traceparent or b3 trace id)\n"
		"  --service NAME  the service's whole name or a prefix ending before ' ', ':' or\n"
		"              '@': 'python3', 'python3 backend.py', 'nginx:80', 'nginx:80@vm'\n"
		"              (also deps: the calls the service made)\n"
		"  --since/--until 2026-01-02T03:04:05Z | +1.5s (offset from the capture start)\n"
		"  --sort start|duration|status  --limit N   (requests, errors; --limit: deps)\n"
		"  --depth N                show, report: follow child requests N levels (default 8)\n"
		"  --section NAME           summary: that listing only (needed for csv): totals,\n"
		"                           tls, file, process, endpoint, linked, evidence,\n"
		"                           dependency, undecoded, lost\n"
		"  --writable               sql: allow statements that change the database\n"
		"                           (default read-only: no ATTACH, VACUUM INTO, writes)\n"
		"report:\n"
		"  -o, --output FILE        write the HTML page to FILE ('-': stdout)\n"
		"export (filters above apply):\n"
		"  --otlp FILE|URL          OTLP/JSON lines to FILE ('-': stdout), or OTLP/HTTP\n"
		"                           to a collector: http://HOST:4318 (/v1/traces added)\n"
		"  --batch N                spans per request or line (default 512)\n"
		"\nSee httpanalyze(1).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("httpanalyze: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'httpanalyze --help'.\n", stderr);
	return 2;
}

static int parse_i64(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	/* digits only (every caller's min is >= 0): strtoll would take a
	 * blank or a sign first */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

static int find_cmd(const char *s)
{
	for (int i = 0; i < CMD__COUNT; i++)
		if (!strcmp(s, cmds[i].name))
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	struct report_opts ro = {
		.fmt = OUT_TABLE, .out = stdout, .pid = -1, .min_duration_ms = -1,
		.limit = -1, .depth = 8,
	};
	struct db_load_opts lo = { .payload_cap = UINT32_MAX };
	const char *db_path = NULL, *arg1 = NULL, *out_path = NULL;
	struct otlp_opts xo = { .batch = OTLP_BATCH_DEFAULT };
	const char **files = NULL, **spooled = NULL;
	struct htc_spool *spools = NULL;
	size_t nfiles = 0;
	sqlite3 *db = NULL;
	int cmd = -1, opt, rc = 0, err = 0, longidx = 0;
	int64_t v;

	/*
	 * The in-memory database (110 MB for the bench's million events) is
	 * malloc'ed page by page: a fifth of the load's CPU went to page
	 * faults and malloc.  glibc backs its heap with transparent huge pages
	 * when told so by its tunable, which it reads only at startup, hence
	 * one exec of ourselves with it set (measured: 2.5 -> 2.0 cpu-s on
	 * the bench capture).  One arena: a second one (the loader's rows
	 * thread, rowq.c) gets no huge pages and took 29000 page faults where
	 * the main heap took 1300.  Never when the user set tunables, and a
	 * failing exec just means the slower path.
	 */
	if (argc > 1 && !getenv("GLIBC_TUNABLES") &&
	    !setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1", 1)) {
		execv("/proc/self/exe", argv);
		unsetenv("GLIBC_TUNABLES");
	}

	/* `load --clickhouse URL FILE...` and any command with --clickhouse:
	 * the ClickHouse side (clickhouse.c) */
	if (ch_wanted(argc, argv))
		return ch_main(argc, argv);

	/* The subcommand is the first non-option argument when it names one
	 * (options may come before it, git-style); anything else means
	 * summary, so `httpanalyze trace.htc` works. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1]) {
			/* skip the value of an option that takes one */
			for (const struct option *lo2 = longopts; a[1] == '-' && lo2->name; lo2++)
				if (lo2->has_arg == required_argument && !strcmp(a + 2, lo2->name))
					i++;
			if (!strcmp(a, "-o"))
				i++;
			continue;
		}
		cmd = find_cmd(a);
		if (cmd >= 0) {
			memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(*argv));
			argc--;
		} else if (!strchr(a, '/') && !strchr(a, '.') && access(a, F_OK)) {
			return usage_error("unknown command '%s'", a);
		}
		break;
	}
	if (cmd < 0)
		cmd = CMD_SUMMARY;

	/* Each connection used by one thread (the loader has two), and no
	 * allocation statistics: SQLite's mutexes and counters are measurable
	 * in the bulk load. */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vqhVo:", longopts, &longidx)) != -1) {
		if (opt == '?') {
			if (optopt && optopt < 256)
				fprintf(stderr, "httpanalyze: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "httpanalyze: unknown option or missing value in '%s'\n",
					argv[optind - 1]);
			fputs("Try 'httpanalyze --help'.\n", stderr);
			return 2;
		}
		if (!(opt_cmds(opt) & C(cmd))) {
			if (opt == 'o')
				fprintf(stderr, "httpanalyze: option '-o' does not apply to '%s'\n",
					cmds[cmd].name);
			else
				fprintf(stderr, "httpanalyze: option '--%s' does not apply to '%s'\n",
					longopts[longidx].name, cmds[cmd].name);
			return 2;
		}
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("httpanalyze %s (sqlite %s)\n", HTC_TOOL_VERSION, sqlite3_libversion());
			return 0;
		case 'v':
			lo.verbose = 1;
			break;
		case 'q':
			lo.quiet = 1;
			ro.quiet = 1;
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		case OPT_FORMAT:
			if (out_parse_format(optarg, &ro.fmt))
				return usage_error("bad --format '%s': want table, json or csv", optarg);
			break;
		case OPT_PAYLOAD_CAP:
			if (parse_i64(optarg, 0, &v) || v > UINT32_MAX)
				return usage_error("bad --payload-cap '%s': want bytes >= 0", optarg);
			lo.payload_cap = (uint32_t)v;
			break;
		case OPT_EVENTS:
			if (!strcmp(optarg, "copy"))
				lo.events = DB_EVENTS_COPY;
			else if (!strcmp(optarg, "scan"))
				lo.events = DB_EVENTS_SCAN;
			else
				return usage_error("bad --events '%s': want copy or scan", optarg);
			break;
		case OPT_METHOD:
			ro.method = optarg;
			break;
		case OPT_PATH:
			ro.path_glob = optarg;
			break;
		case OPT_COMM:
			ro.comm = optarg;
			break;
		case OPT_TRACE_ID:
			ro.trace_id = optarg;
			break;
		case OPT_HOST:
			ro.host = optarg;
			break;
		case OPT_SECTION: {
			int i;

			for (i = 0; report_summary_sections[i]; i++)
				if (!strcmp(optarg, report_summary_sections[i]))
					break;
			if (!report_summary_sections[i])
				return usage_error("bad --section '%s': want totals, tls, file, "
						   "process, endpoint, linked, evidence, dependency, "
						   "undecoded or lost", optarg);
			ro.section = optarg;
			break;
		}
		case OPT_SERVICE:
			if (!*optarg)
				return usage_error("bad --service '': want a service name "
						   "(see `httpanalyze summary`)");
			ro.service = optarg;
			break;
		case OPT_PORT:
			if (parse_i64(optarg, 1, &v) || v > 65535)
				return usage_error("bad --port '%s': want a TCP port, 1..65535", optarg);
			if (ro.nports >= REPORT_MAX_STATUS)
				return usage_error("too many --port (at most %d)", REPORT_MAX_STATUS);
			ro.ports[ro.nports++] = (int)v;
			break;
		case OPT_STATUS:
			if (report_parse_status(optarg, &ro))
				return usage_error("bad --status '%s': want e.g. 500, 5xx, 500-599 or 404,5xx",
						   optarg);
			break;
		case OPT_MIN_DURATION:
			if (report_parse_duration_ms(optarg, &ro.min_duration_ms))
				return usage_error("bad --min-duration '%s': want e.g. 10ms, 1.5s, 250us",
						   optarg);
			break;
		case OPT_PID:
			if (parse_i64(optarg, 0, &ro.pid) || ro.pid > UINT32_MAX)
				return usage_error("bad --pid '%s': want a process id", optarg);
			break;
		case OPT_SINCE:
			if (report_parse_when(optarg, &ro.since))
				return usage_error("bad --since '%s': want RFC 3339 "
						   "(2026-01-02T03:04:05Z) or an offset (+1.5s)", optarg);
			break;
		case OPT_UNTIL:
			if (report_parse_when(optarg, &ro.until))
				return usage_error("bad --until '%s': want RFC 3339 "
						   "(2026-01-02T03:04:05Z) or an offset (+1.5s)", optarg);
			break;
		case OPT_SORT:
			if (strcmp(optarg, "start") && strcmp(optarg, "duration") &&
			    strcmp(optarg, "status"))
				return usage_error("bad --sort '%s': want start, duration or status",
						   optarg);
			ro.sort = optarg;
			break;
		case OPT_LIMIT:
			if (parse_i64(optarg, 0, &ro.limit))
				return usage_error("bad --limit '%s'", optarg);
			break;
		case OPT_DEPTH:
			if (parse_i64(optarg, 0, &v) || v > 64)
				return usage_error("bad --depth '%s': want 0..64", optarg);
			ro.depth = (int)v;
			break;
		case OPT_WRITABLE:
			ro.writable = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case OPT_OTLP:
			xo.target = optarg;
			break;
		case OPT_BATCH:
			if (parse_i64(optarg, 1, &v) || v > OTLP_BATCH_MAX)
				return usage_error("bad --batch '%s': want 1..%d spans", optarg,
						   OTLP_BATCH_MAX);
			xo.batch = (size_t)v;
			break;
		}
	}

	if (cmd == CMD_SCHEMA) {
		if (optind < argc)
			return usage_error("schema takes no argument (got '%s')", argv[optind]);
		fputs(db_schema_text(), stdout);
		return 0;
	}
	if (cmds[cmd].args) {
		if (optind >= argc) {
			fprintf(stderr, "httpanalyze: %s needs %s\n", cmds[cmd].name, cmds[cmd].args);
			return 2;
		}
		arg1 = argv[optind++];
		/* `show trace.htc`: the id was forgotten, the file taken for it */
		if (cmd == CMD_SHOW && parse_i64(arg1, 0, &v) && !access(arg1, F_OK))
			return usage_error("show needs a REQUEST_ID before the capture files "
					   "('%s' is a file): httpanalyze show 1001 %s", arg1, arg1);
	}
	if (cmd == CMD_REPORT && !out_path)
		return usage_error("report needs -o FILE.html ('-' for stdout)");
	/* one CSV stream, one header: the listings of summary one at a time */
	if (cmd == CMD_SUMMARY && ro.fmt == OUT_CSV && !ro.section)
		return usage_error("summary --format csv needs --section NAME (one table: totals, "
				   "tls, file, process, endpoint, linked, evidence, dependency, "
				   "undecoded or lost)");
	if (cmd == CMD_EXPORT && !xo.target)
		return usage_error("export needs --otlp FILE or --otlp http://COLLECTOR:4318");
	files = (const char **)(argv + optind);
	nfiles = (size_t)(argc - optind);
	if (!nfiles && !db_path) {
		fprintf(stderr, "httpanalyze: no capture file given\n"
			"Try 'httpanalyze --help'.\n");
		return 2;
	}

	if (nfiles) {
		struct db_load_stats st;

		/* pipes, FIFOs and stdin are read once, into temporary files:
		 * the load opens each input more than once */
		spools = calloc(nfiles, sizeof(*spools));
		spooled = calloc(nfiles, sizeof(*spooled));
		if (!spools || !spooled) {
			fprintf(stderr, "httpanalyze: out of memory\n");
			rc = 1;
			goto out;
		}
		for (size_t k = 0; k < nfiles; k++) {
			if ((err = htc_spool(files[k], &spools[k]))) {
				fprintf(stderr, "httpanalyze: %s '%s': %s\n",
					spools[k].failed_write ? "cannot copy the stream" : "cannot open",
					files[k], strerror(-err));
				rc = 1;
				goto out;
			}
			spooled[k] = spools[k].path;
		}
		lo.names = files;
		db = db_create(db_path, &err);
		if (!db) {
			if (err == -EEXIST)
				fprintf(stderr, "httpanalyze: database '%s' exists: remove it, or "
					"give no capture file to reuse it\n", db_path);
			rc = 1;
			goto out;
		}
		lo.progress = !lo.quiet && isatty(STDERR_FILENO);
		/* A kept database gets every index, and so does sql; in memory
		 * the others build what their queries read: summary reads the
		 * stats tables, deps and latency scan, show looks up calls by
		 * request, requests and errors list in start order. */
		if (!db_path && cmd != CMD_SQL) {
			unsigned need = cmd == CMD_SHOW || cmd == CMD_REPORT ? DB_INDEX_CALLS_REQUEST :
					cmd == CMD_REQUESTS || cmd == CMD_ERRORS ?
					DB_INDEX_REQUESTS_START : 0;

			lo.skip_indexes = DB_INDEX_ALL & ~need;
		}
		err = db_load(db, spooled, nfiles, &lo, &st);
		if (err) {
			sqlite3_close(db);
			if (db_path)
				unlink(db_path);
			rc = 1;
			goto out;
		}
	} else {
		db = db_open_existing(db_path, &err);
		if (!db)
			return 1;
	}

	switch (cmd) {
	case CMD_SUMMARY:
		err = report_summary(db, &ro);
		break;
	case CMD_REQUESTS:
		err = report_requests(db, &ro);
		break;
	case CMD_ERRORS:
		err = report_errors(db, &ro);
		break;
	case CMD_SHOW:
		err = report_show(db, &ro, arg1);
		break;
	case CMD_DEPS:
		err = report_deps(db, &ro);
		break;
	case CMD_LATENCY:
		err = report_latency(db, &ro);
		break;
	case CMD_SQL:
		err = report_sql(db, &ro, arg1);
		break;
	case CMD_REPORT:
		err = html_report(db, &ro, out_path);
		break;
	case CMD_EXPORT:
		err = otlp_export(db, &ro, &xo);
		break;
	}
	if (!err && fflush(stdout)) {
		fprintf(stderr, "httpanalyze: writing the output: %s\n", strerror(errno));
		err = -EIO;
	}
	rc = err == -EINVAL ? 2 : err ? 1 : 0;
	if (sqlite3_close(db) != SQLITE_OK && !rc)
		rc = 1;
out:
	for (size_t k = 0; spools && k < nfiles; k++)
		htc_spool_close(&spools[k]);
	free(spools);
	free(spooled);
	return rc;
}
