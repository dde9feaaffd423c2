/*
 * sql_expr.c — type inference and lowering of SQL expressions (sql_ast.h) to Stellar's AST,
 * compiled and run by the Stellar compiler and VM (see sql_expr.h for the contract).
 *
 * DESIGN: one recursive pass computes each node's type and builds the Stellar node for it in
 * the program's arena: a column is SL_N_COL (LOADC of its row slot), an operator a call of a
 * "$" builtin of lang/fn_sql.c chosen by the operand types ($ADD_INT for INT + INT), CASE a
 * chain of SL_N_COND (lazy: only the chosen branch runs; a NULL condition is false), AND/OR
 * SL_N_AND/SL_N_OR (short-circuit). The Stellar compiler then folds constant sub-trees with
 * the same builtins and emits bytecode; nothing is looked up by name per row.
 *
 * Type rules (ksqlDB): INT op INT is INT, INT op BIGINT is BIGINT, anything op DOUBLE is
 * DOUBLE; DECIMAL is computed as DOUBLE (a DECIMAL literal or column in arithmetic gives a
 * DOUBLE; CAST(x AS DECIMAL(p, s)) rounds HALF_UP to s decimals and keeps the DECIMAL type);
 * STRING + STRING concatenates (NULL if either is NULL); comparisons need comparable types
 * (numbers with numbers, strings with strings, booleans with booleans; UNKNOWN with anything).
 *
 * NULL (ksqlDB, ../shared/specs/ksql.md §1.6): a comparison, BETWEEN, IN, LIKE with a NULL
 * operand is FALSE, so NOT IN / NOT BETWEEN / NOT LIKE (NOT of that FALSE) are TRUE for a
 * NULL operand, as in ksqlDB where NOT wraps the predicate; NOT NULL is NULL. AND and OR treat
 * a NULL operand as FALSE and always give a BOOLEAN: `NULL AND TRUE` is FALSE and
 * `NULL OR TRUE` TRUE, in WHERE and in a projection alike (ksqlDB's comparisons never make a
 * NULL, so only a NULL BOOLEAN column or literal can reach AND/OR).
 */
#include "sql/sql_expr.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "lang/func.h"
#include "lang/lang_int.h"
#include "lang/sval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- types ---- */

static struct sl_sql_type t_unknown = {.kind = SL_SQL_T_UNKNOWN};
static struct sl_sql_type t_bool = {.kind = SL_SQL_T_BOOLEAN};
static struct sl_sql_type t_int = {.kind = SL_SQL_T_INT};
static struct sl_sql_type t_bigint = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type t_double = {.kind = SL_SQL_T_DOUBLE};
static struct sl_sql_type t_string = {.kind = SL_SQL_T_STRING};
static struct sl_sql_type t_bytes = {.kind = SL_SQL_T_BYTES};

static const char *const tnames[] = {
#define SL_SQL_T_NAME(n, s) s,
    SL_SQL_TYPES(SL_SQL_T_NAME)
#undef SL_SQL_T_NAME
};

static const char *tname(const struct sl_sql_type *t)
{
    return t && t->kind < SL_SQL_T__COUNT ? tnames[t->kind] : "UNKNOWN";
}

static bool is_num(const struct sl_sql_type *t)
{
    return t->kind == SL_SQL_T_INT || t->kind == SL_SQL_T_BIGINT || t->kind == SL_SQL_T_DOUBLE ||
           t->kind == SL_SQL_T_DECIMAL;
}

static bool is_unknown(const struct sl_sql_type *t)
{
    return !t || t->kind == SL_SQL_T_UNKNOWN;
}

static int num_rank(const struct sl_sql_type *t)
{
    switch (t->kind) {
    case SL_SQL_T_INT:
        return 1;
    case SL_SQL_T_BIGINT:
        return 2;
    default:
        return 3;
    }
}

/* the wider numeric type (DECIMAL counts as DOUBLE) */
static const struct sl_sql_type *num_wider(const struct sl_sql_type *a, const struct sl_sql_type *b)
{
    int r = num_rank(a) > num_rank(b) ? num_rank(a) : num_rank(b);
    return r == 1 ? &t_int : r == 2 ? &t_bigint : &t_double;
}

/* common type of two branches/arguments, NULL if incompatible */
static const struct sl_sql_type *common(const struct sl_sql_type *a, const struct sl_sql_type *b)
{
    if (is_unknown(a))
        return b ? b : &t_unknown;
    if (is_unknown(b))
        return a;
    if (is_num(a) && is_num(b)) {
        if (a->kind == b->kind)
            return a;
        return num_wider(a, b);
    }
    return a->kind == b->kind ? a : NULL;
}

static bool comparable(const struct sl_sql_type *a, const struct sl_sql_type *b, bool eq)
{
    if (is_unknown(a) || is_unknown(b))
        return true;
    if (is_num(a) && is_num(b))
        return true;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case SL_SQL_T_STRING:
    case SL_SQL_T_BOOLEAN:
    case SL_SQL_T_BYTES:
    case SL_SQL_T_TIMESTAMP:
    case SL_SQL_T_DATE:
    case SL_SQL_T_TIME:
        return true;
    default:
        return eq; /* ARRAY, MAP, STRUCT: = and <> only */
    }
}

/* ---- the lowering pass ---- */

struct lower {
    const struct sl_sql_scope *scope;
    struct sl_arena *types;
    struct sl_stellar_prog *p;
    struct sl_diag *d;
};

