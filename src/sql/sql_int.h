/*
 * sql_int.h — internals shared by the SQL engine's files (catalog, planner, executor).
 *
 * Rows. A source's row is an array of slots: its columns in declaration order (key columns
 * first), then ROWTIME, then WINDOWSTART and WINDOWEND when the source is windowed. A join's
 * row is the rows of its sources side by side (`off[i]` is where source i starts). After a
 * GROUP BY the row is: the grouping values, the aggregates' results, WINDOWSTART, WINDOWEND,
 * ROWTIME. Transient rows live in the engine's per-push arena; rows kept in state (tables,
 * join buffers) are one heap block each (struct sq_srow), so they are freed and counted as
 * one allocation.
 */
#ifndef SL_SQL_SQL_INT_H
#define SL_SQL_SQL_INT_H

#include "base/arena.h"
#include "base/binrd.h"
#include "base/buf.h"
#include "base/map.h"
#include "lang/stellar.h"
#include "sql/sql_agg.h"
#include "sql/sql_ast.h"
#include "sql/sql_engine.h"
#include "sql/sql_serde.h"

#include <stdbool.h>
#include <stdint.h>

#define SQ_DEFAULT_GRACE_MS (24LL * 3600 * 1000)
/* record times are at most this (year 2262: nanoseconds still fit in an int64) */
#define SQ_MAX_TS_MS (INT64_MAX / 1000000 - 1)
/* durations (window sizes, grace, WITHIN) at most 100 years */
#define SQ_MAX_SPAN_MS (100LL * 366 * 24 * 3600 * 1000)
/* key expressions (GROUP BY, PARTITION BY) at most */
#define SQ_MAX_KEYS 16
/* what the allocator adds to each block, counted in the state's bytes (glibc: 8-16) */
#define SQ_ALLOC_OVERHEAD 16u

struct sq_query;

struct sq_col {
    char *name;
    const struct sl_sql_type *type;
    bool key;
};

/* a row kept in state: slots followed by the bytes they point to */
struct sq_srow {
    int64_t ts;
    uint64_t seq;
    uint32_t n;
    uint32_t matched; /* stream-stream joins: bit 0 found a partner, bit 1 waits as an outer row */
    size_t bytes;     /* whole block */
    struct sl_value v[];
};

struct sq_source {
    char *name;
    bool table;
    char *topic;
    struct sq_col *cols;
    uint32_t ncols;
    uint32_t nkey;
    struct sl_sql_column *serde; /* value columns for sl_sql_decode_row */
    uint32_t nserde;
    int ts_col;           /* WITH (TIMESTAMP=col): its index, else -1 */
    bool implicit_rowkey; /* compat 0.6: column 0 is ROWKEY STRING, the message key */
    int legacy_key;       /* compat 0.6: WITH (KEY='col'): the column's index, else -1 */
    char *ts_format;
    struct sl_stellar_prog *ts_parse; /* STRINGTOTIMESTAMP(slot 0, format) */
    bool windowed;
    bool session;
    bool materialize;     /* tables: a join reads its latest rows (else no state is kept) */
    uint32_t nslots;      /* ncols + 1 (ROWTIME) [+ 2 windowed] */
    struct sl_hmap state; /* tables: encoded key → struct sq_srow * (the latest row) */
    uint64_t state_bytes;
    struct sq_query **readers;
    uint32_t nreaders;
    struct sq_query *producer; /* the persistent query writing it, if any */
    struct sl_arena types;     /* column types */
    char *sql;                 /* the statement that made it */
};

struct sq_topic {
    char *name;
    struct sq_source **readers;
    uint32_t nreaders;
};

/* a transient row handed between operators */
struct sq_row {
    int64_t ts;
    uint64_t seq;
    struct sl_value *v;
    uint32_t n;
    bool null_value;
    /* set on rows read from a windowed source */
    bool windowed;
    int64_t ws, we;
};

