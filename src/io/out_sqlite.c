/*
 * out_sqlite.c — the `sqlite` sink: rows into a table of an SQLite database file, one
 * transaction per `batch` rows, upserts with ON CONFLICT, rejected rows as dead letters
 * (docs/sql-sinks.md). The options are the postgres sink's (out_sql.h), with `path` for
 * `dsn`.
 *
 * DESIGN: rows accumulate across batches like the postgres sink's (the delivery holds are
 * released after COMMIT). A transaction is BEGIN IMMEDIATE (the write lock up front, so a
 * busy database shows at BEGIN, not half-way), one step of a prepared INSERT per row, COMMIT.
 * A row that fails on its own (a constraint: NOT NULL, CHECK, UNIQUE without upsert; a type
 * of a STRICT table; too big) only undoes its statement in SQLite, so it is rejected with
 * sqlite's message and the transaction goes on. Anything else (busy past busy_timeout, I/O
 * error, disk full) rolls back and the same rows are tried again after a bounded exponential
 * back-off, until they commit or `max_retries` gives up. Duplicate keys within a transaction
 * need no care: the statements run in order, the last row wins.
 *
 * Values are bound with their own types (integers, reals, text, blobs; booleans as 0/1);
 * timestamps as ISO-8601 UTC text with microseconds, IPs as text, maps and lists as JSON
 * text (SQLite's json functions read it). The database is opened in WAL mode by default so
 * that readers do not block the sink.
 *
 * Threads: the sink's thread only; stats() reads atomics.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/component.h"
#include "io/out_sql.h"
#include "sys/fdio.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct lite_conf {
    struct sl_sql_conf sql;
    char *path;
    int64_t busy_timeout_ns;
    bool wal;
    int synchronous;
};

static const struct sl_option lite_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct lite_conf, path),
     "database file (created with its directories)", NULL, 0, 0, SL_OPT_REQUIRED},
    SL_SQL_OPTIONS(struct lite_conf),
    {"busy_timeout", SL_OPT_DURATION, "5s", offsetof(struct lite_conf, busy_timeout_ns),
     "how long a statement waits for a lock another connection holds before the transaction "
     "is retried",
     NULL, 0, 0, 0},
    {"wal", SL_OPT_BOOL, "true", offsetof(struct lite_conf, wal),
     "journal_mode=WAL (readers do not block the sink)", NULL, 0, 0, 0},
    {"synchronous", SL_OPT_ENUM, "normal", offsetof(struct lite_conf, synchronous),
     "PRAGMA synchronous: normal (WAL: durable at checkpoints, never corrupt), full (fsync "
     "each commit), off",
     "normal|full|off", 0, 0, 0},
    {0},
};

enum { ATT_OK, ATT_RETRY };

struct lite_sink {
    sqlite3 *db;
    sqlite3_stmt *ins;
    bool resolved;
    struct sl_sql_cols cols;
    struct sl_sql_pending pend;
    char **why;
    size_t rows_cap;
    struct sl_buf scratch;
    char errmsg[1024];
    int64_t backoff_ns;
    int64_t attempts;
    struct sl_sql_stats st;
    struct sl_log_limit lim;
    struct sl_log_limit elim; /* rows given up: not hidden by the retry warnings */
};

static void set_err(struct lite_sink *s, const char *what)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s (%s)", what,
             s->db ? sqlite3_errmsg(s->db) : "out of memory",
             s->db ? sqlite3_errstr(sqlite3_extended_errcode(s->db)) : "");
}

static void close_db(struct lite_sink *s)
{
    sqlite3_finalize(s->ins);
    s->ins = NULL;
    sqlite3_close(s->db);
    s->db = NULL;
}

static int exec(struct lite_sink *s, const char *sql)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        set_err(s, sql);
        return ATT_RETRY;
    }
    return ATT_OK;
}

/* Columns of the table (NULL, 0 when it does not exist). */
static int table_columns(struct sl_component *c, struct lite_sink *s, char ***out, size_t *n)
{
    const struct lite_conf *cf = c->conf;
    struct sl_buf q;
    sl_buf_init(&q, 1 << 20);
    int rc = sl_buf_puts(&q, "SELECT * FROM ");
    if (!rc)
        rc = sl_sql_quote_table(&q, cf->sql.table);
    *out = NULL;
    *n = 0;
    if (rc) {
        sl_buf_fini(&q);
        snprintf(s->errmsg, sizeof(s->errmsg), "table name: %s", sl_strerror(rc));
        return ATT_RETRY;
    }
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, q.ptr, -1, &st, NULL);
    sl_buf_fini(&q);
    if (rc != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(s->db), "no such table"))
            return ATT_OK;
        set_err(s, "reading the table's columns");
        return ATT_RETRY;
    }
    int nf = sqlite3_column_count(st);
    *out = sl_xcalloc((size_t)nf + 1, sizeof(**out));
    for (int i = 0; i < nf; i++)
        (*out)[i] = sl_xstrdup(sqlite3_column_name(st, i));
    *n = (size_t)nf;
    sqlite3_finalize(st);
    return ATT_OK;
}

