/*
 * config.c — YAML configuration loader (see config.h).
 *
 * DESIGN: libyaml's document API gives a node tree with start marks, which is all we need
 * for file:line:col errors. The document is kept alive with the config so that options are
 * parsed later, when the component type (and so its option table) is known.
 */
#include "core/config.h"
#include "core/config_int.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_CONFIG_LEN (16u << 20)

static const char *const group_names[] = {"sources", "transforms", "sinks"};

static void diag_at(struct sl_diag *d, const struct sl_config *cfg, const yaml_node_t *n)
{
    if (!d)
        return;
    snprintf(d->file, sizeof(d->file), "%s", cfg->path);
    if (n) {
        d->line = (uint32_t)n->start_mark.line + 1;
        d->col = (uint32_t)n->start_mark.column + 1;
    }
}

static yaml_node_t *node(const struct sl_config *cfg, int id)
{
    return yaml_document_get_node((yaml_document_t *)cfg->doc, id);
}

/* Expand ${VAR} and ${VAR:-default}. Result is heap (caller frees). */
static int expand_env(const struct sl_config *cfg, const yaml_node_t *n, const char *s, char **out,
                      struct sl_diag *d)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') { /* "$${" is a literal "${" */
            sl_buf_puts(&b, "${");
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                diag_at(d, cfg, n);
                sl_diag_hint(d, "close the variable reference with '}'");
                sl_buf_fini(&b);
                return sl_diag_set(d, SL_ECONFIG, "unterminated '${' in \"%s\"", s);
            }
            char name[256];
            size_t nlen = (size_t)(end - (p + 2));
            const char *def = NULL;
            size_t deflen = 0;
            const char *dash = strstr(p + 2, ":-");
            if (dash && dash < end) {
                def = dash + 2;
                deflen = (size_t)(end - def);
                nlen = (size_t)(dash - (p + 2));
            }
            if (nlen == 0 || nlen >= sizeof(name)) {
                diag_at(d, cfg, n);
                sl_buf_fini(&b);
                return sl_diag_set(d, SL_ECONFIG, "bad environment variable reference");
            }
            memcpy(name, p + 2, nlen);
            name[nlen] = 0;
            const char *val = getenv(name);
            if (val && (*val || !def)) {
                sl_buf_puts(&b, val);
            } else if (def) {
                sl_buf_append(&b, def, deflen);
            } else {
                diag_at(d, cfg, n);
                sl_diag_hint(d, "export %s, or write ${%s:-default}", name, name);
                sl_buf_fini(&b);
                return sl_diag_set(d, SL_ECONFIG, "environment variable %s is not set", name);
            }
            p = end + 1;
        } else {
            sl_buf_putc(&b, *p++);
        }
    }
    if (!b.ptr)
        sl_buf_append(&b, "", 0);
    *out = sl_buf_steal(&b, NULL);
    return 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static char *xstr_scalar(const yaml_node_t *n)
{
    return sl_xstrdup(scalar(n));
}

