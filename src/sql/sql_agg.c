/*
 * sql_agg.c — ksqlDB's aggregate functions over fixed-size inline states (see sql_agg.h).
 *
 * DESIGN: each function is a const descriptor (bind/init/add/merge/result/bytes/fini) over a
 * state of at most SL_SQL_AGG_STATE bytes that the caller places in its group or window entry
 * (8-byte aligned). Scalar states (COUNT, SUM, AVG) never allocate. States that keep values
 * (MIN/MAX of strings, TOPK, LATEST/EARLIEST_BY_OFFSET, COLLECT_*) keep *heap copies*: a
 * state lives as long as its group, far longer than the row's arena, and is freed on its
 * own, so each kept value is copied into one heap block ("flat copy": the arrays of a nested
 * value first, then its strings) that a single sl_free releases. COUNT_DISTINCT keeps an
 * open-addressing set of each value's canonical byte encoding (type tag + payload, lengths
 * prefixed) in one byte pool: exact, where ksqlDB's HyperLogLog is approximate (about 2 %);
 * the price is memory growing with the number of distinct values, which bytes() reports.
 *
 * Deviations from ksqlDB, on purpose:
 *   - COUNT_DISTINCT is exact (see above).
 *   - COLLECT_LIST / COLLECT_SET keep at most SL_SQL_AGG_COLLECT_MAX (1000) entries, later
 *     values are ignored silently: ksqlDB's `ksql.functions.collect_list.limit` as Confluent
 *     Cloud sets it (self-managed ksqlDB defaults to unlimited). COLLECT_LIST keeps NULLs,
 *     COLLECT_SET keeps one NULL, as ksqlDB's UDAFs do.
 *   - TOPK / TOPKDISTINCT and LATEST/EARLIEST_BY_OFFSET's n are capped at the same 1000.
 *   - Strings order by bytes (UTF-8), Java by UTF-16 code units: they differ only between
 *     characters above U+FFFF and those in U+E000..U+FFFF.
 *
 * Merging (session windows): COUNT/SUM/AVG add; MIN/MAX compare; TOPK re-inserts; COUNT_
 * DISTINCT unions; LATEST/EARLIEST keep the entries with the highest/lowest arrival sequence;
 * COLLECT_LIST appends src after dst up to the cap (ksqlDB's merge); COLLECT_SET adds src's
 * values that dst lacks.
 *
 * Threads: descriptors are immutable; a state belongs to the thread that owns its group.
 */
#include "sql/sql_agg.h"

#include "base/alloc.h"
#include "base/hash.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ heap copies of values */

static bool hv_is_heap(const struct sl_value *v)
{
    return (v->type == SL_V_STRING || v->type == SL_V_BYTES || v->type == SL_V_LIST ||
            v->type == SL_V_MAP) &&
           v->len > 0;
}

static void hv_measure(const struct sl_value *v, size_t *arr, size_t *str)
{
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        *str += v->len;
        break;
    case SL_V_LIST:
        *arr += (size_t)v->len * sizeof(struct sl_value);
        for (uint32_t i = 0; i < v->len; i++)
            hv_measure(&v->u.list[i], arr, str);
        break;
    case SL_V_MAP:
        *arr += (size_t)v->len * sizeof(struct sl_kv);
        for (uint32_t i = 0; i < v->len; i++) {
            *str += v->u.map[i].key.len;
            hv_measure(&v->u.map[i].val, arr, str);
        }
        break;
    default:
        break;
    }
}

/* heap bytes of a flat copy of v (0 for scalars) */
static size_t hv_bytes(const struct sl_value *v)
{
    if (!hv_is_heap(v))
        return 0;
    size_t arr = 0, str = 0;
    hv_measure(v, &arr, &str);
    return arr + str;
}

static void hv_fill(const struct sl_value *src, struct sl_value *dst, char **ac, char **sc)
{
    *dst = *src;
    switch (src->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        if (src->len)
            memcpy(*sc, src->u.s, src->len);
        dst->u.s = src->len ? *sc : "";
        *sc += src->len;
        break;
    case SL_V_LIST: {
        struct sl_value *l = src->len ? (struct sl_value *)(void *)*ac : NULL;
        *ac += (size_t)src->len * sizeof(*l);
        for (uint32_t i = 0; i < src->len; i++)
            hv_fill(&src->u.list[i], &l[i], ac, sc);
        dst->u.list = l;
        break;
    }
    case SL_V_MAP: {
        struct sl_kv *m = src->len ? (struct sl_kv *)(void *)*ac : NULL;
        *ac += (size_t)src->len * sizeof(*m);
        for (uint32_t i = 0; i < src->len; i++) {
            size_t kl = src->u.map[i].key.len;
            if (kl)
                memcpy(*sc, src->u.map[i].key.ptr, kl);
            m[i].key = sl_str_make(kl ? *sc : "", kl);
            *sc += kl;
            hv_fill(&src->u.map[i].val, &m[i].val, ac, sc);
        }
        dst->u.map = m;
        break;
    }
    default:
        break;
    }
}

/* Copy v into one heap block owned by *dst (scalars: no block). 0 or SL_ENOMEM. */
static int hv_copy(const struct sl_value *v, struct sl_value *dst)
{
    if (!hv_is_heap(v)) {
        *dst = *v;
        if (v->type == SL_V_STRING || v->type == SL_V_BYTES)
            dst->u.s = "";
        else if (v->type == SL_V_LIST)
            dst->u.list = NULL;
        else if (v->type == SL_V_MAP)
            dst->u.map = NULL;
        return 0;
    }
    size_t arr = 0, str = 0;
    hv_measure(v, &arr, &str);
    char *block = sl_malloc(arr + str);
    if (!block)
        return SL_ENOMEM;
    char *ac = block, *sc = block + arr;
    hv_fill(v, dst, &ac, &sc);
    return 0;
}

static void hv_free(struct sl_value *v)
{
    if (hv_is_heap(v)) {
        switch (v->type) {
        case SL_V_LIST:
            sl_free(v->u.list);
            break;
        case SL_V_MAP:
            sl_free(v->u.map);
            break;
        default:
            sl_free((void *)v->u.s);
            break;
        }
    }
    *v = sl_value_null();
}

