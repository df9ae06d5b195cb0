// SPDX-License-Identifier: MIT
/*
 * output.c - table / JSON lines / CSV writers and the escaping of capture
 * bytes for terminals, JSON and CSV.  Everything httpanalyze prints from a
 * capture goes through here, so the escaping rules live in one place.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htc.h"
#include "output.h"

int out_parse_format(const char *s, enum out_format *fmt)
{
	if (!strcmp(s, "table"))
		*fmt = OUT_TABLE;
	else if (!strcmp(s, "json"))
		*fmt = OUT_JSON;
	else if (!strcmp(s, "csv"))
		*fmt = OUT_CSV;
	else
		return -EINVAL;
	return 0;
}

/* The three tools' one escaping rule and syntax (libhtc, htc_text.c). */
size_t out_term_escape_buf(char *dst, size_t cap, const void *src, size_t n)
{
	return htc_escape(dst, cap, src, n, HTC_ESC_TEXT);
}

void out_term_escape(FILE *f, const void *src, size_t n)
{
	htc_fescape(f, src, n, HTC_ESC_TEXT);
}

void out_json_string(FILE *f, const void *src, size_t n)
{
	putc('"', f);
	htc_fescape(f, src, n, HTC_ESC_JSON);
	putc('"', f);
}

void out_csv_field(FILE *f, const void *src, size_t n)
{
	htc_csv_field(f, src, n);
}

void out_rfc3339(char *buf, size_t cap, int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	char day[32];

	if (frac < 0) {
		frac += 1000000000;
		s--;
	}
	if (!gmtime_r(&s, &tm)) {
		snprintf(buf, cap, "%lld", (long long)ns);
		return;
	}
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%09ldZ", day, frac);
}

/* ---- listings ---- */

enum cell_kind { CELL_NULL, CELL_NUM, CELL_TEXT };

struct cell {
	size_t off, len;	/* in o->arena, already escaped for the terminal */
	size_t width;		/* display columns */
	enum cell_kind kind;
};

struct out {
	enum out_format fmt;
	FILE *f;
	int ncols, col;
	char **names;
	uint64_t rows;
	/* table: every cell is kept until out_finish to align the columns */
	struct cell *cells;
	size_t ncells, capcells;
	char *arena;
	size_t alen, acap;
	int oom;
	int discard;	/* error midway: print nothing buffered */
};

struct out *out_new(enum out_format fmt, FILE *f)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fmt = fmt;
	o->f = f;
	return o;
}

uint64_t out_rows(const struct out *o)
{
	return o->rows;
}

int out_begin(struct out *o, int ncols, const char *const *names)
{
	o->names = calloc((size_t)ncols, sizeof(*o->names));
	if (!o->names)
		return -ENOMEM;
	o->ncols = ncols;
	for (int i = 0; i < ncols; i++) {
		o->names[i] = strdup(names[i] ? names[i] : "");
		if (!o->names[i])
			return -ENOMEM;
	}
	if (o->fmt == OUT_CSV) {
		for (int i = 0; i < ncols; i++) {
			if (i)
				putc(',', o->f);
			out_csv_field(o->f, o->names[i], strlen(o->names[i]));
		}
		fputs("\r\n", o->f);
	}
	return 0;
}