static int load_doc(struct sl_config *cfg, const char *text, size_t len, struct sl_diag *d)
{
    yaml_parser_t parser;
    yaml_document_t *doc = sl_xcalloc(1, sizeof(*doc));
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, doc)) {
        snprintf(d->file, sizeof(d->file), "%s", cfg->path);
        d->line = (uint32_t)parser.problem_mark.line + 1;
        d->col = (uint32_t)parser.problem_mark.column + 1;
        sl_diag_hint(d, "check indentation and quoting near this position");
        sl_diag_set(d, SL_ECONFIG, "YAML syntax error: %s%s%s",
                    parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
                    parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        sl_free(doc);
        return SL_ECONFIG;
    }
    yaml_parser_delete(&parser);
    cfg->doc = doc;
    return 0;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static int parse_inputs(struct sl_config *cfg, struct sl_config_comp *cc, yaml_node_t *v,
                        struct sl_diag *d)
{
    if (v->type == YAML_SCALAR_NODE) {
        cc->inputs = sl_xcalloc(1, sizeof(*cc->inputs));
        cc->inputs[0] = (struct sl_config_input){xstr_scalar(v), (uint32_t)v->start_mark.line + 1,
                                                 (uint32_t)v->start_mark.column + 1};
        cc->ninputs = 1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        diag_at(d, cfg, v);
        sl_diag_hint(d, "write inputs: [name, other.errors]");
        return sl_diag_set(d, SL_ECONFIG, "'inputs' of '%s' must be a list of component names",
                           cc->name);
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    cc->inputs = sl_xcalloc(n ? n : 1, sizeof(*cc->inputs));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = node(cfg, v->data.sequence.items.start[i]);
        if (!scalar(it)) {
            diag_at(d, cfg, it);
            return sl_diag_set(d, SL_ECONFIG, "an input must be a component name");
        }
        cc->inputs[cc->ninputs++] =
            (struct sl_config_input){xstr_scalar(it), (uint32_t)it->start_mark.line + 1,
                                     (uint32_t)it->start_mark.column + 1};
    }
    return 0;
}

static const char *opt_type_name(enum sl_opt_type t);

#define BUF_OFF(f) offsetof(struct sl_sinkbuf_conf, f)
static const struct sl_option buffer_options[] = {
    {"type", SL_OPT_ENUM, "memory", BUF_OFF(type), "memory (the queue) or disk (a segment log)",
     "memory|disk", 0, 0, 0},
    {"path", SL_OPT_STRING, NULL, BUF_OFF(path),
     "directory of the disk buffer (default <config dir>/sluice-data/buffer-<sink>)", NULL, 0, 0,
     0},
    {"max_size", SL_OPT_SIZE, "1GiB", BUF_OFF(max_size), "bytes on disk at most", NULL, 0, 0, 0},
    {"when_full", SL_OPT_ENUM, "block", BUF_OFF(when_full),
     "block (back-pressure) or drop_newest (counted and logged)", "block|drop_newest", 0, 0, 0},
    {"sync", SL_OPT_ENUM, "batch", BUF_OFF(sync),
     "fsync per append (always), per group of appends (batch) or on a timer (interval)",
     "always|batch|interval", 0, 0, 0},
    {"sync_interval", SL_OPT_DURATION, "1s", BUF_OFF(sync_interval_ns), "sync: interval period",
     NULL, 0, 0, 0},
    {"sync_every", SL_OPT_INT, "64", BUF_OFF(sync_every), "sync: batch: appends per fsync at most",
     NULL, 1, 1000000, 0},
    {"segment_size", SL_OPT_SIZE, "64MiB", BUF_OFF(segment_size), "bytes per segment file", NULL, 0,
     0, 0},
    {"drain_timeout", SL_OPT_DURATION, "10s", BUF_OFF(drain_timeout_ns),
     "at shutdown, how long to keep delivering from the buffer", NULL, 0, 0, 0},
    {NULL, 0, NULL, 0, NULL, NULL, 0, 0, 0},
};

/* buffer: {type: memory|disk, ...} or buffer: memory|disk (sinks only; core/sinkbuf.h) */
static int parse_buffer(struct sl_config *cfg, struct sl_config_comp *cc, yaml_node_t *k,
                        yaml_node_t *v, struct sl_diag *d)
{
    struct sl_sinkbuf_conf *b = &cc->buffer;
    if (cc->kind != SL_KIND_SINK) {
        diag_at(d, cfg, k);
        sl_diag_hint(d, "buffers hold what a sink has not delivered yet; remove 'buffer'");
        return sl_diag_set(d, SL_ECONFIG, "only sinks take 'buffer' ('%s' is a %s)", cc->name,
                           sl_kind_name(cc->kind));
    }
    b->line = (uint32_t)k->start_mark.line + 1;
    b->col = (uint32_t)k->start_mark.column + 1;
    for (const struct sl_option *o = buffer_options; o->key; o++)
        if (o->def)
            sl_assert(sl_config_parse_option_text(o, o->def, b, d) == 0);
    if (scalar(v)) { /* buffer: disk */
        int rc = sl_config_parse_option_text(&buffer_options[0], scalar(v), b, d);
        if (rc)
            diag_at(d, cfg, v);
        return rc;
    }
    if (v->type != YAML_MAPPING_NODE) {
        diag_at(d, cfg, v);
        sl_diag_hint(d, "write buffer: {type: disk, max_size: 1GiB}");
        return sl_diag_set(d, SL_ECONFIG, "'buffer' of '%s' must be a mapping", cc->name);
    }
    bool other = false;
    yaml_node_t *other_k = NULL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *bk = node(cfg, p->key), *bv = node(cfg, p->value);
        const char *key = scalar(bk);
        const struct sl_option *o = buffer_options;
        while (o->key && (!key || strcmp(o->key, key) != 0))
            o++;
        if (!o->key) {
            diag_at(d, cfg, bk);
            sl_diag_hint(d, "buffer options: type, path, max_size, when_full, sync, "
                            "sync_interval, sync_every, segment_size, drain_timeout");
            return sl_diag_set(d, SL_ECONFIG, "unknown buffer option '%s' of '%s'", key ? key : "?",
                               cc->name);
        }
        char *text = NULL;
        if (!scalar(bv)) {
            diag_at(d, cfg, bv);
            return sl_diag_set(d, SL_ECONFIG, "buffer option '%s' takes a %s", o->key,
                               opt_type_name(o->type));
        }
        int rc = expand_env(cfg, bv, scalar(bv), &text, d);
        if (!rc)
            rc = sl_config_parse_option_text(o, text, b, d);
        sl_free(text);
        if (rc) {
            diag_at(d, cfg, bv);
            return rc;
        }
        if (o != buffer_options) {
            other = true;
            other_k = bk;
        }
    }
    if (b->type == SL_SINKBUF_MEMORY && other) {
        diag_at(d, cfg, other_k);
        sl_diag_hint(d, "write type: disk, or remove the disk options");
        return sl_diag_set(d, SL_ECONFIG, "buffer option '%s' of '%s' needs type: disk",
                           scalar(other_k), cc->name);
    }
    if (b->type == SL_SINKBUF_DISK && b->max_size < ((uint64_t)1 << 20)) {
        diag_at(d, cfg, v);
        return sl_diag_set(d, SL_ECONFIG, "buffer max_size of '%s' must be at least 1MiB",
                           cc->name);
    }
    return 0;
}