static int insert_text(struct sl_component *c, struct lite_sink *s, struct sl_buf *b)
{
    const struct lite_conf *cf = c->conf;
    int rc = sl_buf_puts(b, "INSERT INTO ");
    if (!rc)
        rc = sl_sql_quote_table(b, cf->sql.table);
    if (!rc)
        rc = sl_buf_puts(b, " (");
    if (!rc)
        rc = sl_sql_col_list(b, &s->cols, NULL);
    if (!rc)
        rc = sl_buf_puts(b, ") VALUES (");
    for (size_t i = 0; i < s->cols.count && !rc; i++)
        rc = sl_buf_puts(b, i ? ", ?" : "?");
    if (!rc)
        rc = sl_buf_putc(b, ')');
    if (rc || !cf->sql.upsert_keys.count)
        return rc;
    rc = sl_buf_puts(b, " ON CONFLICT (");
    bool first = true;
    for (size_t i = 0; i < s->cols.count && !rc; i++) {
        if (!s->cols.v[i].key)
            continue;
        if (!first)
            rc = sl_buf_puts(b, ", ");
        if (!rc)
            rc = sl_sql_quote_ident(b, sl_str_c(s->cols.v[i].name));
        first = false;
    }
    if (!rc)
        rc = sl_buf_puts(b, ") DO ");
    first = true;
    for (size_t i = 0; i < s->cols.count && !rc; i++) {
        if (s->cols.v[i].key)
            continue;
        rc = sl_buf_puts(b, first ? "UPDATE SET " : ", ");
        if (!rc)
            rc = sl_sql_quote_ident(b, sl_str_c(s->cols.v[i].name));
        if (!rc)
            rc = sl_buf_puts(b, " = excluded.");
        if (!rc)
            rc = sl_sql_quote_ident(b, sl_str_c(s->cols.v[i].name));
        first = false;
    }
    if (!rc && first)
        rc = sl_buf_puts(b, "NOTHING");
    return rc;
}

/* Open, set up, decide the columns, prepare. ATT_OK, ATT_RETRY or SL_ECONFIG. */
static int ensure_ready(struct sl_component *c, struct lite_sink *s)
{
    const struct lite_conf *cf = c->conf;
    static const char *const sync_names[] = {"NORMAL", "FULL", "OFF"};
    if (s->ins)
        return ATT_OK;
    int rc;
    if (!s->db) {
        if ((rc = sl_fs_mkdir_parents(cf->path)) != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "cannot create the directory of %s: %s",
                     cf->path, sl_strerror(rc));
            return ATT_RETRY;
        }
        if (sqlite3_open_v2(cf->path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
            set_err(s, "cannot open the database");
            close_db(s);
            return ATT_RETRY;
        }
        sqlite3_busy_timeout(s->db, (int)(cf->busy_timeout_ns / 1000000));
        char pragma[96];
        snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s", sync_names[cf->synchronous]);
        if ((cf->wal && exec(s, "PRAGMA journal_mode=WAL") != ATT_OK) ||
            exec(s, pragma) != ATT_OK) {
            close_db(s);
            return ATT_RETRY;
        }
    }
    if (!s->resolved) {
        char **tc = NULL;
        size_t ntc = 0;
        if ((rc = table_columns(c, s, &tc, &ntc)) != ATT_OK)
            return rc;
        char why[512];
        rc = sl_sql_cols_resolve(&s->cols, c->name, &cf->sql, SL_SQL_SQLITE, s->pend.rows,
                                 s->pend.count, (const char *const *)tc, ntc, why, sizeof(why));
        for (size_t i = 0; i < ntc; i++)
            sl_free(tc[i]);
        sl_free(tc);
        if (rc) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
            return SL_ECONFIG;
        }
        s->resolved = true;
    }
    struct sl_buf q;
    sl_buf_init(&q, 1 << 20);
    rc = ATT_OK;
    if (cf->sql.create) {
        if (sl_sql_create_text(&q, cf->sql.table, &s->cols) != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "CREATE TABLE text too long");
            rc = SL_ECONFIG;
        } else {
            rc = exec(s, q.ptr);
        }
        sl_buf_reset(&q);
    }
    if (rc == ATT_OK) {
        if (insert_text(c, s, &q) != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "INSERT text too long");
            rc = SL_ECONFIG;
        } else if (sqlite3_prepare_v2(s->db, q.ptr, -1, &s->ins, NULL) != SQLITE_OK) {
            set_err(s, "preparing the INSERT");
            rc = ATT_RETRY;
        }
    }
    sl_buf_fini(&q);
    return rc;
}

