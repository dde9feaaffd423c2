/*
 * stellar_test.c — the Stellar engine: lexer and grammar quirks, Java arithmetic, error
 * columns, lambdas, folding, the verifier, zero allocations per evaluation, resolvers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "core/event.h"
#include "lang/lang_int.h"
#include "lang/stellar.h"
#include "lang/sval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct kv {
    const char *name;
    struct sl_value v;
};
struct vars {
    const struct kv *kv;
    size_t n;
};

static bool get(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    (void)sym;
    const struct vars *vs = ud;
    for (size_t i = 0; i < vs->n; i++) {
        if (strlen(vs->kv[i].name) == len && !memcmp(vs->kv[i].name, name, len)) {
            *out = vs->kv[i].v;
            return true;
        }
    }
    return false;
}

static struct sl_arena arena;
static struct sl_stellar_vm *vm;

static int eval(const char *src, const struct vars *vs, bool strict, struct sl_value *out)
{
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_stellar_compile(src, strlen(src), NULL, &p, &d);
    if (rc)
        return rc;
    static const struct vars none = {NULL, 0};
    struct sl_stellar_resolver r = {get, (void *)(vs ? vs : &none), strict, NULL, NULL};
    rc = sl_stellar_eval(vm, p, &r, &arena, out);
    sl_stellar_free(p);
    return rc;
}

static struct sl_value ok(const char *src)
{
    struct sl_value v;
    int rc = eval(src, NULL, true, &v);
    if (rc)
        fail_msg("%s: %s (%s)", src, sl_strerror(rc), sl_stellar_vm_error(vm));
    return v;
}

static void expect_int(const char *src, int32_t want)
{
    struct sl_value v = ok(src);
    if (sl_sv_jnum(&v) != SL_JN_INT || v.u.i != want)
        fail_msg("%s: want Integer %d, got type %d value %lld", src, want, v.type,
                 (long long)v.u.i);
}

static void expect_bool(const char *src, bool want)
{
    struct sl_value v = ok(src);
    if (v.type != SL_V_BOOL || v.u.b != want)
        fail_msg("%s: want %s", src, want ? "true" : "false");
}

static void expect_parse_error(const char *src, uint32_t col)
{
    struct sl_stellar_prog *p = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_stellar_compile(src, strlen(src), NULL, &p, &d);
    if (!rc) {
        sl_stellar_free(p);
        fail_msg("%s: compiled, want an error at column %u", src, col);
    }
    if (col && d.col != col)
        fail_msg("%s: error at column %u (%s), want %u", src, d.col, d.msg, col);
    assert_true(strchr(d.hint, '^') != NULL);
}

static void test_grammar_quirks(void **state)
{
    (void)state;
    expect_bool("false and true or true", false); /* and/or: equal precedence, right-assoc */
    expect_bool("true or false and false", true);
    expect_bool("'grok' in 'grokbar' == true", false); /* in(grok, (grokbar == true)) */
    expect_bool("'grok' in 'grokbar'", true);
    expect_bool("'foo' not in ['foo', 'bar']", false);
    expect_bool("null in [null, 'x']", true);
    expect_bool("'k' in {'k': 1}", true);
    expect_bool("not(1 == 2)", true);
    expect_bool("exists(nope)", false);
    expect_int("50 + (true == true ? 10 : 20)", 60);
    expect_int("if 1 < 2 then 3 else 4", 3);
    expect_int("match{ 1 > 2 => 1, 2 > 1 => 2, default => 3 }", 2);
    expect_int("match{ false => 1, default => 3 }", 3);
    expect_parse_error("1-1", 2); /* -1 is one literal: two operands in a row */
    expect_parse_error("000000", 1);
    expect_parse_error("1 +", 4);
    expect_parse_error("'abc", 1);
    expect_parse_error("NOPE_FN(1)", 1);
    expect_parse_error("1 % 2", 3);
    expect_parse_error("not true", 5);
}

