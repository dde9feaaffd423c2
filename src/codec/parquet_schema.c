/*
 * parquet_schema.c — Parquet schemas: building, the JSON form (`schema:` in YAML,
 * schema_file), levels, and inference from buffered events.
 *
 * DESIGN: nodes live in one array and name their children by index, so a schema is a few
 * allocations however it was built. Levels follow the Dremel rules: an optional node adds one
 * definition level; a list adds one for "present" (when optional) and one for its repeated
 * middle group, and one repetition level.
 */
#include "codec/parquet_int.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
#define SL_PQ_KIND_NAME(n, s) s,
    SL_PQ_KINDS(SL_PQ_KIND_NAME)
#undef SL_PQ_KIND_NAME
};

static const char *const codec_names[] = {
#define SL_PQ_CODEC_NAME(n, s, id) s,
    SL_PQ_CODECS(SL_PQ_CODEC_NAME)
#undef SL_PQ_CODEC_NAME
};

const char *sl_pq_kind_name(enum sl_pq_kind k)
{
    return (unsigned)k < SL_PQ__KIND_COUNT ? kind_names[k] : "?";
}

int sl_pq_kind_parse(const char *name, size_t len)
{
    struct sl_str s = sl_str_make(name, len);
    for (int i = 0; i < SL_PQ__KIND_COUNT; i++)
        if (sl_str_eq_c(s, kind_names[i]))
            return i;
    static const struct {
        const char *alias;
        int kind;
    } aliases[] = {{"struct", SL_PQ_GROUP},    {"boolean", SL_PQ_BOOL}, {"int", SL_PQ_INT64},
                   {"long", SL_PQ_INT64},      {"float", SL_PQ_DOUBLE}, {"ip", SL_PQ_STRING},
                   {"timestamp", SL_PQ_TS_US}, {"binary", SL_PQ_BYTES}};
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (sl_str_eq_c(s, aliases[i].alias))
            return aliases[i].kind;
    return -1;
}

const char *sl_pq_codec_name(enum sl_pq_codec c)
{
    return (unsigned)c < SL_PQ__CODEC_COUNT ? codec_names[c] : "?";
}

int sl_pq_codec_parse(const char *name)
{
    for (int i = 0; i < SL_PQ__CODEC_COUNT; i++)
        if (!strcmp(name, codec_names[i]))
            return i;
    return -1;
}

struct sl_pq_schema *sl_pq_schema_new(void)
{
    return sl_xcalloc(1, sizeof(struct sl_pq_schema));
}

void sl_pq_schema_free(struct sl_pq_schema *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->count; i++) {
        sl_free(s->nodes[i].name);
        sl_free(s->nodes[i].kids);
    }
    sl_free(s->nodes);
    sl_free(s->top);
    sl_free(s->cols);
    sl_free(s);
}

static void push_int(int **arr, uint32_t *n, uint32_t *cap, int v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *arr = sl_xrealloc(*arr, *cap * sizeof(int));
    }
    (*arr)[(*n)++] = v;
}

int sl_pq_schema_add(struct sl_pq_schema *s, int parent, const char *name, enum sl_pq_kind k,
                     bool optional, uint32_t fixed_len)
{
    if (s->finished || (unsigned)k >= SL_PQ__KIND_COUNT || !name)
        return SL_EINVAL;
    if (s->count >= SL_PQ_MAX_FIELDS)
        return SL_ELIMIT;
    if ((k == SL_PQ_FIXED) != (fixed_len > 0) || fixed_len > 65536)
        return SL_EINVAL;
    const int *sib;
    uint32_t nsib;
    if (parent == SL_PQ_ROOT) {
        sib = s->top;
        nsib = s->ntop;
    } else {
        if (parent < 0 || (uint32_t)parent >= s->count)
            return SL_EINVAL;
        const struct pq_node *p = &s->nodes[parent];
        if (sl_pq__is_leaf(p->kind) || (p->kind == SL_PQ_LIST && p->nkids))
            return SL_EINVAL;
        int depth = 1;
        for (int q = parent; q != SL_PQ_ROOT; q = s->nodes[q].parent)
            depth++;
        if (depth > SL_PQ_MAX_DEPTH)
            return SL_ELIMIT;
        sib = p->kids;
        nsib = p->nkids;
        if (p->kind == SL_PQ_LIST)
            name = "element";
    }
    if (!name[0] || strlen(name) > 255)
        return SL_EINVAL;
    for (uint32_t i = 0; i < nsib; i++)
        if (!strcmp(s->nodes[sib[i]].name, name))
            return SL_EINVAL;
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->nodes = sl_xrealloc(s->nodes, s->cap * sizeof(*s->nodes));
    }
    int id = (int)s->count++;
    struct pq_node *n = &s->nodes[id];
    memset(n, 0, sizeof(*n));
    n->name = sl_xstrdup(name);
    n->kind = (uint8_t)k;
    n->optional = optional;
    n->fixed_len = fixed_len;
    n->parent = parent;
    n->col = -1;
    if (parent == SL_PQ_ROOT)
        push_int(&s->top, &s->ntop, &s->cap_top, id);
    else
        push_int(&s->nodes[parent].kids, &s->nodes[parent].nkids, &s->nodes[parent].cap_kids, id);
    return id;
}

