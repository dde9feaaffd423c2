/*
 * fn_stats.c — Stellar builtins over sketches: STATS_* (summary statistics), HLLP_*
 * (HyperLogLog++ distinct counts) and BLOOM_* (Bloom filters), as Metron's
 * StellarStatisticsFunctions, HyperLogLogPlusFunctions and BloomFilter functions behave.
 *
 * DESIGN: the data structures live in sketch*.c and know nothing of Stellar; this file only
 * converts arguments the way Metron's ConversionUtils does, reproduces Metron's null
 * handling and quirks (STATS_COUNT answers a Double, STATS_PERCENTILE takes 0..100,
 * BLOOM_INIT reads its arguments one position late, STATS_ADD/BLOOM_ADD/BLOOM_MERGE mutate
 * their first argument) and maps the sketch errors to Metron's exception messages. A sketch
 * made here is handed to sl_fcx_own(); functions that return an object are never PURE, so
 * nothing is folded at compile time.
 */
#include "lang/func.h"
#include "lang/sketch.h"
#include "lang/sval.h"

#include <math.h>
#include <string.h>

static struct sl_value obj_value(struct sl_object *o)
{
    struct sl_value v = {.type = SL_V_OBJECT};
    v.u.obj = o;
    return v;
}

static const char *type_name(const struct sl_value *v)
{
    if (v->type == SL_V_OBJECT)
        return v->u.obj->type->name;
    return sl_vtype_name((enum sl_vtype)v->type);
}

/* ConversionUtils.convert(x, Double.class): numbers, numeric strings; else null (false) */
static bool to_double(const struct sl_value *v, double *d)
{
    if (sl_sv_is_num(v)) {
        *d = sl_sv_as_double(v);
        return true;
    }
    if (v->type == SL_V_STRING)
        return sl_sv_parse_double(v->u.s, v->len, d) == 0;
    return false;
}

/* ConversionUtils.convert(x, Integer.class): numbers narrow (Number.intValue), strings parse */
static bool to_int(const struct sl_value *v, int32_t *out)
{
    double d;
    if (v->type == SL_V_INT) {
        *out = (int32_t)(uint32_t)v->u.i;
        return true;
    }
    if (v->type == SL_V_STRING) {
        int64_t l;
        if (sl_sv_parse_long(v->u.s, v->len, &l) == 0 && l >= INT32_MIN && l <= INT32_MAX) {
            *out = (int32_t)l;
            return true;
        }
    }
    if (!to_double(v, &d))
        return false;
    *out = isnan(d)             ? 0
           : d >= 2147483647.0  ? INT32_MAX
           : d <= -2147483648.0 ? INT32_MIN
                                : (int32_t)d;
    return true;
}

/* The Java text of v for a message (in the scratch buffer). */
static const char *text_of(struct sl_fcx *cx, const struct sl_value *v)
{
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    if (sl_sv_format(v, b) || !b->ptr)
        return "?";
    return b->ptr;
}

/* The sketch behind v when it is one of type t: a pointer comparison, no name lookup. */
static bool is_obj(const struct sl_value *v, const struct sl_object_type *t)
{
    return v->type == SL_V_OBJECT && v->u.obj && v->u.obj->type == t;
}

static struct sl_stats *stats_arg(const struct sl_value *v)
{
    return is_obj(v, &sl_stats_type) ? (struct sl_stats *)v->u.obj : NULL;
}

/* ------------------------------------------------------------------ STATS_* */

static int f_stats_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int32_t window = 0;
    if (n > 0 && sl_sv_is_num(&a[0]))
        (void)to_int(&a[0], &window);
    if (window > 0 && (uint32_t)window > SL_STATS_MAX_WINDOW)
        return sl_fcx_error(cx, "STATS_INIT: window %d is larger than %u", window,
                            SL_STATS_MAX_WINDOW);
    struct sl_stats *s = sl_stats_new(window > 0 ? (uint32_t)window : 0);
    sl_fcx_own(cx, sl_stats_obj(s));
    *out = obj_value(sl_stats_obj(s));
    return 0;
}

