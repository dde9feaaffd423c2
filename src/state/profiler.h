/*
 * profiler.h — Metron's Profiler: profiles from profiler.json, a builder per (profile, entity)
 * and period, flushed into measurements. Semantics: ../shared/specs/metron.md §3.
 *
 * DESIGN: two objects.
 *   - sl_profiler_def: profiler.json parsed and every expression compiled once (onlyif,
 *     foreach, init, update, groupBy, result.profile, result.triage). Read-only after
 *     parsing, shared by every thread.
 *   - sl_profiler: the builders of one shard. Not thread-safe: the `profiler` transform keeps
 *     one per shard under the shard's lock; the REPL and the conformance runner use one.
 * Routing (onlyif, foreach) needs no builder state, so the caller routes first
 * (sl_profiler_route), picks the shard from (profile, entity), and applies there.
 *
 * Builders follow DefaultProfileBuilder: `init` runs on the first message after each flush
 * (in document order), then `update` (document order, each assignment visible to the next);
 * a null result is not stored; profile variables shadow message fields. Variables survive a
 * flush (METRON-668): the builder of an entity's next period starts from the variables of
 * its previous one. On flush, result.profile then each triage expression see only the
 * profile variables; groupBy sees them plus profile, entity, start, end, duration, result
 * (a profile variable of the same name wins, as with Metron's MapVariableResolver).
 * A null or failing result, triage or groupBy gives no measurement (counted).
 *
 * Periods: id = floor(ts_ms / period_ms) (ts >= 0). A builder exists per (profile, entity,
 * period); several periods of one entity may be open while within the lag. A period closes
 * when the watermark passed to sl_profiler_advance() reaches its end: watermark = max event
 * time seen - lag (event time), or the wall clock - lag (processing time); the caller
 * computes it. A message for a closed period is late: not applied, SL_PROFILER_LATE.
 */
#ifndef SL_STATE_PROFILER_H
#define SL_STATE_PROFILER_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "core/value.h"
#include "lang/stellar.h"
#include "state/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_profiler_def;

/* Parse and compile profiler.json (`{"profiles": [...], "timestampField": "..."}`). `origin`
 * names the text in errors (a file path, "<inline>"). An error sets d with origin, the line
 * and column in the JSON text, the JSON path ("profiles[1].update.count") and, for an
 * expression, the column inside it with a caret. Expression values may be JSON numbers or
 * booleans (Jackson turns {"count": 0} into the source "0"). */
int sl_profiler_def_parse(const char *json, size_t len, const char *origin,
                          struct sl_profiler_def **out, struct sl_diag *d);
void sl_profiler_def_free(struct sl_profiler_def *def);
size_t sl_profiler_def_count(const struct sl_profiler_def *def);
const char *sl_profiler_def_name(const struct sl_profiler_def *def, size_t i);
/* `expires` of profile i in days; 0 when unset. */
double sl_profiler_def_expires_days(const struct sl_profiler_def *def, size_t i);
/* The top-level timestampField, NULL when unset. */
const char *sl_profiler_def_timestamp_field(const struct sl_profiler_def *def);

/* Evaluate profile i's onlyif and foreach against a message. 1: routed, *entity is the
 * foreach result as text (Java toString), built in arena a; 0: onlyif false; < 0: an error
 * (onlyif or foreach failed, or foreach was null), message in *err (static or in a). */
int sl_profiler_route(const struct sl_profiler_def *def, size_t i, struct sl_stellar_vm *vm,
                      const struct sl_stellar_resolver *msg, struct sl_arena *a,
                      struct sl_str *entity, const char **err);

/* The event time of a message as Metron's EventTimeClock reads the timestampField: a
 * Long/Integer as epoch ms, a Double truncated, a numeric string (decimal digits), an event
 * timestamp (SL_V_TS, nanoseconds) in ms. 0, or SL_EINVAL for anything else (Metron drops
 * the message; so does PROFILER_APPLY). Any thread. */
int sl_profiler_timestamp(const struct sl_value *field, int64_t *ts_ms);

struct sl_profiler_opts {
    int64_t period_ms;     /* > 0; 15 minutes when 0 */
    int64_t ttl_ms;        /* forget an entity idle this long (after flushing it); 0: never */
    uint64_t max_entities; /* beyond it flush and evict the least recently used; 0: no bound.
                            * apply has no sink: an evicted entity leaves the table at once and
                            * its open periods are flushed by the next advance/flush_all */
};

struct sl_profiler;
struct sl_profiler *sl_profiler_new(const struct sl_profiler_def *def,
                                    const struct sl_profiler_opts *o);
void sl_profiler_free(struct sl_profiler *p);

#define SL_PROFILER_LATE 1

