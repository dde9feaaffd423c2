/*
 * bench_pipeline.c — file (json) -> filter -> null through the real runtime, in process.
 *
 * Writes ~300-byte Zeek-conn-shaped lines to a temp file, then runs the pipeline with
 * --once semantics for 1 and 2 workers (best of 3 each) and prints events/s, MB/s and heap
 * allocations per event (the allocation counter of base/alloc.c).
 *
 *   bench_pipeline [LINES]     (default 2,000,000)
 */
#include "base/alloc.h"
#define BD_WITH_PIPELINE
#include "base/clock.h"
#include "benchdata.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    size_t lines = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    char path[] = "/tmp/sluice-bench-XXXXXX";
    int fd = mkstemp(path);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    size_t total = 0;
    for (size_t done = 0; done < lines; done += 10000) {
        sl_buf_reset(&b);
        total += bd_lines(&b, 10000, 42 + done);
        if (write(fd, b.ptr, b.len) != (ssize_t)b.len)
            return 1;
    }
    close(fd);
    sl_buf_fini(&b);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, path: [\"%s\"], format: json}\n"
             "transforms:\n  f:\n    type: filter\n    inputs: [in]\n"
             "    include: {proto: \"(tcp|udp)$\"}\n    exclude: {\"id.resp_p\": \"53$\"}\n"
             "sinks:\n  out: {type: \"null\", inputs: [f]}\n",
             path);
    printf("# file(json) -> filter -> null, %zu lines, %.1f MB, avg %.0f bytes/line\n", lines,
           (double)total / 1e6, (double)total / (double)lines);
    for (int workers = 1; workers <= 2; workers++) {
        double best = 1e9, allocs = 0;
        uint64_t ev = 0;
        for (int rep = 0; rep < 3; rep++) {
            double a;
            double t = bd_run_yaml(yaml, workers, &ev, &a);
            if (t < best) {
                best = t;
                allocs = a;
            }
        }
        printf("bench=pipeline_file_filter_null workers=%d events=%llu seconds=%.3f "
               "events_per_s=%.0f mb_per_s=%.1f allocs_per_event=%.4f\n",
               workers, (unsigned long long)ev, best, (double)ev / best, (double)total / 1e6 / best,
               allocs);
    }
    unlink(path);
    return 0;
}
