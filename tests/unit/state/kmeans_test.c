/*
 * kmeans_test.c — k-means: k-means++ with a seed finds well-separated blobs and is
 * deterministic; given centres converge to the hand-computed means; scaling; an empty
 * cluster takes the farthest point; scores are distances to the nearest centre; online
 * updates; the model file round-trips and its loader names the path of a bad field; every
 * allocation failure of a fit and a load is an error without a leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "state/kmeans.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* three blobs of 200 points in 3 dimensions around (0,0,0), (10,10,10), (-10,10,0) */
static double *blobs(size_t *n)
{
    static const double c[3][3] = {{0, 0, 0}, {10, 10, 10}, {-10, 10, 0}};
    size_t m = 600;
    double *x = malloc(m * 3 * sizeof(double));
    unsigned s = 12345;
    for (size_t i = 0; i < m; i++)
        for (int t = 0; t < 3; t++) {
            s = s * 1103515245u + 12345u;
            double u = ((s >> 8) & 0xffff) / 65536.0 - 0.5;
            x[i * 3 + t] = c[i % 3][t] + u;
        }
    *n = m;
    return x;
}

static void test_kmeanspp_blobs(void **state)
{
    (void)state;
    size_t n;
    double *x = blobs(&n);
    struct sl_kmeans_params p = {.k = 3, .tol = -1, .seed = 7};
    struct sl_kmeans_model *m = NULL, *m2 = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_kmeans_fit(x, n, 3, NULL, &p, &m, &d), 0);
    /* every blob is one cluster: its points share a label, blobs differ */
    uint32_t lab[3];
    for (int b = 0; b < 3; b++)
        lab[b] = sl_kmeans_score(m, x + b * 3, NULL);
    assert_true(lab[0] != lab[1] && lab[1] != lab[2] && lab[0] != lab[2]);
    for (size_t i = 0; i < n; i++) {
        double dist;
        assert_int_equal(sl_kmeans_score(m, x + i * 3, &dist), lab[i % 3]);
        assert_true(dist < 1.0);
    }
    assert_true(sl_kmeans_stats(m)->converged);
    assert_int_equal(sl_kmeans_count(m, lab[0]), 200);
    /* the same seed gives the same model */
    assert_int_equal(sl_kmeans_fit(x, n, 3, NULL, &p, &m2, &d), 0);
    for (uint32_t j = 0; j < 3; j++)
        assert_memory_equal(sl_kmeans_centre(m, j), sl_kmeans_centre(m2, j), 3 * sizeof(double));
    /* a far point scores its distance to the nearest centre */
    double far[3] = {100, 0, 0}, dist;
    uint32_t j = sl_kmeans_score(m, far, &dist);
    const double *cj = sl_kmeans_centre(m, j);
    double e = sqrt((100 - cj[0]) * (100 - cj[0]) + cj[1] * cj[1] + cj[2] * cj[2]);
    assert_true(fabs(dist - e) < 1e-9);
    sl_kmeans_free(m);
    sl_kmeans_free(m2);
    free(x);
}

static void test_given_centres(void **state)
{
    (void)state;
    /* 1-D: {0, 1, 2, 10, 11, 12} from centres 0 and 1: converges to 1 and 11 */
    double x[] = {0, 1, 2, 10, 11, 12};
    double init[] = {0, 1};
    struct sl_kmeans_params p = {.k = 2, .tol = -1, .init_centres = init};
    struct sl_kmeans_model *m = NULL;
    const char *names[] = {"v"};
    assert_int_equal(sl_kmeans_fit(x, 6, 1, names, &p, &m, NULL), 0);
    assert_true(fabs(sl_kmeans_centre(m, 0)[0] - 1) < 1e-12);
    assert_true(fabs(sl_kmeans_centre(m, 1)[0] - 11) < 1e-12);
    assert_string_equal(sl_kmeans_name(m, 0), "v");
    assert_true(fabs(sl_kmeans_stats(m)->inertia - 4) < 1e-12);
    /* online: count-based rate moves centre 1 (count 3 -> 4) a quarter of the way */
    double v = 15, dist;
    assert_int_equal(sl_kmeans_update(m, &v, 0, &dist), 1);
    assert_true(fabs(dist - 4) < 1e-12);
    assert_true(fabs(sl_kmeans_centre(m, 1)[0] - 12) < 1e-12);
    /* fixed rate */
    v = 14;
    sl_kmeans_update(m, &v, 0.5, NULL);
    assert_true(fabs(sl_kmeans_centre(m, 1)[0] - 13) < 1e-12);
    sl_kmeans_free(m);
}

static void test_empty_cluster(void **state)
{
    (void)state;
    /* centre 2 at 100 attracts nothing: it takes the point farthest from its centre (9) */
    double x[] = {0, 1, 2, 8, 9};
    double init[] = {0, 3, 100};
    struct sl_kmeans_params p = {.k = 3, .tol = 0, .init_centres = init};
    struct sl_kmeans_model *m = NULL;
    assert_int_equal(sl_kmeans_fit(x, 5, 1, NULL, &p, &m, NULL), 0);
    for (uint32_t j = 0; j < 3; j++)
        assert_true(sl_kmeans_count(m, j) > 0);
    sl_kmeans_free(m);
}

