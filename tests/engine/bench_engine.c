/* SPDX-License-Identifier: MIT */
/*
 * bench_engine.c - events per second through the reader alone and through
 * reader + htc_engine_feed, on an in-memory .htc made with the fixture
 * builder; the engine's own rate is the difference.  Times are this
 * thread's CPU time, so other load on the machine matters less.  Traffic:
 * a server with many keep-alive connections, each request making a Redis
 * call and an HTTP call to a backend that is captured too (so links are
 * made), 8 events per request.
 *
 *   bench_engine [requests]      (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "htc_engine.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t n_req, n_call, n_link;

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	n_req++;
}

static void on_call(void *ctx, const struct htc_eng_call *c)
{
	n_call++;
}

static void on_link(void *ctx, uint64_t a, uint64_t b, uint64_t c, unsigned flags)
{
	n_link++;
}

#define NCONN 64

static void *make_capture(long requests, size_t *len)
{
	struct fx *fx = fx_open(NULL, "bench", 0);
	uint64_t t = 2000000000ULL, in[NCONN], out[NCONN], back[NCONN], redis[NCONN];
	void *buf;

	for (int k = 0; k < NCONN; k++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.0.%d", k + 1);
		in[k] = fx_accept(fx, t += 100, 100, 100 + (uint32_t)k, "10.0.0.1", 80, ip, 30000);
		out[k] = fx_connect(fx, t += 100, 100, 100 + (uint32_t)k, "10.0.0.1", (uint16_t)(40000 + k),
				    "10.0.0.2", 8080);
		back[k] = fx_accept(fx, t += 100, 200, 200 + (uint32_t)k, "10.0.0.2", 8080, "10.0.0.1",
				    (uint16_t)(40000 + k));
		redis[k] = fx_connect(fx, t += 100, 100, 100 + (uint32_t)k, "10.0.0.1", (uint16_t)(50000 + k),
				      "10.0.0.3", 6379);
	}
	for (long i = 0; i < requests; i++) {
		int k = (int)(i % NCONN);
		uint32_t tid = 100 + (uint32_t)k, btid = 200 + (uint32_t)k;

		fx_reads(fx, t += 1000, 100, tid, in[k],
			 "GET /api/orders/12345?expand=items HTTP/1.1\r\nHost: shop.example\r\n"
			 "User-Agent: bench/1.0\r\nAccept: application/json\r\n\r\n");
		fx_writes(fx, t += 1000, 100, tid, redis[k], "*2\r\n$3\r\nGET\r\n$11\r\norder:12345\r\n");
		fx_reads(fx, t += 1000, 100, tid, redis[k], "$12\r\n{\"state\":1}\r\n\r\n");
		fx_writes(fx, t += 1000, 100, tid, out[k], "GET /stock/12345 HTTP/1.1\r\nHost: stock\r\n\r\n");
		fx_reads(fx, t += 1000, 200, btid, back[k], "GET /stock/12345 HTTP/1.1\r\nHost: stock\r\n\r\n");
		fx_writes(fx, t += 1000, 200, btid, back[k],
			  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"stock\":7}");
		fx_reads(fx, t += 1000, 100, tid, out[k],
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"stock\":7}");
		fx_writes(fx, t += 1000, 100, tid, in[k],
			  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
			  "{\"id\":12345,\"items\":[1,2]}\n");
	}
	fx_finish(fx, &buf, len);
	return buf;
}

/* Short connections fed straight to the engine (no reader): accept, one
 * request, its response, close; 16 server threads. */
