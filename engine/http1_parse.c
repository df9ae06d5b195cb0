/* SPDX-License-Identifier: MIT */
/*
 * http1_parse.c - the HTTP/1.x head parser, framing and chunked decoder of the
 * engine.
 *
 * Written by hand, on purpose: Debian 12 packages only nodejs' http-parser
 * 2.9 (archived upstream), whose callback state machine cannot be told "n
 * bytes here were counted but not captured" and so cannot resynchronise
 * after a snaplen cut or a drop; llhttp and picohttpparser are not packaged.
 * The API follows picohttpparser (views into the caller's buffer; length,
 * incomplete or error as distinct results) and so does the grammar
 * (RFC 9112: tokens, obs-text in values, bare LF accepted as line end).
 */
#include "http1_parse.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* RFC 9110 tchar */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* ASCII lower case of every byte (others unchanged): one load per byte in
 * the comparisons below */
static const uint8_t lc[256] = {
#define L4(b) LC(b), LC(b + 1), LC(b + 2), LC(b + 3)
#define L16(b) L4(b), L4(b + 4), L4(b + 8), L4(b + 12)
#define LC(b) ((b) >= 'A' && (b) <= 'Z' ? (b) + 32 : (b))
	L16(0x00), L16(0x10), L16(0x20), L16(0x30), L16(0x40), L16(0x50), L16(0x60), L16(0x70),
	L16(0x80), L16(0x90), L16(0xa0), L16(0xb0), L16(0xc0), L16(0xd0), L16(0xe0), L16(0xf0),
#undef LC
#undef L16
#undef L4
};

static int lower(int c)
{
	return lc[(unsigned char)c];
}

/* Case-insensitive compare of n bytes; t is lower case already. */
static int eq_lower(const char *p, const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc[(unsigned char)p[i]] != (unsigned char)t[i])
			return 0;
	return 1;
}

int http_token_eq(const char *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n != len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != lower((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Find the end of the line starting at p[i]: sets *eol to the index of CR
 * or LF and returns the index after the line end, or 0 when incomplete,
 * -1 on a lone CR. */
static long line_end(const char *p, size_t len, size_t i, size_t *eol)
{
	const char *lf = memchr(p + i, '\n', len - i);
	size_t e;

	if (!lf)
		return 0;
	e = (size_t)(lf - p);
	*eol = (e > i && p[e - 1] == '\r') ? e - 1 : e;
	return (long)(e + 1);
}

static uint64_t ld8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w | 0x2020202020202020ULL;
}

static uint32_t ld4(const char *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w | 0x20202020u;
}

/* What a header name is, for the few the engine reads.  Names are tchar
 * bytes, of which only A-Z and a-z become a-z with bit 5 set, and none
 * becomes '-': so OR-ing 0x20 into every byte compares case-insensitively
 * and exactly, a word at a time. */
static uint8_t header_kind(const char *name, size_t n)
{
	switch (n) {
	case 4:
		return ld4(name) == ld4("host") ? HTTP_HK_HOST : HTTP_HK_OTHER;
	case 10:
		return ld8(name) == ld8("connecti") && (ld4(name + 6) == ld4("tion"))
		       ? HTTP_HK_CONNECTION : HTTP_HK_OTHER;
	case 14:
		return ld8(name) == ld8("content-") && ld8(name + 6) == ld8("t-length")
		       ? HTTP_HK_CONTENT_LENGTH : HTTP_HK_OTHER;
	case 17:
		return ld8(name) == ld8("transfer") && ld8(name + 8) == ld8("-encodin") &&
		       (name[16] | 0x20) == 'g' ? HTTP_HK_TRANSFER_ENCODING : HTTP_HK_OTHER;
	default:
		return HTTP_HK_OTHER;
	}
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Does the 8-byte word hold a byte < 0x20 or 0x7f?  (Exact as to whether
 * any does; the caller then looks byte by byte.) */
static int word_has_ctl(uint64_t w)
{
	uint64_t x = w ^ (0x7f * ONES);

	return (((w - 0x20 * ONES) & ~w) | ((x - ONES) & ~x)) & HIGHS ? 1 : 0;
}

/* Index of the first byte < 0x20 or 0x7f in p[k..len), or a k from which
 * fewer than 8 bytes remain or whose word holds one (the caller then goes
 * byte by byte): the value scan's fast part.  SSE2 (x86-64's baseline)
 * takes 16 bytes a step, else 8 in a word. */
static size_t skip_plain(const char *p, size_t k, size_t len)
{
#if defined(__SSE2__)
	const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);

	while (k + 16 <= len) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
		/* x >= 0x20 unsigned: max(x, 0x20) == x */
		__m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, sp), x);
		unsigned bad = (unsigned)(~_mm_movemask_epi8(ok) | _mm_movemask_epi8(_mm_cmpeq_epi8(x, del)))
			       & 0xffffu;

		if (bad)
			return k + (size_t)__builtin_ctz(bad);
		k += 16;
	}