static int add_one(struct sl_fcx *cx, struct sl_stats *s, const struct sl_value *v)
{
    double d;
    if (!to_double(v, &d))
        return sl_fcx_error(cx, "STATS_ADD: cannot convert %s '%s' to a Double", type_name(v),
                            text_of(cx, v));
    int rc = sl_stats_add(s, d);
    if (rc == SL_EINVAL)
        return sl_fcx_error(cx, "Cannot add NaN");
    if (rc == SL_ERANGE)
        return sl_fcx_error(cx, "Double overflow!");
    return rc;
}

static int f_stats_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_stats *s = stats_arg(&a[0]);
    if (!s && a[0].type != SL_V_NULL)
        return sl_fcx_error(cx, "STATS_ADD: expected a statistics object, got %s",
                            type_name(&a[0]));
    if (!s) {
        s = sl_stats_new(0);
        sl_fcx_own(cx, sl_stats_obj(s));
    }
    for (int i = 1; i < n; i++) {
        int rc = 0;
        if (a[i].type == SL_V_LIST) {
            for (uint32_t j = 0; j < a[i].len && !rc; j++)
                if (a[i].u.list[j].type != SL_V_NULL)
                    rc = add_one(cx, s, &a[i].u.list[j]);
        } else {
            rc = add_one(cx, s, &a[i]);
        }
        if (rc)
            return rc;
    }
    *out = obj_value(sl_stats_obj(s));
    return 0;
}

static int get_stat(struct sl_fcx *cx, const struct sl_value *a, enum sl_stat which,
                    struct sl_value *out)
{
    struct sl_stats *s = stats_arg(&a[0]);
    double d = NAN;
    if (s) {
        int rc = sl_stats_get(s, which, 0, &d);
        if (rc == SL_EINVAL)
            return sl_fcx_error(cx, "%s",
                                which == SL_STAT_SUM_LOGS
                                    ? "sum logs not available if 'windowSize' > 0"
                                    : "Unwilling to compute the geometric mean.");
        if (rc)
            return rc;
    }
    *out = sl_sv_double(d);
    return 0;
}

#define STAT_GETTER(fn, which)                                                                     \
    static int fn(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)        \
    {                                                                                              \
        (void)n;                                                                                   \
        return get_stat(cx, a, which, out);                                                        \
    }

STAT_GETTER(f_stats_count, SL_STAT_COUNT)
STAT_GETTER(f_stats_sum, SL_STAT_SUM)
STAT_GETTER(f_stats_mean, SL_STAT_MEAN)
STAT_GETTER(f_stats_min, SL_STAT_MIN)
STAT_GETTER(f_stats_max, SL_STAT_MAX)
STAT_GETTER(f_stats_variance, SL_STAT_VARIANCE)
STAT_GETTER(f_stats_sd, SL_STAT_SD)
STAT_GETTER(f_stats_pop_variance, SL_STAT_POPULATION_VARIANCE)
STAT_GETTER(f_stats_geo_mean, SL_STAT_GEOMETRIC_MEAN)
STAT_GETTER(f_stats_quad_mean, SL_STAT_QUADRATIC_MEAN)
STAT_GETTER(f_stats_sum_squares, SL_STAT_SUM_SQUARES)
STAT_GETTER(f_stats_sum_logs, SL_STAT_SUM_LOGS)
STAT_GETTER(f_stats_skewness, SL_STAT_SKEWNESS)
STAT_GETTER(f_stats_kurtosis, SL_STAT_KURTOSIS)

static int percentile(struct sl_fcx *cx, struct sl_stats *s, double p, double *out)
{
    int rc = sl_stats_get(s, SL_STAT_PERCENTILE, p, out);
    if (rc == SL_ERANGE) {
        if (sl_stats_window(s))
            return sl_fcx_error(cx, "out of bounds quantile value: %g, must be in (0, 100]", p);
        return sl_fcx_error(cx, "q should be in [0,1], got %g", p / 100.0);
    }
    return rc;
}

static int f_stats_percentile(struct sl_fcx *cx, const struct sl_value *a, int n,
                              struct sl_value *out)
{
    (void)n;
    struct sl_stats *s = stats_arg(&a[0]);
    double p, d = NAN;
    if (s && to_double(&a[1], &p)) {
        int rc = percentile(cx, s, p, &d);
        if (rc)
            return rc;
    }
    *out = sl_sv_double(d);
    return 0;
}

static const double quartile[] = {25, 50, 75};
static const double quintile[] = {20, 40, 60, 80};
static const double decile[] = {10, 20, 30, 40, 50, 60, 70, 80, 90};

