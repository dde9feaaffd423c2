/*
 * registry.c — the component type registry and `sluice help` text.
 *
 * core/ cannot see io/ (layering), so the app installs the list of built-in types at
 * start-up with sl_registry_set().
 */
#include "core/component.h"

#include "base/buf.h"

#include <string.h>

static const struct sl_component_ops *const empty[] = {NULL};
static const struct sl_component_ops *const *types = empty;

void sl_registry_set(const struct sl_component_ops *const *list)
{
    types = list ? list : empty;
}

const struct sl_component_ops *const *sl_registry_all(void)
{
    return types;
}

const struct sl_component_ops *sl_registry_find(const char *type, enum sl_kind kind)
{
    for (const struct sl_component_ops *const *t = types; *t; t++)
        if ((*t)->kind == kind && strcmp((*t)->type, type) == 0)
            return *t;
    return NULL;
}

const struct sl_component_ops *sl_registry_find_any(const char *type)
{
    for (const struct sl_component_ops *const *t = types; *t; t++)
        if (strcmp((*t)->type, type) == 0)
            return *t;
    return NULL;
}

const char *sl_kind_name(enum sl_kind k)
{
    switch (k) {
    case SL_KIND_SOURCE:
        return "source";
    case SL_KIND_TRANSFORM:
        return "transform";
    case SL_KIND_SINK:
        return "sink";
    }
    return "?";
}

static const char *type_label(const struct sl_option *o)
{
    switch (o->type) {
    case SL_OPT_STRING:
        return "string";
    case SL_OPT_INT:
        return "int";
    case SL_OPT_BOOL:
        return "bool";
    case SL_OPT_DOUBLE:
        return "number";
    case SL_OPT_DURATION:
        return "duration";
    case SL_OPT_SIZE:
        return "size";
    case SL_OPT_ENUM:
        return o->choices;
    case SL_OPT_STRING_LIST:
        return "[string]";
    case SL_OPT_STRING_MAP:
        return "{string: string}";
    case SL_OPT_TREE:
        return "any YAML";
    }
    return "?";
}

void sl_registry_help(const struct sl_component_ops *ops, struct sl_buf *out)
{
    sl_buf_appendf(out, "%s (%s): %s\n\n", ops->type, sl_kind_name(ops->kind),
                   ops->summary ? ops->summary : "");
    if (ops->kind != SL_KIND_SOURCE && !ops->no_inputs)
        sl_buf_appendf(out, "  %-18s %-18s %s\n", "inputs", "[string]",
                       "components to read from (name or name.errors); required");
    for (const struct sl_option *o = ops->options; o && o->key; o++) {
        sl_buf_appendf(out, "  %-18s %-18s %s", o->key, type_label(o), o->help ? o->help : "");
        if (o->flags & SL_OPT_REQUIRED)
            sl_buf_puts(out, "; required");
        else if (o->def)
            sl_buf_appendf(out, "; default: %s", o->def[0] ? o->def : "\"\"");
        if (o->type == SL_OPT_INT && o->min < o->max)
            sl_buf_appendf(out, " (%lld..%lld)", (long long)o->min, (long long)o->max);
        sl_buf_putc(out, '\n');
    }
    sl_buf_appendf(out, "\n  every component also has an error output '<name>.errors'\n");
}
