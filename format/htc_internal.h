/* SPDX-License-Identifier: MIT */
/*
 * htc_internal.h - private to libhtc: the on-disk constants of
 * docs/FORMAT.md, the little-endian accessors every encoder and decoder goes
 * through, and the record codec shared by the writer and the reader.
 * Keep this file and docs/FORMAT.md in step.
 */
#ifndef HTC_INTERNAL_H
#define HTC_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "htc.h"

/* zstd frame magics (RFC 8878): a data frame, and the 16 skippable ones. */
#define HTC_ZSTD_MAGIC		0xFD2FB528u
#define HTC_SKIP_MAGIC_MASK	0xFFFFFFF0u
#define HTC_SKIP_MAGIC_BASE	0x184D2A50u
/* Our two skippable frames use their own nibble, and an inner magic too,
 * so a reader tells them apart from anybody else's skippable frames. */
#define HTC_SKIP_HEADER		0x184D2A58u
#define HTC_SKIP_TRAILER	0x184D2A59u
#define HTC_HDR_MAGIC		"HTC\x01HDR\n"	/* 8 bytes, no NUL counted */
#define HTC_TRL_MAGIC		"HTC\x01TRL\n"
#define HTC_INNER_MAGIC_LEN	8

/* Record header: type u16, flags u16 (reserved, 0), body length u32. */
#define HTC_REC_HDR_LEN		8

/* Fixed body sizes of version 1.0 (variable parts follow them). */
#define HTC_EV_FIXED		128
#define HTC_PROC_FIXED		56
#define HTC_LOSS_FIXED		24
#define HTC_OPT_FIXED		24

/* Header and trailer skippable frames: their payload is a 16-byte prefix
 * (inner magic, version major u16, minor u16, reserved u32) and then one
 * zstd frame, with content size and checksum, holding the body: so the
 * version is readable without decoding, and the body is checksummed. */
#define HTC_META_PREFIX		16
/* Header body: fixed part, then four u16-length-prefixed strings. */
#define HTC_HDR_FIXED		48
/* Trailer body: fixed part, then nframes entries of entry_size bytes. */
#define HTC_TRL_FIXED		192
#define HTC_TRL_ENTRY		40

/* Limits a reader enforces (FORMAT.md "Limits"); the writer stays below. */
#define HTC_MAX_FRAME_USIZE	(64u << 20)	/* decompressed bytes of one data frame */
#define HTC_MAX_RECORD		(16u << 20)	/* one record's body */
#define HTC_MAX_HEADER		(1u << 20)	/* header frame payload */
#define HTC_MAX_TRAILER		(64u << 20)	/* trailer frame payload */
/* A data frame's compressed size: zstd never expands by more than a small
 * fraction, so this bounds the input buffer for any acceptable frame. */
#define HTC_MAX_FRAME_CSIZE	(HTC_MAX_FRAME_USIZE + (1u << 20))

#define HTC_DEF_FRAME_BYTES	(1u << 20)
#define HTC_DEF_FRAME_MS	1000u
/* Level 1 measured (bench-format, 100-byte HTTP-like payloads): ~4 M
 * events/s written, 21 bytes/event; -3 is ~20% faster but 40% bigger. */
#define HTC_DEF_LEVEL		1

/* ---- little-endian accessors ----
 * memcpy keeps them alignment-safe; on little-endian hosts they compile to
 * plain loads and stores. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HTC_LE16(x) __builtin_bswap16(x)
#define HTC_LE32(x) __builtin_bswap32(x)
#define HTC_LE64(x) __builtin_bswap64(x)
#else
#define HTC_LE16(x) (x)
#define HTC_LE32(x) (x)
#define HTC_LE64(x) (x)
#endif

static inline void put_le16(uint8_t *p, uint16_t v)
{
	v = HTC_LE16(v);
	memcpy(p, &v, 2);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	v = HTC_LE32(v);
	memcpy(p, &v, 4);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	v = HTC_LE64(v);
	memcpy(p, &v, 8);
}

static inline uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return HTC_LE16(v);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return HTC_LE32(v);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return HTC_LE64(v);
}

/* ---- compact data events (htc_compact.c, format 1.1) ---- */