static int f_stats_bin(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_stats *s = stats_arg(&a[0]);
    double value;
    bool have_value = to_double(&a[1], &value);
    const double *fixed = quartile;
    uint32_t nbins = 3;
    const struct sl_value *list = NULL;
    if (n > 2) {
        const struct sl_value *b = &a[2];
        if (b->type == SL_V_STRING) {
            struct sl_str t = sl_value_as_str(b);
            if (t.len == 8 && !memcmp(t.ptr, "QUARTILE", 8)) {
                fixed = quartile, nbins = 3;
            } else if (t.len == 8 && !memcmp(t.ptr, "QUINTILE", 8)) {
                fixed = quintile, nbins = 4;
            } else if (t.len == 6 && !memcmp(t.ptr, "DECILE", 6)) {
                fixed = decile, nbins = 9;
            } else {
                return sl_fcx_error(cx, "No enum constant StatsBin.BinSplits.%.*s", (int)t.len,
                                    t.ptr);
            }
        } else if (b->type == SL_V_LIST) {
            list = b;
            nbins = b->len;
        } else {
            return sl_fcx_error(cx, "The split you tried to pass is not a valid split: %s",
                                text_of(cx, b));
        }
    }
    if (!s || !have_value || nbins == 0) {
        *out = sl_sv_int(-1);
        return 0;
    }
    double last = -INFINITY;
    for (uint32_t i = 0; i < nbins; i++) {
        double p, bound;
        if (!list)
            p = fixed[i];
        else if (!to_double(&list->u.list[i], &p))
            return sl_fcx_error(cx, "STATS_BIN: bound %u is not a number", i);
        int rc = percentile(cx, s, p, &bound);
        if (rc)
            return rc;
        if (last > bound)
            return sl_fcx_error(cx, "Your bins must be non-decreasing");
        if (value <= bound) {
            *out = sl_sv_int((int32_t)i);
            return 0;
        }
        last = bound;
    }
    *out = sl_sv_int((int32_t)nbins);
    return 0;
}

static int f_stats_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (n < 1 || a[0].type != SL_V_LIST)
        return 0;
    struct sl_stats *ret = NULL;
    for (uint32_t i = 0; i < a[0].len; i++) {
        struct sl_stats *s = stats_arg(&a[0].u.list[i]);
        if (!s)
            continue;
        if (!ret) {
            ret = s;
            continue;
        }
        struct sl_stats *m;
        int rc = sl_stats_merge(ret, s, &m);
        if (m)
            sl_fcx_own(cx, sl_stats_obj(m));
        if (rc == SL_EINVAL)
            return sl_fcx_error(cx, "Windowed Statistics cannot be merged.");
        if (rc == SL_ERANGE)
            return sl_fcx_error(cx, "Double overflow!");
        if (rc)
            return rc;
        ret = m;
    }
    if (ret)
        *out = obj_value(sl_stats_obj(ret));
    return 0;
}

/* ------------------------------------------------------------------ HLLP_* */

static struct sl_hllp *hllp_arg(const struct sl_value *v)
{
    return is_obj(v, &sl_hllp_type) ? (struct sl_hllp *)v->u.obj : NULL;
}

static int f_hllp_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int32_t p = 14, sp = 25;
    if (n >= 1) {
        if (!to_int(&a[0], &p))
            return sl_fcx_error(cx, "Unable to get p value from '%s'", text_of(cx, &a[0]));
        sp = 0;
    }
    if (n >= 2 && !to_int(&a[1], &sp))
        return sl_fcx_error(cx, "Unable to get sp value from '%s'", text_of(cx, &a[1]));
    const char *why = sl_hllp_check(p, sp);
    if (why)
        return sl_fcx_error(cx, "%s", why);
    struct sl_hllp *h = sl_hllp_new(p, sp);
    sl_fcx_own(cx, sl_hllp_obj(h));
    *out = obj_value(sl_hllp_obj(h));
    return 0;
}

static int hllp_offer(struct sl_fcx *cx, struct sl_hllp *h, const struct sl_value *v)
{
    if (v->type == SL_V_NULL)
        return 0;
    struct sl_buf *b = sl_fcx_scratch(cx);
    int rc = sl_sketch_value_key(v, b);
    if (!rc)
        rc = sl_hllp_add(h, b->ptr, b->len);
    return rc;
}