static int finish_node(struct sl_pq_schema *s, int id, uint16_t pdef, uint16_t prep,
                       uint32_t *ncols)
{
    struct pq_node *n = &s->nodes[id];
    n->def = (uint16_t)(pdef + (n->optional ? 1 : 0));
    n->rep = prep;
    if (sl_pq__is_leaf(n->kind)) {
        n->col = (int)*ncols;
        s->cols[(*ncols)++] = id;
        return 0;
    }
    if (!n->nkids)
        return SL_EINVAL; /* empty groups are not valid Parquet */
    uint16_t kdef = n->kind == SL_PQ_LIST ? (uint16_t)(n->def + 1) : n->def;
    uint16_t krep = n->kind == SL_PQ_LIST ? (uint16_t)(prep + 1) : prep;
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = finish_node(s, s->nodes[id].kids[i], kdef, krep, ncols);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_pq__schema_finish(struct sl_pq_schema *s)
{
    if (s->finished)
        return 0;
    if (!s->ntop)
        return SL_EINVAL;
    s->cols = sl_xcalloc(s->count ? s->count : 1, sizeof(int));
    uint32_t ncols = 0;
    for (uint32_t i = 0; i < s->ntop; i++) {
        int rc = finish_node(s, s->top[i], 0, 0, &ncols);
        if (rc) {
            sl_free(s->cols);
            s->cols = NULL;
            return rc;
        }
    }
    s->ncols = ncols;
    s->finished = true;
    return 0;
}

uint32_t sl_pq_schema_fields(const struct sl_pq_schema *s)
{
    return s->ntop;
}

uint32_t sl_pq_schema_columns(const struct sl_pq_schema *s)
{
    if (s->finished)
        return s->ncols;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->count; i++)
        n += sl_pq__is_leaf(s->nodes[i].kind);
    return n;
}

/* ---- JSON form */

