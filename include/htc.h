/* SPDX-License-Identifier: MIT */
/*
 * htc.h - libhtc, the writer and reader of .htc capture files.
 *
 * This header is the contract between the capture stage (which writes
 * records) and every reader (httpcap -r, the engine, httpanalyze,
 * httpreplay, the fuzzers).  The byte layout on disk is specified in
 * docs/FORMAT.md; the structs here are the decoded, in-memory form and are
 * not the on-disk layout.
 *
 * Conventions (libbpf style): functions return 0 or a negative error code
 * (-errno or one of HTC_ERR_*), or NULL with the code stored in *err.
 * Free and close functions accept NULL.
 */
#ifndef HTC_H
#define HTC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HTC_VERSION_MAJOR 1
/* The version this library reads and writes; its writer writes minor 2
 * unless htc_writer_opts.delta is set (only then can a file hold 1.3's
 * DATA_D and TLS_D records). */
#define HTC_VERSION_MINOR 3

#define HTC_COMM_LEN 16		/* as the kernel's TASK_COMM_LEN */

/* Event types.  The numbers of the first three are those of the demo tracer
 * httpcap replaces (its JSON "event_type_id"); never renumber. */
enum htc_event_type {
	HTC_EV_ACCEPT = 0,
	HTC_EV_READ = 1,
	HTC_EV_CONNECT = 2,
	HTC_EV_WRITE = 3,
	HTC_EV_CLOSE = 4,
	HTC_EV__COUNT
};

/* The syscall that produced an event.  Stored on disk as one byte. */
enum htc_syscall {
	HTC_SYS_UNKNOWN = 0,
	HTC_SYS_READ = 1,
	HTC_SYS_READV = 2,
	HTC_SYS_RECVFROM = 3,
	HTC_SYS_RECVMSG = 4,
	HTC_SYS_RECVMMSG = 5,
	HTC_SYS_WRITE = 6,
	HTC_SYS_WRITEV = 7,
	HTC_SYS_SENDTO = 8,
	HTC_SYS_SENDMSG = 9,
	HTC_SYS_SENDMMSG = 10,
	HTC_SYS_SENDFILE = 11,
	HTC_SYS_ACCEPT = 12,
	HTC_SYS_ACCEPT4 = 13,
	HTC_SYS_CONNECT = 14,
	HTC_SYS_CLOSE = 15,
	HTC_SYS_EXIT = 16,	/* implicit close: the process exited */
	/* Since 1.2: the TLS library call whose plaintext a TLS event
	 * (HTC_EVF_TLS) carries, which names its library too */
	HTC_SYS_SSL_READ = 17,		/* OpenSSL SSL_read, SSL_read_ex */
	HTC_SYS_SSL_WRITE = 18,		/* OpenSSL SSL_write, SSL_write_ex */
	HTC_SYS_GNUTLS_RECV = 19,	/* GnuTLS gnutls_record_recv */
	HTC_SYS_GNUTLS_SEND = 20,	/* GnuTLS gnutls_record_send */
	HTC_SYS_GO_TLS_READ = 21,	/* Go crypto/tls (*Conn).Read */
	HTC_SYS_GO_TLS_WRITE = 22,	/* Go crypto/tls (*Conn).Write */
	HTC_SYS__COUNT
};

/* Which side of the connection the traced process is. */
enum htc_role {
	HTC_ROLE_UNKNOWN = 0,	/* socket first seen on data (opened before capture) */
	HTC_ROLE_SERVER = 1,	/* accepted */
	HTC_ROLE_CLIENT = 2,	/* connected */
};

/* Why events were lost.  Slots in htc_trailer.lost[] are indexed by these. */
enum htc_loss_reason {
	HTC_LOSS_RINGBUF_FULL = 0,	/* kernel ring buffer had no room */
	HTC_LOSS_MAP_FULL = 1,		/* no room for per-socket/per-thread state */
	HTC_LOSS_PAYLOAD_READ = 2,	/* payload could not be read from user memory */
	HTC_LOSS_NO_ENTRY = 3,		/* syscall exit seen without its entry */
	HTC_LOSS_USER = 4,		/* dropped in user space (queue full) */
	HTC_LOSS__COUNT,
	HTC_LOSS_SLOTS = 16		/* room kept in the file for future reasons */
};

/* Record types inside data frames.  Unknown types are skipped by readers. */
enum htc_rec_type {
	HTC_REC_DATA = 1,	/* struct htc_event, type READ or WRITE */
	HTC_REC_CONN = 2,	/* struct htc_event, type ACCEPT, CONNECT or CLOSE */
	HTC_REC_PROC = 3,	/* struct htc_proc */
	HTC_REC_LOSS = 4,	/* struct htc_loss */
	HTC_REC_OPTIONS = 5,	/* struct htc_options */
};

