/*
 * configobj.c — ConfigObj's INI dialect (see configobj.h for the rules).
 *
 * DESIGN: the input is split into lines once (LF, CRLF, CR), then ConfigObj's _parse loop runs
 * over them: blank/comment, else section marker, else keyword, else an invalid line. Each of
 * ConfigObj's regular expressions is matched by a small hand-written function that takes the
 * same choices the backtracking regex would (greedy '[' run, lazy names, the first closing
 * quote after which the rest of the line fits), so unusual but valid lines read the same as in
 * Python. Every node and string lives in one arena owned by the tree: freeing is one call.
 */
#include "codec/configobj.h"

#include "base/alloc.h"
#include "base/arena.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_INPUT_LEN (16u << 20)
#define MAX_DEPTH     64

struct sl_configobj {
    struct sl_arena arena;
    char *file;
    struct sl_cobj root;
};

/* A section being filled: where the next child goes. */
struct cobj_mut {
    struct sl_cobj *node;
    struct sl_cobj *last;
};

struct line {
    const char *p;
    size_t len;
};

struct parser {
    struct sl_configobj *c;
    const char *file;
    struct line *lines;
    size_t nlines;
    struct sl_diag *d;
    /* the open section at each depth: stack[0] is the root */
    struct cobj_mut stack[MAX_DEPTH + 1];
    int depth;
};

/* Python 2's \s for byte strings. */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

/* `\s*(\#.*)?$` matches s[i..n). */
static bool rest_is_comment(const char *s, size_t i, size_t n)
{
    i = skip_ws(s, i, n);
    return i == n || s[i] == '#';
}

static int err_at(struct parser *ps, size_t line, size_t col, int err, const char *msg)
{
    struct sl_diag *d = ps->d;
    if (d) {
        size_t k = strlen(ps->file);
        if (k >= sizeof(d->file))
            k = sizeof(d->file) - 1;
        memcpy(d->file, ps->file, k);
        d->file[k] = '\0';
        d->line = (uint32_t)(line + 1);
        d->col = (uint32_t)(col + 1);
    }
    return sl_diag_set(d, err, "%s", msg);
}

/* ConfigObj's _unquote: drop one pair of matching outer quotes. */
static char *unquote_dup(struct parser *ps, const char *s, size_t n)
{
    if (n >= 2 && s[0] == s[n - 1] && (s[0] == '"' || s[0] == '\''))
        return sl_arena_strndup(&ps->c->arena, s + 1, n - 2);
    if (n == 1 && (s[0] == '"' || s[0] == '\''))
        return sl_arena_strndup(&ps->c->arena, s, 0); /* Python: value[0] == value[-1] */
    return sl_arena_strndup(&ps->c->arena, s, n);
}

