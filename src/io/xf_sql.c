/*
 * xf_sql.c — the `sql` transform: ksqlDB statements over the events of its inputs.
 *
 *   transforms:
 *     ksql:
 *       type: sql
 *       inputs: [procstart, moduleload, osinfo]
 *       topics: {procstart: test_topic, moduleload: moduleload_raw, osinfo: osinfo_raw}
 *       statements: |            # or  file: streams.sql
 *         CREATE STREAM ... WITH (kafka_topic='test_topic', value_format='json');
 *         ...
 *       outputs: [STR_MODLOAD_ENRICHED]   # default: every stream/table a query writes
 *
 * An event enters the topic of the input it came from (`topics`), or the topic named by its
 * `topic_field`, or `topic`. Its fields are the record's value (JSON field names are matched
 * as ksqlDB matches them: exactly, then upper-cased); its `key_field` (default `@kafka.key`,
 * when present) is the record key; its event time is ROWTIME. Every record a persistent query
 * writes to one of the `outputs` leaves the transform as an event: the key columns and the
 * value columns as fields, plus `@sql.stream`, `@sql.rowtime`, and for windowed results
 * `@sql.windowstart`/`@sql.windowend`; a deletion (a table's tombstone) carries the key
 * fields and `@sql.tombstone: true`. Records that cannot be decoded (a value that does not
 * coerce to its column's type) go to `<name>.errors` with the reason, as ksqlDB's processing
 * log, and are counted.
 *
 * DESIGN: one engine per transform (sql_engine.h), its state guarded by one mutex: records are
 * processed in arrival order, as ksqlDB processes a partition. Output events are built in a
 * batch of their own and emitted after the lock is released.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "sql/sql_engine.h"
#include "sys/thread.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct sql_conf {
    char *statements;
    char *file;
    char *topic;
    char *topic_field;
    char *key_field;
    struct sl_strmap topics;
    struct sl_strlist outputs;
    int compat;
};

struct xsql {
    struct sl_sql_engine *eng;
    struct sl_mutex lock;
    struct sl_path topic_path;
    bool has_topic_path;
    struct sl_path key_path;
    /* during process(): where emitted records go (full batches wait in `full`) */
    struct sl_batch *out;
    struct sl_batch **full;
    uint32_t nfull, capfull;
    struct sl_batch *errs;
    struct sl_component *comp;
    char **outputs; /* topics that leave the transform (NULL: every written topic) */
    char **out_streams;
    uint32_t noutputs;
    sl_sym sym_stream, sym_rowtime, sym_ws, sym_we, sym_tomb;
    atomic_uint_fast64_t decode_errors;
    struct sl_log_limit lim;
};

static const struct sl_option sql_opts[] = {
    {"statements", SL_OPT_STRING, NULL, offsetof(struct sql_conf, statements),
     "ksqlDB statements separated by ';' (CREATE STREAM/TABLE, CREATE ... AS SELECT, INSERT "
     "INTO, SET)",
     NULL, 0, 0, 0},
    {"file", SL_OPT_STRING, NULL, offsetof(struct sql_conf, file),
     "a file of statements (instead of `statements`)", NULL, 0, 0, 0},
    {"topics", SL_OPT_STRING_MAP, NULL, offsetof(struct sql_conf, topics),
     "input component -> the topic its events enter", NULL, 0, 0, 0},
    {"topic", SL_OPT_STRING, NULL, offsetof(struct sql_conf, topic),
     "the topic of events whose input has no entry in `topics`", NULL, 0, 0, 0},
    {"topic_field", SL_OPT_STRING, NULL, offsetof(struct sql_conf, topic_field),
     "a field naming each event's topic (e.g. @kafka.topic); wins over `topics`", NULL, 0, 0, 0},
    {"key_field", SL_OPT_STRING, "@kafka.key", offsetof(struct sql_conf, key_field),
     "the field holding the record key (absent: no key)", NULL, 0, 0, 0},
    {"outputs", SL_OPT_STRING_LIST, NULL, offsetof(struct sql_conf, outputs),
     "streams/tables whose records leave the transform (default: all that queries write)", NULL,
     0, 0, 0},
    {"compat", SL_OPT_ENUM, "current", offsetof(struct sql_conf, compat),
     "ksqlDB semantics: current, or ksql-0.6 (ROWKEY, 0-based arrays, 0.6 naming)",
     "current|ksql-0.6", 0, 0, 0},
    {0},
};

