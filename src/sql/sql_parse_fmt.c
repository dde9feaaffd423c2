/*
 * sql_parse_fmt.c — SQL text of types and expressions, and structural equality of expressions
 * (the parser's other half: messages, DESCRIBE, matching a projection against GROUP BY).
 *
 * DESIGN: the text is canonical and reads back as itself: upper-case keywords, names bare
 * when they read back unchanged and `quoted` otherwise, every binary operation and predicate
 * in parentheses as ksqlDB's ExpressionFormatter prints them ("(A + 1)", "(X IS NULL)"), so
 * format(parse(format(e))) == format(e) (fuzz_sql_parse checks it). The walks recurse: the
 * parser bounds the height of every tree it builds (SL_SQL_MAX_DEPTH).
 */
#include "sql/sql_parse.h"

#include "sql/sql_parse_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

/* ------------------------------------------------------------------ formatting */

static const char *const tkind_names[] = {
#define SL_SQL_T_NAME(n, s) s,
    SL_SQL_TYPES(SL_SQL_T_NAME)
#undef SL_SQL_T_NAME
};

const char *sl_sql_tkind_name(enum sl_sql_tkind k)
{
    return (unsigned)k < SL_SQL_T__COUNT ? tkind_names[k] : "?";
}

/* a name as SQL text: bare if it reads back as itself, else `quoted` */
static int put_name(struct sl_buf *o, const char *s)
{
    bool bare = s[0] && ((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_');
    size_t n = strlen(s);
    for (size_t i = 1; bare && i < n; i++)
        bare = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
               s[i] == '@';
    if (bare && !sl_sql__reserved(s, n))
        return sl_buf_append(o, s, n);
    int rc = sl_buf_putc(o, '`');
    for (size_t i = 0; !rc && i < n; i++)
        rc = s[i] == '`' ? sl_buf_append(o, "``", 2) : sl_buf_putc(o, s[i]);
    return rc ? rc : sl_buf_putc(o, '`');
}

int sl_sql_type_format(const struct sl_sql_type *t, struct sl_buf *out)
{
    if (!t)
        return sl_buf_puts(out, "UNKNOWN");
    switch (t->kind) {
    case SL_SQL_T_DECIMAL:
        return sl_buf_appendf(out, "DECIMAL(%u, %u)", t->precision, t->scale);
    case SL_SQL_T_ARRAY:
        TRY(sl_buf_puts(out, "ARRAY<"));
        TRY(sl_sql_type_format(t->elem, out));
        return sl_buf_putc(out, '>');
    case SL_SQL_T_MAP:
        TRY(sl_buf_puts(out, "MAP<"));
        TRY(sl_sql_type_format(t->key, out));
        TRY(sl_buf_puts(out, ", "));
        TRY(sl_sql_type_format(t->elem, out));
        return sl_buf_putc(out, '>');
    case SL_SQL_T_STRUCT:
        TRY(sl_buf_puts(out, "STRUCT<"));
        for (uint32_t i = 0; i < t->nfields; i++) {
            if (i)
                TRY(sl_buf_puts(out, ", "));
            TRY(put_name(out, t->fields[i].name));
            TRY(sl_buf_putc(out, ' '));
            TRY(sl_sql_type_format(t->fields[i].type, out));
        }
        return sl_buf_putc(out, '>');
    default:
        return sl_buf_puts(out, sl_sql_tkind_name(t->kind));
    }
}

static int put_string(struct sl_buf *o, const char *s, uint32_t n)
{
    TRY(sl_buf_putc(o, '\''));
    for (uint32_t i = 0; i < n; i++)
        TRY(s[i] == '\'' ? sl_buf_append(o, "''", 2) : sl_buf_putc(o, s[i]));
    return sl_buf_putc(o, '\'');
}

/* the shortest text that reads back as the same double */
static int put_double(struct sl_buf *o, double d)
{
    if (isnan(d))
        return sl_buf_puts(o, "NaN");
    if (isinf(d))
        return sl_buf_puts(o, d < 0 ? "-Infinity" : "Infinity");
    char b[64];
    double m = fabs(d);
    if (m >= 1e-3 && m < 1e7) { /* plain notation where Java's Double.toString uses it */
        for (int prec = 1; prec <= 20; prec++) {
            snprintf(b, sizeof b, "%.*f", prec, d);
            if (strtod(b, NULL) == d)
                break;
        }
        return sl_buf_puts(o, b);
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, d);
        if (strtod(b, NULL) == d)
            break;
    }
    if (!strpbrk(b, ".eE"))
        return sl_buf_appendf(o, "%s.0", b);
    return sl_buf_puts(o, b);
}

static int put_list(struct sl_buf *o, struct sl_sql_expr *const *args, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            TRY(sl_buf_puts(o, ", "));
        TRY(sl_sql_expr_format(args[i], o));
    }
    return 0;
}

