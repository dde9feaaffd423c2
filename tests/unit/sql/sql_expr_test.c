/*
 * sql_expr_test.c — SQL expressions on the Stellar VM: ksqlDB's NULL semantics, integer
 * division and overflow, lazy CASE, LIKE, IN with NULL, BETWEEN, CAST, SUBSTRING, SPLIT with
 * 1-based and 0.6 subscripts, struct fields, type errors with positions, no allocation per
 * evaluation. Expression trees are built by hand (the tests do not depend on the parser).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "lang/lang_int.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "sql/sql_expr.h"
#include "sql/sql_parse.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static struct sl_arena A; /* trees, types, results */
static struct sl_stellar_vm *vm;

/* ---- tree builders ---- */

static uint32_t next_col = 1;

static struct sl_sql_expr *E(enum sl_sql_ekind k)
{
    struct sl_sql_expr *e = sl_arena_alloc(&A, sizeof *e);
    memset(e, 0, sizeof *e);
    e->kind = k;
    e->pos.line = 1;
    e->pos.col = next_col;
    e->pos.offset = next_col - 1;
    next_col += 2;
    return e;
}

static struct sl_sql_expr *at(struct sl_sql_expr *e, uint32_t line, uint32_t col)
{
    e->pos.line = line;
    e->pos.col = col;
    return e;
}

