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
 *       state_file: /var/lib/sluice/ksql.jsonl # statements accepted over REST (optional)
 *       shard_by: computer_name  # state in `shards` engines (default: one per worker)
 *
 * An event enters the topic named by its `topic_field`, or the topic of the input it came from
 * (`topics`), or `topic`, or (with `changelog`) the Kafka topic it was read from. Its fields are
 * the record's value (JSON field names are matched as ksqlDB matches them: exactly, then
 * upper-cased); its `key_field` (default `@kafka.key`, when present) is the record key; its event
 * time is ROWTIME. Every record a persistent query writes to one of the `outputs` leaves the
 * transform as an event: the key columns and the value columns as fields, plus `@sql.stream`,
 * `@sql.rowtime`, and for windowed results
 * `@sql.windowstart`/`@sql.windowend`; a deletion (a table's tombstone) carries the key
 * fields and `@sql.tombstone: true`. Records that cannot be decoded (a value that does not
 * coerce to its column's type) go to `<name>.errors` with the reason, as ksqlDB's processing
 * log, and are counted.
 *
 * Statements may also arrive while it runs (the REST API's POST /ksql, xf_sql.h): they apply
 * to the same engine, and unless `outputs` is given, the streams and tables their queries
 * write leave the transform too (the output list is recomputed after each statement). Those
 * that change the catalog (CREATE, CREATE ... AS SELECT, INSERT INTO, DROP, TERMINATE) are
 * appended to `state_file`, one JSON object a line {"sql", "props", "query"}, and replayed
 * after `statements` at the next start, so the same persistent queries run again. TERMINATE
 * is recorded against the entry that created the query ({"terminate_entry": n}), because ids
 * are numbered in creation order and transient queries take numbers too; a query from
 * `statements` is named by its id ({"terminate": id}). State (tables, windows, join buffers)
 * is not saved, unless `changelog` is set (below): it is rebuilt from what the inputs deliver
 * again (docs/sql.md "Restart").
 * Push queries (REST /query) are taps: their records go to the caller's callback.
 *
 * DESIGN: N engines per transform (sql_engine.h), each with its own mutex: a shard. Without
 * `shard_by` N is 1 and records are processed in arrival order, as ksqlDB processes a
 * partition. With it, a worker routes its batch first (the hash of each event's shard_by value
 * as text; events without it by their record key, else shard 0), counting-sorts it by shard
 * keeping arrival order, and takes each shard's lock once per batch, as the profiler does
 * (xf_profiler.c explains why a lock per shard per batch beats handing batches to owning
 * workers). A shard is then one partition: in order within it, none across. This is right only
 * when every piece of state is keyed by the shard field, which xf_sql_shard.c checks before a
 * statement runs. Statements (config, state file, REST) run on shard 0 and, when they succeed
 * there, on every other shard, holding every shard's lock (ascending; process() holds one at a
 * time), so the catalogs and query ids stay identical; catalog reads (SHOW, DESCRIBE) use shard
 * 0. Output events are built in the worker's own batches (struct emit_ctx, lent to a shard
 * while it is locked) and emitted after the locks are released. Stats are summed over shards.
 *
 * Partition-scoped state (`changelog`, docs/sql.md "Scale-out and restart state"): tasks of
 * io/partstream.h, as ksqlDB runs one stream task per partition p of the co-partitioned input
 * topics. A batch from a kafka source carries its origin and goes to its task's engine, in the
 * order its partition was read. A task's engine (task_make) runs every statement shard 0
 * accepted so far (kept in `catalog`; statements arriving later run on the live task engines
 * too, under lock_all), then loads the task's checkpoint (sql_state.h, with one input offset
 * per topic). partstream writes the checkpoints (periodically and at revocation) and warns
 * when joined topics cannot meet in one task (task_relates).
 * Batches without an origin (other sources) still go to the shards.
 */
#include "io/xf_sql.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/partstate.h"
#include "core/pipeline.h"
#include "codec/json.h"
#include "io/partstream.h"
#include "sql/sql_engine.h"
#include "sql/sql_parse.h"
#include "sql/sql_state.h"
#include "sys/thread.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <unistd.h>

struct sql_conf {
    char *statements;
    char *file;
    char *topic;
    char *topic_field;
    char *key_field;
    struct sl_strmap topics;
    struct sl_strlist outputs;
    int compat;
    char *state_file;
    char *shard_by;
    int64_t shards;
    uint64_t max_state_bytes;
    struct sl_strmap changelog;
    int64_t changelog_interval_ns;
};

struct tap {
    char *id, *topic;
    sl_xf_sql_tap_fn fn;
    void *ud;
};

/* a query created by an entry of the state file (replayed or new) */
struct qentry {
    char *id;
    uint32_t entry;
};

/* where the records one process() call emits go (the worker's, set on a shard while it is
 * locked) */
struct emit_ctx {
    struct sl_batch *out;
    struct sl_batch **full; /* full batches, in order */
    uint32_t nfull, capfull;
    struct sl_batch *errs; /* <name>.errors */
    struct sl_batch *late; /* <name>.late */
};

struct xsql;

/* one engine and the lock that serialises it */
struct shard {
    struct sl_sql_engine *eng;
    struct sl_mutex lock;
    struct xsql *x;
    struct emit_ctx *ctx;    /* guarded_by: lock (during process(), else NULL) */
    struct sl_log_limit lim; /* guarded_by: lock */
    /* a task's (io/partstream: the task's user, guarded by the task's lock): the counters of
     * the engines it let go */
    struct sl_sql_engine_stats gone;
};

#define MAX_SHARDS 256
#define CKPT_MAX   (256u << 20) /* one partition's checkpoint */

