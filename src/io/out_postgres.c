/*
 * out_postgres.c — the `postgres` sink: rows into a PostgreSQL table with COPY, one
 * transaction per `batch` rows, upserts through a staging table, rejected rows as dead
 * letters, reconnects with back-off (docs/sql-sinks.md).
 *
 * Write path. Rows accumulate across batches (up to `batch`, or until the next flush, every
 * 250 ms); the sink holds each batch's delivery token and releases it only after COMMIT, so
 * a source commits its input after PostgreSQL did. All pending rows are rendered once into
 * COPY text (escaped \\ \t \n \r, NULL as \N), one line per row; a transaction sends some
 * of those lines:
 *   - plain inserts: `COPY t (cols) FROM STDIN` on its own (a single statement is its own
 *     transaction);
 *   - upsert_keys: BEGIN; COPY into a temporary staging table (same column types, no
 *     constraints, ON COMMIT DELETE ROWS, plus a row number); INSERT INTO t SELECT DISTINCT
 *     ON (keys) ... ORDER BY keys, row number DESC ON CONFLICT (keys) DO UPDATE SET the other
 *     columns = EXCLUDED; COMMIT. The DISTINCT ON keeps the last row of each key in the
 *     transaction (ON CONFLICT cannot touch a row twice in one statement), and a retried
 *     transaction updates what an earlier attempt may have committed: no duplicates.
 *
 * Failures. A data error (SQLSTATE class 22 data exception, 23 integrity violation, 54
 * program limit) is the rows' fault: COPY names the line, so that row is rejected and the
 * others are sent again; without a line (the INSERT of an upsert, a deferred constraint) the
 * rows are bisected until each bad row stands alone. Rejected rows go to `<name>.errors`
 * with the server's message, SQLSTATE, detail, column and context. Anything else (connection
 * lost, class 08; admin shutdown, 57P01; out of resources, 53; serialization, 40; a missing
 * table...) is not the rows' fault: the connection is dropped when broken, and the same rows
 * are tried again after a bounded exponential back-off (logged at most once a second) until
 * they commit, also while the pipeline stops (at-least-once; shutdown waits) unless
 * `max_retries` gives up. A COMMIT whose answer was lost may have committed: plain inserts
 * can then repeat rows, upserts cannot.
 *
 * Threads: the sink's thread only (libpq connection included); stats() reads atomics.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/component.h"
#include "io/out_sql.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_conf {
    struct sl_sql_conf sql;
    char *dsn;
};

static const struct sl_option pg_opts[] = {
    {"dsn", SL_OPT_STRING, NULL, offsetof(struct pg_conf, dsn),
     "libpq connection string or URI (\"host=127.0.0.1 dbname=x user=y\", "
     "\"postgresql://user@host/db\"); PG* environment variables fill what it leaves out",
     NULL, 0, 0, SL_OPT_REQUIRED},
    SL_SQL_OPTIONS(struct pg_conf),
    {0},
};

#define DATA_MAX     ((size_t)1 << 30)
#define SCRATCH_MAX  ((size_t)64 << 20)
#define STAGE        "pg_temp.sluice_stage"
#define SEQ_COL      "__sl_seq"
#define STREAM_CHUNK ((size_t)256 << 10)

/* What one attempt at a transaction came to. */
enum { ATT_OK, ATT_ROW, ATT_RETRY };

struct pg_sink {
    PGconn *conn;
    bool ready;    /* table and staging table set up on this connection */
    bool resolved; /* columns decided */
    bool upsert;
    struct sl_sql_cols cols;
    struct sl_buf copy_sql, upsert_sql, stage_sql, create_sql;
    struct sl_sql_pending pend;
    struct sl_buf data; /* COPY text of the pending rows */
    size_t *off;        /* row i is data[off[i] .. off[i + 1]) */
    char **why;         /* row i rejected: the message; else NULL */
    size_t rows_cap;
    struct sl_buf scratch;
    char errmsg[1024]; /* the last failure */
    long err_line;     /* COPY line of the last row error (1-based), 0: unknown */
    int64_t backoff_ns;
    int64_t attempts; /* failed attempts in a row */
    struct sl_sql_stats st;
    struct sl_log_limit lim;
    struct sl_log_limit elim; /* rows given up: not hidden by the retry warnings */
};