static struct sl_sql_expr *COL(const char *name)
{
    struct sl_sql_expr *e = E(SL_SQL_E_COLUMN);
    e->name = name;
    return e;
}
static struct sl_sql_expr *I(int64_t v)
{
    struct sl_sql_expr *e = E(v > INT32_MAX || v < INT32_MIN ? SL_SQL_E_BIGINT : SL_SQL_E_INT);
    e->i = v;
    return e;
}
static struct sl_sql_expr *L(int64_t v)
{
    struct sl_sql_expr *e = E(SL_SQL_E_BIGINT);
    e->i = v;
    return e;
}
static struct sl_sql_expr *D(double v)
{
    struct sl_sql_expr *e = E(SL_SQL_E_DOUBLE);
    e->d = v;
    return e;
}
static struct sl_sql_expr *S(const char *s)
{
    struct sl_sql_expr *e = E(SL_SQL_E_STRING);
    e->text = s;
    e->len = (uint32_t)strlen(s);
    return e;
}
static struct sl_sql_expr *NUL(void)
{
    return E(SL_SQL_E_NULL);
}
static struct sl_sql_expr *B(bool b)
{
    struct sl_sql_expr *e = E(SL_SQL_E_BOOL);
    e->b = b;
    return e;
}
static struct sl_sql_expr *BIN(enum sl_sql_op op, struct sl_sql_expr *a, struct sl_sql_expr *b)
{
    struct sl_sql_expr *e = E(SL_SQL_E_BINARY);
    e->op = op;
    e->a = a;
    e->b_ = b;
    return e;
}
static struct sl_sql_expr *UN(enum sl_sql_op op, struct sl_sql_expr *a)
{
    struct sl_sql_expr *e = E(SL_SQL_E_UNARY);
    e->op = op;
    e->a = a;
    return e;
}
static struct sl_sql_expr **list(int n, va_list ap)
{
    struct sl_sql_expr **v = sl_arena_alloc(&A, (size_t)(n ? n : 1) * sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = va_arg(ap, struct sl_sql_expr *);
    return v;
}
static struct sl_sql_expr *CALL(const char *name, int n, ...)
{
    struct sl_sql_expr *e = E(SL_SQL_E_CALL);
    e->name = name;
    va_list ap;
    va_start(ap, n);
    e->args = list(n, ap);
    va_end(ap);
    e->nargs = (uint32_t)n;
    return e;
}
static struct sl_sql_expr *IN(bool neg, struct sl_sql_expr *a, int n, ...)
{
    struct sl_sql_expr *e = E(SL_SQL_E_IN);
    e->a = a;
    e->negated = neg;
    va_list ap;
    va_start(ap, n);
    e->args = list(n, ap);
    va_end(ap);
    e->nargs = (uint32_t)n;
    return e;
}
static struct sl_sql_expr *ARR(int n, ...)
{
    struct sl_sql_expr *e = E(SL_SQL_E_ARRAY);
    va_list ap;
    va_start(ap, n);
    e->args = list(n, ap);
    va_end(ap);
    e->nargs = (uint32_t)n;
    return e;
}
/* CASE: n = number of WHEN/THEN pairs, then the pairs, then ELSE (or NULL) */
static struct sl_sql_expr *CASE(struct sl_sql_expr *operand, int n, ...)
{
    struct sl_sql_expr *e = E(SL_SQL_E_CASE);
    e->a = operand;
    va_list ap;
    va_start(ap, n);
    e->args = list(2 * n, ap);
    e->b_ = va_arg(ap, struct sl_sql_expr *);
    va_end(ap);
    e->nargs = (uint32_t)(2 * n);
    return e;
}
static struct sl_sql_expr *BETWEEN(bool neg, struct sl_sql_expr *a, struct sl_sql_expr *lo,
                                   struct sl_sql_expr *hi)
{
    struct sl_sql_expr *e = E(SL_SQL_E_BETWEEN);
    e->negated = neg;
    e->a = a;
    e->b_ = lo;
    e->c = hi;
    return e;
}
static struct sl_sql_expr *LIKE(bool neg, struct sl_sql_expr *a, struct sl_sql_expr *p,
                                const char *esc)
{
    struct sl_sql_expr *e = E(SL_SQL_E_LIKE);
    e->negated = neg;
    e->a = a;
    e->b_ = p;
    if (esc) {
        e->text = esc;
        e->len = (uint32_t)strlen(esc);
    }
    return e;
}
static struct sl_sql_expr *ISNULL(bool neg, struct sl_sql_expr *a)
{
    struct sl_sql_expr *e = E(SL_SQL_E_IS_NULL);
    e->negated = neg;
    e->a = a;
    return e;
}
static struct sl_sql_expr *DISTINCT(bool neg, struct sl_sql_expr *a, struct sl_sql_expr *b)
{
    struct sl_sql_expr *e = E(SL_SQL_E_IS_DISTINCT);
    e->negated = neg;
    e->a = a;
    e->b_ = b;
    return e;
}
static struct sl_sql_type *TY(enum sl_sql_tkind k)
{
    struct sl_sql_type *t = sl_arena_alloc(&A, sizeof *t);
    memset(t, 0, sizeof *t);
    t->kind = k;
    return t;
}
static struct sl_sql_expr *CAST(struct sl_sql_expr *a, struct sl_sql_type *t)
{
    struct sl_sql_expr *e = E(SL_SQL_E_CAST);
    e->a = a;
    e->type = t;
    return e;
}
static struct sl_sql_expr *SUB(struct sl_sql_expr *a, struct sl_sql_expr *i)
{
    struct sl_sql_expr *e = E(SL_SQL_E_SUBSCRIPT);
    e->a = a;
    e->b_ = i;
    return e;
}
static struct sl_sql_expr *DEREF(struct sl_sql_expr *a, const char *f)
{
    struct sl_sql_expr *e = E(SL_SQL_E_DEREF);
    e->a = a;
    e->name = f;
    return e;
}

/* ---- a scope: A INT, B BIGINT, X DOUBLE, NAME STRING, FLAG BOOLEAN, ARR ARRAY<STRING>,
 * M MAP<STRING, INT>, ST STRUCT<F0 INT, `Nm` STRING>, U (untyped), AGG (substituted) ---- */

static struct sl_sql_type t_int = {.kind = SL_SQL_T_INT};
static struct sl_sql_type t_bigint = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type t_double = {.kind = SL_SQL_T_DOUBLE};
static struct sl_sql_type t_string = {.kind = SL_SQL_T_STRING};
static struct sl_sql_type t_bool = {.kind = SL_SQL_T_BOOLEAN};
static struct sl_sql_type t_arr = {.kind = SL_SQL_T_ARRAY, .elem = &t_string};
static struct sl_sql_type t_map = {.kind = SL_SQL_T_MAP, .key = &t_string, .elem = &t_int};
static struct sl_sql_tfield st_fields[] = {{"F0", &t_int}, {"Nm", &t_string}};
static struct sl_sql_type t_struct = {.kind = SL_SQL_T_STRUCT, .fields = st_fields, .nfields = 2};

static const struct {
    const char *name;
    struct sl_sql_type *type;
} cols[] = {{"A", &t_int},       {"B", &t_bigint},  {"X", &t_double},
            {"NAME", &t_string}, {"FLAG", &t_bool}, {"ARR", &t_arr},
            {"M", &t_map},       {"ST", &t_struct}, {"U", NULL}};
#define NCOLS 10 /* slot 9: the substituted aggregate */

static int col_cb(void *ud, const struct sl_sql_expr *col, struct sl_sql_slot *out,
                  struct sl_diag *d)
{
    for (uint32_t i = 0; i < sizeof cols / sizeof *cols; i++)
        if (!strcmp(cols[i].name, col->name)) {
            out->slot = i;
            out->type = cols[i].type;
            return 0;
        }
    return sl_diag_set(d, SL_ENOENT, "column '%s' cannot be resolved", col->name);
}

static int subst_cb(void *ud, const struct sl_sql_expr *e, struct sl_sql_slot *out,
                    struct sl_diag *d)
{
    if (e->kind == SL_SQL_E_CALL && !strcmp(e->name, "COUNT")) {
        out->slot = 9;
        out->type = &t_bigint;
        return 1;
    }
    return 0;
}

static struct sl_sql_scope scope = {.column = col_cb, .subst = subst_cb};

static struct sl_value row[NCOLS];

static void set_row(void)
{
    static struct sl_value arr[3], st[2];
    static struct sl_kv mkv[1], skv[2];
    row[0] = sl_sv_int(7);            /* A */
    row[1] = sl_sv_long(10000000000); /* B */
    row[2] = sl_sv_double(2.5);       /* X */
    row[3] = sl_value_str("xavier", 6);
    row[4] = sl_value_bool(true);
    arr[0] = sl_value_str("proc", 4);
    arr[1] = sl_value_str("exe", 3);
    arr[2] = sl_value_str("gz", 2);
    row[5] = (struct sl_value){.type = SL_V_LIST, .len = 3};
    row[5].u.list = arr;
    mkv[0].key = sl_str_make("status", 6);
    mkv[0].val = sl_sv_int(3);
    row[6] = (struct sl_value){.type = SL_V_MAP, .len = 1};
    row[6].u.map = mkv;
    st[0] = sl_sv_int(42);
    st[1] = sl_value_str("bob", 3);
    skv[0].key = sl_str_make("F0", 2);
    skv[0].val = st[0];
    skv[1].key = sl_str_make("Nm", 2);
    skv[1].val = st[1];
    row[7] = (struct sl_value){.type = SL_V_MAP, .len = 2};
    row[7].u.map = skv;
    row[8] = sl_value_null();
    row[9] = sl_sv_long(3);
}

static struct sl_diag last_diag;
static const struct sl_sql_type *last_type;

static int try_eval(const struct sl_sql_expr *e, struct sl_value *out)
{
    struct sl_stellar_prog *p;
    sl_diag_init(&last_diag);
    int rc = sl_sql_expr_compile(e, &scope, false, &A, &p, &last_type, &last_diag);
    if (rc)
        return rc;
    rc = sl_sql_eval(vm, p, row, NCOLS, &A, out);
    if (!rc)
        rc = sl_value_copy(&A, out, out);
    sl_stellar_free(p);
    return rc;
}

static struct sl_value ev(const struct sl_sql_expr *e)
{
    struct sl_value v;
    int rc = try_eval(e, &v);
    if (rc)
        fail_msg("eval failed: %s (%s)", last_diag.msg, sl_stellar_vm_error(vm));
    return v;
}

static void is_null(struct sl_value v)
{
    assert_int_equal(v.type, SL_V_NULL);
}
static void is_bool(struct sl_value v, bool b)
{
    assert_int_equal(v.type, SL_V_BOOL);
    assert_int_equal(v.u.b, b);
}
static void is_int(struct sl_value v, int64_t i)
{
    assert_int_equal(v.type, SL_V_INT);
    assert_true(v.flags & SL_VF_I32);
    assert_int_equal(v.u.i, i);
}
static void is_long(struct sl_value v, int64_t i)
{
    assert_int_equal(v.type, SL_V_INT);
    assert_false(v.flags & SL_VF_I32);
    assert_int_equal(v.u.i, i);
}
static void is_double(struct sl_value v, double d)
{
    assert_int_equal(v.type, SL_V_DOUBLE);
    assert_true(fabs(v.u.d - d) < 1e-9);
}
static void is_str(struct sl_value v, const char *s)
{
    assert_int_equal(v.type, SL_V_STRING);
    if (v.len != strlen(s) || memcmp(v.u.s, s, v.len))
        fail_msg("got '%.*s', want '%s'", (int)v.len, v.u.s, s);
}

static int setup(void **state)
{
    sl_arena_init(&A, 4096, 64u << 20);
    vm = sl_stellar_vm_new();
    set_row();
    return 0;
}
static int teardown(void **state)
{
    sl_stellar_vm_free(vm);
    sl_arena_fini(&A);
    return 0;
}

/* ---- tests ---- */

static void test_arith_types(void **state)
{
    is_int(ev(BIN(SL_SQL_OP_ADD, COL("A"), I(3))), 10);
    assert_int_equal(last_type->kind, SL_SQL_T_INT);
    is_long(ev(BIN(SL_SQL_OP_ADD, COL("A"), COL("B"))), 10000000007);
    assert_int_equal(last_type->kind, SL_SQL_T_BIGINT);
    is_double(ev(BIN(SL_SQL_OP_MUL, COL("A"), COL("X"))), 17.5);
    assert_int_equal(last_type->kind, SL_SQL_T_DOUBLE);
    /* integer division truncates; % is Java's remainder */
    is_int(ev(BIN(SL_SQL_OP_DIV, I(75), I(3))), 25);
    is_int(ev(BIN(SL_SQL_OP_DIV, I(-7), I(2))), -3);
    is_int(ev(BIN(SL_SQL_OP_MOD, I(-7), I(2))), -1);
    is_double(ev(BIN(SL_SQL_OP_DIV, COL("X"), I(2))), 1.25);
    /* division by zero: NULL (documented), double: Infinity */
    is_null(ev(BIN(SL_SQL_OP_DIV, COL("A"), I(0))));
    is_null(ev(BIN(SL_SQL_OP_MOD, COL("B"), I(0))));
    assert_true(isinf(ev(BIN(SL_SQL_OP_DIV, COL("X"), D(0))).u.d));
    /* overflow wraps as Java: INT at 32 bits, BIGINT at 64 */
    is_int(ev(BIN(SL_SQL_OP_ADD, I(INT32_MAX), COL("A"))), (int64_t)INT32_MIN + 6);
    is_int(ev(BIN(SL_SQL_OP_MUL, I(65536), I(65536))), 0);
    is_long(ev(BIN(SL_SQL_OP_ADD, L(INT64_MAX), L(1))), INT64_MIN);
    is_int(ev(BIN(SL_SQL_OP_DIV, I(INT32_MIN), I(-1))), INT32_MIN);
    is_int(ev(UN(SL_SQL_OP_NEG, COL("A"))), -7);
    /* 12*4+2 folds to a constant */
    struct sl_stellar_prog *p;
    struct sl_diag d;
    const struct sl_sql_type *t;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_expr_compile(BIN(SL_SQL_OP_ADD, BIN(SL_SQL_OP_MUL, I(12), I(4)), I(2)),
                                         &scope, false, &A, &p, &t, &d),
                     0);
    assert_true(sl_stellar_is_const(p));
    sl_stellar_free(p);
    /* string + string concatenates */
    is_str(ev(BIN(SL_SQL_OP_ADD, BIN(SL_SQL_OP_ADD, S("prefix-"), COL("NAME")), S("-x"))),
           "prefix-xavier-x");
    assert_int_equal(last_type->kind, SL_SQL_T_STRING);
    is_null(ev(BIN(SL_SQL_OP_ADD, S("a"), CAST(NUL(), &t_string))));
}