static const char *op_text(enum sl_sql_op op)
{
    static const char *const t[] = {
        [SL_SQL_OP_NONE] = "?",    [SL_SQL_OP_NEG] = "-",   [SL_SQL_OP_PLUS] = "+",
        [SL_SQL_OP_NOT] = "NOT",   [SL_SQL_OP_ADD] = "+",   [SL_SQL_OP_SUB] = "-",
        [SL_SQL_OP_MUL] = "*",     [SL_SQL_OP_DIV] = "/",   [SL_SQL_OP_MOD] = "%",
        [SL_SQL_OP_CONCAT] = "||", [SL_SQL_OP_EQ] = "=",    [SL_SQL_OP_NE] = "<>",
        [SL_SQL_OP_LT] = "<",      [SL_SQL_OP_LE] = "<=",   [SL_SQL_OP_GT] = ">",
        [SL_SQL_OP_GE] = ">=",     [SL_SQL_OP_AND] = "AND", [SL_SQL_OP_OR] = "OR",
    };
    return (unsigned)op < sizeof t / sizeof t[0] && t[op] ? t[op] : "?";
}

/* the operand of a[i] or a->f: a signed operand needs parentheses to stay the operand */
static int put_postfix_base(struct sl_buf *o, const struct sl_sql_expr *a)
{
    if (!a || a->kind != SL_SQL_E_UNARY || a->op == SL_SQL_OP_NOT)
        return sl_sql_expr_format(a, o);
    TRY(sl_buf_putc(o, '('));
    TRY(sl_sql_expr_format(a, o));
    return sl_buf_putc(o, ')');
}

