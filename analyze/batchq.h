/* SPDX-License-Identifier: MIT */
/*
 * batchq.h - a fixed ring of batches handed from one producer thread to
 * one worker thread that inserts them (the loader's rows and events
 * queues in rowq.c).  The caller owns the batches and their layout; the
 * queue only passes them round, calls run() on the worker for each ready
 * batch, clear() to make it reusable, and keeps the first error.
 */
#ifndef HTTPCAP_ANALYZE_BATCHQ_H
#define HTTPCAP_ANALYZE_BATCHQ_H

#include <pthread.h>

#define BATCHQ_RING 4

struct batchq {
	/* insert one batch on the worker: 0 or -errno (the first is kept,
	 * later batches are then only cleared) */
	int (*run)(void *ctx, void *batch);
	void (*clear)(void *batch);	/* empty a batch for reuse */
	void *ctx;
	void *b[BATCHQ_RING];
	int ready[BATCHQ_RING];	/* full, waiting for the worker */
	int prod, cons, done;
	int err;		/* worker: first run() error */
	int inited, started;
	double cpu_s;		/* the worker's CPU seconds, once joined */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Set up q over the caller's empty batches; no thread yet.  0 or -errno. */
int batchq_init(struct batchq *q, void *const batches[BATCHQ_RING],
		int (*run)(void *ctx, void *batch), void (*clear)(void *batch), void *ctx);
/* Start the worker: 0 or -errno.  Without it, batchq_push runs each batch
 * in place (same code, one thread). */
int batchq_start(struct batchq *q);
/* The batch the producer fills. */
static inline void *batchq_cur(const struct batchq *q)
{
	return q->b[q->prod];
}
/* Hand the filling batch over; returns the next one, empty. */
void *batchq_push(struct batchq *q);
/* Let the worker drain what was pushed and join it (the filling batch is
 * not pushed: the caller decides).  Returns the first error.  Idempotent. */
int batchq_stop(struct batchq *q);
/* Stop, then free the lock (not the batches).  Idempotent. */
void batchq_destroy(struct batchq *q);

#endif