/* Address families as stored on disk (not the host's AF_* values). */
#define HTC_AF_UNSPEC 0
#define HTC_AF_INET 4
#define HTC_AF_INET6 6

/* The two ends of a TCP connection as seen by the traced process. */
struct htc_endpoints {
	uint8_t family;		/* HTC_AF_* */
	uint8_t role;		/* enum htc_role */
	uint16_t lport;		/* local port, host byte order */
	uint16_t rport;		/* remote port, host byte order */
	uint8_t laddr[16];	/* network byte order; IPv4 in the first 4 bytes */
	uint8_t raddr[16];
};

/* htc_event.flags */
#define HTC_EVF_REDACTED	0x0001	/* secret header values overwritten with '*' */
#define HTC_EVF_PREEXISTING	0x0002	/* socket opened before the capture started */
#define HTC_EVF_PARTIAL		0x0004	/* payload shorter than min(ret, snaplen): read failed or iov cut */
/* Since 1.2.  TLS: the event is the plaintext of a TLS library call (its
 * syscall is HTC_SYS_SSL_READ...), on the connection whose conn_id it
 * carries; stream_off counts plaintext bytes.  Written as TLS records
 * (FORMAT.md 6.8), which 1.1 readers skip; readers set it for them only.
 * TLS_CIPHER: a syscall's ciphertext on a connection whose plaintext is
 * captured: its bytes are counted (ret, stream_off), not kept (cap_len 0). */
#define HTC_EVF_TLS		0x0008
#define HTC_EVF_TLS_CIPHER	0x0010
/* Since 1.2: tcp_seq holds the TCP sequence number of the event's first
 * byte (read from the socket, or the packets of a pcap) */
#define HTC_EVF_SEQ		0x0020

/*
 * One syscall on a TCP socket: a data event (HTC_REC_DATA, type READ or
 * WRITE) or a connection event (HTC_REC_CONN, type ACCEPT, CONNECT, CLOSE).
 *
 * ts_ns is the syscall's exit time on the capturing host's CLOCK_MONOTONIC
 * (bpf_ktime_get_ns); add htc_header.realtime_offset_ns for wall-clock time.
 */
struct htc_event {
	uint8_t type;		/* enum htc_event_type */
	uint8_t syscall;	/* enum htc_syscall */
	uint16_t flags;		/* HTC_EVF_* */
	uint32_t pid;		/* tgid */
	uint32_t tid;
	int32_t fd;
	uint64_t ts_ns;		/* syscall exit */
	uint64_t dur_ns;	/* syscall entry to exit */
	uint64_t conn_id;	/* unique per connection within one capture, never reused */
	char comm[HTC_COMM_LEN];	/* NUL-terminated */
	struct htc_endpoints ep;
	/* READ/WRITE: bytes the syscall moved (its return value, > 0).
	 * CONNECT: 0 or -errno (-EINPROGRESS for non-blocking).
	 * ACCEPT: the new fd.  CLOSE: 0 or -errno. */
	int64_t ret;
	/* READ/WRITE: bytes moved in this direction on this connection before
	 * this event, so gaps (drops) are visible.  CLOSE: total bytes read;
	 * stream_off2 total bytes written.  Otherwise 0. */
	uint64_t stream_off;
	uint64_t stream_off2;
	uint32_t cap_len;	/* bytes in payload, <= snaplen and <= ret */
	/* READ/WRITE with HTC_EVF_SEQ (since 1.2): the TCP sequence number of
	 * the first byte the event moved, in the sequence space of its
	 * direction (the peer's for a read), so that both ends of a
	 * connection and a connection older than the capture are placed byte
	 * for byte.  0 without the flag. */
	uint32_t tcp_seq;
	const uint8_t *payload;	/* cap_len bytes; see ownership notes below */
};

/* Process metadata, written once per process (and again after rotation).
 * The strings are views of len bytes, not NUL-terminated. */
struct htc_proc {
	uint64_t ts_ns;
	uint32_t pid, ppid, uid, gid;
	char comm[HTC_COMM_LEN];
	const char *exe;	uint32_t exe_len;
	const char *cmdline;	uint32_t cmdline_len;	/* argv joined by NUL bytes */
	const char *cgroup;	uint32_t cgroup_len;
	const char *container;	uint32_t container_len;	/* container id, or empty */
};

/* Events that could not be delivered: count lost since the previous report
 * of the same reason (a delta, so readers sum them). */
