/* SPDX-License-Identifier: MIT */
/*
 * db.h - httpanalyze's SQLite side: the schema (documented column by
 * column, printed by `httpanalyze schema`), the loader that reads capture
 * files through the engine into it, and the SQL functions the reports use.
 */
#ifndef HTTPANALYZE_DB_H
#define HTTPANALYZE_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define DB_SCHEMA_VERSION 4

/* Where the events table's rows come from (db_load_opts.events). */
enum db_events_mode {
	DB_EVENTS_AUTO,		/* scan in memory, copy into a --db file */
	DB_EVENTS_COPY,		/* a real table, one row per event copied in */
	DB_EVENTS_SCAN,		/* a virtual table re-reading the capture files */
};

struct db_load_opts {
	int progress;		/* draw a bar on stderr (caller checked isatty) */
	int verbose;		/* print load statistics on stderr */
	int quiet;		/* no reader warnings on stderr */
	uint32_t payload_cap;	/* keep at most this many payload bytes per event */
	enum db_events_mode events;
	/* indexes not to build (DB_INDEX_*), for an in-memory database whose
	 * one command does not read them; 0: all */
	unsigned skip_indexes;
	/* what to call paths[k] in messages and the files table (the
	 * command-line name of a spooled input); NULL: the paths */
	const char *const *names;
	/* fill db_load_stats.linked: the requests counted in linked_stats
	 * (the ClickHouse load marks them; clickhouse.c) */
	int want_linked;
};

/* The schema's indexes (db_load_opts.skip_indexes) */
#define DB_INDEX_REQUESTS_START		0x1	/* requests (start_ns) */
#define DB_INDEX_REQUESTS_PARENT	0x2	/* requests (parent_request_id) */
#define DB_INDEX_CALLS_REQUEST		0x4	/* calls (request_id) */
#define DB_INDEX_CONN_ID		0x8	/* connections (file_idx, conn_id) */
#define DB_INDEX_ALL			0xf

struct db_load_stats {
	uint64_t files, records, events, procs;
	uint64_t requests, calls, conns, links;
	uint64_t warnings;
	double seconds;
	uint64_t h2_fields, h2_unresolved;	/* HTTP/2 header fields decoded, not resolved */
	/* with want_linked: the request ids counted in linked_stats (malloc'd,
	 * the caller frees it; NULL when none) */
	int64_t *linked;
	size_t nlinked;
};

/*
 * Create a database (path NULL: in memory) with the schema, ready to load.
 * An existing file at path is refused (-EEXIST): we never overwrite a
 * user's file.  Returns NULL with *err set; *errmsg (OUT, static or
 * sqlite-owned until the next call) says why.
 */
sqlite3 *db_create(const char *path, int *err);
/*
 * Open a database made by an earlier `--db` run, read-only and defensively
 * (no triggers or views from an untrusted schema calling functions, no
 * extensions), and check it is ours.  Returns NULL with *err set.
 */
sqlite3 *db_open_existing(const char *path, int *err);
/* Register rfc3339(ns) and percentile_nr(x, p) on db. */
int db_register_functions(sqlite3 *db);

/*
 * Load the capture files paths[0..n) into db (made by db_create): one
 * transaction, prepared statements, indexes after the load (but those in
 * opts->skip_indexes).  Prints one message on stderr for a fatal error
 * (missing file, not an .htc file, ...) and returns a negative code;
 * reader warnings are printed and the load goes on.  stats (OUT) may be NULL.
 */
int db_load(sqlite3 *db, const char *const *paths, size_t n,
	    const struct db_load_opts *opts, struct db_load_stats *stats);

/*
 * Serve schema.events (schema "main" or "temp") as a virtual table over
 * the capture files paths[0..n) (events_vtab.c): decl is the copied
 * table's CREATE TABLE text, so columns and types are the same; nevents is
 * the planner's row estimate.  Returns 0 or a negative code.
 */
int db_events_vtab(sqlite3 *db, const char *schema, const char *decl,
		   const char *const *paths, size_t n, uint32_t payload_cap, uint64_t nevents);

/* The schema as documented SQL (tables, columns, views, indexes). */
const char *db_schema_text(void);

/*
 * The label of a process's service (load.c): its task name comm, and for
 * an interpreter (python*, node, ruby, perl, php, java, ...; by argv[0] or
 * comm) the script it runs from cmdline (argv joined by spaces): the base
 * name of the first argument that is not an option, skipping the values
 * of options that take one (-W, -X, -r, --require, -cp, -I, ...); python's
 * `-m MODULE` and java's `-jar FILE` name it too, an inline program (-c,
 * -e) is shown as that option.  "python3 backend.py", "nginx".  Writes
 * at most cap bytes into dst; returns the length it wanted (snprintf).
 */
int db_service_label(char *dst, size_t cap, const char *comm, const char *cmdline);

/* "GET /users/:id" from method and path: query and fragment stripped,
 * numeric and hex-id segments replaced by ":id".  Returns dst. */
char *db_endpoint(char *dst, size_t cap, const char *method, const char *path);

#endif /* HTTPANALYZE_DB_H */
