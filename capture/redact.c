// SPDX-License-Identifier: MIT
/*
 * redact.c - streaming redaction of secret HTTP/1.x header values.
 *
 * httpcap sees each direction of a connection as a run of payloads cut at
 * arbitrary points (syscall boundaries, snaplen, drops).  This is a small
 * state machine over HTTP/1.x message heads that keeps its whole state in
 * struct redact_state (no buffering, no allocation), so a header name or a
 * value split across two payloads, at any byte, is still recognised.  It
 * walks: start line, header lines, blank line, body (skipped by
 * Content-Length or chunked framing, or up to the close for responses
 * without either), then the next message (keep-alive, pipelining).
 *
 * Which headers are secret: a name is secret when, lowercased and with '-'
 * and '_' removed, it contains one of the words in secret_words[] below
 * ("auth", "cookie", "token", ...).  That covers Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie, X-API-Key, Api-Key,
 * X-Auth-Token, X-Amz-Security-Token, Private-Token and their kin, at the
 * price of also hiding a few harmless ones (WWW-Authenticate): when in doubt
 * we hide.  Only the value is overwritten, with '*', byte for byte; the name,
 * leading blanks, CR and LF stay, so lengths and offsets remain true.
 *
 * Where the redactor loses its place (bytes not captured, a framing error,
 * a stream that is not HTTP) it falls back to "scan" mode: every line is
 * looked at as a possible header line and secret ones are redacted, until
 * a payload starts with an HTTP start line again.  A hand-written machine
 * rather than a parser library (picohttpparser, llhttp): those want the
 * whole head in one buffer, and we must not keep copies of payloads.
 *
 * It runs on every captured payload in httpcap's one drain thread, so its
 * cost per event counts (issue 12).  A payload nearly always holds whole
 * lines, often a whole message: those go a faster way (start_line_whole(),
 * head_fast(), body_start()) that reads a line at a time and leaves exactly
 * the state the byte machine would, handing back to it wherever a line is
 * not whole in the payload or not ordinary.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "redact.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* st layout: bits 0-7 state, 8-15 a small counter, 16-31 flags. */
enum rstate {
	RS_MSG_START = 0,	/* between messages: a start line is expected (zero state) */
	RS_START_TOKEN,		/* first token of the start line: method or HTTP/x.y */
	RS_START_REST,		/* rest of the start line; a response's status code */
	RS_LINE,		/* at the start of a header line */
	RS_LINE_CR,		/* at the start of a header line, after a CR */
	RS_NAME,		/* inside a header name */
	RS_NAME_WS,		/* blanks between a name and its colon */
	RS_VAL_SECRET,		/* value of a secret header: overwrite */
	RS_VAL_CL,		/* value of Content-Length */
	RS_VAL_TE,		/* value of Transfer-Encoding */
	RS_SKIP_EOL,		/* anything else, up to the end of the line */
	RS_BODY_CL,		/* body of known length, remain bytes left */
	RS_BODY_EOF,		/* response body delimited by the close */
	RS_CHUNK_SIZE,		/* chunk-size line: hex digits */
	RS_CHUNK_EXT,		/* chunk extension, up to the end of the line */
	RS_CHUNK_DATA,		/* chunk data, remain bytes left */
	RS_CHUNK_END,		/* CRLF after chunk data */
	RS_PARTIAL,		/* after a gap: the next bytes may end a secret value */
	RS_BODY_PEEK,		/* first bytes of a response body: is it the next response? */
	RS_TARGET,		/* a request's target, before its query */
	RS_QNAME,		/* a query parameter's name */
	RS_QVAL,		/* a query parameter's value, kept */
	RS_QVAL_SECRET,		/* a secret query parameter's value: overwrite */
	RS_AUTH_WORD,		/* not HTTP: a line that may be Redis's AUTH (pos bytes matched) */
	RS_PG_START,		/* PostgreSQL: an untyped message's length and code (pos bytes) */
	RS_PG_TYPE,		/* PostgreSQL: a message's type byte */
	RS_PG_LEN,		/* PostgreSQL: a typed message's length (pos bytes) */
	RS_PG_BODY,		/* PostgreSQL: remain bytes of its body; a password ('p') overwritten */
	RS_VAL_CT,		/* value of Content-Type: JSON or form body? (pos: matchers) */
};

/* PostgreSQL, in aux: the type of the message in progress (low byte), and
 * whether the next message is untyped (after an SSL or GSS encryption
 * request the server refused, a startup message follows). */
#define PG_UNTYPED_NEXT	0x100

#define F_RESP		(1u << 16)	/* this message is a response */
#define F_NOBODY	(1u << 17)	/* response status says no body (1xx, 204, 304) */
#define F_CHUNKED	(1u << 18)	/* Transfer-Encoding: chunked seen */
#define F_CL		(1u << 19)	/* a valid Content-Length seen (in remain) */
#define F_CL_BAD	(1u << 20)	/* an unusable Content-Length seen */
#define F_PREVSECRET	(1u << 21)	/* the previous header line was secret (obs-fold) */
#define F_SCAN		(1u << 22)	/* lost sync: scan lines, no message structure */
#define F_TRAILER	(1u << 23)	/* header lines are a chunked body's trailers */
#define F_CAND_CL	(1u << 24)	/* the name so far may be Content-Length */
#define F_CAND_TE	(1u << 25)	/* the name so far may be Transfer-Encoding */
#define F_SECRET_NAME	(1u << 26)	/* the name so far contains a secret word */
#define F_DIGITS	(1u << 27)	/* a digit of a length was seen */
#define F_MAYBE_RESP	(1u << 28)	/* the start token so far is a prefix of "HTTP/" */
#define F_NOTHTTP	(1u << 29)	/* the stream did not start like HTTP */
#define F_PEEK_EOF	(1u << 30)	/* RS_BODY_PEEK falls back to RS_BODY_EOF */
#define F_AUTH		(1u << 31)	/* not HTTP: the next remain values follow a Redis AUTH */

#define F_MSG_MASK	(F_RESP | F_NOBODY | F_CHUNKED | F_CL | F_CL_BAD | F_PREVSECRET | \
			 F_TRAILER | F_DIGITS | F_MAYBE_RESP | F_PEEK_EOF)

/*
 * body: what the message's body is, and where the field machine that reads
 * it stands.  JSON and form (application/x-www-form-urlencoded) bodies hold
 * secrets by field name ("password": "...", password=...); their values are
 * overwritten like a secret header's.  Bits 0-1 the kind, 2-5 the state of
 * its machine, then flags.
 */
#define BK_MASK		0x3u
#define BK_JSON		1u	/* Content-Type ...json, or a body starting with { or [ */
#define BK_FORM		2u	/* Content-Type application/x-www-form-urlencoded */
#define BK_SNIFF	3u	/* no Content-Type: the first body byte decides */
#define BS_SHIFT	2
#define BS_MASK		(0xfu << BS_SHIFT)
#define B_LASTSECRET	(1u << 6)	/* JSON: the string just closed had a secret name */
#define B_INARR		(1u << 7)	/* JSON: overwriting an array of strings */
#define B_CAND_CT	(1u << 8)	/* the header name so far may be Content-Type */
#define B_CT_SEEN	(1u << 9)	/* this message has a Content-Type */
#define B_CUTKEY	(1u << 10)	/* bytes were lost inside a name: its value is secret */

/* JSON: every run between two double quotes is a candidate name, and one
 * followed by a colon is a name.  That holds whichever quote we start
 * counting from, so the machine finds names again after bytes were lost
 * without knowing whether it stands inside a string. */
enum jstate {
	J_SEG = 0,	/* between two quotes: matching a possible name */
	J_SEG_ESC,	/* after a backslash in it */
	J_AFTER,	/* after a closing quote: a colon makes it a name */
	J_COLON,	/* after a secret name's colon: its value? */
	J_VAL,		/* a secret string value: overwrite up to its quote */
	J_VAL_ESC,	/* after a backslash in it: overwrite the escaped byte */
	J_ARR,		/* a secret name's array: its strings are overwritten */
};

/* Form: name=value pairs joined by '&'. */
enum fstate {
	FM_NAME = 0,	/* matching a field name */
	FM_VAL,		/* a value, kept */
	FM_VAL_SECRET,	/* a secret field's value: overwrite up to '&' */
};

#define MAX_START_TOKEN 24	/* longer than any method or "HTTP/1.1" */
#define MAX_SCAN_NAME 128	/* in scan mode, a longer "name" is not a header */
#define MAX_LENGTH (1ULL << 60)	/* bigger Content-Length or chunk size: give up framing */

/* Words that make a header name secret, matched on the name lowercased and
 * without '-' and '_'.  At most 8 (4 bits of aux each), each < 16 bytes. */
static const char *const secret_words[] = {
	"auth", "cookie", "token", "secret", "passw", "apikey", "session", "credential",
};
#define NWORDS (sizeof(secret_words) / sizeof(secret_words[0]))
static const unsigned char word_len[NWORDS] = { 4, 6, 5, 6, 5, 6, 7, 10 };

static const char name_cl[] = "content-length";
static const char name_te[] = "transfer-encoding";
static const char name_ct[] = "content-type";

static inline unsigned get_state(const struct redact_state *s) { return s->st & 0xff; }
static inline unsigned get_pos(const struct redact_state *s) { return (s->st >> 8) & 0xff; }

static inline void set_state(struct redact_state *s, unsigned state, unsigned pos)
{
	s->st = (s->st & 0xffff0000u) | (state & 0xff) | ((pos & 0xff) << 8);
}

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline uint64_t load64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t load32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Knuth-Morris-Pratt failure function of each word: word_pi[i][k] is the
 * length of the longest proper prefix of the word's first k+1 bytes that is
 * also their suffix.  Only "session" has one ("s", "s"); test_redact checks
 * every word through redact_is_secret_name. */
static const unsigned char word_pi[NWORDS][10] = {
	[6] = { 0, 0, 1, 1, 0, 0, 0 },
};

/* KMP step: the new count of matched bytes of word i after reading c with
 * k matched. */
static unsigned word_step(unsigned i, unsigned k, unsigned char c)
{
	const char *w = secret_words[i];

	while (k > 0 && (unsigned char)w[k] != c)
		k = word_pi[i][k - 1];
	return (unsigned char)w[k] == c ? k + 1 : 0;
}

/*
 * --redact NAME: names matched whole, by a hash of their bytes lowercased
 * without '-' and '_' (FNV-1a, kept in nh as the name goes by, so a name
 * split across payloads still matches).  A collision hides one more value:
 * the safe side.
 */
#define NH_INIT 2166136261u
static uint32_t extra_hash[REDACT_MAX_NAMES];
static unsigned n_extra;

static inline uint32_t nh_step(uint32_t h, unsigned char lc)
{
	return (h ^ lc) * 16777619u;
}

static void name_memo_clear(void);

