/*
 * aggtable_test.c — the windowed group-by state: windows close in (end, start) order and only
 * up to the given end; groups in first-seen order; max_groups; distinct exact then HLL++
 * (within 3 % on 100 000 values); top-k exact, then Space-Saving keeps the heavy hitters with
 * counts that never under-estimate; sums that overflow int64 go on as doubles; a checkpoint
 * (save, load) gives the same results, and a damaged one is refused without harm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/binrd.h"
#include "base/buf.h"
#include "lang/sketch.h"
#include "state/aggtable.h"
#include "state/statecodec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct seen {
    struct sl_buf text;
    const struct sl_value *last; /* unused */
    int64_t distinct;
    struct sl_value top[8];
    uint32_t ntop;
    int64_t topcount[8];
};

static int emit(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                const struct sl_value *res)
{
    struct seen *s = ud;
    sl_buf_appendf(&s->text, "[%lld,%lld) k=%lld n=%lld;", (long long)ws, (long long)we,
                   keys ? (long long)keys[0].u.i : -1LL, (long long)res[0].u.i);
    return 0;
}

static void test_windows(void **state)
{
    (void)state;
    struct sl_agg_spec sp[] = {{SL_AGG_COUNT, 0}};
    struct sl_aggtable_opts o = {.specs = sp, .nspecs = 1, .nkeys = 1, .max_groups = 4};
    struct sl_aggtable *t = sl_aggtable_new(&o);
    struct sl_value args[1] = {sl_value_null()};
    static const int64_t ev[][3] = {{60, 120, 1}, {0, 60, 2}, {0, 60, 1},
                                    {60, 120, 1}, {0, 60, 2}, {120, 180, 3}};
    for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
        struct sl_aggroup *g;
        struct sl_value k = sl_value_int(ev[i][2]);
        assert_int_equal(sl_aggtable_group(t, ev[i][0], ev[i][1], &k, &g), 0);
        assert_int_equal(sl_aggtable_add(t, g, args), 0);
    }
    assert_int_equal(sl_aggtable_groups(t), 4);
    assert_int_equal(sl_aggtable_windows(t), 3);
    struct sl_aggroup *g;
    struct sl_value k = sl_value_int(9);
    assert_int_equal(sl_aggtable_group(t, 0, 60, &k, &g), SL_ELIMIT);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    struct seen s = {0};
    sl_buf_init(&s.text, 0);
    assert_int_equal(sl_aggtable_close(t, 120, false, &a, emit, &s), 3);
    assert_string_equal(s.text.ptr, "[0,60) k=2 n=2;[0,60) k=1 n=1;[60,120) k=1 n=2;");
    assert_int_equal(sl_aggtable_groups(t), 1);
    sl_buf_reset(&s.text);
    assert_int_equal(sl_aggtable_close(t, 0, true, &a, emit, &s), 1);
    assert_string_equal(s.text.ptr, "[120,180) k=3 n=1;");
    sl_buf_fini(&s.text);
    sl_arena_fini(&a);
    sl_aggtable_free(t);
}

static int emit_stats(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                      const struct sl_value *res)
{
    struct seen *s = ud;
    s->distinct = res[0].u.i;
    assert_int_equal(res[1].type, SL_V_LIST);
    s->ntop = res[1].len < 8 ? res[1].len : 8;
    for (uint32_t i = 0; i < s->ntop; i++) {
        const struct sl_value *m = &res[1].u.list[i];
        assert_int_equal(m->type, SL_V_MAP);
        s->top[i] = *sl_value_map_get(m, sl_str_c("value"));
        s->topcount[i] = sl_value_map_get(m, sl_str_c("count"))->u.i;
    }
    sl_buf_appendf(&s->text, "%s", res[2].type == SL_V_DOUBLE ? "double" : "int");
    return 0;
}