static void test_null_semantics(void **state)
{
    /* arithmetic NULL; comparison FALSE, not NULL */
    is_null(ev(BIN(SL_SQL_OP_ADD, COL("A"), NUL())));
    is_null(ev(BIN(SL_SQL_OP_ADD, COL("U"), I(1))));
    is_bool(ev(BIN(SL_SQL_OP_EQ, COL("A"), NUL())), false);
    is_bool(ev(BIN(SL_SQL_OP_NE, COL("A"), NUL())), false);
    is_bool(ev(BIN(SL_SQL_OP_LT, COL("U"), I(1))), false);
    is_bool(ev(ISNULL(false, NUL())), true);
    is_bool(ev(ISNULL(false, COL("U"))), true);
    is_bool(ev(ISNULL(true, COL("A"))), true);
    /* NOT NULL is NULL; AND/OR treat NULL as FALSE */
    is_null(ev(UN(SL_SQL_OP_NOT, CAST(NUL(), &t_bool))));
    is_bool(ev(BIN(SL_SQL_OP_AND, CAST(NUL(), &t_bool), B(true))), false);
    is_bool(ev(BIN(SL_SQL_OP_OR, CAST(NUL(), &t_bool), B(true))), true);
    /* true OR false AND true (the parser builds OR(true, AND(false, true))) */
    is_bool(ev(BIN(SL_SQL_OP_OR, B(true), BIN(SL_SQL_OP_AND, B(false), B(true)))), true);
    /* IS DISTINCT FROM */
    is_bool(ev(DISTINCT(false, NUL(), NUL())), false);
    is_bool(ev(DISTINCT(false, COL("A"), NUL())), true);
    is_bool(ev(DISTINCT(false, COL("A"), I(7))), false);
    is_bool(ev(DISTINCT(true, COL("A"), D(7.0))), true);
    /* COALESCE, IFNULL, NULLIF; COALESCE widens INT to BIGINT */
    is_long(ev(CALL("COALESCE", 3, COL("U"), COL("A"), COL("B"))), 7);
    assert_int_equal(last_type->kind, SL_SQL_T_BIGINT);
    is_str(ev(CALL("IFNULL", 2, COL("U"), S("x"))), "x");
    is_null(ev(CALL("NULLIF", 2, COL("A"), I(7))));
    is_int(ev(CALL("NULLIF", 2, COL("A"), I(8))), 7);
    /* functions return NULL for NULL; CONCAT skips NULLs */
    is_null(ev(CALL("UCASE", 1, COL("U"))));
    is_str(ev(CALL("CONCAT", 3, S("a"), COL("U"), S("b"))), "ab");
    is_null(ev(CALL("REPLACE", 3, COL("NAME"), NUL(), S("o"))));
}

