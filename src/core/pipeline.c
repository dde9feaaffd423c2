/*
 * pipeline.c — pipeline graph and runtime (see pipeline.h for the design).
 *
 * Threads and what they own:
 *   - one thread per source: runs ops->run(), pushes batches into work_q;
 *   - N workers: pop a batch from work_q, run it through every transform downstream
 *     (dispatch() recurses along the graph), push the results to sink queues;
 *   - one thread per sink: pops its queue, calls write(), flush() on a timer;
 *   - a supervisor: once every source has returned, closes work_q, joins the workers,
 *     closes the sink queues, joins the sinks, and reports completion to sl_pipeline_wait().
 * A wake-up across cores costs tens of microseconds (ARCHITECTURE.md), so only whole
 * batches cross threads, and queues wake sleepers only on empty/full edges (sys/queue.c).
 */
#include "core/pipeline.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/outage.h"
#include "core/config.h"
#include "core/sinkbuf.h"
#include "sys/queue.h"
#include "sys/thread.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct node {
    struct sl_component comp;
    char *type;
    uint32_t *inputs; /* ports */
    uint32_t ninputs;
    uint32_t *cons[SL_PORTS]; /* consumers (node ids) of each output port */
    uint32_t ncons[SL_PORTS];
    bool inited;
    atomic_uint_fast64_t port_events[SL_PORTS]; /* events sent on each named output */
    /* transform with tick(): a tick is queued and not yet run */
    atomic_bool tick_pending;
    int64_t next_tick; /* ticker thread only */
    /* source */
    struct sl_thread thread;
    /* sink */
    struct sl_queue *q;
    struct sl_sinkbuf *buf;       /* buffer: {type: disk}, else NULL (the queue is the buffer) */
    struct sl_batch *writing;     /* sink thread: the batch in write() (its token goes on
                                   * the dead letters the sink emits meanwhile) */
    struct sl_log_limit dl_limit; /* dead letters nobody consumes */
    struct sl_mutex dl_lock;
    struct sl_outage wfail; /* sink thread: write() failing (target down, disk full) */
    uint64_t wfail_events;  /* sink thread: events of the failed writes in that episode */
};

struct sl_pipeline {
    char *config_path;
    struct node *nodes;
    uint32_t n;
    int workers;
    bool once;
    uint32_t queue_batches;
    int64_t started_at;
    struct sl_queue *work_q;
    struct sl_thread *worker_threads;
    struct sl_thread supervisor;
    struct sl_thread ticker; /* when a transform has tick() */
    bool has_ticker;
    atomic_bool stopping;
    int stop_fd;
    int done_fd; /* eventfd, readable once all_done (sl_pipeline_done_fd) */
    atomic_int sources_running;
    atomic_int sources_failed;
    struct sl_mutex lock;
    struct sl_cond cond; /* guarded_by: lock — sources_running changes, all_done */
    bool all_done;       /* guarded_by: lock */
    bool started;
    /* sl_pipeline_set_tap: published once (release), read per dispatched batch (acquire) */
    _Atomic(struct tap *) tap;
};

struct tap {
    sl_pipeline_tap_fn fn;
    void *ctx;
    void (*free_ctx)(void *ctx);
};

/* ---------------------------------------------------------------- building */

static struct node *find_node(struct sl_pipeline *p, const char *name, size_t len)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (strlen(p->nodes[i].comp.name) == len && memcmp(p->nodes[i].comp.name, name, len) == 0)
            return &p->nodes[i];
    return NULL;
}

static void diag_pos(struct sl_diag *d, const struct sl_config *cfg, uint32_t line, uint32_t col)
{
    snprintf(d->file, sizeof(d->file), "%s", cfg->path);
    d->line = line;
    d->col = col;
}

static void hint_names(struct sl_pipeline *p, const char *name, struct sl_diag *d)
{
    size_t best = (size_t)-1;
    const char *bn = NULL;
    for (uint32_t i = 0; i < p->n; i++) {
        const char *c = p->nodes[i].comp.name;
        size_t common = 0;
        while (c[common] && c[common] == name[common])
            common++;
        size_t diff = strlen(c) + strlen(name) - 2 * common;
        if (diff < best) {
            best = diff;
            bn = c;
        }
    }
    if (bn && best <= 4)
        sl_diag_hint(d, "did you mean '%s'?", bn);
    else
        sl_diag_hint(d, "inputs name a source or transform, or '<name>.errors'");
}

static void hint_types(enum sl_kind kind, const char *type, struct sl_diag *d)
{
    const struct sl_component_ops *other = sl_registry_find_any(type);
    if (other) {
        sl_diag_hint(d, "'%s' is a %s; move it under %s", type, sl_kind_name(other->kind),
                     other->kind == SL_KIND_SOURCE      ? "sources:"
                     : other->kind == SL_KIND_TRANSFORM ? "transforms:"
                                                        : "sinks:");
        return;
    }
    char list[256];
    size_t n = 0;
    list[0] = 0;
    for (const struct sl_component_ops *const *t = sl_registry_all(); *t && n < 200; t++)
        if ((*t)->kind == kind)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", (*t)->type);
    sl_diag_hint(d, "%s types: %s", sl_kind_name(kind), list);
}

static void add_consumer(struct node *from, unsigned port, uint32_t to)
{
    from->cons[port] = sl_xrealloc(from->cons[port], (from->ncons[port] + 1) * 4);
    from->cons[port][from->ncons[port]++] = to;
}

/* Output port index of `name` on nd ("errors", or one of its named outputs); -1 if none. */
static int port_index(const struct node *nd, const char *name, size_t len)
{
    if (len == 6 && memcmp(name, "errors", 6) == 0)
        return 1;
    const char *const *outs = nd->comp.ops->outputs;
    for (int i = 0; outs && outs[i] && i < (int)SL_PORTS - 2; i++)
        if (strlen(outs[i]) == len && memcmp(outs[i], name, len) == 0)
            return 2 + i;
    return -1;
}

/* Name of output port index i of nd ("errors", "triage"). */
static const char *port_label(const struct node *nd, unsigned i)
{
    if (i == 1)
        return "errors";
    return i >= 2 && nd->comp.ops->outputs ? nd->comp.ops->outputs[i - 2] : "";
}

/* 0 white, 1 grey, 2 black */
static int find_cycle(struct sl_pipeline *p, uint32_t i, uint8_t *color, uint32_t *where)
{
    color[i] = 1;
    struct node *nd = &p->nodes[i];
    for (unsigned e = 0; e < SL_PORTS; e++) {
        for (uint32_t k = 0; k < nd->ncons[e]; k++) {
            uint32_t j = nd->cons[e][k];
            if (color[j] == 1) {
                *where = j;
                return 1;
            }
            if (color[j] == 0 && find_cycle(p, j, color, where))
                return 1;
        }
    }
    color[i] = 2;
    return 0;
}

