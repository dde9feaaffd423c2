/*
 * statecodec.c — binary forms of checkpointed state (see statecodec.h): a bounded reader,
 * Stellar values, and the header/chunk records of a changelog.
 *
 * Layouts (little-endian):
 *   value:  u8 type, u8 flags, then by type: bool u8; int, timestamp i64; double the IEEE
 *           bits as u64; string, bytes u32 length + bytes; ip 16 bytes; list u32 count +
 *           values; map u32 count + (u32 key length, key, value); object u32 length + the
 *           sketch's binary form (lang/sketch.h).
 *   header: "SLCH" u8 kind 1, u8 version, u64 generation, u32 chunks, u64 length, u64 checksum
 *   chunk:  "SLCH" u8 kind 2, u8 version, u64 generation, u32 index, then the bytes
 */
#include "state/statecodec.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "lang/sketch.h"

#include <stdio.h>
#include <string.h>

#define MAGIC       "SLCH"
#define KIND_HEADER 1u
#define KIND_CHUNK  2u

/* ------------------------------------------------------------------ values */

static int put_value(struct sl_buf *b, const struct sl_value *v, int depth)
{
    if (depth > SL_SC_MAX_DEPTH)
        return SL_EDEPTH;
    int rc = sl_binwr_u8(b, v->type);
    rc = rc ? rc : sl_binwr_u8(b, v->flags);
    if (rc)
        return rc;
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        return sl_binwr_u8(b, v->u.b ? 1 : 0);
    case SL_V_INT:
        return sl_binwr_u64(b, (uint64_t)v->u.i);
    case SL_V_TS:
        return sl_binwr_u64(b, (uint64_t)v->u.ts_ns);
    case SL_V_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        return sl_binwr_u64(b, bits);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        return sl_binwr_str(b, v->len ? v->u.s : "", v->len);
    case SL_V_IP:
        return sl_buf_append(b, v->u.ip, 16);
    case SL_V_LIST:
        rc = sl_binwr_u32(b, v->len);
        for (uint32_t i = 0; !rc && i < v->len; i++)
            rc = put_value(b, &v->u.list[i], depth + 1);
        return rc;
    case SL_V_MAP:
        rc = sl_binwr_u32(b, v->len);
        for (uint32_t i = 0; !rc && i < v->len; i++) {
            rc = sl_binwr_str(b, v->u.map[i].key.len ? v->u.map[i].key.ptr : "",
                              v->u.map[i].key.len);
            rc = rc ? rc : put_value(b, &v->u.map[i].val, depth + 1);
        }
        return rc;
    case SL_V_OBJECT: {
        const struct sl_object *o = v->u.obj;
        if (!o ||
            (o->type != &sl_stats_type && o->type != &sl_hllp_type && o->type != &sl_bloom_type))
            return SL_ETYPE;
        size_t at = b->len;
        rc = sl_binwr_u32(b, 0); /* length, patched below */
        rc = rc ? rc : sl_sketch_serialize(o, b);
        if (rc)
            return rc;
        size_t n = b->len - at - 4;
        if (n > UINT32_MAX)
            return SL_E2BIG;
        for (int i = 0; i < 4; i++)
            b->ptr[at + (size_t)i] = (char)(n >> (8 * i));
        return 0;
    }
    default:
        return SL_ETYPE;
    }
}

int sl_sc_put_value(struct sl_buf *b, const struct sl_value *v)
{
    return put_value(b, v, 0);
}

void sl_sc_value_release(struct sl_value *v)
{
    if (v->type == SL_V_OBJECT) {
        sl_object_unref(v->u.obj);
        *v = sl_value_null();
    } else if (v->type == SL_V_LIST) {
        for (uint32_t i = 0; i < v->len; i++)
            sl_sc_value_release(&v->u.list[i]);
    } else if (v->type == SL_V_MAP) {
        for (uint32_t i = 0; i < v->len; i++)
            sl_sc_value_release(&v->u.map[i].val);
    }
}

