/*
 * xf_kmeans.c — the `kmeans` transform: k-means anomaly scoring per key per window, dataShark's
 * web anomaly detection (docs/components/kmeans.md).
 *
 *   transforms:
 *     web_anomaly:
 *       type: kmeans
 *       inputs: [access]
 *       pattern: '^(?P<source>\S+) .*?" (?P<code>\d+) '
 *       key: source
 *       features: {twoxx: "sum(code >= 200 && code < 300)", nxx: "sum(code >= 500)"}
 *       training: train_access_log
 *       window: 60s
 *
 * Each event gives a key (Stellar) and, per feature, the value of a Stellar expression that
 * an aggregate (count, sum, avg, min, max, distinct) folds per (key, tumbling window). When a
 * window closes (processing time: the wall clock passes its end; event time: the newest event
 * time seen minus `lag` does; end of input: all), each key's vector is scored against the
 * model (distance to the nearest centre) and leaves as one record {key, score, metadata
 * {cluster, features...}, window_start, window_end[, anomaly]}. The model is trained in init
 * on the `training` file run through the same pattern, key and features (one vector per key
 * over the whole file, or per training_window), or loaded from `model`.
 *
 * DESIGN: a batch is evaluated without a lock (per-worker VM, regex match data and scratch
 * rows), then folded into the accumulators under one mutex, taken once per batch; the same
 * lock serialises scoring and online updates of the model. Accumulators live in one hash map
 * keyed by (window id, key); closing a window scans the map, which happens once per window.
 * The number of open accumulators is bounded by max_keys.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/map.h"
#include "codec/json.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "io/xf_kmeans.h"
#include "io/lang_glue.h"
#include "io/partstream.h"
#include "base/binrd.h"
#include "lang/stellar.h"
#include "state/kmeans.h"
#include "sys/thread.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FEATURES 64u

enum { INIT_PP, INIT_CENTRES };
enum { SCALE_NONE, SCALE_STANDARD };
enum { TFMT_LINES, TFMT_JSON };
enum { TIME_PROCESSING, TIME_EVENT };
enum agg { AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_DISTINCT };
static const char *const agg_names[] = {"count", "sum", "avg", "min", "max", "distinct"};

struct km_conf {
    char *key;
    struct sl_strmap features;
    char *pattern;
    char *pattern_field;
    int64_t k;
    int init;
    struct sl_tree_opt centres;
    int64_t seed;
    int64_t max_iter;
    int64_t train_threads;
    double tol;
    int scale;
    char *training;
    int training_format;
    int64_t training_window_ns;
    char *model;
    char *model_out;
    int64_t window_ns;
    int time;
    char *timestamp_field;
    int64_t lag_ns;
    double threshold;
    bool online;
    double learning_rate;
    struct sl_strmap changelog;
    int64_t changelog_interval_ns;
    int64_t max_keys;
    int64_t max_training_vectors;
    char *key_field, *score_field, *metadata_field;
};

static const struct sl_option km_opts[] = {
    {"key", SL_OPT_STRING, NULL, offsetof(struct km_conf, key),
     "Stellar expression: the primary key (its text); null skips the event", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"features", SL_OPT_STRING_MAP, NULL, offsetof(struct km_conf, features),
     "name -> agg(expr), agg one of count sum avg min max distinct; expr is Stellar", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"pattern", SL_OPT_STRING, NULL, offsetof(struct km_conf, pattern),
     "PCRE2 regex with named captures applied to pattern_field first (stream and training)", NULL,
     0, 0, 0},
    {"pattern_field", SL_OPT_STRING, "message", offsetof(struct km_conf, pattern_field),
     "the field `pattern` reads", NULL, 0, 0, 0},
    {"k", SL_OPT_INT, "2", offsetof(struct km_conf, k), "number of clusters", NULL, 1,
     SL_KMEANS_MAX_K, 0},
    {"init", SL_OPT_ENUM, "k-means++", offsetof(struct km_conf, init),
     "k-means++ (from seed) or centres (the `centres` option)", "k-means++|centres", 0, 0, 0},
    {"centres", SL_OPT_TREE, NULL, offsetof(struct km_conf, centres),
     "initial centres: k lists of one number per feature, raw units", NULL, 0, 0, 0},
    {"seed", SL_OPT_INT, "0", offsetof(struct km_conf, seed), "seed of k-means++", NULL, 0, 0, 0},
    {"max_iter", SL_OPT_INT, "300", offsetof(struct km_conf, max_iter), "Lloyd iterations at most",
     NULL, 1, 1000000, 0},
    {"train_threads", SL_OPT_INT, "1", offsetof(struct km_conf, train_threads),
     "threads for the Lloyd iterations of training (the result differs only in the last bits)",
     NULL, 1, 64, 0},
    {"tol", SL_OPT_DOUBLE, "1e-4", offsetof(struct km_conf, tol),
     "convergence: summed squared centre shift <= tol x mean feature variance", NULL, 0, 0, 0},
    {"scale", SL_OPT_ENUM, "none", offsetof(struct km_conf, scale),
     "standard: per-feature mean/std of the training data", "none|standard", 0, 0, 0},
    {"training", SL_OPT_STRING, NULL, offsetof(struct km_conf, training),
     "training file: records like the stream's", NULL, 0, 0, 0},
    {"training_format", SL_OPT_ENUM, "lines", offsetof(struct km_conf, training_format),
     "lines (field `message`) or json (one object per line)", "lines|json", 0, 0, 0},
    {"training_window", SL_OPT_DURATION, "0", offsetof(struct km_conf, training_window_ns),
     "0: one vector per key over the whole file; else per key per window (event time)", NULL, 0, 0,
     0},
    {"model", SL_OPT_STRING, NULL, offsetof(struct km_conf, model),
     "load this model file instead of training", NULL, 0, 0, 0},
    {"model_out", SL_OPT_STRING, NULL, offsetof(struct km_conf, model_out),
     "write the trained model here (JSON)", NULL, 0, 0, 0},
    {"window", SL_OPT_DURATION, "60s", offsetof(struct km_conf, window_ns),
     "tumbling scoring window", NULL, 0, 0, 0},
    {"time", SL_OPT_ENUM, "processing", offsetof(struct km_conf, time),
     "processing (arrival) or event time", "processing|event", 0, 0, 0},
    {"timestamp_field", SL_OPT_STRING, NULL, offsetof(struct km_conf, timestamp_field),
     "event time field (timestamp, epoch s/ms, RFC 3339, Apache time); unset: the event's time",
     NULL, 0, 0, 0},
    {"lag", SL_OPT_DURATION, "0", offsetof(struct km_conf, lag_ns), "event time: allowed lateness",
     NULL, 0, 0, 0},
    {"threshold", SL_OPT_DOUBLE, "nan", offsetof(struct km_conf, threshold),
     "adds anomaly: score > threshold", NULL, 0, 0, 0},
    {"online", SL_OPT_BOOL, "false", offsetof(struct km_conf, online),
     "move the nearest centre toward each scored vector", NULL, 0, 0, 0},
    {"learning_rate", SL_OPT_DOUBLE, "0", offsetof(struct km_conf, learning_rate),
     "online: 0 = 1/count, else a fixed rate in (0, 1]", NULL, 0, 0, 0},
    {"max_keys", SL_OPT_INT, "100000", offsetof(struct km_conf, max_keys),
     "open (key, window) accumulators at most", NULL, 1, 100000000, 0},
    {"max_training_vectors", SL_OPT_INT, "1000000", offsetof(struct km_conf, max_training_vectors),
     "training: (key, window) vectors at most", NULL, 1, 268435456, 0},
    {"key_field", SL_OPT_STRING, "key", offsetof(struct km_conf, key_field),
     "output field of the primary key", NULL, 0, 0, 0},
    {"score_field", SL_OPT_STRING, "score", offsetof(struct km_conf, score_field),
     "output field of the score", NULL, 0, 0, 0},
    {"metadata_field", SL_OPT_STRING, "metadata", offsetof(struct km_conf, metadata_field),
     "output field of the metadata map {cluster, features...}", NULL, 0, 0, 0},
    {"changelog", SL_OPT_STRING_MAP, NULL, offsetof(struct km_conf, changelog),
     "input from a kafka source: open (key, window) accumulators per task (partition p of the "
     "source's topics), checkpointed to a compacted topic and restored by the node that takes "
     "the task over (docs/cluster.md): brokers (default: the source's), topic (default: "
     "<group>-<name>-changelog), partitions (when it is created; default 6)",
     NULL, 0, 0, 0},
    {"changelog_interval", SL_OPT_DURATION, "5s", offsetof(struct km_conf, changelog_interval_ns),
     "how often each task's accumulators are checkpointed (also when its partitions are let go)",
     NULL, 0, 0, 0},
    {0},
};

struct feature {
    char *name;
    enum agg agg;
    struct sl_stellar_prog *prog; /* NULL: count() */
};

/* a set of 64-bit hashes (distinct), open addressing, 0 = empty */
struct hset {
    uint64_t *slots;
    uint32_t cap, count;
};

#define HSET_MAX (1u << 20)

static int hset_add(struct hset *s, uint64_t h)
{
    if (!h)
        h = 1;
    if ((s->count + 1) * 4 >= s->cap * 3) {
        if (s->count >= HSET_MAX)
            return 0; /* saturate: the count stops growing */
        uint32_t ncap = s->cap ? s->cap * 2 : 16;
        uint64_t *n = sl_calloc(ncap, sizeof *n);
        if (!n)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                for (uint32_t j = (uint32_t)s->slots[i] & (ncap - 1);; j = (j + 1) & (ncap - 1))
                    if (!n[j]) {
                        n[j] = s->slots[i];
                        break;
                    }
        sl_free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    for (uint32_t j = (uint32_t)h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slots[j] == h)
            return 0;
        if (!s->slots[j]) {
            s->slots[j] = h;
            s->count++;
            return 0;
        }
    }
}

