/*
 * pipeline_test.c — config loading, graph validation and the threaded runtime, with small
 * test components (a counting source, a transform that drops and rejects, a counting sink).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- test components */

struct cnt_conf {
    int64_t count;
    int64_t batch;
    bool forever;
    char *label;
};

static sl_sym SYM_N;

static int cnt_run(struct sl_component *c)
{
    struct cnt_conf *cf = c->conf;
    int64_t i = 0;
    while (cf->forever || i < cf->count) {
        if (sl_source_stopping(c))
            break;
        struct sl_batch *b = sl_batch_new();
        for (int64_t k = 0; k < cf->batch && (cf->forever || i < cf->count); k++, i++) {
            struct sl_event *ev = sl_batch_push(b);
            assert_non_null(ev);
            assert_int_equal(sl_event_set(b, ev, SYM_N, sl_value_int(i)), 0);
        }
        sl_source_emit(c, b);
        if (cf->forever)
            usleep(1000);
    }
    return 0;
}

static const struct sl_option cnt_opts[] = {
    {"count", SL_OPT_INT, "10", offsetof(struct cnt_conf, count), "events", NULL, 0, 0, 0},
    {"batch", SL_OPT_INT, "100", offsetof(struct cnt_conf, batch), "batch", NULL, 1, 100000, 0},
    {"forever", SL_OPT_BOOL, "false", offsetof(struct cnt_conf, forever), "run until stopped", NULL,
     0, 0, 0},
    {"label", SL_OPT_STRING, NULL, offsetof(struct cnt_conf, label), "a label", NULL, 0, 0, 0},
    {0},
};

static const struct sl_component_ops cnt_ops = {
    .type = "counter",
    .kind = SL_KIND_SOURCE,
    .summary = "counts",
    .options = cnt_opts,
    .conf_len = sizeof(struct cnt_conf),
    .run = cnt_run,
};

/* drop odd n, reject n % 10 == 0 */
static struct sl_batch *odd_process(struct sl_component *c, struct sl_batch *b, struct sl_xf_ctx *x)
{
    bool keep[SL_BATCH_EVENTS * 4];
    assert_true(b->count <= SL_BATCH_EVENTS * 4);
    uint32_t dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        int64_t n = sl_event_get(&b->events[i], SYM_N)->u.i;
        keep[i] = n % 2 == 0 && n % 10 != 0;
        if (n % 10 == 0)
            sl_error_event_for(sl_xf_errors(x), c->name, "multiple of ten", &b->events[i]);
        else if (n % 2)
            dropped++;
    }
    atomic_fetch_add(&c->m.dropped, dropped);
    sl_batch_compact(b, keep);
    return b;
}

static const struct sl_option no_opts[] = {{0}};

static const struct sl_component_ops odd_ops = {
    .type = "odd",
    .kind = SL_KIND_TRANSFORM,
    .summary = "drops odd",
    .options = no_opts,
    .process = odd_process,
};

/* "hold": keeps every event; multiples of 3 also leave on hold.side at once; each tick
 * releases what is held on the main output; finish() releases the rest and reports on
 * hold.side an event n = -1 (sum checks count it). */
struct hold_state {
    struct sl_batch *held;
    pthread_mutex_t lock;
    atomic_int ticks, finishes;
};

static int hold_init(struct sl_component *c, struct sl_diag *d)
{
    struct hold_state *h = sl_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->held = sl_batch_new();
    c->state = h;
    return 0;
}

static void hold_fini(struct sl_component *c)
{
    struct hold_state *h = c->state;
    sl_batch_unref(h->held);
    pthread_mutex_destroy(&h->lock);
    sl_free(h);
}

static struct sl_batch *hold_process(struct sl_component *c, struct sl_batch *b,
                                     struct sl_xf_ctx *x)
{
    struct hold_state *h = c->state;
    struct sl_batch *side = sl_batch_new();
    pthread_mutex_lock(&h->lock);
    for (uint32_t i = 0; i < b->count; i++) {
        int64_t n = sl_event_get(&b->events[i], SYM_N)->u.i;
        sl_event_set(h->held, sl_batch_push(h->held), SYM_N, sl_value_int(n));
        if (n % 3 == 0)
            sl_event_set(side, sl_batch_push(side), SYM_N, sl_value_int(n));
    }
    pthread_mutex_unlock(&h->lock);
    sl_batch_unref(b);
    sl_xf_emit(x, 2, side);
    return NULL;
}

