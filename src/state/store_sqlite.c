/*
 * store_sqlite.c — the `sqlite:PATH` backend of the profile store (store_int.h).
 *
 * DESIGN: one read-write connection, used only by the store's writer thread (commit, expire),
 * with the UPSERT prepared once. Reads run on the caller's thread on connections from a
 * small pool (at most POOL_MAX idle ones kept) guarded by `rlock`: a connection serves one
 * thread at a time (SQLite's multi-thread mode, so no SQLite-internal mutex per call), any
 * number of readers run in parallel while the writer commits (WAL), and steady-state reads
 * neither open files nor re-prepare the lookup statement, which each pooled connection keeps
 * prepared. A connection per call would cost an open plus schema parse (~100 us) per
 * PROFILE_GET; one shared connection would serialise the readers.
 *
 * The file: journal_mode=WAL, synchronous=NORMAL (a power loss may lose the last commits but
 * never corrupts the file), busy_timeout 5 s on every connection. Schema (version 1, checked
 * on open: a newer version is refused), readable with the sqlite3 CLI:
 *
 *   CREATE TABLE sluice_schema (version INTEGER NOT NULL);   -- one row: 1
 *   CREATE TABLE measurements (
 *       profile     TEXT    NOT NULL,
 *       entity      TEXT    NOT NULL,
 *       groups      TEXT    NOT NULL,  -- JSON array of the group values' text, '[]' if none
 *       duration_ms INTEGER NOT NULL,  -- period length
 *       period      INTEGER NOT NULL,  -- floor(start_ms / duration_ms)
 *       start_ms    INTEGER NOT NULL,
 *       end_ms      INTEGER NOT NULL,
 *       vtype       TEXT    NOT NULL,  -- Stellar (Java) type of value (store.c)
 *       value,                         -- INTEGER, REAL, TEXT or BLOB as vtype says
 *       written_ms  INTEGER NOT NULL,  -- wall clock of the commit
 *       PRIMARY KEY (profile, entity, groups, duration_ms, period)) WITHOUT ROWID;
 *   CREATE INDEX measurements_start ON measurements (profile, entity, groups, start_ms);
 *   CREATE INDEX measurements_end   ON measurements (profile, end_ms);
 *
 * The primary key serves PROFILE_GET (a point lookup per period), measurements_start the
 * series of an entity, measurements_end expiry.
 */
