/*
 * xf_aggregate.c — the `aggregate` transform: dataShark's map/reduce as configuration
 * (docs/components/aggregate.md). Group by Stellar expressions, per window (tumbling,
 * sliding, or the whole input in batch mode), count / sum / min / max / avg / distinct /
 * top_k, after an optional split of a text field into one event per token.
 *
 *   transforms:
 *     words:
 *       type: aggregate
 *       inputs: [text]
 *       split: message
 *       split_as: word
 *       lowercase: true
 *       group_by: {word: "word"}
 *       aggregates: {count: "count()"}
 *
 * DESIGN: the state is one sl_aggtable (state/aggtable.c) under one mutex, taken once per
 * batch: the whole batch (split, key and argument evaluation, updates) runs under it. The
 * Stellar programs are shared read-only, a VM per worker. A token of `split` does not become
 * an event: a per-worker copy of the event's field array gets one more slot whose value is
 * replaced per token, and the expressions read that. Closing windows builds the output
 * events into batches; a full one is handed on at once, under the lock (so memory holds one
 * output batch, not every group of a closing window: 1,000,000 groups took 551 MB of RSS
 * when they were collected first), and the last, partial one after the lock is released.
 * Downstream components are a DAG below this one, so they never take this lock again; other
 * workers wait for it while a large window is emitted.
 *
 * Windows: event time by default, closed when the watermark (max event time seen minus
 * allowed_lateness) reaches their end, as batches arrive; processing time closes them on the
 * tick by the wall clock; batch mode keeps one window until the input ends (finish()).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/typeconv.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "io/lang_glue.h"
#include "io/partstream.h"
#include "lang/stellar.h"
#include "state/aggtable.h"
#include "base/binrd.h"
#include "sys/thread.h"

#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { WIN_BATCH, WIN_TUMBLING, WIN_SLIDING };
enum { TIME_EVENT, TIME_PROCESSING };
enum { LATE_DROP, LATE_ERRORS };

struct agg_conf {
    struct sl_strmap group_by;
    struct sl_strmap aggregates;
    int window;
    int64_t size;
    int64_t slide;
    int time;
    char *time_field;
    int64_t allowed_lateness;
    int on_late;
    char *split;
    char *split_on;
    char *split_as;
    bool lowercase;
    int64_t max_groups;
    int64_t distinct_exact_max;
    char *window_start_field;
    char *window_end_field;
    struct sl_strmap changelog;
    int64_t changelog_interval_ns;
};

static const struct sl_option agg_opts[] = {
    {"group_by", SL_OPT_STRING_MAP, NULL, offsetof(struct agg_conf, group_by),
     "output name -> Stellar expression: the group keys (none: one group)", NULL, 0, 0, 0},
    {"aggregates", SL_OPT_STRING_MAP, NULL, offsetof(struct agg_conf, aggregates),
     "output name -> count() | count(e) | sum(e) | min(e) | max(e) | avg(e) | distinct(e) | "
     "top_k(e, k); default {count: \"count()\"}",
     NULL, 0, 0, 0},
    {"window", SL_OPT_ENUM, "batch", offsetof(struct agg_conf, window),
     "batch: the whole input, emitted when it ends; tumbling / sliding: time windows",
     "batch|tumbling|sliding", 0, 0, 0},
    {"size", SL_OPT_DURATION, "60s", offsetof(struct agg_conf, size), "window length", NULL, 0, 0,
     0},
    {"slide", SL_OPT_DURATION, NULL, offsetof(struct agg_conf, slide),
     "sliding: distance between window starts (default: size); size must be a multiple of it", NULL,
     0, 0, 0},
    {"time", SL_OPT_ENUM, "event", offsetof(struct agg_conf, time),
     "windows by event time or by the wall clock at arrival", "event|processing", 0, 0, 0},
    {"time_field", SL_OPT_STRING, NULL, offsetof(struct agg_conf, time_field),
     "event time from this field (timestamp, or epoch s / ms / ns number, or text) instead of "
     "the event's own time",
     NULL, 0, 0, 0},
    {"allowed_lateness", SL_OPT_DURATION, "0s", offsetof(struct agg_conf, allowed_lateness),
     "watermark = max event time seen - this; windows close when it passes their end", NULL, 0, 0,
     0},
    {"on_late", SL_OPT_ENUM, "drop", offsetof(struct agg_conf, on_late),
     "an event whose windows have all closed: counted and dropped, or sent to .errors",
     "drop|errors", 0, 0, 0},
    {"split", SL_OPT_STRING, NULL, offsetof(struct agg_conf, split),
     "explode this text field into one event per token", NULL, 0, 0, 0},
    {"split_on", SL_OPT_STRING, "\\s+", offsetof(struct agg_conf, split_on),
     "separator regex for split (empty tokens are skipped)", NULL, 0, 0, 0},
    {"split_as", SL_OPT_STRING, NULL, offsetof(struct agg_conf, split_as),
     "the field holding the token (default: the split field)", NULL, 0, 0, 0},
    {"lowercase", SL_OPT_BOOL, "false", offsetof(struct agg_conf, lowercase),
     "lower-case the tokens (ASCII letters)", NULL, 0, 0, 0},
    {"max_groups", SL_OPT_INT, "1000000", offsetof(struct agg_conf, max_groups),
     "most (window, group) entries held; an event that needs a new one past it goes to .errors",
     NULL, 1, 1000000000, 0},
    {"distinct_exact_max", SL_OPT_INT, "10000", offsetof(struct agg_conf, distinct_exact_max),
     "distinct(): exact up to this many values per group, then HyperLogLog++", NULL, 1, 10000000,
     0},
    {"window_start_field", SL_OPT_STRING, "window_start",
     offsetof(struct agg_conf, window_start_field), "output field of the window start", NULL, 0, 0,
     0},
    {"window_end_field", SL_OPT_STRING, "window_end", offsetof(struct agg_conf, window_end_field),
     "output field of the window end", NULL, 0, 0, 0},
    {"changelog", SL_OPT_STRING_MAP, NULL, offsetof(struct agg_conf, changelog),
     "input from a kafka source: open windows per task (partition p of the source's topics), "
     "checkpointed to a compacted topic and restored by the node that takes the partition over "
     "(docs/cluster.md): brokers (default: the source's), topic (default: "
     "<group>-<name>-changelog), partitions (when it is created; default 6)",
     NULL, 0, 0, 0},
    {"changelog_interval", SL_OPT_DURATION, "5s", offsetof(struct agg_conf, changelog_interval_ns),
     "how often each task's windows are checkpointed (also when its partitions are let go)", NULL,
     0, 0, 0},
    {0},
};

#define MAX_WINDOWS_PER_EVENT 1000

struct worker {
    struct sl_stellar_vm *vm;
    struct sl_field *fields; /* the exploded event's fields */
    uint32_t fcap;
    pcre2_match_data *md;
    struct sl_log_limit lim;
};