/* per (window, key) */
struct acc {
    int64_t win;
    uint32_t key_len;
    char *key;      /* NUL-terminated, after the arrays */
    double *v;      /* dim: sum / min / max */
    double *n;      /* dim: values folded */
    struct hset *d; /* dim (distinct features only), or NULL */
};

/* one event's extraction */
struct row {
    const char *key;
    uint32_t key_len;
    uint32_t ev; /* index of the event in its batch */
    int64_t win;
    int64_t ts;
};

struct worker {
    struct sl_stellar_vm *vm;
    pcre2_match_data *md;
    struct sl_buf scratch;
    struct row *rows;
    double *vals;     /* rows x dim */
    uint8_t *has;     /* rows x dim */
    uint64_t *hashes; /* rows x dim */
    uint32_t cap;
    struct sl_log_limit lim;
};

/* The open accumulators and their times: the transform's own (km.lock), or a task's
 * (`changelog`, under the task's lock, io/partstream.h). */
struct kpart {
    struct sl_hmap accs;
    int64_t max_ts;        /* event time */
    int64_t closed_before; /* windows with id < this are closed */
    int64_t min_win;       /* no open window has a smaller id */
    struct kpart *next;    /* on km.orphans */
};

struct km {
    struct sl_component *comp;
    struct feature *f;
    uint32_t dim;
    bool any_distinct;
    struct sl_stellar_prog *key;
    pcre2_general_context *gctx;
    pcre2_code *re;
    bool jit;
    sl_sym pattern_sym;
    struct {
        sl_sym sym;
        uint32_t group; /* capture group number */
    } caps[64];
    uint32_t ncaps;
    bool event_time;
    bool has_ts_path;
    struct sl_path ts_path;
    int64_t window_ns, lag_ns;
    double threshold;
    bool online;
    double rate;
    const char *model_out; /* online: the updated model is written here at the end */
    bool init_centres;
    uint64_t seed;
    uint64_t max_keys;
    struct worker *workers;
    uint32_t nworkers;
    sl_sym s_key, s_score, s_meta, s_wstart, s_wend, s_anomaly;

    struct sl_mutex lock;
    struct sl_kmeans_model *model; /* guarded_by: lock (online updates) */
    struct kpart main;             /* guarded_by: lock: batches of no task */
    struct sl_pstream *ps;         /* `changelog`: a kpart per task (a task's lock, then lock) */
    struct sl_mutex orphan_lock;
    struct kpart *orphans; /* guarded_by: orphan_lock: tasks' accumulators let go, to score */
    atomic_uint_fast64_t scored, anomalies, late, overflow, training_points;
};

/* ---------------------------------------------------------------- time */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Epoch seconds, milliseconds, microseconds or nanoseconds by magnitude (as Metron's
 * timestamps and Zeek's ts). Times past |4e18| ns (year 2096) are refused: window
 * arithmetic stays far from overflow. */
#define MAX_TS_NS 4e18

static bool epoch_ns(double v, int64_t *out)
{
    double a = fabs(v), ns;
    if (a < 1e11)
        ns = v * 1e9; /* seconds */
    else if (a < 1e14)
        ns = v * 1e6; /* milliseconds */
    else if (a < 1e17)
        ns = v * 1e3; /* microseconds */
    else
        ns = v;
    if (!(fabs(ns) < MAX_TS_NS))
        return false;
    *out = (int64_t)ns;
    return true;
}

/* RFC 3339 ("2024-01-02T03:04:05.5Z", "+01:00") or Apache's "10/Oct/2000:13:55:36 -0700",
 * optionally in [brackets]. */
static bool parse_time_text(const char *p, size_t n, int64_t *out)
{
    static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    while (n && (*p == '[' || *p == ' '))
        p++, n--;
    while (n && (p[n - 1] == ']' || p[n - 1] == ' '))
        n--;
    int64_t y, mo, d, h, mi, s, frac = 0, off = 0;
    size_t i;
    if (n >= 20 && p[4] == '-' && p[7] == '-' && (p[10] == 'T' || p[10] == 't' || p[10] == ' ')) {
        if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d) ||
            !digits(p + 11, 2, &h) || p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' ||
            !digits(p + 17, 2, &s))
            return false;
        i = 19;
        if (i < n && p[i] == '.') {
            int64_t scale = 100000000;
            for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, scale /= 10)
                frac += (p[i] - '0') * scale;
        }
        if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
            i++;
        } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
            int64_t oh, om;
            if (!digits(p + i + 1, 2, &oh) || !digits(p + i + 4, 2, &om))
                return false;
            off = (oh * 60 + om) * 60 * (p[i] == '-' ? -1 : 1);
            i += 6;
        }
        if (i != n)
            return false;
    } else if (n >= 20 && p[2] == '/' && p[6] == '/' && p[11] == ':') {
        if (!digits(p, 2, &d) || !digits(p + 7, 4, &y) || !digits(p + 12, 2, &h) || p[14] != ':' ||
            !digits(p + 15, 2, &mi) || p[17] != ':' || !digits(p + 18, 2, &s))
            return false;
        mo = 0;
        for (int j = 0; j < 12; j++)
            if (!memcmp(p + 3, mon + j * 3, 3))
                mo = j + 1;
        if (!mo)
            return false;
        i = 20;
        if (i + 6 == n && p[i] == ' ' && (p[i + 1] == '+' || p[i + 1] == '-')) {
            int64_t oh, om;
            if (!digits(p + i + 2, 2, &oh) || !digits(p + i + 4, 2, &om))
                return false;
            off = (oh * 60 + om) * 60 * (p[i + 1] == '-' ? -1 : 1);
        } else if (i != n) {
            return false;
        }
    } else {
        int64_t v;
        return digits(p, n, &v) && epoch_ns((double)v, out);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    if (!(fabs((double)(secs - off)) * 1e9 < MAX_TS_NS))
        return false;
    *out = (secs - off) * 1000000000 + frac;
    return true;
}

