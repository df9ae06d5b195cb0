// SPDX-License-Identifier: MIT
/*
 * db.c - the SQLite database of httpanalyze: its documented schema, the
 * loader (capture files -> engine -> prepared INSERTs in one transaction,
 * rows written with their cross-process links, statistics counted on the
 * way, indexes after the load) and the SQL functions the reports use.
 *
 * Times: *_ns columns are wall-clock nanoseconds since the Unix epoch (UTC)
 * (the capture's monotonic clock plus the file's realtime offset), so files
 * of several hosts share one timeline; the views add RFC 3339 text.
 * Durations: *_ms columns are milliseconds as REAL (duration_ms is computed
 * from the times when read, and declared without a type: with REAL
 * affinity SQLite hands integral values back as integers after a sort).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htc.h"
#include "htc_engine.h"
#include "batchq.h"
#include "db.h"
#include "output.h"
#include "stats.h"

/*
 * The schema is one documented SQL text: db_create executes it and
 * `httpanalyze schema` prints it, so the documentation cannot drift from
 * the tables.  SQLite keeps the comments inside each CREATE statement, so
 * `.schema` in the sqlite3 CLI shows them too.
 */
#define DB_RFC3339(col) \
	"strftime('%Y-%m-%dT%H:%M:%S', " col " / 1000000000, 'unixepoch') || " \
	"printf('.%09dZ', " col " % 1000000000)"

static const char db_schema_tables[] =
"CREATE TABLE meta (\n"
"  key TEXT PRIMARY KEY,           -- schema_version, tool_version, created_ns\n"
"  value TEXT\n"
");\n"
"CREATE TABLE files (\n"
"  file_idx INTEGER PRIMARY KEY,   -- 0-based, order of the command line\n"
"  path TEXT,                      -- as given on the command line\n"
"  hostname TEXT,                  -- host that captured the file\n"
"  kernel TEXT,                    -- its uname -r\n"
"  tool_version TEXT,              -- httpcap version that wrote it\n"
"  format_version TEXT,            -- .htc format 'major.minor'\n"
"  capture_id TEXT,                -- 32 hex digits, random per capture\n"
"  start_ns INTEGER,               -- capture start\n"
"  end_ns INTEGER,                 -- capture end (trailer), else last record seen\n"
"  realtime_offset_ns INTEGER,     -- wall clock minus the capture's monotonic clock\n"
"  snaplen INTEGER,                -- payload bytes kept per event\n"
"  redacted INTEGER,               -- 1: secret headers were redacted\n"
"  options TEXT,                   -- capture options, 'key=value' lines\n"
"  records INTEGER,                -- records read (all types)\n"
"  events INTEGER,                 -- events loaded (data and connection)\n"
"  frames_ok INTEGER,              -- frames read\n"
"  frames_bad INTEGER,             -- corrupt frames skipped\n"
"  records_skipped INTEGER,        -- unknown or malformed records skipped\n"
"  truncated INTEGER,              -- 1: the file ends inside a frame\n"
"  stop_offset INTEGER,            -- where reading stopped\n"
"  has_trailer INTEGER,            -- 1: clean end with the trailer frame\n"
"  lost_total INTEGER,             -- events the capture could not deliver\n"
"  lost_ringbuf_full INTEGER,      -- ... kernel ring buffer full\n"
"  lost_map_full INTEGER,          -- ... no room for per-socket/thread state\n"
"  lost_payload_read INTEGER,      -- ... payload unreadable from user memory\n"
"  lost_no_entry INTEGER,          -- ... syscall exit without its entry\n"
"  lost_user INTEGER,              -- ... dropped in user space\n"
"  lost_other INTEGER              -- ... reasons this version does not know\n"
");\n"
"CREATE TABLE losses (\n"
"  file_idx INTEGER,               -- files.file_idx\n"
"  reason INTEGER,                 -- reason number in the file\n"
"  name TEXT,                      -- ringbuf_full, map_full, ...\n"
"  count INTEGER                   -- events lost for that reason (non-zero only)\n"
");\n"
"CREATE TABLE processes (\n"
"  file_idx INTEGER,               -- files.file_idx\n"
"  host TEXT,                      -- files.hostname\n"
"  pid INTEGER,                    -- process id (tgid) on that host\n"
"  ppid INTEGER,                   -- parent process id\n"
"  uid INTEGER,\n"
"  gid INTEGER,\n"
"  comm TEXT,                      -- kernel task name (15 bytes at most)\n"
"  exe TEXT,                       -- /proc/PID/exe target\n"
"  cmdline TEXT,                   -- argv joined by spaces\n"
"  cgroup TEXT,                    -- cgroup path\n"
"  container TEXT,                 -- container id, or empty\n"
"  seen_ns INTEGER,                -- when the metadata was read\n"
"  PRIMARY KEY (file_idx, pid)\n"
");\n"
"CREATE TABLE connections (\n"
"  conn INTEGER PRIMARY KEY,       -- engine connection id, unique across files\n"
"  file_idx INTEGER,               -- files.file_idx\n"
"  conn_id INTEGER,                -- the capture's connection id (events.conn_id)\n"
"  host TEXT,                      -- files.hostname\n"
"  pid INTEGER,                    -- process of the accept/connect (or first event)\n"
"  tid INTEGER,\n"
"  comm TEXT,\n"
"  role TEXT,                      -- server (accepted), client (connected), unknown\n"
"  local_ip TEXT,\n"
"  local_port INTEGER,\n"
"  remote_ip TEXT,\n"
"  remote_port INTEGER,\n"
"  protocol TEXT,                  -- http, redis, postgres, tls, unknown\n"
"  connect_result INTEGER,         -- 0 or -errno of connect()\n"
"  open_ns INTEGER,                -- accept/connect, or first event\n"
"  close_ns INTEGER,               -- close; NULL if open at the end\n"
"  connect_ms REAL,                -- duration of the connect syscall\n"
"  bytes_in INTEGER,               -- bytes read (syscall return values)\n"
"  bytes_out INTEGER,              -- bytes written\n"
"  request_id INTEGER,             -- inbound request being served when opened\n"
"  preexisting INTEGER AS ((flags >> 5) & 1),  -- 1: opened before the capture\n"
"  reset INTEGER AS ((flags >> 1) & 1),        -- 1: reset or closed mid-message\n"
"  flags INTEGER                   -- engine flags (HTC_ENGF_*)\n"
");\n"
"CREATE TABLE requests (\n"
"  request_id INTEGER PRIMARY KEY, -- stable: 1001 + file_idx * 1e9 + n\n"
"  parent_request_id INTEGER,      -- request (other process/host) whose call made this one\n"
"  parent_call_id INTEGER,         -- calls.call_id of that call\n"
"  file_idx INTEGER,\n"
"  host TEXT,                      -- files.hostname\n"
"  conn INTEGER,                   -- connections.conn\n"
"  seq INTEGER,                    -- 0-based exchange number on the connection\n"
"  pid INTEGER,                    -- serving process\n"
"  tid INTEGER,                    -- serving thread\n"
"  comm TEXT,\n"
"  client_ip TEXT,\n"
"  client_port INTEGER,\n"
"  server_ip TEXT,\n"
"  server_port INTEGER,\n"
"  method TEXT,\n"
"  path TEXT,                      -- as sent, query included\n"
"  version TEXT,                   -- HTTP/1.1, ...\n"
"  host_header TEXT,               -- Host header, empty if absent\n"
"  endpoint TEXT,                  -- method and normalised path: 'GET /users/:id'\n"
"  status INTEGER,                 -- response status, NULL if none\n"
"  start_ns INTEGER,               -- first request byte read\n"
"  end_ns INTEGER,                 -- last response byte written, NULL if unanswered\n"
"  duration_ms AS (CASE WHEN end_ns >= start_ns THEN (end_ns - start_ns) / 1e6 END), -- REAL, NULL if unanswered\n"
"  req_bytes INTEGER,              -- request on the wire: head + body\n"
"  resp_bytes INTEGER,             -- response on the wire\n"
"  ncalls INTEGER,                 -- downstream calls made while serving it\n"
"  error INTEGER AS ((flags >> 6) & 1),        -- 1: status >= 400\n"
"  unanswered INTEGER AS (flags & 1),          -- 1: no response before close / end of capture\n"
"  reset INTEGER AS ((flags >> 1) & 1),        -- 1: connection reset or closed mid-message\n"
"  gap INTEGER AS ((flags >> 2) & 1),          -- 1: bytes counted but not captured\n"
"  ambiguous INTEGER AS ((flags >> 4) & 1),    -- 1: other requests were active on the thread\n"
"  body_partial INTEGER AS ((flags >> 3) & 1), -- 1: request body not fully captured\n"
"  flags INTEGER,                  -- engine flags (HTC_ENGF_*)\n"
"  resp_body_len INTEGER,          -- decoded response body length\n"
"  resp_body_hash TEXT,            -- FNV-1a 64 of it (hex), NULL if not fully captured\n"
"  head BLOB,                      -- request start line and headers as captured\n"
"  body BLOB                       -- request body as captured\n"
");\n"
"CREATE TABLE calls (\n"
"  call_id INTEGER PRIMARY KEY,    -- engine call id\n"
"  request_id INTEGER,             -- inbound request that made it, NULL if none\n"
"  child_request_id INTEGER,       -- the request it became in a traced server\n"
"  file_idx INTEGER,\n"
"  host TEXT,\n"
"  conn INTEGER,                   -- connections.conn\n"
"  seq INTEGER,                    -- 0-based exchange number on the connection\n"
"  pid INTEGER,\n"
"  tid INTEGER,\n"
"  comm TEXT,\n"
"  protocol TEXT,                  -- http, redis, postgres, tls, unknown\n"
"  local_ip TEXT,\n"
"  local_port INTEGER,\n"
"  remote_ip TEXT,\n"
"  remote_port INTEGER,\n"
"  summary TEXT,                   -- 'GET /x', 'SET user:1', 'SELECT ...', first bytes\n"
"  name TEXT,                      -- kind: 'GET /x/:id' (http), 'SET' (redis), 'SELECT'\n"
"  status INTEGER,                 -- HTTP status, NULL otherwise\n"
"  start_ns INTEGER,               -- first byte written\n"
"  end_ns INTEGER,                 -- last answer byte read, NULL if none\n"
"  duration_ms AS (CASE WHEN end_ns >= start_ns THEN (end_ns - start_ns) / 1e6 END), -- REAL, NULL if unanswered\n"
"  bytes_out INTEGER,\n"
"  bytes_in INTEGER,\n"
"  ambiguous INTEGER AS ((flags >> 4) & 1),    -- 1: request_id is one of several active requests\n"
"  error INTEGER AS ((flags >> 6) & 1),        -- 1: status >= 400 or an error reply\n"
"  unanswered INTEGER AS (flags & 1),          -- 1: no answer\n"
"  reset INTEGER AS ((flags >> 1) & 1),        -- 1: connection reset or closed mid-message\n"
"  flags INTEGER                   -- engine flags (HTC_ENGF_*)\n"
");\n"
"-- The *_stats tables are counted during the load, equal to a GROUP BY over\n"
"-- the rows (percentiles as percentile_nr: nearest rank, answered only);\n"
"-- summary reads them instead of sorting every request.\n"
"CREATE TABLE endpoint_stats (\n"
"  host TEXT,                      -- requests.host\n"
"  comm TEXT,                      -- requests.comm\n"
"  endpoint TEXT,                  -- requests.endpoint\n"
"  requests INTEGER,\n"
"  errors INTEGER,                 -- error or unanswered\n"
"  p50_ms REAL,\n"
"  p90_ms REAL,\n"
"  p99_ms REAL\n"
");\n"
"CREATE TABLE downstream_stats (\n"
"  protocol TEXT,                  -- calls.protocol\n"
"  remote_ip TEXT,\n"
"  remote_port INTEGER,\n"
"  name TEXT,                      -- calls.name\n"
"  calls INTEGER,\n"
"  errors INTEGER,                 -- error or unanswered\n"
"  p50_ms REAL,\n"
"  p90_ms REAL,\n"
"  p99_ms REAL\n"
");\n"
"CREATE TABLE process_stats (\n"
"  file_idx INTEGER,\n"
"  pid INTEGER,\n"
"  requests INTEGER,               -- requests served by the process\n"
"  calls INTEGER,                  -- calls it made\n"
"  PRIMARY KEY (file_idx, pid)\n"
");\n";

