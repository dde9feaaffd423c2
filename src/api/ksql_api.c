/*
 * ksql_api.c — ksqlDB's REST endpoints (see ksql_api.h).
 *
 *   POST /ksql          {"ksql": "stmts;", "streamsProperties": {}} -> 200 [result objects]
 *                       or 400 {"@type":"statement_error","error_code":40001,...}
 *   POST /query         {"ksql": "SELECT ... EMIT CHANGES [LIMIT n];"} -> 200, chunked:
 *                       [{"header":{...}},\n{"row":{"columns":[...]}},\n...,
 *                       {"finalMessage":"Limit Reached"}]  (the array closes at LIMIT)
 *   POST /query-stream  {"sql": ..., "properties": {}} -> header object, then one array a row,
 *                       one per line (application/vnd.ksqlapi.delimited.v1)
 * `?transform=NAME` or the property "sluice.transform" picks the sql transform when the
 * pipeline has several.
 *
 * DESIGN: statements run on the MHD thread under the transform's lock (sl_xf_sql_run). A push
 * query is a tap on the transform: its rows are rendered to JSON on the worker thread, inside
 * the engine's emit callback, and queued (bounded: PUSH_MAX_ROWS; when a slow client falls
 * behind, rows are dropped and counted, logged and reported in the final message). MHD's
 * content reader drains the queue; with nothing queued it waits up to 50 ms, and every
 * second it writes a newline (JSON whitespace) so a client that went away is noticed: the
 * write fails, MHD frees the response, and the free callback terminates the query.
 */
#include "api/ksql_api.h"

#include "base/alloc.h"
#include "base/log.h"
#include "codec/json.h"
#include "sys/thread.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_MAX      (4u << 20)
#define PUSH_MAX_ROWS 4096

/* ------------------------------------------------------------------ pure JSON shaping */

static void jstr(struct sl_buf *b, const char *s)
{
    if (!s) {
        sl_buf_puts(b, "null");
        return;
    }
    sl_json_write_string(b, s, strlen(s));
}

static const struct sl_value *map_get(const struct sl_value *m, const char *k)
{
    if (!m || m->type != SL_V_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->len; i++)
        if (sl_str_eq_c(m->u.map[i].key, k))
            return &m->u.map[i].val;
    for (uint32_t i = 0; i < m->len; i++)
        if (m->u.map[i].key.len == strlen(k) &&
            strncasecmp(m->u.map[i].key.ptr, k, m->u.map[i].key.len) == 0)
            return &m->u.map[i].val;
    return NULL;
}

int sl_ksql_parse_body(const char *body, size_t len, struct sl_arena *a, struct sl_ksql_req *out,
                       struct sl_diag *d)
{
    memset(out, 0, sizeof *out);
    struct sl_value v;
    int rc = sl_json_parse_value(a, body, len, NULL, &v, d);
    if (rc)
        return rc;
    if (v.type != SL_V_MAP)
        return sl_diag_set(d, SL_EINVAL, "the body must be a JSON object {\"ksql\": ...}");
    const struct sl_value *k = map_get(&v, "ksql");
    if (!k)
        k = map_get(&v, "sql");
    if (!k || k->type != SL_V_STRING)
        return sl_diag_set(d, SL_EINVAL, "the body has no \"ksql\" string");
    char *s = sl_arena_alloc(a, k->len + 1);
    if (!s)
        return SL_ENOMEM;
    memcpy(s, k->u.s, k->len);
    s[k->len] = 0;
    out->ksql = s;
    out->ksql_len = k->len;
    const struct sl_value *p = map_get(&v, "streamsProperties");
    if (!p)
        p = map_get(&v, "properties");
    if (p && p->type == SL_V_MAP && p->len) {
        out->props = sl_arena_alloc(a, p->len * sizeof *out->props);
        if (!out->props)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < p->len; i++) {
            const struct sl_value *pv = &p->u.map[i].val;
            char *kn = sl_arena_alloc(a, p->u.map[i].key.len + 1);
            struct sl_buf vb;
            sl_buf_init(&vb, 1u << 20);
            if (pv->type == SL_V_STRING)
                sl_buf_append(&vb, pv->u.s, pv->len);
            else
                sl_json_write_value(&vb, pv);
            char *vv = sl_arena_alloc(a, vb.len + 1);
            if (!kn || !vv) {
                sl_buf_fini(&vb);
                return SL_ENOMEM;
            }
            memcpy(kn, p->u.map[i].key.ptr, p->u.map[i].key.len);
            kn[p->u.map[i].key.len] = 0;
            if (vb.len)
                memcpy(vv, vb.ptr, vb.len);
            vv[vb.len] = 0;
            sl_buf_fini(&vb);
            out->props[out->nprops++] = (struct sl_xf_sql_prop){kn, vv};
        }
    }
    return 0;
}

