/*
 * store.c — the profile store of store.h: URL dispatch to a backend, the writer thread, the
 * value encoding. The SQLite backend is store_sqlite.c; store_int.h is the seam between them.
 *
 * DESIGN: writes are asynchronous and ordered. sl_store_put() encodes the measurements on the
 * caller's thread into one self-contained job (strings copied, each value already a type
 * name and one native cell) and appends it to a FIFO under `lock`; the store's writer thread
 * hands each job to the backend, which commits it in one transaction (an UPSERT per row, so
 * a later measurement of the same key replaces the earlier one). Every job carries a
 * sequence number; sl_store_sync() and sl_store_expire() wait on `done` until the writer has
 * finished theirs. A failed commit is logged, counted (commit_errors) and retried with
 * exponential back-off (10 ms doubling, 8 attempts, about 2.5 s: long enough to outlast a
 * `sqlite3` shell holding the write lock for a moment, on top of SQLite's own busy timeout);
 * after the last attempt the rows are dropped, an error is logged, and the next
 * sl_store_sync() returns SL_EIO. Reads go straight to the backend on the caller's thread.
 *
 * Value encoding (the `vtype` and `value` columns, docs/profile-store.md): 'null' NULL;
 * 'Boolean' INT 0/1; 'Integer', 'Long' INT (Java width kept: Integer comes back Integer);
 * 'Float', 'Double' REAL (NaN as NULL, which SQLite would do anyway); 'String' TEXT; 'List',
 * 'Set', 'Map' TEXT holding JSON (nested numbers come back as Long or Double, nested sketches
 * as their JSON summary); 'STATS', 'HLLP', 'BLOOM' BLOB in sl_sketch_serialize()'s versioned
 * form; 'Bytes' BLOB. Event timestamps become Long epoch milliseconds and IPs Strings, which
 * is how Stellar sees them.
 */
#include "state/store.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "codec/json.h"
#include "lang/sketch.h"
#include "lang/sval.h"
#include "state/store_int.h"
#include "sys/thread.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RETRIES     8
#define MAX_JOB_LEN (1u << 30) /* every string and value of one sl_store_put call */

static const struct sl_store_ops *const backends[] = {&sl_store__sqlite_ops,
                                                      &sl_store__postgres_ops};

/* ------------------------------------------------------------------------------------------
 * Jobs
 */

enum job_kind { JOB_PUT, JOB_EXPIRE };

struct job {
    struct job *next;
    enum job_kind kind;
    uint64_t seq;
    /* PUT */
    struct sl_store__row *rows;
    size_t nrows;
    char *bytes; /* every string and blob of the rows */
    /* EXPIRE (owned by the waiting caller) */
    char *profile;
    size_t profile_len;
    int64_t before_ms;
    uint64_t removed;
    int rc;
};

struct sl_store {
    char *url;
    const struct sl_store_ops *ops;
    void *be;
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
};

static _Atomic(struct sl_store *) default_store;

/* ------------------------------------------------------------------------------------------
 * Encoding and decoding
 */

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
 * r->cell.p holds the offset until then). 0, SL_EINVAL (an object that is not a sketch),
 * SL_ENOMEM, SL_E2BIG. */
static int encode_value(const struct sl_value *v, struct sl_store__row *r, struct sl_buf *b)
{
    r->vtype = vtype_of(v);
    if (!r->vtype)
        return SL_EINVAL;
    r->cell.col = SL_STORE__NULL;
    size_t off = b->len;
    int rc = 0;
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        r->cell.col = SL_STORE__INT;
        r->cell.i = v->u.b;
        return 0;
    case SL_V_INT:
        r->cell.col = SL_STORE__INT;
        r->cell.i = v->u.i;
        return 0;
    case SL_V_TS:
        r->cell.col = SL_STORE__INT;
        r->cell.i = v->u.ts_ns / 1000000;
        return 0;
    case SL_V_DOUBLE:
        if (isnan(v->u.d))
            return 0;
        r->cell.col = SL_STORE__REAL;
        r->cell.d = v->u.d;
        return 0;
    case SL_V_STRING:
        r->cell.col = SL_STORE__TEXT;
        rc = sl_buf_append(b, v->u.s, v->len);
        break;
    case SL_V_BYTES:
        r->cell.col = SL_STORE__BLOB;
        rc = sl_buf_append(b, v->u.s, v->len);
        break;
    case SL_V_IP: {
        char ip[64];
        size_t n = sl_value_ip_format(v, ip, sizeof ip);
        r->cell.col = SL_STORE__TEXT;
        rc = sl_buf_append(b, ip, n);
        break;
    }
    case SL_V_LIST:
    case SL_V_MAP:
        r->cell.col = SL_STORE__TEXT;
        rc = sl_json_write_value(b, v);
        break;
    case SL_V_OBJECT:
        r->cell.col = SL_STORE__BLOB;
        rc = sl_sketch_serialize(v->u.obj, b);
        break;
    default:
        return SL_EINVAL;
    }
    if (rc)
        return rc;
    r->cell.p = (const char *)(uintptr_t)off;
    r->cell.n = b->len - off;
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

