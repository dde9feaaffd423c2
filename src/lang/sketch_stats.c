/*
 * sketch_stats.c — Stellar's statistics object: Metron's OnlineStatisticsProvider (moments
 * plus a t-digest) and WindowedStatisticsProvider (commons-math DescriptiveStatistics over
 * the last N values).
 *
 * DESIGN: the online provider keeps count, sum, sum of squares, sum of logs, min, max and the
 * central moment sums M1..M4, updated exactly as Metron does (Knuth/Welford for the mean,
 * johndcook.com/Pébay for M2..M4; the same operation order, so results match Metron's bit for
 * bit) and merged with Chan/Pébay's pairwise formulas. Quantiles come from a merging t-digest
 * (Dunning & Ertl 2019) with the arcsine scale function k1, nominal compression 150 merged at
 * 300: incoming points collect in a buffer; when it fills, buffer and centroids are sorted
 * together and merged greedily so that no centroid spans more than one unit of k. A run of
 * points the size of the buffer costs one sort and no allocation; a digest holds at most 302
 * centroids (about what Metron's AVLTreeDigest(150) holds), and the tails keep single points.
 * Quantiles interpolate between centroid centres as AVLTreeDigest does, so small sets (every
 * point its own centroid, under ~100 points) give exactly Metron's answer, the R-7 sample
 * quantile; larger ones agree within the rank error docs/stellar-sketches.md reports.
 *
 * The windowed provider is a ring of the last `window` values, grown on demand up to the
 * window; every statistic is computed over the ring as commons-math 3 computes it (two-pass
 * mean and variance; Percentile's default LEGACY estimation, which is R-6: position
 * p(n+1)/100, linear interpolation, clamped to the extremes).
 */
#include "lang/sketch.h"

#include "base/alloc.h"
#include "lang/sketch_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cent {
    double m; /* mean */
    double w; /* weight */
};

struct tdigest {
    double delta;   /* compression */
    uint32_t cap;   /* bound on c: centroids + buffer */
    uint32_t alloc; /* entries allocated in c (grows up to cap) */
    uint32_t nc;    /* merged centroids, sorted, in c[0..nc) */
    uint32_t nb;    /* buffered points in c[nc..nc+nb) */
    double total;   /* weight of centroids and buffer */
    struct cent *c; /* allocated on first use */
};

struct sl_stats {
    struct sl_object obj;
    uint32_t window; /* 0: online */
    /* online */
    uint64_t n;
    double sum, sumsq, sumlogs, min, max;
    double m1, m2, m3, m4;
    struct tdigest td;
    /* windowed: values in ring[(head + i) % cap] for i < count; the ring only wraps once
     * cap == window */
    double *ring;
    uint32_t cap, count, head;
};

/* ------------------------------------------------------------------ t-digest */

#define TD_MIN_DELTA 20u
#define TD_MAX_DELTA 1000u
#define INTERNAL     2.0 /* internal compression / nominal compression */

/* Buffered points merged per compression; the merge sorts them through the stack (8 KiB). */
#define TD_MERGE_RUN 512u

static uint32_t td_capacity(double delta)
{
    /* centroids never exceed INTERNAL * delta + 2 (two neighbours always span more than one
     * unit of k); the buffer takes TD_MERGE_RUN points, or 2 * delta + 14 when that is more
     * (the bound of earlier versions, which decoded digests may still fill) */
    uint32_t buf = (uint32_t)(2.0 * delta) + 14;
    return (uint32_t)(INTERNAL * delta) + 2 + (buf > TD_MERGE_RUN ? buf : TD_MERGE_RUN);
}

static void td_init(struct tdigest *t, double delta)
{
    memset(t, 0, sizeof *t);
    t->delta = delta;
    t->cap = td_capacity(delta);
}

static void td_fini(struct tdigest *t)
{
    sl_free(t->c);
    t->c = NULL;
    t->alloc = 0;
}

