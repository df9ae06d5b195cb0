// SPDX-License-Identifier: MIT
/*
 * events_vtab.c - the `events` table of an in-memory analysis served as an
 * SQLite virtual table over the capture files themselves (`--events scan`,
 * the default without --db).
 *
 * Why: copying every event (with its payload) into SQLite was ~80% of the
 * load's CPU, and no report reads events; only `sql` queries do.  A scan
 * re-reads the files through htc_source and a sink-less engine, exactly as
 * the loader did (same record order, same feeding), so each row has the
 * same values as the copied table would have, request_id included (the
 * engine's annotation is deterministic for the same input).  Columns,
 * names and declared types come from the same CREATE TABLE text as the
 * copied table (db_schema_events).
 *
 * The sqlite3 CLI has no such module, so a database kept with --db gets a
 * real, copied events table by default (--events copy).
 *
 * xBestIndex is honest: a full scan; every constraint is evaluated by
 * SQLite on the rows we return.  Each cursor has its own source and engine,
 * so self-joins work (at the cost of one scan each).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "htc.h"
#include "htc_engine.h"
#include "db.h"

enum {
	COL_EVENT_ID, COL_FILE_IDX, COL_TS_NS, COL_DUR_NS, COL_PID, COL_TID, COL_COMM,
	COL_TYPE, COL_SYSCALL, COL_FD, COL_CONN_ID, COL_RET, COL_BYTES, COL_STREAM_OFF,
	COL_CAPTURED_LEN, COL_FLAGS, COL_REQUEST_ID, COL_PAYLOAD, COL_TCP_SEQ,
};

/* What the module needs to scan: owned by the module (pAux). */
struct evt_files {
	char **paths;
	struct stat *st;	/* as loaded: a scan refuses changed files */
	size_t n;
	uint32_t payload_cap;
	uint64_t nevents;	/* rows the load counted: the planner's estimate */
	const char *decl;	/* CREATE TABLE text of the copied table */
};

struct evt_vtab {
	sqlite3_vtab base;
	struct evt_files *f;
};

struct evt_cursor {
	sqlite3_vtab_cursor base;
	struct htc_engine *e;
	struct htc_source *s;
	int64_t *offset;	/* realtime offset per file */
	struct htc_record rec;	/* current event, valid until the next read */
	uint32_t fidx;
	uint64_t request_id;
	int64_t event_id;	/* 1-based, load order, like the copied rowid */
	int eof;
};

static void evt_files_free(void *p)
{
	struct evt_files *f = p;

	if (!f)
		return;
	for (size_t k = 0; k < f->n; k++)
		free(f->paths[k]);
	free(f->paths);
	free(f->st);
	free(f);
}

static int evt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
		       sqlite3_vtab **out, char **errmsg)
{
	struct evt_files *f = aux;
	struct evt_vtab *t;
	int rc;

	rc = sqlite3_declare_vtab(db, f->decl);
	if (rc != SQLITE_OK)
		return rc;
	t = sqlite3_malloc(sizeof(*t));
	if (!t)
		return SQLITE_NOMEM;
	memset(t, 0, sizeof(*t));
	t->f = f;
	/* a read-only scan of files we do not change: no side effects */
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	*out = &t->base;
	return SQLITE_OK;
}

static int evt_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

static int evt_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	struct evt_vtab *t = (struct evt_vtab *)vt;

	/* One plan: the full scan.  No constraint is consumed (argvIndex 0),
	 * so SQLite checks every one of them itself. */
	info->estimatedRows = (sqlite3_int64)(t->f->nevents ? t->f->nevents : 1);
	info->estimatedCost = (double)info->estimatedRows * 10.0;
	return SQLITE_OK;
}

static int evt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct evt_cursor *c = sqlite3_malloc(sizeof(*c));

	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	c->eof = 1;
	*out = &c->base;
	return SQLITE_OK;
}

static void evt_stop(struct evt_cursor *c)
{
	htc_source_close(c->s);
	htc_engine_free(c->e);
	free(c->offset);
	c->s = NULL;
	c->e = NULL;
	c->offset = NULL;
}

static int evt_close(sqlite3_vtab_cursor *cur)
{
	struct evt_cursor *c = (struct evt_cursor *)cur;

	evt_stop(c);
	sqlite3_free(c);
	return SQLITE_OK;
}

/* The loader already printed the files' warnings once: a scan is quiet. */
static void evt_quiet(void *ctx, int err, uint64_t offset, const char *msg)
{
	(void)ctx, (void)err, (void)offset, (void)msg;
}