static void quiet_notice(void *arg, const char *msg)
{
    sl_debug((const char *)arg, "server: %s", msg);
}

/* Fill s->errmsg from a failed result (or the connection) and classify it. */
static int classify(struct sl_component *c, struct pg_sink *s, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *col = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
    const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    if (!prim) {
        prim = PQerrorMessage(s->conn);
        if (!prim || !*prim)
            prim = "unknown error";
    }
    char st[32];
    if (state)
        snprintf(st, sizeof(st), "SQLSTATE %s", state);
    else
        snprintf(st, sizeof(st), "%s",
                 PQstatus(s->conn) == CONNECTION_BAD ? "connection lost" : "no SQLSTATE");
    snprintf(s->errmsg, sizeof(s->errmsg), "%.*s (%s)%s%s%s%s%s%s", (int)strcspn(prim, "\n"), prim,
             st, detail ? "; detail: " : "", detail ? detail : "", col ? "; column: " : "",
             col ? col : "", ctx ? "; context: " : "", ctx ? ctx : "");
    s->err_line = 0;
    if (ctx && strncmp(ctx, "COPY ", 5) == 0) {
        const char *l = strstr(ctx, ", line ");
        if (l)
            s->err_line = strtol(l + 7, NULL, 10);
    }
    if (PQstatus(s->conn) == CONNECTION_BAD || !state)
        return ATT_RETRY;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
        strncmp(state, "54", 2) == 0)
        return ATT_ROW;
    (void)c;
    return ATT_RETRY;
}

/* PQexec expecting `want`; on failure classify. */
static int exec(struct sl_component *c, struct pg_sink *s, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(s->conn, sql);
    int rc = ATT_OK;
    if (PQresultStatus(res) != want)
        rc = classify(c, s, res);
    PQclear(res);
    return rc;
}

static void disconnect(struct pg_sink *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    s->ready = false;
}

/* The table's columns (NULL, 0 when it does not exist). ATT_OK or ATT_RETRY. */
static int table_columns(struct sl_component *c, struct pg_sink *s, char ***out, size_t *n)
{
    const struct pg_conf *cf = c->conf;
    struct sl_buf q;
    sl_buf_init(&q, 1 << 20);
    int rc = sl_buf_puts(&q, "SELECT * FROM ");
    if (!rc)
        rc = sl_sql_quote_table(&q, cf->sql.table);
    if (!rc)
        rc = sl_buf_puts(&q, " WHERE false");
    *out = NULL;
    *n = 0;
    if (rc) {
        sl_buf_fini(&q);
        snprintf(s->errmsg, sizeof(s->errmsg), "table name: %s", sl_strerror(rc));
        return ATT_RETRY;
    }
    PGresult *res = PQexec(s->conn, q.ptr);
    sl_buf_fini(&q);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        int nf = PQnfields(res);
        *out = sl_xcalloc((size_t)nf + 1, sizeof(**out));
        for (int i = 0; i < nf; i++)
            (*out)[i] = sl_xstrdup(PQfname(res, i));
        *n = (size_t)nf;
        rc = ATT_OK;
    } else {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        rc = state && strcmp(state, "42P01") == 0 ? ATT_OK : classify(c, s, res);
        if (rc == ATT_ROW)
            rc = ATT_RETRY;
    }
    PQclear(res);
    return rc;
}

