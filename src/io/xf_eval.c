/*
 * xf_eval.c — the `eval` transform: assign fields from Stellar expressions, remove fields.
 *
 *   transforms:
 *     enrich:
 *       type: eval
 *       inputs: [conn]
 *       set:
 *         total_bytes: "orig_bytes + resp_bytes"
 *         flags.internal: "IN_SUBNET(id.orig_h, '10.0.0.0/8')"
 *       remove: [history]
 *
 * Assignments run in the order written and each sees the fields set before it. Variables are
 * the event's fields, read leniently (a missing field is null, as in Metron's profiler and
 * enrichment); `a.b` reads a field literally named "a.b" or the path a → b. An evaluation
 * error (a wrong argument type, integer division by zero) sends the event to `<name>.errors`
 * with the message and the expression, and counts it; the other events go on.
 *
 * DESIGN: expressions are compiled once in init and shared read-only by every worker; each
 * worker has its own VM. Results live in the batch arena, so an assignment of a scalar
 * allocates nothing from the heap.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "io/lang_glue.h"
#include "lang/stellar.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct eval_conf {
    struct sl_strmap set;
    struct sl_strlist remove;
};

struct assign {
    struct sl_path path;
    struct sl_stellar_prog *prog;
};

struct eval {
    struct assign *set;
    uint32_t nset;
    struct sl_path *remove;
    uint32_t nremove;
    struct sl_stellar_vm **vms;
    bool **keep;
    struct sl_log_limit *lim;
    uint32_t nworkers;
};

static const struct sl_option eval_opts[] = {
    {"set", SL_OPT_STRING_MAP, NULL, offsetof(struct eval_conf, set),
     "field -> Stellar expression; fields are assigned in order (a.b sets a nested key)", NULL, 0,
     0, 0},
    {"remove", SL_OPT_STRING_LIST, NULL, offsetof(struct eval_conf, remove),
     "fields to remove after the assignments", NULL, 0, 0, 0},
    {0},
};

static void eval_fini(struct sl_component *c)
{
    struct eval *e = c->state;
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nset; i++) {
        sl_path_fini(&e->set[i].path);
        sl_stellar_free(e->set[i].prog);
    }
    for (uint32_t i = 0; i < e->nremove; i++)
        sl_path_fini(&e->remove[i]);
    for (uint32_t i = 0; i < e->nworkers; i++) {
        sl_stellar_vm_free(e->vms[i]);
        sl_free(e->keep[i]);
    }
    sl_free(e->vms);
    sl_free(e->keep);
    sl_free(e->lim);
    sl_free(e->set);
    sl_free(e->remove);
    sl_free(e);
    c->state = NULL;
}

static int eval_init(struct sl_component *c, struct sl_diag *d)
{
    const struct eval_conf *cf = c->conf;
    struct eval *e = sl_xcalloc(1, sizeof *e);
    c->state = e;
    int rc = 0;
    if (!cf->set.count && !cf->remove.count) {
        sl_component_diag_opt(c, "set", d);
        sl_diag_hint(d, "add `set: {field: expression}` or `remove: [field]`");
        rc = sl_diag_set(d, SL_ECONFIG, "eval: nothing to do");
        goto fail;
    }
    e->set = sl_xcalloc(cf->set.count ? cf->set.count : 1, sizeof *e->set);
    for (size_t i = 0; i < cf->set.count; i++) {
        const struct sl_strmap_item *it = &cf->set.items[i];
        e->nset = (uint32_t)i + 1;
        if ((rc = sl_path_init(&e->set[i].path, it->key))) {
            sl_component_diag_opt(c, "set", d);
            rc = sl_diag_set(d, SL_ECONFIG, "set: bad field path '%s': %s", it->key,
                             sl_strerror(rc));
            goto fail;
        }
        char opt[300];
        snprintf(opt, sizeof opt, "set.%s", it->key);
        if ((rc =
                 sl_io_compile_expr(c, opt, it->line, it->col, it->val, false, &e->set[i].prog, d)))
            goto fail;
    }
    e->remove = sl_xcalloc(cf->remove.count ? cf->remove.count : 1, sizeof *e->remove);
    for (size_t i = 0; i < cf->remove.count; i++) {
        e->nremove = (uint32_t)i + 1;
        if ((rc = sl_path_init(&e->remove[i], cf->remove.items[i]))) {
            sl_component_diag_opt(c, "remove", d);
            rc = sl_diag_set(d, SL_ECONFIG, "remove: bad field path '%s': %s", cf->remove.items[i],
                             sl_strerror(rc));
            goto fail;
        }
    }
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    e->nworkers = workers > 0 ? (uint32_t)workers : 1;
    e->vms = sl_xcalloc(e->nworkers, sizeof *e->vms);
    e->keep = sl_xcalloc(e->nworkers, sizeof *e->keep);
    e->lim = sl_xcalloc(e->nworkers, sizeof *e->lim);
    for (uint32_t i = 0; i < e->nworkers; i++) {
        e->vms[i] = sl_stellar_vm_new();
        e->keep[i] = sl_xcalloc(SL_BATCH_EVENTS, sizeof(bool));
    }
    return 0;
fail:
    eval_fini(c);
    return rc;
}

/* Run the assignments on one event. 0, or an error with msg set. */
static int eval_event(struct sl_component *c, struct eval *e, struct sl_stellar_vm *vm,
                      struct sl_batch *b, struct sl_event *ev, char *msg, size_t msg_len)
{
    struct sl_stellar_resolver r = {sl_stellar_event_get, ev, false, sl_stellar_event_all, ev};
    int rc = 0;
    for (uint32_t i = 0; i < e->nset && !rc; i++) {
        struct sl_value v;
        rc = sl_stellar_eval(vm, e->set[i].prog, &r, &b->arena, &v);
        if (rc) {
            snprintf(msg, msg_len, "set %s = %.200s: %s", e->set[i].path.text,
                     sl_stellar_source(e->set[i].prog), sl_stellar_vm_error(vm));
            break;
        }
        if ((rc = sl_io_keepable(b, &v)) || (rc = sl_io_set_path(b, ev, &e->set[i].path, v)))
            snprintf(msg, msg_len, "set %s: %s", e->set[i].path.text, sl_strerror(rc));
    }
    sl_stellar_vm_release(vm);
    for (uint32_t i = 0; i < e->nremove && !rc; i++)
        if ((rc = sl_io_remove_path(b, ev, &e->remove[i])))
            snprintf(msg, msg_len, "remove %s: %s", e->remove[i].text, sl_strerror(rc));
    (void)c;
    return rc;
}

