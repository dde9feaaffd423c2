/*
 * fn_coll.c — Stellar builtins over lists, maps, sets and multisets, and the functional
 * ones (MAP, FILTER, REDUCE, ZIP, ZIP_LONGEST).
 *
 * DESIGN: values live in the evaluation's arena and are never changed in place: where
 * Metron mutates its argument (LIST_ADD, MAP_PUT, SET_ADD, MULTISET_ADD) sluice returns a
 * new collection holding the change. An expression sees the same result; only code that
 * kept an alias to the old collection could tell (docs/stellar-collections.md). A Set is a
 * list flagged SL_VF_SET (insertion order, no duplicates); a multiset is a map from the
 * element's text (Java's toString) to its Integer count, since map keys are strings. A String
 * given where a list is expected is iterated as its characters.
 *
 * Null and wrong-type arguments follow Metron's code (apache/metron stellar-common
 * DataStructureFunctions, MapFunctions, SetFunctions, FunctionalFunctions, OrdinalFunctions):
 * where Metron returns its input or null, so do these; where it would throw (a cast or a
 * NullPointerException), these fail with a message.
 */
#include "lang/func.h"
#include "lang/sval.h"

#include <math.h>
#include <string.h>

/* Elements of a list-like argument; strings become their characters (1-byte views for
 * ASCII, whole UTF-8 sequences otherwise). */
static int elems(struct sl_fcx *cx, const struct sl_value *v, struct sl_value *out)
{
    if (v->type == SL_V_LIST) {
        *out = *v;
        return 0;
    }
    if (v->type == SL_V_NULL)
        return sl_fcx_list(cx, 0, out);
    if (v->type == SL_V_STRING) {
        /* count exactly as the loop below splits (a stray continuation byte is its own piece) */
        uint32_t n = 0;
        for (uint32_t i = 0; i < v->len; n++) {
            uint32_t j = i + 1;
            while (j < v->len && ((unsigned char)v->u.s[j] & 0xC0) == 0x80)
                j++;
            i = j;
        }
        int rc = sl_fcx_list(cx, n, out);
        if (rc)
            return rc;
        uint32_t k = 0;
        for (uint32_t i = 0; i < v->len;) {
            uint32_t j = i + 1;
            while (j < v->len && ((unsigned char)v->u.s[j] & 0xC0) == 0x80)
                j++;
            out->u.list[k++] = sl_value_str(v->u.s + i, j - i);
            i = j;
        }
        return 0;
    }
    return sl_fcx_error(cx, "expected a list, got %s", sl_vtype_name((enum sl_vtype)v->type));
}

static int key_text(struct sl_fcx *cx, const struct sl_value *k, struct sl_str *out)
{
    if (k->type == SL_V_STRING) {
        *out = sl_value_as_str(k);
        return 0;
    }
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = sl_sv_format(k, b);
    struct sl_value s;
    if (!rc)
        rc = sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, &s);
    if (!rc)
        *out = sl_value_as_str(&s);
    return rc;
}

static int f_get_first(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (!rc && l.len)
        *out = l.u.list[0];
    return rc;
}

static int f_get_last(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (!rc && l.len)
        *out = l.u.list[l.len - 1];
    return rc;
}

static int f_get(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[1].type != SL_V_INT)
        return sl_fcx_error(cx, "GET: the index must be an integer");
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    if (a[1].u.i < 0)
        return sl_fcx_error(cx, "GET: negative index");
    if ((uint64_t)a[1].u.i < l.len)
        *out = l.u.list[a[1].u.i];
    return 0;
}

/* Metron: no list → the first argument unchanged (null, a string, a set, a number); a list →
 * the list with the element appended (a copy here). */
static int f_list_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (n < 2 || a[0].type != SL_V_LIST || (a[0].flags & SL_VF_SET)) {
        *out = a[0];
        return 0;
    }
    int rc = sl_fcx_list(cx, a[0].len + 1, out);
    if (rc)
        return rc;
    if (a[0].len)
        memcpy(out->u.list, a[0].u.list, a[0].len * sizeof *a[0].u.list);
    out->u.list[a[0].len] = a[1];
    return 0;
}