static void hold_release(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct hold_state *h = c->state;
    pthread_mutex_lock(&h->lock);
    struct sl_batch *out = h->held;
    h->held = sl_batch_new();
    pthread_mutex_unlock(&h->lock);
    sl_xf_emit(x, 0, out);
}

static void hold_tick(struct sl_component *c, struct sl_xf_ctx *x, int64_t now_ns)
{
    atomic_fetch_add(&((struct hold_state *)c->state)->ticks, 1);
    hold_release(c, x);
}

static void hold_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    atomic_fetch_add(&((struct hold_state *)c->state)->finishes, 1);
    hold_release(c, x);
    struct sl_batch *side = sl_batch_new();
    sl_event_set(side, sl_batch_push(side), SYM_N, sl_value_int(-1));
    sl_xf_emit(x, 2, side);
}

static const char *const hold_outputs[] = {"side", NULL};

static const struct sl_component_ops hold_ops = {
    .type = "hold",
    .kind = SL_KIND_TRANSFORM,
    .summary = "holds events until a tick",
    .options = (const struct sl_option[]){{0}},
    .init = hold_init,
    .fini = hold_fini,
    .process = hold_process,
    .outputs = hold_outputs,
    .tick = hold_tick,
    .tick_interval_ns = 20000000,
    .finish = hold_finish,
};

struct sink_conf {
    int64_t delay_us;
};
struct sink_state {
    atomic_uint_fast64_t n;
    atomic_uint_fast64_t sum;
};

static int sink_init(struct sl_component *c, struct sl_diag *d)
{
    c->state = sl_xcalloc(1, sizeof(struct sink_state));
    return 0;
}
static void sink_fini(struct sl_component *c)
{
    sl_free(c->state);
}
static int sink_write(struct sl_component *c, struct sl_batch *b)
{
    struct sink_state *s = c->state;
    struct sink_conf *cf = c->conf;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_value *v = sl_event_get(&b->events[i], SYM_N);
        if (!v) /* a dead letter: the original event is a map */
            v = sl_value_map_get(sl_event_get(&b->events[i], SL_SYM_EVENT), SL_STR("n"));
        assert_non_null(v);
        atomic_fetch_add(&s->sum, (uint64_t)v->u.i);
    }
    atomic_fetch_add(&s->n, b->count);
    if (cf->delay_us)
        usleep((useconds_t)cf->delay_us);
    return 0;
}
static const struct sl_option sink_opts[] = {
    {"delay_us", SL_OPT_INT, "0", offsetof(struct sink_conf, delay_us), "slow down", NULL, 0, 0, 0},
    {0},
};
static const struct sl_component_ops sink_ops = {
    .type = "count",
    .kind = SL_KIND_SINK,
    .summary = "counts",
    .options = sink_opts,
    .conf_len = sizeof(struct sink_conf),
    .init = sink_init,
    .fini = sink_fini,
    .write = sink_write,
};

/* "picky": a sink that writes even n and sends odd n to its .errors */
static int picky_write(struct sl_component *c, struct sl_batch *b)
{
    struct sl_batch *errs = sl_batch_new();
    uint64_t kept = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        int64_t n = sl_event_get(&b->events[i], SYM_N)->u.i;
        if (n % 2)
            sl_error_event_for(errs, c->name, "odd", &b->events[i]);
        else
            kept++;
    }
    atomic_fetch_add(&((struct sink_state *)c->state)->n, kept);
    sl_sink_emit_errors(c, errs);
    return 0;
}

static const struct sl_component_ops picky_ops = {
    .type = "picky",
    .kind = SL_KIND_SINK,
    .summary = "writes even numbers",
    .options = sink_opts,
    .conf_len = sizeof(struct sink_conf),
    .init = sink_init,
    .fini = sink_fini,
    .write = picky_write,
};

/* `ord` (with inputs) and `fed` (no_inputs, as the receiver): each records when it is
 * inited, flushed and finied, to check that a no_inputs sink comes after the others */
