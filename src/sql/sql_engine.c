/*
 * sql_engine.c — the SQL engine's catalog, statements and topics.
 *
 * DESIGN: see sql_engine.h. Topics are names inside the engine; a source (CREATE STREAM/TABLE)
 * reads one topic and decodes each record with its schema; a persistent query reads sources
 * and writes a topic, which the source it created (CREATE ... AS SELECT) reads in turn, so a
 * chain of statements is a chain of synchronous calls. Tables keep their latest row per key
 * (what stream–table joins look up). The planner and the operators are in sql_query.c.
 */
#include "sql/sql_engine.h"

#include "base/alloc.h"
#include "sql/sql_expr.h"
#include "sql/sql_int.h"
#include "sql/sql_parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ helpers */

static bool streq_ci(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

void sq_record_error(struct sl_sql_engine *e, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
    va_end(ap);
    if (e->on_error)
        e->on_error(e->error_ud, who, e->errmsg);
}

static int diag_at(struct sl_diag *d, const struct sl_sql_pos *pos, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int diag_at(struct sl_diag *d, const struct sl_sql_pos *pos, int err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d) {
        d->line = pos ? pos->line : 0;
        d->col = pos ? pos->col : 0;
        d->offset = pos ? (int64_t)pos->offset : -1;
    }
    return sl_diag_set(d, err, "%s", msg);
}

/* the text of a WITH property value (strings as written, numbers printed) */
static const char *prop_text(const struct sl_sql_prop *p, char *tmp, size_t n)
{
    const struct sl_sql_expr *v = p->value;
    if (!v)
        return "";
    switch (v->kind) {
    case SL_SQL_E_STRING:
    case SL_SQL_E_DECIMAL:
        return v->text ? v->text : "";
    case SL_SQL_E_INT:
    case SL_SQL_E_BIGINT:
        snprintf(tmp, n, "%lld", (long long)v->i);
        return tmp;
    case SL_SQL_E_DOUBLE:
        snprintf(tmp, n, "%g", v->d);
        return tmp;
    case SL_SQL_E_BOOL:
        return v->b ? "true" : "false";
    default:
        return "";
    }
}

static const struct sl_sql_prop *prop_find(const struct sl_sql_stmt *st, const char *name)
{
    for (uint32_t i = 0; i < st->nprops; i++)
        if (streq_ci(st->props[i].name, name))
            return &st->props[i];
    return NULL;
}

/* ------------------------------------------------------------------ topics and sources */

struct sq_topic *sq_topic_get(struct sl_sql_engine *e, const char *name, bool create)
{
    for (uint32_t i = 0; i < e->ntopics; i++)
        if (strcmp(e->topics[i]->name, name) == 0)
            return e->topics[i];
    if (!create)
        return NULL;
    struct sq_topic *t = sl_xcalloc(1, sizeof *t);
    t->name = sl_xstrdup(name);
    e->topics = sl_xrealloc(e->topics, (e->ntopics + 1) * sizeof *e->topics);
    e->topics[e->ntopics++] = t;
    return t;
}

struct sq_source *sq_source_find(struct sl_sql_engine *e, const char *name)
{
    for (uint32_t i = 0; i < e->nsources; i++)
        if (strcmp(e->sources[i]->name, name) == 0)
            return e->sources[i];
    return NULL;
}

static void source_free(struct sq_source *s)
{
    if (!s)
        return;
    size_t it = 0;
    struct sl_str k;
    uint64_t v;
    while (sl_hmap_next(&s->state, &it, &k, &v))
        sl_free((void *)(uintptr_t)v);
    sl_hmap_fini(&s->state);
    for (uint32_t i = 0; i < s->ncols; i++)
        sl_free(s->cols[i].name);
    sl_free(s->cols);
    sl_free(s->serde);
    sl_free(s->readers);
    sl_free(s->name);
    sl_free(s->topic);
    sl_free(s->ts_format);
    sl_stellar_free(s->ts_parse);
    sl_free(s->sql);
    sl_arena_fini(&s->types);
    sl_free(s);
}

static void topic_attach(struct sl_sql_engine *e, struct sq_source *s)
{
    struct sq_topic *t = sq_topic_get(e, s->topic, true);
    t->readers = sl_xrealloc(t->readers, (t->nreaders + 1) * sizeof *t->readers);
    t->readers[t->nreaders++] = s;
}

static void topic_detach(struct sl_sql_engine *e, struct sq_source *s)
{
    struct sq_topic *t = sq_topic_get(e, s->topic, false);
    if (!t)
        return;
    for (uint32_t i = 0; i < t->nreaders; i++)
        if (t->readers[i] == s) {
            memmove(&t->readers[i], &t->readers[i + 1], (t->nreaders - i - 1) * sizeof *t->readers);
            t->nreaders--;
            break;
        }
}

/* finish a source's layout once its columns are known */
static void source_layout(struct sq_source *s)
{
    /* key columns first, declaration order otherwise */
    struct sq_col *c = sl_xcalloc(s->ncols ? s->ncols : 1, sizeof *c);
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].key)
            c[k++] = s->cols[i];
    s->nkey = k;
    for (uint32_t i = 0; i < s->ncols; i++)
        if (!s->cols[i].key)
            c[k++] = s->cols[i];
    sl_free(s->cols);
    s->cols = c;
    s->nserde = s->ncols - s->nkey;
    s->serde = sl_xcalloc(s->nserde ? s->nserde : 1, sizeof *s->serde);
    for (uint32_t i = 0; i < s->nserde; i++) {
        s->serde[i].name = s->cols[s->nkey + i].name;
        s->serde[i].type = s->cols[s->nkey + i].type;
    }
    s->nslots = s->ncols + 1 + (s->windowed ? 2 : 0);
}