static const char *kind_word(const struct sl_sql_stmt *st)
{
    return st->source_kind == SL_SQL_TABLE ? "table" : "stream";
}

void sl_ksql_json_status(struct sl_buf *b, const char *text, const struct sl_sql_stmt *st,
                         const char *message, const char *query_id)
{
    char cmd[300];
    const char *name = st->name ? st->name : "";
    switch (st->kind) {
    case SL_SQL_S_CREATE_SOURCE:
    case SL_SQL_S_CREATE_AS:
        snprintf(cmd, sizeof cmd, "%s/%s/create", kind_word(st), name);
        break;
    case SL_SQL_S_INSERT_INTO:
        snprintf(cmd, sizeof cmd, "stream/%s/create", name);
        break;
    case SL_SQL_S_DROP:
        snprintf(cmd, sizeof cmd, "%s/%s/drop", kind_word(st), name);
        break;
    case SL_SQL_S_TERMINATE:
        snprintf(cmd, sizeof cmd, "terminate/%s/execute", st->all ? "ALL" : name);
        break;
    default:
        snprintf(cmd, sizeof cmd, "%s/execute", name);
    }
    sl_buf_puts(b, "{\"@type\":\"currentStatus\",\"statementText\":");
    jstr(b, text);
    sl_buf_puts(b, ",\"commandId\":");
    jstr(b, cmd);
    sl_buf_puts(b, ",\"commandStatus\":{\"status\":\"SUCCESS\",\"message\":");
    jstr(b, message);
    sl_buf_puts(b, ",\"queryId\":");
    jstr(b, query_id);
    sl_buf_puts(b, "},\"commandSequenceNumber\":-1,\"warnings\":[]}");
}

void sl_ksql_json_sources(struct sl_buf *b, const char *text, bool tables,
                          const struct sl_sqlcat_source *s, uint32_t n)
{
    sl_buf_appendf(b, "{\"@type\":\"%s\",\"statementText\":", tables ? "tables" : "streams");
    jstr(b, text);
    sl_buf_appendf(b, ",\"%s\":[", tables ? "tables" : "streams");
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i].table != tables)
            continue;
        if (!first)
            sl_buf_putc(b, ',');
        first = false;
        sl_buf_appendf(b, "{\"type\":\"%s\",\"name\":", tables ? "TABLE" : "STREAM");
        jstr(b, s[i].name);
        sl_buf_puts(b, ",\"topic\":");
        jstr(b, s[i].topic);
        sl_buf_appendf(b, ",\"keyFormat\":\"KAFKA\",\"valueFormat\":\"JSON\",\"isWindowed\":%s}",
                       s[i].windowed ? "true" : "false");
    }
    sl_buf_puts(b, "],\"warnings\":[]}");
}

void sl_ksql_json_queries(struct sl_buf *b, const char *text, const struct sl_sqlcat_query *q,
                          uint32_t n)
{
    sl_buf_puts(b, "{\"@type\":\"queries\",\"statementText\":");
    jstr(b, text);
    sl_buf_puts(b, ",\"queries\":[");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            sl_buf_putc(b, ',');
        sl_buf_puts(b, "{\"queryString\":");
        jstr(b, q[i].sql);
        sl_buf_puts(b, ",\"sinks\":[");
        if (q[i].sink)
            jstr(b, q[i].sink);
        sl_buf_puts(b, "],\"sinkKafkaTopics\":[");
        if (q[i].sink)
            jstr(b, q[i].topic);
        sl_buf_puts(b, "],\"id\":");
        jstr(b, q[i].id);
        sl_buf_appendf(b,
                       ",\"statusCount\":{\"RUNNING\":1},\"queryType\":\"%s\",\"state\":"
                       "\"RUNNING\"}",
                       q[i].transient ? "PUSH" : "PERSISTENT");
    }
    sl_buf_puts(b, "],\"warnings\":[]}");
}

