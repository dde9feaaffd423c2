/*
 * fn_net_test.c — the network builtins (src/lang/fn_net.c) through the Stellar engine:
 * IN_SUBNET against a reference model of commons-net 3.1's signed-int arithmetic over random
 * subnets, the public suffix rules (exact, wildcard, exception, unknown TLD) over a small
 * list of our own (SL_PUBLIC_SUFFIX_LIST, so the result does not depend on the installed
 * publicsuffix package), and the list's once-only load racing from several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/arena.h"
#include "lang/stellar.h"
#include "lang/sval.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char psl_path[] = "/tmp/sl_psl_XXXXXX";

static const char psl_text[] = "// test list\n"
                               "com\n"
                               "uk\n"
                               "co.uk\n"
                               "ck\n"
                               "*.ck\n"
                               "!www.ck\n"
                               "jp\n"
                               "*.kawasaki.jp\n"
                               "!city.kawasaki.jp\n"
                               "blogspot.com\n"
                               "\n"
                               "// ===END ICANN DOMAINS===\n";

/* Evaluate src in a fresh VM and arena; returns the evaluation code, *out the result with
 * its text copied into buf. */
static int eval_in(struct sl_stellar_vm *vm, struct sl_arena *a, const char *src,
                   struct sl_value *out, char *buf, size_t cap)
{
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_stellar_compile(src, strlen(src), NULL, &p, &d);
    if (rc)
        return rc;
    struct sl_stellar_resolver r = {0};
    rc = sl_stellar_eval(vm, p, &r, a, out);
    if (!rc && out->type == SL_V_STRING) {
        snprintf(buf, cap, "%.*s", (int)out->len, out->u.s);
        out->u.s = buf;
    }
    sl_stellar_free(p);
    return rc;
}

static struct sl_arena arena;
static struct sl_stellar_vm *vm;
static char text[512];

static void expect_str(const char *src, const char *want)
{
    struct sl_value v;
    int rc = eval_in(vm, &arena, src, &v, text, sizeof text);
    if (rc)
        fail_msg("%s: %s (%s)", src, sl_strerror(rc), sl_stellar_vm_error(vm));
    if (!want) {
        if (v.type != SL_V_NULL)
            fail_msg("%s: want null, got type %d", src, v.type);
        return;
    }
    if (v.type != SL_V_STRING || strcmp(text, want) != 0)
        fail_msg("%s: want '%s', got type %d '%s'", src, want, v.type,
                 v.type == SL_V_STRING ? text : "");
}

static bool eval_bool(const char *src, bool *err)
{
    struct sl_value v;
    int rc = eval_in(vm, &arena, src, &v, text, sizeof text);
    *err = rc != 0;
    return !rc && v.type == SL_V_BOOL && v.u.b;
}

/* commons-net 3.1 SubnetInfo.isInRange as Java computes it: int arithmetic, wrapping. */
static bool ref_in_range(uint32_t addr, uint32_t net, int bits)
{
    uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    uint32_t network = net & mask, broadcast = network | ~mask;
    int32_t low = 0, high = 0;
    if ((int64_t)broadcast - (int64_t)network > 1) {
        low = (int32_t)(network + 1);
        high = (int32_t)(broadcast - 1);
    }
    int32_t diff = (int32_t)(addr - (uint32_t)low);
    return diff >= 0 && diff <= (int32_t)((uint32_t)high - (uint32_t)low);
}

static void ip_text(uint32_t v, char *out, size_t cap)
{
    snprintf(out, cap, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

static void test_in_subnet_model(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t net = (uint32_t)x;
        int bits = 1 + (int)((x >> 32) % 32);
        uint32_t addr;
        switch ((x >> 40) % 5) { /* edges: network, broadcast, their neighbours, 0.0.0.0 */
        case 0:
            addr = net & (bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
            break;
        case 1:
            addr = net | (bits == 32 ? 0 : 0xffffffffu >> bits);
            break;
        case 2:
            addr = (net & ~(0xffffffffu >> (bits == 32 ? 31 : bits))) + 1;
            break;
        case 3:
            addr = (x >> 45) % 7 ? (uint32_t)(x >> 20) : 0;
            break;
        default:
            addr = net ^ (uint32_t)((x >> 50) & 0xff);
            break;
        }
        char a[16], n[16], src[96];
        ip_text(addr, a, sizeof a);
        ip_text(net, n, sizeof n);
        snprintf(src, sizeof src, "IN_SUBNET('%s', '%s/%d')", a, n, bits);
        bool err;
        bool got = eval_bool(src, &err);
        if (err)
            fail_msg("%s: %s", src, sl_stellar_vm_error(vm));
        if (got != ref_in_range(addr, net, bits))
            fail_msg("%s: got %d, commons-net 3.1 says %d", src, got, !got);
        sl_arena_reset(&arena);
    }
}

static void test_in_subnet_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "IN_SUBNET('10.0.0.1', '10.0.0.0/0')",
        "IN_SUBNET('10.0.0.1', '10.0.0.0/33')",
        "IN_SUBNET('10.0.0.1', '10.0.0.0')",
        "IN_SUBNET('10.0.0.1', '10.0.0/8')",
        "IN_SUBNET('10.0.0.1', '10.0.0.256/8')",
        "IN_SUBNET('10.0.0.1', '10.0.0.0/1000')",
        "IN_SUBNET('10.0.0.1', '1.2.3.4.5/8')",
        "IN_SUBNET('::1', '10.0.0.0/8')",
        "IN_SUBNET('10.0.0.01234', '10.0.0.0/8')",
        "IN_SUBNET(' 10.0.0.1', '10.0.0.0/8')",
        "IN_SUBNET('10.0.0.1', 8)",
        "IN_SUBNET(1, '10.0.0.0/8')",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool err;
        eval_bool(bad[i], &err);
        if (!err)
            fail_msg("%s: want an error", bad[i]);
    }
    bool err;
    assert_true(eval_bool("IN_SUBNET('10.0.0.001', '010.0.0.0/08')", &err)); /* leading 0s */
    assert_false(err);
    assert_false(eval_bool("IN_SUBNET(null, 'garbage')", &err)); /* null ip: false first */
    assert_false(err);
}

