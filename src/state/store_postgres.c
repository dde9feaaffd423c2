/*
 * store_postgres.c — the `postgres://...` backend of the profile store (store_int.h), for
 * nodes that share one store: PROFILE_GET, `sluice profiles` and the API read on any node
 * what any node wrote.
 *
 * DESIGN: the same shape as store_sqlite.c on top of state/sqldb.h: one writer connection
 * (the store's writer thread) that commits a batch as one transaction (COPY into a staging
 * table, then one INSERT ... ON CONFLICT DO UPDATE: see pg_commit),
 * and a small pool of reader connections (at most POOL_MAX idle) with the two lookups
 * prepared on each. A value keeps its Stellar type name in `vtype` and its cell in the one
 * typed column that fits it (PostgreSQL columns have one type each, where SQLite's `value`
 * took any):
 *
 *   CREATE TABLE sluice_schema (version BIGINT NOT NULL);          -- one row: 1
 *   CREATE TABLE measurements (
 *       profile TEXT NOT NULL, entity TEXT NOT NULL, groups TEXT NOT NULL,
 *       duration_ms BIGINT NOT NULL, period BIGINT NOT NULL,
 *       start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
 *       vtype TEXT NOT NULL,
 *       v_int BIGINT, v_real DOUBLE PRECISION, v_text TEXT, v_blob BYTEA,  -- one is set
 *       written_ms BIGINT NOT NULL,
 *       PRIMARY KEY (profile, entity, groups, duration_ms, period));
 *   CREATE INDEX measurements_start ON measurements (profile, entity, groups, start_ms);
 *   CREATE INDEX measurements_end   ON measurements (profile, end_ms);
 *
 * Put the tables in their own schema with the URL's options
 * (postgres://host/db?options=-csearch_path%3Dsluice). Concurrent writers of the same
 * measurement (two nodes flushing one entity) are ordered by PostgreSQL's row lock: the last
 * commit wins, as with SQLite. Text cells must be UTF-8 (sqldb.h says what happens if not).
 */
#include "state/store_int.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "state/sqldb.h"
#include "sys/thread.h"