static size_t display_width(const char *s, size_t n)
{
	size_t w = 0;

	/* count code points: escaped text is printable UTF-8 only */
	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

static int arena_reserve(struct out *o, size_t more)
{
	if (o->alen + more <= o->acap)
		return 0;
	size_t cap = o->acap ? o->acap : 4096;
	while (cap < o->alen + more)
		cap *= 2;
	char *a = realloc(o->arena, cap);
	if (!a)
		return -ENOMEM;
	o->arena = a;
	o->acap = cap;
	return 0;
}

static void table_cell(struct out *o, enum cell_kind kind, const void *p, size_t n, int escape)
{
	struct cell *c;
	size_t len;

	if (o->oom)
		return;
	if (o->ncells == o->capcells) {
		size_t cap = o->capcells ? o->capcells * 2 : 256;
		struct cell *nc = realloc(o->cells, cap * sizeof(*nc));

		if (!nc) {
			o->oom = 1;
			return;
		}
		o->cells = nc;
		o->capcells = cap;
	}
	c = &o->cells[o->ncells];
	c->kind = kind;
	c->off = o->alen;
	if (escape) {
		len = out_term_escape_buf(NULL, 0, p, n);
		if (arena_reserve(o, len + 1)) {
			o->oom = 1;
			return;
		}
		out_term_escape_buf(o->arena + o->alen, len + 1, p, n);
	} else {
		len = n;
		if (arena_reserve(o, len + 1)) {
			o->oom = 1;
			return;
		}
		memcpy(o->arena + o->alen, p, n);
	}
	o->alen += len;
	c->len = len;
	c->width = display_width(o->arena + c->off, len);
	o->ncells++;
}

static void sep(struct out *o)
{
	if (o->fmt == OUT_JSON) {
		fputs(o->col ? "," : "{", o->f);
		out_json_string(o->f, o->names[o->col], strlen(o->names[o->col]));
		putc(':', o->f);
	} else if (o->fmt == OUT_CSV && o->col) {
		putc(',', o->f);
	}
}

/* A number already formatted as text. */
static void out_numtext(struct out *o, const char *s)
{
	if (o->col >= o->ncols)
		return;
	if (o->fmt == OUT_TABLE) {
		table_cell(o, CELL_NUM, s, strlen(s), 0);
	} else {
		sep(o);
		fputs(s, o->f);
	}
	o->col++;
}

void out_null(struct out *o)
{
	if (o->col >= o->ncols)
		return;
	if (o->fmt == OUT_TABLE) {
		table_cell(o, CELL_NULL, "", 0, 0);
	} else {
		sep(o);
		if (o->fmt == OUT_JSON)
			fputs("null", o->f);
	}
	o->col++;
}

void out_int(struct out *o, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	out_numtext(o, buf);
}

void out_real(struct out *o, double v)
{
	char buf[64];

	if (!isfinite(v)) {
		out_null(o);
		return;
	}
	snprintf(buf, sizeof(buf), "%.3f", v);
	out_numtext(o, buf);
}

void out_text(struct out *o, const void *p, size_t n)
{
	if (o->col >= o->ncols)
		return;
	if (o->fmt == OUT_TABLE) {
		table_cell(o, CELL_TEXT, p, n, 1);
	} else {
		sep(o);
		if (o->fmt == OUT_JSON)
			out_json_string(o->f, p, n);
		else
			out_csv_field(o->f, p, n);
	}
	o->col++;
}

void out_str(struct out *o, const char *s)
{
	if (s)
		out_text(o, s, strlen(s));
	else
		out_null(o);
}

void out_end_row(struct out *o)
{
	while (o->col < o->ncols)
		out_null(o);
	if (o->fmt == OUT_JSON)
		fputs(o->ncols ? "}\n" : "{}\n", o->f);
	else if (o->fmt == OUT_CSV)
		fputs("\r\n", o->f);
	o->col = 0;
	o->rows++;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		putc(' ', f);
}

static void table_flush(struct out *o)
{
	size_t *w = calloc((size_t)o->ncols, sizeof(*w));
	int *right = calloc((size_t)o->ncols, sizeof(*right));

	if (!w || !right) {
		o->oom = 1;
		goto cleanup;
	}
	for (int c = 0; c < o->ncols; c++) {
		w[c] = display_width(o->names[c], strlen(o->names[c]));
		right[c] = 1;
	}
	for (size_t i = 0; i < o->ncells; i++) {
		int c = (int)(i % (size_t)o->ncols);

		if (o->cells[i].width > w[c])
			w[c] = o->cells[i].width;
		if (o->cells[i].kind == CELL_TEXT)
			right[c] = 0;
	}
	for (int c = 0; c < o->ncols; c++) {
		size_t nw = display_width(o->names[c], strlen(o->names[c]));

		if (c)
			fputs("  ", o->f);
		if (right[c])
			pad(o->f, w[c] - nw);
		fputs(o->names[c], o->f);
		if (!right[c] && c + 1 < o->ncols)
			pad(o->f, w[c] - nw);
	}
	putc('\n', o->f);
	for (size_t i = 0; i < o->ncells; i++) {
		int c = (int)(i % (size_t)o->ncols);
		const struct cell *cl = &o->cells[i];

		if (c)
			fputs("  ", o->f);
		if (right[c])
			pad(o->f, w[c] - cl->width);
		fwrite(o->arena + cl->off, 1, cl->len, o->f);
		if (!right[c] && c + 1 < o->ncols)
			pad(o->f, w[c] - cl->width);
		if (c + 1 == o->ncols)
			putc('\n', o->f);
	}
cleanup:
	free(w);
	free(right);
}

int out_finish(struct out *o)
{
	int err = 0;

	if (!o)
		return 0;
	if (o->fmt == OUT_TABLE && o->ncols && !o->oom && !o->discard)
		table_flush(o);
	if (o->oom)
		err = -ENOMEM;
	if (fflush(o->f) && !err)
		err = -errno;
	for (int i = 0; i < o->ncols; i++)
		free(o->names[i]);
	free(o->names);
	free(o->cells);
	free(o->arena);
	free(o);
	return err;
}

int64_t out_stmt(enum out_format fmt, FILE *f, sqlite3_stmt *st, int decimals)
{
	int ncols = sqlite3_column_count(st);
	const char **names = calloc((size_t)ncols + 1, sizeof(*names));
	struct out *o = out_new(fmt, f);
	int64_t ret = 0;
	int rc;

	if (!names || !o) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (int i = 0; i < ncols; i++)
		names[i] = sqlite3_column_name(st, i);
	if ((ret = out_begin(o, ncols, names)))
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++) {
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				out_null(o);
				break;
			case SQLITE_INTEGER:
				out_int(o, sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT: {
				double v = sqlite3_column_double(st, i);

				/* SQLite's own %!.15g text: exact enough and
				 * the same as the sqlite3 CLI prints */
				if (isfinite(v) && decimals >= 0) {
					char buf[64];

					snprintf(buf, sizeof(buf), "%.*f", decimals, v);
					out_numtext(o, buf);
				} else if (isfinite(v))
					out_numtext(o, (const char *)sqlite3_column_text(st, i));
				else
					out_null(o);
				break;
			}
			default: {
				const void *p = sqlite3_column_blob(st, i);

				out_text(o, p ? p : "", (size_t)sqlite3_column_bytes(st, i));
				break;
			}
			}
		}
		out_end_row(o);
	}
	if (rc != SQLITE_DONE) {
		o->discard = 1;
		ret = -EIO;
		goto cleanup;
	}
	ret = (int64_t)out_rows(o);
cleanup:
	{
		int ferr = out_finish(o);

		if (ret >= 0 && ferr)
			ret = ferr;
	}
	free(names);
	return ret;
}