/* {"type":"STRING","fields":null,"memberSchema":null} from SQL type text (nested types keep
 * their element types in the text only) */
static void schema_json(struct sl_buf *b, const char *type)
{
    size_t n = strcspn(type, "<(");
    sl_buf_appendf(b, "{\"type\":\"%.*s\",\"fields\":null,\"memberSchema\":null}", (int)n, type);
}

void sl_ksql_json_description(struct sl_buf *b, const char *text, const struct sl_sqlcat_source *s)
{
    sl_buf_puts(b, "{\"@type\":\"sourceDescription\",\"statementText\":");
    jstr(b, text);
    sl_buf_puts(b, ",\"sourceDescription\":{\"name\":");
    jstr(b, s->name);
    sl_buf_puts(b, ",\"windowType\":null,\"readQueries\":[");
    for (uint32_t i = 0; i < s->nreaders; i++) {
        if (i)
            sl_buf_putc(b, ',');
        sl_buf_puts(b, "{\"id\":");
        jstr(b, s->readers[i]);
        sl_buf_putc(b, '}');
    }
    sl_buf_puts(b, "],\"writeQueries\":[");
    if (s->writer) {
        sl_buf_puts(b, "{\"id\":");
        jstr(b, s->writer);
        sl_buf_putc(b, '}');
    }
    sl_buf_puts(b, "],\"fields\":[");
    for (uint32_t i = 0; i < s->nfields; i++) {
        if (i)
            sl_buf_putc(b, ',');
        sl_buf_puts(b, "{\"name\":");
        jstr(b, s->fields[i].name);
        sl_buf_puts(b, ",\"schema\":");
        schema_json(b, s->fields[i].type);
        if (s->fields[i].key)
            sl_buf_puts(b, ",\"type\":\"KEY\"");
        sl_buf_putc(b, '}');
    }
    sl_buf_appendf(b,
                   "],\"type\":\"%s\",\"timestamp\":\"\",\"statistics\":\"\",\"errorStats\":"
                   "\"\",\"extended\":false,\"keyFormat\":\"KAFKA\",\"valueFormat\":\"JSON\","
                   "\"topic\":",
                   s->table ? "TABLE" : "STREAM");
    jstr(b, s->topic);
    sl_buf_puts(b, ",\"partitions\":0,\"replication\":0,\"statement\":");
    jstr(b, s->sql);
    sl_buf_puts(b, "},\"warnings\":[]}");
}

void sl_ksql_json_properties(struct sl_buf *b, const char *text, const char *message)
{
    sl_buf_puts(b, "{\"@type\":\"properties\",\"statementText\":");
    jstr(b, text);
    sl_buf_puts(b, ",\"properties\":[");
    /* the engine's "name = value" lines */
    bool first = true;
    for (const char *p = message; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq) {
            const char *ke = eq;
            while (ke > p && ke[-1] == ' ')
                ke--;
            const char *vs = eq + 1;
            while (vs < p + n && *vs == ' ')
                vs++;
            if (!first)
                sl_buf_putc(b, ',');
            first = false;
            sl_buf_puts(b, "{\"name\":");
            sl_json_write_string(b, p, (size_t)(ke - p));
            sl_buf_puts(b, ",\"scope\":\"KSQL\",\"value\":");
            sl_json_write_string(b, vs, (size_t)(p + n - vs));
            sl_buf_putc(b, '}');
        }
        p = nl ? nl + 1 : p + n;
    }
    sl_buf_puts(b, "],\"overwrittenProperties\":[],\"defaultProperties\":[],\"warnings\":[]}");
}

void sl_ksql_json_error(struct sl_buf *b, int code, const char *message, const char *text,
                        const char *entities)
{
    sl_buf_appendf(b, "{\"@type\":\"statement_error\",\"error_code\":%d,\"message\":", code);
    jstr(b, message);
    sl_buf_puts(b, ",\"statementText\":");
    jstr(b, text ? text : "");
    sl_buf_appendf(b, ",\"entities\":[%s]}", entities ? entities : "");
}

