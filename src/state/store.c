/*
 * store.c — the profile store (store.h) with its SQLite backend, `sqlite:PATH`.
 *
 * DESIGN: one writer thread per store owns the read-write connection. sl_store_put() encodes
 * the measurements on the caller's thread into one self-contained job (strings copied, the
 * value already in its column form: numbers native, text, JSON text, sketch bytes) and
 * appends it to a FIFO under `lock`; the writer commits each job in one transaction (an
 * UPSERT per row, so a later measurement of the same key replaces the earlier one). Every
 * job carries a sequence number; sl_store_sync() and sl_store_expire() wait on `done` until
 * the writer has finished theirs. A failed commit is rolled back, logged, counted
 * (commit_errors) and retried with exponential back-off (10 ms doubling, 8 attempts, about
 * 2.5 s: long enough to outlast a `sqlite3` shell holding the write lock for a moment);
 * after the last attempt the rows are dropped, counted, logged as an error and the error is
 * returned by the next sl_store_sync().
 *
 * Reads run on the caller's thread. They take a connection from a small pool (at most
 * POOL_MAX idle ones kept) guarded by `rlock`, and give it back afterwards: a connection is
 * used by one thread at a time (SQLite's multi-thread mode), many readers run in parallel
 * (WAL lets them read while the writer commits), and steady-state reads neither open files
 * nor re-prepare the lookup statement, which each pooled connection keeps prepared.
 *
 * Schema (version 1; readable with the sqlite3 CLI):
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
 *       vtype       TEXT    NOT NULL,  -- Stellar (Java) type of value, see below
 *       value,                         -- INTEGER, REAL, TEXT or BLOB as vtype says
 *       written_ms  INTEGER NOT NULL,  -- wall clock of the commit
 *       PRIMARY KEY (profile, entity, groups, duration_ms, period)) WITHOUT ROWID;
 *   CREATE INDEX measurements_start ON measurements (profile, entity, groups, start_ms);
 *   CREATE INDEX measurements_end   ON measurements (profile, end_ms);
 *
 * vtype / value: 'null' NULL; 'Boolean' INTEGER 0/1; 'Integer', 'Long' INTEGER; 'Float',
 * 'Double' REAL (NaN is stored as NULL, which SQLite would do anyway); 'String' TEXT;
 * 'List', 'Set', 'Map' TEXT holding JSON (nested numbers come back as Long or Double, nested
 * sketches as their JSON summary); 'STATS', 'HLLP', 'BLOOM' BLOB in sl_sketch_serialize()'s
 * versioned form; 'Bytes' BLOB. Event timestamps are stored as Long epoch milliseconds and
 * IPs as String, which is how Stellar sees them.
 */
#include "state/store.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "lang/sketch.h"
#include "lang/sval.h"
#include "sys/thread.h"

#include <math.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 1
#define POOL_MAX       8
#define RETRIES        8
#define BUSY_MS        5000
#define MAX_VALUE_LEN  (64u << 20) /* one encoded value */
#define MAX_JOB_LEN    (1u << 30)  /* every string and value of one sl_store_put call */

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

/* ------------------------------------------------------------------------------------------
 * Encoded rows and jobs
 */

enum col { COL_NULL, COL_INT, COL_REAL, COL_TEXT, COL_BLOB };

struct row {
    const char *profile, *entity, *groups; /* NUL-terminated, in the job's bytes */
    size_t profile_len, entity_len, groups_len;
    int64_t period, duration_ms, start_ms, end_ms;
    const char *vtype; /* static */
    enum col col;
    int64_t i;
    double d;
    const char *p; /* TEXT/BLOB, in the job's bytes */
    size_t n;
};

enum job_kind { JOB_PUT, JOB_EXPIRE };

struct job {
    struct job *next;
    enum job_kind kind;
    uint64_t seq;
    /* PUT */
    struct row *rows;
    size_t nrows;
    char *bytes; /* every string and blob of the rows */
    /* EXPIRE (owned by the waiting caller) */
    char *profile;
    size_t profile_len;
    int64_t before_ms;
    uint64_t removed;
    int rc;
};

