// SPDX-License-Identifier: MIT
/*
 * send.c - the sender: prepared requests go to the target through libcurl's
 * multi interface, started in captured order at their scheduled times
 * (--speed, --rate), at most --concurrency at once over kept-alive
 * connections, and each answer's status, latency and body digest is kept
 * for the comparison.
 */
#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replay.h"

struct xfer {
	struct rp_req *r;
	CURL *h;
	struct curl_slist *hl;
	char *target;
	char errbuf[CURL_ERROR_SIZE];
};

int rp_target_check(const char *url, char **base, char **prefix, const char **msg)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *q = NULL, *frag = NULL;
	size_t plen;
	int err = -EINVAL;

	*base = *prefix = NULL;
	*msg = NULL;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		*msg = "not a URL (want http://HOST[:PORT][/PREFIX])";
		goto cleanup;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		*msg = "scheme is not http or https";
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
		*msg = "no host";
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		*msg = "a query or fragment makes no sense in a target";
		goto cleanup;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	plen = path ? strlen(path) : 0;
	while (plen && path[plen - 1] == '/')
		plen--;
	if (asprintf(base, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "") < 0) {
		*base = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	*prefix = strndup(path ? path : "", plen);
	if (!*prefix) {
		free(*base);
		*base = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	err = 0;
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(q);
	curl_free(frag);
	curl_url_cleanup(u);
	return err;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct rp_req *r = ctx;

	/* libcurl hands the body dechunked and not content-decoded (no
	 * CURLOPT_ACCEPT_ENCODING), which is what the engine hashed */
	r->rhash = htc_fnv1a64(r->rhash, p, n);
	r->rlen += n;
	return size * n;
}

/* Response header lines, trailers included: gRPC's grpc-status comes in
 * the trailers. */
static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct rp_req *r = ctx;
	static const char name[] = "grpc-status:";

	if (r->proto == HTC_PROTO_GRPC && n > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
		int v = 0, digits = 0;

		for (size_t i = sizeof(name) - 1; i < n; i++) {
			if (p[i] >= '0' && p[i] <= '9' && digits < 9) {
				v = v * 10 + (p[i] - '0');
				digits++;
			} else if (p[i] != ' ' && p[i] != '\t') {
				break;
			}
		}
		if (digits)
			r->rgrpc_status = v;
	}
	return size * n;
}

static int add_hdr(struct curl_slist **l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int add_hdr(struct curl_slist **l, const char *fmt, ...)
{
	struct curl_slist *nl;
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	nl = curl_slist_append(*l, s);
	free(s);
	if (!nl)
		return -ENOMEM;
	*l = nl;
	return 0;
}

/* The header list for libcurl: the prepared headers, then empty "Name:"
 * entries that stop libcurl adding its own defaults (Accept, Expect,
 * Content-Type) that the captured request did not carry. */
static int build_headers(const struct rp_out *o, struct curl_slist **l)
{
	int err = 0;

	for (size_t i = 0; i < o->nhdrs && !err; i++) {
		const struct rp_hdr *h = &o->hdrs[i];

		if (h->value_len)
			err = add_hdr(l, "%.*s: %.*s", (int)h->name_len, h->name,
				      (int)h->value_len, h->value);
		else	/* libcurl's spelling of "send it with an empty value" */
			err = add_hdr(l, "%.*s;", (int)h->name_len, h->name);
	}
	if (!err && !o->has_accept)
		err = add_hdr(l, "Accept:");
	if (!err)
		err = add_hdr(l, "Expect:");
	if (!err && o->send_body && !o->has_ctype)
		err = add_hdr(l, "Content-Type:");
	return err;
}

static int xfer_start(CURLM *m, struct xfer *x, struct rp_req *r, const struct rp_out *o,
		      const char *base, const char *prefix, const struct rp_send_opts *so)
{
	CURL *h;
	char *url = NULL;
	int err = -ENOMEM;

	memset(x, 0, sizeof(*x));
	x->r = r;
	r->rhash = HTC_FNV1A64_INIT;
	r->rlen = 0;
	h = x->h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	if (build_headers(o, &x->hl))
		goto cleanup;
	if (asprintf(&url, "%s/", base) < 0) {
		url = NULL;
		goto cleanup;
	}
	/* the captured target goes out byte for byte (CURLOPT_REQUEST_TARGET):
	 * through CURLOPT_URL libcurl would normalise "/a/../b" and re-encode */
	if (asprintf(&x->target, "%s%s", r->path[0] == '/' ? prefix : "", r->path) < 0) {
		x->target = NULL;
		goto cleanup;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, x->target);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* captured over HTTP/2 (and gRPC, which needs it): sent over HTTP/2,
	 * negotiated by ALPN over TLS, with prior knowledge over plain TCP */
	if (r->proto == HTC_PROTO_HTTP2 || r->proto == HTC_PROTO_GRPC)
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, !strncmp(base, "https:", 6)
				 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	else
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* Debian 12's libcurl (7.88.1) fails a request sent on an HTTP/2
	 * connection reused after prior knowledge ("Error in the HTTP2
	 * framing layer"; curl's own command line too, against nginx and
	 * gRPC alike): each HTTP/2 request gets a connection of its own */
	if (r->proto == HTC_PROTO_HTTP2 || r->proto == HTC_PROTO_GRPC)
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	r->rgrpc_status = -1;
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	if (so->timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, so->timeout_ms);
	if (so->connect_timeout_ms)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, so->connect_timeout_ms);
	if (so->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(r->method, "GET") || o->send_body)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
		if (o->send_body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (char *)r->body : "");
		}
	}
	if (curl_multi_add_handle(m, h) != CURLM_OK) {
		err = -EIO;
		goto cleanup;
	}
	free(url);
	return 0;