/*
 * A single kept value whose block is reused: MIN/MAX and LATEST/EARLIEST_BY_OFFSET replace
 * their value often (LATEST on every row), and a malloc/free pair per row was the cost of
 * LATEST_BY_OFFSET over strings (bench_sql_agg: 31 ns/add and one allocation per add before;
 * the block now only grows, or shrinks when a value needs under a quarter of it).
 */
struct hslot {
    struct sl_value v;
    char *block;
    uint32_t cap;
    bool has; /* a value (possibly NULL) was taken */
};

static void hslot_init(struct hslot *h)
{
    h->v = sl_value_null();
    h->block = NULL;
    h->cap = 0;
    h->has = false;
}

static int hslot_set(struct hslot *h, const struct sl_value *v)
{
    size_t arr = 0, str = 0;
    if (hv_is_heap(v))
        hv_measure(v, &arr, &str);
    size_t need = arr + str;
    if (need > h->cap || (need && need * 4 < h->cap && h->cap > 256)) {
        if (need > UINT32_MAX)
            return SL_E2BIG;
        char *nb = sl_malloc(need);
        if (!nb)
            return SL_ENOMEM;
        sl_free(h->block);
        h->block = nb;
        h->cap = (uint32_t)need;
    }
    if (!need)
        return hv_copy(v, &h->v); /* no memory needed */
    char *ac = h->block, *sc = h->block + arr;
    hv_fill(v, &h->v, &ac, &sc);
    return 0;
}

static void hslot_fini(struct hslot *h)
{
    sl_free(h->block);
    hslot_init(h);
}

/* ------------------------------------------------------------------ ordering */

static bool is_num(const struct sl_value *v)
{
    return v->type == SL_V_INT || v->type == SL_V_DOUBLE;
}

static int cmp_double(double a, double b)
{
    /* Java's Double.compareTo: NaN above everything */
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

/* Total order of values of one SQL type (numbers across INT/DOUBLE, strings/bytes by bytes). */
static int vcmp(const struct sl_value *a, const struct sl_value *b)
{
    if (is_num(a) && is_num(b)) {
        if (a->type == SL_V_INT && b->type == SL_V_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        double x = a->type == SL_V_INT ? (double)a->u.i : a->u.d;
        double y = b->type == SL_V_INT ? (double)b->u.i : b->u.d;
        return cmp_double(x, y);
    }
    if (a->type != b->type)
        return (a->type > b->type) - (a->type < b->type);
    switch (a->type) {
    case SL_V_BOOL:
        return (int)a->u.b - (int)b->u.b;
    case SL_V_TS:
        return (a->u.ts_ns > b->u.ts_ns) - (a->u.ts_ns < b->u.ts_ns);
    case SL_V_STRING:
    case SL_V_BYTES: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    case SL_V_LIST: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        for (uint32_t i = 0; i < n; i++) {
            int c = vcmp(&a->u.list[i], &b->u.list[i]);
            if (c)
                return c;
        }
        return (a->len > b->len) - (a->len < b->len);
    }
    default:
        return 0;
    }
}

/* Equality for TOPKDISTINCT / COLLECT_SET (numbers across widths). */
static bool veq(const struct sl_value *a, const struct sl_value *b)
{
    if (is_num(a) && is_num(b))
        return vcmp(a, b) == 0;
    return sl_value_equal(a, b);
}

/* ------------------------------------------------------------------ types */

static bool kind_numeric(enum sl_sql_tkind k)
{
    return k == SL_SQL_T_INT || k == SL_SQL_T_BIGINT || k == SL_SQL_T_DOUBLE ||
           k == SL_SQL_T_DECIMAL;
}

static bool kind_comparable(enum sl_sql_tkind k)
{
    return kind_numeric(k) || k == SL_SQL_T_STRING || k == SL_SQL_T_TIMESTAMP ||
           k == SL_SQL_T_DATE || k == SL_SQL_T_TIME || k == SL_SQL_T_BYTES || k == SL_SQL_T_BOOLEAN;
}

static const char *kind_name(enum sl_sql_tkind k)
{
    static const char *const names[] = {
#define SL_SQL_T_NAME(n, s) s,
        SL_SQL_TYPES(SL_SQL_T_NAME)
#undef SL_SQL_T_NAME
    };
    return (unsigned)k < SL_SQL_T__COUNT ? names[k] : "?";
}

static struct sl_sql_type *type_new(struct sl_arena *a, enum sl_sql_tkind k)
{
    struct sl_sql_type *t = sl_arena_alloc(a, sizeof(*t));
    if (t) {
        memset(t, 0, sizeof(*t));
        t->kind = k;
    }
    return t;
}

static struct sl_sql_type *type_dup(struct sl_arena *a, const struct sl_sql_type *src)
{
    struct sl_sql_type *t = sl_arena_alloc(a, sizeof(*t));
    if (t)
        *t = *src;
    return t;
}

static struct sl_sql_type *type_array_of(struct sl_arena *a, const struct sl_sql_type *elem)
{
    struct sl_sql_type *t = type_new(a, SL_SQL_T_ARRAY);
    if (!t)
        return NULL;
    t->elem = type_dup(a, elem);
    return t->elem ? t : NULL;
}

/* an INT result carries SL_VF_I32, BIGINT does not */
static void set_int_flags(enum sl_sql_tkind k, struct sl_value *v)
{
    if (v->type == SL_V_INT)
        v->flags = k == SL_SQL_T_INT ? SL_VF_I32 : (k == SL_SQL_T_BIGINT ? 0 : v->flags);
}

static int64_t as_i64(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return v->u.i;
    if (v->type == SL_V_DOUBLE) {
        double d = v->u.d;
        if (isnan(d))
            return 0;
        if (d >= 9223372036854775807.0)
            return INT64_MAX;
        if (d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)d;
    }
    if (v->type == SL_V_BOOL)
        return v->u.b;
    return 0;
}

static double as_f64(const struct sl_value *v)
{
    if (v->type == SL_V_DOUBLE)
        return v->u.d;
    if (v->type == SL_V_INT)
        return (double)v->u.i;
    return 0;
}

static bool is_null(const struct sl_value *v)
{
    return !v || v->type == SL_V_NULL;
}

/* ------------------------------------------------------------------ bind helpers */

static int bind_common(const char *name, const struct sl_sql_type *const *argt,
                       struct sl_sql_aggcfg *cfg, struct sl_diag *d)
{
    (void)name;
    (void)d;
    memset(cfg, 0, sizeof(*cfg));
    cfg->fn = sl_sql_agg_find(name);
    cfg->in = argt && argt[0] ? argt[0]->kind : SL_SQL_T_UNKNOWN;
    cfg->nvalue_args = 1;
    cfg->ignore_nulls = true;
    return 0;
}

static int need_arg(const char *name, const struct sl_sql_type *const *argt, uint32_t nargs,
                    bool star, struct sl_diag *d)
{
    if (star || nargs < 1 || !argt || !argt[0])
        return sl_diag_set(d, SL_ETYPE, "%s expects a column or expression argument", name);
    return 0;
}

static bool const_int(const struct sl_value *const *consts, uint32_t i, int64_t *out)
{
    if (!consts || !consts[i] || consts[i]->type != SL_V_INT)
        return false;
    *out = consts[i]->u.i;
    return true;
}

static bool const_bool(const struct sl_value *const *consts, uint32_t i, bool *out)
{
    if (!consts || !consts[i] || consts[i]->type != SL_V_BOOL)
        return false;
    *out = consts[i]->u.b;
    return true;
}

/* ------------------------------------------------------------------ COUNT */

struct count_state {
    int64_t n;
};

static int count_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                      uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                      struct sl_diag *d)
{
    bind_common("COUNT", nargs ? argt : NULL, cfg, d);
    /* COUNT(*), COUNT() and COUNT(<non-NULL literal>) count rows */
    cfg->star = star || nargs == 0 || (consts && consts[0] && consts[0]->type != SL_V_NULL);
    if (nargs > 1)
        return sl_diag_set(d, SL_ETYPE, "COUNT expects at most 1 argument, got %u", nargs);
    cfg->nvalue_args = cfg->star ? 0 : 1;
    if (cfg->star)
        cfg->in = SL_SQL_T_UNKNOWN;
    if (!(cfg->out = type_new(types, SL_SQL_T_BIGINT)))
        return SL_ENOMEM;
    return 0;
}

