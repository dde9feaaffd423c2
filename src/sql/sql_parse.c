/*
 * sql_parse.c — recursive-descent parser of sluice's streaming SQL (the ksqlDB subset of
 * ../shared/specs/ksql.md §1.1) into the tree of sql_ast.h.
 *
 * DESIGN: one token of lookahead from the lexer (sql_lex.c), more by re-running it from a
 * copied state where the grammar needs it (`q.*`, lambdas, `GROUP BY (a, b)`). Keywords are
 * words the parser asks for by name, so any word that is not in the lexer's short reserved
 * list works as a column or source name (`timestamp`, `type`, `path`, `key`, `window`...);
 * only where an alias may be left out after a relation do WINDOW, PARTITION and EMIT count
 * as clause words. Expressions are parsed by precedence climbing with the binding powers of
 * ksql.md §5.1 (OR 10 < AND 20 < NOT 30 < predicates 40 < + - || 50 < * / % 60 < unary 70 <
 * postfix 80), left-associative. Every function returns 0 or a negative SL_E* code and
 * stops at the first error; nodes come from the caller's arena, so an error leaks nothing.
 * The depth budget counts both recursion and the length of operator chains, which bounds
 * the height of the tree and thus every recursive walk over it (format, equal, the binder).
 * Formatting and equality of expressions live in sql_parse_fmt.c.
 */
#include "sql/sql_parse.h"

#include "sql/sql_parse_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* binding powers (ksql.md §5.1) */
enum {
    BP_NONE = 0,
    BP_OR = 10,
    BP_AND = 20,
    BP_NOT = 30,
    BP_PRED = 40,
    BP_ADD = 50,
    BP_MUL = 60,
    BP_UNARY = 70,
    BP_POSTFIX = 80,
};

struct parser {
    const char *src;
    size_t len;
    struct sl_arena *a;
    struct sl_diag *d;
    struct sl_sql__lexst st; /* lexer state after tok */
    struct sl_sql__tok tok;  /* the current token */
    uint32_t prev_end;       /* byte offset one past the last consumed token */
    int depth;
};

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

/* ------------------------------------------------------------------ diagnostics */

/* the line holding byte `off` (1-based col), windowed around the caret, and a caret line */
static void caret_hint(struct parser *p, uint32_t off, uint32_t col)
{
    if (!p->d)
        return;
    size_t at = off <= p->len ? off : p->len;
    size_t ls = at >= col - 1 ? at - (col - 1) : 0;
    size_t le = at;
    while (le < p->len && p->src[le] != '\n' && p->src[le] != '\r')
        le++;
    size_t from = at - ls > 60 ? at - 60 : ls;
    size_t to = le - from > 120 ? from + 120 : le;
    char *h = p->d->hint;
    size_t cap = sizeof p->d->hint, o = 0;
    for (size_t i = from; i < to && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)p->src[i];
        h[o++] = (c == '\t' || c >= 0x20) && c != 0x7f ? (char)c : ' ';
    }
    if (o + 1 < cap)
        h[o++] = '\n';
    for (size_t i = from; i < at && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)p->src[i];
        if (c >= 0x80 && c < 0xc0)
            continue; /* a UTF-8 continuation byte takes no column of its own */
        h[o++] = c == '\t' ? '\t' : ' ';
    }
    if (o + 1 < cap)
        h[o++] = '^';
    h[o] = 0;
}