struct reader {
    sqlite3 *db;
    sqlite3_stmt *get;
};

struct sl_store {
    char *url;
    char *path;
    sqlite3 *wdb; /* writer thread only (after open) */
    sqlite3_stmt *upsert;
    struct sl_thread writer;

    struct sl_mutex lock;
    struct sl_cond work;         /* writer waits: a job was queued, or stop */
    struct sl_cond done;         /* callers wait: a job finished */
    struct job *head, *tail;     /* guarded_by: lock */
    uint64_t seq_next;           /* guarded_by: lock (last seq handed out) */
    uint64_t seq_done;           /* guarded_by: lock */
    bool stopping;               /* guarded_by: lock */
    int failed;                  /* guarded_by: lock (error of a job dropped for good) */
    struct sl_store_stats stats; /* guarded_by: lock */

    struct sl_mutex rlock;
    struct reader *pool[POOL_MAX]; /* guarded_by: rlock */
    size_t npool;                  /* guarded_by: rlock */
};

static _Atomic(struct sl_store *) default_store;

/* the Stellar type name of a value, as stored in `vtype` */
static const char *vtype_of(const struct sl_value *v)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return "null";
    case SL_V_BOOL:
        return "Boolean";
    case SL_V_INT:
        return (v->flags & SL_VF_I32) ? "Integer" : "Long";
    case SL_V_DOUBLE:
        return (v->flags & SL_VF_F32) ? "Float" : "Double";
    case SL_V_STRING:
        return "String";
    case SL_V_BYTES:
        return "Bytes";
    case SL_V_TS:
        return "Long";
    case SL_V_IP:
        return "String";
    case SL_V_LIST:
        return (v->flags & SL_VF_SET) ? "Set" : "List";
    case SL_V_MAP:
        return "Map";
    case SL_V_OBJECT:
        if (sl_sketch_is(v, "STATS"))
            return "STATS";
        if (sl_sketch_is(v, "HLLP"))
            return "HLLP";
        if (sl_sketch_is(v, "BLOOM"))
            return "BLOOM";
        return NULL;
    default:
        return NULL;
    }
}

/* Encode one value into row r; text and blobs are appended to b (offsets fixed up later:
 * r->p holds the offset until then). 0, SL_EINVAL (an object that is not a sketch),
 * SL_ENOMEM, SL_E2BIG. */
static int encode_value(const struct sl_value *v, struct row *r, struct sl_buf *b)
{
    r->vtype = vtype_of(v);
    if (!r->vtype)
        return SL_EINVAL;
    r->col = COL_NULL;
    size_t off = b->len;
    int rc = 0;
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        r->col = COL_INT;
        r->i = v->u.b;
        return 0;
    case SL_V_INT:
        r->col = COL_INT;
        r->i = v->u.i;
        return 0;
    case SL_V_TS:
        r->col = COL_INT;
        r->i = v->u.ts_ns / 1000000;
        return 0;
    case SL_V_DOUBLE:
        if (isnan(v->u.d))
            return 0;
        r->col = COL_REAL;
        r->d = v->u.d;
        return 0;
    case SL_V_STRING:
        r->col = COL_TEXT;
        rc = sl_buf_append(b, v->u.s, v->len);
        break;
    case SL_V_BYTES:
        r->col = COL_BLOB;
        rc = sl_buf_append(b, v->u.s, v->len);
        break;
    case SL_V_IP: {
        char ip[64];
        size_t n = sl_value_ip_format(v, ip, sizeof ip);
        r->col = COL_TEXT;
        rc = sl_buf_append(b, ip, n);
        break;
    }
    case SL_V_LIST:
    case SL_V_MAP:
        r->col = COL_TEXT;
        rc = sl_json_write_value(b, v);
        break;
    case SL_V_OBJECT:
        r->col = COL_BLOB;
        rc = sl_sketch_serialize(v->u.obj, b);
        break;
    default:
        return SL_EINVAL;
    }
    if (rc)
        return rc;
    r->p = (const char *)(uintptr_t)off;
    r->n = b->len - off;
    return sl_buf_putc(b, '\0'); /* keeps TEXT NUL-terminated; not part of n */
}

