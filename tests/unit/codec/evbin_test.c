/* evbin_test.c — binary batches: every value type round-trips exactly; hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "codec/evbin.h"
#include "core/event.h"

#include <math.h>
#include <string.h>

static struct sl_batch *sample(void)
{
    struct sl_batch *b = sl_batch_new();
    b->bytes = 12345;
    sl_sym s_str = sl_sym_intern_c("s"), s_i = sl_sym_intern_c("i"), s_d = sl_sym_intern_c("d"),
           s_nan = sl_sym_intern_c("nan"), s_b = sl_sym_intern_c("b"), s_n = sl_sym_intern_c("n"),
           s_ts = sl_sym_intern_c("ts"), s_ip4 = sl_sym_intern_c("ip4"),
           s_ip6 = sl_sym_intern_c("ip6"), s_l = sl_sym_intern_c("l"), s_m = sl_sym_intern_c("m"),
           s_by = sl_sym_intern_c("by");
    for (int k = 0; k < 3; k++) {
        struct sl_event *ev = sl_batch_push(b);
        ev->ts_ns = -5 + k * 1000000007LL;
        sl_event_set_str(b, ev, s_str, "h\0llo\xff", 7);
        sl_event_set(b, ev, s_i, sl_value_int(k == 1 ? INT64_MIN : INT64_MAX - k));
        struct sl_value w = sl_value_int(7);
        w.flags = SL_VF_I32;
        if (k == 2)
            sl_event_set(b, ev, s_i, w);
        sl_event_set(b, ev, s_d, sl_value_double(k == 0 ? -0.0 : 1e-310));
        sl_event_set(b, ev, s_nan, sl_value_double(NAN));
        sl_event_set(b, ev, s_b, sl_value_bool(k & 1));
        sl_event_set(b, ev, s_n, sl_value_null());
        sl_event_set(b, ev, s_ts, sl_value_ts(1700000000123456789LL));
        struct sl_value ip;
        assert_int_equal(sl_value_ip_parse(SL_STR("10.1.2.3"), &ip), 0);
        sl_event_set(b, ev, s_ip4, ip);
        assert_int_equal(sl_value_ip_parse(SL_STR("2001:db8::1"), &ip), 0);
        sl_event_set(b, ev, s_ip6, ip);
        struct sl_value by = {.type = SL_V_BYTES, .len = 3};
        by.u.s = "\x00\x01\x02";
        sl_event_set(b, ev, s_by, by);
        /* list [1, "x", [null], {}] and map {"a": [2.5], "": {"k": true}} */
        struct sl_value *inner = sl_arena_alloc(&b->arena, sizeof(*inner));
        inner[0] = sl_value_null();
        struct sl_value *items = sl_arena_alloc(&b->arena, 4 * sizeof(*items));
        items[0] = sl_value_int(1);
        items[1] = sl_value_str("x", 1);
        items[2] = (struct sl_value){.type = SL_V_LIST, .len = 1};
        items[2].u.list = inner;
        items[3] = (struct sl_value){.type = SL_V_MAP, .len = 0};
        struct sl_value l = {.type = SL_V_LIST, .len = 4};
        l.u.list = items;
        sl_event_set(b, ev, s_l, l);
        struct sl_kv *kk = sl_arena_alloc(&b->arena, sizeof(*kk));
        kk[0] = (struct sl_kv){SL_STR("k"), sl_value_bool(true)};
        struct sl_value *arr = sl_arena_alloc(&b->arena, sizeof(*arr));
        arr[0] = sl_value_double(2.5);
        struct sl_kv *kv = sl_arena_alloc(&b->arena, 2 * sizeof(*kv));
        kv[0].key = SL_STR("a");
        kv[0].val = (struct sl_value){.type = SL_V_LIST, .len = 1};
        kv[0].val.u.list = arr;
        kv[1].key = sl_str_make("", 0);
        kv[1].val = (struct sl_value){.type = SL_V_MAP, .len = 1};
        kv[1].val.u.map = kk;
        struct sl_value m = {.type = SL_V_MAP, .len = 2};
        m.u.map = kv;
        sl_event_set(b, ev, s_m, m);
    }
    sl_batch_push(b); /* an event without fields */
    return b;
}

