// SPDX-License-Identifier: MIT
/*
 * rowq.h - the loader's two writer threads (rowq.c): rows encoded into
 * batches by the loading thread and inserted into SQLite by another.
 *
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
#ifndef HTTPANALYZE_ROWQ_H
#define HTTPANALYZE_ROWQ_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sqlite3.h>

#include "htc.h"
#include "batchq.h"

enum { RQ_CONN, RQ_REQ, RQ_CALL, RQ_PROC, RQ_LINK_REQ, RQ_LINK_CALL, RQ_EVENT, RQ_LAT_REQ,
       RQ_LAT_CALL, RQ__COUNT };
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
	uint64_t gen;		/* batches handed over so far (rq_slot) */
};

/* A value left NULL in a row, to be set while its batch is still the
 * filling one (a request's client latency, known when its call is
 * reported a few events later): no UPDATE of the row. */
struct rq_slot {
	uint64_t gen;		/* rowq.gen when it was written; UINT64_MAX: none */
	size_t off;		/* its tag's offset in that batch */
};

/* Make room for n more bytes in the filling batch (the rare path of
 * rq_room).  0 or -ENOMEM (then q->oom is set). */
int rq_grow(struct rowq *q, struct rqbatch *b, size_t n);

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

static inline void rq_bytes(struct rowq *q, uint8_t tag, const void *s, int n)
{
	uint32_t len = n < 0 ? (uint32_t)strlen(s) : (uint32_t)n;
	uint8_t *p = rq_room(q, 1 + sizeof(len) + len);

	if (p) {
		*p = tag;
		memcpy(p + 1, &len, sizeof(len));
		memcpy(p + 1 + sizeof(len), s, len);
	}
}

static inline void rq_text(struct rowq *q, const char *s, int n)
{
	rq_bytes(q, 'T', s, n);
}

static inline void rq_blob(struct rowq *q, const void *p, int n)
{
	rq_bytes(q, 'B', p, n);
}

/* The loader's bind_ns, bind_ms and bind_str, encoded. */
static inline void rq_ns(struct rowq *q, uint64_t ns)
{
	if (ns)
		rq_int(q, (int64_t)ns);
	else
		rq_null(q);
}

static inline void rq_str(struct rowq *q, const char *s)
{
	if (s)
		rq_text(q, s, -1);
	else
		rq_null(q);
}

static inline struct rowq *rq_begin(struct rowq *q, int what)
{
	uint8_t *p = rq_room(q, 2);

	if (p) {
		p[0] = 'S';
		p[1] = (uint8_t)what;
	}
	return q;
}

static inline void rq_end(struct rowq *q)
{
	rq_tag(q, 'E');
	if (!q->oom && ((struct rqbatch *)batchq_cur(&q->bq))->len >= RQ_FLUSH) {
		batchq_push(&q->bq);
		q->gen++;
	}
}

/* A NULL that rq_slot_set may turn into an integer (tag 'n': 8 bytes
 * reserved).  *s (OUT) says where. */
static inline void rq_null_slot(struct rowq *q, struct rq_slot *s)
{
	uint8_t *p = rq_room(q, 1 + sizeof(int64_t));
	struct rqbatch *b = batchq_cur(&q->bq);

	s->gen = UINT64_MAX;
	if (!p)
		return;
	*p = 'n';
	s->gen = q->gen;
	s->off = (size_t)(p - b->buf);
}

/* Set slot s to v if its row is still in the filling batch: 0, else
 * -ESRCH (the row is on its way to SQLite: the caller updates it). */
static inline int rq_slot_set(struct rowq *q, const struct rq_slot *s, int64_t v)
{
	struct rqbatch *b = batchq_cur(&q->bq);

	if (s->gen != q->gen || q->oom || s->off + 1 + sizeof(v) > b->len)
		return -ESRCH;
	b->buf[s->off] = 'I';
	memcpy(b->buf + s->off + 1, &v, sizeof(v));
	return 0;
}

/* Start the rows thread with statements prepared on db (indexed by RQ_*);
 * the thread uses db until rowq_stop.  If it cannot start, each batch is
 * inserted in place.  0 or a negative code. */
int rowq_start(struct rowq *q, sqlite3 *db, sqlite3_stmt *const st[RQ__COUNT]);
/* Flush, join, free; returns the first error (printed).  Idempotent. */
int rowq_stop(struct rowq *q);

/* ---- the events thread ---- */

/* One events row, decoupled from the reader's buffers. */
struct evrow {
	int64_t ts, dur, ret;
	uint64_t conn_id, stream_off, request_id;
	uint32_t fidx, pid, tid, cap_len, plen;
	int32_t fd;
	uint32_t tcp_seq;	/* when flags has HTC_EVF_SEQ */
	uint16_t flags;
	uint8_t type, syscall;
	char comm[HTC_COMM_LEN];
	size_t poff;		/* payload offset in the batch's bytes */
};

/* An events row queued for the rows thread (events copied into a --db
 * file): payload (r->plen bytes) is copied. */
void rq_event(struct rowq *q, const struct evrow *r, const void *payload);

struct evq;
/*
 * Set up the events database and thread for db (in memory): a second
 * in-memory database attached as "ev".  Returns NULL when that is not
 * possible (no memdb VFS, no thread): the caller then keeps the events in
 * the main database.
 */
struct evq *evq_start(sqlite3 *db);
/* A row to fill in the filling batch, with plen bytes of payload copied
 * (plen at most the batch's room for bytes, which records never exceed). */
struct evrow *evq_row(struct evq *q, const void *payload, uint32_t plen);
/* Flush, stop and join the thread, commit; returns its error (printed).
 * q may be NULL. */
int evq_stop(struct evq *q);
void evq_free(struct evq *q);

#endif /* HTTPANALYZE_ROWQ_H */
