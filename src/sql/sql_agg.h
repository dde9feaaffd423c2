/*
 * sql_agg.h — ksqlDB's aggregate functions: COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT, TOPK,
 * TOPKDISTINCT, LATEST_BY_OFFSET, EARLIEST_BY_OFFSET, COLLECT_LIST, COLLECT_SET.
 *
 * DESIGN: one const descriptor per function (init/add/merge/result/fini over a fixed-size
 * state the caller places in its window or group entry, plus heap memory the function owns and
 * reports through `bytes` for the state's byte accounting). Values added are copied when the
 * state keeps them (strings, lists), because rows are transient. Semantics follow
 * ../shared/specs/ksql.md §1.10: NULLs ignored; SUM starts at 0 and keeps the input type; AVG
 * is DOUBLE; MIN/MAX NULL until a non-NULL value; COUNT(*) counts rows, COUNT(x) non-NULL x;
 * COUNT_DISTINCT is exact (documented deviation: ksqlDB's HyperLogLog is approximate);
 * LATEST/EARLIEST_BY_OFFSET order by arrival sequence, ignore NULLs unless told not to, and
 * take an optional N (a list result).
 */
#ifndef SL_SQL_SQL_AGG_H
#define SL_SQL_SQL_AGG_H

#include "base/arena.h"
#include "base/err.h"
#include "core/value.h"
#include "sql/sql_ast.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SQL_AGG_STATE 48 /* bytes of inline state per aggregate (the largest state) */
/* A state must be 8-byte aligned. COLLECT_LIST/COLLECT_SET keep at most this many entries
 * (ksqlDB's ksql.functions.collect_list.limit as Confluent Cloud sets it); TOPK's k and
 * LATEST/EARLIEST_BY_OFFSET's n may not exceed it either (bind fails). */
#define SL_SQL_AGG_COLLECT_MAX 1000

/* Bound configuration of one aggregate call: constant arguments (TOPK's k, LATEST_BY_OFFSET's
 * n and ignoreNulls) and the input type. Filled by bind(); read by the other functions. */
struct sl_sql_aggcfg {
    const struct sl_sql_aggfn *fn;
    enum sl_sql_tkind in;          /* type of the (first) value argument; UNKNOWN for COUNT(*) */
    const struct sl_sql_type *out; /* result type */
    int64_t k;                     /* TOPK / TOPKDISTINCT k; LATEST/EARLIEST n (0: scalar result) */
    bool ignore_nulls;             /* LATEST/EARLIEST_BY_OFFSET (default true) */
    bool star;                     /* COUNT(*) / COUNT() / COUNT(1): count rows */
    uint32_t nvalue_args;          /* how many leading arguments are evaluated per row (0 or 1) */
};

struct sl_sql_aggfn {
    const char *name; /* upper-case */
    int min_args, max_args;
    /*
     * Check the call: argt[i] the argument types, consts[i] the value of argument i when it is
     * a literal (else NULL), star for name(*). Fills *cfg (its `out` allocated in `types`).
     * 0 or SL_ETYPE with d->msg ("TOPK expects a constant integer k").
     */
    int (*bind)(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                struct sl_diag *d);
    /* state is SL_SQL_AGG_STATE bytes, uninitialised */
    void (*init)(const struct sl_sql_aggcfg *cfg, void *state);
    /* one row: v the value argument (NULL pointer for COUNT(*)), seq the arrival sequence.
     * 0 or SL_ENOMEM. */
    int (*add)(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
               uint64_t seq);
    /* fold src into dst (session windows merging); src is left valid for fini */
    int (*merge)(const struct sl_sql_aggcfg *cfg, void *dst, const void *src);
    /* the current result; strings/lists in arena a (the output row's) */
    int (*result)(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                  struct sl_value *out);
    /* heap bytes the state holds beyond its inline part */
    size_t (*bytes)(const struct sl_sql_aggcfg *cfg, const void *state);
    void (*fini)(const struct sl_sql_aggcfg *cfg, void *state);
};

/* The checkpointed form of an aggregate's state (sql_state.c): two integers (a double's bits
 * in `a`), and for MIN/MAX the kept value (a view into the state, or into the caller's memory
 * on import). */
struct sl_sql_agg_image {
    int64_t a, b;
    struct sl_value v;
};
/* Export state (of cfg's function) into *out: 0, or SL_EINVAL for the functions whose state is
 * not checkpointed (COUNT_DISTINCT, TOPK, TOPKDISTINCT, LATEST/EARLIEST_BY_OFFSET,
 * COLLECT_LIST, COLLECT_SET). */
int sl_sql_agg_export(const struct sl_sql_aggcfg *cfg, const void *state,
                      struct sl_sql_agg_image *out);
/* Load an image into a state just made by init(): 0, SL_EPARSE when the image cannot be a
 * state of this function (a negative count, a value of another type), SL_EINVAL for the
 * functions export refuses, SL_ENOMEM. The image may come from anywhere: it is checked. */
int sl_sql_agg_import(const struct sl_sql_aggcfg *cfg, void *state,
                      const struct sl_sql_agg_image *in);

/* Lookup by upper-case name; NULL if NAME is not an aggregate. */
const struct sl_sql_aggfn *sl_sql_agg_find(const char *name);

#endif