static void test_scaled(void **state)
{
    (void)state;
    /* feature 2 is 1000 x feature 1: scaled, both weigh the same */
    double x[] = {0, 0, 1, 1000, 0, 1000, 1, 0};
    struct sl_kmeans_params p = {.k = 1, .tol = -1, .scale = true};
    struct sl_kmeans_model *m = NULL;
    assert_int_equal(sl_kmeans_fit(x, 4, 2, NULL, &p, &m, NULL), 0);
    assert_true(sl_kmeans_scaled(m));
    double v[2] = {0, 0}, dist;
    sl_kmeans_score(m, v, &dist);
    assert_true(fabs(dist - sqrt(2)) < 1e-12); /* (0-0.5)/0.5 = -1 in each feature */
    sl_kmeans_free(m);
}

static void test_errors(void **state)
{
    (void)state;
    double x[] = {1, 2};
    struct sl_kmeans_params p = {.k = 3, .tol = -1};
    struct sl_kmeans_model *m = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_kmeans_fit(x, 2, 1, NULL, &p, &m, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "need at least k"));
    double nan[] = {1, NAN, 3};
    p.k = 1;
    assert_int_equal(sl_kmeans_fit(nan, 3, 1, NULL, &p, &m, &d), SL_EINVAL);
    assert_null(m);
}

static void test_model_file(void **state)
{
    (void)state;
    size_t n;
    double *x = blobs(&n);
    const char *names[] = {"a", "b\"q", "c"};
    struct sl_kmeans_params p = {.k = 3, .tol = -1, .seed = 1, .scale = true};
    struct sl_kmeans_model *m = NULL, *r = NULL;
    assert_int_equal(sl_kmeans_fit(x, n, 3, names, &p, &m, NULL), 0);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_kmeans_to_json(m, "k-means++", 1, &b), 0);
    struct sl_diag d;
    assert_int_equal(sl_kmeans_from_json(b.ptr, b.len, "m.json", &r, &d), 0);
    assert_int_equal(sl_kmeans_k(r), 3);
    assert_int_equal(sl_kmeans_dim(r), 3);
    assert_string_equal(sl_kmeans_name(r, 1), "b\"q");
    assert_true(sl_kmeans_scaled(r));
    for (size_t i = 0; i < n; i += 17) {
        double d1, d2;
        assert_int_equal(sl_kmeans_score(m, x + i * 3, &d1), sl_kmeans_score(r, x + i * 3, &d2));
        assert_true(d1 == d2); /* shortest round-trip doubles */
    }
    sl_kmeans_free(r);
    sl_kmeans_free(m);
    sl_buf_fini(&b);
    free(x);

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[1]", "must be a JSON object"},
        {"{\"format\":\"x\"}", "format:"},
        {"{\"format\":\"sluice-kmeans\",\"version\":2}", "version:"},
        {"{\"format\":\"sluice-kmeans\",\"version\":1,\"k\":0}", "k:"},
        {"{\"format\":\"sluice-kmeans\",\"version\":1,\"k\":1,\"features\":[]}", "features:"},
        {"{\"format\":\"sluice-kmeans\",\"version\":1,\"k\":2,\"features\":[\"a\"],"
         "\"centres\":[[1],[1,2]]}",
         "centres[1]: expected 1 numbers, got 2"},
        {"{\"format\":\"sluice-kmeans\",\"version\":1,\"k\":1,\"features\":[\"a\"],"
         "\"centres\":[[\"x\"]]}",
         "centres[0][0]: expected a finite number"},
        {"{\"format\":\"sluice-kmeans\",\"version\":1,\"k\":1,\"features\":[\"a\"],"
         "\"scale\":\"standard\",\"centres\":[[1]],\"mean\":[0],\"std\":[0]}",
         "std[0]: expected a number > 0"},
        {"{\"format\":\"sluice-kmeans\",", "not a valid JSON model at byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = NULL;
        sl_diag_init(&d);
        assert_int_not_equal(
            sl_kmeans_from_json(bad[i].json, strlen(bad[i].json), "m.json", &r, &d), 0);
        assert_null(r);
        assert_string_equal(d.file, "m.json");
        if (!strstr(d.msg, bad[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, d.msg, bad[i].msg);
    }
}

/* Every allocation of a fit (scaled, with k-means++) and of a model load fails in turn: an
 * error comes back, nothing leaks (ASan), and the next try succeeds. */
static void test_alloc_failures(void **state)
{
    (void)state;
    size_t n;
    double *x = blobs(&n);
    struct sl_kmeans_params p = {.k = 3, .tol = -1, .seed = 2, .scale = true};
    struct sl_buf b;
    sl_buf_init(&b, 0);
    struct sl_kmeans_model *m = NULL;
    assert_int_equal(sl_kmeans_fit(x, n, 3, NULL, &p, &m, NULL), 0);
    assert_int_equal(sl_kmeans_to_json(m, "k-means++", 2, &b), 0);
    sl_kmeans_free(m);
    for (int which = 0; which < 2; which++) {
        bool done = false;
        for (uint64_t nth = 1; !done && nth < 1000; nth++) {
            m = NULL;
            sl_alloc_fail_nth(nth);
            uint64_t before = sl_alloc_failed();
            int rc = which ? sl_kmeans_from_json(b.ptr, b.len, "m.json", &m, NULL)
                           : sl_kmeans_fit(x, n, 3, NULL, &p, &m, NULL);
            bool failed = sl_alloc_failed() != before;
            sl_alloc_fail_nth(0);
            if (!failed) {
                assert_int_equal(rc, 0);
                done = true;
            } else {
                assert_int_not_equal(rc, 0);
                assert_null(m);
            }
            sl_kmeans_free(m);
        }
        assert_true(done);
    }
    sl_buf_fini(&b);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kmeanspp_blobs), cmocka_unit_test(test_given_centres),
        cmocka_unit_test(test_empty_cluster),  cmocka_unit_test(test_scaled),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
