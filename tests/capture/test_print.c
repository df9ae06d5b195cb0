// SPDX-License-Identifier: MIT
/*
 * test_print.c - unit tests of capture/print.c: httpcap's JSON and --text
 * event lines, against golden lines.
 *
 * Table-driven: each vector is an event (built in code), its annotation and
 * the exact line expected in each format.  Hostile payloads (quotes,
 * control bytes, invalid UTF-8, terminal escapes) are checked to give valid
 * JSON and text without a raw control byte; every byte value is run through
 * both printers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../capture/print.h"

/* 2026-11-25T20:31:02Z is 1795638662 s after the epoch */
#define WALL_SEC 1795638662LL
#define MONO_NS 5000000000ULL	/* an event's ts_ns */

static struct htc_header test_hdr(void)
{
	struct htc_header h;

	memset(&h, 0, sizeof(h));
	h.realtime_offset_ns = WALL_SEC * 1000000000LL - (int64_t)MONO_NS;
	return h;
}

static struct htc_record data_event(int type, int sys, const char *payload, int64_t ret)
{
	struct htc_record r;

	memset(&r, 0, sizeof(r));
	r.type = HTC_REC_DATA;
	r.ev.type = (uint8_t)type;
	r.ev.syscall = (uint8_t)sys;
	r.ev.pid = 4242;
	r.ev.tid = 4243;
	r.ev.fd = 7;
	r.ev.ts_ns = MONO_NS + 123456789;
	r.ev.conn_id = 12;
	strcpy(r.ev.comm, "curl");
	r.ev.ep.family = HTC_AF_INET;
	r.ev.ep.role = HTC_ROLE_CLIENT;
	r.ev.ep.lport = 40001;
	r.ev.ep.rport = 18500;
	memcpy(r.ev.ep.laddr, "\x7f\x00\x00\x01", 4);
	memcpy(r.ev.ep.raddr, "\x7f\x00\x00\x01", 4);
	r.ev.ret = ret;
	if (payload) {
		r.ev.payload = (const uint8_t *)payload;
		r.ev.cap_len = (uint32_t)strlen(payload);
	}
	return r;
}

/* Run print_event into a memory buffer; returns the malloc'd output. */
static char *print_to_string(enum print_format fmt, const struct htc_header *hdr,
			     const struct htc_record *rec, const struct htc_eng_annot *annot,
			     int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = print_event(f, fmt, hdr, rec, annot);
	fclose(f);
	return buf;
}

struct golden {
	const char *reason;
	struct htc_record rec;
	struct htc_eng_annot annot;
	const char *json;
	const char *text;
};

static void check_golden(const struct golden *g)
{
	struct htc_header hdr = test_hdr();
	int ret;
	char *out;

	out = print_to_string(PRINT_JSON, &hdr, &g->rec, &g->annot, &ret);
	assert_int_equal(ret, 0);
	if (strcmp(out, g->json) != 0) {
		print_error("%s (json):\n got  %s want %s", g->reason, out, g->json);
		fail();
	}
	free(out);
	out = print_to_string(PRINT_TEXT, &hdr, &g->rec, &g->annot, &ret);
	assert_int_equal(ret, 0);
	if (strcmp(out, g->text) != 0) {
		print_error("%s (text):\n got  %s want %s", g->reason, out, g->text);
		fail();
	}
	free(out);
}