static int f_hllp_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_hllp *h = hllp_arg(&a[0]);
    if (!h && a[0].type != SL_V_NULL)
        return sl_fcx_error(cx, "HLLP_ADD: expected a HyperLogLogPlus, got %s", type_name(&a[0]));
    if (!h) {
        h = sl_hllp_new(14, 25);
        sl_fcx_own(cx, sl_hllp_obj(h));
    }
    int rc = 0;
    if (a[1].type == SL_V_LIST) {
        for (uint32_t i = 0; i < a[1].len && !rc; i++)
            rc = hllp_offer(cx, h, &a[1].u.list[i]);
    } else {
        rc = hllp_offer(cx, h, &a[1]);
    }
    if (rc)
        return rc;
    *out = obj_value(sl_hllp_obj(h));
    return 0;
}

static int f_hllp_cardinality(struct sl_fcx *cx, const struct sl_value *a, int n,
                              struct sl_value *out)
{
    (void)cx;
    (void)n;
    struct sl_hllp *h = hllp_arg(&a[0]);
    *out = sl_sv_long(h ? sl_hllp_cardinality(h) : 0);
    return 0;
}

static int f_hllp_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    const struct sl_value *items = &a[0];
    uint32_t count = 1;
    if (a[0].type == SL_V_LIST) {
        items = a[0].u.list;
        count = a[0].len;
    }
    if (!count)
        return 0;
    if (count == 1) {
        if (hllp_arg(&items[0]))
            *out = items[0];
        return 0;
    }
    for (uint32_t i = 0; i < count; i++)
        if (!hllp_arg(&items[i]))
            return sl_fcx_error(cx, "HLLP_MERGE: element %u is a %s, not a HyperLogLogPlus", i,
                                type_name(&items[i]));
    int p, sp;
    sl_hllp_precision(hllp_arg(&items[0]), &p, &sp);
    struct sl_hllp *h = sl_hllp_new(p, sp);
    sl_fcx_own(cx, sl_hllp_obj(h));
    for (uint32_t i = 0; i < count; i++) {
        int rc = sl_hllp_merge(h, hllp_arg(&items[i]));
        if (rc == SL_EINVAL)
            return sl_fcx_error(cx, "Cannot merge estimators of different sizes");
        if (rc)
            return rc;
    }
    *out = obj_value(sl_hllp_obj(h));
    return 0;
}

/* ------------------------------------------------------------------ BLOOM_* */

static struct sl_bloom *bloom_arg(const struct sl_value *v)
{
    return is_obj(v, &sl_bloom_type) ? (struct sl_bloom *)v->u.obj : NULL;
}

static int f_bloom_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int32_t expected = 100000;
    float fpp = 0.01f;
    double d;
    /* Metron's quirk: each argument is read only when one more follows it */
    if (n > 1 && !to_int(&a[0], &expected))
        return sl_fcx_error(cx, "BLOOM_INIT: expectedInsertions '%s' is not a number",
                            text_of(cx, &a[0]));
    if (n > 2) {
        if (!to_double(&a[1], &d))
            return sl_fcx_error(cx, "BLOOM_INIT: falsePositiveRate '%s' is not a number",
                                text_of(cx, &a[1]));
        fpp = (float)d;
    }
    if (expected < 0)
        return sl_fcx_error(cx, "Expected insertions (%d) must be >= 0", expected);
    if (!(fpp > 0))
        return sl_fcx_error(cx, "False positive probability (%g) must be > 0.0", (double)fpp);
    if (!(fpp < 1))
        return sl_fcx_error(cx, "False positive probability (%g) must be < 1.0", (double)fpp);
    struct sl_bloom *b;
    int rc = sl_bloom_new(expected, (double)fpp, &b);
    if (rc == SL_E2BIG)
        return sl_fcx_error(cx,
                            "BLOOM_INIT: a filter for %d insertions at %g needs more than "
                            "%llu bits",
                            expected, (double)fpp, (unsigned long long)SL_BLOOM_MAX_BITS);
    if (rc)
        return rc;
    sl_fcx_own(cx, sl_bloom_obj(b));
    *out = obj_value(sl_bloom_obj(b));
    return 0;
}

