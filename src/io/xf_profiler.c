/*
 * xf_profiler.c — the `profiler` transform: Metron's Profiler in the pipeline.
 *
 *   transforms:
 *     profiles:
 *       type: profiler
 *       inputs: [conn]
 *       profiles_file: profiler.json     # Metron's file, verbatim
 *       period: 15m
 *       lag: 1m                           # event time: allowed lateness
 *       store: sqlite:/var/lib/sluice/profiles.db
 *   sinks:
 *     alerts: {type: file, inputs: [profiles.triage], path: triage.json}
 *
 * Outputs: the main output carries one event per measurement (profile, entity, period,
 * period.start, period.end, groups, value); `<name>.triage` the triage events with Metron's
 * fields (profile, entity, period, period.start, period.end, timestamp, source.type=profiler,
 * is_alert="true", guid, plus the triage values); `<name>.late` the input events that arrived
 * after their period closed; `<name>.errors` events whose onlyif/foreach/init/update failed,
 * events without a usable timestamp, and measurements whose result or groupBy failed.
 * Measurements are written to `store:` when set (one transaction per flush).
 *
 * Time: event time when profiler.json has a timestampField (or `timestamp_field:`), unless
 * `time: processing`; then every event counts at the wall clock of its arrival, as the 0.4
 * profiler does. A period closes when the watermark (max event time seen - lag; the wall
 * clock in processing time) passes its end, checked as batches arrive and on a 1 s tick; at
 * the end of input (`--once`, SIGTERM) every open period is flushed.
 *
 * DESIGN: the profile definitions are compiled once and shared. Builder state is split into
 * shards by a hash of (profile, entity), each an sl_profiler under its own mutex. A worker
 * routes a whole batch first (onlyif, foreach: no lock), sorts the routes by shard, then takes
 * each shard's lock once per batch. ARCHITECTURE.md routes keyed state to an owning worker
 * instead; a hand-off costs a cross-core wake-up (30-80 us) per batch and per worker, while an
 * uncontended lock per shard per batch costs tens of nanoseconds, and the outcome (each
 * (profile, entity) updated by one thread at a time) is the same. Per-worker VMs and arenas.
 *
 * Partition-scoped state (io/partstream.h, docs/cluster.md "State and takeover"): a batch
 * that comes from a partitioned source (kafka) goes to the task of its input partition (one
 * task per topic partition: `tasks` off), a `struct pstate` with its own engine and its own
 * watermark (that partition's newest event time - lag), applied event by event in the order
 * the partition was read (partstream orders the batches by their sequence number, whichever
 * worker carries them). A partition's measurements then depend only on the partition's
 * records, whichever node reads it and however partitions interleave; the input must be keyed
 * by the profile's entity (or by a key that determines it). With `changelog`, partstream
 * restores a task's engine when its partition is assigned and checkpoints it (the store is
 * synced first: task_sync) periodically and when it is revoked, under the keys
 * "<topic>/<partition>"; an engine let go without one is flushed at the next tick, as at the
 * end of input (task_drop).
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "core/event.h"
#include "core/partstate.h"
#include "core/pipeline.h"
#include "lang/stellar.h"
#include "io/partstream.h"
#include "state/profiler.h"
#include "state/statecodec.h"
#include "state/store.h"
#include "sys/thread.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { PORT_TRIAGE = 2, PORT_LATE = 3 };
enum { TIME_AUTO, TIME_EVENT, TIME_PROCESSING };

struct prof_conf {
    char *profiles_file;
    struct sl_tree_opt profiles;
    int64_t period_ns;
    int time;
    int64_t lag_ns;
    int64_t ttl_ns;
    int64_t max_entities;
    char *store;
    char *timestamp_field;
    struct sl_strmap changelog;
    int64_t changelog_interval_ns;
};

static const struct sl_option prof_opts[] = {
    {"profiles_file", SL_OPT_STRING, NULL, offsetof(struct prof_conf, profiles_file),
     "Metron's profiler.json ({\"profiles\": [...], \"timestampField\": ...})", NULL, 0, 0, 0},
    {"profiles", SL_OPT_TREE, NULL, offsetof(struct prof_conf, profiles),
     "the profiles inline: a list of Metron profile objects (profile, foreach, onlyif, init, "
     "update, groupBy, result, expires), or profiler.json's whole object",
     NULL, 0, 0, 0},
    {"period", SL_OPT_DURATION, "15m", offsetof(struct prof_conf, period_ns),
     "period length (Metron's profiler.period.duration)", NULL, 0, 0, 0},
    {"time", SL_OPT_ENUM, "auto", offsetof(struct prof_conf, time),
     "event: periods by the timestampField; processing: by arrival (wall clock); auto: event "
     "when a timestampField is set",
     "auto|event|processing", 0, 0, 0},
    {"lag", SL_OPT_DURATION, "1m", offsetof(struct prof_conf, lag_ns),
     "event time: how long a period stays open after the newest event passed its end", NULL, 0, 0,
     0},
    {"ttl", SL_OPT_DURATION, "30m", offsetof(struct prof_conf, ttl_ns),
     "forget an entity idle this long, after flushing it (0: never)", NULL, 0, 0, 0},
    {"max_entities", SL_OPT_INT, "0", offsetof(struct prof_conf, max_entities),
     "bound on (profile, entity) builders held; beyond it the least recently used is flushed "
     "and evicted (0: no bound)",
     NULL, 0, INT64_MAX, 0},
    {"store", SL_OPT_STRING, NULL, offsetof(struct prof_conf, store),
     "where measurements go: sqlite:PATH, or postgres://user@host/db shared by nodes (read "
     "back by PROFILE_GET, the API, sluice profiles)",
     NULL, 0, 0, 0},
    {"timestamp_field", SL_OPT_STRING, NULL, offsetof(struct prof_conf, timestamp_field),
     "event-time field (epoch ms); overrides profiler.json's timestampField", NULL, 0, 0, 0},
    {"changelog", SL_OPT_STRING_MAP, NULL, offsetof(struct prof_conf, changelog),
     "input from a kafka source: checkpoint each input partition's in-period state to a "
     "compacted topic, restored by the node that takes the partition over (docs/cluster.md): "
     "brokers (default: the source's), topic (default: <group>-<name>-changelog), partitions "
     "(when it is created; default 6)",
     NULL, 0, 0, 0},
    {"changelog_interval", SL_OPT_DURATION, "5s", offsetof(struct prof_conf, changelog_interval_ns),
     "how often each input partition's state is checkpointed (also when a partition is let go "
     "and at shutdown); a takeover re-reads what came after the last checkpoint",
     NULL, 0, 0, 0},
    {0},
};

static const char *const prof_outputs[] = {"triage", "late", NULL};

struct shard {
    struct sl_mutex lock;
    struct sl_profiler *p;
};

/* An engine let go without a changelog: its open periods are flushed by the next tick. */
struct orphan {
    struct sl_profiler *p;
    struct orphan *next;
};