#endif
	while (k + 8 <= len) {
		uint64_t w;

		memcpy(&w, p + k, 8);
		if (word_has_ctl(w))
			break;
		k += 8;
	}
	return k;
}

/*
 * Headers from p[i]; returns the head length or HTTP_INCOMPLETE/ERROR.
 *
 * One pass per line: the name's bytes, then the value's checked 16 (SSE2)
 * or 8 at a time until the line end, instead of finding the LF first and
 * checking the line again; known names are recognised on the way
 * (header_kind), so framing and the Host lookup compare no names.  The results are those of "find the line end, then check the
 * line": a line without its LF yet is incomplete whatever it holds, so a
 * bad byte found before the LF is an error only once an LF follows it.
 */
static int parse_headers(const char *p, size_t len, size_t i, struct http_head *h)
{
	const int incomplete = len > HTTP_MAX_HEAD ? HTTP_ERROR : HTTP_INCOMPLETE;
	size_t k;

	h->nheaders = 0;
	h->kinds = 0;
	for (;;) {
		size_t n, v, eol, next, ve;

		if (i >= len)
			return incomplete;
		/* blank line: end of head */
		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
			next = i + 1 + (p[i] == '\r');
			return next > HTTP_MAX_HEAD ? HTTP_ERROR : (int)next;
		}
		/* name: token, then ':' with no space before it */
		for (n = i; n < len && tchar[(unsigned char)p[n]]; n++)
			;
		if (n == len)
			return incomplete;
		if (n == i || p[n] != ':' || h->nheaders >= HTTP_MAX_HEADERS) {
			k = n;
			goto bad;
		}
		v = n + 1;
		while (v < len && (p[v] == ' ' || p[v] == '\t'))
			v++;
		/*
		 * value: every byte to the line end.  Visible bytes, obs-text,
		 * SP and HTAB are the grammar; a control byte (NUL, ESC, DEL,
		 * a CR not before the LF) is not, but RFC 9110 (5.5) lets a
		 * recipient keep or replace it rather than reject the message,
		 * and an observer must: a sloppy or hostile server's answered
		 * request is still answered.  The bytes are kept as they are
		 * (every output escapes them).
		 */
		k = v;
		for (;;) {
			unsigned char c;

			k = skip_plain(p, k, len);
			if (k >= len)
				return incomplete;
			c = (unsigned char)p[k];
			if (c == '\n') {
				eol = k;
				next = k + 1;
				break;
			}
			if (c == '\r' && k + 1 >= len)
				return incomplete;	/* a line end, or not: the next byte tells */
			if (c == '\r' && p[k + 1] == '\n') {
				eol = k;
				next = k + 2;
				break;
			}
			k++;
		}
		if (next > HTTP_MAX_HEAD)
			return HTTP_ERROR;
		ve = eol;
		while (ve > v && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
			ve--;
		h->headers[h->nheaders].name = p + i;
		h->headers[h->nheaders].name_len = n - i;
		h->headers[h->nheaders].value = p + v;
		h->headers[h->nheaders].value_len = ve - v;
		h->kind[h->nheaders] = header_kind(p + i, n - i);
		h->kinds |= 1u << h->kind[h->nheaders];
		h->nheaders++;
		i = next;
	}
bad:
	/* a bad byte at k: an error once the line is complete */
	return memchr(p + k, '\n', len - k) ? HTTP_ERROR : incomplete;
}

