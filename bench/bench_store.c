/*
 * bench_store.c — reads of the SQLite profile store, the PROFILE_GET path: point lookups of
 * one entity's periods, on 1 and 4 threads at once (the reader pool and WAL let readers run in
 * parallel), while nothing and while the writer commits. Also the put rate for reference.
 *
 *   bench_store [ENTITIES [URL]]   (default 10,000 entities x 96 periods of 15 minutes, in
 *                                  a new SQLite file; URL: another store, e.g. postgres://...
 *                                  as bench/bench_store_postgres.sh runs it)
 *
 * Prints `bench=... key=value` lines:
 *   - store_put: measurements/s through sl_store_put (transactions of 9,600) + sl_store_sync;
 *   - store_get: 96-period sl_store_get calls/s and periods/s, with 1 and 4 reader threads,
 *     idle and with a writer replacing rows in the background.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "lang/sval.h"
#include "state/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PERIODS 96
#define DUR     900000LL
#define P0      1635600LL

static struct sl_store *store;
static int entities = 10000;
static atomic_bool stop;

static void entity_name(int i, char *out, size_t n)
{
    snprintf(out, n, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static int put_all(int64_t value_base)
{
    struct sl_measurement *m = calloc(PERIODS * 100, sizeof *m);
    char(*names)[32] = calloc(100, sizeof *names);
    size_t n = 0;
    for (int e = 0; e < entities; e++) {
        entity_name(e, names[e % 100], sizeof names[0]);
        for (int p = 0; p < PERIODS; p++) {
            int64_t id = P0 + p;
            m[n++] = (struct sl_measurement){
                SL_STR("flows"), sl_str_c(names[e % 100]),      SL_STR("[]"), id, DUR, id * DUR,
                id * DUR + DUR,  sl_sv_long(value_base + e + p)};
        }
        if (e % 100 == 99 || e == entities - 1) {
            if (sl_store_put(store, m, n))
                return 1;
            n = 0;
        }
    }
    free(names);
    free(m);
    return sl_store_sync(store);
}

struct reader {
    uint64_t calls;
    unsigned seed;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct sl_arena a;
    sl_arena_init(&a, 1 << 16, 0);
    int64_t periods[PERIODS];
    struct sl_value v[PERIODS];
    bool found[PERIODS];
    for (int p = 0; p < PERIODS; p++)
        periods[p] = P0 + p;
    char name[32];
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        entity_name((int)(rand_r(&r->seed) % (unsigned)entities), name, sizeof name);
        sl_arena_reset(&a);
        if (sl_store_get(store, SL_STR("flows"), sl_str_c(name), SL_STR("[]"), DUR, periods,
                         PERIODS, &a, v, found) ||
            !found[PERIODS - 1])
            abort();
        r->calls++;
    }
    sl_arena_fini(&a);
    return NULL;
}

static void *writer_main(void *arg)
{
    (void)arg;
    for (int64_t round = 1; !atomic_load(&stop); round++)
        if (put_all(round * 1000000))
            abort();
    return NULL;
}

static void run_readers(int threads, bool writing)
{
    pthread_t tid[8], wtid;
    struct reader r[8] = {{0}};
    atomic_store(&stop, false);
    if (writing)
        pthread_create(&wtid, NULL, writer_main, NULL);
    int64_t t0 = sl_clock_mono_ns();
    for (int i = 0; i < threads; i++) {
        r[i].seed = (unsigned)i + 1;
        pthread_create(&tid[i], NULL, reader_main, &r[i]);
    }
    sleep(2);
    atomic_store(&stop, true);
    uint64_t calls = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        calls += r[i].calls;
    }
    double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    if (writing)
        pthread_join(wtid, NULL);
    printf("bench=store_get threads=%d writer=%s calls_per_s=%.0f periods_per_s=%.0f "
           "us_per_call=%.1f\n",
           threads, writing ? "on" : "off", (double)calls / s, (double)calls * PERIODS / s,
           s * 1e6 * threads / (double)(calls ? calls : 1));
}

int main(int argc, char **argv)
{
    if (argc > 1)
        entities = (int)strtol(argv[1], NULL, 10) > 0 ? (int)strtol(argv[1], NULL, 10) : entities;
    char dir[] = "/tmp/sluice-bench-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/p.db", dir);
    if (argc > 2)
        snprintf(url, sizeof url, "%s", argv[2]);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_store_open(url, &store, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    int64_t t0 = sl_clock_mono_ns();
    if (put_all(0))
        return 1;
    double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    printf("bench=store_put store=%.*s measurements=%d per_s=%.0f\n", (int)strcspn(url, ":"), url,
           entities * PERIODS, (double)entities * PERIODS / s);
    run_readers(1, false);
    run_readers(4, false);
    run_readers(1, true);
    run_readers(4, true);
    sl_store_close(store);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
