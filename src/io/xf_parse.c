/*
 * xf_parse.c — the `parse` transform: one text field parsed into typed fields by a PCRE2
 * regex with named groups, grok patterns, key=value pairs or a CSV record
 * (docs/components/parse.md).
 *
 *   transforms:
 *     access:
 *       type: parse
 *       inputs: [logs]
 *       format: grok
 *       pattern: "%{COMBINEDAPACHELOG}"
 *       types: {response: int, bytes: int, clientip: ip, timestamp: timestamp}
 *
 * A line that does not parse is a miss: by default a dead letter in `<name>.errors` whose
 * `error` says which pattern failed and at which byte it stopped matching.
 *
 * DESIGN: grok is expanded into one regex at init (codec/grok.c), so regex and grok share
 * the match path: patterns compiled once with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF and
 * JIT-compiled, shared read-only by the workers; match data, match context, JIT stack and
 * scratch are per worker (x->worker). Each pattern carries a table group number -> output
 * field (path, symbol and type conversion), so a match sets fields without any lookup by
 * name. Captured strings are views into the source field's memory (batch memory), so a
 * match allocates nothing but the event's field array growth in the batch arena.
 * The failure position of a miss is computed only on a miss: the largest prefix of the line
 * that the pattern, anchored at byte 0, can still extend into a match (PCRE2_PARTIAL_HARD,
 * binary search over prefix lengths: log2(n) interpreter runs).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/map.h"
#include "codec/csvparse.h"
#include "codec/grok.h"
#include "codec/kv.h"
#include "codec/typeconv.h"
#include "core/component.h"
#include "core/event.h"
#include "core/pipeline.h"
#include "io/lang_glue.h"

#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { FMT_REGEX, FMT_GROK, FMT_KV, FMT_CSV };
enum { MISS_ERROR, MISS_KEEP, MISS_DROP };

struct parse_conf {
    int format;
    char *source;
    struct sl_strlist pattern;
    struct sl_strmap pattern_definitions;
    bool anchored;
    struct sl_strmap types;
    char *target;
    char *prefix;
    bool keep_source;
    char *event_time;
    int on_miss;
    char *field_split;
    char *value_split;
    char *quotes;
    struct sl_strlist columns;
    char *delimiter;
    char *quote;
    bool skip_empty;
    int64_t match_limit;
};

static const struct sl_option parse_opts[] = {
    {"format", SL_OPT_ENUM, NULL, offsetof(struct parse_conf, format),
     "regex: PCRE2 named groups; grok: %{NAME:field:type} patterns; kv: key=value pairs; csv: "
     "one RFC 4180 record",
     "regex|grok|kv|csv", 0, 0, SL_OPT_REQUIRED},
    {"source", SL_OPT_STRING, "message", offsetof(struct parse_conf, source),
     "the field to parse (a path)", NULL, 0, 0, 0},
    {"pattern", SL_OPT_STRING_LIST, NULL, offsetof(struct parse_conf, pattern),
     "regex or grok pattern(s), tried in order; the first match wins", NULL, 0, 0, 0},
    {"pattern_definitions", SL_OPT_STRING_MAP, NULL,
     offsetof(struct parse_conf, pattern_definitions),
     "grok: extra patterns NAME -> definition (they may use each other and the built-ins)", NULL, 0,
     0, 0},
    {"anchored", SL_OPT_BOOL, "false", offsetof(struct parse_conf, anchored),
     "regex/grok: the match must start at the first byte (Python re.match)", NULL, 0, 0, 0},
    {"types", SL_OPT_STRING_MAP, NULL, offsetof(struct parse_conf, types),
     "field -> int|float|bool|ip|string|timestamp|timestamp:<format>", NULL, 0, 0, 0},
    {"target", SL_OPT_STRING, NULL, offsetof(struct parse_conf, target),
     "put the fields in this map field instead of at the top level", NULL, 0, 0, 0},
    {"prefix", SL_OPT_STRING, NULL, offsetof(struct parse_conf, prefix),
     "prepend this to every field name", NULL, 0, 0, 0},
    {"keep_source", SL_OPT_BOOL, "true", offsetof(struct parse_conf, keep_source),
     "keep the source field after a successful parse", NULL, 0, 0, 0},
    {"event_time", SL_OPT_STRING, NULL, offsetof(struct parse_conf, event_time),
     "set the event time from this parsed field (a timestamp, or epoch seconds)", NULL, 0, 0, 0},
    {"on_miss", SL_OPT_ENUM, "error", offsetof(struct parse_conf, on_miss),
     "a line that does not parse: to .errors, passed on unchanged, or dropped", "error|keep|drop",
     0, 0, 0},
    {"field_split", SL_OPT_STRING, " ", offsetof(struct parse_conf, field_split),
     "kv: bytes that separate pairs", NULL, 0, 0, 0},
    {"value_split", SL_OPT_STRING, "=", offsetof(struct parse_conf, value_split),
     "kv: bytes that separate a key from its value", NULL, 0, 0, 0},
    {"quotes", SL_OPT_STRING, "\"'", offsetof(struct parse_conf, quotes),
     "kv: quote characters around values", NULL, 0, 0, 0},
    {"columns", SL_OPT_STRING_LIST, NULL, offsetof(struct parse_conf, columns),
     "csv: column names in order (unnamed ones: column<N>)", NULL, 0, 0, 0},
    {"delimiter", SL_OPT_STRING, ",", offsetof(struct parse_conf, delimiter),
     "csv: field delimiter (one byte)", NULL, 0, 0, 0},
    {"quote", SL_OPT_STRING, "\"", offsetof(struct parse_conf, quote),
     "csv: quote character (one byte)", NULL, 0, 0, 0},
    {"skip_empty", SL_OPT_BOOL, "false", offsetof(struct parse_conf, skip_empty),
     "kv/csv: do not set fields whose value is empty", NULL, 0, 0, 0},
    {"match_limit", SL_OPT_INT, "1000000", offsetof(struct parse_conf, match_limit),
     "regex/grok: PCRE2 match limit per line (backtracking steps); past it the line is a miss",
     NULL, 1000, 1000000000, 0},
    {0},
};

/* Where a captured value goes. */
struct outfield {
    struct sl_path path;            /* prefix + name, under target */
    const struct sl_typeconv *conv; /* NULL: string */
    char *name;                     /* as captured (before prefix/target) */
};

