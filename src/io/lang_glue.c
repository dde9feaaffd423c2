/*
 * lang_glue.c — compiling config expressions with precise errors, and field-path updates
 * for the transforms that run Stellar (`eval`, `filter.condition`).
 *
 * DESIGN: a nested update never writes into a map in place (a batch's maps may be views
 * shared with a parent batch); it rebuilds the maps along the path in the batch arena, which
 * costs one small copy per level and keeps copy-on-write batches correct.
 */
#include "io/lang_glue.h"

#include "base/arena.h"
#include "core/pipeline.h"
#include "lang/sval.h"

#include <stdio.h>
#include <string.h>

int sl_io_compile_expr(struct sl_component *c, const char *opt, uint32_t line, uint32_t col,
                       const char *text, bool predicate, struct sl_stellar_prog **out,
                       struct sl_diag *d)
{
    struct sl_diag ed;
    sl_diag_init(&ed);
    struct sl_stellar_copts o = {.predicate = predicate};
    int rc = sl_stellar_compile(text, strlen(text), &o, out, &ed);
    if (!rc)
        return 0;
    sl_component_diag_opt(c, opt, d);
    if (line) {
        d->line = line;
        d->col = col;
    }
    bool one_line = !strchr(text, '\n');
    uint32_t ecol = ed.col ? ed.col : 1;
    if (one_line && d->col)
        d->col = d->col + ecol - 1;
    snprintf(d->hint, sizeof d->hint, "%s", ed.hint[0] ? ed.hint : "see docs/stellar.md");
    return sl_diag_set(d, SL_ECONFIG, "%s: Stellar expression, column %u: %s", opt, ecol, ed.msg);
}

static int set_in_map(struct sl_arena *a, const struct sl_value *m, const struct sl_str *keys,
                      uint32_t nkeys, struct sl_value v, struct sl_value *out)
{
    if (m && m->type != SL_V_MAP && m->type != SL_V_NULL)
        return SL_ETYPE;
    uint32_t n = (m && m->type == SL_V_MAP) ? m->len : 0;
    struct sl_kv *kv = sl_arena_alloc(a, (n + 1) * sizeof *kv);
    if (!kv)
        return SL_ENOMEM;
    if (n)
        memcpy(kv, m->u.map, n * sizeof *kv);
    uint32_t at = n;
    for (uint32_t i = 0; i < n; i++)
        if (sl_str_eq(kv[i].key, keys[0]))
            at = i;
    struct sl_value nv = v;
    if (nkeys > 1) {
        int rc = set_in_map(a, at < n ? &kv[at].val : NULL, keys + 1, nkeys - 1, v, &nv);
        if (rc)
            return rc;
    }
    if (at == n) {
        char *k = sl_arena_strndup(a, keys[0].ptr, keys[0].len);
        if (!k)
            return SL_ENOMEM;
        kv[n].key = sl_str_make(k, keys[0].len);
        n++;
    }
    kv[at].val = nv;
    *out = (struct sl_value){.type = SL_V_MAP, .len = n};
    out->u.map = kv;
    return 0;
}

int sl_io_set_path(struct sl_batch *b, struct sl_event *ev, const struct sl_path *path,
                   struct sl_value v)
{
    if (!path->nrest || sl_event_get(ev, path->full))
        return sl_event_set(b, ev, path->full, v);
    const struct sl_value *top = sl_event_get(ev, path->first);
    struct sl_value nv;
    int rc = set_in_map(&b->arena, top, path->rest, path->nrest, v, &nv);
    return rc ? rc : sl_event_set(b, ev, path->first, nv);
}

static void drop_field(struct sl_event *ev, sl_sym sym)
{
    for (uint32_t i = 0; i < ev->count; i++) {
        if (ev->fields[i].sym == sym) {
            memmove(&ev->fields[i], &ev->fields[i + 1], (ev->count - i - 1) * sizeof *ev->fields);
            ev->count--;
            return;
        }
    }
}

static int remove_in_map(struct sl_arena *a, const struct sl_value *m, const struct sl_str *keys,
                         uint32_t nkeys, struct sl_value *out)
{
    *out = *m;
    if (m->type != SL_V_MAP)
        return 0;
    uint32_t at = m->len;
    for (uint32_t i = 0; i < m->len; i++)
        if (sl_str_eq(m->u.map[i].key, keys[0]))
            at = i;
    if (at == m->len)
        return 0;
    struct sl_kv *kv = sl_arena_alloc(a, (m->len ? m->len : 1) * sizeof *kv);
    if (!kv)
        return SL_ENOMEM;
    memcpy(kv, m->u.map, m->len * sizeof *kv);
    if (nkeys > 1) {
        int rc = remove_in_map(a, &m->u.map[at].val, keys + 1, nkeys - 1, &kv[at].val);
        if (rc)
            return rc;
        out->u.map = kv;
        return 0;
    }
    memmove(&kv[at], &kv[at + 1], (m->len - at - 1) * sizeof *kv);
    out->u.map = kv;
    out->len = m->len - 1;
    return 0;
}

int sl_io_remove_path(struct sl_batch *b, struct sl_event *ev, const struct sl_path *path)
{
    if (!path->nrest || sl_event_get(ev, path->full)) {
        drop_field(ev, path->full);
        return 0;
    }
    const struct sl_value *top = sl_event_get(ev, path->first);
    if (!top)
        return 0;
    struct sl_value nv;
    int rc = remove_in_map(&b->arena, top, path->rest, path->nrest, &nv);
    return rc ? rc : sl_event_set(b, ev, path->first, nv);
}

int sl_io_keepable(struct sl_batch *b, struct sl_value *v)
{
    if (v->type != SL_V_OBJECT)
        return 0;
    struct sl_buf t;
    sl_buf_init(&t, 1u << 20);
    int rc = sl_sv_format(v, &t);
    if (!rc) {
        char *s = sl_batch_copy(b, t.ptr ? t.ptr : "", t.len);
        if (!s)
            rc = SL_ENOMEM;
        else
            *v = sl_value_str(s, t.len);
    }
    sl_buf_fini(&t);
    return rc;
}