/* Statement texts, once the columns are known. */
static int build_sql(struct sl_component *c, struct pg_sink *s)
{
    const struct pg_conf *cf = c->conf;
    int rc = 0;
    struct sl_buf *b = &s->copy_sql;
    if (s->upsert) {
        rc = sl_buf_puts(b, "COPY " STAGE " (\"" SEQ_COL "\", ");
    } else {
        rc = sl_buf_puts(b, "COPY ");
        if (!rc)
            rc = sl_sql_quote_table(b, cf->sql.table);
        if (!rc)
            rc = sl_buf_puts(b, " (");
    }
    if (!rc)
        rc = sl_sql_col_list(b, &s->cols, NULL);
    if (!rc)
        rc = sl_buf_puts(b, ") FROM STDIN");
    if (!rc)
        rc = sl_sql_create_text(&s->create_sql, cf->sql.table, &s->cols);
    if (rc || !s->upsert)
        return rc;
    b = &s->stage_sql;
    rc = sl_buf_puts(b, "CREATE TEMP TABLE IF NOT EXISTS sluice_stage ON COMMIT DELETE ROWS AS "
                        "SELECT 0::bigint AS \"" SEQ_COL "\", ");
    if (!rc)
        rc = sl_sql_col_list(b, &s->cols, NULL);
    if (!rc)
        rc = sl_buf_puts(b, " FROM ");
    if (!rc)
        rc = sl_sql_quote_table(b, cf->sql.table);
    if (!rc)
        rc = sl_buf_puts(b, " WITH NO DATA");
    b = &s->upsert_sql;
    if (!rc)
        rc = sl_buf_puts(b, "INSERT INTO ");
    if (!rc)
        rc = sl_sql_quote_table(b, cf->sql.table);
    if (!rc)
        rc = sl_buf_puts(b, " (");
    if (!rc)
        rc = sl_sql_col_list(b, &s->cols, NULL);
    if (!rc)
        rc = sl_buf_puts(b, ") SELECT ");
    if (!rc)
        rc = sl_sql_col_list(b, &s->cols, NULL);
    if (!rc)
        rc = sl_buf_puts(b, " FROM (SELECT DISTINCT ON (");
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
        rc = sl_buf_puts(b, ") * FROM " STAGE " ORDER BY ");
    for (size_t i = 0; i < s->cols.count && !rc; i++) {
        if (!s->cols.v[i].key)
            continue;
        rc = sl_sql_quote_ident(b, sl_str_c(s->cols.v[i].name));
        if (!rc)
            rc = sl_buf_puts(b, ", ");
    }
    if (!rc)
        rc = sl_buf_puts(b, "\"" SEQ_COL "\" DESC) AS d ON CONFLICT (");
    first = true;
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
            rc = sl_buf_puts(b, " = EXCLUDED.");
        if (!rc)
            rc = sl_sql_quote_ident(b, sl_str_c(s->cols.v[i].name));
        first = false;
    }
    if (!rc && first)
        rc = sl_buf_puts(b, "NOTHING");
    return rc;
}

/* Connect and set up. ATT_OK, ATT_RETRY (s->errmsg says why) or SL_ECONFIG (columns cannot be
 * decided: the rows fail). */
static int ensure_ready(struct sl_component *c, struct pg_sink *s)
{
    const struct pg_conf *cf = c->conf;
    if (s->conn && PQstatus(s->conn) != CONNECTION_OK)
        disconnect(s);
    if (!s->conn) {
        s->conn = PQconnectdb(cf->dsn);
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
            snprintf(s->errmsg, sizeof(s->errmsg), "cannot connect: %.*s",
                     s->conn ? (int)strcspn(PQerrorMessage(s->conn), "\n") : 14,
                     s->conn ? PQerrorMessage(s->conn) : "out of memory");
            disconnect(s);
            return ATT_RETRY;
        }
        PQsetNoticeProcessor(s->conn, quiet_notice, c->name);
        if (PQsetClientEncoding(s->conn, "UTF8") != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "cannot set client_encoding UTF8: %.*s",
                     (int)strcspn(PQerrorMessage(s->conn), "\n"), PQerrorMessage(s->conn));
            disconnect(s);
            return ATT_RETRY;
        }
        sl_info(c->name, "connected to %s:%s database %s", PQhost(s->conn), PQport(s->conn),
                PQdb(s->conn));
    }
    if (s->ready)
        return ATT_OK;
    if (!s->resolved) {
        char **tc = NULL;
        size_t ntc = 0;
        int rc = table_columns(c, s, &tc, &ntc);
        if (rc != ATT_OK)
            return rc;
        char why[512];
        rc = sl_sql_cols_resolve(&s->cols, c->name, &cf->sql, SL_SQL_POSTGRES, s->pend.rows,
                                 s->pend.count, (const char *const *)tc, ntc, why, sizeof(why));
        for (size_t i = 0; i < ntc; i++)
            sl_free(tc[i]);
        sl_free(tc);
        if (rc) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
            return SL_ECONFIG;
        }
        if ((rc = build_sql(c, s)) != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "statement text: %s", sl_strerror(rc));
            sl_sql_cols_fini(&s->cols);
            return SL_ECONFIG;
        }
        s->resolved = true;
    }
    int rc;
    if (cf->sql.create && (rc = exec(c, s, s->create_sql.ptr, PGRES_COMMAND_OK)) != ATT_OK)
        return ATT_RETRY;
    if (s->upsert && (rc = exec(c, s, s->stage_sql.ptr, PGRES_COMMAND_OK)) != ATT_OK)
        return ATT_RETRY;
    s->ready = true;
    return ATT_OK;
}