/* A routed (event, profile) pair. */
struct route {
    uint32_t ev;
    uint32_t profile;
    uint32_t shard;
    struct sl_str entity;
    int64_t ts;
};

struct worker {
    struct sl_stellar_vm *vm;
    struct sl_arena arena; /* entities, per batch */
    struct route *routes;  /* per batch */
    size_t nroutes, caproutes;
    struct route *sorted;
    size_t capsorted;
    uint32_t *count; /* per shard */
    bool *late;      /* per event */
    size_t caplate;
    int64_t *evts; /* per event: its time, INT64_MIN when rejected */
    size_t capevts;
    struct sl_log_limit lim;
};

struct prof {
    struct sl_profiler_def *def;
    size_t nprof;
    bool event_time;
    sl_sym ts_sym;
    struct sl_path ts_path;
    bool has_ts_path;
    int64_t period_ms, lag_ms, ttl_ms;
    struct shard *shards;
    uint32_t nshards; /* power of two */
    struct worker *workers;
    uint32_t nworkers;
    struct sl_store *store;
    bool store_owned;               /* opened for `store:` (else the top-level profile_store) */
    bool store_is_default;          /* ours, and made the process default */
    atomic_int_fast64_t max_ts;     /* newest event time seen */
    atomic_int_fast64_t closed_wm;  /* watermark last applied to every shard */
    atomic_int_fast64_t next_close; /* earliest open period end over shards (estimate) */
    struct sl_mutex advance_lock;   /* one advancer at a time */
    int64_t last_expire_ms;         /* guarded_by: advance_lock */
    struct sl_mutex out_lock;       /* measurements to the store, from several shards */
    struct sl_profiler_opts popts;  /* for the engines of tasks */
    struct sl_pstream *ps;          /* a task per input partition (io/partstream.h) */
    struct sl_mutex orphan_lock;
    struct orphan *orphans; /* guarded_by: orphan_lock */
    struct sl_component *c;
    bool use_changelog;
    atomic_uint_fast64_t orphan_measurements, orphan_dropped; /* flushes of engines let go */
    sl_sym sym_profile, sym_entity, sym_period, sym_pstart, sym_pend, sym_groups, sym_value,
        sym_timestamp, sym_srctype, sym_isalert, sym_guid, sym_offset;
};

static const struct sl_pstream_ops task_ops;

/* ---------------------------------------------------------------- set-up */

static void prof_fini(struct sl_component *c)
{
    struct prof *p = c->state;
    if (!p)
        return;
    sl_pstream_free(p->ps); /* its engines become orphans, freed below */
    for (struct orphan *o = p->orphans, *nx; o; o = nx) {
        nx = o->next;
        sl_profiler_free(o->p);
        sl_free(o);
    }
    sl_mutex_fini(&p->orphan_lock);
    for (uint32_t i = 0; i < p->nshards; i++) {
        sl_profiler_free(p->shards[i].p);
        sl_mutex_fini(&p->shards[i].lock);
    }
    sl_free(p->shards);
    for (uint32_t i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        sl_stellar_vm_free(w->vm);
        sl_arena_fini(&w->arena);
        sl_free(w->routes);
        sl_free(w->sorted);
        sl_free(w->count);
        sl_free(w->late);
        sl_free(w->evts);
    }
    sl_free(p->workers);
    if (p->store && p->store_owned) {
        if (p->store_is_default && sl_store_default() == p->store)
            sl_store_set_default(NULL);
        sl_store_close(p->store); /* commits what was put */
    } else if (p->store) {
        sl_store_sync(p->store); /* the top-level store: the app closes it */
    }
    if (p->has_ts_path)
        sl_path_fini(&p->ts_path);
    sl_profiler_def_free(p->def);
    sl_mutex_fini(&p->advance_lock);
    sl_mutex_fini(&p->out_lock);
    sl_free(p);
    c->state = NULL;
}

static int read_file(const char *path, char **out, size_t *len, struct sl_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sl_diag_set(d, SL_EIO, "profiles_file '%s': %s", path, strerror(errno));
    struct sl_buf b;
    sl_buf_init(&b, (size_t)64 << 20);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((rc = sl_buf_append(&b, chunk, n)))
            break;
    bool err = ferror(f);
    fclose(f);
    if (rc || err) {
        sl_buf_fini(&b);
        return sl_diag_set(d, rc ? rc : SL_EIO, "profiles_file '%s': %s", path,
                           rc ? "larger than 64 MiB" : "read error");
    }
    *out = sl_buf_steal(&b, len);
    return 0;
}