static void count_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    ((struct count_state *)state)->n = 0;
}

static int count_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                     uint64_t seq)
{
    (void)seq;
    if (cfg->star || !is_null(v))
        ((struct count_state *)state)->n++;
    return 0;
}

static int count_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    (void)cfg;
    ((struct count_state *)dst)->n += ((const struct count_state *)src)->n;
    return 0;
}

static int count_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                        struct sl_value *out)
{
    (void)cfg;
    (void)a;
    *out = sl_value_int(((const struct count_state *)state)->n);
    return 0;
}

static size_t no_bytes(const struct sl_sql_aggcfg *cfg, const void *state)
{
    (void)cfg;
    (void)state;
    return 0;
}

static void no_fini(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    (void)state;
}

/* ------------------------------------------------------------------ SUM */

struct sum_state {
    union {
        int64_t i;
        double d;
    } u;
};

static bool sum_is_int(const struct sl_sql_aggcfg *cfg)
{
    return cfg->in == SL_SQL_T_INT || cfg->in == SL_SQL_T_BIGINT;
}

static int sum_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                    uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                    struct sl_diag *d)
{
    (void)consts;
    int rc = need_arg("SUM", argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 1)
        return sl_diag_set(d, SL_ETYPE, "SUM expects 1 argument, got %u", nargs);
    bind_common("SUM", argt, cfg, d);
    if (!kind_numeric(cfg->in))
        return sl_diag_set(d, SL_ETYPE, "SUM expects INTEGER, BIGINT, DOUBLE or DECIMAL, got %s",
                           kind_name(cfg->in));
    if (!(cfg->out = type_dup(types, argt[0])))
        return SL_ENOMEM;
    return 0;
}

static void sum_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    struct sum_state *s = state;
    if (sum_is_int(cfg))
        s->u.i = 0;
    else
        s->u.d = 0;
}

static int64_t sum_i(const struct sl_sql_aggcfg *cfg, int64_t a, int64_t b)
{
    uint64_t r = (uint64_t)a + (uint64_t)b; /* Java wraps: no UB here */
    if (cfg->in == SL_SQL_T_INT)
        return (int64_t)(int32_t)(uint32_t)r;
    return (int64_t)r;
}

static int sum_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                   uint64_t seq)
{
    (void)seq;
    struct sum_state *s = state;
    if (is_null(v) || !is_num(v))
        return 0;
    if (sum_is_int(cfg))
        s->u.i = sum_i(cfg, s->u.i, as_i64(v));
    else
        s->u.d += as_f64(v);
    return 0;
}

static int sum_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    struct sum_state *a = dst;
    const struct sum_state *b = src;
    if (sum_is_int(cfg))
        a->u.i = sum_i(cfg, a->u.i, b->u.i);
    else
        a->u.d += b->u.d;
    return 0;
}

static int sum_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                      struct sl_value *out)
{
    (void)a;
    const struct sum_state *s = state;
    if (sum_is_int(cfg)) {
        *out = sl_value_int(s->u.i);
        set_int_flags(cfg->in, out);
    } else {
        *out = sl_value_double(s->u.d);
    }
    return 0;
}

/* ------------------------------------------------------------------ AVG */

struct avg_state {
    union {
        int64_t i; /* integer inputs: INT wraps as ksqlDB's int sum does, BIGINT as long */
        double d;
    } sum;
    int64_t n;
};

static int avg_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                    uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                    struct sl_diag *d)
{
    (void)consts;
    int rc = need_arg("AVG", argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 1)
        return sl_diag_set(d, SL_ETYPE, "AVG expects 1 argument, got %u", nargs);
    bind_common("AVG", argt, cfg, d);
    if (!kind_numeric(cfg->in))
        return sl_diag_set(d, SL_ETYPE, "AVG expects INTEGER, BIGINT, DOUBLE or DECIMAL, got %s",
                           kind_name(cfg->in));
    if (!(cfg->out = type_new(types, SL_SQL_T_DOUBLE)))
        return SL_ENOMEM;
    return 0;
}

static void avg_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    memset(state, 0, sizeof(struct avg_state));
}

static int avg_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                   uint64_t seq)
{
    (void)seq;
    struct avg_state *s = state;
    if (is_null(v) || !is_num(v))
        return 0;
    if (sum_is_int(cfg))
        s->sum.i = sum_i(cfg, s->sum.i, as_i64(v));
    else
        s->sum.d += as_f64(v);
    s->n++;
    return 0;
}

