// SPDX-License-Identifier: MIT
/*
 * schema.c - the SQLite database of httpanalyze: its documented schema,
 * the SQL functions the reports use (rfc3339, percentile_nr), and opening:
 * a new database (in memory or a --db file) or one made by an earlier run.
 *
 * Times: *_ns columns are wall-clock nanoseconds since the Unix epoch (UTC)
 * (the capture's monotonic clock plus the file's realtime offset), so files
 * of several hosts share one timeline; the views add RFC 3339 text.
 * Durations: *_ms columns are milliseconds as REAL (duration_ms is computed
 * from the times when read, and declared without a type: with REAL
 * affinity SQLite hands integral values back as integers after a sort).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htc.h"
#include "db.h"
#include "db_int.h"
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
"  lost_other INTEGER,             -- ... reasons this version does not know\n"
"  joined_midstream INTEGER,       -- connections opened before the capture (first seen by their data)\n"
"  unseen_bytes INTEGER,           -- bytes those had read before their first captured one\n"
"  file_seq INTEGER                -- number of the file among its capture's rotated files, from 1; NULL if\n"
"                                  -- not numbered (before format 1.2)\n"
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
"  protocol TEXT,                  -- http, http2, grpc, redis, postgres, tls, unknown\n"
"  connect_result INTEGER,         -- 0 or -errno of connect()\n"
"  open_ns INTEGER,                -- accept/connect, or first event\n"
"  close_ns INTEGER,               -- close; NULL if open at the end\n"
"  connect_ms REAL,                -- duration of the connect syscall\n"
"  bytes_in INTEGER,               -- bytes read (syscall return values)\n"
"  bytes_out INTEGER,              -- bytes written\n"
"  unseen_in INTEGER,              -- joined mid-stream: bytes it had read before its first captured one\n"
"  seq_in INTEGER,                 -- TCP sequence number of the first byte read in the capture (the peer's\n"
"                                  -- numbering), NULL if not recorded (files before format 1.2)\n"
"  seq_out INTEGER,                -- ... of the first byte written\n"
"  request_id INTEGER,             -- inbound request being served when opened\n"
"  preexisting INTEGER AS ((flags >> 5) & 1),  -- 1: opened before the capture\n"
"  reset INTEGER AS ((flags >> 1) & 1),        -- 1: reset or closed mid-message\n"
"  flags INTEGER,                  -- engine flags (HTC_ENGF_*)\n"
"  tls TEXT,                       -- NULL: not TLS; 'encrypted': TLS not decrypted; else the library\n"
"                                  -- whose plaintext the capture has: 'openssl', 'gnutls', 'go'\n"
"  tls_reason TEXT                 -- tls 'encrypted': why ('not probed': captured with --no-tls or before\n"
"                                  -- format 1.2; 'calls not seen': the process's library was probed, its\n"
"                                  -- calls on this connection were not (made before the probes, or lost);\n"
"                                  -- 'no probed library': the process decrypted nothing (another TLS\n"
"                                  -- library, or started before its probes were attached)); else NULL\n"
");\n"
"CREATE TABLE requests (\n"
"  request_id INTEGER PRIMARY KEY, -- stable: 1001 + file_idx * 1e9 + n\n"
"  parent_request_id INTEGER,      -- request (other process/host) whose call made this one\n"
"  parent_call_id INTEGER,         -- calls.call_id of that call\n"
"  parent_ambiguous INTEGER,       -- 1: that call's request is a guess (calls.ambiguous); NULL: no parent\n"
"  parent_evidence TEXT,           -- of parent_request_id (calls.evidence of that call); NULL: no parent\n"
"  trace_id TEXT,                  -- trace id of its W3C traceparent (else X-B3-TraceId or b3), lowercase\n"
"                                  -- hex; NULL: none (requests --trace-id)\n"
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
"  resp_body_len INTEGER,          -- decoded response body length as framed (Content-Length, chunks), captured or not; NULL if unknown\n"
"  resp_body_hash TEXT,            -- FNV-1a 64 of it (hex), NULL if not fully captured\n"
"  head BLOB,                      -- request start line and headers as captured (HTTP/2: rebuilt from the decoded fields; NULL past 256 MiB of heads and bodies)\n"
"  body BLOB,                      -- request body as captured (the same)\n"
"  protocol TEXT,                  -- http, http2, grpc\n"
"  stream_id INTEGER,              -- HTTP/2 stream, NULL for HTTP/1\n"
"  unresolved INTEGER,             -- HTTP/2 header fields not resolved (joined mid-connection); NULL for HTTP/1\n"
"  grpc_status INTEGER,            -- gRPC: grpc-status of the trailers, NULL if none\n"
"  grpc_message TEXT,              -- gRPC: grpc-message, NULL if none\n"
"  req_messages INTEGER,           -- gRPC: length-prefixed messages sent by the client\n"
"  resp_messages INTEGER,          -- gRPC: ... by the server\n"
"  client_latency_ns INTEGER,      -- as the client saw it: its linked call's first byte written to last\n"
"                                  -- byte read (calls.end_ns - start_ns of parent_call_id); NULL: not linked\n"
"  resp_head BLOB,                 -- final response's status line and headers as captured (HTTP/1; at most\n"
"                                  -- 16 KiB; NULL: none, or past 256 MiB of heads and bodies)\n"
"  tls TEXT                        -- over TLS: the library it was decrypted from ('openssl', 'gnutls', 'go'); NULL: plain\n"
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
"  protocol TEXT,                  -- http, http2, grpc, redis, postgres, tls, unknown\n"
"  local_ip TEXT,\n"
"  local_port INTEGER,\n"
"  remote_ip TEXT,\n"
"  remote_port INTEGER,\n"
"  summary TEXT,                   -- 'GET /x', 'SET user:1', 'SELECT ...', 'pkg.Svc/Method' (grpc), first bytes\n"
"  name TEXT,                      -- kind: 'GET /x/:id' (http, http2), 'SET' (redis), 'SELECT', 'pkg.Svc/Method' (grpc)\n"
"  status INTEGER,                 -- HTTP status, NULL otherwise\n"
"  start_ns INTEGER,               -- first byte written\n"
"  end_ns INTEGER,                 -- last answer byte read, NULL if none\n"
"  duration_ms AS (CASE WHEN end_ns >= start_ns THEN (end_ns - start_ns) / 1e6 END), -- REAL, NULL if unanswered\n"
"  bytes_out INTEGER,\n"
"  bytes_in INTEGER,\n"
"  ambiguous INTEGER AS ((flags >> 4) & 1),    -- 1: request_id is a guess (no proof, or proofs that disagree)\n"
"  evidence TEXT,                  -- of request_id, strongest first: 'id' (a propagated trace/request id\n"
"                                  -- shared with exactly one request in flight in the process), 'forward'\n"
"                                  -- (the copy of exactly one request in flight: a proxy), 'thread' (the\n"
"                                  -- only request active on the thread), 'loop' (the first call after the\n"
"                                  -- event loop read that request); 'guess' (ambiguous), 'none'\n"
"  error INTEGER AS ((flags >> 6) & 1),        -- 1: status >= 400 or an error reply\n"
"  unanswered INTEGER AS (flags & 1),          -- 1: no answer\n"
"  reset INTEGER AS ((flags >> 1) & 1),        -- 1: connection reset or closed mid-message\n"
"  flags INTEGER,                  -- engine flags (HTC_ENGF_*)\n"
"  stream_id INTEGER,              -- HTTP/2 stream, NULL otherwise\n"
"  unresolved INTEGER,             -- HTTP/2 header fields not resolved; NULL otherwise\n"
"  grpc_status INTEGER,            -- gRPC: grpc-status of the trailers, NULL if none\n"
"  grpc_message TEXT,              -- gRPC: grpc-message, NULL if none\n"
"  req_messages INTEGER,           -- gRPC: messages sent\n"
"  resp_messages INTEGER,          -- gRPC: messages received\n"
"  server_latency_ns INTEGER,      -- as the server spent it: the linked request's first byte read to last\n"
"                                  -- byte written (requests.end_ns - start_ns of child_request_id); NULL: not linked\n"
"  resp_head BLOB,                 -- the response's status line and headers, as requests.resp_head\n"
"  tls TEXT                        -- as connections.tls: NULL plain, 'encrypted', or the library decrypting it\n"
");\n"
"-- One row per process that served a request or made a call: its service\n"
"-- name, 'LABEL[:PORT,...]@HOST' (README, Service names): LABEL is the task\n"
"-- name, and for an interpreter the script it runs too ('python3 backend.py');\n"
"-- PORTs the server ports it answered on, ascending (8 at most, then ',+N').\n"
"-- The processes of one service (nginx workers) share the name.\n"
"CREATE TABLE services (\n"
"  file_idx INTEGER,\n"
"  pid INTEGER,\n"
"  service TEXT,                   -- 'python3 backend.py:8081@vm', 'nginx:80@vm', 'curl@vm'\n"
"  host TEXT,                      -- files.hostname\n"
"  comm TEXT,                      -- processes.comm, else the task name of its first event\n"
"  label TEXT,                     -- comm, or 'comm script' for an interpreter\n"
"  ports TEXT,                     -- '8081', '80,443', NULL: none (a client only)\n"
"  PRIMARY KEY (file_idx, pid)\n"
");\n"
"-- The *_stats tables are counted during the load, equal to a GROUP BY over\n"
"-- the rows (percentiles as percentile_nr: nearest rank, answered only);\n"
"-- summary reads them instead of sorting every request.\n"
"CREATE TABLE endpoint_stats (     -- per service and endpoint\n"
"  host TEXT,                      -- requests.host\n"
"  comm TEXT,                      -- services.comm\n"
"  endpoint TEXT,                  -- requests.endpoint\n"
"  requests INTEGER,\n"
"  errors INTEGER,                 -- error or unanswered\n"
"  p50_ms REAL,\n"
"  p90_ms REAL,\n"
"  p99_ms REAL,\n"
"  service TEXT                    -- services.service of the processes that served them\n"
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
"-- linked_stats: per service and endpoint, the requests whose client's call was captured too (a pair\n"
"-- linked late, across hosts with skewed clocks, has its columns but is not counted here)\n"
"CREATE TABLE linked_stats (\n"
"  service TEXT,                   -- services.service of the server\n"
"  endpoint TEXT,                  -- requests.endpoint\n"
"  requests INTEGER,               -- with client_latency_ns\n"
"  server_p50_ms REAL,             -- duration_ms: first byte read to last byte written\n"
"  client_p50_ms REAL,             -- client_latency_ns: the call's first byte written to last byte read\n"
"  server_p99_ms REAL,\n"
"  client_p99_ms REAL\n"
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
const char db_schema_events[] =
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
"  flags INTEGER,                  -- 1 redacted, 2 preexisting socket, 4 partial payload, 32 tcp_seq recorded\n"
"  request_id INTEGER,             -- inbound request the event belongs to, or NULL (not indexed)\n"
"  payload BLOB,                   -- captured bytes (capped by --payload-cap)\n"
"  tcp_seq INTEGER                 -- read/write: TCP sequence number of its first byte (the peer's numbering\n"
"                                  -- for a read), as tcpdump shows it; NULL if not recorded (before format 1.2)\n"
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
"CREATE VIEW v_requests AS SELECT request_id, parent_request_id, parent_ambiguous, host, pid, comm,\n"
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
"  request_id AS child_request_id, parent_request_id, parent_ambiguous, parent_evidence\n"
"  FROM requests WHERE parent_call_id IS NOT NULL;\n"
"-- one service's request -> the requests it caused in other services\n"
"CREATE VIEW v_links AS SELECT p.request_id AS parent_request_id, c.parent_ambiguous, p.host AS parent_host,\n"
"  p.endpoint AS parent_endpoint, c.parent_call_id AS call_id, c.request_id AS child_request_id,\n"
"  c.host AS child_host, c.endpoint AS child_endpoint, c.duration_ms AS child_ms, c.parent_evidence\n"
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

int db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "httpanalyze: sqlite: %s\n", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int db_create_indexes(sqlite3 *db, unsigned mask)
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
			if (db_exec(db, sql))
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
	if (db_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		     "PRAGMA main.locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"
		     "PRAGMA cache_size=-262144;") ||
	    db_exec(db, db_schema_tables) || db_exec(db, db_schema_views) ||
	    db_register_functions(db)) {
		*err = -EIO;
		goto fail;
	}
	snprintf(buf, sizeof(buf),
		 "INSERT INTO meta VALUES ('schema_version', '%d'), ('tool_version', '%s');",
		 DB_SCHEMA_VERSION, HTC_TOOL_VERSION);
	if (db_exec(db, buf)) {
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

const char db_sql_ins_event[] =
	"INSERT INTO events (file_idx, ts_ns, dur_ns, pid, tid, comm, type, syscall, fd,"
	" conn_id, ret, bytes, stream_off, captured_len, flags, request_id, payload, tcp_seq)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