static void bench_short_conns(long n)
{
	struct htc_engine_sink sink = { NULL, NULL, on_request, on_call, on_link };
	struct htc_engine *e = htc_engine_new(&sink);
	static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct htc_record rec;
	struct htc_eng_annot a;
	uint64_t t0, t1;

	htc_engine_add_file(e, NULL);
	n_req = 0;
	t0 = now_ns();
	for (long i = 1; i <= n; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.type = HTC_REC_CONN;
		rec.ev.type = HTC_EV_ACCEPT;
		rec.ev.conn_id = (uint64_t)i;
		rec.ev.ts_ns = (uint64_t)i * 10000;
		rec.ev.ep.family = HTC_AF_INET;
		rec.ev.ep.role = HTC_ROLE_SERVER;
		rec.ev.ep.lport = 80;
		rec.ev.ep.rport = (uint16_t)(32768 + i % 28000);
		rec.ev.pid = 1;
		rec.ev.tid = (uint32_t)(i % 16);
		htc_engine_feed(e, 0, &rec, &a);
		rec.type = HTC_REC_DATA;
		rec.ev.type = HTC_EV_READ;
		rec.ev.ret = rec.ev.cap_len = sizeof(req) - 1;
		rec.ev.payload = (const uint8_t *)req;
		htc_engine_feed(e, 0, &rec, &a);
		rec.ev.type = HTC_EV_WRITE;
		rec.ev.ret = rec.ev.cap_len = sizeof(resp) - 1;
		rec.ev.payload = (const uint8_t *)resp;
		htc_engine_feed(e, 0, &rec, &a);
		rec.type = HTC_REC_CONN;
		rec.ev.type = HTC_EV_CLOSE;
		rec.ev.ret = 0;
		rec.ev.cap_len = 0;
		rec.ev.payload = NULL;
		rec.ev.stream_off = sizeof(req) - 1;
		rec.ev.stream_off2 = sizeof(resp) - 1;
		htc_engine_feed(e, 0, &rec, &a);
	}
	htc_engine_finish(e);
	t1 = now_ns();
	htc_engine_free(e);
	printf("short connections:  %ld records in %.3f s = %.2f M records/s, engine alone (%llu requests)\n",
	       4 * n, (double)(t1 - t0) / 1e9, (double)(4 * n) / ((double)(t1 - t0) / 1e3),
	       (unsigned long long)n_req);
}

int main(int argc, char **argv)
{
	long requests = argc > 1 ? atol(argv[1]) : 200000;
	struct htc_engine_sink sink = { NULL, NULL, on_request, on_call, on_link };
	size_t len, nrec = 0;
	void *buf = make_capture(requests, &len);
	uint64_t t_read;
	struct htc_reader *r;
	struct htc_record rec;
	struct htc_engine *e;
	struct htc_eng_annot a;
	uint64_t t0, t1;
	int err;

	/* 1. the reader alone, to subtract its share */
	t0 = now_ns();
	r = htc_reader_open_mem(buf, len, &err);
	if (!r) {
		fprintf(stderr, "bench: cannot read the capture: %s\n", htc_strerror(err));
		return 1;
	}
	while (htc_reader_next(r, &rec) == 1)
		nrec++;
	htc_reader_close(r);
	t_read = now_ns() - t0;

	/* 2. reader + engine, end to end from the compressed bytes */
	n_req = n_call = n_link = 0;
	e = htc_engine_new(&sink);
	t0 = now_ns();
	r = htc_reader_open_mem(buf, len, &err);
	htc_engine_add_file(e, htc_reader_header(r));
	nrec = 0;
	while (htc_reader_next(r, &rec) == 1) {
		htc_engine_feed(e, 0, &rec, &a);
		nrec++;
	}
	htc_engine_finish(e);
	t1 = now_ns();
	htc_reader_close(r);
	htc_engine_free(e);
	printf("reader alone:       %zu records in %.3f s = %.2f M records/s (%zu compressed bytes)\n", nrec,
	       (double)t_read / 1e9, (double)nrec / ((double)t_read / 1e3), len);
	printf("reader + engine:    %zu records in %.3f s = %.2f M records/s (annotations on)\n", nrec,
	       (double)(t1 - t0) / 1e9, (double)nrec / ((double)(t1 - t0) / 1e3));
	printf("engine share:       %.2f M records/s (difference of the two)\n",
	       (double)nrec / ((double)(t1 - t0 - t_read) / 1e3));
	printf("  requests %llu, calls %llu, links %llu\n", (unsigned long long)n_req,
	       (unsigned long long)n_call, (unsigned long long)n_link);
	free(buf);
	bench_short_conns(requests);
	return 0;
}
