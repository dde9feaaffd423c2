/*
 * bench_parse.c — the parse and aggregate transforms on one core, through their process()
 * as a worker calls it (batches of 1024 events, the `message` field set from a line):
 *   grok %{COMBINEDAPACHELOG} with typed captures, the same line with a hand-written PCRE2
 *   regex of named groups, key=value lines, CSV lines; PCRE2 JIT alone on the expanded
 *   COMBINEDAPACHELOG regex (the floor: matching without building fields);
 *   aggregate count-by-key (10,000 keys, batch mode) and the wordcount (split, lower, count).
 *
 *   bench_parse [LINES]    (default 200,000; best of 5 runs each)
 *   bench_parse --write-apache FILE LINES   (the lines, for a peer run by hand: PERFORMANCE.md)
 *
 * Output: one `bench=... lines_per_s=...` line per case (machine-readable, no asserts).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "codec/grok.h"
#include "core/component.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sl_component_ops sl_xf_parse_ops;
extern const struct sl_component_ops sl_xf_aggregate_ops;
extern const struct sl_component_ops sl_out_null_ops;

static const struct sl_option no_opts[] = {{0}};
static int idle_run(struct sl_component *c)
{
    (void)c;
    return 0;
}
static const struct sl_component_ops idle_ops = {
    .type = "idle",
    .kind = SL_KIND_SOURCE,
    .summary = "nothing",
    .options = no_opts,
    .run = idle_run,
};
static const struct sl_component_ops *const types[] = {
    &idle_ops, &sl_xf_parse_ops, &sl_xf_aggregate_ops, &sl_out_null_ops, NULL};

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* lines separated by \n; returns the count */
static size_t gen(struct sl_buf *b, size_t n, int kind)
{
    static const char *const paths[] = {"/",
                                        "/index.html",
                                        "/login",
                                        "/api/v1/items?id=42",
                                        "/static/app.js",
                                        "/images/logo.png?v=3"};
    static const char *const agents[] = {
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
        "curl/8.1.2", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101"};
    static const char *const words[] = {
        "The", "quick",   "brown",  "Fox",     "jumps",    "over",    "the",  "lazy",    "dog",
        "GNU", "General", "Public", "License", "software", "freedom", "copy", "program", "source"};
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next();
        switch (kind) {
        case 0: /* combined log */
            sl_buf_appendf(b,
                           "10.%u.%u.%u - - [14/Nov/2023:22:%02u:%02u +0000] \"GET %s HTTP/1.1\" "
                           "%u %u \"http://example.com/start\" \"%s\"\n",
                           (unsigned)(r & 255), (unsigned)(r >> 8 & 255), (unsigned)(r >> 16 & 255),
                           (unsigned)(r >> 24 & 63) % 60, (unsigned)(r >> 30 & 63) % 60,
                           paths[(r >> 36) % 6], (unsigned)(200 + 100 * ((r >> 40) % 4)),
                           (unsigned)(r >> 44 & 65535), agents[(r >> 60) % 3]);
            break;
        case 1: /* kv */
            sl_buf_appendf(
                b,
                "date=2023-11-14 time=22:%02u:%02u devname=fw01 srcip=10.0.%u.%u "
                "srcport=%u dstip=192.168.%u.%u dstport=443 action=\"accept\" "
                "service=HTTPS sentbyte=%u rcvdbyte=%u msg=\"allowed by policy\"\n",
                (unsigned)(r & 63) % 60, (unsigned)(r >> 6 & 63) % 60, (unsigned)(r >> 12 & 255),
                (unsigned)(r >> 20 & 255), (unsigned)(r >> 28 & 65535), (unsigned)(r >> 44 & 255),
                (unsigned)(r >> 52 & 255), (unsigned)(r & 65535), (unsigned)(r >> 16 & 65535));
            break;
        case 2: /* csv */
            sl_buf_appendf(b, "2023-11-14 22:%02u:%02u,user%u,10.0.%u.%u,%u,\"GET %s\",%u\n",
                           (unsigned)(r & 63) % 60, (unsigned)(r >> 6 & 63) % 60,
                           (unsigned)(r >> 12 & 1023), (unsigned)(r >> 22 & 255),
                           (unsigned)(r >> 30 & 255), (unsigned)(200 + 100 * ((r >> 40) % 4)),
                           paths[(r >> 44) % 6], (unsigned)(r >> 48 & 65535));
            break;
        case 3: /* words: ~12 per line */
            for (int w = 0; w < 12; w++)
                sl_buf_appendf(b, "%s%s", w ? " " : "", words[next() % 18]);
            sl_buf_putc(b, '\n');
            break;
        default: /* keys for count-by-key */
            sl_buf_appendf(b, "key%u\n", (unsigned)(r % 10000));
            break;
        }
    }
    return n;
}

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *f;
};

