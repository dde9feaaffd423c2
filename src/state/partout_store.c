/*
 * partout_store.c — the Partout master's SQLite store with hourly, daily and weekly roll-ups
 * (partout_store.h; docs/partout.md "Store and roll-ups").
 *
 * DESIGN: one connection, guarded by `dblock`, serves the writer thread (commits, roll-ups,
 * expiry) and the readers (the API, `sluice partout`): reads are rare and short, so a reader
 * pool as the profile store keeps (store_sqlite.c) would buy nothing here. An accepted
 * aggregate is packed into the `pending` buffer under `plock` (one memcpy per key, no
 * allocation per leaf); the writer swaps the buffer out while holding `dblock` and commits it
 * in one transaction, so a flush that takes `dblock` after it sees everything put before it.
 *
 * Stamps are monotonic: an aggregate is stamped max(clock, highest time seen), and roll-ups
 * use the same, so no row can arrive in a bucket that was already rolled up (a wall clock
 * stepping back would otherwise make a late raw row miss its hour). Each roll-up reads the
 * rows of the finer tier that are not yet `rolled` and whose bucket is complete, adds them
 * into the coarser tier (UPSERT count = count + ...), and marks them rolled, in one
 * transaction: every count is carried up exactly once, so totals are conserved. Expiry only
 * deletes rows that were rolled (weeks: by age alone).
 *
 * Schema (version 1), readable with the sqlite3 CLI:
 *   partout_agents (agent PRIMARY KEY, hostname, first_ms, last_ms, aggregates, count,
 *                   period_secs, level, told_period_secs)
 *   partout_raw    (at_ms, agent, module, object, msg, severity, detail, count, period_secs,
 *                   rolled)                     -- one row per leaf count
 *   partout_rollup (tier 0 hour / 1 day / 2 week, bucket_ms, agent, module, object, msg,
 *                   severity, detail, count, rolled)
 * Keys absent from a leaf (above its depth) are stored as ''.
 */
