/*
 * sqldb.h — one SQL connection to SQLite or PostgreSQL behind the same calls, for the stores
 * that keep their data in plain SQL tables (the Partout store, the profile store's postgres
 * backend).
 *
 * DESIGN: the stores write their SQL once, in the dialect both databases share: `?N`
 * placeholders (rewritten to `$N` for PostgreSQL), BIGINT columns, INSERT ... ON CONFLICT
 * (...) DO UPDATE SET c = excluded.c, CASE instead of LEAST/GREATEST. Where the dialects
 * differ a store asks sl_sqldb_is_postgres(). A connection is used by one thread at a time
 * (the caller locks); statements belong to their connection.
 *
 * Batches: between sl_sqldb_begin() and sl_sqldb_commit(), sl_sqldb_queue() sends a
 * statement without waiting for its outcome. On PostgreSQL the statements go out in libpq's
 * pipeline mode (one round trip per 1,000 statements instead of one each, synchronised in
 * chunks so neither side's socket buffer can fill and deadlock); on SQLite they run at once.
 * Any failure makes the commit roll back and return the first error.
 *
 * PostgreSQL text must be UTF-8 without NUL: a text parameter that is not is sent with each
 * bad byte replaced by '?' (SQLite stores bytes as given), so one bad agent name cannot make
 * a batch fail forever. After a lost connection the next call reconnects once.
 */
#ifndef SL_STATE_SQLDB_H
#define SL_STATE_SQLDB_H

#include "base/err.h"
#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_sqldb_type { SL_SQLDB_NULL, SL_SQLDB_INT, SL_SQLDB_REAL, SL_SQLDB_TEXT, SL_SQLDB_BLOB };

/* A parameter; p/n point into the caller's memory for the duration of the call. */
struct sl_sqldb_param {
    enum sl_sqldb_type type;
    int64_t i;
    double d;
    const char *p;
    size_t n;
};

#define SL_SQLDB_I(v) ((struct sl_sqldb_param){.type = SL_SQLDB_INT, .i = (v)})
#define SL_SQLDB_S(s) ((struct sl_sqldb_param){.type = SL_SQLDB_TEXT, .p = (s).ptr, .n = (s).len})
#define SL_SQLDB_NUL  ((struct sl_sqldb_param){.type = SL_SQLDB_NULL})

struct sl_sqldb;
struct sl_sqldb_stmt;
struct sl_sqldb_row; /* valid during a row callback only */

/* Open url: "postgres://..." or "postgresql://..." (a libpq URI), "postgres:KEY=VALUE ..."
 * (a libpq conninfo), "sqlite:PATH", or a plain PATH (SQLite; its directory is created).
 * SQLite opens in WAL mode, synchronous=NORMAL, with a 5 s busy timeout. Errors name the
 * url (without its password) and the reason in d: SL_ECONFIG, SL_EIO. */
int sl_sqldb_open(const char *url, struct sl_sqldb **out, struct sl_diag *d);
void sl_sqldb_close(struct sl_sqldb *db); /* NULL is fine; finalizes its statements */
bool sl_sqldb_is_postgres(const struct sl_sqldb *db);
/* The url with any password masked, for messages. */
const char *sl_sqldb_name(const struct sl_sqldb *db);
/* The last error's text (the database's message). */
const char *sl_sqldb_errmsg(const struct sl_sqldb *db);

/* Run sql (one or more statements separated by ';', no parameters). 0 or SL_EIO. */
int sl_sqldb_exec(struct sl_sqldb *db, const char *sql);

/* A statement prepared once and run many times (prepared again after a reconnect). */
int sl_sqldb_prepare(struct sl_sqldb *db, const char *sql, struct sl_sqldb_stmt **out);
void sl_sqldb_finalize(struct sl_sqldb_stmt *st); /* NULL is fine */

/* Run st (or, with the _sql forms, one-off sql) with n parameters. *changed (may be NULL)
 * gets the rows the statement inserted, updated or deleted. 0 or SL_EIO. */
int sl_sqldb_run(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n,
                 uint64_t *changed);
int sl_sqldb_run_sql(struct sl_sqldb *db, const char *sql, const struct sl_sqldb_param *p, int n,
                     uint64_t *changed);

/* Run a query and call fn for each row; a non-zero return from fn stops and is returned. */
typedef int (*sl_sqldb_row_fn)(void *ud, const struct sl_sqldb_row *r);
int sl_sqldb_query(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n,
                   sl_sqldb_row_fn fn, void *ud);
int sl_sqldb_query_sql(struct sl_sqldb *db, const char *sql, const struct sl_sqldb_param *p, int n,
                       sl_sqldb_row_fn fn, void *ud);

/* Columns of the current row. A NULL reads as 0 / empty. */
bool sl_sqldb_col_null(const struct sl_sqldb_row *r, int i);
int64_t sl_sqldb_col_int(const struct sl_sqldb_row *r, int i);
double sl_sqldb_col_real(const struct sl_sqldb_row *r, int i);
struct sl_str sl_sqldb_col_text(const struct sl_sqldb_row *r, int i);
/* A BLOB/bytea column's bytes (decoded from PostgreSQL's hex form into row memory). */
struct sl_str sl_sqldb_col_blob(const struct sl_sqldb_row *r, int i);
/* The column's storage class as the database reports it (SQLite: per value; PostgreSQL: the
 * column's type, SL_SQLDB_NULL for a NULL value). */
enum sl_sqldb_type sl_sqldb_col_type(const struct sl_sqldb_row *r, int i);

/* A write transaction (SQLite: BEGIN IMMEDIATE), queued statements, its end. begin and
 * commit: 0 or SL_EIO; a commit that fails has rolled back. */
int sl_sqldb_begin(struct sl_sqldb *db);
int sl_sqldb_queue(struct sl_sqldb_stmt *st, const struct sl_sqldb_param *p, int n);
int sl_sqldb_commit(struct sl_sqldb *db);
void sl_sqldb_rollback(struct sl_sqldb *db);

/* PostgreSQL only (SQL_EINVAL on SQLite): bulk rows through COPY ... FROM STDIN (text
 * format), the fastest way in: start with the COPY statement, add rows of n values (the
 * table's columns in the statement's order; text sanitised as above), end. A failed row
 * shows at the end, which then returns SL_EIO. Inside a transaction. */
int sl_sqldb_copy_start(struct sl_sqldb *db, const char *copy_sql);
int sl_sqldb_copy_row(struct sl_sqldb *db, const struct sl_sqldb_param *p, int n);
int sl_sqldb_copy_end(struct sl_sqldb *db);

#endif