static void engine_add_source(struct sl_sql_engine *e, struct sq_source *s)
{
    e->sources = sl_xrealloc(e->sources, (e->nsources + 1) * sizeof *e->sources);
    e->sources[e->nsources++] = s;
    topic_attach(e, s);
}

/* a deep copy of a type into the source's own arena (statements' trees do not outlive exec) */
static struct sl_sql_type *type_copy(struct sl_arena *a, const struct sl_sql_type *t)
{
    struct sl_sql_type *c = sl_arena_alloc(a, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    if (!t)
        return c;
    *c = *t;
    c->elem = t->elem ? type_copy(a, t->elem) : NULL;
    c->key = t->key ? type_copy(a, t->key) : NULL;
    if (t->nfields) {
        c->fields = sl_arena_alloc(a, t->nfields * sizeof *c->fields);
        if (!c->fields) {
            c->nfields = 0;
            return c;
        }
        for (uint32_t i = 0; i < t->nfields; i++) {
            const char *n = t->fields[i].name ? t->fields[i].name : "";
            c->fields[i].name = sl_arena_strndup(a, n, strlen(n));
            c->fields[i].type = type_copy(a, t->fields[i].type);
        }
    }
    return c;
}

/* ------------------------------------------------------------------ records */

/* a row of source s; key/value as pushed; decoded in the engine's row arena */
static void source_push(struct sl_sql_engine *e, struct sq_source *s, const struct sl_value *key,
                        const struct sl_value *value, int64_t ts, bool windowed, int64_t ws,
                        int64_t we)
{
    /* nobody reads it and no join looks rows up in it: nothing to do */
    if (!s->nreaders && !(s->table && s->materialize))
        return;
    struct sq_row r = {.ts = ts, .seq = ++e->seq, .n = s->nslots};
    r.v = sl_arena_alloc(&e->row_arena, (size_t)s->nslots * sizeof *r.v);
    if (!r.v) {
        e->st.decode_errors++;
        sq_record_error(e, s->name, "out of memory decoding a record");
        return;
    }
    for (uint32_t i = 0; i < s->nslots; i++)
        r.v[i] = sl_value_null();
    char err[256] = "";
    /* key columns */
    if (s->implicit_rowkey) {
        if (key && key->type != SL_V_NULL) {
            struct sl_sql_type st_ = {.kind = SL_SQL_T_STRING};
            if (sl_sql_coerce(key, &st_, &e->row_arena, &r.v[0], err, sizeof err))
                r.v[0] = sl_value_null();
        }
    } else if (s->nkey == 1 && key && key->type != SL_V_NULL) {
        if (sl_sql_coerce(key, s->cols[0].type, &e->row_arena, &r.v[0], err, sizeof err)) {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "key: %s", err);
            return;
        }
    } else if (s->nkey > 1 && key && key->type == SL_V_MAP) {
        struct sl_sql_column kc[64];
        uint32_t nk = s->nkey < 64 ? s->nkey : 64;
        for (uint32_t i = 0; i < nk; i++) {
            kc[i].name = s->cols[i].name;
            kc[i].type = s->cols[i].type;
        }
        if (sl_sql_decode_row(key, kc, nk, &e->row_arena, r.v, err, sizeof err) < 0) {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "key: %s", err);
            return;
        }
    }
    /* value columns */
    int drc = 0;
    if (!value || value->type == SL_V_NULL) {
        r.null_value = true;
    } else {
        drc = sl_sql_decode_row(value, s->serde, s->nserde, &e->row_arena, r.v + s->nkey, err,
                                sizeof err);
        if (drc < 0) {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "%s", err);
            return;
        }
        if (drc == 1)
            r.null_value = true;
    }
    if (s->implicit_rowkey && r.v[0].type == SL_V_NULL && s->legacy_key >= 0 && !r.null_value) {
        struct sl_sql_type st_ = {.kind = SL_SQL_T_STRING};
        if (sl_sql_coerce(&r.v[s->legacy_key], &st_, &e->row_arena, &r.v[0], err, sizeof err))
            r.v[0] = sl_value_null();
    }
    /* timestamp */
    if (s->ts_col >= 0 && !r.null_value) {
        const struct sl_value *tv = &r.v[s->ts_col];
        if (tv->type == SL_V_INT) {
            r.ts = tv->u.i;
        } else if (tv->type == SL_V_STRING && s->ts_parse) {
            struct sl_value out = sl_value_null();
            if (sl_sql_eval(e->vm, s->ts_parse, tv, 1, &e->row_arena, &out) == 0 &&
                out.type == SL_V_INT) {
                r.ts = out.u.i;
            } else {
                e->st.decode_errors++;
                sq_record_error(e, s->name, "timestamp column %s: '%.*s' does not match '%s'",
                                s->cols[s->ts_col].name, (int)(tv->len < 64 ? tv->len : 64),
                                tv->u.s, s->ts_format);
                return;
            }
        } else {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "timestamp column %s is null or not a number",
                            s->cols[s->ts_col].name);
            return;
        }
        if (r.ts < 0 || r.ts > SQ_MAX_TS_MS) {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "timestamp %lld out of range (0 .. %lld ms) skipped",
                            (long long)r.ts, (long long)SQ_MAX_TS_MS);
            return;
        }
    }
    if (r.ts < 0 || r.ts > SQ_MAX_TS_MS) {
        e->st.decode_errors++;
        sq_record_error(e, s->name, "record time %lld out of range skipped", (long long)r.ts);
        return;
    }
    r.v[s->ncols] = sl_value_int(r.ts);
    if (s->windowed) {
        r.windowed = windowed;
        r.ws = ws;
        r.we = we;
        r.v[s->ncols + 1] = windowed ? sl_value_int(ws) : sl_value_null();
        r.v[s->ncols + 2] = windowed ? sl_value_int(we) : sl_value_null();
    }
    /* tables: the latest row per key, when a join looks rows up in it */
    if (s->table && s->materialize) {
        sl_buf_reset(&e->keybuf);
        int krc = sq_key_encode(&e->keybuf, r.v, s->nkey);
        if (!krc && windowed) {
            krc = sl_buf_append(&e->keybuf, &ws, sizeof ws);
            if (!krc)
                krc = sl_buf_append(&e->keybuf, &we, sizeof we);
        }
        if (krc) {
            e->st.decode_errors++;
            sq_record_error(e, s->name, "key too large: record skipped");
            return;
        }
        struct sl_str k = sl_str_make(e->keybuf.ptr ? e->keybuf.ptr : "", e->keybuf.len);
        uint64_t old;
        struct sq_srow *o =
            sl_hmap_get(&s->state, k, &old) ? (struct sq_srow *)(uintptr_t)old : NULL;
        /* full: the new row is refused and the key keeps its old row */
        if (!r.null_value && s->state_bytes - (o ? o->bytes : 0) > e->opts.max_state_bytes) {
            e->st.state_full++;
            sq_record_error(e, s->name, "table state is full (max_state_bytes %llu): row dropped",
                            (unsigned long long)e->opts.max_state_bytes);
            return;
        }
        if (o) {
            s->state_bytes -= o->bytes;
            sl_free(o);
            sl_hmap_del(&s->state, k);
        }
        if (!r.null_value) {
            struct sq_srow *n = sq_srow_new(r.v, r.n, r.ts, r.seq);
            /* the map's slot and key copy, and the allocator's headers, count too */
            n->bytes += sizeof(struct sl_map_slot) + k.len + 2 * SQ_ALLOC_OVERHEAD;
            s->state_bytes += n->bytes;
            if (sl_hmap_put(&s->state, k, (uint64_t)(uintptr_t)n)) {
                s->state_bytes -= n->bytes;
                sl_free(n);
            }
        }
    }
    for (uint32_t i = 0; i < s->nreaders; i++)
        sq_query_input(s->readers[i], s, &r);
}

