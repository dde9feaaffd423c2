/*
 * aggtable.c — windowed group-by state (aggtable.h).
 *
 * DESIGN: a window is a hash map from the encoded group key to its group plus an array of
 * the groups in first-seen order (the emission order); windows are found by (start, end)
 * in a hash map and kept in an array sorted by (end, start) so closing takes a prefix. Group
 * keys live in the window's arena and die with it; aggregate values that change (min, max,
 * top-k entries) own heap copies of their strings, so a long window whose minimum changes a
 * million times does not grow. Keys are encoded into bytes with a type tag per value (1 and
 * "1" are different groups) for hashing.
 *
 * distinct: an exact set until distinct_exact_max values, then the set's values are moved
 * into a HyperLogLog++ sketch (lang/sketch.h, p = 14, about 0.8 % standard error).
 * top-k: exact counts in a binary min-heap (by count) indexed by a hash map, until it holds
 * FACTOR * k values; then Space-Saving (Metwally et al. 2005): a new value replaces the
 * minimum, inheriting its count + 1 (counts become upper bounds, never under-estimates).
 */
#include "state/aggtable.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "lang/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIN_ARENA_MAX ((size_t)1 << 34)

struct topk_ent {
    struct sl_value v; /* owned */
    char *key;         /* encoded value (owned) */
    size_t key_len;
    int64_t count;
};

struct topk {
    struct sl_hmap idx; /* key -> heap position */
    struct topk_ent *heap;
    uint32_t n, cap;
};

struct dist {
    struct sl_hmap set;
    struct sl_hllp *hll;
};

struct aggst {
    int64_t n; /* non-null values */
    int64_t isum;
    double dsum;
    bool dbl;
    bool has;
    struct sl_value mm; /* min / max, owned */
    struct dist *dist;
    struct topk *topk;
};

struct sl_aggroup {
    struct sl_value *keys;
    int64_t count;
    struct aggst st[];
};

struct win {
    int64_t ws, we;
    struct sl_hmap groups; /* encoded key -> index into g */
    struct sl_aggroup **g;
    uint32_t ng, cap;
    struct sl_arena arena;
};

struct sl_aggtable {
    struct sl_aggtable_opts o;
    struct sl_agg_spec *specs;
    struct sl_hmap wins; /* (ws, we) -> struct win * */
    struct win **order;  /* sorted by (we, ws) */
    uint32_t nwins, wcap;
    uint64_t ngroups;
    struct sl_buf key;  /* encoding scratch */
    struct sl_buf text; /* to_text scratch */
    struct sl_buf vkey; /* value key scratch (distinct / top-k) */
};

/* ---- values */

static int encode(struct sl_buf *b, struct sl_buf *text, const struct sl_value *v)
{
    uint8_t tag = v->type;
    int rc = sl_buf_putc(b, (char)tag);
    if (rc)
        return rc;
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        return sl_buf_putc(b, v->u.b ? 1 : 0);
    case SL_V_INT:
    case SL_V_TS:
        return sl_buf_append(b, &v->u.i, 8);
    case SL_V_DOUBLE: {
        double d = v->u.d == 0 ? 0.0 : v->u.d; /* -0 == 0 */
        if (isnan(d))
            d = NAN;
        return sl_buf_append(b, &d, 8);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        if ((rc = sl_buf_append(b, &v->len, 4)))
            return rc;
        return sl_buf_append(b, v->u.s, v->len);
    case SL_V_IP:
        if ((rc = sl_buf_putc(b, (char)v->flags)))
            return rc;
        return sl_buf_append(b, v->u.ip, 16);
    default: {
        sl_buf_reset(text);
        struct sl_str t = sl_value_to_text(v, text);
        uint32_t n = (uint32_t)t.len;
        if ((rc = sl_buf_append(b, &n, 4)))
            return rc;
        return sl_buf_append(b, t.ptr, t.len);
    }
    }
}

