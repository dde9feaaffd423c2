/*
 * partout_store.c — the Partout master's store with hourly, daily and weekly roll-ups
 * (partout_store.h; docs/partout.md "Store and roll-ups"), on SQLite or PostgreSQL.
 *
 * DESIGN: all SQL goes through state/sqldb.h, written once in the dialect SQLite and
 * PostgreSQL share, so `store: db/partout.db` and `store: postgres://...` run the same code.
 * One connection, guarded by `dblock`, serves the writer thread (commits, roll-ups, expiry)
 * and the readers (the API, `sluice partout`): reads are rare and short, so a reader pool as
 * the profile store keeps (store_sqlite.c) would buy nothing here. An accepted aggregate is
 * packed into the `pending` buffer under `plock` (one memcpy per key, no allocation per
 * leaf); the writer swaps the buffer out while holding `dblock` and commits it in one
 * transaction (on PostgreSQL, pipelined: one round trip per 1,000 rows), so a flush that
 * takes `dblock` after it sees everything put before it.
 *
 * Stamps are monotonic: an aggregate is stamped max(clock, highest time seen), and roll-ups
 * use the same, so no row can arrive in a bucket that was already rolled up (a wall clock
 * stepping back would otherwise make a late raw row miss its hour). Each roll-up reads the
 * rows of the finer tier that are not yet `rolled` and whose bucket is complete, adds them
 * into the coarser tier (UPSERT count = count + ...), and marks them rolled, in one
 * transaction: every count is carried up exactly once, so totals are conserved. Expiry only
 * deletes rows that were rolled (weeks: by age alone). Several masters may share one
 * PostgreSQL store: each commits its own aggregates, and roll-ups and schema creation take a
 * transaction-level advisory lock (PG_LOCK), so two masters never roll the same rows twice.
 * A master's reads see the others' aggregates once they have committed (within flush_ms).
 *
 * Schema (version 1), readable with the sqlite3 CLI or psql:
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
#include "state/sqldb.h"
#include "sys/thread.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA_VERSION   1
#define MAX_SERIES_ROWS  100000
#define DEFAULT_FLUSH_MS 1000
#define DEFAULT_BATCH    4096
#define DEFAULT_PENDING  ((uint64_t)64 << 20)
#define MONDAY_OFFSET_MS (4 * SL_PARTOUT_DAY_MS) /* 1970-01-05 was a Monday */
/* PostgreSQL: nodes sharing one store take this transaction lock around schema changes and
 * roll-ups, so two cannot roll the same rows up twice ("partout" in ASCII). */
#define PG_LOCK "SELECT pg_advisory_xact_lock(482100867956)"

#define SCHEMA_SQL(without_rowid)                                                                  \
    "CREATE TABLE IF NOT EXISTS partout_schema (version BIGINT NOT NULL);"                         \
    "CREATE TABLE IF NOT EXISTS partout_agents (agent TEXT PRIMARY KEY, hostname TEXT,"            \
    " first_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL, aggregates BIGINT NOT NULL,"              \
    " count BIGINT NOT NULL, period_secs BIGINT, level BIGINT, told_period_secs BIGINT);"          \
    "CREATE TABLE IF NOT EXISTS partout_raw (at_ms BIGINT NOT NULL, agent TEXT NOT NULL,"          \
    " module TEXT NOT NULL, object TEXT NOT NULL, msg TEXT NOT NULL, severity TEXT NOT NULL,"      \
    " detail BIGINT NOT NULL, count BIGINT NOT NULL, period_secs BIGINT,"                          \
    " rolled BIGINT NOT NULL DEFAULT 0);"                                                          \
    "CREATE INDEX IF NOT EXISTS partout_raw_agent ON partout_raw (agent, at_ms);"                  \
    "CREATE INDEX IF NOT EXISTS partout_raw_roll ON partout_raw (rolled, at_ms);"                  \
    "CREATE TABLE IF NOT EXISTS partout_rollup (tier BIGINT NOT NULL,"                             \
    " bucket_ms BIGINT NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL,"                       \
    " object TEXT NOT NULL, msg TEXT NOT NULL, severity TEXT NOT NULL, detail BIGINT NOT NULL,"    \
    " count BIGINT NOT NULL, rolled BIGINT NOT NULL DEFAULT 0,"                                    \
    " PRIMARY KEY (tier, agent, bucket_ms, module, object, msg, severity, detail))" without_rowid  \
    ";"                                                                                            \
    "CREATE INDEX IF NOT EXISTS partout_rollup_roll ON partout_rollup (tier, rolled, bucket_ms);"

