/* SPDX-License-Identifier: MIT */
/*
 * replay.h - httpreplay's internal interfaces: the captured request as the
 * replayer keeps it, the selection filters, the header rewriting that turns
 * a captured request into the one sent, the libcurl sender and the report.
 *
 * Split so that the pure parts (rewriting, escaping, statistics)
 * are unit-tested without a network or a capture file.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "htc.h"
#include "htc_engine.h"	/* htc_fnv1a64: the response digest the engine records */
#include "htc_select.h"

/* One header, owned copies (not NUL-terminated views: lengths rule). */
struct rp_hdr {
	char *name;	size_t name_len;
	char *value;	size_t value_len;
};

/* Why a selected request was not sent. */
enum rp_skip {
	RP_SKIP_NONE = 0,
	RP_SKIP_UNSAFE,		/* method with side effects, no --allow-unsafe */
	RP_SKIP_PARTIAL,	/* request body not fully captured */
	RP_SKIP_UNSENDABLE,	/* method/path/header bytes that cannot go on the wire */
	RP_SKIP__COUNT
};
const char *rp_skip_name(int reason);

/* A captured inbound request, copied out of the engine's callback, and what
 * happened when it was replayed. */
struct rp_req {
	uint64_t id;
	uint64_t conn;
	uint32_t file_idx, pid;
	uint16_t lport;			/* the server's port */
	char comm[HTC_COMM_LEN];
	char *method, *path, *host;
	int status;			/* captured; 0 = no response captured */
	uint64_t start_ns, end_ns;	/* wall clock; end 0 if unanswered */
	uint32_t flags;			/* HTC_ENGF_* */
	bool redacted;			/* an event of its connection had HTC_EVF_REDACTED */
	struct rp_hdr *hdrs;	size_t nhdrs;
	uint8_t *body;		size_t body_len;
	uint64_t resp_hash, resp_len;
	bool hash_valid;		/* response body fully captured */
	uint8_t proto;			/* HTC_PROTO_HTTP, HTTP2 (sent over HTTP/2) or GRPC */
	int grpc_status;		/* gRPC: captured grpc-status, -1 none */

	/* results */
	int skip;			/* enum rp_skip */
	bool sent, done;
	int curl_err;			/* CURLcode, 0 = a response came */
	char *err_msg;			/* owned, when curl_err */
	long rstatus;
	uint64_t rlat_ns;		/* replayed latency, connection setup excluded */
	uint64_t rhash, rlen;
	int rgrpc_status;		/* gRPC: replayed grpc-status (a trailer), -1 none */
	uint64_t sent_at_ns;		/* monotonic, relative to the replay start */
	unsigned ndropped_redacted;	/* redacted headers not sent */
	/* when set (to the struct itself), one block holds the struct, hdrs,
	 * the strings and body (load.c); otherwise each is its own
	 * allocation (tests) */
	void *mem;
};

void rp_req_free(struct rp_req *r);

/* ---- selection: the filters of `httpanalyze requests`, literally the same
 * code (htc_select.h, in the engine library); times without a zone are UTC
 * here (HTC_SEL_TIME_UTC_DEFAULT) ---- */

/* htc_sel_match over a loaded request; start_ns as there. */
bool rp_filter_match(const struct htc_select *f, const struct rp_req *r, uint64_t start_ns);

/* ---- loading ---- */

/*
 * Read the capture files through the engine and return (OUT *reqs, *n,
 * malloc'd, each freed with rp_req_free) the inbound requests that pass f's
 * absolute filters, in captured order (start time, then request id);
 * *total (OUT) counts every inbound request seen, *cut (OUT) those not
 * loaded: beyond RP_MAX_KEEP_BYTES of kept requests, or cut by the engine
 * (more than HTC_ENG_MAX_STARTS started by one event).
 * Returns 0 or a negative error (-errno or HTC_ERR_*); *what (OUT) says
 * which stage failed ("open", "read", "engine").
 */
#define RP_MAX_KEEP_BYTES ((size_t)256 << 20)	/* requests kept in memory, heads and bodies included */
int rp_load(const char *const *paths, size_t npaths, const struct htc_select *f,
	    struct rp_req ***reqs, size_t *n, size_t *total, size_t *cut, const char **what);

/* ---- rewriting: captured request -> request sent ---- */

struct rp_edits {
	struct rp_hdr *set;	size_t nset;	/* --header: set or replace */
	char **drop;		size_t ndrop;	/* --drop-header */
	const char *host;			/* --host */
};

/* The request as it will be sent.  Header entries are views into the
 * rp_req and rp_edits they came from. */
