/*
 * profiler.c — the profiler engine: routing, builders per (profile, entity, period), period
 * close by watermark, ttl, the entity bound, and flushes into measurements.
 *
 * DESIGN: memory per entity is the constraint (the issue: <= 256 bytes for a counter profile
 * including the hash table; 1M entities under 512 MB RSS), so:
 *   - one heap record per (profile, entity): LRU links, the entity's current builder inline
 *     (period, flags, its bucket slot) with the profile's variables inline as 24-byte
 *     values, and the entity text after them. A counter is one 96-byte malloc chunk.
 *   - one open-addressing table (linear probing, backward-shift delete) of {hash, record}:
 *     16 bytes a slot at load <= 3/4.
 *   - scalars live in the value itself; a string, list or map variable owns one heap block
 *     holding its deep copy; an object (a STATS sketch) is kept by reference.
 *   - a builder for an earlier period that is still open (a message late within the lag,
 *     or a new period started before the old one closed) is a separate small record on the
 *     entity's `older` list: rare, so it costs nothing in the common case.
 *   - period buckets: per open period id an array of the entities with a builder in it, so
 *     closing a period visits exactly its builders (no scan of every entity per advance).
 *     A builder knows its slot in the bucket; removal swaps the last slot in.
 * Variables carry over: when an entity's current builder is flushed its variables stay in
 * the record, and the next period's builder starts from them (METRON-668). When a message
 * starts a new period while the current one is still open, the old builder moves to the
 * `older` list with the values and the new one starts from copies (sketches are cloned
 * through their binary form, so the two periods never share an accumulator; other objects
 * are shared by reference).
 * Entities evicted for max_entities leave the table at once and are flushed by the next
 * advance/flush_all (apply has no sink); ttl forgets idle entities at advance.
 * Evaluation temporaries come from the profiler's arena, reset per call (no heap allocation
 * per message on the common path); sl_stellar_vm_release() is called after each apply and
 * flush, since the engine takes its own references on objects it keeps.
 */
#include "state/profiler.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "lang/func.h"
#include "lang/sketch.h"
#include "lang/sval.h"
#include "state/profiler_int.h"
#include "state/statecodec.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_PERIOD_MS (15 * 60 * 1000)
#define MAX_VALUE_LEN     (16u << 20)        /* a variable's deep copy */
#define MAX_TS_MS         ((int64_t)1 << 61) /* |ts|: start and end of any period fit in int64 */

/* flags of a builder */
#define B_OPEN 0x01u /* the inline builder holds an open period */
#define B_INIT 0x02u /* init ran since the last flush */
/* flags of an entity */
#define E_PENDING 0x04u /* evicted: out of the table, waiting for a flush */

struct bld { /* a builder of an earlier, still open period of the entity */
    struct bld *next;
    int64_t period;
    uint32_t slot;
    uint8_t flags;
    struct sl_value vars[];
};

struct ent {
    struct ent *prev, *next; /* LRU (head: most recent); the pending list uses next */
    struct bld *older;
    int64_t seen_ms;
    int64_t period; /* of the inline builder, when B_OPEN */
    uint32_t slot;  /* of the inline builder in its bucket */
    uint32_t len;   /* entity text */
    uint16_t prof;
    uint8_t flags;
    struct sl_value vars[]; /* nvars of the profile, then the entity text */
};

struct slot {
    uint64_t hash; /* 0: empty */
    struct ent *e;
};

struct bucket {
    int64_t period;
    struct ent **ents;
    uint32_t count, cap;
};

struct sl_profiler {
    const struct sl_profiler_def *def;
    int64_t period_ms, ttl_ms;
    uint64_t max_entities;
    struct slot *slots;
    size_t cap, count; /* table */
    struct ent *head, *tail;
    struct ent *pending;
    struct bucket *buckets; /* sorted by period */
    size_t nbuckets, capbuckets;
    int64_t watermark;
    struct sl_arena arena;
    struct sl_buf text;
    struct sl_profiler_stats st;
    uint64_t bytes;
    char err[640];
};

/* what a heap block of n bytes costs with glibc malloc: the chunk, header included */
static uint64_t chunk_len(size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------------ owned values */

static int deep_size(const struct sl_value *v, size_t *n, int depth)
{
    if (depth > 64)
        return SL_EDEPTH;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        *n += ((size_t)v->len + 7) & ~(size_t)7;
        return 0;
    case SL_V_LIST:
        *n += (size_t)v->len * sizeof(struct sl_value);
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = deep_size(&v->u.list[i], n, depth + 1);
            if (rc)
                return rc;
        }
        break;
    case SL_V_MAP:
        *n += (size_t)v->len * sizeof(struct sl_kv);
        for (uint32_t i = 0; i < v->len; i++) {
            *n += (v->u.map[i].key.len + 7) & ~(size_t)7;
            int rc = deep_size(&v->u.map[i].val, n, depth + 1);
            if (rc)
                return rc;
        }
        break;
    case SL_V_OBJECT:
        if (sl_fcx_is_lambda(v))
            return SL_ETYPE;
        break;
    default:
        break;
    }
    return *n > MAX_VALUE_LEN ? SL_E2BIG : 0;
}

/* copy what v points to into *cur (advanced); take references on objects */
static void deep_copy(const struct sl_value *v, struct sl_value *out, char **cur)
{
    *out = *v;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES: {
        char *s = *cur;
        if (v->len)
            memcpy(s, v->u.s, v->len);
        *cur += ((size_t)v->len + 7) & ~(size_t)7;
        out->u.s = s;
        break;
    }
    case SL_V_LIST: {
        struct sl_value *l = (struct sl_value *)(void *)*cur;
        *cur += (size_t)v->len * sizeof *l;
        for (uint32_t i = 0; i < v->len; i++)
            deep_copy(&v->u.list[i], &l[i], cur);
        out->u.list = l;
        break;
    }
    case SL_V_MAP: {
        struct sl_kv *m = (struct sl_kv *)(void *)*cur;
        *cur += (size_t)v->len * sizeof *m;
        for (uint32_t i = 0; i < v->len; i++) {
            char *k = *cur;
            if (v->u.map[i].key.len)
                memcpy(k, v->u.map[i].key.ptr, v->u.map[i].key.len);
            *cur += (v->u.map[i].key.len + 7) & ~(size_t)7;
            m[i].key = sl_str_make(k, v->u.map[i].key.len);
            deep_copy(&v->u.map[i].val, &m[i].val, cur);
        }
        out->u.map = m;
        break;
    }
    case SL_V_OBJECT:
        sl_object_ref(v->u.obj);
        break;
    default:
        break;
    }
}