/* "HTTP/1.x" at p (8 bytes available); returns minor or -1. */
static int version(const char *p)
{
	if (memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1'))
		return -1;
	return p[7] - '0';
}

int http_parse_request(const char *buf, size_t len, struct http_head *h)
{
	size_t i = 0, eol, t;
	long next;

	memset(h, 0, offsetof(struct http_head, headers));
	/* method */
	while (i < len && tchar[(unsigned char)buf[i]])
		i++;
	if (i == len)
		return i > 32 ? HTTP_ERROR : HTTP_INCOMPLETE;
	if (i == 0 || i > 32 || buf[i] != ' ')
		return HTTP_ERROR;
	h->method = buf;
	h->method_len = i;
	next = line_end(buf, len, i, &eol);
	if (next == 0) {
		/* the target may be long, but not beyond the head limit, and
		 * must not hold control bytes even before its end is seen */
		for (t = i + 1; t < len; t++)
			if ((unsigned char)buf[t] < 0x20 && buf[t] != '\r')
				return HTTP_ERROR;
		return len > HTTP_MAX_HEAD ? HTTP_ERROR : HTTP_INCOMPLETE;
	}
	/* target SP version: the version is the last 8 bytes of the line */
	if (eol < i + 1 + 1 + 1 + 8 || buf[eol - 9] != ' ')
		return HTTP_ERROR;
	h->minor = version(buf + eol - 8);
	if (h->minor < 0)
		return HTTP_ERROR;
	h->target = buf + i + 1;
	h->target_len = eol - 9 - (i + 1);
	for (t = 0; t < h->target_len; t++) {
		unsigned char c = (unsigned char)h->target[t];

		if (c <= 0x20 || c == 0x7f)
			return HTTP_ERROR;
	}
	return parse_headers(buf, len, (size_t)next, h);
}

int http_parse_response(const char *buf, size_t len, struct http_head *h)
{
	size_t eol, r;
	long next;

	memset(h, 0, offsetof(struct http_head, headers));
	if (len < 12) {
		int s = http_is_response_start(buf, len);

		return s == 0 ? HTTP_ERROR : HTTP_INCOMPLETE;
	}
	h->minor = version(buf);
	if (h->minor < 0 || buf[8] != ' ')
		return HTTP_ERROR;
	for (int k = 9; k < 12; k++)
		if (buf[k] < '0' || buf[k] > '9')
			return HTTP_ERROR;
	h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	next = line_end(buf, len, 12, &eol);
	if (next == 0)
		return len > HTTP_MAX_HEAD ? HTTP_ERROR : HTTP_INCOMPLETE;
	if (eol > 12 && buf[12] != ' ')
		return HTTP_ERROR;
	r = eol > 12 ? 13 : 12;
	/* the reason phrase is kept whatever its bytes, as header values are
	 * (see parse_headers): a client ignores it */
	h->reason = buf + r;
	h->reason_len = eol - r;
	return parse_headers(buf, len, (size_t)next, h);
}

const char *http_header(const struct http_head *h, const char *name, size_t *vlen)
{
	for (size_t i = 0; i < h->nheaders; i++)
		if (http_token_eq(h->headers[i].name, h->headers[i].name_len, name)) {
			*vlen = h->headers[i].value_len;
			return h->headers[i].value;
		}
	return NULL;
}

const char *http_header_kind(const struct http_head *h, unsigned kind, size_t *vlen)
{
	if (kind == HTTP_HK_OTHER || !(h->kinds & (1u << kind)))
		return NULL;
	for (size_t i = 0; i < h->nheaders; i++)
		if (h->kind[i] == kind) {
			*vlen = h->headers[i].value_len;
			return h->headers[i].value;
		}
	return NULL;
}

/* Connection options the framing reads */
#define CONN_CLOSE 1
#define CONN_KEEP_ALIVE 2
#define CONN_UPGRADE 4

/* The options (above) named in the comma-separated list v, case-insensitive:
 * one walk over the list for all three. */
static unsigned conn_options(const char *v, size_t len)
{
	unsigned o = 0;
	size_t i = 0;

	/* one option alone, the usual case: compared a word at a time (a
	 * value holds no control byte but tab, so OR 0x20 folds only A-Z
	 * onto a-z and nothing onto '-': exact) */
	if (len == 10 && ld8(v) == ld8("keep-ali") && ld4(v + 6) == ld4("live"))
		return CONN_KEEP_ALIVE;
	if (len == 5 && ld4(v) == ld4("clos") && (v[4] | 0x20) == 'e')
		return CONN_CLOSE;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == 5 && eq_lower(v + s, "close", 5))
			o |= CONN_CLOSE;
		else if (e - s == 10 && eq_lower(v + s, "keep-alive", 10))
			o |= CONN_KEEP_ALIVE;
		else if (e - s == 7 && eq_lower(v + s, "upgrade", 7))
			o |= CONN_UPGRADE;
	}
	return o;
}