static const struct sl_cobj *find_child(const struct sl_cobj *sec, const char *name)
{
    for (const struct sl_cobj *k = sec->first; k; k = k->next)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static struct sl_cobj *new_node(struct parser *ps, struct cobj_mut *parent)
{
    struct sl_cobj *n = sl_arena_alloc(&ps->c->arena, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->parent = parent->node;
    if (parent->last)
        parent->last->next = n;
    else
        parent->node->first = n;
    parent->last = n;
    parent->node->nchildren++;
    return n;
}

/* ---- section markers: ^(\s*)((?:\[\s*)+)(NAME)((?:\s*\])+)\s*(\#.*)?$ ---- */

/* Where the close part `((?:\s*\])+)\s*(\#.*)?$` ends up from e: the number of ']' (0 when it
 * does not match). */
static int close_count(const char *s, size_t e, size_t n)
{
    int count = 0;
    size_t i = e;
    for (;;) {
        size_t j = skip_ws(s, i, n);
        if (j < n && s[j] == ']') {
            count++;
            i = j + 1;
        } else {
            break;
        }
    }
    if (count == 0 || !rest_is_comment(s, i, n))
        return 0;
    return count;
}

/* Try the name alternatives at p: the end of the name and the close count, false if none. */
static bool match_name(const char *s, size_t p, size_t n, size_t *name_end, int *closes)
{
    if (p >= n)
        return false;
    char q = s[p];
    if (q == '"' || q == '\'') {
        /* q\s*\S.*?\s*q: at least one non-blank character between the quotes */
        size_t i = skip_ws(s, p + 1, n);
        if (i >= n)
            return false;
        for (size_t c = i + 1; c < n; c++) {
            if (s[c] != q)
                continue;
            int k = close_count(s, c + 1, n);
            if (k) {
                *name_end = c + 1;
                *closes = k;
                return true;
            }
        }
        return false;
    }
    if (is_ws(q))
        return false;
    for (size_t e = p + 1; e <= n; e++) {
        int k = close_count(s, e, n);
        if (k) {
            *name_end = e;
            *closes = k;
            return true;
        }
    }
    return false;
}

struct section_match {
    int opens, closes;
    size_t name_start, name_end;
};

static bool match_section(const char *s, size_t n, struct section_match *m)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '[')
        return false;
    /* the greedy run of '[' (each with the blanks after it); backtrack to fewer */
    size_t ends[MAX_DEPTH * 4];
    int nopen = 0;
    while (i < n && s[i] == '[' && nopen < (int)(sizeof(ends) / sizeof(ends[0]))) {
        i = skip_ws(s, i + 1, n);
        ends[nopen++] = i;
    }
    for (int k = nopen; k >= 1; k--) {
        size_t p = ends[k - 1];
        size_t e;
        int closes;
        if (match_name(s, p, n, &e, &closes)) {
            m->opens = k;
            m->closes = closes;
            m->name_start = p;
            m->name_end = e;
            return true;
        }
    }
    return false;
}

/* ---- keywords: ^(\s*)((?:".*?")|(?:'.*?')|(?:[^'"=].*?))\s*=\s*(.*)$ ---- */

struct keyword_match {
    size_t key_start, key_end, value_start;
};

static bool match_keyword(const char *s, size_t n, struct keyword_match *m)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n)
        return false;
    char q = s[i];
    if (q == '"' || q == '\'') {
        for (size_t c = i + 1; c < n; c++) {
            if (s[c] != q)
                continue;
            size_t j = skip_ws(s, c + 1, n);
            if (j < n && s[j] == '=') {
                m->key_start = i;
                m->key_end = c + 1;
                m->value_start = skip_ws(s, j + 1, n);
                return true;
            }
        }
    }
    if (q == '"' || q == '\'' || q == '=') {
        /* the regex gives back one blank of the indentation: the key is that blank and what
         * follows up to the '=' (ConfigObj reads `  """x = 1` as the key ' """x') */
        if (i == 0)
            return false;
        i--;
    }
    const char *eq = memchr(s + i + 1, '=', n - i - 1);
    if (!eq)
        return false;
    size_t e = (size_t)(eq - s);
    size_t ke = e;
    while (ke > i + 1 && is_ws(s[ke - 1]))
        ke--;
    m->key_start = i;
    m->key_end = ke;
    m->value_start = skip_ws(s, e + 1, n);
    return true;
}

/* ---- values: ConfigObj's _valueexp / _listvalueexp ----
 *
 * _valueexp is  ^(?:((?:ITEM\s*,\s*)*)(SINGLE)?|(,))\s*(\#.*)?$  with
 *   ITEM   = ".*?" | '.*?' | [^'",\#][^,\#]*?
 *   SINGLE = ".*?" | '.*?' | [^'",\#\s][^,]*? | (?<!,)<empty>
 * matched here by a backtracking search in the regex engine's order (greedy star, lazy items,
 * the whitespace after a comma given back one character at a time, since an unquoted item may
 * start with a blank), with failed positions remembered so a hostile line costs O(n^2), not
 * an exponential. The list part is then cut into items again by _listvalueexp's findall, as
 * ConfigObj does: `x, "y, z` is the list ['x', '"y', 'z']. */

#define MAX_LIST_ITEMS 65536
#define MAX_LIST_DEPTH 4096 /* list items before a single value: recursion depth */

struct item {
    size_t start, len;
};

struct vmatch {
    const char *s;
    size_t n;
    uint8_t *failed; /* star() failed from this position */
    size_t list_end; /* group 1 is s[0..list_end) */
    unsigned depth;  /* star() recursion: one level per list item */
    bool too_deep;
    bool have_single;
    size_t single_start, single_len;
};

