/*
 * bench_profiler.c — the profiler engine on one core: route + apply throughput of Metron's
 * hello-world count profile over generator-shaped events, and memory per (profile, entity)
 * (the engine's own accounting and the process RSS) with many distinct entities.
 *
 *   bench_profiler [ENTITIES] [EVENTS]   (default 1,000,000 entities; 10,000,000 events over
 *                                         100,000 entities, best of 3, for a count profile
 *                                         and a STATS_ADD profile)
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "core/event.h"
#include "lang/stellar.h"
#include "state/profiler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const COUNT_DEF =
    "{\"profiles\":[{\"profile\":\"hello-world\",\"foreach\":\"ip_src_addr\","
    "\"init\":{\"count\":0},\"update\":{\"count\":\"count + 1\"},\"result\":\"count\"}]}";

/* a STATS sketch per entity over a numeric field (field 1 of the event: ip_dst_port) */
static const char *const STATS_DEF =
    "{\"profiles\":[{\"profile\":\"port-stats\",\"foreach\":\"ip_src_addr\","
    "\"init\":{\"s\":\"STATS_INIT()\"},\"update\":{\"s\":\"STATS_ADD(s, ip_dst_port)\"},"
    "\"result\":\"s\"}]}";

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4;
}

static int on_emit(void *ud, const struct sl_profile_result *r)
{
    (*(uint64_t *)ud)++;
    return 0;
}

/* entity i as "10.a.b.c" */
static size_t ip_of(uint32_t i, char *out)
{
    return (size_t)snprintf(out, 32, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

int main(int argc, char **argv)
{
    long nent = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long nev = argc > 2 ? strtol(argv[2], NULL, 10) : 10000000;
    sl_core_init();
    struct sl_profiler_def *def;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_profiler_def_parse(COUNT_DEF, strlen(COUNT_DEF), "<bench>", &def, &d)) {
        fprintf(stderr, "bench_profiler: %s\n", d.msg);
        return 1;
    }
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = sl_batch_push(b);
    sl_sym ipsym = sl_sym_intern_c("ip_src_addr");
    sl_event_set_str(b, ev, sl_sym_intern_c("ip_dst_addr"), "192.168.1.20", 12);
    sl_event_set(b, ev, sl_sym_intern_c("ip_dst_port"), sl_value_int(80));
    sl_event_set_str(b, ev, sl_sym_intern_c("protocol"), "HTTP", 4);
    sl_event_set(b, ev, ipsym, sl_value_str("", 0));
    struct sl_stellar_resolver msg = {.get = sl_stellar_event_get, .ud = ev, .event = ev};
    struct sl_arena a;
    sl_arena_init(&a, 65536, 0);
    const int64_t ts = 1502665200000;

    /* ---- memory: nent distinct entities, one message each */
    long rss0 = rss_kb();
    struct sl_profiler_opts o = {.period_ms = 900000};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    for (long i = 0; i < nent; i++) {
        char ip[32];
        size_t n = ip_of((uint32_t)i, ip);
        ev->fields[ev->count - 1].val = sl_value_str(ip, n);
        struct sl_str ent;
        const char *err;
        if (sl_profiler_route(def, 0, vm, &msg, &a, &ent, &err) == 1)
            sl_profiler_apply(p, 0, ent, vm, &msg, ts, ts, &err);
        sl_arena_reset(&a);
    }
    long rss1 = rss_kb();
    struct sl_profiler_stats st;
    sl_profiler_get_stats(p, &st);
    uint64_t emitted = 0;
    struct sl_profiler_sink sink = {.emit = on_emit, .ud = &emitted};
    int64_t t0 = sl_clock_mono_ns();
    sl_profiler_advance(p, vm, ts + 900000, ts, &sink);
    double fs = (double)(sl_clock_mono_ns() - t0) / 1e9;
    printf("bench=profiler case=memory entities=%llu bytes=%llu bytes_per_entity=%.1f "
           "rss_mb=%.1f rss_per_entity=%.1f flush_s=%.3f flush_per_s=%.0f\n",
           (unsigned long long)st.entities, (unsigned long long)st.bytes,
           (double)st.bytes / (double)st.entities, (double)(rss1 - rss0) / 1024.0,
           (double)(rss1 - rss0) * 1024.0 / (double)st.entities, fs, (double)emitted / fs);
    sl_profiler_free(p);

    /* ---- throughput: nev events over 100k entities, route + apply */
    const uint32_t hot = 100000;
    char(*ips)[16] = malloc(hot * sizeof *ips);
    size_t *lens = malloc(hot * sizeof *lens);
    for (uint32_t i = 0; i < hot; i++)
        lens[i] = ip_of(i, ips[i]);
    struct sl_profiler_def *defs[2] = {def, NULL};
    if (sl_profiler_def_parse(STATS_DEF, strlen(STATS_DEF), "<bench>", &defs[1], &d)) {
        fprintf(stderr, "bench_profiler: %s\n", d.msg);
        return 1;
    }
    static const char *const names[] = {"count_route_apply", "stats_route_apply"};
    for (int c = 0; c < 2; c++) {
        double best = 0;
        uint64_t allocs = 0;
        uint64_t x = 88172645463325252ull;
        for (int run = 0; run < 3; run++) {
            p = sl_profiler_new(defs[c], &o);
            int64_t s0 = sl_clock_mono_ns();
            uint64_t a0 = 0;
            for (long i = 0; i < nev; i++) {
                if (i == nev / 2)
                    a0 = sl_alloc_count();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                uint32_t k = (uint32_t)(x % hot);
                ev->fields[ev->count - 1].val = sl_value_str(ips[k], lens[k]);
                ev->fields[1].val = sl_value_int((int64_t)(x >> 40) % 1500);
                struct sl_str ent;
                const char *err;
                if (sl_profiler_route(defs[c], 0, vm, &msg, &a, &ent, &err) == 1)
                    sl_profiler_apply(p, 0, ent, vm, &msg, ts, ts, &err);
                sl_arena_reset(&a);
            }
            double s = (double)(sl_clock_mono_ns() - s0) / 1e9;
            allocs = sl_alloc_count() - a0;
            if (nev / s > best)
                best = nev / s;
            if (run == 2) {
                sl_profiler_get_stats(p, &st);
                printf("bench=profiler case=%s entities=%u events=%ld events_per_s=%.0f "
                       "allocs_second_half=%llu bytes_per_entity=%.1f\n",
                       names[c], hot, nev, best, (unsigned long long)allocs,
                       (double)st.bytes / (double)st.entities);
            }
            sl_profiler_free(p);
        }
    }
    sl_profiler_def_free(defs[1]);
    free(ips);
    free(lens);
    sl_arena_fini(&a);
    sl_batch_unref(b);
    sl_stellar_vm_free(vm);
    sl_profiler_def_free(def);
    return 0;
}
