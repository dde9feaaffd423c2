/*
 * conformance.c — runs Metron's Stellar cases (../shared/conformance/stellar_cases.jsonl)
 * against sluice's engine and prints the pass rate and every failing case.
 *
 *   stellar_conformance FILE [--floor N] [--verbose]
 *
 * Exit status 1 when the number of passing cases is below the floor (tests/lang/
 * conformance_floor.txt holds the recorded floor; `make test` passes it). A case's `vars`
 * are typed as Metron's harness types them: JSON integers are Integer, decimals Double,
 * `var_types` overrides (long). Results compare by Stellar type and value; floats after
 * rounding to binary32, doubles exactly or within `tolerance`.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "core/symbol.h"
#include "lang/stellar.h"
#include "lang/sval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vars {
    json_t *obj;
    json_t *types;
    struct sl_arena *arena;
};

static int to_value(json_t *j, const char *type, struct sl_arena *a, struct sl_value *out);

static int to_value(json_t *j, const char *type, struct sl_arena *a, struct sl_value *out)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = sl_value_null();
        return 0;
    case JSON_TRUE:
        *out = sl_value_bool(true);
        return 0;
    case JSON_FALSE:
        *out = sl_value_bool(false);
        return 0;
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        if (type && !strcmp(type, "long"))
            *out = sl_sv_long(v);
        else if (type && !strcmp(type, "double"))
            *out = sl_sv_double((double)v);
        else if (type && !strcmp(type, "float"))
            *out = sl_sv_float((float)v);
        else if (v >= INT32_MIN && v <= INT32_MAX)
            *out = sl_sv_int((int32_t)v);
        else
            *out = sl_sv_long(v);
        return 0;
    }
    case JSON_REAL:
        *out = (type && !strcmp(type, "float")) ? sl_sv_float((float)json_real_value(j))
                                                : sl_sv_double(json_real_value(j));
        return 0;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *s = sl_arena_strndup(a, json_string_value(j), n);
        *out = sl_value_str(s, n);
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        struct sl_value *l = sl_arena_alloc(a, (n ? n : 1) * sizeof *l);
        for (size_t i = 0; i < n; i++)
            to_value(json_array_get(j, i), NULL, a, &l[i]);
        *out = (struct sl_value){.type = SL_V_LIST, .len = (uint32_t)n};
        out->u.list = l;
        return 0;
    }
    case JSON_OBJECT: {
        /* {"$double": "NaN"} */
        json_t *d = json_object_get(j, "$double");
        if (d && json_is_string(d)) {
            const char *s = json_string_value(d);
            *out = sl_sv_double(!strcmp(s, "NaN") ? NAN : s[0] == '-' ? -INFINITY : INFINITY);
            return 0;
        }
        size_t n = json_object_size(j), i = 0;
        struct sl_kv *m = sl_arena_alloc(a, (n ? n : 1) * sizeof *m);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            m[i].key = sl_str_make(sl_arena_strndup(a, k, strlen(k)), strlen(k));
            to_value(v, NULL, a, &m[i].val);
            i++;
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = (uint32_t)n};
        out->u.map = m;
        return 0;
    }
    }
    return -1;
}

static bool get_var(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    struct vars *v = ud;
    char key[512];
    if (len >= sizeof key)
        return false;
    memcpy(key, name, len);
    key[len] = 0;
    json_t *j = json_object_get(v->obj, key);
    if (!j)
        return false;
    json_t *t = v->types ? json_object_get(v->types, key) : NULL;
    to_value(j, t ? json_string_value(t) : NULL, v->arena, out);
    return true;
}

static bool all_vars(void *ud, struct sl_arena *a, struct sl_value *out)
{
    struct vars *v = ud;
    return to_value(v->obj, NULL, a, out) == 0;
}

static bool num_eq(double exp, double got, bool is_float, double tol)
{
    if (isnan(exp))
        return isnan(got);
    if (is_float)
        return (float)exp == (float)got;
    if (tol > 0)
        return fabs(exp - got) <= tol;
    return exp == got;
}

static bool match(json_t *e, const struct sl_value *v, const char *type, double tol);

static bool match_loose(json_t *e, const struct sl_value *v)
{
    switch (json_typeof(e)) {
    case JSON_NULL:
        return v->type == SL_V_NULL;
    case JSON_TRUE:
        return v->type == SL_V_BOOL && v->u.b;
    case JSON_FALSE:
        return v->type == SL_V_BOOL && !v->u.b;
    case JSON_INTEGER:
    case JSON_REAL:
        return sl_sv_is_num(v) && sl_sv_as_double(v) == json_number_value(e);
    case JSON_STRING:
        return v->type == SL_V_STRING && v->len == json_string_length(e) &&
               !memcmp(v->u.s, json_string_value(e), v->len);
    case JSON_OBJECT:
        if (json_object_get(e, "$double"))
            return match(e, v, "double", 0);
        return match(e, v, "map", 0);
    case JSON_ARRAY:
        return match(e, v, "list", 0);
    }
    return false;
}