static int prof_init(struct sl_component *c, struct sl_diag *d)
{
    const struct prof_conf *cf = c->conf;
    struct prof *p = sl_xcalloc(1, sizeof *p);
    c->state = p;
    sl_mutex_init(&p->advance_lock);
    sl_mutex_init(&p->out_lock);
    sl_mutex_init(&p->orphan_lock);
    p->c = c;
    int rc;
    char *text = NULL;
    size_t len = 0;
    if (!cf->profiles_file == !cf->profiles.json) {
        sl_component_diag_opt(c, cf->profiles_file ? "profiles" : "profiles_file", d);
        sl_diag_hint(d, "profiles_file: profiler.json (Metron's file), or profiles: [...] inline");
        rc = sl_diag_set(d, SL_ECONFIG, "profiler '%s': %s", c->name,
                         cf->profiles_file ? "give profiles_file or profiles, not both"
                                           : "no profiles");
        goto fail;
    }
    if (cf->profiles_file) {
        if ((rc = read_file(cf->profiles_file, &text, &len, d))) {
            sl_component_diag_opt(c, "profiles_file", d);
            goto fail;
        }
        rc = sl_profiler_def_parse(text ? text : "", len, cf->profiles_file, &p->def, d);
        sl_free(text);
        if (rc)
            goto fail; /* d names profiler.json, its line and column, and the JSON path */
    } else {
        /* a list is profiler.json's "profiles"; an object is the whole file */
        const char *js = cf->profiles.json;
        size_t off = 0;
        while (off < cf->profiles.len && (js[off] == '\n' || js[off] == ' '))
            off++;
        struct sl_buf b;
        sl_buf_init(&b, 0);
        if (js[off] == '[') { /* keep the JSON lines: the wrapper goes on line 1 */
            sl_buf_puts(&b, "{\"profiles\":");
            sl_buf_append(&b, js, cf->profiles.len);
            sl_buf_puts(&b, "}");
        } else {
            sl_buf_append(&b, js, cf->profiles.len);
        }
        const char *origin = c->pipe ? sl_pipeline_config_path(c->pipe) : "<config>";
        rc = sl_profiler_def_parse(b.ptr, b.len, origin, &p->def, d);
        sl_buf_fini(&b);
        if (rc) { /* positions in the JSON rendering -> the YAML */
            if (d->line)
                sl_tree_opt_pos(&cf->profiles, &d->line, &d->col);
            else
                sl_component_diag_opt(c, "profiles", d);
            snprintf(d->file, sizeof d->file, "%s", origin);
            goto fail;
        }
    }
    p->nprof = sl_profiler_def_count(p->def);
    const char *tsf =
        cf->timestamp_field ? cf->timestamp_field : sl_profiler_def_timestamp_field(p->def);
    p->event_time = cf->time == TIME_EVENT || (cf->time == TIME_AUTO && tsf);
    if (p->event_time && !tsf) {
        sl_component_diag_opt(c, "time", d);
        sl_diag_hint(d, "set \"timestampField\" in profiler.json or `timestamp_field:` here");
        rc = sl_diag_set(d, SL_ECONFIG, "profiler: event time needs a timestamp field");
        goto fail;
    }
    if (p->event_time) {
        if ((rc = sl_path_init(&p->ts_path, tsf))) {
            sl_component_diag_opt(c, "timestamp_field", d);
            rc = sl_diag_set(d, SL_ECONFIG, "profiler: bad timestamp field '%s'", tsf);
            goto fail;
        }
        p->has_ts_path = true;
    }
    p->period_ms = cf->period_ns / 1000000;
    if (p->period_ms <= 0) {
        sl_component_diag_opt(c, "period", d);
        rc = sl_diag_set(d, SL_ECONFIG, "profiler: period must be at least 1ms");
        goto fail;
    }
    p->lag_ms = cf->lag_ns / 1000000;
    /* `run --once` over files: unless a lag is given, periods close only at the end of input,
     * which is exactly Metron's batch profiler (every event of a period counts, whatever the
     * disorder of the files) */
    if (p->event_time && c->pipe && sl_pipeline_once(c->pipe) && !sl_component_opt_set(c, "lag"))
        p->lag_ms = INT64_MAX / 4;
    p->ttl_ms = cf->ttl_ns / 1000000;
    if (cf->store) {
        if ((rc = sl_store_open(cf->store, &p->store, d))) {
            sl_component_diag_opt(c, "store", d);
            goto fail;
        }
        p->store_owned = true;
        if (!sl_store_default()) { /* PROFILE_GET in the pipeline's expressions */
            sl_store_set_default(p->store);
            p->store_is_default = true;
        }
    } else {
        p->store = sl_store_default(); /* the top-level `profile_store:`, if any */
    }
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    p->nworkers = workers > 0 ? (uint32_t)workers : 1;
    p->nshards = 16;
    while (p->nshards < p->nworkers * 8)
        p->nshards *= 2;
    struct sl_profiler_opts po = {
        .period_ms = p->period_ms,
        .ttl_ms = p->ttl_ms,
        .max_entities =
            cf->max_entities > 0 ? ((uint64_t)cf->max_entities + p->nshards - 1) / p->nshards : 0,
    };
    p->popts = po;
    p->popts.max_entities = cf->max_entities > 0 ? (uint64_t)cf->max_entities : 0;
    p->shards = sl_xcalloc(p->nshards, sizeof *p->shards);
    for (uint32_t i = 0; i < p->nshards; i++) {
        sl_mutex_init(&p->shards[i].lock);
        p->shards[i].p = sl_profiler_new(p->def, &po);
    }
    p->workers = sl_xcalloc(p->nworkers, sizeof *p->workers);
    for (uint32_t i = 0; i < p->nworkers; i++) {
        p->workers[i].vm = sl_stellar_vm_new();
        if (p->store)
            sl_stellar_vm_set_store(p->workers[i].vm, p->store);
        sl_arena_init(&p->workers[i].arena, 1 << 16, 0);
        p->workers[i].count = sl_xcalloc(p->nshards, sizeof(uint32_t));
    }
    atomic_init(&p->max_ts, INT64_MIN);
    atomic_init(&p->closed_wm, INT64_MIN);
    atomic_init(&p->next_close, INT64_MAX);
    p->sym_profile = sl_sym_intern_c("profile");
    p->sym_entity = sl_sym_intern_c("entity");
    p->sym_period = sl_sym_intern_c("period");
    p->sym_pstart = sl_sym_intern_c("period.start");
    p->sym_pend = sl_sym_intern_c("period.end");
    p->sym_groups = sl_sym_intern_c("groups");
    p->sym_value = sl_sym_intern_c("value");
    p->sym_timestamp = sl_sym_intern_c("timestamp");
    p->sym_srctype = sl_sym_intern_c("source.type");
    p->sym_isalert = sl_sym_intern_c("is_alert");
    p->sym_guid = sl_sym_intern_c("guid");
    p->sym_offset = sl_sym_intern_c("@kafka.offset");
    p->use_changelog = sl_component_opt_set(c, "changelog");
    if (p->use_changelog && cf->changelog_interval_ns < 100000000) {
        sl_component_diag_opt(c, "changelog_interval", d);
        rc = sl_diag_set(d, SL_ECONFIG, "profiler: changelog_interval must be at least 100ms");
        goto fail;
    }
    if (c->pipe) {
        /* a task per input partition, in the order it was read, with or without a changelog */
        const struct sl_pstream_conf pc = {
            .what = "in-period state",
            .thread = "sl-ckpt",
            .stat_prefix = "sluice_profiler",
            .changelog = p->use_changelog ? &cf->changelog : NULL,
            .interval_ns = cf->changelog_interval_ns,
            .max_bytes = SL_SC_MAX_STATE,
            .topic_keys = true,
        };
        if ((rc = sl_pstream_new(c, &pc, &task_ops, p, &p->ps, d)))
            goto fail;
    }
    return 0;
fail:
    prof_fini(c);
    return rc;
}

/* ---------------------------------------------------------------- flushing */

/* Where a flush puts its results: batches for main and triage, measurements for the store. */
struct flush_out {
    struct prof *p;
    struct sl_component *c;
    struct sl_xf_ctx *x;
    struct sl_batch *main, *triage;
    struct sl_arena marena; /* measurement copies for the store */
    struct sl_measurement *ms;
    size_t nms, capms;
    struct sl_object **objs; /* references held until the store copied them */
    size_t nobjs, capobjs;
    uint64_t failed;
};

/* A value for an output event: objects (sketches) become their JSON summary text. */
static int out_value(struct sl_batch *b, const struct sl_value *v, struct sl_value *out)
{
    if (v->type == SL_V_OBJECT) {
        struct sl_buf t;
        sl_buf_init(&t, 1 << 20);
        int rc = v->u.obj && v->u.obj->type && v->u.obj->type->to_json
                     ? v->u.obj->type->to_json(v->u.obj, &t)
                     : sl_buf_puts(&t, "null");
        char *s = rc ? NULL : sl_batch_copy(b, t.ptr ? t.ptr : "", t.len);
        size_t n = t.len;
        sl_buf_fini(&t);
        if (!s)
            return SL_ENOMEM;
        *out = sl_value_str(s, n);
        return 0;
    }
    return sl_value_copy(&b->arena, v, out);
}