/* Is the last element of the list v chunked?  "gzip, chunked" -> yes. */
static int list_last_is_chunked(const char *v, size_t len)
{
	size_t e = len, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return e - s == 7 && eq_lower(v + s, "chunked", 7);
}

void http_framing(const struct http_head *h, struct http_framing *f)
{
	const unsigned want = 1u << HTTP_HK_CONTENT_LENGTH | 1u << HTTP_HK_TRANSFER_ENCODING |
			      1u << HTTP_HK_CONNECTION;
	int keep_alive = 0;

	f->content_length = -1;
	f->chunked = 0;
	f->close = 0;
	f->upgrade = 0;
	for (size_t i = 0; (h->kinds & want) && i < h->nheaders; i++) {
		const struct htc_eng_header *hd = &h->headers[i];

		if (h->kind[i] == HTTP_HK_CONTENT_LENGTH) {
			int64_t v = 0;
			size_t k;

			for (k = 0; k < hd->value_len && hd->value[k] >= '0' && hd->value[k] <= '9'; k++) {
				if (v > (INT64_MAX - 9) / 10) {
					v = -1;
					break;
				}
				v = v * 10 + (hd->value[k] - '0');
			}
			/* invalid or overflowing: treat as absent (framing
			 * then falls back to the direction switch) */
			if (k == 0 || k != hd->value_len || v < 0)
				v = -1;
			if (v >= 0)
				f->content_length = v;
		} else if (h->kind[i] == HTTP_HK_TRANSFER_ENCODING) {
			f->chunked = list_last_is_chunked(hd->value, hd->value_len);
		} else if (h->kind[i] == HTTP_HK_CONNECTION) {
			unsigned o = conn_options(hd->value, hd->value_len);

			if (o & CONN_CLOSE)
				f->close = 1;
			if (o & CONN_KEEP_ALIVE)
				keep_alive = 1;
			if (o & CONN_UPGRADE)
				f->upgrade = 1;
		}
	}
	if (f->chunked)
		f->content_length = -1;	/* RFC 9112 6.3: chunked wins */
	if (h->minor == 0 && !keep_alive)
		f->close = 1;
}

/* Methods recognised when looking for a start line in unknown bytes.  A
 * list (not just a token) keeps binary bodies from resynchronising on
 * random uppercase text. */
static const struct {
	const char *s;
	size_t len;
} methods[] = {
#define M(s) { s, sizeof(s) - 1 }
	M("GET"), M("HEAD"), M("POST"), M("PUT"), M("DELETE"), M("CONNECT"), M("OPTIONS"),
	M("TRACE"), M("PATCH"), M("PROPFIND"), M("PROPPATCH"), M("MKCOL"), M("COPY"), M("MOVE"),
	M("LOCK"), M("UNLOCK"), M("REPORT"), M("SEARCH"), M("PURGE"),
#undef M
};

int http_is_request_start(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && i < 10 && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	if (i == len)
		return i < 10 ? HTTP_INCOMPLETE : 0;
	if (i == 0 || p[i] != ' ')
		return 0;
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		if (methods[m].len == i && !memcmp(p, methods[m].s, i)) {
			if (i + 1 == len)
				return HTTP_INCOMPLETE;
			/* origin-form, asterisk-form or absolute-form */
			return p[i + 1] == '/' || p[i + 1] == '*' || lower((unsigned char)p[i + 1]) == 'h'
			       || (m == 5 /* CONNECT authority */ && (unsigned char)p[i + 1] > 0x20);
		}
	return 0;
}