static void unref_nested(const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT) {
        sl_object_unref(v->u.obj);
    } else if (v->type == SL_V_LIST) {
        for (uint32_t i = 0; i < v->len; i++)
            unref_nested(&v->u.list[i]);
    } else if (v->type == SL_V_MAP) {
        for (uint32_t i = 0; i < v->len; i++)
            unref_nested(&v->u.map[i].val);
    }
}

static bool has_block(const struct sl_value *v)
{
    return v->type == SL_V_STRING || v->type == SL_V_BYTES || v->type == SL_V_LIST ||
           v->type == SL_V_MAP;
}

/* Make an engine-owned copy of v. 0, SL_ENOMEM, SL_E2BIG, SL_EDEPTH, SL_ETYPE (lambda). */
static int own_value(struct sl_profiler *p, const struct sl_value *v, struct sl_value *out)
{
    if (!has_block(v)) {
        if (v->type == SL_V_OBJECT) {
            if (sl_fcx_is_lambda(v))
                return SL_ETYPE;
            sl_object_ref(v->u.obj);
        }
        *out = *v;
        return 0;
    }
    size_t n = 0;
    int rc = deep_size(v, &n, 0);
    if (rc)
        return rc;
    char *blk = sl_malloc(n ? n : 1);
    if (!blk)
        return SL_ENOMEM;
    char *cur = blk;
    deep_copy(v, out, &cur);
    if (!n) /* empty string/list/map: still owns its (1-byte) block */
        out->u.s = blk;
    p->bytes += chunk_len(n ? n : 1);
    return 0;
}

/* A copy for another open period's builder: as own_value, but a sketch is cloned (through
 * its binary form) so that two open periods never mutate one accumulator. */
static int carry_value(struct sl_profiler *p, const struct sl_value *v, struct sl_value *out)
{
    if (v->type == SL_V_OBJECT &&
        (v->u.obj->type == &sl_stats_type || v->u.obj->type == &sl_hllp_type ||
         v->u.obj->type == &sl_bloom_type)) {
        struct sl_buf b;
        sl_buf_init(&b, 64u << 20);
        struct sl_object *o = NULL;
        struct sl_diag d;
        int rc = sl_sketch_serialize(v->u.obj, &b);
        if (!rc)
            rc = sl_sketch_deserialize(b.ptr, b.len, &o, &d);
        sl_buf_fini(&b);
        if (!rc) {
            *out = *v;
            out->u.obj = o;
            return 0;
        }
    }
    return own_value(p, v, out);
}

static void drop_value(struct sl_profiler *p, struct sl_value *v)
{
    if (v->type == SL_V_OBJECT) {
        sl_object_unref(v->u.obj);
    } else if (has_block(v)) {
        /* the size first: deep_size looks at the nested objects that unref_nested may free */
        size_t n = 0;
        (void)deep_size(v, &n, 0);
        unref_nested(v);
        p->bytes -= chunk_len(n ? n : 1);
        sl_free((void *)v->u.s);
    }
    *v = sl_value_null();
}

static void drop_vars(struct sl_profiler *p, struct sl_value *vars, size_t n)
{
    for (size_t i = 0; i < n; i++)
        drop_value(p, &vars[i]);
}

/* ------------------------------------------------------------------ records */

static const struct sl_pdef *pdef(const struct sl_profiler *p, size_t i)
{
    return &p->def->profiles[i];
}

static size_t ent_len(const struct sl_pdef *pd, size_t textlen)
{
    return sizeof(struct ent) + pd->nvars * sizeof(struct sl_value) + textlen;
}

static const char *ent_text(const struct ent *e, const struct sl_pdef *pd)
{
    return (const char *)(e->vars + pd->nvars);
}

static size_t bld_len(const struct sl_pdef *pd)
{
    return sizeof(struct bld) + pd->nvars * sizeof(struct sl_value);
}

static uint64_t ent_hash(size_t prof, const char *s, size_t n)
{
    /* the unseeded XXH3 plus a multiply-xorshift mix of the profile: the seeded variant
     * cost 12% of route+apply in bench_profiler (perf) */
    uint64_t h = sl_hash64(s, n) ^ (0x9e3779b97f4a7c15ull * (prof + 1));
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h ? h : 1;
}

/* ---- table */

static size_t probe_find(const struct sl_profiler *p, uint64_t h, size_t prof, const char *s,
                         size_t n, bool *found)
{
    size_t mask = p->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const struct slot *sl = &p->slots[i];
        if (!sl->hash) {
            *found = false;
            return i;
        }
        if (sl->hash == h && sl->e->prof == prof && sl->e->len == n &&
            !memcmp(ent_text(sl->e, pdef(p, prof)), s, n)) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int table_grow(struct sl_profiler *p)
{
    size_t ncap = p->cap ? p->cap * 2 : 64;
    struct slot *ns = sl_calloc(ncap, sizeof *ns);
    if (!ns)
        return SL_ENOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->slots[i].hash)
            continue;
        size_t k = (size_t)p->slots[i].hash & (ncap - 1);
        while (ns[k].hash)
            k = (k + 1) & (ncap - 1);
        ns[k] = p->slots[i];
    }
    p->bytes -= p->cap ? chunk_len(p->cap * sizeof *ns) : 0;
    p->bytes += chunk_len(ncap * sizeof *ns);
    sl_free(p->slots);
    p->slots = ns;
    p->cap = ncap;
    return 0;
}

static void table_del(struct sl_profiler *p, struct ent *e)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    uint64_t h = ent_hash(e->prof, ent_text(e, pd), e->len);
    bool found;
    size_t i = probe_find(p, h, e->prof, ent_text(e, pd), e->len, &found);
    if (!found)
        return;
    size_t mask = p->cap - 1, j = i;
    for (;;) { /* backward-shift deletion */
        p->slots[i].hash = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!p->slots[j].hash)
                goto done;
            size_t k = (size_t)p->slots[j].hash & mask;
            /* can slot j move to i? only if its home k is not cyclically in (i, j] */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        p->slots[i] = p->slots[j];
        i = j;
    }
done:
    p->count--;
}

/* ---- LRU */

