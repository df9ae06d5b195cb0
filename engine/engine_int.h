/* SPDX-License-Identifier: MIT */
/*
 * engine_int.h - the engine's private types, shared by the files of engine/
 * and by its white-box tests; the public face is include/htc_engine.h.
 *
 * Shape: engine.c owns connections and dispatches their bytes to the
 * protocol the detection chose (detect.c); a protocol is a row of
 * struct eng_proto (http1.c, redis.c, postgres.c, tls.c, and calls.c's
 * "unknown": calls by runs of writes).  Protocols cut the bytes into
 * exchanges (exch.c: requests on the server side, calls on the client
 * side, attributed to the thread's active request), which exch.c reports
 * to the sink; link.c pairs the two ends of a connection seen by both
 * processes; table.c has the hash tables, LRU order and recycling bins.
 * Adding a protocol: one file with its decoders and its struct eng_proto,
 * one row in eng_protos[] (detect.c), one HTC_PROTO_* value.
 */
#ifndef HTC_ENGINE_INT_H
#define HTC_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "htc_engine.h"
#include "htc_hash.h"
#include "http1_parse.h"

/* ---- limits ---- */

#define ENG_MAX_CONNS (1u << 16)	/* open connections tracked */
#define ENG_MAX_THREADS (1u << 16)	/* threads with active requests */
#define ENG_MAX_LINKS (1u << 16)	/* 5-tuples waiting for their other side */
#define ENG_LINK_WIN 256		/* exchanges awaiting their other side, per connection */
#define ENG_MAX_PENDING 64		/* exchanges waiting per connection (pipelining) */
#define ENG_MAX_STREAMS 1024		/* ... on a multiplexing protocol (HTTP/2 streams) */
#define ENG_MAX_ACTIVE 32		/* requests active at once on one thread */
#define ENG_MAX_FILES 4096
#define ENG_BODY_CAP (1u << 20)		/* request body bytes kept for replay */
#define ENG_SUMMARY_CAP 256
#define ENG_MAX_HANDOFF 256		/* connects in progress, closed empty accepts (engine.c) */
#define ENG_HANDOFF_NS 5000000000ULL	/* how long a closed empty accept waits for its taker */
#define ENG_MAX_PROCS 4096		/* processes with requests in flight (evidence, exch.c) */
#define ENG_MAX_INFLIGHT 256		/* their requests in flight that calls are matched against */

enum { DIR_IN = 0, DIR_OUT = 1 };	/* read, write */

/* ---- hash tables with LRU order, recycling bins (table.c) ---- */

/* Intrusive hash-table node with LRU links; first member of its owner. */
struct hnode {
	struct hnode *hnext;
	uint64_t hash;
	struct hnode *lru_prev, *lru_next;
};

struct htab {
	struct hnode **b;
	size_t nb, n;
	struct hnode lru;	/* sentinel: lru_next newest, lru_prev oldest */
};

int eng_htab_init(struct htab *t);
void eng_htab_insert(struct htab *t, struct hnode *n, uint64_t hash);
void eng_htab_remove(struct htab *t, struct hnode *n);
#define HTAB_FIRST(t, hash) ((t)->b[(hash) & ((t)->nb - 1)])

static inline void eng_lru_unlink(struct hnode *n)
{
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
}

static inline void eng_lru_push(struct hnode *s, struct hnode *n)
{
	n->lru_next = s->lru_next;
	n->lru_prev = s;
	s->lru_next->lru_prev = n;
	s->lru_next = n;
}

/* n was used: it becomes the newest of t */
static inline void eng_lru_touch(struct htab *t, struct hnode *n)
{
	if (t->lru.lru_next == n)
		return;
	eng_lru_unlink(n);
	eng_lru_push(&t->lru, n);
}

/*
 * A bin of recycled objects whose first member is their struct hnode,
 * chained by hnext: connections and threads come and go at the event rate,
 * so they are reused rather than freed.  eng_bin_get returns a zeroed
 * object (NULL when out of memory).
 */
void *eng_bin_get(struct hnode **bin, size_t size);
void eng_bin_put(struct hnode **bin, struct hnode *n);
void eng_bin_free(struct hnode **bin);

/* Make *bufp (elements of elem bytes, capacity *cap) hold at least need
 * elements.  Returns 0, or -ENOMEM with the buffer unchanged. */