static bool extra_secret(uint32_t h)
{
	for (unsigned i = 0; i < n_extra; i++)
		if (extra_hash[i] == h)
			return true;
	return false;
}

int redact_add_name(const char *name)
{
	uint32_t h = NH_INIT;
	size_t m = 0;

	if (!name || n_extra >= REDACT_MAX_NAMES) {
		errno = EINVAL;
		return -1;
	}
	for (const char *c = name; *c; c++) {
		if (*c == '-' || *c == '_')
			continue;
		h = nh_step(h, lower((unsigned char)*c));
		m++;
	}
	if (!m) {
		errno = EINVAL;
		return -1;
	}
	extra_hash[n_extra++] = h;
	name_memo_clear();	/* verdicts made without this name */
	return 0;
}

/* A field name (JSON key, form or query field) starts: clear the matchers. */
static void field_begin(struct redact_state *s)
{
	s->st &= ~F_SECRET_NAME;
	s->aux = 0;
	s->nh = NH_INIT;
}

/* Is the name just read secret: a secret word in it, or a --redact name? */
static inline bool name_secret(const struct redact_state *s)
{
	return (s->st & F_SECRET_NAME) || (n_extra && extra_secret(s->nh));
}

/* Start a header name: clear the matchers. */
static void name_begin(struct redact_state *s)
{
	field_begin(s);
	s->st &= ~F_PREVSECRET;
	s->st |= F_CAND_CL | F_CAND_TE;
	s->body |= B_CAND_CT;
	set_state(s, RS_NAME, 0);
}

/* One byte (lowercased, not '-' or '_') of a name to the secret-word
 * matchers (their states in aux); sets F_SECRET_NAME on a match. */
static void word_feed(struct redact_state *s, unsigned char lc)
{
	if (n_extra)
		s->nh = nh_step(s->nh, lc);
	/* fast path: no word partly matched and c starts none of them */
	if (s->aux == 0 && lc != 'a' && lc != 'c' && lc != 's' && lc != 't' && lc != 'p')
		return;
	for (unsigned i = 0; i < NWORDS; i++) {
		unsigned k = (s->aux >> (4 * i)) & 0xf;

		if (k == 0 && lc != (unsigned char)secret_words[i][0])
			continue;
		k = word_step(i, k, lc);
		if (k == word_len[i]) {
			s->st |= F_SECRET_NAME;
			k = 0;
		}
		s->aux = (s->aux & ~(0xfu << (4 * i))) | (k << (4 * i));
	}
}

/*
 * The matchers of word_feed() as one automaton, for a run of name bytes (a
 * query parameter's or a form field's name): word_feed() costs ~150
 * instructions a byte once a word has begun, going round eight matchers.
 * Its states are the values of aux that word_feed() reaches from 0, its
 * transitions found by running word_feed() itself on a byte of each class
 * (each letter of a word; '-' and '_', skipped; any other byte), so it
 * says what word_feed() says.  Built once at start-up, read-only after.
 */
#define WA_STATES 100		/* < 128: bit 7 of wa_next marks a word's end */
#define WA_CLASSES 24
static uint8_t wa_class[256];		/* a byte, either case -> its class */
static uint8_t wa_next[WA_STATES][WA_CLASSES];	/* state, class -> state | 0x80 on a match */
static uint32_t wa_aux[WA_STATES];	/* state -> aux */
static unsigned wa_nstates;		/* 0: not built (too many states) */

__attribute__((constructor)) static void wa_build(void)
{
	unsigned char rep[WA_CLASSES] = { 0 };	/* a byte of each class; 0: no word's */
	unsigned nclass = 2, skip = 1, n = 1;	/* class 1: '-' and '_' */

	wa_class['-'] = wa_class['_'] = (uint8_t)skip;
	for (unsigned i = 0; i < NWORDS; i++)
		for (const char *c = secret_words[i]; *c; c++) {
			unsigned char lc = (unsigned char)*c;

			if (wa_class[lc])
				continue;
			if (nclass == WA_CLASSES)
				return;
			rep[nclass] = lc;
			wa_class[lc] = (uint8_t)nclass;
			if (lc >= 'a' && lc <= 'z')
				wa_class[lc - ('a' - 'A')] = (uint8_t)nclass;
			nclass++;
		}
	wa_aux[0] = 0;
	for (unsigned q = 0; q < n; q++)
		for (unsigned cl = 0; cl < nclass; cl++) {
			struct redact_state t = { .aux = wa_aux[q] };
			unsigned r = q;

			if (cl != skip) {
				word_feed(&t, rep[cl]);
				for (r = 0; r < n && wa_aux[r] != t.aux; r++)
					;
				if (r == n) {
					if (n == WA_STATES)
						return;		/* word_feed() alone, then */
					wa_aux[n++] = t.aux;
				}
			}
			wa_next[q][cl] = (uint8_t)(r | (t.st & F_SECRET_NAME ? 0x80 : 0));
		}
	wa_nstates = n;
}

/* Feed p[0..n), a run of name bytes (any case; '-' and '_' skipped), to
 * the matchers: what word_feed() on each byte does. */
static void word_run(struct redact_state *s, const uint8_t *p, size_t n)
{
	unsigned q = 0, f = 0;

	if (s->aux)
		for (q = 1; q < wa_nstates && wa_aux[q] != s->aux; q++)
			;
	if (q >= wa_nstates) {
		/* not built, or an aux it does not know: byte by byte */
		for (size_t j = 0; j < n; j++)
			if (p[j] != '-' && p[j] != '_')
				word_feed(s, lower(p[j]));
		return;
	}
	if (n_extra)
		for (size_t j = 0; j < n; j++)
			if (p[j] != '-' && p[j] != '_')
				s->nh = nh_step(s->nh, lower(p[j]));
	for (size_t j = 0; j < n; j++) {
		unsigned x = wa_next[q][wa_class[p[j]]];

		f |= x;
		q = x & 0x7f;
	}
	s->aux = wa_aux[q];
	if (f & 0x80)
		s->st |= F_SECRET_NAME;
}

/* Feed one byte of a header name to the matchers. */
static void name_byte(struct redact_state *s, unsigned char c)
{
	unsigned pos = get_pos(s);
	unsigned char lc = lower(c);

	if (pos >= sizeof(name_cl) - 1 || (unsigned char)name_cl[pos] != lc)
		s->st &= ~F_CAND_CL;
	if (pos >= sizeof(name_te) - 1 || (unsigned char)name_te[pos] != lc)
		s->st &= ~F_CAND_TE;
	if (pos >= sizeof(name_ct) - 1 || (unsigned char)name_ct[pos] != lc)
		s->body &= ~B_CAND_CT;
	if (pos < 255)
		pos++;
	set_state(s, RS_NAME, pos);

	if (c == '-' || c == '_')
		return;
	word_feed(s, lc);
}

/* A query parameter's name starts (after '?', '&' or ';'). */
static void qname_begin(struct redact_state *s)
{
	field_begin(s);
	set_state(s, RS_QNAME, 0);
}

/*
 * Redis in a stream that is not HTTP (F_NOTHTTP, scanned line by line): the
 * values after AUTH are secret, whether AUTH is a command (RESP: "*2 $4
 * AUTH $6 s3cret", or HELLO 3 AUTH user pass) or inline ("AUTH s3cret").
 * remain counts the elements left in the command in progress, from its
 * "*N" line, so AUTH hides exactly the values of its own command (when
 * that line was cut by the payload's end: up to the next command).  At a line start: returns true when it
 * took the line (RS_AUTH_WORD matches the word itself, split-safe).
 */
static bool redis_line(struct redact_state *s, const uint8_t *buf, size_t len, size_t i)
{
	unsigned char c = buf[i];
	size_t k;
	uint64_t n = 0;

	if (c == '*') {
		/* an array: a new command of n elements */
		s->st &= ~F_AUTH;
		for (k = i + 1; k < len && k < i + 8 && buf[k] >= '0' && buf[k] <= '9'; k++)
			n = n * 10 + (buf[k] - '0');
		/* its count cut by the payload's end: unknown, AUTH then hides
		 * up to the next command (the safe side) */
		s->remain = k < len && (buf[k] == '\r' || buf[k] == '\n') ? n : UINT32_MAX;
		return false;
	}
	if (c == '$') {
		if (!(s->st & F_AUTH))
			return false;
		set_state(s, RS_SKIP_EOL, 0);	/* a bulk's length: its value is next */
		return true;
	}
	/* an element of the command, or an inline command */
	if (s->remain)
		s->remain--;
	if (s->st & F_AUTH) {
		if (!s->remain)
			s->st &= ~F_AUTH;
		s->st &= ~F_PREVSECRET;
		set_state(s, RS_VAL_SECRET, 0);
		return true;
	}
	if (lower(c) != 'a')
		return false;
	set_state(s, RS_AUTH_WORD, 0);
	return true;
}

/* RS_AUTH_WORD gave up at byte c: the pos bytes matched ("auth"'s first
 * pos bytes) begin an ordinary line, looked at as a header name. */
static void auth_word_fallback(struct redact_state *s, unsigned pos)
{
	name_begin(s);
	for (unsigned k = 0; k < pos; k++)
		name_byte(s, (unsigned char)"auth"[k]);
}

/* Overwrite p[0..len) with '*'; returns len. */
static size_t stars(uint8_t *p, size_t len)
{
	memset(p, '*', len);
	return len;
}

/* Does c end a query parameter (its name or value), or the query? */
static inline bool query_stop(unsigned char c)
{
	return c == '&' || c == ';' || c == ' ' || c == '\r' || c == '\n' || c == '#';
}

/* The colon after a name: pick the value's state. */
/*
 * A Content-Length value, one byte at a time (not its LF): pos is 0 before
 * the digits, 1 in them, 2 after; the first number counts ("5, 5"), a byte
 * before any digit makes it unusable.  The byte machine (RS_VAL_CL) and
 * head_fast() both step with this, on the state's fields or on copies.
 */
static inline __attribute__((always_inline)) unsigned cl_byte(uint32_t *st, uint64_t *remain,
							     unsigned pos, unsigned char c)
{
	if (is_digit(c) && pos < 2) {
		if (*remain < MAX_LENGTH)
			*remain = *remain * 10 + (c - '0');
		*st |= F_DIGITS;
		return 1;
	}
	if (c == ' ' || c == '\t' || c == '\r')
		return pos == 1 ? 2 : pos;
	if (pos == 1)
		return 2;	/* "5, 5": keep the first */
	if (pos == 0)
		*st = (*st | F_CL_BAD) & ~F_DIGITS;
	return 2;
}

/* The flags once a Content-Length value's line has ended. */
static inline uint32_t cl_end(uint32_t st, uint64_t remain)
{
	return st | ((st & F_DIGITS) && remain < MAX_LENGTH ? F_CL : F_CL_BAD);
}

/* A Transfer-Encoding value, one byte at a time: aux is how much of
 * "chunked" matched (its 'c' occurs once, so restarting on a mismatch is
 * exact); returns the new aux. */
