/*
 * xf_filter.c — the `filter` transform: dataShark's [log_filter] include/exclude regexes.
 *
 * An event passes when EVERY `include` field matches its regex and NO `exclude` field
 * matches its regex. A regex is applied like Python's re.match(): anchored at the start of
 * the field's text, not at its end (write `$` to anchor the end). A missing (or null) field
 * never matches: a missing include field drops the event, a missing exclude field does not.
 * With `condition:`, the event must also satisfy a Stellar predicate (docs/stellar.md):
 * fields are its variables, read leniently; null is false; a non-boolean result or an
 * evaluation error sends the event to `<name>.errors`.
 * Field names are paths ("a.b" reaches into nested maps; a field literally named "id.orig_h"
 * wins over the nested reading). Non-string values are matched on their text
 * (sl_value_to_text: 443, true, 1.5, RFC 3339 timestamps, textual IPs, JSON for maps).
 *
 * DESIGN: regexes are compiled once in init with PCRE2_ANCHORED and JIT-compiled; the
 * compiled code is shared read-only by every worker. What a match writes (match data, the
 * scratch buffer for non-string text, the keep[] array for sl_batch_compact) is per worker
 * (x->worker), allocated in init, so the hot path takes no lock and allocates nothing per
 * event (scratch and keep[] only grow to the largest value / batch seen). PCRE2's own
 * allocations go through base/alloc.h (a general context) so the allocation counter sees
 * them too. Patterns are compiled in UTF mode with PCRE2_MATCH_INVALID_UTF: `.` is one
 * character, and a field holding invalid UTF-8 simply does not match where it is invalid,
 * instead of making the match fail with an error. \d \w \s are ASCII (as in dataShark's
 * Python 2 re); a pattern may opt in to Unicode classes with a leading (*UCP).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "io/lang_glue.h"
#include "lang/stellar.h"

#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct filter_conf {
    struct sl_strmap include;
    struct sl_strmap exclude;
    char *condition;
};

struct rule {
    struct sl_path path;
    pcre2_code *re;
    bool jit; /* JIT compiled: use pcre2_jit_match */
};

/* Per worker: only worker x->worker touches its slot. */
struct worker {
    pcre2_match_data *md;
    struct sl_buf scratch; /* text of non-string values */
    bool *keep;
    uint32_t keep_cap;
    struct sl_stellar_vm *vm; /* condition */
    struct sl_log_limit lim;
};

struct filter {
    struct rule *inc;
    uint32_t ninc;
    struct rule *exc;
    uint32_t nexc;
    struct worker *workers;
    uint32_t nworkers;
    pcre2_general_context *gctx;
    struct sl_stellar_prog *cond;
};

#define SCRATCH_MAX (16u << 20)