static int f_map_get(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    const struct sl_value *def = n > 2 ? &a[2] : NULL;
    if (a[0].type == SL_V_NULL || a[1].type != SL_V_MAP) {
        if (a[1].type != SL_V_MAP && a[1].type != SL_V_NULL)
            return sl_fcx_error(cx, "MAP_GET: expected a map");
        if (def)
            *out = *def;
        return 0;
    }
    struct sl_str k;
    int rc = key_text(cx, &a[0], &k);
    if (rc)
        return rc;
    const struct sl_value *v = sl_value_map_get(&a[1], k);
    if (v && v->type != SL_V_NULL)
        *out = *v;
    else if (def)
        *out = *def;
    return 0;
}

static int f_map_exists(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(false);
    if (n < 2 || a[1].type != SL_V_MAP || a[0].type == SL_V_NULL)
        return 0;
    struct sl_str k;
    int rc = key_text(cx, &a[0], &k);
    if (!rc)
        *out = sl_value_bool(sl_value_map_get(&a[1], k) != NULL);
    return rc;
}

/* A copy of map m (or an empty map) with room for `extra` more keys. */
static int map_copy(struct sl_fcx *cx, const struct sl_value *m, uint32_t extra,
                    struct sl_value *out)
{
    uint32_t n = m && m->type == SL_V_MAP ? m->len : 0;
    int rc = sl_fcx_map(cx, n + extra, out);
    if (rc)
        return rc;
    if (n)
        memcpy(out->u.map, m->u.map, n * sizeof *out->u.map);
    out->len = n;
    return 0;
}

static void map_set(struct sl_value *m, struct sl_str k, struct sl_value v)
{
    for (uint32_t i = 0; i < m->len; i++) {
        if (sl_str_eq(m->u.map[i].key, k)) {
            m->u.map[i].val = v;
            return;
        }
    }
    m->u.map[m->len].key = k;
    m->u.map[m->len].val = v;
    m->len++;
}

static int f_map_put(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[2].type != SL_V_MAP && a[2].type != SL_V_NULL)
        return sl_fcx_error(cx, "MAP_PUT: expected a map");
    struct sl_str k;
    int rc = key_text(cx, &a[0], &k);
    if (!rc)
        rc = map_copy(cx, &a[2], 1, out);
    if (!rc)
        map_set(out, k, a[1]);
    return rc;
}

static int f_map_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "MAP_MERGE expects a list of maps");
    uint32_t total = 0;
    for (uint32_t i = 0; i < a[0].len; i++) {
        const struct sl_value *m = &a[0].u.list[i];
        if (m->type == SL_V_MAP)
            total += m->len;
        else if (m->type != SL_V_NULL)
            return sl_fcx_error(cx, "MAP_MERGE: element %u is not a map", i);
    }
    if (a[0].len == 1 && a[0].u.list[0].type == SL_V_MAP) {
        *out = a[0].u.list[0];
        return 0;
    }
    int rc = map_copy(cx, NULL, total, out);
    for (uint32_t i = 0; i < a[0].len && !rc; i++) {
        const struct sl_value *m = &a[0].u.list[i];
        if (m->type != SL_V_MAP)
            continue;
        for (uint32_t j = 0; j < m->len; j++)
            map_set(out, m->u.map[j].key, m->u.map[j].val);
    }
    return rc;
}

static int minmax(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, int sign)
{
    if (a[0].type == SL_V_NULL)
        return sl_fcx_error(cx, "%s function requires at least a Stellar list of values",
                            sign > 0 ? "MAX" : "MIN");
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    const struct sl_value *best = NULL;
    for (uint32_t i = 0; i < l.len; i++) {
        const struct sl_value *v = &l.u.list[i];
        if (v->type == SL_V_NULL)
            continue;
        if (!best) {
            best = v;
            continue;
        }
        int c;
        if (sl_sv_compare(v, best, &c))
            return 0; /* not mutually comparable: null */
        if (c != 2 && c * sign > 0)
            best = v;
    }
    if (best)
        *out = *best;
    return 0;
}

