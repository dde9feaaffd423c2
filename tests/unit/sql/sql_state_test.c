/* sql_state_test.c — checkpoints of SQL state: a windowed aggregation and a table saved
 * halfway and loaded into a new engine give the same results as one engine that saw every
 * record; truncated and corrupted checkpoints are refused without a crash; aggregates whose
 * state is not saved are said. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "codec/json.h"
#include "sql/sql_engine.h"
#include "sql/sql_serde.h"
#include "sql/sql_state.h"

#include <stdio.h>
#include <string.h>

#define MAXL 512

struct out {
    char lines[MAXL][512];
    int n;
};

static void on_emit(void *ud, const struct sl_sql_record *r)
{
    struct out *o = ud;
    if (o->n >= MAXL)
        return;
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    sl_buf_appendf(&b, "%s %lld ", r->topic, (long long)r->ts_ms);
    sl_sql_encode_value(r->key, &b);
    sl_buf_putc(&b, ' ');
    sl_sql_encode_value(r->value, &b);
    if (r->windowed)
        sl_buf_appendf(&b, " [%lld,%lld)", (long long)r->window_start_ms,
                       (long long)r->window_end_ms);
    snprintf(o->lines[o->n++], sizeof o->lines[0], "%s", b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
}

static void push(struct sl_sql_engine *e, const char *topic, const char *key, const char *val,
                 int64_t ts)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_value k = sl_value_null(), v = sl_value_null();
    struct sl_diag d;
    sl_diag_init(&d);
    if (key) {
        char *t = sl_arena_strndup(&a, key, strlen(key));
        assert_int_equal(sl_json_parse_value(&a, t, strlen(t), NULL, &k, &d), 0);
    }
    if (val) {
        char *t = sl_arena_strndup(&a, val, strlen(val));
        assert_int_equal(sl_json_parse_value(&a, t, strlen(t), NULL, &v, &d), 0);
    }
    sl_sql_engine_push(e, topic, key ? &k : NULL, &v, ts);
    sl_arena_fini(&a);
}

static struct sl_sql_engine *engine(const char *sql, struct out *o)
{
    struct sl_sql_engine_opts opts = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(&opts, on_emit, o);
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_sql_engine_exec(e, sql, strlen(sql), NULL, &d);
    if (rc)
        fail_msg("%s", d.msg);
    return e;
}

static const char *AGG_SQL =
    "CREATE STREAM s (k STRING KEY, x BIGINT, name STRING) WITH (kafka_topic='in', "
    "value_format='json');"
    "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(x) AS total, AVG(x) AS mean, MIN(name) AS lo, "
    "MAX(x) AS hi FROM s WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 MINUTES) GROUP BY k EMIT "
    "CHANGES;"
    "CREATE TABLE u AS SELECT k, COUNT(*) AS n FROM s WINDOW SESSION (30 SECONDS, GRACE PERIOD 2 "
    "MINUTES) GROUP BY k "
    "EMIT CHANGES;"
    "CREATE TABLE v AS SELECT name, SUM(x) AS total FROM s GROUP BY name EMIT CHANGES;";

static void feed(struct sl_sql_engine *e, int from, int to)
{
    for (int i = from; i < to; i++) {
        char key[32], val[128];
        snprintf(key, sizeof key, "\"k%d\"", i % 5);
        snprintf(val, sizeof val, "{\"x\": %d, \"name\": \"n%d\"}", i * 7 % 13, i % 3);
        /* records over three minutes, some out of order within the grace */
        int64_t ts = 1000000 + (int64_t)i * 1700 - (i % 4 == 3 ? 5000 : 0);
        push(e, "in", key, val, ts);
    }
}

