/*
 * store_int.h — inside the profile store: the backend vtable and the encoded form of a
 * measurement that store.c hands to a backend (not for use outside src/state/store*.c).
 *
 * DESIGN: store.c owns everything that does not depend on the database: URL dispatch, the
 * job queue and writer thread, retries, statistics, the default store, and the value
 * encoding (a Stellar value becomes a type name plus one native cell: integer, real, text or
 * blob). A backend (store_sqlite.c) only moves encoded rows in and out: commit a batch in one
 * transaction, delete expired rows, and answer the four reads, decoding cells back with
 * sl_store__decode(). store_postgres.c is the second `struct sl_store_ops`.
 */
#ifndef SL_STATE_STORE_INT_H
#define SL_STATE_STORE_INT_H

#include "state/store.h"

#include <stddef.h>
#include <stdint.h>

#define SL_STORE__MAX_VALUE_LEN (64u << 20) /* one encoded value */

enum sl_store__col {
    SL_STORE__NULL,
    SL_STORE__INT,
    SL_STORE__REAL,
    SL_STORE__TEXT,
    SL_STORE__BLOB
};

/* One native cell: what a database column holds. */
struct sl_store__cell {
    enum sl_store__col col;
    int64_t i;
    double d;
    const char *p; /* TEXT (NUL-terminated) / BLOB */
    size_t n;
};

/* An encoded measurement; strings point into the job's memory (NUL-terminated). */
struct sl_store__row {
    const char *profile, *entity, *groups;
    size_t profile_len, entity_len, groups_len;
    int64_t period, duration_ms, start_ms, end_ms;
    const char *vtype; /* static: "Integer", "STATS", ... (docs/profile-store.md) */
    struct sl_store__cell cell;
};

/* Decode a stored (vtype, cell) into a value: strings, lists and maps in arena a, sketches as
 * new objects (refs 1). 0, SL_EPARSE (an unknown type or a corrupt value), SL_ENOMEM. */
int sl_store__decode(const char *vtype, const struct sl_store__cell *c, struct sl_arena *a,
                     struct sl_value *out);

/* Periods that ascend strictly and span at most 4 times their count: read with one range
 * scan instead of a lookup each (both backends). */
bool sl_store__dense(const int64_t *periods, size_t n);
/* Drop a decoded value (a sketch's reference) and make it null. */
void sl_store__release(struct sl_value *v);

struct sl_store_ops {
    const char *scheme; /* "sqlite" */
    /* Open what `target` names (the URL after "scheme:"); the error (with url) in d. */
    int (*open)(const char *url, const char *target, void **be, struct sl_diag *d);
    void (*close)(void *be);
    /* Writer thread only. Commit rows in one transaction (UPSERT), or delete the profile's
     * rows that ended before before_ms. A SQLite-style error code (0: done) with the
     * database's message in why. */
    int (*commit)(void *be, const struct sl_store__row *rows, size_t n, char *why, size_t why_len);
    int (*expire)(void *be, const char *profile, size_t profile_len, int64_t before_ms,
                  uint64_t *removed, char *why, size_t why_len);
    /* Any thread; as the sl_store_* functions of the same names (url for messages). */
    int (*get)(void *be, const char *url, struct sl_str profile, struct sl_str entity,
               struct sl_str groups, int64_t duration_ms, const int64_t *periods, size_t n,
               struct sl_arena *a, struct sl_value *values, bool *found);
    int (*series)(void *be, const char *url, struct sl_str profile, struct sl_str entity,
                  struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                  void *ud);
    int (*profiles)(void *be, const char *url, sl_store_profile_fn fn, void *ud);
    int (*entities)(void *be, const char *url, struct sl_str profile, sl_store_entity_fn fn,
                    void *ud);
};

extern const struct sl_store_ops sl_store__sqlite_ops;
extern const struct sl_store_ops sl_store__postgres_ops; /* postgres:// and postgresql:// */

#endif
