/*
 * sqldb.c — SQLite and PostgreSQL behind one small interface (sqldb.h).
 *
 * DESIGN: a connection is either a sqlite3 handle or a PGconn; every call switches on that.
 * PostgreSQL statements are named prepared statements ("sl<id>"), prepared lazily and again
 * after a reconnect (the connection's generation changes). Parameters go out as text for
 * numbers (PostgreSQL infers the parameter's type from the query, so a binary int8 could
 * meet an int4 slot) and binary for text and bytea (no NUL termination needed, lengths are
 * exact). Results come back as text and are parsed per column; bytea's hex form is decoded
 * on request.
 *
 * Pipelining: sl_sqldb_queue() enters libpq's pipeline mode lazily; any synchronous call, a
 * chunk of CHUNK queued statements, or the commit sends a Sync and drains the results (the
 * first error is kept), leaving pipeline mode afterwards except mid-chunk.
 */
#include "state/sqldb.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "sys/fdio.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MS    5000
#define CHUNK      1000
#define MAX_PARAMS 32

struct sl_sqldb_stmt {
    struct sl_sqldb *db;
    char *sql; /* PostgreSQL: ?N rewritten to $N */
    sqlite3_stmt *lite;
    char name[24];
    uint64_t prepared_gen; /* PostgreSQL: the connection generation it was prepared on */
    struct sl_sqldb_stmt *next, *prev;
};

struct sl_sqldb {
    bool pg;
    char *name;     /* url, password masked */
    char *conninfo; /* PostgreSQL */
    sqlite3 *lite;
    PGconn *conn;
    uint64_t gen; /* PostgreSQL: bumped on each (re)connect */
    bool piped;   /* in pipeline mode */
    int pending;  /* statements sent since the last Sync */
    int first_err;
    bool in_tx;
    uint32_t next_id;
    struct sl_sqldb_stmt *stmts;
    struct sl_buf copy; /* COPY rows not yet sent */
    bool copying;
    char err[512];
};

struct sl_sqldb_row {
    struct sl_sqldb *db;
    sqlite3_stmt *st;
    PGresult *res;
    int row;
    struct sl_buf *scratch;
};

/* ------------------------------------------------------------------------------------------
 * Errors and names
 */

static void set_err(struct sl_sqldb *db, const char *msg)
{
    snprintf(db->err, sizeof db->err, "%.*s", (int)strcspn(msg ? msg : "?", "\n"), msg ? msg : "?");
}

static void set_pg_err(struct sl_sqldb *db, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(db->conn);
    if (!m || !*m)
        m = "connection lost";
    set_err(db, m);
}

/* The url with "password=..." or the URI's ":password@" masked. */
static char *masked(const char *url)
{
    char *s = sl_xstrdup(url);
    char *p = strstr(s, "password=");
    if (p) {
        p += 9;
        size_t n = strcspn(p, " &");
        memset(p, '*', n);
    }
    char *at = strchr(s, '@'), *sl = strstr(s, "//");
    if (at && sl && sl < at) {
        char *colon = memchr(sl + 2, ':', (size_t)(at - sl - 2));
        if (colon)
            memset(colon + 1, '*', (size_t)(at - colon - 1));
    }
    return s;
}

const char *sl_sqldb_name(const struct sl_sqldb *db)
{
    return db->name;
}

const char *sl_sqldb_errmsg(const struct sl_sqldb *db)
{
    return db->err;
}

bool sl_sqldb_is_postgres(const struct sl_sqldb *db)
{
    return db->pg;
}

/* ------------------------------------------------------------------------------------------
 * Open and close
 */

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* "relation already exists, skipping" and the like */
}

static int pg_connect(struct sl_sqldb *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    if (db->conn)
        PQfinish(db->conn);
    db->conn = PQconnectdb(db->conninfo);
    db->piped = false;
    db->pending = 0;
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        set_err(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
        return SL_EIO;
    }
    PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
    if (PQsetClientEncoding(db->conn, "UTF8") != 0) {
        set_err(db, PQerrorMessage(db->conn));
        return SL_EIO;
    }
    db->gen++;
    return 0;
}