/* Apply a routed message to the builder of (profile i, entity) for the period of ts_ms; now_ms
 * is the wall clock (idle time for ttl). 0; SL_PROFILER_LATE (period closed: nothing done);
 * < 0 when an init or update expression failed: the assignments before it stand, as in
 * Metron, and *err says which expression failed and why (valid until the next call on p).
 * The entity text is copied. Values the engine keeps are its own copies (objects: its own
 * references). Calls sl_stellar_vm_release(vm) before returning: do not hold unreferenced
 * objects from earlier evaluations of vm across this call. Allocates nothing for an entity
 * already held whose variables are scalars (the counter case). */
int sl_profiler_apply(struct sl_profiler *p, size_t i, struct sl_str entity,
                      struct sl_stellar_vm *vm, const struct sl_stellar_resolver *msg,
                      int64_t ts_ms, int64_t now_ms, const char **err);

/* What a flush produces. Valid during the callback only. */
struct sl_profile_result {
    struct sl_measurement m;
    size_t profile_index;
    struct sl_value triage;        /* map name -> value (null when the profile has no triage) */
    const struct sl_value *groups; /* the groupBy values (m.groups is their text) */
    size_t ngroups;
};
/* Return non-zero to stop (the remaining builders stay open; the measurement passed to that
 * call counts as delivered and its builder is closed). */
typedef int (*sl_profiler_emit_fn)(void *ud, const struct sl_profile_result *r);
/* A failed result/groupBy/triage: which profile, entity, period and why. */
typedef void (*sl_profiler_fail_fn)(void *ud, size_t profile_index, struct sl_str entity,
                                    int64_t period, const char *what, const char *err);

struct sl_profiler_sink {
    sl_profiler_emit_fn emit;
    sl_profiler_fail_fn fail; /* may be NULL */
    void *ud;
};

/* Flush entities evicted for max_entities, close every period whose end <= watermark_ms (the
 * highest watermark seen is remembered: later messages for those periods are late), and
 * (with a ttl) flush then forget entities idle since before now_ms - ttl_ms. Returns the
 * measurements emitted. Calls sl_stellar_vm_release(vm) after each measurement. */
size_t sl_profiler_advance(struct sl_profiler *p, struct sl_stellar_vm *vm, int64_t watermark_ms,
                           int64_t now_ms, const struct sl_profiler_sink *sink);
/* Flush every open builder (shutdown; PROFILER_FLUSH), periods in order per entity. */
size_t sl_profiler_flush_all(struct sl_profiler *p, struct sl_stellar_vm *vm,
                             const struct sl_profiler_sink *sink);

struct sl_profiler_stats {
    uint64_t messages;      /* applied (routes) */
    uint64_t late;          /* refused: period closed */
    uint64_t update_errors; /* init/update failures */
    uint64_t measurements;  /* emitted */
    uint64_t dropped;       /* flushes without a measurement (null/failing result, groupBy) */
    uint64_t evicted;       /* entities flushed early for max_entities */
    uint64_t expired;       /* entities forgotten after ttl */
    uint64_t entities;      /* held now */
    uint64_t open_periods;  /* builders held now */
    uint64_t bytes;         /* memory held by builders and entities (malloc chunk sizes:
                             * matches RSS within 1% for scalar profiles); a sketch object
                             * counts as its reference, its internals are not included */
};
void sl_profiler_get_stats(const struct sl_profiler *p, struct sl_profiler_stats *st);

/* The earliest end among open periods (INT64_MAX when none): when the next close is due. */
int64_t sl_profiler_next_close(const struct sl_profiler *p);

/* The engine's whole state (every entity with its carried variables, every open builder and
 * its variables, the evicted entities waiting for their flush, the watermark) appended to out
 * with the caller's checkpoint k (statecodec.h's primitives; the layout is in profiler.c). 0;
 * SL_ETYPE when a variable holds an object that is not a sketch; SL_ENOMEM/SL_E2BIG from out's cap.
 * The caller holds p. */
struct sl_profiler_ckpt { /* the caller's position, kept with the snapshot */
    int64_t next_offset;  /* first input offset not in the state */
    int64_t max_ts, wm;   /* newest event time and watermark of the input */
};
int sl_profiler_snapshot(const struct sl_profiler *p, const struct sl_profiler_ckpt *k,
                         struct sl_buf *out);
/* Load a snapshot into an engine that holds nothing yet. Profiles and variables match by name;
 * an entity of a profile no longer defined is skipped (*skipped counts them). SL_EPARSE with d
 * for a snapshot that is truncated, inconsistent or out of bounds (it may come from a topic
 * others can write): every length and count is checked before use. On failure p may hold part
 * of the snapshot: free it. */
int sl_profiler_restore(struct sl_profiler *p, const void *data, size_t len,
                        struct sl_profiler_ckpt *k, uint64_t *skipped, struct sl_diag *d);

/* The Stellar functions PROFILER_INIT, PROFILER_APPLY and PROFILER_FLUSH are the table
 * `sl_sfuncs_profiler` in profiler_fns.c, which lang/fn_registry.c refers to weakly. */

#endif
