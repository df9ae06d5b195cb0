/* SPDX-License-Identifier: MIT */
/*
 * proto.h - recognition and streaming framing of the non-HTTP protocols the
 * engine names calls for: Redis (RESP2/RESP3) commands and replies,
 * PostgreSQL frontend/backend messages, TLS records (recognised only).
 * Every decoder is fed captured bytes in pieces and told about uncaptured
 * stretches; none allocates, all are bounded.
 */
#ifndef HTC_ANALYZE_PROTO_H
#define HTC_ANALYZE_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Guess the protocol of a connection from the first bytes its client
 * wrote and the server's port: HTC_PROTO_* (UNKNOWN when no idea). */
int proto_detect_client(const uint8_t *p, size_t len, uint16_t server_port);

/* Escape len bytes for display: printable ASCII kept, backslash doubled,
 * the rest as \xNN.  Writes at most cap - 1 bytes and a NUL into dst (cap
 * >= 1); stops before an escape that would not fit.  Returns the length. */
size_t proto_escape(char *dst, size_t cap, const uint8_t *src, size_t len);

/* The server name (SNI) of a TLS ClientHello at p, escaped into out (cap
 * bytes).  Returns 1 when found, 0 otherwise (not a ClientHello, cut, no
 * SNI).  Bounds-checked: the bytes come from the capture. */
int proto_tls_sni(const uint8_t *p, size_t len, char *out, size_t cap);

/* ---- Redis ---- */

#define RESP_ARG_CAP 64		/* bytes kept of the command name and first key */

/* Events out of the command decoder. */
enum {
	RESP_CMD_NONE = 0,
	RESP_CMD_START = 1,	/* a command started at the byte before *used */
	RESP_CMD_DONE = 2,	/* the command ended at *used; summary ready */
};

struct resp_cmd {
	int state;
	int64_t nargs, argi;	/* arguments announced / done */
	uint64_t remaining;	/* bulk bytes left, CRLF included */
	uint32_t linelen;
	char line[24];
	int lost;		/* framing lost: no more decoding until resp_cmd_resync */
	uint8_t arg0[RESP_ARG_CAP], arg1[RESP_ARG_CAP];
	uint32_t arg0_len, arg1_len;	/* kept bytes */
	int arg1_cut;			/* arg1 longer than kept, or not captured */
	int inline_cmd;
};

void resp_cmd_init(struct resp_cmd *d);
/* Decode up to the next event; OUT *used bytes consumed.  Returns an
 * RESP_CMD_* event (NONE: all of p consumed, no event). */
int resp_cmd_feed(struct resp_cmd *d, const uint8_t *p, size_t len, size_t *used);
void resp_cmd_gap(struct resp_cmd *d, uint64_t n);	/* lost unless inside a bulk's data */
/* Start afresh at a byte that should be a command start. */
void resp_cmd_resync(struct resp_cmd *d);
/* "SET key" (command uppercased, escaped) into out (cap bytes). */
void resp_cmd_summary(const struct resp_cmd *d, char *out, size_t cap);

struct resp_reply {
	int state;
	int depth;
	int64_t stack[16];	/* elements left in each open aggregate */
	uint64_t remaining;
	uint32_t linelen;
	char line[24];
	uint8_t type;		/* type byte of the current element */
	uint8_t top_type;	/* type byte of the top-level reply */
	int lost;
};

void resp_reply_init(struct resp_reply *d);
/* Returns 1 when a complete top-level reply ended at *used (OUT *is_error:
 * it was an error reply), 0 when all of p was consumed. */
int resp_reply_feed(struct resp_reply *d, const uint8_t *p, size_t len, size_t *used, int *is_error);
void resp_reply_gap(struct resp_reply *d, uint64_t n);

/* ---- PostgreSQL ---- */

#define PG_SQL_CAP 200	/* bytes kept of a query's text */

struct pg_stream {
	int backend;		/* decoding the server's messages */
	int untyped;		/* next message has no type byte (startup) */
	int expect_ssl_byte;	/* backend: a lone 'S'/'N' answers an SSLRequest */
	int lost;
	uint8_t hdr[8];
	uint32_t hlen;		/* header bytes collected */
	uint8_t type;		/* current message type */
	uint64_t remaining;	/* body bytes left */
	uint8_t keep[PG_SQL_CAP];
	uint32_t keep_len;
	int keep_cut;
	uint32_t last_startup_code;
	uint8_t ssl_answer;	/* 'S' or 'N' once seen */
	int pending_done;	/* an empty message's DONE is due */
};

enum {
	PG_NONE = 0,
	PG_MSG_START = 1,	/* a message of type d->type started */
	PG_MSG_DONE = 2,	/* the current message ended; keep[] holds its first bytes */
};

void pg_init(struct pg_stream *d, int backend, int untyped);
int pg_feed(struct pg_stream *d, const uint8_t *p, size_t len, size_t *used);
void pg_gap(struct pg_stream *d, uint64_t n);
/* The SQL of a finished 'Q' or 'P' message, escaped, into out. */
void pg_summary(const struct pg_stream *d, char *out, size_t cap);

#endif /* HTC_ANALYZE_PROTO_H */