static void fx_new(struct fx *fx, const char *type, const char *opts)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  src: {type: idle}\ntransforms:\n  f:\n    type: %s\n"
             "    inputs: [src]\n%ssinks:\n  out: {type: \"null\", inputs: [f]}\n",
             type, opts);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_pipeline_opts o = {.workers = 1};
    if (sl_config_load_string(yaml, strlen(yaml), "b.yaml", &fx->cfg, &d) ||
        !(fx->p = sl_pipeline_new(fx->cfg, &o, &d))) {
        fprintf(stderr, "config: %s\n", d.msg);
        exit(1);
    }
    fx->f = sl_pipeline_find(fx->p, "f");
}

static void fx_free(struct fx *fx)
{
    sl_pipeline_free(fx->p);
    sl_config_free(fx->cfg);
}

/* Run the lines through f->process in batches of 1024; seconds. */
static double run_xf(struct fx *fx, const struct sl_buf *in, size_t *out_events)
{
    sl_sym msg = sl_sym_intern_c("message");
    int64_t t0 = sl_clock_mono_ns();
    const char *p = in->ptr, *end = in->ptr + in->len;
    size_t out = 0;
    while (p < end) {
        struct sl_batch *b = sl_batch_new();
        while (p < end && b->count < SL_BATCH_EVENTS) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            struct sl_event *ev = sl_batch_push(b);
            ev->ts_ns = 1700000000000000000LL;
            sl_event_set(b, ev, msg, sl_value_str(p, (size_t)(nl - p)));
            p = nl + 1;
        }
        struct sl_xf_ctx x = {.worker = 0, .comp = fx->f};
        struct sl_batch *r = fx->f->ops->process(fx->f, b, &x);
        if (r) {
            out += r->count;
            sl_batch_unref(r);
        }
        if (x.errors) {
            fprintf(stderr, "unexpected misses: %u\n", x.errors->count);
            exit(1);
        }
    }
    *out_events = out;
    return (double)(sl_clock_mono_ns() - t0) / 1e9;
}

static void bench_xf(const char *name, const char *type, const char *opts, const struct sl_buf *in,
                     size_t lines)
{
    double best = 1e9;
    size_t out = 0;
    for (int i = 0; i < 5; i++) {
        struct fx fx;
        fx_new(&fx, type, opts);
        double t = run_xf(&fx, in, &out);
        fx_free(&fx);
        if (t < best)
            best = t;
    }
    printf("bench=%s lines=%zu out_events=%zu mb_per_s=%.1f lines_per_s=%.0f\n", name, lines, out,
           (double)in->len / 1e6 / best, (double)lines / best);
}