/* `stable`: the name's address names this topic for as long as the catalog is unchanged (a
 * query's own topic string), so it may be cached by address; callers' buffers may not */
static void push_topic(struct sl_sql_engine *e, const char *topic, bool stable,
                       const struct sl_value *key, const struct sl_value *value, int64_t ts,
                       bool windowed, int64_t ws, int64_t we)
{
    size_t h = ((uintptr_t)topic >> 4) & 7u;
    struct sq_topic *t;
    if (!stable) {
        t = sq_topic_get(e, topic, false);
    } else if (e->tcache_name[h] == topic) {
        t = e->tcache[h];
    } else {
        t = sq_topic_get(e, topic, false);
        e->tcache_name[h] = topic;
        e->tcache[h] = t;
    }
    if (!t)
        return;
    e->depth++;
    for (uint32_t i = 0; i < t->nreaders; i++)
        source_push(e, t->readers[i], key, value, ts, windowed, ws, we);
    e->depth--;
}

int sq_topic_write(struct sl_sql_engine *e, const char *topic, const struct sl_value *key,
                   const char *key_name, const struct sl_value *value, int64_t ts, bool windowed,
                   bool session, int64_t ws, int64_t we)
{
    e->st.records_out++;
    if (e->emit) {
        struct sl_sql_record rec = {.topic = topic,
                                    .key = key,
                                    .key_name = key_name,
                                    .value = value,
                                    .ts_ms = ts,
                                    .windowed = windowed,
                                    .session = session,
                                    .window_start_ms = ws,
                                    .window_end_ms = we};
        e->emit(e->emit_ud, &rec);
    }
    if (e->depth > 64) {
        sq_record_error(e, topic, "queries feed each other more than 64 levels deep: dropped");
        return SL_ELIMIT;
    }
    push_topic(e, topic, true, key, value, ts, windowed, ws, we);
    return 0;
}

int sl_sql_engine_push(struct sl_sql_engine *e, const char *topic, const struct sl_value *key,
                       const struct sl_value *value, int64_t ts_ms)
{
    e->st.records_in++;
    struct sl_value nk = sl_value_null();
    push_topic(e, topic, false, key ? key : &nk, value ? value : &nk, ts_ms, false, 0, 0);
    if (e->depth == 0)
        sl_arena_reset(&e->row_arena);
    return 0;
}

/* ------------------------------------------------------------------ statements */

static int col_check_dup(struct sq_source *s, const char *name, const struct sl_sql_pos *pos,
                         struct sl_diag *d)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return diag_at(d, pos, SL_EINVAL, "duplicate column name '%s'", name);
    return 0;
}

