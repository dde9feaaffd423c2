/*
 * kmeans_tool.c — state/kmeans.c from the command line, for the scikit-learn parity test
 * (tests/integ/kmeans_sklearn.sh) and the benchmark against it (bench/bench_kmeans.sh).
 *
 *   kmeans_tool --data X.f64 --dim D --k K [--init C.f64] [--scale] [--seed S] [--tol T]
 *               [--max-iter N] [--model OUT.json] [--score Y.f64] [--scores OUT.f64]
 *               [--labels OUT.i32] [--repeat R] [--threads T]
 *
 * Matrices are raw little-endian float64, row-major (numpy's tofile()). Fits on X, writes the
 * model, scores Y (default X): distances to the nearest centre. Prints one JSON line with the
 * fit and score times (the best of --repeat runs) and the training statistics.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "state/kmeans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double *read_f64(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    double *x = malloc(len > 0 ? (size_t)len : 1);
    if (!x || fread(x, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read error\n", path);
        exit(2);
    }
    fclose(f);
    *count = (size_t)len / sizeof(double);
    return x;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    const char *data = NULL, *init = NULL, *model = NULL, *score = NULL, *scores = NULL,
               *labels_out = NULL;
    uint32_t dim = 0;
    struct sl_kmeans_params p = {.k = 2, .tol = -1};
    int repeat = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--scale")) {
            p.scale = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--dim"))
            dim = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--k"))
            p.k = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--init"))
            init = v;
        else if (!strcmp(a, "--seed"))
            p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tol"))
            p.tol = strtod(v, NULL);
        else if (!strcmp(a, "--max-iter"))
            p.max_iter = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--score"))
            score = v;
        else if (!strcmp(a, "--scores"))
            scores = v;
        else if (!strcmp(a, "--labels"))
            labels_out = v;
        else if (!strcmp(a, "--threads"))
            p.threads = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--repeat"))
            repeat = (int)strtol(v, NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (!data || !dim) {
        fprintf(stderr, "usage: kmeans_tool --data X.f64 --dim D --k K [...]\n");
        return 2;
    }
    size_t cnt;
    double *x = read_f64(data, &cnt);
    size_t n = cnt / dim;
    double *c0 = NULL;
    if (init) {
        size_t cc;
        c0 = read_f64(init, &cc);
        if (cc != (size_t)p.k * dim) {
            fprintf(stderr, "--init: %zu values, want k x dim = %u\n", cc, p.k * dim);
            return 2;
        }
        p.init_centres = c0;
    }
    struct sl_kmeans_model *m = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    double fit_s = 1e300;
    for (int r = 0; r < (repeat > 0 ? repeat : 1); r++) {
        sl_kmeans_free(m);
        m = NULL;
        int64_t t0 = sl_clock_mono_ns();
        if (sl_kmeans_fit(x, n, dim, NULL, &p, &m, &d)) {
            fprintf(stderr, "fit: %s\n", d.msg);
            return 1;
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (s < fit_s)
            fit_s = s;
    }
    double *y = x;
    size_t ny = n;
    if (score) {
        y = read_f64(score, &cnt);
        ny = cnt / dim;
    }
    double *dist = malloc((ny ? ny : 1) * sizeof(double));
    uint32_t *lab = malloc((ny ? ny : 1) * sizeof(uint32_t));
    double score_s = 1e300;
    for (int r = 0; r < (repeat > 0 ? repeat : 1); r++) {
        int64_t t0 = sl_clock_mono_ns();
        sl_kmeans_score_many(m, y, ny, lab, dist);
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (s < score_s)
            score_s = s;
    }
    if (scores)
        write_file(scores, dist, ny * sizeof(double));
    if (labels_out)
        write_file(labels_out, lab, ny * sizeof(uint32_t));
    if (model && sl_kmeans_save(m, init ? "centres" : "k-means++", p.seed, model, &d)) {
        fprintf(stderr, "save: %s\n", d.msg);
        return 1;
    }
    const struct sl_kmeans_stats *st = sl_kmeans_stats(m);
    printf("{\"points\":%zu,\"dim\":%u,\"k\":%u,\"threads\":%u,\"fit_s\":%.6f,\"iterations\":%u,"
           "\"converged\":%s,"
           "\"inertia\":%.17g,\"score_points\":%zu,\"score_s\":%.6f,\"score_per_s\":%.0f}\n",
           n, dim, p.k, p.threads ? p.threads : 1, fit_s, st->iterations,
           st->converged ? "true" : "false", st->inertia, ny, score_s,
           score_s > 0 ? (double)ny / score_s : 0);
    sl_kmeans_free(m);
    if (y != x)
        free(y);
    free(x);
    free(c0);
    free(dist);
    free(lab);
    return 0;
}
