/*
 * parquet.c — the Parquet writer (see parquet.h for the format subset and the value mapping).
 *
 * DESIGN: a writer keeps one row group in memory, column by column, in the form it will be
 * written: PLAIN-encoded values, or dictionary indices plus the dictionary (PLAIN entries and
 * an open-addressing hash table), and definition/repetition levels as uint16 arrays (only for
 * columns that have them). Rows are shredded Dremel-style in two passes: a check pass walks the
 * value against the schema and rejects with a field path and reason without touching any
 * column, then the emit pass appends levels and values (it can only fail on memory or I/O, and
 * such a failure fails the writer). That keeps statistics and dictionaries exact: a rejected
 * row leaves no trace.
 *
 * When the estimate of buffered bytes passes row_group_bytes the row group is written: per
 * column an optional dictionary page (PLAIN) and data pages v1 cut by levels and bytes at row
 * boundaries (repetition level 0), each page compressed as one block. A dictionary that grows
 * past its bound turns the column chunk back to PLAIN (the indices are expanded in place); the
 * next row group tries a dictionary again. The footer (FileMetaData) is Thrift compact
 * protocol, written by codec/thrift_compact.c.
 */
#include "codec/parquet.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "codec/json.h"
#include "codec/parquet_int.h"
#include "codec/thrift_compact.h"
#include "sys/fdio.h"

#include <math.h>
#include <stdarg.h>
#include <snappy-c.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* Parquet enums (parquet.thrift) */
enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_DOUBLE = 5, PT_BYTE_ARRAY = 6, PT_FLBA = 7 };
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };

#define MAX_VALUE_LEN   ((size_t)16 << 20) /* one byte-array value */
#define MAX_ROW_LEN     ((size_t)64 << 20) /* all byte-array values of one row */
#define COL_BUF_MAX     ((size_t)2 << 30)
#define STAT_MAX_LEN    64 /* byte-array bounds longer than this are left out */
#define INFER_ARENA_MAX ((size_t)1 << 31)

struct pq_stats {
    bool has;
    int64_t imin, imax;
    double dmin, dmax;
    struct sl_buf smin, smax;
    uint64_t pmin, pmax; /* big-endian first 8 bytes of smin/smax, zero-padded */
    uint64_t nulls, nans;
};

struct pq_col {
    const struct pq_node *node;
    uint8_t kind, phys;
    bool uns;       /* unsigned integer order */
    bool dictable;  /* strings and integers */
    uint32_t width; /* fixed-width plain size (0: byte array) */
    uint16_t max_def, max_rep;
    uint16_t *def, *rep;
    size_t nlev, cap_lev;
    /* every level so far is (rep 0, def max_def): def/rep hold nothing yet. Most columns of
     * most logs are optional and never null; their levels cost a counter. */
    bool lev_dense;
    size_t nvals;
    struct sl_buf plain;
    bool dict_on;
    uint32_t *idx;
    size_t cap_idx;
    struct sl_buf dict;
    uint32_t *dict_off; /* byte arrays: offset of each entry in dict */
    uint32_t ndict, cap_doff;
    uint64_t *slots; /* hash << 32 | (entry + 1); 0 empty */
    uint32_t nslots;
    struct pq_stats st;
    char **path; /* path_in_schema */
    uint32_t npath;
};

struct pq_chunk_meta {
    int64_t data_off, dict_off; /* dict_off < 0: none */
    int64_t num_values, usize, csize;
    bool dict;
    bool has_minmax;
    uint8_t minlen, maxlen;
    char min[STAT_MAX_LEN], max[STAT_MAX_LEN];
    int64_t nulls, nans;
};

struct pq_rg_meta {
    int64_t rows, usize, csize, file_off;
    struct pq_chunk_meta *chunks;
};

struct pq_kv {
    char *key, *val;
};

struct sl_pq_writer {
    struct sl_pq_schema *schema; /* NULL while inferring */
    struct sl_pq_opts o;
    sl_pq_write_fn fn;
    void *ctx;
    int failed;
    bool closed;
    uint64_t offset; /* bytes written */
    uint64_t rows, rg_rows;
    uint64_t buffered;
    struct pq_col *cols;
    uint32_t ncols;
    sl_sym *top_syms;
    const struct sl_value **vals; /* scratch: one per top-level field */
    struct pq_rg_meta *rgs;
    uint32_t nrg, cap_rg;
    struct pq_kv *kvs;
    uint32_t nkv;
    struct sl_buf scratch; /* rendered text of one value */
    struct sl_buf page, cpage, hdr;
    uint32_t *tmp;
    size_t cap_tmp;
    size_t row_bytes; /* check pass: byte-array bytes of the current row */
    ZSTD_CCtx *zstd;
    /* inference */
    struct sl_arena infer_arena;
    struct sl_value *infer_rows;
    size_t ninfer, cap_infer;
    uint64_t late_rejects;
};

/* ---------------------------------------------------------------- small helpers */

static void put_le32(char *p, uint32_t v)
{
    p[0] = (char)v;
    p[1] = (char)(v >> 8);
    p[2] = (char)(v >> 16);
    p[3] = (char)(v >> 24);
}

static uint32_t get_le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static unsigned bit_width(uint32_t max)
{
    unsigned b = 0;
    while (max) {
        b++;
        max >>= 1;
    }
    return b;
}

static int out_write(struct sl_pq_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return w->failed;
    int rc = n ? w->fn(w->ctx, p, n) : 0;
    if (rc)
        w->failed = rc;
    else
        w->offset += n;
    return rc;
}

int sl_pq_write_fd(void *ctx, const void *p, size_t n)
{
    return sl_fd_write_all(*(int *)ctx, p, n);
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time: IPs, uids and states are ASCII */
        if (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < k + 1)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* ---------------------------------------------------------------- RLE / bit-packed hybrid */

/* Append the RLE/bit-packed hybrid encoding of v[0..n) with bit width bw (1..32). */
static int rle_encode(struct sl_buf *out, const uint32_t *v, size_t n, unsigned bw)
{
    unsigned vbytes = (bw + 7) / 8;
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        size_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        if (j - i >= 8) {
            uint8_t hdr[16];
            size_t h = 0;
            uint64_t x = (uint64_t)(j - i) << 1;
            while (x >= 0x80) {
                hdr[h++] = (uint8_t)(x | 0x80);
                x >>= 7;
            }
            hdr[h++] = (uint8_t)x;
            for (unsigned b = 0; b < vbytes; b++)
                hdr[h++] = (uint8_t)(v[i] >> (8 * b));
            rc = sl_buf_append(out, hdr, h);
            i = j;
            continue;
        }
        /* bit-packed groups of 8 until a run of >= 8 starts at a group boundary */
        size_t start = i, groups = 0;
        for (;;) {
            groups++;
            i += 8;
            if (i >= n || groups >= 63)
                break;
            size_t k = i + 1;
            while (k < n && k - i < 8 && v[k] == v[i])
                k++;
            if (k - i >= 8)
                break;
        }
        uint8_t hdr = (uint8_t)((groups << 1) | 1);
        rc = sl_buf_append(out, &hdr, 1);
        if (rc || (rc = sl_buf_reserve(out, groups * bw + 8)) != 0)
            break;
        uint64_t acc = 0;
        unsigned nbits = 0;
        unsigned char *p = (unsigned char *)out->ptr + out->len;
        for (size_t k = start; k < start + groups * 8; k++) {
            uint64_t x = k < n ? v[k] : 0;
            acc |= x << nbits;
            nbits += bw;
            while (nbits >= 8) {
                *p++ = (unsigned char)acc;
                acc >>= 8;
                nbits -= 8;
            }
        }
        out->len += groups * bw;
        if (i > n)
            i = n;
    }
    return rc;
}

/* ---------------------------------------------------------------- columns */

static uint8_t phys_of(enum sl_pq_kind k)
{
    switch (k) {
    case SL_PQ_BOOL:
        return PT_BOOLEAN;
    case SL_PQ_INT8:
    case SL_PQ_INT16:
    case SL_PQ_INT32:
    case SL_PQ_UINT8:
    case SL_PQ_UINT16:
    case SL_PQ_UINT32:
    case SL_PQ_DATE:
        return PT_INT32;
    case SL_PQ_INT64:
    case SL_PQ_UINT64:
    case SL_PQ_TS_US:
    case SL_PQ_TS_NS:
        return PT_INT64;
    case SL_PQ_DOUBLE:
        return PT_DOUBLE;
    case SL_PQ_FIXED:
        return PT_FLBA;
    default:
        return PT_BYTE_ARRAY;
    }
}

static void stats_init(struct pq_stats *st)
{
    memset(st, 0, sizeof(*st));
    sl_buf_init(&st->smin, MAX_VALUE_LEN);
    sl_buf_init(&st->smax, MAX_VALUE_LEN);
}

static void stats_reset(struct pq_stats *st)
{
    st->has = false;
    st->nulls = st->nans = 0;
    sl_buf_reset(&st->smin);
    sl_buf_reset(&st->smax);
}