int eng_grow(void *bufp, size_t *cap, size_t need, size_t elem);

/* ---- exchanges, threads, connections ---- */

struct efile {
	int64_t offset;		/* realtime_offset_ns */
	uint64_t next_req;	/* n of the next request id */
	/* The file whose index names this file's connections, threads and
	 * request ids: itself, or the first file registered of the same
	 * capture (rotated files: one stream, see htc_engine_add_file). */
	uint32_t stream;
	uint8_t capture_id[16];
	uint64_t host_hash;	/* of the header's hostname */
	uint64_t start_ns;
};

struct conn;
struct thr;
struct link;
struct eng_proto;
struct proc;

/* What an HTTP/1 head says about where it comes from (exch.c): hashes of
 * its propagated ids, of its start line, host, length.  0: absent. */
enum { EV_TRACEPARENT, EV_B3, EV_REQUEST_ID, EV_CORRELATION_ID, EV_AMZN, EV_UBER, ENG_EV_NID };
struct eng_evkey {
	uint64_t id[ENG_EV_NID];
	uint64_t span;		/* traceparent parent-id */
	uint64_t fwd;		/* method and target */
	uint64_t host, xfh;	/* Host, X-Forwarded-Host (lowercased) */
	int64_t clen;		/* Content-Length, -1 none */
};

/* An exchange: an HTTP request and its response, or a call. */
struct exch {
	struct exch *next_free;
	struct conn *conn;
	struct thr *thr;	/* thread it is active on (server side) */
	uint64_t serial;	/* unique per use, for annotations */
	uint64_t id;		/* request id or call id */
	uint64_t parent;	/* calls: the request it is attributed to */
	uint32_t seq, file, pid, tid;
	uint32_t tseq;		/* TCP sequence number of its first request byte, when has_tseq */
	uint8_t has_tseq;
	char comm[HTC_COMM_LEN];
	uint8_t proto;
	uint8_t has_str, is_head, is_connect;
	uint8_t req_done, resp_started, resp_done, answered;
	int status;
	uint32_t flags, ncalls;
	uint64_t start_ns, resp_start_ns, end_ns, last_resp_ns;
	uint64_t req_bytes, resp_bytes;
	uint64_t body_hash, resp_body_len;
	size_t off_path, off_version, off_host;	/* in str: method\0path\0version\0host\0 */
	size_t head_len, nhdrs, body_len;
	size_t resp_head_len;	/* HTTP/1: the final response's head in resp_head */
	uint64_t ptag;		/* the protocol's own (postgres.c: sync group, kind) */
	/* evidence (exch.c): calls, the parent object (valid while its
	 * serial matches) and the kind of proof; requests, their key and
	 * process entry while in flight, calls proven forwarded from them */
	uint8_t evidence;	/* HTC_EV_* */
	uint8_t keyed;		/* ev is set */
	struct exch *par;
	uint64_t par_serial;
	struct eng_evkey ev;
	struct proc *proc;
	uint32_t fwd_calls;
	/* HTTP/2 and gRPC (http2.c) */
	uint32_t stream_id;
	uint32_t unresolved;		/* header fields not resolved (HPACK state lost) */
	int grpc_status;		/* valid when has_grpc_status */
	uint8_t has_grpc_status;
	uint8_t h2_req_end, h2_resp_hdrs;	/* END_STREAM from the client seen; response head seen */
	uint32_t msgs[2];		/* gRPC messages: [0] request, [1] response */
	uint64_t msg_bytes[2];
	struct grpc_msgs {		/* length-prefixed message framing of one direction */
		uint8_t pfx[5];
		uint8_t plen;		/* prefix bytes collected */
		uint8_t lost;		/* framing lost (a gap) */
		uint64_t rem;		/* message bytes left */
	} gm[2];
	/* from here on kept when the object is recycled (eng_exch_new) */
	char *str;
	size_t str_cap;
	uint8_t *head;
	size_t head_cap;
	struct htc_eng_header *hdrs;
	size_t hdrs_cap;
	uint8_t *body;
	size_t body_cap;
	uint8_t *resp_head;
	size_t resp_head_cap;
	char summary[ENG_SUMMARY_CAP];	/* a string: bytes after its NUL are not read */
	char grpc_message[128];		/* escaped; a string, reset with summary */
};

