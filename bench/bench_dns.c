/*
 * bench_dns.c — the `dns` transform with a warm cache: file (json) -> dns -> null, against
 * file -> null in the same run (the ratio is what to read: these machines are noisy).
 *
 * Starts Debian's dnsmasq on a loopback port with PTR records for a pool of addresses
 * (skips when /usr/sbin/dnsmasq is absent), writes EVENTS events whose origIp/respIp come
 * from that pool, and runs the pipeline with --once semantics, best of 3. The pool is looked
 * up once (the first batches wait for it); every later event is served by the cache.
 *
 *   bench_dns [EVENTS] [POOL]     (default 1,000,000 events, 1,000 addresses)
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double run_once(const char *yaml, uint64_t *events)
{
    struct sl_config *cfg;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "bench.yaml", &cfg, &d)) {
        fprintf(stderr, "config: %s\n", d.msg);
        exit(1);
    }
    struct sl_pipeline_opts o = {.workers = 1, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p) {
        fprintf(stderr, "pipeline: %s\n", d.msg);
        exit(1);
    }
    int64_t t0 = sl_clock_mono_ns();
    sl_pipeline_start(p);
    sl_pipeline_wait(p, -1);
    int64_t t1 = sl_clock_mono_ns();
    struct sl_component *out = sl_pipeline_find(p, "out");
    if (!out)
        abort();
    *events = atomic_load(&out->m.events_in);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    return (double)(t1 - t0) / 1e9;
}

int main(int argc, char **argv)
{
    size_t events = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    unsigned pool = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
    if (access("/usr/sbin/dnsmasq", X_OK) != 0) {
        printf("# bench_dns: skipped, no /usr/sbin/dnsmasq\n");
        return 0;
    }
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    char dir[] = "/tmp/sluice-bench-dns-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char hosts[256], in[256], yaml[2048];
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    snprintf(in, sizeof in, "%s/in.json", dir);
    FILE *f = fopen(hosts, "w");
    for (unsigned i = 0; i < pool; i++)
        fprintf(f, "10.%u.%u.%u host-%u.bench.test\n", (i >> 16) & 255, (i >> 8) & 255, i & 255, i);
    fclose(f);
    f = fopen(in, "w");
    for (size_t i = 0; i < events; i++) {
        unsigned a = (unsigned)(i * 7919u) % pool, b = (unsigned)(i * 104729u + 13) % pool;
        fprintf(f,
                "{\"ts\":%zu,\"proto\":\"tcp\",\"origIp\":\"10.%u.%u.%u\",\"origPort\":%zu,"
                "\"respIp\":\"10.%u.%u.%u\",\"respPort\":443}\n",
                i, (a >> 16) & 255, (a >> 8) & 255, a & 255, 1024 + i % 60000, (b >> 16) & 255,
                (b >> 8) & 255, b & 255);
    }
    fclose(f);
    int port = 20000 + (int)(getpid() % 20000);
    char portarg[32], hostsarg[300];
    snprintf(portarg, sizeof portarg, "--port=%d", port);
    snprintf(hostsarg, sizeof hostsarg, "--addn-hosts=%s", hosts);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/sbin/dnsmasq", "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", hostsarg,
              portarg, "--listen-address=127.0.0.1", "--bind-interfaces", "--bogus-priv",
              "--pid-file=", "--log-facility=/dev/null", (char *)NULL);
        _exit(127);
    }
    usleep(300000);
    printf("# file(json) -> dns -> null vs file(json) -> null, %zu events, %u addresses, 1 "
           "worker\n",
           events, pool);
    double best[2] = {1e9, 1e9};
    uint64_t ev = 0;
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            snprintf(yaml, sizeof yaml,
                     "sources:\n  in: {type: file, path: [\"%s\"]}\n"
                     "sinks:\n  out: {type: \"null\", inputs: [in]}\n",
                     in);
        else
            snprintf(yaml, sizeof yaml,
                     "sources:\n  in: {type: file, path: [\"%s\"]}\n"
                     "transforms:\n  names:\n    type: dns\n    inputs: [in]\n"
                     "    server: 127.0.0.1:%d\n    parallelism: 50\n"
                     "sinks:\n  out: {type: \"null\", inputs: [names]}\n",
                     in, port);
        for (int rep = 0; rep < 3; rep++) {
            double t = run_once(yaml, &ev);
            if (t < best[k])
                best[k] = t;
        }
    }
    printf("bench=dns_baseline_file_null events=%llu seconds=%.3f events_per_s=%.0f\n",
           (unsigned long long)ev, best[0], (double)ev / best[0]);
    printf("bench=dns_warm events=%llu addresses=%u seconds=%.3f events_per_s=%.0f "
           "ratio_to_baseline=%.2f\n",
           (unsigned long long)ev, pool, best[1], (double)ev / best[1], best[0] / best[1]);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(hosts);
    unlink(in);
    rmdir(dir);
    return 0;
}