void sl_ksql_json_row(struct sl_buf *b, const struct sl_sqlcat_source *out,
                      const struct sl_sql_record *r)
{
    sl_buf_putc(b, '[');
    for (uint32_t i = 0; i < out->nfields; i++) {
        const struct sl_sqlcat_field *f = &out->fields[i];
        const struct sl_value *v = NULL;
        if (f->key) {
            if (r->key && r->key->type == SL_V_MAP)
                v = map_get(r->key, f->name);
            else
                v = r->key;
        } else {
            v = map_get(r->value, f->name);
        }
        if (i)
            sl_buf_putc(b, ',');
        if (v)
            sl_json_write_value(b, v);
        else
            sl_buf_puts(b, "null");
    }
    sl_buf_putc(b, ']');
}

void sl_ksql_json_header(struct sl_buf *b, const struct sl_sqlcat_source *out, bool stream_fmt)
{
    sl_buf_puts(b, stream_fmt ? "{\"queryId\":" : "{\"header\":{\"queryId\":");
    jstr(b, out->name);
    if (!stream_fmt) {
        sl_buf_puts(b, ",\"schema\":\"");
        for (uint32_t i = 0; i < out->nfields; i++) {
            struct sl_buf t;
            sl_buf_init(&t, 1u << 20);
            sl_buf_appendf(&t, "%s`%s` %s%s", i ? ", " : "", out->fields[i].name,
                           out->fields[i].type, out->fields[i].key ? " KEY" : "");
            /* inside a JSON string already: escape through the writer, minus its quotes */
            struct sl_buf e;
            sl_buf_init(&e, 2u << 20);
            sl_json_write_string(&e, t.ptr, t.len);
            if (e.len >= 2)
                sl_buf_append(b, e.ptr + 1, e.len - 2);
            sl_buf_fini(&e);
            sl_buf_fini(&t);
        }
        sl_buf_putc(b, '"');
    }
    sl_buf_puts(b, ",\"columnNames\":[");
    for (uint32_t i = 0; i < out->nfields; i++) {
        if (i)
            sl_buf_putc(b, ',');
        jstr(b, out->fields[i].name);
    }
    sl_buf_puts(b, "],\"columnTypes\":[");
    for (uint32_t i = 0; i < out->nfields; i++) {
        if (i)
            sl_buf_putc(b, ',');
        jstr(b, out->fields[i].type);
    }
    sl_buf_puts(b, stream_fmt ? "]}" : "]}}");
}

/* ------------------------------------------------------------------ HTTP */

bool sl_ksql_api_match(const char *url)
{
    return strcmp(url, "/ksql") == 0 || strcmp(url, "/query") == 0 ||
           strcmp(url, "/query-stream") == 0;
}

struct body {
    struct sl_buf buf;
    bool too_big;
};