static void emit_full(struct flush_out *o, struct sl_batch **b, unsigned port)
{
    if (*b && sl_batch_full(*b)) {
        sl_xf_emit(o->x, port, *b);
        *b = NULL;
    }
}

static int set_common(struct flush_out *o, struct sl_batch *b, struct sl_event *ev,
                      const struct sl_measurement *m)
{
    struct prof *p = o->p;
    int rc = sl_event_set_str(b, ev, p->sym_profile, m->profile.ptr, m->profile.len);
    rc = rc ? rc : sl_event_set_str(b, ev, p->sym_entity, m->entity.ptr, m->entity.len);
    rc = rc ? rc : sl_event_set(b, ev, p->sym_period, sl_value_int(m->period));
    rc = rc ? rc : sl_event_set(b, ev, p->sym_pstart, sl_value_int(m->start_ms));
    rc = rc ? rc : sl_event_set(b, ev, p->sym_pend, sl_value_int(m->end_ms));
    return rc;
}

static void uuid4(char out[37])
{
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t a = sl_hash64_seed(&r, sizeof r, (uint64_t)sl_clock_mono_ns());
        uint64_t b = sl_hash64_seed(&a, sizeof a, (uint64_t)sl_clock_wall_ns());
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static int on_result(void *ud, const struct sl_profile_result *r)
{
    struct flush_out *o = ud;
    struct prof *p = o->p;
    const struct sl_measurement *m = &r->m;
    /* the measurement event */
    if (!o->main)
        o->main = sl_batch_new();
    struct sl_batch *b = o->main;
    struct sl_event *ev = sl_batch_push(b);
    struct sl_value v, g;
    int rc = ev ? set_common(o, b, ev, m) : SL_ENOMEM;
    if (!rc && sl_json_parse_value(&b->arena, m->groups.ptr, m->groups.len, NULL, &g, NULL) == 0)
        rc = sl_event_set(b, ev, p->sym_groups, g);
    rc = rc ? rc : out_value(b, &m->value, &v);
    rc = rc ? rc : sl_event_set(b, ev, p->sym_value, v);
    if (rc)
        o->failed++;
    emit_full(o, &o->main, 0);
    /* triage */
    if (r->triage.type == SL_V_MAP) {
        if (!o->triage)
            o->triage = sl_batch_new();
        b = o->triage;
        ev = sl_batch_push(b);
        char guid[37];
        uuid4(guid);
        rc = ev ? set_common(o, b, ev, m) : SL_ENOMEM;
        rc = rc ? rc
                : sl_event_set(b, ev, p->sym_timestamp, sl_value_int(sl_clock_wall_ns() / 1000000));
        rc = rc ? rc : sl_event_set_str(b, ev, p->sym_srctype, "profiler", 8);
        rc = rc ? rc : sl_event_set_str(b, ev, p->sym_isalert, "true", 4);
        rc = rc ? rc : sl_event_set_str(b, ev, p->sym_guid, guid, 36);
        for (uint32_t i = 0; !rc && i < r->triage.len; i++) {
            const struct sl_kv *kv = &r->triage.u.map[i];
            char *k = sl_batch_copy(b, kv->key.ptr, kv->key.len);
            struct sl_value tv;
            rc = k ? out_value(b, &kv->val, &tv) : SL_ENOMEM;
            rc = rc ? rc : sl_event_set(b, ev, sl_sym_intern(k, kv->key.len), tv);
        }
        if (rc)
            o->failed++;
        emit_full(o, &o->triage, PORT_TRIAGE);
    }
    /* the store's copy: strings in marena, objects referenced until sl_store_put copied them */
    if (p->store) {
        if (o->nms == o->capms) {
            size_t cap = o->capms ? o->capms * 2 : 64;
            o->ms = sl_xrealloc(o->ms, cap * sizeof *o->ms);
            o->capms = cap;
        }
        struct sl_measurement *c = &o->ms[o->nms];
        *c = *m;
        char *s1 = sl_arena_alloc(&o->marena, m->profile.len + m->entity.len + m->groups.len + 1);
        if (!s1 || sl_value_copy(&o->marena, &m->value, &c->value)) {
            o->failed++;
            return 0;
        }
        memcpy(s1, m->profile.ptr, m->profile.len);
        memcpy(s1 + m->profile.len, m->entity.ptr, m->entity.len);
        memcpy(s1 + m->profile.len + m->entity.len, m->groups.ptr, m->groups.len);
        c->profile = sl_str_make(s1, m->profile.len);
        c->entity = sl_str_make(s1 + m->profile.len, m->entity.len);
        c->groups = sl_str_make(s1 + m->profile.len + m->entity.len, m->groups.len);
        if (c->value.type == SL_V_OBJECT && c->value.u.obj) {
            if (o->nobjs == o->capobjs) {
                size_t cap = o->capobjs ? o->capobjs * 2 : 16;
                o->objs = sl_xrealloc(o->objs, cap * sizeof *o->objs);
                o->capobjs = cap;
            }
            sl_object_ref(c->value.u.obj);
            o->objs[o->nobjs++] = c->value.u.obj;
        }
        o->nms++;
    }
    return 0;
}

static void on_fail(void *ud, size_t profile_index, struct sl_str entity, int64_t period,
                    const char *what, const char *err)
{
    struct flush_out *o = ud;
    char msg[768];
    snprintf(msg, sizeof msg, "profile '%s' entity '%.*s' period %" PRId64 ": %s: %s",
             sl_profiler_def_name(o->p->def, profile_index),
             (int)(entity.len > 200 ? 200 : entity.len), entity.ptr, period, what, err);
    struct sl_batch *errs = sl_xf_errors(o->x);
    if (errs)
        (void)sl_error_event(errs, o->c->name, msg, NULL, 0, NULL, 0, -1);
}

static void flush_begin(struct flush_out *o, struct prof *p, struct sl_component *c,
                        struct sl_xf_ctx *x)
{
    memset(o, 0, sizeof *o);
    o->p = p;
    o->c = c;
    o->x = x;
    sl_arena_init(&o->marena, 1 << 14, 0);
}

/* Hand the measurements of one shard's flush to the store (still under the shard lock, so
 * a sketch cannot change before it is serialised), then release the references. */
static void flush_store(struct flush_out *o)
{
    if (o->nms) {
        int rc = sl_store_put(o->p->store, o->ms, o->nms);
        if (rc)
            sl_error(o->c->name, "%zu measurements not queued for the store: %s", o->nms,
                     sl_strerror(rc));
    }
    for (size_t i = 0; i < o->nobjs; i++)
        sl_object_unref(o->objs[i]);
    o->nms = o->nobjs = 0;
    sl_arena_reset(&o->marena);
}

static void flush_end(struct flush_out *o)
{
    if (o->main)
        sl_xf_emit(o->x, 0, o->main);
    if (o->triage)
        sl_xf_emit(o->x, PORT_TRIAGE, o->triage);
    if (o->failed)
        sl_error(o->c->name, "%" PRIu64 " measurement event(s) could not be built (out of memory)",
                 o->failed);
    sl_free(o->ms);
    sl_free(o->objs);
    sl_arena_fini(&o->marena);
}

/* Close what the watermark allows (and expire idle entities) in every shard. */
static void advance_all(struct sl_component *c, struct sl_xf_ctx *x, int64_t wm, int64_t now_ms,
                        bool all)
{
    struct prof *p = c->state;
    struct worker *w = &p->workers[x->worker < p->nworkers ? x->worker : 0];
    struct flush_out o;
    flush_begin(&o, p, c, x);
    struct sl_profiler_sink sink = {on_result, on_fail, &o};
    int64_t next = INT64_MAX;
    for (uint32_t i = 0; i < p->nshards; i++) {
        struct shard *s = &p->shards[i];
        sl_mutex_lock(&s->lock);
        if (all)
            sl_profiler_flush_all(s->p, w->vm, &sink);
        else
            sl_profiler_advance(s->p, w->vm, wm, now_ms, &sink);
        sl_stellar_vm_release(w->vm);
        if (p->store)
            flush_store(&o);
        int64_t nc = sl_profiler_next_close(s->p);
        if (nc < next)
            next = nc;
        sl_mutex_unlock(&s->lock);
    }
    atomic_store(&p->next_close, next);
    flush_end(&o);
}

/* ---------------------------------------------------------------- processing */

/* Metron's EventTimeClock reading of the timestamp field (state/profiler.c). */
static bool event_ts(struct prof *p, const struct sl_event *ev, int64_t *ts)
{
    const struct sl_value *v = sl_path_get(&p->ts_path, ev);
    return v && sl_profiler_timestamp(v, ts) == 0 && *ts >= 0;
}

static void reject(struct sl_component *c, struct sl_xf_ctx *x, struct worker *w,
                   const struct sl_event *ev, const char *msg)
{
    struct sl_batch *errs = sl_xf_errors(x);
    if (errs)
        (void)sl_error_event_for(errs, c->name, msg, ev);
    sl_log_ratelimited(&w->lim, 5, SL_LOG_WARN, c->name, "%s", msg);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = sl_realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* ---------------------------------------------------------------- partition-scoped state */

/* The state of (topic_id, partition); created when create is set (never freed before fini). */
static void orphan_add(struct prof *p, struct sl_profiler *e)
{
    struct orphan *o = sl_xcalloc(1, sizeof *o);
    o->p = e;
    sl_mutex_lock(&p->orphan_lock);
    o->next = p->orphans;
    p->orphans = o;
    sl_mutex_unlock(&p->orphan_lock);
}

/* Flush every open period of the engines let go without a changelog (a worker's tick). */
static void flush_orphans(struct sl_component *c, struct sl_xf_ctx *x, struct worker *w)
{
    struct prof *p = c->state;
    sl_mutex_lock(&p->orphan_lock);
    struct orphan *list = p->orphans;
    p->orphans = NULL;
    sl_mutex_unlock(&p->orphan_lock);
    if (!list)
        return;
    struct flush_out o;
    flush_begin(&o, p, c, x);
    struct sl_profiler_sink sink = {on_result, on_fail, &o};
    for (struct orphan *e = list, *nx; e; e = nx) {
        nx = e->next;
        struct sl_profiler_stats h0;
        sl_profiler_get_stats(e->p, &h0);
        sl_profiler_flush_all(e->p, w->vm, &sink);
        sl_stellar_vm_release(w->vm);
        if (p->store)
            flush_store(&o);
        struct sl_profiler_stats h;
        sl_profiler_get_stats(e->p, &h);
        atomic_fetch_add(&p->orphan_measurements, h.measurements - h0.measurements);
        atomic_fetch_add(&p->orphan_dropped, h.dropped - h0.dropped);
        sl_profiler_free(e->p);
        sl_free(e);
    }
    flush_end(&o);
}

/* ---------------------------------------------------------------- tasks (io/partstream) */

/* A task's state: the engine of one input partition and its times. */
struct pstate {
    struct sl_profiler *p;
    int64_t max_ts; /* newest event time of the partition; INT64_MIN: none */
    int64_t wm;     /* watermark applied to p */
};

/* A task's own: the counters of the engines it let go (under the task's lock). */
struct pgone {
    struct sl_profiler_stats gone;
};

static void *task_make(void *ud, struct sl_ptask *t)
{
    (void)t;
    struct prof *p = ud;
    struct pstate *s = sl_xcalloc(1, sizeof *s);
    s->p = sl_profiler_new(p->def, &p->popts);
    s->max_ts = s->wm = INT64_MIN;
    return s;
}

static int task_load(void *ud, struct sl_ptask *t, void *state, const void *data, size_t n,
                     struct sl_partstate_offset **offs, uint32_t *noffs, char *info, size_t infocap,
                     struct sl_diag *d)
{
    (void)ud;
    struct pstate *s = state;
    struct sl_profiler_ckpt k = {-1, INT64_MIN, INT64_MIN};
    uint64_t skipped = 0;
    int rc = sl_profiler_restore(s->p, data, n, &k, &skipped, d);
    if (rc)
        return rc;
    s->max_ts = k.max_ts;
    s->wm = k.wm;
    /* its input offset, of the task's one topic */
    const char *topic = sl_partstate_topic_name(t->solo_topic);
    if (k.next_offset >= 0 && topic) {
        size_t tl = strlen(topic);
        struct sl_partstate_offset *o = sl_xmalloc(sizeof *o + tl + 1);
        memcpy(o + 1, topic, tl + 1);
        *o = (struct sl_partstate_offset){(const char *)(o + 1), k.next_offset};
        *offs = o;
        *noffs = 1;
    }
    struct sl_profiler_stats h;
    sl_profiler_get_stats(s->p, &h);
    snprintf(info, infocap, "%llu entities, %llu open periods%s", (unsigned long long)h.entities,
             (unsigned long long)h.open_periods,
             skipped ? " (entities of profiles no longer defined skipped)" : "");
    return 0;
}

static int task_save(void *ud, struct sl_ptask *t, void *state,
                     const struct sl_partstate_offset *offs, uint32_t noffs, struct sl_buf *out,
                     struct sl_diag *d)
{
    (void)ud;
    (void)t;
    const struct pstate *s = state;
    struct sl_profiler_ckpt k = {noffs ? offs[0].next : -1, s->max_ts, s->wm};
    int rc = sl_profiler_snapshot(s->p, &k, out);
    if (rc)
        sl_diag_set(d, rc, "%s", sl_strerror(rc));
    return rc;
}

/* what the engine flushed before a checkpoint must be durable before it says those periods
 * are closed */
static int task_sync(void *ud, struct sl_diag *d)
{
    struct prof *p = ud;
    int rc = p->store ? sl_store_sync(p->store) : 0;
    if (rc)
        sl_diag_set(d, rc, "the store did not commit: %s", sl_strerror(rc));
    return rc;
}

/* An engine let go: with a changelog the next owner continues its open periods; at the end of
 * input (--once), or without one, they are flushed by the next tick as at any end. */
static void task_drop(void *ud, struct sl_ptask *t, void *state, enum sl_pstream_drop why)
{
    struct prof *p = ud;
    struct pstate *s = state;
    struct sl_profiler_stats h;
    sl_profiler_get_stats(s->p, &h);
    struct sl_profiler_stats *g = &((struct pgone *)t->user)->gone;
    g->messages += h.messages;
    g->late += h.late;
    g->update_errors += h.update_errors;
    g->measurements += h.measurements;
    g->dropped += h.dropped;
    g->evicted += h.evicted;
    g->expired += h.expired;
    if (why == SL_PSTREAM_UNKEPT ||
        (why == SL_PSTREAM_KEPT && p->c->pipe && sl_pipeline_once(p->c->pipe)))
        orphan_add(p, s->p);
    else
        sl_profiler_free(s->p);
    sl_free(s);
}

static void *task_user_new(void *ud, struct sl_ptask *t)
{
    (void)ud;
    (void)t;
    return sl_xcalloc(1, sizeof(struct pgone));
}

static void task_user_free(void *ud, void *user)
{
    (void)ud;
    sl_free(user);
}

static const struct sl_pstream_ops task_ops = {
    .make = task_make,
    .load = task_load,
    .save = task_save,
    .drop = task_drop,
    .user_new = task_user_new,
    .user_free = task_user_free,
    .sync = task_sync,
};

/* Apply a routed batch of one input partition to that partition's state, in the order the
 * partition was read: event by event, each followed by the partition's watermark. */
static struct sl_batch *process_stream(struct sl_component *c, struct sl_batch *b,
                                       struct sl_xf_ctx *x, struct worker *w, int64_t now_ms)
{
    struct prof *p = c->state;
    struct sl_pstream_apply ap;
    struct sl_ptask *t = sl_pstream_begin(p->ps, b, &ap); /* in turn, locked */
    if (!t) {
        sl_batch_unref(b);
        return NULL;
    }
    struct pstate *st = t->state;
    struct flush_out o;
    flush_begin(&o, p, c, x);
    struct sl_profiler_sink sink = {on_result, on_fail, &o};
    uint32_t n = b->count, nlate = 0;
    size_t r = 0;
    char msg[600];
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_event *ev = &b->events[i];
        bool skip = !sl_pstream_take(&ap, ev); /* in the restored state already */
        for (; r < w->nroutes && w->routes[r].ev == i; r++) {
            if (skip)
                continue;
            const struct route *rt = &w->routes[r];
            struct sl_stellar_resolver rs = {sl_stellar_event_get, (void *)ev, false,
                                             sl_stellar_event_all, ev};
            const char *err = NULL;
            int64_t idle = p->event_time ? (st->max_ts == INT64_MIN ? rt->ts : st->max_ts) : now_ms;
            int rc =
                sl_profiler_apply(st->p, rt->profile, rt->entity, w->vm, &rs, rt->ts, idle, &err);
            if (rc == SL_PROFILER_LATE) {
                nlate += !w->late[i];
                w->late[i] = true;
            } else if (rc < 0) {
                snprintf(msg, sizeof msg, "profile '%s' entity '%.*s': %s",
                         sl_profiler_def_name(p->def, rt->profile),
                         (int)(rt->entity.len > 200 ? 200 : rt->entity.len), rt->entity.ptr,
                         err ? err : "update failed");
                reject(c, x, w, ev, msg);
            }
        }
        if (skip)
            continue;
        int64_t ts = w->evts[i];
        if (ts != INT64_MIN && ts > st->max_ts)
            st->max_ts = ts;
        int64_t wm = p->event_time ? (st->max_ts == INT64_MIN ? INT64_MIN : st->max_ts - p->lag_ms)
                                   : now_ms - p->lag_ms;
        if (wm > st->wm) {
            st->wm = wm;
            sl_profiler_advance(st->p, w->vm, wm, p->event_time ? st->max_ts : now_ms, &sink);
        }
    }
    sl_stellar_vm_release(w->vm);
    if (p->store)
        flush_store(&o); /* under the lock: the snapshot after it sees it queued */
    sl_pstream_end(&ap);
    if (nlate) {
        sl_batch_ref(b);
        struct sl_batch *late = sl_batch_own(b);
        if (late) {
            sl_batch_compact(late, w->late);
            sl_xf_emit(x, PORT_LATE, late);
        } else {
            sl_error(c->name, "out of memory: %u late events not forwarded", nlate);
            atomic_fetch_add(&c->m.errors, nlate);
        }
    }
    sl_batch_unref(b);
    flush_end(&o);
    return NULL;
}

static struct sl_batch *prof_process(struct sl_component *c, struct sl_batch *b,
                                     struct sl_xf_ctx *x)
{
    struct prof *p = c->state;
    uint32_t wi = x->worker < p->nworkers ? x->worker : 0;
    struct worker *w = &p->workers[wi];
    uint32_t n = b->count;
    if (!grow((void **)&w->late, &w->caplate, n, sizeof(bool)) ||
        !grow((void **)&w->evts, &w->capevts, n, sizeof(int64_t)) ||
        !grow((void **)&w->routes, &w->caproutes, (size_t)n * p->nprof, sizeof(struct route)) ||
        !grow((void **)&w->sorted, &w->capsorted, (size_t)n * p->nprof, sizeof(struct route))) {
        sl_error(c->name, "out of memory: %u events not profiled", n);
        atomic_fetch_add(&c->m.errors, n);
        sl_batch_unref(b);
        return NULL;
    }
    memset(w->late, 0, n * sizeof(bool));
    w->nroutes = 0;
    sl_arena_reset(&w->arena);
    int64_t now_ms = sl_clock_wall_ns() / 1000000, batch_max = INT64_MIN;
    char msg[600];
    /* 1. route: onlyif, foreach (no lock) */
    for (uint32_t i = 0; i < n; i++) {
        const struct sl_event *ev = &b->events[i];
        int64_t ts = now_ms;
        w->evts[i] = INT64_MIN;
        if (p->event_time && !event_ts(p, ev, &ts)) {
            snprintf(msg, sizeof msg, "no usable event time in '%s' (epoch milliseconds)",
                     p->ts_path.text);
            reject(c, x, w, ev, msg);
            continue;
        }
        w->evts[i] = ts;
        if (ts > batch_max)
            batch_max = ts;
        struct sl_stellar_resolver r = {sl_stellar_event_get, (void *)ev, false,
                                        sl_stellar_event_all, ev};
        for (uint32_t k = 0; k < p->nprof; k++) {
            struct sl_str entity;
            const char *err = NULL;
            int rc = sl_profiler_route(p->def, k, w->vm, &r, &w->arena, &entity, &err);
            if (rc < 0) {
                snprintf(msg, sizeof msg, "profile '%s': %s", sl_profiler_def_name(p->def, k),
                         err ? err : "routing failed");
                reject(c, x, w, ev, msg);
            }
            if (rc <= 0)
                continue;
            uint64_t h = sl_hash64_seed(entity.ptr, entity.len, k + 1);
            w->routes[w->nroutes++] =
                (struct route){i, k, (uint32_t)(h & (p->nshards - 1)), entity, ts};
        }
    }
    sl_stellar_vm_release(w->vm);
    if (b->origin.topic && p->ps)
        return process_stream(c, b, x, w, now_ms);
    /* the newest event time seen, before applying: the engine's idle clock must not go back */
    if (p->event_time) {
        int64_t cur = atomic_load(&p->max_ts);
        while (batch_max > cur && !atomic_compare_exchange_weak(&p->max_ts, &cur, batch_max))
            ;
    }
    int64_t idle_now = p->event_time ? atomic_load(&p->max_ts) : now_ms;
    /* 2. counting sort by shard, then one lock per shard */
    memset(w->count, 0, p->nshards * sizeof(uint32_t));
    for (size_t i = 0; i < w->nroutes; i++)
        w->count[w->routes[i].shard]++;
    uint32_t sum = 0;
    for (uint32_t s = 0; s < p->nshards; s++) {
        uint32_t k = w->count[s];
        w->count[s] = sum;
        sum += k;
    }
    for (size_t i = 0; i < w->nroutes; i++)
        w->sorted[w->count[w->routes[i].shard]++] = w->routes[i];
    uint32_t nlate = 0;
    for (size_t i = 0; i < w->nroutes;) {
        uint32_t s = w->sorted[i].shard;
        struct shard *sh = &p->shards[s];
        sl_mutex_lock(&sh->lock);
        for (; i < w->nroutes && w->sorted[i].shard == s; i++) {
            const struct route *rt = &w->sorted[i];
            const struct sl_event *ev = &b->events[rt->ev];
            struct sl_stellar_resolver r = {sl_stellar_event_get, (void *)ev, false,
                                            sl_stellar_event_all, ev};
            const char *err = NULL;
            int rc = sl_profiler_apply(sh->p, rt->profile, rt->entity, w->vm, &r, rt->ts, idle_now,
                                       &err);
            if (rc == SL_PROFILER_LATE) {
                nlate += !w->late[rt->ev];
                w->late[rt->ev] = true;
            } else if (rc < 0) {
                snprintf(msg, sizeof msg, "profile '%s' entity '%.*s': %s",
                         sl_profiler_def_name(p->def, rt->profile),
                         (int)(rt->entity.len > 200 ? 200 : rt->entity.len), rt->entity.ptr,
                         err ? err : "update failed");
                reject(c, x, w, ev, msg);
            }
        }
        sl_stellar_vm_release(w->vm);
        sl_mutex_unlock(&sh->lock);
    }
    /* 3. late events leave on .late, unchanged */
    if (nlate) {
        sl_batch_ref(b);
        struct sl_batch *late = sl_batch_own(b);
        if (late) {
            sl_batch_compact(late, w->late);
            sl_xf_emit(x, PORT_LATE, late);
        } else {
            sl_error(c->name, "out of memory: %u late events not forwarded", nlate);
            atomic_fetch_add(&c->m.errors, nlate);
        }
    }
    sl_batch_unref(b);
    /* 4. advance the watermark; close periods when it passed the earliest open end */
    int64_t wm;
    if (p->event_time) {
        int64_t mx = atomic_load(&p->max_ts);
        wm = mx == INT64_MIN ? INT64_MIN : mx - p->lag_ms;
    } else {
        wm = now_ms - p->lag_ms;
    }
    if (atomic_load(&p->next_close) == INT64_MAX && w->nroutes) {
        /* new builders after none: learn the earliest end (shards answer from a field) */
        int64_t next = INT64_MAX;
        for (uint32_t s = 0; s < p->nshards; s++) {
            sl_mutex_lock(&p->shards[s].lock);
            int64_t nc = sl_profiler_next_close(p->shards[s].p);
            sl_mutex_unlock(&p->shards[s].lock);
            if (nc < next)
                next = nc;
        }
        atomic_store(&p->next_close, next);
    }
    if (wm != INT64_MIN && wm >= atomic_load(&p->next_close) &&
        sl_mutex_trylock(&p->advance_lock)) {
        advance_all(c, x, wm, idle_now, false);
        atomic_store(&p->closed_wm, wm);
        sl_mutex_unlock(&p->advance_lock);
    }
    return NULL;
}

/* Streams on a tick: flush the engines let go; in processing time, close periods by the wall
 * clock; at the end (all), flush every stream still held as well. */
static void streams_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ms, bool all)
{
    struct prof *p = c->state;
    struct worker *w = &p->workers[x->worker < p->nworkers ? x->worker : 0];
    flush_orphans(c, x, w);
    if ((p->event_time && !all) || !p->ps)
        return; /* a partition's event time moves with its own events only */
    struct flush_out o;
    flush_begin(&o, p, c, x);
    struct sl_profiler_sink sink = {on_result, on_fail, &o};
    for (struct sl_ptask *t = sl_pstream_head(p->ps); t; t = t->next) {
        sl_mutex_lock(&t->lock);
        struct pstate *st = t->state;
        if (st && all) {
            sl_profiler_flush_all(st->p, w->vm, &sink);
        } else if (st && now_ms - p->lag_ms > st->wm) {
            st->wm = now_ms - p->lag_ms;
            if (sl_profiler_advance(st->p, w->vm, st->wm, now_ms, &sink))
                sl_pstream_touch(t); /* periods it closed: the next checkpoint says so */
        }
        sl_stellar_vm_release(w->vm);
        if (p->store)
            flush_store(&o);
        sl_mutex_unlock(&t->lock);
    }
    flush_end(&o);
}

