/*
 * xf_sql.h — what the `sql` transform (xf_sql.c) offers the REST API (api/ksql_api.c) and the
 * `sluice sql` shell: statements run one at a time with their outcome, catalog introspection,
 * and transient push queries whose records go to a caller's callback.
 *
 * Two layers:
 *   - sl_sqlcat_*: over a bare engine (xf_sql_cat.c), no locking: the caller serialises (the
 *     standalone shell owns its engine; the transform calls them under its lock).
 *   - sl_xf_sql_*: over a running `sql` transform: every call takes the locks of all its
 *     shards (its process() holds one at a time), so any thread (the API's) may call them.
 *     Statements apply to every shard; catalog callbacks see shard 0's engine.
 */
#ifndef SL_IO_XF_SQL_H
#define SL_IO_XF_SQL_H

#include "base/buf.h"
#include "base/err.h"
#include "core/component.h"
#include "core/pipeline.h"
#include "sql/sql_ast.h"
#include "sql/sql_engine.h"

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------------ catalog (xf_sql_cat.c) */

struct sl_sqlcat_field {
    char *name;
    char *type; /* SQL text: "STRING", "ARRAY<INTEGER>" */
    bool key;
};

/* A stream or table, or the output of a query. Every string is owned (sl_sqlcat_source_fini). */
struct sl_sqlcat_source {
    char *name; /* query outputs: the query id */
    char *topic;
    bool table, windowed;
    struct sl_sqlcat_field *fields;
    uint32_t nfields;
    char *writer; /* id of the persistent query writing it, NULL if none */
    char **readers;
    uint32_t nreaders;
    char *sql; /* the statement that made it ("" if unknown) */
};
void sl_sqlcat_source_fini(struct sl_sqlcat_source *s);

/* DESCRIBE: 0, or SL_ENOENT when there is no such stream/table (name as normalised). */
int sl_sqlcat_describe(struct sl_sql_engine *e, const char *name, struct sl_sqlcat_source *out);
/* Every stream and table, described; *out freed with sl_sqlcat_sources_free. Returns count. */
uint32_t sl_sqlcat_sources(struct sl_sql_engine *e, struct sl_sqlcat_source **out);
void sl_sqlcat_sources_free(struct sl_sqlcat_source *s, uint32_t n);

struct sl_sqlcat_query {
    char *id;
    char *sink;  /* the stream/table it writes; NULL for a transient query */
    char *topic; /* the topic it writes */
    char *sql;   /* the statement, when the engine kept it ("" otherwise) */
    bool transient;
};
uint32_t sl_sqlcat_queries(struct sl_sql_engine *e, struct sl_sqlcat_query **out);
void sl_sqlcat_queries_free(struct sl_sqlcat_query *q, uint32_t n);

/* The output of query `id` (columns in order, key columns first; the topic its records are
 * written to). 0 or SL_ENOENT. */
int sl_sqlcat_query_output(struct sl_sql_engine *e, const char *id, struct sl_sqlcat_source *out);

/* One statement's outcome (sl_sqlcat_run). */
struct sl_sqlcat_result {
    const struct sl_sql_stmt *st; /* parsed: kind, name, show, query->limit ... */
    const char *text;             /* the statement as written, without ';' */
    const char *message;          /* what the engine said ("Stream created"); "" if nothing */
    const char *query_id;         /* a query the statement started, else NULL */
    int rc;                       /* 0 or an SL_E* code (d says why, line:col in the script) */
    const struct sl_diag *d;
};
/* Return non-zero to stop the script after this statement. */
typedef int (*sl_sqlcat_result_fn)(void *ud, struct sl_sql_engine *e,
                                   const struct sl_sqlcat_result *r);

/*
 * Run a script one statement at a time, calling cb after each (and for a failed one, then
 * stop). A script that does not parse runs nothing: SL_EPARSE with d at its line:col (cb is
 * not called). SELECT statements are run (they start a transient query) only when
 * `run_select`; otherwise cb sees them with rc SL_EINVAL and the script stops. Positions in
 * d are the script's. Returns 0 or the first error.
 */
int sl_sqlcat_run(struct sl_sql_engine *e, const char *script, size_t len, bool run_select,
                  sl_sqlcat_result_fn cb, void *ud, struct sl_diag *d);

/*
 * The same, with a check run on each parsed statement before it executes: non-zero refuses it
 * (as if the engine had: cb sees that rc and d, the script stops). check may be NULL.
 */