static int append_str(struct sl_buf *b, struct sl_str s, const char **at, size_t *len)
{
    *at = (const char *)(uintptr_t)b->len;
    *len = s.len;
    int rc = sl_buf_append(b, s.ptr ? s.ptr : "", s.len);
    return rc ? rc : sl_buf_putc(b, '\0');
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    sl_free(j->rows);
    sl_free(j->bytes);
    sl_free(j);
}

/* ------------------------------------------------------------------------------------------
 * SQLite helpers
 */

static void bind_text(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    sqlite3_bind_text(st, i, p ? p : "", (int)n, SQLITE_STATIC);
}

static void bind_str(sqlite3_stmt *st, int i, struct sl_str s)
{
    bind_text(st, i, s.ptr, s.len);
}

/* ------------------------------------------------------------------------------------------
 * The writer thread
 */

static int commit_put(struct sl_store *s, struct job *j, char *why, size_t why_len)
{
    int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", sqlite3_errmsg(s->wdb));
        return rc;
    }
    int64_t now_ms = sl_clock_wall_ns() / 1000000;
    for (size_t i = 0; i < j->nrows; i++) {
        const struct row *r = &j->rows[i];
        sqlite3_stmt *st = s->upsert;
        sqlite3_reset(st);
        bind_text(st, 1, r->profile, r->profile_len);
        bind_text(st, 2, r->entity, r->entity_len);
        bind_text(st, 3, r->groups, r->groups_len);
        sqlite3_bind_int64(st, 4, r->duration_ms);
        sqlite3_bind_int64(st, 5, r->period);
        sqlite3_bind_int64(st, 6, r->start_ms);
        sqlite3_bind_int64(st, 7, r->end_ms);
        sqlite3_bind_text(st, 8, r->vtype, -1, SQLITE_STATIC);
        switch (r->col) {
        case COL_NULL:
            sqlite3_bind_null(st, 9);
            break;
        case COL_INT:
            sqlite3_bind_int64(st, 9, r->i);
            break;
        case COL_REAL:
            sqlite3_bind_double(st, 9, r->d);
            break;
        case COL_TEXT:
            bind_text(st, 9, r->p, r->n);
            break;
        case COL_BLOB:
            sqlite3_bind_blob(st, 9, r->p, (int)r->n, SQLITE_STATIC);
            break;
        }
        sqlite3_bind_int64(st, 10, now_ms);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            goto fail;
    }
    rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    return SQLITE_OK;
fail:
    snprintf(why, why_len, "%s", sqlite3_errmsg(s->wdb)); /* before ROLLBACK resets it */
    sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int run_expire(struct sl_store *s, struct job *j, char *why, size_t why_len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->wdb, "DELETE FROM measurements WHERE profile = ?1 AND end_ms < ?2", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", sqlite3_errmsg(s->wdb));
        return rc;
    }
    bind_text(st, 1, j->profile, j->profile_len);
    sqlite3_bind_int64(st, 2, j->before_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        j->removed = (uint64_t)sqlite3_changes(s->wdb);
        rc = SQLITE_OK;
    } else {
        snprintf(why, why_len, "%s", sqlite3_errmsg(s->wdb));
    }
    sqlite3_finalize(st);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void run_job(struct sl_store *s, struct job *j)
{
    int rc = SQLITE_OK;
    int64_t backoff_ms = 10;
    for (int attempt = 1; attempt <= RETRIES; attempt++) {
        char why[256] = "";
        rc = j->kind == JOB_PUT ? commit_put(s, j, why, sizeof why)
                                : run_expire(s, j, why, sizeof why);
        if (rc == SQLITE_OK)
            break;
        sl_mutex_lock(&s->lock);
        s->stats.commit_errors++;
        sl_mutex_unlock(&s->lock);
        if (j->kind == JOB_PUT)
            sl_warn("store", "%s: commit of %zu measurement(s) failed (attempt %d of %d): %s",
                    s->url, j->nrows, attempt, RETRIES, why);
        else
            sl_warn("store", "%s: expire of profile %s failed (attempt %d of %d): %s", s->url,
                    j->profile, attempt, RETRIES, why);
        if (attempt < RETRIES) {
            sleep_ms(backoff_ms);
            backoff_ms *= 2;
        }
    }
    sl_mutex_lock(&s->lock);
    if (rc == SQLITE_OK) {
        if (j->kind == JOB_PUT) {
            s->stats.commits++;
            s->stats.rows_written += j->nrows;
        } else {
            s->stats.rows_expired += j->removed;
        }
    } else {
        s->failed = SL_EIO;
        j->rc = SL_EIO;
        if (j->kind == JOB_PUT)
            sl_error("store", "%s: gave up after %d attempts; %zu measurement(s) lost", s->url,
                     RETRIES, j->nrows);
        else
            sl_error("store", "%s: gave up expiring profile %s after %d attempts", s->url,
                     j->profile, RETRIES);
    }
    if (j->kind == JOB_PUT)
        s->stats.queued -= j->nrows;
    sl_mutex_unlock(&s->lock);
}