#include "state/partout_store.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "sys/fdio.h"
#include "sys/thread.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA_VERSION   1
#define BUSY_MS          5000
#define MAX_SERIES_ROWS  100000
#define DEFAULT_FLUSH_MS 1000
#define DEFAULT_BATCH    4096
#define DEFAULT_PENDING  ((uint64_t)64 << 20)
#define MONDAY_OFFSET_MS (4 * SL_PARTOUT_DAY_MS) /* 1970-01-05 was a Monday */

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS partout_schema (version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS partout_agents (agent TEXT PRIMARY KEY, hostname TEXT,"
    " first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, aggregates INTEGER NOT NULL,"
    " count INTEGER NOT NULL, period_secs INTEGER, level INTEGER, told_period_secs INTEGER);"
    "CREATE TABLE IF NOT EXISTS partout_raw (at_ms INTEGER NOT NULL, agent TEXT NOT NULL,"
    " module TEXT NOT NULL, object TEXT NOT NULL, msg TEXT NOT NULL, severity TEXT NOT NULL,"
    " detail INTEGER NOT NULL, count INTEGER NOT NULL, period_secs INTEGER,"
    " rolled INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS partout_raw_agent ON partout_raw (agent, at_ms);"
    "CREATE INDEX IF NOT EXISTS partout_raw_roll ON partout_raw (rolled, at_ms);"
    "CREATE TABLE IF NOT EXISTS partout_rollup (tier INTEGER NOT NULL,"
    " bucket_ms INTEGER NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL,"
    " object TEXT NOT NULL, msg TEXT NOT NULL, severity TEXT NOT NULL, detail INTEGER NOT NULL,"
    " count INTEGER NOT NULL, rolled INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tier, agent, bucket_ms, module, object, msg, severity, detail))"
    " WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS partout_rollup_roll ON partout_rollup (tier, rolled, bucket_ms);";

static const char AGENT_SQL[] =
    "INSERT INTO partout_agents (agent, hostname, first_ms, last_ms, aggregates, count,"
    " period_secs, level, told_period_secs) VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (agent) DO UPDATE SET"
    " hostname = coalesce(excluded.hostname, hostname),"
    " first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms),"
    " aggregates = aggregates + 1, count = count + excluded.count,"
    " period_secs = excluded.period_secs, level = excluded.level,"
    " told_period_secs = excluded.told_period_secs";

static const char RAW_SQL[] =
    "INSERT INTO partout_raw (at_ms, agent, module, object, msg, severity, detail, count,"
    " period_secs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define UPSERT_ROLLUP                                                                              \
    " ON CONFLICT (tier, agent, bucket_ms, module, object, msg, severity, detail)"                 \
    " DO UPDATE SET count = count + excluded.count"

/* ?1: the end (exclusive) of the last complete bucket of the target tier */
static const char ROLL_SQL[3][2][512] = {
    {"INSERT INTO partout_rollup (tier, bucket_ms, agent, module, object, msg, severity, detail,"
     " count) SELECT 0, (at_ms / 3600000) * 3600000, agent, module, object, msg, severity, detail,"
     " sum(count) FROM partout_raw WHERE rolled = 0 AND at_ms < ?1"
     " GROUP BY 2, 3, 4, 5, 6, 7, 8" UPSERT_ROLLUP,
     "UPDATE partout_raw SET rolled = 1 WHERE rolled = 0 AND at_ms < ?1"},
    {"INSERT INTO partout_rollup (tier, bucket_ms, agent, module, object, msg, severity, detail,"
     " count) SELECT 1, (bucket_ms / 86400000) * 86400000, agent, module, object, msg, severity,"
     " detail, sum(count) FROM partout_rollup WHERE tier = 0 AND rolled = 0 AND bucket_ms < ?1"
     " GROUP BY 2, 3, 4, 5, 6, 7, 8" UPSERT_ROLLUP,
     "UPDATE partout_rollup SET rolled = 1 WHERE tier = 0 AND rolled = 0 AND bucket_ms < ?1"},
    {"INSERT INTO partout_rollup (tier, bucket_ms, agent, module, object, msg, severity, detail,"
     " count) SELECT 2, ((bucket_ms - 345600000) / 604800000) * 604800000 + 345600000, agent,"
     " module, object, msg, severity, detail, sum(count) FROM partout_rollup"
     " WHERE tier = 1 AND rolled = 0 AND bucket_ms < ?1 GROUP BY 2, 3, 4, 5, 6, 7, 8" UPSERT_ROLLUP,
     "UPDATE partout_rollup SET rolled = 1 WHERE tier = 1 AND rolled = 0 AND bucket_ms < ?1"},
};

static const char SERIES_SQL[] =
    "SELECT at, tier, m, o, g, sv, sum(count) FROM ("
    " SELECT at_ms AS at, -1 AS tier,"
    " CASE WHEN ?2 >= 2 THEN module ELSE '' END AS m,"
    " CASE WHEN ?2 >= 3 THEN object ELSE '' END AS o,"
    " CASE WHEN ?2 >= 4 THEN msg ELSE '' END AS g,"
    " CASE WHEN ?2 >= 4 THEN severity ELSE '' END AS sv, count"
    " FROM partout_raw WHERE agent = ?1 AND at_ms >= ?5 AND at_ms >= ?3 AND at_ms <= ?4"
    " UNION ALL"
    " SELECT bucket_ms, tier,"
    " CASE WHEN ?2 >= 2 THEN module ELSE '' END,"
    " CASE WHEN ?2 >= 3 THEN object ELSE '' END,"
    " CASE WHEN ?2 >= 4 THEN msg ELSE '' END,"
    " CASE WHEN ?2 >= 4 THEN severity ELSE '' END, count"
    " FROM partout_rollup WHERE agent = ?1 AND bucket_ms >= ?3 AND bucket_ms <= ?4 AND ("
    " (tier = 0 AND bucket_ms >= ?6 AND bucket_ms < ?5) OR"
    " (tier = 1 AND bucket_ms >= ?7 AND bucket_ms < ?6) OR"
    " (tier = 2 AND bucket_ms < ?7)))"
    " GROUP BY at, tier, m, o, g, sv ORDER BY at, m, o, g, sv";

struct sl_partout_store {
    char *path;
    struct sl_partout_store_opts o;
    struct sl_mutex dblock;
    sqlite3 *db;             /* guarded_by: dblock */
    sqlite3_stmt *agent_st;  /* guarded_by: dblock */
    sqlite3_stmt *raw_st;    /* guarded_by: dblock */
    int64_t maintained_hour; /* guarded_by: dblock: hour of the last roll-up */
    struct sl_mutex plock;
    struct sl_cond wake;
    struct sl_buf pending;            /* guarded_by: plock: packed aggregates */
    struct sl_buf spare;              /* guarded_by: dblock: the writer's buffer */
    uint32_t pending_leaves;          /* guarded_by: plock */
    int64_t high_ms;                  /* guarded_by: plock: highest time seen */
    bool stop;                        /* guarded_by: plock */
    struct sl_partout_store_stats st; /* guarded_by: plock */
    struct sl_thread writer;
};

static _Atomic(struct sl_partout_store *) default_store;

void sl_partout_store_set_default(struct sl_partout_store *s)
{
    atomic_store_explicit(&default_store, s, memory_order_release);
}

struct sl_partout_store *sl_partout_store_default(void)
{
    return atomic_load_explicit(&default_store, memory_order_acquire);
}

int64_t sl_partout_bucket_start(int tier, int64_t t)
{
    int64_t w = tier == SL_PARTOUT_HOUR  ? SL_PARTOUT_HOUR_MS
                : tier == SL_PARTOUT_DAY ? SL_PARTOUT_DAY_MS
                                         : SL_PARTOUT_WEEK_MS;
    int64_t off = tier == SL_PARTOUT_WEEK ? MONDAY_OFFSET_MS : 0;
    int64_t x = t - off;
    int64_t q = x / w;
    if (x % w < 0)
        q--;
    return q * w + off;
}

static int64_t ceil_to(int tier, int64_t t)
{
    int64_t b = sl_partout_bucket_start(tier, t);
    if (b == t)
        return t;
    return b + (tier == SL_PARTOUT_DAY ? SL_PARTOUT_DAY_MS : SL_PARTOUT_WEEK_MS);
}

static int64_t clock_read(struct sl_partout_store *s)
{
    if (s->o.clock_ms)
        return s->o.clock_ms(s->o.clock_ud);
    return sl_clock_wall_ns() / 1000000;
}

/* max(clock, highest seen): monotonic (see DESIGN). */
static int64_t stamp(struct sl_partout_store *s)
{
    int64_t now = clock_read(s);
    sl_mutex_lock(&s->plock);
    if (now < s->high_ms)
        now = s->high_ms;
    s->high_ms = now;
    sl_mutex_unlock(&s->plock);
    return now;
}

/* ------------------------------------------------------------------------------------------
 * The packed pending form: per aggregate i64 at, period, told_level, told_period, total,
 * nleaves; str agent, hostname; per leaf i64 depth, count; str module, object, msg,
 * severity. str = u32 length + bytes (length UINT32_MAX: absent).
 */

static void put_i64(struct sl_buf *b, int64_t v)
{
    sl_buf_append(b, &v, sizeof v);
}

static void put_s(struct sl_buf *b, struct sl_str v)
{
    uint32_t n = v.ptr ? (uint32_t)v.len : UINT32_MAX;
    sl_buf_append(b, &n, sizeof n);
    if (v.ptr && v.len)
        sl_buf_append(b, v.ptr, v.len);
}

struct reader {
    const char *p, *end;
};

static int64_t get_i64(struct reader *r)
{
    int64_t v;
    memcpy(&v, r->p, sizeof v);
    r->p += sizeof v;
    return v;
}

static struct sl_str get_s(struct reader *r)
{
    uint32_t n;
    memcpy(&n, r->p, sizeof n);
    r->p += sizeof n;
    if (n == UINT32_MAX)
        return sl_str_make(NULL, 0);
    struct sl_str v = sl_str_make(r->p, n);
    r->p += n;
    return v;
}

static void bind_s(sqlite3_stmt *st, int i, struct sl_str v, bool null_if_absent)
{
    if (!v.ptr && null_if_absent)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v.ptr ? v.ptr : "", (int)v.len, SQLITE_STATIC);
}

static int exec(struct sl_partout_store *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        sl_warn("partout-store", "%s: %s", s->path, err ? err : "?");
        sqlite3_free(err);
        return SL_EIO;
    }
    return 0;
}

