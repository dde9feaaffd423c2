/*
 * usecase.c — dataShark use cases mapped onto a generated sluice pipeline (see usecase.h and
 * docs/usecases.md).
 *
 * DESIGN: loading a use case produces three lists of YAML lines (its sources, transforms and
 * sinks), each line tagged with the place it stands for: a key or value of the .conf, or a
 * node of the transforms file. Several use cases are concatenated group by group into one
 * config text, which then goes through the normal config path (sl_config_load_string,
 * sl_pipeline_new), so option checking is the components' own; only the positions of their
 * diagnostics are translated back. Every scalar taken from the .conf is written double-quoted
 * with `${` escaped, so ConfigObj text reaches a component exactly as dataShark read it.
 */
#include "app/usecase.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/configobj.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define MAX_FILE_LEN (16u << 20)
#define GEN_NAME     "<usecase pipeline>"

struct origin {
    const char *file; /* NULL: generated, no source position */
    uint32_t line, col;
    /* a `key: value` line: columns before vstart (1-based, in the generated line) are the
     * key's, at kline:kcol; 0: the whole line is line:col */
    uint32_t kline, kcol, vstart;
};

/* One group (sources, transforms or sinks) of one use case: lines and where they come from. */
struct part {
    struct sl_buf text;
    struct origin *orig;
    size_t n, cap;
};

struct sl_usecase {
    char *path, *dir, *stem, *prefix, *xf_path, *name;
    struct sl_configobj *conf;
    const struct sl_cobj *root;
    bool enabled, streaming, debug;
    struct sl_buf notes;
    struct part src, xf, sink;
    yaml_document_t doc;
    bool have_doc;
    char *result; /* the transform whose output is the use case's result */
    const char *input_name;
};

struct sl_usecase_gen {
    struct sl_buf text;
    struct origin *orig; /* per line of text */
    size_t n;
};

/* ---- small helpers ---- */

static int at(struct sl_diag *d, const char *file, uint32_t line, uint32_t col, int err,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int at(struct sl_diag *d, const char *file, uint32_t line, uint32_t col, int err,
              const char *fmt, ...)
{
    if (!d)
        return err;
    snprintf(d->file, sizeof(d->file), "%s", file);
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    return err;
}

static int key_err(const struct sl_usecase *u, const struct sl_cobj *k, struct sl_diag *d,
                   const char *msg)
{
    return at(d, u->path, k->line, k->col, SL_ECONFIG, "%s", msg);
}

static int read_file(const char *path, struct sl_buf *b, struct sl_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return at(d, path, 0, 0, SL_ENOENT, "cannot open: %s", strerror(errno));
    char tmp[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if ((rc = sl_buf_append(b, tmp, n)) != 0)
            break;
    fclose(f);
    if (rc)
        return at(d, path, 0, 0, SL_E2BIG, "file too large (16 MiB at most)");
    return sl_buf_putc(b, '\0') ? SL_ENOMEM : 0;
}

static char *join_path(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir[0] || strcmp(dir, ".") == 0)
        return sl_xstrdup(p);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_appendf(&b, "%s/%s", dir, p);
    return sl_buf_steal(&b, NULL);
}

static void part_init(struct part *p)
{
    sl_buf_init(&p->text, MAX_FILE_LEN * 4);
    p->orig = NULL;
    p->n = p->cap = 0;
}

static void part_fini(struct part *p)
{
    sl_buf_fini(&p->text);
    sl_free(p->orig);
}

/* Append l as one line of p (from o), and empty l. */
static int put_line(struct part *p, struct origin o, struct sl_buf *l)
{
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 32;
        struct origin *no = sl_realloc(p->orig, ncap * sizeof(*no));
        if (!no)
            return SL_ENOMEM;
        p->orig = no;
        p->cap = ncap;
    }
    p->orig[p->n++] = o;
    int rc = sl_buf_append(&p->text, l->ptr ? l->ptr : "", l->len);
    if (!rc)
        rc = sl_buf_putc(&p->text, '\n');
    sl_buf_reset(l);
    return rc;
}

/* s as a YAML double-quoted scalar; `${` becomes `$${` (a literal for config.c) when
 * esc_dollar. */
static int yq(struct sl_buf *b, const char *s, size_t n, bool esc_dollar)
{
    int rc = sl_buf_putc(b, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = sl_buf_appendf(b, "\\%c", c);
        else if (c == '\n')
            rc = sl_buf_puts(b, "\\n");
        else if (c == '\t')
            rc = sl_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = sl_buf_appendf(b, "\\x%02x", c);
        else if (c == '$' && esc_dollar && i + 1 < n && s[i + 1] == '{')
            rc = sl_buf_puts(b, "$$");
        else
            rc = sl_buf_putc(b, (char)c);
    }
    return rc ? rc : sl_buf_putc(b, '"');
}

static struct origin at_key(const struct sl_usecase *u, const struct sl_cobj *k)
{
    return (struct origin){.file = u->path, .line = k->line, .col = k->col};
}

static struct origin at_val(const struct sl_usecase *u, const struct sl_cobj *k)
{
    if (k->type == SL_COBJ_SECTION)
        return at_key(u, k);
    return (struct origin){.file = u->path, .line = k->vline, .col = k->vcol};
}

/* `<indent>key: "value"` */
static int kv_str(struct part *p, struct origin o, int indent, const char *key, const char *val)
{
    struct sl_buf l;
    sl_buf_init(&l, 0);
    int rc = sl_buf_appendf(&l, "%*s%s: ", indent, "", key);
    if (!rc)
        rc = yq(&l, val, strlen(val), true);
    if (!rc)
        rc = put_line(p, o, &l);
    sl_buf_fini(&l);
    return rc;
}

/* `<indent>key: raw` (raw is YAML text written as it is) */
static int kv_raw(struct part *p, struct origin o, int indent, const char *key, const char *raw)
{
    struct sl_buf l;
    sl_buf_init(&l, 0);
    int rc = sl_buf_appendf(&l, "%*s%s: %s", indent, "", key, raw);
    if (!rc)
        rc = put_line(p, o, &l);
    sl_buf_fini(&l);
    return rc;
}

/* A .conf node as a YAML option: strings quoted, lists as flow sequences, subsections as
 * nested mappings. */
