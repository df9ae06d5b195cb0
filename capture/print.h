/* SPDX-License-Identifier: MIT */
/*
 * print.h - httpcap's per-event output: one JSON object per line (the
 * default without -w, and with -r) or one readable line (--text).
 */
#ifndef HTTPCAP_PRINT_H
#define HTTPCAP_PRINT_H

#include <stdio.h>

#include "htc.h"
#include "htc_engine.h"

enum print_format { PRINT_JSON, PRINT_TEXT };

/*
 * Print one event record (HTC_REC_DATA or HTC_REC_CONN) with its engine
 * annotation as one line on f.  hdr gives the wall-clock offset (NULL: the
 * timestamps are taken as wall-clock already); annot may be NULL (no request
 * known).  Every byte that comes from the capture (payload, comm, method,
 * path) is escaped: the JSON is always valid, and neither format ever writes
 * a terminal control byte.  Returns 0, -EINVAL for another record type or a
 * NULL argument, or -errno when writing to f failed.
 */
int print_event(FILE *f, enum print_format fmt, const struct htc_header *hdr,
		const struct htc_record *rec, const struct htc_eng_annot *annot);

#endif /* HTTPCAP_PRINT_H */