/* Scale function k1 (arcsine): k(q) = δ/(2π) asin(2q-1). Centroids are small near both tails
 * (a centroid at q spans about sqrt(q(1-q)) / δ), as AVLTreeDigest's q(1-q) size bound. The
 * merge runs at twice the nominal compression (δ_int = 2δ, at most 2δ+2 centroids), which
 * is about the centroid count of an AVLTreeDigest of the nominal compression.
 *
 * A centroid starting at q may grow up to q' = k⁻¹(k(q) + 1). With a = asin(2q-1) and
 * b = 2π/δ_int, q' = (sin(a + b) + 1) / 2 = ((2q-1) cos b + 2 sqrt(q(1-q)) sin b + 1) / 2,
 * or 1 once a + b reaches π/2 (2q-1 >= cos b): one square root per centroid, not asin+sin. */
struct klimit {
    double cosb, sinb;
};

static struct klimit klimit_of(double delta_int)
{
    double b = 2.0 * M_PI / delta_int;
    return (struct klimit){cos(b), sin(b)};
}

static double q_limit(const struct klimit *k, double q)
{
    double s = 2.0 * q - 1.0;
    if (s >= k->cosb)
        return 1.0;
    double c = q <= 0 || q >= 1 ? 0 : 2.0 * sqrt(q * (1.0 - q));
    return (s * k->cosb + c * k->sinb + 1.0) / 2.0;
}

static void cent_swap(struct cent *a, struct cent *b)
{
    struct cent t = *a;
    *a = *b;
    *b = t;
}