static void lru_unlink(struct sl_profiler *p, struct ent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        p->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        p->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(struct sl_profiler *p, struct ent *e)
{
    e->prev = NULL;
    e->next = p->head;
    if (p->head)
        p->head->prev = e;
    p->head = e;
    if (!p->tail)
        p->tail = e;
}

/* ---- period buckets */

static struct bucket *bucket_get(struct sl_profiler *p, int64_t period, bool create)
{
    size_t i = 0;
    while (i < p->nbuckets && p->buckets[i].period < period)
        i++;
    if (i < p->nbuckets && p->buckets[i].period == period)
        return &p->buckets[i];
    if (!create)
        return NULL;
    if (p->nbuckets == p->capbuckets) {
        size_t nc = p->capbuckets ? p->capbuckets * 2 : 4;
        struct bucket *nb = sl_realloc(p->buckets, nc * sizeof *p->buckets);
        if (!nb)
            return NULL;
        p->bytes -= p->capbuckets ? chunk_len(p->capbuckets * sizeof *p->buckets) : 0;
        p->buckets = nb;
        p->bytes += chunk_len(nc * sizeof *p->buckets);
        p->capbuckets = nc;
    }
    memmove(&p->buckets[i + 1], &p->buckets[i], (p->nbuckets - i) * sizeof *p->buckets);
    p->nbuckets++;
    p->buckets[i] = (struct bucket){.period = period};
    return &p->buckets[i];
}

static void bucket_drop_if_empty(struct sl_profiler *p, struct bucket *b)
{
    if (b->count)
        return;
    p->bytes -= b->cap ? chunk_len(b->cap * sizeof *b->ents) : 0;
    sl_free(b->ents);
    size_t i = (size_t)(b - p->buckets);
    memmove(&p->buckets[i], &p->buckets[i + 1], (p->nbuckets - i - 1) * sizeof *p->buckets);
    p->nbuckets--;
}

static uint32_t *slot_of(struct ent *e, int64_t period)
{
    if ((e->flags & B_OPEN) && e->period == period)
        return &e->slot;
    for (struct bld *b = e->older; b; b = b->next)
        if (b->period == period)
            return &b->slot;
    return NULL;
}

/* Make room for one more builder in period's bucket (so that bucket_add cannot fail). */
static int bucket_reserve(struct sl_profiler *p, int64_t period)
{
    struct bucket *b = bucket_get(p, period, true);
    if (!b)
        return SL_ENOMEM;
    if (b->count == b->cap) {
        uint32_t nc = b->cap ? b->cap * 2 : 16;
        struct ent **ne = sl_realloc(b->ents, nc * sizeof *b->ents);
        if (!ne) {
            bucket_drop_if_empty(p, b);
            return SL_ENOMEM;
        }
        p->bytes -= b->cap ? chunk_len(b->cap * sizeof *b->ents) : 0;
        b->ents = ne;
        p->bytes += chunk_len(nc * sizeof *b->ents);
        b->cap = nc;
    }
    return 0;
}

static uint32_t bucket_add(struct sl_profiler *p, int64_t period, struct ent *e)
{
    struct bucket *b = bucket_get(p, period, false); /* reserved: exists, has room */
    b->ents[b->count] = e;
    p->st.open_periods++;
    return b->count++;
}

static void bucket_remove(struct sl_profiler *p, int64_t period, uint32_t slot)
{
    struct bucket *b = bucket_get(p, period, false);
    if (!b || slot >= b->count)
        return;
    struct ent *last = b->ents[--b->count];
    if (slot < b->count) {
        b->ents[slot] = last;
        uint32_t *s = slot_of(last, period);
        if (s)
            *s = slot;
    }
    p->st.open_periods--;
    bucket_drop_if_empty(p, b);
}

/* ------------------------------------------------------------------ resolvers */

enum rmode { R_APPLY, R_RESULT, R_GROUP };

struct rctx {
    const struct sl_pdef *pd;
    const struct sl_value *vars;
    const struct sl_stellar_resolver *msg;
    enum rmode mode;
    /* R_GROUP */
    const struct sl_value *extra; /* profile, entity, start, end, duration, result */
};

static const char *const extra_names[] = {"profile", "entity",   "start",
                                          "end",     "duration", "result"};

static bool rget(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    /* Metron's MapVariableResolver(state, transient): the profile variables first, then
     * the message (apply) or the groupBy extras (flush) */
    const struct rctx *c = ud;
    const struct sl_pdef *pd = c->pd;
    for (uint16_t v = 0; v < pd->nvars; v++) {
        if (sym ? pd->var_syms[v] == sym
                : (pd->var_lens[v] == len && !memcmp(pd->var_names[v], name, len))) {
            if (c->vars[v].type != SL_V_NULL) {
                *out = c->vars[v];
                return true;
            }
            break;
        }
    }
    if (c->mode == R_GROUP)
        for (int k = 0; k < 6; k++)
            if (strlen(extra_names[k]) == len && !memcmp(extra_names[k], name, len)) {
                *out = c->extra[k];
                return true;
            }
    if (c->mode != R_APPLY || !c->msg)
        return false;
    if (c->msg->get)
        return c->msg->get(c->msg->ud, sym, name, len, out);
    if (c->msg->event)
        return sl_stellar_event_get((void *)c->msg->event, sym, name, len, out);
    return false;
}

/* ------------------------------------------------------------------ lifecycle */

struct sl_profiler *sl_profiler_new(const struct sl_profiler_def *def,
                                    const struct sl_profiler_opts *o)
{
    struct sl_profiler *p = sl_xcalloc(1, sizeof *p);
    p->def = def;
    p->period_ms = o && o->period_ms > 0 ? o->period_ms : DEFAULT_PERIOD_MS;
    p->ttl_ms = o && o->ttl_ms > 0 ? o->ttl_ms : 0;
    p->max_entities = o ? o->max_entities : 0;
    p->watermark = INT64_MIN;
    sl_arena_init(&p->arena, 16384, 256u << 20);
    sl_buf_init(&p->text, 1u << 20);
    p->slots = sl_xcalloc(64, sizeof *p->slots);
    p->cap = 64;
    p->bytes = chunk_len(64 * sizeof *p->slots);
    return p;
}

static void free_ent(struct sl_profiler *p, struct ent *e)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    while (e->older) {
        struct bld *b = e->older;
        e->older = b->next;
        drop_vars(p, b->vars, pd->nvars);
        p->bytes -= chunk_len(bld_len(pd));
        sl_free(b);
    }
    drop_vars(p, e->vars, pd->nvars);
    p->bytes -= chunk_len(ent_len(pd, e->len));
    sl_free(e);
}

void sl_profiler_free(struct sl_profiler *p)
{
    if (!p)
        return;
    for (struct ent *e = p->head, *n; e; e = n) {
        n = e->next;
        free_ent(p, e);
    }
    for (struct ent *e = p->pending, *n; e; e = n) {
        n = e->next;
        free_ent(p, e);
    }
    for (size_t i = 0; i < p->nbuckets; i++)
        sl_free(p->buckets[i].ents);
    sl_free(p->buckets);
    sl_free(p->slots);
    sl_arena_fini(&p->arena);
    sl_buf_fini(&p->text);
    sl_free(p);
}

/* ------------------------------------------------------------------ routing */

