/*
 * aggregator_cmd.h — `sluice aggregator`: the JVM data aggregator's command line.
 *
 * Takes every flag of the aggregator's --help (same short and long names, same defaults),
 * merges defaults -> `-f settings.conf` -> command line (AGGREGATOR_ARGS_FILE, when set,
 * replaces the command line), builds the pipeline of docs/aggregator.md as YAML and runs it
 * like `sluice run`; `--print-config` prints that YAML instead.
 */
#ifndef SL_APP_AGGREGATOR_CMD_H
#define SL_APP_AGGREGATOR_CMD_H

#include "base/buf.h"

/* argv[1] is "aggregator". The exit status: 0, 1 (runtime failure), 2 (usage or
 * configuration error). Main thread. */
int sl_cmd_aggregator(int argc, char **argv);

/* Split text into arguments as AGGREGATOR_ARGS_FILE is read: whitespace separates, '...' is
 * literal, "..." honours \" \\ \$ \`, a backslash outside quotes escapes the next byte.
 * *argv_out is an array of *argc_out strings, NULL-terminated, owned by the caller
 * (sl_aggregator_free_args). 0 or SL_EINVAL (an unterminated quote). */
int sl_aggregator_split_args(const char *text, size_t len, int *argc_out, char ***argv_out);
void sl_aggregator_free_args(int argc, char **argv);

/* Append s to out as a YAML double-quoted scalar that reads back as s, with "${" written as
 * "$${" so the config loader does not substitute it. SL_EINVAL when s is not UTF-8. */
int sl_aggregator_yaml_quote(struct sl_buf *out, const char *s);

#endif
