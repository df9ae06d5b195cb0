// SPDX-License-Identifier: MIT
/*
 * fuzz_engine.c - libFuzzer target over the engine.  Two input forms:
 *
 *  'H' + an .htc file: read with htc_reader_open_mem, every record fed;
 *  anything else: a script of synthetic events, so the fuzzer reaches the
 *  parsers through the engine without having to build zstd frames:
 *    op byte: bits 0-2 operation (accept, connect, read, write, close,
 *             skip, cut read/write, time jump), bits 3-4 connection slot,
 *             bits 5-6 thread;
 *    read/write/cut: a length byte, then that many payload bytes.
 *
 * Slots 0 and 1 are the two ends of one TCP connection (so links are
 * exercised), slot 2 talks to port 6379 and slot 3 to 5432.  Every string
 * and view the engine reports is read through, so ASan sees bad pointers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htc.h"
#include "htc_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink_sum;

static void touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += b[i];
	sink_sum += s;
}

static void on_conn(void *ctx, const struct htc_eng_conn *c)
{
	touch(c->comm, strlen(c->comm));
}

/*
 * What each report carried of its link, to check on_link's flags against:
 * the last REPORTED reports of each kind (a link pairs recent ones; an
 * older one out of the table is not checked).
 */
#define REPORTED 1024

struct reported {
	uint64_t id, link, parent;	/* link: child_request_id / parent_call_id */
};

static struct reported rep_req[REPORTED], rep_call[REPORTED];
static size_t n_rep_req, n_rep_call;