static int f_bloom_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_bloom *b = bloom_arg(&a[0]);
    if (!b)
        return sl_fcx_error(cx, "BLOOM_ADD: expected a bloom filter, got %s", type_name(&a[0]));
    struct sl_buf *k = sl_fcx_scratch(cx);
    for (int i = 1; i < n; i++) {
        if (a[i].type == SL_V_NULL)
            continue;
        int rc = sl_sketch_value_key(&a[i], k);
        if (rc)
            return rc;
        sl_bloom_add(b, k->ptr, k->len);
    }
    *out = a[0];
    return 0;
}

static int f_bloom_exists(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(false);
    if (n < 2 || a[1].type == SL_V_NULL)
        return 0;
    struct sl_bloom *b = bloom_arg(&a[0]);
    if (!b)
        return sl_fcx_error(cx, "BLOOM_EXISTS: expected a bloom filter, got %s", type_name(&a[0]));
    struct sl_buf *k = sl_fcx_scratch(cx);
    int rc = sl_sketch_value_key(&a[1], k);
    if (rc)
        return rc;
    *out = sl_value_bool(sl_bloom_contains(b, k->ptr, k->len));
    return 0;
}

static int f_bloom_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (n < 1 || a[0].type != SL_V_LIST)
        return 0;
    struct sl_bloom *ret = NULL;
    const struct sl_value *first = NULL;
    for (uint32_t i = 0; i < a[0].len; i++) {
        struct sl_bloom *b = bloom_arg(&a[0].u.list[i]);
        if (!b)
            continue;
        if (!ret) {
            ret = b;
            first = &a[0].u.list[i];
        } else if (b != ret && sl_bloom_merge(ret, b)) {
            return sl_fcx_error(cx,
                                "Cannot combine bloom filters of different sizes "
                                "(%llu bits, %u hashes vs %llu bits, %u hashes)",
                                (unsigned long long)sl_bloom_bits(ret), sl_bloom_hashes(ret),
                                (unsigned long long)sl_bloom_bits(b), sl_bloom_hashes(b));
        }
    }
    if (first)
        *out = *first;
    return 0;
}

/* ------------------------------------------------------------------ table */

#define STATS_DOC(what)                                                                            \
    what " of the accumulated values (of the window if one is used); NaN if stats is null."

