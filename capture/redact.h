/* SPDX-License-Identifier: MIT */
/*
 * redact.h - overwrite secret HTTP header values in captured payloads.
 *
 * httpcap runs every captured payload of one connection direction through a
 * small streaming state machine before the payload is written to the file.
 * Secret header values (Authorization, Cookie, Set-Cookie, API keys, tokens:
 * see redact.c for the exact rule) are overwritten with '*' in place, so
 * lengths and stream offsets stay true and the capture stays shareable.
 */
#ifndef HTTPCAP_REDACT_H
#define HTTPCAP_REDACT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Per connection and direction state.  Zero-initialise one per connection
 * and direction; it needs no cleanup.  The fields are private to redact.c.
 */
struct redact_state {
	uint32_t st;
	uint32_t aux;
	uint64_t remain;
	uint32_t body;		/* body kind and JSON/form field machine */
	uint32_t nh;		/* hash of the name so far, for --redact names */
};

/*
 * Overwrite secret header values in buf (len bytes, the next captured bytes
 * of this direction) with '*', keeping CR/LF and the header names.  State
 * carries across calls, so a header split across two reads, or a value split
 * across two writes, is still redacted.  Returns the number of bytes
 * overwritten.
 */
size_t redact_payload(struct redact_state *st, uint8_t *buf, size_t len);

/*
 * Tell the redactor n bytes of this direction were not captured (snaplen,
 * drops, sendfile).  When those bytes fall where the redactor cannot know
 * what follows, it stays on the safe side: the first line fragment of the
 * next payload is redacted if it looks like header text.
 */
void redact_skip(struct redact_state *st, uint64_t n);

/*
 * Overwrite secret header values in a standalone text, such as a process's
 * command line (argv joined by NUL bytes): `curl -H "Authorization: Bearer
 * x"` must not put the token in a shared capture file.  Each NUL- or
 * LF-separated piece is looked at as a possible header line ("-HCookie: x"
 * and "--header=X-Api-Key: y" count too).  Returns the bytes overwritten.
 */
size_t redact_text(uint8_t *buf, size_t len);

/*
 * Also treat a field called name as secret: a header, query parameter,
 * JSON key or form field whose whole name, lowercased and with '-' and '_'
 * removed, equals name's (httpcap --redact NAME).  Call before redacting
 * anything.  Returns 0, or -1 (errno EINVAL: empty name or more than
 * REDACT_MAX_NAMES names).
 */
#define REDACT_MAX_NAMES 64
int redact_add_name(const char *name);

/*
 * 1 if a header called name (name_len bytes, any case) is treated as secret,
 * else 0.  The same rule redact_payload() applies; for --help, the man page
 * and tests.
 */
int redact_is_secret_name(const char *name, size_t name_len);

#endif /* HTTPCAP_REDACT_H */