static const struct sl_option filter_opts[] = {
    {"include", SL_OPT_STRING_MAP, NULL, offsetof(struct filter_conf, include),
     "field -> regex; the event passes only if every one matches (anchored at the start, like "
     "Python re.match)",
     NULL, 0, 0, 0},
    {"exclude", SL_OPT_STRING_MAP, NULL, offsetof(struct filter_conf, exclude),
     "field -> regex; the event is dropped if any one matches", NULL, 0, 0, 0},
    {"condition", SL_OPT_STRING, NULL, offsetof(struct filter_conf, condition),
     "Stellar predicate; the event passes only if it is true (null and missing fields are "
     "false); an evaluation error sends the event to .errors",
     NULL, 0, 0, 0},
    {0},
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

static int compile_rules(struct sl_component *c, struct filter *f, const char *key,
                         const struct sl_strmap *m, struct rule **out, uint32_t *nout,
                         struct sl_diag *d)
{
    if (!m->count)
        return 0;
    struct rule *r = sl_xcalloc(m->count, sizeof(*r));
    *out = r;
    pcre2_compile_context *cctx = pcre2_compile_context_create(f->gctx);
    if (!cctx)
        return SL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < m->count; i++) {
        const struct sl_strmap_item *it = &m->items[i];
        rc = sl_path_init(&r[i].path, it->key);
        *nout = (uint32_t)(i + 1); /* path needs sl_path_fini from here on */
        if (rc) {
            sl_component_diag_opt(c, key, d);
            sl_diag_hint(d, "a field path has at most 9 dot-separated parts");
            rc = sl_diag_set(d, SL_ECONFIG, "%s: bad field path '%s': %s", key, it->key,
                             sl_strerror(rc));
            goto done;
        }
        int err = 0;
        PCRE2_SIZE off = 0;
        r[i].re =
            pcre2_compile((PCRE2_SPTR)it->val, PCRE2_ZERO_TERMINATED,
                          PCRE2_ANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, cctx);
        if (!r[i].re) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
                snprintf((char *)msg, sizeof(msg), "error %d", err);
            sl_component_diag_opt(c, key, d);
            d->line = it->line;
            d->col = it->col;
            sl_diag_hint(d, "regexes use PCRE2 (Perl/Python) syntax; escape literal ( [ . * + ? "
                            "with a backslash");
            rc = sl_diag_set(d, SL_ECONFIG, "%s regex for '%s' does not compile: %s at offset %zu",
                             key, it->key, (const char *)msg, (size_t)off);
            goto done;
        }
        /* No JIT (an architecture without it, or memory): the interpreter still works. */
        r[i].jit = pcre2_jit_compile(r[i].re, PCRE2_JIT_COMPLETE) == 0;
        if (!r[i].jit)
            sl_debug(c->name, "no JIT for regex '%s' on field '%s'", it->val, it->key);
    }
done:
    pcre2_compile_context_free(cctx);
    return rc;
}

static void free_rules(struct rule *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        pcre2_code_free(r[i].re);
        sl_path_fini(&r[i].path);
    }
    sl_free(r);
}

static void filter_fini(struct sl_component *c)
{
    struct filter *f = c->state;
    if (!f)
        return;
    free_rules(f->inc, f->ninc);
    free_rules(f->exc, f->nexc);
    for (uint32_t i = 0; i < f->nworkers; i++) {
        pcre2_match_data_free(f->workers[i].md);
        sl_buf_fini(&f->workers[i].scratch);
        sl_free(f->workers[i].keep);
        sl_stellar_vm_free(f->workers[i].vm);
    }
    sl_stellar_free(f->cond);
    sl_free(f->workers);
    pcre2_general_context_free(f->gctx);
    sl_free(f);
    c->state = NULL;
}

static int filter_init(struct sl_component *c, struct sl_diag *d)
{
    const struct filter_conf *cf = c->conf;
    struct filter *f = sl_xcalloc(1, sizeof(*f));
    c->state = f;
    int rc = SL_ENOMEM;
    f->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!f->gctx)
        goto fail;
    if ((rc = compile_rules(c, f, "include", &cf->include, &f->inc, &f->ninc, d)) != 0)
        goto fail;
    if ((rc = compile_rules(c, f, "exclude", &cf->exclude, &f->exc, &f->nexc, d)) != 0)
        goto fail;
    if (cf->condition &&
        (rc = sl_io_compile_expr(c, "condition", 0, 0, cf->condition, true, &f->cond, d)) != 0)
        goto fail;
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    f->nworkers = workers > 0 ? (uint32_t)workers : 1;
    f->workers = sl_xcalloc(f->nworkers, sizeof(*f->workers));
    rc = SL_ENOMEM;
    for (uint32_t i = 0; i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        sl_buf_init(&w->scratch, SCRATCH_MAX);
        /* One pair is enough: only "matched or not" is asked (rc 0 = matched, vector full). */
        w->md = pcre2_match_data_create(1, f->gctx);
        if (!w->md)
            goto fail;
        w->keep_cap = SL_BATCH_EVENTS;
        w->keep = sl_xcalloc(w->keep_cap, sizeof(bool));
        if (f->cond)
            w->vm = sl_stellar_vm_new();
    }
    return 0;
fail:
    filter_fini(c);
    return rc;
}

