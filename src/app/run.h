/*
 * run.h — run a loaded configuration: what `sluice run` and `sluice aggregator` share.
 *
 * Signals, the pipeline, the API server, the push gateway, the status line, the drain at a
 * stop request and the exit status live here once, so both commands behave the same.
 */
#ifndef SL_APP_RUN_H
#define SL_APP_RUN_H

#include "base/err.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <stdbool.h>

struct sl_app_opts {
    int workers;          /* 0: the config's, else the number of cores */
    bool once;            /* --once */
    int status;           /* -1 auto (terminal), 0 off, 1 on */
    bool log_level_given; /* the command line set the log level: the config's is ignored */
};

/* Print a diagnostic as "sluice: file:line:col: message (hint)". */
void sl_app_print_diag(const struct sl_diag *d);
/* When set, rewrites every diagnostic sl_app_print_diag prints: `sluice usecase` maps a
 * position in the pipeline it generated back to the use case's .conf or transforms file.
 * Main thread. */
extern void (*sl_app_diag_map)(struct sl_diag *d);
/* Apply cfg's log level and profile store, then build (not start) its pipeline. NULL when
 * that fails (the diagnostic is printed; cfg stays the caller's). Main thread. */
struct sl_pipeline *sl_app_build(struct sl_config *cfg, const struct sl_app_opts *o);
/* Free p, close the default profile store, free cfg (each may be NULL). Main thread. */
void sl_app_teardown(struct sl_pipeline *p, struct sl_config *cfg);
/* Run cfg until SIGINT/SIGTERM, a source's own stop (the zmq shutdown socket) or, with
 * --once, the end of input; then drain, push the final metrics and free everything,
 * cfg included. The exit status: 0, 1 (a source failed) or 2 (configuration). Main thread,
 * before any other thread is started (it installs the signal handlers). */
int sl_app_run(struct sl_config *cfg, const struct sl_app_opts *o);

#endif
