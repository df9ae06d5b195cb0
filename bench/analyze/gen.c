// SPDX-License-Identifier: MIT
/*
 * gen.c - writes a synthetic but realistic capture for httpanalyze's loader
 * benchmark: N inbound requests to a front service (keep-alive clients,
 * 100 requests per connection), each making one HTTP call to a backend
 * service over a pooled connection (the backend is traced too, so the call
 * links to its request by 5-tuple) and one Redis call, and the backend one
 * Redis call: 10 events per request, payloads of real HTTP/RESP text.
 *
 *   gen OUT.htc N
 *
 * Written with the libhtc writer directly (not tests/lib) so that it
 * streams: memory stays flat for any N.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htc.h"

#define US 1000ULL
#define WALL0 (1767225600LL * 1000000000LL)

struct gconn {
	uint64_t id;
	uint32_t pid, tid;
	int32_t fd;
	const char *comm;
	struct htc_endpoints ep;
	uint64_t off_r, off_w;
};

static struct htc_writer *w;
static uint64_t now = 2000000000ULL;
static uint64_t next_conn = 1;

static void die(const char *what, int err)
{
	fprintf(stderr, "gen: %s: %s\n", what, htc_strerror(err));
	exit(1);
}

static void put(const struct htc_record *rec)
{
	int err = htc_writer_append(w, rec);

	if (err)
		die("append", err);
}

static void ip4(uint8_t *a, uint8_t last)
{
	memset(a, 0, 16);
	a[0] = 10;
	a[3] = last;
}

static void conn_init(struct gconn *c, uint32_t pid, const char *comm, int32_t fd, uint8_t role,
		      uint8_t l, uint16_t lport, uint8_t r, uint16_t rport)
{
	memset(c, 0, sizeof(*c));
	c->id = next_conn++;
	c->pid = c->tid = pid;
	c->fd = fd;
	c->comm = comm;
	c->ep.family = HTC_AF_INET;
	c->ep.role = role;
	c->ep.lport = lport;
	c->ep.rport = rport;
	ip4(c->ep.laddr, l);
	ip4(c->ep.raddr, r);
}

static void ev(struct gconn *c, uint8_t type, uint8_t sys, const char *data, int64_t ret)
{
	struct htc_record rec = { .type = HTC_REC_DATA };
	struct htc_event *e = &rec.ev;
	size_t len = data ? strlen(data) : 0;

	if (type != HTC_EV_READ && type != HTC_EV_WRITE)
		rec.type = HTC_REC_CONN;
	now += 7 * US;
	e->type = type;
	e->syscall = sys;
	e->pid = c->pid;
	e->tid = c->tid;
	e->fd = c->fd;
	e->ts_ns = now;
	e->dur_ns = 2 * US;
	e->conn_id = c->id;
	snprintf(e->comm, sizeof(e->comm), "%s", c->comm);
	e->ep = c->ep;
	if (type == HTC_EV_READ) {
		e->ret = (int64_t)len;
		e->stream_off = c->off_r;
		c->off_r += len;
	} else if (type == HTC_EV_WRITE) {
		e->ret = (int64_t)len;
		e->stream_off = c->off_w;
		c->off_w += len;
	} else {
		e->ret = ret;
		if (type == HTC_EV_CLOSE) {
			e->stream_off = c->off_r;
			e->stream_off2 = c->off_w;
		}
	}
	e->cap_len = (uint32_t)len;
	e->payload = (const uint8_t *)data;
	put(&rec);
}

static void proc(uint32_t pid, const char *comm)
{
	struct htc_record rec = { .type = HTC_REC_PROC };

	rec.proc.ts_ns = now;
	rec.proc.pid = pid;
	rec.proc.ppid = 1;
	snprintf(rec.proc.comm, sizeof(rec.proc.comm), "%s", comm);
	rec.proc.exe = "/usr/bin/python3";
	rec.proc.exe_len = 16;
	rec.proc.cmdline = comm;
	rec.proc.cmdline_len = (uint32_t)strlen(comm);
	put(&rec);
}

int main(int argc, char **argv)
{
	struct htc_header hdr = { 0 };
	struct htc_writer_stats ws;
	struct gconn client, front_back, back_in, front_redis, back_redis;
	char req[512], call[512], resp[512], bresp[512], rset[256], rget[256];
	unsigned long long n;
	int err = 0;

	if (argc != 3 || (n = strtoull(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: gen OUT.htc NREQUESTS\n");
		return 2;
	}
	hdr.version_major = HTC_VERSION_MAJOR;
	hdr.version_minor = HTC_VERSION_MINOR;
	hdr.flags = HTC_OPT_PAYLOAD | HTC_OPT_REDACT;
	hdr.snaplen = 4096;
	hdr.realtime_offset_ns = WALL0;
	hdr.start_ns = now;
	snprintf(hdr.hostname, sizeof(hdr.hostname), "bench");
	snprintf(hdr.kernel, sizeof(hdr.kernel), "6.18.0");
	snprintf(hdr.tool_version, sizeof(hdr.tool_version), "bench-gen");
	w = htc_writer_open(argv[1], &hdr, NULL, &err);
	if (!w)
		die(argv[1], err);

	proc(100, "front");
	proc(200, "back");
	/* pooled connections, opened once */
	conn_init(&front_back, 100, "front", 20, HTC_ROLE_CLIENT, 1, 42000, 2, 9090);
	ev(&front_back, HTC_EV_CONNECT, HTC_SYS_CONNECT, NULL, 0);
	conn_init(&back_in, 200, "back", 30, HTC_ROLE_SERVER, 2, 9090, 1, 42000);
	ev(&back_in, HTC_EV_ACCEPT, HTC_SYS_ACCEPT4, NULL, 30);
	conn_init(&front_redis, 100, "front", 21, HTC_ROLE_CLIENT, 1, 43000, 3, 6379);
	ev(&front_redis, HTC_EV_CONNECT, HTC_SYS_CONNECT, NULL, 0);
	conn_init(&back_redis, 200, "back", 31, HTC_ROLE_CLIENT, 2, 43001, 3, 6379);
	ev(&back_redis, HTC_EV_CONNECT, HTC_SYS_CONNECT, NULL, 0);

	for (unsigned long long i = 0; i < n; i++) {
		unsigned id = (unsigned)(i % 5000);

		if (i % 100 == 0) {
			if (i)
				ev(&client, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
			conn_init(&client, 100, "front", 10, HTC_ROLE_SERVER, 1, 8080, 9,
				  (uint16_t)(10000 + (i / 100) % 50000));
			ev(&client, HTC_EV_ACCEPT, HTC_SYS_ACCEPT4, NULL, 10);
		}
		snprintf(req, sizeof(req), "GET /api/orders/%u HTTP/1.1\r\nHost: front:8080\r\n"
			 "User-Agent: wrk/4.2\r\nAccept: application/json\r\n\r\n", id);
		snprintf(call, sizeof(call), "GET /stock/%u HTTP/1.1\r\nHost: back:9090\r\n"
			 "Accept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n", id);
		snprintf(rget, sizeof(rget), "*2\r\n$3\r\nGET\r\n$%zu\r\nstock:%u\r\n",
			 strlen("stock:") + (size_t)snprintf(NULL, 0, "%u", id), id);
		snprintf(bresp, sizeof(bresp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: 24\r\n\r\n{\"id\":%5u,\"stock\":  7}", id);
		snprintf(rset, sizeof(rset), "*3\r\n$3\r\nSET\r\n$%zu\r\norder:%u\r\n$2\r\nok\r\n",
			 strlen("order:") + (size_t)snprintf(NULL, 0, "%u", id), id);
		snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			 "Server: gunicorn\r\nContent-Length: 24\r\n\r\n{\"order\":%5u,\"ok\":true}",
			 i % 50 == 49 ? "500 Internal Server Error" : "200 OK", id);

		ev(&client, HTC_EV_READ, HTC_SYS_RECVFROM, req, 0);
		ev(&front_back, HTC_EV_WRITE, HTC_SYS_SENDTO, call, 0);
		ev(&back_in, HTC_EV_READ, HTC_SYS_READ, call, 0);
		ev(&back_redis, HTC_EV_WRITE, HTC_SYS_WRITE, rget, 0);
		ev(&back_redis, HTC_EV_READ, HTC_SYS_READ, "$1\r\n7\r\n", 0);
		ev(&back_in, HTC_EV_WRITE, HTC_SYS_WRITEV, bresp, 0);
		ev(&front_back, HTC_EV_READ, HTC_SYS_RECVFROM, bresp, 0);
		ev(&front_redis, HTC_EV_WRITE, HTC_SYS_SENDTO, rset, 0);
		ev(&front_redis, HTC_EV_READ, HTC_SYS_RECVFROM, "+OK\r\n", 0);
		ev(&client, HTC_EV_WRITE, HTC_SYS_SENDTO, resp, 0);
		now += 50 * US;
	}
	ev(&client, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	ev(&front_back, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	ev(&back_in, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	ev(&front_redis, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	ev(&back_redis, HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	if ((err = htc_writer_close(w, now, &ws)))
		die("close", err);
	printf("%llu requests, %llu events, %llu bytes\n", n, (unsigned long long)ws.events,
	       (unsigned long long)ws.bytes_out);
	return 0;
}