static void test_agg_roundtrip(void **st)
{
    (void)st;
    struct out *oa = sl_xcalloc(1, sizeof *oa), *ob = sl_xcalloc(1, sizeof *ob);
    struct out *oc = sl_xcalloc(1, sizeof *oc);
    struct sl_sql_engine *a = engine(AGG_SQL, oa), *c = engine(AGG_SQL, oc);
    feed(a, 0, 60);
    feed(c, 0, 60);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    bool partial = true;
    struct sl_diag d;
    sl_diag_init(&d);
    const struct sl_partstate_offset in[] = {{"in", 1234}, {"other", 7}};
    assert_int_equal(sl_sql_state_save(a, in, 2, &b, &partial, &d), 0);
    assert_false(partial);
    sl_sql_engine_free(a);
    struct sl_sql_engine *e = engine(AGG_SQL, ob);
    struct sl_partstate_offset *off = NULL;
    uint32_t noff = 0;
    assert_int_equal(sl_sql_state_load(e, b.ptr, b.len, &off, &noff, &d), 0);
    assert_int_equal(noff, 2);
    assert_string_equal(off[0].topic, "in");
    assert_int_equal(off[0].next, 1234);
    assert_string_equal(off[1].topic, "other");
    assert_int_equal(off[1].next, 7);
    /* saving the restored engine gives the same bytes (nothing lost or added) */
    struct sl_buf b2;
    sl_buf_init(&b2, 1u << 24);
    assert_int_equal(sl_sql_state_save(e, off, noff, &b2, NULL, &d), 0);
    sl_free(off);
    assert_int_equal(b2.len, b.len);
    sl_buf_fini(&b2);
    int before = oc->n;
    feed(e, 60, 120);
    feed(c, 60, 120);
    assert_true(oc->n - before > 100);
    assert_int_equal(ob->n, oc->n - before);
    for (int i = 0; i < ob->n; i++)
        assert_string_equal(ob->lines[i], oc->lines[before + i]);
    sl_buf_fini(&b);
    sl_sql_engine_free(e);
    sl_sql_engine_free(c);
    sl_free(oa);
    sl_free(ob);
    sl_free(oc);
}

static const char *JOIN_SQL =
    "CREATE TABLE users (id STRING PRIMARY KEY, region STRING, score INT) WITH "
    "(kafka_topic='users', value_format='json');"
    "CREATE STREAM clicks (id STRING KEY, url STRING) WITH (kafka_topic='clicks', "
    "value_format='json');"
    "CREATE STREAM enriched AS SELECT clicks.id, url, region, score FROM clicks JOIN users ON "
    "clicks.id = users.id EMIT CHANGES;";

static void test_table_roundtrip(void **st)
{
    (void)st;
    struct out *oa = sl_xcalloc(1, sizeof *oa), *ob = sl_xcalloc(1, sizeof *ob);
    struct sl_sql_engine *a = engine(JOIN_SQL, oa);
    push(a, "users", "\"u1\"", "{\"region\": \"eu\", \"score\": 3}", 10);
    push(a, "users", "\"u2\"", "{\"region\": \"us\", \"score\": 5}", 11);
    push(a, "users", "\"u1\"", "{\"region\": \"ap\", \"score\": 4}", 12);
    push(a, "users", "\"u3\"", "{\"region\": \"x\"}", 13);
    push(a, "users", "\"u3\"", NULL, 14); /* deleted */
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_state_save(a, NULL, 0, &b, NULL, &d), 0);
    struct sl_sql_engine *e = engine(JOIN_SQL, ob);
    struct sl_partstate_offset *off = NULL;
    uint32_t noff = 1;
    assert_int_equal(sl_sql_state_load(e, b.ptr, b.len, &off, &noff, &d), 0);
    assert_int_equal(noff, 0);
    assert_null(off);
    int before = oa->n;
    const char *ids[] = {"\"u1\"", "\"u2\"", "\"u3\""};
    for (int i = 0; i < 3; i++) {
        push(a, "clicks", ids[i], "{\"url\": \"/a\"}", 20 + i);
        push(e, "clicks", ids[i], "{\"url\": \"/a\"}", 20 + i);
    }
    assert_int_equal(oa->n - before, 2);
    assert_int_equal(ob->n, 2);
    for (int i = 0; i < ob->n; i++)
        assert_string_equal(ob->lines[i], oa->lines[before + i]);
    assert_non_null(strstr(ob->lines[0], "ap"));
    sl_buf_fini(&b);
    sl_sql_engine_free(a);
    sl_sql_engine_free(e);
    sl_free(oa);
    sl_free(ob);
}