/* The events table: copied (--events copy) in the main database, or for
 * an in-memory analysis in a second in-memory database attached as "ev",
 * filled by its own thread (see struct evq); or (--events scan) a virtual
 * table declared with this same text (events_vtab.c). */
static const char db_schema_events[] =
"CREATE TABLE events (\n"
"  event_id INTEGER PRIMARY KEY,   -- load order (time order across files)\n"
"  file_idx INTEGER,               -- files.file_idx\n"
"  ts_ns INTEGER,                  -- syscall exit\n"
"  dur_ns INTEGER,                 -- syscall entry to exit\n"
"  pid INTEGER,\n"
"  tid INTEGER,\n"
"  comm TEXT,\n"
"  type TEXT,                      -- accept, read, connect, write, close\n"
"  syscall TEXT,                   -- read, recvfrom, writev, sendfile, ...\n"
"  fd INTEGER,\n"
"  conn_id INTEGER,                -- capture connection id; connections.(file_idx, conn_id)\n"
"  ret INTEGER,                    -- syscall return value\n"
"  bytes INTEGER,                  -- read/write: bytes moved; NULL otherwise\n"
"  stream_off INTEGER,             -- read/write: bytes before this one in this direction\n"
"  captured_len INTEGER,           -- payload bytes the capture kept (<= bytes)\n"
"  flags INTEGER,                  -- 1 redacted, 2 preexisting socket, 4 partial payload\n"
"  request_id INTEGER,             -- inbound request the event belongs to, or NULL (not indexed)\n"
"  payload BLOB                    -- captured bytes (capped by --payload-cap)\n"
");\n";

/* Built after the load (bulk loads are faster without them).  The events
 * table gets none: indexing millions of rows costs a third of the load and
 * no report reads events; in a --db file, `CREATE INDEX ... ON
 * events (request_id)` with the sqlite3 CLI when you need one. */
static const char db_schema_indexes[] =
"CREATE INDEX requests_start ON requests (start_ns);        -- requests --sort start\n"
"CREATE INDEX requests_parent ON requests (parent_request_id)\n"
"  WHERE parent_request_id IS NOT NULL;                    -- children of a request\n"
"CREATE INDEX calls_request ON calls (request_id) WHERE request_id IS NOT NULL;\n"
"CREATE INDEX connections_conn_id ON connections (file_idx, conn_id);\n";

/* Each index above, by its DB_INDEX_* bit: an in-memory run builds only the
 * ones its command reads (db_load_opts.skip_indexes); the text above stays the
 * one documented schema, and a test checks the two agree. */
static const char *const db_index_names[] = {
	"requests_start", "requests_parent", "calls_request", "connections_conn_id",
};


static const char db_schema_views[] =
"-- requests with readable times\n"
"CREATE VIEW v_requests AS SELECT request_id, parent_request_id, host, pid, comm,\n"
"  method, path, endpoint, status, " DB_RFC3339("start_ns") " AS start,\n"
"  duration_ms, ncalls AS calls, req_bytes, resp_bytes, error, unanswered, reset,\n"
"  start_ns, end_ns\n"
"  FROM requests;\n"
"-- per endpoint: count, errors, mean latency (percentiles: httpanalyze latency)\n"
"CREATE VIEW v_endpoints AS SELECT endpoint, count(*) AS requests,\n"
"  sum(error) AS errors, sum(unanswered) AS unanswered,\n"
"  round(1.0 * sum(error OR unanswered) / count(*), 4) AS error_rate,\n"
"  round(avg(duration_ms), 3) AS avg_ms, min(duration_ms) AS min_ms,\n"
"  max(duration_ms) AS max_ms\n"
"  FROM requests GROUP BY endpoint;\n"
"-- downstream calls with their caller endpoint and readable times\n"
"CREATE VIEW v_calls AS SELECT c.call_id, c.request_id,\n"
"  coalesce(r.endpoint, '(none)') AS caller, c.protocol,\n"
"  c.remote_ip || ':' || c.remote_port AS downstream, c.name, c.summary, c.status,\n"
"  " "strftime('%Y-%m-%dT%H:%M:%S', c.start_ns / 1000000000, 'unixepoch') || "
"printf('.%09dZ', c.start_ns % 1000000000)" " AS start,\n"
"  c.duration_ms, c.child_request_id, c.error, c.unanswered, c.host, c.pid, c.comm\n"
"  FROM calls c LEFT JOIN requests r ON r.request_id = c.request_id;\n"
"-- caller endpoint -> downstream dependency, counted\n"
"CREATE VIEW v_deps AS SELECT caller, protocol, downstream, name,\n"
"  count(*) AS calls, sum(error) AS errors, round(avg(duration_ms), 3) AS avg_ms\n"
"  FROM v_calls GROUP BY caller, protocol, downstream, name;\n"
"-- failed requests and why\n"
"CREATE VIEW v_errors AS SELECT request_id, host, pid, comm, method, path, status,\n"
"  " DB_RFC3339("start_ns") " AS start, duration_ms,\n"
"  CASE WHEN unanswered THEN 'unanswered' WHEN reset THEN 'reset'\n"
"       WHEN status >= 500 THEN '5xx' WHEN status >= 400 THEN '4xx' ELSE 'error' END AS reason\n"
"  FROM requests WHERE error OR unanswered OR reset;\n"
"-- client call -> the server request it became (by 5-tuple): the link\n"
"-- columns of requests, kept with the rows as the load goes\n"
"CREATE VIEW links AS SELECT parent_call_id AS call_id,\n"
"  request_id AS child_request_id, parent_request_id\n"
"  FROM requests WHERE parent_call_id IS NOT NULL;\n"
"-- one service's request -> the requests it caused in other services\n"
"CREATE VIEW v_links AS SELECT p.request_id AS parent_request_id, p.host AS parent_host,\n"
"  p.endpoint AS parent_endpoint, c.parent_call_id AS call_id, c.request_id AS child_request_id,\n"
"  c.host AS child_host, c.endpoint AS child_endpoint, c.duration_ms AS child_ms\n"
"  FROM requests c JOIN requests p ON p.request_id = c.parent_request_id;\n";


const char *db_schema_text(void)
{
	static char *text;

	/* built once: tables, indexes and views in the order they are made */
	if (!text) {
		size_t n = sizeof(db_schema_tables) + sizeof(db_schema_events) +
			   sizeof(db_schema_views) + sizeof(db_schema_indexes) + 512;

		text = malloc(n);
		if (!text)
			return db_schema_tables;
		snprintf(text, n,
			 "-- httpanalyze schema version %d\n"
			 "-- *_ns: wall-clock ns since the Unix epoch (UTC); *_ms: milliseconds\n"
			 "%s-- events: copied with --events copy (the default with --db); with\n"
			 "-- --events scan (the default in memory) a virtual table with these\n"
			 "-- columns that re-reads the capture files when queried\n"
			 "%s\n-- indexes, built after the load (all for --db and sql; otherwise\n"
			 "-- those the command reads)\n%s\n-- views\n%s",
			 DB_SCHEMA_VERSION, db_schema_tables, db_schema_events,
			 db_schema_indexes, db_schema_views);
	}
	return text;
}