static int evt_fail(struct evt_cursor *c, const char *fmt, long long a, const char *b)
{
	sqlite3_vtab *vt = c->base.pVtab;

	sqlite3_free(vt->zErrMsg);
	vt->zErrMsg = sqlite3_mprintf(fmt, a, b);
	c->eof = 1;
	return SQLITE_ERROR;
}

/* Next event record (data or connection), fed to the engine as the
 * loader feeds it; other records are skipped as the loader skips them
 * for the events table. */
static int evt_next(sqlite3_vtab_cursor *cur)
{
	struct evt_cursor *c = (struct evt_cursor *)cur;
	struct evt_vtab *t = (struct evt_vtab *)cur->pVtab;
	struct htc_eng_annot annot;
	int rc, err;

	while ((rc = htc_source_next(c->s, &c->rec, &c->fidx)) > 0) {
		if (c->fidx >= t->f->n)
			continue;
		if (c->rec.type != HTC_REC_DATA && c->rec.type != HTC_REC_CONN)
			continue;
		annot.request_id = 0;
		err = htc_engine_feed(c->e, c->fidx, &c->rec, &annot);
		if (err)
			return evt_fail(c, "events: engine: error %lld%s", err, "");
		c->request_id = annot.request_id;
		c->event_id++;
		return SQLITE_OK;
	}
	if (rc < 0)
		return evt_fail(c, "events: reading the capture files: error %lld (%s)", rc,
				htc_strerror(rc));
	c->eof = 1;
	return SQLITE_OK;
}

static int evt_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc,
		      sqlite3_value **argv)
{
	struct evt_cursor *c = (struct evt_cursor *)cur;
	struct evt_vtab *t = (struct evt_vtab *)cur->pVtab;
	struct htc_engine_sink sink = { 0 };
	int err = 0;

	(void)idx, (void)idxstr, (void)argc, (void)argv;
	evt_stop(c);
	c->event_id = 0;
	c->eof = 0;
	/* the rows must be the ones the rest of the database was made from */
	for (size_t k = 0; k < t->f->n; k++) {
		struct stat now;
		const struct stat *was = &t->f->st[k];

		if (stat(t->f->paths[k], &now) || now.st_size != was->st_size ||
		    now.st_ino != was->st_ino || now.st_dev != was->st_dev ||
		    now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
		    now.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
			return evt_fail(c, "events: capture file %lld '%s' changed or went away "
					"since the load", (long long)k, t->f->paths[k]);
	}
	c->offset = calloc(t->f->n ? t->f->n : 1, sizeof(*c->offset));
	c->e = htc_engine_new(&sink);
	if (!c->offset || !c->e)
		return evt_fail(c, "events: out of memory (%lld files)%s", (long long)t->f->n, "");
	c->s = htc_source_open((const char *const *)t->f->paths, t->f->n, c->e, evt_quiet,
			       NULL, &err);
	if (!c->s)
		return evt_fail(c, "events: cannot reopen the capture files: error %lld (%s)",
				err, htc_strerror(err));
	for (size_t k = 0; k < t->f->n; k++) {
		struct htc_reader *r = htc_source_reader(c->s, k);

		htc_reader_set_warn(r, evt_quiet, NULL);
		c->offset[k] = htc_reader_header(r)->realtime_offset_ns;
	}
	return evt_next(cur);
}

static int evt_eof(sqlite3_vtab_cursor *cur)
{
	return ((struct evt_cursor *)cur)->eof;
}

/* The values the loader binds (rowq.c bind_event), column by column. */
static int evt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	struct evt_cursor *c = (struct evt_cursor *)cur;
	struct evt_vtab *t = (struct evt_vtab *)cur->pVtab;
	const struct htc_event *ev = &c->rec.ev;
	int data = ev->type == HTC_EV_READ || ev->type == HTC_EV_WRITE;
	uint32_t plen;

	switch (col) {
	case COL_EVENT_ID:
		sqlite3_result_int64(ctx, c->event_id);
		break;
	case COL_FILE_IDX:
		sqlite3_result_int64(ctx, c->fidx);
		break;
	case COL_TS_NS:
		sqlite3_result_int64(ctx, (sqlite3_int64)(ev->ts_ns + (uint64_t)c->offset[c->fidx]));
		break;
	case COL_DUR_NS:
		sqlite3_result_int64(ctx, (sqlite3_int64)ev->dur_ns);
		break;
	case COL_PID:
		sqlite3_result_int64(ctx, ev->pid);
		break;
	case COL_TID:
		sqlite3_result_int64(ctx, ev->tid);
		break;
	case COL_COMM:
		sqlite3_result_text(ctx, ev->comm, (int)strnlen(ev->comm, HTC_COMM_LEN),
				    SQLITE_TRANSIENT);
		break;
	case COL_TYPE:
		sqlite3_result_text(ctx, htc_event_type_name(ev->type), -1, SQLITE_STATIC);
		break;
	case COL_SYSCALL:
		sqlite3_result_text(ctx, htc_syscall_name(ev->syscall), -1, SQLITE_STATIC);
		break;
	case COL_FD:
		sqlite3_result_int64(ctx, ev->fd);
		break;
	case COL_CONN_ID:
		sqlite3_result_int64(ctx, (sqlite3_int64)ev->conn_id);
		break;
	case COL_RET:
		sqlite3_result_int64(ctx, ev->ret);
		break;
	case COL_BYTES:
		if (data)
			sqlite3_result_int64(ctx, ev->ret);
		else
			sqlite3_result_null(ctx);
		break;
	case COL_STREAM_OFF:
		if (data)
			sqlite3_result_int64(ctx, (sqlite3_int64)ev->stream_off);
		else
			sqlite3_result_null(ctx);
		break;
	case COL_CAPTURED_LEN:
		sqlite3_result_int64(ctx, ev->cap_len);
		break;
	case COL_FLAGS:
		sqlite3_result_int64(ctx, ev->flags);
		break;
	case COL_REQUEST_ID:
		if (c->request_id)
			sqlite3_result_int64(ctx, (sqlite3_int64)c->request_id);
		else
			sqlite3_result_null(ctx);
		break;
	case COL_PAYLOAD:
		plen = ev->cap_len < t->f->payload_cap ? ev->cap_len : t->f->payload_cap;
		if (plen && ev->payload)
			sqlite3_result_blob(ctx, ev->payload, (int)plen, SQLITE_TRANSIENT);
		else
			sqlite3_result_null(ctx);
		break;
	case COL_TCP_SEQ:
		if (data && (ev->flags & HTC_EVF_SEQ))
			sqlite3_result_int64(ctx, ev->tcp_seq);
		else
			sqlite3_result_null(ctx);
		break;
	default:
		sqlite3_result_null(ctx);
		break;
	}
	return SQLITE_OK;
}