/* Outside a transaction: reconnect a lost connection (once). */
static int pg_ready(struct sl_sqldb *db)
{
    if (PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    if (db->in_tx) {
        set_err(db, "connection lost inside a transaction");
        return SL_EIO;
    }
    return pg_connect(db);
}

int sl_sqldb_open(const char *url, struct sl_sqldb **out, struct sl_diag *d)
{
    *out = NULL;
    if (!url || !*url)
        return sl_diag_set(d, SL_ECONFIG, "database: empty url");
    struct sl_sqldb *db = sl_xcalloc(1, sizeof *db);
    sl_buf_init(&db->copy, 0);
    db->name = masked(url);
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
        db->pg = true;
        db->conninfo = sl_xstrdup(url);
    } else if (!strncmp(url, "postgres:", 9) || !strncmp(url, "postgresql:", 11)) {
        db->pg = true;
        db->conninfo = sl_xstrdup(strchr(url, ':') + 1);
    }
    if (db->pg) {
        if (pg_connect(db)) {
            int rc = sl_diag_set(d, SL_EIO, "database %s: cannot connect: %s", db->name, db->err);
            sl_sqldb_close(db);
            return rc;
        }
        *out = db;
        return 0;
    }
    const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
    if (!strncmp(path, "//", 2))
        path += 2;
    if (!*path) {
        sl_sqldb_close(db);
        return sl_diag_set(d, SL_ECONFIG, "database %s: empty path", url);
    }
    if (strcmp(path, ":memory:") != 0) {
        int mk = sl_fs_mkdir_parents(path);
        if (mk) {
            sl_sqldb_close(db);
            return sl_diag_set(d, SL_EIO, "database %s: cannot create its directory: %s", path,
                               sl_strerror(mk));
        }
    }
    int rc = sqlite3_open_v2(
        path, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db->lite, BUSY_MS);
        rc = sqlite3_exec(db->lite, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL,
                          NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        set_err(db, db->lite ? sqlite3_errmsg(db->lite) : sqlite3_errstr(rc));
        rc = sl_diag_set(d, SL_EIO, "database %s: %s", path, db->err);
        sl_sqldb_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void sl_sqldb_close(struct sl_sqldb *db)
{
    if (!db)
        return;
    while (db->stmts)
        sl_sqldb_finalize(db->stmts);
    if (db->conn)
        PQfinish(db->conn);
    if (db->lite)
        sqlite3_close(db->lite);
    sl_buf_fini(&db->copy);
    sl_free(db->conninfo);
    sl_free(db->name);
    sl_free(db);
}

/* ------------------------------------------------------------------------------------------
 * PostgreSQL parameters and pipeline
 */

struct pg_params {
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char num[MAX_PARAMS][32];
    char *owned[MAX_PARAMS];
};

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (!len || len > n || c == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f) ||
        (c == 0xed && p[1] > 0x9f))
        return 0;
    return len;
}

static void pg_params_fini(struct pg_params *pp, int n)
{
    for (int i = 0; i < n; i++)
        sl_free(pp->owned[i]);
}

static int pg_params_init(struct sl_sqldb *db, struct pg_params *pp, const struct sl_sqldb_param *p,
                          int n)
{
    if (n > MAX_PARAMS) {
        set_err(db, "too many parameters");
        return SL_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        pp->owned[i] = NULL;
        pp->formats[i] = 0;
        pp->lengths[i] = 0;
        switch (p[i].type) {
        case SL_SQLDB_NULL:
            pp->values[i] = NULL;
            break;
        case SL_SQLDB_INT:
            snprintf(pp->num[i], sizeof pp->num[i], "%lld", (long long)p[i].i);
            pp->values[i] = pp->num[i];
            break;
        case SL_SQLDB_REAL:
            if (p[i].d != p[i].d)
                snprintf(pp->num[i], sizeof pp->num[i], "NaN");
            else if (p[i].d > 1.7976931348623157e308)
                snprintf(pp->num[i], sizeof pp->num[i], "Infinity");
            else if (p[i].d < -1.7976931348623157e308)
                snprintf(pp->num[i], sizeof pp->num[i], "-Infinity");
            else
                snprintf(pp->num[i], sizeof pp->num[i], "%.17g", p[i].d);
            pp->values[i] = pp->num[i];
            break;
        case SL_SQLDB_TEXT: {
            const unsigned char *s = (const unsigned char *)(p[i].p ? p[i].p : "");
            size_t len = p[i].p ? p[i].n : 0, at = 0;
            while (at < len) {
                size_t k = utf8_len(s + at, len - at);
                if (!k)
                    break;
                at += k;
            }
            if (at < len) { /* see the header: bad bytes become '?' */
                char *c = sl_xmalloc(len ? len : 1);
                memcpy(c, s, len);
                while (at < len) {
                    size_t k = utf8_len(s + at, len - at);
                    if (!k) {
                        c[at] = '?';
                        k = 1;
                    }
                    at += k;
                }
                pp->owned[i] = c;
                s = (const unsigned char *)c;
            }
            pp->values[i] = (const char *)s;
            pp->lengths[i] = (int)len;
            pp->formats[i] = 1;
            break;
        }
        case SL_SQLDB_BLOB:
            pp->values[i] = p[i].p ? p[i].p : "";
            pp->lengths[i] = (int)p[i].n;
            pp->formats[i] = 1;
            break;
        }
    }
    return 0;
}