/* A number from a cell of any kind (a hand-edited row may hold '12' as TEXT). */
static bool cell_long(const struct sl_store__cell *c, int64_t *out)
{
    switch (c->col) {
    case SL_STORE__INT:
        *out = c->i;
        return true;
    case SL_STORE__REAL: {
        struct sl_value d = sl_sv_double(c->d);
        *out = sl_sv_as_long(&d);
        return true;
    }
    case SL_STORE__TEXT:
        return sl_sv_parse_long(c->p, c->n, out) == 0;
    default:
        return false;
    }
}

static bool cell_double(const struct sl_store__cell *c, double *out)
{
    switch (c->col) {
    case SL_STORE__INT:
        *out = (double)c->i;
        return true;
    case SL_STORE__REAL:
        *out = c->d;
        return true;
    case SL_STORE__TEXT:
        return sl_sv_parse_double(c->p, c->n, out) == 0;
    case SL_STORE__NULL:
        *out = NAN;
        return true;
    default:
        return false;
    }
}

bool sl_store__dense(const int64_t *periods, size_t n)
{
    if (n < 4)
        return false;
    for (size_t i = 1; i < n; i++)
        if (periods[i] <= periods[i - 1])
            return false;
    uint64_t span = (uint64_t)periods[n - 1] - (uint64_t)periods[0];
    return span / 4 < n;
}

void sl_store__release(struct sl_value *v)
{
    if (v->type == SL_V_OBJECT && v->u.obj)
        sl_object_unref(v->u.obj);
    *v = sl_value_null();
}

int sl_store__decode(const char *t, const struct sl_store__cell *c, struct sl_arena *a,
                     struct sl_value *out)
{
    *out = sl_value_null();
    int64_t i;
    double d;
    if (!strcmp(t, "null"))
        return 0;
    if (!strcmp(t, "Boolean") || !strcmp(t, "Integer") || !strcmp(t, "Long")) {
        if (!cell_long(c, &i))
            return SL_EPARSE;
        *out = t[0] == 'B'   ? sl_value_bool(i != 0)
               : t[0] == 'I' ? sl_sv_int((int32_t)i)
                             : sl_sv_long(i);
        return 0;
    }
    if (!strcmp(t, "Float") || !strcmp(t, "Double")) {
        if (!cell_double(c, &d))
            return SL_EPARSE;
        *out = t[0] == 'F' ? sl_sv_float((float)d) : sl_sv_double(d);
        return 0;
    }
    if (c->col != SL_STORE__TEXT && c->col != SL_STORE__BLOB)
        return SL_EPARSE;
    if (!strcmp(t, "String") || !strcmp(t, "Bytes")) {
        char *p = sl_arena_alloc_bytes(a, c->n ? c->n : 1);
        if (!p)
            return SL_ENOMEM;
        if (c->n)
            memcpy(p, c->p, c->n);
        *out = sl_value_str(p, c->n);
        if (t[0] == 'B')
            out->type = SL_V_BYTES;
        return 0;
    }
    if (!strcmp(t, "List") || !strcmp(t, "Set") || !strcmp(t, "Map")) {
        /* the parser keeps views into its input: copy it into the arena first */
        char *p = sl_arena_strndup(a, c->p, c->n);
        if (!p)
            return SL_ENOMEM;
        int rc = sl_json_parse_value(a, p, c->n, NULL, out, NULL);
        if (rc)
            return rc == SL_ENOMEM ? rc : SL_EPARSE;
        if ((out->type == SL_V_MAP) != (t[0] == 'M')) {
            *out = sl_value_null();
            return SL_EPARSE;
        }
        if (t[1] == 'e')
            out->flags |= SL_VF_SET;
        return 0;
    }
    if (!strcmp(t, "STATS") || !strcmp(t, "HLLP") || !strcmp(t, "BLOOM")) {
        struct sl_object *o = NULL;
        int rc = sl_sketch_deserialize(c->p, c->n, &o, NULL);
        if (rc)
            return rc;
        if (strcmp(o->type->name, t) != 0) {
            sl_object_unref(o);
            return SL_EPARSE;
        }
        out->type = SL_V_OBJECT;
        out->u.obj = o;
        return 0;
    }
    return SL_EPARSE;
}