static void test_case_lazy(void **state)
{
    /* the untaken branch divides by zero and calls a failing cast: never evaluated */
    struct sl_sql_expr *c = CASE(NULL, 2, BIN(SL_SQL_OP_LT, COL("X"), D(2.0)), S("small"),
                                 BIN(SL_SQL_OP_LT, COL("X"), D(4.0)), S("medium"), S("large"));
    is_str(ev(c), "medium");
    /* a NULL condition is false; no ELSE gives NULL; INT and BIGINT branches widen */
    is_null(ev(CASE(NULL, 1, CAST(NUL(), &t_bool), I(1), NULL)));
    is_long(ev(CASE(NULL, 1, COL("FLAG"), COL("A"), COL("B"))), 7);
    assert_int_equal(last_type->kind, SL_SQL_T_BIGINT);
    /* laziness: REGEXP_EXTRACT with an invalid pattern fails at run time if evaluated */
    struct sl_value v;
    assert_int_not_equal(try_eval(CALL("REGEXP_EXTRACT", 2, S("("), COL("NAME")), &v), 0);
    is_int(ev(CASE(NULL, 1, COL("FLAG"), I(1),
                   CALL("LEN", 1, CALL("REGEXP_EXTRACT", 2, S("("), COL("NAME"))))),
           1);
    /* simple CASE */
    is_str(ev(CASE(COL("A"), 2, I(1), S("one"), I(7), S("seven"), S("other"))), "seven");
}

