/*
 * fuzz_configobj.c — libFuzzer target for the ConfigObj INI parser (codec/configobj.h).
 *
 * A file that fails must name a line and column inside the input with a message; a file that
 * parses must give a consistent tree: positions inside the input, each section one level below
 * its parent, children counted right, no name twice in a section, and a dump that succeeds;
 * then %(name)s interpolation, whose errors must also name a place in the input.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "codec/configobj.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lines_in(const char *p, size_t n)
{
    uint32_t lines = 1;
    for (size_t k = 0; k < n; k++)
        if (p[k] == '\n' || (p[k] == '\r' && (k + 1 >= n || p[k + 1] != '\n')))
            lines++;
    return lines;
}

static void check(const struct sl_cobj *sec, uint32_t nlines)
{
    size_t count = 0;
    for (const struct sl_cobj *k = sec->first; k; k = k->next) {
        count++;
        if (k->parent != sec || k->line < 1 || k->line > nlines || k->col < 1)
            abort();
        for (const struct sl_cobj *o = k->next; o; o = o->next)
            if (strcmp(o->name, k->name) == 0)
                abort();
        if (k->type == SL_COBJ_SECTION) {
            if (k->depth != sec->depth + 1)
                abort();
            check(k, nlines);
        } else if (k->vline < k->line || k->vline > nlines) {
            abort();
        } else if (k->type == SL_COBJ_STRING && !k->value) {
            abort();
        }
    }
    if (count != sec->nchildren)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a heap copy of its own so ASan sees a read past the end */
    char *copy = sl_malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    uint32_t nlines = lines_in(copy, size);
    struct sl_configobj *c = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_configobj_parse(copy, size, "fuzz.conf", &c, &d);
    if (rc) {
        if (c || !d.msg[0] || d.line < 1 || d.line > nlines || d.col < 1)
            abort();
    } else {
        /* %(name)s interpolation: an error names a line of the input; else the same checks */
        struct sl_diag di;
        sl_diag_init(&di);
        if (sl_configobj_interpolate(c, &di) &&
            (!di.msg[0] || di.line < 1 || di.line > nlines || di.col < 1))
            abort();
        const struct sl_cobj *root = sl_configobj_root(c);
        if (root->depth != 0 || root->type != SL_COBJ_SECTION)
            abort();
        check(root, nlines);
        struct sl_buf b;
        sl_buf_init(&b, 0);
        if (sl_configobj_dump(root, &b))
            abort();
        sl_buf_fini(&b);
        sl_configobj_free(c);
    }
    sl_free(copy);
    return 0;
}
