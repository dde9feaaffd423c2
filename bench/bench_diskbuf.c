/*
 * bench_diskbuf.c — the segment log alone (state/diskbuf.h): append throughput with
 * sync: batch (and the fsync rate), recovery time of a large buffer, and read + ack
 * throughput. Records are 64 KiB, about one evbin batch of a thousand small events.
 *   bench_diskbuf [DIR=/tmp/sl-bench-diskbuf] [MIB=1024]
 * Prints:
 *   bench=diskbuf_append mib=M records=R seconds=S mib_per_s=X fsyncs=F fsyncs_per_s=Y
 *   bench=diskbuf_recover mib=M records=R seconds=S   (open(): scan, check, count)
 *   bench=diskbuf_read mib=M records=R seconds=S mib_per_s=X   (read, ack, delete segments)
 * The recovery figure is with the page cache warm (the machine is shared: no cache drops).
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "state/diskbuf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rmrf(const char *d)
{
    DIR *h = opendir(d);
    if (!h)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(h)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(h);
    rmdir(d);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp/sl-bench-diskbuf";
    uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
    rmrf(dir);
    struct sl_diskbuf_opts o = {
        .dir = dir, .name = "bench", .max_size = (mib + 256) << 20, .sync = SL_DISKBUF_SYNC_BATCH};
    struct sl_diskbuf *db;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_diskbuf_open(&o, &db, &d)) {
        fprintf(stderr, "bench=diskbuf ERROR %s\n", d.msg);
        return 1;
    }
    size_t len = 64 << 10;
    char *rec = sl_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        rec[i] = (char)(i * 31 + 7);
    uint64_t n = (mib << 20) / len;
    int64_t t0 = sl_clock_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(rec, &i, sizeof i);
        if (sl_diskbuf_append(db, rec, len, -1) != 0) {
            fprintf(stderr, "bench=diskbuf ERROR append %llu\n", (unsigned long long)i);
            return 1;
        }
    }
    sl_diskbuf_sync(db);
    double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    printf("bench=diskbuf_append mib=%llu records=%llu seconds=%.3f mib_per_s=%.1f fsyncs=%llu "
           "fsyncs_per_s=%.1f\n",
           (unsigned long long)mib, (unsigned long long)n, s, (double)mib / s,
           (unsigned long long)st.fsyncs, (double)st.fsyncs / s);
    sl_diskbuf_close(db);
    t0 = sl_clock_mono_ns();
    if (sl_diskbuf_open(&o, &db, &d)) {
        fprintf(stderr, "bench=diskbuf ERROR reopen %s\n", d.msg);
        return 1;
    }
    s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    sl_diskbuf_stats(db, &st);
    printf("bench=diskbuf_recover mib=%llu records=%llu seconds=%.3f\n", (unsigned long long)mib,
           (unsigned long long)st.records, s);
    t0 = sl_clock_mono_ns();
    void *p;
    size_t got;
    uint64_t t, count = 0;
    while (sl_diskbuf_read(db, &p, &got, &t, 0) == 0) {
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
        count++;
    }
    s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    printf("bench=diskbuf_read mib=%llu records=%llu seconds=%.3f mib_per_s=%.1f\n",
           (unsigned long long)mib, (unsigned long long)count, s, (double)mib / s);
    sl_diskbuf_close(db);
    sl_free(rec);
    rmrf(dir);
    return count == n ? 0 : 1;
}