static void *writer_main(void *arg)
{
    struct sl_store *s = arg;
    sl_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            sl_cond_wait(&s->work, &s->lock);
        struct job *j = s->head;
        if (!j)
            break; /* stopping and drained */
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        sl_mutex_unlock(&s->lock);
        run_job(s, j);
        sl_mutex_lock(&s->lock);
        s->seq_done = j->seq;
        if (j->kind == JOB_PUT)
            job_free(j); /* an EXPIRE job belongs to its waiting caller */
        sl_cond_broadcast(&s->done);
    }
    sl_mutex_unlock(&s->lock);
    return NULL;
}

/* Queue j (taking ownership of a PUT job). Returns its sequence number, or 0 when closed. */
static uint64_t enqueue(struct sl_store *s, struct job *j)
{
    sl_mutex_lock(&s->lock);
    if (s->stopping) {
        sl_mutex_unlock(&s->lock);
        return 0;
    }
    j->seq = ++s->seq_next;
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    if (j->kind == JOB_PUT) {
        s->stats.puts++;
        s->stats.queued += j->nrows;
    }
    uint64_t seq = j->seq; /* a PUT job may be freed by the writer once unlocked */
    sl_cond_signal(&s->work);
    sl_mutex_unlock(&s->lock);
    return seq;
}

