/*
 * bench_profiles.c — the `profiler` transform through the real runtime, and the profile store.
 *
 *   bench_profiles [EVENTS]      (default 2,000,000)
 *
 * Prints `bench=... key=value` lines:
 *   - profiler_hello: file (json, event time) -> profiler (hello-world count by ip, 4,096
 *     entities) -> null, 1 and 2 workers, best of 3: events/s;
 *   - profiler_four: generator (processing time) -> profiler with four profiles (count,
 *     STATS_ADD, HLLP distinct, a ratio) -> null: events/s;
 *   - profiler_entities: 1,000,000 distinct entities of a counter profile in one period, in a
 *     child process: its peak RSS (target: under 512 MB) and RSS per entity;
 *   - store_put: 1,000,000 measurements through sl_store_put in transactions of 10,000 into
 *     SQLite, then sl_store_sync: measurements/s.
 */
#define BD_WITH_PIPELINE
#include "base/alloc.h"
#include "benchdata.h"
#include "base/clock.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* n JSON lines {timestamp, ip_src_addr, bytes}: `entities` distinct addresses, 1 ms apart */
static void write_events(const char *path, size_t n, uint32_t entities)
{
    FILE *f = fopen(path, "w");
    if (!f)
        exit(1);
    int64_t ts = 1530978000000;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t e = entities >= n ? (uint32_t)i : (uint32_t)(x % entities);
        fprintf(f, "{\"timestamp\":%lld,\"ip_src_addr\":\"10.%u.%u.%u\",\"bytes\":%u}\n",
                (long long)(ts + (int64_t)i), e >> 16 & 255, e >> 8 & 255, e & 255,
                (unsigned)(x % 1500));
    }
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0)
        exit(1);
    fclose(f);
}

static const char HELLO[] =
    "{\"timestampField\": \"timestamp\", \"profiles\": [{\"profile\": \"hello-world\", "
    "\"foreach\": \"ip_src_addr\", \"init\": {\"count\": \"0\"}, "
    "\"update\": {\"count\": \"count + 1\"}, \"result\": \"count\"}]}";

static const char FOUR[] =
    "{\"profiles\": ["
    "{\"profile\": \"count\", \"foreach\": \"id.orig_h\", \"init\": {\"n\": \"0\"},"
    " \"update\": {\"n\": \"n + 1\"}, \"result\": \"n\"},"
    "{\"profile\": \"bytes\", \"foreach\": \"id.orig_h\", \"onlyif\": \"exists(orig_bytes)\","
    " \"init\": {\"s\": \"STATS_INIT()\"}, \"update\": {\"s\": \"STATS_ADD(s, orig_bytes)\"},"
    " \"result\": \"s\"},"
    "{\"profile\": \"peers\", \"foreach\": \"id.orig_h\", \"init\": {\"h\": \"HLLP_INIT(14, 25)\"},"
    " \"update\": {\"h\": \"HLLP_ADD(h, id.resp_h)\"}, \"result\": \"HLLP_CARDINALITY(h)\"},"
    "{\"profile\": \"ratio\", \"foreach\": \"id.orig_h\","
    " \"init\": {\"i\": \"0.0\", \"o\": \"0.0\"},"
    " \"update\": {\"i\": \"if exists(resp_bytes) then i + resp_bytes else i\","
    " \"o\": \"if exists(orig_bytes) then o + orig_bytes else o\"},"
    " \"result\": \"if o > 0 then i / o else 0.0\"}]}";

static void bench_hello(const char *dir, size_t n)
{
    char data[512], prof[512], yaml[2048];
    snprintf(data, sizeof data, "%s/events.json", dir);
    snprintf(prof, sizeof prof, "%s/hello.json", dir);
    write_events(data, n, 4096);
    write_file(prof, HELLO);
    snprintf(yaml, sizeof yaml,
             "sources:\n  in: {type: file, path: [\"%s\"]}\n"
             "transforms:\n  prof: {type: profiler, inputs: [in], profiles_file: \"%s\","
             " period: 15m, lag: 1m}\n"
             "sinks:\n  out: {type: \"null\", inputs: [prof]}\n",
             data, prof);
    for (int workers = 1; workers <= 2; workers++) {
        double best = 1e9;
        uint64_t ev = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t = bd_run_yaml(yaml, workers, &ev, NULL);
            if (t < best)
                best = t;
        }
        printf("bench=profiler_hello workers=%d events=%llu entities=4096 seconds=%.3f "
               "events_per_s=%.0f target=%s\n",
               workers, (unsigned long long)ev, best, (double)ev / best,
               workers == 1 ? ((double)ev / best >= 1e6 ? "met" : "MISSED") : "-");
    }
    unlink(data);
    unlink(prof);
}

