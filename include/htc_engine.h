/* SPDX-License-Identifier: MIT */
/*
 * htc_engine.h - the engine: events in; connections, HTTP requests,
 * downstream calls and cross-process links out.
 *
 * One streaming library (the files of engine/, libhtcengine.a) used by
 * httpcap (request_id, method and path of its live and -r output), by
 * httpanalyze's SQLite loader and by httpreplay.  It never writes SQL and
 * never prints.
 *
 * Time: every time the engine reports is wall-clock nanoseconds since the
 * Unix epoch (event ts_ns + the file's realtime_offset_ns), so files from
 * several hosts share one timeline.
 *
 * Strings in the structs below are NUL-terminated, owned by the engine and
 * valid only during the callback (copy what you keep).  They hold raw bytes
 * from the capture: escape them before printing.
 */
#ifndef HTC_ENGINE_H
#define HTC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "htc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Request IDs: file k (0-based, in the order added; rotated files of one
 * capture count as its first file) numbers its requests
 * HTC_REQID_FIRST + k * HTC_REQID_FILE_STRIDE + n, n = 0, 1, ... in the order
 * requests start.  So IDs are stable for a file analysed alone (the first
 * file's requests are 1001, 1002, ...) and unique across merged files. */
#define HTC_REQID_FIRST 1001ULL
#define HTC_REQID_FILE_STRIDE 1000000000ULL

/* Exchanges (requests, calls, streams) one event may start; more are cut
 * and counted (htc_engine_stats.cut).  Generous for pipelining and HTTP/2
 * (a read holding the HEADERS of a few hundred streams), yet it bounds what a file
 * of tiny repeated messages, compressed a thousandfold, can make. */
#define HTC_ENG_MAX_STARTS 256

enum htc_proto {
	HTC_PROTO_UNKNOWN = 0,
	HTC_PROTO_HTTP = 1,
	HTC_PROTO_REDIS = 2,
	HTC_PROTO_POSTGRES = 3,
	HTC_PROTO_TLS = 4,	/* recognised, not decoded */
	HTC_PROTO_HTTP2 = 5,	/* HTTP/2: prior knowledge (h2c), or h2 once decrypted */
	HTC_PROTO_GRPC = 6,	/* gRPC over HTTP/2 (content-type application/grpc) */
};
const char *htc_proto_name(unsigned proto);	/* "http", "redis", ... */

/* Added with TLS plaintext (format 1.2): whether a connection is TLS, and
 * what decrypted it (htc_eng_conn.tls, and the same on its requests and
 * calls). */
enum htc_tls {
	HTC_TLS_NONE = 0,	/* not TLS (as far as its bytes tell) */
	HTC_TLS_ENCRYPTED = 1,	/* TLS not decrypted: byte counts and runs of writes only */
	HTC_TLS_OPENSSL = 2,	/* decrypted: the plaintext of OpenSSL's calls */
	HTC_TLS_GNUTLS = 3,	/* ... of GnuTLS's */
	HTC_TLS_GO = 4,		/* ... of Go's crypto/tls */
};
/* "encrypted", "openssl", "gnutls", "go"; NULL for HTC_TLS_NONE and
 * unknown values. */
const char *htc_tls_name(unsigned tls);

/* A connection, reported once when it closes (or at htc_engine_finish). */
struct htc_eng_conn {
	uint64_t id;		/* engine-wide, unique across files */
	uint32_t file_idx;
	uint64_t conn_id;	/* the capture's conn_id */
	uint32_t pid, tid;	/* of the accept/connect, or the first event */
	char comm[HTC_COMM_LEN];
	struct htc_endpoints ep;
	uint8_t proto;		/* enum htc_proto, as recognised from the bytes */
	int32_t connect_result;	/* 0 or -errno; 0 when not a connect */
	uint64_t open_ns;	/* accept/connect (or first event) */
	uint64_t close_ns;	/* close; 0 if still open at the end */
	uint64_t connect_ns;	/* duration of the connect syscall */
	uint64_t bytes_in, bytes_out;	/* from syscall return values */
	uint64_t request_id;	/* inbound request being served when opened; 0 none */
	uint32_t flags;		/* HTC_ENGF_* */
	/* Added: joined mid-stream (HTC_ENGF_PREEXISTING), the bytes the
	 * connection had read before its first captured one (the capture
	 * seeds a read offset from TCP's counters; the write side has no
	 * such counter, so what was written before is not known); else 0. */
	uint64_t unseen_in;
	/* Added: the TCP sequence number of the first byte seen in each
	 * direction (seq_in: read, in the peer's sequence space; seq_out:
	 * written), valid when flags2 has HTC_ENGF2_SEQ_IN / _OUT: where the
	 * capture joined the connection, to align it with another capture of
	 * it (tcpdump's, the other host's) */
	uint32_t seq_in, seq_out;
	uint32_t flags2;
	/* Added: enum htc_tls.  A decrypted connection's proto and exchanges
	 * are those of its plaintext; bytes_in/out stay the wire's. */
	uint8_t tls;
};
#define HTC_ENGF2_SEQ_IN	0x0001
#define HTC_ENGF2_SEQ_OUT	0x0002

/* Flags on requests, calls and connections. */
#define HTC_ENGF_UNANSWERED	0x0001	/* no response before close / end of capture */
#define HTC_ENGF_RESET		0x0002	/* connection reset / closed mid-message */
#define HTC_ENGF_GAP		0x0004	/* bytes counted but not captured (snaplen, drops) */
#define HTC_ENGF_BODY_PARTIAL	0x0008	/* request body not fully captured */
#define HTC_ENGF_AMBIGUOUS	0x0010	/* several inbound requests were active on the thread */
#define HTC_ENGF_PREEXISTING	0x0020	/* connection opened before the capture */
#define HTC_ENGF_ERROR		0x0040	/* HTTP status >= 400, or a protocol error reply */
#define HTC_ENGF_RESP_BODY_PARTIAL 0x0080 /* response body not fully captured */
#define HTC_ENGF_RESP_LEN_UNKNOWN 0x0100 /* response body length unknown (its framing was not captured) */
#define HTC_ENGF_PARENT_GUESS	0x0200	/* requests: parent_id is a guess (the parent call was AMBIGUOUS) */
#define HTC_ENGF_UNRESOLVED	0x0400	/* HTTP/2: header fields not resolved (HPACK state lost:
					 * joined mid-connection, or a gap); never guessed */
