// SPDX-License-Identifier: MIT
/*
 * report.c - the comparison of each replayed answer with the captured one
 * (status, latency, body digest) and the report: per-request records and a
 * summary, as an aligned table, JSON lines or CSV; and the --dry-run
 * listing.  Everything printed from a capture is escaped.
 */
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define MS(ns) ((double)(ns) / 1e6)

unsigned rp_req_mismatch(const struct rp_req *r)
{
	unsigned m = 0;

	if (!r->sent)
		return 0;
	if (r->curl_err)
		return RP_MIS_ERROR;
	if ((r->status && r->rstatus != r->status) ||
	    (r->proto == HTC_PROTO_GRPC && r->grpc_status >= 0 && r->rgrpc_status != r->grpc_status))
		m |= RP_MIS_STATUS;	/* gRPC: its grpc-status is its status */
	/* bodies are compared when the statuses agree: a different status
	 * nearly always brings a different body, and reporting it twice would
	 * hide which requests differ only in content */
	else if (r->status && r->hash_valid && strcmp(r->method, "HEAD") &&
		 (r->rhash != r->resp_hash || r->rlen != r->resp_len))
		m |= RP_MIS_BODY;
	return m;
}

static bool body_compared(const struct rp_req *r)
{
	return r->sent && !r->curl_err && r->status && r->rstatus == r->status &&
	       (r->proto != HTC_PROTO_GRPC || r->grpc_status < 0 || r->rgrpc_status == r->grpc_status) &&
	       r->hash_valid && strcmp(r->method, "HEAD");
}

void rp_summarize(struct rp_req **reqs, size_t n, struct rp_summary *s)
{
	double *cap = calloc(n ? n : 1, sizeof(double));
	double *rep = calloc(n ? n : 1, sizeof(double));
	size_t nlat = 0;
	double elapsed = s->elapsed_s;
	size_t limited = s->limited;

	memset(s, 0, sizeof(*s));
	s->elapsed_s = elapsed;
	s->limited = limited;
	s->selected = n + limited;
	for (size_t i = 0; i < n; i++) {
		const struct rp_req *r = reqs[i];
		unsigned m;

		if (r->skip) {
			s->skipped[r->skip]++;
			continue;
		}
		if (!r->sent)
			continue;
		s->sent++;
		if (r->ndropped_redacted)
			s->redacted_dropped++;
		if (r->curl_err) {
			s->errors++;
			s->mismatched++;
			continue;
		}
		s->responded++;
		m = rp_req_mismatch(r);
		if (m & RP_MIS_STATUS)
			s->status_mismatch++;
		if (m & RP_MIS_BODY)
			s->body_diff++;
		if (m)
			s->mismatched++;
		if (body_compared(r))
			s->body_compared++;
		if (r->end_ns && cap && rep) {
			cap[nlat] = MS(r->end_ns - r->start_ns);
			rep[nlat] = MS(r->rlat_ns);
			nlat++;
		}
	}
	s->latency_n = nlat;
	if (cap && rep && nlat) {
		s->cap_p50_ms = rp_percentile(cap, nlat, 50);
		s->cap_p99_ms = rp_percentile(cap, nlat, 99);
		s->rep_p50_ms = rp_percentile(rep, nlat, 50);
		s->rep_p99_ms = rp_percentile(rep, nlat, 99);
		s->ratio_p50 = s->cap_p50_ms > 0 ? s->rep_p50_ms / s->cap_p50_ms : 0;
		s->ratio_p99 = s->cap_p99_ms > 0 ? s->rep_p99_ms / s->cap_p99_ms : 0;
	}
	free(cap);
	free(rep);
}

static const char *result_name(const struct rp_req *r)
{
	unsigned m = rp_req_mismatch(r);

	if (r->skip)
		return "skipped";
	if (!r->sent)
		return "not_sent";
	if (m & RP_MIS_ERROR)
		return "error";
	if (m & RP_MIS_STATUS)
		return "status_mismatch";
	if (m & RP_MIS_BODY)
		return "body_mismatch";
	return "ok";
}

static bool worth_listing(const struct rp_req *r, bool all)
{
	return all || rp_req_mismatch(r);
}

