/*
 * bench_json.c — JSON parse into events (sluice) against jansson, in the same run, on
 * generator-shaped ~370-byte Zeek conn lines; and the writer.
 *
 *   bench_json [LINES]    (default 200,000 lines, ~75 MB; best of 7 runs each)
 */
#include "base/buf.h"
#include "base/clock.h"
#include "benchdata.h"
#include "codec/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SL_HAVE_JANSSON
#include <jansson.h>
#endif

static double best_of(double (*fn)(const struct sl_buf *, size_t *), const struct sl_buf *in,
                      size_t *n)
{
    double best = 1e9;
    for (int i = 0; i < 7; i++) {
        double t = fn(in, n);
        if (t < best)
            best = t;
    }
    return best;
}

static double run_sluice(const struct sl_buf *in, size_t *events)
{
    int64_t t0 = sl_clock_mono_ns();
    const char *p = in->ptr, *end = in->ptr + in->len;
    struct sl_batch *b = sl_batch_new();
    size_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (sl_json_parse_event(b, p, (size_t)(nl - p), NULL, NULL))
            abort();
        n++;
        if (b->count == SL_BATCH_EVENTS) {
            sl_batch_unref(b);
            b = sl_batch_new();
        }
        p = nl + 1;
    }
    sl_batch_unref(b);
    *events = n;
    return (double)(sl_clock_mono_ns() - t0) / 1e9;
}

#ifdef SL_HAVE_JANSSON
static double run_jansson(const struct sl_buf *in, size_t *events)
{
    int64_t t0 = sl_clock_mono_ns();
    const char *p = in->ptr, *end = in->ptr + in->len;
    size_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
        if (!j)
            abort();
        json_decref(j);
        n++;
        p = nl + 1;
    }
    *events = n;
    return (double)(sl_clock_mono_ns() - t0) / 1e9;
}
#endif

int main(int argc, char **argv)
{
    size_t lines = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    sl_core_init();
    struct sl_buf in;
    sl_buf_init(&in, 0);
    bd_lines(&in, lines, 1);
    double mb = (double)in.len / 1e6;
    printf("# JSON parse, %zu lines, %.1f MB, avg %.0f bytes/line, best of 7\n", lines, mb,
           (double)in.len / (double)lines);
    size_t n = 0;
    double ts = best_of(run_sluice, &in, &n);
    printf("bench=json_parse impl=sluice events=%zu mb_per_s=%.1f events_per_s=%.0f\n", n, mb / ts,
           (double)n / ts);
#ifdef SL_HAVE_JANSSON
    double tj = best_of(run_jansson, &in, &n);
    printf("bench=json_parse impl=jansson events=%zu mb_per_s=%.1f events_per_s=%.0f\n", n, mb / tj,
           (double)n / tj);
    printf("bench=json_parse ratio_sluice_over_jansson=%.1f\n", tj / ts);
#endif
    /* writer: parse once, write every event back */
    struct sl_batch *b = sl_batch_new();
    const char *p = in.ptr, *end = in.ptr + in.len;
    size_t kept = 0;
    while (p < end && kept < SL_BATCH_EVENTS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        sl_json_parse_event(b, p, (size_t)(nl - p), NULL, NULL);
        kept++;
        p = nl + 1;
    }
    struct sl_buf out;
    sl_buf_init(&out, 0);
    double best = 1e9;
    size_t bytes = 0;
    for (int rep = 0; rep < 7; rep++) {
        int64_t t0 = sl_clock_mono_ns();
        bytes = 0;
        for (int k = 0; k < 200; k++) {
            sl_buf_reset(&out);
            for (uint32_t i = 0; i < b->count; i++) {
                sl_json_write_event(&out, &b->events[i]);
                sl_buf_putc(&out, '\n');
            }
            bytes += out.len;
        }
        double t = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (t < best)
            best = t;
    }
    printf("bench=json_write impl=sluice events=%u mb_per_s=%.1f events_per_s=%.0f\n",
           b->count * 200, (double)bytes / 1e6 / best, (double)b->count * 200 / best);
    sl_buf_fini(&out);
    sl_batch_unref(b);
    sl_buf_fini(&in);
    return 0;
}