#define HTC_ENGF_STREAM_RESET	0x0800	/* HTTP/2: the stream ended by RST_STREAM (an error) */
#define HTC_ENGF_REQ_GAP	0x8000	/* bytes of the request itself (head or body) not captured;
					 * HTC_ENGF_GAP says some bytes of the exchange were not */

/*
 * The evidence of a call's parent (htc_eng_call.evidence) and of a
 * request's parent link (htc_eng_request.parent_evidence), strongest last.
 * Proofs: ID, FORWARD, THREAD (and LOOP).  GUESS: a parent was chosen
 * without proof (several candidates, or two proofs that disagree), the
 * call then carries HTC_ENGF_AMBIGUOUS.  NONE: no parent.
 */
enum htc_evidence {
	HTC_EV_NONE = 0,
	HTC_EV_GUESS = 1,	/* the most recent of several active requests on the thread */
	HTC_EV_LOOP = 2,	/* the request read in the event-loop run that wrote the call (below) */
	HTC_EV_THREAD = 3,	/* the only request active on the calling thread */
	HTC_EV_FORWARD = 4,	/* the call reproduces the only matching inbound request in flight (a proxy) */
	HTC_EV_ID = 5,		/* the call carries the propagated trace/request id of exactly one request in flight */
};
const char *htc_evidence_name(unsigned ev);	/* "none", "guess", "loop", "thread", "forward", "id" */

/* One header line, views into the request's head bytes. */
struct htc_eng_header {
	const char *name;	size_t name_len;
	const char *value;	size_t value_len;
};

/* An inbound HTTP request (server side), reported once complete: when its
 * response has been written, or at close / htc_engine_finish (unanswered). */