/* ---- SQL functions ---- */

static void fn_rfc3339(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char buf[64];

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	out_rfc3339(buf, sizeof(buf), sqlite3_value_int64(argv[0]));
	sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

struct pct_state {
	double *v;
	size_t n, cap;
	double p;
	int oom;
};

static void pct_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct pct_state *s = sqlite3_aggregate_context(ctx, sizeof(*s));

	if (!s)
		return;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL || s->oom)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv) {
			s->oom = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = sqlite3_value_double(argv[0]);
	s->p = sqlite3_value_double(argv[1]);
}

static void pct_final(sqlite3_context *ctx)
{
	struct pct_state *s = sqlite3_aggregate_context(ctx, 0);

	if (!s || !s->n) {
		sqlite3_result_null(ctx);
		goto cleanup;
	}
	if (s->oom) {
		sqlite3_result_error_nomem(ctx);
		goto cleanup;
	}
	{
		double r;

		stats_percentiles(s->v, s->n, &s->p, 1, &r);
		sqlite3_result_double(ctx, r);
	}
cleanup:
	if (s)
		free(s->v);
}

int db_register_functions(sqlite3 *db)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

	if (sqlite3_create_function(db, "rfc3339", 1, flags, NULL, fn_rfc3339, NULL, NULL) ||
	    sqlite3_create_function(db, "percentile_nr", 2, flags, NULL, NULL, pct_step,
				    pct_final))
		return -EIO;
	return 0;
}

/* ---- opening ---- */

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Execute the CREATE INDEX statements of db_schema_indexes whose index is in
 * mask (bit i: db_index_names[i]). */
static int create_indexes(sqlite3 *db, unsigned mask)
{
	const char *p = db_schema_indexes;

	while (*p) {
		const char *end = strstr(p + 1, "CREATE INDEX ");
		size_t len = end ? (size_t)(end - p) : strlen(p);

		for (size_t i = 0; i < sizeof(db_index_names) / sizeof(db_index_names[0]); i++) {
			size_t n = strlen(db_index_names[i]);
			char sql[512];

			if (!(mask & 1u << i) || strncmp(p + 13, db_index_names[i], n) || p[13 + n] != ' ')
				continue;
			if (len >= sizeof(sql)) {
				fprintf(stderr, "httpanalyze: index statement too long (%zu bytes)\n", len);
				return -EINVAL;
			}
			memcpy(sql, p, len);
			sql[len] = 0;
			if (exec(db, sql))
				return -EIO;
		}
		p += len;
	}
	return 0;
}

sqlite3 *db_create(const char *path, int *err)
{
	struct stat stb;
	sqlite3 *db = NULL;
	char buf[128];
	int rc;

	if (path && !lstat(path, &stb)) {
		*err = -EEXIST;
		return NULL;
	}
	if (path) {
		/* 0600 like the capture it comes from: payloads may hold
		 * secrets; O_EXCL so we never write into someone else's file */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0) {
			*err = -errno;
			fprintf(stderr, "httpanalyze: cannot create database '%s': %s\n", path,
				strerror(errno));
			return NULL;
		}
		close(fd);
	}
	rc = sqlite3_open_v2(path ? path : ":memory:", &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: cannot create database '%s': %s\n",
			path ? path : ":memory:", db ? sqlite3_errmsg(db) : "out of memory");
		*err = -EIO;
		goto fail;
	}
	/* Bulk load: nothing to recover if we crash (the capture is the
	 * source of truth), so no journal and no fsync. */
	if (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		     "PRAGMA main.locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"
		     "PRAGMA cache_size=-262144;") ||
	    exec(db, db_schema_tables) || exec(db, db_schema_views) ||
	    db_register_functions(db)) {
		*err = -EIO;
		goto fail;
	}
	snprintf(buf, sizeof(buf),
		 "INSERT INTO meta VALUES ('schema_version', '%d'), ('tool_version', '%s');",
		 DB_SCHEMA_VERSION, HTC_TOOL_VERSION);
	if (exec(db, buf)) {
		*err = -EIO;
		goto fail;
	}
	return db;
fail:
	sqlite3_close(db);
	if (path && *err != -EEXIST)
		unlink(path);
	return NULL;
}

sqlite3 *db_open_existing(const char *path, int *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, ok = 0, found = 0;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: cannot open database '%s': %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	/* The file may come from someone else: do not let its schema run
	 * functions with side effects, and refuse writes to the schema. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'",
				-1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		found = sqlite3_column_int(st, 0);
		ok = found == DB_SCHEMA_VERSION;
	}
	if (!ok && found > 0) {
		fprintf(stderr, "httpanalyze: '%s' has schema version %d, this httpanalyze reads "
			"version %d: load the capture files again into a new --db\n", path, found,
			DB_SCHEMA_VERSION);
		goto fail;
	}
	if (!ok) {
		fprintf(stderr, "httpanalyze: '%s' is not an httpanalyze database (schema %d): %s\n",
			path, DB_SCHEMA_VERSION,
			rc == SQLITE_OK ? "no or other schema version" : sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (db_register_functions(db))
		goto fail;
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	*err = -EINVAL;
	return NULL;
}

/* ---- helpers ---- */

/* Is this path segment an identifier (number, hex id, UUID)? */
static int id_segment(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			digits++;
		else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-')
			hex++;
		else
			return 0;
	}
	if (digits == n)
		return 1;
	return n >= 8 && digits > 0;
}

char *db_endpoint(char *dst, size_t cap, const char *method, const char *path)
{
	const char *m = method && *method ? method : "?";
	size_t o, n = strcspn(path ? path : "", "?#");

	if (!cap)
		return dst;
	/* no snprintf: it runs once per request and call of the load */
	o = strnlen(m, cap - 1);
	memcpy(dst, m, o);
	if (o + 1 < cap)
		dst[o++] = ' ';
	for (size_t i = 0; i < n && o + 1 < cap;) {
		size_t seg = i;

		while (seg < n && path[seg] != '/')
			seg++;
		if (id_segment(path + i, seg - i)) {
			size_t k = cap - o - 1 < 3 ? cap - o - 1 : 3;

			memcpy(dst + o, ":id", k);
			o += k;
		} else {
			size_t k = seg - i;

			if (k > cap - o - 1)
				k = cap - o - 1;
			memcpy(dst + o, path + i, k);
			o += k;
		}
		if (o >= cap)
			o = cap - 1;
		if (seg < n && o + 1 < cap)
			dst[o++] = '/';
		i = seg + 1;
	}
	dst[o < cap ? o : cap - 1] = '\0';
	return dst;
}

