/*
 * fuzz_parquet.c — libFuzzer target for the Parquet writer.
 *
 * The input drives everything: a random schema (every leaf kind, optional/required, groups
 * and lists nested up to the limit), writer options (codec, tiny pages, tiny dictionary and
 * row-group bounds so every fallback and cut happens), then rows whose values mostly follow
 * the schema and sometimes do not (nulls in required fields, wrong types, out-of-range
 * integers, invalid UTF-8). The writer must never crash, leak or write past its buffers, must
 * reject what does not fit, and must produce a structurally complete file (PAR1 ... footer
 * length, PAR1). With SL_FUZZ_PARQUET_OUT=dir each file is also saved there so a real reader
 * can be run over a corpus replay (tests/node/read_parquet.mjs reads files with
 * a .expect.json; DuckDB's read_parquet() reads the rest).
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/parquet.h"
#include "core/event.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct in {
    const uint8_t *p;
    size_t n;
};

static uint32_t take(struct in *in, uint32_t mod)
{
    if (!in->n || !mod)
        return 0;
    uint32_t v = *in->p++;
    in->n--;
    return v % mod;
}

static int add_node(struct sl_pq_schema *s, struct in *in, int parent, int depth, int idx)
{
    char name[16];
    snprintf(name, sizeof(name), "f%d", idx);
    int k = (int)take(in, SL_PQ__KIND_COUNT);
    if (depth >= 5 && (k == SL_PQ_GROUP || k == SL_PQ_LIST))
        k = SL_PQ_STRING;
    bool opt = take(in, 4) != 0;
    int id = sl_pq_schema_add(s, parent, name, (enum sl_pq_kind)k, opt,
                              k == SL_PQ_FIXED ? 1 + take(in, 8) : 0);
    if (id < 0)
        return id;
    if (k == SL_PQ_GROUP) {
        int nk = 1 + (int)take(in, 3);
        for (int i = 0; i < nk; i++)
            if (add_node(s, in, id, depth + 1, i) < 0)
                return -1;
    } else if (k == SL_PQ_LIST) {
        if (add_node(s, in, id, depth + 1, 0) < 0)
            return -1;
    }
    return id;
}

struct fnode {
    int kind;
    uint32_t fixed;
    int nkids;
    struct fnode *kids[3];
};

static const char *const texts[] = {"", "a", "tcp", "\xc3\xa9t\xc3\xa9", "\xff\xfe", "0123456789"};

static struct sl_value gen_value(struct sl_arena *a, struct in *in, const struct fnode *g,
                                 int depth)
{
    uint32_t r = take(in, 16);
    if (r == 0 || depth > 8)
        return sl_value_null();
    if (r == 1) { /* a wrong type now and then */
        return sl_value_int((int64_t)take(in, 256) - 128);
    }
    switch (g->kind) {
    case SL_PQ_BOOL:
        return sl_value_bool(take(in, 2));
    case SL_PQ_DOUBLE:
        return take(in, 2) ? sl_value_double((double)take(in, 256) / 3.0)
                           : sl_value_int(take(in, 256));
    case SL_PQ_STRING:
    case SL_PQ_BYTES:
    case SL_PQ_FIXED: {
        const char *t = texts[take(in, 6)];
        size_t n = strlen(t);
        if (g->kind == SL_PQ_FIXED && take(in, 4))
            n = g->fixed <= n ? g->fixed : n;
        return sl_value_str(t, n);
    }
    case SL_PQ_JSON:
        return take(in, 2) ? sl_value_str("x", 1) : sl_value_double(1.5);
    case SL_PQ_TS_US:
    case SL_PQ_TS_NS:
    case SL_PQ_DATE:
        return take(in, 4) ? sl_value_ts(((int64_t)take(in, 256) - 128) * 12345678901234LL)
                           : sl_value_double(1e300);
    case SL_PQ_GROUP: {
        struct sl_value v = {.type = SL_V_MAP, .len = (uint32_t)g->nkids};
        struct sl_kv *kv = sl_arena_alloc(a, sizeof(*kv) * 3);
        if (!kv)
            return sl_value_null();
        for (int i = 0; i < g->nkids; i++) {
            static const char *const names[] = {"f0", "f1", "f2"};
            kv[i].key = sl_str_c(take(in, 8) ? names[i] : "zz");
            kv[i].val = gen_value(a, in, g->kids[i], depth + 1);
        }
        v.u.map = kv;
        return v;
    }
    case SL_PQ_LIST: {
        uint32_t n = take(in, 5);
        struct sl_value v = {.type = SL_V_LIST, .len = n};
        struct sl_value *items = sl_arena_alloc(a, sizeof(*items) * (n ? n : 1));
        if (!items)
            return sl_value_null();
        for (uint32_t i = 0; i < n; i++)
            items[i] = gen_value(a, in, g->kids[0], depth + 1);
        v.u.list = items;
        return v;
    }
    default: /* integers: in and out of range */
        return sl_value_int(take(in, 2) ? (int64_t)take(in, 256) - 100
                                        : (int64_t)take(in, 256) << (take(in, 4) * 16));
    }
}

