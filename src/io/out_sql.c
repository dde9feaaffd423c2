/*
 * out_sql.c — the parts of the `postgres` and `sqlite` sinks that do not talk to a database:
 * column resolution, type inference, quoting, CREATE TABLE text, value rendering, the set of
 * pending rows and the retry back-off (see out_sql.h).
 *
 * DESIGN: columns are decided once, at the first transaction, because only then are both
 * the first rows and the table (does it exist, which columns) known. The decision is kept
 * for the life of the sink: a table whose shape changes under a running sink is not
 * followed (restart the pipeline). Rendering produces the text PostgreSQL's input functions
 * read for the column types `create` picks, so the same text also fits existing columns of
 * compatible types; when it does not, the server rejects the row and it becomes a dead
 * letter.
 */
#include "io/out_sql.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t sl_sql_stats_fill(const struct sl_sql_stats *st, const char *prefix,
                         struct sl_comp_stat *out)
{
    /* names must outlive the call: one static table per dialect prefix */
    static const char *const pg[] = {
        "sluice_postgres_rows_written_total", "sluice_postgres_rows_rejected_total",
        "sluice_postgres_retries_total", "sluice_postgres_fields_ignored_total",
        "sluice_postgres_transactions_total"};
    static const char *const lite[] = {
        "sluice_sqlite_rows_written_total", "sluice_sqlite_rows_rejected_total",
        "sluice_sqlite_retries_total", "sluice_sqlite_fields_ignored_total",
        "sluice_sqlite_transactions_total"};
    const char *const *n = strcmp(prefix, "postgres") == 0 ? pg : lite;
    out[0] = (struct sl_comp_stat){n[0], "rows committed", false,
                                   (double)atomic_load(&st->rows_written)};
    out[1] = (struct sl_comp_stat){n[1], "rows the database rejected (dead letters)", false,
                                   (double)atomic_load(&st->rows_rejected)};
    out[2] = (struct sl_comp_stat){n[2], "transactions retried after a failure", false,
                                   (double)atomic_load(&st->retries)};
    out[3] = (struct sl_comp_stat){n[3], "fields of events that are not columns (ignored)", false,
                                   (double)atomic_load(&st->fields_ignored)};
    out[4] = (struct sl_comp_stat){n[4], "transactions committed", false,
                                   (double)atomic_load(&st->transactions)};
    return 5;
}

/* ---- identifiers and types */

int sl_sql_quote_ident(struct sl_buf *out, struct sl_str name)
{
    int rc = sl_buf_putc(out, '"');
    size_t from = 0;
    for (size_t i = 0; i < name.len && !rc; i++) {
        if (name.ptr[i] != '"')
            continue;
        rc = sl_buf_append(out, name.ptr + from, i + 1 - from);
        if (!rc)
            rc = sl_buf_putc(out, '"');
        from = i + 1;
    }
    if (!rc)
        rc = sl_buf_append(out, name.ptr + from, name.len - from);
    return rc ? rc : sl_buf_putc(out, '"');
}

int sl_sql_quote_table(struct sl_buf *out, const char *table)
{
    if (strchr(table, '"'))
        return sl_buf_puts(out, table);
    struct sl_str t = sl_str_c(table);
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i <= t.len && !rc; i++) {
        if (i < t.len && t.ptr[i] != '.')
            continue;
        if (from)
            rc = sl_buf_putc(out, '.');
        if (!rc)
            rc = sl_sql_quote_ident(out, sl_str_make(t.ptr + from, i - from));
        from = i + 1;
    }
    return rc;
}

const char *sl_sql_type_for(enum sl_sql_dialect d, enum sl_vtype t)
{
    bool pg = d == SL_SQL_POSTGRES;
    switch (t) {
    case SL_V_BOOL:
        return "BOOLEAN";
    case SL_V_INT:
        return pg ? "BIGINT" : "INTEGER";
    case SL_V_DOUBLE:
        return pg ? "DOUBLE PRECISION" : "REAL";
    case SL_V_BYTES:
        return pg ? "BYTEA" : "BLOB";
    case SL_V_TS:
        return pg ? "TIMESTAMPTZ" : "TEXT";
    case SL_V_IP:
        return pg ? "INET" : "TEXT";
    case SL_V_LIST:
    case SL_V_MAP:
    case SL_V_OBJECT:
        return pg ? "JSONB" : "TEXT";
    case SL_V_NULL:
    case SL_V_STRING:
    case SL_V__COUNT:
        break;
    }
    return "TEXT";
}

/* ---- columns */

static bool in_list(const struct sl_strlist *l, struct sl_str s)
{
    for (size_t i = 0; i < l->count; i++)
        if (sl_str_eq_c(s, l->items[i]))
            return true;
    return false;
}