#include <stdio.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define POOL_MAX       8
#define PG_LOCK        "SELECT pg_advisory_xact_lock(482100867957)"

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS sluice_schema (version BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS measurements ("
    " profile TEXT NOT NULL, entity TEXT NOT NULL, groups TEXT NOT NULL,"
    " duration_ms BIGINT NOT NULL, period BIGINT NOT NULL,"
    " start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, vtype TEXT NOT NULL,"
    " v_int BIGINT, v_real DOUBLE PRECISION, v_text TEXT, v_blob BYTEA,"
    " written_ms BIGINT NOT NULL,"
    " PRIMARY KEY (profile, entity, groups, duration_ms, period));"
    "CREATE INDEX IF NOT EXISTS measurements_start"
    " ON measurements (profile, entity, groups, start_ms);"
    "CREATE INDEX IF NOT EXISTS measurements_end ON measurements (profile, end_ms);";

#define VALUE_COLS "vtype, v_int, v_real, v_text, v_blob"

static const char GET_SQL[] = "SELECT " VALUE_COLS " FROM measurements WHERE profile = ?1"
                              " AND entity = ?2 AND groups = ?3 AND duration_ms = ?4"
                              " AND period = ?5";

/* One index range scan for dense period lists (see store_sqlite.c) */
static const char RANGE_SQL[] = "SELECT period, " VALUE_COLS " FROM measurements"
                                " WHERE profile = ?1 AND entity = ?2 AND groups = ?3"
                                " AND duration_ms = ?4 AND period BETWEEN ?5 AND ?6";

struct reader {
    struct sl_sqldb *db;
    struct sl_sqldb_stmt *get, *range;
};

struct backend {
    char *url;
    struct sl_sqldb *wdb; /* writer thread only (after open) */
    struct sl_mutex rlock;
    struct reader *pool[POOL_MAX]; /* guarded_by: rlock */
    size_t npool;                  /* guarded_by: rlock */
};

static void reader_free(struct reader *r)
{
    if (!r)
        return;
    sl_sqldb_close(r->db); /* finalizes its statements */
    sl_free(r);
}

static int int_row(void *ud, const struct sl_sqldb_row *r)
{
    *(int64_t *)ud = sl_sqldb_col_int(r, 0);
    return 0;
}

static int pg_open(const char *url, const char *target, void **out, struct sl_diag *d)
{
    (void)target; /* sqldb reads the whole url */
    struct sl_sqldb *db = NULL;
    int rc = sl_sqldb_open(url, &db, d);
    if (rc)
        return rc;
    int64_t version = 0;
    /* nodes starting together: one creates the schema, the others wait on the lock */
    if (sl_sqldb_begin(db) || sl_sqldb_exec(db, PG_LOCK) || sl_sqldb_exec(db, SCHEMA_SQL) ||
        sl_sqldb_query_sql(db, "SELECT coalesce(max(version), 0) FROM sluice_schema", NULL, 0,
                           int_row, &version))
        goto fail;
    if (version > SCHEMA_VERSION) {
        sl_sqldb_rollback(db);
        rc = sl_diag_set(d, SL_EIO,
                         "profile store '%s': schema version %lld is newer than this sluice's (%d)",
                         sl_sqldb_name(db), (long long)version, SCHEMA_VERSION);
        sl_sqldb_close(db);
        return rc;
    }
    if ((version == 0 && sl_sqldb_exec(db, "INSERT INTO sluice_schema (version) VALUES (1)")) ||
        sl_sqldb_commit(db))
        goto fail;
    struct backend *b = sl_xcalloc(1, sizeof *b);
    b->url = sl_xstrdup(url);
    b->wdb = db;
    sl_mutex_init(&b->rlock);
    *out = b;
    return 0;
fail:
    rc = sl_diag_set(d, SL_EIO, "profile store '%s': %s", sl_sqldb_name(db), sl_sqldb_errmsg(db));
    sl_sqldb_rollback(db);
    sl_sqldb_close(db);
    return rc;
}

static void pg_close(void *be)
{
    struct backend *b = be;
    for (size_t i = 0; i < b->npool; i++)
        reader_free(b->pool[i]);
    sl_sqldb_close(b->wdb);
    sl_mutex_fini(&b->rlock);
    sl_free(b->url);
    sl_free(b);
}

/* ------------------------------------------------------------------------------------------
 * Writes (the writer thread)
 */

/* A batch goes in with COPY into a session-private staging table, then one INSERT ... SELECT
 * moves it over (the last row of each key wins, as sl_store_put promises): 4x the rate of
 * pipelined UPSERTs (docs/profile-store.md). */
static const char STAGE_SQL[] =
    "CREATE TEMP TABLE IF NOT EXISTS sl_measurements_in (seq BIGINT, profile TEXT,"
    " entity TEXT, groups TEXT, duration_ms BIGINT, period BIGINT, start_ms BIGINT,"
    " end_ms BIGINT, vtype TEXT, v_int BIGINT, v_real DOUBLE PRECISION, v_text TEXT,"
    " v_blob BYTEA, written_ms BIGINT) ON COMMIT DELETE ROWS";

static const char MOVE_SQL[] =
    "INSERT INTO measurements (profile, entity, groups, duration_ms, period, start_ms, end_ms,"
    " vtype, v_int, v_real, v_text, v_blob, written_ms)"
    " SELECT DISTINCT ON (profile, entity, groups, duration_ms, period) profile, entity,"
    " groups, duration_ms, period, start_ms, end_ms, vtype, v_int, v_real, v_text, v_blob,"
    " written_ms FROM sl_measurements_in"
    " ORDER BY profile, entity, groups, duration_ms, period, seq DESC"
    " ON CONFLICT (profile, entity, groups, duration_ms, period) DO UPDATE SET"
    " start_ms = excluded.start_ms, end_ms = excluded.end_ms, vtype = excluded.vtype,"
    " v_int = excluded.v_int, v_real = excluded.v_real, v_text = excluded.v_text,"
    " v_blob = excluded.v_blob, written_ms = excluded.written_ms";

static int pg_commit(void *be, const struct sl_store__row *rows, size_t n, char *why,
                     size_t why_len)
{
    struct backend *b = be;
    int64_t now_ms = sl_clock_wall_ns() / 1000000;
    int rc = sl_sqldb_begin(b->wdb);
    if (!rc)
        rc = sl_sqldb_exec(b->wdb, STAGE_SQL);
    if (!rc)
        rc = sl_sqldb_copy_start(b->wdb, "COPY sl_measurements_in FROM STDIN");
    for (size_t i = 0; !rc && i < n; i++) {
        const struct sl_store__row *r = &rows[i];
        const struct sl_store__cell *c = &r->cell;
        struct sl_sqldb_param p[14] = {
            SL_SQLDB_I((int64_t)i),
            {.type = SL_SQLDB_TEXT, .p = r->profile, .n = r->profile_len},
            {.type = SL_SQLDB_TEXT, .p = r->entity, .n = r->entity_len},
            {.type = SL_SQLDB_TEXT, .p = r->groups, .n = r->groups_len},
            SL_SQLDB_I(r->duration_ms),
            SL_SQLDB_I(r->period),
            SL_SQLDB_I(r->start_ms),
            SL_SQLDB_I(r->end_ms),
            {.type = SL_SQLDB_TEXT, .p = r->vtype, .n = strlen(r->vtype)},
            SL_SQLDB_NUL,
            SL_SQLDB_NUL,
            SL_SQLDB_NUL,
            SL_SQLDB_NUL,
            SL_SQLDB_I(now_ms)};
        switch (c->col) {
        case SL_STORE__NULL:
            break;
        case SL_STORE__INT:
            p[9] = SL_SQLDB_I(c->i);
            break;
        case SL_STORE__REAL:
            p[10] = (struct sl_sqldb_param){.type = SL_SQLDB_REAL, .d = c->d};
            break;
        case SL_STORE__TEXT:
            p[11] = (struct sl_sqldb_param){.type = SL_SQLDB_TEXT, .p = c->p, .n = c->n};
            break;
        case SL_STORE__BLOB:
            p[12] = (struct sl_sqldb_param){.type = SL_SQLDB_BLOB, .p = c->p, .n = c->n};
            break;
        }
        rc = sl_sqldb_copy_row(b->wdb, p, 14);
    }
    if (!rc)
        rc = sl_sqldb_copy_end(b->wdb);
    else
        (void)sl_sqldb_copy_end(b->wdb);
    if (!rc)
        rc = sl_sqldb_run_sql(b->wdb, MOVE_SQL, NULL, 0, NULL);
    if (!rc)
        rc = sl_sqldb_commit(b->wdb);
    else
        sl_sqldb_rollback(b->wdb);
    if (rc) {
        snprintf(why, why_len, "%s", sl_sqldb_errmsg(b->wdb));
        return 1;
    }
    return 0;
}

static int pg_expire(void *be, const char *profile, size_t profile_len, int64_t before_ms,
                     uint64_t *removed, char *why, size_t why_len)
{
    struct backend *b = be;
    struct sl_sqldb_param p[2] = {{.type = SL_SQLDB_TEXT, .p = profile, .n = profile_len},
                                  SL_SQLDB_I(before_ms)};
    if (sl_sqldb_run_sql(b->wdb, "DELETE FROM measurements WHERE profile = ?1 AND end_ms < ?2", p,
                         2, removed)) {
        snprintf(why, why_len, "%s", sl_sqldb_errmsg(b->wdb));
        return 1;
    }
    return 0;
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
    struct sl_diag d = {0};
    if (sl_sqldb_open(b->url, &r->db, &d)) {
        sl_warn("store", "%s: cannot open a reader: %s", url, d.msg);
        sl_free(r);
        return SL_EIO;
    }
    if (sl_sqldb_prepare(r->db, GET_SQL, &r->get) ||
        sl_sqldb_prepare(r->db, RANGE_SQL, &r->range)) {
        sl_warn("store", "%s: %s", url, sl_sqldb_errmsg(r->db));
        reader_free(r);
        return SL_EIO;
    }
    *out = r;
    return 0;
}

/* A reader whose last call failed is closed rather than pooled (its connection may be
 * gone: the next take opens a new one). */
static void reader_give(struct backend *b, struct reader *r, bool failed)
{
    if (!failed) {
        sl_mutex_lock(&b->rlock);
        if (b->npool < POOL_MAX) {
            b->pool[b->npool++] = r;
            r = NULL;
        }
        sl_mutex_unlock(&b->rlock);
    }
    reader_free(r);
}

/* Decode columns i (vtype) .. i + 4 (v_blob). */
static int decode(const struct sl_sqldb_row *r, int i, struct sl_arena *a, struct sl_value *out)
{
    struct sl_str vt = sl_sqldb_col_text(r, i);
    char vtype[64];
    snprintf(vtype, sizeof vtype, "%.*s", (int)vt.len, vt.ptr);
    struct sl_store__cell c = {.col = SL_STORE__NULL};
    if (!sl_sqldb_col_null(r, i + 1)) {
        c.col = SL_STORE__INT;
        c.i = sl_sqldb_col_int(r, i + 1);
    } else if (!sl_sqldb_col_null(r, i + 2)) {
        c.col = SL_STORE__REAL;
        c.d = sl_sqldb_col_real(r, i + 2);
    } else if (!sl_sqldb_col_null(r, i + 3)) {
        struct sl_str t = sl_sqldb_col_text(r, i + 3);
        c.col = SL_STORE__TEXT;
        c.p = t.ptr;
        c.n = t.len;
    } else if (!sl_sqldb_col_null(r, i + 4)) {
        struct sl_str t = sl_sqldb_col_blob(r, i + 4);
        c.col = SL_STORE__BLOB;
        c.p = t.ptr;
        c.n = t.len;
    }
    return sl_store__decode(vtype, &c, a, out);
}

struct get_walk {
    const int64_t *periods;
    size_t n, at; /* at: the point lookup's index */
    struct sl_arena *a;
    struct sl_value *values;
    bool *found;
    bool range;
};

static int get_row(void *ud, const struct sl_sqldb_row *r)
{
    struct get_walk *w = ud;
    size_t k = w->at;
    if (w->range) {
        int64_t p = sl_sqldb_col_int(r, 0);
        size_t lo = 0, hi = w->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (w->periods[mid] < p)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= w->n || w->periods[lo] != p || w->found[lo])
            return 0;
        k = lo;
    }
    int rc = decode(r, w->range ? 1 : 0, w->a, &w->values[k]);
    w->found[k] = rc == 0;
    return rc;
}

static int pg_get(void *be, const char *url, struct sl_str profile, struct sl_str entity,
                  struct sl_str groups, int64_t duration_ms, const int64_t *periods, size_t n,
                  struct sl_arena *a, struct sl_value *values, bool *found)
{
    struct backend *b = be;
    struct reader *r;
    int rc = reader_take(b, url, &r);
    if (rc)
        return rc;
    struct sl_sqldb_param p[6] = {SL_SQLDB_S(profile), SL_SQLDB_S(entity), SL_SQLDB_S(groups),
                                  SL_SQLDB_I(duration_ms)};
    struct get_walk w = {periods, n, 0, a, values, found, sl_store__dense(periods, n)};
    if (w.range) {
        p[4] = SL_SQLDB_I(periods[0]);
        p[5] = SL_SQLDB_I(periods[n - 1]);
        rc = sl_sqldb_query(r->range, p, 6, get_row, &w);
    } else {
        /* READ COMMITTED: each lookup sees the latest commit (SQLite reads one snapshot) */
        for (size_t i = 0; i < n && !rc; i++) {
            w.at = i;
            p[4] = SL_SQLDB_I(periods[i]);
            rc = sl_sqldb_query(r->get, p, 5, get_row, &w);
        }
    }
    if (rc == SL_EIO)
        sl_warn("store", "%s: read failed: %s", url, sl_sqldb_errmsg(r->db));
    reader_give(b, r, rc == SL_EIO);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            sl_store__release(&values[i]);
            found[i] = false;
        }
    }
    return rc;
}