__attribute__((format(printf, 6, 0))) static int verr_at(struct parser *p, int err, uint32_t off,
                                                         uint32_t line, uint32_t col,
                                                         const char *fmt, va_list ap)
{
    if (!p->d)
        return err;
    char msg[sizeof p->d->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    p->d->line = line;
    p->d->col = col;
    p->d->offset = off;
    sl_diag_set(p->d, err, "line %u:%u: %s", line, col, msg);
    caret_hint(p, off, col);
    return err;
}

__attribute__((format(printf, 4, 5))) static int
err_at(struct parser *p, int err, const struct sl_sql__tok *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr_at(p, err, t->off, t->line, t->col, fmt, ap);
    va_end(ap);
    return rc;
}

__attribute__((format(printf, 6, 7))) static int
err_pos(struct parser *p, int err, uint32_t off, uint32_t line, uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr_at(p, err, off, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

/* "'WITH'", "end of input", "'it''s ...'" */
static void tok_desc(const struct parser *p, const struct sl_sql__tok *t, char *buf, size_t n)
{
    if (t->kind == SL_SQL_TK_EOF) {
        snprintf(buf, n, "end of input");
        return;
    }
    size_t o = 0, max = 40;
    buf[o++] = '\'';
    for (size_t i = 0; i < t->len && i < max && o + 5 < n; i++) {
        unsigned char c = (unsigned char)p->src[t->off + i];
        buf[o++] =
            c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7f ? '?' : (char)c);
    }
    if (t->len > max && o + 5 < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = 0;
}

/* "expected <what>, found <token>" at the current token */
static int expected(struct parser *p, const char *what)
{
    char found[64];
    tok_desc(p, &p->tok, found, sizeof found);
    return err_at(p, SL_EPARSE, &p->tok, "expected %s, found %s", what, found);
}

/* the same where a name or an expression was wanted: a reserved word there says so */
static int expected_name(struct parser *p, const char *what)
{
    if (p->tok.kind != SL_SQL_TK_IDENT || !sl_sql__reserved(p->src + p->tok.off, p->tok.len))
        return expected(p, what);
    char found[64];
    tok_desc(p, &p->tok, found, sizeof found);
    return err_at(p, SL_EPARSE, &p->tok,
                  "expected %s, found %s (a reserved word: quote it as `...` to use it as a "
                  "name)",
                  what, found);
}

static int nomem(struct parser *p)
{
    return err_at(p, SL_ENOMEM, &p->tok, "out of memory (the parse arena is full)");
}

static int too_deep(struct parser *p)
{
    return err_at(p, SL_E2BIG, &p->tok, "nesting deeper than %d levels", SL_SQL_MAX_DEPTH);
}

/* ------------------------------------------------------------------ tokens */

static int lex_error(struct parser *p, const struct sl_sql__lexerr *e)
{
    if (e->msg && !strcmp(e->msg, "unexpected character")) {
        unsigned char c = (unsigned char)p->src[e->off];
        if (c > 0x20 && c < 0x7f)
            return err_pos(p, SL_EPARSE, e->off, e->line, e->col, "unexpected character '%c'", c);
        return err_pos(p, SL_EPARSE, e->off, e->line, e->col, "unexpected byte 0x%02x", c);
    }
    return err_pos(p, SL_EPARSE, e->off, e->line, e->col, "%s", e->msg);
}

static int advance(struct parser *p)
{
    struct sl_sql__lexerr e;
    if (p->tok.kind != SL_SQL_TK_EOF || p->tok.len)
        p->prev_end = p->tok.off + p->tok.len;
    if (!sl_sql__lex(p->src, p->len, &p->st, &p->tok, &e))
        return lex_error(p, &e);
    return 0;
}

/* the token n ahead of the current one (1: the next); EOF on a lexical error */
static struct sl_sql__tok peek_n(const struct parser *p, int n)
{
    struct sl_sql__lexst st = p->st;
    struct sl_sql__tok t = p->tok;
    for (int i = 0; i < n; i++) {
        if (!sl_sql__lex(p->src, p->len, &st, &t, NULL)) {
            t.kind = SL_SQL_TK_EOF;
            break;
        }
    }
    return t;
}

static enum sl_sql__tk peek_kind(const struct parser *p)
{
    return peek_n(p, 1).kind;
}

static inline bool tok_is_kw(const struct parser *p, const struct sl_sql__tok *t, const char *kw)
{
    /* the first-letter test spares most strncasecmp calls (they were a quarter of the time) */
    if (t->kind != SL_SQL_TK_IDENT || (p->src[t->off] | 0x20) != (kw[0] | 0x20))
        return false;
    size_t n = strlen(kw);
    return t->len == n && !strncasecmp(p->src + t->off, kw, n);
}

static inline bool at_kw(const struct parser *p, const char *kw)
{
    return tok_is_kw(p, &p->tok, kw);
}

static bool at(const struct parser *p, enum sl_sql__tk k)
{
    return p->tok.kind == k;
}

static int expect_kw(struct parser *p, const char *kw, const char *what)
{
    if (!at_kw(p, kw))
        return expected(p, what);
    return advance(p);
}

static int expect(struct parser *p, enum sl_sql__tk k, const char *what)
{
    if (!at(p, k))
        return expected(p, what);
    return advance(p);
}

/* accept an optional keyword: *got tells whether it was there */
static int accept_kw(struct parser *p, const char *kw, bool *got)
{
    *got = at_kw(p, kw);
    return *got ? advance(p) : 0;
}

static bool at_name(const struct parser *p)
{
    return at(p, SL_SQL_TK_QIDENT) ||
           (at(p, SL_SQL_TK_IDENT) && !sl_sql__reserved(p->src + p->tok.off, p->tok.len));
}

/* ------------------------------------------------------------------ arena */

static void *alloc0(struct parser *p, size_t n)
{
    void *m = sl_arena_alloc(p->a, n);
    if (m)
        memset(m, 0, n);
    return m;
}

/* a growable array in the arena (grown by copying: at most twice the final size) */
struct vec {
    void *ptr;
    uint32_t n, cap;
};

static void *vec_push(struct parser *p, struct vec *v, size_t elsz)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        void *m = sl_arena_alloc(p->a, (size_t)cap * elsz);
        if (!m)
            return NULL;
        if (v->n)
            memcpy(m, v->ptr, (size_t)v->n * elsz);
        v->ptr = m;
        v->cap = cap;
    }
    void *slot = (char *)v->ptr + (size_t)v->n++ * elsz;
    memset(slot, 0, elsz);
    return slot;
}

static struct sl_sql_pos tok_pos(const struct sl_sql__tok *t)
{
    return (struct sl_sql_pos){t->off, t->line, t->col};
}

static struct sl_sql_expr *new_expr(struct parser *p, enum sl_sql_ekind k,
                                    const struct sl_sql__tok *start)
{
    struct sl_sql_expr *e = alloc0(p, sizeof *e);
    if (e) {
        e->kind = k;
        e->pos = tok_pos(start);
    }
    return e;
}

/* the upper-cased copy of an unquoted word */
static char *dup_upper(struct parser *p, const char *s, size_t n)
{
    char *r = sl_arena_alloc_bytes(p->a, n + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
    r[n] = 0;
    return r;
}

/* the content of a quoted token ('...', `...`, "..."), doubled quotes undoubled */
static char *dup_unquote(struct parser *p, const struct sl_sql__tok *t, uint32_t *out_len)
{
    const char *s = p->src + t->off;
    char q = s[0];
    size_t n = t->len - 2;
    char *r = sl_arena_alloc_bytes(p->a, n + 1);
    if (!r)
        return NULL;
    size_t o = 0;
    for (size_t i = 1; i < t->len - 1; i++) {
        r[o++] = s[i];
        if (s[i] == q)
            i++;
    }
    r[o] = 0;
    if (out_len)
        *out_len = (uint32_t)o;
    return r;
}

/* the content of the current string token as a C string (no NUL byte inside) */
static int dup_cstring(struct parser *p, const char **out)
{
    uint32_t n;
    char *s = dup_unquote(p, &p->tok, &n);
    if (!s)
        return nomem(p);
    if (memchr(s, 0, n))
        return err_at(p, SL_EPARSE, &p->tok, "a NUL byte in a property");
    *out = s;
    return 0;
}

/* a name: an unquoted word that is not reserved (upper-cased) or a quoted identifier */
static int parse_name(struct parser *p, const char **out, bool *quoted, const char *what)
{
    if (quoted)
        *quoted = false;
    if (at(p, SL_SQL_TK_QIDENT)) {
        uint32_t n;
        char *s = dup_unquote(p, &p->tok, &n);
        if (!s)
            return nomem(p);
        if (!n)
            return err_at(p, SL_EPARSE, &p->tok, "expected %s, found an empty quoted identifier",
                          what);
        if (memchr(s, 0, n))
            return err_at(p, SL_EPARSE, &p->tok, "a NUL byte in a quoted identifier");
        if (quoted)
            *quoted = true;
        *out = s;
        return advance(p);
    }
    if (!at_name(p))
        return expected_name(p, what);
    char *s = dup_upper(p, p->src + p->tok.off, p->tok.len);
    if (!s)
        return nomem(p);
    *out = s;
    return advance(p);
}

/* an unsigned integer token into *v; range errors name `what` */
static int parse_int(struct parser *p, int64_t *v, const char *what)
{
    if (!at(p, SL_SQL_TK_INT))
        return expected(p, what);
    uint64_t x = 0;
    for (uint32_t i = 0; i < p->tok.len; i++) {
        unsigned dgt = (unsigned)(p->src[p->tok.off + i] - '0');
        if (x > ((uint64_t)INT64_MAX - dgt) / 10)
            return err_at(p, SL_EPARSE, &p->tok, "integer out of range");
        x = x * 10 + dgt;
    }
    *v = (int64_t)x;
    return advance(p);
}

/* ------------------------------------------------------------------ types */

static int parse_type(struct parser *p, struct sl_sql_type **out);

static int parse_type_inner(struct parser *p, struct sl_sql_type **out)
{
    struct sl_sql_type *t = alloc0(p, sizeof *t);
    if (!t)
        return nomem(p);
    *out = t;
    static const struct {
        const char *name;
        enum sl_sql_tkind kind;
    } simple[] = {
        {"BOOLEAN", SL_SQL_T_BOOLEAN},     {"INT", SL_SQL_T_INT},
        {"INTEGER", SL_SQL_T_INT},         {"BIGINT", SL_SQL_T_BIGINT},
        {"DOUBLE", SL_SQL_T_DOUBLE},       {"VARCHAR", SL_SQL_T_STRING},
        {"STRING", SL_SQL_T_STRING},       {"BYTES", SL_SQL_T_BYTES},
        {"TIMESTAMP", SL_SQL_T_TIMESTAMP}, {"DATE", SL_SQL_T_DATE},
        {"TIME", SL_SQL_T_TIME},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (at_kw(p, simple[i].name)) {
            t->kind = simple[i].kind;
            return advance(p);
        }
    }
    if (at_kw(p, "DECIMAL")) {
        t->kind = SL_SQL_T_DECIMAL;
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after DECIMAL"));
        int64_t prec = 0, scale = 0;
        struct sl_sql__tok pt = p->tok;
        TRY(parse_int(p, &prec, "the precision of DECIMAL"));
        TRY(expect(p, SL_SQL_TK_COMMA, "',' after the precision of DECIMAL"));
        struct sl_sql__tok st = p->tok;
        TRY(parse_int(p, &scale, "the scale of DECIMAL"));
        if (prec < 1 || prec > 255)
            return err_at(p, SL_EPARSE, &pt, "DECIMAL precision %lld out of range",
                          (long long)prec);
        if (scale > prec)
            return err_at(p, SL_EPARSE, &st, "DECIMAL scale %lld larger than the precision",
                          (long long)scale);
        t->precision = (uint8_t)prec;
        t->scale = (uint8_t)scale;
        return expect(p, SL_SQL_TK_RPAREN, "')' after DECIMAL(precision, scale");
    }
    if (at_kw(p, "ARRAY")) {
        t->kind = SL_SQL_T_ARRAY;
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LT, "'<' after ARRAY"));
        TRY(parse_type(p, &t->elem));
        return expect(p, SL_SQL_TK_GT, "'>' after the element type of ARRAY");
    }
    if (at_kw(p, "MAP")) {
        t->kind = SL_SQL_T_MAP;
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LT, "'<' after MAP"));
        TRY(parse_type(p, &t->key));
        TRY(expect(p, SL_SQL_TK_COMMA, "',' after the key type of MAP"));
        TRY(parse_type(p, &t->elem));
        return expect(p, SL_SQL_TK_GT, "'>' after the value type of MAP");
    }
    if (at_kw(p, "STRUCT")) {
        t->kind = SL_SQL_T_STRUCT;
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LT, "'<' after STRUCT"));
        struct vec v = {0};
        if (!at(p, SL_SQL_TK_GT)) {
            for (;;) {
                struct sl_sql_tfield *f = vec_push(p, &v, sizeof *f);
                if (!f)
                    return nomem(p);
                TRY(parse_name(p, &f->name, NULL, "a field name in STRUCT<...>"));
                TRY(parse_type(p, &f->type));
                if (!at(p, SL_SQL_TK_COMMA))
                    break;
                TRY(advance(p));
            }
        }
        t->fields = v.ptr;
        t->nfields = v.n;
        return expect(p, SL_SQL_TK_GT, "',' or '>' in STRUCT<...>");
    }
    return expected(p, "a type (BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL, STRING, BYTES, TIMESTAMP, "
                       "DATE, TIME, ARRAY, MAP, STRUCT)");
}

static int parse_type(struct parser *p, struct sl_sql_type **out)
{
    if (++p->depth > SL_SQL_MAX_DEPTH)
        return too_deep(p);
    int rc = parse_type_inner(p, out);
    p->depth--;
    return rc;
}

/* ------------------------------------------------------------------ expressions */

static int parse_expr(struct parser *p, int minbp, struct sl_sql_expr **out);

/* expr {',' expr} until `close` (not consumed); at least one */
static int parse_expr_list(struct parser *p, struct vec *v)
{
    for (;;) {
        struct sl_sql_expr **slot = vec_push(p, v, sizeof *slot);
        if (!slot)
            return nomem(p);
        TRY(parse_expr(p, BP_NONE, slot));
        if (!at(p, SL_SQL_TK_COMMA))
            return 0;
        TRY(advance(p));
    }
}

/* does `( ident {, ident} ) =>` start here? */
static bool at_multi_lambda(const struct parser *p)
{
    struct sl_sql__lexst st = p->st;
    struct sl_sql__tok t;
    for (;;) {
        if (!sl_sql__lex(p->src, p->len, &st, &t, NULL))
            return false;
        if (t.kind != SL_SQL_TK_QIDENT &&
            (t.kind != SL_SQL_TK_IDENT || sl_sql__reserved(p->src + t.off, t.len)))
            return false;
        if (!sl_sql__lex(p->src, p->len, &st, &t, NULL))
            return false;
        if (t.kind == SL_SQL_TK_RPAREN)
            break;
        if (t.kind != SL_SQL_TK_COMMA)
            return false;
    }
    return sl_sql__lex(p->src, p->len, &st, &t, NULL) && t.kind == SL_SQL_TK_LAMBDA;
}

/* a function argument: an expression or a lambda (`x => e`, `(x, y) => e`) */
static int parse_arg(struct parser *p, struct sl_sql_expr **out)
{
    bool single = at_name(p) && peek_kind(p) == SL_SQL_TK_LAMBDA;
    if (!single && !(at(p, SL_SQL_TK_LPAREN) && at_multi_lambda(p)))
        return parse_expr(p, BP_NONE, out);
    if (++p->depth > SL_SQL_MAX_DEPTH)
        return too_deep(p);
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *e = new_expr(p, SL_SQL_E_LAMBDA, &start);
    if (!e)
        return nomem(p);
    struct vec names = {0};
    if (!single)
        TRY(advance(p));
    for (;;) {
        const char **slot = vec_push(p, &names, sizeof *slot);
        if (!slot)
            return nomem(p);
        TRY(parse_name(p, slot, NULL, "a lambda parameter"));
        if (single || at(p, SL_SQL_TK_RPAREN))
            break;
        TRY(expect(p, SL_SQL_TK_COMMA, "',' between lambda parameters"));
    }
    if (!single)
        TRY(expect(p, SL_SQL_TK_RPAREN, "')' after the lambda parameters"));
    TRY(expect(p, SL_SQL_TK_LAMBDA, "'=>'"));
    e->names = names.ptr;
    e->nnames = names.n;
    TRY(parse_expr(p, BP_NONE, &e->a));
    e->end = p->prev_end;
    p->depth--;
    *out = e;
    return 0;
}

/* name( [* | DISTINCT args | args] ); the current token is the name */
static int parse_call(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *e = new_expr(p, SL_SQL_E_CALL, &start);
    if (!e)
        return nomem(p);
    if (!(e->name = dup_upper(p, p->src + start.off, start.len)))
        return nomem(p);
    TRY(advance(p)); /* name */
    TRY(advance(p)); /* ( */
    if (at(p, SL_SQL_TK_STAR) && peek_kind(p) == SL_SQL_TK_RPAREN) {
        e->star = true;
        TRY(advance(p));
    } else if (!at(p, SL_SQL_TK_RPAREN)) {
        TRY(accept_kw(p, "DISTINCT", &e->distinct));
        struct vec v = {0};
        for (;;) {
            struct sl_sql_expr **slot = vec_push(p, &v, sizeof *slot);
            if (!slot)
                return nomem(p);
            TRY(parse_arg(p, slot));
            if (!at(p, SL_SQL_TK_COMMA))
                break;
            TRY(advance(p));
        }
        e->args = v.ptr;
        e->nargs = v.n;
    }
    TRY(expect(p, SL_SQL_TK_RPAREN, "',' or ')' after a function argument"));
    e->end = p->prev_end;
    *out = e;
    return 0;
}

static int parse_case(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *e = new_expr(p, SL_SQL_E_CASE, &start);
    if (!e)
        return nomem(p);
    TRY(advance(p));
    if (!at_kw(p, "WHEN"))
        TRY(parse_expr(p, BP_NONE, &e->a));
    struct vec v = {0};
    if (!at_kw(p, "WHEN"))
        return expected(p, "WHEN in CASE");
    while (at_kw(p, "WHEN")) {
        TRY(advance(p));
        struct sl_sql_expr **w = vec_push(p, &v, sizeof *w);
        if (!w)
            return nomem(p);
        TRY(parse_expr(p, BP_NONE, w));
        TRY(expect_kw(p, "THEN", "THEN after the WHEN condition"));
        struct sl_sql_expr **t = vec_push(p, &v, sizeof *t);
        if (!t)
            return nomem(p);
        TRY(parse_expr(p, BP_NONE, t));
    }
    e->args = v.ptr;
    e->nargs = v.n;
    if (at_kw(p, "ELSE")) {
        TRY(advance(p));
        TRY(parse_expr(p, BP_NONE, &e->b_));
    }
    TRY(expect_kw(p, "END", "WHEN, ELSE or END in CASE"));
    e->end = p->prev_end;
    *out = e;
    return 0;
}

static int parse_number(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok t = p->tok;
    struct sl_sql_expr *e;
    if (t.kind == SL_SQL_TK_INT) {
        int64_t v = 0;
        TRY(parse_int(p, &v, "an integer"));
        e = new_expr(p, v <= INT32_MAX ? SL_SQL_E_INT : SL_SQL_E_BIGINT, &t);
        if (!e)
            return nomem(p);
        e->i = v;
    } else {
        e = new_expr(p, t.kind == SL_SQL_TK_DEC ? SL_SQL_E_DECIMAL : SL_SQL_E_DOUBLE, &t);
        if (!e)
            return nomem(p);
        char *s = sl_arena_strndup(p->a, p->src + t.off, t.len);
        if (!s)
            return nomem(p);
        e->text = s;
        e->len = t.len;
        e->d = strtod(s, NULL);
        if (isinf(e->d) && t.kind == SL_SQL_TK_DBL)
            return err_at(p, SL_EPARSE, &t, "number out of range");
        TRY(advance(p));
    }
    e->end = p->prev_end;
    *out = e;
    return 0;
}

/* a column: name, q.name (the current token is a name) */
static int parse_column(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *e = new_expr(p, SL_SQL_E_COLUMN, &start);
    if (!e)
        return nomem(p);
    TRY(parse_name(p, &e->name, &e->quoted, "a column"));
    if (at(p, SL_SQL_TK_DOT)) {
        TRY(advance(p));
        e->qualifier = e->name;
        TRY(parse_name(p, &e->name, &e->quoted, "a column name after the qualifier"));
    }
    e->end = p->prev_end;
    *out = e;
    return 0;
}