void sl_ksql_api_completed(void **con_cls)
{
    struct body *bd = *con_cls;
    if (!bd)
        return;
    sl_buf_fini(&bd->buf);
    sl_free(bd);
    *con_cls = NULL;
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, struct sl_buf *b)
{
    size_t len = 0;
    sl_buf_putc(b, '\n');
    char *p = sl_buf_steal(b, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void diag_message(char *m, size_t n, const struct sl_diag *d)
{
    if (d->line)
        snprintf(m, n, "%u:%u: %s", d->line, d->col, d->msg);
    else
        snprintf(m, n, "%s", d->msg);
}

struct ksql_ctx {
    struct sl_buf *ents;
    uint32_t nents;
    const struct sl_sqlcat_result *failed_text; /* unused after the callback */
    char errtext[4096];
    int errcode;
};

static int ksql_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    struct ksql_ctx *x = ud;
    if (r->rc) {
        snprintf(x->errtext, sizeof x->errtext, "%s", r->text);
        x->errcode =
            r->st->kind == SL_SQL_S_SELECT ? SL_KSQL_QUERY_ENDPOINT : SL_KSQL_BAD_STATEMENT;
        return 1;
    }
    const struct sl_sql_stmt *st = r->st;
    size_t before = x->ents->len;
    if (x->nents)
        sl_buf_putc(x->ents, ',');
    switch (st->kind) {
    case SL_SQL_S_SET:
    case SL_SQL_S_UNSET:
        x->ents->len = before; /* ksqlDB answers nothing for these */
        if (x->ents->ptr)
            x->ents->ptr[before] = 0;
        return 0;
    case SL_SQL_S_SHOW: {
        const char *w = st->show ? st->show : "";
        if (strcasecmp(w, "STREAMS") == 0 || strcasecmp(w, "TABLES") == 0) {
            struct sl_sqlcat_source *s;
            uint32_t n = sl_sqlcat_sources(e, &s);
            sl_ksql_json_sources(x->ents, r->text, strcasecmp(w, "TABLES") == 0, s, n);
            sl_sqlcat_sources_free(s, n);
        } else if (strcasecmp(w, "QUERIES") == 0) {
            struct sl_sqlcat_query *q;
            uint32_t n = sl_sqlcat_queries(e, &q);
            sl_ksql_json_queries(x->ents, r->text, q, n);
            sl_sqlcat_queries_free(q, n);
        } else if (strcasecmp(w, "PROPERTIES") == 0) {
            sl_ksql_json_properties(x->ents, r->text, r->message);
        } else {
            sl_ksql_json_status(x->ents, r->text, st, r->message, NULL);
        }
        break;
    }
    case SL_SQL_S_DESCRIBE: {
        struct sl_sqlcat_source s;
        if (!sl_sqlcat_describe(e, st->name ? st->name : "", &s)) {
            sl_ksql_json_description(x->ents, r->text, &s);
            sl_sqlcat_source_fini(&s);
        } else {
            sl_ksql_json_status(x->ents, r->text, st, r->message, NULL);
        }
        break;
    }
    default:
        sl_ksql_json_status(x->ents, r->text, st, r->message, r->query_id);
    }
    x->nents++;
    return 0;
}

/* the transform to use, and the request's properties without sluice.transform */
static struct sl_component *pick(struct sl_pipeline *p, struct MHD_Connection *conn,
                                 struct sl_ksql_req *req, char *err, size_t errlen)
{
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "transform");
    for (uint32_t i = 0; i < req->nprops; i++)
        if (strcmp(req->props[i].name, "sluice.transform") == 0) {
            if (!name)
                name = req->props[i].value;
            req->props[i] = req->props[--req->nprops];
            i--;
        }
    return sl_xf_sql_find(p, name, err, errlen);
}

/* ---- push queries */