static void test_like_in_between(void **state)
{
    is_bool(ev(LIKE(false, COL("NAME"), S("x%"), NULL)), true);
    is_bool(ev(LIKE(false, COL("NAME"), S("%vie_"), NULL)), true);
    is_bool(ev(LIKE(false, COL("NAME"), S("%vie"), NULL)), false);
    is_bool(ev(LIKE(false, S("barfoobaz"), S("%foo%"), NULL)), true);
    is_bool(ev(LIKE(false, S("foobar"), S("%oba%"), NULL)), true);
    is_bool(ev(LIKE(false, S("foo"), S("f_o"), NULL)), true);
    is_bool(ev(LIKE(false, S(""), S("%"), NULL)), true);
    is_bool(ev(LIKE(false, S("a%b"), S("a!%b"), "!")), true);
    is_bool(ev(LIKE(false, S("axb"), S("a!%b"), "!")), false);
    is_bool(ev(LIKE(false, S("aaab"), S("%a%ab"), NULL)), true);
    is_bool(ev(LIKE(false, S("\xc3\xa9t\xc3\xa9"), S("_t_"), NULL)), true);
    is_bool(ev(LIKE(true, COL("NAME"), S("%not%"), NULL)), true);
    is_bool(ev(LIKE(false, COL("U"), S("%"), NULL)), false);
    is_bool(ev(LIKE(true, COL("U"), S("%"), NULL)), true); /* NOT (FALSE) */
    /* IN: NULL never matches; NOT IN */
    is_bool(ev(IN(false, COL("A"), 3, I(11), NUL(), I(7))), true);
    is_bool(ev(IN(false, COL("U"), 2, I(11), NUL())), false);
    is_bool(ev(IN(false, COL("A"), 2, D(7.0), I(2))), true);
    is_bool(ev(IN(true, COL("A"), 3, I(11), I(20), I(10))), true);
    is_bool(ev(IN(true, COL("A"), 1, I(7))), false);
    /* BETWEEN inclusive; NULL false */
    is_bool(ev(BETWEEN(false, COL("A"), I(2), I(7))), true);
    is_bool(ev(BETWEEN(false, COL("A"), I(8), I(9))), false);
    is_bool(ev(BETWEEN(true, COL("A"), I(8), I(9))), true);
    is_bool(ev(BETWEEN(false, COL("U"), I(2), I(4))), false);
    is_bool(ev(BETWEEN(false, COL("NAME"), S("a"), S("y"))), true);
    /* strings compare by bytes */
    is_bool(ev(BIN(SL_SQL_OP_LT, S("B"), S("a"))), true);
    is_bool(ev(BIN(SL_SQL_OP_LT, S("ab"), S("abc"))), true);
    is_bool(ev(BIN(SL_SQL_OP_EQ, COL("A"), D(7.0))), true);
    is_bool(ev(BIN(SL_SQL_OP_GT, COL("B"), COL("A"))), true);
}

static void test_cast(void **state)
{
    struct sl_sql_type *dec = TY(SL_SQL_T_DECIMAL);
    dec->precision = 9;
    dec->scale = 2;
    is_int(ev(CAST(S("10"), &t_int)), 10);
    is_int(ev(CAST(S(" 12 "), &t_int)), 12);
    is_null(ev(CAST(S("abc"), &t_int))); /* a failed cast is NULL at run time */
    is_long(ev(CAST(COL("A"), &t_bigint)), 7);
    is_int(ev(CAST(COL("B"), &t_int)), (int32_t)(uint32_t)10000000000ull);
    is_int(ev(CAST(D(-2.9), &t_int)), -2);
    is_double(ev(CAST(S("1.5"), &t_double)), 1.5);
    is_double(ev(CAST(S("12.345"), dec)), 12.35);
    is_double(ev(CAST(CALL("SUBSTRING", 3, S("$15.999"), I(2), I(6)), dec)), 16.0);
    is_str(ev(CAST(D(1.0), &t_string)), "1.0");
    is_str(ev(CAST(COL("A"), &t_string)), "7");
    is_str(ev(CAST(COL("FLAG"), &t_string)), "true");
    is_bool(ev(CAST(S("TRUE"), &t_bool)), true);
    is_null(ev(CAST(NUL(), &t_bool)));
    assert_int_equal(last_type->kind, SL_SQL_T_BOOLEAN);
    /* ARRAY<STRING> → ARRAY<INT> recursively */
    struct sl_sql_type *ai = TY(SL_SQL_T_ARRAY);
    ai->elem = &t_int;
    struct sl_value v = ev(CAST(ARR(2, S("1"), S("2")), ai));
    assert_int_equal(v.type, SL_V_LIST);
    assert_int_equal(v.len, 2);
    is_int(v.u.list[1], 2);
    is_null(ev(CAST(NUL(), ai)));
    /* the C API */
    struct sl_value out;
    char err[128];
    struct sl_value s = sl_value_str("x1", 2);
    assert_int_equal(sl_sql_cast(&s, &t_int, &A, &out, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "x1"));
    s = sl_value_str("-5", 2);
    assert_int_equal(sl_sql_cast(&s, &t_bigint, &A, &out, err, sizeof err), 0);
    is_long(out, -5);
    struct sl_value dv = sl_sv_double(1e10);
    assert_int_equal(sl_sql_cast(&dv, &t_string, &A, &out, err, sizeof err), 0);
    is_str(out, "1.0E10");
}