static int parse_primary(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *e;
    switch (p->tok.kind) {
    case SL_SQL_TK_INT:
    case SL_SQL_TK_DEC:
    case SL_SQL_TK_DBL:
        return parse_number(p, out);
    case SL_SQL_TK_STRING:
        if (!(e = new_expr(p, SL_SQL_E_STRING, &start)))
            return nomem(p);
        if (!(e->text = dup_unquote(p, &p->tok, &e->len)))
            return nomem(p);
        TRY(advance(p));
        e->end = p->prev_end;
        *out = e;
        return 0;
    case SL_SQL_TK_QIDENT:
        return parse_column(p, out);
    case SL_SQL_TK_LPAREN:
        TRY(advance(p));
        TRY(parse_expr(p, BP_NONE, out));
        return expect(p, SL_SQL_TK_RPAREN, "')'");
    case SL_SQL_TK_IDENT:
        break;
    default:
        return expected(p, "an expression");
    }
    enum sl_sql__tk next = peek_kind(p);
    if (at_kw(p, "NULL") || at_kw(p, "TRUE") || at_kw(p, "FALSE")) {
        bool null = at_kw(p, "NULL");
        if (!(e = new_expr(p, null ? SL_SQL_E_NULL : SL_SQL_E_BOOL, &start)))
            return nomem(p);
        e->b = at_kw(p, "TRUE");
        TRY(advance(p));
        e->end = p->prev_end;
        *out = e;
        return 0;
    }
    if (at_kw(p, "CASE"))
        return parse_case(p, out);
    if (at_kw(p, "CAST")) {
        if (!(e = new_expr(p, SL_SQL_E_CAST, &start)))
            return nomem(p);
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after CAST"));
        TRY(parse_expr(p, BP_NONE, &e->a));
        TRY(expect_kw(p, "AS", "AS in CAST(expression AS type)"));
        TRY(parse_type(p, &e->type));
        TRY(expect(p, SL_SQL_TK_RPAREN, "')' after the type in CAST"));
        e->end = p->prev_end;
        *out = e;
        return 0;
    }
    if (at_kw(p, "ARRAY") && next == SL_SQL_TK_LBRACK) {
        if (!(e = new_expr(p, SL_SQL_E_ARRAY, &start)))
            return nomem(p);
        TRY(advance(p));
        TRY(advance(p));
        if (!at(p, SL_SQL_TK_RBRACK)) {
            struct vec v = {0};
            TRY(parse_expr_list(p, &v));
            e->args = v.ptr;
            e->nargs = v.n;
        }
        TRY(expect(p, SL_SQL_TK_RBRACK, "',' or ']' in ARRAY[...]"));
        e->end = p->prev_end;
        *out = e;
        return 0;
    }
    if ((at_kw(p, "MAP") || at_kw(p, "STRUCT")) && next == SL_SQL_TK_LPAREN) {
        bool map = at_kw(p, "MAP");
        if (!(e = new_expr(p, map ? SL_SQL_E_MAP : SL_SQL_E_STRUCT, &start)))
            return nomem(p);
        TRY(advance(p));
        TRY(advance(p));
        struct vec args = {0}, names = {0};
        while (!at(p, SL_SQL_TK_RPAREN)) {
            if (map) {
                struct sl_sql_expr **k = vec_push(p, &args, sizeof *k);
                if (!k)
                    return nomem(p);
                TRY(parse_expr(p, BP_NONE, k));
            } else {
                const char **n = vec_push(p, &names, sizeof *n);
                if (!n)
                    return nomem(p);
                TRY(parse_name(p, n, NULL, "a field name in STRUCT(...)"));
            }
            TRY(expect(p, SL_SQL_TK_ASSIGN,
                       map ? "':=' after a MAP key" : "':=' after a field name"));
            struct sl_sql_expr **v = vec_push(p, &args, sizeof *v);
            if (!v)
                return nomem(p);
            TRY(parse_expr(p, BP_NONE, v));
            if (!at(p, SL_SQL_TK_COMMA))
                break;
            TRY(advance(p));
        }
        TRY(expect(p, SL_SQL_TK_RPAREN,
                   map ? "',' or ')' in MAP(...)" : "',' or ')' in STRUCT(...)"));
        e->args = args.ptr;
        e->nargs = args.n;
        e->names = names.ptr;
        e->nnames = names.n;
        e->end = p->prev_end;
        *out = e;
        return 0;
    }
    if (sl_sql__reserved(p->src + p->tok.off, p->tok.len))
        return expected_name(p, "an expression");
    if (next == SL_SQL_TK_LPAREN)
        return parse_call(p, out);
    return parse_column(p, out);
}

/* the left binding power of the current token as an infix or postfix operator, 0 if none */
static int infix_bp(const struct parser *p)
{
    switch (p->tok.kind) {
    case SL_SQL_TK_EQ:
    case SL_SQL_TK_NE:
    case SL_SQL_TK_LT:
    case SL_SQL_TK_LE:
    case SL_SQL_TK_GT:
    case SL_SQL_TK_GE:
        return BP_PRED;
    case SL_SQL_TK_PLUS:
    case SL_SQL_TK_MINUS:
    case SL_SQL_TK_CONCAT:
        return BP_ADD;
    case SL_SQL_TK_STAR:
    case SL_SQL_TK_SLASH:
    case SL_SQL_TK_PERCENT:
        return BP_MUL;
    case SL_SQL_TK_LBRACK:
        return BP_POSTFIX;
    case SL_SQL_TK_ARROW:
        return peek_kind(p) == SL_SQL_TK_STAR ? BP_NONE : BP_POSTFIX; /* x->* is a select item */
    case SL_SQL_TK_IDENT:
        break;
    default:
        return BP_NONE;
    }
    if (at_kw(p, "OR"))
        return BP_OR;
    if (at_kw(p, "AND"))
        return BP_AND;
    if (at_kw(p, "BETWEEN") || at_kw(p, "IN") || at_kw(p, "LIKE") || at_kw(p, "IS"))
        return BP_PRED;
    if (at_kw(p, "NOT")) {
        struct sl_sql__tok n = peek_n(p, 1);
        if (tok_is_kw(p, &n, "BETWEEN") || tok_is_kw(p, &n, "IN") || tok_is_kw(p, &n, "LIKE"))
            return BP_PRED;
    }
    return BP_NONE;
}

static enum sl_sql_op binop(enum sl_sql__tk k)
{
    switch (k) {
    case SL_SQL_TK_EQ:
        return SL_SQL_OP_EQ;
    case SL_SQL_TK_NE:
        return SL_SQL_OP_NE;
    case SL_SQL_TK_LT:
        return SL_SQL_OP_LT;
    case SL_SQL_TK_LE:
        return SL_SQL_OP_LE;
    case SL_SQL_TK_GT:
        return SL_SQL_OP_GT;
    case SL_SQL_TK_GE:
        return SL_SQL_OP_GE;
    case SL_SQL_TK_PLUS:
        return SL_SQL_OP_ADD;
    case SL_SQL_TK_MINUS:
        return SL_SQL_OP_SUB;
    case SL_SQL_TK_CONCAT:
        return SL_SQL_OP_CONCAT;
    case SL_SQL_TK_STAR:
        return SL_SQL_OP_MUL;
    case SL_SQL_TK_SLASH:
        return SL_SQL_OP_DIV;
    case SL_SQL_TK_PERCENT:
        return SL_SQL_OP_MOD;
    default:
        return SL_SQL_OP_NONE;
    }
}

/* one infix or postfix operation on *lhs (which started at `start`) */
static int parse_infix(struct parser *p, int lbp, const struct sl_sql__tok *start,
                       struct sl_sql_expr **lhs)
{
    struct sl_sql_expr *e = new_expr(p, SL_SQL_E_BINARY, start);
    if (!e)
        return nomem(p);
    e->a = *lhs;
    enum sl_sql_op op = binop(p->tok.kind);
    if (op != SL_SQL_OP_NONE) {
        e->op = op;
        TRY(advance(p));
        TRY(parse_expr(p, lbp, &e->b_));
    } else if (at(p, SL_SQL_TK_LBRACK)) {
        e->kind = SL_SQL_E_SUBSCRIPT;
        TRY(advance(p));
        TRY(parse_expr(p, BP_NONE, &e->b_));
        TRY(expect(p, SL_SQL_TK_RBRACK, "']' after the subscript"));
    } else if (at(p, SL_SQL_TK_ARROW)) {
        e->kind = SL_SQL_E_DEREF;
        TRY(advance(p));
        if (at(p, SL_SQL_TK_IDENT)) { /* any word, reserved or not, names a field here */
            if (!(e->name = dup_upper(p, p->src + p->tok.off, p->tok.len)))
                return nomem(p);
            TRY(advance(p));
        } else {
            TRY(parse_name(p, &e->name, &e->quoted, "a field name after '->'"));
        }
    } else if (at_kw(p, "OR") || at_kw(p, "AND")) {
        e->op = at_kw(p, "OR") ? SL_SQL_OP_OR : SL_SQL_OP_AND;
        TRY(advance(p));
        TRY(parse_expr(p, lbp, &e->b_));
    } else if (at_kw(p, "IS")) {
        TRY(advance(p));
        TRY(accept_kw(p, "NOT", &e->negated));
        if (at_kw(p, "NULL")) {
            e->kind = SL_SQL_E_IS_NULL;
            TRY(advance(p));
        } else if (at_kw(p, "DISTINCT")) {
            e->kind = SL_SQL_E_IS_DISTINCT;
            TRY(advance(p));
            TRY(expect_kw(p, "FROM", "FROM after IS [NOT] DISTINCT"));
            TRY(parse_expr(p, BP_PRED, &e->b_));
        } else {
            return expected(p, e->negated ? "NULL or DISTINCT FROM after IS NOT"
                                          : "NULL, NOT NULL or DISTINCT FROM after IS");
        }
    } else {
        TRY(accept_kw(p, "NOT", &e->negated));
        if (at_kw(p, "BETWEEN")) {
            e->kind = SL_SQL_E_BETWEEN;
            TRY(advance(p));
            TRY(parse_expr(p, BP_PRED, &e->b_));
            TRY(expect_kw(p, "AND", "AND in BETWEEN ... AND ..."));
            TRY(parse_expr(p, BP_PRED, &e->c));
        } else if (at_kw(p, "IN")) {
            e->kind = SL_SQL_E_IN;
            TRY(advance(p));
            TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after IN"));
            struct vec v = {0};
            TRY(parse_expr_list(p, &v));
            e->args = v.ptr;
            e->nargs = v.n;
            TRY(expect(p, SL_SQL_TK_RPAREN, "',' or ')' in the IN list"));
        } else if (at_kw(p, "LIKE")) {
            e->kind = SL_SQL_E_LIKE;
            TRY(advance(p));
            TRY(parse_expr(p, BP_PRED, &e->b_));
            if (at_kw(p, "ESCAPE")) {
                TRY(advance(p));
                if (!at(p, SL_SQL_TK_STRING))
                    return expected(p, "a string after ESCAPE");
                if (!(e->text = dup_unquote(p, &p->tok, &e->len)))
                    return nomem(p);
                TRY(advance(p));
            }
        } else {
            return expected(p, "BETWEEN, IN or LIKE after NOT");
        }
    }
    e->end = p->prev_end;
    *lhs = e;
    return 0;
}

static int parse_expr_inner(struct parser *p, int minbp, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    struct sl_sql_expr *lhs;
    bool neg = at(p, SL_SQL_TK_MINUS), plus = at(p, SL_SQL_TK_PLUS);
    if (at_kw(p, "NOT") || neg || plus) {
        if (!(lhs = new_expr(p, SL_SQL_E_UNARY, &start)))
            return nomem(p);
        lhs->op = neg ? SL_SQL_OP_NEG : plus ? SL_SQL_OP_PLUS : SL_SQL_OP_NOT;
        TRY(advance(p));
        TRY(parse_expr(p, lhs->op == SL_SQL_OP_NOT ? BP_NOT : BP_UNARY, &lhs->a));
        lhs->end = p->prev_end;
    } else {
        TRY(parse_primary(p, &lhs));
    }
    int chain = 0, rc = 0;
    for (;;) {
        int lbp = infix_bp(p);
        if (lbp <= minbp)
            break;
        /* a chain `a OR b OR c ...` grows the tree as nesting does: it spends depth */
        chain++;
        if (++p->depth > SL_SQL_MAX_DEPTH) {
            rc = too_deep(p);
            break;
        }
        if ((rc = parse_infix(p, lbp, &start, &lhs)))
            break;
    }
    p->depth -= chain;
    *out = lhs;
    return rc;
}

static int parse_expr(struct parser *p, int minbp, struct sl_sql_expr **out)
{
    if (++p->depth > SL_SQL_MAX_DEPTH)
        return too_deep(p);
    int rc = parse_expr_inner(p, minbp, out);
    p->depth--;
    return rc;
}

/* ------------------------------------------------------------------ queries */

/* n UNIT into milliseconds */
static int parse_duration(struct parser *p, int64_t *ms, const char *what)
{
    int64_t n = 0; /* gcc -O2 cannot see parse_int set it */
    TRY(parse_int(p, &n, what));
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {
        {"MILLISECOND", 1}, {"MILLISECONDS", 1}, {"SECOND", 1000},  {"SECONDS", 1000},
        {"MINUTE", 60000},  {"MINUTES", 60000},  {"HOUR", 3600000}, {"HOURS", 3600000},
        {"DAY", 86400000},  {"DAYS", 86400000},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (at_kw(p, units[i].name)) {
            if (n > INT64_MAX / units[i].ms)
                return err_at(p, SL_EPARSE, &p->tok, "duration out of range");
            *ms = n * units[i].ms;
            return advance(p);
        }
    }
    return expected(p, "a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)");
}

/* is the current token a word that may not be taken as an alias left without AS? */
static bool at_alias(const struct parser *p, bool after_relation)
{
    if (!at_name(p))
        return false;
    if (after_relation && at(p, SL_SQL_TK_IDENT) &&
        (at_kw(p, "WINDOW") || at_kw(p, "PARTITION") || at_kw(p, "EMIT")))
        return false;
    return true;
}

static int parse_alias(struct parser *p, const char **alias, bool *quoted, bool after_relation)
{
    bool as;
    TRY(accept_kw(p, "AS", &as));
    if (as)
        return parse_name(p, alias, quoted, "an alias after AS");
    if (at_alias(p, after_relation))
        return parse_name(p, alias, quoted, "an alias");
    return 0;
}

static int parse_relation(struct parser *p, struct sl_sql_rel *r)
{
    r->pos = tok_pos(&p->tok);
    TRY(parse_name(p, &r->name, NULL, "a stream or table name"));
    return parse_alias(p, &r->alias, NULL, true);
}

static int parse_item(struct parser *p, struct sl_sql_item *it)
{
    it->pos = tok_pos(&p->tok);
    if (at(p, SL_SQL_TK_STAR)) {
        it->kind = SL_SQL_ITEM_STAR;
        return advance(p);
    }
    if (at_name(p) && peek_kind(p) == SL_SQL_TK_DOT && peek_n(p, 2).kind == SL_SQL_TK_STAR) {
        it->kind = SL_SQL_ITEM_QSTAR;
        TRY(parse_name(p, &it->qualifier, NULL, "a source alias"));
        TRY(advance(p));
        return advance(p);
    }
    it->kind = SL_SQL_ITEM_EXPR;
    TRY(parse_expr(p, BP_NONE, &it->expr));
    if (at(p, SL_SQL_TK_ARROW) && peek_kind(p) == SL_SQL_TK_STAR) {
        it->kind = SL_SQL_ITEM_DEREFSTAR;
        TRY(advance(p));
        return advance(p);
    }
    return parse_alias(p, &it->alias, &it->alias_quoted, false);
}

