/*
 * command_store.c — the distribution history of the `commands` source (command_store.h).
 *
 * DESIGN: one connection, every call under `lock` (SQLITE_OPEN_NOMUTEX: the lock is ours).
 * The calls are few — a poll that finds a new version, one INSERT OR IGNORE per ping — so a
 * pool of readers as in store_sqlite.c would buy nothing. "Exactly once per collector and
 * version" rests on the primary key of command_deliveries: the INSERT OR IGNORE that changes
 * a row is the one delivery; sqlite3_changes() tells which call it was.
 *
 * The file: journal_mode=WAL and synchronous=FULL: a recorded delivery is on disk before the
 * collector gets its 200, so even a power loss cannot make the set go out twice. That costs
 * one fsync per first delivery (a few per collector per version), never one per ping: an
 * INSERT OR IGNORE that finds its row writes nothing. Schema (version 1), readable with the
 * sqlite3 CLI:
 *
 *   CREATE TABLE command_schema (version INTEGER NOT NULL);       -- one row: 1
 *   CREATE TABLE command_set (                                     -- at most one row
 *       id INTEGER PRIMARY KEY CHECK (id = 1),
 *       version TEXT NOT NULL,        -- XXH3-64 of body, 16 hex digits
 *       body BLOB NOT NULL,           -- the command set as served (JSON)
 *       fetched_ms INTEGER NOT NULL); -- wall clock when it was fetched
 *   CREATE TABLE command_deliveries (
 *       collector TEXT NOT NULL, version TEXT NOT NULL, delivered_ms INTEGER NOT NULL,
 *       PRIMARY KEY (collector, version)) WITHOUT ROWID;
 *   CREATE TABLE command_inputs (                                  -- "url", "file"
 *       name TEXT PRIMARY KEY, location TEXT NOT NULL,
 *       hash TEXT NOT NULL,           -- of the last valid set it gave ('' if none)
 *       etag TEXT NOT NULL,           -- of that answer ('' if none)
 *       updated_ms INTEGER NOT NULL) WITHOUT ROWID;
 *   CREATE TABLE command_collectors (                              -- known ids, all versions
 *       collector TEXT PRIMARY KEY, first_seen_ms INTEGER NOT NULL) WITHOUT ROWID;
 *
 * command_collectors came after the first release of the schema. It is only added (CREATE
 * TABLE IF NOT EXISTS), so the schema version stays 1: an older sluice opens the file and
 * ignores the table, a newer one creates it in an older file. Its row count is kept in memory
 * (`collectors`), counted once at open, so admitting an id never scans the table.
 */