#include "state/store_int.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "sys/fdio.h"
#include "sys/thread.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define POOL_MAX       8
#define BUSY_MS        5000

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS sluice_schema (version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS measurements ("
    " profile TEXT NOT NULL, entity TEXT NOT NULL, groups TEXT NOT NULL,"
    " duration_ms INTEGER NOT NULL, period INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
    " vtype TEXT NOT NULL, value, written_ms INTEGER NOT NULL,"
    " PRIMARY KEY (profile, entity, groups, duration_ms, period)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS measurements_start"
    " ON measurements (profile, entity, groups, start_ms);"
    "CREATE INDEX IF NOT EXISTS measurements_end ON measurements (profile, end_ms);";

static const char UPSERT_SQL[] =
    "INSERT INTO measurements (profile, entity, groups, duration_ms, period, start_ms, end_ms,"
    " vtype, value, written_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT (profile, entity, groups, duration_ms, period) DO UPDATE SET"
    " start_ms = excluded.start_ms, end_ms = excluded.end_ms, vtype = excluded.vtype,"
    " value = excluded.value, written_ms = excluded.written_ms";

static const char GET_SQL[] =
    "SELECT vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2 AND groups = ?3"
    " AND duration_ms = ?4 AND period = ?5";

/* Ascending periods that span little more than their count (what PROFILE_FIXED and
 * PROFILE_WINDOW give) are read with one index range scan instead of a lookup each: 96
 * periods of 15 minutes took 227 us as point lookups and take 33 us so (bench/bench_store.c,
 * release build, 10,000 entities, one thread). */
static const char RANGE_SQL[] =
    "SELECT period, vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2"
    " AND groups = ?3 AND duration_ms = ?4 AND period BETWEEN ?5 AND ?6";

struct reader {
    sqlite3 *db;
    sqlite3_stmt *get, *range, *begin, *commit; /* prepared once per connection */
};

struct backend {
    char *path;
    sqlite3 *wdb; /* writer thread only (after open) */
    sqlite3_stmt *upsert;
    struct sl_mutex rlock;
    struct reader *pool[POOL_MAX]; /* guarded_by: rlock */
    size_t npool;                  /* guarded_by: rlock */
};

static void bind_text(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    sqlite3_bind_text(st, i, p ? p : "", (int)n, SQLITE_STATIC);
}

static void bind_str(sqlite3_stmt *st, int i, struct sl_str s)
{
    bind_text(st, i, s.ptr, s.len);
}

static struct sl_str column_str(sqlite3_stmt *st, int i)
{
    const char *p = (const char *)sqlite3_column_text(st, i);
    return sl_str_make(p ? p : "", (size_t)sqlite3_column_bytes(st, i));
}

/* ------------------------------------------------------------------------------------------
 * Open and close
 */

static int open_db(const char *path, int flags, sqlite3 **out, char *why, size_t why_len)
{
    sqlite3 *db = NULL;
    if ((flags & SQLITE_OPEN_CREATE) && strcmp(path, ":memory:") != 0) {
        int mk = sl_fs_mkdir_parents(path); /* sqlite:out/x/profiles.db as a file sink would */
        if (mk) {
            snprintf(why, why_len, "cannot create the directory of %s: %s", path, sl_strerror(mk));
            return SL_EIO;
        }
    }
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    sqlite3_extended_result_codes(db, 1);
    *out = db;
    return SQLITE_OK;
}

/* WAL, synchronous=NORMAL, the schema and its version. */
static int prepare_schema(sqlite3 *db, char *why, size_t why_len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0) {
            snprintf(why, why_len, "cannot switch to WAL mode (journal_mode is %s)",
                     mode ? mode : "?");
            sqlite3_finalize(st);
            return SQLITE_ERROR;
        }
    } else {
        snprintf(why, why_len, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_exec(db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM sluice_schema", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto fail;
    int64_t version = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION) {
        snprintf(why, why_len, "schema version %lld is newer than this sluice's (%d)",
                 (long long)version, SCHEMA_VERSION);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return SQLITE_ERROR;
    }
    if (version == 0 && sqlite3_exec(db, "INSERT INTO sluice_schema (version) VALUES (1)", NULL,
                                     NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return SQLITE_OK;
fail:
    snprintf(why, why_len, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SQLITE_ERROR;
}

static int sq_open(const char *url, const char *target, void **out, struct sl_diag *d)
{
    if (!strncmp(target, "//", 2)) /* sqlite:///abs/path and sqlite://rel */
        target += 2;
    if (!*target)
        return sl_diag_set(d, SL_ECONFIG, "profile store '%s': empty path", url);
    if (!sqlite3_threadsafe())
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store '%s': this SQLite library was built without thread "
                           "support (SQLITE_THREADSAFE=0)",
                           url);
    char why[256] = "";
    sqlite3 *db = NULL;
    if (open_db(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, why, sizeof why) !=
        SQLITE_OK)
        return sl_diag_set(d, SL_EIO, "profile store '%s': cannot open %s: %s", url, target, why);
    if (prepare_schema(db, why, sizeof why) != SQLITE_OK) {
        sqlite3_close(db);
        return sl_diag_set(d, SL_EIO, "profile store '%s': %s: %s", url, target, why);
    }
    sqlite3_stmt *upsert = NULL;
    if (sqlite3_prepare_v3(db, UPSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &upsert, NULL) !=
        SQLITE_OK) {
        int rc = sl_diag_set(d, SL_EIO, "profile store '%s': %s", url, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc;
    }
    struct backend *b = sl_xcalloc(1, sizeof *b);
    b->path = sl_xstrdup(target);
    b->wdb = db;
    b->upsert = upsert;
    sl_mutex_init(&b->rlock);
    *out = b;
    return 0;
}

static void reader_free(struct reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->range);
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_close(r->db);
    sl_free(r);
}

static void sq_close(void *be)
{
    struct backend *b = be;
    for (size_t i = 0; i < b->npool; i++)
        reader_free(b->pool[i]);
    sqlite3_finalize(b->upsert);
    sqlite3_close(b->wdb);
    sl_mutex_fini(&b->rlock);
    sl_free(b->path);
    sl_free(b);
}

/* ------------------------------------------------------------------------------------------
 * Writes (the writer thread)
 */

static int sq_commit(void *be, const struct sl_store__row *rows, size_t n, char *why,
                     size_t why_len)
{
    struct backend *b = be;
    int rc = sqlite3_exec(b->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", sqlite3_errmsg(b->wdb));
        return rc;
    }
    int64_t now_ms = sl_clock_wall_ns() / 1000000;
    sqlite3_stmt *st = b->upsert;
    for (size_t i = 0; i < n; i++) {
        const struct sl_store__row *r = &rows[i];
        const struct sl_store__cell *c = &r->cell;
        sqlite3_reset(st);
        bind_text(st, 1, r->profile, r->profile_len);
        bind_text(st, 2, r->entity, r->entity_len);
        bind_text(st, 3, r->groups, r->groups_len);
        sqlite3_bind_int64(st, 4, r->duration_ms);
        sqlite3_bind_int64(st, 5, r->period);
        sqlite3_bind_int64(st, 6, r->start_ms);
        sqlite3_bind_int64(st, 7, r->end_ms);
        sqlite3_bind_text(st, 8, r->vtype, -1, SQLITE_STATIC);
        switch (c->col) {
        case SL_STORE__NULL:
            sqlite3_bind_null(st, 9);
            break;
        case SL_STORE__INT:
            sqlite3_bind_int64(st, 9, c->i);
            break;
        case SL_STORE__REAL:
            sqlite3_bind_double(st, 9, c->d);
            break;
        case SL_STORE__TEXT:
            bind_text(st, 9, c->p, c->n);
            break;
        case SL_STORE__BLOB:
            sqlite3_bind_blob(st, 9, c->p, (int)c->n, SQLITE_STATIC);
            break;
        }
        sqlite3_bind_int64(st, 10, now_ms);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            goto fail;
    }
    sqlite3_clear_bindings(st);
    rc = sqlite3_exec(b->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    return SQLITE_OK;
fail:
    snprintf(why, why_len, "%s", sqlite3_errmsg(b->wdb)); /* before ROLLBACK resets it */
    sqlite3_clear_bindings(st);
    sqlite3_exec(b->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sq_expire(void *be, const char *profile, size_t profile_len, int64_t before_ms,
                     uint64_t *removed, char *why, size_t why_len)
{
    struct backend *b = be;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        b->wdb, "DELETE FROM measurements WHERE profile = ?1 AND end_ms < ?2", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", sqlite3_errmsg(b->wdb));
        return rc;
    }
    bind_text(st, 1, profile, profile_len);
    sqlite3_bind_int64(st, 2, before_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        *removed = (uint64_t)sqlite3_changes(b->wdb);
        rc = SQLITE_OK;
    } else {
        snprintf(why, why_len, "%s", sqlite3_errmsg(b->wdb));
    }
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Reads (any thread)
 */

static int reader_take(struct backend *b, const char *url, struct reader **out)
{
    sl_mutex_lock(&b->rlock);
    struct reader *r = b->npool ? b->pool[--b->npool] : NULL;
    sl_mutex_unlock(&b->rlock);
    if (r) {
        *out = r;
        return 0;
    }
    r = sl_xcalloc(1, sizeof *r);
    char why[256];
    if (open_db(b->path, SQLITE_OPEN_READONLY, &r->db, why, sizeof why) != SQLITE_OK) {
        sl_warn("store", "%s: cannot open a reader: %s", url, why);
        sl_free(r);
        return SL_EIO;
    }
    const unsigned pp = SQLITE_PREPARE_PERSISTENT;
    if (sqlite3_prepare_v3(r->db, GET_SQL, -1, pp, &r->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(r->db, RANGE_SQL, -1, pp, &r->range, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(r->db, "BEGIN", -1, pp, &r->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(r->db, "COMMIT", -1, pp, &r->commit, NULL) != SQLITE_OK) {
        sl_warn("store", "%s: %s", url, sqlite3_errmsg(r->db));
        reader_free(r);
        return SL_EIO;
    }
    *out = r;
    return 0;
}

static void reader_give(struct backend *b, struct reader *r)
{
    sl_mutex_lock(&b->rlock);
    if (b->npool < POOL_MAX) {
        b->pool[b->npool++] = r;
        r = NULL;
    }
    sl_mutex_unlock(&b->rlock);
    reader_free(r);
}

/* Decode columns i (vtype) and i + 1 (value) of st. */
static int decode(sqlite3_stmt *st, int i, struct sl_arena *a, struct sl_value *out)
{
    const char *vtype = (const char *)sqlite3_column_text(st, i);
    struct sl_store__cell c = {0};
    switch (sqlite3_column_type(st, i + 1)) {
    case SQLITE_INTEGER:
        c.col = SL_STORE__INT;
        c.i = sqlite3_column_int64(st, i + 1);
        break;
    case SQLITE_FLOAT:
        c.col = SL_STORE__REAL;
        c.d = sqlite3_column_double(st, i + 1);
        break;
    case SQLITE_TEXT:
        c.col = SL_STORE__TEXT;
        c.p = (const char *)sqlite3_column_text(st, i + 1);
        c.n = (size_t)sqlite3_column_bytes(st, i + 1);
        break;
    case SQLITE_BLOB:
        c.col = SL_STORE__BLOB;
        c.p = sqlite3_column_blob(st, i + 1);
        c.n = (size_t)sqlite3_column_bytes(st, i + 1);
        break;
    default:
        c.col = SL_STORE__NULL;
        break;
    }
    return sl_store__decode(vtype ? vtype : "null", &c, a, out);
}

static void bind_key(sqlite3_stmt *st, struct sl_str profile, struct sl_str entity,
                     struct sl_str groups, int64_t duration_ms)
{
    bind_str(st, 1, profile);
    bind_str(st, 2, entity);
    bind_str(st, 3, groups);
    sqlite3_bind_int64(st, 4, duration_ms);
}

static void run(sqlite3_stmt *st)
{
    (void)sqlite3_step(st);
    sqlite3_reset(st);
}

static int sq_get(void *be, const char *url, struct sl_str profile, struct sl_str entity,
                  struct sl_str groups, int64_t duration_ms, const int64_t *periods, size_t n,
                  struct sl_arena *a, struct sl_value *values, bool *found)
{
    struct backend *b = be;
    struct reader *r;
    int rc = reader_take(b, url, &r);
    if (rc)
        return rc;
    /* one read transaction: every period from the same snapshot */
    run(r->begin);
    int step = SQLITE_DONE;
    if (sl_store__dense(periods, n)) {
        sqlite3_stmt *st = r->range;
        bind_key(st, profile, entity, groups, duration_ms);
        sqlite3_bind_int64(st, 5, periods[0]);
        sqlite3_bind_int64(st, 6, periods[n - 1]);
        while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t p = sqlite3_column_int64(st, 0);
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (periods[mid] < p)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < n && periods[lo] == p && !found[lo]) {
                rc = decode(st, 1, a, &values[lo]);
                found[lo] = rc == 0;
            }
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_stmt *st = r->get;
        for (size_t i = 0; i < n && !rc && step != SQLITE_ERROR; i++) {
            sqlite3_reset(st);
            bind_key(st, profile, entity, groups, duration_ms);
            sqlite3_bind_int64(st, 5, periods[i]);
            step = sqlite3_step(st);
            if (step == SQLITE_ROW) {
                rc = decode(st, 0, a, &values[i]);
                found[i] = rc == 0;
                step = SQLITE_DONE;
            } else if (step != SQLITE_DONE) {
                step = SQLITE_ERROR;
            }
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (!rc && step != SQLITE_DONE) {
        sl_warn("store", "%s: read failed: %s", url, sqlite3_errmsg(r->db));
        rc = SL_EIO;
    }
    run(r->commit);
    reader_give(b, r);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            sl_store__release(&values[i]);
            found[i] = false;
        }
    }
    return rc;
}

/* Take a reader and prepare sql on it; on failure the reader is given back. */
static int read_prepare(struct backend *b, const char *url, const char *sql, struct reader **r,
                        sqlite3_stmt **st)
{
    int rc = reader_take(b, url, r);
    if (rc)
        return rc;
    *st = NULL;
    if (sqlite3_prepare_v2((*r)->db, sql, -1, st, NULL) != SQLITE_OK) {
        sl_warn("store", "%s: %s", url, sqlite3_errmsg((*r)->db));
        reader_give(b, *r);
        return SL_EIO;
    }
    return 0;
}

static int sq_series(void *be, const char *url, struct sl_str profile, struct sl_str entity,
                     struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                     void *ud)
{
    struct backend *b = be;
    struct reader *r;
    const char *sql =
        groups.ptr ? "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms,"
                     " vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2"
                     " AND start_ms BETWEEN ?3 AND ?4 AND groups = ?5 ORDER BY groups, start_ms"
                   : "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms,"
                     " vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2"
                     " AND start_ms BETWEEN ?3 AND ?4 ORDER BY groups, start_ms";
    sqlite3_stmt *st;
    int rc = read_prepare(b, url, sql, &r, &st);
    if (rc)
        return rc;
    bind_str(st, 1, profile);
    bind_str(st, 2, entity);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    if (groups.ptr)
        bind_str(st, 5, groups.len ? groups : SL_STR("[]"));
    struct sl_arena a;
    sl_arena_init(&a, 4096, SL_STORE__MAX_VALUE_LEN * 2u);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sl_measurement m;
        m.profile = column_str(st, 0);
        m.entity = column_str(st, 1);
        m.groups = column_str(st, 2);
        m.period = sqlite3_column_int64(st, 3);
        m.duration_ms = sqlite3_column_int64(st, 4);
        m.start_ms = sqlite3_column_int64(st, 5);
        m.end_ms = sqlite3_column_int64(st, 6);
        sl_arena_reset(&a);
        rc = decode(st, 7, &a, &m.value);
        if (rc)
            break;
        rc = fn(ud, &m);
        sl_store__release(&m.value);
    }
    if (!rc && step != SQLITE_DONE) {
        sl_warn("store", "%s: read failed: %s", url, sqlite3_errmsg(r->db));
        rc = SL_EIO;
    }
    sl_arena_fini(&a);
    sqlite3_finalize(st);
    reader_give(b, r);
    return rc;
}

static int sq_profiles(void *be, const char *url, sl_store_profile_fn fn, void *ud)
{
    struct backend *b = be;
    struct reader *r;
    sqlite3_stmt *st;
    int rc = read_prepare(b, url,
                          "SELECT profile, count(DISTINCT entity), count(*), min(start_ms),"
                          " max(end_ms) FROM measurements GROUP BY profile ORDER BY profile",
                          &r, &st);
    if (rc)
        return rc;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ud, column_str(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                (uint64_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                sqlite3_column_int64(st, 4));
    if (!rc && step != SQLITE_DONE)
        rc = SL_EIO;
    sqlite3_finalize(st);
    reader_give(b, r);
    return rc;
}

static int sq_entities(void *be, const char *url, struct sl_str profile, sl_store_entity_fn fn,
                       void *ud)
{
    struct backend *b = be;
    struct reader *r;
    sqlite3_stmt *st;
    int rc = read_prepare(b, url,
                          "SELECT entity, count(*), max(end_ms) FROM measurements"
                          " WHERE profile = ?1 GROUP BY entity ORDER BY entity",
                          &r, &st);
    if (rc)
        return rc;
    bind_str(st, 1, profile);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ud, column_str(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 2));
    if (!rc && step != SQLITE_DONE)
        rc = SL_EIO;
    sqlite3_finalize(st);
    reader_give(b, r);
    return rc;
}

const struct sl_store_ops sl_store__sqlite_ops = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .commit = sq_commit,
    .expire = sq_expire,
    .get = sq_get,
    .series = sq_series,
    .profiles = sq_profiles,
    .entities = sq_entities,
};