static int kv_cobj(const struct sl_usecase *u, struct part *p, int indent, const struct sl_cobj *k)
{
    struct sl_buf l;
    sl_buf_init(&l, 0);
    int rc = sl_buf_appendf(&l, "%*s", indent, "");
    if (!rc)
        rc = yq(&l, k->name, strlen(k->name), false);
    if (!rc)
        rc = sl_buf_puts(&l, ":");
    if (rc)
        goto out;
    struct origin o = at_val(u, k);
    o.kline = k->line;
    o.kcol = k->col;
    o.vstart = (uint32_t)l.len + 2;
    switch (k->type) {
    case SL_COBJ_STRING:
        rc = sl_buf_putc(&l, ' ');
        if (!rc)
            rc = yq(&l, k->value, strlen(k->value), true);
        if (!rc)
            rc = put_line(p, o, &l);
        break;
    case SL_COBJ_LIST:
        rc = sl_buf_puts(&l, " [");
        for (size_t i = 0; i < k->nitems && !rc; i++) {
            if (i)
                rc = sl_buf_puts(&l, ", ");
            if (!rc)
                rc = yq(&l, k->items[i], strlen(k->items[i]), true);
        }
        if (!rc)
            rc = sl_buf_putc(&l, ']');
        if (!rc)
            rc = put_line(p, o, &l);
        break;
    case SL_COBJ_SECTION:
        if (!k->first) {
            rc = sl_buf_puts(&l, " {}");
            if (!rc)
                rc = put_line(p, at_key(u, k), &l);
            break;
        }
        rc = put_line(p, at_key(u, k), &l);
        for (const struct sl_cobj *c = k->first; c && !rc; c = c->next)
            rc = kv_cobj(u, p, indent + 2, c);
        break;
    }
out:
    sl_buf_fini(&l);
    return rc;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Every key of sec but those in skip, as options. */
static int pass_through(const struct sl_usecase *u, struct part *p, int indent,
                        const struct sl_cobj *sec, const char *const *skip)
{
    int rc = 0;
    for (const struct sl_cobj *k = sec ? sec->first : NULL; k && !rc; k = k->next)
        if (!in_list(k->name, skip))
            rc = kv_cobj(u, p, indent, k);
    return rc;
}

/* A single-valued key of sec (NULL when absent); a list or a section is an error. */
static int get_str(const struct sl_usecase *u, const struct sl_cobj *sec, const char *key,
                   const struct sl_cobj **node, struct sl_diag *d)
{
    *node = NULL;
    const struct sl_cobj *k = sl_cobj_get(sec, key);
    if (!k)
        return 0;
    if (k->type == SL_COBJ_LIST) {
        sl_diag_hint(d, "ConfigObj reads an unquoted value with a comma as a list: quote it");
        return at(d, u->path, k->vline, k->vcol, SL_ECONFIG, "'%s' must be one value, not a list",
                  key);
    }
    if (k->type == SL_COBJ_SECTION)
        return at(d, u->path, k->line, k->col, SL_ECONFIG, "'%s' must be a key, not a section",
                  key);
    *node = k;
    return 0;
}

static void note(struct sl_usecase *u, const struct sl_cobj *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct sl_usecase *u, const struct sl_cobj *k, const char *fmt, ...)
{
    if (k)
        sl_buf_appendf(&u->notes, "%s:%u:%u: ", u->path, k->line, k->col);
    else
        sl_buf_appendf(&u->notes, "%s: ", u->path);
    va_list ap;
    va_start(ap, fmt);
    sl_buf_vappendf(&u->notes, fmt, ap);
    va_end(ap);
    sl_buf_putc(&u->notes, '\n');
}

/* ---- the transforms file ---- */

static yaml_node_t *ynode(struct sl_usecase *u, int id)
{
    return yaml_document_get_node(&u->doc, id);
}

static struct origin yorigin(const struct sl_usecase *u, const yaml_node_t *n)
{
    return (struct origin){.file = u->xf_path,
                           .line = (uint32_t)n->start_mark.line + 1,
                           .col = (uint32_t)n->start_mark.column + 1};
}

static int yerr(const struct sl_usecase *u, const yaml_node_t *n, struct sl_diag *d,
                const char *msg)
{
    struct origin o = yorigin(u, n);
    return at(d, o.file, o.line, o.col, SL_ECONFIG, "%s", msg);
}

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The .conf value `${conf.NAME}` stands for (NAME: a top-level key or section.key...);
 * `file` and `training` as paths from the .conf's directory. Heap, NULL when unknown. */
static char *conf_value(const struct sl_usecase *u, const char *name, size_t n)
{
    const struct sl_cobj *sec = u->root;
    const char *p = name, *end = name + n;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char key[256];
        if (len >= sizeof(key))
            return NULL;
        memcpy(key, p, len);
        key[len] = 0;
        const struct sl_cobj *k = sl_cobj_get(sec, key);
        if (!k)
            return NULL;
        if (dot) {
            sec = k;
            p = dot + 1;
            continue;
        }
        if (k->type == SL_COBJ_STRING) {
            if (sec == u->root && (!strcmp(key, "file") || !strcmp(key, "training")))
                return join_path(u->dir, k->value);
            return sl_xstrdup(k->value);
        }
        if (k->type == SL_COBJ_LIST) { /* ConfigObj's list, as text again */
            struct sl_buf b;
            sl_buf_init(&b, 0);
            for (size_t i = 0; i < k->nitems; i++)
                sl_buf_appendf(&b, "%s%s", i ? ", " : "", k->items[i]);
            return b.ptr ? sl_buf_steal(&b, NULL) : sl_xstrdup("");
        }
        return NULL;
    }
}

/* Replace `${conf.NAME}` in s; *changed when any was. */
static int subst(const struct sl_usecase *u, const yaml_node_t *n, struct sl_buf *out,
                 bool *changed, struct sl_diag *d)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    *changed = false;
    for (size_t i = 0; i < len;) {
        if (i + 7 <= len && memcmp(s + i, "${conf.", 7) == 0 && (i == 0 || s[i - 1] != '$')) {
            const char *close = memchr(s + i + 7, '}', len - i - 7);
            if (!close)
                return yerr(u, n, d, "unterminated ${conf.NAME}");
            size_t nl = (size_t)(close - (s + i + 7));
            char *v = conf_value(u, s + i + 7, nl);
            if (!v) {
                struct origin o = yorigin(u, n);
                sl_diag_hint(d, "${conf.KEY} or ${conf.section.key} names a key of %s", u->path);
                return at(d, o.file, o.line, o.col, SL_ECONFIG, "%.*s: no such key in %s",
                          (int)(nl + 8), s + i, u->path);
            }
            /* the value is text: a `${` in it must not be expanded again */
            for (const char *q = v; *q; q++) {
                if (q[0] == '$' && q[1] == '{')
                    sl_buf_putc(out, '$');
                sl_buf_putc(out, *q);
            }
            sl_free(v);
            *changed = true;
            i = (size_t)(close - s) + 1;
        } else {
            sl_buf_putc(out, s[i++]);
        }
    }
    return 0;
}