struct xsql {
    struct shard *shards;
    uint32_t nshards;
    struct sl_path shard_path;
    struct sl_path shard_upper; /* the field upper-cased, as columns match it (has_upper) */
    bool has_upper;
    bool has_shard;
    struct sl_sqlcat_shard shcfg; /* the check's view of shard_by */
    struct sl_path topic_path;
    bool has_topic_path;
    struct sl_path key_path;
    struct sl_component *comp;
    char **outputs; /* topics that leave the transform (NULL: every written topic) */
    char **out_streams;
    uint32_t noutputs;
    sl_sym sym_stream, sym_rowtime, sym_ws, sym_we, sym_tomb, sym_query, sym_source;
    atomic_uint_fast64_t decode_errors;
    /* guarded_by: every shard's lock (with everything above that changes after init): written
     * holding all of them (the API side), read holding any one (on_emit) */
    struct tap **taps;
    uint32_t ntaps;
    struct qentry *qents;
    uint32_t nqents;
    uint32_t nentries; /* entries in the state file */
    bool replaying;
    /* partition-scoped state (`changelog`): tasks of io/partstream, each an engine */
    bool partstate;
    struct sl_pstream *ps;
    struct sl_sql_engine_opts eopts;
    struct sl_mutex cat_lock; /* taken before any engine lock by whoever changes catalogs */
    struct sl_buf catalog;    /* guarded_by: cat_lock: every statement shard 0 accepted */
    struct sl_ptask *locked;  /* guarded_by: cat_lock: the head lock_all() locked from */
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
     "the topic of events whose input has no entry in `topics` (default with `changelog`: the "
     "Kafka topic the event was read from)",
     NULL, 0, 0, 0},
    {"topic_field", SL_OPT_STRING, NULL, offsetof(struct sql_conf, topic_field),
     "a field naming each event's topic (e.g. @kafka.topic); wins over `topics`", NULL, 0, 0, 0},
    {"key_field", SL_OPT_STRING, "@kafka.key", offsetof(struct sql_conf, key_field),
     "the field holding the record key (absent: no key)", NULL, 0, 0, 0},
    {"outputs", SL_OPT_STRING_LIST, NULL, offsetof(struct sql_conf, outputs),
     "streams/tables whose records leave the transform (default: all that queries write)", NULL, 0,
     0, 0},
    {"compat", SL_OPT_ENUM, "current", offsetof(struct sql_conf, compat),
     "ksqlDB semantics: current, or ksql-0.6 (ROWKEY, 0-based arrays, 0.6 naming)",
     "current|ksql-0.6", 0, 0, 0},
    {"state_file", SL_OPT_STRING, NULL, offsetof(struct sql_conf, state_file),
     "a file where statements accepted over the REST API are kept (appended), replayed after "
     "`statements` at start",
     NULL, 0, 0, 0},
    {"shard_by", SL_OPT_STRING, NULL, offsetof(struct sql_conf, shard_by),
     "a field (path) to shard state by: `shards` engines, each event to the one its value "
     "hashes to; every stateful query must be keyed by it (checked)",
     NULL, 0, 0, 0},
    {"shards", SL_OPT_INT, "0", offsetof(struct sql_conf, shards),
     "engines when shard_by is set (0: the pipeline's worker count)", NULL, 0, MAX_SHARDS, 0},
    {"max_state_bytes", SL_OPT_SIZE, "1GiB", offsetof(struct sql_conf, max_state_bytes),
     "state (tables, join buffers, windows) one query may keep, over all shards; records "
     "beyond it are dropped and counted",
     NULL, 0, 0, 0},
    {"changelog", SL_OPT_STRING_MAP, NULL, offsetof(struct sql_conf, changelog),
     "input from a kafka source: one engine per input partition, its tables and windows "
     "checkpointed to a compacted topic and restored by the node that takes the partition over "
     "(docs/sql.md): brokers (default: the source's), topic (default: "
     "<group>-<name>-changelog), partitions (when it is created; default 6)",
     NULL, 0, 0, 0},
    {"changelog_interval", SL_OPT_DURATION, "5s", offsetof(struct sql_conf, changelog_interval_ns),
     "how often each input partition's state is checkpointed (also when a partition is let go); "
     "a takeover re-reads what came after the last checkpoint",
     NULL, 0, 0, 0},
    {0},
};

static const struct sl_pstream_ops task_ops;

/* the engine's callbacks run under their shard's lock */
static void on_error(void *ud, const char *query, const char *msg)
{
    struct shard *sh = ud;
    struct xsql *s = sh->x;
    atomic_fetch_add_explicit(&s->decode_errors, 1, memory_order_relaxed);
    sl_log_ratelimited(&sh->lim, 1, SL_LOG_WARN, s->comp->name, "%s: %s", query, msg);
    if (sh->ctx && sh->ctx->errs) {
        char m[640];
        snprintf(m, sizeof m, "%s: %s", query, msg);
        sl_error_event(sh->ctx->errs, s->comp->name, m, NULL, 0, NULL, 0, -1);
    }
}