/* the VM's message, copied into the caller's arena (it lives until the next evaluation) */
static int route_error(struct sl_stellar_vm *vm, struct sl_arena *a, const char *what,
                       const char **err)
{
    char b[600];
    snprintf(b, sizeof b, "%s: %s", what, sl_stellar_vm_error(vm));
    const char *s = sl_arena_strndup(a, b, strlen(b));
    *err = s ? s : "onlyif or foreach failed";
    return SL_EEVAL;
}

int sl_profiler_route(const struct sl_profiler_def *def, size_t i, struct sl_stellar_vm *vm,
                      const struct sl_stellar_resolver *msg, struct sl_arena *a,
                      struct sl_str *entity, const char **err)
{
    const struct sl_pdef *pd = &def->profiles[i];
    *err = NULL;
    if (pd->onlyif) {
        bool ok;
        if (sl_stellar_eval_bool(vm, pd->onlyif, msg, a, &ok))
            return route_error(vm, a, "onlyif", err);
        if (!ok)
            return 0;
    }
    struct sl_value v;
    if (sl_stellar_eval(vm, pd->foreach, msg, a, &v))
        return route_error(vm, a, "foreach", err);
    char tmp[40];
    size_t n = 0;
    switch (v.type) {
    case SL_V_NULL:
        *err = "foreach: the entity is null";
        return SL_EEVAL;
    case SL_V_STRING:
        *entity = sl_value_as_str(&v);
        return 1;
    case SL_V_INT:
        n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        break;
    case SL_V_BOOL:
        n = (size_t)snprintf(tmp, sizeof tmp, "%s", v.u.b ? "true" : "false");
        break;
    case SL_V_DOUBLE:
        n = sl_sv_format_double(v.u.d, v.flags & SL_VF_F32, tmp);
        break;
    default: {
        struct sl_buf b;
        sl_buf_init(&b, 1u << 20);
        int rc = sl_sv_format(&v, &b);
        char *s = rc ? NULL : sl_arena_strndup(a, b.ptr ? b.ptr : "", b.len);
        size_t bl = b.len;
        sl_buf_fini(&b);
        if (!s) {
            *err = "foreach: entity text too large or out of memory";
            return rc ? rc : SL_ENOMEM;
        }
        *entity = sl_str_make(s, bl);
        return 1;
    }
    }
    char *s = sl_arena_strndup(a, tmp, n);
    if (!s) {
        *err = "out of memory";
        return SL_ENOMEM;
    }
    *entity = sl_str_make(s, n);
    return 1;
}

int sl_profiler_timestamp(const struct sl_value *field, int64_t *ts_ms)
{
    switch (field->type) {
    case SL_V_INT:
        *ts_ms = field->u.i;
        return 0;
    case SL_V_DOUBLE:
        if (!(field->u.d >= -9.2e18 && field->u.d <= 9.2e18)) /* NaN too */
            return SL_EINVAL;
        *ts_ms = (int64_t)field->u.d;
        return 0;
    case SL_V_TS:
        *ts_ms = floordiv(field->u.ts_ns, 1000000);
        return 0;
    case SL_V_STRING:
        return sl_sv_parse_long(field->u.s, field->len, ts_ms) ? SL_EINVAL : 0;
    default:
        return SL_EINVAL;
    }
}

/* ------------------------------------------------------------------ apply */

static int run_assigns(struct sl_profiler *p, struct sl_stellar_vm *vm, const struct sl_pdef *pd,
                       const struct sl_pdef_assign *as, size_t n, struct sl_value *vars,
                       const struct sl_stellar_resolver *msg)
{
    struct rctx c = {.pd = pd, .vars = vars, .msg = msg, .mode = R_APPLY};
    struct sl_stellar_resolver r = {.get = rget, .ud = &c, .strict = false};
    for (size_t k = 0; k < n; k++) {
        struct sl_value v;
        int rc = sl_stellar_eval(vm, as[k].prog, &r, &p->arena, &v);
        if (rc) {
            snprintf(p->err, sizeof p->err, "%s: %s", as[k].path, sl_stellar_vm_error(vm));
            return rc;
        }
        if (v.type == SL_V_NULL) /* a null result is not stored */
            continue;
        struct sl_value nv;
        rc = own_value(p, &v, &nv);
        if (rc) {
            snprintf(p->err, sizeof p->err, "%s: cannot keep the value: %s", as[k].path,
                     rc == SL_ETYPE ? "a lambda" : sl_strerror(rc));
            return rc;
        }
        drop_value(p, &vars[as[k].var]);
        vars[as[k].var] = nv;
    }
    return 0;
}

static void evict_lru(struct sl_profiler *p)
{
    struct ent *e = p->tail;
    if (!e)
        return;
    lru_unlink(p, e);
    table_del(p, e);
    p->st.evicted++;
    if (!(e->flags & B_OPEN) && !e->older) {
        free_ent(p, e);
        return;
    }
    e->flags |= E_PENDING;
    e->next = p->pending;
    p->pending = e;
}

static struct ent *new_ent(struct sl_profiler *p, size_t prof, struct sl_str entity)
{
    const struct sl_pdef *pd = pdef(p, prof);
    size_t n = ent_len(pd, entity.len);
    struct ent *e = sl_malloc(n);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e + pd->nvars * sizeof(struct sl_value));
    e->prof = (uint16_t)prof;
    e->len = (uint32_t)entity.len;
    memcpy((char *)(e->vars + pd->nvars), entity.ptr, entity.len);
    p->bytes += chunk_len(n);
    return e;
}