static void test_distinct_topk_sum(void **state)
{
    (void)state;
    struct sl_agg_spec sp[] = {{SL_AGG_DISTINCT, 0}, {SL_AGG_TOPK, 3}, {SL_AGG_SUM, 0}};
    struct sl_aggtable_opts o = {.specs = sp, .nspecs = 3, .nkeys = 0, .distinct_exact_max = 1000};
    struct sl_aggtable *t = sl_aggtable_new(&o);
    struct sl_aggroup *g;
    assert_int_equal(sl_aggtable_group(t, 0, 0, NULL, &g), 0);
    /* 100 000 distinct values; "hot1" x 10000, "hot2" x 5000, "hot3" x 4000 interleaved:
     * top_k keeps 300 exact counters, then Space-Saving */
    char buf[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(buf, sizeof(buf), "v%d", i);
        struct sl_value args[3] = {sl_value_str(buf, (size_t)n), sl_value_str(buf, (size_t)n),
                                   sl_value_int(INT64_MAX / 50000)};
        if (i % 10 == 0)
            args[1] = sl_value_str("hot1", 4);
        else if (i % 10 == 1 && i % 20 != 1)
            args[1] = sl_value_str("hot2", 4);
        else if (i % 50 == 2 || i % 50 == 3)
            args[1] = sl_value_str("hot3", 4);
        assert_int_equal(sl_aggtable_add(t, g, args), 0);
    }
    struct sl_value bad[3] = {sl_value_null(), sl_value_null(), sl_value_str("x", 1)};
    assert_int_equal(sl_aggtable_add(t, g, bad), SL_ETYPE);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    struct seen s = {0};
    sl_buf_init(&s.text, 0);
    assert_int_equal(sl_aggtable_close(t, 0, true, &a, emit_stats, &s), 1);
    if (fabs((double)s.distinct - 100000.0) > 3000.0)
        fail_msg("distinct estimate %lld", (long long)s.distinct);
    assert_int_equal(s.ntop, 3);
    static const char *const want[] = {"hot1", "hot2", "hot3"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.top[i].type, SL_V_STRING);
        if (s.top[i].len != 4 || memcmp(s.top[i].u.s, want[i], 4) != 0)
            fail_msg("top %d is %.*s (%lld)", i, (int)s.top[i].len, s.top[i].u.s,
                     (long long)s.topcount[i]);
    }
    /* Space-Saving never under-estimates */
    assert_true(s.topcount[0] >= 10000);
    assert_true(s.topcount[1] >= 5000);
    assert_true(s.topcount[2] >= 4000);
    /* the sum passed INT64_MAX: double */
    assert_string_equal(s.text.ptr, "double");
    sl_buf_fini(&s.text);
    sl_arena_fini(&a);
    sl_aggtable_free(t);
}

/* Events of groups that exist allocate nothing (count, sum, min/max of numbers, distinct of
 * values already seen). */
static void test_no_allocation_per_event(void **state)
{
    (void)state;
    struct sl_agg_spec sp[] = {
        {SL_AGG_COUNT, 0}, {SL_AGG_SUM, 0}, {SL_AGG_MAX, 0}, {SL_AGG_DISTINCT, 0}, {SL_AGG_AVG, 0}};
    struct sl_aggtable_opts o = {.specs = sp, .nspecs = 5, .nkeys = 1};
    struct sl_aggtable *t = sl_aggtable_new(&o);
    char key[16];
    for (int round = 0; round < 2; round++) {
        uint64_t before = sl_alloc_count();
        for (int i = 0; i < 10000; i++) {
            int n = snprintf(key, sizeof(key), "k%d", i % 100);
            struct sl_value k = sl_value_str(key, (size_t)n);
            struct sl_value args[5] = {sl_value_null(), sl_value_int(i), sl_value_int(i % 7),
                                       sl_value_int(i % 5), sl_value_double(0.5)};
            struct sl_aggroup *g;
            assert_int_equal(sl_aggtable_group(t, 0, 60, &k, &g), 0);
            assert_int_equal(sl_aggtable_add(t, g, args), 0);
        }
        if (round == 1)
            assert_int_equal(sl_alloc_count() - before, 0);
    }
    sl_aggtable_free(t);
}