/* a late record: an event on `<name>.late` with the record's columns, @sql.query, @sql.source */
static void on_late(void *ud, const char *query, const char *source, const struct sl_value *rec,
                    int64_t ts_ms)
{
    struct shard *sh = ud;
    struct xsql *s = sh->x;
    struct sl_batch *late = sh->ctx ? sh->ctx->late : NULL;
    if (!late)
        return;
    struct sl_event *ev = sl_batch_push(late);
    if (!ev)
        return;
    ev->ts_ns = ts_ms * 1000000;
    struct sl_value v;
    for (uint32_t i = 0; rec->type == SL_V_MAP && i < rec->len; i++)
        if (!sl_value_copy(&late->arena, &rec->u.map[i].val, &v))
            sl_event_set(late, ev, sl_sym_intern(rec->u.map[i].key.ptr, rec->u.map[i].key.len), v);
    sl_event_set_str(late, ev, s->sym_query, query, strlen(query));
    sl_event_set_str(late, ev, s->sym_source, source, strlen(source));
    sl_event_set(late, ev, s->sym_rowtime, sl_value_int(ts_ms));
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
    struct shard *sh = ud;
    struct xsql *s = sh->x;
    struct emit_ctx *cx = sh->ctx;
    const char *stream = NULL;
    for (uint32_t i = 0; i < s->ntaps; i++)
        if (strcmp(s->taps[i]->topic, r->topic) == 0)
            s->taps[i]->fn(s->taps[i]->ud, r);
    if (!cx || !cx->out || !wanted(s, r->topic, &stream))
        return;
    if (sl_batch_full(cx->out)) {
        if (cx->nfull == cx->capfull) {
            cx->capfull = cx->capfull ? 2 * cx->capfull : 4;
            cx->full = sl_xrealloc(cx->full, cx->capfull * sizeof *cx->full);
        }
        cx->full[cx->nfull++] = cx->out;
        cx->out = sl_batch_new();
    }
    struct sl_batch *out = cx->out;
    struct sl_event *ev = sl_batch_push(out);
    if (!ev)
        return;
    ev->ts_ns = r->ts_ms * 1000000;
    struct sl_value v;
    /* key columns */
    if (r->key && r->key->type == SL_V_MAP) {
        for (uint32_t i = 0; i < r->key->len; i++) {
            const struct sl_kv *kv = &r->key->u.map[i];
            if (!copy_value(out, &kv->val, &v))
                sl_event_set(out, ev, sl_sym_intern(kv->key.ptr, kv->key.len), v);
        }
    } else if (r->key && r->key->type != SL_V_NULL && r->key_name) {
        if (!copy_value(out, r->key, &v))
            sl_event_set(out, ev, sl_sym_intern_c(r->key_name), v);
    }
    if (r->value && r->value->type == SL_V_MAP) {
        for (uint32_t i = 0; i < r->value->len; i++) {
            const struct sl_kv *kv = &r->value->u.map[i];
            if (!copy_value(out, &kv->val, &v))
                sl_event_set(out, ev, sl_sym_intern(kv->key.ptr, kv->key.len), v);
        }
    } else {
        sl_event_set(out, ev, s->sym_tomb, sl_value_bool(true));
    }
    sl_event_set_str(out, ev, s->sym_stream, stream, strlen(stream));
    sl_event_set(out, ev, s->sym_rowtime, sl_value_int(r->ts_ms));
    if (r->windowed) {
        sl_event_set(out, ev, s->sym_ws, sl_value_int(r->window_start_ms));
        sl_event_set(out, ev, s->sym_we, sl_value_int(r->window_end_ms));
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

static void free_outputs(struct xsql *s)
{
    for (uint32_t i = 0; i < s->noutputs; i++) {
        sl_free(s->outputs[i]);
        sl_free(s->out_streams[i]);
    }
    sl_free(s->outputs);
    sl_free(s->out_streams);
    s->outputs = s->out_streams = NULL;
    s->noutputs = 0;
}

/* outputs: the named streams, or every source a query writes (recomputed after statements
 * from the API; under the lock once running) */
static int set_outputs(struct xsql *s, const struct sql_conf *cf, struct sl_diag *d)
{
    free_outputs(s);
    struct sl_sql_source_info *info = NULL;
    uint32_t ninfo = sl_sql_engine_sources(s->shards[0].eng, &info);
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
        if (!found && d) {
            sl_free(info);
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

/* ---- statements on every shard */

/* every engine's lock: the catalog lock first (no partition engine is made meanwhile), the
 * shards ascending, then the partitions' */
static void lock_all(struct xsql *s)
{
    sl_mutex_lock(&s->cat_lock);
    for (uint32_t i = 0; i < s->nshards; i++)
        sl_mutex_lock(&s->shards[i].lock);
    /* the tasks locked are those from this head on: ps_assigned() makes a task (task_find)
     * before it takes cat_lock, so one may be added meanwhile, and unlock_all() must not
     * unlock it (it was never locked here; another thread may hold it) */
    s->locked = s->ps ? sl_pstream_head(s->ps) : NULL;
    for (struct sl_ptask *t = s->locked; t; t = t->next)
        sl_mutex_lock(&t->lock);
}

static void unlock_all(struct xsql *s)
{
    for (struct sl_ptask *t = s->locked; t; t = t->next)
        sl_mutex_unlock(&t->lock);
    s->locked = NULL;
    for (uint32_t i = s->nshards; i-- > 0;)
        sl_mutex_unlock(&s->shards[i].lock);
    sl_mutex_unlock(&s->cat_lock);
}

/* one statement shard 0 accepted, on a task's engine (its lock held) */
static void stream_exec(struct xsql *s, struct sl_ptask *t, const char *text, size_t len)
{
    struct sl_diag d;
    sl_diag_init(&d);
    if (t->state && sl_sql_engine_exec(t->state, text, len, NULL, &d))
        sl_log(SL_LOG_ERROR, s->comp->name,
               "task %s refused a statement shard 0 accepted (%s): %.*s", t->key, d.msg, (int)len,
               text);
}

/* a statement for the partitions' engines: kept for the engines made later, run on the live
 * ones (the caller holds every lock) */
static void catalog_add(struct xsql *s, const char *text, size_t len)
{
    if (!s->partstate)
        return;
    size_t at = s->catalog.len;
    if (sl_buf_append(&s->catalog, text, len) || sl_buf_puts(&s->catalog, ";\n")) {
        s->catalog.len = at;
        sl_log(SL_LOG_ERROR, s->comp->name,
               "statements past 64 MiB: partitions assigned from now on do not run this one: "
               "%.*s",
               (int)(len > 200 ? 200 : len), text);
        return;
    }
    for (struct sl_ptask *t = s->locked; t; t = t->next)
        stream_exec(s, t, s->catalog.ptr + at, s->catalog.len - at);
}

static int shard_check(void *ud, struct sl_sql_engine *e, const struct sl_sql_stmt *st,
                       struct sl_diag *d)
{
    struct xsql *s = ud;
    return s->has_shard ? sl_sqlcat_shard_check(e, &s->shcfg, st, d) : 0;
}

struct fwd_ctx {
    struct xsql *s;
    sl_sqlcat_result_fn cb;
    void *ud;
};

/* after each statement on shard 0: the same on the others when it succeeded */
static int fwd_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    struct fwd_ctx *f = ud;
    struct xsql *s = f->s;
    if (!r->rc && s->nshards > 1) {
        struct sl_buf b;
        sl_buf_init(&b, 16u << 20);
        sl_buf_puts(&b, r->text);
        sl_buf_puts(&b, ";");
        for (uint32_t k = 1; k < s->nshards; k++) {
            struct sl_diag d;
            sl_diag_init(&d);
            if (sl_sql_engine_exec(s->shards[k].eng, b.ptr, b.len, NULL, &d))
                sl_log(SL_LOG_ERROR, s->comp->name,
                       "shard %u refused a statement shard 0 accepted (%s): %s", k, d.msg, r->text);
        }
        sl_buf_fini(&b);
    }
    if (!r->rc)
        catalog_add(s, r->text, strlen(r->text));
    for (uint32_t k = 1; k < s->nshards; k++)
        sl_sqlcat_sync_ids(s->shards[k].eng, e);
    for (struct sl_ptask *t = s->partstate ? s->locked : NULL; t; t = t->next)
        if (t->state)
            sl_sqlcat_sync_ids(t->state, e);
    return f->cb ? f->cb(f->ud, e, r) : 0;
}

/*
 * A script on every shard, one statement at a time: checked (shard_by), run on shard 0, and
 * when it succeeds there, on the others; cb sees shard 0's outcome once. The caller holds every
 * shard's lock (or runs before the workers start).
 */
static int run_all(struct xsql *s, const char *script, size_t len, bool run_select,
                   sl_sqlcat_result_fn cb, void *ud, struct sl_diag *d)
{
    struct fwd_ctx f = {s, cb, ud};
    return sl_sqlcat_run_checked(s->shards[0].eng, script, len, run_select, shard_check, s, fwd_cb,
                                 &f, d);
}

/* ---- the state file: one JSON object a line */

static bool persistent_kind(enum sl_sql_skind k)
{
    return k == SL_SQL_S_CREATE_SOURCE || k == SL_SQL_S_CREATE_AS || k == SL_SQL_S_INSERT_INTO ||
           k == SL_SQL_S_DROP || k == SL_SQL_S_TERMINATE;
}

static void qent_add(struct xsql *s, const char *id, uint32_t entry)
{
    s->qents = sl_xrealloc(s->qents, (s->nqents + 1) * sizeof *s->qents);
    s->qents[s->nqents].id = sl_xstrdup(id);
    s->qents[s->nqents++].entry = entry;
}

static const char *qent_id(struct xsql *s, uint32_t entry)
{
    for (uint32_t i = s->nqents; i-- > 0;)
        if (s->qents[i].entry == entry)
            return s->qents[i].id;
    return NULL;
}

static bool qent_entry(struct xsql *s, const char *id, uint32_t *entry)
{
    for (uint32_t i = s->nqents; i-- > 0;)
        if (strcasecmp(s->qents[i].id, id) == 0) {
            *entry = s->qents[i].entry;
            return true;
        }
    return false;
}

/* Append one entry (fsync'd: a statement the client saw succeed survives a crash). */
static void state_append(struct xsql *s, const char *path, const char *sql,
                         const struct sl_xf_sql_prop *props, uint32_t nprops,
                         const struct sl_sql_stmt *st, const char *query_id)
{
    struct sl_buf b;
    sl_buf_init(&b, 8u << 20);
    sl_buf_puts(&b, "{\"sql\":");
    sl_json_write_string(&b, sql, strlen(sql));
    sl_buf_puts(&b, ",\"props\":{");
    for (uint32_t i = 0; i < nprops; i++) {
        if (i)
            sl_buf_putc(&b, ',');
        sl_json_write_string(&b, props[i].name, strlen(props[i].name));
        sl_buf_putc(&b, ':');
        sl_json_write_string(&b, props[i].value, strlen(props[i].value));
    }
    sl_buf_putc(&b, '}');
    if (query_id && st->kind != SL_SQL_S_TERMINATE) {
        sl_buf_puts(&b, ",\"query\":");
        sl_json_write_string(&b, query_id, strlen(query_id));
        qent_add(s, query_id, s->nentries);
    }
    if (st->kind == SL_SQL_S_TERMINATE && !st->all && st->name) {
        uint32_t entry;
        if (qent_entry(s, st->name, &entry))
            sl_buf_appendf(&b, ",\"terminate_entry\":%u", entry);
        else {
            sl_buf_puts(&b, ",\"terminate\":");
            sl_json_write_string(&b, st->name, strlen(st->name));
        }
    }
    sl_buf_puts(&b, "}\n");
    FILE *f = fopen(path, "a");
    if (!f || fwrite(b.ptr, 1, b.len, f) != b.len || fflush(f) || fsync(fileno(f))) {
        sl_log(SL_LOG_ERROR, s->comp->name,
               "state_file %s: cannot append: %s (the statement "
               "is applied but will not be replayed)",
               path, strerror(errno));
    } else {
        s->nentries++;
    }
    if (f)
        fclose(f);
    sl_buf_fini(&b);
}

static const struct sl_value *map_get(const struct sl_value *m, const char *k)
{
    if (!m || m->type != SL_V_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->len; i++)
        if (sl_str_eq_c(m->u.map[i].key, k))
            return &m->u.map[i].val;
    return NULL;
}

struct replay_ctx {
    struct xsql *s;
    uint32_t entry;
};

static int replay_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    (void)e;
    struct replay_ctx *x = ud;
    if (!r->rc && r->query_id && r->st->kind != SL_SQL_S_TERMINATE && r->st->kind != SL_SQL_S_SET)
        qent_add(x->s, r->query_id, x->entry);
    return 0;
}

/* Run the state file's entries after `statements`; an entry that fails now (a config that
 * changed under it) is logged and skipped. */
static void replay(struct xsql *s, const struct sql_conf *cf)
{
    size_t len = 0;
    struct sl_diag d;
    sl_diag_init(&d);
    FILE *probe = fopen(cf->state_file, "rb");
    if (!probe)
        return; /* nothing accepted yet */
    fclose(probe);
    char *text = read_file(cf->state_file, &len, &d);
    if (!text) {
        sl_log(SL_LOG_ERROR, s->comp->name, "state_file: %s", d.msg);
        return;
    }
    struct sl_arena a;
    sl_arena_init(&a, 8192, 64u << 20);
    struct sl_buf sql;
    sl_buf_init(&sql, 16u << 20);
    uint32_t ok = 0, failed = 0, line = 0;
    s->replaying = true;
    for (char *p = text, *nl; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            nl = text + len;
        line++;
        if (nl == p)
            continue;
        struct sl_value v;
        sl_arena_reset(&a);
        sl_diag_init(&d);
        if (sl_json_parse_value(&a, p, (size_t)(nl - p), NULL, &v, &d)) {
            sl_log(SL_LOG_WARN, s->comp->name, "state_file %s:%u: not JSON (%s): skipped",
                   cf->state_file, line, d.msg);
            s->nentries++;
            failed++;
            continue;
        }
        const struct sl_value *q = map_get(&v, "sql"), *props = map_get(&v, "props");
        const struct sl_value *te = map_get(&v, "terminate_entry"), *tn = map_get(&v, "terminate");
        sl_buf_reset(&sql);
        if (props && props->type == SL_V_MAP)
            for (uint32_t i = 0; i < props->len; i++)
                if (props->u.map[i].val.type == SL_V_STRING)
                    sl_buf_appendf(&sql, "SET '%.*s'='%.*s';\n", (int)props->u.map[i].key.len,
                                   props->u.map[i].key.ptr, (int)props->u.map[i].val.len,
                                   props->u.map[i].val.u.s);
        if (te && te->type == SL_V_INT) {
            const char *id = qent_id(s, (uint32_t)te->u.i);
            sl_buf_appendf(&sql, "TERMINATE `%s`;", id ? id : "none");
        } else if (tn && tn->type == SL_V_STRING) {
            sl_buf_appendf(&sql, "TERMINATE `%.*s`;", (int)tn->len, tn->u.s);
        } else if (q && q->type == SL_V_STRING) {
            sl_buf_appendf(&sql, "%.*s;", (int)q->len, q->u.s);
        }
        struct replay_ctx x = {s, s->nentries};
        sl_diag_init(&d);
        int rc = sql.len ? run_all(s, sql.ptr, sql.len, false, replay_cb, &x, &d) : 0;
        s->nentries++;
        if (rc) {
            failed++;
            sl_log(SL_LOG_WARN, s->comp->name, "state_file %s:%u: %s: skipped", cf->state_file,
                   line, d.msg);
        } else {
            ok++;
        }
    }
    s->replaying = false;
    if (ok || failed)
        sl_log(SL_LOG_INFO, s->comp->name, "state_file %s: replayed %u statements (%u failed)",
               cf->state_file, ok, failed);
    sl_buf_fini(&sql);
    sl_arena_fini(&a);
    sl_free(text);
    set_outputs(s, cf, NULL);
}

static void sql_fini(struct sl_component *c);

static int sql_init_state(struct sl_component *c, struct sl_diag *d)
{
    const struct sql_conf *cf = c->conf;
    if (!cf->statements == !cf->file)
        return sl_diag_set(d, SL_ECONFIG, "sql: give either `statements` or `file`");
    if (cf->shards > 1 && !cf->shard_by)
        return sl_diag_set(d, SL_ECONFIG, "sql: `shards` needs `shard_by` (the field to shard by)");
    struct xsql *s = sl_xcalloc(1, sizeof *s);
    c->state = s;
    s->comp = c;
    s->nshards = 1;
    sl_mutex_init(&s->cat_lock);
    sl_buf_init(&s->catalog, 64u << 20);
    s->partstate = c->pipe && sl_component_opt_set(c, "changelog");
    if (sl_component_opt_set(c, "changelog") && cf->changelog_interval_ns < 100000000) {
        sl_component_diag_opt(c, "changelog_interval", d);
        return sl_diag_set(d, SL_ECONFIG, "sql: changelog_interval must be at least 100ms");
    }
    if (cf->shard_by) {
        int w = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
        s->nshards = cf->shards > 0 ? (uint32_t)cf->shards : w > 0 ? (uint32_t)w : 1;
        if (s->nshards > MAX_SHARDS)
            s->nshards = MAX_SHARDS;
    }
    s->sym_stream = sl_sym_intern_c("@sql.stream");
    s->sym_rowtime = sl_sym_intern_c("@sql.rowtime");
    s->sym_ws = sl_sym_intern_c("@sql.windowstart");
    s->sym_we = sl_sym_intern_c("@sql.windowend");
    s->sym_tomb = sl_sym_intern_c("@sql.tombstone");
    /* the bound is per query over all shards: each engine gets its share */
    uint64_t max = cf->max_state_bytes ? cf->max_state_bytes : 1ull << 30;
    struct sl_sql_engine_opts o = {.compat06 = cf->compat == 1,
                                   .max_state_bytes = (max + s->nshards - 1) / s->nshards};
    /* a partition's engine has the whole bound (a node may hold every partition) */
    s->eopts = (struct sl_sql_engine_opts){.compat06 = cf->compat == 1, .max_state_bytes = max};
    s->shards = sl_xcalloc(s->nshards, sizeof *s->shards);
    for (uint32_t i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        sh->x = s;
        sl_mutex_init(&sh->lock);
        sh->eng = sl_sql_engine_new(&o, on_emit, sh);
        sl_sql_engine_on_error(sh->eng, on_error, sh);
        sl_sql_engine_on_late(sh->eng, on_late, sh);
    }
    const char *key_field = cf->key_field ? cf->key_field : "@kafka.key";
    if (cf->shard_by) {
        if (sl_path_init(&s->shard_path, cf->shard_by)) {
            sl_component_diag_opt(c, "shard_by", d);
            return sl_diag_set(d, SL_ECONFIG, "sql: bad shard_by");
        }
        s->has_shard = true;
        /* a column USER takes the field `user`, else `USER`: shard by whichever is there */
        char up[256];
        size_t n = strlen(cf->shard_by);
        if (n < sizeof up && cf->shard_by[0] != '@') {
            for (size_t i = 0; i <= n; i++)
                up[i] = (char)toupper((unsigned char)cf->shard_by[i]);
            if (strcmp(up, cf->shard_by) != 0 && !sl_path_init(&s->shard_upper, up))
                s->has_upper = true;
        }
        s->shcfg.field = cf->shard_by;
        s->shcfg.is_key = strcmp(cf->shard_by, key_field) == 0;
    }
    s->sym_query = sl_sym_intern_c("@sql.query");
    s->sym_source = sl_sym_intern_c("@sql.source");
    size_t len = 0;
    char *text = cf->file ? read_file(cf->file, &len, d) : sl_xstrdup(cf->statements);
    if (!text)
        return SL_EIO;
    if (!cf->file)
        len = strlen(text);
    struct sl_diag sd;
    sl_diag_init(&sd);
    int rc = run_all(s, text, len, true, NULL, NULL, &sd);
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
        return sl_diag_set(d, SL_ECONFIG, "sql: statement line %u:%u: %s", sd.line, sd.col, sd.msg);
    }
    if ((rc = sl_path_init(&s->key_path, key_field)))
        return sl_diag_set(d, SL_ECONFIG, "sql: bad key_field");
    if (cf->topic_field) {
        if ((rc = sl_path_init(&s->topic_path, cf->topic_field)))
            return sl_diag_set(d, SL_ECONFIG, "sql: bad topic_field");
        s->has_topic_path = true;
    }
    if ((rc = set_outputs(s, cf, d))) {
        sl_component_diag_opt(c, "outputs", d);
        return rc;
    }
    if (cf->state_file)
        replay(s, cf);
    if (s->has_shard)
        sl_log(SL_LOG_INFO, c->name, "state in %u shards by %s", s->nshards, cf->shard_by);
    if (s->partstate) {
        const struct sl_pstream_conf pc = {.what = "SQL state (tables, windows)",
                                           .thread = "sl-sqlckpt",
                                           .stat_prefix = "sluice_sql",
                                           .changelog = &cf->changelog,
                                           .interval_ns = cf->changelog_interval_ns,
                                           .max_bytes = CKPT_MAX,
                                           .tasks = true};
        if ((rc = sl_pstream_new(c, &pc, &task_ops, s, &s->ps, d)) != 0)
            return rc;
        if (sl_sql_state_has_joins(s->shards[0].eng))
            sl_log(SL_LOG_INFO, c->name,
                   "changelog: a join meets rows of one task: partition p of the topics with "
                   "the same partition count that one kafka source reads, keyed alike "
                   "(co-partitioned, as ksqlDB requires); docs/sql.md \"Scale-out and restart "
                   "state\"");
        sl_log(SL_LOG_INFO, c->name,
               "state per task (partition p of the co-partitioned input topics), checkpointed "
               "every %lld ms to a changelog",
               (long long)(cf->changelog_interval_ns / 1000000));
    }
    return 0;
}

/* the core does not fini a component whose init failed: undo what was built */
static int sql_init(struct sl_component *c, struct sl_diag *d)
{
    int rc = sql_init_state(c, d);
    if (rc) {
        sql_fini(c);
        c->state = NULL;
    }
    return rc;
}

static void sql_fini(struct sl_component *c)
{
    struct xsql *s = c->state;
    if (!s)
        return;
    sl_pstream_free(s->ps);
    sl_buf_fini(&s->catalog);
    sl_mutex_fini(&s->cat_lock);
    for (uint32_t i = 0; s->shards && i < s->nshards; i++) {
        sl_sql_engine_free(s->shards[i].eng);
        sl_mutex_fini(&s->shards[i].lock);
    }
    sl_free(s->shards);
    if (s->has_shard)
        sl_path_fini(&s->shard_path);
    if (s->has_upper)
        sl_path_fini(&s->shard_upper);
    sl_path_fini(&s->key_path);
    if (s->has_topic_path)
        sl_path_fini(&s->topic_path);
    free_outputs(s);
    for (uint32_t i = 0; i < s->ntaps; i++) {
        sl_free(s->taps[i]->id);
        sl_free(s->taps[i]->topic);
        sl_free(s->taps[i]);
    }
    sl_free(s->taps);
    for (uint32_t i = 0; i < s->nqents; i++)
        sl_free(s->qents[i].id);
    sl_free(s->qents);
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

/* The shard of an event: a hash of its shard_by value as text, or when it has none, of its
 * record key (records without the field have a NULL shard column: no state is keyed by them,
 * so any shard is right; the key keeps one key's records in order), else shard 0. */
static uint32_t shard_of(const struct xsql *s, const struct sl_event *ev, struct sl_buf *scratch)
{
    const struct sl_value *v = sl_path_get(&s->shard_path, ev);
    if (!v && s->has_upper)
        v = sl_path_get(&s->shard_upper, ev);
    if (!v || v->type == SL_V_NULL)
        v = sl_path_get(&s->key_path, ev);
    if (!v || v->type == SL_V_NULL)
        return 0;
    struct sl_str t = sl_value_to_text(v, scratch);
    return (uint32_t)(sl_hash64(t.ptr, t.len) % s->nshards);
}

/* one event into shard sh's engine (its lock held) */
static void push_event(struct xsql *s, struct shard *sh, const struct sl_event *ev,
                       const char *topic, struct sl_arena *tmp)
{
    char tbuf[256];
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
        return;
    struct sl_value val;
    if (event_map(tmp, ev, &val))
        return;
    const struct sl_value *k = sl_path_get(&s->key_path, ev);
    sl_sql_engine_push(sh->eng, t, k, &val, ev->ts_ns / 1000000);
    sl_arena_reset(tmp);
}

/* ---- partition-scoped state (`changelog`): core/partstate.h, docs/sql.md */

/* A task's engine: the statements run so far, in their order (query ids come out the same as
 * shard 0's). Under hold (cat_lock). */
static void *task_make(void *ud, struct sl_ptask *t)
{
    struct xsql *s = ud;
    struct sl_sql_engine *e = sl_sql_engine_new(&s->eopts, on_emit, t->user);
    sl_sql_engine_on_error(e, on_error, t->user);
    sl_sql_engine_on_late(e, on_late, t->user);
    struct sl_diag d;
    sl_diag_init(&d);
    if (s->catalog.len && sl_sql_engine_exec(e, s->catalog.ptr, s->catalog.len, NULL, &d))
        sl_log(SL_LOG_ERROR, s->comp->name,
               "task %s: the statements shard 0 accepted failed on the task's engine: %s", t->key,
               d.msg);
    sl_sqlcat_sync_ids(e, s->shards[0].eng);
    return e;
}

static int task_load(void *ud, struct sl_ptask *t, void *state, const void *p, size_t n,
                     struct sl_partstate_offset **offs, uint32_t *noffs, char *info, size_t infocap,
                     struct sl_diag *d)
{
    (void)ud;
    (void)t;
    int rc = sl_sql_state_load(state, p, n, offs, noffs, d);
    if (!rc) {
        struct sl_sql_engine_stats h;
        sl_sql_engine_stats(state, &h);
        snprintf(info, infocap, "%llu state bytes", (unsigned long long)h.state_bytes);
    }
    return rc;
}

static int task_save(void *ud, struct sl_ptask *t, void *state,
                     const struct sl_partstate_offset *offs, uint32_t noffs, struct sl_buf *out,
                     struct sl_diag *d)
{
    struct xsql *s = ud;
    bool partial = false;
    int rc = sl_sql_state_save(state, offs, noffs, out, &partial, d);
    if (!rc && partial)
        sl_log(SL_LOG_DEBUG, s->comp->name,
               "checkpoint of task %s: join buffers are not saved (a takeover starts them empty)",
               t->key);
    return rc;
}

/* the engine goes: its counters stay with the task (t->lock held) */
static void task_drop(void *ud, struct sl_ptask *t, void *state, enum sl_pstream_drop why)
{
    (void)ud;
    (void)why; /* a table's or window's rows went out as they changed: nothing is held back */
    struct sl_sql_engine_stats one;
    struct sl_sql_engine_stats *gone = &((struct shard *)t->user)->gone;
    sl_sql_engine_stats(state, &one);
    gone->records_in += one.records_in;
    gone->records_out += one.records_out;
    gone->decode_errors += one.decode_errors;
    gone->eval_errors += one.eval_errors;
    gone->late += one.late;
    gone->state_full += one.state_full;
    sl_sql_engine_free(state);
}

/* the task's shard: what on_emit and friends see while its engine runs a batch */
static void *task_user_new(void *ud, struct sl_ptask *t)
{
    (void)t;
    struct shard *sh = sl_xcalloc(1, sizeof *sh);
    sh->x = ud;
    return sh;
}

static void task_user_free(void *ud, void *user)
{
    (void)ud;
    sl_free(user);
}

/* shard 0's catalog stays as it is while a task's engine is made and restored */
static void task_hold(void *ud, bool on)
{
    struct xsql *s = ud;
    if (on)
        sl_mutex_lock(&s->cat_lock);
    else
        sl_mutex_unlock(&s->cat_lock);
}

static bool task_relates(void *ud)
{
    struct xsql *s = ud;
    return sl_sql_state_has_joins(s->shards[0].eng);
}

static const struct sl_pstream_ops task_ops = {
    .make = task_make,
    .load = task_load,
    .save = task_save,
    .drop = task_drop,
    .user_new = task_user_new,
    .user_free = task_user_free,
    .hold = task_hold,
    .relates = task_relates,
};

/* A batch of one input partition into its task's engine, in the order the partition was read;
 * events below the offset the restored state holds are in it already. */
static void process_task(struct xsql *s, struct sl_batch *b, const char *topic, struct emit_ctx *cx,
                         struct sl_arena *tmp)
{
    struct sl_pstream_apply ap;
    struct sl_ptask *t = sl_pstream_begin(s->ps, b, &ap);
    if (!t)
        return;
    struct shard *sh = t->user;
    sh->eng = t->state;
    sh->ctx = cx;
    for (uint32_t i = 0; i < b->count; i++)
        if (sl_pstream_take(&ap, &b->events[i]))
            push_event(s, sh, &b->events[i], topic, tmp);
    sh->ctx = NULL;
    sl_pstream_end(&ap);
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
    /* else a kafka batch's own topic (it carries its origin when `changelog` is set): a source
     * reading several topics feeds the streams declared on them without topic_field */
    if (!topic && s->partstate && b->origin.topic)
        topic = sl_partstate_topic_name(b->origin.topic);
    struct emit_ctx cx = {.out = sl_batch_new(), .errs = sl_xf_errors(x), .late = sl_batch_new()};
    struct sl_arena tmp;
    sl_arena_init(&tmp, 16384, 256u << 20);
    uint32_t n = b->count, ns = s->nshards;
    if (s->partstate && b->origin.topic) {
        process_task(s, b, topic, &cx, &tmp);
    } else if (ns == 1) {
        struct shard *sh = &s->shards[0];
        sl_mutex_lock(&sh->lock);
        sh->ctx = &cx;
        for (uint32_t i = 0; i < n; i++)
            push_event(s, sh, &b->events[i], topic, &tmp);
        sh->ctx = NULL;
        sl_mutex_unlock(&sh->lock);
    } else {
        /* route (no lock), counting-sort by shard keeping arrival order, one lock per shard */
        uint32_t *sid = sl_xmalloc(((size_t)2 * n + ns + 1) * sizeof *sid);
        uint32_t *order = sid + n, *start = order + n;
        memset(start, 0, (ns + 1) * sizeof *start);
        struct sl_buf scratch;
        sl_buf_init(&scratch, 1u << 20);
        for (uint32_t i = 0; i < n; i++) {
            sid[i] = shard_of(s, &b->events[i], &scratch);
            start[sid[i] + 1]++;
        }
        sl_buf_fini(&scratch);
        for (uint32_t k = 0; k < ns; k++)
            start[k + 1] += start[k];
        for (uint32_t i = 0; i < n; i++)
            order[start[sid[i]]++] = i;
        /* shard k is order[start[k] - len(k), start[k]) (start[k] now ends it). Workers would
         * convoy if all took the shards in the same order: each starts at its own, takes those
         * free first (trylock), and waits only when every remaining one is busy. */
        uint32_t left = 0;
        for (uint32_t k = 0; k < ns; k++)
            left += (k ? start[k - 1] : 0) != start[k];
        for (uint32_t pass = 0; left; pass++) {
            bool progress = false;
            for (uint32_t j = 0; j < ns && left; j++) {
                uint32_t k = (x->worker + j) % ns;
                uint32_t from_i = k ? start[k - 1] : 0, to = start[k];
                if (from_i == to || sid[order[from_i]] == UINT32_MAX)
                    continue; /* empty, or done */
                struct shard *sh = &s->shards[k];
                if (!sl_mutex_trylock(&sh->lock)) {
                    if (progress || pass == 0)
                        continue;
                    sl_mutex_lock(&sh->lock); /* all busy: wait for this one */
                }
                sh->ctx = &cx;
                for (uint32_t i = from_i; i < to; i++)
                    push_event(s, sh, &b->events[order[i]], topic, &tmp);
                sh->ctx = NULL;
                sl_mutex_unlock(&sh->lock);
                sid[order[from_i]] = UINT32_MAX; /* done */
                progress = true;
                left--;
            }
        }
        sl_free(sid);
    }
    if (cx.late->count)
        sl_xf_emit(x, 2, cx.late); /* <name>.late */
    else
        sl_batch_unref(cx.late);
    sl_arena_fini(&tmp);
    sl_batch_unref(b);
    /* full batches first, in order (downstream runs outside the locks) */
    for (uint32_t i = 0; i < cx.nfull; i++)
        sl_xf_emit(x, 0, cx.full[i]);
    sl_free(cx.full);
    if (!cx.out->count) {
        sl_batch_unref(cx.out);
        return NULL;
    }
    return cx.out;
}

static size_t sql_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct xsql *s = c->state;
    struct sl_sql_engine_stats st = {0};
    for (uint32_t i = 0; i < s->nshards; i++) {
        struct sl_sql_engine_stats one;
        sl_mutex_lock(&s->shards[i].lock);
        sl_sql_engine_stats(s->shards[i].eng, &one);
        sl_mutex_unlock(&s->shards[i].lock);
        st.records_in += one.records_in;
        st.records_out += one.records_out;
        st.decode_errors += one.decode_errors;
        st.eval_errors += one.eval_errors;
        st.late += one.late;
        st.state_full += one.state_full;
        st.state_bytes += one.state_bytes;
    }
    for (struct sl_ptask *t = s->ps ? sl_pstream_head(s->ps) : NULL; t; t = t->next) {
        struct sl_sql_engine_stats one = {0};
        sl_mutex_lock(&t->lock);
        if (t->state)
            sl_sql_engine_stats(t->state, &one);
        const struct sl_sql_engine_stats *gone = &((struct shard *)t->user)->gone;
        one.records_in += gone->records_in;
        one.records_out += gone->records_out;
        one.decode_errors += gone->decode_errors;
        one.eval_errors += gone->eval_errors;
        one.late += gone->late;
        one.state_full += gone->state_full;
        sl_mutex_unlock(&t->lock);
        st.records_in += one.records_in;
        st.records_out += one.records_out;
        st.decode_errors += one.decode_errors;
        st.eval_errors += one.eval_errors;
        st.late += one.late;
        st.state_full += one.state_full;
        st.state_bytes += one.state_bytes;
    }
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
    out[n++] = (struct sl_comp_stat){"sluice_sql_state_full",
                                     "records dropped: a query's state reached max_state_bytes",
                                     false, (double)st.state_full};
    out[n++] = (struct sl_comp_stat){"sluice_sql_state_bytes",
                                     "bytes of tables, windows, joins (all shards)", true,
                                     (double)st.state_bytes};
    if (s->ps)
        n += sl_pstream_stats(s->ps, out + n);
    return n;
}

static const char *const sql_outputs[] = {"late", NULL};

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
    .outputs = sql_outputs,
};