/* A heap copy of a scalar (lists, maps, objects become their JSON text). */
static int own_set(struct sl_value *dst, const struct sl_value *src, struct sl_buf *text)
{
    struct sl_value nv = *src;
    if (src->type == SL_V_STRING || src->type == SL_V_BYTES || src->type == SL_V_LIST ||
        src->type == SL_V_MAP || src->type == SL_V_OBJECT) {
        struct sl_str s = sl_value_as_str(src);
        if (src->type != SL_V_STRING && src->type != SL_V_BYTES) {
            sl_buf_reset(text);
            s = sl_value_to_text(src, text);
            nv.type = SL_V_STRING;
        }
        char *p = sl_malloc(s.len ? s.len : 1);
        if (!p)
            return SL_ENOMEM;
        memcpy(p, s.ptr, s.len);
        nv = sl_value_str(p, s.len);
        nv.type = src->type == SL_V_BYTES ? SL_V_BYTES : SL_V_STRING;
    }
    if (dst->type == SL_V_STRING || dst->type == SL_V_BYTES)
        sl_free((void *)dst->u.s);
    *dst = nv;
    return 0;
}

static void own_free(struct sl_value *v)
{
    if (v->type == SL_V_STRING || v->type == SL_V_BYTES)
        sl_free((void *)v->u.s);
    v->type = SL_V_NULL;
}

static int type_rank(const struct sl_value *v)
{
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        return 1;
    case SL_V_INT:
    case SL_V_DOUBLE:
        return 2;
    case SL_V_STRING:
        return 3;
    case SL_V_BYTES:
        return 4;
    case SL_V_TS:
        return 5;
    case SL_V_IP:
        return 6;
    default:
        return 7;
    }
}

/* <0, 0, >0 */
static int vcmp(const struct sl_value *a, const struct sl_value *b)
{
    int ra = type_rank(a), rb = type_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return (int)a->u.b - (int)b->u.b;
    case 2:
        if (a->type == SL_V_INT && b->type == SL_V_INT)
            return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
        else {
            double x = a->type == SL_V_INT ? (double)a->u.i : a->u.d;
            double y = b->type == SL_V_INT ? (double)b->u.i : b->u.d;
            return x < y ? -1 : x > y;
        }
    case 3:
    case 4: {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
        if (c)
            return c;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    case 5:
        return a->u.ts_ns < b->u.ts_ns ? -1 : a->u.ts_ns > b->u.ts_ns;
    case 6:
        return memcmp(a->u.ip, b->u.ip, 16);
    default:
        return 0;
    }
}

/* ---- table */

struct sl_aggtable *sl_aggtable_new(const struct sl_aggtable_opts *o)
{
    struct sl_aggtable *t = sl_xcalloc(1, sizeof(*t));
    t->o = *o;
    t->specs = sl_xcalloc(o->nspecs ? o->nspecs : 1, sizeof(*t->specs));
    if (o->nspecs)
        memcpy(t->specs, o->specs, o->nspecs * sizeof(*t->specs));
    t->o.specs = t->specs;
    if (!t->o.distinct_exact_max)
        t->o.distinct_exact_max = 10000;
    sl_hmap_init(&t->wins);
    sl_buf_init(&t->key, 1u << 26);
    sl_buf_init(&t->text, 1u << 26);
    sl_buf_init(&t->vkey, 1u << 26);
    return t;
}

static void topk_free(struct topk *k)
{
    if (!k)
        return;
    for (uint32_t i = 0; i < k->n; i++) {
        own_free(&k->heap[i].v);
        sl_free(k->heap[i].key);
    }
    sl_free(k->heap);
    sl_hmap_fini(&k->idx);
    sl_free(k);
}

static void dist_free(struct dist *d)
{
    if (!d)
        return;
    sl_hmap_fini(&d->set);
    if (d->hll)
        sl_object_unref(sl_hllp_obj(d->hll));
    sl_free(d);
}

static void group_free(struct sl_aggtable *t, struct sl_aggroup *g)
{
    for (uint32_t i = 0; i < t->o.nspecs; i++) {
        own_free(&g->st[i].mm);
        dist_free(g->st[i].dist);
        topk_free(g->st[i].topk);
    }
    sl_free(g);
}

static void win_free(struct sl_aggtable *t, struct win *w)
{
    for (uint32_t i = 0; i < w->ng; i++)
        group_free(t, w->g[i]);
    sl_free(w->g);
    sl_hmap_fini(&w->groups);
    sl_arena_fini(&w->arena);
    sl_free(w);
}