static void wait_done(struct sl_store *s, uint64_t seq)
{
    sl_mutex_lock(&s->lock);
    while (s->seq_done < seq)
        sl_cond_wait(&s->done, &s->lock);
    sl_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------------
 * Open and close
 */

static int open_db(const char *path, int flags, sqlite3 **out, char *why, size_t why_len)
{
    sqlite3 *db = NULL;
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

int sl_store_open(const char *url, struct sl_store **out, struct sl_diag *d)
{
    *out = NULL;
    if (!url || !*url)
        return sl_diag_set(d, SL_ECONFIG, "profile store: empty URL (expected sqlite:PATH)");
    const char *colon = strchr(url, ':');
    if (!colon)
        return sl_diag_set(d, SL_ECONFIG, "profile store '%s': no scheme (expected sqlite:PATH)",
                           url);
    size_t scheme_len = (size_t)(colon - url);
    if ((scheme_len == 8 && !strncmp(url, "postgres", 8)) ||
        (scheme_len == 10 && !strncmp(url, "postgresql", 10)))
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store '%s': the postgres backend is not built yet "
                           "(use sqlite:PATH)",
                           url);
    if (scheme_len != 6 || strncmp(url, "sqlite", 6) != 0)
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store '%s': unknown scheme '%.*s' (expected sqlite:PATH)", url,
                           (int)scheme_len, url);
    const char *path = colon + 1;
    if (!strncmp(path, "//", 2)) /* sqlite:///abs/path and sqlite://rel */
        path += 2;
    if (!*path)
        return sl_diag_set(d, SL_ECONFIG, "profile store '%s': empty path", url);

    if (!sqlite3_threadsafe())
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store '%s': this SQLite library was built without thread "
                           "support (SQLITE_THREADSAFE=0)",
                           url);
    char why[256] = "";
    sqlite3 *db = NULL;
    if (open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, why, sizeof why) !=
        SQLITE_OK)
        return sl_diag_set(d, SL_EIO, "profile store '%s': cannot open %s: %s", url, path, why);
    if (prepare_schema(db, why, sizeof why) != SQLITE_OK) {
        sqlite3_close(db);
        return sl_diag_set(d, SL_EIO, "profile store '%s': %s: %s", url, path, why);
    }
    sqlite3_stmt *upsert = NULL;
    if (sqlite3_prepare_v3(db, UPSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &upsert, NULL) !=
        SQLITE_OK) {
        int rc = sl_diag_set(d, SL_EIO, "profile store '%s': %s", url, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc;
    }

    struct sl_store *s = sl_xcalloc(1, sizeof *s);
    s->url = sl_xstrdup(url);
    s->path = sl_xstrdup(path);
    s->wdb = db;
    s->upsert = upsert;
    sl_mutex_init(&s->lock);
    sl_cond_init(&s->work);
    sl_cond_init(&s->done);
    sl_mutex_init(&s->rlock);
    int rc = sl_thread_start(&s->writer, "sl-store", writer_main, s);
    if (rc) {
        sl_diag_set(d, SL_ESYS, "profile store '%s': cannot start the writer thread", url);
        s->writer.started = 0;
        sl_store_close(s);
        return SL_ESYS;
    }
    *out = s;
    return 0;
}

static void reader_free(struct reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->get);
    sqlite3_close(r->db);
    sl_free(r);
}

void sl_store_close(struct sl_store *s)
{
    if (!s)
        return;
    if (s->writer.started) {
        sl_store_sync(s);
        sl_mutex_lock(&s->lock);
        s->stopping = true;
        sl_cond_signal(&s->work);
        sl_mutex_unlock(&s->lock);
        sl_thread_join(&s->writer);
    }
    struct sl_store *self = s;
    atomic_compare_exchange_strong(&default_store, &self, NULL);
    for (size_t i = 0; i < s->npool; i++)
        reader_free(s->pool[i]);
    sqlite3_finalize(s->upsert);
    sqlite3_close(s->wdb);
    sl_mutex_fini(&s->rlock);
    sl_cond_fini(&s->done);
    sl_cond_fini(&s->work);
    sl_mutex_fini(&s->lock);
    sl_free(s->path);
    sl_free(s->url);
    sl_free(s);
}

const char *sl_store_url(const struct sl_store *s)
{
    return s->url;
}

/* ------------------------------------------------------------------------------------------
 * Writes
 */

int sl_store_put(struct sl_store *s, const struct sl_measurement *m, size_t n)
{
    if (n == 0)
        return 0;
    struct job *j = sl_calloc(1, sizeof *j);
    if (!j)
        return SL_ENOMEM;
    j->kind = JOB_PUT;
    j->rows = sl_calloc(n, sizeof *j->rows);
    if (!j->rows) {
        job_free(j);
        return SL_ENOMEM;
    }
    j->nrows = n;
    struct sl_buf b;
    sl_buf_init(&b, MAX_JOB_LEN);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct row *r = &j->rows[i];
        struct sl_str groups = m[i].groups.len ? m[i].groups : SL_STR("[]");
        r->period = m[i].period;
        r->duration_ms = m[i].duration_ms;
        r->start_ms = m[i].start_ms;
        r->end_ms = m[i].end_ms;
        rc = append_str(&b, m[i].profile, &r->profile, &r->profile_len);
        if (!rc)
            rc = append_str(&b, m[i].entity, &r->entity, &r->entity_len);
        if (!rc)
            rc = append_str(&b, groups, &r->groups, &r->groups_len);
        if (!rc)
            rc = encode_value(&m[i].value, r, &b);
        if (!rc && (r->col == COL_TEXT || r->col == COL_BLOB) && r->n > MAX_VALUE_LEN)
            rc = SL_E2BIG;
    }
    if (rc) {
        sl_buf_fini(&b);
        job_free(j);
        return rc;
    }
    size_t len;
    j->bytes = sl_buf_steal(&b, &len);
    /* offsets into the bytes become pointers now that the buffer no longer moves */
    for (size_t i = 0; i < n; i++) {
        struct row *r = &j->rows[i];
        r->profile = j->bytes + (uintptr_t)r->profile;
        r->entity = j->bytes + (uintptr_t)r->entity;
        r->groups = j->bytes + (uintptr_t)r->groups;
        if (r->col == COL_TEXT || r->col == COL_BLOB)
            r->p = j->bytes + (uintptr_t)r->p;
    }
    if (!enqueue(s, j)) {
        job_free(j);
        return SL_ECLOSED;
    }
    return 0;
}

