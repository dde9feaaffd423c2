/*
 * out_parquet.h — the `parquet` sink's hook for finished files.
 *
 * A file is "finished" once its footer is written, it is fsynced and renamed from its hidden
 * temporary name to its final name: from then on it is complete and never changes. An uploader
 * (a later sink or service) registers a hook and gets each finished file's path, message type
 * (the partition value, "" without partition_by), rows and bytes. The hook runs on the sink's
 * thread right after the rename; it must not block for long (queue the work).
 */
#ifndef SL_IO_OUT_PARQUET_H
#define SL_IO_OUT_PARQUET_H

#include "core/component.h"

#include <stdint.h>

struct sl_parquet_finished {
    const char *path; /* final path */
    const char *type; /* partition value ("" when none) */
    uint64_t rows;
    uint64_t bytes;
};

typedef void (*sl_parquet_finished_fn)(void *ctx, const struct sl_parquet_finished *f);

/* Register the hook of parquet sink c (after init, before the pipeline starts). One hook per
 * sink: false (and nothing changed) when it has one already; NULL removes it. */
bool sl_out_parquet_set_hook(struct sl_component *c, sl_parquet_finished_fn fn, void *ctx);

/* The `path` template and `partition_by` option (NULL when unset) of parquet sink c, for a
 * reader of its files (the receiver derives its spool and the message type of a left-over
 * file from them). Valid while c lives; any thread after c's options are applied. */
void sl_out_parquet_layout(const struct sl_component *c, const char **path,
                           const char **partition_by);

#endif
