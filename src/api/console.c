/*
 * console.c — the web console's assets and endpoints (see console.h, docs/console.md).
 *
 * DESIGN: the assets are static arrays generated at build time (cmake/embed_assets.cmake), so
 * an answer is a persistent MHD buffer: no copy, no file system, nothing to install. Each
 * file is also embedded gzip-compressed, sent to clients that accept gzip. They are
 * revalidated by ETag (Cache-Control: no-cache): a reload costs a 304 once the browser has
 * them. The data endpoints answer like the rest of the API (JSON, no-store) and need a token
 * when the API has a tokens file; the console asks for one when it gets a 401.
 *
 * Samples: see console.h. A ring keeps N owned JSON texts; the tap formats the batch's last
 * events into a local buffer first and holds the ring's mutex only to swap pointers, so a
 * reader (the API thread copying the ring into an answer) never waits for a formatter.
 *
 * Queries run on the API's one thread, each on a connection of its own (SQLite opened
 * read-only; PostgreSQL in a READ ONLY transaction, never as a superuser), capped at 5 s and 1,000
 * rows: a long query delays the other API answers (/metrics) by that much at most.
 */
#include "api/console.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "codec/json.h"
#include "core/event.h"
#include "io/httpd.h"
#include "lang/stellar.h"
#include "state/store.h"
#include "sys/thread.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define CONSOLE_PREFIX "/console"
#define DATA_PREFIX    "/api/v1/console/"

/* ---------------------------------------------------------------- samples */

struct ring {
    struct sl_mutex lock;
    atomic_int_fast64_t last_ns; /* mono time of the last sampled batch (0: never) */
    char **items;                /* guarded_by: lock — cap JSON texts, NULL when unused */
    int64_t *at_ms;              /* guarded_by: lock — wall time each was taken */
    uint32_t head;               /* guarded_by: lock — the next slot to write */
    uint64_t seen;               /* guarded_by: lock — events sampled so far */
};

struct samples {
    uint32_t ncomp, cap;
    struct ring *rings; /* 2 per component: main output, errors */
};

static void samples_free(void *ctx)
{
    struct samples *s = ctx;
    for (uint32_t i = 0; i < 2 * s->ncomp; i++) {
        struct ring *r = &s->rings[i];
        for (uint32_t k = 0; k < s->cap; k++)
            sl_free(r->items[k]);
        sl_free(r->items);
        sl_free(r->at_ms);
        sl_mutex_fini(&r->lock);
    }
    sl_free(s->rings);
    sl_free(s);
}

/* The pipeline's tap: any thread that sends a batch. */
static void samples_tap(void *ctx, const struct sl_component *c, unsigned port,
                        const struct sl_batch *b)
{
    struct samples *s = ctx;
    if (c->id >= s->ncomp)
        return;
    struct ring *r = &s->rings[2 * c->id + port];
    int64_t now = sl_clock_mono_ns();
    int_fast64_t last = atomic_load_explicit(&r->last_ns, memory_order_relaxed);
    /* the main output at most every SL_CONSOLE_SAMPLE_EVERY_MS, by one thread at a time; dead
     * letters are rare and each one tells something, so every error batch is taken */
    if (port == 0) {
        if (last && now - last < (int64_t)SL_CONSOLE_SAMPLE_EVERY_MS * 1000000)
            return;
        if (!atomic_compare_exchange_strong_explicit(&r->last_ns, &last, now, memory_order_relaxed,
                                                     memory_order_relaxed))
            return; /* another thread samples this port now */
    }
    uint32_t n = b->count < s->cap ? b->count : s->cap;
    char *texts[SL_CONSOLE_MAX_SAMPLES];
    struct sl_buf one;
    sl_buf_init(&one, SL_CONSOLE_SAMPLE_MAX_LEN);
    for (uint32_t i = 0; i < n; i++) {
        sl_buf_reset(&one);
        const struct sl_event *ev = &b->events[b->count - n + i];
        if (sl_json_write_event(&one, ev) != 0) {
            sl_buf_reset(&one);
            sl_buf_puts(&one, "{\"_sample\":\"longer than 16 KiB: not kept\"}");
        }
        size_t len = 0;
        char *p = sl_buf_steal(&one, &len);
        texts[i] = p ? p : sl_xstrdup("{}");
    }
    sl_buf_fini(&one);
    int64_t at = sl_clock_wall_ns() / 1000000;
    sl_mutex_lock(&r->lock);
    for (uint32_t i = 0; i < n; i++) {
        char *old = r->items[r->head];
        r->items[r->head] = texts[i];
        r->at_ms[r->head] = at;
        texts[i] = old;
        r->head = (r->head + 1) % s->cap;
    }
    r->seen += n;
    sl_mutex_unlock(&r->lock);
    for (uint32_t i = 0; i < n; i++)
        sl_free(texts[i]);
}