static int parse_group(struct sl_config *cfg, enum sl_kind kind, yaml_node_t *g, struct sl_diag *d)
{
    if (g->type == YAML_SCALAR_NODE && scalar(g)[0] == 0)
        return 0; /* "sinks:" with nothing */
    if (g->type != YAML_MAPPING_NODE) {
        diag_at(d, cfg, g);
        sl_diag_hint(d, "write %s: then one indented 'name: {type: ...}' per component",
                     group_names[kind]);
        return sl_diag_set(d, SL_ECONFIG, "'%s' must be a mapping of component names",
                           group_names[kind]);
    }
    for (yaml_node_pair_t *p = g->data.mapping.pairs.start; p < g->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(cfg, p->key), *v = node(cfg, p->value);
        const char *name = scalar(k);
        if (!name || !valid_name(name)) {
            diag_at(d, cfg, k);
            sl_diag_hint(d, "use letters, digits, '_' and '-'");
            return sl_diag_set(d, SL_ECONFIG, "invalid component name");
        }
        for (size_t i = 0; i < cfg->ncomps; i++) {
            if (strcmp(cfg->comps[i].name, name) == 0) {
                diag_at(d, cfg, k);
                sl_diag_hint(d, "the first '%s' is at line %u", name, cfg->comps[i].line);
                return sl_diag_set(d, SL_ECONFIG, "duplicate component name '%s'", name);
            }
        }
        if (v->type != YAML_MAPPING_NODE) {
            diag_at(d, cfg, v);
            sl_diag_hint(d, "write %s: {type: ...}", name);
            return sl_diag_set(d, SL_ECONFIG, "component '%s' must be a mapping", name);
        }
        cfg->comps = sl_xrealloc(cfg->comps, (cfg->ncomps + 1) * sizeof(*cfg->comps));
        struct sl_config_comp *cc = &cfg->comps[cfg->ncomps++];
        memset(cc, 0, sizeof(*cc));
        cc->name = sl_xstrdup(name);
        cc->kind = kind;
        cc->line = (uint32_t)k->start_mark.line + 1;
        cc->col = (uint32_t)k->start_mark.column + 1;
        cc->node = p->value;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
             q++) {
            yaml_node_t *ok = node(cfg, q->key), *ov = node(cfg, q->value);
            const char *key = scalar(ok);
            if (!key) {
                diag_at(d, cfg, ok);
                sl_diag_hint(d, "option names are plain strings");
                return sl_diag_set(d, SL_ECONFIG, "invalid option name in '%s'", name);
            }
            for (yaml_node_pair_t *r = v->data.mapping.pairs.start; r < q; r++) {
                const char *prev = scalar(node(cfg, r->key));
                if (prev && strcmp(prev, key) == 0) {
                    diag_at(d, cfg, ok);
                    sl_diag_hint(d, "write each option once");
                    return sl_diag_set(d, SL_ECONFIG, "option '%s' of '%s' is given twice", key,
                                       name);
                }
            }
            if (strcmp(key, "type") == 0) {
                if (!scalar(ov) || !*scalar(ov)) {
                    diag_at(d, cfg, ov);
                    return sl_diag_set(d, SL_ECONFIG, "'type' must be a component type name");
                }
                cc->type = xstr_scalar(ov);
                cc->type_line = (uint32_t)ov->start_mark.line + 1;
                cc->type_col = (uint32_t)ov->start_mark.column + 1;
            } else if (strcmp(key, "inputs") == 0) {
                if (kind == SL_KIND_SOURCE) {
                    diag_at(d, cfg, ok);
                    sl_diag_hint(d, "sources read from the outside; remove 'inputs'");
                    return sl_diag_set(d, SL_ECONFIG, "source '%s' cannot have inputs", name);
                }
                int rc = parse_inputs(cfg, cc, ov, d);
                if (rc)
                    return rc;
            } else if (strcmp(key, "buffer") == 0) {
                int rc = parse_buffer(cfg, cc, ok, ov, d);
                if (rc)
                    return rc;
            }
        }
        if (!cc->type) {
            diag_at(d, cfg, k);
            sl_diag_hint(d, "add 'type:' (see `sluice help`)");
            return sl_diag_set(d, SL_ECONFIG, "component '%s' has no type", name);
        }
        const struct sl_component_ops *ops = sl_registry_find(cc->type, kind);
        if (ops && ops->no_inputs && cc->ninputs) {
            diag_at(d, cfg, k);
            sl_diag_hint(d,
                         "a '%s' sink is fed by another component (see `sluice help %s`); "
                         "remove 'inputs'",
                         cc->type, cc->type);
            return sl_diag_set(d, SL_ECONFIG, "sink '%s' (%s) takes no inputs", name, cc->type);
        }
        if (kind != SL_KIND_SOURCE && cc->ninputs == 0 && !(ops && ops->no_inputs)) {
            diag_at(d, cfg, k);
            sl_diag_hint(d, "add inputs: [<source or transform name>]");
            return sl_diag_set(d, SL_ECONFIG, "%s '%s' has no inputs",
                               kind == SL_KIND_SINK ? "sink" : "transform", name);
        }
    }
    return 0;
}

/* push_gateway: {url, job, instance, interval}, or push_gateway: URL */
yaml_node_t *sl_cfg_node(const struct sl_config *cfg, int id)
{
    return node(cfg, id);
}

const char *sl_cfg_scalar(const yaml_node_t *n)
{
    return scalar(n);
}

void sl_cfg_diag_at(struct sl_diag *d, const struct sl_config *cfg, const yaml_node_t *n)
{
    diag_at(d, cfg, n);
}

int sl_cfg_expand_env(const struct sl_config *cfg, const yaml_node_t *n, char **out,
                      struct sl_diag *d)
{
    return expand_env(cfg, n, scalar(n), out, d);
}

bool sl_cfg_valid_name(const char *s)
{
    return valid_name(s);
}

