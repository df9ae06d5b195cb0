/* SPDX-License-Identifier: MIT */
/*
 * html.h - `httpanalyze report -o report.html`: one self-contained HTML
 * page (inline CSS, SVG charts drawn here, one small inline script that
 * sorts tables, no fetch of anything) with the capture, a service map,
 * endpoints with latency histograms, rates over time and the waterfalls of
 * the slowest and failing requests.  Bounded whatever the capture.
 */
#ifndef HTTPANALYZE_HTML_H
#define HTTPANALYZE_HTML_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

#include "report.h"

/*
 * Capture bytes as HTML text, safe in element content and in a quoted
 * attribute value: first the terminal escaping of output.c (controls,
 * bidi overrides and bytes that are not UTF-8 become \xNN), then & < > "
 * ' become character references.  So no markup, no entity and no raw
 * control reaches the page; the result is never to be put in a script,
 * style or URL context (the report never does).
 */
void html_escape(FILE *f, const void *p, size_t n);

/* The same, cut to at most max input bytes ("..." added when cut). */
void html_escape_cut(FILE *f, const void *p, size_t n, size_t max);

/* The page's one inline script and its CSP hash source
 * ('sha256-<base64>'), exposed for the tests. */
extern const char html_script[];
extern const char html_script_hash[];

/*
 * Write the report of db to path ("-": o->out) and return 0, or -EIO with
 * a message printed (SQL error, cannot write).  A file is written under a
 * temporary name and renamed, so a failure leaves no half page.
 */
int html_report(sqlite3 *db, const struct report_opts *o, const char *path);

#endif /* HTTPANALYZE_HTML_H */
