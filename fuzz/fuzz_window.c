/*
 * fuzz_window.c — libFuzzer target for the PROFILE_WINDOW selector parser (state/window.c).
 *
 * The input is a selector. A parse error must say what and where (a column inside the input
 * or just past it); what parses must turn into intervals for a few "now" values, including
 * the extremes, without overflowing: intervals come in increasing order, each with
 * start <= end, all inside the overall range, and never more than SL_WINDOW_MAX_INTERVALS.
 */
#include "base/alloc.h"
#include "state/window.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    struct sl_window *w = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_window_parse((const char *)data, size, &w, &d);
    if (rc) {
        if (w || d.col == 0 || d.col > size + 1 || !d.msg[0])
            abort(); /* every error says where and what, and nothing is returned */
        return 0;
    }
    static const int64_t nows[] = {1530978728982LL, 0, INT64_MAX, INT64_MIN, 86400000LL * 3};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        int64_t start, end;
        struct sl_window_interval *iv = NULL;
        size_t n = 0;
        rc = sl_window_intervals(w, nows[k], &start, &end, &iv, &n);
        if (rc) {
            if (iv || n)
                abort();
            continue;
        }
        if (n > SL_WINDOW_MAX_INTERVALS)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (iv[i].start_ms > iv[i].end_ms || iv[i].start_ms < start || iv[i].end_ms > end)
                abort();
            if (i && iv[i].start_ms <= iv[i - 1].start_ms)
                abort();
        }
        sl_free(iv);
    }
    sl_window_free(w);
    return 0;
}