static int parse_pushgw(struct sl_config *cfg, yaml_node_t *k, yaml_node_t *v, struct sl_diag *d)
{
    struct sl_config_pushgw *pg = &cfg->push_gateway;
    pg->line = (uint32_t)k->start_mark.line + 1;
    pg->col = (uint32_t)k->start_mark.column + 1;
    pg->interval_ns = 10 * (int64_t)1000000000;
    if (scalar(v) && *scalar(v))
        return expand_env(cfg, v, scalar(v), &pg->url, d);
    if (v->type != YAML_MAPPING_NODE) {
        diag_at(d, cfg, v);
        sl_diag_hint(d, "write push_gateway: {url: \"http://localhost:9091\", job: sluice, "
                        "interval: 10s}");
        return sl_diag_set(d, SL_ECONFIG, "'push_gateway' must be a mapping");
    }
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *ak = node(cfg, q->key), *av = node(cfg, q->value);
        const char *name = scalar(ak);
        char **slot = NULL;
        if (name && strcmp(name, "url") == 0)
            slot = &pg->url;
        else if (name && strcmp(name, "job") == 0)
            slot = &pg->job;
        else if (name && strcmp(name, "instance") == 0)
            slot = &pg->instance;
        else if (!name || strcmp(name, "interval") != 0) {
            diag_at(d, cfg, ak);
            sl_diag_hint(d, "the push_gateway section knows: url, job, instance, interval");
            return sl_diag_set(d, SL_ECONFIG, "unknown push_gateway option '%s'",
                               name ? name : "?");
        }
        if (!scalar(av)) {
            diag_at(d, cfg, av);
            return sl_diag_set(d, SL_ECONFIG, "push_gateway.%s must be a string", name);
        }
        char *text = NULL;
        int rc = expand_env(cfg, av, scalar(av), &text, d);
        if (rc)
            return rc;
        if (slot) {
            sl_free(*slot);
            *slot = text;
            continue;
        }
        rc = sl_str_to_duration_ns(sl_str_c(text), &pg->interval_ns);
        sl_free(text);
        if (rc || pg->interval_ns <= 0) {
            diag_at(d, cfg, av);
            sl_diag_hint(d, "write a duration such as 500ms, 10s, 1m");
            return sl_diag_set(d, SL_ECONFIG, "push_gateway.interval must be a positive duration");
        }
    }
    if (!pg->url || !*pg->url) {
        diag_at(d, cfg, k);
        sl_diag_hint(d, "add url: \"http://localhost:9091\" (or host:port)");
        return sl_diag_set(d, SL_ECONFIG, "push_gateway needs a url");
    }
    if (strstr(pg->url, "://") && strncmp(pg->url, "http://", 7) != 0 &&
        strncmp(pg->url, "https://", 8) != 0) {
        diag_at(d, cfg, v);
        sl_diag_hint(d, "write http://host:port, https://host:port or host:port");
        return sl_diag_set(d, SL_ECONFIG, "push_gateway.url must be an http(s) URL, got \"%s\"",
                           pg->url);
    }
    return 0;
}