static inline uint32_t te_byte(uint32_t *st, uint32_t aux, unsigned char c)
{
	unsigned char lc = lower(c);

	aux = lc == (unsigned char)"chunked"[aux] ? aux + 1 : lc == 'c';
	if (aux == 7) {
		*st |= F_CHUNKED;
		aux = 0;
	}
	return aux;
}

static void name_end(struct redact_state *s)
{
	unsigned len = get_pos(s);

	if (name_secret(s)) {
		s->st |= F_PREVSECRET;
		set_state(s, RS_VAL_SECRET, 0);
	} else if (!(s->st & F_SCAN) && (s->st & F_CAND_CL) && len == sizeof(name_cl) - 1) {
		s->remain = 0;
		s->st &= ~F_DIGITS;
		set_state(s, RS_VAL_CL, 0);
	} else if (!(s->st & F_SCAN) && (s->st & F_CAND_TE) && len == sizeof(name_te) - 1) {
		s->aux = 0;
		set_state(s, RS_VAL_TE, 0);
	} else if (!(s->st & F_SCAN) && (s->body & B_CAND_CT) && len == sizeof(name_ct) - 1) {
		s->body = (s->body & ~BK_MASK) | B_CT_SEEN;
		set_state(s, RS_VAL_CT, 0);
	} else {
		set_state(s, RS_SKIP_EOL, 0);
	}
}

/* How bulk_name() takes each byte of a header name: part of it, part of it
 * but not of the words ('-', '_'), an end (colon, blanks, CR, LF), or a
 * control or non-ASCII byte (an end in scan mode only).  Ordered so that
 * one comparison with the mode's limit tells an end. */
enum { NC_NAME, NC_SKIP, NC_CTRL, NC_STOP };
static const uint8_t name_class[256] = {
	[0 ... 8] = NC_CTRL, ['\t'] = NC_STOP, ['\n'] = NC_STOP, [11 ... 12] = NC_CTRL,
	['\r'] = NC_STOP, [14 ... 31] = NC_CTRL, [' '] = NC_STOP, ['-'] = NC_SKIP,
	[':'] = NC_STOP, ['_'] = NC_SKIP, [0x7f ... 0xff] = NC_CTRL,
};

/* Whether a name (n bytes, n <= sizeof tmp), lowercased and without '-'
 * and '_', contains a secret word: what name_byte() finds one byte at a
 * time, for a name that is whole in one payload.  The words are told by
 * their first byte, so most positions cost one comparison. */
#define BULK_NAME_MAX 64
/* The bytes that begin a secret word. */
static const uint8_t word_start[256] = { ['a'] = 1, ['c'] = 1, ['p'] = 1, ['s'] = 1, ['t'] = 1 };

static inline __attribute__((always_inline)) bool bulk_secret(unsigned char *t, size_t m)
{
	memset(t + m, 0, 16);	/* words compare against zeros past the end */
	for (size_t i = 0; i < m; i++) {
		const unsigned char *p = t + i;

		if (!word_start[*p])
			continue;
		switch (*p) {
		case 'a':
			if (!memcmp(p, "auth", 4) || !memcmp(p, "apikey", 6))
				return true;
			break;
		case 'c':
			if (!memcmp(p, "cookie", 6) || !memcmp(p, "credential", 10))
				return true;
			break;
		case 's':
			if (!memcmp(p, "secret", 6) || !memcmp(p, "session", 7))
				return true;
			break;
		case 't':
			if (!memcmp(p, "token", 5))
				return true;
			break;
		case 'p':
			if (!memcmp(p, "passw", 5))
				return true;
			break;
		}
	}
	return false;
}

/*
 * Byte searches for the whole-head fast path (head_fast): a header line is
 * ~20-40 bytes, where a memchr call's set-up costs as much as the search,
 * and a line needs two (its colon, its LF).  SSE2 (x86-64's baseline) reads
 * 16 bytes a step; a tail of fewer than 16 is read as the last 16 bytes
 * before end when lo..end holds that many, so no load leaves the payload.
 * Without SSE2: memchr, or a byte loop.
 */
#if defined(__SSE2__)
static inline unsigned eq16(const uint8_t *p, __m128i v)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), v));
}
#endif

/* The first byte c in p[0..end), or NULL; lo <= p is where the payload
 * starts. */
static inline const uint8_t *find_byte(const uint8_t *lo, const uint8_t *p, const uint8_t *end,
				       uint8_t c)
{
#if defined(__SSE2__)
	const __m128i v = _mm_set1_epi8((char)c);
	unsigned m;

	for (; end - p >= 16; p += 16)
		if ((m = eq16(p, v)))
			return p + __builtin_ctz(m);
	if (p == end)
		return NULL;
	if (end - lo >= 16) {
		m = eq16(end - 16, v) >> (16 - (end - p));
		return m ? p + __builtin_ctz(m) : NULL;
	}
#else
	(void)lo;
#endif
	return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

/* A request target's end or query: the first '?', ' ' or LF in p[0..end),
 * or end (what RS_TARGET's loop finds). */
static inline const uint8_t *target_stop(const uint8_t *lo, const uint8_t *p, const uint8_t *end)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('?'), sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
	unsigned m;

	for (; end - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);

		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q),
			_mm_cmpeq_epi8(x, sp)), _mm_cmpeq_epi8(x, nl)));
		if (m)
			return p + __builtin_ctz(m);
	}
	if (p < end && end - lo >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));

		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q),
			_mm_cmpeq_epi8(x, sp)), _mm_cmpeq_epi8(x, nl)));
		m >>= 16 - (end - p);
		return m ? p + __builtin_ctz(m) : end;
	}
#else
	(void)lo;
#endif
	while (p < end && *p != '?' && *p != ' ' && *p != '\n')
		p++;
	return p;
}

/* The body kind a Content-Type value (v, m bytes, whole) names: JSON when
 * it contains "json" (application/json, ...+json, text/json), a form when
 * it contains "urlencoded", else 0: what the byte machine (RS_VAL_CT)
 * finds when the value is split, so the result never depends on where the
 * payloads were cut.  Only a 'j' or a 'u' can begin either word: those are
 * found 16 bytes at a time (SSE2), the words then compared 4 and 8 bytes at
 * once (both are letters only, so OR 0x20 lowercases exactly as
 * strncasecmp does).  Common values ("text/plain") hold neither. */
static inline bool word_at(const uint8_t *v, size_t m, size_t i, bool *form)
{
	if ((v[i] | 0x20) == 'j')
		return m - i >= 4 && (load32(v + i) | 0x20202020u) == load32("json");
	if (m - i >= 10 && (load64(v + i) | 0x2020202020202020ull) == load64("urlencoded") &&
	    ((v[i + 8] | 0x20) == 'e') && ((v[i + 9] | 0x20) == 'd'))
		*form = true;
	return false;
}

#if defined(__SSE2__)
/* The bytes of p[0..16) that are 'j' or 'u', either case. */
static inline unsigned ju16(const uint8_t *p)
{
	__m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)p), _mm_set1_epi8(0x20));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('j')),
							_mm_cmpeq_epi8(x, _mm_set1_epi8('u'))));
}
#endif

/* lo <= v: where the payload starts (a short value's tail is read as the
 * 16 bytes before its end). */
static unsigned ct_kind(const uint8_t *lo, const uint8_t *v, size_t m)
{
	bool form = false;
	size_t i = 0;

#if defined(__SSE2__)
	unsigned at;	/* the 'j' and 'u' bytes of the 16 */

	for (; m - i >= 16; i += 16)
		for (at = ju16(v + i); at; at &= at - 1)
			if (word_at(v, m, i + (size_t)__builtin_ctz(at), &form))
				return BK_JSON;
	if (i < m && (size_t)(v + m - lo) >= 16) {
		for (at = ju16(v + m - 16) >> (16 - (m - i)); at; at &= at - 1)
			if (word_at(v, m, i + (size_t)__builtin_ctz(at), &form))
				return BK_JSON;
		return form ? BK_FORM : 0;
	}
#else
	(void)lo;
#endif
	for (; i < m; i++) {
		unsigned char c = v[i] | 0x20;

		if ((c == 'j' || c == 'u') && word_at(v, m, i, &form))
			return BK_JSON;
	}
	return form ? BK_FORM : 0;
}

/* The --redact hash of a name already lowercased, without - and _. */
static uint32_t bulk_hash(const unsigned char *t, size_t m)
{
	uint32_t h = NH_INIT;

	for (size_t j = 0; j < m; j++)
		h = nh_step(h, t[j]);
	return h;
}

/* Whether a name given whole (t, m bytes, lowercased, without - and _,
 * with 16 bytes of room after them) is secret: what name_secret() says
 * of a name fed byte by byte. */
static bool whole_name_secret(unsigned char *t, size_t m)
{
	return bulk_secret(t, m) || (n_extra && extra_secret(bulk_hash(t, m)));
}

/*
 * What bulk_name() found for the header names it has seen, by their exact
 * bytes: a server sends the same dozen names on every message, and telling
 * one (lowercase copy, secret words, the framing names) was a fifth of
 * httpcap's CPU under load (perf, nginx return-200 at ~170k requests/s).
 * A name is kept only when it is made of name bytes up to its colon, so
 * its verdict is the same in scan mode and out of it; a direct-mapped
 * table, a slot per hash of the first and last 8 bytes and the length;
 * emptied when --redact adds a name.  httpcap's one drain thread is the
 * only user.
 */
#define NAME_MEMO_SLOTS 256
#define NAME_MEMO_LEN 32
enum { NM_SECRET = 1, NM_CL = 2, NM_TE = 4, NM_CT = 8 };

struct name_memo {
	uint64_t wa, wb;	/* name_words() of the name */
	uint8_t len;		/* 0: empty */
	uint8_t verdict;	/* NM_* */
	char name[NAME_MEMO_LEN];
} __attribute__((aligned(64)));	/* a slot's address is a shift */

static struct name_memo name_memo[NAME_MEMO_SLOTS];

static void name_memo_clear(void)
{
	memset(name_memo, 0, sizeof(name_memo));
}

/* Its first and last bytes as two words (overlapping when k < 16): the
 * slot's hash and the first test of a match, without a byte loop. */
static inline void name_words(const uint8_t *p, size_t k, uint64_t *a, uint64_t *b)
{
	if (k >= 8) {
		*a = load64(p);
		*b = load64(p + k - 8);
	} else if (k >= 4) {
		*a = load32(p);
		*b = load32(p + k - 4);
	} else {
		*a = p[0] | (uint64_t)p[k / 2] << 8 | (uint64_t)p[k - 1] << 16;
		*b = 0;
	}
}

static inline unsigned name_memo_slot(uint64_t a, uint64_t b, size_t k)
{
	a = (a * 0x9e3779b97f4a7c15ull) ^ ((b + k) * 0xc2b2ae3d27d4eb4full);
	return (unsigned)(a >> 56) & (NAME_MEMO_SLOTS - 1);
}