struct pat {
    pcre2_code *re;
    bool jit;
    char *text;    /* as written */
    uint32_t *out; /* group number -> outfield index + 1 (0: not a field) */
    uint32_t ngroups;
};

struct worker {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    struct sl_buf scratch; /* text of non-string source values, names */
    bool *keep;
    uint32_t keep_cap;
    struct sl_field *saved; /* the event's fields before the parse, restored on a miss */
    uint32_t saved_cap;
    struct sl_kv *kvs; /* target map under construction (kv/csv) */
    uint32_t nkvs, kvs_cap;
    /* past KV_INDEX_FROM keys, the repeated-key check of kvs goes through this open-addressing
     * table of kvs indexes + 1 (0: empty); kidx_cap 0: not built for this event */
    uint32_t *kidx;
    uint32_t kidx_cap, kidx_alloc;
    struct sl_log_limit lim;
    /* per event during kv/csv callbacks */
    struct sl_batch *b;
    struct sl_event *ev;
    char msg[512];
};

struct parse {
    const struct parse_conf *cf;
    struct sl_path source;
    struct pat *pats;
    uint32_t npats;
    struct outfield *outs;
    uint32_t nouts, outs_cap;
    /* types: field name -> index into convs */
    struct sl_hmap typemap;
    struct sl_typeconv *convs;
    uint32_t nconvs;
    struct sl_typeconv *inline_convs; /* grok %{X:f:type}, one per capture seen */
    uint32_t ninline;
    struct sl_path target;
    bool has_target;
    struct sl_path event_time;
    bool has_event_time;
    char delim, quote;
    struct sl_kvparse_opts kvo;
    sl_sym *colsyms; /* csv: symbols of prefix + column (no target) */
    struct worker *workers;
    uint32_t nworkers;
    pcre2_general_context *gctx;
    atomic_uint_fast64_t misses;
};

#define SCRATCH_MAX (16u << 20)

static void *pcre_alloc(size_t n, void *data)
{
    (void)data;
    return sl_malloc(n);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    sl_free(p);
}

static void parse_fini(struct sl_component *c)
{
    struct parse *p = c->state;
    if (!p)
        return;
    for (uint32_t i = 0; i < p->npats; i++) {
        pcre2_code_free(p->pats[i].re);
        sl_free(p->pats[i].out);
        sl_free(p->pats[i].text);
    }
    sl_free(p->pats);
    for (uint32_t i = 0; i < p->nouts; i++) {
        sl_path_fini(&p->outs[i].path);
        sl_free(p->outs[i].name);
    }
    sl_free(p->outs);
    for (uint32_t i = 0; i < p->nconvs; i++)
        sl_typeconv_fini(&p->convs[i]);
    sl_free(p->convs);
    for (uint32_t i = 0; i < p->ninline; i++)
        sl_typeconv_fini(&p->inline_convs[i]);
    sl_free(p->inline_convs);
    sl_hmap_fini(&p->typemap);
    sl_path_fini(&p->source);
    if (p->has_target)
        sl_path_fini(&p->target);
    if (p->has_event_time)
        sl_path_fini(&p->event_time);
    sl_free(p->colsyms);
    for (uint32_t i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        pcre2_match_data_free(w->md);
        pcre2_match_context_free(w->mctx);
        pcre2_jit_stack_free(w->jstack);
        sl_buf_fini(&w->scratch);
        sl_free(w->keep);
        sl_free(w->saved);
        sl_free(w->kvs);
        sl_free(w->kidx);
    }
    sl_free(p->workers);
    pcre2_general_context_free(p->gctx);
    sl_free(p);
    c->state = NULL;
}

static const struct sl_typeconv *type_of(const struct parse *p, const char *name)
{
    uint64_t i;
    if (sl_hmap_get(&p->typemap, sl_str_c(name), &i))
        return &p->convs[i];
    return NULL;
}

