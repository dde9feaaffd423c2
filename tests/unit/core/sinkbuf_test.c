/*
 * sinkbuf_test.c — `buffer:` on sinks: parsing (defaults, errors at line:col) and the disk
 * path through a real pipeline: source tokens are released once the batches are durable in
 * the buffer even while the sink fails; a sink that fails, then confirms later through
 * sl_sink_hold, receives every event at least once; a restart delivers what a run left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/sinkbuf_disk.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS  5000
#define BATCH   100
#define BATCHES (EVENTS / BATCH)

static sl_sym SYM_N;
static char dir[256];

/* ---- a source whose batches carry tokens */
static struct sl_ack tokens[BATCHES];
static atomic_int tokens_done, tokens_failed;

static void token_done(void *arg)
{
    (void)arg;
    atomic_fetch_add(&tokens_done, 1);
}

static int src_run(struct sl_component *c)
{
    for (int i = 0; i < BATCHES; i++) {
        struct sl_batch *b = sl_batch_new();
        for (int k = 0; k < BATCH; k++) {
            struct sl_event *ev = sl_batch_push(b);
            sl_event_set(b, ev, SYM_N, sl_value_int(i * BATCH + k));
        }
        sl_ack_init(&tokens[i], token_done, NULL);
        sl_batch_set_ack(b, &tokens[i]);
        sl_source_emit(c, b);
        sl_ack_release(&tokens[i], true); /* the owner's hold */
    }
    return 0;
}

static const struct sl_option no_opts[] = {{0}};

static const struct sl_component_ops src_ops = {
    .type = "tsrc",
    .kind = SL_KIND_SOURCE,
    .summary = "batches with tokens",
    .options = no_opts,
    .run = src_run,
};

/* ---- a sink: fails `fail_writes` writes, then confirms at flush (sl_sink_hold); failing
 * the first confirmation too. `down` makes every write fail. */
static atomic_int seen[EVENTS];
static atomic_int fail_writes, fail_confirms;
static atomic_bool down;
static struct sl_ack *held[BATCHES * 4];
static int nheld;

static int sink_write(struct sl_component *c, struct sl_batch *b)
{
    (void)c;
    if (atomic_load(&down))
        return SL_EIO;
    if (atomic_fetch_sub(&fail_writes, 1) > 0)
        return SL_EIO;
    for (uint32_t i = 0; i < b->count; i++)
        atomic_fetch_add(&seen[sl_event_get(&b->events[i], SYM_N)->u.i], 1);
    struct sl_ack *h = sl_sink_hold(b);
    assert_non_null(h); /* the buffer's delivery token */
    assert_true(nheld < BATCHES * 4);
    held[nheld++] = h;
    return 0;
}

static int sink_flush(struct sl_component *c)
{
    (void)c;
    for (int i = 0; i < nheld; i++)
        sl_ack_release(held[i], atomic_fetch_sub(&fail_confirms, 1) <= 0);
    nheld = 0;
    return 0;
}

static const struct sl_component_ops sink_ops = {
    .type = "tsink",
    .kind = SL_KIND_SINK,
    .summary = "fails, then confirms later",
    .options = no_opts,
    .write = sink_write,
    .flush = sink_flush,
    .flush_interval_ns = 20000000,
};

static const struct sl_component_ops *const types[] = {&src_ops, &sink_ops, NULL};

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

static char *config(const char *extra)
{
    static char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "sources:\n  s: {type: tsrc}\nsinks:\n  o:\n    type: tsink\n    inputs: [s]\n"
             "    buffer: {type: disk, path: %s, sync: batch, drain_timeout: %s}\n",
             dir, extra);
    return yaml;
}