static void on_error(void *ud, const char *query, const char *msg)
{
    struct xsql *s = ud;
    atomic_fetch_add_explicit(&s->decode_errors, 1, memory_order_relaxed);
    sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, s->comp->name, "%s: %s", query, msg);
    if (s->errs) {
        char m[640];
        snprintf(m, sizeof m, "%s: %s", query, msg);
        sl_error_event(s->errs, s->comp->name, m, NULL, 0, NULL, 0, -1);
    }
}

static bool wanted(struct xsql *s, const char *topic, const char **stream)
{
    for (uint32_t i = 0; i < s->noutputs; i++)
        if (strcmp(s->outputs[i], topic) == 0) {
            *stream = s->out_streams[i];
            return true;
        }
    return false;
}

static int copy_value(struct sl_batch *b, const struct sl_value *v, struct sl_value *out)
{
    return sl_value_copy(&b->arena, v, out);
}

static void on_emit(void *ud, const struct sl_sql_record *r)
{
    struct xsql *s = ud;
    const char *stream = NULL;
    if (!s->out || !wanted(s, r->topic, &stream))
        return;
    if (sl_batch_full(s->out)) {
        if (s->nfull == s->capfull) {
            s->capfull = s->capfull ? 2 * s->capfull : 4;
            s->full = sl_xrealloc(s->full, s->capfull * sizeof *s->full);
        }
        s->full[s->nfull++] = s->out;
        s->out = sl_batch_new();
    }
    struct sl_event *ev = sl_batch_push(s->out);
    if (!ev)
        return;
    ev->ts_ns = r->ts_ms * 1000000;
    struct sl_value v;
    /* key columns */
    if (r->key && r->key->type == SL_V_MAP) {
        for (uint32_t i = 0; i < r->key->len; i++) {
            const struct sl_kv *kv = &r->key->u.map[i];
            if (!copy_value(s->out, &kv->val, &v))
                sl_event_set(s->out, ev, sl_sym_intern(kv->key.ptr, kv->key.len), v);
        }
    } else if (r->key && r->key->type != SL_V_NULL && r->key_name) {
        if (!copy_value(s->out, r->key, &v))
            sl_event_set(s->out, ev, sl_sym_intern_c(r->key_name), v);
    }
    if (r->value && r->value->type == SL_V_MAP) {
        for (uint32_t i = 0; i < r->value->len; i++) {
            const struct sl_kv *kv = &r->value->u.map[i];
            if (!copy_value(s->out, &kv->val, &v))
                sl_event_set(s->out, ev, sl_sym_intern(kv->key.ptr, kv->key.len), v);
        }
    } else {
        sl_event_set(s->out, ev, s->sym_tomb, sl_value_bool(true));
    }
    sl_event_set_str(s->out, ev, s->sym_stream, stream, strlen(stream));
    sl_event_set(s->out, ev, s->sym_rowtime, sl_value_int(r->ts_ms));
    if (r->windowed) {
        sl_event_set(s->out, ev, s->sym_ws, sl_value_int(r->window_start_ms));
        sl_event_set(s->out, ev, s->sym_we, sl_value_int(r->window_end_ms));
    }
}

static char *read_file(const char *path, size_t *len, struct sl_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_diag_set(d, SL_EIO, "cannot open SQL file %s", path);
        return NULL;
    }
    struct sl_buf b;
    sl_buf_init(&b, 16u << 20);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (sl_buf_append(&b, tmp, n)) {
            fclose(f);
            sl_buf_fini(&b);
            sl_diag_set(d, SL_E2BIG, "SQL file %s is larger than 16 MiB", path);
            return NULL;
        }
    fclose(f);
    return sl_buf_steal(&b, len);
}