static bool single_then_tail(struct vmatch *m, size_t p)
{
    const char *s = m->s;
    size_t n = m->n;
    if (p < n && (s[p] == '"' || s[p] == '\'')) {
        for (size_t c = p + 1; c < n; c++)
            if (s[c] == s[p] && rest_is_comment(s, c + 1, n)) {
                m->have_single = true;
                m->single_start = p;
                m->single_len = c + 1 - p;
                return true;
            }
    } else if (p < n && s[p] != ',' && s[p] != '#' && !is_ws(s[p])) {
        for (size_t e = p + 1; e <= n; e++) {
            if (e - 1 > p && s[e - 1] == ',')
                break;
            if (rest_is_comment(s, e, n)) {
                m->have_single = true;
                m->single_start = p;
                m->single_len = e - p;
                return true;
            }
        }
    }
    if ((p == 0 || s[p - 1] != ',') && rest_is_comment(s, p, n)) { /* (?<!,) empty */
        m->have_single = true;
        m->single_start = p;
        m->single_len = 0;
        return true;
    }
    if (rest_is_comment(s, p, n)) { /* no single */
        m->have_single = false;
        return true;
    }
    return false;
}

static bool star(struct vmatch *m, size_t pos);
static bool star_at(struct vmatch *m, size_t pos);

/* After an item ending at e: \s*,\s* then more items (the blanks after the comma greedy). */
static bool after_item(struct vmatch *m, size_t e)
{
    size_t j = skip_ws(m->s, e, m->n);
    if (j >= m->n || m->s[j] != ',')
        return false;
    size_t k = skip_ws(m->s, j + 1, m->n);
    for (size_t w = k;; w--) {
        if (star(m, w))
            return true;
        if (w == j + 1)
            break;
    }
    return false;
}

static bool star(struct vmatch *m, size_t pos)
{
    if (m->failed[pos] || m->too_deep)
        return false;
    if (m->depth >= MAX_LIST_DEPTH) {
        m->too_deep = true;
        return false;
    }
    m->depth++;
    bool ok = star_at(m, pos);
    m->depth--;
    return ok;
}

static bool star_at(struct vmatch *m, size_t pos)
{
    const char *s = m->s;
    size_t n = m->n;
    if (pos < n && (s[pos] == '"' || s[pos] == '\'')) {
        for (size_t c = pos + 1; c < n; c++)
            if (s[c] == s[pos] && after_item(m, c + 1))
                return true;
    } else if (pos < n && s[pos] != ',' && s[pos] != '#') {
        for (size_t e = pos + 1; e <= n; e++) {
            if (e - 1 > pos && (s[e - 1] == ',' || s[e - 1] == '#'))
                break;
            if (after_item(m, e))
                return true;
        }
    }
    m->list_end = pos; /* no more items */
    if (single_then_tail(m, pos))
        return true;
    m->failed[pos] = 1;
    return false;
}

/* _listvalueexp's findall over s[0..len): the next item at or after *i, false at the end. */
static bool next_item(const char *s, size_t len, size_t *i, struct item *it)
{
    for (; *i < len; (*i)++) {
        size_t p = *i;
        char q = s[p];
        if (q == '"' || q == '\'') {
            for (size_t c = p + 1; c < len; c++) {
                if (s[c] != q)
                    continue;
                size_t j = skip_ws(s, c + 1, len);
                if (j < len && s[j] == ',') {
                    *it = (struct item){p, c + 1 - p};
                    *i = skip_ws(s, j + 1, len);
                    return true;
                }
            }
        }
        /* [^'",\#]?.*? then \s*,\s* : the optional character taken first, then not */
        for (int opt = 1; opt >= 0; opt--) {
            if (opt && (q == '\'' || q == '"' || q == ',' || q == '#'))
                continue;
            size_t q0 = p + (size_t)opt;
            const char *comma = q0 <= len ? memchr(s + q0, ',', len - q0) : NULL;
            if (!comma)
                continue;
            size_t c = (size_t)(comma - s), e = c;
            while (e > q0 && is_ws(s[e - 1]))
                e--;
            *it = (struct item){p, e - p};
            *i = skip_ws(s, c + 1, len);
            return true;
        }
    }
    return false;
}

