/* SPDX-License-Identifier: MIT */
/*
 * http1_parse.h - HTTP/1.x message parsing for the engine (http1_parse.c): start line and headers
 * into (ptr, len) views over the caller's buffer, framing from the headers,
 * a streaming chunked-body decoder that tolerates uncaptured stretches, and
 * the start-line recogniser used to resynchronise after one.
 */
#ifndef HTC_HTTP1_PARSE_H
#define HTC_HTTP1_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "htc_engine.h"

#define HTTP_MAX_HEAD (64 * 1024)	/* a head (start line to blank line) larger than this is an error */
#define HTTP_MAX_HEADERS 256		/* header lines per message */

/* Return values of the parsers, besides a positive byte count. */
#define HTTP_INCOMPLETE (-2)	/* valid so far, needs more bytes */
#define HTTP_ERROR (-1)		/* not a valid HTTP/1.x head */

/* Headers the engine reads, recognised while the parser walks them so that
 * framing and the Host lookup do not compare every name again. */
enum {
	HTTP_HK_OTHER = 0,
	HTTP_HK_HOST,
	HTTP_HK_CONTENT_LENGTH,
	HTTP_HK_TRANSFER_ENCODING,
	HTTP_HK_CONNECTION,
};

struct http_head {
	const char *method;	size_t method_len;	/* requests */
	const char *target;	size_t target_len;	/* requests */
	int minor;		/* HTTP/1.<minor> */
	int status;		/* responses */
	const char *reason;	size_t reason_len;	/* responses */
	size_t nheaders;
	unsigned kinds;		/* 1 << HTTP_HK_* of the known headers present */
	struct htc_eng_header headers[HTTP_MAX_HEADERS];
	uint8_t kind[HTTP_MAX_HEADERS];	/* HTTP_HK_* of headers[i] */
};

/*
 * Parse a request / response head at buf (len bytes; leading empty lines
 * are not skipped, the caller does).  OUT h: views into buf.
 * Returns the head's length in bytes (blank line included), HTTP_INCOMPLETE
 * or HTTP_ERROR.  Never reads past len.
 */
int http_parse_request(const char *buf, size_t len, struct http_head *h);
int http_parse_response(const char *buf, size_t len, struct http_head *h);

/* Framing of a message body, from its head. */
struct http_framing {
	int64_t content_length;	/* -1 when absent */
	int chunked;		/* Transfer-Encoding ends in chunked */
	int close;		/* Connection: close, or HTTP/1.0 without keep-alive */
	int upgrade;		/* Connection: upgrade */
};
void http_framing(const struct http_head *h, struct http_framing *f);

/* The value of header name (case-insensitive), or NULL. OUT *vlen. */
const char *http_header(const struct http_head *h, const char *name, size_t *vlen);
/* The same for a header the parser recognised (HTTP_HK_*, not OTHER):
 * the first one's value, or NULL. */
const char *http_header_kind(const struct http_head *h, unsigned kind, size_t *vlen);

/* Case-insensitive compare of a view and a NUL-terminated string. */
int http_token_eq(const char *p, size_t len, const char *s);

/* Does p start like a request ("GET /...") / a response ("HTTP/1.1 200")?
 * 1 yes, 0 no, HTTP_INCOMPLETE when len is too short to tell. */
int http_is_request_start(const char *p, size_t len);
int http_is_response_start(const char *p, size_t len);

/* Offset of the first line start (0, or just after an LF) in p where a
 * request (request != 0) or response starts; len if none. */
size_t http_find_start(const char *p, size_t len, int request);

/* ---- chunked bodies ---- */

struct http_chunked {
	int state;
	uint64_t remaining;	/* data bytes left in the current chunk */
	uint32_t linelen;	/* bytes of the current size/trailer line seen */
	uint8_t digits;
};

typedef void (*http_data_fn)(void *ctx, const char *p, size_t len);

void http_chunked_init(struct http_chunked *c);
/*
 * Decode len captured bytes; body data goes to fn.  OUT *used: bytes
 * consumed.  Returns 1 when the body (last chunk and trailers) ended at
 * *used, 0 when all of p was consumed and more is needed, HTTP_ERROR on bad
 * framing.
 */
int http_chunked_feed(struct http_chunked *c, const char *p, size_t len, size_t *used,
		      http_data_fn fn, void *ctx);
/* n bytes were not captured.  Returns 0 when they fell inside chunk data
 * (framing kept), HTTP_ERROR when framing is lost. */
int http_chunked_gap(struct http_chunked *c, uint64_t n);

#endif /* HTC_HTTP1_PARSE_H */
