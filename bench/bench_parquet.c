/*
 * bench_parquet.c — the Parquet writer against DuckDB's, in the same run, on Zeek-conn-shaped
 * rows (19 columns: a timestamp, IPs as strings, ports, counters, low-cardinality strings).
 *
 *   bench_parquet [ROWS]   (default 5,000,000; SL_BENCH_KEEP=1 keeps the files written,
 *                          SL_BENCH_CODEC=zstd runs one codec)
 *
 * sluice: the rows are parsed from JSON into event batches of 1,024 (not timed) and appended
 * to a writer (timed: sl_pq_append and the final close, i.e. encoding, compression and
 * writing the file), single core, per codec. DuckDB: the same rows are loaded into an
 * in-memory table (not timed), then `COPY t TO ... (FORMAT PARQUET, COMPRESSION c)` with
 * threads=1 (tests/node/bench_duckdb.mjs, the pinned @duckdb/node-api). Output: one line per
 * codec with rows/s, MB/s (of JSON input represented), file sizes, and the ratios
 * time_ratio = sluice_seconds / duckdb_seconds and size_ratio = sluice_bytes / duckdb_bytes.
 */
#include "base/buf.h"
#include "base/clock.h"
#include "benchdata.h"
#include "codec/json.h"
#include "codec/parquet.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema[] =
    "{\"_path\":\"string\",\"ts\":\"timestamp_us\",\"uid\":\"string\",\"id.orig_h\":\"string\","
    "\"id.orig_p\":\"int32\",\"id.resp_h\":\"string\",\"id.resp_p\":\"int32\",\"proto\":\"string\","
    "\"service\":\"string\",\"duration\":\"double\",\"orig_bytes\":\"int64\",\"resp_bytes\":"
    "\"int64\",\"conn_state\":\"string\",\"missed_bytes\":\"int64\",\"history\":\"string\","
    "\"orig_pkts\":\"int64\",\"orig_ip_bytes\":\"int64\",\"resp_pkts\":\"int64\","
    "\"resp_ip_bytes\":\"int64\"}";

static double run_sluice(const struct sl_buf *in, enum sl_pq_codec codec, const char *path,
                         size_t *rows, uint64_t *bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    struct sl_pq_schema *s = NULL;
    if (sl_pq_schema_parse(schema, strlen(schema), &s, NULL))
        abort();
    struct sl_pq_opts o = {.codec = codec};
    struct sl_pq_writer *w = sl_pq_writer_new(s, &o, sl_pq_write_fd, &fd);
    int64_t timed = 0;
    const char *p = in->ptr, *end = in->ptr + in->len;
    size_t n = 0;
    while (p < end) {
        struct sl_batch *b = sl_batch_new();
        while (p < end && b->count < 1024) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (sl_json_parse_event(b, p, (size_t)(nl - p), NULL, NULL))
                abort();
            p = nl + 1;
        }
        int64_t t0 = sl_clock_mono_ns();
        int64_t k = sl_pq_append(w, b, NULL, NULL);
        timed += sl_clock_mono_ns() - t0;
        if (k != (int64_t)b->count)
            abort();
        n += b->count;
        sl_batch_unref(b);
    }
    int64_t t0 = sl_clock_mono_ns();
    if (sl_pq_writer_close(w))
        abort();
    timed += sl_clock_mono_ns() - t0;
    *bytes = sl_pq_writer_bytes(w);
    sl_pq_writer_free(w);
    close(fd);
    *rows = n;
    return (double)timed / 1e9;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 5000000;
    sl_core_init();
    char dir[] = "/tmp/sluice-bench-parquet.XXXXXX";
    if (!mkdtemp(dir))
        abort();
    struct sl_buf in;
    sl_buf_init(&in, 0);
    bd_lines(&in, rows, 42);
    char path[512];
    snprintf(path, sizeof(path), "%s/rows.ndjson", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(in.ptr, 1, in.len, f) != in.len)
        abort();
    fclose(f);

    /* DuckDB first (it reads the file), via the pinned node package */
    const char *src = getenv("SL_SRC");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "bash %s/scripts/node-deps.sh && node %s/tests/node/bench_duckdb.mjs %s %s",
             src ? src : ".", src ? src : ".", path, dir);
    double dsec[3] = {0, 0, 0};
    unsigned long long dbytes[3] = {0, 0, 0};
    FILE *pp = popen(cmd, "r");
    char line[512];
    while (pp && fgets(line, sizeof(line), pp)) {
        char codec[32];
        double sec;
        unsigned long long b;
        if (sscanf(line, "codec=%31s seconds=%lf bytes=%llu", codec, &sec, &b) != 3)
            continue;
        int k = !strcmp(codec, "uncompressed") ? 0 : !strcmp(codec, "snappy") ? 1 : 2;
        dsec[k] = sec;
        dbytes[k] = b;
    }
    if (!pp || pclose(pp) != 0)
        fprintf(stderr, "bench_parquet: DuckDB side failed (no ratios)\n");

    static const enum sl_pq_codec codecs[] = {SL_PQ_CODEC_UNCOMPRESSED, SL_PQ_CODEC_SNAPPY,
                                              SL_PQ_CODEC_ZSTD};
    const char *only = getenv("SL_BENCH_CODEC"); /* one codec only (profiling) */
    for (int k = 0; k < 3; k++) {
        if (only && strcmp(only, sl_pq_codec_name(codecs[k])))
            continue;
        snprintf(path, sizeof(path), "%s/sluice-%s.parquet", dir, sl_pq_codec_name(codecs[k]));
        size_t n = 0;
        uint64_t bytes = 0;
        double best = 1e30;
        for (int rep = 0; rep < 2; rep++) {
            double t = run_sluice(&in, codecs[k], path, &n, &bytes);
            if (t < best)
                best = t;
        }
        printf("bench=parquet codec=%s rows=%zu seconds=%.3f rows_per_s=%.0f mb_per_s=%.1f "
               "bytes=%llu duckdb_seconds=%.3f duckdb_bytes=%llu time_ratio=%.3f "
               "size_ratio=%.3f\n",
               sl_pq_codec_name(codecs[k]), n, best, (double)n / best, (double)in.len / best / 1e6,
               (unsigned long long)bytes, dsec[k], dbytes[k], dsec[k] > 0 ? best / dsec[k] : 0.0,
               dbytes[k] ? (double)bytes / (double)dbytes[k] : 0.0);
        fflush(stdout);
    }
    if (getenv("SL_BENCH_KEEP")) { /* keep the files to compare metadata and sizes */
        fprintf(stderr, "bench_parquet: files kept in %s\n", dir);
    } else {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
    }
    sl_buf_fini(&in);
    return 0;
}