/* Per-direction HTTP/1 states (http1.c). */
enum {
	H_IDLE,		/* between messages */
	H_HEAD,		/* start line and headers */
	H_BODY,		/* remaining bytes of a Content-Length body */
	H_CHUNKED,
	H_BODY_CLOSE,	/* response body delimited by the close */
	H_RESYNC,	/* framing lost: looking for a start line */
	H_OFF,		/* not HTTP (any more) */
};

/* One direction of an HTTP/1 connection (http1.c). */
struct hdir {
	int state;
	int interim;		/* the response head parsed was a 1xx */
	uint64_t remaining;
	struct http_chunked ch;
	uint8_t *buf;		/* head accumulation */
	size_t len, cap;
	struct exch *ex;	/* message in progress belongs to it; NULL: none */
};

/*
 * Where a direction of a connection's byte stream is.  Offsets are the
 * engine's: the event's stream_off, moved by adj once TCP sequence numbers
 * show that the capture's byte count is off (bytes it did not count).
 */
struct stream_pos {
	int started;
	uint64_t off;		/* next expected stream offset */
	int64_t adj;		/* engine offset - the capture's stream_off */
	uint32_t seq_base;	/* TCP sequence number of engine offset 0 (mod 2^32) */
	uint8_t seq_ok;		/* seq_base is known */
};

struct thr {
	struct hnode node;
	uint32_t file, pid, tid;
	uint32_t n;
	struct exch *act[ENG_MAX_ACTIVE];
	/* the run of an event loop (exch.c): the request whose head the
	 * thread's last read completed, until its next read or response
	 * write; valid while loop_serial matches */
	struct exch *loop;
	uint64_t loop_serial, loop_event, loop_ts;
	uint32_t loop_calls;	/* calls started in the window */
	uint8_t loop_multi;	/* that read completed several heads */
};

struct conn {
	struct hnode node;
	struct htc_eng_conn info;
	int role;
	int preexisting, classified;
	int read_since_write;	/* calls: the server answered since the client last wrote */
	int h2c_upgrade;	/* HTTP/1: the response being read upgrades to h2c */
	int tls_plain;		/* TLS decrypted: the protocol reads its plaintext (tls.c) */
	uint32_t nseq;
	struct stream_pos in[2];	/* per direction (DIR_*) */
	/* the chunk being decoded (http1.c): the TCP sequence number of the
	 * byte at kseq_p, when kseq_ok, so a message start gets its own */
	const uint8_t *kseq_p;
	uint32_t kseq;
	uint8_t kseq_ok;
	/* sequence number of the next exchange's first request byte
	 * (eng_exch_start_seq takes it) */
	uint8_t next_tseq_ok;
	uint32_t next_tseq;
	struct hdir dir[2];	/* HTTP/1 (http1.c) */
	struct exch **q;	/* open exchanges, oldest first: qin, or grown (HTTP/2) */
	uint32_t qn, qcap;
	struct exch *qin[ENG_MAX_PENDING];
	const struct eng_proto *ops;	/* decoder of the bytes; NULL: none */
	void *ps;		/* its per-connection state (ops->open) */
	struct link *link;
	struct exch *loop_req;	/* connected in that request's loop window (exch.c) */
	uint64_t loop_serial;
	uint64_t last_req_id;
	char *last_mp;		/* method\0path\0 of the last request reported */
	size_t last_mp_cap, last_plen;
	int last_has_mp;
};

struct htc_engine {
	struct htc_engine_sink sink;
	struct htc_engine_stats st;
	struct efile *files;
	uint32_t nfiles;
	struct htab conns, threads, links;
	struct htab procs;	/* exch.c, made at first use */
	struct exch *free_ex;
	struct hnode *free_conn;	/* recycled objects (eng_bin_*) */
	struct hnode *free_thr;
	uint64_t next_conn, next_call, serial;
	uint32_t ev_starts;	/* exchanges the event being fed started */
	struct http_head hh;	/* scratch: too big for the stack of every call */
	/* connections that may go on under another conn_id (engine.c): a
	 * non-blocking connect in progress (a second connect() on its socket
	 * is a new conn_id in the capture), and empty accepted connections
	 * closed by their acceptor, which may have handed them to another
	 * process (a forking server) */
	struct {
		uint64_t id, conn_id;
		uint32_t file, pid;
		uint16_t lport, rport;	/* checked first: most connects are new */
	} connecting[ENG_MAX_HANDOFF];
	uint32_t connecting_next;
	struct conn *handoff[ENG_MAX_HANDOFF];	/* oldest first, closed */
	uint32_t handoff_n;
	/* annotation of the event being fed */
	int ann_want, ann_start, ann_has_mp;
	uint64_t ann_serial, ann_id;
	char *ann_buf;
	size_t ann_cap, ann_plen;
};

