/*
 * bench_stellar.c — Stellar evaluations per second on one core, over generator-shaped events
 * read through the real event resolver, with heap allocations per evaluation; and compile
 * time for a 200-expression profile set.
 *
 *   bench_stellar [EVALS]    (default 20,000,000 per expression; best of 5 runs)
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "core/event.h"
#include "lang/stellar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEV 1024

struct stats_var {
    const struct sl_event *ev;
    struct sl_value s;
};

/* Event fields, plus `s` (a statistics object) for the STATS_ADD case. */
static bool get(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    struct stats_var *sv = ud;
    if (len == 1 && name[0] == 's') {
        *out = sv->s;
        return true;
    }
    return sl_stellar_event_get((void *)sv->ev, sym, name, len, out);
}

static void make_events(struct sl_batch *b)
{
    static const char *const protos[] = {"HTTP", "DNS", "TLS", "SSH", "HTTP", "SMB"};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NEV; i++) {
        struct sl_event *ev = sl_batch_push(b);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char ip[32];
        int n = snprintf(ip, sizeof ip, "10.%u.%u.%u", (unsigned)(x >> 8 & 255),
                         (unsigned)(x >> 16 & 255), (unsigned)(x >> 24 & 255));
        sl_event_set_str(b, ev, sl_sym_intern_c("ts"), "2026-11-23T07:00:00Z", 20);
        sl_event_set_str(b, ev, sl_sym_intern_c("uid"), "CO4gzFHLFA12BEFvuq", 18);
        sl_event_set_str(b, ev, sl_sym_intern_c("ip_src_addr"), ip, (size_t)n);
        sl_event_set_str(b, ev, sl_sym_intern_c("ip_dst_addr"), "192.168.1.20", 12);
        sl_event_set(b, ev, sl_sym_intern_c("ip_src_port"), sl_value_int((int64_t)(x % 60000)));
        sl_event_set(b, ev, sl_sym_intern_c("ip_dst_port"), sl_value_int(80));
        const char *p = protos[x % 6];
        sl_event_set_str(b, ev, sl_sym_intern_c("protocol"), p, strlen(p));
        sl_event_set(b, ev, sl_sym_intern_c("bytes_in"), sl_value_int((int64_t)(x % 2000)));
        sl_event_set(b, ev, sl_sym_intern_c("bytes_out"), sl_value_int((int64_t)(x % 9000)));
        sl_event_set(b, ev, sl_sym_intern_c("count"), sl_value_int(i));
        sl_event_set(b, ev, sl_sym_intern_c("length"), sl_value_int((int64_t)(x % 1500)));
        sl_event_set_str(b, ev, sl_sym_intern_c("method"), "GET", 3);
        sl_event_set_str(b, ev, sl_sym_intern_c("host"), "www.example.com", 15);
        sl_event_set_str(b, ev, sl_sym_intern_c("uri"), "/index.html", 11);
        sl_event_set(b, ev, sl_sym_intern_c("status_code"), sl_value_int(200));
        sl_event_set_str(b, ev, sl_sym_intern_c("user_agent"), "Mozilla/5.0", 11);
    }
}

static const char *only; /* argv[2]: run just this case */

static void bench(const char *label, const char *src, struct sl_batch *b, long evals,
                  struct sl_value svar, double target)
{
    if (only && strcmp(only, label) != 0)
        return;
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_stellar_compile(src, strlen(src), NULL, &p, &d)) {
        printf("bench=stellar_eval expr=\"%s\" skipped=\"%s\"\n", src, d.msg);
        return;
    }
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_arena arena;
    sl_arena_init(&arena, 1 << 16, 0);
    struct stats_var sv = {NULL, svar};
    struct sl_stellar_resolver r = {get, &sv, false, NULL, NULL};
    double best = 1e9;
    uint64_t allocs = 0;
    long errors = 0;
    for (int run = 0; run < 5; run++) {
        uint64_t a0 = sl_alloc_count();
        int64_t t0 = sl_clock_mono_ns();
        for (long i = 0; i < evals; i++) {
            sv.ev = &b->events[i & (NEV - 1)];
            r.event = sv.ev;
            struct sl_value v;
            errors += sl_stellar_eval(vm, p, &r, &arena, &v) != 0;
            if ((i & 4095) == 4095)
                sl_arena_reset(&arena);
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        allocs = sl_alloc_count() - a0;
        if (s < best)
            best = s;
        sl_arena_reset(&arena);
    }
    double rate = (double)evals / best;
    printf("bench=stellar_eval case=%s expr=\"%s\" evals=%ld seconds=%.3f evals_per_s=%.0f "
           "ns_per_eval=%.1f allocs_per_eval=%.4f errors=%ld%s\n",
           label, src, evals, best, rate, best * 1e9 / (double)evals,
           (double)allocs / (double)evals, errors,
           target > 0 ? (rate >= target ? " target=met" : " target=MISSED") : "");
    sl_arena_fini(&arena);
    sl_stellar_vm_free(vm);
    sl_stellar_free(p);
}

