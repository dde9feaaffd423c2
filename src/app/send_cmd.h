/*
 * send_cmd.h — `sluice send`: a collector in one command; JSON events as network-event
 * FlatBuffers over CurveZMQ to a zmq source (options in send_cmd.c, `sluice send --help`).
 *
 * Takes the whole argv of sluice (argv[1] is "send"); returns the exit status (0, 1 failure,
 * 2 usage). Main thread.
 */
#ifndef SL_APP_SEND_CMD_H
#define SL_APP_SEND_CMD_H

int sl_cmd_send(int argc, char **argv);

#endif