static struct sl_batch *eval_process(struct sl_component *c, struct sl_batch *b,
                                     struct sl_xf_ctx *x)
{
    struct eval *e = c->state;
    b = sl_batch_own(b);
    if (!b)
        return NULL;
    uint32_t w = x->worker < e->nworkers ? x->worker : 0;
    struct sl_stellar_vm *vm = e->vms[w];
    bool *keep = e->keep[w];
    uint32_t n = b->count, bad = 0;
    if (n > SL_BATCH_EVENTS) {
        bool *k = sl_realloc(keep, n * sizeof(bool));
        if (!k)
            return b;
        keep = e->keep[w] = k;
    }
    char msg[512];
    for (uint32_t i = 0; i < n; i++) {
        keep[i] = true;
        if (eval_event(c, e, vm, b, &b->events[i], msg, sizeof msg)) {
            keep[i] = false;
            bad++;
            struct sl_batch *errs = sl_xf_errors(x);
            if (errs)
                (void)sl_error_event_for(errs, c->name, msg, &b->events[i]);
            sl_log_ratelimited(&e->lim[w], 5, SL_LOG_WARN, c->name, "%s", msg);
        }
    }
    if (bad) {
        /* only `errors` counts the events sent to .errors; nothing is "dropped" */
        sl_batch_compact(b, keep);
    }
    return b;
}

const struct sl_component_ops sl_xf_eval_ops = {
    .type = "eval",
    .kind = SL_KIND_TRANSFORM,
    .summary = "assign fields from Stellar expressions (set: {field: expr}), remove fields",
    .options = eval_opts,
    .conf_len = sizeof(struct eval_conf),
    .init = eval_init,
    .fini = eval_fini,
    .process = eval_process,
};