struct rp_out {
	struct rp_hdr *hdrs;	size_t nhdrs;	/* owned array, views inside */
	bool send_body;		/* body (maybe empty) with a Content-Length */
	bool has_accept, has_ctype, has_host;
	unsigned ndropped_redacted;
	const char *dropped[8];	size_t ndropped;	/* names of redacted headers dropped (views) */
};

/* Parse one --header argument "Name: value" into h (owned copies).
 * Returns 0 or -EINVAL (no colon, empty name, CR/LF/NUL, bad name). */
int rp_parse_header_arg(const char *arg, struct rp_hdr *h);
/* Whether a method is replayed without --allow-unsafe. */
bool rp_method_safe(const char *method);
/* Whether method and path are safe to put on a request line. */
bool rp_request_line_ok(const char *method, const char *path);
/*
 * Build the header list to send for r with edits e: hop-by-hop headers and
 * Content-Length go (libcurl recomputes the length), redacted ones go unless
 * --header supplies them, edits apply.  Returns 0, -ENOMEM, or -EINVAL when
 * a header cannot be sent (CR, LF or NUL in it).
 */
int rp_prepare(const struct rp_req *r, const struct rp_edits *e, struct rp_out *out);
void rp_out_free(struct rp_out *out);

/* ---- sending ---- */

struct rp_send_opts {
	const char *target;	/* base URL, checked by rp_target_check */
	double speed;		/* 0 = as fast as possible */
	unsigned concurrency;
	double rate;		/* requests per second, 0 = unlimited */
	long timeout_ms, connect_timeout_ms;
	bool insecure;
	bool verbose;
	FILE *vout;		/* -v lines */
};

/* Validate a --target URL: http or https, a host, no query/fragment.
 * On success *base gets "scheme://host[:port]" and *prefix the path prefix
 * without a trailing slash (both malloc'd).  Returns 0, -EINVAL with msg
 * (static text) set, or -ENOMEM. */
int rp_target_check(const char *url, char **base, char **prefix, const char **msg);

/* Set from a signal handler: rp_send_all starts no more requests. */
extern volatile sig_atomic_t rp_interrupted;

/* Send reqs[0..n) (those with skip == RP_SKIP_NONE and a prepared out[i])
 * in order, as scheduled by o.  Fills the result fields.  Returns 0 or a
 * negative error for a local failure (libcurl could not start). */
int rp_send_all(struct rp_req **reqs, struct rp_out *outs, size_t n,
		const struct rp_send_opts *o, double *elapsed_s);

/* ---- report ---- */

enum rp_format { RP_FMT_TABLE, RP_FMT_JSON, RP_FMT_CSV };

struct rp_summary {
	size_t selected, sent, responded, errors;
	size_t skipped[RP_SKIP__COUNT];
	size_t status_mismatch, body_diff, body_compared, mismatched;
	size_t redacted_dropped;	/* requests that lost a redacted header */
	size_t limited;			/* selected but beyond --limit */
	size_t latency_n;		/* requests with both latencies */
	double cap_p50_ms, cap_p99_ms, rep_p50_ms, rep_p99_ms;
	double ratio_p50, ratio_p99;	/* replayed / captured; 0 when unknown */
	double elapsed_s;
};

/* Per-request verdict flags. */
#define RP_MIS_STATUS	0x1
#define RP_MIS_BODY	0x2
#define RP_MIS_ERROR	0x4
unsigned rp_req_mismatch(const struct rp_req *r);

void rp_summarize(struct rp_req **reqs, size_t n, struct rp_summary *s);
/* One line (table) / object (json) / row (csv) per request; all requests
 * when all is set, else only mismatched ones and errors. */
void rp_report(FILE *f, enum rp_format fmt, struct rp_req **reqs, size_t n,
	       const struct rp_summary *s, bool all);
/* Print what would be sent, escaped. */
void rp_dry_run(FILE *f, const struct rp_req *r, const struct rp_out *o,
		const char *base, const char *prefix);

/* ---- helpers ---- */


enum rp_esc { RP_ESC_TEXT, RP_ESC_JSON };
/* Write n bytes of p escaped for mode, by the three tools' one rule
 * (htc_escape: HTC_ESC_TEXT or HTC_ESC_JSON); CSV fields go through
 * htc_csv_field. */
void rp_escape(FILE *f, const void *p, size_t n, enum rp_esc mode);
/* Percentile p (0..100) of v[0..n), nearest rank; sorts v.  0 when n == 0. */
double rp_percentile(double *v, size_t n, double p);
uint64_t rp_now_ns(void);	/* CLOCK_MONOTONIC */
bool rp_strieq(const char *a, size_t alen, const char *b);

#endif /* REPLAY_H */