static bool value_time(const struct sl_value *v, int64_t *out)
{
    switch (v->type) {
    case SL_V_TS:
        *out = v->u.ts_ns;
        return fabs((double)v->u.ts_ns) < MAX_TS_NS;
    case SL_V_INT:
        return epoch_ns((double)v->u.i, out);
    case SL_V_DOUBLE:
        return isfinite(v->u.d) && epoch_ns(v->u.d, out);
    case SL_V_STRING:
        return parse_time_text(v->u.s, v->len, out);
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- set-up */

static void acc_free(struct km *k, struct acc *a)
{
    if (a->d)
        for (uint32_t i = 0; i < k->dim; i++)
            sl_free(a->d[i].slots);
    sl_free(a->d);
    sl_free(a);
}

static void accs_clear(struct km *k, struct sl_hmap *m)
{
    size_t it = 0;
    struct sl_str key;
    uint64_t val;
    while (sl_hmap_next(m, &it, &key, &val))
        acc_free(k, (struct acc *)(uintptr_t)val);
    sl_hmap_fini(m);
}

static void kpart_init(struct kpart *p)
{
    sl_hmap_init(&p->accs);
    p->closed_before = INT64_MIN;
    p->min_win = INT64_MAX;
    p->max_ts = INT64_MIN;
}

static void km_fini(struct sl_component *c)
{
    struct km *k = c->state;
    if (!k)
        return;
    sl_pstream_free(k->ps);
    accs_clear(k, &k->main.accs);
    for (struct kpart *o = k->orphans, *nx; o; o = nx) {
        nx = o->next;
        accs_clear(k, &o->accs);
        sl_free(o);
    }
    sl_mutex_fini(&k->orphan_lock);
    for (uint32_t i = 0; i < k->dim; i++) {
        sl_free(k->f[i].name);
        sl_stellar_free(k->f[i].prog);
    }
    sl_free(k->f);
    sl_stellar_free(k->key);
    for (uint32_t i = 0; i < k->nworkers; i++) {
        struct worker *w = &k->workers[i];
        sl_stellar_vm_free(w->vm);
        if (w->md)
            pcre2_match_data_free(w->md);
        sl_buf_fini(&w->scratch);
        sl_free(w->rows);
        sl_free(w->vals);
        sl_free(w->has);
        sl_free(w->hashes);
    }
    sl_free(k->workers);
    if (k->re)
        pcre2_code_free(k->re);
    if (k->gctx)
        pcre2_general_context_free(k->gctx);
    if (k->has_ts_path)
        sl_path_fini(&k->ts_path);
    sl_kmeans_free(k->model);
    sl_mutex_fini(&k->lock);
    sl_free(k);
    c->state = NULL;
}

static void *pcre_alloc(size_t n, void *data)
{
    (void)data;
    return sl_malloc(n);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    sl_free(p);
}

/* "sum(expr)" -> AGG_SUM, expr */
static int parse_feature(struct sl_component *c, struct km *k, uint32_t i,
                         const struct sl_strmap_item *it, struct sl_diag *d)
{
    struct feature *f = &k->f[i];
    f->name = sl_xstrdup(it->key);
    const char *s = it->val;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    const char *open = memchr(s, '(', n);
    int a = -1;
    if (open && n && s[n - 1] == ')')
        for (int j = 0; j < 6; j++)
            if ((size_t)(open - s) == strlen(agg_names[j]) &&
                !strncasecmp(s, agg_names[j], strlen(agg_names[j])))
                a = j;
    if (a < 0) {
        sl_component_diag_opt(c, "features", d);
        d->line = it->line;
        d->col = it->col;
        sl_diag_hint(d, "write agg(expression) with agg one of count, sum, avg, min, max, "
                        "distinct: \"sum(response_code >= 500)\", \"count()\"");
        return sl_diag_set(d, SL_ECONFIG, "features.%s: '%s' is not agg(expression)", it->key,
                           it->val);
    }
    f->agg = (enum agg)a;
    const char *e = open + 1;
    size_t elen = (size_t)(s + n - 1 - e);
    while (elen && *e == ' ')
        e++, elen--;
    if (!elen) {
        if (f->agg != AGG_COUNT) {
            sl_component_diag_opt(c, "features", d);
            d->line = it->line;
            d->col = it->col;
            return sl_diag_set(d, SL_ECONFIG, "features.%s: %s() needs an expression", it->key,
                               agg_names[a]);
        }
        return 0;
    }
    char *text = sl_xstrndup(e, elen);
    char opt[300];
    snprintf(opt, sizeof opt, "features.%s", it->key);
    uint32_t col = it->col ? it->col + (uint32_t)(e - it->val) : 0; /* within agg( ) */
    int rc = sl_io_compile_expr(c, opt, it->line, col, text, false, &f->prog, d);
    sl_free(text);
    if (f->agg == AGG_DISTINCT)
        k->any_distinct = true;
    return rc;
}

static int compile_pattern(struct sl_component *c, struct km *k, const char *pat, struct sl_diag *d)
{
    k->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!k->gctx)
        return SL_ENOMEM;
    pcre2_compile_context *cc = pcre2_compile_context_create(k->gctx);
    if (!cc)
        return SL_ENOMEM;
    int err = 0;
    PCRE2_SIZE off = 0;
    k->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                          PCRE2_ANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, cc);
    pcre2_compile_context_free(cc);
    if (!k->re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", err);
        sl_component_diag_opt(c, "pattern", d);
        sl_diag_hint(d, "PCRE2 (Perl/Python) syntax; named captures (?P<name>...) become fields");
        return sl_diag_set(d, SL_ECONFIG, "pattern does not compile: %s at offset %zu",
                           (const char *)msg, (size_t)off);
    }
    k->jit = pcre2_jit_compile(k->re, PCRE2_JIT_COMPLETE) == 0;
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(k->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(k->re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(k->re, PCRE2_INFO_NAMETABLE, &table);
    if (!count) {
        sl_component_diag_opt(c, "pattern", d);
        return sl_diag_set(d, SL_ECONFIG, "pattern has no named capture (?P<name>...)");
    }
    if (count > 64) {
        sl_component_diag_opt(c, "pattern", d);
        return sl_diag_set(d, SL_ECONFIG, "pattern: at most 64 named captures");
    }
    /* the table is sorted by name; keep group numbers by index */
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = table + (size_t)i * size;
        k->caps[i].group = ((uint32_t)e[0] << 8) | e[1];
        k->caps[i].sym = sl_sym_intern_c((const char *)e + 2);
    }
    k->ncaps = count;
    return 0;
}

static int grow_worker(struct km *k, struct worker *w, uint32_t n)
{
    if (n <= w->cap)
        return 0;
    size_t cells = (size_t)n * k->dim;
    struct row *r = sl_realloc(w->rows, n * sizeof *r);
    if (!r)
        return SL_ENOMEM;
    w->rows = r;
    double *v = sl_realloc(w->vals, cells * sizeof *v);
    if (!v)
        return SL_ENOMEM;
    w->vals = v;
    uint8_t *h = sl_realloc(w->has, cells);
    if (!h)
        return SL_ENOMEM;
    w->has = h;
    uint64_t *hh = sl_realloc(w->hashes, cells * sizeof *hh);
    if (!hh)
        return SL_ENOMEM;
    w->hashes = hh;
    w->cap = n;
    return 0;
}

/* ---------------------------------------------------------------- extraction */

/* Apply the pattern to one event: captures become fields. false on a miss (msg set). */
static bool apply_pattern(struct km *k, struct worker *w, struct sl_batch *b, struct sl_event *ev,
                          char *msg, size_t msg_len)
{
    const struct sl_value *v = sl_event_get(ev, k->pattern_sym);
    if (!v || v->type == SL_V_NULL) {
        snprintf(msg, msg_len, "pattern: no field '%.*s'", (int)sl_sym_name(k->pattern_sym).len,
                 sl_sym_name(k->pattern_sym).ptr);
        return false;
    }
    sl_buf_reset(&w->scratch);
    struct sl_str t = sl_value_to_text(v, &w->scratch);
    if (v->type != SL_V_STRING) /* rendered text lives in scratch: keep it with the batch */
        t.ptr = sl_batch_copy(b, t.ptr, t.len);
    if (!t.ptr) {
        snprintf(msg, msg_len, "out of memory");
        return false;
    }
    int rc = (k->jit ? pcre2_jit_match : pcre2_match)(k->re, (PCRE2_SPTR)t.ptr, t.len, 0, 0, w->md,
                                                      NULL);
    if (rc < 0) {
        snprintf(msg, msg_len, "pattern does not match");
        return false;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
    for (uint32_t i = 0; i < k->ncaps; i++) {
        uint32_t grp = k->caps[i].group;
        if (grp >= (uint32_t)rc || ov[2 * grp] == PCRE2_UNSET)
            continue; /* unset group: the field stays as it was */
        const char *p = t.ptr + ov[2 * grp];
        size_t n = ov[2 * grp + 1] - ov[2 * grp];
        int64_t iv;
        struct sl_value val = n <= 18 && digits(p, n, &iv) ? sl_value_int(iv) : sl_value_str(p, n);
        if (sl_event_set(b, ev, k->caps[i].sym, val)) {
            snprintf(msg, msg_len, "out of memory");
            return false;
        }
    }
    return true;
}

static bool num_of(const struct sl_value *v, double *out)
{
    switch (v->type) {
    case SL_V_INT:
        *out = (double)v->u.i;
        return true;
    case SL_V_DOUBLE:
        *out = v->u.d;
        return isfinite(v->u.d);
    case SL_V_BOOL:
        *out = v->u.b;
        return true;
    case SL_V_STRING: {
        struct sl_str s = sl_value_as_str(v);
        return sl_str_to_double(s, out) == 0 && isfinite(*out);
    }
    default:
        return false;
    }
}

/*
 * Key, window and feature values of one event into row r (vals/has/hashes at r). Returns 1
 * for a row, 0 for an event skipped (null key: counted as dropped), or -1 with msg set.
 * now_ns: processing time; `train_win`: the window length for training (0: one window).
 */
static int extract(struct km *k, struct worker *w, struct sl_batch *b, struct sl_event *ev,
                   uint32_t r, int64_t now_ns, bool event_time, int64_t win_ns, char *msg,
                   size_t msg_len)
{
    if (k->re && !apply_pattern(k, w, b, ev, msg, msg_len))
        return -1;
    struct sl_stellar_resolver res = {sl_stellar_event_get, ev, false, sl_stellar_event_all, ev};
    struct row *row = &w->rows[r];
    struct sl_value v;
    int rc = 0;
    if (sl_stellar_eval(w->vm, k->key, &res, &b->arena, &v)) {
        snprintf(msg, msg_len, "key %.200s: %s", sl_stellar_source(k->key),
                 sl_stellar_vm_error(w->vm));
        rc = -1;
        goto out;
    }
    if (v.type == SL_V_NULL)
        goto out;
    sl_buf_reset(&w->scratch);
    struct sl_str ks = sl_value_to_text(&v, &w->scratch);
    if (ks.len > 4096) {
        snprintf(msg, msg_len, "key longer than 4096 bytes");
        rc = -1;
        goto out;
    }
    /* a string key is a view into the batch (input or arena), alive while the batch is;
     * rendered text lives in scratch, which the features reuse: copy it */
    row->key = v.type == SL_V_STRING ? ks.ptr : sl_batch_copy(b, ks.ptr, ks.len);
    row->key_len = (uint32_t)ks.len;
    if (!row->key) {
        snprintf(msg, msg_len, "out of memory");
        rc = -1;
        goto out;
    }
    int64_t ts = now_ns;
    if (event_time) {
        if (k->has_ts_path) {
            const struct sl_value *tv = sl_path_get(&k->ts_path, ev);
            if (!tv || !value_time(tv, &ts)) {
                snprintf(msg, msg_len, "timestamp_field '%s': %s", k->ts_path.text,
                         tv ? "not a time" : "missing");
                rc = -1;
                goto out;
            }
        } else {
            ts = ev->ts_ns;
        }
    }
    row->ts = ts;
    row->win = win_ns > 0 ? (ts >= 0 ? ts / win_ns : (ts - win_ns + 1) / win_ns) : 0;
    double *vals = w->vals + (size_t)r * k->dim;
    uint8_t *has = w->has + (size_t)r * k->dim;
    uint64_t *hs = w->hashes + (size_t)r * k->dim;
    for (uint32_t i = 0; i < k->dim; i++) {
        const struct feature *f = &k->f[i];
        has[i] = 0;
        if (!f->prog) { /* count() */
            vals[i] = 1;
            has[i] = 1;
            continue;
        }
        if (sl_stellar_eval(w->vm, f->prog, &res, &b->arena, &v)) {
            snprintf(msg, msg_len, "features.%s = %.200s: %s", f->name, sl_stellar_source(f->prog),
                     sl_stellar_vm_error(w->vm));
            rc = -1;
            goto out;
        }
        if (v.type == SL_V_NULL)
            continue;
        if (f->agg == AGG_DISTINCT) {
            sl_buf_reset(&w->scratch);
            struct sl_str t = sl_value_to_text(&v, &w->scratch);
            hs[i] = sl_hash64_seed(t.ptr, t.len, v.type);
            has[i] = 1;
        } else if (f->agg == AGG_COUNT) {
            vals[i] = 1;
            has[i] = 1;
        } else if (num_of(&v, &vals[i])) {
            has[i] = 1;
        }
    }
    rc = 1;
out:
    sl_stellar_vm_release(w->vm);
    return rc;
}

/* ---------------------------------------------------------------- accumulators */

static struct acc *acc_get(struct km *k, struct sl_hmap *m, int64_t win, const char *key,
                           uint32_t key_len, uint64_t cap, int *err)
{
    char kb[8 + 4096];
    memcpy(kb, &win, 8);
    memcpy(kb + 8, key, key_len);
    struct sl_str mk = sl_str_make(kb, 8 + (size_t)key_len);
    uint64_t val;
    if (sl_hmap_get(m, mk, &val))
        return (struct acc *)(uintptr_t)val;
    if (m->count >= cap) {
        *err = SL_ELIMIT;
        return NULL;
    }
    size_t sz = sizeof(struct acc) + 2 * (size_t)k->dim * sizeof(double) + key_len + 1;
    struct acc *a = sl_calloc(1, sz);
    if (!a) {
        *err = SL_ENOMEM;
        return NULL;
    }
    a->win = win;
    a->v = (double *)(a + 1);
    a->n = a->v + k->dim;
    a->key = (char *)(a->n + k->dim);
    memcpy(a->key, key, key_len);
    a->key_len = key_len;
    if (k->any_distinct && !(a->d = sl_calloc(k->dim, sizeof *a->d))) {
        sl_free(a);
        *err = SL_ENOMEM;
        return NULL;
    }
    if (sl_hmap_put(m, mk, (uint64_t)(uintptr_t)a)) {
        acc_free(k, a);
        *err = SL_ENOMEM;
        return NULL;
    }
    return a;
}

static int acc_fold(struct km *k, struct acc *a, const double *vals, const uint8_t *has,
                    const uint64_t *hs)
{
    for (uint32_t i = 0; i < k->dim; i++) {
        if (!has[i])
            continue;
        double x = vals[i];
        switch (k->f[i].agg) {
        case AGG_COUNT:
        case AGG_SUM:
        case AGG_AVG:
            a->v[i] += x;
            break;
        case AGG_MIN:
            if (!a->n[i] || x < a->v[i])
                a->v[i] = x;
            break;
        case AGG_MAX:
            if (!a->n[i] || x > a->v[i])
                a->v[i] = x;
            break;
        case AGG_DISTINCT: {
            int rc = hset_add(&a->d[i], hs[i]);
            if (rc)
                return rc;
            break;
        }
        }
        a->n[i] += 1;
    }
    return 0;
}

/* The feature vector of an accumulator: empty min/max/avg are 0. */
static void acc_vector(const struct km *k, const struct acc *a, double *out)
{
    for (uint32_t i = 0; i < k->dim; i++) {
        switch (k->f[i].agg) {
        case AGG_AVG:
            out[i] = a->n[i] ? a->v[i] / a->n[i] : 0;
            break;
        case AGG_DISTINCT:
            out[i] = a->d ? a->d[i].count : 0;
            break;
        default:
            out[i] = a->n[i] ? a->v[i] : 0;
        }
    }
}

/* ---------------------------------------------------------------- output */

static int acc_cmp(const void *x, const void *y)
{
    const struct acc *a = *(const struct acc *const *)x, *b = *(const struct acc *const *)y;
    if (a->win != b->win)
        return a->win < b->win ? -1 : 1;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int record(struct km *k, struct sl_batch *out, const struct acc *a)
{
    double vec[MAX_FEATURES], dist;
    acc_vector(k, a, vec);
    uint32_t cl = k->online ? sl_kmeans_update(k->model, vec, k->rate, &dist)
                            : sl_kmeans_score(k->model, vec, &dist);
    struct sl_event *ev = sl_batch_push(out);
    if (!ev)
        return SL_ENOMEM;
    int64_t start = a->win * k->window_ns;
    ev->ts_ns = start + k->window_ns;
    struct sl_kv *kv = sl_arena_alloc(&out->arena, (1 + k->dim) * sizeof *kv);
    if (!kv)
        return SL_ENOMEM;
    kv[0].key = sl_str_c("cluster");
    kv[0].val = sl_value_int(cl);
    for (uint32_t i = 0; i < k->dim; i++) {
        size_t nl = strlen(k->f[i].name);
        char *nm = sl_batch_copy(out, k->f[i].name, nl);
        if (!nm)
            return SL_ENOMEM;
        kv[1 + i].key = sl_str_make(nm, nl);
        double x = vec[i];
        kv[1 + i].val = fabs(x) < 9e15 && x == (double)(int64_t)x ? sl_value_int((int64_t)x)
                                                                  : sl_value_double(x);
    }
    struct sl_value meta = {.type = SL_V_MAP, .len = 1 + k->dim};
    meta.u.map = kv;
    int rc = sl_event_set_str(out, ev, k->s_key, a->key, a->key_len);
    if (!rc)
        rc = sl_event_set(out, ev, k->s_score, sl_value_double(dist));
    if (!rc)
        rc = sl_event_set(out, ev, k->s_meta, meta);
    if (!rc)
        rc = sl_event_set(out, ev, k->s_wstart, sl_value_ts(start));
    if (!rc)
        rc = sl_event_set(out, ev, k->s_wend, sl_value_ts(start + k->window_ns));
    bool anomalous = !isnan(k->threshold) && dist > k->threshold;
    if (!rc && !isnan(k->threshold))
        rc = sl_event_set(out, ev, k->s_anomaly, sl_value_bool(anomalous));
    atomic_fetch_add(&k->scored, 1);
    if (anomalous)
        atomic_fetch_add(&k->anomalies, 1);
    return rc;
}

/*
 * Close p's windows with id < `before` (INT64_MAX: all): score their keys in (window, key)
 * order into batches appended to *outs. Called with p's lock held; k->lock too, or else
 * `lock_model` (a task's part): it is taken around the scoring.
 */
static void close_windows(struct sl_component *c, struct km *k, struct kpart *p, int64_t before,
                          bool lock_model, struct sl_batch ***outs, size_t *nouts)
{
    if (before > p->closed_before)
        p->closed_before = before;
    if (before <= p->min_win)
        return; /* nothing to close: no scan of the open keys per batch */
    size_t n = 0, it = 0;
    struct sl_str key;
    uint64_t val;
    while (sl_hmap_next(&p->accs, &it, &key, &val))
        n += ((struct acc *)(uintptr_t)val)->win < before;
    if (!n)
        return;
    struct acc **list = sl_malloc(n * sizeof *list);
    struct sl_batch **bs = sl_realloc(*outs, (*nouts + n / SL_BATCH_EVENTS + 1) * sizeof *bs);
    if (!list || !bs) {
        sl_free(list);
        if (bs)
            *outs = bs;
        sl_log(SL_LOG_ERROR, c->name, "out of memory closing %zu windows", n);
        return;
    }
    *outs = bs;
    size_t m = 0;
    it = 0;
    while (sl_hmap_next(&p->accs, &it, &key, &val)) {
        struct acc *a = (struct acc *)(uintptr_t)val;
        if (a->win < before)
            list[m++] = a;
    }
    qsort(list, m, sizeof *list, acc_cmp);
    if (lock_model)
        sl_mutex_lock(&k->lock);
    struct sl_batch *b = NULL;
    for (size_t i = 0; i < m; i++) {
        if (!b || b->count >= SL_BATCH_EVENTS) {
            b = sl_batch_new();
            bs[(*nouts)++] = b;
        }
        if (record(k, b, list[i]))
            sl_log(SL_LOG_ERROR, c->name, "out of memory writing a record");
        char kb[8 + 4096];
        memcpy(kb, &list[i]->win, 8);
        memcpy(kb + 8, list[i]->key, list[i]->key_len);
        sl_hmap_del(&p->accs, sl_str_make(kb, 8 + (size_t)list[i]->key_len));
        acc_free(k, list[i]);
    }
    if (lock_model)
        sl_mutex_unlock(&k->lock);
    sl_free(list);
    p->min_win = INT64_MAX;
    it = 0;
    while (sl_hmap_next(&p->accs, &it, &key, &val))
        if (((struct acc *)(uintptr_t)val)->win < p->min_win)
            p->min_win = ((struct acc *)(uintptr_t)val)->win;
}

static void emit_all(struct sl_xf_ctx *x, struct sl_batch **outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (x)
            sl_xf_emit(x, 0, outs[i]);
        else
            sl_batch_unref(outs[i]);
    }
    sl_free(outs);
}

/* ---------------------------------------------------------------- training */

struct trainer {
    struct km *k;
    struct sl_hmap accs;
    uint64_t lines, bad, skipped;
    struct sl_diag first_bad;
    int64_t win_ns;
    uint64_t max_vectors;
    bool event_time;
};

static int train_batch(struct trainer *t, struct sl_batch *b)
{
    struct km *k = t->k;
    struct worker *w = &k->workers[0];
    if (grow_worker(k, w, b->count))
        return SL_ENOMEM;
    char msg[512];
    for (uint32_t i = 0; i < b->count; i++) {
        int r = extract(k, w, b, &b->events[i], 0, 0, t->event_time, t->win_ns, msg, sizeof msg);
        if (r < 0) {
            if (!t->bad++)
                sl_diag_set(&t->first_bad, SL_EINVAL, "line %llu: %s",
                            (unsigned long long)(t->lines - b->count + i + 1), msg);
            continue;
        }
        if (r == 0) {
            t->skipped++;
            continue;
        }
        int err = 0;
        struct acc *a = acc_get(k, &t->accs, w->rows[0].win, w->rows[0].key, w->rows[0].key_len,
                                t->max_vectors, &err);
        if (!a || acc_fold(k, a, w->vals, w->has, w->hashes))
            return err ? err : SL_ENOMEM;
    }
    return 0;
}

static int train_line(struct trainer *t, struct sl_batch **bp, const char *p, size_t n, int fmt,
                      sl_sym msg_sym)
{
    if (n && p[n - 1] == '\r')
        n--;
    t->lines++;
    struct sl_batch *b = *bp;
    if (fmt == TFMT_JSON) {
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i == n) { /* blank line */
            t->lines--;
            return 0;
        }
        char *copy = sl_batch_copy(b, p, n);
        struct sl_diag d;
        sl_diag_init(&d);
        if (!copy || sl_json_parse_event(b, copy, n, NULL, &d)) {
            if (!t->bad++)
                sl_diag_set(&t->first_bad, SL_EPARSE, "line %llu: not a JSON object: %s",
                            (unsigned long long)t->lines, d.msg);
            return 0;
        }
    } else {
        char *copy = sl_batch_copy(b, p, n);
        struct sl_event *ev = copy ? sl_batch_push(b) : NULL;
        if (!ev || sl_event_set(b, ev, msg_sym, sl_value_str(copy, n)))
            return SL_ENOMEM;
    }
    if (sl_batch_full(b)) {
        int rc = train_batch(t, b);
        sl_batch_unref(b);
        *bp = sl_batch_new();
        return rc;
    }
    return 0;
}

static FILE *open_rel(struct sl_component *c, const char *path, char *used, size_t used_len)
{
    snprintf(used, used_len, "%s", path);
    FILE *f = fopen(path, "rb");
    if (f || path[0] == '/' || !c->pipe)
        return f;
    /* relative to the config file's directory, as dataShark's conf-relative `training` */
    const char *cfg = sl_pipeline_config_path(c->pipe);
    const char *slash = cfg ? strrchr(cfg, '/') : NULL;
    if (!slash)
        return NULL;
    snprintf(used, used_len, "%.*s/%s", (int)(slash - cfg), cfg, path);
    f = fopen(used, "rb");
    if (!f)
        snprintf(used, used_len, "%s", path);
    return f;
}

static int train(struct sl_component *c, struct km *k, const struct km_conf *cf, struct sl_diag *d)
{
    char path[4096];
    FILE *f = open_rel(c, cf->training, path, sizeof path);
    if (!f) {
        sl_component_diag_opt(c, "training", d);
        return sl_diag_set(d, SL_ECONFIG, "training file '%s': %s", cf->training, strerror(errno));
    }
    struct trainer t = {.k = k,
                        .win_ns = cf->training_window_ns,
                        .max_vectors = (uint64_t)cf->max_training_vectors,
                        .event_time = k->event_time};
    sl_hmap_init(&t.accs);
    sl_diag_init(&t.first_bad);
    if (t.win_ns > 0 && !k->event_time) {
        fclose(f);
        sl_hmap_fini(&t.accs);
        sl_component_diag_opt(c, "training_window", d);
        return sl_diag_set(d, SL_ECONFIG, "training_window needs `time: event`");
    }
    sl_sym msg_sym = k->re ? k->pattern_sym : sl_sym_intern_c("message");
    struct sl_buf carry;
    sl_buf_init(&carry, (size_t)64 << 20);
    struct sl_batch *b = sl_batch_new();
    char chunk[1 << 16];
    size_t n;
    int rc = 0;
    double *x = NULL;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (chunk[i] != '\n')
                continue;
            if (carry.len) {
                if (!(rc = sl_buf_append(&carry, chunk + start, i - start)))
                    rc = train_line(&t, &b, carry.ptr, carry.len, cf->training_format, msg_sym);
                sl_buf_reset(&carry);
            } else {
                rc = train_line(&t, &b, chunk + start, i - start, cf->training_format, msg_sym);
            }
            start = i + 1;
        }
        if (!rc && start < n)
            rc = sl_buf_append(&carry, chunk + start, n - start);
    }
    if (!rc && ferror(f))
        rc = SL_EIO;
    if (!rc && carry.len)
        rc = train_line(&t, &b, carry.ptr, carry.len, cf->training_format, msg_sym);
    if (!rc && b->count)
        rc = train_batch(&t, b);
    sl_batch_unref(b);
    sl_buf_fini(&carry);
    fclose(f);
    if (rc) {
        sl_component_diag_opt(c, "training", d);
        if (rc == SL_ELIMIT)
            sl_diag_hint(d, "raise max_training_vectors, or train on a sample");
        rc = sl_diag_set(d, SL_ECONFIG, "training file '%s': %s", path,
                         rc == SL_E2BIG    ? "a line longer than 64 MiB"
                         : rc == SL_ELIMIT ? "more (key, window) vectors than max_training_vectors"
                                           : sl_strerror(rc));
        goto out;
    }
    size_t np = t.accs.count;
    if (np < (size_t)cf->k) {
        sl_component_diag_opt(c, "training", d);
        if (t.bad)
            sl_diag_hint(d, "%llu of %llu lines were rejected; the first: %s",
                         (unsigned long long)t.bad, (unsigned long long)t.lines, t.first_bad.msg);
        rc = sl_diag_set(d, SL_ECONFIG,
                         "training file '%s': %zu vector%s (keys) for k = %lld: need at least k",
                         path, np, np == 1 ? "" : "s", (long long)cf->k);
        goto out;
    }
    x = sl_malloc(np * k->dim * sizeof(double));
    if (!x) {
        rc = sl_diag_set(d, SL_ENOMEM, "training: out of memory");
        goto out;
    }
    /* in (window, key) order: the fit does not depend on the hash map's order */
    struct acc **list = sl_malloc(np * sizeof *list);
    if (!list) {
        rc = sl_diag_set(d, SL_ENOMEM, "training: out of memory");
        goto out;
    }
    size_t it = 0, m = 0;
    struct sl_str key;
    uint64_t val;
    while (sl_hmap_next(&t.accs, &it, &key, &val))
        list[m++] = (struct acc *)(uintptr_t)val;
    qsort(list, m, sizeof *list, acc_cmp);
    for (size_t i = 0; i < m; i++)
        acc_vector(k, list[i], x + i * k->dim);
    sl_free(list);
    double *init = NULL;
    if (cf->init == INIT_CENTRES) {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 16 << 20);
        struct sl_value root;
        struct sl_diag jd;
        sl_diag_init(&jd);
        rc = cf->centres.json
                 ? sl_json_parse_value(&a, cf->centres.json, cf->centres.len, NULL, &root, &jd)
                 : SL_EINVAL;
        bool ok = !rc && root.type == SL_V_LIST && root.len == (uint32_t)cf->k;
        if (ok)
            init = sl_xcalloc((size_t)cf->k * k->dim, sizeof(double));
        for (uint32_t j = 0; ok && j < root.len; j++) {
            const struct sl_value *row = &root.u.list[j];
            ok = row->type == SL_V_LIST && row->len == k->dim;
            for (uint32_t i = 0; ok && i < k->dim; i++)
                ok = num_of(&row->u.list[i], &init[(size_t)j * k->dim + i]) &&
                     row->u.list[i].type != SL_V_STRING && row->u.list[i].type != SL_V_BOOL;
        }
        sl_arena_fini(&a);
        if (!ok) {
            sl_free(init);
            sl_component_diag_opt(c, "centres", d);
            sl_diag_hint(d, "centres: [[f1, f2, ...], ...]: k = %lld lists of %u numbers",
                         (long long)cf->k, k->dim);
            rc = sl_diag_set(d, SL_ECONFIG,
                             "init: centres needs `centres` as %lld lists of %u "
                             "numbers",
                             (long long)cf->k, k->dim);
            goto out;
        }
    }
    const char *names[MAX_FEATURES];
    for (uint32_t i = 0; i < k->dim; i++)
        names[i] = k->f[i].name;
    struct sl_kmeans_params p = {.k = (uint32_t)cf->k,
                                 .max_iter = (uint32_t)cf->max_iter,
                                 .tol = cf->tol,
                                 .seed = (uint64_t)cf->seed,
                                 .init_centres = init,
                                 .scale = cf->scale == SCALE_STANDARD,
                                 .threads = (uint32_t)cf->train_threads};
    rc = sl_kmeans_fit(x, np, k->dim, names, &p, &k->model, d);
    sl_free(init);
    if (rc) {
        sl_component_diag_opt(c, "training", d);
        rc = SL_ECONFIG;
        goto out;
    }
    atomic_store(&k->training_points, np);
    const struct sl_kmeans_stats *st = sl_kmeans_stats(k->model);
    sl_log(SL_LOG_INFO, c->name,
           "trained k=%lld on %zu vectors from %llu lines of %s (%llu rejected, %llu without a "
           "key): %u iterations, %s, inertia %g",
           (long long)cf->k, np, (unsigned long long)t.lines, path, (unsigned long long)t.bad,
           (unsigned long long)t.skipped, st->iterations,
           st->converged ? "converged" : "not converged", st->inertia);
    if (t.bad)
        sl_log(SL_LOG_WARN, c->name, "training: %llu lines rejected; the first: %s",
               (unsigned long long)t.bad, t.first_bad.msg);
    if (cf->model_out) {
        struct sl_diag sd;
        sl_diag_init(&sd);
        if ((rc = sl_kmeans_save(k->model, cf->init == INIT_CENTRES ? "centres" : "k-means++",
                                 (uint64_t)cf->seed, cf->model_out, &sd))) {
            sl_component_diag_opt(c, "model_out", d);
            rc = sl_diag_set(d, SL_ECONFIG, "%s", sd.msg);
        }
    }