/* Bind row ev to the INSERT. 0, or an SQLite / SL_E* code (the row is rejected). */
static int bind_row(struct lite_sink *s, const struct sl_event *ev)
{
    int rc = SQLITE_OK;
    for (size_t k = 0; k < s->cols.count && rc == SQLITE_OK; k++) {
        int pos = (int)k + 1;
        const struct sl_value *v = sl_path_get(&s->cols.v[k].path, ev);
        switch (v ? (enum sl_vtype)v->type : SL_V_NULL) {
        case SL_V_NULL:
            rc = sqlite3_bind_null(s->ins, pos);
            break;
        case SL_V_BOOL:
            rc = sqlite3_bind_int(s->ins, pos, v->u.b ? 1 : 0);
            break;
        case SL_V_INT:
            rc = sqlite3_bind_int64(s->ins, pos, v->u.i);
            break;
        case SL_V_DOUBLE:
            rc = sqlite3_bind_double(s->ins, pos, v->u.d);
            break;
        case SL_V_STRING: /* the batch outlives the step */
            rc = sqlite3_bind_text(s->ins, pos, v->len ? v->u.s : "", (int)v->len, SQLITE_STATIC);
            break;
        case SL_V_BYTES:
            rc = sqlite3_bind_blob(s->ins, pos, v->len ? v->u.s : "", (int)v->len, SQLITE_STATIC);
            break;
        default: {
            bool null;
            sl_buf_reset(&s->scratch);
            int erc = sl_sql_render(&s->scratch, v, &null);
            if (erc) {
                snprintf(s->errmsg, sizeof(s->errmsg), "row not rendered: %s", sl_strerror(erc));
                return erc;
            }
            rc = null ? sqlite3_bind_null(s->ins, pos)
                      : sqlite3_bind_text(s->ins, pos, s->scratch.ptr ? s->scratch.ptr : "",
                                          (int)s->scratch.len, SQLITE_TRANSIENT);
            break;
        }
        }
    }
    if (rc != SQLITE_OK)
        set_err(s, "binding");
    return rc;
}

static bool row_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return true;
    default:
        return false;
    }
}

static void reject(struct lite_sink *s, size_t row)
{
    if (!s->why[row])
        s->why[row] = sl_xstrdup(s->errmsg);
}

/* One transaction with pending rows [from, to). */
static int attempt(struct lite_sink *s, size_t from, size_t to)
{
    if (exec(s, "BEGIN IMMEDIATE") != ATT_OK)
        return ATT_RETRY;
    for (size_t i = from; i < to; i++) {
        sl_free(s->why[i]);
        s->why[i] = NULL;
    }
    for (size_t i = from; i < to; i++) {
        int rc = bind_row(s, s->pend.rows[i]);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s->ins);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
            else
                set_err(s, "insert");
        }
        sqlite3_reset(s->ins);
        sqlite3_clear_bindings(s->ins);
        if (rc == SQLITE_OK)
            continue;
        if (rc < 0 || row_error(rc)) { /* rc < 0: an SL_E* from rendering */
            reject(s, i);
            continue;
        }
        goto fail;
    }
    if (exec(s, "COMMIT") == ATT_OK)
        return ATT_OK;
fail:;
    char keep[sizeof(s->errmsg)];
    memcpy(keep, s->errmsg, sizeof(keep));
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    memcpy(s->errmsg, keep, sizeof(keep));
    return ATT_RETRY;
}