static pthread_mutex_t ord_lock = PTHREAD_MUTEX_INITIALIZER;
static char ord_log[1024];   /* guarded_by: ord_lock — "init:ord init:fed ..." */
static int ord_flush_seq[2]; /* guarded_by: ord_lock — sequence of the last flush of each */
static int ord_seq;          /* guarded_by: ord_lock */

static void ord_note(struct sl_component *c, const char *what)
{
    pthread_mutex_lock(&ord_lock);
    ord_seq++;
    if (!strcmp(what, "flush"))
        ord_flush_seq[c->ops->no_inputs] = ord_seq;
    else
        snprintf(ord_log + strlen(ord_log), sizeof ord_log - strlen(ord_log), "%s:%s ", what,
                 c->name);
    pthread_mutex_unlock(&ord_lock);
}

static int ord_init(struct sl_component *c, struct sl_diag *d)
{
    ord_note(c, "init");
    return 0;
}

static void ord_fini(struct sl_component *c)
{
    ord_note(c, "fini");
}

static int ord_flush(struct sl_component *c)
{
    usleep(c->ops->no_inputs ? 0 : 20000); /* the sink with inputs ends last, if it can */
    ord_note(c, "flush");
    return 0;
}

static const struct sl_component_ops ord_ops = {
    .type = "ord",
    .kind = SL_KIND_SINK,
    .summary = "records its init, flush and fini",
    .options = no_opts,
    .init = ord_init,
    .fini = ord_fini,
    .flush = ord_flush,
    .flush_interval_ns = 10000000,
};

static const struct sl_component_ops fed_ops = {
    .type = "fed",
    .kind = SL_KIND_SINK,
    .summary = "a sink without inputs",
    .options = no_opts,
    .init = ord_init,
    .fini = ord_fini,
    .flush = ord_flush,
    .flush_interval_ns = 10000000,
    .no_inputs = true,
};

static struct sl_pipeline *build(const char *yaml, struct sl_config **cfg, struct sl_diag *d,
                                 int workers, bool once);

/* ---- delivery acknowledgements (core/ack.h) */

/* "acker": emits `count` events in batches of 100, each batch with its own token; after the
 * last one it waits until every token is done and counts the ok and failed ones. */
#define ACK_BATCHES 200
static struct sl_ack ack_tokens[ACK_BATCHES];
static atomic_int acks_ok, acks_failed, acks_released_early;

static int acker_run(struct sl_component *c)
{
    for (int k = 0; k < ACK_BATCHES; k++) {
        struct sl_batch *b = sl_batch_new();
        for (int i = 0; i < 100; i++) {
            struct sl_event *ev = sl_batch_push(b);
            sl_event_set(b, ev, SYM_N, sl_value_int(k * 100 + i));
        }
        sl_ack_init(&ack_tokens[k], NULL, NULL);
        sl_batch_set_ack(b, &ack_tokens[k]);
        sl_source_emit(c, b);
        sl_ack_release(&ack_tokens[k], true);
    }
    int64_t deadline = sl_clock_mono_ns() + 20000000000LL;
    for (int k = 0; k < ACK_BATCHES; k++) {
        while (!sl_ack_done(&ack_tokens[k]) && sl_clock_mono_ns() < deadline)
            usleep(1000);
        if (!sl_ack_done(&ack_tokens[k]))
            continue;
        atomic_fetch_add(sl_ack_failed(&ack_tokens[k]) ? &acks_failed : &acks_ok, 1);
    }
    return 0;
}

static const struct sl_component_ops acker_ops = {
    .type = "acker",
    .kind = SL_KIND_SOURCE,
    .summary = "emits batches with delivery tokens",
    .options = no_opts,
    .run = acker_run,
};

/* "later": durable only at flush: holds each batch's token until the next flush */
struct later_state {
    struct sl_ack *holds[ACK_BATCHES * 2];
    int n;
};

static int later_init(struct sl_component *c, struct sl_diag *d)
{
    c->state = sl_xcalloc(1, sizeof(struct later_state));
    return 0;
}

static void later_fini(struct sl_component *c)
{
    sl_free(c->state);
}

static int later_write(struct sl_component *c, struct sl_batch *b)
{
    struct later_state *s = c->state;
    struct sl_ack *h = sl_sink_hold(b);
    assert_non_null(h);
    /* the token cannot be done while this sink holds it */
    if (sl_ack_done(h))
        atomic_fetch_add(&acks_released_early, 1);
    s->holds[s->n++] = h;
    return 0;
}