/* ---------------------------------------------------------------- console */

struct sl_console {
    struct sl_pipeline *pipe;
    struct samples *samples; /* the pipeline's, or NULL */
    /* history: a thread renders a point every SL_CONSOLE_HISTORY_EVERY_MS */
    struct sl_thread thread;
    struct sl_mutex lock;
    struct sl_cond cond;
    bool stopping;                           /* guarded_by: lock */
    char *points[SL_CONSOLE_HISTORY_POINTS]; /* guarded_by: lock — JSON texts, a ring */
    uint32_t head;                           /* guarded_by: lock — the next slot */
};

static void json_str(struct sl_buf *out, const char *s);
static int json_num(struct sl_buf *out, double v);

/* {"a":1,...}: the component's own metrics (ops->stats), as /metrics names them. */
static void comp_stats_json(struct sl_component *comp, struct sl_buf *out)
{
    struct sl_comp_stat st[SL_COMP_STATS_MAX];
    size_t ns = comp->ops->stats ? comp->ops->stats(comp, st) : 0;
    sl_buf_putc(out, '{');
    for (size_t k = 0; k < ns && k < SL_COMP_STATS_MAX; k++) {
        if (k)
            sl_buf_putc(out, ',');
        json_str(out, st[k].name);
        sl_buf_putc(out, ':');
        json_num(out, st[k].value);
    }
    sl_buf_putc(out, '}');
}

/* One point of the history: the time, every component's counters and own metrics. */
static void history_point(struct sl_console *c, struct sl_buf *out)
{
    sl_buf_appendf(out, "{\"t_ms\":%lld,\"components\":[",
                   (long long)(sl_clock_wall_ns() / 1000000));
    uint32_t n = sl_pipeline_count(c->pipe);
    for (uint32_t i = 0; i < n; i++) {
        struct sl_component *comp = sl_pipeline_component(c->pipe, i);
        if (i)
            sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        json_str(out, comp->name);
        sl_buf_appendf(
            out,
            ",\"events_in\":%llu,\"events_out\":%llu,\"errors\":%llu,\"dropped\":%llu,\"stats\":",
            (unsigned long long)atomic_load_explicit(&comp->m.events_in, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&comp->m.events_out, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&comp->m.errors, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&comp->m.dropped, memory_order_relaxed));
        comp_stats_json(comp, out);
        sl_buf_putc(out, '}');
    }
    sl_buf_puts(out, "]}");
}

/* The history thread: a point now, then every SL_CONSOLE_HISTORY_EVERY_MS until stopped. */
static void *history_main(void *arg)
{
    struct sl_console *c = arg;
    int64_t next = sl_clock_mono_ns();
    sl_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (sl_clock_mono_ns() < next) {
            (void)sl_cond_wait_until(&c->cond, &c->lock, next);
            continue;
        }
        next += (int64_t)SL_CONSOLE_HISTORY_EVERY_MS * 1000000;
        sl_mutex_unlock(&c->lock);
        struct sl_buf b;
        sl_buf_init(&b, 8u << 20);
        history_point(c, &b);
        size_t len = 0;
        char *p = sl_buf_steal(&b, &len);
        sl_mutex_lock(&c->lock);
        char *old = c->points[c->head];
        c->points[c->head] = p;
        c->head = (c->head + 1) % SL_CONSOLE_HISTORY_POINTS;
        sl_mutex_unlock(&c->lock);
        sl_free(old);
        sl_mutex_lock(&c->lock);
    }
    sl_mutex_unlock(&c->lock);
    return NULL;
}