static void test_java_arithmetic(void **state)
{
    (void)state;
    expect_int("2147483647 + 1", INT32_MIN); /* Integer overflow wraps */
    expect_int("7 / 2", 3);
    expect_int("-7 / 2", -3);
    expect_int("null + 1", 1); /* null as 0 */
    struct sl_value v = ok("2147483647L + 1");
    assert_int_equal(sl_sv_jnum(&v), SL_JN_LONG);
    assert_true(v.u.i == 2147483648LL);
    v = ok("1 + 1.5f");
    assert_int_equal(sl_sv_jnum(&v), SL_JN_FLOAT);
    v = ok("1 + 1.5");
    assert_int_equal(sl_sv_jnum(&v), SL_JN_DOUBLE);
    assert_true(v.u.d == 2.5);
    v = ok("1.0 / 0");
    assert_true(isinf(v.u.d));
    expect_bool("1 == 1.0", true);
    expect_bool("1 == 1.00000001F", true);
    expect_bool("NaN == NaN", false);
    expect_bool("null == null", true);
    expect_bool("null < 1", false);
    expect_bool("'a' < 'b'", true);
    struct sl_value r;
    assert_int_equal(eval("1 / 0", NULL, true, &r), SL_EEVAL);
    assert_non_null(strstr(sl_stellar_vm_error(vm), "by zero"));
    assert_int_equal(eval("1 < 'a'", NULL, true, &r), SL_EEVAL);
    assert_int_equal(eval("'a' + 1", NULL, true, &r), SL_EEVAL);
}

static void test_variables(void **state)
{
    (void)state;
    const struct kv kv[] = {{"x", sl_sv_long(40)}, {"a.b", sl_value_str("hi", 2)}};
    struct vars vs = {kv, 2};
    struct sl_value v;
    assert_int_equal(eval("x + 2", &vs, true, &v), 0);
    assert_int_equal(sl_sv_jnum(&v), SL_JN_LONG);
    assert_true(v.u.i == 42);
    assert_int_equal(eval("a.b == 'hi'", &vs, true, &v), 0);
    assert_true(v.u.b);
    assert_int_equal(eval("y + 1", &vs, true, &v), SL_EEVAL); /* strict */
    assert_non_null(strstr(sl_stellar_vm_error(vm), "y is not defined"));
    assert_int_equal(eval("y", &vs, false, &v), 0); /* lenient */
    assert_int_equal(v.type, SL_V_NULL);
    assert_int_equal(eval("exists(x) and not(exists(y))", &vs, true, &v), 0);
    assert_true(v.u.b);
}

static void test_literals_and_strings(void **state)
{
    (void)state;
    struct sl_value v = ok("'bar \\\\ foo'");
    assert_int_equal(v.len, 9);
    assert_memory_equal(v.u.s, "bar \\ foo", 9);
    v = ok("\"\\\"bar\\\"\"");
    assert_memory_equal(v.u.s, "\"bar\"", 5);
    v = ok("[1, 'a', [2]]");
    assert_int_equal(v.type, SL_V_LIST);
    assert_int_equal(v.len, 3);
    v = ok("{'a': 1, 'a': 2, 3: 'x'}");
    assert_int_equal(v.type, SL_V_MAP);
    assert_int_equal(v.len, 2); /* the later 'a' wins, as in a HashMap */
    assert_int_equal(v.u.map[0].val.u.i, 2);
    v = ok("");
    assert_int_equal(v.type, SL_V_NULL);
}

/* A lambda reading the parameter of the lambda around it, through a stub MAP-like builtin. */
static int call2(struct sl_fcx *cx, const struct sl_value *args, int argc, struct sl_value *out)
{
    (void)argc;
    return sl_fcx_call(cx, &args[0], &args[1], 1, out);
}

