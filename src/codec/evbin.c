/*
 * evbin.c — binary event batches (see evbin.h for the layout).
 *
 * DESIGN: the encoder writes into a caller's capped sl_buf and rolls back to the length it
 * started from on any error, so a refused batch leaves no partial record. The decoder reads
 * through a cursor that only ever moves forward within [p, p + n): every read checks what is
 * left first, and every count is bounded by the bytes left before anything is allocated.
 */
#include "codec/evbin.h"

#include "base/alloc.h"
#include "base/arena.h"

#include <string.h>

static const char MAGIC[4] = {'S', 'L', 'B', '1'};

/* ---------------------------------------------------------------- encoder */

struct enc {
    struct sl_buf *out;
    int err;
    /* field name -> number (1-based) for this batch: open addressing on the symbol */
    sl_sym *keys;
    uint32_t *nums;
    uint32_t cap, count;
};

/* Room for n more bytes at the end of out, or NULL (e->err set). The fast path is a
 * comparison: encoding called sl_buf_append per piece and spent a fifth of a disk-buffered
 * pipeline's time there (perf, bench/bench_diskbuf.sh). */
static inline uint8_t *room(struct enc *e, size_t n)
{
    struct sl_buf *b = e->out;
    if (e->err)
        return NULL;
    if (!b->ptr || b->cap - b->len < n + 1) {
        int rc = sl_buf_reserve(b, n);
        if (rc) {
            e->err = rc;
            return NULL;
        }
    }
    return (uint8_t *)b->ptr + b->len;
}

static inline void put(struct enc *e, const void *p, size_t n)
{
    uint8_t *d = room(e, n);
    if (!d)
        return;
    if (n)
        memcpy(d, p, n);
    e->out->len += n;
}

static inline void put_varint(struct enc *e, uint64_t v)
{
    uint8_t *d = room(e, 10);
    if (!d)
        return;
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    e->out->len += n;
}

static inline void put_u64(struct enc *e, uint64_t v)
{
    uint8_t *d = room(e, 8);
    if (!d)
        return;
    for (int i = 0; i < 8; i++)
        d[i] = (uint8_t)(v >> (8 * i));
    e->out->len += 8;
}

static void put_value(struct enc *e, const struct sl_value *v, unsigned depth)
{
    if (e->err)
        return;
    if (depth > SL_EVBIN_MAX_DEPTH) {
        e->err = SL_EDEPTH;
        return;
    }
    uint8_t hdr[2] = {v->type, v->flags};
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        put(e, hdr, 2);
        break;
    case SL_V_BOOL: {
        uint8_t b[3] = {hdr[0], hdr[1], v->u.b ? 1 : 0};
        put(e, b, 3);
        break;
    }
    case SL_V_INT:
        put(e, hdr, 2);
        put_u64(e, (uint64_t)v->u.i);
        break;
    case SL_V_TS:
        put(e, hdr, 2);
        put_u64(e, (uint64_t)v->u.ts_ns);
        break;
    case SL_V_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        put(e, hdr, 2);
        put_u64(e, bits);
        break;
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        put(e, hdr, 2);
        put_varint(e, v->len);
        put(e, v->len ? v->u.s : "", v->len);
        break;
    case SL_V_IP:
        put(e, hdr, 2);
        put(e, v->u.ip, 16);
        break;
    case SL_V_LIST:
        put(e, hdr, 2);
        put_varint(e, v->len);
        for (uint32_t i = 0; i < v->len && !e->err; i++)
            put_value(e, &v->u.list[i], depth + 1);
        break;
    case SL_V_MAP:
        put(e, hdr, 2);
        put_varint(e, v->len);
        for (uint32_t i = 0; i < v->len && !e->err; i++) {
            put_varint(e, v->u.map[i].key.len);
            put(e, v->u.map[i].key.len ? v->u.map[i].key.ptr : "", v->u.map[i].key.len);
            put_value(e, &v->u.map[i].val, depth + 1);
        }
        break;
    case SL_V_OBJECT:
    default:
        e->err = SL_ETYPE;
        break;
    }
}