unsigned sl_console_history_json(struct sl_console *c, struct sl_buf *out)
{
    sl_buf_appendf(out, "{\"every_ms\":%d,\"points\":[", SL_CONSOLE_HISTORY_EVERY_MS);
    bool first = true;
    sl_mutex_lock(&c->lock);
    for (uint32_t k = 0; k < SL_CONSOLE_HISTORY_POINTS; k++) { /* oldest first */
        const char *p = c->points[(c->head + k) % SL_CONSOLE_HISTORY_POINTS];
        if (!p)
            continue;
        if (!first)
            sl_buf_putc(out, ',');
        first = false;
        sl_buf_puts(out, p);
    }
    sl_mutex_unlock(&c->lock);
    sl_buf_puts(out, "]}\n");
    return MHD_HTTP_OK;
}

static int check_samples(int64_t samples, struct sl_diag *d)
{
    if (samples < 0 || samples > SL_CONSOLE_MAX_SAMPLES)
        return sl_diag_set(d, SL_EINVAL, "api: samples must be 0..%d (events kept per component)",
                           SL_CONSOLE_MAX_SAMPLES);
    return 0;
}

int sl_console_install_samples(struct sl_pipeline *p, int64_t samples, struct sl_diag *d)
{
    int rc = check_samples(samples, d);
    if (rc || samples == 0 || sl_pipeline_tap_ctx(p, samples_tap))
        return rc;
    struct samples *s = sl_xcalloc(1, sizeof(*s));
    s->ncomp = sl_pipeline_count(p);
    s->cap = (uint32_t)samples;
    s->rings = sl_xcalloc(2 * (size_t)s->ncomp + 1, sizeof(*s->rings));
    for (uint32_t i = 0; i < 2 * s->ncomp; i++) {
        sl_mutex_init(&s->rings[i].lock);
        s->rings[i].items = sl_xcalloc(s->cap, sizeof(char *));
        s->rings[i].at_ms = sl_xcalloc(s->cap, sizeof(int64_t));
    }
    if (sl_pipeline_set_tap(p, samples_tap, s, samples_free) != 0) {
        samples_free(s);
        return sl_diag_set(d, SL_EEXIST, "api: the pipeline has another tap already");
    }
    return 0;
}

int sl_console_new(struct sl_pipeline *p, int64_t samples, struct sl_console **out,
                   struct sl_diag *d)
{
    *out = NULL;
    int rc = samples ? sl_console_install_samples(p, samples, d) : check_samples(samples, d);
    if (rc)
        return rc;
    struct sl_console *c = sl_xcalloc(1, sizeof(*c));
    c->pipe = p;
    c->samples = samples ? sl_pipeline_tap_ctx(p, samples_tap) : NULL;
    sl_mutex_init(&c->lock);
    sl_cond_init(&c->cond);
    if (sl_thread_start(&c->thread, "sl-console", history_main, c) != 0)
        sl_warn("api", "no console history: cannot start its thread");
    *out = c;
    return 0;
}

void sl_console_free(struct sl_console *c)
{
    if (!c)
        return;
    sl_mutex_lock(&c->lock);
    c->stopping = true;
    sl_cond_signal(&c->cond);
    sl_mutex_unlock(&c->lock);
    if (c->thread.started)
        sl_thread_join(&c->thread);
    for (uint32_t k = 0; k < SL_CONSOLE_HISTORY_POINTS; k++)
        sl_free(c->points[k]);
    sl_cond_fini(&c->cond);
    sl_mutex_fini(&c->lock);
    sl_free(c);
}

bool sl_console_match(const char *url, bool *open)
{
    *open = false;
    if (!strncmp(url, DATA_PREFIX, strlen(DATA_PREFIX)))
        return true;
    if (!strcmp(url, CONSOLE_PREFIX) ||
        !strncmp(url, CONSOLE_PREFIX "/", strlen(CONSOLE_PREFIX) + 1)) {
        *open = true;
        return true;
    }
    return false;
}