static int avg_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    struct avg_state *a = dst;
    const struct avg_state *b = src;
    if (sum_is_int(cfg))
        a->sum.i = sum_i(cfg, a->sum.i, b->sum.i);
    else
        a->sum.d += b->sum.d;
    a->n += b->n;
    return 0;
}

static int avg_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                      struct sl_value *out)
{
    (void)a;
    const struct avg_state *s = state;
    if (!s->n) {
        *out = sl_value_double(0); /* ksqlDB's AverageUdaf: no values averages to 0.0 */
        return 0;
    }
    double sum = sum_is_int(cfg) ? (double)s->sum.i : s->sum.d;
    *out = sl_value_double(sum / (double)s->n);
    return 0;
}

/* ------------------------------------------------------------------ MIN / MAX */

struct minmax_state {
    struct hslot h; /* NULL until the first non-NULL value */
};

static int minmax_bind(const char *name, const struct sl_sql_type *const *argt, uint32_t nargs,
                       bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                       struct sl_diag *d)
{
    int rc = need_arg(name, argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 1)
        return sl_diag_set(d, SL_ETYPE, "%s expects 1 argument, got %u", name, nargs);
    bind_common(name, argt, cfg, d);
    if (!kind_comparable(cfg->in))
        return sl_diag_set(d, SL_ETYPE, "%s does not accept %s arguments", name,
                           kind_name(cfg->in));
    if (!(cfg->out = type_dup(types, argt[0])))
        return SL_ENOMEM;
    return 0;
}

static int min_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                    uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                    struct sl_diag *d)
{
    (void)consts;
    return minmax_bind("MIN", argt, nargs, star, types, cfg, d);
}

static int max_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                    uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                    struct sl_diag *d)
{
    (void)consts;
    return minmax_bind("MAX", argt, nargs, star, types, cfg, d);
}

static void minmax_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    hslot_init(&((struct minmax_state *)state)->h);
}

static int minmax_put(struct minmax_state *s, const struct sl_value *v, int sign)
{
    if (is_null(v))
        return 0;
    if (s->h.v.type != SL_V_NULL && vcmp(v, &s->h.v) * sign <= 0)
        return 0;
    return hslot_set(&s->h, v);
}

static int min_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                   uint64_t seq)
{
    (void)cfg;
    (void)seq;
    return minmax_put(state, v, -1);
}

static int max_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                   uint64_t seq)
{
    (void)cfg;
    (void)seq;
    return minmax_put(state, v, 1);
}

static int min_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    (void)cfg;
    return minmax_put(dst, &((const struct minmax_state *)src)->h.v, -1);
}

static int max_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    (void)cfg;
    return minmax_put(dst, &((const struct minmax_state *)src)->h.v, 1);
}

/* a kept value as a result: copied into the row's arena, numbers in the input type's form */
static int value_result(const struct sl_sql_aggcfg *cfg, const struct sl_value *v,
                        struct sl_arena *a, struct sl_value *out)
{
    int rc = sl_value_copy(a, v, out);
    if (rc)
        return rc;
    if (out->type == SL_V_INT && (cfg->in == SL_SQL_T_DOUBLE || cfg->in == SL_SQL_T_DECIMAL))
        *out = sl_value_double((double)out->u.i);
    else if (out->type == SL_V_DOUBLE && (cfg->in == SL_SQL_T_INT || cfg->in == SL_SQL_T_BIGINT))
        *out = sl_value_int(as_i64(out));
    set_int_flags(cfg->in, out);
    return 0;
}

static int minmax_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                         struct sl_value *out)
{
    return value_result(cfg, &((const struct minmax_state *)state)->h.v, a, out);
}

static size_t minmax_bytes(const struct sl_sql_aggcfg *cfg, const void *state)
{
    (void)cfg;
    return ((const struct minmax_state *)state)->h.cap;
}

static void minmax_fini(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    hslot_fini(&((struct minmax_state *)state)->h);
}

/* ------------------------------------------------------------------ COUNT_DISTINCT */

struct cd_slot {
    uint64_t hash; /* 0: empty (real hashes of 0 are made 1) */
    uint32_t off;  /* into the pool */
    uint32_t len;
};

struct cd_state {
    struct cd_slot *slots;
    uint32_t cap; /* power of two, 0 before the first value */
    uint32_t count;
    char *pool; /* the encodings, back to back */
    size_t pool_len;
    size_t pool_cap;
};

/* a growable byte buffer that starts on the stack */
struct enc {
    char *p;
    size_t len, cap;
    bool heap;
    int err;
};

static void enc_put(struct enc *e, const void *p, size_t n)
{
    if (e->err)
        return;
    if (e->len + n > e->cap) {
        size_t cap = e->cap * 2;
        while (cap < e->len + n)
            cap *= 2;
        if (cap > UINT32_MAX) {
            e->err = SL_E2BIG;
            return;
        }
        char *q = e->heap ? sl_realloc(e->p, cap) : sl_malloc(cap);
        if (!q) {
            e->err = SL_ENOMEM;
            return;
        }
        if (!e->heap)
            memcpy(q, e->p, e->len);
        e->p = q;
        e->cap = cap;
        e->heap = true;
    }
    memcpy(e->p + e->len, p, n);
    e->len += n;
}

/* canonical bytes of a value: a tag, then the payload; strings, lists and maps length-prefixed */
static void encode_value(struct enc *e, const struct sl_value *v)
{
    uint8_t tag = v->type;
    enc_put(e, &tag, 1);
    switch (v->type) {
    case SL_V_BOOL: {
        uint8_t b = v->u.b;
        enc_put(e, &b, 1);
        break;
    }
    case SL_V_INT:
    case SL_V_TS:
        enc_put(e, &v->u.i, 8);
        break;
    case SL_V_DOUBLE: {
        double d = v->u.d;
        if (d == 0)
            d = 0; /* -0.0 == 0.0 */
        if (isnan(d))
            d = NAN;
        enc_put(e, &d, 8);
        break;
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        enc_put(e, &v->len, 4);
        enc_put(e, v->u.s, v->len);
        break;
    case SL_V_IP:
        enc_put(e, &v->flags, 1);
        enc_put(e, v->u.ip, 16);
        break;
    case SL_V_LIST:
        enc_put(e, &v->len, 4);
        for (uint32_t i = 0; i < v->len; i++)
            encode_value(e, &v->u.list[i]);
        break;
    case SL_V_MAP:
        enc_put(e, &v->len, 4);
        for (uint32_t i = 0; i < v->len; i++) {
            uint32_t kl = (uint32_t)v->u.map[i].key.len;
            enc_put(e, &kl, 4);
            enc_put(e, v->u.map[i].key.ptr, kl);
            encode_value(e, &v->u.map[i].val);
        }
        break;
    case SL_V_OBJECT:
        enc_put(e, &v->u.obj, sizeof(v->u.obj));
        break;
    default:
        break;
    }
}

static void cd_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    memset(state, 0, sizeof(struct cd_state));
}