static int f_max(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return minmax(cx, a, out, 1);
}

static int f_min(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return minmax(cx, a, out, -1);
}

/* ---- sets ---- */

static bool list_has(const struct sl_value *l, uint32_t n, const struct sl_value *v)
{
    for (uint32_t i = 0; i < n; i++)
        if (sl_sv_equal(&l->u.list[i], v))
            return true;
    return false;
}

/* Elements of what SET_INIT / MULTISET_INIT accept: a list, a set or a string (characters);
 * Metron ignores anything that is not Iterable (null, numbers, maps): no elements. */
static int iterable_or_empty(struct sl_fcx *cx, const struct sl_value *v, struct sl_value *out)
{
    if (v->type == SL_V_LIST || v->type == SL_V_STRING)
        return elems(cx, v, out);
    *out = (struct sl_value){.type = SL_V_LIST};
    return 0;
}

/* A set of the elements of the `count` lists `src` (nulls kept, as LinkedHashSet.addAll), plus
 * the `nadd` values `add`, minus the `ndrop` values `drop` (nulls in both ignored, as Metron). */
static int make_set(struct sl_fcx *cx, const struct sl_value *src, int count,
                    const struct sl_value *add, int nadd, const struct sl_value *drop, int ndrop,
                    struct sl_value *out)
{
    uint64_t cap = (uint64_t)(nadd > 0 ? nadd : 0);
    for (int s = 0; s < count; s++)
        cap += src[s].len;
    if (cap > UINT32_MAX)
        return SL_E2BIG;
    int rc = sl_fcx_list(cx, (uint32_t)cap, out);
    if (rc)
        return rc;
    out->flags = SL_VF_SET;
    uint32_t n = 0;
    for (int s = 0; s <= count; s++) {
        const struct sl_value *vs = s < count ? src[s].u.list : add;
        uint32_t vn = s < count ? src[s].len : (uint32_t)(nadd > 0 ? nadd : 0);
        for (uint32_t i = 0; i < vn; i++) {
            const struct sl_value *v = &vs[i];
            if (s == count && v->type == SL_V_NULL)
                continue;
            bool dropped = false;
            for (int d = 0; d < ndrop && !dropped; d++)
                dropped = drop[d].type != SL_V_NULL && sl_sv_equal(v, &drop[d]);
            if (!dropped && !list_has(out, n, v))
                out->u.list[n++] = *v;
        }
    }
    out->len = n;
    return 0;
}

static int f_set_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_value l = {.type = SL_V_LIST};
    int rc = n > 0 ? iterable_or_empty(cx, &a[0], &l) : 0;
    return rc ? rc : make_set(cx, &l, 1, NULL, 0, NULL, 0, out);
}

/* The set argument of SET_ADD / SET_REMOVE: Metron casts it (a null set throws later). */
static int set_arg(struct sl_fcx *cx, const char *fn, const struct sl_value *v)
{
    if (v->type == SL_V_LIST)
        return 0;
    if (v->type == SL_V_NULL)
        return sl_fcx_error(cx, "%s: the set is null (start from SET_INIT())", fn);
    return sl_fcx_error(cx, "%s: expected a set, got %s", fn,
                        sl_vtype_name((enum sl_vtype)v->type));
}

static int f_set_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int rc = set_arg(cx, "SET_ADD", &a[0]);
    return rc ? rc : make_set(cx, &a[0], 1, a + 1, n - 1, NULL, 0, out);
}

static int f_set_remove(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int rc = set_arg(cx, "SET_REMOVE", &a[0]);
    return rc ? rc : make_set(cx, &a[0], 1, NULL, 0, a + 1, n - 1, out);
}