/* One table and its times: the transform's own (agg.lock), or a task's (`changelog`, under the
 * task's lock, io/partstream.h). */
struct part {
    struct sl_aggtable *t;
    int64_t max_t; /* INT64_MIN: nothing seen */
    int64_t min_t;
    struct sl_arena scratch;  /* top-k lists while closing */
    uint64_t groups, windows; /* last added to agg.groups / agg.windows */
    struct part *next;        /* on agg.orphans */
};

struct agg {
    struct sl_component *comp;
    const struct agg_conf *cf;
    uint32_t nkeys, naggs;
    sl_sym *key_syms, *agg_syms;
    struct sl_stellar_prog **key_progs;
    struct sl_stellar_prog **arg_progs; /* NULL for count() */
    struct sl_agg_spec *specs;
    sl_sym ws_sym, we_sym;
    struct sl_path split, time_field;
    bool has_split, has_time_field;
    sl_sym split_as;
    pcre2_code *split_re; /* NULL: ASCII whitespace */
    bool split_jit;
    pcre2_general_context *gctx;
    struct worker *workers;
    uint32_t nworkers;
    int64_t size, slide;

    struct sl_mutex lock;
    struct part main; /* guarded_by: lock: batches of no task */
    bool has_main;
    struct sl_aggtable_opts topts;
    struct sl_pstream *ps; /* `changelog`: a part per task */
    struct sl_mutex orphan_lock;
    struct part *orphans; /* guarded_by: orphan_lock: tasks' windows let go, to emit */

    atomic_uint_fast64_t late, overflow, groups, windows;
};

static void *pcre_alloc(size_t n, void *data)
{
    (void)data;
    return sl_malloc(n);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    sl_free(p);
}

static void part_init(struct agg *a, struct part *p)
{
    p->t = sl_aggtable_new(&a->topts);
    p->max_t = INT64_MIN;
    p->min_t = INT64_MAX;
    sl_arena_init(&p->scratch, 64 * 1024, (size_t)1 << 32);
}

static void part_fini(struct part *p)
{
    sl_aggtable_free(p->t);
    sl_arena_fini(&p->scratch);
}

/* p's groups and windows into the transform's gauges (p's lock held) */
static void part_count(struct agg *a, struct part *p)
{
    uint64_t g = sl_aggtable_groups(p->t), w = sl_aggtable_windows(p->t);
    atomic_fetch_add(&a->groups, g - p->groups); /* modular: a decrease too */
    atomic_fetch_add(&a->windows, w - p->windows);
    p->groups = g;
    p->windows = w;
}

static const struct sl_pstream_ops task_ops;

static void agg_fini(struct sl_component *c)
{
    struct agg *a = c->state;
    if (!a)
        return;
    for (uint32_t i = 0; i < a->nkeys; i++)
        sl_stellar_free(a->key_progs[i]);
    for (uint32_t i = 0; i < a->naggs; i++)
        sl_stellar_free(a->arg_progs[i]);
    sl_free(a->key_progs);
    sl_free(a->arg_progs);
    sl_free(a->key_syms);
    sl_free(a->agg_syms);
    sl_free(a->specs);
    if (a->has_split)
        sl_path_fini(&a->split);
    if (a->has_time_field)
        sl_path_fini(&a->time_field);
    for (uint32_t i = 0; i < a->nworkers; i++) {
        sl_stellar_vm_free(a->workers[i].vm);
        sl_free(a->workers[i].fields);
        pcre2_match_data_free(a->workers[i].md);
    }
    sl_free(a->workers);
    pcre2_code_free(a->split_re);
    pcre2_general_context_free(a->gctx);
    sl_pstream_free(a->ps);
    if (a->has_main) {
        part_fini(&a->main);
        sl_mutex_fini(&a->lock);
        for (struct part *o = a->orphans, *nx; o; o = nx) {
            nx = o->next;
            part_fini(o);
            sl_free(o);
        }
        sl_mutex_fini(&a->orphan_lock);
    }
    sl_free(a);
    c->state = NULL;
}

