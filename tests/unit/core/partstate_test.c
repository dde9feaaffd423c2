/*
 * partstate_test.c — the registry of partition-scoped stages: assigned() asks every stage of the
 * pipeline and answers the lowest offset any needs (NONE when none does), each assignment gets
 * a new epoch, revoked() reaches every stage of that pipeline only, unregister removes a stage,
 * and topic ids are stable, distinct and named back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/partstate.h"

#include <string.h>

struct stage {
    int64_t need;
    int assigned, revoked, lost;
    uint32_t last_epoch;
};

static int64_t on_assigned(void *ud, const struct sl_partstate_part *pp)
{
    struct stage *s = ud;
    s->assigned++;
    s->last_epoch = pp->epoch;
    return s->need;
}

static void on_revoked(void *ud, const struct sl_partstate_part *pp, bool lost)
{
    struct stage *s = ud;
    (void)pp;
    s->revoked++;
    s->lost += lost;
}

static const struct sl_partstate_ops ops = {on_assigned, on_revoked, false};
static const struct sl_partstate_ops counting = {on_assigned, on_revoked, true};

static void test_registry(void **state)
{
    (void)state;
    const struct sl_pipeline *p1 = (const void *)0x1000, *p2 = (const void *)0x2000;
    struct stage a = {.need = 40}, b = {.need = 7}, c = {.need = SL_PARTSTATE_NONE},
                 other = {.need = 1};
    assert_false(sl_partstate_active(p1));
    sl_partstate_register(p1, &ops, &a);
    sl_partstate_register(p1, &ops, &b);
    sl_partstate_register(p1, &ops, &c);
    sl_partstate_register(p2, &counting, &other);
    assert_true(sl_partstate_active(p1));
    /* partition counts: asked for by a stage of p2 only */
    assert_false(sl_partstate_wants_counts(p1));
    assert_true(sl_partstate_wants_counts(p2));
    struct sl_partstate_part pp = {.topic = "in", .partition = 3};
    pp.topic_id = sl_partstate_topic_id("in");
    assert_int_equal(sl_partstate_assigned(p1, &pp), 7);
    uint32_t e1 = pp.epoch;
    assert_int_equal(a.assigned + b.assigned + c.assigned, 3);
    assert_int_equal(other.assigned, 0);
    assert_int_equal(a.last_epoch, e1);
    assert_int_equal(sl_partstate_assigned(p1, &pp), 7);
    assert_true(pp.epoch > e1);
    sl_partstate_revoked(p1, &pp, true);
    assert_int_equal(a.revoked, 1);
    assert_int_equal(c.lost, 1);
    assert_int_equal(other.revoked, 0);
    sl_partstate_unregister(&b);
    assert_int_equal(sl_partstate_assigned(p1, &pp), 40);
    sl_partstate_unregister(&a);
    assert_int_equal(sl_partstate_assigned(p1, &pp), SL_PARTSTATE_NONE);
    sl_partstate_unregister(&c);
    sl_partstate_unregister(&other);
    assert_false(sl_partstate_active(p1));
    assert_false(sl_partstate_active(p2));
}

static void test_topic_ids(void **state)
{
    (void)state;
    uint32_t x = sl_partstate_topic_id("alpha"), y = sl_partstate_topic_id("beta");
    assert_true(x >= 1 && y >= 1 && x != y);
    assert_int_equal(sl_partstate_topic_id("alpha"), x);
    assert_string_equal(sl_partstate_topic_name(x), "alpha");
    assert_string_equal(sl_partstate_topic_name(y), "beta");
    assert_null(sl_partstate_topic_name(0));
    assert_null(sl_partstate_topic_name(100000));
}

/* a name read from untrusted input (a checkpoint) is looked up, never added: the table (4096
 * names for the process's lifetime) cannot be filled by one, and a topic of id 0 has no name */
static void test_topic_find(void **state)
{
    (void)state;
    uint32_t x = sl_partstate_topic_id("gamma");
    assert_int_equal(sl_partstate_topic_find("gamma"), x);
    assert_int_equal(sl_partstate_topic_find("never-read"), 0);
    assert_int_equal(sl_partstate_topic_find("never-read"), 0);
    uint32_t z = sl_partstate_topic_id("delta"); /* the next id: never-read took none */
    assert_int_equal(z, x + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_topic_ids),
        cmocka_unit_test(test_topic_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
