/*
 * value.c — value helpers: names, IP parsing, equality, text rendering.
 */
#include "core/value.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *sl_vtype_name(enum sl_vtype t)
{
    static const char *const names[] = {
#define SL_VT_NAME(n, s) s,
        SL_VTYPES(SL_VT_NAME)
#undef SL_VT_NAME
    };
    return (unsigned)t < SL_V__COUNT ? names[t] : "?";
}

int sl_value_ip_parse(struct sl_str s, struct sl_value *out)
{
    char tmp[64];
    if (s.len == 0 || s.len >= sizeof(tmp))
        return SL_EINVAL;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    struct sl_value v = {.type = SL_V_IP};
    if (inet_pton(AF_INET, tmp, v.u.ip) == 1) {
        v.flags = SL_VF_IP4;
    } else if (inet_pton(AF_INET6, tmp, v.u.ip) == 1) {
        v.flags = SL_VF_IP6;
    } else {
        return SL_EINVAL;
    }
    *out = v;
    return 0;
}

size_t sl_value_ip_format(const struct sl_value *v, char *out, size_t out_len)
{
    if (!inet_ntop((v->flags & SL_VF_IP6) ? AF_INET6 : AF_INET, v->u.ip, out, (socklen_t)out_len)) {
        if (out_len)
            out[0] = 0;
        return 0;
    }
    return strlen(out);
}

bool sl_value_equal(const struct sl_value *a, const struct sl_value *b)
{
    if (a->type != b->type)
        return false;
    switch ((enum sl_vtype)a->type) {
    case SL_V_NULL:
        return true;
    case SL_V_BOOL:
        return a->u.b == b->u.b;
    case SL_V_INT:
        return a->u.i == b->u.i;
    case SL_V_DOUBLE:
        return a->u.d == b->u.d || (isnan(a->u.d) && isnan(b->u.d));
    case SL_V_STRING:
    case SL_V_BYTES:
        return a->len == b->len && (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    case SL_V_TS:
        return a->u.ts_ns == b->u.ts_ns;
    case SL_V_IP:
        return a->flags == b->flags &&
               memcmp(a->u.ip, b->u.ip, (a->flags & SL_VF_IP6) ? 16 : 4) == 0;
    case SL_V_LIST:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!sl_value_equal(&a->u.list[i], &b->u.list[i]))
                return false;
        return true;
    case SL_V_MAP:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++) {
            if (!sl_str_eq(a->u.map[i].key, b->u.map[i].key) ||
                !sl_value_equal(&a->u.map[i].val, &b->u.map[i].val))
                return false;
        }
        return true;
    case SL_V_OBJECT:
        return a->u.obj == b->u.obj;
    default:
        return false;
    }
}

/* Minimal JSON rendering for nested values (the codec has the fast, complete writer; core
 * cannot depend on codec, and this path is for CSV cells and regex text of nested values). */
static void render_json(const struct sl_value *v, struct sl_buf *b);

static void render_str(const char *p, size_t n, struct sl_buf *b)
{
    sl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            sl_buf_putc(b, '\\');
            sl_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            sl_buf_appendf(b, "\\u%04x", c);
        } else {
            sl_buf_putc(b, (char)c);
        }
    }
    sl_buf_putc(b, '"');
}

