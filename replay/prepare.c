// SPDX-License-Identifier: MIT
/*
 * prepare.c - turn a captured request into the request httpreplay sends:
 * which captured headers go on the wire, which are hop-by-hop or framing
 * (libcurl frames the body itself), which were redacted at capture time and
 * must never be sent with their '*' placeholder, and the user's edits
 * (--header, --drop-header, --host).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replay.h"

/* Headers that describe one hop or the framing of the captured message, not
 * the request: RFC 9110 section 7.6.1 plus the framing headers, since the
 * body is re-sent whole with a Content-Length that libcurl computes, and
 * Expect, since libcurl handles 100-continue on its own. */
static const char *const hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "proxy-authorization",
	"te", "trailer", "transfer-encoding", "upgrade", "content-length", "expect",
};

/* RFC 9110 tchar: the bytes allowed in a method and a header name. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool rp_method_safe(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS");
}

bool rp_request_line_ok(const char *method, const char *path)
{
	if (!*method || !*path)
		return false;
	for (const char *p = method; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return false;
	/* the request target goes out verbatim: no spaces or control bytes,
	 * which would split or smuggle a request line */
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

int rp_parse_header_arg(const char *arg, struct rp_hdr *h)
{
	const char *colon = strchr(arg, ':');
	const char *v, *end;

	memset(h, 0, sizeof(*h));
	if (!colon || colon == arg || strpbrk(arg, "\r\n"))
		return -EINVAL;
	for (const char *p = arg; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return -EINVAL;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	h->name = strndup(arg, colon - arg);
	h->value = strndup(v, end - v);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		return -ENOMEM;
	}
	h->name_len = colon - arg;
	h->value_len = end - v;
	return 0;
}

static bool is_hop_by_hop(const struct rp_hdr *h)
{
	for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
		if (rp_strieq(h->name, h->name_len, hop_by_hop[i]))
			return true;
	return false;
}

/* Whether name is one of the comma-separated tokens of the Connection
 * header(s): those name more hop-by-hop headers (RFC 9110 7.6.1). */
static bool named_by_connection(const struct rp_req *r, const struct rp_hdr *h)
{
	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct rp_hdr *c = &r->hdrs[i];
		size_t pos = 0;

		if (!rp_strieq(c->name, c->name_len, "connection"))
			continue;
		while (pos < c->value_len) {
			size_t start, end;

			while (pos < c->value_len && (c->value[pos] == ' ' || c->value[pos] == '\t' ||
						      c->value[pos] == ','))
				pos++;
			start = pos;
			while (pos < c->value_len && c->value[pos] != ',')
				pos++;
			end = pos;
			while (end > start && (c->value[end - 1] == ' ' || c->value[end - 1] == '\t'))
				end--;
			if (end - start == h->name_len &&
			    !strncasecmp(c->value + start, h->name, h->name_len))
				return true;
		}
	}
	return false;
}

static bool all_stars(const char *v, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] != '*')
			return false;
	return true;
}

static bool same_name(const struct rp_hdr *a, const struct rp_hdr *b)
{
	return a->name_len == b->name_len && !strncasecmp(a->name, b->name, a->name_len);
}

static bool sendable(const char *p, size_t n)
{
	return !memchr(p, '\r', n) && !memchr(p, '\n', n) && !memchr(p, '\0', n);
}

/* Set (replace the first, remove the others) or append h in out. */
static void set_header(struct rp_out *out, const struct rp_hdr *h)
{
	size_t i, j;
	bool found = false;

	for (i = 0, j = 0; i < out->nhdrs; i++) {
		if (same_name(&out->hdrs[i], h)) {
			if (found)
				continue;
			found = true;
			out->hdrs[j++] = *h;
			continue;
		}
		out->hdrs[j++] = out->hdrs[i];
	}
	out->nhdrs = j;
	if (!found)
		out->hdrs[out->nhdrs++] = *h;
}

int rp_prepare(const struct rp_req *r, const struct rp_edits *e, struct rp_out *out)
{
	struct rp_hdr host;
	bool framed = false;

	memset(out, 0, sizeof(*out));
	/* room for every captured header, every --header and --host */
	out->hdrs = calloc(r->nhdrs + e->nset + 1, sizeof(*out->hdrs));
	if (!out->hdrs)
		return -ENOMEM;

	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct rp_hdr *h = &r->hdrs[i];
		bool dropped = false;

		if (rp_strieq(h->name, h->name_len, "content-length") ||
		    rp_strieq(h->name, h->name_len, "transfer-encoding"))
			framed = true;
		/* HTTP/2 keeps one: "te: trailers", which gRPC servers want */
		if ((is_hop_by_hop(h) || named_by_connection(r, h)) &&
		    !((r->proto == HTC_PROTO_HTTP2 || r->proto == HTC_PROTO_GRPC) &&
		      rp_strieq(h->name, h->name_len, "te") && rp_strieq(h->value, h->value_len, "trailers")))
			continue;
		for (size_t k = 0; k < e->ndrop && !dropped; k++)
			dropped = rp_strieq(h->name, h->name_len, e->drop[k]);
		if (dropped)
			continue;
		if (r->redacted && all_stars(h->value, h->value_len)) {
			bool supplied = false;

			for (size_t k = 0; k < e->nset && !supplied; k++)
				supplied = same_name(&e->set[k], h);
			if (!supplied) {
				out->ndropped_redacted++;
				if (out->ndropped < sizeof(out->dropped) / sizeof(out->dropped[0]))
					out->dropped[out->ndropped++] = h->name;
			}
			continue;
		}
		out->hdrs[out->nhdrs++] = *h;
	}
	for (size_t k = 0; k < e->nset; k++)
		set_header(out, &e->set[k]);
	if (e->host) {
		host = (struct rp_hdr){ .name = "Host", .name_len = 4,
					.value = (char *)e->host, .value_len = strlen(e->host) };
		set_header(out, &host);
	}
	for (size_t i = 0; i < out->nhdrs; i++) {
		const struct rp_hdr *h = &out->hdrs[i];

		if (!h->name_len || !sendable(h->name, h->name_len) ||
		    !sendable(h->value, h->value_len)) {
			rp_out_free(out);
			return -EINVAL;
		}
		if (rp_strieq(h->name, h->name_len, "accept"))
			out->has_accept = true;
		else if (rp_strieq(h->name, h->name_len, "content-type"))
			out->has_ctype = true;
		else if (rp_strieq(h->name, h->name_len, "host"))
			out->has_host = true;
	}
	out->send_body = r->body_len > 0 || framed;
	return 0;
}

void rp_out_free(struct rp_out *out)
{
	if (!out)
		return;
	free(out->hdrs);
	out->hdrs = NULL;
	out->nhdrs = 0;
}