struct htc_loss {
	uint64_t ts_ns;
	uint32_t reason;	/* enum htc_loss_reason; unknown values are kept */
	uint64_t count;
};

/* htc_options.flags and htc_header.flags */
#define HTC_OPT_REDACT		0x0001	/* secret headers were redacted */
#define HTC_OPT_PAYLOAD		0x0002	/* payloads were captured (snaplen > 0) */

/* The capture options in force; text holds "key=value\n" lines (argv,
 * filters) for humans and tools. */
struct htc_options {
	uint64_t ts_ns;
	uint32_t snaplen;
	uint32_t flags;		/* HTC_OPT_* */
	const char *text;	uint32_t text_len;
};

/* A decoded record.  ev is used for both HTC_REC_DATA and HTC_REC_CONN. */
struct htc_record {
	uint16_t type;		/* enum htc_rec_type */
	union {
		struct htc_event ev;
		struct htc_proc proc;
		struct htc_loss loss;
		struct htc_options opt;
	};
};

#define HTC_HOSTNAME_LEN 256
#define HTC_KERNEL_LEN 128
#define HTC_TOOLVER_LEN 64
#define HTC_OPTTEXT_LEN 4096

/* The file header, from the first (skippable) frame. Strings NUL-terminated. */
struct htc_header {
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t flags;			/* HTC_OPT_* */
	uint32_t snaplen;
	int64_t realtime_offset_ns;	/* wall-clock ns since the epoch = ts_ns + this */
	uint64_t start_ns;		/* capture start, same clock as ts_ns */
	uint8_t capture_id[16];		/* random; tells files apart when merged */
	/* Since 1.2: this file's number among the files of its capture
	 * (rotation -C/-G/-W), from 1; 0 when not numbered (older files) */
	uint32_t file_seq;
	char hostname[HTC_HOSTNAME_LEN];
	char kernel[HTC_KERNEL_LEN];	/* uname -r */
	char tool_version[HTC_TOOLVER_LEN];
	char options[HTC_OPTTEXT_LEN];	/* "key=value\n" lines, as htc_options.text */
};

/* The largest realtime offset a reader accepts (about the year 2116): one
 * beyond it (a corrupt or hostile header) is read as 0. */
#define HTC_MAX_REALTIME_OFFSET (1LL << 62)

/*
 * Wall-clock ns of a timestamp ts_ns of a file whose header has offset:
 * ts_ns + offset, computed unsigned, so values from a file can never make
 * the arithmetic undefined (a corrupt record only gives a strange time).
 */
static inline uint64_t htc_wall_ns(uint64_t ts_ns, int64_t offset)
{
	return ts_ns + (uint64_t)offset;
}

/* One entry of the trailer's frame index. */
struct htc_frame_info {
	uint64_t offset;	/* file offset of the frame's first byte */
	uint32_t csize;		/* compressed size, whole frame */
	uint32_t usize;		/* decompressed size */
	uint32_t records;
	uint64_t first_ts, last_ts;
};

/* The trailer, from the last (skippable) frame. */
struct htc_trailer {
	uint64_t records;		/* records of every type */
	uint64_t events;		/* HTC_REC_DATA + HTC_REC_CONN */
	uint64_t payload_bytes;		/* sum of cap_len */
	uint64_t first_ts, last_ts;	/* of events; 0 when none */
	uint64_t end_ns;		/* capture end, same clock as ts_ns */
	uint64_t lost[HTC_LOSS_SLOTS];	/* summed from HTC_REC_LOSS records */
	uint32_t nframes;
	const struct htc_frame_info *frames;	/* owned by the reader */
};

/* ---- errors ---- */

#define HTC_ERR_BASE		4000
#define HTC_ERR_MAGIC		(-(HTC_ERR_BASE + 1))	/* not an .htc file */
#define HTC_ERR_VERSION		(-(HTC_ERR_BASE + 2))	/* major version newer than this reader */
#define HTC_ERR_TRUNCATED	(-(HTC_ERR_BASE + 3))	/* file ends inside a frame */
#define HTC_ERR_CHECKSUM	(-(HTC_ERR_BASE + 4))	/* frame content checksum mismatch */
#define HTC_ERR_CORRUPT		(-(HTC_ERR_BASE + 5))	/* frame or record not decodable */
#define HTC_ERR_TOOBIG		(-(HTC_ERR_BASE + 6))	/* a length beyond the format's limits */
#define HTC_ERR_STATE		(-(HTC_ERR_BASE + 7))	/* API misuse (e.g. append after error) */

/* A static description of err (HTC_ERR_* or -errno). */
const char *htc_strerror(int err);

