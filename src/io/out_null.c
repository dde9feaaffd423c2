/*
 * out_null.c — the `null` sink: counts events (the core does) and discards them.
 */
#include "core/component.h"

static int null_write(struct sl_component *c, struct sl_batch *b)
{
    return 0;
}

static const struct sl_option null_opts[] = {{0}};

const struct sl_component_ops sl_out_null_ops = {
    .type = "null",
    .kind = SL_KIND_SINK,
    .summary = "discard events (counted in the metrics); for benchmarks and unused outputs",
    .options = null_opts,
    .write = null_write,
};