static int parse_top(struct sl_config *cfg, struct sl_diag *d)
{
    yaml_node_t *root = yaml_document_get_root_node((yaml_document_t *)cfg->doc);
    if (!root) {
        snprintf(d->file, sizeof(d->file), "%s", cfg->path);
        d->line = 1;
        d->col = 1;
        sl_diag_hint(d, "start with 'sources:' (see examples/quickstart.yaml)");
        return sl_diag_set(d, SL_ECONFIG, "the configuration is empty");
    }
    if (root->type != YAML_MAPPING_NODE) {
        diag_at(d, cfg, root);
        sl_diag_hint(d, "the top level holds sources:, transforms:, sinks:");
        return sl_diag_set(d, SL_ECONFIG, "the configuration must be a mapping");
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(cfg, p->key), *v = node(cfg, p->value);
        const char *key = scalar(k);
        int rc = 0;
        if (!key) {
            diag_at(d, cfg, k);
            return sl_diag_set(d, SL_ECONFIG, "top-level keys must be plain names");
        }
        for (yaml_node_pair_t *r = root->data.mapping.pairs.start; r < p; r++) {
            const char *prev = scalar(node(cfg, r->key));
            if (prev && strcmp(prev, key) == 0) {
                diag_at(d, cfg, k);
                sl_diag_hint(d, "merge the two '%s' sections", key);
                return sl_diag_set(d, SL_ECONFIG, "top-level key '%s' is given twice", key);
            }
        }
        if (strcmp(key, "sources") == 0) {
            rc = parse_group(cfg, SL_KIND_SOURCE, v, d);
        } else if (strcmp(key, "transforms") == 0) {
            rc = parse_group(cfg, SL_KIND_TRANSFORM, v, d);
        } else if (strcmp(key, "sinks") == 0) {
            rc = parse_group(cfg, SL_KIND_SINK, v, d);
        } else if (strcmp(key, "api") == 0) {
            if (v->type != YAML_MAPPING_NODE) {
                diag_at(d, cfg, v);
                sl_diag_hint(d, "write api: {listen: \"127.0.0.1:8686\"}");
                return sl_diag_set(d, SL_ECONFIG, "'api' must be a mapping");
            }
            cfg->api.line = k->start_mark.line + 1;
            cfg->api.col = k->start_mark.column + 1;
            cfg->api.open_metrics = true;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *ak = node(cfg, q->key), *av = node(cfg, q->value);
                const char *an = scalar(ak) ? scalar(ak) : "?";
                char **str = !strcmp(an, "listen")     ? &cfg->api_listen
                             : !strcmp(an, "tokens")   ? &cfg->api.tokens
                             : !strcmp(an, "tls_cert") ? &cfg->api.tls_cert
                             : !strcmp(an, "tls_key")  ? &cfg->api.tls_key
                             : !strcmp(an, "tls_ca")   ? &cfg->api.tls_ca
                                                       : NULL;
                bool *flag = !strcmp(an, "require_client_cert") ? &cfg->api.require_client_cert
                             : !strcmp(an, "open_metrics")      ? &cfg->api.open_metrics
                                                                : NULL;
                int64_t *num = !strcmp(an, "max_connections") ? &cfg->api.max_connections
                               : !strcmp(an, "max_per_ip")    ? &cfg->api.max_per_ip
                               : !strcmp(an, "samples")       ? &cfg->api.samples
                                                              : NULL;
                char *val = NULL;
                if ((str || flag || num) &&
                    (!scalar(av) || (rc = expand_env(cfg, av, scalar(av), &val, d)) != 0)) {
                    sl_free(val);
                    if (rc)
                        return rc;
                    diag_at(d, cfg, av);
                    return sl_diag_set(d, SL_ECONFIG, "api.%s must be a scalar", an);
                }
                if (str) {
                    sl_free(*str);
                    *str = val;
                    continue;
                }
                if (flag) {
                    bool ok = !strcmp(val, "true") || !strcmp(val, "false");
                    *flag = !strcmp(val, "true");
                    sl_free(val);
                    if (!ok) {
                        diag_at(d, cfg, av);
                        return sl_diag_set(d, SL_ECONFIG, "api.%s must be true or false", an);
                    }
                    continue;
                }
                if (num) {
                    bool ok = !sl_str_to_i64(sl_str_c(val), num) && *num >= 0 && *num <= 100000;
                    sl_free(val);
                    if (!ok) {
                        diag_at(d, cfg, av);
                        return sl_diag_set(d, SL_ECONFIG, "api.%s must be a number (0..100000)",
                                           an);
                    }
                    continue;
                }
                diag_at(d, cfg, ak);
                sl_diag_hint(d, "the api section knows: listen, tokens, open_metrics, tls_cert, "
                                "tls_key, tls_ca, require_client_cert, max_connections, "
                                "max_per_ip, samples");
                return sl_diag_set(d, SL_ECONFIG, "unknown api option '%s'", an);
            }
        } else if (strcmp(key, "workers") == 0 || strcmp(key, "queue_batches") == 0) {
            char *s = NULL;
            int64_t val;
            if (!scalar(v) || expand_env(cfg, v, scalar(v), &s, d) ||
                sl_str_to_i64(sl_str_c(s), &val) || val < 0 || val > 4096) {
                sl_free(s);
                diag_at(d, cfg, v);
                sl_diag_hint(d, "a whole number between 0 and 4096");
                return sl_diag_set(d, SL_ECONFIG, "'%s' must be a number", key);
            }
            sl_free(s);
            if (strcmp(key, "workers") == 0)
                cfg->workers = val;
            else
                cfg->queue_batches = val;
        } else if (strcmp(key, "profile_store") == 0) {
            if (!scalar(v)) {
                diag_at(d, cfg, v);
                sl_diag_hint(d, "write profile_store: sqlite:/var/lib/sluice/profiles.db");
                return sl_diag_set(d, SL_ECONFIG, "'profile_store' must be a URL");
            }
            sl_free(cfg->profile_store);
            cfg->profile_store = NULL;
            if ((rc = expand_env(cfg, v, scalar(v), &cfg->profile_store, d)))
                return rc;
            cfg->profile_store_line = (uint32_t)v->start_mark.line + 1;
            cfg->profile_store_col = (uint32_t)v->start_mark.column + 1;
        } else if (strcmp(key, "push_gateway") == 0) {
            if ((rc = parse_pushgw(cfg, k, v, d)))
                return rc;
        } else if (strcmp(key, "cluster") == 0) {
            if ((rc = sl_cfg_parse_cluster(cfg, k, v, d)))
                return rc;
        } else if (strcmp(key, "log_level") == 0) {
            if (!scalar(v) || sl_log_level_parse(scalar(v)) < 0) {
                diag_at(d, cfg, v);
                sl_diag_hint(d, "one of debug, info, warn, error, off");
                return sl_diag_set(d, SL_ECONFIG, "invalid log_level");
            }
            sl_free(cfg->log_level);
            cfg->log_level = xstr_scalar(v);
        } else {
            diag_at(d, cfg, k);
            sl_diag_hint(d, "top-level keys: sources, transforms, sinks, api, workers, "
                            "queue_batches, log_level, profile_store, push_gateway, cluster");
            return sl_diag_set(d, SL_ECONFIG, "unknown top-level key '%s'", key);
        }
        if (rc)
            return rc;
    }
    return sl_cfg_expand_repartition(cfg, d);
}

int sl_config_load_string(const char *text, size_t len, const char *name, struct sl_config **out,
                          struct sl_diag *d)
{
    struct sl_config *cfg = sl_xcalloc(1, sizeof(*cfg));
    cfg->path = sl_xstrdup(name ? name : "<config>");
    int rc = load_doc(cfg, text, len, d);
    if (!rc)
        rc = parse_top(cfg, d);
    if (rc) {
        sl_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int sl_config_load_file(const char *path, struct sl_config **out, struct sl_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(d->file, sizeof(d->file), "%s", path);
        sl_diag_hint(d, "pass the config with -c FILE");
        return sl_diag_set(d, SL_ECONFIG, "cannot open: %s", strerror(errno));
    }
    struct sl_buf b;
    sl_buf_init(&b, MAX_CONFIG_LEN);
    char tmp[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if ((rc = sl_buf_append(&b, tmp, n)) != 0)
            break;
    }
    fclose(f);
    if (rc) {
        sl_buf_fini(&b);
        snprintf(d->file, sizeof(d->file), "%s", path);
        return sl_diag_set(d, SL_ECONFIG, "config file too large (max 16 MiB)");
    }
    rc = sl_config_load_string(b.ptr ? b.ptr : "", b.len, path, out, d);
    sl_buf_fini(&b);
    return rc;
}

void sl_config_free(struct sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ncomps; i++) {
        struct sl_config_comp *cc = &cfg->comps[i];
        sl_free(cc->name);
        sl_free(cc->type);
        sl_free(cc->buffer.path);
        for (size_t j = 0; j < cc->ninputs; j++)
            sl_free(cc->inputs[j].name);
        sl_free(cc->inputs);
    }
    sl_free(cfg->comps);
    if (cfg->doc) {
        yaml_document_delete(cfg->doc);
        sl_free(cfg->doc);
    }
    sl_free(cfg->api_listen);
    sl_free(cfg->api.tokens);
    sl_free(cfg->api.tls_cert);
    sl_free(cfg->api.tls_key);
    sl_free(cfg->api.tls_ca);
    sl_free(cfg->profile_store);
    sl_free(cfg->log_level);
    sl_free(cfg->push_gateway.url);
    sl_free(cfg->push_gateway.job);
    sl_free(cfg->push_gateway.instance);
    sl_cfg_free_cluster(&cfg->cluster);
    sl_free(cfg->path);
    sl_free(cfg);
}

