/*
 * kv.c — the key=value parser (kv.h).
 *
 * DESIGN: one pass, byte lookups through 256-entry tables built per call from the option
 * strings (the call is per line, the tables are 768 bytes on the stack: cheaper than a
 * strchr per byte once a line has more than a handful of pairs).
 */
#include "codec/kv.h"

#include <string.h>

static void table(bool t[256], const char *s)
{
    memset(t, 0, 256 * sizeof(bool));
    for (; s && *s; s++)
        t[(unsigned char)*s] = true;
}

/* unescape a quoted value that contains backslashes */
static int unescape(struct sl_arena *a, const char *p, size_t n, char q, struct sl_str *out)
{
    char *o = sl_arena_alloc_bytes(a, n ? n : 1);
    if (!o)
        return SL_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n && (p[i + 1] == q || p[i + 1] == '\\'))
            i++;
        o[j++] = p[i];
    }
    *out = sl_str_make(o, j);
    return 0;
}

int sl_kvparse(const struct sl_kvparse_opts *o, const char *p, size_t n, struct sl_arena *a,
               sl_kvparse_fn fn, void *ud, struct sl_diag *d)
{
    bool fs[256], vs[256], qs[256];
    table(fs, o->field_split ? o->field_split : " ");
    table(vs, o->value_split ? o->value_split : "=");
    table(qs, o->quotes ? o->quotes : "\"'");
    int count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && fs[(unsigned char)p[i]])
            i++;
        if (i >= n)
            break;
        size_t ks = i;
        while (i < n && !vs[(unsigned char)p[i]] && !fs[(unsigned char)p[i]])
            i++;
        if (i >= n || fs[(unsigned char)p[i]])
            continue; /* a token without a value */
        struct sl_str key = sl_str_make(p + ks, i - ks);
        i++; /* the value separator */
        struct sl_str val;
        if (i < n && qs[(unsigned char)p[i]]) {
            char q = p[i];
            size_t qs_at = i++, vs_at = i;
            bool esc = false;
            while (i < n && p[i] != q) {
                if (p[i] == '\\' && i + 1 < n) {
                    esc = true;
                    i++;
                }
                i++;
            }
            if (i >= n) {
                d->offset = (int64_t)qs_at;
                return sl_diag_set(d, SL_EPARSE, "unterminated %c quote at byte %zu (key '%.*s')",
                                   q, qs_at, (int)(key.len > 64 ? 64 : key.len), key.ptr);
            }
            if (esc) {
                int rc = unescape(a, p + vs_at, i - vs_at, q, &val);
                if (rc)
                    return rc;
            } else {
                val = sl_str_make(p + vs_at, i - vs_at);
            }
            i++; /* closing quote */
        } else {
            size_t vs_at = i;
            while (i < n && !fs[(unsigned char)p[i]])
                i++;
            val = sl_str_make(p + vs_at, i - vs_at);
        }
        if (!key.len)
            continue;
        int rc = fn(ud, key, val);
        if (rc)
            return rc;
        count++;
    }
    return count;
}