struct htc_eng_request {
	uint64_t id;			/* request_id, see HTC_REQID_FIRST */
	uint64_t conn;			/* htc_eng_conn.id */
	uint32_t seq;			/* 0-based index of this exchange on its connection */
	uint32_t file_idx, pid, tid;
	char comm[HTC_COMM_LEN];
	struct htc_endpoints ep;
	const char *method, *path, *version, *host;	/* host "" if absent */
	int status;			/* response status, 0 if none */
	uint64_t start_ns;		/* first request byte read */
	uint64_t end_ns;		/* last response byte written; 0 if unanswered */
	uint64_t req_bytes, resp_bytes;	/* on the wire: head + body */
	uint32_t ncalls;		/* downstream calls attributed to it */
	uint32_t flags;			/* HTC_ENGF_* */
	/* The captured request, for replay: head (start line to the blank line
	 * included) and body, as captured; body_len < content length when
	 * HTC_ENGF_BODY_PARTIAL. */
	const uint8_t *head;		size_t head_len;
	const struct htc_eng_header *headers;	size_t nheaders;
	const uint8_t *body;		size_t body_len;
	uint64_t resp_body_hash;	/* FNV-1a 64 of the response body (decoded if chunked), when fully captured */
	/* decoded response body length as the response framed it
	 * (Content-Length, the sum of its chunks, the bytes up to the close),
	 * captured or not; 0 with HTC_ENGF_RESP_LEN_UNKNOWN when that framing
	 * was not captured */
	uint64_t resp_body_len;
	/* Added: the client call (another process or host, matched by
	 * 5-tuple) that made this request, when already known at report time;
	 * else 0 and on_link tells later.  parent_id is that call's request. */
	uint64_t parent_call_id;
	uint64_t parent_id;
	/* Added with HTTP/2.  proto: HTC_PROTO_HTTP, HTTP2 or GRPC.  For
	 * HTTP/2 the head is rebuilt from the decoded fields ("GET /p HTTP/2",
	 * then "name: value" lines, :authority as host; unresolved fields
	 * left out), and seq is the stream's number, (stream_id - 1) / 2. */
	uint8_t proto;
	uint32_t stream_id;		/* 0 for HTTP/1 */
	uint32_t unresolved;		/* header fields not resolved (HTC_ENGF_UNRESOLVED) */
	int grpc_status;		/* gRPC: grpc-status of the trailers; -1 none */
	const char *grpc_message;	/* gRPC: grpc-message, escaped; "" none */
	uint32_t req_msgs, resp_msgs;	/* gRPC: length-prefixed messages each way */
	uint64_t req_msg_bytes, resp_msg_bytes;	/* ... and their lengths added up */
	/* Added: the evidence of parent_id (HTC_EV_*), with parent_call_id */
	uint8_t parent_evidence;
	/* Added: the final response's head as captured (status line to the
	 * blank line included; HTTP/1 only, at most HTC_ENG_MAX_RESP_HEAD
	 * bytes); never NULL, resp_head_len 0 when none was captured */
	const uint8_t *resp_head;	size_t resp_head_len;
	/* Added: its connection's enum htc_tls (decrypted: the library) */
	uint8_t tls;
};

/* Response heads kept per exchange at most (a longer one is cut there and
 * flagged by resp_head_len == HTC_ENG_MAX_RESP_HEAD) */
#define HTC_ENG_MAX_RESP_HEAD 16384

/* An outbound call (client side): one HTTP exchange, one Redis command, one
 * PostgreSQL query, or for other protocols one run of writes and the reads
 * answering it.  Reported once complete. */
struct htc_eng_call {
	uint64_t id;			/* engine-wide */
	uint64_t request_id;		/* inbound request of this thread; 0 none */
	uint64_t conn;			/* htc_eng_conn.id */
	uint32_t seq;			/* 0-based index of this exchange on its connection */
	uint32_t file_idx, pid, tid;
	char comm[HTC_COMM_LEN];
	struct htc_endpoints ep;
	uint8_t proto;			/* enum htc_proto */
	const char *summary;		/* "GET /x", "SET user:1", "SELECT ...", or escaped first bytes */
	int status;			/* HTTP status; 0 otherwise */
	uint64_t start_ns, end_ns;	/* first byte written, last answer byte read (0 if none) */
	uint64_t bytes_out, bytes_in;
	uint32_t flags;			/* HTC_ENGF_* (AMBIGUOUS: request_id is one of several) */
	/* Added: the server request this call became (matched by 5-tuple),
	 * when already known at report time; else 0 and on_link tells later. */
	uint64_t child_request_id;
	/* Added with HTTP/2 (see htc_eng_request); summary is "GET /p" for
	 * HTTP/2, "package.Service/Method" for gRPC. */
	uint32_t stream_id;
	uint32_t unresolved;
	int grpc_status;
	const char *grpc_message;
	uint32_t req_msgs, resp_msgs;
	uint64_t req_msg_bytes, resp_msg_bytes;
	/* Added: the evidence of request_id (HTC_EV_*; HTC_EV_NONE when 0) */
	uint8_t evidence;
	/* Added: the response head as in htc_eng_request (HTTP/1 calls) */
	const uint8_t *resp_head;	size_t resp_head_len;
	/* Added: its connection's enum htc_tls */
	uint8_t tls;
};