/* every result of every group as text, in emission order */
static int emit_all(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                    const struct sl_value *res)
{
    struct sl_buf *b = ud;
    struct sl_buf tmp;
    sl_buf_init(&tmp, 0);
    struct sl_str k = sl_value_to_text(&keys[0], &tmp);
    sl_buf_appendf(b, "[%lld,%lld) %.*s:", (long long)ws, (long long)we, (int)k.len, k.ptr);
    for (uint32_t i = 0; i < 8; i++) {
        sl_buf_reset(&tmp);
        struct sl_str t = sl_value_to_text(&res[i], &tmp);
        sl_buf_appendf(b, " %.*s", (int)t.len, t.ptr);
    }
    sl_buf_appendf(b, ";\n");
    sl_buf_fini(&tmp);
    return 0;
}

static struct sl_aggtable *ckpt_table(void)
{
    static const struct sl_agg_spec sp[] = {
        {SL_AGG_COUNT, 0}, {SL_AGG_COUNT_EXPR, 0}, {SL_AGG_SUM, 0},      {SL_AGG_MIN, 0},
        {SL_AGG_MAX, 0},   {SL_AGG_AVG, 0},        {SL_AGG_DISTINCT, 0}, {SL_AGG_TOPK, 1}};
    struct sl_aggtable_opts o = {.specs = sp, .nspecs = 8, .nkeys = 1, .distinct_exact_max = 50};
    return sl_aggtable_new(&o);
}

static void test_save_load(void **state)
{
    (void)state;
    struct sl_aggtable *t = ckpt_table();
    char host[32];
    for (int i = 0; i < 3000; i++) {
        /* host a: 3000 / 3 events, 1000 distinct values (past the exact 50: a sketch) and
         * more top-k values than 1 * 100 (Space-Saving); b and c: small exact ones */
        snprintf(host, sizeof host, "%c", "abc"[i % 3]);
        struct sl_value k = sl_value_str(host, 1);
        struct sl_aggroup *g;
        int64_t ws = (i % 7) * 60;
        assert_int_equal(sl_aggtable_group(t, ws, ws + 60, &k, &g), 0);
        char word[32];
        int n = snprintf(word, sizeof word, "w%d", i % 3 == 0 ? i : i % 5);
        struct sl_value v = i % 4 == 0 ? sl_value_double(i * 0.5) : sl_value_int(i);
        struct sl_value args[8] = {sl_value_null(),
                                   v,
                                   v,
                                   sl_value_str(word, (size_t)n),
                                   sl_value_str(word, (size_t)n),
                                   v,
                                   sl_value_str(word, (size_t)n),
                                   sl_value_str(word, (size_t)n)};
        if (i % 11 == 0)
            args[1] = args[2] = args[5] = sl_value_null();
        assert_int_equal(sl_aggtable_add(t, g, args), 0);
    }
    struct sl_buf b1, b2;
    sl_buf_init(&b1, 0);
    sl_buf_init(&b2, 0);
    assert_int_equal(sl_aggtable_save(t, &b1), 0);
    struct sl_aggtable *u = ckpt_table();
    struct sl_binrd r;
    sl_binrd_init(&r, b1.ptr, b1.len);
    assert_int_equal(sl_aggtable_load(u, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.pos, b1.len);
    assert_int_equal(sl_aggtable_groups(u), sl_aggtable_groups(t));
    assert_int_equal(sl_aggtable_windows(u), 7);
    assert_int_equal(sl_aggtable_save(u, &b2), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.ptr, b2.ptr, b1.len);

    /* both go on alike: the same events again, then every window closes */
    struct sl_aggtable *both[2] = {t, u};
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 500; i++) {
            struct sl_value k = sl_value_str("a", 1);
            struct sl_aggroup *g;
            assert_int_equal(sl_aggtable_group(both[w], 0, 60, &k, &g), 0);
            char word[32];
            int n = snprintf(word, sizeof word, "x%d", i % 250);
            struct sl_value s = sl_value_str(word, (size_t)n);
            struct sl_value args[8] = {
                sl_value_null(), s, sl_value_int(i), s, s, sl_value_int(i), s, s};
            assert_int_equal(sl_aggtable_add(both[w], g, args), 0);
        }
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 24);
    struct sl_buf o1, o2;
    sl_buf_init(&o1, 0);
    sl_buf_init(&o2, 0);
    assert_int_equal(sl_aggtable_close(t, 0, true, &a, emit_all, &o1), 21);
    assert_int_equal(sl_aggtable_close(u, 0, true, &a, emit_all, &o2), 21);
    assert_string_equal(o1.ptr, o2.ptr);
    /* a's window [0,60): 393 distinct values (its sketch) and a Space-Saving top 1 */
    assert_non_null(strstr(o1.ptr, "[0,60) a: 643 630 296257 w0 x99 470.24920634920636 393 "));

    /* a damaged checkpoint: every prefix, and a byte changed in many places, is refused or
     * loaded without harm (ASan and UBSan watch) */
    for (size_t n = 0; n < b1.len; n += n < 4096 ? 1 : 97) {
        struct sl_aggtable *v = ckpt_table();
        sl_binrd_init(&r, b1.ptr, n);
        int rc = sl_aggtable_load(v, &r);
        assert_true(rc != 0 || r.pos != n || n == b1.len);
        sl_aggtable_free(v);
    }
    for (size_t at = 0; at < b1.len; at += 1 + at / 64) {
        for (int bit = 0; bit < 8; bit += 3) {
            ((char *)b1.ptr)[at] ^= (char)(1 << bit);
            struct sl_aggtable *v = ckpt_table();
            sl_binrd_init(&r, b1.ptr, b1.len);
            (void)sl_aggtable_load(v, &r);
            sl_aggtable_free(v);
            ((char *)b1.ptr)[at] ^= (char)(1 << bit);
        }
    }
    /* a table of other aggregates refuses it */
    struct sl_agg_spec one[] = {{SL_AGG_COUNT, 0}};
    struct sl_aggtable_opts oo = {.specs = one, .nspecs = 1, .nkeys = 1};
    struct sl_aggtable *other = sl_aggtable_new(&oo);
    sl_binrd_init(&r, b1.ptr, b1.len);
    assert_int_equal(sl_aggtable_load(other, &r), SL_EPARSE);
    assert_non_null(strstr(r.why, "aggregates"));
    sl_aggtable_free(other);

    sl_arena_fini(&a);
    sl_buf_fini(&o1);
    sl_buf_fini(&o2);
    sl_buf_fini(&b1);
    sl_buf_fini(&b2);
    sl_aggtable_free(t);
    sl_aggtable_free(u);
}

