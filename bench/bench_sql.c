/*
 * bench_sql.c — the streaming SQL engine (sql_engine.h) on one thread: events per second,
 * state bytes per key and heap allocations per event for the four workloads of issue 16.
 *
 *   bench_sql [EVENTS] [CASE] [KEYS]   (default 2,000,000 events per pass; best of 5 passes;
 *                                       CASE: window | partition | table_join | within_join;
 *                                       KEYS: distinct stream keys, default and at most 100k)
 *
 * Environment: BENCH_SQL_PASSES (default 5), BENCH_SQL_MAX_STATE (max_state_bytes per query and
 * table; default 0, the engine's default of 1 GiB). state_full counts records refused for it.
 *
 * Records are pre-built sl_value maps (no JSON in the timed loop); the emit callback counts.
 * Every pass starts a fresh engine (the timed loop is the pushes only; for the stream–table
 * join the table's 100k rows are loaded before the clock starts).
 *
 *   window       CREATE TABLE T AS SELECT K, COUNT(*), SUM(V) FROM S
 *                  WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY K         (100k keys)
 *   partition    CREATE STREAM P AS SELECT * FROM S PARTITION BY K2
 *   table_join   CREATE STREAM J AS SELECT S.K, S.V, T.NAME FROM S JOIN T ON S.K = T.ID
 *   within_join  CREATE STREAM J AS SELECT L.K, L.V, R.W FROM L JOIN R WITHIN 1 MINUTE
 *                  ON L.K = R.K                       (events = left + right records)
 *
 * Event time advances 1 ms every 10 events (600k events, all 100k keys, per 60 s window);
 * for within_join 1 ms per left/right pair, so a key's previous pair (100 s earlier) has left
 * the 1-minute buffer and every right record matches exactly one left one.
 *
 * state: the engine's own estimate (sl_sql_engine_stats state_bytes) and the heap it really
 * holds (mallinfo2 in-use delta over the pass), each divided by the keys held: for window,
 * by keys x windows (the windows stay for their grace, 24 h by default); for within_join, by
 * keys (the buffers hold every record of the retention, so it grows with EVENTS).
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "sql/sql_engine.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS  100000
#define PASSES 5

static int nkeys = NKEYS; /* distinct keys the stream cycles through */
static int passes = PASSES;
static uint64_t max_state;

struct recs {
    struct sl_value *val; /* NKEYS map values */
    struct sl_value *key; /* NKEYS string keys (K) */
    struct sl_kv *kv;
    char *text;
};

/* NKEYS records {K: "k000042", K2: "g042", V: 42 [, W or NAME]} */
static void make_recs(struct recs *r, const char *extra)
{
    r->val = sl_xcalloc(NKEYS, sizeof *r->val);
    r->key = sl_xcalloc(NKEYS, sizeof *r->key);
    r->kv = sl_xcalloc((size_t)NKEYS * 4, sizeof *r->kv);
    r->text = sl_xcalloc(NKEYS, 32);
    for (int i = 0; i < NKEYS; i++) {
        char *t = r->text + (size_t)i * 32;
        int n = snprintf(t, 16, "k%06d", i);
        int n2 = snprintf(t + 16, 16, "g%03d", i % 1000);
        struct sl_kv *kv = r->kv + (size_t)i * 4;
        uint32_t nkv = 0;
        kv[nkv++] = (struct sl_kv){sl_str_make("K", 1), sl_value_str(t, (size_t)n)};
        kv[nkv++] = (struct sl_kv){sl_str_make("K2", 2), sl_value_str(t + 16, (size_t)n2)};
        kv[nkv++] = (struct sl_kv){sl_str_make("V", 1), sl_value_int(i % 977)};
        if (extra && strcmp(extra, "NAME") == 0)
            kv[nkv++] = (struct sl_kv){sl_str_make("NAME", 4), sl_value_str(t + 16, (size_t)n2)};
        else if (extra)
            kv[nkv++] = (struct sl_kv){sl_str_make(extra, strlen(extra)), sl_value_int(i % 31)};
        r->val[i] = (struct sl_value){.type = SL_V_MAP, .len = nkv};
        r->val[i].u.map = kv;
        r->key[i] = sl_value_str(t, (size_t)n);
    }
}