static int f_set_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "SET_MERGE expects a list of sets, got %s",
                            sl_vtype_name((enum sl_vtype)a[0].type));
    uint32_t k = 0;
    struct sl_value *sets = sl_fcx_alloc(cx, (a[0].len ? a[0].len : 1) * sizeof *sets);
    if (!sets)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < a[0].len; i++) {
        const struct sl_value *s = &a[0].u.list[i];
        if (s->type == SL_V_NULL)
            continue;
        if (s->type != SL_V_LIST)
            return sl_fcx_error(cx, "SET_MERGE: element %u is %s, not a set", i,
                                sl_vtype_name((enum sl_vtype)s->type));
        sets[k++] = *s;
    }
    return make_set(cx, sets, (int)k, NULL, 0, NULL, 0, out);
}

/* ---- multisets: element text -> Integer count ---- */

static int ms_add(struct sl_fcx *cx, struct sl_value *m, const struct sl_value *v, int32_t by)
{
    struct sl_str k;
    int rc = key_text(cx, v, &k);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < m->len; i++) {
        if (sl_str_eq(m->u.map[i].key, k)) {
            int32_t c = (int32_t)((uint32_t)m->u.map[i].val.u.i + (uint32_t)by);
            if (by < 0 && c <= 0) {
                memmove(&m->u.map[i], &m->u.map[i + 1], (m->len - i - 1) * sizeof *m->u.map);
                m->len--;
            } else {
                m->u.map[i].val = sl_sv_int(c);
            }
            return 0;
        }
    }
    if (by < 0) /* Metron: ret.get(o) is null, and unboxing it throws */
        return sl_fcx_error(cx, "MULTISET_REMOVE: %.*s is not in the multiset",
                            (int)(k.len > 64 ? 64 : k.len), k.ptr);
    m->u.map[m->len].key = k;
    m->u.map[m->len].val = sl_sv_int(by);
    m->len++;
    return 0;
}

static int f_multiset_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_value l = {.type = SL_V_LIST};
    int rc = n > 0 ? iterable_or_empty(cx, &a[0], &l) : 0;
    if (!rc)
        rc = map_copy(cx, NULL, l.len, out);
    for (uint32_t i = 0; i < l.len && !rc; i++)
        if (l.u.list[i].type != SL_V_NULL)
            rc = ms_add(cx, out, &l.u.list[i], 1);
    return rc;
}

static int ms_arg(struct sl_fcx *cx, const char *fn, const struct sl_value *v)
{
    if (v->type == SL_V_MAP)
        return 0;
    if (v->type == SL_V_NULL)
        return sl_fcx_error(cx, "%s: the multiset is null (start from MULTISET_INIT())", fn);
    return sl_fcx_error(cx, "%s: expected a multiset, got %s", fn,
                        sl_vtype_name((enum sl_vtype)v->type));
}

static int f_multiset_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    int rc = ms_arg(cx, "MULTISET_ADD", &a[0]);
    if (!rc)
        rc = map_copy(cx, &a[0], (uint32_t)(n - 1), out);
    for (int i = 1; i < n && !rc; i++)
        if (a[i].type != SL_V_NULL)
            rc = ms_add(cx, out, &a[i], 1);
    return rc;
}

static int f_multiset_remove(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *out)
{
    int rc = ms_arg(cx, "MULTISET_REMOVE", &a[0]);
    if (!rc)
        rc = map_copy(cx, &a[0], 0, out);
    for (int i = 1; i < n && !rc; i++)
        if (a[i].type != SL_V_NULL)
            rc = ms_add(cx, out, &a[i], -1);
    return rc;
}