#include "state/command_store.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "sys/fdio.h"
#include "sys/thread.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define BUSY_MS        5000

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS command_schema (version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS command_set (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " version TEXT NOT NULL, body BLOB NOT NULL, fetched_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS command_deliveries (collector TEXT NOT NULL,"
    " version TEXT NOT NULL, delivered_ms INTEGER NOT NULL,"
    " PRIMARY KEY (collector, version)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS command_inputs (name TEXT PRIMARY KEY,"
    " location TEXT NOT NULL, hash TEXT NOT NULL, etag TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS command_collectors (collector TEXT PRIMARY KEY,"
    " first_seen_ms INTEGER NOT NULL) WITHOUT ROWID;";

enum stmt_id {
    ST_CURRENT,
    ST_SET,
    ST_CLEAR,
    ST_DELIVER,
    ST_UNDELIVER,
    ST_COUNT,
    ST_IN_GET,
    ST_IN_PUT,
    ST_KNOWN,
    ST_ADMIT,
    ST_COLLECTORS,
    ST__N
};

static const char *const STMT_SQL[ST__N] = {
    [ST_CURRENT] = "SELECT version, body, fetched_ms FROM command_set WHERE id = 1",
    [ST_SET] = "INSERT OR REPLACE INTO command_set (id, version, body, fetched_ms)"
               " VALUES (1, ?1, ?2, ?3)",
    [ST_CLEAR] = "DELETE FROM command_deliveries",
    [ST_DELIVER] = "INSERT OR IGNORE INTO command_deliveries (collector, version, delivered_ms)"
                   " VALUES (?1, ?2, ?3)",
    [ST_UNDELIVER] = "DELETE FROM command_deliveries WHERE collector = ?1 AND version = ?2",
    [ST_COUNT] = "SELECT count(*) FROM command_deliveries",
    [ST_IN_GET] = "SELECT hash, etag FROM command_inputs WHERE name = ?1 AND location = ?2",
    [ST_IN_PUT] = "INSERT OR REPLACE INTO command_inputs (name, location, hash, etag, updated_ms)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_KNOWN] = "SELECT 1 FROM command_collectors WHERE collector = ?1",
    [ST_ADMIT] = "INSERT OR IGNORE INTO command_collectors (collector, first_seen_ms)"
                 " VALUES (?1, ?2)",
    [ST_COLLECTORS] = "SELECT count(*) FROM command_collectors",
};

struct sl_cmdstore {
    struct sl_mutex lock;
    sqlite3 *db;             /* guarded_by: lock */
    sqlite3_stmt *st[ST__N]; /* guarded_by: lock */
    int64_t collectors;      /* guarded_by: lock; rows of command_collectors */
};

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : SL_EIO;
}

/* The schema and its version, in one transaction. */
static int prepare_schema(sqlite3 *db, struct sl_diag *d, const char *path)
{
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN IMMEDIATE") || exec(db, SCHEMA_SQL))
        goto fail;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM command_schema", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto fail;
    int64_t version = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION) {
        exec(db, "ROLLBACK");
        return sl_diag_set(
            d, SL_ECONFIG,
            "commands state %s: schema version %lld is newer than this sluice's (%d)", path,
            (long long)version, SCHEMA_VERSION);
    }
    if (version == 0 && exec(db, "INSERT INTO command_schema (version) VALUES (1)"))
        goto fail;
    if (exec(db, "COMMIT"))
        goto fail;
    return 0;
fail:
    sl_diag_set(d, SL_EIO, "commands state %s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    exec(db, "ROLLBACK");
    return SL_EIO;
}

int sl_cmdstore_open(const char *path, struct sl_cmdstore **out, struct sl_diag *d)
{
    *out = NULL;
    if (!sqlite3_threadsafe())
        return sl_diag_set(d, SL_ECONFIG,
                           "commands state %s: this SQLite library was built without thread "
                           "support (SQLITE_THREADSAFE=0)",
                           path);
    if (strcmp(path, ":memory:") != 0) {
        int mk = sl_fs_mkdir_parents(path);
        if (mk)
            return sl_diag_set(d, SL_EIO, "commands state %s: cannot create its directory: %s",
                               path, sl_strerror(mk));
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sl_diag_set(d, SL_EIO, "commands state %s: %s", path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return SL_EIO;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    sqlite3_extended_result_codes(db, 1);
    int ret = SL_EIO;
    struct sl_cmdstore *s = sl_xcalloc(1, sizeof(*s));
    sl_mutex_init(&s->lock);
    s->db = db;
    /* WAL where the file system allows it (":memory:" stays "memory"); FULL: see DESIGN */
    if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL")) {
        sl_diag_set(d, SL_EIO, "commands state %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    ret = prepare_schema(db, d, path);
    if (ret)
        goto fail;
    ret = SL_EIO;
    for (int i = 0; i < ST__N; i++) {
        if (sqlite3_prepare_v3(db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            sl_diag_set(d, SL_EIO, "commands state %s: %s", path, sqlite3_errmsg(db));
            goto fail;
        }
    }
    if (sqlite3_step(s->st[ST_COLLECTORS]) != SQLITE_ROW) {
        sl_diag_set(d, SL_EIO, "commands state %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    s->collectors = sqlite3_column_int64(s->st[ST_COLLECTORS], 0);
    sqlite3_reset(s->st[ST_COLLECTORS]);
    *out = s;
    return 0;
fail:
    sl_cmdstore_free(s);
    return ret;
}

void sl_cmdstore_free(struct sl_cmdstore *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    sl_mutex_fini(&s->lock);
    sl_free(s);
}

/* Under lock: reset a statement for its next use. */
static sqlite3_stmt *stmt(struct sl_cmdstore *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->st[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    sqlite3_bind_text(st, i, p ? p : "", (int)n, SQLITE_STATIC);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t out_len)
{
    const char *p = (const char *)sqlite3_column_text(st, i);
    snprintf(out, out_len, "%s", p ? p : "");
}

int sl_cmdstore_current(struct sl_cmdstore *s, char version[SL_CMDSTORE_VERSION_LEN + 1],
                        char **body, size_t *body_len, int64_t *fetched_ms)
{
    int ret = SL_ENOENT;
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_CURRENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_col(st, 0, version, SL_CMDSTORE_VERSION_LEN + 1);
        const void *p = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        char *copy = sl_malloc(n + 1); /* sized by the data: may fail */
        if (copy) {
            if (n)
                memcpy(copy, p, n);
            copy[n] = '\0';
            *body = copy;
            *body_len = n;
            *fetched_ms = sqlite3_column_int64(st, 2);
            ret = 0;
        } else {
            ret = SL_ENOMEM;
        }
    } else if (rc != SQLITE_DONE) {
        ret = SL_EIO;
    }
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return ret;
}

int sl_cmdstore_replace(struct sl_cmdstore *s, const char *version, const char *body,
                        size_t body_len, int64_t fetched_ms)
{
    int ret = SL_EIO;
    sl_mutex_lock(&s->lock);
    if (exec(s->db, "BEGIN IMMEDIATE"))
        goto out;
    sqlite3_stmt *st = stmt(s, ST_SET);
    bind_text(st, 1, version, strlen(version));
    sqlite3_bind_blob(st, 2, body_len ? body : "", (int)body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, fetched_ms);
    if (sqlite3_step(st) != SQLITE_DONE || sqlite3_step(stmt(s, ST_CLEAR)) != SQLITE_DONE ||
        exec(s->db, "COMMIT")) {
        exec(s->db, "ROLLBACK");
        goto out;
    }
    ret = 0;
out:
    sqlite3_reset(s->st[ST_SET]);
    sqlite3_reset(s->st[ST_CLEAR]);
    sl_mutex_unlock(&s->lock);
    return ret;
}

int sl_cmdstore_deliver(struct sl_cmdstore *s, const char *id, size_t id_len, const char *version,
                        int64_t at_ms)
{
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_DELIVER);
    bind_text(st, 1, id, id_len);
    bind_text(st, 2, version, strlen(version));
    sqlite3_bind_int64(st, 3, at_ms);
    int ret = SL_EIO;
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = sqlite3_changes(s->db) > 0 ? 1 : 0;
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return ret;
}

int sl_cmdstore_undeliver(struct sl_cmdstore *s, const char *id, size_t id_len, const char *version)
{
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_UNDELIVER);
    bind_text(st, 1, id, id_len);
    bind_text(st, 2, version, strlen(version));
    int ret = SL_EIO;
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = sqlite3_changes(s->db) > 0 ? 1 : 0;
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return ret;
}

int64_t sl_cmdstore_delivery_count(struct sl_cmdstore *s)
{
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_COUNT);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return n;
}

int sl_cmdstore_admit(struct sl_cmdstore *s, const char *id, size_t id_len, int64_t max,
                      int64_t at_ms)
{
    sl_mutex_lock(&s->lock);
    int ret = SL_EIO;
    sqlite3_stmt *st = stmt(s, ST_KNOWN);
    bind_text(st, 1, id, id_len);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        ret = 0;
    } else if (rc == SQLITE_DONE && s->collectors >= max) {
        ret = SL_ELIMIT;
    } else if (rc == SQLITE_DONE) {
        st = stmt(s, ST_ADMIT);
        bind_text(st, 1, id, id_len);
        sqlite3_bind_int64(st, 2, at_ms);
        if (sqlite3_step(st) == SQLITE_DONE) {
            ret = sqlite3_changes(s->db) > 0 ? 1 : 0;
            s->collectors += ret;
        }
        sqlite3_reset(st);
    }
    sl_mutex_unlock(&s->lock);
    return ret;
}

int64_t sl_cmdstore_collector_count(struct sl_cmdstore *s)
{
    sl_mutex_lock(&s->lock);
    int64_t n = s->collectors;
    sl_mutex_unlock(&s->lock);
    return n;
}

int sl_cmdstore_input_get(struct sl_cmdstore *s, const char *name, const char *location,
                          char hash[SL_CMDSTORE_VERSION_LEN + 1], char etag[SL_CMDSTORE_ETAG_MAX])
{
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_IN_GET);
    bind_text(st, 1, name, strlen(name));
    bind_text(st, 2, location, strlen(location));
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? SL_ENOENT : SL_EIO;
    if (rc == SQLITE_ROW) {
        copy_col(st, 0, hash, SL_CMDSTORE_VERSION_LEN + 1);
        copy_col(st, 1, etag, SL_CMDSTORE_ETAG_MAX);
    }
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return ret;
}

int sl_cmdstore_input_put(struct sl_cmdstore *s, const char *name, const char *location,
                          const char *hash, const char *etag)
{
    sl_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt(s, ST_IN_PUT);
    bind_text(st, 1, name, strlen(name));
    bind_text(st, 2, location, strlen(location));
    bind_text(st, 3, hash, strlen(hash));
    bind_text(st, 4, etag, strlen(etag));
    sqlite3_bind_int64(st, 5, sl_clock_wall_ns() / 1000000);
    int ret = sqlite3_step(st) == SQLITE_DONE ? 0 : SL_EIO;
    sqlite3_reset(st);
    sl_mutex_unlock(&s->lock);
    return ret;
}

void sl_cmdstore_version_of(const char *body, size_t len, char out[SL_CMDSTORE_VERSION_LEN + 1])
{
    snprintf(out, SL_CMDSTORE_VERSION_LEN + 1, "%016llx", (unsigned long long)sl_hash64(body, len));
}