/* Split "fn(args)" into fn and args; for top_k, the k after the last top-level comma. */
static int parse_agg(struct sl_component *c, const struct sl_strmap_item *it,
                     struct sl_agg_spec *sp, char **arg, uint32_t *arg_off, struct sl_diag *d)
{
    const char *s = it->val;
    while (*s == ' ')
        s++;
    const char *open = strchr(s, '(');
    size_t len = strlen(s);
    while (len && s[len - 1] == ' ')
        len--;
    *arg = NULL;
    if (!open || !len || s[len - 1] != ')')
        goto bad;
    size_t fl = (size_t)(open - s);
    while (fl && s[fl - 1] == ' ')
        fl--;
    const char *in = open + 1;
    size_t inl = (size_t)(s + len - 1 - in);
    bool empty = true;
    for (size_t i = 0; i < inl; i++)
        empty = empty && in[i] == ' ';
#define FN_IS(name) (fl == strlen(name) && strncmp(s, name, fl) == 0)
    if (FN_IS("count"))
        sp->fn = empty ? SL_AGG_COUNT : SL_AGG_COUNT_EXPR;
    else if (FN_IS("sum"))
        sp->fn = SL_AGG_SUM;
    else if (FN_IS("min"))
        sp->fn = SL_AGG_MIN;
    else if (FN_IS("max"))
        sp->fn = SL_AGG_MAX;
    else if (FN_IS("avg"))
        sp->fn = SL_AGG_AVG;
    else if (FN_IS("distinct") || FN_IS("count_distinct"))
        sp->fn = SL_AGG_DISTINCT;
    else if (FN_IS("top_k") || FN_IS("topk"))
        sp->fn = SL_AGG_TOPK;
    else
        goto bad;
#undef FN_IS
    if (sp->fn == SL_AGG_COUNT)
        return 0;
    if (empty)
        goto bad;
    if (sp->fn == SL_AGG_TOPK) {
        /* the last comma outside quotes and brackets */
        int depth = 0;
        char q = 0;
        const char *comma = NULL;
        for (size_t i = 0; i < inl; i++) {
            char ch = in[i];
            if (q) {
                if (ch == '\\')
                    i++;
                else if (ch == q)
                    q = 0;
            } else if (ch == '\'' || ch == '"')
                q = ch;
            else if (ch == '(' || ch == '[' || ch == '{')
                depth++;
            else if (ch == ')' || ch == ']' || ch == '}')
                depth--;
            else if (ch == ',' && depth == 0)
                comma = in + i;
        }
        int64_t k = 0;
        if (!comma ||
            sl_str_to_i64(sl_str_trim(sl_str_make(comma + 1, (size_t)(in + inl - comma - 1))),
                          &k) ||
            k < 1 || k > SL_AGG_TOPK_MAX) {
            sl_component_diag_opt(c, "aggregates", d);
            d->line = it->line;
            d->col = it->col;
            sl_diag_hint(d, "top_k(expression, k) with 1 <= k <= %u", SL_AGG_TOPK_MAX);
            return sl_diag_set(d, SL_ECONFIG, "aggregates.%s: '%s': bad k", it->key, it->val);
        }
        sp->k = (uint32_t)k;
        inl = (size_t)(comma - in);
    }
    *arg = sl_xstrndup(in, inl);
    *arg_off = (uint32_t)(in - it->val);
    return 0;
bad:
    sl_component_diag_opt(c, "aggregates", d);
    d->line = it->line;
    d->col = it->col;
    sl_diag_hint(d, "count() | count(e) | sum(e) | min(e) | max(e) | avg(e) | distinct(e) | "
                    "top_k(e, k), e a Stellar expression");
    return sl_diag_set(d, SL_ECONFIG, "aggregates.%s: '%s' is not an aggregate", it->key, it->val);
}

