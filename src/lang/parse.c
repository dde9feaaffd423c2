/*
 * parse.c — recursive-descent parser for Stellar, producing an AST in an arena.
 *
 * DESIGN: the grammar is Metron's Stellar.g4, rewritten as precedence functions that accept
 * the same language and build the same trees for it:
 *   expr      := 'match' '{' ... '}' | 'if' logical 'then' expr 'else' expr
 *              | logical ('?' expr ':' expr)?
 *   logical   := bexpr (('and'|'or') logical)?          right-recursive, and == or
 *   bexpr     := compare (('in'|'not in') bexpr)?        'x' in 'xy' == true: in(x, (xy == true))
 *   compare   := additive (cmpop additive)*             left-associative, one level
 *   additive  := mul (('+'|'-') mul)*
 *   mul       := primary (('*'|'/') primary)*
 *   primary   := literal | list | map | ident | call | lambda | exists(id) | not(expr)
 *              | '(' expr ')'
 * Where Metron's grammar demands parentheses (a ternary inside arithmetic), this parser
 * accepts the parenthesised form and, being a superset there, also a few forms ANTLR
 * rejects (documented in docs/stellar.md). Lambda parameters are resolved here: an
 * identifier naming a parameter of an enclosing lambda becomes a PARAM node (depth, index).
 */
#include "lang/lang_int.h"

#include "lang/sval.h"

#include <stdio.h>
#include <string.h>

struct scope {
    const struct scope *up;
    const struct sl_node *lambda;
};

struct parser {
    struct sl_lexer lx;
    struct sl_token tok; /* current */
    struct sl_arena *arena;
    struct sl_diag *d;
    int depth;
    const struct scope *scope;
};

static int advance(struct parser *ps)
{
    return sl_lang__lex(&ps->lx, &ps->tok);
}

static int error_at(struct parser *ps, uint32_t pos, int err, const char *fmt, const char *arg)
{
    (void)fmt; /* always "%s" or "unknown function %s" */
    ps->d->col = pos + 1;
    ps->d->offset = pos;
    if (!strcmp(fmt, "%s"))
        return sl_diag_set(ps->d, err, "%s", arg);
    return sl_diag_set(ps->d, err, "unknown function %s", arg);
}

static int expected(struct parser *ps, const char *what)
{
    char msg[200];
    if (ps->tok.kind == SL_T_EOF)
        snprintf(msg, sizeof msg, "expected %s, found the end of the expression", what);
    else
        snprintf(msg, sizeof msg, "expected %s, found %.*s", what,
                 (int)(ps->tok.len > 40 ? 40 : ps->tok.len), ps->lx.src + ps->tok.pos);
    return error_at(ps, ps->tok.pos, SL_EPARSE, "%s", msg);
}

static int expect(struct parser *ps, enum sl_tok k)
{
    if (ps->tok.kind != k)
        return expected(ps, sl_lang__tok_name(k));
    return advance(ps);
}

static struct sl_node *mk(struct parser *ps, enum sl_node_kind kind, uint32_t pos)
{
    struct sl_node *n = sl_arena_alloc(ps->arena, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->kind = kind;
        n->pos = pos;
    }
    return n;
}

#define NEW(var, kind, pos)                                                                        \
    do {                                                                                           \
        var = mk(ps, kind, pos);                                                                   \
        if (!var)                                                                                  \
            return sl_diag_set(ps->d, SL_ENOMEM, "out of memory");                                 \
    } while (0)

static int parse_expr(struct parser *ps, struct sl_node **out);
static int parse_logical(struct parser *ps, struct sl_node **out);
static int parse_compare(struct parser *ps, struct sl_node **out);

/* A growable array of node pointers in the arena. */
struct nodes {
    struct sl_node **v;
    uint32_t n, cap;
};
static int nodes_push(struct parser *ps, struct nodes *ns, struct sl_node *x)
{
    if (ns->n == ns->cap) {
        uint32_t cap = ns->cap ? ns->cap * 2 : 4;
        struct sl_node **v = sl_arena_alloc(ps->arena, cap * sizeof *v);
        if (!v)
            return sl_diag_set(ps->d, SL_ENOMEM, "out of memory");
        if (ns->n)
            memcpy(v, ns->v, ns->n * sizeof *v);
        ns->v = v;
        ns->cap = cap;
    }
    ns->v[ns->n++] = x;
    return 0;
}