/* Whether the memo's name (k bytes, k <= NAME_MEMO_LEN) is p's, whose
 * name_words() are wa and wb: those words hold every byte of a name of up
 * to 16 bytes, a longer one's middle is compared 8 bytes at a time (memcmp's
 * call cost more than the compare for names this short). */
static inline bool name_memo_eq(const struct name_memo *e, const uint8_t *p, size_t k,
				uint64_t wa, uint64_t wb)
{
	if (e->wa != wa || e->wb != wb || e->len != k)
		return false;
	if (k <= 16)
		return true;
	return load64(e->name + 8) == load64(p + 8) &&
	       (k <= 24 || load64(e->name + 16) == load64(p + 16));
}

/* The state bulk_name() leaves after a name of k bytes with verdict v. */
static inline __attribute__((always_inline)) size_t name_judged(struct redact_state *s,
								 size_t k, unsigned v)
{
	s->st &= ~(F_SECRET_NAME | F_PREVSECRET | F_CAND_CL | F_CAND_TE);
	s->body &= ~B_CAND_CT;
	if (v & NM_CL)
		s->st |= F_CAND_CL;
	if (v & NM_TE)
		s->st |= F_CAND_TE;
	if (v & NM_CT)
		s->body |= B_CAND_CT;
	if (v & NM_SECRET)
		s->st |= F_SECRET_NAME;
	s->nh = NH_INIT;	/* judged whole here, by F_SECRET_NAME */
	s->aux = 0;
	set_state(s, RS_NAME, k);
	return k;
}

/*
 * The bytes of a header name from buf[0], up to the first byte that ends
 * it (colon, blank, CR, LF; in scan mode also a control byte or the length
 * limit), when that byte is in this payload: the state becomes what
 * name_begin() and name_byte() per byte would leave, with pos the name's
 * length, and the returned count of name bytes is consumed; the ending
 * byte is left to the byte machine.  Returns 0 (nothing done) when the
 * name runs to the end of the payload or is long: then bytes go one by one.
 */
static size_t bulk_name(struct redact_state *s, const uint8_t *buf, size_t len)
{
	unsigned char t[BULK_NAME_MAX + 16];	/* lowercased, without - and _ */
	unsigned stop = (s->st & F_SCAN) ? NC_CTRL : NC_STOP;
	size_t k = 0, m = 0, lim = len < BULK_NAME_MAX ? len : BULK_NAME_MAX;
	const uint8_t *colon = memchr(buf, ':', len <= NAME_MEMO_LEN ? len : NAME_MEMO_LEN + 1);
	struct name_memo *e = NULL;
	uint64_t e_wa = 0, e_wb = 0;	/* the name's words, for the memo */
	unsigned v = 0;
	bool plain = true;	/* name bytes only */

	if (colon && colon > buf) {
		uint64_t wa, wb;

		k = (size_t)(colon - buf);
		name_words(buf, k, &wa, &wb);
		e = &name_memo[name_memo_slot(wa, wb, k)];
		if (name_memo_eq(e, buf, k, wa, wb))
			return name_judged(s, k, e->verdict);
		e_wa = wa;
		e_wb = wb;
		k = 0;
	}
	/* (BULK_NAME_MAX < MAX_SCAN_NAME: scan mode's length limit is the
	 * byte machine's) */
	for (; k < lim; k++) {
		unsigned char c = buf[k];
		unsigned cl = name_class[c];

		if (cl >= stop)
			break;
		plain &= cl < NC_CTRL;
		t[m] = lower(c);
		m += cl != NC_SKIP;
	}
	if (k == len || k == BULK_NAME_MAX || k == 0)
		return 0;
	if (k == sizeof(name_cl) - 1 && !strncasecmp((const char *)buf, name_cl, k))
		v |= NM_CL;
	if (k == sizeof(name_te) - 1 && !strncasecmp((const char *)buf, name_te, k))
		v |= NM_TE;
	if (k == sizeof(name_ct) - 1 && !strncasecmp((const char *)buf, name_ct, k))
		v |= NM_CT;
	if (whole_name_secret(t, m))
		v |= NM_SECRET;
	if (e && plain && buf + k == colon) {
		e->wa = e_wa;
		e->wb = e_wb;
		e->len = (uint8_t)k;
		e->verdict = (uint8_t)v;
		memcpy(e->name, buf, k);
	}
	return name_judged(s, k, v);
}

/* Lost our place: scan lines for secret headers until a start line. */
static void go_scan(struct redact_state *s, unsigned state)
{
	s->st = (s->st & F_NOTHTTP) | F_SCAN;
	s->remain = 0;
	s->aux = 0;
	s->body = 0;
	set_state(s, state, 0);
}

/* A message begins here. */
static void msg_reset(struct redact_state *s)
{
	s->st = 0;
	s->aux = 0;
	s->remain = 0;
	s->body = 0;
}

/*
 * A response head announced a body, but the next response may follow at
 * once: the answer to a HEAD request, whose Content-Length describes the
 * body it did not send.  The first bytes of such a body are compared with
 * "HTTP/1.x nnn" before they are counted as body (RS_BODY_PEEK), even when
 * they arrive split across payloads.
 */
static void body_peek(struct redact_state *s, bool until_eof)
{
	s->aux = 0;
	if (until_eof)
		s->st |= F_PEEK_EOF;
	else
		s->st &= ~F_PEEK_EOF;
	set_state(s, RS_BODY_PEEK, 0);
}

/* The blank line after the head: decide how the body is framed.  Inlined:
 * head_fast() calls it on the state it has just written. */
static inline __attribute__((always_inline)) void head_end(struct redact_state *s)
{
	uint32_t f = s->st;

	/* the body's field machine starts at its first byte; without a
	 * Content-Type, that byte tells JSON */
	s->body &= BK_MASK | B_CT_SEEN;
	if (!(s->body & B_CT_SEEN))
		s->body |= BK_SNIFF;
	field_begin(s);
	if (f & F_SCAN) {
		set_state(s, RS_LINE, 0);
	} else if ((f & F_TRAILER) || ((f & F_RESP) && (f & F_NOBODY))) {
		msg_reset(s);
	} else if (f & F_CHUNKED) {
		s->remain = 0;
		s->st &= ~F_DIGITS;
		set_state(s, RS_CHUNK_SIZE, 0);
	} else if (f & F_CL_BAD) {
		go_scan(s, RS_LINE);
	} else if (f & F_CL) {
		if (!s->remain)
			msg_reset(s);
		else if (f & F_RESP)
			body_peek(s, false);
		else
			set_state(s, RS_BODY_CL, 0);
	} else if (f & F_RESP) {
		body_peek(s, true);
	} else {
		msg_reset(s);	/* a request without a body */
	}
}

/* End of a chunk-size line. */
static void chunk_line_end(struct redact_state *s)
{
	if (!(s->st & F_DIGITS)) {
		go_scan(s, RS_LINE);
	} else if (s->remain == 0) {
		s->st |= F_TRAILER;
		s->st &= ~F_PREVSECRET;
		set_state(s, RS_LINE, 0);
	} else {
		set_state(s, RS_CHUNK_DATA, 0);
	}
}

static size_t body_scan(struct redact_state *s, uint8_t *p, size_t n);

/* The body's first bytes after a head taken by head_fast(), buf[i] and on
 * (i < len): what RS_BODY_PEEK does with a first byte that cannot begin
 * "HTTP/1.", and RS_BODY_CL, without going round the byte machine. */
static inline size_t body_start(struct redact_state *s, uint8_t *buf, size_t len, size_t i,
				size_t *redacted)
{
	unsigned state = get_state(s);
	uint64_t take;

	if (state == RS_BODY_PEEK) {
		if (buf[i] == 'H')
			return i;	/* maybe the next response */
		s->aux = 0;
		state = (s->st & F_PEEK_EOF) ? RS_BODY_EOF : RS_BODY_CL;
		set_state(s, state, 0);
	}
	if (state != RS_BODY_CL)
		return i;
	take = len - i;
	if (take > s->remain)
		take = s->remain;
	if (s->body & BK_MASK)
		*redacted += body_scan(s, buf + i, (size_t)take);
	i += take;
	s->remain -= take;
	if (s->remain == 0)
		msg_reset(s);
	return i;
}

/* RS_VAL_SECRET over a whole value v[0..nl): overwrite it, keeping the
 * blanks (and CRs) before it and every CR in it; a run between CRs at once
 * (a cookie is often hundreds of bytes).  Returns the bytes overwritten.
 * Out of line (and "cold" only so that the compiler keeps head_fast()'s
 * registers for the common line: 3 instructions an event on bench.htc). */
static __attribute__((noinline, cold)) size_t stars_value(const uint8_t *lo, uint8_t *v, const uint8_t *nl)
{
	size_t n = 0;

	while (v < nl && (*v == ' ' || *v == '\t' || *v == '\r'))
		v++;
	while (v < nl) {
		const uint8_t *cr = find_byte(lo, v, nl, '\r');
		size_t run = (size_t)((cr ? cr : nl) - v);

		memset(v, '*', run);
		n += run;
		v += run + 1;	/* past the CR, or nl */
	}
	return n;
}

/* What name_judged() sets for a verdict: the flags in st, in body. */
#define NAME_ST_BITS (F_SECRET_NAME | F_PREVSECRET | F_CAND_CL | F_CAND_TE)
static const uint32_t verdict_st[16] = {
#define VST(v) [v] = ((v) & NM_SECRET ? F_SECRET_NAME : 0) | ((v) & NM_CL ? F_CAND_CL : 0) | \
		     ((v) & NM_TE ? F_CAND_TE : 0)
	VST(0), VST(1), VST(2), VST(3), VST(4), VST(5), VST(6), VST(7),
	VST(8), VST(9), VST(10), VST(11), VST(12), VST(13), VST(14), VST(15),
#undef VST
};

/*
 * The fast path over a head's header lines (issue 12: the redactor was
 * the largest cost of httpcap's drain thread, ~1,100 instructions per
 * event on keep-alive traffic).  A payload nearly always holds whole lines,
 * often a whole head: here each line is taken whole, as the byte machine
 * would take it split at any byte, but with one search for its colon, a
 * name verdict from the memo, one search for its LF, and the machine's
 * fields kept in locals (the state is written back once, not per byte).
 * Secret, Content-Length, Transfer-Encoding and Content-Type values are
 * handled here by the same rules as RS_VAL_SECRET, RS_VAL_CL, RS_VAL_TE
 * and RS_VAL_CT, whose code they copy.  Anything else (obs-fold, a CR not
 * followed by LF, a line or name running past the payload, a name that
 * does not end at a colon) stops the fast path where the byte machine
 * would then stand: at the line's start (RS_LINE), or after the name
 * (RS_NAME, its verdict set as bulk_name() sets it), and the byte machine
 * goes on from there.  Entered at a line start (RS_LINE) outside scan
 * mode and outside non-HTTP streams; returns the new index, and i with
 * the state still RS_LINE when it took nothing.  The blank line ends the
 * head (head_end()).  Overwritten bytes are added to *redacted.
 */
