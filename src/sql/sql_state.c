/*
 * sql_state.c — checkpoints of a SQL engine's state (sql_state.h): a bounded reader and
 * writer, values, tables' latest rows, and the frame around each query's state (whose windows
 * sql_query.c writes and reads, since only it knows their layout).
 *
 * Format (little-endian), version 3 (1 had no join state, 2 one input offset):
 *   "SQLS" u32 version, u32 offsets, each: bytes topic, i64 next offset; u64 engine sequence,
 *   u32 tables, each: bytes name, u32 rows, each: bytes key, i64 ts, u64 seq, u32 slots, values
 *   u32 queries, each: bytes id, the query's state (sq_query_state_save)
 * bytes: u32 length then the bytes. A value: u8 type, then BOOL u8, INT/TS/DOUBLE 8 bytes (u8
 * flags first), STRING/BYTES bytes, LIST u32 count and values, MAP u32 count and (bytes key,
 * value) pairs.
 */
#include "sql/sql_state.h"

#include "base/alloc.h"
#include "sql/sql_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 16
#define MAX_STR   (16u << 20)
#define MAX_NAME  1024u
#define MAX_KEY   (1u << 20)

/* ------------------------------------------------------------------ reader */

void sq_rd_fail(struct sq_rd *r, const char *why)
{
    if (r->ok) {
        r->ok = false;
        r->why = why;
    }
}

static const uint8_t *take(struct sq_rd *r, size_t n)
{
    if (!r->ok)
        return NULL;
    if (n > r->n - r->pos) {
        sq_rd_fail(r, "truncated");
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t sq_get_u8(struct sq_rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint32_t sq_get_u32(struct sq_rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)le(p, 4) : 0;
}

uint64_t sq_get_u64(struct sq_rd *r)
{
    const uint8_t *p = take(r, 8);
    return p ? le(p, 8) : 0;
}

int64_t sq_get_i64(struct sq_rd *r)
{
    uint64_t u = sq_get_u64(r);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

struct sl_str sq_get_bytes(struct sq_rd *r, uint32_t max)
{
    uint32_t n = sq_get_u32(r);
    if (r->ok && n > max)
        sq_rd_fail(r, "a string longer than allowed");
    const uint8_t *p = take(r, n);
    return p ? sl_str_make((const char *)p, n) : sl_str_make("", 0);
}

uint32_t sq_get_count(struct sq_rd *r, size_t min_each)
{
    uint32_t n = sq_get_u32(r);
    if (r->ok && min_each && n > (r->n - r->pos) / min_each) {
        sq_rd_fail(r, "a count larger than the input holds");
        return 0;
    }
    return r->ok ? n : 0;
}

static int get_value(struct sq_rd *r, struct sl_arena *a, struct sl_value *out, int depth)
{
    *out = sl_value_null();
    if (depth > MAX_DEPTH) {
        sq_rd_fail(r, "values nested too deep");
        return SL_EPARSE;
    }
    uint8_t t = sq_get_u8(r);
    if (!r->ok)
        return SL_EPARSE;
    switch (t) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL: {
        uint8_t b = sq_get_u8(r);
        if (b > 1)
            sq_rd_fail(r, "a boolean that is neither 0 nor 1");
        *out = sl_value_bool(b == 1);
        break;
    }
    case SL_V_INT:
    case SL_V_TS:
    case SL_V_DOUBLE: {
        uint8_t fl = sq_get_u8(r);
        uint64_t u = sq_get_u64(r);
        if (fl & ~(SL_VF_I32 | SL_VF_F32))
            sq_rd_fail(r, "unknown number flags");
        out->type = t;
        out->flags = fl;
        if (t == SL_V_DOUBLE)
            memcpy(&out->u.d, &u, sizeof u);
        else
            memcpy(&out->u.i, &u, sizeof u);
        break;
    }
    case SL_V_STRING:
    case SL_V_BYTES: {
        struct sl_str s = sq_get_bytes(r, MAX_STR);
        if (!r->ok)
            break;
        char *p = sl_arena_alloc(a, s.len ? s.len : 1);
        if (!p)
            return SL_ENOMEM;
        memcpy(p, s.ptr, s.len);
        out->type = t;
        out->len = (uint32_t)s.len;
        out->u.s = p;
        break;
    }
    case SL_V_LIST: {
        uint32_t n = sq_get_count(r, 1);
        if (!r->ok)
            break;
        struct sl_value *l = sl_arena_alloc(a, (n ? n : 1) * sizeof *l);
        if (!l)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            int rc = get_value(r, a, &l[i], depth + 1);
            if (rc)
                return rc;
        }
        out->type = SL_V_LIST;
        out->len = n;
        out->u.list = l;
        break;
    }
    case SL_V_MAP: {
        uint32_t n = sq_get_count(r, 5);
        if (!r->ok)
            break;
        struct sl_kv *m = sl_arena_alloc(a, (n ? n : 1) * sizeof *m);
        if (!m)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            struct sl_str k = sq_get_bytes(r, MAX_NAME);
            if (!r->ok)
                return SL_EPARSE;
            char *kp = sl_arena_alloc(a, k.len ? k.len : 1);
            if (!kp)
                return SL_ENOMEM;
            memcpy(kp, k.ptr, k.len);
            m[i].key = sl_str_make(kp, k.len);
            int rc = get_value(r, a, &m[i].val, depth + 1);
            if (rc)
                return rc;
        }
        out->type = SL_V_MAP;
        out->len = n;
        out->u.map = m;
        break;
    }
    default:
        sq_rd_fail(r, "an unknown value type");
        break;
    }
    return r->ok ? 0 : SL_EPARSE;
}

int sq_get_value(struct sq_rd *r, struct sl_arena *a, struct sl_value *out)
{
    return get_value(r, a, out, 0);
}

/* ------------------------------------------------------------------ writer */

int sq_put_u8(struct sl_buf *b, uint8_t v)
{
    return sl_buf_append(b, &v, 1);
}

int sq_put_u32(struct sl_buf *b, uint32_t v)
{
    uint8_t p[4];
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return sl_buf_append(b, p, 4);
}

int sq_put_u64(struct sl_buf *b, uint64_t v)
{
    uint8_t p[8];
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return sl_buf_append(b, p, 8);
}

int sq_put_bytes(struct sl_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return SL_E2BIG;
    int rc = sq_put_u32(b, (uint32_t)n);
    return rc || !n ? rc : sl_buf_append(b, p, n);
}

static int put_value(struct sl_buf *b, const struct sl_value *v, int depth)
{
    if (depth > MAX_DEPTH)
        return SL_EDEPTH;
    int rc = sq_put_u8(b, v->type);
    if (rc)
        return rc;
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        return sq_put_u8(b, v->u.b ? 1 : 0);
    case SL_V_INT:
    case SL_V_TS:
    case SL_V_DOUBLE: {
        uint64_t u;
        memcpy(&u, &v->u.i, sizeof u);
        rc = sq_put_u8(b, v->flags & (SL_VF_I32 | SL_VF_F32));
        return rc ? rc : sq_put_u64(b, u);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        if (v->len > MAX_STR)
            return SL_E2BIG;
        return sq_put_bytes(b, v->u.s, v->len);
    case SL_V_LIST:
        rc = sq_put_u32(b, v->len);
        for (uint32_t i = 0; i < v->len && !rc; i++)
            rc = put_value(b, &v->u.list[i], depth + 1);
        return rc;
    case SL_V_MAP:
        rc = sq_put_u32(b, v->len);
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (v->u.map[i].key.len > MAX_NAME)
                return SL_E2BIG;
            rc = sq_put_bytes(b, v->u.map[i].key.ptr, v->u.map[i].key.len);
            if (!rc)
                rc = put_value(b, &v->u.map[i].val, depth + 1);
        }
        return rc;
    default:
        return SL_ETYPE;
    }
}

int sq_put_value(struct sl_buf *b, const struct sl_value *v)
{
    return put_value(b, v, 0);
}

/* ------------------------------------------------------------------ the engine */

static int put_name(struct sl_buf *b, const char *s)
{
    return sq_put_bytes(b, s, strlen(s));
}

int sl_sql_state_save(struct sl_sql_engine *e, const struct sl_sql_state_offset *offs,
                      uint32_t noffs, struct sl_buf *out, bool *partial, struct sl_diag *d)
{
    if (noffs > SL_SQL_STATE_MAX_OFFSETS) {
        if (d)
            sl_diag_set(d, SL_EINVAL, "SQL state: %u input topics (at most %u)", noffs,
                        SL_SQL_STATE_MAX_OFFSETS);
        return SL_EINVAL;
    }
    int rc = sl_buf_append(out, "SQLS", 4);
    if (!rc)
        rc = sq_put_u32(out, SL_SQL_STATE_VERSION);
    if (!rc)
        rc = sq_put_u32(out, noffs);
    for (uint32_t i = 0; i < noffs && !rc; i++) {
        if (offs[i].next < 0 || strlen(offs[i].topic) > MAX_NAME) {
            if (d)
                sl_diag_set(d, SL_EINVAL, "SQL state: input %s: no offset, or a name too long",
                            offs[i].topic);
            return SL_EINVAL;
        }
        rc = put_name(out, offs[i].topic);
        if (!rc)
            rc = sq_put_u64(out, (uint64_t)offs[i].next);
    }
    if (!rc)
        rc = sq_put_u64(out, e->seq);
    uint32_t nt = 0;
    for (uint32_t i = 0; i < e->nsources; i++)
        nt += e->sources[i]->table && e->sources[i]->materialize;
    if (!rc)
        rc = sq_put_u32(out, nt);
    for (uint32_t i = 0; i < e->nsources && !rc; i++) {
        const struct sq_source *s = e->sources[i];
        if (!s->table || !s->materialize)
            continue;
        rc = put_name(out, s->name);
        if (!rc)
            rc = sq_put_u32(out, (uint32_t)s->state.count);
        size_t it = 0;
        struct sl_str k;
        uint64_t v;
        while (!rc && sl_hmap_next(&s->state, &it, &k, &v)) {
            const struct sq_srow *row = (const struct sq_srow *)(uintptr_t)v;
            rc = sq_put_bytes(out, k.ptr, k.len);
            if (!rc)
                rc = sq_put_u64(out, (uint64_t)row->ts);
            if (!rc)
                rc = sq_put_u64(out, row->seq);
            if (!rc)
                rc = sq_put_u32(out, row->n);
            for (uint32_t c = 0; c < row->n && !rc; c++)
                rc = sq_put_value(out, &row->v[c]);
        }
        if (rc && d)
            sl_diag_set(d, rc, "table %s: %s", s->name, sl_strerror(rc));
    }
    if (rc)
        return rc;
    if ((rc = sq_put_u32(out, e->nqueries)))
        return rc;
    bool part = false;
    for (uint32_t i = 0; i < e->nqueries && !rc; i++) {
        const struct sq_query *q = e->queries[i];
        part |= sq_query_state_partial(q);
        rc = put_name(out, sq_query_id(q));
        if (!rc)
            rc = sq_query_state_save(q, out);
        if (rc && d)
            sl_diag_set(d, rc, "query %s: %s", sq_query_id(q),
                        rc == SL_EINVAL ? "an aggregate whose state is not checkpointed "
                                          "(COUNT, SUM, AVG, MIN and MAX are)"
                                        : sl_strerror(rc));
    }
    if (partial)
        *partial = part;
    return rc;
}

static int load_tables(struct sl_sql_engine *e, struct sq_rd *r, struct sl_arena *a)
{
    uint32_t nt = sq_get_count(r, 8);
    for (uint32_t t = 0; t < nt && r->ok; t++) {
        struct sl_str name = sq_get_bytes(r, MAX_NAME);
        if (!r->ok)
            break;
        struct sq_source *s = NULL;
        for (uint32_t i = 0; i < e->nsources && !s; i++)
            if (strlen(e->sources[i]->name) == name.len &&
                memcmp(e->sources[i]->name, name.ptr, name.len) == 0)
                s = e->sources[i];
        if (!s || !s->table || !s->materialize) {
            sq_rd_fail(r, "a table this engine does not keep");
            break;
        }
        /* a row takes at least 24 bytes: key length, ts, seq, slots */
        uint32_t nrows = sq_get_count(r, 24);
        for (uint32_t i = 0; i < nrows && r->ok; i++) {
            struct sl_str k = sq_get_bytes(r, MAX_KEY);
            int64_t ts = sq_get_i64(r);
            uint64_t seq = sq_get_u64(r);
            uint32_t n = sq_get_u32(r);
            if (!r->ok)
                break;
            if (n != s->nslots) {
                sq_rd_fail(r, "a table row with another number of columns");
                break;
            }
            struct sl_value *v = sl_arena_alloc(a, (n ? n : 1) * sizeof *v);
            if (!v)
                return SL_ENOMEM;
            for (uint32_t c = 0; c < n; c++) {
                int rc = sq_get_value(r, a, &v[c]);
                if (rc)
                    return rc;
            }
            /* ROWTIME is an integer: expressions read it as one */
            if (v[s->ncols].type != SL_V_INT) {
                sq_rd_fail(r, "a table row whose ROWTIME is not an integer");
                break;
            }
            if (sl_hmap_get(&s->state, k, &(uint64_t){0})) {
                sq_rd_fail(r, "a table key twice");
                break;
            }
            struct sq_srow *row = sq_srow_new(v, n, ts, seq);
            row->bytes += sizeof(struct sl_map_slot) + k.len + 2 * SQ_ALLOC_OVERHEAD;
            if (s->state_bytes + row->bytes > e->opts.max_state_bytes) {
                sl_free(row);
                return SL_E2BIG;
            }
            s->state_bytes += row->bytes;
            if (sl_hmap_put(&s->state, k, (uint64_t)(uintptr_t)row)) {
                s->state_bytes -= row->bytes;
                sl_free(row);
                return SL_ENOMEM;
            }
            sl_arena_reset(a);
        }
    }
    return r->ok ? 0 : SL_EPARSE;
}

