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