struct sl_pipeline *sl_pipeline_new(struct sl_config *cfg, const struct sl_pipeline_opts *o,
                                    struct sl_diag *d)
{
    struct sl_pipeline *p = sl_xcalloc(1, sizeof(*p));
    p->workers = o && o->workers > 0 ? o->workers : (int)(cfg->workers ? cfg->workers : 0);
    if (p->workers <= 0)
        p->workers = sl_cpu_count();
    p->once = o && o->once;
    p->queue_batches = o && o->queue_batches ? o->queue_batches
                       : cfg->queue_batches  ? (uint32_t)cfg->queue_batches
                                             : 16;
    p->config_path = sl_xstrdup(cfg->path);
    p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sl_mutex_init(&p->lock);
    sl_cond_init(&p->cond);
    p->n = (uint32_t)cfg->ncomps;
    p->nodes = sl_xcalloc(p->n ? p->n : 1, sizeof(*p->nodes));
    uint8_t *color = NULL;
    if (p->n == 0) {
        snprintf(d->file, sizeof(d->file), "%s", cfg->path);
        d->line = 1;
        d->col = 1;
        sl_diag_hint(d, "add a source and a sink (see examples/quickstart.yaml)");
        sl_diag_set(d, SL_ECONFIG, "the pipeline has no components");
        goto fail;
    }
    /* 1. types and names */
    for (uint32_t i = 0; i < p->n; i++) {
        struct sl_config_comp *cc = &cfg->comps[i];
        struct node *nd = &p->nodes[i];
        sl_mutex_init(&nd->dl_lock);
        nd->comp.name = sl_xstrdup(cc->name);
        nd->comp.id = i;
        nd->comp.line = cc->line;
        nd->comp.col = cc->col;
        nd->comp.pipe = p;
        nd->type = sl_xstrdup(cc->type);
        nd->comp.ops = sl_registry_find(cc->type, cc->kind);
        if (!nd->comp.ops) {
            diag_pos(d, cfg, cc->type_line, cc->type_col);
            hint_types(cc->kind, cc->type, d);
            sl_diag_set(d, SL_ECONFIG, "unknown %s type '%s' for '%s'", sl_kind_name(cc->kind),
                        cc->type, cc->name);
            goto fail;
        }
    }
    /* 2. inputs */
    for (uint32_t i = 0; i < p->n; i++) {
        struct sl_config_comp *cc = &cfg->comps[i];
        struct node *nd = &p->nodes[i];
        nd->inputs = sl_xcalloc(cc->ninputs ? cc->ninputs : 1, sizeof(uint32_t));
        for (size_t k = 0; k < cc->ninputs; k++) {
            const char *in = cc->inputs[k].name;
            size_t len = strlen(in);
            int port = 0;
            struct node *from = find_node(p, in, len);
            const char *dot = from ? NULL : strrchr(in, '.');
            diag_pos(d, cfg, cc->inputs[k].line, cc->inputs[k].col);
            if (dot && (from = find_node(p, in, (size_t)(dot - in))) != NULL) {
                port = port_index(from, dot + 1, strlen(dot + 1));
                if (port < 0) {
                    char list[256];
                    size_t ln = (size_t)snprintf(list, sizeof list, "'%s', '%s.errors'",
                                                 from->comp.name, from->comp.name);
                    const char *const *outs = from->comp.ops->outputs;
                    for (int oi = 0; outs && outs[oi] && ln < sizeof list; oi++)
                        ln += (size_t)snprintf(list + ln, sizeof list - ln, ", '%s.%s'",
                                               from->comp.name, outs[oi]);
                    sl_diag_hint(d, "the outputs of '%s' (%s) are %s", from->comp.name,
                                 from->comp.ops->type, list);
                    sl_diag_set(d, SL_ECONFIG, "unknown output '%s' of '%s' (input of '%s')",
                                dot + 1, from->comp.name, cc->name);
                    goto fail;
                }
            }
            bool is_err = port == 1;
            if (!from) {
                hint_names(p, in, d);
                sl_diag_set(d, SL_ECONFIG, "unknown input '%s' of '%s'", in, cc->name);
                goto fail;
            }
            if (from == nd) {
                sl_diag_hint(d, "a component cannot read its own output");
                sl_diag_set(d, SL_ECONFIG, "'%s' lists itself as an input (cycle)", cc->name);
                goto fail;
            }
            if (from->comp.ops->kind == SL_KIND_SINK && is_err && cc->kind != SL_KIND_SINK) {
                sl_diag_hint(d, "a sink's dead letters (events it could not write, such as a "
                                "Parquet schema mismatch) go to other sinks only");
                sl_diag_set(d, SL_ECONFIG,
                            "input '%s' of %s '%s': only a sink can read a sink's "
                            ".errors",
                            in, sl_kind_name(cc->kind), cc->name);
                goto fail;
            }
            if (from->comp.ops->kind == SL_KIND_SINK && !is_err) {
                sl_diag_hint(d, "sinks have no output; read from what feeds '%s' instead", in);
                sl_diag_set(d, SL_ECONFIG, "input '%s' of '%s' is a sink", in, cc->name);
                goto fail;
            }
            for (uint32_t q = 0; q < nd->ninputs; q++) {
                if (nd->inputs[q] == SL_PORT(from->comp.id, port)) {
                    sl_diag_hint(d, "list each input once");
                    sl_diag_set(d, SL_ECONFIG, "input '%s' of '%s' is listed twice", in, cc->name);
                    goto fail;
                }
            }
            nd->inputs[nd->ninputs++] = SL_PORT(from->comp.id, port);
            add_consumer(from, (unsigned)port, i);
        }
    }
    /* 3. cycles */
    color = sl_xcalloc(p->n, 1);
    for (uint32_t i = 0; i < p->n; i++) {
        uint32_t where = 0;
        if (color[i] == 0 && find_cycle(p, i, color, &where)) {
            diag_pos(d, cfg, cfg->comps[where].line, cfg->comps[where].col);
            sl_diag_hint(d, "the graph must be acyclic: remove one of the inputs on the loop");
            sl_diag_set(d, SL_ECONFIG, "cycle through '%s'", cfg->comps[where].name);
            goto fail;
        }
    }
    sl_free(color);
    color = NULL;
    /* 4. unused outputs */
    for (uint32_t i = 0; i < p->n; i++) {
        struct node *nd = &p->nodes[i];
        if (nd->comp.ops->kind != SL_KIND_SINK && nd->ncons[0] == 0 &&
            !nd->comp.ops->output_optional) {
            diag_pos(d, cfg, nd->comp.line, nd->comp.col);
            sl_diag_hint(d,
                         "list '%s' in the inputs of a transform or sink (a 'null' sink "
                         "discards)",
                         nd->comp.name);
            sl_diag_set(d, SL_ECONFIG, "%s '%s' is not used by any component",
                        sl_kind_name(nd->comp.ops->kind), nd->comp.name);
            goto fail;
        }
    }
    /* 5. queues exist before any component starts a thread in init (an HTTP server may
     * take requests before sl_pipeline_start: they wait in the queue, or get 429) */
    p->work_q = sl_queue_new(p->queue_batches);
    for (uint32_t i = 0; i < p->n; i++)
        if (p->nodes[i].comp.ops->kind == SL_KIND_SINK)
            p->nodes[i].q = sl_queue_new(p->queue_batches);
    /* 6. options and init; components with ops->no_inputs last (they look up the
     * components that feed them, which must be initialised) */
    for (uint32_t k = 0; k < 2 * p->n; k++) {
        struct node *nd = &p->nodes[k % p->n];
        if (nd->comp.ops->no_inputs != (k >= p->n))
            continue;
        if (sl_config_apply_options(cfg, k % p->n, &nd->comp, d))
            goto fail;
        if (nd->comp.ops->init) {
            struct sl_diag tmp;
            sl_diag_init(&tmp);
            int rc = nd->comp.ops->init(&nd->comp, &tmp);
            if (rc) {
                *d = tmp;
                if (!d->file[0])
                    snprintf(d->file, sizeof(d->file), "%s", cfg->path);
                if (!d->line) {
                    d->line = nd->comp.line;
                    d->col = nd->comp.col;
                }
                if (!d->msg[0])
                    sl_diag_set(d, rc, "%s '%s': %s", nd->comp.ops->type, nd->comp.name,
                                sl_strerror(rc));
                goto fail;
            }
        }
        nd->inited = true;
        const struct sl_sinkbuf_conf *bc = &cfg->comps[k % p->n].buffer;
        if (nd->comp.ops->kind == SL_KIND_SINK && bc->type == SL_SINKBUF_DISK) {
            struct sl_diag tmp;
            sl_diag_init(&tmp);
            if (sl_sinkbuf_open(&nd->comp, bc, cfg->path, &nd->buf, &tmp) != 0) {
                *d = tmp;
                diag_pos(d, cfg, bc->line, bc->col);
                goto fail;
            }
        }
    }
    return p;
fail:
    sl_free(color);
    sl_pipeline_free(p);
    return NULL;
}