static int cd_grow(struct cd_state *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : 8;
    if (ncap > (1u << 30))
        return SL_ELIMIT;
    struct cd_slot *ns = sl_calloc(ncap, sizeof(*ns));
    if (!ns)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].hash)
            continue;
        uint32_t j = (uint32_t)s->slots[i].hash & (ncap - 1);
        while (ns[j].hash)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    sl_free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

static int cd_insert(struct cd_state *s, const char *p, size_t n)
{
    uint64_t h = sl_hash64(p, n);
    if (!h)
        h = 1;
    if (s->cap) {
        for (uint32_t j = (uint32_t)h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
            const struct cd_slot *sl = &s->slots[j];
            if (!sl->hash)
                break;
            if (sl->hash == h && sl->len == n && memcmp(s->pool + sl->off, p, n) == 0)
                return 0;
        }
    }
    if ((uint64_t)(s->count + 1) * 4 > (uint64_t)s->cap * 3) {
        int rc = cd_grow(s);
        if (rc)
            return rc;
    }
    if (s->pool_len + n > UINT32_MAX)
        return SL_ELIMIT;
    if (s->pool_len + n > s->pool_cap) {
        size_t cap = s->pool_cap ? s->pool_cap * 2 : 64;
        while (cap < s->pool_len + n)
            cap *= 2;
        char *q = sl_realloc(s->pool, cap);
        if (!q)
            return SL_ENOMEM;
        s->pool = q;
        s->pool_cap = cap;
    }
    memcpy(s->pool + s->pool_len, p, n);
    uint32_t j = (uint32_t)h & (s->cap - 1);
    while (s->slots[j].hash)
        j = (j + 1) & (s->cap - 1);
    s->slots[j] = (struct cd_slot){.hash = h, .off = (uint32_t)s->pool_len, .len = (uint32_t)n};
    s->pool_len += n;
    s->count++;
    return 0;
}

static int cd_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                   uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                   struct sl_diag *d)
{
    (void)consts;
    int rc = need_arg("COUNT_DISTINCT", argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 1)
        return sl_diag_set(d, SL_ETYPE, "COUNT_DISTINCT expects 1 argument, got %u", nargs);
    bind_common("COUNT_DISTINCT", argt, cfg, d);
    if (!(cfg->out = type_new(types, SL_SQL_T_BIGINT)))
        return SL_ENOMEM;
    return 0;
}

static int cd_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                  uint64_t seq)
{
    (void)cfg;
    (void)seq;
    if (is_null(v))
        return 0;
    char stack[128];
    struct enc e = {.p = stack, .cap = sizeof stack};
    struct sl_value x = *v;
    if (x.type == SL_V_DOUBLE && cfg->in != SL_SQL_T_DOUBLE && cfg->in != SL_SQL_T_DECIMAL)
        x = sl_value_int(as_i64(v));
    else if (x.type == SL_V_INT && (cfg->in == SL_SQL_T_DOUBLE || cfg->in == SL_SQL_T_DECIMAL))
        x = sl_value_double((double)v->u.i);
    encode_value(&e, &x);
    int rc = e.err ? e.err : cd_insert(state, e.p, e.len);
    if (e.heap)
        sl_free(e.p);
    return rc;
}

static int cd_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    (void)cfg;
    const struct cd_state *s = src;
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].hash)
            continue;
        int rc = cd_insert(dst, s->pool + s->slots[i].off, s->slots[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

static int cd_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                     struct sl_value *out)
{
    (void)cfg;
    (void)a;
    *out = sl_value_int(((const struct cd_state *)state)->count);
    return 0;
}

static size_t cd_bytes(const struct sl_sql_aggcfg *cfg, const void *state)
{
    (void)cfg;
    const struct cd_state *s = state;
    return (size_t)s->cap * sizeof(struct cd_slot) + s->pool_cap;
}

static void cd_fini(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    struct cd_state *s = state;
    sl_free(s->slots);
    sl_free(s->pool);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ value lists */

/*
 * The states that keep several values (TOPK, BY_OFFSET with n, COLLECT_*): an array of
 * heap-copied values with their arrival sequences, and the heap bytes of those copies.
 */
struct vitem {
    struct sl_value v;
    uint64_t seq;
};

struct vlist {
    struct vitem *items;
    uint32_t count;
    uint32_t cap;
    size_t heap; /* bytes of the copies (not the array) */
};

static void vlist_init(struct vlist *l)
{
    memset(l, 0, sizeof(*l));
}

static void vlist_fini(struct vlist *l)
{
    for (uint32_t i = 0; i < l->count; i++)
        hv_free(&l->items[i].v);
    sl_free(l->items);
    memset(l, 0, sizeof(*l));
}

static size_t vlist_bytes(const struct vlist *l)
{
    return (size_t)l->cap * sizeof(struct vitem) + l->heap;
}

/* insert a copy of v at position at (room is made; the array grows up to max entries) */
static int vlist_insert(struct vlist *l, uint32_t at, const struct sl_value *v, uint64_t seq,
                        uint32_t max)
{
    if (l->count == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 4;
        if (ncap > max)
            ncap = max;
        if (ncap <= l->count)
            return SL_ELIMIT;
        struct vitem *n = sl_realloc(l->items, (size_t)ncap * sizeof(*n));
        if (!n)
            return SL_ENOMEM;
        l->items = n;
        l->cap = ncap;
    }
    struct vitem it = {.seq = seq};
    int rc = hv_copy(v ? v : &(struct sl_value){.type = SL_V_NULL}, &it.v);
    if (rc)
        return rc;
    memmove(&l->items[at + 1], &l->items[at], (size_t)(l->count - at) * sizeof(*l->items));
    l->items[at] = it;
    l->count++;
    l->heap += hv_bytes(&it.v);
    return 0;
}

static void vlist_remove(struct vlist *l, uint32_t at)
{
    l->heap -= hv_bytes(&l->items[at].v);
    hv_free(&l->items[at].v);
    memmove(&l->items[at], &l->items[at + 1], (size_t)(l->count - at - 1) * sizeof(*l->items));
    l->count--;
}

/*
 * A full list takes v in place of entry `drop`: v is copied first, so out of memory leaves the
 * list as it was. `at` is v's position counted before the removal.
 */
static int vlist_replace(struct vlist *l, uint32_t drop, uint32_t at, const struct sl_value *v,
                         uint64_t seq)
{
    struct vitem it = {.seq = seq};
    int rc = hv_copy(v ? v : &(struct sl_value){.type = SL_V_NULL}, &it.v);
    if (rc)
        return rc;
    vlist_remove(l, drop);
    if (at > drop)
        at--;
    memmove(&l->items[at + 1], &l->items[at], (size_t)(l->count - at) * sizeof(*l->items));
    l->items[at] = it;
    l->count++;
    l->heap += hv_bytes(&it.v);
    return 0;
}

/* the values as an ARRAY in arena a */
static int vlist_result(const struct sl_sql_aggcfg *cfg, const struct vlist *l, struct sl_arena *a,
                        struct sl_value *out)
{
    struct sl_value *arr = sl_arena_alloc(a, (l->count ? l->count : 1) * sizeof(*arr));
    if (!arr)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < l->count; i++) {
        int rc = value_result(cfg, &l->items[i].v, a, &arr[i]);
        if (rc)
            return rc;
    }
    *out = (struct sl_value){.type = SL_V_LIST, .len = l->count};
    out->u.list = arr;
    return 0;
}

static void vlist_agg_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    vlist_init(state);
}