static void json_str(struct sl_buf *out, const char *s)
{
    (void)sl_json_write_string(out, s, strlen(s));
}

static int json_num(struct sl_buf *out, double v)
{
    if (v != v || v > 1e300 || v < -1e300)
        return sl_buf_puts(out, "null");
    if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
        return sl_buf_appendf(out, "%lld", (long long)v);
    return sl_buf_appendf(out, "%.17g", v);
}

unsigned sl_console_stats_json(struct sl_console *c, struct sl_buf *out)
{
    sl_buf_appendf(out, "{\"samples\":%u,\"now_ms\":%lld,\"components\":[",
                   c->samples ? c->samples->cap : 0, (long long)(sl_clock_wall_ns() / 1000000));
    uint32_t n = sl_pipeline_count(c->pipe);
    for (uint32_t i = 0; i < n; i++) {
        struct sl_component *comp = sl_pipeline_component(c->pipe, i);
        if (i)
            sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        json_str(out, comp->name);
        sl_buf_appendf(out, ",\"type\":\"%s\",\"kind\":\"%s\",\"stats\":", comp->ops->type,
                       sl_kind_name(comp->ops->kind));
        comp_stats_json(comp, out);
        sl_buf_putc(out, '}');
    }
    sl_buf_puts(out, "]}\n");
    return MHD_HTTP_OK;
}

static void ring_json(const struct samples *s, struct ring *r, const char *name, struct sl_buf *out)
{
    sl_mutex_lock(&r->lock);
    sl_buf_appendf(out, ",\"%s\":[", name);
    bool first = true;
    /* newest first */
    for (uint32_t k = 0; k < s->cap; k++) {
        uint32_t at = (r->head + s->cap - 1 - k) % s->cap;
        if (!r->items[at])
            break;
        if (!first)
            sl_buf_putc(out, ',');
        first = false;
        sl_buf_appendf(out, "{\"at_ms\":%lld,\"event\":%s}", (long long)r->at_ms[at], r->items[at]);
    }
    sl_buf_appendf(out, "],\"%s_seen\":%llu", name, (unsigned long long)r->seen);
    sl_mutex_unlock(&r->lock);
}

unsigned sl_console_samples_json(struct sl_console *c, const char *component, struct sl_buf *out)
{
    struct sl_component *comp = sl_pipeline_find(c->pipe, component);
    if (!comp) {
        sl_buf_puts(out, "{\"error\":\"no such component\",\"component\":");
        json_str(out, component);
        sl_buf_puts(out, "}\n");
        return MHD_HTTP_NOT_FOUND;
    }
    sl_buf_puts(out, "{\"component\":");
    json_str(out, comp->name);
    sl_buf_appendf(out, ",\"type\":\"%s\",\"kind\":\"%s\",\"capacity\":%u", comp->ops->type,
                   sl_kind_name(comp->ops->kind), c->samples ? c->samples->cap : 0);
    if (!c->samples) {
        sl_buf_puts(out, ",\"enabled\":false,\"output\":[],\"errors\":[]}\n");
        return MHD_HTTP_OK;
    }
    struct samples *s = c->samples;
    sl_buf_puts(out, ",\"enabled\":true");
    ring_json(s, &s->rings[2 * comp->id], "output", out);
    ring_json(s, &s->rings[2 * comp->id + 1], "errors", out);
    sl_buf_puts(out, "}\n");
    return MHD_HTTP_OK;
}

/* ---------------------------------------------------------------- queries */

static bool no_var(void *ud, sl_sym sym, const char *name, size_t name_len, struct sl_value *out)
{
    (void)ud;
    (void)sym;
    (void)name;
    (void)name_len;
    (void)out;
    return false;
}

static unsigned query_error(struct sl_buf *out, unsigned status, const char *msg, unsigned col)
{
    sl_buf_reset(out);
    sl_buf_puts(out, "{\"error\":");
    if (!msg || !*msg)
        msg = "failed";
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) /* libpq's end with a newline */
        n--;
    (void)sl_json_write_string(out, msg, n);
    if (col)
        sl_buf_appendf(out, ",\"col\":%u", col);
    sl_buf_puts(out, "}\n");
    return status;
}