static void bench_pcre_floor(const struct sl_buf *in, size_t lines)
{
    struct sl_grok_lib *lib = sl_grok_lib_new();
    struct sl_grok g;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *pat = "%{COMBINEDAPACHELOG}";
    if (sl_grok_compile(lib, pat, strlen(pat), &g, &d))
        exit(1);
    int err;
    PCRE2_SIZE off;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)g.regex, g.regex_len,
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DUPNAMES, &err, &off, NULL);
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_jit_stack *js = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    pcre2_jit_stack_assign(mc, NULL, js);
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = sl_clock_mono_ns();
        const char *p = in->ptr, *end = in->ptr + in->len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (pcre2_jit_match(c, (PCRE2_SPTR)p, (size_t)(nl - p), 0, 0, md, mc) < 0)
                exit(1);
            p = nl + 1;
        }
        double t = (double)(sl_clock_mono_ns() - t0) / 1e9;
        if (t < best)
            best = t;
    }
    printf("bench=pcre2_jit_combinedapachelog_match_only lines=%zu lines_per_s=%.0f\n", lines,
           (double)lines / best);
    pcre2_jit_stack_free(js);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    sl_grok_fini(&g);
    sl_grok_lib_free(lib);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write-apache") == 0) {
        /* the access-log lines of the benchmark, for a peer run by hand (docs/PERFORMANCE.md) */
        struct sl_buf b;
        sl_buf_init(&b, 0);
        gen(&b, (size_t)strtoul(argv[3], NULL, 10), 0);
        FILE *f = fopen(argv[2], "w");
        if (!f || fwrite(b.ptr, 1, b.len, f) != b.len || fclose(f))
            return 1;
        sl_buf_fini(&b);
        return 0;
    }
    size_t lines = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200000;
    sl_core_init();
    sl_registry_set(types);
    struct sl_buf apache, kv, csv, words, keys;
    sl_buf_init(&apache, 0);
    sl_buf_init(&kv, 0);
    sl_buf_init(&csv, 0);
    sl_buf_init(&words, 0);
    sl_buf_init(&keys, 0);
    gen(&apache, lines, 0);
    gen(&kv, lines, 1);
    gen(&csv, lines, 2);
    gen(&words, lines, 3);
    gen(&keys, lines, 4);
    printf("# parse/aggregate, %zu lines each, one core, best of 5; apache avg %.0f bytes/line\n",
           lines, (double)apache.len / (double)lines);
    bench_pcre_floor(&apache, lines);
    bench_xf("parse_grok_combinedapachelog", "parse",
             "    format: grok\n    pattern: \"%{COMBINEDAPACHELOG}\"\n"
             "    types: {response: int, bytes: int}\n",
             &apache, lines);
    bench_xf("parse_grok_combinedapachelog_typed_ip_ts", "parse",
             "    format: grok\n    pattern: \"%{COMBINEDAPACHELOG}\"\n"
             "    types: {response: int, bytes: int, clientip: ip, timestamp: timestamp}\n"
             "    event_time: timestamp\n",
             &apache, lines);
    /* Fluent Bit's shipped `apache2` parser regex (conf/parsers.conf), in PCRE2 syntax */
    bench_xf("parse_regex_apache2", "parse",
             "    format: regex\n"
             "    pattern: '^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \\[(?<time>[^\\]]*)\\] "
             "\"(?<method>\\S+)(?: +(?<path>[^ ]*) +\\S*)?\" (?<code>[^ ]*) (?<size>[^ ]*)"
             "(?: \"(?<referer>[^\\\"]*)\" \"(?<agent>.*)\")?$'\n",
             &apache, lines);
    bench_xf("parse_kv", "parse", "    format: kv\n    types: {srcport: int, sentbyte: int}\n", &kv,
             lines);
    bench_xf("parse_csv", "parse",
             "    format: csv\n    columns: [time, user, ip, code, request, bytes]\n"
             "    types: {code: int, bytes: int}\n",
             &csv, lines);
    bench_xf("aggregate_count_by_key_10k", "aggregate",
             "    group_by: {k: \"message\"}\n    aggregates: {n: \"count()\"}\n", &keys, lines);
    bench_xf("aggregate_wordcount_12_tokens_per_line", "aggregate",
             "    split: message\n    split_as: word\n    lowercase: true\n"
             "    group_by: {word: \"word\"}\n",
             &words, lines);
    sl_buf_fini(&apache);
    sl_buf_fini(&kv);
    sl_buf_fini(&csv);
    sl_buf_fini(&words);
    sl_buf_fini(&keys);
    return 0;
}
