/*
 * sketch_test.c — the sketches behind STATS_*, HLLP_*, BLOOM_*: moments against two-pass
 * formulas, t-digest quantile accuracy, HyperLogLog++ error, Bloom false-positive rate,
 * merge associativity, and the binary form (round trip; truncation, flipped bytes and forged
 * fields fail cleanly).
 *
 * Measured (this test prints them; docs/stellar-sketches.md keeps the table): the t-digest
 * (δ=150, 1e5 points) stays within 0.032% rank error for q in 0.1..0.9 and 0.008% at
 * q = 0.001..0.01 and 0.99..0.999 on uniform, normal and exponential data (bounds asserted:
 * 0.1% and 0.02%); merged digests within 0.044%; HLL++ (p=14, sp=25) exact at 1e3 (sparse),
 * 0.2% at 1e5 and 0.65% at 1e6 (bound: three standard errors, 2.4%); the Bloom filter
 * (n=1e4, fpp=0.01) measures 0.96% false positives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "lang/sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic data */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(void)
{
    return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

enum dist { UNIFORM, NORMAL, EXPONENTIAL };

static double draw(enum dist d)
{
    switch (d) {
    case UNIFORM:
        return unif();
    case NORMAL:
        return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
    default:
        return -log(unif());
    }
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double stat(struct sl_stats *s, enum sl_stat w, double arg)
{
    double d = NAN;
    assert_int_equal(sl_stats_get(s, w, arg, &d), 0);
    return d;
}

static void assert_close(double got, double want, double rel)
{
    double err = fabs(got - want);
    if (err > rel * fmax(1.0, fabs(want)))
        fail_msg("got %.17g want %.17g", got, want);
}

/* ---- statistics */

static void test_moments(void **state)
{
    (void)state;
    rng_state = 1;
    enum { N = 10000 };
    double *x = sl_xmalloc(N * sizeof *x);
    struct sl_stats *s = sl_stats_new(0);
    for (int i = 0; i < N; i++) {
        x[i] = 5 + 2 * draw(EXPONENTIAL);
        assert_int_equal(sl_stats_add(s, x[i]), 0);
    }
    double sum = 0, sq = 0, lg = 0;
    for (int i = 0; i < N; i++)
        sum += x[i], sq += x[i] * x[i], lg += log(x[i]);
    double mean = sum / N, m2 = 0, m3 = 0, m4 = 0;
    for (int i = 0; i < N; i++) {
        double d = x[i] - mean;
        m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
    }
    double var = m2 / (N - 1), sd = sqrt(var), n = N;
    assert_close(stat(s, SL_STAT_COUNT, 0), N, 0);
    assert_close(stat(s, SL_STAT_SUM, 0), sum, 1e-12);
    assert_close(stat(s, SL_STAT_MEAN, 0), mean, 1e-12);
    assert_close(stat(s, SL_STAT_VARIANCE, 0), var, 1e-10);
    assert_close(stat(s, SL_STAT_SD, 0), sd, 1e-10);
    assert_close(stat(s, SL_STAT_SUM_SQUARES, 0), sq, 1e-12);
    assert_close(stat(s, SL_STAT_SUM_LOGS, 0), lg, 1e-12);
    assert_close(stat(s, SL_STAT_QUADRATIC_MEAN, 0), sqrt(sq / N), 1e-12);
    assert_close(stat(s, SL_STAT_SKEWNESS, 0), n / ((n - 1) * (n - 2)) * m3 / pow(sd, 3), 1e-9);
    assert_close(stat(s, SL_STAT_KURTOSIS, 0),
                 n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * m4 / pow(sd, 4) -
                     3 * (n - 1) * (n - 1) / ((n - 2) * (n - 3)),
                 1e-9);
    double d;
    assert_int_equal(sl_stats_get(s, SL_STAT_POPULATION_VARIANCE, 0, &d), SL_EINVAL);
    assert_int_equal(sl_stats_get(s, SL_STAT_GEOMETRIC_MEAN, 0, &d), SL_EINVAL);
    assert_int_equal(sl_stats_get(s, SL_STAT_PERCENTILE, 101, &d), SL_ERANGE);
    sl_object_unref(sl_stats_obj(s));

    /* Metron's edge cases */
    s = sl_stats_new(0);
    assert_true(isnan(stat(s, SL_STAT_MIN, 0)));
    assert_true(isnan(stat(s, SL_STAT_MEAN, 0)));
    assert_true(isnan(stat(s, SL_STAT_PERCENTILE, 50)));
    assert_int_equal(sl_stats_add(s, 3), 0);
    assert_true(isnan(stat(s, SL_STAT_VARIANCE, 0))); /* n = 1 */
    assert_true(isnan(stat(s, SL_STAT_SKEWNESS, 0)));
    assert_int_equal(sl_stats_add(s, NAN), SL_EINVAL);
    assert_int_equal(sl_stats_add(s, 1.7976931348623157E308), SL_ERANGE);
    sl_object_unref(sl_stats_obj(s));
    s = sl_stats_new(0);
    assert_int_equal(sl_stats_add(s, 1e-200), SL_ERANGE); /* sum of squares underflows */
    sl_object_unref(sl_stats_obj(s));
    sl_free(x);
}

static void test_windowed(void **state)
{
    (void)state;
    struct sl_stats *s = sl_stats_new(10);
    for (int i = 1; i <= 25; i++)
        assert_int_equal(sl_stats_add(s, i), 0);
    /* keeps 16..25 */
    assert_close(stat(s, SL_STAT_COUNT, 0), 10, 0);
    assert_close(stat(s, SL_STAT_MIN, 0), 16, 0);
    assert_close(stat(s, SL_STAT_MAX, 0), 25, 0);
    assert_close(stat(s, SL_STAT_MEAN, 0), 20.5, 1e-15);
    assert_close(stat(s, SL_STAT_VARIANCE, 0), 55.0 / 6, 1e-14);
    assert_close(stat(s, SL_STAT_POPULATION_VARIANCE, 0), 8.25, 1e-14);
    assert_close(stat(s, SL_STAT_SKEWNESS, 0), 0, 1e-14);
    /* commons-math LEGACY: position p(n+1)/100 */
    assert_close(stat(s, SL_STAT_PERCENTILE, 50), 20.5, 1e-15);
    assert_close(stat(s, SL_STAT_PERCENTILE, 25), 15 + 2.75, 1e-15);
    assert_close(stat(s, SL_STAT_PERCENTILE, 100), 25, 0);
    assert_close(stat(s, SL_STAT_PERCENTILE, 1), 16, 0);
    double d;
    assert_int_equal(sl_stats_get(s, SL_STAT_PERCENTILE, 0, &d), SL_ERANGE);
    assert_int_equal(sl_stats_get(s, SL_STAT_SUM_LOGS, 0, &d), SL_EINVAL);
    double g = 0;
    for (int i = 16; i <= 25; i++)
        g += log(i);
    assert_close(stat(s, SL_STAT_GEOMETRIC_MEAN, 0), exp(g / 10), 1e-14);
    struct sl_stats *m;
    assert_int_equal(sl_stats_merge(s, s, &m), SL_EINVAL);
    sl_object_unref(sl_stats_obj(s));

    s = sl_stats_new(5);
    assert_int_equal(sl_stats_add(s, 7), 0);
    assert_close(stat(s, SL_STAT_VARIANCE, 0), 0, 0); /* commons-math: 0 for one value */
    sl_object_unref(sl_stats_obj(s));
}

/* Largest |F(estimate) - q| over a set of q, F the empirical CDF of sorted x. */
static double rank_error(struct sl_stats *s, const double *x, int n, const double *qs, int nq)
{
    double worst = 0;
    for (int i = 0; i < nq; i++) {
        double e = stat(s, SL_STAT_PERCENTILE, qs[i] * 100);
        int lo = 0, hi = n; /* count of x < e and x <= e: the rank is anywhere in between */
        int a = 0, b = n;
        while (a < b) {
            int mid = (a + b) / 2;
            if (x[mid] < e)
                a = mid + 1;
            else
                b = mid;
        }
        lo = a;
        a = lo, b = n;
        while (a < b) {
            int mid = (a + b) / 2;
            if (x[mid] <= e)
                a = mid + 1;
            else
                b = mid;
        }
        hi = a;
        double target = qs[i] * n, err = 0;
        if (target < lo)
            err = (lo - target) / n;
        else if (target > hi)
            err = (target - hi) / n;
        if (err > worst)
            worst = err;
    }
    return worst;
}

static void test_percentile_accuracy(void **state)
{
    (void)state;
    enum { N = 100000 };
    static const double mid[] = {0.1, 0.25, 0.5, 0.75, 0.9};
    static const double tails[] = {0.001, 0.01, 0.99, 0.999};
    static const char *names[] = {"uniform", "normal", "exponential"};
    double *x = sl_xmalloc(N * sizeof *x);
    for (int d = UNIFORM; d <= EXPONENTIAL; d++) {
        rng_state = 42 + (uint64_t)d;
        struct sl_stats *s = sl_stats_new(0);
        for (int i = 0; i < N; i++) {
            x[i] = draw((enum dist)d);
            assert_int_equal(sl_stats_add(s, x[i]), 0);
        }
        qsort(x, N, sizeof *x, dcmp);
        double em = rank_error(s, x, N, mid, 5), et = rank_error(s, x, N, tails, 4);
        printf("# t-digest %-11s n=%d: max rank error %.5f%% (q in 0.1..0.9), %.5f%% (tails)\n",
               names[d], N, em * 100, et * 100);
        assert_true(em < 0.001);
        assert_true(et < 0.0002);
        assert_close(stat(s, SL_STAT_PERCENTILE, 0), x[0], 0);
        assert_close(stat(s, SL_STAT_PERCENTILE, 100), x[N - 1], 0);
        sl_object_unref(sl_stats_obj(s));
    }
    /* small sets are exact, the R-7 sample quantile (as Metron's AVLTreeDigest) */
    struct sl_stats *s = sl_stats_new(0);
    for (int i = 1; i <= 7; i++)
        sl_stats_add(s, 10.0 * i);
    assert_close(stat(s, SL_STAT_PERCENTILE, 50), 40, 0);
    sl_stats_add(s, 80);
    assert_close(stat(s, SL_STAT_PERCENTILE, 50), 45, 1e-15);
    assert_close(stat(s, SL_STAT_PERCENTILE, 25), 27.5, 1e-15);
    assert_close(stat(s, SL_STAT_PERCENTILE, 90), 73, 1e-15);
    sl_object_unref(sl_stats_obj(s));
    sl_free(x);
}

static void test_stats_merge(void **state)
{
    (void)state;
    enum { N = 30000 };
    rng_state = 7;
    struct sl_stats *all = sl_stats_new(0), *part[3];
    for (int i = 0; i < 3; i++)
        part[i] = sl_stats_new(0);
    double *x = sl_xmalloc(N * sizeof *x);
    for (int i = 0; i < N; i++) {
        x[i] = draw(NORMAL) * (i % 3 + 1) + i % 3; /* the parts differ in mean and spread */
        sl_stats_add(all, x[i]);
        sl_stats_add(part[i % 3], x[i]);
    }
    qsort(x, N, sizeof *x, dcmp);
    struct sl_stats *ab, *bc, *l, *r, *empty = sl_stats_new(0), *e1;
    assert_int_equal(sl_stats_merge(part[0], part[1], &ab), 0);
    assert_int_equal(sl_stats_merge(ab, part[2], &l), 0); /* (a+b)+c */
    assert_int_equal(sl_stats_merge(part[1], part[2], &bc), 0);
    assert_int_equal(sl_stats_merge(part[0], bc, &r), 0); /* a+(b+c) */
    assert_int_equal(sl_stats_merge(empty, l, &e1), 0);
    static const enum sl_stat ws[] = {SL_STAT_COUNT,    SL_STAT_SUM,     SL_STAT_MEAN,
                                      SL_STAT_MIN,      SL_STAT_MAX,     SL_STAT_VARIANCE,
                                      SL_STAT_SKEWNESS, SL_STAT_KURTOSIS};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        double want = stat(all, ws[i], 0);
        assert_close(stat(l, ws[i], 0), want, 1e-9);
        assert_close(stat(r, ws[i], 0), want, 1e-9);
        assert_close(stat(e1, ws[i], 0), want, 1e-9);
    }
    static const double qs[] = {0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999};
    double el = rank_error(l, x, N, qs, 7), er = rank_error(r, x, N, qs, 7);
    printf("# merged t-digest rank error: (a+b)+c %.5f%%, a+(b+c) %.5f%%\n", el * 100, er * 100);
    assert_true(el < 0.001 && er < 0.001);
    struct sl_stats *objs[] = {all, part[0], part[1], part[2], ab, bc, l, r, empty, e1};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        sl_object_unref(sl_stats_obj(objs[i]));
    sl_free(x);
}

/* ---- HyperLogLog++ */

static void add_items(struct sl_hllp *h, int from, int to)
{
    char key[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(key, sizeof key, "item-%d", i);
        assert_int_equal(sl_hllp_add(h, key, (size_t)n), 0);
    }
}

static void test_hll_accuracy(void **state)
{
    (void)state;
    static const int sizes[] = {1000, 100000, 1000000};
    for (size_t i = 0; i < 3; i++) {
        struct sl_hllp *h = sl_hllp_new(14, 25);
        add_items(h, 0, sizes[i]);
        add_items(h, 0, sizes[i] / 2); /* duplicates change nothing */
        double est = (double)sl_hllp_cardinality(h);
        double err = fabs(est - sizes[i]) / sizes[i];
        printf("# HLL++ p=14 sp=25 n=%d: estimate %.0f, error %.3f%% (%s)\n", sizes[i], est,
               err * 100, sl_hllp_is_sparse(h) ? "sparse" : "dense");
        assert_true(err < 3 * 1.04 / 128); /* three standard errors */
        sl_object_unref(sl_hllp_obj(h));
    }
    /* dense-only estimator (p alone), and the estimate at every size up to 5 m */
    struct sl_hllp *h = sl_hllp_new(10, 0);
    double worst = 0;
    for (int n = 1; n <= 5000; n++) {
        add_items(h, n - 1, n);
        double e = fabs((double)sl_hllp_cardinality(h) - n) / n;
        if (n >= 100 && e > worst)
            worst = e;
    }
    printf("# HLL p=10 dense, n in 100..5000: worst relative error %.3f%%\n", worst * 100);
    assert_true(worst < 0.12);
    sl_object_unref(sl_hllp_obj(h));
    /* small sets are exact in sparse mode */
    h = sl_hllp_new(14, 25);
    for (int n = 1; n <= 300; n++) {
        add_items(h, n - 1, n);
        assert_int_equal(sl_hllp_cardinality(h), n);
    }
    sl_object_unref(sl_hllp_obj(h));
    assert_null(sl_hllp_new(3, 25));
    assert_null(sl_hllp_new(14, 10));
    assert_null(sl_hllp_new(14, 32));
    assert_non_null(sl_hllp_check(19, 25));
}

static int64_t merged_card(struct sl_hllp *a, struct sl_hllp *b, struct sl_hllp *c, bool left)
{
    int p, sp;
    sl_hllp_precision(a, &p, &sp);
    struct sl_hllp *x = sl_hllp_new(p, sp), *y = sl_hllp_new(p, sp);
    if (left) { /* (a+b)+c */
        assert_int_equal(sl_hllp_merge(x, a), 0);
        assert_int_equal(sl_hllp_merge(x, b), 0);
        assert_int_equal(sl_hllp_merge(x, c), 0);
    } else { /* a+(b+c) */
        assert_int_equal(sl_hllp_merge(y, b), 0);
        assert_int_equal(sl_hllp_merge(y, c), 0);
        assert_int_equal(sl_hllp_merge(x, a), 0);
        assert_int_equal(sl_hllp_merge(x, y), 0);
    }
    int64_t r = sl_hllp_cardinality(x);
    sl_object_unref(sl_hllp_obj(x));
    sl_object_unref(sl_hllp_obj(y));
    return r;
}

static void test_hll_merge(void **state)
{
    (void)state;
    /* sparse + sparse, sparse + dense, dense + dense */
    static const int sizes[][3] = {{50, 70, 90}, {100, 20000, 300}, {30000, 40000, 50000}};
    for (size_t i = 0; i < 3; i++) {
        struct sl_hllp *a = sl_hllp_new(12, 20), *b = sl_hllp_new(12, 20), *c = sl_hllp_new(12, 20),
                       *u = sl_hllp_new(12, 20);
        /* overlapping ranges */
        add_items(a, 0, sizes[i][0]);
        add_items(b, sizes[i][0] / 2, sizes[i][0] / 2 + sizes[i][1]);
        add_items(c, 10, 10 + sizes[i][2]);
        add_items(u, 0, sizes[i][0]);
        add_items(u, sizes[i][0] / 2, sizes[i][0] / 2 + sizes[i][1]);
        add_items(u, 10, 10 + sizes[i][2]);
        int64_t l = merged_card(a, b, c, true), r = merged_card(a, b, c, false);
        int64_t want = sl_hllp_cardinality(u);
        assert_int_equal(l, r);
        assert_int_equal(l, want); /* merge is exactly the union */
        sl_object_unref(sl_hllp_obj(a));
        sl_object_unref(sl_hllp_obj(b));
        sl_object_unref(sl_hllp_obj(c));
        sl_object_unref(sl_hllp_obj(u));
    }
    struct sl_hllp *a = sl_hllp_new(12, 20), *b = sl_hllp_new(13, 20);
    assert_int_equal(sl_hllp_merge(a, b), SL_EINVAL);
    sl_object_unref(sl_hllp_obj(a));
    sl_object_unref(sl_hllp_obj(b));
}

/* ---- Bloom filter */

static void test_bloom(void **state)
{
    (void)state;
    struct sl_bloom *b;
    assert_int_equal(sl_bloom_new(10000, 0.01, &b), 0);
    /* Guava: bits = (long)(-n ln p / ln2^2) = 95850, k = round(bits/n ln 2) = 7 */
    assert_int_equal(sl_bloom_bits(b), (95850 + 63) / 64 * 64);
    assert_int_equal(sl_bloom_hashes(b), 7);
    char key[32];
    for (int i = 0; i < 10000; i++)
        sl_bloom_add(b, key, (size_t)snprintf(key, sizeof key, "in-%d", i));
    for (int i = 0; i < 10000; i++)
        assert_true(sl_bloom_contains(b, key, (size_t)snprintf(key, sizeof key, "in-%d", i)));
    int fp = 0;
    for (int i = 0; i < 100000; i++)
        fp += sl_bloom_contains(b, key, (size_t)snprintf(key, sizeof key, "out-%d", i));
    printf("# Bloom n=10000 fpp=0.01: false-positive rate %.4f\n", fp / 100000.0);
    assert_true(fp > 500 && fp < 1500);
    sl_object_unref(sl_bloom_obj(b));
    struct sl_bloom *x;
    assert_int_equal(sl_bloom_new(-1, 0.01, &x), SL_EINVAL);
    assert_int_equal(sl_bloom_new(10, 1.0, &x), SL_EINVAL);
    assert_int_equal(sl_bloom_new(2000000000, 1e-12, &x), SL_E2BIG);
}

static void bloom_bytes(const struct sl_bloom *b, struct sl_buf *out)
{
    sl_buf_reset(out);
    assert_int_equal(sl_sketch_serialize((const struct sl_object *)b, out), 0);
}

static void test_bloom_merge(void **state)
{
    (void)state;
    struct sl_bloom *f[3], *l, *r, *u, *bc;
    char key[32];
    assert_int_equal(sl_bloom_new(1000, 0.01, &l), 0);
    assert_int_equal(sl_bloom_new(1000, 0.01, &r), 0);
    assert_int_equal(sl_bloom_new(1000, 0.01, &u), 0);
    assert_int_equal(sl_bloom_new(1000, 0.01, &bc), 0);
    for (int j = 0; j < 3; j++) {
        assert_int_equal(sl_bloom_new(1000, 0.01, &f[j]), 0);
        for (int i = 0; i < 300; i++) {
            size_t n = (size_t)snprintf(key, sizeof key, "%d-%d", j, i);
            sl_bloom_add(f[j], key, n);
            sl_bloom_add(u, key, n);
        }
    }
    sl_bloom_merge(l, f[0]), sl_bloom_merge(l, f[1]), sl_bloom_merge(l, f[2]);
    sl_bloom_merge(bc, f[1]), sl_bloom_merge(bc, f[2]);
    sl_bloom_merge(r, f[0]), sl_bloom_merge(r, bc);
    struct sl_buf bl, br, bu;
    sl_buf_init(&bl, 0), sl_buf_init(&br, 0), sl_buf_init(&bu, 0);
    bloom_bytes(l, &bl), bloom_bytes(r, &br), bloom_bytes(u, &bu);
    assert_int_equal(bl.len, bu.len);
    assert_memory_equal(bl.ptr, br.ptr, bl.len);
    assert_memory_equal(bl.ptr, bu.ptr, bl.len);
    struct sl_bloom *other;
    assert_int_equal(sl_bloom_new(5000, 0.01, &other), 0);
    assert_int_equal(sl_bloom_merge(l, other), SL_EINVAL);
    sl_buf_fini(&bl), sl_buf_fini(&br), sl_buf_fini(&bu);
    struct sl_bloom *all[] = {f[0], f[1], f[2], l, r, u, bc, other};
    for (size_t i = 0; i < 8; i++)
        sl_object_unref(sl_bloom_obj(all[i]));
}

/* ---- serialisation */

/* Serialize, decode, serialize again: the bytes must match. Then every truncation and every
 * flipped byte (all of them for small sketches, a stride for large ones) must fail. */
static void roundtrip(struct sl_object *o, size_t stride)
{
    struct sl_buf a, b;
    sl_buf_init(&a, 0);
    sl_buf_init(&b, 0);
    assert_int_equal(sl_sketch_serialize(o, &a), 0);
    struct sl_object *back;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_sketch_deserialize(a.ptr, a.len, &back, &d), 0);
    assert_ptr_equal(back->type, o->type);
    assert_int_equal(sl_sketch_serialize(back, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.ptr, b.ptr, a.len);
    sl_object_unref(back);

    uint8_t *copy = sl_xmalloc(a.len);
    for (size_t n = 0; n < a.len; n += (n < 64 ? 1 : stride)) {
        memcpy(copy, a.ptr, n);
        assert_int_equal(sl_sketch_deserialize(copy, n, &back, NULL), SL_EPARSE);
        assert_null(back);
    }
    for (size_t i = 0; i < a.len; i += (i < 64 || i + 16 > a.len ? 1 : stride)) {
        memcpy(copy, a.ptr, a.len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(sl_sketch_deserialize(copy, a.len, &back, &d), SL_EPARSE);
        assert_null(back);
    }
    sl_free(copy);
    sl_buf_fini(&a);
    sl_buf_fini(&b);
}

static void test_serialize(void **state)
{
    (void)state;
    rng_state = 3;
    struct sl_stats *s = sl_stats_new(0);
    roundtrip(sl_stats_obj(s), 1); /* empty */
    for (int i = 0; i < 5000; i++)
        sl_stats_add(s, draw(NORMAL));
    roundtrip(sl_stats_obj(s), 13); /* centroids and a partly filled buffer */
    double before = stat(s, SL_STAT_PERCENTILE, 90);
    struct sl_buf buf;
    sl_buf_init(&buf, 0);
    assert_int_equal(sl_sketch_serialize(sl_stats_obj(s), &buf), 0);
    struct sl_object *o;
    assert_int_equal(sl_sketch_deserialize(buf.ptr, buf.len, &o, NULL), 0);
    assert_close(stat((struct sl_stats *)o, SL_STAT_PERCENTILE, 90), before, 0);
    assert_close(stat((struct sl_stats *)o, SL_STAT_KURTOSIS, 0), stat(s, SL_STAT_KURTOSIS, 0), 0);
    sl_object_unref(o);
    sl_object_unref(sl_stats_obj(s));

    s = sl_stats_new(100);
    for (int i = 0; i < 250; i++)
        sl_stats_add(s, i);
    roundtrip(sl_stats_obj(s), 7);
    sl_object_unref(sl_stats_obj(s));

    struct sl_hllp *h = sl_hllp_new(14, 25);
    add_items(h, 0, 1000); /* sparse */
    roundtrip(sl_hllp_obj(h), 11);
    add_items(h, 1000, 100000); /* dense */
    assert_false(sl_hllp_is_sparse(h));
    roundtrip(sl_hllp_obj(h), 97);
    sl_object_unref(sl_hllp_obj(h));
    h = sl_hllp_new(5, 6);
    add_items(h, 0, 4);
    roundtrip(sl_hllp_obj(h), 1);
    sl_object_unref(sl_hllp_obj(h));

    struct sl_bloom *b;
    assert_int_equal(sl_bloom_new(500, 0.05, &b), 0);
    sl_bloom_add(b, "x", 1);
    roundtrip(sl_bloom_obj(b), 5);
    sl_object_unref(sl_bloom_obj(b));

    /* a forged field behind a valid checksum still fails: set the centroid count huge */
    s = sl_stats_new(0);
    sl_stats_add(s, 1);
    sl_buf_reset(&buf);
    assert_int_equal(sl_sketch_serialize(sl_stats_obj(s), &buf), 0);
    size_t at = 12 + 1 + 8 + 9 * 8 + 4; /* mode, n, 9 doubles, compression → centroids */
    buf.ptr[at + 3] = 0x7f;
    uint64_t sum = sl_hash64(buf.ptr, buf.len - 8);
    for (int i = 0; i < 8; i++)
        buf.ptr[buf.len - 8 + (size_t)i] = (char)(uint8_t)(sum >> (8 * i));
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_sketch_deserialize(buf.ptr, buf.len, &o, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "centroid"));
    sl_object_unref(sl_stats_obj(s));
    sl_buf_fini(&buf);
    assert_int_equal(sl_sketch_deserialize("", 0, &o, NULL), SL_EPARSE);
}

/* Random payloads behind a valid envelope and checksum: the decoder must either refuse them
 * or produce a sketch that works (ASan watches every read). */
static void test_forged(void **state)
{
    (void)state;
    rng_state = 99;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (int it = 0; it < 20000; it++) {
        sl_buf_reset(&b);
        uint8_t kind = (uint8_t)(1 + it % 3);
        size_t plen = (size_t)(rng() % (it % 5 == 0 ? 4096 : 64));
        uint8_t hdr[12] = {'S', 'L', 'S', 'K', kind, 1, 0, 0, (uint8_t)plen, (uint8_t)(plen >> 8),
                           0,   0};
        sl_buf_append(&b, hdr, sizeof hdr);
        for (size_t i = 0; i < plen; i++) {
            uint8_t c = (uint8_t)rng();
            if (i < 3 && (rng() & 1)) /* plausible mode / precision bytes */
                c = (uint8_t)(kind == 2 ? 4 + rng() % 10 : rng() % 2);
            sl_buf_putc(&b, (char)c);
        }
        uint64_t sum = sl_hash64(b.ptr, b.len);
        for (int i = 0; i < 8; i++)
            sl_buf_putc(&b, (char)(uint8_t)(sum >> (8 * i)));
        struct sl_object *o = NULL;
        int rc = sl_sketch_deserialize(b.ptr, b.len, &o, NULL);
        assert_true(rc == 0 || rc == SL_EPARSE);
        if (!rc) {
            struct sl_buf again;
            sl_buf_init(&again, 0);
            assert_int_equal(sl_sketch_serialize(o, &again), 0);
            sl_buf_fini(&again);
            sl_object_unref(o);
        }
    }
    sl_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments),
        cmocka_unit_test(test_windowed),
        cmocka_unit_test(test_percentile_accuracy),
        cmocka_unit_test(test_stats_merge),
        cmocka_unit_test(test_hll_accuracy),
        cmocka_unit_test(test_hll_merge),
        cmocka_unit_test(test_bloom),
        cmocka_unit_test(test_bloom_merge),
        cmocka_unit_test(test_serialize),
        cmocka_unit_test(test_forged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