static const struct reported *reported_find(const struct reported *v, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n && i < REPORTED; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

static void on_request(void *ctx, const struct htc_eng_request *r)
{
	struct reported *q = &rep_req[n_rep_req++ % REPORTED];

	q->id = r->id;
	q->link = r->parent_call_id;
	q->parent = r->parent_id;
	touch(r->method, strlen(r->method));
	touch(r->path, strlen(r->path));
	touch(r->version, strlen(r->version));
	touch(r->host, strlen(r->host));
	touch(r->head, r->head_len);
	touch(r->body, r->body_len);
	for (size_t i = 0; i < r->nheaders; i++) {
		touch(r->headers[i].name, r->headers[i].name_len);
		touch(r->headers[i].value, r->headers[i].value_len);
	}
	touch(r->grpc_message, strlen(r->grpc_message));
}

static void on_call(void *ctx, const struct htc_eng_call *c)
{
	struct reported *q = &rep_call[n_rep_call++ % REPORTED];

	q->id = c->id;
	q->link = c->child_request_id;
	touch(c->summary, strlen(c->summary));
	touch(c->grpc_message, strlen(c->grpc_message));
}

/* The flags say which report did not carry the link (htc_engine.h). */
static void on_link(void *ctx, uint64_t call, uint64_t child, uint64_t parent, unsigned flags)
{
	const struct reported *k = reported_find(rep_call, n_rep_call, call);
	const struct reported *r = reported_find(rep_req, n_rep_req, child);

	sink_sum += call + child + parent + flags;
	if (k && !(flags & HTC_LINK_LATE_CALL) != (k->link == child))
		abort();
	if (r && !(flags & HTC_LINK_LATE_REQUEST) != (r->link == call && r->parent == parent))
		abort();
}

static void feed(struct htc_engine *e, const struct htc_record *rec)
{
	struct htc_eng_annot a;

	htc_engine_feed(e, 0, rec, &a);
	if (a.method)
		touch(a.method, strlen(a.method));
	if (a.path)
		touch(a.path, strlen(a.path));
}

static void run_htc(struct htc_engine *e, const uint8_t *data, size_t size)
{
	int err = 0;
	struct htc_reader *r = htc_reader_open_mem(data, size, &err);
	struct htc_record rec;

	if (!r)
		return;
	htc_engine_add_file(e, htc_reader_header(r));
	while (htc_reader_next(r, &rec) == 1)
		feed(e, &rec);
	htc_reader_close(r);
}

struct slot {
	uint64_t conn_id;
	uint64_t off[2];
	uint8_t role;
};

static void run_script(struct htc_engine *e, const uint8_t *data, size_t size)
{
	static const uint16_t ports[4][2] = { { 40000, 8080 }, { 8080, 40000 }, { 40001, 6379 }, { 40002, 5432 } };
	struct slot slots[4] = { { 0 } };
	uint64_t t = 1000000000, next_conn = 1;
	size_t i = 0;
	struct htc_header hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.realtime_offset_ns = 1000;
	htc_engine_add_file(e, &hdr);
	while (i < size) {
		uint8_t op = data[i++], kind = op & 7, s = (op >> 3) & 3, th = (op >> 5) & 3;
		struct slot *sl = &slots[s];
		struct htc_record rec;
		struct htc_event *ev = &rec.ev;

		memset(&rec, 0, sizeof(rec));
		t += 1000;
		ev->pid = 100 + (s == 1 ? 100 : 0);
		ev->tid = ev->pid + th;
		ev->ts_ns = t;
		ev->fd = 3 + s;
		ev->ep.family = HTC_AF_INET;
		ev->ep.laddr[0] = ev->ep.raddr[0] = 127;
		ev->ep.laddr[3] = ev->ep.raddr[3] = 1;
		ev->ep.lport = ports[s][0];
		ev->ep.rport = ports[s][1];
		if (!sl->conn_id) {
			sl->conn_id = next_conn++;
			sl->role = HTC_ROLE_UNKNOWN;
		}
		ev->conn_id = sl->conn_id;
		ev->ep.role = sl->role;
		switch (kind) {
		case 0:
		case 1:
			sl->conn_id = next_conn++;
			sl->off[0] = sl->off[1] = 0;
			sl->role = kind == 0 ? HTC_ROLE_SERVER : HTC_ROLE_CLIENT;
			rec.type = HTC_REC_CONN;
			ev->type = kind == 0 ? HTC_EV_ACCEPT : HTC_EV_CONNECT;
			ev->conn_id = sl->conn_id;
			ev->ep.role = sl->role;
			feed(e, &rec);
			break;
		case 2:
		case 3:
		case 6: {
			size_t len, cap, ret;
			int dir;

			if (i >= size)
				return;
			len = data[i++];
			if (len > size - i)
				len = size - i;
			dir = kind == 6 ? (len & 1) : kind == 3;
			cap = len;
			ret = len;
			if (kind == 6) {
				/* captured less than moved: snaplen or sendfile */
				ret = len + (size_t)(op >> 5) * 997 + 1;
			}
			if (ret == 0) {
				i += len;
				break;
			}
			rec.type = HTC_REC_DATA;
			ev->type = dir ? HTC_EV_WRITE : HTC_EV_READ;
			ev->ret = (int64_t)ret;
			ev->cap_len = (uint32_t)cap;
			ev->payload = cap ? data + i : NULL;
			ev->stream_off = sl->off[dir];
			sl->off[dir] += ret;
			i += len;
			feed(e, &rec);
			break;
		}
		case 4:
			rec.type = HTC_REC_CONN;
			ev->type = HTC_EV_CLOSE;
			ev->ret = th == 3 ? -104 : 0;
			ev->stream_off = sl->off[0];
			ev->stream_off2 = sl->off[1];
			feed(e, &rec);
			sl->conn_id = 0;
			break;
		case 5:
			/* a drop: the next event of a direction jumps */
			sl->off[th & 1] += (uint64_t)th * 13 + 1;
			break;
		case 7:
			/* time goes back a little (reordering) or jumps */
			if (th & 1)
				t -= 500;
			else
				t += (uint64_t)th * 1000000000ULL;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct htc_engine_sink sink = { NULL, on_conn, on_request, on_call, on_link };
	struct htc_engine *e = htc_engine_new(&sink);

	if (!e)
		return 0;
	n_rep_req = n_rep_call = 0;
	if (size > 0 && data[0] == 'H')
		run_htc(e, data + 1, size - 1);
	else
		run_script(e, data, size);
	htc_engine_finish(e);
	htc_engine_free(e);
	return 0;
}
