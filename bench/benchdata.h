/*
 * benchdata.h — generator-shaped test lines for the benchmarks (header-only, bench/ only).
 *
 * Lines look like Zeek conn/http/dns JSON logs of about 300 bytes, deterministic for a seed.
 */
#ifndef SL_BENCH_BENCHDATA_H
#define SL_BENCH_BENCHDATA_H

#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>

static __attribute__((unused)) uint64_t bd_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Append `n` lines to b; returns the number of bytes appended. */
static __attribute__((unused)) size_t bd_lines(struct sl_buf *b, size_t n, uint64_t seed)
{
    static const char *const protos[] = {"tcp", "udp", "tcp", "tcp", "icmp"};
    static const char *const services[] = {"http", "dns", "ssl", "ssh", "smb", "-"};
    static const char *const states[] = {"SF", "S0", "REJ", "RSTO", "SH", "OTH"};
    static const char *const hist[] = {"ShADadfF", "Dd", "S", "ShADadR", "ShAdDaFf"};
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t s = seed | 1;
    size_t start = b->len;
    double ts = 1588205198.89971;
    for (size_t i = 0; i < n; i++) {
        char uid[19];
        uid[0] = 'C';
        for (int k = 1; k < 18; k++)
            uid[k] = b62[bd_rng(&s) % 62];
        uid[18] = 0;
        uint64_t r = bd_rng(&s);
        ts += (double)(r % 1000) / 10000.0;
        sl_buf_appendf(
            b,
            "{\"_path\":\"conn\",\"ts\":%.6f,\"uid\":\"%s\",\"id.orig_h\":\"10.0.%u.%u\","
            "\"id.orig_p\":%u,\"id.resp_h\":\"192.168.%u.%u\",\"id.resp_p\":%u,\"proto\":\"%s\","
            "\"service\":\"%s\",\"duration\":%.6f,\"orig_bytes\":%u,\"resp_bytes\":%u,"
            "\"conn_state\":\"%s\",\"missed_bytes\":0,\"history\":\"%s\",\"orig_pkts\":%u,"
            "\"orig_ip_bytes\":%u,\"resp_pkts\":%u,\"resp_ip_bytes\":%u}\n",
            ts, uid, (unsigned)(r >> 8) % 256, (unsigned)(r >> 16) % 256,
            1024 + (unsigned)(r >> 24) % 60000, (unsigned)(r >> 32) % 256,
            (unsigned)(r >> 40) % 256, (unsigned[]){53, 80, 443, 22, 445, 3389}[r % 6],
            protos[(r >> 3) % 5], services[(r >> 5) % 6], (double)(r % 100000) / 1e4,
            (unsigned)(r >> 12) % 100000, (unsigned)(r >> 20) % 1000000, states[(r >> 7) % 6],
            hist[(r >> 9) % 5], (unsigned)(r >> 28) % 1000, (unsigned)(r >> 30) % 100000,
            (unsigned)(r >> 36) % 1000, (unsigned)(r >> 44) % 100000);
    }
    return b->len - start;
}

#ifdef BD_WITH_PIPELINE
#include "base/clock.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Build the pipeline of `yaml` (--once), run it to the end, and return the seconds it took;
 * *events is what the source named "in" emitted, *allocs (may be NULL) the heap allocations
 * per event. Exits on a config error. */
static __attribute__((unused)) double bd_run_yaml(const char *yaml, int workers, uint64_t *events,
                                                  double *allocs)
{
    struct sl_config *cfg;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "bench.yaml", &cfg, &d)) {
        fprintf(stderr, "config: %s\n", d.msg);
        exit(1);
    }
    struct sl_pipeline_opts o = {.workers = workers, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p) {
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        fprintf(stderr, "pipeline: %s\n", m);
        exit(1);
    }
    uint64_t a0 = sl_alloc_count();
    int64_t t0 = sl_clock_mono_ns();
    sl_pipeline_start(p);
    sl_pipeline_wait(p, -1);
    int64_t t1 = sl_clock_mono_ns();
    uint64_t a1 = sl_alloc_count();
    *events = atomic_load(&sl_pipeline_find(p, "in")->m.events_out);
    if (allocs)
        *allocs = *events ? (double)(a1 - a0) / (double)*events : 0;
    sl_pipeline_free(p);
    sl_config_free(cfg);
    return (double)(t1 - t0) / 1e9;
}
#endif

#endif
