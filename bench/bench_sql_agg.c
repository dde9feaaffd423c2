/*
 * bench_sql_agg.c — SQL aggregate adds per second on one core (COUNT, SUM, MAX,
 * LATEST_BY_OFFSET over BIGINT and STRING values), and the bytes of state each aggregate holds
 * (the inline SL_SQL_AGG_STATE plus the heap it reports) after the run.
 *
 *   bench_sql_agg [VALUES]    (default 1,000,000 per aggregate; best of 5 runs)
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "sql/sql_agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTR 1024

static struct sl_sql_type t_bigint = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type t_string = {.kind = SL_SQL_T_STRING};

static void bench(const char *fn_name, const struct sl_sql_type *t, const struct sl_value *vals,
                  size_t nvals, long n, const struct sl_value *c1)
{
    const struct sl_sql_aggfn *fn = sl_sql_agg_find(fn_name);
    struct sl_arena types;
    sl_arena_init(&types, 1024, 0);
    struct sl_sql_aggcfg cfg;
    struct sl_diag d;
    sl_diag_init(&d);
    const struct sl_sql_type *argt[2] = {t, &t_bigint};
    const struct sl_value *consts[2] = {NULL, c1};
    if (fn->bind(argt, consts, c1 ? 2 : 1, false, &types, &cfg, &d)) {
        printf("bench=sql_agg fn=%s skipped=\"%s\"\n", fn_name, d.msg);
        sl_arena_fini(&types);
        return;
    }
    double best = 1e30;
    size_t heap = 0;
    uint64_t allocs = 0;
    for (int run = 0; run < 5; run++) {
        _Alignas(8) unsigned char st[SL_SQL_AGG_STATE];
        fn->init(&cfg, st);
        uint64_t a0 = sl_alloc_count();
        int64_t t0 = sl_clock_mono_ns();
        for (long i = 0; i < n; i++)
            if (fn->add(&cfg, st, &vals[(size_t)i % nvals], (uint64_t)i + 1))
                abort();
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        allocs = sl_alloc_count() - a0;
        if (s < best)
            best = s;
        heap = fn->bytes(&cfg, st);
        fn->fini(&cfg, st);
    }
    printf("bench=sql_agg fn=%s%s type=%s values=%ld seconds=%.4f adds_per_s=%.0f "
           "ns_per_add=%.2f state_bytes=%d heap_bytes=%zu allocs_per_run=%llu\n",
           fn_name, c1 ? "(x,k)" : "", t->kind == SL_SQL_T_STRING ? "STRING" : "BIGINT", n, best,
           (double)n / best, best * 1e9 / (double)n, SL_SQL_AGG_STATE, heap,
           (unsigned long long)allocs);
    sl_arena_fini(&types);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n <= 0)
        n = 1000000;
    /* pseudo-random BIGINTs and short strings (host names), cycled */
    static struct sl_value ints[NSTR], strs[NSTR];
    static char text[NSTR][32];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NSTR; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ints[i] = sl_value_int((int64_t)(x % 1000000));
        int len = snprintf(text[i], sizeof text[i], "host-%llu.example.com",
                           (unsigned long long)(x % 100000));
        strs[i] = sl_value_str(text[i], (size_t)len);
    }
    struct sl_value k10 = sl_value_int(10);
    bench("COUNT", &t_bigint, ints, NSTR, n, NULL);
    bench("SUM", &t_bigint, ints, NSTR, n, NULL);
    bench("AVG", &t_bigint, ints, NSTR, n, NULL);
    bench("MAX", &t_bigint, ints, NSTR, n, NULL);
    bench("MAX", &t_string, strs, NSTR, n, NULL);
    bench("LATEST_BY_OFFSET", &t_bigint, ints, NSTR, n, NULL);
    bench("LATEST_BY_OFFSET", &t_string, strs, NSTR, n, NULL);
    bench("LATEST_BY_OFFSET", &t_bigint, ints, NSTR, n, &k10);
    bench("TOPK", &t_bigint, ints, NSTR, n, &k10);
    bench("COUNT_DISTINCT", &t_string, strs, NSTR, n, NULL);
    bench("COLLECT_LIST", &t_string, strs, NSTR, n, NULL);
    return 0;
}
