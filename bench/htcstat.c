// SPDX-License-Identifier: MIT
/*
 * htcstat - the counts the benchmarks need from a capture file, as
 * "key=value" lines: events, payload bytes, events lost per reason, and the
 * HTTP requests seen (request lines read by servers, written by clients).
 *
 * bench/run.sh reads drops and request counts through this program rather
 * than by scraping httpcap's or httpanalyze's human output, so the figures
 * stay right when those messages change.  It reads with libhtc, the same
 * reader every other tool uses; the request count is a plain prefix test,
 * not the engine, because the benchmark wants a cheap cross-check of the
 * load generator's count, not a second HTTP parser.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htc.h"

/* A request line starts with one of these; enough for the benchmark's
 * traffic (wrk and ab send GET), the rest for a capture of anything else. */
static const char *const methods[] = {
	"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "PATCH ", "OPTIONS ",
};

static int is_request_start(const uint8_t *p, uint32_t len)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);

		if (len >= n && memcmp(p, methods[i], n) == 0)
			return 1;
	}
	return 0;
}

static void warn_cb(void *ctx, int err, uint64_t offset, const char *msg)
{
	fprintf(stderr, "htcstat: %s: at offset %llu: %s (%s)\n", (const char *)ctx,
		(unsigned long long)offset, msg, htc_strerror(err));
}

int main(int argc, char **argv)
{
	uint64_t events = 0, payload = 0, req_server = 0, req_client = 0;
	uint64_t lost_rec[HTC_LOSS_SLOTS] = {0}, lost_total = 0;
	const struct htc_trailer *tr;
	struct htc_reader_stats st;
	struct htc_reader *r;
	struct htc_record rec;
	int err = 0, ret, i;

	if (argc != 2) {
		fprintf(stderr, "usage: htcstat FILE.htc\n");
		return 2;
	}
	r = htc_reader_open(argv[1], &err);
	if (!r) {
		fprintf(stderr, "htcstat: cannot open '%s': %s\n", argv[1], htc_strerror(err));
		return 1;
	}
	htc_reader_set_warn(r, warn_cb, argv[1]);
	while ((ret = htc_reader_next(r, &rec)) > 0) {
		if (rec.type == HTC_REC_LOSS) {
			if (rec.loss.reason < HTC_LOSS_SLOTS)
				lost_rec[rec.loss.reason] += rec.loss.count;
			continue;
		}
		if (rec.type != HTC_REC_DATA && rec.type != HTC_REC_CONN)
			continue;
		events++;
		payload += rec.ev.cap_len;
		if (rec.type != HTC_REC_DATA || !is_request_start(rec.ev.payload, rec.ev.cap_len))
			continue;
		if (rec.ev.type == HTC_EV_READ && rec.ev.ep.role != HTC_ROLE_CLIENT)
			req_server++;
		else if (rec.ev.type == HTC_EV_WRITE && rec.ev.ep.role != HTC_ROLE_SERVER)
			req_client++;
	}
	if (ret < 0)
		fprintf(stderr, "htcstat: '%s': read error after %llu events: %s\n", argv[1],
			(unsigned long long)events, htc_strerror(ret));
	htc_reader_stats(r, &st);
	tr = htc_reader_trailer(r);

	printf("trailer=%d\n", tr != NULL);
	printf("truncated=%d\n", st.truncated);
	printf("frames_bad=%llu\n", (unsigned long long)st.frames_bad);
	printf("events=%llu\n", (unsigned long long)events);
	printf("payload_bytes=%llu\n", (unsigned long long)payload);
	printf("requests_server=%llu\n", (unsigned long long)req_server);
	printf("requests_client=%llu\n", (unsigned long long)req_client);
	/* The trailer's sums are authoritative; without one (killed capture)
	 * the loss records read so far are all there is. */
	for (i = 0; i < HTC_LOSS_SLOTS; i++) {
		uint64_t n = tr ? tr->lost[i] : lost_rec[i];

		lost_total += n;
		if (n)
			printf("lost_%s=%llu\n", htc_loss_reason_name(i), (unsigned long long)n);
	}
	printf("lost_total=%llu\n", (unsigned long long)lost_total);
	htc_reader_close(r);
	return ret < 0 ? 1 : 0;
}
