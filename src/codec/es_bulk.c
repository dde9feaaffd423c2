/*
 * es_bulk.c — Elasticsearch bulk responses and action lines (see es_bulk.h).
 *
 * DESIGN: the body is parsed once with the JSON codec into the caller's arena, then walked.
 * Unknown members are ignored (Elasticsearch adds `_shards`, `_version`, `result`...), so only
 * what decides a document's fate is checked: `items` must be an array of one-member objects
 * whose value is an object with an integer `status`.
 */
#include "codec/es_bulk.h"

#include "codec/json.h"
#include "core/value.h"

#include <string.h>

#define RESP_MAX ((size_t)256 << 20)

static const struct sl_value *member(const struct sl_value *obj, const char *key)
{
    return sl_value_map_get(obj, sl_str_c(key));
}

static struct sl_str str_of(const struct sl_value *v)
{
    if (v && v->type == SL_V_STRING)
        return sl_str_make(v->u.s, v->len);
    return sl_str_make("", 0);
}

static int bad(struct sl_diag *d, size_t item, const char *what)
{
    if (!d)
        return SL_EPARSE;
    if (item == (size_t)-1)
        return sl_diag_set(d, SL_EPARSE, "not a bulk response: %s", what);
    return sl_diag_set(d, SL_EPARSE, "not a bulk response: item %zu: %s", item, what);
}

int sl_es_bulk_parse(struct sl_arena *a, const char *p, size_t n, size_t max_items,
                     struct sl_es_bulk_resp *out, struct sl_diag *d)
{
    memset(out, 0, sizeof(*out));
    struct sl_json_opts o = {.max_depth = 32, .max_len = RESP_MAX};
    struct sl_value root;
    int rc = sl_json_parse_value(a, p, n, &o, &root, d);
    if (rc)
        return rc;
    if (root.type != SL_V_MAP)
        return bad(d, (size_t)-1, "not an object");
    const struct sl_value *errors = member(&root, "errors");
    if (errors && errors->type == SL_V_BOOL)
        out->errors = errors->u.b;
    const struct sl_value *items = member(&root, "items");
    if (!items || items->type != SL_V_LIST)
        return bad(d, (size_t)-1, "no \"items\" array");
    if (items->len > max_items) {
        if (d)
            sl_diag_set(d, SL_ELIMIT, "bulk response with %u items, more than %zu", items->len,
                        max_items);
        return SL_ELIMIT;
    }
    if (!items->len)
        return 0;
    out->items = sl_arena_alloc(a, items->len * sizeof(*out->items));
    if (!out->items)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < items->len; i++) {
        const struct sl_value *it = &items->u.list[i];
        if (it->type != SL_V_MAP || it->len != 1)
            return bad(d, i, "not an object with one action");
        const struct sl_value *r = &it->u.map[0].val;
        if (r->type != SL_V_MAP)
            return bad(d, i, "the action's result is not an object");
        const struct sl_value *st = member(r, "status");
        if (!st || st->type != SL_V_INT || st->u.i < 100 || st->u.i > 599)
            return bad(d, i, "no valid \"status\"");
        struct sl_es_item *e = &out->items[i];
        e->status = (int)st->u.i;
        e->type = e->reason = sl_str_make("", 0);
        const struct sl_value *err = member(r, "error");
        if (err && err->type == SL_V_MAP) {
            e->type = str_of(member(err, "type"));
            e->reason = str_of(member(err, "reason"));
        } else if (err && err->type == SL_V_STRING) {
            e->reason = str_of(err);
        }
        out->count = i + 1;
    }
    return 0;
}

int sl_es_bulk_action(struct sl_buf *out, const char *op, struct sl_str index, const char *type,
                      const struct sl_str *id)
{
    size_t mark = out->len;
    int rc;
    if ((rc = sl_buf_appendf(out, "{\"%s\":{\"_index\":", op)) != 0 ||
        (rc = sl_json_write_string(out, index.ptr, index.len)) != 0)
        goto fail;
    if (type && ((rc = sl_buf_puts(out, ",\"_type\":")) != 0 ||
                 (rc = sl_json_write_string(out, type, strlen(type))) != 0))
        goto fail;
    if (id && ((rc = sl_buf_puts(out, ",\"_id\":")) != 0 ||
               (rc = sl_json_write_string(out, id->ptr, id->len)) != 0))
        goto fail;
    if ((rc = sl_buf_append(out, "}}\n", 3)) != 0)
        goto fail;
    return 0;
fail:
    out->len = mark;
    if (out->ptr)
        out->ptr[mark] = 0;
    return rc;
}