/* ---- the protocol interface ---- */

/*
 * The bytes one syscall moved in one direction, as a protocol sees them:
 * `lost` bytes that were never captured came first (a gap: drops, or a
 * connection joined mid-way), then `len` captured bytes at p, then `tail`
 * bytes counted by the syscall but not captured (past the snaplen).  Byte
 * counts are always exact; only the bytes themselves may be missing.
 */
struct eng_chunk {
	const struct htc_event *ev;	/* the event: pid, tid, comm */
	uint64_t ts;			/* its wall-clock time */
	const uint8_t *p;
	size_t len;
	uint64_t lost, tail;
	/* the TCP sequence number of p's first byte, when has_seq */
	uint32_t seq;
	uint8_t has_seq;
};

/*
 * One protocol: a row of eng_protos[] (detect.c).  Every operation but
 * detect may be NULL.
 */
struct eng_proto {
	uint8_t id;			/* HTC_PROTO_* */
	const char *name;		/* htc_proto_name() */
	uint16_t port;			/* well-known server port: the guess when the bytes say nothing; 0 none */
	/* The first bytes a client wrote (len >= 1): 1 when they are this
	 * protocol's, 0 otherwise.  Bytes only; ports are tried after every
	 * row's bytes. */
	int (*detect)(const uint8_t *p, size_t len);
	/* c now speaks this protocol; d, p, len: the data that told (len may be
	 * 0).  Allocates c->ps if it needs state.  0 or -ENOMEM. */
	int (*open)(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len);
	/* Bytes of direction d (see struct eng_chunk).  0 or -ENOMEM. */
	int (*data)(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k);
	/* The connection ends: at its close (closing = 1), or at the end of the
	 * input or by eviction (0).  Report or flag what the end cuts; the
	 * core then reports whatever is still queued, unanswered. */
	void (*close)(struct htc_engine *e, struct conn *c, int closing);
	/* The name of a call that the client's write at p starts, for
	 * protocols whose calls are runs of writes (calls.c); NULL: the bytes,
	 * escaped. */
	void (*summary)(struct conn *c, const uint8_t *p, size_t len, char *out, size_t cap);
	/* Release what open allocated (NULL: free(c->ps)). */
	void (*free)(struct conn *c);
	/* Exchanges open at once on a connection (0: ENG_MAX_PENDING). */
	uint32_t max_pending;
};

extern const struct eng_proto eng_http1, eng_http2, eng_grpc, eng_redis, eng_postgres, eng_tls,
	eng_unknown;

/* Calls of this protocol are matched with the server's requests (link.c). */
static inline int eng_proto_linked(unsigned proto)
{
	return proto == HTC_PROTO_HTTP || proto == HTC_PROTO_HTTP2 || proto == HTC_PROTO_GRPC;
}

/* Protocols whose exchanges are numbered by the connection itself (HTTP/2
 * stream ids), the same at both ends wherever a capture joined it. */
static inline int eng_proto_numbered(unsigned proto)
{
	return proto == HTC_PROTO_HTTP2 || proto == HTC_PROTO_GRPC;
}

/* ---- detect.c ---- */

/* Guess the protocol of a connection from the first bytes its client
 * wrote and the server's port: HTC_PROTO_* (UNKNOWN when no idea). */
int proto_detect_client(const uint8_t *p, size_t len, uint16_t server_port);

/* The protocol row of HTC_PROTO_* id (eng_unknown for ids without one). */
const struct eng_proto *eng_proto_of(unsigned id);

/* Decide c's role and protocol from its first captured data (direction d,
 * bytes p); sets c->classified when decided, and opens the protocol.
 * 0 or -ENOMEM. */
int eng_classify(struct htc_engine *e, struct conn *c, int d, const uint8_t *p, size_t len);

/* c speaks protocol id from now on: the old protocol's state is freed and
 * the new one opened with (d, p, len).  0 or -ENOMEM. */
