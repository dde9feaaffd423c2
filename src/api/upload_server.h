/*
 * upload_server.h — the receiving end of the aggregator's uploads (docs/receiver.md): an HTTP
 * server that stores multipart Parquet uploads under a root directory and serves a command
 * file to aggregators.
 *
 *   POST <upload path>  multipart/form-data: api-key, aggregator-id, type, time,
 *                       [description], file → {root}/{type}/{yyyy-mm-dd}/{id}-{time}.parquet
 *   GET  /commands      the --commands file, with a strong ETag (304 on If-None-Match)
 *   GET  /health        200
 *
 * Threads: one libmicrohttpd polling thread does all the work (uploads stream to disk, so no
 * request holds more than a field buffer in memory); start/stop/stats belong to the caller's
 * thread; sl_upload_server_reload_keys may be called from any thread.
 */
#ifndef SL_API_UPLOAD_SERVER_H
#define SL_API_UPLOAD_SERVER_H

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>

struct sl_upload_server_opts {
    const char *listen;        /* "host:port" (port 0: any free port) */
    const char *root;          /* storage root (created when missing) */
    const char *keys_path;     /* api keys, one per line, '#' comments */
    const char *commands_path; /* NULL: GET /commands answers 404 */
    const char *upload_path;   /* NULL: any path but /commands and /health */
    uint64_t max_bytes;        /* bound of the file part (0: 1 GiB) */
};

struct sl_upload_server_stats {
    uint64_t stored;     /* new files */
    uint64_t duplicates; /* identical re-uploads (200, nothing written) */
    uint64_t bytes;      /* bytes of new files */
    uint64_t rows;       /* rows of new files */
    uint64_t rejected_400, rejected_401, rejected_413, rejected_other;
    uint64_t commands_200, commands_304, commands_404;
};

struct sl_upload_server;

/*
 * Load the keys (and aggregators.json), listen and serve from an internal thread. Copies the
 * strings of o. NULL with d set when the keys file cannot be read, aggregators.json is not
 * valid JSON, the root cannot be created or the address cannot be bound.
 */
struct sl_upload_server *sl_upload_server_start(const struct sl_upload_server_opts *o,
                                                struct sl_diag *d);
/* The bound port. */
int sl_upload_server_port(const struct sl_upload_server *r);
/* Re-read the keys file at the next request even if it looks unchanged (SIGHUP). Any
 * thread, async-signal-safe. Without it, the file is re-read when its mtime/size/inode
 * change. */
void sl_upload_server_reload_keys(struct sl_upload_server *r);
/* Stop the server (waits for the thread), then fill *st (may be NULL) and free. NULL is a
 * no-op. */
void sl_upload_server_stop(struct sl_upload_server *r, struct sl_upload_server_stats *st);

/* Whether `type` is a contract type name (codec/netevent.h's list; exposed for tests).
 * Aggregator ids: sl_aggregator_id_ok (codec/netevent.h). */
bool sl_upload_server_type_ok(const char *type);

#endif
