// SPDX-License-Identifier: MIT
/*
 * batchq.c - the producer/consumer batch ring of the loader (batchq.h):
 * one mutex and one condition variable over BATCHQ_RING batches, so the
 * memory stays bounded and no batch is allocated per push.  Written by
 * hand because it is a few lines over pthreads, which the loader already
 * needs for its SQLite connections (one connection, one thread at a time).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "batchq.h"

static void run_one(struct batchq *q, void *b)
{
	int err;

	if (!q->err && (err = q->run(q->ctx, b)))
		q->err = err;
	q->clear(b);
}

static void *batchq_main(void *arg)
{
	struct batchq *q = arg;
	struct timespec ts;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		void *b;

		while (!q->ready[q->cons] && !q->done)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->ready[q->cons])
			break;	/* done and drained */
		b = q->b[q->cons];
		pthread_mutex_unlock(&q->mu);
		run_one(q, b);
		pthread_mutex_lock(&q->mu);
		q->ready[q->cons] = 0;
		q->cons = (q->cons + 1) % BATCHQ_RING;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	/* for -v: how busy the worker was (the loader's balance) */
	if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		q->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return NULL;
}

int batchq_init(struct batchq *q, void *const batches[BATCHQ_RING],
		int (*run)(void *ctx, void *batch), void (*clear)(void *batch), void *ctx)
{
	memset(q, 0, sizeof(*q));
	if (pthread_mutex_init(&q->mu, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&q->cv, NULL)) {
		pthread_mutex_destroy(&q->mu);
		return -ENOMEM;
	}
	memcpy(q->b, batches, sizeof(q->b));
	q->run = run;
	q->clear = clear;
	q->ctx = ctx;
	q->inited = 1;
	return 0;
}

int batchq_start(struct batchq *q)
{
	int err = pthread_create(&q->thr, NULL, batchq_main, q);

	if (err)
		return -err;
	q->started = 1;
	return 0;
}

void *batchq_push(struct batchq *q)
{
	if (!q->started) {
		run_one(q, q->b[q->prod]);
		return q->b[q->prod];
	}
	pthread_mutex_lock(&q->mu);
	q->ready[q->prod] = 1;
	q->prod = (q->prod + 1) % BATCHQ_RING;
	pthread_cond_broadcast(&q->cv);
	while (q->ready[q->prod])
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	return q->b[q->prod];
}

int batchq_stop(struct batchq *q)
{
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->done = 1;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thr, NULL);
		q->started = 0;
	}
	return q->err;
}

void batchq_destroy(struct batchq *q)
{
	if (!q->inited)
		return;
	batchq_stop(q);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	q->inited = 0;
}