/* What a call is, for grouping: HTTP endpoint, or the command name. */
static void call_name(char *dst, size_t cap, unsigned proto, const char *summary)
{
	size_t n = 0;

	if (!summary)
		summary = "";
	if (proto == HTC_PROTO_HTTP) {
		char method[32];
		size_t m = strcspn(summary, " ");

		if (m >= sizeof(method))
			m = sizeof(method) - 1;
		memcpy(method, summary, m);
		method[m] = '\0';
		db_endpoint(dst, cap, method, summary[m] ? summary + m + 1 : "");
		return;
	}
	if (proto == HTC_PROTO_REDIS || proto == HTC_PROTO_POSTGRES) {
		while (summary[n] && summary[n] != ' ' && n + 1 < cap && n < 32) {
			char c = summary[n];

			dst[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		}
		dst[n] = '\0';
		if (n)
			return;
	}
	snprintf(dst, cap, "%s", htc_proto_name(proto));
}

/* Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and
 * with two addresses per row that was 5% of the load's CPU.  buf: 16+. */
static void fmt_ipv4(char *buf, const uint8_t *a)
{
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

static void fmt_ip(char *buf, size_t cap, unsigned family, const uint8_t *addr)
{
	if (family == HTC_AF_INET && cap >= INET_ADDRSTRLEN)
		fmt_ipv4(buf, addr);
	else if (family == HTC_AF_INET)
		inet_ntop(AF_INET, addr, buf, (socklen_t)cap);
	else if (family == HTC_AF_INET6)
		inet_ntop(AF_INET6, addr, buf, (socklen_t)cap);
	else
		snprintf(buf, cap, "?");
}

static const char *role_name(unsigned role)
{
	return role == HTC_ROLE_SERVER ? "server" : role == HTC_ROLE_CLIENT ? "client" : "unknown";
}

/* ---- loader ---- */

struct lfile {
	const char *path;
	char host[HTC_HOSTNAME_LEN];
	int64_t offset;			/* realtime offset */
	uint64_t last_ts;		/* wall clock of the last record */
	uint64_t lost[HTC_LOSS_SLOTS];	/* summed HTC_REC_LOSS, for truncated files */
	uint64_t warned;
	uint64_t events;		/* loaded from this file */
	struct loader *l;
};

/*
 * The rows thread.  With the events not copied, the requests, calls,
 * connections, processes and late-link rows are most of the load's CPU
 * (SQLite's VDBE and B-tree), while the reader and the engine are the
 * rest: the rows are encoded into batches (values copied, the engine's
 * strings are only valid during its callback) and inserted by a second
 * thread through the same connection, which the loading thread does not
 * touch until rowq_stop.  Batches go round a fixed ring and are reused:
 * bounded memory, no per-row malloc.  If the thread cannot start, each
 * batch is inserted in place when full (same code, one thread).
 * Measured on the bench capture (1M events, 2 cores, 3 runs interleaved,
 * a quiet machine): in memory 1.81 -> 1.67 s wall for 1.82 -> 2.44 cpu-s;
 * --db 3.23 -> 2.78 s wall for 3.23 -> 4.10 cpu-s (the copies and the
 * cache misses of handing rows over).  On a busy machine the wall-clock
 * gain shrinks and the CPU cost stays.
 */
enum { RQ_CONN, RQ_REQ, RQ_CALL, RQ_PROC, RQ_LINK_REQ, RQ_LINK_CALL, RQ_EVENT, RQ__COUNT };
#define RQ_RING BATCHQ_RING
#define RQ_FLUSH (256u << 10)	/* hand a batch over past this many bytes */

struct rqbatch {
	uint8_t *buf;
	size_t len, cap;
};

struct rowq {
	sqlite3 *db;
	sqlite3_stmt *st[RQ__COUNT];
	struct batchq bq;
	struct rqbatch b[RQ_RING];
	int oom;		/* producer: a batch could not grow */
	char errmsg[320];	/* consumer: the first insert error */
	double cpu_s;		/* the rows thread's CPU seconds (for -v) */
};

static const char *const rq_what[RQ__COUNT] = {
	"connection", "request", "call", "process", "request link", "call link", "event",
};

/* Make room for n more bytes in the filling batch (the rare path). */
static int rq_grow(struct rowq *q, struct rqbatch *b, size_t n)
{
	size_t cap = b->cap ? b->cap : RQ_FLUSH * 2;
	uint8_t *nb;

	if (q->oom)
		return -ENOMEM;
	while (cap < b->len + n)
		cap *= 2;
	nb = realloc(b->buf, cap);
	if (!nb) {
		q->oom = 1;
		return -ENOMEM;
	}
	b->buf = nb;
	b->cap = cap;
	return 0;
}

/*
 * n bytes at the end of the filling batch, or NULL when out of memory.
 * Inline with one bounds check: the encoding of a million rows was a third
 * of the loading thread's CPU as calls to a general put (measured).
 */
static inline uint8_t *rq_room(struct rowq *q, size_t n)
{
	struct rqbatch *b = batchq_cur(&q->bq);
	uint8_t *p;

	/* once a value could not be queued, nothing more is: a row missing a
	 * value must not reach the rows thread (rowq_stop reports ENOMEM) */
	if (__builtin_expect(q->oom || b->len + n > b->cap, 0) && (q->oom || rq_grow(q, b, n)))
		return NULL;
	p = b->buf + b->len;
	b->len += n;
	return p;
}

static inline void rq_tag(struct rowq *q, uint8_t tag)
{
	uint8_t *p = rq_room(q, 1);

	if (p)
		*p = tag;
}

static inline void rq_int(struct rowq *q, int64_t v)
{
	uint8_t *p = rq_room(q, 1 + sizeof(v));

	if (p) {
		*p = 'I';
		memcpy(p + 1, &v, sizeof(v));
	}
}

static inline void rq_double(struct rowq *q, double v)
{
	uint8_t *p = rq_room(q, 1 + sizeof(v));

	if (p) {
		*p = 'D';
		memcpy(p + 1, &v, sizeof(v));
	}
}

static inline void rq_null(struct rowq *q)
{
	rq_tag(q, 'N');
}

static void rq_bytes(struct rowq *q, uint8_t tag, const void *s, int n)
{
	uint32_t len = n < 0 ? (uint32_t)strlen(s) : (uint32_t)n;
	uint8_t *p = rq_room(q, 1 + sizeof(len) + len);

	if (p) {
		*p = tag;
		memcpy(p + 1, &len, sizeof(len));
		memcpy(p + 1 + sizeof(len), s, len);
	}
}

static void rq_text(struct rowq *q, const char *s, int n)
{
	rq_bytes(q, 'T', s, n);
}

static void rq_blob(struct rowq *q, const void *p, int n)
{
	rq_bytes(q, 'B', p, n);
}

/* The loader's bind_ns, bind_ms and bind_str, encoded. */
static void rq_ns(struct rowq *q, uint64_t ns)
{
	if (ns)
		rq_int(q, (int64_t)ns);
	else
		rq_null(q);
}

static void rq_str(struct rowq *q, const char *s)
{
	if (s)
		rq_text(q, s, -1);
	else
		rq_null(q);
}

/* Insert one batch's rows: 'S' stmt, values, 'E', ... (batchq run) */
static int rq_run(void *ctx, void *batch)
{
	struct rowq *q = ctx;
	const struct rqbatch *b = batch;
	const uint8_t *p = b->buf, *end = b->buf + b->len;
	sqlite3_stmt *st = NULL;
	int i = 1, what = 0;

	while (p < end) {
		uint8_t tag = *p++;
		int64_t v;
		double d;
		uint32_t n;

		switch (tag) {
		case 'S':
			what = *p++;
			if (what >= RQ__COUNT)
				return -EINVAL;	/* cannot happen: we wrote it */
			st = q->st[what];
			i = 1;
			break;
		case 'I':
			memcpy(&v, p, sizeof(v));
			p += sizeof(v);
			sqlite3_bind_int64(st, i++, v);
			break;
		case 'D':
			memcpy(&d, p, sizeof(d));
			p += sizeof(d);
			sqlite3_bind_double(st, i++, d);
			break;
		case 'N':
			sqlite3_bind_null(st, i++);
			break;
		case 'T':
		case 'B':
			memcpy(&n, p, sizeof(n));
			p += sizeof(n);
			if (tag == 'T')
				sqlite3_bind_text(st, i++, (const char *)p, (int)n, SQLITE_STATIC);
			else
				sqlite3_bind_blob(st, i++, p, (int)n, SQLITE_STATIC);
			p += n;
			break;
		case 'E':
			if (sqlite3_step(st) != SQLITE_DONE) {
				snprintf(q->errmsg, sizeof(q->errmsg), "inserting %s: %s",
					 rq_what[what], sqlite3_errmsg(q->db));
				sqlite3_reset(st);
				return -EIO;
			}
			sqlite3_reset(st);
			break;
		}
	}
	return 0;
}

static void rq_clear(void *batch)
{
	((struct rqbatch *)batch)->len = 0;
}

static struct rowq *rq_begin(struct rowq *q, int what)
{
	uint8_t *p = rq_room(q, 2);

	if (p) {
		p[0] = 'S';
		p[1] = (uint8_t)what;
	}
	return q;
}

static void rq_end(struct rowq *q)
{
	rq_tag(q, 'E');
	if (!q->oom && ((struct rqbatch *)batchq_cur(&q->bq))->len >= RQ_FLUSH)
		batchq_push(&q->bq);
}

/* Statements prepared on db; the thread uses db until rowq_stop.  If the
 * thread cannot start, each batch is inserted in place. */
static int rowq_start(struct rowq *q, sqlite3 *db, sqlite3_stmt *const st[RQ__COUNT])
{
	void *bs[RQ_RING];
	int err;

	memset(q, 0, sizeof(*q));
	memcpy(q->st, st, sizeof(q->st));
	for (int i = 0; i < RQ_RING; i++)
		bs[i] = &q->b[i];
	if ((err = batchq_init(&q->bq, bs, rq_run, rq_clear, q)))
		return err;
	q->db = db;
	batchq_start(&q->bq);
	return 0;
}

/* Flush, join, free; returns the first error (printed).  Idempotent. */
static int rowq_stop(struct rowq *q)
{
	int err;

	if (!q->db)
		return 0;
	if (((struct rqbatch *)batchq_cur(&q->bq))->len && !q->oom)
		batchq_push(&q->bq);
	err = batchq_stop(&q->bq);
	q->cpu_s = q->bq.cpu_s;
	batchq_destroy(&q->bq);
	for (int i = 0; i < RQ_RING; i++)
		free(q->b[i].buf);
	q->db = NULL;
	if (q->oom) {
		err = -ENOMEM;
		fprintf(stderr, "httpanalyze: out of memory queueing rows\n");
	} else if (err) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", q->errmsg);
	}
	return err;
}

struct evq;

struct loader {
	sqlite3 *db;
	const struct db_load_opts *opts;
	struct lfile *files;
	size_t nfiles;
	sqlite3_stmt *ev, *req, *call, *conn, *proc, *link_req, *link_call;
	int err;		/* first SQLite error in a callback */
	struct db_load_stats st;
	const char *warn_file;	/* for warnings when only one file is open */
	struct evq *evq;	/* events thread, NULL: events inserted here */
	int scan;		/* events served by events_vtab.c: not copied */
	struct rowq rq;		/* the other rows, on their own thread */
	/* the *_stats tables, counted as the rows go by (stats.h) */
	struct stats *ep_stats, *ds_stats, *preq_stats, *pcall_stats;
};

/* Count one request or call in its groups (main thread). */
static void count_row(struct loader *l, struct stats *by_name, const struct stats_key *k,
		      struct stats *by_proc, uint32_t file_idx, uint32_t pid, uint32_t flags,
		      uint64_t start, uint64_t end)
{
	struct stats_key pk = { .i = (int64_t)file_idx << 32 | pid };
	int error = !!(flags & (HTC_ENGF_ERROR | HTC_ENGF_UNANSWERED));
	/* the same value as the duration_ms column computes: the times are
	 * stored as signed 64-bit (0 as NULL), and SQLite subtracts as
	 * doubles when the integers would overflow */
	int64_t s = (int64_t)start, e = (int64_t)end, d;
	int has_ms = start && end && e >= s;
	double ms = !has_ms ? 0 : __builtin_sub_overflow(e, s, &d) ? ((double)e - (double)s) / 1e6 :
		    (double)d / 1e6;

	if ((stats_add(by_name, k, error, has_ms ? &ms : NULL) ||
	     stats_add(by_proc, &pk, 0, NULL)) && !l->err) {
		fprintf(stderr, "httpanalyze: out of memory counting endpoints\n");
		l->err = -ENOMEM;
	}
}

static void sql_fail(struct loader *l, const char *what)
{
	if (!l->err) {
		fprintf(stderr, "httpanalyze: sqlite: inserting %s: %s\n", what,
			sqlite3_errmsg(l->db));
		l->err = -EIO;
	}
}

static void step(struct loader *l, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		sql_fail(l, what);
	sqlite3_reset(st);
}

static void bind_ns(sqlite3_stmt *st, int i, uint64_t ns)
{
	if (ns)
		sqlite3_bind_int64(st, i, (sqlite3_int64)ns);
	else
		sqlite3_bind_null(st, i);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static const char *host_of(struct loader *l, uint32_t file_idx)
{
	return file_idx < l->nfiles ? l->files[file_idx].host : "?";
}

static void on_conn(void *ctx, const struct htc_eng_conn *c)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_CONN);
	char lip[64], rip[64];

	fmt_ip(lip, sizeof(lip), c->ep.family, c->ep.laddr);
	fmt_ip(rip, sizeof(rip), c->ep.family, c->ep.raddr);
	rq_int(q, (sqlite3_int64)c->id);
	rq_int(q, c->file_idx);
	rq_int(q, (sqlite3_int64)c->conn_id);
	rq_str(q, host_of(l, c->file_idx));
	rq_int(q, c->pid);
	rq_int(q, c->tid);
	rq_text(q, c->comm, (int)strnlen(c->comm, HTC_COMM_LEN));
	rq_str(q, role_name(c->ep.role));
	rq_text(q, lip, -1);
	rq_int(q, c->ep.lport);
	rq_text(q, rip, -1);
	rq_int(q, c->ep.rport);
	rq_str(q, htc_proto_name(c->proto));
	rq_int(q, c->connect_result);
	rq_ns(q, c->open_ns);
	rq_ns(q, c->close_ns);
	if (c->connect_ns)
		rq_double(q, (double)c->connect_ns / 1e6);
	else
		rq_null(q);
	rq_int(q, (sqlite3_int64)c->bytes_in);
	rq_int(q, (sqlite3_int64)c->bytes_out);
	rq_ns(q, c->request_id);
	rq_int(q, c->flags);
	rq_end(q);
	l->st.conns++;
}

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_REQ);
	char cip[64], sip[64], ep[512], hash[24];

	fmt_ip(sip, sizeof(sip), r->ep.family, r->ep.laddr);
	fmt_ip(cip, sizeof(cip), r->ep.family, r->ep.raddr);
	db_endpoint(ep, sizeof(ep), r->method, r->path);
	rq_int(q, (sqlite3_int64)r->id);
	if (r->parent_call_id) {
		rq_ns(q, r->parent_id);
		rq_int(q, (sqlite3_int64)r->parent_call_id);
	} else {
		rq_null(q);
		rq_null(q);
	}
	rq_int(q, r->file_idx);
	rq_str(q, host_of(l, r->file_idx));
	rq_int(q, (sqlite3_int64)r->conn);
	rq_int(q, r->seq);
	rq_int(q, r->pid);
	rq_int(q, r->tid);
	rq_text(q, r->comm, (int)strnlen(r->comm, HTC_COMM_LEN));
	rq_text(q, cip, -1);
	rq_int(q, r->ep.rport);
	rq_text(q, sip, -1);
	rq_int(q, r->ep.lport);
	rq_str(q, r->method);
	rq_str(q, r->path);
	rq_str(q, r->version);
	rq_str(q, r->host ? r->host : "");
	rq_text(q, ep, -1);
	if (r->status)
		rq_int(q, r->status);
	else
		rq_null(q);
	rq_ns(q, r->start_ns);
	rq_ns(q, r->end_ns);
	rq_int(q, (sqlite3_int64)r->req_bytes);
	rq_int(q, (sqlite3_int64)r->resp_bytes);
	rq_int(q, r->ncalls);
	rq_int(q, r->flags);
	rq_int(q, (sqlite3_int64)r->resp_body_len);
	if (r->status && !(r->flags & HTC_ENGF_RESP_BODY_PARTIAL)) {
		/* "%016llx" by hand (per row) */
		for (int i = 0; i < 16; i++)
			hash[i] = "0123456789abcdef"[r->resp_body_hash >> (60 - 4 * i) & 0xf];
		rq_text(q, hash, 16);
	} else {
		rq_null(q);
	}
	rq_blob(q, r->head ? (const void *)r->head : "", (int)r->head_len);
	if (r->body_len)
		rq_blob(q, r->body, (int)r->body_len);
	else
		rq_null(q);
	rq_end(q);
	l->st.requests++;
	{
		const char *host = host_of(l, r->file_idx);
		struct stats_key k = {
			.s = { host, r->comm, ep },
			.n = { strlen(host), strnlen(r->comm, HTC_COMM_LEN), strlen(ep) },
		};

		count_row(l, l->ep_stats, &k, l->preq_stats, r->file_idx, r->pid, r->flags,
			  r->start_ns, r->end_ns);
	}
}