/* Number of sym in this batch's name table, or 0 after adding it (the caller writes it). */
static uint32_t name_ref(struct enc *e, sl_sym sym)
{
    if (e->count * 2 >= e->cap) {
        uint32_t ncap = e->cap ? e->cap * 2 : 64;
        sl_sym *nk = sl_xcalloc(ncap, sizeof(*nk));
        uint32_t *nn = sl_xcalloc(ncap, sizeof(*nn));
        for (uint32_t i = 0; i < e->cap; i++) {
            if (!e->nums[i])
                continue;
            uint32_t h = (e->keys[i] * 2654435761u) & (ncap - 1);
            while (nn[h])
                h = (h + 1) & (ncap - 1);
            nk[h] = e->keys[i];
            nn[h] = e->nums[i];
        }
        sl_free(e->keys);
        sl_free(e->nums);
        e->keys = nk;
        e->nums = nn;
        e->cap = ncap;
    }
    uint32_t h = (sym * 2654435761u) & (e->cap - 1);
    while (e->nums[h]) {
        if (e->keys[h] == sym)
            return e->nums[h];
        h = (h + 1) & (e->cap - 1);
    }
    /* past the decoder's table cap a name is written inline every time, never numbered */
    if (e->count < SL_EVBIN_MAX_NAMES) {
        e->keys[h] = sym;
        e->nums[h] = ++e->count;
    }
    return 0;
}

int sl_evbin_encode(const struct sl_batch *b, struct sl_buf *out)
{
    return sl_evbin_encode_events(b->events, b->count, b->bytes, out);
}

int sl_evbin_encode_events(const struct sl_event *evs, uint32_t n, uint64_t bytes,
                           struct sl_buf *out)
{
    size_t start = out->len;
    struct enc e = {.out = out};
    put(&e, MAGIC, 4);
    put_varint(&e, n);
    put_varint(&e, bytes);
    for (uint32_t i = 0; i < n && !e.err; i++) {
        const struct sl_event *ev = &evs[i];
        put_u64(&e, (uint64_t)ev->ts_ns);
        put_varint(&e, ev->count);
        for (uint32_t f = 0; f < ev->count && !e.err; f++) {
            uint32_t k = name_ref(&e, ev->fields[f].sym);
            put_varint(&e, k);
            if (!k) {
                struct sl_str nm = sl_sym_name(ev->fields[f].sym);
                if (nm.len > SL_EVBIN_MAX_NAME_LEN) {
                    e.err = SL_E2BIG;
                    break;
                }
                put_varint(&e, nm.len);
                put(&e, nm.ptr, nm.len);
            }
            put_value(&e, &ev->fields[f].val, 1);
        }
    }
    sl_free(e.keys);
    sl_free(e.nums);
    if (!e.err && out->ptr)
        out->ptr[out->len] = 0; /* sl_buf's terminator (room() keeps a byte for it) */
    if (e.err) {
        out->len = start;
        if (out->ptr && out->cap > start)
            out->ptr[start] = 0;
    }
    return e.err;
}

/* ---------------------------------------------------------------- decoder */

struct dec {
    const uint8_t *base, *p, *end;
    struct sl_batch *b;
    struct sl_diag *d;
    bool view; /* strings point into the input instead of copies */
    sl_sym names[SL_EVBIN_MAX_NAMES];
    uint32_t nnames;
};

static int fail(struct dec *x, int err, const char *what)
{
    if (x->d) {
        x->d->offset = (int64_t)(x->p - x->base);
        sl_diag_set(x->d, err, "evbin: %s at byte %lld", what, (long long)(x->p - x->base));
    }
    return err;
}

static size_t left(const struct dec *x)
{
    return (size_t)(x->end - x->p);
}