/* ---- options */

static const char *opt_type_name(enum sl_opt_type t)
{
    static const char *const n[] = {
        "string", "integer",        "boolean",         "number",         "duration",
        "size",   "one of choices", "list of strings", "map of strings", "YAML value"};
    return n[t];
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SL_EINVAL;
}

static int enum_index(const char *choices, const char *s)
{
    int idx = 0;
    size_t n = strlen(s);
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0)
            return idx;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

int sl_config_parse_option_text(const struct sl_option *o, const char *text, void *conf,
                                struct sl_diag *d)
{
    char *slot = (char *)conf + o->offset;
    switch (o->type) {
    case SL_OPT_STRING: {
        char **sp = (char **)slot;
        sl_free(*sp);
        *sp = sl_xstrdup(text);
        return 0;
    }
    case SL_OPT_INT: {
        int64_t v;
        if (sl_str_to_i64(sl_str_trim(sl_str_c(text)), &v)) {
            sl_diag_hint(d, "write a whole number, e.g. %s: 10", o->key);
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be an integer, got \"%s\"", o->key, text);
        }
        if (o->min < o->max && (v < o->min || v > o->max)) {
            sl_diag_hint(d, "allowed range is %lld..%lld", (long long)o->min, (long long)o->max);
            return sl_diag_set(d, SL_ECONFIG, "'%s' is out of range: %lld", o->key, (long long)v);
        }
        *(int64_t *)slot = v;
        return 0;
    }
    case SL_OPT_BOOL:
        if (parse_bool(text, (bool *)slot)) {
            sl_diag_hint(d, "write true or false");
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be a boolean, got \"%s\"", o->key, text);
        }
        return 0;
    case SL_OPT_DOUBLE:
        if (sl_str_to_double(sl_str_trim(sl_str_c(text)), (double *)slot)) {
            sl_diag_hint(d, "write a number, e.g. 0.5");
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be a number, got \"%s\"", o->key, text);
        }
        return 0;
    case SL_OPT_DURATION:
        if (sl_str_to_duration_ns(sl_str_c(text), (int64_t *)slot)) {
            sl_diag_hint(d, "write a duration such as 500ms, 10s, 5m, 1h, 1d");
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be a duration, got \"%s\"", o->key, text);
        }
        return 0;
    case SL_OPT_SIZE:
        if (sl_str_to_size(sl_str_c(text), (uint64_t *)slot)) {
            sl_diag_hint(d, "write a size such as 4096, 64KiB, 10MiB, 1GiB");
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be a size, got \"%s\"", o->key, text);
        }
        return 0;
    case SL_OPT_ENUM: {
        int idx = enum_index(o->choices, text);
        if (idx < 0) {
            sl_diag_hint(d, "one of: %s", o->choices);
            return sl_diag_set(d, SL_ECONFIG, "invalid value \"%s\" for '%s'", text, o->key);
        }
        *(int *)slot = idx;
        return 0;
    }
    case SL_OPT_STRING_LIST: {
        struct sl_strlist *l = (struct sl_strlist *)slot;
        l->items = sl_xrealloc(l->items, (l->count + 1) * sizeof(char *));
        l->items[l->count++] = sl_xstrdup(text);
        return 0;
    }
    case SL_OPT_STRING_MAP:
        sl_diag_hint(d, "write %s: {field: value}", o->key);
        return sl_diag_set(d, SL_ECONFIG, "'%s' must be a mapping", o->key);
    case SL_OPT_TREE:
        sl_diag_hint(d, "write %s as YAML", o->key);
        return sl_diag_set(d, SL_ECONFIG, "'%s' must be written in the config", o->key);
    }
    return SL_EINVAL;
}