static int get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out, int depth)
{
    *out = sl_value_null();
    if (depth > SL_SC_MAX_DEPTH) {
        sl_binrd_fail(r, "values nested too deep");
        return SL_EPARSE;
    }
    uint8_t type = sl_binrd_u8(r), flags = sl_binrd_u8(r);
    if (!r->ok)
        return SL_EPARSE;
    struct sl_value v = {.type = type, .flags = flags};
    switch (type) {
    case SL_V_NULL:
        if (flags)
            goto bad_flags;
        break;
    case SL_V_BOOL: {
        uint8_t x = sl_binrd_u8(r);
        if (flags || x > 1)
            goto bad_flags;
        v.u.b = x == 1;
        break;
    }
    case SL_V_INT:
        if (flags & ~(unsigned)SL_VF_I32)
            goto bad_flags;
        v.u.i = sl_binrd_i64(r);
        break;
    case SL_V_TS:
        if (flags)
            goto bad_flags;
        v.u.ts_ns = sl_binrd_i64(r);
        break;
    case SL_V_DOUBLE: {
        if (flags & ~(unsigned)SL_VF_F32)
            goto bad_flags;
        uint64_t bits = sl_binrd_u64(r);
        memcpy(&v.u.d, &bits, 8);
        break;
    }
    case SL_V_STRING:
    case SL_V_BYTES: {
        if (flags)
            goto bad_flags;
        struct sl_str s = sl_binrd_str(r, UINT32_MAX / 2);
        if (!r->ok)
            return SL_EPARSE;
        char *c = sl_arena_alloc_bytes(a, s.len ? s.len : 1);
        if (!c)
            return SL_ENOMEM;
        if (s.len)
            memcpy(c, s.ptr, s.len);
        v.u.s = c;
        v.len = (uint32_t)s.len;
        break;
    }
    case SL_V_IP: {
        if (flags != SL_VF_IP4 && flags != SL_VF_IP6)
            goto bad_flags;
        const uint8_t *q = sl_binrd_take(r, 16);
        if (q)
            memcpy(v.u.ip, q, 16);
        break;
    }
    case SL_V_LIST: {
        if (flags)
            goto bad_flags;
        uint32_t n = sl_binrd_count(r, 2);
        if (!r->ok)
            return SL_EPARSE;
        struct sl_value *l = n ? sl_arena_alloc(a, (size_t)n * sizeof *l) : NULL;
        if (n && !l)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            int rc = get_value(r, a, &l[i], depth + 1);
            if (rc) {
                for (uint32_t k = 0; k < i; k++)
                    sl_sc_value_release(&l[k]);
                return rc;
            }
        }
        v.u.list = l;
        v.len = n;
        break;
    }
    case SL_V_MAP: {
        if (flags)
            goto bad_flags;
        uint32_t n = sl_binrd_count(r, 6);
        if (!r->ok)
            return SL_EPARSE;
        struct sl_kv *m = n ? sl_arena_alloc(a, (size_t)n * sizeof *m) : NULL;
        if (n && !m)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            struct sl_str k = sl_binrd_str(r, 1u << 20);
            char *kc = r->ok ? sl_arena_alloc_bytes(a, k.len ? k.len : 1) : NULL;
            int rc = !r->ok ? SL_EPARSE : !kc ? SL_ENOMEM : 0;
            if (!rc) {
                if (k.len)
                    memcpy(kc, k.ptr, k.len);
                m[i].key = sl_str_make(kc, k.len);
                rc = get_value(r, a, &m[i].val, depth + 1);
            }
            if (rc) {
                for (uint32_t j = 0; j < i; j++)
                    sl_sc_value_release(&m[j].val);
                return rc;
            }
        }
        v.u.map = m;
        v.len = n;
        break;
    }
    case SL_V_OBJECT: {
        if (flags)
            goto bad_flags;
        uint32_t n = sl_binrd_u32(r);
        const uint8_t *q = r->ok ? sl_binrd_take(r, n) : NULL;
        if (!q)
            return SL_EPARSE;
        struct sl_diag d;
        memset(&d, 0, sizeof d);
        struct sl_object *o = NULL;
        int rc = sl_sketch_deserialize(q, n, &o, &d);
        if (rc) {
            sl_binrd_fail(r, rc == SL_ENOMEM ? "out of memory" : "bad sketch");
            return rc == SL_ENOMEM ? SL_ENOMEM : SL_EPARSE;
        }
        v.u.obj = o;
        break;
    }
    default:
        sl_binrd_fail(r, "unknown value type");
        return SL_EPARSE;
    }
    if (!r->ok)
        return SL_EPARSE;
    *out = v;
    return 0;
bad_flags:
    sl_binrd_fail(r, "bad value flags");
    return SL_EPARSE;
}

int sl_sc_get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out)
{
    return get_value(r, a, out, 0);
}

/* ------------------------------------------------------------------ records */

size_t sl_sc_chunk_key(char *buf, size_t cap, const char *key, uint64_t generation, uint32_t index)
{
    int n = snprintf(buf, cap, "%s#%u.%u", key, (unsigned)(generation % 2), (unsigned)index);
    return n > 0 && (size_t)n < cap && (size_t)n <= SL_SC_MAX_KEY ? (size_t)n : 0;
}