void sl_aggtable_free(struct sl_aggtable *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->nwins; i++)
        win_free(t, t->order[i]);
    sl_free(t->order);
    sl_hmap_fini(&t->wins);
    sl_buf_fini(&t->key);
    sl_buf_fini(&t->text);
    sl_buf_fini(&t->vkey);
    sl_free(t->specs);
    sl_free(t);
}

uint64_t sl_aggtable_groups(const struct sl_aggtable *t)
{
    return t->ngroups;
}

uint32_t sl_aggtable_windows(const struct sl_aggtable *t)
{
    return t->nwins;
}

static bool win_before(const struct win *a, int64_t ws, int64_t we)
{
    return a->we < we || (a->we == we && a->ws < ws);
}

static int find_win(struct sl_aggtable *t, int64_t ws, int64_t we, struct win **out)
{
    int64_t k[2] = {ws, we};
    uint64_t p;
    if (sl_hmap_get(&t->wins, sl_str_make((const char *)k, sizeof(k)), &p)) {
        *out = (struct win *)(uintptr_t)p;
        return 0;
    }
    if (t->nwins == t->wcap) {
        uint32_t cap = t->wcap ? t->wcap * 2 : 8;
        struct win **o = sl_realloc(t->order, cap * sizeof(*o));
        if (!o)
            return SL_ENOMEM;
        t->order = o;
        t->wcap = cap;
    }
    struct win *w = sl_calloc(1, sizeof(*w));
    if (!w)
        return SL_ENOMEM;
    w->ws = ws;
    w->we = we;
    sl_hmap_init(&w->groups);
    sl_arena_init(&w->arena, 4096, WIN_ARENA_MAX); /* small: sliding windows are many */
    if (sl_hmap_put(&t->wins, sl_str_make((const char *)k, sizeof(k)), (uint64_t)(uintptr_t)w)) {
        win_free(t, w);
        return SL_ENOMEM;
    }
    /* insert sorted by (we, ws): usually at the end */
    uint32_t at = t->nwins;
    while (at > 0 && win_before(w, t->order[at - 1]->ws, t->order[at - 1]->we))
        at--;
    memmove(&t->order[at + 1], &t->order[at], (t->nwins - at) * sizeof(*t->order));
    t->order[at] = w;
    t->nwins++;
    *out = w;
    return 0;
}

/* Keep a key value in the window's arena (objects as their text). */
static int keep_key(struct sl_aggtable *t, struct win *w, const struct sl_value *v,
                    struct sl_value *out)
{
    if (v->type == SL_V_OBJECT) {
        sl_buf_reset(&t->text);
        struct sl_str s = sl_value_to_text(v, &t->text);
        char *p = sl_arena_strndup(&w->arena, s.ptr ? s.ptr : "", s.len);
        if (!p)
            return SL_ENOMEM;
        *out = sl_value_str(p, s.len);
        return 0;
    }
    return sl_value_copy(&w->arena, v, out);
}

int sl_aggtable_group(struct sl_aggtable *t, int64_t ws, int64_t we, const struct sl_value *keys,
                      struct sl_aggroup **out)
{
    sl_buf_reset(&t->key);
    int rc;
    for (uint32_t i = 0; i < t->o.nkeys; i++)
        if ((rc = encode(&t->key, &t->text, &keys[i])))
            return rc;
    struct win *w;
    int64_t k[2] = {ws, we};
    uint64_t p, gi;
    struct sl_str gk = sl_str_make(t->key.ptr ? t->key.ptr : "", t->key.len);
    if (sl_hmap_get(&t->wins, sl_str_make((const char *)k, sizeof(k)), &p)) {
        w = (struct win *)(uintptr_t)p;
        if (sl_hmap_get(&w->groups, gk, &gi)) {
            *out = w->g[gi];
            return 0;
        }
    }
    if (t->o.max_groups && t->ngroups >= t->o.max_groups)
        return SL_ELIMIT;
    if ((rc = find_win(t, ws, we, &w)))
        return rc;
    if (w->ng == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 64;
        struct sl_aggroup **g = sl_realloc(w->g, cap * sizeof(*g));
        if (!g)
            return SL_ENOMEM;
        w->g = g;
        w->cap = cap;
    }
    struct sl_aggroup *g = sl_calloc(1, sizeof(*g) + t->o.nspecs * sizeof(struct aggst));
    if (!g)
        return SL_ENOMEM;
    if (t->o.nkeys) {
        g->keys = sl_arena_alloc(&w->arena, t->o.nkeys * sizeof(*g->keys));
        if (!g->keys)
            goto oom;
        for (uint32_t i = 0; i < t->o.nkeys; i++)
            if (keep_key(t, w, &keys[i], &g->keys[i]))
                goto oom;
    }
    if (sl_hmap_put(&w->groups, gk, w->ng))
        goto oom;
    w->g[w->ng++] = g;
    t->ngroups++;
    *out = g;
    return 0;
oom:
    sl_free(g);
    return SL_ENOMEM;
}