static bool plain_safe(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < n->data.scalar.length; i++)
        if ((unsigned char)n->data.scalar.value[i] < 0x20)
            return false;
    return true;
}

struct xf_names {
    const char **names;
    size_t n;
};

static bool is_local(const struct sl_usecase *u, const struct xf_names *names, const char *s,
                     size_t len)
{
    if (len == 5 && memcmp(s, "input", 5) == 0)
        return true;
    for (size_t i = 0; i < names->n; i++)
        if (strlen(names->names[i]) == len && memcmp(names->names[i], s, len) == 0)
            return true;
    return false;
}

/* An input name of the transforms file as the generated pipeline names it. */
static int put_input(struct sl_usecase *u, const struct xf_names *names, struct sl_buf *l,
                     const char *s)
{
    const char *dot = strchr(s, '.');
    size_t base = dot ? (size_t)(dot - s) : strlen(s);
    struct sl_buf t;
    sl_buf_init(&t, 0);
    if (base == 5 && memcmp(s, "input", 5) == 0)
        sl_buf_appendf(&t, "%s%s", u->input_name, dot ? dot : "");
    else if (is_local(u, names, s, base))
        sl_buf_appendf(&t, "%s%s", u->prefix, s);
    else
        sl_buf_puts(&t, s);
    int rc = yq(l, t.ptr, t.len, false);
    sl_buf_fini(&t);
    return rc;
}

/* Emit node n after what l holds ("<indent>key:" or "<indent>-"); children of a collection
 * at `indent`. */
static int emit_node(struct sl_usecase *u, struct part *p, struct sl_buf *l, const yaml_node_t *key,
                     yaml_node_t *n, int indent, int depth, const struct xf_names *names,
                     bool inputs, struct sl_diag *d)
{
    if (depth > 64)
        return yerr(u, n, d, "nested too deeply");
    int rc = 0;
    /* the line of a scalar value: key columns to the key, the rest to the value */
    struct origin vo = yorigin(u, n);
    if (key) {
        struct origin ko = yorigin(u, key);
        vo.kline = ko.line;
        vo.kcol = ko.col;
        vo.vstart = (uint32_t)l->len + 2;
    }
    /* the line that opens a collection: the key's */
    struct origin ho = key ? yorigin(u, key) : yorigin(u, n);
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        if (inputs) {
            rc = sl_buf_puts(l, " [");
            if (!rc)
                rc = put_input(u, names, l, (const char *)n->data.scalar.value);
            if (!rc)
                rc = sl_buf_puts(l, "]");
            return rc ? rc : put_line(p, vo, l);
        }
        struct sl_buf t;
        sl_buf_init(&t, MAX_FILE_LEN);
        bool changed;
        rc = subst(u, n, &t, &changed, d);
        if (!rc && n->data.scalar.length)
            rc = sl_buf_putc(l, ' ');
        if (!rc) {
            if (!changed && plain_safe(n))
                rc = sl_buf_append(l, n->data.scalar.value, n->data.scalar.length);
            else /* already `${`-escaped where needed */
                rc = yq(l, t.ptr ? t.ptr : "", t.len, false);
        }
        sl_buf_fini(&t);
        return rc ? rc : put_line(p, vo, l);
    }
    case YAML_SEQUENCE_NODE:
        if (n->data.sequence.items.start == n->data.sequence.items.top) {
            rc = sl_buf_puts(l, " []");
            return rc ? rc : put_line(p, vo, l);
        }
        if (inputs) {
            rc = sl_buf_puts(l, " [");
            for (yaml_node_item_t *it = n->data.sequence.items.start;
                 it < n->data.sequence.items.top && !rc; it++) {
                const char *s = yscalar(ynode(u, *it));
                if (!s)
                    return yerr(u, ynode(u, *it), d, "an input is a component name");
                if (it > n->data.sequence.items.start)
                    rc = sl_buf_puts(l, ", ");
                if (!rc)
                    rc = put_input(u, names, l, s);
            }
            if (!rc)
                rc = sl_buf_putc(l, ']');
            return rc ? rc : put_line(p, vo, l);
        }
        rc = put_line(p, ho, l);
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top && !rc; it++) {
            rc = sl_buf_appendf(l, "%*s-", indent, "");
            if (!rc)
                rc =
                    emit_node(u, p, l, NULL, ynode(u, *it), indent + 2, depth + 1, names, false, d);
        }
        return rc;
    case YAML_MAPPING_NODE:
        if (n->data.mapping.pairs.start == n->data.mapping.pairs.top) {
            rc = sl_buf_puts(l, " {}");
            return rc ? rc : put_line(p, vo, l);
        }
        rc = put_line(p, ho, l);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
             pr < n->data.mapping.pairs.top && !rc; pr++) {
            yaml_node_t *k = ynode(u, pr->key);
            if (!yscalar(k))
                return yerr(u, k, d, "mapping keys must be plain strings");
            rc = sl_buf_appendf(l, "%*s", indent, "");
            if (!rc) {
                if (plain_safe(k))
                    rc = sl_buf_append(l, k->data.scalar.value, k->data.scalar.length);
                else
                    rc = yq(l, (const char *)k->data.scalar.value, k->data.scalar.length, false);
            }
            if (!rc)
                rc = sl_buf_putc(l, ':');
            if (!rc)
                rc = emit_node(u, p, l, k, ynode(u, pr->value), indent + 2, depth + 1, names, false,
                               d);
        }
        return rc;
    default:
        return yerr(u, n, d, "empty value");
    }
}

/* One component `name: {type: ..., inputs: [...], ...}` of the transforms file. */
static int emit_component(struct sl_usecase *u, struct part *p, yaml_node_t *k, yaml_node_t *v,
                          const struct xf_names *names, struct sl_diag *d)
{
    if (v->type != YAML_MAPPING_NODE)
        return yerr(u, v, d, "a component is a mapping (type, inputs, options)");
    struct sl_buf l;
    sl_buf_init(&l, 0);
    int rc = sl_buf_appendf(&l, "  %s%s:", u->prefix, yscalar(k));
    if (!rc)
        rc = put_line(p, yorigin(u, k), &l);
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top && !rc;
         pr++) {
        yaml_node_t *ok = ynode(u, pr->key);
        const char *key = yscalar(ok);
        if (!key) {
            rc = yerr(u, ok, d, "option names are plain strings");
            break;
        }
        rc = sl_buf_appendf(&l, "    %s:", key);
        if (!rc)
            rc = emit_node(u, p, &l, ok, ynode(u, pr->value), 6, 1, names, !strcmp(key, "inputs"),
                           d);
    }
    sl_buf_fini(&l);
    return rc;
}

static int load_xf(struct sl_usecase *u, struct sl_diag *d)
{
    struct sl_buf text;
    sl_buf_init(&text, MAX_FILE_LEN);
    int rc = read_file(u->xf_path, &text, d);
    if (rc) {
        sl_buf_fini(&text);
        return rc;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text.ptr, text.len - 1);
    if (!yaml_parser_load(&parser, &u->doc)) {
        sl_diag_hint(d, "check indentation and quoting near this position");
        rc = at(d, u->xf_path, (uint32_t)parser.problem_mark.line + 1,
                (uint32_t)parser.problem_mark.column + 1, SL_ECONFIG, "YAML syntax error: %s%s%s",
                parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
                parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        sl_buf_fini(&text);
        return rc;
    }
    u->have_doc = true;
    yaml_parser_delete(&parser);
    sl_buf_fini(&text);

    yaml_node_t *root = yaml_document_get_root_node(&u->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return at(d, u->xf_path, 1, 1, SL_ECONFIG,
                  "a use case's transforms file is a mapping with `transforms:`");
    yaml_node_t *xfs = NULL, *sinks = NULL, *output = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ynode(u, pr->key), *v = ynode(u, pr->value);
        const char *key = yscalar(k);
        if (key && !strcmp(key, "transforms") && v->type == YAML_MAPPING_NODE)
            xfs = v;
        else if (key && !strcmp(key, "sinks") && v->type == YAML_MAPPING_NODE)
            sinks = v;
        else if (key && !strcmp(key, "output") && yscalar(v))
            output = v;
        else {
            sl_diag_hint(d, "transforms: {name: {type, inputs, ...}}, optional output: NAME "
                            "(the result; default: the last transform) and sinks: (extra)");
            return yerr(u, k, d,
                        key && (!strcmp(key, "transforms") || !strcmp(key, "sinks") ||
                                !strcmp(key, "output"))
                            ? "wrong kind of value"
                            : "unknown key in a use case's transforms file");
        }
    }
    if (!xfs || xfs->data.mapping.pairs.start == xfs->data.mapping.pairs.top)
        return at(d, u->xf_path, 1, 1, SL_ECONFIG,
                  "no transforms: the sluice transforms replace dataShark's code file");
    /* the names defined here, for `inputs` */
    size_t total =
        (size_t)(xfs->data.mapping.pairs.top - xfs->data.mapping.pairs.start) +
        (sinks ? (size_t)(sinks->data.mapping.pairs.top - sinks->data.mapping.pairs.start) : 0);
    struct xf_names names = {sl_xcalloc(total ? total : 1, sizeof(char *)), 0};
    const char *last = NULL;
    for (int g = 0; g < 2; g++) {
        yaml_node_t *grp = g ? sinks : xfs;
        if (!grp)
            continue;
        for (yaml_node_pair_t *pr = grp->data.mapping.pairs.start; pr < grp->data.mapping.pairs.top;
             pr++) {
            const char *nm = yscalar(ynode(u, pr->key));
            if (!nm) {
                rc = yerr(u, ynode(u, pr->key), d, "component names are strings");
                goto out;
            }
            if (!strcmp(nm, "input")) {
                rc = yerr(u, ynode(u, pr->key), d,
                          "'input' is the use case's input (after [log_filter]): name this "
                          "component otherwise");
                goto out;
            }
            if (!strcmp(nm, "source") || !strcmp(nm, "output") || !strcmp(nm, "debug") ||
                !strcmp(nm, "output-debug")) {
                sl_diag_hint(d, "source, output, debug and output-debug are the names of the "
                                "components the .conf gives");
                rc = yerr(u, ynode(u, pr->key), d,
                          "this name is taken: name this component "
                          "otherwise");
                goto out;
            }
            names.names[names.n++] = nm;
            if (!g)
                last = nm;
        }
    }
    if (output) {
        const char *o = yscalar(output);
        bool found = false;
        for (yaml_node_pair_t *pr = xfs->data.mapping.pairs.start; pr < xfs->data.mapping.pairs.top;
             pr++)
            found |= !strcmp(yscalar(ynode(u, pr->key)), o);
        if (!found) {
            rc = yerr(u, output, d, "output: names no transform of this file");
            goto out;
        }
        last = o;
    }
    u->result = sl_xstrdup(last);
    for (yaml_node_pair_t *pr = xfs->data.mapping.pairs.start;
         pr < xfs->data.mapping.pairs.top && !rc; pr++)
        rc = emit_component(u, &u->xf, ynode(u, pr->key), ynode(u, pr->value), &names, d);
    for (yaml_node_pair_t *pr = sinks ? sinks->data.mapping.pairs.start : NULL;
         sinks && pr < sinks->data.mapping.pairs.top && !rc; pr++)
        rc = emit_component(u, &u->sink, ynode(u, pr->key), ynode(u, pr->value), &names, d);
out:
    sl_free(names.names);
    return rc;
}

/* ---- the .conf ---- */

static const char *const in_file_handled[] = {"folder_path", NULL};
static const char *const in_kafka_handled[] = {"host",       "port",    "topic",
                                               "partitions", "brokers", NULL};
static const char *const in_syslog_handled[] = {"host", "port", "protocol", NULL};

static int gen_source(struct sl_usecase *u, const char *src_name, struct sl_diag *d)
{
    const struct sl_cobj *type = sl_cobj_get(u->root, "type");
    struct sl_buf l;
    sl_buf_init(&l, 0);
    int rc = 0;
    if (!u->streaming) {
        const struct sl_cobj *file;
        if ((rc = get_str(u, u->root, "file", &file, d)) != 0)
            goto out;
        if (!file) {
            sl_diag_hint(d, "file = DATAFILE (from the .conf's directory)");
            rc = key_err(u, type, d, "a batch use case needs `file`: the data it runs once over");
            goto out;
        }
        char *path = join_path(u->dir, file->value);
        FILE *probe = fopen(path, "rb");
        if (!probe) {
            rc = at(d, u->path, file->vline, file->vcol, SL_ENOENT, "cannot open %s: %s", path,
                    strerror(errno));
            sl_diag_hint(d, "`file` is read from the .conf's directory");
            sl_free(path);
            goto out;
        }
        fclose(probe);
        const struct sl_cobj *in = sl_cobj_get(u->root, "input");
        if (in)
            note(u, in, "input ignored: a batch use case reads `file` (as dataShark)");
        sl_buf_appendf(&l, "  %s:", src_name);
        rc = put_line(&u->src, at_key(u, file), &l);
        if (!rc)
            rc = kv_raw(&u->src, at_key(u, file), 4, "type", "file");
        if (!rc) {
            sl_buf_puts(&l, "    path: [");
            yq(&l, path, strlen(path), true);
            sl_buf_putc(&l, ']');
            rc = put_line(&u->src, at_val(u, file), &l);
        }
        sl_free(path);
        if (!rc)
            rc = kv_raw(&u->src, at_key(u, file), 4, "format", "lines");
        if (!rc)
            rc = kv_raw(&u->src, at_key(u, file), 4, "mode", "read");
        goto out;
    }
    const struct sl_cobj *input;
    if ((rc = get_str(u, u->root, "input", &input, d)) != 0)
        goto out;
    if (!input) {
        sl_diag_hint(d, "set input = file, kafka or syslog with its [in_*] section");
        rc = key_err(u, type, d,
                     "a streaming use case needs `input`: dataShark's global Kafka stream "
                     "(datashark.conf) is not supported");
        goto out;
    }
    const char *kind = input->value;
    if (strcmp(kind, "file") && strcmp(kind, "kafka") && strcmp(kind, "syslog")) {
        rc = at(d, u->path, input->vline, input->vcol, SL_ECONFIG,
                "input must be file, kafka or syslog, not '%s'", kind);
        goto out;
    }
    char secname[32];
    snprintf(secname, sizeof(secname), "in_%s", kind);
    const struct sl_cobj *sec = sl_cobj_get(u->root, secname);
    if (!sec || sec->type != SL_COBJ_SECTION) {
        sl_diag_hint(d, "dataShark reads the input's settings from [%s]", secname);
        rc = key_err(u, input, d, "input is set but its section is missing");
        if (d)
            snprintf(d->msg, sizeof(d->msg), "input = %s needs a [%s] section", kind, secname);
        goto out;
    }
    sl_buf_appendf(&l, "  %s:", src_name);
    if ((rc = put_line(&u->src, at_key(u, sec), &l)) != 0)
        goto out;
    if (!strcmp(kind, "file")) {
        const struct sl_cobj *folder;
        if ((rc = get_str(u, sec, "folder_path", &folder, d)) != 0)
            goto out;
        if (!folder) {
            rc = key_err(u, sec, d, "[in_file] needs folder_path: the folder watched for files");
            goto out;
        }
        rc = kv_raw(&u->src, at_key(u, sec), 4, "type", "file");
        if (!rc) {
            char *glob = join_path(folder->value, "*");
            sl_buf_puts(&l, "    path: [");
            yq(&l, glob, strlen(glob), true);
            sl_buf_putc(&l, ']');
            sl_free(glob);
            rc = put_line(&u->src, at_val(u, folder), &l);
        }
        if (!rc && !sl_cobj_get(sec, "format"))
            rc = kv_raw(&u->src, at_key(u, sec), 4, "format", "lines");
        if (!rc && !sl_cobj_get(sec, "mode"))
            rc = kv_raw(&u->src, at_key(u, sec), 4, "mode", "tail");
        if (!rc && !sl_cobj_get(sec, "start_at"))
            rc = kv_raw(&u->src, at_key(u, sec), 4, "start_at", "end");
        if (!rc)
            rc = pass_through(u, &u->src, 4, sec, in_file_handled);
    } else if (!strcmp(kind, "kafka")) {
        const struct sl_cobj *host, *port, *topic;
        if ((rc = get_str(u, sec, "host", &host, d)) || (rc = get_str(u, sec, "port", &port, d)) ||
            (rc = get_str(u, sec, "topic", &topic, d)))
            goto out;
        /* brokers = a:9092, b:9092 is a ConfigObj list: librdkafka wants "a:9092,b:9092" */
        const struct sl_cobj *brokers = sl_cobj_get(sec, "brokers");
        char *blist = NULL;
        if (brokers && brokers->type == SL_COBJ_LIST) {
            struct sl_buf b;
            sl_buf_init(&b, 0);
            for (size_t i = 0; i < brokers->nitems; i++)
                sl_buf_appendf(&b, "%s%s", i ? "," : "", brokers->items[i]);
            blist = b.ptr ? sl_buf_steal(&b, NULL) : sl_xstrdup("");
        } else if (brokers && brokers->type != SL_COBJ_STRING) {
            rc = key_err(u, brokers, d, "brokers must be a key, not a section");
            goto out;
        }
        if (!topic) {
            rc = key_err(u, sec, d, "[in_kafka] needs topic");
            goto out;
        }
        if (!brokers && (!host || !port)) {
            sl_diag_hint(d, "sluice talks to Kafka brokers: brokers = host:9092 (dataShark's "
                            "host/port were ZooKeeper's)");
            rc = key_err(u, sec, d, "[in_kafka] needs host and port, or brokers");
            goto out;
        }
        rc = kv_raw(&u->src, at_key(u, sec), 4, "type", "kafka");
        if (!rc && brokers) {
            rc = kv_str(&u->src, at_val(u, brokers), 4, "brokers", blist ? blist : brokers->value);
        } else if (!rc) {
            char hp[600];
            snprintf(hp, sizeof(hp), "%s:%s", host->value, port->value);
            if (!strcmp(port->value, "2181"))
                note(u, port,
                     "port 2181 is ZooKeeper's: dataShark's Kafka 0.8 consumer went through "
                     "ZooKeeper, sluice talks to brokers (set brokers = host:9092)");
            rc = kv_str(&u->src, at_val(u, host), 4, "brokers", hp);
        }
        if (!rc) {
            sl_buf_puts(&l, "    topics: [");
            yq(&l, topic->value, strlen(topic->value), true);
            sl_buf_putc(&l, ']');
            rc = put_line(&u->src, at_val(u, topic), &l);
        }
        if (!rc && !sl_cobj_get(sec, "group")) {
            char g[300];
            snprintf(g, sizeof(g), "sluice-usecase-%s", u->stem);
            rc = kv_str(&u->src, at_key(u, sec), 4, "group", g);
        }
        if (!rc && !sl_cobj_get(sec, "offset_reset"))
            rc = kv_raw(&u->src, at_key(u, sec), 4, "offset_reset", "latest");
        sl_free(blist);
        if (!rc)
            rc = pass_through(u, &u->src, 4, sec, in_kafka_handled);
    } else {
        /* host/port/protocol (a dataShark-style shorthand) or the source's own listen/udp */
        const struct sl_cobj *host, *port, *proto;
        if ((rc = get_str(u, sec, "host", &host, d)) || (rc = get_str(u, sec, "port", &port, d)) ||
            (rc = get_str(u, sec, "protocol", &proto, d)))
            goto out;
        rc = kv_raw(&u->src, at_key(u, sec), 4, "type", "syslog");
        bool own = sl_cobj_get(sec, "listen") || sl_cobj_get(sec, "udp");
        if (!rc && !own) {
            const char *pr = proto ? proto->value : "udp";
            if (strcmp(pr, "udp") && strcmp(pr, "tcp") && strcmp(pr, "tls")) {
                rc = at(d, u->path, proto->vline, proto->vcol, SL_ECONFIG,
                        "protocol must be udp, tcp or tls, not '%s'", pr);
                goto out;
            }
            char hp[600];
            snprintf(hp, sizeof(hp), "%s:%s", host ? host->value : "0.0.0.0",
                     port ? port->value : "514");
            rc = kv_str(&u->src,
                        host   ? at_val(u, host)
                        : port ? at_val(u, port)
                               : at_key(u, sec),
                        4, strcmp(pr, "udp") ? "listen" : "udp", hp);
        } else if (!rc && (host || port || proto)) {
            rc = key_err(u,
                         host   ? host
                         : port ? port
                                : proto,
                         d, "[in_syslog]: host/port/protocol or listen/udp, not both");
            goto out;
        }
        if (!rc)
            rc = pass_through(u, &u->src, 4, sec, in_syslog_handled);
    }
out:
    sl_buf_fini(&l);
    return rc;
}

/* [log_filter] [[include]] / [[exclude]] -> a `filter` transform. */
static int gen_filter(struct sl_usecase *u, const struct sl_cobj *lf, const char *from,
                      struct sl_diag *d)
{
    for (const struct sl_cobj *k = lf->first; k; k = k->next) {
        if (k->type != SL_COBJ_SECTION ||
            (strcmp(k->name, "include") && strcmp(k->name, "exclude"))) {
            sl_diag_hint(d, "[log_filter] holds [[include]] and [[exclude]], each of "
                            "`field = regex` lines");
            return key_err(u, k, d, "unexpected in [log_filter]");
        }
        for (const struct sl_cobj *r = k->first; r; r = r->next) {
            const struct sl_cobj *tmp;
            int rc = get_str(u, k, r->name, &tmp, d);
            if (rc)
                return rc;
        }
    }
    struct sl_buf l;
    sl_buf_init(&l, 0);
    sl_buf_appendf(&l, "  %s:", u->input_name);
    int rc = put_line(&u->xf, at_key(u, lf), &l);
    if (!rc)
        rc = kv_raw(&u->xf, at_key(u, lf), 4, "type", "filter");
    if (!rc) {
        sl_buf_puts(&l, "    inputs: [");
        yq(&l, from, strlen(from), false);
        sl_buf_putc(&l, ']');
        rc = put_line(&u->xf, at_key(u, lf), &l);
    }
    for (const struct sl_cobj *k = lf->first; k && !rc; k = k->next)
        rc = kv_cobj(u, &u->xf, 4, k);
    sl_buf_fini(&l);
    return rc;
}

static const char *const out_skip_csv[] = {"debug", "title", NULL};
static const char *const out_skip[] = {"debug", NULL};

static int gen_debug_sink(struct sl_usecase *u, struct origin o, const char *suffix,
                          const char *mode)
{
    struct sl_buf l;
    sl_buf_init(&l, 0);
    sl_buf_appendf(&l, "  %s%s:", u->prefix, suffix);
    int rc = put_line(&u->sink, o, &l);
    if (!rc)
        rc = kv_raw(&u->sink, o, 4, "type", "datashark_debug");
    if (!rc) {
        sl_buf_appendf(&l, "    inputs: [\"%s%s\"]", u->prefix, u->result);
        rc = put_line(&u->sink, o, &l);
    }
    if (!rc)
        rc = kv_raw(&u->sink, o, 4, "mode", mode);
    if (!rc)
        rc = kv_str(&u->sink, o, 4, "title", u->name);
    sl_buf_fini(&l);
    return rc;
}

static int gen_sink(struct sl_usecase *u, struct sl_diag *d)
{
    const struct sl_cobj *output;
    int rc = get_str(u, u->root, "output", &output, d);
    if (rc)
        return rc;
    if (u->debug) /* dataShark's standalone -d: the output plugin is not loaded */
        return gen_debug_sink(u, (struct origin){.file = u->path, .line = 1, .col = 1}, "debug",
                              u->streaming ? "stream" : "batch");
    if (!output) {
        sl_diag_hint(d, "output = csv, syslog or elasticsearch, with its [out_*] section");
        return at(d, u->path, 1, 1, SL_ECONFIG, "no `output` in %s", u->path);
    }
    const char *kind = output->value;
    if (strcmp(kind, "csv") && strcmp(kind, "syslog") && strcmp(kind, "elasticsearch"))
        return at(d, u->path, output->vline, output->vcol, SL_ECONFIG,
                  "output must be csv, syslog or elasticsearch, not '%s'", kind);
    char secname[32];
    snprintf(secname, sizeof(secname), "out_%s", kind);
    const struct sl_cobj *sec = sl_cobj_get(u->root, secname);
    if (sec && sec->type != SL_COBJ_SECTION)
        return key_err(u, sec, d, "must be a [section]");
    struct origin o = sec ? at_key(u, sec) : at_val(u, output);
    struct sl_buf l;
    sl_buf_init(&l, 0);
    sl_buf_appendf(&l, "  %soutput:", u->prefix);
    rc = put_line(&u->sink, o, &l);
    if (!rc)
        rc = kv_raw(&u->sink, at_val(u, output), 4, "type", kind);
    if (!rc) {
        sl_buf_appendf(&l, "    inputs: [\"%s%s\"]", u->prefix, u->result);
        rc = put_line(&u->sink, o, &l);
    }
    if (!rc && !strcmp(kind, "csv")) {
        rc = kv_raw(&u->sink, o, 4, "layout", "datashark");
        if (!rc && !sl_cobj_get(sec, "path")) /* out_csv.py's default */
            rc = kv_str(&u->sink, o, 4, "path", "UseCase.csv");
    }
    if (!rc)
        rc = pass_through(u, &u->sink, 4, sec, strcmp(kind, "csv") ? out_skip : out_skip_csv);
    sl_buf_fini(&l);
    const struct sl_cobj *dbg = sl_cobj_get(sec, "debug");
    if (!rc && dbg && dbg->type == SL_COBJ_STRING && !strcmp(dbg->value, "true"))
        rc = gen_debug_sink(u, at_key(u, dbg), "output-debug", "record");
    return rc;
}

static char *sanitize(const char *s)
{
    char *p = sl_xstrdup(s);
    for (char *q = p; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '_' || *q == '-'))
            *q = '_';
    return p;
}

