/*
 * bench_zeek.c — the Zeek log reader (codec/zeek.h), single core: conn.log lines as Zeek
 * writes them, TSV and JSON, parsed and typed onto the network-event schema (GENERAL); and,
 * in the same run, the plain JSON parser (codec/json.h) on the same JSON lines, for the cost
 * of the renaming and typing on top of parsing.
 *
 *   bench_zeek [LINES]    (default 1,000,000; best of 5 runs each)
 */
#include "base/buf.h"
#include "base/clock.h"
#include "codec/json.h"
#include "codec/zeek.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char header[] =
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration"
    "\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory"
    "\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring"
    "\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

static const char *const states[] = {"SF", "S0", "REJ", "RSTO", "OTH"};
static const char *const services[] = {"-", "dns", "http", "ssl", "ssh"};

static void make(struct sl_buf *tsv, struct sl_buf *json, size_t n)
{
    sl_buf_append(tsv, header, strlen(header));
    for (size_t i = 0; i < n; i++) {
        double ts = 1521911721.255387 + (double)i * 0.001;
        unsigned a = (unsigned)(i * 2654435761u);
        sl_buf_appendf(tsv,
                       "%.6f\tC%08zx\t10.%u.%u.%u\t%u\t192.168.%u.%u\t%u\ttcp\t%s\t%.6f\t%u\t%u"
                       "\t%s\tT\tF\t0\tShADadFf\t%u\t%u\t%u\t%u\t(empty)\n",
                       ts, i, a >> 24, (a >> 16) & 255, (a >> 8) & 255, 1024 + a % 60000,
                       (a >> 4) & 255, a & 255, (unsigned[]){53, 80, 443, 22}[i % 4],
                       services[i % 5], (double)(a % 100000) / 1e4, a % 5000, a % 70000,
                       states[i % 5], a % 40, a % 9000, a % 30, a % 80000);
        sl_buf_appendf(json,
                       "{\"ts\":%.6f,\"uid\":\"C%08zx\",\"id.orig_h\":\"10.%u.%u.%u\","
                       "\"id.orig_p\":%u,\"id.resp_h\":\"192.168.%u.%u\",\"id.resp_p\":%u,"
                       "\"proto\":\"tcp\",\"service\":\"%s\",\"duration\":%.6f,"
                       "\"orig_bytes\":%u,\"resp_bytes\":%u,\"conn_state\":\"%s\","
                       "\"local_orig\":true,\"local_resp\":false,\"missed_bytes\":0,"
                       "\"history\":\"ShADadFf\",\"orig_pkts\":%u,\"orig_ip_bytes\":%u,"
                       "\"resp_pkts\":%u,\"resp_ip_bytes\":%u,\"tunnel_parents\":[]}\n",
                       ts, i, a >> 24, (a >> 16) & 255, (a >> 8) & 255, 1024 + a % 60000,
                       (a >> 4) & 255, a & 255, (unsigned[]){53, 80, 443, 22}[i % 4],
                       services[i % 5], (double)(a % 100000) / 1e4, a % 5000, a % 70000,
                       states[i % 5], a % 40, a % 9000, a % 30, a % 80000);
    }
}

/* Seconds to parse every line of text; mode 0: Zeek reader, 1: plain JSON parser. */
static double run(const struct sl_buf *text, int mode, size_t *events)
{
    struct sl_zeek *z = sl_zeek_new("conn.log");
    struct sl_batch *b = sl_batch_new();
    size_t count = 0;
    int64_t t0 = sl_clock_mono_ns();
    const char *p = text->ptr, *end = text->ptr + text->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        struct sl_diag d;
        d.offset = -1;
        d.msg[0] = 0;
        int rc =
            mode == 0 ? sl_zeek_parse_line(z, b, p, n, &d) : sl_json_parse_event(b, p, n, NULL, &d);
        if (rc) {
            fprintf(stderr, "bench_zeek: %s\n", d.msg);
            abort();
        }
        p = nl + 1;
        if (b->count == SL_BATCH_EVENTS) { /* as a source does: a new batch per thousand */
            count += b->count;
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    double s = (double)(sl_clock_mono_ns() - t0) / 1e9;
    count += b->count;
    sl_batch_unref(b);
    sl_zeek_free(z);
    *events = count;
    return s;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    sl_core_init();
    struct sl_buf tsv, json;
    sl_buf_init(&tsv, 0);
    sl_buf_init(&json, 0);
    make(&tsv, &json, n);
    static const char *const names[] = {"zeek_tsv", "zeek_json", "plain_json"};
    const struct sl_buf *texts[] = {&tsv, &json, &json};
    double rate[3];
    for (int k = 0; k < 3; k++) {
        double best = 1e9;
        size_t events = 0;
        for (int r = 0; r < 5; r++) {
            double t = run(texts[k], k == 2, &events);
            if (t < best)
                best = t;
        }
        if (events != n)
            abort();
        rate[k] = (double)n / best;
        printf("bench=zeek case=%s events=%zu bytes_per_line=%.0f events_per_s=%.0f "
               "mb_per_s=%.1f\n",
               names[k], n, (double)texts[k]->len / (double)n, rate[k],
               (double)texts[k]->len / best / 1e6);
    }
    printf("bench=zeek typing_cost_json=%.2f tsv_vs_plain_json=%.2f\n", rate[2] / rate[1],
           rate[0] / rate[2]);
    sl_buf_fini(&tsv);
    sl_buf_fini(&json);
    return 0;
}
