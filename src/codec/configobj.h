/*
 * configobj.h — the INI dialect of Python's ConfigObj, which dataShark's `.conf` files use.
 *
 *   name = Word Count                 # key = value; a comment runs from '#' to the line end
 *   list = a, b, "c, d"               # a comma makes a list (quote items that hold commas)
 *   empty_list = ,
 *   text = '''several                 # triple quotes span lines
 *   lines'''
 *   [section]                         # depth 1
 *       [[sub]]                       # depth 2, inside the last depth-1 section
 *           key = value
 *
 * The rules are ConfigObj 5's (its _keyword, _sectionmarker, _valueexp and _multiline
 * expressions and its _parse loop), re-done by hand without a regex engine:
 *   - keys and values: the key ends at the first '='; quoted keys and values lose their quotes;
 *     quotes are not escaped (no backslash escapes: `"a \"b\" c"` is the text between the first
 *     and the last quote, as ConfigObj's backtracking regex takes it);
 *   - an unquoted value ends at '#', and a ',' outside quotes makes it a list (`a,` is a
 *     one-item list, `,` an empty one); `key =` is the empty string;
 *   - `[name]`, `[[name]]`...: the number of '[' is the depth and must equal the number of ']';
 *     a section may be one deeper than the current one, or at any shallower depth (it then
 *     closes the deeper ones); indentation means nothing;
 *   - keys and sections share one namespace per section: a repeated name is an error;
 *   - lines end at LF, CRLF or CR; a UTF-8 byte-order mark is skipped; a line whose first
 *     non-blank character is '#' is a comment.
 *   - the regex quirks too (checked against ConfigObj 5 on thousands of mutated files): a blank
 *     after a comma may start an unquoted item (`x, "y, z` is ['x', '"y', 'z']), a key that
 *     cannot start where the indentation ends takes one blank of it (`  """k = v`: ' """k');
 * `%(name)s` interpolation is a separate pass (sl_configobj_interpolate). Not done: the
 * `template` interpolation engine, configspecs and validation (values stay text).
 * Differences: a duplicate key whose value spans lines is reported at the key (ConfigObj names
 * the value's last line); a list value has at most 4096 items.
 *
 * Errors use ConfigObj's own wording, with file:line:col of what is wrong, in a struct sl_diag.
 * A parsed tree is immutable and owned by its struct sl_configobj; any thread may read it.
 */
#ifndef SL_CODEC_CONFIGOBJ_H
#define SL_CODEC_CONFIGOBJ_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

enum sl_cobj_type {
    SL_COBJ_STRING,  /* key = value */
    SL_COBJ_LIST,    /* key = a, b */
    SL_COBJ_SECTION, /* [name] and the root */
};

/* One node of the tree. Read-only for callers; strings are NUL-terminated. */
struct sl_cobj {
    enum sl_cobj_type type;
    const char *name;     /* key or section name, unquoted; "" for the root */
    uint32_t line, col;   /* 1-based position of the name (the root: 1:1) */
    uint32_t vline, vcol; /* position of the value's first character (STRING, LIST) */
    int depth;            /* SECTION: 0 for the root, 1 for [a], 2 for [[b]] ... */
    const char *value;    /* STRING */
    const char **items;   /* LIST: nitems strings, unquoted */
    uint32_t *item_cols;  /* LIST: column of each item (on line vline) */
    size_t nitems;
    const struct sl_cobj *parent;       /* NULL for the root */
    const struct sl_cobj *first, *next; /* SECTION: children in file order; siblings */
    size_t nchildren;
};

struct sl_configobj;

/* Parse text (len bytes; NUL bytes are refused) as ConfigObj would. `file` names it in
 * diagnostics. On success *out owns the tree (free with sl_configobj_free). On error: SL_EPARSE
 * with file:line:col and ConfigObj's message in d, SL_E2BIG past 16 MiB of input or 64 levels
 * of sections, SL_ENOMEM. */
int sl_configobj_parse(const char *text, size_t len, const char *file, struct sl_configobj **out,
                       struct sl_diag *d);
void sl_configobj_free(struct sl_configobj *c);
/* ConfigObj's default `%(name)s` interpolation (its ConfigParser engine), done on every value
 * of the tree at once where ConfigObj does it when a value is read: `name` is looked up in the
 * value's section, then its [DEFAULT] subsection, then in the parent sections up to the root;
 * the value found is interpolated in turn. Errors at the value: SL_ECONFIG for a missing name
 * ("missing option "x" in interpolation"), a loop, a list named, more than 64 levels or a
 * result past 1 MiB. Main thread, before the tree is shared. */
int sl_configobj_interpolate(struct sl_configobj *c, struct sl_diag *d);
/* The root section (depth 0). */
const struct sl_cobj *sl_configobj_root(const struct sl_configobj *c);
/* The file name given to sl_configobj_parse. */
const char *sl_configobj_file(const struct sl_configobj *c);
/* The child of section sec called name, NULL if none (or sec is not a section). */
const struct sl_cobj *sl_cobj_get(const struct sl_cobj *sec, const char *name);
/* A child's string value, NULL when absent or not a string. */
const char *sl_cobj_get_str(const struct sl_cobj *sec, const char *name);
/* The tree as indented text, one node per line (tests, `sluice usecase check`):
 *   key = "value"   list = ["a", "b"]   [section] (depth shown by brackets). */
int sl_configobj_dump(const struct sl_cobj *node, struct sl_buf *out);

#endif