int http_is_response_start(const char *p, size_t len)
{
	static const char pre[] = "HTTP/1.";
	size_t n = len < 7 ? len : 7;

	if (memcmp(p, pre, n))
		return 0;
	if (len < 9)
		return len == 8 && p[7] != '0' && p[7] != '1' ? 0 : HTTP_INCOMPLETE;
	if ((p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return 0;
	for (size_t k = 9; k < 12; k++) {
		if (k >= len)
			return HTTP_INCOMPLETE;
		if (p[k] < '0' || p[k] > '9')
			return 0;
	}
	return 1;
}

size_t http_find_start(const char *p, size_t len, int request)
{
	size_t i = 0;

	while (i < len) {
		int r = request ? http_is_request_start(p + i, len - i)
				: http_is_response_start(p + i, len - i);
		const char *lf;

		/* a start cut by the end of the captured bytes counts: the
		 * head parser decides once more bytes come */
		if (r != 0)
			return i;
		lf = memchr(p + i, '\n', len - i);
		if (!lf)
			return len;
		i = (size_t)(lf - p) + 1;
	}
	return len;
}

/* ---- chunked ---- */

enum {
	CH_SIZE,	/* hex digits */
	CH_EXT,		/* chunk extension, to LF */
	CH_DATA,
	CH_DATA_CR,	/* CRLF after data */
	CH_DATA_LF,
	CH_TRAILER_START,	/* start of a trailer line, or the final blank line */
	CH_TRAILER,	/* inside a trailer line, to LF */
	CH_LAST_LF,	/* CR of the final blank line seen */
	CH_DONE,
};

#define CH_MAX_LINE 4096	/* size line with extensions, or one trailer line */

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int http_chunked_feed(struct http_chunked *c, const char *p, size_t len, size_t *used,
		      http_data_fn fn, void *ctx)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)p[i];

		switch (c->state) {
		case CH_SIZE: {
			int v = hexval(ch);

			if (v >= 0) {
				if (c->digits >= 15)
					goto bad;
				c->remaining = c->remaining * 16 + (uint64_t)v;
				c->digits++;
				i++;
				break;
			}
			if (c->digits == 0)
				goto bad;
			c->state = CH_EXT;
			c->linelen = 0;
			break;
		}
		case CH_EXT:
			i++;
			if (ch == '\n') {
				c->digits = 0;
				c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
			} else if (++c->linelen > CH_MAX_LINE || (ch != '\r' && ch != ';' && ch < 0x20 && ch != '\t')) {
				goto bad;
			}
			break;
		case CH_DATA: {
			size_t n = len - i;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (fn)
				fn(ctx, p + i, n);
			i += n;
			c->remaining -= n;
			if (!c->remaining)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			i++;
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				goto bad;
			break;
		case CH_DATA_LF:
			i++;
			if (ch != '\n')
				goto bad;
			c->state = CH_SIZE;
			break;
		case CH_TRAILER_START:
			i++;
			if (ch == '\n')
				goto done;
			if (ch == '\r') {
				c->state = CH_LAST_LF;
			} else {
				c->state = CH_TRAILER;
				c->linelen = 1;
			}
			break;
		case CH_LAST_LF:
			i++;
			if (ch != '\n')
				goto bad;
			goto done;
		case CH_TRAILER:
			i++;
			if (ch == '\n')
				c->state = CH_TRAILER_START;
			else if (++c->linelen > CH_MAX_LINE)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	*used = i;
	return 0;
done:
	c->state = CH_DONE;
	*used = i;
	return 1;
bad:
	*used = i;
	return HTTP_ERROR;
}

int http_chunked_gap(struct http_chunked *c, uint64_t n)
{
	if (c->state == CH_DATA && n <= c->remaining) {
		c->remaining -= n;
		if (!c->remaining)
			c->state = CH_DATA_CR;
		return 0;
	}
	return HTTP_ERROR;
}