/* WITH properties common to sources: topic, format, timestamp, window type */
static int source_props(struct sl_sql_engine *e, struct sq_source *s, const struct sl_sql_stmt *st,
                        bool need_topic, struct sl_diag *d)
{
    (void)e;
    char tmp[64];
    const struct sl_sql_prop *p;
    for (uint32_t i = 0; i < st->nprops; i++) {
        const char *n = st->props[i].name;
        static const char *known[] = {"KAFKA_TOPIC",
                                      "VALUE_FORMAT",
                                      "FORMAT",
                                      "KEY_FORMAT",
                                      "TIMESTAMP",
                                      "TIMESTAMP_FORMAT",
                                      "WINDOW_TYPE",
                                      "WINDOW_SIZE",
                                      "PARTITIONS",
                                      "REPLICAS",
                                      "KEY",
                                      "VALUE_DELIMITER",
                                      "WRAP_SINGLE_VALUE",
                                      "RETENTION_MS",
                                      "KEY_SCHEMA_ID",
                                      "VALUE_SCHEMA_ID",
                                      NULL};
        bool ok = false;
        for (int k = 0; known[k]; k++)
            if (streq_ci(n, known[k]))
                ok = true;
        if (!ok)
            return diag_at(d, &st->props[i].pos, SL_EINVAL,
                           "unknown property '%s' in WITH (known: KAFKA_TOPIC, VALUE_FORMAT, "
                           "KEY_FORMAT, FORMAT, TIMESTAMP, TIMESTAMP_FORMAT, WINDOW_TYPE, "
                           "PARTITIONS, REPLICAS, KEY)",
                           n);
    }
    if ((p = prop_find(st, "KAFKA_TOPIC")))
        s->topic = sl_xstrdup(prop_text(p, tmp, sizeof tmp));
    else if (need_topic)
        return diag_at(d, &st->pos, SL_EINVAL,
                       "missing required property KAFKA_TOPIC in WITH for %s", st->name);
    else
        s->topic = sl_xstrdup(st->name);
    const struct sl_sql_prop *vf = prop_find(st, "VALUE_FORMAT");
    if (!vf)
        vf = prop_find(st, "FORMAT");
    if (vf) {
        const char *f = prop_text(vf, tmp, sizeof tmp);
        if (!streq_ci(f, "JSON") && !streq_ci(f, "KAFKA"))
            return diag_at(d, &vf->pos, SL_EINVAL,
                           "value format '%s' is not supported: sluice reads and writes JSON", f);
    }
    if ((p = prop_find(st, "WINDOW_TYPE"))) {
        const char *w = prop_text(p, tmp, sizeof tmp);
        s->windowed = true;
        s->session = streq_ci(w, "SESSION");
        if (!s->session && !streq_ci(w, "TUMBLING") && !streq_ci(w, "HOPPING"))
            return diag_at(d, &p->pos, SL_EINVAL,
                           "WINDOW_TYPE must be SESSION, TUMBLING or HOPPING, not '%s'", w);
    }
    if ((p = prop_find(st, "TIMESTAMP_FORMAT")))
        s->ts_format = sl_xstrdup(prop_text(p, tmp, sizeof tmp));
    return 0;
}

static int ts_column(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                     struct sl_diag *d)
{
    out->slot = 0;
    out->type = ud;
    return 0;
}

/* TIMESTAMP_FORMAT: STRINGTOTIMESTAMP(column, format) over the column alone */
static int ts_format_compile(struct sq_source *s, const struct sl_sql_prop *p, struct sl_diag *d)
{
    if (!s->ts_format)
        return 0;
    struct sl_buf b;
    sl_buf_init(&b, 1u << 16);
    sl_buf_puts(&b, "STRINGTOTIMESTAMP(X, '");
    for (const char *c = s->ts_format; *c; c++) {
        if (*c == '\'')
            sl_buf_putc(&b, '\'');
        sl_buf_putc(&b, *c);
    }
    sl_buf_puts(&b, "')");
    struct sl_arena a;
    sl_arena_init(&a, 1024, 1u << 20);
    struct sl_sql_expr *ex = NULL;
    const struct sl_sql_type *t;
    struct sl_sql_scope sc = {.ud = (void *)s->cols[s->ts_col].type, .column = ts_column};
    int rc = sl_sql_parse_expr(b.ptr, b.len, &a, &ex, d);
    if (!rc)
        rc = sl_sql_expr_compile(ex, &sc, false, &a, &s->ts_parse, &t, d);
    sl_arena_fini(&a);
    sl_buf_fini(&b);
    if (rc)
        return diag_at(d, &p->pos, rc, "TIMESTAMP_FORMAT '%s': %s", s->ts_format, d->msg);
    return 0;
}

/* compat 0.6: WITH (KEY='col') names the value column that holds the same data as ROWKEY */
static int legacy_key(struct sl_sql_engine *e, struct sq_source *s, const struct sl_sql_stmt *st,
                      struct sl_diag *d)
{
    char tmp[64];
    const struct sl_sql_prop *p = prop_find(st, "KEY");
    s->legacy_key = -1;
    if (!p)
        return 0;
    if (!e->opts.compat06)
        return diag_at(d, &p->pos, SL_EINVAL,
                       "WITH (KEY=...) is ksqlDB 0.6 syntax: declare the key column with KEY / "
                       "PRIMARY KEY, or run with compat: ksql-0.6");
    const char *want = prop_text(p, tmp, sizeof tmp);
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcasecmp(s->cols[i].name, want) == 0 && !s->cols[i].key) {
            s->legacy_key = (int)i;
            return 0;
        }
    return diag_at(d, &p->pos, SL_ENOENT, "KEY column '%s' is not a column of %s", want, s->name);
}

static int resolve_ts_col(struct sq_source *s, const struct sl_sql_stmt *st, struct sl_diag *d)
{
    char tmp[64];
    const struct sl_sql_prop *p = prop_find(st, "TIMESTAMP");
    s->ts_col = -1;
    if (!p)
        return 0;
    const char *want = prop_text(p, tmp, sizeof tmp);
    for (uint32_t i = 0; i < s->ncols; i++)
        if (streq_ci(s->cols[i].name, want)) {
            if (s->cols[i].key)
                return diag_at(d, &p->pos, SL_EINVAL, "TIMESTAMP column '%s' is a key column",
                               want);
            s->ts_col = (int)i;
            return ts_format_compile(s, p, d);
        }
    return diag_at(d, &p->pos, SL_ENOENT, "TIMESTAMP column '%s' is not a column of %s", want,
                   s->name);
}

