/* SPDX-License-Identifier: MIT */
/*
 * otlp.h - `httpanalyze export --otlp`: the requests and calls of the
 * database as OpenTelemetry spans, in OTLP/JSON (a file of
 * ExportTraceServiceRequest objects, one per line, as the collector's file
 * exporter writes them) or over OTLP/HTTP (JSON body) to a collector.
 */
#ifndef HTTPANALYZE_OTLP_H
#define HTTPANALYZE_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "report.h"

#define OTLP_BATCH_DEFAULT 512
#define OTLP_BATCH_MAX 100000

struct otlp_opts {
	const char *target;	/* http(s)://... : OTLP/HTTP; "-": stdout; else a file */
	size_t batch;		/* spans per ExportTraceServiceRequest */
	long timeout_s;		/* per HTTP request */
};

/* A W3C trace context (traceparent header value "00-<32>-<16>-<2>"). */
struct otlp_tp {
	uint8_t trace[16];
	uint8_t span[8];
};

/*
 * Find the traceparent header in a request head (start line and header
 * lines as captured) and parse it into *tp (OUT).  Returns 0, or -ENOENT
 * when there is none or it is malformed (wrong lengths, not lowercase
 * hex, version ff, all-zero ids): a broken header never joins a trace.
 */
int otlp_find_traceparent(const void *head, size_t len, struct otlp_tp *tp);

/* Deterministic ids for a span of kind 'r' (request) or 'c' (call):
 * salt (the capture ids of the loaded files, hashed) and the row id in,
 * never all zero. */
void otlp_span_id(uint64_t salt, char kind, int64_t id, uint8_t out[8]);
void otlp_trace_id(uint64_t salt, char kind, int64_t id, uint8_t out[16]);

/* True when target names a collector URL rather than a file. */
int otlp_is_url(const char *target);

/*
 * Export the spans of the requests matching o's filters (all when none)
 * and of their downstream calls (with no filter, calls made outside any
 * request too).  Prints one message on failure, with what was sent.
 * Returns 0, -EIO (SQL, file, collector), -ENOMEM.
 */
int otlp_export(sqlite3 *db, const struct report_opts *o, const struct otlp_opts *xo);

#endif /* HTTPANALYZE_OTLP_H */
