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
#include "state/statecodec.h"

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

/* Does v hold an object at any depth? Batches and the Stellar VM hold no lasting reference to
 * the objects in values (sl_value_copy shares them), so a group key keeps none: keep_key turns
 * a key holding one into its text, and the loader refuses one. */
static bool has_object(const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT)
        return true;
    if (v->type == SL_V_LIST)
        for (uint32_t i = 0; i < v->len; i++)
            if (has_object(&v->u.list[i]))
                return true;
    if (v->type == SL_V_MAP)
        for (uint32_t i = 0; i < v->len; i++)
            if (has_object(&v->u.map[i].val))
                return true;
    return false;
}

/* Keep a key value in the window's arena (a value holding an object as its text: the object
 * goes away with the event's batch; a list of sketches was kept as a dangling pointer). */
static int keep_key(struct sl_aggtable *t, struct win *w, const struct sl_value *v,
                    struct sl_value *out)
{
    if (has_object(v)) {
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

/* ---- checkpoints
 *
 * u32 nkeys, u32 nspecs, per spec (u8 fn, u32 k); u32 windows; per window: i64 start, i64 end,
 * u32 groups; per group: its keys (statecodec values), i64 count, per spec: i64 n, i64 isum,
 * u64 dsum's bits, u8 flags (1 dbl, 2 has a min/max, 4 distinct set, 8 distinct sketch, 16
 * top-k), the min/max value, the distinct set (u32 count, the encoded values) or sketch (a
 * value), the top-k heap (u32 n, per entry: value, encoded key, i64 count) in heap order. */

enum { F_DBL = 1, F_HAS = 2, F_SET = 4, F_HLL = 8, F_TOPK = 16 };

static int save_group(const struct sl_aggtable *t, const struct sl_aggroup *g, struct sl_buf *b)
{
    int rc = 0;
    for (uint32_t i = 0; i < t->o.nkeys && !rc; i++)
        rc = sl_sc_put_value(b, &g->keys[i]);
    if (!rc)
        rc = sl_binwr_u64(b, (uint64_t)g->count);
    for (uint32_t i = 0; i < t->o.nspecs && !rc; i++) {
        const struct aggst *s = &g->st[i];
        uint64_t bits;
        memcpy(&bits, &s->dsum, 8);
        uint8_t f = (uint8_t)((s->dbl ? F_DBL : 0) | (s->has ? F_HAS : 0) |
                              (s->dist && !s->dist->hll ? F_SET : 0) |
                              (s->dist && s->dist->hll ? F_HLL : 0) | (s->topk ? F_TOPK : 0));
        rc = sl_binwr_u64(b, (uint64_t)s->n);
        if (!rc)
            rc = sl_binwr_u64(b, (uint64_t)s->isum);
        if (!rc)
            rc = sl_binwr_u64(b, bits);
        if (!rc)
            rc = sl_binwr_u8(b, f);
        if (!rc && (f & F_HAS))
            rc = sl_sc_put_value(b, &s->mm);
        if (!rc && (f & F_SET)) {
            rc = sl_binwr_u32(b, (uint32_t)s->dist->set.count);
            size_t it = 0;
            struct sl_str k;
            uint64_t one;
            while (!rc && sl_hmap_next(&s->dist->set, &it, &k, &one))
                rc = sl_binwr_str(b, k.ptr, k.len);
        }
        if (!rc && (f & F_HLL)) {
            struct sl_value v = {.type = SL_V_OBJECT};
            v.u.obj = sl_hllp_obj(s->dist->hll);
            rc = sl_sc_put_value(b, &v);
        }
        if (!rc && (f & F_TOPK)) {
            rc = sl_binwr_u32(b, s->topk->n);
            for (uint32_t k = 0; k < s->topk->n && !rc; k++) {
                const struct topk_ent *e = &s->topk->heap[k];
                rc = sl_sc_put_value(b, &e->v);
                if (!rc)
                    rc = sl_binwr_str(b, e->key, e->key_len);
                if (!rc)
                    rc = sl_binwr_u64(b, (uint64_t)e->count);
            }
        }
    }
    return rc;
}

int sl_aggtable_save(const struct sl_aggtable *t, struct sl_buf *out)
{
    int rc = sl_binwr_u32(out, t->o.nkeys);
    if (!rc)
        rc = sl_binwr_u32(out, t->o.nspecs);
    for (uint32_t i = 0; i < t->o.nspecs && !rc; i++) {
        rc = sl_binwr_u8(out, (uint8_t)t->specs[i].fn);
        if (!rc)
            rc = sl_binwr_u32(out, t->specs[i].k);
    }
    if (!rc)
        rc = sl_binwr_u32(out, t->nwins);
    for (uint32_t w = 0; w < t->nwins && !rc; w++) {
        const struct win *wn = t->order[w];
        rc = sl_binwr_u64(out, (uint64_t)wn->ws);
        if (!rc)
            rc = sl_binwr_u64(out, (uint64_t)wn->we);
        if (!rc)
            rc = sl_binwr_u32(out, wn->ng);
        for (uint32_t g = 0; g < wn->ng && !rc; g++)
            rc = save_group(t, wn->g[g], out);
    }
    return rc;
}

/* a scalar value for a min/max or a top-k entry (what own_set keeps: no lists, maps, objects;
 * never null: sl_aggtable_add skips nulls, and a null min would stay the min for good) */
static bool plain(const struct sl_value *v)
{
    return v->type == SL_V_BOOL || v->type == SL_V_INT || v->type == SL_V_DOUBLE ||
           v->type == SL_V_STRING || v->type == SL_V_BYTES || v->type == SL_V_TS ||
           v->type == SL_V_IP;
}

/* Counts a checkpoint may hold: they go on growing by one per value (count++, n++, a top-k
 * entry's count++), which must not overflow int64 */
#define LOAD_MAX_COUNT (INT64_MAX / 2)

static int load_topk(struct sl_aggtable *t, struct aggst *s, uint32_t kk, struct sl_binrd *r,
                     struct sl_arena *a)
{
    uint32_t n = sl_binrd_count(r, 13);
    if (r->ok && (n == 0 || n > kk * SL_AGG_TOPK_FACTOR))
        sl_binrd_fail(r, "a top-k of more values than it keeps");
    if (!r->ok)
        return SL_EPARSE;
    struct topk *k = sl_calloc(1, sizeof(*k));
    if (!k)
        return SL_ENOMEM;
    sl_hmap_init(&k->idx);
    s->topk = k;
    k->heap = sl_calloc(n, sizeof(*k->heap));
    if (!k->heap)
        return SL_ENOMEM;
    k->cap = n;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_value v;
        int rc = sl_sc_get_value(r, a, &v);
        if (rc)
            return rc == SL_ENOMEM ? rc : SL_EPARSE;
        struct sl_str key = sl_binrd_str(r, 1u << 26);
        int64_t count = sl_binrd_i64(r);
        if (r->ok && (!plain(&v) || count < 1 || count > LOAD_MAX_COUNT))
            sl_binrd_fail(r, "a bad top-k entry");
        /* the index is by the value's encoding: a key that is not v's would let v in twice */
        sl_buf_reset(&t->vkey);
        if (r->ok && encode(&t->vkey, &t->text, &v) == 0 &&
            (t->vkey.len != key.len || (key.len && memcmp(t->vkey.ptr, key.ptr, key.len) != 0)))
            sl_binrd_fail(r, "a top-k entry whose key is not its value's");
        if (r->ok && i && k->heap[(i - 1) / 2].count > count)
            sl_binrd_fail(r, "a top-k heap out of order");
        uint64_t dup;
        if (r->ok && sl_hmap_get(&k->idx, key, &dup))
            sl_binrd_fail(r, "a top-k value twice");
        if (!r->ok) {
            sl_sc_value_release(&v);
            return SL_EPARSE;
        }
        struct topk_ent *e = &k->heap[i];
        e->key = sl_malloc(key.len ? key.len : 1);
        if (!e->key || own_set(&e->v, &v, &t->text)) {
            sl_free(e->key); /* entry i is not counted in k->n yet: topk_free skips it */
            e->key = NULL;
            return SL_ENOMEM;
        }
        memcpy(e->key, key.ptr, key.len);
        e->key_len = key.len;
        e->count = count;
        k->n = i + 1;
        if (sl_hmap_put(&k->idx, key, i))
            return SL_ENOMEM;
    }
    return 0;
}

struct win_key {
    int64_t ws, we;
};

static int load_group(struct sl_aggtable *t, struct win_key *wk, struct sl_binrd *r,
                      struct sl_arena *a)
{
    struct sl_value keys[SL_AGG_MAX_KEYS];
    int rc = 0;
    uint32_t got = 0;
    for (; got < t->o.nkeys && !rc; got++)
        if ((rc = sl_sc_get_value(r, a, &keys[got])) == 0 && has_object(&keys[got]))
            sl_binrd_fail(r, "an object in a group key");
    uint64_t before = t->ngroups;
    struct sl_aggroup *g = NULL;
    if (!rc && r->ok)
        rc = sl_aggtable_group(t, wk->ws, wk->we, keys, &g);
    for (uint32_t i = 0; i < got; i++)
        sl_sc_value_release(&keys[i]);
    if (rc)
        return rc == SL_ENOMEM || rc == SL_ELIMIT ? rc : SL_EPARSE;
    if (!r->ok)
        return SL_EPARSE;
    if (t->ngroups == before) {
        sl_binrd_fail(r, "a group twice in a window");
        return SL_EPARSE;
    }
    g->count = sl_binrd_i64(r);
    if (r->ok && (g->count < 0 || g->count > LOAD_MAX_COUNT))
        sl_binrd_fail(r, "a negative count, or one past what values can reach");
    for (uint32_t i = 0; i < t->o.nspecs && r->ok; i++) {
        struct aggst *s = &g->st[i];
        s->n = sl_binrd_i64(r);
        s->isum = sl_binrd_i64(r);
        uint64_t bits = sl_binrd_u64(r);
        memcpy(&s->dsum, &bits, 8);
        uint8_t f = sl_binrd_u8(r);
        enum sl_agg_fn fn = t->specs[i].fn;
        if (r->ok &&
            (s->n < 0 || s->n > LOAD_MAX_COUNT || (f & ~(F_DBL | F_HAS | F_SET | F_HLL | F_TOPK)) ||
             ((f & F_HAS) && fn != SL_AGG_MIN && fn != SL_AGG_MAX) ||
             ((f & (F_SET | F_HLL)) && fn != SL_AGG_DISTINCT) || ((f & F_SET) && (f & F_HLL)) ||
             ((f & F_TOPK) && fn != SL_AGG_TOPK)))
            sl_binrd_fail(r, "aggregate state of another function");
        if (!r->ok)
            break;
        s->dbl = f & F_DBL;
        if (f & F_HAS) {
            struct sl_value v;
            if ((rc = sl_sc_get_value(r, a, &v)))
                return rc == SL_ENOMEM ? rc : SL_EPARSE;
            if (!plain(&v)) {
                sl_sc_value_release(&v);
                sl_binrd_fail(r, "a min/max that is not a scalar");
                break;
            }
            if ((rc = own_set(&s->mm, &v, &t->text)))
                return rc;
            s->has = true;
        }
        if (f & (F_SET | F_HLL)) {
            if (!(s->dist = sl_calloc(1, sizeof(*s->dist))))
                return SL_ENOMEM;
            sl_hmap_init(&s->dist->set);
        }
        if (f & F_SET) {
            uint32_t n = sl_binrd_count(r, 4);
            if (r->ok && n > t->o.distinct_exact_max)
                sl_binrd_fail(r, "an exact distinct set past distinct_exact_max");
            for (uint32_t k = 0; k < n && r->ok; k++) {
                struct sl_str v = sl_binrd_str(r, 1u << 26);
                uint64_t one;
                if (r->ok && sl_hmap_get(&s->dist->set, v, &one))
                    sl_binrd_fail(r, "a distinct value twice");
                else if (r->ok && sl_hmap_put(&s->dist->set, v, 1))
                    return SL_ENOMEM;
            }
        }
        if (f & F_HLL) {
            struct sl_value v;
            if ((rc = sl_sc_get_value(r, a, &v)))
                return rc == SL_ENOMEM ? rc : SL_EPARSE;
            if (v.type != SL_V_OBJECT || v.u.obj->type != &sl_hllp_type) {
                sl_sc_value_release(&v);
                sl_binrd_fail(r, "a distinct sketch that is not a HyperLogLog++");
                break;
            }
            s->dist->hll = (struct sl_hllp *)v.u.obj; /* its one reference */
        }
        if ((f & F_TOPK) && (rc = load_topk(t, s, t->specs[i].k, r, a)))
            return rc;
    }
    return r->ok ? 0 : SL_EPARSE;
}

int sl_aggtable_load(struct sl_aggtable *t, struct sl_binrd *r)
{
    uint32_t nkeys = sl_binrd_u32(r), nspecs = sl_binrd_u32(r);
    if (r->ok && (nkeys != t->o.nkeys || nspecs != t->o.nspecs))
        sl_binrd_fail(r, "other group keys or aggregates than this table's");
    for (uint32_t i = 0; i < nspecs && r->ok; i++) {
        uint8_t fn = sl_binrd_u8(r);
        uint32_t k = sl_binrd_u32(r);
        if (r->ok && (fn != (uint8_t)t->specs[i].fn || k != t->specs[i].k))
            sl_binrd_fail(r, "other aggregates than this table's");
    }
    uint32_t nw = sl_binrd_count(r, 20);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    int rc = r->ok ? 0 : SL_EPARSE;
    for (uint32_t w = 0; w < nw && !rc; w++) {
        struct win_key wk = {sl_binrd_i64(r), sl_binrd_i64(r)};
        uint32_t ng = sl_binrd_count(r, 9);
        int64_t k[2] = {wk.ws, wk.we};
        uint64_t dup;
        if (r->ok && (wk.we < wk.ws || ng == 0))
            sl_binrd_fail(r, "a window that ends before it starts, or has no group");
        if (r->ok && sl_hmap_get(&t->wins, sl_str_make((const char *)k, sizeof(k)), &dup))
            sl_binrd_fail(r, "a window twice");
        rc = r->ok ? 0 : SL_EPARSE;
        for (uint32_t g = 0; g < ng && !rc; g++) {
            rc = load_group(t, &wk, r, &a);
            sl_arena_reset(&a);
        }
    }
    sl_arena_fini(&a);
    return rc;
}