static void col_reset(struct pq_col *c)
{
    c->nlev = c->nvals = 0;
    c->lev_dense = true;
    sl_buf_reset(&c->plain);
    sl_buf_reset(&c->dict);
    c->ndict = 0;
    c->dict_on = c->dictable;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof(*c->slots));
    stats_reset(&c->st);
}

static void col_fini(struct pq_col *c)
{
    sl_free(c->def);
    sl_free(c->rep);
    sl_buf_fini(&c->plain);
    sl_free(c->idx);
    sl_buf_fini(&c->dict);
    sl_free(c->dict_off);
    sl_free(c->slots);
    sl_buf_fini(&c->st.smin);
    sl_buf_fini(&c->st.smax);
    for (uint32_t i = 0; i < c->npath; i++)
        sl_free(c->path[i]);
    sl_free(c->path);
}

/* Levels stop being dense: write out the implied ones. */
static int lev_materialize(struct pq_col *c)
{
    size_t cap = c->cap_lev ? c->cap_lev : 1024;
    while (cap <= c->nlev)
        cap *= 2;
    uint16_t *nd = sl_realloc(c->def, cap * sizeof(uint16_t));
    if (!nd)
        return SL_ENOMEM;
    c->def = nd;
    if (c->max_rep) {
        uint16_t *nr = sl_realloc(c->rep, cap * sizeof(uint16_t));
        if (!nr)
            return SL_ENOMEM;
        c->rep = nr;
        memset(c->rep, 0, c->nlev * sizeof(uint16_t));
    }
    c->cap_lev = cap;
    for (size_t i = 0; i < c->nlev; i++)
        c->def[i] = c->max_def;
    c->lev_dense = false;
    return 0;
}

static int push_level(struct pq_col *c, uint16_t r, uint16_t d)
{
    if (!c->max_def && !c->max_rep)
        return 0;
    if (c->lev_dense) {
        if (r == 0 && d == c->max_def) {
            c->nlev++;
            return 0;
        }
        int rc = lev_materialize(c);
        if (rc)
            return rc;
    }
    if (__builtin_expect(c->nlev == c->cap_lev, 0)) {
        size_t cap = c->cap_lev ? c->cap_lev * 2 : 1024;
        uint16_t *nd = sl_realloc(c->def, cap * sizeof(uint16_t));
        if (!nd)
            return SL_ENOMEM;
        c->def = nd;
        if (c->max_rep) {
            uint16_t *nr = sl_realloc(c->rep, cap * sizeof(uint16_t));
            if (!nr)
                return SL_ENOMEM;
            c->rep = nr;
        }
        c->cap_lev = cap;
    }
    c->def[c->nlev] = d;
    if (c->max_rep)
        c->rep[c->nlev] = r;
    c->nlev++;
    return 0;
}

/* Dictionary entry e as its PLAIN bytes. */
static struct sl_str dict_entry(const struct pq_col *c, uint32_t e)
{
    if (c->width)
        return sl_str_make(c->dict.ptr + (size_t)e * c->width, c->width);
    const char *p = c->dict.ptr + c->dict_off[e];
    return sl_str_make(p, 4 + (size_t)get_le32(p));
}

/* Expand indices back to PLAIN values and stop using the dictionary for this chunk. */
static int dict_fallback(struct sl_pq_writer *w, struct pq_col *c)
{
    sl_buf_reset(&c->plain);
    if (c->width) {
        int rc = sl_buf_reserve(&c->plain, c->nvals * c->width);
        if (rc)
            return rc;
        char *o = c->plain.ptr;
        const char *d = c->dict.ptr;
        if (c->width == 8) {
            for (size_t i = 0; i < c->nvals; i++)
                memcpy(o + i * 8, d + (size_t)c->idx[i] * 8, 8);
        } else {
            for (size_t i = 0; i < c->nvals; i++)
                memcpy(o + i * 4, d + (size_t)c->idx[i] * 4, 4);
        }
        c->plain.len = c->nvals * c->width;
    } else {
        for (size_t i = 0; i < c->nvals; i++) {
            struct sl_str e = dict_entry(c, c->idx[i]);
            int rc = sl_buf_append(&c->plain, e.ptr, e.len);
            if (rc)
                return rc;
        }
    }
    w->buffered += c->plain.len;
    w->buffered -= c->dict.len < w->buffered ? c->dict.len : w->buffered;
    c->dict_on = false;
    sl_buf_reset(&c->dict);
    c->ndict = 0;
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof(*c->slots));
    return 0;
}

/*
 * Slots hold (32-bit hash << 32) | (entry + 1), 0 empty: a probe compares the stored hash
 * before it touches the entry, and growing the table re-places slots without re-hashing or
 * reading entries. This and the integer hash below took the dictionary from ~60% of the
 * writer's profile (bench_parquet, xxh3 + memcmp on every probe) to a few percent.
 */
static int dict_grow(struct pq_col *c)
{
    uint32_t n = c->nslots ? c->nslots * 2 : 1024;
    uint64_t *s = sl_calloc(n, sizeof(*s));
    if (!s)
        return SL_ENOMEM;
    uint32_t m = n - 1;
    for (uint32_t j = 0; j < c->nslots; j++) {
        uint64_t x = c->slots[j];
        if (!x)
            continue;
        uint32_t i = (uint32_t)(x >> 32) & m;
        while (s[i])
            i = (i + 1) & m;
        s[i] = x;
    }
    sl_free(c->slots);
    c->slots = s;
    c->nslots = n;
    return 0;
}

static inline uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

static inline uint32_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = sl_hash64(p, n);
    return (uint32_t)(h ^ (h >> 32));
}

/*
 * A column chunk whose first DICT_PROBE_VALUES values are more than half distinct goes PLAIN
 * at that point instead of filling its dictionary (ts, uid, IPs, ports, byte counters in
 * Zeek's conn log). Such a dictionary saves little (a 16-bit index against a 4-byte port, the
 * entries stored once more) and costs a cache miss or two per value once its table outgrows
 * L2: with it, probing was ~45% of bench_parquet's writer time. DuckDB's writer makes the
 * same choice for those columns (PLAIN), so files stay within a few percent of its size.
 */
#define DICT_PROBE_VALUES 32768
/* ... and one whose first 4,096 are more than 90% distinct does so then: the probe phase of
 * ts, uid and IPs, each row group, was most of the remaining dictionary misses. */
#define DICT_PROBE_EARLY 4096

static int push_index(struct sl_pq_writer *w, struct pq_col *c, uint32_t e)
{
    if (c->nvals == c->cap_idx) {
        size_t cap = c->cap_idx ? c->cap_idx * 2 : 1024;
        uint32_t *ni = sl_realloc(c->idx, cap * sizeof(*ni));
        if (!ni)
            return SL_ENOMEM;
        c->idx = ni;
        c->cap_idx = cap;
    }
    c->idx[c->nvals++] = e;
    w->buffered += 4;
    if ((c->nvals == DICT_PROBE_EARLY && (uint64_t)c->ndict * 10 > (uint64_t)c->nvals * 9) ||
        (c->nvals == DICT_PROBE_VALUES && (uint64_t)c->ndict * 2 > c->nvals))
        return dict_fallback(w, c);
    return 0;
}

/* Room for one more entry in the slots; false when the dictionary is full (fall back). */
static int dict_room(struct sl_pq_writer *w, struct pq_col *c, size_t n, bool *full)
{
    *full = c->ndict >= w->o.dict_max_count || c->dict.len + n > w->o.dict_max_bytes;
    if (!*full && (c->ndict + 1) * 2 > c->nslots)
        return dict_grow(c);
    return 0;
}

/*
 * Dictionary lookup of a fixed-width value (x: its PLAIN bytes as a little-endian integer,
 * width 4 or 8). Returns 1 (added: statistics must see it), 0 (known), 2 (the dictionary is
 * full: the caller falls back to PLAIN) or a negative error.
 */
static int dict_put_fixed(struct sl_pq_writer *w, struct pq_col *c, uint64_t x)
{
    if (!c->nslots) {
        int rc = dict_grow(c);
        if (rc)
            return rc;
    }
    uint32_t h = hash_u64(x), m = c->nslots - 1, i = h & m;
    uint64_t tag = (uint64_t)h << 32, sv;
    const char *d = c->dict.ptr;
    while ((sv = c->slots[i]) != 0) {
        if ((sv & 0xffffffff00000000ULL) == tag) {
            uint32_t e = (uint32_t)sv - 1;
            uint64_t y;
            if (c->width == 8) {
                memcpy(&y, d + (size_t)e * 8, 8);
            } else {
                uint32_t y4;
                memcpy(&y4, d + (size_t)e * 4, 4);
                y = y4;
            }
            if (y == x) {
                int rc = push_index(w, c, e);
                return rc ? rc : 0;
            }
        }
        i = (i + 1) & m;
    }
    bool full;
    int rc = dict_room(w, c, c->width, &full);
    if (rc || full)
        return rc ? rc : 2;
    if (c->nslots != m + 1) { /* grown: find the free slot again */
        m = c->nslots - 1;
        for (i = h & m; c->slots[i]; i = (i + 1) & m)
            ;
    }
    if ((rc = sl_buf_reserve(&c->dict, 8)) != 0)
        return rc;
    uint8_t b[8];
    for (unsigned k = 0; k < 8; k++)
        b[k] = (uint8_t)(x >> (8 * k));
    memcpy(c->dict.ptr + c->dict.len, b, c->width);
    c->dict.len += c->width;
    w->buffered += c->width;
    uint32_t e = c->ndict++;
    c->slots[i] = tag | (e + 1);
    rc = push_index(w, c, e);
    return rc ? rc : 1;
}

