/*
 * testkit.h — test scaffolding shared by the component tests (tests only, header-only):
 * an `idle` source that emits nothing, a `collect` sink that keeps every event as a JSON
 * line, and a private temporary directory per test group (setup/teardown for cmocka).
 */
#ifndef SL_TESTS_TESTKIT_H
#define SL_TESTS_TESTKIT_H

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"
#include "core/component.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TK_UNUSED __attribute__((unused))

/* ---- a sink that keeps every event as a JSON line */

struct collect {
    pthread_mutex_t lock;
    struct sl_buf text; /* guarded_by: lock */
    uint64_t events;    /* guarded_by: lock */
};

static TK_UNUSED int collect_init(struct sl_component *c, struct sl_diag *d)
{
    struct collect *s = sl_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    sl_buf_init(&s->text, 0);
    c->state = s;
    return 0;
}

static TK_UNUSED void collect_fini(struct sl_component *c)
{
    struct collect *s = c->state;
    sl_buf_fini(&s->text);
    pthread_mutex_destroy(&s->lock);
    sl_free(s);
}

static TK_UNUSED int collect_write(struct sl_component *c, struct sl_batch *b)
{
    struct collect *s = c->state;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < b->count; i++) {
        sl_json_write_event(&s->text, &b->events[i]);
        sl_buf_putc(&s->text, '\n');
    }
    s->events += b->count;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static TK_UNUSED const struct sl_option no_opts[] = {{0}};

static TK_UNUSED const struct sl_component_ops collect_ops = {
    .type = "collect",
    .kind = SL_KIND_SINK,
    .summary = "keeps events for the test",
    .options = no_opts,
    .init = collect_init,
    .fini = collect_fini,
    .write = collect_write,
    .flush_interval_ns = 50 * 1000000LL,
};

/* ---- a source that emits nothing (for sink and transform tests driven by hand) */

static TK_UNUSED int idle_run(struct sl_component *c)
{
    return 0;
}
static TK_UNUSED const struct sl_component_ops idle_ops = {
    .type = "idle",
    .kind = SL_KIND_SOURCE,
    .summary = "does nothing",
    .options = no_opts,
    .run = idle_run,
};

/* ---- a private temporary directory: `dir` */

static TK_UNUSED char dir[64];

static TK_UNUSED int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/sluice-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static TK_UNUSED int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

#endif