static void test_golden_lines(void **state)
{
	struct golden g[8];
	size_t n = 0;

	(void)state;
	memset(g, 0, sizeof(g));

	g[n].reason = "client request write, with its request";
	g[n].rec = data_event(HTC_EV_WRITE, HTC_SYS_SENDTO,
			      "GET /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:18500\r\n\r\n", 46);
	g[n].annot = (struct htc_eng_annot){ .request_id = 1001, .method = "GET", .path = "/x?a=1" };
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": 1001, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"curl\", \"method\": \"GET\", "
		    "\"path\": \"/x?a=1\", \"payload_len\": 46, "
		    "\"payload\": \"GET /x?a=1 HTTP/1.1\\r\\nHost: 127.0.0.1:18500\\r\\n\\r\\n\", "
		    "\"event_type\": \"write\", \"event_type_id\": 3, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"127.0.0.1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"127.0.0.1\", \"remote_port\": 18500, \"syscall\": \"sendto\", "
		    "\"captured_len\": 46}\n";
	g[n].text = "20:31:02.123456 curl[4242/4243] write sendto 127.0.0.1:40001 > 127.0.0.1:18500 "
		    "fd=7 conn=12 len=46 req=1001 GET /x?a=1 "
		    "\"GET /x?a=1 HTTP/1.1\\r\\nHost: 127.0.0.1:18500\\r\\n\\r\\n\"\n";
	n++;

	g[n].reason = "server read cut by snaplen, no request known";
	g[n].rec = data_event(HTC_EV_READ, HTC_SYS_RECVFROM, "HTTP/1.0 200 OK\r\n", 5000);
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": null, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"curl\", \"method\": null, "
		    "\"path\": null, \"payload_len\": 5000, \"payload\": \"HTTP/1.0 200 OK\\r\\n\", "
		    "\"event_type\": \"read\", \"event_type_id\": 1, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"127.0.0.1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"127.0.0.1\", \"remote_port\": 18500, \"syscall\": \"recvfrom\", "
		    "\"captured_len\": 17}\n";
	g[n].text = "20:31:02.123456 curl[4242/4243] read recvfrom 127.0.0.1:18500 > 127.0.0.1:40001 "
		    "fd=7 conn=12 len=5000 cap=17 \"HTTP/1.0 200 OK\\r\\n\"\n";
	n++;

	g[n].reason = "connect refused, IPv6";
	g[n].rec = data_event(HTC_EV_CONNECT, HTC_SYS_CONNECT, NULL, -111);
	g[n].rec.type = HTC_REC_CONN;
	g[n].rec.ev.ep.family = HTC_AF_INET6;
	memset(g[n].rec.ev.ep.laddr, 0, 16);
	memset(g[n].rec.ev.ep.raddr, 0, 16);
	g[n].rec.ev.ep.laddr[15] = 1;
	g[n].rec.ev.ep.raddr[15] = 1;
	g[n].annot = (struct htc_eng_annot){ .request_id = 1002, .method = "POST", .path = "/api" };
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": 1002, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"curl\", \"method\": \"POST\", "
		    "\"path\": \"/api\", \"payload_len\": 0, \"payload\": \"\", "
		    "\"event_type\": \"connect\", \"event_type_id\": 2, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"::1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"::1\", \"remote_port\": 18500, \"syscall\": \"connect\", "
		    "\"captured_len\": 0, \"result\": -111}\n";
	g[n].text = "20:31:02.123456 curl[4242/4243] connect connect [::1]:40001 > [::1]:18500 "
		    "fd=7 conn=12 result=-111 (Connection refused) req=1002 POST /api\n";
	n++;

	g[n].reason = "accept";
	g[n].rec = data_event(HTC_EV_ACCEPT, HTC_SYS_ACCEPT4, NULL, 9);
	g[n].rec.type = HTC_REC_CONN;
	strcpy(g[n].rec.ev.comm, "nginx");
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": null, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"nginx\", \"method\": null, "
		    "\"path\": null, \"payload_len\": 0, \"payload\": \"\", "
		    "\"event_type\": \"accept\", \"event_type_id\": 0, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"127.0.0.1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"127.0.0.1\", \"remote_port\": 18500, \"syscall\": \"accept4\", "
		    "\"captured_len\": 0}\n";
	g[n].text = "20:31:02.123456 nginx[4242/4243] accept accept4 127.0.0.1:18500 > 127.0.0.1:40001 "
		    "fd=7 conn=12\n";
	n++;

	g[n].reason = "close with byte totals, unknown family";
	g[n].rec = data_event(HTC_EV_CLOSE, HTC_SYS_CLOSE, NULL, 0);
	g[n].rec.type = HTC_REC_CONN;
	g[n].rec.ev.ep.family = HTC_AF_UNSPEC;
	g[n].rec.ev.stream_off = 100;
	g[n].rec.ev.stream_off2 = 2000;
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": null, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"curl\", \"method\": null, "
		    "\"path\": null, \"payload_len\": 0, \"payload\": \"\", "
		    "\"event_type\": \"close\", \"event_type_id\": 4, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": null, \"local_port\": 40001, "
		    "\"remote_ip\": null, \"remote_port\": 18500, \"syscall\": \"close\", "
		    "\"captured_len\": 0}\n";
	g[n].text = "20:31:02.123456 curl[4242/4243] close close ?:40001 - ?:18500 fd=7 conn=12 "
		    "in=100 out=2000\n";
	n++;

	g[n].reason = "sendfile: length without payload";
	g[n].rec = data_event(HTC_EV_WRITE, HTC_SYS_SENDFILE, NULL, 1048576);
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": null, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"curl\", \"method\": null, "
		    "\"path\": null, \"payload_len\": 1048576, \"payload\": \"\", "
		    "\"event_type\": \"write\", \"event_type_id\": 3, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"127.0.0.1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"127.0.0.1\", \"remote_port\": 18500, \"syscall\": \"sendfile\", "
		    "\"captured_len\": 0}\n";
	g[n].text = "20:31:02.123456 curl[4242/4243] write sendfile 127.0.0.1:40001 > 127.0.0.1:18500 "
		    "fd=7 conn=12 len=1048576 cap=0\n";
	n++;

	g[n].reason = "hostile bytes: quotes, escapes, invalid UTF-8, C1, valid UTF-8";
	g[n].rec = data_event(HTC_EV_READ, HTC_SYS_READ, "a\"b\\c\x1b[31m\x7f\xff\xc3\xa9\xc2\x9b\xed\xa0\x80"
			      "\xe2\x80\xa8\xe2\x80\xa9", 25);
	strcpy(g[n].rec.ev.comm, "x\x1b]0;y");
	g[n].annot = (struct htc_eng_annot){ .request_id = 7, .method = "G\"T", .path = "/\n\x9b" };
	g[n].json = "{\"timestamp\": \"2026-11-25T20:31:02.123456789Z\", \"request_id\": 7, "
		    "\"pid\": 4242, \"tid\": 4243, \"comm\": \"x\\u001b]0;y\", \"method\": \"G\\\"T\", "
		    "\"path\": \"/\\n\\u009b\", \"payload_len\": 25, "
		    "\"payload\": \"a\\\"b\\\\c\\u001b[31m\\u007f\\u00ff\xc3\xa9\\u009b\\u00ed\\u00a0\\u0080"
		    "\\u2028\\u2029\", "
		    "\"event_type\": \"read\", \"event_type_id\": 1, \"protocol\": \"TCP\", "
		    "\"fd\": 7, \"conn_id\": 12, \"local_ip\": \"127.0.0.1\", \"local_port\": 40001, "
		    "\"remote_ip\": \"127.0.0.1\", \"remote_port\": 18500, \"syscall\": \"read\", "
		    "\"captured_len\": 25}\n";
	g[n].text = "20:31:02.123456 x\\x1b]0;y[4242/4243] read read 127.0.0.1:18500 > 127.0.0.1:40001 "
		    "fd=7 conn=12 len=25 req=7 G\\\"T /\\n\\x9b "
		    "\"a\\\"b\\\\c\\x1b[31m\\x7f\\xff\xc3\xa9\\xc2\\x9b\\xed\\xa0\\x80"
		    "\\xe2\\x80\\xa8\\xe2\\x80\\xa9\"\n";
	n++;

	for (size_t k = 0; k < n; k++)
		check_golden(&g[k]);
}