/* Sync and read every pending result; leave pipeline mode. The first error is kept in
 * db->first_err / db->err. */
static int pg_flush(struct sl_sqldb *db)
{
    if (!db->piped)
        return db->first_err;
    if (PQpipelineSync(db->conn) != 1) {
        set_err(db, PQerrorMessage(db->conn));
        db->first_err = SL_EIO;
    } else {
        int nulls = 0;
        for (;;) {
            PGresult *r = PQgetResult(db->conn);
            if (!r) {
                if (PQstatus(db->conn) == CONNECTION_BAD || ++nulls > 2 * CHUNK + 4) {
                    if (!db->first_err) {
                        set_pg_err(db, NULL);
                        db->first_err = SL_EIO;
                    }
                    break;
                }
                continue;
            }
            nulls = 0;
            ExecStatusType es = PQresultStatus(r);
            if (es == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                break;
            }
            if (es == PGRES_FATAL_ERROR && !db->first_err) {
                set_pg_err(db, r);
                db->first_err = SL_EIO;
            } else if (es == PGRES_PIPELINE_ABORTED && !db->first_err) {
                db->first_err = SL_EIO;
            }
            PQclear(r);
        }
    }
    db->pending = 0;
    db->piped = false;
    if (PQstatus(db->conn) == CONNECTION_OK && PQexitPipelineMode(db->conn) != 1 &&
        !db->first_err) {
        set_err(db, PQerrorMessage(db->conn));
        db->first_err = SL_EIO;
    }
    return db->first_err;
}

/* Before a synchronous call: no pipeline, a live connection. */
static int pg_sync_ready(struct sl_sqldb *db)
{
    if (db->piped) {
        int rc = pg_flush(db);
        if (rc)
            return rc;
    }
    return pg_ready(db);
}

static int pg_prepare(struct sl_sqldb_stmt *st)
{
    struct sl_sqldb *db = st->db;
    if (st->prepared_gen == db->gen)
        return 0;
    if (db->piped) {
        if (PQsendPrepare(db->conn, st->name, st->sql, 0, NULL) != 1) {
            set_err(db, PQerrorMessage(db->conn));
            return SL_EIO;
        }
        db->pending++;
    } else {
        PGresult *r = PQprepare(db->conn, st->name, st->sql, 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            set_pg_err(db, r);
        PQclear(r);
        if (!ok)
            return SL_EIO;
    }
    st->prepared_gen = db->gen;
    return 0;
}

static uint64_t pg_changed(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    return t && *t ? strtoull(t, NULL, 10) : 0;
}

/* ------------------------------------------------------------------------------------------
 * SQLite binding
 */

static int lite_bind(struct sl_sqldb *db, sqlite3_stmt *st, const struct sl_sqldb_param *p, int n)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < n; i++) {
        int rc = SQLITE_OK;
        switch (p[i].type) {
        case SL_SQLDB_NULL:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        case SL_SQLDB_INT:
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
            break;
        case SL_SQLDB_REAL:
            rc = sqlite3_bind_double(st, i + 1, p[i].d);
            break;
        case SL_SQLDB_TEXT:
            rc = sqlite3_bind_text(st, i + 1, p[i].p ? p[i].p : "", (int)p[i].n, SQLITE_STATIC);
            break;
        case SL_SQLDB_BLOB:
            rc = sqlite3_bind_blob(st, i + 1, p[i].p ? p[i].p : "", (int)p[i].n, SQLITE_STATIC);
            break;
        }
        if (rc != SQLITE_OK) {
            set_err(db, sqlite3_errmsg(db->lite));
            return SL_EIO;
        }
    }
    return 0;
}