static int put_magic(struct sl_buf *b, uint8_t kind)
{
    int rc = sl_buf_append(b, MAGIC, 4);
    rc = rc ? rc : sl_binwr_u8(b, kind);
    return rc ? rc : sl_binwr_u8(b, SL_SC_VERSION);
}

static int get_magic(struct sl_binrd *r, uint8_t kind)
{
    const uint8_t *m = sl_binrd_take(r, 4);
    if (!m || memcmp(m, MAGIC, 4) != 0) {
        sl_binrd_fail(r, "not a changelog record (magic)");
        return SL_EPARSE;
    }
    uint8_t k = sl_binrd_u8(r), ver = sl_binrd_u8(r);
    if (r->ok && k != kind)
        sl_binrd_fail(r, "unexpected record kind");
    if (r->ok && ver != SL_SC_VERSION)
        sl_binrd_fail(r, "unsupported version");
    return r->ok ? 0 : SL_EPARSE;
}

static int rd_error(struct sl_binrd *r, struct sl_diag *d, const char *what)
{
    return sl_diag_set(d, SL_EPARSE, "%s: %s at byte %zu", what, r->why ? r->why : "bad record",
                       r->pos);
}

int sl_sc_put_header(struct sl_buf *b, const struct sl_sc_header *h)
{
    int rc = put_magic(b, KIND_HEADER);
    rc = rc ? rc : sl_binwr_u64(b, h->generation);
    rc = rc ? rc : sl_binwr_u32(b, h->chunks);
    rc = rc ? rc : sl_binwr_u64(b, h->length);
    return rc ? rc : sl_binwr_u64(b, h->checksum);
}

int sl_sc_decode_header(const void *p, size_t n, struct sl_sc_header *h, struct sl_diag *d)
{
    struct sl_binrd r;
    sl_binrd_init(&r, p, n);
    if (get_magic(&r, KIND_HEADER))
        return rd_error(&r, d, "changelog header");
    h->generation = sl_binrd_u64(&r);
    h->chunks = sl_binrd_u32(&r);
    h->length = sl_binrd_u64(&r);
    h->checksum = sl_binrd_u64(&r);
    if (r.ok && r.pos != r.n)
        sl_binrd_fail(&r, "trailing bytes");
    if (r.ok && (h->chunks > SL_SC_MAX_CHUNKS || h->length > SL_SC_MAX_STATE ||
                 h->length > (uint64_t)h->chunks * SL_SC_MAX_CHUNK || (h->length && !h->chunks)))
        sl_binrd_fail(&r, "chunk count or length out of bounds");
    return r.ok ? 0 : rd_error(&r, d, "changelog header");
}

int sl_sc_put_chunk(struct sl_buf *b, uint64_t generation, uint32_t index, const void *data,
                    size_t n)
{
    if (n > SL_SC_MAX_CHUNK)
        return SL_E2BIG;
    int rc = put_magic(b, KIND_CHUNK);
    rc = rc ? rc : sl_binwr_u64(b, generation);
    rc = rc ? rc : sl_binwr_u32(b, index);
    return rc ? rc : sl_buf_append(b, data, n);
}

int sl_sc_decode_chunk(const void *p, size_t n, uint64_t *generation, uint32_t *index,
                       const void **data, size_t *len, struct sl_diag *d)
{
    struct sl_binrd r;
    sl_binrd_init(&r, p, n);
    if (get_magic(&r, KIND_CHUNK))
        return rd_error(&r, d, "changelog chunk");
    *generation = sl_binrd_u64(&r);
    *index = sl_binrd_u32(&r);
    if (r.ok && (*index >= SL_SC_MAX_CHUNKS || r.n - r.pos > SL_SC_MAX_CHUNK))
        sl_binrd_fail(&r, "chunk index or size out of bounds");
    if (!r.ok)
        return rd_error(&r, d, "changelog chunk");
    *data = r.p + r.pos;
    *len = r.n - r.pos;
    return 0;
}

/* ------------------------------------------------------------------ reassembly */

void sl_sc_state_init(struct sl_sc_state *s)
{
    memset(s, 0, sizeof *s);
}

void sl_sc_state_fini(struct sl_sc_state *s)
{
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < s->nslot[k]; i++)
            sl_free(s->slot[k][i].data);
        sl_free(s->slot[k]);
    }
    memset(s, 0, sizeof *s);
}