static const char *schema_type(const struct sl_strmap *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->items[i].key, name) == 0)
            return m->items[i].val;
    return NULL;
}

static int cmp_sym(const void *a, const void *b)
{
    sl_sym x = *(const sl_sym *)a, y = *(const sl_sym *)b;
    return x < y ? -1 : x > y;
}

/* Inferred type of column `path` over rows[]. */
static enum sl_vtype infer(const struct sl_path *path, const struct sl_event *const *rows,
                           size_t nrows)
{
    enum sl_vtype t = SL_V_NULL;
    for (size_t i = 0; i < nrows; i++) {
        const struct sl_value *v = sl_path_get(path, rows[i]);
        if (!v || v->type == SL_V_NULL)
            continue;
        enum sl_vtype vt = (enum sl_vtype)v->type;
        if (t == SL_V_NULL)
            t = vt;
        else if ((t == SL_V_INT && vt == SL_V_DOUBLE) || (t == SL_V_DOUBLE && vt == SL_V_INT))
            t = SL_V_DOUBLE;
        else if (t != vt)
            return SL_V_STRING;
    }
    return t;
}

/* Names of the columns, before drop_fields: a list of borrowed strings. */
struct names {
    const char **v;
    size_t count, cap;
};

static void names_add(struct names *n, const char *s)
{
    for (size_t i = 0; i < n->count; i++)
        if (strcmp(n->v[i], s) == 0)
            return;
    if (n->count == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 16;
        n->v = sl_xrealloc(n->v, n->cap * sizeof(*n->v));
    }
    n->v[n->count++] = s;
}

static bool table_has(const char *const *tc, size_t ntc, const char *name)
{
    for (size_t i = 0; i < ntc; i++)
        if (strcmp(tc[i], name) == 0)
            return true;
    return false;
}

int sl_sql_cols_resolve(struct sl_sql_cols *out, const char *comp, const struct sl_sql_conf *cf,
                        enum sl_sql_dialect d, const struct sl_event *const *rows, size_t nrows,
                        const char *const *table_cols, size_t ntable_cols, char *err,
                        size_t err_len)
{
    struct names n = {0};
    char **owned = NULL; /* field names copied from symbols (NUL-terminated) */
    size_t nowned = 0;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (cf->columns.count) {
        for (size_t i = 0; i < cf->columns.count; i++)
            names_add(&n, cf->columns.items[i]);
    } else if (cf->schema.count) {
        for (size_t i = 0; i < cf->schema.count; i++)
            names_add(&n, cf->schema.items[i].key);
    } else {
        out->inferred = true;
        size_t cap = 0;
        for (size_t r = 0; r < nrows; r++) {
            for (uint32_t f = 0; f < rows[r]->count; f++) {
                struct sl_str nm = sl_sym_name(rows[r]->fields[f].sym);
                bool seen = false;
                for (size_t k = 0; k < nowned && !seen; k++)
                    seen = sl_str_eq_c(nm, owned[k]);
                if (seen || in_list(&cf->drop_fields, nm))
                    continue;
                if (nowned == cap) {
                    cap = cap ? cap * 2 : 16;
                    owned = sl_xrealloc(owned, cap * sizeof(*owned));
                }
                owned[nowned] = sl_xstrndup(nm.ptr, nm.len);
                if (table_cols && !table_has(table_cols, ntable_cols, owned[nowned]))
                    sl_warn(comp, "field '%s' is not a column of the table: ignored",
                            owned[nowned]);
                else
                    names_add(&n, owned[nowned]);
                nowned++;
            }
        }
    }
    size_t keep = 0;
    for (size_t i = 0; i < n.count; i++)
        if (!in_list(&cf->drop_fields, sl_str_c(n.v[i])))
            keep++;
    if (!keep) {
        snprintf(err, err_len, "no columns to write (no fields%s)",
                 cf->drop_fields.count ? " left after drop_fields" : "");
        rc = SL_ECONFIG;
        goto fail;
    }
    for (size_t k = 0; k < cf->upsert_keys.count; k++) {
        bool found = false;
        for (size_t i = 0; i < n.count && !found; i++)
            found = strcmp(n.v[i], cf->upsert_keys.items[k]) == 0 &&
                    !in_list(&cf->drop_fields, sl_str_c(n.v[i]));
        if (!found) {
            snprintf(err, err_len, "upsert key '%s' is not one of the columns",
                     cf->upsert_keys.items[k]);
            rc = SL_ECONFIG;
            goto fail;
        }
    }
    out->v = sl_xcalloc(keep, sizeof(*out->v));
    for (size_t i = 0; i < n.count; i++) {
        if (in_list(&cf->drop_fields, sl_str_c(n.v[i])))
            continue;
        struct sl_sql_col *col = &out->v[out->count];
        if ((rc = sl_path_init(&col->path, n.v[i])) != 0) {
            snprintf(err, err_len, "bad column '%s': %s", n.v[i], sl_strerror(rc));
            rc = SL_ECONFIG;
            goto fail;
        }
        out->count++;
        col->name = sl_xstrdup(n.v[i]);
        col->key = in_list(&cf->upsert_keys, sl_str_c(n.v[i]));
        const char *st = schema_type(&cf->schema, n.v[i]);
        col->sqltype = sl_xstrdup(st ? st : sl_sql_type_for(d, infer(&col->path, rows, nrows)));
    }
    if (out->inferred) {
        out->nknown = nowned;
        out->known = sl_xcalloc(nowned + cf->drop_fields.count + 1, sizeof(*out->known));
        for (size_t i = 0; i < nowned; i++)
            out->known[i] = sl_sym_intern_c(owned[i]);
        for (size_t i = 0; i < cf->drop_fields.count; i++)
            out->known[out->nknown++] = sl_sym_intern_c(cf->drop_fields.items[i]);
        qsort(out->known, out->nknown, sizeof(*out->known), cmp_sym);
    }
    goto done;
fail:
    sl_sql_cols_fini(out);
done:
    for (size_t i = 0; i < nowned; i++)
        sl_free(owned[i]);
    sl_free(owned);
    sl_free(n.v);
    return rc;
}