static void test_lambdas_and_verifier(void **state)
{
    (void)state;
    /* no builtins needed: a lambda that is never called, and the verifier on a real program */
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *src = "match{ 1 == 1 => () -> 5 + 1, default => 0 }";
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    char err[128];
    assert_int_equal(sl_lang__verify(p, err, sizeof err), 0);
    /* corrupt a register operand: the verifier refuses it */
    uint8_t saved = p->code[0].a;
    p->code[0].a = 250;
    assert_int_not_equal(sl_lang__verify(p, err, sizeof err), 0);
    p->code[0].a = saved;
    struct sl_stellar_resolver r = {get, NULL, false, NULL, NULL};
    struct sl_value v;
    assert_int_equal(sl_stellar_eval(vm, p, &r, &arena, &v), 0);
    sl_stellar_free(p);
    /* calling a lambda through the function ABI */
    const char *lsrc = "x -> x + 1";
    assert_int_equal(sl_stellar_compile(lsrc, strlen(lsrc), NULL, &p, &d), 0);
    struct sl_value lam;
    assert_int_equal(sl_stellar_eval(vm, p, &r, &arena, &lam), 0);
    assert_true(sl_fcx_is_lambda(&lam));
    struct sl_value args[2] = {lam, sl_sv_int(41)}, out;
    assert_int_equal(call2((struct sl_fcx *)(void *)vm, args, 2, &out), 0);
    assert_int_equal(out.u.i, 42);
    struct sl_buf dis;
    sl_buf_init(&dis, 0);
    assert_int_equal(sl_stellar_disasm(p, &dis), 0);
    assert_non_null(strstr(dis.ptr, "lambda 1"));
    sl_buf_fini(&dis);
    sl_stellar_free(p);
}

static void test_folding(void **state)
{
    (void)state;
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *src = "(1 + 2) * 3 == 9 and 'a' in 'abc'";
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    assert_true(sl_stellar_is_const(p));
    sl_stellar_free(p);
    /* a folding error stays a run-time error */
    src = "1 / 0";
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    assert_false(sl_stellar_is_const(p));
    sl_stellar_free(p);
}

static void test_no_allocation_per_eval(void **state)
{
    (void)state;
    const char *srcs[] = {"protocol == 'HTTP' and bytes_in > 100", "count + 1",
                          "if bytes_in > 10 then 'big' else 'small'"};
    const struct kv kv[] = {{"protocol", sl_value_str("HTTP", 4)},
                            {"bytes_in", sl_sv_long(500)},
                            {"count", sl_sv_int(1)}};
    struct vars vs = {kv, 3};
    struct sl_stellar_resolver r = {get, &vs, false, NULL, NULL};
    for (size_t s = 0; s < 3; s++) {
        struct sl_stellar_prog *p;
        struct sl_diag d;
        sl_diag_init(&d);
        assert_int_equal(sl_stellar_compile(srcs[s], strlen(srcs[s]), NULL, &p, &d), 0);
        struct sl_value v;
        assert_int_equal(sl_stellar_eval(vm, p, &r, &arena, &v), 0); /* warm */
        uint64_t before = sl_alloc_count();
        for (int i = 0; i < 1000; i++)
            assert_int_equal(sl_stellar_eval(vm, p, &r, &arena, &v), 0);
        assert_int_equal(sl_alloc_count() - before, 0);
        sl_stellar_free(p);
    }
}

static void test_event_resolver(void **state)
{
    (void)state;
    sl_core_init();
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = sl_batch_push(b);
    struct sl_kv *m = sl_arena_alloc(&b->arena, sizeof *m);
    m->key = sl_str_make("orig_h", 6);
    m->val = sl_value_str("10.0.0.1", 8);
    struct sl_value map = {.type = SL_V_MAP, .len = 1};
    map.u.map = m;
    assert_int_equal(sl_event_set(b, ev, sl_sym_intern_c("id"), map), 0);
    assert_int_equal(sl_event_set(b, ev, sl_sym_intern_c("n"), sl_value_int(3)), 0);
    struct sl_value ts = sl_value_ts(1500000000123000000LL);
    assert_int_equal(sl_event_set(b, ev, sl_sym_intern_c("t"), ts), 0);
    struct sl_stellar_resolver r = {sl_stellar_event_get, ev, false, sl_stellar_event_all, ev};
    const char *src = "id.orig_h == '10.0.0.1' and n + 1 == 4 and t == 1500000000123L";
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    bool yes = false;
    assert_int_equal(sl_stellar_eval_bool(vm, p, &r, &b->arena, &yes), 0);
    assert_true(yes);
    sl_stellar_free(p);
    /* a predicate that is not boolean is an error */
    src = "n + 1";
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    assert_int_equal(sl_stellar_eval_bool(vm, p, &r, &b->arena, &yes), SL_EEVAL);
    sl_stellar_free(p);
    sl_batch_unref(b);
}