static void table_req(FILE *f, const struct rp_req *r)
{
	char cst[16], rst[16], clat[32], rlat[32];

	snprintf(cst, sizeof(cst), r->status ? "%d" : "-", r->status);
	if (r->sent && !r->curl_err)
		snprintf(rst, sizeof(rst), "%ld", r->rstatus);
	else
		snprintf(rst, sizeof(rst), "-");
	if (r->end_ns)
		snprintf(clat, sizeof(clat), "%.2f", MS(r->end_ns - r->start_ns));
	else
		snprintf(clat, sizeof(clat), "-");
	if (r->sent && !r->curl_err)
		snprintf(rlat, sizeof(rlat), "%.2f", MS(r->rlat_ns));
	else
		snprintf(rlat, sizeof(rlat), "-");
	fprintf(f, "%-12llu %-7.7s %-4s %-4s %9s %9s  %-16s ", (unsigned long long)r->id,
		r->method, cst, rst, clat, rlat, result_name(r));
	rp_escape(f, r->path, strlen(r->path), RP_ESC_TEXT);
	if (r->skip)
		fprintf(f, "  (%s)", rp_skip_name(r->skip));
	else if (r->curl_err) {
		/* libcurl's message can quote the server's bytes */
		const char *m = r->err_msg ? r->err_msg : "error";

		fputs("  (", f);
		rp_escape(f, m, strlen(m), RP_ESC_TEXT);
		fputc(')', f);
	}
	else if (rp_req_mismatch(r) & RP_MIS_BODY)
		fprintf(f, "  (body %llu bytes fnv %016llx, replayed %llu bytes fnv %016llx)",
			(unsigned long long)r->resp_len, (unsigned long long)r->resp_hash,
			(unsigned long long)r->rlen, (unsigned long long)r->rhash);
	fputc('\n', f);
}

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	rp_escape(f, s, strlen(s), RP_ESC_JSON);
	fputc('"', f);
}

static void json_req(FILE *f, const struct rp_req *r)
{
	bool answered = r->sent && !r->curl_err;

	fprintf(f, "{\"type\":\"request\",\"request_id\":%llu,\"method\":",
		(unsigned long long)r->id);
	json_str(f, r->method);
	fputs(",\"path\":", f);
	json_str(f, r->path);
	fprintf(f, ",\"result\":\"%s\",\"skip_reason\":", result_name(r));
	json_str(f, r->skip ? rp_skip_name(r->skip) : NULL);
	fputs(",\"captured_status\":", f);
	if (r->status)
		fprintf(f, "%d", r->status);
	else
		fputs("null", f);
	fputs(",\"replayed_status\":", f);
	if (answered)
		fprintf(f, "%ld", r->rstatus);
	else
		fputs("null", f);
	fputs(",\"captured_ms\":", f);
	if (r->end_ns)
		fprintf(f, "%.3f", MS(r->end_ns - r->start_ns));
	else
		fputs("null", f);
	fputs(",\"replayed_ms\":", f);
	if (answered)
		fprintf(f, "%.3f", MS(r->rlat_ns));
	else
		fputs("null", f);
	fputs(",\"captured_body_fnv\":", f);
	if (r->hash_valid)
		fprintf(f, "\"%016llx\",\"captured_body_len\":%llu", (unsigned long long)r->resp_hash,
			(unsigned long long)r->resp_len);
	else
		fputs("null,\"captured_body_len\":null", f);
	fputs(",\"replayed_body_fnv\":", f);
	if (answered)
		fprintf(f, "\"%016llx\",\"replayed_body_len\":%llu", (unsigned long long)r->rhash,
			(unsigned long long)r->rlen);
	else
		fputs("null,\"replayed_body_len\":null", f);
	fprintf(f, ",\"status_match\":%s,\"body_match\":%s,\"redacted_headers_dropped\":%u,\"error\":",
		!answered || !r->status ? "null" : r->rstatus == r->status ? "true" : "false",
		!body_compared(r) ? "null" : (rp_req_mismatch(r) & RP_MIS_BODY) ? "false" : "true",
		r->ndropped_redacted);
	json_str(f, r->curl_err ? (r->err_msg ? r->err_msg : "error") : NULL);
	fputs("}\n", f);
}

