/*
 * sql_state.h — checkpoints of a SQL engine's state: the binary form of its tables'
 * latest rows and of its queries' windows and aggregates, and their reload into an engine
 * that runs the same statements (docs/sql.md "Scale-out and restart state").
 *
 * DESIGN: the host (xf_sql.c) keeps one engine per input partition and writes its checkpoint
 * to a changelog topic; the node that takes the partition over makes a new engine from the
 * same statements and loads it. Tables are matched by name and queries by id (ids follow the
 * order statements run, identical on every node running the same pipeline file). Join state is
 * saved too: stream–stream buffers with their pending outer rows, table–table results.
 *
 * A checkpoint is read from a topic anyone with access to the cluster can write: every length
 * and count is checked against what is left of the input before anything is allocated, nesting
 * is bounded, window bounds, aggregate states and row shapes are checked against the query's
 * plan; a bad checkpoint is SL_EPARSE with the byte offset and reason in d, never a crash.
 * Pure functions: no I/O; the caller serialises calls on one engine.
 */
#ifndef SL_SQL_SQL_STATE_H
#define SL_SQL_SQL_STATE_H

#include "base/buf.h"
#include "base/err.h"
#include "core/partstate.h"
#include "sql/sql_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SQL_STATE_VERSION 3u

/* Append e's state to out (a capped buffer), with the input offsets it includes (the host's:
 * one per input topic of its task; none for a state of no kafka input). *partial (may be NULL) is
 * set when a query holds state that is not saved (join buffers). 0, SL_ENOMEM / SL_E2BIG (the
 * buffer's cap), or SL_EINVAL when an aggregate's state cannot be saved (COUNT_DISTINCT, TOPK,
 * COLLECT_*, LATEST/EARLIEST_BY_OFFSET: d names it). */
int sl_sql_state_save(struct sl_sql_engine *e, const struct sl_partstate_offset *offs,
                      uint32_t noffs, struct sl_buf *out, bool *partial, struct sl_diag *d);

/* Load a checkpoint into e, which must run the same statements and hold no state yet. Returns
 * 0 with its input offsets in *offs (one allocation, names inside it, for sl_free; NULL when
 * *noffs is 0), or SL_EPARSE (d: byte offset and reason), SL_E2BIG (beyond
 * max_state_bytes), SL_ENOMEM. After a failure e holds part of the state: free it. */
int sl_sql_state_load(struct sl_sql_engine *e, const void *p, size_t n,
                      struct sl_partstate_offset **offs, uint32_t *noffs, struct sl_diag *d);

/* True when a persistent query of e joins two sources: with one engine per task (partition p
 * of the co-partitioned input topics), both sides meet only when their topics are
 * co-partitioned (xf_sql.c says so). */
bool sl_sql_state_has_joins(struct sl_sql_engine *e);

#endif