static void test_limits(void **state)
{
    (void)state;
    /* deep nesting is refused, not a stack overflow */
    char *deep = sl_xmalloc(20001);
    for (int i = 0; i < 10000; i++)
        deep[i] = '(';
    for (int i = 0; i < 10000; i++)
        deep[10000 + i] = ')';
    deep[20000] = 0;
    struct sl_stellar_prog *p = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_not_equal(sl_stellar_compile(deep, 20000, NULL, &p, &d), 0);
    sl_free(deep);
    /* a long flat expression compiles (registers are reused) */
    char *flat = sl_xmalloc(40000);
    size_t o = 0;
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(flat + o, 40000 - o, "%s1", i ? " + " : "");
    assert_int_equal(sl_stellar_compile(flat, o, NULL, &p, &d), 0);
    assert_true(sl_stellar_is_const(p));
    sl_stellar_free(p);
    sl_free(flat);
}

static void test_operator_chain(void **state)
{
    (void)state;
    /* a chain of operators is a loop in the parser but a left-deep tree in the compiler: past
     * SL_STELLAR_MAX_TREE it is refused with a column, not a stack overflow */
    char *chain = sl_xmalloc(40016);
    size_t o = 0;
    for (int i = 0; i < 10000; i++)
        o += (size_t)snprintf(chain + o, 40016 - o, "%sx", i ? " + " : "");
    struct sl_stellar_prog *p = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_stellar_compile(chain, o, NULL, &p, &d), SL_EDEPTH);
    assert_true(d.col > 0 && d.col <= o);
    assert_non_null(strstr(d.msg, "expression too deep"));
    sl_free(chain);
}

static void test_missing_lambda_args(void **state)
{
    (void)state;
    /* MAP passes one argument to a two-parameter lambda: the second is null, not what the
     * REDUCE call before it left in that register (found by fuzz_stellar: a use after free
     * once the earlier program was freed) */
    struct sl_value v;
    assert_int_equal(
        eval("[REDUCE(['left'], (s, x) -> x, 'i'), MAP(['foo'], (a, b) -> b)]", NULL, false, &v),
        0);
    assert_int_equal(v.type, SL_V_LIST);
    assert_int_equal(v.len, 2);
    assert_int_equal(v.u.list[1].type, SL_V_LIST);
    assert_int_equal(v.u.list[1].len, 1);
    assert_int_equal(v.u.list[1].u.list[0].type, SL_V_NULL);
}

static void test_java_tostring(void **state)
{
    (void)state;
    char b[32];
    sl_sv_format_double(1.0, false, b);
    assert_string_equal(b, "1.0");
    sl_sv_format_double(1e10, false, b);
    assert_string_equal(b, "1.0E10");
    sl_sv_format_double(0.001, false, b);
    assert_string_equal(b, "0.001");
    sl_sv_format_double(1.0e-4, false, b);
    assert_string_equal(b, "1.0E-4");
    sl_sv_format_double(123456.789, false, b);
    assert_string_equal(b, "123456.789");
    sl_sv_format_double(0.1f, true, b);
    assert_string_equal(b, "0.1");
    sl_sv_format_double(NAN, false, b);
    assert_string_equal(b, "NaN");
}

static int setup(void **state)
{
    (void)state;
    sl_arena_init(&arena, 4096, 64u << 20);
    vm = sl_stellar_vm_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_stellar_vm_free(vm);
    sl_arena_fini(&arena);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar_quirks),
        cmocka_unit_test(test_java_arithmetic),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_literals_and_strings),
        cmocka_unit_test(test_lambdas_and_verifier),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_no_allocation_per_eval),
        cmocka_unit_test(test_event_resolver),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_operator_chain),
        cmocka_unit_test(test_missing_lambda_args),
        cmocka_unit_test(test_java_tostring),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