/* ------------------------------------------------------------------ xf_sql.h: the API side */

struct sl_component *sl_xf_sql_find(struct sl_pipeline *p, const char *name, char *err,
                                    size_t errlen)
{
    struct sl_component *found = NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < sl_pipeline_count(p); i++) {
        struct sl_component *c = sl_pipeline_component(p, i);
        if (c->ops != &sl_xf_sql_ops || !c->state)
            continue;
        if (name && *name) {
            if (strcmp(c->name, name) == 0)
                return c;
            continue;
        }
        found = c;
        n++;
    }
    if (name && *name)
        snprintf(err, errlen, "no sql transform named '%s'", name);
    else if (!n)
        snprintf(err, errlen,
                 "this pipeline has no sql transform (add one: transforms: "
                 "{ksql: {type: sql, inputs: [...], statements: ...}})");
    else if (n > 1)
        snprintf(err, errlen,
                 "this pipeline has %u sql transforms: choose one with "
                 "?transform=NAME or the streamsProperty sluice.transform",
                 n);
    return n == 1 ? found : NULL;
}

struct run_ctx {
    struct xsql *s;
    const struct sql_conf *cf;
    struct sl_xf_sql_prop *props; /* request properties, then the script's SETs */
    uint32_t nprops;
    sl_sqlcat_result_fn cb;
    void *ud;
    bool changed;
};

