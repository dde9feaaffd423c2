/*
 * sql_cmd.h — `sluice sql`: an interactive SQL shell like ksqlDB's `ksql`. With --server it
 * talks to a running sluice's REST API (POST /ksql, /query); alone it runs a standalone
 * engine fed with `.push TOPIC {json}` / `.load TOPIC FILE`. Line editing and history
 * (libedit) on a terminal, plain line reading otherwise. Main thread only.
 */
#ifndef SL_APP_SQL_CMD_H
#define SL_APP_SQL_CMD_H

#include <stdio.h>

/* argv as sluice's (argv[1] is "sql"). Exit status: 0, 1 a statement failed (piped input),
 * 2 usage. */
int sl_cmd_sql(int argc, char **argv);
void sl_cmd_sql_usage(FILE *f);

#endif
