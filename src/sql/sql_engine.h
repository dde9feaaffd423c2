/*
 * sql_engine.h — sluice's streaming SQL engine: ksqlDB statements over named topics.
 *
 * DESIGN: an engine holds a catalog (streams, tables, persistent queries) and a set of topics
 * that exist only inside it. Records enter with sl_sql_engine_push(topic, key, value, ts): every
 * source declared over that topic decodes it (sql_serde.h), tables update their materialised
 * state, and every persistent query reading the source runs its operators synchronously
 * (filter, join, window/aggregate, projection, re-key) and writes its results to its sink topic,
 * which feeds the queries reading that one in turn. Every record written to any topic is also
 * handed to the caller's emit callback, which is how sinks, the REST API and the conformance
 * runner see results. Event time only: each stateful operator keeps its stream time (the
 * largest timestamp it has seen); windows close and join buffers expire against it
 * (../shared/specs/ksql.md §1.8–1.10). Nothing here starts threads: the caller serialises calls
 * on one engine.
 */
#ifndef SL_SQL_SQL_ENGINE_H
#define SL_SQL_SQL_ENGINE_H

#include "base/buf.h"
#include "base/err.h"
#include "core/value.h"

#include <stdbool.h>
#include <stdint.h>

struct sl_sql_engine;

/* one record written to a topic */
struct sl_sql_record {
    const char *topic;
    const struct sl_value *key;   /* NULL value: no key; a MAP for several key columns */
    const char *key_name;         /* the key column's name when there is one key column */
    const struct sl_value *value; /* NULL value: a tombstone */
    int64_t ts_ms;
    bool windowed;
    bool session; /* window type: session (true) or time */
    int64_t window_start_ms, window_end_ms;
};

/* Called for every record written to a topic by a query. The values live until it returns. */
typedef void (*sl_sql_emit_fn)(void *ud, const struct sl_sql_record *r);

struct sl_sql_engine_opts {
    bool compat06;            /* ksqlDB 0.6 semantics (ROWKEY/ROWTIME, 0-based arrays, ...) */
    uint64_t max_state_bytes; /* per query; 0: 1 GiB */
};

struct sl_sql_engine *sl_sql_engine_new(const struct sl_sql_engine_opts *o, sl_sql_emit_fn emit,
                                        void *ud);
void sl_sql_engine_free(struct sl_sql_engine *e);

/*
 * Run a script of statements in order. DDL and persistent queries change the catalog; SET
 * changes properties for later statements. A statement that fails stops the script: d has the
 * statement's line:col, the message and a caret hint; the statements before it stay applied.
 * `out` (may be NULL) receives one line of text per statement ("Stream created", a SHOW
 * listing, DESCRIBE output). 0 or an SL_E* code.
 */
int sl_sql_engine_exec(struct sl_sql_engine *e, const char *script, size_t len, struct sl_buf *out,
                       struct sl_diag *d);

/*
 * Feed one record to a topic (key and value as parsed JSON; a NULL value is a tombstone or a
 * NULL record). Records nobody reads are ignored. Returns 0; records that cannot be decoded
 * or whose expressions fail are counted (sl_sql_engine_stats) and, like ksqlDB's processing
 * log, reported through the error callback if set.
 */
int sl_sql_engine_push(struct sl_sql_engine *e, const char *topic, const struct sl_value *key,
                       const struct sl_value *value, int64_t ts_ms);

/* Per-record problems (decode failures, late records, expression errors). */
typedef void (*sl_sql_error_fn)(void *ud, const char *query, const char *msg);
void sl_sql_engine_on_error(struct sl_sql_engine *e, sl_sql_error_fn fn, void *ud);

/* Records dropped as late (beyond a window's grace, a join's window): the record as a map of
 * its source's columns, for a `.late` output. The values live until it returns. */
typedef void (*sl_sql_late_fn)(void *ud, const char *query, const char *source,
                               const struct sl_value *record, int64_t ts_ms);
void sl_sql_engine_on_late(struct sl_sql_engine *e, sl_sql_late_fn fn, void *ud);

struct sl_sql_engine_stats {
    uint64_t records_in;
    uint64_t records_out;
    uint64_t decode_errors;
    uint64_t eval_errors;
    uint64_t late;       /* dropped: beyond a window's grace or a join's retention */
    uint64_t state_full; /* dropped: a query's state reached max_state_bytes */
    uint64_t state_bytes;
};
void sl_sql_engine_stats(const struct sl_sql_engine *e, struct sl_sql_engine_stats *out);

/* The catalog's streams and tables: *out (caller frees with sl_free) gets one entry per
 * source; names point into the engine (valid until the next exec). Returns the count. */
struct sl_sql_source_info {
    const char *name;
    const char *topic;
    bool table;
    bool written; /* a persistent query writes it */
};
uint32_t sl_sql_engine_sources(struct sl_sql_engine *e, struct sl_sql_source_info **out);

/* Names of the topics sources read (so a host can route inputs); NULL-terminated, engine-owned,
 * valid until the next exec. */
const char *const *sl_sql_engine_input_topics(struct sl_sql_engine *e);

#endif