static int agg_init(struct sl_component *c, struct sl_diag *d)
{
    const struct agg_conf *cf = c->conf;
    struct agg *a = sl_xcalloc(1, sizeof(*a));
    c->state = a;
    a->comp = c;
    a->cf = cf;
    int rc = 0;
    a->size = cf->size;
    a->slide = cf->slide ? cf->slide : cf->size;
    if (cf->window != WIN_BATCH) {
        if (a->size <= 0 || a->slide <= 0 || a->slide > a->size || a->size % a->slide ||
            a->size / a->slide > MAX_WINDOWS_PER_EVENT) {
            sl_component_diag_opt(c, cf->window == WIN_SLIDING ? "slide" : "size", d);
            rc = sl_diag_set(d, SL_ECONFIG,
                             "size must be positive and a multiple of slide, with at most %d "
                             "windows per event (size / slide)",
                             MAX_WINDOWS_PER_EVENT);
            goto fail;
        }
        if (cf->window == WIN_TUMBLING)
            a->slide = a->size;
    } else if (cf->time == TIME_PROCESSING) {
        /* fine: batch ignores time except for window_start/end */
    }
    a->nkeys = (uint32_t)cf->group_by.count;
    if (a->nkeys > SL_AGG_MAX_KEYS) {
        sl_component_diag_opt(c, "group_by", d);
        rc = sl_diag_set(d, SL_ECONFIG, "at most %u group_by keys", SL_AGG_MAX_KEYS);
        goto fail;
    }
    a->key_syms = sl_xcalloc(a->nkeys + 1, sizeof(sl_sym));
    a->key_progs = sl_xcalloc(a->nkeys + 1, sizeof(*a->key_progs));
    for (uint32_t i = 0; i < a->nkeys; i++) {
        const struct sl_strmap_item *it = &cf->group_by.items[i];
        char opt[300];
        snprintf(opt, sizeof(opt), "group_by.%s", it->key);
        if ((rc = sl_io_compile_expr(c, opt, it->line, it->col, it->val, false, &a->key_progs[i],
                                     d)))
            goto fail;
        a->key_syms[i] = sl_sym_intern_c(it->key);
    }
    a->naggs = cf->aggregates.count ? (uint32_t)cf->aggregates.count : 1;
    if (a->naggs > SL_AGG_MAX_AGGS) {
        sl_component_diag_opt(c, "aggregates", d);
        rc = sl_diag_set(d, SL_ECONFIG, "at most %u aggregates", SL_AGG_MAX_AGGS);
        goto fail;
    }
    a->agg_syms = sl_xcalloc(a->naggs, sizeof(sl_sym));
    a->arg_progs = sl_xcalloc(a->naggs, sizeof(*a->arg_progs));
    a->specs = sl_xcalloc(a->naggs, sizeof(*a->specs));
    if (!cf->aggregates.count) {
        a->specs[0].fn = SL_AGG_COUNT;
        a->agg_syms[0] = sl_sym_intern_c("count");
    }
    for (uint32_t i = 0; i < cf->aggregates.count; i++) {
        const struct sl_strmap_item *it = &cf->aggregates.items[i];
        char *arg = NULL;
        uint32_t off = 0;
        if ((rc = parse_agg(c, it, &a->specs[i], &arg, &off, d)))
            goto fail;
        a->agg_syms[i] = sl_sym_intern_c(it->key);
        if (arg) {
            char opt[300];
            snprintf(opt, sizeof(opt), "aggregates.%s", it->key);
            rc = sl_io_compile_expr(c, opt, it->line, it->col ? it->col + off : 0, arg, false,
                                    &a->arg_progs[i], d);
            sl_free(arg);
            if (rc)
                goto fail;
        }
    }
    a->ws_sym = sl_sym_intern_c(cf->window_start_field);
    a->we_sym = sl_sym_intern_c(cf->window_end_field);
    if (cf->time_field) {
        if ((rc = sl_path_init(&a->time_field, cf->time_field))) {
            sl_component_diag_opt(c, "time_field", d);
            rc = sl_diag_set(d, SL_ECONFIG, "bad time_field '%s'", cf->time_field);
            goto fail;
        }
        a->has_time_field = true;
    }
    a->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!a->gctx) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (cf->split) {
        if ((rc = sl_path_init(&a->split, cf->split))) {
            sl_component_diag_opt(c, "split", d);
            rc = sl_diag_set(d, SL_ECONFIG, "bad split field '%s'", cf->split);
            goto fail;
        }
        a->has_split = true;
        a->split_as = sl_sym_intern_c(cf->split_as ? cf->split_as : cf->split);
        if (strcmp(cf->split_on, "\\s+") != 0) {
            int err;
            PCRE2_SIZE off;
            pcre2_compile_context *cctx = pcre2_compile_context_create(a->gctx);
            a->split_re = pcre2_compile((PCRE2_SPTR)cf->split_on, PCRE2_ZERO_TERMINATED,
                                        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, cctx);
            pcre2_compile_context_free(cctx);
            if (!a->split_re) {
                PCRE2_UCHAR m[256];
                if (pcre2_get_error_message(err, m, sizeof(m)) < 0)
                    snprintf((char *)m, sizeof(m), "error %d", err);
                sl_component_diag_opt(c, "split_on", d);
                rc = sl_diag_set(d, SL_ECONFIG, "split_on does not compile: %s at offset %zu",
                                 (const char *)m, (size_t)off);
                goto fail;
            }
            a->split_jit = pcre2_jit_compile(a->split_re, PCRE2_JIT_COMPLETE) == 0;
        }
    }
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    a->nworkers = workers > 0 ? (uint32_t)workers : 1;
    a->workers = sl_xcalloc(a->nworkers, sizeof(*a->workers));
    for (uint32_t i = 0; i < a->nworkers; i++) {
        a->workers[i].vm = sl_stellar_vm_new();
        if (a->split_re && !(a->workers[i].md = pcre2_match_data_create(1, a->gctx))) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    a->topts = (struct sl_aggtable_opts){
        .specs = a->specs,
        .nspecs = a->naggs,
        .nkeys = a->nkeys,
        .max_groups = (uint64_t)cf->max_groups,
        .distinct_exact_max = (uint32_t)cf->distinct_exact_max,
    };
    part_init(a, &a->main);
    sl_mutex_init(&a->lock);
    sl_mutex_init(&a->orphan_lock);
    a->has_main = true;
    if (c->pipe && sl_component_opt_set(c, "changelog")) {
        if (cf->changelog_interval_ns < 100000000) {
            sl_component_diag_opt(c, "changelog_interval", d);
            rc = sl_diag_set(d, SL_ECONFIG, "changelog_interval must be at least 100ms");
            goto fail;
        }
        const struct sl_pstream_conf pc = {.what = "the open windows",
                                           .thread = "sl-aggckpt",
                                           .stat_prefix = "sluice_aggregate",
                                           .changelog = &cf->changelog,
                                           .interval_ns = cf->changelog_interval_ns,
                                           .tasks = true};
        if ((rc = sl_pstream_new(c, &pc, &task_ops, a, &a->ps, d)))
            goto fail;
        sl_log(SL_LOG_INFO, c->name,
               "open windows per task (partition p of the kafka source's topics), checkpointed "
               "every %lld ms to a changelog",
               (long long)(cf->changelog_interval_ns / 1000000));
    }
    return 0;
fail:
    agg_fini(c);
    return rc;
}

/* ---- output */

struct out {
    struct agg *a;
    struct part *p;
    struct sl_xf_ctx *x;
    struct sl_batch *cur;
    bool batch_mode;
};