static int exec_create_source(struct sl_sql_engine *e, const struct sl_sql_stmt *st,
                              struct sl_buf *out, struct sl_diag *d)
{
    struct sq_source *old = sq_source_find(e, st->name);
    if (old) {
        if (st->if_not_exists)
            return 0;
        if (!st->or_replace)
            return diag_at(d, &st->pos, SL_EEXIST, "%s %s already exists",
                           old->table ? "table" : "stream", st->name);
        return diag_at(d, &st->pos, SL_EINVAL,
                       "CREATE OR REPLACE of %s: drop it first (replacing a running source is not "
                       "supported)",
                       st->name);
    }
    struct sq_source *s = sl_xcalloc(1, sizeof *s);
    sl_arena_init(&s->types, 1024, 1u << 20);
    sl_hmap_init(&s->state);
    s->name = sl_xstrdup(st->name);
    s->table = st->source_kind == SL_SQL_TABLE;
    s->sql = sl_xstrdup(st->text ? st->text : "");
    int rc = source_props(e, s, st, true, d);
    if (rc)
        goto fail;
    s->cols = sl_xcalloc(st->ncols ? st->ncols : 1, sizeof *s->cols);
    for (uint32_t i = 0; i < st->ncols; i++) {
        const struct sl_sql_coldef *c = &st->cols[i];
        if ((rc = col_check_dup(s, c->name, &c->pos, d)))
            goto fail;
        if (c->headers) {
            rc = diag_at(d, &c->pos, SL_EINVAL, "HEADERS columns are not supported");
            goto fail;
        }
        if (c->key && s->table) {
            rc = diag_at(d, &c->pos, SL_EINVAL,
                         "column %s: tables declare their key with PRIMARY KEY, not KEY", c->name);
            goto fail;
        }
        if (c->primary_key && !s->table) {
            rc = diag_at(d, &c->pos, SL_EINVAL,
                         "column %s: streams declare their key with KEY, not PRIMARY KEY", c->name);
            goto fail;
        }
        s->cols[s->ncols].name = sl_xstrdup(c->name);
        s->cols[s->ncols].type = type_copy(&s->types, c->type);
        s->cols[s->ncols].key = c->key || c->primary_key;
        s->ncols++;
    }
    if (e->opts.compat06) {
        bool any_key = false;
        for (uint32_t i = 0; i < s->ncols; i++)
            any_key |= s->cols[i].key;
        if (!any_key) {
            /* ksqlDB 0.6: every source has ROWKEY STRING (the message key) and ROWTIME */
            s->cols = sl_xrealloc(s->cols, (s->ncols + 1) * sizeof *s->cols);
            memmove(&s->cols[1], &s->cols[0], s->ncols * sizeof *s->cols);
            struct sl_sql_type st_ = {.kind = SL_SQL_T_STRING};
            s->cols[0] = (struct sq_col){
                .name = sl_xstrdup("ROWKEY"), .type = type_copy(&s->types, &st_), .key = true};
            s->ncols++;
            s->implicit_rowkey = true;
        }
    }
    if (!st->has_cols || st->ncols == 0) {
        rc = diag_at(d, &st->pos, SL_EINVAL,
                     "%s needs a column list: sluice has no schema registry to infer it from",
                     st->name);
        goto fail;
    }
    source_layout(s);
    if ((rc = legacy_key(e, s, st, d)))
        goto fail;
    if (s->table && s->nkey == 0) {
        rc = diag_at(d, &st->pos, SL_EINVAL,
                     "table %s has no PRIMARY KEY column: a table is keyed (declare e.g. "
                     "`ID INT PRIMARY KEY`)",
                     st->name);
        goto fail;
    }
    if ((rc = resolve_ts_col(s, st, d)))
        goto fail;
    engine_add_source(e, s);
    if (out)
        sl_buf_appendf(out, "%s created\n", s->table ? "Table" : "Stream");
    return 0;
fail:
    d->line = d->line ? d->line : st->pos.line;
    source_free(s);
    return rc;
}

static void query_register(struct sl_sql_engine *e, struct sq_query *q)
{
    e->queries = sl_xrealloc(e->queries, (e->nqueries + 1) * sizeof *e->queries);
    e->queries[e->nqueries++] = q;
}

/* does writing `topic` reach query q's inputs (through sources reading it and the queries
 * reading those)? A query that feeds its own input would loop. Each topic is visited once. */
static bool feeds(struct sl_sql_engine *e, const char *topic, const struct sq_query *q)
{
    struct sq_topic **stack = sl_xcalloc(e->ntopics + 1, sizeof *stack);
    bool *seen = sl_xcalloc(e->ntopics + 1, sizeof *seen);
    uint32_t n = 0;
    bool hit = false;
    struct sq_topic *t0 = sq_topic_get(e, topic, false);
    if (t0)
        stack[n++] = t0;
    while (n && !hit) {
        struct sq_topic *t = stack[--n];
        for (uint32_t i = 0; i < t->nreaders && !hit; i++) {
            const struct sq_source *src = t->readers[i];
            if (sq_query_reads(q, src)) {
                hit = true;
                break;
            }
            for (uint32_t k = 0; k < src->nreaders; k++) {
                struct sq_topic *nt = sq_topic_get(e, sq_query_topic(src->readers[k]), false);
                for (uint32_t m = 0; nt && m < e->ntopics; m++)
                    if (e->topics[m] == nt && !seen[m]) {
                        seen[m] = true;
                        stack[n++] = nt;
                    }
            }
        }
    }
    sl_free(stack);
    sl_free(seen);
    return hit;
}