struct series_walk {
    struct sl_arena a;
    sl_store_visit_fn fn;
    void *ud;
};

static int series_row(void *ud, const struct sl_sqldb_row *r)
{
    struct series_walk *w = ud;
    struct sl_measurement m;
    m.profile = sl_sqldb_col_text(r, 0);
    m.entity = sl_sqldb_col_text(r, 1);
    m.groups = sl_sqldb_col_text(r, 2);
    m.period = sl_sqldb_col_int(r, 3);
    m.duration_ms = sl_sqldb_col_int(r, 4);
    m.start_ms = sl_sqldb_col_int(r, 5);
    m.end_ms = sl_sqldb_col_int(r, 6);
    sl_arena_reset(&w->a);
    int rc = decode(r, 7, &w->a, &m.value);
    if (rc)
        return rc;
    rc = w->fn(w->ud, &m);
    sl_store__release(&m.value);
    return rc;
}

static int pg_series(void *be, const char *url, struct sl_str profile, struct sl_str entity,
                     struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                     void *ud)
{
    struct backend *b = be;
    struct reader *r;
    int rc = reader_take(b, url, &r);
    if (rc)
        return rc;
    const char *sql =
        groups.ptr
            ? "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms, " VALUE_COLS
              " FROM measurements WHERE profile = ?1 AND entity = ?2"
              " AND start_ms BETWEEN ?3 AND ?4 AND groups = ?5 ORDER BY groups, start_ms"
            : "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms, " VALUE_COLS
              " FROM measurements WHERE profile = ?1 AND entity = ?2"
              " AND start_ms BETWEEN ?3 AND ?4 ORDER BY groups, start_ms";
    struct sl_sqldb_param p[5] = {SL_SQLDB_S(profile), SL_SQLDB_S(entity), SL_SQLDB_I(from_ms),
                                  SL_SQLDB_I(to_ms),
                                  SL_SQLDB_S(groups.len ? groups : sl_str_c("[]"))};
    struct series_walk w = {.fn = fn, .ud = ud};
    sl_arena_init(&w.a, 4096, SL_STORE__MAX_VALUE_LEN * 2u);
    rc = sl_sqldb_query_sql(r->db, sql, p, groups.ptr ? 5 : 4, series_row, &w);
    sl_arena_fini(&w.a);
    if (rc == SL_EIO)
        sl_warn("store", "%s: read failed: %s", url, sl_sqldb_errmsg(r->db));
    reader_give(b, r, rc == SL_EIO);
    return rc;
}