static int emit_group(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                      const struct sl_value *res)
{
    struct out *o = ud;
    struct agg *a = o->a;
    if (o->cur && sl_batch_full(o->cur)) {
        /* hand on full batches at once: a million groups must not wait in memory */
        sl_xf_emit(o->x, 0, o->cur);
        o->cur = NULL;
    }
    if (!o->cur)
        o->cur = sl_batch_new();
    struct sl_batch *b = o->cur;
    struct sl_event *ev = sl_batch_push(b);
    if (!ev)
        return SL_ENOMEM;
    if (o->batch_mode) {
        ws = o->p->min_t == INT64_MAX ? 0 : o->p->min_t;
        we = o->p->max_t == INT64_MIN ? 0 : o->p->max_t;
    }
    ev->ts_ns = we;
    int rc = 0;
    for (uint32_t i = 0; i < a->nkeys && !rc; i++) {
        struct sl_value v;
        rc = sl_value_copy(&b->arena, &keys[i], &v);
        if (!rc)
            rc = sl_event_set(b, ev, a->key_syms[i], v);
    }
    if (!rc)
        rc = sl_event_set(b, ev, a->ws_sym, sl_value_ts(ws));
    if (!rc)
        rc = sl_event_set(b, ev, a->we_sym, sl_value_ts(we));
    for (uint32_t i = 0; i < a->naggs && !rc; i++) {
        struct sl_value v;
        rc = sl_value_copy(&b->arena, &res[i], &v);
        if (!rc)
            rc = sl_event_set(b, ev, a->agg_syms[i], v);
    }
    if (rc)
        sl_batch_pop(b);
    sl_arena_reset(&o->p->scratch); /* the top-k lists are copied into the batch */
    return rc;
}

/* Close p's windows (under its lock) into o: the rows emitted, or an error. */
static int64_t close_windows(struct sl_component *c, struct agg *a, struct part *p, int64_t upto,
                             bool all, struct out *o)
{
    o->a = a;
    o->p = p;
    o->batch_mode = a->cf->window == WIN_BATCH;
    int64_t n = sl_aggtable_close(p->t, upto, all, &p->scratch, emit_group, o);
    sl_arena_reset(&p->scratch);
    if (n < 0)
        sl_log(SL_LOG_ERROR, c->name, "closing windows: %s", sl_strerror((int)n));
    part_count(a, p);
    return n;
}

/* The last, partial batch (not under the lock): returned, or emitted when `emit_last`. */
static struct sl_batch *out_flush(struct out *o, bool emit_last)
{
    struct sl_batch *last = o->cur;
    o->cur = NULL;
    if (last && !last->count) {
        sl_batch_unref(last);
        last = NULL;
    }
    if (last && emit_last) {
        sl_xf_emit(o->x, 0, last);
        last = NULL;
    }
    return last;
}

/* ---- per event */

static bool event_time(struct agg *a, const struct sl_event *ev, int64_t *t)
{
    if (a->cf->time == TIME_PROCESSING) {
        *t = sl_clock_wall_ns();
        return true;
    }
    if (!a->has_time_field) {
        *t = ev->ts_ns;
        return true;
    }
    const struct sl_value *v = sl_path_get(&a->time_field, ev);
    if (!v)
        return false;
    switch (v->type) {
    case SL_V_TS:
        *t = v->u.ts_ns;
        return true;
    case SL_V_INT: {
        int64_t i = v->u.i;
        int64_t unit = (i > -100000000000LL && i <= 100000000000LL)         ? 1000000000
                       : (i > -100000000000000LL && i <= 100000000000000LL) ? 1000000
                                                                            : 1;
        return !__builtin_mul_overflow(i, unit, t);
    }
    case SL_V_DOUBLE:
        if (!(v->u.d > -9.2e9 && v->u.d < 9.2e9))
            return false;
        *t = (int64_t)(v->u.d * 1e9);
        return true;
    case SL_V_STRING:
        return sl_typeconv_ts_auto(sl_value_as_str(v), sl_clock_wall_ns(), t) == 0;
    default:
        return false;
    }
}

/* Room for the window arithmetic on t (t - size, start + size, max_t - allowed_lateness): a
 * time within that of the int64 ends (a hostile time_field: 9223372036854775807) is not
 * usable; it overflowed and then held the watermark at the end of time. */