static size_t vlist_agg_bytes(const struct sl_sql_aggcfg *cfg, const void *state)
{
    (void)cfg;
    return vlist_bytes(state);
}

static void vlist_agg_fini(const struct sl_sql_aggcfg *cfg, void *state)
{
    (void)cfg;
    vlist_fini(state);
}

static int vlist_agg_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                            struct sl_value *out)
{
    return vlist_result(cfg, state, a, out);
}

/* ------------------------------------------------------------------ TOPK / TOPKDISTINCT */

static int topk_bind_named(const char *name, const struct sl_sql_type *const *argt,
                           const struct sl_value *const *consts, uint32_t nargs, bool star,
                           struct sl_arena *types, struct sl_sql_aggcfg *cfg, struct sl_diag *d)
{
    int rc = need_arg(name, argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 2)
        return sl_diag_set(d, SL_ETYPE, "%s expects 2 arguments (value, k), got %u", name, nargs);
    bind_common(name, argt, cfg, d);
    if (!kind_comparable(cfg->in) || cfg->in == SL_SQL_T_BOOLEAN)
        return sl_diag_set(d, SL_ETYPE, "%s does not accept %s values", name, kind_name(cfg->in));
    int64_t k;
    if (!const_int(consts, 1, &k))
        return sl_diag_set(d, SL_ETYPE, "%s expects a constant integer k", name);
    if (k < 1 || k > SL_SQL_AGG_COLLECT_MAX)
        return sl_diag_set(d, SL_ETYPE, "%s's k must be between 1 and %d, got %lld", name,
                           SL_SQL_AGG_COLLECT_MAX, (long long)k);
    cfg->k = k;
    if (!(cfg->out = type_array_of(types, argt[0])))
        return SL_ENOMEM;
    return 0;
}

static int topk_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                     uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                     struct sl_diag *d)
{
    return topk_bind_named("TOPK", argt, consts, nargs, star, types, cfg, d);
}

static int topkd_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                      uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                      struct sl_diag *d)
{
    return topk_bind_named("TOPKDISTINCT", argt, consts, nargs, star, types, cfg, d);
}

/* descending; equal values keep arrival order (a new equal value goes after them) */
static int topk_put(const struct sl_sql_aggcfg *cfg, struct vlist *l, const struct sl_value *v,
                    bool distinct)
{
    if (is_null(v))
        return 0;
    uint32_t k = (uint32_t)cfg->k;
    uint32_t at = l->count;
    for (uint32_t i = 0; i < l->count; i++) {
        int c = vcmp(v, &l->items[i].v);
        if (c == 0 && distinct)
            return 0;
        if (c > 0) {
            at = i;
            break;
        }
    }
    if (distinct)
        for (uint32_t i = at; i < l->count; i++)
            if (vcmp(v, &l->items[i].v) == 0)
                return 0;
    if (at >= k)
        return 0;
    if (l->count == k)
        return vlist_replace(l, k - 1, at, v, 0);
    return vlist_insert(l, at, v, 0, k);
}

static int topk_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                    uint64_t seq)
{
    (void)seq;
    return topk_put(cfg, state, v, false);
}

static int topkd_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                     uint64_t seq)
{
    (void)seq;
    return topk_put(cfg, state, v, true);
}

static int topk_merge_impl(const struct sl_sql_aggcfg *cfg, void *dst, const void *src,
                           bool distinct)
{
    const struct vlist *s = src;
    for (uint32_t i = 0; i < s->count; i++) {
        int rc = topk_put(cfg, dst, &s->items[i].v, distinct);
        if (rc)
            return rc;
    }
    return 0;
}

static int topk_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return topk_merge_impl(cfg, dst, src, false);
}

static int topkd_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return topk_merge_impl(cfg, dst, src, true);
}

/* ------------------------------------------------------------------ LATEST / EARLIEST_BY_OFFSET */

/*
 * Scalar form (k == 0): one kept value (a reused block) and its sequence; `has` once a value
 * (or, with ignoreNulls false, a NULL) was taken. List form (k = n): a vlist ordered by sequence,
 * oldest first, of at most n entries.
 */
struct byoff_state {
    struct hslot h;
    uint64_t seq;
};