int eng_set_proto(struct htc_engine *e, struct conn *c, unsigned id, int d, const uint8_t *p, size_t len);

/* Escape len bytes for display: printable ASCII kept, backslash doubled,
 * the rest as \xNN.  Writes at most cap - 1 bytes and a NUL into dst (cap
 * >= 1); stops before an escape that would not fit.  Returns the length. */
size_t proto_escape(char *dst, size_t cap, const uint8_t *src, size_t len);

/* ---- exch.c: exchanges, threads, annotations, reports ---- */

struct efile *eng_file_of(struct htc_engine *e, uint32_t idx);

/* A new exchange on c (a request on the server side, a call on the client
 * side), started by event ev at ts; queued on c.  NULL when out of memory, or when
 * the event already started HTC_ENG_MAX_STARTS (counted in st.cut). */
struct exch *eng_exch_start(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
			    uint64_t ts, uint8_t proto);
/* The same with its exchange number on c given (HTTP/2: from the stream
 * id, so both ends number a stream alike whatever either missed). */
struct exch *eng_exch_start_seq(struct htc_engine *e, struct conn *c, const struct htc_event *ev,
				uint64_t ts, uint8_t proto, uint32_t seq);
/* x is finished (answered, or given up on): report it and recycle it. */
void eng_exch_done(struct htc_engine *e, struct exch *x);
/* Forget x without reporting it (nothing refers to it). */
void eng_exch_drop(struct htc_engine *e, struct exch *x);
/* Store method, path, version and host of x from a parsed head. */
int eng_exch_set_strings(struct exch *x, const struct http_head *h, const char *host, size_t host_len);
/* The same from each string (version: "HTTP/2"...). */
int eng_exch_set_strs(struct exch *x, const char *m, size_t ml, const char *p, size_t pl,
		      const char *version, const char *host, size_t hl);
/* Report every exchange still queued on c, oldest first; with
 * answered_by_bytes, one that got response bytes counts as answered. */
void eng_exch_drain(struct htc_engine *e, struct conn *c, int answered_by_bytes);

/* The request a thread is serving: the only active one, or the most recent
 * of several (OUT *ambiguous = 1).  NULL when none. */
struct exch *eng_attribute(struct htc_engine *e, uint32_t file, uint32_t pid, uint32_t tid,
			   int *ambiguous);
/* Evidence (exch.c).  Server request x's head hh is known: x becomes a
 * candidate for the calls of its process while in flight.  Client call x's
 * head hh is known: its parent is decided by the evidence (propagated ids,
 * forwarding, the thread rule of its start).  0 or -ENOMEM. */
int eng_evidence_request(struct htc_engine *e, struct exch *x, const struct http_head *hh, uint64_t ts);
/* The event ev moves bytes of direction d on c (classified): a read, or a
 * response written, ends the thread's event-loop window. */
void eng_loop_event(struct htc_engine *e, struct conn *c, int d, const struct htc_event *ev);
/* Client c is connected by ev: a connect in a thread's window is its
 * request's (the connection's first call is the window's). */
void eng_loop_connect(struct htc_engine *e, struct conn *c, const struct htc_event *ev);
int eng_evidence_call(struct htc_engine *e, struct exch *x, const struct http_head *hh);

/* At htc_engine_free: the threads (and processes), the recycled exchanges. */
void eng_thr_free_all(struct htc_engine *e);
void eng_exch_free_all(struct htc_engine *e);

/* Annotation of the event being fed (htc_engine_feed's annot): it touched
 * exchange x (start: it carries x's start line); or it is tied to request r
 * (a connect made while serving it; r may be NULL); or, an event of c that
 * touched no exchange, to the request its thread is serving; or to request
 * id with its method and path (m, p may be NULL). */
void eng_ann_touch(struct htc_engine *e, struct exch *x, int start);
void eng_ann_request(struct htc_engine *e, struct exch *r);
void eng_ann_thread(struct htc_engine *e, struct conn *c, const struct htc_event *ev);
void eng_ann_copy(struct htc_engine *e, uint64_t id, const char *m, const char *p);

/* ---- calls.c: calls on client connections of protocols other than HTTP ---- */