struct sl_sql_engine {
    struct sl_sql_engine_opts opts;
    sl_sql_emit_fn emit;
    void *emit_ud;
    sl_sql_error_fn on_error;
    void *error_ud;
    sl_sql_late_fn on_late;
    void *late_ud;
    struct sq_source **sources;
    uint32_t nsources;
    struct sq_topic **topics;
    uint32_t ntopics;
    struct sq_query **queries;
    uint32_t nqueries;
    uint32_t next_query_id;
    struct sl_stellar_vm *vm;
    struct sl_arena row_arena; /* transient rows of one push */
    uint32_t depth;            /* nested pushes (query → topic → query) */
    uint64_t seq;
    struct sl_buf scratch;
    struct sl_buf keybuf;
    const char **input_topics;
    /* topics by the address of their name (queries write the same string each time); cleared
     * whenever the catalog changes, so a reused address cannot map to a stale topic */
    const char *tcache_name[8];
    struct sq_topic *tcache[8];
    struct sl_sql_engine_stats st;
    char errmsg[512];
    /* properties (SET) */
    bool offset_earliest;
};

/* catalog (sql_engine.c) */
struct sq_source *sq_source_find(struct sl_sql_engine *e, const char *name);
struct sq_topic *sq_topic_get(struct sl_sql_engine *e, const char *name, bool create);
int sq_topic_write(struct sl_sql_engine *e, const char *topic, const struct sl_value *key,
                   const char *key_name, const struct sl_value *value, int64_t ts, bool windowed,
                   bool session, int64_t ws, int64_t we);
void sq_record_error(struct sl_sql_engine *e, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* planner and executor (sql_query.c) */
int sq_query_plan(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sq_source *sink,
                  const char *sink_topic, struct sq_query **out, struct sl_diag *d);
/* the output columns a planned query produces (for CREATE ... AS SELECT's new source) */
void sq_query_columns(const struct sq_query *q, const struct sq_col **cols, uint32_t *n,
                      bool *windowed, bool *session);
const char *sq_query_id(const struct sq_query *q);
const char *sq_query_topic(const struct sq_query *q);
bool sq_query_reads(const struct sq_query *q, const struct sq_source *s);
void sq_query_set_sink(struct sq_query *q, struct sq_source *sink, const char *topic);
void sq_query_free(struct sq_query *q);
uint64_t sq_query_state_bytes(const struct sq_query *q);
/* a row of source `s` (table rows: after the state update) reaches query q */
void sq_query_input(struct sq_query *q, struct sq_source *s, struct sq_row *r);

/* checkpoints (sql_state.c): base/binrd.h reads and writes them */
/* a value written by sq_put_value, built in arena a (NULL, BOOL, INT, DOUBLE, STRING, BYTES,
 * TS, LIST, MAP; nesting at most 16) */
int sq_get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out);
int sl_binwr_u8(struct sl_buf *b, uint8_t v);
int sl_binwr_u32(struct sl_buf *b, uint32_t v);
int sl_binwr_u64(struct sl_buf *b, uint64_t v);
int sl_binwr_str(struct sl_buf *b, const void *p, size_t n);
/* SL_ETYPE for values a checkpoint does not hold (IP, OBJECT) */
int sq_put_value(struct sl_buf *b, const struct sl_value *v);
/* a query's state (windows and aggregates; join buffers are not saved), and its reload into a
 * query that has none yet: SL_EPARSE (r->why) when the record does not fit the query's plan */
int sq_query_state_save(const struct sq_query *q, struct sl_buf *b);
int sq_query_state_load(struct sq_query *q, struct sl_binrd *r, struct sl_arena *a);
/* true when q keeps state a checkpoint does not hold (stream–stream join buffers, table–table
 * join results) */
bool sq_query_state_partial(const struct sq_query *q);
/* true when q joins sources */
bool sq_query_joins(const struct sq_query *q);

/* rows (sql_row.c) */
struct sq_srow *sq_srow_new(const struct sl_value *v, uint32_t n, int64_t ts, uint64_t seq);
/* heap deep copy of one value (a block of its own; free with sl_free(out->u...) via
 * sq_value_free) */
int sq_value_dup(const struct sl_value *v, struct sl_value *out);
void sq_value_free(struct sl_value *v);
/* bytes the values reach (strings padded to 8), and copying them into a block at *p */
size_t sq_values_extra(const struct sl_value *v, uint32_t n);
void sq_values_place(struct sl_value *dst, const struct sl_value *src, uint32_t n, char **p);
/* canonical bytes of values (hash keys): appended to b */
int sq_key_encode(struct sl_buf *b, const struct sl_value *v, uint32_t n);

#endif
