// SPDX-License-Identifier: MIT
/*
 * bench_pipeline.c - httpcap's work per event in user space, alone and
 * repeatable: the DATA and CONN events of a capture go through the steps
 * of the drain loop (capture/main.c on_sample) after the ring buffer: the
 * payload copied out and redacted with its connection's state
 * (conntab_redact_event), then appended to a writer with httpcap's options
 * (output_writer_opts: compact records with payload deltas, zstd -2)
 * writing to /dev/null.
 *
 * Under load the same work is hard to measure: the machine is shared, the
 * ring buffer's cache misses and the scheduler add their noise, and this
 * VM has no hardware counters.  Here the input is fixed, the time is this
 * process's CPU time, the median of several passes is printed, and under
 * `valgrind --tool=callgrind` the instruction count per event is exact.
 *
 *   bench_pipeline FILE.htc [-r passes]
 *
 * The capture is best taken with --no-redact (its payloads as they were);
 * a redacted one gives nearly the same figure (the same names are read,
 * the values are stars).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

struct sample {
	struct htc_record rec;
	uint8_t *payload;
};

/* The core files read the capture clock through this; main.c gives
 * httpcap the same, test_core.c a fake one. */
uint64_t cap_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The events of path into *out (NULL when none), payloads copied (the
 * reader reuses its buffers): 0, or -1 with the reason printed. */
static int load(const char *path, struct htc_header *hdr, struct sample **out, size_t *n,
		uint64_t *bytes)
{
	struct htc_reader *r;
	struct htc_record rec;
	struct sample *v = NULL;
	size_t cap = 0;
	int err, rc;

	*out = NULL;
	r = htc_reader_open(path, &err);
	if (!r) {
		fprintf(stderr, "bench_pipeline: %s: %s\n", path, htc_strerror(err));
		return -1;
	}
	*hdr = *htc_reader_header(r);
	*n = 0;
	*bytes = 0;
	while ((rc = htc_reader_next(r, &rec)) > 0) {
		struct sample *s;

		if (rec.type != HTC_REC_DATA && rec.type != HTC_REC_CONN)
			continue;
		if (*n == cap) {
			struct sample *nv;

			cap = cap ? cap * 2 : 65536;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto nomem;
			v = nv;
		}
		s = &v[(*n)++];
		s->rec = rec;
		s->payload = NULL;
		if (rec.ev.cap_len) {
			s->payload = malloc(rec.ev.cap_len);
			if (!s->payload)
				goto nomem;
			memcpy(s->payload, rec.ev.payload, rec.ev.cap_len);
			*bytes += rec.ev.cap_len;
		}
		s->rec.ev.payload = s->payload;
	}
	htc_reader_close(r);
	if (rc < 0) {
		fprintf(stderr, "bench_pipeline: %s: %s\n", path, htc_strerror(rc));
		goto fail;
	}
	*out = v;
	return 0;
nomem:
	fprintf(stderr, "bench_pipeline: out of memory\n");
	htc_reader_close(r);
fail:
	while (v && *n)
		free(v[--*n].payload);
	free(v);
	return -1;
}

/* One pass over every sample; CPU seconds, or a negative errno. */
/* noinline: callgrind --toggle-collect=pass counts this alone */
__attribute__((noinline)) static double pass(const struct sample *v, size_t n, const struct htc_header *hdr,
		   uint8_t *pbuf, uint64_t *redacted)
{
	struct htc_writer_opts wo;
	struct conntab *ct = conntab_new(65536);
	struct htc_writer *w;
	double t0;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC), err = 0;

	output_writer_opts(&wo);
	if (!ct || fd < 0) {
		conntab_free(ct);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	w = htc_writer_fdopen(fd, hdr, &wo, &err);
	if (!w) {
		conntab_free(ct);
		close(fd);
		return err ? err : -EIO;
	}
	*redacted = 0;
	t0 = cpu_now();
	for (size_t i = 0; i < n && !err; i++) {
		struct htc_record rec = v[i].rec;

		if (conntab_redact_event(ct, &rec.ev, pbuf))
			(*redacted)++;
		err = htc_writer_append(w, &rec);
	}
	if (!err)
		err = htc_writer_close(w, 0, NULL);
	else
		htc_writer_close(w, 0, NULL);
	t0 = cpu_now() - t0;
	conntab_free(ct);
	return err ? err : t0;
}

int main(int argc, char **argv)
{
	struct htc_header hdr;
	struct sample *v;
	uint64_t bytes, redacted = 0;
	uint8_t *pbuf = malloc(HCB_MAX_SNAPLEN);
	double t[99];
	size_t n;
	int passes = 5, opt;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r' || (passes = atoi(optarg)) < 1 || passes > 99) {
			fprintf(stderr, "usage: bench_pipeline FILE.htc [-r passes (1-99)]\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: bench_pipeline FILE.htc [-r passes (1-99)]\n");
		return 2;
	}
	if (!pbuf) {
		fprintf(stderr, "bench_pipeline: out of memory\n");
		return 1;
	}
	if (load(argv[optind], &hdr, &v, &n, &bytes))
		return 1;
	if (!n) {
		fprintf(stderr, "bench_pipeline: %s: no events\n", argv[optind]);
		return 1;
	}
	for (int i = 0; i < passes; i++) {
		t[i] = pass(v, n, &hdr, pbuf, &redacted);
		if (t[i] < 0) {
			fprintf(stderr, "bench_pipeline: %s\n", htc_strerror((int)t[i]));
			return 1;
		}
	}
	qsort(t, (size_t)passes, sizeof(t[0]), cmp_double);
	printf("pipeline_events=%zu\npipeline_payload_bytes=%llu\npipeline_redacted=%llu\n"
	       "pipeline_ns_per_event=%.1f\npipeline_passes=%d\n", n,
	       (unsigned long long)bytes, (unsigned long long)redacted,
	       t[passes / 2] * 1e9 / (double)n, passes);
	while (n)
		free(v[--n].payload);
	free(v);
	free(pbuf);
	return 0;
}
