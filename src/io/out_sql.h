/*
 * out_sql.h — what the `postgres` and `sqlite` sinks share: their common options, the
 * pending rows of a transaction, column resolution and type inference, identifier quoting,
 * CREATE TABLE text and value → text rendering (docs/sql-sinks.md).
 *
 * DESIGN: the two sinks differ only in how rows reach the database (PostgreSQL: COPY text in
 * one transaction, a staging table for upserts; SQLite: a prepared INSERT per row inside one
 * transaction). Everything that decides *what* is written — which columns, in which order,
 * of which SQL type, which fields are dropped, how a value reads as text — lives here, is
 * pure (no I/O) and is unit-tested on its own (tests/unit/io/out_sql_test.c).
 *
 * Pending rows: a sink accumulates rows from several batches (up to `batch` rows) and
 * commits them in one transaction. It keeps a reference to each batch (the rows' values view
 * the batch's arena) and a delivery hold (core/ack.h) that it releases once the transaction
 * committed, so the source commits its input only after the database did.
 *
 * Threads: the sink's thread only, except the counters in struct sl_sql_stats (atomics, read
 * by stats() on any thread).
 */
#ifndef SL_IO_OUT_SQL_H
#define SL_IO_OUT_SQL_H

#include "base/buf.h"
#include "core/component.h"
#include "core/event.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_sql_dialect { SL_SQL_POSTGRES, SL_SQL_SQLITE };

/* Options common to both sinks; each sink's conf struct embeds this as `sql`. */
struct sl_sql_conf {
    char *table;
    struct sl_strlist columns;
    bool create;
    struct sl_strmap schema; /* column -> SQL type, for create */
    struct sl_strlist upsert_keys;
    int64_t batch;
    struct sl_strlist drop_fields;
    int64_t retry_backoff_ns;
    int64_t retry_backoff_max_ns;
    int64_t max_retries; /* 0: retry forever */
};