static unsigned query_stellar(const char *text, struct sl_buf *out)
{
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_stellar_prog *p = NULL;
    int rc = sl_stellar_compile(text, strlen(text), NULL, &p, &d);
    if (rc)
        return query_error(out, MHD_HTTP_BAD_REQUEST, d.msg, d.col);
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_arena a;
    sl_arena_init(&a, 64u << 10, 64u << 20);
    struct sl_stellar_resolver r = {.get = no_var};
    struct sl_value v;
    unsigned status = MHD_HTTP_OK;
    rc = sl_stellar_eval(vm, p, &r, &a, &v);
    if (rc) {
        const char *why = sl_stellar_vm_error(vm);
        status = query_error(out, MHD_HTTP_BAD_REQUEST, *why ? why : sl_strerror(rc), 0);
    } else {
        sl_buf_puts(out, "{\"lang\":\"stellar\",\"result\":");
        if (sl_json_write_value(out, &v) != 0)
            status = query_error(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "result too large", 0);
        else
            sl_buf_puts(out, "}\n");
    }
    sl_stellar_vm_release(vm);
    sl_arena_fini(&a);
    sl_stellar_vm_free(vm);
    sl_stellar_free(p);
    return status;
}

/* SQLite's progress handler: stop a query past its deadline. */
static int sql_deadline(void *ud)
{
    return sl_clock_mono_ns() > *(int64_t *)ud;
}

/* The rows of an answer stop at SL_CONSOLE_QUERY_MAX_BYTES (the API's buffer takes 64 MiB: an
 * append past it would fail and leave a hole in the JSON). The row written from `mark` on
 * stays when the answer, begun at `start`, is still within that and every append succeeded;
 * else it is taken back and the answer ends there, "truncated". */
static bool row_kept(struct sl_buf *out, size_t start, size_t mark, bool failed)
{
    if (!failed && out->len - start <= SL_CONSOLE_QUERY_MAX_BYTES)
        return true;
    out->len = mark;
    if (out->ptr)
        out->ptr[mark] = '\0';
    return false;
}

static bool over_budget(const struct sl_buf *out, size_t start)
{
    return out->len - start > SL_CONSOLE_QUERY_MAX_BYTES;
}

/* A PostgreSQL value as JSON: numbers and booleans by their column type, the rest as text. */
static int pg_value(const PGresult *r, int row, int col, struct sl_buf *out)
{
    if (PQgetisnull(r, row, col)) {
        return sl_buf_puts(out, "null");
    }
    const char *v = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case 16: /* bool */
        return sl_buf_puts(out, *v == 't' ? "true" : "false");
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
    case 26: /* oid */
        return sl_buf_puts(out, v);
    case 700:  /* float4 */
    case 701:  /* float8 */
    case 1700: /* numeric */
        if (strspn(v, "0123456789.-+eE") == strlen(v) && *v)
            return sl_buf_puts(out, v);
        return sl_buf_puts(out, "null"); /* NaN, Infinity */
    default:
        return sl_json_write_string(out, v, (size_t)PQgetlength(r, row, col));
    }
}

/* A query on the PostgreSQL store: a connection of its own, one statement (the extended
 * protocol takes no more) in a READ ONLY transaction with a 5 s statement_timeout, rolled
 * back. Rows come one at a time (single-row mode): past SL_CONSOLE_QUERY_MAX_ROWS or
 * SL_CONSOLE_QUERY_MAX_BYTES the statement is cancelled, so a query that selects millions of
 * rows costs this process one row's memory, not the whole result's. */
