/*
 * sketch.c — what the three sketches share: type tests, the bytes a Stellar value hashes as,
 * and the versioned binary envelope.
 *
 * DESIGN: the envelope is fixed-size header + payload + checksum:
 *
 *   off  size  field
 *   0    4     magic "SLSK"
 *   4    1     kind: 1 STATS, 2 HLLP, 3 BLOOM
 *   5    1     version of the payload layout (1)
 *   6    2     reserved, 0
 *   8    4     payload length, little-endian
 *   12   n     payload (sketch_stats.c, sketch_hll.c, sketch_bloom.c document theirs)
 *   12+n 8     XXH3-64 of bytes [0, 12+n), little-endian
 *
 * The checksum catches storage corruption; the payload decoders still validate every field
 * on their own (a forged checksum must not be able to crash the reader). A new layout gets a
 * new version number, and readers keep decoding the old ones.
 */
#include "lang/sketch.h"

#include "base/hash.h"
#include "lang/sketch_int.h"
#include "lang/sval.h"

#include <string.h>

#define MAGIC       "SLSK"
#define VERSION     1
#define HEADER_LEN  12
#define TRAILER_LEN 8

enum { KIND_STATS = 1, KIND_HLLP = 2, KIND_BLOOM = 3 };

bool sl_sketch_is(const struct sl_value *v, const char *type_name)
{
    return v->type == SL_V_OBJECT && v->u.obj && v->u.obj->type &&
           !strcmp(v->u.obj->type->name, type_name);
}

int sl_sketch_value_key(const struct sl_value *v, struct sl_buf *scratch)
{
    sl_buf_reset(scratch);
    char tag;
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        tag = 'z';
        break;
    case SL_V_BOOL:
        tag = 'b';
        break;
    case SL_V_INT:
        tag = 'i';
        break; /* Integer and Long alike: their text is the same */
    case SL_V_DOUBLE:
        tag = (v->flags & SL_VF_F32) ? 'f' : 'd';
        break;
    case SL_V_STRING:
        tag = 's';
        break;
    case SL_V_LIST:
        tag = 'l';
        break;
    case SL_V_MAP:
        tag = 'm';
        break;
    default:
        tag = 'o';
        break;
    }
    int rc = sl_buf_putc(scratch, tag);
    if (rc)
        return rc;
    if (v->type == SL_V_STRING)
        return v->len ? sl_buf_append(scratch, v->u.s, v->len) : 0;
    return sl_sv_format(v, scratch);
}

int sl_sketch_serialize(const struct sl_object *o, struct sl_buf *out)
{
    uint8_t kind;
    if (o->type == &sl_stats_type)
        kind = KIND_STATS;
    else if (o->type == &sl_hllp_type)
        kind = KIND_HLLP;
    else if (o->type == &sl_bloom_type)
        kind = KIND_BLOOM;
    else
        return SL_EINVAL;
    size_t start = out->len;
    struct sl_sketch__wr w = {.out = out};
    sl_sketch__put(&w, MAGIC, 4);
    sl_sketch__u8(&w, kind);
    sl_sketch__u8(&w, VERSION);
    sl_sketch__u8(&w, 0);
    sl_sketch__u8(&w, 0);
    sl_sketch__u32(&w, 0); /* patched below */
    switch (kind) {
    case KIND_STATS:
        sl_sketch__stats_write((const struct sl_stats *)o, &w);
        break;
    case KIND_HLLP:
        sl_sketch__hllp_write((const struct sl_hllp *)o, &w);
        break;
    default:
        sl_sketch__bloom_write((const struct sl_bloom *)o, &w);
        break;
    }
    if (!w.rc) {
        size_t plen = out->len - start - HEADER_LEN;
        if (plen > UINT32_MAX)
            w.rc = SL_E2BIG;
        else
            for (int i = 0; i < 4; i++)
                out->ptr[start + 8 + (size_t)i] = (char)(uint8_t)(plen >> (8 * i));
    }
    if (!w.rc)
        sl_sketch__u64(&w, sl_hash64(out->ptr + start, out->len - start));
    if (w.rc)
        out->len = start; /* leave out as it was */
    return w.rc;
}

static int bad(struct sl_diag *d, size_t off, const char *why)
{
    if (!d)
        return SL_EPARSE;
    int rc = sl_diag_set(d, SL_EPARSE, "sketch: %s", why);
    d->offset = (int64_t)off;
    return rc;
}

int sl_sketch_deserialize(const void *p, size_t n, struct sl_object **out, struct sl_diag *d)
{
    *out = NULL;
    const uint8_t *b = p;
    if (n < HEADER_LEN + TRAILER_LEN)
        return bad(d, n, "truncated");
    if (memcmp(b, MAGIC, 4))
        return bad(d, 0, "bad magic");
    uint8_t kind = b[4], version = b[5];
    if (kind < KIND_STATS || kind > KIND_BLOOM)
        return bad(d, 4, "unknown kind");
    if (version != VERSION)
        return bad(d, 5, "unsupported version");
    if (b[6] || b[7])
        return bad(d, 6, "reserved bytes set");
    struct sl_sketch__rd r = {.p = b, .n = n, .off = 8, .ok = true};
    uint32_t plen = sl_sketch__get_u32(&r);
    if ((size_t)plen != n - HEADER_LEN - TRAILER_LEN)
        return bad(d, 8, "length does not match");
    r.off = n - TRAILER_LEN;
    uint64_t sum = sl_sketch__get_u64(&r);
    if (sum != sl_hash64(b, n - TRAILER_LEN))
        return bad(d, n - TRAILER_LEN, "checksum mismatch");
    /* the payload reader sees the payload only */
    r = (struct sl_sketch__rd){.p = b, .n = n - TRAILER_LEN, .off = HEADER_LEN, .ok = true};
    bool nomem = false;
    struct sl_object *o = NULL;
    switch (kind) {
    case KIND_STATS:
        o = (struct sl_object *)sl_sketch__stats_read(&r, &nomem);
        break;
    case KIND_HLLP:
        o = (struct sl_object *)sl_sketch__hllp_read(&r, &nomem);
        break;
    default:
        o = (struct sl_object *)sl_sketch__bloom_read(&r, &nomem);
        break;
    }
    if (nomem)
        return SL_ENOMEM;
    if (!o)
        return bad(d, r.off, r.why ? r.why : "invalid");
    if (r.off != r.n) {
        sl_object_unref(o);
        return bad(d, r.off, "trailing bytes");
    }
    *out = o;
    return 0;
}