static int later_flush(struct sl_component *c)
{
    struct later_state *s = c->state;
    for (int i = 0; i < s->n; i++)
        sl_ack_release(s->holds[i], true);
    s->n = 0;
    return 0;
}

static const struct sl_component_ops later_ops = {
    .type = "later",
    .kind = SL_KIND_SINK,
    .summary = "acknowledges at flush",
    .options = no_opts,
    .init = later_init,
    .fini = later_fini,
    .write = later_write,
    .flush = later_flush,
    .flush_interval_ns = 20000000,
};

/* "failer": a write fails for the batches whose first n is a multiple of 1000 */
static int failer_write(struct sl_component *c, struct sl_batch *b)
{
    int64_t n = b->count ? sl_event_get(&b->events[0], SYM_N)->u.i : 1;
    return n % 1000 == 0 ? SL_EIO : 0;
}

static const struct sl_component_ops failer_ops = {
    .type = "failer",
    .kind = SL_KIND_SINK,
    .summary = "fails some writes",
    .options = no_opts,
    .write = failer_write,
};

/* Every token is done once every sink that got its batch (through a transform that drops,
 * rejects and copies) acknowledged it; a failed write marks exactly its token failed. */
static void test_delivery_acks(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: acker}\n"
                    "transforms:\n"
                    "  odd: {type: odd, inputs: [src]}\n"
                    "sinks:\n"
                    "  later: {type: later, inputs: [odd]}\n"
                    "  dead: {type: later, inputs: [odd.errors]}\n"
                    "  fail: {type: failer, inputs: [src]}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(y, &cfg, &d, 2, true);
    assert_non_null(p);
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 60000));
    /* batches start at k * 100: those at multiples of 1000 failed in "fail" */
    assert_int_equal(atomic_load(&acks_failed), ACK_BATCHES / 10);
    assert_int_equal(atomic_load(&acks_ok), ACK_BATCHES - ACK_BATCHES / 10);
    assert_int_equal(atomic_load(&acks_released_early), 0);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

/* "parted": a source whose batches carry an origin (topic 1, partition 0, epoch 1, seq 1..N)
 * as the kafka source marks them; batch k holds the numbers k*10 .. k*10+9 when k is even and
 * only odd numbers when k is odd (so "odd" empties it). */
static int parted_run(struct sl_component *c)
{
    struct cnt_conf *cf = c->conf;
    for (int64_t k = 0; k < cf->count; k++) {
        struct sl_batch *b = sl_batch_new();
        for (int64_t i = 0; i < 10; i++) {
            int64_t n = k % 2 ? k * 20 + 2 * i + 1 : k * 20 + i;
            assert_int_equal(sl_event_set(b, sl_batch_push(b), SYM_N, sl_value_int(n)), 0);
        }
        b->origin = (struct sl_batch_origin){1, 0, 1, (uint32_t)k + 1};
        sl_source_emit(c, b);
    }
    return 0;
}

static const struct sl_component_ops parted_ops = {
    .type = "parted",
    .kind = SL_KIND_SOURCE,
    .summary = "batches with origins",
    .options = cnt_opts,
    .conf_len = sizeof(struct cnt_conf),
    .run = parted_run,
};

/* "nullify": returns NULL for every third batch (by origin seq) */
static struct sl_batch *nullify_process(struct sl_component *c, struct sl_batch *b,
                                        struct sl_xf_ctx *x)
{
    if (b->origin.seq % 3 == 0) {
        sl_batch_unref(b);
        return NULL;
    }
    return b;
}

static const struct sl_component_ops nullify_ops = {
    .type = "nullify",
    .kind = SL_KIND_TRANSFORM,
    .summary = "drops every third batch whole",
    .options = (const struct sl_option[]){{0}},
    .process = nullify_process,
};

/* "seqs": records which origin sequence numbers reach it (empty batches included) */
static atomic_uint seqs_seen[64];
static struct sl_batch *seqs_process(struct sl_component *c, struct sl_batch *b,
                                     struct sl_xf_ctx *x)
{
    if (b->origin.topic == 1 && b->origin.seq < 64)
        atomic_fetch_add(&seqs_seen[b->origin.seq], 1);
    return b;
}