static void csv_str(FILE *f, const char *s)
{
	htc_csv_field(f, s, strlen(s));
}

static void csv_req(FILE *f, const struct rp_req *r)
{
	bool answered = r->sent && !r->curl_err;

	fprintf(f, "%llu,", (unsigned long long)r->id);
	csv_str(f, r->method);
	fputc(',', f);
	csv_str(f, r->path);
	fprintf(f, ",%s,%s,", result_name(r), r->skip ? rp_skip_name(r->skip) : "");
	if (r->status)
		fprintf(f, "%d", r->status);
	fputc(',', f);
	if (answered)
		fprintf(f, "%ld", r->rstatus);
	fputc(',', f);
	if (r->end_ns)
		fprintf(f, "%.3f", MS(r->end_ns - r->start_ns));
	fputc(',', f);
	if (answered)
		fprintf(f, "%.3f", MS(r->rlat_ns));
	fputc(',', f);
	if (r->hash_valid)
		fprintf(f, "%016llx", (unsigned long long)r->resp_hash);
	fputc(',', f);
	if (answered)
		fprintf(f, "%016llx", (unsigned long long)r->rhash);
	fprintf(f, ",%u,", r->ndropped_redacted);
	if (r->curl_err)
		csv_str(f, r->err_msg ? r->err_msg : "error");
	fputc('\n', f);
}

static void table_summary(FILE *f, const struct rp_summary *s)
{
	fprintf(f, "requests selected   %zu\n", s->selected);
	fprintf(f, "sent                %zu (answered %zu, errors %zu)\n", s->sent, s->responded,
		s->errors);
	fprintf(f, "skipped             %zu unsafe_method, %zu body_not_captured, %zu unsendable\n",
		s->skipped[RP_SKIP_UNSAFE], s->skipped[RP_SKIP_PARTIAL],
		s->skipped[RP_SKIP_UNSENDABLE]);
	if (s->limited)
		fprintf(f, "beyond --limit      %zu\n", s->limited);
	fprintf(f, "status mismatches   %zu\n", s->status_mismatch);
	fprintf(f, "body differences    %zu (of %zu compared)\n", s->body_diff, s->body_compared);
	fprintf(f, "mismatched requests %zu\n", s->mismatched);
	if (s->latency_n) {
		fprintf(f, "latency p50         captured %.2f ms, replayed %.2f ms, ratio %.2f\n",
			s->cap_p50_ms, s->rep_p50_ms, s->ratio_p50);
		fprintf(f, "latency p99         captured %.2f ms, replayed %.2f ms, ratio %.2f"
			" (%zu requests)\n", s->cap_p99_ms, s->rep_p99_ms, s->ratio_p99,
			s->latency_n);
	} else {
		fprintf(f, "latency             none to compare (no answered request with a "
			"captured answer)\n");
	}
	if (s->redacted_dropped)
		fprintf(f, "redacted headers    dropped from %zu requests (never sent with the placeholder)\n",
			s->redacted_dropped);
	fprintf(f, "elapsed             %.3f s\n", s->elapsed_s);
}

static void json_summary(FILE *f, const struct rp_summary *s)
{
	fprintf(f, "{\"type\":\"summary\",\"selected\":%zu,\"sent\":%zu,\"responded\":%zu,"
		"\"errors\":%zu,\"skipped\":{\"unsafe_method\":%zu,\"body_not_captured\":%zu,"
		"\"unsendable\":%zu},\"limited\":%zu,\"status_mismatches\":%zu,"
		"\"body_differences\":%zu,\"bodies_compared\":%zu,\"mismatched\":%zu,"
		"\"latency_n\":%zu,\"latency_ms\":{\"captured_p50\":%.3f,\"captured_p99\":%.3f,"
		"\"replayed_p50\":%.3f,\"replayed_p99\":%.3f},"
		"\"latency_ratio_p50\":%.3f,\"latency_ratio_p99\":%.3f,"
		"\"redacted_headers_dropped\":%zu,\"elapsed_s\":%.3f}\n",
		s->selected, s->sent, s->responded, s->errors, s->skipped[RP_SKIP_UNSAFE],
		s->skipped[RP_SKIP_PARTIAL], s->skipped[RP_SKIP_UNSENDABLE], s->limited,
		s->status_mismatch, s->body_diff, s->body_compared, s->mismatched,
		s->latency_n, s->cap_p50_ms, s->cap_p99_ms, s->rep_p50_ms, s->rep_p99_ms, s->ratio_p50,
		s->ratio_p99, s->redacted_dropped, s->elapsed_s);
}

