/*
 * bench_partout_store.c — the Partout master's store: how fast accepted aggregates are
 * committed (the writer's rate) and what a put costs the accepting thread.
 *
 *   bench_partout_store [URL [AGENTS [ROUNDS]]]
 *     URL: a SQLite path (default: a new file) or postgres://... (bench/bench_store_postgres.sh
 *     runs both in one go); AGENTS (10,000) each post ROUNDS (5) aggregates of 12 leaves.
 *
 * Prints `bench=partout_store store=... aggregates=... leaves=... put_us=... commit_per_s=...`:
 * put_us is the mean cost of sl_partout_store_put on the caller, commit_per_s the leaves per
 * second from the first put to the end of the final flush (commit + roll-up).
 */
#include "base/clock.h"
#include "state/partout_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char dir[] = "/tmp/sluice-bench-pstore-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/partout.db", dir);
    const char *url = argc > 1 ? argv[1] : path;
    size_t agents = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    size_t rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 5;
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_partout_store *s = NULL;
    if (sl_partout_store_open(url, NULL, &s, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    static const char *const mods[] = {"fs", "net", "proc"};
    static const char *const objs[] = {"/etc/passwd", "eth0", "sshd", "/var/log"};
    struct sl_partout_leaf leaves[12];
    for (int i = 0; i < 12; i++)
        leaves[i] = (struct sl_partout_leaf){sl_str_c(mods[i % 3]),
                                             sl_str_c(objs[i % 4]),
                                             sl_str_c(i % 2 ? "changed" : "removed"),
                                             sl_str_c(i % 5 ? "info" : "error"),
                                             (uint64_t)i + 1,
                                             4};
    char uuid[64];
    struct sl_partout_body pb = {.leaves = leaves, .nleaves = 12, .period_secs = 60, .total = 78};
    pb.hostname = sl_str_c("host");
    int64_t put_ns = 0, t0 = sl_clock_mono_ns();
    for (size_t r = 0; r < rounds; r++)
        for (size_t a = 0; a < agents; a++) {
            snprintf(uuid, sizeof uuid, "agent-%06zu", a);
            pb.uuid = sl_str_c(uuid);
            int64_t p0 = sl_clock_mono_ns();
            if (sl_partout_store_put(s, &pb, 60, 4, 60))
                return 1;
            put_ns += sl_clock_mono_ns() - p0;
        }
    if (sl_partout_store_flush(s))
        return 1;
    double secs = (double)(sl_clock_mono_ns() - t0) / 1e9;
    uint64_t count = 0, rows = 0;
    sl_partout_store_total(s, SL_PARTOUT_RAW, &count, &rows);
    size_t n = agents * rounds;
    printf("bench=partout_store store=%s aggregates=%zu leaves=%llu put_us=%.2f "
           "commit_per_s=%.0f aggregates_per_s=%.0f\n",
           strncmp(url, "postgres", 8) ? "sqlite" : "postgres", n, (unsigned long long)rows,
           (double)put_ns / 1e3 / (double)n, (double)rows / secs, (double)n / secs);
    sl_partout_store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