static void on_call(void *ctx, const struct htc_eng_call *c)
{
	struct loader *l = ctx;
	struct rowq *q = rq_begin(&l->rq, RQ_CALL);
	char lip[64], rip[64], name[256];

	fmt_ip(lip, sizeof(lip), c->ep.family, c->ep.laddr);
	fmt_ip(rip, sizeof(rip), c->ep.family, c->ep.raddr);
	call_name(name, sizeof(name), c->proto, c->summary);
	rq_int(q, (sqlite3_int64)c->id);
	rq_ns(q, c->request_id);
	rq_ns(q, c->child_request_id);
	rq_int(q, c->file_idx);
	rq_str(q, host_of(l, c->file_idx));
	rq_int(q, (sqlite3_int64)c->conn);
	rq_int(q, c->seq);
	rq_int(q, c->pid);
	rq_int(q, c->tid);
	rq_text(q, c->comm, (int)strnlen(c->comm, HTC_COMM_LEN));
	rq_str(q, htc_proto_name(c->proto));
	rq_text(q, lip, -1);
	rq_int(q, c->ep.lport);
	rq_text(q, rip, -1);
	rq_int(q, c->ep.rport);
	rq_str(q, c->summary ? c->summary : "");
	rq_text(q, name, -1);
	if (c->status)
		rq_int(q, c->status);
	else
		rq_null(q);
	rq_ns(q, c->start_ns);
	rq_ns(q, c->end_ns);
	rq_int(q, (sqlite3_int64)c->bytes_out);
	rq_int(q, (sqlite3_int64)c->bytes_in);
	rq_int(q, c->flags);
	rq_end(q);
	l->st.calls++;
	{
		const char *proto = htc_proto_name(c->proto);
		struct stats_key k = {
			.s = { proto, rip, name },
			.n = { strlen(proto), strlen(rip), strlen(name) },
			.i = c->ep.rport,
		};

		count_row(l, l->ds_stats, &k, l->pcall_stats, c->file_idx, c->pid, c->flags,
			  c->start_ns, c->end_ns);
	}
}

/*
 * Most links are known when the second of the pair is reported, and both
 * rows already carry them (requests.parent_*, calls.child_request_id).
 * Only a side reported before its peer was seen (clock skew between hosts)
 * is patched here, by primary key, on the rows thread after its insert.
 */
static void on_link(void *ctx, uint64_t call_id, uint64_t child_id, uint64_t parent_id,
		    unsigned flags)
{
	struct loader *l = ctx;
	struct rowq *q;

	if (flags & HTC_LINK_LATE_REQUEST) {
		q = rq_begin(&l->rq, RQ_LINK_REQ);
		rq_ns(q, parent_id);
		rq_int(q, (sqlite3_int64)call_id);
		rq_int(q, (sqlite3_int64)child_id);
		rq_end(q);
	}
	if (flags & HTC_LINK_LATE_CALL) {
		q = rq_begin(&l->rq, RQ_LINK_CALL);
		rq_int(q, (sqlite3_int64)child_id);
		rq_int(q, (sqlite3_int64)call_id);
		rq_end(q);
	}
	l->st.links++;
}

static const char sql_ins_event[] =
	"INSERT INTO events (file_idx, ts_ns, dur_ns, pid, tid, comm, type, syscall, fd,"
	" conn_id, ret, bytes, stream_off, captured_len, flags, request_id, payload)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_req[] =
	"INSERT INTO requests (request_id, parent_request_id, parent_call_id, file_idx, host, conn, seq, pid, tid, comm,"
	" client_ip, client_port, server_ip, server_port, method, path, version,"
	" host_header, endpoint, status, start_ns, end_ns, req_bytes,"
	" resp_bytes, ncalls, flags, resp_body_len, resp_body_hash, head, body)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_call[] =
	"INSERT INTO calls (call_id, request_id, child_request_id, file_idx, host, conn, seq, pid, tid, comm,"
	" protocol, local_ip, local_port, remote_ip, remote_port, summary, name, status,"
	" start_ns, end_ns, bytes_out, bytes_in, flags)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_conn[] =
	"INSERT INTO connections (conn, file_idx, conn_id, host, pid, tid, comm, role,"
	" local_ip, local_port, remote_ip, remote_port, protocol, connect_result, open_ns,"
	" close_ns, connect_ms, bytes_in, bytes_out, request_id, flags)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_proc[] =
	"INSERT OR REPLACE INTO processes (file_idx, host, pid, ppid, uid, gid, comm, exe,"
	" cmdline, cgroup, container, seen_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_link_req[] =
	"UPDATE requests SET parent_request_id = ?, parent_call_id = ? WHERE request_id = ?";