/* Resolve an identifier against the lambda scopes: PARAM node or VAR node. */
static int ident_node(struct parser *ps, uint32_t pos, const char *name, uint32_t len,
                      struct sl_node **out)
{
    uint16_t depth = 0;
    for (const struct scope *s = ps->scope; s; s = s->up, depth++) {
        const struct sl_node *l = s->lambda;
        for (uint32_t i = 0; i < l->nparams; i++) {
            if (l->param_lens[i] == len && !memcmp(l->params[i], name, len)) {
                struct sl_node *n;
                NEW(n, SL_N_PARAM, pos);
                n->depth = depth;
                n->index = (uint16_t)i;
                n->name = name;
                n->name_len = len;
                *out = n;
                return 0;
            }
        }
    }
    struct sl_node *n;
    NEW(n, SL_N_VAR, pos);
    n->name = name;
    n->name_len = len;
    *out = n;
    return 0;
}

/* Is the current '(' the start of a lambda's parameter list? Scans ahead without consuming. */
static bool lambda_ahead(struct parser *ps)
{
    struct sl_lexer save = ps->lx;
    struct sl_token t;
    struct sl_diag dd;
    struct sl_diag *od = ps->lx.d;
    ps->lx.d = &dd;
    bool yes = false;
    /* after '(' : ')' '->'  |  IDENT (',' IDENT)* ')' '->' */
    if (sl_lang__lex(&ps->lx, &t))
        goto done;
    if (t.kind == SL_T_RPAREN) {
        yes = !sl_lang__lex(&ps->lx, &t) && t.kind == SL_T_ARROW;
        goto done;
    }
    for (;;) {
        if (t.kind != SL_T_IDENT)
            goto done;
        if (sl_lang__lex(&ps->lx, &t))
            goto done;
        if (t.kind == SL_T_RPAREN) {
            yes = !sl_lang__lex(&ps->lx, &t) && t.kind == SL_T_ARROW;
            goto done;
        }
        if (t.kind != SL_T_COMMA || sl_lang__lex(&ps->lx, &t))
            goto done;
    }
done:
    ps->lx = save;
    ps->lx.d = od;
    return yes;
}

static int parse_lambda_body(struct parser *ps, struct sl_node *lam)
{
    struct scope sc = {.up = ps->scope, .lambda = lam};
    const struct scope *saved = ps->scope;
    ps->scope = &sc;
    int rc = parse_expr(ps, &lam->a);
    ps->scope = saved;
    return rc;
}

/* At '(' known to start a lambda. */
static int parse_lambda_parens(struct parser *ps, struct sl_node **out)
{
    struct sl_node *lam;
    NEW(lam, SL_N_LAMBDA, ps->tok.pos);
    int rc = advance(ps);
    if (rc)
        return rc;
    const char *names[SL_STELLAR_MAX_REGS];
    uint32_t lens[SL_STELLAR_MAX_REGS];
    uint32_t n = 0;
    while (ps->tok.kind == SL_T_IDENT) {
        if (n >= 32)
            return error_at(ps, ps->tok.pos, SL_E2BIG, "%s", "too many lambda parameters");
        names[n] = ps->lx.src + ps->tok.pos;
        lens[n++] = ps->tok.len;
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind == SL_T_COMMA && (rc = advance(ps)))
            return rc;
    }
    if ((rc = expect(ps, SL_T_RPAREN)) || (rc = expect(ps, SL_T_ARROW)))
        return rc;
    lam->nparams = n;
    lam->params = sl_arena_alloc(ps->arena, (n ? n : 1) * sizeof(char *));
    lam->param_lens = sl_arena_alloc(ps->arena, (n ? n : 1) * sizeof(uint32_t));
    if (!lam->params || !lam->param_lens)
        return sl_diag_set(ps->d, SL_ENOMEM, "out of memory");
    memcpy(lam->params, names, n * sizeof(char *));
    memcpy(lam->param_lens, lens, n * sizeof(uint32_t));
    if ((rc = parse_lambda_body(ps, lam)))
        return rc;
    *out = lam;
    return 0;
}

static int parse_args(struct parser *ps, enum sl_tok close, struct nodes *ns)
{
    int rc;
    if (ps->tok.kind == close)
        return advance(ps);
    for (;;) {
        struct sl_node *x;
        if ((rc = parse_expr(ps, &x)) || (rc = nodes_push(ps, ns, x)))
            return rc;
        if (ps->tok.kind == SL_T_COMMA) {
            if ((rc = advance(ps)))
                return rc;
            continue;
        }
        if (ps->tok.kind == close)
            return advance(ps);
        return expected(ps, close == SL_T_RPAREN ? "',' or ')'" : "',' or ']'");
    }
}