static size_t head_fast(struct redact_state *s, uint8_t *buf, size_t len, size_t i,
			size_t *redacted)
{
	uint8_t *const start = buf + i, *const end = buf + len;
	uint8_t *p = start;	/* the line's start */
	uint32_t st = s->st, body = s->body, aux = s->aux;
	uint64_t remain = s->remain;
	unsigned state = RS_LINE, pos = 0;	/* where the byte machine goes on */
	/* a --redact name whose hash is that of no byte: name_secret() of
	 * every name judged whole (its nh left at NH_INIT) */
	const bool init_secret = n_extra && extra_secret(NH_INIT);
	size_t n = 0;
#if defined(__SSE2__)
	const __m128i vcolon = _mm_set1_epi8(':'), vnl = _mm_set1_epi8('\n');
#endif

/* Write the state back: nh is NH_INIT once a name was judged (every line
 * taken, or one left in RS_NAME), as name_judged() leaves it. */
#define HEAD_PUT(state_, pos_) do {							\
		if (p != start || (state_) == RS_NAME)					\
			s->nh = NH_INIT;						\
		s->st = (st & 0xffff0000u) | (state_) | (pos_) << 8;			\
		s->body = body;								\
		s->aux = aux;								\
		s->remain = remain;							\
		*redacted += n;								\
		n = 0;									\
	} while (0)

	while (p < end) {
		const uint8_t *colon, *nl = NULL;
		uint8_t *v;
		unsigned char c = *p;
#if defined(__SSE2__)
		unsigned m;
#endif
		unsigned verdict;	/* nonzero: its value matters (secret, framing, type) */
		size_t k;

		if (c <= ' ') {
			if (c == '\r' || c == '\n') {
				/* the blank line, unless its CR is alone here */
				if (c == '\r' && (p + 1 == end || p[1] != '\n'))
					break;
				HEAD_PUT(RS_LINE, 0);
				head_end(s);
				i = (size_t)(p - buf) + 1 + (c == '\r');
				return i < len ? body_start(s, buf, len, i, redacted) : i;
			}
			if (c == ' ' || c == '\t')
				break;	/* obs-fold */
		}

		/* the name: judged by the memo as bulk_name() does, else by it */
		k = 0;
#if defined(__SSE2__)
		/* most names end within 16 bytes: one load */
		if (end - p >= 16 && (m = eq16(p, vcolon)))
			k = (unsigned)__builtin_ctz(m);
		else
#endif
		if ((colon = find_byte(buf, p, end - p <= NAME_MEMO_LEN ? end : p + NAME_MEMO_LEN + 1, ':')))
			k = (size_t)(colon - p);
		if (k) {
			uint64_t wa, wb;
			const struct name_memo *e;

			name_words(p, k, &wa, &wb);
			e = &name_memo[name_memo_slot(wa, wb, k)];
			if (name_memo_eq(e, p, k, wa, wb)) {
				/* what name_judged() leaves */
				verdict = e->verdict;
				st &= ~NAME_ST_BITS;
				body &= ~B_CAND_CT;
				aux = 0;
				if (verdict) {
					st |= verdict_st[verdict];
					if (verdict & NM_CT)
						body |= B_CAND_CT;
				}
			} else {
				k = 0;
			}
		}
		if (!k) {
			HEAD_PUT(RS_LINE, 0);
			k = bulk_name(s, p, (size_t)(end - p));
			if (!k) {
				/* a long name, or one running past the payload */
				name_begin(s);
				return (size_t)(p - buf);
			}
			st = s->st;
			body = s->body;
			aux = s->aux;
			verdict = (st & (F_SECRET_NAME | F_CAND_CL | F_CAND_TE)) || (body & B_CAND_CT);
		}
		v = p + k + 1;
		if (p[k] == ':') {
#if defined(__SSE2__)
			if (end - v >= 16 && (m = eq16(v, vnl)))
				nl = v + __builtin_ctz(m);
			else
#endif
				nl = find_byte(buf, v, end, '\n');
		}
		if (!nl) {
			/* what follows the name goes byte by byte */
			p += k;
			state = RS_NAME;
			pos = (unsigned)k;
			break;
		}
		p = (uint8_t *)nl + 1;
		if (!verdict)
			continue;	/* the common line: nothing in its value matters */

		/* the whole value here, v[0..nl): what the byte machine does
		 * with a whole line after bulk_name(): a Content-Type value
		 * read at once, any other name with a verdict through
		 * name_end() and the value's state; name_secret() there sees
		 * nh at NH_INIT */
		if (!(st & (F_SECRET_NAME | F_CAND_CL | F_CAND_TE))) {
			/* RS_VAL_CT (its name's verdict) */
			body = (body & ~BK_MASK) | B_CT_SEEN | ct_kind(buf, v, (size_t)(nl - v));
		} else if ((st & F_SECRET_NAME) || init_secret) {
			/* RS_VAL_SECRET */
			st |= F_PREVSECRET;
			n += stars_value(buf, v, nl);
		} else if ((st & F_CAND_CL) && k == sizeof(name_cl) - 1) {
			/* RS_VAL_CL: vp 0 before the digits, 1 in them, 2 after */
			unsigned vp = 0;

			remain = 0;
			st &= ~F_DIGITS;
			for (; v < nl; v++)
				vp = cl_byte(&st, &remain, vp, *v);
			st = cl_end(st, remain);
		} else if ((st & F_CAND_TE) && k == sizeof(name_te) - 1) {
			/* RS_VAL_TE: find "chunked" */
			aux = 0;
			for (; v < nl; v++)
				aux = te_byte(&st, aux, *v);
		}
	}
	HEAD_PUT(state, pos);
#undef HEAD_PUT
	return (size_t)(p - buf);
}

/* The rest of a start line from buf[i], after start_line_whole(): a
 * request's target when it has no query, then up to the LF (what
 * RS_TARGET and RS_START_REST would do), and the head's lines.  Returns
 * the new index; leaves a query to RS_TARGET's byte machine. */
static size_t start_rest(struct redact_state *s, uint8_t *buf, size_t len, size_t i, size_t *redacted)
{
	const uint8_t *end = buf + len, *q = buf + i, *nl;

	if (get_state(s) == RS_TARGET) {
		q = target_stop(buf, q, end);
		if (q == end || *q == '?')
			return i;
	}
	nl = find_byte(buf, q, end, '\n');
	if (!nl) {
		set_state(s, RS_START_REST, 4);
		return len;
	}
	s->st &= ~F_PREVSECRET;
	set_state(s, RS_LINE, 0);
	i = (size_t)(nl - buf) + 1;
	if (i < len && !(s->st & (F_SCAN | F_NOTHTTP)))
		i = head_fast(s, buf, len, i, redacted);
	return i;
}

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE", "REPORT",
	"SEARCH", "MKCALENDAR",
};

/* Whether a payload begins with an HTTP/1.x request or status line, judged
 * from its first bytes only: used to find our place again at a payload
 * boundary whose position in the stream is unknown. */
static bool looks_like_start_line(const uint8_t *b, size_t len)
{
	if (len >= 12 && memcmp(b, "HTTP/1.", 7) == 0 && is_digit(b[7]) && b[8] == ' ' &&
	    is_digit(b[9]) && is_digit(b[10]) && is_digit(b[11]))
		return true;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);

		if (len < m + 2 || memcmp(b, methods[i], m) != 0 || b[m] != ' ')
			continue;
		unsigned char t = b[m + 1];
		if (t == '/' || t == '*' || t == 'h')
			return true;
		if (strcmp(methods[i], "CONNECT") == 0 &&
		    ((t >= 'a' && t <= 'z') || is_digit(t) || t == '['))
			return true;	/* CONNECT host:port */
		return false;
	}
	return false;
}

/*
 * The start of a start line, whole in this payload (p, r bytes, p[0] an
 * upper-case letter): what RS_START_TOKEN and RS_START_REST would do byte
 * by byte, at once.  "HTTP/1.x nnn " is a status line (its code read);
 * an upper-case token and a space a request line, up to its target
 * (except "AUTH ", Redis's inline AUTH).  Advances *i and returns true, or
 * false to let the byte machine take it.
 */
/* The bytes of a method (RS_START_TOKEN's test for a request's token). */
static const uint8_t method_byte[256] = { ['A' ... 'Z'] = 1, ['-'] = 1, ['_'] = 1 };

static bool start_line_whole(struct redact_state *s, const uint8_t *p, size_t r, size_t *i)
{
	size_t k, lim = r < MAX_START_TOKEN ? r : MAX_START_TOKEN;

	if (r >= 13 && (load64(p) & 0x00ffffffffffffffull) == (load64("HTTP/1.x") & 0x00ffffffffffffffull) &&
	    is_digit(p[7]) && p[8] == ' ' &&
	    is_digit(p[9]) && is_digit(p[10]) && is_digit(p[11]) && p[12] == ' ') {
		unsigned code = (p[9] - '0') * 100u + (p[10] - '0') * 10u + (p[11] - '0');

		s->st |= F_RESP;
		if ((code >= 100 && code < 200) || code == 204 || code == 304)
			s->st |= F_NOBODY;
		s->aux = code;
		set_state(s, RS_START_REST, 4);
		*i += 13;
		return true;
	}
	for (k = 0; k < lim && method_byte[p[k]]; k++)
		;
	if (k == lim || p[k] != ' ' || (k == 4 && !memcmp(p, "AUTH", 4)))
		return false;
	s->aux = 0;
	set_state(s, RS_TARGET, 0);
	*i += k + 1;
	return true;
}

/* Bytes that can be part of a header value (RFC 9110 field-vchar, SP,
 * HTAB, obs-text) or its CR: used to tell a value's tail from a body. */
static inline bool is_value_text(unsigned char c)
{
	return c == '\t' || c == '\r' || (c >= 0x20 && c != 0x7f);
}

static inline bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Secret field values in a JSON or form body: p[0..n) are the next body
 * bytes (chunk framing already taken off).  Values are overwritten with
 * '*' inside their quotes (JSON strings, and arrays of strings, whose
 * name is secret) or up to the next '&' (form), so the body keeps its
 * length and stays valid JSON.  Numbers, true/false and objects under a
 * secret name are kept.  Returns the bytes overwritten.
 */