static int sql_init(struct sl_component *c, struct sl_diag *d)
{
    const struct sql_conf *cf = c->conf;
    if (!cf->statements == !cf->file)
        return sl_diag_set(d, SL_ECONFIG, "sql: give either `statements` or `file`");
    struct xsql *s = sl_xcalloc(1, sizeof *s);
    c->state = s;
    s->comp = c;
    sl_mutex_init(&s->lock);
    s->sym_stream = sl_sym_intern_c("@sql.stream");
    s->sym_rowtime = sl_sym_intern_c("@sql.rowtime");
    s->sym_ws = sl_sym_intern_c("@sql.windowstart");
    s->sym_we = sl_sym_intern_c("@sql.windowend");
    s->sym_tomb = sl_sym_intern_c("@sql.tombstone");
    struct sl_sql_engine_opts o = {.compat06 = cf->compat == 1};
    s->eng = sl_sql_engine_new(&o, on_emit, s);
    sl_sql_engine_on_error(s->eng, on_error, s);
    size_t len = 0;
    char *text = cf->file ? read_file(cf->file, &len, d) : sl_xstrdup(cf->statements);
    if (!text)
        return SL_EIO;
    if (!cf->file)
        len = strlen(text);
    struct sl_diag sd;
    sl_diag_init(&sd);
    int rc = sl_sql_engine_exec(s->eng, text, len, NULL, &sd);
    sl_free(text);
    if (rc) {
        if (cf->file) {
            snprintf(d->file, sizeof d->file, "%s", cf->file);
            d->line = sd.line;
            d->col = sd.col;
        } else {
            sl_component_diag_opt(c, "statements", d);
        }
        sl_diag_hint(d, "%s", sd.hint);
        return sl_diag_set(d, SL_ECONFIG, "sql: statement line %u:%u: %s", sd.line, sd.col,
                           sd.msg);
    }
    if ((rc = sl_path_init(&s->key_path, cf->key_field ? cf->key_field : "@kafka.key")))
        return sl_diag_set(d, SL_ECONFIG, "sql: bad key_field");
    if (cf->topic_field) {
        if ((rc = sl_path_init(&s->topic_path, cf->topic_field)))
            return sl_diag_set(d, SL_ECONFIG, "sql: bad topic_field");
        s->has_topic_path = true;
    }
    /* outputs: the named streams, or every source a query writes */
    struct sl_sql_source_info *info = NULL;
    uint32_t ninfo = sl_sql_engine_sources(s->eng, &info);
    s->outputs = sl_xcalloc(ninfo + 1, sizeof *s->outputs);
    s->out_streams = sl_xcalloc(ninfo + 1, sizeof *s->out_streams);
    for (size_t i = 0; i < cf->outputs.count; i++) {
        bool found = false;
        for (uint32_t k = 0; k < ninfo; k++)
            if (strcasecmp(info[k].name, cf->outputs.items[i]) == 0) {
                s->outputs[s->noutputs] = sl_xstrdup(info[k].topic);
                s->out_streams[s->noutputs++] = sl_xstrdup(info[k].name);
                found = true;
            }
        if (!found) {
            sl_free(info);
            sl_component_diag_opt(c, "outputs", d);
            return sl_diag_set(d, SL_ECONFIG, "sql: outputs: no stream or table named %s",
                               cf->outputs.items[i]);
        }
    }
    if (!cf->outputs.count)
        for (uint32_t k = 0; k < ninfo; k++)
            if (info[k].written) {
                s->outputs[s->noutputs] = sl_xstrdup(info[k].topic);
                s->out_streams[s->noutputs++] = sl_xstrdup(info[k].name);
            }
    sl_free(info);
    return 0;
}

static void sql_fini(struct sl_component *c)
{
    struct xsql *s = c->state;
    if (!s)
        return;
    sl_sql_engine_free(s->eng);
    sl_path_fini(&s->key_path);
    if (s->has_topic_path)
        sl_path_fini(&s->topic_path);
    for (uint32_t i = 0; i < s->noutputs; i++) {
        sl_free(s->outputs[i]);
        sl_free(s->out_streams[i]);
    }
    sl_free(s->outputs);
    sl_free(s->out_streams);
    sl_mutex_fini(&s->lock);
    sl_free(s);
}

