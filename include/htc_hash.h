/* SPDX-License-Identifier: MIT */
/*
 * htc_hash.h - the two hash steps of the engine, httpanalyze and httpcap's
 * pcap export: FNV-1a 64 (the engine's response digest, exported as
 * htc_fnv1a64, and the start of the engine's and httpanalyze's table keys)
 * and a 64-bit finaliser (murmur3's fmix64) that spreads every input bit over
 * the low bits a hash table indexes with.
 */
#ifndef HTC_HASH_H
#define HTC_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif
