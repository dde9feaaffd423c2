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

static int get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out, int depth)
{
    *out = sl_value_null();
    if (depth > MAX_DEPTH) {
        sl_binrd_fail(r, "values nested too deep");
        return SL_EPARSE;
    }
    uint8_t t = sl_binrd_u8(r);
    if (!r->ok)
        return SL_EPARSE;
    switch (t) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL: {
        uint8_t b = sl_binrd_u8(r);
        if (b > 1)
            sl_binrd_fail(r, "a boolean that is neither 0 nor 1");
        *out = sl_value_bool(b == 1);
        break;
    }
    case SL_V_INT:
    case SL_V_TS:
    case SL_V_DOUBLE: {
        uint8_t fl = sl_binrd_u8(r);
        uint64_t u = sl_binrd_u64(r);
        if (fl & ~(SL_VF_I32 | SL_VF_F32))
            sl_binrd_fail(r, "unknown number flags");
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
        struct sl_str s = sl_binrd_str(r, MAX_STR);
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
        uint32_t n = sl_binrd_count(r, 1);
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
        uint32_t n = sl_binrd_count(r, 5);
        if (!r->ok)
            break;
        struct sl_kv *m = sl_arena_alloc(a, (n ? n : 1) * sizeof *m);
        if (!m)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            struct sl_str k = sl_binrd_str(r, MAX_NAME);
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
        sl_binrd_fail(r, "an unknown value type");
        break;
    }
    return r->ok ? 0 : SL_EPARSE;
}

int sq_get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out)
{
    return get_value(r, a, out, 0);
}