/* hostile checkpoints the review found: a group key holding an object (it was kept past its
 * release), a top-k value that is not its key's (the index and the heap disagreed), a count at
 * INT64_MAX (the next event overflowed it) */
static void test_load_hostile(void **state)
{
    (void)state;
    static const struct sl_agg_spec cnt[] = {{SL_AGG_COUNT, 0}};
    struct sl_aggtable_opts o = {.specs = cnt, .nspecs = 1, .nkeys = 1, .max_groups = 100};
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    sl_binwr_u32(&b, 1);
    sl_binwr_u32(&b, 1);
    sl_binwr_u8(&b, SL_AGG_COUNT);
    sl_binwr_u32(&b, 0);
    sl_binwr_u32(&b, 1);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 60);
    sl_binwr_u32(&b, 1);
    struct sl_hllp *h = sl_hllp_new(SL_AGG_HLL_P, SL_AGG_HLL_SP);
    sl_hllp_add(h, "x", 1);
    struct sl_value obj = {.type = SL_V_OBJECT};
    obj.u.obj = sl_hllp_obj(h);
    struct sl_value key = {.type = SL_V_LIST, .len = 1};
    key.u.list = &obj;
    assert_int_equal(sl_sc_put_value(&b, &key), 0);
    sl_object_unref(sl_hllp_obj(h));
    sl_binwr_u64(&b, 1);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 0);
    sl_binwr_u8(&b, 0);
    struct sl_aggtable *t = sl_aggtable_new(&o);
    struct sl_binrd r;
    sl_binrd_init(&r, b.ptr, b.len);
    assert_int_equal(sl_aggtable_load(t, &r), SL_EPARSE);
    sl_aggtable_free(t);

    /* a count of INT64_MAX, no key */
    o.nkeys = 0;
    sl_buf_reset(&b);
    sl_binwr_u32(&b, 0);
    sl_binwr_u32(&b, 1);
    sl_binwr_u8(&b, SL_AGG_COUNT);
    sl_binwr_u32(&b, 0);
    sl_binwr_u32(&b, 1);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 60);
    sl_binwr_u32(&b, 1);
    sl_binwr_u64(&b, (uint64_t)INT64_MAX);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 0);
    sl_binwr_u64(&b, 0);
    sl_binwr_u8(&b, 0);
    t = sl_aggtable_new(&o);
    sl_binrd_init(&r, b.ptr, b.len);
    assert_int_equal(sl_aggtable_load(t, &r), SL_EPARSE);
    sl_aggtable_free(t);

    /* a top-k entry whose value was changed, not its key */
    static const struct sl_agg_spec top[] = {{SL_AGG_TOPK, 3}};
    struct sl_aggtable_opts ot = {.specs = top, .nspecs = 1, .nkeys = 0, .max_groups = 100};
    t = sl_aggtable_new(&ot);
    struct sl_aggroup *g;
    assert_int_equal(sl_aggtable_group(t, 0, 60, NULL, &g), 0);
    struct sl_value a = sl_value_str("a", 1);
    assert_int_equal(sl_aggtable_add(t, g, &a), 0);
    sl_buf_reset(&b);
    assert_int_equal(sl_aggtable_save(t, &b), 0);
    sl_aggtable_free(t);
    char *p = memchr(b.ptr, 'a', b.len); /* the stored value comes before its key */
    assert_non_null(p);
    *p = 'b';
    t = sl_aggtable_new(&ot);
    sl_binrd_init(&r, b.ptr, b.len);
    assert_int_equal(sl_aggtable_load(t, &r), SL_EPARSE);
    sl_aggtable_free(t);
    sl_buf_fini(&b);
}