static int parse_join(struct parser *p, struct sl_sql_join *j)
{
    j->pos = tok_pos(&p->tok);
    j->kind = SL_SQL_JOIN_INNER;
    bool outer;
    if (at_kw(p, "INNER")) {
        TRY(advance(p));
    } else if (at_kw(p, "LEFT") || at_kw(p, "RIGHT") || at_kw(p, "FULL")) {
        j->kind = at_kw(p, "LEFT")    ? SL_SQL_JOIN_LEFT
                  : at_kw(p, "RIGHT") ? SL_SQL_JOIN_RIGHT
                                      : SL_SQL_JOIN_FULL;
        TRY(advance(p));
        TRY(accept_kw(p, "OUTER", &outer));
    }
    TRY(expect_kw(p, "JOIN", "JOIN"));
    TRY(parse_relation(p, &j->right));
    if (at_kw(p, "WITHIN")) {
        j->within = true;
        TRY(advance(p));
        if (at(p, SL_SQL_TK_LPAREN)) {
            TRY(advance(p));
            TRY(parse_duration(p, &j->before_ms, "the WITHIN 'before' duration"));
            TRY(expect(p, SL_SQL_TK_COMMA, "',' between the WITHIN durations"));
            TRY(parse_duration(p, &j->after_ms, "the WITHIN 'after' duration"));
            TRY(expect(p, SL_SQL_TK_RPAREN, "')' after the WITHIN durations"));
        } else {
            TRY(parse_duration(p, &j->before_ms, "a duration or '(' after WITHIN"));
            j->after_ms = j->before_ms;
        }
    }
    if (at_kw(p, "GRACE")) {
        j->has_grace = true;
        TRY(advance(p));
        TRY(expect_kw(p, "PERIOD", "PERIOD after GRACE"));
        TRY(parse_duration(p, &j->grace_ms, "a duration after GRACE PERIOD"));
    }
    TRY(expect_kw(p, "ON",
                  j->within || j->has_grace ? "ON after the join window"
                                            : "WITHIN or ON after the joined source"));
    return parse_expr(p, BP_NONE, &j->on);
}

static int parse_window(struct parser *p, struct sl_sql_window *w)
{
    w->pos = tok_pos(&p->tok);
    if (at_kw(p, "TUMBLING"))
        w->kind = SL_SQL_WIN_TUMBLING;
    else if (at_kw(p, "HOPPING"))
        w->kind = SL_SQL_WIN_HOPPING;
    else if (at_kw(p, "SESSION"))
        w->kind = SL_SQL_WIN_SESSION;
    else
        return expected(p, "TUMBLING, HOPPING or SESSION after WINDOW");
    TRY(advance(p));
    TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after the window type"));
    if (w->kind == SL_SQL_WIN_SESSION) {
        TRY(parse_duration(p, &w->size_ms, "the session gap (n UNIT)"));
    } else {
        TRY(expect_kw(p, "SIZE", "SIZE"));
        TRY(parse_duration(p, &w->size_ms, "a duration after SIZE"));
    }
    if (w->kind == SL_SQL_WIN_HOPPING) {
        TRY(expect(p, SL_SQL_TK_COMMA, "',' ADVANCE BY after the HOPPING size"));
        TRY(expect_kw(p, "ADVANCE", "ADVANCE BY"));
        TRY(expect_kw(p, "BY", "BY after ADVANCE"));
        TRY(parse_duration(p, &w->advance_ms, "a duration after ADVANCE BY"));
    }
    while (at(p, SL_SQL_TK_COMMA)) {
        TRY(advance(p));
        if (at_kw(p, "RETENTION") && !w->has_retention) {
            w->has_retention = true;
            TRY(advance(p));
            TRY(parse_duration(p, &w->retention_ms, "a duration after RETENTION"));
        } else if (at_kw(p, "GRACE") && !w->has_grace) {
            w->has_grace = true;
            TRY(advance(p));
            TRY(expect_kw(p, "PERIOD", "PERIOD after GRACE"));
            TRY(parse_duration(p, &w->grace_ms, "a duration after GRACE PERIOD"));
        } else {
            return expected(p, w->has_retention || w->has_grace
                                   ? "RETENTION or GRACE PERIOD (once each)"
                                   : "RETENTION or GRACE PERIOD");
        }
    }
    return expect(p, SL_SQL_TK_RPAREN, "')' after the window");
}

/* does a parenthesised list `( e, e ... )` start here (a ',' at the first level)? */
static bool at_paren_list(const struct parser *p)
{
    if (!at(p, SL_SQL_TK_LPAREN))
        return false;
    struct sl_sql__lexst st = p->st;
    struct sl_sql__tok t;
    int level = 1;
    while (sl_sql__lex(p->src, p->len, &st, &t, NULL) && t.kind != SL_SQL_TK_EOF) {
        if (t.kind == SL_SQL_TK_LPAREN || t.kind == SL_SQL_TK_LBRACK)
            level++;
        else if ((t.kind == SL_SQL_TK_RPAREN || t.kind == SL_SQL_TK_RBRACK) && --level == 0)
            return false;
        else if (t.kind == SL_SQL_TK_COMMA && level == 1)
            return true;
        else if (t.kind == SL_SQL_TK_SEMI)
            return false;
    }
    return false;
}

static int parse_by_list(struct parser *p, struct sl_sql_expr ***list, uint32_t *n)
{
    struct vec v = {0};
    bool paren = at_paren_list(p);
    if (paren)
        TRY(advance(p));
    TRY(parse_expr_list(p, &v));
    if (paren)
        TRY(expect(p, SL_SQL_TK_RPAREN, "',' or ')' in the BY list"));
    *list = v.ptr;
    *n = v.n;
    return 0;
}

static int parse_query(struct parser *p, struct sl_sql_query **out)
{
    struct sl_sql_query *q = alloc0(p, sizeof *q);
    if (!q)
        return nomem(p);
    *out = q;
    q->pos = tok_pos(&p->tok);
    q->limit = -1;
    TRY(expect_kw(p, "SELECT", "SELECT"));
    struct vec items = {0};
    for (;;) {
        struct sl_sql_item *it = vec_push(p, &items, sizeof *it);
        if (!it)
            return nomem(p);
        TRY(parse_item(p, it));
        if (!at(p, SL_SQL_TK_COMMA))
            break;
        TRY(advance(p));
    }
    q->items = items.ptr;
    q->nitems = items.n;
    TRY(expect_kw(p, "FROM", "',' or FROM after the select list"));
    TRY(parse_relation(p, &q->from));
    struct vec joins = {0};
    while (at_kw(p, "JOIN") || at_kw(p, "INNER") || at_kw(p, "LEFT") || at_kw(p, "RIGHT") ||
           at_kw(p, "FULL")) {
        struct sl_sql_join *j = vec_push(p, &joins, sizeof *j);
        if (!j)
            return nomem(p);
        TRY(parse_join(p, j));
    }
    q->joins = joins.ptr;
    q->njoins = joins.n;
    if (at_kw(p, "WINDOW")) {
        TRY(advance(p));
        TRY(parse_window(p, &q->window));
    }
    if (at_kw(p, "WHERE")) {
        TRY(advance(p));
        TRY(parse_expr(p, BP_NONE, &q->where));
    }
    bool group = false, partition = false;
    for (;;) {
        if (at_kw(p, "GROUP") && !group) {
            group = true;
            TRY(advance(p));
            TRY(expect_kw(p, "BY", "BY after GROUP"));
            TRY(parse_by_list(p, &q->group_by, &q->ngroup_by));
        } else if (at_kw(p, "PARTITION") && !partition) {
            partition = true;
            TRY(advance(p));
            TRY(expect_kw(p, "BY", "BY after PARTITION"));
            TRY(parse_by_list(p, &q->partition_by, &q->npartition_by));
        } else {
            break;
        }
    }
    if (at_kw(p, "HAVING")) {
        TRY(advance(p));
        TRY(parse_expr(p, BP_NONE, &q->having));
    }
    if (at_kw(p, "EMIT")) {
        TRY(advance(p));
        if (at_kw(p, "CHANGES"))
            q->emit = SL_SQL_EMIT_CHANGES;
        else if (at_kw(p, "FINAL"))
            q->emit = SL_SQL_EMIT_FINAL;
        else
            return expected(p, "CHANGES or FINAL after EMIT");
        TRY(advance(p));
    }
    if (at_kw(p, "LIMIT")) {
        TRY(advance(p));
        TRY(parse_int(p, &q->limit, "a row count after LIMIT"));
    }
    return 0;
}