/* Parse the value s[v..n) of line `ln` into node (ConfigObj's _handle_value). */
static int parse_value(struct parser *ps, size_t ln, const char *s, size_t v, size_t n,
                       struct sl_cobj *node)
{
    struct vmatch m = {.s = s + v, .n = n - v};
    m.failed = sl_calloc(m.n + 1, 1);
    if (!m.failed)
        return SL_ENOMEM;
    bool empty_list = false;
    int rc = 0;
    if (!star(&m, 0)) {
        if (m.too_deep) {
            rc = err_at(ps, ln, v, SL_E2BIG,
                        "Parse error in value (a list of more than 4096 items)");
            goto out;
        }
        if (m.n && m.s[0] == ',' && rest_is_comment(m.s, 1, m.n)) { /* (,) */
            empty_list = true;
            m.list_end = 0;
            m.have_single = false;
        } else {
            rc = err_at(ps, ln, v, SL_EPARSE, "Parse error in value");
            goto out;
        }
    }
    node->vline = (uint32_t)(ln + 1);
    node->vcol = (uint32_t)(v + 1);
    if (!empty_list && m.list_end == 0) { /* a string */
        node->type = SL_COBJ_STRING;
        if (!m.have_single) {
            rc = err_at(ps, ln, v, SL_EPARSE, "Parse error in value");
            goto out;
        }
        node->value = m.single_len ? unquote_dup(ps, m.s + m.single_start, m.single_len)
                                   : sl_arena_strndup(&ps->c->arena, "", 0);
        rc = node->value ? 0 : SL_ENOMEM;
        goto out;
    }
    node->type = SL_COBJ_LIST;
    if (m.have_single && m.single_len == 0) /* `a, ` ends with an empty match: no item */
        m.have_single = false;
    /* count, then fill */
    size_t count = 0;
    struct item it;
    for (size_t i = 0; next_item(m.s, m.list_end, &i, &it);)
        if (++count > MAX_LIST_ITEMS) {
            rc = err_at(ps, ln, v, SL_E2BIG, "Parse error in value (more than 65536 items)");
            goto out;
        }
    size_t total = count + (m.have_single ? 1 : 0);
    node->items = sl_arena_alloc(&ps->c->arena, (total ? total : 1) * sizeof(char *));
    node->item_cols = sl_arena_alloc(&ps->c->arena, (total ? total : 1) * sizeof(uint32_t));
    if (!node->items || !node->item_cols) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; k < count && next_item(m.s, m.list_end, &i, &it); k++) {
        if (!it.len) { /* ConfigObj's _unquote refuses an empty item */
            rc = err_at(ps, ln, v + it.start, SL_EPARSE, "Parse error in value");
            goto out;
        }
        node->items[k] = unquote_dup(ps, m.s + it.start, it.len);
        node->item_cols[k] = (uint32_t)(v + it.start + 1);
        if (!node->items[k]) {
            rc = SL_ENOMEM;
            goto out;
        }
    }
    if (m.have_single) {
        node->items[k] = unquote_dup(ps, m.s + m.single_start, m.single_len);
        node->item_cols[k] = (uint32_t)(v + m.single_start + 1);
        if (!node->items[k++]) {
            rc = SL_ENOMEM;
            goto out;
        }
    }
    node->nitems = k;
out:
    sl_free(m.failed);
    return rc;
}

/* A value starting with ''' or """ (ConfigObj's _multiline). *li is advanced to the line that
 * closes it. */