static int exec_create_as(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sl_buf *out,
                          struct sl_diag *d)
{
    struct sq_source *old = sq_source_find(e, st->name);
    bool insert = st->kind == SL_SQL_S_INSERT_INTO;
    if (insert && !old)
        return diag_at(d, &st->pos, SL_ENOENT, "INSERT INTO %s: no such stream", st->name);
    if (insert && old->table)
        return diag_at(d, &st->pos, SL_EINVAL, "INSERT INTO %s: it is a table; only streams",
                       st->name);
    if (!insert && old) {
        if (st->if_not_exists)
            return 0;
        return diag_at(d, &st->pos, SL_EEXIST, "%s %s already exists",
                       old->table ? "table" : "stream", st->name);
    }
    struct sq_source *s = NULL;
    struct sq_query *q = NULL;
    int rc;
    if (!insert) {
        s = sl_xcalloc(1, sizeof *s);
        sl_arena_init(&s->types, 1024, 1u << 20);
        sl_hmap_init(&s->state);
        s->name = sl_xstrdup(st->name);
        s->table = st->source_kind == SL_SQL_TABLE;
        s->sql = sl_xstrdup(st->text ? st->text : "");
        if ((rc = source_props(e, s, st, false, d)))
            goto fail;
    }
    rc = sq_query_plan(e, st, insert ? old : s, insert ? old->topic : s->topic, &q, d);
    if (rc)
        goto fail;
    if (feeds(e, insert ? old->topic : s->topic, q)) {
        rc = diag_at(d, &st->pos, SL_EINVAL,
                     "%s would feed the query's own input (a cycle through topic '%s'): every "
                     "record would loop",
                     st->name, insert ? old->topic : s->topic);
        goto fail;
    }
    if (insert) {
        const struct sq_col *cols;
        uint32_t n;
        bool win, ses;
        sq_query_columns(q, &cols, &n, &win, &ses);
        bool same = n == old->ncols;
        for (uint32_t i = 0; same && i < n; i++) {
            const struct sq_col *tc = NULL;
            for (uint32_t k = 0; k < old->ncols; k++)
                if (strcmp(old->cols[k].name, cols[i].name) == 0)
                    tc = &old->cols[k];
            same =
                tc && (!cols[i].type || !tc->type || cols[i].type->kind == SL_SQL_T_UNKNOWN ||
                       tc->type->kind == SL_SQL_T_UNKNOWN || cols[i].type->kind == tc->type->kind ||
                       (cols[i].type->kind == SL_SQL_T_INT && tc->type->kind == SL_SQL_T_BIGINT));
        }
        if (!same) {
            rc = diag_at(d, &st->pos, SL_ETYPE,
                         "INSERT INTO %s: the query's columns do not match the stream's (same "
                         "names and types needed; DESCRIBE %s)",
                         st->name, st->name);
            goto fail;
        }
    }
    if (!insert) {
        const struct sq_col *cols;
        uint32_t n;
        bool win, ses;
        sq_query_columns(q, &cols, &n, &win, &ses);
        s->cols = sl_xcalloc(n ? n : 1, sizeof *s->cols);
        for (uint32_t i = 0; i < n; i++) {
            s->cols[i].name = sl_xstrdup(cols[i].name);
            s->cols[i].type = type_copy(&s->types, cols[i].type);
            s->cols[i].key = cols[i].key;
        }
        s->ncols = n;
        s->windowed = win;
        s->session = ses;
        source_layout(s);
        s->implicit_rowkey =
            e->opts.compat06 && s->nkey == 1 && strcmp(s->cols[0].name, "ROWKEY") == 0;
        s->legacy_key = -1;
        if ((rc = resolve_ts_col(s, st, d)))
            goto fail;
        s->producer = q;
        engine_add_source(e, s);
    }
    query_register(e, q);
    if (out)
        sl_buf_appendf(out, "Created query with ID %s\n", sq_query_id(q));
    return 0;
fail:
    /* a planned query has subscribed to its inputs already */
    for (uint32_t i = 0; q && i < e->nsources; i++) {
        struct sq_source *src = e->sources[i];
        for (uint32_t k = 0; k < src->nreaders; k++)
            if (src->readers[k] == q) {
                memmove(&src->readers[k], &src->readers[k + 1],
                        (src->nreaders - k - 1) * sizeof *src->readers);
                src->nreaders--;
                k--;
            }
    }
    sq_query_free(q);
    source_free(s);
    return rc;
}

static void source_remove_reader(struct sq_source *s, struct sq_query *q)
{
    for (uint32_t i = 0; i < s->nreaders; i++)
        if (s->readers[i] == q) {
            memmove(&s->readers[i], &s->readers[i + 1], (s->nreaders - i - 1) * sizeof *s->readers);
            s->nreaders--;
            i--;
        }
}

static void query_terminate(struct sl_sql_engine *e, uint32_t idx)
{
    struct sq_query *q = e->queries[idx];
    for (uint32_t i = 0; i < e->nsources; i++) {
        source_remove_reader(e->sources[i], q);
        if (e->sources[i]->producer == q)
            e->sources[i]->producer = NULL;
    }
    memmove(&e->queries[idx], &e->queries[idx + 1], (e->nqueries - idx - 1) * sizeof *e->queries);
    e->nqueries--;
    sq_query_free(q);
}

static int exec_drop(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sl_buf *out,
                     struct sl_diag *d)
{
    struct sq_source *s = sq_source_find(e, st->name);
    if (!s) {
        if (st->if_exists)
            return 0;
        return diag_at(d, &st->pos, SL_ENOENT, "%s %s does not exist",
                       st->source_kind == SL_SQL_TABLE ? "table" : "stream", st->name);
    }
    if (s->table != (st->source_kind == SL_SQL_TABLE))
        return diag_at(d, &st->pos, SL_EINVAL, "%s is a %s: use DROP %s", st->name,
                       s->table ? "table" : "stream", s->table ? "TABLE" : "STREAM");
    if (s->nreaders)
        return diag_at(d, &st->pos, SL_EINVAL,
                       "cannot drop %s: query %s reads it (TERMINATE it first)", st->name,
                       sq_query_id(s->readers[0]));
    for (uint32_t i = 0; i < e->nqueries; i++)
        if (e->queries[i] != s->producer && sq_query_reads(e->queries[i], s))
            return diag_at(d, &st->pos, SL_EINVAL,
                           "cannot drop %s: query %s joins it (TERMINATE it first)", st->name,
                           sq_query_id(e->queries[i]));
    /* its own producer goes with it (ksqlDB terminates it too) */
    for (uint32_t i = 0; i < e->nqueries; i++)
        if (e->queries[i] == s->producer) {
            query_terminate(e, i);
            break;
        }
    for (uint32_t i = 0; i < e->nsources; i++)
        if (e->sources[i] == s) {
            memmove(&e->sources[i], &e->sources[i + 1], (e->nsources - i - 1) * sizeof *e->sources);
            e->nsources--;
            break;
        }
    topic_detach(e, s);
    if (out)
        sl_buf_appendf(out, "Source %s dropped\n", s->name);
    source_free(s);
    return 0;
}