/* A long payload: --text shows a preview, JSON all of it. */
static void test_long_payload(void **state)
{
	char payload[301];
	struct htc_header hdr = test_hdr();
	int ret;

	(void)state;
	memset(payload, 'A', 300);
	payload[300] = '\0';
	struct htc_record rec = data_event(HTC_EV_WRITE, HTC_SYS_WRITE, payload, 300);
	char *out = print_to_string(PRINT_TEXT, &hdr, &rec, NULL, &ret);

	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"...\n"));
	free(out);
	out = print_to_string(PRINT_JSON, &hdr, &rec, NULL, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, payload));
	free(out);
}

/* Minimal JSON string check: every byte after the opening quote up to the
 * closing one is either a legal escape or not a control byte. */
static void assert_json_line_clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n') {
			assert_int_equal(p[1], '\0');	/* one line */
			continue;
		}
		assert_true(*p >= 0x20);
		assert_true(*p != 0x7f);
		if (*p == '\\') {
			p++;
			assert_non_null(strchr("\"\\nrtu", *p));
		}
	}
}

/* Every byte value, alone and in pairs, in the payload, comm and path:
 * one line, no control byte, and for text, only printable ASCII. */
static void test_every_byte(void **state)
{
	struct htc_header hdr = test_hdr();
	uint8_t payload[2];
	int ret;

	(void)state;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b += (a < 0x80 ? 255 : 1)) {
			char comm[3] = { (char)a, (char)b, 0 };
			char path[3] = { (char)b, (char)a, 0 };
			struct htc_record rec = data_event(HTC_EV_READ, HTC_SYS_READ, NULL, 2);
			struct htc_eng_annot annot = { 1, "GET", path };

			payload[0] = (uint8_t)a;
			payload[1] = (uint8_t)b;
			rec.ev.payload = payload;
			rec.ev.cap_len = 2;
			memcpy(rec.ev.comm, comm, 3);

			char *out = print_to_string(PRINT_JSON, &hdr, &rec, &annot, &ret);
			assert_int_equal(ret, 0);
			assert_json_line_clean(out);
			free(out);
			out = print_to_string(PRINT_TEXT, &hdr, &rec, &annot, &ret);
			assert_int_equal(ret, 0);
			/* printable ASCII, or UTF-8 the shared rule shows */
			for (const unsigned char *p = (const unsigned char *)out; *p;) {
				uint32_t cp;
				size_t k = htc_utf8_decode(p, strlen((const char *)p), &cp);

				assert_true((*p >= 0x20 && *p < 0x7f) || (*p == '\n' && p[1] == 0) ||
					    (k > 1 && !htc_cp_unsafe(cp)));
				p += k > 1 ? k : 1;
			}
			free(out);
		}
}

