/*
 * server.h — the HTTP API server (libmicrohttpd): /health, /metrics, /api/v1/pipeline.
 */
#ifndef SL_API_SERVER_H
#define SL_API_SERVER_H

#include "base/err.h"
#include "core/config.h"
#include "core/pipeline.h"

struct sl_api_server;

/* Listen on "host:port" (port 0: any free port) and serve the pipeline's state from an
 * internal thread. sec (may be NULL): tokens, TLS and limits (docs/api.md "Security"). NULL
 * with d filled on error. Main thread. */
struct sl_api_server *sl_api_server_start(const char *listen, const struct sl_config_api *sec,
                                          struct sl_pipeline *p, struct sl_diag *d);
/* Stop and free (NULL is a no-op). Main thread. */
void sl_api_server_stop(struct sl_api_server *s);
/* The bound port. */
int sl_api_server_port(const struct sl_api_server *s);

#endif