const struct sl_sfunc sl_sfuncs_stats[] = {
    {"STATS_INIT", 0, 1, 0, "(window_size?)", "StatisticsProvider",
     "A statistics object. window_size absent, 0 or not a number: online (moments and a t-digest, "
     "mergeable); > 0: keeps the last window_size values exactly (not mergeable).",
     f_stats_init},
    {"STATS_ADD", 1, SL_SF_VARARGS, 0, "(stats, value+)", "StatisticsProvider",
     "Adds each value (a number, a numeric string, or a list of them; nulls inside lists are "
     "skipped) and returns the same, mutated, object; a null stats starts a new online one. "
     "Throws 'Double overflow!' when a moment becomes infinite.",
     f_stats_add},
    {"STATS_COUNT", 1, 1, 0, "(stats)", "Double",
     "The number of values, as a Double (Metron's quirk); NaN if stats is null.", f_stats_count},
    {"STATS_SUM", 1, 1, 0, "(stats)", "Double", STATS_DOC("The sum"), f_stats_sum},
    {"STATS_MEAN", 1, 1, 0, "(stats)", "Double", STATS_DOC("The mean (sum/n: NaN when empty)"),
     f_stats_mean},
    {"STATS_MIN", 1, 1, 0, "(stats)", "Double", STATS_DOC("The minimum"), f_stats_min},
    {"STATS_MAX", 1, 1, 0, "(stats)", "Double", STATS_DOC("The maximum"), f_stats_max},
    {"STATS_VARIANCE", 1, 1, 0, "(stats)", "Double",
     STATS_DOC("The sample variance M2/(n-1) (NaN for one online value)"), f_stats_variance},
    {"STATS_SD", 1, 1, 0, "(stats)", "Double", STATS_DOC("The sample standard deviation"),
     f_stats_sd},
    {"STATS_POPULATION_VARIANCE", 1, 1, 0, "(stats)", "Double",
     "The population variance of a windowed stats object; throws for an online one.",
     f_stats_pop_variance},
    {"STATS_GEOMETRIC_MEAN", 1, 1, 0, "(stats)", "Double",
     "The geometric mean of a windowed stats object; throws for an online one.", f_stats_geo_mean},
    {"STATS_QUADRATIC_MEAN", 1, 1, 0, "(stats)", "Double",
     STATS_DOC("The quadratic mean sqrt(sum of squares / n)"), f_stats_quad_mean},
    {"STATS_SUM_SQUARES", 1, 1, 0, "(stats)", "Double", STATS_DOC("The sum of squares"),
     f_stats_sum_squares},
    {"STATS_SUM_LOGS", 1, 1, 0, "(stats)", "Double",
     "The sum of natural logs of an online stats object; throws for a windowed one; NaN if "
     "stats is null.",
     f_stats_sum_logs},
    {"STATS_SKEWNESS", 1, 1, 0, "(stats)", "Double",
     STATS_DOC("The unbiased skewness (NaN below 3 values)"), f_stats_skewness},
    {"STATS_KURTOSIS", 1, 1, 0, "(stats)", "Double",
     STATS_DOC("The unbiased excess kurtosis (NaN below 4 values)"), f_stats_kurtosis},
    {"STATS_PERCENTILE", 2, 2, 0, "(stats, p)", "Double",
     "The p'th percentile, p in 0..100 (Metron's doc says 0..1; the code divides by 100). "
     "Online: t-digest estimate; windowed: exact (commons-math, 0 < p <= 100). NaN if stats "
     "or p is null.",
     f_stats_percentile},
    {"STATS_BIN", 2, 3, 0, "(stats, value, bounds?)", "Integer",
     "The bin N with pct(N-1) < value <= pct(N), bounds a list of percentiles or 'QUARTILE' "
     "(default), 'QUINTILE', 'DECILE'; above every bound gives the bound count; -1 if stats or "
     "value is null.",
     f_stats_bin},
    {"STATS_MERGE", 0, 1, 0, "(statistics)", "StatisticsProvider",
     "Merges a list of online stats objects (non-stats items ignored) into a new one; a single "
     "one is returned as is; null for an empty list or a non-list. Windowed ones throw.",
     f_stats_merge},
    {"HLLP_INIT", 0, 2, 0, "(p?, sp?)", "HyperLogLogPlus",
     "A HyperLogLog++ estimator: p=14, sp=25 by default; p alone disables the sparse set "
     "(sp=0). Requires 4 <= p <= sp (p <= 18 here), sp < 32.",
     f_hllp_init},
    {"HLLP_ADD", 2, 2, 0, "(hllp, value)", "HyperLogLogPlus",
     "Adds a value, or each element of a list (nulls skipped), and returns the same estimator; "
     "a null estimator starts a default one.",
     f_hllp_add},
    {"HLLP_CARDINALITY", 1, 1, 0, "(hllp)", "Long",
     "The estimated number of distinct values; 0 for null or a non-estimator.", f_hllp_cardinality},
    {"HLLP_MERGE", 1, 1, 0, "(hllps)", "HyperLogLogPlus",
     "Merges a list of estimators (or a single one) into a new one with the first's p and sp; "
     "a single estimator is returned as is; null for an empty list.",
     f_hllp_merge},
    {"BLOOM_INIT", 0, SL_SF_VARARGS, 0, "(expectedInsertions?, falsePositiveRate?)", "BloomFilter",
     "An empty Bloom filter, defaults 100000 and 0.01. Metron's quirk: expectedInsertions is "
     "read only when 2+ arguments are given and the rate only with 3+, so BLOOM_INIT(1000) and "
     "the rate of BLOOM_INIT(1000, 0.001) are ignored.",
     f_bloom_init},
    {"BLOOM_ADD", 1, SL_SF_VARARGS, 0, "(bloom, value*)", "BloomFilter",
     "Adds each non-null value to the filter and returns the same, mutated, filter.", f_bloom_add},
    {"BLOOM_EXISTS", 0, 2, 0, "(bloom, value)", "Boolean",
     "True if the filter might contain the value (no false negatives); false for a null value.",
     f_bloom_exists},
    {"BLOOM_MERGE", 0, 1, 0, "(bloomfilters)", "BloomFilter",
     "ORs every filter of the list into the first one (mutating it) and returns it; null for "
     "an empty list or a non-list.",
     f_bloom_merge},
    {0},
};