static const char *SS_SQL =
    "CREATE STREAM l (id STRING KEY, a INT) WITH (kafka_topic='l', value_format='json');"
    "CREATE STREAM r (id STRING KEY, b INT) WITH (kafka_topic='r', value_format='json');"
    "CREATE STREAM j AS SELECT l.id AS id, a, b FROM l LEFT JOIN r WITHIN 10 SECONDS GRACE "
    "PERIOD 5 SECONDS ON l.id = r.id EMIT CHANGES;"
    "CREATE TABLE ta (id STRING PRIMARY KEY, a INT) WITH (kafka_topic='ta', value_format='json');"
    "CREATE TABLE tb (id STRING PRIMARY KEY, b INT) WITH (kafka_topic='tb', value_format='json');"
    "CREATE TABLE tj AS SELECT ta.id AS id, a, b FROM ta JOIN tb ON ta.id = tb.id EMIT CHANGES;";

static void feed_joins(struct sl_sql_engine *e, int from, int to)
{
    for (int i = from; i < to; i++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "\"id%d\"", i % 7);
        snprintf(val, sizeof val, "{\"a\": %d, \"b\": %d}", i, i * 3);
        int64_t ts = 100000 + (int64_t)i * 1500;
        push(e, i % 3 ? "l" : "r", key, val, ts); /* some lefts find no right: pending */
        push(e, i % 2 ? "ta" : "tb", key, i % 11 == 10 ? NULL : val, ts);
    }
}

/* stream-stream buffers (pending outer rows included) and table-table results continue */
static void test_join_roundtrip(void **st)
{
    (void)st;
    struct out *oa = sl_xcalloc(1, sizeof *oa), *ob = sl_xcalloc(1, sizeof *ob);
    struct out *oc = sl_xcalloc(1, sizeof *oc);
    struct sl_sql_engine *a = engine(SS_SQL, oa), *c = engine(SS_SQL, oc);
    feed_joins(a, 0, 40);
    feed_joins(c, 0, 40);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    bool partial = true;
    const struct sl_partstate_offset in[] = {{"l", 9}, {"r", 11}};
    assert_int_equal(sl_sql_state_save(a, in, 2, &b, &partial, &d), 0);
    assert_false(partial);
    sl_sql_engine_free(a);
    struct sl_sql_engine *e = engine(SS_SQL, ob);
    struct sl_partstate_offset *off = NULL;
    uint32_t noff = 0;
    if (sl_sql_state_load(e, b.ptr, b.len, &off, &noff, &d))
        fail_msg("%s", d.msg);
    assert_int_equal(noff, 2);
    assert_int_equal(off[1].next, 11);
    sl_free(off);
    int before = oc->n;
    feed_joins(e, 40, 90);
    feed_joins(c, 40, 90);
    assert_true(oc->n - before > 50);
    assert_int_equal(ob->n, oc->n - before);
    for (int i = 0; i < ob->n; i++)
        assert_string_equal(ob->lines[i], oc->lines[before + i]);
    sl_buf_fini(&b);
    sl_sql_engine_free(e);
    sl_sql_engine_free(c);
    sl_free(oa);
    sl_free(ob);
    sl_free(oc);
}

/* every truncation and every single-byte change of a checkpoint: loaded or refused, never a
 * crash (ASan), and a refusal says where */