_Static_assert(sizeof(struct byoff_state) <= SL_SQL_AGG_STATE, "state too large");
_Static_assert(sizeof(struct vlist) <= SL_SQL_AGG_STATE, "state too large");
_Static_assert(sizeof(struct cd_state) <= SL_SQL_AGG_STATE, "state too large");
_Static_assert(sizeof(struct avg_state) <= SL_SQL_AGG_STATE, "state too large");
_Static_assert(sizeof(struct minmax_state) <= SL_SQL_AGG_STATE, "state too large");

static int byoff_bind_named(const char *name, const struct sl_sql_type *const *argt,
                            const struct sl_value *const *consts, uint32_t nargs, bool star,
                            struct sl_arena *types, struct sl_sql_aggcfg *cfg, struct sl_diag *d)
{
    int rc = need_arg(name, argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs > 3)
        return sl_diag_set(d, SL_ETYPE, "%s expects 1 to 3 arguments, got %u", name, nargs);
    bind_common(name, argt, cfg, d);
    uint32_t i = 1;
    int64_t n;
    bool b;
    if (i < nargs && const_int(consts, i, &n)) {
        if (n < 1 || n > SL_SQL_AGG_COLLECT_MAX)
            return sl_diag_set(d, SL_ETYPE, "%s's n must be between 1 and %d, got %lld", name,
                               SL_SQL_AGG_COLLECT_MAX, (long long)n);
        cfg->k = n;
        i++;
    }
    if (i < nargs) {
        if (!const_bool(consts, i, &b))
            return sl_diag_set(d, SL_ETYPE,
                               i == 1 ? "%s expects a constant integer n or a constant BOOLEAN "
                                        "ignoreNulls as its 2nd argument"
                                      : "%s expects a constant BOOLEAN ignoreNulls as its 3rd "
                                        "argument",
                               name);
        cfg->ignore_nulls = b;
        i++;
    }
    if (i < nargs)
        return sl_diag_set(d, SL_ETYPE, "%s: unexpected argument %u", name, i + 1);
    cfg->out = cfg->k ? type_array_of(types, argt[0]) : type_dup(types, argt[0]);
    return cfg->out ? 0 : SL_ENOMEM;
}

static int latest_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                       uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                       struct sl_diag *d)
{
    return byoff_bind_named("LATEST_BY_OFFSET", argt, consts, nargs, star, types, cfg, d);
}

static int earliest_bind(const struct sl_sql_type *const *argt,
                         const struct sl_value *const *consts, uint32_t nargs, bool star,
                         struct sl_arena *types, struct sl_sql_aggcfg *cfg, struct sl_diag *d)
{
    return byoff_bind_named("EARLIEST_BY_OFFSET", argt, consts, nargs, star, types, cfg, d);
}

static void byoff_init(const struct sl_sql_aggcfg *cfg, void *state)
{
    if (cfg->k) {
        vlist_init(state);
    } else {
        struct byoff_state *s = state;
        hslot_init(&s->h);
        s->seq = 0;
    }
}

/* latest: take a newer seq; earliest: take an older one */
static int byoff_put(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                     uint64_t seq, bool latest)
{
    if (is_null(v) && cfg->ignore_nulls)
        return 0;
    if (!cfg->k) {
        struct byoff_state *s = state;
        if (s->h.has && (latest ? seq < s->seq : seq >= s->seq))
            return 0;
        int rc = hslot_set(&s->h, v ? v : &(struct sl_value){.type = SL_V_NULL});
        if (rc)
            return rc;
        s->seq = seq;
        s->h.has = true;
        return 0;
    }
    struct vlist *l = state;
    uint32_t n = (uint32_t)cfg->k;
    if (l->count == n && (latest ? seq < l->items[0].seq : seq >= l->items[n - 1].seq))
        return 0;
    uint32_t at = l->count; /* after every entry with seq <= this one (arrival order) */
    while (at > 0 && l->items[at - 1].seq > seq)
        at--;
    if (l->count == n)
        return vlist_replace(l, latest ? 0 : n - 1, at, v, seq);
    return vlist_insert(l, at, v, seq, n);
}

static int latest_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                      uint64_t seq)
{
    return byoff_put(cfg, state, v, seq, true);
}

static int earliest_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                        uint64_t seq)
{
    return byoff_put(cfg, state, v, seq, false);
}

static int byoff_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src, bool latest)
{
    if (!cfg->k) {
        const struct byoff_state *s = src;
        return s->h.has ? byoff_put(cfg, dst, &s->h.v, s->seq, latest) : 0;
    }
    const struct vlist *s = src;
    for (uint32_t i = 0; i < s->count; i++) {
        int rc = byoff_put(cfg, dst, &s->items[i].v, s->items[i].seq, latest);
        if (rc)
            return rc;
    }
    return 0;
}

static int latest_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return byoff_merge(cfg, dst, src, true);
}

static int earliest_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return byoff_merge(cfg, dst, src, false);
}

static int byoff_result(const struct sl_sql_aggcfg *cfg, const void *state, struct sl_arena *a,
                        struct sl_value *out)
{
    if (cfg->k)
        return vlist_result(cfg, state, a, out);
    return value_result(cfg, &((const struct byoff_state *)state)->h.v, a, out);
}

static size_t byoff_bytes(const struct sl_sql_aggcfg *cfg, const void *state)
{
    if (cfg->k)
        return vlist_bytes(state);
    return ((const struct byoff_state *)state)->h.cap;
}

static void byoff_fini(const struct sl_sql_aggcfg *cfg, void *state)
{
    if (cfg->k)
        vlist_fini(state);
    else
        hslot_fini(&((struct byoff_state *)state)->h);
}

/* ------------------------------------------------------------------ COLLECT_LIST / COLLECT_SET */

static int collect_bind_named(const char *name, const struct sl_sql_type *const *argt,
                              uint32_t nargs, bool star, struct sl_arena *types,
                              struct sl_sql_aggcfg *cfg, struct sl_diag *d)
{
    int rc = need_arg(name, argt, nargs, star, d);
    if (rc)
        return rc;
    if (nargs != 1)
        return sl_diag_set(d, SL_ETYPE, "%s expects 1 argument, got %u", name, nargs);
    bind_common(name, argt, cfg, d);
    cfg->k = SL_SQL_AGG_COLLECT_MAX;
    if (!(cfg->out = type_array_of(types, argt[0])))
        return SL_ENOMEM;
    return 0;
}