/* The builder's variables for the period (created if needed); *flags points at its flags. */
static struct sl_value *builder_for(struct sl_profiler *p, struct ent *e, int64_t period,
                                    uint8_t **flags, int *rc)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    *rc = 0;
    if ((e->flags & B_OPEN) && e->period == period) {
        *flags = &e->flags;
        return e->vars;
    }
    for (struct bld *b = e->older; b; b = b->next)
        if (b->period == period) {
            *flags = &b->flags;
            return b->vars;
        }
    /* a new builder: room in its bucket first, so nothing below can fail half-way */
    if ((*rc = bucket_reserve(p, period)))
        return NULL;
    if (!(e->flags & B_OPEN)) {
        e->flags |= B_OPEN;
        e->flags &= (uint8_t)~B_INIT;
        e->period = period;
        e->slot = bucket_add(p, period, e);
        *flags = &e->flags;
        return e->vars;
    }
    struct bld *b = sl_malloc(bld_len(pd));
    if (!b) {
        bucket_drop_if_empty(p, bucket_get(p, period, false));
        *rc = SL_ENOMEM;
        return NULL;
    }
    memset(b, 0, bld_len(pd));
    /* copies of the current variables (the carried state) */
    for (uint16_t v = 0; v < pd->nvars; v++)
        if (e->vars[v].type != SL_V_NULL && carry_value(p, &e->vars[v], &b->vars[v]))
            b->vars[v] = sl_value_null();
    p->bytes += chunk_len(bld_len(pd));
    if (period > e->period) {
        /* a new period: the current builder becomes an older one; swap the variables so
         * the older keeps its values and the new current starts from the copies */
        for (uint16_t v = 0; v < pd->nvars; v++) {
            struct sl_value t = b->vars[v];
            b->vars[v] = e->vars[v];
            e->vars[v] = t;
        }
        b->period = e->period;
        b->slot = e->slot;
        b->flags = (uint8_t)(e->flags & B_INIT);
        e->period = period;
        e->flags &= (uint8_t)~B_INIT;
        b->next = e->older;
        e->older = b;
        e->slot = bucket_add(p, period, e);
        *flags = &e->flags;
        return e->vars;
    }
    b->period = period;
    b->flags = 0;
    b->next = e->older;
    e->older = b;
    b->slot = bucket_add(p, period, e);
    *flags = &b->flags;
    return b->vars;
}

int sl_profiler_apply(struct sl_profiler *p, size_t i, struct sl_str entity,
                      struct sl_stellar_vm *vm, const struct sl_stellar_resolver *msg,
                      int64_t ts_ms, int64_t now_ms, const char **err)
{
    *err = NULL;
    if (ts_ms > MAX_TS_MS || ts_ms < -MAX_TS_MS) { /* keeps period arithmetic in range */
        *err = "timestamp out of range";
        return SL_ERANGE;
    }
    int64_t period = floordiv(ts_ms, p->period_ms);
    if (p->watermark != INT64_MIN && (period + 1) * p->period_ms <= p->watermark) {
        p->st.late++;
        return SL_PROFILER_LATE;
    }
    if (entity.len > UINT32_MAX / 2) {
        *err = "entity too long";
        return SL_E2BIG;
    }
    const struct sl_pdef *pd = pdef(p, i);
    uint64_t h = ent_hash(i, entity.ptr, entity.len);
    bool found;
    size_t at = probe_find(p, h, i, entity.ptr, entity.len, &found);
    struct ent *e;
    if (found) {
        e = p->slots[at].e;
        if (p->head != e) {
            lru_unlink(p, e);
            lru_push_head(p, e);
        }
    } else {
        if (p->max_entities && p->count >= p->max_entities)
            evict_lru(p);
        if ((p->count + 1) * 4 > p->cap * 3 && table_grow(p) && p->count + 2 > p->cap) {
            *err = "out of memory";
            return SL_ENOMEM;
        }
        e = new_ent(p, i, entity);
        if (!e) {
            *err = "out of memory";
            return SL_ENOMEM;
        }
        at = probe_find(p, h, i, entity.ptr, entity.len, &found);
        p->slots[at] = (struct slot){h, e};
        p->count++;
        lru_push_head(p, e);
    }
    if (now_ms > e->seen_ms) /* the LRU order assumes a clock that never goes back */
        e->seen_ms = now_ms;
    uint8_t *flags;
    int rc;
    struct sl_value *vars = builder_for(p, e, period, &flags, &rc);
    if (!vars) {
        *err = "out of memory";
        return rc;
    }
    p->st.messages++;
    sl_arena_reset(&p->arena);
    if (!(*flags & B_INIT)) {
        rc = run_assigns(p, vm, pd, pd->init, pd->ninit, vars, msg);
        if (!rc)
            *flags |= B_INIT;
    }
    if (!rc)
        rc = run_assigns(p, vm, pd, pd->update, pd->nupdate, vars, msg);
    sl_stellar_vm_release(vm);
    if (rc) {
        p->st.update_errors++;
        *err = p->err;
        return rc < 0 ? rc : SL_EEVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ flush */

static void fail(struct sl_profiler *p, const struct sl_profiler_sink *sink, const struct ent *e,
                 int64_t period, const char *what, const char *why)
{
    p->st.dropped++;
    if (sink && sink->fail)
        sink->fail(sink->ud, e->prof, sl_str_make(ent_text(e, pdef(p, e->prof)), e->len), period,
                   what, why);
}

/* Evaluate the builder's result, triage and groupBy and emit. Returns the emit's answer
 * (non-zero: stop), 0 otherwise; *emitted set when a measurement went out. */
static int flush_one(struct sl_profiler *p, struct sl_stellar_vm *vm, const struct ent *e,
                     const struct sl_value *vars, int64_t period,
                     const struct sl_profiler_sink *sink, bool *emitted)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    *emitted = false;
    sl_arena_reset(&p->arena);
    struct rctx c = {.pd = pd, .vars = vars, .mode = R_RESULT};
    struct sl_stellar_resolver r = {.get = rget, .ud = &c, .strict = false};
    struct sl_value result, triage = sl_value_null();
    char what[300];
    int stop = 0;
    int erc = sl_stellar_eval(vm, pd->result, &r, &p->arena, &result);
    if (erc || result.type == SL_V_NULL) {
        fail(p, sink, e, period, "result", erc ? sl_stellar_vm_error(vm) : "the result is null");
        goto out;
    }
    if (pd->ntriage) {
        struct sl_kv *kv = sl_arena_alloc(&p->arena, pd->ntriage * sizeof *kv);
        if (!kv) {
            fail(p, sink, e, period, "triage", "out of memory");
            goto out;
        }
        for (size_t k = 0; k < pd->ntriage; k++) {
            kv[k].key = sl_str_make(pd->triage[k].name, pd->triage[k].name_len);
            int rc = sl_stellar_eval(vm, pd->triage[k].prog, &r, &p->arena, &kv[k].val);
            if (rc || kv[k].val.type == SL_V_NULL) {
                snprintf(what, sizeof what, "%s", pd->triage[k].path);
                fail(p, sink, e, period, what, rc ? sl_stellar_vm_error(vm) : "null");
                goto out;
            }
        }
        triage = (struct sl_value){.type = SL_V_MAP, .len = (uint32_t)pd->ntriage};
        triage.u.map = kv;
    }
    int64_t start = period * p->period_ms;
    struct sl_value extra[6] = {
        sl_value_str(pd->name, pd->name_len),
        sl_value_str(ent_text(e, pd), e->len),
        sl_value_int(start),
        sl_value_int(start + p->period_ms),
        sl_value_int(p->period_ms),
        result,
    };
    struct rctx gc = {.pd = pd, .vars = vars, .mode = R_GROUP, .extra = extra};
    struct sl_stellar_resolver gr = {.get = rget, .ud = &gc, .strict = false};
    struct sl_value *groups = NULL;
    sl_buf_reset(&p->text);
    sl_buf_putc(&p->text, '[');
    if (pd->ngroup) {
        groups = sl_arena_alloc(&p->arena, pd->ngroup * sizeof *groups);
        if (!groups) {
            fail(p, sink, e, period, "groupBy", "out of memory");
            goto out;
        }
    }
    struct sl_buf one;
    sl_buf_init(&one, 1u << 20);
    for (size_t g = 0; g < pd->ngroup; g++) {
        int rc = sl_stellar_eval(vm, pd->group_by[g], &gr, &p->arena, &groups[g]);
        if (rc || groups[g].type == SL_V_NULL) {
            snprintf(what, sizeof what, "profiles[%zu].groupBy[%zu]",
                     (size_t)(pd - p->def->profiles), g);
            fail(p, sink, e, period, what, rc ? sl_stellar_vm_error(vm) : "null");
            sl_buf_fini(&one);
            goto out;
        }
        sl_buf_reset(&one);
        if (g)
            sl_buf_putc(&p->text, ',');
        if (sl_sv_format(&groups[g], &one)) {
            fail(p, sink, e, period, "groupBy", "group text too large");
            sl_buf_fini(&one);
            goto out;
        }
        /* a JSON string literal of the group's text */
        sl_buf_putc(&p->text, '"');
        for (size_t k = 0; k < one.len; k++) {
            unsigned char ch = (unsigned char)one.ptr[k];
            if (ch == '"' || ch == '\\')
                sl_buf_appendf(&p->text, "\\%c", ch);
            else if (ch < 0x20)
                sl_buf_appendf(&p->text, "\\u%04x", ch);
            else
                sl_buf_putc(&p->text, (char)ch);
        }
        sl_buf_putc(&p->text, '"');
    }
    sl_buf_fini(&one);
    if (sl_buf_putc(&p->text, ']')) {
        fail(p, sink, e, period, "groupBy", "group text too large");
        goto out;
    }
    struct sl_profile_result res = {
        .m =
            {
                .profile = sl_str_make(pd->name, pd->name_len),
                .entity = sl_str_make(ent_text(e, pd), e->len),
                .groups = sl_str_make(p->text.ptr, p->text.len),
                .period = period,
                .duration_ms = p->period_ms,
                .start_ms = start,
                .end_ms = start + p->period_ms,
                .value = result,
            },
        .profile_index = e->prof,
        .triage = triage,
        .groups = groups,
        .ngroups = pd->ngroup,
    };
    p->st.measurements++;
    *emitted = true;
    stop = sink && sink->emit ? sink->emit(sink->ud, &res) : 0;
out:
    sl_stellar_vm_release(vm);
    return stop;
}

/* Flush the builder of entity e for `period` and close it. */
static int close_builder(struct sl_profiler *p, struct sl_stellar_vm *vm, struct ent *e,
                         int64_t period, const struct sl_profiler_sink *sink, size_t *nemit)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    bool emitted;
    int stop;
    if ((e->flags & B_OPEN) && e->period == period) {
        stop = flush_one(p, vm, e, e->vars, period, sink, &emitted);
        bucket_remove(p, period, e->slot);
        e->flags &= (uint8_t) ~(B_OPEN | B_INIT); /* the variables stay (METRON-668) */
    } else {
        struct bld **pb = &e->older;
        while (*pb && (*pb)->period != period)
            pb = &(*pb)->next;
        if (!*pb)
            return 0;
        struct bld *b = *pb;
        stop = flush_one(p, vm, e, b->vars, period, sink, &emitted);
        bucket_remove(p, period, b->slot);
        *pb = b->next;
        drop_vars(p, b->vars, pd->nvars);
        p->bytes -= chunk_len(bld_len(pd));
        sl_free(b);
    }
    *nemit += emitted;
    return stop;
}

