// SPDX-License-Identifier: MIT
/*
 * rowq.c - the loader's writer threads (rowq.h): the rows thread, which
 * inserts the requests, calls, connections, processes and late links (and
 * the events of a --db file) from encoded batches, and the events thread,
 * which inserts an in-memory analysis's events into a database of their
 * own.  Both go through batchq.c's fixed ring of reused batches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htc.h"
#include "db_int.h"
#include "rowq.h"

static const char *const rq_what[RQ__COUNT] = {
	"connection", "request", "call", "process", "request link", "call link", "event",
	"request latency", "call latency",
};

int rq_grow(struct rowq *q, struct rqbatch *b, size_t n)
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
		case 'n':	/* a slot left NULL (rq_null_slot) */
			p += sizeof(v);
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

int rowq_start(struct rowq *q, sqlite3 *db, sqlite3_stmt *const st[RQ__COUNT])
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

int rowq_stop(struct rowq *q)
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
	if (r->request_id)
		sqlite3_bind_int64(st, i++, (sqlite3_int64)r->request_id);
	else
		sqlite3_bind_null(st, i++);
	if (r->plen && payload)
		sqlite3_bind_blob(st, i++, payload, (int)r->plen, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i++);
	if (data && (r->flags & HTC_EVF_SEQ))
		sqlite3_bind_int64(st, i++, r->tcp_seq);
	else
		sqlite3_bind_null(st, i++);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return -EIO;
	}
	sqlite3_reset(st);
	return 0;
}

void rq_event(struct rowq *q, const struct evrow *r, const void *payload)
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
	if (data && (r->flags & HTC_EVF_SEQ))
		rq_int(q, r->tcp_seq);
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

int evq_stop(struct evq *q)
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

void evq_free(struct evq *q)
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

struct evq *evq_start(sqlite3 *db)
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
	    sqlite3_prepare_v3(q->db, db_sql_ins_event, -1, SQLITE_PREPARE_PERSISTENT, &q->st,
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

struct evrow *evq_row(struct evq *q, const void *payload, uint32_t plen)
{
	struct evbatch *b = batchq_cur(&q->bq);
	struct evrow *r;

	if (b->nrows == EVQ_ROWS || b->nbytes + plen > EVQ_BYTES)
		b = batchq_push(&q->bq);
	r = &b->rows[b->nrows++];
	r->poff = b->nbytes;
	if (plen > EVQ_BYTES)	/* cannot happen: records are smaller */
		plen = EVQ_BYTES;
	memcpy(b->bytes + b->nbytes, payload, plen);
	b->nbytes += plen;
	return r;
}