int sl_sc_state_feed(struct sl_sc_state *s, const char *suffix, size_t suffix_len,
                     const void *value, size_t len, struct sl_diag *d)
{
    if (suffix_len == 0) {
        struct sl_sc_header h;
        int rc = sl_sc_decode_header(value, len, &h, d);
        if (rc)
            return rc;
        s->h = h;
        s->have_header = true;
        return 0;
    }
    /* "#<slot>.<index>" */
    if (suffix_len < 4 || suffix_len > 16 || suffix[0] != '#' ||
        (suffix[1] != '0' && suffix[1] != '1') || suffix[2] != '.')
        return sl_diag_set(d, SL_EPARSE, "changelog: unexpected key suffix");
    uint64_t idx = 0;
    for (size_t i = 3; i < suffix_len; i++) {
        if (suffix[i] < '0' || suffix[i] > '9' || (i == 3 && suffix[i] == '0' && suffix_len > 4))
            return sl_diag_set(d, SL_EPARSE, "changelog: bad chunk index in key");
        idx = idx * 10 + (uint64_t)(suffix[i] - '0');
    }
    int slot = suffix[1] - '0';
    uint64_t gen;
    uint32_t index;
    const void *data;
    size_t n;
    int rc = sl_sc_decode_chunk(value, len, &gen, &index, &data, &n, d);
    if (rc)
        return rc;
    if (index != idx || gen % 2 != (uint64_t)slot)
        return sl_diag_set(d, SL_EPARSE, "changelog: chunk does not match its key");
    if (index >= s->nslot[slot]) {
        uint32_t nn = index + 1;
        void *grown = sl_realloc(s->slot[slot], (size_t)nn * sizeof *s->slot[slot]);
        if (!grown)
            return sl_diag_set(d, SL_ENOMEM, "changelog: out of memory");
        s->slot[slot] = grown;
        memset(&s->slot[slot][s->nslot[slot]], 0,
               (size_t)(nn - s->nslot[slot]) * sizeof *s->slot[slot]);
        s->nslot[slot] = nn;
    }
    size_t prev = s->slot[slot][index].data ? s->slot[slot][index].len : 0;
    if (s->held - prev + n > 2 * (size_t)SL_SC_MAX_STATE)
        return sl_diag_set(d, SL_E2BIG, "changelog: chunks larger than the state bound");
    void *copy = sl_malloc(n ? n : 1);
    if (!copy)
        return sl_diag_set(d, SL_ENOMEM, "changelog: out of memory");
    if (n)
        memcpy(copy, data, n);
    sl_free(s->slot[slot][index].data);
    s->held = s->held - prev + n;
    s->slot[slot][index].data = copy;
    s->slot[slot][index].len = n;
    s->slot[slot][index].generation = gen;
    return 0;
}

int sl_sc_state_finish(struct sl_sc_state *s, void **out, size_t *len, struct sl_diag *d)
{
    *out = NULL;
    *len = 0;
    if (!s->have_header)
        return SL_ENOENT;
    const struct sl_sc_header *h = &s->h;
    int slot = (int)(h->generation % 2);
    if (h->chunks > s->nslot[slot])
        return sl_diag_set(d, SL_EPARSE, "changelog: generation %llu: %u chunks, %u found",
                           (unsigned long long)h->generation, h->chunks, s->nslot[slot]);
    uint64_t total = 0;
    for (uint32_t i = 0; i < h->chunks; i++) {
        if (!s->slot[slot][i].data || s->slot[slot][i].generation != h->generation)
            return sl_diag_set(d, SL_EPARSE, "changelog: generation %llu: chunk %u missing",
                               (unsigned long long)h->generation, i);
        total += s->slot[slot][i].len;
    }
    if (total != h->length)
        return sl_diag_set(d, SL_EPARSE, "changelog: generation %llu: %llu bytes, header says %llu",
                           (unsigned long long)h->generation, (unsigned long long)total,
                           (unsigned long long)h->length);
    char *buf = sl_malloc(total ? (size_t)total : 1);
    if (!buf)
        return sl_diag_set(d, SL_ENOMEM, "changelog: out of memory");
    size_t at = 0;
    for (uint32_t i = 0; i < h->chunks; i++) {
        if (s->slot[slot][i].len)
            memcpy(buf + at, s->slot[slot][i].data, s->slot[slot][i].len);
        at += s->slot[slot][i].len;
    }
    if (sl_hash64(buf, at) != h->checksum) {
        sl_free(buf);
        return sl_diag_set(d, SL_EPARSE, "changelog: generation %llu: checksum mismatch",
                           (unsigned long long)h->generation);
    }
    *out = buf;
    *len = at;
    return 0;
}