static int parse_multiline(struct parser *ps, size_t *li, size_t v, struct sl_cobj *node)
{
    const struct line *L = &ps->lines[*li];
    const char *s = L->p;
    size_t n = L->len;
    char q = s[v];
    size_t ln = *li;
    node->type = SL_COBJ_STRING;
    node->vline = (uint32_t)(ln + 1);
    node->vcol = (uint32_t)(v + 1);
    /* ^'''(.*?)'''\s*(#.*)?$ on one line */
    for (size_t c = v + 3; c + 3 <= n; c++) {
        if (s[c] == q && s[c + 1] == q && s[c + 2] == q && rest_is_comment(s, c + 3, n)) {
            node->value = sl_arena_strndup(&ps->c->arena, s + v + 3, c - v - 3);
            return node->value ? 0 : SL_ENOMEM;
        }
    }
    for (size_t c = v + 3; c + 3 <= n; c++)
        if (s[c] == q && s[c + 1] == q && s[c + 2] == q)
            return err_at(ps, ln, v, SL_EPARSE, "Parse error in multiline value");
    struct sl_buf b;
    sl_buf_init(&b, MAX_INPUT_LEN);
    int rc = sl_buf_append(&b, s + v + 3, n - v - 3);
    size_t k = ln + 1;
    for (; k < ps->nlines && rc == 0; k++) {
        const struct line *M = &ps->lines[k];
        rc = sl_buf_putc(&b, '\n');
        bool closes = false;
        for (size_t c = 0; c + 3 <= M->len; c++)
            if (M->p[c] == q && M->p[c + 1] == q && M->p[c + 2] == q) {
                closes = true;
                break;
            }
        if (!closes) {
            if (rc == 0)
                rc = sl_buf_append(&b, M->p, M->len);
            continue;
        }
        /* ^(.*?)'''\s*(#.*)?$ */
        size_t c;
        for (c = 0; c + 3 <= M->len; c++)
            if (M->p[c] == q && M->p[c + 1] == q && M->p[c + 2] == q &&
                rest_is_comment(M->p, c + 3, M->len))
                break;
        if (c + 3 > M->len) { /* ConfigObj reports it at the key's line */
            rc = err_at(ps, ln, v, SL_EPARSE, "Parse error in multiline value");
            goto out;
        }
        if (rc == 0)
            rc = sl_buf_append(&b, M->p, c);
        if (rc == 0) {
            node->value = sl_arena_strndup(&ps->c->arena, b.ptr ? b.ptr : "", b.len);
            if (!node->value)
                rc = SL_ENOMEM;
        }
        *li = k;
        goto out;
    }
    if (rc == 0)
        rc = err_at(ps, ln, v, SL_EPARSE, "Parse error in multiline value (no closing quotes)");
out:
    sl_buf_fini(&b);
    return rc;
}

static int parse_section_line(struct parser *ps, size_t ln, const struct section_match *m)
{
    const char *s = ps->lines[ln].p;
    if (m->opens != m->closes)
        return err_at(ps, ln, m->name_start, SL_EPARSE, "Cannot compute the section depth");
    int depth = m->opens;
    if (depth > ps->depth + 1)
        return err_at(ps, ln, m->name_start, SL_EPARSE, "Section too nested");
    if (depth > MAX_DEPTH)
        return err_at(ps, ln, m->name_start, SL_E2BIG, "Section too nested (64 levels at most)");
    struct cobj_mut *parent = &ps->stack[depth - 1];
    char *name = unquote_dup(ps, s + m->name_start, m->name_end - m->name_start);
    if (!name)
        return SL_ENOMEM;
    if (find_child(parent->node, name))
        return err_at(ps, ln, m->name_start, SL_EPARSE, "Duplicate section name");
    struct sl_cobj *sec = new_node(ps, parent);
    if (!sec)
        return SL_ENOMEM;
    sec->type = SL_COBJ_SECTION;
    sec->name = name;
    sec->line = (uint32_t)(ln + 1);
    sec->col = (uint32_t)(m->name_start + 1);
    sec->depth = depth;
    ps->depth = depth;
    ps->stack[depth].node = sec;
    ps->stack[depth].last = NULL;
    return 0;
}

