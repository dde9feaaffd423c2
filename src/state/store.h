/*
 * store.h — the profile store: where profiler measurements are kept and read back.
 *
 * DESIGN: one interface, several backends chosen by URL scheme. `sqlite:PATH` is the embedded
 * default (WAL; one writer connection on the store's own writer thread, readers on their own
 * connections); `postgres://...` (store_postgres.c) implements the same vtable for nodes that
 * share one store, without the profiler or the readers changing. Writes are asynchronous:
 * sl_store_put() copies the measurements into a queue and returns; the writer thread commits them
 * in one transaction per call (the profiler calls it once per flush). sl_store_sync() waits until
 * everything put so far is durable. Reads (PROFILE_GET, the HTTP API, `sluice profiles`) run on the
 * caller's thread against the last committed state.
 *
 * A measurement is (profile, entity, groups, period id, period duration, start, end, value).
 * `groups` is the JSON array of the group values' Stellar text (toString), `[]` when the
 * profile has no groupBy: PROFILE_GET(p, e, periods, ['a', 1]) looks up `["a","1"]`, which is
 * how Metron's row key matches groups (by their text). The value keeps its Stellar type:
 * Integer, Long, Float, Double, String, Boolean, null, list and map (JSON), and sketches
 * (STATS, HLLP, BLOOM) in their serialised form, so STATS_* works on what is read back.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SL_STATE_STORE_H
#define SL_STATE_STORE_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_measurement {
    struct sl_str profile;
    struct sl_str entity;
    struct sl_str groups; /* JSON array text, "[]" when none */
    int64_t period;       /* floor(start_ms / duration_ms) */
    int64_t duration_ms;
    int64_t start_ms, end_ms;
    struct sl_value value; /* objects: sketches; lists and maps nest */
};

struct sl_store;

/* Open (creating if needed) the store named by url: "sqlite:PATH" (PATH may be relative), or
 * "postgres://..." / "postgresql://..." (a libpq URI; store_postgres.c: shared by nodes).
 * Errors name the url and the reason in d. */
int sl_store_open(const char *url, struct sl_store **out, struct sl_diag *d);
/* Commits what was put (sl_store_sync), stops the writer, closes. NULL is fine. */
void sl_store_close(struct sl_store *s);
const char *sl_store_url(const struct sl_store *s);

/* Queue n measurements for one transaction (copied: the caller keeps ownership). A later
 * measurement with the same (profile, entity, groups, duration, period) replaces the earlier
 * one. 0, or SL_ENOMEM / SL_ECLOSED, SL_EINVAL (a value holds an object that is not a
 * sketch), SL_E2BIG (one value over 64 MiB encoded, or the call over 1 GiB: split it);
 * nothing is queued then. Failures of the commit itself are logged and counted
 * (sl_store_stats) and retried; they are never silent. */
int sl_store_put(struct sl_store *s, const struct sl_measurement *m, size_t n);
/* Wait until everything put so far is committed (or failed for good). 0 or the error. */
int sl_store_sync(struct sl_store *s);

/* Values of (profile, entity, groups) for each of the n period ids of the given duration, in
 * the order asked; a period without a measurement gives found[i] = false. Strings, lists
 * and maps are built in arena a; sketches are new objects with one reference each (the
 * caller owns them). */
int sl_store_get(struct sl_store *s, struct sl_str profile, struct sl_str entity,
                 struct sl_str groups, int64_t duration_ms, const int64_t *periods, size_t n,
                 struct sl_arena *a, struct sl_value *values, bool *found);

/* Visit measurements of profile/entity (groups: NULL view = any) whose period start lies in
 * [from_ms, to_ms], in (groups, start) order. The measurement and its value are valid during
 * the callback only. A non-zero return from the callback stops the walk and is returned. */
typedef int (*sl_store_visit_fn)(void *ud, const struct sl_measurement *m);
int sl_store_series(struct sl_store *s, struct sl_str profile, struct sl_str entity,
                    struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                    void *ud);

/* Profiles with their number of distinct entities and measurements, by name. */
typedef int (*sl_store_profile_fn)(void *ud, struct sl_str profile, uint64_t entities,
                                   uint64_t measurements, int64_t first_ms, int64_t last_ms);
int sl_store_profiles(struct sl_store *s, sl_store_profile_fn fn, void *ud);
/* Entities of a profile, by name, with their measurement counts. */
typedef int (*sl_store_entity_fn)(void *ud, struct sl_str entity, uint64_t measurements,
                                  int64_t last_ms);
int sl_store_entities(struct sl_store *s, struct sl_str profile, sl_store_entity_fn fn, void *ud);

/* Delete measurements of `profile` whose period ended before before_ms (`expires`). Runs on
 * the writer thread, ordered with puts. Returns the rows removed through *removed (may be
 * NULL) once done. */
int sl_store_expire(struct sl_store *s, struct sl_str profile, int64_t before_ms,
                    uint64_t *removed);

struct sl_store_stats {
    uint64_t puts, rows_written, commits, commit_errors, rows_expired;
    uint64_t queued; /* measurements waiting for the writer */
};
void sl_store_get_stats(struct sl_store *s, struct sl_store_stats *st);

/* The process-wide default store used by PROFILE_GET when a VM has none
 * (sl_stellar_vm_set_store overrides it per VM). Not owned. */
void sl_store_set_default(struct sl_store *s);
struct sl_store *sl_store_default(void);

#endif