static int get_varint(struct dec *x, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (x->p >= x->end)
            return fail(x, SL_EPARSE, "truncated varint");
        uint8_t c = *x->p++;
        if (shift == 63 && c > 1)
            return fail(x, SL_EPARSE, "varint overflows 64 bits");
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail(x, SL_EPARSE, "varint too long");
}

static int get_u64(struct dec *x, uint64_t *out)
{
    if (left(x) < 8)
        return fail(x, SL_EPARSE, "truncated 64-bit value");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)x->p[i] << (8 * i);
    x->p += 8;
    *out = v;
    return 0;
}

/* A length or count that needs at least `unit` bytes per item in what remains. */
static int get_count(struct dec *x, size_t unit, uint32_t *out, const char *what)
{
    uint64_t v;
    int rc = get_varint(x, &v);
    if (rc)
        return rc;
    if (v > UINT32_MAX || (unit && v > left(x) / unit))
        return fail(x, SL_EPARSE, what);
    *out = (uint32_t)v;
    return 0;
}

static int get_bytes(struct dec *x, uint32_t n, const char **out)
{
    if (n == 0) {
        *out = "";
        return 0;
    }
    if (x->view) {
        *out = (const char *)x->p;
        x->p += n;
        return 0;
    }
    char *s = sl_arena_alloc_bytes(&x->b->arena, n);
    if (!s)
        return fail(x, SL_ENOMEM, "out of memory for a string");
    memcpy(s, x->p, n);
    x->p += n;
    *out = s;
    return 0;
}

static int get_value(struct dec *x, struct sl_value *v, unsigned depth)
{
    if (depth > SL_EVBIN_MAX_DEPTH)
        return fail(x, SL_EDEPTH, "values nested too deep");
    if (left(x) < 2)
        return fail(x, SL_EPARSE, "truncated value");
    memset(v, 0, sizeof(*v));
    v->type = x->p[0];
    v->flags = x->p[1];
    x->p += 2;
    uint64_t u;
    int rc = 0;
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        if (left(x) < 1 || x->p[0] > 1)
            return fail(x, SL_EPARSE, "bad bool");
        v->u.b = *x->p++ != 0;
        return 0;
    case SL_V_INT:
    case SL_V_TS:
        if ((rc = get_u64(x, &u)) != 0)
            return rc;
        v->u.i = (int64_t)u;
        return 0;
    case SL_V_DOUBLE:
        if ((rc = get_u64(x, &u)) != 0)
            return rc;
        memcpy(&v->u.d, &u, 8);
        return 0;
    case SL_V_STRING:
    case SL_V_BYTES:
        if ((rc = get_count(x, 1, &v->len, "string longer than the input")) != 0)
            return rc;
        return get_bytes(x, v->len, &v->u.s);
    case SL_V_IP:
        if (left(x) < 16)
            return fail(x, SL_EPARSE, "truncated ip");
        memcpy(v->u.ip, x->p, 16);
        x->p += 16;
        return 0;
    case SL_V_LIST: {
        if ((rc = get_count(x, 2, &v->len, "list longer than the input")) != 0)
            return rc;
        if (!v->len)
            return 0;
        struct sl_value *items = sl_arena_alloc(&x->b->arena, (size_t)v->len * sizeof(*items));
        if (!items)
            return fail(x, SL_ENOMEM, "out of memory for a list");
        v->u.list = items;
        for (uint32_t i = 0; i < v->len; i++) {
            if ((rc = get_value(x, &items[i], depth + 1)) != 0) {
                v->len = i; /* what was decoded stays consistent */
                return rc;
            }
        }
        return 0;
    }
    case SL_V_MAP: {
        if ((rc = get_count(x, 3, &v->len, "map longer than the input")) != 0)
            return rc;
        if (!v->len)
            return 0;
        struct sl_kv *kv = sl_arena_alloc(&x->b->arena, (size_t)v->len * sizeof(*kv));
        if (!kv)
            return fail(x, SL_ENOMEM, "out of memory for a map");
        v->u.map = kv;
        for (uint32_t i = 0; i < v->len; i++) {
            uint32_t kl;
            const char *k;
            if ((rc = get_count(x, 1, &kl, "map key longer than the input")) != 0 ||
                (rc = get_bytes(x, kl, &k)) != 0 ||
                (rc = get_value(x, &kv[i].val, depth + 1)) != 0) {
                v->len = i;
                return rc;
            }
            kv[i].key = sl_str_make(k, kl);
        }
        return 0;
    }
    default:
        v->type = SL_V_NULL;
        x->p -= 2;
        return fail(x, SL_EPARSE, "unknown value type");
    }
}