typedef int (*sl_sqlcat_check_fn)(void *ud, struct sl_sql_engine *e, const struct sl_sql_stmt *st,
                                  struct sl_diag *d);
int sl_sqlcat_run_checked(struct sl_sql_engine *e, const char *script, size_t len, bool run_select,
                          sl_sqlcat_check_fn check, void *check_ud, sl_sqlcat_result_fn cb,
                          void *ud, struct sl_diag *d);

/* Give dst the query-id counter of src: engines that run the same statements (the shards of
 * one transform) keep naming their queries alike after a statement failed on src only. */
void sl_sqlcat_sync_ids(struct sl_sql_engine *dst, const struct sl_sql_engine *src);

/* ------------------------------------------------------------------ sharding (xf_sql_shard.c) */

/* The field events are sharded by (`shard_by`), as the SQL sees it. */
struct sl_sqlcat_shard {
    const char *field; /* the field path as configured ("user"); a column matches it as ksqlDB
                        * matches JSON fields (exactly, then upper-cased) */
    bool is_key;       /* it is the transform's key_field: key columns carry it */
};

/*
 * May st run on engines that each see one shard of the events? 0 for statements without a
 * query, stateless queries, and stateful ones keyed by the shard field (GROUP BY includes a
 * shard column; a join is on shard columns of both sides; every table a join or an aggregation
 * reads is keyed by one; INSERT INTO keeps the target's shard column). Else SL_ECONFIG with d
 * at the offending clause, naming the query (by the id it would get) and its key. Reads e's
 * catalog: call with e serialised. Unknown sources pass (the engine reports them).
 */
int sl_sqlcat_shard_check(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                          const struct sl_sql_stmt *st, struct sl_diag *d);

/* The columns of `source` known to carry the shard value on every row (names point into e's
 * catalog, valid until its next exec); at most max. Returns the count (0: none, no source). */
uint32_t sl_sqlcat_shard_columns(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh,
                                 const char *source, const char **names, uint32_t max);

/* ------------------------------------------------------------------ the transform */

/* The `sql` transform named `name` in p, or the only one when name is NULL or "". NULL with a
 * message in err when there is none, several (and no name), or no such one. Any thread. */
struct sl_component *sl_xf_sql_find(struct sl_pipeline *p, const char *name, char *err,
                                    size_t errlen);

struct sl_xf_sql_prop {
    const char *name, *value;
};

/*
 * Statements from a client (REST): sl_sqlcat_run under the transform's lock, SELECT refused
 * (rc SL_EINVAL; the caller points at /query). Each statement that changes the catalog
 * (CREATE, CREATE ... AS, INSERT INTO, DROP, TERMINATE) is appended to the transform's
 * `state_file` with the properties in effect (`props`, then the script's own SETs), and,
 * unless `outputs` is configured, the streams and tables queries write leave the transform
 * from then on. cb runs under the lock (it may call sl_sqlcat_* on e). Any thread.
 */
int sl_xf_sql_run(struct sl_component *c, const char *script, size_t len,
                  const struct sl_xf_sql_prop *props, uint32_t nprops, sl_sqlcat_result_fn cb,
                  void *ud, struct sl_diag *d);

/* Called for every record a transient query writes, on a worker thread, under the lock of the
 * shard that wrote it: with shard_by, from several worker threads at once (each shard applies
 * the query's LIMIT on its own). Copy what is needed, never block, never call back into the
 * transform. */
typedef void (*sl_xf_sql_tap_fn)(void *ud, const struct sl_sql_record *r);
struct sl_xf_sql_tap;

/*
 * Start a push query (one `SELECT ... EMIT CHANGES [LIMIT n]` statement): its output (id,
 * columns) in *out (caller finis), its LIMIT in *limit (-1: none), records to fn until
 * sl_xf_sql_query_stop. 0, or an SL_E* code with d (line:col of `sql`). Any thread.
 */
int sl_xf_sql_query_start(struct sl_component *c, const char *sql, size_t len, sl_xf_sql_tap_fn fn,
                          void *ud, struct sl_sqlcat_source *out, int64_t *limit,
                          struct sl_xf_sql_tap **tap, struct sl_diag *d);
/* Terminate the query; fn is not called once this returns. Any thread but fn's. */
void sl_xf_sql_query_stop(struct sl_component *c, struct sl_xf_sql_tap *tap);

#endif