static const char sql_link_call[] =
	"UPDATE calls SET child_request_id = ? WHERE call_id = ?";

/* One events row, decoupled from the reader's buffers. */
struct evrow {
	int64_t ts, dur, ret;
	uint64_t conn_id, stream_off, request_id;
	uint32_t fidx, pid, tid, cap_len, plen;
	int32_t fd;
	uint16_t flags;
	uint8_t type, syscall;
	char comm[HTC_COMM_LEN];
	size_t poff;		/* payload offset in the batch's bytes */
};

static int bind_event(sqlite3_stmt *st, const struct evrow *r, const void *payload)
{
	int data = r->type == HTC_EV_READ || r->type == HTC_EV_WRITE;
	int i = 1;

	sqlite3_bind_int64(st, i++, r->fidx);
	sqlite3_bind_int64(st, i++, r->ts);
	sqlite3_bind_int64(st, i++, r->dur);
	sqlite3_bind_int64(st, i++, r->pid);
	sqlite3_bind_int64(st, i++, r->tid);
	sqlite3_bind_text(st, i++, r->comm, (int)strnlen(r->comm, HTC_COMM_LEN), SQLITE_STATIC);
	sqlite3_bind_text(st, i++, htc_event_type_name(r->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, htc_syscall_name(r->syscall), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, r->fd);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)r->conn_id);
	sqlite3_bind_int64(st, i++, r->ret);
	if (data) {
		sqlite3_bind_int64(st, i++, r->ret);
		sqlite3_bind_int64(st, i++, (sqlite3_int64)r->stream_off);
	} else {
		sqlite3_bind_null(st, i++);
		sqlite3_bind_null(st, i++);
	}
	sqlite3_bind_int64(st, i++, r->cap_len);
	sqlite3_bind_int64(st, i++, r->flags);
	bind_ns(st, i++, r->request_id);
	if (r->plen && payload)
		sqlite3_bind_blob(st, i++, payload, (int)r->plen, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i++);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return -EIO;
	}
	sqlite3_reset(st);
	return 0;
}

/* bind_event's values, queued for the rows thread (events copied into a
 * --db file). */
static void rq_event(struct rowq *q, const struct evrow *r, const void *payload)
{
	int data = r->type == HTC_EV_READ || r->type == HTC_EV_WRITE;

	rq_begin(q, RQ_EVENT);
	rq_int(q, r->fidx);
	rq_int(q, r->ts);
	rq_int(q, r->dur);
	rq_int(q, r->pid);
	rq_int(q, r->tid);
	rq_text(q, r->comm, (int)strnlen(r->comm, HTC_COMM_LEN));
	rq_text(q, htc_event_type_name(r->type), -1);
	rq_text(q, htc_syscall_name(r->syscall), -1);
	rq_int(q, r->fd);
	rq_int(q, (int64_t)r->conn_id);
	rq_int(q, r->ret);
	if (data) {
		rq_int(q, r->ret);
		rq_int(q, (int64_t)r->stream_off);
	} else {
		rq_null(q);
		rq_null(q);
	}
	rq_int(q, r->cap_len);
	rq_int(q, r->flags);
	rq_ns(q, r->request_id);
	if (r->plen && payload)
		rq_blob(q, payload, (int)r->plen);
	else
		rq_null(q);
	rq_end(q);
}

/*
 * The events thread.  Inserting the events rows is as much work as the
 * rest of the load together, and one SQLite connection is one thread, so
 * for an in-memory analysis the events go to a second in-memory database
 * (memdb VFS, shared by name within the process) through a second
 * connection on its own thread, attached to the main one as "ev": queries
 * name `events` unqualified as before.  Batches of rows (payloads copied
 * into the batch) go round a fixed ring: memory stays bounded and there is
 * no per-row malloc.
 */
#define EVQ_ROWS 4096
#define EVQ_BYTES (1u << 20)
#define EVQ_RING BATCHQ_RING

struct evbatch {
	struct evrow rows[EVQ_ROWS];
	size_t nrows, nbytes;
	uint8_t bytes[EVQ_BYTES];
};

struct evq {
	sqlite3 *db;
	sqlite3_stmt *st;
	struct batchq bq;
	struct evbatch *b[EVQ_RING];
	int started;
	char errmsg[256];	/* the first insert error */
};

/* Insert one batch's events (batchq run, on the events thread). */
static int evq_run(void *ctx, void *batch)
{
	struct evq *q = ctx;
	const struct evbatch *b = batch;

	for (size_t i = 0; i < b->nrows; i++) {
		if (bind_event(q->st, &b->rows[i], b->bytes + b->rows[i].poff)) {
			snprintf(q->errmsg, sizeof(q->errmsg), "%s", sqlite3_errmsg(q->db));
			return -EIO;
		}
	}
	return 0;
}

static void evq_clear(void *batch)
{
	struct evbatch *b = batch;

	b->nrows = b->nbytes = 0;
}

/* Flush, stop and join the thread, commit; returns its error.  q may be
 * NULL. */
static int evq_stop(struct evq *q)
{
	int err;

	if (!q || !q->started)
		return 0;
	if (((struct evbatch *)batchq_cur(&q->bq))->nrows)
		batchq_push(&q->bq);
	err = batchq_stop(&q->bq);
	q->started = 0;
	/* the thread is joined: its connection is ours now */
	if (!err && sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		err = -EIO;
		snprintf(q->errmsg, sizeof(q->errmsg), "%s", sqlite3_errmsg(q->db));
	}
	if (err)
		fprintf(stderr, "httpanalyze: sqlite: inserting event: %s\n", q->errmsg);
	return err;
}

static void evq_free(struct evq *q)
{
	if (!q)
		return;
	evq_stop(q);
	batchq_destroy(&q->bq);
	sqlite3_finalize(q->st);
	sqlite3_close(q->db);	/* the main connection keeps "ev" attached */
	for (int i = 0; i < EVQ_RING; i++)
		free(q->b[i]);
	free(q);
}

/*
 * Set up the events database and thread for db (in memory).  Returns NULL
 * when that is not possible (no memdb VFS, no thread): the caller then
 * keeps the events in the main database, loaded on its own thread.
 */
static struct evq *evq_start(sqlite3 *db)
{
	static unsigned seq;
	struct evq *q = calloc(1, sizeof(*q));
	char uri[128], attach[192];