int sl_store_sync(struct sl_store *s)
{
    sl_mutex_lock(&s->lock);
    uint64_t seq = s->seq_next;
    while (s->seq_done < seq)
        sl_cond_wait(&s->done, &s->lock);
    int rc = s->failed;
    s->failed = 0;
    sl_mutex_unlock(&s->lock);
    return rc;
}

int sl_store_expire(struct sl_store *s, struct sl_str profile, int64_t before_ms, uint64_t *removed)
{
    struct job j = {.kind = JOB_EXPIRE, .before_ms = before_ms};
    j.profile = sl_strndup(profile.ptr ? profile.ptr : "", profile.len);
    if (!j.profile)
        return SL_ENOMEM;
    j.profile_len = profile.len;
    uint64_t seq = enqueue(s, &j);
    if (!seq) {
        sl_free(j.profile);
        return SL_ECLOSED;
    }
    wait_done(s, seq);
    sl_free(j.profile);
    if (removed)
        *removed = j.removed;
    return j.rc;
}

void sl_store_get_stats(struct sl_store *s, struct sl_store_stats *st)
{
    sl_mutex_lock(&s->lock);
    *st = s->stats;
    sl_mutex_unlock(&s->lock);
}

void sl_store_set_default(struct sl_store *s)
{
    atomic_store(&default_store, s);
}

struct sl_store *sl_store_default(void)
{
    return atomic_load(&default_store);
}

/* ------------------------------------------------------------------------------------------
 * Reads
 */

static int reader_take(struct sl_store *s, struct reader **out)
{
    sl_mutex_lock(&s->rlock);
    struct reader *r = s->npool ? s->pool[--s->npool] : NULL;
    sl_mutex_unlock(&s->rlock);
    if (r) {
        *out = r;
        return 0;
    }
    r = sl_xcalloc(1, sizeof *r);
    char why[256];
    if (open_db(s->path, SQLITE_OPEN_READONLY, &r->db, why, sizeof why) != SQLITE_OK) {
        sl_warn("store", "%s: cannot open a reader: %s", s->url, why);
        sl_free(r);
        return SL_EIO;
    }
    if (sqlite3_prepare_v3(r->db, GET_SQL, -1, SQLITE_PREPARE_PERSISTENT, &r->get, NULL) !=
        SQLITE_OK) {
        sl_warn("store", "%s: %s", s->url, sqlite3_errmsg(r->db));
        reader_free(r);
        return SL_EIO;
    }
    *out = r;
    return 0;
}

static void reader_give(struct sl_store *s, struct reader *r)
{
    sl_mutex_lock(&s->rlock);
    if (s->npool < POOL_MAX) {
        s->pool[s->npool++] = r;
        r = NULL;
    }
    sl_mutex_unlock(&s->rlock);
    reader_free(r);
}

/* Decode (vtype, value) columns i and i+1 of st. Strings point into arena a; sketches are
 * new objects (refs 1). 0, SL_EPARSE (a corrupt value), SL_ENOMEM. */