/* Record type of a compact data event; decoded as HTC_REC_DATA. */
#define HTC_REC_DATA_C		6
/* Record type of TLS plaintext (format 1.2): a DATA_C body, decoded as
 * HTC_REC_DATA with HTC_EVF_TLS; 1.1 readers skip it. */
#define HTC_REC_TLS_C		7
/* Record types of a compact event whose payload is a delta against the
 * previous payload of its slot and direction (format 1.3, FORMAT.md 6.9):
 * a DATA_C (TLS_C) body with prefix and suffix varints after cap_len;
 * 1.2 readers skip them. */
#define HTC_REC_DATA_D		8
#define HTC_REC_TLS_D		9
/* cflags bit: the connection's fields follow conn_id */
#define HTC_CF_CONN		0x01
#define HTC_CF_SEQ		0x02	/* since 1.2: tcp_seq follows the payload */
/* Largest compact event, payload aside: 5 fixed bytes, conn_id, the
 * connection's 47 + 15 bytes, seven varints, the sequence number.  A
 * delta record is never longer than its literal form: its prefix and
 * suffix varints (at most 2 bytes each, both <= HTC_DELTA_MAX) replace
 * at least HTC_DELTA_MIN payload bytes. */
#define HTC_EV_C_MAX		(5 + 10 + 47 + 15 + 7 * 10 + 4)
#define HTC_CSLOT_BITS		12

/* Payload deltas (format 1.3).  The writer keeps a copy of a slot and
 * direction's last payload when it has at most HTC_DELTA_MAX bytes, in a
 * buffer allocated when the slot and direction first needs one, sized to
 * its payloads in 256-byte steps, HTC_DELTA_WBUDGET bytes of them at most
 * (4096 slots x 4 directions x 1 KiB would be 16 MiB, a quarter of
 * httpcap's RSS budget; 4 MiB holds every slot's read and write buffers
 * of 256 bytes); past it the payloads of further directions are written
 * literal.  It writes a delta when prefix + suffix reach HTC_DELTA_MIN
 * bytes (the two varints then take at most 4). */
#define HTC_DELTA_MAX		1024u
#define HTC_DELTA_MIN		8u
#define HTC_DELTA_WBUDGET	(4u << 20)
/* Payload bytes of a frame's delta records (the sum of their cap_len):
 * a reader refuses records past HTC_MAX_DELTA_BYTES (FORMAT.md 11), so a
 * small hostile frame cannot be rebuilt into gigabytes; the writer closes
 * a frame once it reaches HTC_DELTA_FRAME_BYTES. */
#define HTC_MAX_DELTA_BYTES	(64u << 20)
#define HTC_DELTA_FRAME_BYTES	(16u << 20)
/* The minor version a writer without opts.delta writes: its files hold
 * nothing of 1.3, and stay byte for byte what they were (a 1.2 reader
 * misses no event of them). */
#define HTC_MINOR_NO_DELTA	2

struct htc_cslot {
	uint32_t gen;		/* the frame this slot was written in */
	int32_t fd;
	uint64_t conn_id;
	uint32_t pid;
	uint8_t comm_len;
	char comm[HTC_COMM_LEN];
	char comm_raw[HTC_COMM_LEN];	/* the writer's: the event's 16 bytes */
	struct htc_endpoints ep;
	/* expected stream offset: read, write, then TLS plaintext read,
	 * write (their own streams, FORMAT.md 6.8) */
	uint64_t next[4];
	uint32_t next_seq[4];	/* expected tcp_seq, valid when seq_ok has bit dir */
	uint8_t seq_ok;
	uint8_t ref_ok;		/* since 1.3: bit dir set, ref[dir] is the reference */
	uint32_t ref_len[4];
	/* the previous payload per direction: the reader's points into its
	 * frame or its arena, the writer's is wbuf[dir] */
	const uint8_t *ref[4];
	uint8_t *wbuf[4];	/* writer: wcap bytes, kept across frames */
	uint16_t wcap[4];	/* <= HTC_DELTA_MAX */
};

