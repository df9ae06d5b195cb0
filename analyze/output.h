/* SPDX-License-Identifier: MIT */
/*
 * output.h - httpanalyze's result writers: aligned text tables, JSON lines
 * and RFC 4180 CSV, and the escaping every byte from a capture goes through
 * before it reaches a terminal or a file.
 *
 * A listing is written cell by cell (out_begin, out_int/out_text/..., 
 * out_end_row, out_finish) or straight from a prepared statement
 * (out_stmt).  Table output is buffered to align the columns; JSON and CSV
 * stream.
 */
#ifndef HTTPANALYZE_OUTPUT_H
#define HTTPANALYZE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

enum out_format {
	OUT_TABLE = 0,
	OUT_JSON = 1,
	OUT_CSV = 2,
};

/* "table", "json", "csv" -> *fmt (OUT).  Returns 0 or -EINVAL. */
int out_parse_format(const char *s, enum out_format *fmt);

/*
 * Escaping.  Terminal text: bytes that are not printable (C0 controls, DEL,
 * C1 controls, invalid UTF-8) become \xNN, a backslash becomes \\, so no
 * escape sequence reaches a terminal.  Valid printable UTF-8 passes
 * through.  (A literal backslash is left as is: the aim is safety and
 * readability, not a reversible encoding; the database keeps the bytes.)
 */
void out_term_escape(FILE *f, const void *p, size_t n);
/* The same into dst (cap bytes, always NUL-terminated when cap > 0);
 * returns the length it wanted (like snprintf). */
size_t out_term_escape_buf(char *dst, size_t cap, const void *p, size_t n);
/* A JSON string literal, quotes included; controls (C0, DEL, C1, bidi
 * overrides) become \uNNNN of their code point and bytes that are not
 * UTF-8 \u00NN of the byte, so the output is always valid JSON and
 * holds no raw control byte. */
void out_json_string(FILE *f, const void *p, size_t n);
/* One CSV field: terminal-escaped, then quoted (RFC 4180) when it holds a
 * comma, a quote or leading/trailing spaces.  A field that a spreadsheet
 * would take for a formula (first byte = + - @, or a tab or CR, which the
 * escaping turns into \x09 / \x0d anyway) is written with a ' before it
 * (OWASP's CSV-injection rule): capture text must not run in a
 * spreadsheet.  Numbers are written by out_int/out_real, never here. */
void out_csv_field(FILE *f, const void *p, size_t n);

/* RFC 3339 UTC with nanoseconds, "2026-01-02T03:04:05.123456789Z", into
 * buf (at least 32 bytes). */
void out_rfc3339(char *buf, size_t cap, int64_t ns);

struct out;

/* A listing written to f in format fmt.  Returns NULL on ENOMEM. */
struct out *out_new(enum out_format fmt, FILE *f);
/* Column names (copied); call once before the first row. */
int out_begin(struct out *o, int ncols, const char *const *names);
void out_null(struct out *o);
void out_int(struct out *o, int64_t v);
/* Reals are printed with 3 decimals (milliseconds to the microsecond). */
void out_real(struct out *o, double v);
void out_text(struct out *o, const void *p, size_t n);
void out_str(struct out *o, const char *s);	/* NULL -> null */
void out_end_row(struct out *o);
/* Write what is buffered (table) and free o.  Returns 0 or -errno. */
int out_finish(struct out *o);
/* Rows written so far. */
uint64_t out_rows(const struct out *o);

/*
 * Step st to the end and write every row as one listing (column names from
 * the statement).  REAL values are printed with `decimals` digits, or as
 * SQLite prints them (%!.15g) when decimals < 0.  Returns the number of
 * rows, or -EIO on an SQLite error (the caller prints sqlite3_errmsg;
 * a table prints nothing then).
 */
int64_t out_stmt(enum out_format fmt, FILE *f, sqlite3_stmt *st, int decimals);

#endif /* HTTPANALYZE_OUTPUT_H */