	if (!q)
		return NULL;
	for (int i = 0; i < EVQ_RING; i++) {
		q->b[i] = malloc(sizeof(*q->b[i]));
		if (!q->b[i])
			goto fail;
		q->b[i]->nrows = q->b[i]->nbytes = 0;
	}
	if (batchq_init(&q->bq, (void *const *)q->b, evq_run, evq_clear, q))
		goto fail;
	snprintf(uri, sizeof(uri), "file:/httpanalyze-%d-%u-events?vfs=memdb", (int)getpid(), seq++);
	if (sqlite3_open_v2(uri, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	/* memdb refuses to grow past 1 GiB by default: a few million events
	 * with payloads are more than that */
	{
		sqlite3_int64 limit = (sqlite3_int64)1 << 46;

		sqlite3_file_control(q->db, "main", SQLITE_FCNTL_SIZE_LIMIT, &limit);
	}
	if (sqlite3_exec(q->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
			 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144;",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, db_schema_events, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(q->db, sql_ins_event, -1, SQLITE_PREPARE_PERSISTENT, &q->st,
			       NULL) != SQLITE_OK)
		goto fail;
	snprintf(attach, sizeof(attach), "ATTACH '%s' AS ev", uri);
	if (sqlite3_exec(db, attach, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    batchq_start(&q->bq)) {
		sqlite3_exec(db, "DETACH ev", NULL, NULL, NULL);
		goto fail;
	}
	q->started = 1;
	return q;
fail:
	batchq_destroy(&q->bq);
	sqlite3_finalize(q->st);
	sqlite3_close(q->db);
	for (int i = 0; i < EVQ_RING; i++)
		free(q->b[i]);
	free(q);
	return NULL;
}

static void insert_event(struct loader *l, uint32_t fidx, const struct htc_event *ev,
			 uint64_t request_id)
{
	struct evq *q = l->evq;
	struct evrow tmp, *r = &tmp;
	uint32_t plen = ev->cap_len;

	if (l->scan) {
		l->st.events++;
		return;
	}
	if (plen > l->opts->payload_cap)
		plen = l->opts->payload_cap;
	if (!ev->payload)
		plen = 0;
	if (q) {
		struct evbatch *b = batchq_cur(&q->bq);

		if (b->nrows == EVQ_ROWS || b->nbytes + plen > EVQ_BYTES)
			b = batchq_push(&q->bq);
		r = &b->rows[b->nrows++];
		r->poff = b->nbytes;
		if (plen > EVQ_BYTES)	/* cannot happen: records are smaller */
			plen = EVQ_BYTES;
		memcpy(b->bytes + b->nbytes, ev->payload, plen);
		b->nbytes += plen;
	}
	r->fidx = fidx;
	r->ts = (int64_t)(ev->ts_ns + (uint64_t)l->files[fidx].offset);
	r->dur = (int64_t)ev->dur_ns;
	r->pid = ev->pid;
	r->tid = ev->tid;
	memcpy(r->comm, ev->comm, HTC_COMM_LEN);
	r->type = ev->type;
	r->syscall = ev->syscall;
	r->fd = ev->fd;
	r->conn_id = ev->conn_id;
	r->ret = ev->ret;
	r->stream_off = ev->stream_off;
	r->cap_len = ev->cap_len;
	r->plen = plen;
	r->flags = ev->flags;
	r->request_id = request_id;
	l->st.events++;
	if (!q)
		rq_event(&l->rq, r, ev->payload);
}

static void insert_proc(struct loader *l, uint32_t fidx, const struct htc_proc *p)
{
	struct rowq *q = rq_begin(&l->rq, RQ_PROC);
	char cmd[4096];
	size_t n = p->cmdline_len < sizeof(cmd) - 1 ? p->cmdline_len : sizeof(cmd) - 1;

	/* argv is NUL-separated; spaces read better and survive TEXT */
	memcpy(cmd, p->cmdline ? p->cmdline : "", n);
	while (n && cmd[n - 1] == '\0')
		n--;
	for (size_t k = 0; k < n; k++)
		if (cmd[k] == '\0')
			cmd[k] = ' ';
	rq_int(q, fidx);
	rq_str(q, host_of(l, fidx));
	rq_int(q, p->pid);
	rq_int(q, p->ppid);
	rq_int(q, p->uid);
	rq_int(q, p->gid);
	rq_text(q, p->comm, (int)strnlen(p->comm, HTC_COMM_LEN));
	rq_text(q, p->exe ? p->exe : "", (int)p->exe_len);
	rq_text(q, cmd, (int)n);
	rq_text(q, p->cgroup ? p->cgroup : "", (int)p->cgroup_len);
	rq_text(q, p->container ? p->container : "", (int)p->container_len);
	rq_int(q, (sqlite3_int64)(p->ts_ns + (uint64_t)l->files[fidx].offset));
	rq_end(q);
	l->st.procs++;
}

/* A reader warning about one known file. */
static void on_file_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	struct lfile *f = ctx;

	f->l->st.warnings++;
	f->warned++;
	if (!f->l->opts->quiet)
		fprintf(stderr, "httpanalyze: warning: '%s': %s\n", f->path, msg);
}

static void on_warn(void *ctx, int err, uint64_t offset, const char *msg)
{
	struct loader *l = ctx;

	l->st.warnings++;
	/* with several files we cannot tell which one it was: none gets the
	 * fallback message of insert_file */
	for (size_t k = 0; k < l->nfiles; k++)
		l->files[k].warned = 1;
	if (l->opts->quiet)
		return;
	if (l->warn_file)
		fprintf(stderr, "httpanalyze: warning: '%s': %s\n", l->warn_file, msg);
	else
		fprintf(stderr, "httpanalyze: warning: %s\n", msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void progress(struct loader *l, struct htc_source *s, int done)
{
	uint64_t cur = 0, total = 0;
	int width = 40, fill;
	double frac;

	htc_source_progress(s, &cur, &total);
	frac = done ? 1.0 : total ? (double)cur / (double)total : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * width);
	fprintf(stderr, "\rloading [%.*s%*s] %3d%%  %llu events", fill,
		"########################################", width - fill, "",
		(int)(frac * 100), (unsigned long long)l->st.events);
	if (done)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int prepare(struct loader *l, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", sqlite3_errmsg(l->db));
		return -EIO;
	}
	return 0;
}

/* Open each file alone first, so an error names the file it is about. */
static int check_file(const char *path)
{
	struct htc_reader *r;
	int err = 0;

	r = htc_reader_open(path, &err);
	if (!r) {
		if (err == HTC_ERR_MAGIC)
			fprintf(stderr, "httpanalyze: '%s': not an .htc capture file\n", path);
		else
			fprintf(stderr, "httpanalyze: cannot open '%s': %s\n", path,
				htc_strerror(err));
		return err ? err : -EINVAL;
	}
	htc_reader_close(r);
	return 0;
}

/* Percentiles 50, 90, 99 of a group bound at st's parameters i.. (NULL
 * when no duration); the durations are reordered. */
static void bind_pcts(sqlite3_stmt *st, int i, struct stats_group *g)
{
	static const double p[3] = { 50, 90, 99 };
	double v[3];

	if (!g->nms) {
		for (int j = 0; j < 3; j++)
			sqlite3_bind_null(st, i + j);
		return;
	}
	stats_percentiles(g->ms, g->nms, p, 3, v);
	for (int j = 0; j < 3; j++)
		sqlite3_bind_double(st, i + j, v[j]);
}

/* The *_stats tables from the groups counted during the load. */
static int insert_stats(struct loader *l)
{
	static const char *const sql[] = {
		"INSERT INTO endpoint_stats VALUES (?,?,?,?,?,?,?,?)",
		"INSERT INTO downstream_stats VALUES (?,?,?,?,?,?,?,?,?)",
		"INSERT INTO process_stats VALUES (?,?,?,0)",
		"INSERT INTO process_stats VALUES (?,?,0,?)"
		" ON CONFLICT (file_idx, pid) DO UPDATE SET calls = excluded.calls",
	};
	struct stats *t[] = { l->ep_stats, l->ds_stats, l->preq_stats, l->pcall_stats };
	int err = 0;

	for (size_t w = 0; w < sizeof(t) / sizeof(t[0]) && !err; w++) {
		sqlite3_stmt *st = NULL;

		if ((err = prepare(l, sql[w], &st)))
			break;
		for (size_t i = 0; i < stats_count(t[w]) && !err; i++) {
			struct stats_group *g = stats_group(t[w], i);
			int c = 1;

			if (w >= 2) {
				sqlite3_bind_int64(st, c++, g->key.i >> 32);
				sqlite3_bind_int64(st, c++, g->key.i & 0xffffffff);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->count);
			} else {
				sqlite3_bind_text(st, c++, g->key.s[0], (int)g->key.n[0], SQLITE_STATIC);
				sqlite3_bind_text(st, c++, g->key.s[1], (int)g->key.n[1], SQLITE_STATIC);
				if (w == 1)
					sqlite3_bind_int64(st, c++, g->key.i);
				sqlite3_bind_text(st, c++, g->key.s[2], (int)g->key.n[2], SQLITE_STATIC);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->count);
				sqlite3_bind_int64(st, c++, (sqlite3_int64)g->errors);
				bind_pcts(st, c, g);
			}
			step(l, st, "statistics");
			err = l->err;
		}
		sqlite3_finalize(st);
	}
	return err;
}

static int insert_file(struct loader *l, struct htc_source *s, size_t k)
{
	struct htc_reader *r = htc_source_reader(s, k);
	const struct htc_header *h = htc_reader_header(r);
	const struct htc_trailer *t = htc_reader_trailer(r);
	struct htc_reader_stats rs;
	struct lfile *f = &l->files[k];
	sqlite3_stmt *st = NULL, *ls = NULL;
	char cid[40], ver[32];
	uint64_t lost[HTC_LOSS_SLOTS], total = 0, other = 0;
	int i = 1, err = 0;

	htc_reader_stats(r, &rs);
	for (int j = 0; j < 16; j++)
		snprintf(cid + 2 * j, 3, "%02x", h->capture_id[j]);
	snprintf(ver, sizeof(ver), "%u.%u", h->version_major, h->version_minor);
	for (int j = 0; j < HTC_LOSS_SLOTS; j++) {
		lost[j] = t ? t->lost[j] : f->lost[j];
		total += lost[j];
		if (j >= HTC_LOSS__COUNT)
			other += lost[j];
	}
	if ((err = prepare(l, "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			   "?,?,?,?,?,?,?,?,?,?)", &st)) ||
	    (err = prepare(l, "INSERT INTO losses VALUES (?,?,?,?)", &ls)))
		goto cleanup;
	sqlite3_bind_int64(st, i++, (sqlite3_int64)k);
	bind_str(st, i++, f->path);
	bind_str(st, i++, h->hostname);
	bind_str(st, i++, h->kernel);
	bind_str(st, i++, h->tool_version);
	bind_str(st, i++, ver);
	bind_str(st, i++, cid);
	bind_ns(st, i++, h->start_ns ? h->start_ns + (uint64_t)h->realtime_offset_ns : 0);
	bind_ns(st, i++, t && t->end_ns ? t->end_ns + (uint64_t)h->realtime_offset_ns : f->last_ts);
	sqlite3_bind_int64(st, i++, h->realtime_offset_ns);
	sqlite3_bind_int64(st, i++, h->snaplen);
	sqlite3_bind_int(st, i++, !!(h->flags & HTC_OPT_REDACT));
	bind_str(st, i++, h->options);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.records);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)f->events);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.frames_ok);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.frames_bad);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.records_skipped);
	sqlite3_bind_int(st, i++, rs.truncated);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)rs.stop_offset);
	sqlite3_bind_int(st, i++, t != NULL);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)total);
	for (int j = 0; j < HTC_LOSS__COUNT; j++)
		sqlite3_bind_int64(st, i++, (sqlite3_int64)lost[j]);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)other);
	step(l, st, "file");
	for (int j = 0; j < HTC_LOSS_SLOTS; j++) {
		if (!lost[j])
			continue;
		sqlite3_bind_int64(ls, 1, (sqlite3_int64)k);
		sqlite3_bind_int(ls, 2, j);
		bind_str(ls, 3, htc_loss_reason_name((unsigned)j));
		sqlite3_bind_int64(ls, 4, (sqlite3_int64)lost[j]);
		step(l, ls, "loss");
	}
	/* a problem the reader did not report through the warn callback */
	if (!f->warned && (rs.truncated || rs.frames_bad) && !l->opts->quiet) {
		if (rs.truncated)
			fprintf(stderr, "httpanalyze: warning: '%s': truncated file, stopped at "
				"offset %llu; loaded the %llu complete frames\n", f->path,
				(unsigned long long)rs.stop_offset,
				(unsigned long long)rs.frames_ok);
		if (rs.frames_bad)
			fprintf(stderr, "httpanalyze: warning: '%s': %llu corrupt frames skipped\n",
				f->path, (unsigned long long)rs.frames_bad);
	}
	err = l->err;