/* The sum of the tasks' engine statistics (held and let go). */
static void streams_stats(struct prof *p, struct sl_profiler_stats *t)
{
    memset(t, 0, sizeof *t);
    /* what the engines let go flushed after their counters were taken (revoked) */
    t->measurements += atomic_load(&p->orphan_measurements);
    t->dropped += atomic_load(&p->orphan_dropped);
    for (struct sl_ptask *k = p->ps ? sl_pstream_head(p->ps) : NULL; k; k = k->next) {
        sl_mutex_lock(&k->lock);
        struct sl_profiler_stats s = ((struct pgone *)k->user)->gone;
        const struct pstate *st = k->state;
        if (st) {
            struct sl_profiler_stats h;
            sl_profiler_get_stats(st->p, &h);
            s.messages += h.messages;
            s.late += h.late;
            s.update_errors += h.update_errors;
            s.measurements += h.measurements;
            s.dropped += h.dropped;
            s.evicted += h.evicted;
            s.expired += h.expired;
            s.entities = h.entities;
            s.open_periods = h.open_periods;
            s.bytes = h.bytes;
        }
        sl_mutex_unlock(&k->lock);
        t->messages += s.messages;
        t->late += s.late;
        t->update_errors += s.update_errors;
        t->measurements += s.measurements;
        t->dropped += s.dropped;
        t->evicted += s.evicted;
        t->expired += s.expired;
        t->entities += s.entities;
        t->open_periods += s.open_periods;
        t->bytes += s.bytes;
    }
}