/* As dict_put_fixed for a byte array (the bytes without their length prefix). */
static int dict_put_bytes(struct sl_pq_writer *w, struct pq_col *c, const char *p, size_t n)
{
    if (!c->nslots) {
        int rc = dict_grow(c);
        if (rc)
            return rc;
    }
    uint32_t h = hash_bytes(p, n), m = c->nslots - 1, i = h & m;
    uint64_t tag = (uint64_t)h << 32, sv;
    while ((sv = c->slots[i]) != 0) {
        if ((sv & 0xffffffff00000000ULL) == tag) {
            uint32_t e = (uint32_t)sv - 1;
            const char *q = c->dict.ptr + c->dict_off[e];
            if (get_le32(q) == n && !memcmp(q + 4, p, n)) {
                int rc = push_index(w, c, e);
                return rc ? rc : 0;
            }
        }
        i = (i + 1) & m;
    }
    bool full;
    int rc = dict_room(w, c, 4 + n, &full);
    if (rc || full)
        return rc ? rc : 2;
    if (c->nslots != m + 1) {
        m = c->nslots - 1;
        for (i = h & m; c->slots[i]; i = (i + 1) & m)
            ;
    }
    if (c->ndict == c->cap_doff) {
        uint32_t cap = c->cap_doff ? c->cap_doff * 2 : 256;
        uint32_t *no = sl_realloc(c->dict_off, cap * sizeof(*no));
        if (!no)
            return SL_ENOMEM;
        c->dict_off = no;
        c->cap_doff = cap;
    }
    if ((rc = sl_buf_reserve(&c->dict, 4 + n)) != 0)
        return rc;
    c->dict_off[c->ndict] = (uint32_t)c->dict.len;
    put_le32(c->dict.ptr + c->dict.len, (uint32_t)n);
    if (n)
        memcpy(c->dict.ptr + c->dict.len + 4, p, n);
    c->dict.len += 4 + n;
    w->buffered += 4 + n;
    uint32_t e = c->ndict++;
    c->slots[i] = tag | (e + 1);
    rc = push_index(w, c, e);
    return rc ? rc : 1;
}

/* Append PLAIN bytes to a column without dictionary. */
static inline __attribute__((always_inline)) int plain_put(struct sl_pq_writer *w, struct pq_col *c,
                                                           const void *p, size_t n)
{
    if (c->plain.cap - c->plain.len <= n) {
        int rc = sl_buf_reserve(&c->plain, n);
        if (rc)
            return rc;
    }
    memcpy(c->plain.ptr + c->plain.len, p, n);
    c->plain.len += n;
    c->nvals++;
    w->buffered += n;
    return 0;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an < bn ? -1 : an > bn);
}

static int set_buf(struct sl_buf *b, const char *p, size_t n)
{
    sl_buf_reset(b);
    return sl_buf_append(b, p, n);
}

static int put_int(struct sl_pq_writer *w, struct pq_col *c, int64_t v)
{
    uint64_t x = c->width == 4 ? (uint64_t)(uint32_t)v : (uint64_t)v;
    int rc = 2; /* 2: not stored yet (no dictionary, or it is full) */
    if (c->dict_on) {
        rc = dict_put_fixed(w, c, x);
        if (rc == 2 && (rc = dict_fallback(w, c)) == 0)
            rc = 2;
        if (rc <= 0)
            return rc;
    }
    if (rc == 2) {
        uint8_t b[8];
        for (unsigned i = 0; i < 8; i++)
            b[i] = (uint8_t)(x >> (8 * i));
        /* constant sizes: a variable one was a libc memcpy call per value */
        if ((rc = c->width == 8 ? plain_put(w, c, b, 8) : plain_put(w, c, b, 4)) != 0)
            return rc;
    }
    if (c->width == 4)
        v = c->uns ? (int64_t)(uint32_t)v : (int64_t)(int32_t)v;
    if (!c->st.has) {
        c->st.imin = c->st.imax = v;
        c->st.has = true;
    } else if (c->uns) {
        if ((uint64_t)v < (uint64_t)c->st.imin)
            c->st.imin = v;
        if ((uint64_t)v > (uint64_t)c->st.imax)
            c->st.imax = v;
    } else {
        if (v < c->st.imin)
            c->st.imin = v;
        if (v > c->st.imax)
            c->st.imax = v;
    }
    return 0;
}

static int put_double(struct sl_pq_writer *w, struct pq_col *c, double d)
{
    int rc = plain_put(w, c, &d, 8);
    if (rc)
        return rc;
    if (isnan(d)) {
        c->st.nans++;
        return 0;
    }
    if (!c->st.has) {
        c->st.dmin = c->st.dmax = d;
        c->st.has = true;
    } else {
        if (d < c->st.dmin)
            c->st.dmin = d;
        if (d > c->st.dmax)
            c->st.dmax = d;
    }
    return 0;
}

static int put_bool(struct sl_pq_writer *w, struct pq_col *c, bool v)
{
    char b = v ? 1 : 0;
    int rc = plain_put(w, c, &b, 1);
    if (rc)
        return rc;
    if (!c->st.has) {
        c->st.imin = c->st.imax = v;
        c->st.has = true;
    } else {
        if (v < c->st.imin)
            c->st.imin = v;
        if (v > c->st.imax)
            c->st.imax = v;
    }
    return 0;
}

/* First 8 bytes as a big-endian integer, zero-padded: where two prefixes differ they order
 * their byte strings as memcmp-then-length does, so bounds cost no memcmp call per value. */
static inline uint64_t be_prefix(const char *p, size_t n)
{
    uint64_t x = 0;
    if (n >= 8)
        memcpy(&x, p, 8);
    else if (n)
        memcpy(&x, p, n);
    return __builtin_bswap64(x);
}