/* Output field for a captured name (created once per distinct name). Index or < 0. */
static int out_for(struct sl_component *c, struct parse *p, const char *name,
                   const struct sl_typeconv *inline_conv, struct sl_diag *d)
{
    const struct sl_typeconv *conv = type_of(p, name);
    if (!conv)
        conv = inline_conv;
    for (uint32_t i = 0; i < p->nouts; i++)
        if (strcmp(p->outs[i].name, name) == 0 && p->outs[i].conv == conv)
            return (int)i;
    if (p->nouts == p->outs_cap) {
        uint32_t cap = p->outs_cap ? p->outs_cap * 2 : 16;
        p->outs = sl_xrealloc(p->outs, cap * sizeof(*p->outs));
        p->outs_cap = cap;
    }
    struct outfield *o = &p->outs[p->nouts];
    memset(o, 0, sizeof(*o));
    struct sl_buf full;
    sl_buf_init(&full, 4096);
    int rc = 0;
    if (p->cf->target)
        rc = sl_buf_appendf(&full, "%s.", p->cf->target);
    if (!rc)
        rc = sl_buf_appendf(&full, "%s%s", p->cf->prefix ? p->cf->prefix : "", name);
    if (!rc)
        rc = sl_buf_putc(&full, '\0');
    if (!rc)
        rc = sl_path_init(&o->path, full.ptr);
    sl_buf_fini(&full);
    if (rc) {
        sl_component_diag_opt(c, "pattern", d);
        return sl_diag_set(d, SL_ECONFIG, "bad field name '%.200s': %s", name, sl_strerror(rc));
    }
    o->name = sl_xstrdup(name);
    o->conv = conv;
    p->nouts++;
    return (int)(p->nouts - 1);
}

