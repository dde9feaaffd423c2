/*
 * hotpath_alloc_test.c — the file -> filter -> sink path makes no heap allocation per event.
 *
 * Runs the real components through the real runtime on 200,000 JSON lines and reads the
 * allocation counter of base/alloc.c before and after: batches, arenas and queues allocate
 * per batch (about 1,000 events), never per event. The bound below allows a handful of
 * allocations per batch and fails if even one allocation per 50 events appears.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINES 200000

static void run_and_count(const char *yaml, uint64_t *events, uint64_t *allocs)
{
    struct sl_config *cfg;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
    struct sl_pipeline_opts o = {.workers = 2, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p)
        fail_msg("pipeline: %s", d.msg);
    uint64_t a0 = sl_alloc_count();
    sl_pipeline_start(p);
    assert_true(sl_pipeline_wait(p, 120000));
    *allocs = sl_alloc_count() - a0;
    struct sl_component *in = sl_pipeline_find(p, "in");
    assert_non_null(in);
    *events = atomic_load(&in->m.events_out);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_no_alloc_per_event(void **state)
{
    char path[] = "/tmp/sluice-alloc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < LINES; i++)
        fprintf(f,
                "{\"seq\":%d,\"proto\":\"%s\",\"id.orig_h\":\"10.0.%d.%d\",\"id.resp_p\":%d,"
                "\"note\":\"esc\\\"aped \\u00e9\",\"nested\":{\"a\":[1,2,{\"b\":null}]}}\n",
                i, i % 3 ? "tcp" : "udp", (i >> 8) & 255, i & 255, i % 2 ? 443 : 53);
    fclose(f);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, path: [\"%s\"]}\n"
             "transforms:\n  f: {type: filter, inputs: [in], include: {proto: tcp}, "
             "exclude: {\"id.resp_p\": \"53\"}}\n"
             "sinks:\n  out: {type: \"null\", inputs: [f]}\n",
             path);
    uint64_t events = 0, allocs = 0;
    run_and_count(yaml, &events, &allocs);
    unlink(path);
    assert_int_equal(events, LINES);
    print_message("events=%llu allocations=%llu (%.4f per event)\n", (unsigned long long)events,
                  (unsigned long long)allocs, (double)allocs / (double)events);
    assert_true(allocs * 50 < events);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_alloc_per_event)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
