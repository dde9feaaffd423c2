/*
 * sketch_int.h — internals shared by the sketch files (sketch*.c): the little-endian writer
 * and the bounds-checked reader used by each sketch's serialisation.
 */
#ifndef SL_LANG_SKETCH_INT_H
#define SL_LANG_SKETCH_INT_H

#include "lang/sketch.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- writer: appends to a buf; the first error sticks in w->rc */
struct sl_sketch__wr {
    struct sl_buf *out;
    int rc;
};

static inline void sl_sketch__put(struct sl_sketch__wr *w, const void *p, size_t n)
{
    if (!w->rc)
        w->rc = sl_buf_append(w->out, p, n);
}
static inline void sl_sketch__u8(struct sl_sketch__wr *w, uint8_t v)
{
    sl_sketch__put(w, &v, 1);
}
static inline void sl_sketch__u32(struct sl_sketch__wr *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sl_sketch__put(w, b, 4);
}
static inline void sl_sketch__u64(struct sl_sketch__wr *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sl_sketch__put(w, b, 8);
}
static inline void sl_sketch__f64(struct sl_sketch__wr *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    sl_sketch__u64(w, v);
}

/* ---- reader: every read checks the remaining length; a failed read sets ok = false */
struct sl_sketch__rd {
    const uint8_t *p;
    size_t n;
    size_t off;
    bool ok;
    const char *why; /* first failure */
};

static inline bool sl_sketch__fail(struct sl_sketch__rd *r, const char *why)
{
    if (r->ok) {
        r->ok = false;
        r->why = why;
    }
    return false;
}
static inline bool sl_sketch__has(struct sl_sketch__rd *r, size_t n)
{
    if (!r->ok)
        return false;
    if (n > r->n - r->off)
        return sl_sketch__fail(r, "truncated");
    return true;
}
static inline uint8_t sl_sketch__get_u8(struct sl_sketch__rd *r)
{
    if (!sl_sketch__has(r, 1))
        return 0;
    return r->p[r->off++];
}
static inline uint32_t sl_sketch__get_u32(struct sl_sketch__rd *r)
{
    if (!sl_sketch__has(r, 4))
        return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 4;
    return v;
}
static inline uint64_t sl_sketch__get_u64(struct sl_sketch__rd *r)
{
    if (!sl_sketch__has(r, 8))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    return v;
}
static inline double sl_sketch__get_f64(struct sl_sketch__rd *r)
{
    uint64_t v = sl_sketch__get_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* Payload codecs, one per sketch (version 1). The reader returns NULL and sets r->ok = false
 * (with r->why) on invalid input; *nomem is set when an allocation failed instead. */
void sl_sketch__stats_write(const struct sl_stats *s, struct sl_sketch__wr *w);
struct sl_stats *sl_sketch__stats_read(struct sl_sketch__rd *r, bool *nomem);
void sl_sketch__hllp_write(const struct sl_hllp *h, struct sl_sketch__wr *w);
struct sl_hllp *sl_sketch__hllp_read(struct sl_sketch__rd *r, bool *nomem);
void sl_sketch__bloom_write(const struct sl_bloom *b, struct sl_sketch__wr *w);
struct sl_bloom *sl_sketch__bloom_read(struct sl_sketch__rd *r, bool *nomem);

#endif