/* Every second: close periods in processing time, expire idle entities, apply `expires`. */
static void prof_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns)
{
    struct prof *p = c->state;
    int64_t now_ms = sl_clock_wall_ns() / 1000000;
    if (!sl_mutex_trylock(&p->advance_lock))
        return;
    streams_tick(c, x, now_ms, false);
    int64_t wm;
    if (p->event_time) {
        int64_t mx = atomic_load(&p->max_ts);
        wm = mx == INT64_MIN ? INT64_MIN : mx - p->lag_ms;
        if (wm != INT64_MIN)
            advance_all(c, x, wm, mx, false);
    } else {
        wm = now_ms - p->lag_ms;
        advance_all(c, x, wm, now_ms, false);
    }
    if (p->store && now_ms - p->last_expire_ms >= 3600000) {
        p->last_expire_ms = now_ms;
        for (size_t i = 0; i < p->nprof; i++) {
            double days = sl_profiler_def_expires_days(p->def, i);
            if (days <= 0)
                continue;
            const char *name = sl_profiler_def_name(p->def, i);
            uint64_t removed = 0;
            if (sl_store_expire(p->store, sl_str_make(name, strlen(name)),
                                now_ms - (int64_t)(days * 86400000.0), &removed) == 0 &&
                removed)
                sl_info(c->name,
                        "profile '%s': %" PRIu64 " measurements older than %g days removed", name,
                        removed, days);
        }
    }
    sl_mutex_unlock(&p->advance_lock);
}

