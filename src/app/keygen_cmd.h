/*
 * keygen_cmd.h — `sluice keygen`: a new CurveZMQ key pair, printed in every text form that
 * sluice accepts (Z85, hex-encoded Z85 as the aggregator's --secretKey/--publicKey, hex).
 *
 * Takes the whole argv of sluice (argv[1] is the command) and returns the exit status
 * (0, 1 failure, 2 usage). Main thread.
 */
#ifndef SL_APP_KEYGEN_CMD_H
#define SL_APP_KEYGEN_CMD_H

int sl_cmd_keygen(int argc, char **argv);

#endif
