/*
 * fuzz_sql_state.c — libFuzzer target for SQL state checkpoints (src/sql/sql_state.c), which
 * are read from a changelog topic anyone with access to the cluster can write.
 *
 * Every input is loaded into a fresh engine running fixed statements (a tumbling and a session
 * window with every checkpointed aggregate, a plain GROUP BY, a table read by a join, a
 * stream-stream LEFT JOIN with pending outer rows, a table-table join). A
 * refusal must say where; a checkpoint that loads must run (records are pushed through it),
 * save again, and that saving must load into another engine and save to the same bytes (a
 * fixed point after one round). ASan catches reads outside the input.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"
#include "sql/sql_engine.h"
#include "sql/sql_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char SQL[] =
    "CREATE STREAM s (k STRING KEY, x BIGINT, name STRING) WITH (kafka_topic='in', "
    "value_format='json');"
    "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(x) AS total, AVG(x) AS mean, MIN(name) AS lo, "
    "MAX(x) AS hi FROM s WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 MINUTES) GROUP BY k "
    "EMIT CHANGES;"
    "CREATE TABLE u AS SELECT k, COUNT(*) AS n FROM s WINDOW SESSION (30 SECONDS, GRACE PERIOD 2 "
    "MINUTES) GROUP BY k EMIT CHANGES;"
    "CREATE TABLE v AS SELECT name, SUM(x) AS total FROM s GROUP BY name EMIT CHANGES;"
    "CREATE TABLE users (id STRING PRIMARY KEY, region STRING, score INT) WITH "
    "(kafka_topic='users', value_format='json');"
    "CREATE STREAM clicks (id STRING KEY, url STRING) WITH (kafka_topic='clicks', "
    "value_format='json');"
    "CREATE STREAM enriched AS SELECT clicks.id, url, region, score FROM clicks JOIN users ON "
    "clicks.id = users.id EMIT CHANGES;"
    "CREATE STREAM l (id STRING KEY, a INT) WITH (kafka_topic='l', value_format='json');"
    "CREATE STREAM r (id STRING KEY, b INT) WITH (kafka_topic='r', value_format='json');"
    "CREATE STREAM j AS SELECT l.id AS id, a, b FROM l LEFT JOIN r WITHIN 10 SECONDS GRACE "
    "PERIOD 5 SECONDS ON l.id = r.id EMIT CHANGES;"
    "CREATE TABLE ta (id STRING PRIMARY KEY, a INT) WITH (kafka_topic='ta', value_format='json');"
    "CREATE TABLE tb (id STRING PRIMARY KEY, b INT) WITH (kafka_topic='tb', value_format='json');"
    "CREATE TABLE tj AS SELECT ta.id AS id, a, b FROM ta JOIN tb ON ta.id = tb.id EMIT CHANGES;";

static void sink(void *ud, const struct sl_sql_record *r)
{
    (void)ud;
    (void)r;
}

static struct sl_sql_engine *engine(void)
{
    struct sl_sql_engine_opts o = {.max_state_bytes = 64u << 20};
    struct sl_sql_engine *e = sl_sql_engine_new(&o, sink, NULL);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_engine_exec(e, SQL, sizeof SQL - 1, NULL, &d))
        abort();
    return e;
}

static void push(struct sl_sql_engine *e, const char *topic, const char *key, const char *val,
                 int64_t ts)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_value k, v;
    struct sl_diag d;
    sl_diag_init(&d);
    char *kt = sl_arena_strndup(&a, key, strlen(key)), *vt = sl_arena_strndup(&a, val, strlen(val));
    if (!sl_json_parse_value(&a, kt, strlen(kt), NULL, &k, &d) &&
        !sl_json_parse_value(&a, vt, strlen(vt), NULL, &v, &d))
        sl_sql_engine_push(e, topic, &k, &v, ts);
    sl_arena_fini(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_sql_engine *e = engine();
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_partstate_offset *off = NULL, *off2 = NULL;
    uint32_t noff = 0, noff2 = 0;
    int rc = sl_sql_state_load(e, data, size, &off, &noff, &d);
    if (rc == SL_EPARSE && !strstr(d.msg, "at byte"))
        abort();
    if (rc) {
        sl_sql_engine_free(e);
        return 0;
    }
    struct sl_buf b1, b2;
    sl_buf_init(&b1, 256u << 20);
    sl_buf_init(&b2, 256u << 20);
    if (sl_sql_state_save(e, off, noff, &b1, NULL, &d))
        abort();
    struct sl_sql_engine *e2 = engine();
    if (sl_sql_state_load(e2, b1.ptr, b1.len, &off2, &noff2, &d) || noff2 != noff ||
        sl_sql_state_save(e2, off2, noff2, &b2, NULL, &d) || b1.len != b2.len)
        abort();
    for (uint32_t i = 0; i < noff; i++)
        if (strcmp(off[i].topic, off2[i].topic) || off[i].next != off2[i].next)
            abort();
    sl_free(off);
    sl_free(off2);
    /* a loaded state runs */
    push(e, "in", "\"k1\"", "{\"x\": 3, \"name\": \"a\"}", 1000000);
    push(e, "in", "\"k2\"", "{\"x\": 5, \"name\": \"b\"}", 5000000);
    push(e, "clicks", "\"u1\"", "{\"url\": \"/\"}", 5000001);
    push(e, "l", "\"i1\"", "{\"a\": 1}", 5000002);
    push(e, "r", "\"i1\"", "{\"b\": 2}", 5000003);
    push(e, "ta", "\"i2\"", "{\"a\": 1}", 5000004);
    sl_buf_fini(&b1);
    sl_buf_fini(&b2);
    sl_sql_engine_free(e2);
    sl_sql_engine_free(e);
    return 0;
}