out:
    sl_free(x);
    accs_clear(k, &t.accs);
    return rc;
}

/* ---------------------------------------------------------------- init */

static const struct sl_pstream_ops task_ops;

static int km_init(struct sl_component *c, struct sl_diag *d)
{
    const struct km_conf *cf = c->conf;
    struct km *k = sl_xcalloc(1, sizeof *k);
    c->state = k;
    k->comp = c;
    sl_mutex_init(&k->lock);
    sl_mutex_init(&k->orphan_lock);
    kpart_init(&k->main);
    int rc = 0;
    if (!cf->features.count || cf->features.count > MAX_FEATURES) {
        sl_component_diag_opt(c, "features", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: features: 1..%u needed, %zu given", MAX_FEATURES,
                         cf->features.count);
        goto fail;
    }
    if (!cf->training == !cf->model) {
        sl_component_diag_opt(c, cf->training ? "model" : "training", d);
        sl_diag_hint(d, "training: FILE (records like the stream's) trains at start-up; model: "
                        "FILE loads a model written by model_out");
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: give exactly one of `training` and `model`");
        goto fail;
    }
    if (cf->window_ns <= 0 || cf->window_ns > (int64_t)1e18) {
        sl_component_diag_opt(c, "window", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: window must be > 0 and at most 10000d");
        goto fail;
    }
    if (cf->lag_ns < 0 || cf->lag_ns > (int64_t)1e18 || cf->training_window_ns < 0 ||
        cf->training_window_ns > (int64_t)1e18) {
        sl_component_diag_opt(
            c, cf->lag_ns < 0 || cf->lag_ns > (int64_t)1e18 ? "lag" : "training_window", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: lag and training_window must be 0..10000d");
        goto fail;
    }
    if (cf->online && (cf->learning_rate < 0 || cf->learning_rate > 1)) {
        sl_component_diag_opt(c, "learning_rate", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: learning_rate must be in [0, 1]");
        goto fail;
    }
    if (cf->tol < 0) {
        sl_component_diag_opt(c, "tol", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: tol must be >= 0");
        goto fail;
    }
    if (cf->init == INIT_CENTRES && !cf->centres.json) {
        sl_component_diag_opt(c, "init", d);
        rc = sl_diag_set(d, SL_ECONFIG, "kmeans: init: centres needs the `centres` option");
        goto fail;
    }
    k->window_ns = cf->window_ns;
    k->lag_ns = cf->lag_ns;
    /* `run --once` in event time: unless a lag is given, windows close at the end of the
     * input, so that batches that workers finish out of order lose nothing (as the profiler) */
    if (cf->time == TIME_EVENT && c->pipe && sl_pipeline_once(c->pipe) &&
        !sl_component_opt_set(c, "lag"))
        k->lag_ns = INT64_MAX / 4;
    k->threshold = cf->threshold;
    k->online = cf->online;
    k->rate = cf->learning_rate;
    k->model_out = cf->model_out;
    k->init_centres = cf->init == INIT_CENTRES;
    k->seed = (uint64_t)cf->seed;
    k->max_keys = (uint64_t)cf->max_keys;
    k->event_time = cf->time == TIME_EVENT;
    if (cf->timestamp_field) {
        if (!k->event_time) {
            sl_component_diag_opt(c, "timestamp_field", d);
            rc = sl_diag_set(d, SL_ECONFIG, "kmeans: timestamp_field needs `time: event`");
            goto fail;
        }
        if (sl_path_init(&k->ts_path, cf->timestamp_field)) {
            sl_component_diag_opt(c, "timestamp_field", d);
            rc =
                sl_diag_set(d, SL_ECONFIG, "kmeans: bad timestamp_field '%s'", cf->timestamp_field);
            goto fail;
        }
        k->has_ts_path = true;
    }
    k->f = sl_xcalloc(cf->features.count, sizeof *k->f);
    for (size_t i = 0; i < cf->features.count; i++) {
        k->dim = (uint32_t)i + 1;
        if ((rc = parse_feature(c, k, (uint32_t)i, &cf->features.items[i], d)))
            goto fail;
    }
    if ((rc = sl_io_compile_expr(c, "key", 0, 0, cf->key, false, &k->key, d)))
        goto fail;
    if (cf->pattern) {
        k->pattern_sym = sl_sym_intern_c(cf->pattern_field ? cf->pattern_field : "message");
        if ((rc = compile_pattern(c, k, cf->pattern, d)))
            goto fail;
    }
    k->s_key = sl_sym_intern_c(cf->key_field ? cf->key_field : "key");
    k->s_score = sl_sym_intern_c(cf->score_field ? cf->score_field : "score");
    k->s_meta = sl_sym_intern_c(cf->metadata_field ? cf->metadata_field : "metadata");
    k->s_wstart = sl_sym_intern_c("window_start");
    k->s_wend = sl_sym_intern_c("window_end");
    k->s_anomaly = sl_sym_intern_c("anomaly");
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    k->nworkers = workers > 0 ? (uint32_t)workers : 1;
    k->workers = sl_xcalloc(k->nworkers, sizeof *k->workers);
    for (uint32_t i = 0; i < k->nworkers; i++) {
        struct worker *w = &k->workers[i];
        w->vm = sl_stellar_vm_new();
        sl_buf_init(&w->scratch, 1 << 20);
        if (k->re && !(w->md = pcre2_match_data_create_from_pattern(k->re, k->gctx))) {
            rc = SL_ENOMEM;
            goto fail;
        }
        if (grow_worker(k, w, SL_BATCH_EVENTS)) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    if (cf->training) {
        if ((rc = train(c, k, cf, d)))
            goto fail;
    } else {
        char path[4096];
        FILE *f = open_rel(c, cf->model, path, sizeof path);
        if (f)
            fclose(f);
        struct sl_diag md;
        sl_diag_init(&md);
        if ((rc = sl_kmeans_load(path, &k->model, &md))) {
            sl_component_diag_opt(c, "model", d);
            rc = sl_diag_set(d, SL_ECONFIG, "model %s: %s", md.file, md.msg);
            goto fail;
        }
        bool same = sl_kmeans_dim(k->model) == k->dim;
        for (uint32_t i = 0; same && i < k->dim; i++)
            same = !strcmp(sl_kmeans_name(k->model, i), k->f[i].name);
        if (!same) {
            struct sl_buf want;
            sl_buf_init(&want, 0);
            for (uint32_t i = 0; i < sl_kmeans_dim(k->model); i++)
                sl_buf_appendf(&want, "%s%s", i ? ", " : "", sl_kmeans_name(k->model, i));
            sl_component_diag_opt(c, "features", d);
            rc = sl_diag_set(d, SL_ECONFIG,
                             "model %s was trained on the features [%s]; `features` must name "
                             "the same, in that order",
                             path, want.ptr ? want.ptr : "");
            sl_buf_fini(&want);
            goto fail;
        }
    }
    if (c->pipe && sl_component_opt_set(c, "changelog")) {
        if (cf->changelog_interval_ns < 100000000) {
            sl_component_diag_opt(c, "changelog_interval", d);
            rc = sl_diag_set(d, SL_ECONFIG, "kmeans: changelog_interval must be at least 100ms");
            goto fail;
        }
        const struct sl_pstream_conf pc = {.what = "the open (key, window) accumulators",
                                           .thread = "sl-kmckpt",
                                           .stat_prefix = "sluice_kmeans",
                                           .changelog = &cf->changelog,
                                           .interval_ns = cf->changelog_interval_ns,
                                           .tasks = true};
        if ((rc = sl_pstream_new(c, &pc, &task_ops, k, &k->ps, d)))
            goto fail;
        if (k->online)
            sl_log(SL_LOG_WARN, c->name,
                   "changelog with online: the accumulators are checkpointed, the model each "
                   "node updates is not (each node's model drifts on its own)");
    }
    return 0;
fail:
    km_fini(c);
    return rc;
}

/* ---------------------------------------------------------------- run */

/* ---------------------------------------------------------------- tasks (`changelog`) */

#define KM_STATE_MAGIC   "KMWN"
#define KM_STATE_VERSION 1u
#define KM_MAX_KEY       4096u /* acc_get's key buffer */

static void *task_make(void *ud, struct sl_ptask *t)
{
    (void)ud;
    (void)t;
    struct kpart *p = sl_xcalloc(1, sizeof *p);
    kpart_init(p);
    return p;
}

/* "KMWN", version, the input offsets, max event time, closed_before, the features' aggregates,
 * then per accumulator: window, key, per feature (value, count), and with a distinct feature
 * per feature the set's hashes */
static int task_save(void *ud, struct sl_ptask *t, void *state,
                     const struct sl_partstate_offset *offs, uint32_t noffs, struct sl_buf *out,
                     struct sl_diag *d)
{
    (void)t;
    const struct km *k = ud;
    const struct kpart *p = state;
    int rc = sl_partstate_head_put(out, KM_STATE_MAGIC, KM_STATE_VERSION, offs, noffs);
    if (!rc)
        rc = sl_binwr_u64(out, (uint64_t)p->max_ts);
    if (!rc)
        rc = sl_binwr_u64(out, (uint64_t)p->closed_before);
    if (!rc)
        rc = sl_binwr_u32(out, k->dim);
    for (uint32_t i = 0; i < k->dim && !rc; i++)
        rc = sl_binwr_u8(out, (uint8_t)k->f[i].agg);
    if (!rc)
        rc = sl_binwr_u32(out, (uint32_t)p->accs.count);
    size_t it = 0;
    struct sl_str key;
    uint64_t val;
    while (!rc && sl_hmap_next(&p->accs, &it, &key, &val)) {
        const struct acc *a = (const struct acc *)(uintptr_t)val;
        rc = sl_binwr_u64(out, (uint64_t)a->win);
        if (!rc)
            rc = sl_binwr_str(out, a->key, a->key_len);
        for (uint32_t i = 0; i < k->dim && !rc; i++) {
            uint64_t v, n;
            memcpy(&v, &a->v[i], 8);
            memcpy(&n, &a->n[i], 8);
            rc = sl_binwr_u64(out, v);
            if (!rc)
                rc = sl_binwr_u64(out, n);
        }
        for (uint32_t i = 0; a->d && i < k->dim && !rc; i++) {
            rc = sl_binwr_u32(out, a->d[i].count);
            for (uint32_t j = 0; j < a->d[i].cap && !rc; j++)
                if (a->d[i].slots[j])
                    rc = sl_binwr_u64(out, a->d[i].slots[j]);
        }
    }
    if (rc)
        sl_diag_set(d, rc, "the accumulators' state: %s", sl_strerror(rc));
    return rc;
}

static int task_load(void *ud, struct sl_ptask *t, void *state, const void *data, size_t n,
                     struct sl_partstate_offset **offs, uint32_t *noffs, char *info, size_t infocap,
                     struct sl_diag *d)
{
    (void)t;
    struct km *k = ud;
    struct kpart *p = state;
    struct sl_binrd r;
    sl_binrd_init(&r, data, n);
    *offs = sl_partstate_head_get(&r, KM_STATE_MAGIC, KM_STATE_VERSION,
                                  "not a kmeans state (bad magic)", noffs);
    p->max_ts = sl_binrd_i64(&r);
    p->closed_before = sl_binrd_i64(&r);
    /* times no event gives: the watermark (max_ts - lag) and window starts (id * window)
     * would overflow */
    int64_t wmax = INT64_MAX / 4 / k->window_ns;
    if (r.ok &&
        ((p->max_ts != INT64_MIN && (p->max_ts < -INT64_MAX / 4 || p->max_ts > INT64_MAX / 4)) ||
         (p->closed_before != INT64_MIN && (p->closed_before < -wmax || p->closed_before > wmax))))
        sl_binrd_fail(&r, "an event time or a window out of range");
    uint32_t dim = sl_binrd_u32(&r);
    if (r.ok && dim != k->dim)
        sl_binrd_fail(&r, "other features than this transform's");
    for (uint32_t i = 0; i < dim && r.ok; i++)
        if (sl_binrd_u8(&r) != (uint8_t)k->f[i].agg && r.ok)
            sl_binrd_fail(&r, "other features than this transform's");
    uint32_t nacc = sl_binrd_count(&r, 12 + (size_t)16 * k->dim);
    int rc = 0;
    for (uint32_t i = 0; i < nacc && r.ok && !rc; i++) {
        int64_t win = sl_binrd_i64(&r);
        struct sl_str key = sl_binrd_str(&r, KM_MAX_KEY);
        if (r.ok && (win < -wmax || win > wmax))
            sl_binrd_fail(&r, "a window out of range");
        if (!r.ok)
            break;
        size_t before = p->accs.count;
        struct acc *a = acc_get(k, &p->accs, win, key.ptr, (uint32_t)key.len, k->max_keys, &rc);
        if (!a)
            break;
        if (p->accs.count == before) {
            sl_binrd_fail(&r, "an accumulator twice");
            break;
        }
        for (uint32_t f = 0; f < k->dim; f++) {
            uint64_t v = sl_binrd_u64(&r), c = sl_binrd_u64(&r);
            memcpy(&a->v[f], &v, 8);
            memcpy(&a->n[f], &c, 8);
            /* events give finite values and whole counts: NaN or an infinity would score as
             * nonsense, make record()'s int64 conversion undefined, and poison the model's
             * centres for good with `online` */
            if (r.ok && !(a->n[f] >= 0 && a->n[f] < 1e18 && a->n[f] == floor(a->n[f])))
                sl_binrd_fail(&r, "a bad count");
            if (r.ok && !isfinite(a->v[f]))
                sl_binrd_fail(&r, "a value no event could give (not finite)");
        }
        for (uint32_t f = 0; a->d && f < k->dim && r.ok && !rc; f++) {
            uint32_t m = sl_binrd_count(&r, 8);
            if (r.ok && (m > HSET_MAX || (m && k->f[f].agg != AGG_DISTINCT)))
                sl_binrd_fail(&r, "a distinct set too large, or of another aggregate");
            for (uint32_t j = 0; j < m && r.ok && !rc; j++)
                rc = hset_add(&a->d[f], sl_binrd_u64(&r));
        }
        if (a->win < p->min_win)
            p->min_win = a->win;
    }
    if (rc == SL_ELIMIT)
        return sl_diag_set(d, rc, "kmeans state: more accumulators than max_keys");
    if ((rc = sl_partstate_read_end(&r, rc, "kmeans state", d)))
        return rc;
    snprintf(info, infocap, "%zu open accumulators", (size_t)p->accs.count);
    return 0;
}

/* A task's accumulators let go: the next owner continues them from the changelog; else (no
 * changelog, or the end of input of --once) they are scored by the next tick or finish. */
static void task_drop(void *ud, struct sl_ptask *t, void *state, enum sl_pstream_drop why)
{
    (void)t;
    struct km *k = ud;
    struct kpart *p = state;
    if (why == SL_PSTREAM_UNKEPT ||
        (why == SL_PSTREAM_KEPT && k->comp->pipe && sl_pipeline_once(k->comp->pipe))) {
        sl_mutex_lock(&k->orphan_lock);
        p->next = k->orphans;
        k->orphans = p;
        sl_mutex_unlock(&k->orphan_lock);
        return;
    }
    accs_clear(k, &p->accs);
    sl_free(p);
}

static const struct sl_pstream_ops task_ops = {
    .make = task_make,
    .load = task_load,
    .save = task_save,
    .drop = task_drop,
};

/* ---------------------------------------------------------------- batches */

static struct sl_batch *km_process(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x)
{
    struct km *k = c->state;
    b = sl_batch_own(b);
    if (!b)
        return NULL;
    uint32_t wi = x->worker < k->nworkers ? x->worker : 0;
    struct worker *w = &k->workers[wi];
    if (grow_worker(k, w, b->count)) {
        sl_log_ratelimited(&w->lim, 5, SL_LOG_ERROR, c->name, "out of memory");
        atomic_fetch_add(&c->m.errors, b->count);
        sl_batch_unref(b);
        return NULL;
    }
    int64_t now = sl_clock_wall_ns();
    char msg[512];
    uint32_t nrows = 0;
    uint64_t skipped = 0;
    /* 1. evaluate without the lock; rows are compacted to the events that count */
    for (uint32_t i = 0; i < b->count; i++) {
        int r = extract(k, w, b, &b->events[i], nrows, now, k->event_time, k->window_ns, msg,
                        sizeof msg);
        if (r < 0) {
            struct sl_batch *errs = sl_xf_errors(x);
            if (errs)
                (void)sl_error_event_for(errs, c->name, msg, &b->events[i]);
            sl_log_ratelimited(&w->lim, 5, SL_LOG_WARN, c->name, "%s", msg);
            continue;
        }
        if (r == 0) {
            skipped++;
            continue;
        }
        w->rows[nrows++].ev = i;
    }
    /* 2. fold under the lock: the transform's, or (a kafka batch with `changelog`) its task's,
     * in the order its partition was read */
    struct sl_pstream_apply ap;
    struct sl_ptask *t = NULL;
    struct kpart *p = &k->main;
    uint8_t *take = NULL;
    if (k->ps && b->origin.topic) {
        if (!(t = sl_pstream_begin(k->ps, b, &ap))) {
            sl_batch_unref(b);
            return NULL;
        }
        p = t->state;
        take = sl_xmalloc(b->count ? b->count : 1);
        for (uint32_t i = 0; i < b->count; i++) /* every event, in order: the offsets move */
            take[i] = sl_pstream_take(&ap, &b->events[i]);
    } else {
        sl_mutex_lock(&k->lock);
    }
    struct sl_batch **outs = NULL;
    size_t nouts = 0;
    uint64_t late = 0, over = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        struct row *row = &w->rows[r];
        if (take && !take[row->ev])
            continue; /* in the restored accumulators already */
        if (row->win < p->closed_before) {
            late++;
            continue;
        }
        int err = 0;
        struct acc *a = acc_get(k, &p->accs, row->win, row->key, row->key_len, k->max_keys, &err);
        if (!a || acc_fold(k, a, w->vals + (size_t)r * k->dim, w->has + (size_t)r * k->dim,
                           w->hashes + (size_t)r * k->dim)) {
            over++;
            struct sl_batch *errs = sl_xf_errors(x);
            if (errs)
                (void)sl_error_event_for(errs, c->name,
                                         err == SL_ELIMIT
                                             ? "max_keys open (key, window) accumulators reached"
                                             : "out of memory",
                                         &b->events[row->ev]);
            continue;
        }
        if (row->win < p->min_win)
            p->min_win = row->win;
        if (row->ts > p->max_ts)
            p->max_ts = row->ts;
    }
    /* 3. close what the watermark passed: window w ends at (w + 1) * window <= watermark */
    if (!k->event_time || p->max_ts != INT64_MIN) {
        int64_t wm = k->event_time ? p->max_ts - k->lag_ns : now;
        int64_t before = wm >= 0 ? wm / k->window_ns : (wm - k->window_ns + 1) / k->window_ns;
        size_t open = p->accs.count;
        close_windows(c, k, p, before, t != NULL, &outs, &nouts);
        if (t && p->accs.count != open)
            sl_pstream_touch(t); /* a batch of skipped events moves no offset: still changed */
    }
    if (t)
        sl_pstream_end(&ap);
    else
        sl_mutex_unlock(&k->lock);
    sl_free(take);
    atomic_fetch_add(&c->m.dropped, skipped + late); /* `over`: errors (dead letters) */
    atomic_fetch_add(&k->late, late);
    atomic_fetch_add(&k->overflow, over);
    sl_batch_unref(b);
    emit_all(x, outs, nouts);
    return NULL;
}

/* Score every window of the tasks' accumulators let go (task_drop), then drop them. */
static void flush_orphans(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct km *k = c->state;
    sl_mutex_lock(&k->orphan_lock);
    struct kpart *list = k->orphans;
    k->orphans = NULL;
    sl_mutex_unlock(&k->orphan_lock);
    for (struct kpart *p = list, *nx; p; p = nx) {
        nx = p->next;
        struct sl_batch **outs = NULL;
        size_t nouts = 0;
        close_windows(c, k, p, INT64_MAX, true, &outs, &nouts);
        emit_all(x, outs, nouts);
        accs_clear(k, &p->accs);
        sl_free(p);
    }
}

/* Close the windows with id < before of every part held, and emit them. */
static void close_parts(struct sl_component *c, struct sl_xf_ctx *x, int64_t before)
{
    struct km *k = c->state;
    struct sl_batch **outs = NULL;
    size_t nouts = 0;
    sl_mutex_lock(&k->lock);
    close_windows(c, k, &k->main, before, false, &outs, &nouts);
    sl_mutex_unlock(&k->lock);
    for (struct sl_ptask *t = k->ps ? sl_pstream_head(k->ps) : NULL; t; t = t->next) {
        sl_mutex_lock(&t->lock);
        struct kpart *p = t->state;
        size_t open = p ? p->accs.count : 0;
        if (p)
            close_windows(c, k, p, before, true, &outs, &nouts);
        if (p && p->accs.count != open)
            sl_pstream_touch(t); /* the checkpoint must no longer hold them */
        sl_mutex_unlock(&t->lock);
    }
    emit_all(x, outs, nouts);
}

static void km_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns)
{
    struct km *k = c->state;
    (void)now_ns;
    flush_orphans(c, x);
    if (k->event_time)
        return;
    close_parts(c, x, sl_clock_wall_ns() / k->window_ns);
}

static void km_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct km *k = c->state;
    flush_orphans(c, x);
    close_parts(c, x, INT64_MAX);
    sl_mutex_lock(&k->lock);
    if (k->online && k->model_out) {
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_kmeans_save(k->model, k->init_centres ? "centres" : "k-means++", k->seed,
                           k->model_out, &d))
            sl_log(SL_LOG_ERROR, c->name, "online: saving the updated model: %s", d.msg);
        else
            sl_log(SL_LOG_INFO, c->name, "online: updated model written to %s", k->model_out);
    }
    sl_mutex_unlock(&k->lock);
}

static size_t km_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct km *k = c->state;
    if (!k)
        return 0;
    sl_mutex_lock(&k->lock);
    double open = (double)k->main.accs.count;
    sl_mutex_unlock(&k->lock);
    for (struct sl_ptask *t = k->ps ? sl_pstream_head(k->ps) : NULL; t; t = t->next) {
        sl_mutex_lock(&t->lock);
        if (t->state)
            open += (double)((struct kpart *)t->state)->accs.count;
        sl_mutex_unlock(&t->lock);
    }
    out[0] = (struct sl_comp_stat){"sluice_kmeans_open_keys", "open (key, window) accumulators",
                                   true, open};
    out[1] = (struct sl_comp_stat){"sluice_kmeans_scored_total", "records scored", false,
                                   (double)atomic_load(&k->scored)};
    out[2] = (struct sl_comp_stat){"sluice_kmeans_anomalies_total", "records over threshold", false,
                                   (double)atomic_load(&k->anomalies)};
    out[3] = (struct sl_comp_stat){"sluice_kmeans_late_total", "events for a window already closed",
                                   false, (double)atomic_load(&k->late)};
    out[4] =
        (struct sl_comp_stat){"sluice_kmeans_max_keys_total", "events refused: max_keys reached",
                              false, (double)atomic_load(&k->overflow)};
    out[5] =
        (struct sl_comp_stat){"sluice_kmeans_training_vectors", "vectors the model was trained on",
                              true, (double)atomic_load(&k->training_points)};
    return 6 + (k->ps ? sl_pstream_stats(k->ps, out + 6) : 0);
}