void sl_pipeline_free(struct sl_pipeline *p)
{
    if (!p)
        return;
    if (p->started)
        sl_pipeline_wait(p, -1);
    struct tap *t = atomic_load_explicit(&p->tap, memory_order_acquire);
    if (t) { /* every thread that could call it has ended */
        if (t->free_ctx)
            t->free_ctx(t->ctx);
        sl_free(t);
    }
    /* what is still queued (only when a start failed half-way) was never delivered; its
     * delivery tokens are released before their sources go */
    for (uint32_t i = 0; i <= p->n; i++) {
        struct sl_queue *q = i < p->n ? p->nodes[i].q : p->work_q;
        void *item;
        while (q && sl_queue_try_pop(q, &item) == 0) {
            sl_ack_fail(((struct sl_batch *)item)->ack);
            sl_batch_unref(item);
        }
    }
    /* fini in three rounds: transforms and sinks, then sinks with ops->no_inputs (a parquet
     * sink finishes its open files in fini, and the receiver reading them must still be there
     * to take them), then sources last: a sink may release the delivery holds it kept (the
     * kafka sink's last delivery reports) in its fini, and the tokens belong to the sources */
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < p->n; i++) {
            struct node *nd = &p->nodes[i];
            bool src = nd->comp.ops && nd->comp.ops->kind == SL_KIND_SOURCE;
            int r = src ? 2 : nd->comp.ops && nd->comp.ops->no_inputs ? 1 : 0;
            if (r == round && nd->inited && nd->comp.ops->fini)
                nd->comp.ops->fini(&nd->comp);
        }
    }
    for (uint32_t i = 0; i < p->n; i++) {
        struct node *nd = &p->nodes[i];
        sl_sinkbuf_close(nd->buf); /* after fini: late delivery reports ack into it */
        if (nd->comp.ops)
            sl_config_free_options(nd->comp.ops, nd->comp.conf);
        else
            sl_free(nd->comp.conf);
        sl_free(nd->comp.opt_pos);
        sl_free(nd->comp.name);
        sl_free(nd->type);
        sl_free(nd->inputs);
        for (unsigned e = 0; e < SL_PORTS; e++)
            sl_free(nd->cons[e]);
        if (nd->q)
            sl_queue_free(nd->q);
        sl_mutex_fini(&nd->dl_lock);
    }
    if (p->work_q)
        sl_queue_free(p->work_q);
    sl_free(p->worker_threads);
    sl_free(p->nodes);
    sl_free(p->config_path);
    if (p->stop_fd >= 0)
        close(p->stop_fd);
    if (p->done_fd >= 0)
        close(p->done_fd);
    sl_cond_fini(&p->cond);
    sl_mutex_fini(&p->lock);
    sl_free(p);
}

/* ---------------------------------------------------------------- routing */

#define ADD(ctr, n) atomic_fetch_add_explicit(&(ctr), (n), memory_order_relaxed)
#define GET(ctr)    atomic_load_explicit(&(ctr), memory_order_relaxed)

static void report_unconsumed(struct node *nd, struct sl_batch *errs, unsigned port)
{
    if (port >= 2) {
        ADD(nd->comp.m.dropped, errs->count);
        sl_mutex_lock(&nd->dl_lock);
        sl_log_ratelimited(&nd->dl_limit, 5, SL_LOG_WARN, nd->comp.name,
                           "%u event(s) on %s.%s, which no component reads (counted as dropped)",
                           errs->count, nd->comp.name, port_label(nd, port));
        sl_mutex_unlock(&nd->dl_lock);
        return;
    }
    const struct sl_value *msg = errs->count ? sl_event_get(&errs->events[0], SL_SYM_ERROR) : NULL;
    const struct sl_value *where =
        errs->count ? sl_event_get(&errs->events[0], SL_SYM_WHERE) : NULL;
    const struct sl_value *line = errs->count ? sl_event_get(&errs->events[0], SL_SYM_LINE) : NULL;
    sl_mutex_lock(&nd->dl_lock);
    sl_log_ratelimited(&nd->dl_limit, 5, SL_LOG_WARN, nd->comp.name,
                       "%u bad record(s), no consumer of %s.errors; first: %.*s%s%.*s%s%lld",
                       errs->count, nd->comp.name, msg ? (int)msg->len : 0, msg ? msg->u.s : "",
                       where ? " where=" : "", where ? (int)where->len : 0, where ? where->u.s : "",
                       line ? " line=" : "", line ? (long long)line->u.i : 0LL);
    sl_mutex_unlock(&nd->dl_lock);
}

static void dispatch(struct sl_pipeline *p, uint32_t worker, uint32_t port, struct sl_batch *b);
static void flush_errors(struct sl_xf_ctx *x);

/* sl_pipeline_set_tap: one acquire load per batch when no tap is set */
static inline void tap_call(struct sl_pipeline *p, const struct sl_component *c, unsigned port,
                            const struct sl_batch *b)
{
    struct tap *t = atomic_load_explicit(&p->tap, memory_order_acquire);
    if (t && port < 2 && b->count)
        t->fn(t->ctx, c, port, b);
}