static int err_at(struct lower *L, const struct sl_sql_expr *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int err_at(struct lower *L, const struct sl_sql_expr *e, int code, const char *fmt, ...)
{
    char msg[sizeof L->d->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e) {
        L->d->line = e->pos.line;
        L->d->col = e->pos.col;
        L->d->offset = e->pos.offset;
    }
    return sl_diag_set(L->d, code, "%s", msg);
}

static int oom(struct lower *L)
{
    return sl_diag_set(L->d, SL_ENOMEM, "out of memory");
}

/* The parser's canonical text of an expression (sql_parse.h); weak so that this file links
 * (and falls back to etext's own short forms) without the parser. */
int sl_sql_expr_format(const struct sl_sql_expr *e, struct sl_buf *out) __attribute__((weak));

/* A short text of e for messages: its SQL text when the parser's formatter is linked, else a
 * column's name, a literal, or the expression's kind. */
static void etext(const struct sl_sql_expr *e, char *out, size_t n)
{
    if (sl_sql_expr_format) {
        struct sl_buf b;
        sl_buf_init(&b, 4096);
        int rc = sl_sql_expr_format(e, &b);
        if (!rc && b.len) {
            if (b.len < n)
                snprintf(out, n, "%.*s", (int)b.len, b.ptr);
            else
                snprintf(out, n, "%.*s...", (int)(n > 4 ? n - 4 : 0), b.ptr);
            sl_buf_fini(&b);
            return;
        }
        sl_buf_fini(&b);
    }
    switch (e->kind) {
    case SL_SQL_E_COLUMN:
        if (e->qualifier)
            snprintf(out, n, "%s.%s", e->qualifier, e->name ? e->name : "");
        else
            snprintf(out, n, "%s", e->name ? e->name : "");
        return;
    case SL_SQL_E_INT:
    case SL_SQL_E_BIGINT:
        snprintf(out, n, "%lld", (long long)e->i);
        return;
    case SL_SQL_E_DOUBLE:
        snprintf(out, n, "%g", e->d);
        return;
    case SL_SQL_E_DECIMAL:
        snprintf(out, n, "%.*s", (int)e->len, e->text ? e->text : "");
        return;
    case SL_SQL_E_STRING:
        snprintf(out, n, "'%.*s'", (int)(e->len > 40 ? 40 : e->len), e->text ? e->text : "");
        return;
    case SL_SQL_E_NULL:
        snprintf(out, n, "NULL");
        return;
    case SL_SQL_E_BOOL:
        snprintf(out, n, "%s", e->b ? "true" : "false");
        return;
    case SL_SQL_E_CALL:
        snprintf(out, n, "%s(...)", e->name ? e->name : "");
        return;
    case SL_SQL_E_DEREF:
        snprintf(out, n, "...->%s", e->name ? e->name : "");
        return;
    default: {
        static const char *const kn[] = {
#define SL_SQL_E_NAME(k, s) s,
            SL_SQL_EXPRS(SL_SQL_E_NAME)
#undef SL_SQL_E_NAME
        };
        snprintf(out, n, "%s expression", e->kind < SL_SQL_E__COUNT ? kn[e->kind] : "an");
        return;
    }
    }
}

static struct sl_node *node(struct lower *L, enum sl_node_kind k, const struct sl_sql_expr *e)
{
    return sl_lang__node(L->p, k, e ? e->pos.offset : 0);
}

static struct sl_node *konst(struct lower *L, const struct sl_sql_expr *e, struct sl_value v)
{
    struct sl_node *n = node(L, SL_N_CONST, e);
    if (n)
        n->lit = v;
    return n;
}

static struct sl_node *kstr(struct lower *L, const struct sl_sql_expr *e, const char *s, size_t len)
{
    char *c = sl_arena_strndup(&L->p->arena, s ? s : "", s ? len : 0);
    return c ? konst(L, e, sl_value_str(c, len)) : NULL;
}

/* a call of an internal or public builtin with n arguments (args copied) */
static struct sl_node *call(struct lower *L, const struct sl_sql_expr *e, const char *fname,
                            struct sl_node **args, uint32_t n)
{
    const struct sl_sfunc *fn = sl_sql__func_find(fname);
    if (!fn)
        return NULL;
    struct sl_node *c = node(L, SL_N_CALL, e);
    if (!c)
        return NULL;
    c->fn = fn;
    c->name = fn->name;
    c->name_len = (uint32_t)strlen(fn->name);
    c->args = sl_arena_alloc(&L->p->arena, (n ? n : 1) * sizeof *c->args);
    if (!c->args)
        return NULL;
    if (n)
        memcpy(c->args, args, n * sizeof *args);
    c->nargs = n;
    return c;
}

static struct sl_node *call1(struct lower *L, const struct sl_sql_expr *e, const char *f,
                             struct sl_node *a)
{
    return a ? call(L, e, f, &a, 1) : NULL;
}

static struct sl_node *call2(struct lower *L, const struct sl_sql_expr *e, const char *f,
                             struct sl_node *a, struct sl_node *b)
{
    struct sl_node *v[2] = {a, b};
    return a && b ? call(L, e, f, v, 2) : NULL;
}

/* n converted from type `from` to the numeric type `to` when they differ */
static struct sl_node *coerce(struct lower *L, const struct sl_sql_expr *e, struct sl_node *n,
                              const struct sl_sql_type *from, const struct sl_sql_type *to)
{
    if (!n || is_unknown(from) || is_unknown(to) || !is_num(from) || !is_num(to))
        return n;
    int rf = num_rank(from), rt = num_rank(to);
    if (rf == rt)
        return n;
    return call1(L, e, rt == 1 ? "$CAST_INT" : rt == 2 ? "$CAST_BIGINT" : "$CAST_DOUBLE", n);
}

static struct sl_sql_type *new_type(struct lower *L, enum sl_sql_tkind k)
{
    struct sl_sql_type *t = sl_arena_alloc(L->types, sizeof *t);
    if (t) {
        memset(t, 0, sizeof *t);
        t->kind = k;
    }
    return t;
}

static int lower(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                 const struct sl_sql_type **t);

/* ---- functions: the nearest name for "does not exist" ---- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *nearest_func(const char *name)
{
    const char *best = NULL;
    size_t bd = 4;
    for (const struct sl_sfunc *f = sl_sfuncs_sql; f->name; f++) {
        if (f->name[0] == '$')
            continue;
        size_t dd = edit_distance(name, f->name);
        if (dd < bd) {
            bd = dd;
            best = f->name;
        }
    }
    return best;
}

static bool is_aggregate(const char *name)
{
    static const char *const aggs[] = {"COUNT",
                                       "SUM",
                                       "AVG",
                                       "MIN",
                                       "MAX",
                                       "COUNT_DISTINCT",
                                       "TOPK",
                                       "TOPKDISTINCT",
                                       "LATEST_BY_OFFSET",
                                       "EARLIEST_BY_OFFSET",
                                       "COLLECT_LIST",
                                       "COLLECT_SET"};
    for (size_t i = 0; i < sizeof aggs / sizeof *aggs; i++)
        if (!strcmp(name, aggs[i]))
            return true;
    return false;
}

/* argument checks of the public functions: 'N' numeric, 'S' string, 'I' integer, '.' any */
static const struct {
    const char *name;
    const char *sig;
} fsigs[] = {
    {"ABS", "N"},
    {"CEIL", "N"},
    {"CEILING", "N"},
    {"FLOOR", "N"},
    {"ROUND", "NI"},
    {"TRUNC", "NI"},
    {"SIGN", "N"},
    {"SQRT", "N"},
    {"EXP", "N"},
    {"LN", "N"},
    {"POWER", "NN"},
    {"UCASE", "S"},
    {"UPPER", "S"},
    {"LCASE", "S"},
    {"LOWER", "S"},
    {"TRIM", "S"},
    {"LTRIM", "S"},
    {"RTRIM", "S"},
    {"SUBSTRING", "SII"},
    {"REPLACE", "SSS"},
    {"INSTR", "SSII"},
    {"LPAD", "SIS"},
    {"RPAD", "SIS"},
    {"TO_BYTES", "SS"},
    {"REGEXP_EXTRACT", "SSI"},
    {"REGEXP_REPLACE", "SSS"},
    {"CONCAT_WS", "S"},
    {"TIMESTAMPTOSTRING", "NSS"},
    {"STRINGTOTIMESTAMP", "SSS"},
    {"ELT", "I"},
};

static int check_args(struct lower *L, const struct sl_sql_expr *e, const struct sl_sql_type **ts)
{
    for (size_t i = 0; i < sizeof fsigs / sizeof *fsigs; i++) {
        if (strcmp(fsigs[i].name, e->name))
            continue;
        const char *s = fsigs[i].sig;
        for (uint32_t k = 0; k < e->nargs && s[k]; k++) {
            const struct sl_sql_type *t = ts[k];
            if (is_unknown(t))
                continue;
            bool ok = s[k] == '.' || (s[k] == 'N' && is_num(t)) ||
                      (s[k] == 'I' && (t->kind == SL_SQL_T_INT || t->kind == SL_SQL_T_BIGINT)) ||
                      (s[k] == 'S' && t->kind == SL_SQL_T_STRING);
            if (!ok) {
                char a[96];
                etext(e->args[k], a, sizeof a);
                return err_at(L, e->args[k], SL_ETYPE,
                              "function %s does not accept %s (%s) as argument %u: expected %s",
                              e->name, a, tname(t), k + 1,
                              s[k] == 'N'   ? "a number"
                              : s[k] == 'I' ? "an integer"
                                            : "a STRING");
            }
        }
        return 0;
    }
    return 0;
}

static int lower_call(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                      const struct sl_sql_type **t)
{
    const char *name = e->name ? e->name : "";
    if (is_aggregate(name))
        return err_at(L, e, SL_EINVAL, "aggregate function '%s' is not allowed here", name);
    const struct sl_sfunc *fn = name[0] == '$' ? NULL : sl_sql__func_find(name);
    if (!fn) {
        const char *near = nearest_func(name);
        int rc = err_at(L, e, SL_ENOENT, "function '%s' does not exist", name);
        if (near)
            sl_diag_hint(L->d, "did you mean %s?", near);
        return rc;
    }
    if (e->star || e->distinct)
        return err_at(L, e, SL_EPARSE, "%s does not take %s", name, e->star ? "*" : "DISTINCT");
    if ((int)e->nargs < fn->min_args || (fn->max_args >= 0 && (int)e->nargs > fn->max_args)) {
        if (fn->max_args == fn->min_args)
            return err_at(L, e, SL_ETYPE, "%s expects %d argument%s", name, fn->min_args,
                          fn->min_args == 1 ? "" : "s");
        if (fn->max_args < 0)
            return err_at(L, e, SL_ETYPE, "%s expects at least %d argument%s", name, fn->min_args,
                          fn->min_args == 1 ? "" : "s");
        if (fn->max_args == fn->min_args + 1)
            return err_at(L, e, SL_ETYPE, "%s expects %d or %d arguments", name, fn->min_args,
                          fn->max_args);
        return err_at(L, e, SL_ETYPE, "%s expects %d to %d arguments", name, fn->min_args,
                      fn->max_args);
    }
    if (e->nargs > 200)
        return err_at(L, e, SL_E2BIG, "too many arguments (max 200)");
    struct sl_node *args[200];
    const struct sl_sql_type *ts[200];
    int rc;
    for (uint32_t i = 0; i < e->nargs; i++)
        if ((rc = lower(L, e->args[i], &args[i], &ts[i])))
            return rc;
    if ((rc = check_args(L, e, ts)))
        return rc;
    const char *r = fn->returns;
    const struct sl_sql_type *rt = &t_unknown;
    if (!strcmp(r, "ARG1")) {
        rt = e->nargs ? ts[0] : &t_unknown;
    } else if (!strcmp(r, "COMMON")) {
        for (uint32_t i = 0; i < e->nargs; i++) {
            const struct sl_sql_type *c = common(rt, ts[i]);
            if (!c) {
                char a[96];
                etext(e->args[i], a, sizeof a);
                return err_at(L, e->args[i], SL_ETYPE,
                              "%s: argument %s (%s) does not match the type of the others (%s)",
                              name, a, tname(ts[i]), tname(rt));
            }
            rt = c;
        }
        for (uint32_t i = 0; i < e->nargs; i++)
            args[i] = coerce(L, e, args[i], ts[i], rt);
    } else if (!strcmp(r, "ROUND")) {
        rt = ts[0];
        if (ts[0]->kind == SL_SQL_T_DOUBLE || ts[0]->kind == SL_SQL_T_DECIMAL)
            rt = e->nargs == 1 ? &t_bigint : &t_double;
    } else if (!strcmp(r, "SPLIT")) {
        struct sl_sql_type *a = new_type(L, SL_SQL_T_ARRAY);
        if (!a)
            return oom(L);
        a->elem = ts[0]->kind == SL_SQL_T_BYTES ? &t_bytes : &t_string;
        rt = a;
    } else {
        static struct sl_sql_type fixed[SL_SQL_T__COUNT] = {
#define SL_SQL_T_FIXED(n, s) {.kind = SL_SQL_T_##n},
            SL_SQL_TYPES(SL_SQL_T_FIXED)
#undef SL_SQL_T_FIXED
        };
        for (int k = 0; k < SL_SQL_T__COUNT; k++)
            if (!strcmp(r, tnames[k]))
                rt = &fixed[k];
    }
    *t = rt;
    *out = call(L, e, fn->name, args, e->nargs);
    return *out ? 0 : oom(L);
}

/* ---- operators ---- */

static const char *arith_fn(enum sl_sql_op op)
{
    switch (op) {
    case SL_SQL_OP_ADD:
        return "$ADD";
    case SL_SQL_OP_SUB:
        return "$SUB";
    case SL_SQL_OP_MUL:
        return "$MUL";
    case SL_SQL_OP_DIV:
        return "$DIV";
    default:
        return "$MOD";
    }
}

static const char *op_text(enum sl_sql_op op)
{
    static const char *const s[] = {"",   "-", "+",  "NOT", "+",  "-", "*",  "/",   "%",
                                    "||", "=", "<>", "<",   "<=", ">", ">=", "AND", "OR"};
    return op < sizeof s / sizeof *s ? s[op] : "?";
}

static int cmp_error(struct lower *L, const struct sl_sql_expr *e, const struct sl_sql_expr *x,
                     const struct sl_sql_type *tx, const struct sl_sql_expr *y,
                     const struct sl_sql_type *ty)
{
    char a[96], b[96];
    etext(x, a, sizeof a);
    etext(y, b, sizeof b);
    return err_at(L, e, SL_ETYPE, "Cannot compare %s (%s) to %s (%s)", a, tname(tx), b, tname(ty));
}

static int lower_binary(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                        const struct sl_sql_type **t)
{
    struct sl_node *a, *b;
    const struct sl_sql_type *ta, *tb;
    int rc;
    if ((rc = lower(L, e->a, &a, &ta)) || (rc = lower(L, e->b_, &b, &tb)))
        return rc;
    switch (e->op) {
    case SL_SQL_OP_AND:
    case SL_SQL_OP_OR: {
        const struct sl_sql_expr *bad = NULL;
        const struct sl_sql_type *bt = NULL;
        if (!is_unknown(ta) && ta->kind != SL_SQL_T_BOOLEAN)
            bad = e->a, bt = ta;
        else if (!is_unknown(tb) && tb->kind != SL_SQL_T_BOOLEAN)
            bad = e->b_, bt = tb;
        if (bad) {
            char x[96];
            etext(bad, x, sizeof x);
            return err_at(L, bad, SL_ETYPE, "%s expects BOOLEAN operands: %s is %s", op_text(e->op),
                          x, tname(bt));
        }
        struct sl_node *n = node(L, e->op == SL_SQL_OP_AND ? SL_N_AND : SL_N_OR, e);
        if (!n)
            return oom(L);
        n->a = a;
        n->b = b;
        *out = n;
        *t = &t_bool;
        return 0;
    }
    case SL_SQL_OP_EQ:
    case SL_SQL_OP_NE:
    case SL_SQL_OP_LT:
    case SL_SQL_OP_LE:
    case SL_SQL_OP_GT:
    case SL_SQL_OP_GE: {
        if (!comparable(ta, tb, e->op == SL_SQL_OP_EQ || e->op == SL_SQL_OP_NE))
            return cmp_error(L, e, e->a, ta, e->b_, tb);
        if (e->op >= SL_SQL_OP_LT && !is_unknown(ta) && !is_unknown(tb) && is_num(ta) &&
            is_num(tb)) {
            /* numbers: the VM's own < <= > >= (NULL is FALSE, NaN unordered, INT/BIGINT
             * compared exactly, a DOUBLE side as doubles: ksqlDB's rules) */
            static const enum sl_op vop[] = {SL_OP_LT, SL_OP_LE, SL_OP_GT, SL_OP_GE};
            struct sl_node *n = node(L, SL_N_BINOP, e);
            if (!n)
                return oom(L);
            n->op = vop[e->op - SL_SQL_OP_LT];
            n->a = a;
            n->b = b;
            *out = n;
            *t = &t_bool;
            return 0;
        }
        static const char *const f[] = {"$EQ", "$NE", "$LT", "$LE", "$GT", "$GE"};
        *out = call2(L, e, f[e->op - SL_SQL_OP_EQ], a, b);
        *t = &t_bool;
        return *out ? 0 : oom(L);
    }
    case SL_SQL_OP_CONCAT:
        if ((!is_unknown(ta) && ta->kind != SL_SQL_T_STRING) ||
            (!is_unknown(tb) && tb->kind != SL_SQL_T_STRING))
            return err_at(L, e, SL_ETYPE, "|| expects STRING operands, not %s and %s", tname(ta),
                          tname(tb));
        *out = call2(L, e, "$CONCAT", a, b);
        *t = &t_string;
        return *out ? 0 : oom(L);
    default:
        break;
    }
    /* arithmetic */
    if (e->op == SL_SQL_OP_ADD && !is_unknown(ta) && !is_unknown(tb) &&
        ta->kind == SL_SQL_T_STRING && tb->kind == SL_SQL_T_STRING) {
        *out = call2(L, e, "$CONCAT", a, b);
        *t = &t_string;
        return *out ? 0 : oom(L);
    }
    if ((!is_unknown(ta) && !is_num(ta)) || (!is_unknown(tb) && !is_num(tb))) {
        if (e->op == SL_SQL_OP_ADD && (is_unknown(ta) || ta->kind == SL_SQL_T_STRING) &&
            (is_unknown(tb) || tb->kind == SL_SQL_T_STRING)) {
            *out = call2(L, e, "$CONCAT", a, b);
            *t = &t_string;
            return *out ? 0 : oom(L);
        }
        char x[96], y[96];
        etext(e->a, x, sizeof x);
        etext(e->b_, y, sizeof y);
        return err_at(L, e, SL_ETYPE, "Unsupported arithmetic types: %s (%s) %s %s (%s)", x,
                      tname(ta), op_text(e->op), y, tname(tb));
    }
    char fname[24];
    const char *base = arith_fn(e->op);
    if (is_unknown(ta) || is_unknown(tb)) {
        snprintf(fname, sizeof fname, "%s", base);
        *t = is_unknown(ta) ? tb : ta;
        if (is_unknown(*t))
            *t = &t_unknown;
    } else {
        const struct sl_sql_type *w = num_wider(ta, tb);
        snprintf(fname, sizeof fname, "%s_%s", base,
                 w->kind == SL_SQL_T_INT      ? "INT"
                 : w->kind == SL_SQL_T_BIGINT ? "BIGINT"
                                              : "DOUBLE");
        *t = w;
    }
    *out = call2(L, e, fname, a, b);
    return *out ? 0 : oom(L);
}

static int lower_case(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                      const struct sl_sql_type **t)
{
    uint32_t nw = e->nargs / 2;
    int rc;
    struct sl_node *operand = NULL;
    const struct sl_sql_type *top = NULL;
    /* result type first (branch nodes are lowered once, below) */
    struct sl_node **res = sl_arena_alloc(&L->p->arena, (nw + 1) * sizeof *res);
    const struct sl_sql_type **rts = sl_arena_alloc(&L->p->arena, (nw + 1) * sizeof *rts);
    if (!res || !rts)
        return oom(L);
    const struct sl_sql_type *rt = &t_unknown;
    for (uint32_t i = 0; i <= nw; i++) {
        const struct sl_sql_expr *r = i < nw ? e->args[2 * i + 1] : e->b_;
        if (!r) {
            res[i] = konst(L, e, sl_value_null());
            rts[i] = &t_unknown;
            if (!res[i])
                return oom(L);
            continue;
        }
        if ((rc = lower(L, r, &res[i], &rts[i])))
            return rc;
        const struct sl_sql_type *c = common(rt, rts[i]);
        if (!c) {
            char x[96];
            etext(r, x, sizeof x);
            return err_at(L, r, SL_ETYPE,
                          "invalid CASE: all THEN and ELSE results must have the same type: "
                          "%s is %s, earlier results %s",
                          x, tname(rts[i]), tname(rt));
        }
        rt = c;
    }
    struct sl_node *acc = coerce(L, e, res[nw], rts[nw], rt);
    for (uint32_t k = nw; k-- > 0;) {
        const struct sl_sql_expr *w = e->args[2 * k];
        struct sl_node *cond;
        const struct sl_sql_type *tc;
        if ((rc = lower(L, w, &cond, &tc)))
            return rc;
        if (e->a) {
            /* simple CASE: operand = when (the operand is lowered again per WHEN: pure) */
            if ((rc = lower(L, e->a, &operand, &top)))
                return rc;
            if (!comparable(top, tc, true))
                return cmp_error(L, w, e->a, top, w, tc);
            cond = call2(L, w, "$EQ", operand, cond);
            if (!cond)
                return oom(L);
        } else if (!is_unknown(tc) && tc->kind != SL_SQL_T_BOOLEAN) {
            char x[96];
            etext(w, x, sizeof x);
            return err_at(L, w, SL_ETYPE, "WHEN condition must be BOOLEAN: %s is %s", x, tname(tc));
        }
        struct sl_node *n = node(L, SL_N_COND, e);
        if (!n)
            return oom(L);
        n->a = cond;
        n->b = coerce(L, e, res[k], rts[k], rt);
        n->c = acc;
        if (!n->b || !n->c)
            return oom(L);
        acc = n;
    }
    *out = acc;
    *t = rt;
    return acc ? 0 : oom(L);
}

/* Deep copy of a type into arena a (the program keeps CAST targets; the AST may go first). */
static struct sl_sql_type *type_copy(struct sl_arena *a, const struct sl_sql_type *t, int depth)
{
    if (!t || depth > 64)
        return NULL;
    struct sl_sql_type *c = sl_arena_alloc(a, sizeof *c);
    if (!c)
        return NULL;
    *c = *t;
    if ((t->elem && !(c->elem = type_copy(a, t->elem, depth + 1))) ||
        (t->key && !(c->key = type_copy(a, t->key, depth + 1))))
        return NULL;
    if (t->nfields) {
        c->fields = sl_arena_alloc(a, t->nfields * sizeof *c->fields);
        if (!c->fields)
            return NULL;
        for (uint32_t i = 0; i < t->nfields; i++) {
            const char *n = t->fields[i].name ? t->fields[i].name : "";
            c->fields[i].name = sl_arena_strndup(a, n, strlen(n));
            c->fields[i].type = type_copy(a, t->fields[i].type, depth + 1);
            if (!c->fields[i].name || (t->fields[i].type && !c->fields[i].type))
                return NULL;
        }
    }
    return c;
}

static int lower_cast(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                      const struct sl_sql_type **t)
{
    struct sl_node *a;
    const struct sl_sql_type *ta;
    int rc = lower(L, e->a, &a, &ta);
    if (rc)
        return rc;
    const struct sl_sql_type *to = e->type ? e->type : &t_unknown;
    if (e->type && !(to = type_copy(L->types, e->type, 0)))
        return oom(L);
    *t = to;
    const char *f = NULL;
    switch (to->kind) {
    case SL_SQL_T_BOOLEAN:
        f = "$CAST_BOOLEAN";
        break;
    case SL_SQL_T_INT:
        f = "$CAST_INT";
        break;
    case SL_SQL_T_BIGINT:
        f = "$CAST_BIGINT";
        break;
    case SL_SQL_T_DOUBLE:
        f = "$CAST_DOUBLE";
        break;
    case SL_SQL_T_STRING:
        f = "$CAST_STRING";
        break;
    case SL_SQL_T_DECIMAL: {
        struct sl_node *v[3] = {a, konst(L, e, sl_sv_int(to->precision)),
                                konst(L, e, sl_sv_int(to->scale))};
        if (!v[1] || !v[2])
            return oom(L);
        *out = call(L, e, "$CAST_DECIMAL", v, 3);
        return *out ? 0 : oom(L);
    }
    case SL_SQL_T_UNKNOWN:
        *out = a;
        return 0;
    default:
        break;
    }
    if (!is_unknown(ta) &&
        (to->kind == SL_SQL_T_ARRAY || to->kind == SL_SQL_T_MAP || to->kind == SL_SQL_T_STRUCT) &&
        ta->kind != to->kind) {
        char x[96];
        etext(e->a, x, sizeof x);
        return err_at(L, e, SL_ETYPE, "Cast of %s (%s) to %s is not supported", x, tname(ta),
                      tname(to));
    }
    if (f) {
        if (!is_unknown(ta) && ta->kind == to->kind && !(ta->kind == SL_SQL_T_DECIMAL)) {
            *out = a; /* already of that type */
            return 0;
        }
        if (!is_unknown(ta) &&
            (ta->kind == SL_SQL_T_ARRAY || ta->kind == SL_SQL_T_MAP ||
             ta->kind == SL_SQL_T_STRUCT) &&
            to->kind != SL_SQL_T_STRING) {
            char x[96];
            etext(e->a, x, sizeof x);
            return err_at(L, e, SL_ETYPE, "Cast of %s (%s) to %s is not supported", x, tname(ta),
                          tname(to));
        }
        *out = call1(L, e, f, a);
        return *out ? 0 : oom(L);
    }
    void *box = sl_arena_alloc(&L->p->arena, sl_sql__type_box_size());
    struct sl_sql_type *kept = type_copy(&L->p->arena, to, 0);
    if (!box || !kept)
        return oom(L);
    struct sl_node *k = konst(L, e, sl_sql__type_value(box, kept));
    *out = call2(L, e, "$CAST", a, k);
    return *out ? 0 : oom(L);
}

static const struct sl_sql_tfield *find_field(const struct sl_sql_type *st, const char *name)
{
    for (uint32_t i = 0; i < st->nfields; i++)
        if (st->fields[i].name && !strcmp(st->fields[i].name, name))
            return &st->fields[i];
    for (uint32_t i = 0; i < st->nfields; i++)
        if (st->fields[i].name && !strcasecmp(st->fields[i].name, name))
            return &st->fields[i];
    return NULL;
}

static int lower_node(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                      const struct sl_sql_type **t)
{
    int rc;
    struct sl_node *a, *b;
    const struct sl_sql_type *ta, *tb;
    *out = NULL;
    *t = &t_unknown;
    switch (e->kind) {
    case SL_SQL_E_NULL:
        *out = konst(L, e, sl_value_null());
        break;
    case SL_SQL_E_BOOL:
        *out = konst(L, e, sl_value_bool(e->b));
        *t = &t_bool;
        break;
    case SL_SQL_E_INT:
        *out = konst(L, e, sl_sv_int((int32_t)e->i));
        *t = &t_int;
        break;
    case SL_SQL_E_BIGINT:
        *out = konst(L, e, sl_sv_long(e->i));
        *t = &t_bigint;
        break;
    case SL_SQL_E_DOUBLE:
        *out = konst(L, e, sl_sv_double(e->d));
        *t = &t_double;
        break;
    case SL_SQL_E_DECIMAL: {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(e->len < 63 ? e->len : 63),
                 e->text ? e->text : "0");
        *out = konst(L, e, sl_sv_double(strtod(buf, NULL)));
        *t = &t_double; /* DECIMAL literals are DOUBLE here (documented) */
        break;
    }
    case SL_SQL_E_STRING:
        *out = kstr(L, e, e->text, e->len);
        *t = &t_string;
        break;
    case SL_SQL_E_COLUMN: {
        struct sl_sql_slot s = {0};
        if ((rc = L->scope->column(L->scope->ud, e, &s, L->d))) {
            if (!L->d->line) {
                L->d->line = e->pos.line;
                L->d->col = e->pos.col;
                L->d->offset = e->pos.offset;
            }
            return rc;
        }
        if (s.slot > 65535)
            return err_at(L, e, SL_E2BIG, "too many columns");
        *out = node(L, SL_N_COL, e);
        if (*out)
            (*out)->index = (uint16_t)s.slot;
        *t = s.type ? s.type : &t_unknown;
        break;
    }
    case SL_SQL_E_UNARY:
        if ((rc = lower(L, e->a, &a, &ta)))
            return rc;
        if (e->op == SL_SQL_OP_NOT) {
            if (!is_unknown(ta) && ta->kind != SL_SQL_T_BOOLEAN) {
                char x[96];
                etext(e->a, x, sizeof x);
                return err_at(L, e, SL_ETYPE, "NOT expects a BOOLEAN: %s is %s", x, tname(ta));
            }
            *out = call1(L, e, "$NOT", a);
            *t = &t_bool;
            break;
        }
        if (!is_unknown(ta) && !is_num(ta)) {
            char x[96];
            etext(e->a, x, sizeof x);
            return err_at(L, e, SL_ETYPE, "unary %s expects a number: %s is %s", op_text(e->op), x,
                          tname(ta));
        }
        *out = e->op == SL_SQL_OP_NEG ? call1(L, e, "$NEG", a) : a;
        *t = ta;
        break;
    case SL_SQL_E_BINARY:
        return lower_binary(L, e, out, t);
    case SL_SQL_E_BETWEEN: {
        struct sl_node *c;
        const struct sl_sql_type *tc;
        if ((rc = lower(L, e->a, &a, &ta)) || (rc = lower(L, e->b_, &b, &tb)) ||
            (rc = lower(L, e->c, &c, &tc)))
            return rc;
        if (!comparable(ta, tb, false))
            return cmp_error(L, e, e->a, ta, e->b_, tb);
        if (!comparable(ta, tc, false))
            return cmp_error(L, e, e->a, ta, e->c, tc);
        struct sl_node *v[3] = {a, b, c};
        *out = call(L, e, "$BETWEEN", v, 3);
        if (e->negated)
            *out = call1(L, e, "$NOT", *out);
        *t = &t_bool;
        break;
    }
    case SL_SQL_E_IN: {
        if ((rc = lower(L, e->a, &a, &ta)))
            return rc;
        /* chunks of at most 150 values, OR-ed (the VM passes up to 200 arguments) */
        struct sl_node *acc = NULL;
        for (uint32_t from = 0; from < e->nargs || (!e->nargs && !acc); from += 150) {
            uint32_t cnt = e->nargs - from < 150 ? e->nargs - from : 150;
            struct sl_node *v[151];
            v[0] = a;
            for (uint32_t i = 0; i < cnt; i++) {
                const struct sl_sql_type *ti;
                const struct sl_sql_expr *x = e->args[from + i];
                if ((rc = lower(L, x, &v[i + 1], &ti)))
                    return rc;
                if (!comparable(ta, ti, true))
                    return cmp_error(L, x, e->a, ta, x, ti);
            }
            struct sl_node *in = call(L, e, "$IN", v, cnt + 1);
            if (!in)
                return oom(L);
            if (acc) {
                struct sl_node *o = node(L, SL_N_OR, e);
                if (!o)
                    return oom(L);
                o->a = acc;
                o->b = in;
                in = o;
            }
            acc = in;
            if (!e->nargs)
                break;
        }
        *out = e->negated ? call1(L, e, "$NOT", acc) : acc;
        *t = &t_bool;
        break;
    }
    case SL_SQL_E_LIKE: {
        if ((rc = lower(L, e->a, &a, &ta)) || (rc = lower(L, e->b_, &b, &tb)))
            return rc;
        if ((!is_unknown(ta) && ta->kind != SL_SQL_T_STRING) ||
            (!is_unknown(tb) && tb->kind != SL_SQL_T_STRING)) {
            char x[96];
            etext(is_unknown(ta) || ta->kind == SL_SQL_T_STRING ? e->b_ : e->a, x, sizeof x);
            return err_at(L, e, SL_ETYPE, "LIKE expects STRING operands: %s is %s", x,
                          tname(is_unknown(ta) || ta->kind == SL_SQL_T_STRING ? tb : ta));
        }
        if (e->text && e->len) {
            if (e->len != 1)
                return err_at(L, e, SL_EINVAL, "the ESCAPE of LIKE must be one character");
            struct sl_node *v[3] = {a, b, kstr(L, e, e->text, e->len)};
            if (!v[2])
                return oom(L);
            *out = call(L, e, "$LIKE", v, 3);
        } else {
            *out = call2(L, e, "$LIKE", a, b);
        }
        if (e->negated)
            *out = call1(L, e, "$NOT", *out);
        *t = &t_bool;
        break;
    }
    case SL_SQL_E_IS_NULL:
        if ((rc = lower(L, e->a, &a, &ta)))
            return rc;
        *out = call1(L, e, e->negated ? "$ISNOTNULL" : "$ISNULL", a);
        *t = &t_bool;
        break;
    case SL_SQL_E_IS_DISTINCT:
        if ((rc = lower(L, e->a, &a, &ta)) || (rc = lower(L, e->b_, &b, &tb)))
            return rc;
        if (!comparable(ta, tb, true))
            return cmp_error(L, e, e->a, ta, e->b_, tb);
        *out = call2(L, e, "$ISDISTINCT", a, b);
        if (e->negated)
            *out = call1(L, e, "$NOT", *out);
        *t = &t_bool;
        break;
    case SL_SQL_E_CASE:
        return lower_case(L, e, out, t);
    case SL_SQL_E_CAST:
        return lower_cast(L, e, out, t);
    case SL_SQL_E_CALL:
        return lower_call(L, e, out, t);
    case SL_SQL_E_SUBSCRIPT: {
        if ((rc = lower(L, e->a, &a, &ta)) || (rc = lower(L, e->b_, &b, &tb)))
            return rc;
        bool is_map = !is_unknown(ta) && ta->kind == SL_SQL_T_MAP;
        if (!is_unknown(ta) && ta->kind != SL_SQL_T_ARRAY && !is_map) {
            char x[96];
            etext(e->a, x, sizeof x);
            return err_at(L, e, SL_ETYPE, "cannot subscript %s (%s): not an ARRAY or a MAP", x,
                          tname(ta));
        }
        if (!is_unknown(tb)) {
            bool ok = is_map ? tb->kind == SL_SQL_T_STRING
                             : tb->kind == SL_SQL_T_INT || tb->kind == SL_SQL_T_BIGINT ||
                                   (is_unknown(ta) && tb->kind == SL_SQL_T_STRING);
            if (!ok)
                return err_at(L, e->b_, SL_ETYPE, "%s index must be %s, not %s",
                              is_map ? "a MAP" : "an ARRAY", is_map ? "a STRING" : "an integer",
                              tname(tb));
        }
        *out = call2(L, e, !is_map && L->scope->compat06 ? "$SUBSCRIPT0" : "$SUBSCRIPT", a, b);
        *t = !is_unknown(ta) && ta->elem ? ta->elem : &t_unknown;
        break;
    }
    case SL_SQL_E_DEREF: {
        if ((rc = lower(L, e->a, &a, &ta)))
            return rc;
        const char *fname = e->name ? e->name : "";
        if (!is_unknown(ta)) {
            if (ta->kind != SL_SQL_T_STRUCT) {
                char x[96];
                etext(e->a, x, sizeof x);
                return err_at(L, e, SL_ETYPE, "cannot dereference %s (%s): not a STRUCT", x,
                              tname(ta));
            }
            const struct sl_sql_tfield *f = find_field(ta, fname);
            if (!f)
                return err_at(L, e, SL_ENOENT, "field '%s' does not exist in the STRUCT", fname);
            fname = f->name;
            *t = f->type ? f->type : &t_unknown;
        }
        *out = call2(L, e, "$DEREF", a, kstr(L, e, fname, strlen(fname)));
        break;
    }
    case SL_SQL_E_ARRAY: {
        if (e->nargs > 200)
            return err_at(L, e, SL_E2BIG, "too many elements (max 200)");
        struct sl_node *n = node(L, SL_N_LIST, e);
        struct sl_sql_type *at = new_type(L, SL_SQL_T_ARRAY);
        if (!n || !at)
            return oom(L);
        n->args = sl_arena_alloc(&L->p->arena, (e->nargs ? e->nargs : 1) * sizeof *n->args);
        const struct sl_sql_type **ts =
            sl_arena_alloc(&L->p->arena, (e->nargs ? e->nargs : 1) * sizeof *ts);
        if (!n->args || !ts)
            return oom(L);
        const struct sl_sql_type *et = &t_unknown;
        for (uint32_t i = 0; i < e->nargs; i++) {
            if ((rc = lower(L, e->args[i], &n->args[i], &ts[i])))
                return rc;
            const struct sl_sql_type *c = common(et, ts[i]);
            if (!c)
                return err_at(L, e->args[i], SL_ETYPE,
                              "ARRAY elements must all have the same type: %s and %s", tname(et),
                              tname(ts[i]));
            et = c;
        }
        for (uint32_t i = 0; i < e->nargs; i++)
            if (!(n->args[i] = coerce(L, e, n->args[i], ts[i], et)))
                return oom(L);
        n->nargs = e->nargs;
        at->elem = (struct sl_sql_type *)et;
        *out = n;
        *t = at;
        break;
    }
    case SL_SQL_E_MAP:
    case SL_SQL_E_STRUCT: {
        bool st = e->kind == SL_SQL_E_STRUCT;
        uint32_t npairs = st ? e->nargs : e->nargs / 2;
        if (npairs > 100)
            return err_at(L, e, SL_E2BIG, "too many entries (max 100)");
        struct sl_node *n = node(L, SL_N_MAP, e);
        struct sl_sql_type *mt = new_type(L, st ? SL_SQL_T_STRUCT : SL_SQL_T_MAP);
        if (!n || !mt)
            return oom(L);
        n->args = sl_arena_alloc(&L->p->arena, (2 * npairs + 1) * sizeof *n->args);
        if (!n->args)
            return oom(L);
        if (st) {
            mt->fields = sl_arena_alloc(L->types, (npairs ? npairs : 1) * sizeof *mt->fields);
            if (!mt->fields)
                return oom(L);
            mt->nfields = npairs;
        }
        const struct sl_sql_type *vt = &t_unknown;
        const struct sl_sql_type **ts =
            sl_arena_alloc(&L->p->arena, (npairs ? npairs : 1) * sizeof *ts);
        if (!ts)
            return oom(L);
        for (uint32_t i = 0; i < npairs; i++) {
            struct sl_node *k, *v;
            if (st) {
                const char *fn = e->names && i < e->nnames ? e->names[i] : "";
                k = kstr(L, e, fn, strlen(fn));
                if (!k)
                    return oom(L);
                if ((rc = lower(L, e->args[i], &v, &ts[i])))
                    return rc;
                char *fcopy = sl_arena_strndup(L->types, fn, strlen(fn));
                if (!fcopy)
                    return oom(L);
                mt->fields[i].name = fcopy;
                mt->fields[i].type = (struct sl_sql_type *)ts[i];
            } else {
                const struct sl_sql_type *tk;
                if ((rc = lower(L, e->args[2 * i], &k, &tk)) ||
                    (rc = lower(L, e->args[2 * i + 1], &v, &ts[i])))
                    return rc;
                if (!is_unknown(tk) && tk->kind != SL_SQL_T_STRING)
                    return err_at(L, e->args[2 * i], SL_ETYPE, "MAP keys must be STRING, not %s",
                                  tname(tk));
                const struct sl_sql_type *c = common(vt, ts[i]);
                if (!c)
                    return err_at(L, e->args[2 * i + 1], SL_ETYPE,
                                  "MAP values must all have the same type: %s and %s", tname(vt),
                                  tname(ts[i]));
                vt = c;
            }
            n->args[2 * i] = k;
            n->args[2 * i + 1] = v;
        }
        if (!st) {
            for (uint32_t i = 0; i < npairs; i++)
                if (!(n->args[2 * i + 1] = coerce(L, e, n->args[2 * i + 1], ts[i], vt)))
                    return oom(L);
            mt->key = &t_string;
            mt->elem = (struct sl_sql_type *)vt;
        }
        n->nargs = 2 * npairs;
        *out = n;
        *t = mt;
        break;
    }
    case SL_SQL_E_LAMBDA:
        return err_at(L, e, SL_EINVAL, "lambda expressions are not supported");
    default:
        return err_at(L, e, SL_EINVAL, "internal: unknown expression kind %d", (int)e->kind);
    }
    return *out ? 0 : oom(L);
}