/* Compile one regex (already grok-expanded) and map its named groups to outputs. */
static int compile_pat(struct sl_component *c, struct parse *p, struct pat *pt, const char *re,
                       size_t re_len, const struct sl_grok *g, uint32_t idx, struct sl_diag *d)
{
    pcre2_compile_context *cctx = pcre2_compile_context_create(p->gctx);
    if (!cctx)
        return SL_ENOMEM;
    int err = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DUPNAMES;
    if (p->cf->anchored)
        opts |= PCRE2_ANCHORED;
    pt->re = pcre2_compile((PCRE2_SPTR)re, re_len, opts, &err, &off, cctx);
    pcre2_compile_context_free(cctx);
    if (!pt->re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", err);
        sl_component_diag_opt(c, "pattern", d);
        if (g)
            sl_diag_hint(d, "the expanded regex near there: %.80s", re + (off > 40 ? off - 40 : 0));
        else
            sl_diag_hint(d, "regexes use PCRE2 syntax; named groups are (?<name>...) or "
                            "(?P<name>...)");
        return sl_diag_set(d, SL_ECONFIG, "pattern %u does not compile: %s at offset %zu", idx + 1,
                           (const char *)msg, (size_t)off);
    }
    pt->jit = pcre2_jit_compile(pt->re, PCRE2_JIT_COMPLETE) == 0;
    uint32_t ngroups = 0, namecount = 0, entry = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(pt->re, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    pcre2_pattern_info(pt->re, PCRE2_INFO_NAMECOUNT, &namecount);
    pcre2_pattern_info(pt->re, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(pt->re, PCRE2_INFO_NAMETABLE, &table);
    pt->ngroups = ngroups;
    pt->out = sl_xcalloc(ngroups + 1, sizeof(*pt->out));
    uint32_t nfields = 0;
    for (uint32_t i = 0; i < namecount; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry;
        uint32_t grp = ((uint32_t)e[0] << 8) | e[1];
        const char *name = (const char *)e + 2;
        const char *field = name;
        const struct sl_typeconv *inl = NULL;
        if (g && name[0] == '_' && name[1] == 'g') {
            uint32_t ci = 0;
            for (const char *q = name + 2; *q; q++)
                ci = ci * 10 + (uint32_t)(*q - '0');
            if (ci >= g->ncaps)
                continue;
            field = g->caps[ci].field;
            if (g->caps[ci].type) {
                struct sl_typeconv tc;
                struct sl_diag td;
                sl_diag_init(&td);
                if (sl_typeconv_parse(g->caps[ci].type, &tc, &td)) {
                    sl_component_diag_opt(c, "pattern", d);
                    return sl_diag_set(d, SL_ECONFIG, "pattern %u, field %.100s: %.300s", idx + 1,
                                       field, td.msg);
                }
                p->inline_convs =
                    sl_xrealloc(p->inline_convs, (p->ninline + 1) * sizeof(*p->inline_convs));
                p->inline_convs[p->ninline] = tc;
                inl = &p->inline_convs[p->ninline++];
            }
        }
        int o = out_for(c, p, field, inl, d);
        if (o < 0)
            return o;
        if (grp <= ngroups)
            pt->out[grp] = (uint32_t)o + 1;
        nfields++;
    }
    if (!nfields) {
        sl_component_diag_opt(c, "pattern", d);
        sl_diag_hint(d, g ? "capture with %%{NAME:field}" : "name a group: (?<field>...)");
        return sl_diag_set(d, SL_ECONFIG, "pattern %u captures no field", idx + 1);
    }
    return 0;
}

static int init_patterns(struct sl_component *c, struct parse *p, struct sl_diag *d)
{
    const struct parse_conf *cf = p->cf;
    if (!cf->pattern.count) {
        sl_component_diag_opt(c, "pattern", d);
        return sl_diag_set(d, SL_ECONFIG, "format %s needs `pattern`",
                           cf->format == FMT_GROK ? "grok" : "regex");
    }
    struct sl_grok_lib *lib = NULL;
    int rc = 0;
    if (cf->format == FMT_GROK) {
        lib = sl_grok_lib_new();
        for (size_t i = 0; i < cf->pattern_definitions.count; i++) {
            const struct sl_strmap_item *it = &cf->pattern_definitions.items[i];
            if ((rc = sl_grok_lib_add(lib, it->key, it->val, d))) {
                sl_component_diag_opt(c, "pattern_definitions", d);
                d->line = it->line;
                d->col = it->col;
                rc = SL_ECONFIG;
                goto done;
            }
        }
    } else if (cf->pattern_definitions.count) {
        sl_component_diag_opt(c, "pattern_definitions", d);
        rc = sl_diag_set(d, SL_ECONFIG, "pattern_definitions is for format: grok");
        goto done;
    }
    p->pats = sl_xcalloc(cf->pattern.count, sizeof(*p->pats));
    for (size_t i = 0; i < cf->pattern.count; i++) {
        const char *text = cf->pattern.items[i];
        struct pat *pt = &p->pats[i];
        p->npats = (uint32_t)i + 1;
        pt->text = sl_xstrdup(text);
        if (lib) {
            struct sl_grok g;
            struct sl_diag gd;
            sl_diag_init(&gd);
            rc = sl_grok_compile(lib, text, strlen(text), &g, &gd);
            if (rc) {
                sl_grok_fini(&g);
                sl_component_diag_opt(c, "pattern", d);
                if (gd.col)
                    rc = sl_diag_set(d, SL_ECONFIG, "grok pattern %zu, column %u: %.400s", i + 1,
                                     gd.col, gd.msg);
                else
                    rc = sl_diag_set(d, SL_ECONFIG, "grok pattern %zu: %.400s", i + 1, gd.msg);
                sl_diag_hint(d, "built-in patterns: docs/components/parse.md; add others with "
                                "pattern_definitions");
                goto done;
            }
            rc = compile_pat(c, p, pt, g.regex, g.regex_len, &g, (uint32_t)i, d);
            sl_grok_fini(&g);
        } else {
            rc = compile_pat(c, p, pt, text, strlen(text), NULL, (uint32_t)i, d);
        }
        if (rc)
            goto done;
    }
done:
    sl_grok_lib_free(lib);
    return rc;
}

static int parse_init(struct sl_component *c, struct sl_diag *d)
{
    const struct parse_conf *cf = c->conf;
    struct parse *p = sl_xcalloc(1, sizeof(*p));
    c->state = p;
    p->cf = cf;
    sl_hmap_init(&p->typemap);
    int rc = SL_ENOMEM;
    p->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!p->gctx)
        goto fail;
    if ((rc = sl_path_init(&p->source, cf->source))) {
        sl_component_diag_opt(c, "source", d);
        rc = sl_diag_set(d, SL_ECONFIG, "bad source field '%s'", cf->source);
        goto fail;
    }
    if (cf->target) {
        if ((rc = sl_path_init(&p->target, cf->target))) {
            sl_component_diag_opt(c, "target", d);
            rc = sl_diag_set(d, SL_ECONFIG, "bad target field '%s'", cf->target);
            goto fail;
        }
        p->has_target = true;
    }
    if (cf->types.count) {
        p->convs = sl_xcalloc(cf->types.count, sizeof(*p->convs));
        for (size_t i = 0; i < cf->types.count; i++) {
            const struct sl_strmap_item *it = &cf->types.items[i];
            struct sl_diag td;
            sl_diag_init(&td);
            if ((rc = sl_typeconv_parse(it->val, &p->convs[i], &td))) {
                sl_component_diag_opt(c, "types", d);
                d->line = it->line;
                d->col = it->col;
                rc = sl_diag_set(d, SL_ECONFIG, "types.%.100s: %.300s", it->key, td.msg);
                goto fail;
            }
            p->nconvs = (uint32_t)i + 1;
            if ((rc = sl_hmap_put(&p->typemap, sl_str_c(it->key), i)))
                goto fail;
        }
    }
    if (cf->event_time) {
        struct sl_buf full;
        sl_buf_init(&full, 4096);
        rc = 0;
        if (cf->target)
            rc = sl_buf_appendf(&full, "%s.", cf->target);
        if (!rc)
            rc = sl_buf_appendf(&full, "%s%s", cf->prefix ? cf->prefix : "", cf->event_time);
        if (!rc)
            rc = sl_buf_putc(&full, '\0');
        if (!rc)
            rc = sl_path_init(&p->event_time, full.ptr);
        sl_buf_fini(&full);
        if (rc) {
            sl_component_diag_opt(c, "event_time", d);
            rc = sl_diag_set(d, SL_ECONFIG, "bad event_time field '%s'", cf->event_time);
            goto fail;
        }
        p->has_event_time = true;
    }
    uint32_t max_groups = 1;
    switch (cf->format) {
    case FMT_REGEX:
    case FMT_GROK:
        if ((rc = init_patterns(c, p, d)))
            goto fail;
        for (uint32_t i = 0; i < p->npats; i++)
            if (p->pats[i].ngroups + 1 > max_groups)
                max_groups = p->pats[i].ngroups + 1;
        break;
    case FMT_KV:
        p->kvo.field_split = cf->field_split;
        p->kvo.value_split = cf->value_split;
        p->kvo.quotes = cf->quotes;
        if (!cf->field_split[0] || !cf->value_split[0]) {
            sl_component_diag_opt(c, cf->field_split[0] ? "value_split" : "field_split", d);
            rc = sl_diag_set(d, SL_ECONFIG, "kv: separators must not be empty");
            goto fail;
        }
        break;
    case FMT_CSV:
        if (strlen(cf->delimiter) != 1 || strlen(cf->quote) != 1 ||
            cf->delimiter[0] == cf->quote[0]) {
            sl_component_diag_opt(c, strlen(cf->delimiter) != 1 ? "delimiter" : "quote", d);
            rc = sl_diag_set(d, SL_ECONFIG,
                             "csv: delimiter and quote are one byte each, and not the same");
            goto fail;
        }
        p->delim = cf->delimiter[0];
        p->quote = cf->quote[0];
        if (!p->has_target && cf->columns.count) {
            p->colsyms = sl_xcalloc(cf->columns.count, sizeof(*p->colsyms));
            for (size_t i = 0; i < cf->columns.count; i++) {
                char name[512];
                int n = snprintf(name, sizeof(name), "%s%s", cf->prefix ? cf->prefix : "",
                                 cf->columns.items[i]);
                if (n < 0 || (size_t)n >= sizeof(name) ||
                    !(p->colsyms[i] = sl_sym_intern(name, (size_t)n))) {
                    sl_component_diag_opt(c, "columns", d);
                    rc = sl_diag_set(d, SL_ECONFIG, "column name '%.200s' too long",
                                     cf->columns.items[i]);
                    goto fail;
                }
            }
        }
        break;
    }
    if (cf->format != FMT_REGEX && cf->format != FMT_GROK && cf->pattern.count) {
        sl_component_diag_opt(c, "pattern", d);
        rc = sl_diag_set(d, SL_ECONFIG, "pattern is for format: regex or grok");
        goto fail;
    }
    int workers = c->pipe ? sl_pipeline_workers(c->pipe) : 1;
    p->nworkers = workers > 0 ? (uint32_t)workers : 1;
    p->workers = sl_xcalloc(p->nworkers, sizeof(*p->workers));
    rc = SL_ENOMEM;
    for (uint32_t i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        sl_buf_init(&w->scratch, SCRATCH_MAX);
        w->keep_cap = SL_BATCH_EVENTS;
        w->keep = sl_xcalloc(w->keep_cap, sizeof(bool));
        if (cf->format == FMT_REGEX || cf->format == FMT_GROK) {
            w->md = pcre2_match_data_create(max_groups, p->gctx);
            w->mctx = pcre2_match_context_create(p->gctx);
            /* COMBINEDAPACHELOG over a long user agent needs more than the default 32 KiB */
            w->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, p->gctx);
            if (!w->md || !w->mctx || !w->jstack)
                goto fail;
            pcre2_jit_stack_assign(w->mctx, NULL, w->jstack);
            pcre2_set_match_limit(w->mctx, (uint32_t)cf->match_limit);
        }
    }
    return 0;
fail:
    parse_fini(c);
    return rc;
}