static void deliver(struct sl_pipeline *p, uint32_t worker, struct node *to, struct sl_batch *b)
{
    struct sl_component *c = &to->comp;
    ADD(c->m.events_in, b->count);
    if (c->ops->kind == SL_KIND_SINK) {
        if (sl_queue_push(to->q, b, -1) != 0) {
            /* only after shutdown went wrong; never silently */
            ADD(c->m.errors, b->count);
            sl_ack_fail(b->ack);
            sl_error(c->name, "sink queue closed, %u events not written", b->count);
            sl_batch_unref(b);
        }
        return;
    }
    struct sl_ack *ack = b->ack;
    uint32_t count = b->count;
    if (ack) /* b's own hold may go with b if the copy fails */
        sl_ack_hold(ack);
    struct sl_batch *own = sl_batch_own(b); /* consumes b, also on failure */
    if (!own) {
        ADD(c->m.errors, count);
        sl_error(c->name, "out of memory copying a shared batch: %u events lost", count);
    }
    sl_ack_release(ack, own != NULL);
    if (!own)
        return;
    /* own holds the token until process() drops it; x.ack lends it to what is emitted */
    struct sl_xf_ctx x = {.errors = NULL, .ack = own->ack, .worker = worker, .comp = c, .pipe = p};
    if (x.ack)
        sl_ack_hold(x.ack);
    struct sl_batch_origin origin = own->origin;
    struct sl_batch *out = c->ops->process(c, own, &x);
    flush_errors(&x);
    if (!out && origin.topic && (out = sl_batch_new()) != NULL)
        out->origin = origin; /* emptied: dispatch() still shows it to the stages below */
    if (out)
        sl_xf_emit(&x, 0, out);
    sl_ack_release(x.ack, true);
}

void sl_xf_emit(struct sl_xf_ctx *x, unsigned port, struct sl_batch *b)
{
    struct sl_component *c = x->comp;
    if (port == 1) { /* errors: counted as errors */
        ADD(c->m.errors, b->count);
    } else if (port == 0) {
        ADD(c->m.events_out, b->count);
    } else if (port < SL_PORTS) {
        ADD(x->pipe->nodes[c->id].port_events[port], b->count);
    }
    b->port = SL_PORT(c->id, port);
    if (!b->ack && x->ack)
        sl_batch_set_ack(b, x->ack);
    dispatch(x->pipe, x->worker, b->port, b);
}

static void flush_errors(struct sl_xf_ctx *x)
{
    if (!x->errors)
        return;
    struct sl_batch *e = x->errors;
    x->errors = NULL;
    if (e->count)
        sl_xf_emit(x, 1, e);
    else
        sl_batch_unref(e);
}

static void dispatch(struct sl_pipeline *p, uint32_t worker, uint32_t port, struct sl_batch *b)
{
    struct node *from = &p->nodes[SL_PORT_NODE(port)];
    unsigned idx = SL_PORT_INDEX(port);
    uint32_t n = from->ncons[idx];
    tap_call(p, &from->comp, idx, b);
    if (b->count == 0 && b->origin.topic && idx == 0) {
        /* A batch of a partitioned input that a transform emptied still goes to the
         * transforms below (not to sinks): a stage applying a partition's batches in order
         * (core/partstate.h: the profiler) would otherwise wait for its sequence number. */
        for (uint32_t k = 0; k < n; k++) {
            struct node *to = &p->nodes[from->cons[idx][k]];
            if (to->comp.ops->kind != SL_KIND_TRANSFORM)
                continue;
            sl_batch_ref(b);
            deliver(p, worker, to, b);
        }
        sl_batch_unref(b);
        return;
    }
    if (b->count == 0 || n == 0) {
        if (b->count && idx)
            report_unconsumed(from, b, idx);
        sl_batch_unref(b);
        return;
    }
    for (uint32_t k = 0; k + 1 < n; k++)
        sl_batch_ref(b);
    for (uint32_t k = 0; k < n; k++)
        deliver(p, worker, &p->nodes[from->cons[idx][k]], b);
}

void sl_component_diag_opt(const struct sl_component *c, const char *key, struct sl_diag *d)
{
    if (!d)
        return;
    if (c->pipe && c->pipe->config_path)
        snprintf(d->file, sizeof(d->file), "%s", c->pipe->config_path);
    d->line = c->line;
    d->col = c->col;
    size_t i = 0;
    for (const struct sl_option *o = c->ops->options; o && o->key; o++, i++) {
        if (strcmp(o->key, key) == 0 && c->opt_pos && c->opt_pos[i].set) {
            d->line = c->opt_pos[i].line;
            d->col = c->opt_pos[i].col;
            break;
        }
    }
}

bool sl_component_opt_set(const struct sl_component *c, const char *key)
{
    size_t i = 0;
    for (const struct sl_option *o = c->ops->options; o && o->key; o++, i++)
        if (strcmp(o->key, key) == 0)
            return c->opt_pos && c->opt_pos[i].set;
    return false;
}

struct sl_batch *sl_xf_errors(struct sl_xf_ctx *x)
{
    if (!x->errors)
        x->errors = sl_batch_new();
    return x->errors;
}

/* ---------------------------------------------------------------- sources */

/* Counted before the push, so a reader of the metrics never sees a sink ahead of its
 * source; taken back if the push fails. */
static int emit(struct sl_component *c, struct sl_batch *b, bool wait)
{
    struct sl_pipeline *p = c->pipe;
    if (b->count == 0) {
        sl_batch_unref(b);
        return 0;
    }
    b->port = SL_PORT(c->id, 0);
    uint32_t n = b->count;
    uint64_t bytes = b->bytes;
    ADD(c->m.events_in, n);
    ADD(c->m.events_out, n);
    ADD(c->m.bytes_in, bytes);
    int rc = wait ? sl_queue_push(p->work_q, b, -1) : sl_queue_try_push(p->work_q, b);
    if (rc == 0)
        return 0;
    atomic_fetch_sub_explicit(&c->m.events_in, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->m.events_out, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->m.bytes_in, bytes, memory_order_relaxed);
    if (wait) {
        /* only when the pipeline is gone: counted and logged, never silent */
        ADD(c->m.errors, n);
        sl_error(c->name, "pipeline closed, %u events not accepted", n);
        sl_ack_fail(b->ack);
        sl_batch_unref(b);
    }
    return rc;
}

int sl_source_emit(struct sl_component *c, struct sl_batch *b)
{
    return emit(c, b, true);
}

int sl_source_try_emit(struct sl_component *c, struct sl_batch *b)
{
    return emit(c, b, false);
}

int sl_source_emit_errors(struct sl_component *c, struct sl_batch *errs)
{
    struct sl_pipeline *p = c->pipe;
    struct node *nd = &p->nodes[c->id];
    uint32_t n = errs->count;
    if (n == 0) {
        sl_batch_unref(errs);
        return 0;
    }
    ADD(c->m.events_in, n);
    ADD(c->m.errors, n);
    ADD(c->m.bytes_in, errs->bytes);
    errs->port = SL_PORT(c->id, 1);
    if (nd->ncons[1] == 0) {
        report_unconsumed(nd, errs, 1);
        sl_batch_unref(errs);
        return 0;
    }
    if (sl_queue_push(p->work_q, errs, -1) != 0) {
        sl_error(c->name, "pipeline closed, %u dead letters not delivered", n);
        sl_ack_fail(errs->ack);
        sl_batch_unref(errs);
        return SL_ECLOSED;
    }
    return 0;
}

