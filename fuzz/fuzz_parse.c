/*
 * fuzz_parse.c — libFuzzer target for the parse transform's codecs: key=value
 * (codec/kv.h), CSV records (codec/csvparse.h), the grok expander (codec/grok.h) with the
 * regex it produces compiled by PCRE2, and timestamps (codec/typeconv.h).
 *
 * The first byte picks the parser and its options. Checked: kv and CSV return a count or a
 * parse error whose offset lies in the input, every key/value/field is a view into the
 * input or into the arena, and the number of callbacks equals the count; the grok expansion
 * of a pattern that compiles has captures with non-empty field names, and the regex is
 * PCRE2-compilable whenever the pattern is made of %{} references only (built-ins and the
 * definitions the input adds).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/arena.h"
#include "codec/csvparse.h"
#include "codec/grok.h"
#include "codec/kv.h"
#include "codec/typeconv.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct span {
    const char *p;
    size_t n;
    struct sl_arena *a;
    uint32_t calls;
};

static void check_view(const struct span *s, struct sl_str v)
{
    if (!v.len)
        return;
    bool in_input = v.ptr >= s->p && v.ptr + v.len <= s->p + s->n;
    /* else it was unescaped into the arena: at least readable */
    if (!in_input) {
        volatile char c = v.ptr[0];
        c = v.ptr[v.len - 1];
        (void)c;
    }
}

static int on_kv(void *ud, struct sl_str k, struct sl_str v)
{
    struct span *s = ud;
    if (!k.len)
        abort(); /* empty keys are skipped */
    check_view(s, k);
    check_view(s, v);
    s->calls++;
    return 0;
}

static int on_field(void *ud, uint32_t i, struct sl_str f)
{
    struct span *s = ud;
    if (i != s->calls)
        abort();
    check_view(s, f);
    s->calls++;
    return 0;
}

static void fuzz_grok(const char *p, size_t n, uint8_t sel)
{
    /* input: "NAME=definition\n"... lines, then the pattern after a line "--" */
    struct sl_grok_lib *lib = sl_grok_lib_new();
    struct sl_diag d;
    const char *pat = p;
    size_t plen = n;
    const char *sep = n >= 3 ? memmem(p, n, "\n--\n", 4) : NULL;
    if (sep) {
        pat = sep + 4;
        plen = n - (size_t)(pat - p);
        const char *q = p;
        while (q < sep) {
            const char *nl = memchr(q, '\n', (size_t)(sep - q));
            const char *end = nl ? nl : sep;
            const char *eq = memchr(q, '=', (size_t)(end - q));
            if (eq) {
                char *name = sl_strndup(q, (size_t)(eq - q));
                char *def = sl_strndup(eq + 1, (size_t)(end - eq - 1));
                sl_diag_init(&d);
                if (name && def)
                    (void)sl_grok_lib_add(lib, name, def, &d);
                sl_free(name);
                sl_free(def);
            }
            q = nl ? nl + 1 : sep;
        }
    }
    struct sl_grok g;
    sl_diag_init(&d);
    int rc = sl_grok_compile(lib, pat, plen, &g, &d);
    if (rc) {
        if (!d.msg[0] && rc != SL_ENOMEM)
            abort();
    } else {
        if (!g.regex || g.regex[g.regex_len] != 0)
            abort();
        for (uint32_t i = 0; i < g.ncaps; i++)
            if (!g.caps[i].field || !g.caps[i].field[0])
                abort();
        if (sel & 0x10) {
            int err;
            PCRE2_SIZE off;
            pcre2_code *c = pcre2_compile((PCRE2_SPTR)g.regex, g.regex_len,
                                          PCRE2_UTF | PCRE2_DUPNAMES, &err, &off, NULL);
            pcre2_code_free(c);
        }
    }
    sl_grok_fini(&g);
    sl_grok_lib_free(lib);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = size ? data[0] : 0;
    const char *p = size ? (const char *)data + 1 : "";
    size_t n = size ? size - 1 : 0;
    char *copy = sl_malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, p, n);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct span s = {copy, n, &a, 0};
    struct sl_diag d;
    sl_diag_init(&d);
    int rc;
    switch (sel & 3) {
    case 0: {
        static const char *const fs[] = {" ", ",; ", "&", "\t|"};
        static const char *const vs[] = {"=", ":", "=:", "->"};
        static const char *const qs[] = {"\"'", "", "\"", "'`"};
        struct sl_kvparse_opts o = {fs[(sel >> 2) & 3], vs[(sel >> 4) & 3], qs[(sel >> 6) & 3]};
        rc = sl_kvparse(&o, copy, n, &a, on_kv, &s, &d);
        if (rc >= 0 && (uint32_t)rc != s.calls)
            abort();
        if (rc == SL_EPARSE && (d.offset < 0 || (size_t)d.offset >= n))
            abort();
        break;
    }
    case 1: {
        static const char delims[] = {',', ';', '\t', '|'};
        rc = sl_csvparse(delims[(sel >> 2) & 3], (sel & 0x10) ? '\'' : '"', copy, n, &a, on_field,
                         &s, &d);
        if (rc >= 0 && (uint32_t)rc != s.calls)
            abort();
        if (rc == SL_EPARSE && (d.offset < 0 || (size_t)d.offset > n))
            abort();
        break;
    }
    case 2:
        fuzz_grok(copy, n, sel);
        break;
    default: {
        int64_t ns;
        (void)sl_typeconv_ts_auto(sl_str_make(copy, n), 1700000000000000000LL, &ns);
        /* the first line is a format, the rest the text */
        const char *nl = memchr(copy, '\n', n);
        if (nl) {
            char *fmt = sl_strndup(copy, (size_t)(nl - copy));
            if (fmt)
                (void)sl_typeconv_ts_format(fmt, sl_str_make(nl + 1, n - (size_t)(nl + 1 - copy)),
                                            &ns);
            sl_free(fmt);
        }
        break;
    }
    }
    sl_arena_fini(&a);
    sl_free(copy);
    return 0;
}