static int f_multiset_merge(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "MULTISET_MERGE expects a list of multisets, got %s",
                            sl_vtype_name((enum sl_vtype)a[0].type));
    uint64_t total = 0;
    for (uint32_t i = 0; i < a[0].len; i++) {
        const struct sl_value *m = &a[0].u.list[i];
        if (m->type == SL_V_MAP)
            total += m->len;
        else if (m->type != SL_V_NULL)
            return sl_fcx_error(cx, "MULTISET_MERGE: element %u is %s, not a multiset", i,
                                sl_vtype_name((enum sl_vtype)m->type));
    }
    if (total > UINT32_MAX)
        return SL_E2BIG;
    int rc = map_copy(cx, NULL, (uint32_t)total, out);
    for (uint32_t i = 0; i < a[0].len && !rc; i++) {
        const struct sl_value *m = &a[0].u.list[i];
        if (m->type != SL_V_MAP)
            continue;
        for (uint32_t j = 0; j < m->len && !rc; j++) {
            if (!sl_sv_is_num(&m->u.map[j].val))
                return sl_fcx_error(cx, "MULTISET_MERGE: the count of %.*s is not a number",
                                    (int)(m->u.map[j].key.len > 64 ? 64 : m->u.map[j].key.len),
                                    m->u.map[j].key.ptr);
            struct sl_value k = sl_value_str(m->u.map[j].key.ptr, m->u.map[j].key.len);
            int32_t c = (int32_t)sl_sv_as_long(&m->u.map[j].val);
            /* Map.merge adds counts as they are, zero and negative ones included */
            bool found = false;
            for (uint32_t x = 0; x < out->len && !found; x++) {
                if (sl_str_eq(out->u.map[x].key, m->u.map[j].key)) {
                    out->u.map[x].val =
                        sl_sv_int((int32_t)((uint32_t)out->u.map[x].val.u.i + (uint32_t)c));
                    found = true;
                }
            }
            if (!found) {
                out->u.map[out->len].key = sl_value_as_str(&k);
                out->u.map[out->len].val = sl_sv_int(c);
                out->len++;
            }
        }
    }
    return rc;
}

static int f_multiset_to_set(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_MAP)
        return sl_fcx_error(cx, "MULTISET_TO_SET expects a multiset, got %s",
                            sl_vtype_name((enum sl_vtype)a[0].type));
    int rc = sl_fcx_list(cx, a[0].len, out);
    if (rc)
        return rc;
    out->flags = SL_VF_SET;
    for (uint32_t i = 0; i < a[0].len; i++)
        out->u.list[i] = sl_value_str(a[0].u.map[i].key.ptr, a[0].u.map[i].key.len);
    return 0;
}

static int f_it_entropy(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_MAP)
        return sl_fcx_error(cx, "IT_ENTROPY: expected a map of counts, got %s",
                            sl_vtype_name((enum sl_vtype)a[0].type));
    double total = 0, h = 0;
    for (uint32_t i = 0; i < a[0].len; i++) {
        const struct sl_value *c = &a[0].u.map[i].val;
        if (c->type == SL_V_NULL)
            continue;
        if (!sl_sv_is_num(c))
            return sl_fcx_error(cx, "IT_ENTROPY: the count of %.*s is not a number",
                                (int)(a[0].u.map[i].key.len > 64 ? 64 : a[0].u.map[i].key.len),
                                a[0].u.map[i].key.ptr);
        total += sl_sv_as_double(c);
    }
    for (uint32_t i = 0; i < a[0].len && total > 0; i++) {
        if (a[0].u.map[i].val.type == SL_V_NULL)
            continue;
        double p = sl_sv_as_double(&a[0].u.map[i].val) / total;
        if (p > 0)
            h -= p * log2(p);
    }
    *out = sl_sv_double(h);
    return 0;
}

/* ---- functional ---- */

/* MAP and FILTER: Metron returns the input itself when it or the lambda is null. */
static int functional_args(struct sl_fcx *cx, const char *fn, const struct sl_value *a,
                           struct sl_value *l, struct sl_value *out)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL) {
        *out = a[0];
        return 1;
    }
    if (!sl_fcx_is_lambda(&a[1]))
        return sl_fcx_error(cx, "%s: the second argument must be a lambda", fn);
    return elems(cx, &a[0], l);
}

