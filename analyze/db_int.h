// SPDX-License-Identifier: MIT
/*
 * db_int.h - what the files of httpanalyze's SQLite side share (schema.c,
 * rowq.c, load.c); the public face is db.h.
 */
#ifndef HTTPANALYZE_DB_INT_H
#define HTTPANALYZE_DB_INT_H

#include <sqlite3.h>

/* The events table's CREATE TABLE text, and its INSERT. */
extern const char db_schema_events[];
extern const char db_sql_ins_event[];

/* Execute sql on db; prints SQLite's message on failure.  0 or -EIO. */
int db_exec(sqlite3 *db, const char *sql);
/* Execute the schema's CREATE INDEX statements whose index is in mask
 * (DB_INDEX_*).  0 or a negative code. */
int db_create_indexes(sqlite3 *db, unsigned mask);

#endif /* HTTPANALYZE_DB_INT_H */
