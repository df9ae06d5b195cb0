/* SPDX-License-Identifier: MIT */
/*
 * clickhouse.h - httpanalyze past one machine (issue 19): capture files
 * loaded into ClickHouse over its HTTP interface (`httpanalyze load
 * --clickhouse URL FILE...`) and the reports computed there (`httpanalyze
 * summary|requests|latency|errors|deps|sql --clickhouse URL`).  The rows
 * are the SQLite loader's (load.c, schema.c): the same engine, the same
 * columns, each ClickHouse table derived from its SQLite table.
 */
#ifndef HTTPANALYZE_CLICKHOUSE_H
#define HTTPANALYZE_CLICKHOUSE_H

/* True when argv asks for ClickHouse: the `load` command, or --clickhouse. */
int ch_wanted(int argc, char **argv);

/* The command line of a ClickHouse run (argv as main's); returns the exit
 * status: 0 ok, 1 runtime error (server refused, unreachable, ...), 2 usage. */
int ch_main(int argc, char **argv);

#endif /* HTTPANALYZE_CLICKHOUSE_H */