static int evt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = ((struct evt_cursor *)cur)->event_id;
	return SQLITE_OK;
}

static const sqlite3_module evt_module = {
	.iVersion = 0,
	.xCreate = evt_connect,
	.xConnect = evt_connect,
	.xBestIndex = evt_best_index,
	.xDisconnect = evt_disconnect,
	.xDestroy = evt_disconnect,
	.xOpen = evt_open,
	.xClose = evt_close,
	.xFilter = evt_filter,
	.xNext = evt_next,
	.xEof = evt_eof,
	.xColumn = evt_column,
	.xRowid = evt_rowid,
};

int db_events_vtab(sqlite3 *db, const char *schema, const char *decl,
		   const char *const *paths, size_t n, uint32_t payload_cap, uint64_t nevents)
{
	struct evt_files *f = calloc(1, sizeof(*f));
	char sql[128];
	int err = -ENOMEM;

	if (!f)
		return -ENOMEM;
	f->paths = calloc(n ? n : 1, sizeof(*f->paths));
	f->st = calloc(n ? n : 1, sizeof(*f->st));
	if (!f->paths || !f->st)
		goto fail;
	for (size_t k = 0; k < n; k++) {
		f->paths[k] = strdup(paths[k]);
		if (!f->paths[k])
			goto fail;
		f->n = k + 1;
		if (stat(paths[k], &f->st[k])) {
			err = -errno;
			goto fail;
		}
	}
	f->payload_cap = payload_cap;
	f->nevents = nevents;
	f->decl = decl;
	/* the module owns f from here, even on failure (xDestroy) */
	if (sqlite3_create_module_v2(db, "htc_events", &evt_module, f, evt_files_free) !=
	    SQLITE_OK)
		return -EIO;
	snprintf(sql, sizeof(sql), "CREATE VIRTUAL TABLE %s.events USING htc_events", schema);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	return 0;
fail:
	evt_files_free(f);
	return err;
}
