/* SPDX-License-Identifier: MIT */
/*
 * htc_text.c - the one rule, for the three tools, of which captured bytes
 * may reach a terminal, a JSON line or a CSV cell as they are: valid UTF-8
 * that is not a control (C0, DEL, C1: U+009B is a CSI on some terminals),
 * not a bidirectional override or isolate (they reorder what a reader
 * sees: U+202A..U+202E, U+2066..U+2069) and not a line or paragraph
 * separator (U+2028, U+2029: line-based readers break lines there).  Each
 * output escapes the rest in its own syntax (\xNN, \uNNNN).  Written by
 * hand because glibc's mbrtowc depends on the locale and the output must
 * be the same everywhere.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htc.h"

size_t htc_utf8_decode(const uint8_t *p, size_t n, uint32_t *cpo)
{
	unsigned c;
	size_t len;
	uint32_t cp;

	if (!n)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cpo = c;
		return 1;
	}
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	*cpo = cp;
	return len;
}

int htc_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

/*
 * The escapes themselves, one function for every output of the three
 * tools.  Bytes the rule above lets through are copied; the rest become,
 * in text, \xNN per byte; in quoted text also \" \\ \n \r \t; in JSON
 * \" \\ \n \r \t, a control's code point as \uNNNN and a byte that is not
 * UTF-8 as \u00NN (the line stays valid JSON).  A backslash stays single
 * in text: names the engine stored already escaped (a Redis key's \x1b)
 * would otherwise show doubled.
 */
size_t htc_escape(char *dst, size_t cap, const void *src, size_t n, enum htc_esc how)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = src;
	size_t o = 0, i = 0;

#define PUT(ch) do { if (o + 1 < cap) dst[o] = (char)(ch); o++; } while (0)
	while (i < n) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t k;

		if (how != HTC_ESC_TEXT) {
			char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' :
				 c == '\r' ? 'r' : c == '\t' ? 't' : 0;

			if (e) {
				PUT('\\');
				PUT(e);
				i++;
				continue;
			}
		}
		if (c >= 0x20 && c < 0x7f) {
			PUT(c);
			i++;
			continue;
		}
		k = htc_utf8_decode(p + i, n - i, &cp);
		if (k && !htc_cp_unsafe(cp)) {
			for (size_t j = 0; j < k; j++)
				PUT(p[i + j]);
			i += k;
		} else if (how == HTC_ESC_JSON) {
			/* a control: its code point (all are below U+10000);
			 * not UTF-8: the byte as a code point */
			uint32_t u = k ? cp : c;

			PUT('\\');
			PUT('u');
			PUT(hex[u >> 12 & 15]);
			PUT(hex[u >> 8 & 15]);
			PUT(hex[u >> 4 & 15]);
			PUT(hex[u & 15]);
			i += k ? k : 1;
		} else {
			/* \xNN per byte, a valid but unsafe sequence too */
			size_t m = k ? k : 1;

			for (size_t j = 0; j < m; j++) {
				PUT('\\');
				PUT('x');
				PUT(hex[p[i + j] >> 4]);
				PUT(hex[p[i + j] & 15]);
			}
			i += m;
		}
	}
#undef PUT
	if (cap)
		dst[o < cap ? o : cap - 1] = '\0';
	return o;
}

int htc_fescape(FILE *f, const void *src, size_t n, enum htc_esc how)
{
	char stackbuf[1024], *buf = stackbuf;
	size_t len = htc_escape(stackbuf, sizeof(stackbuf), src, n, how);
	int ret = 0;

	if (len >= sizeof(stackbuf)) {
		buf = malloc(len + 1);
		if (!buf)
			return -ENOMEM;
		htc_escape(buf, len + 1, src, n, how);
	}
	if (fwrite(buf, 1, len, f) != len)
		ret = -EIO;
	if (buf != stackbuf)
		free(buf);
	return ret;
}

int htc_csv_field(FILE *f, const void *src, size_t n)
{
	char stackbuf[1024], *buf = stackbuf;
	size_t len = htc_escape(stackbuf, sizeof(stackbuf), src, n, HTC_ESC_TEXT);
	int quote, formula;

	if (len >= sizeof(stackbuf)) {
		buf = malloc(len + 1);
		if (!buf)
			return -ENOMEM;
		htc_escape(buf, len + 1, src, n, HTC_ESC_TEXT);
	}
	quote = len && (memchr(buf, ',', len) || memchr(buf, '"', len) ||
			buf[0] == ' ' || buf[len - 1] == ' ');
	formula = len && (buf[0] == '=' || buf[0] == '+' || buf[0] == '-' || buf[0] == '@');
	if (quote)
		putc('"', f);
	if (formula)
		putc('\'', f);
	for (size_t i = 0; i < len; i++) {
		if (quote && buf[i] == '"')
			putc('"', f);
		putc(buf[i], f);
	}
	if (quote)
		putc('"', f);
	if (buf != stackbuf)
		free(buf);
	return ferror(f) ? -EIO : 0;
}