/* Names for enum values ("read", "sendto", "ringbuf_full"); "unknown" when out of range. */
const char *htc_event_type_name(unsigned type);
const char *htc_syscall_name(unsigned sys);
const char *htc_loss_reason_name(unsigned reason);
const char *htc_rec_type_name(unsigned type);	/* "data", "conn", "proc", ... */
/* The TLS library of a TLS event's syscall ("openssl", "gnutls", "go"), or
 * NULL when sys is not a TLS library call. */
const char *htc_tls_lib_name(unsigned sys);

/* ---- writer ---- */

struct htc_writer;

struct htc_writer_opts {
	int level;		/* zstd level; 0 = default (fast) */
	uint32_t frame_bytes;	/* close a frame at this many uncompressed bytes; 0 = default (1 MiB) */
	uint32_t frame_ms;	/* close a frame this long after its first record; 0 = default (1000) */
	/* write data events as compact DATA_C records (format 1.1, about a
	 * third of the bytes; 1.0 readers skip them); 0 = DATA as in 1.0 */
	int compact;
	/* send a data event's payload as a delta against the previous one of
	 * its connection and direction in the frame when that saves bytes
	 * (records DATA_D, TLS_D: format 1.3, which 1.2 readers skip, and so
	 * miss those events); the file says 1.3.  On keep-alive traffic,
	 * whose messages repeat their predecessor (the bench's nginx
	 * capture), zstd gets a fifth of the bytes, a third less of its
	 * time, and the file is 14% smaller; the writer keeps up to 4 MiB
	 * of copies.  0 = no deltas, a 1.2 file */
	int delta;
	/* compress and write frames in a thread of the writer's own, while
	 * the caller fills the next frame; write errors show on a later call */
	int threaded;
};

struct htc_writer_stats {
	uint64_t records, events;
	uint64_t frames;
	uint64_t bytes_in;	/* uncompressed record bytes */
	uint64_t bytes_out;	/* bytes written to the file, header and trailer included */
	uint64_t lost[HTC_LOSS_SLOTS];
};

/*
 * Create path (mode 0600, truncating an existing file) and write the header
 * frame.  opts may be NULL.  Returns NULL with *err set on failure.
 */
struct htc_writer *htc_writer_open(const char *path, const struct htc_header *hdr,
				   const struct htc_writer_opts *opts, int *err);
/* Same on an open fd, which the writer owns from now on and closes. */
struct htc_writer *htc_writer_fdopen(int fd, const struct htc_header *hdr,
				     const struct htc_writer_opts *opts, int *err);
/*
 * Append one record (copied; the caller keeps its buffers).  Closes and
 * writes the current frame when it reaches frame_bytes or frame_ms.
 * After a write error every call returns that error; the file stays valid
 * up to its last complete frame.  A record that cannot be encoded is
 * refused without harming the writer: -EINVAL (unknown type, NULL pointer
 * with a nonzero length), HTC_ERR_TOOBIG (body over 16 MiB).
 */
int htc_writer_append(struct htc_writer *w, const struct htc_record *rec);
/* Close the open frame, if any, and write it out (-U, timers). */
int htc_writer_flush(struct htc_writer *w);
/*
 * Close the open frame only if its first record is frame_ms old.  append
 * checks this itself every few records; call it from an idle loop or timer
 * so a quiet capture still reaches the disk within frame_ms.
 */
int htc_writer_poll(struct htc_writer *w);
/* Bytes written to the file so far, for -C rotation. */
uint64_t htc_writer_size(const struct htc_writer *w);
/*
 * Flush, write the trailer (end_ns is the capture end, same clock as ts_ns;
 * 0 = last event time), close the fd and free w.  stats (OUT, may be NULL)
 * is filled even on error.  Returns 0 or the first error seen.
 */
int htc_writer_close(struct htc_writer *w, uint64_t end_ns, struct htc_writer_stats *stats);

/* ---- reader ---- */

struct htc_reader;

/* A problem the reader recovered from (skipped frame, truncated tail). */
typedef void (*htc_warn_fn)(void *ctx, int err, uint64_t offset, const char *msg);

struct htc_reader_stats {
	uint64_t frames_ok;
	uint64_t frames_bad;		/* failed checksum or decoding, skipped */
	uint64_t frames_dup;		/* repeated an earlier frame byte for byte, skipped */
	uint64_t records;
	uint64_t records_skipped;	/* unknown type or malformed, skipped */
	int truncated;			/* the file ended inside a frame */
	uint64_t stop_offset;		/* where reading stopped (file size if clean) */
};