static int run_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    struct run_ctx *x = ud;
    if (!r->rc) {
        const struct sl_sql_stmt *st = r->st;
        if (st->kind == SL_SQL_S_SET && st->prop_name) {
            bool found = false;
            for (uint32_t i = 0; i < x->nprops; i++)
                if (strcmp(x->props[i].name, st->prop_name) == 0) {
                    x->props[i].value = st->prop_value ? st->prop_value : "";
                    found = true;
                }
            if (!found) {
                x->props = sl_xrealloc(x->props, (x->nprops + 1) * sizeof *x->props);
                x->props[x->nprops++] =
                    (struct sl_xf_sql_prop){st->prop_name, st->prop_value ? st->prop_value : ""};
            }
        }
        if (persistent_kind(st->kind)) {
            x->changed = true;
            if (x->cf->state_file)
                state_append(x->s, x->cf->state_file, r->text, x->props, x->nprops, st,
                             r->query_id);
        }
    }
    return x->cb ? x->cb(x->ud, e, r) : 0;
}

int sl_xf_sql_run(struct sl_component *c, const char *script, size_t len,
                  const struct sl_xf_sql_prop *props, uint32_t nprops, sl_sqlcat_result_fn cb,
                  void *ud, struct sl_diag *d)
{
    struct xsql *s = c->state;
    struct run_ctx x = {.s = s, .cf = c->conf, .cb = cb, .ud = ud};
    x.props = sl_xcalloc(nprops + 1, sizeof *x.props);
    for (uint32_t i = 0; i < nprops; i++)
        x.props[x.nprops++] = props[i];
    lock_all(s);
    int rc = run_all(s, script, len, false, run_cb, &x, d);
    if (x.changed)
        set_outputs(s, c->conf, NULL);
    unlock_all(s);
    sl_free(x.props);
    return rc;
}

