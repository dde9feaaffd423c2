/*
 * fn_coll.c — Stellar builtins over lists, maps, sets and multisets, and the functional
 * ones (MAP, FILTER, REDUCE, ZIP, ZIP_LONGEST).
 *
 * DESIGN: values live in the evaluation's arena and are never changed in place: where
 * Metron mutates its argument (LIST_ADD, MAP_PUT, SET_ADD, MULTISET_ADD) sluice returns a
 * new collection holding the change. An expression sees the same result; only code that
 * kept an alias to the old collection could tell (docs/stellar.md). A Set is a list flagged
 * SL_VF_SET (insertion order, no duplicates); a multiset is a map from the element's text to
 * its count. A String given where a list is expected is iterated as its characters.
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
    return sl_fcx_error(cx, "expected a list, got a %s", sl_vtype_name((enum sl_vtype)v->type));
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

static int f_list_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    uint32_t add = n > 1 ? 1 : 0;
    if ((rc = sl_fcx_list(cx, l.len + add, out)))
        return rc;
    if (l.len)
        memcpy(out->u.list, l.u.list, l.len * sizeof *l.u.list);
    if (add)
        out->u.list[l.len] = a[1];
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

/* A set of the elements of up to two lists (b may be NULL), minus `drop` (may be NULL). */
static int make_set(struct sl_fcx *cx, const struct sl_value *a, const struct sl_value *b,
                    const struct sl_value *drop, struct sl_value *out)
{
    uint32_t cap = (a ? a->len : 0) + (b ? b->len : 0);
    int rc = sl_fcx_list(cx, cap, out);
    if (rc)
        return rc;
    out->flags = SL_VF_SET;
    uint32_t n = 0;
    const struct sl_value *srcs[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        if (!srcs[s])
            continue;
        for (uint32_t i = 0; i < srcs[s]->len; i++) {
            const struct sl_value *v = &srcs[s]->u.list[i];
            if (drop && sl_sv_equal(v, drop))
                continue;
            if (!list_has(out, n, v))
                out->u.list[n++] = *v;
        }
    }
    out->len = n;
    return 0;
}

static int f_set_init(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_value l = {.type = SL_V_LIST};
    int rc = n > 0 ? elems(cx, &a[0], &l) : 0;
    return rc ? rc : make_set(cx, &l, NULL, NULL, out);
}

static int f_set_add(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l = {.type = SL_V_LIST}, one = {.type = SL_V_LIST, .len = 1};
    one.u.list = (struct sl_value *)&a[1];
    int rc = a[0].type == SL_V_NULL ? 0 : elems(cx, &a[0], &l);
    return rc ? rc : make_set(cx, &l, &one, NULL, out);
}

static int f_set_remove(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l = {.type = SL_V_LIST};
    int rc = a[0].type == SL_V_NULL ? 0 : elems(cx, &a[0], &l);
    return rc ? rc : make_set(cx, &l, NULL, &a[1], out);
}

static int f_set_merge(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "SET_MERGE expects a list of sets");
    uint32_t total = 0;
    for (uint32_t i = 0; i < a[0].len; i++)
        if (a[0].u.list[i].type == SL_V_LIST)
            total += a[0].u.list[i].len;
    struct sl_value all;
    int rc = sl_fcx_list(cx, total, &all);
    if (rc)
        return rc;
    uint32_t k = 0;
    for (uint32_t i = 0; i < a[0].len; i++)
        if (a[0].u.list[i].type == SL_V_LIST)
            for (uint32_t j = 0; j < a[0].u.list[i].len; j++)
                all.u.list[k++] = a[0].u.list[i].u.list[j];
    all.len = k;
    return make_set(cx, &all, NULL, NULL, out);
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
            int32_t c = (int32_t)m->u.map[i].val.u.i + by;
            if (c <= 0) {
                memmove(&m->u.map[i], &m->u.map[i + 1], (m->len - i - 1) * sizeof *m->u.map);
                m->len--;
            } else {
                m->u.map[i].val = sl_sv_int(c);
            }
            return 0;
        }
    }
    if (by > 0) {
        m->u.map[m->len].key = k;
        m->u.map[m->len].val = sl_sv_int(by);
        m->len++;
    }
    return 0;
}

