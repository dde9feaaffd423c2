/*
 * fuzz_aggstate.c — libFuzzer target for the aggregate transform's window checkpoints
 * (sl_aggtable_load, src/state/aggtable.c), read from a changelog topic anyone with access to
 * the cluster can write.
 *
 * Every input is loaded into a fresh table with fixed aggregates (count, count(e), sum, min,
 * max, avg, distinct with an exact bound of 50, top_k 1) and one key. A refusal must say why;
 * a checkpoint that loads must save again to bytes that load into another table giving the
 * same rows when their windows close, and must take more values and close.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/binrd.h"
#include "base/buf.h"
#include "state/aggtable.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sl_aggtable *table(void)
{
    static const struct sl_agg_spec sp[] = {
        {SL_AGG_COUNT, 0}, {SL_AGG_COUNT_EXPR, 0}, {SL_AGG_SUM, 0},      {SL_AGG_MIN, 0},
        {SL_AGG_MAX, 0},   {SL_AGG_AVG, 0},        {SL_AGG_DISTINCT, 0}, {SL_AGG_TOPK, 1}};
    struct sl_aggtable_opts o = {
        .specs = sp, .nspecs = 8, .nkeys = 1, .max_groups = 10000, .distinct_exact_max = 50};
    return sl_aggtable_new(&o);
}

/* every row closed, as text */
static int text_rows(void *ud, int64_t ws, int64_t we, const struct sl_value *keys,
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
    sl_buf_puts(b, "\n");
    sl_buf_fini(&tmp);
    return 0;
}

static void close_all(struct sl_aggtable *t, struct sl_buf *out)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    if (sl_aggtable_close(t, 0, true, &a, text_rows, out) < 0)
        abort();
    sl_arena_fini(&a);
}

/* n events for key k in window [0, 60): numbers and words, many of them new */
static void feed(struct sl_aggtable *t, const char *k, int n)
{
    for (int i = 0; i < n; i++) {
        struct sl_value key = sl_value_str(k, strlen(k));
        struct sl_aggroup *g;
        if (sl_aggtable_group(t, 0, 60, &key, &g))
            return;
        char w[32];
        int len = snprintf(w, sizeof w, "v%d", i % 3 ? i : i % 7);
        struct sl_value s = sl_value_str(w, (size_t)len), v = sl_value_int(i);
        struct sl_value args[8] = {sl_value_null(), v, v, s, s, v, s, s};
        (void)sl_aggtable_add(t, g, args);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_aggtable *t = table();
    struct sl_binrd r;
    sl_binrd_init(&r, data, size);
    int rc = sl_aggtable_load(t, &r);
    if (rc == SL_EPARSE && !r.why)
        abort();
    if (rc || r.pos != size) {
        sl_aggtable_free(t);
        return 0;
    }
    /* saved again, it loads into another table: both give the same rows */
    struct sl_buf b1, o1, o2;
    sl_buf_init(&b1, 256u << 20);
    sl_buf_init(&o1, 256u << 20);
    sl_buf_init(&o2, 256u << 20);
    if (sl_aggtable_save(t, &b1))
        abort();
    struct sl_aggtable *u = table(), *w = table();
    sl_binrd_init(&r, b1.ptr, b1.len);
    if (sl_aggtable_load(u, &r) || r.pos != b1.len)
        abort();
    sl_binrd_init(&r, b1.ptr, b1.len);
    if (sl_aggtable_load(w, &r) || r.pos != b1.len)
        abort();
    close_all(t, &o1);
    close_all(u, &o2);
    if (o1.len != o2.len || (o1.len && memcmp(o1.ptr, o2.ptr, o1.len) != 0))
        abort();
    /* and goes on: more values (exact sets past their bound, top-k past its exact size: the
     * heap it was given must hold), then every window closes */
    feed(w, "a", 300);
    feed(w, "b", 3);
    close_all(w, &o1);
    sl_buf_fini(&b1);
    sl_buf_fini(&o1);
    sl_buf_fini(&o2);
    sl_aggtable_free(u);
    sl_aggtable_free(w);
    sl_aggtable_free(t);
    return 0;
}