static int parse_node(struct sl_pq_schema *s, int parent, const char *name,
                      const struct sl_value *v, int depth, struct sl_diag *d)
{
    if (depth > SL_PQ_MAX_DEPTH)
        return sl_diag_set(d, SL_EDEPTH, "schema: field '%s' nested too deep", name);
    int id;
    if (v->type == SL_V_STRING) {
        struct sl_str t = sl_value_as_str(v);
        bool req = t.len && t.ptr[t.len - 1] == '!';
        if (req)
            t.len--;
        uint32_t fixed = 0;
        int k;
        if (t.len > 6 && !memcmp(t.ptr, "fixed(", 6) && t.ptr[t.len - 1] == ')') {
            int64_t n;
            if (sl_str_to_i64(sl_str_make(t.ptr + 6, t.len - 7), &n) || n < 1 || n > 65536)
                return sl_diag_set(d, SL_EINVAL, "schema: field '%s': bad length in '%.*s'", name,
                                   (int)v->len, v->u.s);
            k = SL_PQ_FIXED;
            fixed = (uint32_t)n;
        } else {
            k = sl_pq_kind_parse(t.ptr, t.len);
        }
        if (k < 0 || !sl_pq__is_leaf((enum sl_pq_kind)k)) {
            sl_diag_hint(d, "one of bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 double "
                            "string json bytes fixed(N) timestamp_us timestamp_ns date; "
                            "\"!\" at the end: required");
            return sl_diag_set(d, SL_EINVAL, "schema: field '%s': unknown type '%.*s'", name,
                               (int)v->len, v->u.s);
        }
        id = sl_pq_schema_add(s, parent, name, (enum sl_pq_kind)k, !req, fixed);
    } else if (v->type == SL_V_MAP) {
        if (!v->len)
            return sl_diag_set(d, SL_EINVAL, "schema: group '%s' has no fields", name);
        id = sl_pq_schema_add(s, parent, name, SL_PQ_GROUP, true, 0);
        for (uint32_t i = 0; id >= 0 && i < v->len; i++) {
            char kname[256];
            sl_str_copy(kname, sizeof(kname), v->u.map[i].key);
            int rc = parse_node(s, id, kname, &v->u.map[i].val, depth + 1, d);
            if (rc)
                return rc;
        }
    } else if (v->type == SL_V_LIST) {
        if (v->len != 1)
            return sl_diag_set(d, SL_EINVAL, "schema: list '%s' must name exactly one element type",
                               name);
        id = sl_pq_schema_add(s, parent, name, SL_PQ_LIST, true, 0);
        if (id >= 0) {
            int rc = parse_node(s, id, "element", &v->u.list[0], depth + 1, d);
            if (rc)
                return rc;
        }
    } else {
        return sl_diag_set(d, SL_EINVAL,
                           "schema: field '%s': a type name, a mapping (group) or a one-item "
                           "list expected",
                           name);
    }
    if (id < 0)
        return sl_diag_set(d, id, "schema: cannot add field '%s' (%s)", name,
                           id == SL_EINVAL ? "duplicate or bad name" : sl_strerror(id));
    return 0;
}

int sl_pq_schema_parse(const char *json, size_t len, struct sl_pq_schema **out, struct sl_diag *d)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, (size_t)16 << 20);
    struct sl_value v;
    *out = NULL;
    int rc = sl_json_parse_value(&a, json, len, NULL, &v, d);
    if (rc)
        goto done;
    if (v.type != SL_V_MAP || !v.len) {
        rc = sl_diag_set(d, SL_EINVAL, "schema: a mapping of field names to types expected");
        goto done;
    }
    struct sl_pq_schema *s = sl_pq_schema_new();
    for (uint32_t i = 0; i < v.len && !rc; i++) {
        char kname[256];
        sl_str_copy(kname, sizeof(kname), v.u.map[i].key);
        rc = parse_node(s, SL_PQ_ROOT, kname, &v.u.map[i].val, 1, d);
    }
    if (!rc && (rc = sl_pq__schema_finish(s)) != 0)
        sl_diag_set(d, rc, "schema: invalid (a group or list without fields)");
    if (rc)
        sl_pq_schema_free(s);
    else
        *out = s;
done:
    sl_arena_fini(&a);
    return rc;
}

static int node_json(const struct sl_pq_schema *s, int id, struct sl_buf *out)
{
    const struct pq_node *n = &s->nodes[id];
    int rc = 0;
    if (n->kind == SL_PQ_GROUP) {
        rc = sl_buf_putc(out, '{');
        for (uint32_t i = 0; i < n->nkids && !rc; i++) {
            if (i)
                rc = sl_buf_putc(out, ',');
            if (!rc)
                rc = sl_json_write_string(out, s->nodes[n->kids[i]].name,
                                          strlen(s->nodes[n->kids[i]].name));
            if (!rc)
                rc = sl_buf_putc(out, ':');
            if (!rc)
                rc = node_json(s, n->kids[i], out);
        }
        return rc ? rc : sl_buf_putc(out, '}');
    }
    if (n->kind == SL_PQ_LIST) {
        rc = sl_buf_putc(out, '[');
        if (!rc && n->nkids)
            rc = node_json(s, n->kids[0], out);
        return rc ? rc : sl_buf_putc(out, ']');
    }
    if (n->kind == SL_PQ_FIXED)
        return sl_buf_appendf(out, "\"fixed(%u)%s\"", n->fixed_len, n->optional ? "" : "!");
    return sl_buf_appendf(out, "\"%s%s\"", kind_names[n->kind], n->optional ? "" : "!");
}