int sl_sink_emit_errors(struct sl_component *c, struct sl_batch *errs)
{
    struct sl_pipeline *p = c->pipe;
    struct node *nd = &p->nodes[c->id];
    uint32_t n = errs->count;
    if (n == 0) {
        sl_batch_unref(errs);
        return 0;
    }
    ADD(c->m.errors, n);
    errs->port = SL_PORT(c->id, 1);
    tap_call(p, c, 1, errs);
    if (!errs->ack && nd->writing)
        sl_batch_set_ack(errs, nd->writing->ack);
    if (nd->ncons[1] == 0) {
        report_unconsumed(nd, errs, 1);
        sl_batch_unref(errs);
        return 0;
    }
    for (uint32_t k = 0; k + 1 < nd->ncons[1]; k++)
        sl_batch_ref(errs);
    int rc = 0;
    for (uint32_t k = 0; k < nd->ncons[1]; k++) {
        struct node *to = &p->nodes[nd->cons[1][k]];
        ADD(to->comp.m.events_in, n);
        if (sl_queue_push(to->q, errs, -1) != 0) { /* only if shutdown went wrong */
            ADD(to->comp.m.errors, n);
            sl_ack_fail(errs->ack);
            sl_error(c->name, "sink '%s' closed: %u dead letters not delivered", to->comp.name, n);
            sl_batch_unref(errs);
            rc = SL_ECLOSED;
        }
    }
    return rc;
}

void sl_source_flush_sinks(struct sl_component *c)
{
    struct sl_pipeline *p = c->pipe;
    for (uint32_t i = 0; i < p->n; i++) {
        struct node *nd = &p->nodes[i];
        if (nd->comp.ops->kind != SL_KIND_SINK || !nd->q)
            continue;
        struct sl_batch *b = sl_batch_new();
        b->flags = SL_BATCH_FLUSH;
        if (sl_queue_try_push(nd->q, b) != 0)
            sl_batch_unref(b);
    }
}

struct sl_ack *sl_sink_hold(struct sl_batch *b)
{
    if (!b->ack)
        return NULL;
    sl_ack_hold(b->ack);
    return b->ack;
}

bool sl_source_stopping(const struct sl_component *c)
{
    return atomic_load_explicit(&c->pipe->stopping, memory_order_relaxed);
}

int sl_source_stop_fd(const struct sl_component *c)
{
    return c->pipe->stop_fd;
}

void sl_source_request_stop(struct sl_component *c)
{
    sl_pipeline_stop(c->pipe);
}

bool sl_source_once(const struct sl_component *c)
{
    return c->pipe->once;
}

/* ---------------------------------------------------------------- threads */

struct worker_arg {
    struct sl_pipeline *p;
    uint32_t id;
};

static void *worker_main(void *arg)
{
    struct sl_pipeline *p = ((struct worker_arg *)arg)->p;
    uint32_t id = ((struct worker_arg *)arg)->id;
    sl_free(arg);
    void *item;
    while (sl_queue_pop(p->work_q, &item, -1) == 0) {
        struct sl_batch *b = item;
        if (b->flags & SL_BATCH_TICK) {
            struct node *nd = &p->nodes[SL_PORT_NODE(b->port)];
            sl_batch_unref(b);
            struct sl_xf_ctx x = {.worker = id, .comp = &nd->comp, .pipe = p};
            nd->comp.ops->tick(&nd->comp, &x, sl_clock_mono_ns());
            flush_errors(&x);
            atomic_store(&nd->tick_pending, false);
            continue;
        }
        dispatch(p, id, b->port, b);
    }
    return NULL;
}

/* While sources run, queue a tick for each transform with tick() every tick_interval_ns (a
 * control batch through the work queue, so ticks run on the workers; skipped while the
 * previous one is still queued or the queue is full). */
static void *ticker_main(void *arg)
{
    struct sl_pipeline *p = arg;
    sl_mutex_lock(&p->lock);
    while (atomic_load(&p->sources_running) > 0) {
        int64_t now = sl_clock_mono_ns(), next = now + 1000000000;
        for (uint32_t i = 0; i < p->n; i++) {
            struct node *nd = &p->nodes[i];
            if (nd->comp.ops->kind != SL_KIND_TRANSFORM || !nd->comp.ops->tick)
                continue;
            int64_t every =
                nd->comp.ops->tick_interval_ns ? nd->comp.ops->tick_interval_ns : 1000000000;
            if (!nd->next_tick)
                nd->next_tick = now + every;
            if (nd->next_tick <= now) {
                nd->next_tick = now + every;
                if (!atomic_exchange(&nd->tick_pending, true)) {
                    struct sl_batch *b = sl_batch_new();
                    b->flags = SL_BATCH_TICK;
                    b->port = SL_PORT(i, 0);
                    if (sl_queue_try_push(p->work_q, b) != 0) {
                        sl_batch_unref(b);
                        atomic_store(&nd->tick_pending, false);
                    }
                }
            }
            if (nd->next_tick < next)
                next = nd->next_tick;
        }
        if (atomic_load(&p->sources_running) > 0)
            sl_cond_wait_until(&p->cond, &p->lock, next);
    }
    sl_mutex_unlock(&p->lock);
    return NULL;
}

/* Post-order over consumers: order[] ends up reversed topological. */
static void topo_visit(struct sl_pipeline *p, uint32_t i, uint8_t *seen, uint32_t *order,
                       uint32_t *n)
{
    seen[i] = 1;
    struct node *nd = &p->nodes[i];
    for (unsigned e = 0; e < SL_PORTS; e++)
        for (uint32_t k = 0; k < nd->ncons[e]; k++)
            if (!seen[nd->cons[e][k]])
                topo_visit(p, nd->cons[e][k], seen, order, n);
    order[(*n)++] = i;
}

/* All input processed, workers gone: let each transform with finish() emit what it holds,
 * upstream ones first, running their outputs through the rest of the graph here. */
static void run_finishers(struct sl_pipeline *p)
{
    bool any = false;
    for (uint32_t i = 0; i < p->n; i++)
        any |= p->nodes[i].comp.ops->kind == SL_KIND_TRANSFORM && p->nodes[i].comp.ops->finish;
    if (!any)
        return;
    uint8_t *seen = sl_xcalloc(p->n, 1);
    uint32_t *order = sl_xcalloc(p->n, sizeof *order), n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        if (!seen[i])
            topo_visit(p, i, seen, order, &n);
    for (uint32_t k = n; k-- > 0;) {
        struct node *nd = &p->nodes[order[k]];
        if (nd->comp.ops->kind != SL_KIND_TRANSFORM || !nd->comp.ops->finish)
            continue;
        struct sl_xf_ctx x = {.worker = 0, .comp = &nd->comp, .pipe = p};
        nd->comp.ops->finish(&nd->comp, &x);
        flush_errors(&x);
    }
    sl_free(order);
    sl_free(seen);
}

static void *source_main(void *arg)
{
    struct node *nd = arg;
    struct sl_pipeline *p = nd->comp.pipe;
    int rc = nd->comp.ops->run(&nd->comp);
    if (rc) {
        sl_error(nd->comp.name, "source stopped with an error: %s", sl_strerror(rc));
        atomic_fetch_add(&p->sources_failed, 1);
    } else
        sl_debug(nd->comp.name, "source finished");
    sl_mutex_lock(&p->lock);
    atomic_fetch_sub(&p->sources_running, 1);
    sl_cond_broadcast(&p->cond);
    sl_mutex_unlock(&p->lock);
    return NULL;
}

