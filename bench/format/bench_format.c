// SPDX-License-Identifier: MIT
/*
 * bench_format.c - libhtc speed: write N events with 100-byte payloads
 * (a few connections, HTTP-like requests and responses, as a busy service
 * produces) to a file, read them back, and print events/s for the writer
 * (encode + compress + write) and the reader (read + decompress + decode),
 * the median of 5 runs, and the bytes each event takes on disk.  Speeds
 * are per CPU second of this process (one core), and per wall second.
 *
 *   bench_format [-n events] [-l zstd-level] [-o file] [-r runs]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htc.h"

#define NCONN 8
#define PAYLOAD 100
/* distinct payloads: 6.5 MB, far more than zstd's window, so the bench
 * does not flatter the compressor with repeats */
#define POOL 65536

/* CPU time of this process (user + system): what one core spends, and
 * unlike wall time not inflated when other jobs share the machine.  Wall
 * time is printed too. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Payloads that look like what a capture sees: request lines with varying
 * paths and ids, response heads with varying lengths and dates. */
static void make_payload(char *p, unsigned i, int write)
{
	char tmp[256];
	int n;

	if (write)
		n = snprintf(tmp, sizeof(tmp),
			     "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nDate: Wed, 25 Nov 2026 20:%02u:%02u GMT\r\nX-Req: %08x\r\n\r\n{\"id\":%u}",
			     100 + i % 900, (i / 60) % 60, i % 60, i * 2654435761u, i);
	else
		n = snprintf(tmp, sizeof(tmp),
			     "GET /api/v1/users/%u/orders?page=%u HTTP/1.1\r\nHost: svc-%u.local\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n",
			     i * 7919 % 100000, i % 13, i % NCONN);
	if (n > PAYLOAD)
		n = PAYLOAD;
	memcpy(p, tmp, (size_t)n);
	memset(p + n, ' ', PAYLOAD - (size_t)n);
}