static void assert_same(const struct sl_batch *a, const struct sl_batch *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->bytes, b->bytes);
    for (uint32_t i = 0; i < a->count; i++) {
        const struct sl_event *x = &a->events[i], *y = &b->events[i];
        assert_int_equal(x->ts_ns, y->ts_ns);
        assert_int_equal(x->count, y->count);
        for (uint32_t f = 0; f < x->count; f++) {
            assert_int_equal(x->fields[f].sym, y->fields[f].sym);
            const struct sl_value *u = &x->fields[f].val, *v = &y->fields[f].val;
            assert_int_equal(u->type, v->type);
            assert_int_equal(u->flags, v->flags);
            if (u->type == SL_V_DOUBLE)
                assert_memory_equal(&u->u.d, &v->u.d, 8); /* NaN and -0.0 by bits */
            else
                assert_true(sl_value_equal(u, v));
        }
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct sl_batch *b = sample();
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    assert_int_equal(sl_evbin_encode(b, &out), 0);
    struct sl_batch *c = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_evbin_decode(out.ptr, out.len, c, &d), 0);
    assert_same(b, c);
    /* the view decoder: the same values, strings pointing into the input */
    struct sl_batch *v = sl_batch_new();
    assert_int_equal(sl_evbin_decode_view(out.ptr, out.len, v, &d), 0);
    assert_same(b, v);
    const char *sp = v->events[0].fields[0].val.u.s;
    assert_true(sp >= out.ptr && sp < out.ptr + out.len);
    sl_batch_unref(v);
    assert_true(isnan(c->events[0].fields[3].val.u.d));
    assert_true(signbit(c->events[0].fields[2].val.u.d));
    /* names are written once per batch: the second event is much smaller than the first */
    struct sl_buf again;
    sl_buf_init(&again, 1 << 20);
    assert_int_equal(sl_evbin_encode(c, &again), 0);
    assert_int_equal(again.len, out.len);
    assert_memory_equal(again.ptr, out.ptr, out.len);
    sl_buf_fini(&again);
    /* every truncation and every single-byte change fails cleanly or decodes */
    for (size_t n = 0; n < out.len; n++) {
        struct sl_batch *t = sl_batch_new();
        char *cut = sl_xmalloc(n ? n : 1);
        memcpy(cut, out.ptr, n);
        assert_int_not_equal(sl_evbin_decode(cut, n, t, &d), 0);
        assert_true(d.offset >= 0 && (size_t)d.offset <= n);
        sl_free(cut);
        sl_batch_unref(t);
    }
    for (size_t i = 0; i < out.len; i++) {
        struct sl_batch *t = sl_batch_new();
        char *flip = sl_xmalloc(out.len);
        memcpy(flip, out.ptr, out.len);
        flip[i] ^= 0x5a;
        (void)sl_evbin_decode(flip, out.len, t, NULL);
        sl_free(flip);
        sl_batch_unref(t);
    }
    sl_buf_fini(&out);
    sl_batch_unref(b);
    sl_batch_unref(c);
}

static void obj_free(struct sl_object *o)
{
    (void)o;
}
static const struct sl_object_type obj_type = {"test", obj_free, NULL};

static void test_refusals(void **state)
{
    (void)state;
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = sl_batch_push(b);
    struct sl_object o = {.type = &obj_type};
    struct sl_value v = {.type = SL_V_OBJECT};
    v.u.obj = &o;
    sl_event_set(b, ev, sl_sym_intern_c("o"), v);
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    sl_buf_puts(&out, "keep");
    assert_int_equal(sl_evbin_encode(b, &out), SL_ETYPE);
    assert_int_equal(out.len, 4); /* rolled back */
    sl_batch_unref(b);
    /* nesting past the cap, both ways */
    b = sl_batch_new();
    ev = sl_batch_push(b);
    struct sl_value deep = sl_value_null();
    for (int i = 0; i < 100; i++) {
        struct sl_value *cell = sl_arena_alloc(&b->arena, sizeof(*cell));
        *cell = deep;
        deep = (struct sl_value){.type = SL_V_LIST, .len = 1};
        deep.u.list = cell;
    }
    sl_event_set(b, ev, sl_sym_intern_c("deep"), deep);
    assert_int_equal(sl_evbin_encode(b, &out), SL_EDEPTH);
    sl_batch_unref(b);
    sl_buf_reset(&out);
    sl_buf_append(&out, "SLB1\x01\x00", 6);
    sl_buf_append(&out, "\0\0\0\0\0\0\0\0\x01\x00\x01x", 12);
    for (int i = 0; i < 100; i++)
        sl_buf_append(&out, "\x08\x00\x01", 3);
    sl_buf_append(&out, "\x00\x00", 2);
    b = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_evbin_decode(out.ptr, out.len, b, &d), SL_EDEPTH);
    sl_batch_unref(b);
    /* a count larger than the input: refused before any allocation */
    b = sl_batch_new();
    assert_int_equal(sl_evbin_decode("SLB1\xff\xff\xff\xff\x0f\x00", 10, b, &d), SL_EPARSE);
    assert_int_equal(b->count, 0);
    sl_batch_unref(b);
    sl_buf_fini(&out);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct sl_batch *b = sample();
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    assert_int_equal(sl_evbin_encode(b, &out), 0);
    for (uint64_t nth = 1; nth < 200; nth++) {
        struct sl_batch *c = sl_batch_new();
        sl_alloc_fail_nth(nth);
        int rc = sl_evbin_decode(out.ptr, out.len, c, NULL);
        sl_alloc_fail_nth(0);
        assert_true(rc == 0 || rc == SL_ENOMEM);
        if (rc == 0)
            assert_same(b, c);
        sl_batch_unref(c);
    }
    sl_buf_fini(&out);
    sl_batch_unref(b);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