static int load_conf(struct sl_usecase *u, struct sl_diag *d)
{
    struct sl_buf text;
    sl_buf_init(&text, MAX_FILE_LEN);
    int rc = read_file(u->path, &text, d);
    if (!rc)
        rc = sl_configobj_parse(text.ptr, text.len - 1, u->path, &u->conf, d);
    sl_buf_fini(&text);
    if (!rc) /* dataShark read every value through ConfigObj's %(name)s interpolation */
        rc = sl_configobj_interpolate(u->conf, d);
    if (rc)
        return rc;
    u->root = sl_configobj_root(u->conf);
    return 0;
}

int sl_usecase_load(const char *conf_path, bool debug, struct sl_usecase **out, struct sl_diag *d)
{
    *out = NULL;
    struct sl_usecase *u = sl_xcalloc(1, sizeof(*u));
    u->path = sl_xstrdup(conf_path);
    u->debug = debug;
    sl_buf_init(&u->notes, 0);
    part_init(&u->src);
    part_init(&u->xf);
    part_init(&u->sink);
    const char *slash = strrchr(conf_path, '/');
    u->dir = slash ? sl_xstrndup(conf_path, (size_t)(slash - conf_path + (slash == conf_path)))
                   : sl_xstrdup(".");
    const char *base = slash ? slash + 1 : conf_path;
    size_t blen = strlen(base);
    if (blen > 5 && !strcmp(base + blen - 5, ".conf"))
        blen -= 5;
    u->stem = sl_xstrndup(base, blen);
    char *san = sanitize(u->stem);
    struct sl_buf pb;
    sl_buf_init(&pb, 0);
    sl_buf_appendf(&pb, "%s-", san);
    sl_free(san);
    u->prefix = sl_buf_steal(&pb, NULL);

    int rc = load_conf(u, d);
    if (rc)
        goto fail;
    const struct sl_cobj *k;
    if ((rc = get_str(u, u->root, "type", &k, d)) != 0)
        goto fail;
    if (!k) {
        rc = at(d, u->path, 1, 1, SL_ECONFIG, "no `type` (batch or streaming)");
        goto fail;
    }
    if (strcmp(k->value, "batch") && strcmp(k->value, "streaming")) {
        rc = at(d, u->path, k->vline, k->vcol, SL_ECONFIG,
                "type must be batch or streaming, not '%s'", k->value);
        goto fail;
    }
    u->streaming = !strcmp(k->value, "streaming");
    if ((rc = get_str(u, u->root, "name", &k, d)) != 0)
        goto fail;
    u->name = sl_xstrdup(k ? k->value : u->stem);
    if ((rc = get_str(u, u->root, "enabled", &k, d)) != 0)
        goto fail;
    u->enabled = k && !strcmp(k->value, "true");
    if ((rc = get_str(u, u->root, "training", &k, d)) != 0)
        goto fail;
    const struct sl_cobj *code = NULL;
    if ((rc = get_str(u, u->root, "code", &code, d)) != 0)
        goto fail;
    const struct sl_cobj *xfk;
    if ((rc = get_str(u, u->root, "transforms", &xfk, d)) != 0)
        goto fail;
    if (xfk) {
        u->xf_path = join_path(u->dir, xfk->value);
    } else {
        struct sl_buf b;
        sl_buf_init(&b, 0);
        sl_buf_appendf(&b, "%s.yaml", u->stem);
        u->xf_path = join_path(u->dir, b.ptr);
        sl_buf_fini(&b);
    }
    FILE *f = fopen(u->xf_path, "rb");
    if (!f) {
        const struct sl_cobj *where = xfk ? xfk : code;
        sl_diag_hint(d,
                     "dataShark's code file (%s) is PySpark; sluice reads its transforms from "
                     "%s (or the file `transforms =` names)",
                     code ? code->value : "code.py", u->xf_path);
        rc = at(d, u->path, where ? where->line : 1, where ? where->col : 1, SL_ENOENT,
                "no transforms file %s: %s", u->xf_path, strerror(errno));
        goto fail;
    }
    fclose(f);

    const struct sl_cobj *lf = sl_cobj_get(u->root, "log_filter");
    if (lf && lf->type != SL_COBJ_SECTION) {
        rc = key_err(u, lf, d, "log_filter must be a section: [log_filter]");
        goto fail;
    }
    if (lf && !u->streaming) {
        note(u, lf, "[log_filter] ignored: dataShark filters streams only, not batch files");
        lf = NULL;
    }
    if (lf && !lf->first)
        lf = NULL;
    char *src_name;
    {
        struct sl_buf b;
        sl_buf_init(&b, 0);
        sl_buf_appendf(&b, "%s%s", u->prefix, lf ? "source" : "input");
        src_name = sl_buf_steal(&b, NULL);
    }
    struct sl_buf in;
    sl_buf_init(&in, 0);
    sl_buf_appendf(&in, "%sinput", u->prefix);
    u->input_name = sl_buf_steal(&in, NULL);

    rc = load_xf(u, d);
    if (!rc)
        rc = gen_source(u, src_name, d);
    if (!rc && lf) {
        /* the filter goes first among the transforms: rebuild the part in that order */
        struct part user = u->xf;
        part_init(&u->xf);
        rc = gen_filter(u, lf, src_name, d);
        for (size_t i = 0, off = 0; i < user.n && !rc; i++) {
            const char *nl = memchr(user.text.ptr + off, '\n', user.text.len - off);
            size_t len = (size_t)(nl - (user.text.ptr + off));
            struct sl_buf l;
            sl_buf_init(&l, 0);
            sl_buf_append(&l, user.text.ptr + off, len);
            rc = put_line(&u->xf, user.orig[i], &l);
            sl_buf_fini(&l);
            off += len + 1;
        }
        part_fini(&user);
    }
    sl_free(src_name);
    if (!rc)
        rc = gen_sink(u, d);
    if (rc)
        goto fail;
    if (code)
        note(u, code, "code = %s (PySpark) is replaced by %s", code->value, u->xf_path);
    *out = u;
    return 0;
fail:
    sl_usecase_free(u);
    return rc;
}