static int parse_primary_at(struct parser *ps, struct sl_node **out)
{
    struct sl_token t = ps->tok;
    struct sl_node *n;
    int rc;
    switch (t.kind) {
    case SL_T_INT:
    case SL_T_LONG:
    case SL_T_FLOAT:
    case SL_T_DOUBLE:
    case SL_T_STRING:
    case SL_T_NAN:
        NEW(n, SL_N_CONST, t.pos);
        n->lit = t.lit;
        *out = n;
        return advance(ps);
    case SL_T_TRUE:
    case SL_T_FALSE:
        NEW(n, SL_N_CONST, t.pos);
        n->lit = sl_value_bool(t.kind == SL_T_TRUE);
        *out = n;
        return advance(ps);
    case SL_T_NULL:
        NEW(n, SL_N_CONST, t.pos);
        n->lit = sl_value_null();
        *out = n;
        return advance(ps);
    case SL_T_EXISTS: {
        if ((rc = advance(ps)) || (rc = expect(ps, SL_T_LPAREN)))
            return rc;
        if (ps->tok.kind != SL_T_IDENT)
            return expected(ps, "a variable name inside exists(...)");
        struct sl_node *id;
        if ((rc = ident_node(ps, ps->tok.pos, ps->lx.src + ps->tok.pos, ps->tok.len, &id)))
            return rc;
        if ((rc = advance(ps)) || (rc = expect(ps, SL_T_RPAREN)))
            return rc;
        NEW(n, SL_N_EXISTS, t.pos);
        n->a = id; /* VAR or PARAM */
        *out = n;
        return 0;
    }
    case SL_T_NOT: {
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind != SL_T_LPAREN)
            return expected(ps, "'(' after not (Stellar writes not(...))");
        if ((rc = advance(ps)))
            return rc;
        NEW(n, SL_N_NOT, t.pos);
        if ((rc = parse_expr(ps, &n->a)) || (rc = expect(ps, SL_T_RPAREN)))
            return rc;
        *out = n;
        return 0;
    }
    case SL_T_LBRACK: {
        struct nodes ns = {0};
        if ((rc = advance(ps)) || (rc = parse_args(ps, SL_T_RBRACK, &ns)))
            return rc;
        NEW(n, SL_N_LIST, t.pos);
        n->args = ns.v;
        n->nargs = ns.n;
        *out = n;
        return 0;
    }
    case SL_T_LBRACE: {
        struct nodes ns = {0};
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind != SL_T_RBRACE) {
            for (;;) {
                struct sl_node *k, *v;
                if ((rc = parse_compare(ps, &k)))
                    return rc;
                if ((rc = expect(ps, SL_T_COLON)))
                    return rc;
                if ((rc = parse_expr(ps, &v)))
                    return rc;
                if ((rc = nodes_push(ps, &ns, k)) || (rc = nodes_push(ps, &ns, v)))
                    return rc;
                if (ps->tok.kind == SL_T_COMMA) {
                    if ((rc = advance(ps)))
                        return rc;
                    continue;
                }
                if (ps->tok.kind == SL_T_RBRACE)
                    break;
                return expected(ps, "',' or '}'");
            }
        }
        if ((rc = advance(ps)))
            return rc;
        NEW(n, SL_N_MAP, t.pos);
        n->args = ns.v;
        n->nargs = ns.n;
        *out = n;
        return 0;
    }
    case SL_T_LPAREN:
        if (lambda_ahead(ps))
            return parse_lambda_parens(ps, out);
        if ((rc = advance(ps)) || (rc = parse_expr(ps, out)))
            return rc;
        return expect(ps, SL_T_RPAREN);
    case SL_T_IDENT: {
        const char *name = ps->lx.src + t.pos;
        uint32_t len = t.len;
        if ((rc = advance(ps)))
            return rc;
        if (ps->tok.kind == SL_T_ARROW) { /* x -> body */
            NEW(n, SL_N_LAMBDA, t.pos);
            n->nparams = 1;
            n->params = sl_arena_alloc(ps->arena, sizeof(char *));
            n->param_lens = sl_arena_alloc(ps->arena, sizeof(uint32_t));
            if (!n->params || !n->param_lens)
                return sl_diag_set(ps->d, SL_ENOMEM, "out of memory");
            n->params[0] = name;
            n->param_lens[0] = len;
            if ((rc = advance(ps)) || (rc = parse_lambda_body(ps, n)))
                return rc;
            *out = n;
            return 0;
        }
        if (ps->tok.kind == SL_T_LPAREN) {
            const struct sl_sfunc *fn = sl_sfunc_find(name, len);
            if (!fn) {
                char nm[128];
                snprintf(nm, sizeof nm, "%.*s", (int)(len > 100 ? 100 : len), name);
                return error_at(ps, t.pos, SL_EPARSE, "unknown function %s", nm);
            }
            struct nodes ns = {0};
            if ((rc = advance(ps)) || (rc = parse_args(ps, SL_T_RPAREN, &ns)))
                return rc;
            if ((int)ns.n < fn->min_args ||
                (fn->max_args != SL_SF_VARARGS && (int)ns.n > fn->max_args)) {
                char msg[200];
                if (fn->max_args == SL_SF_VARARGS)
                    snprintf(msg, sizeof msg, "%s takes at least %d argument(s), got %u %s",
                             fn->name, fn->min_args, ns.n, fn->params ? fn->params : "");
                else
                    snprintf(msg, sizeof msg, "%s takes %d to %d argument(s), got %u %s", fn->name,
                             fn->min_args, fn->max_args, ns.n, fn->params ? fn->params : "");
                return error_at(ps, t.pos, SL_ETYPE, "%s", msg);
            }
            NEW(n, SL_N_CALL, t.pos);
            n->fn = fn;
            n->name = name;
            n->name_len = len;
            n->args = ns.v;
            n->nargs = ns.n;
            *out = n;
            return 0;
        }
        return ident_node(ps, t.pos, name, len, out);
    }
    case SL_T_MATCH:
    case SL_T_IF:
        return parse_expr(ps, out);
    default:
        return expected(ps, "a value, variable, function call or '('");
    }
}