cleanup:
	free(url);
	free(x->target);
	curl_slist_free_all(x->hl);
	curl_easy_cleanup(h);
	memset(x, 0, sizeof(*x));
	return err;
}

static void xfer_done(CURLM *m, struct xfer *x, CURLcode res, const char *base,
		      bool reported[CURL_LAST])
{
	struct rp_req *r = x->r;
	curl_off_t total = 0, pre = 0;

	r->done = true;
	r->curl_err = res;
	if (res == CURLE_OK) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &r->rstatus);
		curl_easy_getinfo(x->h, CURLINFO_TOTAL_TIME_T, &total);
		curl_easy_getinfo(x->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
		/* the captured latency is the server's, from the first request
		 * byte read: leave out our DNS/TCP/TLS setup */
		r->rlat_ns = (uint64_t)(total > pre ? total - pre : 0) * 1000;
	} else {
		const char *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);

		r->err_msg = strdup(msg);
		if ((unsigned)res < CURL_LAST && !reported[res]) {
			reported[res] = true;
			fprintf(stderr, "httpreplay: request %llu to '%s': %s "
				"(further errors of this kind are only counted)\n",
				(unsigned long long)r->id, base, msg);
		}
	}
	curl_multi_remove_handle(m, x->h);
	curl_easy_cleanup(x->h);
	curl_slist_free_all(x->hl);
	free(x->target);
	memset(x, 0, sizeof(*x));
}

volatile sig_atomic_t rp_interrupted;

int rp_send_all(struct rp_req **reqs, struct rp_out *outs, size_t n,
		const struct rp_send_opts *o, double *elapsed_s)
{
	static bool reported[CURL_LAST];
	char *base = NULL, *prefix = NULL;
	const char *msg;
	struct xfer *xs = NULL;
	CURLM *m = NULL;
	size_t next = 0, inflight = 0;
	uint64_t t0, first_ns = 0, last_start = 0, due = 0, end = 0;
	bool have_due = false, have_first = false, any_started = false;
	unsigned conc = o->concurrency ? o->concurrency : 1;
	int err;

	*elapsed_s = 0;
	err = rp_target_check(o->target, &base, &prefix, &msg);
	if (err)
		return err;
	xs = calloc(conc, sizeof(*xs));
	m = curl_multi_init();
	if (!xs || !m) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* keep-alive: at most conc connections, all kept in the cache and
	 * reused; no pipelining (HTTP/1.1 servers rarely handle it well) */
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conc);
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

	t0 = rp_now_ns();
	for (;;) {
		uint64_t now = rp_now_ns() - t0;
		bool progressed = false;
		long wait_ms = 1000, tmo = -1;
		int running = 0;
		CURLMsg *cm;
		int left;

		/* Ctrl-C: start nothing more, let what is in flight finish
		 * (bounded by --timeout), so the report covers what was sent */
		if (rp_interrupted)
			next = n;
		while (next < n && inflight < conc) {
			struct rp_req *r = reqs[next];
			size_t slot;

			if (r->skip != RP_SKIP_NONE) {
				next++;
				continue;
			}
			if (!have_due) {
				if (!have_first) {
					first_ns = r->start_ns;
					have_first = true;
				}
				due = 0;
				if (o->speed > 0 && r->start_ns > first_ns)
					due = (uint64_t)((double)(r->start_ns - first_ns) / o->speed);
				/* --rate spaces starts by at least 1/R from the
				 * previous one's actual start: a late schedule
				 * does not turn into a burst */
				if (o->rate > 0 && any_started) {
					uint64_t min = last_start + (uint64_t)(1e9 / o->rate);

					if (due < min)
						due = min;
				}
				have_due = true;
			}
			if (due > now)
				break;
			for (slot = 0; slot < conc && xs[slot].h; slot++)
				;
			assert(slot < conc);
			err = xfer_start(m, &xs[slot], r, &outs[next], base, prefix, o);
			if (err)
				goto cleanup;
			r->sent = true;
			r->sent_at_ns = now;
			last_start = now;
			any_started = true;
			have_due = false;
			inflight++;
			next++;
			progressed = true;
		}
		if (next >= n && !inflight)
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			err = -EIO;
			goto cleanup;
		}
		while ((cm = curl_multi_info_read(m, &left))) {
			struct xfer *x = NULL;

			if (cm->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			xfer_done(m, x, cm->data.result, base, reported);
			inflight--;
			end = rp_now_ns() - t0;
			progressed = true;
		}
		if (progressed)
			continue;
		now = rp_now_ns() - t0;
		if (have_due && inflight < conc)
			wait_ms = due > now ? (long)((due - now + 999999) / 1000000) : 0;
		if (curl_multi_timeout(m, &tmo) == CURLM_OK && tmo >= 0 && tmo < wait_ms)
			wait_ms = tmo;
		if (wait_ms > 0)
			curl_multi_poll(m, NULL, 0, (int)wait_ms, NULL);
	}
	*elapsed_s = (double)end / 1e9;
	err = 0;
cleanup:
	for (unsigned i = 0; xs && i < conc; i++) {
		if (!xs[i].h)
			continue;
		curl_multi_remove_handle(m, xs[i].h);
		curl_easy_cleanup(xs[i].h);
		curl_slist_free_all(xs[i].hl);
		free(xs[i].target);
	}
	curl_multi_cleanup(m);
	free(xs);
	free(base);
	free(prefix);
	return err;
}
