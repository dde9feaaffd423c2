/*
 * sketch_hll.c — HyperLogLog++ (Heule, Nunkesser, Hall 2013) with the parameters of
 * stream-lib's HyperLogLogPlus, which Metron's HLLP_* functions wrap.
 *
 * DESIGN: a 64-bit hash x is split into an index (the top p bits) and rho (the position of
 * the first 1 bit in the remaining 64-p bits). Small sets use the sparse representation: a
 * sorted list of (top sp bits of x, rho at precision p) entries, one per sp-index, estimated
 * by linear counting over 2^sp buckets — near exact for small sets, which is why Metron's
 * tests can expect exact answers. New entries collect in a small unsorted buffer that is
 * sorted and merged into the list when full (no per-add allocation). Past 0.75 * 2^p entries
 * (stream-lib's threshold) the list converts to 2^p one-byte registers.
 *
 * The dense estimate is Ertl's improved raw estimator ("New cardinality estimation algorithms
 * for HyperLogLog sketches", 2017, algorithm 6), not the empirical bias-correction tables of
 * the HLL++ paper that stream-lib ships: it needs no tables, has no bias across the whole
 * range (including the hand-over from linear counting, where the tables interpolate), and
 * its relative standard error is the same 1.04/sqrt(2^p). docs/stellar-sketches.md gives
 * the measured errors.
 */
#include "lang/sketch.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "lang/sketch_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TMP_CAP 64u

struct sl_hllp {
    struct sl_object obj;
    uint8_t p, sp;
    bool sparse;
    uint8_t *reg;   /* dense: 2^p registers */
    uint64_t *list; /* sparse: sorted entries (idx_sp << 8 | rho), one per idx_sp */
    uint32_t nlist, caplist;
    uint32_t ntmp;
    uint64_t tmp[TMP_CAP]; /* sparse: entries not yet merged into list */
};

static uint32_t threshold(int p)
{
    return (uint32_t)((double)(1u << p) * 0.75);
}

static void hllp_free(struct sl_object *o)
{
    struct sl_hllp *h = (struct sl_hllp *)o;
    sl_free(h->reg);
    sl_free(h->list);
    sl_free(h);
}

static int hllp_to_json(const struct sl_object *o, struct sl_buf *out)
{
    const struct sl_hllp *h = (const struct sl_hllp *)o;
    return sl_buf_appendf(out, "{\"type\":\"HLLP\",\"p\":%d,\"sp\":%d,\"sparse\":%s}", h->p, h->sp,
                          h->sparse ? "true" : "false");
}

const struct sl_object_type sl_hllp_type = {
    .name = "HLLP",
    .free = hllp_free,
    .to_json = hllp_to_json,
};

const char *sl_hllp_check(int p, int sp)
{
    if (p < SL_HLLP_MIN_P || (sp != 0 && p > sp))
        return "p must be between 4 and sp (inclusive)";
    if (p > SL_HLLP_MAX_P)
        return "p values greater than 18 not supported";
    if (sp < 0 || sp > SL_HLLP_MAX_SP)
        return "sp values greater than 31 not supported";
    return NULL;
}

struct sl_hllp *sl_hllp_new(int p, int sp)
{
    if (sl_hllp_check(p, sp))
        return NULL;
    struct sl_hllp *h = sl_xcalloc(1, sizeof *h);
    h->obj.type = &sl_hllp_type;
    atomic_init(&h->obj.refs, 1);
    h->p = (uint8_t)p;
    h->sp = (uint8_t)sp;
    h->sparse = sp != 0;
    if (!h->sparse)
        h->reg = sl_xcalloc((size_t)1 << p, 1);
    return h;
}

void sl_hllp_precision(const struct sl_hllp *h, int *p, int *sp)
{
    *p = h->p;
    *sp = h->sp;
}

bool sl_hllp_is_sparse(const struct sl_hllp *h)
{
    return h->sparse;
}

static uint8_t rho_of(uint64_t x, int p)
{
    uint64_t w = (x << p) | ((uint64_t)1 << (p - 1));
    return (uint8_t)(__builtin_clzll(w) + 1);
}

static void reg_update(struct sl_hllp *h, uint64_t idx, uint8_t rho)
{
    if (h->reg[idx] < rho)
        h->reg[idx] = rho;
}