/* ------------------------------------------------------------------ statements */

/* a property value: a literal (a leading '-' folds into a number) */
static int parse_literal(struct parser *p, struct sl_sql_expr **out)
{
    struct sl_sql__tok start = p->tok;
    bool neg = at(p, SL_SQL_TK_MINUS);
    if (neg)
        TRY(advance(p));
    bool num = at(p, SL_SQL_TK_INT) || at(p, SL_SQL_TK_DEC) || at(p, SL_SQL_TK_DBL);
    if (neg && !num)
        return expected(p, "a number after '-'");
    if (!num && !at(p, SL_SQL_TK_STRING) && !at_kw(p, "TRUE") && !at_kw(p, "FALSE") &&
        !at_kw(p, "NULL"))
        return expected(p, "a literal (a string, a number, TRUE, FALSE or NULL)");
    TRY(parse_primary(p, out));
    struct sl_sql_expr *e = *out;
    if (neg) {
        e->pos = tok_pos(&start);
        e->i = -e->i;
        e->d = -e->d;
        if (e->kind == SL_SQL_E_BIGINT && e->i >= INT32_MIN)
            e->kind = SL_SQL_E_INT;
        if (e->text) {
            char *t = sl_arena_alloc_bytes(p->a, (size_t)e->len + 2);
            if (!t)
                return nomem(p);
            t[0] = '-';
            memcpy(t + 1, e->text, (size_t)e->len + 1);
            e->text = t;
            e->len++;
        }
    }
    return 0;
}

static int parse_props(struct parser *p, struct sl_sql_stmt *s)
{
    TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after WITH"));
    struct vec v = {0};
    for (;;) {
        struct sl_sql_prop *pr = vec_push(p, &v, sizeof *pr);
        if (!pr)
            return nomem(p);
        pr->pos = tok_pos(&p->tok);
        if (at(p, SL_SQL_TK_STRING) || at(p, SL_SQL_TK_QIDENT)) {
            uint32_t n;
            char *raw = dup_unquote(p, &p->tok, &n);
            if (!raw)
                return nomem(p);
            if (memchr(raw, 0, n))
                return err_at(p, SL_EPARSE, &p->tok, "a NUL byte in a property name");
            pr->raw = raw;
            if (!(pr->name = dup_upper(p, raw, n)))
                return nomem(p);
        } else if (at(p, SL_SQL_TK_IDENT)) {
            if (!(pr->raw = sl_arena_strndup(p->a, p->src + p->tok.off, p->tok.len)) ||
                !(pr->name = dup_upper(p, pr->raw, p->tok.len)))
                return nomem(p);
        } else {
            return expected(p, "a property name");
        }
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_EQ, "'=' after the property name"));
        TRY(parse_literal(p, &pr->value));
        if (!at(p, SL_SQL_TK_COMMA))
            break;
        TRY(advance(p));
    }
    s->props = v.ptr;
    s->nprops = v.n;
    return expect(p, SL_SQL_TK_RPAREN, "',' or ')' in the WITH properties");
}

static int parse_coldef(struct parser *p, struct sl_sql_coldef *c)
{
    c->pos = tok_pos(&p->tok);
    TRY(parse_name(p, &c->name, &c->quoted, "a column name"));
    TRY(parse_type(p, &c->type));
    if (at_kw(p, "KEY")) {
        c->key = true;
        return advance(p);
    }
    if (at_kw(p, "PRIMARY")) {
        c->primary_key = true;
        TRY(advance(p));
        return expect_kw(p, "KEY", "KEY after PRIMARY");
    }
    if (at_kw(p, "HEADERS")) {
        c->headers = true;
        return advance(p);
    }
    if (at_kw(p, "HEADER")) {
        c->headers = true;
        TRY(advance(p));
        TRY(expect(p, SL_SQL_TK_LPAREN, "'(' after HEADER"));
        TRY(expect(p, SL_SQL_TK_STRING, "a header key string"));
        return expect(p, SL_SQL_TK_RPAREN, "')' after the header key");
    }
    return 0;
}

static int parse_create(struct parser *p, struct sl_sql_stmt *s)
{
    TRY(advance(p)); /* CREATE */
    if (at_kw(p, "OR")) {
        TRY(advance(p));
        TRY(expect_kw(p, "REPLACE", "REPLACE after CREATE OR"));
        s->or_replace = true;
    }
    if (!s->or_replace && (at_kw(p, "SOURCE") || at_kw(p, "SINK"))) {
        s->kind = SL_SQL_S_CREATE_CONNECTOR;
        s->connector_source = at_kw(p, "SOURCE");
        TRY(advance(p));
        TRY(expect_kw(p, "CONNECTOR", "CONNECTOR"));
        if (at_kw(p, "IF")) {
            TRY(advance(p));
            TRY(expect_kw(p, "NOT", "NOT after IF"));
            TRY(expect_kw(p, "EXISTS", "EXISTS after IF NOT"));
            s->if_not_exists = true;
        }
        TRY(parse_name(p, &s->name, NULL, "a connector name"));
        TRY(expect_kw(p, "WITH", "WITH after the connector name"));
        return parse_props(p, s);
    }
    if (at_kw(p, "STREAM"))
        s->source_kind = SL_SQL_STREAM;
    else if (at_kw(p, "TABLE"))
        s->source_kind = SL_SQL_TABLE;
    else
        return expected(p, s->or_replace ? "STREAM or TABLE"
                                         : "STREAM, TABLE, SOURCE CONNECTOR or SINK CONNECTOR");
    TRY(advance(p));
    if (at_kw(p, "IF") && peek_n(p, 1).kind == SL_SQL_TK_IDENT) {
        struct sl_sql__tok n = peek_n(p, 1);
        if (tok_is_kw(p, &n, "NOT")) {
            TRY(advance(p));
            TRY(advance(p));
            TRY(expect_kw(p, "EXISTS", "EXISTS after IF NOT"));
            s->if_not_exists = true;
        }
    }
    TRY(parse_name(p, &s->name, NULL,
                   s->source_kind == SL_SQL_STREAM ? "a stream name" : "a table name"));
    if (at(p, SL_SQL_TK_LPAREN)) {
        s->has_cols = true;
        TRY(advance(p));
        struct vec v = {0};
        if (!at(p, SL_SQL_TK_RPAREN)) {
            for (;;) {
                struct sl_sql_coldef *c = vec_push(p, &v, sizeof *c);
                if (!c)
                    return nomem(p);
                TRY(parse_coldef(p, c));
                if (!at(p, SL_SQL_TK_COMMA))
                    break;
                TRY(advance(p));
            }
        }
        s->cols = v.ptr;
        s->ncols = v.n;
        TRY(expect(p, SL_SQL_TK_RPAREN, "',' or ')' after a column definition"));
    }
    bool with = false;
    if (at_kw(p, "WITH")) {
        with = true;
        TRY(advance(p));
        TRY(parse_props(p, s));
    }
    if (s->has_cols && at_kw(p, "AS"))
        return err_at(p, SL_EPARSE, &p->tok,
                      "expected ';' after WITH (...), found 'AS' (a column list cannot be "
                      "combined with AS SELECT)");
    if (at_kw(p, "AS")) {
        s->kind = SL_SQL_S_CREATE_AS;
        TRY(advance(p));
        return parse_query(p, &s->query);
    }
    s->kind = SL_SQL_S_CREATE_SOURCE;
    if (!with)
        return expected(p, s->has_cols ? "WITH after the column list"
                                       : "a column list, WITH or AS after the name");
    return 0;
}

static int parse_statement(struct parser *p, struct sl_sql_stmt *s);