static const char SCHEMA_SQLITE[] = SCHEMA_SQL(" WITHOUT ROWID");
static const char SCHEMA_PG[] = SCHEMA_SQL("");

/* min/max of two values as CASE: SQLite has no LEAST/GREATEST, PostgreSQL no 2-argument
 * min/max */
static const char AGENT_SQL[] =
    "INSERT INTO partout_agents (agent, hostname, first_ms, last_ms, aggregates, count,"
    " period_secs, level, told_period_secs) VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (agent) DO UPDATE SET"
    " hostname = coalesce(excluded.hostname, partout_agents.hostname),"
    " first_ms = CASE WHEN excluded.first_ms < partout_agents.first_ms THEN excluded.first_ms"
    " ELSE partout_agents.first_ms END,"
    " last_ms = CASE WHEN excluded.last_ms > partout_agents.last_ms THEN excluded.last_ms"
    " ELSE partout_agents.last_ms END,"
    " aggregates = partout_agents.aggregates + 1,"
    " count = partout_agents.count + excluded.count,"
    " period_secs = excluded.period_secs, level = excluded.level,"
    " told_period_secs = excluded.told_period_secs";

static const char RAW_SQL[] =
    "INSERT INTO partout_raw (at_ms, agent, module, object, msg, severity, detail, count,"
    " period_secs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define UPSERT_ROLLUP                                                                              \
    " ON CONFLICT (tier, agent, bucket_ms, module, object, msg, severity, detail)"                 \
    " DO UPDATE SET count = partout_rollup.count + excluded.count"

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
    " (tier = 2 AND bucket_ms < ?7))"
    " ) AS u GROUP BY at, tier, m, o, g, sv ORDER BY at, m, o, g, sv";