static void test_strings(void **state)
{
    /* SUBSTRING: 1-based, clamped */
    is_str(ev(CALL("SUBSTRING", 3, S("some_string"), I(6), I(3))), "str");
    is_str(ev(CALL("SUBSTRING", 3, S("another"), I(6), I(3))), "er");
    is_str(ev(CALL("SUBSTRING", 3, S("short"), I(6), I(3))), "");
    is_str(ev(CALL("SUBSTRING", 3, S("s"), I(2), I(5))), "");
    is_str(ev(CALL("SUBSTRING", 2, S("hello"), I(0))), "hello");
    is_str(ev(CALL("SUBSTRING", 2, S("hello"), I(-3))), "llo");
    is_str(ev(CALL("SUBSTRING", 3, S("hello"), I(2), I(-1))), "");
    is_str(ev(CALL("SUBSTRING", 3, S("h\xc3\xa9llo"), I(2), I(2))), "\xc3\xa9l");
    is_null(ev(CALL("SUBSTRING", 2, COL("NAME"), NUL())));
    is_str(ev(CALL("SUBSTRING", 3, S("$12.50"), I(2),
                   BIN(SL_SQL_OP_SUB, CALL("LEN", 1, S("$12.50")), I(1)))),
           "12.50");
    is_int(ev(CALL("LEN", 1, COL("NAME"))), 6);
    is_str(ev(CALL("UCASE", 1, COL("NAME"))), "XAVIER");
    is_str(ev(CALL("LCASE", 1, S("MiXeD"))), "mixed");
    is_str(ev(CALL("TRIM", 1, S(" \t with white space \t"))), "with white space");
    is_str(ev(CALL("CONCAT", 2, S("'"), CALL("CONCAT", 2, S("foo"), S("'")))), "'foo'");
    is_str(ev(CALL("CONCAT_WS", 4, S("-"), S("a"), NUL(), S("b"))), "a-b");
    is_str(ev(CALL("REPLACE", 3, S("anaconda"), S("a"), S("o"))), "onocondo");
    is_int(ev(CALL("INSTR", 2, S("corporate floor"), S("or"))), 2);
    is_int(ev(CALL("INSTR", 2, S("should I stay or should I go"), S("or"))), 15);
    is_int(ev(CALL("INSTR", 2, S("no substring"), S("or"))), 0);
    is_int(ev(CALL("INSTR", 4, S("corporate floor"), S("or"), I(1), I(2))), 5);
    is_int(ev(CALL("INSTR", 3, S("corporate floor"), S("or"), I(-1))), 14);
    is_int(ev(CALL("INSTR", 4, S("corporate floor"), S("or"), I(-1), I(2))), 5);
    is_str(ev(CALL("LPAD", 3, S("hi"), I(5), S("ab"))), "abahi");
    is_str(ev(CALL("RPAD", 3, S("hello"), I(3), S("x"))), "hel");
    is_str(ev(CALL("REGEXP_EXTRACT", 3, S("(\\d+)-(\\d+)"), S("a 12-34 b"), I(2))), "34");
    is_str(ev(CALL("REGEXP_REPLACE", 3, S("a1b22"), S("\\d+"), S("#"))), "a#b#");
    is_str(ev(CALL("TIMESTAMPTOSTRING", 2, L(1271678417000), S("yyyy-MM-dd HH:mm:ss.SSS"))),
           "2010-04-19 12:00:17.000");
    is_long(ev(CALL("STRINGTOTIMESTAMP", 2, S("2010-04-19 12:00:17"), S("yyyy-MM-dd HH:mm:ss"))),
            1271678417000);
    is_long(ev(CALL("STRINGTOTIMESTAMP", 2, S("10-04-19 12:00:17Z"), S("yy-MM-dd HH:mm:ssX"))),
            1271678417000);
    is_null(ev(CALL("STRINGTOTIMESTAMP", 2, S("!!!!!!!!"), S("yy-MM-dd HH:mm:ssX"))));
    is_str(ev(CALL("TIMESTAMPTOSTRING", 3, L(1271678417000), S("yyyy-MM-dd'T'HH:mm"),
                   S("America/New_York"))),
           "2010-04-19T08:00");
}

static void test_math(void **state)
{
    is_int(ev(CALL("ABS", 1, UN(SL_SQL_OP_NEG, COL("A")))), 7);
    is_int(ev(CALL("SIGN", 1, D(-3.0))), -1);
    is_long(ev(CALL("TRUNC", 1, D(-1.7))), -1);
    assert_int_equal(last_type->kind, SL_SQL_T_BIGINT);
    is_double(ev(CALL("TRUNC", 2, D(1.234567), I(2))), 1.23);
    is_double(ev(CALL("TRUNC", 2, D(12345.6789), I(1))), 12345.6);
    is_double(ev(CALL("TRUNC", 2, D(111), I(-2))), 100.0);
    is_double(ev(CALL("TRUNC", 2, D(-1.5), I(-1))), 0.0);
    is_long(ev(CALL("ROUND", 1, D(2.5))), 3);
    is_double(ev(CALL("ROUND", 2, D(1.005), I(2))), 1.01); /* BigDecimal.valueOf: "1.005" */
    is_double(ev(CALL("CEIL", 1, D(1.2))), 2.0);
    is_int(ev(CALL("FLOOR", 1, COL("A"))), 7);
    is_double(ev(CALL("SQRT", 1, I(16))), 4.0);
}