static int lite_step_all(struct sl_sqldb *db, sqlite3_stmt *st, sl_sqldb_row_fn fn, void *ud,
                         uint64_t *changed)
{
    struct sl_buf scratch;
    sl_buf_init(&scratch, 0);
    struct sl_sqldb_row row = {.db = db, .st = st, .scratch = &scratch};
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (fn && (rc = fn(ud, &row)) != 0)
            break;
    if (!rc && step != SQLITE_DONE) {
        set_err(db, sqlite3_errmsg(db->lite));
        rc = SL_EIO;
    }
    if (!rc && changed)
        *changed = (uint64_t)sqlite3_changes(db->lite);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sl_buf_fini(&scratch);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Statements
 */

static char *to_dollars(const char *sql)
{
    char *s = sl_xstrdup(sql);
    bool quoted = false;
    for (char *p = s; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (!quoted && *p == '?' && p[1] >= '0' && p[1] <= '9')
            *p = '$';
    }
    return s;
}

int sl_sqldb_prepare(struct sl_sqldb *db, const char *sql, struct sl_sqldb_stmt **out)
{
    *out = NULL;
    struct sl_sqldb_stmt *st = sl_xcalloc(1, sizeof *st);
    st->db = db;
    if (db->pg) {
        st->sql = to_dollars(sql);
        snprintf(st->name, sizeof st->name, "sl%u", db->next_id++);
        int rc = pg_sync_ready(db);
        if (!rc)
            rc = pg_prepare(st);
        if (rc) {
            sl_free(st->sql);
            sl_free(st);
            return rc;
        }
    } else if (sqlite3_prepare_v3(db->lite, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite, NULL) !=
               SQLITE_OK) {
        set_err(db, sqlite3_errmsg(db->lite));
        sl_free(st);
        return SL_EIO;
    }
    st->next = db->stmts;
    if (db->stmts)
        db->stmts->prev = st;
    db->stmts = st;
    *out = st;
    return 0;
}

void sl_sqldb_finalize(struct sl_sqldb_stmt *st)
{
    if (!st)
        return;
    struct sl_sqldb *db = st->db;
    if (st->prev)
        st->prev->next = st->next;
    else
        db->stmts = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->lite)
        sqlite3_finalize(st->lite);
    if (db->pg && st->prepared_gen == db->gen && !db->piped && !db->in_tx &&
        PQstatus(db->conn) == CONNECTION_OK) {
        char q[48];
        snprintf(q, sizeof q, "DEALLOCATE %s", st->name);
        PQclear(PQexec(db->conn, q));
    }
    sl_free(st->sql);
    sl_free(st);
}

/* One synchronous PostgreSQL statement: named (st) or one-off (sql). */
static int pg_run(struct sl_sqldb *db, struct sl_sqldb_stmt *st, const char *sql,
                  const struct sl_sqldb_param *p, int n, sl_sqldb_row_fn fn, void *ud,
                  uint64_t *changed)
{
    int rc = pg_sync_ready(db);
    if (!rc && st)
        rc = pg_prepare(st);
    struct pg_params pp;
    if (!rc)
        rc = pg_params_init(db, &pp, p, n);
    if (rc)
        return rc;
    PGresult *r;
    if (st) {
        r = PQexecPrepared(db->conn, st->name, n, pp.values, pp.lengths, pp.formats, 0);
    } else {
        char *q = to_dollars(sql);
        r = PQexecParams(db->conn, q, n, NULL, pp.values, pp.lengths, pp.formats, 0);
        sl_free(q);
    }
    pg_params_fini(&pp, n);
    ExecStatusType es = PQresultStatus(r);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        set_pg_err(db, r);
        PQclear(r);
        return SL_EIO;
    }
    if (changed)
        *changed = pg_changed(r);
    if (fn) {
        struct sl_buf scratch;
        sl_buf_init(&scratch, 0);
        struct sl_sqldb_row row = {.db = db, .res = r, .scratch = &scratch};
        int nt = PQntuples(r);
        for (int i = 0; i < nt && !rc; i++) {
            row.row = i;
            rc = fn(ud, &row);
        }
        sl_buf_fini(&scratch);
    }
    PQclear(r);
    return rc;
}