/* Does the field of rule r in ev match? A missing or null field does not. */
static bool rule_match(const struct rule *r, const struct sl_event *ev, struct worker *w)
{
    const struct sl_value *v = sl_path_get(&r->path, ev);
    if (!v || v->type == SL_V_NULL)
        return false;
    struct sl_str t = sl_value_to_text(v, &w->scratch);
    /* a view of length 0 may have a NULL pointer; PCRE2 wants a valid one */
    PCRE2_SPTR s = (PCRE2_SPTR)(t.ptr ? t.ptr : "");
    int rc = r->jit ? pcre2_jit_match(r->re, s, t.len, 0, 0, w->md, NULL)
                    : pcre2_match(r->re, s, t.len, 0, 0, w->md, NULL);
    /* PCRE2_ERROR_NOMATCH, or a resource limit hit on a pathological pattern: not a match */
    return rc >= 0;
}

/* *bad is set when the condition fails to evaluate (the event then goes to .errors). */
static bool event_passes(const struct filter *f, struct sl_event *ev, struct worker *w,
                         struct sl_batch *b, struct sl_component *c, struct sl_xf_ctx *x, bool *bad)
{
    for (uint32_t i = 0; i < f->ninc; i++)
        if (!rule_match(&f->inc[i], ev, w))
            return false;
    for (uint32_t i = 0; i < f->nexc; i++)
        if (rule_match(&f->exc[i], ev, w))
            return false;
    if (!f->cond)
        return true;
    struct sl_stellar_resolver r = {sl_stellar_event_get, ev, false, sl_stellar_event_all, ev};
    bool yes = false;
    int rc = sl_stellar_eval_bool(w->vm, f->cond, &r, &b->arena, &yes);
    sl_stellar_vm_release(w->vm);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "condition %.200s: %s", sl_stellar_source(f->cond),
                 sl_stellar_vm_error(w->vm));
        struct sl_batch *errs = sl_xf_errors(x);
        if (errs)
            (void)sl_error_event_for(errs, c->name, msg, ev);
        sl_log_ratelimited(&w->lim, 5, SL_LOG_WARN, c->name, "%s", msg);
        *bad = true;
        return false;
    }
    return yes;
}

static struct sl_batch *filter_process(struct sl_component *c, struct sl_batch *b,
                                       struct sl_xf_ctx *x)
{
    struct filter *f = c->state;
    if (!f->ninc && !f->nexc && !f->cond)
        return b;
    sl_assert(x->worker < f->nworkers);
    struct worker *w = &f->workers[x->worker];
    uint32_t n = b->count, kept = 0, nbad = 0;
    if (n > w->keep_cap) {
        bool *k = sl_realloc(w->keep, n * sizeof(bool));
        if (k) {
            w->keep = k;
            w->keep_cap = n;
        }
    }
    if (n <= w->keep_cap) {
        for (uint32_t i = 0; i < n; i++) {
            bool bad = false;
            w->keep[i] = event_passes(f, &b->events[i], w, b, c, x, &bad);
            kept += w->keep[i];
            nbad += bad;
        }
        if (kept != n)
            sl_batch_compact(b, w->keep);
    } else {
        /* no memory for a larger keep[]: compact in place, same result */
        for (uint32_t i = 0; i < n; i++) {
            bool bad = false;
            if (event_passes(f, &b->events[i], w, b, c, x, &bad))
                b->events[kept++] = b->events[i];
            nbad += bad;
        }
        b->count = kept;
    }
    if (kept + nbad != n)
        atomic_fetch_add_explicit(&c->m.dropped, n - kept - nbad, memory_order_relaxed);
    return b;
}

const struct sl_component_ops sl_xf_filter_ops = {
    .type = "filter",
    .kind = SL_KIND_TRANSFORM,
    .summary = "keep events whose fields match every include regex and no exclude regex",
    .options = filter_opts,
    .conf_len = sizeof(struct filter_conf),
    .init = filter_init,
    .fini = filter_fini,
    .process = filter_process,
};