static int f_multiset_init(struct sl_fcx *cx, const struct sl_value *a, int n,
                           struct sl_value *out)
{
    struct sl_value l = {.type = SL_V_LIST};
    int rc = n > 0 ? elems(cx, &a[0], &l) : 0;
    if (!rc)
        rc = map_copy(cx, NULL, l.len, out);
    for (uint32_t i = 0; i < l.len && !rc; i++)
        if (l.u.list[i].type != SL_V_NULL)
            rc = ms_add(cx, out, &l.u.list[i], 1);
    return rc;
}

static int f_multiset_add(struct sl_fcx *cx, const struct sl_value *a, int n,
                          struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_MAP && a[0].type != SL_V_NULL)
        return sl_fcx_error(cx, "MULTISET_ADD expects a multiset");
    int rc = map_copy(cx, &a[0], 1, out);
    return rc ? rc : a[1].type == SL_V_NULL ? 0 : ms_add(cx, out, &a[1], 1);
}

static int f_multiset_remove(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_MAP && a[0].type != SL_V_NULL)
        return sl_fcx_error(cx, "MULTISET_REMOVE expects a multiset");
    int rc = map_copy(cx, &a[0], 0, out);
    return rc ? rc : a[1].type == SL_V_NULL ? 0 : ms_add(cx, out, &a[1], -1);
}

static int f_multiset_merge(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "MULTISET_MERGE expects a list of multisets");
    uint32_t total = 0;
    for (uint32_t i = 0; i < a[0].len; i++)
        if (a[0].u.list[i].type == SL_V_MAP)
            total += a[0].u.list[i].len;
    int rc = map_copy(cx, NULL, total, out);
    for (uint32_t i = 0; i < a[0].len && !rc; i++) {
        const struct sl_value *m = &a[0].u.list[i];
        if (m->type != SL_V_MAP)
            continue;
        for (uint32_t j = 0; j < m->len && !rc; j++) {
            struct sl_value k = sl_value_str(m->u.map[j].key.ptr, m->u.map[j].key.len);
            rc = ms_add(cx, out, &k, (int32_t)sl_sv_as_long(&m->u.map[j].val));
        }
    }
    return rc;
}

static int f_multiset_to_set(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_MAP)
        return sl_fcx_error(cx, "MULTISET_TO_SET expects a multiset");
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
        return sl_fcx_error(cx, "IT_ENTROPY expects a multiset");
    double total = 0, h = 0;
    for (uint32_t i = 0; i < a[0].len; i++)
        total += sl_sv_as_double(&a[0].u.map[i].val);
    for (uint32_t i = 0; i < a[0].len && total > 0; i++) {
        double p = sl_sv_as_double(&a[0].u.map[i].val) / total;
        if (p > 0)
            h -= p * log2(p);
    }
    *out = sl_sv_double(h);
    return 0;
}

/* ---- functional ---- */

static int f_map(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    if (!sl_fcx_is_lambda(&a[1]))
        return sl_fcx_error(cx, "MAP: the second argument must be a lambda");
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
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    if (!sl_fcx_is_lambda(&a[1]))
        return sl_fcx_error(cx, "FILTER: the second argument must be a lambda");
    if ((rc = sl_fcx_list(cx, l.len, out)))
        return rc;
    uint32_t k = 0;
    for (uint32_t i = 0; i < l.len && !rc; i++) {
        struct sl_value r;
        rc = sl_fcx_call(cx, &a[1], &l.u.list[i], 1, &r);
        if (!rc && sl_sv_truthy(&r))
            out->u.list[k++] = l.u.list[i];
    }
    out->len = k;
    return rc;
}

static int f_reduce(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[2].type == SL_V_NULL)
        return 0;
    struct sl_value l;
    int rc = elems(cx, &a[0], &l);
    if (rc)
        return rc;
    if (!sl_fcx_is_lambda(&a[1]))
        return sl_fcx_error(cx, "REDUCE: the second argument must be a lambda");
    struct sl_value acc = a[2];
    for (uint32_t i = 0; i < l.len && !rc; i++) {
        struct sl_value args[2] = {acc, l.u.list[i]};
        rc = sl_fcx_call(cx, &a[1], args, 2, &acc);
    }
    if (!rc)
        *out = acc;
    return rc;
}