static bool numeric(const struct sl_value *v)
{
    return v->type == SL_V_NULL || v->type == SL_V_INT || v->type == SL_V_DOUBLE ||
           v->type == SL_V_BOOL;
}

bool sl_aggtable_accepts(const struct sl_aggtable *t, uint32_t i, const struct sl_value *v)
{
    if (i >= t->o.nspecs)
        return false;
    if (t->specs[i].fn == SL_AGG_SUM || t->specs[i].fn == SL_AGG_AVG)
        return numeric(v);
    return true;
}

static void add_num(struct aggst *s, const struct sl_value *v)
{
    if (v->type == SL_V_DOUBLE) {
        s->dsum += v->u.d;
        s->dbl = true;
        return;
    }
    int64_t x = v->type == SL_V_BOOL ? (int64_t)v->u.b : v->u.i;
    int64_t r;
    if (__builtin_add_overflow(s->isum, x, &r)) {
        /* past int64: the sum goes on as a double */
        s->dsum += (double)s->isum + (double)x;
        s->isum = 0;
        s->dbl = true;
        return;
    }
    s->isum = r;
}

static int dist_add(struct sl_aggtable *t, struct aggst *s, const struct sl_value *v)
{
    if (!s->dist) {
        s->dist = sl_calloc(1, sizeof(*s->dist));
        if (!s->dist)
            return SL_ENOMEM;
        sl_hmap_init(&s->dist->set);
    }
    struct dist *d = s->dist;
    sl_buf_reset(&t->vkey);
    int rc = encode(&t->vkey, &t->text, v);
    if (rc)
        return rc;
    if (d->hll)
        return sl_hllp_add(d->hll, t->vkey.ptr, t->vkey.len);
    uint64_t one;
    if (sl_hmap_get(&d->set, sl_str_make(t->vkey.ptr, t->vkey.len), &one))
        return 0;
    if (d->set.count < t->o.distinct_exact_max)
        return sl_hmap_put(&d->set, sl_str_make(t->vkey.ptr, t->vkey.len), 1);
    /* past the exact bound: move the set into a sketch */
    d->hll = sl_hllp_new(SL_AGG_HLL_P, SL_AGG_HLL_SP);
    if (!d->hll)
        return SL_ENOMEM;
    size_t it = 0;
    struct sl_str k;
    uint64_t val;
    while (sl_hmap_next(&d->set, &it, &k, &val))
        if ((rc = sl_hllp_add(d->hll, k.ptr, k.len)))
            return rc;
    sl_hmap_fini(&d->set);
    sl_hmap_init(&d->set);
    return sl_hllp_add(d->hll, t->vkey.ptr, t->vkey.len);
}

static void heap_swap(struct topk *k, uint32_t a, uint32_t b)
{
    struct topk_ent e = k->heap[a];
    k->heap[a] = k->heap[b];
    k->heap[b] = e;
    (void)sl_hmap_put(&k->idx, sl_str_make(k->heap[a].key, k->heap[a].key_len), a);
    (void)sl_hmap_put(&k->idx, sl_str_make(k->heap[b].key, k->heap[b].key_len), b);
}

/* counts only grow: restore the min-heap downwards from i */
static void sift_down(struct topk *k, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k->n && k->heap[l].count < k->heap[m].count)
            m = l;
        if (r < k->n && k->heap[r].count < k->heap[m].count)
            m = r;
        if (m == i)
            return;
        heap_swap(k, i, m);
        i = m;
    }
}