/* The reader's store of a frame's rebuilt delta payloads: chunks that
 * never move, so every payload of a frame stays where it is until the
 * next frame (htc_ctab_reset). */
struct htc_achunk {
	struct htc_achunk *next;
	size_t cap, used;
	uint8_t data[];
};

/* The per-frame table of writer and reader (see htc_compact.c). */
struct htc_ctab {
	uint32_t gen;
	uint64_t prev_ts;	/* ts_ns of the frame's previous compact event */
	uint64_t delta_bytes;	/* cap_len of the frame's delta records, summed */
	int delta;		/* writer: write delta records (opts.delta) */
	size_t wbuf_bytes;	/* writer: bytes of wbuf allocated */
	struct htc_achunk *arena, *acur;	/* reader: rebuilt payloads */
	struct htc_cslot slot[1u << HTC_CSLOT_BITS];
};

/* A new frame: forget every slot (and the reader's rebuilt payloads). */
void htc_ctab_reset(struct htc_ctab *t);
/* Free t and what it holds (writer buffers, arena); NULL is fine. */
void htc_ctab_free(struct htc_ctab *t);
/* Encode data event e as a compact body into b (room for HTC_EV_C_MAX +
 * cap_len bytes); returns its length.  *delta (OUT): 1 for a delta body
 * (DATA_D, TLS_D), only when t->delta is set; 0 for DATA_C, TLS_C. */
size_t htc_compact_encode(struct htc_ctab *t, const struct htc_event *e, uint8_t *b,
			  int *delta);
/* Decode a compact body into rec (type HTC_REC_DATA); its payload points
 * into b, into an earlier body of the frame or into the table's arena,
 * all valid until the next htc_ctab_reset.  tls: a TLS_C or TLS_D record
 * (HTC_EVF_TLS is set, and cleared otherwise); delta: DATA_D or TLS_D.
 * 0, or HTC_ERR_CORRUPT with *why set, or -ENOMEM (no room for a rebuilt
 * payload). */
int htc_compact_decode(struct htc_ctab *t, const uint8_t *b, uint32_t len, int tls, int delta,
		       struct htc_record *rec, const char **why);

/* ---- record codec (htc_codec.c) ---- */

/* The body size of an event record (DATA, CONN) as htc_rec_size() judges
 * it, or -EINVAL (payload NULL with a nonzero length), HTC_ERR_TOOBIG;
 * inline, for the writer's compact path, which checks every captured
 * event the same way without the codec table's indirect call. */
static inline int64_t htc_ev_size(const struct htc_event *e)
{
	if (e->cap_len && !e->payload)
		return -EINVAL;
	if ((int64_t)HTC_EV_FIXED + e->cap_len > HTC_MAX_RECORD)
		return HTC_ERR_TOOBIG;
	return (int64_t)HTC_EV_FIXED + e->cap_len;
}

/*
 * Bytes the record will take on disk, record header included, or a
 * negative error (HTC_ERR_TOOBIG for a body over HTC_MAX_RECORD,
 * -EINVAL for an unknown type or a NULL pointer with a nonzero length).
 */
int64_t htc_rec_size(const struct htc_record *rec);
/* Encode rec into out, which has htc_rec_size(rec) bytes.  Returns the
 * ts_ns of the record (for the frame index). */
uint64_t htc_rec_encode(const struct htc_record *rec, uint8_t *out);
/*
 * Decode a body of a known type into rec (OUT; its pointers point into
 * body).  Returns 0, or HTC_ERR_CORRUPT when the body is shorter than its
 * fixed part or a variable length runs past it; *why (OUT) then says which.
 */
int htc_rec_decode(uint16_t type, const uint8_t *body, uint32_t len,
		   struct htc_record *rec, const char **why);
/* Is type one this library decodes? */
int htc_rec_known(uint16_t type);

#endif /* HTC_INTERNAL_H */