void sl_usecase_free(struct sl_usecase *u)
{
    if (!u)
        return;
    if (u->have_doc)
        yaml_document_delete(&u->doc);
    sl_configobj_free(u->conf);
    part_fini(&u->src);
    part_fini(&u->xf);
    part_fini(&u->sink);
    sl_buf_fini(&u->notes);
    sl_free(u->path);
    sl_free(u->dir);
    sl_free(u->stem);
    sl_free(u->prefix);
    sl_free(u->xf_path);
    sl_free(u->name);
    sl_free(u->result);
    sl_free((char *)u->input_name);
    sl_free(u);
}

const char *sl_usecase_name(const struct sl_usecase *u)
{
    return u->name;
}

const char *sl_usecase_path(const struct sl_usecase *u)
{
    return u->path;
}

const char *sl_usecase_xf_path(const struct sl_usecase *u)
{
    return u->xf_path;
}

bool sl_usecase_enabled(const struct sl_usecase *u)
{
    return u->enabled;
}

bool sl_usecase_streaming(const struct sl_usecase *u)
{
    return u->streaming;
}

const char *sl_usecase_notes(const struct sl_usecase *u)
{
    return u->notes.ptr ? u->notes.ptr : "";
}

bool sl_usecase_conf_enabled(const char *conf_path, struct sl_diag *d)
{
    struct sl_usecase tmp = {.path = (char *)conf_path};
    if (load_conf(&tmp, d))
        return false;
    const char *e = sl_cobj_get_str(tmp.root, "enabled");
    bool on = e && !strcmp(e, "true");
    sl_configobj_free(tmp.conf);
    return on;
}

