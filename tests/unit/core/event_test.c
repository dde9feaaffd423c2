/* event_test.c — values, symbols, batches, copy-on-write, paths, dead letters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "core/event.h"
#include "sys/thread.h"

#include <stdio.h>
#include <string.h>

static void test_values(void **state)
{
    struct sl_value a, b;
    assert_int_equal(sl_value_ip_parse(SL_STR("10.1.2.3"), &a), 0);
    assert_int_equal(a.flags, SL_VF_IP4);
    char out[64];
    sl_value_ip_format(&a, out, sizeof(out));
    assert_string_equal(out, "10.1.2.3");
    assert_int_equal(sl_value_ip_parse(SL_STR("fe80::1"), &b), 0);
    assert_false(sl_value_equal(&a, &b));
    assert_int_not_equal(sl_value_ip_parse(SL_STR("10.1.2"), &b), 0);
    assert_int_not_equal(sl_value_ip_parse(SL_STR("1.2.3.4.5"), &b), 0);
    struct sl_buf s;
    sl_buf_init(&s, 0);
    struct sl_value i = sl_value_int(-42), d = sl_value_double(0.5), t = sl_value_bool(true);
    assert_true(sl_str_eq_c(sl_value_to_text(&i, &s), "-42"));
    assert_true(sl_str_eq_c(sl_value_to_text(&d, &s), "0.5"));
    assert_true(sl_str_eq_c(sl_value_to_text(&t, &s), "true"));
    assert_true(sl_str_eq_c(sl_value_to_text(&a, &s), "10.1.2.3"));
    struct sl_kv kv[1] = {{SL_STR("k"), sl_value_str("v\"", 2)}};
    struct sl_value m = {.type = SL_V_MAP, .len = 1};
    m.u.map = kv;
    assert_true(sl_str_eq_c(sl_value_to_text(&m, &s), "{\"k\":\"v\\\"\"}"));
    sl_buf_fini(&s);
}

static void *intern_many(void *arg)
{
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "field-%d", i);
        sl_sym s = sl_sym_intern_c(name);
        assert_true(s != 0);
        assert_true(sl_str_eq_c(sl_sym_name(s), name));
    }
    return NULL;
}

static void test_symbols_threads(void **state)
{
    struct sl_thread th[4];
    for (int i = 0; i < 4; i++)
        sl_thread_start(&th[i], "intern", intern_many, NULL);
    for (int i = 0; i < 4; i++)
        sl_thread_join(&th[i]);
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "field-%d", i);
        assert_int_equal(sl_sym_lookup(name, strlen(name)), sl_sym_intern_c(name));
    }
    assert_int_equal(sl_sym_lookup("never-seen", 10), 0);
}

static void test_batches(void **state)
{
    sl_sym a = sl_sym_intern_c("a"), n = sl_sym_intern_c("n");
    struct sl_batch *b = sl_batch_new();
    for (int i = 0; i < 3000; i++) {
        struct sl_event *ev = sl_batch_push(b);
        assert_int_equal(sl_event_set_str(b, ev, a, "text", 4), 0);
        assert_int_equal(sl_event_set(b, ev, n, sl_value_int(i)), 0);
    }
    assert_true(sl_batch_full(b));
    sl_event_set(b, &b->events[0], n, sl_value_int(-1)); /* replace */
    assert_int_equal(b->events[0].count, 2);
    /* shared: sl_batch_own copies; the copy survives the original */
    sl_batch_ref(b);
    struct sl_batch *own = sl_batch_own(b);
    assert_ptr_not_equal(own, b);
    bool keep[3000];
    for (int i = 0; i < 3000; i++)
        keep[i] = i % 2 == 0;
    sl_batch_compact(own, keep);
    assert_int_equal(own->count, 1500);
    assert_int_equal(b->count, 3000);
    sl_batch_unref(b);
    assert_int_equal(sl_event_get(&own->events[1], n)->u.i, 2);
    assert_true(sl_str_eq_c(sl_value_as_str(sl_event_get(&own->events[1], a)), "text"));
    sl_batch_unref(own);
    /* not shared: the same batch comes back */
    struct sl_batch *c = sl_batch_new();
    assert_ptr_equal(sl_batch_own(c), c);
    sl_batch_unref(c);
}

static void test_paths_and_dead_letters(void **state)
{
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = sl_batch_push(b);
    struct sl_kv inner[1] = {{SL_STR("c"), sl_value_int(7)}};
    struct sl_kv outer[1] = {{SL_STR("b"), {.type = SL_V_MAP, .len = 1}}};
    outer[0].val.u.map = inner;
    struct sl_value m = {.type = SL_V_MAP, .len = 1};
    m.u.map = outer;
    sl_event_set(b, ev, sl_sym_intern_c("a"), m);
    sl_event_set(b, ev, sl_sym_intern_c("a.b"), sl_value_int(1)); /* literal dotted name */
    struct sl_path p1, p2, p3;
    sl_path_init(&p1, "a.b.c");
    sl_path_init(&p2, "a.b");
    sl_path_init(&p3, "a.x");
    assert_int_equal(sl_path_get(&p1, ev)->u.i, 7);
    assert_int_equal(sl_path_get(&p2, ev)->u.i, 1); /* the literal field wins */
    assert_null(sl_path_get(&p3, ev));
    sl_path_fini(&p1);
    sl_path_fini(&p2);
    sl_path_fini(&p3);
    struct sl_batch *errs = sl_batch_new();
    assert_int_equal(sl_error_event(errs, "src", "bad", "raw{", 4, "f.json", 3, 17), 0);
    assert_int_equal(sl_error_event_for(errs, "xf", "rejected", ev), 0);
    sl_batch_unref(b); /* the dead letter holds its own copy */
    const struct sl_event *d0 = &errs->events[0], *d1 = &errs->events[1];
    assert_true(sl_str_eq_c(sl_value_as_str(sl_event_get(d0, SL_SYM_RAW)), "raw{"));
    assert_int_equal(sl_event_get(d0, SL_SYM_LINE)->u.i, 3);
    assert_int_equal(sl_event_get(d0, SL_SYM_OFFSET)->u.i, 17);
    const struct sl_value *orig = sl_event_get(d1, SL_SYM_EVENT);
    assert_int_equal(orig->type, SL_V_MAP);
    const struct sl_value *a = sl_value_map_get(orig, SL_STR("a"));
    assert_int_equal(sl_value_map_get(sl_value_map_get(a, SL_STR("b")), SL_STR("c"))->u.i, 7);
    sl_batch_unref(errs);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values), cmocka_unit_test(test_symbols_threads),
        cmocka_unit_test(test_batches), cmocka_unit_test(test_paths_and_dead_letters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