/* Flush every builder of e, periods in order. */
static int close_all_of(struct sl_profiler *p, struct sl_stellar_vm *vm, struct ent *e,
                        const struct sl_profiler_sink *sink, size_t *nemit)
{
    for (;;) {
        int64_t lo = INT64_MAX;
        bool any = false;
        if (e->flags & B_OPEN) {
            lo = e->period;
            any = true;
        }
        for (struct bld *b = e->older; b; b = b->next)
            if (b->period < lo) {
                lo = b->period;
                any = true;
            }
        if (!any)
            return 0;
        int stop = close_builder(p, vm, e, lo, sink, nemit);
        if (stop)
            return stop;
    }
}

static int flush_pending(struct sl_profiler *p, struct sl_stellar_vm *vm,
                         const struct sl_profiler_sink *sink, size_t *nemit)
{
    while (p->pending) {
        struct ent *e = p->pending;
        int stop = close_all_of(p, vm, e, sink, nemit);
        if (stop)
            return stop;
        p->pending = e->next;
        free_ent(p, e);
    }
    return 0;
}

static void forget(struct sl_profiler *p, struct ent *e)
{
    lru_unlink(p, e);
    table_del(p, e);
    free_ent(p, e);
}

size_t sl_profiler_advance(struct sl_profiler *p, struct sl_stellar_vm *vm, int64_t watermark_ms,
                           int64_t now_ms, const struct sl_profiler_sink *sink)
{
    size_t n = 0;
    if (watermark_ms > p->watermark)
        p->watermark = watermark_ms;
    if (flush_pending(p, vm, sink, &n))
        return n;
    while (p->nbuckets && (p->buckets[0].period + 1) * p->period_ms <= p->watermark) {
        struct bucket *b = &p->buckets[0];
        if (!b->count) { /* defensive: buckets are never left empty */
            bucket_drop_if_empty(p, b);
            continue;
        }
        int64_t period = b->period;
        struct ent *e = b->ents[b->count - 1];
        /* close_builder removes the slot; the bucket may go away with its last builder */
        if (close_builder(p, vm, e, period, sink, &n))
            return n;
    }
    if (p->ttl_ms) {
        /* now_ms may come from a restored checkpoint (its max event time): no overflow */
        int64_t cutoff = now_ms < INT64_MIN + p->ttl_ms ? INT64_MIN : now_ms - p->ttl_ms;
        while (p->tail && p->tail->seen_ms < cutoff) {
            struct ent *e = p->tail;
            if (close_all_of(p, vm, e, sink, &n))
                return n;
            forget(p, e);
            p->st.expired++;
        }
    }
    return n;
}