static bool match(json_t *e, const struct sl_value *v, const char *type, double tol)
{
    if (!strcmp(type, "null"))
        return v->type == SL_V_NULL;
    if (!strcmp(type, "bool"))
        return v->type == SL_V_BOOL && v->u.b == json_is_true(e);
    if (!strcmp(type, "string"))
        return match_loose(e, v);
    if (!strcmp(type, "int") || !strcmp(type, "long")) {
        enum sl_jnum want = type[0] == 'i' ? SL_JN_INT : SL_JN_LONG;
        return sl_sv_jnum(v) == want && json_is_integer(e) && v->u.i == json_integer_value(e);
    }
    if (!strcmp(type, "float") || !strcmp(type, "double")) {
        enum sl_jnum want = type[0] == 'f' ? SL_JN_FLOAT : SL_JN_DOUBLE;
        if (sl_sv_jnum(v) != want)
            return false;
        double ex;
        json_t *d = json_is_object(e) ? json_object_get(e, "$double") : NULL;
        if (d) {
            const char *s = json_string_value(d);
            ex = !strcmp(s, "NaN") ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        } else if (json_is_number(e)) {
            ex = json_number_value(e);
        } else {
            return false;
        }
        return num_eq(ex, v->u.d, want == SL_JN_FLOAT, tol);
    }
    if (!strcmp(type, "list")) {
        if (v->type != SL_V_LIST || !json_is_array(e) || json_array_size(e) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++)
            if (!match_loose(json_array_get(e, i), &v->u.list[i]))
                return false;
        return true;
    }
    if (!strcmp(type, "map")) {
        if (v->type != SL_V_MAP || !json_is_object(e) || json_object_size(e) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++) {
            char key[512];
            size_t kl = v->u.map[i].key.len < sizeof key - 1 ? v->u.map[i].key.len : 0;
            memcpy(key, v->u.map[i].key.ptr, kl);
            key[kl] = 0;
            json_t *x = json_object_get(e, key);
            if (!x || !match_loose(x, &v->u.map[i].val))
                return false;
        }
        return true;
    }
    return false;
}

static const char *tname(const struct sl_value *v)
{
    switch (sl_sv_jnum(v)) {
    case SL_JN_INT:
        return "int";
    case SL_JN_LONG:
        return "long";
    case SL_JN_FLOAT:
        return "float";
    case SL_JN_DOUBLE:
        return "double";
    default:
        return sl_vtype_name((enum sl_vtype)v->type);
    }
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    long floor_n = 0;
    bool verbose = false, derived_only_report = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--floor") && i + 1 < argc)
            floor_n = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else
            file = argv[i];
    }
    (void)derived_only_report;
    if (!file) {
        fprintf(stderr, "usage: stellar_conformance FILE [--floor N] [--verbose]\n");
        return 2;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "stellar_conformance: cannot open %s\n", file);
        return 2;
    }
    char line[16384];
    int total = 0, passed = 0, nd_total = 0, nd_passed = 0, lineno = 0;
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        json_error_t je;
        json_t *c = json_loads(line, 0, &je);
        if (!c)
            continue;
        total++;
        const char *expr = json_string_value(json_object_get(c, "expr"));
        bool derived = json_is_true(json_object_get(c, "derived"));
        bool want_err = json_is_true(json_object_get(c, "expect_error"));
        const char *etype = json_string_value(json_object_get(c, "expect_type"));
        json_t *tolj = json_object_get(c, "tolerance");
        double tol = tolj ? json_number_value(tolj) : 0;
        const char *res = json_string_value(json_object_get(c, "resolver"));
        struct sl_arena arena;
        sl_arena_init(&arena, 4096, 64u << 20);
        struct vars vs = {json_object_get(c, "vars"), json_object_get(c, "var_types"), &arena};
        struct sl_stellar_resolver r = {get_var, &vs, res && !strcmp(res, "strict"), all_vars,
                                        NULL};
        struct sl_stellar_prog *p = NULL;
        struct sl_diag d;
        sl_diag_init(&d);
        bool ok;
        char got[600] = "";
        int rc = sl_stellar_compile(expr, strlen(expr), NULL, &p, &d);
        if (rc) {
            ok = want_err;
            snprintf(got, sizeof got, "compile error at column %u: %s", d.col, d.msg);
        } else {
            struct sl_value v;
            rc = sl_stellar_eval(vm, p, &r, &arena, &v);
            if (rc) {
                ok = want_err;
                snprintf(got, sizeof got, "error: %s", sl_stellar_vm_error(vm));
            } else {
                ok = !want_err && etype && match(json_object_get(c, "expect"), &v, etype, tol);
                sl_buf_reset(&out);
                sl_sv_format(&v, &out);
                snprintf(got, sizeof got, "%s %.*s", tname(&v),
                         (int)(out.len > 400 ? 400 : out.len), out.ptr ? out.ptr : "");
            }
            sl_stellar_vm_release(vm);
        }
        sl_stellar_free(p);
        if (!derived) {
            nd_total++;
            nd_passed += ok;
        }
        passed += ok;
        if (!ok || verbose) {
            char *exp = json_dumps(json_object_get(c, "expect"), JSON_ENCODE_ANY | JSON_COMPACT);
            printf("%s line %d%s: %s\n    expected %s %s, got %s\n", ok ? "PASS" : "FAIL", lineno,
                   derived ? " (derived)" : "", expr,
                   want_err ? "an error"
                   : etype  ? etype
                            : "?",
                   want_err ? ""
                   : exp    ? exp
                            : "",
                   got);
            free(exp);
        }
        sl_arena_fini(&arena);
        json_decref(c);
    }
    fclose(f);
    sl_buf_fini(&out);
    sl_stellar_vm_free(vm);
    printf("stellar conformance: %d/%d passed (%.1f%%); non-derived %d/%d\n", passed, total,
           total ? 100.0 * passed / total : 0.0, nd_passed, nd_total);
    if (passed < floor_n) {
        printf("FAIL: %d passed is below the recorded floor of %ld\n", passed, floor_n);
        return 1;
    }
    return 0;
}