const struct sl_component_ops sl_xf_kmeans_ops = {
    .type = "kmeans",
    .kind = SL_KIND_TRANSFORM,
    .summary = "k-means anomaly score per key per window (dataShark's web anomaly detection)",
    .options = km_opts,
    .conf_len = sizeof(struct km_conf),
    .init = km_init,
    .fini = km_fini,
    .process = km_process,
    .tick = km_tick,
    .tick_interval_ns = 1000000000,
    .finish = km_finish,
    .stats = km_stats,
};

/* ---------------------------------------------------------------- fuzzing (xf_kmeans.h) */

/* the accumulators of a part as sorted text lines (a set's members by count only) */
static void part_text(const struct km *k, const struct kpart *p, struct sl_buf *out)
{
    size_t n = p->accs.count, m = 0, it = 0;
    struct sl_str key;
    uint64_t val;
    const struct acc **list = sl_xmalloc((n ? n : 1) * sizeof *list);
    while (sl_hmap_next(&p->accs, &it, &key, &val))
        list[m++] = (const struct acc *)(uintptr_t)val;
    qsort(list, m, sizeof *list, acc_cmp);
    for (size_t i = 0; i < m; i++) {
        double vec[MAX_FEATURES];
        acc_vector(k, list[i], vec);
        sl_buf_appendf(out, "%lld %.*s", (long long)list[i]->win, (int)list[i]->key_len,
                       list[i]->key);
        for (uint32_t f = 0; f < k->dim; f++)
            sl_buf_appendf(out, " %a/%a", vec[f], list[i]->n[f]);
        sl_buf_puts(out, "\n");
    }
    sl_free(list);
}