/* sparse entry → (register index at p, rho) */
static void entry_update(struct sl_hllp *h, uint64_t e)
{
    reg_update(h, (e >> 8) >> (h->sp - h->p), (uint8_t)(e & 0xff));
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int to_dense(struct sl_hllp *h)
{
    uint8_t *reg = sl_calloc((size_t)1 << h->p, 1);
    if (!reg)
        return SL_ENOMEM;
    h->reg = reg;
    for (uint32_t i = 0; i < h->nlist; i++)
        entry_update(h, h->list[i]);
    for (uint32_t i = 0; i < h->ntmp; i++)
        entry_update(h, h->tmp[i]);
    sl_free(h->list);
    h->list = NULL;
    h->nlist = h->caplist = h->ntmp = 0;
    h->sparse = false;
    return 0;
}

/* Merge the buffer into the sorted list (keeping the largest rho per sp-index), then convert
 * to dense past the threshold. */
static int flush(struct sl_hllp *h)
{
    if (!h->sparse || !h->ntmp)
        return 0;
    qsort(h->tmp, h->ntmp, sizeof h->tmp[0], u64_cmp);
    uint32_t need = h->nlist + h->ntmp;
    if (need > h->caplist) {
        uint32_t cap = h->caplist ? h->caplist : 64;
        while (cap < need)
            cap *= 2;
        uint64_t *l = sl_realloc(h->list, (size_t)cap * sizeof *l);
        if (!l)
            return SL_ENOMEM;
        h->list = l;
        h->caplist = cap;
    }
    /* merge from the back, both inputs sorted by entry (index, then rho) */
    int64_t i = (int64_t)h->nlist - 1, j = (int64_t)h->ntmp - 1, o = (int64_t)need - 1;
    while (j >= 0) {
        if (i >= 0 && h->list[i] > h->tmp[j])
            h->list[o--] = h->list[i--];
        else
            h->list[o--] = h->tmp[j--];
    }
    /* one entry per index: the last of each run holds the largest rho */
    uint32_t n = 0;
    for (uint32_t k = 0; k < need; k++) {
        if (n && (h->list[n - 1] >> 8) == (h->list[k] >> 8))
            h->list[n - 1] = h->list[k];
        else
            h->list[n++] = h->list[k];
    }
    h->nlist = n;
    h->ntmp = 0;
    if (h->nlist > threshold(h->p))
        return to_dense(h);
    return 0;
}

static int add_entry(struct sl_hllp *h, uint64_t e)
{
    if (h->ntmp == TMP_CAP) {
        int rc = flush(h);
        if (rc)
            return rc;
        if (!h->sparse) {
            entry_update(h, e);
            return 0;
        }
    }
    h->tmp[h->ntmp++] = e;
    return 0;
}

int sl_hllp_add_hash(struct sl_hllp *h, uint64_t x)
{
    uint8_t rho = rho_of(x, h->p);
    if (!h->sparse) {
        reg_update(h, x >> (64 - h->p), rho);
        return 0;
    }
    return add_entry(h, (x >> (64 - h->sp)) << 8 | rho);
}

int sl_hllp_add(struct sl_hllp *h, const void *p, size_t n)
{
    return sl_hllp_add_hash(h, sl_hash64(p, n));
}

/* Ertl's sigma and tau (2017, algorithm 6) */
static double sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1, z = 1 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != zp);
    return z / 3;
}