static int key_type(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
                    const struct sl_value *res)
{
    (void)ws;
    (void)we;
    (void)res;
    *(int *)ud = keys[0].type;
    return 0;
}

/* a group key holding a sketch (a list of them, from a group_by expression) is kept as its
 * text: the sketch goes away with the event, and was kept as a dangling pointer */
static void test_key_with_object(void **state)
{
    (void)state;
    static const struct sl_agg_spec cnt[] = {{SL_AGG_COUNT, 0}};
    struct sl_aggtable_opts o = {.specs = cnt, .nspecs = 1, .nkeys = 1};
    struct sl_aggtable *t = sl_aggtable_new(&o);
    struct sl_hllp *h = sl_hllp_new(SL_AGG_HLL_P, SL_AGG_HLL_SP);
    struct sl_value obj = {.type = SL_V_OBJECT};
    obj.u.obj = sl_hllp_obj(h);
    struct sl_value key = {.type = SL_V_LIST, .len = 1};
    key.u.list = &obj;
    struct sl_aggroup *g;
    assert_int_equal(sl_aggtable_group(t, 0, 60, &key, &g), 0);
    struct sl_value nul = sl_value_null();
    assert_int_equal(sl_aggtable_add(t, g, &nul), 0);
    sl_object_unref(sl_hllp_obj(h)); /* the event's batch is gone */
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    assert_int_equal(sl_aggtable_save(t, &b), 0); /* reads every key */
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    int type = -1;
    assert_int_equal(sl_aggtable_close(t, 0, true, &a, key_type, &type), 1);
    assert_int_equal(type, SL_V_STRING);
    sl_arena_fini(&a);
    sl_buf_fini(&b);
    sl_aggtable_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_distinct_topk_sum),
        cmocka_unit_test(test_no_allocation_per_event),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_hostile),
        cmocka_unit_test(test_key_with_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