static void run(const char *yaml)
{
    struct sl_config *cfg = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
    struct sl_pipeline_opts o = {.workers = 2, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p)
        fprintf(stderr, "%s\n", d.msg);
    assert_non_null(p);
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 60000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void reset(void)
{
    for (int i = 0; i < EVENTS; i++)
        atomic_store(&seen[i], 0);
    atomic_store(&tokens_done, 0);
    atomic_store(&tokens_failed, 0);
}

static void test_fail_then_confirm_later(void **state)
{
    (void)state;
    rmrf(dir);
    reset();
    atomic_store(&fail_writes, 3);
    atomic_store(&fail_confirms, 2);
    atomic_store(&down, false);
    run(config("10s"));
    assert_int_equal(atomic_load(&tokens_done), BATCHES);
    for (int i = 0; i < BATCHES; i++)
        assert_false(sl_ack_failed(&tokens[i]));
    for (int i = 0; i < EVENTS; i++)
        assert_true(atomic_load(&seen[i]) >= 1);
}

static void test_down_then_restart(void **state)
{
    (void)state;
    rmrf(dir);
    reset();
    atomic_store(&fail_writes, 0);
    atomic_store(&fail_confirms, 0);
    atomic_store(&down, true);
    /* the target is down for the whole run: the source's tokens are still all released
     * (the data is durable in the buffer), nothing reaches the sink, the run ends after
     * drain_timeout with everything kept */
    run(config("300ms"));
    assert_int_equal(atomic_load(&tokens_done), BATCHES);
    for (int i = 0; i < BATCHES; i++)
        assert_false(sl_ack_failed(&tokens[i]));
    for (int i = 0; i < EVENTS; i++)
        assert_int_equal(atomic_load(&seen[i]), 0);
    /* next run: the target is back; the buffer's batches come first, then the new input */
    atomic_store(&down, false);
    run(config("10s"));
    for (int i = 0; i < EVENTS; i++)
        assert_int_equal(atomic_load(&seen[i]), 2); /* once from the buffer, once new */
}

static void test_config(void **state)
{
    (void)state;
    struct sl_config *cfg = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *ok = "sources:\n  s: {type: tsrc}\nsinks:\n  o:\n    type: tsink\n"
                     "    inputs: [s]\n    buffer: {type: disk, max_size: 2MiB, sync: "
                     "interval, sync_interval: 250ms, when_full: drop_newest}\n";
    assert_int_equal(sl_config_load_string(ok, strlen(ok), "t.yaml", &cfg, &d), 0);
    const struct sl_sinkbuf_conf *b = &cfg->comps[1].buffer;
    assert_int_equal(b->type, SL_SINKBUF_DISK);
    assert_int_equal(b->max_size, 2u << 20);
    assert_int_equal(b->sync, 2);
    assert_int_equal(b->sync_interval_ns, 250000000);
    assert_int_equal(b->when_full, 1);
    assert_int_equal(b->segment_size, 64u << 20);
    assert_int_equal(b->drain_timeout_ns, 10000000000LL);
    assert_null(b->path);
    assert_int_equal(cfg->comps[0].buffer.type, SL_SINKBUF_MEMORY);
    sl_config_free(cfg);
    static const struct {
        const char *yaml;
        uint32_t line, col;
        const char *needle;
    } bad[] = {
        {"sources:\n  s: {type: tsrc, buffer: disk}\nsinks:\n  o: {type: tsink, inputs: [s]}\n", 2,
         19, "only sinks"},
        {"sources:\n  s: {type: tsrc}\nsinks:\n  o: {type: tsink, inputs: [s], buffer: {type: "
         "disk, syncc: always}}\n",
         4, 54, "unknown buffer option 'syncc'"},
        {"sources:\n  s: {type: tsrc}\nsinks:\n  o: {type: tsink, inputs: [s], buffer: {type: "
         "disk, sync: sometimes}}\n",
         4, 60, "sync"},
        {"sources:\n  s: {type: tsrc}\nsinks:\n  o: {type: tsink, inputs: [s], buffer: {sync: "
         "always}}\n",
         4, 42, "needs type: disk"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_diag_init(&d);
        cfg = NULL;
        assert_int_equal(
            sl_config_load_string(bad[i].yaml, strlen(bad[i].yaml), "t.yaml", &cfg, &d),
            SL_ECONFIG);
        if (d.line != bad[i].line || d.col != bad[i].col || !strstr(d.msg, bad[i].needle))
            fprintf(stderr, "case %zu: %u:%u %s\n", i, d.line, d.col, d.msg);
        assert_int_equal(d.line, bad[i].line);
        assert_int_equal(d.col, bad[i].col);
        assert_non_null(strstr(d.msg, bad[i].needle));
        sl_config_free(cfg);
    }
}

int main(void)
{
    sl_core_init();
    sl_registry_set(types);
    sl_sinkbuf_set_store(&sl_io_sinkbuf_disk);
    SYM_N = sl_sym_intern_c("n");
    snprintf(dir, sizeof dir, "/tmp/sl_sinkbuf_test_%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_fail_then_confirm_later),
        cmocka_unit_test(test_down_then_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmrf(dir);
    return rc;
}