static int lower(struct lower *L, const struct sl_sql_expr *e, struct sl_node **out,
                 const struct sl_sql_type **t)
{
    if (!e)
        return sl_diag_set(L->d, SL_EINVAL, "internal: missing expression");
    if (L->scope->subst) {
        struct sl_sql_slot s = {0};
        int rc = L->scope->subst(L->scope->ud, e, &s, L->d);
        if (rc < 0) {
            if (!L->d->line) {
                L->d->line = e->pos.line;
                L->d->col = e->pos.col;
                L->d->offset = e->pos.offset;
            }
            return rc;
        }
        if (rc == 1) {
            if (s.slot > 65535)
                return err_at(L, e, SL_E2BIG, "too many columns");
            *out = node(L, SL_N_COL, e);
            if (!*out)
                return oom(L);
            (*out)->index = (uint16_t)s.slot;
            *t = s.type ? s.type : &t_unknown;
            return 0;
        }
    }
    return lower_node(L, e, out, t);
}

/* ---- entry points ---- */

static int lower_root(const struct sl_sql_expr *e, const struct sl_sql_scope *scope, bool want_bool,
                      struct sl_arena *types, struct sl_stellar_prog **prog, struct sl_node **root,
                      const struct sl_sql_type **type, struct sl_diag *d)
{
    *prog = NULL;
    if (!e || !scope || !scope->column)
        return sl_diag_set(d, SL_EINVAL, "internal: no expression or scope");
    const char *src = "";
    size_t srclen = 0;
    if (sl_lang__prog_new(src, srclen, prog))
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    struct lower L = {.scope = scope, .types = types, .p = *prog, .d = d};
    const struct sl_sql_type *t = &t_unknown;
    int rc = lower(&L, e, root, &t);
    if (!rc && want_bool && !is_unknown(t) && t->kind != SL_SQL_T_BOOLEAN) {
        char x[96];
        etext(e, x, sizeof x);
        rc = err_at(&L, e, SL_ETYPE, "Type error: %s should evaluate to BOOLEAN but is %s", x,
                    tname(t));
    }
    if (rc) {
        sl_stellar_free(*prog);
        *prog = NULL;
        return rc;
    }
    *type = t;
    return 0;
}