/* Small edit distance for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c)
                c = prev[j] + 1;
            if (cur[j - 1] + 1 < c)
                c = cur[j - 1] + 1;
            cur[j] = c;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

static void hint_options(const struct sl_component_ops *ops, const char *key, struct sl_diag *d)
{
    const char *best = NULL;
    size_t bd = 99;
    for (const struct sl_option *o = ops->options; o && o->key; o++) {
        size_t dist = edit_distance(key, o->key);
        if (dist < bd) {
            bd = dist;
            best = o->key;
        }
    }
    if (best && bd <= 3) {
        sl_diag_hint(d, "did you mean '%s'?", best);
        return;
    }
    char list[200];
    size_t n = 0;
    list[0] = 0;
    for (const struct sl_option *o = ops->options; o && o->key && n < sizeof(list) - 40; o++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", o->key);
    sl_diag_hint(d, "'%s' knows: %s (see `sluice help %s`)", ops->type, n ? list : "no options",
                 ops->type);
}

/* A plain scalar JSON can keep as a literal: a JSON number, true, false, null. */
static bool json_literal(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    if (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null"))
        return true;
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

static void tree_line(struct sl_tree_opt *t, struct sl_buf *b, const yaml_node_t *n)
{
    sl_buf_putc(b, '\n');
    t->lines = sl_xrealloc(t->lines, (t->nlines + 1) * sizeof *t->lines);
    t->cols = sl_xrealloc(t->cols, (t->nlines + 1) * sizeof *t->cols);
    t->lines[t->nlines] = (uint32_t)n->start_mark.line + 1;
    /* a quoted scalar's text starts after its quote, as the JSON string's does */
    t->cols[t->nlines] = (uint32_t)n->start_mark.column + 1 +
                         (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                          n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    t->nlines++;
}

static int tree_json(const struct sl_config *cfg, struct sl_tree_opt *t, struct sl_buf *b,
                     const yaml_node_t *n, int depth, struct sl_diag *d)
{
    if (depth > 64) {
        diag_at(d, cfg, n);
        return sl_diag_set(d, SL_ECONFIG, "nested too deeply");
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        tree_line(t, b, n);
        const char *s = (const char *)n->data.scalar.value;
        if (json_literal(n))
            return sl_buf_puts(b, s);
        sl_buf_putc(b, '"');
        for (size_t i = 0; i < n->data.scalar.length; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '"' || c == '\\')
                sl_buf_appendf(b, "\\%c", c);
            else if (c < 0x20)
                sl_buf_appendf(b, "\\u%04x", c);
            else
                sl_buf_putc(b, (char)c);
        }
        return sl_buf_putc(b, '"');
    }
    case YAML_SEQUENCE_NODE:
        sl_buf_putc(b, '[');
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            if (it > n->data.sequence.items.start)
                sl_buf_putc(b, ',');
            int rc = tree_json(cfg, t, b, node(cfg, *it), depth + 1, d);
            if (rc)
                return rc;
        }
        return sl_buf_putc(b, ']');
    case YAML_MAPPING_NODE:
        sl_buf_putc(b, '{');
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *k = node(cfg, p->key);
            if (!scalar(k)) {
                diag_at(d, cfg, k);
                return sl_diag_set(d, SL_ECONFIG, "mapping keys must be plain strings");
            }
            if (p > n->data.mapping.pairs.start)
                sl_buf_putc(b, ',');
            /* keys are always strings */
            yaml_node_t kq = *k;
            kq.data.scalar.style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            int rc = tree_json(cfg, t, b, &kq, depth + 1, d);
            if (!rc) {
                sl_buf_putc(b, ':');
                rc = tree_json(cfg, t, b, node(cfg, p->value), depth + 1, d);
            }
            if (rc)
                return rc;
        }
        return sl_buf_putc(b, '}');
    default:
        diag_at(d, cfg, n);
        return sl_diag_set(d, SL_ECONFIG, "empty value");
    }
}

void sl_tree_opt_pos(const struct sl_tree_opt *t, uint32_t *line, uint32_t *col)
{
    /* JSON line 1 is the opening bracket before the first scalar's line */
    if (!t || !t->nlines || *line < 2) {
        if (t && t->nlines) {
            *line = t->lines[0];
            *col = t->cols[0];
        }
        return;
    }
    uint32_t i = *line - 2 < t->nlines ? *line - 2 : t->nlines - 1;
    uint32_t c = *col > 1 ? *col - 2 : 0; /* column 1 is the JSON quote */
    *line = t->lines[i];
    *col = t->cols[i] + c;
}

static int apply_one(const struct sl_config *cfg, const struct sl_option *o, yaml_node_t *v,
                     void *conf, struct sl_diag *d)
{
    char *text = NULL;
    int rc = 0;
    if (o->type == SL_OPT_TREE) {
        struct sl_tree_opt *t = (struct sl_tree_opt *)((char *)conf + o->offset);
        struct sl_buf b;
        sl_buf_init(&b, (size_t)16 << 20);
        rc = tree_json(cfg, t, &b, v, 0, d);
        if (!rc && b.len >= ((size_t)16 << 20) - 1)
            rc = sl_diag_set(d, SL_ECONFIG, "'%s' is larger than 16 MiB", o->key);
        if (rc) {
            sl_buf_fini(&b);
            return rc;
        }
        t->json = sl_buf_steal(&b, &t->len);
        return 0;
    }
    if (o->type == SL_OPT_STRING_LIST && v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = node(cfg, *it);
            if (!scalar(e)) {
                diag_at(d, cfg, e);
                sl_diag_hint(d, "write %s: [a, b]", o->key);
                return sl_diag_set(d, SL_ECONFIG, "'%s' must be a list of strings", o->key);
            }
            if ((rc = expand_env(cfg, e, scalar(e), &text, d)) != 0)
                return rc;
            rc = sl_config_parse_option_text(o, text, conf, d);
            sl_free(text);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (o->type == SL_OPT_STRING_MAP) {
        if (v->type != YAML_MAPPING_NODE) {
            diag_at(d, cfg, v);
            sl_diag_hint(d, "write %s: {field: value}", o->key);
            return sl_diag_set(d, SL_ECONFIG, "'%s' must be a mapping", o->key);
        }
        struct sl_strmap *m = (struct sl_strmap *)((char *)conf + o->offset);
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = node(cfg, p->key), *e = node(cfg, p->value);
            if (!scalar(k) || !scalar(e)) {
                diag_at(d, cfg, scalar(k) ? e : k);
                sl_diag_hint(d, "keys and values of '%s' are plain strings", o->key);
                return sl_diag_set(d, SL_ECONFIG, "'%s' must map strings to strings", o->key);
            }
            if ((rc = expand_env(cfg, e, scalar(e), &text, d)) != 0)
                return rc;
            m->items = sl_xrealloc(m->items, (m->count + 1) * sizeof(*m->items));
            m->items[m->count++] = (struct sl_strmap_item){sl_xstrdup(scalar(k)), text,
                                                           (uint32_t)e->start_mark.line + 1,
                                                           (uint32_t)e->start_mark.column + 1};
        }
        return 0;
    }
    if (!scalar(v)) {
        diag_at(d, cfg, v);
        sl_diag_hint(d, "'%s' takes a %s", o->key, opt_type_name(o->type));
        return sl_diag_set(d, SL_ECONFIG, "wrong type for '%s': expected %s", o->key,
                           opt_type_name(o->type));
    }
    if ((rc = expand_env(cfg, v, scalar(v), &text, d)) != 0)
        return rc;
    rc = sl_config_parse_option_text(o, text, conf, d);
    sl_free(text);
    if (rc)
        diag_at(d, cfg, v);
    return rc;
}