void sl_sql_cols_fini(struct sl_sql_cols *c)
{
    for (size_t i = 0; i < c->count; i++) {
        sl_path_fini(&c->v[i].path);
        sl_free(c->v[i].name);
        sl_free(c->v[i].sqltype);
    }
    sl_free(c->v);
    sl_free(c->known);
    memset(c, 0, sizeof(*c));
}

size_t sl_sql_cols_unknown(const struct sl_sql_cols *c, const struct sl_event *ev)
{
    if (!c->inferred)
        return 0;
    size_t n = 0;
    for (uint32_t f = 0; f < ev->count; f++)
        if (!bsearch(&ev->fields[f].sym, c->known, c->nknown, sizeof(*c->known), cmp_sym))
            n++;
    return n;
}

int sl_sql_col_list(struct sl_buf *out, const struct sl_sql_cols *c, const char *prefix)
{
    int rc = 0;
    for (size_t i = 0; i < c->count && !rc; i++) {
        if (i)
            rc = sl_buf_puts(out, ", ");
        if (!rc && prefix)
            rc = sl_buf_puts(out, prefix);
        if (!rc)
            rc = sl_sql_quote_ident(out, sl_str_c(c->v[i].name));
    }
    return rc;
}

int sl_sql_create_text(struct sl_buf *out, const char *table, const struct sl_sql_cols *c)
{
    int rc = sl_buf_puts(out, "CREATE TABLE IF NOT EXISTS ");
    if (!rc)
        rc = sl_sql_quote_table(out, table);
    if (!rc)
        rc = sl_buf_puts(out, " (");
    for (size_t i = 0; i < c->count && !rc; i++) {
        if (i)
            rc = sl_buf_puts(out, ", ");
        if (!rc)
            rc = sl_sql_quote_ident(out, sl_str_c(c->v[i].name));
        if (!rc)
            rc = sl_buf_appendf(out, " %s", c->v[i].sqltype);
    }
    bool first = true;
    for (size_t i = 0; i < c->count && !rc; i++) {
        if (!c->v[i].key)
            continue;
        rc = sl_buf_puts(out, first ? ", PRIMARY KEY (" : ", ");
        if (!rc)
            rc = sl_sql_quote_ident(out, sl_str_c(c->v[i].name));
        first = false;
    }
    if (!rc && !first)
        rc = sl_buf_putc(out, ')');
    return rc ? rc : sl_buf_putc(out, ')');
}

/* ---- values */

/* Decimal text of i (the fast path of every integer column). */
static int render_int(struct sl_buf *out, int64_t i)
{
    char tmp[24];
    char *e = tmp + sizeof(tmp), *p = e;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        *--p = '-';
    return sl_buf_append(out, p, (size_t)(e - p));
}

static int render_double(struct sl_buf *out, const struct sl_value *v)
{
    if (isnan(v->u.d))
        return sl_buf_puts(out, "NaN");
    if (isinf(v->u.d))
        return sl_buf_puts(out, v->u.d > 0 ? "Infinity" : "-Infinity");
    /* the JSON writer's shortest round-trip text (fast path for telemetry doubles; snprintf +
     * strtod per value was a fifth of the sink's render time); integral values read "2.0" */
    return sl_json_write_value(out, v);
}

