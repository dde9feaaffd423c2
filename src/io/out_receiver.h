/*
 * out_receiver.h — the pure parts of the `receiver` sink (src/io/out_receiver.c), exported
 * for its unit tests: the back-off schedule and the spool scan.
 */
#ifndef SL_IO_OUT_RECEIVER_H
#define SL_IO_OUT_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether an HTTP answer `code` (not 2xx) says the file itself will never be accepted (it
 * is moved to rejected/); every other failure is retried. Pure. */
bool sl_receiver_rejects(long code);

/* Delay before the next attempt after `failures` (>= 1) consecutive failed attempts, "full
 * jitter": uniform in [0, min(max_ns, initial_ns * 2^(failures - 1))], drawn from `rnd` (64
 * random bits). initial_ns <= 0 gives 0. Pure; any thread. */
int64_t sl_receiver_backoff_ns(int64_t initial_ns, int64_t max_ns, uint32_t failures, uint64_t rnd);

/* A file waiting in the spool. */
struct sl_receiver_spooled {
    char *path; /* spool + "/" + rel */
    char *rel;  /* the path below the spool: "<type>/<name>.parquet" */
    char *type; /* the first directory of rel ("" for a file directly in the spool) */
    uint64_t bytes;
    int64_t mtime_ms; /* Unix milliseconds */
};

/* The files waiting in `spool`: every regular `*.parquet` file below it whose name and
 * directories are not hidden (a leading '.': the parquet sink's temporary files), except
 * under `<spool>/uploaded/` and `<spool>/rejected/`; oldest first (mtime, then rel). *out is
 * an array of *count entries (free with sl_receiver_scan_free), NULL when none; a missing
 * spool is empty. 0, or a negative code when a directory cannot be read (*out untouched).
 * Any thread. */
int sl_receiver_scan(const char *spool, struct sl_receiver_spooled **out, size_t *count);
void sl_receiver_scan_free(struct sl_receiver_spooled *v, size_t count);

#endif