/* the event's fields as one map value (views into the batch) */
static int event_map(struct sl_arena *a, const struct sl_event *ev, struct sl_value *out)
{
    struct sl_kv *m = sl_arena_alloc(a, (ev->count ? ev->count : 1) * sizeof *m);
    if (!m)
        return SL_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < ev->count; i++) {
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        if (name.len && name.ptr[0] == '@')
            continue; /* metadata is not part of the record's value */
        m[n].key = name;
        m[n].val = ev->fields[i].val;
        n++;
    }
    out->type = SL_V_MAP;
    out->flags = 0;
    out->len = n;
    out->u.map = m;
    return 0;
}

static struct sl_batch *sql_process(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x)
{
    const struct sql_conf *cf = c->conf;
    struct xsql *s = c->state;
    /* the input's topic */
    const char *topic = cf->topic;
    struct sl_component *from = sl_pipeline_component(x->pipe, SL_PORT_NODE(b->port));
    if (from) {
        for (size_t i = 0; i < cf->topics.count; i++)
            if (strcmp(cf->topics.items[i].key, from->name) == 0)
                topic = cf->topics.items[i].val;
    }
    struct sl_batch *out = sl_batch_new();
    struct sl_arena tmp;
    sl_arena_init(&tmp, 16384, 256u << 20);
    char tbuf[256];
    sl_mutex_lock(&s->lock);
    s->out = out;
    s->errs = sl_xf_errors(x);
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        const char *t = topic;
        if (s->has_topic_path) {
            const struct sl_value *tv = sl_path_get(&s->topic_path, ev);
            if (tv && tv->type == SL_V_STRING && tv->len < sizeof tbuf) {
                memcpy(tbuf, tv->u.s, tv->len);
                tbuf[tv->len] = 0;
                t = tbuf;
            }
        }
        if (!t)
            continue;
        struct sl_value val;
        if (event_map(&tmp, ev, &val))
            continue;
        const struct sl_value *k = sl_path_get(&s->key_path, ev);
        sl_sql_engine_push(s->eng, t, k, &val, ev->ts_ns / 1000000);
        sl_arena_reset(&tmp);
    }
    out = s->out;
    struct sl_batch **full = s->full;
    uint32_t nfull = s->nfull;
    s->full = NULL;
    s->nfull = s->capfull = 0;
    s->out = NULL;
    s->errs = NULL;
    sl_mutex_unlock(&s->lock);
    sl_arena_fini(&tmp);
    sl_batch_unref(b);
    /* full batches first, in order (downstream runs outside the lock) */
    for (uint32_t i = 0; i < nfull; i++)
        sl_xf_emit(x, 0, full[i]);
    sl_free(full);
    if (!out->count) {
        sl_batch_unref(out);
        return NULL;
    }
    return out;
}

static size_t sql_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct xsql *s = c->state;
    struct sl_sql_engine_stats st;
    sl_mutex_lock(&s->lock);
    sl_sql_engine_stats(s->eng, &st);
    sl_mutex_unlock(&s->lock);
    size_t n = 0;
    out[n++] = (struct sl_comp_stat){"sluice_sql_records_in", "records entering the SQL engine",
                                     false, (double)st.records_in};
    out[n++] = (struct sl_comp_stat){"sluice_sql_records_out", "records queries wrote", false,
                                     (double)st.records_out};
    out[n++] = (struct sl_comp_stat){"sluice_sql_decode_errors",
                                     "records whose value did not coerce to the schema", false,
                                     (double)st.decode_errors};
    out[n++] = (struct sl_comp_stat){"sluice_sql_eval_errors", "expression errors", false,
                                     (double)st.eval_errors};
    out[n++] = (struct sl_comp_stat){"sluice_sql_late_records",
                                     "records dropped beyond a window's grace or a join's window",
                                     false, (double)st.late};
    out[n++] = (struct sl_comp_stat){"sluice_sql_state_bytes", "bytes of tables, windows, joins",
                                     true, (double)st.state_bytes};
    return n;
}

const struct sl_component_ops sl_xf_sql_ops = {
    .type = "sql",
    .kind = SL_KIND_TRANSFORM,
    .summary = "ksqlDB streaming SQL (streams, tables, joins, windows) over the input events",
    .options = sql_opts,
    .conf_len = sizeof(struct sql_conf),
    .init = sql_init,
    .fini = sql_fini,
    .process = sql_process,
    .stats = sql_stats,
};
