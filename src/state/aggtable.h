/*
 * aggtable.h — windowed group-by state for the `aggregate` transform: per (window, group key)
 * the running aggregates count, sum, min, max, avg, distinct (exact, then HyperLogLog++) and
 * top-k (exact, then Space-Saving), closed and emitted window by window.
 *
 * The table knows nothing about events or expressions: the caller evaluates the group keys
 * and the aggregates' arguments and hands over values. Values given to the table are copied
 * (strings into the table's memory), so they may point into a batch that goes away.
 *
 * Threads: a table is used by one thread at a time (the caller holds a lock).
 */
#ifndef SL_STATE_AGGTABLE_H
#define SL_STATE_AGGTABLE_H

#include "base/arena.h"
#include "base/err.h"
#include "core/value.h"

#include <stdbool.h>
#include <stdint.h>

#define SL_AGG_FNS(X)                                                                              \
    X(COUNT, "count")                                                                              \
    X(COUNT_EXPR, "count")                                                                         \
    X(SUM, "sum")                                                                                  \
    X(MIN, "min")                                                                                  \
    X(MAX, "max")                                                                                  \
    X(AVG, "avg")                                                                                  \
    X(DISTINCT, "distinct")                                                                        \
    X(TOPK, "top_k")

enum sl_agg_fn {
#define SL_AGG_ENUM(n, s) SL_AGG_##n,
    SL_AGG_FNS(SL_AGG_ENUM)
#undef SL_AGG_ENUM
};

#define SL_AGG_TOPK_MAX    1000u
#define SL_AGG_TOPK_FACTOR 100u /* exact counting of up to FACTOR * k values per group */
#define SL_AGG_MAX_KEYS    16u
#define SL_AGG_MAX_AGGS    64u
#define SL_AGG_HLL_P       14
#define SL_AGG_HLL_SP      25

struct sl_agg_spec {
    enum sl_agg_fn fn;
    uint32_t k; /* TOPK */
};

struct sl_aggtable_opts {
    const struct sl_agg_spec *specs;
    uint32_t nspecs;
    uint32_t nkeys;
    uint64_t max_groups;         /* (window, group) entries; 0: no limit */
    uint32_t distinct_exact_max; /* 0: 10000 */
};

struct sl_aggtable;
struct sl_aggroup;

/* New table (copies opts and specs). Aborts on OOM (fixed size). */
struct sl_aggtable *sl_aggtable_new(const struct sl_aggtable_opts *o);
void sl_aggtable_free(struct sl_aggtable *t);

/*
 * The group of window [ws, we) with these key values (nkeys of them), created when new.
 * 0, SL_ELIMIT (max_groups reached: nothing created), SL_ENOMEM.
 */
int sl_aggtable_group(struct sl_aggtable *t, int64_t ws, int64_t we, const struct sl_value *keys,
                      struct sl_aggroup **out);

/* Is the value acceptable to aggregate i (sum/avg take numbers, bools (0/1) and null)? */
bool sl_aggtable_accepts(const struct sl_aggtable *t, uint32_t i, const struct sl_value *v);

/* Add one event's argument values (nspecs of them; ignored for COUNT) to group g. Null values
 * are skipped by every function but COUNT. 0, SL_ETYPE (a value sum/avg refuses: nothing
 * added), SL_ENOMEM. */
int sl_aggtable_add(struct sl_aggtable *t, struct sl_aggroup *g, const struct sl_value *args);

/*
 * Results of a window's group, in first-seen order. `keys` (nkeys) and `results` (nspecs)
 * are valid during the call only: copy them. TOPK results are lists of {value, count} maps
 * built in `a` (the caller's arena); other results are scalars or views into the table.
 * A nonzero return stops the walk and is returned.
 */
typedef int (*sl_aggtable_emit_fn)(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                                   const struct sl_value *results);

/* Emit and drop every window whose end is <= upto (all of them when `all`), windows in
 * order of (end, start). TOPK lists are built in `a`. Returns the number of groups emitted
 * or a negative error (the windows not yet emitted stay). */
int64_t sl_aggtable_close(struct sl_aggtable *t, int64_t upto, bool all, struct sl_arena *a,
                          sl_aggtable_emit_fn fn, void *ud);

/* ---- checkpoints (docs/cluster.md "State and takeover") */

struct sl_binrd;
struct sl_buf;

/* Append every open window of t (each group's keys and running aggregates, exact sets and
 * sketches included) to out, a capped buffer. 0, SL_ENOMEM / SL_E2BIG (the cap). */
int sl_aggtable_save(const struct sl_aggtable *t, struct sl_buf *out);
/* Read what sl_aggtable_save wrote (untrusted input) into t, empty and made with the same
 * aggregates and keys. 0; SL_EPARSE (r->why says why: other aggregates, a bad value, a group
 * twice, a heap out of order...), SL_ELIMIT (past max_groups), SL_ENOMEM. After a failure t
 * holds part of it: free it. */
int sl_aggtable_load(struct sl_aggtable *t, struct sl_binrd *r);

/* Groups held (over all windows). */
uint64_t sl_aggtable_groups(const struct sl_aggtable *t);
/* Open windows. */
uint32_t sl_aggtable_windows(const struct sl_aggtable *t);

#endif