static int zip(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out,
               bool longest)
{
    if (n == 0)
        return sl_fcx_list(cx, 0, out);
    struct sl_value lists[16];
    if (n > 16)
        return sl_fcx_error(cx, "ZIP: at most 16 lists");
    uint32_t len = longest ? 0 : UINT32_MAX;
    for (int i = 0; i < n; i++) {
        int rc = elems(cx, &a[i], &lists[i]);
        if (rc)
            return rc;
        if (longest ? lists[i].len > len : lists[i].len < len)
            len = lists[i].len;
    }
    int rc = sl_fcx_list(cx, len, out);
    for (uint32_t j = 0; j < len && !rc; j++) {
        rc = sl_fcx_list(cx, (uint32_t)n, &out->u.list[j]);
        for (int i = 0; i < n && !rc; i++)
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
    {"GET_FIRST", 1, 1, SL_SF_PURE, "(list)", "Object", "First element; null when empty.",
     f_get_first},
    {"GET_LAST", 1, 1, SL_SF_PURE, "(list)", "Object", "Last element; null when empty.",
     f_get_last},
    {"GET", 2, 2, SL_SF_PURE, "(list, index)", "Object",
     "Element at an integer index; null past the end.", f_get},
    {"LIST_ADD", 1, 2, 0, "(list, element)", "List",
     "The list with the element appended (a new list; Metron mutates its argument).",
     f_list_add},
    {"MAP_GET", 2, 3, SL_SF_PURE, "(key, map, default?)", "Object",
     "Value of key; default (or null) when the key, map or value is missing.", f_map_get},
    {"MAP_EXISTS", 0, 2, SL_SF_PURE, "(key, map)", "Boolean", "true if the map has the key.",
     f_map_exists},
    {"MAP_PUT", 3, 3, 0, "(key, value, map)", "Map",
     "The map with key set (a new map; a null map starts empty).", f_map_put},
    {"MAP_MERGE", 1, 1, 0, "([maps])", "Map", "Merges maps in order; the last value wins.",
     f_map_merge},
    {"MAX", 1, 1, SL_SF_PURE, "(list)", "Object",
     "Largest element; null when elements are not mutually comparable.", f_max},
    {"MIN", 1, 1, SL_SF_PURE, "(list)", "Object",
     "Smallest element; null when elements are not mutually comparable.", f_min},
    {"SET_INIT", 0, 1, 0, "(list?)", "Set", "A set of the list's elements (insertion order).",
     f_set_init},
    {"SET_ADD", 2, 2, 0, "(set, element)", "Set", "The set with the element added.", f_set_add},
    {"SET_REMOVE", 2, 2, 0, "(set, element)", "Set", "The set without the element.",
     f_set_remove},
    {"SET_MERGE", 1, 1, 0, "([sets])", "Set", "Union of the sets.", f_set_merge},
    {"MULTISET_INIT", 0, 1, 0, "(list?)", "Map", "Counts of each element.", f_multiset_init},
    {"MULTISET_ADD", 2, 2, 0, "(multiset, element)", "Map", "Count one more of the element.",
     f_multiset_add},
    {"MULTISET_REMOVE", 2, 2, 0, "(multiset, element)", "Map",
     "Count one less of the element (gone at 0).", f_multiset_remove},
    {"MULTISET_MERGE", 1, 1, 0, "([multisets])", "Map", "Sums the counts.", f_multiset_merge},
    {"MULTISET_TO_SET", 1, 1, 0, "(multiset)", "Set", "The distinct elements.",
     f_multiset_to_set},
    {"IT_ENTROPY", 1, 1, SL_SF_PURE, "(multiset)", "Double",
     "Shannon entropy (bits) of the counts.", f_it_entropy},
    {"MAP", 2, 2, 0, "(list, lambda)", "List", "Applies the lambda to each element.", f_map},
    {"FILTER", 2, 2, 0, "(list, predicate)", "List",
     "The elements for which the predicate is true.", f_filter},
    {"REDUCE", 3, 3, 0, "(list, (acc, x) -> ..., initial)", "Object",
     "Folds the list; null when initial is null.", f_reduce},
    {"ZIP", 0, SL_SF_VARARGS, SL_SF_PURE, "(lists...)", "List",
     "Lists of the i-th elements, as long as the shortest list.", f_zip},
    {"ZIP_LONGEST", 0, SL_SF_VARARGS, SL_SF_PURE, "(lists...)", "List",
     "Lists of the i-th elements, as long as the longest list (null padding).", f_zip_longest},
    {0},
};