cleanup:
	sqlite3_finalize(st);
	sqlite3_finalize(ls);
	return err;
}

int db_load(sqlite3 *db, const char *const *paths, size_t n,
	    const struct db_load_opts *opts, struct db_load_stats *stats)
{
	struct htc_engine_sink sink = { 0 };
	struct loader l = { .db = db, .opts = opts };
	struct htc_engine *e = NULL;
	struct htc_source *s = NULL;
	struct htc_record rec;
	struct htc_eng_annot annot;
	double t0 = now_s(), c0 = cpu_s(), last_draw = 0, t_load, t_index;
	uint32_t fidx;
	unsigned want;
	int err = 0, rc, in_tx = 0;

	l.files = calloc(n ? n : 1, sizeof(*l.files));
	if (!l.files)
		return -ENOMEM;
	l.nfiles = n;
	for (size_t k = 0; k < n; k++) {
		l.files[k].path = paths[k];
		if ((err = check_file(paths[k])))
			goto cleanup;
	}
	if (n == 1)
		l.warn_file = paths[0];
	l.ep_stats = stats_new();
	l.ds_stats = stats_new();
	l.preq_stats = stats_new();
	l.pcall_stats = stats_new();
	if (!l.ep_stats || !l.ds_stats || !l.preq_stats || !l.pcall_stats) {
		err = -ENOMEM;
		fprintf(stderr, "httpanalyze: out of memory\n");
		goto cleanup;
	}
	sink.ctx = &l;
	sink.on_conn = on_conn;
	sink.on_request = on_request;
	sink.on_call = on_call;
	sink.on_link = on_link;
	e = htc_engine_new(&sink);
	if (!e) {
		err = -errno;
		fprintf(stderr, "httpanalyze: cannot start the engine: %s\n", strerror(errno));
		goto cleanup;
	}
	s = htc_source_open(paths, n, e, on_warn, &l, &err);
	if (!s) {
		fprintf(stderr, "httpanalyze: cannot open the capture files: %s\n",
			htc_strerror(err));
		goto cleanup;
	}
	for (size_t k = 0; k < n; k++) {
		const struct htc_header *h = htc_reader_header(htc_source_reader(s, k));

		snprintf(l.files[k].host, sizeof(l.files[k].host), "%s", h->hostname);
		/* per-file callbacks, so each warning names its file */
		l.files[k].l = &l;
		htc_reader_set_warn(htc_source_reader(s, k), on_file_warn, &l.files[k]);
		l.files[k].offset = h->realtime_offset_ns;
	}
	/* events: scanned from the files (no copy), or copied; in memory the
	 * copy goes on its own thread and database (struct evq) */
	{
		const char *fn = sqlite3_db_filename(db, "main");
		int mem = !fn || !*fn;

		l.scan = opts->events == DB_EVENTS_SCAN ||
			 (opts->events == DB_EVENTS_AUTO && mem);
		if (!l.scan && mem)
			l.evq = evq_start(db);
		if (!l.scan && !l.evq && (err = exec(db, db_schema_events)))
			goto cleanup;
	}
	if ((!l.scan && !l.evq && (err = prepare(&l, sql_ins_event, &l.ev))) ||
	    (err = prepare(&l, sql_ins_req, &l.req)) ||
	    (err = prepare(&l, sql_ins_call, &l.call)) ||
	    (err = prepare(&l, sql_ins_conn, &l.conn)) ||
	    (err = prepare(&l, sql_ins_proc, &l.proc)) ||
	    (err = prepare(&l, sql_link_req, &l.link_req)) ||
	    (err = prepare(&l, sql_link_call, &l.link_call)))
		goto cleanup;
	if ((err = exec(db, "BEGIN")))
		goto cleanup;
	in_tx = 1;
	{
		sqlite3_stmt *sts[RQ__COUNT] = {
			[RQ_CONN] = l.conn, [RQ_REQ] = l.req, [RQ_CALL] = l.call,
			[RQ_PROC] = l.proc, [RQ_LINK_REQ] = l.link_req,
			[RQ_LINK_CALL] = l.link_call, [RQ_EVENT] = l.ev,
		};

		/* from here until rowq_stop, db is the rows thread's */
		if ((err = rowq_start(&l.rq, db, sts)))
			goto cleanup;
	}
	while ((rc = htc_source_next(s, &rec, &fidx)) > 0) {
		struct lfile *f = fidx < n ? &l.files[fidx] : NULL;

		if (!f)
			continue;
		l.st.records++;
		switch (rec.type) {
		case HTC_REC_DATA:
		case HTC_REC_CONN:
			annot.request_id = 0;
			if ((err = htc_engine_feed(e, fidx, &rec, &annot))) {
				fprintf(stderr, "httpanalyze: engine: %s\n", strerror(-err));
				goto cleanup;
			}
			insert_event(&l, fidx, &rec.ev, annot.request_id);
			f->events++;
			f->last_ts = rec.ev.ts_ns + (uint64_t)f->offset;
			break;
		case HTC_REC_PROC:
			insert_proc(&l, fidx, &rec.proc);
			break;
		case HTC_REC_LOSS:
			if (rec.loss.reason < HTC_LOSS_SLOTS)
				f->lost[rec.loss.reason] += rec.loss.count;
			else
				f->lost[HTC_LOSS_SLOTS - 1] += rec.loss.count;
			break;
		default:
			break;
		}
		if (l.err) {
			err = l.err;
			goto cleanup;
		}
		if (opts->progress && !(l.st.records & 0xffff)) {
			double t = now_s();

			if (t - last_draw > 0.1) {
				progress(&l, s, 0);
				last_draw = t;
			}
		}
	}
	if (rc < 0) {
		err = rc;
		fprintf(stderr, "httpanalyze: reading the capture files: %s\n", htc_strerror(rc));
		goto cleanup;
	}
	if ((err = htc_engine_finish(e)) || (err = l.err)) {
		if (!l.err)
			fprintf(stderr, "httpanalyze: engine: %s\n", strerror(-err));
		goto cleanup;
	}
	if ((err = rowq_stop(&l.rq)) || (err = insert_stats(&l)))
		goto cleanup;
	for (size_t k = 0; k < n; k++)
		if ((err = insert_file(&l, s, k)))
			goto cleanup;
	if (opts->progress)
		progress(&l, s, 1);
	if ((err = evq_stop(l.evq)))
		goto cleanup;
	if (l.scan) {
		const char *fn = sqlite3_db_filename(db, "main");

		/* in a kept file the table would be unreadable by the sqlite3
		 * CLI: it lives in temp, for this run only */
		err = db_events_vtab(db, fn && *fn ? "temp" : "main", db_schema_events, paths,
				     n, opts->payload_cap, l.st.events);
		if (err) {
			fprintf(stderr, "httpanalyze: sqlite: events table: %s\n",
				sqlite3_errmsg(db));
			goto cleanup;
		}
	}
	t_load = now_s();
	want = DB_INDEX_ALL & ~opts->skip_indexes;
	/* PRAGMA threads: SQLite's sorter builds each index with a helper
	 * thread (the rows thread is done by now) */
	if ((want && ((err = exec(db, "PRAGMA threads = 2")) || (err = create_indexes(db, want)))) ||
	    (err = exec(db, "COMMIT")))
		goto cleanup;
	in_tx = 0;
	t_index = now_s();
	/* statistics for the query planner from a sample: a full ANALYZE
	 * would cost as much as the load */
	if (want && (err = exec(db, "PRAGMA analysis_limit=1000; ANALYZE main")))
		goto cleanup;
	l.st.files = n;
	l.st.seconds = now_s() - t0;
	if (opts->verbose)
		fprintf(stderr, "httpanalyze: load %.3f s (rows thread cpu %.3f s), indexes %.3f s%s, "
			"analyze %.3f s\n", t_load - t0, l.rq.cpu_s, t_index - t_load,
			!want ? " (none needed)" : want != DB_INDEX_ALL ? " (those the command reads)" : "",
			now_s() - t_index);
	if (opts->verbose) {
		/* CPU time too: on a shared machine the wall clock says more
		 * about the neighbours than about us */
		double cpu = cpu_s() - c0;

		fprintf(stderr, "httpanalyze: loaded %llu events, %llu requests, %llu calls, "
			"%llu connections, %llu links from %zu files in %.3f s (%.0f events/s; "
			"cpu %.3f s, %.0f events/cpu-s)\n",
			(unsigned long long)l.st.events, (unsigned long long)l.st.requests,
			(unsigned long long)l.st.calls, (unsigned long long)l.st.conns,
			(unsigned long long)l.st.links, n, l.st.seconds,
			l.st.seconds > 0 ? (double)l.st.events / l.st.seconds : 0.0, cpu,
			cpu > 0 ? (double)l.st.events / cpu : 0.0);
	}
	if (stats)
		*stats = l.st;
cleanup:
	rowq_stop(&l.rq);
	evq_free(l.evq);
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(l.ev);
	sqlite3_finalize(l.req);
	sqlite3_finalize(l.call);
	sqlite3_finalize(l.conn);
	sqlite3_finalize(l.proc);
	sqlite3_finalize(l.link_req);
	sqlite3_finalize(l.link_call);
	htc_source_close(s);
	htc_engine_free(e);
	stats_free(l.ep_stats);
	stats_free(l.ds_stats);
	stats_free(l.preq_stats);
	stats_free(l.pcall_stats);
	free(l.files);
	return err;
}