static int lite_run(struct sl_sqldb *db, struct sl_sqldb_stmt *st, const char *sql,
                    const struct sl_sqldb_param *p, int n, sl_sqldb_row_fn fn, void *ud,
                    uint64_t *changed)
{
    sqlite3_stmt *s = st ? st->lite : NULL;
    if (!s && sqlite3_prepare_v2(db->lite, sql, -1, &s, NULL) != SQLITE_OK) {
        set_err(db, sqlite3_errmsg(db->lite));
        return SL_EIO;
    }
    int rc = lite_bind(db, s, p, n);
    if (!rc)
        rc = lite_step_all(db, s, fn, ud, changed);
    if (!st)
        sqlite3_finalize(s);
    return rc;
}

int sl_sqldb_run(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n, uint64_t *changed)
{
    return st->db->pg ? pg_run(st->db, st, NULL, p, n, NULL, NULL, changed)
                      : lite_run(st->db, st, NULL, p, n, NULL, NULL, changed);
}

int sl_sqldb_run_sql(struct sl_sqldb *db, const char *sql, const struct sl_sqldb_param *p, int n,
                     uint64_t *changed)
{
    return db->pg ? pg_run(db, NULL, sql, p, n, NULL, NULL, changed)
                  : lite_run(db, NULL, sql, p, n, NULL, NULL, changed);
}

int sl_sqldb_query(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n,
                   sl_sqldb_row_fn fn, void *ud)
{
    return st->db->pg ? pg_run(st->db, st, NULL, p, n, fn, ud, NULL)
                      : lite_run(st->db, st, NULL, p, n, fn, ud, NULL);
}

int sl_sqldb_query_sql(struct sl_sqldb *db, const char *sql, const struct sl_sqldb_param *p, int n,
                       sl_sqldb_row_fn fn, void *ud)
{
    return db->pg ? pg_run(db, NULL, sql, p, n, fn, ud, NULL)
                  : lite_run(db, NULL, sql, p, n, fn, ud, NULL);
}