int sl_sql_expr_compile(const struct sl_sql_expr *e, const struct sl_sql_scope *scope,
                        bool want_bool, struct sl_arena *types, struct sl_stellar_prog **prog,
                        const struct sl_sql_type **type, struct sl_diag *d)
{
    struct sl_node *root = NULL;
    const struct sl_sql_type *t = NULL;
    struct sl_stellar_prog *p;
    *prog = NULL;
    int rc = lower_root(e, scope, want_bool, types, &p, &root, &t, d);
    if (rc)
        return rc;
    if ((rc = sl_lang__prog_build(p, root, want_bool, d))) {
        /* the compiler knows byte offsets only: give the expression's line back */
        if (!d->line && e) {
            d->line = e->pos.line;
            d->col = e->pos.col;
        }
        sl_stellar_free(p);
        return rc;
    }
    *prog = p;
    if (type)
        *type = t;
    return 0;
}

int sl_sql_expr_typeof(const struct sl_sql_expr *e, const struct sl_sql_scope *scope,
                       struct sl_arena *types, const struct sl_sql_type **type, struct sl_diag *d)
{
    struct sl_node *root = NULL;
    struct sl_stellar_prog *p;
    int rc = lower_root(e, scope, false, types, &p, &root, type, d);
    sl_stellar_free(p);
    return rc;
}

int sl_sql_eval(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                const struct sl_value *cols, uint32_t ncols, struct sl_arena *a,
                struct sl_value *out)
{
    return sl_stellar_eval_row(vm, p, NULL, cols, ncols, a, out);
}

int sl_sql_eval_bool(struct sl_stellar_vm *vm, const struct sl_stellar_prog *p,
                     const struct sl_value *cols, uint32_t ncols, struct sl_arena *a, bool *out)
{
    struct sl_value v;
    *out = false;
    int rc = sl_stellar_eval_row(vm, p, NULL, cols, ncols, a, &v);
    if (rc)
        return rc;
    *out = v.type == SL_V_BOOL && v.u.b;
    return 0;
}

bool sl_sql_func_exists(const char *name)
{
    return name && name[0] != '$' && sl_sql__func_find(name) != NULL;
}

int sl_sql_cast(const struct sl_value *v, const struct sl_sql_type *t, struct sl_arena *a,
                struct sl_value *out, char *err, size_t err_len)
{
    if (err_len)
        err[0] = 0;
    return sl_sql__cast(v, t, NULL, a, out, err, err_len);
}