struct list_walk {
    sl_store_profile_fn pfn;
    sl_store_entity_fn efn;
    void *ud;
};

static int profile_row(void *ud, const struct sl_sqldb_row *r)
{
    struct list_walk *w = ud;
    return w->pfn(w->ud, sl_sqldb_col_text(r, 0), (uint64_t)sl_sqldb_col_int(r, 1),
                  (uint64_t)sl_sqldb_col_int(r, 2), sl_sqldb_col_int(r, 3), sl_sqldb_col_int(r, 4));
}

static int entity_row(void *ud, const struct sl_sqldb_row *r)
{
    struct list_walk *w = ud;
    return w->efn(w->ud, sl_sqldb_col_text(r, 0), (uint64_t)sl_sqldb_col_int(r, 1),
                  sl_sqldb_col_int(r, 2));
}

static int pg_profiles(void *be, const char *url, sl_store_profile_fn fn, void *ud)
{
    struct backend *b = be;
    struct reader *r;
    int rc = reader_take(b, url, &r);
    if (rc)
        return rc;
    struct list_walk w = {.pfn = fn, .ud = ud};
    rc = sl_sqldb_query_sql(r->db,
                            "SELECT profile, count(DISTINCT entity), count(*), min(start_ms),"
                            " max(end_ms) FROM measurements GROUP BY profile ORDER BY profile",
                            NULL, 0, profile_row, &w);
    if (rc == SL_EIO)
        sl_warn("store", "%s: read failed: %s", url, sl_sqldb_errmsg(r->db));
    reader_give(b, r, rc == SL_EIO);
    return rc;
}

static int pg_entities(void *be, const char *url, struct sl_str profile, sl_store_entity_fn fn,
                       void *ud)
{
    struct backend *b = be;
    struct reader *r;
    int rc = reader_take(b, url, &r);
    if (rc)
        return rc;
    struct list_walk w = {.efn = fn, .ud = ud};
    struct sl_sqldb_param p = SL_SQLDB_S(profile);
    rc = sl_sqldb_query_sql(r->db,
                            "SELECT entity, count(*), max(end_ms) FROM measurements"
                            " WHERE profile = ?1 GROUP BY entity ORDER BY entity",
                            &p, 1, entity_row, &w);
    if (rc == SL_EIO)
        sl_warn("store", "%s: read failed: %s", url, sl_sqldb_errmsg(r->db));
    reader_give(b, r, rc == SL_EIO);
    return rc;
}

const struct sl_store_ops sl_store__postgres_ops = {
    .scheme = "postgres",
    .open = pg_open,
    .close = pg_close,
    .commit = pg_commit,
    .expire = pg_expire,
    .get = pg_get,
    .series = pg_series,
    .profiles = pg_profiles,
    .entities = pg_entities,
};