/* One CSV schema on stdout, with or without rows. */
static const char csv_header[] =
	"request_id,method,path,result,skip_reason,captured_status,"
	"replayed_status,captured_ms,replayed_ms,captured_body_fnv,"
	"replayed_body_fnv,redacted_headers_dropped,error\n";

void rp_report(FILE *f, enum rp_format fmt, struct rp_req **reqs, size_t n,
	       const struct rp_summary *s, bool all)
{
	bool header = false;

	for (size_t i = 0; i < n; i++) {
		if (!worth_listing(reqs[i], all))
			continue;
		switch (fmt) {
		case RP_FMT_TABLE:
			if (!header)
				fprintf(f, "%-12s %-7s %-4s %-4s %9s %9s  %-16s %s\n", "REQUEST",
					"METHOD", "CAP", "REP", "CAP_MS", "REP_MS", "RESULT", "PATH");
			table_req(f, reqs[i]);
			break;
		case RP_FMT_JSON:
			json_req(f, reqs[i]);
			break;
		case RP_FMT_CSV:
			if (!header)
				fputs(csv_header, f);
			csv_req(f, reqs[i]);
			break;
		}
		header = true;
	}
	switch (fmt) {
	case RP_FMT_TABLE:
		if (header)
			fputc('\n', f);
		table_summary(f, s);
		break;
	case RP_FMT_JSON:
		json_summary(f, s);
		break;
	case RP_FMT_CSV:
		/* one CSV schema on stdout; the summary goes beside it */
		if (!header)
			fputs(csv_header, f);
		table_summary(stderr, s);
		break;
	}
}

void rp_dry_run(FILE *f, const struct rp_req *r, const struct rp_out *o,
		const char *base, const char *prefix)
{
	fprintf(f, "# request %llu", (unsigned long long)r->id);
	if (r->skip) {
		fprintf(f, ": skipped (%s): ", rp_skip_name(r->skip));
		rp_escape(f, r->method, strlen(r->method), RP_ESC_TEXT);
		fputc(' ', f);
		rp_escape(f, r->path, strlen(r->path), RP_ESC_TEXT);
		fputc('\n', f);
		return;
	}
	fprintf(f, " to %s\n", base);
	fprintf(f, "%s %s", r->method, r->path[0] == '/' ? prefix : "");
	rp_escape(f, r->path, strlen(r->path), RP_ESC_TEXT);
	fputs(r->proto == HTC_PROTO_HTTP2 || r->proto == HTC_PROTO_GRPC ? " HTTP/2\n" : " HTTP/1.1\n", f);
	if (!o->has_host)
		fprintf(f, "Host: (from the target)\n");
	for (size_t i = 0; i < o->nhdrs; i++) {
		rp_escape(f, o->hdrs[i].name, o->hdrs[i].name_len, RP_ESC_TEXT);
		fputs(": ", f);
		rp_escape(f, o->hdrs[i].value, o->hdrs[i].value_len, RP_ESC_TEXT);
		fputc('\n', f);
	}
	if (o->send_body)
		fprintf(f, "Content-Length: %zu\n", r->body_len);
	for (size_t i = 0; i < o->ndropped; i++) {
		fputs("# not sent (redacted at capture): ", f);
		rp_escape(f, o->dropped[i], strlen(o->dropped[i]), RP_ESC_TEXT);
		fputc('\n', f);
	}
	fputc('\n', f);
	if (o->send_body && r->body_len) {
		rp_escape(f, r->body, r->body_len, RP_ESC_TEXT);
		fputs("\n", f);
	}
}