/* Send rows idx[0..n) as COPY data (adjacent lines in one call). */
static int send_rows(struct pg_sink *s, const size_t *idx, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && idx[j] == idx[j - 1] + 1)
            j++;
        size_t from = s->off[idx[i]], to = s->off[idx[j - 1] + 1];
        if (PQputCopyData(s->conn, s->data.ptr + from, (int)(to - from)) != 1)
            return -1;
        i = j;
    }
    return 0;
}

/* A failed attempt: roll back what is open (keeping the error), drop a broken connection. */
static int attempt_fail(struct pg_sink *s, int rc)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        char keep[sizeof(s->errmsg)];
        long line = s->err_line;
        memcpy(keep, s->errmsg, sizeof(keep));
        PGresult *r = PQexec(s->conn, "ROLLBACK");
        PQclear(r);
        memcpy(s->errmsg, keep, sizeof(keep));
        s->err_line = line;
    }
    if (rc == ATT_RETRY && s->conn && PQstatus(s->conn) != CONNECTION_OK)
        disconnect(s);
    return rc;
}

/* Open the transaction (upserts) and start COPY. */
static int copy_begin(struct sl_component *c, struct pg_sink *s)
{
    int rc;
    if (s->upsert && (rc = exec(c, s, "BEGIN", PGRES_COMMAND_OK)) != ATT_OK)
        return attempt_fail(s, rc);
    PGresult *res = PQexec(s->conn, s->copy_sql.ptr);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = classify(c, s, res);
        PQclear(res);
        return attempt_fail(s, rc);
    }
    PQclear(res);
    return ATT_OK;
}

/* End COPY (aborting it when sending failed), then upsert and commit. */
static int copy_end(struct sl_component *c, struct pg_sink *s, bool send_failed)
{
    int rc = ATT_OK;
    PGresult *res;
    if (send_failed) {
        PQputCopyEnd(s->conn, "client failed to send");
    } else if (PQputCopyEnd(s->conn, NULL) != 1) {
        return attempt_fail(s, classify(c, s, NULL));
    }
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (rc == ATT_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = classify(c, s, res);
        PQclear(res);
    }
    if (rc == ATT_OK && send_failed)
        rc = classify(c, s, NULL);
    if (rc != ATT_OK)
        return attempt_fail(s, rc);
    if (s->upsert) {
        if ((rc = exec(c, s, s->upsert_sql.ptr, PGRES_COMMAND_OK)) != ATT_OK)
            return attempt_fail(s, rc);
        s->err_line = 0;
        if ((rc = exec(c, s, "COMMIT", PGRES_COMMAND_OK)) != ATT_OK)
            return attempt_fail(s, rc);
    }
    return ATT_OK;
}

/* One transaction with rows idx[0..n) (rendered already). */
static int attempt(struct sl_component *c, struct pg_sink *s, const size_t *idx, size_t n)
{
    int rc = copy_begin(c, s);
    if (rc != ATT_OK)
        return rc;
    return copy_end(c, s, send_rows(s, idx, n) != 0);
}

