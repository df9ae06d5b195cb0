// SPDX-License-Identifier: MIT
/*
 * gopclntab.c - find a function in a Go program's function table, the
 * pclntab (its .gopclntab section), which even a stripped Go program keeps:
 * the runtime needs it for stack traces.  capture/tls.c uses it to probe
 * crypto/tls in Go programs.  Written by hand: no Debian package reads the
 * pclntab from C, and the part needed is a header of offsets and a table
 * of (entry, func) pairs.  The bytes come from any executable on the host,
 * so every offset is checked against the section's size.
 */
#include <errno.h>
#include <string.h>

#include "capture.h"

static uint64_t rd(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = v << 8 | p[i];	/* little-endian (amd64, arm64) */
	return v;
}

/*
 * Go 1.18+ layout (magic 0xfffffff0; 1.20+: 0xfffffff1), 64-bit:
 *   0 magic u32, 4 pad u16, 6 minLC u8, 7 ptrSize u8, 8 nfunc, 16 nfiles,
 *   24 textStart, 32 funcnameOffset, 40 cuOffset, 48 filetabOffset,
 *   56 pctabOffset, 64 pclnOffset (the function table), each a uintptr;
 * the function table holds nfunc + 1 pairs {entryoff u32, funcoff u32}
 * (entry = textStart + entryoff, the last pair's entryoff the end of the
 * text), funcoff from the table's start to a _func {entryoff u32,
 * nameoff i32, ...}, nameoff into the name table at funcnameOffset.
 */
int cap_go_find_func(const uint8_t *p, size_t len, const char *name, uint64_t *entry,
		     uint64_t *end)
{
	uint64_t nfunc, text, fnames, functab;
	size_t nlen = strlen(name) + 1;
	uint32_t magic;

	if (len < 72)
		return -ENOENT;
	magic = (uint32_t)rd(p, 4);
	if (magic != 0xfffffff0 && magic != 0xfffffff1)
		/* 1.16/1.17 (0xfffffffa), 1.2-1.15 (0xfffffffb): other layouts,
		 * and before 1.17 another calling convention */
		return magic == 0xfffffffa || magic == 0xfffffffb ? -ENOTSUP : -ENOENT;
	if (p[7] != 8)
		return -ENOTSUP;	/* 32-bit */
	nfunc = rd(p + 8, 8);
	text = rd(p + 24, 8);
	fnames = rd(p + 32, 8);
	functab = rd(p + 64, 8);
	/* nfunc + 1 pairs of 8 bytes must fit after functab */
	if (functab > len || fnames >= len || (len - functab) / 8 < 1 || nfunc > (len - functab) / 8 - 1)
		return -ENOENT;
	for (uint64_t i = 0; i < nfunc; i++) {
		const uint8_t *ft = p + functab + i * 8;
		uint64_t foff = functab + rd(ft + 4, 4), noff;

		if (foff > len - 8)
			continue;
		noff = fnames + (uint32_t)rd(p + foff + 4, 4);
		if (noff >= len || len - noff < nlen || memcmp(p + noff, name, nlen))
			continue;
		*entry = text + rd(ft, 4);
		*end = text + rd(ft + 8, 4);	/* the next function's entry */
		return *end > *entry ? 0 : -ENOENT;
	}
	return -ENOENT;
}