static int sink_write(struct node *nd, struct sl_batch *b)
{
    struct sl_component *c = &nd->comp;
    tap_call(c->pipe, c, 0, b); /* a sink's samples are what it is given to write */
    nd->writing = b;
    int rc = c->ops->write ? c->ops->write(c, b) : 0;
    nd->writing = NULL;
    /* failures are logged once per episode (a target down for an hour is one line, a
     * reminder a minute, and one when writes succeed again); every event is counted */
    uint64_t failures;
    int64_t lasted;
    if (rc == 0) {
        ADD(c->m.events_out, b->count);
        if (sl_outage_ok(&nd->wfail, sl_clock_mono_ns(), &failures, &lasted))
            sl_info(c->name,
                    "writes succeed again after %.1f s (%llu failed writes, %llu events %s)",
                    (double)lasted / 1e9, (unsigned long long)failures,
                    (unsigned long long)nd->wfail_events,
                    nd->buf ? "retried from the disk buffer" : "failed back to their sources");
    } else {
        ADD(c->m.errors, b->count);
        sl_ack_fail(b->ack);
        nd->wfail_events = sl_outage_active(&nd->wfail) ? nd->wfail_events + b->count : b->count;
        if (sl_outage_fail(&nd->wfail, sl_clock_mono_ns()))
            sl_error(c->name, "write failed for %u events: %s%s", b->count, sl_strerror(rc),
                     nd->buf ? " (kept in the disk buffer, retried)"
                             : " (failed back to their sources; counted as errors)");
    }
    sl_batch_unref(b);
    return rc;
}

static int buf_write(void *arg, struct sl_batch *b)
{
    return sink_write(arg, b);
}

static void buf_flush(void *arg)
{
    struct node *nd = arg;
    if (nd->comp.ops->flush)
        nd->comp.ops->flush(&nd->comp);
}

static void *sink_main(void *arg)
{
    struct node *nd = arg;
    struct sl_component *c = &nd->comp;
    int64_t interval = c->ops->flush_interval_ns ? c->ops->flush_interval_ns : 1000000000;
    int64_t next_flush = sl_clock_mono_ns() + interval;
    if (nd->buf) /* queue -> disk buffer -> write() (core/sinkbuf.h) */
        sl_sinkbuf_run(nd->buf, nd->q, buf_write, buf_flush, nd, interval);
    for (; !nd->buf;) {
        void *item;
        int64_t wait = next_flush - sl_clock_mono_ns();
        int rc = sl_queue_pop(nd->q, &item, wait > 0 ? wait : 0);
        if (rc == 0 && (((struct sl_batch *)item)->flags & SL_BATCH_FLUSH)) {
            sl_batch_unref(item);
            next_flush = 0; /* flush now */
        } else if (rc == 0) {
            sink_write(nd, item);
        } else if (rc == SL_ECLOSED) {
            break;
        }
        if (sl_clock_mono_ns() >= next_flush) {
            if (c->ops->flush)
                c->ops->flush(c);
            next_flush = sl_clock_mono_ns() + interval;
        }
    }
    if (c->ops->finish) /* all input written: close what is open */
        c->ops->finish(c, NULL);
    if (c->ops->flush)
        c->ops->flush(c);
    return NULL;
}

static void *supervisor_main(void *arg)
{
    struct sl_pipeline *p = arg;
    sl_mutex_lock(&p->lock);
    while (atomic_load(&p->sources_running) > 0)
        sl_cond_wait(&p->cond, &p->lock);
    sl_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->n; i++)
        if (p->nodes[i].comp.ops->kind == SL_KIND_SOURCE)
            sl_thread_join(&p->nodes[i].thread);
    if (p->has_ticker)
        sl_thread_join(&p->ticker);
    sl_queue_close(p->work_q);
    for (int i = 0; i < p->workers; i++)
        sl_thread_join(&p->worker_threads[i]);
    run_finishers(p);
    /* sinks end in topological order: a sink whose dead letters feed another sink has
     * finished (and sent its last ones) before that sink's queue closes */
    uint8_t *seen = sl_xcalloc(p->n ? p->n : 1, 1);
    uint32_t *order = sl_xcalloc(p->n ? p->n : 1, sizeof *order), n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        if (!seen[i])
            topo_visit(p, i, seen, order, &n);
    /* ... and sinks with ops->no_inputs after all others (they are fed by them) */
    for (uint32_t k = 2 * n; k-- > 0;) {
        struct node *nd = &p->nodes[order[k % n]];
        if (nd->comp.ops->kind != SL_KIND_SINK || nd->comp.ops->no_inputs != (k < n))
            continue;
        sl_queue_close(nd->q);
        sl_sinkbuf_input_closed(nd->buf);
        sl_thread_join(&nd->thread);
    }
    sl_free(order);
    sl_free(seen);
    sl_mutex_lock(&p->lock);
    p->all_done = true;
    sl_cond_broadcast(&p->cond);
    sl_mutex_unlock(&p->lock);
    uint64_t one = 1;
    if (p->done_fd >= 0 && write(p->done_fd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow with one write; nothing to do */
    }
    return NULL;
}

int sl_pipeline_start(struct sl_pipeline *p)
{
    sl_assert(!p->started);
    p->started = true;
    p->started_at = sl_clock_mono_ns();
    p->worker_threads = sl_xcalloc((size_t)p->workers, sizeof(struct sl_thread));
    for (int i = 0; i < p->workers; i++) {
        struct worker_arg *a = sl_xmalloc(sizeof(*a));
        a->p = p;
        a->id = (uint32_t)i;
        char name[16];
        snprintf(name, sizeof(name), "sl-work-%d", i & 0xffff);
        sl_assert(sl_thread_start(&p->worker_threads[i], name, worker_main, a) == 0);
    }
    for (uint32_t i = 0; i < p->n; i++) {
        struct node *nd = &p->nodes[i];
        if (nd->comp.ops->kind != SL_KIND_SINK)
            continue;
        char name[16];
        snprintf(name, sizeof(name), "sl-o-%s", nd->comp.name);
        sl_assert(sl_thread_start(&nd->thread, name, sink_main, nd) == 0);
    }
    int nsrc = 0;
    for (uint32_t i = 0; i < p->n; i++)
        nsrc += p->nodes[i].comp.ops->kind == SL_KIND_SOURCE;
    atomic_store(&p->sources_running, nsrc);
    for (uint32_t i = 0; i < p->n; i++) {
        struct node *nd = &p->nodes[i];
        if (nd->comp.ops->kind != SL_KIND_SOURCE)
            continue;
        char name[16];
        snprintf(name, sizeof(name), "sl-i-%s", nd->comp.name);
        sl_assert(sl_thread_start(&nd->thread, name, source_main, nd) == 0);
    }
    for (uint32_t i = 0; i < p->n; i++)
        p->has_ticker |=
            p->nodes[i].comp.ops->kind == SL_KIND_TRANSFORM && p->nodes[i].comp.ops->tick != NULL;
    if (p->has_ticker)
        sl_assert(sl_thread_start(&p->ticker, "sl-ticker", ticker_main, p) == 0);
    sl_assert(sl_thread_start(&p->supervisor, "sl-supervisor", supervisor_main, p) == 0);
    return 0;
}

void sl_pipeline_stop(struct sl_pipeline *p)
{
    if (atomic_exchange(&p->stopping, true))
        return;
    uint64_t one = 1;
    ssize_t w = write(p->stop_fd, &one, sizeof(one));
    (void)w;
}