static void free_recs(struct recs *r)
{
    sl_free(r->val);
    sl_free(r->key);
    sl_free(r->kv);
    sl_free(r->text);
}

static uint64_t emitted;
static void on_emit(void *ud, const struct sl_sql_record *r)
{
    (void)ud;
    (void)r;
    emitted++;
}

static uint64_t errors;
static void on_error(void *ud, const char *q, const char *msg)
{
    (void)ud;
    if (errors++ == 0)
        fprintf(stderr, "bench_sql: first record error: %s: %s\n", q, msg);
}

enum kind { K_WINDOW, K_PARTITION, K_TABLE_JOIN, K_WITHIN_JOIN };

struct wl {
    const char *name;
    enum kind kind;
    const char *script;
    const char *query; /* the statement measured, for the printout */
};

static const struct wl workloads[] = {
    {"window", K_WINDOW,
     "CREATE STREAM S (K STRING, K2 STRING, V BIGINT) WITH (kafka_topic='s', "
     "value_format='JSON');"
     "CREATE TABLE T AS SELECT K, COUNT(*) AS C, SUM(V) AS SV FROM S "
     "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY K;",
     "CREATE TABLE T AS SELECT K, COUNT(*), SUM(V) FROM S WINDOW TUMBLING (SIZE 60 SECONDS) "
     "GROUP BY K"},
    {"partition", K_PARTITION,
     "CREATE STREAM S (K STRING, K2 STRING, V BIGINT) WITH (kafka_topic='s', "
     "value_format='JSON');"
     "CREATE STREAM P AS SELECT * FROM S PARTITION BY K2;",
     "CREATE STREAM P AS SELECT * FROM S PARTITION BY K2"},
    {"table_join", K_TABLE_JOIN,
     "CREATE STREAM S (K STRING KEY, K2 STRING, V BIGINT) WITH (kafka_topic='s', "
     "value_format='JSON');"
     "CREATE TABLE T (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='t', "
     "value_format='JSON');"
     "CREATE STREAM J AS SELECT S.K, S.V, T.NAME FROM S JOIN T ON S.K = T.ID;",
     "CREATE STREAM J AS SELECT S.K, S.V, T.NAME FROM S JOIN T ON S.K = T.ID"},
    {"within_join", K_WITHIN_JOIN,
     "CREATE STREAM L (K STRING KEY, K2 STRING, V BIGINT) WITH (kafka_topic='l', "
     "value_format='JSON');"
     "CREATE STREAM R (K STRING KEY, K2 STRING, V BIGINT, W BIGINT) WITH (kafka_topic='r', "
     "value_format='JSON');"
     "CREATE STREAM J AS SELECT L.K, L.V, R.W FROM L JOIN R WITHIN 1 MINUTE ON L.K = R.K;",
     "CREATE STREAM J AS SELECT L.K, L.V, R.W FROM L JOIN R WITHIN 1 MINUTE ON L.K = R.K"},
};

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void run(const struct wl *w, long events, struct recs *sr, struct recs *tr, struct recs *rr)
{
    double best = 1e9;
    uint64_t allocs = 0, out = 0, state = 0, in = 0, late = 0, full = 0;
    size_t heap = 0;
    long failed = 0;
    for (int pass = 0; pass < passes; pass++) {
        struct sl_sql_engine_opts o = {0};
        o.max_state_bytes = max_state; /* 0: the engine's default (1 GiB per query) */
        struct sl_sql_engine *e = sl_sql_engine_new(&o, on_emit, NULL);
        sl_sql_engine_on_error(e, on_error, NULL);
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_sql_engine_exec(e, w->script, strlen(w->script), NULL, &d)) {
            printf("bench=sql case=%s skipped=\"%s\"\n", w->name, d.msg);
            sl_sql_engine_free(e);
            return;
        }
        size_t h0 = heap_in_use(); /* the table's rows count as state */
        if (w->kind == K_TABLE_JOIN)
            for (int i = 0; i < NKEYS; i++)
                sl_sql_engine_push(e, "t", &tr->key[i], &tr->val[i], 0);
        struct sl_sql_engine_stats st0;
        sl_sql_engine_stats(e, &st0);
        emitted = 0;
        errors = 0;
        uint64_t a0 = sl_alloc_count();
        int64_t t0 = sl_clock_mono_ns();
        const int64_t base_ms = 1700000000000; /* also in the state division below */
        if (w->kind == K_WITHIN_JOIN) {
            for (long i = 0; i < events / 2; i++) {
                int k = (int)(i % nkeys);
                sl_sql_engine_push(e, "l", &sr->key[k], &sr->val[k], base_ms + i);
                sl_sql_engine_push(e, "r", &rr->key[k], &rr->val[k], base_ms + i);
            }
        } else {
            for (long i = 0; i < events; i++) {
                int k = (int)(i % nkeys);
                sl_sql_engine_push(e, "s", w->kind == K_TABLE_JOIN ? &sr->key[k] : NULL,
                                   &sr->val[k], base_ms + i / 10);
            }
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        uint64_t a = sl_alloc_count() - a0;
        size_t h1 = heap_in_use();
        struct sl_sql_engine_stats st;
        sl_sql_engine_stats(e, &st);
        if (s < best) {
            best = s;
            allocs = a;
        }
        out = emitted;
        state = st.state_bytes;
        heap = h1 > h0 ? h1 - h0 : 0;
        in = st.records_in - st0.records_in;
        late = st.late;
        full = st.state_full;
        failed = (long)(st.decode_errors + st.eval_errors);
        sl_sql_engine_free(e);
    }
    double rate = (double)events / best;
    /* keys held: window and table join hold all 100k (windows: per open window); the WITHIN
     * buffers hold the last minute of both sides */
    double keys = w->kind == K_TABLE_JOIN ? NKEYS : nkeys;
    if (w->kind == K_WINDOW) { /* every key is in every window: state per key and window */
        const int64_t b = 1700000000000, last = b + (events - 1) / 10;
        keys *= (double)(last / 60000 - b / 60000 + 1);
    }
    double target = w->kind == K_WINDOW ? 1.5e6 : (w->kind == K_PARTITION ? 0 : 1e6);
    printf("bench=sql case=%s keys=%d events=%ld seconds=%.3f events_per_s=%.0f ns_per_event=%.1f "
           "allocs_per_event=%.3f records_in=%llu records_out=%llu errors=%ld late=%llu "
           "state_full=%llu state_bytes=%llu state_bytes_per_key=%.0f heap_bytes_per_key=%.0f%s "
           "query=\"%s\"\n",
           w->name, nkeys, events, best, rate, best * 1e9 / (double)events,
           (double)allocs / (double)events, (unsigned long long)in, (unsigned long long)out, failed,
           (unsigned long long)late, (unsigned long long)full, (unsigned long long)state,
           (double)state / keys, (double)heap / keys,
           target > 0 ? (rate >= target ? " target=met" : " target=MISSED") : "", w->query);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 2000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (events <= 0)
        events = 2000000;
    if (argc > 3 && (int)strtol(argv[3], NULL, 10) > 0 && (int)strtol(argv[3], NULL, 10) < NKEYS)
        nkeys = (int)strtol(argv[3], NULL, 10);
    const char *env = getenv("BENCH_SQL_PASSES");
    if (env && (int)strtol(env, NULL, 10) > 0)
        passes = (int)strtol(env, NULL, 10);
    env = getenv("BENCH_SQL_MAX_STATE");
    if (env)
        max_state = strtoull(env, NULL, 10);
    struct recs sr, tr, rr;
    make_recs(&sr, NULL);
    make_recs(&tr, "NAME");
    make_recs(&rr, "W");
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++)
        if (!only || strcmp(only, workloads[i].name) == 0)
            run(&workloads[i], events, &sr, &tr, &rr);
    free_recs(&sr);
    free_recs(&tr);
    free_recs(&rr);
    return 0;
}