static void render_scalar(const struct sl_value *v, struct sl_buf *b, bool quote)
{
    char tmp[64];
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        sl_buf_puts(b, "null");
        break;
    case SL_V_BOOL:
        sl_buf_puts(b, v->u.b ? "true" : "false");
        break;
    case SL_V_INT:
        sl_buf_appendf(b, "%lld", (long long)v->u.i);
        break;
    case SL_V_DOUBLE:
        if (!isfinite(v->u.d)) {
            sl_buf_puts(b, "null");
        } else {
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, v->u.d);
                double back;
                if (sl_str_to_double(sl_str_c(tmp), &back) == 0 && back == v->u.d)
                    break;
            }
            sl_buf_puts(b, tmp);
        }
        break;
    case SL_V_STRING:
    case SL_V_BYTES:
        if (quote)
            render_str(v->u.s, v->len, b);
        else
            sl_buf_append(b, v->u.s, v->len);
        break;
    case SL_V_TS:
        sl_clock_format_rfc3339(v->u.ts_ns, 9, tmp, sizeof(tmp));
        if (quote)
            render_str(tmp, strlen(tmp), b);
        else
            sl_buf_puts(b, tmp);
        break;
    case SL_V_IP:
        sl_value_ip_format(v, tmp, sizeof(tmp));
        if (quote)
            render_str(tmp, strlen(tmp), b);
        else
            sl_buf_puts(b, tmp);
        break;
    case SL_V_OBJECT:
        if (v->u.obj && v->u.obj->type->to_json)
            v->u.obj->type->to_json(v->u.obj, b);
        else
            sl_buf_puts(b, "null");
        break;
    default:
        render_json(v, b);
        break;
    }
}

static void render_json(const struct sl_value *v, struct sl_buf *b)
{
    if (v->type == SL_V_LIST) {
        sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(b, ',');
            render_json(&v->u.list[i], b);
        }
        sl_buf_putc(b, ']');
    } else if (v->type == SL_V_MAP) {
        sl_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(b, ',');
            render_str(v->u.map[i].key.ptr, v->u.map[i].key.len, b);
            sl_buf_putc(b, ':');
            render_json(&v->u.map[i].val, b);
        }
        sl_buf_putc(b, '}');
    } else {
        render_scalar(v, b, true);
    }
}

struct sl_str sl_value_to_text(const struct sl_value *v, struct sl_buf *scratch)
{
    if (v->type == SL_V_STRING || v->type == SL_V_BYTES)
        return sl_str_make(v->u.s, v->len);
    sl_buf_reset(scratch);
    if (v->type == SL_V_LIST || v->type == SL_V_MAP)
        render_json(v, scratch);
    else
        render_scalar(v, scratch, false);
    return sl_str_make(scratch->ptr ? scratch->ptr : "", scratch->len);
}

const struct sl_value *sl_value_map_get(const struct sl_value *v, struct sl_str key)
{
    if (v->type != SL_V_MAP)
        return NULL;
    for (uint32_t i = 0; i < v->len; i++)
        if (sl_str_eq(v->u.map[i].key, key))
            return &v->u.map[i].val;
    return NULL;
}

void sl_object_ref(struct sl_object *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void sl_object_unref(struct sl_object *o)
{
    if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        o->type->free(o);
}

int sl_value_copy(struct sl_arena *a, const struct sl_value *v, struct sl_value *out)
{
    *out = *v;
    switch ((enum sl_vtype)v->type) {
    case SL_V_STRING:
    case SL_V_BYTES: {
        if (!v->len)
            return 0;
        char *d = sl_arena_alloc_bytes(a, v->len);
        if (!d)
            return SL_ENOMEM;
        memcpy(d, v->u.s, v->len);
        out->u.s = d;
        return 0;
    }
    case SL_V_LIST: {
        struct sl_value *l = sl_arena_alloc(a, (v->len ? v->len : 1) * sizeof(*l));
        if (!l)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < v->len; i++)
            if (sl_value_copy(a, &v->u.list[i], &l[i]))
                return SL_ENOMEM;
        out->u.list = l;
        return 0;
    }
    case SL_V_MAP: {
        struct sl_kv *m = sl_arena_alloc(a, (v->len ? v->len : 1) * sizeof(*m));
        if (!m)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < v->len; i++) {
            char *k = sl_arena_alloc_bytes(a, v->u.map[i].key.len + 1);
            if (!k)
                return SL_ENOMEM;
            memcpy(k, v->u.map[i].key.ptr, v->u.map[i].key.len);
            m[i].key = sl_str_make(k, v->u.map[i].key.len);
            if (sl_value_copy(a, &v->u.map[i].val, &m[i].val))
                return SL_ENOMEM;
        }
        out->u.map = m;
        return 0;
    }
    default:
        /* objects are shared: batches do not own object references (their producers keep
         * them alive longer than any batch) */
        return 0;
    }
}