static int put_value(struct sl_buf *b, const struct sl_value *v, int depth)
{
    if (depth > MAX_DEPTH)
        return SL_EDEPTH;
    int rc = sl_binwr_u8(b, v->type);
    if (rc)
        return rc;
    switch (v->type) {
    case SL_V_NULL:
        return 0;
    case SL_V_BOOL:
        return sl_binwr_u8(b, v->u.b ? 1 : 0);
    case SL_V_INT:
    case SL_V_TS:
    case SL_V_DOUBLE: {
        uint64_t u;
        memcpy(&u, &v->u.i, sizeof u);
        rc = sl_binwr_u8(b, v->flags & (SL_VF_I32 | SL_VF_F32));
        return rc ? rc : sl_binwr_u64(b, u);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        if (v->len > MAX_STR)
            return SL_E2BIG;
        return sl_binwr_str(b, v->u.s, v->len);
    case SL_V_LIST:
        rc = sl_binwr_u32(b, v->len);
        for (uint32_t i = 0; i < v->len && !rc; i++)
            rc = put_value(b, &v->u.list[i], depth + 1);
        return rc;
    case SL_V_MAP:
        rc = sl_binwr_u32(b, v->len);
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (v->u.map[i].key.len > MAX_NAME)
                return SL_E2BIG;
            rc = sl_binwr_str(b, v->u.map[i].key.ptr, v->u.map[i].key.len);
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
    return sl_binwr_str(b, s, strlen(s));
}

int sl_sql_state_save(struct sl_sql_engine *e, const struct sl_partstate_offset *offs,
                      uint32_t noffs, struct sl_buf *out, bool *partial, struct sl_diag *d)
{
    int rc = sl_partstate_head_put(out, "SQLS", SL_SQL_STATE_VERSION, offs, noffs);
    if (rc == SL_EINVAL && d)
        sl_diag_set(d, rc,
                    "SQL state: %u input offsets, one of them negative or unnamed (at most %u)",
                    noffs, SL_PARTSTATE_MAX_OFFSETS);
    if (!rc)
        rc = sl_binwr_u64(out, e->seq);
    uint32_t nt = 0;
    for (uint32_t i = 0; i < e->nsources; i++)
        nt += e->sources[i]->table && e->sources[i]->materialize;
    if (!rc)
        rc = sl_binwr_u32(out, nt);
    for (uint32_t i = 0; i < e->nsources && !rc; i++) {
        const struct sq_source *s = e->sources[i];
        if (!s->table || !s->materialize)
            continue;
        rc = put_name(out, s->name);
        if (!rc)
            rc = sl_binwr_u32(out, (uint32_t)s->state.count);
        size_t it = 0;
        struct sl_str k;
        uint64_t v;
        while (!rc && sl_hmap_next(&s->state, &it, &k, &v)) {
            const struct sq_srow *row = (const struct sq_srow *)(uintptr_t)v;
            rc = sl_binwr_str(out, k.ptr, k.len);
            if (!rc)
                rc = sl_binwr_u64(out, (uint64_t)row->ts);
            if (!rc)
                rc = sl_binwr_u64(out, row->seq);
            if (!rc)
                rc = sl_binwr_u32(out, row->n);
            for (uint32_t c = 0; c < row->n && !rc; c++)
                rc = sq_put_value(out, &row->v[c]);
        }
        if (rc && d)
            sl_diag_set(d, rc, "table %s: %s", s->name, sl_strerror(rc));
    }
    if (rc)
        return rc;
    if ((rc = sl_binwr_u32(out, e->nqueries)))
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

static int load_tables(struct sl_sql_engine *e, struct sl_binrd *r, struct sl_arena *a)
{
    uint32_t nt = sl_binrd_count(r, 8);
    for (uint32_t t = 0; t < nt && r->ok; t++) {
        struct sl_str name = sl_binrd_str(r, MAX_NAME);
        if (!r->ok)
            break;
        struct sq_source *s = NULL;
        for (uint32_t i = 0; i < e->nsources && !s; i++)
            if (strlen(e->sources[i]->name) == name.len &&
                memcmp(e->sources[i]->name, name.ptr, name.len) == 0)
                s = e->sources[i];
        if (!s || !s->table || !s->materialize) {
            sl_binrd_fail(r, "a table this engine does not keep");
            break;
        }
        /* a row takes at least 24 bytes: key length, ts, seq, slots */
        uint32_t nrows = sl_binrd_count(r, 24);
        for (uint32_t i = 0; i < nrows && r->ok; i++) {
            struct sl_str k = sl_binrd_str(r, MAX_KEY);
            int64_t ts = sl_binrd_i64(r);
            uint64_t seq = sl_binrd_u64(r);
            uint32_t n = sl_binrd_u32(r);
            if (!r->ok)
                break;
            if (n != s->nslots) {
                sl_binrd_fail(r, "a table row with another number of columns");
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
                sl_binrd_fail(r, "a table row whose ROWTIME is not an integer");
                break;
            }
            if (sl_hmap_get(&s->state, k, &(uint64_t){0})) {
                sl_binrd_fail(r, "a table key twice");
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

int sl_sql_state_load(struct sl_sql_engine *e, const void *p, size_t n,
                      struct sl_partstate_offset **offs, uint32_t *noffs, struct sl_diag *d)
{
    struct sl_binrd r = {.p = p, .n = n, .ok = true};
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    int rc = 0;
    *offs = NULL;
    *noffs = 0;
    const uint8_t *magic = sl_binrd_take(&r, 4);
    if (magic && memcmp(magic, "SQLS", 4) != 0)
        sl_binrd_fail(&r, "not a SQL state (bad magic)");
    uint32_t ver = sl_binrd_u32(&r);
    if (r.ok && ver != SL_SQL_STATE_VERSION)
        sl_binrd_fail(&r, ver < SL_SQL_STATE_VERSION
                              ? "an older version (written by an older sluice)"
                              : "an unknown version");
    uint32_t no = 0;
    struct sl_partstate_offset *off = r.ok ? sl_partstate_offsets_get(&r, &no) : NULL;
    uint64_t seq = sl_binrd_u64(&r);
    if (r.ok)
        rc = load_tables(e, &r, &a);
    uint32_t nq = rc ? 0 : sl_binrd_count(&r, 5);
    for (uint32_t i = 0; i < nq && r.ok && !rc; i++) {
        struct sl_str id = sl_binrd_str(&r, 64);
        struct sq_query *q = NULL;
        for (uint32_t k = 0; r.ok && k < e->nqueries && !q; k++) {
            const char *qid = sq_query_id(e->queries[k]);
            if (strlen(qid) == id.len && memcmp(qid, id.ptr, id.len) == 0)
                q = e->queries[k];
        }
        if (r.ok && !q)
            sl_binrd_fail(&r, "a query this engine does not run");
        if (r.ok)
            rc = sq_query_state_load(q, &r, &a);
        sl_arena_reset(&a);
    }
    if (!rc && r.ok && r.pos != r.n)
        sl_binrd_fail(&r, "bytes after the end");
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