/* ---- several use cases, one config ---- */

static int gen_append(struct sl_usecase_gen *g, const struct part *p)
{
    struct origin *no = sl_realloc(g->orig, (g->n + p->n + 1) * sizeof(*no));
    if (!no)
        return SL_ENOMEM;
    g->orig = no;
    if (p->n)
        memcpy(g->orig + g->n, p->orig, p->n * sizeof(*no));
    g->n += p->n;
    return sl_buf_append(&g->text, p->text.ptr ? p->text.ptr : "", p->text.len);
}

static int gen_plain(struct sl_usecase_gen *g, const char *line)
{
    struct origin *no = sl_realloc(g->orig, (g->n + 1) * sizeof(*no));
    if (!no)
        return SL_ENOMEM;
    g->orig = no;
    g->orig[g->n++] = (struct origin){.file = NULL};
    int rc = sl_buf_puts(&g->text, line);
    return rc ? rc : sl_buf_putc(&g->text, '\n');
}

int sl_usecase_generate(struct sl_usecase *const *ucs, size_t n, struct sl_usecase_gen **out)
{
    struct sl_usecase_gen *g = sl_xcalloc(1, sizeof(*g));
    sl_buf_init(&g->text, 0);
    int rc = gen_plain(g, "# generated by `sluice usecase` from:");
    for (size_t i = 0; i < n && !rc; i++) {
        struct sl_buf l;
        sl_buf_init(&l, 0);
        sl_buf_appendf(&l, "#   %s (%s, %s) + %s", ucs[i]->path, ucs[i]->name,
                       ucs[i]->streaming ? "streaming" : "batch", ucs[i]->xf_path);
        for (char *q = l.ptr; q && *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
        rc = gen_plain(g, l.ptr);
        sl_buf_fini(&l);
    }
    static const char *const groups[] = {"sources:", "transforms:", "sinks:"};
    for (int k = 0; k < 3 && !rc; k++) {
        rc = gen_plain(g, groups[k]);
        for (size_t i = 0; i < n && !rc; i++)
            rc = gen_append(g, k == 0 ? &ucs[i]->src : k == 1 ? &ucs[i]->xf : &ucs[i]->sink);
    }
    if (rc) {
        sl_usecase_gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void sl_usecase_gen_free(struct sl_usecase_gen *g)
{
    if (!g)
        return;
    sl_buf_fini(&g->text);
    sl_free(g->orig);
    sl_free(g);
}

const char *sl_usecase_gen_yaml(const struct sl_usecase_gen *g, size_t *len)
{
    if (len)
        *len = g->text.len;
    return g->text.ptr ? g->text.ptr : "";
}

const char *sl_usecase_gen_name(const struct sl_usecase_gen *g)
{
    (void)g;
    return GEN_NAME;
}

void sl_usecase_gen_map(const struct sl_usecase_gen *g, struct sl_diag *d)
{
    if (!g || strcmp(d->file, GEN_NAME) != 0 || d->line < 1)
        return;
    size_t i = d->line - 1 < g->n ? d->line - 1 : g->n - 1;
    /* a diagnostic on a generated line with no origin (the group headers): the next one that
     * has one */
    while (i < g->n && !g->orig[i].file)
        i++;
    if (i >= g->n)
        return;
    const struct origin *o = &g->orig[i];
    snprintf(d->file, sizeof(d->file), "%s", o->file);
    if (o->vstart && o->kline && i == d->line - 1 && d->col < o->vstart) {
        d->line = o->kline;
        d->col = o->kcol;
    } else {
        d->line = o->line;
        d->col = o->col;
    }
}