static struct fnode *mirror(const struct sl_pq_schema *s, struct in *shape, int depth);

static int mem_write(void *ctx, const void *p, size_t n)
{
    return sl_buf_append(ctx, p, n);
}

/* The schema again as a tree the generator can walk (rebuilt from the same bytes). */
static struct fnode *build(struct in *in, int depth)
{
    struct fnode *g = sl_xcalloc(1, sizeof(*g));
    g->kind = (int)take(in, SL_PQ__KIND_COUNT);
    if (depth >= 5 && (g->kind == SL_PQ_GROUP || g->kind == SL_PQ_LIST))
        g->kind = SL_PQ_STRING;
    (void)take(in, 4);
    if (g->kind == SL_PQ_FIXED)
        g->fixed = 1 + take(in, 8);
    if (g->kind == SL_PQ_GROUP) {
        g->nkids = 1 + (int)take(in, 3);
        for (int i = 0; i < g->nkids; i++)
            g->kids[i] = build(in, depth + 1);
    } else if (g->kind == SL_PQ_LIST) {
        g->nkids = 1;
        g->kids[0] = build(in, depth + 1);
    }
    return g;
}

static struct fnode *mirror(const struct sl_pq_schema *s, struct in *shape, int depth)
{
    (void)s;
    return build(shape, depth);
}

static void free_fnode(struct fnode *g)
{
    for (int i = 0; i < g->nkids; i++)
        free_fnode(g->kids[i]);
    sl_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        sl_core_init();
        inited = 1;
    }
    struct in in = {data, size};
    int nf = 1 + (int)take(&in, 4);
    struct in shape = in;
    struct sl_pq_schema *s = sl_pq_schema_new();
    for (int i = 0; i < nf; i++)
        if (add_node(s, &in, SL_PQ_ROOT, 1, i) < 0) {
            sl_pq_schema_free(s);
            return 0;
        }
    struct fnode *top[4];
    for (int i = 0; i < nf; i++)
        top[i] = mirror(s, &shape, 1);
    struct sl_pq_opts o = {.codec = (enum sl_pq_codec)take(&in, SL_PQ__CODEC_COUNT),
                           .page_rows = 1 + take(&in, 64),
                           .page_bytes = 16 + take(&in, 256),
                           .dict_max_count = 1 + take(&in, 16),
                           .dict_max_bytes = 8 + take(&in, 256),
                           .row_group_bytes = 64 + take(&in, 256) * 16};
    struct sl_buf out;
    sl_buf_init(&out, (size_t)256 << 20);
    struct sl_pq_writer *w = sl_pq_writer_new(s, &o, mem_write, &out);
    struct sl_arena a;
    sl_arena_init(&a, 4096, (size_t)64 << 20);
    int rows = 0;
    while (in.n && rows < 5000) {
        struct sl_value vals[4];
        const struct sl_value *vp[4];
        for (int i = 0; i < nf; i++) {
            vals[i] = gen_value(&a, &in, top[i], 1);
            vp[i] = &vals[i];
        }
        struct sl_pq_reject rej;
        int rc = sl_pq_write_row(w, vp, &rej);
        if (rc && !rej.reason[0])
            abort(); /* a rejection always says why */
        rows++;
    }
    if (sl_pq_writer_close(w) != 0)
        abort();
    if (out.len < 12 || memcmp(out.ptr, "PAR1", 4) || memcmp(out.ptr + out.len - 4, "PAR1", 4))
        abort();
    const unsigned char *t = (const unsigned char *)out.ptr + out.len - 8;
    uint32_t flen =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if ((size_t)flen + 12 > out.len)
        abort();
    const char *dir = getenv("SL_FUZZ_PARQUET_OUT");
    if (dir) {
        static unsigned seq;
        char path[512];
        snprintf(path, sizeof(path), "%s/fuzz-%u.parquet", dir, seq++);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(out.ptr, 1, out.len, f);
            fclose(f);
        }
    }
    sl_pq_writer_free(w);
    sl_arena_fini(&a);
    sl_buf_fini(&out);
    for (int i = 0; i < nf; i++)
        free_fnode(top[i]);
    return 0;
}