static const struct sl_component_ops seqs_ops = {
    .type = "seqs",
    .kind = SL_KIND_TRANSFORM,
    .summary = "records origins",
    .options = (const struct sl_option[]){{0}},
    .process = seqs_process,
};

static const struct sl_component_ops *const test_types[] = {
    &acker_ops, &later_ops, &failer_ops, &cnt_ops,    &odd_ops,     &hold_ops, &sink_ops,
    &picky_ops, &ord_ops,   &fed_ops,    &parted_ops, &nullify_ops, &seqs_ops, NULL};

/* ---- helpers */

static struct sl_pipeline *build(const char *yaml, struct sl_config **cfg, struct sl_diag *d,
                                 int workers, bool once)
{
    sl_diag_init(d);
    *cfg = NULL;
    if (sl_config_load_string(yaml, strlen(yaml), "test.yaml", cfg, d))
        return NULL;
    struct sl_pipeline_opts o = {.workers = workers, .once = once, .queue_batches = 4};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, d);
    if (!p) {
        sl_config_free(*cfg);
        *cfg = NULL;
    }
    return p;
}

static void expect_error(const char *yaml, uint32_t line, uint32_t col, const char *needle)
{
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(yaml, &cfg, &d, 1, true);
    if (p) {
        sl_pipeline_free(p);
        sl_config_free(cfg);
        fail_msg("expected an error containing '%s'", needle);
    }
    char msg[1400];
    sl_diag_format(&d, msg, sizeof(msg));
    if (!strstr(msg, needle) || d.line != line || d.col != col)
        fail_msg("want %u:%u '%s', got: %s", line, col, needle, msg);
    assert_string_equal(d.file, "test.yaml");
}

static uint64_t sink_count(struct sl_pipeline *p, const char *name)
{
    struct sink_state *s = sl_pipeline_find(p, name)->state;
    return atomic_load(&s->n);
}

static uint64_t sink_sum(struct sl_pipeline *p, const char *name)
{
    struct sink_state *s = sl_pipeline_find(p, name)->state;
    return atomic_load(&s->sum);
}

/* ---- tests */

static void test_counts_exact(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: counter, count: 100000, batch: 1000}\n"
                    "transforms:\n"
                    "  odd: {type: odd, inputs: [src]}\n"
                    "sinks:\n"
                    "  all: {type: count, inputs: [src]}\n"
                    "  even: {type: count, inputs: [odd]}\n"
                    "  dead: {type: count, inputs: [odd.errors]}\n";
    for (int workers = 1; workers <= 3; workers++) {
        struct sl_config *cfg;
        struct sl_diag d;
        struct sl_pipeline *p = build(y, &cfg, &d, workers, true);
        assert_non_null(p);
        sl_pipeline_start(p);
        assert_true(sl_pipeline_wait(p, 60000));
        assert_int_equal(sink_count(p, "all"), 100000);
        assert_int_equal(sink_count(p, "even"), 40000);
        assert_int_equal(sink_count(p, "dead"), 10000);
        /* sum of multiples of ten below 100000 */
        assert_int_equal(sink_sum(p, "dead"), 10ull * (9999ull * 10000ull / 2));
        struct sl_component *odd = sl_pipeline_find(p, "odd");
        assert_int_equal(atomic_load(&odd->m.events_in), 100000);
        assert_int_equal(atomic_load(&odd->m.events_out), 40000);
        assert_int_equal(atomic_load(&odd->m.errors), 10000);
        assert_int_equal(atomic_load(&odd->m.dropped), 50000);
        struct sl_pipeline_totals t;
        sl_pipeline_totals(p, &t);
        assert_int_equal(t.events_in, 100000);
        assert_int_equal(t.events_out, 150000);
        sl_pipeline_free(p);
        sl_config_free(cfg);
    }
}

/* A batch of a partitioned input that a transform empties (returns NULL, or compacts to
 * nothing) still reaches the transforms below with its origin, so a stage that applies a
 * partition's batches in order never waits for a sequence number; sinks get no empty batch. */