/* ------------------------------------------------------------------------------------------
 * The writer thread
 */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void run_job(struct sl_store *s, struct job *j)
{
    int rc = 0;
    int64_t backoff_ms = 10;
    for (int attempt = 1; attempt <= RETRIES; attempt++) {
        char why[256] = "";
        rc = j->kind == JOB_PUT ? s->ops->commit(s->be, j->rows, j->nrows, why, sizeof why)
                                : s->ops->expire(s->be, j->profile, j->profile_len, j->before_ms,
                                                 &j->removed, why, sizeof why);
        if (rc == 0)
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
    if (rc == 0) {
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

int sl_store_open(const char *url, struct sl_store **out, struct sl_diag *d)
{
    *out = NULL;
    if (!url || !*url)
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store: empty URL (expected sqlite:PATH or postgres://...)");
    const char *colon = strchr(url, ':');
    if (!colon)
        return sl_diag_set(d, SL_ECONFIG,
                           "profile store '%s': no scheme (expected sqlite:PATH or postgres://...)",
                           url);
    size_t scheme_len = (size_t)(colon - url);
    const struct sl_store_ops *ops = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strlen(backends[i]->scheme) == scheme_len &&
            !strncmp(url, backends[i]->scheme, scheme_len))
            ops = backends[i];
    if (!ops && scheme_len == 10 && !strncmp(url, "postgresql", 10))
        ops = &sl_store__postgres_ops;
    if (!ops)
        return sl_diag_set(
            d, SL_ECONFIG,
            "profile store '%s': unknown scheme '%.*s' (expected sqlite:PATH or postgres://...)",
            url, (int)scheme_len, url);
    void *be = NULL;
    int rc = ops->open(url, colon + 1, &be, d);
    if (rc)
        return rc;
    struct sl_store *s = sl_xcalloc(1, sizeof *s);
    s->url = sl_xstrdup(url);
    s->ops = ops;
    s->be = be;
    sl_mutex_init(&s->lock);
    sl_cond_init(&s->work);
    sl_cond_init(&s->done);
    rc = sl_thread_start(&s->writer, "sl-store", writer_main, s);
    if (rc) {
        sl_diag_set(d, SL_ESYS, "profile store '%s': cannot start the writer thread", url);
        s->writer.started = 0;
        sl_store_close(s);
        return SL_ESYS;
    }
    *out = s;
    return 0;
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
    s->ops->close(s->be);
    sl_cond_fini(&s->done);
    sl_cond_fini(&s->work);
    sl_mutex_fini(&s->lock);
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
        struct sl_store__row *r = &j->rows[i];
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
        if (!rc && (r->cell.col == SL_STORE__TEXT || r->cell.col == SL_STORE__BLOB) &&
            r->cell.n > SL_STORE__MAX_VALUE_LEN)
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
        struct sl_store__row *r = &j->rows[i];
        r->profile = j->bytes + (uintptr_t)r->profile;
        r->entity = j->bytes + (uintptr_t)r->entity;
        r->groups = j->bytes + (uintptr_t)r->groups;
        if (r->cell.col == SL_STORE__TEXT || r->cell.col == SL_STORE__BLOB)
            r->cell.p = j->bytes + (uintptr_t)r->cell.p;
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
 * Reads: on the caller's thread, straight to the backend
 */

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
    return s->ops->get(s->be, s->url, profile, entity, groups, duration_ms, periods, n, a, values,
                       found);
}

int sl_store_series(struct sl_store *s, struct sl_str profile, struct sl_str entity,
                    struct sl_str groups, int64_t from_ms, int64_t to_ms, sl_store_visit_fn fn,
                    void *ud)
{
    return s->ops->series(s->be, s->url, profile, entity, groups, from_ms, to_ms, fn, ud);
}

int sl_store_profiles(struct sl_store *s, sl_store_profile_fn fn, void *ud)
{
    return s->ops->profiles(s->be, s->url, fn, ud);
}

int sl_store_entities(struct sl_store *s, struct sl_str profile, sl_store_entity_fn fn, void *ud)
{
    return s->ops->entities(s->be, s->url, profile, fn, ud);
}