static int decode_value(sqlite3_stmt *st, int i, struct sl_arena *a, struct sl_value *out)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    int ct = sqlite3_column_type(st, i + 1);
    *out = sl_value_null();
    if (!t || !strcmp(t, "null"))
        return 0;
    if (!strcmp(t, "Boolean")) {
        *out = sl_value_bool(sqlite3_column_int64(st, i + 1) != 0);
    } else if (!strcmp(t, "Integer")) {
        *out = sl_sv_int((int32_t)sqlite3_column_int64(st, i + 1));
    } else if (!strcmp(t, "Long")) {
        *out = sl_sv_long(sqlite3_column_int64(st, i + 1));
    } else if (!strcmp(t, "Float") || !strcmp(t, "Double")) {
        double d = ct == SQLITE_NULL ? NAN : sqlite3_column_double(st, i + 1);
        *out = t[0] == 'F' ? sl_sv_float((float)d) : sl_sv_double(d);
    } else if (!strcmp(t, "String") || !strcmp(t, "Bytes")) {
        const void *p = t[0] == 'S' ? (const void *)sqlite3_column_text(st, i + 1)
                                    : sqlite3_column_blob(st, i + 1);
        size_t n = (size_t)sqlite3_column_bytes(st, i + 1);
        char *c = sl_arena_alloc_bytes(a, n ? n : 1);
        if (!c)
            return SL_ENOMEM;
        if (n)
            memcpy(c, p, n);
        *out = sl_value_str(c, n);
        if (t[0] == 'B')
            out->type = SL_V_BYTES;
    } else if (!strcmp(t, "List") || !strcmp(t, "Set") || !strcmp(t, "Map")) {
        const char *p = (const char *)sqlite3_column_text(st, i + 1);
        size_t n = (size_t)sqlite3_column_bytes(st, i + 1);
        /* the parser keeps views into its input: copy it into the arena first */
        char *c = sl_arena_strndup(a, p ? p : "", n);
        if (!c)
            return SL_ENOMEM;
        int rc = sl_json_parse_value(a, c, n, NULL, out, NULL);
        if (rc)
            return rc == SL_ENOMEM ? rc : SL_EPARSE;
        if (t[1] == 'e' && out->type == SL_V_LIST)
            out->flags |= SL_VF_SET;
    } else if (!strcmp(t, "STATS") || !strcmp(t, "HLLP") || !strcmp(t, "BLOOM")) {
        struct sl_object *o = NULL;
        const void *p = sqlite3_column_blob(st, i + 1);
        int rc = sl_sketch_deserialize(p, (size_t)sqlite3_column_bytes(st, i + 1), &o, NULL);
        if (rc)
            return rc;
        out->type = SL_V_OBJECT;
        out->u.obj = o;
    } else {
        return SL_EPARSE;
    }
    return 0;
}

static void release_value(struct sl_value *v)
{
    if (v->type == SL_V_OBJECT && v->u.obj)
        sl_object_unref(v->u.obj);
    *v = sl_value_null();
}

int sl_store_get(struct sl_store *s, struct sl_str profile, struct sl_str entity,
                 struct sl_str groups, int64_t duration_ms, const int64_t *periods, size_t n,
                 struct sl_arena *a, struct sl_value *values, bool *found)
{
    for (size_t i = 0; i < n; i++) {
        values[i] = sl_value_null();
        found[i] = false;
    }
    if (!groups.len)
        groups = SL_STR("[]");
    struct reader *r;
    int rc = reader_take(s, &r);
    if (rc)
        return rc;
    /* one read transaction: every period from the same snapshot */
    (void)sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *st = r->get;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_reset(st);
        bind_str(st, 1, profile);
        bind_str(st, 2, entity);
        bind_str(st, 3, groups);
        sqlite3_bind_int64(st, 4, duration_ms);
        sqlite3_bind_int64(st, 5, periods[i]);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            rc = decode_value(st, 0, a, &values[i]);
            found[i] = rc == 0;
        } else if (step != SQLITE_DONE) {
            sl_warn("store", "%s: read failed: %s", s->url, sqlite3_errmsg(r->db));
            rc = SL_EIO;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    (void)sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    reader_give(s, r);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            release_value(&values[i]);
            found[i] = false;
        }
    }
    return rc;
}