static double dense_estimate(const struct sl_hllp *h)
{
    uint32_t m = 1u << h->p;
    int q = 64 - h->p;
    uint32_t c[66] = {0};
    for (uint32_t i = 0; i < m; i++)
        c[h->reg[i]]++;
    double z = m * tau(1.0 - (double)c[q + 1] / m);
    for (int k = q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * sigma((double)c[0] / m);
    return (0.5 / log(2.0)) * (double)m * m / z;
}

int64_t sl_hllp_cardinality(struct sl_hllp *h)
{
    /* out of memory merging the buffer: the estimate leaves the buffer out */
    (void)flush(h);
    double e;
    if (h->sparse) {
        double m = (double)((uint64_t)1 << h->sp);
        uint32_t n = h->nlist;
        e = m * log(m / (m - n));
    } else {
        e = dense_estimate(h);
    }
    return (int64_t)floor(e + 0.5); /* Math.round */
}

int sl_hllp_merge(struct sl_hllp *dst, struct sl_hllp *src)
{
    if (dst == src)
        return 0;
    if (dst->p != src->p || dst->sp != src->sp)
        return SL_EINVAL;
    int rc = 0;
    if (!src->sparse && dst->sparse && (rc = to_dense(dst)))
        return rc;
    if (!dst->sparse) {
        uint32_t m = 1u << dst->p;
        if (src->sparse) {
            for (uint32_t i = 0; i < src->nlist; i++)
                entry_update(dst, src->list[i]);
            for (uint32_t i = 0; i < src->ntmp; i++)
                entry_update(dst, src->tmp[i]);
        } else {
            for (uint32_t i = 0; i < m; i++)
                reg_update(dst, i, src->reg[i]);
        }
        return 0;
    }
    for (uint32_t i = 0; i < src->nlist && !rc; i++)
        rc = add_entry(dst, src->list[i]);
    for (uint32_t i = 0; i < src->ntmp && !rc; i++)
        rc = add_entry(dst, src->tmp[i]);
    if (!rc)
        rc = flush(dst);
    return rc;
}

/* ------------------------------------------------------------------ serialisation (v1) */

/*
 * u8 p; u8 sp; u8 format (0 sparse, 1 dense)
 * sparse: u32 listed; u32 buffered; u64 entry x both (idx_sp << 8 | rho)
 * dense:  u8 register x 2^p
 */
void sl_sketch__hllp_write(const struct sl_hllp *h, struct sl_sketch__wr *w)
{
    sl_sketch__u8(w, h->p);
    sl_sketch__u8(w, h->sp);
    sl_sketch__u8(w, h->sparse ? 0 : 1);
    if (h->sparse) {
        sl_sketch__u32(w, h->nlist);
        sl_sketch__u32(w, h->ntmp);
        for (uint32_t i = 0; i < h->nlist; i++)
            sl_sketch__u64(w, h->list[i]);
        for (uint32_t i = 0; i < h->ntmp; i++)
            sl_sketch__u64(w, h->tmp[i]);
    } else {
        sl_sketch__put(w, h->reg, (size_t)1 << h->p);
    }
}

/* Is e a possible sparse entry at (p, sp)? rho is fixed by the index bits below p unless
 * they are all zero. */
static bool entry_ok(uint64_t e, int p, int sp)
{
    uint64_t idx = e >> 8;
    unsigned rho = (unsigned)(e & 0xff);
    if (idx >> sp || rho < 1 || rho > (unsigned)(65 - p))
        return false;
    int extra = sp - p;
    uint64_t low = extra ? idx & (((uint64_t)1 << extra) - 1) : 0;
    if (!low)
        return rho > (unsigned)extra;
    int bits = 64 - __builtin_clzll(low);
    return rho == (unsigned)(extra - bits + 1);
}

struct sl_hllp *sl_sketch__hllp_read(struct sl_sketch__rd *r, bool *nomem)
{
    int p = sl_sketch__get_u8(r), sp = sl_sketch__get_u8(r);
    uint8_t fmt = sl_sketch__get_u8(r);
    if (!r->ok)
        return NULL;
    if (sl_hllp_check(p, sp) || fmt > 1 || (fmt == 0 && sp == 0)) {
        sl_sketch__fail(r, "bad precision or format");
        return NULL;
    }
    if (fmt == 1) {
        size_t m = (size_t)1 << p;
        if (!sl_sketch__has(r, m))
            return NULL;
        for (size_t i = 0; i < m; i++)
            if (r->p[r->off + i] > 65 - p) {
                sl_sketch__fail(r, "bad register");
                return NULL;
            }
        struct sl_hllp *h = sl_hllp_new(p, 0);
        h->sp = (uint8_t)sp;
        memcpy(h->reg, r->p + r->off, m);
        r->off += m;
        return h;
    }
    uint32_t nl = sl_sketch__get_u32(r), nt = sl_sketch__get_u32(r);
    if (!r->ok)
        return NULL;
    if (nl > threshold(p) + TMP_CAP || nt > TMP_CAP) {
        sl_sketch__fail(r, "bad sparse size");
        return NULL;
    }
    if (!sl_sketch__has(r, ((size_t)nl + nt) * 8))
        return NULL;
    struct sl_hllp *h = sl_hllp_new(p, sp);
    if (nl) {
        h->list = sl_malloc((size_t)nl * sizeof *h->list);
        if (!h->list) {
            *nomem = true;
            sl_object_unref(&h->obj);
            return NULL;
        }
        h->caplist = nl;
    }
    for (uint32_t i = 0; i < nl + nt; i++) {
        uint64_t e = sl_sketch__get_u64(r);
        bool sorted = i >= nl || i == 0 || (h->list[i - 1] >> 8) < (e >> 8);
        if (!entry_ok(e, p, sp) || !sorted) {
            sl_sketch__fail(r, "bad sparse entry");
            sl_object_unref(&h->obj);
            return NULL;
        }
        if (i < nl)
            h->list[h->nlist++] = e;
        else
            h->tmp[h->ntmp++] = e;
    }
    return h;
}