static size_t body_scan(struct redact_state *s, uint8_t *p, size_t n)
{
	uint32_t b = s->body;
	unsigned js = (b & BS_MASK) >> BS_SHIFT;
	size_t i = 0, w = 0;

	if ((b & BK_MASK) == BK_SNIFF) {
		while (i < n && is_blank(p[i]))
			i++;
		if (i == n)
			return 0;
		b &= ~BK_MASK;
		if (p[i] == '{' || p[i] == '[')
			b |= BK_JSON;
		s->body = b;
		if (!(b & BK_MASK))
			return 0;
		js = J_SEG;
	}

	if ((b & BK_MASK) == BK_FORM) {
		while (i < n) {
			unsigned char c = p[i];

			if (js == FM_NAME) {
				if (c == '=') {
					js = (name_secret(s) || (b & B_CUTKEY)) ? FM_VAL_SECRET : FM_VAL;
					b &= ~B_CUTKEY;
				} else if (c == '&') {
					field_begin(s);
					b &= ~B_CUTKEY;
				} else {
					/* the name's bytes here, up to its end, at once */
					size_t j = i + 1;

					while (j < n && p[j] != '=' && p[j] != '&')
						j++;
					word_run(s, p + i, j - i);
					i = j;
					continue;
				}
				i++;
				continue;
			}
			size_t j = i;
			const uint8_t *amp = find_byte(p, p + i, p + n, '&');

			j = amp ? (size_t)(amp - p) : n;
			if (js == FM_VAL_SECRET)
				w += stars(p + i, j - i);
			i = j;
			if (i < n) {
				field_begin(s);
				js = FM_NAME;
				i++;
			}
		}
		s->body = (b & ~BS_MASK) | (js << BS_SHIFT);
		return w;
	}

	while (i < n) {
		unsigned char c = p[i];

		switch (js) {
		case J_SEG:
			/* fast path, at a run's start with the matchers clear:
			 * from quote to quote at memchr speed.  A run is a name
			 * only when a colon follows its closing quote; a name
			 * is judged whole, as bulk_name() does.  Whatever is
			 * not whole in this payload goes byte by byte. */
			while (s->aux == 0 && !(s->st & F_SECRET_NAME) && s->nh == NH_INIT &&
			       !(b & B_CUTKEY)) {
				const uint8_t *q = find_byte(p, p + i, p + n, '"');
				size_t qi, e, m = 0;
				unsigned char t[BULK_NAME_MAX + 16];

				if (!q)
					break;
				qi = (size_t)(q - p);
				e = qi + 1;
				while (e < n && is_blank(p[e]))
					e++;
				if (e == n || find_byte(p, p + i, p + qi, '\\'))
					break;
				if (p[e] == ':') {
					if (qi - i > BULK_NAME_MAX)
						break;
					for (size_t k = i; k < qi; k++) {
						t[m] = lower(p[k]);
						m += p[k] != '-' && p[k] != '_';
					}
					if (whole_name_secret(t, m)) {
						b |= B_LASTSECRET;
						js = J_COLON;
						i = e + 1;
						goto next;
					}
				}
				i = qi + 1;	/* the next run starts after the quote */
			}
			if (i == n)
				break;
			c = p[i];
			if (c == '"') {
				bool secret = name_secret(s) || (b & B_CUTKEY);

				b &= ~(B_LASTSECRET | B_CUTKEY);
				if (secret)
					b |= B_LASTSECRET;
				field_begin(s);
				js = J_AFTER;
			} else if (c == '\\') {
				js = J_SEG_ESC;
			} else if (c != '-' && c != '_') {
				word_feed(s, lower(c));
			}
			i++;
			break;
		case J_SEG_ESC:
			word_feed(s, lower(c));
			js = J_SEG;
			i++;
			break;
		case J_AFTER:
			if (is_blank(c)) {
				i++;
			} else if (c == ':' && (b & B_LASTSECRET)) {
				js = J_COLON;
				i++;
			} else {
				/* c begins the next run between quotes */
				b &= ~B_LASTSECRET;
				js = J_SEG;
			}
			break;
		case J_COLON:
			if (is_blank(c)) {
				i++;
			} else if (c == '"') {
				js = J_VAL;
				i++;
			} else if (c == '[') {
				b |= B_INARR;
				js = J_ARR;
				i++;
			} else {
				b &= ~(B_LASTSECRET | B_INARR);
				js = J_SEG;
			}
			break;
		case J_ARR:
			if (is_blank(c) || c == ',') {
				i++;
			} else if (c == '"') {
				js = J_VAL;
				i++;
			} else {
				b &= ~(B_LASTSECRET | B_INARR);
				js = J_SEG;
			}
			break;
		case J_VAL: {
			size_t j = i;

			while (j < n && p[j] != '"' && p[j] != '\\')
				j++;
			w += stars(p + i, j - i);
			i = j;
			if (i == n)
				break;
			if (p[i] == '\\') {
				p[i++] = '*';
				w++;
				js = J_VAL_ESC;
				break;
			}
			i++;	/* the closing quote */
			field_begin(s);
			if (b & B_INARR) {
				js = J_ARR;
			} else {
				b &= ~B_LASTSECRET;
				js = J_AFTER;
			}
			break;
		}
		case J_VAL_ESC:
			p[i++] = '*';
			w++;
			js = J_VAL;
			break;
		default:	/* a corrupted state: start over */
			field_begin(s);
			b &= ~(B_LASTSECRET | B_INARR);
			js = J_SEG;
			break;
		}
	next:;
	}
	s->body = (b & ~BS_MASK) | (js << BS_SHIFT);
	return w;
}

/* Bytes of a JSON or form body were not captured.  The machine cannot
 * know what they held, so it stays on the safe side: a value in progress
 * stays secret to its end, a name in progress (or one the gap may have
 * held whole) makes the value after it secret. */
static void body_gap(struct redact_state *s)
{
	uint32_t b = s->body;
	unsigned js = (b & BS_MASK) >> BS_SHIFT;

	switch (b & BK_MASK) {
	case BK_JSON:
		if (js == J_VAL || js == J_VAL_ESC || js == J_COLON ||
		    (js == J_AFTER && (b & B_LASTSECRET)))
			js = J_VAL;
		else if (js != J_ARR)
			js = J_SEG, b |= B_CUTKEY;
		break;
	case BK_FORM:
		if (js == FM_NAME)
			b |= B_CUTKEY;
		else
			js = FM_VAL_SECRET;
		break;
	default:
		return;
	}
	field_begin(s);
	s->body = (b & ~BS_MASK) | (js << BS_SHIFT);
}