static int put_bytes(struct sl_pq_writer *w, struct pq_col *c, const char *p, size_t n)
{
    int rc;
    if (c->width) { /* FIXED: never a dictionary */
        if ((rc = plain_put(w, c, p, n)) != 0)
            return rc;
        rc = 1;
    } else {
        rc = 2; /* as in put_int */
        if (c->dict_on) {
            rc = dict_put_bytes(w, c, p, n);
            if (rc == 2 && (rc = dict_fallback(w, c)) == 0)
                rc = 2;
        }
        if (rc == 2) {
            /* PLAIN form: length prefix + bytes */
            if (c->plain.cap - c->plain.len <= 4 + n && (rc = sl_buf_reserve(&c->plain, 4 + n)))
                return rc;
            put_le32(c->plain.ptr + c->plain.len, (uint32_t)n);
            if (n)
                memcpy(c->plain.ptr + c->plain.len + 4, p, n);
            c->plain.len += 4 + n;
            c->nvals++;
            w->buffered += 4 + n;
            rc = 1;
        }
    }
    if (rc <= 0)
        return rc;
    uint64_t pv = be_prefix(p, n);
    if (!c->st.has) {
        c->st.has = true;
        c->st.pmin = c->st.pmax = pv;
        if ((rc = set_buf(&c->st.smin, p, n)) != 0 || (rc = set_buf(&c->st.smax, p, n)) != 0)
            return rc;
    } else {
        if ((pv < c->st.pmin ||
             (pv == c->st.pmin && cmp_bytes(p, n, c->st.smin.ptr, c->st.smin.len) < 0))) {
            c->st.pmin = pv;
            if ((rc = set_buf(&c->st.smin, p, n)) != 0)
                return rc;
        }
        if ((pv > c->st.pmax ||
             (pv == c->st.pmax && cmp_bytes(p, n, c->st.smax.ptr, c->st.smax.len) > 0))) {
            c->st.pmax = pv;
            if ((rc = set_buf(&c->st.smax, p, n)) != 0)
                return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- value conversion */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool int_range(enum sl_pq_kind k, int64_t v)
{
    switch (k) {
    case SL_PQ_INT8:
        return v >= INT8_MIN && v <= INT8_MAX;
    case SL_PQ_INT16:
        return v >= INT16_MIN && v <= INT16_MAX;
    case SL_PQ_INT32:
    case SL_PQ_DATE:
        return v >= INT32_MIN && v <= INT32_MAX;
    case SL_PQ_UINT8:
        return v >= 0 && v <= UINT8_MAX;
    case SL_PQ_UINT16:
        return v >= 0 && v <= UINT16_MAX;
    case SL_PQ_UINT32:
        return v >= 0 && v <= (int64_t)UINT32_MAX;
    case SL_PQ_UINT64:
        return v >= 0;
    default:
        return true;
    }
}

/* Seconds (double) to the column's unit; false when out of range or not finite. */
static bool secs_to_unit(double s, int64_t per_sec, int64_t *out)
{
    double x = floor(s * (double)per_sec + 0.5);
    if (!isfinite(x) || x < -9.2e18 || x > 9.2e18)
        return false;
    *out = (int64_t)x;
    return true;
}

/* Text of a scalar for a string column (in w->scratch, or the value's own bytes). */
static int text_of(struct sl_pq_writer *w, const struct pq_col *c, const struct sl_value *v,
                   struct sl_str *out)
{
    if (c->kind == SL_PQ_JSON) {
        sl_buf_reset(&w->scratch);
        int rc = sl_json_write_value(&w->scratch, v);
        *out = sl_str_make(w->scratch.ptr ? w->scratch.ptr : "", w->scratch.len);
        return rc;
    }
    if (v->type == SL_V_STRING || v->type == SL_V_BYTES) {
        *out = sl_value_as_str(v);
        return 0;
    }
    sl_buf_reset(&w->scratch);
    *out = sl_value_to_text(v, &w->scratch);
    return 0;
}

static int reject(struct sl_pq_reject *rej, const char *field, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reject(struct sl_pq_reject *rej, const char *field, int rc, const char *fmt, ...)
{
    if (rej) {
        snprintf(rej->field, sizeof(rej->field), "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rej->reason, sizeof(rej->reason), fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Prefix the path of a rejection with a parent's name: "a" + "b" -> "a.b"; a list's element
 * (its own name dropped) -> "a[3]", "a[3].b". */
static void reject_prefix(struct sl_pq_reject *rej, const char *name, int64_t index)
{
    if (!rej)
        return;
    char tmp[512];
    const char *rest = rej->field;
    if (index >= 0) {
        if (!strncmp(rest, "element", 7))
            rest += 7;
        snprintf(tmp, sizeof(tmp), "%s[%lld]%s", name, (long long)index, rest);
    } else {
        snprintf(tmp, sizeof(tmp), "%s.%s", name, rest);
    }
    sl_str_copy(rej->field, sizeof(rej->field), sl_str_c(tmp));
}

/* Check pass for a leaf: can v go into column c? */
static int check_leaf(struct sl_pq_writer *w, const struct pq_col *c, const struct sl_value *v,
                      struct sl_pq_reject *rej)
{
    enum sl_pq_kind k = c->kind;
    const char *name = c->node->name;
#define vt sl_vtype_name((enum sl_vtype)v->type) /* only on the reject paths */
    switch (k) {
    case SL_PQ_BOOL:
        if (v->type != SL_V_BOOL)
            return reject(rej, name, SL_ETYPE, "%s value for a bool column", vt);
        return 0;
    case SL_PQ_DOUBLE:
        if (v->type != SL_V_DOUBLE && v->type != SL_V_INT)
            return reject(rej, name, SL_ETYPE, "%s value for a double column", vt);
        return 0;
    case SL_PQ_TS_US:
    case SL_PQ_TS_NS: {
        int64_t x;
        if (v->type == SL_V_TS)
            return 0;
        if (v->type == SL_V_DOUBLE || v->type == SL_V_INT) {
            double s = v->type == SL_V_INT ? (double)v->u.i : v->u.d;
            if (!secs_to_unit(s, k == SL_PQ_TS_US ? 1000000 : 1000000000, &x))
                return reject(rej, name, SL_ERANGE, "timestamp out of range");
            return 0;
        }
        return reject(rej, name, SL_ETYPE, "%s value for a timestamp column", vt);
    }
    case SL_PQ_DATE:
        if (v->type == SL_V_TS)
            return 0;
        if (v->type == SL_V_INT && int_range(k, v->u.i))
            return 0;
        return reject(rej, name, v->type == SL_V_INT ? SL_ERANGE : SL_ETYPE,
                      "%s value for a date column%s", vt,
                      v->type == SL_V_INT ? " (out of range)" : "");
    case SL_PQ_STRING:
    case SL_PQ_JSON: {
        if (k == SL_PQ_STRING && (v->type == SL_V_LIST || v->type == SL_V_MAP ||
                                  v->type == SL_V_OBJECT || v->type == SL_V_BYTES))
            return reject(rej, name, SL_ETYPE, "%s value for a string column", vt);
        struct sl_str t;
        int rc = text_of(w, c, v, &t);
        if (rc)
            return reject(rej, name, rc, "cannot render value: %s", sl_strerror(rc));
        if (t.len > MAX_VALUE_LEN || (w->row_bytes += t.len) > MAX_ROW_LEN)
            return reject(rej, name, SL_E2BIG, "value too large (%zu bytes)", t.len);
        if (!utf8_valid((const unsigned char *)t.ptr, t.len))
            return reject(rej, name, SL_EUTF8, "invalid UTF-8");
        return 0;
    }
    case SL_PQ_BYTES:
    case SL_PQ_FIXED:
        if (v->type != SL_V_STRING && v->type != SL_V_BYTES)
            return reject(rej, name, SL_ETYPE, "%s value for a bytes column", vt);
        if (k == SL_PQ_FIXED && v->len != c->node->fixed_len)
            return reject(rej, name, SL_ERANGE, "%u bytes for a fixed(%u) column", v->len,
                          c->node->fixed_len);
        if (v->len > MAX_VALUE_LEN || (w->row_bytes += v->len) > MAX_ROW_LEN)
            return reject(rej, name, SL_E2BIG, "value too large (%u bytes)", v->len);
        return 0;
    default: /* integers */
        if (v->type != SL_V_INT)
            return reject(rej, name, SL_ETYPE, "%s value for an %s column", vt, sl_pq_kind_name(k));
        if (!int_range(k, v->u.i))
            return reject(rej, name, SL_ERANGE, "%lld out of range for %s", (long long)v->u.i,
                          sl_pq_kind_name(k));
        return 0;
    }
}

#undef vt

static int emit_leaf(struct sl_pq_writer *w, struct pq_col *c, const struct sl_value *v)
{
    switch (c->kind) {
    case SL_PQ_BOOL:
        return put_bool(w, c, v->u.b);
    case SL_PQ_DOUBLE:
        return put_double(w, c, v->type == SL_V_INT ? (double)v->u.i : v->u.d);
    case SL_PQ_TS_US:
    case SL_PQ_TS_NS: {
        int64_t per = c->kind == SL_PQ_TS_US ? 1000000 : 1000000000;
        int64_t x = 0;
        if (v->type == SL_V_TS)
            x = c->kind == SL_PQ_TS_US ? floor_div(v->u.ts_ns, 1000) : v->u.ts_ns;
        else
            secs_to_unit(v->type == SL_V_INT ? (double)v->u.i : v->u.d, per, &x);
        return put_int(w, c, x);
    }
    case SL_PQ_DATE:
        return put_int(w, c,
                       v->type == SL_V_TS ? floor_div(v->u.ts_ns, 86400LL * 1000000000LL) : v->u.i);
    case SL_PQ_STRING:
    case SL_PQ_JSON: {
        struct sl_str t;
        int rc = text_of(w, c, v, &t);
        return rc ? rc : put_bytes(w, c, t.ptr, t.len);
    }
    case SL_PQ_BYTES:
    case SL_PQ_FIXED:
        return put_bytes(w, c, v->len ? v->u.s : "", v->len);
    default:
        return put_int(w, c, v->u.i);
    }
}

static bool is_null(const struct sl_value *v)
{
    return !v || v->type == SL_V_NULL;
}

static int check_node(struct sl_pq_writer *w, int id, const struct sl_value *v,
                      struct sl_pq_reject *rej)
{
    const struct sl_pq_schema *s = w->schema;
    const struct pq_node *n = &s->nodes[id];
    if (is_null(v)) {
        if (!n->optional)
            return reject(rej, n->name, SL_ETYPE, "missing or null value for a required field");
        return 0;
    }
    if (n->kind == SL_PQ_GROUP) {
        if (v->type != SL_V_MAP)
            return reject(rej, n->name, SL_ETYPE, "%s value for a group",
                          sl_vtype_name((enum sl_vtype)v->type));
        for (uint32_t i = 0; i < n->nkids; i++) {
            const struct pq_node *k = &s->nodes[n->kids[i]];
            int rc = check_node(w, n->kids[i], sl_value_map_get(v, sl_str_c(k->name)), rej);
            if (rc) {
                reject_prefix(rej, n->name, -1);
                return rc;
            }
        }
        return 0;
    }
    if (n->kind == SL_PQ_LIST) {
        if (v->type != SL_V_LIST)
            return reject(rej, n->name, SL_ETYPE, "%s value for a list",
                          sl_vtype_name((enum sl_vtype)v->type));
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = check_node(w, n->kids[0], &v->u.list[i], rej);
            if (rc) {
                reject_prefix(rej, n->name, i);
                return rc;
            }
        }
        return 0;
    }
    return check_leaf(w, &w->cols[n->col], v, rej);
}

/* Null (or empty list) at level d for every leaf under node id. */
static int emit_nulls(struct sl_pq_writer *w, int id, uint16_t r, uint16_t d)
{
    const struct pq_node *n = &w->schema->nodes[id];
    if (n->col >= 0) {
        struct pq_col *c = &w->cols[n->col];
        c->st.nulls++;
        w->buffered += 2;
        return push_level(c, r, d);
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = emit_nulls(w, n->kids[i], r, d);
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_node(struct sl_pq_writer *w, int id, const struct sl_value *v, uint16_t r,
                     uint16_t pdef)
{
    const struct pq_node *n = &w->schema->nodes[id];
    if (is_null(v))
        return emit_nulls(w, id, r, pdef);
    if (n->kind == SL_PQ_GROUP) {
        for (uint32_t i = 0; i < n->nkids; i++) {
            const struct pq_node *k = &w->schema->nodes[n->kids[i]];
            int rc = emit_node(w, n->kids[i], sl_value_map_get(v, sl_str_c(k->name)), r, n->def);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (n->kind == SL_PQ_LIST) {
        if (!v->len)
            return emit_nulls(w, id, r, n->def);
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = emit_node(w, n->kids[0], &v->u.list[i], i ? (uint16_t)(n->rep + 1) : r,
                               (uint16_t)(n->def + 1));
            if (rc)
                return rc;
        }
        return 0;
    }
    struct pq_col *c = &w->cols[n->col];
    int rc = push_level(c, r, n->def);
    if (!rc) {
        w->buffered += 2;
        rc = emit_leaf(w, c, v);
    }
    return rc;
}

/* ---------------------------------------------------------------- pages and chunks */

static int compress_page(struct sl_pq_writer *w, const char *p, size_t n, struct sl_buf *out)
{
    sl_buf_reset(out);
    switch (w->o.codec) {
    case SL_PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        int rc = sl_buf_reserve(out, cap);
        if (rc)
            return rc;
        size_t len = cap;
        if (snappy_compress(p, n, out->ptr, &len) != SNAPPY_OK)
            return SL_EIO;
        out->len = len;
        return 0;
    }
    case SL_PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        int rc = sl_buf_reserve(out, cap);
        if (rc)
            return rc;
        if (!w->zstd && !(w->zstd = ZSTD_createCCtx()))
            return SL_ENOMEM;
        size_t len = ZSTD_compressCCtx(w->zstd, out->ptr, cap, p, n, w->o.zstd_level);
        if (ZSTD_isError(len))
            return SL_EIO;
        out->len = len;
        return 0;
    }
    case SL_PQ_CODEC_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return SL_ENOMEM;
        size_t cap = deflateBound(&z, (uLong)n) + 32;
        int rc = sl_buf_reserve(out, cap);
        if (!rc) {
            z.next_in = (Bytef *)(uintptr_t)p;
            z.avail_in = (uInt)n;
            z.next_out = (Bytef *)out->ptr;
            z.avail_out = (uInt)cap;
            rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : SL_EIO;
            out->len = cap - z.avail_out;
        }
        deflateEnd(&z);
        return rc;
    }
    default:
        return sl_buf_append(out, p, n);
    }
}

/*
 * Write a page whose body is body[0..blen) then tail[0..tlen) (PLAIN values straight from
 * the column buffer). tail needs body == w->page.ptr: compressed pages are assembled there.
 * Uncompressed pages go out in place, never copied.
 */
static int write_page(struct sl_pq_writer *w, struct pq_chunk_meta *m, int type, const char *body,
                      size_t blen, const char *tail, size_t tlen, uint32_t nvalues, int encoding)
{
    size_t ulen = blen + tlen;
    if (ulen > INT32_MAX)
        return SL_E2BIG;
    int rc;
    bool raw = w->o.codec == SL_PQ_CODEC_UNCOMPRESSED;
    size_t clen = ulen;
    if (!raw) {
        if (tlen) {
            if ((rc = sl_buf_append(&w->page, tail, tlen)) != 0)
                return rc;
            body = w->page.ptr;
        }
        if ((rc = compress_page(w, body, ulen, &w->cpage)) != 0)
            return rc;
        clen = w->cpage.len;
    }
    if (clen > INT32_MAX)
        return SL_E2BIG;
    sl_buf_reset(&w->hdr);
    struct sl_tc t;
    sl_tc_init(&t, &w->hdr);
    sl_tc_i32(&t, 1, type);
    sl_tc_i32(&t, 2, (int32_t)ulen);
    sl_tc_i32(&t, 3, (int32_t)clen);
    if (type == PAGE_DATA) {
        sl_tc_struct_begin(&t, 5);
        sl_tc_i32(&t, 1, (int32_t)nvalues);
        sl_tc_i32(&t, 2, encoding);
        sl_tc_i32(&t, 3, ENC_RLE);
        sl_tc_i32(&t, 4, ENC_RLE);
        sl_tc_struct_end(&t);
    } else {
        sl_tc_struct_begin(&t, 7);
        sl_tc_i32(&t, 1, (int32_t)nvalues);
        sl_tc_i32(&t, 2, ENC_PLAIN);
        sl_tc_struct_end(&t);
    }
    if ((rc = sl_tc_finish(&t)) != 0)
        return rc;
    m->usize += (int64_t)(w->hdr.len + ulen);
    m->csize += (int64_t)(w->hdr.len + clen);
    if ((rc = out_write(w, w->hdr.ptr, w->hdr.len)) != 0)
        return rc;
    if (!raw)
        return out_write(w, w->cpage.ptr, w->cpage.len);
    if ((rc = out_write(w, body, blen)) != 0)
        return rc;
    return out_write(w, tail, tlen);
}

static int tmp_reserve(struct sl_pq_writer *w, size_t n)
{
    if (n <= w->cap_tmp)
        return 0;
    size_t cap = w->cap_tmp ? w->cap_tmp : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *t = sl_realloc(w->tmp, cap * sizeof(*t));
    if (!t)
        return SL_ENOMEM;
    w->tmp = t;
    w->cap_tmp = cap;
    return 0;
}

/* Append 4-byte length + RLE of levels [a, b) at bit width bw; lv NULL: all equal to k. */
static int put_levels(struct sl_pq_writer *w, const uint16_t *lv, uint16_t k, size_t a, size_t b,
                      unsigned bw)
{
    if (!lv) { /* one RLE run */
        uint8_t run[4 + 10 + 2];
        size_t h = 4;
        uint64_t x = (uint64_t)(b - a) << 1;
        while (x >= 0x80) {
            run[h++] = (uint8_t)(x | 0x80);
            x >>= 7;
        }
        run[h++] = (uint8_t)x;
        for (unsigned i = 0; i < (bw + 7) / 8; i++)
            run[h++] = (uint8_t)(k >> (8 * i));
        put_le32((char *)run, (uint32_t)(h - 4));
        return sl_buf_append(&w->page, run, h);
    }
    int rc = tmp_reserve(w, b - a);
    if (rc)
        return rc;
    for (size_t i = a; i < b; i++)
        w->tmp[i - a] = lv[i];
    size_t at = w->page.len;
    char zero[4] = {0};
    if ((rc = sl_buf_append(&w->page, zero, 4)) != 0 ||
        (rc = rle_encode(&w->page, w->tmp, b - a, bw)) != 0)
        return rc;
    put_le32(w->page.ptr + at, (uint32_t)(w->page.len - at - 4));
    return 0;
}

static void encode_stat(const struct pq_col *c, bool max, char *out, uint8_t *len)
{
    const struct pq_stats *st = &c->st;
    if (c->phys == PT_DOUBLE) {
        double d = max ? st->dmax : st->dmin;
        if (d == 0)
            d = max ? 0.0 : -0.0;
        memcpy(out, &d, 8);
        *len = 8;
    } else if (c->phys == PT_BYTE_ARRAY || c->phys == PT_FLBA) {
        const struct sl_buf *b = max ? &st->smax : &st->smin;
        if (b->len)
            memcpy(out, b->ptr, b->len);
        *len = (uint8_t)b->len;
    } else {
        int64_t v = max ? st->imax : st->imin;
        unsigned n = c->phys == PT_BOOLEAN ? 1 : c->phys == PT_INT32 ? 4 : 8;
        for (unsigned i = 0; i < n; i++)
            out[i] = (char)((uint64_t)v >> (8 * i));
        *len = (uint8_t)n;
    }
}

static int write_chunk(struct sl_pq_writer *w, struct pq_col *c, struct pq_chunk_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->dict_off = -1;
    int rc;
    bool dict = c->dict_on && c->ndict > 0;
    m->dict = dict;
    if (dict) {
        m->dict_off = (int64_t)w->offset;
        if ((rc = write_page(w, m, PAGE_DICTIONARY, c->dict.ptr, c->dict.len, NULL, 0, c->ndict,
                             ENC_PLAIN)) != 0)
            return rc;
    }
    m->data_off = (int64_t)w->offset;
    bool levels = c->max_def || c->max_rep;
    size_t nlev = levels ? c->nlev : c->nvals;
    unsigned dbw = bit_width(c->max_def), rbw = bit_width(c->max_rep);
    unsigned ibw = dict ? bit_width(c->ndict - 1) : 0;
    if (dict && !ibw)
        ibw = 1;
    size_t l = 0, v = 0, voff = 0;
    do {
        size_t le = l, ve = v, bytes = 0;
        size_t fixed = dict || c->phys == PT_BOOLEAN ? 1 : c->width;
        bool closed = fixed && (!levels || c->lev_dense);
        if (closed) {
            /* every level is a value of `fixed` bytes: the loop below, in closed form (it was
             * a pass over every value of every column at flush time) */
            size_t n = nlev - l, by_bytes = (w->o.page_bytes + fixed - 1) / fixed;
            if (n > w->o.page_rows)
                n = w->o.page_rows;
            if (n > by_bytes)
                n = by_bytes;
            le = l + n;
            ve = v + n;
            bytes = n * fixed;
        }
        while (!closed && le < nlev) {
            bool present = !levels || c->lev_dense || c->def[le] == c->max_def;
            le++;
            if (present) {
                if (dict || c->phys == PT_BOOLEAN)
                    bytes += 1;
                else if (c->width)
                    bytes += c->width;
                else
                    bytes += 4 + get_le32(c->plain.ptr + voff + bytes);
                ve++;
            }
            if ((le - l >= w->o.page_rows || bytes >= w->o.page_bytes) &&
                (!c->max_rep || le == nlev || c->lev_dense || c->rep[le] == 0))
                break;
        }
        sl_buf_reset(&w->page);
        bool dense = c->lev_dense;
        if (c->max_rep && (rc = put_levels(w, dense ? NULL : c->rep, 0, l, le, rbw)) != 0)
            return rc;
        if (c->max_def && (rc = put_levels(w, dense ? NULL : c->def, c->max_def, l, le, dbw)) != 0)
            return rc;
        int enc = ENC_PLAIN;
        if (dict) {
            enc = ENC_RLE_DICTIONARY;
            uint8_t b = (uint8_t)ibw;
            if ((rc = sl_buf_append(&w->page, &b, 1)) != 0 ||
                (rc = rle_encode(&w->page, c->idx + v, ve - v, ibw)) != 0)
                return rc;
        } else if (c->phys == PT_BOOLEAN) {
            enc = ENC_RLE;
            if ((rc = tmp_reserve(w, ve - v)) != 0)
                return rc;
            for (size_t i = v; i < ve; i++)
                w->tmp[i - v] = (uint8_t)c->plain.ptr[i];
            size_t at = w->page.len;
            char zero[4] = {0};
            if ((rc = sl_buf_append(&w->page, zero, 4)) != 0 ||
                (rc = rle_encode(&w->page, w->tmp, ve - v, 1)) != 0)
                return rc;
            put_le32(w->page.ptr + at, (uint32_t)(w->page.len - at - 4));
        }
        size_t tlen = dict || c->phys == PT_BOOLEAN ? 0 : bytes; /* PLAIN values, in place */
        const char *tail = tlen ? c->plain.ptr + voff : NULL;
        voff += tlen;
        if ((rc = write_page(w, m, PAGE_DATA, w->page.ptr ? w->page.ptr : "", w->page.len, tail,
                             tlen, (uint32_t)(le - l), enc)) != 0)
            return rc;
        l = le;
        v = ve;
    } while (l < nlev);
    m->num_values = (int64_t)nlev;
    m->nulls = (int64_t)c->st.nulls;
    m->nans = (int64_t)c->st.nans;
    if (c->st.has && c->st.smin.len <= STAT_MAX_LEN && c->st.smax.len <= STAT_MAX_LEN) {
        m->has_minmax = true;
        encode_stat(c, false, m->min, &m->minlen);
        encode_stat(c, true, m->max, &m->maxlen);
    }
    return 0;
}

static int flush_rowgroup(struct sl_pq_writer *w)
{
    if (!w->rg_rows || w->failed)
        return w->failed;
    if (w->nrg == w->cap_rg) {
        w->cap_rg = w->cap_rg ? w->cap_rg * 2 : 8;
        w->rgs = sl_xrealloc(w->rgs, w->cap_rg * sizeof(*w->rgs));
    }
    struct pq_rg_meta *rg = &w->rgs[w->nrg++];
    memset(rg, 0, sizeof(*rg));
    rg->chunks = sl_xcalloc(w->ncols, sizeof(*rg->chunks));
    rg->rows = (int64_t)w->rg_rows;
    rg->file_off = (int64_t)w->offset;
    int rc = 0;
    for (uint32_t i = 0; i < w->ncols && !rc; i++) {
        rc = write_chunk(w, &w->cols[i], &rg->chunks[i]);
        rg->usize += rg->chunks[i].usize;
        rg->csize += rg->chunks[i].csize;
        col_reset(&w->cols[i]);
    }
    w->rg_rows = 0;
    w->buffered = 0;
    if (rc && !w->failed)
        w->failed = rc;
    return rc;
}

/* ---------------------------------------------------------------- footer */

static void schema_elements(const struct sl_pq_schema *s, int id, struct sl_tc *t)
{
    const struct pq_node *n = &s->nodes[id];
    int rep = n->optional ? REP_OPTIONAL : REP_REQUIRED;
    size_t nlen = strlen(n->name);
    sl_tc_elem_struct_begin(t);
    if (n->kind == SL_PQ_GROUP) {
        sl_tc_i32(t, 3, rep);
        sl_tc_string(t, 4, n->name, nlen);
        sl_tc_i32(t, 5, (int32_t)n->nkids);
        sl_tc_struct_end(t);
        for (uint32_t i = 0; i < n->nkids; i++)
            schema_elements(s, n->kids[i], t);
        return;
    }
    if (n->kind == SL_PQ_LIST) {
        sl_tc_i32(t, 3, rep);
        sl_tc_string(t, 4, n->name, nlen);
        sl_tc_i32(t, 5, 1);
        sl_tc_i32(t, 6, 3); /* ConvertedType LIST */
        sl_tc_struct_begin(t, 10);
        sl_tc_struct_begin(t, 3); /* LogicalType.LIST */
        sl_tc_struct_end(t);
        sl_tc_struct_end(t);
        sl_tc_struct_end(t);
        sl_tc_elem_struct_begin(t); /* repeated group list */
        sl_tc_i32(t, 3, REP_REPEATED);
        sl_tc_string(t, 4, "list", 4);
        sl_tc_i32(t, 5, 1);
        sl_tc_struct_end(t);
        schema_elements(s, n->kids[0], t);
        return;
    }
    enum sl_pq_kind k = (enum sl_pq_kind)n->kind;
    sl_tc_i32(t, 1, phys_of(k));
    if (k == SL_PQ_FIXED)
        sl_tc_i32(t, 2, (int32_t)n->fixed_len);
    sl_tc_i32(t, 3, rep);
    sl_tc_string(t, 4, n->name, nlen);
    int conv = -1, logical = -1, bits = 0;
    bool sign = true;
    switch (k) {
    case SL_PQ_STRING:
        conv = 0, logical = 1;
        break;
    case SL_PQ_JSON:
        conv = 19, logical = 12;
        break;
    case SL_PQ_DATE:
        conv = 6, logical = 6;
        break;
    case SL_PQ_TS_US:
        conv = 10, logical = 8;
        break;
    case SL_PQ_TS_NS:
        logical = 8;
        break;
    case SL_PQ_INT8:
        conv = 15, logical = 10, bits = 8;
        break;
    case SL_PQ_INT16:
        conv = 16, logical = 10, bits = 16;
        break;
    case SL_PQ_UINT8:
        conv = 11, logical = 10, bits = 8, sign = false;
        break;
    case SL_PQ_UINT16:
        conv = 12, logical = 10, bits = 16, sign = false;
        break;
    case SL_PQ_UINT32:
        conv = 13, logical = 10, bits = 32, sign = false;
        break;
    case SL_PQ_UINT64:
        conv = 14, logical = 10, bits = 64, sign = false;
        break;
    default:
        break;
    }
    if (conv >= 0)
        sl_tc_i32(t, 6, conv);
    if (logical >= 0) {
        sl_tc_struct_begin(t, 10);
        sl_tc_struct_begin(t, (int16_t)logical);
        if (logical == 8) {
            sl_tc_bool(t, 1, true); /* isAdjustedToUTC */
            sl_tc_struct_begin(t, 2);
            sl_tc_struct_begin(t, k == SL_PQ_TS_US ? 2 : 3);
            sl_tc_struct_end(t);
            sl_tc_struct_end(t);
        } else if (logical == 10) {
            sl_tc_i8(t, 1, (int8_t)bits);
            sl_tc_bool(t, 2, sign);
        }
        sl_tc_struct_end(t);
        sl_tc_struct_end(t);
    }
    sl_tc_struct_end(t);
}

static uint32_t schema_element_count(const struct sl_pq_schema *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->count; i++)
        n += s->nodes[i].kind == SL_PQ_LIST ? 2 : 1;
    return n;
}

static void column_meta(struct sl_pq_writer *w, const struct pq_col *c,
                        const struct pq_chunk_meta *m, struct sl_tc *t)
{
    sl_tc_struct_begin(t, 3);
    sl_tc_i32(t, 1, c->phys);
    bool levels = c->max_def || c->max_rep || c->phys == PT_BOOLEAN;
    uint32_t nenc = 1 + (levels ? 1 : 0) + (m->dict ? 1 : 0);
    sl_tc_list_begin(t, 2, SL_TC_I32, nenc);
    sl_tc_elem_i32(t, ENC_PLAIN);
    if (levels)
        sl_tc_elem_i32(t, ENC_RLE);
    if (m->dict)
        sl_tc_elem_i32(t, ENC_RLE_DICTIONARY);
    sl_tc_list_begin(t, 3, SL_TC_BINARY, c->npath);
    for (uint32_t i = 0; i < c->npath; i++)
        sl_tc_elem_binary(t, c->path[i], strlen(c->path[i]));
    static const int codec_ids[] = {
#define SL_PQ_CODEC_ID(n, s, id) id,
        SL_PQ_CODECS(SL_PQ_CODEC_ID)
#undef SL_PQ_CODEC_ID
    };
    sl_tc_i32(t, 4, codec_ids[w->o.codec]);
    sl_tc_i64(t, 5, m->num_values);
    sl_tc_i64(t, 6, m->usize);
    sl_tc_i64(t, 7, m->csize);
    sl_tc_i64(t, 9, m->data_off);
    if (m->dict_off >= 0)
        sl_tc_i64(t, 11, m->dict_off);
    sl_tc_struct_begin(t, 12);
    /* the deprecated min/max use signed order: write them where that is the column's order */
    bool signed_order = c->phys != PT_BYTE_ARRAY && c->phys != PT_FLBA && !c->uns;
    if (m->has_minmax && signed_order) {
        sl_tc_binary(t, 1, m->max, m->maxlen);
        sl_tc_binary(t, 2, m->min, m->minlen);
    }
    sl_tc_i64(t, 3, m->nulls);
    if (m->has_minmax) {
        sl_tc_binary(t, 5, m->max, m->maxlen);
        sl_tc_binary(t, 6, m->min, m->minlen);
    }
    if (c->phys == PT_DOUBLE)
        sl_tc_i64(t, 9, m->nans);
    sl_tc_struct_end(t);
    sl_tc_struct_end(t);
}

static int write_footer(struct sl_pq_writer *w)
{
    struct sl_buf f;
    sl_buf_init(&f, (size_t)1 << 30);
    struct sl_tc t;
    sl_tc_init(&t, &f);
    const struct sl_pq_schema *s = w->schema;
    sl_tc_i32(&t, 1, 1);
    sl_tc_list_begin(&t, 2, SL_TC_STRUCT, 1 + schema_element_count(s));
    sl_tc_elem_struct_begin(&t);
    sl_tc_string(&t, 4, "schema", 6);
    sl_tc_i32(&t, 5, (int32_t)s->ntop);
    sl_tc_struct_end(&t);
    for (uint32_t i = 0; i < s->ntop; i++)
        schema_elements(s, s->top[i], &t);
    sl_tc_i64(&t, 3, (int64_t)w->rows);
    sl_tc_list_begin(&t, 4, SL_TC_STRUCT, w->nrg);
    for (uint32_t r = 0; r < w->nrg; r++) {
        const struct pq_rg_meta *rg = &w->rgs[r];
        sl_tc_elem_struct_begin(&t);
        sl_tc_list_begin(&t, 1, SL_TC_STRUCT, w->ncols);
        for (uint32_t i = 0; i < w->ncols; i++) {
            sl_tc_elem_struct_begin(&t);
            sl_tc_i64(&t, 2, 0);
            column_meta(w, &w->cols[i], &rg->chunks[i], &t);
            sl_tc_struct_end(&t);
        }
        sl_tc_i64(&t, 2, rg->usize);
        sl_tc_i64(&t, 3, rg->rows);
        sl_tc_i64(&t, 5, rg->file_off);
        sl_tc_i64(&t, 6, rg->csize);
        sl_tc_struct_end(&t);
    }
    if (w->nkv) {
        sl_tc_list_begin(&t, 5, SL_TC_STRUCT, w->nkv);
        for (uint32_t i = 0; i < w->nkv; i++) {
            sl_tc_elem_struct_begin(&t);
            sl_tc_string(&t, 1, w->kvs[i].key, strlen(w->kvs[i].key));
            sl_tc_string(&t, 2, w->kvs[i].val, strlen(w->kvs[i].val));
            sl_tc_struct_end(&t);
        }
    }
    static const char created_by[] = "sluice version " SL_VERSION;
    sl_tc_string(&t, 6, created_by, sizeof(created_by) - 1);
    sl_tc_list_begin(&t, 7, SL_TC_STRUCT, w->ncols);
    for (uint32_t i = 0; i < w->ncols; i++) {
        sl_tc_elem_struct_begin(&t);
        sl_tc_struct_begin(&t, 1); /* TYPE_ORDER */
        sl_tc_struct_end(&t);
        sl_tc_struct_end(&t);
    }
    int rc = sl_tc_finish(&t);
    if (!rc) {
        char tail[8];
        put_le32(tail, (uint32_t)f.len);
        memcpy(tail + 4, "PAR1", 4);
        if (!(rc = out_write(w, f.ptr, f.len)))
            rc = out_write(w, tail, 8);
    }
    sl_buf_fini(&f);
    return rc;
}

/* ---------------------------------------------------------------- writer */

static void path_of(const struct sl_pq_schema *s, int leaf, struct pq_col *c)
{
    int chain[SL_PQ_MAX_DEPTH + 1];
    int n = 0;
    for (int q = leaf; q != SL_PQ_ROOT && n <= SL_PQ_MAX_DEPTH; q = s->nodes[q].parent)
        chain[n++] = q;
    c->path = sl_xcalloc((size_t)n * 2, sizeof(char *));
    c->npath = 0;
    for (int i = n - 1; i >= 0; i--) {
        c->path[c->npath++] = sl_xstrdup(s->nodes[chain[i]].name);
        if (s->nodes[chain[i]].kind == SL_PQ_LIST)
            c->path[c->npath++] = sl_xstrdup("list");
    }
}

static int set_schema(struct sl_pq_writer *w, struct sl_pq_schema *s)
{
    int rc = sl_pq__schema_finish(s);
    if (rc)
        return rc;
    w->schema = s;
    w->ncols = s->ncols;
    w->cols = sl_xcalloc(w->ncols ? w->ncols : 1, sizeof(*w->cols));
    for (uint32_t i = 0; i < w->ncols; i++) {
        struct pq_col *c = &w->cols[i];
        const struct pq_node *n = &s->nodes[s->cols[i]];
        c->node = n;
        c->kind = n->kind;
        c->phys = phys_of((enum sl_pq_kind)n->kind);
        c->uns = n->kind == SL_PQ_UINT32 || n->kind == SL_PQ_UINT64;
        c->width = c->phys == PT_INT32     ? 4
                   : c->phys == PT_INT64   ? 8
                   : c->phys == PT_DOUBLE  ? 8
                   : c->phys == PT_FLBA    ? n->fixed_len
                   : c->phys == PT_BOOLEAN ? 1
                                           : 0;
        c->dictable = c->phys == PT_INT32 || c->phys == PT_INT64 || c->phys == PT_BYTE_ARRAY;
        c->dict_on = c->dictable;
        c->lev_dense = true;
        c->max_def = n->def;
        c->max_rep = n->rep;
        sl_buf_init(&c->plain, COL_BUF_MAX);
        sl_buf_init(&c->dict, COL_BUF_MAX);
        stats_init(&c->st);
        path_of(s, s->cols[i], c);
    }
    w->top_syms = sl_xcalloc(s->ntop, sizeof(sl_sym));
    w->vals = sl_xcalloc(s->ntop, sizeof(*w->vals));
    for (uint32_t i = 0; i < s->ntop; i++)
        w->top_syms[i] = sl_sym_intern_c(s->nodes[s->top[i]].name);
    return 0;
}

struct sl_pq_writer *sl_pq_writer_new(struct sl_pq_schema *schema, const struct sl_pq_opts *o,
                                      sl_pq_write_fn fn, void *ctx)
{
    struct sl_pq_writer *w = sl_xcalloc(1, sizeof(*w));
    if (o)
        w->o = *o;
    if ((unsigned)w->o.codec >= SL_PQ__CODEC_COUNT)
        w->o.codec = SL_PQ_CODEC_UNCOMPRESSED;
    if (!w->o.row_group_bytes)
        w->o.row_group_bytes = (uint64_t)64 << 20;
    if (!w->o.page_bytes)
        w->o.page_bytes = 1u << 20;
    if (!w->o.page_rows)
        w->o.page_rows = 20000;
    if (!w->o.dict_max_bytes)
        w->o.dict_max_bytes = 1u << 20;
    if (!w->o.dict_max_count)
        w->o.dict_max_count = 65536;
    if (!w->o.zstd_level)
        w->o.zstd_level = 3;
    w->fn = fn;
    w->ctx = ctx;
    sl_buf_init(&w->scratch, MAX_VALUE_LEN + 1024);
    sl_buf_init(&w->page, (size_t)1 << 31);
    sl_buf_init(&w->cpage, (size_t)1 << 31);
    sl_buf_init(&w->hdr, 1 << 20);
    sl_arena_init(&w->infer_arena, 64 * 1024, INFER_ARENA_MAX);
    if (schema && set_schema(w, schema) != 0) {
        sl_pq_schema_free(schema);
        w->failed = SL_EINVAL;
    }
    out_write(w, "PAR1", 4);
    return w;
}

int sl_pq_writer_kv(struct sl_pq_writer *w, const char *key, const char *value)
{
    struct pq_kv *n = sl_realloc(w->kvs, (w->nkv + 1) * sizeof(*n));
    if (!n)
        return SL_ENOMEM;
    w->kvs = n;
    w->kvs[w->nkv].key = sl_xstrdup(key);
    w->kvs[w->nkv].val = sl_xstrdup(value ? value : "");
    w->nkv++;
    return 0;
}

int sl_pq_write_row(struct sl_pq_writer *w, const struct sl_value *const *vals,
                    struct sl_pq_reject *rej)
{
    if (w->failed)
        return w->failed;
    if (!w->schema || w->closed)
        return SL_EINVAL;
    const struct sl_pq_schema *s = w->schema;
    w->row_bytes = 0;
    /* top-level leaves (most columns of most logs) skip the tree walk */
    for (uint32_t i = 0; i < s->ntop; i++) {
        const struct pq_node *n = &s->nodes[s->top[i]];
        const struct sl_value *v = vals[i];
        int rc;
        if (n->col < 0)
            rc = check_node(w, s->top[i], v, rej);
        else if (is_null(v))
            rc = n->optional
                     ? 0
                     : reject(rej, n->name, SL_ETYPE, "missing or null value for a required field");
        else
            rc = check_leaf(w, &w->cols[n->col], v, rej);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < s->ntop; i++) {
        const struct pq_node *n = &s->nodes[s->top[i]];
        const struct sl_value *v = vals[i];
        int rc;
        if (n->col < 0) {
            rc = emit_node(w, s->top[i], v, 0, 0);
        } else {
            struct pq_col *c = &w->cols[n->col];
            bool null = is_null(v);
            w->buffered += 2;
            if (null)
                c->st.nulls++;
            rc = push_level(c, 0, null ? 0 : n->def);
            if (!rc && !null)
                rc = emit_leaf(w, c, v);
        }
        if (rc) {
            w->failed = rc;
            return rc;
        }
    }
    w->rows++;
    w->rg_rows++;
    if (w->buffered >= w->o.row_group_bytes)
        return flush_rowgroup(w);
    return 0;
}

/* Fix the inferred schema and write the buffered rows. */
static int end_inference(struct sl_pq_writer *w)
{
    struct sl_pq_schema *s = sl_pq__schema_infer(w->infer_rows, w->ninfer);
    if (!s->ntop) { /* nothing but empty events: one all-null column keeps the file valid */
        (void)sl_pq_schema_add(s, SL_PQ_ROOT, "_empty", SL_PQ_BOOL, true, 0);
    }
    int rc = set_schema(w, s);
    if (rc) {
        sl_pq_schema_free(s);
        w->failed = rc;
        return rc;
    }
    for (size_t r = 0; r < w->ninfer && !w->failed; r++) {
        const struct sl_value *row = &w->infer_rows[r];
        for (uint32_t i = 0; i < s->ntop; i++)
            w->vals[i] = sl_value_map_get(row, sl_str_c(s->nodes[s->top[i]].name));
        rc = sl_pq_write_row(w, w->vals, NULL);
        if (rc && !w->failed)
            w->late_rejects++; /* invalid UTF-8 or too large: counted, dropped */
    }
    sl_free(w->infer_rows);
    w->infer_rows = NULL;
    w->ninfer = w->cap_infer = 0;
    sl_arena_fini(&w->infer_arena);
    sl_arena_init(&w->infer_arena, 4096, 4096);
    return w->failed;
}

static int buffer_for_inference(struct sl_pq_writer *w, const struct sl_event *ev)
{
    if (w->ninfer == w->cap_infer) {
        size_t cap = w->cap_infer ? w->cap_infer * 2 : 1024;
        struct sl_value *n = sl_realloc(w->infer_rows, cap * sizeof(*n));
        if (!n)
            return SL_ENOMEM;
        w->infer_rows = n;
        w->cap_infer = cap;
    }
    size_t before = sl_arena_used(&w->infer_arena);
    struct sl_kv *kv = ev->count ? sl_arena_alloc(&w->infer_arena, ev->count * sizeof(*kv)) : NULL;
    if (ev->count && !kv)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < ev->count; i++) {
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        kv[i].key.ptr = sl_arena_strndup(&w->infer_arena, name.ptr, name.len);
        kv[i].key.len = name.len;
        if (!kv[i].key.ptr || sl_value_copy(&w->infer_arena, &ev->fields[i].val, &kv[i].val))
            return SL_ENOMEM;
    }
    struct sl_value *row = &w->infer_rows[w->ninfer++];
    memset(row, 0, sizeof(*row));
    row->type = SL_V_MAP;
    row->len = ev->count;
    row->u.map = kv;
    w->rows++;
    w->buffered += sl_arena_used(&w->infer_arena) - before;
    if (w->buffered >= w->o.row_group_bytes ||
        (w->o.infer_max_rows && w->ninfer >= w->o.infer_max_rows)) {
        w->rows -= w->ninfer; /* counted again as they are written */
        w->buffered = 0;
        return end_inference(w);
    }
    return 0;
}

int sl_pq_append_event(struct sl_pq_writer *w, const struct sl_event *ev, struct sl_pq_reject *rej)
{
    if (w->failed)
        return w->failed;
    if (w->closed)
        return SL_EINVAL;
    if (!w->schema) {
        int rc = buffer_for_inference(w, ev);
        if (rc && !w->failed)
            w->failed = rc;
        return rc;
    }
    const struct sl_pq_schema *s = w->schema;
    for (uint32_t i = 0; i < s->ntop; i++) {
        /* events of one type keep their field order: try the same position first */
        if (i < ev->count && ev->fields[i].sym == w->top_syms[i])
            w->vals[i] = &ev->fields[i].val;
        else
            w->vals[i] = w->top_syms[i] ? sl_event_get(ev, w->top_syms[i]) : NULL;
    }
    return sl_pq_write_row(w, w->vals, rej);
}

int64_t sl_pq_append(struct sl_pq_writer *w, const struct sl_batch *b, sl_pq_reject_fn on_reject,
                     void *ctx)
{
    int64_t n = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        struct sl_pq_reject rej;
        rej.field[0] = rej.reason[0] = 0;
        int rc = sl_pq_append_event(w, &b->events[i], &rej);
        if (rc && w->failed)
            return rc;
        if (rc) {
            if (on_reject)
                on_reject(ctx, i, &rej);
            continue;
        }
        n++;
    }
    return n;
}

int sl_pq_writer_flush(struct sl_pq_writer *w)
{
    if (w->failed)
        return w->failed;
    if (!w->schema)
        return w->ninfer ? (w->rows -= w->ninfer, end_inference(w)) : 0;
    return flush_rowgroup(w);
}

int sl_pq_writer_close(struct sl_pq_writer *w)
{
    if (w->closed)
        return w->failed;
    int rc = sl_pq_writer_flush(w);
    if (!rc && !w->schema) {
        /* no row at all: a one-column schema so readers accept the file */
        struct sl_pq_schema *s = sl_pq_schema_new();
        (void)sl_pq_schema_add(s, SL_PQ_ROOT, "_empty", SL_PQ_BOOL, true, 0);
        rc = set_schema(w, s);
        if (rc)
            sl_pq_schema_free(s);
    }
    if (!rc)
        rc = flush_rowgroup(w);
    if (!rc)
        rc = write_footer(w);
    w->closed = true;
    if (rc && !w->failed)
        w->failed = rc;
    return rc;
}

void sl_pq_writer_free(struct sl_pq_writer *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->ncols; i++)
        col_fini(&w->cols[i]);
    sl_free(w->cols);
    for (uint32_t i = 0; i < w->nrg; i++)
        sl_free(w->rgs[i].chunks);
    sl_free(w->rgs);
    for (uint32_t i = 0; i < w->nkv; i++) {
        sl_free(w->kvs[i].key);
        sl_free(w->kvs[i].val);
    }
    sl_free(w->kvs);
    sl_free(w->top_syms);
    sl_free(w->vals);
    sl_free(w->tmp);
    sl_free(w->infer_rows);
    sl_arena_fini(&w->infer_arena);
    sl_buf_fini(&w->scratch);
    sl_buf_fini(&w->page);
    sl_buf_fini(&w->cpage);
    sl_buf_fini(&w->hdr);
    if (w->zstd)
        ZSTD_freeCCtx(w->zstd);
    sl_pq_schema_free(w->schema);
    sl_free(w);
}

uint64_t sl_pq_writer_rows(const struct sl_pq_writer *w)
{
    return w->rows;
}

uint64_t sl_pq_writer_bytes(const struct sl_pq_writer *w)
{
    return w->offset;
}

uint64_t sl_pq_writer_buffered(const struct sl_pq_writer *w)
{
    return w->buffered;
}

uint32_t sl_pq_writer_row_groups(const struct sl_pq_writer *w)
{
    return w->nrg;
}

const struct sl_pq_schema *sl_pq_writer_schema(const struct sl_pq_writer *w)
{
    return w->schema;
}