size_t sl_profiler_flush_all(struct sl_profiler *p, struct sl_stellar_vm *vm,
                             const struct sl_profiler_sink *sink)
{
    size_t n = 0;
    if (flush_pending(p, vm, sink, &n))
        return n;
    while (p->nbuckets) {
        struct bucket *b = &p->buckets[0];
        if (!b->count) {
            bucket_drop_if_empty(p, b);
            continue;
        }
        if (close_builder(p, vm, b->ents[b->count - 1], b->period, sink, &n))
            return n;
    }
    return n;
}

void sl_profiler_get_stats(const struct sl_profiler *p, struct sl_profiler_stats *st)
{
    *st = p->st;
    st->entities = p->count;
    /* plus the fixed part: the engine, its evaluation arena and text buffer */
    st->bytes = p->bytes + chunk_len(sizeof *p) + p->arena.total_len + p->text.cap;
}

int64_t sl_profiler_next_close(const struct sl_profiler *p)
{
    return p->nbuckets ? (p->buckets[0].period + 1) * p->period_ms : INT64_MAX;
}

/* ------------------------------------------------------------------ snapshots */

/*
 * Layout (statecodec.h's primitives, little-endian):
 *   "SLPE" u8 version 1; i64 next_offset, max_ts, wm (the caller's checkpoint); i64 watermark;
 *   u32 profiles: (str name; u16 variables: str name each);
 *   u64 entities: (u8 pending; u16 profile; str entity; i64 seen_ms; u8 flags; i64 period;
 *                  value x variables; u32 older: (i64 period; u8 flags; value x variables))
 * Entities in LRU order (most recent first), then the evicted ones waiting for their flush.
 * Profiles and variables go by name, so a snapshot survives a profiler.json that gained or
 * reordered profiles or variables.
 */
#define SNAP_MAGIC "SLPE"