static void test_collections(void **state)
{
    /* SPLIT + subscript: 1-based, and 0-based in 0.6 mode */
    struct sl_sql_expr *split = CALL("SPLIT", 2, S("proc.exe"), S("."));
    is_str(ev(SUB(split, I(1))), "proc");
    assert_int_equal(last_type->kind, SL_SQL_T_STRING);
    is_str(ev(SUB(COL("ARR"), I(-1))), "gz");
    is_null(ev(SUB(COL("ARR"), I(4))));
    is_null(ev(SUB(COL("ARR"), I(0))));
    scope.compat06 = true;
    is_str(ev(SUB(split, I(1))), "exe");
    is_str(ev(SUB(COL("ARR"), I(0))), "proc");
    scope.compat06 = false;
    struct sl_value v = ev(CALL("SPLIT", 2, S("..a.."), S(".")));
    assert_int_equal(v.len, 5);
    is_str(v.u.list[2], "a");
    v = ev(CALL("SPLIT", 2, S(""), S(".")));
    assert_int_equal(v.len, 1);
    is_str(v.u.list[0], "");
    /* map subscript, struct fields (case-insensitive fallback) */
    is_int(ev(SUB(COL("M"), S("status"))), 3);
    is_null(ev(SUB(COL("M"), S("other"))));
    is_int(ev(DEREF(COL("ST"), "F0")), 42);
    assert_int_equal(last_type->kind, SL_SQL_T_INT);
    is_str(ev(DEREF(COL("ST"), "NM")), "bob");
    /* constructors, ARRAY_LENGTH, ARRAY_CONTAINS, COALESCE with an ARRAY */
    v = ev(ARR(2, I(10), COL("B")));
    assert_int_equal(v.len, 2);
    is_long(v.u.list[0], 10); /* widened to the common type */
    is_int(ev(CALL("ARRAY_LENGTH", 1, COL("ARR"))), 3);
    is_bool(ev(CALL("ARRAY_CONTAINS", 2, COL("ARR"), S("exe"))), true);
    v = ev(CALL("COALESCE", 2, CAST(NUL(), TY(SL_SQL_T_UNKNOWN)), ARR(2, I(10), I(20))));
    assert_int_equal(v.type, SL_V_LIST);
    /* a substituted aggregate is read from its slot */
    is_long(ev(BIN(SL_SQL_OP_DIV, CALL("COUNT", 0), I(2))), 1);
}

static void expect_error(struct sl_sql_expr *e, int code, uint32_t line, uint32_t col,
                         const char *needle)
{
    struct sl_value v;
    int rc = try_eval(e, &v);
    if (rc != code)
        fail_msg("rc %d, want %d (%s)", rc, code, last_diag.msg);
    assert_int_equal(last_diag.line, line);
    assert_int_equal(last_diag.col, col);
    if (!strstr(last_diag.msg, needle) && !strstr(last_diag.hint, needle))
        fail_msg("message '%s' (hint '%s') lacks '%s'", last_diag.msg, last_diag.hint, needle);
}

static void test_errors(void **state)
{
    expect_error(at(BIN(SL_SQL_OP_GT, COL("NAME"), I(10)), 3, 14), SL_ETYPE, 3, 14,
                 "Cannot compare NAME (STRING) to 10 (INTEGER)");
    expect_error(at(CALL("SUBSTR", 1, COL("NAME")), 2, 5), SL_ENOENT, 2, 5,
                 "function 'SUBSTR' does not exist");
    expect_error(at(CALL("SUBSTRNG", 1, COL("NAME")), 1, 1), SL_ENOENT, 1, 1, "SUBSTRING");
    expect_error(at(CALL("SUBSTRING", 1, COL("NAME")), 4, 1), SL_ETYPE, 4, 1,
                 "SUBSTRING expects 2 or 3 arguments");
    expect_error(at(COL("NOPE"), 1, 9), SL_ENOENT, 1, 9, "cannot be resolved");
    expect_error(at(BIN(SL_SQL_OP_ADD, COL("FLAG"), I(1)), 1, 3), SL_ETYPE, 1, 3,
                 "Unsupported arithmetic");
    expect_error(at(DEREF(COL("ST"), "NOPE"), 1, 2), SL_ENOENT, 1, 2, "NOPE");
    expect_error(at(CALL("UCASE", 1, at(COL("A"), 5, 7)), 5, 1), SL_ETYPE, 5, 7, "UCASE");
    expect_error(at(CALL("SUM", 1, COL("A")), 6, 2), SL_EINVAL, 6, 2, "aggregate");
    /* a predicate must be BOOLEAN */
    struct sl_stellar_prog *p;
    struct sl_diag d;
    const struct sl_sql_type *t;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_expr_compile(at(COL("NAME"), 7, 3), &scope, true, &A, &p, &t, &d),
                     SL_ETYPE);
    assert_int_equal(d.line, 7);
    assert_int_equal(sl_sql_expr_typeof(BIN(SL_SQL_OP_ADD, COL("A"), D(1)), &scope, &A, &t, &d), 0);
    assert_int_equal(t->kind, SL_SQL_T_DOUBLE);
    assert_true(sl_sql_func_exists("SUBSTRING"));
    assert_false(sl_sql_func_exists("$ADD_INT"));
    assert_false(sl_sql_func_exists("TO_UPPER")); /* Stellar's names are not SQL's */
}