size_t redact_payload(struct redact_state *s, uint8_t *buf, size_t len)
{
	size_t i = 0, n = 0;

	if (!s || !buf || !len)
		return 0;

	switch (get_state(s)) {
	case RS_BODY_CL: case RS_BODY_EOF: case RS_BODY_PEEK: case RS_CHUNK_SIZE:
	case RS_CHUNK_EXT: case RS_CHUNK_DATA: case RS_CHUNK_END:
		/* A payload starting with a start line while we expected body
		 * bytes: a HEAD response's Content-Length, a body cut short, or
		 * a lying length.  Parse it as a message: the worst outcome is
		 * redacting inside a body, never missing a secret. */
		if (looks_like_start_line(buf, len))
			msg_reset(s);
		break;
	default:
		if ((s->st & F_SCAN) && looks_like_start_line(buf, len))
			msg_reset(s);
		break;
	}

	while (i < len) {
		unsigned char c = buf[i];
		unsigned pos = get_pos(s);

		switch (get_state(s)) {
		case RS_MSG_START:
			if (c == '\r' || c == '\n') {	/* RFC 9112 2.2: skip empty lines */
				i++;
				break;
			}
			s->st &= ~F_MSG_MASK;
			s->remain = 0;
			s->aux = 0;
			s->body = 0;
			if (c == 0) {
				/* maybe a PostgreSQL client's startup message (its
				 * length's high byte): checked at its 8th byte */
				set_state(s, RS_PG_START, 0);
				break;
			}
			if (c < 'A' || c > 'Z') {
				/* not HTTP/1.x: a WebSocket after 101, Redis, TLS */
				go_scan(s, RS_LINE);
				s->st |= F_NOTHTTP;
				break;
			}
			s->st &= ~F_NOTHTTP;
			if (start_line_whole(s, buf + i, len - i, &i)) {
				if (i < len)
					i = start_rest(s, buf, len, i, &n);
				break;
			}
			s->st |= F_MAYBE_RESP;
			/* aux, unused until the token ends: 1 while it may be
			 * Redis's inline "AUTH password" */
			s->aux = c == 'A';
			set_state(s, RS_START_TOKEN, 0);
			break;

		case RS_START_TOKEN:
			if (c == ' ' && pos == 4 && s->aux == 1) {
				/* Redis's inline AUTH, not an HTTP method */
				go_scan(s, RS_VAL_SECRET);
				s->st |= F_NOTHTTP;
				s->st &= ~(F_PREVSECRET | F_MAYBE_RESP);
				s->aux = 0;
				i++;
				break;
			}
			if (s->aux == 1 && (pos >= 4 || c != (unsigned char)"AUTH"[pos]))
				s->aux = 0;
			if (c == ' ') {
				if ((s->st & F_MAYBE_RESP) && pos > 5)
					s->st |= F_RESP;
				s->st &= ~F_MAYBE_RESP;
				s->aux = 0;
				/* a request's target may carry secrets in its
				 * query (?token=...) */
				set_state(s, (s->st & F_RESP) ? RS_START_REST : RS_TARGET, 0);
				i++;
				break;
			}
			if (pos < 5 && c != (unsigned char)"HTTP/"[pos])
				s->st &= ~F_MAYBE_RESP;
			if (pos >= MAX_START_TOKEN ||
			    !((c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
			      ((s->st & F_MAYBE_RESP) && (is_digit(c) || c == '.' || c == '/')))) {
				go_scan(s, RS_LINE);
				s->st |= F_NOTHTTP;
				break;	/* look at c again as a line start */
			}
			set_state(s, RS_START_TOKEN, pos + 1);
			i++;
			break;

		case RS_START_REST:
			if (!((s->st & F_RESP) && pos < 4) && c != '\n') {
				/* the rest of a request line, or of a status line
				 * after its code: only its end matters */
				const uint8_t *nl = memchr(buf + i, '\n', len - i);

				i = nl ? (size_t)(nl - buf) : len;
				break;
			}
			if (c == '\n') {
				s->st &= ~F_PREVSECRET;
				set_state(s, RS_LINE, 0);
			} else if ((s->st & F_RESP) && pos < 4) {
				/* status code: 3 digits after the version; pos 4 = done */
				if (is_digit(c) && pos < 3) {
					s->aux = s->aux * 10 + (c - '0');
					set_state(s, RS_START_REST, pos + 1);
				} else if (!(c == ' ' && pos == 0)) {
					unsigned code = s->aux;

					if (pos == 3 && ((code >= 100 && code < 200) || code == 204 ||
							 code == 304))
						s->st |= F_NOBODY;
					set_state(s, RS_START_REST, 4);
				}
			}
			i++;
			break;

		case RS_TARGET: {
			/* the path holds no secret: to its query, or its end */
			size_t j = i;

			while (j < len && buf[j] != '?' && buf[j] != ' ' && buf[j] != '\n')
				j++;
			i = j;
			if (j == len)
				break;
			if (buf[j] == '?') {
				qname_begin(s);
				i++;
			} else {
				set_state(s, RS_START_REST, 4);	/* the rest of the line */
			}
			break;
		}

		/*
		 * PostgreSQL's frontend: length-framed messages, so that a
		 * PasswordMessage ('p': cleartext or MD5 password, SASL/SCRAM
		 * responses) is overwritten whole, its length kept.  Startup,
		 * SSL, GSS and cancel requests are untyped: length, code.
		 */
		case RS_PG_START:
			s->remain = s->remain << 8 | c;
			i++;
			if (pos + 1 < 8) {
				set_state(s, RS_PG_START, pos + 1);
				break;
			}
			{
				uint64_t l = s->remain >> 32, code = s->remain & 0xffffffffu;

				if (l < 8 || l > 10000 || (code != 196608 && code != 80877103 &&
							     code != 80877104 && code != 80877102)) {
					/* not PostgreSQL after all */
					go_scan(s, RS_LINE);
					s->st |= F_NOTHTTP;
					break;
				}
				s->st |= F_NOTHTTP;
				s->aux = l == 8 ? PG_UNTYPED_NEXT : 0;
				s->remain = l - 8;
				set_state(s, s->remain ? RS_PG_BODY : RS_PG_TYPE, 0);
			}
			break;

		case RS_PG_TYPE:
			if (s->aux & PG_UNTYPED_NEXT) {
				s->remain = 0;
				set_state(s, RS_PG_START, 0);
				break;
			}
			s->aux = c;
			s->remain = 0;
			set_state(s, RS_PG_LEN, 0);
			i++;
			break;

		case RS_PG_LEN:
			s->remain = s->remain << 8 | c;
			i++;
			if (pos + 1 < 4) {
				set_state(s, RS_PG_LEN, pos + 1);
				break;
			}
			if (s->remain < 4 || s->remain > (1u << 30)) {
				go_scan(s, RS_LINE);	/* framing lost */
				s->st |= F_NOTHTTP;
				break;
			}
			s->remain -= 4;
			set_state(s, s->remain ? RS_PG_BODY : RS_PG_TYPE, 0);
			break;

		case RS_PG_BODY: {
			uint64_t take = len - i;

			if (take > s->remain)
				take = s->remain;
			if ((s->aux & 0xff) == 'p')
				n += stars(buf + i, (size_t)take);
			i += take;
			s->remain -= take;
			if (!s->remain)
				set_state(s, RS_PG_TYPE, 0);
			break;
		}

		case RS_AUTH_WORD:
			if (pos < 4 && lower(c) == (unsigned char)"auth"[pos]) {
				set_state(s, RS_AUTH_WORD, pos + 1);
				i++;
			} else if (pos == 4 && (c == '\r' || c == '\n') && s->remain) {
				/* AUTH [username] password: the rest of its command */
				s->st |= F_AUTH;
				set_state(s, RS_SKIP_EOL, 0);
			} else if (pos == 4 && c == ' ') {
				/* inline: AUTH [username] password */
				s->st &= ~F_PREVSECRET;
				set_state(s, RS_VAL_SECRET, 0);
				i++;
			} else {
				auth_word_fallback(s, pos);
			}
			break;

		case RS_QNAME:
			/* a name is secret as a header name is (secret_words[],
			 * '-' and '_' ignored): token, access_token, api_key,
			 * password, client_secret, session... */
			if (c == '=') {
				set_state(s, name_secret(s) ? RS_QVAL_SECRET : RS_QVAL, 0);
				i++;
			} else if (c == '&' || c == ';') {
				qname_begin(s);
				i++;
			} else if (query_stop(c)) {
				set_state(s, RS_START_REST, 4);
			} else {
				/* the name's bytes here, up to its end, at once */
				size_t j = i + 1;

				while (j < len && buf[j] != '=' && !query_stop(buf[j]))
					j++;
				word_run(s, buf + i, j - i);
				i = j;
			}
			break;

		case RS_QVAL:
		case RS_QVAL_SECRET: {
			bool secret = get_state(s) == RS_QVAL_SECRET;

			while (i < len && !query_stop(buf[i])) {
				if (secret) {
					buf[i] = '*';
					n++;
				}
				i++;
			}
			if (i == len)
				break;
			if (buf[i] == '&' || buf[i] == ';') {
				qname_begin(s);
				i++;
			} else {
				set_state(s, RS_START_REST, 4);
			}
			break;
		}

		case RS_LINE:
			/* in a head: whole lines the fast way; what it leaves
			 * (a lone CR, obs-fold), and scan mode's lines, below */
			if (!(s->st & (F_SCAN | F_NOTHTTP))) {
				size_t j = head_fast(s, buf, len, i, &n);

				if (j != i || get_state(s) != RS_LINE) {
					i = j;
					break;
				}
			}
			if (c == '\r' && i + 1 < len && buf[i + 1] == '\n') {
				head_end(s);	/* what RS_LINE_CR would do */
				i += 2;
			} else if (c == '\r') {
				set_state(s, RS_LINE_CR, 0);
				i++;
			} else if (c == '\n') {
				head_end(s);
				i++;
			} else if (c == ' ' || c == '\t') {
				/* obs-fold: the line continues the previous value */
				set_state(s, (s->st & F_PREVSECRET) ? RS_VAL_SECRET : RS_SKIP_EOL, 0);
			} else if ((s->st & F_NOTHTTP) && redis_line(s, buf, len, i)) {
				break;
			} else {
				for (;;) {
					size_t k = bulk_name(s, buf + i, len - i);
					const uint8_t *nl;

					if (!k) {
						name_begin(s);
						break;
					}
					i += k;
					/* the common line, whole here: a header that
					 * is neither secret nor framing, to its end at
					 * once (what name_end and RS_SKIP_EOL would do) */
					if (buf[i] != ':' ||
					    (s->st & (F_SECRET_NAME | F_CAND_CL | F_CAND_TE)) ||
					    !(nl = memchr(buf + i + 1, '\n', len - i - 1)))
						break;
					if ((s->body & B_CAND_CT) && !(s->st & F_SCAN))
						s->body = (s->body & ~BK_MASK) | B_CT_SEEN |
							  ct_kind(buf, buf + i + 1, (size_t)(nl - buf) - i - 1);
					i = (size_t)(nl - buf) + 1;
					set_state(s, RS_LINE, 0);
					/* the next line here too when it starts a
					 * name: what this case would do with it,
					 * without going round the byte machine */
					if (i == len || (s->st & F_NOTHTTP))
						break;
					c = buf[i];
					if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
						break;
				}
			}
			break;

		case RS_LINE_CR:
			if (c == '\n') {
				head_end(s);
				i++;
			} else {
				set_state(s, RS_SKIP_EOL, 0);
			}
			break;

		case RS_NAME:
			if (c == ':') {
				name_end(s);
			} else if (c == ' ' || c == '\t') {
				set_state(s, RS_NAME_WS, pos);
			} else if (c == '\n') {
				set_state(s, RS_LINE, 0);
			} else if (c == '\r') {
				set_state(s, RS_SKIP_EOL, 0);
			} else if ((s->st & F_SCAN) &&
				   (c < 0x20 || c >= 0x7f || pos >= MAX_SCAN_NAME)) {
				/* lost or not HTTP: binary bytes or a long run
				 * without a colon are not a header line */
				set_state(s, RS_SKIP_EOL, 0);
			} else {
				/* Any other byte, even a control byte, counts as part
				 * of the name, so "Auth\0orization:" still matches
				 * "auth": junk is hidden rather than let through. */
				name_byte(s, c);
			}
			i++;
			break;

		case RS_NAME_WS:
			if (c == ':')
				name_end(s);
			else if (c == '\n')
				set_state(s, RS_LINE, 0);
			else if (c != ' ' && c != '\t')
				set_state(s, RS_SKIP_EOL, 0);
			i++;
			break;

		case RS_VAL_SECRET:
			/* overwrite up to the end of the line, keeping the blanks
			 * after the colon and every CR */
			while (i < len && buf[i] != '\n') {
				c = buf[i];
				if (c == '\r' || (pos == 0 && (c == ' ' || c == '\t'))) {
					i++;
					continue;
				}
				buf[i++] = '*';
				n++;
				pos = 1;
			}
			set_state(s, RS_VAL_SECRET, pos);
			if (i < len) {
				set_state(s, RS_LINE, 0);	/* F_PREVSECRET stays for obs-fold */
				i++;
			}
			break;

		case RS_VAL_CL:
			/* pos: 0 before the digits, 1 in them, 2 after (ignored);
			 * the value's bytes in this payload taken here at once */
			for (;;) {
				if (c == '\n') {
					s->st = cl_end(s->st, s->remain);
					set_state(s, RS_LINE, 0);
					i++;
					break;
				}
				pos = cl_byte(&s->st, &s->remain, pos, c);
				if (++i == len) {
					set_state(s, RS_VAL_CL, pos);
					break;
				}
				c = buf[i];
			}
			break;

		case RS_VAL_TE:
			if (c == '\n') {
				set_state(s, RS_LINE, 0);
			} else {
				s->aux = te_byte(&s->st, s->aux, c);
			}
			i++;
			break;

		case RS_SKIP_EOL: {
			const uint8_t *nl = memchr(buf + i, '\n', len - i);

			if (!nl) {
				i = len;
				break;
			}
			i = (size_t)(nl - buf) + 1;
			set_state(s, RS_LINE, 0);
			break;
		}

		case RS_BODY_CL:
		case RS_CHUNK_DATA: {
			uint64_t take = len - i;


			if (take > s->remain)
				take = s->remain;
			if (s->body & BK_MASK)
				n += body_scan(s, buf + i, (size_t)take);
			i += take;
			s->remain -= take;
			if (s->remain == 0) {
				if (get_state(s) == RS_BODY_CL)
					msg_reset(s);
				else
					set_state(s, RS_CHUNK_END, 0);
			}
			break;
		}

		case RS_BODY_EOF:
			if (s->body & BK_MASK)
				n += body_scan(s, buf + i, len - i);
			i = len;
			break;

		case RS_VAL_CT: {
			/* pos: bits 0-2 bytes of "json" matched, 3-6 of
			 * "urlencoded", 7 the value has begun; each word's
			 * first byte occurs once in it, so restarting on a
			 * mismatch is exact */
			unsigned j = pos & 7, u = (pos >> 3) & 0xf;
			const uint8_t *nl = memchr(buf + i, '\n', len - i);

			if (pos == 0 && nl) {
				/* the whole value here */
				s->body = (s->body & ~BK_MASK) | ct_kind(buf, buf + i, (size_t)(nl - buf) - i);
				i = (size_t)(nl - buf) + 1;
				set_state(s, RS_LINE, 0);
				break;
			}
			while (i < len && buf[i] != '\n') {
				unsigned char lc = lower(buf[i++]);

				j = lc == (unsigned char)"json"[j] ? j + 1 : lc == 'j';
				u = lc == (unsigned char)"urlencoded"[u] ? u + 1 : lc == 'u';
				if (j == 4) {
					s->body = (s->body & ~BK_MASK) | BK_JSON;
					j = 0;
				}
				if (u == 10) {
					s->body = (s->body & ~BK_MASK) | BK_FORM;
					u = 0;
				}
			}
			set_state(s, RS_VAL_CT, j | u << 3 | 0x80);	/* 0x80: value begun */
			if (i < len) {
				set_state(s, RS_LINE, 0);
				i++;
			}
			break;
		}

		case RS_BODY_PEEK: {
			/* aux: bits 0-3 bytes of "HTTP/1.x nnn" matched, 4-15 the
			 * status digits */
			unsigned k = s->aux & 0xf, code = s->aux >> 4;
			bool ok;

			if (k < 7)
				ok = c == (unsigned char)"HTTP/1."[k];
			else if (k == 8)
				ok = c == ' ';
			else
				ok = is_digit(c);
			if (!ok) {
				/* a real body: go on counting it from this byte */
				s->aux = 0;
				set_state(s, (s->st & F_PEEK_EOF) ? RS_BODY_EOF : RS_BODY_CL, 0);
				break;
			}
			if (k >= 9)
				code = code * 10 + (c - '0');
			i++;
			if (!(s->st & F_PEEK_EOF) && --s->remain == 0) {
				msg_reset(s);
				break;
			}
			if (++k < 12) {
				s->aux = k | (code << 4);
				break;
			}
			/* "HTTP/1.x nnn": the next response; the rest of its
			 * status line decides, as in RS_START_REST */
			s->st = F_RESP;
			s->remain = 0;
			s->body = 0;
			s->aux = code;
			set_state(s, RS_START_REST, 3);
			break;
		}

		case RS_CHUNK_SIZE: {
			int v = hex_value(c);

			if (v >= 0) {
				if (s->remain >= MAX_LENGTH) {
					go_scan(s, RS_SKIP_EOL);
					break;
				}
				s->remain = s->remain * 16 + (unsigned)v;
				s->st |= F_DIGITS;
			} else if (c == ';' || c == ' ' || c == '\t') {
				set_state(s, RS_CHUNK_EXT, 0);
			} else if (c == '\n') {
				chunk_line_end(s);
			} else if (c == 'H' && !(s->st & F_DIGITS)) {
				/* no chunk size starts with 'H': the next response,
				 * after the answer to a HEAD request that announced
				 * a chunked body it did not send */
				msg_reset(s);
				break;
			} else if (c != '\r') {
				go_scan(s, RS_SKIP_EOL);
				break;
			}
			i++;
			break;
		}

		case RS_CHUNK_EXT:
			if (c == '\n')
				chunk_line_end(s);
			i++;
			break;

		case RS_CHUNK_END:
			if (c == '\n') {
				s->remain = 0;
				s->st &= ~F_DIGITS;
				set_state(s, RS_CHUNK_SIZE, 0);
			} else if (c != '\r') {
				go_scan(s, RS_LINE);
				break;
			}
			i++;
			break;

		case RS_PARTIAL:
			/* The bytes before a gap may have started a secret value
			 * that these bytes end.  Header text up to the first LF is
			 * overwritten; a byte that cannot be in a header value
			 * says this is a body, and is left alone. */
			while (i < len && buf[i] != '\n' && is_value_text(buf[i])) {
				if (buf[i] != '\r') {
					buf[i] = '*';
					n++;
				}
				i++;
			}
			if (i < len) {
				if (buf[i] == '\n') {
					set_state(s, RS_LINE, 0);
					i++;
				} else {
					set_state(s, RS_SKIP_EOL, 0);
				}
			}
			break;

		default:	/* a corrupted state: start over, safely */
			go_scan(s, RS_SKIP_EOL);
			break;
		}
	}
	return n;
}

void redact_skip(struct redact_state *s, uint64_t n)
{
	bool in_body = false;

	if (!s || n == 0)
		return;

	switch (get_state(s)) {
	case RS_CHUNK_SIZE:
	case RS_CHUNK_EXT:
	case RS_CHUNK_END:
		in_body = true;
		break;
	case RS_PG_BODY:
		if (n < s->remain) {
			s->remain -= n;
			return;
		}
		if (n == s->remain) {
			s->remain = 0;
			set_state(s, RS_PG_TYPE, 0);
			return;
		}
		break;
	case RS_BODY_CL:
	case RS_CHUNK_DATA:
		if (n < s->remain) {
			s->remain -= n;
			body_gap(s);
			return;
		}
		if (n == s->remain) {
			s->remain = 0;
			if (get_state(s) == RS_BODY_CL)
				msg_reset(s);
			else
				set_state(s, RS_CHUNK_END, 0);
			return;
		}
		in_body = true;
		break;
	case RS_BODY_EOF:
		body_gap(s);
		return;
	case RS_BODY_PEEK:
		/* sendfile after the head: a body after all */
		s->aux = 0;
		if (s->st & F_PEEK_EOF) {
			set_state(s, RS_BODY_EOF, 0);
			return;
		}
		set_state(s, RS_BODY_CL, 0);
		redact_skip(s, n);
		return;
	default:
		break;
	}
	/* The gap went past a body's known end, or hit its chunk framing:
	 * what follows is more body, or the next message, and not the rest of
	 * a secret value (a value cut by this gap would need it to swallow the
	 * body's end and a head's start up to inside that value).  Lines are
	 * scanned (a secret-looking one still hidden), the next one is not
	 * overwritten blindly: that starred chunk sizes and body text. */
	if (in_body && !(s->st & F_NOTHTTP)) {
		go_scan(s, RS_LINE);
		return;
	}
	/* A stream that never looked like HTTP has no heads to lose our
	 * place in; only a secret line cut by the gap needs care. */
	if ((s->st & F_NOTHTTP) && get_state(s) != RS_VAL_SECRET) {
		set_state(s, RS_LINE, 0);
		return;
	}
	go_scan(s, RS_PARTIAL);
}

/* Is the option name p[0..len) (after its dashes) secret by the header
 * rule (--password, --token, --api-key, --client-secret, --auth...)? */
static bool secret_option(const uint8_t *p, size_t len)
{
	return len && redact_is_secret_name((const char *)p, len);
}

/* Does argv[0] (p, len) name one of the programs whose short option takes
 * a password: redis-cli -a PASS, mysql -pPASS? Returns 'a', 'p' or 0. */
static int password_short_option(const uint8_t *p, size_t len)
{
	static const struct { const char *name; int opt; } progs[] = {
		{ "redis-cli", 'a' }, { "redis-benchmark", 'a' }, { "keydb-cli", 'a' },
		{ "valkey-cli", 'a' }, { "mysql", 'p' }, { "mariadb", 'p' },
		{ "mysqldump", 'p' }, { "mysqladmin", 'p' },
	};
	const uint8_t *slash = memrchr(p, '/', len);

	if (slash) {
		len -= (size_t)(slash + 1 - p);
		p = slash + 1;
	}
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (strlen(progs[i].name) == len && !memcmp(progs[i].name, p, len))
			return progs[i].opt;
	return 0;
}

/* The secrets of one command-line argument that are not header lines: a
 * URL's password (scheme://user:PASS@host) and its secret query
 * parameters. */
static size_t redact_url(uint8_t *p, size_t len)
{
	const uint8_t *scheme = memmem(p, len, "://", 3);
	uint8_t *q;
	size_t n = 0;

	if (scheme) {
		uint8_t *auth = (uint8_t *)scheme + 3, *end = p + len;
		uint8_t *at = auth, *colon = NULL;

		/* userinfo ends at '@' before the first '/', '?' or '#' */
		while (at < end && *at != '@' && *at != '/' && *at != '?' && *at != '#') {
			if (*at == ':' && !colon)
				colon = at;
			at++;
		}
		if (at < end && *at == '@' && colon)
			n += stars(colon + 1, (size_t)(at - colon - 1));
	}
	q = memchr(p, '?', len);
	if (q && (size_t)(q - p) + 1 < len) {
		struct redact_state s = { 0 };

		qname_begin(&s);
		n += redact_payload(&s, q + 1, len - (size_t)(q - p) - 1);
	}
	return n;
}

/* An argument that is a JSON document (curl -d '{"password": "x"}') or
 * name=value pairs (curl -d 'user=a&password=b', -e DB_PASSWORD=x): its
 * secret fields, as in a body. */
static size_t redact_fields(uint8_t *p, size_t len)
{
	struct redact_state s = { 0 };

	if (p[0] == '{' || p[0] == '[')
		s.body = BK_JSON;
	else if (memchr(p, '=', len))
		s.body = BK_FORM;
	else
		return 0;
	field_begin(&s);
	return body_scan(&s, p, len);
}

size_t redact_text(uint8_t *buf, size_t len)
{
	size_t n = 0, start = 0, piece = 0;
	bool hide_next = false;
	int short_opt = 0;

	if (!buf)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\0' && buf[i] != '\n')
			continue;
		/* a fresh scan per piece: a secret value ends with its piece */
		struct redact_state s = { 0 };
		uint8_t *p = buf + start;
		size_t plen = i - start;

		if (piece == 0)
			short_opt = password_short_option(p, plen);
		if (hide_next && plen) {
			/* the argument of an option that takes a secret */
			n += stars(p, plen);
			hide_next = false;
		} else if (plen > 2 && p[0] == '-' && p[1] == '-') {
			/* --password VALUE, --token=VALUE, --api-key ... */
			const uint8_t *eq = memchr(p, '=', plen);
			size_t nlen = (eq ? (size_t)(eq - p) : plen) - 2;

			if (secret_option(p + 2, nlen)) {
				if (eq)
					n += stars((uint8_t *)eq + 1, plen - nlen - 3);
				else
					hide_next = true;
			}
		} else if (short_opt && plen >= 2 && p[0] == '-' && p[1] == short_opt) {
			/* redis-cli -a PASS, mysql -pPASS */
			if (plen == 2)
				hide_next = short_opt == 'a';
			else
				n += stars(p + 2, plen - 2);
		} else if (plen) {
			n += redact_url(p, plen);
			n += redact_fields(p, plen);
		}
		if (plen) {
			go_scan(&s, RS_LINE);
			s.st |= F_NOTHTTP;
			n += redact_payload(&s, p, plen);
		}
		if (i == len || buf[i] == '\0')
			piece++;
		start = i + 1;
	}
	return n;
}

int redact_is_secret_name(const char *name, size_t name_len)
{
	struct redact_state s = { 0 };

	if (!name)
		return 0;
	name_begin(&s);
	for (size_t i = 0; i < name_len; i++)
		name_byte(&s, (unsigned char)name[i]);
	return name_secret(&s) ? 1 : 0;
}
