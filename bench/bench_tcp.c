/*
 * bench_tcp.c — tcp (json lines) -> null through the real runtime, with local senders.
 *
 * Sender threads in this process write pre-built ~300-byte Zeek-conn lines over C
 * connections as fast as the socket takes them; the figure is events/s counted by the
 * null sink from the first byte sent until the last event is through. The sender shares
 * the two cores with sluice, as a local Fluent Bit sender would.
 *
 *   bench_tcp [EVENTS] [CONNECTIONS] [WORKERS]    (defaults: 4,000,000  4  2)
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "benchdata.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "sys/net.h"
#include "sys/thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sl_buf payload; /* lines, a whole number of them */
static size_t payload_lines;
static uint16_t port;
static size_t reps;

static void *sender(void *arg)
{
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; i++) {
        fd = sl_net_connect_tcp("127.0.0.1", port);
        if (fd < 0)
            usleep(10000);
    }
    if (fd < 0) {
        fprintf(stderr, "connect failed\n");
        exit(1);
    }
    for (size_t r = 0; r < reps; r++) {
        size_t off = 0;
        while (off < payload.len) {
            ssize_t w = write(fd, payload.ptr + off, payload.len - off);
            if (w <= 0) {
                perror("write");
                exit(1);
            }
            off += (size_t)w;
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t events = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 4000000;
    int conns = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 4;
    int workers = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 2;
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    sl_buf_init(&payload, 0);
    payload_lines = 20000;
    size_t bytes = bd_lines(&payload, payload_lines, 7);
    reps = events / ((size_t)conns * payload_lines);
    if (!reps)
        reps = 1;
    size_t total = reps * payload_lines * (size_t)conns;
    int lfd = sl_net_listen_tcp("127.0.0.1", 0, 1);
    port = (uint16_t)sl_net_local_port(lfd);
    close(lfd);
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: tcp, listen: \"127.0.0.1:%u\", format: json}\n"
             "sinks:\n  out: {type: \"null\", inputs: [in]}\n",
             port);
    struct sl_config *cfg;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "bench.yaml", &cfg, &d))
        return 1;
    struct sl_pipeline_opts o = {.workers = workers};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p) {
        fprintf(stderr, "pipeline: %s\n", d.msg);
        return 1;
    }
    sl_pipeline_start(p);
    struct sl_component *out = sl_pipeline_find(p, "out");
    struct sl_thread th[64];
    int64_t t0 = sl_clock_mono_ns();
    for (int i = 0; i < conns && i < 64; i++)
        sl_thread_start(&th[i], "sender", sender, NULL);
    for (int i = 0; i < conns && i < 64; i++)
        sl_thread_join(&th[i]);
    while (atomic_load(&out->m.events_in) < total &&
           sl_clock_mono_ns() - t0 < (int64_t)120 * 1000000000) {
        usleep(1000);
    }
    int64_t t1 = sl_clock_mono_ns();
    uint64_t got = atomic_load(&out->m.events_in);
    sl_pipeline_stop(p);
    sl_pipeline_wait(p, -1);
    double s = (double)(t1 - t0) / 1e9;
    printf("# tcp(json) -> null, %d connections, %d workers, %zu events of %.0f bytes\n", conns,
           workers, total, (double)bytes / (double)payload_lines);
    printf("bench=pipeline_tcp_null connections=%d workers=%d events=%llu seconds=%.3f "
           "events_per_s=%.0f mb_per_s=%.1f ratio_vs_fluentbit_200k=%.2f\n",
           conns, workers, (unsigned long long)got, s, (double)got / s,
           (double)got * ((double)bytes / (double)payload_lines) / 1e6 / s,
           (double)got / s / 200000.0);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    sl_buf_fini(&payload);
    return got == total ? 0 : 1;
}