bool sl_pipeline_wait(struct sl_pipeline *p, int timeout_ms)
{
    if (!p->started)
        return true;
    int64_t deadline = sl_clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    sl_mutex_lock(&p->lock);
    while (!p->all_done) {
        if (timeout_ms < 0)
            sl_cond_wait(&p->cond, &p->lock);
        else if (sl_cond_wait_until(&p->cond, &p->lock, deadline) == SL_ETIMEDOUT)
            break;
    }
    bool done = p->all_done;
    sl_mutex_unlock(&p->lock);
    if (done)
        sl_thread_join(&p->supervisor);
    return done;
}

int sl_pipeline_failed_sources(const struct sl_pipeline *p)
{
    return atomic_load(&((struct sl_pipeline *)p)->sources_failed);
}

int sl_pipeline_done_fd(const struct sl_pipeline *p)
{
    return p->done_fd;
}

bool sl_pipeline_sources_done(struct sl_pipeline *p)
{
    return p->started && atomic_load(&p->sources_running) == 0;
}

/* ---------------------------------------------------------------- introspection */

uint32_t sl_pipeline_count(const struct sl_pipeline *p)
{
    return p->n;
}

struct sl_component *sl_pipeline_component(const struct sl_pipeline *p, uint32_t i)
{
    return i < p->n ? &p->nodes[i].comp : NULL;
}

struct sl_component *sl_pipeline_find(const struct sl_pipeline *p, const char *name)
{
    struct node *nd = find_node((struct sl_pipeline *)p, name, strlen(name));
    return nd ? &nd->comp : NULL;
}

int sl_pipeline_workers(const struct sl_pipeline *p)
{
    return p->workers;
}

bool sl_pipeline_once(const struct sl_pipeline *p)
{
    return p->once;
}

const char *sl_pipeline_config_path(const struct sl_pipeline *p)
{
    return p->config_path;
}

static void port_name(const struct sl_pipeline *p, uint32_t port, struct sl_buf *out)
{
    const struct node *nd = &p->nodes[SL_PORT_NODE(port)];
    sl_buf_puts(out, nd->comp.name);
    if (SL_PORT_INDEX(port)) {
        sl_buf_puts(out, ".");
        sl_buf_puts(out, port_label(nd, SL_PORT_INDEX(port)));
    }
}

void sl_pipeline_describe(const struct sl_pipeline *p, struct sl_buf *out)
{
    sl_buf_appendf(out, "pipeline: %u components, %d workers, queues of %u batches\n", p->n,
                   p->workers, p->queue_batches);
    for (int kind = SL_KIND_SOURCE; kind <= SL_KIND_SINK; kind++) {
        for (uint32_t i = 0; i < p->n; i++) {
            const struct node *nd = &p->nodes[i];
            if ((int)nd->comp.ops->kind != kind)
                continue;
            sl_buf_appendf(out, "  %-9s %-20s %-10s", sl_kind_name(nd->comp.ops->kind),
                           nd->comp.name, nd->comp.ops->type);
            if (nd->ninputs) {
                sl_buf_puts(out, " <- ");
                for (uint32_t k = 0; k < nd->ninputs; k++) {
                    if (k)
                        sl_buf_puts(out, ", ");
                    port_name(p, nd->inputs[k], out);
                }
            } else if (nd->comp.ops->fed_by && nd->inited) {
                char by[160] = "";
                nd->comp.ops->fed_by(&nd->comp, by, sizeof(by));
                if (by[0])
                    sl_buf_appendf(out, " <- %s", by);
            }
            sl_buf_putc(out, '\n');
        }
    }
}

static void json_str(struct sl_buf *out, const char *s)
{
    sl_buf_putc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sl_buf_appendf(out, "\\%c", c);
        else if (c < 0x20)
            sl_buf_appendf(out, "\\u%04x", c);
        else
            sl_buf_putc(out, (char)c);
    }
    sl_buf_putc(out, '"');
}

/* Prometheus label values escape backslash, quote and newline. */
static void prom_label(struct sl_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sl_buf_putc(out, '\\');
        if (*s == '\n') {
            sl_buf_puts(out, "\\n");
            continue;
        }
        sl_buf_putc(out, *s);
    }
}

void sl_pipeline_metrics_prom(const struct sl_pipeline *p, struct sl_buf *out)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } ctrs[] = {
        {"sluice_component_events_in_total", "Events received by a component.",
         offsetof(struct sl_comp_metrics, events_in)},
        {"sluice_component_events_out_total", "Events sent on (sources: emitted; sinks: written).",
         offsetof(struct sl_comp_metrics, events_out)},
        {"sluice_component_errors_total", "Bad records and failed writes (sent to .errors).",
         offsetof(struct sl_comp_metrics, errors)},
        {"sluice_component_dropped_total", "Events dropped by design (filtered out).",
         offsetof(struct sl_comp_metrics, dropped)},
        {"sluice_component_bytes_in_total", "Input bytes read by a component.",
         offsetof(struct sl_comp_metrics, bytes_in)},
        {"sluice_component_bytes_out_total", "Bytes written by a component.",
         offsetof(struct sl_comp_metrics, bytes_out)},
    };
    for (size_t k = 0; k < sizeof(ctrs) / sizeof(ctrs[0]); k++) {
        sl_buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", ctrs[k].name, ctrs[k].help,
                       ctrs[k].name);
        for (uint32_t i = 0; i < p->n; i++) {
            const struct sl_component *c = &p->nodes[i].comp;
            const atomic_uint_fast64_t *v =
                (const atomic_uint_fast64_t *)((const char *)&c->m + ctrs[k].off);
            sl_buf_appendf(out, "%s{component=\"", ctrs[k].name);
            prom_label(out, c->name);
            sl_buf_appendf(out, "\",type=\"%s\",kind=\"%s\"} %llu\n", c->ops->type,
                           sl_kind_name(c->ops->kind),
                           (unsigned long long)atomic_load_explicit((atomic_uint_fast64_t *)v,
                                                                    memory_order_relaxed));
        }
    }
    bool named = false;
    for (uint32_t i = 0; i < p->n; i++) {
        const struct node *nd = &p->nodes[i];
        for (unsigned k = 2; nd->comp.ops->outputs && k < SL_PORTS && nd->comp.ops->outputs[k - 2];
             k++) {
            if (!named)
                sl_buf_puts(out, "# HELP sluice_component_output_events_total Events sent on a "
                                 "named output (<name>.<output>).\n"
                                 "# TYPE sluice_component_output_events_total counter\n");
            named = true;
            sl_buf_puts(out, "sluice_component_output_events_total{component=\"");
            prom_label(out, nd->comp.name);
            sl_buf_appendf(out, "\",output=\"%s\"} %llu\n", nd->comp.ops->outputs[k - 2],
                           (unsigned long long)GET(((struct node *)nd)->port_events[k]));
        }
    }
    /* component types' own metrics: each family's HELP once, then one line per component */
    /* + SL_SINKBUF_STATS_MAX a component: its sink buffer's (sl_sinkbuf_metrics) */
    size_t per = SL_COMP_STATS_MAX + SL_SINKBUF_STATS_MAX;
    struct sl_comp_stat *st = sl_xcalloc((size_t)p->n * per + 1, sizeof *st);
    uint32_t *owner = sl_xcalloc((size_t)p->n * per + 1, sizeof *owner);
    size_t nst = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        struct sl_component *c = &p->nodes[i].comp;
        if (p->nodes[i].buf) {
            size_t k = sl_sinkbuf_metrics(p->nodes[i].buf, st + nst);
            for (size_t j = 0; j < k; j++)
                owner[nst + j] = i;
            nst += k;
        }
        if (!c->ops->stats)
            continue;
        size_t k = c->ops->stats(c, st + nst);
        for (size_t j = 0; j < k && j < SL_COMP_STATS_MAX; j++)
            owner[nst + j] = i;
        nst += k < SL_COMP_STATS_MAX ? k : SL_COMP_STATS_MAX;
    }
    for (size_t a = 0; a < nst; a++) {
        bool first = true;
        for (size_t b = 0; b < a && first; b++)
            first = strcmp(st[a].name, st[b].name) != 0;
        if (!first)
            continue;
        sl_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", st[a].name, st[a].help, st[a].name,
                       st[a].gauge ? "gauge" : "counter");
        for (size_t b = a; b < nst; b++) {
            if (strcmp(st[a].name, st[b].name) != 0)
                continue;
            sl_buf_appendf(out, "%s{component=\"", st[b].name);
            prom_label(out, p->nodes[owner[b]].comp.name);
            sl_buf_appendf(out, "\"} %.17g\n", st[b].value);
        }
    }
    sl_free(st);
    sl_free(owner);
    sl_buf_puts(out, "# HELP sluice_queue_depth Batches waiting in a queue.\n"
                     "# TYPE sluice_queue_depth gauge\n");
    if (p->work_q)
        sl_buf_appendf(out, "sluice_queue_depth{queue=\"work\"} %zu\n", sl_queue_count(p->work_q));
    for (uint32_t i = 0; i < p->n; i++) {
        if (!p->nodes[i].q)
            continue;
        sl_buf_puts(out, "sluice_queue_depth{queue=\"sink:");
        prom_label(out, p->nodes[i].comp.name);
        sl_buf_appendf(out, "\"} %zu\n", sl_queue_count(p->nodes[i].q));
    }
    sl_buf_appendf(out,
                   "# HELP sluice_queue_capacity Capacity of a queue in batches.\n"
                   "# TYPE sluice_queue_capacity gauge\n"
                   "sluice_queue_capacity{queue=\"work\"} %u\n",
                   p->queue_batches);
    sl_buf_appendf(out,
                   "# HELP sluice_workers Worker threads.\n# TYPE sluice_workers gauge\n"
                   "sluice_workers %d\n",
                   p->workers);
    double up = p->started ? (double)(sl_clock_mono_ns() - p->started_at) / 1e9 : 0;
    sl_buf_appendf(out,
                   "# HELP sluice_uptime_seconds Seconds since the pipeline started.\n"
                   "# TYPE sluice_uptime_seconds gauge\nsluice_uptime_seconds %.3f\n",
                   up);
}