static void sift_up(struct topk *k, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (k->heap[parent].count <= k->heap[i].count)
            return;
        heap_swap(k, i, parent);
        i = parent;
    }
}

static int topk_add(struct sl_aggtable *t, struct aggst *s, uint32_t kk, const struct sl_value *v)
{
    if (!s->topk) {
        s->topk = sl_calloc(1, sizeof(*s->topk));
        if (!s->topk)
            return SL_ENOMEM;
        sl_hmap_init(&s->topk->idx);
    }
    struct topk *k = s->topk;
    sl_buf_reset(&t->vkey);
    int rc = encode(&t->vkey, &t->text, v);
    if (rc)
        return rc;
    struct sl_str key = sl_str_make(t->vkey.ptr, t->vkey.len);
    uint64_t pos;
    if (sl_hmap_get(&k->idx, key, &pos)) {
        k->heap[pos].count++;
        sift_down(k, (uint32_t)pos);
        return 0;
    }
    uint32_t limit = kk * SL_AGG_TOPK_FACTOR;
    char *kc = sl_malloc(key.len ? key.len : 1);
    if (!kc)
        return SL_ENOMEM;
    memcpy(kc, key.ptr, key.len);
    if (k->n < limit) {
        if (k->n == k->cap) {
            uint32_t cap = k->cap ? k->cap * 2 : 16;
            struct topk_ent *h = sl_realloc(k->heap, cap * sizeof(*h));
            if (!h) {
                sl_free(kc);
                return SL_ENOMEM;
            }
            k->heap = h;
            k->cap = cap;
        }
        struct topk_ent *e = &k->heap[k->n];
        memset(e, 0, sizeof(*e));
        if ((rc = own_set(&e->v, v, &t->text))) {
            sl_free(kc);
            return rc;
        }
        e->key = kc;
        e->key_len = key.len;
        e->count = 1;
        if ((rc = sl_hmap_put(&k->idx, key, k->n))) {
            own_free(&e->v);
            sl_free(kc);
            return rc;
        }
        k->n++;
        sift_up(k, k->n - 1);
        return 0;
    }
    /* Space-Saving: the new value takes the place of the minimum, count + 1 */
    struct topk_ent *e = &k->heap[0];
    if ((rc = own_set(&e->v, v, &t->text))) {
        sl_free(kc);
        return rc;
    }
    sl_hmap_del(&k->idx, sl_str_make(e->key, e->key_len));
    sl_free(e->key);
    e->key = kc;
    e->key_len = key.len;
    e->count++;
    if ((rc = sl_hmap_put(&k->idx, key, 0)))
        return rc;
    sift_down(k, 0);
    return 0;
}

