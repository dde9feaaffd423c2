/*
 * kmeans.h — k-means clustering: training (k-means++ or given centres, Lloyd iterations),
 * optional standard scaling, scoring by distance to the nearest centre, sequential (online)
 * updates, and the model as a JSON file.
 *
 * It follows scikit-learn's KMeans(algorithm="lloyd", n_init=1) so that the same data and the
 * same initial centres give the same centres and scores (tests/integ/kmeans_sklearn.sh):
 * convergence when the labels stop changing or when the summed squared centre shift is at
 * most tol × the mean per-feature variance of the (scaled) data; an empty cluster takes the
 * point farthest from its centre; a last assignment step when stopped by tol or max_iter.
 * Scaling is StandardScaler's: population mean and std per feature, a std below 10 × DBL_EPSILON
 * counts as 1. k-means++ is scikit-learn's greedy variant (2 + ln k candidates per centre),
 * with sluice's own generator (xoshiro256**): deterministic for a seed, not the same draws
 * as numpy's.
 *
 * Centres live in the scaled space (raw space when not scaled); the caller always gives raw
 * feature vectors. A model is not thread-safe: reads (score) may run concurrently, an
 * update needs the caller's lock.
 */
#ifndef SL_STATE_KMEANS_H
#define SL_STATE_KMEANS_H

#include "base/buf.h"
#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_KMEANS_MAX_K   1024u
#define SL_KMEANS_MAX_DIM 256u
/* points given to one fit, at most (n × dim doubles are copied when scaling) */
#define SL_KMEANS_MAX_POINTS  ((size_t)1 << 28)
#define SL_KMEANS_MAX_THREADS 64u

struct sl_kmeans_model;

struct sl_kmeans_params {
    uint32_t k;
    uint32_t max_iter; /* 0: 300 */
    double tol;        /* < 0: 1e-4; 0: stop only when the labels stop changing */
    uint64_t seed;     /* k-means++ */
    /* k × dim initial centres in raw units (scaled like the data), or NULL: k-means++ */
    const double *init_centres;
    bool scale;       /* standard scaling */
    uint32_t threads; /* assignment step on this many threads (0, 1: the caller's only); the
                       * sums are merged in a fixed order: the result depends on the thread
                       * count only in the last bits */
};

struct sl_kmeans_stats {
    uint64_t points;
    uint32_t iterations;
    bool converged; /* stopped before max_iter */
    double inertia; /* sum of squared distances to the nearest centre (scaled space) */
};

/*
 * Train on n points of dim features (x: n × dim doubles, row-major, raw units). names: dim
 * feature names (copied) or NULL ("f0", "f1"...). On success *out is the caller's
 * (sl_kmeans_free). Errors (message in d, may be NULL): SL_EINVAL (k or dim out of range,
 * fewer points than k, a value that is not finite, bad initial centres), SL_E2BIG (too many
 * points), SL_ENOMEM. Any thread; reentrant.
 */
int sl_kmeans_fit(const double *x, size_t n, uint32_t dim, const char *const *names,
                  const struct sl_kmeans_params *p, struct sl_kmeans_model **out,
                  struct sl_diag *d);
void sl_kmeans_free(struct sl_kmeans_model *m);

uint32_t sl_kmeans_k(const struct sl_kmeans_model *m);
uint32_t sl_kmeans_dim(const struct sl_kmeans_model *m);
bool sl_kmeans_scaled(const struct sl_kmeans_model *m);
const char *sl_kmeans_name(const struct sl_kmeans_model *m, uint32_t i);
/* Centre j (dim doubles, scaled space). */
const double *sl_kmeans_centre(const struct sl_kmeans_model *m, uint32_t j);
/* Points assigned to centre j in training, plus online updates. */
double sl_kmeans_count(const struct sl_kmeans_model *m, uint32_t j);
const struct sl_kmeans_stats *sl_kmeans_stats(const struct sl_kmeans_model *m);

/* Nearest centre of one raw vector; *dist (may be NULL) = Euclidean distance to it in the
 * scaled space. Read-only on m. */
uint32_t sl_kmeans_score(const struct sl_kmeans_model *m, const double *raw, double *dist);
/* Score n raw vectors (labels and dists may be NULL). */
void sl_kmeans_score_many(const struct sl_kmeans_model *m, const double *x, size_t n,
                          uint32_t *labels, double *dists);
/*
 * Sequential k-means: score raw, then move the nearest centre toward it by `rate` (in (0,1])
 * or, when rate <= 0, by 1/n where n is the centre's count after adding this point. Returns
 * the cluster; *dist is the distance before the move. Caller serialises updates.
 */
uint32_t sl_kmeans_update(struct sl_kmeans_model *m, const double *raw, double rate, double *dist);

/* The model as JSON (docs/components/kmeans.md), appended to out. 0 or SL_ENOMEM/SL_E2BIG. */
int sl_kmeans_to_json(const struct sl_kmeans_model *m, const char *init, uint64_t seed,
                      struct sl_buf *out);
/* Write the JSON to `path` (through a temporary file renamed over it). 0 or SL_EIO (d). */
int sl_kmeans_save(const struct sl_kmeans_model *m, const char *init, uint64_t seed,
                   const char *path, struct sl_diag *d);
/*
 * Parse a model from JSON text. `origin` names it in errors (d->file; d->msg gives the JSON
 * path and field: "centres[1]: expected 2 numbers, got 3"; d->offset for syntax errors).
 * SL_EPARSE (syntax), SL_EINVAL (shape or values), SL_E2BIG, SL_ENOMEM. Never aborts on any
 * input.
 */
int sl_kmeans_from_json(const char *text, size_t len, const char *origin,
                        struct sl_kmeans_model **out, struct sl_diag *d);
/* Read and parse a model file (at most 64 MiB). */
int sl_kmeans_load(const char *path, struct sl_kmeans_model **out, struct sl_diag *d);

#endif