static int clist_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                      uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                      struct sl_diag *d)
{
    (void)consts;
    return collect_bind_named("COLLECT_LIST", argt, nargs, star, types, cfg, d);
}

static int cset_bind(const struct sl_sql_type *const *argt, const struct sl_value *const *consts,
                     uint32_t nargs, bool star, struct sl_arena *types, struct sl_sql_aggcfg *cfg,
                     struct sl_diag *d)
{
    (void)consts;
    return collect_bind_named("COLLECT_SET", argt, nargs, star, types, cfg, d);
}

static int collect_put(const struct sl_sql_aggcfg *cfg, struct vlist *l, const struct sl_value *v,
                       uint64_t seq, bool set)
{
    if (l->count >= (uint32_t)cfg->k)
        return 0;
    struct sl_value nv = sl_value_null();
    if (!v)
        v = &nv;
    if (set)
        for (uint32_t i = 0; i < l->count; i++)
            if (veq(v, &l->items[i].v))
                return 0;
    return vlist_insert(l, l->count, v, seq, (uint32_t)cfg->k);
}

static int clist_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                     uint64_t seq)
{
    return collect_put(cfg, state, v, seq, false);
}

static int cset_add(const struct sl_sql_aggcfg *cfg, void *state, const struct sl_value *v,
                    uint64_t seq)
{
    return collect_put(cfg, state, v, seq, true);
}

static int collect_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src, bool set)
{
    const struct vlist *s = src;
    for (uint32_t i = 0; i < s->count; i++) {
        int rc = collect_put(cfg, dst, &s->items[i].v, s->items[i].seq, set);
        if (rc)
            return rc;
    }
    return 0;
}

static int clist_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return collect_merge(cfg, dst, src, false);
}

static int cset_merge(const struct sl_sql_aggcfg *cfg, void *dst, const void *src)
{
    return collect_merge(cfg, dst, src, true);
}

/* ------------------------------------------------------------------ the table */

static const struct sl_sql_aggfn fns[] = {
    {"COUNT", 0, 1, count_bind, count_init, count_add, count_merge, count_result, no_bytes,
     no_fini},
    {"SUM", 1, 1, sum_bind, sum_init, sum_add, sum_merge, sum_result, no_bytes, no_fini},
    {"AVG", 1, 1, avg_bind, avg_init, avg_add, avg_merge, avg_result, no_bytes, no_fini},
    {"MIN", 1, 1, min_bind, minmax_init, min_add, min_merge, minmax_result, minmax_bytes,
     minmax_fini},
    {"MAX", 1, 1, max_bind, minmax_init, max_add, max_merge, minmax_result, minmax_bytes,
     minmax_fini},
    {"COUNT_DISTINCT", 1, 1, cd_bind, cd_init, cd_add, cd_merge, cd_result, cd_bytes, cd_fini},
    {"TOPK", 2, 2, topk_bind, vlist_agg_init, topk_add, topk_merge, vlist_agg_result,
     vlist_agg_bytes, vlist_agg_fini},
    {"TOPKDISTINCT", 2, 2, topkd_bind, vlist_agg_init, topkd_add, topkd_merge, vlist_agg_result,
     vlist_agg_bytes, vlist_agg_fini},
    {"LATEST_BY_OFFSET", 1, 3, latest_bind, byoff_init, latest_add, latest_merge, byoff_result,
     byoff_bytes, byoff_fini},
    {"EARLIEST_BY_OFFSET", 1, 3, earliest_bind, byoff_init, earliest_add, earliest_merge,
     byoff_result, byoff_bytes, byoff_fini},
    {"COLLECT_LIST", 1, 1, clist_bind, vlist_agg_init, clist_add, clist_merge, vlist_agg_result,
     vlist_agg_bytes, vlist_agg_fini},
    {"COLLECT_SET", 1, 1, cset_bind, vlist_agg_init, cset_add, cset_merge, vlist_agg_result,
     vlist_agg_bytes, vlist_agg_fini},
};

/* ------------------------------------------------------------------ checkpoints */

int sl_sql_agg_export(const struct sl_sql_aggcfg *cfg, const void *state,
                      struct sl_sql_agg_image *out)
{
    const struct sl_sql_aggfn *fn = cfg->fn;
    memset(out, 0, sizeof *out);
    out->v = sl_value_null();
    if (fn->init == count_init) {
        out->a = ((const struct count_state *)state)->n;
    } else if (fn->init == sum_init) {
        memcpy(&out->a, &((const struct sum_state *)state)->u, sizeof out->a);
    } else if (fn->init == avg_init) {
        const struct avg_state *s = state;
        memcpy(&out->a, &s->sum, sizeof out->a);
        out->b = s->n;
    } else if (fn->init == minmax_init) {
        const struct minmax_state *s = state;
        out->v = s->h.v;
        out->a = s->h.has;
    } else {
        return SL_EINVAL;
    }
    return 0;
}

int sl_sql_agg_import(const struct sl_sql_aggcfg *cfg, void *state,
                      const struct sl_sql_agg_image *in)
{
    const struct sl_sql_aggfn *fn = cfg->fn;
    if (fn->init == count_init) {
        if (in->a < 0)
            return SL_EPARSE;
        ((struct count_state *)state)->n = in->a;
    } else if (fn->init == sum_init) {
        memcpy(&((struct sum_state *)state)->u, &in->a, sizeof in->a);
    } else if (fn->init == avg_init) {
        struct avg_state *s = state;
        if (in->b < 0)
            return SL_EPARSE;
        memcpy(&s->sum, &in->a, sizeof in->a);
        s->n = in->b;
    } else if (fn->init == minmax_init) {
        struct minmax_state *s = state;
        const struct sl_value *v = &in->v;
        if (v->type == SL_V_NULL)
            return 0;
        bool num = kind_numeric(cfg->in);
        if (num ? !is_num(v)
                : !(v->type == SL_V_STRING || v->type == SL_V_BYTES || v->type == SL_V_INT ||
                    v->type == SL_V_BOOL || v->type == SL_V_TS))
            return SL_EPARSE;
        int rc = hslot_set(&s->h, v);
        if (rc)
            return rc;
        s->h.has = true;
    } else {
        return SL_EINVAL;
    }
    return 0;
}

const struct sl_sql_aggfn *sl_sql_agg_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcmp(fns[i].name, name) == 0)
            return &fns[i];
    return NULL;
}
