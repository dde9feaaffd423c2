/*
 * stellar_cmd.h — the Stellar command-line tools: `sluice stellar` (REPL, one-shot, file or
 * stdin, golden test runner, function list) and `sluice explain` (bytecode).
 *
 * Both take the whole argv of sluice (argv[1] is the command's name) and return the exit
 * status: 0 success, 1 an expression failed (compile or evaluation) or a test failed, 2 usage.
 * Main thread only (the REPL owns the terminal).
 */
#ifndef SL_APP_STELLAR_CMD_H
#define SL_APP_STELLAR_CMD_H

#include <stdio.h>

int sl_cmd_stellar(int argc, char **argv);
int sl_cmd_explain(int argc, char **argv);
/* The usage lines of both commands, for `sluice help`. */
void sl_cmd_stellar_usage(FILE *f);

#endif