int sl_sql_expr_format(const struct sl_sql_expr *e, struct sl_buf *o)
{
    if (!e)
        return sl_buf_puts(o, "NULL");
    switch (e->kind) {
    case SL_SQL_E_NULL:
        return sl_buf_puts(o, "NULL");
    case SL_SQL_E_BOOL:
        return sl_buf_puts(o, e->b ? "TRUE" : "FALSE");
    case SL_SQL_E_INT:
    case SL_SQL_E_BIGINT:
        return sl_buf_appendf(o, "%lld", (long long)e->i);
    case SL_SQL_E_DOUBLE:
        return put_double(o, e->d);
    case SL_SQL_E_DECIMAL:
        return e->text ? sl_buf_append(o, e->text, e->len) : put_double(o, e->d);
    case SL_SQL_E_STRING:
        return put_string(o, e->text ? e->text : "", e->text ? e->len : 0);
    case SL_SQL_E_COLUMN:
        if (e->qualifier) {
            TRY(put_name(o, e->qualifier));
            TRY(sl_buf_putc(o, '.'));
        }
        return put_name(o, e->name ? e->name : "?");
    case SL_SQL_E_UNARY:
        if (e->op == SL_SQL_OP_NOT) {
            TRY(sl_buf_puts(o, "(NOT "));
            TRY(sl_sql_expr_format(e->a, o));
            return sl_buf_putc(o, ')');
        }
        TRY(sl_buf_puts(o, op_text(e->op)));
        if (e->a && e->a->kind == SL_SQL_E_UNARY && e->a->op != SL_SQL_OP_NOT) {
            TRY(sl_buf_putc(o, '(')); /* never "--x": that starts a comment */
            TRY(sl_sql_expr_format(e->a, o));
            return sl_buf_putc(o, ')');
        }
        return sl_sql_expr_format(e->a, o);
    case SL_SQL_E_BINARY:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_appendf(o, " %s ", op_text(e->op)));
        TRY(sl_sql_expr_format(e->b_, o));
        return sl_buf_putc(o, ')');
    case SL_SQL_E_BETWEEN:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_puts(o, e->negated ? " NOT BETWEEN " : " BETWEEN "));
        TRY(sl_sql_expr_format(e->b_, o));
        TRY(sl_buf_puts(o, " AND "));
        TRY(sl_sql_expr_format(e->c, o));
        return sl_buf_putc(o, ')');
    case SL_SQL_E_IN:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_puts(o, e->negated ? " NOT IN (" : " IN ("));
        TRY(put_list(o, e->args, e->nargs));
        return sl_buf_puts(o, "))");
    case SL_SQL_E_LIKE:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_puts(o, e->negated ? " NOT LIKE " : " LIKE "));
        TRY(sl_sql_expr_format(e->b_, o));
        if (e->text) {
            TRY(sl_buf_puts(o, " ESCAPE "));
            TRY(put_string(o, e->text, e->len));
        }
        return sl_buf_putc(o, ')');
    case SL_SQL_E_IS_NULL:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        return sl_buf_puts(o, e->negated ? " IS NOT NULL)" : " IS NULL)");
    case SL_SQL_E_IS_DISTINCT:
        TRY(sl_buf_putc(o, '('));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_puts(o, e->negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM "));
        TRY(sl_sql_expr_format(e->b_, o));
        return sl_buf_putc(o, ')');
    case SL_SQL_E_CASE:
        TRY(sl_buf_puts(o, "(CASE"));
        if (e->a) {
            TRY(sl_buf_putc(o, ' '));
            TRY(sl_sql_expr_format(e->a, o));
        }
        for (uint32_t i = 0; i + 1 < e->nargs; i += 2) {
            TRY(sl_buf_puts(o, " WHEN "));
            TRY(sl_sql_expr_format(e->args[i], o));
            TRY(sl_buf_puts(o, " THEN "));
            TRY(sl_sql_expr_format(e->args[i + 1], o));
        }
        if (e->b_) {
            TRY(sl_buf_puts(o, " ELSE "));
            TRY(sl_sql_expr_format(e->b_, o));
        }
        return sl_buf_puts(o, " END)");
    case SL_SQL_E_CAST:
        TRY(sl_buf_puts(o, "CAST("));
        TRY(sl_sql_expr_format(e->a, o));
        TRY(sl_buf_puts(o, " AS "));
        TRY(sl_sql_type_format(e->type, o));
        return sl_buf_putc(o, ')');
    case SL_SQL_E_CALL:
        TRY(sl_buf_puts(o, e->name ? e->name : "?"));
        TRY(sl_buf_putc(o, '('));
        if (e->star)
            TRY(sl_buf_putc(o, '*'));
        if (e->distinct)
            TRY(sl_buf_puts(o, "DISTINCT "));
        TRY(put_list(o, e->args, e->nargs));
        return sl_buf_putc(o, ')');
    case SL_SQL_E_SUBSCRIPT:
        TRY(put_postfix_base(o, e->a));
        TRY(sl_buf_putc(o, '['));
        TRY(sl_sql_expr_format(e->b_, o));
        return sl_buf_putc(o, ']');
    case SL_SQL_E_DEREF:
        TRY(put_postfix_base(o, e->a));
        TRY(sl_buf_puts(o, "->"));
        return put_name(o, e->name ? e->name : "?");
    case SL_SQL_E_ARRAY:
        TRY(sl_buf_puts(o, "ARRAY["));
        TRY(put_list(o, e->args, e->nargs));
        return sl_buf_putc(o, ']');
    case SL_SQL_E_MAP:
    case SL_SQL_E_STRUCT:
        TRY(sl_buf_puts(o, e->kind == SL_SQL_E_MAP ? "MAP(" : "STRUCT("));
        for (uint32_t i = 0, k = 0; k < e->nargs; i++) {
            if (i)
                TRY(sl_buf_puts(o, ", "));
            if (e->kind == SL_SQL_E_MAP) {
                TRY(sl_sql_expr_format(e->args[k++], o));
                if (k >= e->nargs)
                    break;
            } else {
                TRY(put_name(o, i < e->nnames ? e->names[i] : "?"));
            }
            TRY(sl_buf_puts(o, ":="));
            TRY(sl_sql_expr_format(e->args[k++], o));
        }
        return sl_buf_putc(o, ')');
    case SL_SQL_E_LAMBDA:
        if (e->nnames != 1)
            TRY(sl_buf_putc(o, '('));
        for (uint32_t i = 0; i < e->nnames; i++) {
            if (i)
                TRY(sl_buf_puts(o, ", "));
            TRY(put_name(o, e->names[i]));
        }
        TRY(sl_buf_puts(o, e->nnames != 1 ? ") => " : " => "));
        return sl_sql_expr_format(e->a, o);
    default:
        return sl_buf_puts(o, "?");
    }
}