int sl_store_series(struct sl_store *s, struct sl_str profile, struct sl_str entity,
                    struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                    void *ud)
{
    struct reader *r;
    int rc = reader_take(s, &r);
    if (rc)
        return rc;
    const char *sql =
        groups.ptr ? "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms,"
                     " vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2"
                     " AND start_ms BETWEEN ?3 AND ?4 AND groups = ?5 ORDER BY groups, start_ms"
                   : "SELECT profile, entity, groups, period, duration_ms, start_ms, end_ms,"
                     " vtype, value FROM measurements WHERE profile = ?1 AND entity = ?2"
                     " AND start_ms BETWEEN ?3 AND ?4 ORDER BY groups, start_ms";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sl_warn("store", "%s: %s", s->url, sqlite3_errmsg(r->db));
        reader_give(s, r);
        return SL_EIO;
    }
    bind_str(st, 1, profile);
    bind_str(st, 2, entity);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    if (groups.ptr)
        bind_str(st, 5, groups.len ? groups : SL_STR("[]"));
    struct sl_arena a;
    sl_arena_init(&a, 4096, MAX_VALUE_LEN * 2u);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sl_measurement m;
        m.profile = sl_str_make((const char *)sqlite3_column_text(st, 0),
                                (size_t)sqlite3_column_bytes(st, 0));
        m.entity = sl_str_make((const char *)sqlite3_column_text(st, 1),
                               (size_t)sqlite3_column_bytes(st, 1));
        m.groups = sl_str_make((const char *)sqlite3_column_text(st, 2),
                               (size_t)sqlite3_column_bytes(st, 2));
        m.period = sqlite3_column_int64(st, 3);
        m.duration_ms = sqlite3_column_int64(st, 4);
        m.start_ms = sqlite3_column_int64(st, 5);
        m.end_ms = sqlite3_column_int64(st, 6);
        sl_arena_reset(&a);
        rc = decode_value(st, 7, &a, &m.value);
        if (rc)
            break;
        rc = fn(ud, &m);
        release_value(&m.value);
    }
    if (!rc && step != SQLITE_DONE) {
        sl_warn("store", "%s: read failed: %s", s->url, sqlite3_errmsg(r->db));
        rc = SL_EIO;
    }
    sl_arena_fini(&a);
    sqlite3_finalize(st);
    reader_give(s, r);
    return rc;
}

int sl_store_profiles(struct sl_store *s, sl_store_profile_fn fn, void *ud)
{
    struct reader *r;
    int rc = reader_take(s, &r);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT profile, count(DISTINCT entity), count(*), min(start_ms),"
                           " max(end_ms) FROM measurements GROUP BY profile ORDER BY profile",
                           -1, &st, NULL) != SQLITE_OK) {
        sl_warn("store", "%s: %s", s->url, sqlite3_errmsg(r->db));
        reader_give(s, r);
        return SL_EIO;
    }
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ud,
                sl_str_make((const char *)sqlite3_column_text(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0)),
                (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2),
                sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
    if (!rc && step != SQLITE_DONE)
        rc = SL_EIO;
    sqlite3_finalize(st);
    reader_give(s, r);
    return rc;
}

int sl_store_entities(struct sl_store *s, struct sl_str profile, sl_store_entity_fn fn, void *ud)
{
    struct reader *r;
    int rc = reader_take(s, &r);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT entity, count(*), max(end_ms) FROM measurements"
                           " WHERE profile = ?1 GROUP BY entity ORDER BY entity",
                           -1, &st, NULL) != SQLITE_OK) {
        sl_warn("store", "%s: %s", s->url, sqlite3_errmsg(r->db));
        reader_give(s, r);
        return SL_EIO;
    }
    bind_str(st, 1, profile);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ud,
                sl_str_make((const char *)sqlite3_column_text(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0)),
                (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    if (!rc && step != SQLITE_DONE)
        rc = SL_EIO;
    sqlite3_finalize(st);
    reader_give(s, r);
    return rc;
}