struct sl_partout_store {
    char *path;
    struct sl_partout_store_opts o;
    struct sl_mutex dblock;
    struct sl_sqldb *db;            /* guarded_by: dblock */
    struct sl_sqldb_stmt *agent_st; /* guarded_by: dblock */
    struct sl_sqldb_stmt *raw_st;   /* guarded_by: dblock */
    int64_t maintained_hour;        /* guarded_by: dblock: hour of the last roll-up */
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

static struct sl_sqldb_param text_p(struct sl_str v, bool null_if_absent)
{
    if (!v.ptr && null_if_absent)
        return SL_SQLDB_NUL;
    return SL_SQLDB_S(v.ptr ? v : sl_str_c(""));
}

static void warn_db(struct sl_partout_store *s)
{
    sl_warn("partout-store", "%s: %s", s->path, sl_sqldb_errmsg(s->db));
}

static int exec(struct sl_partout_store *s, const char *sql)
{
    if (sl_sqldb_exec(s->db, sql)) {
        warn_db(s);
        return SL_EIO;
    }
    return 0;
}

static int begin(struct sl_partout_store *s, bool lock)
{
    if (sl_sqldb_begin(s->db) ||
        (lock && sl_sqldb_is_postgres(s->db) && sl_sqldb_exec(s->db, PG_LOCK))) {
        warn_db(s);
        sl_sqldb_rollback(s->db);
        return SL_EIO;
    }
    return 0;
}

static int commit(struct sl_partout_store *s)
{
    if (sl_sqldb_commit(s->db)) {
        warn_db(s);
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
    if (begin(s, false))
        return SL_EIO;
    struct reader r = {b->ptr, b->ptr + b->len};
    int rc = 0;
    while (!rc && r.p < r.end) {
        int64_t at = get_i64(&r), period = get_i64(&r), level = get_i64(&r);
        int64_t told = get_i64(&r), total = get_i64(&r), nl = get_i64(&r);
        struct sl_str agent = get_s(&r), host = get_s(&r);
        struct sl_sqldb_param ap[7] = {text_p(agent, false), text_p(host, true), SL_SQLDB_I(at),
                                       SL_SQLDB_I(total),    SL_SQLDB_I(period), SL_SQLDB_I(level),
                                       SL_SQLDB_I(told)};
        rc = sl_sqldb_queue(s->agent_st, ap, 7);
        for (int64_t i = 0; !rc && i < nl; i++) {
            int64_t depth = get_i64(&r), count = get_i64(&r);
            struct sl_str m = get_s(&r), o = get_s(&r), g = get_s(&r), sv = get_s(&r);
            struct sl_sqldb_param wp[9] = {
                SL_SQLDB_I(at),    text_p(agent, false), text_p(m, false),
                text_p(o, false),  text_p(g, false),     text_p(sv, false),
                SL_SQLDB_I(depth), SL_SQLDB_I(count),    SL_SQLDB_I(period)};
            rc = sl_sqldb_queue(s->raw_st, wp, 9);
            (*nleaves)++;
        }
        (*naggs)++;
    }
    if (rc) {
        warn_db(s);
        sl_sqldb_rollback(s->db);
        return SL_EIO;
    }
    return commit(s);
}

static int run1(struct sl_partout_store *s, const char *sql, int64_t arg, uint64_t *changed)
{
    struct sl_sqldb_param p = SL_SQLDB_I(arg);
    uint64_t n = 0;
    if (sl_sqldb_run_sql(s->db, sql, &p, 1, &n)) {
        warn_db(s);
        return SL_EIO;
    }
    if (changed)
        *changed += n;
    return 0;
}

/* dblock held. Roll up the complete buckets of each tier, then expire, as of now. */
static int maintain(struct sl_partout_store *s, int64_t now, uint64_t *rolled, uint64_t *expired)
{
    if (begin(s, true))
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
    if (rc) {
        sl_sqldb_rollback(s->db);
        return SL_EIO;
    }
    if (commit(s))
        return SL_EIO;
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

static int max_row(void *ud, const struct sl_sqldb_row *r)
{
    int64_t *v = ud;
    if (!sl_sqldb_col_null(r, 0) && sl_sqldb_col_int(r, 0) > *v)
        *v = sl_sqldb_col_int(r, 0);
    return 0;
}

/* *v = max(*v, the single value sql selects). */
static int max_of(struct sl_partout_store *s, const char *sql, int64_t *v)
{
    return sl_sqldb_query_sql(s->db, sql, NULL, 0, max_row, v);
}

int sl_partout_store_open(const char *path, const struct sl_partout_store_opts *opts,
                          struct sl_partout_store **out, struct sl_diag *d)
{
    *out = NULL;
    if (!path || !*path)
        return sl_diag_set(d, SL_ECONFIG, "partout store: empty path");
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
    int err = sl_sqldb_open(path, &s->db, d);
    if (err)
        goto fail;
    sl_free(s->path);
    s->path = sl_xstrdup(sl_sqldb_name(s->db));
    bool pg = sl_sqldb_is_postgres(s->db);
    int64_t version = 0, high = 0;
    err = SL_EIO;
    if (begin(s, true) || exec(s, pg ? SCHEMA_PG : SCHEMA_SQLITE) ||
        max_of(s, "SELECT max(version) FROM partout_schema", &version) ||
        max_of(s, "SELECT max(at_ms) FROM partout_raw", &high) ||
        max_of(s, "SELECT max(last_ms) FROM partout_agents", &high)) {
        sl_sqldb_rollback(s->db);
        err = sl_diag_set(d, SL_EIO, "partout store %s: %s", s->path, sl_sqldb_errmsg(s->db));
        goto fail;
    }
    if (version > SCHEMA_VERSION) {
        sl_sqldb_rollback(s->db);
        err = sl_diag_set(d, SL_ECONFIG, "partout store %s: schema version %lld is newer than %d",
                          s->path, (long long)version, SCHEMA_VERSION);
        goto fail;
    }
    if ((version == 0 && exec(s, "INSERT INTO partout_schema (version) VALUES (1)")) || commit(s) ||
        sl_sqldb_prepare(s->db, AGENT_SQL, &s->agent_st) ||
        sl_sqldb_prepare(s->db, RAW_SQL, &s->raw_st)) {
        err = sl_diag_set(d, SL_EIO, "partout store %s: %s", s->path, sl_sqldb_errmsg(s->db));
        goto fail;
    }
    s->high_ms = high;
    if (sl_thread_start(&s->writer, "partout-store", writer_main, s)) {
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
        sl_sqldb_finalize(s->agent_st);
        sl_sqldb_finalize(s->raw_st);
        sl_sqldb_close(s->db);
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

static int total_row(void *ud, const struct sl_sqldb_row *r)
{
    uint64_t *v = ud;
    v[0] = (uint64_t)sl_sqldb_col_int(r, 0);
    v[1] = (uint64_t)sl_sqldb_col_int(r, 1);
    return 0;
}

int sl_partout_store_total(struct sl_partout_store *s, int tier, uint64_t *count, uint64_t *rows)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    const char *sql = tier == SL_PARTOUT_RAW
                          ? "SELECT coalesce(sum(count), 0), count(*) FROM partout_raw"
                          : "SELECT coalesce(sum(count), 0), count(*) FROM partout_rollup"
                            " WHERE tier = ?1";
    uint64_t v[2] = {0, 0};
    struct sl_sqldb_param p = SL_SQLDB_I(tier);
    rc = sl_sqldb_query_sql(s->db, sql, &p, tier == SL_PARTOUT_RAW ? 0 : 1, total_row, v);
    if (rc)
        warn_db(s);
    sl_mutex_unlock(&s->dblock);
    if (rc)
        return SL_EIO;
    *count = v[0];
    if (rows)
        *rows = v[1];
    return 0;
}

static void json_col(struct sl_buf *out, const struct sl_sqldb_row *r, int i)
{
    if (sl_sqldb_col_null(r, i)) {
        sl_buf_puts(out, "null");
        return;
    }
    struct sl_str v = sl_sqldb_col_text(r, i);
    sl_json_write_string(out, v.ptr, v.len);
}

struct agents_walk {
    struct sl_buf *out;
    bool first;
};

static int agent_row(void *ud, const struct sl_sqldb_row *r)
{
    struct agents_walk *w = ud;
    struct sl_buf *out = w->out;
    if (!w->first)
        sl_buf_putc(out, ',');
    w->first = false;
    sl_buf_puts(out, "{\"agent\":");
    json_col(out, r, 0);
    sl_buf_puts(out, ",\"hostname\":");
    json_col(out, r, 1);
    return sl_buf_appendf(out,
                          ",\"first_ms\":%lld,\"last_ms\":%lld,\"aggregates\":%lld,\"count\":%lld,"
                          "\"period_secs\":%lld,\"level\":%lld,\"told_period_secs\":%lld}",
                          (long long)sl_sqldb_col_int(r, 2), (long long)sl_sqldb_col_int(r, 3),
                          (long long)sl_sqldb_col_int(r, 4), (long long)sl_sqldb_col_int(r, 5),
                          (long long)sl_sqldb_col_int(r, 6), (long long)sl_sqldb_col_int(r, 7),
                          (long long)sl_sqldb_col_int(r, 8));
}

int sl_partout_store_agents_json(struct sl_partout_store *s, struct sl_buf *out)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    struct agents_walk w = {out, true};
    sl_buf_putc(out, '[');
    rc = sl_sqldb_query_sql(s->db,
                            "SELECT agent, hostname, first_ms, last_ms, aggregates, count,"
                            " period_secs, level, told_period_secs FROM partout_agents"
                            " ORDER BY agent",
                            NULL, 0, agent_row, &w);
    if (rc == SL_EIO)
        warn_db(s);
    if (!rc)
        rc = sl_buf_putc(out, ']');
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

static int exists_row(void *ud, const struct sl_sqldb_row *r)
{
    (void)r;
    *(bool *)ud = true;
    return 0;
}

struct series_walk {
    struct sl_buf *out;
    int level;
    uint64_t total, rows;
    bool truncated;
};

static int series_row(void *ud, const struct sl_sqldb_row *r)
{
    struct series_walk *w = ud;
    if (w->rows == MAX_SERIES_ROWS) {
        w->truncated = true;
        return 1;
    }
    struct sl_buf *out = w->out;
    int tier = (int)sl_sqldb_col_int(r, 1);
    int64_t count = sl_sqldb_col_int(r, 6);
    if (w->rows++)
        sl_buf_putc(out, ',');
    sl_buf_appendf(out, "{\"at_ms\":%lld,\"tier\":\"%s\",\"width_ms\":%lld",
                   (long long)sl_sqldb_col_int(r, 0), tier_name(tier), (long long)tier_width(tier));
    static const char *const names[] = {"module", "object", "msg", "severity"};
    for (int i = 0; i < 4; i++) {
        if (w->level < 2 + (i < 2 ? i : 2))
            continue;
        sl_buf_appendf(out, ",\"%s\":", names[i]);
        json_col(out, r, 2 + i);
    }
    w->total += (uint64_t)count;
    return sl_buf_appendf(out, ",\"count\":%lld}", (long long)count);
}

int sl_partout_store_series_json(struct sl_partout_store *s, struct sl_str agent, int64_t from_ms,
                                 int64_t to_ms, int level, struct sl_buf *out)
{
    int rc = flush(s, true); /* the tier boundaries below assume the roll-ups are current */
    if (rc)
        return rc;
    int64_t now = stamp(s);
    sl_mutex_lock(&s->dblock);
    bool known = false;
    struct sl_sqldb_param ap = text_p(agent, false);
    rc = sl_sqldb_query_sql(s->db, "SELECT 1 FROM partout_agents WHERE agent = ?1", &ap, 1,
                            exists_row, &known);
    if (rc || !known) {
        rc = rc ? SL_EIO : SL_ENOENT;
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
    sl_buf_puts(out, "{\"agent\":");
    sl_json_write_string(out, agent.ptr ? agent.ptr : "", agent.len);
    sl_buf_appendf(out,
                   ",\"from_ms\":%lld,\"to_ms\":%lld,\"level\":%d,\"now_ms\":%lld,"
                   "\"raw_from_ms\":%lld,\"hour_from_ms\":%lld,\"day_from_ms\":%lld,\"series\":[",
                   (long long)from_ms, (long long)to_ms, level, (long long)now, (long long)raw_from,
                   (long long)hour_from, (long long)day_from);
    struct sl_sqldb_param p[7] = {ap,
                                  SL_SQLDB_I(level),
                                  SL_SQLDB_I(from_ms),
                                  SL_SQLDB_I(to_ms),
                                  SL_SQLDB_I(raw_from),
                                  SL_SQLDB_I(hour_from),
                                  SL_SQLDB_I(day_from)};
    struct series_walk w = {.out = out, .level = level};
    rc = sl_sqldb_query_sql(s->db, SERIES_SQL, p, 7, series_row, &w);
    if (rc == 1)
        rc = 0;
    if (rc)
        goto done;
    rc = sl_buf_appendf(out, "],\"total\":%llu,\"truncated\":%s}", (unsigned long long)w.total,
                        w.truncated ? "true" : "false");
done:
    if (rc == SL_EIO)
        warn_db(s);
    sl_mutex_unlock(&s->dblock);
    return rc;
}

struct replay_walk {
    sl_partout_replay_fn fn;
    void *ud;
};

static int replay_row(void *ud, const struct sl_sqldb_row *r)
{
    struct replay_walk *w = ud;
    return w->fn(w->ud, sl_sqldb_col_text(r, 0), sl_sqldb_col_int(r, 1),
                 (uint64_t)sl_sqldb_col_int(r, 2));
}

int sl_partout_store_replay(struct sl_partout_store *s, int64_t since_ms, sl_partout_replay_fn fn,
                            void *ud)
{
    int rc = flush(s, false);
    if (rc)
        return rc;
    sl_mutex_lock(&s->dblock);
    struct sl_sqldb_param p = SL_SQLDB_I(since_ms);
    struct replay_walk w = {fn, ud};
    rc = sl_sqldb_query_sql(s->db,
                            "SELECT agent, at_ms, sum(count) FROM partout_raw"
                            " WHERE at_ms >= ?1 GROUP BY at_ms, agent ORDER BY at_ms, agent",
                            &p, 1, replay_row, &w);
    if (rc == SL_EIO)
        warn_db(s);
    sl_mutex_unlock(&s->dblock);
    return rc;
}