/* End of input: flush every open period, and make the store durable. */
static void prof_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct prof *p = c->state;
    sl_mutex_lock(&p->advance_lock);
    advance_all(c, x, INT64_MAX, 0, true);
    streams_tick(c, x, sl_clock_wall_ns() / 1000000, true);
    sl_mutex_unlock(&p->advance_lock);
    uint64_t ent = 0, meas = 0, late = 0, dropped = 0, evicted = 0, expired = 0, errs = 0;
    struct sl_profiler_stats tot;
    streams_stats(p, &tot);
    for (uint32_t i = 0; i <= p->nshards; i++) {
        struct sl_profiler_stats st = tot;
        if (i < p->nshards)
            sl_profiler_get_stats(p->shards[i].p, &st);
        ent += st.entities;
        meas += st.measurements;
        late += st.late;
        dropped += st.dropped;
        evicted += st.evicted;
        expired += st.expired;
        errs += st.update_errors;
    }
    if (p->store) {
        int rc = sl_store_sync(p->store);
        if (rc)
            sl_error(c->name, "store %s: %s", sl_store_url(p->store), sl_strerror(rc));
    }
    sl_info(c->name,
            "flushed: %" PRIu64 " measurements, %" PRIu64 " entities held, %" PRIu64
            " late events, %" PRIu64 " update errors, %" PRIu64 " measurements dropped (null or "
            "failing result/groupBy), %" PRIu64 " evicted, %" PRIu64 " expired",
            meas, ent, late, errs, dropped, evicted, expired);
}

