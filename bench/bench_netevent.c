/*
 * bench_netevent.c — network-event FlatBuffers: verify+decode into events, single core, on
 * conn-shaped (GENERAL) and http-shaped (HTTP) messages made by the encoder; and the encoder.
 * The decode rows are what the zmq source pays per event (target >= 3,000,000 events/s).
 *
 *   bench_netevent [EVENTS]    (default 1,000,000 decodes; best of 5 runs each)
 */
#include "base/buf.h"
#include "base/clock.h"
#include "codec/netevent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_s(struct sl_batch *b, struct sl_event *ev, const char *k, const char *v)
{
    sl_event_set(b, ev, sl_sym_intern_c(k), sl_value_str(v, strlen(v)));
}
static void set_i(struct sl_batch *b, struct sl_event *ev, const char *k, int64_t v)
{
    sl_event_set(b, ev, sl_sym_intern_c(k), sl_value_int(v));
}

static struct sl_event *make(struct sl_batch *b, int http)
{
    struct sl_event *ev = sl_batch_push(b);
    set_s(b, ev, "type", http ? "HTTP" : "GENERAL");
    sl_event_set(b, ev, sl_sym_intern_c("ts"), sl_value_ts(1521911721255387000LL));
    set_s(b, ev, "uid", "C8Tful1TvM3Zf5x8fl");
    set_s(b, ev, "collectorId", "collector-01");
    set_s(b, ev, "origIp", "10.164.94.120");
    set_i(b, ev, "origPort", 39681);
    set_s(b, ev, "respIp", "10.47.3.155");
    set_i(b, ev, "respPort", 3389);
    set_s(b, ev, "proto", "tcp");
    if (http) {
        set_i(b, ev, "transDepth", 1);
        set_s(b, ev, "method", "GET");
        set_s(b, ev, "host", "www.example.com");
        set_s(b, ev, "uri", "/index.html?q=1");
        set_s(b, ev, "version", "1.1");
        set_s(b, ev, "userAgent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)");
        set_i(b, ev, "requestBodyLen", 0);
        set_i(b, ev, "responseBodyLen", 209);
        set_i(b, ev, "statusCode", 200);
        set_s(b, ev, "statusMsg", "OK");
    } else {
        set_s(b, ev, "service", "rdp");
        sl_event_set(b, ev, sl_sym_intern_c("duration"), sl_value_double(0.004266));
        set_i(b, ev, "origBytes", 97);
        set_i(b, ev, "respBytes", 19);
        set_s(b, ev, "connState", "RSTR");
        set_i(b, ev, "missedBytes", 0);
        set_s(b, ev, "history", "ShADTdtr");
        set_i(b, ev, "origPkts", 10);
        set_i(b, ev, "origIpBytes", 730);
        set_i(b, ev, "respPkts", 6);
        set_i(b, ev, "respIpBytes", 342);
    }
    return ev;
}

static double run_decode(const struct sl_buf *msg, size_t n)
{
    struct sl_batch *b = sl_batch_new();
    int64_t t0 = sl_clock_mono_ns();
    for (size_t i = 0; i < n; i++) {
        if (sl_netevent_decode((const uint8_t *)msg->ptr, msg->len, b, NULL))
            abort();
        if (b->count == SL_BATCH_EVENTS) { /* as a source does: a new batch per thousand */
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    sl_batch_unref(b);
    return s;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    sl_core_init();
    for (int http = 0; http < 2; http++) {
        struct sl_batch *b = sl_batch_new();
        struct sl_event *ev = make(b, http);
        struct sl_buf msg;
        sl_buf_init(&msg, 0);
        if (sl_netevent_encode(ev, false, &msg, NULL))
            abort();
        double best = 1e9;
        for (int r = 0; r < 5; r++) {
            double t = run_decode(&msg, n);
            if (t < best)
                best = t;
        }
        printf("bench=netevent_decode type=%s bytes=%zu fields=%u events=%zu events_per_s=%.0f "
               "mb_per_s=%.1f\n",
               http ? "HTTP" : "GENERAL", msg.len, ev->count, n, n / best,
               (double)msg.len * n / best / 1e6);
        struct sl_buf out;
        sl_buf_init(&out, 0);
        int64_t t0 = sl_clock_mono_ns();
        size_t ne = n / 4;
        for (size_t i = 0; i < ne; i++) {
            sl_buf_reset(&out);
            if (sl_netevent_encode(ev, false, &out, NULL))
                abort();
        }
        double te = (double)(sl_clock_mono_ns() - t0) / 1e9;
        printf("bench=netevent_encode type=%s events=%zu events_per_s=%.0f\n",
               http ? "HTTP" : "GENERAL", ne, ne / te);
        sl_buf_fini(&out);
        sl_buf_fini(&msg);
        sl_batch_unref(b);
    }
    return 0;
}