static int exec_show(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sl_buf *out,
                     struct sl_diag *d)
{
    const char *w = st->show ? st->show : "";
    if (!out)
        return 0;
    if (streq_ci(w, "STREAMS") || streq_ci(w, "TABLES")) {
        bool tables = streq_ci(w, "TABLES");
        sl_buf_appendf(out, "%-32s %-24s %s\n", tables ? "Table Name" : "Stream Name",
                       "Kafka Topic", "Format");
        for (uint32_t i = 0; i < e->nsources; i++)
            if (e->sources[i]->table == tables)
                sl_buf_appendf(out, "%-32s %-24s %s\n", e->sources[i]->name, e->sources[i]->topic,
                               "JSON");
        return 0;
    }
    if (streq_ci(w, "QUERIES")) {
        sl_buf_appendf(out, "%-24s %-10s %s\n", "Query ID", "Status", "Sink Name");
        for (uint32_t i = 0; i < e->nqueries; i++) {
            const char *sink = "";
            for (uint32_t k = 0; k < e->nsources; k++)
                if (e->sources[k]->producer == e->queries[i])
                    sink = e->sources[k]->name;
            sl_buf_appendf(out, "%-24s %-10s %s\n", sq_query_id(e->queries[i]), "RUNNING", sink);
        }
        return 0;
    }
    if (streq_ci(w, "TOPICS")) {
        for (uint32_t i = 0; i < e->ntopics; i++)
            sl_buf_appendf(out, "%s\n", e->topics[i]->name);
        return 0;
    }
    if (streq_ci(w, "PROPERTIES")) {
        sl_buf_appendf(out, "auto.offset.reset = %s\n", e->offset_earliest ? "earliest" : "latest");
        return 0;
    }
    return diag_at(d, &st->pos, SL_EINVAL, "SHOW %s is not supported", w);
}

static int exec_describe(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sl_buf *out,
                         struct sl_diag *d)
{
    struct sq_source *s = sq_source_find(e, st->name);
    if (!s)
        return diag_at(d, &st->pos, SL_ENOENT, "%s does not exist", st->name);
    if (!out)
        return 0;
    sl_buf_appendf(
        out, "Name                 : %s\nType                 : %s\nKafka topic          : %s\n",
        s->name, s->table ? "TABLE" : "STREAM", s->topic);
    sl_buf_appendf(out, "\n %-24s | %s\n", "Field", "Type");
    for (uint32_t i = 0; i < s->ncols; i++) {
        sl_buf_appendf(out, " %-24s | ", s->cols[i].name);
        sl_sql_type_format(s->cols[i].type, out);
        if (s->cols[i].key)
            sl_buf_appendf(out, " (%s)", s->table ? "primary key" : "key");
        sl_buf_putc(out, '\n');
    }
    return 0;
}

static int exec_stmt(struct sl_sql_engine *e, const struct sl_sql_stmt *st, struct sl_buf *out,
                     struct sl_diag *d)
{
    switch (st->kind) {
    case SL_SQL_S_CREATE_SOURCE:
        return exec_create_source(e, st, out, d);
    case SL_SQL_S_CREATE_AS:
    case SL_SQL_S_INSERT_INTO:
        return exec_create_as(e, st, out, d);
    case SL_SQL_S_SELECT: {
        struct sq_query *q = NULL;
        char topic[32];
        snprintf(topic, sizeof topic, "transient_%u", e->next_query_id);
        int rc = sq_query_plan(e, st, NULL, topic, &q, d);
        if (rc)
            return rc;
        query_register(e, q);
        if (out)
            sl_buf_appendf(out, "Push query %s: results on topic %s\n", sq_query_id(q),
                           sq_query_id(q));
        return 0;
    }
    case SL_SQL_S_DROP:
        return exec_drop(e, st, out, d);
    case SL_SQL_S_SET:
        if (st->prop_name && streq_ci(st->prop_name, "auto.offset.reset"))
            e->offset_earliest = st->prop_value && streq_ci(st->prop_value, "earliest");
        if (out)
            sl_buf_appendf(out, "Successfully changed local property '%s' to '%s'\n",
                           st->prop_name ? st->prop_name : "",
                           st->prop_value ? st->prop_value : "");
        return 0;
    case SL_SQL_S_UNSET:
        if (st->prop_name && streq_ci(st->prop_name, "auto.offset.reset"))
            e->offset_earliest = false;
        return 0;
    case SL_SQL_S_SHOW:
        return exec_show(e, st, out, d);
    case SL_SQL_S_DESCRIBE:
        return exec_describe(e, st, out, d);
    case SL_SQL_S_TERMINATE:
        for (uint32_t i = 0; i < e->nqueries; i++)
            if (st->all || (st->name && streq_ci(sq_query_id(e->queries[i]), st->name))) {
                query_terminate(e, i);
                if (!st->all) {
                    if (out)
                        sl_buf_appendf(out, "Query terminated\n");
                    return 0;
                }
                i--;
            }
        if (st->all)
            return 0;
        return diag_at(d, &st->pos, SL_ENOENT, "no query with id %s", st->name ? st->name : "");
    case SL_SQL_S_CREATE_CONNECTOR:
    case SL_SQL_S_DROP_CONNECTOR:
        /* Kafka Connect's job is done by sluice's own sources and sinks: accepted, no effect */
        if (out)
            sl_buf_appendf(out,
                           "Connector %s: accepted (sluice's sources and sinks do this "
                           "work; see docs/sql.md)\n",
                           st->name ? st->name : "");
        return 0;
    case SL_SQL_S_EXPLAIN:
    default:
        return diag_at(d, &st->pos, SL_EINVAL, "%s is not supported",
                       st->text ? st->text : "statement");
    }
}