int sl_xf_kmeans_state_check(const uint8_t *aggs, uint32_t dim, const void *p, size_t n,
                             struct sl_diag *d)
{
    if (!dim || dim > MAX_FEATURES)
        return sl_diag_set(d, SL_EINVAL, "1..%u features", MAX_FEATURES);
    struct km k = {.dim = dim, .max_keys = 10000, .window_ns = 60000000000};
    struct feature f[MAX_FEATURES];
    memset(f, 0, sizeof f);
    for (uint32_t i = 0; i < dim; i++) {
        f[i].agg = (enum agg)(aggs[i] % 6);
        k.any_distinct = k.any_distinct || f[i].agg == AGG_DISTINCT;
    }
    k.f = f;
    struct kpart *a = task_make(&k, NULL), *b = task_make(&k, NULL);
    struct sl_partstate_offset *offs = NULL;
    uint32_t noffs = 0;
    char info[256];
    int rc = task_load(&k, NULL, a, p, n, &offs, &noffs, info, sizeof info, d);
    if (!rc) {
        struct sl_buf s1, s2, t1, t2;
        sl_buf_init(&s1, 256u << 20);
        sl_buf_init(&s2, 256u << 20);
        sl_buf_init(&t1, 0);
        sl_buf_init(&t2, 0);
        struct sl_partstate_offset *o2 = NULL;
        uint32_t n2 = 0;
        struct sl_diag d2;
        sl_diag_init(&d2);
        if (task_save(&k, NULL, a, offs, noffs, &s1, &d2) ||
            task_load(&k, NULL, b, s1.ptr, s1.len, &o2, &n2, info, sizeof info, &d2) ||
            n2 != noffs || task_save(&k, NULL, b, o2, n2, &s2, &d2) || s1.len != s2.len)
            abort();
        part_text(&k, a, &t1);
        part_text(&k, b, &t2);
        if (t1.len != t2.len || (t1.len && memcmp(t1.ptr, t2.ptr, t1.len) != 0) ||
            a->closed_before != b->closed_before || a->max_ts != b->max_ts)
            abort();
        sl_free(o2);
        sl_buf_fini(&s1);
        sl_buf_fini(&s2);
        sl_buf_fini(&t1);
        sl_buf_fini(&t2);
    }
    sl_free(offs);
    accs_clear(&k, &a->accs);
    accs_clear(&k, &b->accs);
    sl_free(a);
    sl_free(b);
    return rc;
}
