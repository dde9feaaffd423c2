/*
 * xf_sql_cat.c — catalog introspection and statement-at-a-time execution over a SQL engine
 * (xf_sql.h), for the REST API and the `sluice sql` shell.
 *
 * DESIGN: sql_engine.h reports statements as lines of text and lists sources by name only;
 * ksqlDB's REST answers need structure (a source's columns and types, which queries read and
 * write it, a push query's output columns before its first row). Until the engine exports
 * that (asked for: sl_sql_engine_describe / sl_sql_engine_query_columns), this file reads the
 * catalog through sql_int.h, read-only, and copies everything it returns so nothing points
 * into the engine. It and xf_sql_shard.c (the same kind of reading, for sharding) are the only
 * files outside src/sql/ that include sql_int.h.
 *
 * A script runs one statement at a time: each run sees a copy of the script in which every
 * byte outside that statement is a blank (newlines kept), so the engine's line:col stay the
 * script's and its caret hint shows the right line.
 */
#include "io/xf_sql.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "sql/sql_int.h"
#include "sql/sql_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static char *dup0(const char *s)
{
    return sl_xstrdup(s ? s : "");
}

void sl_sqlcat_source_fini(struct sl_sqlcat_source *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nfields; i++) {
        sl_free(s->fields[i].name);
        sl_free(s->fields[i].type);
    }
    sl_free(s->fields);
    for (uint32_t i = 0; i < s->nreaders; i++)
        sl_free(s->readers[i]);
    sl_free(s->readers);
    sl_free(s->name);
    sl_free(s->topic);
    sl_free(s->writer);
    sl_free(s->sql);
    memset(s, 0, sizeof *s);
}

static void fields_from(struct sl_sqlcat_source *out, const struct sq_col *cols, uint32_t n)
{
    out->fields = sl_xcalloc(n ? n : 1, sizeof *out->fields);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    for (uint32_t i = 0; i < n; i++) {
        sl_buf_reset(&b);
        if (cols[i].type)
            sl_sql_type_format(cols[i].type, &b);
        out->fields[i].name = dup0(cols[i].name);
        out->fields[i].type = dup0(b.len ? b.ptr : "UNKNOWN");
        out->fields[i].key = cols[i].key;
    }
    out->nfields = n;
    sl_buf_fini(&b);
}

static void describe(const struct sq_source *s, struct sl_sqlcat_source *out)
{
    memset(out, 0, sizeof *out);
    out->name = dup0(s->name);
    out->topic = dup0(s->topic);
    out->table = s->table;
    out->windowed = s->windowed;
    fields_from(out, s->cols, s->ncols);
    out->writer = s->producer ? dup0(sq_query_id(s->producer)) : NULL;
    out->readers = sl_xcalloc(s->nreaders + 1, sizeof *out->readers);
    for (uint32_t i = 0; i < s->nreaders; i++)
        out->readers[out->nreaders++] = dup0(sq_query_id(s->readers[i]));
    out->sql = dup0(s->sql);
}

int sl_sqlcat_describe(struct sl_sql_engine *e, const char *name, struct sl_sqlcat_source *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < e->nsources; i++)
        if (strcmp(e->sources[i]->name, name) == 0) {
            describe(e->sources[i], out);
            return 0;
        }
    return SL_ENOENT;
}

uint32_t sl_sqlcat_sources(struct sl_sql_engine *e, struct sl_sqlcat_source **out)
{
    *out = sl_xcalloc(e->nsources + 1, sizeof **out);
    for (uint32_t i = 0; i < e->nsources; i++)
        describe(e->sources[i], &(*out)[i]);
    return e->nsources;
}

void sl_sqlcat_sources_free(struct sl_sqlcat_source *s, uint32_t n)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < n; i++)
        sl_sqlcat_source_fini(&s[i]);
    sl_free(s);
}

/* The topic a transient query writes: exec_stmt names it transient_<n> where its id is
 * transient_QUERY_<n> (sql_engine.c). */
static void transient_topic(const char *id, char *out, size_t n)
{
    const char *u = strrchr(id, '_');
    snprintf(out, n, "transient_%s", u ? u + 1 : id);
}

static const struct sq_source *sink_of(struct sl_sql_engine *e, const struct sq_query *q)
{
    for (uint32_t k = 0; k < e->nsources; k++)
        if (e->sources[k]->producer == q)
            return e->sources[k];
    /* INSERT INTO: INSERTQUERY_<sink>_<n> */
    const char *id = sq_query_id(q);
    if (strncmp(id, "INSERTQUERY_", 12) == 0) {
        const char *u = strrchr(id, '_');
        size_t n = u && u > id + 12 ? (size_t)(u - (id + 12)) : 0;
        for (uint32_t k = 0; k < e->nsources; k++)
            if (strlen(e->sources[k]->name) == n && strncmp(e->sources[k]->name, id + 12, n) == 0)
                return e->sources[k];
    }
    return NULL;
}

