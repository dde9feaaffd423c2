/*
 * profiles_api_test.c — /api/v1/profiles answers over a real SQLite store: the profile and
 * entity listings, an entity's measurements with from/to/groups, JSON escaping of names,
 * and the 503/400/404 paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "api/profiles_api.h"
#include "lang/sval.h"
#include "state/store.h"
#include "../testkit.h"

#include <stdio.h>
#include <string.h>

#define DUR 60000LL

static struct sl_store *store;

static unsigned get(const char *url, const char *from, const char *to, const char *groups,
                    char *out, size_t n)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    unsigned st = sl_api_profiles_get(store, url, from, to, groups, &b);
    snprintf(out, n, "%s", b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
    return st;
}

static void test_no_store(void **state)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_api_profiles_get(NULL, "/api/v1/profiles", NULL, NULL, NULL, &b), 503);
    assert_non_null(strstr(b.ptr, "no profile store configured"));
    sl_buf_fini(&b);
    assert_true(sl_api_profiles_match("/api/v1/profiles"));
    assert_true(sl_api_profiles_match("/api/v1/profiles/p/e"));
    assert_false(sl_api_profiles_match("/api/v1/profilesx"));
    assert_false(sl_api_profiles_match("/api/v1/pipeline"));
}

static void test_answers(void **state)
{
    char url[256];
    snprintf(url, sizeof url, "sqlite:%s/api.db", dir);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_store_open(url, &store, &d), 0);
    struct sl_measurement m[4];
    const char *groups[4] = {"[]", "[]", "[\"a\"]", "[]"};
    const char *entities[4] = {"10.0.0.1", "10.0.0.1", "10.0.0.1", "we\"ird"};
    for (int i = 0; i < 4; i++) {
        m[i] = (struct sl_measurement){
            sl_str_c("p"), sl_str_c(entities[i]), sl_str_c(groups[i]), 10 + i % 2,
            DUR,           (10 + i % 2) * DUR,    (11 + i % 2) * DUR,  sl_sv_int(i)};
    }
    m[1].value = sl_sv_double(0.5);
    assert_int_equal(sl_store_put(store, m, 4), 0);
    assert_int_equal(sl_store_sync(store), 0);

    char body[4096];
    assert_int_equal(get("/api/v1/profiles", NULL, NULL, NULL, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"profiles\":[{\"profile\":\"p\",\"entities\":2,"
                                 "\"measurements\":4,\"first_ms\":600000,\"last_ms\":720000}]"));
    assert_int_equal(get("/api/v1/profiles/p", NULL, NULL, NULL, body, sizeof body), 200);
    assert_string_equal(body, "{\"profile\":\"p\",\"entities\":[{\"entity\":\"10.0.0.1\","
                              "\"measurements\":3,\"last_ms\":720000},{\"entity\":\"we\\\"ird\","
                              "\"measurements\":1,\"last_ms\":720000}]}\n");
    assert_int_equal(get("/api/v1/profiles/p/10.0.0.1", NULL, NULL, NULL, body, sizeof body), 200);
    assert_string_equal(
        body, "{\"profile\":\"p\",\"entity\":\"10.0.0.1\",\"measurements\":["
              "{\"groups\":[\"a\"],\"period\":10,\"duration_ms\":60000,\"start_ms\":600000,"
              "\"end_ms\":660000,\"type\":\"Integer\",\"value\":2},"
              "{\"groups\":[],\"period\":10,\"duration_ms\":60000,\"start_ms\":600000,"
              "\"end_ms\":660000,\"type\":\"Integer\",\"value\":0},"
              "{\"groups\":[],\"period\":11,\"duration_ms\":60000,\"start_ms\":660000,"
              "\"end_ms\":720000,\"type\":\"Double\",\"value\":0.5}],\"truncated\":false}\n");
    assert_int_equal(get("/api/v1/profiles/p/10.0.0.1", "650000", NULL, "[]", body, sizeof body),
                     200);
    assert_non_null(strstr(body, "\"period\":11"));
    assert_null(strstr(body, "\"period\":10"));
    assert_int_equal(get("/api/v1/profiles/p/10.0.0.1", NULL, "600000", NULL, body, sizeof body),
                     200);
    assert_null(strstr(body, "\"period\":11"));
    assert_int_equal(get("/api/v1/profiles/p/10.0.0.1", "yesterday", NULL, NULL, body, sizeof body),
                     400);
    assert_non_null(strstr(body, "from: expected epoch milliseconds, got yesterday"));
    assert_int_equal(get("/api/v1/profiles/nope/x", NULL, NULL, NULL, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"measurements\":[]"));
    sl_store_close(store);
    store = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_store),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