struct start_ctx {
    const char *id;
    int64_t limit;
};

static int start_cb(void *ud, struct sl_sql_engine *e, const struct sl_sqlcat_result *r)
{
    (void)e;
    struct start_ctx *x = ud;
    if (!r->rc && r->st->kind == SL_SQL_S_SELECT) {
        x->id = r->query_id;
        x->limit = r->st->query ? r->st->query->limit : -1;
    }
    return 1; /* one statement */
}

int sl_xf_sql_query_start(struct sl_component *c, const char *sql, size_t len, sl_xf_sql_tap_fn fn,
                          void *ud, struct sl_sqlcat_source *out, int64_t *limit,
                          struct sl_xf_sql_tap **tapp, struct sl_diag *d)
{
    struct xsql *s = c->state;
    struct start_ctx x = {.limit = -1};
    memset(out, 0, sizeof *out);
    *tapp = NULL;
    /* one SELECT, nothing else (a CREATE sent to /query must not run unrecorded) */
    struct sl_arena a;
    sl_arena_init(&a, 4096, 16u << 20);
    struct sl_sql_script *sc = NULL;
    int prc = sl_sql_parse(sql, len, &a, &sc, d);
    if (!prc && (sc->nstmts != 1 || sc->stmts[0].kind != SL_SQL_S_SELECT))
        prc = sl_diag_set(d, SL_EINVAL,
                          "/query runs one SELECT ... EMIT CHANGES statement; "
                          "other statements go to /ksql");
    sl_arena_fini(&a);
    if (prc)
        return prc;
    lock_all(s);
    int rc = run_all(s, sql, len, true, start_cb, &x, d);
    if (!rc && !x.id)
        rc = sl_diag_set(d, SL_EINVAL, "/query runs one SELECT ... EMIT CHANGES statement");
    if (!rc)
        rc = sl_sqlcat_query_output(s->shards[0].eng, x.id, out);
    if (!rc) {
        struct tap *t = sl_xcalloc(1, sizeof *t);
        t->id = sl_xstrdup(x.id);
        t->topic = sl_xstrdup(out->topic);
        t->fn = fn;
        t->ud = ud;
        s->taps = sl_xrealloc(s->taps, (s->ntaps + 1) * sizeof *s->taps);
        s->taps[s->ntaps++] = t;
        *tapp = (struct sl_xf_sql_tap *)t;
        *limit = x.limit;
    }
    unlock_all(s);
    return rc;
}

void sl_xf_sql_query_stop(struct sl_component *c, struct sl_xf_sql_tap *tap)
{
    struct xsql *s = c->state;
    struct tap *t = (struct tap *)tap;
    if (!t)
        return;
    lock_all(s);
    for (uint32_t i = 0; i < s->ntaps; i++)
        if (s->taps[i] == t) {
            memmove(&s->taps[i], &s->taps[i + 1], (s->ntaps - i - 1) * sizeof *s->taps);
            s->ntaps--;
            break;
        }
    char q[96];
    snprintf(q, sizeof q, "TERMINATE `%s`;", t->id);
    for (uint32_t k = 0; k < s->nshards; k++) {
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_sql_engine_exec(s->shards[k].eng, q, strlen(q), NULL, &d) && k == 0)
            sl_log(SL_LOG_WARN, c->name, "terminating %s: %s", t->id, d.msg);
    }
    catalog_add(s, q, strlen(q) - 1);
    unlock_all(s);
    sl_free(t->id);
    sl_free(t->topic);
    sl_free(t);
}