static int get_name(struct dec *x, sl_sym *out)
{
    uint64_t k;
    int rc = get_varint(x, &k);
    if (rc)
        return rc;
    if (k) {
        if (k > x->nnames)
            return fail(x, SL_EPARSE, "field name number out of range");
        *out = x->names[k - 1];
        return 0;
    }
    uint32_t len;
    if ((rc = get_count(x, 1, &len, "field name longer than the input")) != 0)
        return rc;
    if (len == 0 || len > SL_EVBIN_MAX_NAME_LEN)
        return fail(x, SL_EPARSE, "field name empty or too long");
    sl_sym s = sl_sym_intern((const char *)x->p, len);
    if (!s)
        return fail(x, SL_ELIMIT, "symbol table full");
    x->p += len;
    if (x->nnames < SL_EVBIN_MAX_NAMES)
        x->names[x->nnames++] = s;
    *out = s;
    return 0;
}

static int decode(const void *p, size_t n, struct sl_batch *b, struct sl_diag *d, bool view)
{
    struct dec *x = sl_malloc(sizeof(*x));
    if (!x)
        return SL_ENOMEM;
    x->view = view;
    x->base = x->p = p;
    x->end = x->p + n;
    x->b = b;
    x->d = d;
    x->nnames = 0;
    int rc = 0;
    uint32_t count;
    uint64_t bytes;
    if (n < 4 || memcmp(p, MAGIC, 4) != 0) {
        rc = fail(x, SL_EPARSE, "not an evbin batch (magic)");
        goto out;
    }
    x->p += 4;
    if ((rc = get_count(x, 9, &count, "more events than the input holds")) != 0 ||
        (rc = get_varint(x, &bytes)) != 0)
        goto out;
    if (count > SL_EVBIN_MAX_EVENTS) {
        rc = fail(x, SL_ELIMIT, "too many events");
        goto out;
    }
    b->bytes += bytes;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t ts;
        uint32_t nf;
        if ((rc = get_u64(x, &ts)) != 0 ||
            (rc = get_count(x, 3, &nf, "more fields than the input holds")) != 0)
            goto out;
        struct sl_event *ev = sl_batch_push(b);
        if (!ev) {
            rc = fail(x, SL_ENOMEM, "out of memory for an event");
            goto out;
        }
        ev->ts_ns = (int64_t)ts;
        if (nf) {
            ev->fields = sl_arena_alloc(&b->arena, (size_t)nf * sizeof(*ev->fields));
            if (!ev->fields) {
                rc = fail(x, SL_ENOMEM, "out of memory for fields");
                goto out;
            }
            ev->cap = nf;
        }
        for (uint32_t f = 0; f < nf; f++) {
            struct sl_field *fl = &ev->fields[f];
            fl->_pad = 0;
            if ((rc = get_name(x, &fl->sym)) != 0 || (rc = get_value(x, &fl->val, 1)) != 0)
                goto out;
            ev->count = f + 1;
        }
    }
    if (x->p != x->end)
        rc = fail(x, SL_EPARSE, "trailing bytes after the last event");
out:
    sl_free(x);
    return rc;
}

int sl_evbin_decode(const void *p, size_t n, struct sl_batch *b, struct sl_diag *d)
{
    return decode(p, n, b, d, false);
}

int sl_evbin_decode_view(const void *p, size_t n, struct sl_batch *b, struct sl_diag *d)
{
    return decode(p, n, b, d, true);
}