static void reject(struct pg_sink *s, size_t row)
{
    if (!s->why[row])
        s->why[row] = sl_xstrdup(s->errmsg);
}

/* Commit rows idx[0..n) (the array is reordered), rejecting bad rows. 0, or SL_EIO when
 * max_retries gave up, or SL_ECONFIG. */
static int run_rows(struct sl_component *c, struct pg_sink *s, size_t *idx, size_t n)
{
    const struct pg_conf *cf = c->conf;
    while (n) {
        int rc = ensure_ready(c, s);
        if (rc == SL_ECONFIG)
            return rc;
        if (rc == ATT_OK)
            rc = attempt(c, s, idx, n);
        if (rc == ATT_OK) {
            s->attempts = 0;
            s->backoff_ns = cf->sql.retry_backoff_ns;
            atomic_fetch_add_explicit(&s->st.transactions, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->st.rows_written, n, memory_order_relaxed);
            return 0;
        }
        if (rc == ATT_RETRY) {
            s->attempts++;
            atomic_fetch_add_explicit(&s->st.retries, 1, memory_order_relaxed);
            sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name,
                               "%zu rows not committed (attempt %lld): %s; retrying in %lld ms", n,
                               (long long)s->attempts, s->errmsg,
                               (long long)(s->backoff_ns / 1000000));
            if (cf->sql.max_retries && s->attempts >= cf->sql.max_retries) {
                sl_error(c->name, "giving up after %lld attempts: %s", (long long)s->attempts,
                         s->errmsg);
                s->attempts = 0;
                return SL_EIO;
            }
            sl_sql_backoff_sleep(&s->backoff_ns, cf->sql.retry_backoff_max_ns);
            continue;
        }
        /* ATT_ROW: some row is bad */
        if (s->err_line >= 1 && (size_t)s->err_line <= n) {
            size_t k = (size_t)s->err_line - 1;
            reject(s, idx[k]);
            memmove(idx + k, idx + k + 1, (n - k - 1) * sizeof(*idx));
            n--;
            continue;
        }
        if (n == 1) {
            reject(s, idx[0]);
            return 0;
        }
        size_t half = n / 2;
        if ((rc = run_rows(c, s, idx, half)) != 0)
            return rc;
        return run_rows(c, s, idx + half, n - half);
    }
    return 0;
}

/* Render pending row i as one COPY line. */
static int render_row(struct pg_sink *s, size_t i)
{
    const struct sl_event *ev = s->pend.rows[i];
    int rc = 0;
    if (s->upsert)
        rc = sl_buf_appendf(&s->data, "%zu\t", i);
    for (size_t k = 0; k < s->cols.count && !rc; k++) {
        if (k)
            rc = sl_buf_putc(&s->data, '\t');
        const struct sl_value *v = sl_path_get(&s->cols.v[k].path, ev);
        bool null;
        if (rc)
            break;
        if (v && v->type == SL_V_STRING) {
            rc = sl_sql_copy_escape(&s->data, v->u.s, v->len);
            continue;
        }
        sl_buf_reset(&s->scratch);
        rc = sl_sql_render(&s->scratch, v, &null);
        if (!rc)
            rc = null ? sl_buf_append(&s->data, "\\N", 2)
                      : sl_sql_copy_escape(&s->data, s->scratch.ptr, s->scratch.len);
    }
    return rc ? rc : sl_buf_putc(&s->data, '\n');
}