int sl_pq_schema_to_json(const struct sl_pq_schema *s, struct sl_buf *out)
{
    int rc = sl_buf_putc(out, '{');
    for (uint32_t i = 0; i < s->ntop && !rc; i++) {
        const char *name = s->nodes[s->top[i]].name;
        if (i)
            rc = sl_buf_putc(out, ',');
        if (!rc)
            rc = sl_json_write_string(out, name, strlen(name));
        if (!rc)
            rc = sl_buf_putc(out, ':');
        if (!rc)
            rc = node_json(s, s->top[i], out);
    }
    return rc ? rc : sl_buf_putc(out, '}');
}

/* ---- inference */

enum {
    SEEN_BOOL = 1,
    SEEN_INT = 2,
    SEEN_DOUBLE = 4,
    SEEN_TEXT = 8,
    SEEN_TS = 16,
    SEEN_BYTES = 32,
    SEEN_NESTED = 64
};

struct infer_col {
    struct sl_str name;
    unsigned seen;
};

static unsigned seen_of(const struct sl_value *v)
{
    switch (v->type) {
    case SL_V_BOOL:
        return SEEN_BOOL;
    case SL_V_INT:
        return SEEN_INT;
    case SL_V_DOUBLE:
        return SEEN_DOUBLE;
    case SL_V_TS:
        return SEEN_TS;
    case SL_V_BYTES:
        return SEEN_BYTES;
    case SL_V_LIST:
    case SL_V_MAP:
    case SL_V_OBJECT:
        return SEEN_NESTED;
    case SL_V_NULL:
        return 0;
    default:
        return SEEN_TEXT;
    }
}

static enum sl_pq_kind kind_of(unsigned seen)
{
    if (seen & SEEN_NESTED)
        return SL_PQ_JSON;
    switch (seen) {
    case SEEN_BOOL:
        return SL_PQ_BOOL;
    case SEEN_INT:
        return SL_PQ_INT64;
    case SEEN_DOUBLE:
    case SEEN_INT | SEEN_DOUBLE:
        return SL_PQ_DOUBLE;
    case SEEN_TS:
        return SL_PQ_TS_US;
    case SEEN_BYTES:
        return SL_PQ_BYTES;
    default:
        return SL_PQ_STRING; /* text, or mixed scalars (int -> double -> string) */
    }
}

struct sl_pq_schema *sl_pq__schema_infer(const struct sl_value *rows, size_t count)
{
    struct infer_col *cols = NULL;
    size_t ncols = 0, cap = 0;
    for (size_t r = 0; r < count; r++) {
        const struct sl_value *row = &rows[r];
        for (uint32_t i = 0; row->type == SL_V_MAP && i < row->len; i++) {
            const struct sl_kv *kv = &row->u.map[i];
            if (!kv->key.len || kv->key.len > 255)
                continue;
            size_t k = 0;
            /* rows of one message type repeat their fields in order: try the same slot */
            if (i < ncols && sl_str_eq(cols[i].name, kv->key))
                k = i;
            else
                for (k = 0; k < ncols && !sl_str_eq(cols[k].name, kv->key); k++)
                    ;
            if (k == ncols) {
                if (ncols >= SL_PQ_MAX_FIELDS)
                    continue;
                if (ncols == cap) {
                    cap = cap ? cap * 2 : 32;
                    cols = sl_xrealloc(cols, cap * sizeof(*cols));
                }
                cols[ncols].name = kv->key;
                cols[ncols].seen = 0;
                ncols++;
            }
            cols[k].seen |= seen_of(&kv->val);
        }
    }
    struct sl_pq_schema *s = sl_pq_schema_new();
    for (size_t k = 0; k < ncols; k++) {
        char name[256];
        sl_str_copy(name, sizeof(name), cols[k].name);
        (void)sl_pq_schema_add(s, SL_PQ_ROOT, name, kind_of(cols[k].seen), true, 0);
    }
    sl_free(cols);
    return s;
}