struct push {
    struct sl_mutex lock;
    struct sl_cond cond;
    /* guarded_by: lock */
    char **rows;
    uint32_t head, count;
    uint64_t seen, dropped;
    /* MHD thread only */
    struct sl_component *comp;
    struct sl_xf_sql_tap *tap;
    struct sl_sqlcat_source out;
    int64_t limit;
    bool stream_fmt;
    bool ended;
    struct sl_buf pending;
    size_t pending_off;
    int64_t last_write_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* worker threads, under the lock of the transform's shard that wrote r: several at once when
 * the transform is sharded, each shard counting the LIMIT on its own, so the limit is applied
 * here too (q->limit is set before the first call, under all the shards' locks) */
static void push_tap(void *ud, const struct sl_sql_record *r)
{
    struct push *q = ud;
    sl_mutex_lock(&q->lock);
    bool past = q->limit >= 0 && q->seen >= (uint64_t)q->limit;
    sl_mutex_unlock(&q->lock);
    if (past)
        return;
    struct sl_buf b;
    sl_buf_init(&b, 16u << 20);
    if (q->stream_fmt) {
        sl_ksql_json_row(&b, &q->out, r);
    } else {
        sl_buf_puts(&b, "{\"row\":{\"columns\":");
        sl_ksql_json_row(&b, &q->out, r);
        sl_buf_puts(&b, r->value ? "}}" : ",\"tombstone\":true}}");
    }
    char *line = sl_buf_steal(&b, NULL);
    sl_mutex_lock(&q->lock);
    if (q->limit >= 0 && q->seen >= (uint64_t)q->limit) {
        sl_mutex_unlock(&q->lock);
        sl_free(line);
        return;
    }
    q->seen++;
    if (!line || q->count == PUSH_MAX_ROWS) {
        q->dropped++;
        sl_free(line);
    } else {
        q->rows[(q->head + q->count++) % PUSH_MAX_ROWS] = line;
        sl_cond_signal(&q->cond);
    }
    sl_mutex_unlock(&q->lock);
}

static ssize_t push_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct push *q = cls;
    if (q->pending_off == q->pending.len) {
        sl_buf_reset(&q->pending);
        q->pending_off = 0;
        if (q->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        sl_mutex_lock(&q->lock);
        if (!q->count)
            sl_cond_wait_until(&q->cond, &q->lock, mono_ns() + 50 * 1000000LL);
        while (q->count) {
            char *row = q->rows[q->head];
            q->head = (q->head + 1) % PUSH_MAX_ROWS;
            q->count--;
            sl_buf_puts(&q->pending, q->stream_fmt ? "" : ",\n");
            sl_buf_puts(&q->pending, row);
            if (q->stream_fmt)
                sl_buf_putc(&q->pending, '\n');
            sl_free(row);
        }
        bool done = q->limit >= 0 && q->seen >= (uint64_t)q->limit && !q->count;
        uint64_t dropped = q->dropped;
        sl_mutex_unlock(&q->lock);
        if (done) {
            if (!q->stream_fmt) {
                if (dropped)
                    sl_buf_appendf(
                        &q->pending,
                        ",\n{\"finalMessage\":\"Limit Reached\",\"droppedRows\":%llu}]\n",
                        (unsigned long long)dropped);
                else
                    sl_buf_puts(&q->pending, ",\n{\"finalMessage\":\"Limit Reached\"}]\n");
            }
            q->ended = true;
        }
        int64_t now = mono_ns();
        if (!q->pending.len && now - q->last_write_ns > 1000000000LL)
            sl_buf_putc(&q->pending, '\n'); /* keep-alive, and notices a closed client */
        if (q->pending.len)
            q->last_write_ns = now;
        if (!q->pending.len)
            return q->ended ? MHD_CONTENT_READER_END_OF_STREAM : 0;
    }
    size_t n = q->pending.len - q->pending_off;
    if (n > max)
        n = max;
    memcpy(buf, q->pending.ptr + q->pending_off, n);
    q->pending_off += n;
    return (ssize_t)n;
}

static void push_free(void *cls)
{
    struct push *q = cls;
    sl_xf_sql_query_stop(q->comp, q->tap); /* no more push_tap calls after this */
    if (q->dropped)
        sl_log(SL_LOG_WARN, "api",
               "push query %s: %llu of %llu rows dropped (the client read "
               "too slowly)",
               q->out.name, (unsigned long long)q->dropped, (unsigned long long)q->seen);
    while (q->count) {
        sl_free(q->rows[q->head]);
        q->head = (q->head + 1) % PUSH_MAX_ROWS;
        q->count--;
    }
    sl_free(q->rows);
    sl_sqlcat_source_fini(&q->out);
    sl_buf_fini(&q->pending);
    sl_cond_fini(&q->cond);
    sl_mutex_fini(&q->lock);
    sl_free(q);
}

static enum MHD_Result start_push(struct MHD_Connection *conn, struct sl_component *c,
                                  const struct sl_ksql_req *req, bool stream_fmt)
{
    struct push *q = sl_xcalloc(1, sizeof *q);
    sl_mutex_init(&q->lock);
    sl_cond_init(&q->cond);
    q->rows = sl_xcalloc(PUSH_MAX_ROWS, sizeof *q->rows);
    q->comp = c;
    q->stream_fmt = stream_fmt;
    sl_buf_init(&q->pending, 64u << 20);
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_xf_sql_query_start(c, req->ksql, req->ksql_len, push_tap, q, &q->out, &q->limit,
                                   &q->tap, &d);
    if (rc) {
        char m[1024];
        diag_message(m, sizeof m, &d);
        q->tap = NULL;
        push_free(q);
        struct sl_buf b;
        sl_buf_init(&b, 1u << 20);
        sl_ksql_json_error(&b, SL_KSQL_BAD_STATEMENT, m, req->ksql, NULL);
        return send_buf(conn, MHD_HTTP_BAD_REQUEST, &b);
    }
    if (!stream_fmt)
        sl_buf_putc(&q->pending, '[');
    sl_ksql_json_header(&q->pending, &q->out, stream_fmt);
    if (stream_fmt)
        sl_buf_putc(&q->pending, '\n');
    q->last_write_ns = mono_ns();
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, push_read, q, push_free);
    MHD_add_response_header(r, "Content-Type",
                            stream_fmt ? "application/vnd.ksqlapi.delimited.v1"
                                       : "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

int sl_ksql_api_handle(struct sl_pipeline *p, struct MHD_Connection *conn, const char *url,
                       const char *method, const char *upload, size_t *upload_len, void **con_cls)
{
    struct body *bd = *con_cls;
    if (!bd) {
        bd = sl_xcalloc(1, sizeof *bd);
        sl_buf_init(&bd->buf, BODY_MAX);
        *con_cls = bd;
        return MHD_YES;
    }
    if (*upload_len) {
        if (sl_buf_append(&bd->buf, upload, *upload_len))
            bd->too_big = true;
        *upload_len = 0;
        return MHD_YES;
    }
    struct sl_buf b;
    sl_buf_init(&b, 64u << 20);
    if (strcmp(method, "POST") != 0) {
        sl_buf_puts(&b, "{\"@type\":\"generic_error\",\"error_code\":40500,\"message\":"
                        "\"use POST\"}");
        return send_buf(conn, MHD_HTTP_METHOD_NOT_ALLOWED, &b);
    }
    if (bd->too_big) {
        sl_buf_puts(&b, "{\"@type\":\"generic_error\",\"error_code\":41300,\"message\":"
                        "\"the body is larger than 4 MiB\"}");
        return send_buf(conn, MHD_HTTP_CONTENT_TOO_LARGE, &b);
    }
    struct sl_arena a;
    sl_arena_init(&a, 4096, 16u << 20);
    struct sl_ksql_req req;
    struct sl_diag d;
    sl_diag_init(&d);
    enum MHD_Result ret;
    if (sl_ksql_parse_body(bd->buf.ptr ? bd->buf.ptr : "", bd->buf.len, &a, &req, &d)) {
        sl_buf_puts(&b, "{\"@type\":\"generic_error\",\"error_code\":40000,\"message\":");
        char m[700];
        snprintf(m, sizeof m, "bad request body: %s", d.msg);
        jstr(&b, m);
        sl_buf_putc(&b, '}');
        ret = send_buf(conn, MHD_HTTP_BAD_REQUEST, &b);
        goto out;
    }
    char err[300] = "";
    struct sl_component *c = pick(p, conn, &req, err, sizeof err);
    if (!c) {
        sl_ksql_json_error(&b, SL_KSQL_BAD_STATEMENT, err, req.ksql, NULL);
        ret = send_buf(conn, MHD_HTTP_BAD_REQUEST, &b);
        goto out;
    }
    if (strcmp(url, "/ksql") != 0) {
        sl_buf_fini(&b);
        ret = start_push(conn, c, &req, strcmp(url, "/query-stream") == 0);
        goto out;
    }
    struct sl_buf ents;
    sl_buf_init(&ents, 64u << 20);
    struct ksql_ctx x = {.ents = &ents};
    int rc = sl_xf_sql_run(c, req.ksql, req.ksql_len, req.props, req.nprops, ksql_cb, &x, &d);
    if (rc) {
        char m[1024];
        diag_message(m, sizeof m, &d);
        sl_ksql_json_error(&b, x.errcode ? x.errcode : SL_KSQL_BAD_STATEMENT, m,
                           x.errtext[0] ? x.errtext : req.ksql, ents.ptr);
        ret = send_buf(conn, MHD_HTTP_BAD_REQUEST, &b);
    } else {
        sl_buf_putc(&b, '[');
        if (ents.len)
            sl_buf_append(&b, ents.ptr, ents.len);
        sl_buf_putc(&b, ']');
        ret = send_buf(conn, MHD_HTTP_OK, &b);
    }
    sl_buf_fini(&ents);
out:
    sl_arena_fini(&a);
    return ret;
}