static void test_emptied_origin_batches(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: parted, count: 30}\n"
                    "transforms:\n"
                    "  nul: {type: nullify, inputs: [src]}\n"
                    "  odd: {type: odd, inputs: [nul]}\n"
                    "  seen: {type: seqs, inputs: [odd]}\n"
                    "sinks:\n"
                    "  out: {type: count, inputs: [seen]}\n";
    for (int workers = 1; workers <= 2; workers++) {
        for (size_t i = 0; i < 64; i++)
            atomic_store(&seqs_seen[i], 0);
        struct sl_config *cfg;
        struct sl_diag d;
        struct sl_pipeline *p = build(y, &cfg, &d, workers, true);
        assert_non_null(p);
        sl_pipeline_start(p);
        assert_true(sl_pipeline_wait(p, 60000));
        for (uint32_t k = 1; k <= 30; k++)
            if (atomic_load(&seqs_seen[k]) != 1)
                fail_msg("seq %u seen %u times", k, atomic_load(&seqs_seen[k]));
        /* kept: batches with even k (seq odd), not nullified, even n not a multiple of ten */
        uint64_t want = 0;
        for (int64_t k = 0; k < 30; k++)
            for (int64_t i = 0; i < 10 && k % 2 == 0 && (k + 1) % 3 != 0; i++) {
                int64_t n = k * 20 + i;
                want += n % 2 == 0 && n % 10 != 0;
            }
        assert_int_equal(sink_count(p, "out"), want);
        sl_pipeline_free(p);
        sl_config_free(cfg);
    }
}

/* Named outputs, ticks and finish(): everything held comes out exactly once, the named output
 * carries its own events, and two stateful stages in a row finish upstream first. */
static void test_outputs_ticks_finish(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: counter, count: 30000, batch: 100, forever: false}\n"
                    "transforms:\n"
                    "  h1: {type: hold, inputs: [src]}\n"
                    "  h2: {type: hold, inputs: [h1]}\n"
                    "sinks:\n"
                    "  main: {type: count, inputs: [h2]}\n"
                    "  side: {type: count, inputs: [h1.side]}\n";
    for (int workers = 1; workers <= 2; workers++) {
        struct sl_config *cfg;
        struct sl_diag d;
        struct sl_pipeline *p = build(y, &cfg, &d, workers, false);
        assert_non_null(p);
        sl_pipeline_start(p);
        assert_true(sl_pipeline_wait(p, 60000));
        assert_int_equal(sink_count(p, "main"), 30000);
        assert_int_equal(sink_sum(p, "main"), 29999ull * 30000ull / 2);
        assert_int_equal(sink_count(p, "side"), 10000 + 1);
        /* 3 * (0 + 1 + ... + 9999) - 1 */
        assert_int_equal(sink_sum(p, "side"), 3ull * (9999ull * 10000ull / 2) - 1);
        struct hold_state *h1 = sl_pipeline_find(p, "h1")->state;
        assert_int_equal(atomic_load(&h1->finishes), 1);
        struct sl_buf out;
        sl_buf_init(&out, 0);
        sl_pipeline_describe(p, &out);
        sl_buf_putc(&out, 0);
        assert_non_null(strstr(out.ptr, "h1.side"));
        sl_buf_fini(&out);
        sl_pipeline_free(p);
        sl_config_free(cfg);
    }
    /* ticks run while the source runs */
    const char *slow = "sources:\n"
                       "  src: {type: counter, count: 40, batch: 1, forever: false}\n"
                       "transforms:\n"
                       "  h1: {type: hold, inputs: [src]}\n"
                       "sinks:\n"
                       "  main: {type: count, inputs: [h1], delay_us: 5000}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(slow, &cfg, &d, 2, false);
    assert_non_null(p);
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 60000));
    assert_int_equal(sink_count(p, "main"), 40);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    /* an unknown output names the real ones */
    expect_error("sources:\n  src: {type: counter}\ntransforms:\n  h1: {type: hold, inputs: "
                 "[src]}\nsinks:\n  a: {type: count, inputs: [h1]}\n  b: {type: count, "
                 "inputs: [h1.sde]}\n",
                 7, 29, "unknown output 'sde' of 'h1'");
}

/* A sink's dead letters reach the sinks that read `<sink>.errors`, all of them, also at the
 * end of input; a transform may not read them. */