static void cent_isort(struct cent *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct cent x = a[i];
        uint32_t j = i;
        for (; j > 0 && a[j - 1].m > x.m; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Quicksort on the means (median of three, insertion sort below 24, recursion on the smaller
 * side), for decoded digests whose buffer is longer than a merge run. */
static void cent_sort(struct cent *a, uint32_t n)
{
    while (n > 24) {
        uint32_t mid = n / 2;
        if (a[mid].m < a[0].m)
            cent_swap(&a[mid], &a[0]);
        if (a[n - 1].m < a[0].m)
            cent_swap(&a[n - 1], &a[0]);
        if (a[n - 1].m < a[mid].m)
            cent_swap(&a[n - 1], &a[mid]);
        double p = a[mid].m;
        uint32_t i = 0, j = n - 1;
        for (;;) {
            while (a[i].m < p)
                i++;
            while (a[j].m > p)
                j--;
            if (i >= j)
                break;
            cent_swap(&a[i], &a[j]);
            i++;
            j--;
        }
        uint32_t left = j + 1; /* a[0..left) <= p <= a[left..n) */
        if (left < n - left) {
            cent_sort(a, left);
            a += left;
            n -= left;
        } else {
            cent_sort(a + left, n - left);
            n = left;
        }
    }
    cent_isort(a, n);
}

/* The bits of a double as an unsigned key in the same order (NaN never gets here). */
static uint64_t dkey(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

/*
 * Least-significant-digit radix sort of n <= TD_MERGE_RUN points, 8 bits a pass; a pass whose
 * byte is the same in every key is skipped, so whole numbers (whose low mantissa bytes are
 * zero) take two or three passes. Sorting is where a buffered point spends most of its time,
 * and a comparison sort of random data pays a branch miss per comparison. `a` and `tmp` hold
 * n points each; returns whichever holds the sorted run.
 */
static struct cent *radix_sort(struct cent *a, struct cent *tmp, uint32_t n)
{
    uint32_t hist[8][256];
    memset(hist, 0, sizeof hist);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = dkey(a[i].m);
        for (int d = 0; d < 8; d++)
            hist[d][k >> (8 * d) & 255]++;
    }
    struct cent *src = a, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        uint32_t *h = hist[d];
        if (h[dkey(src[0].m) >> (8 * d) & 255] == n)
            continue; /* every key has this byte */
        uint32_t sum = 0;
        for (int i = 0; i < 256; i++) {
            uint32_t c = h[i];
            h[i] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            dst[h[dkey(src[i].m) >> (8 * d) & 255]++] = src[i];
        struct cent *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Sort the buffer, merge it into the (sorted) centroids, and merge neighbours while the merged
 * centroid spans at most one unit of k. */
static void td_compress(struct tdigest *t)
{
    if (!t->nb)
        return;
    uint32_t n = t->nc + t->nb;
    if (t->nb > TD_MERGE_RUN) {
        cent_sort(t->c, n); /* a decoded digest may carry a longer buffer */
    } else {
        /* sorted runs A = c[0..nc) and B = the sorted buffer: merge from the back */
        struct cent tmp[TD_MERGE_RUN];
        uint32_t nb = t->nb;
        struct cent *b = radix_sort(t->c + t->nc, tmp, nb);
        if (b != tmp)
            memcpy(tmp, b, (size_t)nb * sizeof *tmp);
        uint32_t i = t->nc, j = nb, k = n;
        while (j > 0) {
            if (i > 0 && t->c[i - 1].m > tmp[j - 1].m)
                t->c[--k] = t->c[--i];
            else
                t->c[--k] = tmp[--j];
        }
    }
    double total = t->total;
    uint32_t out = 0;
    struct cent cur = t->c[0];
    double sofar = 0;
    struct klimit kl = klimit_of(INTERNAL * t->delta);
    double wlimit = q_limit(&kl, 0) * total; /* weight the current centroid may reach */
    for (uint32_t i = 1; i < n; i++) {
        struct cent x = t->c[i];
        double proposed = cur.w + x.w;
        if (sofar + proposed <= wlimit) {
            cur.m += (x.m - cur.m) * x.w / proposed;
            if (cur.m > x.m) /* rounding: keep the means sorted (the decoder checks it) */
                cur.m = x.m;
            cur.w = proposed;
        } else {
            t->c[out++] = cur;
            sofar += cur.w;
            wlimit = q_limit(&kl, sofar / total) * total;
            cur = x;
        }
    }
    t->c[out++] = cur;
    t->nc = out;
    t->nb = 0;
}

/* Add a point of weight w. 0 or SL_ENOMEM. */
static int td_add(struct tdigest *t, double x, double w)
{
    if (t->nc + t->nb == t->alloc) {
        if (t->alloc < t->cap) { /* grow: a digest of a few points stays small */
            uint32_t a = t->alloc ? t->alloc * 2 : 32;
            if (a > t->cap)
                a = t->cap;
            struct cent *c = sl_realloc(t->c, (size_t)a * sizeof *c);
            if (!c)
                return SL_ENOMEM;
            t->c = c;
            t->alloc = a;
        } else {
            td_compress(t);
        }
    }
    if (t->nb == TD_MERGE_RUN)
        td_compress(t);
    t->c[t->nc + t->nb].m = x;
    t->c[t->nc + t->nb].w = w;
    t->nb++;
    t->total += w;
    return 0;
}

/*
 * The q-quantile (0 <= q <= 1) given the exact min and max; NaN when empty. As AVLTreeDigest
 * (t-digest 3.1, Metron's): the target is the sorted-array index q(n-1); a centroid of weight
 * w sits at the index of its middle point, and values grow linearly between neighbouring
 * centroids (and from min / to max at the ends). While every centroid is a single point this
 * is exactly the sample quantile of type R-7, which is what Metron answers for small sets.
 */
static double td_quantile(struct tdigest *t, double q, double min, double max)
{
    td_compress(t);
    uint32_t n = t->nc;
    if (!n)
        return NAN;
    const struct cent *c = t->c;
    if (n == 1)
        return c[0].m;
    double index = q * (t->total - 1);
    double before = 0, pos = (c[0].w - 1) / 2;
    if (index <= pos)
        return pos == 0 ? c[0].m : min + (c[0].m - min) * (index / pos);
    for (uint32_t i = 0; i + 1 < n; i++) {
        before += c[i].w;
        double next = before + (c[i + 1].w - 1) / 2;
        if (index <= next) {
            double r = c[i].m + (c[i + 1].m - c[i].m) * ((index - pos) / (next - pos));
            return r < c[i].m ? c[i].m : r > c[i + 1].m ? c[i + 1].m : r;
        }
        pos = next;
    }
    double last = t->total - 1;
    if (pos >= last)
        return c[n - 1].m;
    return c[n - 1].m + (max - c[n - 1].m) * ((index - pos) / (last - pos));
}

/* Add every centroid (and buffered point) of src into dst. */
static int td_add_digest(struct tdigest *dst, const struct tdigest *src)
{
    for (uint32_t i = 0; i < src->nc + src->nb; i++) {
        int rc = td_add(dst, src->c[i].m, src->c[i].w);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ object */

static void stats_free(struct sl_object *o)
{
    struct sl_stats *s = (struct sl_stats *)o;
    td_fini(&s->td);
    sl_free(s->ring);
    sl_free(s);
}

static int stats_to_json(const struct sl_object *o, struct sl_buf *out)
{
    const struct sl_stats *s = (const struct sl_stats *)o;
    if (s->window)
        return sl_buf_appendf(out, "{\"type\":\"STATS\",\"window\":%u,\"count\":%u}", s->window,
                              s->count);
    return sl_buf_appendf(out, "{\"type\":\"STATS\",\"count\":%llu,\"centroids\":%u}",
                          (unsigned long long)s->n, s->td.nc + s->td.nb);
}

const struct sl_object_type sl_stats_type = {
    .name = "STATS",
    .free = stats_free,
    .to_json = stats_to_json,
};

static struct sl_stats *stats_alloc(uint32_t window, double delta)
{
    struct sl_stats *s = sl_xcalloc(1, sizeof *s);
    s->obj.type = &sl_stats_type;
    atomic_init(&s->obj.refs, 1);
    s->window = window;
    s->min = NAN;
    s->max = NAN;
    td_init(&s->td, delta);
    return s;
}

struct sl_stats *sl_stats_new(uint32_t window)
{
    if (window > SL_STATS_MAX_WINDOW)
        return NULL;
    return stats_alloc(window, SL_STATS_COMPRESSION);
}

uint32_t sl_stats_window(const struct sl_stats *s)
{
    return s->window;
}

/* Metron's checkFlowError: a moment went infinite, or the sum of squares underflowed. */
static int flow_check(const struct sl_stats *s, double sum)
{
    const double v[] = {s->sumsq, s->m1, s->m2, s->m3, s->m4};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (isinf(v[i]))
            return SL_ERANGE;
    if (s->sumsq == 0.0 && sum > 0)
        return SL_ERANGE;
    return 0;
}

static int win_add(struct sl_stats *s, double x)
{
    if (s->count < s->window) {
        if (s->count == s->cap) {
            uint32_t cap = s->cap ? s->cap * 2 : 16;
            if (cap > s->window)
                cap = s->window;
            double *r = sl_realloc(s->ring, (size_t)cap * sizeof *r);
            if (!r)
                return SL_ENOMEM;
            s->ring = r;
            s->cap = cap;
        }
        s->ring[s->count++] = x; /* head stays 0 until the ring is full */
        return 0;
    }
    s->ring[s->head] = x; /* full: overwrite the oldest */
    s->head = (s->head + 1) % s->cap;
    return 0;
}

int sl_stats_add(struct sl_stats *s, double x)
{
    if (s->window)
        return win_add(s, x);
    if (isnan(x))
        return SL_EINVAL;
    int rc = td_add(&s->td, x, 1);
    if (rc)
        return rc;
    int64_t n1 = (int64_t)s->n;
    s->min = s->n ? fmin(s->min, x) : x;
    s->max = s->n ? fmax(s->max, x) : x;
    s->sum += x;
    s->sumlogs += log(x);
    s->sumsq += x * x;
    s->n++;
    int64_t n = (int64_t)s->n;
    double delta = x - s->m1;
    double delta_n = delta / (double)n;
    double delta_n2 = delta_n * delta_n;
    double term1 = delta * delta_n * (double)n1;
    s->m1 += delta_n;
    s->m4 +=
        term1 * delta_n2 * (double)(n * n - 3 * n + 3) + 6 * delta_n2 * s->m2 - 4 * delta_n * s->m3;
    s->m3 += term1 * delta_n * (double)(n - 2) - 3 * delta_n * s->m2;
    s->m2 += term1;
    return flow_check(s, s->sum);
}

/* ------------------------------------------------------------------ windowed statistics */

static double win_at(const struct sl_stats *s, uint32_t i)
{
    return s->ring[(s->head + i) % s->cap];
}

/* commons-math Mean: sum/n corrected by the mean residual */
static double win_mean(const struct sl_stats *s)
{
    uint32_t n = s->count;
    if (!n)
        return NAN;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += win_at(s, i);
    double xbar = sum / n;
    double corr = 0;
    for (uint32_t i = 0; i < n; i++)
        corr += win_at(s, i) - xbar;
    return xbar + corr / n;
}

/* commons-math Variance (bias-corrected or population): 0 for one value */
static double win_variance(const struct sl_stats *s, bool population)
{
    uint32_t n = s->count;
    if (!n)
        return NAN;
    if (n == 1)
        return 0.0;
    double m = win_mean(s);
    double acc = 0, acc2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        double d = win_at(s, i) - m;
        acc += d * d;
        acc2 += d;
    }
    if (population)
        return (acc - acc2 * acc2 / n) / n;
    return (acc - acc2 * acc2 / n) / (n - 1.0);
}

static double win_skewness(const struct sl_stats *s)
{
    uint32_t n = s->count;
    if (n <= 2)
        return NAN;
    double m = win_mean(s);
    double acc = 0, acc2 = 0, acc3 = 0;
    for (uint32_t i = 0; i < n; i++) {
        double d = win_at(s, i) - m;
        acc += d * d;
        acc2 += d;
    }
    double var = (acc - acc2 * acc2 / n) / (n - 1.0);
    for (uint32_t i = 0; i < n; i++) {
        double d = win_at(s, i) - m;
        acc3 += d * d * d;
    }
    acc3 /= var * sqrt(var);
    double n0 = n;
    return n0 / ((n0 - 1) * (n0 - 2)) * acc3;
}

static double win_kurtosis(const struct sl_stats *s)
{
    uint32_t n = s->count;
    if (n <= 3)
        return NAN;
    /* commons-math takes mean and variance from its storeless (Welford) moments here */
    double mean = 0, m2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        double x = win_at(s, i), d = x - mean, dn = d / (i + 1.0);
        mean += dn;
        m2 += (double)i * d * dn;
    }
    double sd = sqrt(m2 / (n - 1.0));
    double acc = 0;
    for (uint32_t i = 0; i < n; i++)
        acc += pow(win_at(s, i) - mean, 4.0);
    acc /= pow(sd, 4.0);
    double n0 = n;
    double c1 = n0 * (n0 + 1) / ((n0 - 1) * (n0 - 2) * (n0 - 3));
    double t2 = 3 * pow(n0 - 1, 2.0) / ((n0 - 2) * (n0 - 3));
    return c1 * acc - t2;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y); /* NaN sorts last, as Double.compare */
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Percentile, LEGACY estimation. p in (0, 100]. */
static int win_percentile(const struct sl_stats *s, double p, double *out)
{
    if (!(p > 0 && p <= 100))
        return SL_ERANGE;
    uint32_t n = s->count;
    if (!n) {
        *out = NAN;
        return 0;
    }
    if (n == 1) {
        *out = win_at(s, 0);
        return 0;
    }
    double *v = sl_malloc((size_t)n * sizeof *v);
    if (!v)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        v[i] = win_at(s, i);
    qsort(v, n, sizeof *v, dbl_cmp);
    double q = p / 100.0;
    double pos = q == 1.0 ? (double)n : q * (n + 1.0);
    double fpos = floor(pos);
    if (pos < 1)
        *out = v[0];
    else if (pos >= n)
        *out = v[n - 1];
    else {
        uint32_t ip = (uint32_t)fpos;
        double lo = v[ip - 1], hi = v[ip];
        *out = lo + (pos - fpos) * (hi - lo);
    }
    sl_free(v);
    return 0;
}

static int win_get(struct sl_stats *s, enum sl_stat which, double arg, double *out)
{
    uint32_t n = s->count;
    double acc = 0;
    switch (which) {
    case SL_STAT_COUNT:
        *out = n;
        return 0;
    case SL_STAT_SUM:
        for (uint32_t i = 0; i < n; i++)
            acc += win_at(s, i);
        *out = acc;
        return 0;
    case SL_STAT_MEAN:
        *out = win_mean(s);
        return 0;
    case SL_STAT_MIN:
    case SL_STAT_MAX:
        if (!n) {
            *out = NAN;
            return 0;
        }
        acc = win_at(s, 0);
        for (uint32_t i = 1; i < n; i++) {
            double x = win_at(s, i);
            if (!isnan(x))
                acc = which == SL_STAT_MIN ? (acc < x ? acc : x) : (acc > x ? acc : x);
        }
        *out = acc;
        return 0;
    case SL_STAT_VARIANCE:
        *out = win_variance(s, false);
        return 0;
    case SL_STAT_SD:
        *out = sqrt(win_variance(s, false));
        return 0;
    case SL_STAT_POPULATION_VARIANCE:
        *out = win_variance(s, true);
        return 0;
    case SL_STAT_GEOMETRIC_MEAN:
        for (uint32_t i = 0; i < n; i++)
            acc += log(win_at(s, i));
        *out = exp(acc / n);
        return 0;
    case SL_STAT_QUADRATIC_MEAN:
    case SL_STAT_SUM_SQUARES:
        for (uint32_t i = 0; i < n; i++)
            acc += win_at(s, i) * win_at(s, i);
        if (which == SL_STAT_SUM_SQUARES)
            *out = acc;
        else
            *out = n ? sqrt(acc / n) : NAN;
        return 0;
    case SL_STAT_SUM_LOGS:
        return SL_EINVAL; /* "sum logs not available if 'windowSize' > 0" */
    case SL_STAT_SKEWNESS:
        *out = win_skewness(s);
        return 0;
    case SL_STAT_KURTOSIS:
        *out = win_kurtosis(s);
        return 0;
    case SL_STAT_PERCENTILE:
        return win_percentile(s, arg, out);
    }
    return SL_EINVAL;
}

/* ------------------------------------------------------------------ online statistics */

int sl_stats_get(struct sl_stats *s, enum sl_stat which, double arg, double *out)
{
    if (s->window)
        return win_get(s, which, arg, out);
    int64_t n = (int64_t)s->n;
    double var = s->m2 / ((double)n - 1.0);
    switch (which) {
    case SL_STAT_COUNT:
        *out = (double)n;
        return 0;
    case SL_STAT_SUM:
        *out = s->sum;
        return 0;
    case SL_STAT_MEAN:
        *out = s->sum / (double)n;
        return 0;
    case SL_STAT_MIN:
        *out = s->min;
        return 0;
    case SL_STAT_MAX:
        *out = s->max;
        return 0;
    case SL_STAT_VARIANCE:
        *out = var;
        return 0;
    case SL_STAT_SD:
        *out = sqrt(var);
        return 0;
    case SL_STAT_POPULATION_VARIANCE:
    case SL_STAT_GEOMETRIC_MEAN:
        return SL_EINVAL; /* "Unwilling to compute ..." */
    case SL_STAT_QUADRATIC_MEAN:
        *out = sqrt(s->sumsq / (double)n);
        return 0;
    case SL_STAT_SUM_SQUARES:
        *out = s->sumsq;
        return 0;
    case SL_STAT_SUM_LOGS:
        *out = s->sumlogs;
        return 0;
    case SL_STAT_SKEWNESS: {
        if (n < 3) {
            *out = NAN;
            return 0;
        }
        double t1 = (1.0 * (double)n) / (double)((n - 1) * (n - 2));
        *out = t1 * s->m3 / pow(sqrt(var), 3);
        return 0;
    }
    case SL_STAT_KURTOSIS: {
        if (n < 4) {
            *out = NAN;
            return 0;
        }
        double sd = sqrt(var);
        double t1 = (1.0 * (double)n) * (double)(n + 1) / (double)((n - 1) * (n - 2) * (n - 3));
        double t3 = 3.0 * (double)((n - 1) * (n - 1)) / (double)((n - 2) * (n - 3));
        *out = t1 * (s->m4 / pow(sd, 4)) - t3;
        return 0;
    }
    case SL_STAT_PERCENTILE: {
        double q = arg / 100.0;
        if (!(q >= 0 && q <= 1))
            return SL_ERANGE;
        *out = td_quantile(&s->td, q, s->min, s->max);
        return 0;
    }
    }
    return SL_EINVAL;
}

int sl_stats_merge(struct sl_stats *a, struct sl_stats *b, struct sl_stats **out)
{
    *out = NULL;
    if (a->window || b->window)
        return SL_EINVAL;
    struct sl_stats *c = stats_alloc(0, a->td.delta);
    double an = (double)a->n, bn = (double)b->n;
    c->n = a->n + b->n;
    double n = (double)c->n;
    c->sum = a->sum + b->sum;
    /* Metron keeps a's (null) min/max when either side is empty; an empty side simply
     * contributes nothing here */
    c->min = !a->n ? b->min : !b->n ? a->min : fmin(a->min, b->min);
    c->max = !a->n ? b->max : !b->n ? a->max : fmax(a->max, b->max);
    c->sumsq = a->sumsq + b->sumsq;
    c->sumlogs = a->sumlogs + b->sumlogs;
    if (!a->n || !b->n) {
        const struct sl_stats *src = a->n ? a : b;
        c->m1 = src->m1;
        c->m2 = src->m2;
        c->m3 = src->m3;
        c->m4 = src->m4;
    } else {
        double d = b->m1 - a->m1, d2 = d * d, d3 = d * d2, d4 = d2 * d2;
        c->m1 = (an * a->m1 + bn * b->m1) / n;
        c->m2 = a->m2 + b->m2 + d2 * an * bn / n;
        c->m3 = a->m3 + b->m3 + d3 * an * bn * (an - bn) / (n * n);
        c->m3 += 3.0 * d * (an * b->m2 - bn * a->m2) / n;
        c->m4 = a->m4 + b->m4 + d4 * an * bn * (an * an - an * bn + bn * bn) / (n * n * n);
        c->m4 += 6.0 * d2 * (an * an * b->m2 + bn * bn * a->m2) / (n * n) +
                 4.0 * d * (an * b->m3 - bn * a->m3) / n;
    }
    int rc = td_add_digest(&c->td, &a->td);
    if (!rc)
        rc = td_add_digest(&c->td, &b->td);
    if (!rc)
        td_compress(&c->td);
    if (rc) {
        sl_object_unref(&c->obj);
        return rc;
    }
    *out = c;
    return flow_check(c, c->sum);
}

/* ------------------------------------------------------------------ serialisation (v1) */

/*
 * u8 mode: 0 online, 1 windowed
 * online:   u64 n; f64 sum, sumlogs, sumsq, min, max, m1, m2, m3, m4;
 *           u32 compression; u32 centroids; u32 buffered; (f64 mean, f64 weight) x both
 * windowed: u32 window; u32 count; f64 x count, oldest first
 */
void sl_sketch__stats_write(const struct sl_stats *s, struct sl_sketch__wr *w)
{
    if (s->window) {
        sl_sketch__u8(w, 1);
        sl_sketch__u32(w, s->window);
        sl_sketch__u32(w, s->count);
        for (uint32_t i = 0; i < s->count; i++)
            sl_sketch__f64(w, win_at(s, i));
        return;
    }
    sl_sketch__u8(w, 0);
    sl_sketch__u64(w, s->n);
    const double f[] = {s->sum, s->sumlogs, s->sumsq, s->min, s->max, s->m1, s->m2, s->m3, s->m4};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        sl_sketch__f64(w, f[i]);
    sl_sketch__u32(w, (uint32_t)s->td.delta);
    sl_sketch__u32(w, s->td.nc);
    sl_sketch__u32(w, s->td.nb);
    for (uint32_t i = 0; i < s->td.nc + s->td.nb; i++) {
        sl_sketch__f64(w, s->td.c[i].m);
        sl_sketch__f64(w, s->td.c[i].w);
    }
}

struct sl_stats *sl_sketch__stats_read(struct sl_sketch__rd *r, bool *nomem)
{
    uint8_t mode = sl_sketch__get_u8(r);
    if (!r->ok)
        return NULL;
    if (mode == 1) {
        uint32_t window = sl_sketch__get_u32(r), count = sl_sketch__get_u32(r);
        if (!r->ok)
            return NULL;
        if (!window || window > SL_STATS_MAX_WINDOW || count > window) {
            sl_sketch__fail(r, "bad window size or count");
            return NULL;
        }
        if (!sl_sketch__has(r, (size_t)count * 8))
            return NULL;
        struct sl_stats *s = stats_alloc(window, SL_STATS_COMPRESSION);
        if (count) {
            s->ring = sl_malloc((size_t)count * sizeof *s->ring);
            if (!s->ring) {
                *nomem = true;
                sl_object_unref(&s->obj);
                return NULL;
            }
            s->cap = count;
        }
        for (uint32_t i = 0; i < count; i++)
            s->ring[i] = sl_sketch__get_f64(r);
        s->count = count;
        return s;
    }
    if (mode != 0) {
        sl_sketch__fail(r, "unknown statistics mode");
        return NULL;
    }
    uint64_t n = sl_sketch__get_u64(r);
    double f[9];
    for (size_t i = 0; i < 9; i++)
        f[i] = sl_sketch__get_f64(r);
    uint32_t delta = sl_sketch__get_u32(r);
    uint32_t nc = sl_sketch__get_u32(r), nb = sl_sketch__get_u32(r);
    if (!r->ok)
        return NULL;
    if (delta < TD_MIN_DELTA || delta > TD_MAX_DELTA) {
        sl_sketch__fail(r, "bad compression");
        return NULL;
    }
    if (n > ((uint64_t)1 << 53)) {
        sl_sketch__fail(r, "bad count");
        return NULL;
    }
    uint32_t cap = td_capacity(delta);
    if (nc > cap || nb > cap - nc || (!n && (nc || nb)) || (n && !nc && !nb)) {
        sl_sketch__fail(r, "bad centroid count");
        return NULL;
    }
    if (!sl_sketch__has(r, (size_t)(nc + nb) * 16))
        return NULL;
    if (n && !(f[3] <= f[4])) {
        sl_sketch__fail(r, "bad min/max");
        return NULL;
    }
    struct sl_stats *s = stats_alloc(0, delta);
    s->n = n;
    s->sum = f[0];
    s->sumlogs = f[1];
    s->sumsq = f[2];
    s->min = n ? f[3] : NAN;
    s->max = n ? f[4] : NAN;
    s->m1 = f[5];
    s->m2 = f[6];
    s->m3 = f[7];
    s->m4 = f[8];
    if (nc + nb) {
        s->td.c = sl_malloc((size_t)s->td.cap * sizeof *s->td.c);
        s->td.alloc = s->td.cap;
        if (!s->td.c) {
            *nomem = true;
            sl_object_unref(&s->obj);
            return NULL;
        }
    }
    double total = 0;
    for (uint32_t i = 0; i < nc + nb; i++) {
        double m = sl_sketch__get_f64(r), w = sl_sketch__get_f64(r);
        /* means finite and inside [min, max]; weights whole and positive; centroids sorted */
        bool bad = !isfinite(m) || !(w >= 1 && w <= 9007199254740992.0) || w != floor(w) ||
                   m < s->min || m > s->max || (i > 0 && i < nc && m < s->td.c[i - 1].m);
        if (bad) {
            sl_sketch__fail(r, "bad centroid");
            sl_object_unref(&s->obj);
            return NULL;
        }
        s->td.c[i].m = m;
        s->td.c[i].w = w;
        total += w;
    }
    if (total != (double)n) {
        sl_sketch__fail(r, "centroid weights do not add up to the count");
        sl_object_unref(&s->obj);
        return NULL;
    }
    s->td.nc = nc;
    s->td.nb = nb;
    s->td.total = total;
    return s;
}