static int run_write(const char *path, unsigned n, int level, double *secs, double *wsecs,
		     uint64_t *size)
{
	struct htc_writer_opts opts = { .level = level };
	struct htc_header hdr = { .snaplen = 4096 };
	struct htc_writer_stats st;
	uint64_t off[NCONN][2] = { { 0 } };
	static char pay[POOL][PAYLOAD];
	struct htc_writer *w;
	struct htc_record rec;
	double t0, w0;
	unsigned i;
	int err;

	for (i = 0; i < POOL; i++)
		make_payload(pay[i], i, i & 1);
	strcpy(hdr.hostname, "bench");
	t0 = now();
	w0 = wall();
	w = htc_writer_open(path, &hdr, &opts, &err);
	if (!w) {
		fprintf(stderr, "bench_format: cannot create '%s': %s\n", path, htc_strerror(err));
		return err;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = HTC_REC_DATA;
	strcpy(rec.ev.comm, "api-server");
	rec.ev.ep.family = HTC_AF_INET;
	rec.ev.ep.role = HTC_ROLE_SERVER;
	rec.ev.ep.lport = 8080;
	rec.ev.ep.laddr[0] = 127, rec.ev.ep.laddr[3] = 1;
	rec.ev.ep.raddr[0] = 10, rec.ev.ep.raddr[3] = 7;
	rec.ev.cap_len = PAYLOAD;
	rec.ev.pid = 4242;
	for (i = 0; i < n; i++) {
		unsigned c = (i / 2) % NCONN, dir = i & 1;

		rec.ev.type = dir ? HTC_EV_WRITE : HTC_EV_READ;
		rec.ev.syscall = dir ? HTC_SYS_WRITEV : HTC_SYS_RECVFROM;
		rec.ev.tid = 4242 + c;
		rec.ev.fd = 10 + (int)c;
		rec.ev.conn_id = c + 1;
		rec.ev.ep.rport = (uint16_t)(40000 + c);
		rec.ev.ts_ns = 1000000000ull + i * 1500ull + (i * 37u) % 700;
		rec.ev.dur_ns = 2000 + (i * 13u) % 5000;
		rec.ev.ret = PAYLOAD + (i % 3) * 50;
		rec.ev.stream_off = off[c][dir];
		off[c][dir] += (uint64_t)rec.ev.ret;
		rec.ev.payload = (const uint8_t *)pay[i % POOL];
		err = htc_writer_append(w, &rec);
		if (err) {
			fprintf(stderr, "bench_format: append %u: %s\n", i, htc_strerror(err));
			htc_writer_close(w, 0, NULL);
			return err;
		}
	}
	err = htc_writer_close(w, 0, &st);
	*secs = now() - t0;
	*wsecs = wall() - w0;
	if (err) {
		fprintf(stderr, "bench_format: close: %s\n", htc_strerror(err));
		return err;
	}
	*size = st.bytes_out;
	return 0;
}

static int run_read(const char *path, unsigned n, double *secs, double *wsecs)
{
	struct htc_record rec;
	struct htc_reader *r;
	uint64_t got = 0, sum = 0;
	double t0 = now(), w0 = wall();
	int err;

	r = htc_reader_open(path, &err);
	if (!r) {
		fprintf(stderr, "bench_format: cannot open '%s': %s\n", path, htc_strerror(err));
		return err;
	}
	while ((err = htc_reader_next(r, &rec)) == 1) {
		got++;
		sum += rec.ev.cap_len;	/* touch the record like a consumer */
	}
	htc_reader_close(r);
	*secs = now() - t0;
	*wsecs = wall() - w0;
	if (err < 0 || got != n) {
		fprintf(stderr, "bench_format: read %llu of %u events (%s)\n",
			(unsigned long long)got, n, err < 0 ? htc_strerror(err) : "short");
		return err < 0 ? err : -EIO;
	}
	return sum ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	const char *path = "/tmp/bench_format.htc";
	unsigned n = 2000000, runs = 5, i;
	double wt[16], rt[16], wwt[16], wrt[16];
	uint64_t size = 0;
	int level = 0, c, err;

	while ((c = getopt(argc, argv, "n:l:o:r:")) != -1) {
		switch (c) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'l': level = atoi(optarg); break;
		case 'o': path = optarg; break;
		case 'r': runs = (unsigned)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: bench_format [-n events] [-l level] [-o file] [-r runs]\n");
			return 2;
		}
	}
	if (!n || !runs || runs > 16) {
		fprintf(stderr, "bench_format: need 1 <= runs <= 16 and events > 0\n");
		return 2;
	}
	for (i = 0; i < runs; i++) {
		err = run_write(path, n, level, &wt[i], &wwt[i], &size);
		if (!err)
			err = run_read(path, n, &rt[i], &wrt[i]);
		if (err) {
			unlink(path);
			return 1;
		}
	}
	unlink(path);
	qsort(wt, runs, sizeof(double), cmp_double);
	qsort(rt, runs, sizeof(double), cmp_double);
	qsort(wwt, runs, sizeof(double), cmp_double);
	qsort(wrt, runs, sizeof(double), cmp_double);
	printf("bench-format: %u events of %d-byte payload, zstd level %d, median of %u runs\n",
	       n, PAYLOAD, level ? level : 1, runs);
	printf("  writer: %.2f M events/s per CPU second (%.0f MB/s of records); %.2f M/s wall\n",
	       n / wt[runs / 2] / 1e6, n * (8.0 + 128 + PAYLOAD) / wt[runs / 2] / 1e6,
	       n / wwt[runs / 2] / 1e6);
	printf("  reader: %.2f M events/s per CPU second; %.2f M/s wall\n",
	       n / rt[runs / 2] / 1e6, n / wrt[runs / 2] / 1e6);
	printf("  file:   %.1f bytes/event (%llu bytes)\n", (double)size / n,
	       (unsigned long long)size);
	return 0;
}
