// SPDX-License-Identifier: MIT
/*
 * fuzz_capture.c - libFuzzer target over httpcap's payload handling: the
 * redactor (capture/redact.c) and the event printer (capture/print.c), the
 * two places where captured, hostile bytes meet httpcap's own code.
 *
 * Input: one byte of split/skip choices per payload, then the stream.  The
 * stream is cut into payloads (some followed by a gap) and redacted; the
 * invariants are those of redact.h: only '*' is written, CR and LF never
 * change, the count returned covers every change.  Each payload is then
 * printed as JSON and text: exactly one line, no raw control byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/print.h"
#include "../../capture/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One line, and nothing in it that the tools' one rule would not show:
 * no raw control byte, no invalid UTF-8, no C1 control, bidi override or
 * line separator (both formats). */
static void check_line(const char *buf, size_t len, int json)
{
	(void)json;
	if (len == 0 || buf[len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		uint32_t cp;
		size_t k;

		if (c < 0x20 || c == 0x7f)
			abort();	/* a raw control byte, or a second line */
		if (c < 0x80)
			continue;
		k = htc_utf8_decode((const uint8_t *)buf + i, len - 1 - i, &cp);
		if (!k || htc_cp_unsafe(cp))
			abort();
		i += k - 1;
	}
}

static void print_both(const uint8_t *payload, size_t len, int64_t ret)
{
	struct htc_record rec;
	struct htc_eng_annot annot = { 0 };
	char path[17] = { 0 };
	char *buf = NULL;
	size_t blen = 0;

	memset(&rec, 0, sizeof(rec));
	rec.type = HTC_REC_DATA;
	rec.ev.type = HTC_EV_READ;
	rec.ev.syscall = len ? payload[0] % HTC_SYS__COUNT : 0;
	rec.ev.ep.family = len > 1 ? payload[1] % 8 : 0;
	rec.ev.ret = ret;
	rec.ev.payload = payload;
	rec.ev.cap_len = (uint32_t)len;
	memcpy(rec.ev.comm, payload, len < sizeof(rec.ev.comm) ? len : sizeof(rec.ev.comm));
	annot.request_id = len;
	annot.method = "GET";
	memcpy(path, payload, len < 16 ? len : 16);
	annot.path = path;	/* the engine's strings are NUL-terminated */
	for (int fmt = 0; fmt < 2; fmt++) {
		FILE *f = open_memstream(&buf, &blen);

		if (!f)
			return;
		if (print_event(f, fmt ? PRINT_TEXT : PRINT_JSON, NULL, &rec, &annot) != 0)
			abort();
		fclose(f);
		check_line(buf, blen, !fmt);
		free(buf);
		buf = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redact_state st = { 0 };
	size_t nsplit, off;

	if (size < 1)
		return 0;
	nsplit = data[0] % 8;
	if (size < 1 + nsplit)
		return 0;
	const uint8_t *ctl = data + 1;
	const uint8_t *in = data + 1 + nsplit;
	size_t len = size - 1 - nsplit;
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return 0;
	memcpy(buf, in, len);
	off = 0;
	for (size_t k = 0; k <= nsplit; k++) {
		size_t part = k < nsplit ? (len - off) * ctl[k] / 256 : len - off;
		/* each payload in its own exact-size allocation, so ASan sees
		 * any read past its end */
		uint8_t *p = malloc(part ? part : 1);

		if (!p)
			break;
		memcpy(p, buf + off, part);
		size_t n = redact_payload(&st, p, part), changed = 0;

		for (size_t i = 0; i < part; i++) {
			if (p[i] == buf[off + i])
				continue;
			changed++;
			if (p[i] != '*' || buf[off + i] == '\r' || buf[off + i] == '\n')
				abort();
		}
		if (changed > n)
			abort();
		print_both(p, part, (int64_t)part + (k < nsplit ? ctl[k] & 1 : 0));
		free(p);
		if (k < nsplit && (ctl[k] & 0x10))
			redact_skip(&st, ctl[k] & 0x0f ? ctl[k] & 0x0f : UINT64_MAX / 2);
		off += part;
	}
	/* the command-line redactor keeps the same promises */
	memcpy(buf, in, len);
	size_t n = redact_text(buf, len), changed = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != in[i] && (changed++, buf[i] != '*' || in[i] == '\0' || in[i] == '\n'))
			abort();
	if (changed > n)
		abort();
	free(buf);
	return 0;
}