uint32_t sl_sqlcat_queries(struct sl_sql_engine *e, struct sl_sqlcat_query **out)
{
    *out = sl_xcalloc(e->nqueries + 1, sizeof **out);
    for (uint32_t i = 0; i < e->nqueries; i++) {
        struct sl_sqlcat_query *q = &(*out)[i];
        const char *id = sq_query_id(e->queries[i]);
        const struct sq_source *s = sink_of(e, e->queries[i]);
        q->id = dup0(id);
        q->transient = strncmp(id, "transient_", 10) == 0;
        if (s) {
            q->sink = dup0(s->name);
            q->topic = dup0(s->topic);
            q->sql = dup0(s->producer == e->queries[i] ? s->sql : "");
        } else {
            char t[64];
            transient_topic(id, t, sizeof t);
            q->topic = dup0(t);
            q->sql = dup0("");
        }
    }
    return e->nqueries;
}

void sl_sqlcat_queries_free(struct sl_sqlcat_query *q, uint32_t n)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < n; i++) {
        sl_free(q[i].id);
        sl_free(q[i].sink);
        sl_free(q[i].topic);
        sl_free(q[i].sql);
    }
    sl_free(q);
}

int sl_sqlcat_query_output(struct sl_sql_engine *e, const char *id, struct sl_sqlcat_source *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < e->nqueries; i++) {
        const struct sq_query *q = e->queries[i];
        if (strcasecmp(sq_query_id(q), id) != 0)
            continue;
        const struct sq_col *cols;
        uint32_t n;
        bool win, ses;
        sq_query_columns(q, &cols, &n, &win, &ses);
        out->name = dup0(sq_query_id(q));
        const struct sq_source *s = sink_of(e, q);
        char t[64];
        transient_topic(sq_query_id(q), t, sizeof t);
        out->topic = dup0(s ? s->topic : t);
        out->table = s ? s->table : false;
        out->windowed = win;
        fields_from(out, cols, n);
        out->readers = sl_xcalloc(1, sizeof *out->readers);
        out->sql = dup0("");
        return 0;
    }
    return SL_ENOENT;
}

int sl_sqlcat_run(struct sl_sql_engine *e, const char *script, size_t len, bool run_select,
                  sl_sqlcat_result_fn cb, void *ud, struct sl_diag *d)
{
    return sl_sqlcat_run_checked(e, script, len, run_select, NULL, NULL, cb, ud, d);
}

int sl_sqlcat_run_checked(struct sl_sql_engine *e, const char *script, size_t len, bool run_select,
                          sl_sqlcat_check_fn check, void *check_ud, sl_sqlcat_result_fn cb,
                          void *ud, struct sl_diag *d)
{
    struct sl_arena a;
    sl_arena_init(&a, 8192, 64u << 20);
    struct sl_sql_script *sc = NULL;
    int rc = sl_sql_parse(script, len, &a, &sc, d);
    if (rc) {
        sl_arena_fini(&a);
        return rc;
    }
    char *copy = sl_xmalloc(len + 1);
    struct sl_buf out;
    sl_buf_init(&out, 16u << 20);
    for (uint32_t i = 0; i < sc->nstmts; i++) {
        const struct sl_sql_stmt *st = &sc->stmts[i];
        size_t from = st->pos.offset, to = st->end;
        if (to > len)
            to = len;
        for (size_t k = 0; k < len; k++)
            copy[k] = (k >= from && k < to) || script[k] == '\n' ? script[k] : ' ';
        copy[len] = 0;
        sl_buf_reset(&out);
        struct sl_diag sd;
        sl_diag_init(&sd);
        const struct sq_query *last = e->nqueries ? e->queries[e->nqueries - 1] : NULL;
        uint32_t nq = e->nqueries;
        int src;
        if (st->kind == SL_SQL_S_SELECT && !run_select) {
            sd.line = st->pos.line;
            sd.col = st->pos.col;
            src = sl_diag_set(&sd, SL_EINVAL,
                              "SELECT statements run on the /query endpoint, not /ksql");
        } else if (!check || !(src = check(check_ud, e, st, &sd))) {
            src = sl_sql_engine_exec(e, copy, len, &out, &sd);
        }
        const char *qid = NULL;
        if (!src && e->nqueries && (e->nqueries > nq || e->queries[e->nqueries - 1] != last))
            qid = sq_query_id(e->queries[e->nqueries - 1]);
        /* one line: ksqlDB's messages have no trailing newline */
        while (out.len && out.ptr[out.len - 1] == '\n')
            out.ptr[--out.len] = 0;
        struct sl_sqlcat_result r = {.st = st,
                                     .text = st->text ? st->text : "",
                                     .message = out.len ? out.ptr : "",
                                     .query_id = qid,
                                     .rc = src,
                                     .d = &sd};
        int stop = cb ? cb(ud, e, &r) : 0;
        if (src) {
            *d = sd;
            rc = src;
            break;
        }
        if (stop)
            break;
    }
    sl_buf_fini(&out);
    sl_free(copy);
    sl_arena_fini(&a);
    return rc;
}

void sl_sqlcat_sync_ids(struct sl_sql_engine *dst, const struct sl_sql_engine *src)
{
    dst->next_query_id = src->next_query_id;
}