static void test_sink_dead_letters(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: counter, count: 20000, batch: 100}\n"
                    "sinks:\n"
                    "  pick: {type: picky, inputs: [src]}\n"
                    "  dead: {type: count, inputs: [pick.errors], delay_us: 100}\n";
    for (int workers = 1; workers <= 2; workers++) {
        struct sl_config *cfg;
        struct sl_diag d;
        struct sl_pipeline *p = build(y, &cfg, &d, workers, true);
        assert_non_null(p);
        sl_pipeline_start(p);
        assert_true(sl_pipeline_wait(p, 60000));
        assert_int_equal(sink_count(p, "pick"), 10000);
        assert_int_equal(sink_count(p, "dead"), 10000);
        assert_int_equal(sink_sum(p, "dead"), 10000ull * 10000ull); /* 1 + 3 + ... + 19999 */
        assert_int_equal(atomic_load(&sl_pipeline_find(p, "pick")->m.errors), 10000);
        sl_pipeline_free(p);
        sl_config_free(cfg);
    }
    expect_error("sources:\n  src: {type: counter}\ntransforms:\n  o: {type: odd, inputs: "
                 "[pick.errors]}\nsinks:\n  pick: {type: picky, inputs: [src]}\n  c: {type: "
                 "count, inputs: [o]}\n",
                 4, 27, "only a sink can read a sink's .errors");
}

