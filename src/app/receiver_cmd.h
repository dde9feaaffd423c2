/*
 * receiver_cmd.h — `sluice receiver`: the HTTP endpoint that aggregators upload their Parquet
 * files to and poll for commands (api/upload_server.h, docs/receiver.md), so the whole aggregator
 * path runs on one machine.
 *
 * Takes the whole argv of sluice (argv[1] is the command) and returns the exit status (0
 * after SIGINT/SIGTERM, 1 runtime failure, 2 usage or configuration error). Main thread.
 */
#ifndef SL_APP_RECEIVER_CMD_H
#define SL_APP_RECEIVER_CMD_H

int sl_cmd_receiver(int argc, char **argv);

#endif