/* a caret line under the statement's offending column */
static void caret_hint(struct sl_diag *d, const char *src, size_t len)
{
    if (!d || d->offset < 0 || (size_t)d->offset > len || d->hint[0])
        return;
    size_t off = (size_t)d->offset, ls = off, le = off;
    while (ls > 0 && src[ls - 1] != '\n')
        ls--;
    while (le < len && src[le] != '\n')
        le++;
    size_t col = off - ls;
    if (le - ls > 200 || col > 200)
        return;
    char caret[210];
    memset(caret, ' ', col);
    caret[col] = '^';
    caret[col + 1] = 0;
    sl_diag_hint(d, "\n  %.*s\n  %s", (int)(le - ls), src + ls, caret);
}

int sl_sql_engine_exec(struct sl_sql_engine *e, const char *script, size_t len, struct sl_buf *out,
                       struct sl_diag *d)
{
    struct sl_arena a;
    sl_arena_init(&a, 8192, 64u << 20);
    struct sl_sql_script *sc = NULL;
    int rc = sl_sql_parse(script, len, &a, &sc, d);
    memset(e->tcache_name, 0, sizeof e->tcache_name); /* the catalog may change */
    for (uint32_t i = 0; !rc && i < sc->nstmts; i++) {
        d->offset = -1;
        rc = exec_stmt(e, &sc->stmts[i], out, d);
        if (rc)
            caret_hint(d, script, len);
    }
    sl_free(e->input_topics);
    e->input_topics = NULL;
    memset(e->tcache_name, 0, sizeof e->tcache_name);
    sl_arena_fini(&a);
    return rc;
}

/* ------------------------------------------------------------------ lifecycle */

struct sl_sql_engine *sl_sql_engine_new(const struct sl_sql_engine_opts *o, sl_sql_emit_fn emit,
                                        void *ud)
{
    struct sl_sql_engine *e = sl_xcalloc(1, sizeof *e);
    if (o)
        e->opts = *o;
    if (!e->opts.max_state_bytes)
        e->opts.max_state_bytes = 1ull << 30;
    e->emit = emit;
    e->emit_ud = ud;
    e->vm = sl_stellar_vm_new();
    sl_arena_init(&e->row_arena, 64 * 1024, 256u << 20);
    sl_buf_init(&e->scratch, 16u << 20);
    sl_buf_init(&e->keybuf, 256u << 20); /* a key is at most a record (16 MiB of JSON) */
    return e;
}

void sl_sql_engine_free(struct sl_sql_engine *e)
{
    if (!e)
        return;
    while (e->nqueries)
        query_terminate(e, e->nqueries - 1);
    for (uint32_t i = 0; i < e->nsources; i++)
        source_free(e->sources[i]);
    sl_free(e->sources);
    for (uint32_t i = 0; i < e->ntopics; i++) {
        sl_free(e->topics[i]->readers);
        sl_free(e->topics[i]->name);
        sl_free(e->topics[i]);
    }
    sl_free(e->topics);
    sl_free(e->queries);
    sl_free(e->input_topics);
    sl_stellar_vm_free(e->vm);
    sl_arena_fini(&e->row_arena);
    sl_buf_fini(&e->scratch);
    sl_buf_fini(&e->keybuf);
    sl_free(e);
}

void sl_sql_engine_on_error(struct sl_sql_engine *e, sl_sql_error_fn fn, void *ud)
{
    e->on_error = fn;
    e->error_ud = ud;
}

void sl_sql_engine_on_late(struct sl_sql_engine *e, sl_sql_late_fn fn, void *ud)
{
    e->on_late = fn;
    e->late_ud = ud;
}

void sl_sql_engine_stats(const struct sl_sql_engine *e, struct sl_sql_engine_stats *out)
{
    *out = e->st;
    uint64_t b = 0;
    for (uint32_t i = 0; i < e->nsources; i++)
        b += e->sources[i]->state_bytes;
    for (uint32_t i = 0; i < e->nqueries; i++)
        b += sq_query_state_bytes(e->queries[i]);
    out->state_bytes = b;
}

uint32_t sl_sql_engine_sources(struct sl_sql_engine *e, struct sl_sql_source_info **out)
{
    *out = sl_xcalloc(e->nsources + 1, sizeof **out);
    for (uint32_t i = 0; i < e->nsources; i++) {
        (*out)[i].name = e->sources[i]->name;
        (*out)[i].topic = e->sources[i]->topic;
        (*out)[i].table = e->sources[i]->table;
        (*out)[i].written = e->sources[i]->producer != NULL;
    }
    return e->nsources;
}

const char *const *sl_sql_engine_input_topics(struct sl_sql_engine *e)
{
    sl_free(e->input_topics);
    e->input_topics = sl_xcalloc(e->ntopics + 1, sizeof *e->input_topics);
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->ntopics; i++) {
        bool produced = false;
        for (uint32_t k = 0; k < e->nsources; k++)
            if (e->sources[k]->producer && strcmp(e->sources[k]->topic, e->topics[i]->name) == 0)
                produced = true;
        if (!produced && e->topics[i]->nreaders)
            e->input_topics[n++] = e->topics[i]->name;
    }
    return e->input_topics;
}