static int parse_lines(struct parser *ps)
{
    for (size_t ln = 0; ln < ps->nlines; ln++) {
        const char *s = ps->lines[ln].p;
        size_t n = ps->lines[ln].len;
        size_t i = skip_ws(s, 0, n);
        if (i == n || s[i] == '#')
            continue;
        struct section_match sm;
        if (match_section(s, n, &sm)) {
            int rc = parse_section_line(ps, ln, &sm);
            if (rc)
                return rc;
            continue;
        }
        struct keyword_match km;
        if (!match_keyword(s, n, &km)) {
            char msg[160];
            size_t show = n - i < 60 ? n - i : 60;
            snprintf(msg, sizeof(msg),
                     "Invalid line ('%.*s%s') (matched as neither section nor keyword)", (int)show,
                     s + i, show < n - i ? "..." : "");
            return err_at(ps, ln, i, SL_EPARSE, msg);
        }
        struct cobj_mut *sec = &ps->stack[ps->depth];
        char *key = unquote_dup(ps, s + km.key_start, km.key_end - km.key_start);
        if (!key)
            return SL_ENOMEM;
        struct sl_cobj node = {0};
        size_t v = km.value_start;
        size_t first_line = ln;
        int rc;
        if (v + 3 <= n && (s[v] == '"' || s[v] == '\'') && s[v + 1] == s[v] && s[v + 2] == s[v])
            rc = parse_multiline(ps, &ln, v, &node);
        else
            rc = parse_value(ps, ln, s, v, n, &node);
        if (rc)
            return rc;
        if (find_child(sec->node, key))
            return err_at(ps, first_line, km.key_start, SL_EPARSE, "Duplicate keyword name");
        struct sl_cobj *k = new_node(ps, sec);
        if (!k)
            return SL_ENOMEM;
        node.parent = k->parent;
        *k = node;
        k->name = key;
        k->line = (uint32_t)(first_line + 1);
        k->col = (uint32_t)(km.key_start + 1);
    }
    return 0;
}

int sl_configobj_parse(const char *text, size_t len, const char *file, struct sl_configobj **out,
                       struct sl_diag *d)
{
    *out = NULL;
    struct parser ps = {.file = file ? file : "<config>", .d = d};
    if (len > MAX_INPUT_LEN) {
        ps.c = NULL;
        return err_at(&ps, 0, 0, SL_E2BIG, "file larger than 16 MiB");
    }
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul) {
        size_t off = (size_t)(nul - text), line = 0, col = 0;
        for (size_t k = 0; k < off; k++) {
            if (text[k] == '\n' || (text[k] == '\r' && (k + 1 >= len || text[k + 1] != '\n'))) {
                line++;
                col = 0;
            } else if (text[k] != '\r') {
                col++;
            }
        }
        return err_at(&ps, line, col, SL_EPARSE, "NUL byte in a configuration file");
    }
    struct sl_configobj *c = sl_calloc(1, sizeof(*c));
    if (!c)
        return SL_ENOMEM;
    sl_arena_init(&c->arena, 16384, 256u << 20);
    c->file = sl_strdup(ps.file);
    ps.c = c;
    int rc = 0;
    if (!c->file) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    /* split into lines */
    size_t nl = 1;
    for (size_t k = 0; k < len; k++)
        if (text[k] == '\n' || (text[k] == '\r' && (k + 1 >= len || text[k + 1] != '\n')))
            nl++;
    ps.lines = sl_arena_alloc(&c->arena, nl * sizeof(struct line));
    if (!ps.lines) {
        rc = SL_ENOMEM;
        goto fail;
    }
    size_t start = 0;
    for (size_t k = 0; k <= len; k++) {
        if (k == len || text[k] == '\n' || text[k] == '\r') {
            ps.lines[ps.nlines].p = text + start;
            ps.lines[ps.nlines].len = k - start;
            ps.nlines++;
            if (k < len && text[k] == '\r' && k + 1 < len && text[k + 1] == '\n')
                k++;
            start = k + 1;
        }
    }
    c->root.type = SL_COBJ_SECTION;
    c->root.name = "";
    c->root.line = 1;
    c->root.col = 1;
    ps.stack[0].node = &c->root;
    rc = parse_lines(&ps);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    if (rc == SL_ENOMEM && d && !d->msg[0])
        sl_diag_set(d, rc, "out of memory reading %s", ps.file);
    sl_configobj_free(c);
    return rc;
}

/* ---- %(name)s interpolation (ConfigObj's ConfigParserInterpolation) ---- */