/* comm without its NUL (16 bytes): printed as 16 bytes, no over-read. */
static void test_comm_unterminated(void **state)
{
	struct htc_header hdr = test_hdr();
	struct htc_record rec = data_event(HTC_EV_READ, HTC_SYS_READ, "x", 1);
	int ret;

	(void)state;
	memset(rec.ev.comm, 'c', sizeof(rec.ev.comm));
	char *out = print_to_string(PRINT_JSON, &hdr, &rec, NULL, &ret);

	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "\"comm\": \"cccccccccccccccc\", "));
	free(out);
}

static void test_timestamps(void **state)
{
	struct htc_header hdr = test_hdr();
	struct htc_record rec = data_event(HTC_EV_READ, HTC_SYS_READ, NULL, 1);
	int ret;
	char *out;

	(void)state;
	/* nanoseconds keep their leading zeros */
	rec.ev.ts_ns = MONO_NS + 5;
	out = print_to_string(PRINT_JSON, &hdr, &rec, NULL, &ret);
	assert_non_null(strstr(out, "\"timestamp\": \"2026-11-25T20:31:02.000000005Z\""));
	free(out);
	/* no header: ts_ns is taken as wall-clock */
	rec.ev.ts_ns = 1000000001ULL;
	out = print_to_string(PRINT_JSON, NULL, &rec, NULL, &ret);
	assert_non_null(strstr(out, "\"timestamp\": \"1970-01-01T00:00:01.000000001Z\""));
	free(out);
	/* a corrupt negative offset: before the epoch, floored */
	hdr.realtime_offset_ns = -2000000000LL;
	rec.ev.ts_ns = 500000000ULL;
	out = print_to_string(PRINT_JSON, &hdr, &rec, NULL, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "\"timestamp\": \"1969-12-31T23:59:58.500000000Z\""));
	free(out);
}

static void test_bad_arguments(void **state)
{
	struct htc_record rec;
	struct htc_header hdr = test_hdr();

	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.type = HTC_REC_PROC;
	assert_int_equal(print_event(stdout, PRINT_JSON, &hdr, &rec, NULL), -EINVAL);
	rec.type = HTC_REC_DATA;
	assert_int_equal(print_event(NULL, PRINT_JSON, &hdr, &rec, NULL), -EINVAL);
	assert_int_equal(print_event(stdout, PRINT_JSON, &hdr, NULL, NULL), -EINVAL);
	assert_int_equal(print_event(stdout, (enum print_format)9, &hdr, &rec, NULL), -EINVAL);
}

/* A full device: the error comes back as -ENOSPC. */
static void test_write_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");
	struct htc_header hdr = test_hdr();
	struct htc_record rec = data_event(HTC_EV_READ, HTC_SYS_READ, "x", 1);
	int ret = 0;

	(void)state;
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	ret = print_event(f, PRINT_JSON, &hdr, &rec, NULL);
	fclose(f);
	assert_int_equal(ret, -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_lines),
		cmocka_unit_test(test_long_payload),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_comm_unterminated),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_write_error),
	};

	/* golden text lines are in UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests_name("print", tests, NULL, NULL);
}