static size_t prof_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct prof *p = c->state;
    struct sl_profiler_stats t = {0};
    if (p)
        streams_stats(p, &t);
    for (uint32_t i = 0; p && i < p->nshards; i++) {
        struct sl_profiler_stats st;
        sl_mutex_lock(&p->shards[i].lock);
        sl_profiler_get_stats(p->shards[i].p, &st);
        sl_mutex_unlock(&p->shards[i].lock);
        t.messages += st.messages;
        t.late += st.late;
        t.update_errors += st.update_errors;
        t.measurements += st.measurements;
        t.dropped += st.dropped;
        t.evicted += st.evicted;
        t.expired += st.expired;
        t.entities += st.entities;
        t.open_periods += st.open_periods;
        t.bytes += st.bytes;
    }
    size_t n = 0;
#define STAT(nm, hp, g, v) out[n++] = (struct sl_comp_stat){nm, hp, g, (double)(v)}
    STAT("sluice_profiler_routes_total", "Messages applied to a profile builder.", false,
         t.messages);
    STAT("sluice_profiler_late_total", "Events refused because their period had closed.", false,
         t.late);
    STAT("sluice_profiler_update_errors_total", "init/update expressions that failed.", false,
         t.update_errors);
    STAT("sluice_profiler_measurements_total", "Measurements flushed.", false, t.measurements);
    STAT("sluice_profiler_dropped_total",
         "Flushes without a measurement (null or failing result/groupBy).", false, t.dropped);
    STAT("sluice_profiler_evicted_total", "Entities flushed early for max_entities.", false,
         t.evicted);
    STAT("sluice_profiler_expired_total", "Entities forgotten after ttl.", false, t.expired);
    STAT("sluice_profiler_entities", "(profile, entity) builders held.", true, t.entities);
    STAT("sluice_profiler_open_periods", "Open periods held.", true, t.open_periods);
    STAT("sluice_profiler_state_bytes", "Memory held by builders, approximately.", true, t.bytes);
    if (p && p->use_changelog && p->ps) {
        struct sl_pstream_counts k;
        sl_pstream_counts(p->ps, &k);
        STAT("sluice_profiler_checkpoints_total",
             "Checkpoints of input partitions written to the changelog.", false, k.written);
        STAT("sluice_profiler_checkpoint_errors_total",
             "Checkpoints not written (the previous one stays) or not readable (the partition is "
             "rebuilt from its start).",
             false, k.errors + k.restore_errors);
        STAT("sluice_profiler_restores_total", "Partitions taken over with a restored checkpoint.",
             false, k.restored);
    }
    if (p && p->store) {
        struct sl_store_stats ss;
        sl_store_get_stats(p->store, &ss);
        STAT("sluice_store_rows_written_total", "Measurements committed to the store.", false,
             ss.rows_written);
        STAT("sluice_store_commit_errors_total", "Store transactions that failed.", false,
             ss.commit_errors);
        STAT("sluice_store_queued", "Measurements waiting for the store's writer.", true,
             ss.queued);
    }
#undef STAT
    return n;
}

const struct sl_component_ops sl_xf_profiler_ops = {
    .type = "profiler",
    .kind = SL_KIND_TRANSFORM,
    .summary = "Metron's Profiler: profiler.json, periods, triage, a profile store",
    .options = prof_opts,
    .conf_len = sizeof(struct prof_conf),
    .init = prof_init,
    .fini = prof_fini,
    .process = prof_process,
    .outputs = prof_outputs,
    .tick = prof_tick,
    .tick_interval_ns = 1000000000,
    .finish = prof_finish,
    .output_optional = true,
    .stats = prof_stats,
};