static void bench_four(const char *dir, size_t n)
{
    char prof[512], yaml[2048];
    snprintf(prof, sizeof prof, "%s/four.json", dir);
    write_file(prof, FOUR);
    snprintf(yaml, sizeof yaml,
             "sources:\n  in: {type: generator, count: %zu, seed: 3}\n"
             "transforms:\n  prof: {type: profiler, inputs: [in], profiles_file: \"%s\","
             " period: 15m}\n"
             "sinks:\n  out: {type: \"null\", inputs: [prof]}\n",
             n, prof);
    for (int workers = 1; workers <= 2; workers++) {
        double best = 1e9;
        uint64_t ev = 0;
        for (int rep = 0; rep < 2; rep++) {
            double t = bd_run_yaml(yaml, workers, &ev, NULL);
            if (t < best)
                best = t;
        }
        printf("bench=profiler_four workers=%d events=%llu profiles=4 seconds=%.3f "
               "events_per_s=%.0f\n",
               workers, (unsigned long long)ev, best, (double)ev / best);
    }
    unlink(prof);
}

/* In a child, so its peak RSS is its own. */
static void bench_entities(const char *dir)
{
    const size_t n = 1000000;
    char data[512], prof[512], yaml[2048];
    snprintf(data, sizeof data, "%s/entities.json", dir);
    snprintf(prof, sizeof prof, "%s/hello.json", dir);
    write_events(data, n, (uint32_t)n); /* every event a new entity */
    write_file(prof, HELLO);
    snprintf(yaml, sizeof yaml,
             "sources:\n  in: {type: file, path: [\"%s\"]}\n"
             "transforms:\n  prof: {type: profiler, inputs: [in], profiles_file: \"%s\","
             " period: 1h, lag: 1h}\n"
             "sinks:\n  out: {type: \"null\", inputs: [prof]}\n",
             data, prof);
    fflush(stdout);
    struct rusage base;
    getrusage(RUSAGE_SELF, &base);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t ev;
        double t = bd_run_yaml(yaml, 1, &ev, NULL);
        printf("bench=profiler_entities entities=%zu events=%llu seconds=%.3f ", n,
               (unsigned long long)ev, t);
        fflush(stdout);
        _exit(0);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) == pid) {
        double mb = (double)ru.ru_maxrss / 1024.0;
        printf("peak_rss_mb=%.1f rss_bytes_per_entity=%.0f target=%s\n", mb,
               (double)(ru.ru_maxrss - base.ru_maxrss) * 1024.0 / (double)n,
               mb < 512 ? "met" : "MISSED");
    }
    unlink(data);
    unlink(prof);
}

static void bench_store(const char *dir)
{
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/bench.db", dir);
    struct sl_store *s;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_store_open(url, &s, &d)) {
        printf("bench=store_put skipped=\"%s\"\n", d.msg);
        return;
    }
    const size_t n = 1000000, per = 10000;
    struct sl_measurement *m = sl_xcalloc(per, sizeof *m);
    char *ents = sl_xcalloc(per, 16);
    int64_t t0 = sl_clock_mono_ns();
    for (size_t done = 0; done < n; done += per) {
        for (size_t i = 0; i < per; i++) {
            char *e = ents + i * 16;
            int len = snprintf(e, 16, "10.%zu.%zu.%zu", (done + i) >> 16 & 255,
                               (done + i) >> 8 & 255, (done + i) & 255);
            m[i] = (struct sl_measurement){
                .profile = SL_STR("hello-world"),
                .entity = sl_str_make(e, (size_t)len),
                .groups = SL_STR("[]"),
                .period = 1701087,
                .duration_ms = 900000,
                .start_ms = 1701087LL * 900000,
                .end_ms = 1701088LL * 900000,
                .value = sl_value_int((int64_t)i),
            };
        }
        if (sl_store_put(s, m, per))
            break;
    }
    int rc = sl_store_sync(s);
    double t = (double)(sl_clock_mono_ns() - t0) / 1e9;
    printf("bench=store_put measurements=%zu per_transaction=%zu seconds=%.3f "
           "measurements_per_s=%.0f rc=%d\n",
           n, per, t, (double)n / t, rc);
    sl_store_close(s);
    sl_free(m);
    sl_free(ents);
    char path[600];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bench.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bench.db-shm", dir);
    unlink(path);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    char dir[] = "/tmp/sluice-bench-profiles-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    bench_hello(dir, n);
    bench_four(dir, n / 2);
    bench_entities(dir);
    bench_store(dir);
    rmdir(dir);
    return 0;
}