int sl_aggtable_add(struct sl_aggtable *t, struct sl_aggroup *g, const struct sl_value *args)
{
    for (uint32_t i = 0; i < t->o.nspecs; i++)
        if (!sl_aggtable_accepts(t, i, &args[i]))
            return SL_ETYPE;
    g->count++;
    int rc;
    for (uint32_t i = 0; i < t->o.nspecs; i++) {
        const struct sl_agg_spec *sp = &t->specs[i];
        struct aggst *s = &g->st[i];
        const struct sl_value *v = &args[i];
        if (sp->fn == SL_AGG_COUNT || v->type == SL_V_NULL)
            continue;
        s->n++;
        switch (sp->fn) {
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            add_num(s, v);
            break;
        case SL_AGG_MIN:
        case SL_AGG_MAX: {
            int c = s->has ? vcmp(v, &s->mm) : 0;
            if (!s->has || (sp->fn == SL_AGG_MIN ? c < 0 : c > 0)) {
                if ((rc = own_set(&s->mm, v, &t->text)))
                    return rc;
                s->has = true;
            }
            break;
        }
        case SL_AGG_DISTINCT:
            if ((rc = dist_add(t, s, v)))
                return rc;
            break;
        case SL_AGG_TOPK:
            if ((rc = topk_add(t, s, sp->k, v)))
                return rc;
            break;
        default:
            break;
        }
    }
    return 0;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct topk_ent *x = *(const struct topk_ent *const *)a;
    const struct topk_ent *y = *(const struct topk_ent *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return vcmp(&x->v, &y->v);
}

static int topk_result(struct topk *k, uint32_t kk, struct sl_arena *a, struct sl_value *out)
{
    uint32_t n = k ? k->n : 0;
    const struct topk_ent **sorted = n ? sl_malloc(n * sizeof(*sorted)) : NULL;
    if (n && !sorted)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        sorted[i] = &k->heap[i];
    if (n > 1)
        qsort(sorted, n, sizeof(*sorted), ent_cmp);
    uint32_t m = n < kk ? n : kk;
    struct sl_value *list = m ? sl_arena_alloc(a, m * sizeof(*list)) : NULL;
    if (m && !list)
        goto oom;
    for (uint32_t i = 0; i < m; i++) {
        struct sl_kv *kv = sl_arena_alloc(a, 2 * sizeof(*kv));
        if (!kv)
            goto oom;
        kv[0].key = sl_str_c("value");
        if (sl_value_copy(a, &sorted[i]->v, &kv[0].val))
            goto oom;
        kv[1].key = sl_str_c("count");
        kv[1].val = sl_value_int(sorted[i]->count);
        list[i] = (struct sl_value){.type = SL_V_MAP, .len = 2};
        list[i].u.map = kv;
    }
    sl_free(sorted);
    *out = (struct sl_value){.type = SL_V_LIST, .len = m};
    out->u.list = list;
    return 0;
oom:
    sl_free(sorted);
    return SL_ENOMEM;
}

static int results(struct sl_aggtable *t, struct sl_aggroup *g, struct sl_arena *a,
                   struct sl_value *res)
{
    for (uint32_t i = 0; i < t->o.nspecs; i++) {
        const struct aggst *s = &g->st[i];
        struct sl_value *r = &res[i];
        *r = sl_value_null();
        switch (t->specs[i].fn) {
        case SL_AGG_COUNT:
            *r = sl_value_int(g->count);
            break;
        case SL_AGG_COUNT_EXPR:
            *r = sl_value_int(s->n);
            break;
        case SL_AGG_SUM:
            /* no values: 0, as reduceByKey's zero and ksqlDB's SUM (not SQL's NULL) */
            *r = s->dbl ? sl_value_double(s->dsum + (double)s->isum) : sl_value_int(s->isum);
            break;
        case SL_AGG_AVG:
            if (s->n)
                *r = sl_value_double((s->dsum + (double)s->isum) / (double)s->n);
            break;
        case SL_AGG_MIN:
        case SL_AGG_MAX:
            if (s->has)
                *r = s->mm;
            break;
        case SL_AGG_DISTINCT:
            if (!s->dist)
                *r = sl_value_int(0);
            else if (s->dist->hll)
                *r = sl_value_int(sl_hllp_cardinality(s->dist->hll));
            else
                *r = sl_value_int((int64_t)s->dist->set.count);
            break;
        case SL_AGG_TOPK: {
            int rc = topk_result(s->topk, t->specs[i].k, a, r);
            if (rc)
                return rc;
            break;
        }
        }
    }
    return 0;
}

int64_t sl_aggtable_close(struct sl_aggtable *t, int64_t upto, bool all, struct sl_arena *a,
                          sl_aggtable_emit_fn fn, void *ud)
{
    int64_t emitted = 0;
    struct sl_value stackres[16];
    struct sl_value *res = t->o.nspecs <= 16 ? stackres : sl_malloc(t->o.nspecs * sizeof(*res));
    if (!res)
        return SL_ENOMEM;
    int rc = 0;
    uint32_t done = 0;
    while (done < t->nwins && (all || t->order[done]->we <= upto)) {
        struct win *w = t->order[done];
        for (uint32_t i = 0; i < w->ng; i++) {
            if ((rc = results(t, w->g[i], a, res)))
                goto out;
            if ((rc = fn(ud, w->ws, w->we, w->g[i]->keys, res)))
                goto out;
            emitted++;
        }
        int64_t k[2] = {w->ws, w->we};
        sl_hmap_del(&t->wins, sl_str_make((const char *)k, sizeof(k)));
        t->ngroups -= w->ng;
        win_free(t, w);
        done++;
    }
out:
    if (done) {
        memmove(t->order, t->order + done, (t->nwins - done) * sizeof(*t->order));
        t->nwins -= done;
    }
    if (res != stackres)
        sl_free(res);
    return rc ? rc : emitted;
}