int sl_config_apply_options(const struct sl_config *cfg, size_t i, struct sl_component *c,
                            struct sl_diag *d)
{
    const struct sl_config_comp *cc = &cfg->comps[i];
    const struct sl_component_ops *ops = c->ops;
    size_t nopts = 0;
    for (const struct sl_option *o = ops->options; o && o->key; o++)
        nopts++;
    c->conf = sl_xcalloc(1, ops->conf_len ? ops->conf_len : 1);
    c->opt_pos = sl_xcalloc(nopts ? nopts : 1, sizeof(*c->opt_pos));
    /* defaults */
    for (size_t k = 0; k < nopts; k++) {
        const struct sl_option *o = &ops->options[k];
        if (o->def && o->type != SL_OPT_STRING_MAP && o->type != SL_OPT_TREE) {
            int rc = sl_config_parse_option_text(o, o->def, c->conf, d);
            sl_assert(rc == 0); /* a bad default is a bug in the plugin */
        }
    }
    yaml_node_t *m = node(cfg, cc->node);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(cfg, p->key), *v = node(cfg, p->value);
        const char *key = scalar(k);
        if (!key || strcmp(key, "type") == 0 || strcmp(key, "inputs") == 0 ||
            (cc->kind == SL_KIND_SINK && strcmp(key, "buffer") == 0))
            continue;
        size_t idx = 0;
        for (; idx < nopts; idx++)
            if (strcmp(ops->options[idx].key, key) == 0)
                break;
        if (idx == nopts) {
            diag_at(d, cfg, k);
            hint_options(ops, key, d);
            return sl_diag_set(d, SL_ECONFIG, "unknown option '%s' for %s '%s'", key, ops->type,
                               cc->name);
        }
        const struct sl_option *o = &ops->options[idx];
        /* a value from the config replaces the default (lists are not appended to it) */
        if (o->type == SL_OPT_STRING_LIST) {
            struct sl_strlist *l = (struct sl_strlist *)((char *)c->conf + o->offset);
            for (size_t j = 0; j < l->count; j++)
                sl_free(l->items[j]);
            l->count = 0;
        }
        int rc = apply_one(cfg, o, v, c->conf, d);
        if (rc)
            return rc;
        c->opt_pos[idx] = (struct sl_opt_pos){(uint32_t)v->start_mark.line + 1,
                                              (uint32_t)v->start_mark.column + 1, true};
    }
    for (size_t k = 0; k < nopts && cfg->cluster.brokers; k++) {
        const struct sl_option *o = &ops->options[k];
        if (!(o->flags & SL_OPT_FROM_CLUSTER) || c->opt_pos[k].set)
            continue;
        /* on the heap: a 512-byte buffer cut long broker lists, and long groups before the
         * ".<name>" that tells the sources' groups apart */
        char *text;
        if (strcmp(o->key, "group") == 0) {
            size_t n = strlen(cfg->cluster.group) + strlen(cc->name) + 2;
            text = sl_xmalloc(n);
            snprintf(text, n, "%s.%s", cfg->cluster.group, cc->name);
        } else if (strcmp(o->key, "brokers") == 0) {
            text = sl_xstrdup(cfg->cluster.brokers);
        } else {
            continue;
        }
        int rc = sl_config_parse_option_text(o, text, c->conf, d);
        sl_free(text);
        if (rc)
            return rc;
        c->opt_pos[k] = (struct sl_opt_pos){cfg->cluster.line, cfg->cluster.col, true};
    }
    for (size_t k = 0; k < nopts; k++) {
        const struct sl_option *o = &ops->options[k];
        if ((o->flags & SL_OPT_REQUIRED) && !c->opt_pos[k].set) {
            snprintf(d->file, sizeof(d->file), "%s", cfg->path);
            d->line = cc->line;
            d->col = cc->col;
            sl_diag_hint(d, "add %s: <%s> — %s", o->key, opt_type_name(o->type),
                         o->help ? o->help : "");
            return sl_diag_set(d, SL_ECONFIG, "%s '%s' needs option '%s'", ops->type, cc->name,
                               o->key);
        }
    }
    return 0;
}

void sl_config_free_options(const struct sl_component_ops *ops, void *conf)
{
    if (!conf)
        return;
    for (const struct sl_option *o = ops->options; o && o->key; o++) {
        char *slot = (char *)conf + o->offset;
        if (o->type == SL_OPT_STRING) {
            sl_free(*(char **)slot);
        } else if (o->type == SL_OPT_STRING_LIST) {
            struct sl_strlist *l = (struct sl_strlist *)slot;
            for (size_t i = 0; i < l->count; i++)
                sl_free(l->items[i]);
            sl_free(l->items);
        } else if (o->type == SL_OPT_TREE) {
            struct sl_tree_opt *t = (struct sl_tree_opt *)slot;
            sl_free(t->json);
            sl_free(t->lines);
            sl_free(t->cols);
        } else if (o->type == SL_OPT_STRING_MAP) {
            struct sl_strmap *m = (struct sl_strmap *)slot;
            for (size_t i = 0; i < m->count; i++) {
                sl_free(m->items[i].key);
                sl_free(m->items[i].val);
            }
            sl_free(m->items);
        }
    }
    sl_free(conf);
}