static void test_backpressure_and_stop(void **state)
{
    /* an endless source into a slow sink: queues stay bounded; stop drains everything that
     * was emitted, so what the source sent equals what the sink got */
    const char *y = "sources:\n"
                    "  src: {type: counter, forever: true, batch: 50}\n"
                    "sinks:\n"
                    "  slow: {type: count, inputs: [src], delay_us: 2000}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(y, &cfg, &d, 2, false);
    assert_non_null(p);
    sl_pipeline_start(p);
    usleep(300000);
    struct sl_pipeline_totals t;
    sl_pipeline_totals(p, &t);
    assert_true(t.work_queued <= t.work_cap);
    assert_false(sl_pipeline_wait(p, 0));
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 30000));
    struct sl_component *src = sl_pipeline_find(p, "src");
    assert_true(atomic_load(&src->m.events_out) > 0);
    assert_int_equal(sink_count(p, "slow"), atomic_load(&src->m.events_out));
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_metrics_text(void **state)
{
    const char *y = "sources:\n  src: {type: counter, count: 5}\n"
                    "sinks:\n  out: {type: count, inputs: [src]}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(y, &cfg, &d, 1, true);
    assert_non_null(p);
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 10000));
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_pipeline_metrics_prom(p, &b);
    assert_non_null(strstr(
        b.ptr,
        "sluice_component_events_in_total{component=\"out\",type=\"count\",kind=\"sink\"} 5"));
    assert_non_null(strstr(b.ptr, "sluice_queue_depth{queue=\"work\"} 0"));
    sl_buf_reset(&b);
    sl_pipeline_metrics_json(p, &b);
    assert_non_null(strstr(b.ptr, "\"name\":\"out\",\"type\":\"count\",\"kind\":\"sink\","
                                  "\"inputs\":[\"src\"],\"events_in\":5,\"events_out\":5"));
    sl_buf_reset(&b);
    sl_pipeline_describe(p, &b);
    assert_non_null(strstr(b.ptr, "out"));
    assert_non_null(strstr(b.ptr, "<- src"));
    sl_buf_fini(&b);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_config_errors(void **state)
{
    expect_error("sources:\n  src: {type: nosuch}\n", 2, 15, "unknown source type 'nosuch'");
    expect_error("sources:\n  src: {type: count}\n", 2, 15, "unknown source type 'count'");
    expect_error("sources:\n  src: {type: counter, cuont: 3}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 2, 24, "unknown option 'cuont'");
    expect_error("sources:\n  src: {type: counter, count: abc}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 2, 31, "'count' must be an integer");
    expect_error("sources:\n  src: {type: counter, batch: 0}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 2, 31, "out of range");
    expect_error("sources:\n  src: {type: counter, count: [1]}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 2, 31, "wrong type for 'count'");
    expect_error("sources:\n  src: {type: counter}\n"
                 "sinks:\n  o: {type: count, inputs: [scr]}\n",
                 4, 29, "unknown input 'scr'");
    expect_error("sources:\n  src: {type: counter}\n  other: {type: counter}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 3, 3, "source 'other' is not used");
    expect_error("sources:\n  src: {type: counter}\n"
                 "transforms:\n"
                 "  a: {type: odd, inputs: [src, b]}\n"
                 "  b: {type: odd, inputs: [a]}\n"
                 "sinks:\n  o: {type: count, inputs: [b]}\n",
                 4, 3, "cycle");
    expect_error("sources:\n  src: {type: counter}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n  p: {type: count, inputs: [o]}\n",
                 5, 29, "is a sink");
    expect_error("sources:\n  src: {type: counter}\n"
                 "sinks:\n  o: {type: count}\n",
                 4, 3, "has no inputs");
    expect_error("sources:\n  src: {type: counter, label: \"${SL_TEST_UNSET_VAR}\"}\n"
                 "sinks:\n  o: {type: count, inputs: [src]}\n",
                 2, 31, "SL_TEST_UNSET_VAR is not set");
    expect_error("sources:\n  src: {type: counter\n", 3, 1, "YAML syntax error");
    expect_error("bogus: 1\n", 1, 1, "unknown top-level key 'bogus'");
    expect_error("sources:\n  src: {type: counter, count: 1, count: 2}\n", 2, 34,
                 "option 'count' of 'src' is given twice");
    expect_error("workers: 1\nworkers: 2\n", 2, 1, "top-level key 'workers' is given twice");
    expect_error("sources:\n  src: {type: counter}\n  src: {type: counter}\n", 3, 3,
                 "duplicate component name");
}

static void test_env_substitution(void **state)
{
    setenv("SL_TEST_COUNT", "7", 1);
    const char *y = "sources:\n"
                    "  src: {type: counter, count: \"${SL_TEST_COUNT}\", label: "
                    "\"${SL_TEST_NOPE:-dflt}-x\"}\n"
                    "sinks:\n  out: {type: count, inputs: [src]}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(y, &cfg, &d, 1, true);
    assert_non_null(p);
    struct cnt_conf *cf = sl_pipeline_find(p, "src")->conf;
    assert_int_equal(cf->count, 7);
    assert_string_equal(cf->label, "dflt-x");
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 10000));
    assert_int_equal(sink_count(p, "out"), 7);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

/* A sink with ops->no_inputs (the receiver) takes no `inputs`, and is inited, closed and
 * finied after every other component, wherever it is declared. */
static void test_no_inputs_sink_last(void **state)
{
    const char *y = "sources:\n"
                    "  src: {type: counter, count: 10, batch: 10}\n"
                    "sinks:\n"
                    "  fed: {type: fed}\n"
                    "  ord: {type: ord, inputs: [src]}\n";
    struct sl_config *cfg;
    struct sl_diag d;
    struct sl_pipeline *p = build(y, &cfg, &d, 1, true);
    assert_non_null(p);
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 60000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    assert_string_equal(ord_log, "init:ord init:fed fini:ord fini:fed ");
    assert_true(ord_flush_seq[0] > 0 && ord_flush_seq[1] > ord_flush_seq[0]);
    expect_error("sources:\n  src: {type: counter}\nsinks:\n"
                 "  ord: {type: ord, inputs: [src]}\n  fed: {type: fed, inputs: [src]}\n",
                 5, 3, "sink 'fed' (fed) takes no inputs");
    expect_error("sources:\n  src: {type: counter}\nsinks:\n  ord: {type: ord}\n", 4, 3,
                 "sink 'ord' has no inputs");
}

static void test_help_text(void **state)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_registry_help(&cnt_ops, &b);
    assert_non_null(strstr(b.ptr, "counter (source): counts"));
    assert_non_null(strstr(b.ptr, "batch"));
    assert_non_null(strstr(b.ptr, "(1..100000)"));
    sl_buf_fini(&b);
}

int main(void)
{
    sl_core_init();
    SYM_N = sl_sym_intern_c("n");
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_exact),           cmocka_unit_test(test_outputs_ticks_finish),
        cmocka_unit_test(test_sink_dead_letters),      cmocka_unit_test(test_backpressure_and_stop),
        cmocka_unit_test(test_metrics_text),           cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_env_substitution),       cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_no_inputs_sink_last),    cmocka_unit_test(test_delivery_acks),
        cmocka_unit_test(test_emptied_origin_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
