/*
 * console.h — the web console (docs/console.md): its assets, embedded in the binary, and the
 * API endpoints its pages read besides the existing ones.
 *
 *   GET /console/[FILE]                     the single-page app (index.html, app.js, app.css),
 *                                           open without a token so the login prompt loads
 *   GET /api/v1/console/stats               every component's own metrics as JSON (what
 *                                           /metrics shows: Em, files written, spool...)
 *   GET /api/v1/console/history             every component's counters and metrics, every 2 s
 *                                           over the last 10 minutes (the charts' past)
 *   GET /api/v1/console/samples/{component} the last events of its output and of its errors
 *                                           (opt-in: `api: {samples: N}`)
 *   GET /api/v1/console/query?lang=stellar|sql&q=TEXT
 *                                           a Stellar expression (PROFILE_GET reads the
 *                                           profile store) or a read-only SQL query on it
 *
 * DESIGN: samples come from a pipeline tap (core/pipeline.h): for each component and port a
 * ring of N JSON texts behind its own mutex. The tap takes at most one batch of a component's
 * output every SL_CONSOLE_SAMPLE_EVERY_MS (an atomic timestamp decides without the lock) and
 * every batch of its errors (rare, and each one tells something), formats up to N of its last
 * events outside the lock, and swaps them in under it, so a busy pipeline pays a clock read
 * per batch. The rings belong to the pipeline (freed with
 * it); the console only reads them, and the API server stops before the pipeline is freed.
 *
 * History: a thread of the console renders a point (every component's counters and own
 * metrics, as JSON text) every SL_CONSOLE_HISTORY_EVERY_MS into a ring of
 * SL_CONSOLE_HISTORY_POINTS, so a chart opened now starts with the last ten minutes. It reads
 * only atomics and ops->stats (callable from any thread); about 1 KB a point per ten
 * components.
 */
#ifndef SL_API_CONSOLE_H
#define SL_API_CONSOLE_H

#include "base/buf.h"
#include "base/err.h"
#include "core/pipeline.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_CONSOLE_MAX_SAMPLES      1000  /* `api: {samples: N}` at most */
#define SL_CONSOLE_SAMPLE_EVERY_MS  200   /* a component's port is sampled at most this often */
#define SL_CONSOLE_SAMPLE_MAX_LEN   16384 /* bytes of one sampled event's JSON; longer: cut */
#define SL_CONSOLE_QUERY_MAX_ROWS   1000  /* rows of a SQL answer; more: "truncated": true */
#define SL_CONSOLE_QUERY_MAX_BYTES  (16u << 20) /* bytes of a SQL answer's rows; more: truncated */
#define SL_CONSOLE_HISTORY_POINTS   300         /* points of /api/v1/console/history ... */
#define SL_CONSOLE_HISTORY_EVERY_MS 2000        /* ... one every 2 s: the last 10 minutes */

/* An embedded file (generated at build time from web/console/dist by cmake/embed_assets.cmake). */
struct sl_console_asset {
    const char *path; /* "index.html", "app.js" */
    const char *type; /* Content-Type */
    const char *etag; /* "\"<sha256 prefix>\"" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz_data; /* the same, gzip-compressed; NULL when that is not smaller */
    size_t gz_len;
};
extern const struct sl_console_asset sl_console_assets[];
extern const size_t sl_console_asset_count;

struct sl_console;

/* Install the tap that keeps the last `samples` events of every component's output and
 * errors (`api: {samples: N}`), before sl_pipeline_start() so the first events are kept too;
 * 0 does nothing, as does a second call. SL_EINVAL in d beyond SL_CONSOLE_MAX_SAMPLES,
 * SL_EEXIST when the pipeline has another tap. Main thread. */
int sl_console_install_samples(struct sl_pipeline *p, int64_t samples, struct sl_diag *d);

/* The console of pipeline p; starts the history thread. samples > 0: the samples above
 * (installed now if sl_console_install_samples was not called: later events only). Errors as
 * sl_console_install_samples. Main thread. */
int sl_console_new(struct sl_pipeline *p, int64_t samples, struct sl_console **out,
                   struct sl_diag *d);
/* Stop the history thread and free (NULL is fine; the sample rings stay with the pipeline). */
void sl_console_free(struct sl_console *c);

/* True for the paths sl_console_handle answers; *open is set when it needs no token (the
 * static assets). */
bool sl_console_match(const char *url, bool *open);

/* Answer a console request (GET or HEAD; others 405). API thread. */
enum MHD_Result sl_console_handle(struct sl_console *c, struct MHD_Connection *conn,
                                  const char *url, const char *method);

/* The JSON bodies, without HTTP (unit tests). Each appends to out and returns the status. */
unsigned sl_console_stats_json(struct sl_console *c, struct sl_buf *out);
unsigned sl_console_history_json(struct sl_console *c, struct sl_buf *out);
unsigned sl_console_samples_json(struct sl_console *c, const char *component, struct sl_buf *out);
unsigned sl_console_query_json(const char *lang, const char *text, struct sl_buf *out);

#endif