#define INTERP_MAX_DEPTH 64
#define INTERP_MAX_LEN   ((size_t)1 << 20)

struct interp {
    struct sl_configobj *c;
    const struct sl_cobj *where; /* the value being interpolated, for errors */
    struct {
        const char *key;
        const struct sl_cobj *sec;
    } trail[INTERP_MAX_DEPTH];
    int depth;
    struct sl_diag *d;
};

static int interp_err(struct interp *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int interp_err(struct interp *in, const char *fmt, ...)
{
    struct sl_diag *d = in->d;
    if (d) {
        snprintf(d->file, sizeof(d->file), "%s", in->c->file);
        d->line = in->where->vline;
        d->col = in->where->vcol;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
    }
    return SL_ECONFIG;
}

/* ConfigObj's _fetch: name in sec, its DEFAULT, then the parents. */
static const struct sl_cobj *interp_fetch(const struct sl_cobj *sec, const char *name,
                                          const struct sl_cobj **found_in)
{
    for (const struct sl_cobj *cur = sec; cur; cur = cur->parent) {
        const struct sl_cobj *n = find_child(cur, name);
        if (!n || n->type == SL_COBJ_SECTION) {
            const struct sl_cobj *dflt = find_child(cur, "DEFAULT");
            n = dflt && dflt->type == SL_COBJ_SECTION ? find_child(dflt, name) : NULL;
        }
        if (n && n->type != SL_COBJ_SECTION) {
            *found_in = cur;
            return n;
        }
    }
    return NULL;
}

/* recursive_interpolate(key, value, section): the result appended to out. */
static int interp_value(struct interp *in, const char *key, const struct sl_cobj *sec,
                        const char *value, struct sl_buf *out)
{
    for (int k = 0; k < in->depth; k++)
        if (in->trail[k].sec == sec && !strcmp(in->trail[k].key, key))
            return interp_err(in, "interpolation loop detected in value \"%s\"", key);
    if (in->depth == INTERP_MAX_DEPTH)
        return interp_err(in, "interpolation nested more than 64 deep (at \"%s\")", key);
    in->trail[in->depth].key = key;
    in->trail[in->depth].sec = sec;
    in->depth++;
    int rc = 0;
    const char *p = value;
    for (;;) {
        /* %\(([^)]*)\)s */
        const char *m = strstr(p, "%(");
        const char *close = NULL;
        while (m) {
            close = strchr(m + 2, ')');
            if (close && close[1] == 's')
                break;
            m = strstr(m + 1, "%(");
        }
        if (!m) {
            rc = sl_buf_puts(out, p);
            break;
        }
        if ((rc = sl_buf_append(out, p, (size_t)(m - p))) != 0)
            break;
        char name[256];
        size_t nl = (size_t)(close - (m + 2));
        if (nl >= sizeof(name)) {
            rc = interp_err(in, "interpolation name longer than 255 bytes");
            break;
        }
        memcpy(name, m + 2, nl);
        name[nl] = 0;
        const struct sl_cobj *where = NULL;
        const struct sl_cobj *v = interp_fetch(sec, name, &where);
        if (!v) {
            rc = interp_err(in, "missing option \"%s\" in interpolation", name);
            break;
        }
        if (v->type != SL_COBJ_STRING) {
            rc = interp_err(in, "\"%s\" is a list: it cannot be interpolated", name);
            break;
        }
        if ((rc = interp_value(in, name, where, v->value, out)) != 0)
            break;
        if (out->len > INTERP_MAX_LEN) {
            rc = interp_err(in, "interpolated value longer than 1 MiB");
            break;
        }
        p = close + 2;
    }
    in->depth--;
    return rc == SL_E2BIG ? interp_err(in, "interpolated value longer than 1 MiB") : rc;
}

static int interp_one(struct interp *in, const struct sl_cobj *node, const char *key,
                      const char *value, const char **result)
{
    *result = value;
    if (!strchr(value, '%'))
        return 0;
    struct sl_buf b;
    sl_buf_init(&b, INTERP_MAX_LEN * 2);
    in->where = node;
    in->depth = 0;
    int rc = interp_value(in, key, node->parent, value, &b);
    if (!rc) {
        char *s = sl_arena_strndup(&in->c->arena, b.ptr ? b.ptr : "", b.len);
        if (s)
            *result = s;
        else
            rc = SL_ENOMEM;
    }
    sl_buf_fini(&b);
    return rc;
}

static int interp_section(struct interp *in, struct sl_cobj *sec)
{
    int rc = 0;
    for (struct sl_cobj *k = (struct sl_cobj *)sec->first; k && !rc;
         k = (struct sl_cobj *)k->next) {
        if (k->type == SL_COBJ_SECTION)
            rc = interp_section(in, k);
        else if (k->type == SL_COBJ_STRING)
            rc = interp_one(in, k, k->name, k->value, &k->value);
        else
            for (size_t i = 0; i < k->nitems && !rc; i++)
                rc = interp_one(in, k, k->name, k->items[i], &k->items[i]);
    }
    return rc;
}

int sl_configobj_interpolate(struct sl_configobj *c, struct sl_diag *d)
{
    struct interp in = {.c = c, .d = d};
    return interp_section(&in, &c->root);
}

void sl_configobj_free(struct sl_configobj *c)
{
    if (!c)
        return;
    sl_arena_fini(&c->arena);
    sl_free(c->file);
    sl_free(c);
}

const struct sl_cobj *sl_configobj_root(const struct sl_configobj *c)
{
    return &c->root;
}

const char *sl_configobj_file(const struct sl_configobj *c)
{
    return c->file;
}

const struct sl_cobj *sl_cobj_get(const struct sl_cobj *sec, const char *name)
{
    if (!sec || sec->type != SL_COBJ_SECTION)
        return NULL;
    return find_child(sec, name);
}

const char *sl_cobj_get_str(const struct sl_cobj *sec, const char *name)
{
    const struct sl_cobj *k = sl_cobj_get(sec, name);
    return k && k->type == SL_COBJ_STRING ? k->value : NULL;
}

static int dump_str(struct sl_buf *out, const char *s)
{
    int rc = sl_buf_putc(out, '"');
    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            rc = sl_buf_appendf(out, "\\%c", ch);
        else if (ch == '\n')
            rc = sl_buf_puts(out, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            rc = sl_buf_appendf(out, "\\x%02x", ch);
        else
            rc = sl_buf_putc(out, (char)ch);
    }
    return rc ? rc : sl_buf_putc(out, '"');
}

int sl_configobj_dump(const struct sl_cobj *node, struct sl_buf *out)
{
    int rc = 0;
    int indent =
        node->type == SL_COBJ_SECTION ? node->depth : (node->parent ? node->parent->depth : 0);
    for (int k = 0; k < indent - (node->type == SL_COBJ_SECTION ? 1 : 0) && rc == 0; k++)
        rc = sl_buf_puts(out, "  ");
    if (rc)
        return rc;
    switch (node->type) {
    case SL_COBJ_STRING:
        rc = sl_buf_appendf(out, "%s = ", node->name);
        if (rc == 0)
            rc = dump_str(out, node->value);
        if (rc == 0)
            rc = sl_buf_putc(out, '\n');
        return rc;
    case SL_COBJ_LIST:
        rc = sl_buf_appendf(out, "%s = [", node->name);
        for (size_t k = 0; k < node->nitems && rc == 0; k++) {
            if (k)
                rc = sl_buf_puts(out, ", ");
            if (rc == 0)
                rc = dump_str(out, node->items[k]);
        }
        return rc ? rc : sl_buf_puts(out, "]\n");
    case SL_COBJ_SECTION:
        if (node->depth > 0) {
            for (int k = 0; k < node->depth && rc == 0; k++)
                rc = sl_buf_putc(out, '[');
            if (rc == 0)
                rc = sl_buf_puts(out, node->name);
            for (int k = 0; k < node->depth && rc == 0; k++)
                rc = sl_buf_putc(out, ']');
            if (rc == 0)
                rc = sl_buf_putc(out, '\n');
        }
        for (const struct sl_cobj *k = node->first; k && rc == 0; k = k->next)
            rc = sl_configobj_dump(k, out);
        return rc;
    }
    return 0;
}