static void test_suffix_rules(void **state)
{
    (void)state;
    expect_str("DOMAIN_TO_TLD('www.google.co.uk')", "co.uk");
    expect_str("DOMAIN_TO_TLD('a.b.ck')", "b.ck"); /* *.ck */
    expect_str("DOMAIN_TO_TLD('www.ck')", "ck");   /* !www.ck */
    expect_str("DOMAIN_REMOVE_SUBDOMAINS('x.y.www.ck')", "www.ck");
    expect_str("DOMAIN_REMOVE_SUBDOMAINS('x.y.b.ck')", "y.b.ck");
    expect_str("DOMAIN_TO_TLD('a.b.kawasaki.jp')", "b.kawasaki.jp");
    expect_str("DOMAIN_TO_TLD('a.city.kawasaki.jp')", "kawasaki.jp");
    expect_str("DOMAIN_REMOVE_TLD('a.city.kawasaki.jp')", "a.city");
    expect_str("DOMAIN_TO_TLD('me.blogspot.com')", "blogspot.com"); /* private rules count */
    expect_str("DOMAIN_TO_TLD('www.example.zz')", "zz");            /* unknown: last label */
    expect_str("DOMAIN_REMOVE_TLD('www.example.zz')", "www.example");
    expect_str("DOMAIN_REMOVE_SUBDOMAINS('www.example.zz')", "example.zz");
    expect_str("DOMAIN_TO_TLD('Mail.Example.COM')", "com");
    expect_str("DOMAIN_REMOVE_TLD('Mail.Example.COM')", "Mail.Example");
    expect_str("DOMAIN_REMOVE_TLD('ck')", "");
    expect_str("DOMAIN_REMOVE_TLD('a_b.example.com')", "a_b.example"); /* '_' is allowed */
    expect_str("DOMAIN_REMOVE_TLD('a..com')", NULL);
    expect_str("DOMAIN_REMOVE_TLD('a.-b.com')", NULL);
    expect_str("DOMAIN_REMOVE_TLD('a.b.1com')", NULL);
    expect_str("DOMAIN_TO_TLD('a b.com')", "com"); /* invalid: the text after the last dot */
    bool err;
    assert_true(eval_bool("IS_DOMAIN('example.com')", &err));
    assert_false(eval_bool("IS_DOMAIN('example.zz')", &err)); /* not a TLD in this list */
    assert_true(eval_bool("IS_EMAIL('a@b.co.uk')", &err));
    assert_true(eval_bool("IS_URL('https://x.example.com/a?b=c')", &err));
    assert_false(eval_bool("IS_URL('https://x.example.zz/')", &err));
}

struct racer {
    pthread_t t;
    int ok;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_stellar_vm *v = sl_stellar_vm_new();
    char buf[64];
    r->ok = 1;
    for (int i = 0; i < 200 && r->ok; i++) {
        struct sl_value out;
        if (eval_in(v, &a, "DOMAIN_REMOVE_SUBDOMAINS('x.y.b.ck')", &out, buf, sizeof buf) ||
            out.type != SL_V_STRING || strcmp(buf, "y.b.ck") != 0)
            r->ok = 0;
        sl_arena_reset(&a);
    }
    sl_stellar_vm_free(v);
    sl_arena_fini(&a);
    return NULL;
}

/* Runs first: the threads race to load the list (pthread_once) and all see it whole. */
static void test_concurrent_first_load(void **state)
{
    (void)state;
    struct racer r[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&r[i].t, NULL, race, &r[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(r[i].t, NULL);
        assert_true(r[i].ok);
    }
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(psl_path);
    if (fd < 0 || write(fd, psl_text, sizeof psl_text - 1) != (ssize_t)(sizeof psl_text - 1))
        return -1;
    close(fd);
    setenv("SL_PUBLIC_SUFFIX_LIST", psl_path, 1);
    sl_arena_init(&arena, 4096, 16u << 20);
    vm = sl_stellar_vm_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl_stellar_vm_free(vm);
    sl_arena_fini(&arena);
    unlink(psl_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_load),
        cmocka_unit_test(test_in_subnet_model),
        cmocka_unit_test(test_in_subnet_errors),
        cmocka_unit_test(test_suffix_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
