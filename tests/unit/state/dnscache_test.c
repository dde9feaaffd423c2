/*
 * dnscache_test.c — the reverse-DNS cache: hits and negative entries, expiry by time,
 * replacement, LRU eviction at the bound (a hit protects an entry), and a long randomised run
 * against a simple model (linear scan) that exercises the probing table's deletions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/err.h"
#include "state/dnscache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key4(uint8_t k[5], uint32_t ip)
{
    k[0] = 4;
    memcpy(k + 1, &ip, 4);
}

static void test_hit_negative_miss(void **st)
{
    (void)st;
    struct sl_dnscache *c = sl_dnscache_new(8);
    uint8_t a[5], b[5], z[5];
    key4(a, 1);
    key4(b, 2);
    key4(z, 3);
    assert_int_equal(sl_dnscache_put(c, a, 5, "host-a.lan", 10, 100), 0);
    assert_int_equal(sl_dnscache_put(c, b, 5, NULL, 0, 50), 0);
    struct sl_str name = {0};
    assert_int_equal(sl_dnscache_get(c, a, 5, 10, &name), SL_DNSCACHE_HIT);
    assert_int_equal(name.len, 10);
    assert_memory_equal(name.ptr, "host-a.lan", 10);
    assert_int_equal(sl_dnscache_get(c, b, 5, 10, &name), SL_DNSCACHE_NEGATIVE);
    assert_int_equal(sl_dnscache_get(c, z, 5, 10, &name), SL_DNSCACHE_MISS);
    /* expiry: b at 50, a at 100 */
    assert_int_equal(sl_dnscache_get(c, b, 5, 50, &name), SL_DNSCACHE_MISS);
    assert_int_equal(sl_dnscache_get(c, a, 5, 99, &name), SL_DNSCACHE_HIT);
    assert_int_equal(sl_dnscache_get(c, a, 5, 100, &name), SL_DNSCACHE_MISS);
    struct sl_dnscache_stats s;
    sl_dnscache_get_stats(c, &s);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.negative_hits, 1);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.expired, 2);
    assert_int_equal(s.entries, 0);
    /* replace: negative -> positive keeps one entry */
    assert_int_equal(sl_dnscache_put(c, a, 5, NULL, 0, 1000), 0);
    assert_int_equal(sl_dnscache_put(c, a, 5, "x", 1, 1000), 0);
    assert_int_equal(sl_dnscache_get(c, a, 5, 0, &name), SL_DNSCACHE_HIT);
    assert_int_equal(name.len, 1);
    sl_dnscache_get_stats(c, &s);
    assert_int_equal(s.entries, 1);
    /* refused */
    uint8_t big[40] = {0};
    assert_int_equal(sl_dnscache_put(c, big, sizeof big, "x", 1, 1), SL_EINVAL);
    assert_int_equal(sl_dnscache_put(c, a, 0, "x", 1, 1), SL_EINVAL);
    sl_dnscache_free(c);
    sl_dnscache_free(NULL);
}

static void test_lru_eviction(void **st)
{
    (void)st;
    struct sl_dnscache *c = sl_dnscache_new(3);
    uint8_t k[5];
    char nm[16];
    for (uint32_t i = 1; i <= 3; i++) {
        key4(k, i);
        int n = snprintf(nm, sizeof nm, "h%u", i);
        assert_int_equal(sl_dnscache_put(c, k, 5, nm, (size_t)n, 1000), 0);
    }
    key4(k, 1); /* touch 1: now 2 is the least recently used */
    assert_int_equal(sl_dnscache_get(c, k, 5, 0, NULL), SL_DNSCACHE_HIT);
    key4(k, 4);
    assert_int_equal(sl_dnscache_put(c, k, 5, "h4", 2, 1000), 0);
    key4(k, 2);
    assert_int_equal(sl_dnscache_get(c, k, 5, 0, NULL), SL_DNSCACHE_MISS);
    for (uint32_t i = 1; i <= 4; i++) {
        if (i == 2)
            continue;
        key4(k, i);
        struct sl_str name;
        assert_int_equal(sl_dnscache_get(c, k, 5, 0, &name), SL_DNSCACHE_HIT);
        snprintf(nm, sizeof nm, "h%u", i);
        assert_int_equal(name.len, strlen(nm));
        assert_memory_equal(name.ptr, nm, name.len);
    }
    struct sl_dnscache_stats s;
    sl_dnscache_get_stats(c, &s);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(s.entries, 3);
    sl_dnscache_free(c);
}

/* The model: an array of (key, name or negative, expiry, last use) with LRU by last use. */
struct mentry {
    uint32_t key;
    int name; /* -1: negative */
    int64_t exp;
    uint64_t use;
    int live;
};

static void test_random_vs_model(void **st)
{
    (void)st;
    enum { CAP = 64, KEYS = 200, STEPS = 200000 };
    struct sl_dnscache *c = sl_dnscache_new(CAP);
    struct mentry m[CAP];
    memset(m, 0, sizeof m);
    uint64_t tick = 0;
    srand(7);
    int64_t now = 0;
    for (int step = 0; step < STEPS; step++) {
        now += rand() % 3;
        uint32_t key = (uint32_t)(rand() % KEYS);
        uint8_t k[5];
        key4(k, key);
        int found = -1;
        for (int i = 0; i < CAP; i++)
            if (m[i].live && m[i].key == key)
                found = i;
        if (rand() % 2) { /* get */
            struct sl_str name;
            enum sl_dnscache_result r = sl_dnscache_get(c, k, 5, now, &name);
            if (found >= 0 && m[found].exp <= now) {
                m[found].live = 0;
                found = -1;
            }
            if (found < 0) {
                assert_int_equal(r, SL_DNSCACHE_MISS);
                continue;
            }
            m[found].use = ++tick;
            if (m[found].name < 0) {
                assert_int_equal(r, SL_DNSCACHE_NEGATIVE);
            } else {
                assert_int_equal(r, SL_DNSCACHE_HIT);
                char nm[16];
                int n = snprintf(nm, sizeof nm, "n%d", m[found].name);
                assert_int_equal(name.len, (size_t)n);
                assert_memory_equal(name.ptr, nm, name.len);
            }
        } else { /* put */
            int nv = rand() % 4 == 0 ? -1 : rand() % 1000;
            char nm[16];
            int n = snprintf(nm, sizeof nm, "n%d", nv);
            int64_t exp = now + rand() % 200;
            assert_int_equal(sl_dnscache_put(c, k, 5, nv < 0 ? NULL : nm, (size_t)n, exp), 0);
            if (found < 0) {
                int slot = -1;
                for (int i = 0; i < CAP && slot < 0; i++)
                    if (!m[i].live)
                        slot = i;
                if (slot < 0) { /* evict least recently used (expired ones included) */
                    uint64_t best = UINT64_MAX;
                    for (int i = 0; i < CAP; i++)
                        if (m[i].use < best) {
                            best = m[i].use;
                            slot = i;
                        }
                }
                found = slot;
            }
            m[found] = (struct mentry){key, nv, exp, ++tick, 1};
        }
    }
    sl_dnscache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_negative_miss),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_random_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