static int step_done(struct sl_partout_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        sl_warn("partout-store", "%s: %s", s->path, sqlite3_errmsg(s->db));
        return SL_EIO;
    }
    return 0;
}

/* dblock held. One transaction for all aggregates in b. */
static int commit_packed(struct sl_partout_store *s, const struct sl_buf *b, uint64_t *naggs,
                         uint64_t *nleaves)
{
    if (!b->len)
        return 0;
    if (exec(s, "BEGIN IMMEDIATE"))
        return SL_EIO;
    struct reader r = {b->ptr, b->ptr + b->len};
    int rc = 0;
    while (!rc && r.p < r.end) {
        int64_t at = get_i64(&r), period = get_i64(&r), level = get_i64(&r);
        int64_t told = get_i64(&r), total = get_i64(&r), nl = get_i64(&r);
        struct sl_str agent = get_s(&r), host = get_s(&r);
        sqlite3_stmt *a = s->agent_st;
        bind_s(a, 1, agent, false);
        bind_s(a, 2, host, true);
        sqlite3_bind_int64(a, 3, at);
        sqlite3_bind_int64(a, 4, total);
        sqlite3_bind_int64(a, 5, period);
        sqlite3_bind_int64(a, 6, level);
        sqlite3_bind_int64(a, 7, told);
        rc = step_done(s, a);
        for (int64_t i = 0; !rc && i < nl; i++) {
            int64_t depth = get_i64(&r), count = get_i64(&r);
            struct sl_str m = get_s(&r), o = get_s(&r), g = get_s(&r), sv = get_s(&r);
            sqlite3_stmt *w = s->raw_st;
            sqlite3_bind_int64(w, 1, at);
            bind_s(w, 2, agent, false);
            bind_s(w, 3, m, false);
            bind_s(w, 4, o, false);
            bind_s(w, 5, g, false);
            bind_s(w, 6, sv, false);
            sqlite3_bind_int64(w, 7, depth);
            sqlite3_bind_int64(w, 8, count);
            sqlite3_bind_int64(w, 9, period);
            rc = step_done(s, w);
            (*nleaves)++;
        }
        (*naggs)++;
    }
    if (rc || exec(s, "COMMIT")) {
        exec(s, "ROLLBACK");
        return SL_EIO;
    }
    return 0;
}