int sl_sqldb_exec(struct sl_sqldb *db, const char *sql)
{
    if (!db->pg) {
        char *why = NULL;
        if (sqlite3_exec(db->lite, sql, NULL, NULL, &why) != SQLITE_OK) {
            set_err(db, why ? why : sqlite3_errmsg(db->lite));
            sqlite3_free(why);
            return SL_EIO;
        }
        return 0;
    }
    int rc = pg_sync_ready(db);
    if (rc)
        return rc;
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType es = PQresultStatus(r);
    rc = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK ? 0 : SL_EIO;
    if (rc)
        set_pg_err(db, r);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Transactions and queued statements
 */

int sl_sqldb_begin(struct sl_sqldb *db)
{
    db->first_err = 0;
    int rc = sl_sqldb_exec(db, db->pg ? "BEGIN" : "BEGIN IMMEDIATE");
    db->in_tx = rc == 0;
    return rc;
}

int sl_sqldb_queue(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n)
{
    struct sl_sqldb *db = st->db;
    if (db->first_err)
        return db->first_err;
    if (!db->pg) {
        int rc = lite_run(db, st, NULL, p, n, NULL, NULL, NULL);
        if (rc)
            db->first_err = rc;
        return rc;
    }
    if (!db->piped) {
        if (PQenterPipelineMode(db->conn) != 1) {
            set_err(db, PQerrorMessage(db->conn));
            return db->first_err = SL_EIO;
        }
        db->piped = true;
    }
    struct pg_params pp;
    int rc = pg_prepare(st);
    if (!rc)
        rc = pg_params_init(db, &pp, p, n);
    if (rc)
        return db->first_err = rc;
    int ok = PQsendQueryPrepared(db->conn, st->name, n, pp.values, pp.lengths, pp.formats, 0);
    pg_params_fini(&pp, n);
    if (ok != 1) {
        set_err(db, PQerrorMessage(db->conn));
        return db->first_err = SL_EIO;
    }
    if (++db->pending >= CHUNK)
        return pg_flush(db);
    return 0;
}

void sl_sqldb_rollback(struct sl_sqldb *db)
{
    if (db->pg && db->piped)
        pg_flush(db);
    char keep[sizeof db->err];
    memcpy(keep, db->err, sizeof keep); /* the error that caused it, not ROLLBACK's */
    if (!db->pg)
        sqlite3_exec(db->lite, "ROLLBACK", NULL, NULL, NULL);
    else if (PQstatus(db->conn) == CONNECTION_OK)
        PQclear(PQexec(db->conn, "ROLLBACK"));
    memcpy(db->err, keep, sizeof keep);
    db->in_tx = false;
    db->first_err = 0;
}

int sl_sqldb_commit(struct sl_sqldb *db)
{
    int rc = db->pg ? pg_flush(db) : db->first_err;
    if (!rc)
        rc = sl_sqldb_exec(db, "COMMIT");
    if (rc) {
        sl_sqldb_rollback(db);
        return SL_EIO;
    }
    db->in_tx = false;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Columns
 */

bool sl_sqldb_col_null(const struct sl_sqldb_row *r, int i)
{
    return r->res ? PQgetisnull(r->res, r->row, i) != 0
                  : sqlite3_column_type(r->st, i) == SQLITE_NULL;
}

int64_t sl_sqldb_col_int(const struct sl_sqldb_row *r, int i)
{
    if (!r->res)
        return sqlite3_column_int64(r->st, i);
    if (PQgetisnull(r->res, r->row, i))
        return 0;
    const char *t = PQgetvalue(r->res, r->row, i);
    if (t[0] == 't' || t[0] == 'f') /* boolean */
        return t[0] == 't';
    return strtoll(t, NULL, 10);
}

double sl_sqldb_col_real(const struct sl_sqldb_row *r, int i)
{
    if (!r->res)
        return sqlite3_column_double(r->st, i);
    if (PQgetisnull(r->res, r->row, i))
        return 0;
    return strtod(PQgetvalue(r->res, r->row, i), NULL);
}

struct sl_str sl_sqldb_col_text(const struct sl_sqldb_row *r, int i)
{
    if (!r->res) {
        const char *p = (const char *)sqlite3_column_text(r->st, i);
        return sl_str_make(p ? p : "", (size_t)sqlite3_column_bytes(r->st, i));
    }
    return sl_str_make(PQgetvalue(r->res, r->row, i), (size_t)PQgetlength(r->res, r->row, i));
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

struct sl_str sl_sqldb_col_blob(const struct sl_sqldb_row *r, int i)
{
    if (!r->res) {
        const char *p = sqlite3_column_blob(r->st, i);
        return sl_str_make(p ? p : "", (size_t)sqlite3_column_bytes(r->st, i));
    }
    const char *t = PQgetvalue(r->res, r->row, i);
    size_t n = (size_t)PQgetlength(r->res, r->row, i);
    if (n < 2 || t[0] != '\\' || t[1] != 'x') /* not bytea's hex output: the text as is */
        return sl_str_make(t, n);
    sl_buf_reset(r->scratch);
    if (sl_buf_reserve(r->scratch, n / 2 + 1))
        return sl_str_make("", 0);
    size_t k = 0;
    for (size_t j = 2; j + 1 < n; j += 2) {
        int hi = hexval(t[j]), lo = hexval(t[j + 1]);
        if (hi < 0 || lo < 0)
            break;
        r->scratch->ptr[k++] = (char)(hi << 4 | lo);
    }
    r->scratch->len = k;
    return sl_str_make(r->scratch->ptr, k);
}

enum sl_sqldb_type sl_sqldb_col_type(const struct sl_sqldb_row *r, int i)
{
    if (!r->res) {
        switch (sqlite3_column_type(r->st, i)) {
        case SQLITE_INTEGER:
            return SL_SQLDB_INT;
        case SQLITE_FLOAT:
            return SL_SQLDB_REAL;
        case SQLITE_TEXT:
            return SL_SQLDB_TEXT;
        case SQLITE_BLOB:
            return SL_SQLDB_BLOB;
        default:
            return SL_SQLDB_NULL;
        }
    }
    if (PQgetisnull(r->res, r->row, i))
        return SL_SQLDB_NULL;
    switch (PQftype(r->res, i)) {
    case 20:   /* int8 */
    case 21:   /* int2 */
    case 23:   /* int4 */
    case 16:   /* bool */
    case 1700: /* numeric (sum of bigint) */
        return SL_SQLDB_INT;
    case 700:
    case 701:
        return SL_SQLDB_REAL;
    case 17:
        return SL_SQLDB_BLOB;
    default:
        return SL_SQLDB_TEXT;
    }
}

/* ------------------------------------------------------------------------------------------
 * COPY (PostgreSQL)
 */

#define COPY_FLUSH (256u * 1024u)

int sl_sqldb_copy_start(struct sl_sqldb *db, const char *copy_sql)
{
    if (!db->pg) {
        set_err(db, "COPY needs PostgreSQL");
        return SL_EINVAL;
    }
    int rc = pg_sync_ready(db);
    if (rc)
        return rc;
    PGresult *r = PQexec(db->conn, copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        set_pg_err(db, r);
        PQclear(r);
        return SL_EIO;
    }
    PQclear(r);
    sl_buf_reset(&db->copy);
    db->copying = true;
    return 0;
}

static void copy_text(struct sl_buf *b, const unsigned char *s, size_t n)
{
    size_t at = 0, run = 0;
    while (at < n) {
        unsigned char c = s[at];
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        size_t k = esc ? 1 : utf8_len(s + at, n - at);
        if (!esc && k) {
            at += k;
            run += k;
            continue;
        }
        sl_buf_append(b, s + at - run, run);
        run = 0;
        sl_buf_puts(b, esc ? esc : "?");
        at++;
    }
    sl_buf_append(b, s + at - run, run);
}

int sl_sqldb_copy_row(struct sl_sqldb *db, const struct sl_sqldb_param *p, int n)
{
    if (!db->copying)
        return SL_EINVAL;
    struct sl_buf *b = &db->copy;
    for (int i = 0; i < n; i++) {
        if (i)
            sl_buf_putc(b, '\t');
        switch (p[i].type) {
        case SL_SQLDB_NULL:
            sl_buf_puts(b, "\\N");
            break;
        case SL_SQLDB_INT:
            sl_buf_appendf(b, "%lld", (long long)p[i].i);
            break;
        case SL_SQLDB_REAL:
            if (p[i].d != p[i].d)
                sl_buf_puts(b, "NaN");
            else if (p[i].d > 1.7976931348623157e308)
                sl_buf_puts(b, "Infinity");
            else if (p[i].d < -1.7976931348623157e308)
                sl_buf_puts(b, "-Infinity");
            else
                sl_buf_appendf(b, "%.17g", p[i].d);
            break;
        case SL_SQLDB_TEXT:
            copy_text(b, (const unsigned char *)(p[i].p ? p[i].p : ""), p[i].p ? p[i].n : 0);
            break;
        case SL_SQLDB_BLOB: { /* bytea hex, its backslash escaped for COPY */
            static const char hex[] = "0123456789abcdef";
            sl_buf_puts(b, "\\\\x");
            if (sl_buf_reserve(b, 2 * p[i].n))
                return SL_ENOMEM;
            const unsigned char *s = (const unsigned char *)p[i].p;
            for (size_t j = 0; j < p[i].n; j++) {
                b->ptr[b->len++] = hex[s[j] >> 4];
                b->ptr[b->len++] = hex[s[j] & 15];
            }
            break;
        }
        }
    }
    if (sl_buf_putc(b, '\n'))
        return SL_ENOMEM;
    if (b->len >= COPY_FLUSH) {
        if (PQputCopyData(db->conn, b->ptr, (int)b->len) != 1) {
            set_err(db, PQerrorMessage(db->conn));
            return SL_EIO;
        }
        sl_buf_reset(b);
    }
    return 0;
}

int sl_sqldb_copy_end(struct sl_sqldb *db)
{
    if (!db->copying)
        return SL_EINVAL;
    db->copying = false;
    int rc = 0;
    if (db->copy.len && PQputCopyData(db->conn, db->copy.ptr, (int)db->copy.len) != 1)
        rc = SL_EIO;
    sl_buf_reset(&db->copy);
    if (PQputCopyEnd(db->conn, rc ? "sluice: a row could not be sent" : NULL) != 1)
        rc = SL_EIO;
    PGresult *r;
    while ((r = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            set_pg_err(db, r);
            rc = SL_EIO;
        }
        PQclear(r);
    }
    if (rc && !db->err[0])
        set_err(db, PQerrorMessage(db->conn));
    return rc;
}