static void test_predicate_no_alloc(void **state)
{
    /* a + b * 2 > 10 AND name LIKE 'x%' */
    struct sl_sql_expr *e = BIN(
        SL_SQL_OP_AND,
        BIN(SL_SQL_OP_GT, BIN(SL_SQL_OP_ADD, COL("A"), BIN(SL_SQL_OP_MUL, COL("B"), I(2))), I(10)),
        LIKE(false, COL("NAME"), S("x%"), NULL));
    struct sl_stellar_prog *p;
    struct sl_diag d;
    const struct sl_sql_type *t;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_expr_compile(e, &scope, true, &A, &p, &t, &d), 0);
    struct sl_buf dis;
    sl_buf_init(&dis, 1 << 20);
    assert_int_equal(sl_stellar_disasm(p, &dis), 0);
    assert_non_null(strstr(dis.ptr, "loadc"));
    assert_non_null(strstr(dis.ptr, "$LIKE"));
    sl_buf_fini(&dis);
    bool ok = false;
    uint64_t before = sl_alloc_count();
    for (int i = 0; i < 1000; i++) {
        row[0] = sl_sv_int(i);
        assert_int_equal(sl_sql_eval_bool(vm, p, row, NCOLS, &A, &ok), 0);
    }
    assert_int_equal(sl_alloc_count() - before, 0);
    assert_true(ok);
    row[3] = sl_value_str("yes", 3);
    assert_int_equal(sl_sql_eval_bool(vm, p, row, NCOLS, &A, &ok), 0);
    assert_false(ok);
    /* a short row: missing slots read NULL */
    assert_int_equal(sl_sql_eval_bool(vm, p, row, 1, &A, &ok), 0);
    assert_false(ok);
    set_row();
    sl_stellar_free(p);
    /* REGEXP_EXTRACT: the compiled pattern is cached per thread */
    assert_int_equal(sl_sql_expr_compile(CALL("REGEXP_EXTRACT", 3, S("x(a+)"), COL("NAME"), I(1)),
                                         &scope, false, &A, &p, &t, &d),
                     0);
    struct sl_value v;
    assert_int_equal(sl_sql_eval(vm, p, row, NCOLS, &A, &v), 0);
    before = sl_alloc_count();
    for (int i = 0; i < 100; i++)
        assert_int_equal(sl_sql_eval(vm, p, row, NCOLS, &A, &v), 0);
    assert_int_equal(sl_alloc_count() - before, 0);
    is_str(v, "a");
    sl_stellar_free(p);
}

/* Through the parser when it is linked (weak: these tests skip without it). */
int sl_sql_parse_expr(const char *src, size_t len, struct sl_arena *a, struct sl_sql_expr **out,
                      struct sl_diag *d) __attribute__((weak));

static struct sl_value pev(const char *src)
{
    struct sl_sql_expr *e;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_parse_expr(src, strlen(src), &A, &e, &d))
        fail_msg("parse '%s': %s", src, d.msg);
    return ev(e);
}

static void test_parsed(void **state)
{
    if (!sl_sql_parse_expr)
        skip();
    is_bool(pev("true OR false AND true"), true);
    is_int(pev("12*4+2"), 50);
    is_long(pev("A + B"), 10000000007);
    is_str(pev("'prefix-' + NAME + '-postfix'"), "prefix-xavier-postfix");
    is_str(pev("CASE WHEN X < 2.0 THEN 'small' WHEN X < 4.0 THEN 'medium' ELSE 'large' END"),
           "medium");
    is_str(pev("SPLIT('proc.exe', '.')[1]"), "proc");
    is_str(pev("ST->NM"), "bob");
    is_int(pev("M['status']"), 3);
    is_bool(pev("NAME NOT LIKE '%not%'"), true);
    is_bool(pev("A IN (11, NULL, 7)"), true);
    is_bool(pev("A BETWEEN 2 AND 7"), true);
    is_bool(pev("U IS NULL AND A IS NOT NULL"), true);
    is_double(pev("CAST(SUBSTRING('$12.505', 2, LEN('$12.505') - 1) AS DECIMAL(9, 2))"), 12.51);
    is_long(pev("TRUNC(X)"), 2);
    is_str(pev("CONCAT('''', CONCAT(NAME, ''''))"), "'xavier'");
    struct sl_sql_expr *e;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *src = "A = 1 AND\n  NAME > 10";
    assert_int_equal(sl_sql_parse_expr(src, strlen(src), &A, &e, &d), 0);
    struct sl_value v;
    assert_int_equal(try_eval(e, &v), SL_ETYPE);
    assert_int_equal(last_diag.line, 2);
    assert_int_equal(last_diag.col, 3);
    assert_non_null(strstr(last_diag.msg, "Cannot compare NAME (STRING) to 10 (INTEGER)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith_types), cmocka_unit_test(test_null_semantics),
        cmocka_unit_test(test_case_lazy),   cmocka_unit_test(test_like_in_between),
        cmocka_unit_test(test_cast),        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_math),        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_predicate_no_alloc),
        cmocka_unit_test(test_parsed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