static int run1(struct sl_partout_store *s, const char *sql, int64_t arg, uint64_t *changed)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sl_warn("partout-store", "%s: %s", s->path, sqlite3_errmsg(s->db));
        return SL_EIO;
    }
    sqlite3_bind_int64(st, 1, arg);
    int rc = step_done(s, st);
    if (!rc && changed)
        *changed += (uint64_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

/* dblock held. Roll up the complete buckets of each tier, then expire, as of now. */
static int maintain(struct sl_partout_store *s, int64_t now, uint64_t *rolled, uint64_t *expired)
{
    if (exec(s, "BEGIN IMMEDIATE"))
        return SL_EIO;
    int rc = 0;
    for (int t = SL_PARTOUT_HOUR; !rc && t <= SL_PARTOUT_WEEK; t++) {
        int64_t end = sl_partout_bucket_start(t, now); /* buckets before it are complete */
        rc = run1(s, ROLL_SQL[t][0], end, NULL);
        if (!rc)
            rc = run1(s, ROLL_SQL[t][1], end, rolled);
    }
    if (!rc)
        rc = run1(s, "DELETE FROM partout_raw WHERE rolled = 1 AND at_ms < ?1",
                  sl_partout_bucket_start(SL_PARTOUT_DAY, now), expired);
    if (!rc)
        rc = run1(s,
                  "DELETE FROM partout_rollup WHERE tier = 0 AND rolled = 1"
                  " AND bucket_ms + 3600000 <= ?1",
                  now - s->o.retention_ms[0], expired);
    if (!rc)
        rc = run1(s,
                  "DELETE FROM partout_rollup WHERE tier = 1 AND rolled = 1"
                  " AND bucket_ms + 86400000 <= ?1",
                  now - s->o.retention_ms[1], expired);
    if (!rc)
        rc = run1(s, "DELETE FROM partout_rollup WHERE tier = 2 AND bucket_ms + 604800000 <= ?1",
                  now - s->o.retention_ms[2], expired);
    if (rc || exec(s, "COMMIT")) {
        exec(s, "ROLLBACK");
        return SL_EIO;
    }
    s->maintained_hour = sl_partout_bucket_start(SL_PARTOUT_HOUR, now);
    return 0;
}

/* Commit what is pending and, when an hour boundary passed (or always), roll up. */
static int flush(struct sl_partout_store *s, bool always_maintain)
{
    sl_mutex_lock(&s->dblock);
    sl_mutex_lock(&s->plock);
    struct sl_buf tmp = s->pending;
    s->pending = s->spare;
    s->spare = tmp;
    s->pending_leaves = 0;
    sl_mutex_unlock(&s->plock);

    uint64_t naggs = 0, nleaves = 0, rolled = 0, expired = 0;
    int64_t t0 = sl_clock_mono_ns();
    int rc = commit_packed(s, &s->spare, &naggs, &nleaves);
    int64_t t1 = sl_clock_mono_ns();
    if (rc) { /* keep what failed ahead of what came since, for the next commit to retry */
        sl_mutex_lock(&s->plock);
        if (sl_buf_append(&s->spare, s->pending.ptr, s->pending.len) == 0) {
            struct sl_buf keep = s->spare;
            s->spare = s->pending;
            s->pending = keep;
            s->pending_leaves += (uint32_t)nleaves;
        } else {
            sl_warn("partout-store", "%s: %zu bytes of aggregates dropped (out of memory)", s->path,
                    s->spare.len);
        }
        sl_mutex_unlock(&s->plock);
    }
    sl_buf_reset(&s->spare);
    int64_t now = stamp(s);
    int mrc = 0;
    if (always_maintain || sl_partout_bucket_start(SL_PARTOUT_HOUR, now) != s->maintained_hour)
        mrc = maintain(s, now, &rolled, &expired);

    sl_mutex_lock(&s->plock);
    if (naggs || rc) {
        s->st.commits++;
        s->st.commit_ns += (uint64_t)(t1 - t0);
    }
    if (rc)
        s->st.commit_errors++;
    else {
        s->st.aggregates += naggs;
        s->st.leaves += nleaves;
    }
    s->st.rolled += rolled;
    s->st.expired += expired;
    sl_mutex_unlock(&s->plock);
    sl_mutex_unlock(&s->dblock); /* after the stats: a flush that returns sees its commits */
    return rc ? rc : mrc;
}

static void *writer_main(void *arg)
{
    struct sl_partout_store *s = arg;
    sl_mutex_lock(&s->plock);
    while (!s->stop) {
        int64_t deadline = sl_clock_mono_ns() + s->o.flush_ms * 1000000;
        while (!s->stop && s->pending_leaves < s->o.batch)
            if (sl_cond_wait_until(&s->wake, &s->plock, deadline) == SL_ETIMEDOUT)
                break;
        if (s->stop)
            break;
        sl_mutex_unlock(&s->plock);
        flush(s, false);
        sl_mutex_lock(&s->plock);
    }
    sl_mutex_unlock(&s->plock);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Open, close, put
 */

int sl_partout_store_open(const char *path, const struct sl_partout_store_opts *opts,
                          struct sl_partout_store **out, struct sl_diag *d)
{
    *out = NULL;
    if (!path || !*path)
        return sl_diag_set(d, SL_ECONFIG, "partout store: empty path");
    if (strcmp(path, ":memory:") != 0) {
        int mk = sl_fs_mkdir_parents(path);
        if (mk)
            return sl_diag_set(d, SL_EIO, "partout store %s: cannot create its directory: %s", path,
                               sl_strerror(mk));
    }
    struct sl_partout_store *s = sl_xcalloc(1, sizeof(*s));
    s->path = sl_xstrdup(path);
    if (opts)
        s->o = *opts;
    if (s->o.flush_ms <= 0)
        s->o.flush_ms = DEFAULT_FLUSH_MS;
    if (!s->o.batch)
        s->o.batch = DEFAULT_BATCH;
    if (!s->o.max_pending)
        s->o.max_pending = DEFAULT_PENDING;
    static const int64_t ret[3] = {7 * SL_PARTOUT_DAY_MS, 31 * SL_PARTOUT_DAY_MS,
                                   365 * SL_PARTOUT_DAY_MS};
    for (int i = 0; i < 3; i++)
        if (s->o.retention_ms[i] <= 0)
            s->o.retention_ms[i] = ret[i];
    sl_mutex_init(&s->dblock);
    sl_mutex_init(&s->plock);
    sl_cond_init(&s->wake);
    sl_buf_init(&s->pending, 0);
    sl_buf_init(&s->spare, 0);
    s->maintained_hour = INT64_MIN;
    int err = SL_EIO;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = sl_diag_set(d, SL_EIO, "partout store %s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_MS);
    char *why = NULL;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; BEGIN IMMEDIATE;",
                     NULL, NULL, &why) != SQLITE_OK ||
        sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, &why) != SQLITE_OK) {
        err = sl_diag_set(d, SL_EIO, "partout store %s: %s", path, why ? why : "?");
        sqlite3_free(why);
        goto fail;
    }
    sqlite3_stmt *st = NULL;
    int64_t version = 0, high = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT max(version) FROM partout_schema),"
                           " max(coalesce((SELECT max(at_ms) FROM partout_raw), 0),"
                           " coalesce((SELECT max(last_ms) FROM partout_agents), 0))",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
        high = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        err = sl_diag_set(d, SL_ECONFIG, "partout store %s: schema version %lld is newer than %d",
                          path, (long long)version, SCHEMA_VERSION);
        goto fail;
    }
    if ((version == 0 && sqlite3_exec(s->db, "INSERT INTO partout_schema (version) VALUES (1)",
                                      NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, AGENT_SQL, -1, &s->agent_st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, RAW_SQL, -1, &s->raw_st, NULL) != SQLITE_OK) {
        err = sl_diag_set(d, SL_EIO, "partout store %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    s->high_ms = high;
    rc = sl_thread_start(&s->writer, "partout-store", writer_main, s);
    if (rc) {
        err = sl_diag_set(d, SL_ESYS, "partout store %s: cannot start its writer", path);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    sl_partout_store_close(s);
    return err;
}

void sl_partout_store_close(struct sl_partout_store *s)
{
    if (!s)
        return;
    if (s->writer.started) {
        sl_mutex_lock(&s->plock);
        s->stop = true;
        sl_cond_signal(&s->wake);
        sl_mutex_unlock(&s->plock);
        sl_thread_join(&s->writer);
    }
    if (s->db) {
        if (s->agent_st && s->raw_st)
            flush(s, false);
        sqlite3_finalize(s->agent_st);
        sqlite3_finalize(s->raw_st);
        sqlite3_close(s->db);
    }
    sl_buf_fini(&s->pending);
    sl_buf_fini(&s->spare);
    sl_cond_fini(&s->wake);
    sl_mutex_fini(&s->plock);
    sl_mutex_fini(&s->dblock);
    sl_free(s->path);
    sl_free(s);
}

const char *sl_partout_store_path(const struct sl_partout_store *s)
{
    return s->path;
}

int sl_partout_store_put(struct sl_partout_store *s, const struct sl_partout_body *pb,
                         int64_t period_secs, int told_level, int64_t told_period_secs)
{
    int64_t at = stamp(s);
    /* the whole record is reserved first: a failed append must not leave half a record */
    size_t need = 6 * 8 + 2 * 4 + pb->uuid.len + pb->hostname.len;
    for (uint32_t i = 0; i < pb->nleaves; i++) {
        const struct sl_partout_leaf *l = &pb->leaves[i];
        need += 2 * 8 + 4 * 4 + l->module.len + l->object.len + l->msg.len + l->level.len;
    }
    sl_mutex_lock(&s->plock);
    struct sl_buf *b = &s->pending;
    if (sl_buf_reserve(b, need)) {
        sl_mutex_unlock(&s->plock);
        return SL_ENOMEM;
    }
    put_i64(b, at);
    put_i64(b, period_secs);
    put_i64(b, told_level);
    put_i64(b, told_period_secs);
    put_i64(b, (int64_t)pb->total);
    put_i64(b, pb->nleaves);
    put_s(b, pb->uuid.ptr ? pb->uuid : sl_str_c(""));
    put_s(b, pb->hostname);
    for (uint32_t i = 0; i < pb->nleaves; i++) {
        const struct sl_partout_leaf *l = &pb->leaves[i];
        put_i64(b, l->depth);
        put_i64(b, (int64_t)l->count);
        put_s(b, l->module);
        put_s(b, l->object);
        put_s(b, l->msg);
        put_s(b, l->level);
    }
    s->pending_leaves += pb->nleaves;
    bool full = b->len >= s->o.max_pending;
    if (s->pending_leaves >= s->o.batch)
        sl_cond_signal(&s->wake);
    sl_mutex_unlock(&s->plock);
    if (full) /* back-pressure: the writer fell behind, commit on this thread */
        return flush(s, false);
    return 0;
}

int sl_partout_store_flush(struct sl_partout_store *s)
{
    return flush(s, true);
}

void sl_partout_store_get_stats(struct sl_partout_store *s, struct sl_partout_store_stats *st)
{
    sl_mutex_lock(&s->plock);
    *st = s->st;
    sl_mutex_unlock(&s->plock);
}

/* ------------------------------------------------------------------------------------------
 * Reads
 */

int sl_partout_store_total(struct sl_partout_store *s, int tier, uint64_t *count, uint64_t *rows)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    sqlite3_stmt *st = NULL;
    const char *sql = tier == SL_PARTOUT_RAW
                          ? "SELECT coalesce(sum(count), 0), count(*) FROM partout_raw"
                          : "SELECT coalesce(sum(count), 0), count(*) FROM partout_rollup"
                            " WHERE tier = ?1";
    rc = SL_EIO;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (tier != SL_PARTOUT_RAW)
            sqlite3_bind_int(st, 1, tier);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *count = (uint64_t)sqlite3_column_int64(st, 0);
            if (rows)
                *rows = (uint64_t)sqlite3_column_int64(st, 1);
            rc = 0;
        }
    }
    sqlite3_finalize(st);
    sl_mutex_unlock(&s->dblock);
    return rc;
}

