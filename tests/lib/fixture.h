/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - write .htc capture fixtures from test code.
 *
 * A thin layer over the libhtc writer (include/htc.h) so that tests of the
 * engine, httpanalyze and httpreplay describe traffic as a script of
 * syscalls ("process 100 accepts, reads this request, writes that
 * response") instead of hand-made binaries.  The builder keeps per
 * connection state (fd, endpoints, stream offsets) so events carry
 * consistent stream_off values; fx_skip() makes a stretch of uncaptured
 * bytes (a drop) and fx_read_cut()/fx_write_cut() an event whose payload was
 * cut by snaplen.
 *
 * Test helpers: every function aborts with a message on error, so test code
 * stays linear.  Times are the capturing host's monotonic nanoseconds
 * (htc_event.ts_ns); wall-clock = t + realtime_offset_ns given to fx_open.
 *
 * Build: $(BUILD)/libfixture.a (and $(BUILD)/san/libfixture.a), link it
 * before $(HTC_LIB).
 */
#ifndef HTC_TESTS_FIXTURE_H
#define HTC_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "htc.h"

struct fx;

/*
 * Start a capture file: at path (created 0600), or in memory when path is
 * NULL (fx_finish then returns the bytes).  hostname may be NULL
 * ("fixture").  realtime_offset_ns: wall-clock ns = ts_ns + this.
 * The header's start_ns is 1 s (events should use t >= 1e9).
 */
struct fx *fx_open(const char *path, const char *hostname, int64_t realtime_offset_ns);

/* The header fx_open will write, to adjust before the first event
 * (snaplen, capture_id, options...). */
struct htc_header *fx_header(struct fx *fx);

/*
 * A connection accepted (server side) / connected (client side) by pid/tid.
 * Addresses are text ("127.0.0.1", "::1"); the family follows.
 * Returns the new conn_id (1, 2, 3... in the file).
 */
uint64_t fx_accept(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
		   const char *laddr, uint16_t lport, const char *raddr, uint16_t rport);
uint64_t fx_connect(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
		    const char *laddr, uint16_t lport, const char *raddr, uint16_t rport);
/* Same with the connect's result (0, -ECONNREFUSED, -EINPROGRESS). */
uint64_t fx_connect_ret(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid,
			const char *laddr, uint16_t lport, const char *raddr, uint16_t rport,
			int64_t ret);
/* A socket opened before the capture: no accept/connect event; its first
 * data event carries role (HTC_ROLE_UNKNOWN usually) and HTC_EVF_PREEXISTING. */
uint64_t fx_preexisting(struct fx *fx, uint32_t pid, const char *laddr, uint16_t lport,
			const char *raddr, uint16_t rport, uint8_t role);

/* Data events: ret = cap_len = len. */
void fx_read(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
	     const void *bytes, size_t len);
void fx_write(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
	      const void *bytes, size_t len);
/* Convenience: NUL-terminated text. */
void fx_reads(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, const char *s);
void fx_writes(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, const char *s);
/* Data events that moved ret bytes of which only the first cap_len are in
 * the payload (snaplen, sendfile with cap_len 0). */
/* TLS plaintext of conn (format 1.2): event type HTC_EV_READ or
 * HTC_EV_WRITE, sys the library call (HTC_SYS_SSL_READ...); its own stream
 * offsets. */
void fx_tls(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, uint8_t type,
	    uint8_t sys, const char *s);
/* From now on conn's syscall events carry HTC_EVF_TLS_CIPHER (ciphertext of
 * a decrypted connection). */
void fx_tls_cipher(struct fx *fx, uint64_t conn);
void fx_read_cut(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
		 const void *bytes, size_t cap_len, size_t ret);
void fx_write_cut(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn,
		  const void *bytes, size_t cap_len, size_t ret);
/* Lose n bytes of a direction (HTC_EV_READ or HTC_EV_WRITE) as a drop
 * would: the next event's stream_off jumps by n. */
void fx_skip(struct fx *fx, uint64_t conn, uint8_t dir, uint64_t n);
/* Give a direction's next events TCP sequence numbers (format 1.2), from
 * seq on: each event carries the number of its first byte, fx_skip moves
 * it too.  fx_seq_skip moves only the number: bytes the capture did not
 * count (moved by a call it did not see), so stream_off shows no gap. */
void fx_seq(struct fx *fx, uint64_t conn, uint8_t dir, uint32_t seq);
void fx_seq_skip(struct fx *fx, uint64_t conn, uint8_t dir, uint32_t n);

/* close(2) by pid/tid, result 0 (or ret, e.g. -ECONNRESET). */
void fx_close(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn);
void fx_close_ret(struct fx *fx, uint64_t t, uint32_t pid, uint32_t tid, uint64_t conn, int64_t ret);

/* Process metadata; comm is also used for that pid's later events
 * (default comm: "proc<pid>").  exe/cmdline may be NULL. */
void fx_proc(struct fx *fx, uint64_t t, uint32_t pid, uint32_t ppid, const char *comm,
	     const char *exe, const char *cmdline);
/* Any record as is (loss, options, or an event built by hand). */
void fx_record(struct fx *fx, const struct htc_record *rec);

/* Rotate as httpcap -C/-G does: the file so far is finished (its trailer
 * ends at t) and the next events go to a new file at path, with the same
 * header but its start_ns t, and its file_seq one more when the first was
 * numbered (fx_header(fx)->file_seq = 1 before the first record);
 * connections carry on.  Files only. */
void fx_rotate(struct fx *fx, const char *path, uint64_t t);

/*
 * Finish: write the trailer.  For an in-memory fixture *buf (malloc'd,
 * the caller frees) and *len receive the file's bytes; for a file they may
 * be NULL (if not, the file's bytes are returned too).  Frees fx.
 * Returns 0 (aborts on error).
 */
int fx_finish(struct fx *fx, void **buf, size_t *len);

/* ---- ready-made scenarios ----
 * Each appends its events to fx (or two fx for two hosts) starting at t0
 * and returns the time of its last event.  Their expected results are
 * documented next to each, and used by several test suites. */

/*
 * One server process "web" (pid 100, tid 100) on 10.0.0.1:8080, one
 * keep-alive client connection from 10.0.0.9:40000 carrying, in order:
 *   1001 GET /index.html        -> 200, body "hello world\n" (12 bytes)
 *   1002 POST /api/items (body {"name":"x"}, 12 bytes) -> 201 chunked body
 *   1003 GET /missing           -> 404
 *   1004 HEAD /index.html       -> 200 Content-Length 12, no body
 *   1005 GET /boom              -> 500, Connection: close; then close
 */
uint64_t fx_scenario_keepalive(struct fx *fx, uint64_t t0);

/*
 * Two services on one host (127.0.0.1), two processes:
 *  "front" (pid 100, tid 101) accepts a client 127.0.0.1:41000 -> :8080 and
 *  reads "GET /order/42"; it connects to "back" 127.0.0.1:42000 -> :9090,
 *  writes "GET /stock/42", and "back" (pid 200, tid 201) accepts that
 *  connection, reads it, makes a Redis call ("GET stock:42") on
 *  127.0.0.1:43000 -> :6379, answers 200; front reads the answer, makes a
 *  Redis call "SET order:42" on 127.0.0.1:43001 -> :6379, answers 200.
 * Expected: requests 1001 (front GET /order/42, 2 calls) and 1002 (back
 * GET /stock/42, 1 call, parent 1001 via front's HTTP call).
 */
uint64_t fx_scenario_two_services(struct fx *fx, uint64_t t0);

/*
 * The same two services on two hosts: front on host A (10.0.0.1, fx a),
 * back on host B (10.0.0.2, fx b), with their Redis on their own host.
 * t0_wall is wall-clock ns; each host's events are written in its own
 * monotonic clock (t - realtime_offset of its fx), so the two files'
 * ts_ns disagree while their wall clocks agree.
 * Expected: file 0 (a) request 1001 GET /order/42; file 1 (b) request
 * 1000001001 GET /stock/42 with parent 1001.
 */
uint64_t fx_scenario_two_hosts(struct fx *a, struct fx *b, uint64_t t0_wall);

/* From now on, shift every event's ts_ns by ns: a host whose clock is
 * wrong by that much (its events still carry their own order). */
void fx_clock_skew(struct fx *fx, int64_t ns);

/* The wall-clock offset of fx, as given to fx_open. */
int64_t fx_realtime_offset(const struct fx *fx);

#endif /* HTC_TESTS_FIXTURE_H */