void sl_pipeline_metrics_json(const struct sl_pipeline *p, struct sl_buf *out)
{
    double up = p->started ? (double)(sl_clock_mono_ns() - p->started_at) / 1e9 : 0;
    sl_buf_appendf(out, "{\"version\":\"%s\",\"uptime_s\":%.3f,\"workers\":%d,\"components\":[",
                   SL_VERSION, up, p->workers);
    for (uint32_t i = 0; i < p->n; i++) {
        const struct node *nd = &p->nodes[i];
        const struct sl_component *c = &nd->comp;
        if (i)
            sl_buf_putc(out, ',');
        sl_buf_puts(out, "{\"name\":");
        json_str(out, c->name);
        sl_buf_appendf(out, ",\"type\":\"%s\",\"kind\":\"%s\",\"inputs\":[", c->ops->type,
                       sl_kind_name(c->ops->kind));
        for (uint32_t k = 0; k < nd->ninputs; k++) {
            struct sl_buf nm;
            sl_buf_init(&nm, 4096);
            port_name(p, nd->inputs[k], &nm);
            if (k)
                sl_buf_putc(out, ',');
            json_str(out, nm.ptr);
            sl_buf_fini(&nm);
        }
        sl_buf_appendf(out,
                       "],\"events_in\":%llu,\"events_out\":%llu,\"errors\":%llu,"
                       "\"dropped\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu",
                       (unsigned long long)GET(((struct sl_component *)c)->m.events_in),
                       (unsigned long long)GET(((struct sl_component *)c)->m.events_out),
                       (unsigned long long)GET(((struct sl_component *)c)->m.errors),
                       (unsigned long long)GET(((struct sl_component *)c)->m.dropped),
                       (unsigned long long)GET(((struct sl_component *)c)->m.bytes_in),
                       (unsigned long long)GET(((struct sl_component *)c)->m.bytes_out));
        if (nd->q)
            sl_buf_appendf(out, ",\"queue_depth\":%zu,\"queue_capacity\":%zu",
                           sl_queue_count(nd->q), sl_queue_cap(nd->q));
        sl_buf_putc(out, '}');
    }
    sl_buf_appendf(out, "],\"queues\":{\"work\":{\"depth\":%zu,\"capacity\":%u}}}",
                   p->work_q ? sl_queue_count(p->work_q) : 0, p->queue_batches);
}

int sl_pipeline_set_tap(struct sl_pipeline *p, sl_pipeline_tap_fn fn, void *ctx,
                        void (*free_ctx)(void *ctx))
{
    struct tap *t = sl_xcalloc(1, sizeof(*t));
    t->fn = fn;
    t->ctx = ctx;
    t->free_ctx = free_ctx;
    struct tap *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&p->tap, &none, t, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        sl_free(t);
        return SL_EEXIST;
    }
    return 0;
}

void *sl_pipeline_tap_ctx(const struct sl_pipeline *p, sl_pipeline_tap_fn fn)
{
    struct tap *t = atomic_load_explicit(&((struct sl_pipeline *)p)->tap, memory_order_acquire);
    return t && t->fn == fn ? t->ctx : NULL;
}

void sl_pipeline_totals(const struct sl_pipeline *p, struct sl_pipeline_totals *t)
{
    memset(t, 0, sizeof(*t));
    bool known = true;
    for (uint32_t i = 0; i < p->n; i++) {
        struct sl_component *c = &p->nodes[i].comp;
        if (c->ops->kind == SL_KIND_SOURCE) {
            t->events_in += GET(c->m.events_out);
            t->bytes_in += GET(c->m.bytes_in);
            uint64_t total = GET(c->m.bytes_total);
            known &= total > 0;
            t->bytes_total += total;
        }
        if (c->ops->kind == SL_KIND_SINK) {
            t->events_out += GET(c->m.events_out);
            if (p->nodes[i].q) {
                t->sink_queued += sl_queue_count(p->nodes[i].q);
                t->sink_cap += sl_queue_cap(p->nodes[i].q);
            }
        }
        t->errors += GET(c->m.errors);
        t->dropped += GET(c->m.dropped);
    }
    if (!known)
        t->bytes_total = 0;
    if (p->work_q) {
        t->work_queued = sl_queue_count(p->work_q);
        t->work_cap = sl_queue_cap(p->work_q);
    }
}