static void bench_compile(void)
{
    /* 200 profile-shaped expressions: onlyif, update, result, triage */
    char(*src)[256] = sl_xcalloc(200, 256);
    static const char *const shapes[] = {
        "protocol == 'HTTP' and bytes_in > %d",
        "if exists(ip_src_addr) then bytes_out + bytes_in * %d else 0",
        "match{ status_code >= %d => 'bad', status_code >= 400 => 'client', default => 'ok' }",
        "TO_UPPER(method) in ['GET', 'POST'] and LENGTH(uri) > %d",
        "MAP([bytes_in, bytes_out], x -> x * %d)",
        "REGEXP_MATCH(host, '.*\\\\.example\\\\.com') or ip_dst_port == %d",
        "{'src': ip_src_addr, 'n': count + %d, 'big': bytes_in > 1000}",
        "FILTER([1, 2, 3, %d], x -> x > 2)",
    };
    for (int i = 0; i < 200; i++) {
        const char *sh = shapes[i % 8], *at = strstr(sh, "%d");
        snprintf(src[i], 256, "%.*s%d%s", (int)(at - sh), sh, i + 1, at + 2);
    }
    double best = 1e9;
    int failed = 0;
    for (int run = 0; run < 5; run++) {
        int64_t t0 = sl_clock_mono_ns();
        for (int i = 0; i < 200; i++) {
            struct sl_stellar_prog *p;
            struct sl_diag d;
            sl_diag_init(&d);
            if (sl_stellar_compile(src[i], strlen(src[i]), NULL, &p, &d)) {
                failed++;
                continue;
            }
            sl_stellar_free(p);
        }
        double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (s < best)
            best = s;
    }
    printf("bench=stellar_compile expressions=200 seconds=%.4f us_per_expression=%.1f "
           "failed=%d\n",
           best, best * 1e6 / 200, failed / 5);
    sl_free(src);
}

int main(int argc, char **argv)
{
    long evals = argc > 1 ? strtol(argv[1], NULL, 10) : 20000000;
    only = argc > 2 ? argv[2] : NULL;
    sl_core_init();
    struct sl_batch *b = sl_batch_new();
    make_events(b);
    /* the statistics object for STATS_ADD(s, length), when the STATS functions are built */
    struct sl_value svar = sl_value_null();
    struct sl_stellar_prog *init = NULL;
    struct sl_stellar_vm *ivm = sl_stellar_vm_new();
    struct sl_arena ia;
    sl_arena_init(&ia, 4096, 0);
    struct sl_diag d;
    sl_diag_init(&d);
    if (!sl_stellar_compile("STATS_INIT()", 12, NULL, &init, &d)) {
        struct sl_stellar_resolver r = {get, NULL, false, NULL, NULL};
        if (!sl_stellar_eval(ivm, init, &r, &ia, &svar) && svar.type == SL_V_OBJECT)
            sl_object_ref(svar.u.obj);
        sl_stellar_vm_release(ivm);
    }
    bench("predicate", "protocol == 'HTTP' and bytes_in > 100", b, evals, svar, 20e6);
    bench("increment", "count + 1", b, evals, svar, 50e6);
    bench("stats_add", "STATS_ADD(s, length)", b, evals / 2, svar, 10e6);
    bench("regexp", "REGEXP_MATCH(host, '.*\\\\.example\\\\.(com|org)')", b, evals / 10, svar, 0);
    bench("in_subnet", "IN_SUBNET(ip_src_addr, '10.0.0.0/8', '192.168.0.0/16')", b, evals / 10,
          svar, 0);
    bench("ternary_arith", "if bytes_in > 1000 then bytes_in * 2 + bytes_out else 0", b, evals,
          svar, 0);
    if (!only || strcmp(only, "compile") == 0)
        bench_compile();
    if (svar.type == SL_V_OBJECT)
        sl_object_unref(svar.u.obj);
    sl_stellar_free(init);
    sl_stellar_vm_free(ivm);
    sl_arena_fini(&ia);
    sl_batch_unref(b);
    return 0;
}