/* The input offsets into one allocation (names inside it); NULL when there are none. */
static struct sl_sql_state_offset *load_offsets(struct sq_rd *r, uint32_t *count)
{
    /* an entry takes at least 12 bytes: the name's length and the offset */
    uint32_t n = sq_get_count(r, 12);
    *count = 0;
    if (!r->ok || n == 0)
        return NULL;
    if (n > SL_SQL_STATE_MAX_OFFSETS) {
        sq_rd_fail(r, "too many input offsets");
        return NULL;
    }
    size_t start = r->pos, names = 0;
    for (uint32_t i = 0; i < n && r->ok; i++) {
        struct sl_str t = sq_get_bytes(r, MAX_NAME);
        int64_t off = sq_get_i64(r);
        if (r->ok && off < 0)
            sq_rd_fail(r, "a negative offset");
        if (r->ok && (t.len == 0 || memchr(t.ptr, 0, t.len)))
            sq_rd_fail(r, "an input topic with no name or a NUL byte");
        names += t.len + 1;
    }
    if (!r->ok)
        return NULL;
    struct sl_sql_state_offset *o = sl_xmalloc(n * sizeof *o + names);
    char *np = (char *)(o + n);
    r->pos = start;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_str t = sq_get_bytes(r, MAX_NAME);
        memcpy(np, t.ptr, t.len);
        np[t.len] = 0;
        o[i].topic = np;
        o[i].next = sq_get_i64(r);
        np += t.len + 1;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(o[k].topic, o[i].topic) == 0)
                sq_rd_fail(r, "an input topic twice");
    }
    if (!r->ok) {
        sl_free(o);
        return NULL;
    }
    *count = n;
    return o;
}

int sl_sql_state_load(struct sl_sql_engine *e, const void *p, size_t n,
                      struct sl_sql_state_offset **offs, uint32_t *noffs, struct sl_diag *d)
{
    struct sq_rd r = {.p = p, .n = n, .ok = true};
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    int rc = 0;
    *offs = NULL;
    *noffs = 0;
    const uint8_t *magic = take(&r, 4);
    if (magic && memcmp(magic, "SQLS", 4) != 0)
        sq_rd_fail(&r, "not a SQL state (bad magic)");
    uint32_t ver = sq_get_u32(&r);
    if (r.ok && ver != SL_SQL_STATE_VERSION)
        sq_rd_fail(&r, ver < SL_SQL_STATE_VERSION ? "an older version (written by an older sluice)"
                                                  : "an unknown version");
    uint32_t no = 0;
    struct sl_sql_state_offset *off = r.ok ? load_offsets(&r, &no) : NULL;
    uint64_t seq = sq_get_u64(&r);
    if (r.ok)
        rc = load_tables(e, &r, &a);
    uint32_t nq = rc ? 0 : sq_get_count(&r, 5);
    for (uint32_t i = 0; i < nq && r.ok && !rc; i++) {
        struct sl_str id = sq_get_bytes(&r, 64);
        struct sq_query *q = NULL;
        for (uint32_t k = 0; r.ok && k < e->nqueries && !q; k++) {
            const char *qid = sq_query_id(e->queries[k]);
            if (strlen(qid) == id.len && memcmp(qid, id.ptr, id.len) == 0)
                q = e->queries[k];
        }
        if (r.ok && !q)
            sq_rd_fail(&r, "a query this engine does not run");
        if (r.ok)
            rc = sq_query_state_load(q, &r, &a);
        sl_arena_reset(&a);
    }
    if (!rc && r.ok && r.pos != r.n)
        sq_rd_fail(&r, "bytes after the end");
    if (!r.ok || rc == SL_EPARSE) {
        rc = SL_EPARSE;
        if (d)
            sl_diag_set(d, rc, "SQL state: %s at byte %zu", r.why ? r.why : "bad record", r.pos);
    } else if (rc && d) {
        sl_diag_set(d, rc, "SQL state: %s", sl_strerror(rc));
    }
    if (!rc) {
        if (seq > e->seq)
            e->seq = seq;
        *offs = off;
        *noffs = no;
    } else {
        sl_free(off);
    }
    sl_arena_fini(&a);
    return rc;
}

bool sl_sql_state_has_joins(struct sl_sql_engine *e)
{
    for (uint32_t i = 0; i < e->nqueries; i++)
        if (sq_query_joins(e->queries[i]))
            return true;
    return false;
}