static void test_corrupt(void **st)
{
    (void)st;
    struct out *o = sl_xcalloc(1, sizeof *o);
    struct sl_sql_engine *a = engine(AGG_SQL, o);
    feed(a, 0, 12);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    const struct sl_partstate_offset in[] = {{"in", 7}, {"in2", 8}};
    assert_int_equal(sl_sql_state_save(a, in, 2, &b, NULL, &d), 0);
    sl_sql_engine_free(a);
    unsigned char *copy = sl_xmalloc(b.len);
    int refused = 0;
    for (size_t n = 0; n < b.len; n++) {
        struct sl_sql_engine *e = engine(AGG_SQL, o);
        struct sl_partstate_offset *off = NULL;
        uint32_t noff = 0;
        sl_diag_init(&d);
        int rc = sl_sql_state_load(e, b.ptr, n, &off, &noff, &d);
        assert_null(off);
        assert_int_equal(rc, SL_EPARSE);
        assert_non_null(strstr(d.msg, "at byte"));
        sl_sql_engine_free(e);
    }
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < b.len; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(copy, b.ptr, b.len);
            copy[i] ^= flips[f];
            struct sl_sql_engine *e = engine(AGG_SQL, o);
            struct sl_partstate_offset *off = NULL;
            uint32_t noff = 0;
            o->n = 0;
            int rc = sl_sql_state_load(e, copy, b.len, &off, &noff, &d);
            refused += rc != 0;
            sl_free(off);
            if (!rc)
                feed(e, 12, 14); /* a state that loaded still runs */
            sl_sql_engine_free(e);
        }
    }
    assert_true(refused > 0);
    sl_free(copy);
    sl_buf_fini(&b);
    sl_free(o);
}

/* the input offsets: a negative one is not saved; one topic twice is refused on load */
static void test_offsets(void **st)
{
    (void)st;
    struct out *o = sl_xcalloc(1, sizeof *o);
    struct sl_sql_engine *a = engine(AGG_SQL, o);
    feed(a, 0, 3);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    const struct sl_partstate_offset neg[] = {{"in", -1}};
    assert_int_equal(sl_sql_state_save(a, neg, 1, &b, NULL, &d), SL_EINVAL);
    sl_buf_reset(&b);
    const struct sl_partstate_offset twice[] = {{"in", 1}, {"in", 2}};
    assert_int_equal(sl_sql_state_save(a, twice, 2, &b, NULL, &d), 0);
    struct sl_sql_engine *e = engine(AGG_SQL, o);
    struct sl_partstate_offset *off = NULL;
    uint32_t noff = 0;
    assert_int_equal(sl_sql_state_load(e, b.ptr, b.len, &off, &noff, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "twice"));
    assert_null(off);
    sl_sql_engine_free(e);
    sl_sql_engine_free(a);
    sl_buf_fini(&b);
    sl_free(o);
}

static void test_unsupported(void **st)
{
    (void)st;
    struct out *o = sl_xcalloc(1, sizeof *o);
    struct sl_sql_engine *a =
        engine("CREATE STREAM s (k STRING KEY, x BIGINT) WITH (kafka_topic='in', "
               "value_format='json');"
               "CREATE TABLE t AS SELECT k, COUNT_DISTINCT(x) AS n FROM s GROUP BY k;",
               o);
    push(a, "in", "\"a\"", "{\"x\": 1}", 5);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_state_save(a, NULL, 0, &b, NULL, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "not checkpointed"));
    sl_buf_fini(&b);
    sl_sql_engine_free(a);
    sl_free(o);
}

/* a checkpoint of other statements is refused (a query or table it does not run) */
static void test_other_catalog(void **st)
{
    (void)st;
    struct out *o = sl_xcalloc(1, sizeof *o);
    struct sl_sql_engine *a = engine(AGG_SQL, o);
    feed(a, 0, 5);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 24);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_sql_state_save(a, NULL, 0, &b, NULL, &d), 0);
    struct sl_sql_engine *e = engine(JOIN_SQL, o);
    struct sl_partstate_offset *off = NULL;
    uint32_t noff = 0;
    assert_int_equal(sl_sql_state_load(e, b.ptr, b.len, &off, &noff, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "query"));
    sl_sql_engine_free(e);
    sl_sql_engine_free(a);
    sl_buf_fini(&b);
    sl_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agg_roundtrip), cmocka_unit_test(test_table_roundtrip),
        cmocka_unit_test(test_corrupt),       cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_other_catalog), cmocka_unit_test(test_join_roundtrip),
        cmocka_unit_test(test_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
