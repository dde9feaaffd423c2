/*
 * profiler_def.c — profiler.json: a positional JSON reader, validation of the profile
 * definitions and compilation of every expression, once.
 *
 * DESIGN: the reader builds a small tree (nodes in the definition's arena) that keeps the
 * byte offset of every value and key, so that an error names origin:line:col, the JSON path
 * ("profiles[1].update.count") and, for an expression, the column inside it with the
 * compiler's caret. Keys are checked against a fixed list per object (an unknown key is an
 * error: a typo such as "udpate" must not silently disable a profile). Values of init,
 * update, groupBy, onlyif, foreach and result may be strings, numbers or booleans: Jackson
 * turns {"count": 0} into the source "0", so the literal text is the source.
 */
#include "state/profiler.h"

#include "base/alloc.h"
#include "state/profiler_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ positional JSON */

struct jp {
    struct sl_arena *a;
    const char *p;
    size_t n, i;
    const char *err;
    size_t err_off;
    int depth;
};

static int jfail(struct jp *j, const char *msg)
{
    if (!j->err) {
        j->err = msg;
        j->err_off = j->i;
    }
    return SL_EPARSE;
}

static void jws(struct jp *j)
{
    while (j->i < j->n &&
           (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r'))
        j->i++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* at the opening quote */
static int jstr(struct jp *j, const char **out, size_t *len, bool *escaped)
{
    size_t start = ++j->i, k = start;
    bool esc = false;
    while (k < j->n && j->p[k] != '"') {
        if ((unsigned char)j->p[k] < 0x20) {
            j->i = k;
            return jfail(j, "control character in a string");
        }
        if (j->p[k] == '\\') {
            esc = true;
            k++;
        }
        k++;
    }
    if (k >= j->n) {
        j->i = k > j->n ? j->n : k;
        return jfail(j, "unterminated string");
    }
    *escaped = esc;
    if (!esc) {
        *out = j->p + start;
        *len = k - start;
        j->i = k + 1;
        return 0;
    }
    char *o = sl_arena_alloc_bytes(j->a, k - start + 1);
    if (!o)
        return SL_ENOMEM;
    size_t ol = 0;
    for (size_t x = start; x < k; x++) {
        char c = j->p[x];
        if (c != '\\') {
            o[ol++] = c;
            continue;
        }
        c = j->p[++x];
        switch (c) {
        case '"':
            o[ol++] = '"';
            break;
        case '\\':
            o[ol++] = '\\';
            break;
        case '/':
            o[ol++] = '/';
            break;
        case 'b':
            o[ol++] = '\b';
            break;
        case 'f':
            o[ol++] = '\f';
            break;
        case 'n':
            o[ol++] = '\n';
            break;
        case 'r':
            o[ol++] = '\r';
            break;
        case 't':
            o[ol++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (x + 4 >= k || hex4(j->p + x + 1, &cp)) {
                j->i = x;
                return jfail(j, "bad \\u escape");
            }
            x += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && x + 6 < k && j->p[x + 1] == '\\' &&
                j->p[x + 2] == 'u' && !hex4(j->p + x + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                x += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            ol += put_utf8(o + ol, cp);
            break;
        }
        default:
            j->i = x;
            return jfail(j, "bad escape in a string");
        }
    }
    o[ol] = 0;
    *out = o;
    *len = ol;
    j->i = k + 1;
    return 0;
}

static int jvalue(struct jp *j, struct sl_pj_node *nd);

static int jgrow(struct jp *j, void **arr, size_t elem, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    void *na = sl_arena_alloc(j->a, nc * elem);
    if (!na)
        return SL_ENOMEM;
    if (n)
        memcpy(na, *arr, n * elem);
    *arr = na;
    *cap = nc;
    return 0;
}

static int jvalue(struct jp *j, struct sl_pj_node *nd)
{
    jws(j);
    memset(nd, 0, sizeof *nd);
    nd->off = j->i;
    if (j->i >= j->n)
        return jfail(j, "expected a value, found the end of the text");
    char c = j->p[j->i];
    if (c == '"') {
        nd->type = SL_PJ_STR;
        return jstr(j, &nd->s, &nd->len, &nd->escaped);
    }
    if (c == '{' || c == '[') {
        if (++j->depth > 64)
            return jfail(j, "nesting too deep");
        bool obj = c == '{';
        nd->type = obj ? SL_PJ_OBJ : SL_PJ_ARR;
        j->i++;
        size_t cap = 0, kcap = 0, ocap = 0;
        jws(j);
        if (j->i < j->n && j->p[j->i] == (obj ? '}' : ']')) {
            j->i++;
            j->depth--;
            return 0;
        }
        for (;;) {
            jws(j);
            if (obj) {
                if (j->i >= j->n || j->p[j->i] != '"')
                    return jfail(j, "expected a string key");
                int rc = jgrow(j, (void **)&nd->keys, sizeof *nd->keys, nd->count, &kcap);
                rc = rc ? rc : jgrow(j, (void **)&nd->key_offs, sizeof(size_t), nd->count, &ocap);
                if (rc)
                    return rc;
                nd->key_offs[nd->count] = j->i;
                bool esc;
                rc = jstr(j, &nd->keys[nd->count].ptr, &nd->keys[nd->count].len, &esc);
                if (rc)
                    return rc;
                jws(j);
                if (j->i >= j->n || j->p[j->i] != ':')
                    return jfail(j, "expected ':' after a key");
                j->i++;
            }
            int rc = jgrow(j, (void **)&nd->items, sizeof *nd->items, nd->count, &cap);
            if (rc)
                return rc;
            rc = jvalue(j, &nd->items[nd->count]);
            if (rc)
                return rc;
            nd->count++;
            jws(j);
            if (j->i < j->n && j->p[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->p[j->i] == (obj ? '}' : ']')) {
                j->i++;
                j->depth--;
                return 0;
            }
            return jfail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    size_t s = j->i;
    if (c == 't' || c == 'f' || c == 'n') {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        if (j->n - j->i < wl || memcmp(j->p + j->i, w, wl))
            return jfail(j, "unexpected character");
        nd->type = c == 'n' ? SL_PJ_NULL : SL_PJ_BOOL;
        nd->b = c == 't';
        nd->s = j->p + s;
        nd->len = wl;
        j->i += wl;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t k = j->i;
        bool isint = true;
        if (j->p[k] == '-')
            k++;
        size_t d0 = k;
        while (k < j->n && j->p[k] >= '0' && j->p[k] <= '9')
            k++;
        if (k == d0)
            return jfail(j, "bad number");
        if (k < j->n && j->p[k] == '.') {
            isint = false;
            size_t f0 = ++k;
            while (k < j->n && j->p[k] >= '0' && j->p[k] <= '9')
                k++;
            if (k == f0) {
                j->i = k;
                return jfail(j, "bad number");
            }
        }
        if (k < j->n && (j->p[k] == 'e' || j->p[k] == 'E')) {
            isint = false;
            k++;
            if (k < j->n && (j->p[k] == '+' || j->p[k] == '-'))
                k++;
            size_t e0 = k;
            while (k < j->n && j->p[k] >= '0' && j->p[k] <= '9')
                k++;
            if (k == e0) {
                j->i = k;
                return jfail(j, "bad number");
            }
        }
        nd->type = SL_PJ_NUM;
        nd->is_int = isint;
        nd->s = j->p + s;
        nd->len = k - s;
        j->i = k;
        return 0;
    }
    return jfail(j, "unexpected character");
}

int sl_profiler__json_parse(struct sl_arena *a, const char *p, size_t n, struct sl_pj_node **out,
                            size_t *err_off, const char **err)
{
    struct jp j = {.a = a, .p = p, .n = n};
    struct sl_pj_node *root = sl_arena_alloc(a, sizeof *root);
    if (!root)
        return SL_ENOMEM;
    int rc = jvalue(&j, root);
    if (!rc) {
        jws(&j);
        if (j.i < j.n)
            rc = jfail(&j, "text after the JSON value");
    }
    if (rc) {
        *err_off = j.err ? j.err_off : j.i;
        *err = j.err ? j.err : "out of memory";
        return rc == SL_ENOMEM ? rc : SL_EPARSE;
    }
    *out = root;
    return 0;
}

int sl_profiler__json_value(struct sl_arena *a, const struct sl_pj_node *n, struct sl_value *out)
{
    switch (n->type) {
    case SL_PJ_NULL:
        *out = sl_value_null();
        return 0;
    case SL_PJ_BOOL:
        *out = sl_value_bool(n->b);
        return 0;
    case SL_PJ_NUM: {
        int64_t i;
        double d;
        if (n->is_int && !sl_str_to_i64(sl_str_make(n->s, n->len), &i)) {
            *out = sl_value_int(i);
            return 0;
        }
        if (sl_str_to_double(sl_str_make(n->s, n->len), &d))
            d = 0;
        *out = sl_value_double(d);
        return 0;
    }
    case SL_PJ_STR: {
        char *s = sl_arena_strndup(a, n->s, n->len);
        if (!s)
            return SL_ENOMEM;
        *out = sl_value_str(s, n->len);
        return 0;
    }
    case SL_PJ_ARR: {
        struct sl_value *l = sl_arena_alloc(a, (n->count ? n->count : 1) * sizeof *l);
        if (!l)
            return SL_ENOMEM;
        for (size_t i = 0; i < n->count; i++) {
            int rc = sl_profiler__json_value(a, &n->items[i], &l[i]);
            if (rc)
                return rc;
        }
        *out = (struct sl_value){.type = SL_V_LIST, .len = (uint32_t)n->count};
        out->u.list = l;
        return 0;
    }
    case SL_PJ_OBJ: {
        struct sl_kv *m = sl_arena_alloc(a, (n->count ? n->count : 1) * sizeof *m);
        if (!m)
            return SL_ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < n->count; i++) {
            /* a duplicate key: the last one wins, as json-simple */
            size_t at = o;
            for (size_t k = 0; k < o; k++)
                if (sl_str_eq(m[k].key, n->keys[i]))
                    at = k;
            char *k = sl_arena_strndup(a, n->keys[i].ptr, n->keys[i].len);
            if (!k)
                return SL_ENOMEM;
            m[at].key = sl_str_make(k, n->keys[i].len);
            int rc = sl_profiler__json_value(a, &n->items[i], &m[at].val);
            if (rc)
                return rc;
            if (at == o)
                o++;
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = (uint32_t)o};
        out->u.map = m;
        return 0;
    }
    }
    return SL_EINVAL;
}

void sl_profiler__linecol(const char *p, size_t off, uint32_t *line, uint32_t *col)
{
    uint32_t l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (p[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)p[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* ------------------------------------------------------------------ definitions */

struct dp {
    struct sl_profiler_def *def;
    const char *text;
    const char *origin;
    struct sl_diag *d;
};

static int at(struct dp *x, size_t off, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(struct dp *x, size_t off, const char *path, const char *fmt, ...)
{
    struct sl_diag *d = x->d;
    snprintf(d->file, sizeof d->file, "%s", x->origin ? x->origin : "<inline>");
    sl_profiler__linecol(x->text, off, &d->line, &d->col);
    d->offset = (int64_t)off;
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (path && *path)
        return sl_diag_set(d, SL_ECONFIG, "%s: %s", path, m);
    return sl_diag_set(d, SL_ECONFIG, "%s", m);
}

static const char *mkpath(struct dp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *mkpath(struct dp *x, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof b)
        n = sizeof b - 1;
    return sl_arena_strndup(&x->def->arena, b, (size_t)n);
}

static const char *jtype_name(const struct sl_pj_node *n)
{
    static const char *const names[] = {"null",     "a boolean", "a number",
                                        "a string", "a list",    "an object"};
    return names[n->type];
}

/* Compile the expression held by node n (a string, or a number/boolean as its literal). */
static int compile_at(struct dp *x, const struct sl_pj_node *n, const char *path, bool predicate,
                      struct sl_stellar_prog **out)
{
    if (n->type != SL_PJ_STR && n->type != SL_PJ_NUM && n->type != SL_PJ_BOOL)
        return at(x, n->off, path, "expected a Stellar expression (a string), found %s",
                  jtype_name(n));
    char *src = sl_arena_strndup(&x->def->arena, n->s, n->len);
    if (!src)
        return SL_ENOMEM;
    struct sl_diag ed;
    sl_diag_init(&ed);
    struct sl_stellar_copts o = {.predicate = predicate};
    int rc = sl_stellar_compile(src, n->len, &o, out, &ed);
    if (!rc)
        return 0;
    *out = NULL;
    uint32_t ecol = ed.col ? ed.col : 1;
    size_t off = n->off;
    /* a one-line literal without escapes: point at the offending character itself */
    if (n->type == SL_PJ_STR && !n->escaped && !memchr(n->s, '\n', n->len)) {
        size_t k = 0, c = 1;
        while (k < n->len && c < ecol) {
            k++;
            while (k < n->len && ((unsigned char)n->s[k] & 0xc0) == 0x80)
                k++;
            c++;
        }
        off = n->off + 1 + k;
    }
    rc = at(x, off, path, "Stellar expression, column %u: %.300s", ecol, ed.msg);
    snprintf(x->d->hint, sizeof x->d->hint, "%s", ed.hint[0] ? ed.hint : "see docs/stellar.md");
    return rc;
}

static int check_keys(struct dp *x, const struct sl_pj_node *o, const char *path,
                      const char *const *allowed)
{
    for (size_t i = 0; i < o->count; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = sl_str_eq_c(o->keys[i], *a);
        for (size_t k = 0; k < i && ok; k++)
            if (sl_str_eq(o->keys[k], o->keys[i])) {
                char b[300];
                snprintf(b, sizeof b, "%.*s", (int)(o->keys[i].len > 200 ? 200 : o->keys[i].len),
                         o->keys[i].ptr);
                return at(x, o->key_offs[i], path, "duplicate key '%s'", b);
            }
        if (!ok) {
            char b[512];
            size_t l = 0;
            for (const char *const *a = allowed; *a; a++)
                l += (size_t)snprintf(b + l, sizeof b - l, "%s%s", l ? ", " : "", *a);
            char m[800];
            snprintf(m, sizeof m, "unknown key '%.*s' (expected one of: %s)",
                     (int)(o->keys[i].len > 200 ? 200 : o->keys[i].len), o->keys[i].ptr, b);
            return at(x, o->key_offs[i], path, "%s", m);
        }
    }
    return 0;
}

static const struct sl_pj_node *get_key(const struct sl_pj_node *o, const char *k)
{
    for (size_t i = 0; i < o->count; i++)
        if (sl_str_eq_c(o->keys[i], k))
            return &o->items[i];
    return NULL;
}

static int var_index(struct dp *x, struct sl_pdef *pd, struct sl_str name, uint16_t *out)
{
    for (uint16_t v = 0; v < pd->nvars; v++)
        if (pd->var_lens[v] == name.len && !memcmp(pd->var_names[v], name.ptr, name.len)) {
            *out = v;
            return 0;
        }
    /* arrays sized by the caller for ninit + nupdate entries */
    uint16_t v = pd->nvars++;
    char *s = sl_arena_strndup(&x->def->arena, name.ptr, name.len);
    if (!s)
        return SL_ENOMEM;
    pd->var_names[v] = s;
    pd->var_lens[v] = name.len;
    pd->var_syms[v] = name.len < 256 ? sl_sym_intern(name.ptr, name.len) : 0;
    *out = v;
    return 0;
}

static int parse_assigns(struct dp *x, size_t pi, const struct sl_pj_node *o, const char *what,
                         struct sl_pdef *pd, struct sl_pdef_assign **out, size_t *count, bool vars)
{
    const char *path = mkpath(x, "profiles[%zu].%s", pi, what);
    if (o->type != SL_PJ_OBJ)
        return at(x, o->off, path, "expected an object of name: expression, found %s",
                  jtype_name(o));
    if (o->count > 4096)
        return at(x, o->off, path, "too many entries");
    struct sl_pdef_assign *as = sl_arena_alloc(&x->def->arena, (o->count + 1) * sizeof *as);
    if (!as)
        return SL_ENOMEM;
    memset(as, 0, (o->count + 1) * sizeof *as);
    for (size_t i = 0; i < o->count; i++) {
        for (size_t k = 0; k < i; k++)
            if (sl_str_eq(o->keys[k], o->keys[i]))
                return at(x, o->key_offs[i], path, "duplicate name");
        if (!o->keys[i].len)
            return at(x, o->key_offs[i], path, "empty variable name");
        as[i].path =
            mkpath(x, "profiles[%zu].%s.%.*s", pi, what, (int)o->keys[i].len, o->keys[i].ptr);
        as[i].name = sl_arena_strndup(&x->def->arena, o->keys[i].ptr, o->keys[i].len);
        as[i].name_len = o->keys[i].len;
        if (!as[i].path || !as[i].name)
            return SL_ENOMEM;
        if (vars) {
            int rc = var_index(x, pd, o->keys[i], &as[i].var);
            if (rc)
                return rc;
        }
        *count = i + 1;
        *out = as;
        int rc = compile_at(x, &o->items[i], as[i].path, false, &as[i].prog);
        if (rc)
            return rc;
    }
    *out = as;
    *count = o->count;
    return 0;
}

static int parse_profile(struct dp *x, size_t pi, const struct sl_pj_node *o, struct sl_pdef *pd)
{
    static const char *const keys[] = {"profile", "foreach", "onlyif",  "init", "update",
                                       "groupBy", "result",  "expires", NULL};
    const char *path = mkpath(x, "profiles[%zu]", pi);
    if (!path)
        return SL_ENOMEM;
    if (o->type != SL_PJ_OBJ)
        return at(x, o->off, path, "expected a profile (an object), found %s", jtype_name(o));
    int rc = check_keys(x, o, path, keys);
    if (rc)
        return rc;
    const struct sl_pj_node *n = get_key(o, "profile");
    if (!n)
        return at(x, o->off, path, "missing 'profile' (the profile's name)");
    if (n->type != SL_PJ_STR || !n->len)
        return at(x, n->off, mkpath(x, "profiles[%zu].profile", pi), "expected a non-empty string");
    pd->name = sl_arena_strndup(&x->def->arena, n->s, n->len);
    pd->name_len = n->len;
    if (!pd->name)
        return SL_ENOMEM;
    for (size_t k = 0; k < pi; k++)
        if (x->def->profiles[k].name_len == n->len &&
            !memcmp(x->def->profiles[k].name, n->s, n->len))
            return at(x, n->off, mkpath(x, "profiles[%zu].profile", pi),
                      "duplicate profile name '%s'", pd->name);
    if (!(n = get_key(o, "foreach")))
        return at(x, o->off, path, "missing 'foreach' (the expression giving the entity)");
    if ((rc = compile_at(x, n, mkpath(x, "profiles[%zu].foreach", pi), false, &pd->foreach)))
        return rc;
    if ((n = get_key(o, "onlyif")) &&
        (rc = compile_at(x, n, mkpath(x, "profiles[%zu].onlyif", pi), true, &pd->onlyif)))
        return rc;
    const struct sl_pj_node *ini = get_key(o, "init"), *upd = get_key(o, "update");
    size_t nv = (ini && ini->type == SL_PJ_OBJ ? ini->count : 0) +
                (upd && upd->type == SL_PJ_OBJ ? upd->count : 0);
    if (nv > 65535)
        return at(x, o->off, path, "too many variables");
    pd->var_names = sl_arena_alloc(&x->def->arena, (nv + 1) * sizeof *pd->var_names);
    pd->var_lens = sl_arena_alloc(&x->def->arena, (nv + 1) * sizeof *pd->var_lens);
    pd->var_syms = sl_arena_alloc(&x->def->arena, (nv + 1) * sizeof *pd->var_syms);
    if (!pd->var_names || !pd->var_lens || !pd->var_syms)
        return SL_ENOMEM;
    if (ini && (rc = parse_assigns(x, pi, ini, "init", pd, &pd->init, &pd->ninit, true)))
        return rc;
    if (upd && (rc = parse_assigns(x, pi, upd, "update", pd, &pd->update, &pd->nupdate, true)))
        return rc;
    if ((n = get_key(o, "groupBy"))) {
        const char *gp = mkpath(x, "profiles[%zu].groupBy", pi);
        if (n->type != SL_PJ_ARR)
            return at(x, n->off, gp, "expected a list of expressions, found %s", jtype_name(n));
        pd->group_by = sl_arena_alloc(&x->def->arena, (n->count + 1) * sizeof *pd->group_by);
        if (!pd->group_by)
            return SL_ENOMEM;
        memset(pd->group_by, 0, (n->count + 1) * sizeof *pd->group_by);
        for (size_t g = 0; g < n->count; g++) {
            pd->ngroup = g + 1;
            if ((rc = compile_at(x, &n->items[g], mkpath(x, "profiles[%zu].groupBy[%zu]", pi, g),
                                 false, &pd->group_by[g])))
                return rc;
        }
    }
    if (!(n = get_key(o, "result")))
        return at(x, o->off, path, "missing 'result' (the expression giving the value)");
    if (n->type == SL_PJ_OBJ) {
        static const char *const rkeys[] = {"profile", "triage", NULL};
        const char *rp = mkpath(x, "profiles[%zu].result", pi);
        if ((rc = check_keys(x, n, rp, rkeys)))
            return rc;
        const struct sl_pj_node *rn = get_key(n, "profile");
        if (!rn)
            return at(x, n->off, rp, "missing 'profile' (the expression giving the value)");
        if ((rc = compile_at(x, rn, mkpath(x, "profiles[%zu].result.profile", pi), false,
                             &pd->result)))
            return rc;
        if ((rn = get_key(n, "triage")) &&
            (rc = parse_assigns(x, pi, rn, "result.triage", pd, &pd->triage, &pd->ntriage, false)))
            return rc;
    } else if ((rc = compile_at(x, n, mkpath(x, "profiles[%zu].result", pi), false, &pd->result))) {
        return rc;
    }
    if ((n = get_key(o, "expires"))) {
        double d = -1;
        if (n->type != SL_PJ_NUM || sl_str_to_double(sl_str_make(n->s, n->len), &d) || d < 0)
            return at(x, n->off, mkpath(x, "profiles[%zu].expires", pi),
                      "expected a number of days >= 0");
        pd->expires_days = d;
    }
    return 0;
}

int sl_profiler_def_parse(const char *json, size_t len, const char *origin,
                          struct sl_profiler_def **out, struct sl_diag *d)
{
    *out = NULL;
    struct sl_profiler_def *def = sl_calloc(1, sizeof *def);
    if (!def)
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    sl_arena_init(&def->arena, 4096, 64u << 20);
    struct dp x = {def, json, origin, d};
    struct sl_pj_node *root;
    size_t eoff;
    const char *emsg;
    int rc;
    if (len > (16u << 20)) {
        rc = at(&x, 0, NULL, "profiler definition larger than 16 MiB");
        goto fail;
    }
    rc = sl_profiler__json_parse(&def->arena, json, len, &root, &eoff, &emsg);
    if (rc) {
        rc = rc == SL_ENOMEM ? sl_diag_set(d, SL_ENOMEM, "out of memory")
                             : at(&x, eoff, NULL, "invalid JSON: %s", emsg);
        goto fail;
    }
    static const char *const keys[] = {"profiles", "timestampField", NULL};
    if (root->type != SL_PJ_OBJ) {
        rc = at(&x, root->off, NULL, "expected an object with 'profiles', found %s",
                jtype_name(root));
        goto fail;
    }
    if ((rc = check_keys(&x, root, NULL, keys)))
        goto fail;
    const struct sl_pj_node *ts = get_key(root, "timestampField");
    if (ts) {
        if (ts->type != SL_PJ_STR || !ts->len) {
            rc = at(&x, ts->off, "timestampField", "expected a field name (a string)");
            goto fail;
        }
        def->timestamp_field = sl_arena_strndup(&def->arena, ts->s, ts->len);
    }
    const struct sl_pj_node *ps = get_key(root, "profiles");
    if (!ps) {
        rc = at(&x, root->off, NULL, "missing 'profiles' (a list of profiles)");
        goto fail;
    }
    if (ps->type != SL_PJ_ARR) {
        rc = at(&x, ps->off, "profiles", "expected a list of profiles, found %s", jtype_name(ps));
        goto fail;
    }
    if (ps->count > 65535) {
        rc = at(&x, ps->off, "profiles", "too many profiles");
        goto fail;
    }
    def->profiles = sl_calloc(ps->count ? ps->count : 1, sizeof *def->profiles);
    if (!def->profiles) {
        rc = SL_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < ps->count; i++) {
        def->count = i + 1;
        if ((rc = parse_profile(&x, i, &ps->items[i], &def->profiles[i])))
            goto fail;
    }
    def->count = ps->count;
    *out = def;
    return 0;
fail:
    if (rc == SL_ENOMEM && !d->msg[0])
        sl_diag_set(d, SL_ENOMEM, "out of memory");
    sl_profiler_def_free(def);
    return rc;
}

static void free_assigns(struct sl_pdef_assign *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        sl_stellar_free(a[i].prog);
}

void sl_profiler_def_free(struct sl_profiler_def *def)
{
    if (!def)
        return;
    for (size_t i = 0; i < def->count; i++) {
        struct sl_pdef *pd = &def->profiles[i];
        sl_stellar_free(pd->onlyif);
        sl_stellar_free(pd->foreach);
        free_assigns(pd->init, pd->ninit);
        free_assigns(pd->update, pd->nupdate);
        free_assigns(pd->triage, pd->ntriage);
        for (size_t g = 0; pd->group_by && g < pd->ngroup; g++)
            sl_stellar_free(pd->group_by[g]);
        sl_stellar_free(pd->result);
    }
    sl_free(def->profiles);
    sl_arena_fini(&def->arena);
    sl_free(def);
}

size_t sl_profiler_def_count(const struct sl_profiler_def *def)
{
    return def->count;
}

const char *sl_profiler_def_name(const struct sl_profiler_def *def, size_t i)
{
    return def->profiles[i].name;
}

double sl_profiler_def_expires_days(const struct sl_profiler_def *def, size_t i)
{
    return def->profiles[i].expires_days;
}

const char *sl_profiler_def_timestamp_field(const struct sl_profiler_def *def)
{
    return def->timestamp_field;
}