static int parse_statement_inner(struct parser *p, struct sl_sql_stmt *s)
{
    if (at_kw(p, "CREATE"))
        return parse_create(p, s);
    if (at_kw(p, "INSERT")) {
        s->kind = SL_SQL_S_INSERT_INTO;
        TRY(advance(p));
        TRY(expect_kw(p, "INTO", "INTO after INSERT"));
        TRY(parse_name(p, &s->name, NULL, "a stream name"));
        if (at_kw(p, "WITH")) {
            TRY(advance(p));
            TRY(parse_props(p, s));
        }
        return parse_query(p, &s->query);
    }
    if (at_kw(p, "SELECT")) {
        s->kind = SL_SQL_S_SELECT;
        return parse_query(p, &s->query);
    }
    if (at_kw(p, "DROP")) {
        TRY(advance(p));
        if (at_kw(p, "CONNECTOR")) {
            s->kind = SL_SQL_S_DROP_CONNECTOR;
        } else if (at_kw(p, "STREAM") || at_kw(p, "TABLE")) {
            s->kind = SL_SQL_S_DROP;
            s->source_kind = at_kw(p, "STREAM") ? SL_SQL_STREAM : SL_SQL_TABLE;
        } else {
            return expected(p, "STREAM, TABLE or CONNECTOR after DROP");
        }
        TRY(advance(p));
        if (at_kw(p, "IF") && peek_n(p, 1).kind == SL_SQL_TK_IDENT) {
            struct sl_sql__tok n = peek_n(p, 1);
            if (tok_is_kw(p, &n, "EXISTS")) {
                TRY(advance(p));
                TRY(advance(p));
                s->if_exists = true;
            }
        }
        TRY(parse_name(p, &s->name, NULL, "a name"));
        if (s->kind == SL_SQL_S_DROP && at_kw(p, "DELETE")) {
            TRY(advance(p));
            TRY(expect_kw(p, "TOPIC", "TOPIC after DELETE"));
            s->delete_topic = true;
        }
        return 0;
    }
    if (at_kw(p, "SET") || at_kw(p, "UNSET")) {
        s->kind = at_kw(p, "SET") ? SL_SQL_S_SET : SL_SQL_S_UNSET;
        TRY(advance(p));
        if (!at(p, SL_SQL_TK_STRING))
            return expected(p, "a quoted property name ('name')");
        TRY(dup_cstring(p, &s->prop_name));
        TRY(advance(p));
        if (s->kind == SL_SQL_S_UNSET)
            return 0;
        TRY(expect(p, SL_SQL_TK_EQ, "'=' after the property name"));
        if (!at(p, SL_SQL_TK_STRING))
            return expected(p, "a quoted property value ('value')");
        TRY(dup_cstring(p, &s->prop_value));
        return advance(p);
    }
    if (at_kw(p, "SHOW") || at_kw(p, "LIST")) {
        s->kind = SL_SQL_S_SHOW;
        TRY(advance(p));
        static const char *const what[] = {"STREAMS", "TABLES",    "QUERIES",   "PROPERTIES",
                                           "TOPICS",  "FUNCTIONS", "CONNECTORS"};
        for (size_t i = 0; i < sizeof what / sizeof what[0]; i++)
            if (at_kw(p, what[i]))
                s->show = what[i];
        if (!s->show)
            return expected(p, "STREAMS, TABLES, QUERIES, PROPERTIES, TOPICS, FUNCTIONS or "
                               "CONNECTORS");
        TRY(advance(p));
        return accept_kw(p, "EXTENDED", &s->extended);
    }
    if (at_kw(p, "DESCRIBE")) {
        s->kind = SL_SQL_S_DESCRIBE;
        TRY(advance(p));
        enum sl_sql__tk n = peek_kind(p);
        if (at_kw(p, "EXTENDED") && (n == SL_SQL_TK_IDENT || n == SL_SQL_TK_QIDENT))
            TRY(accept_kw(p, "EXTENDED", &s->extended));
        return parse_name(p, &s->name, NULL, "a stream or table name");
    }
    if (at_kw(p, "EXPLAIN")) {
        s->kind = SL_SQL_S_EXPLAIN;
        TRY(advance(p));
        if (at_kw(p, "SELECT"))
            return parse_query(p, &s->query);
        if (at_kw(p, "CREATE") || at_kw(p, "INSERT")) {
            struct sl_sql_stmt inner;
            memset(&inner, 0, sizeof inner);
            struct sl_sql__tok t = p->tok;
            TRY(parse_statement(p, &inner));
            if (!inner.query)
                return err_at(p, SL_EPARSE, &t,
                              "EXPLAIN takes a query id or a query, found a "
                              "statement without a query");
            s->query = inner.query;
            return 0;
        }
        return parse_name(p, &s->name, NULL, "a query id or a query after EXPLAIN");
    }
    if (at_kw(p, "TERMINATE")) {
        s->kind = SL_SQL_S_TERMINATE;
        TRY(advance(p));
        enum sl_sql__tk n = peek_kind(p);
        if (at_kw(p, "ALL") && (n == SL_SQL_TK_SEMI || n == SL_SQL_TK_EOF))
            return accept_kw(p, "ALL", &s->all);
        return parse_name(p, &s->name, NULL, "a query id or ALL after TERMINATE");
    }
    return expected(p, "a statement (CREATE, INSERT, SELECT, DROP, SET, UNSET, SHOW, LIST, "
                       "DESCRIBE, EXPLAIN, TERMINATE)");
}

static int parse_statement(struct parser *p, struct sl_sql_stmt *s)
{
    if (++p->depth > SL_SQL_MAX_DEPTH)
        return too_deep(p);
    int rc = parse_statement_inner(p, s);
    p->depth--;
    return rc;
}

/* ------------------------------------------------------------------ entry points */

static int parser_init(struct parser *p, const char *src, size_t len, struct sl_arena *a,
                       struct sl_diag *d)
{
    memset(p, 0, sizeof *p);
    p->src = src;
    p->len = len;
    p->a = a;
    p->d = d;
    p->st.line = 1;
    p->tok.line = 1;
    p->tok.col = 1;
    if (len > SL_SQL_MAX_SRC) {
        p->len = 0; /* no hint: the text is not read at all */
        return err_pos(p, SL_E2BIG, 0, 1, 1, "SQL text of %zu bytes is larger than %u", len,
                       SL_SQL_MAX_SRC);
    }
    if (!src && len)
        return err_pos(p, SL_EINVAL, 0, 1, 1, "no SQL text");
    return advance(p);
}

int sl_sql_parse(const char *src, size_t len, struct sl_arena *a, struct sl_sql_script **out,
                 struct sl_diag *d)
{
    struct parser p;
    *out = NULL;
    TRY(parser_init(&p, src, len, a, d));
    struct sl_sql_script *script = alloc0(&p, sizeof *script);
    if (!script)
        return nomem(&p);
    struct vec v = {0};
    for (;;) {
        while (at(&p, SL_SQL_TK_SEMI))
            TRY(advance(&p));
        if (at(&p, SL_SQL_TK_EOF))
            break;
        struct sl_sql_stmt *s = vec_push(&p, &v, sizeof *s);
        if (!s)
            return nomem(&p);
        struct sl_sql__tok start = p.tok;
        s->pos = tok_pos(&start);
        TRY(parse_statement(&p, s));
        s->end = p.prev_end;
        if (!(s->text = sl_arena_strndup(a, src + start.off, s->end - start.off)))
            return nomem(&p);
        if (!at(&p, SL_SQL_TK_SEMI) && !at(&p, SL_SQL_TK_EOF))
            return expected(&p, "';' or the end of the statement");
    }
    script->stmts = v.ptr;
    script->nstmts = v.n;
    *out = script;
    return 0;
}

int sl_sql_parse_expr(const char *src, size_t len, struct sl_arena *a, struct sl_sql_expr **out,
                      struct sl_diag *d)
{
    struct parser p;
    *out = NULL;
    TRY(parser_init(&p, src, len, a, d));
    struct sl_sql_expr *e;
    TRY(parse_expr(&p, BP_NONE, &e));
    if (!at(&p, SL_SQL_TK_EOF))
        return expected(&p, "an operator or the end of the expression");
    *out = e;
    return 0;
}