static int f_map(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l;
    int rc = functional_args(cx, "MAP", a, &l, out);
    if (rc)
        return rc > 0 ? 0 : rc;
    if ((rc = sl_fcx_list(cx, l.len, out)))
        return rc;
    for (uint32_t i = 0; i < l.len && !rc; i++)
        rc = sl_fcx_call(cx, &a[1], &l.u.list[i], 1, &out->u.list[i]);
    return rc;
}

static int f_filter(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l;
    int rc = functional_args(cx, "FILTER", a, &l, out);
    if (rc)
        return rc > 0 ? 0 : rc;
    if ((rc = sl_fcx_list(cx, l.len, out)))
        return rc;
    uint32_t k = 0;
    for (uint32_t i = 0; i < l.len && !rc; i++) {
        struct sl_value r;
        rc = sl_fcx_call(cx, &a[1], &l.u.list[i], 1, &r);
        /* `result instanceof Boolean && (Boolean)result`: 'true' the string does not count */
        if (!rc && r.type == SL_V_BOOL && r.u.b)
            out->u.list[k++] = l.u.list[i];
    }
    out->len = k;
    return rc;
}

static int f_reduce(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    /* null list, no initial value, null lambda or null initial value: null */
    if (n < 3 || a[0].type == SL_V_NULL || a[1].type == SL_V_NULL || a[2].type == SL_V_NULL)
        return 0;
    if (!sl_fcx_is_lambda(&a[1]))
        return sl_fcx_error(cx, "REDUCE: the second argument must be a lambda");
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    struct sl_value acc = a[2];
    for (uint32_t i = 0; i < l.len && !rc; i++) {
        struct sl_value args[2] = {acc, l.u.list[i]};
        rc = sl_fcx_call(cx, &a[1], args, 2, &acc);
    }
    if (!rc)
        *out = acc;
    return rc;
}

/* Metron zips the arguments that are Lists and skips the others (null, numbers, maps);
 * sluice also zips sets and strings (characters). No list at all: []. */
static int zip(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out,
               bool longest)
{
    struct sl_value *lists = sl_fcx_alloc(cx, (n > 0 ? (size_t)n : 1) * sizeof *lists);
    if (!lists)
        return SL_ENOMEM;
    int nl = 0;
    uint32_t len = 0;
    for (int i = 0; i < n; i++) {
        if (a[i].type != SL_V_LIST && a[i].type != SL_V_STRING)
            continue;
        int rc = elems(cx, &a[i], &lists[nl]);
        if (rc)
            return rc;
        uint32_t li = lists[nl].len;
        if (nl == 0 || (longest ? li > len : li < len))
            len = li;
        nl++;
    }
    int rc = sl_fcx_list(cx, nl ? len : 0, out);
    for (uint32_t j = 0; nl && j < len && !rc; j++) {
        rc = sl_fcx_list(cx, (uint32_t)nl, &out->u.list[j]);
        for (int i = 0; i < nl && !rc; i++)
            out->u.list[j].u.list[i] = j < lists[i].len ? lists[i].u.list[j] : sl_value_null();
    }
    return rc;
}

static int f_zip(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return zip(cx, a, n, out, false);
}

static int f_zip_longest(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return zip(cx, a, n, out, true);
}