/* Option table entries for struct sl_sql_conf embedded as member `sql` of `type`. */
#define SL_SQL_OPTIONS(type)                                                                       \
    {"table",                                                                                      \
     SL_OPT_STRING,                                                                                \
     NULL,                                                                                         \
     offsetof(type, sql.table),                                                                    \
     "target table; \"schema.table\" is split at dots and each part quoted (write the "            \
     "name with its own double quotes to keep it verbatim)",                                       \
     NULL,                                                                                         \
     0,                                                                                            \
     0,                                                                                            \
     SL_OPT_REQUIRED},                                                                             \
        {"columns",                                                                                \
         SL_OPT_STRING_LIST,                                                                       \
         NULL,                                                                                     \
         offsetof(type, sql.columns),                                                              \
         "field paths written, in order, one column each (\"a.b\" reaches nested maps; the "       \
         "column is named by the path). Absent: the keys of `schema`, else the fields of the "     \
         "first batch (only those the table has, when it exists); later new fields are "           \
         "ignored and counted",                                                                    \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"create",                                                                                 \
         SL_OPT_BOOL,                                                                              \
         "false",                                                                                  \
         offsetof(type, sql.create),                                                               \
         "CREATE TABLE IF NOT EXISTS at connect: column types from `schema`, else from the "       \
         "first batch's values; a PRIMARY KEY on upsert_keys",                                     \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"schema",                                                                                 \
         SL_OPT_STRING_MAP,                                                                        \
         NULL,                                                                                     \
         offsetof(type, sql.schema),                                                               \
         "column -> SQL type for create (\"BIGINT NOT NULL\", \"JSONB\"); columns not named "      \
         "here get an inferred type",                                                              \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"upsert_keys",                                                                            \
         SL_OPT_STRING_LIST,                                                                       \
         NULL,                                                                                     \
         offsetof(type, sql.upsert_keys),                                                          \
         "columns of a unique key: a row whose key exists updates the other columns (last "        \
         "row wins, also within one batch); retried batches make no duplicates",                   \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"batch",                                                                                  \
         SL_OPT_INT,                                                                               \
         "5000",                                                                                   \
         offsetof(type, sql.batch),                                                                \
         "rows per transaction at most (pending rows are also committed at every flush, "          \
         "each 250 ms)",                                                                           \
         NULL,                                                                                     \
         1,                                                                                        \
         1000000,                                                                                  \
         0},                                                                                       \
        {"drop_fields",                                                                            \
         SL_OPT_STRING_LIST,                                                                       \
         NULL,                                                                                     \
         offsetof(type, sql.drop_fields),                                                          \
         "top-level fields never written (ROWKEY, ROWTIME)",                                       \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"retry_backoff",                                                                          \
         SL_OPT_DURATION,                                                                          \
         "100ms",                                                                                  \
         offsetof(type, sql.retry_backoff_ns),                                                     \
         "first wait before retrying a transaction that failed for a reason other than its "       \
         "rows (connection lost, server shutting down, busy); doubles each time",                  \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
        {"retry_backoff_max",                                                                      \
         SL_OPT_DURATION,                                                                          \
         "5s",                                                                                     \
         offsetof(type, sql.retry_backoff_max_ns),                                                 \
         "longest wait between retries",                                                           \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         0},                                                                                       \
    {                                                                                              \
        "max_retries", SL_OPT_INT, "0", offsetof(type, sql.max_retries),                           \
            "give up a transaction after this many failed attempts in a row and report its "       \
            "batches as failed (the source may deliver them again); 0: retry forever, "            \
            "shutdown waits",                                                                      \
            NULL, 0, 1000000000, 0                                                                 \
    }

/* Counters shown by stats(). */
struct sl_sql_stats {
    atomic_uint_fast64_t rows_written;
    atomic_uint_fast64_t rows_rejected;
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t fields_ignored;
    atomic_uint_fast64_t transactions;
};
/* Fill out[] (at most 5 entries) with the counters, named sluice_<prefix>_*. */
size_t sl_sql_stats_fill(const struct sl_sql_stats *st, const char *prefix,
                         struct sl_comp_stat *out);

/* ---- identifiers and types */

/* Append `name` as a double-quoted identifier ("" inside doubled). */
int sl_sql_quote_ident(struct sl_buf *out, struct sl_str name);
/* Append a table name: verbatim when it contains a double quote, else each dot-separated
 * part quoted ("a.b" -> "a"."b"). */
int sl_sql_quote_table(struct sl_buf *out, const char *table);
/* The column type a value of type t gets from `create` (never NULL). */
const char *sl_sql_type_for(enum sl_sql_dialect d, enum sl_vtype t);

/* ---- columns */

struct sl_sql_col {
    char *name; /* field path text = column name */
    struct sl_path path;
    char *sqltype; /* for CREATE TABLE */
    bool key;      /* one of upsert_keys */
};

struct sl_sql_cols {
    struct sl_sql_col *v;
    size_t count;
    bool inferred; /* from the events (then unknown fields are counted) */
    sl_sym *known; /* sorted: symbols of columns and dropped fields (when inferred) */
    size_t nknown;
};

/*
 * Decide the columns (once, at the first transaction): `columns`, else the keys of
 * `schema`, else the top-level fields of rows[] in order of first appearance, restricted to
 * table_cols when the table exists (table_cols != NULL; ignored ones are logged as `comp`). Fields
 * in drop_fields are left out; upsert_keys must all be columns. Types: `schema`, else inferred from
 * the first non-null value of each column in rows[] (int and double mix to double; other mixes to
 * text; no value: text). On error a message goes to err (cap err_len) and SL_ECONFIG is returned;
 * out is then empty. Caller frees with sl_sql_cols_fini().
 */
int sl_sql_cols_resolve(struct sl_sql_cols *out, const char *comp, const struct sl_sql_conf *cf,
                        enum sl_sql_dialect d, const struct sl_event *const *rows, size_t nrows,
                        const char *const *table_cols, size_t ntable_cols, char *err,
                        size_t err_len);
void sl_sql_cols_fini(struct sl_sql_cols *c);
/* Number of top-level fields of ev that are neither columns nor dropped (0 unless the
 * columns were inferred). */
size_t sl_sql_cols_unknown(const struct sl_sql_cols *c, const struct sl_event *ev);

/* CREATE TABLE IF NOT EXISTS <table> (cols types [, PRIMARY KEY (keys)]). */
int sl_sql_create_text(struct sl_buf *out, const char *table, const struct sl_sql_cols *c);
/* Append the quoted column list: "a", "b.c" */
int sl_sql_col_list(struct sl_buf *out, const struct sl_sql_cols *c, const char *prefix);

/* ---- values */

/*
 * Text of a value as the database reads it (unescaped): booleans true/false, integers,
 * doubles with the fewest digits that read back exactly (NaN, Infinity, -Infinity),
 * timestamps ISO-8601 UTC with microseconds (truncated toward the past), IPs textual,
 * strings as they are, bytes as PostgreSQL's bytea hex ("\x0aff"), lists and maps (and
 * objects) as JSON. NULL or a null value: *is_null = true, nothing appended.
 * 0, SL_ENOMEM or SL_E2BIG (out's cap).
 */
int sl_sql_render(struct sl_buf *out, const struct sl_value *v, bool *is_null);
/* Append p[0..n) escaped for COPY text format: backslash, tab, LF, CR and NUL. */
int sl_sql_copy_escape(struct sl_buf *out, const char *p, size_t n);

/* ---- pending rows */

struct sl_sql_pending {
    const struct sl_event **rows;
    size_t count, cap;
    struct sl_batch **batches; /* a reference each */
    struct sl_ack **holds;     /* parallel to batches; NULL entries allowed */
    size_t nbatches, bcap;
};

/* Rows the server rejected (why[i] != NULL, for i < n): counted in st->rows_rejected, logged
 * (rate-limited by lim) and sent to the component's error output with the message; every
 * why[i] is freed and reset. Sink thread. */
struct sl_log_limit;
void sl_sql_rejects_emit(struct sl_component *c, struct sl_sql_stats *st, struct sl_log_limit *lim,
                         char **why, const struct sl_event **rows, size_t n);

/* Take a reference and a delivery hold on b and add its events. Aborts on OOM (bounded by
 * `batch`). */
void sl_sql_pending_add(struct sl_sql_pending *p, struct sl_batch *b);
/* Release the holds (ok or failed), drop the references, empty the set. */
void sl_sql_pending_done(struct sl_sql_pending *p, bool ok);
void sl_sql_pending_fini(struct sl_sql_pending *p);

/* Sleep for the current back-off and double it (capped). */
void sl_sql_backoff_sleep(int64_t *cur_ns, int64_t max_ns);

#endif