static int commit(struct sl_component *c)
{
    const struct lite_conf *cf = c->conf;
    struct lite_sink *s = c->state;
    size_t n = s->pend.count;
    int rc = 0;
    if (!n)
        return 0;
    if (n > s->rows_cap) {
        sl_free(s->why);
        s->rows_cap = n;
        s->why = sl_xcalloc(n, sizeof(*s->why));
    }
    uint64_t unknown = 0;
    size_t from = 0;
    while (from < n) {
        size_t to = n - from < (size_t)cf->sql.batch ? n : from + (size_t)cf->sql.batch;
        rc = ensure_ready(c, s);
        if (rc == SL_ECONFIG)
            break;
        if (rc == ATT_OK && (rc = attempt(s, from, to)) == ATT_OK) {
            s->attempts = 0;
            s->backoff_ns = cf->sql.retry_backoff_ns;
            size_t bad = 0;
            for (size_t i = from; i < to; i++) {
                bad += s->why[i] != NULL;
                unknown += sl_sql_cols_unknown(&s->cols, s->pend.rows[i]);
            }
            atomic_fetch_add_explicit(&s->st.transactions, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->st.rows_written, to - from - bad, memory_order_relaxed);
            from = to;
            continue;
        }
        s->attempts++;
        atomic_fetch_add_explicit(&s->st.retries, 1, memory_order_relaxed);
        sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name,
                           "%zu rows not committed (attempt %lld): %s; retrying in %lld ms",
                           to - from, (long long)s->attempts, s->errmsg,
                           (long long)(s->backoff_ns / 1000000));
        if (cf->sql.max_retries && s->attempts >= cf->sql.max_retries) {
            s->attempts = 0;
            rc = SL_EIO;
            break;
        }
        if (!s->ins) /* could not even set up: start over with a fresh connection */
            close_db(s);
        sl_sql_backoff_sleep(&s->backoff_ns, cf->sql.retry_backoff_max_ns);
    }
    if (unknown)
        atomic_fetch_add_explicit(&s->st.fields_ignored, unknown, memory_order_relaxed);
    if (rc) {
        sl_log_ratelimited(&s->elim, 1, SL_LOG_ERROR, c->name, "%zu rows not written: %s", n - from,
                           s->errmsg);
        atomic_fetch_add_explicit(&c->m.errors, n - from, memory_order_relaxed);
    }
    sl_sql_rejects_emit(c, &s->st, &s->lim, s->why, s->pend.rows, from);
    for (size_t i = 0; i < n; i++) {
        sl_free(s->why[i]);
        s->why[i] = NULL;
    }
    sl_sql_pending_done(&s->pend, rc == 0);
    return rc;
}

static int lite_write(struct sl_component *c, struct sl_batch *b)
{
    const struct lite_conf *cf = c->conf;
    struct lite_sink *s = c->state;
    if (!b->count)
        return 0;
    sl_sql_pending_add(&s->pend, b);
    if (s->pend.count >= (size_t)cf->sql.batch)
        commit(c);
    return 0;
}

static int lite_flush(struct sl_component *c)
{
    commit(c);
    return 0;
}

static void lite_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    commit(c);
}

static size_t lite_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct lite_sink *s = c->state;
    return s ? sl_sql_stats_fill(&s->st, "sqlite", out) : 0;
}

static void lite_fini(struct sl_component *c)
{
    struct lite_sink *s = c->state;
    if (!s)
        return;
    sl_sql_pending_fini(&s->pend);
    close_db(s);
    sl_sql_cols_fini(&s->cols);
    sl_buf_fini(&s->scratch);
    sl_free(s->why);
    sl_free(s);
    c->state = NULL;
}

static int lite_init(struct sl_component *c, struct sl_diag *d)
{
    const struct lite_conf *cf = c->conf;
    int rc;
    if (!cf->sql.table[0]) {
        sl_component_diag_opt(c, "table", d);
        return sl_diag_set(d, SL_ECONFIG, "sqlite sink '%s': empty table name", c->name);
    }
    for (size_t k = 0; k < cf->sql.upsert_keys.count && cf->sql.columns.count; k++) {
        bool found = false;
        for (size_t i = 0; i < cf->sql.columns.count && !found; i++)
            found = strcmp(cf->sql.columns.items[i], cf->sql.upsert_keys.items[k]) == 0;
        if (!found) {
            sl_component_diag_opt(c, "upsert_keys", d);
            sl_diag_hint(d, "every upsert key must be one of `columns`");
            return sl_diag_set(d, SL_ECONFIG, "sqlite sink '%s': upsert key '%s' is not a column",
                               c->name, cf->sql.upsert_keys.items[k]);
        }
    }
    if (!cf->path[0] || cf->path[strlen(cf->path) - 1] == '/' ||
        (rc = sl_fs_check_writable(cf->path)) != 0) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "a file in a writable directory (missing directories are created)");
        return sl_diag_set(d, SL_ECONFIG, "sqlite sink '%s': cannot write \"%s\"", c->name,
                           cf->path);
    }
    struct lite_sink *s = sl_xcalloc(1, sizeof(*s));
    sl_buf_init(&s->scratch, (size_t)64 << 20);
    s->backoff_ns = cf->sql.retry_backoff_ns;
    c->state = s;
    return 0;
}

const struct sl_component_ops sl_out_sqlite_ops = {
    .type = "sqlite",
    .kind = SL_KIND_SINK,
    .summary = "write rows into an SQLite table (a transaction per batch, upserts, dead letters "
               "for rejected rows, WAL)",
    .options = lite_opts,
    .conf_len = sizeof(struct lite_conf),
    .init = lite_init,
    .fini = lite_fini,
    .write = lite_write,
    .flush = lite_flush,
    .finish = lite_finish,
    .stats = lite_stats,
    .flush_interval_ns = 250000000,
};