/*
 * Per-event annotation for httpcap's output.
 * request_id: on a server connection, the request whose exchange the event
 * carries (the read with its start line and further reads of it, the writes
 * of its response, the close after it); on a client connection, the
 * inbound request the call is attributed to (the thread's active request).
 * method/path: of the request whose start line the payload carries (an
 * inbound read, or an outbound HTTP write: then the outbound request's);
 * otherwise of request_id's request while it is known; else NULL.
 */
struct htc_eng_annot {
	uint64_t request_id;		/* inbound request the event belongs to; 0 none */
	const char *method, *path;	/* NULL when none (see httpcap(8)) */
};

struct htc_engine_sink {
	void *ctx;
	/* Each may be NULL. */
	void (*on_conn)(void *ctx, const struct htc_eng_conn *c);
	void (*on_request)(void *ctx, const struct htc_eng_request *r);
	void (*on_call)(void *ctx, const struct htc_eng_call *c);
	/* A client call and the server request it became were matched by
	 * 5-tuple (swapped) and exchange seq, possibly after one of them was
	 * reported: call call_id made request child_id; the child's parent is
	 * parent_id (the request that made the call, 0 if none).  Called once
	 * per pair, after both on_call and on_request of the pair were called.
	 * Only connections whose accept and connect were both captured are
	 * matched (a preexisting one's exchange numbering is unknown).
	 * flags (HTC_LINK_*) say which of the two reports did not already
	 * carry the link, so a sink that stored each row as reported patches
	 * only those; 0 when both did (the usual case on one host), plus
	 * HTC_LINK_PARENT_GUESS when parent_id is a guess. */
	void (*on_link)(void *ctx, uint64_t call_id, uint64_t child_id, uint64_t parent_id,
			unsigned flags);
};

/* on_link flags */
#define HTC_LINK_LATE_CALL	0x1	/* the call was reported (on_call) with child_request_id 0 */
#define HTC_LINK_LATE_REQUEST	0x2	/* the request was reported (on_request) with parent_call_id 0,
					 * or with a parent_id that differs from parent_id here */
#define HTC_LINK_PARENT_GUESS	0x4	/* parent_id is a guess: the call was HTC_ENGF_AMBIGUOUS (the
					 * request's report carried HTC_ENGF_PARENT_GUESS when it carried the link) */
/* bits 8-11 of the on_link flags: the evidence of parent_id (HTC_EV_*) */
#define HTC_LINK_EVIDENCE(flags) (((flags) >> 8) & 0xfu)

struct htc_engine_stats {
	uint64_t events, requests, calls, conns, links;
	uint64_t gaps;			/* stretches of uncaptured bytes */
	uint64_t parse_errors;		/* messages that were not valid HTTP */
	uint64_t ambiguous;
	/* Added: state dropped to stay within the memory caps (least
	 * recently used connections, threads, links; pending exchanges
	 * beyond the per-connection limit, reported as unanswered). */
	uint64_t evicted;
	uint64_t unanswered;		/* requests reported HTC_ENGF_UNANSWERED */
	/* Added: exchanges not started because one event already started
	 * HTC_ENG_MAX_STARTS (a flood of tiny pipelined messages: a few KiB
	 * of a capture must not become millions of rows) */
	uint64_t cut;
	/* Added with HTTP/2: header fields decoded, and those not resolved
	 * (their HPACK dynamic table entry was inserted before the capture
	 * joined, or in bytes not captured). */
	uint64_t h2_fields, h2_unresolved;
};

struct htc_engine;

/*
 * Attribution, by evidence, strongest first (htc_eng_call.evidence):
 * an outbound HTTP/1 call carrying the propagated id (W3C traceparent
 * trace id, b3 / X-B3-TraceId, X-Request-ID, X-Correlation-ID,
 * X-Amzn-Trace-Id Root, uber-trace-id) of exactly one inbound request in
 * flight on the same process belongs to it (several sharing a traceparent
 * trace id: the one whose parent-id the call repeats); else an outbound
 * request reproducing exactly one inbound request in flight on the process
 * and not yet forwarded (method and target, Content-Length when both have
 * one; Host or X-Forwarded-Host to choose among several) is its forwarded
 * copy; else a call (or connect) made by a thread while exactly one
 * inbound request is active on it (first byte read to last response byte
 * written, same pid and tid) belongs to that request; else, on a thread
 * serving several (an event loop), the first call started (its connect,
 * or its first write on a connection opened earlier) after the read that
 * completed exactly one request's head, with no read and no response
 * written by the thread in between, is that request's (the loop's order:
 * the weakest proof, set aside when a stronger one disagrees).  Otherwise
 * the call goes to the most recent active request and carries
 * HTC_ENGF_AMBIGUOUS (counted in stats.ambiguous); so does a call whose
 * proofs of id, forwarding and thread disagree (it keeps the strongest's
 * parent).
 *
 * Memory is bounded: connections, threads and 5-tuple links are kept in
 * least-recently-used tables with caps, exchanges waiting per connection
 * are capped (the oldest is then reported unanswered); what is dropped is
 * counted in stats.evicted.
 *
 * sink is copied.  Returns NULL with errno set.
 */