/* Every nesting path (map keys reach parse_primary through parse_compare, not parse_expr)
 * counts against the depth limit, so hostile input cannot exhaust the stack. */
static int parse_primary(struct parser *ps, struct sl_node **out)
{
    if (++ps->depth > SL_STELLAR_MAX_DEPTH)
        return error_at(ps, ps->tok.pos, SL_EDEPTH, "%s", "expression nested too deeply");
    int rc = parse_primary_at(ps, out);
    ps->depth--;
    return rc;
}

static int parse_mul(struct parser *ps, struct sl_node **out)
{
    int rc = parse_primary(ps, out);
    while (!rc && (ps->tok.kind == SL_T_MUL || ps->tok.kind == SL_T_DIV)) {
        struct sl_node *n;
        NEW(n, SL_N_BINOP, ps->tok.pos);
        n->op = ps->tok.kind == SL_T_MUL ? SL_OP_MUL : SL_OP_DIV;
        n->a = *out;
        if ((rc = advance(ps)) || (rc = parse_primary(ps, &n->b)))
            return rc;
        *out = n;
    }
    return rc;
}

static int parse_additive(struct parser *ps, struct sl_node **out)
{
    int rc = parse_mul(ps, out);
    while (!rc && (ps->tok.kind == SL_T_PLUS || ps->tok.kind == SL_T_MINUS)) {
        struct sl_node *n;
        NEW(n, SL_N_BINOP, ps->tok.pos);
        n->op = ps->tok.kind == SL_T_PLUS ? SL_OP_ADD : SL_OP_SUB;
        n->a = *out;
        if ((rc = advance(ps)) || (rc = parse_mul(ps, &n->b)))
            return rc;
        *out = n;
    }
    return rc;
}

static int cmp_op(enum sl_tok k, enum sl_op *op)
{
    switch (k) {
    case SL_T_EQ:
        *op = SL_OP_EQ;
        return 1;
    case SL_T_NE:
        *op = SL_OP_NE;
        return 1;
    case SL_T_LT:
        *op = SL_OP_LT;
        return 1;
    case SL_T_LE:
        *op = SL_OP_LE;
        return 1;
    case SL_T_GT:
        *op = SL_OP_GT;
        return 1;
    case SL_T_GE:
        *op = SL_OP_GE;
        return 1;
    default:
        return 0;
    }
}

static int parse_compare(struct parser *ps, struct sl_node **out)
{
    int rc = parse_additive(ps, out);
    enum sl_op op;
    while (!rc && cmp_op(ps->tok.kind, &op)) {
        struct sl_node *n;
        NEW(n, SL_N_BINOP, ps->tok.pos);
        n->op = op;
        n->a = *out;
        if ((rc = advance(ps)) || (rc = parse_additive(ps, &n->b)))
            return rc;
        *out = n;
    }
    return rc;
}