/* Commit everything pending; release the holds. */
static int commit(struct sl_component *c)
{
    const struct pg_conf *cf = c->conf;
    struct pg_sink *s = c->state;
    size_t n = s->pend.count;
    int rc = 0;
    if (!n)
        return 0;
    if (n + 1 > s->rows_cap) {
        sl_free(s->off);
        sl_free(s->why);
        s->rows_cap = n + 1;
        s->off = sl_xcalloc(s->rows_cap, sizeof(*s->off));
        s->why = sl_xcalloc(s->rows_cap, sizeof(*s->why));
    }
    size_t *idx = sl_xcalloc(n, sizeof(*idx));
    size_t nidx = 0;
    /* columns first (they may come from the table): wait for the server if need be */
    for (;;) {
        rc = ensure_ready(c, s);
        if (rc != ATT_RETRY)
            break;
        s->attempts++;
        atomic_fetch_add_explicit(&s->st.retries, 1, memory_order_relaxed);
        sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name, "%s; retrying in %lld ms", s->errmsg,
                           (long long)(s->backoff_ns / 1000000));
        if (cf->sql.max_retries && s->attempts >= cf->sql.max_retries) {
            rc = SL_EIO;
            break;
        }
        sl_sql_backoff_sleep(&s->backoff_ns, cf->sql.retry_backoff_max_ns);
    }
    if (rc)
        goto out;
    sl_buf_reset(&s->data);
    uint64_t unknown = 0;
    for (size_t from = 0; from < n && !rc;) {
        size_t to = n - from < (size_t)cf->sql.batch ? n : from + (size_t)cf->sql.batch;
        size_t first = nidx;
        /* first attempt: COPY rows as they are rendered, so the server parses while we render
         * (bench_postgres.sh: 0.61 -> see docs/PERFORMANCE.md); a failure goes the careful
         * way below with the rendered lines */
        bool tried = s->conn && s->ready;
        int arc = tried ? copy_begin(c, s) : ATT_RETRY;
        bool streaming = arc == ATT_OK, send_failed = false;
        size_t sent = s->data.len;
        for (size_t i = from; i < to; i++) {
            size_t mark = s->data.len;
            s->off[i] = mark;
            s->why[i] = NULL;
            unknown += sl_sql_cols_unknown(&s->cols, s->pend.rows[i]);
            int erc = render_row(s, i);
            if (erc) {
                s->data.len = mark;
                if (s->data.ptr)
                    s->data.ptr[mark] = 0;
                snprintf(s->errmsg, sizeof(s->errmsg), "row not rendered: %s", sl_strerror(erc));
                reject(s, i);
                continue;
            }
            idx[nidx++] = i;
            if (streaming && !send_failed && s->data.len - sent >= STREAM_CHUNK) {
                send_failed =
                    PQputCopyData(s->conn, s->data.ptr + sent, (int)(s->data.len - sent)) != 1;
                sent = s->data.len;
            }
        }
        s->off[to] = s->data.len; /* a rejected row's line is empty: off[i] == off[i + 1] */
        if (streaming) {
            if (!send_failed && s->data.len > sent)
                send_failed =
                    PQputCopyData(s->conn, s->data.ptr + sent, (int)(s->data.len - sent)) != 1;
            arc = copy_end(c, s, send_failed);
        }
        if (arc == ATT_OK) {
            s->attempts = 0;
            s->backoff_ns = cf->sql.retry_backoff_ns;
            atomic_fetch_add_explicit(&s->st.transactions, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->st.rows_written, nidx - first, memory_order_relaxed);
        } else if (nidx > first) {
            if (arc == ATT_RETRY && tried) {
                atomic_fetch_add_explicit(&s->st.retries, 1, memory_order_relaxed);
                sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name,
                                   "%zu rows not committed: %s; retrying", nidx - first, s->errmsg);
            }
            rc = run_rows(c, s, idx + first, nidx - first);
        }
        from = to;
    }
    if (unknown)
        atomic_fetch_add_explicit(&s->st.fields_ignored, unknown, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.bytes_out, s->data.len, memory_order_relaxed);
out:
    if (rc) {
        sl_log_ratelimited(&s->elim, 1, SL_LOG_ERROR, c->name, "%zu rows not written: %s", n,
                           s->errmsg);
        atomic_fetch_add_explicit(&c->m.errors, n, memory_order_relaxed);
    } else {
        sl_sql_rejects_emit(c, &s->st, &s->lim, s->why, s->pend.rows, n);
    }
    for (size_t i = 0; i < n; i++) {
        sl_free(s->why[i]);
        s->why[i] = NULL;
    }
    sl_free(idx);
    sl_sql_pending_done(&s->pend, rc == 0);
    return rc;
}