static int snap_vars(struct sl_buf *b, const struct sl_value *vars, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = sl_sc_put_value(b, &vars[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int snap_ent(const struct sl_profiler *p, struct sl_buf *b, const struct ent *e,
                    bool pending)
{
    const struct sl_pdef *pd = pdef(p, e->prof);
    uint32_t nolder = 0;
    for (const struct bld *x = e->older; x; x = x->next)
        nolder++;
    int rc = sl_binwr_u8(b, pending ? 1 : 0);
    rc = rc ? rc : sl_binwr_u16(b, e->prof);
    rc = rc ? rc : sl_binwr_str(b, ent_text(e, pd), e->len);
    rc = rc ? rc : sl_binwr_u64(b, (uint64_t)e->seen_ms);
    rc = rc ? rc : sl_binwr_u8(b, (uint8_t)(e->flags & (B_OPEN | B_INIT)));
    rc = rc ? rc : sl_binwr_u64(b, (uint64_t)e->period);
    rc = rc ? rc : snap_vars(b, e->vars, pd->nvars);
    rc = rc ? rc : sl_binwr_u32(b, nolder);
    for (const struct bld *x = e->older; x && !rc; x = x->next) {
        rc = sl_binwr_u64(b, (uint64_t)x->period);
        rc = rc ? rc : sl_binwr_u8(b, (uint8_t)(x->flags & B_INIT));
        rc = rc ? rc : snap_vars(b, x->vars, pd->nvars);
    }
    return rc;
}

int sl_profiler_snapshot(const struct sl_profiler *p, const struct sl_profiler_ckpt *k,
                         struct sl_buf *out)
{
    const struct sl_profiler_def *def = p->def;
    size_t np = sl_profiler_def_count(def);
    int rc = sl_buf_append(out, SNAP_MAGIC, 4);
    rc = rc ? rc : sl_binwr_u8(out, 1);
    rc = rc ? rc : sl_binwr_u64(out, (uint64_t)k->next_offset);
    rc = rc ? rc : sl_binwr_u64(out, (uint64_t)k->max_ts);
    rc = rc ? rc : sl_binwr_u64(out, (uint64_t)k->wm);
    rc = rc ? rc : sl_binwr_u64(out, (uint64_t)p->watermark);
    rc = rc ? rc : sl_binwr_u32(out, (uint32_t)np);
    for (size_t i = 0; i < np && !rc; i++) {
        const struct sl_pdef *pd = &def->profiles[i];
        rc = sl_binwr_str(out, pd->name, pd->name_len);
        rc = rc ? rc : sl_binwr_u16(out, pd->nvars);
        for (uint16_t v = 0; v < pd->nvars && !rc; v++)
            rc = sl_binwr_str(out, pd->var_names[v], pd->var_lens[v]);
    }
    uint64_t n = p->count;
    for (const struct ent *e = p->pending; e; e = e->next)
        n++;
    rc = rc ? rc : sl_binwr_u64(out, n);
    for (const struct ent *e = p->head; e && !rc; e = e->next)
        rc = snap_ent(p, out, e, false);
    for (const struct ent *e = p->pending; e && !rc; e = e->next)
        rc = snap_ent(p, out, e, true);
    return rc;
}

/* A profile of the snapshot: the current index (-1: gone) and its variables' (-1: gone). */
struct snap_prof {
    int32_t index;
    uint16_t nvars;
    int32_t *vars;
};

/* Read n values; each that maps to a current variable is copied (owned) into vars. */
static int restore_vars(struct sl_profiler *p, struct sl_binrd *r, struct sl_arena *a,
                        const struct snap_prof *sp, struct sl_value *vars, const char **why)
{
    for (uint16_t j = 0; j < sp->nvars; j++) {
        struct sl_value v;
        int rc = sl_sc_get_value(r, a, &v);
        if (rc) {
            *why = r->why ? r->why : "bad value";
            return rc;
        }
        if (vars && sp->vars[j] >= 0 && v.type != SL_V_NULL) {
            rc = own_value(p, &v, &vars[sp->vars[j]]);
            if (rc) {
                sl_sc_value_release(&v);
                *why = "a variable could not be copied";
                return rc;
            }
        }
        sl_sc_value_release(&v);
    }
    return 0;
}

static void lru_push_tail(struct sl_profiler *p, struct ent *e)
{
    e->next = NULL;
    e->prev = p->tail;
    if (p->tail)
        p->tail->next = e;
    p->tail = e;
    if (!p->head)
        p->head = e;
}

int sl_profiler_restore(struct sl_profiler *p, const void *data, size_t len,
                        struct sl_profiler_ckpt *ck, uint64_t *skipped, struct sl_diag *d)
{
    struct sl_binrd r;
    struct sl_arena a, va; /* the profile table; the values of one entity */
    sl_arena_init(&a, 4096, 64u << 20);
    sl_arena_init(&va, 16384, 512u << 20);
    sl_binrd_init(&r, data, len);
    const char *why = NULL;
    int rc = SL_EPARSE;
    *skipped = 0;
    if (p->count || p->pending || p->nbuckets) {
        sl_arena_fini(&a);
        sl_arena_fini(&va);
        return sl_diag_set(d, SL_EINVAL, "profiler snapshot: the engine is not empty");
    }
    const uint8_t *m = sl_binrd_take(&r, 4);
    if (!m || memcmp(m, SNAP_MAGIC, 4) != 0 || sl_binrd_u8(&r) != 1) {
        why = "not a profiler snapshot (magic or version)";
        goto fail;
    }
    ck->next_offset = sl_binrd_i64(&r);
    ck->max_ts = sl_binrd_i64(&r);
    ck->wm = sl_binrd_i64(&r);
    int64_t wm = sl_binrd_i64(&r);
    uint32_t np = sl_binrd_count(&r, 6);
    if (!r.ok || np > 65535)
        goto bad;
    struct snap_prof *sp = np ? sl_arena_alloc(&a, np * sizeof *sp) : NULL;
    if (np && !sp) {
        rc = SL_ENOMEM;
        goto fail;
    }
    size_t ncur = sl_profiler_def_count(p->def);
    for (uint32_t i = 0; i < np; i++) {
        struct sl_str name = sl_binrd_str(&r, 1u << 16);
        uint16_t nv = sl_binrd_u16(&r);
        if (!r.ok || (size_t)nv * 4 > r.n - r.pos)
            goto bad;
        sp[i].index = -1;
        sp[i].nvars = nv;
        sp[i].vars = nv ? sl_arena_alloc(&a, nv * sizeof(int32_t)) : NULL;
        if (nv && !sp[i].vars) {
            rc = SL_ENOMEM;
            goto fail;
        }
        for (size_t k = 0; k < ncur; k++)
            if (pdef(p, k)->name_len == name.len && !memcmp(pdef(p, k)->name, name.ptr, name.len))
                sp[i].index = (int32_t)k;
        for (uint16_t j = 0; j < nv; j++) {
            struct sl_str vn = sl_binrd_str(&r, 1u << 16);
            if (!r.ok)
                goto bad;
            sp[i].vars[j] = -1;
            if (sp[i].index < 0)
                continue;
            const struct sl_pdef *pd = pdef(p, (size_t)sp[i].index);
            for (uint16_t k = 0; k < pd->nvars; k++)
                if (pd->var_lens[k] == vn.len && !memcmp(pd->var_names[k], vn.ptr, vn.len))
                    sp[i].vars[j] = k;
        }
    }
    uint64_t n = sl_binrd_u64(&r);
    if (!r.ok || n > (r.n - r.pos) / 26) {
        why = "entity count larger than the snapshot";
        goto fail;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint8_t pend = sl_binrd_u8(&r);
        uint16_t pi = sl_binrd_u16(&r);
        struct sl_str text = sl_binrd_str(&r, UINT32_MAX / 2);
        int64_t seen = sl_binrd_i64(&r);
        uint8_t flags = sl_binrd_u8(&r);
        int64_t period = sl_binrd_i64(&r);
        if (!r.ok)
            goto bad;
        if (pend > 1 || pi >= np || (flags & ~(B_OPEN | B_INIT)) ||
            period > MAX_TS_MS / p->period_ms || period < -MAX_TS_MS / p->period_ms) {
            why = "bad entity record";
            goto fail;
        }
        const struct snap_prof *sprof = &sp[pi];
        struct ent *e = NULL;
        if (sprof->index >= 0) {
            size_t prof = (size_t)sprof->index;
            uint64_t h = ent_hash(prof, text.ptr, text.len);
            bool found;
            if ((p->count + 1) * 4 > p->cap * 3 && table_grow(p)) {
                rc = SL_ENOMEM;
                goto fail;
            }
            size_t at = probe_find(p, h, prof, text.ptr, text.len, &found);
            if (found) {
                why = "an entity appears twice";
                goto fail;
            }
            e = new_ent(p, prof, text);
            if (!e) {
                rc = SL_ENOMEM;
                goto fail;
            }
            e->seen_ms = seen;
            if (pend) {
                e->flags |= E_PENDING;
                e->next = p->pending;
                p->pending = e;
            } else {
                p->slots[at] = (struct slot){h, e};
                p->count++;
                lru_push_tail(p, e);
            }
            if (flags & B_OPEN) {
                if ((rc = bucket_reserve(p, period)))
                    goto fail;
                e->flags |= (uint8_t)(flags & (B_OPEN | B_INIT));
                e->period = period;
                e->slot = bucket_add(p, period, e);
            }
        } else {
            ++*skipped;
        }
        if ((rc = restore_vars(p, &r, &va, sprof, e ? e->vars : NULL, &why)))
            goto fail;
        uint32_t nold = sl_binrd_count(&r, 9);
        if (!r.ok)
            goto bad;
        for (uint32_t k = 0; k < nold; k++) {
            int64_t op = sl_binrd_i64(&r);
            uint8_t of = sl_binrd_u8(&r);
            if (!r.ok)
                goto bad;
            if ((of & ~B_INIT) || op > MAX_TS_MS / p->period_ms || op < -MAX_TS_MS / p->period_ms ||
                (e && slot_of(e, op))) {
                why = "bad builder record (flags, or a period twice)";
                goto fail;
            }
            struct bld *b = NULL;
            if (e) {
                const struct sl_pdef *pd = pdef(p, e->prof);
                if ((rc = bucket_reserve(p, op)))
                    goto fail;
                b = sl_malloc(bld_len(pd));
                if (!b) {
                    bucket_drop_if_empty(p, bucket_get(p, op, false));
                    rc = SL_ENOMEM;
                    goto fail;
                }
                memset(b, 0, bld_len(pd));
                p->bytes += chunk_len(bld_len(pd));
                b->period = op;
                b->flags = of;
                b->next = e->older;
                e->older = b;
                b->slot = bucket_add(p, op, e);
            }
            if ((rc = restore_vars(p, &r, &va, sprof, b ? b->vars : NULL, &why)))
                goto fail;
        }
        sl_arena_reset(&va);
    }
    if (r.pos != r.n) {
        why = "trailing bytes";
        goto fail;
    }
    p->watermark = wm;
    sl_arena_fini(&a);
    sl_arena_fini(&va);
    return 0;
bad:
    why = r.why ? r.why : "bad snapshot";
fail:
    sl_arena_fini(&a);
    sl_arena_fini(&va);
    if (rc == SL_ENOMEM)
        return sl_diag_set(d, SL_ENOMEM, "profiler snapshot: out of memory");
    return sl_diag_set(d, SL_EPARSE, "profiler snapshot: %s at byte %zu", why ? why : "bad record",
                       r.pos);
}