/* ------------------------------------------------------------------ equality */

static bool str_eq(const char *x, const char *y)
{
    return x == y || (x && y && !strcmp(x, y));
}

static bool type_equal(const struct sl_sql_type *x, const struct sl_sql_type *y)
{
    if (x == y)
        return true;
    if (!x || !y || x->kind != y->kind || x->precision != y->precision || x->scale != y->scale ||
        x->nfields != y->nfields)
        return false;
    if (!type_equal(x->elem, y->elem) || !type_equal(x->key, y->key))
        return false;
    for (uint32_t i = 0; i < x->nfields; i++)
        if (!str_eq(x->fields[i].name, y->fields[i].name) ||
            !type_equal(x->fields[i].type, y->fields[i].type))
            return false;
    return true;
}

bool sl_sql_expr_equal(const struct sl_sql_expr *x, const struct sl_sql_expr *y)
{
    if (x == y)
        return true;
    if (!x || !y || x->kind != y->kind || x->op != y->op || x->negated != y->negated ||
        x->star != y->star || x->distinct != y->distinct || x->nargs != y->nargs ||
        x->nnames != y->nnames)
        return false;
    switch (x->kind) {
    case SL_SQL_E_BOOL:
        if (x->b != y->b)
            return false;
        break;
    case SL_SQL_E_INT:
    case SL_SQL_E_BIGINT:
        if (x->i != y->i)
            return false;
        break;
    case SL_SQL_E_DOUBLE:
        if (x->d != y->d)
            return false;
        break;
    default:
        break;
    }
    if (x->kind != SL_SQL_E_DOUBLE && (x->len != y->len || (x->text == NULL) != (y->text == NULL) ||
                                       (x->text && memcmp(x->text, y->text, x->len))))
        return false;
    if (!str_eq(x->qualifier, y->qualifier) || !str_eq(x->name, y->name) ||
        !type_equal(x->type, y->type))
        return false;
    for (uint32_t i = 0; i < x->nnames; i++)
        if (!str_eq(x->names[i], y->names[i]))
            return false;
    for (uint32_t i = 0; i < x->nargs; i++)
        if (!sl_sql_expr_equal(x->args[i], y->args[i]))
            return false;
    return sl_sql_expr_equal(x->a, y->a) && sl_sql_expr_equal(x->b_, y->b_) &&
           sl_sql_expr_equal(x->c, y->c);
}