/* ---- per event */

static int set_out(struct parse *p, struct worker *w, const struct outfield *o, struct sl_str s)
{
    struct sl_value v;
    if (!o->conv || o->conv->kind == SL_TC_STRING) {
        v = sl_value_str(s.ptr, s.len);
    } else {
        if (!s.len)
            return 0; /* an empty capture of a typed field is not set */
        if (sl_typeconv_apply(o->conv, s, &v)) {
            snprintf(w->msg, sizeof(w->msg), "field %s: \"%.*s\" is not a%s %s", o->name,
                     (int)(s.len > 64 ? 64 : s.len), s.ptr,
                     o->conv->kind == SL_TC_INT || o->conv->kind == SL_TC_IP ? "n" : "",
                     sl_typeconv_name(o->conv->kind));
            return SL_EINVAL;
        }
    }
    (void)p;
    int rc = sl_io_set_path(w->b, w->ev, &o->path, v);
    if (rc)
        snprintf(w->msg, sizeof(w->msg), "field %s: %s", o->name, sl_strerror(rc));
    return rc;
}

static int match_pat(const struct pat *pt, struct worker *w, struct sl_str s)
{
    PCRE2_SPTR subj = (PCRE2_SPTR)(s.ptr ? s.ptr : "");
    return pt->jit ? pcre2_jit_match(pt->re, subj, s.len, 0, 0, w->md, w->mctx)
                   : pcre2_match(pt->re, subj, s.len, 0, 0, w->md, w->mctx);
}