/*
 * Open a file (or "-" for stdin) / a memory buffer (not copied; it must
 * outlive the reader).  Reads and checks the header frame: a bad magic or a
 * newer major version fails here with HTC_ERR_MAGIC / HTC_ERR_VERSION.
 */
struct htc_reader *htc_reader_open(const char *path, int *err);
struct htc_reader *htc_reader_open_mem(const void *buf, size_t len, int *err);
/* Called for every recovered problem; the default prints nothing. */
void htc_reader_set_warn(struct htc_reader *r, htc_warn_fn fn, void *ctx);
const struct htc_header *htc_reader_header(const struct htc_reader *r);
/*
 * Next record into *rec (OUT).  Pointers inside rec stay valid until the
 * next call.  Returns 1 for a record, 0 at the end (clean or after a
 * truncated tail: see stats), or a negative error when nothing more can be
 * read (I/O error).  Corrupt frames are reported through the warn callback
 * and skipped.
 */
int htc_reader_next(struct htc_reader *r, struct htc_record *rec);
/* The trailer once the end is reached, NULL if the file has none (truncated). */
const struct htc_trailer *htc_reader_trailer(const struct htc_reader *r);
void htc_reader_stats(const struct htc_reader *r, struct htc_reader_stats *st);
void htc_reader_close(struct htc_reader *r);

/* ---- showing captured text (htc_text.c) ---- */

/*
 * The one rule of the three tools for captured bytes shown to people: a
 * byte sequence is shown as it is only when htc_utf8_decode finds a valid
 * UTF-8 sequence (OUT *cp; returns its length, 0 when the byte at p does
 * not start one: overlong, surrogate, out of range, cut short) whose code
 * point is not htc_cp_unsafe: C0 and C1 controls, DEL, the bidirectional
 * overrides and isolates, U+2028/U+2029.  Each output escapes the rest in
 * its own syntax.
 */
size_t htc_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp);
int htc_cp_unsafe(uint32_t cp);

/*
 * The escapes of that rule, for every output of the three tools.
 * HTC_ESC_TEXT (a terminal, a CSV cell): each byte not shown becomes \xNN;
 * a backslash stays (readability, not a reversible encoding: the file
 * keeps the bytes).  HTC_ESC_QUOTED (text between double quotes): also
 * \" \\ \n \r \t.  HTC_ESC_JSON (a JSON string's content): \" \\ \n \r
 * \t, a control's code point as \uNNNN, a byte that is not UTF-8 as
 * \u00NN.  htc_escape writes into dst (cap bytes, NUL-terminated when cap >
 * 0) and returns the length it wanted, like snprintf; htc_fescape writes
 * to f (0, -ENOMEM or -EIO).
 */
enum htc_esc { HTC_ESC_TEXT, HTC_ESC_QUOTED, HTC_ESC_JSON };
size_t htc_escape(char *dst, size_t cap, const void *src, size_t n, enum htc_esc how);
int htc_fescape(FILE *f, const void *src, size_t n, enum htc_esc how);
/*
 * One CSV field (RFC 4180): escaped as HTC_ESC_TEXT, quoted when it holds
 * a comma, a quote or leading/trailing blanks; a field a spreadsheet would
 * take for a formula (first byte = + - @) gets a ' before it (the
 * CSV-injection rule).  0, -ENOMEM or -EIO.
 */
int htc_csv_field(FILE *f, const void *src, size_t n);

/* ---- inputs read once (htc_spool.c) ---- */

/*
 * A capture path the tools can open more than once.  A regular file is
 * used as it is; "-" (standard input), a FIFO, a pipe (/dev/fd/N of a
 * process substitution), a socket or a character device is read once, to
 * its end, into an unlinked temporary file in $TMPDIR (else /tmp), and path
 * names that file (/proc/self/fd/N) until htc_spool_close.
 */
struct htc_spool {
	char path[4096];	/* OUT: what to open */
	int fd;			/* the temporary file, -1 when none */
	int spooled;		/* 1 when the input was copied */
	int failed_write;	/* on error: the temporary file could not be written */
	uint64_t bytes;		/* bytes copied */
};
/* 0, or -errno: the input could not be opened or read, or the copy could
 * not be written (sp->failed_write: the disk under TMPDIR is full...). */
int htc_spool(const char *path, struct htc_spool *sp);
void htc_spool_close(struct htc_spool *sp);
/* An unlinked temporary file in $TMPDIR (else /tmp), open read-write
 * (O_TMPFILE, or created and unlinked at once where the file system has
 * none).  Returns its fd, or -errno. */
int htc_tmpfile(void);

#ifdef __cplusplus
}
#endif
#endif /* HTC_H */