static int parse_bexpr(struct parser *ps, struct sl_node **out)
{
    int rc = parse_compare(ps, out);
    if (rc)
        return rc;
    if (ps->tok.kind == SL_T_IN || ps->tok.kind == SL_T_NOT_IN) {
        struct sl_node *n;
        NEW(n, SL_N_BINOP, ps->tok.pos);
        n->op = ps->tok.kind == SL_T_IN ? SL_OP_IN : SL_OP_NOTIN;
        n->a = *out;
        if ((rc = advance(ps)) || (rc = parse_bexpr(ps, &n->b)))
            return rc;
        *out = n;
    }
    return 0;
}

static int parse_logical(struct parser *ps, struct sl_node **out)
{
    if (++ps->depth > SL_STELLAR_MAX_DEPTH)
        return error_at(ps, ps->tok.pos, SL_EDEPTH, "%s", "expression nested too deeply");
    int rc = parse_bexpr(ps, out);
    if (!rc && (ps->tok.kind == SL_T_AND || ps->tok.kind == SL_T_OR)) {
        struct sl_node *n;
        NEW(n, ps->tok.kind == SL_T_AND ? SL_N_AND : SL_N_OR, ps->tok.pos);
        n->a = *out;
        if ((rc = advance(ps)) || (rc = parse_logical(ps, &n->b)))
            return rc;
        *out = n;
    }
    ps->depth--;
    return rc;
}

static int parse_match(struct parser *ps, struct sl_node **out)
{
    struct sl_node *n;
    NEW(n, SL_N_MATCH, ps->tok.pos);
    int rc;
    if ((rc = advance(ps)) || (rc = expect(ps, SL_T_LBRACE)))
        return rc;
    struct nodes ns = {0};
    for (;;) {
        if (ps->tok.kind == SL_T_DEFAULT) {
            if ((rc = advance(ps)) || (rc = expect(ps, SL_T_FATARROW)) ||
                (rc = parse_expr(ps, &n->a)) || (rc = expect(ps, SL_T_RBRACE)))
                return rc;
            break;
        }
        if (ps->tok.kind == SL_T_RBRACE)
            return expected(ps, "a default clause (match needs 'default => ...')");
        struct sl_node *c, *v;
        if ((rc = parse_expr(ps, &c)) || (rc = expect(ps, SL_T_FATARROW)) ||
            (rc = parse_expr(ps, &v)))
            return rc;
        if ((rc = nodes_push(ps, &ns, c)) || (rc = nodes_push(ps, &ns, v)))
            return rc;
        if ((rc = expect(ps, SL_T_COMMA)))
            return rc;
    }
    n->args = ns.v;
    n->nargs = ns.n;
    *out = n;
    return 0;
}

static int parse_expr(struct parser *ps, struct sl_node **out)
{
    int rc;
    if (++ps->depth > SL_STELLAR_MAX_DEPTH)
        return error_at(ps, ps->tok.pos, SL_EDEPTH, "%s", "expression nested too deeply");
    if (ps->tok.kind == SL_T_MATCH) {
        rc = parse_match(ps, out);
    } else if (ps->tok.kind == SL_T_IF) {
        struct sl_node *n;
        NEW(n, SL_N_COND, ps->tok.pos);
        if ((rc = advance(ps)) || (rc = parse_logical(ps, &n->a)) || (rc = expect(ps, SL_T_THEN)) ||
            (rc = parse_expr(ps, &n->b)) || (rc = expect(ps, SL_T_ELSE)) ||
            (rc = parse_expr(ps, &n->c)))
            return rc;
        *out = n;
    } else {
        rc = parse_logical(ps, out);
        if (!rc && ps->tok.kind == SL_T_QUESTION) {
            struct sl_node *n;
            NEW(n, SL_N_COND, ps->tok.pos);
            n->a = *out;
            if ((rc = advance(ps)) || (rc = parse_expr(ps, &n->b)) ||
                (rc = expect(ps, SL_T_COLON)) || (rc = parse_expr(ps, &n->c)))
                return rc;
            *out = n;
        }
    }
    ps->depth--;
    return rc;
}

int sl_lang__parse(const char *src, uint32_t len, struct sl_arena *arena, struct sl_node **out,
                   struct sl_diag *d)
{
    struct parser ps = {.arena = arena, .d = d};
    ps.lx.src = src;
    ps.lx.len = len;
    ps.lx.arena = arena;
    ps.lx.d = d;
    int rc = advance(&ps);
    if (rc)
        return rc;
    if ((rc = parse_expr(&ps, out)))
        return rc;
    if (ps.tok.kind != SL_T_EOF)
        return expected(&ps, "an operator or the end of the expression");
    return 0;
}