/* The largest prefix length that pattern pt, anchored at 0, can extend into a match. */
static size_t fail_at(const struct pat *pt, struct worker *w, struct sl_str s, bool *ends_early)
{
    PCRE2_SPTR subj = (PCRE2_SPTR)(s.ptr ? s.ptr : "");
    uint32_t opts = PCRE2_ANCHORED | PCRE2_PARTIAL_HARD | PCRE2_NO_JIT;
    *ends_early = false;
    int rc = pcre2_match(pt->re, subj, s.len, 0, opts, w->md, w->mctx);
    if (rc == PCRE2_ERROR_PARTIAL) {
        *ends_early = true;
        return s.len;
    }
    size_t lo = 0, hi = s.len; /* invariant: prefix lo ok (or 0), prefix hi not */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        rc = pcre2_match(pt->re, subj, mid, 0, opts, w->md, w->mctx);
        if (rc == PCRE2_ERROR_PARTIAL || rc >= 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void miss_message(struct parse *p, struct worker *w, struct sl_str s, int last_rc)
{
    const struct pat *pt = &p->pats[p->npats - 1];
    const char *kind = p->cf->format == FMT_GROK ? "grok" : "regex";
    if (last_rc != PCRE2_ERROR_NOMATCH) {
        PCRE2_UCHAR m[160];
        if (pcre2_get_error_message(last_rc, m, sizeof(m)) < 0)
            snprintf((char *)m, sizeof(m), "error %d", last_rc);
        snprintf(w->msg, sizeof(w->msg), "%s pattern %u of %u (%.100s): %s", kind, p->npats,
                 p->npats, pt->text, (const char *)m);
        return;
    }
    /* the pattern that got furthest */
    size_t best = 0;
    uint32_t bi = 0;
    bool early = false;
    for (uint32_t i = 0; i < p->npats; i++) {
        bool e;
        size_t at = fail_at(&p->pats[i], w, s, &e);
        if (i == 0 || at > best) {
            best = at;
            bi = i;
            early = e;
        }
    }
    pt = &p->pats[bi];
    size_t ctx = s.len - best > 24 ? 24 : s.len - best;
    if (early)
        snprintf(w->msg, sizeof(w->msg),
                 "%s pattern %u of %u (%.100s): no match; the line (%zu bytes) ends before the "
                 "pattern does",
                 kind, bi + 1, p->npats, pt->text, s.len);
    else
        snprintf(w->msg, sizeof(w->msg),
                 "%s pattern %u of %u (%.100s): no match; matching from byte 0 stops at byte "
                 "%zu of %zu: \"%.*s\"",
                 kind, bi + 1, p->npats, pt->text, best, s.len, (int)ctx, s.ptr + best);
}

/* regex / grok. 0 matched, SL_EINVAL miss (w->msg set). */
static int do_regex(struct parse *p, struct worker *w, struct sl_str s)
{
    int rc = PCRE2_ERROR_NOMATCH;
    for (uint32_t i = 0; i < p->npats; i++) {
        const struct pat *pt = &p->pats[i];
        rc = match_pat(pt, w, s);
        if (rc < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        uint32_t npairs = pcre2_get_ovector_count(w->md);
        for (uint32_t g = 1; g <= pt->ngroups && g < npairs; g++) {
            if (!pt->out[g] || ov[2 * g] == PCRE2_UNSET)
                continue;
            const struct outfield *o = &p->outs[pt->out[g] - 1];
            int r = set_out(p, w, o, sl_str_make(s.ptr + ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
            if (r)
                return r;
        }
        return 0;
    }
    miss_message(p, w, s, rc);
    return SL_EINVAL;
}

/* Keys of a target map checked for repeats by a linear scan up to here, then by an index
 * (a line of 60,000 distinct keys took 2 s of CPU with the scan alone). */
#define KV_INDEX_FROM 32u

/* The slot of key k in w->kidx: its kvs index + 1, or 0 where it would go. */
static uint32_t *kv_slot(struct worker *w, struct sl_str k)
{
    uint32_t mask = w->kidx_cap - 1;
    for (uint32_t j = (uint32_t)sl_hash64(k.ptr, k.len) & mask;; j = (j + 1) & mask) {
        uint32_t i = w->kidx[j];
        if (!i || sl_str_eq(w->kvs[i - 1].key, k))
            return &w->kidx[j];
    }
}

/* (Re)build w->kidx over kvs[0..nkvs) with room for kvs_cap keys at half load. */
static int kv_index(struct worker *w)
{
    uint32_t cap = 64;
    while (cap < 2 * w->kvs_cap)
        cap *= 2;
    if (cap > w->kidx_alloc) {
        uint32_t *t = sl_realloc(w->kidx, cap * sizeof(*t));
        if (!t)
            return SL_ENOMEM;
        w->kidx = t;
        w->kidx_alloc = cap;
    }
    memset(w->kidx, 0, cap * sizeof(*w->kidx));
    w->kidx_cap = cap;
    for (uint32_t i = 0; i < w->nkvs; i++)
        *kv_slot(w, w->kvs[i].key) = i + 1;
    return 0;
}

/* Output a dynamic (kv / csv) field: name = key (prefix added here). */
static int put_dyn(struct parse *p, struct worker *w, struct sl_str key, struct sl_str val,
                   sl_sym sym)
{
    if (!val.len && p->cf->skip_empty)
        return 0;
    char kbuf[256];
    const struct sl_typeconv *conv = NULL;
    if (p->nconvs && key.len < sizeof(kbuf)) {
        uint64_t i;
        if (sl_hmap_get(&p->typemap, key, &i))
            conv = &p->convs[i];
    }
    struct sl_value v = sl_value_str(val.ptr, val.len);
    if (conv && conv->kind != SL_TC_STRING) {
        if (!val.len)
            return 0;
        if (sl_typeconv_apply(conv, val, &v)) {
            snprintf(w->msg, sizeof(w->msg), "field %.*s: \"%.*s\" is not a%s %s",
                     (int)(key.len > 64 ? 64 : key.len), key.ptr,
                     (int)(val.len > 64 ? 64 : val.len), val.ptr,
                     conv->kind == SL_TC_INT || conv->kind == SL_TC_IP ? "n" : "",
                     sl_typeconv_name(conv->kind));
            return SL_EINVAL;
        }
    }
    const char *pre = p->cf->prefix ? p->cf->prefix : "";
    size_t plen = strlen(pre);
    if (p->has_target) {
        if (w->nkvs == w->kvs_cap) {
            uint32_t cap = w->kvs_cap ? w->kvs_cap * 2 : 32;
            if (cap > SL_CSVPARSE_MAX_FIELDS)
                return SL_E2BIG;
            struct sl_kv *k = sl_realloc(w->kvs, cap * sizeof(*k));
            if (!k)
                return SL_ENOMEM;
            w->kvs = k;
            w->kvs_cap = cap;
        }
        struct sl_str k = key;
        if (plen) {
            char *kp = sl_arena_alloc_bytes(&w->b->arena, plen + key.len);
            if (!kp)
                return SL_ENOMEM;
            memcpy(kp, pre, plen);
            memcpy(kp + plen, key.ptr, key.len);
            k = sl_str_make(kp, plen + key.len);
        }
        /* a repeated key: the last value wins */
        if (w->nkvs >= KV_INDEX_FROM) {
            if (w->kidx_cap < 2 * w->kvs_cap && kv_index(w))
                return SL_ENOMEM;
            uint32_t *slot = kv_slot(w, k);
            if (*slot) {
                w->kvs[*slot - 1].val = v;
                return 0;
            }
            *slot = w->nkvs + 1;
        } else {
            for (uint32_t i = 0; i < w->nkvs; i++)
                if (sl_str_eq(w->kvs[i].key, k)) {
                    w->kvs[i].val = v;
                    return 0;
                }
        }
        w->kvs[w->nkvs].key = k;
        w->kvs[w->nkvs].val = v;
        w->nkvs++;
        return 0;
    }
    if (!sym) {
        if (plen) {
            sl_buf_reset(&w->scratch);
            if (sl_buf_append(&w->scratch, pre, plen) ||
                sl_buf_append(&w->scratch, key.ptr, key.len))
                return SL_ENOMEM;
            sym = sl_sym_intern(w->scratch.ptr, w->scratch.len);
        } else {
            sym = sl_sym_intern(key.ptr, key.len);
        }
        if (!sym) {
            snprintf(w->msg, sizeof(w->msg), "field name %.*s...: too many distinct field names",
                     (int)(key.len > 64 ? 64 : key.len), key.ptr);
            return SL_ELIMIT;
        }
    }
    return sl_event_set(w->b, w->ev, sym, v);
}

struct cbctx {
    struct parse *p;
    struct worker *w;
};

static int kv_pair(void *ud, struct sl_str key, struct sl_str val)
{
    struct cbctx *x = ud;
    return put_dyn(x->p, x->w, key, val, 0);
}

static int csv_field(void *ud, uint32_t idx, struct sl_str val)
{
    struct cbctx *x = ud;
    const struct sl_strlist *cols = &x->p->cf->columns;
    if (idx < cols->count)
        return put_dyn(x->p, x->w, sl_str_c(cols->items[idx]), val,
                       x->p->colsyms ? x->p->colsyms[idx] : 0);
    char name[32];
    int n = snprintf(name, sizeof(name), "column%u", idx + 1);
    return put_dyn(x->p, x->w, sl_str_make(name, (size_t)n), val, 0);
}

static int finish_target(struct parse *p, struct worker *w)
{
    if (!p->has_target)
        return 0;
    struct sl_kv *m = NULL;
    if (w->nkvs) {
        m = sl_arena_alloc(&w->b->arena, w->nkvs * sizeof(*m));
        if (!m)
            return SL_ENOMEM;
        memcpy(m, w->kvs, w->nkvs * sizeof(*m));
    }
    struct sl_value v = {.type = SL_V_MAP, .len = w->nkvs};
    v.u.map = m;
    return sl_io_set_path(w->b, w->ev, &p->target, v);
}

/* One event: 0 parsed, SL_EINVAL miss (w->msg), other errors (w->msg). */
static int parse_event(struct parse *p, struct worker *w, struct sl_batch *b, struct sl_event *ev)
{
    const struct sl_value *sv = sl_path_get(&p->source, ev);
    if (!sv || sv->type == SL_V_NULL) {
        snprintf(w->msg, sizeof(w->msg), "source field %s is missing", p->source.text);
        return SL_EINVAL;
    }
    struct sl_str s;
    if (sv->type == SL_V_STRING || sv->type == SL_V_BYTES) {
        s = sl_value_as_str(sv);
    } else {
        struct sl_str t = sl_value_to_text(sv, &w->scratch);
        char *cp = sl_batch_copy(b, t.ptr ? t.ptr : "", t.len);
        if (!cp)
            return SL_ENOMEM;
        s = sl_str_make(cp, t.len);
    }
    w->b = b;
    w->ev = ev;
    w->nkvs = 0;
    w->kidx_cap = 0;
    int rc;
    struct cbctx cx = {p, w};
    struct sl_diag d;
    switch (p->cf->format) {
    case FMT_REGEX:
    case FMT_GROK:
        /* room for every capture at once: no doubling copies of the field array */
        if (!p->has_target && ev->cap < ev->count + p->nouts) {
            uint32_t cap = ev->count + p->nouts;
            struct sl_field *f = sl_arena_alloc(&b->arena, cap * sizeof(*f));
            if (f) {
                if (ev->count)
                    memcpy(f, ev->fields, ev->count * sizeof(*f));
                ev->fields = f;
                ev->cap = cap;
            }
        }
        rc = do_regex(p, w, s);
        break;
    case FMT_KV:
        sl_diag_init(&d);
        rc = sl_kvparse(&p->kvo, s.ptr, s.len, &b->arena, kv_pair, &cx, &d);
        if (rc == SL_EPARSE)
            snprintf(w->msg, sizeof(w->msg), "kv: %.400s", d.msg);
        else if (rc == 0) {
            snprintf(w->msg, sizeof(w->msg), "kv: no key%svalue pair in the line",
                     p->cf->value_split);
            rc = SL_EINVAL;
        } else if (rc > 0)
            rc = 0;
        if (!rc)
            rc = finish_target(p, w);
        break;
    case FMT_CSV:
    default:
        sl_diag_init(&d);
        rc = sl_csvparse(p->delim, p->quote, s.ptr, s.len, &b->arena, csv_field, &cx, &d);
        if (rc == SL_EPARSE || rc == SL_E2BIG)
            snprintf(w->msg, sizeof(w->msg), "csv: %.400s", d.msg);
        if (rc > 0)
            rc = 0;
        if (!rc)
            rc = finish_target(p, w);
        break;
    }
    if (rc) {
        if (rc != SL_EINVAL && rc != SL_EPARSE && rc != SL_E2BIG && rc != SL_ELIMIT && !w->msg[0])
            snprintf(w->msg, sizeof(w->msg), "%s", sl_strerror(rc));
        return rc;
    }
    if (p->has_event_time) {
        const struct sl_value *t = sl_path_get(&p->event_time, ev);
        if (t && t->type == SL_V_TS)
            ev->ts_ns = t->u.ts_ns;
        else if (t && t->type == SL_V_INT && t->u.i > -9000000000LL && t->u.i < 9000000000LL)
            ev->ts_ns = t->u.i * 1000000000;
        else if (t && t->type == SL_V_STRING) {
            int64_t ns;
            if (!sl_typeconv_ts_auto(sl_value_as_str(t), ev->ts_ns, &ns))
                ev->ts_ns = ns;
        }
    }
    if (!p->cf->keep_source)
        (void)sl_io_remove_path(b, ev, &p->source);
    return 0;
}

static struct sl_batch *parse_process(struct sl_component *c, struct sl_batch *b,
                                      struct sl_xf_ctx *x)
{
    struct parse *p = c->state;
    b = sl_batch_own(b);
    if (!b)
        return NULL;
    struct worker *w = &p->workers[x->worker < p->nworkers ? x->worker : 0];
    uint32_t n = b->count, kept = 0, nbad = 0;
    if (n > w->keep_cap) {
        bool *k = sl_realloc(w->keep, n * sizeof(bool));
        if (!k) {
            sl_log_ratelimited(&w->lim, 5, SL_LOG_ERROR, c->name, "out of memory");
            sl_batch_unref(b);
            return NULL;
        }
        w->keep = k;
        w->keep_cap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct sl_event *ev = &b->events[i];
        w->msg[0] = 0;
        /* a miss leaves the event as it came (a half-done parse may have replaced or added
         * fields): the dead letter and on_miss: keep show the original */
        uint32_t before = ev->count;
        bool saved = false;
        if (before > w->saved_cap) {
            struct sl_field *f = sl_realloc(w->saved, before * sizeof(*f));
            if (f) {
                w->saved = f;
                w->saved_cap = before;
            }
        }
        if (before && before <= w->saved_cap) {
            memcpy(w->saved, ev->fields, before * sizeof(*w->saved));
            saved = true;
        }
        int rc = parse_event(p, w, b, ev);
        w->keep[i] = true;
        if (!rc) {
            kept++;
            continue;
        }
        if (saved)
            memcpy(ev->fields, w->saved, before * sizeof(*w->saved));
        ev->count = before;
        atomic_fetch_add_explicit(&p->misses, 1, memory_order_relaxed);
        switch (p->cf->on_miss) {
        case MISS_KEEP:
            kept++;
            break;
        case MISS_DROP:
            w->keep[i] = false;
            break;
        default: {
            w->keep[i] = false;
            nbad++;
            struct sl_batch *errs = sl_xf_errors(x);
            if (errs)
                (void)sl_error_event_for(errs, c->name, w->msg, ev);
            sl_log_ratelimited(&w->lim, 5, SL_LOG_WARN, c->name, "%s", w->msg);
        }
        }
    }
    if (kept != n)
        sl_batch_compact(b, w->keep);
    if (kept + nbad != n)
        atomic_fetch_add_explicit(&c->m.dropped, n - kept - nbad, memory_order_relaxed);
    return b;
}

static size_t parse_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct parse *p = c->state;
    out[0] = (struct sl_comp_stat){"sluice_parse_misses", "lines that did not parse", false,
                                   (double)atomic_load(&p->misses)};
    return 1;
}

const struct sl_component_ops sl_xf_parse_ops = {
    .type = "parse",
    .kind = SL_KIND_TRANSFORM,
    .summary = "parse a text field into typed fields: regex (named groups), grok, key=value, CSV",
    .options = parse_opts,
    .conf_len = sizeof(struct parse_conf),
    .init = parse_init,
    .fini = parse_fini,
    .process = parse_process,
    .stats = parse_stats,
};