static void json_col(struct sl_buf *out, sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        sl_buf_puts(out, "null");
        return;
    }
    const char *p = (const char *)sqlite3_column_text(st, i);
    sl_json_write_string(out, p ? p : "", (size_t)sqlite3_column_bytes(st, i));
}

int sl_partout_store_agents_json(struct sl_partout_store *s, struct sl_buf *out)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    sqlite3_stmt *st = NULL;
    rc = SL_EIO;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT agent, hostname, first_ms, last_ms, aggregates, count,"
                           " period_secs, level, told_period_secs FROM partout_agents"
                           " ORDER BY agent",
                           -1, &st, NULL) != SQLITE_OK)
        goto done;
    sl_buf_putc(out, '[');
    int step;
    bool first = true;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first)
            sl_buf_putc(out, ',');
        first = false;
        sl_buf_puts(out, "{\"agent\":");
        json_col(out, st, 0);
        sl_buf_puts(out, ",\"hostname\":");
        json_col(out, st, 1);
        sl_buf_appendf(
            out,
            ",\"first_ms\":%lld,\"last_ms\":%lld,\"aggregates\":%lld,\"count\":%lld,"
            "\"period_secs\":%lld,\"level\":%lld,\"told_period_secs\":%lld}",
            (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
            (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5),
            (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
            (long long)sqlite3_column_int64(st, 8));
    }
    if (step != SQLITE_DONE)
        goto done;
    rc = sl_buf_putc(out, ']');
done:
    if (rc == SL_EIO)
        sl_warn("partout-store", "%s: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    sl_mutex_unlock(&s->dblock);
    return rc;
}

static const char *tier_name(int tier)
{
    switch (tier) {
    case SL_PARTOUT_HOUR:
        return "hour";
    case SL_PARTOUT_DAY:
        return "day";
    case SL_PARTOUT_WEEK:
        return "week";
    default:
        return "raw";
    }
}

static int64_t tier_width(int tier)
{
    switch (tier) {
    case SL_PARTOUT_HOUR:
        return SL_PARTOUT_HOUR_MS;
    case SL_PARTOUT_DAY:
        return SL_PARTOUT_DAY_MS;
    case SL_PARTOUT_WEEK:
        return SL_PARTOUT_WEEK_MS;
    default:
        return 0;
    }
}

int sl_partout_store_series_json(struct sl_partout_store *s, struct sl_str agent, int64_t from_ms,
                                 int64_t to_ms, int level, struct sl_buf *out)
{
    int rc = flush(s, true); /* the tier boundaries below assume the roll-ups are current */
    if (rc)
        return rc;
    int64_t now = stamp(s);
    sl_mutex_lock(&s->dblock);
    sqlite3_stmt *st = NULL;
    rc = SL_EIO;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM partout_agents WHERE agent = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        goto done;
    bind_s(st, 1, agent, false);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? SL_ENOENT : SL_EIO;
        goto done;
    }
    /* where each tier is used: see the header */
    int64_t raw_from = sl_partout_bucket_start(SL_PARTOUT_DAY, now);
    int64_t hour_from = ceil_to(SL_PARTOUT_DAY, now - s->o.retention_ms[0]);
    if (hour_from > raw_from)
        hour_from = raw_from;
    int64_t day_from = ceil_to(SL_PARTOUT_WEEK, now - s->o.retention_ms[1]);
    if (day_from > hour_from)
        day_from = hour_from;
    if (sqlite3_prepare_v2(s->db, SERIES_SQL, -1, &st, NULL) != SQLITE_OK)
        goto done;
    bind_s(st, 1, agent, false);
    sqlite3_bind_int(st, 2, level);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    sqlite3_bind_int64(st, 5, raw_from);
    sqlite3_bind_int64(st, 6, hour_from);
    sqlite3_bind_int64(st, 7, day_from);
    sl_buf_puts(out, "{\"agent\":");
    sl_json_write_string(out, agent.ptr ? agent.ptr : "", agent.len);
    sl_buf_appendf(out,
                   ",\"from_ms\":%lld,\"to_ms\":%lld,\"level\":%d,\"now_ms\":%lld,"
                   "\"raw_from_ms\":%lld,\"hour_from_ms\":%lld,\"day_from_ms\":%lld,\"series\":[",
                   (long long)from_ms, (long long)to_ms, level, (long long)now, (long long)raw_from,
                   (long long)hour_from, (long long)day_from);
    uint64_t total = 0, rows = 0;
    bool truncated = false;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows == MAX_SERIES_ROWS) {
            truncated = true;
            break;
        }
        int tier = sqlite3_column_int(st, 1);
        int64_t count = sqlite3_column_int64(st, 6);
        if (rows++)
            sl_buf_putc(out, ',');
        sl_buf_appendf(out, "{\"at_ms\":%lld,\"tier\":\"%s\",\"width_ms\":%lld",
                       (long long)sqlite3_column_int64(st, 0), tier_name(tier),
                       (long long)tier_width(tier));
        static const char *const names[] = {"module", "object", "msg", "severity"};
        for (int i = 0; i < 4; i++) {
            if (level < 2 + (i < 2 ? i : 2))
                continue;
            sl_buf_appendf(out, ",\"%s\":", names[i]);
            json_col(out, st, 2 + i);
        }
        sl_buf_appendf(out, ",\"count\":%lld}", (long long)count);
        total += (uint64_t)count;
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        goto done;
    rc = sl_buf_appendf(out, "],\"total\":%llu,\"truncated\":%s}", (unsigned long long)total,
                        truncated ? "true" : "false");
done:
    if (rc == SL_EIO)
        sl_warn("partout-store", "%s: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    sl_mutex_unlock(&s->dblock);
    return rc;
}

int sl_partout_store_replay(struct sl_partout_store *s, int64_t since_ms, sl_partout_replay_fn fn,
                            void *ud)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    sqlite3_stmt *st = NULL;
    rc = SL_EIO;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT agent, at_ms, sum(count) FROM partout_raw"
                           " WHERE rolled IN (0, 1) AND at_ms >= ?1 GROUP BY at_ms, agent"
                           " ORDER BY at_ms, agent",
                           -1, &st, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_int64(st, 1, since_ms);
    int step = SQLITE_DONE;
    rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(st, 0);
        rc = fn(ud, sl_str_make(a ? a : "", (size_t)sqlite3_column_bytes(st, 0)),
                sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2));
    }
    if (!rc && step != SQLITE_DONE)
        rc = SL_EIO;
done:
    if (rc == SL_EIO)
        sl_warn("partout-store", "%s: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    sl_mutex_unlock(&s->dblock);
    return rc;
}