int sl_sql_render(struct sl_buf *out, const struct sl_value *v, bool *is_null)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[64];
    *is_null = false;
    if (!v || v->type == SL_V_NULL) {
        *is_null = true;
        return 0;
    }
    switch ((enum sl_vtype)v->type) {
    case SL_V_BOOL:
        return sl_buf_puts(out, v->u.b ? "true" : "false");
    case SL_V_INT:
        return render_int(out, v->u.i);
    case SL_V_DOUBLE:
        return render_double(out, v);
    case SL_V_STRING:
        return sl_buf_append(out, v->u.s, v->len);
    case SL_V_BYTES: {
        int rc = sl_buf_reserve(out, 2 + (size_t)v->len * 2);
        if (rc)
            return rc;
        sl_buf_append(out, "\\x", 2);
        for (uint32_t i = 0; i < v->len; i++) {
            unsigned char ch = (unsigned char)v->u.s[i];
            char two[2] = {hex[ch >> 4], hex[ch & 15]};
            sl_buf_append(out, two, 2);
        }
        return 0;
    }
    case SL_V_TS: {
        size_t n = sl_clock_format_rfc3339(v->u.ts_ns, 6, tmp, sizeof(tmp));
        return sl_buf_append(out, tmp, n < sizeof(tmp) ? n : sizeof(tmp) - 1);
    }
    case SL_V_IP: {
        size_t n = sl_value_ip_format(v, tmp, sizeof(tmp));
        return sl_buf_append(out, tmp, n < sizeof(tmp) ? n : sizeof(tmp) - 1);
    }
    case SL_V_LIST:
    case SL_V_MAP:
    case SL_V_OBJECT:
        return sl_json_write_value(out, v);
    case SL_V_NULL:
    case SL_V__COUNT:
        break;
    }
    *is_null = true;
    return 0;
}

int sl_sql_copy_escape(struct sl_buf *out, const char *p, size_t n)
{
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *esc;
        switch (p[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\0':
            esc = "\\000"; /* the server rejects it (no NUL in text): a dead letter */
            break;
        default:
            continue;
        }
        rc = sl_buf_append(out, p + from, i - from);
        if (!rc)
            rc = sl_buf_puts(out, esc);
        from = i + 1;
    }
    return rc ? rc : sl_buf_append(out, p + from, n - from);
}

/* ---- pending rows */

void sl_sql_pending_add(struct sl_sql_pending *p, struct sl_batch *b)
{
    if (p->nbatches == p->bcap) {
        p->bcap = p->bcap ? p->bcap * 2 : 8;
        p->batches = sl_xrealloc(p->batches, p->bcap * sizeof(*p->batches));
        p->holds = sl_xrealloc(p->holds, p->bcap * sizeof(*p->holds));
    }
    sl_batch_ref(b);
    p->batches[p->nbatches] = b;
    p->holds[p->nbatches] = sl_sink_hold(b);
    p->nbatches++;
    if (p->count + b->count > p->cap) {
        while (p->count + b->count > p->cap)
            p->cap = p->cap ? p->cap * 2 : 1024;
        p->rows = sl_xrealloc(p->rows, p->cap * sizeof(*p->rows));
    }
    for (uint32_t i = 0; i < b->count; i++)
        p->rows[p->count++] = &b->events[i];
}

void sl_sql_pending_done(struct sl_sql_pending *p, bool ok)
{
    for (size_t i = 0; i < p->nbatches; i++) {
        sl_ack_release(p->holds[i], ok);
        sl_batch_unref(p->batches[i]);
    }
    p->nbatches = 0;
    p->count = 0;
}

void sl_sql_pending_fini(struct sl_sql_pending *p)
{
    sl_sql_pending_done(p, false);
    sl_free(p->rows);
    sl_free(p->batches);
    sl_free(p->holds);
    memset(p, 0, sizeof(*p));
}

void sl_sql_backoff_sleep(int64_t *cur_ns, int64_t max_ns)
{
    int64_t ns = *cur_ns > 0 ? *cur_ns : 1000000;
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0)
        ;
    *cur_ns = ns * 2 > max_ns ? max_ns : ns * 2;
}

void sl_sql_rejects_emit(struct sl_component *c, struct sl_sql_stats *st, struct sl_log_limit *lim,
                         char **why, const struct sl_event **rows, size_t n)
{
    struct sl_batch *errs = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!why[i])
            continue;
        atomic_fetch_add_explicit(&st->rows_rejected, 1, memory_order_relaxed);
        sl_log_ratelimited(lim, 1, SL_LOG_WARN, c->name, "row rejected: %s", why[i]);
        if (!errs)
            errs = sl_batch_new();
        if (sl_error_event_for(errs, c->name, why[i], rows[i]))
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
        sl_free(why[i]);
        why[i] = NULL;
    }
    if (errs)
        sl_sink_emit_errors(c, errs);
}