struct htc_engine *htc_engine_new(const struct htc_engine_sink *sink);
/* Register a file before feeding its records; returns its file_idx (>= 0).
 * A file with the capture id and hostname of one registered before and
 * another start_ns is a rotated file of that capture (httpcap -C/-G/-W):
 * its records continue that file's stream (connections, exchanges in
 * flight, request ids), and what the engine reports of them carries that
 * first file's file_idx. */
int htc_engine_add_file(struct htc_engine *e, const struct htc_header *hdr);
/*
 * Feed one record of file file_idx.  Records should come in time order;
 * small disorder (ring-buffer reordering across CPUs) is tolerated.
 * annot (OUT, may be NULL) receives the event's annotation, valid until the
 * next call.  Returns 0 or -errno (-ENOMEM).
 */
int htc_engine_feed(struct htc_engine *e, uint32_t file_idx, const struct htc_record *rec,
		    struct htc_eng_annot *annot);
/* End of input: report every open request (unanswered), call and connection. */
int htc_engine_finish(struct htc_engine *e);
void htc_engine_stats(const struct htc_engine *e, struct htc_engine_stats *st);
void htc_engine_free(struct htc_engine *e);

/*
 * Several files read as one stream in wall-clock order (k-way merge).
 * Each file is registered with the engine when e is not NULL, in the order
 * of paths.  Records of one file are held back up to 5 ms (wall clock) to
 * put small disorder back in order.  Records returned are valid until the
 * next htc_source_next.  On failure *err is -errno or HTC_ERR_* (the
 * reader's: HTC_ERR_MAGIC for a file that is not a capture).
 */
struct htc_source;
struct htc_source *htc_source_open(const char *const *paths, size_t npaths,
				   struct htc_engine *e, htc_warn_fn warn, void *warn_ctx, int *err);
/* Next record (OUT rec, file_idx); 1, 0 at the end, or < 0. */
int htc_source_next(struct htc_source *s, struct htc_record *rec, uint32_t *file_idx);
size_t htc_source_nfiles(const struct htc_source *s);
struct htc_reader *htc_source_reader(struct htc_source *s, size_t file_idx);
/* Approximate progress, bytes consumed and total, for progress bars. */
void htc_source_progress(const struct htc_source *s, uint64_t *done, uint64_t *total);
void htc_source_close(struct htc_source *s);

/*
 * tcpdump captures (engine/pcap.c).  htc_pcap_probe: 1 when path starts
 * with a pcap or pcapng magic (never for "-": standard input is read as
 * .htc).  htc_pcap_open: the capture read with libpcap (Ethernet, Linux
 * cooked v1/v2, raw IP, loopback; IPv4/IPv6) and its TCP reassembled into
 * the records of the server's side of each connection, as an .htc reader
 * (converted once per process into an unlinked file in TMPDIR, else /tmp).
 * Problems (a truncated file: what was read is kept; packets lost) are
 * told to warn (may be NULL) at every open; a file libpcap cannot open or
 * of an unsupported link type fails with HTC_ERR_CORRUPT, and
 * htc_pcap_error() then says why (per thread; "" when nothing to say).
 * htc_capture_open: either kind, by its magic.  NULL with *err on failure.
 */
int htc_pcap_probe(const char *path);
const char *htc_pcap_error(void);
struct htc_reader *htc_pcap_open(const char *path, htc_warn_fn warn, void *warn_ctx, int *err);
struct htc_reader *htc_capture_open(const char *path, htc_warn_fn warn, void *warn_ctx, int *err);


/*
 * Added: the digest of resp_body_hash, FNV-1a 64 over the (dechunked)
 * body, fed in pieces from HTC_FNV1A64_INIT; so a tool hashing a body it
 * received (httpreplay) computes the same value.
 */
#define HTC_FNV1A64_INIT 0xcbf29ce484222325ULL
uint64_t htc_fnv1a64(uint64_t h, const void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* HTC_ENGINE_H */