const struct sl_sfunc sl_sfuncs_coll[] = {
    {"GET_FIRST", 1, 1, SL_SF_PURE, "(list)", "Object",
     "First element of a list (or character of a string); null when empty or null.", f_get_first},
    {"GET_LAST", 1, 1, SL_SF_PURE, "(list)", "Object",
     "Last element of a list (or character of a string); null when empty or null.", f_get_last},
    {"GET", 2, 2, SL_SF_PURE, "(list, index)", "Object",
     "Element at an integer index; null past the end or for a null list; a negative index is "
     "an error.",
     f_get},
    {"LIST_ADD", 1, 2, 0, "(list, element)", "List",
     "The list with the element appended (a new list; Metron mutates its argument). Anything "
     "but a list (null, a string, a set) is returned unchanged.",
     f_list_add},
    {"MAP_GET", 2, 3, SL_SF_PURE, "(key, map, default?)", "Object",
     "Value of key; default (or null) when the key, map or value is null or missing. A "
     "non-string key is looked up by its toString().",
     f_map_get},
    {"MAP_EXISTS", 0, 2, SL_SF_PURE, "(key, map)", "Boolean",
     "true if the map has the key; false for a null key, a non-map or no arguments.", f_map_exists},
    {"MAP_PUT", 3, 3, 0, "(key, value, map)", "Map",
     "The map with key set (a new map; Metron mutates it); a null map starts empty.", f_map_put},
    {"MAP_MERGE", 1, 1, 0, "([maps])", "Map",
     "Merges maps in order, the last value winning; null entries are skipped.", f_map_merge},
    {"MAX", 1, 1, SL_SF_PURE, "(list)", "Object",
     "Largest non-null element; null when empty or when elements are not mutually comparable.",
     f_max},
    {"MIN", 1, 1, SL_SF_PURE, "(list)", "Object",
     "Smallest non-null element; null when empty or when elements are not mutually comparable.",
     f_min},
    {"SET_INIT", 0, 1, 0, "(list?)", "Set",
     "A set of the list's elements in insertion order; empty without a list.", f_set_init},
    {"SET_ADD", 1, SL_SF_VARARGS, 0, "(set, element...)", "Set",
     "The set with the elements added (nulls ignored; a new set).", f_set_add},
    {"SET_REMOVE", 1, SL_SF_VARARGS, 0, "(set, element...)", "Set",
     "The set without the elements (a new set).", f_set_remove},
    {"SET_MERGE", 1, 1, 0, "([sets])", "Set", "Union of the sets, in order.", f_set_merge},
    {"MULTISET_INIT", 0, 1, 0, "(list?)", "Map",
     "A map from each element (its toString) to its Integer count.", f_multiset_init},
    {"MULTISET_ADD", 1, SL_SF_VARARGS, 0, "(multiset, element...)", "Map",
     "One more of each element (nulls ignored; a new multiset).", f_multiset_add},
    {"MULTISET_REMOVE", 1, SL_SF_VARARGS, 0, "(multiset, element...)", "Map",
     "One less of each element, gone at 0; removing an absent element is an error, as in "
     "Metron.",
     f_multiset_remove},
    {"MULTISET_MERGE", 1, 1, 0, "([multisets])", "Map", "Sums the counts.", f_multiset_merge},
    {"MULTISET_TO_SET", 1, 1, 0, "(multiset)", "Set",
     "The distinct elements (as strings: multiset keys are text).", f_multiset_to_set},
    {"IT_ENTROPY", 1, 1, SL_SF_PURE, "(multiset)", "Double",
     "Shannon entropy in bits of a map of counts; 0.0 when empty.", f_it_entropy},
    {"MAP", 2, 2, 0, "(list, lambda)", "List",
     "Applies the lambda to each element; a null list or lambda returns the list.", f_map},
    {"FILTER", 2, 2, 0, "(list, predicate)", "List",
     "The elements for which the predicate returns Boolean true; a null list or lambda returns "
     "the list.",
     f_filter},
    {"REDUCE", 2, 3, 0, "(list, (acc, x) -> ..., initial)", "Object",
     "Folds the list from initial; null when the list, lambda or initial value is null or "
     "missing.",
     f_reduce},
    {"ZIP", 0, SL_SF_VARARGS, SL_SF_PURE, "(lists...)", "List",
     "Lists of the i-th elements, as long as the shortest list; non-list arguments are skipped.",
     f_zip},
    {"ZIP_LONGEST", 0, SL_SF_VARARGS, SL_SF_PURE, "(lists...)", "List",
     "Lists of the i-th elements, as long as the longest list (null padding); non-list "
     "arguments are skipped.",
     f_zip_longest},
    {0},
};