static unsigned query_pg(const char *url, const char *text, struct sl_buf *out)
{
    const char *conninfo = strncmp(url, "postgres://", 11) && strncmp(url, "postgresql://", 13)
                               ? strchr(url, ':') + 1 /* postgres:KEY=VALUE ... */
                               : url;
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, "5", "sluice-console", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    PGresult *r = NULL;
    unsigned status = MHD_HTTP_OK;
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        status =
            query_error(out, MHD_HTTP_BAD_GATEWAY, pg ? PQerrorMessage(pg) : "out of memory", 0);
        goto done;
    }
    r = PQexec(pg, "BEGIN READ ONLY; SET LOCAL statement_timeout = 5000");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        status = query_error(out, MHD_HTTP_BAD_GATEWAY, PQerrorMessage(pg), 0);
        goto done;
    }
    PQclear(r);
    /* READ ONLY does not cover COPY ... TO PROGRAM / TO 'file', pg_read_file() and the like,
     * which a superuser (or a member of the server-file roles) may run, nor a DO block that
     * sets the role back: with such a role a token holder would run programs on the
     * database host. Refused: the store needs a role of its own for the console. */
    r = PQexec(pg, "SELECT rolname FROM pg_roles WHERE rolname = session_user AND (rolsuper OR "
                   "pg_has_role(session_user, 'pg_execute_server_program', 'MEMBER') OR "
                   "pg_has_role(session_user, 'pg_write_server_files', 'MEMBER') OR "
                   "pg_has_role(session_user, 'pg_read_server_files', 'MEMBER'))");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 PQresultStatus(r) != PGRES_TUPLES_OK
                     ? "cannot check the profile store's role: %s"
                     : "SQL from the console is refused: the profile store's role %s is a "
                       "superuser or may run programs or read and write files on the database "
                       "host (give the store a role of its own, see docs/console.md)",
                 PQresultStatus(r) != PGRES_TUPLES_OK ? PQerrorMessage(pg) : PQgetvalue(r, 0, 0));
        status = query_error(out, MHD_HTTP_FORBIDDEN, msg, 0);
        goto done;
    }
    PQclear(r);
    r = NULL;
    if (!PQsendQueryParams(pg, text, 0, NULL, NULL, NULL, NULL, 0) || !PQsetSingleRowMode(pg)) {
        status = query_error(out, MHD_HTTP_BAD_GATEWAY, PQerrorMessage(pg), 0);
        goto done;
    }
    size_t start = out->len;
    int rows = 0;
    bool head = false, truncated = false, failed = false;
    while ((r = PQgetResult(pg)) != NULL) {
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_COPY_OUT || rs == PGRES_COPY_IN || rs == PGRES_COPY_BOTH) {
            /* COPY ... TO STDOUT: PQgetResult would return this result again and again (the
             * loop spun forever); stopped, the ROLLBACK below drops the rest of its data */
            if (!failed && !truncated)
                status = query_error(out, MHD_HTTP_BAD_REQUEST,
                                     "COPY is not supported here: use SELECT", 0);
            failed = true;
            PQclear(r);
            r = NULL;
            PGcancel *cancel = PQgetCancel(pg);
            char err[256];
            if (cancel)
                (void)PQcancel(cancel, err, sizeof err);
            PQfreeCancel(cancel);
            break;
        }
        if (truncated) { /* cancelled: what is left is dropped */
            PQclear(r);
            continue;
        }
        if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK) {
            if (!failed) {
                const char *why = PQresultErrorMessage(r);
                status = query_error(out, MHD_HTTP_BAD_REQUEST,
                                     why && *why ? why : PQerrorMessage(pg), 0);
            }
            failed = true;
            PQclear(r);
            continue;
        }
        if (failed) {
            PQclear(r);
            continue;
        }
        if (!head) {
            int ncol = PQnfields(r);
            sl_buf_puts(out, "{\"lang\":\"sql\",\"columns\":[");
            for (int i = 0; i < ncol; i++) {
                if (i)
                    sl_buf_putc(out, ',');
                json_str(out, PQfname(r, i));
            }
            sl_buf_puts(out, "],\"rows\":[");
            head = true;
        }
        if (rs == PGRES_SINGLE_TUPLE) {
            size_t mark = out->len;
            bool bad = rows == SL_CONSOLE_QUERY_MAX_ROWS;
            if (!bad)
                bad = sl_buf_puts(out, rows ? ",[" : "[") != 0;
            for (int i = 0, ncol = PQnfields(r); i < ncol && !bad && !over_budget(out, start);
                 i++) {
                if (i)
                    bad |= sl_buf_putc(out, ',') != 0;
                bad |= pg_value(r, 0, i, out) != 0;
            }
            if (rows == SL_CONSOLE_QUERY_MAX_ROWS ||
                !row_kept(out, start, mark, bad || sl_buf_putc(out, ']') != 0)) {
                truncated = true; /* stop the statement: its other rows are not wanted */
                PGcancel *cancel = PQgetCancel(pg);
                char err[256];
                if (cancel)
                    (void)PQcancel(cancel, err, sizeof err);
                PQfreeCancel(cancel);
            } else {
                rows++;
            }
        }
        PQclear(r);
    }
    if (!failed)
        sl_buf_appendf(out, "],\"truncated\":%s}\n", truncated ? "true" : "false");