static bool time_in_range(const struct agg *a, int64_t t)
{
    int64_t room;
    if (__builtin_add_overflow(a->size, a->slide, &room) ||
        __builtin_add_overflow(room, a->cf->allowed_lateness, &room) || room < 0)
        return false;
    return t > INT64_MIN + room && t < INT64_MAX - room;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct unit_ctx {
    struct sl_component *c;
    struct agg *a;
    struct part *p;
    struct worker *w;
    struct sl_batch *b;
    struct sl_xf_ctx *x;
    const struct sl_event *orig;
    int64_t ws[MAX_WINDOWS_PER_EVENT], we[MAX_WINDOWS_PER_EVENT];
    uint32_t nwin;
    bool bad; /* the event already went to .errors */
};

static void dead_letter(struct unit_ctx *u, const char *msg)
{
    if (u->bad)
        return;
    u->bad = true;
    struct sl_batch *errs = sl_xf_errors(u->x);
    if (errs)
        (void)sl_error_event_for(errs, u->c->name, msg, u->orig);
    sl_log_ratelimited(&u->w->lim, 5, SL_LOG_WARN, u->c->name, "%s", msg);
}

/* Evaluate and add one (possibly exploded) event. */
static void add_unit(struct unit_ctx *u, const struct sl_event *ev)
{
    struct agg *a = u->a;
    struct sl_value keys[SL_AGG_MAX_KEYS], args[SL_AGG_MAX_AGGS];
    struct sl_stellar_resolver r = {sl_stellar_event_get, (void *)ev, false, sl_stellar_event_all,
                                    (void *)ev};
    char msg[512];
    int rc = 0;
    for (uint32_t i = 0; i < a->nkeys && !rc; i++) {
        rc = sl_stellar_eval(u->w->vm, a->key_progs[i], &r, &u->b->arena, &keys[i]);
        if (rc)
            snprintf(msg, sizeof(msg), "group_by %s: %.200s: %s", sl_sym_name(a->key_syms[i]).ptr,
                     sl_stellar_source(a->key_progs[i]), sl_stellar_vm_error(u->w->vm));
    }
    for (uint32_t i = 0; i < a->naggs && !rc; i++) {
        args[i] = sl_value_null();
        if (!a->arg_progs[i])
            continue;
        rc = sl_stellar_eval(u->w->vm, a->arg_progs[i], &r, &u->b->arena, &args[i]);
        if (rc)
            snprintf(msg, sizeof(msg), "aggregate %s: %.200s: %s", sl_sym_name(a->agg_syms[i]).ptr,
                     sl_stellar_source(a->arg_progs[i]), sl_stellar_vm_error(u->w->vm));
        else if (!sl_aggtable_accepts(u->p->t, i, &args[i])) {
            snprintf(msg, sizeof(msg), "aggregate %s: %.200s is a %s, not a number",
                     sl_sym_name(a->agg_syms[i]).ptr, sl_stellar_source(a->arg_progs[i]),
                     sl_vtype_name((enum sl_vtype)args[i].type));
            rc = SL_ETYPE;
        }
    }
    if (rc) {
        sl_stellar_vm_release(u->w->vm);
        dead_letter(u, msg);
        return;
    }
    for (uint32_t k = 0; k < u->nwin; k++) {
        struct sl_aggroup *g;
        rc = sl_aggtable_group(u->p->t, u->ws[k], u->we[k], keys, &g);
        if (!rc)
            rc = sl_aggtable_add(u->p->t, g, args);
        if (rc == SL_ELIMIT) {
            atomic_fetch_add_explicit(&a->overflow, 1, memory_order_relaxed);
            snprintf(msg, sizeof(msg), "aggregate: max_groups (%lld) reached",
                     (long long)a->cf->max_groups);
            dead_letter(u, msg);
        } else if (rc) {
            snprintf(msg, sizeof(msg), "aggregate: %s", sl_strerror(rc));
            dead_letter(u, msg);
        }
    }
    sl_stellar_vm_release(u->w->vm);
}

static bool is_space(unsigned char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* One token of a split: set it in the exploded event and add. */
static void add_token(struct unit_ctx *u, struct sl_event *xev, uint32_t slot, const char *p,
                      size_t n)
{
    struct agg *a = u->a;
    if (!n)
        return;
    if (a->cf->lowercase) {
        bool upper = false;
        for (size_t i = 0; i < n && !upper; i++)
            upper = p[i] >= 'A' && p[i] <= 'Z';
        if (upper) {
            char *lc = sl_arena_alloc_bytes(&u->b->arena, n);
            if (!lc) {
                dead_letter(u, "aggregate: out of memory");
                return;
            }
            for (size_t i = 0; i < n; i++)
                lc[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
            p = lc;
        }
    }
    xev->fields[slot].val = sl_value_str(p, n);
    add_unit(u, xev);
}

static void explode(struct unit_ctx *u, const struct sl_event *ev)
{
    struct agg *a = u->a;
    struct worker *w = u->w;
    const struct sl_value *v = sl_path_get(&a->split, ev);
    if (!v || v->type == SL_V_NULL)
        return; /* nothing to split: no tokens */
    if (v->type != SL_V_STRING && v->type != SL_V_BYTES) {
        dead_letter(u, "aggregate: the split field is not text");
        return;
    }
    /* the exploded event: the fields plus the token's slot */
    uint32_t need = ev->count + 1;
    if (need > w->fcap) {
        struct sl_field *f = sl_realloc(w->fields, need * sizeof(*f));
        if (!f) {
            dead_letter(u, "aggregate: out of memory");
            return;
        }
        w->fields = f;
        w->fcap = need;
    }
    memcpy(w->fields, ev->fields, ev->count * sizeof(*ev->fields));
    uint32_t slot = ev->count;
    for (uint32_t i = 0; i < ev->count; i++)
        if (ev->fields[i].sym == a->split_as)
            slot = i;
    struct sl_event xev = *ev;
    xev.fields = w->fields;
    xev.count = slot == ev->count ? need : ev->count;
    xev.cap = w->fcap;
    w->fields[slot].sym = a->split_as;
    w->fields[slot]._pad = 0;
    const char *s = v->u.s;
    size_t n = v->len;
    if (!a->split_re) {
        size_t i = 0;
        while (i < n) {
            while (i < n && is_space((unsigned char)s[i]))
                i++;
            size_t st = i;
            while (i < n && !is_space((unsigned char)s[i]))
                i++;
            add_token(u, &xev, slot, s + st, i - st);
        }
        return;
    }
    PCRE2_SPTR subj = (PCRE2_SPTR)(s ? s : "");
    size_t start = 0, at = 0;
    while (at <= n) {
        int rc = a->split_jit ? pcre2_jit_match(a->split_re, subj, n, at, 0, w->md, NULL)
                              : pcre2_match(a->split_re, subj, n, at, 0, w->md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        add_token(u, &xev, slot, s + start, ov[0] - start);
        start = ov[1];
        at = ov[1] > ov[0] ? ov[1] : ov[1] + 1; /* an empty separator match moves on */
    }
    if (start < n)
        add_token(u, &xev, slot, s + start, n - start);
}

/* ---- tasks (`changelog`): a part per task, io/partstream.h */

#define AGG_STATE_MAGIC   "AGGW"
#define AGG_STATE_VERSION 1u

static void *task_make(void *ud, struct sl_ptask *t)
{
    (void)t;
    struct part *p = sl_xcalloc(1, sizeof *p);
    part_init(ud, p);
    return p;
}

/* "AGGW", version, the input offsets, max and min event time, the table (state/aggtable.h) */
static int task_save(void *ud, struct sl_ptask *t, void *state,
                     const struct sl_partstate_offset *offs, uint32_t noffs, struct sl_buf *out,
                     struct sl_diag *d)
{
    (void)ud;
    (void)t;
    const struct part *p = state;
    int rc = sl_partstate_head_put(out, AGG_STATE_MAGIC, AGG_STATE_VERSION, offs, noffs);
    if (!rc)
        rc = sl_binwr_u64(out, (uint64_t)p->max_t);
    if (!rc)
        rc = sl_binwr_u64(out, (uint64_t)p->min_t);
    if (!rc)
        rc = sl_aggtable_save(p->t, out);
    if (rc)
        sl_diag_set(d, rc, "the windows' state: %s", sl_strerror(rc));
    return rc;
}

static int task_load(void *ud, struct sl_ptask *t, void *state, const void *data, size_t n,
                     struct sl_partstate_offset **offs, uint32_t *noffs, char *info, size_t infocap,
                     struct sl_diag *d)
{
    (void)t;
    struct part *p = state;
    struct sl_binrd r;
    sl_binrd_init(&r, data, n);
    *offs = sl_partstate_head_get(&r, AGG_STATE_MAGIC, AGG_STATE_VERSION,
                                  "not an aggregate's state (bad magic)", noffs);
    p->max_t = sl_binrd_i64(&r);
    p->min_t = sl_binrd_i64(&r);
    /* the watermark is max_t - allowed_lateness: a time no event could have given (events
     * pass time_in_range) overflows it, or holds it at the end of time (every event late) */
    struct agg *a = ud;
    if (r.ok && a->cf->window != WIN_BATCH &&
        ((p->max_t != INT64_MIN && !time_in_range(a, p->max_t)) ||
         (p->min_t != INT64_MAX && !time_in_range(a, p->min_t))))
        sl_binrd_fail(&r, "an event time out of range");
    int rc = r.ok ? sl_aggtable_load(p->t, &r) : SL_EPARSE;
    if ((rc = sl_partstate_read_end(&r, rc, "aggregate state", d)))
        return rc;
    part_count(ud, p);
    snprintf(info, infocap, "%llu groups in %u windows",
             (unsigned long long)sl_aggtable_groups(p->t), sl_aggtable_windows(p->t));
    return 0;
}

/* A task's windows let go: the next owner continues them from the changelog; else (no
 * changelog, or the end of input of --once) they are emitted by the next tick or finish. */
static void task_drop(void *ud, struct sl_ptask *t, void *state, enum sl_pstream_drop why)
{
    (void)t;
    struct agg *a = ud;
    struct part *p = state;
    bool emit = why == SL_PSTREAM_UNKEPT ||
                (why == SL_PSTREAM_KEPT && a->comp->pipe && sl_pipeline_once(a->comp->pipe));
    if (emit) {
        sl_mutex_lock(&a->orphan_lock);
        p->next = a->orphans;
        a->orphans = p;
        sl_mutex_unlock(&a->orphan_lock);
        return;
    }
    atomic_fetch_sub(&a->groups, p->groups);
    atomic_fetch_sub(&a->windows, p->windows);
    part_fini(p);
    sl_free(p);
}

static const struct sl_pstream_ops task_ops = {
    .make = task_make,
    .load = task_load,
    .save = task_save,
    .drop = task_drop,
};

/* ---- batches */

/* b's events into p (its lock held); ap: b's task, whose restored state holds some of them */
static void process_part(struct sl_component *c, struct agg *a, struct part *p, struct sl_batch *b,
                         struct sl_xf_ctx *x, struct sl_pstream_apply *ap, struct out *o,
                         uint64_t *late)
{
    struct worker *w = &a->workers[x->worker < a->nworkers ? x->worker : 0];
    struct unit_ctx u = {.c = c, .a = a, .p = p, .w = w, .b = b, .x = x};
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        if (ap && !sl_pstream_take(ap, ev))
            continue; /* in the restored windows already */
        u.orig = ev;
        u.bad = false;
        int64_t t;
        bool have_t = event_time(a, ev, &t);
        if (have_t && a->cf->window != WIN_BATCH && !time_in_range(a, t))
            have_t = false;
        if (!have_t && a->cf->window == WIN_BATCH) {
            t = ev->ts_ns; /* batch: time only sets window_start / window_end */
            have_t = !a->has_time_field;
        }
        if (!have_t && a->cf->window != WIN_BATCH) {
            char msg[300];
            if (a->has_time_field)
                snprintf(msg, sizeof(msg), "aggregate: no usable time in field %s",
                         a->cf->time_field);
            else
                snprintf(msg, sizeof(msg), "aggregate: the event time is out of range");
            dead_letter(&u, msg);
            continue;
        }
        u.nwin = 0;
        if (a->cf->window == WIN_BATCH) {
            u.ws[0] = u.we[0] = 0;
            u.nwin = 1;
            if (have_t && t < p->min_t)
                p->min_t = t;
            if (have_t && t > p->max_t)
                p->max_t = t;
        } else {
            bool evt = a->cf->time == TIME_EVENT;
            int64_t wm = p->max_t == INT64_MIN ? INT64_MIN : p->max_t - a->cf->allowed_lateness;
            int64_t last = floor_div(t, a->slide) * a->slide;
            for (int64_t s = last; s > t - a->size; s -= a->slide) {
                if (evt && s + a->size <= wm)
                    continue; /* that window has closed */
                u.ws[u.nwin] = s;
                u.we[u.nwin] = s + a->size;
                u.nwin++;
            }
            if (!u.nwin) {
                (*late)++;
                if (a->cf->on_late == LATE_ERRORS)
                    dead_letter(&u, "aggregate: late event (its windows have closed)");
                continue;
            }
            if (evt && t > p->max_t)
                p->max_t = t;
        }
        if (a->has_split)
            explode(&u, ev);
        else
            add_unit(&u, ev);
    }
    if (a->cf->window != WIN_BATCH && a->cf->time == TIME_EVENT && p->max_t != INT64_MIN)
        close_windows(c, a, p, p->max_t - a->cf->allowed_lateness, false, o);
    part_count(a, p);
}

static struct sl_batch *agg_process(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x)
{
    struct agg *a = c->state;
    struct out o = {.x = x};
    uint64_t late = 0;
    if (a->ps && b->origin.topic) {
        /* a kafka batch: its task's windows, in the order its partition was read */
        struct sl_pstream_apply ap;
        struct sl_ptask *t = sl_pstream_begin(a->ps, b, &ap);
        if (t) {
            process_part(c, a, t->state, b, x, &ap, &o, &late);
            sl_pstream_end(&ap);
        }
    } else {
        sl_mutex_lock(&a->lock);
        process_part(c, a, &a->main, b, x, NULL, &o, &late);
        sl_mutex_unlock(&a->lock);
    }
    if (late) {
        atomic_fetch_add_explicit(&a->late, late, memory_order_relaxed);
        if (a->cf->on_late == LATE_DROP)
            atomic_fetch_add_explicit(&c->m.dropped, late, memory_order_relaxed);
    }
    sl_batch_unref(b);
    return out_flush(&o, false);
}

/* Every window of the tasks' parts let go (task_drop) out, then dropped. */
static void flush_orphans(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct agg *a = c->state;
    sl_mutex_lock(&a->orphan_lock);
    struct part *list = a->orphans;
    a->orphans = NULL;
    sl_mutex_unlock(&a->orphan_lock);
    for (struct part *p = list, *nx; p; p = nx) {
        nx = p->next;
        struct out o = {.x = x};
        close_windows(c, a, p, 0, true, &o);
        (void)out_flush(&o, true);
        part_fini(p);
        sl_free(p);
    }
}

/* Close the windows of every part held (upto, or all) and emit them. */
static void close_parts(struct sl_component *c, struct sl_xf_ctx *x, int64_t upto, bool all)
{
    struct agg *a = c->state;
    struct out o = {.x = x};
    sl_mutex_lock(&a->lock);
    close_windows(c, a, &a->main, upto, all, &o);
    sl_mutex_unlock(&a->lock);
    (void)out_flush(&o, true);
    for (struct sl_ptask *t = a->ps ? sl_pstream_head(a->ps) : NULL; t; t = t->next) {
        sl_mutex_lock(&t->lock);
        if (t->state && close_windows(c, a, t->state, upto, all, &o) != 0)
            sl_pstream_touch(t); /* the checkpoint must no longer hold them */
        sl_mutex_unlock(&t->lock);
        (void)out_flush(&o, true);
    }
}

static void agg_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns)
{
    struct agg *a = c->state;
    (void)now_ns; /* windows are on the wall clock */
    flush_orphans(c, x);
    if (a->cf->window == WIN_BATCH || a->cf->time != TIME_PROCESSING)
        return;
    close_parts(c, x, sl_clock_wall_ns(), false);
}

static void agg_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    flush_orphans(c, x);
    close_parts(c, x, 0, true);
}

static size_t agg_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct agg *a = c->state;
    size_t n = a->ps ? sl_pstream_stats(a->ps, out + 4) : 0;
    out[0] = (struct sl_comp_stat){"sluice_aggregate_groups", "(window, group) entries held", true,
                                   (double)atomic_load(&a->groups)};
    out[1] = (struct sl_comp_stat){"sluice_aggregate_windows", "open windows", true,
                                   (double)atomic_load(&a->windows)};
    out[2] = (struct sl_comp_stat){"sluice_aggregate_late", "events after their windows closed",
                                   false, (double)atomic_load(&a->late)};
    out[3] = (struct sl_comp_stat){"sluice_aggregate_overflow",
                                   "events refused at max_groups (sent to .errors)", false,
                                   (double)atomic_load(&a->overflow)};
    return 4 + n;
}

const struct sl_component_ops sl_xf_aggregate_ops = {
    .type = "aggregate",
    .kind = SL_KIND_TRANSFORM,
    .summary = "group by expressions per window (tumbling, sliding, batch): count, sum, min, max, "
               "avg, distinct, top_k; split text into tokens first",
    .options = agg_opts,
    .conf_len = sizeof(struct agg_conf),
    .init = agg_init,
    .fini = agg_fini,
    .process = agg_process,
    .tick = agg_tick,
    .tick_interval_ns = 1000000000,
    .finish = agg_finish,
    .stats = agg_stats,
};