/* A new call on c with that summary (copied), annotated. */
struct exch *eng_call_new(struct htc_engine *e, struct conn *c, const struct eng_chunk *k, const char *summary);
/* The newest open call of c, or NULL. */
struct exch *eng_call_newest(struct conn *c);
/* Is x (with that serial: objects are recycled) still open on c? */
int eng_call_open(const struct conn *c, const struct exch *x, uint64_t serial);
/* Close every open call of c (oldest first) as answered when it got bytes. */
void eng_calls_close_all(struct htc_engine *e, struct conn *c);
/* The client writes: returns 1 once after the server answered (its turn
 * again), 0 otherwise. */
int eng_calls_turn(struct conn *c);
/* After a protocol fed the client's write k: its bytes go to the newest
 * call, or the event to the thread's request. */
void eng_calls_wrote(struct htc_engine *e, struct conn *c, const struct eng_chunk *k);
/* The server's bytes k: they go to the oldest open call. */
void eng_calls_read(struct htc_engine *e, struct conn *c, const struct eng_chunk *k);
/* data for protocols whose calls are runs of writes (one call from the
 * client's first write to its next write after an answer). */
int eng_calls_runs(struct htc_engine *e, struct conn *c, int d, const struct eng_chunk *k);
/* close for call protocols: open calls that got bytes are answered. */
void eng_calls_close(struct htc_engine *e, struct conn *c, int closing);

/* ---- link.c: the two ends of a connection, both traced ---- */

/* Register c (classified, its role known) under its 5-tuple. */
void eng_link_attach(struct htc_engine *e, struct conn *c);
void eng_link_detach(struct htc_engine *e, struct conn *c);
/* Exchange x of c got its id (and, for a call, its parent request). */
void eng_link_note(struct conn *c, const struct exch *x, uint64_t parent);
/* The call seq of c was attributed to a request among several active
 * (HTC_ENGF_AMBIGUOUS): its child's parent is a guess. */
void eng_link_guess(struct conn *c, uint32_t seq);
/* Is the other side's exchange seq of c a call whose parent is a guess? */
int eng_link_peer_guess(struct conn *c, uint32_t seq);
/* The call seq of c changed parent (evidence at its head): record it,
 * with its guess flag and evidence (HTC_EV_*). */
void eng_link_attr(struct conn *c, uint32_t seq, uint64_t parent, int guess, unsigned evidence);
/* The evidence of the other side's call seq of c (HTC_EV_NONE unknown). */
unsigned eng_link_peer_evidence(struct conn *c, uint32_t seq);
/* The other side's ids for exchange seq of c, when it has them: OUT *id,
 * *parent.  Returns 1 when found. */
int eng_link_peer(struct conn *c, uint32_t seq, uint64_t *id, uint64_t *parent);
/* Exchange seq of c was reported (carried: the report carried the peer's
 * ids); emits on_link when both sides are. */
void eng_link_reported(struct htc_engine *e, struct conn *c, uint32_t seq, int carried);
void eng_link_free_all(struct htc_engine *e);

/* ---- tls.c ---- */

/* Event ev of c is TLS plaintext, or ciphertext of a decrypted connection
 * (HTC_EVF_TLS, HTC_EVF_TLS_CIPHER): from now on c's protocol reads the
 * plaintext.  What the handshake's ciphertext made (a call) is forgotten,
 * and detection starts again on the plaintext.  Call when !c->tls_plain. */
void eng_tls_decrypted(struct htc_engine *e, struct conn *c);

/* The server name (SNI) of a TLS ClientHello at p, escaped into out (cap
 * bytes).  Returns 1 when found, 0 otherwise (not a ClientHello, cut, no
 * SNI).  Bounds-checked: the bytes come from the capture. */
int proto_tls_sni(const uint8_t *p, size_t len, char *out, size_t cap);

/* ---- http2.c ---- */

/* Do the bytes p, seen mid-stream, look like HTTP/2 frames (a chain of
 * plausible frame headers from p on)?  1 yes, 0 no.  OUT *is_req: 1 when
 * a header block in them starts like a request's, 0 a response's, -1 not
 * known. */
int eng_h2_sniff(const uint8_t *p, size_t len, int *is_req);

/* ---- Redis (redis.c): RESP2/RESP3 command and reply decoders ---- */

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

/* ---- PostgreSQL (postgres.c): frontend/backend message decoder ---- */

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

#endif /* HTC_ENGINE_INT_H */