done:
    PQclear(r);
    if (pg && PQstatus(pg) == CONNECTION_OK)
        PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
    return status;
}

/* A read-only SQL query on the default profile store: SQLite through a connection of its own,
 * opened read-only (the store's writer is never blocked, nothing can be changed);
 * PostgreSQL as query_pg says. */
static unsigned query_sql(const char *text, struct sl_buf *out)
{
    struct sl_store *st = sl_store_default();
    if (!st)
        return query_error(out, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "no profile store configured (start with --store sqlite:PATH)", 0);
    const char *url = sl_store_url(st);
    if (!strncmp(url, "postgres", 8))
        return query_pg(url, text, out);
    if (strncmp(url, "sqlite:", 7) != 0)
        return query_error(out, MHD_HTTP_NOT_IMPLEMENTED, "SQL on this kind of store", 0);
    const char *path = url + 7;
    if (!strncmp(path, "//", 2))
        path += 2;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    unsigned status = MHD_HTTP_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        status = query_error(out, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             db ? sqlite3_errmsg(db) : "cannot open the store", 0);
        goto done;
    }
    sqlite3_busy_timeout(db, 2000);
    /* no ATTACH: a token holder reads the store, not other SQLite files of the host */
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
    int64_t deadline = sl_clock_mono_ns() + 5 * (int64_t)1000000000;
    sqlite3_progress_handler(db, 10000, sql_deadline, &deadline);
    const char *tail = NULL;
    if (sqlite3_prepare_v2(db, text, -1, &stmt, &tail) != SQLITE_OK) {
        status = query_error(out, MHD_HTTP_BAD_REQUEST, sqlite3_errmsg(db), 0);
        goto done;
    }
    if (!stmt) {
        status = query_error(out, MHD_HTTP_BAD_REQUEST, "empty query", 0);
        goto done;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';' || *tail == '\r'))
        tail++;
    if (tail && *tail) {
        status = query_error(out, MHD_HTTP_BAD_REQUEST, "one statement at a time", 0);
        goto done;
    }
    if (!sqlite3_stmt_readonly(stmt)) {
        status = query_error(out, MHD_HTTP_BAD_REQUEST, "only read-only statements (SELECT)", 0);
        goto done;
    }
    int ncol = sqlite3_column_count(stmt);
    size_t start = out->len;
    sl_buf_puts(out, "{\"lang\":\"sql\",\"columns\":[");
    for (int i = 0; i < ncol; i++) {
        if (i)
            sl_buf_putc(out, ',');
        const char *name = sqlite3_column_name(stmt, i);
        json_str(out, name ? name : "?");
    }
    sl_buf_puts(out, "],\"rows\":[");
    unsigned rows = 0;
    bool truncated = false;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (rows == SL_CONSOLE_QUERY_MAX_ROWS) {
            truncated = true;
            break;
        }
        size_t mark = out->len;
        bool failed = sl_buf_puts(out, rows ? ",[" : "[") != 0;
        for (int i = 0; i < ncol && !failed && !over_budget(out, start); i++) {
            if (i)
                failed |= sl_buf_putc(out, ',') != 0;
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
                failed |=
                    sl_buf_appendf(out, "%lld", (long long)sqlite3_column_int64(stmt, i)) != 0;
                break;
            case SQLITE_FLOAT:
                failed |= json_num(out, sqlite3_column_double(stmt, i)) != 0;
                break;
            case SQLITE_TEXT:
                failed |= sl_json_write_string(out, (const char *)sqlite3_column_text(stmt, i),
                                               (size_t)sqlite3_column_bytes(stmt, i)) != 0;
                break;
            case SQLITE_BLOB:
                failed |= sl_buf_appendf(out, "\"(%d bytes)\"", sqlite3_column_bytes(stmt, i)) != 0;
                break;
            default:
                failed |= sl_buf_puts(out, "null") != 0;
            }
        }
        failed |= sl_buf_putc(out, ']') != 0;
        if (!row_kept(out, start, mark, failed)) {
            truncated = true;
            break;
        }
        rows++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        status =
            query_error(out, MHD_HTTP_BAD_REQUEST,
                        rc == SQLITE_INTERRUPT ? "query stopped after 5 s" : sqlite3_errmsg(db), 0);
        goto done;
    }
    sl_buf_appendf(out, "],\"truncated\":%s}\n", truncated ? "true" : "false");
done:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return status;
}

unsigned sl_console_query_json(const char *lang, const char *text, struct sl_buf *out)
{
    if (!text || !*text)
        return query_error(out, MHD_HTTP_BAD_REQUEST, "q: the expression or query is missing", 0);
    if (!lang || !strcmp(lang, "stellar"))
        return query_stellar(text, out);
    if (!strcmp(lang, "sql"))
        return query_sql(text, out);
    return query_error(out, MHD_HTTP_BAD_REQUEST, "lang: stellar or sql", 0);
}

/* ---------------------------------------------------------------- HTTP */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, struct sl_buf *body)
{
    size_t len = 0;
    char *p = sl_buf_steal(body, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_asset(struct MHD_Connection *conn, const char *url)
{
    if (!strcmp(url, CONSOLE_PREFIX)) { /* relative asset paths need the slash */
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", CONSOLE_PREFIX "/");
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_MOVED_PERMANENTLY, r);
        MHD_destroy_response(r);
        return ret;
    }
    const char *name = url + strlen(CONSOLE_PREFIX "/");
    if (!*name)
        name = "index.html";
    const struct sl_console_asset *a = NULL;
    for (size_t i = 0; i < sl_console_asset_count; i++)
        if (!strcmp(sl_console_assets[i].path, name))
            a = &sl_console_assets[i];
    if (!a)
        return sl_httpd_error(conn, MHD_HTTP_NOT_FOUND, "no such console file");
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && strstr(inm, a->etag);
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    bool gz = !fresh && a->gz_data && ae && strstr(ae, "gzip"); /* app.js: 31 KB instead of 77 */
    struct MHD_Response *r =
        fresh ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
        : gz
            ? MHD_create_response_from_buffer(a->gz_len, (void *)a->gz_data, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (gz)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    if (a->gz_data)
        MHD_add_response_header(r, "Vary", "Accept-Encoding");
    MHD_add_response_header(r, "Content-Type", a->type);
    char etag[64]; /* weak: the gzip and the plain bytes are one representation */
    snprintf(etag, sizeof etag, "W/%s", a->etag);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
                            "data:; frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result sl_console_handle(struct sl_console *c, struct MHD_Connection *conn,
                                  const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return sl_httpd_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    bool open;
    (void)sl_console_match(url, &open);
    if (open)
        return serve_asset(conn, url);
    const char *what = url + strlen(DATA_PREFIX);
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    unsigned status;
    if (!strcmp(what, "stats")) {
        status = sl_console_stats_json(c, &b);
    } else if (!strcmp(what, "history")) {
        status = sl_console_history_json(c, &b);
    } else if (!strncmp(what, "samples/", 8) && what[8]) {
        status = sl_console_samples_json(c, what + 8, &b);
    } else if (!strcmp(what, "query")) {
        status = sl_console_query_json(
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lang"),
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "q"), &b);
    } else {
        sl_buf_puts(&b, "{\"error\":\"not found\",\"paths\":[\"/api/v1/console/stats\","
                        "\"/api/v1/console/history\",\"/api/v1/console/samples/{component}\","
                        "\"/api/v1/console/query?lang=stellar|sql&q=\"]}\n");
        status = MHD_HTTP_NOT_FOUND;
    }
    return reply(conn, status, &b);
}