static int pg_write(struct sl_component *c, struct sl_batch *b)
{
    const struct pg_conf *cf = c->conf;
    struct pg_sink *s = c->state;
    if (!b->count)
        return 0;
    sl_sql_pending_add(&s->pend, b);
    if (s->pend.count >= (size_t)cf->sql.batch)
        commit(c);
    return 0;
}

static int pg_flush(struct sl_component *c)
{
    commit(c);
    return 0;
}

static void pg_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    commit(c);
}

static size_t pg_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct pg_sink *s = c->state;
    return s ? sl_sql_stats_fill(&s->st, "postgres", out) : 0;
}

static void pg_fini(struct sl_component *c)
{
    struct pg_sink *s = c->state;
    if (!s)
        return;
    sl_sql_pending_fini(&s->pend);
    disconnect(s);
    sl_sql_cols_fini(&s->cols);
    sl_buf_fini(&s->copy_sql);
    sl_buf_fini(&s->upsert_sql);
    sl_buf_fini(&s->stage_sql);
    sl_buf_fini(&s->create_sql);
    sl_buf_fini(&s->data);
    sl_buf_fini(&s->scratch);
    sl_free(s->off);
    sl_free(s->why);
    sl_free(s);
    c->state = NULL;
}

static int pg_init(struct sl_component *c, struct sl_diag *d)
{
    const struct pg_conf *cf = c->conf;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(cf->dsn, &err);
    if (!opts) {
        sl_component_diag_opt(c, "dsn", d);
        sl_diag_hint(d, "\"host=127.0.0.1 port=5432 dbname=sec user=sluice\" or "
                        "\"postgresql://sluice@127.0.0.1/sec\"");
        int rc = sl_diag_set(d, SL_ECONFIG, "postgres sink '%s': bad dsn: %.*s", c->name,
                             err ? (int)strcspn(err, "\n") : 13, err ? err : "out of memory");
        if (err)
            PQfreemem(err);
        return rc;
    }
    PQconninfoFree(opts);
    if (!cf->sql.table[0]) {
        sl_component_diag_opt(c, "table", d);
        return sl_diag_set(d, SL_ECONFIG, "postgres sink '%s': empty table name", c->name);
    }
    for (size_t k = 0; k < cf->sql.upsert_keys.count && cf->sql.columns.count; k++) {
        bool found = false;
        for (size_t i = 0; i < cf->sql.columns.count && !found; i++)
            found = strcmp(cf->sql.columns.items[i], cf->sql.upsert_keys.items[k]) == 0;
        if (!found) {
            sl_component_diag_opt(c, "upsert_keys", d);
            sl_diag_hint(d, "every upsert key must be one of `columns`");
            return sl_diag_set(d, SL_ECONFIG, "postgres sink '%s': upsert key '%s' is not a column",
                               c->name, cf->sql.upsert_keys.items[k]);
        }
    }
    struct pg_sink *s = sl_xcalloc(1, sizeof(*s));
    sl_buf_init(&s->copy_sql, 1 << 20);
    sl_buf_init(&s->upsert_sql, 1 << 20);
    sl_buf_init(&s->stage_sql, 1 << 20);
    sl_buf_init(&s->create_sql, 1 << 20);
    sl_buf_init(&s->data, DATA_MAX);
    sl_buf_init(&s->scratch, SCRATCH_MAX);
    s->upsert = cf->sql.upsert_keys.count > 0;
    s->backoff_ns = cf->sql.retry_backoff_ns;
    c->state = s;
    return 0;
}

const struct sl_component_ops sl_out_postgres_ops = {
    .type = "postgres",
    .kind = SL_KIND_SINK,
    .summary = "write rows into a PostgreSQL table (COPY per transaction, upserts, dead letters "
               "for rejected rows, reconnects)",
    .options = pg_opts,
    .conf_len = sizeof(struct pg_conf),
    .init = pg_init,
    .fini = pg_fini,
    .write = pg_write,
    .flush = pg_flush,
    .finish = pg_finish,
    .stats = pg_stats,
    .flush_interval_ns = 250000000,
};
